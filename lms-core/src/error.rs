//! One error type for the whole library.
//!
//! Every face maps [`ErrorKind`] in exactly one place (HTTP status, Python
//! exception class, CLI exit code), so the kind is the contract and the
//! message is for people. Internal errors keep their detail in the log; their
//! `Display` stays generic so a face can show it without leaking anything.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a stable category. The snake_case name
/// ([`ErrorKind::code`]) is part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule; see the field errors.
    InvalidInput,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The actor is known but may not do this.
    Forbidden,
    /// The thing does not exist, or the actor may not know it exists.
    NotFound,
    /// The request collides with the current state (duplicate key, stale move).
    Conflict,
    /// Too many attempts; retry after [`Error::retry_after`].
    RateLimited,
    /// A payment was declined or could not be taken.
    Payment,
    /// An external provider failed or answered unexpectedly.
    Provider,
    /// A bug or an infrastructure failure; detail is only in the log.
    Internal,
}

impl ErrorKind {
    /// The stable machine-readable code (`invalid_input`, `not_found`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::Payment => "payment",
            Self::Provider => "provider",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A problem with one input field, named by its public (JSON) name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as the caller spelled it (`email`, `password`).
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl FieldError {
    /// The field a deserialization error is about, for the faces that
    /// read requests as JSON values (lms-http's bodies, lms-py's keyword
    /// arguments). `path` is where serde_path_to_error saw the error,
    /// dotted from the root (`price.amount`, `.` for the root); for an
    /// unknown or missing member that is the enclosing object, and the
    /// member itself is only in serde's message (in backticks), so it is
    /// joined on. An error at the root names `body`.
    pub fn from_shape_error(path: &str, message: &str) -> Self {
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name);
        let base = if path == "." { "" } else { path };
        let join = |name: &str| {
            if base.is_empty() {
                name.to_owned()
            } else if base.ends_with(name) {
                base.to_owned()
            } else {
                format!("{base}.{name}")
            }
        };
        let (field, message) = match named {
            Some(name) if message.starts_with("unknown") => {
                (join(name), "is not a known field".to_owned())
            }
            Some(name) => (join(name), "is required".to_owned()),
            None if base.is_empty() => ("body".to_owned(), in_words(message)),
            None => (base.to_owned(), in_words(message)),
        };
        Self { field, message }
    }
}

/// A deserializer's message in the API's words: serde names Rust types
/// (`expected u32`, `expected struct PriceInput`), uuid and chrono their
/// parsers' states, none of which a caller can act on.
fn in_words(message: &str) -> String {
    if message.starts_with("UUID parsing failed") {
        return "must be a UUID".to_owned();
    }
    const TIME_ERRORS: [&str; 5] = [
        "premature end of input",
        "input contains invalid characters",
        "trailing input",
        "input is out of range",
        "input is not enough for unique date and time",
    ];
    if TIME_ERRORS.contains(&message) {
        return "must be an RFC 3339 date and time, such as 2027-01-31T09:00:00Z".to_owned();
    }
    let Some((got, wanted)) = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once(", expected "))
    else {
        return message.to_owned();
    };
    let integer = |t: &str| {
        ["8", "16", "32", "64", "128", "size"]
            .iter()
            .any(|bits| t == format!("i{bits}") || t == format!("u{bits}"))
    };
    let wanted = match wanted {
        t if integer(t) && t.starts_with('u') => "a whole number, 0 or more",
        t if integer(t) => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a sequence" => "an array",
        t if t.starts_with("struct ") || t == "a map" => "a JSON object",
        t => t,
    };
    let got = match got {
        "sequence" => "an array",
        "map" => "an object",
        "unit value" => "null",
        got => got,
    };
    format!("must be {wanted}, not {got}")
}

