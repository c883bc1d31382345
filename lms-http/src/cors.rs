//! CORS for the configured origins (`LMS_CORS_ORIGINS`).
//!
//! The API authenticates with a bearer token, never a cookie, so it never
//! sends `Access-Control-Allow-Credentials`: a page of an allowed origin
//! can call it only with a token it holds. Origins not in the list get no
//! CORS headers at all, which browsers treat as a refusal.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use http::{HeaderMap, HeaderValue};

/// Request headers a page may send.
const ALLOW_HEADERS: &str = "authorization, content-type, if-none-match, x-request-id";
/// Response headers a page may read besides the simple ones.
const EXPOSE_HEADERS: &str = "etag, location, retry-after, x-request-id";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// The allowed origins.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
    any: bool,
}

impl Cors {
    /// From the configured list; `*` allows every origin.
    pub fn new(origins: &[String]) -> Self {
        Self {
            any: origins.iter().any(|o| o == "*"),
            origins: origins.iter().filter(|o| *o != "*").cloned().collect(),
        }
    }

    /// Whether any origin is allowed at all.
    pub fn enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    /// The request's `Origin`, when CORS is on and the request has one.
    pub fn origin_of(&self, request: &HeaderMap) -> Option<HeaderValue> {
        self.enabled()
            .then(|| request.get(ORIGIN).cloned())
            .flatten()
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`,
    /// when it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    /// Whether a request is a preflight: `OPTIONS` asking about a method.
    pub fn is_preflight(method: &http::Method, request: &HeaderMap) -> bool {
        method == http::Method::OPTIONS && request.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Headers for an actual (not preflight) response to a request from
    /// `origin` (`None`: the request named none).
    pub fn apply(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        if !self.enabled() {
            return;
        }
        // With CORS on, every answer depends on the Origin, including one to
        // a request without it or with a refused one: a shared cache must
        // not hand it to a request from an allowed origin, which would then
        // lack its Access-Control-Allow-Origin.
        response.append(VARY, HeaderValue::from_static("origin"));
        if let Some(allowed) = origin.and_then(|o| self.allow_origin(o)) {
            response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
            response.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }

    /// Headers for a preflight answer, from `origin`, about a path taking
    /// `allow`.
    pub fn apply_preflight(&self, origin: &HeaderValue, allow: &str, response: &mut HeaderMap) {
        response.append(VARY, HeaderValue::from_static("origin"));
        let Some(allowed) = self.allow_origin(origin) else {
            return;
        };
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if let Ok(methods) = HeaderValue::from_str(allow) {
            response.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        response.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        response.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(o: &str) -> HeaderValue {
        o.parse().unwrap()
    }

    #[test]
    fn a_listed_origin_is_echoed_and_another_gets_nothing() {
        let cors = Cors::new(&["https://app.example".to_owned()]);
        let mut out = HeaderMap::new();
        cors.apply(Some(&origin("https://app.example")), &mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(out[VARY], "origin");
        let mut out = HeaderMap::new();
        cors.apply(Some(&origin("https://evil.example")), &mut out);
        assert!(!out.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(out[VARY], "origin");
    }

    #[test]
    fn with_cors_on_an_answer_without_origin_still_varies_by_it() {
        let mut out = HeaderMap::new();
        Cors::new(&["https://app.example".to_owned()]).apply(None, &mut out);
        assert_eq!(out[VARY], "origin");
        assert!(!out.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        let mut out = HeaderMap::new();
        Cors::new(&[]).apply(None, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn without_origins_cors_is_off() {
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, origin("https://app.example"));
        assert_eq!(Cors::new(&[]).origin_of(&request), None);
        let cors = Cors::new(&["https://app.example".to_owned()]);
        assert_eq!(
            cors.origin_of(&request),
            Some(origin("https://app.example"))
        );
        assert_eq!(cors.origin_of(&HeaderMap::new()), None);
    }

    #[test]
    fn a_wildcard_allows_everyone_without_credentials() {
        let cors = Cors::new(&["*".to_owned()]);
        let mut out = HeaderMap::new();
        cors.apply_preflight(&origin("https://any.example"), "GET, POST", &mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(out[ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert!(!out.contains_key("access-control-allow-credentials"));
    }
}
