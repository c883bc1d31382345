//! RFC 9457 problem responses, and the one place where a core
//! [`ErrorKind`] becomes an HTTP status.
//!
//! Every error answer is `application/problem+json` with `type`, `title`,
//! `status`, `detail`, a stable `code` and the `request_id`; 422s add the
//! field `errors`. Codes of core errors are [`ErrorKind::code`]; the few
//! errors only HTTP can have (a route that does not exist, a body that is not
//! JSON) have codes of their own, listed on the constructors below.

use std::time::Duration;

use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use lms_core::{Error, ErrorKind, FieldError};
use serde::Serialize;

/// A failed request, ready to be rendered for the caller. Boxed: it is the
/// error side of every handler's `Result`, which stays small this way.
#[derive(Debug)]
pub struct Problem(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    allow: Option<String>,
    /// What went wrong inside, for the log only (500s).
    internal: Option<String>,
}

impl From<Error> for Problem {
    /// The mapping DESIGN.md's error table fixes. Nothing else in this crate
    /// chooses a status for a core error.
    fn from(err: Error) -> Self {
        let (status, title) = match err.kind() {
            ErrorKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid input"),
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "Not signed in"),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            ErrorKind::Payment => (StatusCode::PAYMENT_REQUIRED, "Payment failed"),
            ErrorKind::Provider => (StatusCode::BAD_GATEWAY, "Provider failed"),
            // `Internal`, and any kind added to the core before this table
            // learns it: never leak what we do not understand.
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let detail = internal_detail(&err);
            return Self::internal(detail);
        }
        Self(Box::new(Details {
            status,
            code: err.code(),
            title,
            detail: err.message().to_owned(),
            errors: err.fields().to_vec(),
            retry_after: err.retry_after(),
            allow: None,
            internal: None,
        }))
    }
}

/// The error and its sources, for the log.
fn internal_detail(err: &Error) -> String {
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: String) -> Self {
        Self(Box::new(Details {
            status,
            code,
            title,
            detail,
            errors: Vec::new(),
            retry_after: None,
            allow: None,
            internal: None,
        }))
    }

    /// 422 `invalid_input` naming one field (a path parameter, a query
    /// parameter, a body member).
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::invalid_field(field, message).into()
    }

    /// 404 `not_found`: no route has this path.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound.code(),
            "Not found",
            "no such resource".into(),
        )
    }

    /// 405 `method_not_allowed`, with the methods the path does take.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut p = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            format!("this resource answers {allow}"),
        );
        p.0.allow = Some(allow);
        p
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("the request body must be at most {limit} bytes"),
        )
    }

    /// 415 `unsupported_media_type`: a body route wants `application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send the body as application/json, in UTF-8".into(),
        )
    }

    /// 400 `bad_request`: the body is not JSON, or could not be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Bad request",
            detail.into(),
        )
    }

    /// 408 `request_timeout`: the body did not arrive in time.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "Request timeout",
            "the request body did not arrive in time".into(),
        )
    }

    /// 503 `unavailable`: the store does not answer.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail.into(),
        )
    }

    /// 500 `internal`: `detail` goes to the log, the caller sees a generic
    /// body and the request id to quote.
    pub fn internal(detail: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Internal.code(),
            "Internal error",
            "something went wrong on our side; quote the request id when reporting it".into(),
        );
        p.0.internal = Some(detail.into());
        p
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The field errors (of a 422).
    pub fn errors(&self) -> &[FieldError] {
        &self.0.errors
    }

    /// Renders the problem; `request_id` ties the answer to the log.
    pub fn into_response(self, request_id: &str) -> Response<Full<Bytes>> {
        let problem = *self.0;
        if let Some(detail) = &problem.internal {
            tracing::error!(request_id, error = %detail, "request failed");
        }
        let body = Body {
            kind: format!("urn:lms:problem:{}", problem.code),
            title: problem.title,
            status: problem.status.as_u16(),
            detail: &problem.detail,
            code: problem.code,
            // A 422 always lists its fields, even when the core named none,
            // so clients can rely on the member.
            errors: (problem.status == StatusCode::UNPROCESSABLE_ENTITY).then_some(&problem.errors),
            request_id,
        };
        let json = serde_json::to_vec(&body).expect("a problem serializes");
        let mut response = Response::new(Full::new(Bytes::from(json)));
        *response.status_mut() = problem.status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if problem.status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = problem.retry_after {
            // Whole seconds, rounded up: retrying early only fails again.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(allow) = problem.allow.as_deref().and_then(|a| a.parse().ok()) {
            headers.insert(ALLOW, allow);
        }
        response
    }
}

/// The JSON of every error answer. Its schema is the OpenAPI document's
/// `Problem`, so the document describes exactly what is sent.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub(crate) struct Body<'a> {
    /// `urn:lms:problem:` followed by the code.
    #[serde(rename = "type")]
    kind: String,
    /// A short summary of the kind of problem, the same for every
    /// occurrence.
    title: &'a str,
    /// The HTTP status code.
    status: u16,
    /// What went wrong this time, for people.
    detail: &'a str,
    /// A stable snake_case code to branch on (`invalid_input`,
    /// `not_found`, `payload_too_large`...).
    code: &'a str,
    /// Each input field at fault; always present on a 422, absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<FieldError>, required = false)]
    errors: Option<&'a [FieldError]>,
    /// The request id (also the `x-request-id` header), to quote when
    /// reporting a problem.
    request_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(err: Error) -> StatusCode {
        Problem::from(err).status()
    }

    #[test]
    fn every_core_kind_maps_to_the_status_of_the_design_table() {
        let cases = [
            (ErrorKind::InvalidInput, 422),
            (ErrorKind::Unauthenticated, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::Payment, 402),
            (ErrorKind::Provider, 502),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(Error::new(kind, "x")).as_u16(), status, "{kind}");
        }
    }

    #[test]
    fn a_rate_limited_answer_says_when_to_retry_rounded_up() {
        let err = Error::rate_limited("slow down", Duration::from_millis(1500));
        let response = Problem::from(err).into_response("r1");
        assert_eq!(response.headers()[RETRY_AFTER], "2");
    }

    #[tokio::test]
    async fn an_internal_answer_hides_the_detail_and_quotes_the_request_id() {
        use http_body_util::BodyExt as _;
        let err = Error::internal("password=hunter2 at 10.0.0.5");
        let response = Problem::from(err).into_response("r1");
        assert_eq!(response.status(), 500);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(!body.to_string().contains("hunter2"), "{body}");
        assert_eq!(body["code"], "internal");
        assert_eq!(body["request_id"], "r1");
    }
}
