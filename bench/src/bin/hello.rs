//! `hello`: the ceiling `lms-http` is measured against. A hyper 1 server
//! with the same runtime flavour (tokio's multi-threaded `#[tokio::main]`),
//! the same connection builder (hyper-util's `auto` with the same HTTP/1
//! timer and header timeout, `TCP_NODELAY`, one task per connection) and the
//! same `{"status":"ok"}` body as `GET /healthz`, but no routing, logging,
//! headers or core: what is left is the cost of HTTP itself on this machine.
//!
//! Like `lms-http` it reads the listen address from `LMS_BIND` (port 0 picks
//! a free port) and prints `listening on ADDR` once it accepts.

use std::convert::Infallible;
use std::io::Write as _;
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"status":"ok"}"#;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Only the health path answers 200, so a harness that asks for the
    // wrong thing sees errors instead of a flattering number.
    let found = request.uri().path() == "/healthz";
    let mut response = Response::new(Full::new(Bytes::from_static(if found {
        BODY
    } else {
        b"{}"
    })));
    if !found {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("LMS_BIND").unwrap_or_else(|_| "127.0.0.1:8081".to_owned());
    let listener = TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()?;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
