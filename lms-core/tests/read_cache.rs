//! The read cache (`Config::read_cache_ttl_ms`) on both stores: catalog
//! pages, course trees and sessions are shared between calls; this
//! instance's own writes show at once, another instance's within the TTL;
//! writes that change nothing cached keep what is cached.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, account, config};
use lms_core::{
    Actor, CatalogQuery, Config, Course, CourseInput, CourseUpdate, Credentials, ErrorKind,
    LectureInput, Lms, ProgressUpdate, Role, SectionInput,
};

on_both_stores!(
    answers_are_shared_and_own_writes_show_at_once,
    another_instance_shows_changes_within_the_ttl,
    a_session_ended_here_is_refused_at_once_and_elsewhere_within_the_ttl,
    progress_writes_keep_what_is_cached,
    progress_in_a_lecture_deleted_elsewhere_is_not_found,
    a_zero_ttl_reads_the_store_every_time,
);

fn cached(ttl_ms: u64) -> Config {
    Config {
        read_cache_ttl_ms: ttl_ms,
        ..config()
    }
}

/// A published free course with one video lecture, made through `lms`.
async fn published(lms: &Lms, owner: &Actor, title: &str) -> (Course, lms_core::Lecture) {
    let input = CourseInput {
        title: title.into(),
        ..CourseInput::default()
    };
    let course = lms.create_course(owner, input).await.unwrap();
    let section = SectionInput {
        title: "Basics".into(),
        position: None,
    };
    let section = lms.create_section(owner, course.id, section).await.unwrap();
    let lecture = LectureInput {
        title: "First".into(),
        kind: "video".into(),
        body: None,
        duration_secs: Some(60),
        free_preview: None,
        position: None,
    };
    let lecture = lms
        .create_lecture(owner, section.id, lecture)
        .await
        .unwrap();
    let course = lms.publish_course(owner, course.id).await.unwrap();
    (course, lecture)
}

fn titles(page: &lms_core::CatalogPage) -> Vec<String> {
    let mut titles: Vec<_> = page.items.iter().map(|s| s.course.title.clone()).collect();
    titles.sort();
    titles
}

