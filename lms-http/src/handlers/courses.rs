//! `/courses`: the catalog, course detail, and the owner's operations on a
//! course. The catalog and the detail answer with an `ETag`.

use lms_core::{CatalogQuery, CourseId, CourseInput, CourseUpdate, UserId};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// The query parameters of [`catalog`].
pub(crate) const CATALOG_QUERY: &[&str] = &[
    "q",
    "level",
    "language",
    "price",
    "instructor",
    "tag",
    "sort",
    "cursor",
    "limit",
];

/// The query parameters of [`instructor`].
pub(crate) const INSTRUCTOR_QUERY: &[&str] = &["instructor", "cursor", "limit"];

/// `GET /courses`: the published catalog (no actor: it is the same for
/// everyone).
pub async fn catalog(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let q = ctx.query(CATALOG_QUERY)?;
    let query = CatalogQuery {
        q: q.string("q"),
        level: q.string("level"),
        language: q.string("language"),
        price: q.string("price"),
        instructor: q.string("instructor"),
        tag: q.string("tag"),
        sort: q.string("sort"),
        cursor: q.string("cursor"),
        limit: q.u32("limit")?,
    };
    ctx.app().shared(&ctx.lms().catalog(&query).await?)
}

/// `POST /courses`: a new draft, 201.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let input: CourseInput = ctx.json().await?;
    let course = ctx.lms().create_course(&actor, input).await?;
    let location = format!("/api/v1/courses/{}", course.id);
    Reply::created(&course, Some(location))
}

/// `GET /courses/{id or slug}`: the course with its outline.
pub async fn detail(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let detail = ctx.lms().course_detail(&actor, ctx.param("course")).await?;
    ctx.app().shared(&detail)
}

/// `PATCH /courses/{id}`.
pub async fn update(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("course", CourseId::parse)?;
    let update: CourseUpdate = ctx.json().await?;
    Reply::ok(&ctx.lms().update_course(&actor, id, update).await?)
}

/// `DELETE /courses/{id}`: 204.
pub async fn delete(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("course", CourseId::parse)?;
    ctx.lms().delete_course(&actor, id).await?;
    Reply::no_content()
}

/// `POST /courses/{id}/publish`.
pub async fn publish(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().publish_course(&actor, id).await?)
}

/// `POST /courses/{id}/unpublish`.
pub async fn unpublish(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().unpublish_course(&actor, id).await?)
}

/// `POST /courses/{id}/archive`.
pub async fn archive(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("course", CourseId::parse)?;
    Reply::ok(&ctx.lms().archive_course(&actor, id).await?)
}

/// `GET /instructor/courses?cursor=&limit=`: the caller's own courses in
/// every status (admins may name another `instructor`).
pub async fn instructor(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let q = ctx.query(INSTRUCTOR_QUERY)?;
    let instructor = q.parsed("instructor", UserId::parse)?;
    let cursor = q.string("cursor");
    let page = ctx
        .lms()
        .instructor_courses(&actor, instructor, cursor.as_deref(), q.u32("limit")?)
        .await?;
    Reply::ok(&page)
}
