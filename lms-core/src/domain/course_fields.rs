//! The descriptive fields of a course: level, language, tags, title,
//! subtitle and Markdown bodies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::text::{BIDI_CONTROL, has_bidi_control};
use crate::error::Error;

/// Whether `s` fits on one line: no control characters at all (not even a
/// tab) and no Unicode line or paragraph separator.
fn single_line(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// Who a course is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No prior knowledge assumed.
    Beginner,
    /// Builds on the basics.
    Intermediate,
    /// For people who already practise the subject.
    Advanced,
    /// Suitable for every level; what a course is until its author says
    /// otherwise.
    #[default]
    All,
}

impl Level {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Beginner => "beginner",
            Self::Intermediate => "intermediate",
            Self::Advanced => "advanced",
            Self::All => "all",
        }
    }

    /// Parses a level name in any case, naming `field` when it is unknown.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "beginner" => Ok(Self::Beginner),
            "intermediate" => Ok(Self::Intermediate),
            "advanced" => Ok(Self::Advanced),
            "all" => Ok(Self::All),
            _ => Err(Error::invalid_field(
                field,
                "must be one of beginner, intermediate, advanced, all",
            )),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse("level", s)
    }
}

/// The language a course is taught in, as a short BCP 47 tag in canonical
/// case: `en`, `en-US`, `zh-Hant`, `zh-Hant-TW`, `es-419`.
///
/// Only the subset catalogs filter on (primary language, optional script,
/// optional region) is accepted; variants, extensions and private-use tags
/// are refused rather than stored in a form nobody can match against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    /// Parses `raw` and normalizes its case (`en-us` → `en-US`), naming
    /// `field` when it is not a tag of that shape.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let refuse =
            || Error::invalid_field(field, "must be a language tag like en, en-US or zh-Hant");
        let mut parts = raw.trim().split('-');
        let primary = parts.next().unwrap_or_default();
        if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(refuse());
        }
        let mut tag = primary.to_ascii_lowercase();
        let mut seen_script = false;
        let mut seen_region = false;
        for part in parts {
            let letters = part.bytes().all(|b| b.is_ascii_alphabetic());
            let digits = part.bytes().all(|b| b.is_ascii_digit());
            if part.len() == 4 && letters && !seen_script && !seen_region {
                seen_script = true;
                tag.push('-');
                tag.push_str(&part[..1].to_ascii_uppercase());
                tag.push_str(&part[1..].to_ascii_lowercase());
            } else if ((part.len() == 2 && letters) || (part.len() == 3 && digits)) && !seen_region
            {
                seen_region = true;
                tag.push('-');
                tag.push_str(&part.to_ascii_uppercase());
            } else {
                return Err(refuse());
            }
        }
        Ok(Self(tag))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`en` for `en-US`).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deserializing checks and normalizes the tag too.
impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("language", &raw).map_err(serde::de::Error::custom)
    }
}

/// A course's tags, normalized so the same tag typed two ways is one tag:
/// trimmed, lower-cased, inner whitespace collapsed to one space, duplicates
/// dropped (the first spelling and order kept). At most 10 tags of 1 to 32
/// letters, digits, spaces and hyphens each.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Most tags on one course: enough to describe it, too few to spam search.
    pub const MAX_TAGS: usize = 10;
    /// Most characters in one tag.
    pub const MAX_CHARS: usize = 32;

    /// Normalizes and checks every tag, naming `field` (and the tag's
    /// 1-based position, never its possibly huge text) when one is refused.
    pub fn parse<S: AsRef<str>>(field: &str, raw: &[S]) -> Result<Self, Error> {
        let mut tags: Vec<String> = Vec::with_capacity(raw.len().min(Self::MAX_TAGS));
        for (i, raw_tag) in raw.iter().enumerate() {
            let collapsed = raw_tag
                .as_ref()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if collapsed.is_empty() {
                return Err(Error::invalid_field(
                    field,
                    format!("tag {} is blank", i + 1),
                ));
            }
            if let Some(bad) = collapsed
                .chars()
                .find(|&c| !(c.is_alphanumeric() || c == ' ' || c == '-'))
            {
                return Err(Error::invalid_field(
                    field,
                    format!(
                        "tag {} may contain only letters, digits, spaces and hyphens, not {bad:?}",
                        i + 1
                    ),
                ));
            }
            let tag = collapsed.to_lowercase();
            if tag.chars().count() > Self::MAX_CHARS {
                return Err(Error::invalid_field(
                    field,
                    format!("tag {} is longer than 32 characters", i + 1),
                ));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > Self::MAX_TAGS {
            return Err(Error::invalid_field(field, "must have at most 10 tags"));
        }
        Ok(Self(tags))
    }

    /// The tags, in the order first given.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// How many tags there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tags, owned.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// Deserializing normalizes and checks the tags too.
impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Vec::<String>::deserialize(deserializer)?;
        Self::parse("tags", &raw).map_err(serde::de::Error::custom)
    }
}

