use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A normalized e-mail address: trimmed and lower-cased, so uniqueness holds
/// regardless of how the user typed it.
///
/// The whole address is lower-cased. RFC 5321 lets the local part be
/// case-sensitive, but no mainstream provider treats it so, and two accounts
/// differing only in case are a support problem, never a feature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP can carry.
    pub const MAX_LEN: usize = 254;

    /// Parses and normalizes `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let email = raw.trim().to_lowercase();
        let bad = |why: &str| Err(Error::invalid_field(field, why));
        if email.is_empty() {
            return bad("is required");
        }
        if email.len() > Self::MAX_LEN {
            return bad("is longer than 254 characters");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain spaces");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return bad("must be an address like name@example.com");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return bad("must be an address like name@example.com");
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return bad("must have a domain like example.com");
        }
        Ok(Self(email))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        let e = Email::parse("email", "  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn an_email_without_at_sign_is_rejected() {
        let err = Email::parse("email", "ada.example.com").unwrap_err();
        assert_eq!(err.fields()[0].field, "email");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for raw in [
            "",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@exa mple.com",
            "ada@@example.com",
            "ada@.example.com",
            "ada@example..com",
            "ada@-example.com",
        ] {
            assert!(Email::parse("email", raw).is_err(), "{raw:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse("email", &long).is_err());
    }
}
