//! Store steps of live classes and LiveKit deliveries.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::clock::Timestamp;
use crate::domain::{CourseId, LiveSessionId, UserId};
use crate::error::Result;
use crate::live::{LiveIngress, LiveSession, LiveStatus};
use crate::media::WebhookOutcome;
use crate::store::media::WebhookDelivery;

/// A live class to schedule, already validated.
#[derive(Debug, Clone)]
pub struct NewLiveSession {
    /// Fresh id.
    pub id: LiveSessionId,
    /// Its course.
    pub course_id: CourseId,
    /// Checked title.
    pub title: String,
    /// Planned start.
    pub starts_at: Timestamp,
    /// The LiveKit room, unique.
    pub room_name: String,
    /// Who schedules it.
    pub created_by: UserId,
}

/// Fields to change on a scheduled class; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct LiveSessionChanges {
    /// New title.
    pub title: Option<String>,
    /// New start.
    pub starts_at: Option<Timestamp>,
}

/// What a room event says: the room named `room_name` is now `status`
/// (`Live` or `Ended`).
#[derive(Debug, Clone)]
pub struct RoomChange {
    /// The LiveKit room.
    pub room_name: String,
    /// The status it moves the class to.
    pub status: LiveStatus,
}

/// Live classes and LiveKit deliveries.
#[async_trait]
pub trait LiveStore: Send + Sync {
    /// Schedules a class. A course deleted meanwhile is `not_found`. Event
    /// `live_session.scheduled`.
    async fn create_live_session(
        &self,
        new: NewLiveSession,
        actor: Actor,
        at: Timestamp,
    ) -> Result<LiveSession>;

    /// A class by id.
    async fn live_session(&self, id: LiveSessionId) -> Result<Option<LiveSession>>;

    /// A course's classes by start, then id.
    async fn course_live_sessions(&self, course: CourseId) -> Result<Vec<LiveSession>>;

    /// Changes a class that is still scheduled (`conflict` otherwise); a
    /// change to the values it has writes nothing. Event
    /// `live_session.updated`.
    async fn update_live_session(
        &self,
        id: LiveSessionId,
        changes: LiveSessionChanges,
        actor: Actor,
        at: Timestamp,
    ) -> Result<LiveSession>;

    /// Cancels a scheduled class; one cancelled already comes back as it
    /// is, a live or ended one is a `conflict`. Event
    /// `live_session.cancelled`.
    async fn cancel_live_session(
        &self,
        id: LiveSessionId,
        actor: Actor,
        at: Timestamp,
    ) -> Result<LiveSession>;

    /// Records the ingress created for a class that is still open
    /// (`conflict` when it ended or was cancelled meanwhile, or already
    /// has one). Event `live_session.ingress_created`.
    async fn set_live_ingress(
        &self,
        id: LiveSessionId,
        ingress: &LiveIngress,
        actor: Actor,
        at: Timestamp,
    ) -> Result<LiveSession>;

    /// Applies a verified LiveKit delivery once: the delivery is recorded
    /// by (provider, event id) in the same transaction as its effect, so a
    /// redelivery is a `Duplicate`. Statuses only move forward (scheduled,
    /// live, ended); a cancelled class and unknown rooms are `Ignored`.
    /// Events `live_session.started`, `live_session.ended`.
    async fn apply_room_event(
        &self,
        delivery: WebhookDelivery,
        change: Option<RoomChange>,
        at: Timestamp,
    ) -> Result<WebhookOutcome>;
}
