//! Enrollments as callers see them.

use serde::{Deserialize, Serialize};

use crate::catalog::CourseStatus;
use crate::clock::Timestamp;
use crate::domain::{CourseId, EnrollmentId, LectureId, UserId};
use crate::error::Error;

/// Why a learner has access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentSource {
    /// They enrolled in a free course.
    Free,
    /// The owner or an admin granted it.
    Grant,
    /// They paid.
    Purchase,
}

impl EnrollmentSource {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Grant => "grant",
            Self::Purchase => "purchase",
        }
    }

    /// Parses a stored name.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw {
            "free" => Ok(Self::Free),
            "grant" => Ok(Self::Grant),
            "purchase" => Ok(Self::Purchase),
            _ => Err(Error::invalid_field(
                field,
                "must be free, grant or purchase",
            )),
        }
    }
}

/// Whether an enrollment gives access now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// It does.
    Active,
    /// The owner or an admin took it away; progress is kept.
    Revoked,
    /// Its expiry date has passed.
    Expired,
}

/// Who took an enrollment away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RevokedBy {
    /// The course's owner or an admin: the learner may not buy their way
    /// back in; only a grant restores access.
    Owner,
    /// The full refund of the purchase that gave it: the learner may buy
    /// the course again.
    Refund,
}

/// A learner's enrollment in a course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrollment {
    /// The enrollment id.
    pub id: EnrollmentId,
    /// The course.
    pub course_id: CourseId,
    /// The learner.
    pub user_id: UserId,
    /// Why they have access.
    pub source: EnrollmentSource,
    /// Active, revoked, or expired by date.
    pub status: EnrollmentStatus,
    /// When access ends (`None`: never).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Timestamp>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When it was revoked.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it, while it is revoked.
    pub revoked_by: Option<RevokedBy>,
    /// When the learner first completed every lecture.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<Timestamp>,
    /// The lecture the learner touched last (continue where you left off).
    pub last_lecture_id: Option<LectureId>,
    /// When the learner last recorded progress.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_activity_at: Option<Timestamp>,
}

impl Enrollment {
    /// Whether it gives access at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.status == EnrollmentStatus::Active && self.expires_at.is_none_or(|end| end > now)
    }

    /// Reports an active enrollment past its expiry as expired. Stores
    /// keep only active or revoked; expiry is a matter of the clock.
    pub(crate) fn status_at(mut self, now: Timestamp) -> Self {
        if self.status == EnrollmentStatus::Active && !self.is_live(now) {
            self.status = EnrollmentStatus::Expired;
        }
        self
    }
}

/// Completed and total lectures, and the percentage (rounded down, so 100
/// means every lecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressFigures {
    /// Lectures completed.
    pub completed_lectures: i64,
    /// Lectures in the course now.
    pub total_lectures: i64,
    /// `completed * 100 / total`, rounded down; 0 for an empty course.
    pub percent: i64,
}

impl ProgressFigures {
    /// Figures from the two counts.
    pub fn new(completed: i64, total: i64) -> Self {
        let percent = if total > 0 {
            completed.min(total) * 100 / total
        } else {
            0
        };
        Self {
            completed_lectures: completed,
            total_lectures: total,
            percent,
        }
    }
}

/// What a learner's list shows of an enrolled course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolledCourse {
    /// The course id.
    pub id: CourseId,
    /// Its slug.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its thumbnail key.
    pub thumbnail_key: Option<String>,
    /// Its status (archived courses stay open to their learners).
    pub status: CourseStatus,
}

/// One row of a learner's enrollments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LearnerEnrollment {
    /// The enrollment.
    pub enrollment: Enrollment,
    /// The course.
    pub course: EnrolledCourse,
    /// Progress figures.
    pub progress: ProgressFigures,
}

/// One row of a course's enrollees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrollee {
    /// The enrollment.
    pub enrollment: Enrollment,
    /// The learner's e-mail.
    pub email: String,
    /// The learner's name.
    pub display_name: String,
    /// Progress figures.
    pub progress: ProgressFigures,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_down_and_an_empty_course_is_zero() {
        assert_eq!(ProgressFigures::new(1, 3).percent, 33);
        assert_eq!(ProgressFigures::new(199, 200).percent, 99);
        assert_eq!(ProgressFigures::new(3, 3).percent, 100);
        assert_eq!(ProgressFigures::new(0, 0).percent, 0);
    }
}
