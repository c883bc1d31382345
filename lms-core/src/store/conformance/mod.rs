//! The store conformance suite: what every [`Store`] must do, whatever its
//! backend. SQLite and PostgreSQL run it in this crate's tests; a third-party
//! store proves itself by running it too:
//!
//! ```text
//! async fn fresh_store() -> std::sync::Arc<dyn lms_core::Store> { /* an empty store */ }
//! lms_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! The macro expands to one `#[tokio::test]` per case (the host crate needs
//! tokio with `macros` and `rt-multi-thread`). Every case gets its own fresh
//! store from the factory, so cases run in parallel. A case panics with a
//! message saying what the store did wrong.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::courses::{
    CatalogAfter, CatalogFilter, CatalogRow, CatalogSort, CourseChanges, CourseImport, CourseKey,
    LectureChanges, NewCourse, NewLecture,
};
use super::enrollment::{EnrollOutcome, EnrollRequest, ProgressChange, ProgressRecorded};
use super::{
    AccountChanges, AccountKey, FirstSession, LockPolicy, LoginAttempt, NewRefreshToken,
    NewSession, NewUser, ProfileChanges, Rate, Rotation, UserQuery,
};
use crate::actor::Actor;
use crate::catalog::{
    Course, CourseStatus, CourseSummary, Lecture, LectureKind, LectureOutline, Section,
    SectionOutline,
};
use crate::clock::{Timestamp, after};
use crate::domain::{
    CourseId, Currency, Email, EnrollmentId, LectureId, Level, Price, Role, SectionId, SessionId,
    Slug, UserId,
};
use crate::enrollment::{
    EnrolledCourse, Enrollment, EnrollmentSource, EnrollmentStatus, ProgressFigures, RevokedBy,
};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventQuery, kinds};
use crate::progress::{LectureProgress, LectureState};
use crate::store::Store;

/// Expands to one test per conformance case, each on a fresh store from
/// `$factory` (an async fn returning `Arc<dyn Store>`).
mod accounts;
mod courses;
mod enrollment;

pub use accounts::*;
pub use courses::*;
pub use enrollment::*;

