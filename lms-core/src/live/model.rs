//! Live-class requests and records, the same serde structs on every face.

use serde::{Deserialize, Serialize};

use crate::accounts::not_null;
use crate::clock::Timestamp;
use crate::domain::{CourseId, LiveSessionId, UserId};
use crate::error::Error;

/// Where a live class is in its life. It moves forward only: scheduled,
/// then live when its room opens, then ended when the room closes. A
/// scheduled class may instead be cancelled, which is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// Announced; its room has not opened yet.
    Scheduled,
    /// Its LiveKit room is open.
    Live,
    /// Its room closed; no more tokens are issued.
    Ended,
    /// Called off before it started; no tokens are issued.
    Cancelled,
}

impl LiveStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Scheduled, Self::Live, Self::Ended, Self::Cancelled];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether people may still join: tokens and ingresses only then.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Scheduled | Self::Live)
    }
}

/// How streaming software sends video into the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IngressType {
    /// RTMP(S), what OBS and most encoders speak.
    Rtmp,
    /// WHIP (WebRTC-HTTP ingestion).
    Whip,
}

impl IngressType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rtmp => "rtmp",
            Self::Whip => "whip",
        }
    }

    /// Parses a requested or stored name (`rtmp`, `whip`, any case, or
    /// LiveKit's `RTMP_INPUT`, `WHIP_INPUT`), naming `field` when it refuses.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "rtmp" | "rtmp_input" => Ok(Self::Rtmp),
            "whip" | "whip_input" => Ok(Self::Whip),
            _ => Err(Error::invalid_field(field, "must be rtmp or whip")),
        }
    }

    /// LiveKit's name of the input type.
    pub fn livekit_name(self) -> &'static str {
        match self {
            Self::Rtmp => "RTMP_INPUT",
            Self::Whip => "WHIP_INPUT",
        }
    }
}

/// A request to schedule a live class.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LiveSessionInput {
    /// 1 to 200 characters, one line.
    pub title: String,
    /// When it is planned to start (UTC). At most an hour in the past, so a
    /// class can be opened on the spot, and at most two years ahead.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Timestamp,
}

/// Changes to a scheduled live class; absent fields stay as they are,
/// and `null` is refused (422).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LiveSessionUpdate {
    /// A new title.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub title: Option<String>,
    /// A new start.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Option<Timestamp>,
}

/// A request for an ingress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IngressInput {
    /// `rtmp` or `whip`.
    pub input_type: String,
}

/// Where streaming software sends the class. The stream key lets anyone
/// who holds it broadcast into the room: only the course's owner and
/// admins ever see this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveIngress {
    /// LiveKit's ingress id.
    pub ingress_id: String,
    /// RTMP or WHIP.
    pub input_type: IngressType,
    /// The server URL to give the encoder.
    pub url: String,
    /// The stream key to give the encoder.
    pub stream_key: String,
}

/// A live class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveSession {
    /// Its id.
    pub id: LiveSessionId,
    /// The course it belongs to.
    pub course_id: CourseId,
    /// Its title.
    pub title: String,
    /// When it is planned to start.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Timestamp,
    /// Scheduled, live, ended or cancelled.
    pub status: LiveStatus,
    /// The LiveKit room (`lms-<id>`).
    pub room_name: String,
    /// Who scheduled it.
    pub created_by: UserId,
    /// The ingress, when one was created; shown to the owner and admins only.
    pub ingress: Option<LiveIngress>,
    /// When it was scheduled.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When its room opened.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    /// When its room closed, or when it was cancelled.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_at: Option<Timestamp>,
}

/// What a participant may do in the room, as the token grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LiveRole {
    /// The course's owner or an admin: publishes and moderates.
    Host,
    /// An enrolled learner: watches, chats (data messages), never publishes media.
    Viewer,
}

/// A LiveKit access token and where to use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveToken {
    /// The live class.
    pub live_session_id: LiveSessionId,
    /// The LiveKit server URL for the client SDK (`wss://...`).
    pub url: String,
    /// The room the token joins.
    pub room_name: String,
    /// The participant identity (the user id).
    pub identity: String,
    /// Host or viewer.
    pub role: LiveRole,
    /// The JWT.
    pub token: String,
    /// When the token stops admitting (joined participants stay).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}
