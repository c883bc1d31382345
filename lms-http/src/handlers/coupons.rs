//! Coupons: making, listing and disabling them (owners for their courses,
//! admins for any), and pricing a course with one.

use lms_core::{CouponCheck, CouponId, CouponInput, UserId};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// The query parameters of [`list`].
pub(crate) const LIST_QUERY: &[&str] = &["owner"];

/// `POST /coupons`: 201 with the coupon.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let input: CouponInput = ctx.json().await?;
    let coupon = ctx.lms().create_coupon(&actor, input).await?;
    Reply::created(&coupon, None)
}

/// `GET /coupons?owner=`: the caller's coupons; admins see all, or one
/// owner's.
pub async fn list(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let q = ctx.query(LIST_QUERY)?;
    let owner = q.parsed("owner", UserId::parse)?;
    Reply::items(&ctx.lms().coupons(&actor, owner).await?)
}

/// `POST /coupons/{coupon}/disable`: its owner and admins; again changes
/// nothing.
pub async fn disable(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("coupon", CouponId::parse)?;
    Reply::ok(&ctx.lms().disable_coupon(&actor, id).await?)
}

/// `POST /coupons/validate` with `{code, course_id}`: the course's price
/// for the signed-in learner with that coupon, or a 422 saying why not.
pub async fn validate(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let check: CouponCheck = ctx.json().await?;
    Reply::ok(&ctx.lms().validate_coupon(&actor, check).await?)
}
