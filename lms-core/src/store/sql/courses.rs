//! The course tree and catalog steps both SQL backends share; expanded by
//! `sql_store!` into each backend's module.
//!
//! Besides what `sql_store!` needs, the backend provides:
//! - `FOR_UPDATE`: the suffix that locks the rows a `SELECT` reads until the
//!   transaction ends (`FOR NO KEY UPDATE` on PostgreSQL; empty on SQLite, whose
//!   `BEGIN IMMEDIATE` already holds the only write lock);
//! - `fn tag_match(param)` and `fn text_match(param)`: catalog predicates on
//!   the placeholder `param` (a tag; a full-text query built by `text_query`);
//! - `fn text_query(&[String]) -> String`: the search words as the backend's
//!   full-text query syntax.
//!
//! Positions: every change to an ordered list rewrites the list's positions
//! from an id list in two statements. First the rows are parked above any
//! final position, then each gets its final place, so the unique
//! (parent, position) keys hold after every row of every statement.

/// Rows are parked at `position + PARK` while a list is rewritten.
pub(crate) const PARK: i64 = 1_000_000;
/// A row entering a list waits at this position until the list is rewritten.
pub(crate) const INCOMING: i64 = 2_000_000;

pub(crate) const COURSE_COLUMNS: &str = "id, slug, title, subtitle, description, level, \
     language, tags, price_amount, price_currency, thumbnail_key, owner_id, status, \
     enrollment_count, created_at, updated_at, published_at";

pub(crate) const SECTION_COLUMNS: &str = "id, course_id, title, position, created_at, updated_at";

pub(crate) const LECTURE_COLUMNS: &str = "id, course_id, section_id, title, kind, body, \
     duration_secs, free_preview, position, created_at, updated_at";

/// A course with its owner's name and aggregates, as correlated subqueries
/// so a page of any size is one statement. `from` is the table or derived
/// table (named `courses`) the rows come from.
pub(crate) fn summary_select(from: &str) -> String {
    format!(
        "SELECT {COURSE_COLUMNS}, \
         (SELECT display_name FROM users WHERE users.id = courses.owner_id) AS instructor_name, \
         (SELECT COUNT(*) FROM lectures WHERE lectures.course_id = courses.id) AS lecture_count, \
         (SELECT CAST(COALESCE(SUM(duration_secs), 0) AS BIGINT) FROM lectures \
          WHERE lectures.course_id = courses.id) AS total_duration_secs, \
         lower(title) AS sort_title \
         FROM {from}"
    )
}

/// Numbers statement parameters in the order they are bound.
#[derive(Debug, Default)]
pub(crate) struct Params(usize);

impl Params {
    /// The next placeholder, `$1`, `$2`...
    pub(crate) fn next(&mut self) -> String {
        self.0 += 1;
        format!("${}", self.0)
    }
}