/// A course (or section, or lecture) title: 1 to 200 characters, trimmed,
/// one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    /// Most characters in a title.
    pub const MAX_CHARS: usize = 200;

    /// Trims and checks `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(Error::invalid_field(field, "is required"));
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid_field(
                field,
                "must be at most 200 characters",
            ));
        }
        if !single_line(title) {
            return Err(Error::invalid_field(field, "must be a single line of text"));
        }
        if has_bidi_control(title) {
            return Err(Error::invalid_field(field, BIDI_CONTROL));
        }
        Ok(Self(title.to_owned()))
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Deserializing checks the title too.
impl<'de> Deserialize<'de> for Title {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("title", &raw).map_err(serde::de::Error::custom)
    }
}

/// The one-line pitch under a title: at most 300 characters, trimmed, may be
/// empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Subtitle(String);

impl Subtitle {
    /// Most characters in a subtitle.
    pub const MAX_CHARS: usize = 300;

    /// Trims and checks `raw`, naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        let subtitle = raw.trim();
        if subtitle.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid_field(
                field,
                "must be at most 300 characters",
            ));
        }
        if !single_line(subtitle) {
            return Err(Error::invalid_field(field, "must be a single line of text"));
        }
        if has_bidi_control(subtitle) {
            return Err(Error::invalid_field(field, BIDI_CONTROL));
        }
        Ok(Self(subtitle.to_owned()))
    }

    /// The subtitle (possibly empty).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Deserializing checks the subtitle too.
impl<'de> Deserialize<'de> for Subtitle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse("subtitle", &raw).map_err(serde::de::Error::custom)
    }
}

/// A Markdown body (a course description, a lecture's notes), kept exactly
/// as written: leading spaces are Markdown syntax, so nothing is trimmed.
///
/// The limit differs per field, so the caller passes it; for the same reason
/// there is no `Deserialize` (it would not know the limit). Control
/// characters other than newline, carriage return and tab are refused: they
/// render as nothing, and NUL breaks PostgreSQL text columns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Markdown(String);

