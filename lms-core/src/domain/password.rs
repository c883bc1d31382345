use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use crate::error::Error;

/// The passwords of 8 characters or more among the 30,000 most frequent ones
/// (zxcvbn 4.5.0 frequency list), lower case, one a line.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// A new password that passed the policy: 8 to 128 characters, not only
/// spaces, not one character repeated, and not one of the most common
/// passwords. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted (bounds the hashing work an attacker can ask for).
    pub const MAX_CHARS: usize = 128;

    /// Checks a new password against the policy, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Error::invalid_field(field, "must be at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::invalid_field(
                field,
                "must be at most 128 characters",
            ));
        }
        // Spaces count, as every character does, but not alone; nor one
        // character over and over (NIST SP 800-63B's "repetitive" passwords).
        if raw.chars().all(char::is_whitespace) {
            return Err(Error::invalid_field(field, "must not be only spaces"));
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(Error::invalid_field(
                field,
                "must not be one character repeated",
            ));
        }
        if COMMON.contains(raw.to_lowercase().as_str()) {
            return Err(Error::invalid_field(
                field,
                "is one of the most common passwords; choose another",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_password_is_rejected() {
        let err = Password::parse("password", "abc123").unwrap_err();
        assert_eq!(err.fields()[0].field, "password");
    }

    #[test]
    fn a_very_long_password_is_rejected() {
        assert!(Password::parse("password", &"x7".repeat(65)).is_err());
        assert!(Password::parse("password", &"x7".repeat(64)).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Eight characters, sixteen bytes.
        assert!(Password::parse("password", "éèàùçôîâ").is_ok());
    }

    #[test]
    fn a_common_password_is_rejected_in_any_case() {
        assert!(Password::parse("password", "password").is_err());
        assert!(Password::parse("password", "PassWord").is_err());
        assert!(Password::parse("password", "iloveyou").is_err());
    }

    #[test]
    fn spaces_alone_or_one_character_repeated_are_rejected() {
        for weak in ["        ", " \t \u{a0}    ", "zzzzzzzzzz", "éééééééé"] {
            let err = Password::parse("password", weak).unwrap_err();
            assert_eq!(err.fields()[0].field, "password", "{weak:?}");
        }
        // Spaces inside a password are as good as any character.
        assert!(Password::parse("password", "  correct horse  ").is_ok());
        assert!(Password::parse("password", "zzzzzzzzzy").is_ok());
    }

    #[test]
    fn the_bundled_list_is_loaded() {
        assert!(COMMON.len() > 10_000);
    }

    #[test]
    fn debug_hides_the_password() {
        let p = Password::parse("password", "correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
