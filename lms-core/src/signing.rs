//! HMAC-SHA256 as the providers use it: hex digests, constant-time checks,
//! and the `t=<unix>,v1=<hex>` header that Stripe and Mux put on webhooks.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Oldest accepted webhook timestamp, in seconds: what Stripe's and Mux's
/// libraries use, so a captured delivery cannot be replayed later.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// `HMAC-SHA256(key, parts joined)` as raw bytes.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `HMAC-SHA256(key, parts joined)` as lower-case hex.
pub fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(key, parts))
}

/// Whether `hex_digest` is the HMAC of `parts` under `key`, compared in
/// constant time (a malformed digest is simply wrong).
pub fn verify_hmac_hex(key: &[u8], parts: &[&[u8]], hex_digest: &str) -> bool {
    let Ok(expected) = hex::decode(hex_digest.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&expected).is_ok()
}

/// Why a timestamped signature header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `t=` or no `v1=` element.
    Malformed,
    /// The timestamp is older than the tolerance.
    Stale,
    /// No `v1` matches.
    Mismatch,
}

impl SignatureProblem {
    /// What to tell the sender.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the signature header is malformed",
            Self::Stale => "the signature timestamp is older than the tolerance",
            Self::Mismatch => "no signature matches the body",
        }
    }
}

/// Checks a `t=<unix>,v1=<hex>[,v1=<hex>...]` header over `body`:
/// `v1 = hex(HMAC-SHA256(secret, "<t>." + body))`. Any `v1` may match
/// (senders list several while rolling secrets); other schemes (`v0`) are
/// ignored. The timestamp may be at most `tolerance_secs` old. A timestamp
/// ahead of `now` passes, as in the providers' own libraries: it means our
/// clock is behind theirs, and refusing would turn away every genuine
/// delivery until the clocks agree, while a replay is always an old one.
pub fn verify_timestamped(
    header: &str,
    body: &[u8],
    secret: &[u8],
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<(), SignatureProblem> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let Some((name, value)) = element.trim().split_once('=') else {
            continue;
        };
        match name {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return Err(SignatureProblem::Malformed);
    };
    if signatures.is_empty() {
        return Err(SignatureProblem::Malformed);
    }
    // Every candidate is checked so the time taken does not tell which one
    // matched.
    let t_text = t.to_string();
    let parts: [&[u8]; 3] = [t_text.as_bytes(), b".", body];
    let matched = signatures.iter().fold(false, |found, sig| {
        verify_hmac_hex(secret, &parts, sig) | found
    });
    if !matched {
        return Err(SignatureProblem::Mismatch);
    }
    if now.timestamp().saturating_sub(t) > tolerance_secs {
        return Err(SignatureProblem::Stale);
    }
    Ok(())
}

/// The header [`verify_timestamped`] accepts, for tests and for hosts that
/// sign their own deliveries.
pub fn timestamped_header(body: &[u8], secret: &[u8], t: i64) -> String {
    let t_text = t.to_string();
    format!(
        "t={t},v1={}",
        hmac_sha256_hex(secret, &[t_text.as_bytes(), b".", body])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn a_known_hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signed_header_verifies_and_a_tampered_body_does_not() {
        let header = timestamped_header(b"{\"a\":1}", b"whsec_test", 1_700_000_000);
        assert_eq!(
            verify_timestamped(&header, b"{\"a\":1}", b"whsec_test", at(1_700_000_010), 300),
            Ok(())
        );
        assert_eq!(
            verify_timestamped(&header, b"{\"a\":2}", b"whsec_test", at(1_700_000_010), 300),
            Err(SignatureProblem::Mismatch)
        );
        assert_eq!(
            verify_timestamped(&header, b"{\"a\":1}", b"other", at(1_700_000_010), 300),
            Err(SignatureProblem::Mismatch)
        );
    }

    #[test]
    fn an_old_timestamp_is_stale_even_with_a_right_signature() {
        let header = timestamped_header(b"x", b"k", 1_700_000_000);
        assert_eq!(
            verify_timestamped(&header, b"x", b"k", at(1_700_000_301), 300),
            Err(SignatureProblem::Stale)
        );
        assert_eq!(
            verify_timestamped(&header, b"x", b"k", at(1_700_000_300), 300),
            Ok(())
        );
    }

    #[test]
    fn a_timestamp_ahead_of_our_clock_passes() {
        // Our clock ten minutes behind the sender's.
        let header = timestamped_header(b"x", b"k", 1_700_000_600);
        assert_eq!(
            verify_timestamped(&header, b"x", b"k", at(1_700_000_000), 300),
            Ok(())
        );
        let extreme = timestamped_header(b"x", b"k", i64::MIN);
        assert_eq!(
            verify_timestamped(&extreme, b"x", b"k", at(1_700_000_000), 300),
            Err(SignatureProblem::Stale)
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match_and_v0_is_ignored() {
        let good = timestamped_header(b"x", b"k", 100);
        let sig = good.split("v1=").nth(1).unwrap();
        let header = format!("t=100,v0={sig},v1=00ff,v1={sig}");
        assert_eq!(
            verify_timestamped(&header, b"x", b"k", at(100), 300),
            Ok(())
        );
        let only_v0 = format!("t=100,v0={sig}");
        assert_eq!(
            verify_timestamped(&only_v0, b"x", b"k", at(100), 300),
            Err(SignatureProblem::Malformed)
        );
    }
}
