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
    CatalogAfter, CatalogFilter, CatalogRow, CatalogSort, CourseChanges, CourseKey, LectureChanges,
    NewCourse, NewLecture,
};
use super::enrollment::{EnrollOutcome, EnrollRequest, ProgressChange, ProgressRecorded};
use super::{
    FirstSession, LockPolicy, LoginAttempt, NewRefreshToken, NewSession, NewUser, ProfileChanges,
    Rotation, UserQuery,
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
    EnrolledCourse, Enrollment, EnrollmentSource, EnrollmentStatus, ProgressFigures,
};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventQuery, kinds};
use crate::progress::LectureProgress;
use crate::store::Store;

/// Expands to one test per conformance case, each on a fresh store from
/// `$factory` (an async fn returning `Arc<dyn Store>`).
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
            concurrent_login_attempts_never_pass_the_limit,
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
            deleting_a_lecture_removes_its_progress,
            resetting_progress_clears_rows_and_completion,
            progress_without_an_enrollment_is_not_found,
            course_steps_on_missing_ids_are_not_found,
            every_course_step_writes_one_event_naming_the_course,
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
    store
        .record_progress(user, lecture, change, system(), at)
        .await
        .expect("record_progress")
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

/// Creating a user returns it, both lookups find it, one event is written.
pub async fn a_created_user_reads_back_by_id_and_email(store: Arc<dyn Store>) {
    let new = new_user("ada@example.com");
    let created = store
        .create_user(new.clone(), None, Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.email, "ada@example.com");
    assert_eq!(created.role, Role::Student);
    assert!(!created.disabled);
    assert_eq!((created.created_at, created.updated_at), (t0(), t0()));

    let by_id = store.user(new.id).await.unwrap().expect("found by id");
    assert_eq!(by_id.user, created);
    assert_eq!(by_id.password_hash.as_deref(), Some(HASH));
    assert_eq!((by_id.token_version, by_id.failed_logins), (0, 0));
    assert_eq!((by_id.locked_until, by_id.deleted_at), (None, None));

    let email = Email::parse("email", "ADA@example.com").unwrap();
    let by_email = store
        .user_by_email(&email)
        .await
        .unwrap()
        .expect("found by e-mail");
    assert_eq!(by_email, by_id);
    assert!(store.user(UserId::new()).await.unwrap().is_none());

    let events = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, kinds::USER_REGISTERED);
    assert_eq!((e.subject_type.as_str(), e.subject_id), ("user", new.id.0));
    assert_eq!((e.actor_kind.as_str(), e.actor_id), ("anonymous", None));
    assert_eq!(e.payload, json!({ "role": "student" }));
    assert_eq!(e.created_at, t0());
}

/// The same e-mail twice is `conflict`; the first account is untouched and
/// no second row or event appears.
pub async fn a_duplicate_email_is_a_conflict_and_changes_nothing(store: Arc<dyn Store>) {
    let first = make_user(&*store, "ada@example.com").await;
    let mut again = new_user("ada@example.com");
    again.display_name = "Impostor".into();
    let err = store
        .create_user(again.clone(), None, Actor::Anonymous, later(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(store.user(again.id).await.unwrap().is_none());
    assert_eq!(
        store.user(first).await.unwrap().unwrap().user.display_name,
        "User ada@example.com"
    );
    assert_eq!(store.events(&EventQuery::default()).await.unwrap().len(), 1);
}

/// Accounts made by the operator are `user.created`, actor `system`.
pub async fn a_user_created_by_the_operator_is_logged_as_created(store: Arc<dyn Store>) {
    let mut new = new_user("root@example.com");
    new.role = Role::Admin;
    let user = store.create_user(new, None, system(), t0()).await.unwrap();
    assert_eq!(user.role, Role::Admin);
    let events = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(events[0].kind, kinds::USER_CREATED);
    assert_eq!(events[0].actor_kind, "system");
    assert_eq!(events[0].payload, json!({ "role": "admin" }));
}

/// A sign-up with a first session writes the account, the session and its
/// refresh token in one step, logged as `user.registered` then
/// `session.started`; when the e-mail is taken, neither is written.
pub async fn a_sign_up_creates_the_account_and_its_first_session_together(store: Arc<dyn Store>) {
    let new = new_user("ada@example.com");
    let first = FirstSession {
        id: SessionId::new(),
        refresh: token("f1", later(3600)),
    };
    store
        .create_user(new.clone(), Some(first.clone()), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert!(live(&*store, new.id, first.id).await);
    assert_eq!(
        kinds_of(&*store, new.id).await,
        [kinds::USER_REGISTERED, kinds::SESSION_STARTED]
    );
    let started = &events_of(&*store, kinds::SESSION_STARTED).await[0];
    assert_eq!(
        (started.subject_type.as_str(), started.subject_id),
        ("session", first.id.0)
    );
    assert_eq!(started.payload, json!({ "rehashed_password": false }));
    let rotated = store
        .rotate_refresh_token(&first.refresh.hash, token("f2", later(7200)), later(1))
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: new.id,
            session_id: first.id
        }
    );

    let taken = FirstSession {
        id: SessionId::new(),
        refresh: token("t1", later(3600)),
    };
    let err = store
        .create_user(
            new_user("ada@example.com"),
            Some(taken.clone()),
            Actor::Anonymous,
            later(2),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let unwritten = store
        .rotate_refresh_token(&taken.refresh.hash, token("t2", later(7200)), later(3))
        .await
        .unwrap();
    assert_eq!(
        unwritten,
        Rotation::Invalid,
        "no session without its account"
    );
    assert_eq!(events_of(&*store, kinds::SESSION_STARTED).await.len(), 1);
}

/// `session_user` answers for the user's own live session only.
pub async fn session_user_tells_live_from_ended_sessions(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    let session = start(&*store, ada, "a1").await;
    assert!(live(&*store, ada, session).await);
    assert!(!live(&*store, bob, session).await, "another user's session");
    assert!(
        !live(&*store, ada, SessionId::new()).await,
        "unknown session"
    );
    assert!(
        store
            .session_user(UserId::new(), session)
            .await
            .unwrap()
            .is_none()
    );
    store
        .end_session(&token("a1", t0()).hash, later(1))
        .await
        .unwrap();
    assert!(!live(&*store, ada, session).await);
}

/// Each attempt counts when it begins; the one reaching the limit locks the
/// account. While locked nothing counts and nothing is written; once the
/// lock has run out, counting starts again at one. Each counted attempt is
/// one `user.login_attempted` event by the given actor.
pub async fn login_attempts_count_up_and_lock_at_the_limit(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let herself = Actor::User {
        id: ada,
        role: Role::Student,
        session: SessionId::new(),
    };
    for (attempt, actor) in [(1, Actor::Anonymous), (2, herself)] {
        let reserved = store
            .begin_login_attempt(ada, policy(3), actor, later(1))
            .await
            .unwrap();
        assert_eq!(
            reserved,
            LoginAttempt::Reserved {
                attempt,
                locked_until: None
            }
        );
        let r = store.user(ada).await.unwrap().unwrap();
        assert_eq!((r.failed_logins, r.locked_until), (attempt, None));
    }
    let third = store
        .begin_login_attempt(ada, policy(3), Actor::Anonymous, later(2))
        .await
        .unwrap();
    assert_eq!(
        third,
        LoginAttempt::Reserved {
            attempt: 3,
            locked_until: Some(later(900))
        }
    );
    let locked = store
        .begin_login_attempt(ada, policy(3), Actor::Anonymous, later(899))
        .await
        .unwrap();
    assert_eq!(locked, LoginAttempt::Locked { until: later(900) });
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (3, Some(later(900))));

    let events = events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await;
    assert_eq!(events.len(), 3, "a refused attempt writes nothing");
    assert_eq!(
        events[0].payload,
        json!({ "attempt": 1, "locked_until": null })
    );
    assert_eq!(
        (events[0].actor_kind.as_str(), events[0].actor_id),
        ("anonymous", None)
    );
    assert_eq!(
        (events[1].actor_kind.as_str(), events[1].actor_id),
        ("user", Some(ada.0))
    );
    assert_eq!(
        events[2].payload,
        json!({ "attempt": 3, "locked_until": later(900) })
    );

    // The lock runs out at its time: the next attempt is the first again.
    let policy_then = LockPolicy {
        max_failures: 3,
        lock_until: later(1800),
    };
    let fresh = store
        .begin_login_attempt(ada, policy_then, Actor::Anonymous, later(900))
        .await
        .unwrap();
    assert_eq!(
        fresh,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: None
        }
    );
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (1, None));
}

/// Many attempts at once: exactly the limit's worth are counted, the
/// last of them locks, and every other one finds the account locked.
pub async fn concurrent_login_attempts_never_pass_the_limit(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .begin_login_attempt(ada, policy(5), Actor::Anonymous, later(1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut attempts = Vec::new();
    let mut locked = 0;
    for task in tasks {
        match task.await.unwrap() {
            LoginAttempt::Reserved {
                attempt,
                locked_until,
            } => {
                assert_eq!(locked_until.is_some(), attempt == 5, "attempt {attempt}");
                attempts.push(attempt);
            }
            LoginAttempt::Locked { until } => {
                assert_eq!(until, later(900));
                locked += 1;
            }
        }
    }
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    assert_eq!(locked, 15);
    assert_eq!(
        events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await.len(),
        5
    );
}

/// A login clears the count and lock, and stores a rehash when given.
pub async fn starting_a_session_clears_failures_and_stores_a_rehash(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    store
        .begin_login_attempt(ada, policy(5), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(store.user(ada).await.unwrap().unwrap().failed_logins, 1);
    let mut session = session_for(&*store, ada, "r1").await;
    session.rehashed_password = Some("$argon2id$rehashed".into());
    let id = session.id;
    store.start_session(session, later(5)).await.unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.failed_logins, 0);
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$rehashed"));
    assert!(live(&*store, ada, id).await);
    let events = events_of(&*store, kinds::SESSION_STARTED).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].subject_type.as_str(), events[0].subject_id),
        ("session", id.0)
    );
    assert_eq!(events[0].payload, json!({ "rehashed_password": true }));

    // Without a rehash the stored hash stays.
    start(&*store, ada, "r2").await;
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$rehashed"));
}

/// A session starts only if the password hash and token version the login
/// checked are still the stored ones and the account is not disabled; a
/// refused start is `unauthenticated` and writes nothing, so a login racing
/// a password change can neither survive it nor put the old hash back.
pub async fn a_session_starts_only_while_the_checked_credentials_hold(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let checked_before = session_for(&*store, ada, "old").await;
    store
        .set_password(ada, "$argon2id$new".into(), None, system(), later(1))
        .await
        .unwrap();
    let refused = |mut session: NewSession, why: &'static str| {
        let store = store.clone();
        async move {
            session.rehashed_password = Some("$argon2id$rehash-of-the-old-password".into());
            let id = session.id;
            let err = store.start_session(session, later(2)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{why}: {err}");
            assert!(
                !live(&*store, ada, id).await,
                "{why}: a session was written"
            );
        }
    };
    refused(checked_before.clone(), "old hash and version").await;
    let mut old_hash = session_for(&*store, ada, "h").await;
    old_hash.password_hash = checked_before.password_hash.clone();
    refused(old_hash, "old hash, current version").await;
    let mut old_version = session_for(&*store, ada, "v").await;
    old_version.token_version = checked_before.token_version;
    refused(old_version, "current hash, old version").await;

    // Disabling bumps the version; a login that read it afterwards is still
    // refused while the account stays disabled.
    store
        .set_disabled(ada, true, system(), later(3))
        .await
        .unwrap();
    refused(session_for(&*store, ada, "d").await, "disabled").await;
    store
        .set_disabled(ada, false, system(), later(4))
        .await
        .unwrap();
    start(&*store, ada, "ok").await;

    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::USER_PASSWORD_CHANGED,
            kinds::USER_DISABLED,
            kinds::USER_ENABLED,
            kinds::SESSION_STARTED
        ]
    );
}

/// A lock set by another attempt while a password was being checked stops
/// the session (`rate_limited`, nothing written); the lock the login's own
/// attempt set does not, and the session clears it.
pub async fn a_lock_set_by_other_attempts_stops_a_session_and_its_own_does_not(
    store: Arc<dyn Store>,
) {
    let ada = make_user(&*store, "ada@example.com").await;
    let first = store
        .begin_login_attempt(ada, policy(2), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(
        first,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: None
        }
    );
    let LoginAttempt::Reserved {
        locked_until: Some(lock),
        ..
    } = store
        .begin_login_attempt(ada, policy(2), Actor::Anonymous, t0())
        .await
        .unwrap()
    else {
        panic!("the second attempt reaches the limit and locks");
    };

    // The first attempt's password turns out right, but the second one
    // locked the account meanwhile.
    let by_first = session_for(&*store, ada, "s1").await;
    let first_id = by_first.id;
    let err = store.start_session(by_first, later(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(899)));
    assert!(!live(&*store, ada, first_id).await);
    assert_eq!(
        store.user(ada).await.unwrap().unwrap().locked_until,
        Some(lock)
    );

    // The second attempt's password is right: its own lock lets it in.
    let mut by_second = session_for(&*store, ada, "s2").await;
    by_second.own_lock = Some(lock);
    let second_id = by_second.id;
    store.start_session(by_second, later(1)).await.unwrap();
    assert!(live(&*store, ada, second_id).await);
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (0, None));
    assert_eq!(events_of(&*store, kinds::SESSION_STARTED).await.len(), 1);
}

/// A live token rotates into the next one, which rotates in turn.
pub async fn a_refresh_token_rotates_exactly_once(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let rotated = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(10))
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: ada,
            session_id: session
        }
    );
    let next = store
        .rotate_refresh_token(&token("r2", t0()).hash, token("r3", later(7200)), later(20))
        .await
        .unwrap();
    assert!(matches!(next, Rotation::Rotated { .. }));
    assert!(live(&*store, ada, session).await);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::SESSION_STARTED,
            kinds::SESSION_REFRESHED,
            kinds::SESSION_REFRESHED
        ]
    );
}

