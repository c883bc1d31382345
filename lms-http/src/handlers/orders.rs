//! Orders: the learner's own, the admins' list, one order, refunds and
//! marking an offline payment received.

use lms_core::{CourseId, OrderId, OrderQuery, RefundInput, UserId};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// The query parameters of [`list`]: the fields of [`OrderQuery`].
pub(crate) const LIST_QUERY: &[&str] = &[
    "status",
    "provider",
    "user_id",
    "course_id",
    "flagged",
    "after",
    "limit",
];

/// The query parameters of [`mine`].
pub(crate) const MINE_QUERY: &[&str] = &["after", "limit"];

/// `GET /me/orders?after=&limit=`: the signed-in learner's orders, oldest
/// first; pass the last id as `after` for the next page.
pub async fn mine(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let q = ctx.query(MINE_QUERY)?;
    let after = q.parsed("after", OrderId::parse)?;
    let limit = q.u32("limit")?;
    Reply::items(&ctx.lms().my_orders(&actor, after, limit).await?)
}

/// `GET /orders?status=&provider=&user_id=&course_id=&flagged=&after=&limit=`
/// (admins): pass the last id as `after` for the next page.
pub async fn list(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let q = ctx.query(LIST_QUERY)?;
    let query = OrderQuery {
        status: q.string("status"),
        provider: q.string("provider"),
        user_id: q.parsed("user_id", UserId::parse)?,
        course_id: q.parsed("course_id", CourseId::parse)?,
        flagged: q.bool("flagged")?,
        after: q.parsed("after", OrderId::parse)?,
        limit: q.u32("limit")?,
    };
    Reply::items(&ctx.lms().orders(&actor, query).await?)
}

/// `GET /orders/{order}`: its buyer and admins.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("order", OrderId::parse)?;
    Reply::ok(&ctx.lms().order(&actor, id).await?)
}

/// `POST /orders/{order}/refund` with `{amount?}` (admins): through the
/// provider's refund API; all that is left unless `amount` says less.
pub async fn refund(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("order", OrderId::parse)?;
    let input: RefundInput = ctx.json().await?;
    Reply::ok(&ctx.lms().refund_order(&actor, id, input).await?)
}

/// `POST /orders/{order}/mark-paid` (admins): a manual order whose money
/// arrived, or an order flagged for review that the admin accepts.
pub async fn mark_paid(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("order", OrderId::parse)?;
    Reply::ok(&ctx.lms().mark_order_paid(&actor, id).await?)
}
