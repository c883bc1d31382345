//! Free-text fields with length limits.

use serde::{Deserialize, Serialize};

use crate::error::Error;

fn no_control(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Whether `s` holds a Unicode bidirectional embedding, override or
/// isolate control (U+202A to U+202E, U+2066 to U+2069). Invisible, they
/// reorder the text around them, so a name, a title or a file name could
/// read as something else ("Trojan Source"). The marks (U+200E, U+200F)
/// stay allowed: they only nudge mixed right-to-left text.
pub(crate) fn has_bidi_control(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
}

/// The refusal for [`has_bidi_control`].
pub(crate) const BIDI_CONTROL: &str =
    "must not contain bidirectional text controls (U+202A to U+202E, U+2066 to U+2069)";

/// The name shown for a user: 1 to 100 characters, trimmed, one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Error::invalid_field(field, "is required"));
        }
        if name.chars().count() > 100 {
            return Err(Error::invalid_field(
                field,
                "must be at most 100 characters",
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid_field(field, "must be a single line of text"));
        }
        if has_bidi_control(name) {
            return Err(Error::invalid_field(field, BIDI_CONTROL));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's self-description: at most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bio(String);

impl Bio {
    /// Trims and checks `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let bio = raw.trim();
        if bio.chars().count() > 2000 {
            return Err(Error::invalid_field(
                field,
                "must be at most 2000 characters",
            ));
        }
        if !no_control(bio) {
            return Err(Error::invalid_field(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(bio.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key of an object in media storage (an avatar, a thumbnail): a relative
/// path of safe characters that cannot climb out of its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Checks `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let key = raw.trim();
        let safe = key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'));
        let climbs = key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
        if key.is_empty() || key.len() > 512 || !safe || climbs {
            return Err(Error::invalid_field(
                field,
                "must be a relative object key of letters, digits, '/', '.', '_' and '-'",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_display_name_is_rejected() {
        assert!(DisplayName::parse("display_name", "   ").is_err());
        assert_eq!(
            DisplayName::parse("display_name", " Ada ")
                .unwrap()
                .as_str(),
            "Ada"
        );
    }

    #[test]
    fn a_display_name_that_reorders_itself_is_rejected() {
        // On screen "Adminexe.png": the override reverses what follows it.
        let err = DisplayName::parse("display_name", "Admin\u{202E}gnp.exe").unwrap_err();
        assert_eq!(err.fields()[0].field, "display_name");
        assert!(DisplayName::parse("display_name", "Ada \u{2067}x\u{2069}").is_err());
        // Right-to-left names, with or without a mark, are names.
        assert!(DisplayName::parse("display_name", "\u{5d3}\u{5e0}\u{5d4} \u{200F}Dana").is_ok());
    }

    #[test]
    fn a_display_name_on_two_lines_is_rejected() {
        assert!(DisplayName::parse("display_name", "Ada\nLovelace").is_err());
    }

    #[test]
    fn an_object_key_cannot_climb_out() {
        for raw in ["../etc/passwd", "/abs", "a//b", "a/./b", "a b", ""] {
            assert!(ObjectKey::parse("avatar_key", raw).is_err(), "{raw:?}");
        }
        assert!(ObjectKey::parse("avatar_key", "avatars/0193/me.png").is_ok());
    }
}
