//! `/users`: admin operations on accounts (the core checks who is admin).

use lms_core::{AccountUpdate, Role, UserId, UserQuery};

use super::{Ctx, Reply};
use crate::problem::Problem;

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

/// `PATCH /users/{user}` with `{role?, disabled?}`, both in one step:
/// answers with the account as it now is.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("user", UserId::parse)?;
    let update: AccountUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_account(&actor, id, update).await?)
}
