//! The benchmark's data set, generated deterministically (same titles,
//! tags, counts and shape on every run; only UUIDs differ) as plain rows
//! ready for [`crate::seed`] to write.
//!
//! Rows are what the core itself writes for the same history: accounts
//! created by the operator, courses created, filled and published by their
//! instructors, learners enrolled (free courses by themselves, paid ones
//! granted by the owner), some lectures completed, and one event-log row
//! for every one of those steps with the core's kinds and payloads, in time
//! order.

use chrono::{DateTime, Duration as TimeDelta, TimeZone as _, Utc};
use lms_core::domain::{Slug, Tags};
use serde_json::json;
use uuid::Uuid;

/// The password of every seeded account. One password (and one hash of it)
/// for all: seeding 50,000 Argon2 hashes would take half an hour of CPU and
/// measure nothing.
pub const PASSWORD: &str = "bench learner passphrase";

/// How big the data set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Courses, all with the same tree shape.
    pub courses: usize,
    /// Sections per course.
    pub sections_per_course: usize,
    /// Lectures per section.
    pub lectures_per_section: usize,
    /// Accounts, instructors included.
    pub users: usize,
    /// Of them, instructors (the rest are students).
    pub instructors: usize,
    /// Enrollments, spread over every student.
    pub enrollments: usize,
}

impl Scale {
    /// The data set: 2,000 courses x 20 sections x 10 lectures,
    /// 50,000 users, 200,000 enrollments.
    pub const FULL: Scale = Scale {
        courses: 2_000,
        sections_per_course: 20,
        lectures_per_section: 10,
        users: 50_000,
        instructors: 200,
        enrollments: 200_000,
    };

    /// `--quick`: the same course shape (a tree is still 200 lectures), a
    /// twentieth of everything else.
    pub const QUICK: Scale = Scale {
        courses: 100,
        sections_per_course: 20,
        lectures_per_section: 10,
        users: 2_500,
        instructors: 10,
        enrollments: 10_000,
    };

    /// For tests: seeds in well under a second.
    pub const TINY: Scale = Scale {
        courses: 12,
        sections_per_course: 2,
        lectures_per_section: 3,
        users: 40,
        instructors: 3,
        enrollments: 90,
    };

    /// Lectures in one course.
    pub fn lectures_per_course(&self) -> usize {
        self.sections_per_course * self.lectures_per_section
    }

    /// Students.
    pub fn learners(&self) -> usize {
        self.users - self.instructors
    }

    /// A name for the cache (SQLite file, PostgreSQL schema) of this scale.
    pub fn key(&self) -> String {
        format!(
            "c{}x{}x{}_u{}_e{}",
            self.courses,
            self.sections_per_course,
            self.lectures_per_section,
            self.users,
            self.enrollments
        )
    }
}

/// The e-mail of student number `n` (0-based).
pub fn learner_email(n: usize) -> String {
    format!("learner{n}@bench.lms.test")
}

fn instructor_email(n: usize) -> String {
    format!("instructor{n}@bench.lms.test")
}

/// Whether course number `n` is in the catalog. Most are; a few are drafts
/// and a few archived, so the status filter has something to skip.
pub fn course_is_published(n: usize) -> bool {
    !matches!(n % 50, 7 | 23)
}

/// One value of a row, typed so each backend binds it as its column wants.
#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Json(serde_json::Value),
}

/// Rows of one table, flattened: `values.len()` is a multiple of
/// `columns.len()`.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub values: Vec<Value>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            name,
            columns,
            values: Vec::new(),
        }
    }

    fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns.len());
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.values.len() / self.columns.len()
    }
}

/// The whole data set, tables in foreign-key order.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub tables: Vec<Table>,
}

impl DataSet {
    /// Rows of `table`.
    pub fn count(&self, table: &str) -> usize {
        self.tables
            .iter()
            .find(|t| t.name == table)
            .map_or(0, Table::rows)
    }
}

