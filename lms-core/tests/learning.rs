//! Courses, enrollments and progress through the `Lms` handle, on both
//! stores: every authorization rule allowed and denied, bad input changing
//! nothing, a big tree, and catalog paging while courses are added.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::Harness;
use lms_core::events::kinds;
use lms_core::progress::LectureState;
use lms_core::{
    Actor, CatalogQuery, Course, CourseInput, CourseStatus, CourseUpdate, ErrorKind, EventQuery,
    GrantInput, LectureInput, LectureMove, NewAccount, PriceInput, ProgressUpdate, Role, Section,
    SectionInput,
};

on_both_stores!(
    instructors_and_admins_create_courses_and_others_do_not,
    a_slug_is_derived_once_made_unique_and_kept,
    only_the_owner_or_an_admin_changes_a_course,
    drafts_are_seen_only_by_their_owner_and_admins,
    content_is_for_learners_owners_admins_and_previews,
    publishing_needs_a_lecture,
    bad_input_is_refused_naming_the_field_and_changes_nothing,
    an_archived_course_leaves_the_catalog_but_keeps_its_learners,
    a_course_with_enrollments_cannot_be_deleted,
    a_big_tree_and_its_progress_figures_add_up,
    catalog_pages_return_each_course_once_while_courses_are_added,
    the_catalog_searches_filters_and_sorts,
    enrolling_is_for_free_published_courses_and_happens_once,
    grants_expire_and_revokes_keep_progress,
    bulk_grants_report_every_row,
    progress_is_for_enrolled_learners_only,
    a_learner_lists_enrollments_and_the_owner_lists_enrollees,
);

const PASSWORD: &str = "correct horse battery";