impl Markdown {
    /// Checks `raw` against `max_chars` (counted in characters), naming
    /// `field` when it refuses.
    pub fn parse(field: &str, raw: &str, max_chars: usize) -> Result<Self, Error> {
        if raw.chars().count() > max_chars {
            return Err(Error::invalid_field(
                field,
                format!("must be at most {max_chars} characters"),
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Error::invalid_field(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> String {
        err.fields()[0].field.clone()
    }

    #[test]
    fn a_level_parses_in_any_case_and_is_snake_case_json() {
        assert_eq!(
            Level::parse("level", " Beginner ").unwrap(),
            Level::Beginner
        );
        assert_eq!("ADVANCED".parse::<Level>().unwrap(), Level::Advanced);
        for level in [
            Level::Beginner,
            Level::Intermediate,
            Level::Advanced,
            Level::All,
        ] {
            assert_eq!(Level::parse("level", level.as_str()).unwrap(), level);
            assert_eq!(serde_json::to_value(level).unwrap(), level.as_str());
        }
        assert_eq!(Level::default(), Level::All);
    }

    #[test]
    fn an_unknown_level_is_rejected_naming_the_field() {
        for raw in ["", "expert", "all levels"] {
            assert_eq!(
                field_of(Level::parse("course_level", raw).unwrap_err()),
                "course_level"
            );
        }
    }

    #[test]
    fn a_language_tag_is_normalized_to_canonical_case() {
        let lang = |raw| Language::parse("language", raw).unwrap().0;
        assert_eq!(lang("en"), "en");
        assert_eq!(lang(" EN "), "en");
        assert_eq!(lang("en-us"), "en-US");
        assert_eq!(lang("PT-br"), "pt-BR");
        assert_eq!(lang("zh-hant"), "zh-Hant");
        assert_eq!(lang("ZH-HANT-tw"), "zh-Hant-TW");
        assert_eq!(lang("es-419"), "es-419");
        assert_eq!(lang("fil"), "fil");
        assert_eq!(
            Language::parse("language", "en-GB").unwrap().primary(),
            "en"
        );
    }

    #[test]
    fn a_malformed_language_tag_is_rejected_naming_the_field() {
        for raw in [
            "",
            "e",
            "engl",
            "english",
            "en-",
            "-en",
            "en_US",
            "en-USA",
            "en-U1",
            "en-US-GB",
            "en-US-Latn",
            "zh-Hant-Hans",
            "en-1234",
            "12",
            "en-US-x-private",
            "é",
        ] {
            let err = Language::parse("language", raw).unwrap_err();
            assert_eq!(field_of(err), "language", "{raw:?}");
        }
    }

    #[test]
    fn tags_are_normalized_and_deduplicated_in_first_order() {
        let tags = Tags::parse(
            "tags",
            &["  Rust ", "Web   Dev", "rust", "WEB DEV", "async-io"],
        )
        .unwrap();
        assert_eq!(tags.as_slice(), ["rust", "web dev", "async-io"]);
        assert_eq!(tags.len(), 3);
        assert!(Tags::parse::<&str>("tags", &[]).unwrap().is_empty());
        let accented = Tags::parse("tags", &["Programación"]).unwrap();
        assert_eq!(accented.as_slice(), ["programación"]);
    }

    #[test]
    fn bad_tags_are_rejected_naming_the_field() {
        let too_long = "x".repeat(33);
        for raw in ["", "   ", "c++", "node.js", "a,b", too_long.as_str()] {
            let err = Tags::parse("tags", &["ok", raw]).unwrap_err();
            assert!(err.message().contains("tag 2"), "{}", err.message());
            assert_eq!(field_of(err), "tags", "{raw:?}");
        }
        let err = Tags::parse("tags", &["c++"]).unwrap_err();
        assert!(err.message().ends_with("not '+'"), "{}", err.message());
        assert!(Tags::parse("tags", &["x".repeat(32)]).is_ok());
    }

    #[test]
    fn at_most_ten_distinct_tags_are_accepted() {
        let ten: Vec<String> = (0..10).map(|i| format!("tag {i}")).collect();
        assert_eq!(Tags::parse("tags", &ten).unwrap().len(), 10);
        let mut with_duplicates = ten.clone();
        with_duplicates.push("TAG 0".into());
        assert_eq!(Tags::parse("tags", &with_duplicates).unwrap().len(), 10);
        let mut eleven = ten;
        eleven.push("tag 10".into());
        assert_eq!(
            field_of(Tags::parse("course_tags", &eleven).unwrap_err()),
            "course_tags"
        );
    }

    #[test]
    fn tags_are_a_json_array_and_are_normalized_when_read() {
        let tags: Tags = serde_json::from_str(r#"["Rust", "rust ", "Web  Dev"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&tags).unwrap(),
            r#"["rust","web dev"]"#
        );
        assert!(serde_json::from_str::<Tags>(r#"["c++"]"#).is_err());
    }

    #[test]
    fn a_title_is_trimmed_required_and_one_line() {
        assert_eq!(
            Title::parse("title", "  Intro to Rust ").unwrap().as_str(),
            "Intro to Rust"
        );
        assert!(Title::parse("title", &"é".repeat(200)).is_ok());
        let too_long = "é".repeat(201);
        for raw in [
            "",
            "   ",
            "Intro\nRust",
            "Intro\tRust",
            "Intro\u{2028}Rust",
            "Intro \u{202E}tsuR",
            "Intro \u{2066}Rust\u{2069}",
            &too_long,
        ] {
            assert_eq!(
                field_of(Title::parse("title", raw).unwrap_err()),
                "title",
                "{raw:?}"
            );
        }
        assert!(serde_json::from_str::<Title>("\"  \"").is_err());
    }

    #[test]
    fn a_subtitle_may_be_empty_but_not_long_or_multi_line() {
        assert_eq!(Subtitle::parse("subtitle", "   ").unwrap().as_str(), "");
        assert!(Subtitle::parse("subtitle", &"a".repeat(300)).is_ok());
        let too_long = "a".repeat(301);
        for raw in ["one\ntwo", "nul\0", "\u{202D}left to right", &too_long] {
            let err = Subtitle::parse("subtitle", raw).unwrap_err();
            assert_eq!(field_of(err), "subtitle", "{raw:?}");
        }
    }

    #[test]
    fn markdown_keeps_its_layout_and_allows_line_breaks_and_tabs() {
        let body = "    indented code\r\n\n- item\twith tab\n";
        assert_eq!(
            Markdown::parse("description", body, 100).unwrap().as_str(),
            body
        );
        assert!(Markdown::parse("description", "", 0).is_ok());
        assert!(Markdown::parse("description", "ééé", 3).is_ok());
    }

    #[test]
    fn markdown_over_its_limit_or_with_control_characters_is_rejected() {
        let err = Markdown::parse("description", "abcd", 3).unwrap_err();
        assert!(err.message().contains("at most 3"));
        assert_eq!(field_of(err), "description");
        for raw in ["nul\0byte", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}"] {
            let err = Markdown::parse("notes", raw, 1000).unwrap_err();
            assert_eq!(field_of(err), "notes", "{raw:?}");
        }
    }
}