/// SplitMix64: tiny, fast, and the same sequence everywhere, so the data
/// set has the same shape on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOPICS: &[&str] = &[
    "Rust",
    "Python",
    "Data Science",
    "Machine Learning",
    "Web Development",
    "PostgreSQL",
    "Photography",
    "Guitar",
    "Spanish",
    "Digital Marketing",
    "Accounting",
    "Drawing",
    "Public Speaking",
    "Kubernetes",
    "React",
    "Statistics",
    "Cooking",
    "Yoga",
    "Chess",
    "Music Theory",
    "Excel",
    "Japanese",
    "UX Design",
    "Cybersecurity",
    "Linux",
    "Product Management",
    "Watercolor",
    "Calculus",
    "Go",
    "Swift",
    "Negotiation",
    "Piano",
    "SQL",
    "Blender 3D",
    "Copywriting",
    "Investing",
];

const FORMATS: &[&str] = &[
    "The Complete {} Bootcamp",
    "{} for Beginners",
    "Practical {}",
    "Mastering {}",
    "{}: From Zero to Hero",
    "Advanced {} Techniques",
    "{} in 30 Days",
    "The {} Handbook",
    "Hands-on {} Projects",
    "{} Fundamentals",
    "{} Masterclass",
    "Modern {} Essentials",
];

const GENERAL_TAGS: &[&str] = &[
    "programming",
    "beginner friendly",
    "career",
    "hobby",
    "certification",
    "projects",
    "data",
    "design",
    "business",
    "languages",
    "music",
    "health",
    "self paced",
    "exercises",
];

const SECTION_NAMES: &[&str] = &[
    "Getting started",
    "Core concepts",
    "Tools of the trade",
    "Working with real examples",
    "Common mistakes",
    "Going further",
    "Practice project",
    "Review and next steps",
    "Case studies",
    "Patterns that scale",
];

const LECTURE_NAMES: &[&str] = &[
    "Overview",
    "A first example",
    "How it works",
    "Step by step",
    "Exercise",
    "Walkthrough",
    "Tips and tricks",
    "Questions answered",
    "Deep dive",
    "Recap",
];

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Sophie",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Lynn",
    "Bjarne",
];

const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Wilson",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Johnson",
    "Wirth",
    "Conway",
    "Stroustrup",
];

const LANGUAGES: &[&str] = &[
    "en", "en", "en", "en", "en", "en-GB", "es", "de", "fr", "pt-BR", "hi", "ja",
];

const LEVELS: &[&str] = &["beginner", "intermediate", "advanced", "all"];

const PRICES: &[(i64, &str)] = &[
    (999, "USD"),
    (1999, "USD"),
    (2999, "USD"),
    (4999, "USD"),
    (1999, "EUR"),
    (49900, "INR"),
];

/// 2024-01-01T00:00:00Z: every seeded time lies after it and before now.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// A time-ordered (v7) id whose time part is `at`, as the core would have
/// minted at that moment.
fn id_at(at: DateTime<Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    Uuid::new_v7(ts)
}

fn micros(n: i64) -> TimeDelta {
    TimeDelta::microseconds(n)
}

struct EventRow {
    at: DateTime<Utc>,
    kind: &'static str,
    subject_type: &'static str,
    subject_id: Uuid,
    user_id: Option<Uuid>,
    course_id: Option<Uuid>,
    actor: Option<Uuid>,
    payload: serde_json::Value,
}

