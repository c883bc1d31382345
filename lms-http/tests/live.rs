//! Live classes over HTTP on both stores: scheduling with bad input
//! refused (422 naming the field, nothing stored), room tokens decoded
//! claim by claim, ingresses through a loopback fake of LiveKit's Twirp
//! API, and LiveKit's webhook with its raw body (valid, tampered, wrong
//! secret, stale, duplicate). Every answer is also checked against the
//! OpenAPI document by the test client.

mod common;

use base64::Engine as _;
use common::{SECRET, TestApp, http_config};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lms_core::{Config, Lms, Role};
use lms_http::App;
use lms_tests::fake::FakeApi;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_stores!(
    classes_are_scheduled_listed_changed_and_cancelled,
    tokens_ingresses_and_webhooks_work_end_to_end,
    without_livekit_the_token_and_webhook_say_so,
);

const API_KEY: &str = "APIhttpkey";
const API_SECRET: &str = "http-livekit-secret-0123456789";

/// The same store with LiveKit pointed at `url`.
fn with_livekit(t: &TestApp, url: &str) -> TestApp {
    let config = Config {
        livekit_url: Some(url.into()),
        livekit_api_key: Some(API_KEY.into()),
        livekit_api_secret: API_SECRET.into(),
        ..Config::with_jwt_secret(SECRET)
    };
    let lms = Lms::builder(config)
        .store(t.lms.store().clone())
        .build()
        .unwrap();
    TestApp {
        app: App::new(lms.clone(), http_config()),
        lms,
    }
}

fn in_hours(t: &TestApp, hours: i64) -> String {
    (t.lms.now() + chrono::Duration::hours(hours)).to_rfc3339()
}