async fn answers_are_shared_and_own_writes_show_at_once(h: Harness) {
    let lms = h.with_config(cached(60_000));
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let (first, _) = published(&lms, &owner, "First course").await;
    let all = CatalogQuery::default();

    // Nothing written in between: the very same answers.
    let page = lms.catalog(&all).await.unwrap();
    assert!(Arc::ptr_eq(&page, &lms.catalog(&all).await.unwrap()));
    let key = first.id.to_string();
    let tree = lms.course_detail(&owner, &key).await.unwrap();
    assert!(Arc::ptr_eq(
        &tree,
        &lms.course_detail(&owner, &key).await.unwrap()
    ));

    // Writes through this instance show on the next call.
    published(&lms, &owner, "Second course").await;
    let page = lms.catalog(&all).await.unwrap();
    assert_eq!(titles(&page), ["First course", "Second course"]);
    let rename = CourseUpdate {
        title: Some("First, renamed".into()),
        ..CourseUpdate::default()
    };
    lms.update_course(&owner, first.id, rename).await.unwrap();
    let tree = lms.course_detail(&owner, &key).await.unwrap();
    assert_eq!(tree.summary.course.title, "First, renamed");
    lms.unpublish_course(&owner, first.id).await.unwrap();
    let page = lms.catalog(&all).await.unwrap();
    assert_eq!(titles(&page), ["Second course"]);

    // Who may see a tree is decided on every call, cached or not: the
    // draft is its owner's alone.
    assert!(lms.course_detail(&owner, &key).await.is_ok());
    let stranger = account(&h, "stranger@example.com", Role::Student).await;
    let err = lms.course_detail(&stranger, &key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = lms
        .course_detail(&Actor::Anonymous, &key)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

async fn another_instance_shows_changes_within_the_ttl(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    published(&h.lms, &owner, "First course").await;
    let all = CatalogQuery::default();
    let slow = h.another_instance(cached(60_000)).await;
    let quick = h.another_instance(cached(100)).await;
    assert_eq!(titles(&slow.catalog(&all).await.unwrap()), ["First course"]);
    assert_eq!(
        titles(&quick.catalog(&all).await.unwrap()),
        ["First course"]
    );

    // Another instance (the harness's own) publishes: within a minute's
    // TTL the first still answers from what it read...
    published(&h.lms, &owner, "Second course").await;
    assert_eq!(titles(&slow.catalog(&all).await.unwrap()), ["First course"]);
    // ...and once the TTL has passed, the second reads the store again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        titles(&quick.catalog(&all).await.unwrap()),
        ["First course", "Second course"]
    );
}

async fn a_session_ended_here_is_refused_at_once_and_elsewhere_within_the_ttl(h: Harness) {
    let lms = h.with_config(cached(60_000));
    let quick = h.another_instance(cached(100)).await;
    account(&h, "learner@example.com", Role::Student).await;
    let sign_in = || {
        lms.login(Credentials {
            email: "learner@example.com".into(),
            password: common::PASSWORD.into(),
        })
    };

    // Ended through this instance: refused on the next request.
    let session = sign_in().await.unwrap();
    lms.authenticate(&session.access_token).await.unwrap();
    lms.logout(&session.refresh_token).await.unwrap();
    let err = lms.authenticate(&session.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);

    // Ended through another instance: refused here once the TTL passed.
    let session = sign_in().await.unwrap();
    quick.authenticate(&session.access_token).await.unwrap();
    h.lms.logout(&session.refresh_token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let err = quick.authenticate(&session.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);

    // A disabled account likewise, through this instance.
    let session = sign_in().await.unwrap();
    let actor = lms.authenticate(&session.access_token).await.unwrap();
    lms.set_disabled(&Actor::System, actor.user_id().unwrap(), true)
        .await
        .unwrap();
    let err = lms.authenticate(&session.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

async fn progress_writes_keep_what_is_cached(h: Harness) {
    let lms = h.with_config(cached(60_000));
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let (course, lecture) = published(&lms, &owner, "First course").await;
    lms.enroll(&learner, course.id).await.unwrap();
    let all = CatalogQuery::default();
    let key = course.id.to_string();
    let page = lms.catalog(&all).await.unwrap();
    let tree = lms.course_detail(&learner, &key).await.unwrap();

    // A resume position and a completion change no page and no tree.
    for update in [
        ProgressUpdate {
            completed: None,
            position_secs: Some(30),
        },
        ProgressUpdate {
            completed: Some(true),
            position_secs: None,
        },
    ] {
        lms.update_progress(&learner, lecture.id, update)
            .await
            .unwrap();
    }
    assert!(Arc::ptr_eq(&page, &lms.catalog(&all).await.unwrap()));
    assert!(Arc::ptr_eq(
        &tree,
        &lms.course_detail(&learner, &key).await.unwrap()
    ));
}

/// A progress write finds its lecture through the cache, so another
/// instance may have deleted it since: the write is `not_found`, as it would
/// be uncached, and changes nothing.
async fn progress_in_a_lecture_deleted_elsewhere_is_not_found(h: Harness) {
    let lms = h.with_config(cached(60_000));
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let (course, first) = published(&lms, &owner, "First course").await;
    let second = LectureInput {
        title: "Second".into(),
        kind: "video".into(),
        body: None,
        duration_secs: Some(60),
        free_preview: None,
        position: None,
    };
    let second = lms
        .create_lecture(&owner, first.section_id, second)
        .await
        .unwrap();
    lms.enroll(&learner, course.id).await.unwrap();
    let at = |secs| ProgressUpdate {
        completed: None,
        position_secs: Some(secs),
    };
    lms.update_progress(&learner, second.id, at(10))
        .await
        .unwrap();

    let other = h.another_instance(cached(60_000)).await;
    other.delete_lecture(&owner, second.id).await.unwrap();
    let err = lms
        .update_progress(&learner, second.id, at(20))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let progress = other.course_progress(&learner, course.id).await.unwrap();
    assert_eq!(progress.lectures.len(), 1);
    assert_eq!(progress.lectures[0].position_secs, 0);
    // The lecture left works as before.
    let progress = lms
        .update_progress(&learner, first.id, at(30))
        .await
        .unwrap();
    assert_eq!(
        (progress.lecture.lecture_id, progress.lecture.position_secs),
        (first.id, 30)
    );
}

async fn a_zero_ttl_reads_the_store_every_time(h: Harness) {
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    published(&h.lms, &owner, "First course").await;
    let all = CatalogQuery::default();
    assert_eq!(h.lms.config().read_cache_ttl_ms, 0);
    let page = h.lms.catalog(&all).await.unwrap();
    assert!(!Arc::ptr_eq(&page, &h.lms.catalog(&all).await.unwrap()));
    // And another instance's write shows at once.
    let other = h.another_instance(config()).await;
    published(&other, &owner, "Second course").await;
    assert_eq!(
        titles(&h.lms.catalog(&all).await.unwrap()),
        ["First course", "Second course"]
    );
}
