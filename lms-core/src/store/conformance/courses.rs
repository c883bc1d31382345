//! Conformance cases: the course tree and the catalog.

use super::*;

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

/// A course with live learners does not go back to draft, which would shut
/// them out: that is a `conflict` and changes nothing. Archiving keeps them;
/// once no enrollment is live (revoked or expired), a draft hurts no one.
pub async fn a_course_with_live_learners_is_not_unpublished(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let learner = make_user(&*store, "bob@example.com").await;
    let passing = make_user(&*store, "cy@example.com").await;
    let (course, _, _) = course_with_lectures(&*store, owner, "rust", 1).await;
    publish(&*store, course.id, later(1)).await;
    enroll(
        &*store,
        course.id,
        learner,
        EnrollmentSource::Free,
        None,
        later(2),
    )
    .await;
    enroll(
        &*store,
        course.id,
        passing,
        EnrollmentSource::Grant,
        Some(later(10)),
        later(2),
    )
    .await;
    let events = course_events(&*store, course.id).await.len();
    let refused = store
        .set_course_status(course.id, CourseStatus::Draft, system(), later(3))
        .await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(
        summary(&*store, course.id).await.course.status,
        CourseStatus::Published
    );
    assert_eq!(course_events(&*store, course.id).await.len(), events);

    let archived = store
        .set_course_status(course.id, CourseStatus::Archived, system(), later(4))
        .await
        .unwrap();
    assert_eq!(archived.status, CourseStatus::Archived);
    let refused = store
        .set_course_status(course.id, CourseStatus::Draft, system(), later(5))
        .await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Conflict);

    store
        .revoke_enrollment(course.id, learner, system(), later(6))
        .await
        .unwrap();
    let refused = store
        .set_course_status(course.id, CourseStatus::Draft, system(), later(9))
        .await;
    assert_eq!(
        refused.unwrap_err().kind(),
        ErrorKind::Conflict,
        "one still live"
    );
    let draft = store
        .set_course_status(course.id, CourseStatus::Draft, system(), later(10))
        .await
        .unwrap();
    assert_eq!(draft.status, CourseStatus::Draft);
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

/// A published course keeps at least one lecture: deleting its last, alone
/// or with its section, is a `conflict` that changes nothing. A draft may
/// be emptied, and so may a section while another holds a lecture.
pub async fn a_published_course_keeps_its_last_lecture(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let (course, s, l) = course_with_lectures(&*store, owner, "rust", 2).await;
    publish(&*store, course.id, later(1)).await;
    store
        .delete_lecture(l[0].id, system(), later(2))
        .await
        .unwrap();
    let events = course_events(&*store, course.id).await.len();
    let last = store.delete_lecture(l[1].id, system(), later(3)).await;
    assert_eq!(last.unwrap_err().kind(), ErrorKind::Conflict);
    let with_section = store.delete_section(s.id, system(), later(3)).await;
    assert_eq!(with_section.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(tree(&*store, course.id).await, [(s.id, vec![l[1].id])]);
    assert_eq!(course_events(&*store, course.id).await.len(), events);

    // With a lecture elsewhere, the section goes.
    let other = make_section(&*store, course.id, "More").await;
    let kept = make_lecture(&*store, other.id, "Kept").await;
    store
        .delete_section(s.id, system(), later(4))
        .await
        .unwrap();
    assert_eq!(tree(&*store, course.id).await, [(other.id, vec![kept.id])]);

    // A draft may be emptied.
    let (draft, _, d) = course_with_lectures(&*store, owner, "draft", 1).await;
    store
        .delete_lecture(d[0].id, system(), later(5))
        .await
        .unwrap();
    assert_eq!(summary(&*store, draft.id).await.lecture_count, 0);
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

/// Lectures of a course come in outline order, across sections, bodies
/// included.
pub async fn course_lectures_come_in_outline_order_with_their_content(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let course = make_course(&*store, owner, "ordered").await;
    let second = make_section(&*store, course.id, "Second").await;
    let first = store
        .create_section(
            course.id,
            SectionId::new(),
            "First".into(),
            Some(0),
            system(),
            t0(),
        )
        .await
        .unwrap();
    let b = make_lecture(&*store, second.id, "B").await;
    let a2 = make_lecture(&*store, first.id, "A2").await;
    let a1 = store
        .create_lecture(first.id, new_lecture("A1", 5), Some(0), system(), t0())
        .await
        .unwrap();
    let lectures = store.course_lectures(course.id).await.unwrap();
    assert_eq!(ids(&lectures), [a1.id, a2.id, b.id]);
    assert_eq!(lectures[0].body, "# A1");
    let other = make_course(&*store, owner, "other").await;
    assert!(store.course_lectures(other.id).await.unwrap().is_empty());
}

fn import_of(owner: UserId, slug_text: &str, shape: &[usize]) -> CourseImport {
    CourseImport {
        course: new_course(owner, slug_text),
        status: CourseStatus::Published,
        sections: shape
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let lectures = (0..*n)
                    .map(|j| new_lecture(&format!("Lecture {i}.{j}"), 60))
                    .collect();
                (format!("Section {i}"), lectures)
            })
            .collect(),
    }
}

