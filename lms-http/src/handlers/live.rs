//! Live classes: schedule, list, change, cancel, room tokens, ingresses,
//! and LiveKit's webhook.

use http::header::AUTHORIZATION;
use lms_core::{CourseId, IngressInput, LiveSessionId, LiveSessionInput, LiveSessionUpdate};

use super::{Ctx, Reply};
use crate::body;
use crate::problem::Problem;

/// `POST /courses/{course}/live-sessions`: 201.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let input: LiveSessionInput = ctx.json().await?;
    let session = ctx.lms().create_live_session(&actor, course, input).await?;
    let location = format!("/api/v1/live-sessions/{}", session.id);
    Reply::created(&session, Some(location))
}

/// `GET /courses/{course}/live-sessions`: by start.
pub async fn list(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    Reply::items(&ctx.lms().live_sessions(&actor, course).await?)
}

/// `GET /live-sessions/{live_session}`.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("live_session", LiveSessionId::parse)?;
    Reply::ok(&ctx.lms().live_session(&actor, id).await?)
}

/// `PATCH /live-sessions/{live_session}` with `{title?, starts_at?}`.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("live_session", LiveSessionId::parse)?;
    let update: LiveSessionUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_live_session(&actor, id, update).await?)
}

/// `DELETE /live-sessions/{live_session}`: cancels it and answers with the
/// cancelled class (classes are kept, so learners see it was called off).
pub async fn cancel(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("live_session", LiveSessionId::parse)?;
    Reply::ok(&ctx.lms().cancel_live_session(&actor, id).await?)
}

/// `POST /live-sessions/{live_session}/token`: a LiveKit room token.
pub async fn token(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("live_session", LiveSessionId::parse)?;
    Reply::ok(&ctx.lms().live_token(&actor, id).await?)
}

/// `POST /live-sessions/{live_session}/ingress` with `{input_type}`: the
/// encoder's URL and stream key, for the owner and admins.
pub async fn ingress(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("live_session", LiveSessionId::parse)?;
    let input: IngressInput = ctx.json().await?;
    Reply::ok(&ctx.lms().create_ingress(&actor, id, input).await?)
}

/// `POST /webhooks/livekit`: the raw body, as signed, goes to the core with
/// the `Authorization` header (a JWT, not a bearer access token, so it is
/// never authenticated as a user).
pub async fn webhook(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let raw = ctx
        .body
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
        .ok_or_else(|| Problem::internal("the request body was read twice"))?;
    let config = ctx.app().config();
    let read = body::read(&ctx.parts.headers, raw, config.max_body_bytes);
    let bytes = tokio::time::timeout(config.body_read_timeout, read)
        .await
        .map_err(|_| Problem::request_timeout())??;
    let authorization = ctx
        .parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Reply::ok(&ctx.lms().livekit_webhook(authorization, &bytes).await?)
}
