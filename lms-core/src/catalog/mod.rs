//! Courses, their tree of sections and lectures, and the catalog.
//!
//! Rules decided here, for every face:
//! - Instructors and admins create courses; only the owner or an admin
//!   edits, publishes, archives, deletes, or sees a draft. A course others
//!   may not see is `not_found`, never `forbidden`, so drafts do not leak.
//! - Anyone sees a published course's outline (titles, kinds, durations,
//!   preview flags). Lecture content is for learners with a live
//!   enrollment, the owner, admins, and free-preview lectures.
//! - Archived courses leave the catalog; their learners keep access.
//! - Publishing needs a lecture; a course with enrollments cannot be
//!   deleted (archive it).
//! - The slug is derived from the title once (with `-2`, `-3`... on a
//!   collision) and stays when the title changes; only an explicit slug
//!   changes it.

mod cursor;
mod model;
mod transfer;

use std::sync::Arc;

use serde::Deserialize;

pub use model::{
    Course, CourseDetail, CourseStatus, CourseSummary, Lecture, LectureKind, LectureOutline,
    LectureView, Section, SectionOutline,
};
pub use transfer::{
    CourseExport, EXPORT_FORMAT, ExportedCourse, ExportedLecture, ExportedPrice, ExportedSection,
};

use crate::Lms;
use crate::accounts::{not_null, present};
use crate::actor::Actor;
use crate::domain::{
    CourseId, Language, LectureId, Level, Markdown, ObjectKey, Price, Role, SectionId, Slug,
    Subtitle, Tags, Title, UserId, page_limit,
};
use crate::error::{Error, ErrorKind, FieldError, Result, check, finish};
use crate::media::UploadPurpose;
use crate::store::courses::{
    CatalogFilter, CatalogSort, CourseChanges, CourseKey, LectureChanges, NewCourse, NewLecture,
};

/// Longest course description and lecture body, in characters.
pub const MAX_MARKDOWN_CHARS: usize = 100_000;
/// Longest lecture, in seconds (24 hours).
pub const MAX_DURATION_SECS: i64 = 24 * 3600;
/// Default catalog page size.
pub const DEFAULT_PAGE: u32 = 20;
/// Largest catalog page.
pub const MAX_PAGE: u32 = 100;

/// A price as callers send it: an amount in minor units (0 is free) and a
/// currency code.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// Minor units (cents, yen): 4999 is 49.99 USD. 0 makes it free.
    pub amount: i64,
    /// ISO 4217 code; required unless the amount is 0.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A new course.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    /// Title.
    pub title: String,
    /// Slug; derived from the title when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// One-line pitch.
    #[serde(default)]
    pub subtitle: Option<String>,
    /// Markdown description.
    #[serde(default)]
    pub description: Option<String>,
    /// beginner, intermediate, advanced or all (default all).
    #[serde(default)]
    pub level: Option<String>,
    /// BCP 47 language tag (default `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Price (default free).
    #[serde(default)]
    pub price: Option<PriceInput>,
    /// Thumbnail object key.
    #[serde(default)]
    pub thumbnail_key: Option<String>,
    /// The instructor who will own it: admins and the operator only;
    /// everyone else owns what they create.
    #[serde(default)]
    pub owner_id: Option<UserId>,
}

/// Course fields to change; absent fields stay. `null` clears
/// `thumbnail_key` and is refused (422) elsewhere: nothing else can be
/// cleared (an empty `subtitle` or `description` is none).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CourseUpdate {
    /// New title (the slug stays).
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub title: Option<String>,
    /// New slug.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub slug: Option<String>,
    /// New subtitle.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub subtitle: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub description: Option<String>,
    /// New level.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub level: Option<String>,
    /// New language.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub language: Option<String>,
    /// New tags.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub tags: Option<Vec<String>>,
    /// New price.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub price: Option<PriceInput>,
    /// New thumbnail key; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub thumbnail_key: Option<Option<String>>,
}

/// A new section.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SectionInput {
    /// Title.
    pub title: String,
    /// 0-based place among the course's sections (default: last).
    #[serde(default)]
    pub position: Option<u32>,
}

