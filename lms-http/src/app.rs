//! [`App`]: the core plus the HTTP settings, and [`App::handle`], which
//! turns one request into one response without a socket. The server calls
//! it for every request; tests call it directly.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Either, Full};
use hyper::body::{Body, Bytes};
use ipnet::IpNet;
use lms_core::Lms;
use tracing::Instrument as _;

use crate::body::BoxError;
use crate::client;
use crate::cors::Cors;
use crate::etag;
use crate::files::{self, ResponseBody};
use crate::handlers::{Ctx, Reply};
use crate::headers::{self, REQUEST_ID};
use crate::memo::JsonMemo;
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::routes::{self, Lookup, Route, Routes};

/// What the HTTP face needs besides the core's [`lms_core::Config`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (`LMS_MAX_BODY_BYTES`, 1 MiB).
    pub max_body_bytes: usize,
    /// Connections served at once; more wait in the listen backlog
    /// (`LMS_MAX_CONNECTIONS`, 1024).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long
    /// an idle keep-alive connection stays open (10 s).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body once its headers
    /// are in (30 s), so a trickled body cannot hold a connection slot.
    pub body_read_timeout: Duration,
    /// How long shutdown waits for in-flight requests (10 s).
    pub shutdown_timeout: Duration,
    /// Origins allowed to call from a browser (`LMS_CORS_ORIGINS`); `*`
    /// allows any.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client
    /// (`LMS_TRUSTED_PROXIES`); none by default, so the socket peer is the
    /// client.
    pub trusted_proxies: Vec<IpNet>,
    /// Serve `GET /metrics` on this app's listener (true), or leave it to
    /// the one [`App::metrics_only`] serves (`LMS_METRICS_BIND`).
    pub metrics_on_api: bool,
    /// External base URL (`LMS_PUBLIC_URL`), for signed local links.
    pub public_url: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics_on_api: true,
            public_url: None,
        }
    }
}

/// The HTTP application: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    lms: Lms,
    config: HttpConfig,
    routes: Routes,
    cors: Cors,
    metrics: Arc<Metrics>,
    /// Answers `/metrics` and nothing else (the metrics listener).
    metrics_only: bool,
    /// Bodies of the answers the core's read cache shares.
    memo: JsonMemo,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("lms", &self.inner.lms)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The application over `lms`.
    pub fn new(lms: Lms, config: HttpConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                lms,
                cors: Cors::new(&config.cors_origins),
                config,
                routes: Routes::new(),
                metrics: Arc::new(Metrics::new()),
                metrics_only: false,
                memo: JsonMemo::default(),
            }),
        }
    }

    /// An app answering only `GET /metrics` (and `/healthz`), sharing this
    /// one's metrics: serve it on a private address so the API's listener
    /// need not expose them.
    pub fn metrics_only(&self) -> App {
        let mut config = self.inner.config.clone();
        config.metrics_on_api = true;
        config.cors_origins.clear();
        Self {
            inner: Arc::new(Inner {
                lms: self.inner.lms.clone(),
                cors: Cors::default(),
                config,
                routes: Routes::new(),
                metrics: self.inner.metrics.clone(),
                metrics_only: true,
                memo: JsonMemo::default(),
            }),
        }
    }

    /// The metrics this app records.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether this app's listener answers `route`.
    fn serves(&self, route: Route) -> bool {
        if self.inner.metrics_only {
            matches!(route, Route::Metrics | Route::Healthz)
        } else {
            route != Route::Metrics || self.inner.config.metrics_on_api
        }
    }

    /// The core.
    pub fn lms(&self) -> &Lms {
        &self.inner.lms
    }

    /// A reply with `value`, an answer the core's read cache shares, and
    /// its `ETag`; the body is made once per value while the cache is on.
    pub(crate) fn shared<T>(&self, value: &Arc<T>) -> Result<Reply, Problem>
    where
        T: serde::Serialize + Send + Sync + 'static,
    {
        if !self.inner.lms.caches_reads() {
            return Ok(Reply::ok(&**value)?.with_etag());
        }
        let (body, tag) = self.inner.memo.json(value)?;
        Ok(Reply::tagged(body, tag))
    }

    /// The HTTP settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// Answers one request. Never fails: every error, a panic included,
    /// becomes a problem response carrying the request id.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.handle_from(request, None).await
    }

    /// [`App::handle`] for a request that came over a socket from `peer`
    /// (what the server calls): the client address counts for rate limits.
    pub async fn handle_from<B>(
        &self,
        request: Request<B>,
        peer: Option<SocketAddr>,
    ) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let request_id = headers::request_id(request.headers());
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let client = client::address(peer, request.headers(), &self.inner.config.trusted_proxies);
        let origin = self.inner.cors.origin_of(request.headers());
        let preflight = Cors::is_preflight(&method, request.headers());
        // The span puts the request id on everything logged while handling,
        // the core's own logs included.
        let span = tracing::info_span!("request", request_id = %request_id);
        let (route, mut response) = self
            .respond(request, client, &request_id, origin.as_ref())
            .instrument(span)
            .await;
        let headers = response.headers_mut();
        // A preflight got its own CORS answer in `options`.
        if !preflight {
            self.inner.cors.apply(origin.as_ref(), headers);
        }
        headers::secure(headers);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(&REQUEST_ID, value);
        }
        if method == Method::HEAD {
            response = without_body(response);
        }
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        self.inner
            .metrics
            .observe(route, &method, status, elapsed.as_secs_f64());
        // Whole microseconds, so the log shows 0.116 rather than 0.11591699999.
        let latency_ms = elapsed.as_micros() as f64 / 1000.0;
        let client = client.map(|ip| ip.to_string());
        // Load balancers and orchestrators probe health every few seconds;
        // a line for each would bury the requests that matter, so probes
        // that succeed are logged at debug level only.
        if matches!(route, "/healthz" | "/readyz") && status < 400 {
            tracing::debug!(request_id = %request_id, method = %method, route, path = %path,
                status, latency_ms, client, "request");
        } else {
            tracing::info!(request_id = %request_id, method = %method, route, path = %path,
                status, latency_ms, client, "request");
        }
        response
    }

    async fn respond<B>(
        &self,
        request: Request<B>,
        client: Option<std::net::IpAddr>,
        request_id: &str,
        origin: Option<&HeaderValue>,
    ) -> (&'static str, Response<ResponseBody>)
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let (entry, params) = match self.inner.routes.find(&parts.method, parts.uri.path()) {
            Lookup::Found { entry, params } if self.serves(entry.route) => (entry, params),
            Lookup::Found { .. } | Lookup::NotFound => {
                return (
                    "(no route)",
                    boxed(Problem::no_route().into_response(request_id)),
                );
            }
            Lookup::MethodNotAllowed(allow) => {
                let problem = Problem::method_not_allowed(allow);
                return (
                    "(method not allowed)",
                    boxed(problem.into_response(request_id)),
                );
            }
            Lookup::Options(allow) => {
                return (
                    "(options)",
                    boxed(self.options(&parts.headers, &allow, origin)),
                );
            }
        };
        let if_none_match = parts
            .headers
            .get(IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = body.map_err(Into::into).boxed_unsync();
        let ctx = Ctx::new(self, parts, body, params, client);
        // Boxed as `dyn Send` here, where the lifetimes are concrete: left
        // generic, the compiler cannot prove the connection future `Send`.
        let handler: BoxFuture<'_, Result<Response<ResponseBody>, Problem>> = match entry.route {
            Route::UploadFile | Route::DownloadFile => Box::pin(files::serve(entry.route, ctx)),
            route => Box::pin(async move {
                let reply = routes::dispatch(route, ctx).await?;
                Ok(boxed(render(reply, if_none_match.as_deref())))
            }),
        };
        let response = match CatchUnwind(handler).await {
            Ok(Ok(response)) => response,
            Ok(Err(problem)) => boxed(problem.into_response(request_id)),
            Err(panic) => boxed(
                Problem::internal(format!("handler panicked: {panic}")).into_response(request_id),
            ),
        };
        (entry.pattern, response)
    }

    /// `OPTIONS` on a known path: 204 with `Allow`, and for a CORS
    /// preflight from an allowed origin the `Access-Control-*` answers.
    fn options(
        &self,
        request: &HeaderMap,
        allow: &str,
        origin: Option<&HeaderValue>,
    ) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(allow) {
            headers.insert(ALLOW, value);
        }
        if let Some(origin) = origin
            && Cors::is_preflight(&Method::OPTIONS, request)
        {
            self.inner.cors.apply_preflight(origin, allow, headers);
        }
        response
    }
}

