//! Enrollments: enroll, a learner's list, a course's learners, grants and
//! revocations.

use lms_core::{CourseId, EnrollmentId, GrantInput, Timestamp, UserId};
use serde::Deserialize;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// A grant: either one learner by id or a list of e-mails (admins), never
/// both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnrollmentGrant)]
pub(crate) struct Grant {
    /// The learner to grant access to (answers the enrollment).
    #[serde(default)]
    user_id: Option<UserId>,
    /// Learners' e-mail addresses, admins only (answers a row per address).
    #[serde(default)]
    emails: Option<Vec<String>>,
    /// When access ends (default: never).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
}

/// The query parameters of [`list`].
pub(crate) const LIST_QUERY: &[&str] = &["after", "limit"];

/// `POST /courses/{id}/enroll`: the caller enrolls in a free course.
pub async fn enroll(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().enroll(&actor, course).await?)
}

/// `GET /me/enrollments`.
pub async fn mine(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    Reply::items(&ctx.lms().my_enrollments(&actor).await?)
}

/// `GET /courses/{id}/enrollments?after=&limit=`: pass the last row's
/// enrollment id as `after` for the next page.
pub async fn list(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let q = ctx.query(LIST_QUERY)?;
    let after = q.parsed("after", EnrollmentId::parse)?;
    let rows = ctx
        .lms()
        .course_enrollments(&actor, course, after, q.u32("limit")?)
        .await?;
    Reply::items(&rows)
}

/// `POST /courses/{id}/enrollments` with `{user_id, expires_at?}` (answers
/// with the enrollment) or `{emails: [...], expires_at?}` (answers with one
/// result per address).
pub async fn grant(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let grant: Grant = ctx.json().await?;
    let lms = ctx.lms();
    match (grant.user_id, grant.emails) {
        (Some(user_id), None) => {
            let input = GrantInput {
                user_id,
                expires_at: grant.expires_at,
            };
            Reply::ok(&lms.grant_enrollment(&actor, course, input).await?)
        }
        (None, Some(emails)) => {
            let rows = lms
                .grant_by_emails(&actor, course, &emails, grant.expires_at)
                .await?;
            Reply::items(&rows)
        }
        (Some(_), Some(_)) => Err(Problem::invalid_field(
            "emails",
            "send either user_id or emails, not both",
        )),
        (None, None) => Err(Problem::invalid_field(
            "user_id",
            "is required (or send emails)",
        )),
    }
}

/// `DELETE /courses/{id}/enrollments/{user}`: answers with the revoked
/// enrollment; progress is kept.
pub async fn revoke(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let user = ctx.id("user", UserId::parse)?;
    Reply::ok(&ctx.lms().revoke_enrollment(&actor, course, user).await?)
}
