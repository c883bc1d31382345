//! Request bodies: the content type, the size cap, and JSON into the core's
//! request structs with errors that say what was wrong and where.
//!
//! The order of the checks is the order a client can fix them in: the type
//! (415), the size (413), the syntax (400), then the shape (422, naming the
//! member). The core's request structs reject unknown members
//! (`deny_unknown_fields`), so a misspelt field is a 422, never ignored.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Bytes;
use lms_core::objects::Objects;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::problem::Problem;

/// A boxed error, what bodies fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type handlers read: any request body, boxed once.
pub type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// Whether the request says its body is JSON: `application/json` or any
/// `application/*+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    // JSON is UTF-8 (RFC 8259); a body declared in another charset would be
    // read as something it is not.
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => {
            let charset = charset.trim().trim_matches('"');
            charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
        && utf8
}

/// Reads the whole body, at most `limit` bytes.
pub async fn read(headers: &HeaderMap, body: RequestBody, limit: usize) -> Result<Bytes, Problem> {
    // A declared length over the cap is refused before reading a byte.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Problem::payload_too_large(limit));
    }
    // Frames are gathered by hand rather than with `Limited`: its generic
    // error conversion makes the handler futures fail the `Send` check.
    let mut body = body;
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| Problem::bad_request(format!("could not read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(Problem::payload_too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// Reads a JSON body into `T`.
pub async fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: RequestBody,
    limit: usize,
) -> Result<T, Problem> {
    if !is_json(headers) {
        return Err(Problem::unsupported_media_type());
    }
    let bytes = read(headers, body, limit).await?;
    parse(&bytes)
}

/// Checks that a non-empty body meant for no members at all is JSON `{}`:
/// 415 for another type, 400 for malformed JSON, 422 naming the first
/// member sent.
pub fn nothing(headers: &HeaderMap, bytes: &[u8]) -> Result<(), Problem> {
    /// An object with no members.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nothing {}
    if !is_json(headers) {
        return Err(Problem::unsupported_media_type());
    }
    parse::<Nothing>(bytes).map(|Nothing {}| ())
}

/// Parses JSON text into `T`, telling malformed JSON (400) from JSON of the
/// wrong shape (422 naming the member). Structs come from objects only
/// ([`Objects`]).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // The whole text is checked first, as UTF-8 and as JSON (trailing data
    // included): a body with an unknown member before a syntax error is
    // malformed, not a 422 about the member.
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Problem::bad_request("the body is not valid JSON: it is not UTF-8"))?;
    serde_json::from_str::<IgnoredAny>(text).map_err(|e| shape_error(".", e))?;
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(Objects(&mut de)).map_err(|e| {
        let path = e.path().to_string();
        shape_error(&path, e.into_inner())
    })
}

fn shape_error(path: &str, err: serde_json::Error) -> Problem {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::bad_request(format!("the body is not valid JSON: {err}"))
        }
        Category::Data => {
            let message = without_position(&err.to_string());
            let f = lms_core::FieldError::from_shape_error(path, &message);
            Problem::invalid_field(f.field, f.message)
        }
    }
}

/// serde_json appends " at line L column C"; the field name says more.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        amount: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        title: String,
        #[serde(default)]
        price: Option<Inner>,
    }

    fn field(p: &Problem) -> &str {
        &p.errors()[0].field
    }

    fn problem(json: &str) -> Problem {
        parse::<Outer>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn an_unknown_member_is_a_422_naming_it() {
        let p = problem(r#"{"title":"x","role":"admin"}"#);
        assert_eq!(p.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field(&p), "role", "{p:?}");
    }

    #[test]
    fn a_nested_unknown_member_is_named_by_its_path() {
        let p = problem(r#"{"title":"x","price":{"amount":1,"cents":2}}"#);
        assert_eq!(field(&p), "price.cents", "{p:?}");
    }

    #[test]
    fn a_missing_member_is_named() {
        let p = problem(r#"{}"#);
        assert_eq!(field(&p), "title", "{p:?}");
    }

    #[test]
    fn a_member_of_the_wrong_type_is_named() {
        let p = problem(r#"{"title":"x","price":{"amount":"ten"}}"#);
        assert_eq!(field(&p), "price.amount", "{p:?}");
    }

    #[test]
    fn malformed_json_and_trailing_text_are_400() {
        for bad in [r#"{"title":"#, "", r#"{"title":"x"} {}"#, "not json"] {
            assert_eq!(problem(bad).status(), StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn malformed_json_is_400_even_after_an_unknown_member() {
        for bad in [r#"{"zz" 1}"#, r#"{"zz":"#, r#"{"zz":1,}"#, r#"["a"] x"#] {
            assert_eq!(problem(bad).status(), StatusCode::BAD_REQUEST, "{bad:?}");
        }
        let not_utf8 = parse::<Outer>(b"{\"title\":\"\xff\xfe\"}").unwrap_err();
        assert_eq!(not_utf8.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_array_for_an_object_is_a_422_at_any_depth() {
        let top = problem(r#"["x"]"#);
        assert_eq!(top.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field(&top), "body", "{top:?}");
        let nested = problem(r#"{"title":"x","price":[1]}"#);
        assert_eq!(nested.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field(&nested), "price", "{nested:?}");
        assert!(
            nested.errors()[0].message.contains("a JSON object"),
            "{nested:?}"
        );
    }

    #[test]
    fn json_content_types_are_recognised() {
        let ok = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(ok("application/json"));
        assert!(ok("Application/JSON; charset=utf-8"));
        assert!(ok("application/merge-patch+json"));
        assert!(ok("application/json; charset=\"UTF-8\""));
        assert!(!ok("application/json; charset=latin1"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
