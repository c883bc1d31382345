//! Lectures: add, open, change, move, delete.

use lms_core::{LectureId, LectureInput, LectureMove, LectureUpdate, SectionId};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `POST /sections/{id}/lectures`: 201.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let section = ctx.id("section", SectionId::parse)?;
    let input: LectureInput = ctx.json().await?;
    let lecture = ctx.lms().create_lecture(&actor, section, input).await?;
    let location = format!("/api/v1/lectures/{}", lecture.id);
    Reply::created(&lecture, Some(location))
}

/// `GET /lectures/{id}`: the content, for those who may open it.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    Reply::ok(&ctx.lms().lecture(&actor, id).await?)
}

/// `PATCH /lectures/{id}`.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    let update: LectureUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_lecture(&actor, id, update).await?)
}

/// `DELETE /lectures/{id}`: 204.
pub async fn delete(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    ctx.lms().delete_lecture(&actor, id).await?;
    Reply::no_content()
}

/// `POST /lectures/{id}/move` with `{section_id?, position}`.
pub async fn move_to(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    let to: LectureMove = ctx.json().await?;
    Reply::ok(&ctx.lms().move_lecture(&actor, id, to).await?)
}
