//! Live classes through the `Lms` handle on both stores: who schedules and
//! sees them, LiveKit room tokens decoded claim by claim, webhook
//! deliveries (valid, tampered, wrong secret, stale, duplicate, late), and
//! ingresses through a loopback fake of LiveKit's Twirp API that checks
//! what it is sent.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{Harness, account};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lms_core::events::kinds;
use lms_core::live::{IngressType, LiveRole};
use lms_core::media::WebhookOutcome;
use lms_core::{
    Actor, Config, CourseInput, ErrorKind, EventQuery, IngressInput, LectureInput,
    LiveSessionInput, LiveSessionUpdate, LiveStatus, Lms, Role, SectionInput, Timestamp,
};
use lms_tests::fake::FakeApi;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_stores!(
    owners_and_admins_schedule_and_learners_see,
    bad_schedules_are_refused_naming_the_field_and_store_nothing,
    room_tokens_grant_hosts_and_viewers_what_they_may_do,
    webhooks_are_verified_applied_once_and_only_forward,
    an_ingress_is_created_through_twirp_for_hosts_only,
    without_livekit_tokens_ingresses_and_webhooks_say_so,
);

const API_KEY: &str = "APItestkey";
const API_SECRET: &str = "livekit-test-secret-0123456789abcdef";

fn livekit_config(url: &str) -> Config {
    Config {
        livekit_url: Some(url.into()),
        livekit_api_key: Some(API_KEY.into()),
        livekit_api_secret: API_SECRET.into(),
        livekit_token_ttl_secs: 7200,
        ..common::config()
    }
}

/// Who takes part in a course's classes.
struct Cast {
    owner: Actor,
    admin: Actor,
    learner: Actor,
    outsider: Actor,
    course: lms_core::Course,
}

/// A published free course by an instructor, one enrolled learner, an
/// admin and a student who is not enrolled.
async fn cast(h: &Harness, lms: &Lms) -> Cast {
    let owner = account(h, "owner@example.com", Role::Instructor).await;
    let admin = account(h, "admin@example.com", Role::Admin).await;
    let learner = account(h, "learner@example.com", Role::Student).await;
    let outsider = account(h, "outsider@example.com", Role::Student).await;
    let course = lms
        .create_course(
            &owner,
            CourseInput {
                title: "Live course".into(),
                ..CourseInput::default()
            },
        )
        .await
        .unwrap();
    let section = lms
        .create_section(
            &owner,
            course.id,
            SectionInput {
                title: "One".into(),
                position: None,
            },
        )
        .await
        .unwrap();
    lms.create_lecture(
        &owner,
        section.id,
        LectureInput {
            title: "Welcome".into(),
            kind: "article".into(),
            body: Some("text".into()),
            duration_secs: Some(10),
            free_preview: Some(false),
            position: None,
        },
    )
    .await
    .unwrap();
    let course = lms.publish_course(&owner, course.id).await.unwrap();
    lms.enroll(&learner, course.id).await.unwrap();
    Cast {
        owner,
        admin,
        learner,
        outsider,
        course,
    }
}

fn soon(lms: &Lms) -> Timestamp {
    lms.now() + chrono::Duration::hours(2)
}

fn input(title: &str, starts_at: Timestamp) -> LiveSessionInput {
    LiveSessionInput {
        title: title.into(),
        starts_at,
    }
}

async fn count(lms: &Lms, kind: &str) -> usize {
    lms.events(
        &Actor::System,
        &EventQuery {
            kind: Some(kind.into()),
            ..EventQuery::default()
        },
    )
    .await
    .unwrap()
    .len()
}

