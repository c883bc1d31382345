//! Sections of a course: add, rename, move, delete (the owner and admins).

use lms_core::{CourseId, SectionId, SectionInput};
use serde::Deserialize;

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `{title}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SectionRename)]
pub(crate) struct Rename {
    /// The new title.
    title: String,
}

/// `{position}`, 0-based.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SectionMove)]
pub(crate) struct Position {
    /// 0-based place among the course's sections.
    position: u32,
}

/// `POST /courses/{id}/sections`: 201.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let input: SectionInput = ctx.json().await?;
    let section = ctx.lms().create_section(&actor, course, input).await?;
    Reply::created(&section, None)
}

/// `PATCH /sections/{id}` with `{title}`.
pub async fn rename(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("section", SectionId::parse)?;
    let body: Rename = ctx.json().await?;
    Reply::ok(&ctx.lms().rename_section(&actor, id, &body.title).await?)
}

/// `DELETE /sections/{id}`: 204; its lectures go with it.
pub async fn delete(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("section", SectionId::parse)?;
    ctx.lms().delete_section(&actor, id).await?;
    Reply::no_content()
}

/// `POST /sections/{id}/move` with `{position}`.
pub async fn move_to(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("section", SectionId::parse)?;
    let body: Position = ctx.json().await?;
    Reply::ok(&ctx.lms().move_section(&actor, id, body.position).await?)
}