/// An already-used token comes back: the session is revoked, and even its
/// newest token stops working.
pub async fn reusing_a_rotated_token_revokes_the_session(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let other = start(&*store, ada, "o1").await;
    store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(10))
        .await
        .unwrap();
    let reused = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("x", later(7200)), later(20))
        .await
        .unwrap();
    assert_eq!(
        reused,
        Rotation::Reused {
            user_id: ada,
            session_id: session
        }
    );
    assert!(!live(&*store, ada, session).await);
    assert!(
        live(&*store, ada, other).await,
        "other sessions are not touched"
    );
    let newest = store
        .rotate_refresh_token(&token("r2", t0()).hash, token("y", later(7200)), later(30))
        .await
        .unwrap();
    assert_eq!(newest, Rotation::Invalid);
    let events = kinds_of(&*store, ada).await;
    assert_eq!(events.last().unwrap(), kinds::SESSION_REUSE_DETECTED);
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == kinds::SESSION_REUSE_DETECTED)
            .count(),
        1
    );
}

/// Four uses of one token at once: exactly one rotates; the other three
/// find it used, count as reuse, and the session is revoked, so the
/// winner's new token does not work either. One reuse event is written.
pub async fn concurrent_uses_of_one_refresh_token_rotate_once_and_revoke_the_session_as_reuse(
    store: Arc<dyn Store>,
) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let next = token(&format!("n{i}"), later(7200));
                let rotation = store
                    .rotate_refresh_token(&token("r1", t0()).hash, next.clone(), later(10))
                    .await
                    .unwrap();
                (rotation, next)
            })
        })
        .collect();
    let (mut rotated, mut reused) = (Vec::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            (Rotation::Rotated { session_id, .. }, next) => {
                assert_eq!(session_id, session);
                rotated.push(next);
            }
            (Rotation::Reused { session_id, .. }, _) => {
                assert_eq!(session_id, session);
                reused += 1;
            }
            (Rotation::Invalid, _) => panic!("a use of a live token was Invalid"),
        }
    }
    assert_eq!((rotated.len(), reused), (1, 3));
    assert!(
        !live(&*store, ada, session).await,
        "reuse revokes the session"
    );
    let winner = store
        .rotate_refresh_token(&rotated[0].hash, token("w", later(7200)), later(11))
        .await
        .unwrap();
    assert_eq!(winner, Rotation::Invalid);
    let events = kinds_of(&*store, ada).await;
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == kinds::SESSION_REUSE_DETECTED)
            .count(),
        1
    );
}

/// Expired and unknown tokens are `Invalid` and write nothing.
pub async fn expired_and_unknown_refresh_tokens_change_nothing(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let before = kinds_of(&*store, ada).await;
    let expired = store
        .rotate_refresh_token(
            &token("r1", t0()).hash,
            token("r2", later(9999)),
            later(3600),
        )
        .await
        .unwrap();
    assert_eq!(expired, Rotation::Invalid);
    let unknown = store
        .rotate_refresh_token(
            &token("nope", t0()).hash,
            token("r3", later(9999)),
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(unknown, Rotation::Invalid);
    assert_eq!(kinds_of(&*store, ada).await, before);
    assert!(live(&*store, ada, session).await);
    // The expired token was not consumed by the failed attempt: it stays
    // unusable, and it does not count as reuse.
    let again = store
        .rotate_refresh_token(
            &token("r1", t0()).hash,
            token("r4", later(9999)),
            later(3601),
        )
        .await
        .unwrap();
    assert_eq!(again, Rotation::Invalid);
}

/// Logout revokes the session once; again, or with an unknown token, is fine.
pub async fn ending_a_session_is_idempotent(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    store
        .end_session(&token("r1", t0()).hash, later(1))
        .await
        .unwrap();
    store
        .end_session(&token("r1", t0()).hash, later(2))
        .await
        .unwrap();
    store
        .end_session(&token("zz", t0()).hash, later(3))
        .await
        .unwrap();
    assert!(!live(&*store, ada, session).await);
    let ended = kinds_of(&*store, ada).await;
    assert_eq!(
        ended.iter().filter(|k| *k == kinds::SESSION_ENDED).count(),
        1
    );
    let rotation = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(4))
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Invalid);
}

/// Profile fields change, clear, or stay when not mentioned. Only fields
/// whose value differs count: the event names those, and an update that
/// changes nothing writes nothing (no event, same `updated_at`).
pub async fn a_profile_update_sets_and_clears_only_what_differs(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let changes = ProfileChanges {
        display_name: Some("Ada L.".into()),
        bio: Some(Some("Mathematician".into())),
        avatar_key: Some(Some("avatars/ada.png".into())),
    };
    let user = store
        .update_profile(ada, changes.clone(), system(), later(5))
        .await
        .unwrap();
    assert_eq!(user.display_name, "Ada L.");
    assert_eq!(user.bio.as_deref(), Some("Mathematician"));
    assert_eq!(user.avatar_key.as_deref(), Some("avatars/ada.png"));
    assert_eq!(user.updated_at, later(5));
    assert_eq!(user.created_at, t0());

    // The same values again: nothing to change.
    let same = store
        .update_profile(ada, changes, system(), later(6))
        .await
        .unwrap();
    assert_eq!(same, user);

    // One field the same, one different: only the different one counts.
    let partly = ProfileChanges {
        display_name: Some("Ada L.".into()),
        bio: Some(None),
        ..ProfileChanges::default()
    };
    let user = store
        .update_profile(ada, partly, system(), later(7))
        .await
        .unwrap();
    assert_eq!(user.bio, None);
    assert_eq!(user.display_name, "Ada L.");
    assert_eq!(user.avatar_key.as_deref(), Some("avatars/ada.png"));
    assert_eq!(user.updated_at, later(7));
    assert_eq!(store.user(ada).await.unwrap().unwrap().user, user);

    // Clearing what is already clear changes nothing.
    let clear_again = ProfileChanges {
        bio: Some(None),
        ..ProfileChanges::default()
    };
    let same = store
        .update_profile(ada, clear_again, system(), later(8))
        .await
        .unwrap();
    assert_eq!(same, user);

    let events = events_of(&*store, kinds::USER_PROFILE_UPDATED).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].payload,
        json!({ "fields": ["display_name", "bio", "avatar_key"] })
    );
    assert_eq!(events[1].payload, json!({ "fields": ["bio"] }));
}

