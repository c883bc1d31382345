//! Query strings: each route names the parameters it takes; anything else,
//! or a parameter given twice, is a 422 naming it, so a misspelt filter is
//! never silently ignored. Values are handed to the core's parsers, which
//! decide what is valid.

use crate::problem::Problem;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `raw` (the part after `?`), accepting only `allowed` names.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, Problem> {
        let raw = raw.unwrap_or("");
        // The decoder below replaces bytes that are not UTF-8, which would
        // turn a garbled search into no search at all: refuse them instead.
        for pair in raw.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .is_err()
            {
                let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                return Err(Problem::invalid_field(
                    name.into_owned(),
                    "is not valid UTF-8",
                ));
            }
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            if !allowed.contains(&name.as_ref()) {
                return Err(Problem::invalid_field(
                    name.into_owned(),
                    "is not a parameter of this resource",
                ));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(Problem::invalid_field(
                    name.into_owned(),
                    "is given more than once",
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self { pairs })
    }

    /// The value of `name`; an empty value counts as absent, as HTML forms
    /// send empty inputs.
    pub fn string(&self, name: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// `name` as a whole number.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, Problem> {
        self.string(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| Problem::invalid_field(name, "must be a whole number"))
            })
            .transpose()
    }

    /// `name` as `true` or `false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Problem> {
        self.string(name)
            .map(|v| match v.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Problem::invalid_field(name, "must be true or false")),
            })
            .transpose()
    }

    /// `name` through one of the core's `parse(field, raw)` functions.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str, &str) -> lms_core::Result<T>,
    ) -> Result<Option<T>, Problem> {
        self.string(name)
            .map(|v| parse(name, &v).map_err(Problem::from))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_decoded_and_empty_ones_are_absent() {
        let q = Query::parse(Some("q=rust+%26+tokio&level="), &["q", "level"]).unwrap();
        assert_eq!(q.string("q").as_deref(), Some("rust & tokio"));
        assert_eq!(q.string("level"), None);
    }

    #[test]
    fn a_value_that_is_not_utf8_is_named_not_replaced() {
        let err = Query::parse(Some("limit=5&q=%FF"), &["q", "limit"]).unwrap_err();
        assert_eq!(err.errors()[0].field, "q");
        let q = Query::parse(Some("q=caf%C3%A9"), &["q"]).unwrap();
        assert_eq!(q.string("q").as_deref(), Some("café"));
    }

    #[test]
    fn an_unknown_or_repeated_parameter_is_named() {
        let err = Query::parse(Some("q=a&colour=red"), &["q"]).unwrap_err();
        assert_eq!(err.errors()[0].field, "colour");
        let err = Query::parse(Some("q=a&q=b"), &["q"]).unwrap_err();
        assert_eq!(err.errors()[0].field, "q");
    }

    #[test]
    fn a_limit_that_is_not_a_number_is_named() {
        let q = Query::parse(Some("limit=ten"), &["limit"]).unwrap();
        assert_eq!(q.u32("limit").unwrap_err().errors()[0].field, "limit");
        let q = Query::parse(Some("limit=10"), &["limit"]).unwrap();
        assert_eq!(q.u32("limit").unwrap(), Some(10));
    }

    #[test]
    fn a_flag_is_true_or_false_and_nothing_else() {
        let q = Query::parse(Some("a=true&b=false&c=yes"), &["a", "b", "c"]).unwrap();
        assert_eq!(q.bool("a").unwrap(), Some(true));
        assert_eq!(q.bool("b").unwrap(), Some(false));
        assert_eq!(q.bool("c").unwrap_err().errors()[0].field, "c");
        assert_eq!(q.bool("d").unwrap(), None);
    }
}
