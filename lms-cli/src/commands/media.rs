//! `lms media`: uploads, playback and attachments as the operator.
//!
//! An upload takes the API's path, so every check is the core's: a ticket
//! (type, size and target checked), the bytes sent as the ticket says,
//! then completion (the stored object checked, then attached). The bytes
//! go to S3 with the presigned PUT; local storage is written directly
//! through the core's own checked upload, as `lms-http` does when a
//! browser sends them, so no server needs to run.

use std::path::Path;

use lms_core::media::{PlaybackKind, PlaybackOptions};
use lms_core::{
    Asset, AssetId, Error, LectureId, Lms, UploadInput, UploadPurpose, UploadTicket, UserId,
};
use tokio::io::AsyncReadExt as _;

use super::{Result, SYSTEM, printed, spinner, user, when};
use crate::cli::{Media, UploadTarget};
use crate::output::{Output, table};

/// Bytes read from the file at a time.
const CHUNK: usize = 256 * 1024;

const ASSET_HEADERS: &[&str] = &["ID", "PURPOSE", "STATUS", "SIZE", "TYPE", "FILE"];

fn asset_row(a: &Asset) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.purpose.as_str().to_owned(),
        serde_json::to_value(a.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        a.size.to_string(),
        a.content_type.clone(),
        a.file_name.clone(),
    ]
}

fn describe_asset(a: &Asset) -> String {
    let mut text = table(ASSET_HEADERS, &[asset_row(a)]);
    text.push_str(&format!("key: {}\n", a.object_key));
    if let Some(url) = &a.public_url {
        text.push_str(&format!("url: {url}\n"));
    }
    if let Some(status) = a.video_status {
        text.push_str(&format!("video: {}", status.as_str()));
        if let Some(mux) = &a.mux_asset_id {
            text.push_str(&format!(" (Mux asset {mux})"));
        }
        text.push('\n');
    }
    text.trim_end().to_owned()
}

/// The media type of `path` from its extension, for the types uploads take.
fn content_type_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// The upload's purpose, its target and whose name it is made in: the
/// avatar's user, or the owner of the course the file belongs to.
async fn target(lms: &Lms, target: &UploadTarget) -> Result<(UploadInput, UserId)> {
    let mut input = UploadInput::default();
    let owner = if let Some(key) = &target.avatar {
        input.purpose = UploadPurpose::Avatar.as_str().to_owned();
        user(lms, key).await?.id
    } else if let Some(key) = &target.thumbnail {
        input.purpose = UploadPurpose::CourseThumbnail.as_str().to_owned();
        let course = lms
            .course_detail(&SYSTEM, key)
            .await?
            .summary
            .course
            .clone();
        input.course_id = Some(course.id);
        course.owner_id
    } else {
        let (purpose, field, raw) = match (&target.video, &target.attachment) {
            (Some(raw), _) => (UploadPurpose::LectureVideo, "video", raw),
            (None, Some(raw)) => (UploadPurpose::LectureAttachment, "attachment", raw),
            (None, None) => {
                return Err(Error::invalid_field(
                    "target",
                    "name one of --avatar, --thumbnail, --video, --attachment",
                ));
            }
        };
        input.purpose = purpose.as_str().to_owned();
        let lecture = lms
            .lecture(&SYSTEM, LectureId::parse(field, raw)?)
            .await?
            .lecture;
        input.lecture_id = Some(lecture.id);
        let course = lms
            .course_detail(&SYSTEM, &lecture.course_id.to_string())
            .await?
            .summary
            .course
            .clone();
        course.owner_id
    };
    Ok((input, owner))
}

/// Sends the file as the ticket says: through local storage's checked
/// upload when files live in the data folder, else with the presigned PUT.
async fn send(lms: &Lms, ticket: &UploadTicket, path: &Path) -> Result<()> {
    let open = || async {
        tokio::fs::File::open(path).await.map_err(|e| {
            Error::invalid_field("file", format!("cannot read {}: {e}", path.display()))
        })
    };
    let Some(local) = lms.local_storage() else {
        let mut request = reqwest::Client::new().put(&ticket.url);
        for (name, value) in &ticket.headers {
            request = request.header(name, value);
        }
        let response = request
            .body(open().await?)
            .send()
            .await
            .map_err(|e| Error::provider(format!("cannot reach the storage: {e}")))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(Error::provider(format!(
                "the storage refused the upload ({status}): {}",
                body.trim()
            )));
        }
        return Ok(());
    };
    // The ticket's URL is `<public url>/media/<key>?<signed query>`.
    let base = format!("{}/media/", lms.config().public_url.trim_end_matches('/'));
    let (key, query) = ticket
        .url
        .strip_prefix(&base)
        .and_then(|rest| rest.split_once('?'))
        .ok_or_else(|| Error::internal("a local upload link of an unexpected shape"))?;
    let grant = local.authorize("PUT", key, Some(query), lms.now())?;
    let mut upload = local
        .begin_put(
            &grant,
            ticket.headers.get("content-type").map(String::as_str),
        )
        .await?;
    let mut file = open().await?;
    let mut buffer = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buffer).await.map_err(|e| {
            Error::invalid_field("file", format!("cannot read {}: {e}", path.display()))
        })?;
        if n == 0 {
            break;
        }
        upload.write(&buffer[..n]).await?;
    }
    upload.finish().await?;
    Ok(())
}

