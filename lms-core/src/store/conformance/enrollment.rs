//! Conformance cases: enrollments, progress, and the course steps' events.

use super::*;

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
            revoked_by: None,
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
/// revoking again changes nothing, and so does a free enrollment (refused);
/// a grant afterwards renews the same row and counts it again.
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
            revoked.revoked_by,
            revoked.updated_at
        ),
        (
            created.id,
            EnrollmentStatus::Revoked,
            Some(later(3)),
            Some(RevokedBy::Owner),
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

    // The learner cannot undo it with a free enrollment.
    let events_before = course_events(&*store, course.id).await.len();
    let refused = store
        .enroll(
            request(course.id, learner, EnrollmentSource::Free, None),
            system(),
            later(4),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Forbidden);
    assert_eq!(enrollment_of(&*store, course.id, learner).await, revoked);
    assert_eq!(enrollment_count(&*store, course.id).await, 0);
    assert_eq!(course_events(&*store, course.id).await.len(), events_before);

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
            renewed.revoked_at,
            renewed.revoked_by
        ),
        (
            created.id,
            EnrollmentStatus::Active,
            EnrollmentSource::Grant,
            None,
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
/// lecture last touched, and logs the first progress in a lecture and each
/// change to its completion once; a change to what is already stored is
/// `changed: false` and writes nothing.
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

    // A new resume position in a lecture with progress changes the row and
    // the enrollment, and is not logged: the first progress in it was.
    assert_eq!(
        record(&*store, learner, &l[1], at_position(90), later(7)).await,
        changed
    );
    let rows = progress_rows(&*store, learner, course.id).await;
    let row = rows.iter().find(|r| r.lecture_id == l[1].id).unwrap();
    assert_eq!((row.position_secs, row.updated_at), (90, later(7)));
    let e = enrollment_of(&*store, course.id, learner).await;
    assert_eq!(
        (e.last_lecture_id, e.last_activity_at),
        (Some(l[1].id), Some(later(7)))
    );
    assert_eq!(events(store.clone()).await.len(), 4);
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
                    .record_progress(
                        learner,
                        lecture.course_id,
                        lecture.id,
                        complete(),
                        system(),
                        later(1),
                    )
                    .await
            })
        })
        .collect();
    let mut completions = 0;
    for task in tasks {
        let done = task.await.unwrap().expect("record_progress");
        assert!(done.recorded.changed);
        completions += usize::from(done.recorded.course_completed);
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

/// Progress steps arriving together, some of which cannot be recorded (no
/// enrollment, a revoked or an expired one, a lecture deleted meanwhile):
/// each of those fails alone, `not_found`, and writes nothing; every other step is
/// recorded, logged once, and answered with the learner's stored state.
pub async fn progress_steps_arriving_together_succeed_or_fail_alone(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, _, l) = course_with_lectures(&*store, owner, "rust", 4).await;
    let mut learners = Vec::new();
    for i in 0..6 {
        let learner = make_user(&*store, &format!("learner{i}@example.com")).await;
        enroll(
            &*store,
            course.id,
            learner,
            EnrollmentSource::Free,
            None,
            t0(),
        )
        .await;
        learners.push(learner);
    }
    let stranger = make_user(&*store, "stranger@example.com").await;
    let revoked = make_user(&*store, "revoked@example.com").await;
    enroll(
        &*store,
        course.id,
        revoked,
        EnrollmentSource::Free,
        None,
        t0(),
    )
    .await;
    store
        .revoke_enrollment(course.id, revoked, system(), later(1))
        .await
        .unwrap();
    let expired = make_user(&*store, "expired@example.com").await;
    let grant = EnrollmentSource::Grant;
    enroll(&*store, course.id, expired, grant, Some(later(2)), t0()).await;
    let before = course_events(&*store, course.id).await.len();

    let mut steps: Vec<(UserId, LectureId)> = Vec::new();
    for lecture in &l {
        for learner in &learners {
            steps.push((*learner, lecture.id));
        }
    }
    let ghost = LectureId::new();
    for (i, odd) in [stranger, revoked, expired].into_iter().enumerate() {
        steps.insert(5 + i * 7, (odd, l[0].id));
    }
    steps.insert(11, (learners[0], ghost));
    let tasks: Vec<_> = steps
        .iter()
        .map(|&(user, lecture)| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_progress(user, course.id, lecture, complete(), system(), later(3))
                    .await
            })
        })
        .collect();
    let mut completions = std::collections::HashMap::new();
    for (task, (user, lecture)) in tasks.into_iter().zip(&steps) {
        let result = task.await.unwrap();
        if [stranger, revoked, expired].contains(user) {
            assert_not_found(result, "progress without a live enrollment");
        } else if *lecture == ghost {
            assert_not_found(result, "progress in a lecture that is gone");
        } else {
            let written = result.expect("record_progress");
            assert!(written.recorded.changed);
            *completions.entry(*user).or_insert(0) +=
                usize::from(written.recorded.course_completed);
            // The answer holds at least this step, as stored.
            assert_eq!(written.enrollment.user_id, *user);
            let own = written.lectures.iter().find(|l| l.lecture_id == *lecture);
            assert!(own.is_some_and(|l| l.completed));
            assert!(written.lectures.iter().all(|l| l.completed));
        }
    }
    for learner in &learners {
        assert_eq!(
            completions[learner], 1,
            "each learner completes the course once"
        );
        assert_eq!(figures(&*store, *learner, course.id).await, (4, 4, 100));
        assert_eq!(
            enrollment_of(&*store, course.id, *learner)
                .await
                .completed_at,
            Some(later(3))
        );
    }
    for odd in [stranger, revoked, expired] {
        assert!(progress_rows(&*store, odd, course.id).await.is_empty());
    }
    let events = course_events(&*store, course.id).await;
    let new = &events[before..];
    assert_eq!(new.len(), 6 * 4 + 6);
    for learner in &learners {
        let theirs: Vec<&str> = new
            .iter()
            .filter(|e| e.user_id == Some(learner.0))
            .map(|e| e.kind.as_str())
            .collect();
        // The completion follows the progress that completed the course.
        assert_eq!(
            theirs,
            [
                kinds::PROGRESS_UPDATED,
                kinds::PROGRESS_UPDATED,
                kinds::PROGRESS_UPDATED,
                kinds::PROGRESS_UPDATED,
                kinds::COURSE_COMPLETED
            ]
        );
    }
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
/// course can be completed again. An ended enrollment (revoked or expired)
/// keeps its progress: resetting it is `forbidden` and writes nothing.
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

    // An ended enrollment keeps its progress: revoked, or past its expiry.
    store
        .revoke_enrollment(course.id, learner, system(), later(6))
        .await
        .unwrap();
    let passing = make_user(&*store, "eve@example.com").await;
    enroll(
        &*store,
        course.id,
        passing,
        EnrollmentSource::Free,
        Some(later(8)),
        t0(),
    )
    .await;
    record(&*store, passing, &l[0], complete(), later(7)).await;
    let before = course_events(&*store, course.id).await.len();
    for (ended, at) in [(learner, later(7)), (passing, later(8))] {
        let err = store
            .reset_progress(ended, course.id, system(), at)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert_eq!(progress_rows(&*store, ended, course.id).await.len(), 1);
        assert!(
            enrollment_of(&*store, course.id, ended)
                .await
                .completed_at
                .is_some()
        );
    }
    assert_eq!(course_events(&*store, course.id).await.len(), before);
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
            .record_progress(
                stranger,
                l[0].course_id,
                l[0].id,
                complete(),
                system(),
                later(1),
            )
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
    s.record_progress(learner, l1.course_id, l1.id, complete(), actor, at(12))
        .await
        .unwrap();
    expect(s, c, &[(kinds::PROGRESS_UPDATED, true)]).await;
    s.record_progress(learner, l2.course_id, l2.id, complete(), actor, at(13))
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
    s.record_progress(learner, l1.course_id, l1.id, complete(), actor, at(14))
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
    // Back to draft only without live learners.
    s.revoke_enrollment(c, learner, actor, at(22))
        .await
        .unwrap();
    expect(s, c, &[(kinds::ENROLLMENT_REVOKED, true)]).await;
    s.set_course_status(c, CourseStatus::Draft, actor, at(23))
        .await
        .unwrap();
    expect(s, c, &[(kinds::COURSE_UNPUBLISHED, false)]).await;
    s.set_course_status(c, CourseStatus::Archived, actor, at(24))
        .await
        .unwrap();
    expect(s, c, &[(kinds::COURSE_ARCHIVED, false)]).await;

    let other = s
        .create_course(new_course(owner_id, "go"), actor, at(25))
        .await
        .unwrap();
    expect(s, c, &[]).await;
    s.delete_course(other.id, actor, at(26)).await.unwrap();
    let other_kinds = course_kinds(s, other.id).await;
    assert_eq!(other_kinds, [kinds::COURSE_CREATED, kinds::COURSE_DELETED]);
}