/// A new slug creates the course with its tree and status in one event;
/// the same import again writes nothing at all.
pub async fn an_import_creates_the_whole_tree_and_the_same_import_changes_nothing(
    store: Arc<dyn Store>,
) {
    let owner = make_user(&*store, "ada@example.com").await;
    let import = import_of(owner, "imported", &[2, 3]);
    let outcome = store
        .import_course(import.clone(), system(), t0())
        .await
        .unwrap();
    assert_eq!(outcome.result, "created");
    assert_eq!(outcome.changes, 1 + 2 + 5 + 1);
    let course = outcome.course;
    assert_eq!(
        (course.id, course.slug.as_str()),
        (import.course.id, "imported")
    );
    assert_eq!(course.status, CourseStatus::Published);
    assert_eq!(course.published_at, Some(t0()));
    let shape: Vec<usize> = tree(&*store, course.id)
        .await
        .iter()
        .map(|(_, l)| l.len())
        .collect();
    assert_eq!(shape, [2, 3]);
    let outline = store.outline(course.id).await.unwrap();
    assert_eq!(outline[1].title, "Section 1");
    assert_eq!(outline[1].lectures[2].title, "Lecture 1.2");
    let kinds: Vec<_> = course_events(&*store, course.id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [kinds::COURSE_IMPORTED]);

    let again = store
        .import_course(import_of(owner, "imported", &[2, 3]), system(), later(5))
        .await
        .unwrap();
    assert_eq!((again.result, again.changes), ("unchanged", 0));
    assert_eq!(again.course, course);
    assert_eq!(course_events(&*store, course.id).await.len(), 1);
}

/// An import onto an existing slug updates rows in place by position
/// (their ids survive), adds what is missing and deletes what is extra.
pub async fn an_import_brings_a_course_in_line_by_position_keeping_ids(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let first = store
        .import_course(import_of(owner, "moving", &[3, 1, 2]), system(), t0())
        .await
        .unwrap();
    let before = tree(&*store, first.course.id).await;
    let mut import = import_of(owner, "moving", &[1, 4]);
    import.course.title = "Moved on".into();
    import.sections[1].0 = "Renamed".into();
    import.sections[0].1[0].body = "new body".into();
    import.status = CourseStatus::Draft;
    let outcome = store
        .import_course(import, system(), later(1))
        .await
        .unwrap();
    assert_eq!(outcome.result, "updated");
    // title; section 1 renamed; lecture 0.0 changed, 0.1 and 0.2 deleted;
    // lectures 1.1 to 1.3 added; section 2 deleted; status.
    assert_eq!(outcome.changes, 1 + 1 + 1 + 2 + 3 + 1 + 1);
    assert_eq!(outcome.course.id, first.course.id);
    assert_eq!(outcome.course.title, "Moved on");
    assert_eq!(outcome.course.status, CourseStatus::Draft);
    let after = tree(&*store, first.course.id).await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].0, before[0].0);
    assert_eq!(after[0].1, before[0].1[..1]);
    assert_eq!(after[1].0, before[1].0);
    assert_eq!(after[1].1[0], before[1].1[0]);
    assert_eq!(after[1].1.len(), 4);
    let lecture = store.lecture(before[0].1[0]).await.unwrap().unwrap();
    assert_eq!(lecture.body, "new body");
    assert!(store.section(before[2].0).await.unwrap().is_none());
}

/// A publish with no lecture is refused and the created rows roll back.
pub async fn a_failing_import_writes_nothing(store: Arc<dyn Store>) {
    let owner = make_user(&*store, "ada@example.com").await;
    let err = store
        .import_course(import_of(owner, "empty", &[0, 0]), system(), t0())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let key = CourseKey::Slug(slug("empty"));
    assert!(store.course(&key).await.unwrap().is_none());
    let events = store.events(&EventQuery::default()).await.unwrap();
    assert!(events.iter().all(|e| e.kind != kinds::COURSE_IMPORTED));
}

/// Stats count live users by role, courses, active enrollments and
/// completions.
pub async fn stats_count_users_courses_enrollments_and_completions(store: Arc<dyn Store>) {
    assert_eq!(store.stats().await.unwrap(), crate::store::Stats::default());
    let owner = make_user(&*store, "ada@example.com").await;
    store
        .update_account(owner, role(Role::Instructor), system(), t0())
        .await
        .unwrap();
    let learner = make_user(&*store, "bob@example.com").await;
    let gone = make_user(&*store, "gone@example.com").await;
    store.delete_user(gone, system(), t0()).await.unwrap();
    let (course, _, lectures) = course_with_lectures(&*store, owner, "counted", 1).await;
    store
        .set_course_status(course.id, CourseStatus::Published, system(), t0())
        .await
        .unwrap();
    make_course(&*store, owner, "draft").await;
    let request = EnrollRequest {
        course: course.id,
        user: learner,
        source: EnrollmentSource::Free,
        expires_at: None,
    };
    store.enroll(request, system(), t0()).await.unwrap();
    let change = ProgressChange {
        completed: Some(true),
        position_secs: None,
    };
    store
        .record_progress(
            learner,
            lectures[0].course_id,
            lectures[0].id,
            change,
            system(),
            t0(),
        )
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats,
        crate::store::Stats {
            users: 2,
            students: 1,
            instructors: 1,
            admins: 0,
            courses: 2,
            published_courses: 1,
            enrollments: 1,
            completions: 1,
        }
    );
}
