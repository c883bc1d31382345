//! The accept loop: [`serve`] runs an [`App`] on a listener until the
//! shutdown future resolves, then finishes in-flight requests within the
//! app's shutdown deadline.
//!
//! Taking the listener (not an address) and the shutdown signal (not
//! installing one) is mini-redis's `run(listener, shutdown)`: tests bind
//! port 0 and pass any future; the binary passes SIGINT/SIGTERM.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::app::App;

/// Serves `app` on `listener` until `shutdown` resolves.
///
/// Then it stops accepting (the listener is closed, so new connections are
/// refused), lets every in-flight request finish and closes idle
/// connections, waiting at most the app's `shutdown_timeout` before
/// dropping what is left. At most `max_connections` connections are served
/// at once; further ones wait in the kernel's backlog.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let config = app.config().clone();
    let slots = Arc::new(Semaphore::new(
        config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let graceful = GracefulShutdown::new();
    // Tells connections that have not sent a byte yet to give up.
    let (closing, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Also the idle timeout of keep-alive connections: hyper starts it
        // whenever it waits for the next request's head.
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));

    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set does not grow without end.
        while connections.try_join_next().is_some() {}

        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead
                    // of spinning, and keep serving what is open.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);

        let open = app.metrics().connection();
        let app = app.clone();
        let service = service_fn(move |request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.handle_from(request, Some(peer)).await) }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let mut closing = closing_rx.clone();
        let first_byte = config.header_read_timeout;
        connections.spawn(async move {
            let (_slot, _open) = (slot, open);
            // hyper's header timeout starts once it knows the protocol, which
            // takes a first byte; a client that connects and sends nothing
            // would otherwise hold a slot for ever.
            let mut probe = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(first_byte, stream.peek(&mut probe)) => {
                    if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                }
                _ = closing.wait_for(|closing| *closing) => return,
            }
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    let _ = closing.send(true);
    while connections.try_join_next().is_some() {}
    tracing::info!(
        connections = connections.len(),
        "shutting down: finishing in-flight requests"
    );
    if tokio::time::timeout(config.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "shutdown deadline passed; dropping the connections still open"
        );
    }
    // Dropping the set aborts whatever is left.
    connections.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
