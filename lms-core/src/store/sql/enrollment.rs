//! The enrollment and progress steps both SQL backends share; expanded by
//! `sql_store!` into each backend's module.
//!
//! Besides what `sql_store!` needs, the backend provides `FOR_UPDATE`, the
//! suffix that locks the rows a `SELECT` reads until the transaction ends
//! (empty on SQLite, whose write transactions already exclude each other),
//! `PROGRESS_ROWS_JSON`, the aggregate of the `lecture_progress p` rows of
//! a group as a JSON array of
//! `[lecture_id, completed_at, position_secs, updated_at]` (see
//! `progress_rows`), `then(first, second)`, one statement text running
//! the data-changing statement `first` and then `second`, answering with
//! `second`'s rows and numbering parameters across both,
//! `self.write_by_text()`, a write step with the text its first statement
//! starts with (the `BEGIN`, where the backend can send it with a
//! statement), `commit_text(&mut tx)`, what ends a statement text to
//! commit in the same call (empty where the backend cannot; `tx.commit()`
//! then sends only what the text did not),
//! and `self.progress`, the batcher of progress steps, with
//! [`ProgressStep`] and `ProgressWritten` in scope.

/// Enrollment columns, each prefixed with `prefix` (`"e."` or `""`).
pub(crate) fn enrollment_columns(prefix: &str) -> String {
    [
        "id",
        "course_id",
        "user_id",
        "source",
        "status",
        "expires_at",
        "created_at",
        "updated_at",
        "revoked_at",
        "revoked_by",
        "completed_at",
        "last_lecture_id",
        "last_activity_at",
    ]
    .iter()
    .map(|c| format!("{prefix}{c}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Completed and total lectures of the enrollment aliased `e`.
pub(crate) const PROGRESS_COUNTS: &str = "\
    (SELECT COUNT(*) FROM lectures l WHERE l.course_id = e.course_id) AS total_lectures, \
    (SELECT COUNT(*) FROM lecture_progress p WHERE p.user_id = e.user_id \
     AND p.course_id = e.course_id AND p.completed_at IS NOT NULL) AS completed_lectures";

/// One queued `record_progress`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProgressStep {
    pub(crate) user: crate::domain::UserId,
    pub(crate) course: crate::domain::CourseId,
    pub(crate) lecture: crate::domain::LectureId,
    pub(crate) change: crate::store::enrollment::ProgressChange,
    pub(crate) actor: crate::actor::Actor,
    pub(crate) at: crate::clock::Timestamp,
}

macro_rules! enrollment_sql {
    ($store:ty, $db:ty, $row:ty) => {
        use $crate::domain::EnrollmentId;
        use $crate::enrollment::{
            Enrollee, EnrolledCourse, Enrollment, EnrollmentSource, EnrollmentStatus,
            LearnerEnrollment, ProgressFigures, RevokedBy,
        };
        use $crate::progress::{LectureProgress, LectureState};
        use $crate::store::enrollment::{
            EnrollOutcome, EnrollRequest, EnrollmentStore, ProgressChange, ProgressRecorded,
        };
        use $crate::store::sql::enrollment::{enrollment_columns, PROGRESS_COUNTS};

        fn enrollment_from(row: &$row) -> Result<Enrollment> {
            let source: String = row.try_get("source")?;
            let status: String = row.try_get("status")?;
            let status = match status.as_str() {
                "active" => EnrollmentStatus::Active,
                "revoked" => EnrollmentStatus::Revoked,
                other => {
                    return Err(Error::internal(format!("unknown enrollment status {other:?}")));
                }
            };
            Ok(Enrollment {
                id: EnrollmentId(row.try_get("id")?),
                course_id: CourseId(row.try_get("course_id")?),
                user_id: UserId(row.try_get("user_id")?),
                source: EnrollmentSource::parse("source", &source)
                    .map_err(|_| Error::internal(format!("unknown enrollment source {source:?}")))?,
                status,
                expires_at: row.try_get("expires_at")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                revoked_at: row.try_get("revoked_at")?,
                revoked_by: match row.try_get::<Option<String>, _>("revoked_by")?.as_deref() {
                    None => None,
                    Some("owner") => Some(RevokedBy::Owner),
                    Some("refund") => Some(RevokedBy::Refund),
                    Some(other) => {
                        return Err(Error::internal(format!("unknown revoker {other:?}")));
                    }
                },
                completed_at: row.try_get("completed_at")?,
                last_lecture_id: row.try_get::<Option<Uuid>, _>("last_lecture_id")?.map(LectureId),
                last_activity_at: row.try_get("last_activity_at")?,
            })
        }

        fn figures_from(row: &$row) -> Result<ProgressFigures> {
            Ok(ProgressFigures::new(
                row.try_get("completed_lectures")?,
                row.try_get("total_lectures")?,
            ))
        }

        /// The enrollment, locked until the transaction ends.
        async fn enrollment_in(
            tx: &mut WriteTx,
            course: CourseId,
            user: UserId,
        ) -> Result<Option<Enrollment>> {
            let sql = format!(
                "SELECT {} FROM enrollments WHERE course_id = $1 AND user_id = $2{FOR_UPDATE}",
                enrollment_columns("")
            );
            let row = sqlx::query(&sql)
                .bind(course.0)
                .bind(user.0)
                .fetch_optional(&mut **tx)
                .await?;
            row.as_ref().map(enrollment_from).transpose()
        }

        impl $store {
            /// Writes a batch of progress steps; a batch that fails as a
            /// whole (a lecture deleted meanwhile breaks its foreign key,
            /// say) is written again one step at a time, so only the step
            /// at fault fails.
            async fn write_progress(&self, steps: Vec<ProgressStep>) -> Vec<Result<ProgressWritten>> {
                match self.progress_batch(&steps).await {
                    Ok(answers) => answers,
                    Err(err) if steps.len() == 1 => vec![Err(lecture_gone(err))],
                    Err(_) => {
                        let mut answers = Vec::with_capacity(steps.len());
                        for step in steps.chunks(1) {
                            match self.progress_batch(step).await {
                                Ok(mut one) => answers.append(&mut one),
                                Err(err) => answers.push(Err(lecture_gone(err))),
                            }
                        }
                        answers
                    }
                }
            }

            /// One transaction for all of `steps`, with a fixed number of
            /// statements however many there are: the learners' enrollments
            /// (locked) with the course's lecture count, their completed
            /// lectures and the rows the steps write, then one upsert with
            /// one enrollment update (a single call) and one event insert
            /// when there are events. On SQLite the `BEGIN` goes with the
            /// read, and the `COMMIT` with the last statement: two calls in
            /// all, without events. The steps apply in order, as if one
            /// after the other; a step without a live enrollment fails
            /// alone. Each answer holds the learner's state after the
            /// whole batch.
            async fn progress_batch(
                &self,
                steps: &[ProgressStep],
            ) -> Result<Vec<Result<ProgressWritten>>> {
                use std::collections::HashMap;
                use std::collections::hash_map::Entry;
                use $crate::store::sql::values;

                struct Learner {
                    enrollment: Enrollment,
                    total_lectures: i64,
                    /// (lecture, completed at, position), as the steps go.
                    rows: Vec<(LectureId, Option<Timestamp>, i64)>,
                    touched: bool,
                }

                let (mut tx, begin) = self.write_by_text().await?;

                // One key per learner and lecture the steps write.
                let mut keys: Vec<(CourseId, UserId, LectureId)> = Vec::new();
                for step in steps {
                    let key = (step.course, step.user, step.lecture);
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                // The keys drive the join (`CROSS JOIN` keeps SQLite from
                // scanning the table against the list instead). Of each
                // learner's rows, the completed ones (for the course's
                // figures, from an index that holds only those) and the
                // one the key writes come as JSON values, as each row
                // would cost a trip through the driver's channel; rows a
                // player merely left a position in are not read. Locked in
                // id order, so batches of two instances never wait on each
                // other crosswise.
                let sql = format!(
                    "{begin}SELECT {}, \
                     (SELECT COUNT(*) FROM lectures l WHERE l.course_id = e.course_id) \
                     AS total_lectures, \
                     (SELECT {PROGRESS_ROWS_JSON} FROM lecture_progress p \
                      WHERE p.user_id = e.user_id AND p.course_id = e.course_id \
                      AND p.completed_at IS NOT NULL) AS rows, \
                     (SELECT {PROGRESS_ROWS_JSON} FROM lecture_progress p \
                      WHERE p.user_id = e.user_id AND p.course_id = e.course_id \
                      AND p.lecture_id = v.column3) AS own \
                     FROM ({}) AS v CROSS JOIN enrollments e \
                     WHERE e.course_id = v.column1 AND e.user_id = v.column2 \
                     ORDER BY e.id{FOR_UPDATE}{}",
                    enrollment_columns("e."),
                    values(keys.len(), 3, 1),
                    if FOR_UPDATE.is_empty() { "" } else { " OF e" }
                );
                let mut query = sqlx::query(&sql);
                for (course, user, lecture) in &keys {
                    query = query.bind(course.0).bind(user.0).bind(lecture.0);
                }
                let mut learners: HashMap<(CourseId, UserId), Learner> = HashMap::new();
                for row in query.fetch_all(&mut *tx).await? {
                    let enrollment = enrollment_from(&row)?;
                    // A learner writing several lectures has a row for
                    // each, with the same enrollment and completed rows.
                    let learner = match learners.entry((enrollment.course_id, enrollment.user_id)) {
                        Entry::Occupied(known) => known.into_mut(),
                        Entry::Vacant(new) => new.insert(Learner {
                            total_lectures: row.try_get("total_lectures")?,
                            rows: progress_rows(&row, "rows")?
                                .into_iter()
                                .map(|p| (p.lecture_id, p.completed_at, p.position_secs))
                                .collect(),
                            enrollment,
                            touched: false,
                        }),
                    };
                    for p in progress_rows(&row, "own")? {
                        let now = (p.lecture_id, p.completed_at, p.position_secs);
                        match learner.rows.iter_mut().find(|r| r.0 == p.lecture_id) {
                            Some(known) => *known = now,
                            None => learner.rows.push(now),
                        }
                    }
                }

                let mut outcomes: Vec<Option<ProgressRecorded>> = Vec::with_capacity(steps.len());
                // (user, lecture) -> (course, time), for the rows to write.
                let mut upserts: HashMap<(UserId, LectureId), (CourseId, Timestamp)> =
                    HashMap::new();
                let mut events = Vec::new();
                for step in steps {
                    let Some(learner) = learners
                        .get_mut(&(step.course, step.user))
                        .filter(|l| l.enrollment.is_live(step.at))
                    else {
                        outcomes.push(None);
                        continue;
                    };
                    let row = learner.rows.iter().position(|r| r.0 == step.lecture);
                    let (was_completed, was_position) =
                        row.map_or((None, 0), |i| (learner.rows[i].1, learner.rows[i].2));
                    let completed_at = match step.change.completed {
                        Some(true) => was_completed.or(Some(step.at)),
                        Some(false) => None,
                        None => was_completed,
                    };
                    let position = step.change.position_secs.unwrap_or(was_position);
                    // Un-completing an untouched lecture, or recording the
                    // position it already has, changes nothing.
                    if completed_at == was_completed && position == was_position {
                        outcomes.push(Some(ProgressRecorded {
                            changed: false,
                            course_completed: false,
                        }));
                        continue;
                    }
                    let now = (step.lecture, completed_at, position);
                    match row {
                        Some(i) => learner.rows[i] = now,
                        None => learner.rows.push(now),
                    }
                    upserts.insert((step.user, step.lecture), (step.course, step.at));
                    learner.touched = true;
                    learner.enrollment.last_lecture_id = Some(step.lecture);
                    learner.enrollment.last_activity_at = Some(step.at);
                    // Logged: the first progress in a lecture and every
                    // change to its completion. A resume position alone is
                    // not (see `kinds::PROGRESS_UPDATED`).
                    if row.is_none() || completed_at.is_some() != was_completed.is_some() {
                        events.push((
                            NewEvent::course(
                                kinds::PROGRESS_UPDATED,
                                "lecture",
                                step.lecture.0,
                                step.course.0,
                                Some(step.user.0),
                                step.actor,
                                json!({
                                    "lecture_id": step.lecture,
                                    "completed": completed_at.is_some(),
                                    "position_secs": position,
                                }),
                            ),
                            step.at,
                        ));
                    }
                    let completed = learner
                        .rows
                        .iter()
                        .filter(|r| r.1.is_some())
                        .count() as i64;
                    let course_completed = completed_at.is_some()
                        && learner.enrollment.completed_at.is_none()
                        && learner.total_lectures > 0
                        && completed >= learner.total_lectures;
                    if course_completed {
                        learner.enrollment.completed_at = Some(step.at);
                        events.push((
                            enrollment_event(
                                kinds::COURSE_COMPLETED,
                                &learner.enrollment,
                                step.actor,
                                json!({ "lectures": learner.total_lectures }),
                            ),
                            step.at,
                        ));
                    }
                    outcomes.push(Some(ProgressRecorded {
                        changed: true,
                        course_completed,
                    }));
                }

                if !upserts.is_empty() {
                    // The rows and the enrollments go in one call: one
                    // round trip fewer in the step every write waits on.
                    let upsert = format!(
                        "INSERT INTO lecture_progress (user_id, lecture_id, course_id, \
                         completed_at, position_secs, updated_at) {} \
                         ON CONFLICT (user_id, lecture_id) DO UPDATE SET \
                         completed_at = excluded.completed_at, \
                         position_secs = excluded.position_secs, updated_at = excluded.updated_at",
                        values(upserts.len(), 6, 1)
                    );
                    let touched: Vec<&Enrollment> = learners
                        .values()
                        .filter(|l| l.touched)
                        .map(|l| &l.enrollment)
                        .collect();
                    let update = format!(
                        "UPDATE enrollments SET last_lecture_id = v.column3, \
                         last_activity_at = v.column4, completed_at = v.column5 \
                         FROM ({}) AS v \
                         WHERE enrollments.course_id = v.column1 AND enrollments.user_id = v.column2 \
                         RETURNING {}",
                        values(touched.len(), 5, 1 + 6 * upserts.len()),
                        enrollment_columns("")
                    );
                    // Without events to follow, the commit can go too.
                    let commit = if events.is_empty() { commit_text(&mut tx) } else { "" };
                    let sql = format!("{}{commit}", then(&upsert, &update));
                    let mut query = sqlx::query(&sql);
                    for ((user, lecture), (course, at)) in &upserts {
                        let (_, completed_at, position) = learners[&(*course, *user)]
                            .rows
                            .iter()
                            .find(|r| r.0 == *lecture)
                            .expect("an upserted row is in its learner's rows");
                        query = query
                            .bind(user.0)
                            .bind(lecture.0)
                            .bind(course.0)
                            .bind(completed_at.map(ts))
                            .bind(*position)
                            .bind(ts(*at));
                    }
                    for e in touched {
                        query = query
                            .bind(e.course_id.0)
                            .bind(e.user_id.0)
                            .bind(e.last_lecture_id.map(|l| l.0))
                            .bind(e.last_activity_at.map(ts))
                            .bind(e.completed_at.map(ts));
                    }
                    // The enrollments as stored, for the answers.
                    for row in query.fetch_all(&mut *tx).await? {
                        let enrollment = enrollment_from(&row)?;
                        if let Some(l) =
                            learners.get_mut(&(enrollment.course_id, enrollment.user_id))
                        {
                            l.enrollment = enrollment;
                        }
                    }
                    append_all(&mut tx, events).await?;
                }
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;

                Ok(steps
                    .iter()
                    .zip(outcomes)
                    .map(|(step, outcome)| {
                        let recorded = outcome
                            .ok_or_else(|| Error::not_found("no live enrollment in this course"))?;
                        let learner = &learners[&(step.course, step.user)];
                        Ok(ProgressWritten {
                            recorded,
                            enrollment: learner.enrollment.clone(),
                            lectures: learner
                                .rows
                                .iter()
                                .map(|&(lecture_id, completed_at, position_secs)| LectureState {
                                    lecture_id,
                                    completed: completed_at.is_some(),
                                    position_secs,
                                })
                                .collect(),
                        })
                    })
                    .collect())
            }
        }

        /// The rows in `column`, a [`PROGRESS_ROWS_JSON`]; none is NULL
        /// or `[]`.
        fn progress_rows(row: &$row, column: &str) -> Result<Vec<LectureProgress>> {
            type Rows = Vec<(Uuid, Option<Timestamp>, i64, Timestamp)>;
            let rows: Option<Json<Rows>> = row.try_get(column)?;
            Ok(rows
                .map(|Json(rows)| rows)
                .unwrap_or_default()
                .into_iter()
                .map(|(lecture, completed_at, position_secs, updated_at)| LectureProgress {
                    lecture_id: LectureId(lecture),
                    completed_at,
                    position_secs,
                    updated_at,
                })
                .collect())
        }

        /// A progress row whose lecture is gone breaks its foreign key:
        /// the lecture was deleted after the caller looked it up.
        fn lecture_gone(err: Error) -> Error {
            let gone = std::error::Error::source(&err)
                .and_then(|e| e.downcast_ref::<sqlx::Error>())
                .and_then(|e| e.as_database_error())
                .is_some_and(|db| db.is_foreign_key_violation());
            if gone { Error::not_found("lecture not found") } else { err }
        }

        fn enrollment_event(
            kind: &'static str,
            enrollment: &Enrollment,
            actor: Actor,
            payload: serde_json::Value,
        ) -> NewEvent {
            NewEvent::course(
                kind,
                "enrollment",
                enrollment.id.0,
                enrollment.course_id.0,
                Some(enrollment.user_id.0),
                actor,
                payload,
            )
        }

        /// Creates, renews, or leaves the enrollment; keeps the course's
        /// count of active enrollments; refuses a free enrollment over a
        /// revoked one. The course row must be locked.
        async fn enroll_in(
            tx: &mut WriteTx,
            request: &EnrollRequest,
            actor: Actor,
            at: Timestamp,
        ) -> Result<(Enrollment, EnrollOutcome)> {
            let existing = enrollment_in(tx, request.course, request.user).await?;
            let returning = enrollment_columns("");
            let (row, outcome, counted) = match existing {
                None => {
                    let sql = format!(
                        "INSERT INTO enrollments (id, course_id, user_id, source, status, expires_at, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $6) \
                         RETURNING {returning}"
                    );
                    let row = sqlx::query(&sql)
                        .bind(EnrollmentId::new().0)
                        .bind(request.course.0)
                        .bind(request.user.0)
                        .bind(request.source.as_str())
                        .bind(request.expires_at.map(ts))
                        .bind(ts(at))
                        .fetch_one(&mut **tx)
                        .await?;
                    (row, EnrollOutcome::Created, true)
                }
                // Checked here, under the course lock, not before the
                // transaction: a revoke committed in between would
                // otherwise be undone by the learner's own request.
                // Access a refund ended is not the owner's decision.
                Some(e)
                    if request.source == EnrollmentSource::Free
                        && e.status == EnrollmentStatus::Revoked
                        && e.revoked_by != Some(RevokedBy::Refund) =>
                {
                    return Err($crate::enrollment::revoked_by_owner());
                }
                Some(e) => {
                    let live = e.is_live(at);
                    // A free enrollment never replaces access the learner
                    // already has; a grant or purchase sets source and expiry.
                    let unchanged = live
                        && (request.source == EnrollmentSource::Free
                            || (e.source == request.source && e.expires_at == request.expires_at));
                    if unchanged {
                        return Ok((e, EnrollOutcome::Unchanged));
                    }
                    let sql = format!(
                        "UPDATE enrollments SET source = $3, status = 'active', expires_at = $4, \
                         revoked_at = NULL, revoked_by = NULL, updated_at = $5 \
                         WHERE course_id = $1 AND user_id = $2 RETURNING {returning}"
                    );
                    let row = sqlx::query(&sql)
                        .bind(request.course.0)
                        .bind(request.user.0)
                        .bind(request.source.as_str())
                        .bind(request.expires_at.map(ts))
                        .bind(ts(at))
                        .fetch_one(&mut **tx)
                        .await?;
                    (row, EnrollOutcome::Renewed, e.status == EnrollmentStatus::Revoked)
                }
            };
            if counted {
                sqlx::query("UPDATE courses SET enrollment_count = enrollment_count + 1 WHERE id = $1")
                    .bind(request.course.0)
                    .execute(&mut **tx)
                    .await?;
            }
            let enrollment = enrollment_from(&row)?;
            let kind = match outcome {
                EnrollOutcome::Created => kinds::ENROLLMENT_CREATED,
                _ => kinds::ENROLLMENT_RENEWED,
            };
            let payload = json!({ "source": request.source, "expires_at": request.expires_at });
            append(tx, enrollment_event(kind, &enrollment, actor, payload), at).await?;
            Ok((enrollment, outcome))
        }

        #[async_trait]
        impl EnrollmentStore for $store {
            async fn enrollment(&self, course: CourseId, user: UserId) -> Result<Option<Enrollment>> {
                let sql = format!(
                    "SELECT {} FROM enrollments WHERE course_id = $1 AND user_id = $2",
                    enrollment_columns("")
                );
                let row = sqlx::query(&sql)
                    .bind(course.0)
                    .bind(user.0)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(enrollment_from).transpose()
            }

            async fn enroll(
                &self,
                request: EnrollRequest,
                actor: Actor,
                at: Timestamp,
            ) -> Result<(Enrollment, EnrollOutcome)> {
                let mut tx = self.write().await?;
                lock_course(&mut tx, request.course).await?;
                let done = enroll_in(&mut tx, &request, actor, at).await?;
                self.commit(tx).await?;
                Ok(done)
            }

            async fn grant_many(
                &self,
                course: CourseId,
                users: &[UserId],
                expires_at: Option<Timestamp>,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Vec<(Enrollment, EnrollOutcome)>> {
                let mut tx = self.write().await?;
                lock_course(&mut tx, course).await?;
                let mut done = Vec::with_capacity(users.len());
                for user in users {
                    let request = EnrollRequest {
                        course,
                        user: *user,
                        source: EnrollmentSource::Grant,
                        expires_at,
                    };
                    done.push(enroll_in(&mut tx, &request, actor, at).await?);
                }
                self.commit(tx).await?;
                Ok(done)
            }

            async fn revoke_enrollment(
                &self,
                course: CourseId,
                user: UserId,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Enrollment> {
                let mut tx = self.write().await?;
                lock_course(&mut tx, course).await?;
                let existing = enrollment_in(&mut tx, course, user)
                    .await?
                    .ok_or_else(|| Error::not_found("enrollment not found"))?;
                if existing.revoked_by == Some(RevokedBy::Owner) {
                    return Ok(existing);
                }
                // One a refund ended becomes the owner's to end, so that the
                // learner may not buy their way back in; the course's count
                // left it out already.
                let counted = existing.status != EnrollmentStatus::Revoked;
                let sql = format!(
                    "UPDATE enrollments SET status = 'revoked', revoked_at = $3, \
                     revoked_by = 'owner', updated_at = $3 \
                     WHERE course_id = $1 AND user_id = $2 RETURNING {}",
                    enrollment_columns("")
                );
                let row = sqlx::query(&sql)
                    .bind(course.0)
                    .bind(user.0)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await?;
                if counted {
                    sqlx::query(
                        "UPDATE courses SET enrollment_count = enrollment_count - 1 WHERE id = $1",
                    )
                    .bind(course.0)
                    .execute(&mut *tx)
                    .await?;
                }
                let enrollment = enrollment_from(&row)?;
                let event = enrollment_event(kinds::ENROLLMENT_REVOKED, &enrollment, actor, json!({}));
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(enrollment)
            }

            async fn learner_enrollments(&self, user: UserId) -> Result<Vec<LearnerEnrollment>> {
                let sql = format!(
                    "SELECT {}, c.slug, c.title, c.thumbnail_key, c.status AS course_status, \
                     {PROGRESS_COUNTS} FROM enrollments e JOIN courses c ON c.id = e.course_id \
                     WHERE e.user_id = $1 ORDER BY e.id DESC",
                    enrollment_columns("e.")
                );
                let rows = sqlx::query(&sql).bind(user.0).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let enrollment = enrollment_from(row)?;
                        let status: String = row.try_get("course_status")?;
                        Ok(LearnerEnrollment {
                            course: EnrolledCourse {
                                id: enrollment.course_id,
                                slug: row.try_get("slug")?,
                                title: row.try_get("title")?,
                                thumbnail_key: row.try_get("thumbnail_key")?,
                                status: CourseStatus::parse("status", &status).map_err(|_| {
                                    Error::internal(format!("unknown course status {status:?}"))
                                })?,
                            },
                            progress: figures_from(row)?,
                            enrollment,
                        })
                    })
                    .collect()
            }

            async fn course_enrollments(
                &self,
                course: CourseId,
                after: Option<EnrollmentId>,
                limit: u32,
            ) -> Result<Vec<Enrollee>> {
                let sql = format!(
                    "SELECT {}, u.email, u.display_name, {PROGRESS_COUNTS} \
                     FROM enrollments e JOIN users u ON u.id = e.user_id \
                     WHERE e.course_id = $1 AND ($2 IS NULL OR e.id > $2) ORDER BY e.id LIMIT $3",
                    enrollment_columns("e.")
                );
                let rows = sqlx::query(&sql)
                    .bind(course.0)
                    .bind(after.map(|a| a.0))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Enrollee {
                            enrollment: enrollment_from(row)?,
                            email: row.try_get("email")?,
                            display_name: row.try_get("display_name")?,
                            progress: figures_from(row)?,
                        })
                    })
                    .collect()
            }

            async fn users_by_emails(&self, emails: &[Email]) -> Result<Vec<(String, UserId)>> {
                if emails.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders = (1..=emails.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "SELECT email, id FROM users WHERE deleted_at IS NULL AND email IN ({placeholders})"
                );
                let mut query = sqlx::query(&sql);
                for email in emails {
                    query = query.bind(email.as_str());
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("email")?, UserId(row.try_get("id")?))))
                    .collect()
            }

            async fn record_progress(
                &self,
                user: UserId,
                course: CourseId,
                lecture: LectureId,
                change: ProgressChange,
                actor: Actor,
                at: Timestamp,
            ) -> Result<ProgressWritten> {
                let step = ProgressStep {
                    user,
                    course,
                    lecture,
                    change,
                    actor,
                    at,
                };
                let store = self.clone();
                self.progress
                    .submit(step, move |steps| {
                        let store = store.clone();
                        async move { store.write_progress(steps).await }
                    })
                    .await
            }

            async fn lecture_progress(
                &self,
                user: UserId,
                course: CourseId,
            ) -> Result<Vec<LectureProgress>> {
                // One JSON value rather than a row each: rows come through
                // the driver's channel in batches, each a wait for a turn.
                let row = sqlx::query(&format!(
                    "SELECT {PROGRESS_ROWS_JSON} AS rows FROM lecture_progress p \
                     WHERE p.user_id = $1 AND p.course_id = $2"
                ))
                .bind(user.0)
                .bind(course.0)
                .fetch_one(&self.pool)
                .await?;
                progress_rows(&row, "rows")
            }

            async fn reset_progress(
                &self,
                user: UserId,
                course: CourseId,
                actor: Actor,
                at: Timestamp,
            ) -> Result<()> {
                let mut tx = self.write().await?;
                let enrollment = enrollment_in(&mut tx, course, user)
                    .await?
                    .ok_or_else(|| Error::not_found("enrollment not found"))?;
                // An ended enrollment keeps its record, progress included,
                // as it keeps everything else: only a live one starts over.
                if !enrollment.is_live(at) {
                    return Err(Error::forbidden(
                        "this enrollment has ended; its progress is kept as it was",
                    ));
                }
                let removed = sqlx::query(
                    "DELETE FROM lecture_progress WHERE user_id = $1 AND course_id = $2",
                )
                .bind(user.0)
                .bind(course.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let nothing = removed == 0
                    && enrollment.completed_at.is_none()
                    && enrollment.last_lecture_id.is_none();
                if nothing {
                    return Ok(());
                }
                sqlx::query(
                    "UPDATE enrollments SET completed_at = NULL, last_lecture_id = NULL, \
                     last_activity_at = NULL WHERE course_id = $1 AND user_id = $2",
                )
                .bind(course.0)
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
                let payload = json!({ "removed_lectures": removed });
                let event = enrollment_event(kinds::PROGRESS_RESET, &enrollment, actor, payload);
                append(&mut tx, event, at).await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use enrollment_sql;