/// An answer held in memory as the body type every answer has.
fn boxed(response: Response<Full<Bytes>>) -> Response<ResponseBody> {
    response.map(Either::Left)
}

/// A `HEAD` answer: the `GET` answer's headers, its length, no body.
fn without_body(response: Response<ResponseBody>) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    let length = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    if !parts.headers.contains_key(CONTENT_LENGTH) && length > 0 {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, Either::Left(Full::new(Bytes::new())))
}

/// A successful reply as a response, with its `ETag` and 304 when asked.
fn render(reply: Reply, if_none_match: Option<&str>) -> Response<Full<Bytes>> {
    let Reply {
        status,
        body,
        content_type,
        etag: tagged,
        tag,
        location,
    } = reply;
    let tag = match tag {
        Some(tag) => Some(tag.to_string()),
        None => tagged.then(|| body.as_deref().map(etag::of)).flatten(),
    };
    let not_modified = tag
        .as_deref()
        .zip(if_none_match)
        .is_some_and(|(tag, inm)| etag::none_match(inm, tag));
    let mut response = match (&body, not_modified) {
        (Some(bytes), false) => {
            let mut r = Response::new(Full::new(bytes.clone()));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        _ => Response::new(Full::new(Bytes::new())),
    };
    *response.status_mut() = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        status
    };
    let headers = response.headers_mut();
    if let Some(value) = tag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(ETAG, value);
    }
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(LOCATION, value);
    }
    response
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a panic inside a handler into an error value, so one bad request
/// gets a 500 with its request id instead of a dropped connection.
struct CatchUnwind<'a, T>(BoxFuture<'a, T>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_an_error_with_its_message() {
        let panicking: BoxFuture<'_, ()> = Box::pin(async { panic!("boom") });
        assert_eq!(CatchUnwind(panicking).await.unwrap_err(), "boom");
        let fine: BoxFuture<'_, u8> = Box::pin(async { 7 });
        assert_eq!(CatchUnwind(fine).await.unwrap(), 7);
    }
}