/// A new password bumps the token version and revokes every session but
/// the kept one.
pub async fn a_password_change_bumps_the_version_and_keeps_one_session(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let kept = start(&*store, ada, "k1").await;
    let other = start(&*store, ada, "o1").await;
    store
        .set_password(ada, "$argon2id$new".into(), Some(kept), system(), later(5))
        .await
        .unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(r.token_version, 1);
    assert!(live(&*store, ada, kept).await);
    assert!(!live(&*store, ada, other).await);
    let events = store
        .events(&EventQuery {
            kind: Some(kinds::USER_PASSWORD_CHANGED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload, json!({ "revoked_sessions": 1 }));

    store
        .set_password(ada, "$argon2id$newer".into(), None, system(), later(6))
        .await
        .unwrap();
    assert!(!live(&*store, ada, kept).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 2);
}

/// A role change is one event; setting the same role again is none.
pub async fn setting_the_current_role_changes_nothing(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let user = store
        .set_role(ada, Role::Instructor, system(), later(1))
        .await
        .unwrap();
    assert_eq!((user.role, user.updated_at), (Role::Instructor, later(1)));
    let same = store
        .set_role(ada, Role::Instructor, system(), later(2))
        .await
        .unwrap();
    assert_eq!(same, user);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [kinds::USER_REGISTERED, kinds::USER_ROLE_CHANGED]
    );
}

/// Disabling revokes sessions and bumps the version; enabling restores
/// login but not the old sessions.
pub async fn disabling_revokes_sessions_and_enabling_does_not(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let user = store
        .set_disabled(ada, true, system(), later(1))
        .await
        .unwrap();
    assert!(user.disabled);
    assert!(!live(&*store, ada, session).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    store
        .set_disabled(ada, true, system(), later(2))
        .await
        .unwrap();
    let user = store
        .set_disabled(ada, false, system(), later(3))
        .await
        .unwrap();
    assert!(!user.disabled);
    assert!(!live(&*store, ada, session).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::SESSION_STARTED,
            kinds::USER_DISABLED,
            kinds::USER_ENABLED
        ]
    );
}

/// Revoking sessions ends the live ones and says how many there were.
pub async fn revoking_sessions_counts_the_live_ones(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let a = start(&*store, ada, "a1").await;
    let b = start(&*store, ada, "b1").await;
    store
        .end_session(&token("b1", t0()).hash, later(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_sessions(ada, system(), later(2))
            .await
            .unwrap(),
        1
    );
    assert!(!live(&*store, ada, a).await && !live(&*store, ada, b).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    assert_eq!(
        store
            .revoke_sessions(ada, system(), later(3))
            .await
            .unwrap(),
        0
    );
}

/// Deletion erases personal data, keeps the row, ends sessions, and lets
/// the e-mail be used again.
pub async fn deleting_a_user_erases_personal_data_and_frees_the_email(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    store
        .update_profile(
            ada,
            ProfileChanges {
                bio: Some(Some("private".into())),
                ..ProfileChanges::default()
            },
            system(),
            t0(),
        )
        .await
        .unwrap();
    let session = start(&*store, ada, "r1").await;
    store.delete_user(ada, system(), later(1)).await.unwrap();
    let r = store.user(ada).await.unwrap().expect("the row stays");
    assert_eq!(r.deleted_at, Some(later(1)));
    assert_eq!(r.password_hash, None);
    assert_eq!(r.user.bio, None);
    assert_ne!(r.user.email, "ada@example.com");
    assert_ne!(r.user.display_name, "User ada@example.com");
    assert!(!live(&*store, ada, session).await);
    let email = Email::parse("email", "ada@example.com").unwrap();
    assert!(store.user_by_email(&email).await.unwrap().is_none());
    let rotation = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(2))
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Invalid);
    let again = store
        .delete_user(ada, system(), later(3))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    make_user(&*store, "ada@example.com").await;
    assert!(
        store
            .list_users(&UserQuery::default())
            .await
            .unwrap()
            .iter()
            .all(|u| u.id != ada),
        "deleted users are not listed"
    );
}

/// Listing filters by role and text, pages by id, and skips nothing.
pub async fn listing_users_filters_and_pages_by_id(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(make_user(&*store, &format!("user{i}@example.com")).await);
    }
    store
        .set_role(ids[3], Role::Instructor, system(), t0())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_users(&UserQuery {
                after,
                limit: Some(3),
                ..UserQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().id);
        seen.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(seen, ids);
    let instructors = store
        .list_users(&UserQuery {
            role: Some(Role::Instructor),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        instructors.iter().map(|u| u.id).collect::<Vec<_>>(),
        [ids[3]]
    );
    let found = store
        .list_users(&UserQuery {
            query: Some("USER5@".into()),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [ids[5]]);
    let wildcard = store
        .list_users(&UserQuery {
            query: Some("%".into()),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert!(wildcard.is_empty(), "'%' is a literal, not a wildcard");
}

/// Events come in id order after the cursor, filtered by kind and user.
pub async fn the_event_log_pages_by_cursor_and_filters(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    store
        .set_role(bob, Role::Admin, system(), later(1))
        .await
        .unwrap();
    let all = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let rest = store
        .events(&EventQuery {
            after: Some(all[0].id),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest, all[1..]);
    let one = store
        .events(&EventQuery {
            limit: Some(1),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(one, all[..1]);
    let roles = store
        .events(&EventQuery {
            kind: Some(kinds::USER_ROLE_CHANGED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].user_id, Some(bob.0));
    assert_eq!(roles[0].actor_kind, "system");
    assert_eq!(kinds_of(&*store, ada).await, [kinds::USER_REGISTERED]);
}

/// Every user step on an unknown id is `not_found` and writes nothing.
pub async fn steps_on_a_missing_user_are_not_found(store: Arc<dyn Store>) {
    let ghost = UserId::new();
    let session = NewSession {
        id: SessionId::new(),
        user_id: ghost,
        refresh: token("g1", later(3600)),
        token_version: 0,
        password_hash: HASH.into(),
        own_lock: None,
        rehashed_password: None,
    };
    let results = [
        store
            .begin_login_attempt(ghost, policy(5), Actor::Anonymous, t0())
            .await
            .map(drop),
        store.start_session(session, t0()).await,
        store
            .update_profile(
                ghost,
                ProfileChanges {
                    display_name: Some("x".into()),
                    ..Default::default()
                },
                system(),
                t0(),
            )
            .await
            .map(drop),
        store
            .set_password(ghost, "h".into(), None, system(), t0())
            .await,
        store
            .set_role(ghost, Role::Admin, system(), t0())
            .await
            .map(drop),
        store
            .set_disabled(ghost, true, system(), t0())
            .await
            .map(drop),
        store.revoke_sessions(ghost, system(), t0()).await.map(drop),
        store.delete_user(ghost, system(), t0()).await,
    ];
    for (i, result) in results.into_iter().enumerate() {
        let err = result.expect_err("a missing user must be an error");
        assert_eq!(err.kind(), ErrorKind::NotFound, "step {i}: {err}");
    }
    assert!(
        store
            .events(&EventQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// After opening, the store reports every migration as applied.
pub async fn every_migration_is_applied(store: Arc<dyn Store>) {
    let status = store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| m.applied), "{status:?}");
    assert!(status.windows(2).all(|w| w[0].version < w[1].version));
}

/// Times come back exactly as stored, microseconds included.
pub async fn times_round_trip_to_the_microsecond(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let lock = t0() + chrono::Duration::microseconds(999_999);
    let policy = LockPolicy {
        max_failures: 1,
        lock_until: lock,
    };
    store
        .begin_login_attempt(ada, policy, Actor::Anonymous, t0())
        .await
        .unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.locked_until, Some(lock));
    assert_eq!(r.user.created_at, t0());
}

/// A created course comes back whole (paid price, tags, level, language,
/// microsecond times) from the step, by id and by slug, with its owner's
/// name and lecture aggregates; a free course comes back free.
pub async fn a_created_course_reads_back_by_id_and_slug_with_its_aggregates(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let at = t0() + chrono::Duration::microseconds(7);
    let new = NewCourse {
        id: CourseId::new(),
        slug: slug("intro-to-rust"),
        title: "Intro to Rust".into(),
        subtitle: "Ownership without tears".into(),
        description: "# Welcome\n\nFor **systems** people.".into(),
        level: Level::Intermediate,
        language: "en-GB".into(),
        tags: vec!["rust".into(), "systems programming".into()],
        price: Price::Paid {
            amount_minor: 4999,
            currency: currency("EUR"),
        },
        thumbnail_key: Some("thumbs/rust.png".into()),
        owner_id: owner,
    };
    let created = store
        .create_course(new.clone(), system(), at)
        .await
        .unwrap();
    let expected = Course {
        id: new.id,
        slug: "intro-to-rust".into(),
        title: new.title.clone(),
        subtitle: new.subtitle.clone(),
        description: new.description.clone(),
        level: Level::Intermediate,
        language: "en-GB".into(),
        tags: new.tags.clone(),
        price: new.price,
        thumbnail_key: Some("thumbs/rust.png".into()),
        owner_id: owner,
        status: CourseStatus::Draft,
        enrollment_count: 0,
        created_at: at,
        updated_at: at,
        published_at: None,
    };
    assert_eq!(created, expected);

    let by_id = summary(&*store, new.id).await;
    assert_eq!(by_id.course, expected);
    assert_eq!(by_id.instructor_name, "User ada@example.com");
    assert_eq!((by_id.lecture_count, by_id.total_duration_secs), (0, 0));
    let by_slug = store
        .course(&CourseKey::Slug(slug("intro-to-rust")))
        .await
        .unwrap()
        .expect("found by slug");
    assert_eq!(by_slug, by_id);
    assert!(
        store
            .course(&CourseKey::Id(CourseId::new()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .course(&CourseKey::Slug(slug("no-such-course")))
            .await
            .unwrap()
            .is_none()
    );

    // The aggregates count every lecture of every section.
    let first = make_section(&*store, new.id, "First").await;
    let second = make_section(&*store, new.id, "Second").await;
    make_section(&*store, new.id, "Empty").await;
    for (section, secs) in [(first.id, 60), (first.id, 90), (second.id, 45)] {
        store
            .create_lecture(section, new_lecture("L", secs), None, system(), t0())
            .await
            .unwrap();
    }
    let with_lectures = summary(&*store, new.id).await;
    assert_eq!(
        (
            with_lectures.lecture_count,
            with_lectures.total_duration_secs
        ),
        (3, 195)
    );

    // A free course with nothing optional round-trips as such.
    let free = store
        .create_course(new_course(owner, "free-course"), system(), at)
        .await
        .unwrap();
    assert_eq!(
        (free.price, free.thumbnail_key.as_deref()),
        (Price::Free, None)
    );
    assert!(free.tags.is_empty());
    assert_eq!(summary(&*store, free.id).await.course, free);

    let events = course_events(&*store, new.id).await;
    let e = &events[0];
    assert_eq!(e.kind, kinds::COURSE_CREATED);
    assert_eq!(
        (e.subject_type.as_str(), e.subject_id),
        ("course", new.id.0)
    );
    assert_eq!((e.course_id, e.user_id), (Some(new.id.0), None));
    assert_eq!(e.payload["slug"], json!("intro-to-rust"));
    assert_eq!(e.created_at, at);
}

/// A taken slug is `conflict`: no second course, no event, the first one
/// untouched.
pub async fn a_duplicate_slug_is_a_conflict_and_writes_nothing(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let first = make_course(&*store, owner, "rust").await;
    let mut again = new_course(owner, "rust");
    again.title = "Impostor".into();
    let err = store
        .create_course(again.clone(), system(), later(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(
        store
            .course(&CourseKey::Id(again.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(summary(&*store, first.id).await.course, first);
    assert!(course_events(&*store, again.id).await.is_empty());
    let created = store
        .events(&EventQuery {
            kind: Some(kinds::COURSE_CREATED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
}

/// An update changes the fields it names and `updated_at`, nothing else;
/// a price goes from paid to free and back, a thumbnail is cleared.
pub async fn a_course_update_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let mut new = new_course(owner, "rust");
    new.subtitle = "Sub".into();
    new.description = "Desc".into();
    new.tags = vec!["rust".into()];
    new.price = Price::Paid {
        amount_minor: 1999,
        currency: currency("USD"),
    };
    new.thumbnail_key = Some("thumbs/a.png".into());
    let course = store.create_course(new, system(), t0()).await.unwrap();

    let titled = store
        .update_course(
            course.id,
            CourseChanges {
                title: Some("Rust, revised".into()),
                ..CourseChanges::default()
            },
            system(),
            later(5),
        )
        .await
        .unwrap();
    assert_eq!(
        titled,
        Course {
            title: "Rust, revised".into(),
            updated_at: later(5),
            ..course.clone()
        }
    );
    assert_eq!(summary(&*store, course.id).await.course, titled);

    let everything = CourseChanges {
        subtitle: Some("New subtitle".into()),
        description: Some("New description".into()),
        level: Some(Level::Advanced),
        language: Some("fr-CA".into()),
        tags: Some(vec!["async".into(), "tokio".into()]),
        price: Some(Price::Free),
        thumbnail_key: Some(None),
        ..CourseChanges::default()
    };
    let changed = store
        .update_course(course.id, everything, system(), later(6))
        .await
        .unwrap();
    assert_eq!(
        changed,
        Course {
            subtitle: "New subtitle".into(),
            description: "New description".into(),
            level: Level::Advanced,
            language: "fr-CA".into(),
            tags: vec!["async".into(), "tokio".into()],
            price: Price::Free,
            thumbnail_key: None,
            updated_at: later(6),
            ..titled.clone()
        }
    );
    assert_eq!(summary(&*store, course.id).await.course, changed);

    let paid = store
        .update_course(
            course.id,
            CourseChanges {
                price: Some(Price::Paid {
                    amount_minor: 5000,
                    currency: currency("JPY"),
                }),
                thumbnail_key: Some(Some("thumbs/b.png".into())),
                ..CourseChanges::default()
            },
            system(),
            later(7),
        )
        .await
        .unwrap();
    assert_eq!(
        paid,
        Course {
            price: Price::Paid {
                amount_minor: 5000,
                currency: currency("JPY")
            },
            thumbnail_key: Some("thumbs/b.png".into()),
            updated_at: later(7),
            ..changed.clone()
        }
    );
    assert_eq!(summary(&*store, course.id).await.course, paid);

    let events = course_events(&*store, course.id).await;
    let kinds_seen: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds_seen,
        [
            kinds::COURSE_CREATED,
            kinds::COURSE_UPDATED,
            kinds::COURSE_UPDATED,
            kinds::COURSE_UPDATED
        ]
    );
    assert_eq!(events[1].payload, json!({ "fields": ["title"] }));
    assert_eq!(
        events[3].payload,
        json!({ "fields": ["price", "thumbnail_key"] })
    );
}

/// A new slug moves the slug lookup; a taken one is `conflict` and the
/// whole update (other fields included) is not applied.
pub async fn a_slug_change_moves_the_lookup_and_a_taken_slug_is_a_conflict(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let rust = make_course(&*store, owner, "rust").await;
    let go = make_course(&*store, owner, "go").await;
    let moved = store
        .update_course(
            rust.id,
            CourseChanges {
                slug: Some(slug("rust-2024")),
                ..CourseChanges::default()
            },
            system(),
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(moved.slug, "rust-2024");
    assert!(
        store
            .course(&CourseKey::Slug(slug("rust")))
            .await
            .unwrap()
            .is_none()
    );
    let found = store
        .course(&CourseKey::Slug(slug("rust-2024")))
        .await
        .unwrap()
        .expect("found by the new slug");
    assert_eq!(found.course.id, rust.id);

    let err = store
        .update_course(
            go.id,
            CourseChanges {
                slug: Some(slug("rust-2024")),
                title: Some("Hijack".into()),
                ..CourseChanges::default()
            },
            system(),
            later(2),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(summary(&*store, go.id).await.course, go);
    assert_eq!(course_kinds(&*store, go.id).await, [kinds::COURSE_CREATED]);

    // The old slug is free again.
    make_course(&*store, owner, "rust").await;
}

/// Publishing a course without lectures is `invalid_input` on `lectures`
/// and changes nothing; with a lecture it publishes.
pub async fn publishing_needs_a_lecture_and_changes_nothing_without_one(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let section = make_section(&*store, course.id, "Empty").await;
    let err = store
        .set_course_status(course.id, CourseStatus::Published, system(), later(1))
        .await
        .unwrap_err();
    assert_invalid(err, "lectures");
    assert_eq!(summary(&*store, course.id).await.course, course);
    assert_eq!(
        course_kinds(&*store, course.id).await,
        [kinds::COURSE_CREATED, kinds::SECTION_CREATED]
    );

    make_lecture(&*store, section.id, "Hello").await;
    let published = publish(&*store, course.id, later(2)).await;
    assert_eq!(published.status, CourseStatus::Published);
    assert_eq!(published.published_at, Some(later(2)));
    assert_eq!(published.updated_at, later(2));
    assert_eq!(summary(&*store, course.id).await.course, published);
}

/// The first publication time stays through unpublishing, republishing and
/// archiving; setting the status a course already has writes nothing.
pub async fn the_first_publication_time_is_kept_and_a_repeated_status_writes_nothing(
    store: Arc<dyn Store>,
) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, _, _) = course_with_lectures(&*store, owner, "rust", 1).await;
    let before = course_kinds(&*store, course.id).await.len();
    let set = |status: CourseStatus, at: Timestamp| {
        let store = store.clone();
        async move {
            store
                .set_course_status(course.id, status, system(), at)
                .await
                .unwrap()
        }
    };
    let published = set(CourseStatus::Published, later(10)).await;
    assert_eq!(published.published_at, Some(later(10)));
    assert_eq!(set(CourseStatus::Published, later(11)).await, published);

    let draft = set(CourseStatus::Draft, later(20)).await;
    assert_eq!(draft.status, CourseStatus::Draft);
    assert_eq!(
        (draft.published_at, draft.updated_at),
        (Some(later(10)), later(20))
    );
    let again = set(CourseStatus::Published, later(30)).await;
    assert_eq!(
        (again.status, again.published_at, again.updated_at),
        (CourseStatus::Published, Some(later(10)), later(30))
    );
    let archived = set(CourseStatus::Archived, later(40)).await;
    assert_eq!(
        (archived.status, archived.published_at),
        (CourseStatus::Archived, Some(later(10)))
    );
    assert_eq!(set(CourseStatus::Archived, later(41)).await, archived);
    assert_eq!(summary(&*store, course.id).await.course, archived);

    let events = course_events(&*store, course.id).await;
    let kinds_seen: Vec<_> = events[before..].iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds_seen,
        [
            kinds::COURSE_PUBLISHED,
            kinds::COURSE_UNPUBLISHED,
            kinds::COURSE_PUBLISHED,
            kinds::COURSE_ARCHIVED
        ]
    );
    assert_eq!(
        events[before + 1].payload,
        json!({ "from": "published", "to": "draft" })
    );

    // A draft archived without ever being published has no publication time.
    let never = make_course(&*store, owner, "never").await;
    let archived = store
        .set_course_status(never.id, CourseStatus::Archived, system(), later(1))
        .await
        .unwrap();
    assert_eq!(
        (archived.status, archived.published_at),
        (CourseStatus::Archived, None)
    );
}

/// Deleting a course removes it with its sections and lectures, frees the
/// slug, leaves other courses alone, and is logged; again is `not_found`.
pub async fn deleting_a_course_removes_its_tree(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, first, lectures) = course_with_lectures(&*store, owner, "rust", 2).await;
    let second = make_section(&*store, course.id, "Second").await;
    let third = make_lecture(&*store, second.id, "Third").await;
    let (other, _, _) = course_with_lectures(&*store, owner, "go", 2).await;
    let other_tree = tree(&*store, other.id).await;

    store
        .delete_course(course.id, system(), later(1))
        .await
        .unwrap();
    assert!(
        store
            .course(&CourseKey::Id(course.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .course(&CourseKey::Slug(slug("rust")))
            .await
            .unwrap()
            .is_none()
    );
    for section in [first.id, second.id] {
        assert!(store.section(section).await.unwrap().is_none());
    }
    for lecture in lectures.iter().map(|l| l.id).chain([third.id]) {
        assert!(store.lecture(lecture).await.unwrap().is_none());
    }
    assert!(store.outline(course.id).await.unwrap().is_empty());
    assert_eq!(tree(&*store, other.id).await, other_tree);
    assert_eq!(
        ids(&store
            .catalog(&CatalogFilter {
                owner: Some(owner),
                ..by(CatalogSort::Recent)
            })
            .await
            .unwrap()),
        [other.id]
    );
    let events = course_events(&*store, course.id).await;
    let last = events.last().unwrap();
    assert_eq!(last.kind, kinds::COURSE_DELETED);
    assert_eq!((last.subject_id, last.created_at), (course.id.0, later(1)));

    assert_not_found(
        store.delete_course(course.id, system(), later(2)).await,
        "deleting a deleted course",
    );
    make_course(&*store, owner, "rust").await;
}

/// A course anyone was ever enrolled in cannot be deleted (`conflict`),
/// even once the enrollment is revoked; nothing is removed or logged.
pub async fn a_course_with_an_enrollment_cannot_be_deleted(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, _, _) = course_with_lectures(&*store, owner, "rust", 2).await;
    enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    let before_tree = tree(&*store, course.id).await;
    let before = summary(&*store, course.id).await;
    for revoke in [false, true] {
        if revoke {
            store
                .revoke_enrollment(course.id, learner, system(), later(1))
                .await
                .unwrap();
        }
        let before = summary(&*store, course.id).await;
        let err = store
            .delete_course(course.id, system(), later(2))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert_eq!(summary(&*store, course.id).await, before);
    }
    assert_eq!(before.lecture_count, 2);
    assert_eq!(tree(&*store, course.id).await, before_tree);
    assert!(
        store
            .enrollment(course.id, learner)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        count_kind(&*store, course.id, kinds::COURSE_DELETED).await,
        0
    );
}

/// Sections are added at the end or at a position; the others make room,
/// positions stay 0..n-1 in the order asked, and each read back is whole.
pub async fn sections_are_created_at_the_end_or_at_a_position(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let create = |title: &'static str, position: Option<u32>, at: Timestamp| {
        let store = store.clone();
        async move {
            store
                .create_section(
                    course.id,
                    SectionId::new(),
                    title.into(),
                    position,
                    system(),
                    at,
                )
                .await
                .unwrap()
        }
    };
    let at = t0() + chrono::Duration::microseconds(3);
    let a = create("A", None, at).await;
    let b = create("B", None, at).await;
    let c = create("C", Some(0), at).await;
    let d = create("D", Some(2), at).await;
    let e = create("E", Some(4), at).await;
    assert_eq!(
        [a.position, b.position, c.position, d.position, e.position],
        [0, 1, 0, 2, 4]
    );
    let order: Vec<_> = tree(&*store, course.id)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(order, [c.id, a.id, d.id, b.id, e.id]);
    assert_eq!(
        store.section(a.id).await.unwrap(),
        Some(Section {
            id: a.id,
            course_id: course.id,
            title: "A".into(),
            position: 1,
            created_at: at,
            updated_at: at,
        })
    );
    assert!(store.section(SectionId::new()).await.unwrap().is_none());
    let created: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::SECTION_CREATED)
        .collect();
    assert_eq!(created.len(), 5);
    assert_eq!(
        (created[2].subject_type.as_str(), created[2].subject_id),
        ("section", c.id.0)
    );
}

/// A position past the end is `invalid_input` on `position` for every
/// step that takes one, and the tree and the log stay as they were.
pub async fn a_position_out_of_range_is_invalid_input_and_changes_nothing(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s1, lectures) = course_with_lectures(&*store, owner, "rust", 2).await;
    let s2 = make_section(&*store, course.id, "Second").await;
    make_lecture(&*store, s2.id, "Only").await;
    let before = tree(&*store, course.id).await;
    let events = course_events(&*store, course.id).await.len();
    let (new_section, new_lecture_id) = (SectionId::new(), LectureId::new());
    let mut lecture = new_lecture("New", 60);
    lecture.id = new_lecture_id;

    let errors = [
        store
            .create_section(
                course.id,
                new_section,
                "X".into(),
                Some(3),
                system(),
                later(1),
            )
            .await
            .map(drop),
        store
            .move_section(s1.id, 2, system(), later(1))
            .await
            .map(drop),
        store
            .create_lecture(s1.id, lecture, Some(3), system(), later(1))
            .await
            .map(drop),
        store
            .move_lecture(lectures[0].id, s1.id, 2, system(), later(1))
            .await
            .map(drop),
        store
            .move_lecture(lectures[0].id, s2.id, 2, system(), later(1))
            .await
            .map(drop),
    ];
    for (i, result) in errors.into_iter().enumerate() {
        let err = result.expect_err(&format!("step {i} must refuse the position"));
        assert_invalid(err, "position");
    }
    assert_eq!(tree(&*store, course.id).await, before);
    assert!(store.section(new_section).await.unwrap().is_none());
    assert!(store.lecture(new_lecture_id).await.unwrap().is_none());
    assert_eq!(
        store.lecture(lectures[0].id).await.unwrap().unwrap(),
        lectures[0]
    );
    assert_eq!(course_events(&*store, course.id).await.len(), events);
}

/// A section moves to any position of its course, taking its lectures;
/// moving it to where it is writes nothing.
pub async fn a_section_moves_within_its_course(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let mut s = Vec::new();
    for title in ["A", "B", "C", "D"] {
        s.push(make_section(&*store, course.id, title).await);
    }
    let lecture = make_lecture(&*store, s[1].id, "In B").await;
    let order = |store: Arc<dyn Store>| async move {
        tree(&*store, course.id)
            .await
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>()
    };
    let moved = store
        .move_section(s[0].id, 3, system(), later(1))
        .await
        .unwrap();
    assert_eq!((moved.id, moved.position), (s[0].id, 3));
    assert_eq!(
        order(store.clone()).await,
        ids(&[s[1].clone(), s[2].clone(), s[3].clone(), s[0].clone()])
    );
    store
        .move_section(s[0].id, 0, system(), later(2))
        .await
        .unwrap();
    assert_eq!(order(store.clone()).await, ids(&s));
    store
        .move_section(s[2].id, 1, system(), later(3))
        .await
        .unwrap();
    assert_eq!(
        order(store.clone()).await,
        [s[0].id, s[2].id, s[1].id, s[3].id]
    );
    let unmoved = store
        .move_section(s[1].id, 2, system(), later(4))
        .await
        .unwrap();
    assert_eq!(unmoved.position, 2);
    let t = tree(&*store, course.id).await;
    assert_eq!(
        t[2],
        (s[1].id, vec![lecture.id]),
        "lectures move with their section"
    );

    let moves: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::SECTION_MOVED)
        .collect();
    assert_eq!(moves.len(), 3);
    assert_eq!(moves[0].subject_id, s[0].id.0);
    assert_eq!(moves[0].payload, json!({ "from": 0, "to": 3 }));
}

/// Renaming changes the title and `updated_at` only.
pub async fn renaming_a_section_changes_only_its_title(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    make_section(&*store, course.id, "A").await;
    let b = make_section(&*store, course.id, "B").await;
    let before = tree(&*store, course.id).await;
    let renamed = store
        .rename_section(b.id, "Advanced topics".into(), system(), later(3))
        .await
        .unwrap();
    assert_eq!(
        renamed,
        Section {
            title: "Advanced topics".into(),
            updated_at: later(3),
            ..b.clone()
        }
    );
    assert_eq!(store.section(b.id).await.unwrap(), Some(renamed));
    assert_eq!(tree(&*store, course.id).await, before);
    let last = course_events(&*store, course.id).await.pop().unwrap();
    assert_eq!(last.kind, kinds::SECTION_UPDATED);
    assert_eq!(last.subject_id, b.id.0);
}

/// Deleting a section removes its lectures and the sections after it
/// close up.
pub async fn deleting_a_section_removes_its_lectures_and_closes_the_gap(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, a, kept) = course_with_lectures(&*store, owner, "rust", 1).await;
    let b = make_section(&*store, course.id, "B").await;
    let x = make_lecture(&*store, b.id, "X").await;
    let y = make_lecture(&*store, b.id, "Y").await;
    let c = make_section(&*store, course.id, "C").await;
    store
        .delete_section(b.id, system(), later(1))
        .await
        .unwrap();
    assert_eq!(
        tree(&*store, course.id).await,
        [(a.id, vec![kept[0].id]), (c.id, vec![])]
    );
    assert_eq!(store.section(c.id).await.unwrap().unwrap().position, 1);
    assert!(store.section(b.id).await.unwrap().is_none());
    assert!(store.lecture(x.id).await.unwrap().is_none());
    assert!(store.lecture(y.id).await.unwrap().is_none());
    let s = summary(&*store, course.id).await;
    assert_eq!((s.lecture_count, s.total_duration_secs), (1, 60));
    let last = course_events(&*store, course.id).await.pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.subject_id),
        (kinds::SECTION_DELETED, b.id.0)
    );
    assert_not_found(
        store.delete_section(b.id, system(), later(2)).await,
        "deleting a deleted section",
    );
}

/// Lectures are added at the end or at a position; each comes back whole
/// from the step and from `lecture`, and positions stay 0..n-1.
pub async fn lectures_are_created_at_the_end_or_at_a_position(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let section = make_section(&*store, course.id, "A").await;
    let at = t0() + chrono::Duration::microseconds(11);
    let article = NewLecture {
        id: LectureId::new(),
        title: "Read me".into(),
        kind: LectureKind::Article,
        body: "Some *markdown*".into(),
        duration_secs: 0,
        free_preview: true,
    };
    let first = store
        .create_lecture(section.id, article.clone(), None, system(), at)
        .await
        .unwrap();
    let expected = Lecture {
        id: article.id,
        course_id: course.id,
        section_id: section.id,
        title: "Read me".into(),
        kind: LectureKind::Article,
        body: "Some *markdown*".into(),
        duration_secs: 0,
        free_preview: true,
        position: 0,
        created_at: at,
        updated_at: at,
    };
    assert_eq!(first, expected);
    assert_eq!(store.lecture(first.id).await.unwrap(), Some(expected));
    assert!(store.lecture(LectureId::new()).await.unwrap().is_none());

    let create = |position: Option<u32>| {
        let store = store.clone();
        async move {
            store
                .create_lecture(section.id, new_lecture("L", 30), position, system(), at)
                .await
                .unwrap()
        }
    };
    let end = create(None).await;
    let front = create(Some(0)).await;
    let middle = create(Some(1)).await;
    let last = create(Some(4)).await;
    assert_eq!(
        [end.position, front.position, middle.position, last.position],
        [1, 0, 1, 4]
    );
    assert_eq!(
        tree(&*store, course.id).await,
        [(
            section.id,
            vec![front.id, middle.id, first.id, end.id, last.id]
        )]
    );
    let created: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::LECTURE_CREATED)
        .collect();
    assert_eq!(created.len(), 5);
    assert_eq!(
        (created[2].subject_type.as_str(), created[2].subject_id),
        ("lecture", front.id.0)
    );
}

/// An update changes the fields it names and `updated_at`, nothing else.
pub async fn a_lecture_update_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, _, lectures) = course_with_lectures(&*store, owner, "rust", 2).await;
    let lecture = lectures[1].clone();
    let titled = store
        .update_lecture(
            lecture.id,
            LectureChanges {
                title: Some("Renamed".into()),
                ..LectureChanges::default()
            },
            system(),
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(
        titled,
        Lecture {
            title: "Renamed".into(),
            updated_at: later(1),
            ..lecture.clone()
        }
    );
    let changed = store
        .update_lecture(
            lecture.id,
            LectureChanges {
                kind: Some(LectureKind::Article),
                body: Some("New body".into()),
                duration_secs: Some(600),
                free_preview: Some(true),
                ..LectureChanges::default()
            },
            system(),
            later(2),
        )
        .await
        .unwrap();
    assert_eq!(
        changed,
        Lecture {
            kind: LectureKind::Article,
            body: "New body".into(),
            duration_secs: 600,
            free_preview: true,
            updated_at: later(2),
            ..titled.clone()
        }
    );
    assert_eq!(store.lecture(lecture.id).await.unwrap(), Some(changed));
    assert_eq!(summary(&*store, course.id).await.total_duration_secs, 660);
    let updates: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::LECTURE_UPDATED)
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].payload, json!({ "fields": ["title"] }));
    assert_eq!(
        updates[1].payload,
        json!({ "fields": ["kind", "body", "duration_secs", "free_preview"] })
    );
}

/// A lecture moves to any position of its own section; moving it to where
/// it is writes nothing.
pub async fn a_lecture_moves_within_its_section(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s, l) = course_with_lectures(&*store, owner, "rust", 4).await;
    let moved = store
        .move_lecture(l[0].id, s.id, 3, system(), later(1))
        .await
        .unwrap();
    assert_eq!((moved.section_id, moved.position), (s.id, 3));
    assert_eq!(
        tree(&*store, course.id).await,
        [(s.id, vec![l[1].id, l[2].id, l[3].id, l[0].id])]
    );
    store
        .move_lecture(l[3].id, s.id, 0, system(), later(2))
        .await
        .unwrap();
    assert_eq!(
        tree(&*store, course.id).await,
        [(s.id, vec![l[3].id, l[1].id, l[2].id, l[0].id])]
    );
    let unmoved = store
        .move_lecture(l[2].id, s.id, 2, system(), later(3))
        .await
        .unwrap();
    assert_eq!(unmoved.position, 2);
    let moves: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::LECTURE_MOVED)
        .collect();
    assert_eq!(moves.len(), 2);
    assert_eq!(
        moves[0].payload,
        json!({ "from_section_id": s.id, "to_section_id": s.id, "position": 3 })
    );
}

/// A lecture moves into another section of its course at any position up
/// to that section's end; both sections stay dense, an emptied section
/// stays in the outline.
pub async fn a_lecture_moves_to_another_section_of_its_course(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s1, l) = course_with_lectures(&*store, owner, "rust", 3).await;
    let s2 = make_section(&*store, course.id, "Two").await;
    let x = make_lecture(&*store, s2.id, "X").await;
    let y = make_lecture(&*store, s2.id, "Y").await;
    let s3 = make_section(&*store, course.id, "Three").await;

    let moved = store
        .move_lecture(l[1].id, s2.id, 1, system(), later(1))
        .await
        .unwrap();
    assert_eq!(
        (moved.course_id, moved.section_id, moved.position),
        (course.id, s2.id, 1)
    );
    assert_eq!(store.lecture(l[1].id).await.unwrap(), Some(moved));
    assert_eq!(
        tree(&*store, course.id).await,
        [
            (s1.id, vec![l[0].id, l[2].id]),
            (s2.id, vec![x.id, l[1].id, y.id]),
            (s3.id, vec![])
        ]
    );
    store
        .move_lecture(l[0].id, s3.id, 0, system(), later(2))
        .await
        .unwrap();
    let to_end = store
        .move_lecture(l[2].id, s2.id, 3, system(), later(3))
        .await
        .unwrap();
    assert_eq!(to_end.position, 3);
    assert_eq!(
        tree(&*store, course.id).await,
        [
            (s1.id, vec![]),
            (s2.id, vec![x.id, l[1].id, y.id, l[2].id]),
            (s3.id, vec![l[0].id])
        ]
    );
    let moves: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::LECTURE_MOVED)
        .collect();
    assert_eq!(moves.len(), 3);
    assert_eq!(
        moves[0].payload,
        json!({ "from_section_id": s1.id, "to_section_id": s2.id, "position": 1 })
    );
    assert_eq!(moves[0].course_id, Some(course.id.0));
}

