//! A learner's progress: read, record, reset.

use lms_core::{CourseId, LectureId, ProgressUpdate};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `GET /courses/{id}/progress`.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().course_progress(&actor, course).await?)
}

/// `DELETE /courses/{id}/progress`: forgets it; answers with the (empty)
/// progress.
pub async fn reset(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().reset_progress(&actor, course).await?)
}

/// `PUT /lectures/{id}/progress` with `{completed?, position_secs?}`:
/// answers with the lecture's state and the course's figures.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let lecture = ctx.id("lecture", LectureId::parse)?;
    let update: ProgressUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_progress(&actor, lecture, update).await?)
}
