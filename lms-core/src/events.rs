//! The append-only event log: one row for every state change, written in the
//! same transaction as the change (a video's resume position alone is the
//! one exception, see [`kinds::PROGRESS_UPDATED`]). It is the audit trail,
//! and the outbox that outbound webhooks will read from.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::actor::Actor;
use crate::clock::Timestamp;

/// Event type names. Stable: hosts filter on them.
pub mod kinds {
    /// A user registered themselves.
    pub const USER_REGISTERED: &str = "user.registered";
    /// An admin or the system created a user.
    pub const USER_CREATED: &str = "user.created";
    /// Display name, bio or avatar changed.
    pub const USER_PROFILE_UPDATED: &str = "user.profile_updated";
    /// The password changed (by the user or an admin reset).
    pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
    /// An admin changed the role.
    pub const USER_ROLE_CHANGED: &str = "user.role_changed";
    /// An admin disabled the account.
    pub const USER_DISABLED: &str = "user.disabled";
    /// An admin enabled the account again.
    pub const USER_ENABLED: &str = "user.enabled";
    /// The account was deleted.
    pub const USER_DELETED: &str = "user.deleted";
    /// A password check began (a login, or a password change or account
    /// deletion confirming the password). It counts toward the lockout
    /// until it succeeds; the payload gives its number (`attempt`) and the
    /// lock it set on reaching the limit (`locked_until`, else null). A
    /// success shows as what it did (`session.started`,
    /// `user.password_changed`, `user.deleted`); a wrong password adds
    /// nothing, since it changes nothing more.
    pub const USER_LOGIN_ATTEMPTED: &str = "user.login_attempted";
    /// Every session of the user was revoked.
    pub const USER_SESSIONS_REVOKED: &str = "user.sessions_revoked";
    /// A login started a session.
    pub const SESSION_STARTED: &str = "session.started";
    /// A refresh token was rotated.
    pub const SESSION_REFRESHED: &str = "session.refreshed";
    /// The session was ended by logout.
    pub const SESSION_ENDED: &str = "session.ended";
    /// An already-rotated refresh token came back; the session was revoked.
    pub const SESSION_REUSE_DETECTED: &str = "session.reuse_detected";
    /// A course was created.
    pub const COURSE_CREATED: &str = "course.created";
    /// Course fields changed.
    pub const COURSE_UPDATED: &str = "course.updated";
    /// A course entered the catalog.
    pub const COURSE_PUBLISHED: &str = "course.published";
    /// A course went back to draft.
    pub const COURSE_UNPUBLISHED: &str = "course.unpublished";
    /// A course left the catalog; its learners keep access.
    pub const COURSE_ARCHIVED: &str = "course.archived";
    /// A course without enrollments was deleted with its tree.
    pub const COURSE_DELETED: &str = "course.deleted";
    /// A course and its tree were created or brought in line from an
    /// exported document.
    pub const COURSE_IMPORTED: &str = "course.imported";
    /// A section was added.
    pub const SECTION_CREATED: &str = "section.created";
    /// A section was renamed.
    pub const SECTION_UPDATED: &str = "section.updated";
    /// A section moved to another position.
    pub const SECTION_MOVED: &str = "section.moved";
    /// A section was deleted with its lectures.
    pub const SECTION_DELETED: &str = "section.deleted";
    /// A lecture was added.
    pub const LECTURE_CREATED: &str = "lecture.created";
    /// Lecture fields changed.
    pub const LECTURE_UPDATED: &str = "lecture.updated";
    /// A lecture moved (within its section or to another).
    pub const LECTURE_MOVED: &str = "lecture.moved";
    /// A lecture was deleted.
    pub const LECTURE_DELETED: &str = "lecture.deleted";
    /// A learner was enrolled (payload: source).
    pub const ENROLLMENT_CREATED: &str = "enrollment.created";
    /// A revoked or expired enrollment became active again, or a grant's
    /// expiry changed.
    pub const ENROLLMENT_RENEWED: &str = "enrollment.renewed";
    /// An enrollment was revoked; progress is kept.
    pub const ENROLLMENT_REVOKED: &str = "enrollment.revoked";
    /// A learner's first progress in a lecture, or its completion changed
    /// (payload: `lecture_id`, `completed`, `position_secs`). A resume
    /// position alone is not logged: a player reports it every few
    /// seconds, which would make the log mostly heartbeats. The position
    /// and the enrollment's `last_activity_at` still change.
    pub const PROGRESS_UPDATED: &str = "progress.updated";
    /// A learner's progress in a course was reset.
    pub const PROGRESS_RESET: &str = "progress.reset";
    /// A learner completed the last lecture of a course (set once).
    pub const COURSE_COMPLETED: &str = "course.completed";
    /// An upload ticket was issued (payload: purpose, lecture, type, size).
    pub const ASSET_UPLOAD_STARTED: &str = "asset.upload_started";
    /// An upload was confirmed in storage and attached to its target.
    pub const ASSET_STORED: &str = "asset.stored";
    /// A lecture video was handed to the video provider.
    pub const ASSET_VIDEO_PROCESSING: &str = "asset.video_processing";
    /// The video provider made a lecture video playable.
    pub const ASSET_VIDEO_READY: &str = "asset.video_ready";
    /// The video provider could not process a lecture video.
    pub const ASSET_VIDEO_ERRORED: &str = "asset.video_errored";
    /// The video was deleted at the provider.
    pub const ASSET_VIDEO_DELETED: &str = "asset.video_deleted";
    /// A live class was scheduled (payload: title, starts_at, room).
    pub const LIVE_SESSION_SCHEDULED: &str = "live_session.scheduled";
    /// A scheduled live class changed (payload: the changed field names).
    pub const LIVE_SESSION_UPDATED: &str = "live_session.updated";
    /// A scheduled live class was called off.
    pub const LIVE_SESSION_CANCELLED: &str = "live_session.cancelled";
    /// The live class's room opened (LiveKit `room_started`).
    pub const LIVE_SESSION_STARTED: &str = "live_session.started";
    /// The live class's room closed (LiveKit `room_finished`).
    pub const LIVE_SESSION_ENDED: &str = "live_session.ended";
    /// A streaming-software ingress was created for the class (payload:
    /// ingress id and type, never the stream key).
    pub const LIVE_SESSION_INGRESS_CREATED: &str = "live_session.ingress_created";
    /// A learner started a checkout (payload: provider, amounts, coupon).
    pub const ORDER_CREATED: &str = "order.created";
    /// An order's payment was confirmed and the learner enrolled.
    pub const ORDER_PAID: &str = "order.paid";
    /// An order was refunded in full; its enrollment was revoked.
    pub const ORDER_REFUNDED: &str = "order.refunded";
    /// Part of an order was refunded; the enrollment stays.
    pub const ORDER_PARTIALLY_REFUNDED: &str = "order.partially_refunded";
    /// The provider reported the payment failed.
    pub const ORDER_FAILED: &str = "order.failed";
    /// The checkout expired unpaid.
    pub const ORDER_EXPIRED: &str = "order.expired";
    /// A payment did not match its order (payload: reason); an admin
    /// decides.
    pub const ORDER_FLAGGED: &str = "order.flagged";
    /// A coupon was created.
    pub const COUPON_CREATED: &str = "coupon.created";
    /// A coupon was disabled.
    pub const COUPON_DISABLED: &str = "coupon.disabled";
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the log; strictly increasing, use it as the cursor.
    pub id: i64,
    /// Event type, one of [`kinds`].
    pub kind: String,
    /// What kind of thing changed (`user`, `session`).
    pub subject_type: String,
    /// Which one.
    pub subject_id: Uuid,
    /// The user the change concerns, when there is one.
    pub user_id: Option<Uuid>,
    /// The course the change concerns, when there is one.
    pub course_id: Option<Uuid>,
    /// Who did it: `anonymous`, `system` or `user`.
    pub actor_kind: String,
    /// The acting user, when a user acted.
    pub actor_id: Option<Uuid>,
    /// Details: ids and changed field names, never secrets or contact data.
    pub payload: Value,
    /// When it happened.
    pub created_at: Timestamp,
}

