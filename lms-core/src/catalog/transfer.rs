//! Moving courses between installations: [`Lms::export_course`] writes a
//! course and its whole tree as one JSON document, [`Lms::import_course`]
//! creates it, or brings a course with the same slug in line with it, in one
//! store transaction. Importing the same document twice changes nothing.
//!
//! The document carries no ids: the slug names the course, the owner is an
//! e-mail address, and sections and lectures are matched by position, so a
//! document exported from one school imports into another.

use serde::{Deserialize, Serialize};

use super::{CourseStatus, CourseUpdate, LectureKind, MAX_MARKDOWN_CHARS, PriceInput};
use super::{new_course, parse_course_fields, parse_duration};
use crate::Lms;
use crate::actor::Actor;
use crate::domain::{Email, Markdown, Title};
use crate::error::{Error, FieldError, Result};
use crate::store::courses::{
    CourseImport, ImportOutcome, MAX_LECTURES_PER_SECTION, MAX_SECTIONS, NewLecture,
};

/// The `format` of documents this version writes and reads.
pub const EXPORT_FORMAT: &str = "lms.course/1";

/// A course and its tree, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The course's fields.
    pub course: ExportedCourse,
    /// Sections in order.
    pub sections: Vec<ExportedSection>,
}

/// A course's own fields in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCourse {
    /// Names the course: an import updates the course with this slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// One-line pitch.
    #[serde(default)]
    pub subtitle: String,
    /// Markdown description.
    #[serde(default)]
    pub description: String,
    /// `all`, `beginner`, `intermediate` or `advanced`.
    pub level: String,
    /// BCP 47 language tag.
    pub language: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The price; absent for a free course.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<ExportedPrice>,
    /// Media-storage key of the thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_key: Option<String>,
    /// `draft`, `published` or `archived`.
    pub status: String,
    /// The owning instructor's e-mail address.
    pub owner_email: String,
}

/// A price in an export: minor units and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedPrice {
    /// Minor units.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
}

/// A section in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedSection {
    /// Title.
    pub title: String,
    /// Lectures in order.
    #[serde(default)]
    pub lectures: Vec<ExportedLecture>,
}

/// A lecture in an export, with its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedLecture {
    /// Title.
    pub title: String,
    /// `video` or `article`.
    pub kind: String,
    /// Markdown content.
    #[serde(default)]
    pub body: String,
    /// Length in seconds.
    #[serde(default)]
    pub duration_secs: i64,
    /// Anyone may open it.
    #[serde(default)]
    pub free_preview: bool,
}

impl Lms {
    /// The course `id_or_slug` names, with its whole tree: the owner,
    /// admins and the operator.
    pub async fn export_course(&self, actor: &Actor, id_or_slug: &str) -> Result<CourseExport> {
        let course = self.managed_course_by(actor, id_or_slug).await?;
        let outline = self.store().outline(course.id).await?;
        let mut lectures = self.store().course_lectures(course.id).await?.into_iter();
        let owner = self
            .store()
            .user(course.owner_id)
            .await?
            .ok_or_else(|| Error::internal("a course's owner is missing"))?;
        let sections = outline
            .iter()
            .map(|section| ExportedSection {
                title: section.title.clone(),
                lectures: lectures
                    .by_ref()
                    .take(section.lectures.len())
                    .map(|l| ExportedLecture {
                        title: l.title,
                        kind: l.kind.as_str().to_owned(),
                        body: l.body,
                        duration_secs: l.duration_secs,
                        free_preview: l.free_preview,
                    })
                    .collect(),
            })
            .collect();
        Ok(CourseExport {
            format: EXPORT_FORMAT.to_owned(),
            course: ExportedCourse {
                slug: course.slug,
                title: course.title,
                subtitle: course.subtitle,
                description: course.description,
                level: course.level.as_str().to_owned(),
                language: course.language,
                tags: course.tags,
                price: course.price.currency().map(|c| ExportedPrice {
                    amount: course.price.amount_minor(),
                    currency: c.code().to_owned(),
                }),
                thumbnail_key: course.thumbnail_key,
                status: course.status.as_str().to_owned(),
                owner_email: owner.user.email,
            },
            sections,
        })
    }

