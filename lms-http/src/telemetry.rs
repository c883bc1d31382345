//! Logging for the binary: tracing to stdout, text or one JSON object per
//! line, filtered by `RUST_LOG` (default `info`).
//!
//! Lines go through a channel that a dedicated thread writes out, so a
//! request never waits on a `write` to stdout. The channel blocks rather
//! than drops when the thread falls behind: a missing log line is worse
//! than a slower request. The thread writes whatever lines have queued up
//! in one system call (a `BufWriter` it flushes each time the channel runs
//! dry), not one per line as stdout's own line buffering would.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// What the log thread gathers before writing when lines come faster than
/// it can write them.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Installs the global subscriber. Call once, first thing in `main`, and
/// keep the guard until the end: dropping it writes out what is buffered.
pub fn init(json: bool) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) =
        NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::with_capacity(
                LOG_BUFFER_BYTES,
                std::io::stdout(),
            ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
    guard
}