/// A section of another course is `invalid_input` on `section_id`; both
/// courses stay as they were and nothing is logged.
pub async fn a_lecture_cannot_move_to_a_section_of_another_course(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (rust, _, l) = course_with_lectures(&*store, owner, "rust", 2).await;
    let (go, go_section, _) = course_with_lectures(&*store, owner, "go", 1).await;
    let (rust_tree, go_tree) = (tree(&*store, rust.id).await, tree(&*store, go.id).await);
    let events = store.events(&EventQuery::default()).await.unwrap().len();
    let err = store
        .move_lecture(l[0].id, go_section.id, 0, system(), later(1))
        .await
        .unwrap_err();
    assert_invalid(err, "section_id");
    assert_eq!(tree(&*store, rust.id).await, rust_tree);
    assert_eq!(tree(&*store, go.id).await, go_tree);
    assert_eq!(store.lecture(l[0].id).await.unwrap().as_ref(), Some(&l[0]));
    assert_eq!(
        store.events(&EventQuery::default()).await.unwrap().len(),
        events
    );
}

/// Deleting a lecture closes its section up, wherever it was.
pub async fn deleting_a_lecture_closes_the_gap(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s, l) = course_with_lectures(&*store, owner, "rust", 4).await;
    store
        .delete_lecture(l[1].id, system(), later(1))
        .await
        .unwrap();
    assert_eq!(
        tree(&*store, course.id).await,
        [(s.id, vec![l[0].id, l[2].id, l[3].id])]
    );
    store
        .delete_lecture(l[3].id, system(), later(2))
        .await
        .unwrap();
    store
        .delete_lecture(l[0].id, system(), later(3))
        .await
        .unwrap();
    assert_eq!(tree(&*store, course.id).await, [(s.id, vec![l[2].id])]);
    assert_eq!(store.lecture(l[2].id).await.unwrap().unwrap().position, 0);
    assert!(store.lecture(l[1].id).await.unwrap().is_none());
    assert_eq!(summary(&*store, course.id).await.lecture_count, 1);
    let deleted: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::LECTURE_DELETED)
        .collect();
    assert_eq!(ids_of_subjects(&deleted), [l[1].id.0, l[3].id.0, l[0].id.0]);
    assert_eq!(deleted[0].payload, json!({ "section_id": s.id }));
    assert_not_found(
        store.delete_lecture(l[1].id, system(), later(4)).await,
        "deleting a deleted lecture",
    );
}

