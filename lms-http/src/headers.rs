//! Headers every response carries: the request id and the security set.

use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, ETAG, HeaderName, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue};

/// The request id header, read from the client (or the proxy in front) and
/// echoed on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 128;

/// The request id: the incoming one when it is short and plain (so a proxy's
/// id ties the logs together and nothing odd reaches them), else a fresh
/// UUID v7.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Sets the security headers. JSON is never a page, so nothing may frame
/// it, load from it, or guess its type.
///
/// Nothing is stored by caches, except answers with an `ETag`: those may
/// be kept by the client's own cache but must be revalidated every time
/// (`If-None-Match`, a cheap 304), and vary with the caller's token because
/// what a course shows depends on who asks. An answer that set its own
/// policy (stored files) keeps it.
pub fn secure(headers: &mut HeaderMap) {
    let cache = if headers.contains_key(ETAG) {
        // Appended: CORS may already vary the answer by Origin.
        headers.append(VARY, HeaderValue::from_static(AUTHORIZATION.as_str()));
        "private, no-cache"
    } else {
        "no-store"
    };
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_incoming_request_id_is_kept_and_an_odd_one_replaced() {
        let mut h = HeaderMap::new();
        h.insert(&REQUEST_ID, HeaderValue::from_static("lb-1234.abc"));
        assert_eq!(request_id(&h), "lb-1234.abc");
        h.insert(&REQUEST_ID, HeaderValue::from_static("a b\"c"));
        let fresh = request_id(&h);
        assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "{fresh}");
        assert!(uuid::Uuid::parse_str(&request_id(&HeaderMap::new())).is_ok());
    }
}
