//! Media: upload tickets, their completion, playback, lecture files and the
//! Mux webhook. The files themselves go to storage directly (S3), or to
//! `/media` on this server ([`crate::files`]) with local storage.

use lms_core::{AssetId, LectureId, PlaybackOptions, UploadInput};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `POST /uploads`: 201 with the presigned request to send the file with.
pub async fn create(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let input: UploadInput = ctx.json().await?;
    let ticket = ctx.lms().create_upload(&actor, input).await?;
    let location = format!("/api/v1/uploads/{}", ticket.upload_id);
    Reply::created(&ticket, Some(location))
}

/// `GET /uploads/{id}`: the upload as recorded, for its uploader and admins.
pub async fn get(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("upload", AssetId::parse)?;
    Reply::ok(&ctx.lms().upload(&actor, id).await?)
}

/// `POST /uploads/{id}/complete`: checks the stored file and attaches it.
pub async fn complete(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("upload", AssetId::parse)?;
    Reply::ok(&ctx.lms().complete_upload(&actor, id).await?)
}

/// The parameters of `GET /lectures/{id}/playback`.
pub(crate) const PLAYBACK_QUERY: &[&str] = &["thumbnail", "storyboard"];

/// `GET /lectures/{id}/playback[?thumbnail=true][&storyboard=true]`:
/// signed HLS (Mux), with the images asked for, or a link to the file.
pub async fn playback(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    let q = ctx.query(PLAYBACK_QUERY)?;
    let options = PlaybackOptions {
        thumbnail: q.bool("thumbnail")?.unwrap_or(false),
        storyboard: q.bool("storyboard")?.unwrap_or(false),
    };
    Reply::ok(&ctx.lms().playback(&actor, id, options).await?)
}

/// `GET /lectures/{id}/attachments`: the files, with short-lived links.
pub async fn attachments(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let id = ctx.id("lecture", LectureId::parse)?;
    Reply::items(&ctx.lms().lecture_attachments(&actor, id).await?)
}

/// `POST /webhooks/mux`: the signature covers the raw body, so it is read
/// as bytes whatever its content type.
pub async fn mux_webhook(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let body = ctx.raw_body().await?;
    let receipt = ctx
        .lms()
        .mux_webhook(ctx.header("mux-signature"), &body)
        .await?;
    Reply::ok(&receipt)
}
