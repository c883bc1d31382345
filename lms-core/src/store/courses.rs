//! Store steps of the course tree and the catalog.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::catalog::{
    Course, CourseStatus, CourseSummary, Lecture, LectureKind, Section, SectionOutline,
};
use crate::clock::Timestamp;
use crate::domain::{CourseId, LectureId, Level, Price, SectionId, Slug, UserId};
use crate::error::Result;

/// Most sections a course holds, and most lectures a section holds: bounds
/// on the work one move does and on the size of a tree page.
pub const MAX_SECTIONS: usize = 200;
/// See [`MAX_SECTIONS`].
pub const MAX_LECTURES_PER_SECTION: usize = 500;

/// A new course, validated.
#[derive(Debug, Clone)]
pub struct NewCourse {
    /// Fresh id.
    pub id: CourseId,
    /// Unique slug; a taken one is a `conflict`.
    pub slug: Slug,
    /// Title.
    pub title: String,
    /// One-line pitch.
    pub subtitle: String,
    /// Markdown description.
    pub description: String,
    /// Level.
    pub level: Level,
    /// Language tag.
    pub language: String,
    /// Normalized tags.
    pub tags: Vec<String>,
    /// Price.
    pub price: Price,
    /// Thumbnail object key.
    pub thumbnail_key: Option<String>,
    /// Owner.
    pub owner_id: UserId,
}

/// Course fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CourseChanges {
    /// New title (the slug stays).
    pub title: Option<String>,
    /// New slug, when asked for explicitly.
    pub slug: Option<Slug>,
    /// New subtitle.
    pub subtitle: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New level.
    pub level: Option<Level>,
    /// New language.
    pub language: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New price.
    pub price: Option<Price>,
    /// New thumbnail, or cleared.
    pub thumbnail_key: Option<Option<String>>,
}

impl CourseChanges {
    /// Names of the fields this change touches, for the event payload.
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("title", self.title.is_some()),
            ("slug", self.slug.is_some()),
            ("subtitle", self.subtitle.is_some()),
            ("description", self.description.is_some()),
            ("level", self.level.is_some()),
            ("language", self.language.is_some()),
            ("tags", self.tags.is_some()),
            ("price", self.price.is_some()),
            ("thumbnail_key", self.thumbnail_key.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// A new lecture, validated.
#[derive(Debug, Clone)]
pub struct NewLecture {
    /// Fresh id.
    pub id: LectureId,
    /// Title.
    pub title: String,
    /// Video or article.
    pub kind: LectureKind,
    /// Markdown body.
    pub body: String,
    /// Length in seconds.
    pub duration_secs: i64,
    /// Open to anyone.
    pub free_preview: bool,
}

/// Lecture fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct LectureChanges {
    /// New title.
    pub title: Option<String>,
    /// New kind.
    pub kind: Option<LectureKind>,
    /// New body.
    pub body: Option<String>,
    /// New duration.
    pub duration_secs: Option<i64>,
    /// New preview flag.
    pub free_preview: Option<bool>,
}

impl LectureChanges {
    /// Names of the fields this change touches, for the event payload.
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("title", self.title.is_some()),
            ("kind", self.kind.is_some()),
            ("body", self.body.is_some()),
            ("duration_secs", self.duration_secs.is_some()),
            ("free_preview", self.free_preview.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// How a course is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CourseKey {
    /// By id.
    Id(CourseId),
    /// By slug.
    Slug(Slug),
}

/// Where a catalog page starts: after the course with this sort key and id.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogAfter {
    /// Newest first: after this publication time.
    Newest(Timestamp, CourseId),
    /// By title: after this lower-cased title.
    Title(String, CourseId),
    /// Most enrolled first: after this count.
    Popular(i64, CourseId),
    /// Most recently created first (an owner's list).
    Recent(CourseId),
}

/// Catalog order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogSort {
    /// Most recently published first.
    #[default]
    Newest,
    /// By title, A to Z.
    Title,
    /// Most active enrollments first.
    Popular,
    /// Most recently created first.
    Recent,
}

/// A validated catalog query, as the store runs it.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    /// Only this status (`None`: any).
    pub status: Option<CourseStatus>,
    /// Only this owner's courses.
    pub owner: Option<UserId>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only this language, or its regional variants (`en` matches `en-GB`).
    pub language: Option<String>,
    /// Only free (`Some(true)`) or only paid (`Some(false)`) courses.
    pub free: Option<bool>,
    /// Only courses with this tag.
    pub tag: Option<String>,
    /// Search words, each a prefix, all required.
    pub words: Vec<String>,
    /// Order.
    pub sort: CatalogSort,
    /// Keyset cursor.
    pub after: Option<CatalogAfter>,
    /// Page size.
    pub limit: u32,
}

