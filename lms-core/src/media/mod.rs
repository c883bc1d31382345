//! Media: presigned uploads to object storage, signed playback and
//! lecture files.
//!
//! The flow: a user asks for an upload ticket (`create_upload`), the
//! browser sends the file straight to storage with the presigned PUT, then
//! `complete_upload` checks the object really is there with the declared
//! size and type and attaches it. Lecture videos are handed to Mux when it
//! is configured, and played through signed HLS; without Mux they play
//! from the source file through a presigned GET.
//!
//! - [`model`]: requests and records.
//! - [`storage`]: the [`ObjectStorage`] trait.
//! - [`local`]: files under the data folder, links served by `lms-http`.
//! - [`s3`]: S3 and R2.
//! - [`mux`]: Mux assets, playback tokens and webhooks.

pub mod local;
pub mod model;
pub mod mux;
pub mod s3;
pub mod storage;

use std::sync::Arc;
use std::time::Duration;

pub use local::{LocalGrant, LocalStorage, LocalUpload};
pub use model::{
    Asset, AssetStatus, Attachment, Playback, PlaybackKind, PlaybackOptions, UploadInput,
    UploadPurpose, UploadTicket, VideoStatus, WebhookOutcome, WebhookReceipt,
};
pub use mux::{Mux, PlaybackSigner};
pub use s3::S3Storage;
pub use storage::{ObjectMeta, ObjectStorage, PresignedRequest};

use crate::Lms;
use crate::actor::Actor;
use crate::catalog::{LectureKind, lecture_access};
use crate::clock::after;
use crate::domain::{AssetId, LectureId, UserId};
use crate::error::{Error, FieldError, Result, finish};
use crate::store::media::{NewAsset, WebhookDelivery};

/// Longest kept file name, in characters.
const MAX_FILE_NAME: usize = 255;
/// Longest file name kept in a key.
const MAX_KEY_NAME: usize = 100;

/// `file_name` reduced to characters safe in a key and a URL: letters,
/// digits, `.`, `_` and `-`; other runs become one `-`.
fn key_name(file_name: &str) -> String {
    let mut out = String::with_capacity(file_name.len());
    for c in file_name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches(|c| c == '-' || c == '.').chars().collect();
    // Keep the extension when shortening.
    let name = if trimmed.len() > MAX_KEY_NAME {
        match trimmed.rsplit_once('.') {
            Some((stem, ext)) if ext.len() < 16 => {
                format!("{}.{ext}", &stem[..MAX_KEY_NAME - ext.len() - 1])
            }
            _ => trimmed[..MAX_KEY_NAME].to_owned(),
        }
    } else {
        trimmed
    };
    if name.is_empty() {
        "file".to_owned()
    } else {
        name
    }
}

/// A request's fields, checked together.
struct CheckedUpload {
    purpose: UploadPurpose,
    file_name: String,
    content_type: String,
    size: i64,
}

fn check_upload(input: &UploadInput) -> Result<CheckedUpload> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        })
    };
    let purpose = UploadPurpose::parse("purpose", &input.purpose)
        .map_err(|e| bad("purpose", e.fields()[0].message.clone()))
        .ok();
    let file_name = input.file_name.trim();
    if file_name.is_empty() || file_name.chars().count() > MAX_FILE_NAME {
        bad(
            "file_name",
            format!("must be 1 to {MAX_FILE_NAME} characters"),
        );
    } else if file_name.chars().any(char::is_control) {
        bad(
            "file_name",
            "must not contain control characters".to_owned(),
        );
    } else if crate::domain::has_bidi_control(file_name) {
        bad("file_name", crate::domain::BIDI_CONTROL.to_owned());
    }
    // Parameters (`; charset=...`) are not part of what is signed.
    let content_type = input
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(purpose) = purpose {
        let allowed = purpose.content_types();
        if !allowed.contains(&content_type.as_str()) {
            bad(
                "content_type",
                format!(
                    "must be one of {} for {}",
                    allowed.join(", "),
                    purpose.as_str()
                ),
            );
        }
        let max = purpose.max_size();
        if !(1..=max).contains(&input.size) {
            bad(
                "size",
                format!("must be between 1 and {max} bytes for {}", purpose.as_str()),
            );
        }
        let (wants_course, wants_lecture) = match purpose {
            UploadPurpose::Avatar => (false, false),
            UploadPurpose::CourseThumbnail => (true, false),
            UploadPurpose::LectureVideo | UploadPurpose::LectureAttachment => (false, true),
        };
        match (wants_course, input.course_id.is_some()) {
            (true, false) => bad("course_id", format!("is required for {}", purpose.as_str())),
            (false, true) => bad("course_id", format!("is not used for {}", purpose.as_str())),
            _ => {}
        }
        match (wants_lecture, input.lecture_id.is_some()) {
            (true, false) => bad(
                "lecture_id",
                format!("is required for {}", purpose.as_str()),
            ),
            (false, true) => bad(
                "lecture_id",
                format!("is not used for {}", purpose.as_str()),
            ),
            _ => {}
        }
    }
    finish(errors, || CheckedUpload {
        purpose: purpose.expect("checked above"),
        file_name: file_name.to_owned(),
        content_type,
        size: input.size,
    })
}

