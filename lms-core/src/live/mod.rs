//! Live classes: LiveKit rooms scheduled on a course.
//!
//! The course's owner and admins schedule, change and cancel classes and
//! join them as hosts (publish, moderate); learners with a live enrollment
//! see them and join as viewers (watch and chat, never publish media).
//! Everyone else is refused as for the course's lectures. A class's
//! status follows its room: LiveKit's `room_started` makes it live,
//! `room_finished` ends it, and it never moves back. Cancelling is for a
//! class that has not started; an ended or cancelled class issues no
//! tokens.
//!
//! - [`model`]: requests and records.
//! - [`livekit`]: token signing, webhook checks, the ingress API call.

pub mod livekit;
pub mod model;

use std::time::Duration;

pub use livekit::{LiveKit, VideoGrant};
pub use model::{
    IngressInput, IngressType, LiveIngress, LiveRole, LiveSession, LiveSessionInput,
    LiveSessionUpdate, LiveStatus, LiveToken,
};

use crate::Lms;
use crate::actor::Actor;
use crate::catalog::{Course, CourseStatus, manages};
use crate::clock::Timestamp;
use crate::domain::{CourseId, LiveSessionId, Title};
use crate::error::{Error, Result, check, finish};
use crate::media::WebhookReceipt;
use crate::store::courses::CourseKey;
use crate::store::live::{LiveSessionChanges, NewLiveSession, RoomChange};
use crate::store::media::WebhookDelivery;

/// How far in the past a class may be scheduled: enough to open one on the
/// spot, or to record one that just began.
const EARLIEST_START: Duration = Duration::from_secs(3600);
/// How far ahead a class may be scheduled.
const LATEST_START: Duration = Duration::from_secs(2 * 365 * 24 * 3600);

/// The `webhook_events` provider name of LiveKit deliveries.
const PROVIDER: &str = "livekit";

fn check_start(field: &str, starts_at: Timestamp, now: Timestamp) -> Result<Timestamp> {
    let earliest = now - chrono::Duration::from_std(EARLIEST_START).expect("small");
    let latest = now + chrono::Duration::from_std(LATEST_START).expect("small");
    if starts_at < earliest {
        Err(Error::invalid_field(
            field,
            "must not be more than an hour in the past",
        ))
    } else if starts_at > latest {
        Err(Error::invalid_field(
            field,
            "must be at most two years ahead",
        ))
    } else {
        Ok(crate::clock::stored(starts_at))
    }
}

/// The room of a class: derived from its id, so unique and stable.
fn room_name(id: LiveSessionId) -> String {
    format!("lms-{id}")
}

/// What a LiveKit event says about a room, if anything we track.
fn room_change(event: &livekit::LiveKitEvent) -> Option<RoomChange> {
    let status = match event.event.as_str() {
        "room_started" => LiveStatus::Live,
        "room_finished" => LiveStatus::Ended,
        _ => return None,
    };
    let room = event.room.as_ref()?;
    if room.name.is_empty() {
        return None;
    }
    Some(RoomChange {
        room_name: room.name.clone(),
        status,
    })
}

impl Lms {
    /// LiveKit, when configured.
    pub fn livekit(&self) -> Option<&LiveKit> {
        self.inner.livekit.as_ref()
    }

    fn require_livekit(&self) -> Result<&LiveKit> {
        self.livekit()
            .ok_or_else(|| Error::not_found("LiveKit is not configured"))
    }

    /// The course and how `actor` takes part in its classes: the owner and
    /// admins host, learners with a live enrollment watch. Who may not see
    /// the course gets `not_found` (with `missing`), who sees it without
    /// an enrollment `forbidden`, anonymous callers `unauthenticated`.
    async fn live_access(
        &self,
        actor: &Actor,
        course: CourseId,
        missing: &str,
    ) -> Result<(Course, LiveRole)> {
        let course = self
            .store()
            .course(&CourseKey::Id(course))
            .await?
            .ok_or_else(|| Error::not_found(missing))?
            .course;
        if manages(actor, &course) {
            return Ok((course, LiveRole::Host));
        }
        let enrolled = self.live_enrollment(actor, course.id).await?;
        let visible = match course.status {
            CourseStatus::Published => true,
            CourseStatus::Archived => enrolled,
            CourseStatus::Draft => false,
        };
        if !visible {
            Err(Error::not_found(missing))
        } else if enrolled {
            Ok((course, LiveRole::Viewer))
        } else if matches!(actor, Actor::Anonymous) {
            Err(Error::unauthenticated(
                "sign in and enroll to join this course's live classes",
            ))
        } else {
            Err(Error::forbidden(
                "enroll in this course to join its live classes",
            ))
        }
    }