/// The outline is every section in order, each with its lectures in order
/// and their outline fields; empty sections included.
pub async fn the_outline_is_the_whole_tree_in_order(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let s0 = make_section(&*store, course.id, "Start").await;
    let s1 = make_section(&*store, course.id, "Nothing yet").await;
    let s2 = make_section(&*store, course.id, "End").await;
    let mut preview = new_lecture("Preview", 75);
    preview.free_preview = true;
    let a = store
        .create_lecture(s0.id, preview, None, system(), t0())
        .await
        .unwrap();
    let mut reading = new_lecture("Reading", 0);
    reading.kind = LectureKind::Article;
    let b = store
        .create_lecture(s0.id, reading, Some(0), system(), t0())
        .await
        .unwrap();
    let c = make_lecture(&*store, s2.id, "Last").await;
    let outline = store.outline(course.id).await.unwrap();
    let expected = vec![
        SectionOutline {
            id: s0.id,
            title: "Start".into(),
            position: 0,
            lectures: vec![
                LectureOutline {
                    id: b.id,
                    title: "Reading".into(),
                    kind: LectureKind::Article,
                    duration_secs: 0,
                    free_preview: false,
                    position: 0,
                },
                LectureOutline {
                    id: a.id,
                    title: "Preview".into(),
                    kind: LectureKind::Video,
                    duration_secs: 75,
                    free_preview: true,
                    position: 1,
                },
            ],
        },
        SectionOutline {
            id: s1.id,
            title: "Nothing yet".into(),
            position: 1,
            lectures: vec![],
        },
        SectionOutline {
            id: s2.id,
            title: "End".into(),
            position: 2,
            lectures: vec![LectureOutline {
                id: c.id,
                title: "Last".into(),
                kind: LectureKind::Video,
                duration_secs: 60,
                free_preview: false,
                position: 0,
            }],
        },
    ];
    assert_eq!(outline, expected);
    assert!(store.outline(CourseId::new()).await.unwrap().is_empty());
}

/// Eight steps at once on one course's tree (inserts, moves between
/// sections, one lecture moved back and forth by several) all succeed and
/// leave every position dense and every lecture exactly once.
pub async fn concurrent_tree_changes_in_one_course_keep_positions_dense(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s1, first) = course_with_lectures(&*store, owner, "busy", 4).await;
    let s2 = make_section(&*store, course.id, "Two").await;
    let mut all = ids(&first);
    for i in 0..4 {
        all.push(make_lecture(&*store, s2.id, &format!("Two {i}")).await.id);
    }
    let shuttle = first[0].id;
    for round in 0..4 {
        let now = tree(&*store, course.id).await;
        let pick = |section: SectionId| {
            now.iter()
                .find(|(s, _)| *s == section)
                .and_then(|(_, l)| l.iter().copied().find(|l| *l != shuttle))
                .expect("a lecture to move")
        };
        let (from_one, from_two) = (pick(s1.id), pick(s2.id));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                let at = later(100 * round + i);
                tokio::spawn(async move {
                    let new = new_lecture(&format!("New {round}.{i}"), 10);
                    let made = |r: Result<Lecture>| r.map(|l| Some(l.id));
                    let moved = |r: Result<Lecture>| r.map(|_| None);
                    match i {
                        0 => made(
                            store
                                .create_lecture(s1.id, new, Some(0), system(), at)
                                .await,
                        ),
                        1 => made(
                            store
                                .create_lecture(s2.id, new, Some(1), system(), at)
                                .await,
                        ),
                        2 => made(store.create_lecture(s1.id, new, None, system(), at).await),
                        3 => moved(store.move_lecture(from_one, s2.id, 1, system(), at).await),
                        4 => moved(store.move_lecture(from_two, s1.id, 0, system(), at).await),
                        _ => {
                            let to = if i % 2 == 0 { s1.id } else { s2.id };
                            moved(store.move_lecture(shuttle, to, 0, system(), at).await)
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            if let Some(id) = task.await.unwrap().expect("every step succeeds") {
                all.push(id);
            }
        }
        let after = tree(&*store, course.id).await;
        assert_eq!(after.len(), 2);
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(
            lectures_of(&after),
            expected,
            "round {round}: each lecture once"
        );
    }

    // Sections inserted at once at the front stay dense too.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_section(
                        course.id,
                        SectionId::new(),
                        format!("S{i}"),
                        Some(0),
                        system(),
                        t0(),
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("every insert succeeds");
    }
    let after = tree(&*store, course.id).await;
    assert_eq!(after.len(), 10);
    assert_eq!(after[8].0, s1.id);
    assert_eq!(after[9].0, s2.id);
}

/// A lecture deleted while another step moves it to a second section: the
/// delete succeeds, the move either succeeds first or finds nothing, and
/// both sections stay dense.
pub async fn a_lecture_deleted_while_it_moves_leaves_both_sections_dense(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    for round in 0..10 {
        let (course, s1, l) =
            course_with_lectures(&*store, owner, &format!("race-{round}"), 3).await;
        let s2 = make_section(&*store, course.id, "Two").await;
        let x = make_lecture(&*store, s2.id, "X").await;
        make_lecture(&*store, s2.id, "Y").await;
        let target = l[1].id;
        let mover = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .move_lecture(target, s2.id, 0, system(), later(1))
                    .await
            })
        };
        let deleter = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_lecture(target, system(), later(1)).await })
        };
        // A lecture added to a section being deleted either lands (and goes
        // with the section) or finds no section.
        let doomed = make_section(&*store, course.id, "Doomed").await;
        let adder = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_lecture(doomed.id, new_lecture("Late", 1), None, system(), later(1))
                    .await
            })
        };
        let remover = {
            let store = store.clone();
            tokio::spawn(async move { store.delete_section(doomed.id, system(), later(1)).await })
        };
        if let Err(err) = mover.await.unwrap() {
            assert_eq!(err.kind(), ErrorKind::NotFound, "round {round}: {err}");
        }
        deleter
            .await
            .unwrap()
            .expect("deleting an existing lecture succeeds");
        if let Err(err) = adder.await.unwrap() {
            assert_eq!(err.kind(), ErrorKind::NotFound, "round {round}: {err}");
        }
        remover
            .await
            .unwrap()
            .expect("deleting an existing section succeeds");
        let after = tree(&*store, course.id).await;
        assert_eq!(after.len(), 2, "round {round}");
        assert!(!lectures_of(&after).contains(&target), "round {round}");
        assert_eq!(lectures_of(&after).len(), 4, "round {round}");
        assert_eq!((after[0].0, after[1].0), (s1.id, s2.id), "round {round}");
        assert!(after[1].1.contains(&x.id));
        assert!(store.lecture(target).await.unwrap().is_none());
    }
}

/// The catalog filters by status, owner, level, language (a bare language
/// also matches its regional variants, nothing else) and price, alone and
/// together, and its rows carry the summary aggregates.
pub async fn the_catalog_filters_by_status_owner_level_language_and_price(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    let paid = Price::Paid {
        amount_minor: 1000,
        currency: currency("USD"),
    };
    let specs = [
        (
            ada,
            "c1",
            CourseStatus::Published,
            Level::Beginner,
            "en",
            Price::Free,
        ),
        (
            ada,
            "c2",
            CourseStatus::Draft,
            Level::Advanced,
            "en-GB",
            paid,
        ),
        (
            bob,
            "c3",
            CourseStatus::Published,
            Level::Advanced,
            "en-GB",
            paid,
        ),
        (
            bob,
            "c4",
            CourseStatus::Archived,
            Level::Beginner,
            "fr",
            Price::Free,
        ),
        (
            bob,
            "c5",
            CourseStatus::Published,
            Level::All,
            "enm",
            Price::Free,
        ),
    ];
    let mut c = Vec::new();
    for (owner, name, status, level, language, price) in specs {
        let mut new = new_course(owner, name);
        new.level = level;
        new.language = language.into();
        new.price = price;
        let course = store.create_course(new, system(), t0()).await.unwrap();
        let section = make_section(&*store, course.id, "S").await;
        make_lecture(&*store, section.id, "L").await;
        if status != CourseStatus::Draft {
            publish(&*store, course.id, later(1)).await;
        }
        if status == CourseStatus::Archived {
            store
                .set_course_status(course.id, status, system(), later(2))
                .await
                .unwrap();
        }
        c.push(course.id);
    }
    let base = by(CatalogSort::Recent);
    let q = |f: CatalogFilter| matching(&*store, f);
    assert_eq!(q(base.clone()).await, sorted(c.clone()));
    let status = |s| CatalogFilter {
        status: Some(s),
        ..base.clone()
    };
    assert_eq!(
        q(status(CourseStatus::Published)).await,
        sorted(vec![c[0], c[2], c[4]])
    );
    assert_eq!(q(status(CourseStatus::Draft)).await, [c[1]]);
    assert_eq!(q(status(CourseStatus::Archived)).await, [c[3]]);
    let owner = CatalogFilter {
        owner: Some(ada),
        ..base.clone()
    };
    assert_eq!(q(owner).await, sorted(vec![c[0], c[1]]));
    let level = CatalogFilter {
        level: Some(Level::Advanced),
        ..base.clone()
    };
    assert_eq!(q(level).await, sorted(vec![c[1], c[2]]));
    let language = |l: &str| CatalogFilter {
        language: Some(l.into()),
        ..base.clone()
    };
    assert_eq!(q(language("en")).await, sorted(vec![c[0], c[1], c[2]]));
    assert_eq!(q(language("en-GB")).await, sorted(vec![c[1], c[2]]));
    assert_eq!(q(language("fr")).await, [c[3]]);
    assert_eq!(q(language("enm")).await, [c[4]]);
    assert!(q(language("de")).await.is_empty());
    let free = |f| CatalogFilter {
        free: Some(f),
        ..base.clone()
    };
    assert_eq!(q(free(true)).await, sorted(vec![c[0], c[3], c[4]]));
    assert_eq!(q(free(false)).await, sorted(vec![c[1], c[2]]));
    let together = CatalogFilter {
        status: Some(CourseStatus::Published),
        language: Some("en".into()),
        free: Some(false),
        ..base.clone()
    };
    let rows = store.catalog(&together).await.unwrap();
    assert_eq!(ids(&rows), [c[2]]);
    assert_eq!(rows[0].summary, summary(&*store, c[2]).await);
    assert_eq!(rows[0].summary.instructor_name, "User bob@example.com");
    assert_eq!(
        (
            rows[0].summary.lecture_count,
            rows[0].summary.total_duration_secs
        ),
        (1, 60)
    );
}