impl Lms {
    /// The object storage files go to.
    pub fn storage(&self) -> &Arc<dyn ObjectStorage> {
        &self.inner.storage
    }

    /// Local storage, when files live in the data folder: the HTTP face
    /// serves its links.
    pub fn local_storage(&self) -> Option<&LocalStorage> {
        self.inner.local.as_ref()
    }

    /// Checks that the upload a signed local `PUT` link was made for still
    /// exists: the link outlives its upload record when the lecture or
    /// course goes, and a file written then would belong to nothing.
    pub async fn check_local_put(&self, key: &str) -> Result<()> {
        match self.store().asset_by_key(key).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(
                "the upload this link was made for no longer exists",
            )),
        }
    }

    /// Mux, when configured.
    pub fn mux(&self) -> Option<&Mux> {
        self.inner.mux.as_ref()
    }

    fn upload_ttl(&self) -> Duration {
        Duration::from_secs(self.config().upload_url_ttl_secs)
    }

    fn media_ttl(&self) -> Duration {
        Duration::from_secs(self.config().media_url_ttl_secs)
    }

    /// Checks a file key that `actor` names in `field` (an avatar, a
    /// thumbnail): it must be a stored upload for `purpose` that `belongs`
    /// accepts. A key is set by completing its upload; naming one directly
    /// only re-attaches a file of one's own, never another user's file or a
    /// key nothing was uploaded to. Admins and the system may name any key:
    /// operators repair data, and course imports carry their keys.
    pub(crate) async fn check_file_key(
        &self,
        actor: &Actor,
        field: &str,
        key: &str,
        purpose: UploadPurpose,
        belongs: impl FnOnce(&Asset) -> bool,
    ) -> Result<()> {
        if actor.is_admin() {
            return Ok(());
        }
        match self.store().asset_by_key(key).await? {
            Some(asset)
                if asset.purpose == purpose
                    && asset.status == AssetStatus::Stored
                    && belongs(&asset) =>
            {
                Ok(())
            }
            _ => Err(Error::invalid_field(
                field,
                format!(
                    "is not a stored {} upload of yours; upload the file first (POST /api/v1/uploads)",
                    purpose.as_str()
                ),
            )),
        }
    }

    /// The asset as callers see it: public images with their URL.
    fn presented(&self, mut asset: Asset) -> Asset {
        if asset.purpose.is_public() {
            asset.public_url = Some(self.storage().public_url(&asset.object_key));
        }
        asset
    }

    /// Issues an upload ticket: a presigned PUT of exactly the declared
    /// type and size, to a key the server picks, valid for
    /// `upload_url_ttl_secs`. Avatars are the uploader's own; thumbnails,
    /// lecture videos and attachments need the right to change their
    /// course. Nothing is stored when any check fails.
    pub async fn create_upload(&self, actor: &Actor, input: UploadInput) -> Result<UploadTicket> {
        let user = actor.require_user()?;
        self.issue_upload(actor, user, input).await
    }

    /// Issues an upload ticket in `owner`'s name, for admins and the
    /// operator (who has no account of their own to upload as): `owner`'s
    /// avatar, or a course file recorded as uploaded by `owner`. The same
    /// checks as [`Lms::create_upload`] apply.
    pub async fn create_upload_for(
        &self,
        actor: &Actor,
        owner: UserId,
        input: UploadInput,
    ) -> Result<UploadTicket> {
        actor.require_admin()?;
        let known = self.store().user(owner).await?;
        if known.is_none_or(|u| u.deleted_at.is_some()) {
            return Err(Error::invalid_field("owner", "is not a user"));
        }
        self.issue_upload(actor, owner, input).await
    }

    /// A ticket for `input`, owned by `user`, once `actor` may change its
    /// target.
    async fn issue_upload(
        &self,
        actor: &Actor,
        user: UserId,
        input: UploadInput,
    ) -> Result<UploadTicket> {
        let checked = check_upload(&input)?;
        let (course_id, lecture_id) = match checked.purpose {
            UploadPurpose::Avatar => (None, None),
            UploadPurpose::CourseThumbnail => {
                let course = input.course_id.expect("checked");
                (Some(self.managed_course(actor, course).await?.id), None)
            }
            UploadPurpose::LectureVideo | UploadPurpose::LectureAttachment => {
                let lecture = self
                    .managed_lecture(actor, input.lecture_id.expect("checked"))
                    .await?;
                if checked.purpose == UploadPurpose::LectureVideo
                    && lecture.kind != LectureKind::Video
                {
                    return Err(Error::invalid_field("lecture_id", "is not a video lecture"));
                }
                (Some(lecture.course_id), Some(lecture.id))
            }
        };
        let id = AssetId::new();
        let key = format!(
            "{}/{id}/{}",
            checked.purpose.key_prefix(),
            key_name(&checked.file_name)
        );
        let now = self.now();
        let ttl = self.upload_ttl();
        let request = self
            .storage()
            .presign_put(&key, &checked.content_type, checked.size, now, ttl)
            .await?;
        let asset = self
            .store()
            .create_asset(
                NewAsset {
                    id,
                    owner_id: user,
                    purpose: checked.purpose,
                    course_id,
                    lecture_id,
                    object_key: key,
                    file_name: checked.file_name,
                    content_type: checked.content_type,
                    size: checked.size,
                    upload_expires_at: after(now, ttl),
                },
                *actor,
                now,
            )
            .await?;
        Ok(UploadTicket {
            upload_id: asset.id,
            method: request.method,
            url: request.url,
            headers: request.headers,
            expires_at: asset.upload_expires_at,
        })
    }

    /// An upload the actor may complete or read: the uploader's, or any for
    /// an admin or the operator. Others get `not_found`, so upload ids reveal nothing.
    async fn own_asset(&self, actor: &Actor, id: AssetId) -> Result<Asset> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated("sign in first"));
        }
        let asset = self
            .store()
            .asset(id)
            .await?
            .ok_or_else(|| Error::not_found("upload not found"))?;
        // The operator too: it completes the uploads it issued in others' names.
        if actor.user_id() == Some(asset.owner_id) || actor.is_admin() {
            Ok(asset)
        } else {
            Err(Error::not_found("upload not found"))
        }
    }

    /// An upload by id, for its uploader and admins.
    pub async fn upload(&self, actor: &Actor, id: AssetId) -> Result<Asset> {
        Ok(self.presented(self.own_asset(actor, id).await?))
    }

    /// Confirms an upload: the object must exist with the declared size
    /// and type (checked with a HEAD), then the asset is recorded as stored
    /// and attached in one store step. A lecture video is then handed to
    /// Mux, when configured, from a presigned GET of the source. Completing
    /// again returns the asset as it is (and retries a Mux hand-off that
    /// failed). A missing or different object is `invalid_input`.
    pub async fn complete_upload(&self, actor: &Actor, id: AssetId) -> Result<Asset> {
        let mut asset = self.own_asset(actor, id).await?;
        // The right to change the target may have been lost since the ticket.
        if let Some(lecture) = asset.lecture_id {
            self.managed_lecture(actor, lecture).await?;
        } else if let Some(course) = asset.course_id {
            self.managed_course(actor, course).await?;
        }
        if asset.status == AssetStatus::Pending {
            let found = self.storage().head(&asset.object_key).await?;
            let Some(meta) = found else {
                return Err(Error::invalid_field(
                    "upload",
                    "no file has been uploaded with this ticket",
                ));
            };
            if meta.size != asset.size {
                return Err(Error::invalid_field(
                    "upload",
                    format!(
                        "the stored file is {} bytes, not the declared {}",
                        meta.size, asset.size
                    ),
                ));
            }
            let stored_type = meta.content_type.as_deref().unwrap_or("");
            if stored_type.split(';').next().unwrap_or("").trim() != asset.content_type {
                return Err(Error::invalid_field(
                    "upload",
                    format!(
                        "the stored file is {stored_type:?}, not the declared {}",
                        asset.content_type
                    ),
                ));
            }
            asset = self.store().store_asset(id, *actor, self.now()).await?;
        }
        if asset.purpose == UploadPurpose::LectureVideo
            && asset.mux_asset_id.is_none()
            && let Some(mux) = self.mux()
        {
            // Mux fetches the source within minutes; the link outlives that.
            let source = self
                .storage()
                .presign_get(&asset.object_key, self.now(), self.media_ttl())
                .await?;
            let mux_asset = mux.create_asset(&source, asset.id).await?;
            asset = self
                .store()
                .set_video_asset(asset.id, &mux_asset, *actor, self.now())
                .await?;
        }
        Ok(self.presented(asset))
    }

    /// How to play a lecture's video, for those who may open the lecture
    /// (see [`Lms::lecture`]): with Mux, a signed HLS URL (an RS256 token)
    /// and the images `options` asks for, each with its own token; without
    /// Mux, a presigned GET of the source. One store round trip decides
    /// access and finds the video.
    pub async fn playback(
        &self,
        actor: &Actor,
        lecture: LectureId,
        options: PlaybackOptions,
    ) -> Result<Playback> {
        let now = self.now();
        let access = self
            .store()
            .playback_access(lecture, actor.user_id(), now)
            .await?
            .ok_or_else(|| Error::not_found("lecture not found"))?;
        lecture_access(
            actor,
            access.course_status,
            access.owner_id,
            access.free_preview,
            access.enrolled,
        )?;
        let video = access
            .video
            .filter(|v| v.status == AssetStatus::Stored)
            .ok_or_else(|| Error::not_found("this lecture has no video yet"))?;
        let ttl = self.media_ttl();
        if let (Some(mux), Some(_)) = (self.mux(), &video.mux_asset_id) {
            match (video.video_status, &video.playback_id) {
                (Some(VideoStatus::Ready), Some(playback_id)) => {
                    let signer = mux.signer();
                    let (token, mut exp) = signer.token(playback_id, "v", now, ttl)?;
                    // The answer has one expiry: the earliest of its tokens
                    // (a reused token may be a little older than another).
                    let mut image = |wanted: bool, aud: &'static str, path: &str| {
                        if !wanted {
                            return Ok((None, None));
                        }
                        let (token, until) = signer.token(playback_id, aud, now, ttl)?;
                        exp = exp.min(until);
                        let url =
                            format!("https://image.mux.com/{playback_id}/{path}?token={token}");
                        Ok::<_, Error>((Some(url), Some(token)))
                    };
                    let (thumbnail_url, thumbnail_token) =
                        image(options.thumbnail, "t", "thumbnail.jpg")?;
                    let (storyboard_url, storyboard_token) =
                        image(options.storyboard, "s", "storyboard.vtt")?;
                    return Ok(Playback {
                        lecture_id: lecture,
                        kind: PlaybackKind::Mux,
                        url: format!("https://stream.mux.com/{playback_id}.m3u8?token={token}"),
                        playback_id: Some(playback_id.clone()),
                        token: Some(token),
                        thumbnail_url,
                        thumbnail_token,
                        storyboard_url,
                        storyboard_token,
                        content_type: None,
                        expires_at: chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now),
                    });
                }
                (Some(VideoStatus::Errored), _) => {
                    return Err(Error::conflict(
                        "the video could not be processed; upload it again",
                    ));
                }
                (Some(VideoStatus::Deleted), _) => {
                    return Err(Error::not_found("this lecture's video was deleted"));
                }
                _ => return Err(Error::conflict("the video is still processing")),
            }
        }
        let url = self
            .storage()
            .presign_get(&video.object_key, now, ttl)
            .await?;
        Ok(Playback {
            lecture_id: lecture,
            kind: PlaybackKind::File,
            url,
            playback_id: None,
            token: None,
            thumbnail_url: None,
            thumbnail_token: None,
            storyboard_url: None,
            storyboard_token: None,
            content_type: Some(video.content_type),
            expires_at: after(now, ttl),
        })
    }

    /// A lecture's attached files with short-lived links, for those who
    /// may open the lecture.
    pub async fn lecture_attachments(
        &self,
        actor: &Actor,
        lecture: LectureId,
    ) -> Result<Vec<Attachment>> {
        self.openable_lecture(actor, lecture).await?;
        let now = self.now();
        let ttl = self.media_ttl();
        let mut out = Vec::new();
        for asset in self.store().lecture_attachments(lecture).await? {
            out.push(Attachment {
                url: self
                    .storage()
                    .presign_get(&asset.object_key, now, ttl)
                    .await?,
                id: asset.id,
                file_name: asset.file_name,
                content_type: asset.content_type,
                size: asset.size,
                expires_at: after(now, ttl),
            });
        }
        Ok(out)
    }

    /// A Mux webhook delivery: the `mux-signature` header is checked
    /// (HMAC-SHA256 over "t.body", 300 s tolerance, constant time), the
    /// event applied once by its id, and video statuses only move forward.
    /// Unknown types and objects are accepted and change nothing.
    pub async fn mux_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookReceipt> {
        let mux = self
            .mux()
            .ok_or_else(|| Error::not_found("Mux is not configured"))?;
        let now = self.now();
        let event = mux.verify_webhook(signature, body, now)?;
        let change = mux::video_change(&event);
        let outcome = self
            .store()
            .apply_video_event(
                WebhookDelivery {
                    provider: "mux",
                    event_id: event.id.clone(),
                    event_type: event.kind.clone(),
                },
                change,
                now,
            )
            .await?;
        Ok(WebhookReceipt { outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_keep_safe_characters_and_the_extension() {
        assert_eq!(key_name("My Lecture (final).mp4"), "My-Lecture-final-.mp4");
        assert_eq!(key_name("../../etc/passwd"), "etc-passwd");
        assert_eq!(key_name("日本.pdf"), "pdf");
        assert_eq!(key_name("..."), "file");
        let long = format!("{}.webm", "a".repeat(300));
        let name = key_name(&long);
        assert_eq!(name.len(), MAX_KEY_NAME);
        assert!(name.ends_with(".webm"));
    }

    #[test]
    fn an_upload_request_reports_every_bad_field() {
        let err = check_upload(&UploadInput {
            purpose: "lecture_video".into(),
            file_name: " ".into(),
            content_type: "image/png".into(),
            size: 6 * 1024 * 1024 * 1024,
            course_id: Some(crate::CourseId::new()),
            lecture_id: None,
        })
        .err()
        .unwrap();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "file_name",
                "content_type",
                "size",
                "course_id",
                "lecture_id"
            ]
        );
        let err = check_upload(&UploadInput {
            purpose: "poster".into(),
            file_name: "a.png".into(),
            content_type: "image/png".into(),
            size: 1,
            ..UploadInput::default()
        })
        .err()
        .unwrap();
        assert_eq!(err.fields()[0].field, "purpose");
    }

    #[test]
    fn content_type_parameters_and_case_do_not_matter() {
        let ok = check_upload(&UploadInput {
            purpose: "avatar".into(),
            file_name: "me.PNG".into(),
            content_type: "Image/PNG; charset=binary".into(),
            size: 10 * 1024 * 1024,
            ..UploadInput::default()
        })
        .ok()
        .unwrap();
        assert_eq!(ok.content_type, "image/png");
    }
}
