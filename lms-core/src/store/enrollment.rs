//! Store steps of enrollments and progress.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::clock::Timestamp;
use crate::domain::{CourseId, Email, EnrollmentId, LectureId, UserId};
use crate::enrollment::{Enrollee, Enrollment, EnrollmentSource, LearnerEnrollment};
use crate::error::Result;
use crate::progress::{LectureProgress, LectureState};

/// Most rows one bulk grant takes.
pub const MAX_BULK_GRANT: usize = 1000;

/// An enrollment to create or renew.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    /// The course.
    pub course: CourseId,
    /// The learner.
    pub user: UserId,
    /// Why they get access.
    pub source: EnrollmentSource,
    /// When access ends (`None`: never).
    pub expires_at: Option<Timestamp>,
}

/// What an enroll step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollOutcome {
    /// A new enrollment.
    Created,
    /// A revoked or expired enrollment is active again, or its expiry changed.
    Renewed,
    /// Already enrolled just so: nothing changed.
    Unchanged,
}

/// A change to one lecture's progress; `None` leaves a part as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgressChange {
    /// Mark complete (`true`) or not complete (`false`).
    pub completed: Option<bool>,
    /// Resume position in seconds (video lectures).
    pub position_secs: Option<i64>,
}

/// What recording progress did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressRecorded {
    /// Whether anything changed.
    pub changed: bool,
    /// Whether this change completed the course (first time only).
    pub course_completed: bool,
}

/// A learner's standing in a course right after recording progress: what
/// the answer to the learner is built from, read in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressWritten {
    /// What the step did.
    pub recorded: ProgressRecorded,
    /// The enrollment after the step.
    pub enrollment: Enrollment,
    /// After the step, the state of the lecture it wrote and of every
    /// lecture the learner has completed in the course; maybe others
    /// (in no particular order). Positions elsewhere are left out: a
    /// player reports its position every few seconds, and reading every
    /// lecture's for each report would be most of its cost.
    pub lectures: Vec<LectureState>,
}

/// Enrollments and progress.
#[async_trait]
pub trait EnrollmentStore: Send + Sync {
    /// The enrollment of `user` in `course`, whatever its status.
    async fn enrollment(&self, course: CourseId, user: UserId) -> Result<Option<Enrollment>>;

    /// Enrolls, or renews an existing enrollment, in one transaction that
    /// keeps the course's enrollment count. Enrolling twice is never a
    /// second row.
    /// A revoked learner does not get back in through a free enrollment
    /// (`forbidden`); a grant or a purchase renews the revoked row.
    async fn enroll(
        &self,
        request: EnrollRequest,
        actor: Actor,
        at: Timestamp,
    ) -> Result<(Enrollment, EnrollOutcome)>;

    /// Grants many learners at once (one transaction), each as [`enroll`]
    /// with source `grant`.
    ///
    /// [`enroll`]: EnrollmentStore::enroll
    async fn grant_many(
        &self,
        course: CourseId,
        users: &[UserId],
        expires_at: Option<Timestamp>,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Vec<(Enrollment, EnrollOutcome)>>;

    /// Revokes access by the owner's decision; progress stays. Revoking
    /// again changes nothing; an enrollment a refund revoked becomes the
    /// owner's revocation. `not_found` when there is none.
    async fn revoke_enrollment(
        &self,
        course: CourseId,
        user: UserId,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Enrollment>;

    /// A learner's enrollments, newest first, with course and progress
    /// figures, in one round trip.
    async fn learner_enrollments(&self, user: UserId) -> Result<Vec<LearnerEnrollment>>;

    /// A course's enrollees in enrollment order after the cursor, with
    /// progress figures, in one round trip.
    async fn course_enrollments(
        &self,
        course: CourseId,
        after: Option<EnrollmentId>,
        limit: u32,
    ) -> Result<Vec<Enrollee>>;

    /// Live users by normalized e-mail; unknown addresses are left out.
    async fn users_by_emails(&self, emails: &[Email]) -> Result<Vec<(String, UserId)>>;

    /// Records a change to the progress of `lecture` (in `course`) for a
    /// learner whose enrollment is live at `at`, notes the lecture as the
    /// last one touched, and sets the course's completion time once when
    /// every lecture is complete. `not_found` when there is no live
    /// enrollment or no such lecture. Steps arriving together may be written as one batch;
    /// each is still all or nothing, in arrival order.
    async fn record_progress(
        &self,
        user: UserId,
        course: CourseId,
        lecture: LectureId,
        change: ProgressChange,
        actor: Actor,
        at: Timestamp,
    ) -> Result<ProgressWritten>;

    /// Every progress row of `user` in `course`.
    async fn lecture_progress(
        &self,
        user: UserId,
        course: CourseId,
    ) -> Result<Vec<LectureProgress>>;

    /// Forgets `user`'s progress in `course` (and its completion time).
    /// Only while the enrollment is live at `at`: a revoked or expired one
    /// keeps its progress, and resetting it is `forbidden`. No enrollment
    /// at all is `not_found`.
    async fn reset_progress(
        &self,
        user: UserId,
        course: CourseId,
        actor: Actor,
        at: Timestamp,
    ) -> Result<()>;
}
