//! The request and answer types of payments, shared by every face.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{CouponId, CourseId, Currency, OrderId, UserId};
use crate::error::{Error, Result};

/// Who takes the money for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Stripe Checkout.
    Stripe,
    /// Razorpay Checkout.
    Razorpay,
    /// Paid outside the platform (bank transfer...); an admin marks it paid.
    Manual,
    /// Nothing to pay: a coupon took the price to zero.
    Coupon,
}

impl Provider {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Razorpay => "razorpay",
            Self::Manual => "manual",
            Self::Coupon => "coupon",
        }
    }

    /// Parses a name a caller may choose (`coupon` is never chosen, it is
    /// what a zero price becomes).
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "stripe" => Ok(Self::Stripe),
            "razorpay" => Ok(Self::Razorpay),
            "manual" => Ok(Self::Manual),
            _ => Err(Error::invalid_field(
                field,
                "must be stripe, razorpay or manual",
            )),
        }
    }

    pub(crate) fn from_stored(raw: &str) -> Result<Self> {
        match raw {
            "coupon" => Ok(Self::Coupon),
            other => Self::parse("provider", other)
                .map_err(|_| Error::internal(format!("unknown provider {other:?} in orders"))),
        }
    }
}

/// Where an order is. Orders move forward only: `created` to `paid` to
/// `partially_refunded` / `refunded`, or `created` to `failed` / `expired`.
/// A payment that lands after a failure or an expiry still counts (money
/// received wins); a failure or expiry after a payment changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Waiting for the payment.
    Created,
    /// Paid; the learner is enrolled.
    Paid,
    /// Paid, then refunded in full; the enrollment was revoked.
    Refunded,
    /// Paid, then refunded in part; the enrollment stays.
    PartiallyRefunded,
    /// The provider reported the payment failed.
    Failed,
    /// The checkout expired unpaid.
    Expired,
}

impl OrderStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Parses a name, naming `field` when it is not one.
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw.trim() {
            "created" => Ok(Self::Created),
            "paid" => Ok(Self::Paid),
            "refunded" => Ok(Self::Refunded),
            "partially_refunded" => Ok(Self::PartiallyRefunded),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            _ => Err(Error::invalid_field(
                field,
                "must be created, paid, refunded, partially_refunded, failed or expired",
            )),
        }
    }

    /// Whether money was received for the order.
    pub fn is_paid(self) -> bool {
        matches!(self, Self::Paid | Self::Refunded | Self::PartiallyRefunded)
    }
}

/// One attempt to buy one course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Our order id (the provider's `client_reference_id` / `receipt`).
    pub id: OrderId,
    /// The buyer.
    pub user_id: UserId,
    /// The course bought.
    pub course_id: CourseId,
    /// Who takes the money.
    pub provider: Provider,
    /// Where the order is.
    pub status: OrderStatus,
    /// The course's price when the order was made, in minor units.
    pub list_amount: i64,
    /// What the coupon took off.
    pub discount_amount: i64,
    /// What is charged: list amount less discount.
    pub amount: i64,
    /// The currency of all amounts.
    pub currency: Currency,
    /// The coupon applied.
    pub coupon_id: Option<CouponId>,
    /// The provider's order: Stripe Checkout Session id, Razorpay order id.
    pub provider_order_id: Option<String>,
    /// The provider's payment: Stripe PaymentIntent id, Razorpay payment id.
    pub provider_payment_id: Option<String>,
    /// How much was refunded so far.
    pub refunded_amount: i64,
    /// Why the order waits for an admin (`amount_mismatch`,
    /// `currency_mismatch`, `coupon_limit_reached`, `learner_revoked`), if
    /// it does.
    pub review_reason: Option<String>,
    /// Where the learner pays (Stripe).
    pub checkout_url: Option<String>,
    /// When the order was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When the payment was confirmed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub paid_at: Option<Timestamp>,
    /// When it failed, expired or was refunded in full.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Timestamp>,
}

/// Starting to buy a course.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// `stripe`, `razorpay` or `manual`.
    pub provider: String,
    /// A coupon code, in any case.
    #[serde(default)]
    pub coupon_code: Option<String>,
    /// Where Stripe sends the learner after paying (default: the public
    /// URL's `/orders/{id}`).
    #[serde(default)]
    pub success_url: Option<String>,
    /// Where Stripe sends the learner on cancel (default: the public URL's
    /// `/courses/{id}`).
    #[serde(default)]
    pub cancel_url: Option<String>,
}

/// What Razorpay Checkout needs in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RazorpayCheckout {
    /// The public key id.
    pub key_id: String,
    /// Razorpay's order id.
    pub order_id: String,
    /// The amount in the smallest unit.
    pub amount: i64,
    /// The currency code.
    pub currency: Currency,
}