    /// A class and how `actor` takes part in it.
    async fn live_session_for(
        &self,
        actor: &Actor,
        id: LiveSessionId,
    ) -> Result<(LiveSession, LiveRole)> {
        let missing = "live session not found";
        let session = self
            .store()
            .live_session(id)
            .await?
            .ok_or_else(|| Error::not_found(missing))?;
        let (_, role) = self.live_access(actor, session.course_id, missing).await?;
        Ok((session, role))
    }

    /// A class `actor` may manage: `forbidden` for its viewers.
    async fn managed_live_session(&self, actor: &Actor, id: LiveSessionId) -> Result<LiveSession> {
        match self.live_session_for(actor, id).await? {
            (session, LiveRole::Host) => Ok(session),
            (_, LiveRole::Viewer) => Err(Error::forbidden(
                "only the course's owner or an admin may do this",
            )),
        }
    }

    /// The class as `role` may see it: the ingress (its stream key lets
    /// anyone broadcast into the room) only for hosts.
    fn live_presented(mut session: LiveSession, role: LiveRole) -> LiveSession {
        if role == LiveRole::Viewer {
            session.ingress = None;
        }
        session
    }

    /// Schedules a live class on a course: its owner and admins.
    pub async fn create_live_session(
        &self,
        actor: &Actor,
        course: CourseId,
        input: LiveSessionInput,
    ) -> Result<LiveSession> {
        let course = self.managed_course(actor, course).await?;
        let now = self.now();
        let mut errors = Vec::new();
        let title = check(Title::parse("title", &input.title), &mut errors);
        let starts_at = check(check_start("starts_at", input.starts_at, now), &mut errors);
        let (title, starts_at) = finish(errors, || (title, starts_at))?;
        let id = LiveSessionId::new();
        self.store()
            .create_live_session(
                NewLiveSession {
                    id,
                    course_id: course.id,
                    title: title.expect("checked").as_str().to_owned(),
                    starts_at: starts_at.expect("checked"),
                    room_name: room_name(id),
                    // The operator schedules in the owner's name.
                    created_by: actor.user_id().unwrap_or(course.owner_id),
                },
                *actor,
                now,
            )
            .await
    }

    /// A course's live classes by start: for its owner, admins and
    /// learners with a live enrollment.
    pub async fn live_sessions(&self, actor: &Actor, course: CourseId) -> Result<Vec<LiveSession>> {
        let (course, role) = self.live_access(actor, course, "course not found").await?;
        Ok(self
            .store()
            .course_live_sessions(course.id)
            .await?
            .into_iter()
            .map(|s| Self::live_presented(s, role))
            .collect())
    }

    /// A live class, for those who may list its course's classes.
    pub async fn live_session(&self, actor: &Actor, id: LiveSessionId) -> Result<LiveSession> {
        let (session, role) = self.live_session_for(actor, id).await?;
        Ok(Self::live_presented(session, role))
    }

    /// Changes the title or start of a scheduled class: the owner and
    /// admins. An empty change returns the class as it is.
    pub async fn update_live_session(
        &self,
        actor: &Actor,
        id: LiveSessionId,
        update: LiveSessionUpdate,
    ) -> Result<LiveSession> {
        let current = self.managed_live_session(actor, id).await?;
        let now = self.now();
        let mut errors = Vec::new();
        let title = update
            .title
            .as_deref()
            .and_then(|t| check(Title::parse("title", t), &mut errors))
            .map(|t| t.as_str().to_owned());
        let starts_at = update
            .starts_at
            .and_then(|s| check(check_start("starts_at", s, now), &mut errors));
        let changes = finish(errors, || LiveSessionChanges { title, starts_at })?;
        if changes.title.is_none() && changes.starts_at.is_none() {
            return Ok(current);
        }
        self.store()
            .update_live_session(id, changes, *actor, now)
            .await
    }

    /// Cancels a class that has not started: the owner and admins.
    /// Cancelling again changes nothing; a live or ended class is a
    /// `conflict`.
    pub async fn cancel_live_session(
        &self,
        actor: &Actor,
        id: LiveSessionId,
    ) -> Result<LiveSession> {
        self.managed_live_session(actor, id).await?;
        self.store()
            .cancel_live_session(id, *actor, self.now())
            .await
    }