macro_rules! courses_sql {
    ($store:ty, $db:ty, $row:ty) => {
        use $crate::catalog::{
            Course, CourseStatus, CourseSummary, Lecture, LectureKind, LectureOutline, Section,
            SectionOutline,
        };
        use $crate::domain::{CourseId, Currency, LectureId, Level, Price, SectionId};
        use $crate::store::courses::{
            CatalogAfter, CatalogFilter, CatalogRow, CatalogSort, CourseChanges, CourseImport,
            CourseKey, CourseStore, ImportOutcome, LectureChanges, NewCourse, NewLecture,
            MAX_LECTURES_PER_SECTION, MAX_SECTIONS,
        };
        use $crate::store::sql::courses::{
            summary_select, Params, COURSE_COLUMNS, INCOMING, LECTURE_COLUMNS, PARK, SECTION_COLUMNS,
        };

        fn course_from(row: &$row) -> Result<Course> {
            let stored = |what: &str, value: &str| {
                Error::internal(format!("unknown {what} {value:?} in courses"))
            };
            let level: String = row.try_get("level")?;
            let status: String = row.try_get("status")?;
            let amount: Option<i64> = row.try_get("price_amount")?;
            let currency: Option<String> = row.try_get("price_currency")?;
            let price = match (amount, currency) {
                (Some(amount_minor), Some(code)) => Price::Paid {
                    amount_minor,
                    currency: Currency::parse("price_currency", &code)
                        .map_err(|_| stored("currency", &code))?,
                },
                _ => Price::Free,
            };
            let Json(tags) = row.try_get::<Json<Vec<String>>, _>("tags")?;
            Ok(Course {
                id: CourseId(row.try_get("id")?),
                slug: row.try_get("slug")?,
                title: row.try_get("title")?,
                subtitle: row.try_get("subtitle")?,
                description: row.try_get("description")?,
                level: Level::parse("level", &level).map_err(|_| stored("level", &level))?,
                language: row.try_get("language")?,
                tags,
                price,
                thumbnail_key: row.try_get("thumbnail_key")?,
                owner_id: UserId(row.try_get("owner_id")?),
                status: CourseStatus::parse("status", &status)
                    .map_err(|_| stored("status", &status))?,
                enrollment_count: row.try_get("enrollment_count")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                published_at: row.try_get("published_at")?,
            })
        }

        fn summary_from(row: &$row) -> Result<CatalogRow> {
            Ok(CatalogRow {
                summary: CourseSummary {
                    course: course_from(row)?,
                    instructor_name: row.try_get("instructor_name")?,
                    lecture_count: row.try_get("lecture_count")?,
                    total_duration_secs: row.try_get("total_duration_secs")?,
                },
                sort_title: row.try_get("sort_title")?,
            })
        }

        fn section_from(row: &$row) -> Result<Section> {
            Ok(Section {
                id: SectionId(row.try_get("id")?),
                course_id: CourseId(row.try_get("course_id")?),
                title: row.try_get("title")?,
                position: row.try_get("position")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn kind_from(raw: &str) -> Result<LectureKind> {
            LectureKind::parse("kind", raw)
                .map_err(|_| Error::internal(format!("unknown lecture kind {raw:?}")))
        }

        fn lecture_from(row: &$row) -> Result<Lecture> {
            let kind: String = row.try_get("kind")?;
            Ok(Lecture {
                id: LectureId(row.try_get("id")?),
                course_id: CourseId(row.try_get("course_id")?),
                section_id: SectionId(row.try_get("section_id")?),
                title: row.try_get("title")?,
                kind: kind_from(&kind)?,
                body: row.try_get("body")?,
                duration_secs: row.try_get("duration_secs")?,
                free_preview: row.try_get("free_preview")?,
                position: row.try_get("position")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// Inserts a draft course; a taken slug is a `conflict`.
        async fn insert_course(
            tx: &mut WriteTx,
            new: &NewCourse,
            at: Timestamp,
        ) -> Result<$row> {
            let sql = format!(
                "INSERT INTO courses (id, slug, title, subtitle, description, level, language, \
                 tags, price_amount, price_currency, thumbnail_key, owner_id, status, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', $13, $13) \
                 RETURNING {COURSE_COLUMNS}"
            );
            sqlx::query(&sql)
                .bind(new.id.0)
                .bind(new.slug.as_str())
                .bind(&new.title)
                .bind(&new.subtitle)
                .bind(&new.description)
                .bind(new.level.as_str())
                .bind(&new.language)
                .bind(Json(&new.tags))
                .bind(new.price.currency().map(|_| new.price.amount_minor()))
                .bind(new.price.currency().map(Currency::code))
                .bind(&new.thumbnail_key)
                .bind(new.owner_id.0)
                .bind(ts(at))
                .fetch_one(&mut **tx)
                .await
                .map_err(|e| unique_as(e, "a course with this slug already exists"))
        }

        /// Reads the course and locks it until the transaction ends, so
        /// changes to one course's tree happen one at a time.
        async fn lock_course(
            tx: &mut WriteTx,
            id: CourseId,
        ) -> Result<Course> {
            let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1{FOR_UPDATE}");
            let row = sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("course not found"))?;
            course_from(&row)
        }

        async fn section_in(
            tx: &mut WriteTx,
            id: SectionId,
        ) -> Result<Section> {
            let sql = format!("SELECT {SECTION_COLUMNS} FROM sections WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("section not found"))?;
            section_from(&row)
        }

        async fn lecture_in(
            tx: &mut WriteTx,
            id: LectureId,
        ) -> Result<Lecture> {
            let sql = format!("SELECT {LECTURE_COLUMNS} FROM lectures WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("lecture not found"))?;
            lecture_from(&row)
        }

        /// Locks the course of section `id`, then reads the section under
        /// that lock. Reading it first and locking after would act on what a
        /// step that held the lock meanwhile has already changed.
        async fn lock_section(
            tx: &mut WriteTx,
            id: SectionId,
        ) -> Result<Section> {
            let sql = format!(
                "SELECT id FROM courses \
                 WHERE id = (SELECT course_id FROM sections WHERE id = $1){FOR_UPDATE}"
            );
            sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("section not found"))?;
            section_in(tx, id).await
        }

        /// Locks the course of lecture `id`, then reads the lecture under
        /// that lock, so its section is the one it is in now: a move that
        /// committed while this step waited may have changed it.
        async fn lock_lecture(
            tx: &mut WriteTx,
            id: LectureId,
        ) -> Result<Lecture> {
            let sql = format!(
                "SELECT id FROM courses \
                 WHERE id = (SELECT course_id FROM lectures WHERE id = $1){FOR_UPDATE}"
            );
            sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("lecture not found"))?;
            lecture_in(tx, id).await
        }

        /// Refuses a deletion that would leave published `course` with no
        /// lecture: publishing asks for one, and a learner would find an
        /// empty course in the catalog. Runs after the delete, under the
        /// course's lock, which publishing takes too.
        async fn keep_a_lecture_if_published(
            tx: &mut WriteTx,
            course: CourseId,
        ) -> Result<()> {
            let emptied: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1 AND status = 'published') \
                 AND NOT EXISTS (SELECT 1 FROM lectures WHERE course_id = $1)",
            )
            .bind(course.0)
            .fetch_one(&mut **tx)
            .await?;
            if emptied {
                return Err(Error::conflict(
                    "a published course keeps at least one lecture; \
                     unpublish or archive it first",
                ));
            }
            Ok(())
        }

        /// The ids of `table`'s rows under `parent`, in position order.
        async fn ordered_ids(
            tx: &mut WriteTx,
            table: &str,
            parent_column: &str,
            parent: Uuid,
        ) -> Result<Vec<Uuid>> {
            let sql = format!("SELECT id FROM {table} WHERE {parent_column} = $1 ORDER BY position");
            Ok(sqlx::query_scalar(&sql).bind(parent).fetch_all(&mut **tx).await?)
        }

        /// Gives the rows under `parent` the positions 0, 1, 2... in the
        /// order of `ids`, which must list every one of them.
        async fn write_order(
            tx: &mut WriteTx,
            table: &str,
            parent_column: &str,
            parent: Uuid,
            ids: &[Uuid],
        ) -> Result<()> {
            let park = format!(
                "UPDATE {table} SET position = position + {PARK} WHERE {parent_column} = $1"
            );
            sqlx::query(&park).bind(parent).execute(&mut **tx).await?;
            if ids.is_empty() {
                return Ok(());
            }
            let mut sql = format!("UPDATE {table} SET position = CASE id");
            for i in 0..ids.len() {
                sql.push_str(&format!(" WHEN ${} THEN {i}", i + 2));
            }
            // A row missing from `ids` would get NULL and fail NOT NULL: a
            // wrong list can never leave a hole or a duplicate.
            sql.push_str(&format!(" END WHERE {parent_column} = $1"));
            let mut query = sqlx::query(&sql).bind(parent);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(&mut **tx).await?;
            Ok(())
        }

        fn position_in(field: &str, position: u32, len: usize) -> Result<usize> {
            let p = position as usize;
            if p > len {
                return Err(Error::invalid_field(
                    field,
                    format!("must be between 0 and {len}"),
                ));
            }
            Ok(p)
        }

        fn event_for(
            kind: &'static str,
            subject_type: &'static str,
            subject: Uuid,
            course: CourseId,
            actor: Actor,
            payload: serde_json::Value,
        ) -> NewEvent {
            NewEvent::course(kind, subject_type, subject, course.0, None, actor, payload)
        }

        #[async_trait]
        impl CourseStore for $store {
            async fn create_course(
                &self,
                new: NewCourse,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Course> {
                let mut tx = self.write().await?;
                let row = insert_course(&mut tx, &new, at).await?;
                let course = course_from(&row)?;
                let payload = json!({ "slug": course.slug, "owner_id": course.owner_id });
                let event =
                    event_for(kinds::COURSE_CREATED, "course", course.id.0, course.id, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(course)
            }

            async fn course(&self, key: &CourseKey) -> Result<Option<CourseSummary>> {
                let column = match key {
                    CourseKey::Id(_) => "id",
                    CourseKey::Slug(_) => "slug",
                };
                let sql = format!("{} WHERE {column} = $1", summary_select("courses"));
                let query = sqlx::query(&sql);
                let query = match key {
                    CourseKey::Id(id) => query.bind(id.0),
                    CourseKey::Slug(slug) => query.bind(slug.as_str().to_owned()),
                };
                let row = query.fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(summary_from).transpose()?.map(|r| r.summary))
            }

            async fn update_course(
                &self,
                id: CourseId,
                changes: CourseChanges,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Course> {
                let mut tx = self.write().await?;
                let fields = changes.field_names();
                let sql = format!(
                    "UPDATE courses SET title = COALESCE($2, title), slug = COALESCE($3, slug), \
                     subtitle = COALESCE($4, subtitle), description = COALESCE($5, description), \
                     level = COALESCE($6, level), language = COALESCE($7, language), \
                     tags = COALESCE($8, tags), \
                     price_amount = CASE WHEN $9 THEN $10 ELSE price_amount END, \
                     price_currency = CASE WHEN $9 THEN CAST($11 AS TEXT) ELSE price_currency END, \
                     thumbnail_key = CASE WHEN $12 THEN CAST($13 AS TEXT) ELSE thumbnail_key END, \
                     updated_at = $14 WHERE id = $1 RETURNING {COURSE_COLUMNS}"
                );
                let price = changes.price;
                let row = sqlx::query(&sql)
                    .bind(id.0)
                    .bind(changes.title)
                    .bind(changes.slug.map(|s| s.as_str().to_owned()))
                    .bind(changes.subtitle)
                    .bind(changes.description)
                    .bind(changes.level.map(Level::as_str))
                    .bind(changes.language)
                    .bind(changes.tags.map(Json))
                    .bind(price.is_some())
                    .bind(price.and_then(|p| p.currency().map(|_| p.amount_minor())))
                    .bind(price.and_then(|p| p.currency()).map(Currency::code))
                    .bind(changes.thumbnail_key.is_some())
                    .bind(changes.thumbnail_key.flatten())
                    .bind(ts(at))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| unique_as(e, "a course with this slug already exists"))?
                    .ok_or_else(|| Error::not_found("course not found"))?;
                let course = course_from(&row)?;
                let payload = json!({ "fields": fields });
                let event = event_for(kinds::COURSE_UPDATED, "course", id.0, id, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(course)
            }

            async fn set_course_status(
                &self,
                id: CourseId,
                status: CourseStatus,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Course> {
                let mut tx = self.write().await?;
                let course = lock_course(&mut tx, id).await?;
                if course.status == status {
                    return Ok(course);
                }
                if status == CourseStatus::Published {
                    let lectures: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM lectures WHERE course_id = $1")
                            .bind(id.0)
                            .fetch_one(&mut *tx)
                            .await?;
                    if lectures == 0 {
                        return Err(Error::invalid_field(
                            "lectures",
                            "a course needs at least one lecture to be published",
                        ));
                    }
                }
                // A draft is hidden from its learners too: archiving is the
                // way to take a course out of the catalog and keep them.
                if status == CourseStatus::Draft {
                    let learners: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE course_id = $1 \
                         AND status = 'active' AND (expires_at IS NULL OR expires_at > $2))",
                    )
                    .bind(id.0)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await?;
                    if learners {
                        return Err(Error::conflict(
                            "this course has learners, whom a draft would shut out; \
                             archive it instead, which keeps their access",
                        ));
                    }
                }
                let sql = format!(
                    "UPDATE courses SET status = $2, updated_at = $3, \
                     published_at = CASE WHEN $2 = 'published' THEN COALESCE(published_at, $3) \
                     ELSE published_at END WHERE id = $1 RETURNING {COURSE_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(id.0)
                    .bind(status.as_str())
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await?;
                let updated = course_from(&row)?;
                let kind = match status {
                    CourseStatus::Published => kinds::COURSE_PUBLISHED,
                    CourseStatus::Draft => kinds::COURSE_UNPUBLISHED,
                    CourseStatus::Archived => kinds::COURSE_ARCHIVED,
                };
                let payload = json!({ "from": course.status, "to": status });
                append(&mut tx, event_for(kind, "course", id.0, id, actor, payload), at).await?;
                self.commit(tx).await?;
                Ok(updated)
            }

            async fn delete_course(&self, id: CourseId, actor: Actor, at: Timestamp) -> Result<()> {
                let mut tx = self.write().await?;
                let course = lock_course(&mut tx, id).await?;
                let enrollments: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE course_id = $1")
                        .bind(id.0)
                        .fetch_one(&mut *tx)
                        .await?;
                if enrollments > 0 {
                    return Err(Error::conflict(
                        "this course has enrollments and cannot be deleted; archive it instead",
                    ));
                }
                // Orders are the record of a sale and keep their course.
                let orders: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE course_id = $1")
                        .bind(id.0)
                        .fetch_one(&mut *tx)
                        .await?;
                if orders > 0 {
                    return Err(Error::conflict(
                        "this course has orders and cannot be deleted; archive it instead",
                    ));
                }
                sqlx::query("DELETE FROM courses WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                let payload = json!({ "slug": course.slug });
                let event = event_for(kinds::COURSE_DELETED, "course", id.0, id, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(())
            }

            async fn outline(&self, id: CourseId) -> Result<Vec<SectionOutline>> {
                let rows = sqlx::query(
                    "SELECT s.id AS section_id, s.title AS section_title, \
                     s.position AS section_position, l.id AS lecture_id, \
                     l.title AS lecture_title, l.kind, l.duration_secs, l.free_preview, \
                     l.position AS lecture_position \
                     FROM sections s LEFT JOIN lectures l ON l.section_id = s.id \
                     WHERE s.course_id = $1 ORDER BY s.position, l.position",
                )
                .bind(id.0)
                .fetch_all(&self.pool)
                .await?;
                let mut sections: Vec<SectionOutline> = Vec::new();
                for row in &rows {
                    let section_id = SectionId(row.try_get("section_id")?);
                    if sections.last().is_none_or(|s| s.id != section_id) {
                        sections.push(SectionOutline {
                            id: section_id,
                            title: row.try_get("section_title")?,
                            position: row.try_get("section_position")?,
                            lectures: Vec::new(),
                        });
                    }
                    let Some(lecture_id) = row.try_get::<Option<Uuid>, _>("lecture_id")? else {
                        continue;
                    };
                    let kind: String = row.try_get("kind")?;
                    let section = sections.last_mut().expect("pushed above");
                    section.lectures.push(LectureOutline {
                        id: LectureId(lecture_id),
                        title: row.try_get("lecture_title")?,
                        kind: kind_from(&kind)?,
                        duration_secs: row.try_get("duration_secs")?,
                        free_preview: row.try_get("free_preview")?,
                        position: row.try_get("lecture_position")?,
                    });
                }
                Ok(sections)
            }

            async fn section(&self, id: SectionId) -> Result<Option<Section>> {
                let sql = format!("SELECT {SECTION_COLUMNS} FROM sections WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(section_from).transpose()
            }

            async fn create_section(
                &self,
                course: CourseId,
                id: SectionId,
                title: String,
                position: Option<u32>,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Section> {
                let mut tx = self.write().await?;
                lock_course(&mut tx, course).await?;
                let mut ids = ordered_ids(&mut tx, "sections", "course_id", course.0).await?;
                if ids.len() >= MAX_SECTIONS {
                    return Err(Error::invalid_field(
                        "position",
                        format!("a course holds at most {MAX_SECTIONS} sections"),
                    ));
                }
                let p = position_in("position", position.unwrap_or(ids.len() as u32), ids.len())?;
                sqlx::query(
                    "INSERT INTO sections (id, course_id, title, position, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(id.0)
                .bind(course.0)
                .bind(&title)
                .bind(INCOMING)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                ids.insert(p, id.0);
                write_order(&mut tx, "sections", "course_id", course.0, &ids).await?;
                let payload = json!({ "position": p });
                let event = event_for(kinds::SECTION_CREATED, "section", id.0, course, actor, payload);
                append(&mut tx, event, at).await?;
                let section = section_in(&mut tx, id).await?;
                self.commit(tx).await?;
                Ok(section)
            }

            async fn rename_section(
                &self,
                id: SectionId,
                title: String,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Section> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "UPDATE sections SET title = $2, updated_at = $3 WHERE id = $1 \
                     RETURNING {SECTION_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(id.0)
                    .bind(&title)
                    .bind(ts(at))
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| Error::not_found("section not found"))?;
                let section = section_from(&row)?;
                let event = event_for(
                    kinds::SECTION_UPDATED,
                    "section",
                    id.0,
                    section.course_id,
                    actor,
                    json!({ "fields": ["title"] }),
                );
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(section)
            }

            async fn move_section(
                &self,
                id: SectionId,
                position: u32,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Section> {
                let mut tx = self.write().await?;
                let course = lock_section(&mut tx, id).await?.course_id;
                let mut ids = ordered_ids(&mut tx, "sections", "course_id", course.0).await?;
                let from = ids
                    .iter()
                    .position(|s| *s == id.0)
                    .ok_or_else(|| Error::not_found("section not found"))?;
                let to = position_in("position", position, ids.len() - 1)?;
                if from != to {
                    ids.remove(from);
                    ids.insert(to, id.0);
                    write_order(&mut tx, "sections", "course_id", course.0, &ids).await?;
                    let payload = json!({ "from": from, "to": to });
                    let event = event_for(kinds::SECTION_MOVED, "section", id.0, course, actor, payload);
                    append(&mut tx, event, at).await?;
                }
                let section = section_in(&mut tx, id).await?;
                self.commit(tx).await?;
                Ok(section)
            }

            async fn delete_section(&self, id: SectionId, actor: Actor, at: Timestamp) -> Result<()> {
                let mut tx = self.write().await?;
                let course = lock_section(&mut tx, id).await?.course_id;
                let deleted = sqlx::query("DELETE FROM sections WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::not_found("section not found"));
                }
                keep_a_lecture_if_published(&mut tx, course).await?;
                let ids = ordered_ids(&mut tx, "sections", "course_id", course.0).await?;
                write_order(&mut tx, "sections", "course_id", course.0, &ids).await?;
                let event = event_for(kinds::SECTION_DELETED, "section", id.0, course, actor, json!({}));
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(())
            }

            async fn lecture(&self, id: LectureId) -> Result<Option<Lecture>> {
                let sql = format!("SELECT {LECTURE_COLUMNS} FROM lectures WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(lecture_from).transpose()
            }

            async fn create_lecture(
                &self,
                section: SectionId,
                new: NewLecture,
                position: Option<u32>,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Lecture> {
                let mut tx = self.write().await?;
                let course = lock_section(&mut tx, section).await?.course_id;
                let mut ids = ordered_ids(&mut tx, "lectures", "section_id", section.0).await?;
                if ids.len() >= MAX_LECTURES_PER_SECTION {
                    return Err(Error::invalid_field(
                        "position",
                        format!("a section holds at most {MAX_LECTURES_PER_SECTION} lectures"),
                    ));
                }
                let p = position_in("position", position.unwrap_or(ids.len() as u32), ids.len())?;
                sqlx::query(
                    "INSERT INTO lectures (id, course_id, section_id, title, kind, body, \
                     duration_secs, free_preview, position, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                )
                .bind(new.id.0)
                .bind(course.0)
                .bind(section.0)
                .bind(&new.title)
                .bind(new.kind.as_str())
                .bind(&new.body)
                .bind(new.duration_secs)
                .bind(new.free_preview)
                .bind(INCOMING)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                ids.insert(p, new.id.0);
                write_order(&mut tx, "lectures", "section_id", section.0, &ids).await?;
                let payload = json!({ "section_id": section, "position": p });
                let event =
                    event_for(kinds::LECTURE_CREATED, "lecture", new.id.0, course, actor, payload);
                append(&mut tx, event, at).await?;
                let lecture = lecture_in(&mut tx, new.id).await?;
                self.commit(tx).await?;
                Ok(lecture)
            }

            async fn update_lecture(
                &self,
                id: LectureId,
                changes: LectureChanges,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Lecture> {
                let mut tx = self.write().await?;
                let fields = changes.field_names();
                let sql = format!(
                    "UPDATE lectures SET title = COALESCE($2, title), kind = COALESCE($3, kind), \
                     body = COALESCE($4, body), duration_secs = COALESCE($5, duration_secs), \
                     free_preview = COALESCE($6, free_preview), updated_at = $7 \
                     WHERE id = $1 RETURNING {LECTURE_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(id.0)
                    .bind(changes.title)
                    .bind(changes.kind.map(LectureKind::as_str))
                    .bind(changes.body)
                    .bind(changes.duration_secs)
                    .bind(changes.free_preview)
                    .bind(ts(at))
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| Error::not_found("lecture not found"))?;
                let lecture = lecture_from(&row)?;
                let payload = json!({ "fields": fields });
                let event =
                    event_for(kinds::LECTURE_UPDATED, "lecture", id.0, lecture.course_id, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(lecture)
            }

            async fn move_lecture(
                &self,
                id: LectureId,
                section: SectionId,
                position: u32,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Lecture> {
                let mut tx = self.write().await?;
                let lecture = lock_lecture(&mut tx, id).await?;
                let target = section_in(&mut tx, section).await?;
                if target.course_id != lecture.course_id {
                    return Err(Error::invalid_field(
                        "section_id",
                        "must be a section of the lecture's own course",
                    ));
                }
                let course = lecture.course_id;
                let mut source = ordered_ids(&mut tx, "lectures", "section_id", lecture.section_id.0).await?;
                let from = source
                    .iter()
                    .position(|l| *l == id.0)
                    .ok_or_else(|| Error::not_found("lecture not found"))?;
                let moved = if section == lecture.section_id {
                    let to = position_in("position", position, source.len() - 1)?;
                    if from != to {
                        source.remove(from);
                        source.insert(to, id.0);
                        write_order(&mut tx, "lectures", "section_id", section.0, &source).await?;
                    }
                    from != to
                } else {
                    let mut target_ids = ordered_ids(&mut tx, "lectures", "section_id", section.0).await?;
                    if target_ids.len() >= MAX_LECTURES_PER_SECTION {
                        return Err(Error::invalid_field(
                            "section_id",
                            format!("a section holds at most {MAX_LECTURES_PER_SECTION} lectures"),
                        ));
                    }
                    let to = position_in("position", position, target_ids.len())?;
                    sqlx::query("UPDATE lectures SET section_id = $2, position = $3 WHERE id = $1")
                        .bind(id.0)
                        .bind(section.0)
                        .bind(INCOMING)
                        .execute(&mut *tx)
                        .await?;
                    target_ids.insert(to, id.0);
                    write_order(&mut tx, "lectures", "section_id", section.0, &target_ids).await?;
                    source.remove(from);
                    write_order(&mut tx, "lectures", "section_id", lecture.section_id.0, &source)
                        .await?;
                    true
                };
                let moved_lecture = lecture_in(&mut tx, id).await?;
                if moved {
                    let payload = json!({
                        "from_section_id": lecture.section_id,
                        "to_section_id": section,
                        "position": moved_lecture.position,
                    });
                    let event = event_for(kinds::LECTURE_MOVED, "lecture", id.0, course, actor, payload);
                    append(&mut tx, event, at).await?;
                }
                self.commit(tx).await?;
                Ok(moved_lecture)
            }

            async fn delete_lecture(&self, id: LectureId, actor: Actor, at: Timestamp) -> Result<()> {
                let mut tx = self.write().await?;
                let lecture = lock_lecture(&mut tx, id).await?;
                let deleted = sqlx::query("DELETE FROM lectures WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::not_found("lecture not found"));
                }
                keep_a_lecture_if_published(&mut tx, lecture.course_id).await?;
                let ids = ordered_ids(&mut tx, "lectures", "section_id", lecture.section_id.0).await?;
                write_order(&mut tx, "lectures", "section_id", lecture.section_id.0, &ids).await?;
                let payload = json!({ "section_id": lecture.section_id });
                let event =
                    event_for(kinds::LECTURE_DELETED, "lecture", id.0, lecture.course_id, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(())
            }

            async fn course_lectures(&self, course: CourseId) -> Result<Vec<Lecture>> {
                let sql = format!(
                    "SELECT {LECTURE_COLUMNS} FROM lectures WHERE course_id = $1 ORDER BY \
                     (SELECT position FROM sections WHERE sections.id = lectures.section_id), position"
                );
                let rows = sqlx::query(&sql).bind(course.0).fetch_all(&self.pool).await?;
                rows.iter().map(lecture_from).collect()
            }

            async fn import_course(
                &self,
                import: CourseImport,
                actor: Actor,
                at: Timestamp,
            ) -> Result<ImportOutcome> {
                let mut tx = self.write().await?;
                let new = &import.course;
                let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE slug = $1{FOR_UPDATE}");
                let existing = sqlx::query(&sql)
                    .bind(new.slug.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .as_ref()
                    .map(course_from)
                    .transpose()?;
                let mut changes = 0u64;
                let (id, status) = match &existing {
                    None => {
                        insert_course(&mut tx, new, at).await?;
                        changes += 1;
                        (new.id, CourseStatus::Draft)
                    }
                    Some(c) => {
                        let same = c.title == new.title
                            && c.subtitle == new.subtitle
                            && c.description == new.description
                            && c.level == new.level
                            && c.language == new.language
                            && c.tags == new.tags
                            && c.price == new.price
                            && c.thumbnail_key == new.thumbnail_key
                            && c.owner_id == new.owner_id;
                        if !same {
                            sqlx::query(
                                "UPDATE courses SET title = $2, subtitle = $3, description = $4, \
                                 level = $5, language = $6, tags = $7, price_amount = $8, \
                                 price_currency = $9, thumbnail_key = $10, owner_id = $11, \
                                 updated_at = $12 WHERE id = $1",
                            )
                            .bind(c.id.0)
                            .bind(&new.title)
                            .bind(&new.subtitle)
                            .bind(&new.description)
                            .bind(new.level.as_str())
                            .bind(&new.language)
                            .bind(Json(&new.tags))
                            .bind(new.price.currency().map(|_| new.price.amount_minor()))
                            .bind(new.price.currency().map(Currency::code))
                            .bind(&new.thumbnail_key)
                            .bind(new.owner_id.0)
                            .bind(ts(at))
                            .execute(&mut *tx)
                            .await?;
                            changes += 1;
                        }
                        (c.id, c.status)
                    }
                };

                let sql = format!(
                    "SELECT {SECTION_COLUMNS} FROM sections WHERE course_id = $1 ORDER BY position"
                );
                let old_sections = sqlx::query(&sql)
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(section_from)
                    .collect::<Result<Vec<_>>>()?;
                let sql = format!(
                    "SELECT {LECTURE_COLUMNS} FROM lectures WHERE course_id = $1 ORDER BY position"
                );
                let old_lectures = sqlx::query(&sql)
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(lecture_from)
                    .collect::<Result<Vec<_>>>()?;

                // Matched by position, so rows that exist keep their ids (and
                // their learners' progress); additions take the positions
                // after the last kept row and deletions free the ones after
                // the last imported row, so positions stay dense throughout.
                for (i, (title, lectures)) in import.sections.iter().enumerate() {
                    let section = match old_sections.get(i) {
                        Some(old) => {
                            if old.title != *title {
                                sqlx::query(
                                    "UPDATE sections SET title = $2, updated_at = $3 WHERE id = $1",
                                )
                                .bind(old.id.0)
                                .bind(title)
                                .bind(ts(at))
                                .execute(&mut *tx)
                                .await?;
                                changes += 1;
                            }
                            old.id
                        }
                        None => {
                            let section = SectionId::new();
                            sqlx::query(
                                "INSERT INTO sections (id, course_id, title, position, created_at, \
                                 updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                            )
                            .bind(section.0)
                            .bind(id.0)
                            .bind(title)
                            .bind(i as i64)
                            .bind(ts(at))
                            .execute(&mut *tx)
                            .await?;
                            changes += 1;
                            section
                        }
                    };
                    let olds: Vec<&Lecture> =
                        old_lectures.iter().filter(|l| l.section_id == section).collect();
                    for (j, lecture) in lectures.iter().enumerate() {
                        match olds.get(j) {
                            Some(old) => {
                                let same = old.title == lecture.title
                                    && old.kind == lecture.kind
                                    && old.body == lecture.body
                                    && old.duration_secs == lecture.duration_secs
                                    && old.free_preview == lecture.free_preview;
                                if !same {
                                    sqlx::query(
                                        "UPDATE lectures SET title = $2, kind = $3, body = $4, \
                                         duration_secs = $5, free_preview = $6, updated_at = $7 \
                                         WHERE id = $1",
                                    )
                                    .bind(old.id.0)
                                    .bind(&lecture.title)
                                    .bind(lecture.kind.as_str())
                                    .bind(&lecture.body)
                                    .bind(lecture.duration_secs)
                                    .bind(lecture.free_preview)
                                    .bind(ts(at))
                                    .execute(&mut *tx)
                                    .await?;
                                    changes += 1;
                                }
                            }
                            None => {
                                sqlx::query(
                                    "INSERT INTO lectures (id, course_id, section_id, title, kind, \
                                     body, duration_secs, free_preview, position, created_at, \
                                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                                )
                                .bind(LectureId::new().0)
                                .bind(id.0)
                                .bind(section.0)
                                .bind(&lecture.title)
                                .bind(lecture.kind.as_str())
                                .bind(&lecture.body)
                                .bind(lecture.duration_secs)
                                .bind(lecture.free_preview)
                                .bind(j as i64)
                                .bind(ts(at))
                                .execute(&mut *tx)
                                .await?;
                                changes += 1;
                            }
                        }
                    }
                    for old in olds.iter().skip(lectures.len()) {
                        sqlx::query("DELETE FROM lectures WHERE id = $1")
                            .bind(old.id.0)
                            .execute(&mut *tx)
                            .await?;
                        changes += 1;
                    }
                }
                for old in old_sections.iter().skip(import.sections.len()) {
                    // Its lectures and their progress go with it (cascade).
                    sqlx::query("DELETE FROM sections WHERE id = $1")
                        .bind(old.id.0)
                        .execute(&mut *tx)
                        .await?;
                    changes += 1;
                }

                if import.status != status {
                    if import.status == CourseStatus::Published
                        && import.sections.iter().all(|(_, l)| l.is_empty())
                    {
                        return Err(Error::invalid_field(
                            "status",
                            "a course needs at least one lecture to be published",
                        ));
                    }
                    sqlx::query(
                        "UPDATE courses SET status = $2, updated_at = $3, \
                         published_at = CASE WHEN $2 = 'published' THEN COALESCE(published_at, $3) \
                         ELSE published_at END WHERE id = $1",
                    )
                    .bind(id.0)
                    .bind(import.status.as_str())
                    .bind(ts(at))
                    .execute(&mut *tx)
                    .await?;
                    changes += 1;
                }

                if changes == 0 {
                    // Dropping the transaction writes nothing.
                    let course = existing.expect("an unchanged course exists");
                    return Ok(ImportOutcome { course, result: "unchanged", changes });
                }
                let result = if existing.is_none() { "created" } else { "updated" };
                let payload = json!({ "slug": new.slug.as_str(), "result": result, "changes": changes });
                let event = event_for(kinds::COURSE_IMPORTED, "course", id.0, id, actor, payload);
                append(&mut tx, event, at).await?;
                let course = lock_course(&mut tx, id).await?;
                self.commit(tx).await?;
                Ok(ImportOutcome { course, result, changes })
            }

            async fn catalog(&self, filter: &CatalogFilter) -> Result<Vec<CatalogRow>> {
                // Only the filters present reach the statement: an optional
                // filter written `($n IS NULL OR ...)` can use no index, and
                // each shape gets its own prepared statement and plan.
                let mut p = Params::default();
                let mut clauses: Vec<String> = Vec::new();
                if filter.status.is_some() {
                    clauses.push(format!("status = {}", p.next()));
                }
                if filter.owner.is_some() {
                    clauses.push(format!("owner_id = {}", p.next()));
                }
                if filter.level.is_some() {
                    clauses.push(format!("level = {}", p.next()));
                }
                if filter.language.is_some() {
                    let (exact, regional) = (p.next(), p.next());
                    clauses.push(format!("(language = {exact} OR language LIKE {regional})"));
                }
                match filter.free {
                    Some(true) => clauses.push("price_amount IS NULL".to_owned()),
                    Some(false) => clauses.push("price_amount IS NOT NULL".to_owned()),
                    None => {}
                }
                if filter.tag.is_some() {
                    clauses.push(tag_match(&p.next()));
                }
                if !filter.words.is_empty() {
                    clauses.push(text_match(&p.next()));
                }
                match &filter.after {
                    None => {}
                    Some(CatalogAfter::Recent(_)) => clauses.push(format!("id < {}", p.next())),
                    Some(after) => {
                        let (key, id) = (p.next(), p.next());
                        let column = match after {
                            CatalogAfter::Newest(..) => "published_at",
                            CatalogAfter::Title(..) => "lower(title)",
                            _ => "enrollment_count",
                        };
                        // Titles ascend; the other keys descend.
                        let past = if matches!(after, CatalogAfter::Title(..)) { ">" } else { "<" };
                        clauses.push(format!(
                            "({column} {past} {key} OR ({column} = {key} AND id {past} {id}))"
                        ));
                    }
                }
                let order = match filter.sort {
                    CatalogSort::Newest => "published_at DESC, id DESC",
                    CatalogSort::Title => "lower(title), id",
                    CatalogSort::Popular => "enrollment_count DESC, id DESC",
                    CatalogSort::Recent => "id DESC",
                };
                let filters = if clauses.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", clauses.join(" AND "))
                };
                // The page is chosen first and only its rows get their
                // aggregates: in the select list of the outer query SQLite
                // would otherwise compute them for every row it sorts.
                let page = format!(
                    "(SELECT * FROM courses {filters} ORDER BY {order} LIMIT {}) AS courses",
                    p.next()
                );
                let sql = format!("{} ORDER BY {order}", summary_select(&page));
                let mut query = sqlx::query(&sql);
                if let Some(status) = filter.status {
                    query = query.bind(status.as_str());
                }
                if let Some(owner) = filter.owner {
                    query = query.bind(owner.0);
                }
                if let Some(level) = filter.level {
                    query = query.bind(level.as_str());
                }
                if let Some(language) = &filter.language {
                    query = query.bind(language.clone()).bind(format!("{language}-%"));
                }
                if let Some(tag) = &filter.tag {
                    query = query.bind(tag.clone());
                }
                if !filter.words.is_empty() {
                    query = query.bind(text_query(&filter.words));
                }
                query = match &filter.after {
                    None => query,
                    Some(CatalogAfter::Newest(t, id)) => query.bind(ts(*t)).bind(id.0),
                    Some(CatalogAfter::Title(t, id)) => query.bind(t.clone()).bind(id.0),
                    Some(CatalogAfter::Popular(n, id)) => query.bind(*n).bind(id.0),
                    Some(CatalogAfter::Recent(id)) => query.bind(id.0),
                };
                let rows = query
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(summary_from).collect()
            }
        }
    };
}

pub(crate) use courses_sql;
