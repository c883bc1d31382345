//! Currencies and prices: integer minor units plus an ISO 4217 code, never
//! floating point, so a price survives every round trip to the cent.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;

/// Active ISO 4217 codes a price can be in, sorted for binary search.
///
/// The national and regional currencies of list one as of 2026 (after XCG
/// replaced ANG, ZWG replaced ZWL, SLE replaced SLL and the euro replaced
/// BGN). Fund codes (BOV, CLF, USN...), precious metals, XDR, XSU, XUA, the
/// test code XTS and XXX are left out on purpose: nothing is sold in them.
const ACTIVE: [&str; 155] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Currencies without a minor unit (ISO 4217 exponent 0).
const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Currencies with three decimal places (ISO 4217 exponent 3).
const THREE_DECIMAL: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// An active ISO 4217 currency (`USD`, `JPY`, `KWD`).
///
/// Only codes from the bundled list are accepted, so a typo (`USS`) fails
/// when the price is set rather than at checkout, and
/// [`Currency::minor_units`] is always known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Currency(&'static str);

impl Currency {
    /// Parses a three-letter code in either case (`usd` → `USD`), naming
    /// `field` when it is malformed or not an active currency.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::invalid_field(
                field,
                "must be a three-letter ISO 4217 currency code, like USD",
            ));
        }
        match ACTIVE.binary_search(&code.as_str()) {
            Ok(i) => Ok(Self(ACTIVE[i])),
            Err(_) => Err(Error::invalid_field(
                field,
                format!("{code} is not an active ISO 4217 currency code"),
            )),
        }
    }

    /// The upper-case code.
    pub fn code(self) -> &'static str {
        self.0
    }

    /// How many decimal places the minor unit has: 0 for JPY (amounts are
    /// whole yen), 3 for KWD (fils), 2 for most others.
    pub fn minor_units(self) -> u32 {
        if ZERO_DECIMAL.contains(&self.0) {
            0
        } else if THREE_DECIMAL.contains(&self.0) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Deserializing checks the code too, so a `Currency` read from JSON always
/// has known minor units.
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("currency", &raw).map_err(serde::de::Error::custom)
    }
}

/// What a course costs: free, or a positive amount in minor units (cents,
/// yen, fils) of one currency.
///
/// A paid price always has an amount of 1 or more: zero is [`Price::Free`],
/// so "is it free?" has exactly one answer. JSON is `{"kind":"free"}` or
/// `{"kind":"paid","amount_minor":4999,"currency":"USD"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Price {
    /// Costs nothing; enrolling needs no payment.
    #[default]
    Free,
    /// Costs `amount_minor` minor units of `currency`.
    Paid {
        /// The amount in the currency's minor unit, 1 or more.
        amount_minor: i64,
        /// The currency of the amount.
        currency: Currency,
    },
}

impl Price {
    /// Largest amount accepted, in minor units: 10 million major units of a
    /// two-decimal currency. Far above any course price, far below where
    /// provider APIs or an `i64` sum of many orders could overflow; a larger
    /// number is a typo.
    pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

