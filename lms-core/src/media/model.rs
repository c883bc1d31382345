//! Media requests and records, the same serde structs on every face.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{AssetId, CourseId, LectureId, UserId};
use crate::error::Error;

const MIB: i64 = 1024 * 1024;

/// What an upload is for; it decides the allowed types, the size limit,
/// who may upload, and what the file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    /// The uploader's own avatar (a public image).
    Avatar,
    /// A course's thumbnail (a public image).
    CourseThumbnail,
    /// A video lecture's video (private).
    LectureVideo,
    /// A file attached to a lecture (private).
    LectureAttachment,
}

impl UploadPurpose {
    /// Every purpose, for messages.
    pub const ALL: [Self; 4] = [
        Self::Avatar,
        Self::CourseThumbnail,
        Self::LectureVideo,
        Self::LectureAttachment,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avatar => "avatar",
            Self::CourseThumbnail => "course_thumbnail",
            Self::LectureVideo => "lecture_video",
            Self::LectureAttachment => "lecture_attachment",
        }
    }

    /// Parses the stored or requested name.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| {
                Error::invalid_field(
                    field,
                    "must be one of avatar, course_thumbnail, lecture_video, lecture_attachment",
                )
            })
    }

    /// Content types accepted for this purpose.
    pub fn content_types(self) -> &'static [&'static str] {
        match self {
            Self::Avatar | Self::CourseThumbnail => &["image/jpeg", "image/png", "image/webp"],
            Self::LectureVideo => &["video/mp4", "video/quicktime", "video/webm"],
            Self::LectureAttachment => &["application/pdf", "application/zip"],
        }
    }

    /// Largest accepted file, in bytes.
    pub fn max_size(self) -> i64 {
        match self {
            Self::Avatar | Self::CourseThumbnail => 10 * MIB,
            Self::LectureVideo => 5 * 1024 * MIB,
            Self::LectureAttachment => 100 * MIB,
        }
    }

    /// Images are served from a public URL; the rest only through
    /// short-lived signed links to those who may see them.
    pub fn is_public(self) -> bool {
        matches!(self, Self::Avatar | Self::CourseThumbnail)
    }

    /// The key prefix: visibility first, so a bucket policy (or the local
    /// server) can open `public/` and nothing else.
    pub(crate) fn key_prefix(self) -> &'static str {
        match self {
            Self::Avatar => "public/avatars",
            Self::CourseThumbnail => "public/thumbnails",
            Self::LectureVideo => "private/videos",
            Self::LectureAttachment => "private/attachments",
        }
    }
}

/// A request for an upload ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    /// `avatar`, `course_thumbnail`, `lecture_video` or `lecture_attachment`.
    pub purpose: String,
    /// The file's name on the uploader's machine (kept, sanitized, in the key).
    pub file_name: String,
    /// Its media type; the upload must send exactly this `Content-Type`.
    pub content_type: String,
    /// Its size in bytes; the upload must be exactly this long.
    pub size: i64,
    /// The course, for a course thumbnail.
    #[serde(default)]
    pub course_id: Option<CourseId>,
    /// The lecture, for a lecture video or attachment.
    #[serde(default)]
    pub lecture_id: Option<LectureId>,
}

/// Where and how to send the file: a presigned request valid until
/// `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTicket {
    /// Names the upload in `complete`.
    pub upload_id: AssetId,
    /// Always `PUT`.
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// Headers the request must carry exactly (`content-type`,
    /// `content-length`).
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    /// A ticket was issued; the file has not been confirmed.
    Pending,
    /// The file was found with the declared size and type and attached.
    Stored,
}

/// Where a lecture video is at the video provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VideoStatus {
    /// Handed to Mux, not playable yet.
    Processing,
    /// Playable through Mux.
    Ready,
    /// Mux could not process it.
    Errored,
    /// Deleted at Mux.
    Deleted,
}

impl VideoStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Errored => "errored",
            Self::Deleted => "deleted",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Processing, Self::Ready, Self::Errored, Self::Deleted]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Statuses only move forward: a delivery that would move one back (a
    /// late `ready` after `deleted`) changes nothing. Ready and errored are
    /// both outcomes of processing, so neither replaces the other.
    pub fn rank(self) -> u8 {
        match self {
            Self::Processing => 1,
            Self::Ready | Self::Errored => 2,
            Self::Deleted => 3,
        }
    }
}

/// An uploaded file and what it is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    /// Its id (the upload id).
    pub id: AssetId,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// What it is for.
    pub purpose: UploadPurpose,
    /// The course it belongs to (thumbnails, lecture files).
    pub course_id: Option<CourseId>,
    /// The lecture it belongs to (videos, attachments).
    pub lecture_id: Option<LectureId>,
    /// Its object-storage key.
    pub object_key: String,
    /// The sanitized file name.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// Pending until the upload is confirmed.
    pub status: AssetStatus,
    /// For a lecture video handed to Mux: where it is there.
    pub video_status: Option<VideoStatus>,
    /// The Mux asset, once created.
    pub mux_asset_id: Option<String>,
    /// The signed Mux playback id, once ready.
    pub playback_id: Option<String>,
    /// The video's length in seconds, once Mux measured it.
    pub duration_secs: Option<i64>,
    /// The public URL of a public image.
    pub public_url: Option<String>,
    /// When the ticket was issued.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When the upload ticket expires (or expired).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub upload_expires_at: Timestamp,
    /// When the upload was confirmed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub stored_at: Option<Timestamp>,
}

/// A file attached to a lecture, with a short-lived link to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// The asset id.
    pub id: AssetId,
    /// The file name.
    pub file_name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// A presigned GET, valid until `expires_at`.
    pub url: String,
    /// When the link stops working.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}

/// How to play a lecture's video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlaybackKind {
    /// Signed HLS from Mux.
    Mux,
    /// The source file through a presigned GET.
    File,
}

/// Which signed images a Mux playback answer carries besides the video.
/// Each is one more RS256 signature for a playback id not asked for in the
/// last minute, so a player asks only for those it shows: a poster before
/// play starts (`thumbnail`), previews on the timeline (`storyboard`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaybackOptions {
    /// Add `thumbnail_url` and `thumbnail_token` (audience `t`).
    pub thumbnail: bool,
    /// Add `storyboard_url` and `storyboard_token` (audience `s`).
    pub storyboard: bool,
}

/// A lecture's video, ready to hand to a player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Playback {
    /// The lecture.
    pub lecture_id: LectureId,
    /// `mux` (signed HLS) or `file` (the source file).
    pub kind: PlaybackKind,
    /// The HLS URL with its token, or the presigned file URL.
    pub url: String,
    /// The Mux playback id.
    pub playback_id: Option<String>,
    /// The playback token (also in `url`).
    pub token: Option<String>,
    /// A signed poster image URL (Mux only).
    pub thumbnail_url: Option<String>,
    /// The thumbnail token (also in `thumbnail_url`).
    pub thumbnail_token: Option<String>,
    /// Signed timeline preview tiles, a WebVTT storyboard (Mux only).
    pub storyboard_url: Option<String>,
    /// The storyboard token (also in `storyboard_url`).
    pub storyboard_token: Option<String>,
    /// The file's media type (file playback only).
    pub content_type: Option<String>,
    /// When the URLs stop working.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}

/// What a webhook delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// The event changed something.
    Applied,
    /// The event was valid but changed nothing (an unknown type, an
    /// unknown object, or a status that would move back).
    Ignored,
    /// The event id was seen before; nothing was done again.
    Duplicate,
}

/// The answer to a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookReceipt {
    /// What it did.
    pub outcome: WebhookOutcome,
}
