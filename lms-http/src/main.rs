//! `lms-http`: the standalone server. Reads its settings from flags and
//! `LMS_*` variables (`lms-http --help`), opens the store, and serves until
//! SIGINT or SIGTERM.

use std::process::ExitCode;

use clap::Parser as _;
use lms_core::Lms;
use lms_http::{App, Settings};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    let _logs = lms_http::telemetry::init(settings.log_json);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    // Bound first: without LMS_PUBLIC_URL, signed local links name the
    // address actually listened on (port 0 included).
    let listener = TcpListener::bind(&settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let config = settings
        .core_config(Some(addr))
        .map_err(|e| format!("cannot read or create the signing secret: {e}"))?;
    let generated_secret = settings.jwt_secret.is_none();
    let lms = Lms::open(&settings.database_url(), config)
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    let backend = lms.store().backend();
    if generated_secret && backend != "sqlite" {
        tracing::warn!(
            "no LMS_JWT_SECRET: this instance signs with the secret in its own data folder; \
             instances sharing this database must share one LMS_JWT_SECRET"
        );
    }
    let storage = lms.storage().kind();
    // Tests and scripts read the port from this line when binding port 0.
    tracing::info!(%addr, store = backend, storage, "listening on {addr}");
    let app = App::new(lms, settings.http_config());
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics = match &settings.metrics_bind {
        Some(bind) => {
            let listener = TcpListener::bind(bind)
                .await
                .map_err(|e| format!("cannot listen for metrics on {bind}: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("cannot read the metrics address: {e}"))?;
            tracing::info!(%addr, "metrics on {addr}");
            let mut stopped = stopped.clone();
            let server = lms_http::serve(listener, app.metrics_only(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
            Some(tokio::spawn(server))
        }
        None => None,
    };
    let signal = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let served = lms_http::serve(listener, app, signal).await;
    if let Some(metrics) = metrics {
        match metrics.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the metrics listener failed"),
            Err(e) => tracing::warn!(error = %e, "the metrics listener panicked"),
        }
    }
    served.map_err(|e| format!("server failed: {e}"))
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM (what orchestrators
/// send before killing).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
