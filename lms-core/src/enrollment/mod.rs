//! Enrollments: who may open a course's lectures.
//!
//! Rules decided here, for every face:
//! - A learner enrolls directly only in a published free course. Paid
//!   courses are entered through payment, or a grant by the owner or an
//!   admin (optionally until a date); admins also grant by a list of
//!   e-mails, with a result per row.
//! - Enrolling twice changes nothing and never makes a second row. A
//!   revoked learner cannot re-enroll themselves; a grant reinstates them.
//! - Revoking removes access and keeps progress.

mod model;

use serde::{Deserialize, Serialize};

pub use model::{
    EnrolledCourse, Enrollee, Enrollment, EnrollmentSource, EnrollmentStatus, LearnerEnrollment,
    ProgressFigures, RevokedBy,
};

use crate::Lms;
use crate::actor::Actor;
use crate::catalog::CourseStatus;
use crate::clock::Timestamp;
use crate::domain::{CourseId, Email, EnrollmentId, UserId, page_limit};
use crate::error::{Error, ErrorKind, Result};
use crate::store::enrollment::{EnrollOutcome, EnrollRequest, MAX_BULK_GRANT};

/// A grant to one learner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    /// The learner.
    pub user_id: UserId,
    /// When access ends (default: never). Must be in the future.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// The result of one row of a bulk grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantRow {
    /// The address as given.
    pub email: String,
    /// `created`, `renewed`, `unchanged`, `invalid_email`, `unknown_user`
    /// or `duplicate`.
    pub result: &'static str,
    /// The enrollment, when there is one.
    pub enrollment: Option<Enrollment>,
}

/// The refusal of a learner the course's owner (or an admin) took out, to
/// enroll or buy their way back in: only a grant restores their access.
pub(crate) fn revoked_by_owner() -> Error {
    Error::forbidden("your enrollment in this course was revoked; ask the instructor")
}

impl Lms {
    /// Whether `actor` has a live enrollment in `course`.
    pub(crate) async fn live_enrollment(&self, actor: &Actor, course: CourseId) -> Result<bool> {
        let Some(user) = actor.user_id() else {
            return Ok(false);
        };
        Ok(self
            .store()
            .enrollment(course, user)
            .await?
            .is_some_and(|e| e.is_live(self.now())))
    }

    /// Enrolls the signed-in learner in a published free course. Enrolling
    /// again changes nothing.
    pub async fn enroll(&self, actor: &Actor, course: CourseId) -> Result<Enrollment> {
        let user = actor.require_user()?;
        let summary = self
            .store()
            .course(&crate::store::courses::CourseKey::Id(course))
            .await?
            .ok_or_else(|| Error::not_found("course not found"))?;
        let course_row = &summary.course;
        match course_row.status {
            CourseStatus::Published => {}
            CourseStatus::Draft if crate::catalog::manages(actor, course_row) => {
                return Err(Error::invalid_field(
                    "course",
                    "is a draft; publish it first",
                ));
            }
            CourseStatus::Draft => return Err(Error::not_found("course not found")),
            CourseStatus::Archived => {
                return Err(Error::forbidden(
                    "this course is archived and takes no new learners",
                ));
            }
        }
        if !course_row.price.is_free() {
            return Err(Error::new(
                ErrorKind::Payment,
                "this course is paid; enroll through checkout",
            ));
        }
        // A revoked learner is refused by the store, under the course lock.
        let request = EnrollRequest {
            course,
            user,
            source: EnrollmentSource::Free,
            expires_at: None,
        };
        let (enrollment, _) = self.store().enroll(request, *actor, self.now()).await?;
        Ok(enrollment.status_at(self.now()))
    }

    /// Grants a learner access (free or paid course, any status): the
    /// owner and admins. Granting again updates the expiry.
    pub async fn grant_enrollment(
        &self,
        actor: &Actor,
        course: CourseId,
        grant: GrantInput,
    ) -> Result<Enrollment> {
        self.managed_course(actor, course).await?;
        let expires_at = self.check_expiry(grant.expires_at)?;
        let learner = self.store().user(grant.user_id).await?;
        if learner.is_none_or(|r| r.deleted_at.is_some()) {
            return Err(Error::invalid_field("user_id", "is not a user"));
        }
        let request = EnrollRequest {
            course,
            user: grant.user_id,
            source: EnrollmentSource::Grant,
            expires_at,
        };
        let (enrollment, _) = self.store().enroll(request, *actor, self.now()).await?;
        Ok(enrollment.status_at(self.now()))
    }

