//! Probes for load balancers and orchestrators.

use std::time::Duration;

use serde_json::json;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// How long readiness waits for the store: a probe that hangs is as bad as
/// one that fails.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /healthz`: the process is up. Always 200; touches nothing.
pub async fn healthz(_ctx: Ctx<'_>) -> Result<Reply, Problem> {
    Reply::ok(&json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the store answers, else 503.
pub async fn readyz(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let store = ctx.lms().store();
    match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(_)) => Reply::ok(&json!({"status": "ok"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store failed");
            Err(Problem::unavailable("the store does not answer"))
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer in time");
            Err(Problem::unavailable("the store does not answer"))
        }
    }
}
