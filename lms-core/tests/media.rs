//! Uploads, storage and playback through the `Lms` handle: local storage
//! and a real S3-compatible server that checks SigV4 (s3s-fs), Mux through
//! a loopback fake that checks what it is sent, on both stores.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{Harness, account};
use lms_core::events::kinds;
use lms_core::media::{AssetStatus, PlaybackKind, PlaybackOptions, VideoStatus, WebhookOutcome};
use lms_core::signing::timestamped_header;
use lms_core::{
    Actor, Config, CourseInput, CourseUpdate, ErrorKind, EventQuery, LectureInput, Lms,
    ProfileUpdate, Role, SectionInput, UploadInput,
};
use lms_tests::fake::FakeApi;
use lms_tests::keys;
use lms_tests::s3::{self, S3Server};
use serde_json::json;

on_both_stores!(
    bad_upload_requests_are_refused_naming_the_field_and_store_nothing,
    only_those_who_may_change_the_target_get_a_ticket,
    admins_and_the_operator_upload_in_a_users_name,
    a_local_upload_is_checked_stored_attached_once,
    a_thumbnail_key_names_a_stored_thumbnail_of_the_owner,
    s3_presigned_puts_carry_exactly_the_signed_type_and_size,
    mux_assets_webhooks_and_playback_follow_the_rules,
);

const MUX_WEBHOOK_SECRET: &str = "mux-webhook-secret";

fn temp_dir() -> String {
    std::env::temp_dir()
        .join(format!("lms-media-{}", uuid::Uuid::now_v7()))
        .display()
        .to_string()
}

/// A handle with local storage in a fresh folder.
fn local(h: &Harness) -> Lms {
    h.with_config(Config {
        data_dir: temp_dir(),
        ..common::config()
    })
}

fn s3_config(server: &S3Server) -> Config {
    Config {
        s3_bucket: Some(s3::BUCKET.into()),
        s3_region: "us-east-1".into(),
        s3_endpoint: Some(server.endpoint.clone()),
        s3_force_path_style: true,
        s3_access_key_id: Some(s3::ACCESS_KEY.into()),
        s3_secret_access_key: s3::SECRET_KEY.into(),
        ..common::config()
    }
}

/// A published course by `owner` with a video lecture (free preview when
/// asked) and an article lecture.
async fn course(
    lms: &Lms,
    owner: &Actor,
    preview: bool,
) -> (lms_core::Course, Vec<lms_core::Lecture>) {
    let course = lms
        .create_course(
            owner,
            CourseInput {
                title: format!("Course {}", uuid::Uuid::now_v7()),
                ..CourseInput::default()
            },
        )
        .await
        .unwrap();
    let section = lms
        .create_section(
            owner,
            course.id,
            SectionInput {
                title: "One".into(),
                position: None,
            },
        )
        .await
        .unwrap();
    let mut lectures = Vec::new();
    for (title, kind) in [("Video", "video"), ("Notes", "article")] {
        lectures.push(
            lms.create_lecture(
                owner,
                section.id,
                LectureInput {
                    title: title.into(),
                    kind: kind.into(),
                    body: Some("text".into()),
                    duration_secs: Some(10),
                    free_preview: Some(preview && kind == "video"),
                    position: None,
                },
            )
            .await
            .unwrap(),
        );
    }
    let course = lms.publish_course(owner, course.id).await.unwrap();
    (course, lectures)
}

fn video(lecture: lms_core::LectureId, size: i64) -> UploadInput {
    UploadInput {
        purpose: "lecture_video".into(),
        file_name: "Intro clip.mp4".into(),
        content_type: "video/mp4".into(),
        size,
        lecture_id: Some(lecture),
        ..UploadInput::default()
    }
}

async fn upload_events(lms: &Lms) -> usize {
    lms.events(
        &Actor::System,
        &EventQuery {
            kind: Some(kinds::ASSET_UPLOAD_STARTED.into()),
            ..EventQuery::default()
        },
    )
    .await
    .unwrap()
    .len()
}