    /// Builds a price from an optional amount and an optional currency code,
    /// naming the field at fault when it refuses.
    ///
    /// Neither set, or an amount of 0, is free. A blank currency counts as
    /// not set (forms send `""`). A currency given with a zero amount must
    /// still be a real code, so garbage is never silently dropped. When the
    /// amount and the currency are both wrong, both are reported at once.
    pub fn parse(
        field_amount: &str,
        amount: Option<i64>,
        field_currency: &str,
        currency: Option<&str>,
    ) -> Result<Self, Error> {
        let currency = currency.map(str::trim).filter(|c| !c.is_empty());
        let mut errors = Vec::new();
        match amount {
            Some(a) if a < 0 => {
                errors.push(Error::invalid_field(field_amount, "must not be negative"))
            }
            Some(a) if a > Self::MAX_AMOUNT_MINOR => errors.push(Error::invalid_field(
                field_amount,
                format!("must be at most {} minor units", Self::MAX_AMOUNT_MINOR),
            )),
            _ => {}
        }
        let parsed = match currency.map(|c| Currency::parse(field_currency, c)) {
            Some(Err(err)) => {
                errors.push(err);
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
        if !errors.is_empty() {
            let fields = errors
                .into_iter()
                .flat_map(|e| e.fields().to_vec())
                .collect();
            return Err(Error::invalid_fields(fields));
        }
        match (amount, parsed) {
            (Some(0), _) | (None, None) => Ok(Self::Free),
            (None, Some(_)) => Err(Error::invalid_field(
                field_amount,
                "is required when a currency is set",
            )),
            (Some(_), None) => Err(Error::invalid_field(
                field_currency,
                "is required when an amount is set",
            )),
            (Some(amount_minor), Some(currency)) => Ok(Self::Paid {
                amount_minor,
                currency,
            }),
        }
    }

    /// Whether enrolling needs no payment.
    pub fn is_free(&self) -> bool {
        matches!(self, Self::Free)
    }

    /// The amount in minor units; 0 when free.
    pub fn amount_minor(&self) -> i64 {
        match self {
            Self::Free => 0,
            Self::Paid { amount_minor, .. } => *amount_minor,
        }
    }

    /// The currency; `None` when free.
    pub fn currency(&self) -> Option<Currency> {
        match self {
            Self::Free => None,
            Self::Paid { currency, .. } => Some(*currency),
        }
    }

    /// The price for people, in major units with the currency's own number
    /// of decimals: `49.99 USD`, `5000 JPY`, `1.500 KWD`, `Free`.
    pub fn display(&self) -> String {
        match self {
            Self::Free => "Free".to_owned(),
            Self::Paid {
                amount_minor,
                currency,
            } => {
                let digits = currency.minor_units();
                if digits == 0 {
                    return format!("{amount_minor} {currency}");
                }
                let scale = 10_i64.pow(digits);
                let (major, minor) = (amount_minor / scale, amount_minor % scale);
                let width = digits as usize;
                format!("{major}.{minor:0width$} {currency}")
            }
        }
    }
}

/// The JSON shape of [`Price`] without its invariants; reading JSON goes
/// through [`Price::parse`] so a deserialized price obeys the same rules.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PriceWire {
    Free,
    Paid { amount_minor: i64, currency: String },
}

impl TryFrom<PriceWire> for Price {
    type Error = Error;
    fn try_from(wire: PriceWire) -> Result<Self, Error> {
        match wire {
            PriceWire::Free => Ok(Self::Free),
            PriceWire::Paid {
                amount_minor,
                currency,
            } => match Self::parse(
                "amount_minor",
                Some(amount_minor),
                "currency",
                Some(&currency),
            )? {
                Self::Free => Err(Error::invalid_field(
                    "amount_minor",
                    "must be at least 1 for a paid price",
                )),
                paid => Ok(paid),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PriceWire::deserialize(deserializer)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("currency", "USD").unwrap()
    }

    fn field_names(err: &Error) -> Vec<&str> {
        err.fields().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn the_bundled_lists_are_sorted_unique_and_consistent() {
        assert!(ACTIVE.windows(2).all(|w| w[0] < w[1]));
        for code in ZERO_DECIMAL.iter().chain(&THREE_DECIMAL) {
            assert!(ACTIVE.contains(code), "{code} is not in the active list");
        }
        for code in ACTIVE {
            assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }

    #[test]
    fn a_currency_code_is_normalized_to_upper_case() {
        assert_eq!(Currency::parse("currency", " usd ").unwrap().code(), "USD");
        assert_eq!(
            Currency::parse("currency", "Eur").unwrap().to_string(),
            "EUR"
        );
    }

    #[test]
    fn an_unknown_or_malformed_currency_is_rejected_naming_the_field() {
        for raw in [
            "", "US", "USDD", "U$D", "123", "XXX", "XTS", "XAU", "BGN", "USS",
        ] {
            let err = Currency::parse("price_currency", raw).unwrap_err();
            assert_eq!(field_names(&err), ["price_currency"], "{raw:?}");
        }
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        let units = |c: &str| Currency::parse("currency", c).unwrap().minor_units();
        for code in [
            "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "XPF",
        ] {
            assert_eq!(units(code), 0, "{code}");
        }
        for code in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] {
            assert_eq!(units(code), 3, "{code}");
        }
        for code in ["USD", "EUR", "GBP", "INR", "MGA"] {
            assert_eq!(units(code), 2, "{code}");
        }
    }

    #[test]
    fn no_amount_or_a_zero_amount_is_free() {
        assert_eq!(
            Price::parse("amount", None, "currency", None).unwrap(),
            Price::Free
        );
        assert_eq!(
            Price::parse("amount", Some(0), "currency", None).unwrap(),
            Price::Free
        );
        assert_eq!(
            Price::parse("amount", Some(0), "currency", Some("usd")).unwrap(),
            Price::Free
        );
        assert_eq!(
            Price::parse("amount", None, "currency", Some("  ")).unwrap(),
            Price::Free
        );
    }

    #[test]
    fn an_amount_with_a_currency_is_paid() {
        let price = Price::parse("amount", Some(4999), "currency", Some("usd")).unwrap();
        assert_eq!(
            price,
            Price::Paid {
                amount_minor: 4999,
                currency: usd()
            }
        );
        assert!(!price.is_free());
        assert_eq!(price.amount_minor(), 4999);
        assert_eq!(price.currency(), Some(usd()));
        assert!(
            Price::parse(
                "amount",
                Some(Price::MAX_AMOUNT_MINOR),
                "currency",
                Some("USD")
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_amount_is_rejected_naming_the_amount_field() {
        let err =
            Price::parse("price_amount", Some(-1), "price_currency", Some("USD")).unwrap_err();
        assert_eq!(field_names(&err), ["price_amount"]);
        let too_much = Some(Price::MAX_AMOUNT_MINOR + 1);
        let err =
            Price::parse("price_amount", too_much, "price_currency", Some("USD")).unwrap_err();
        assert_eq!(field_names(&err), ["price_amount"]);
    }

    #[test]
    fn a_half_given_price_names_the_missing_field() {
        let err = Price::parse("price_amount", Some(4999), "price_currency", None).unwrap_err();
        assert_eq!(field_names(&err), ["price_currency"]);
        let err = Price::parse("price_amount", Some(4999), "price_currency", Some("")).unwrap_err();
        assert_eq!(field_names(&err), ["price_currency"]);
        let err = Price::parse("price_amount", None, "price_currency", Some("USD")).unwrap_err();
        assert_eq!(field_names(&err), ["price_amount"]);
    }

    #[test]
    fn a_bad_currency_is_rejected_even_with_a_zero_amount() {
        let err = Price::parse("price_amount", Some(0), "price_currency", Some("USS")).unwrap_err();
        assert_eq!(field_names(&err), ["price_currency"]);
    }

    #[test]
    fn a_bad_amount_and_a_bad_currency_are_reported_together() {
        let err = Price::parse("price_amount", Some(-5), "price_currency", Some("??")).unwrap_err();
        assert_eq!(field_names(&err), ["price_amount", "price_currency"]);
    }

    #[test]
    fn a_price_is_displayed_with_the_currency_decimals() {
        let price = |amount, code| {
            Price::parse("amount", Some(amount), "currency", Some(code))
                .unwrap()
                .display()
        };
        assert_eq!(price(4999, "USD"), "49.99 USD");
        assert_eq!(price(5, "EUR"), "0.05 EUR");
        assert_eq!(price(100, "GBP"), "1.00 GBP");
        assert_eq!(price(5000, "JPY"), "5000 JPY");
        assert_eq!(price(1500, "KWD"), "1.500 KWD");
        assert_eq!(price(7, "BHD"), "0.007 BHD");
        assert_eq!(Price::Free.display(), "Free");
    }

    #[test]
    fn a_price_is_tagged_json_and_is_checked_when_read() {
        let paid = Price::parse("amount", Some(4999), "currency", Some("usd")).unwrap();
        assert_eq!(
            serde_json::to_value(paid).unwrap(),
            serde_json::json!({"kind": "paid", "amount_minor": 4999, "currency": "USD"})
        );
        assert_eq!(
            serde_json::to_value(Price::Free).unwrap(),
            serde_json::json!({"kind": "free"})
        );
        let back: Price =
            serde_json::from_str(r#"{"kind":"paid","amount_minor":4999,"currency":"USD"}"#)
                .unwrap();
        assert_eq!(back, paid);
        assert_eq!(
            serde_json::from_str::<Price>(r#"{"kind":"free"}"#).unwrap(),
            Price::Free
        );
        for bad in [
            r#"{"kind":"paid","amount_minor":0,"currency":"USD"}"#,
            r#"{"kind":"paid","amount_minor":-1,"currency":"USD"}"#,
            r#"{"kind":"paid","amount_minor":100,"currency":"USS"}"#,
            r#"{"kind":"gift"}"#,
        ] {
            assert!(serde_json::from_str::<Price>(bad).is_err(), "{bad}");
        }
    }
}