/// The answer to a checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckoutAnswer {
    /// Our order id.
    pub order_id: OrderId,
    /// `created` while payment is awaited; `paid` when a coupon made the
    /// course free and the learner is enrolled already.
    pub status: OrderStatus,
    /// Who takes the money.
    pub provider: Provider,
    /// What is charged.
    pub amount: i64,
    /// Its currency.
    pub currency: Currency,
    /// Stripe: where to send the learner.
    pub checkout_url: Option<String>,
    /// Razorpay: what Checkout needs.
    pub razorpay: Option<RazorpayCheckout>,
}

/// What Razorpay Checkout hands the browser after a payment.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RazorpayVerifyInput {
    /// Our order id.
    pub order_id: OrderId,
    /// Razorpay's order id, as Checkout's handler hands it over: optional,
    /// so that its answer can be sent whole; when sent it must be the one
    /// stored with our order, which is what the signature is checked
    /// against either way.
    #[serde(default)]
    pub razorpay_order_id: Option<String>,
    /// Razorpay's payment id.
    pub razorpay_payment_id: String,
    /// `hex(HMAC-SHA256(key secret, razorpay_order_id|razorpay_payment_id))`.
    pub razorpay_signature: String,
}

/// Whether a coupon takes a share or an amount off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// A percentage of the price.
    Percent,
    /// A fixed amount in one currency.
    Fixed,
}

/// A new coupon.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CouponInput {
    /// 3 to 40 letters, digits, `-` or `_`; matched without regard to case.
    pub code: String,
    /// The one course it applies to; unset: every course of the owner.
    #[serde(default)]
    pub course_id: Option<CourseId>,
    /// Whose courses it applies to when no course is named (admins only;
    /// default: the caller).
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// 1 to 100 percent off (or `amount_off`).
    #[serde(default)]
    pub percent_off: Option<i64>,
    /// An amount off in minor units of `currency` (or `percent_off`).
    #[serde(default)]
    pub amount_off: Option<i64>,
    /// The currency of `amount_off`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Usable from then on.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub starts_at: Option<Timestamp>,
    /// Usable until then.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ends_at: Option<Timestamp>,
    /// Uses in total.
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    /// Uses per learner.
    #[serde(default)]
    pub max_per_user: Option<i64>,
}

/// A coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coupon {
    /// Its id.
    pub id: CouponId,
    /// The code, upper-cased.
    pub code: String,
    /// Whose courses it applies to.
    pub owner_id: UserId,
    /// The one course, if it is limited to one.
    pub course_id: Option<CourseId>,
    /// Percent or fixed.
    pub kind: CouponKind,
    /// Percent off.
    pub percent_off: Option<i64>,
    /// Amount off in minor units.
    pub amount_off: Option<i64>,
    /// Currency of the amount off.
    pub currency: Option<Currency>,
    /// Usable from.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub starts_at: Option<Timestamp>,
    /// Usable until.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ends_at: Option<Timestamp>,
    /// Uses in total.
    pub max_redemptions: Option<i64>,
    /// Uses per learner.
    pub max_per_user: Option<i64>,
    /// Uses so far (paid orders).
    pub redeemed: i64,
    /// A disabled coupon is refused.
    pub disabled: bool,
    /// When it was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// Asking what a coupon does to a course's price.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CouponCheck {
    /// The code, in any case.
    pub code: String,
    /// The course.
    pub course_id: CourseId,
}

/// A course's price with a coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CouponQuote {
    /// The coupon.
    pub coupon_id: CouponId,
    /// Its code.
    pub code: String,
    /// The course.
    pub course_id: CourseId,
    /// The price before.
    pub list_amount: i64,
    /// What the coupon takes off.
    pub discount_amount: i64,
    /// The price after.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
}

/// Which orders to list (admins).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Only this buyer.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Only this course.
    #[serde(default)]
    pub course_id: Option<CourseId>,
    /// Only orders flagged for review.
    #[serde(default)]
    pub flagged: Option<bool>,
    /// After this order id (the last of the previous page).
    #[serde(default)]
    pub after: Option<OrderId>,
    /// Page size, 1 to 200 (50).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A refund to make (admins).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// Minor units to refund (default: all that is left).
    #[serde(default)]
    pub amount: Option<i64>,
}

/// What a reconciliation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    /// Open orders asked about.
    pub checked: u64,
    /// Orders whose state changed.
    pub repaired: u64,
    /// Orders whose provider could not be asked (tried again next run).
    pub errors: u64,
}
