//! `/users`: admin operations on accounts (the core checks who is admin).

use lms_core::{Role, UserId, UserQuery};
use serde::Deserialize;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// What an admin may change on an account. Absent members stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountChange {
    /// The new role.
    #[serde(default)]
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    /// Disable (true) or re-enable (false) the account.
    #[serde(default)]
    disabled: Option<bool>,
}

/// The query parameters of [`list`].
pub(crate) const LIST_QUERY: &[&str] = &["role", "q", "after", "limit"];

/// `GET /users?role=&q=&after=&limit=`: pass the last id as `after` for the
/// next page.
pub async fn list(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let q = ctx.query(LIST_QUERY)?;
    let query = UserQuery {
        role: q.parsed("role", Role::parse)?,
        query: q.string("q"),
        after: q.parsed("after", UserId::parse)?,
        limit: q.u32("limit")?,
    };
    Reply::items(&ctx.lms().list_users(&actor, &query).await?)
}

/// `GET /users/{user}`.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("user", UserId::parse)?;
    Reply::ok(&ctx.lms().user(&actor, id).await?)
}

/// `PATCH /users/{user}` with `{role?, disabled?}`: answers with the
/// account as it now is.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("user", UserId::parse)?;
    let change: AccountChange = ctx.json().await?;
    let role = change
        .role
        .as_deref()
        .map(|r| Role::parse("role", r))
        .transpose()?;
    let lms = ctx.lms();
    let mut user = None;
    if let Some(role) = role {
        user = Some(lms.set_role(&actor, id, role).await?);
    }
    if let Some(disabled) = change.disabled {
        user = Some(lms.set_disabled(&actor, id, disabled).await?);
    }
    let user = match user {
        Some(user) => user,
        None => lms.user(&actor, id).await?,
    };
    Reply::ok(&user)
}