#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            a_created_user_reads_back_by_id_and_email,
            a_duplicate_email_is_a_conflict_and_changes_nothing,
            a_user_created_by_the_operator_is_logged_as_created,
            a_sign_up_creates_the_account_and_its_first_session_together,
            session_user_tells_live_from_ended_sessions,
            login_attempts_count_up_and_lock_at_the_limit,
            a_login_attempt_by_email_answers_the_account_as_counted,
            concurrent_login_attempts_never_pass_the_limit,
            the_locking_attempt_logs_its_lock_time_as_serde_writes_it,
            starting_a_session_clears_failures_and_stores_a_rehash,
            a_session_starts_only_while_the_checked_credentials_hold,
            a_lock_set_by_other_attempts_stops_a_session_and_its_own_does_not,
            a_refresh_token_rotates_exactly_once,
            reusing_a_rotated_token_revokes_the_session,
            concurrent_uses_of_one_refresh_token_rotate_once_and_revoke_the_session_as_reuse,
            expired_and_unknown_refresh_tokens_change_nothing,
            ending_a_session_is_idempotent,
            a_profile_update_sets_and_clears_only_what_differs,
            a_password_change_bumps_the_version_and_keeps_one_session,
            setting_the_current_role_changes_nothing,
            disabling_revokes_sessions_and_enabling_does_not,
            a_role_change_and_a_disable_are_one_step,
            a_rate_limit_allows_its_burst_then_one_hit_per_interval,
            a_refused_hit_counts_on_no_bucket,
            concurrent_hits_never_pass_the_limit,
            drained_buckets_are_pruned,
            revoking_sessions_counts_the_live_ones,
            deleting_a_user_erases_personal_data_and_frees_the_email,
            listing_users_filters_and_pages_by_id,
            the_event_log_pages_by_cursor_and_filters,
            steps_on_a_missing_user_are_not_found,
            every_migration_is_applied,
            times_round_trip_to_the_microsecond,
            a_created_course_reads_back_by_id_and_slug_with_its_aggregates,
            a_duplicate_slug_is_a_conflict_and_writes_nothing,
            a_course_update_changes_only_the_given_fields,
            a_slug_change_moves_the_lookup_and_a_taken_slug_is_a_conflict,
            publishing_needs_a_lecture_and_changes_nothing_without_one,
            the_first_publication_time_is_kept_and_a_repeated_status_writes_nothing,
            a_course_with_live_learners_is_not_unpublished,
            deleting_a_course_removes_its_tree,
            a_course_with_an_enrollment_cannot_be_deleted,
            sections_are_created_at_the_end_or_at_a_position,
            a_position_out_of_range_is_invalid_input_and_changes_nothing,
            a_section_moves_within_its_course,
            renaming_a_section_changes_only_its_title,
            deleting_a_section_removes_its_lectures_and_closes_the_gap,
            lectures_are_created_at_the_end_or_at_a_position,
            a_lecture_update_changes_only_the_given_fields,
            a_lecture_moves_within_its_section,
            a_lecture_moves_to_another_section_of_its_course,
            a_lecture_cannot_move_to_a_section_of_another_course,
            deleting_a_lecture_closes_the_gap,
            a_published_course_keeps_its_last_lecture,
            the_outline_is_the_whole_tree_in_order,
            concurrent_tree_changes_in_one_course_keep_positions_dense,
            a_lecture_deleted_while_it_moves_leaves_both_sections_dense,
            the_catalog_filters_by_status_owner_level_language_and_price,
            the_catalog_matches_tags_and_every_search_word_as_a_prefix,
            newest_pages_walk_every_published_course_once_in_order,
            title_pages_sort_case_insensitively_and_break_ties_by_id,
            popular_pages_sort_by_active_enrollments,
            recent_pages_list_an_owners_courses_newest_first,
            enrolling_creates_once_and_counts_the_course,
            revoking_and_granting_again_keeps_the_count_right,
            an_expiring_grant_is_unchanged_by_the_same_grant_and_renews_once_expired,
            a_bulk_grant_reports_every_row_and_is_all_or_nothing,
            concurrent_enrollments_count_each_learner_once,
            enrollment_lists_page_and_carry_progress_figures,
            users_by_emails_finds_live_users_only,
            progress_records_completion_and_position_and_skips_what_is_unchanged,
            a_course_is_completed_once_when_every_lecture_is_complete,
            concurrent_completions_complete_the_course_once,
            progress_steps_arriving_together_succeed_or_fail_alone,
            deleting_a_lecture_removes_its_progress,
            resetting_progress_clears_rows_and_completion,
            progress_without_an_enrollment_is_not_found,
            course_steps_on_missing_ids_are_not_found,
            every_course_step_writes_one_event_naming_the_course,
            course_lectures_come_in_outline_order_with_their_content,
            an_import_creates_the_whole_tree_and_the_same_import_changes_nothing,
            an_import_brings_a_course_in_line_by_position_keeping_ids,
            a_failing_import_writes_nothing,
            stats_count_users_courses_enrollments_and_completions,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: ::std::sync::Arc<dyn $crate::Store> = $factory().await;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}

/// A fixed instant with microseconds, so precision loss shows.
pub fn t0() -> Timestamp {
    DateTime::parse_from_rfc3339("2026-03-01T09:30:00.123456Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

fn later(secs: u64) -> Timestamp {
    after(t0(), Duration::from_secs(secs))
}

/// A syntactically valid PHC string; stores never verify it.
const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: Email::parse("email", email).expect("valid e-mail"),
        display_name: format!("User {email}"),
        password_hash: HASH.to_owned(),
        role: Role::Student,
    }
}

async fn make_user(store: &dyn Store, email: &str) -> UserId {
    store
        .create_user(new_user(email), None, Actor::Anonymous, t0())
        .await
        .expect("create_user")
        .id
}

fn token(name: &str, expires_at: Timestamp) -> NewRefreshToken {
    NewRefreshToken {
        hash: format!("{name:0>64}"),
        expires_at,
    }
}

/// A session for `user` as a login that checked the stored password now
/// would ask for it.
async fn session_for(store: &dyn Store, user: UserId, refresh: &str) -> NewSession {
    let record = store.user(user).await.expect("user").expect("user exists");
    NewSession {
        id: SessionId::new(),
        user_id: user,
        refresh: token(refresh, later(3600)),
        token_version: record.token_version,
        password_hash: record.password_hash.expect("a live user has a password"),
        own_lock: None,
        rehashed_password: None,
    }
}

async fn start(store: &dyn Store, user: UserId, refresh: &str) -> SessionId {
    let session = session_for(store, user, refresh).await;
    let id = session.id;
    store
        .start_session(session, t0())
        .await
        .expect("start_session");
    id
}

fn policy(max_failures: u32) -> LockPolicy {
    LockPolicy {
        max_failures,
        lock_until: later(900),
    }
}

