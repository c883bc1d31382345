//! `lms-http`: the HTTP face of lms, on plain hyper (no web framework), and
//! the `lms-http` binary.
//!
//! The server authenticates, parses, calls [`lms_core::Lms`] and maps the
//! result; every rule lives in the core. Errors are RFC 9457 problem
//! documents whose `code` is the core's [`lms_core::ErrorKind::code`],
//! mapped to a status in one place ([`problem`]).
//!
//! ```no_run
//! # async fn demo(lms: lms_core::Lms) -> std::io::Result<()> {
//! use lms_http::{App, HttpConfig};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app = App::new(lms, HttpConfig::default());
//! lms_http::serve(listener, app, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Without a socket, [`App::handle`] answers one `http::Request`; tests use
//! it to go through the whole stack (routing, auth, limits, headers).
//!
//! [`openapi::document`] is the OpenAPI 3.1 description of every route,
//! served at `GET /api/v1/openapi.json`.
//!
//! # Layout
//!
//! - [`app`]: [`App`] and [`HttpConfig`]; `handle`, which routes a request,
//!   runs its handler and adds the request id and security headers.
//! - [`server`]: [`serve`], the accept loop: connection cap, header
//!   timeout, graceful shutdown.
//! - `routes`: the route table, one matchit router per method; 404 vs 405.
//! - `handlers`: one module per resource (auth, me, users, courses,
//!   sections, lectures, enrollments, progress, media, live, payments,
//!   orders, coupons, health).
//! - [`files`]: local storage's signed `/media` links, streamed to and
//!   from disk.
//! - [`problem`]: problem responses and the one `ErrorKind` to status map.
//! - [`openapi`]: the OpenAPI 3.1 document, built from the route table and
//!   the core's types, served at `/api/v1/openapi.json`.
//! - `body`, `query`: JSON bodies (type, size, shape) and query strings.
//! - `headers`, `etag`: request id, security headers, entity tags.
//! - [`config`], `secret`, [`telemetry`]: the binary's flags and
//!   environment, its generated signing secret, its logs.

pub mod app;
mod body;
mod client;
pub mod config;
mod cors;
mod etag;
pub mod files;
mod handlers;
mod headers;
mod memo;
pub mod metrics;
pub mod openapi;
pub mod problem;
mod query;
pub mod routes;
mod secret;
pub mod server;
pub mod telemetry;

pub use app::{App, HttpConfig};
pub use config::{MediaSettings, PaymentSettings, Settings};
pub use files::ResponseBody;
pub use problem::Problem;
pub use routes::Route;
pub use server::serve;
