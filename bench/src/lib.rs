//! lms-bench: the benchmark harness of lms (see `bench/README.md`).
//!
//! It seeds a realistic data set into SQLite or PostgreSQL, starts the
//! release `lms-http` binary and drives each scenario with a closed-loop
//! load generator on loopback, printing req/s, p50, p99 and errors beside
//! the ceilings measured in the same run: a hello-world hyper server
//! (`hello`, built from this crate), one Argon2 hash, and `pgbench -S`.
//!
//! # Layout
//!
//! - [`dataset`]: the data set, generated deterministically as rows;
//! - [`seed`]: writes it through sqlx after the core's migrations, or reuses it;
//! - [`load`]: the load generator;
//! - [`procs`]: building, starting and stopping servers, pgbench;
//! - [`argon`]: the core's password hash, made and timed here;
//! - [`providers`]: ready Mux videos, the RS256 ceiling, signed Stripe
//!   webhooks;
//! - [`harness`]: the run itself and its report.
//!
//! Numbers from here are benchmarks, not tests: nothing in `cargo test`
//! asserts a speed.

pub mod argon;
pub mod dataset;
pub mod harness;
pub mod load;
pub mod procs;
pub mod providers;
pub mod seed;

/// A progress line on stderr, so stdout carries only the report.
pub fn say(line: &str) {
    eprintln!("==> {line}");
}