/// A tag matches exactly; search words match title, subtitle, description
/// and tags as prefixes, case-insensitively, and every word is required.
/// The index follows updates.
pub async fn the_catalog_matches_tags_and_every_search_word_as_a_prefix(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course =
        |slug_text: &str, title: &str, subtitle: &str, description: &str, tags: &[&str]| {
            let mut new = new_course(owner, slug_text);
            new.title = title.into();
            new.subtitle = subtitle.into();
            new.description = description.into();
            new.tags = tags.iter().map(|t| t.to_string()).collect();
            let store = store.clone();
            async move { store.create_course(new, system(), t0()).await.unwrap().id }
        };
    let r = course(
        "r",
        "Rust for Pythonistas",
        "Fearless concurrency",
        "The borrow checker, explained.",
        &["systems", "web dev"],
    )
    .await;
    let g = course(
        "g",
        "Go in practice",
        "Concurrency made simple",
        "Goroutines and channels",
        &["backend"],
    )
    .await;
    let p = course(
        "p",
        "Python basics",
        "",
        "Start programming today",
        &["beginners", "scripting"],
    )
    .await;
    let b = course("b", "Crème brûlée", "Dessert", "", &[]).await;

    let tag = |t: &str| CatalogFilter {
        tag: Some(t.into()),
        ..by(CatalogSort::Recent)
    };
    let words = |w: &[&str]| CatalogFilter {
        words: w.iter().map(|w| w.to_string()).collect(),
        ..by(CatalogSort::Recent)
    };
    let q = |f: CatalogFilter| matching(&*store, f);
    assert_eq!(q(tag("systems")).await, [r]);
    assert_eq!(q(tag("web dev")).await, [r]);
    assert!(q(tag("web")).await.is_empty(), "a tag is matched whole");
    assert_eq!(q(tag("backend")).await, [g]);

    assert_eq!(q(words(&["rust"])).await, [r], "title");
    assert_eq!(q(words(&["fearless"])).await, [r], "subtitle");
    assert_eq!(q(words(&["borrow"])).await, [r], "description");
    assert_eq!(q(words(&["scripting"])).await, [p], "tags");
    assert_eq!(q(words(&["goroutine"])).await, [g], "a prefix");
    assert_eq!(q(words(&["concurr"])).await, sorted(vec![r, g]));
    assert_eq!(q(words(&["concurr", "go"])).await, [g], "every word");
    assert_eq!(q(words(&["pyth"])).await, sorted(vec![r, p]));
    assert_eq!(q(words(&["pyth", "basic"])).await, [p]);
    assert_eq!(q(words(&["crème"])).await, [b]);
    assert!(q(words(&["python", "rust", "go"])).await.is_empty());
    assert!(q(words(&["nothing"])).await.is_empty());
    let both = CatalogFilter {
        tag: Some("systems".into()),
        ..words(&["concurr"])
    };
    assert_eq!(q(both).await, [r]);

    store
        .update_course(
            g,
            CourseChanges {
                title: Some("Golang in depth".into()),
                subtitle: Some("Simple".into()),
                tags: Some(vec!["servers".into()]),
                ..CourseChanges::default()
            },
            system(),
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(q(words(&["golang", "depth"])).await, [g]);
    assert_eq!(
        q(words(&["concurr"])).await,
        [r],
        "the old subtitle is gone"
    );
    assert!(q(tag("backend")).await.is_empty());
    assert_eq!(q(tag("servers")).await, [g]);
    assert_eq!(q(words(&["servers"])).await, [g]);
    store.delete_course(p, system(), later(2)).await.unwrap();
    assert!(q(words(&["pyth", "basic"])).await.is_empty());
}

/// Newest first: by first publication time, ties by id, descending; every
/// page size walks every published course exactly once, in that order.
pub async fn newest_pages_walk_every_published_course_once_in_order(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let mut published = Vec::new();
    for (i, secs) in [5, 1, 5, 3, 9, 1, 5].into_iter().enumerate() {
        let (course, _, _) = course_with_lectures(&*store, owner, &format!("c{i}"), 1).await;
        let course = publish(&*store, course.id, later(secs)).await;
        published.push(course);
    }
    // A draft and an unpublished course are not in the published catalog.
    course_with_lectures(&*store, owner, "draft", 1).await;
    store
        .set_course_status(published[6].id, CourseStatus::Draft, system(), later(20))
        .await
        .unwrap();
    published.pop();
    published.sort_by_key(|c| std::cmp::Reverse((c.published_at, c.id)));
    let filter = CatalogFilter {
        status: Some(CourseStatus::Published),
        ..by(CatalogSort::Newest)
    };
    let expected: Vec<_> = published.iter().map(|c| c.id).collect();
    assert_pages(&*store, &filter, &expected).await;
}

/// By title: lower-cased title ascending, ties by id; `sort_title` is the
/// lower-cased title; pages walk every course once.
pub async fn title_pages_sort_case_insensitively_and_break_ties_by_id(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let titles = [
        "banana",
        "Apple",
        "cherry",
        "apple",
        "Banana split",
        "APPLE",
        "date",
    ];
    let mut made = Vec::new();
    for (i, title) in titles.into_iter().enumerate() {
        let mut new = new_course(owner, &format!("t{i}"));
        new.title = title.into();
        made.push(store.create_course(new, system(), t0()).await.unwrap());
    }
    made.sort_by_key(|c| (c.title.to_lowercase(), c.id));
    let expected: Vec<_> = made.iter().map(|c| c.id).collect();
    let filter = by(CatalogSort::Title);
    let rows = store.catalog(&filter).await.unwrap();
    for row in &rows {
        assert_eq!(row.sort_title, row.summary.course.title.to_lowercase());
    }
    assert_pages(&*store, &filter, &expected).await;
}

/// Popular: active enrollments descending (a revoked one does not count),
/// ties by id descending; pages walk every course once.
pub async fn popular_pages_sort_by_active_enrollments(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let mut learners = Vec::new();
    for i in 0..4 {
        learners.push(make_user(&*store, &format!("learner{i}@example.com")).await);
    }
    let mut made = Vec::new();
    for (i, enrolled) in [2, 0, 3, 2, 1, 0].into_iter().enumerate() {
        let course = make_course(&*store, owner, &format!("p{i}")).await;
        for learner in &learners[..enrolled] {
            enroll(
                &*store,
                course.id,
                *learner,
                EnrollmentSource::Free,
                None,
                t0(),
            )
            .await;
        }
        made.push((enrolled as i64, course.id));
    }
    // Three enrolled, one revoked: counts as two.
    let revoked = made[2].1;
    store
        .revoke_enrollment(revoked, learners[0], system(), later(1))
        .await
        .unwrap();
    made[2].0 = 2;
    for (count, id) in &made {
        assert_eq!(enrollment_count(&*store, *id).await, *count);
    }
    made.sort_by_key(|k| std::cmp::Reverse(*k));
    let expected: Vec<_> = made.iter().map(|(_, id)| *id).collect();
    assert_pages(&*store, &by(CatalogSort::Popular), &expected).await;
}

/// Recent: an owner's courses in every status, most recently created
/// first; pages walk every one once and no one else's.
pub async fn recent_pages_list_an_owners_courses_newest_first(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let (course, _, _) = course_with_lectures(&*store, ada, &format!("ada-{i}"), 1).await;
        match i {
            1 => {
                publish(&*store, course.id, later(1)).await;
            }
            3 => {
                publish(&*store, course.id, later(1)).await;
                store
                    .set_course_status(course.id, CourseStatus::Archived, system(), later(2))
                    .await
                    .unwrap();
            }
            _ => {}
        }
        mine.push(course.id);
        make_course(&*store, bob, &format!("bob-{i}")).await;
    }
    mine.reverse();
    let filter = CatalogFilter {
        owner: Some(ada),
        ..by(CatalogSort::Recent)
    };
    assert_pages(&*store, &filter, &mine).await;
}

/// Enrolling creates one active enrollment, counts it on the course and
/// logs it; enrolling again is `Unchanged` with no second row or event. A
/// free enrollment never replaces a grant; a purchase replaces a free one.
pub async fn enrolling_creates_once_and_counts_the_course(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    assert!(
        store
            .enrollment(course.id, learner)
            .await
            .unwrap()
            .is_none()
    );
    let (created, outcome) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(1),
    )
    .await;
    assert_eq!(outcome, EnrollOutcome::Created);
    assert_eq!(
        created,
        Enrollment {
            id: created.id,
            course_id: course.id,
            user_id: learner,
            source: EnrollmentSource::Free,
            status: EnrollmentStatus::Active,
            expires_at: None,
            created_at: later(1),
            updated_at: later(1),
            revoked_at: None,
            completed_at: None,
            last_lecture_id: None,
            last_activity_at: None,
        }
    );
    assert_eq!(enrollment_of(&*store, course.id, learner).await, created);
    assert_eq!(enrollment_count(&*store, course.id).await, 1);

    let (again, outcome) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(2),
    )
    .await;
    assert_eq!((outcome, &again), (EnrollOutcome::Unchanged, &created));
    assert_eq!(enrollment_count(&*store, course.id).await, 1);
    assert_eq!(
        course_enrollments_of(&*store, course.id).await,
        [created.id],
        "one row per learner"
    );

    let events = course_events(&*store, course.id).await;
    let enrolled: Vec<_> = events
        .iter()
        .filter(|e| e.kind.starts_with("enrollment."))
        .collect();
    assert_eq!(enrolled.len(), 1);
    let e = enrolled[0];
    assert_eq!(e.kind, kinds::ENROLLMENT_CREATED);
    assert_eq!(
        (e.subject_type.as_str(), e.subject_id),
        ("enrollment", created.id.0)
    );
    assert_eq!(
        (e.course_id, e.user_id),
        (Some(course.id.0), Some(learner.0))
    );

    // A grant is not replaced by a free enrollment ...
    let granted = make_user(&*store, "cy@example.com").await;
    let (grant, _) = enroll(
        &*store,
        course.id,
        granted,
        EnrollmentSource::Grant,
        None,
        later(3),
    )
    .await;
    let (same, outcome) = enroll(
        &*store,
        course.id,
        granted,
        EnrollmentSource::Free,
        None,
        later(4),
    )
    .await;
    assert_eq!((outcome, same), (EnrollOutcome::Unchanged, grant));
    // ... but a purchase replaces a free one, and is still one learner.
    let (bought, outcome) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Purchase,
        None,
        later(5),
    )
    .await;
    assert_eq!(outcome, EnrollOutcome::Renewed);
    assert_eq!(
        (bought.id, bought.source, bought.updated_at),
        (created.id, EnrollmentSource::Purchase, later(5))
    );
    assert_eq!(enrollment_count(&*store, course.id).await, 2);
}

/// Revoking sets `revoked` and uncounts the learner, keeping progress;
/// revoking again changes nothing; a grant afterwards renews the same row
/// and counts it again.
pub async fn revoking_and_granting_again_keeps_the_count_right(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, _, lectures) = course_with_lectures(&*store, owner, "rust", 2).await;
    let (created, _) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(1),
    )
    .await;
    record(&*store, learner, &lectures[0], complete(), later(2)).await;

    let revoked = store
        .revoke_enrollment(course.id, learner, system(), later(3))
        .await
        .unwrap();
    assert_eq!(
        (
            revoked.id,
            revoked.status,
            revoked.revoked_at,
            revoked.updated_at
        ),
        (
            created.id,
            EnrollmentStatus::Revoked,
            Some(later(3)),
            later(3)
        )
    );
    assert_eq!(enrollment_of(&*store, course.id, learner).await, revoked);
    assert_eq!(enrollment_count(&*store, course.id).await, 0);
    assert_eq!(
        progress_rows(&*store, learner, course.id).await.len(),
        1,
        "progress stays"
    );

    let again = store
        .revoke_enrollment(course.id, learner, system(), later(4))
        .await
        .unwrap();
    assert_eq!(again, revoked);
    assert_eq!(enrollment_count(&*store, course.id).await, 0);

    let (renewed, outcome) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Grant,
        None,
        later(5),
    )
    .await;
    assert_eq!(outcome, EnrollOutcome::Renewed);
    assert_eq!(
        (
            renewed.id,
            renewed.status,
            renewed.source,
            renewed.revoked_at
        ),
        (
            created.id,
            EnrollmentStatus::Active,
            EnrollmentSource::Grant,
            None
        )
    );
    assert_eq!(
        (renewed.created_at, renewed.updated_at),
        (later(1), later(5))
    );
    assert_eq!(enrollment_count(&*store, course.id).await, 1);

    let stranger = make_user(&*store, "cy@example.com").await;
    assert_not_found(
        store
            .revoke_enrollment(course.id, stranger, system(), later(6))
            .await,
        "revoking a learner who never enrolled",
    );
    let kinds_seen: Vec<_> = course_kinds(&*store, course.id)
        .await
        .into_iter()
        .filter(|k| k.starts_with("enrollment."))
        .collect();
    assert_eq!(
        kinds_seen,
        [
            kinds::ENROLLMENT_CREATED,
            kinds::ENROLLMENT_REVOKED,
            kinds::ENROLLMENT_RENEWED
        ]
    );
    let revoke_event = course_events(&*store, course.id)
        .await
        .into_iter()
        .find(|e| e.kind == kinds::ENROLLMENT_REVOKED)
        .unwrap();
    assert_eq!(revoke_event.user_id, Some(learner.0));
}

/// A grant with an expiry, given again with the same values while live, is
/// `Unchanged`; a new expiry renews it; once past its expiry, even the same
/// grant renews it; the count never goes above one.
pub async fn an_expiring_grant_is_unchanged_by_the_same_grant_and_renews_once_expired(
    store: Arc<dyn Store>,
) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let grant = |expires: Timestamp, at: Timestamp| {
        let store = store.clone();
        async move {
            enroll(
                &*store,
                course.id,
                learner,
                EnrollmentSource::Grant,
                Some(expires),
                at,
            )
            .await
        }
    };
    let (first, outcome) = grant(later(100), later(1)).await;
    assert_eq!(
        (outcome, first.expires_at),
        (EnrollOutcome::Created, Some(later(100)))
    );
    let (same, outcome) = grant(later(100), later(2)).await;
    assert_eq!((outcome, &same), (EnrollOutcome::Unchanged, &first));

    let (extended, outcome) = grant(later(200), later(3)).await;
    assert_eq!(outcome, EnrollOutcome::Renewed);
    assert_eq!(
        (extended.expires_at, extended.updated_at),
        (Some(later(200)), later(3))
    );
    assert_eq!(enrollment_count(&*store, course.id).await, 1);

    let (expired_renewal, outcome) = grant(later(200), later(300)).await;
    assert_eq!(outcome, EnrollOutcome::Renewed, "an expired grant renews");
    assert_eq!(expired_renewal.updated_at, later(300));
    assert_eq!(enrollment_count(&*store, course.id).await, 1);

    // Expired again: a free enrollment now replaces it, without expiry.
    let (free, outcome) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(400),
    )
    .await;
    assert_eq!(outcome, EnrollOutcome::Renewed);
    assert_eq!(
        (free.id, free.source, free.expires_at, free.status),
        (
            first.id,
            EnrollmentSource::Free,
            None,
            EnrollmentStatus::Active
        )
    );
    assert_eq!(enrollment_count(&*store, course.id).await, 1);
    let renewals = count_kind(&*store, course.id, kinds::ENROLLMENT_RENEWED).await;
    assert_eq!(renewals, 3);
}

