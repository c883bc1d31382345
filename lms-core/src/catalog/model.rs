//! What the course tree and the catalog look like to callers: plain
//! serde structs shared by every face.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{CourseId, LectureId, Level, Price, SectionId, UserId};
use crate::error::Error;

/// Where a course is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    /// Being written; only the owner and admins see it.
    Draft,
    /// In the catalog; anyone sees its outline.
    Published,
    /// Out of the catalog; enrolled learners keep their access.
    Archived,
}

impl CourseStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Archived => "archived",
        }
    }

    /// Parses a stored or requested status, naming `field` when unknown.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw.trim() {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            "archived" => Ok(Self::Archived),
            _ => Err(Error::invalid_field(
                field,
                "must be one of draft, published, archived",
            )),
        }
    }
}

/// What a lecture is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LectureKind {
    /// A video (the asset arrives with media uploads); has a resume position.
    Video,
    /// A Markdown article.
    Article,
}

impl LectureKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Article => "article",
        }
    }

    /// Parses a stored or requested kind, naming `field` when unknown.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw.trim() {
            "video" => Ok(Self::Video),
            "article" => Ok(Self::Article),
            _ => Err(Error::invalid_field(field, "must be video or article")),
        }
    }
}

/// A course's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Course {
    /// The course id.
    pub id: CourseId,
    /// Unique URL name; set once from the title unless given, then stable.
    pub slug: String,
    /// Title.
    pub title: String,
    /// One-line pitch.
    pub subtitle: String,
    /// Markdown description.
    pub description: String,
    /// Who it is for.
    pub level: Level,
    /// Teaching language (BCP 47 tag).
    pub language: String,
    /// Normalized tags.
    pub tags: Vec<String>,
    /// Free, or an amount in minor units of a currency.
    pub price: Price,
    /// Media-storage key of the thumbnail image.
    pub thumbnail_key: Option<String>,
    /// The instructor who owns it.
    pub owner_id: UserId,
    /// Draft, published or archived.
    pub status: CourseStatus,
    /// Active enrollments.
    pub enrollment_count: i64,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When its fields last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When it was first published.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub published_at: Option<Timestamp>,
}

/// A course as the catalog lists it, with its aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourseSummary {
    /// The course.
    #[serde(flatten)]
    pub course: Course,
    /// The owner's display name.
    pub instructor_name: String,
    /// Lectures in the course.
    pub lecture_count: i64,
    /// Sum of the lectures' durations, in seconds.
    pub total_duration_secs: i64,
}

/// One lecture in an outline: what anyone may see of a published course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LectureOutline {
    /// The lecture id.
    pub id: LectureId,
    /// Title.
    pub title: String,
    /// Video or article.
    pub kind: LectureKind,
    /// Length in seconds.
    pub duration_secs: i64,
    /// Anyone may open it.
    pub free_preview: bool,
    /// Place in its section, from 0.
    pub position: i32,
}

/// One section in an outline, with its lectures in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SectionOutline {
    /// The section id.
    pub id: SectionId,
    /// Title.
    pub title: String,
    /// Place in the course, from 0.
    pub position: i32,
    /// Its lectures in order.
    pub lectures: Vec<LectureOutline>,
}

/// A course with its whole tree and aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourseDetail {
    /// The course and its aggregates.
    #[serde(flatten)]
    pub summary: CourseSummary,
    /// Sections in order, each with its lectures in order.
    pub sections: Vec<SectionOutline>,
}

/// A section's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    /// The section id.
    pub id: SectionId,
    /// Its course.
    pub course_id: CourseId,
    /// Title.
    pub title: String,
    /// Place in the course, from 0.
    pub position: i32,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// A lecture with its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lecture {
    /// The lecture id.
    pub id: LectureId,
    /// Its course.
    pub course_id: CourseId,
    /// Its section.
    pub section_id: SectionId,
    /// Title.
    pub title: String,
    /// Video or article.
    pub kind: LectureKind,
    /// Markdown body.
    pub body: String,
    /// Length in seconds.
    pub duration_secs: i64,
    /// Anyone may open it.
    pub free_preview: bool,
    /// Place in its section, from 0.
    pub position: i32,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// A lecture with where it sits in the course, for the player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LectureView {
    /// The lecture and its content.
    #[serde(flatten)]
    pub lecture: Lecture,
    /// The lecture before it in outline order.
    pub previous_lecture_id: Option<LectureId>,
    /// The lecture after it in outline order.
    pub next_lecture_id: Option<LectureId>,
}