/// The library's error: a kind, a message, and details for some kinds.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    fields: Vec<FieldError>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// `invalid_input` naming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut err = Self::new(ErrorKind::InvalidInput, format!("{field}: {message}"));
        err.fields.push(FieldError { field, message });
        err
    }

    /// `invalid_input` carrying several field errors at once.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = Self::new(ErrorKind::InvalidInput, message);
        err.fields = fields;
        err
    }

    /// `unauthenticated` with a message.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    /// `forbidden` with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// `not_found` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// `conflict` with a message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// `provider`: an external service failed or answered unexpectedly.
    /// The message names the service and what went wrong, never a secret.
    pub fn provider(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Provider, message)
    }

    /// `provider`: a request to `who` failed on the way (no connection, a
    /// timeout, an answer that broke off). The message says which of those,
    /// never the address: a presigned link carries its credentials in the
    /// query. The log gets the host and the error, less the link.
    pub fn unreachable(who: &str, err: reqwest::Error) -> Self {
        let host = err
            .url()
            .and_then(|url| url.host_str())
            .unwrap_or_default()
            .to_owned();
        let err = err.without_url();
        let what = if err.is_timeout() {
            "did not answer in time"
        } else if err.is_connect() {
            "could not be reached"
        } else if err.is_body() || err.is_decode() {
            "broke off its answer"
        } else {
            "did not answer"
        };
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        tracing::warn!(provider = who, %host, error = %err, ?cause, "provider request failed");
        let mut unreachable = Self::provider(format!("{who} {what}"));
        unreachable.source = Some(Box::new(err));
        unreachable
    }

    /// `rate_limited`, retry after `wait`.
    pub fn rate_limited(message: impl Into<String>, wait: Duration) -> Self {
        let mut err = Self::new(ErrorKind::RateLimited, message);
        err.retry_after = Some(wait);
        err
    }

    /// `internal`: the detail goes to the log, the message stays generic.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let source = source.into();
        tracing::error!(error = %source, "internal error");
        let mut err = Self::new(ErrorKind::Internal, "internal error");
        err.source = Some(source);
        err
    }

    /// The category every face maps.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of the kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message for people (generic for `internal`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Field errors of an `invalid_input` error.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// How long to wait before retrying a `rate_limited` request.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// Runs one field's parse and files its field errors, so a request can
/// report every bad field at once.
pub(crate) fn check<T>(result: Result<T>, errors: &mut Vec<FieldError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            errors.extend(e.fields().iter().cloned());
            None
        }
    }
}

/// `value()` when no field failed, else one `invalid_input` naming them all.
pub(crate) fn finish<T>(errors: Vec<FieldError>, value: impl FnOnce() -> T) -> Result<T> {
    if errors.is_empty() {
        Ok(value())
    } else {
        Err(Error::invalid_fields(errors))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<sqlx::Error> for Error {
    /// Unique-key violations are a `conflict` (two writers raced for the same
    /// e-mail or slug); everything else the store says is `internal`.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            let what = db.constraint().unwrap_or("a unique key").to_owned();
            let mut conflict = Self::conflict(format!("already exists ({what})"));
            conflict.source = Some(Box::new(err));
            return conflict;
        }
        Self::internal(err)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deserializer_message_is_put_in_the_apis_words() {
        let words = |message: &str| FieldError::from_shape_error("f", message).message;
        assert_eq!(
            words("invalid type: string \"ten\", expected u32"),
            "must be a whole number, 0 or more, not string \"ten\""
        );
        assert_eq!(
            words("invalid value: integer `-1`, expected u32"),
            "must be a whole number, 0 or more, not integer `-1`"
        );
        assert_eq!(
            words("invalid type: string \"x\", expected i64"),
            "must be a whole number, not string \"x\""
        );
        assert_eq!(
            words("invalid type: sequence, expected struct PriceInput"),
            "must be a JSON object, not an array"
        );
        assert_eq!(
            words("invalid type: integer `1`, expected a boolean"),
            "must be true or false, not integer `1`"
        );
        assert_eq!(
            words("UUID parsing failed: invalid character: found `n` at 0"),
            "must be a UUID"
        );
        assert!(words("premature end of input").contains("RFC 3339"));
        assert_eq!(words("is too long"), "is too long");
    }

    #[tokio::test]
    async fn an_unreachable_provider_error_names_neither_address_nor_query() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=s3cr3t");
        let failed = reqwest::Client::new().head(&url).send().await.unwrap_err();
        let err = Error::unreachable("object storage", failed);
        assert_eq!(err.kind(), ErrorKind::Provider);
        assert_eq!(err.message(), "object storage could not be reached");
        // What the caller sees is the message alone; the kept source (for
        // the log) may name the host and port, never the query.
        let chain = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(!chain.contains("s3cr3t"), "{chain}");
    }

    #[test]
    fn every_kind_has_a_distinct_snake_case_code() {
        let kinds = [
            ErrorKind::InvalidInput,
            ErrorKind::Unauthenticated,
            ErrorKind::Forbidden,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::RateLimited,
            ErrorKind::Payment,
            ErrorKind::Provider,
            ErrorKind::Internal,
        ];
        let codes: std::collections::HashSet<_> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
        for kind in kinds {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.code());
        }
    }

    #[test]
    fn an_internal_error_does_not_show_its_detail() {
        let err = Error::internal("connection refused to 10.0.0.5");
        assert_eq!(err.to_string(), "internal error");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn a_field_error_names_the_field() {
        let err = Error::invalid_field("email", "must contain @");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.fields()[0].field, "email");
        assert!(err.message().contains("email"));
    }
}