/// A bulk grant runs as one transaction: an outcome per user in the order
/// given (new, unchanged, renewed), one count and event per change; one
/// bad row and nothing at all is granted.
pub async fn a_bulk_grant_reports_every_row_and_is_all_or_nothing(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let mut u = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        u.push(make_user(&*store, &format!("{name}@example.com")).await);
    }
    enroll(
        &*store,
        course.id,
        u[1],
        EnrollmentSource::Grant,
        None,
        t0(),
    )
    .await;
    enroll(&*store, course.id, u[2], EnrollmentSource::Free, None, t0()).await;
    store
        .revoke_enrollment(course.id, u[2], system(), t0())
        .await
        .unwrap();
    let events_before = course_events(&*store, course.id).await.len();

    let done = store
        .grant_many(course.id, &u[..4], None, system(), later(5))
        .await
        .unwrap();
    let outcomes: Vec<_> = done.iter().map(|(_, o)| *o).collect();
    assert_eq!(
        outcomes,
        [
            EnrollOutcome::Created,
            EnrollOutcome::Unchanged,
            EnrollOutcome::Renewed,
            EnrollOutcome::Created
        ]
    );
    let users: Vec<_> = done.iter().map(|(e, _)| e.user_id).collect();
    assert_eq!(users, u[..4]);
    for (e, _) in &done {
        assert_eq!(
            (e.source, e.status),
            (EnrollmentSource::Grant, EnrollmentStatus::Active)
        );
        assert_eq!(enrollment_of(&*store, course.id, e.user_id).await, *e);
    }
    assert_eq!(enrollment_count(&*store, course.id).await, 4);
    assert_eq!(
        course_events(&*store, course.id).await.len(),
        events_before + 3
    );

    let expiring = store
        .grant_many(course.id, &[u[0]], Some(later(50)), system(), later(6))
        .await
        .unwrap();
    assert_eq!(expiring[0].1, EnrollOutcome::Renewed);
    assert_eq!(expiring[0].0.expires_at, Some(later(50)));
    assert!(
        store
            .grant_many(course.id, &[], None, system(), later(7))
            .await
            .unwrap()
            .is_empty()
    );

    let events_before = course_events(&*store, course.id).await.len();
    let failed = store
        .grant_many(course.id, &[u[4], UserId::new()], None, system(), later(8))
        .await;
    assert!(failed.is_err(), "an unknown user fails the whole grant");
    assert!(store.enrollment(course.id, u[4]).await.unwrap().is_none());
    assert_eq!(enrollment_count(&*store, course.id).await, 4);
    assert_eq!(course_events(&*store, course.id).await.len(), events_before);
}

/// Eight learners (one of them three times) enroll at once: one row and one
/// count each.
pub async fn concurrent_enrollments_count_each_learner_once(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "rust").await;
    let mut learners = Vec::new();
    for i in 0..6 {
        learners.push(make_user(&*store, &format!("l{i}@example.com")).await);
    }
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let learner = learners[i.min(5)];
            tokio::spawn(async move {
                store
                    .enroll(
                        request(course.id, learner, EnrollmentSource::Free, None),
                        system(),
                        t0(),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap().expect("enroll").1 == EnrollOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 6);
    assert_eq!(enrollment_count(&*store, course.id).await, 6);
    assert_eq!(course_enrollments_of(&*store, course.id).await.len(), 6);
    assert_eq!(
        count_kind(&*store, course.id, kinds::ENROLLMENT_CREATED).await,
        6
    );
}

/// A learner's list is newest first with course facts and progress
/// figures; a course's list pages by enrollment id with each learner's
/// name, e-mail and figures.
pub async fn enrollment_lists_page_and_carry_progress_figures(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (a, _, lectures) = course_with_lectures(&*store, owner, "a", 3).await;
    let mut b_new = new_course(owner, "b");
    b_new.thumbnail_key = Some("thumbs/b.png".into());
    let b = store.create_course(b_new, system(), t0()).await.unwrap();
    let b_section = make_section(&*store, b.id, "S").await;
    make_lecture(&*store, b_section.id, "L").await;
    publish(&*store, b.id, t0()).await;
    store
        .set_course_status(b.id, CourseStatus::Archived, system(), t0())
        .await
        .unwrap();
    make_course(&*store, owner, "not-enrolled").await;

    enroll(
        &*store,
        a.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(1),
    )
    .await;
    enroll(
        &*store,
        b.id,
        learner,
        EnrollmentSource::Grant,
        None,
        later(2),
    )
    .await;
    record(&*store, learner, &lectures[0], complete(), later(3)).await;
    record(&*store, learner, &lectures[1], at_position(30), later(4)).await;

    let mine = store.learner_enrollments(learner).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine[0].course,
        EnrolledCourse {
            id: b.id,
            slug: "b".into(),
            title: b.title.clone(),
            thumbnail_key: Some("thumbs/b.png".into()),
            status: CourseStatus::Archived,
        }
    );
    assert_eq!(mine[0].progress, ProgressFigures::new(0, 1));
    assert_eq!(mine[1].course.id, a.id);
    assert_eq!(mine[1].course.status, CourseStatus::Draft);
    assert_eq!(
        mine[1].enrollment,
        enrollment_of(&*store, a.id, learner).await
    );
    assert_eq!(
        mine[1].progress,
        ProgressFigures {
            completed_lectures: 1,
            total_lectures: 3,
            percent: 33
        }
    );
    assert!(store.learner_enrollments(owner).await.unwrap().is_empty());

    let mut expected = vec![(learner, "bob@example.com".to_owned())];
    for i in 0..4 {
        let email = format!("learner{i}@example.com");
        let user = make_user(&*store, &email).await;
        enroll(
            &*store,
            a.id,
            user,
            EnrollmentSource::Free,
            None,
            later(10 + i),
        )
        .await;
        expected.push((user, email));
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.course_enrollments(a.id, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.enrollment.id);
        seen.extend(page);
        assert!(seen.len() <= 10, "paging never ends");
    }
    let got: Vec<_> = seen
        .iter()
        .map(|e| (e.enrollment.user_id, e.email.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        seen.windows(2)
            .all(|w| w[0].enrollment.id < w[1].enrollment.id)
    );
    assert_eq!(seen[0].display_name, "User bob@example.com");
    assert_eq!(seen[0].progress, ProgressFigures::new(1, 3));
    assert_eq!(seen[1].progress, ProgressFigures::new(0, 3));
    assert_eq!(seen[1].enrollment.course_id, a.id);
}

/// Live users are found by e-mail; unknown addresses and deleted users are
/// left out.
pub async fn users_by_emails_finds_live_users_only(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    let cy = make_user(&*store, "cy@example.com").await;
    store.delete_user(cy, system(), t0()).await.unwrap();
    let emails: Vec<_> = [
        "bob@example.com",
        "ada@example.com",
        "cy@example.com",
        "nobody@example.com",
    ]
    .into_iter()
    .map(|e| Email::parse("email", e).unwrap())
    .collect();
    let mut found = store.users_by_emails(&emails).await.unwrap();
    found.sort();
    let mut expected = vec![
        ("ada@example.com".to_owned(), ada),
        ("bob@example.com".to_owned(), bob),
    ];
    expected.sort();
    assert_eq!(found, expected);
    assert!(store.users_by_emails(&[]).await.unwrap().is_empty());
}

/// Progress records completion and resume position per lecture, notes the
/// lecture last touched, and logs each change once; a change to what is
/// already stored is `changed: false` and writes nothing.
pub async fn progress_records_completion_and_position_and_skips_what_is_unchanged(
    store: Arc<dyn Store>,
) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 3).await;
    enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    let events = |store: Arc<dyn Store>| async move {
        let query = EventQuery {
            course_id: Some(course.id.0),
            kind: Some(kinds::PROGRESS_UPDATED.into()),
            ..EventQuery::default()
        };
        store.events(&query).await.unwrap()
    };
    let changed = ProgressRecorded {
        changed: true,
        course_completed: false,
    };
    let unchanged = ProgressRecorded {
        changed: false,
        course_completed: false,
    };

    assert_eq!(
        record(&*store, learner, &l[0], complete(), later(1)).await,
        changed
    );
    assert_eq!(
        progress_rows(&*store, learner, course.id).await,
        [LectureProgress {
            lecture_id: l[0].id,
            completed_at: Some(later(1)),
            position_secs: 0,
            updated_at: later(1),
        }]
    );
    let e = enrollment_of(&*store, course.id, learner).await;
    assert_eq!(
        (e.last_lecture_id, e.last_activity_at),
        (Some(l[0].id), Some(later(1)))
    );
    let logged = events(store.clone()).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(
        (logged[0].subject_type.as_str(), logged[0].subject_id),
        ("lecture", l[0].id.0)
    );
    assert_eq!(
        (logged[0].course_id, logged[0].user_id),
        (Some(course.id.0), Some(learner.0))
    );
    assert_eq!(
        logged[0].payload,
        json!({ "lecture_id": l[0].id, "completed": true, "position_secs": 0 })
    );

    // Completing again keeps the first completion time and writes nothing.
    assert_eq!(
        record(&*store, learner, &l[0], complete(), later(2)).await,
        unchanged
    );
    assert_eq!(
        progress_rows(&*store, learner, course.id).await[0].completed_at,
        Some(later(1))
    );
    assert_eq!(events(store.clone()).await.len(), 1);

    assert_eq!(
        record(&*store, learner, &l[1], at_position(42), later(3)).await,
        changed
    );
    assert_eq!(
        record(&*store, learner, &l[1], at_position(42), later(4)).await,
        unchanged
    );
    assert_eq!(
        record(&*store, learner, &l[1], uncomplete(), later(4)).await,
        unchanged
    );
    let e = enrollment_of(&*store, course.id, learner).await;
    assert_eq!(
        (e.last_lecture_id, e.last_activity_at),
        (Some(l[1].id), Some(later(3)))
    );

    let both = ProgressChange {
        completed: Some(true),
        position_secs: Some(300),
    };
    assert_eq!(
        record(&*store, learner, &l[2], both, later(5)).await,
        changed
    );
    assert_eq!(
        record(&*store, learner, &l[0], uncomplete(), later(6)).await,
        changed
    );
    let e = enrollment_of(&*store, course.id, learner).await;
    assert_eq!(
        (e.last_lecture_id, e.last_activity_at),
        (Some(l[0].id), Some(later(6)))
    );
    let mut expected = vec![
        LectureProgress {
            lecture_id: l[0].id,
            completed_at: None,
            position_secs: 0,
            updated_at: later(6),
        },
        LectureProgress {
            lecture_id: l[1].id,
            completed_at: None,
            position_secs: 42,
            updated_at: later(3),
        },
        LectureProgress {
            lecture_id: l[2].id,
            completed_at: Some(later(5)),
            position_secs: 300,
            updated_at: later(5),
        },
    ];
    expected.sort_by_key(|r| r.lecture_id);
    assert_eq!(progress_rows(&*store, learner, course.id).await, expected);
    assert_eq!(events(store.clone()).await.len(), 4);
    assert_eq!(e.completed_at, None, "not every lecture is complete");
}

/// The course's completion time is set exactly once, by the change that
/// completes its last incomplete lecture; un-completing and re-completing a
/// lecture does not set it again.
pub async fn a_course_is_completed_once_when_every_lecture_is_complete(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let watcher = make_user(&*store, "cy@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 3).await;
    let (enrollment, _) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    enroll(
        &*store,
        course.id,
        watcher,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    for (i, lecture) in l.iter().enumerate() {
        let done = record(&*store, watcher, lecture, at_position(10), later(i as u64)).await;
        assert!(!done.course_completed, "positions do not complete a course");
    }
    for lecture in &l[..2] {
        let done = record(&*store, learner, lecture, complete(), later(1)).await;
        assert!(done.changed && !done.course_completed);
    }
    assert_eq!(
        enrollment_of(&*store, course.id, learner)
            .await
            .completed_at,
        None
    );
    let done = record(&*store, learner, &l[2], complete(), later(3)).await;
    assert_eq!(
        done,
        ProgressRecorded {
            changed: true,
            course_completed: true
        }
    );
    assert_eq!(
        enrollment_of(&*store, course.id, learner)
            .await
            .completed_at,
        Some(later(3))
    );
    assert_eq!(figures(&*store, learner, course.id).await, (3, 3, 100));

    let undone = record(&*store, learner, &l[1], uncomplete(), later(4)).await;
    assert!(undone.changed && !undone.course_completed);
    let redone = record(&*store, learner, &l[1], complete(), later(5)).await;
    assert!(redone.changed && !redone.course_completed);
    assert_eq!(
        enrollment_of(&*store, course.id, learner)
            .await
            .completed_at,
        Some(later(3))
    );
    let completed: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::COURSE_COMPLETED)
        .collect();
    assert_eq!(completed.len(), 1);
    let e = &completed[0];
    assert_eq!(
        (e.subject_type.as_str(), e.subject_id),
        ("enrollment", enrollment.id.0)
    );
    assert_eq!(
        (e.course_id, e.user_id, e.created_at),
        (Some(course.id.0), Some(learner.0), later(3))
    );
    assert_eq!(
        enrollment_of(&*store, course.id, watcher)
            .await
            .completed_at,
        None
    );
}

/// Lectures completed at once: the course is completed exactly once.
pub async fn concurrent_completions_complete_the_course_once(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 6).await;
    enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    let tasks: Vec<_> = l
        .into_iter()
        .map(|lecture| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_progress(learner, &lecture, complete(), system(), later(1))
                    .await
            })
        })
        .collect();
    let mut completions = 0;
    for task in tasks {
        let done = task.await.unwrap().expect("record_progress");
        assert!(done.changed);
        completions += usize::from(done.course_completed);
    }
    assert_eq!(completions, 1);
    assert!(
        enrollment_of(&*store, course.id, learner)
            .await
            .completed_at
            .is_some()
    );
    assert_eq!(
        count_kind(&*store, course.id, kinds::COURSE_COMPLETED).await,
        1
    );
}