const USER_COLUMNS: &[&str] = &[
    "id",
    "email",
    "display_name",
    "role",
    "password_hash",
    "created_at",
    "updated_at",
];
const COURSE_COLUMNS: &[&str] = &[
    "id",
    "slug",
    "title",
    "subtitle",
    "description",
    "level",
    "language",
    "tags",
    "price_amount",
    "price_currency",
    "thumbnail_key",
    "owner_id",
    "status",
    "enrollment_count",
    "created_at",
    "updated_at",
    "published_at",
];
const SECTION_COLUMNS: &[&str] = &[
    "id",
    "course_id",
    "title",
    "position",
    "created_at",
    "updated_at",
];
const LECTURE_COLUMNS: &[&str] = &[
    "id",
    "course_id",
    "section_id",
    "title",
    "kind",
    "body",
    "duration_secs",
    "free_preview",
    "position",
    "created_at",
    "updated_at",
];
const ENROLLMENT_COLUMNS: &[&str] = &[
    "id",
    "course_id",
    "user_id",
    "source",
    "status",
    "granted_by",
    "created_at",
    "updated_at",
    "last_lecture_id",
    "last_activity_at",
];
const PROGRESS_COLUMNS: &[&str] = &[
    "user_id",
    "lecture_id",
    "course_id",
    "completed_at",
    "position_secs",
    "updated_at",
];
const EVENT_COLUMNS: &[&str] = &[
    "kind",
    "subject_type",
    "subject_id",
    "user_id",
    "course_id",
    "actor_kind",
    "actor_id",
    "payload",
    "created_at",
];

struct CourseInfo {
    id: Uuid,
    owner: Uuid,
    free: bool,
    published_at: DateTime<Utc>,
    /// (lecture id, duration) in course order.
    lectures: Vec<(Uuid, i64)>,
}

