//! The load generator: a fixed number of keep-alive HTTP/1.1 connections,
//! each sending its next request as soon as the previous answer is read
//! (a closed loop), for a warm-up and then a measured window.
//!
//! Raw hyper client connections rather than a pooled client: the point is
//! to know exactly how many connections the server sees and to spend as
//! little CPU as possible on this side of the loopback, since the harness
//! shares the machine's cores with the server it measures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Builds the request a connection sends next: `(connection index, how
/// many it has sent before)`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;

/// One load run.
#[derive(Clone)]
pub struct LoadSpec {
    /// The server.
    pub addr: SocketAddr,
    /// Connections kept open, each with one request in flight.
    pub connections: usize,
    /// Time spent sending before measuring starts (caches, pools, JIT-less
    /// but still cold: page cache, prepared statements, allocator).
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// What to send.
    pub make: MakeRequest,
}

impl std::fmt::Debug for LoadSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadSpec")
            .field("addr", &self.addr)
            .field("connections", &self.connections)
            .field("warmup", &self.warmup)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// What a run measured. Only answers that arrive inside the measured window
/// count.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Other statuses and transport failures.
    pub errors: u64,
    /// The measured window.
    pub window: Duration,
    /// Latency of every successful request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Errors by kind (`status 429`, `connect: ...`), for the report.
    pub error_kinds: BTreeMap<String, u64>,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Latency at `quantile` (0.5, 0.99) in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The most common error kind, if any, for a one-line report.
    pub fn main_error(&self) -> Option<(&str, u64)> {
        self.error_kinds
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, n)| (k.as_str(), *n))
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 100 s at three significant digits: every latency a loopback
    // request can have, at 0.1% resolution.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

struct ConnStats {
    ok: u64,
    errors: u64,
    latency_us: Histogram<u64>,
    error_kinds: BTreeMap<String, u64>,
}

impl ConnStats {
    fn error(&mut self, kind: String) {
        self.errors += 1;
        *self.error_kinds.entry(kind).or_default() += 1;
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

async fn drive(spec: LoadSpec, index: usize, measure_from: Instant, end: Instant) -> ConnStats {
    let mut stats = ConnStats {
        ok: 0,
        errors: 0,
        latency_us: histogram(),
        error_kinds: BTreeMap::new(),
    };
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let mut seq = 0u64;
    while Instant::now() < end {
        let current = match &mut sender {
            Some(s) => s,
            None => match connect(spec.addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    if Instant::now() >= measure_from {
                        stats.error(e);
                    }
                    // A refused connection answers at once: do not spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let request = (spec.make)(index, seq);
        seq += 1;
        let started = Instant::now();
        let outcome = async {
            current
                .ready()
                .await
                .map_err(|e| format!("connection: {e}"))?;
            let response = current
                .send_request(request)
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = response.status();
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?;
            Ok::<StatusCode, String>(status)
        }
        .await;
        let elapsed = started.elapsed();
        // Counted by when the answer came: a request slower than the
        // warm-up still counts once it lands inside the window, as it
        // would for a client.
        let finished = started + elapsed;
        let counted = finished >= measure_from && finished <= end;
        match outcome {
            Ok(status) if status.is_success() => {
                if counted {
                    stats.ok += 1;
                    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                    stats.latency_us.saturating_record(us.max(1));
                }
            }
            Ok(status) => {
                if counted {
                    stats.error(format!("status {}", status.as_u16()));
                }
            }
            Err(e) => {
                if counted {
                    stats.error(e);
                }
                sender = None;
            }
        }
    }
    stats
}

/// Runs `spec` to the end of its window and merges every connection's
/// figures.
pub async fn run(spec: LoadSpec) -> LoadResult {
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let end = measure_from + spec.duration;
    let tasks: Vec<_> = (0..spec.connections.max(1))
        .map(|i| tokio::spawn(drive(spec.clone(), i, measure_from, end)))
        .collect();
    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        window: spec.duration,
        latency_us: histogram(),
        error_kinds: BTreeMap::new(),
    };
    for task in tasks {
        match task.await {
            Ok(stats) => {
                result.ok += stats.ok;
                result.errors += stats.errors;
                result
                    .latency_us
                    .add(&stats.latency_us)
                    .expect("histograms share their bounds");
                for (kind, n) in stats.error_kinds {
                    *result.error_kinds.entry(kind).or_default() += n;
                }
            }
            Err(e) => {
                result.errors += 1;
                *result.error_kinds.entry(format!("task: {e}")).or_default() += 1;
            }
        }
    }
    result
}

/// A request to `addr` with an optional bearer token and JSON body.
pub fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    json: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("a token is a valid header value");
        builder = builder.header(AUTHORIZATION, value);
    }
    let body = match json {
        Some(json) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            json
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .expect("method, path and headers are valid")
}

/// Sends one request on a fresh connection and reads the whole answer: for
/// setting a run up, not for measuring.
pub async fn fetch(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let mut sender = connect(addr).await?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, body))
}