/// A catalog row with the key its order sorts on, for the next cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    /// The course and its aggregates.
    pub summary: CourseSummary,
    /// The lower-cased title as the store sorts it.
    pub sort_title: String,
}

/// The course tree and the catalog.
#[async_trait]
pub trait CourseStore: Send + Sync {
    /// Inserts a course. A taken slug is a `conflict`.
    async fn create_course(&self, new: NewCourse, actor: Actor, at: Timestamp) -> Result<Course>;

    /// A course with its owner's name and aggregates.
    async fn course(&self, key: &CourseKey) -> Result<Option<CourseSummary>>;

    /// Changes course fields.
    async fn update_course(
        &self,
        id: CourseId,
        changes: CourseChanges,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Course>;

    /// Moves a course to `status`. Publishing checks, in the same
    /// transaction, that the course has a lecture (`invalid_input` if not),
    /// and sets the first publication time. Back to draft only without
    /// live enrollments (`conflict`): a draft is hidden from its learners.
    async fn set_course_status(
        &self,
        id: CourseId,
        status: CourseStatus,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Course>;

    /// Deletes a course and its tree. A course with enrollments is a
    /// `conflict`: archive it instead.
    async fn delete_course(&self, id: CourseId, actor: Actor, at: Timestamp) -> Result<()>;

    /// The course's sections and lectures in order, in one round trip.
    async fn outline(&self, id: CourseId) -> Result<Vec<SectionOutline>>;

    /// A section.
    async fn section(&self, id: SectionId) -> Result<Option<Section>>;

    /// Adds a section at `position` (0-based; `None` appends).
    async fn create_section(
        &self,
        course: CourseId,
        id: SectionId,
        title: String,
        position: Option<u32>,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Section>;

    /// Renames a section.
    async fn rename_section(
        &self,
        id: SectionId,
        title: String,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Section>;

    /// Moves a section to `position` among its course's sections.
    async fn move_section(
        &self,
        id: SectionId,
        position: u32,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Section>;

    /// Deletes a section with its lectures; the rest close up. A published
    /// course keeps at least one lecture: a deletion that would take its
    /// last is a `conflict` and changes nothing.
    async fn delete_section(&self, id: SectionId, actor: Actor, at: Timestamp) -> Result<()>;

    /// A lecture with its content.
    async fn lecture(&self, id: LectureId) -> Result<Option<Lecture>>;

    /// Adds a lecture to a section at `position` (`None` appends).
    async fn create_lecture(
        &self,
        section: SectionId,
        new: NewLecture,
        position: Option<u32>,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Lecture>;

    /// Changes lecture fields.
    async fn update_lecture(
        &self,
        id: LectureId,
        changes: LectureChanges,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Lecture>;

    /// Moves a lecture to `position` in `section`, its own or another of
    /// the same course (`invalid_input` otherwise).
    async fn move_lecture(
        &self,
        id: LectureId,
        section: SectionId,
        position: u32,
        actor: Actor,
        at: Timestamp,
    ) -> Result<Lecture>;

    /// Deletes a lecture; the rest of its section closes up. A published
    /// course keeps at least one lecture: deleting its last is a
    /// `conflict` and changes nothing.
    async fn delete_lecture(&self, id: LectureId, actor: Actor, at: Timestamp) -> Result<()>;

    /// One page of courses, in one round trip.
    async fn catalog(&self, filter: &CatalogFilter) -> Result<Vec<CatalogRow>>;

    /// Every lecture of a course with its content, in outline order
    /// (section position, then lecture position), in one round trip.
    async fn course_lectures(&self, course: CourseId) -> Result<Vec<Lecture>>;

    /// Creates the course `import.course.slug` names with its whole tree,
    /// or brings the existing one in line with it, in one transaction:
    /// fields, status, and sections and lectures matched by position (titles
    /// and content updated, missing ones added at the end, extra ones
    /// deleted with their progress). Nothing differs: nothing is written.
    ///
    /// Events: one `course.imported` naming what changed, only when
    /// something did.
    async fn import_course(
        &self,
        import: CourseImport,
        actor: Actor,
        at: Timestamp,
    ) -> Result<ImportOutcome>;
}

/// A validated course tree to import (see [`CourseStore::import_course`]).
#[derive(Debug, Clone)]
pub struct CourseImport {
    /// The course; `id` is used only when it is created.
    pub course: NewCourse,
    /// The status it ends in.
    pub status: CourseStatus,
    /// Sections in order, each with its title and lectures in order.
    pub sections: Vec<(String, Vec<NewLecture>)>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    /// The course as it now is.
    pub course: Course,
    /// `created`, `updated` or `unchanged`.
    pub result: &'static str,
    /// Rows written: the course, sections and lectures added, changed or
    /// deleted.
    pub changes: u64,
}
