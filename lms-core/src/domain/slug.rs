//! URL slugs for courses and other public pages.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;

/// The readable, URL-safe key of a public page (`intro-to-rust`): lower-case
/// ASCII letters, digits and single hyphens, 1 to 80 characters, never
/// starting or ending with a hyphen.
///
/// ASCII only, so a slug is the same string in a URL, a log line and a unique
/// index, and never needs percent-encoding or Unicode normalization to compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Most characters in a slug: long enough for a real title, short enough
    /// for a URL someone reads aloud.
    pub const MAX_LEN: usize = 80;

    /// Checks `raw` (trimmed, nothing else), naming `field` when it refuses.
    ///
    /// A slug a person typed is taken as given or refused, never rewritten:
    /// silently changing it would publish a URL they did not choose. Use
    /// [`Slug::from_title`] to derive one.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let slug = raw.trim();
        if slug.is_empty() {
            return Err(Error::invalid_field(field, "is required"));
        }
        if slug.len() > Self::MAX_LEN {
            return Err(Error::invalid_field(field, "must be at most 80 characters"));
        }
        let charset = slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !charset || slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(Error::invalid_field(
                field,
                "must be lower-case letters, digits and single hyphens, like intro-to-rust",
            ));
        }
        if is_id_shaped(slug) {
            return Err(Error::invalid_field(
                field,
                "must not have the form of an id: course addresses take ids too",
            ));
        }
        Ok(Self(slug.to_owned()))
    }

    /// Derives a slug from any title: common Latin accents are folded to
    /// ASCII (`Crème Brûlée` → `creme-brulee`), every run of other characters
    /// becomes one hyphen, and a title too long is cut at a word boundary.
    ///
    /// `None` when nothing usable is left (a title of only emoji or CJK
    /// characters); the caller then asks for a slug or falls back to an id.
    pub fn from_title(title: &str) -> Option<Self> {
        let mut slug = String::with_capacity(title.len());
        let mut gap = false;
        for c in title.chars() {
            // "Don't" reads as one word: dont, not don-t.
            if matches!(c, '\'' | '\u{2019}') {
                continue;
            }
            let mut buf = [0u8; 4];
            let ascii = if c.is_ascii_alphanumeric() {
                Some(&*c.encode_utf8(&mut buf))
            } else {
                fold_latin(c)
            };
            match ascii {
                Some(part) => {
                    if gap && !slug.is_empty() {
                        slug.push('-');
                    }
                    gap = false;
                    slug.extend(part.chars().map(|c| c.to_ascii_lowercase()));
                }
                None => gap = true,
            }
        }
        if slug.len() > Self::MAX_LEN {
            // Cut at the last hyphen that keeps whole words, unless the first
            // word alone is longer than the limit.
            let cut = if slug.as_bytes()[Self::MAX_LEN] == b'-' {
                Self::MAX_LEN
            } else {
                slug[..Self::MAX_LEN].rfind('-').unwrap_or(Self::MAX_LEN)
            };
            slug.truncate(cut);
        }
        (!slug.is_empty() && !is_id_shaped(&slug)).then_some(Self(slug))
    }

    /// This slug with `-n` appended (`intro-to-rust-2`), the base shortened
    /// so the result still fits in 80 characters. Used to resolve a
    /// collision: try `n = 2, 3, ...` until the store accepts one.
    pub fn with_suffix(&self, n: u32) -> Slug {
        let suffix = format!("-{n}");
        let room = Self::MAX_LEN - suffix.len();
        let base = self.0[..self.0.len().min(room)].trim_end_matches('-');
        Self(format!("{base}{suffix}"))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `slug` reads as a UUID (hyphenated or 32 hex digits). Such a slug
/// could never be reached (`/courses/{id_or_slug}` tries the id first) and
/// could be another course's id, sending its readers there.
fn is_id_shaped(slug: &str) -> bool {
    uuid::Uuid::try_parse(slug).is_ok()
}

/// The ASCII spelling of a common accented Latin letter, or `None` for any
/// other character. Hand-written on purpose: a full transliteration crate is
/// a large dependency for the handful of letters course titles actually use.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        _ => return None,
    })
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deserializing checks the rules too, so a `Slug` read from JSON is as
/// trustworthy as one built by [`Slug::parse`].
impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("slug", &raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(title: &str) -> Option<String> {
        Slug::from_title(title).map(|s| s.0)
    }

    #[test]
    fn a_valid_slug_is_only_trimmed() {
        assert_eq!(
            Slug::parse("slug", "  intro-to-rust-2 ").unwrap().as_str(),
            "intro-to-rust-2"
        );
        assert!(Slug::parse("slug", "a").is_ok());
        assert!(Slug::parse("slug", &"a".repeat(80)).is_ok());
    }

    #[test]
    fn a_malformed_slug_is_rejected_naming_the_field() {
        for raw in [
            "",
            "   ",
            "Intro",
            "intro_to_rust",
            "intro to rust",
            "-intro",
            "intro-",
            "intro--rust",
            "crème",
            "intro/rust",
            "01a24ba1-e310-74b2-bdcc-e889f37c7ea8",
            "00000000-0000-0000-0000-000000000000",
            "01a24ba1e31074b2bdcce889f37c7ea8",
        ] {
            let err = Slug::parse("slug", raw).unwrap_err();
            assert_eq!(err.fields()[0].field, "slug", "{raw:?}");
        }
        let err = Slug::parse("course_slug", &"a".repeat(81)).unwrap_err();
        assert_eq!(err.fields()[0].field, "course_slug");
        assert!(err.message().contains("80"));
    }

    #[test]
    fn a_title_that_reads_as_an_id_gives_no_slug() {
        assert_eq!(slug("01A24BA1 E310 74B2 BDCC E889F37C7EA8"), None);
        assert_eq!(
            slug("01a24ba1-e310-74b2-bdcc-e889f37c7ea8 notes").as_deref(),
            Some("01a24ba1-e310-74b2-bdcc-e889f37c7ea8-notes")
        );
    }

    #[test]
    fn a_title_becomes_lower_case_words_joined_by_single_hyphens() {
        assert_eq!(slug("Intro to Rust").as_deref(), Some("intro-to-rust"));
        assert_eq!(
            slug("  Rust: The Basics -- Part 2!  ").as_deref(),
            Some("rust-the-basics-part-2")
        );
        assert_eq!(slug("C++ & C#").as_deref(), Some("c-c"));
        assert_eq!(slug("2024").as_deref(), Some("2024"));
    }

    #[test]
    fn apostrophes_do_not_split_words() {
        assert_eq!(slug("Don't Panic").as_deref(), Some("dont-panic"));
        assert_eq!(slug("Ada\u{2019}s Notes").as_deref(), Some("adas-notes"));
    }

    #[test]
    fn accented_latin_letters_are_folded_to_ascii() {
        assert_eq!(slug("Crème Brûlée").as_deref(), Some("creme-brulee"));
        assert_eq!(
            slug("Ærøskøbing Straße").as_deref(),
            Some("aeroskobing-strasse")
        );
        assert_eq!(
            slug("ŒUVRE ÇA NIÑO ÝÿŸ").as_deref(),
            Some("oeuvre-ca-nino-yyy")
        );
        assert_eq!(
            slug("àáâãäå ìíîï ùúûü").as_deref(),
            Some("aaaaaa-iiii-uuuu")
        );
    }

    #[test]
    fn other_scripts_become_separators_and_may_leave_nothing() {
        assert_eq!(slug("Rust 入門 101").as_deref(), Some("rust-101"));
        assert_eq!(slug("日本語の講座"), None);
        assert_eq!(slug("🦀🦀🦀"), None);
        assert_eq!(slug(" - !! - "), None);
        assert_eq!(slug(""), None);
    }

    #[test]
    fn a_long_title_is_cut_at_a_word_boundary() {
        let title = "word ".repeat(30); // "word-word-..." is 149 characters
        let s = slug(&title).unwrap();
        assert!(s.len() <= 80);
        assert!(s.split('-').all(|w| w == "word"), "{s}");
        assert_eq!(s.len(), 79); // 16 whole words

        // A boundary exactly at the limit keeps all 80 characters.
        let exact = format!("{} tail", "a".repeat(80));
        assert_eq!(slug(&exact).unwrap(), "a".repeat(80));

        // One word longer than the limit has no boundary: cut it hard.
        assert_eq!(slug(&"x".repeat(100)).unwrap(), "x".repeat(80));
        assert!(Slug::parse("slug", &slug(&title).unwrap()).is_ok());
    }

    #[test]
    fn a_derived_slug_always_passes_parse() {
        for title in [
            "Intro to Rust",
            "Crème Brûlée",
            &"ab cd ".repeat(40),
            "-a-",
            "ß",
        ] {
            let s = Slug::from_title(title).unwrap();
            assert!(Slug::parse("slug", s.as_str()).is_ok(), "{s}");
        }
    }

    #[test]
    fn a_suffix_is_appended_and_the_base_shortened_to_fit() {
        let base = Slug::parse("slug", "intro-to-rust").unwrap();
        assert_eq!(base.with_suffix(2).as_str(), "intro-to-rust-2");
        assert_eq!(base.with_suffix(13).as_str(), "intro-to-rust-13");

        let long = Slug::parse("slug", &"a".repeat(80)).unwrap();
        let s = long.with_suffix(2);
        assert_eq!(s.as_str(), format!("{}-2", "a".repeat(78)));

        // Shortening must not leave a double hyphen before the suffix.
        let hyphen_at_cut = Slug::parse("slug", &format!("{}-bcd", "a".repeat(76))).unwrap();
        let s = hyphen_at_cut.with_suffix(10);
        assert_eq!(s.as_str(), format!("{}-10", "a".repeat(76)));

        let biggest = long.with_suffix(u32::MAX);
        assert_eq!(biggest.as_str().len(), 80);
        assert!(Slug::parse("slug", biggest.as_str()).is_ok());
    }

    #[test]
    fn a_slug_is_a_json_string_and_is_checked_when_read() {
        let s = Slug::parse("slug", "intro-to-rust").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"intro-to-rust\"");
        let back: Slug = serde_json::from_str("\"intro-to-rust\"").unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Slug>("\"Intro To Rust\"").is_err());
    }
}