/// Deleting a lecture deletes every learner's progress in it: the rows go
/// and the figures count only the lectures left.
pub async fn deleting_a_lecture_removes_its_progress(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 3).await;
    enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    record(&*store, learner, &l[0], complete(), later(1)).await;
    record(&*store, learner, &l[1], complete(), later(2)).await;
    assert_eq!(figures(&*store, learner, course.id).await, (2, 3, 66));

    store
        .delete_lecture(l[1].id, system(), later(3))
        .await
        .unwrap();
    let rows = progress_rows(&*store, learner, course.id).await;
    assert_eq!(
        rows.iter().map(|r| r.lecture_id).collect::<Vec<_>>(),
        [l[0].id]
    );
    assert_eq!(figures(&*store, learner, course.id).await, (1, 2, 50));
    let enrollees = store.course_enrollments(course.id, None, 10).await.unwrap();
    assert_eq!(enrollees[0].progress, ProgressFigures::new(1, 2));
    assert_ne!(
        enrollment_of(&*store, course.id, learner)
            .await
            .last_lecture_id,
        Some(l[1].id),
        "the last lecture cannot be a deleted one"
    );

    store
        .delete_lecture(l[0].id, system(), later(4))
        .await
        .unwrap();
    assert!(progress_rows(&*store, learner, course.id).await.is_empty());
    assert_eq!(figures(&*store, learner, course.id).await, (0, 1, 0));
}

/// Resetting forgets the rows, the completion time and the last lecture,
/// logged once; with nothing to forget it writes nothing; afterwards the
/// course can be completed again.
pub async fn resetting_progress_clears_rows_and_completion(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let idle = make_user(&*store, "cy@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 1).await;
    let (enrollment, _) = enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    enroll(&*store, course.id, idle, EnrollmentSource::Free, None, t0()).await;
    assert!(
        record(&*store, learner, &l[0], complete(), later(1))
            .await
            .course_completed
    );

    store
        .reset_progress(learner, course.id, system(), later(2))
        .await
        .unwrap();
    assert!(progress_rows(&*store, learner, course.id).await.is_empty());
    let e = enrollment_of(&*store, course.id, learner).await;
    assert_eq!((e.completed_at, e.last_lecture_id), (None, None));
    assert_eq!((e.id, e.status), (enrollment.id, EnrollmentStatus::Active));
    assert_eq!(figures(&*store, learner, course.id).await, (0, 1, 0));
    let resets: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .filter(|e| e.kind == kinds::PROGRESS_RESET)
        .collect();
    assert_eq!(resets.len(), 1);
    assert_eq!(
        (resets[0].user_id, resets[0].subject_id),
        (Some(learner.0), enrollment.id.0)
    );

    let before = course_events(&*store, course.id).await.len();
    store
        .reset_progress(learner, course.id, system(), later(3))
        .await
        .unwrap();
    store
        .reset_progress(idle, course.id, system(), later(3))
        .await
        .unwrap();
    assert_eq!(course_events(&*store, course.id).await.len(), before);
    let stranger = make_user(&*store, "dee@example.com").await;
    assert_not_found(
        store
            .reset_progress(stranger, course.id, system(), later(4))
            .await,
        "resetting without an enrollment",
    );

    assert!(
        record(&*store, learner, &l[0], complete(), later(5))
            .await
            .course_completed
    );
    assert_eq!(
        enrollment_of(&*store, course.id, learner)
            .await
            .completed_at,
        Some(later(5))
    );
}

/// Progress needs an enrollment: without one it is `not_found` and nothing
/// is stored or logged.
pub async fn progress_without_an_enrollment_is_not_found(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let stranger = make_user(&*store, "bob@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 1).await;
    let before = course_events(&*store, course.id).await.len();
    assert_not_found(
        store
            .record_progress(stranger, &l[0], complete(), system(), later(1))
            .await,
        "progress without an enrollment",
    );
    assert!(progress_rows(&*store, stranger, course.id).await.is_empty());
    assert_eq!(course_events(&*store, course.id).await.len(), before);
}

/// Every course, tree and enrollment step on an unknown id is `not_found`
/// and writes nothing; lookups of unknown ids find nothing.
pub async fn course_steps_on_missing_ids_are_not_found(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let (course, section, l) = course_with_lectures(&*store, owner, "rust", 1).await;
    let (ghost_course, ghost_section, ghost_lecture) =
        (CourseId::new(), SectionId::new(), LectureId::new());
    let before = store.events(&EventQuery::default()).await.unwrap().len();
    let title = CourseChanges {
        title: Some("x".into()),
        ..CourseChanges::default()
    };
    let lecture_title = LectureChanges {
        title: Some("x".into()),
        ..LectureChanges::default()
    };
    let results = [
        store
            .update_course(ghost_course, title, system(), t0())
            .await
            .map(drop),
        store
            .set_course_status(ghost_course, CourseStatus::Published, system(), t0())
            .await
            .map(drop),
        store
            .set_course_status(ghost_course, CourseStatus::Archived, system(), t0())
            .await
            .map(drop),
        store.delete_course(ghost_course, system(), t0()).await,
        store
            .create_section(
                ghost_course,
                SectionId::new(),
                "x".into(),
                None,
                system(),
                t0(),
            )
            .await
            .map(drop),
        store
            .rename_section(ghost_section, "x".into(), system(), t0())
            .await
            .map(drop),
        store
            .move_section(ghost_section, 0, system(), t0())
            .await
            .map(drop),
        store.delete_section(ghost_section, system(), t0()).await,
        store
            .create_lecture(ghost_section, new_lecture("x", 1), None, system(), t0())
            .await
            .map(drop),
        store
            .update_lecture(ghost_lecture, lecture_title, system(), t0())
            .await
            .map(drop),
        store
            .move_lecture(ghost_lecture, section.id, 0, system(), t0())
            .await
            .map(drop),
        store
            .move_lecture(l[0].id, ghost_section, 0, system(), t0())
            .await
            .map(drop),
        store.delete_lecture(ghost_lecture, system(), t0()).await,
        store
            .enroll(
                request(ghost_course, learner, EnrollmentSource::Free, None),
                system(),
                t0(),
            )
            .await
            .map(drop),
        store
            .grant_many(ghost_course, &[learner], None, system(), t0())
            .await
            .map(drop),
        store
            .revoke_enrollment(ghost_course, learner, system(), t0())
            .await
            .map(drop),
        store
            .revoke_enrollment(course.id, learner, system(), t0())
            .await
            .map(drop),
        store
            .reset_progress(learner, ghost_course, system(), t0())
            .await,
    ];
    for (i, result) in results.into_iter().enumerate() {
        assert_not_found(result, &format!("step {i} on a missing id"));
    }
    assert_eq!(
        store.events(&EventQuery::default()).await.unwrap().len(),
        before
    );
    assert!(store.section(ghost_section).await.unwrap().is_none());
    assert!(store.lecture(ghost_lecture).await.unwrap().is_none());
    assert!(
        store
            .enrollment(ghost_course, learner)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.learner_enrollments(learner).await.unwrap().is_empty());
    assert!(
        store
            .course_enrollments(ghost_course, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .lecture_progress(learner, ghost_course)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tree(&*store, course.id).await,
        [(section.id, vec![l[0].id])]
    );
}

/// Each state-changing step writes exactly one event of its kind, naming
/// the course (and the learner, for enrollment and progress), the actor and
/// the time; completing the course adds its own; steps that change nothing
/// write nothing; another course's events never show.
pub async fn every_course_step_writes_one_event_naming_the_course(store: Arc<dyn Store>) {
    let owner_id = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let actor = Actor::User {
        id: owner_id,
        role: Role::Instructor,
        session: SessionId::new(),
    };
    let mut cursor = 0;
    let mut tick = 0;
    let mut expect = async |store: &dyn Store, course: CourseId, expected: &[(&str, bool)]| {
        let fresh: Vec<Event> = store
            .events(&EventQuery {
                after: Some(cursor),
                course_id: Some(course.0),
                ..EventQuery::default()
            })
            .await
            .unwrap();
        let kinds_seen: Vec<_> = fresh.iter().map(|e| e.kind.as_str()).collect();
        let kinds_expected: Vec<_> = expected.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds_seen, kinds_expected);
        for (event, (_, about_learner)) in fresh.iter().zip(expected) {
            assert_eq!(event.course_id, Some(course.0), "{}", event.kind);
            let user = about_learner.then_some(learner.0);
            assert_eq!(event.user_id, user, "{}", event.kind);
            assert_eq!(event.actor_kind, "user", "{}", event.kind);
            assert_eq!(event.actor_id, Some(owner_id.0), "{}", event.kind);
            assert_eq!(event.created_at, later(tick), "{}", event.kind);
        }
        if let Some(last) = fresh.last() {
            cursor = last.id;
        }
        tick += 1;
    };
    let s = &*store;
    let at = |n: u64| later(n);

    let course = s
        .create_course(new_course(owner_id, "rust"), actor, at(0))
        .await
        .unwrap();
    let c = course.id;
    expect(s, c, &[(kinds::COURSE_CREATED, false)]).await;
    let changes = CourseChanges {
        subtitle: Some("Sub".into()),
        ..CourseChanges::default()
    };
    s.update_course(c, changes, actor, at(1)).await.unwrap();
    expect(s, c, &[(kinds::COURSE_UPDATED, false)]).await;
    let s1 = s
        .create_section(c, SectionId::new(), "One".into(), None, actor, at(2))
        .await
        .unwrap();
    expect(s, c, &[(kinds::SECTION_CREATED, false)]).await;
    s.rename_section(s1.id, "First".into(), actor, at(3))
        .await
        .unwrap();
    expect(s, c, &[(kinds::SECTION_UPDATED, false)]).await;
    let s2 = s
        .create_section(c, SectionId::new(), "Two".into(), None, actor, at(4))
        .await
        .unwrap();
    expect(s, c, &[(kinds::SECTION_CREATED, false)]).await;
    s.move_section(s2.id, 0, actor, at(5)).await.unwrap();
    expect(s, c, &[(kinds::SECTION_MOVED, false)]).await;
    let l1 = s
        .create_lecture(s1.id, new_lecture("A", 60), None, actor, at(6))
        .await
        .unwrap();
    expect(s, c, &[(kinds::LECTURE_CREATED, false)]).await;
    let changes = LectureChanges {
        duration_secs: Some(90),
        ..LectureChanges::default()
    };
    s.update_lecture(l1.id, changes, actor, at(7))
        .await
        .unwrap();
    expect(s, c, &[(kinds::LECTURE_UPDATED, false)]).await;
    let l2 = s
        .create_lecture(s1.id, new_lecture("B", 60), None, actor, at(8))
        .await
        .unwrap();
    expect(s, c, &[(kinds::LECTURE_CREATED, false)]).await;
    let l2 = s.move_lecture(l2.id, s2.id, 0, actor, at(9)).await.unwrap();
    expect(s, c, &[(kinds::LECTURE_MOVED, false)]).await;
    s.set_course_status(c, CourseStatus::Published, actor, at(10))
        .await
        .unwrap();
    expect(s, c, &[(kinds::COURSE_PUBLISHED, false)]).await;
    s.enroll(
        request(c, learner, EnrollmentSource::Free, None),
        actor,
        at(11),
    )
    .await
    .unwrap();
    expect(s, c, &[(kinds::ENROLLMENT_CREATED, true)]).await;
    s.record_progress(learner, &l1, complete(), actor, at(12))
        .await
        .unwrap();
    expect(s, c, &[(kinds::PROGRESS_UPDATED, true)]).await;
    s.record_progress(learner, &l2, complete(), actor, at(13))
        .await
        .unwrap();
    expect(
        s,
        c,
        &[
            (kinds::PROGRESS_UPDATED, true),
            (kinds::COURSE_COMPLETED, true),
        ],
    )
    .await;

    // Steps that change nothing write nothing.
    s.enroll(
        request(c, learner, EnrollmentSource::Free, None),
        actor,
        at(14),
    )
    .await
    .unwrap();
    s.record_progress(learner, &l1, complete(), actor, at(14))
        .await
        .unwrap();
    s.set_course_status(c, CourseStatus::Published, actor, at(14))
        .await
        .unwrap();
    s.move_section(s2.id, 0, actor, at(14)).await.unwrap();
    s.move_lecture(l1.id, s1.id, 0, actor, at(14))
        .await
        .unwrap();
    expect(s, c, &[]).await;

    s.revoke_enrollment(c, learner, actor, at(15))
        .await
        .unwrap();
    expect(s, c, &[(kinds::ENROLLMENT_REVOKED, true)]).await;
    s.revoke_enrollment(c, learner, actor, at(16))
        .await
        .unwrap();
    expect(s, c, &[]).await;
    s.grant_many(c, &[learner], None, actor, at(17))
        .await
        .unwrap();
    expect(s, c, &[(kinds::ENROLLMENT_RENEWED, true)]).await;
    s.reset_progress(learner, c, actor, at(18)).await.unwrap();
    expect(s, c, &[(kinds::PROGRESS_RESET, true)]).await;
    s.reset_progress(learner, c, actor, at(19)).await.unwrap();
    expect(s, c, &[]).await;
    s.delete_lecture(l2.id, actor, at(20)).await.unwrap();
    expect(s, c, &[(kinds::LECTURE_DELETED, false)]).await;
    s.delete_section(s2.id, actor, at(21)).await.unwrap();
    expect(s, c, &[(kinds::SECTION_DELETED, false)]).await;
    s.set_course_status(c, CourseStatus::Draft, actor, at(22))
        .await
        .unwrap();
    expect(s, c, &[(kinds::COURSE_UNPUBLISHED, false)]).await;
    s.set_course_status(c, CourseStatus::Archived, actor, at(23))
        .await
        .unwrap();
    expect(s, c, &[(kinds::COURSE_ARCHIVED, false)]).await;

    let other = s
        .create_course(new_course(owner_id, "go"), actor, at(24))
        .await
        .unwrap();
    expect(s, c, &[]).await;
    s.delete_course(other.id, actor, at(25)).await.unwrap();
    let other_kinds = course_kinds(s, other.id).await;
    assert_eq!(other_kinds, [kinds::COURSE_CREATED, kinds::COURSE_DELETED]);
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
