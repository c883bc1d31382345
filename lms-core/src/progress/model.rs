//! Progress as callers see it.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::{CourseId, LectureId};
use crate::enrollment::ProgressFigures;

/// A learner's progress in one lecture, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LectureProgress {
    /// The lecture.
    pub lecture_id: LectureId,
    /// When it was marked complete.
    pub completed_at: Option<Timestamp>,
    /// Resume position in seconds.
    pub position_secs: i64,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// One lecture's state in a course progress report, in outline order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LectureState {
    /// The lecture.
    pub lecture_id: LectureId,
    /// Whether it is complete.
    pub completed: bool,
    /// Resume position in seconds.
    pub position_secs: i64,
}

/// A learner's progress in a course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourseProgress {
    /// The course.
    pub course_id: CourseId,
    /// Completed, total, percent.
    #[serde(flatten)]
    pub figures: ProgressFigures,
    /// When every lecture was first complete (set once).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// The first lecture in outline order not yet complete.
    pub next_lecture_id: Option<LectureId>,
    /// The lecture touched last (continue where you left off).
    pub last_lecture_id: Option<LectureId>,
    /// Every lecture in outline order.
    pub lectures: Vec<LectureState>,
}

/// What recording progress answers: the lecture as it now stands and the
/// course's figures. A player reports its position every few seconds, so
/// the other lectures are left out; [`CourseProgress`] has them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdatedProgress {
    /// The course.
    pub course_id: CourseId,
    /// Completed, total, percent.
    #[serde(flatten)]
    pub figures: ProgressFigures,
    /// When every lecture was first complete (set once).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// The first lecture in outline order not yet complete.
    pub next_lecture_id: Option<LectureId>,
    /// The lecture touched last (continue where you left off).
    pub last_lecture_id: Option<LectureId>,
    /// The lecture the progress was recorded in.
    pub lecture: LectureState,
}