async fn account(h: &Harness, email: &str, role: Role) -> Actor {
    let account = NewAccount {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: email.split('@').next().unwrap().into(),
        role,
    };
    h.lms.create_user(&Actor::System, account).await.unwrap();
    let session = h
        .lms
        .login(lms_core::Credentials {
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    h.lms.authenticate(&session.access_token).await.unwrap()
}

async fn course(h: &Harness, owner: &Actor, title: &str) -> Course {
    h.lms
        .create_course(
            owner,
            CourseInput {
                title: title.into(),
                ..CourseInput::default()
            },
        )
        .await
        .unwrap()
}

async fn section(h: &Harness, owner: &Actor, course: &Course, title: &str) -> Section {
    h.lms
        .create_section(
            owner,
            course.id,
            SectionInput {
                title: title.into(),
                position: None,
            },
        )
        .await
        .unwrap()
}

fn lecture_input(title: &str, kind: &str, duration: i64) -> LectureInput {
    LectureInput {
        title: title.into(),
        kind: kind.into(),
        body: Some(format!("# {title}")),
        duration_secs: Some(duration),
        free_preview: None,
        position: None,
    }
}

async fn lecture(h: &Harness, owner: &Actor, section: &Section, title: &str) -> lms_core::Lecture {
    h.lms
        .create_lecture(owner, section.id, lecture_input(title, "video", 60))
        .await
        .unwrap()
}

/// A published free course with one section of `n` lectures.
async fn published(
    h: &Harness,
    owner: &Actor,
    title: &str,
    n: usize,
) -> (Course, Vec<lms_core::Lecture>) {
    let c = course(h, owner, title).await;
    let s = section(h, owner, &c, "Basics").await;
    let mut lectures = Vec::new();
    for i in 0..n {
        lectures.push(lecture(h, owner, &s, &format!("Lecture {i}")).await);
    }
    let c = h.lms.publish_course(owner, c.id).await.unwrap();
    (c, lectures)
}

fn assert_kind<T: std::fmt::Debug>(
    result: lms_core::Result<T>,
    kind: ErrorKind,
) -> lms_core::Error {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "{err}");
    err
}

async fn event_count(h: &Harness) -> usize {
    h.store
        .events(&EventQuery {
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap()
        .len()
}

async fn instructors_and_admins_create_courses_and_others_do_not(h: Harness) {
    let teacher = account(&h, "teacher@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let student = account(&h, "student@example.com", Role::Student).await;
    let input = || CourseInput {
        title: "Intro to Rust".into(),
        ..CourseInput::default()
    };

    let mine = h.lms.create_course(&teacher, input()).await.unwrap();
    assert_eq!(mine.owner_id, teacher.user_id().unwrap());
    assert_eq!(mine.status, CourseStatus::Draft);
    assert_kind(
        h.lms.create_course(&student, input()).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.create_course(&Actor::Anonymous, input()).await,
        ErrorKind::Unauthenticated,
    );
    // An instructor cannot create a course owned by someone else...
    let for_admin = CourseInput {
        owner_id: admin.user_id(),
        ..input()
    };
    assert_kind(
        h.lms.create_course(&teacher, for_admin).await,
        ErrorKind::Forbidden,
    );
    // ...an admin can, and the operator must say for whom.
    let for_teacher = CourseInput {
        owner_id: teacher.user_id(),
        ..input()
    };
    let by_admin = h
        .lms
        .create_course(&admin, for_teacher.clone())
        .await
        .unwrap();
    assert_eq!(by_admin.owner_id, teacher.user_id().unwrap());
    let err = assert_kind(
        h.lms.create_course(&Actor::System, input()).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "owner_id");
    h.lms
        .create_course(&Actor::System, for_teacher)
        .await
        .unwrap();
    // A course is never a student's, whoever creates it.
    for creator in [&admin, &Actor::System] {
        let for_student = CourseInput {
            owner_id: student.user_id(),
            ..input()
        };
        let before = event_count(&h).await;
        let err = assert_kind(
            h.lms.create_course(creator, for_student).await,
            ErrorKind::InvalidInput,
        );
        assert_eq!(err.fields()[0].field, "owner_id");
        assert_eq!(event_count(&h).await, before);
    }
}

async fn a_slug_is_derived_once_made_unique_and_kept(h: Harness) {
    let teacher = account(&h, "teacher@example.com", Role::Instructor).await;
    let first = course(&h, &teacher, "Intro to Rust").await;
    let second = course(&h, &teacher, "Intro to Rust!").await;
    assert_eq!(first.slug, "intro-to-rust");
    assert_eq!(second.slug, "intro-to-rust-2");
    let renamed = h
        .lms
        .update_course(
            &teacher,
            first.id,
            CourseUpdate {
                title: Some("Rust from Zero".into()),
                ..CourseUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        renamed.slug, "intro-to-rust",
        "the slug stays when the title changes"
    );
    let taken = CourseInput {
        title: "Other".into(),
        slug: Some("intro-to-rust".into()),
        ..CourseInput::default()
    };
    assert_kind(
        h.lms.create_course(&teacher, taken).await,
        ErrorKind::Conflict,
    );
    let change = CourseUpdate {
        slug: Some("intro-to-rust-2".into()),
        ..CourseUpdate::default()
    };
    assert_kind(
        h.lms.update_course(&teacher, first.id, change).await,
        ErrorKind::Conflict,
    );
    let detail = h
        .lms
        .course_detail(&teacher, "intro-to-rust")
        .await
        .unwrap();
    assert_eq!(detail.summary.course.id, first.id);
}

async fn only_the_owner_or_an_admin_changes_a_course(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let other = account(&h, "other@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let (c, lectures) = published(&h, &owner, "Owned", 1).await;
    let update = || CourseUpdate {
        subtitle: Some("Changed".into()),
        ..CourseUpdate::default()
    };
    assert_kind(
        h.lms.update_course(&other, c.id, update()).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.archive_course(&other, c.id).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.unpublish_course(&other, c.id).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.delete_course(&other, c.id).await,
        ErrorKind::Forbidden,
    );
    let input = SectionInput {
        title: "Sneaky".into(),
        position: None,
    };
    assert_kind(
        h.lms.create_section(&other, c.id, input).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms
            .update_lecture(&other, lectures[0].id, lms_core::LectureUpdate::default())
            .await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.delete_lecture(&other, lectures[0].id).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.update_course(&Actor::Anonymous, c.id, update()).await,
        ErrorKind::Unauthenticated,
    );

    h.lms.update_course(&owner, c.id, update()).await.unwrap();
    let by_admin = h.lms.update_course(&admin, c.id, update()).await.unwrap();
    assert_eq!(by_admin.subtitle, "Changed");
    h.lms.archive_course(&admin, c.id).await.unwrap();
    h.lms.publish_course(&owner, c.id).await.unwrap();
}

async fn drafts_are_seen_only_by_their_owner_and_admins(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let other = account(&h, "other@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let draft = course(&h, &owner, "Secret plans").await;
    let s = section(&h, &owner, &draft, "One").await;
    let l = lecture(&h, &owner, &s, "Hidden").await;
    let key = draft.id.to_string();
    h.lms.course_detail(&owner, &key).await.unwrap();
    h.lms.course_detail(&admin, &key).await.unwrap();
    assert_kind(h.lms.course_detail(&other, &key).await, ErrorKind::NotFound);
    assert_kind(
        h.lms.course_detail(&Actor::Anonymous, "secret-plans").await,
        ErrorKind::NotFound,
    );
    assert_kind(h.lms.lecture(&other, l.id).await, ErrorKind::NotFound);
    // Not even a forbidden: a draft's existence does not leak.
    assert_kind(
        h.lms.publish_course(&other, draft.id).await,
        ErrorKind::NotFound,
    );
    let catalog = h.lms.catalog(&CatalogQuery::default()).await.unwrap();
    assert!(catalog.items.is_empty());
    let own = h
        .lms
        .instructor_courses(&owner, None, None, None)
        .await
        .unwrap();
    assert_eq!(own.items.len(), 1);
    assert_kind(
        h.lms
            .instructor_courses(&other, owner.user_id(), None, None)
            .await,
        ErrorKind::Forbidden,
    );
    let seen_by_admin = h
        .lms
        .instructor_courses(&admin, owner.user_id(), None, None)
        .await
        .unwrap();
    assert_eq!(seen_by_admin.items[0].course.id, draft.id);
    let student = account(&h, "student@example.com", Role::Student).await;
    assert_kind(
        h.lms.instructor_courses(&student, None, None, None).await,
        ErrorKind::Forbidden,
    );
}

async fn content_is_for_learners_owners_admins_and_previews(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let outsider = account(&h, "outsider@example.com", Role::Student).await;
    let c = course(&h, &owner, "Previewed").await;
    let s = section(&h, &owner, &c, "One").await;
    let preview = h
        .lms
        .create_lecture(
            &owner,
            s.id,
            LectureInput {
                free_preview: Some(true),
                ..lecture_input("Teaser", "video", 30)
            },
        )
        .await
        .unwrap();
    let paid_content = lecture(&h, &owner, &s, "Full").await;
    h.lms.publish_course(&owner, c.id).await.unwrap();

    // The outline is public: titles, kinds, durations, preview flags.
    let detail = h
        .lms
        .course_detail(&Actor::Anonymous, "previewed")
        .await
        .unwrap();
    let outline = &detail.sections[0].lectures;
    assert_eq!(outline.len(), 2);
    assert!(outline[0].free_preview && !outline[1].free_preview);
    let json = serde_json::to_value(&detail).unwrap();
    assert!(
        json["sections"][0]["lectures"][0].get("body").is_none(),
        "no content in the outline"
    );

    // Content: previews for anyone, the rest for learners, owner, admins.
    h.lms.lecture(&Actor::Anonymous, preview.id).await.unwrap();
    assert_kind(
        h.lms.lecture(&Actor::Anonymous, paid_content.id).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.lecture(&outsider, paid_content.id).await,
        ErrorKind::Forbidden,
    );
    let view = h.lms.lecture(&owner, paid_content.id).await.unwrap();
    assert_eq!(view.lecture.body, "# Full");
    assert_eq!(view.previous_lecture_id, Some(preview.id));
    assert_eq!(view.next_lecture_id, None);
    h.lms.lecture(&admin, paid_content.id).await.unwrap();
    h.lms.enroll(&learner, c.id).await.unwrap();
    h.lms.lecture(&learner, paid_content.id).await.unwrap();
}

async fn publishing_needs_a_lecture(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let c = course(&h, &owner, "Empty").await;
    let s = section(&h, &owner, &c, "Nothing yet").await;
    let before = event_count(&h).await;
    let err = assert_kind(
        h.lms.publish_course(&owner, c.id).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "lectures");
    assert_eq!(event_count(&h).await, before);
    lecture(&h, &owner, &s, "First").await;
    let live = h.lms.publish_course(&owner, c.id).await.unwrap();
    assert_eq!(live.status, CourseStatus::Published);
    assert!(live.published_at.is_some());
}

async fn bad_input_is_refused_naming_the_field_and_changes_nothing(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let c = course(&h, &owner, "Solid").await;
    let s = section(&h, &owner, &c, "One").await;
    let l = lecture(&h, &owner, &s, "A").await;
    let other = course(&h, &owner, "Elsewhere").await;
    let foreign = section(&h, &owner, &other, "Foreign").await;
    let before_events = event_count(&h).await;
    let before_tree = h.lms.course_detail(&owner, "solid").await.unwrap();

    let cases: Vec<(&str, lms_core::Result<()>)> = vec![
        (
            "title",
            h.lms
                .create_course(
                    &owner,
                    CourseInput {
                        title: "  ".into(),
                        ..CourseInput::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "price.amount",
            h.lms
                .update_course(
                    &owner,
                    c.id,
                    CourseUpdate {
                        price: Some(PriceInput {
                            amount: -100,
                            currency: Some("USD".into()),
                        }),
                        ..CourseUpdate::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "price.currency",
            h.lms
                .update_course(
                    &owner,
                    c.id,
                    CourseUpdate {
                        price: Some(PriceInput {
                            amount: 4999,
                            currency: Some("XYZ".into()),
                        }),
                        ..CourseUpdate::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "title",
            h.lms
                .update_course(
                    &owner,
                    c.id,
                    CourseUpdate {
                        title: Some(String::new()),
                        ..CourseUpdate::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "position",
            h.lms
                .create_section(
                    &owner,
                    c.id,
                    SectionInput {
                        title: "Late".into(),
                        position: Some(5),
                    },
                )
                .await
                .map(drop),
        ),
        (
            "position",
            h.lms.move_section(&owner, s.id, 1).await.map(drop),
        ),
        (
            "position",
            h.lms
                .create_lecture(
                    &owner,
                    s.id,
                    LectureInput {
                        position: Some(9),
                        ..lecture_input("X", "video", 1)
                    },
                )
                .await
                .map(drop),
        ),
        (
            "position",
            h.lms
                .move_lecture(
                    &owner,
                    l.id,
                    LectureMove {
                        section_id: None,
                        position: 3,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "section_id",
            h.lms
                .move_lecture(
                    &owner,
                    l.id,
                    LectureMove {
                        section_id: Some(foreign.id),
                        position: 0,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "kind",
            h.lms
                .create_lecture(&owner, s.id, lecture_input("Y", "podcast", 1))
                .await
                .map(drop),
        ),
        (
            "duration_secs",
            h.lms
                .create_lecture(&owner, s.id, lecture_input("Z", "video", -5))
                .await
                .map(drop),
        ),
        (
            "level",
            h.lms
                .update_course(
                    &owner,
                    c.id,
                    CourseUpdate {
                        level: Some("expert".into()),
                        ..CourseUpdate::default()
                    },
                )
                .await
                .map(drop),
        ),
    ];
    for (field, result) in cases {
        let err = assert_kind(result, ErrorKind::InvalidInput);
        assert!(
            err.fields().iter().any(|f| f.field == field),
            "expected a {field} error, got {err}"
        );
    }
    assert_eq!(event_count(&h).await, before_events, "no event was written");
    let after_tree = h.lms.course_detail(&owner, "solid").await.unwrap();
    assert_eq!(after_tree, before_tree, "nothing changed");
}

async fn an_archived_course_leaves_the_catalog_but_keeps_its_learners(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let newcomer = account(&h, "newcomer@example.com", Role::Student).await;
    let (c, lectures) = published(&h, &owner, "Vintage", 2).await;
    h.lms.enroll(&learner, c.id).await.unwrap();
    h.lms.archive_course(&owner, c.id).await.unwrap();

    assert!(
        h.lms
            .catalog(&CatalogQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    h.lms.course_detail(&learner, "vintage").await.unwrap();
    h.lms.lecture(&learner, lectures[1].id).await.unwrap();
    assert_kind(
        h.lms.course_detail(&newcomer, "vintage").await,
        ErrorKind::NotFound,
    );
    assert_kind(h.lms.enroll(&newcomer, c.id).await, ErrorKind::Forbidden);
    let mine = h.lms.my_enrollments(&learner).await.unwrap();
    assert_eq!(mine[0].course.status, CourseStatus::Archived);
}

async fn a_course_with_enrollments_cannot_be_deleted(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let (c, _) = published(&h, &owner, "Popular", 1).await;
    let (lonely, _) = published(&h, &owner, "Lonely", 1).await;
    h.lms.enroll(&learner, c.id).await.unwrap();
    assert_kind(h.lms.delete_course(&owner, c.id).await, ErrorKind::Conflict);
    h.lms.course_detail(&owner, "popular").await.unwrap();
    h.lms.delete_course(&owner, lonely.id).await.unwrap();
    assert_kind(
        h.lms.course_detail(&owner, "lonely").await,
        ErrorKind::NotFound,
    );
}

async fn a_big_tree_and_its_progress_figures_add_up(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let c = course(&h, &owner, "Everything").await;
    let mut expected = Vec::new();
    for si in 0..20 {
        let s = section(&h, &owner, &c, &format!("Section {si}")).await;
        for li in 0..10 {
            let l = h
                .lms
                .create_lecture(
                    &owner,
                    s.id,
                    lecture_input(&format!("L{si}.{li}"), "video", 30 + li),
                )
                .await
                .unwrap();
            expected.push(l.id);
        }
    }
    h.lms.publish_course(&owner, c.id).await.unwrap();
    let detail = h
        .lms
        .course_detail(&Actor::Anonymous, "everything")
        .await
        .unwrap();
    assert_eq!(detail.sections.len(), 20);
    assert_eq!(detail.summary.lecture_count, 200);
    assert_eq!(
        detail.summary.total_duration_secs,
        20 * (0..10).map(|i| 30 + i).sum::<i64>()
    );
    let order: Vec<_> = detail
        .sections
        .iter()
        .flat_map(|s| s.lectures.iter().map(|l| l.id))
        .collect();
    assert_eq!(order, expected);
    for (i, s) in detail.sections.iter().enumerate() {
        assert_eq!(s.position, i as i32);
        assert_eq!(s.title, format!("Section {i}"));
        let positions: Vec<_> = s.lectures.iter().map(|l| l.position).collect();
        assert_eq!(positions, (0..10).collect::<Vec<_>>());
    }

    h.lms.enroll(&learner, c.id).await.unwrap();
    let done = |completed| ProgressUpdate {
        completed: Some(completed),
        position_secs: None,
    };
    for id in &expected[..50] {
        h.lms
            .update_progress(&learner, *id, done(true))
            .await
            .unwrap();
    }
    let p = h
        .lms
        .update_progress(
            &learner,
            expected[120],
            ProgressUpdate {
                completed: None,
                position_secs: Some(12),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            p.figures.completed_lectures,
            p.figures.total_lectures,
            p.figures.percent
        ),
        (50, 200, 25)
    );
    assert_eq!(p.next_lecture_id, Some(expected[50]));
    assert_eq!(
        p.last_lecture_id,
        Some(expected[120]),
        "continue where you left off"
    );
    assert_eq!(
        p.lecture,
        LectureState {
            lecture_id: expected[120],
            completed: false,
            position_secs: 12
        }
    );
    assert_eq!(p.completed_at, None);
    let view = h.lms.lecture(&learner, expected[10]).await.unwrap();
    assert_eq!(
        (view.previous_lecture_id, view.next_lecture_id),
        (Some(expected[9]), Some(expected[11]))
    );
    let first = h.lms.lecture(&learner, expected[0]).await.unwrap();
    assert_eq!(first.previous_lecture_id, None);

    for id in &expected[50..] {
        h.lms
            .update_progress(&learner, *id, done(true))
            .await
            .unwrap();
    }
    let p = h.lms.course_progress(&learner, c.id).await.unwrap();
    assert_eq!(p.figures.percent, 100);
    let completed_at = p.completed_at.expect("completion time set");
    let completions = |h: &Harness| {
        let store = h.store.clone();
        async move {
            store
                .events(&EventQuery {
                    kind: Some(kinds::COURSE_COMPLETED.into()),
                    ..EventQuery::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(completions(&h).await, 1);

    // A lecture added later lowers the percentage; the completion time stays.
    h.clock.advance(Duration::from_secs(60));
    let last_section = detail.sections.last().unwrap().id;
    let extra = h
        .lms
        .create_lecture(&owner, last_section, lecture_input("Bonus", "article", 0))
        .await
        .unwrap();
    let p = h.lms.course_progress(&learner, c.id).await.unwrap();
    assert_eq!(
        (
            p.figures.completed_lectures,
            p.figures.total_lectures,
            p.figures.percent
        ),
        (200, 201, 99)
    );
    assert_eq!(p.next_lecture_id, Some(extra.id));
    h.lms
        .update_progress(&learner, extra.id, done(true))
        .await
        .unwrap();
    let p = h.lms.course_progress(&learner, c.id).await.unwrap();
    assert_eq!(p.completed_at, Some(completed_at), "set once");
    assert_eq!(completions(&h).await, 1);

    // A deleted lecture stops counting.
    h.lms.delete_lecture(&owner, expected[0]).await.unwrap();
    let p = h.lms.course_progress(&learner, c.id).await.unwrap();
    assert_eq!(
        (p.figures.completed_lectures, p.figures.total_lectures),
        (200, 200)
    );

    let p = h.lms.reset_progress(&learner, c.id).await.unwrap();
    assert_eq!((p.figures.completed_lectures, p.figures.percent), (0, 0));
    assert_eq!((p.completed_at, p.last_lecture_id), (None, None));
    assert_eq!(p.next_lecture_id, Some(expected[1]));
}

async fn catalog_pages_return_each_course_once_while_courses_are_added(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let mut initial = HashSet::new();
    for i in 0..12 {
        h.clock.advance(Duration::from_secs(1));
        initial.insert(
            published(&h, &owner, &format!("Course {i:02}"), 1)
                .await
                .0
                .id,
        );
    }
    for sort in ["newest", "title", "popular"] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut added = 0;
        loop {
            let page = h
                .lms
                .catalog(&CatalogQuery {
                    sort: Some(sort.into()),
                    cursor: cursor.clone(),
                    limit: Some(5),
                    ..CatalogQuery::default()
                })
                .await
                .unwrap();
            assert!(page.items.len() <= 5);
            seen.extend(page.items.iter().map(|c| c.course.id));
            // Another instructor publishes between every two pages.
            h.clock.advance(Duration::from_secs(1));
            published(&h, &owner, &format!("{sort} late {added}"), 1).await;
            added += 1;
            match page.next_cursor.clone() {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let unique: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a course came twice");
        assert!(initial.is_subset(&unique), "{sort}: a course was skipped");
    }
}

async fn the_catalog_searches_filters_and_sorts(h: Harness) {
    let ada = account(&h, "ada@example.com", Role::Instructor).await;
    let bob = account(&h, "bob@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let specs = [
        (
            &ada,
            "Async Rust in Depth",
            "advanced",
            "en-GB",
            vec!["rust", "async"],
            0,
        ),
        (
            &ada,
            "Baking Bread",
            "beginner",
            "fr",
            vec!["cooking"],
            1999,
        ),
        (
            &bob,
            "Zig for Rustaceans",
            "intermediate",
            "en",
            vec!["zig"],
            0,
        ),
    ];
    let mut ids = Vec::new();
    for (owner, title, level, language, tags, price) in specs {
        let c = h
            .lms
            .create_course(
                owner,
                CourseInput {
                    title: title.into(),
                    subtitle: Some(format!("All about {title}")),
                    level: Some(level.into()),
                    language: Some(language.into()),
                    tags: Some(tags.iter().map(|t| t.to_string()).collect()),
                    price: Some(PriceInput {
                        amount: price,
                        currency: Some("EUR".into()),
                    }),
                    ..CourseInput::default()
                },
            )
            .await
            .unwrap();
        let s = section(&h, owner, &c, "S").await;
        lecture(&h, owner, &s, "L").await;
        h.clock.advance(Duration::from_secs(1));
        h.lms.publish_course(owner, c.id).await.unwrap();
        ids.push(c.id);
    }
    h.lms.enroll(&learner, ids[2]).await.unwrap();
    let find = |query: CatalogQuery| {
        let lms = h.lms.clone();
        async move {
            lms.catalog(&query)
                .await
                .unwrap()
                .items
                .iter()
                .map(|c| c.course.id)
                .collect::<Vec<_>>()
        }
    };
    let q = |s: &str| CatalogQuery {
        q: Some(s.into()),
        ..CatalogQuery::default()
    };
    assert_eq!(
        find(q("rust")).await,
        [ids[2], ids[0]],
        "title words, as prefixes (Rustaceans)"
    );
    assert_eq!(find(q("ASYNC dep")).await, [ids[0]], "every word required");
    assert_eq!(find(q("cooking")).await, [ids[1]], "tags are searched");
    assert_eq!(
        find(q("about bread")).await,
        [ids[1]],
        "subtitles are searched"
    );
    assert_eq!(
        find(q("\"*)(^:-")).await.len(),
        3,
        "syntax characters are ignored"
    );
    assert!(
        find(q("rust OR NOT zig")).await.is_empty(),
        "operators are plain words"
    );
    let by = |f: fn(&mut CatalogQuery)| {
        let mut query = CatalogQuery::default();
        f(&mut query);
        query
    };
    assert_eq!(
        find(by(|q| q.level = Some("beginner".into()))).await,
        [ids[1]]
    );
    assert_eq!(
        find(by(|q| q.language = Some("en".into()))).await,
        [ids[2], ids[0]]
    );
    assert_eq!(find(by(|q| q.price = Some("paid".into()))).await, [ids[1]]);
    assert_eq!(
        find(by(|q| q.price = Some("free".into()))).await,
        [ids[2], ids[0]]
    );
    assert_eq!(find(by(|q| q.tag = Some("ZIG".into()))).await, [ids[2]]);
    assert_eq!(
        find(CatalogQuery {
            instructor: Some(ada.user_id().unwrap().to_string()),
            ..CatalogQuery::default()
        })
        .await,
        [ids[1], ids[0]]
    );
    assert_eq!(
        find(by(|q| q.sort = Some("title".into()))).await,
        [ids[0], ids[1], ids[2]]
    );
    assert_eq!(
        find(by(|q| q.sort = Some("popular".into()))).await[0],
        ids[2]
    );
    let page = h.lms.catalog(&CatalogQuery::default()).await.unwrap();
    let first = &page.items[0];
    assert_eq!(first.instructor_name, "bob");
    assert_eq!((first.lecture_count, first.total_duration_secs), (1, 60));

    for (field, query) in [
        ("sort", by(|q| q.sort = Some("random".into()))),
        ("price", by(|q| q.price = Some("cheap".into()))),
        ("limit", by(|q| q.limit = Some(101))),
        ("cursor", by(|q| q.cursor = Some("bogus".into()))),
        ("level", by(|q| q.level = Some("expert".into()))),
    ] {
        let err = assert_kind(h.lms.catalog(&query).await, ErrorKind::InvalidInput);
        assert_eq!(err.fields()[0].field, field);
    }
}

async fn enrolling_is_for_free_published_courses_and_happens_once(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let (free, _) = published(&h, &owner, "Free", 1).await;
    let paid = course(&h, &owner, "Paid").await;
    h.lms
        .update_course(
            &owner,
            paid.id,
            CourseUpdate {
                price: Some(PriceInput {
                    amount: 4999,
                    currency: Some("usd".into()),
                }),
                ..CourseUpdate::default()
            },
        )
        .await
        .unwrap();
    let s = section(&h, &owner, &paid, "S").await;
    lecture(&h, &owner, &s, "L").await;
    h.lms.publish_course(&owner, paid.id).await.unwrap();
    let draft = course(&h, &owner, "Draft").await;

    let first = h.lms.enroll(&learner, free.id).await.unwrap();
    let again = h.lms.enroll(&learner, free.id).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(first.source, lms_core::enrollment::EnrollmentSource::Free);
    let detail = h.lms.course_detail(&learner, "free").await.unwrap();
    assert_eq!(detail.summary.course.enrollment_count, 1);
    assert_kind(h.lms.enroll(&learner, paid.id).await, ErrorKind::Payment);
    assert_kind(h.lms.enroll(&learner, draft.id).await, ErrorKind::NotFound);
    assert_kind(
        h.lms.enroll(&Actor::Anonymous, free.id).await,
        ErrorKind::Unauthenticated,
    );
    let enrollments = h
        .store
        .events(&EventQuery {
            kind: Some(kinds::ENROLLMENT_CREATED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(enrollments.len(), 1);
}

async fn grants_expire_and_revokes_keep_progress(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let other = account(&h, "other@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let (c, lectures) = published(&h, &owner, "Granted", 2).await;
    let grant = |expires| GrantInput {
        user_id: learner.user_id().unwrap(),
        expires_at: expires,
    };
    assert_kind(
        h.lms.grant_enrollment(&other, c.id, grant(None)).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.grant_enrollment(&learner, c.id, grant(None)).await,
        ErrorKind::Forbidden,
    );
    let past = h.lms.now() - chrono::Duration::seconds(1);
    let err = assert_kind(
        h.lms
            .grant_enrollment(&owner, c.id, grant(Some(past)))
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "expires_at");

    let until = h.lms.now() + chrono::Duration::days(7);
    let e = h
        .lms
        .grant_enrollment(&owner, c.id, grant(Some(until)))
        .await
        .unwrap();
    assert_eq!(e.expires_at, Some(until));
    let done = ProgressUpdate {
        completed: Some(true),
        position_secs: None,
    };
    h.lms
        .update_progress(&learner, lectures[0].id, done)
        .await
        .unwrap();

    h.clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_kind(
        h.lms.lecture(&learner, lectures[1].id).await,
        ErrorKind::Forbidden,
    );
    let mine = h.lms.my_enrollments(&learner).await.unwrap();
    assert_eq!(
        mine[0].enrollment.status,
        lms_core::enrollment::EnrollmentStatus::Expired
    );
    assert_kind(
        h.lms.update_progress(&learner, lectures[1].id, done).await,
        ErrorKind::Forbidden,
    );

    // Re-granted, then revoked: progress survives both.
    h.lms
        .grant_enrollment(&owner, c.id, grant(None))
        .await
        .unwrap();
    h.lms.lecture(&learner, lectures[1].id).await.unwrap();
    let revoked = h
        .lms
        .revoke_enrollment(&owner, c.id, learner.user_id().unwrap())
        .await
        .unwrap();
    assert_eq!(
        revoked.status,
        lms_core::enrollment::EnrollmentStatus::Revoked
    );
    assert_kind(
        h.lms.lecture(&learner, lectures[1].id).await,
        ErrorKind::Forbidden,
    );
    assert_kind(h.lms.enroll(&learner, c.id).await, ErrorKind::Forbidden);
    let p = h.lms.course_progress(&learner, c.id).await.unwrap();
    assert_eq!(p.figures.completed_lectures, 1, "revoking keeps progress");
    assert_kind(
        h.lms
            .revoke_enrollment(&other, c.id, learner.user_id().unwrap())
            .await,
        ErrorKind::Forbidden,
    );
}

async fn bulk_grants_report_every_row(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    account(&h, "a@example.com", Role::Student).await;
    let b = account(&h, "b@example.com", Role::Student).await;
    let (c, _) = published(&h, &owner, "Bulk", 1).await;
    h.lms.enroll(&b, c.id).await.unwrap();
    let emails: Vec<String> = [
        "A@example.com",
        "b@example.com",
        "nobody@example.com",
        "not-an-email",
        "a@example.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_kind(
        h.lms.grant_by_emails(&owner, c.id, &emails, None).await,
        ErrorKind::Forbidden,
    );
    let rows = h
        .lms
        .grant_by_emails(&admin, c.id, &emails, None)
        .await
        .unwrap();
    let results: Vec<_> = rows.iter().map(|r| (r.email.as_str(), r.result)).collect();
    assert_eq!(
        results,
        [
            ("A@example.com", "created"),
            ("b@example.com", "renewed"),
            ("nobody@example.com", "unknown_user"),
            ("not-an-email", "invalid_email"),
            ("a@example.com", "duplicate"),
        ]
    );
    let again = h
        .lms
        .grant_by_emails(&admin, c.id, &emails[..1], None)
        .await
        .unwrap();
    assert_eq!(again[0].result, "unchanged");
    let err = assert_kind(
        h.lms.grant_by_emails(&admin, c.id, &[], None).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "emails");
}

async fn progress_is_for_enrolled_learners_only(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let outsider = account(&h, "outsider@example.com", Role::Student).await;
    let c = course(&h, &owner, "Tracked").await;
    let s = section(&h, &owner, &c, "S").await;
    let video = lecture(&h, &owner, &s, "Video").await;
    let article = h
        .lms
        .create_lecture(
            &owner,
            s.id,
            LectureInput {
                free_preview: Some(true),
                ..lecture_input("Read", "article", 0)
            },
        )
        .await
        .unwrap();
    h.lms.publish_course(&owner, c.id).await.unwrap();
    let done = ProgressUpdate {
        completed: Some(true),
        position_secs: None,
    };
    assert_kind(
        h.lms.update_progress(&outsider, video.id, done).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.update_progress(&outsider, article.id, done).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms
            .update_progress(&Actor::Anonymous, video.id, done)
            .await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.course_progress(&outsider, c.id).await,
        ErrorKind::NotFound,
    );
    h.lms.enroll(&learner, c.id).await.unwrap();
    let at = |p| ProgressUpdate {
        completed: None,
        position_secs: Some(p),
    };
    let err = assert_kind(
        h.lms.update_progress(&learner, article.id, at(5)).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "position_secs");
    let err = assert_kind(
        h.lms.update_progress(&learner, video.id, at(61)).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "position_secs");
    let err = assert_kind(
        h.lms
            .update_progress(&learner, video.id, ProgressUpdate::default())
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "completed");
    let p = h
        .lms
        .update_progress(&learner, video.id, at(60))
        .await
        .unwrap();
    assert_eq!(
        (p.lecture.lecture_id, p.lecture.position_secs),
        (video.id, 60)
    );
    let p = h
        .lms
        .update_progress(&learner, article.id, done)
        .await
        .unwrap();
    assert_eq!(p.figures.completed_lectures, 1);
    let undone = ProgressUpdate {
        completed: Some(false),
        position_secs: None,
    };
    let p = h
        .lms
        .update_progress(&learner, article.id, undone)
        .await
        .unwrap();
    assert_eq!(p.figures.completed_lectures, 0);
    // Another learner's progress is theirs alone.
    h.lms.enroll(&outsider, c.id).await.unwrap();
    let theirs = h.lms.course_progress(&outsider, c.id).await.unwrap();
    assert_eq!(theirs.lectures[0].position_secs, 0);
}

async fn a_learner_lists_enrollments_and_the_owner_lists_enrollees(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let other = account(&h, "other@example.com", Role::Instructor).await;
    let (c1, lectures) = published(&h, &owner, "First", 2).await;
    let (c2, _) = published(&h, &owner, "Second", 1).await;
    let mut learners = Vec::new();
    for i in 0..5 {
        let l = account(&h, &format!("l{i}@example.com"), Role::Student).await;
        h.lms.enroll(&l, c1.id).await.unwrap();
        learners.push(l);
    }
    h.lms.enroll(&learners[0], c2.id).await.unwrap();
    let done = ProgressUpdate {
        completed: Some(true),
        position_secs: None,
    };
    h.lms
        .update_progress(&learners[0], lectures[0].id, done)
        .await
        .unwrap();

    let mine = h.lms.my_enrollments(&learners[0]).await.unwrap();
    assert_eq!(
        mine.iter().map(|e| e.course.id).collect::<Vec<_>>(),
        [c2.id, c1.id]
    );
    assert_eq!(
        (
            mine[1].progress.completed_lectures,
            mine[1].progress.percent
        ),
        (1, 50)
    );

    let page = h
        .lms
        .course_enrollments(&owner, c1.id, None, Some(3))
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0].email, "l0@example.com");
    assert_eq!(page[0].progress.completed_lectures, 1);
    let rest = h
        .lms
        .course_enrollments(&owner, c1.id, Some(page[2].enrollment.id), Some(3))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.email.as_str()).collect::<Vec<_>>(),
        ["l3@example.com", "l4@example.com"]
    );
    assert_kind(
        h.lms.course_enrollments(&other, c1.id, None, None).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms
            .course_enrollments(&learners[1], c1.id, None, None)
            .await,
        ErrorKind::Forbidden,
    );
}