/// A new lecture.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LectureInput {
    /// Title.
    pub title: String,
    /// `video` or `article`.
    pub kind: String,
    /// Markdown body.
    #[serde(default)]
    pub body: Option<String>,
    /// Length in seconds.
    #[serde(default)]
    pub duration_secs: Option<i64>,
    /// Open to anyone (default false).
    #[serde(default)]
    pub free_preview: Option<bool>,
    /// 0-based place in the section (default: last).
    #[serde(default)]
    pub position: Option<u32>,
}

/// Lecture fields to change; absent fields stay, and `null` is refused
/// (422): none can be cleared.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LectureUpdate {
    /// New title.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub title: Option<String>,
    /// New kind.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub kind: Option<String>,
    /// New body.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub body: Option<String>,
    /// New length in seconds.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub duration_secs: Option<i64>,
    /// New preview flag.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub free_preview: Option<bool>,
}

/// Where to move a lecture.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LectureMove {
    /// Target section of the same course (default: its own).
    #[serde(default)]
    pub section_id: Option<SectionId>,
    /// 0-based place in the target section.
    pub position: u32,
}

/// What the catalog is asked for. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// Search words (title, subtitle, description, tags), each a prefix.
    #[serde(default)]
    pub q: Option<String>,
    /// beginner, intermediate, advanced or all.
    #[serde(default)]
    pub level: Option<String>,
    /// Language tag; `en` also matches `en-GB`.
    #[serde(default)]
    pub language: Option<String>,
    /// `free` or `paid`.
    #[serde(default)]
    pub price: Option<String>,
    /// Owner's user id.
    #[serde(default)]
    pub instructor: Option<String>,
    /// A tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// `newest` (default), `title` or `popular`.
    #[serde(default)]
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One page of courses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogPage {
    /// The courses.
    pub items: Vec<CourseSummary>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

fn parse_price(input: &PriceInput) -> Result<Price> {
    Price::parse(
        "price.amount",
        Some(input.amount),
        "price.currency",
        input.currency.as_deref(),
    )
}

fn parse_duration(raw: i64) -> Result<i64> {
    if (0..=MAX_DURATION_SECS).contains(&raw) {
        Ok(raw)
    } else {
        Err(Error::invalid_field(
            "duration_secs",
            format!("must be between 0 and {MAX_DURATION_SECS}"),
        ))
    }
}

fn parse_tags(raw: &[String]) -> Result<Vec<String>> {
    Tags::parse("tags", raw).map(Tags::into_vec)
}

/// Whether `actor` owns `course` or runs the school.
pub(crate) fn manages(actor: &Actor, course: &Course) -> bool {
    actor.is_admin() || actor.user_id() == Some(course.owner_id)
}

/// Whether `actor` may open a lecture's content, the one rule every face
/// and every kind of content (text, video, attachments) follows: the owner
/// and admins; learners with a live enrollment; anyone for a free preview
/// of a published course. Who may not even see the course gets
/// `not_found`, as for the course itself.
pub(crate) fn lecture_access(
    actor: &Actor,
    status: CourseStatus,
    owner: UserId,
    free_preview: bool,
    enrolled: bool,
) -> Result<()> {
    let manages = actor.is_admin() || actor.user_id() == Some(owner);
    let visible = match status {
        CourseStatus::Published => true,
        _ if manages => true,
        CourseStatus::Archived => enrolled,
        CourseStatus::Draft => false,
    };
    if !visible {
        Err(Error::not_found("lecture not found"))
    } else if manages || (free_preview && status == CourseStatus::Published) || enrolled {
        Ok(())
    } else if matches!(actor, Actor::Anonymous) {
        Err(Error::unauthenticated(
            "sign in and enroll to open this lecture",
        ))
    } else {
        Err(Error::forbidden(
            "enroll in this course to open this lecture",
        ))
    }
}

/// `id_or_slug` as a lookup key.
fn course_key(id_or_slug: &str) -> Result<CourseKey> {
    match CourseId::parse("course", id_or_slug) {
        Ok(id) => Ok(CourseKey::Id(id)),
        Err(_) => Ok(CourseKey::Slug(Slug::parse("course", id_or_slug).map_err(
            |_| Error::invalid_field("course", "must be a course id or slug"),
        )?)),
    }
}

/// Refuses a student as the owner of a course, or of a coupon for an
/// owner's courses: only instructors and admins make courses, and a
/// learner given one could not manage it.
pub(crate) fn course_owner_role(field: &str, role: Role) -> Result<()> {
    if role == Role::Student {
        return Err(Error::invalid_field(
            field,
            "is a student's; a course is owned by an instructor or an admin",
        ));
    }
    Ok(())
}

impl Lms {
    /// Creates a draft course: instructors, admins and the operator.
    pub async fn create_course(&self, actor: &Actor, input: CourseInput) -> Result<Course> {
        let owner = match (actor, input.owner_id) {
            (
                Actor::User {
                    id,
                    role: Role::Instructor,
                    ..
                },
                None,
            ) => *id,
            (
                Actor::User {
                    id,
                    role: Role::Instructor,
                    ..
                },
                Some(o),
            ) if o == *id => *id,
            (
                Actor::User {
                    role: Role::Instructor,
                    ..
                },
                Some(_),
            ) => {
                return Err(Error::forbidden(
                    "only an admin may create a course for someone else",
                ));
            }
            (
                Actor::User {
                    id,
                    role: Role::Admin,
                    ..
                },
                owner,
            ) => owner.unwrap_or(*id),
            (Actor::System, Some(owner)) => owner,
            (Actor::System, None) => {
                return Err(Error::invalid_field(
                    "owner_id",
                    "is required when the operator creates a course",
                ));
            }
            (Actor::Anonymous, _) => return Err(Error::unauthenticated("sign in first")),
            (Actor::User { .. }, _) => {
                return Err(Error::forbidden(
                    "only instructors and admins create courses",
                ));
            }
        };
        if owner != actor.user_id().unwrap_or_default() {
            let record = self.store().user(owner).await?;
            let Some(record) = record.filter(|r| r.deleted_at.is_none()) else {
                return Err(Error::invalid_field("owner_id", "is not a user"));
            };
            course_owner_role("owner_id", record.user.role)?;
        }
        let fields = parse_course_fields(&CourseUpdate {
            title: Some(input.title.clone()),
            slug: input.slug.clone(),
            subtitle: input.subtitle.clone(),
            description: input.description.clone(),
            level: input.level.clone(),
            language: input.language.clone(),
            tags: input.tags.clone(),
            price: input.price.clone(),
            thumbnail_key: Some(input.thumbnail_key.clone()),
        })?;
        let mut new = new_course(fields, &input.title, owner);
        if let Some(key) = &new.thumbnail_key {
            self.check_file_key(
                actor,
                "thumbnail_key",
                key,
                UploadPurpose::CourseThumbnail,
                |a| a.owner_id == owner,
            )
            .await?;
        }
        let explicit_slug = input.slug.is_some();
        let base = new.slug.clone();
        let mut attempt = 1;
        loop {
            match self
                .store()
                .create_course(new.clone(), *actor, self.now())
                .await
            {
                // A derived slug that collides takes the next free suffix; a
                // slug the caller chose is theirs to change.
                Err(e) if e.kind() == ErrorKind::Conflict && !explicit_slug && attempt < 50 => {
                    attempt += 1;
                    new.slug = base.with_suffix(attempt);
                }
                Err(e) if e.kind() == ErrorKind::Conflict && explicit_slug => {
                    return Err(Error::conflict(format!(
                        "the slug {:?} is taken; choose another",
                        base.as_str()
                    )));
                }
                result => return result,
            }
        }
    }

    /// The course `id_or_slug` names, if `actor` may see it at all.
    async fn visible_course(&self, actor: &Actor, id_or_slug: &str) -> Result<CourseSummary> {
        let key = course_key(id_or_slug)?;
        let summary = self
            .store()
            .course(&key)
            .await?
            .ok_or_else(|| Error::not_found("course not found"))?;
        self.check_visible(actor, &summary.course).await?;
        Ok(summary)
    }

    /// `not_found` unless `actor` may see `course`: anyone a published one,
    /// its managers any, its learners an archived one.
    async fn check_visible(&self, actor: &Actor, course: &Course) -> Result<()> {
        let visible = match course.status {
            CourseStatus::Published => true,
            _ if manages(actor, course) => true,
            CourseStatus::Archived => self.live_enrollment(actor, course.id).await?,
            CourseStatus::Draft => false,
        };
        if visible {
            Ok(())
        } else {
            Err(Error::not_found("course not found"))
        }
    }

    /// The course, if `actor` may change it: `not_found` when they may not
    /// even see it, `forbidden` when they see it but do not own it.
    pub(crate) async fn managed_course(&self, actor: &Actor, id: CourseId) -> Result<Course> {
        self.managed_course_by(actor, &id.to_string()).await
    }

    /// [`Lms::managed_course`] by id or slug.
    pub(crate) async fn managed_course_by(
        &self,
        actor: &Actor,
        id_or_slug: &str,
    ) -> Result<Course> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated("sign in first"));
        }
        let course = self.visible_course(actor, id_or_slug).await?.course;
        if manages(actor, &course) {
            Ok(course)
        } else {
            Err(Error::forbidden(
                "only the course's owner or an admin may do this",
            ))
        }
    }

    /// A course with its whole tree and aggregates, by id or slug:
    /// published ones for anyone, drafts for the owner and admins, archived
    /// ones also for their learners. Two store round trips whatever the size.
    ///
    /// The tree is shared by everyone who may see it, so it comes through
    /// the read cache; who may see it is decided on every call.
    pub async fn course_detail(
        &self,
        actor: &Actor,
        id_or_slug: &str,
    ) -> Result<Arc<CourseDetail>> {
        let detail = self
            .course_tree(id_or_slug)
            .await?
            .ok_or_else(|| Error::not_found("course not found"))?;
        self.check_visible(actor, &detail.summary.course).await?;
        Ok(detail)
    }

    /// A course with its outline, whoever asks, through the read cache.
    pub(crate) async fn course_tree(&self, id_or_slug: &str) -> Result<Option<Arc<CourseDetail>>> {
        let key = course_key(id_or_slug)?;
        self.cached(&self.inner.courses, id_or_slug.to_owned(), async {
            let Some(summary) = self.store().course(&key).await? else {
                return Ok(None);
            };
            let sections = self.store().outline(summary.course.id).await?;
            Ok(Some(Arc::new(CourseDetail { summary, sections })))
        })
        .await
    }

    /// Changes course fields: the owner and admins.
    pub async fn update_course(
        &self,
        actor: &Actor,
        id: CourseId,
        update: CourseUpdate,
    ) -> Result<Course> {
        let course = self.managed_course(actor, id).await?;
        let changes = parse_course_fields(&update)?;
        if changes.field_names().is_empty() {
            return Ok(course);
        }
        if let Some(Some(key)) = &changes.thumbnail_key {
            // This course's thumbnail, or one its owner uploaded for another.
            self.check_file_key(
                actor,
                "thumbnail_key",
                key,
                UploadPurpose::CourseThumbnail,
                |a| a.course_id == Some(id) || a.owner_id == course.owner_id,
            )
            .await?;
        }
        self.store()
            .update_course(id, changes, *actor, self.now())
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Conflict => Error::conflict("that slug is taken; choose another"),
                _ => e,
            })
    }

    /// Puts a course in the catalog: the owner and admins. It needs at
    /// least one lecture.
    pub async fn publish_course(&self, actor: &Actor, id: CourseId) -> Result<Course> {
        self.set_status(actor, id, CourseStatus::Published).await
    }

    /// Takes a course back to draft: the owner and admins.
    pub async fn unpublish_course(&self, actor: &Actor, id: CourseId) -> Result<Course> {
        self.set_status(actor, id, CourseStatus::Draft).await
    }

    /// Takes a course out of the catalog for good; its learners keep access.
    pub async fn archive_course(&self, actor: &Actor, id: CourseId) -> Result<Course> {
        self.set_status(actor, id, CourseStatus::Archived).await
    }

    async fn set_status(
        &self,
        actor: &Actor,
        id: CourseId,
        status: CourseStatus,
    ) -> Result<Course> {
        self.managed_course(actor, id).await?;
        self.store()
            .set_course_status(id, status, *actor, self.now())
            .await
    }

    /// Deletes a course and its tree: the owner and admins, and only while
    /// nobody is enrolled (`conflict` otherwise: archive it).
    pub async fn delete_course(&self, actor: &Actor, id: CourseId) -> Result<()> {
        self.managed_course(actor, id).await?;
        self.store().delete_course(id, *actor, self.now()).await
    }

    /// The published catalog: search, filters, sort, keyset pages. One
    /// store round trip per page, and pages come through the read cache.
    pub async fn catalog(&self, query: &CatalogQuery) -> Result<Arc<CatalogPage>> {
        let mut errors = Vec::new();
        let sort = match query.sort.as_deref().map(str::trim) {
            None | Some("") | Some("newest") => CatalogSort::Newest,
            Some("title") => CatalogSort::Title,
            Some("popular") => CatalogSort::Popular,
            Some(_) => {
                errors.push(FieldError {
                    field: "sort".into(),
                    message: "must be newest, title or popular".into(),
                });
                CatalogSort::Newest
            }
        };
        let free = match query.price.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("free") => Some(true),
            Some("paid") => Some(false),
            Some(_) => {
                errors.push(FieldError {
                    field: "price".into(),
                    message: "must be free or paid".into(),
                });
                None
            }
        };
        let filter = CatalogFilter {
            status: Some(CourseStatus::Published),
            owner: query
                .instructor
                .as_deref()
                .and_then(|i| check(UserId::parse("instructor", i), &mut errors)),
            level: query
                .level
                .as_deref()
                .and_then(|l| check(Level::parse("level", l), &mut errors)),
            language: query
                .language
                .as_deref()
                .and_then(|l| check(Language::parse("language", l), &mut errors))
                .map(|l| l.as_str().to_owned()),
            free,
            tag: query
                .tag
                .as_deref()
                .and_then(|t| check(parse_tags(&[t.to_owned()]), &mut errors))
                .and_then(|t| t.into_iter().next()),
            words: query.q.as_deref().map(search_words).unwrap_or_default(),
            sort,
            after: query
                .cursor
                .as_deref()
                .and_then(|c| check(cursor::decode(c, sort), &mut errors)),
            limit: page_size(query.limit, &mut errors),
        };
        finish(errors, || ())?;
        // The parsed filter is the key, so equivalent queries share a page.
        let key = format!("{filter:?}");
        self.cached(&self.inner.catalog, key, async {
            Ok(Arc::new(self.catalog_page(filter).await?))
        })
        .await
    }

    /// An instructor's own courses in every status, newest first: the
    /// instructor themselves (admins see anyone's with `instructor`).
    /// Students have no courses to list and are refused.
    pub async fn instructor_courses(
        &self,
        actor: &Actor,
        instructor: Option<UserId>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<CatalogPage> {
        let me = actor.require_user().or_else(|e| match actor {
            Actor::System => Ok(UserId::default()),
            _ => Err(e),
        })?;
        if matches!(
            actor,
            Actor::User {
                role: Role::Student,
                ..
            }
        ) {
            return Err(Error::forbidden(
                "only instructors and admins have courses to list",
            ));
        }
        let owner = match instructor {
            Some(other) if other != me => {
                actor.require_admin()?;
                other
            }
            _ if matches!(actor, Actor::System) => {
                return Err(Error::invalid_field(
                    "instructor",
                    "is required for the operator",
                ));
            }
            _ => me,
        };
        let mut errors = Vec::new();
        let filter = CatalogFilter {
            owner: Some(owner),
            sort: CatalogSort::Recent,
            after: cursor.and_then(|c| check(cursor::decode(c, CatalogSort::Recent), &mut errors)),
            limit: page_size(limit, &mut errors),
            ..CatalogFilter::default()
        };
        finish(errors, || ())?;
        self.catalog_page(filter).await
    }

    /// Every course in any status (or only `status`), newest first: admins
    /// and the operator.
    pub async fn courses(
        &self,
        actor: &Actor,
        status: Option<CourseStatus>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<CatalogPage> {
        actor.require_admin()?;
        let mut errors = Vec::new();
        let filter = CatalogFilter {
            status,
            sort: CatalogSort::Recent,
            after: cursor.and_then(|c| check(cursor::decode(c, CatalogSort::Recent), &mut errors)),
            limit: page_size(limit, &mut errors),
            ..CatalogFilter::default()
        };
        finish(errors, || ())?;
        self.catalog_page(filter).await
    }

    async fn catalog_page(&self, filter: CatalogFilter) -> Result<CatalogPage> {
        let limit = filter.limit as usize;
        // One row more than asked tells whether another page exists.
        let mut rows = self
            .store()
            .catalog(&CatalogFilter {
                limit: filter.limit + 1,
                ..filter.clone()
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = rows
            .last()
            .filter(|_| more)
            .map(|row| cursor::encode(filter.sort, row));
        Ok(CatalogPage {
            items: rows.into_iter().map(|r| r.summary).collect(),
            next_cursor,
        })
    }

    /// Adds a section: the owner and admins.
    pub async fn create_section(
        &self,
        actor: &Actor,
        course: CourseId,
        input: SectionInput,
    ) -> Result<Section> {
        self.managed_course(actor, course).await?;
        let title = Title::parse("title", &input.title)?;
        self.store()
            .create_section(
                course,
                SectionId::new(),
                title.as_str().to_owned(),
                input.position,
                *actor,
                self.now(),
            )
            .await
    }

    async fn managed_section(&self, actor: &Actor, id: SectionId) -> Result<Section> {
        let section = self
            .store()
            .section(id)
            .await?
            .ok_or_else(|| Error::not_found("section not found"))?;
        self.managed_course(actor, section.course_id).await?;
        Ok(section)
    }

    /// Renames a section: the owner and admins.
    pub async fn rename_section(
        &self,
        actor: &Actor,
        id: SectionId,
        title: &str,
    ) -> Result<Section> {
        self.managed_section(actor, id).await?;
        let title = Title::parse("title", title)?;
        self.store()
            .rename_section(id, title.as_str().to_owned(), *actor, self.now())
            .await
    }

    /// Moves a section to `position` (0-based): the owner and admins.
    pub async fn move_section(
        &self,
        actor: &Actor,
        id: SectionId,
        position: u32,
    ) -> Result<Section> {
        self.managed_section(actor, id).await?;
        self.store()
            .move_section(id, position, *actor, self.now())
            .await
    }

    /// Deletes a section and its lectures: the owner and admins.
    pub async fn delete_section(&self, actor: &Actor, id: SectionId) -> Result<()> {
        self.managed_section(actor, id).await?;
        self.store().delete_section(id, *actor, self.now()).await
    }

    /// Adds a lecture to a section: the owner and admins.
    pub async fn create_lecture(
        &self,
        actor: &Actor,
        section: SectionId,
        input: LectureInput,
    ) -> Result<Lecture> {
        self.managed_section(actor, section).await?;
        let mut errors = Vec::new();
        let title = check(Title::parse("title", &input.title), &mut errors);
        let kind = check(LectureKind::parse("kind", &input.kind), &mut errors);
        let body = input
            .body
            .as_deref()
            .map(|b| check(Markdown::parse("body", b, MAX_MARKDOWN_CHARS), &mut errors));
        let duration = input
            .duration_secs
            .map(|d| check(parse_duration(d), &mut errors));
        let new = finish(errors, || NewLecture {
            id: LectureId::new(),
            title: title.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            kind: kind.unwrap_or(LectureKind::Article),
            body: body
                .flatten()
                .map(|b| b.as_str().to_owned())
                .unwrap_or_default(),
            duration_secs: duration.flatten().unwrap_or(0),
            free_preview: input.free_preview.unwrap_or(false),
        })?;
        self.store()
            .create_lecture(section, new, input.position, *actor, self.now())
            .await
    }

    pub(crate) async fn managed_lecture(&self, actor: &Actor, id: LectureId) -> Result<Lecture> {
        let lecture = self
            .store()
            .lecture(id)
            .await?
            .ok_or_else(|| Error::not_found("lecture not found"))?;
        self.managed_course(actor, lecture.course_id).await?;
        Ok(lecture)
    }

    /// A lecture with its content and neighbours, for those who may open it:
    /// learners with a live enrollment, the owner, admins, and anyone for a
    /// free-preview lecture of a published course.
    pub async fn lecture(&self, actor: &Actor, id: LectureId) -> Result<LectureView> {
        let lecture = self.openable_lecture(actor, id).await?;
        let outline = self.store().outline(lecture.course_id).await?;
        let order: Vec<LectureId> = outline
            .iter()
            .flat_map(|s| s.lectures.iter().map(|l| l.id))
            .collect();
        let at = order.iter().position(|l| *l == id);
        let previous_lecture_id = at.and_then(|i| i.checked_sub(1)).map(|i| order[i]);
        let next_lecture_id = at.and_then(|i| order.get(i + 1).copied());
        Ok(LectureView {
            lecture,
            previous_lecture_id,
            next_lecture_id,
        })
    }

    /// The lecture, if `actor` may open its content.
    pub(crate) async fn openable_lecture(&self, actor: &Actor, id: LectureId) -> Result<Lecture> {
        let lecture = self
            .store()
            .lecture(id)
            .await?
            .ok_or_else(|| Error::not_found("lecture not found"))?;
        let course = self
            .store()
            .course(&CourseKey::Id(lecture.course_id))
            .await?
            .ok_or_else(|| Error::not_found("lecture not found"))?
            .course;
        let enrolled = self.live_enrollment(actor, course.id).await?;
        lecture_access(
            actor,
            course.status,
            course.owner_id,
            lecture.free_preview,
            enrolled,
        )?;
        Ok(lecture)
    }

    /// Changes lecture fields: the owner and admins.
    pub async fn update_lecture(
        &self,
        actor: &Actor,
        id: LectureId,
        update: LectureUpdate,
    ) -> Result<Lecture> {
        let lecture = self.managed_lecture(actor, id).await?;
        let mut errors = Vec::new();
        let changes = LectureChanges {
            title: update
                .title
                .as_deref()
                .and_then(|t| check(Title::parse("title", t), &mut errors))
                .map(|t| t.as_str().to_owned()),
            kind: update
                .kind
                .as_deref()
                .and_then(|k| check(LectureKind::parse("kind", k), &mut errors)),
            body: update
                .body
                .as_deref()
                .and_then(|b| check(Markdown::parse("body", b, MAX_MARKDOWN_CHARS), &mut errors))
                .map(|b| b.as_str().to_owned()),
            duration_secs: update
                .duration_secs
                .and_then(|d| check(parse_duration(d), &mut errors)),
            free_preview: update.free_preview,
        };
        finish(errors, || ())?;
        if changes.field_names().is_empty() {
            return Ok(lecture);
        }
        self.store()
            .update_lecture(id, changes, *actor, self.now())
            .await
    }

    /// Moves a lecture within its section or to another section of the same
    /// course: the owner and admins.
    pub async fn move_lecture(
        &self,
        actor: &Actor,
        id: LectureId,
        to: LectureMove,
    ) -> Result<Lecture> {
        let lecture = self.managed_lecture(actor, id).await?;
        let section = to.section_id.unwrap_or(lecture.section_id);
        self.store()
            .move_lecture(id, section, to.position, *actor, self.now())
            .await
            .map_err(|e| match e.kind() {
                // A section id that does not exist is bad input here.
                ErrorKind::NotFound if to.section_id.is_some() => {
                    Error::invalid_field("section_id", "is not a section of this course")
                }
                _ => e,
            })
    }

    /// Deletes a lecture: the owner and admins.
    pub async fn delete_lecture(&self, actor: &Actor, id: LectureId) -> Result<()> {
        self.managed_lecture(actor, id).await?;
        self.store().delete_lecture(id, *actor, self.now()).await
    }
}

/// Checks every field a course update names, reporting all problems at once.
/// A new course from parsed fields, with the defaults of every field not
/// given; the slug, when not given, derives from `title`.
fn new_course(fields: CourseChanges, title: &str, owner: UserId) -> NewCourse {
    NewCourse {
        id: CourseId::new(),
        slug: fields.slug.unwrap_or_else(|| {
            Slug::from_title(title)
                .unwrap_or_else(|| Slug::parse("slug", "course").expect("a valid slug"))
        }),
        title: fields.title.unwrap_or_default(),
        subtitle: fields.subtitle.unwrap_or_default(),
        description: fields.description.unwrap_or_default(),
        level: fields.level.unwrap_or(Level::All),
        language: fields.language.unwrap_or_else(|| "en".to_owned()),
        tags: fields.tags.unwrap_or_default(),
        price: fields.price.unwrap_or_default(),
        thumbnail_key: fields.thumbnail_key.flatten(),
        owner_id: owner,
    }
}

fn parse_course_fields(update: &CourseUpdate) -> Result<CourseChanges> {
    let mut errors = Vec::new();
    let changes = CourseChanges {
        title: update
            .title
            .as_deref()
            .and_then(|t| check(Title::parse("title", t), &mut errors))
            .map(|t| t.as_str().to_owned()),
        slug: update
            .slug
            .as_deref()
            .and_then(|s| check(Slug::parse("slug", s), &mut errors)),
        subtitle: update
            .subtitle
            .as_deref()
            .and_then(|s| check(Subtitle::parse("subtitle", s), &mut errors))
            .map(|s| s.as_str().to_owned()),
        description: update
            .description
            .as_deref()
            .and_then(|d| {
                check(
                    Markdown::parse("description", d, MAX_MARKDOWN_CHARS),
                    &mut errors,
                )
            })
            .map(|d| d.as_str().to_owned()),
        level: update
            .level
            .as_deref()
            .and_then(|l| check(Level::parse("level", l), &mut errors)),
        language: update
            .language
            .as_deref()
            .and_then(|l| check(Language::parse("language", l), &mut errors))
            .map(|l| l.as_str().to_owned()),
        tags: update
            .tags
            .as_deref()
            .and_then(|t| check(parse_tags(t), &mut errors)),
        price: update
            .price
            .as_ref()
            .and_then(|p| check(parse_price(p), &mut errors)),
        // An empty key clears, like null: forms often cannot send null.
        thumbnail_key: update.thumbnail_key.as_ref().map(|k| {
            k.as_deref().filter(|k| !k.trim().is_empty()).and_then(|k| {
                check(ObjectKey::parse("thumbnail_key", k), &mut errors)
                    .map(|k| k.as_str().to_owned())
            })
        }),
    };
    finish(errors, || changes)
}

/// The letters-and-digits words of a search, lower-cased: at most 8, each
/// at most 40 characters. Everything else separates words, so no input can
/// reach a full-text query's syntax.
fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().chars().take(40).collect())
        .take(8)
        .collect()
}

fn page_size(limit: Option<u32>, errors: &mut Vec<FieldError>) -> u32 {
    check(page_limit(limit, DEFAULT_PAGE, MAX_PAGE), errors).unwrap_or(DEFAULT_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_keep_only_letters_and_digits() {
        assert_eq!(
            search_words("Rust* \"async\" OR -tokio"),
            ["rust", "async", "or", "tokio"]
        );
        assert_eq!(search_words("Crème brûlée"), ["crème", "brûlée"]);
        assert!(search_words("\"*():^").is_empty());
        assert_eq!(search_words("a b c d e f g h i j").len(), 8);
    }
}