    /// A LiveKit access token for the class's room, valid for
    /// `livekit_token_ttl_secs`: hosts (owner, admins) may publish,
    /// subscribe, send data and moderate; viewers (enrolled learners) may
    /// subscribe and send data, with an explicit `canPublish: false`. The
    /// identity is the user id, the name their display name. An ended or
    /// cancelled class is a `conflict`.
    pub async fn live_token(&self, actor: &Actor, id: LiveSessionId) -> Result<LiveToken> {
        let user = actor.require_user()?;
        let (session, role) = self.live_session_for(actor, id).await?;
        if !session.status.is_open() {
            return Err(Error::conflict(format!(
                "the live session is {}",
                session.status.as_str()
            )));
        }
        let livekit = self.require_livekit()?;
        let name = self
            .store()
            .user(user)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| Error::unauthenticated("the account no longer exists"))?
            .user
            .display_name;
        let now = self.now();
        let identity = user.to_string();
        let ttl = Duration::from_secs(self.config().livekit_token_ttl_secs);
        let (token, exp) =
            livekit.access_token(&identity, &name, &session.room_name, role, now, ttl)?;
        Ok(LiveToken {
            live_session_id: session.id,
            url: livekit.url().to_owned(),
            room_name: session.room_name,
            identity,
            role,
            token,
            expires_at: chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now),
        })
    }

    /// Creates a LiveKit ingress (RTMP or WHIP) into the class's room, so
    /// the host can broadcast from OBS or another encoder, and records it
    /// on the class: the owner and admins, while the class is open. The
    /// encoder joins as `ingress-<class id>` under the owner's name. Asking
    /// again for the same type returns the recorded ingress without a new
    /// call; another type is a `conflict`.
    pub async fn create_ingress(
        &self,
        actor: &Actor,
        id: LiveSessionId,
        input: IngressInput,
    ) -> Result<LiveIngress> {
        let session = self.managed_live_session(actor, id).await?;
        let input_type = IngressType::parse("input_type", &input.input_type)?;
        if let Some(ingress) = session.ingress {
            return if ingress.input_type == input_type {
                Ok(ingress)
            } else {
                Err(Error::conflict(format!(
                    "the live session has a {} ingress already",
                    ingress.input_type.as_str()
                )))
            };
        }
        if !session.status.is_open() {
            return Err(Error::conflict(format!(
                "the live session is {}",
                session.status.as_str()
            )));
        }
        let livekit = self.require_livekit()?;
        let course = self
            .store()
            .course(&CourseKey::Id(session.course_id))
            .await?
            .ok_or_else(|| Error::not_found("live session not found"))?
            .course;
        let host = self
            .store()
            .user(course.owner_id)
            .await?
            .map(|r| r.user.display_name)
            .unwrap_or_else(|| "Host".to_owned());
        let now = self.now();
        let ingress = livekit
            .create_ingress(
                input_type,
                &session.title,
                &session.room_name,
                &format!("ingress-{}", session.id),
                &host,
                now,
            )
            .await?;
        let recorded = self
            .store()
            .set_live_ingress(id, &ingress, *actor, now)
            .await?;
        recorded
            .ingress
            .ok_or_else(|| Error::internal("recorded ingress missing"))
    }

    /// A LiveKit webhook delivery: the `Authorization` header must be a
    /// JWT (no `Bearer`) signed with the API secret for the API key,
    /// current, whose `sha256` claim is the body's digest (compared in
    /// constant time). The event is applied once by its id: `room_started`
    /// makes the room's class live, `room_finished` ends it, forward only.
    /// Other events and unknown rooms are accepted and change nothing.
    pub async fn livekit_webhook(
        &self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookReceipt> {
        let livekit = self.require_livekit()?;
        let now = self.now();
        let event = livekit.verify_webhook(authorization, body, now)?;
        let change = room_change(&event);
        let outcome = self
            .store()
            .apply_room_event(
                WebhookDelivery {
                    provider: PROVIDER,
                    event_id: event.id.clone(),
                    event_type: event.event.clone(),
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

    fn at(unix: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn a_start_may_be_an_hour_back_and_two_years_ahead() {
        let now = at(1_000_000_000);
        assert!(check_start("starts_at", at(1_000_000_000 - 3600), now).is_ok());
        let err = check_start("starts_at", at(1_000_000_000 - 3601), now).unwrap_err();
        assert_eq!(err.fields()[0].field, "starts_at");
        assert!(check_start("starts_at", at(1_000_000_000 + 700 * 86400), now).is_ok());
        assert!(check_start("starts_at", at(1_000_000_000 + 740 * 86400), now).is_err());
    }

    #[test]
    fn only_room_started_and_finished_move_a_class() {
        let event = |kind: &str, room: &str| livekit::LiveKitEvent {
            id: "EV".into(),
            event: kind.into(),
            room: Some(livekit::EventRoom { name: room.into() }),
        };
        let started = room_change(&event("room_started", "lms-1")).unwrap();
        assert_eq!(
            (started.room_name.as_str(), started.status),
            ("lms-1", LiveStatus::Live)
        );
        let finished = room_change(&event("room_finished", "lms-1")).unwrap();
        assert_eq!(finished.status, LiveStatus::Ended);
        assert!(room_change(&event("participant_joined", "lms-1")).is_none());
        assert!(room_change(&event("room_started", "")).is_none());
    }
}