    /// Creates the exported course, or brings the course with its slug in
    /// line with the document, in one transaction: admins and the operator.
    /// `owner_email` overrides the document's owner. Every bad field is
    /// reported at once (`course.title`, `sections[2].lectures[0].kind`) and
    /// nothing is written.
    pub async fn import_course(
        &self,
        actor: &Actor,
        export: &CourseExport,
        owner_email: Option<&str>,
    ) -> Result<ImportOutcome> {
        actor.require_admin()?;
        let mut errors = Vec::new();
        if export.format != EXPORT_FORMAT {
            errors.push(field_error("format", &format!("must be {EXPORT_FORMAT:?}")));
        }
        let c = &export.course;
        let fields = parse_course_fields(&CourseUpdate {
            title: Some(c.title.clone()),
            slug: Some(c.slug.clone()),
            subtitle: Some(c.subtitle.clone()),
            description: Some(c.description.clone()),
            level: Some(c.level.clone()),
            language: Some(c.language.clone()),
            tags: Some(c.tags.clone()),
            price: Some(match &c.price {
                Some(p) => PriceInput {
                    amount: p.amount,
                    currency: Some(p.currency.clone()),
                },
                None => PriceInput {
                    amount: 0,
                    currency: None,
                },
            }),
            thumbnail_key: Some(c.thumbnail_key.clone()),
        });
        let fields = match fields {
            Ok(fields) => Some(fields),
            Err(e) => {
                errors.extend(prefixed("course.", e));
                None
            }
        };
        let status = CourseStatus::parse("course.status", &c.status)
            .map_err(|e| errors.extend(prefixed("", e)))
            .ok();
        if export.sections.len() > MAX_SECTIONS {
            errors.push(field_error(
                "sections",
                &format!("a course holds at most {MAX_SECTIONS} sections"),
            ));
        }
        let mut sections = Vec::with_capacity(export.sections.len());
        for (i, section) in export.sections.iter().enumerate() {
            let at = format!("sections[{i}]");
            let title = Title::parse(&format!("{at}.title"), &section.title)
                .map_err(|e| errors.extend(prefixed("", e)))
                .ok();
            if section.lectures.len() > MAX_LECTURES_PER_SECTION {
                errors.push(field_error(
                    &format!("{at}.lectures"),
                    &format!("a section holds at most {MAX_LECTURES_PER_SECTION} lectures"),
                ));
            }
            let mut lectures = Vec::with_capacity(section.lectures.len());
            for (j, lecture) in section.lectures.iter().enumerate() {
                match parse_lecture(lecture) {
                    Ok(l) => lectures.push(l),
                    Err(e) => errors.extend(prefixed(&format!("{at}.lectures[{j}]."), e)),
                }
            }
            sections.push((
                title.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                lectures,
            ));
        }
        let owner_field = if owner_email.is_some() {
            "owner"
        } else {
            "course.owner_email"
        };
        let owner = self
            .course_owner(owner_field, owner_email.unwrap_or(&c.owner_email))
            .await
            .map_err(|e| errors.extend(prefixed("", e)))
            .ok();
        if !errors.is_empty() {
            return Err(Error::invalid_fields(errors));
        }
        let (Some(fields), Some(status), Some(owner)) = (fields, status, owner) else {
            return Err(Error::internal(
                "an import passed validation without its parts",
            ));
        };
        let import = CourseImport {
            course: new_course(fields, &c.title, owner),
            status,
            sections,
        };
        self.store().import_course(import, *actor, self.now()).await
    }

    /// The live instructor or admin with this e-mail, to own a course.
    async fn course_owner(&self, field: &str, email: &str) -> Result<crate::domain::UserId> {
        let email = Email::parse(field, email)?;
        let record = self
            .store()
            .user_by_email(&email)
            .await?
            .ok_or_else(|| Error::invalid_field(field, "is not the e-mail of a user here"))?;
        super::course_owner_role(field, record.user.role)?;
        Ok(record.user.id)
    }
}

fn parse_lecture(lecture: &ExportedLecture) -> Result<NewLecture> {
    let mut errors = Vec::new();
    let title = Title::parse("title", &lecture.title)
        .map_err(|e| errors.extend(prefixed("", e)))
        .ok();
    let kind = LectureKind::parse("kind", &lecture.kind)
        .map_err(|e| errors.extend(prefixed("", e)))
        .ok();
    let body = Markdown::parse("body", &lecture.body, MAX_MARKDOWN_CHARS)
        .map_err(|e| errors.extend(prefixed("", e)))
        .ok();
    let duration = parse_duration(lecture.duration_secs)
        .map_err(|e| errors.extend(prefixed("", e)))
        .ok();
    if !errors.is_empty() {
        return Err(Error::invalid_fields(errors));
    }
    Ok(NewLecture {
        id: crate::domain::LectureId::new(),
        title: title.map(|t| t.as_str().to_owned()).unwrap_or_default(),
        kind: kind.unwrap_or(LectureKind::Article),
        body: body.map(|b| b.as_str().to_owned()).unwrap_or_default(),
        duration_secs: duration.unwrap_or(0),
        free_preview: lecture.free_preview,
    })
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// An error's field errors with their names under `prefix`; an error
/// without field errors becomes one named after the prefix.
fn prefixed(prefix: &str, error: Error) -> Vec<FieldError> {
    if error.fields().is_empty() {
        return vec![field_error(prefix.trim_end_matches('.'), error.message())];
    }
    error
        .fields()
        .iter()
        .map(|f| field_error(&format!("{prefix}{}", f.field), &f.message))
        .collect()
}