/// Events of one kind, in order.
async fn events_of(store: &dyn Store, kind: &str) -> Vec<crate::events::Event> {
    store
        .events(&EventQuery {
            kind: Some(kind.into()),
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .expect("events")
}

async fn live(store: &dyn Store, user: UserId, session: SessionId) -> bool {
    store
        .session_user(user, session)
        .await
        .expect("session_user")
        .expect("user exists")
        .1
}

/// The kinds of every event concerning `user`, in order.
async fn kinds_of(store: &dyn Store, user: UserId) -> Vec<String> {
    let query = EventQuery {
        user_id: Some(user.0),
        limit: Some(1000),
        ..EventQuery::default()
    };
    store
        .events(&query)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Account changes setting only the role.
fn role(role: Role) -> AccountChanges {
    AccountChanges {
        role: Some(role),
        disabled: None,
    }
}

/// Account changes disabling or enabling only.
fn disabled(disabled: bool) -> AccountChanges {
    AccountChanges {
        role: None,
        disabled: Some(disabled),
    }
}

fn system() -> Actor {
    Actor::System
}

// ----- The learning domain: courses, trees, enrollments, progress -----

fn slug(text: &str) -> Slug {
    Slug::parse("slug", text).expect("valid slug")
}

fn currency(code: &str) -> Currency {
    Currency::parse("currency", code).expect("known currency")
}

/// A free English draft with only a slug and a title.
fn new_course(owner: UserId, slug_text: &str) -> NewCourse {
    NewCourse {
        id: CourseId::new(),
        slug: slug(slug_text),
        title: format!("Course {slug_text}"),
        subtitle: String::new(),
        description: String::new(),
        level: Level::All,
        language: "en".into(),
        tags: Vec::new(),
        price: Price::Free,
        thumbnail_key: None,
        owner_id: owner,
    }
}

async fn make_course(store: &dyn Store, owner: UserId, slug_text: &str) -> Course {
    store
        .create_course(new_course(owner, slug_text), system(), t0())
        .await
        .expect("create_course")
}

async fn make_section(store: &dyn Store, course: CourseId, title: &str) -> Section {
    store
        .create_section(course, SectionId::new(), title.into(), None, system(), t0())
        .await
        .expect("create_section")
}

fn new_lecture(title: &str, duration_secs: i64) -> NewLecture {
    NewLecture {
        id: LectureId::new(),
        title: title.into(),
        kind: LectureKind::Video,
        body: format!("# {title}"),
        duration_secs,
        free_preview: false,
    }
}

async fn make_lecture(store: &dyn Store, section: SectionId, title: &str) -> Lecture {
    store
        .create_lecture(section, new_lecture(title, 60), None, system(), t0())
        .await
        .expect("create_lecture")
}

/// A draft course with one section holding `lectures` lectures.
async fn course_with_lectures(
    store: &dyn Store,
    owner: UserId,
    slug_text: &str,
    lectures: usize,
) -> (Course, Section, Vec<Lecture>) {
    let course = make_course(store, owner, slug_text).await;
    let section = make_section(store, course.id, "Basics").await;
    let mut made = Vec::new();
    for i in 0..lectures {
        made.push(make_lecture(store, section.id, &format!("Lecture {i}")).await);
    }
    (course, section, made)
}

/// The course tree as ids, in outline order. Panics unless every position
/// is dense: sections 0..n in order, each section's lectures 0..m in order.
async fn tree(store: &dyn Store, course: CourseId) -> Vec<(SectionId, Vec<LectureId>)> {
    let outline = store.outline(course).await.expect("outline");
    for (i, section) in outline.iter().enumerate() {
        assert_eq!(
            section.position, i as i32,
            "section positions must be 0..n in outline order: {outline:#?}"
        );
        for (j, lecture) in section.lectures.iter().enumerate() {
            assert_eq!(
                lecture.position, j as i32,
                "lecture positions must be 0..n in outline order: {outline:#?}"
            );
        }
    }
    outline
        .into_iter()
        .map(|s| (s.id, s.lectures.into_iter().map(|l| l.id).collect()))
        .collect()
}

/// Every lecture id of a tree, sorted.
fn lectures_of(tree: &[(SectionId, Vec<LectureId>)]) -> Vec<LectureId> {
    let mut ids: Vec<_> = tree.iter().flat_map(|(_, l)| l.iter().copied()).collect();
    ids.sort();
    ids
}

fn ids<T: HasId>(items: &[T]) -> Vec<T::Id> {
    items.iter().map(HasId::id).collect()
}

/// Things with an id, so a list compares as its ids.
trait HasId {
    type Id;
    fn id(&self) -> Self::Id;
}

impl HasId for Section {
    type Id = SectionId;
    fn id(&self) -> SectionId {
        self.id
    }
}

impl HasId for Lecture {
    type Id = LectureId;
    fn id(&self) -> LectureId {
        self.id
    }
}

impl HasId for CatalogRow {
    type Id = CourseId;
    fn id(&self) -> CourseId {
        self.summary.course.id
    }
}

/// Every event naming `course`, in log order.
async fn course_events(store: &dyn Store, course: CourseId) -> Vec<Event> {
    let query = EventQuery {
        course_id: Some(course.0),
        limit: Some(1000),
        ..EventQuery::default()
    };
    store.events(&query).await.expect("events")
}

async fn course_kinds(store: &dyn Store, course: CourseId) -> Vec<String> {
    course_events(store, course)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// How many events of `kind` name `course`.
async fn count_kind(store: &dyn Store, course: CourseId, kind: &str) -> usize {
    course_kinds(store, course)
        .await
        .iter()
        .filter(|k| *k == kind)
        .count()
}

/// The subjects of `events`, in order.
fn ids_of_subjects(events: &[Event]) -> Vec<uuid::Uuid> {
    events.iter().map(|e| e.subject_id).collect()
}

/// Enrollment ids of a course, in its enrollment order.
async fn course_enrollments_of(store: &dyn Store, course: CourseId) -> Vec<EnrollmentId> {
    store
        .course_enrollments(course, None, 1000)
        .await
        .expect("course_enrollments")
        .into_iter()
        .map(|e| e.enrollment.id)
        .collect()
}

async fn summary(store: &dyn Store, course: CourseId) -> CourseSummary {
    store
        .course(&CourseKey::Id(course))
        .await
        .expect("course")
        .expect("the course exists")
}

async fn enrollment_count(store: &dyn Store, course: CourseId) -> i64 {
    summary(store, course).await.course.enrollment_count
}

async fn publish(store: &dyn Store, course: CourseId, at: Timestamp) -> Course {
    store
        .set_course_status(course, CourseStatus::Published, system(), at)
        .await
        .expect("publish")
}

fn request(
    course: CourseId,
    user: UserId,
    source: EnrollmentSource,
    expires_at: Option<Timestamp>,
) -> EnrollRequest {
    EnrollRequest {
        course,
        user,
        source,
        expires_at,
    }
}

async fn enroll(
    store: &dyn Store,
    course: CourseId,
    user: UserId,
    source: EnrollmentSource,
    expires_at: Option<Timestamp>,
    at: Timestamp,
) -> (Enrollment, EnrollOutcome) {
    store
        .enroll(request(course, user, source, expires_at), system(), at)
        .await
        .expect("enroll")
}

async fn enrollment_of(store: &dyn Store, course: CourseId, user: UserId) -> Enrollment {
    store
        .enrollment(course, user)
        .await
        .expect("enrollment")
        .expect("the enrollment exists")
}

fn complete() -> ProgressChange {
    ProgressChange {
        completed: Some(true),
        position_secs: None,
    }
}

fn uncomplete() -> ProgressChange {
    ProgressChange {
        completed: Some(false),
        position_secs: None,
    }
}

fn at_position(secs: i64) -> ProgressChange {
    ProgressChange {
        completed: None,
        position_secs: Some(secs),
    }
}

async fn record(
    store: &dyn Store,
    user: UserId,
    lecture: &Lecture,
    change: ProgressChange,
    at: Timestamp,
) -> ProgressRecorded {
    let mut written = store
        .record_progress(user, lecture.course_id, lecture.id, change, system(), at)
        .await
        .expect("record_progress");
    // The answer is what is stored: the written lecture's row and every
    // completed one, maybe others, each as stored.
    written.lectures.sort_by_key(|l| l.lecture_id);
    let stored: Vec<LectureState> = progress_rows(store, user, lecture.course_id)
        .await
        .into_iter()
        .map(|r| LectureState {
            lecture_id: r.lecture_id,
            completed: r.completed_at.is_some(),
            position_secs: r.position_secs,
        })
        .collect();
    let wanted = stored
        .iter()
        .filter(|r| r.completed || r.lecture_id == lecture.id);
    for row in wanted {
        assert!(written.lectures.contains(row), "{row:?} is in the answer");
    }
    for row in &written.lectures {
        assert!(stored.contains(row), "{row:?} is as stored");
    }
    let stored = store
        .enrollment(lecture.course_id, user)
        .await
        .expect("enrollment")
        .expect("an enrollment");
    assert_eq!(written.enrollment, stored);
    written.recorded
}

/// A user's progress rows in a course, by lecture id.
async fn progress_rows(store: &dyn Store, user: UserId, course: CourseId) -> Vec<LectureProgress> {
    let mut rows = store
        .lecture_progress(user, course)
        .await
        .expect("lecture_progress");
    rows.sort_by_key(|r| r.lecture_id);
    rows
}

/// The learner's progress figures in `course`, from their enrollment list.
async fn figures(store: &dyn Store, user: UserId, course: CourseId) -> (i64, i64, i64) {
    let rows = store
        .learner_enrollments(user)
        .await
        .expect("learner_enrollments");
    let row = rows
        .iter()
        .find(|r| r.course.id == course)
        .expect("the learner is enrolled");
    let p = row.progress;
    (p.completed_lectures, p.total_lectures, p.percent)
}

fn assert_invalid(err: Error, field: &str) {
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.fields().iter().any(|f| f.field == field),
        "the error must name {field:?}: {:?}",
        err.fields()
    );
}

fn assert_not_found<T: Debug>(result: Result<T>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::NotFound, "{what}: {err}");
}

/// A catalog query for `sort`, with room for every course of a case.
fn by(sort: CatalogSort) -> CatalogFilter {
    CatalogFilter {
        sort,
        limit: 1000,
        ..CatalogFilter::default()
    }
}

/// The ids a catalog query returns, sorted (for filter checks, not order).
async fn matching(store: &dyn Store, filter: CatalogFilter) -> Vec<CourseId> {
    let mut found = ids(&store.catalog(&filter).await.expect("catalog"));
    found.sort();
    found
}

fn sorted(mut ids: Vec<CourseId>) -> Vec<CourseId> {
    ids.sort();
    ids
}

/// The cursor of the page after `row`, as a caller builds it.
fn cursor_after(sort: CatalogSort, row: &CatalogRow) -> CatalogAfter {
    let course = &row.summary.course;
    match sort {
        CatalogSort::Newest => {
            CatalogAfter::Newest(course.published_at.expect("a published course"), course.id)
        }
        CatalogSort::Title => CatalogAfter::Title(row.sort_title.clone(), course.id),
        CatalogSort::Popular => CatalogAfter::Popular(course.enrollment_count, course.id),
        CatalogSort::Recent => CatalogAfter::Recent(course.id),
    }
}

/// Walks every page of `filter` at `page` rows a page, checking that no
/// page is longer than asked, and returns the rows in the order seen.
async fn walk(store: &dyn Store, filter: &CatalogFilter, page: u32) -> Vec<CatalogRow> {
    let mut rows: Vec<CatalogRow> = Vec::new();
    let mut after = None;
    loop {
        let batch = store
            .catalog(&CatalogFilter {
                after: after.clone(),
                limit: page,
                ..filter.clone()
            })
            .await
            .expect("catalog page");
        assert!(batch.len() <= page as usize, "a page longer than its limit");
        let Some(last) = batch.last() else { break };
        after = Some(cursor_after(filter.sort, last));
        let full = batch.len() == page as usize;
        rows.extend(batch);
        assert!(rows.len() <= 500, "paging never ends");
        if !full {
            break;
        }
    }
    rows
}

/// Walks `filter` at several page sizes; every walk must list `expected`
/// exactly, in order, each course once.
async fn assert_pages(store: &dyn Store, filter: &CatalogFilter, expected: &[CourseId]) {
    for page in [1, 2, 3, 100] {
        let seen = ids(&walk(store, filter, page).await);
        assert_eq!(
            seen, expected,
            "{:?} pages of {page}: every course once, in order",
            filter.sort
        );
    }
}

/// The PostgreSQL server tests run against: `LMS_TEST_DATABASE_URL`.
///
/// Panics when it is not set: a PostgreSQL test never skips silently. The
/// project's test command (`scripts/test`) starts a server and sets it.
pub fn test_database_url() -> String {
    std::env::var("LMS_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "LMS_TEST_DATABASE_URL is not set: run the tests with scripts/test, \
             which starts PostgreSQL and creates a throwaway database"
        )
    })
}

/// A schema name no other test uses, so tests run in parallel on one database.
pub fn unique_schema() -> String {
    format!("t_{}", uuid::Uuid::now_v7().simple())
}