async fn classes_are_scheduled_listed_changed_and_cancelled(t: TestApp) {
    let owner = t.staff("owner@example.com", Role::Instructor).await;
    let learner = t.register("learner@example.com").await;
    let outsider = t.register("outsider@example.com").await;
    let (course, _, _) = t.published_course(&owner, "Live Rust").await;
    let enrolled = t
        .post(&format!("/api/v1/courses/{course}/enroll"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(enrolled.status, 200);
    let sessions = format!("/api/v1/courses/{course}/live-sessions");

    // Bad input: a 422 naming each field, and nothing stored.
    for (body, fields) in [
        (
            json!({"title": "", "starts_at": in_hours(&t, 1)}),
            vec!["title"],
        ),
        (
            json!({"title": "Old", "starts_at": in_hours(&t, -5)}),
            vec!["starts_at"],
        ),
        (json!({"title": "When?"}), vec!["starts_at"]),
        (
            json!({"title": "Typo", "starts_at": in_hours(&t, 1), "room_name": "mine"}),
            vec!["room_name"],
        ),
        (
            json!({"title": "Bad time", "starts_at": "tomorrow"}),
            vec!["starts_at"],
        ),
    ] {
        let reply = t
            .post(&sessions)
            .token(&owner.token)
            .json(body)
            .send()
            .await;
        assert_eq!(reply.fields(), fields);
    }
    let listed = t.get(&sessions).token(&owner.token).send().await;
    assert_eq!(listed.json()["items"], json!([]));

    let created = t
        .post(&sessions)
        .token(&owner.token)
        .json(json!({"title": "Office hours", "starts_at": in_hours(&t, 2)}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let session = created.json();
    let id = session["id"].as_str().unwrap().to_owned();
    let at = format!("/api/v1/live-sessions/{id}");
    assert_eq!(created.header("location"), Some(at.as_str()));
    assert_eq!(session["status"], "scheduled");
    assert_eq!(session["room_name"], format!("lms-{id}"));
    assert_eq!(session["ingress"], Value::Null);

    // The learner sees it, the outsider and anonymous callers do not.
    let seen = t.get(&at).token(&learner.token).send().await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json()["title"], "Office hours");
    let list = t.get(&sessions).token(&learner.token).send().await.json();
    assert_eq!(list["items"][0]["id"], json!(id));
    t.get(&at)
        .token(&outsider.token)
        .send()
        .await
        .problem(403, "forbidden");
    t.get(&at).send().await.problem(401, "unauthenticated");
    t.get("/api/v1/live-sessions/nope")
        .token(&owner.token)
        .send()
        .await
        .fields();

    // Changes: the learner may not; the owner may.
    let patch = |token: &str, body: Value| {
        t.call(http::Method::PATCH, &at)
            .token(token)
            .json(body)
            .send()
    };
    patch(&learner.token, json!({"title": "Mine"}))
        .await
        .problem(403, "forbidden");
    let bad = patch(&owner.token, json!({"title": " ", "status": "live"})).await;
    assert_eq!(bad.fields(), ["status"]);
    let renamed = patch(&owner.token, json!({"title": "Office hours (moved)"})).await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json()["title"], "Office hours (moved)");

    let cancel = || t.call(http::Method::DELETE, &at).token(&owner.token).send();
    let cancelled = cancel().await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(cancel().await.json()["status"], "cancelled");
    patch(&owner.token, json!({"title": "Back"}))
        .await
        .problem(409, "conflict");
}

fn decode(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[API_KEY]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(API_SECRET.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims
}

#[derive(serde::Serialize)]
struct WebhookClaims {
    iss: &'static str,
    nbf: i64,
    exp: i64,
    sha256: String,
}

fn signed(body: &[u8], secret: &str, at: i64) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &WebhookClaims {
            iss: API_KEY,
            nbf: at,
            exp: at + 300,
            sha256: base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)),
        },
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn tokens_ingresses_and_webhooks_work_end_to_end(t: TestApp) {
    let livekit = FakeApi::start(|_| {
        (
            http::StatusCode::OK,
            json!({"ingress_id": "IN_http", "url": "rtmps://ingest.example.com/live",
                   "stream_key": "sk_http_secret"}),
        )
    })
    .await;
    let t = with_livekit(&t, &livekit.url.replacen("http://", "ws://", 1));
    let owner = t.staff("owner@example.com", Role::Instructor).await;
    let learner = t.register("learner@example.com").await;
    let outsider = t.register("outsider@example.com").await;
    let (course, _, _) = t.published_course(&owner, "Live Rust").await;
    t.post(&format!("/api/v1/courses/{course}/enroll"))
        .token(&learner.token)
        .send()
        .await;
    let created = t
        .post(&format!("/api/v1/courses/{course}/live-sessions"))
        .token(&owner.token)
        .json(json!({"title": "Broadcast", "starts_at": in_hours(&t, 0)}))
        .send()
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    let room = created["room_name"].as_str().unwrap().to_owned();

    // Tokens: the owner hosts, the learner watches, the outsider is refused.
    let token = |who: &str| {
        t.post(&format!("/api/v1/live-sessions/{id}/token"))
            .token(who)
            .send()
    };
    let host = token(&owner.token).await;
    assert_eq!(host.status, 200, "{:?}", host.body);
    let host = host.json();
    assert_eq!(host["role"], "host");
    assert_eq!(host["identity"], json!(owner.id));
    let claims = decode(host["token"].as_str().unwrap());
    assert_eq!(claims["sub"], json!(owner.id));
    assert_eq!(claims["video"]["roomAdmin"], true);
    assert_eq!(claims["video"]["canPublish"], true);
    assert_eq!(claims["video"]["room"], json!(room));
    let viewer = token(&learner.token).await.json();
    let claims = decode(viewer["token"].as_str().unwrap());
    assert_eq!(claims["name"], "Learner");
    assert_eq!(
        claims["video"],
        json!({"roomJoin": true, "room": room, "canPublish": false,
               "canSubscribe": true, "canPublishData": true})
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(),
        6 * 3600
    );
    token(&outsider.token).await.problem(403, "forbidden");

    // Ingress: hosts only; the stream key stays with them.
    let ingress = |who: &str, body: Value| {
        t.post(&format!("/api/v1/live-sessions/{id}/ingress"))
            .token(who)
            .json(body)
            .send()
    };
    ingress(&learner.token, json!({"input_type": "rtmp"}))
        .await
        .problem(403, "forbidden");
    assert_eq!(
        ingress(&owner.token, json!({"input_type": "srt"}))
            .await
            .fields(),
        ["input_type"]
    );
    assert!(livekit.requests().is_empty());
    let made = ingress(&owner.token, json!({"input_type": "rtmp"})).await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    assert_eq!(
        made.json(),
        json!({"ingress_id": "IN_http", "input_type": "rtmp",
               "url": "rtmps://ingest.example.com/live", "stream_key": "sk_http_secret"})
    );
    let sent = livekit.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/twirp/livekit.Ingress/CreateIngress");
    assert_eq!(sent[0].json()["room_name"], json!(room));
    let at = format!("/api/v1/live-sessions/{id}");
    let for_owner = t.get(&at).token(&owner.token).send().await.json();
    assert_eq!(for_owner["ingress"]["stream_key"], "sk_http_secret");
    let for_learner = t.get(&at).token(&learner.token).send().await;
    assert!(!String::from_utf8_lossy(&for_learner.body).contains("sk_http_secret"));

    // The webhook: raw body, JWT in Authorization (no Bearer).
    let now = t.lms.now().timestamp();
    let event = |kind: &str, event_id: &str| {
        json!({"event": kind, "id": event_id, "createdAt": now.to_string(),
               "room": {"name": room, "sid": "RM_1"}})
        .to_string()
    };
    let deliver = |auth: Option<String>, body: String| {
        let mut call = t
            .post("/api/v1/webhooks/livekit")
            .header("content-type", "application/webhook+json")
            .body(body);
        if let Some(auth) = auth {
            call = call.header("authorization", &auth);
        }
        call.send()
    };
    let started = event("room_started", "EV_1");
    let good = signed(started.as_bytes(), API_SECRET, now);
    let tampered = started.replace("RM_1", "RM_2");
    for (auth, body) in [
        (Some(good.clone()), tampered),
        (
            Some(signed(started.as_bytes(), "wrong-secret", now)),
            started.clone(),
        ),
        (
            Some(signed(started.as_bytes(), API_SECRET, now - 7200)),
            started.clone(),
        ),
        (None, started.clone()),
    ] {
        deliver(auth, body).await.problem(401, "unauthenticated");
    }
    let applied = deliver(Some(good.clone()), started.clone()).await;
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.json(), json!({"outcome": "applied"}));
    assert_eq!(
        deliver(Some(good), started).await.json(),
        json!({"outcome": "duplicate"})
    );
    let live = t.get(&at).token(&learner.token).send().await.json();
    assert_eq!(live["status"], "live");
    let finished = event("room_finished", "EV_2");
    let auth = signed(finished.as_bytes(), API_SECRET, now);
    assert_eq!(
        deliver(Some(auth), finished).await.json(),
        json!({"outcome": "applied"})
    );
    let late = event("room_started", "EV_3");
    let auth = signed(late.as_bytes(), API_SECRET, now);
    assert_eq!(
        deliver(Some(auth), late).await.json(),
        json!({"outcome": "ignored"})
    );
    assert_eq!(
        t.get(&at).token(&owner.token).send().await.json()["status"],
        "ended"
    );
    token(&learner.token).await.problem(409, "conflict");
}

async fn without_livekit_the_token_and_webhook_say_so(t: TestApp) {
    let owner = t.staff("owner@example.com", Role::Instructor).await;
    let (course, _, _) = t.published_course(&owner, "Live Rust").await;
    let created = t
        .post(&format!("/api/v1/courses/{course}/live-sessions"))
        .token(&owner.token)
        .json(json!({"title": "Class", "starts_at": in_hours(&t, 1)}))
        .send()
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let body = t
        .post(&format!("/api/v1/live-sessions/{id}/token"))
        .token(&owner.token)
        .send()
        .await
        .problem(404, "not_found");
    assert_eq!(body["detail"], "LiveKit is not configured");
    let payload = b"{}".to_vec();
    let auth = signed(&payload, API_SECRET, t.lms.now().timestamp());
    let body = t
        .post("/api/v1/webhooks/livekit")
        .header("authorization", &auth)
        .body(payload)
        .send()
        .await
        .problem(404, "not_found");
    assert_eq!(body["detail"], "LiveKit is not configured");
}