/// Sends the upload a ticket describes, with the given body and type.
/// A PUT as the ticket says (its `headers`, `content-length` aside, which
/// follows the body), with `content_type` in place of the signed one.
async fn put(ticket: &lms_core::UploadTicket, body: Vec<u8>, content_type: &str) -> u16 {
    let mut request = reqwest::Client::new().put(&ticket.url);
    for (name, value) in &ticket.headers {
        if name != "content-type" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    request
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn bad_upload_requests_are_refused_naming_the_field_and_store_nothing(h: Harness) {
    let lms = local(&h);
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let (_, lectures) = course(&lms, &owner, false).await;
    let cases = [
        (
            UploadInput {
                purpose: "poster".into(),
                ..video(lectures[0].id, 10)
            },
            "purpose",
        ),
        (
            UploadInput {
                content_type: "application/x-msdownload".into(),
                ..video(lectures[0].id, 10)
            },
            "content_type",
        ),
        (video(lectures[0].id, 5 * 1024 * 1024 * 1024 + 1), "size"),
        (video(lectures[0].id, 0), "size"),
        (
            UploadInput {
                purpose: "avatar".into(),
                content_type: "image/png".into(),
                size: 10 * 1024 * 1024 + 1,
                ..UploadInput::default()
            },
            "size",
        ),
        (
            UploadInput {
                lecture_id: None,
                ..video(lectures[0].id, 10)
            },
            "lecture_id",
        ),
        // An article lecture has no video.
        (video(lectures[1].id, 10), "lecture_id"),
        // On screen "Introexe.mp4": the override reverses what follows it.
        (
            UploadInput {
                file_name: "Intro\u{202E}4pm.exe".into(),
                ..video(lectures[0].id, 10)
            },
            "file_name",
        ),
    ];
    for (input, field) in cases {
        let err = lms.create_upload(&owner, input).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{field}: {err:?}");
        assert!(
            err.fields().iter().any(|f| f.field == field),
            "{field}: {err:?}"
        );
    }
    assert_eq!(upload_events(&lms).await, 0);
}

async fn only_those_who_may_change_the_target_get_a_ticket(h: Harness) {
    let lms = local(&h);
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let other = account(&h, "other@example.com", Role::Instructor).await;
    let student = account(&h, "student@example.com", Role::Student).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let (course_row, lectures) = course(&lms, &owner, false).await;
    let thumb = UploadInput {
        purpose: "course_thumbnail".into(),
        file_name: "cover.webp".into(),
        content_type: "image/webp".into(),
        size: 100,
        course_id: Some(course_row.id),
        ..UploadInput::default()
    };
    let anon = lms
        .create_upload(&Actor::Anonymous, thumb.clone())
        .await
        .unwrap_err();
    assert_eq!(anon.kind(), ErrorKind::Unauthenticated);
    for actor in [&other, &student] {
        let err = lms.create_upload(actor, thumb.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        let err = lms
            .create_upload(actor, video(lectures[0].id, 10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden);
    }
    assert_eq!(upload_events(&lms).await, 0);
    let ticket = lms.create_upload(&owner, thumb.clone()).await.unwrap();
    lms.create_upload(&admin, thumb).await.unwrap();
    // Someone else's upload id reveals nothing.
    let err = lms
        .complete_upload(&other, ticket.upload_id)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Anyone signed in may upload their own avatar.
    let avatar = UploadInput {
        purpose: "avatar".into(),
        file_name: "me.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 10,
        ..UploadInput::default()
    };
    lms.create_upload(&student, avatar).await.unwrap();
    assert_eq!(upload_events(&lms).await, 3);
}

async fn admins_and_the_operator_upload_in_a_users_name(h: Harness) {
    let lms = local(&h);
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let student = account(&h, "student@example.com", Role::Student).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let (_, lectures) = course(&lms, &owner, false).await;
    let learner = student.user_id().unwrap();
    let avatar = UploadInput {
        purpose: "avatar".into(),
        file_name: "me.png".into(),
        content_type: "image/png".into(),
        size: 10,
        ..UploadInput::default()
    };
    // The operator has no account: only the named form works for it.
    let err = lms
        .create_upload(&Actor::System, avatar.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    for (actor, kind) in [
        (&Actor::Anonymous, ErrorKind::Unauthenticated),
        (&student, ErrorKind::Forbidden),
        (&owner, ErrorKind::Forbidden),
    ] {
        let err = lms
            .create_upload_for(actor, learner, avatar.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    let err = lms
        .create_upload_for(&Actor::System, lms_core::UserId::new(), avatar.clone())
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "owner");
    assert_eq!(upload_events(&lms).await, 0);

    // The upload is the named user's: they see it, and the operator
    // completes it (here: finds nothing uploaded yet).
    let ticket = lms
        .create_upload_for(&Actor::System, learner, avatar)
        .await
        .unwrap();
    assert_eq!(
        lms.upload(&student, ticket.upload_id)
            .await
            .unwrap()
            .owner_id,
        learner
    );
    let err = lms
        .complete_upload(&Actor::System, ticket.upload_id)
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "upload");
    // A lecture file in the owner's name, by an admin.
    let by_admin = lms
        .create_upload_for(&admin, owner.user_id().unwrap(), video(lectures[0].id, 100))
        .await
        .unwrap();
    let asset = lms.upload(&owner, by_admin.upload_id).await.unwrap();
    assert_eq!(asset.lecture_id, Some(lectures[0].id));
    assert_eq!(upload_events(&lms).await, 2);
}

async fn a_local_upload_is_checked_stored_attached_once(h: Harness) {
    let lms = local(&h);
    let student = account(&h, "student@example.com", Role::Student).await;
    let ticket = lms
        .create_upload(
            &student,
            UploadInput {
                purpose: "avatar".into(),
                file_name: "My Face!.png".into(),
                content_type: "image/png".into(),
                size: 4,
                ..UploadInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ticket.method, "PUT");
    assert_eq!(ticket.headers["content-type"], "image/png");
    assert_eq!(ticket.headers["content-length"], "4");
    // Completing before the file is there is a clear 422 and stores nothing.
    let err = lms
        .complete_upload(&student, ticket.upload_id)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.fields()[0].field, "upload");

    let storage = lms.local_storage().expect("local storage is the default");
    let (path, query) = ticket.url.split_once('?').unwrap();
    let key = path.split_once("/media/").unwrap().1;
    assert!(
        key.starts_with("public/avatars/") && key.ends_with("/My-Face-.png"),
        "{key}"
    );
    let grant = storage
        .authorize("PUT", key, Some(query), lms.now())
        .unwrap();
    let mut upload = storage.begin_put(&grant, Some("image/png")).await.unwrap();
    upload.write(b"\x89PNG").await.unwrap();
    upload.finish().await.unwrap();

    let asset = lms
        .complete_upload(&student, ticket.upload_id)
        .await
        .unwrap();
    assert_eq!(asset.status, AssetStatus::Stored);
    let url = asset.public_url.clone().unwrap();
    assert!(url.ends_with(key), "{url}");
    let me = lms.current_user(&student).await.unwrap();
    assert_eq!(me.avatar_key.as_deref(), Some(key));
    // A stored avatar may be named again by its uploader, not by another
    // user, whose profile stays as it was.
    let profile = |key: Option<&str>| -> ProfileUpdate {
        serde_json::from_value(serde_json::json!({ "avatar_key": key })).unwrap()
    };
    let cleared = lms.update_profile(&student, profile(None)).await.unwrap();
    assert_eq!(cleared.avatar_key, None);
    let named = lms
        .update_profile(&student, profile(Some(key)))
        .await
        .unwrap();
    assert_eq!(named.avatar_key.as_deref(), Some(key));
    let other = account(&h, "other@example.com", Role::Student).await;
    let err = lms
        .update_profile(&other, profile(Some(key)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.fields()[0].field.as_str()),
        (ErrorKind::InvalidInput, "avatar_key")
    );
    assert_eq!(lms.current_user(&other).await.unwrap().avatar_key, None);
    // Again: the same asset, no second event.
    let again = lms
        .complete_upload(&student, ticket.upload_id)
        .await
        .unwrap();
    assert_eq!(again, asset);
    let stored = lms
        .events(
            &Actor::System,
            &EventQuery {
                kind: Some(kinds::ASSET_STORED.into()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);

    // A file of another size than declared is refused at complete.
    let ticket = lms
        .create_upload(
            &student,
            UploadInput {
                purpose: "avatar".into(),
                file_name: "b.png".into(),
                content_type: "image/png".into(),
                size: 8,
                ..UploadInput::default()
            },
        )
        .await
        .unwrap();
    let key = ticket
        .url
        .split_once("/media/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap();
    let file = storage.root().join(key);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"short").unwrap();
    let err = lms
        .complete_upload(&student, ticket.upload_id)
        .await
        .unwrap_err();
    assert!(
        err.message().contains("5 bytes, not the declared 8"),
        "{err:?}"
    );
    let me = lms.current_user(&student).await.unwrap();
    assert_ne!(me.avatar_key.as_deref(), Some(key));
}

async fn a_thumbnail_key_names_a_stored_thumbnail_of_the_owner(h: Harness) {
    let lms = local(&h);
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let rival = account(&h, "rival@example.com", Role::Instructor).await;
    let admin = account(&h, "admin@example.com", Role::Admin).await;
    let (mine, _) = course(&lms, &owner, false).await;
    // The owner's own thumbnail, uploaded and stored.
    let ticket = lms
        .create_upload(
            &owner,
            UploadInput {
                purpose: "course_thumbnail".into(),
                course_id: Some(mine.id),
                file_name: "cover.png".into(),
                content_type: "image/png".into(),
                size: 4,
                ..UploadInput::default()
            },
        )
        .await
        .unwrap();
    let (path, query) = ticket.url.split_once('?').unwrap();
    let key = path.split_once("/media/").unwrap().1.to_owned();
    let storage = lms.local_storage().unwrap();
    let grant = storage
        .authorize("PUT", &key, Some(query), lms.now())
        .unwrap();
    let mut upload = storage.begin_put(&grant, Some("image/png")).await.unwrap();
    upload.write(b"\x89PNG").await.unwrap();
    upload.finish().await.unwrap();
    lms.complete_upload(&owner, ticket.upload_id).await.unwrap();

    let thumbnail = |key: Option<&str>| -> CourseUpdate {
        serde_json::from_value(json!({ "thumbnail_key": key })).unwrap()
    };
    let refused = |err: lms_core::Error| {
        assert_eq!(
            (err.kind(), err.fields()[0].field.as_str()),
            (ErrorKind::InvalidInput, "thumbnail_key"),
            "{err:?}"
        );
    };
    // A key nothing was uploaded to, on an existing or a new course.
    let nowhere = "public/thumbnails/0193/none.png";
    refused(
        lms.update_course(&owner, mine.id, thumbnail(Some(nowhere)))
            .await
            .unwrap_err(),
    );
    let input = CourseInput {
        title: "Borrowed".into(),
        thumbnail_key: Some(key.clone()),
        ..CourseInput::default()
    };
    // Another instructor may not put the owner's file on their course.
    refused(lms.create_course(&rival, input.clone()).await.unwrap_err());
    let (theirs, _) = course(&lms, &rival, false).await;
    refused(
        lms.update_course(&rival, theirs.id, thumbnail(Some(&key)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        lms.course_detail(&rival, &theirs.id.to_string())
            .await
            .unwrap()
            .summary
            .course
            .thumbnail_key,
        None
    );
    // The owner names it again after clearing it, or on a new course of
    // theirs; an admin names any key.
    let cleared = lms
        .update_course(&owner, mine.id, thumbnail(None))
        .await
        .unwrap();
    assert_eq!(cleared.thumbnail_key, None);
    let named = lms
        .update_course(&owner, mine.id, thumbnail(Some(&key)))
        .await
        .unwrap();
    assert_eq!(named.thumbnail_key.as_deref(), Some(key.as_str()));
    let second = lms.create_course(&owner, input).await.unwrap();
    assert_eq!(second.thumbnail_key.as_deref(), Some(key.as_str()));
    let repaired = lms
        .update_course(&admin, theirs.id, thumbnail(Some(nowhere)))
        .await
        .unwrap();
    assert_eq!(repaired.thumbnail_key.as_deref(), Some(nowhere));
}

async fn s3_presigned_puts_carry_exactly_the_signed_type_and_size(h: Harness) {
    let server = S3Server::start().await;
    let lms = h.with_config(s3_config(&server));
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let (_, lectures) = course(&lms, &owner, false).await;
    let body = vec![7u8; 1000];
    let ticket = lms
        .create_upload(&owner, video(lectures[0].id, 1000))
        .await
        .unwrap();
    assert!(ticket.url.starts_with(&server.endpoint), "{}", ticket.url);
    assert!(ticket.url.contains("X-Amz-Signature="));

    // Another type, a longer body, a tampered URL: all refused by S3.
    assert_eq!(put(&ticket, body.clone(), "video/webm").await, 403);
    assert_eq!(put(&ticket, vec![7u8; 1001], "video/mp4").await, 403);
    let mut tampered = ticket.clone();
    tampered.url = ticket.url.replace("Intro-clip.mp4", "other.mp4");
    assert_eq!(put(&tampered, body.clone(), "video/mp4").await, 403);
    let err = lms
        .complete_upload(&owner, ticket.upload_id)
        .await
        .unwrap_err();
    assert_eq!(
        err.fields()[0].field,
        "upload",
        "nothing was stored: {err:?}"
    );

    // A ticket issued an hour ago has expired.
    h.clock.advance(Duration::from_secs(0));
    let old = h.with_config(s3_config(&server));
    let before = lms.now() - chrono::Duration::hours(1);
    let past = lms_core::ManualClock::new(before);
    let old = Lms::builder(old.config().clone())
        .store(h.store.clone())
        .clock(Arc::new(past))
        .build()
        .unwrap();
    let expired = old
        .create_upload(&owner, video(lectures[0].id, 1000))
        .await
        .unwrap();
    assert_eq!(put(&expired, body.clone(), "video/mp4").await, 403);

    // Exactly as signed: stored, and complete checks it with a HEAD.
    assert_eq!(put(&ticket, body.clone(), "video/mp4").await, 200);
    let asset = lms.complete_upload(&owner, ticket.upload_id).await.unwrap();
    assert_eq!(asset.status, AssetStatus::Stored);
    assert_eq!(server.object(&asset.object_key).unwrap(), body);
    // The link writes once: a second PUT finds the object and changes nothing.
    assert_eq!(ticket.headers["if-none-match"], "*");
    assert_eq!(put(&ticket, vec![9u8; 1000], "video/mp4").await, 412);
    assert_eq!(server.object(&asset.object_key).unwrap(), body);
    // Without Mux the source file plays through a presigned GET.
    let playback = lms
        .playback(&owner, lectures[0].id, PlaybackOptions::default())
        .await
        .unwrap();
    assert_eq!(playback.kind, PlaybackKind::File);
    let got = reqwest::get(&playback.url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), body);
}

fn mux_config(data_dir: String, api: &str) -> Config {
    Config {
        data_dir,
        mux_token_id: Some("mux-token-id".into()),
        mux_token_secret: "mux-token-secret".into(),
        mux_signing_key_id: Some("signing-key-1".into()),
        mux_signing_private_key: base64::engine::general_purpose::STANDARD
            .encode(keys::MUX_SIGNING_KEY_PEM)
            .into(),
        mux_webhook_secret: MUX_WEBHOOK_SECRET.into(),
        mux_api_url: api.into(),
        ..common::config()
    }
}

fn signed(lms: &Lms, body: &serde_json::Value, age_secs: i64) -> (String, Vec<u8>) {
    let body = serde_json::to_vec(body).unwrap();
    let header = timestamped_header(
        &body,
        MUX_WEBHOOK_SECRET.as_bytes(),
        lms.now().timestamp() - age_secs,
    );
    (header, body)
}

async fn mux_assets_webhooks_and_playback_follow_the_rules(h: Harness) {
    let mux = FakeApi::start(|_| {
        (
            http::StatusCode::CREATED,
            json!({"data": {"id": "mux-asset-1", "status": "preparing"}}),
        )
    })
    .await;
    let lms = h.with_config(mux_config(temp_dir(), &mux.url));
    let owner = account(&h, "owner@example.com", Role::Instructor).await;
    let learner = account(&h, "learner@example.com", Role::Student).await;
    let outsider = account(&h, "outsider@example.com", Role::Student).await;
    let (course_row, lectures) = course(&lms, &owner, false).await;
    lms.enroll(&learner, course_row.id).await.unwrap();

    let ticket = lms
        .create_upload(&owner, video(lectures[0].id, 3))
        .await
        .unwrap();
    let storage = lms.local_storage().unwrap();
    let (path, query) = ticket.url.split_once('?').unwrap();
    let key = path.split_once("/media/").unwrap().1;
    let grant = storage
        .authorize("PUT", key, Some(query), lms.now())
        .unwrap();
    let mut upload = storage.begin_put(&grant, Some("video/mp4")).await.unwrap();
    upload.write(b"abc").await.unwrap();
    upload.finish().await.unwrap();
    let asset = lms.complete_upload(&owner, ticket.upload_id).await.unwrap();
    assert_eq!(asset.mux_asset_id.as_deref(), Some("mux-asset-1"));
    assert_eq!(asset.video_status, Some(VideoStatus::Processing));

    // What Mux was sent: Basic auth, signed playback, our id, a source link.
    let sent = mux.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, http::Method::POST);
    assert_eq!(sent[0].path, "/video/v1/assets");
    let basic = base64::engine::general_purpose::STANDARD.encode("mux-token-id:mux-token-secret");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let body = sent[0].json();
    assert_eq!(body["playback_policies"], json!(["signed"]));
    assert_eq!(body["passthrough"], json!(asset.id.to_string()));
    let source = body["inputs"][0]["url"].as_str().unwrap();
    let (source_path, source_query) = source.split_once('?').unwrap();
    assert!(source_path.ends_with(key));
    storage
        .authorize("GET", key, Some(source_query), lms.now())
        .unwrap();
    // A second complete does not create a second Mux asset.
    lms.complete_upload(&owner, ticket.upload_id).await.unwrap();
    assert_eq!(mux.requests().len(), 1);

    let err = lms
        .playback(&learner, lectures[0].id, PlaybackOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "still processing");

    let ready = json!({
        "id": "evt-ready", "type": "video.asset.ready",
        "data": {"id": "mux-asset-1", "passthrough": asset.id.to_string(), "duration": 123.4,
                 "playback_ids": [{"id": "pb-signed", "policy": "signed"}]}
    });
    // Tampered, wrong secret, stale, unsigned: refused, nothing changes.
    let (header, body) = signed(&lms, &ready, 0);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    for (header, body) in [
        (Some(header.clone()), tampered),
        (
            Some(timestamped_header(
                &body,
                b"other-secret",
                lms.now().timestamp(),
            )),
            body.clone(),
        ),
        (
            Some(signed(&lms, &ready, 301).0),
            signed(&lms, &ready, 301).1,
        ),
        (None, body.clone()),
    ] {
        let err = lms.mux_webhook(header.as_deref(), &body).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
    }
    assert_eq!(
        lms.mux_webhook(Some(&header), &body).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    assert_eq!(
        lms.mux_webhook(Some(&header), &body).await.unwrap().outcome,
        WebhookOutcome::Duplicate
    );
    let lecture = lms.lecture(&owner, lectures[0].id).await.unwrap().lecture;
    assert_eq!(lecture.duration_secs, 123);

    // A late "created" does not move the status back.
    let created = json!({"id": "evt-created", "type": "video.asset.created",
                         "data": {"id": "mux-asset-1", "passthrough": asset.id.to_string()}});
    let (header, body) = signed(&lms, &created, 0);
    assert_eq!(
        lms.mux_webhook(Some(&header), &body).await.unwrap().outcome,
        WebhookOutcome::Ignored
    );
    // Unknown types and unknown assets are accepted and change nothing.
    for event in [
        json!({"id": "evt-x", "type": "video.live_stream.idle", "data": {"id": "ls"}}),
        json!({"id": "evt-y", "type": "video.asset.ready", "data": {"id": "not-ours"}}),
    ] {
        let (header, body) = signed(&lms, &event, 0);
        assert_eq!(
            lms.mux_webhook(Some(&header), &body).await.unwrap().outcome,
            WebhookOutcome::Ignored
        );
    }

    // Playback: the enrolled learner and the owner, with RS256 tokens; the
    // images only when asked for, each with its own audience.
    let video_only = PlaybackOptions::default();
    let with_images = PlaybackOptions {
        thumbnail: true,
        storyboard: true,
    };
    for (actor, options) in [(&learner, video_only), (&owner, with_images)] {
        let playback = lms.playback(actor, lectures[0].id, options).await.unwrap();
        assert_eq!(playback.kind, PlaybackKind::Mux);
        assert_eq!(playback.playback_id.as_deref(), Some("pb-signed"));
        let token = playback.token.clone().unwrap();
        assert_eq!(
            playback.url,
            format!("https://stream.mux.com/pb-signed.m3u8?token={token}")
        );
        let key =
            jsonwebtoken::DecodingKey::from_rsa_pem(keys::MUX_SIGNING_PUBLIC_KEY_PEM.as_bytes())
                .unwrap();
        let mut tokens = vec![(token, "v")];
        if options == with_images {
            let thumbnail = playback.thumbnail_token.clone().unwrap();
            let storyboard = playback.storyboard_token.clone().unwrap();
            assert_eq!(
                playback.thumbnail_url.as_deref(),
                Some(&*format!(
                    "https://image.mux.com/pb-signed/thumbnail.jpg?token={thumbnail}"
                ))
            );
            assert_eq!(
                playback.storyboard_url.as_deref(),
                Some(&*format!(
                    "https://image.mux.com/pb-signed/storyboard.vtt?token={storyboard}"
                ))
            );
            tokens.extend([(thumbnail, "t"), (storyboard, "s")]);
        } else {
            assert_eq!(playback.thumbnail_url, None);
            assert_eq!(playback.thumbnail_token, None);
            assert_eq!(playback.storyboard_url, None);
            assert_eq!(playback.storyboard_token, None);
        }
        for (token, aud) in tokens {
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
            assert_eq!(header.kid.as_deref(), Some("signing-key-1"));
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.set_audience(&[aud]);
            let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
                .unwrap()
                .claims;
            assert_eq!(claims["sub"], "pb-signed");
            assert_eq!(claims["kid"], "signing-key-1");
            assert_eq!(
                claims["exp"].as_i64().unwrap(),
                playback.expires_at.timestamp()
            );
        }
    }
    let err = lms
        .playback(&outsider, lectures[0].id, PlaybackOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let err = lms
        .playback(
            &Actor::Anonymous,
            lectures[0].id,
            PlaybackOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    let err = lms
        .playback(&learner, lectures[1].id, PlaybackOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "the article has no video");

    // Deleted at Mux: no more playback.
    let deleted = json!({"id": "evt-deleted", "type": "video.asset.deleted",
                         "data": {"id": "mux-asset-1", "passthrough": asset.id.to_string()}});
    let (header, body) = signed(&lms, &deleted, 0);
    assert_eq!(
        lms.mux_webhook(Some(&header), &body).await.unwrap().outcome,
        WebhookOutcome::Applied
    );
    let err = lms
        .playback(&learner, lectures[0].id, PlaybackOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