/// Local storage's links are signed with the server's secret; a link
/// signed with this run's throwaway secret would not open.
fn require_server_secret(lms: &Lms, server_secret: bool) -> Result<()> {
    if lms.local_storage().is_some() && !server_secret {
        return Err(Error::invalid_field(
            "jwt_secret",
            "local storage's links are signed with the server's secret: set LMS_JWT_SECRET, \
             or point --data-dir at the server's data folder",
        ));
    }
    Ok(())
}

/// Runs a media command; `server_secret` says whether the server's signing
/// secret is known (given, or found in the data folder).
pub async fn run(lms: &Lms, command: Media, server_secret: bool, out: Output) -> Result<()> {
    match command {
        Media::Upload {
            target: upload_target,
            file,
            content_type,
        } => {
            let meta = std::fs::metadata(&file).map_err(|e| {
                Error::invalid_field("file", format!("cannot read {}: {e}", file.display()))
            })?;
            if !meta.is_file() {
                return Err(Error::invalid_field(
                    "file",
                    format!("{} is not a file", file.display()),
                ));
            }
            let content_type = match content_type {
                Some(t) => t,
                None => content_type_of(&file)
                    .ok_or_else(|| {
                        Error::invalid_field(
                            "content_type",
                            "cannot tell it from the file's extension: pass --content-type",
                        )
                    })?
                    .to_owned(),
            };
            let (mut input, owner) = target(lms, &upload_target).await?;
            input.file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            input.content_type = content_type;
            input.size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
            let ticket = lms.create_upload_for(&SYSTEM, owner, input).await?;
            let bar = spinner(out, "uploading");
            let sent = send(lms, &ticket, &file).await;
            bar.finish_and_clear();
            sent?;
            let asset = lms.complete_upload(&SYSTEM, ticket.upload_id).await?;
            out.one(&asset, || describe_asset(&asset)).map_err(printed)
        }
        Media::Show { upload } => {
            let asset = lms
                .upload(&SYSTEM, AssetId::parse("upload", &upload)?)
                .await?;
            out.one(&asset, || describe_asset(&asset)).map_err(printed)
        }
        Media::Playback {
            lecture,
            thumbnail,
            storyboard,
        } => {
            let id = LectureId::parse("lecture", &lecture)?;
            let options = PlaybackOptions {
                thumbnail,
                storyboard,
            };
            let playback = lms.playback(&SYSTEM, id, options).await?;
            if playback.kind == PlaybackKind::File {
                require_server_secret(lms, server_secret)?;
            }
            out.one(&playback, || {
                let mut text = format!("url: {}\n", playback.url);
                for (what, value) in [
                    ("token", &playback.token),
                    ("thumbnail", &playback.thumbnail_url),
                    ("thumbnail token", &playback.thumbnail_token),
                    ("storyboard", &playback.storyboard_url),
                    ("storyboard token", &playback.storyboard_token),
                    ("type", &playback.content_type),
                ] {
                    if let Some(value) = value {
                        text.push_str(&format!("{what}: {value}\n"));
                    }
                }
                text.push_str(&format!("expires: {}", when(&playback.expires_at)));
                text
            })
            .map_err(printed)
        }
        Media::Attachments { lecture } => {
            let id = LectureId::parse("lecture", &lecture)?;
            let files = lms.lecture_attachments(&SYSTEM, id).await?;
            if !files.is_empty() {
                require_server_secret(lms, server_secret)?;
            }
            out.list(&files, &["ID", "FILE", "TYPE", "SIZE", "URL"], |a| {
                vec![
                    a.id.to_string(),
                    a.file_name.clone(),
                    a.content_type.clone(),
                    a.size.to_string(),
                    a.url.clone(),
                ]
            })
            .map_err(printed)
        }
    }
}
