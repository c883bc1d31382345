//! Strong entity tags from the body's hash, and `If-None-Match`.
//!
//! Hashing the bytes we are about to send makes the tag exact without any
//! version bookkeeping in the store, and every instance behind a load
//! balancer computes the same tag for the same body.

use sha2::{Digest, Sha256};

/// The strong tag of `body`: 128 bits of its SHA-256, quoted.
pub fn of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` value matches `etag`. RFC 9110 has this
/// header use the weak comparison, so a `W/` prefix is ignored.
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .map(|t| t.trim())
            .map(|t| t.strip_prefix("W/").unwrap_or(t))
            .any(|t| t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_body_has_the_same_tag_and_another_body_another() {
        assert_eq!(of(b"{}"), of(b"{}"));
        assert_ne!(of(b"{}"), of(b"[]"));
        assert!(of(b"{}").starts_with('"') && of(b"{}").ends_with('"'));
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let tag = of(b"x");
        assert!(none_match(&tag, &tag));
        assert!(none_match(&format!("\"a\", W/{tag}"), &tag));
        assert!(none_match("*", &tag));
        assert!(!none_match("\"a\"", &tag));
    }
}
