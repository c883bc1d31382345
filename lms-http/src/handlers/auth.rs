//! `/auth`: register, log in, refresh, log out. None of these has an actor:
//! the body carries the credentials, so an `Authorization` header, stale or
//! not, is ignored.
//!
//! Register, login and refresh are rate limited per client address and (the
//! first two) per e-mail, before the core does anything costly: a refused
//! attempt never reaches the password hasher.

use lms_core::{AuthAction, Credentials, Registration};
use serde::Deserialize;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `{refresh_token}`, for refresh and logout.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshToken {
    /// The refresh token of the session.
    refresh_token: String,
}

/// `POST /auth/register`: 201 with the new session.
pub async fn register(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let registration: Registration = ctx.json().await?;
    ctx.lms()
        .throttle(
            AuthAction::Register,
            ctx.client(),
            Some(&registration.email),
        )
        .await?;
    let session = ctx.lms().register(registration).await?;
    Reply::created(&session, Some("/api/v1/me".to_owned()))
}

/// `POST /auth/login`.
pub async fn login(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let credentials: Credentials = ctx.json().await?;
    ctx.lms()
        .throttle(AuthAction::Login, ctx.client(), Some(&credentials.email))
        .await?;
    Reply::ok(&ctx.lms().login(credentials).await?)
}

/// `POST /auth/refresh`: a new pair for the refresh token.
pub async fn refresh(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let body: RefreshToken = ctx.json().await?;
    ctx.lms()
        .throttle(AuthAction::Refresh, ctx.client(), None)
        .await?;
    Reply::ok(&ctx.lms().refresh(&body.refresh_token).await?)
}

/// `POST /auth/logout`: ends the refresh token's session; 204 even when it
/// had already ended.
pub async fn logout(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let body: RefreshToken = ctx.json().await?;
    ctx.lms().logout(&body.refresh_token).await?;
    Reply::no_content()
}
