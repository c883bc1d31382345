//! Progress: which lectures a learner completed, where they stopped in a
//! video, and what follows from it.
//!
//! Only a learner with a live enrollment records progress. Course figures
//! count the lectures the course has now: lectures added later lower the
//! percentage, deleted ones stop counting. The completion time is set once,
//! when the last lecture is first completed.

mod model;

use std::collections::HashMap;

use serde::Deserialize;

pub use model::{CourseProgress, LectureProgress, LectureState, UpdatedProgress};

use crate::Lms;
use crate::accounts::not_null;
use crate::actor::Actor;
use crate::catalog::{CourseDetail, LectureKind, MAX_DURATION_SECS, lecture_access};
use crate::domain::{CourseId, LectureId};
use crate::enrollment::{Enrollment, ProgressFigures};
use crate::error::{Error, ErrorKind, Result};
use crate::store::enrollment::ProgressChange;

/// A change to one lecture's progress; absent parts stay, and `null` is
/// refused (422).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressUpdate {
    /// Mark complete or not complete.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub completed: Option<bool>,
    /// Resume position in seconds (video lectures only).
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub position_secs: Option<i64>,
}

impl Lms {
    /// Records the signed-in learner's progress in a lecture and answers
    /// with that lecture's state and the course's figures.
    ///
    /// The lecture, its course and the outline come through the read
    /// cache; the enrollment check, the write and the rows of the answer
    /// are one store step, which writes steps arriving together as a batch.
    pub async fn update_progress(
        &self,
        actor: &Actor,
        lecture: LectureId,
        update: ProgressUpdate,
    ) -> Result<UpdatedProgress> {
        let user = actor.require_user()?;
        if update.completed.is_none() && update.position_secs.is_none() {
            return Err(Error::invalid_field(
                "completed",
                "send completed, position_secs, or both",
            ));
        }
        let not_found = || Error::not_found("lecture not found");
        let course_id = self.lecture_course(lecture).await?;
        let tree = self
            .course_tree(&course_id.to_string())
            .await?
            .ok_or_else(not_found)?;
        let outline = tree
            .sections
            .iter()
            .flat_map(|s| &s.lectures)
            .find(|l| l.id == lecture)
            .ok_or_else(not_found)?;
        let course = &tree.summary.course;
        // Who may open it if enrolled; the store checks the enrollment.
        lecture_access(
            actor,
            course.status,
            course.owner_id,
            outline.free_preview,
            true,
        )?;
        if let Some(p) = update.position_secs {
            if outline.kind != LectureKind::Video {
                return Err(Error::invalid_field(
                    "position_secs",
                    "is only for video lectures",
                ));
            }
            let limit = if outline.duration_secs > 0 {
                outline.duration_secs
            } else {
                MAX_DURATION_SECS
            };
            if !(0..=limit).contains(&p) {
                return Err(Error::invalid_field(
                    "position_secs",
                    format!("must be between 0 and {limit}"),
                ));
            }
        }
        let change = ProgressChange {
            completed: update.completed,
            position_secs: update.position_secs,
        };
        let written = match self
            .store()
            .record_progress(user, course_id, lecture, change, *actor, self.now())
            .await
        {
            Ok(written) => written,
            // The cached outline may hold a lecture another instance has
            // since deleted; otherwise there is no live enrollment, and the
            // answer is what opening the lecture would say, or else that
            // recording progress needs one.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if self.store().lecture(lecture).await?.is_none() {
                    return Err(not_found());
                }
                return Err(lecture_access(
                    actor,
                    course.status,
                    course.owner_id,
                    outline.free_preview,
                    false,
                )
                .err()
                .unwrap_or_else(|| Error::forbidden("enroll in this course to record progress")));
            }
            Err(e) => return Err(e),
        };
        // The rows hold every completed lecture, so the figures are whole.
        let states = written
            .lectures
            .iter()
            .map(|l| (l.lecture_id, (l.completed, l.position_secs)));
        let CourseProgress {
            course_id,
            figures,
            completed_at,
            next_lecture_id,
            last_lecture_id,
            lectures,
        } = report(&tree, &written.enrollment, states.collect());
        let lecture = lectures
            .into_iter()
            .find(|l| l.lecture_id == lecture)
            .ok_or_else(not_found)?;
        Ok(UpdatedProgress {
            course_id,
            figures,
            completed_at,
            next_lecture_id,
            last_lecture_id,
            lecture,
        })
    }

    /// The signed-in learner's progress in a course they are (or were)
    /// enrolled in.
    pub async fn course_progress(&self, actor: &Actor, course: CourseId) -> Result<CourseProgress> {
        let user = actor.require_user()?;
        let enrollment = self
            .store()
            .enrollment(course, user)
            .await?
            .ok_or_else(|| Error::not_found("you are not enrolled in this course"))?;
        let tree = self
            .course_tree(&course.to_string())
            .await?
            .ok_or_else(|| Error::not_found("course not found"))?;
        let rows = self.store().lecture_progress(user, course).await?;
        let states = rows
            .iter()
            .map(|r| (r.lecture_id, (r.completed_at.is_some(), r.position_secs)));
        Ok(report(&tree, &enrollment, states.collect()))
    }

    /// Forgets the signed-in learner's progress in a course.
    pub async fn reset_progress(&self, actor: &Actor, course: CourseId) -> Result<CourseProgress> {
        let user = actor.require_user()?;
        self.store()
            .reset_progress(user, course, *actor, self.now())
            .await
            .map_err(|e| match e.kind() {
                crate::ErrorKind::NotFound => {
                    Error::not_found("you are not enrolled in this course")
                }
                _ => e,
            })?;
        self.course_progress(actor, course).await
    }
}

/// A learner's progress in `tree`'s course, from their enrollment and the
/// state (completed, position) of each lecture they have progress in.
/// Lectures no longer in the course do not count.
fn report(
    tree: &CourseDetail,
    enrollment: &Enrollment,
    states: HashMap<LectureId, (bool, i64)>,
) -> CourseProgress {
    let lectures: Vec<LectureState> = tree
        .sections
        .iter()
        .flat_map(|s| &s.lectures)
        .map(|l| {
            let (completed, position_secs) = states.get(&l.id).copied().unwrap_or((false, 0));
            LectureState {
                lecture_id: l.id,
                completed,
                position_secs,
            }
        })
        .collect();
    let completed = lectures.iter().filter(|l| l.completed).count() as i64;
    CourseProgress {
        course_id: tree.summary.course.id,
        figures: ProgressFigures::new(completed, lectures.len() as i64),
        completed_at: enrollment.completed_at,
        next_lecture_id: lectures.iter().find(|l| !l.completed).map(|l| l.lecture_id),
        last_lecture_id: enrollment.last_lecture_id,
        lectures,
    }
}