/// An event about to be written by a store step.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Event type, one of [`kinds`].
    pub kind: &'static str,
    /// `user`, `session`, ...
    pub subject_type: &'static str,
    /// Which one.
    pub subject_id: Uuid,
    /// The user the change concerns.
    pub user_id: Option<Uuid>,
    /// The course the change concerns.
    pub course_id: Option<Uuid>,
    /// Who did it: `anonymous`, `system` or `user`.
    pub actor_kind: &'static str,
    /// The acting user, when a user acted.
    pub actor_id: Option<Uuid>,
    /// Details.
    pub payload: Value,
}

impl NewEvent {
    /// An event about a user.
    pub fn user(kind: &'static str, user: Uuid, actor: Actor, payload: Value) -> Self {
        let (actor_kind, actor_id) = actor.log_parts();
        Self {
            kind,
            subject_type: "user",
            subject_id: user,
            user_id: Some(user),
            course_id: None,
            actor_kind,
            actor_id,
            payload,
        }
    }

    /// An event about a course or a part of it (`subject_type` `course`,
    /// `section`, `lecture`, `enrollment`), optionally concerning a user.
    pub fn course(
        kind: &'static str,
        subject_type: &'static str,
        subject_id: Uuid,
        course: Uuid,
        user: Option<Uuid>,
        actor: Actor,
        payload: Value,
    ) -> Self {
        let (actor_kind, actor_id) = actor.log_parts();
        Self {
            kind,
            subject_type,
            subject_id,
            user_id: user,
            course_id: Some(course),
            actor_kind,
            actor_id,
            payload,
        }
    }

    /// An event about a login session, done by the session's own user.
    pub fn session(kind: &'static str, session: Uuid, user: Uuid, payload: Value) -> Self {
        Self {
            kind,
            subject_type: "session",
            subject_id: session,
            user_id: Some(user),
            course_id: None,
            actor_kind: "user",
            actor_id: Some(user),
            payload,
        }
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this id (the cursor).
    pub after: Option<i64>,
    /// Only events of this type.
    pub kind: Option<String>,
    /// Only events concerning this user.
    pub user_id: Option<Uuid>,
    /// Only events concerning this course.
    pub course_id: Option<Uuid>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

impl EventQuery {
    /// Largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size to use.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, Self::MAX_LIMIT)
    }
}
