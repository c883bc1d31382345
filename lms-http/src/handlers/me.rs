//! `/me`: the signed-in user's own account.

use lms_core::{PasswordChange, ProfileUpdate};
use serde::Deserialize;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `{password}`, confirming an account deletion.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirmation {
    /// The account's current password.
    password: String,
}

/// `GET /me`.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    Reply::ok(&ctx.lms().current_user(&actor).await?)
}

/// `PATCH /me`: profile fields.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let update: ProfileUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_profile(&actor, update).await?)
}

/// `DELETE /me` with `{password}`: 204.
pub async fn delete(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let body: Confirmation = ctx.json().await?;
    ctx.lms().delete_account(&actor, &body.password).await?;
    Reply::no_content()
}

/// `POST /me/password`: answers with the new access token; the other
/// sessions end.
pub async fn change_password(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let change: PasswordChange = ctx.json().await?;
    Reply::ok(&ctx.lms().change_password(&actor, change).await?)
}
