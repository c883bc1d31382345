//! Request handlers, one module per resource. A handler authenticates (when
//! the operation has an actor), parses, calls one `Lms` method and shapes the
//! answer; every rule, check and authorization decision is the core's.

pub mod auth;
pub mod coupons;
pub mod courses;
pub mod enrollments;
pub mod health;
pub mod lectures;
pub mod live;
pub mod me;
pub mod media;
pub mod orders;
pub mod payments;
pub mod progress;
pub mod sections;
pub mod users;

use std::net::IpAddr;
use std::sync::Mutex;

use http::header::AUTHORIZATION;
use http::{StatusCode, request::Parts};
use hyper::body::Bytes;
use lms_core::{Actor, Error, Lms};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::body::{self, RequestBody};
use crate::problem::Problem;
use crate::query::Query;

/// What a handler gets: the request, its path parameters, the app.
#[derive(Debug)]
pub struct Ctx<'a> {
    app: &'a App,
    parts: Parts,
    // In a mutex only so that `Ctx` is `Sync` (the boxed body is not) and
    // handler futures holding `&Ctx` stay `Send`; it is taken once.
    body: Mutex<Option<RequestBody>>,
    params: Vec<(String, String)>,
    client: Option<IpAddr>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        app: &'a App,
        parts: Parts,
        body: RequestBody,
        params: Vec<(String, String)>,
        client: Option<IpAddr>,
    ) -> Self {
        Self {
            app,
            parts,
            body: Mutex::new(Some(body)),
            params,
            client,
        }
    }

    /// The application.
    pub fn app(&self) -> &'a App {
        self.app
    }

    /// The core.
    pub fn lms(&self) -> &'a Lms {
        self.app.lms()
    }

    /// The client's address (see [`crate::client`]), when the request
    /// came over a socket.
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// Who is acting. No `Authorization` header is the anonymous actor; a
    /// header that is not a valid bearer token is a 401, never anonymous.
    ///
    /// Only handlers whose operation has an actor call this, so a stale
    /// token sent along to `/auth/refresh` or `/auth/login` does no harm.
    pub async fn actor(&self) -> Result<Actor, Problem> {
        let mut values = self.parts.headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(Actor::Anonymous);
        };
        // Two credentials are refused rather than one picked: which one a
        // proxy in front keeps or checks is not ours to guess.
        if values.next().is_some() {
            return Err(
                Error::unauthenticated("send one Authorization header, not several").into(),
            );
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Error::unauthenticated("the Authorization header must be `Bearer <access token>`")
            })?;
        Ok(self.lms().authenticate(token).await?)
    }

    /// A path parameter as the route matched it.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("route has no parameter {name}"))
    }

    /// A path parameter through one of the core's id parsers: a malformed id
    /// is a 422 naming the parameter.
    pub fn id<T>(
        &self,
        name: &str,
        parse: impl Fn(&str, &str) -> lms_core::Result<T>,
    ) -> Result<T, Problem> {
        Ok(parse(name, self.param(name))?)
    }

    /// The query string, taking only the `allowed` parameters.
    pub fn query(&self, allowed: &[&str]) -> Result<Query, Problem> {
        Query::parse(self.parts.uri.query(), allowed)
    }

    /// The request's method.
    pub fn method(&self) -> &http::Method {
        &self.parts.method
    }

    /// The request's URI.
    pub fn uri(&self) -> &http::Uri {
        &self.parts.uri
    }

    /// The request's headers.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    /// The body, unread (once per request).
    pub fn take_body(&self) -> Result<RequestBody, Problem> {
        self.body
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| Problem::internal("the request body was read twice"))
    }

    /// The whole body as bytes, within the body cap and read timeout, of
    /// any content type (webhooks, whose signature covers the raw bytes).
    pub async fn raw_body(&self) -> Result<Bytes, Problem> {
        let body = self.take_body()?;
        let config = self.app.config();
        let read = body::read(&self.parts.headers, body, config.max_body_bytes);
        tokio::time::timeout(config.body_read_timeout, read)
            .await
            .map_err(|_| Problem::request_timeout())?
    }

    /// A header's value as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// For a route that reads no body: refuses any but an empty one or a
    /// JSON `{}` (which many clients send with every `POST`), so that what a
    /// caller sent is never silently ignored (`{"dry_run": true}` on
    /// reconcile would otherwise run the real thing).
    pub async fn no_body(&self) -> Result<(), Problem> {
        let bytes = self.raw_body().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        body::nothing(&self.parts.headers, &bytes)
    }

    /// The JSON body as `T` (once per request).
    pub async fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let body = self.take_body()?;
        let config = self.app.config();
        let read = body::json(&self.parts.headers, body, config.max_body_bytes);
        tokio::time::timeout(config.body_read_timeout, read)
            .await
            .map_err(|_| Problem::request_timeout())?
    }
}

/// The media type of every JSON answer.
pub(crate) const JSON: &str = "application/json";

/// A successful answer: a status and a body (JSON unless said otherwise).
#[derive(Debug)]
pub struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<Bytes>,
    /// The body's media type.
    pub(crate) content_type: &'static str,
    /// Answer with a strong `ETag` and honour `If-None-Match`.
    pub(crate) etag: bool,
    /// The tag when it is already known (see [`crate::memo`]).
    pub(crate) tag: Option<std::sync::Arc<str>>,
    pub(crate) location: Option<String>,
}

impl Reply {
    fn with_status<T: Serialize>(status: StatusCode, value: &T) -> Result<Self, Problem> {
        let json = serde_json::to_vec(value)
            .map_err(|e| Problem::internal(format!("serializing the answer: {e}")))?;
        Ok(Self {
            status,
            body: Some(Bytes::from(json)),
            content_type: JSON,
            etag: false,
            tag: None,
            location: None,
        })
    }

    /// 200 with `value`.
    pub fn ok<T: Serialize>(value: &T) -> Result<Self, Problem> {
        Self::with_status(StatusCode::OK, value)
    }

    /// 200 with `{"items": [...]}`: lists are objects so they can grow
    /// members (cursors, totals) without breaking clients.
    pub fn items<T: Serialize>(items: &[T]) -> Result<Self, Problem> {
        #[derive(Serialize)]
        struct Items<'a, T> {
            items: &'a [T],
        }
        Self::ok(&Items { items })
    }

    /// 201 with `value`, and where it now lives when it has its own URL.
    pub fn created<T: Serialize>(value: &T, location: Option<String>) -> Result<Self, Problem> {
        let mut reply = Self::with_status(StatusCode::CREATED, value)?;
        reply.location = location;
        Ok(reply)
    }

    /// 204, no body.
    pub fn no_content() -> Result<Self, Problem> {
        Ok(Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            content_type: JSON,
            etag: false,
            tag: None,
            location: None,
        })
    }

    /// 200 with a body that is not JSON.
    pub fn text(content_type: &'static str, body: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(Bytes::from(body)),
            content_type,
            etag: false,
            tag: None,
            location: None,
        }
    }

    /// Marks the answer cacheable by validation (ETag, 304).
    pub fn with_etag(mut self) -> Self {
        self.etag = true;
        self
    }

    /// 200 with a JSON body made before, and its tag.
    pub(crate) fn tagged(body: Bytes, tag: std::sync::Arc<str>) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            content_type: JSON,
            etag: true,
            tag: Some(tag),
            location: None,
        }
    }
}