/// Generates the data set of `scale`; `password_hash` is the PHC string
/// every account gets.
pub fn generate(scale: Scale, password_hash: &str) -> DataSet {
    assert!(scale.instructors >= 1 && scale.users > scale.instructors);
    let mut rng = Rng(0x00C0_FFEE_u64);
    let start = epoch();
    let mut events: Vec<EventRow> = Vec::new();

    // Accounts: created by the operator over the first year.
    let mut users = Table::new("users", USER_COLUMNS);
    let mut user_ids = Vec::with_capacity(scale.users);
    let mut user_created = Vec::with_capacity(scale.users);
    let year_us = 365 * 24 * 3600 * 1_000_000_i64;
    for i in 0..scale.users {
        let at = start + micros(year_us / scale.users as i64 * i as i64);
        let id = id_at(at);
        let instructor = i < scale.instructors;
        let (email, role) = if instructor {
            (instructor_email(i), "instructor")
        } else {
            (learner_email(i - scale.instructors), "student")
        };
        let name = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
        users.push([
            Value::Uuid(id),
            Value::Text(email),
            Value::Text(name),
            Value::Text(role.to_owned()),
            Value::Text(password_hash.to_owned()),
            Value::Time(at),
            Value::Time(at),
        ]);
        events.push(EventRow {
            at,
            kind: "user.created",
            subject_type: "user",
            subject_id: id,
            user_id: Some(id),
            course_id: None,
            actor: None,
            payload: json!({ "role": role }),
        });
        user_ids.push(id);
        user_created.push(at);
    }

    // Courses: built by their instructors during the second half of the
    // first year, published three days after they were started.
    let mut courses = Table::new("courses", COURSE_COLUMNS);
    let mut sections = Table::new("sections", SECTION_COLUMNS);
    let mut lectures = Table::new("lectures", LECTURE_COLUMNS);
    let mut infos: Vec<CourseInfo> = Vec::with_capacity(scale.courses);
    let mut taken_slugs = std::collections::HashSet::new();
    let half_year_us = year_us / 2;
    let mut enrollment_counts = vec![0_i64; scale.courses];
    let mut course_rows: Vec<Vec<Value>> = Vec::with_capacity(scale.courses);
    for c in 0..scale.courses {
        let created = start + micros(half_year_us + half_year_us / scale.courses as i64 * c as i64);
        let id = id_at(created);
        let owner_n = c % scale.instructors;
        let owner = user_ids[owner_n];
        let topic = TOPICS[c % TOPICS.len()];
        let format = FORMATS[(c / TOPICS.len()) % FORMATS.len()];
        let mut title = format.replace("{}", topic);
        if c >= TOPICS.len() * FORMATS.len() {
            title = format!("{title} ({} edition)", 2024 + (c % 3));
        }
        let base = Slug::from_title(&title).expect("titles are ASCII");
        let mut slug = base.clone();
        let mut n = 2;
        while !taken_slugs.insert(slug.as_str().to_owned()) {
            slug = base.with_suffix(n);
            n += 1;
        }
        let mut raw_tags = vec![topic.to_lowercase()];
        for _ in 0..1 + rng.below(3) {
            raw_tags.push((*rng.pick(GENERAL_TAGS)).to_owned());
        }
        let tags = Tags::parse("tags", &raw_tags).expect("seed tags are valid");
        let free = c % 5 < 2;
        let (amount, currency) = if free {
            (None, None)
        } else {
            let (a, cur) = *rng.pick(PRICES);
            (Some(a), Some(cur.to_owned()))
        };
        let published = course_is_published(c);
        let archived = c % 50 == 23;
        let lectures_n = scale.lectures_per_course();
        let subtitle = format!(
            "Learn {topic} through {lectures_n} short lessons, exercises and a final project"
        );
        let description = format!(
            "## What you will learn\n\n\
             - The ideas behind {topic}, explained from first principles\n\
             - How practitioners use {topic} day to day\n\
             - A complete project you can show\n\n\
             This course by {} walks through {topic} at a steady pace. Every section \
             ends with an exercise; every lecture has notes you can download.",
            instructor_email(owner_n)
        );
        events.push(EventRow {
            at: created,
            kind: "course.created",
            subject_type: "course",
            subject_id: id,
            user_id: None,
            course_id: Some(id),
            actor: Some(owner),
            payload: json!({ "slug": slug.as_str(), "owner_id": owner }),
        });

        // The tree, one step (and one event) per section and lecture.
        let mut tick = created;
        let mut course_lectures = Vec::with_capacity(lectures_n);
        for s in 0..scale.sections_per_course {
            tick += micros(1_000_000);
            let section_id = id_at(tick);
            sections.push([
                Value::Uuid(section_id),
                Value::Uuid(id),
                Value::Text(format!(
                    "Part {}: {}",
                    s + 1,
                    SECTION_NAMES[s % SECTION_NAMES.len()]
                )),
                Value::Int(s as i64),
                Value::Time(tick),
                Value::Time(tick),
            ]);
            events.push(EventRow {
                at: tick,
                kind: "section.created",
                subject_type: "section",
                subject_id: section_id,
                user_id: None,
                course_id: Some(id),
                actor: Some(owner),
                payload: json!({ "position": s }),
            });
            for l in 0..scale.lectures_per_section {
                tick += micros(1_000_000);
                let lecture_id = id_at(tick);
                let video = l % 5 != 4;
                let duration = if video {
                    180 + rng.below(1500) as i64
                } else {
                    300
                };
                let name = LECTURE_NAMES[l % LECTURE_NAMES.len()];
                lectures.push([
                    Value::Uuid(lecture_id),
                    Value::Uuid(id),
                    Value::Uuid(section_id),
                    Value::Text(format!("{}.{} {name}", s + 1, l + 1)),
                    Value::Text(if video { "video" } else { "article" }.to_owned()),
                    Value::Text(format!(
                        "## {name}\n\nNotes for part {} of *{title}*: the key points, \
                         a worked example and links to further reading.",
                        s + 1
                    )),
                    Value::Int(duration),
                    Value::Bool(s == 0 && l == 0),
                    Value::Int(l as i64),
                    Value::Time(tick),
                    Value::Time(tick),
                ]);
                events.push(EventRow {
                    at: tick,
                    kind: "lecture.created",
                    subject_type: "lecture",
                    subject_id: lecture_id,
                    user_id: None,
                    course_id: Some(id),
                    actor: Some(owner),
                    payload: json!({ "section_id": section_id, "position": l }),
                });
                course_lectures.push((lecture_id, duration));
            }
        }
        let published_at = created + TimeDelta::days(3);
        let mut updated = tick;
        if published {
            updated = published_at;
            events.push(EventRow {
                at: published_at,
                kind: "course.published",
                subject_type: "course",
                subject_id: id,
                user_id: None,
                course_id: Some(id),
                actor: Some(owner),
                payload: json!({ "from": "draft", "to": "published" }),
            });
        } else if archived {
            let archived_at = published_at + TimeDelta::days(30);
            updated = archived_at;
            for (at, from, to, kind) in [
                (published_at, "draft", "published", "course.published"),
                (archived_at, "published", "archived", "course.archived"),
            ] {
                events.push(EventRow {
                    at,
                    kind,
                    subject_type: "course",
                    subject_id: id,
                    user_id: None,
                    course_id: Some(id),
                    actor: Some(owner),
                    payload: json!({ "from": from, "to": to }),
                });
            }
        }
        let status = if published {
            "published"
        } else if archived {
            "archived"
        } else {
            "draft"
        };
        course_rows.push(vec![
            Value::Uuid(id),
            Value::Text(slug.as_str().to_owned()),
            Value::Text(title),
            Value::Text(subtitle),
            Value::Text(description),
            Value::Text(LEVELS[c % LEVELS.len()].to_owned()),
            Value::Text((*rng.pick(LANGUAGES)).to_owned()),
            Value::Json(json!(tags.as_slice())),
            Value::OptInt(amount),
            Value::OptText(currency),
            Value::OptText(Some(format!("thumbnails/{}.jpg", slug.as_str()))),
            Value::Uuid(owner),
            Value::Text(status.to_owned()),
            Value::Int(0),
            Value::Time(created),
            Value::Time(updated),
            Value::OptTime((published || archived).then_some(published_at)),
        ]);
        infos.push(CourseInfo {
            id,
            owner,
            free,
            published_at,
            lectures: course_lectures,
        });
    }

    // Enrollments: every student in a few courses, popular courses (low
    // numbers) far more often than the long tail; each a little after both
    // the account and the course existed.
    let catalog: Vec<usize> = (0..scale.courses)
        .filter(|&c| course_is_published(c))
        .collect();
    let learners = scale.learners();
    let mut enrollments = Table::new("enrollments", ENROLLMENT_COLUMNS);
    let mut progress = Table::new("lecture_progress", PROGRESS_COLUMNS);
    let mut serial = 0usize;
    for l in 0..learners {
        let share = scale.enrollments / learners + usize::from(l < scale.enrollments % learners);
        assert!(share <= catalog.len(), "more enrollments than courses");
        let user_n = scale.instructors + l;
        let user = user_ids[user_n];
        let mut chosen: Vec<usize> = Vec::with_capacity(share);
        while chosen.len() < share {
            let u = rng.unit();
            let c = catalog[((u * u) * catalog.len() as f64) as usize % catalog.len()];
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        for c in chosen {
            let info = &infos[c];
            let after = info.published_at.max(user_created[user_n]);
            let at = after + micros(rng.below(90 * 24 * 3600) as i64 * 1_000_000);
            let id = id_at(at);
            let (source, granted_by, actor) = if info.free {
                ("free", None, user)
            } else {
                ("grant", Some(info.owner), info.owner)
            };
            events.push(EventRow {
                at,
                kind: "enrollment.created",
                subject_type: "enrollment",
                subject_id: id,
                user_id: Some(user),
                course_id: Some(info.id),
                actor: Some(actor),
                payload: json!({ "source": source, "expires_at": null }),
            });
            enrollment_counts[c] += 1;
            // Every tenth learner-course pair has worked through the first
            // lectures, one a day.
            let mut last = (None, None);
            if serial.is_multiple_of(10) && info.lectures.len() > 1 {
                let done = 1 + rng.below(40.min(info.lectures.len() - 1));
                for (k, (lecture, _)) in info.lectures.iter().take(done).enumerate() {
                    let when = at + TimeDelta::days(k as i64 + 1);
                    progress.push([
                        Value::Uuid(user),
                        Value::Uuid(*lecture),
                        Value::Uuid(info.id),
                        Value::OptTime(Some(when)),
                        Value::Int(0),
                        Value::Time(when),
                    ]);
                    events.push(EventRow {
                        at: when,
                        kind: "progress.updated",
                        subject_type: "lecture",
                        subject_id: *lecture,
                        user_id: Some(user),
                        course_id: Some(info.id),
                        actor: Some(user),
                        payload: json!({
                            "lecture_id": lecture,
                            "completed": true,
                            "position_secs": 0,
                        }),
                    });
                    last = (Some(*lecture), Some(when));
                }
            }
            enrollments.push([
                Value::Uuid(id),
                Value::Uuid(info.id),
                Value::Uuid(user),
                Value::Text(source.to_owned()),
                Value::Text("active".to_owned()),
                Value::OptUuid(granted_by),
                Value::Time(at),
                Value::Time(at),
                Value::OptUuid(last.0),
                Value::OptTime(last.1),
            ]);
            serial += 1;
        }
    }
    for (c, mut row) in course_rows.into_iter().enumerate() {
        row[13] = Value::Int(enrollment_counts[c]);
        courses.push(row);
    }

    // The log in the order things happened, as the ids of a live log are.
    events.sort_by_key(|e| e.at);
    let mut log = Table::new("events", EVENT_COLUMNS);
    for e in events {
        let actor_kind = if e.actor.is_some() { "user" } else { "system" };
        log.push([
            Value::Text(e.kind.to_owned()),
            Value::Text(e.subject_type.to_owned()),
            Value::Uuid(e.subject_id),
            Value::OptUuid(e.user_id),
            Value::OptUuid(e.course_id),
            Value::Text(actor_kind.to_owned()),
            Value::OptUuid(e.actor),
            Value::Json(e.payload),
            Value::Time(e.at),
        ]);
    }

    DataSet {
        tables: vec![
            users,
            courses,
            sections,
            lectures,
            enrollments,
            progress,
            log,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_set_has_the_counts_its_scale_asks_for() {
        let s = Scale::TINY;
        let data = generate(s, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
        assert_eq!(data.count("users"), s.users);
        assert_eq!(data.count("courses"), s.courses);
        assert_eq!(data.count("sections"), s.courses * s.sections_per_course);
        assert_eq!(data.count("lectures"), s.courses * s.lectures_per_course());
        assert_eq!(data.count("enrollments"), s.enrollments);
        assert!(data.count("lecture_progress") > 0);
        // One event per account, course, section, lecture, publication,
        // archival, enrollment and completed lecture.
        let archived = (0..s.courses).filter(|c| c % 50 == 23).count();
        let published = (0..s.courses).filter(|&c| course_is_published(c)).count();
        let expected = s.users
            + s.courses * (1 + s.sections_per_course + s.lectures_per_course())
            + published
            + 2 * archived
            + s.enrollments
            + data.count("lecture_progress");
        assert_eq!(data.count("events"), expected);
    }

    #[test]
    fn slugs_are_unique_even_when_titles_repeat() {
        let s = Scale {
            courses: 500,
            ..Scale::TINY
        };
        let data = generate(s, "x");
        let courses = &data.tables[1];
        let width = courses.columns.len();
        let slugs: std::collections::HashSet<String> = courses
            .values
            .chunks(width)
            .map(|row| match &row[1] {
                Value::Text(slug) => slug.clone(),
                other => panic!("slug is {other:?}"),
            })
            .collect();
        assert_eq!(slugs.len(), s.courses);
    }
}