async fn owners_and_admins_schedule_and_learners_see(h: Harness) {
    let lms = h.lms.clone();
    let c = cast(&h, &lms).await;
    let later = soon(&lms);
    let first = lms
        .create_live_session(&c.owner, c.course.id, input("  Office hours ", later))
        .await
        .unwrap();
    assert_eq!(first.title, "Office hours");
    assert_eq!(first.status, LiveStatus::Scheduled);
    assert_eq!(first.room_name, format!("lms-{}", first.id));
    assert_eq!(first.starts_at, later);
    assert_eq!(first.course_id, c.course.id);
    assert_eq!(first.created_by, c.owner.user_id().unwrap());
    assert!(first.ingress.is_none() && first.started_at.is_none() && first.ended_at.is_none());
    let earlier = lms
        .create_live_session(&c.admin, c.course.id, input("Kick-off", lms.now()))
        .await
        .unwrap();
    assert_eq!(count(&lms, kinds::LIVE_SESSION_SCHEDULED).await, 2);

    // Learners, outsiders and anonymous callers may not schedule.
    for (actor, kind) in [
        (&c.learner, ErrorKind::Forbidden),
        (&c.outsider, ErrorKind::Forbidden),
        (&Actor::Anonymous, ErrorKind::Unauthenticated),
    ] {
        let err = lms
            .create_live_session(actor, c.course.id, input("Nope", later))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    assert_eq!(count(&lms, kinds::LIVE_SESSION_SCHEDULED).await, 2);

    // Listed by start for the owner, admins and the enrolled learner.
    for actor in [&c.owner, &c.admin, &c.learner, &Actor::System] {
        let list = lms.live_sessions(actor, c.course.id).await.unwrap();
        let ids: Vec<_> = list.iter().map(|s| s.id).collect();
        assert_eq!(ids, [earlier.id, first.id]);
        assert_eq!(lms.live_session(actor, first.id).await.unwrap(), first);
    }
    for (actor, kind) in [
        (&c.outsider, ErrorKind::Forbidden),
        (&Actor::Anonymous, ErrorKind::Unauthenticated),
    ] {
        assert_eq!(
            lms.live_sessions(actor, c.course.id)
                .await
                .unwrap_err()
                .kind(),
            kind
        );
        assert_eq!(
            lms.live_session(actor, first.id).await.unwrap_err().kind(),
            kind
        );
    }
    let missing = lms_core::LiveSessionId::new();
    assert_eq!(
        lms.live_session(&c.owner, missing)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    // A draft course's classes do not exist for those who cannot see it.
    let draft = lms
        .create_course(
            &c.owner,
            CourseInput {
                title: "Draft course".into(),
                ..CourseInput::default()
            },
        )
        .await
        .unwrap();
    let hidden = lms
        .create_live_session(&c.owner, draft.id, input("Secret", later))
        .await
        .unwrap();
    for actor in [&c.learner, &c.outsider, &Actor::Anonymous] {
        assert_eq!(
            lms.live_session(actor, hidden.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            lms.live_sessions(actor, draft.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    // The owner changes and cancels; the learner may not.
    let err = lms
        .update_live_session(
            &c.learner,
            first.id,
            LiveSessionUpdate {
                title: Some("Mine".into()),
                starts_at: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let moved = later + chrono::Duration::days(1);
    let updated = lms
        .update_live_session(
            &c.owner,
            first.id,
            LiveSessionUpdate {
                title: Some("Office hours (moved)".into()),
                starts_at: Some(moved),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.title.as_str(), updated.starts_at),
        ("Office hours (moved)", moved)
    );
    let same = lms
        .update_live_session(&c.owner, first.id, LiveSessionUpdate::default())
        .await
        .unwrap();
    assert_eq!(same, updated);
    let events = lms
        .events(
            &Actor::System,
            &EventQuery {
                kind: Some(kinds::LIVE_SESSION_UPDATED.into()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "an empty change writes nothing");
    assert_eq!(events[0].payload["fields"], json!(["title", "starts_at"]));
    assert_eq!(events[0].course_id, Some(c.course.id.0));

    assert_eq!(
        lms.cancel_live_session(&c.learner, first.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    let cancelled = lms.cancel_live_session(&c.owner, first.id).await.unwrap();
    assert_eq!(cancelled.status, LiveStatus::Cancelled);
    assert_eq!(cancelled.ended_at, Some(lms.now()));
    let again = lms.cancel_live_session(&c.admin, first.id).await.unwrap();
    assert_eq!(again, cancelled);
    assert_eq!(count(&lms, kinds::LIVE_SESSION_CANCELLED).await, 1);
    let err = lms
        .update_live_session(
            &c.owner,
            first.id,
            LiveSessionUpdate {
                title: Some("Back".into()),
                starts_at: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

async fn bad_schedules_are_refused_naming_the_field_and_store_nothing(h: Harness) {
    let lms = h.lms.clone();
    let c = cast(&h, &lms).await;
    let now = lms.now();
    let cases = [
        (input(" ", soon(&lms)), vec!["title"]),
        (input(&"x".repeat(201), soon(&lms)), vec!["title"]),
        (input("Two\nlines", soon(&lms)), vec!["title"]),
        (
            input("Old", now - chrono::Duration::hours(2)),
            vec!["starts_at"],
        ),
        (
            input("Far", now + chrono::Duration::days(800)),
            vec!["starts_at"],
        ),
        (
            input("", now - chrono::Duration::days(1)),
            vec!["title", "starts_at"],
        ),
    ];
    for (input, fields) in cases {
        let err = lms
            .create_live_session(&c.owner, c.course.id, input)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let named: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, fields);
    }
    assert!(
        lms.live_sessions(&c.owner, c.course.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&lms, kinds::LIVE_SESSION_SCHEDULED).await, 0);

    let session = lms
        .create_live_session(&c.owner, c.course.id, input("Fine", soon(&lms)))
        .await
        .unwrap();
    let err = lms
        .update_live_session(
            &c.owner,
            session.id,
            LiveSessionUpdate {
                title: Some("".into()),
                starts_at: Some(now - chrono::Duration::days(3)),
            },
        )
        .await
        .unwrap_err();
    let named: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(named, ["title", "starts_at"]);
    assert_eq!(
        lms.live_session(&c.owner, session.id).await.unwrap(),
        session
    );
    assert_eq!(count(&lms, kinds::LIVE_SESSION_UPDATED).await, 0);

    // A course that does not exist.
    let err = lms
        .create_live_session(
            &c.owner,
            lms_core::CourseId::new(),
            input("Nowhere", soon(&lms)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A room token's claims, checked with LiveKit's algorithm and our key.
fn decode(token: &str, secret: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[API_KEY]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
    // Checked against the test's clock below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims
}

async fn room_tokens_grant_hosts_and_viewers_what_they_may_do(h: Harness) {
    let lms = h.with_config(livekit_config("wss://live.example.com"));
    let c = cast(&h, &lms).await;
    let session = lms
        .create_live_session(&c.owner, c.course.id, input("Live", soon(&lms)))
        .await
        .unwrap();
    let now = lms.now().timestamp();
    let room = session.room_name.clone();

    for (actor, name, role) in [
        (&c.owner, "Name of owner", LiveRole::Host),
        (&c.admin, "Name of admin", LiveRole::Host),
        (&c.learner, "Name of learner", LiveRole::Viewer),
    ] {
        let answer = lms.live_token(actor, session.id).await.unwrap();
        let user = actor.user_id().unwrap().to_string();
        assert_eq!(answer.url, "wss://live.example.com");
        assert_eq!(answer.room_name, room);
        assert_eq!(answer.identity, user);
        assert_eq!(answer.role, role);
        assert_eq!(answer.expires_at.timestamp(), now + 7200);
        // The wrong secret does not verify it.
        let wrong = jsonwebtoken::decode::<Value>(
            &answer.token,
            &DecodingKey::from_secret(b"another-secret"),
            &Validation::new(Algorithm::HS256),
        );
        assert!(wrong.is_err());
        let claims = decode(&answer.token, API_SECRET);
        let video = match role {
            LiveRole::Host => json!({
                "roomJoin": true, "room": room, "canPublish": true, "canSubscribe": true,
                "canPublishData": true, "roomAdmin": true,
            }),
            LiveRole::Viewer => json!({
                "roomJoin": true, "room": room, "canPublish": false, "canSubscribe": true,
                "canPublishData": true,
            }),
        };
        assert_eq!(
            claims,
            json!({
                "iss": API_KEY, "sub": user, "name": name, "nbf": now, "exp": now + 7200,
                "video": video,
            })
        );
    }

    // Everyone else is refused, as for the course's lectures.
    for (actor, kind) in [
        (&c.outsider, ErrorKind::Forbidden),
        (&Actor::Anonymous, ErrorKind::Unauthenticated),
        (&Actor::System, ErrorKind::Unauthenticated),
    ] {
        let err = lms.live_token(actor, session.id).await.unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    // A revoked learner loses the room with the course.
    lms.revoke_enrollment(&c.owner, c.course.id, c.learner.user_id().unwrap())
        .await
        .unwrap();
    assert_eq!(
        lms.live_token(&c.learner, session.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );

    // A cancelled class issues no more tokens.
    lms.cancel_live_session(&c.owner, session.id).await.unwrap();
    let err = lms.live_token(&c.owner, session.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[derive(serde::Serialize)]
struct WebhookClaims {
    iss: String,
    nbf: i64,
    exp: i64,
    sha256: String,
}

/// A delivery as LiveKit sends it: the body and a JWT over its SHA-256.
fn delivery(event: &Value, key: &str, secret: &str, at: i64) -> (String, Vec<u8>) {
    let body = serde_json::to_vec(event).unwrap();
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &WebhookClaims {
            iss: key.into(),
            nbf: at,
            exp: at + 300,
            sha256,
        },
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    (token, body)
}

fn room_event(id: &str, kind: &str, room: &str) -> Value {
    json!({
        "event": kind, "id": id, "createdAt": "1700000000",
        "room": {"sid": "RM_abc", "name": room},
    })
}

async fn webhooks_are_verified_applied_once_and_only_forward(h: Harness) {
    let lms = h.with_config(livekit_config("wss://live.example.com"));
    let c = cast(&h, &lms).await;
    let session = lms
        .create_live_session(&c.owner, c.course.id, input("Live", soon(&lms)))
        .await
        .unwrap();
    let room = session.room_name.as_str();
    let now = lms.now().timestamp();
    let started = room_event("EV_start", "room_started", room);

    // Tampered, wrong secret, wrong key, stale, early, unsigned: refused.
    let (good, body) = delivery(&started, API_KEY, API_SECRET, now);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'R').unwrap();
    tampered[at] = b'X';
    let (wrong_secret, _) = delivery(&started, API_KEY, "not-the-secret", now);
    let (wrong_key, _) = delivery(&started, "APIother", API_SECRET, now);
    let (stale, _) = delivery(&started, API_KEY, API_SECRET, now - 3600);
    let (early, _) = delivery(&started, API_KEY, API_SECRET, now + 3600);
    for (header, body) in [
        (Some(good.as_str()), tampered.as_slice()),
        (Some(wrong_secret.as_str()), body.as_slice()),
        (Some(wrong_key.as_str()), body.as_slice()),
        (Some(stale.as_str()), body.as_slice()),
        (Some(early.as_str()), body.as_slice()),
        (None, body.as_slice()),
    ] {
        let err = lms.livekit_webhook(header, body).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{header:?}");
    }
    assert_eq!(
        lms.live_session(&c.owner, session.id).await.unwrap().status,
        LiveStatus::Scheduled
    );

    // Valid: the class is live; the same delivery again is a duplicate.
    h.clock.advance(Duration::from_secs(5));
    let receipt = lms.livekit_webhook(Some(&good), &body).await.unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Applied);
    let live = lms.live_session(&c.learner, session.id).await.unwrap();
    assert_eq!(live.status, LiveStatus::Live);
    assert_eq!(live.started_at, Some(lms.now()));
    assert_eq!(
        lms.livekit_webhook(Some(&good), &body)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Duplicate
    );
    assert_eq!(count(&lms, kinds::LIVE_SESSION_STARTED).await, 1);

    // Other events, unknown rooms: accepted, nothing changes.
    for event in [
        room_event("EV_join", "participant_joined", room),
        room_event("EV_other", "room_started", "some-other-room"),
    ] {
        let (header, body) = delivery(&event, API_KEY, API_SECRET, now);
        assert_eq!(
            lms.livekit_webhook(Some(&header), &body)
                .await
                .unwrap()
                .outcome,
            WebhookOutcome::Ignored
        );
    }
    // A body without an event id cannot be deduplicated: refused.
    let (header, body) = delivery(&json!({"event": "room_started"}), API_KEY, API_SECRET, now);
    let err = lms.livekit_webhook(Some(&header), &body).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // Finished: ended. A late room_started never reopens it.
    h.clock.advance(Duration::from_secs(60));
    let (header, body) = delivery(
        &room_event("EV_finish", "room_finished", room),
        API_KEY,
        API_SECRET,
        lms.now().timestamp(),
    );
    assert_eq!(
        lms.livekit_webhook(Some(&header), &body)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Applied
    );
    let ended = lms.live_session(&c.owner, session.id).await.unwrap();
    assert_eq!(ended.status, LiveStatus::Ended);
    assert_eq!(ended.ended_at, Some(lms.now()));
    let (header, body) = delivery(
        &room_event("EV_late", "room_started", room),
        API_KEY,
        API_SECRET,
        lms.now().timestamp(),
    );
    assert_eq!(
        lms.livekit_webhook(Some(&header), &body)
            .await
            .unwrap()
            .outcome,
        WebhookOutcome::Ignored
    );
    assert_eq!(
        lms.live_session(&c.owner, session.id).await.unwrap().status,
        LiveStatus::Ended
    );
    let events = lms
        .events(
            &Actor::System,
            &EventQuery {
                kind: Some(kinds::LIVE_SESSION_ENDED.into()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["event_id"], json!("EV_finish"));
    assert_eq!(events[0].actor_kind, "system");

    // An ended class issues no tokens and can be neither changed nor cancelled.
    for err in [
        lms.live_token(&c.owner, session.id).await.unwrap_err(),
        lms.cancel_live_session(&c.owner, session.id)
            .await
            .unwrap_err(),
        lms.update_live_session(
            &c.owner,
            session.id,
            LiveSessionUpdate {
                title: Some("Again".into()),
                starts_at: None,
            },
        )
        .await
        .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Conflict);
    }
}

async fn an_ingress_is_created_through_twirp_for_hosts_only(h: Harness) {
    let livekit = FakeApi::start(|request| {
        if request.json()["input_type"] == "WHIP_INPUT" {
            (
                http::StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": "internal", "msg": "whip is down"}),
            )
        } else {
            (
                http::StatusCode::OK,
                json!({"ingressId": "IN_123", "url": "rtmps://ingest.example.com/x",
                       "streamKey": "sk_secret", "inputType": "RTMP_INPUT"}),
            )
        }
    })
    .await;
    let ws = livekit.url.replacen("http://", "ws://", 1);
    let lms = h.with_config(livekit_config(&ws));
    let c = cast(&h, &lms).await;
    let session = lms
        .create_live_session(&c.owner, c.course.id, input("Broadcast", soon(&lms)))
        .await
        .unwrap();
    let rtmp = || IngressInput {
        input_type: "rtmp".into(),
    };

    // Learners, outsiders and anonymous callers never reach LiveKit.
    for (actor, kind) in [
        (&c.learner, ErrorKind::Forbidden),
        (&c.outsider, ErrorKind::Forbidden),
        (&Actor::Anonymous, ErrorKind::Unauthenticated),
    ] {
        let err = lms
            .create_ingress(actor, session.id, rtmp())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    let err = lms
        .create_ingress(
            &c.owner,
            session.id,
            IngressInput {
                input_type: "srt".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "input_type");
    assert!(livekit.requests().is_empty());

    // A refusal from LiveKit is a provider error and stores nothing.
    let err = lms
        .create_ingress(
            &c.owner,
            session.id,
            IngressInput {
                input_type: "WHIP".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(err.message().contains("whip is down"), "{}", err.message());
    assert!(
        lms.live_session(&c.owner, session.id)
            .await
            .unwrap()
            .ingress
            .is_none()
    );

    let ingress = lms
        .create_ingress(&c.owner, session.id, rtmp())
        .await
        .unwrap();
    assert_eq!(ingress.ingress_id, "IN_123");
    assert_eq!(ingress.input_type, IngressType::Rtmp);
    assert_eq!(ingress.url, "rtmps://ingest.example.com/x");
    assert_eq!(ingress.stream_key, "sk_secret");

    // What LiveKit was sent: the Twirp path, an ingressAdmin token, the room.
    let sent = livekit.requests();
    assert_eq!(sent.len(), 2);
    let call = &sent[1];
    assert_eq!(call.method, http::Method::POST);
    assert_eq!(call.path, "/twirp/livekit.Ingress/CreateIngress");
    assert!(
        call.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let bearer = call
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[API_KEY]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(
        bearer,
        &DecodingKey::from_secret(API_SECRET.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    let now = lms.now().timestamp();
    assert_eq!(claims["video"], json!({"ingressAdmin": true}));
    assert_eq!(claims["nbf"], json!(now));
    assert_eq!(claims["exp"], json!(now + 600));
    assert_eq!(
        call.json(),
        json!({
            "input_type": "RTMP_INPUT", "name": "Broadcast", "room_name": session.room_name,
            "participant_identity": format!("ingress-{}", session.id),
            "participant_name": "Name of owner",
        })
    );

    // Recorded on the class: hosts see it, the learner does not.
    for actor in [&c.owner, &c.admin] {
        let seen = lms.live_session(actor, session.id).await.unwrap();
        assert_eq!(seen.ingress.as_ref(), Some(&ingress));
    }
    let seen = lms.live_session(&c.learner, session.id).await.unwrap();
    assert!(seen.ingress.is_none());
    let listed = lms.live_sessions(&c.learner, c.course.id).await.unwrap();
    assert!(listed[0].ingress.is_none());
    let events = lms
        .events(
            &Actor::System,
            &EventQuery {
                kind: Some(kinds::LIVE_SESSION_INGRESS_CREATED.into()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(!events[0].payload.to_string().contains("sk_secret"));

    // Asking again returns the same ingress without calling LiveKit;
    // another type is a conflict.
    let again = lms
        .create_ingress(&c.admin, session.id, rtmp())
        .await
        .unwrap();
    assert_eq!(again, ingress);
    let err = lms
        .create_ingress(
            &c.owner,
            session.id,
            IngressInput {
                input_type: "whip".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(livekit.requests().len(), 2);

    // A cancelled class gets no ingress.
    let other = lms
        .create_live_session(&c.owner, c.course.id, input("Other", soon(&lms)))
        .await
        .unwrap();
    lms.cancel_live_session(&c.owner, other.id).await.unwrap();
    let err = lms
        .create_ingress(&c.owner, other.id, rtmp())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(livekit.requests().len(), 2);
}

async fn without_livekit_tokens_ingresses_and_webhooks_say_so(h: Harness) {
    let lms = h.lms.clone();
    let c = cast(&h, &lms).await;
    let session = lms
        .create_live_session(&c.owner, c.course.id, input("Live", soon(&lms)))
        .await
        .unwrap();
    let (header, body) = delivery(
        &room_event("EV_1", "room_started", &session.room_name),
        API_KEY,
        API_SECRET,
        lms.now().timestamp(),
    );
    let errors = [
        lms.live_token(&c.owner, session.id).await.unwrap_err(),
        lms.create_ingress(
            &c.owner,
            session.id,
            IngressInput {
                input_type: "rtmp".into(),
            },
        )
        .await
        .unwrap_err(),
        lms.livekit_webhook(Some(&header), &body).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.message(), "LiveKit is not configured");
    }
    // Authorization still comes first for the room token.
    assert_eq!(
        lms.live_token(&c.outsider, session.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(
        lms.live_session(&c.owner, session.id).await.unwrap().status,
        LiveStatus::Scheduled
    );
}