    fn check_expiry(&self, expires_at: Option<Timestamp>) -> Result<Option<Timestamp>> {
        match expires_at {
            Some(t) if t <= self.now() => {
                Err(Error::invalid_field("expires_at", "must be in the future"))
            }
            t => Ok(t.map(crate::clock::stored)),
        }
    }

    /// Grants every listed e-mail access at once (one transaction): admins
    /// only. Each row says what happened; bad or unknown addresses do not
    /// stop the others.
    pub async fn grant_by_emails(
        &self,
        actor: &Actor,
        course: CourseId,
        emails: &[String],
        expires_at: Option<Timestamp>,
    ) -> Result<Vec<GrantRow>> {
        actor.require_admin()?;
        self.managed_course(actor, course).await?;
        if emails.is_empty() || emails.len() > MAX_BULK_GRANT {
            return Err(Error::invalid_field(
                "emails",
                format!("must list 1 to {MAX_BULK_GRANT} addresses"),
            ));
        }
        let expires_at = self.check_expiry(expires_at)?;
        let parsed: Vec<Option<Email>> = emails
            .iter()
            .map(|e| Email::parse("email", e).ok())
            .collect();
        let mut valid: Vec<Email> = parsed.iter().flatten().cloned().collect();
        valid.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        valid.dedup();
        let known = self.store().users_by_emails(&valid).await?;
        let mut users: Vec<UserId> = Vec::new();
        for email in &valid {
            if let Some((_, id)) = known.iter().find(|(e, _)| e == email.as_str()) {
                users.push(*id);
            }
        }
        let granted = self
            .store()
            .grant_many(course, &users, expires_at, *actor, self.now())
            .await?;
        let mut seen = std::collections::HashSet::new();
        let rows = emails
            .iter()
            .zip(parsed)
            .map(|(raw, email)| {
                let Some(email) = email else {
                    return GrantRow {
                        email: raw.clone(),
                        result: "invalid_email",
                        enrollment: None,
                    };
                };
                if !seen.insert(email.as_str().to_owned()) {
                    return GrantRow {
                        email: raw.clone(),
                        result: "duplicate",
                        enrollment: None,
                    };
                }
                let found = known
                    .iter()
                    .find(|(e, _)| e == email.as_str())
                    .and_then(|(_, id)| granted.iter().find(|(en, _)| en.user_id == *id));
                match found {
                    None => GrantRow {
                        email: raw.clone(),
                        result: "unknown_user",
                        enrollment: None,
                    },
                    Some((enrollment, outcome)) => GrantRow {
                        email: raw.clone(),
                        result: match outcome {
                            EnrollOutcome::Created => "created",
                            EnrollOutcome::Renewed => "renewed",
                            EnrollOutcome::Unchanged => "unchanged",
                        },
                        enrollment: Some(enrollment.clone().status_at(self.now())),
                    },
                }
            })
            .collect();
        Ok(rows)
    }

    /// Revokes a learner's access, keeping their progress: the owner and
    /// admins.
    pub async fn revoke_enrollment(
        &self,
        actor: &Actor,
        course: CourseId,
        user: UserId,
    ) -> Result<Enrollment> {
        self.managed_course(actor, course).await?;
        let enrollment = self
            .store()
            .revoke_enrollment(course, user, *actor, self.now())
            .await?;
        Ok(enrollment.status_at(self.now()))
    }

    /// The signed-in learner's enrollments with progress, newest first.
    pub async fn my_enrollments(&self, actor: &Actor) -> Result<Vec<LearnerEnrollment>> {
        let user = actor.require_user()?;
        let now = self.now();
        let mut rows = self.store().learner_enrollments(user).await?;
        for row in &mut rows {
            row.enrollment = row.enrollment.clone().status_at(now);
        }
        Ok(rows)
    }

    /// A course's enrollees with progress, in enrollment order: the owner
    /// and admins. Pass the last row's enrollment id as `after` for the
    /// next page.
    pub async fn course_enrollments(
        &self,
        actor: &Actor,
        course: CourseId,
        after: Option<EnrollmentId>,
        limit: Option<u32>,
    ) -> Result<Vec<Enrollee>> {
        self.managed_course(actor, course).await?;
        let limit = page_limit(limit, 50, 200)?;
        let now = self.now();
        let mut rows = self
            .store()
            .course_enrollments(course, after, limit)
            .await?;
        for row in &mut rows {
            row.enrollment = row.enrollment.clone().status_at(now);
        }
        Ok(rows)
    }
}
