//! Store steps of uploads, assets and video-provider deliveries.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::catalog::{CourseStatus, LectureKind};
use crate::clock::Timestamp;
use crate::domain::{AssetId, CourseId, LectureId, UserId};
use crate::error::Result;
use crate::media::{Asset, UploadPurpose, VideoStatus, WebhookOutcome};

/// An asset to record when its upload ticket is issued.
#[derive(Debug, Clone)]
pub struct NewAsset {
    /// Fresh id (the upload id).
    pub id: AssetId,
    /// The uploader.
    pub owner_id: UserId,
    /// What it is for.
    pub purpose: UploadPurpose,
    /// The course (thumbnails, and the lecture's course for lecture files).
    pub course_id: Option<CourseId>,
    /// The lecture (videos, attachments).
    pub lecture_id: Option<LectureId>,
    /// The key the server chose.
    pub object_key: String,
    /// Sanitized file name.
    pub file_name: String,
    /// Declared media type.
    pub content_type: String,
    /// Declared size.
    pub size: i64,
    /// When the ticket expires.
    pub upload_expires_at: Timestamp,
}

/// A provider's delivery, identified so a second one is recognized.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// `mux`, `livekit`, `stripe`...
    pub provider: &'static str,
    /// The provider's event id.
    pub event_id: String,
    /// The provider's event type.
    pub event_type: String,
}

/// What a video-provider event says about one asset.
#[derive(Debug, Clone)]
pub struct VideoChange {
    /// Our asset id, from the provider's passthrough field.
    pub asset_id: Option<AssetId>,
    /// The provider's asset id.
    pub provider_asset_id: String,
    /// The new status.
    pub status: VideoStatus,
    /// The signed playback id (when ready).
    pub playback_id: Option<String>,
    /// The measured length (when ready).
    pub duration_secs: Option<i64>,
}

/// Everything deciding whether and how a user may play a lecture's video,
/// read in one round trip.
#[derive(Debug, Clone)]
pub struct PlaybackAccess {
    /// The lecture's course.
    pub course_id: CourseId,
    /// The course's owner.
    pub owner_id: UserId,
    /// The course's status.
    pub course_status: CourseStatus,
    /// Whether the lecture is a free preview.
    pub free_preview: bool,
    /// Video or article.
    pub kind: LectureKind,
    /// Whether the asking user has a live enrollment.
    pub enrolled: bool,
    /// The lecture's video, if one is attached.
    pub video: Option<Asset>,
}

/// Uploads, assets and provider deliveries.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records a pending asset when its ticket is issued. Event
    /// `asset.upload_started`.
    async fn create_asset(&self, new: NewAsset, actor: Actor, at: Timestamp) -> Result<Asset>;

    /// An asset by id.
    async fn asset(&self, id: AssetId) -> Result<Option<Asset>>;

    /// The asset stored under `key`, if any.
    async fn asset_by_key(&self, key: &str) -> Result<Option<Asset>>;

    /// Marks a pending asset stored and attaches it, in one transaction:
    /// an avatar becomes its owner's `avatar_key`, a thumbnail its course's
    /// `thumbnail_key`, a video its lecture's video; an attachment is
    /// listed with its lecture from then on. An asset already stored comes
    /// back as it is (a second complete changes nothing). A target deleted
    /// meanwhile is `not_found`. Event `asset.stored`.
    async fn store_asset(&self, id: AssetId, actor: Actor, at: Timestamp) -> Result<Asset>;

    /// Records the video provider's asset for a stored video (status
    /// `processing`), unless one is recorded already. Event
    /// `asset.video_processing`.
    async fn set_video_asset(
        &self,
        id: AssetId,
        provider_asset_id: &str,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Asset>;

    /// Applies a verified provider delivery once: the delivery is recorded
    /// by (provider, event id) in the same transaction as its effect, so a
    /// redelivery is a `Duplicate` that changes nothing. A change moves the
    /// video status forward only; `ready` also writes the duration to the
    /// lecture playing it. Event `asset.video_<status>`.
    async fn apply_video_event(
        &self,
        delivery: WebhookDelivery,
        change: Option<VideoChange>,
        at: Timestamp,
    ) -> Result<WebhookOutcome>;

    /// The lecture, its course's access facts for `user`, and its video, or
    /// `None` when the lecture does not exist.
    async fn playback_access(
        &self,
        lecture: LectureId,
        user: Option<UserId>,
        at: Timestamp,
    ) -> Result<Option<PlaybackAccess>>;

    /// The stored attachments of a lecture, oldest first.
    async fn lecture_attachments(&self, lecture: LectureId) -> Result<Vec<Asset>>;
}
