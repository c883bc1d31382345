//! Uploads, files and playback through the HTTP face: the API in process
//! (every answer checked against the OpenAPI document), the files over a
//! real socket to this server's signed `/media` links, or to a real
//! S3-compatible server that checks SigV4 (s3s-fs); Mux through a loopback
//! fake. On both stores.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{Server, Session, TestApp, http_config};
use http::Method;
use lms_core::events::kinds;
use lms_core::signing::timestamped_header;
use lms_core::{Actor, Config, EventQuery, Lms, ManualClock, Role};
use lms_http::App;
use lms_tests::fake::FakeApi;
use lms_tests::keys;
use lms_tests::s3::{self, S3Server};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

on_both_stores!(
    files_go_up_and_down_through_signed_local_links,
    a_link_whose_upload_is_gone_writes_nothing,
    bad_upload_requests_are_422_naming_the_field_and_store_nothing,
    s3_uploads_are_presigned_and_checked_by_the_server,
    mux_webhooks_are_verified_and_applied_once,
);

const MUX_WEBHOOK_SECRET: &str = "mux-webhook-secret";

/// A server over `t`'s store whose links name its own address, with the
/// configuration `configure` makes from the defaults and a clock tests
/// move.
async fn served(
    t: &TestApp,
    configure: impl FnOnce(Config) -> Config,
) -> (TestApp, Server, Arc<ManualClock>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = configure(Config {
        public_url: format!("http://{addr}"),
        ..common::core_config()
    });
    let clock = Arc::new(ManualClock::starting_now());
    let lms = Lms::builder(config)
        .store(t.lms.store().clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = App::new(lms.clone(), http_config());
    let server = Server::start_on(listener, app.clone());
    (TestApp { app, lms }, server, clock)
}

/// An owner with a published course of one video lecture, a learner
/// enrolled in it, and an outsider: (owner, learner, outsider, lecture id).
async fn cast(t: &TestApp) -> (Session, Session, Session, String) {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let owner = t
        .staff(&format!("owner-{tag}@example.com"), Role::Instructor)
        .await;
    let learner = t.register(&format!("learner-{tag}@example.com")).await;
    let outsider = t.register(&format!("outsider-{tag}@example.com")).await;
    let (course, _, lecture) = t.published_course(&owner, &format!("Media {tag}")).await;
    let enrolled = t
        .post(&format!("/api/v1/courses/{course}/enroll"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    (owner, learner, outsider, lecture)
}

/// Asks for an upload ticket; 201 expected.
async fn new_ticket(t: &TestApp, token: &str, request: Value) -> Value {
    let reply = t
        .post("/api/v1/uploads")
        .token(token)
        .json(request)
        .send()
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let ticket = reply.json();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/uploads/{}", ticket["upload_id"].as_str().unwrap()).as_str())
    );
    ticket
}

fn video(lecture: &str, size: usize) -> Value {
    json!({
        "purpose": "lecture_video",
        "file_name": "Intro clip.mp4",
        "content_type": "video/mp4",
        "size": size,
        "lecture_id": lecture,
    })
}

/// A file body that shows where each byte came from.
fn bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

/// Sends a file to a presigned URL over the network.
async fn put(url: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    put_with(url, &json!({}), content_type, body).await
}

/// A PUT with the ticket's `headers` (`content-length` aside, which
/// follows the body), and `content_type` in place of the signed one.
async fn put_with(
    url: &str,
    headers: &Value,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().put(url);
    for (name, value) in headers.as_object().unwrap() {
        if name != "content-type" && name != "content-length" {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn complete(t: &TestApp, token: &str, upload: &str) -> common::Reply {
    t.post(&format!("/api/v1/uploads/{upload}/complete"))
        .token(token)
        .send()
        .await
}

async fn files_go_up_and_down_through_signed_local_links(t: TestApp) {
    let (t, server, clock) = served(&t, |c| c).await;
    let (owner, learner, outsider, lecture) = cast(&t).await;
    let ticket = new_ticket(&t, &owner.token, video(&lecture, 1000)).await;
    let url = ticket["url"].as_str().unwrap();
    let upload = ticket["upload_id"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/media/private/videos/", server.addr)),
        "{url}"
    );
    assert!(
        url.contains("/Intro-clip.mp4?"),
        "the sanitized name: {url}"
    );
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(
        ticket["headers"],
        json!({"content-length": "1000", "content-type": "video/mp4"})
    );

    // Nothing there yet: completing is a 422 naming the upload.
    let early = complete(&t, &owner.token, upload).await;
    assert_eq!(early.status, 422, "{:?}", early.body);
    assert_eq!(early.fields(), ["upload"]);

    // Another type, a longer or shorter body, a tampered link: refused.
    let body = bytes(1000);
    assert_eq!(put(url, "video/webm", body.clone()).await.status(), 403);
    assert_eq!(put(url, "video/mp4", bytes(1001)).await.status(), 403);
    assert_eq!(put(url, "video/mp4", bytes(999)).await.status(), 403);
    let tampered = url.replace("size=1000", "size=2000");
    assert_ne!(tampered, url);
    assert_eq!(put(&tampered, "video/mp4", bytes(2000)).await.status(), 403);
    let unsigned = url.split_once('?').unwrap().0;
    assert_eq!(put(unsigned, "video/mp4", body.clone()).await.status(), 403);
    assert_eq!(complete(&t, &owner.token, upload).await.status, 422);

    let sent = put(url, "video/mp4", body.clone()).await;
    assert_eq!(sent.status(), 200, "{:?}", sent.text().await);
    // The learner may not complete the owner's upload, nor see it.
    assert_eq!(complete(&t, &learner.token, upload).await.status, 404);
    let done = complete(&t, &owner.token, upload).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let asset = done.json();
    assert_eq!(asset["status"], "stored");
    assert_eq!(asset["size"], 1000);
    // The link writes once: the checked bytes cannot be swapped after.
    let swap = put(url, "video/mp4", vec![0xee; 1000]).await;
    assert_eq!(swap.status(), 409);
    let problem: Value = swap.json().await.unwrap();
    assert_eq!(problem["code"], "conflict", "{problem}");
    // Again: the same asset, nothing new.
    let again = complete(&t, &owner.token, upload).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), asset);

    // The enrolled learner plays the file through a short-lived link.
    let playback = t
        .get(&format!("/api/v1/lectures/{lecture}/playback"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(playback.status, 200, "{:?}", playback.body);
    let playback = playback.json();
    assert_eq!(playback["kind"], "file");
    assert_eq!(playback["content_type"], "video/mp4");
    let link = playback["url"].as_str().unwrap();
    let client = reqwest::Client::new();
    let got = client.get(link).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "video/mp4");
    assert_eq!(got.headers()["accept-ranges"], "bytes");
    assert_eq!(got.bytes().await.unwrap(), body);
    // Seeking: one range, and a range past the end.
    let part = client
        .get(link)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/1000");
    assert_eq!(part.bytes().await.unwrap(), &body[100..200]);
    let tail = client
        .get(link)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), &body[990..]);
    let past = client
        .get(link)
        .header("range", "bytes=5000-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */1000");
    let head = client.head(link).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "1000");
    assert!(head.bytes().await.unwrap().is_empty());
    // A changed key or signature opens nothing.
    let forged = link.replace("sig=", "sig=0");
    assert_eq!(client.get(&forged).send().await.unwrap().status(), 403);
    // An outsider gets no link at all.
    let refused = t
        .get(&format!("/api/v1/lectures/{lecture}/playback"))
        .token(&outsider.token)
        .send()
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);

    // A public image: its URL needs no signature and never changes.
    let avatar = new_ticket(
        &t,
        &learner.token,
        json!({"purpose": "avatar", "file_name": "me.png", "content_type": "image/png", "size": 8}),
    )
    .await;
    let png = b"\x89PNG\r\n\x1a\n".to_vec();
    let sent = put(avatar["url"].as_str().unwrap(), "image/png", png.clone()).await;
    assert_eq!(sent.status(), 200);
    let stored = complete(&t, &learner.token, avatar["upload_id"].as_str().unwrap()).await;
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    let public = stored.json()["public_url"].as_str().unwrap().to_owned();
    assert!(!public.contains('?'), "{public}");
    let image = client.get(&public).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(
        image.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(image.bytes().await.unwrap(), png);

    // A ticket used after it expired is refused (the last step: the
    // access tokens expire with the clock too).
    let late = new_ticket(&t, &owner.token, video(&lecture, 10)).await;
    clock.advance(Duration::from_secs(15 * 60 + 1));
    let refused = put(late["url"].as_str().unwrap(), "video/mp4", bytes(10)).await;
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "forbidden");
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    server.stop().await;
}

async fn a_link_whose_upload_is_gone_writes_nothing(t: TestApp) {
    let (t, server, _clock) = served(&t, |c| c).await;
    let (owner, _, _, lecture) = cast(&t).await;
    // More lectures, so that the published course keeps one.
    let first = t
        .get(&format!("/api/v1/lectures/{lecture}"))
        .token(&owner.token)
        .send()
        .await
        .json();
    let section = first["section_id"].as_str().unwrap().to_owned();
    let add_lecture = || async {
        let added = t
            .post(&format!("/api/v1/sections/{section}/lectures"))
            .token(&owner.token)
            .json(json!({"title": "Gone soon", "kind": "video"}))
            .send()
            .await;
        assert_eq!(added.status, 201, "{:?}", added.body);
        added.json()["id"].as_str().unwrap().to_owned()
    };
    let (t, owner) = (&t, &owner);
    let delete_lecture = |id: String| async move {
        let deleted = t
            .call(Method::DELETE, &format!("/api/v1/lectures/{id}"))
            .token(&owner.token)
            .send()
            .await;
        assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    };
    let storage = t.lms.local_storage().unwrap();
    let key_of = |url: &str| {
        let url = reqwest::Url::parse(url).unwrap();
        url.path().strip_prefix("/media/").unwrap().to_owned()
    };

    // Gone while the bytes come: the PUT began with its upload there.
    let second = add_lecture().await;
    let ticket = new_ticket(t, &owner.token, video(&second, 100)).await;
    let url = reqwest::Url::parse(ticket["url"].as_str().unwrap()).unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT {}?{} HTTP/1.1\r\nhost: {}\r\ncontent-type: video/mp4\r\n\
         content-length: 100\r\nconnection: close\r\n\r\n",
        url.path(),
        url.query().unwrap(),
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&bytes(100)[..50]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    delete_lecture(second).await;
    stream.write_all(&bytes(100)[50..]).await.unwrap();
    let reply = common::read_reply(&mut stream).await;
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    let key = key_of(url.as_str());
    assert!(
        storage.open(&key).await.unwrap().is_none(),
        "no file for {key}"
    );

    // Gone before the PUT.
    let third = add_lecture().await;
    let ticket = new_ticket(t, &owner.token, video(&third, 100)).await;
    let url = ticket["url"].as_str().unwrap();
    delete_lecture(third).await;

    // The link is still signed and unexpired; its upload is not there.
    let sent = put(url, "video/mp4", bytes(100)).await;
    assert_eq!(sent.status(), 404);
    let problem: Value = sent.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no longer exists"),
        "{problem}"
    );
    let key = key_of(url);
    assert!(
        storage.open(&key).await.unwrap().is_none(),
        "no file for {key}"
    );
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

async fn bad_upload_requests_are_422_naming_the_field_and_store_nothing(t: TestApp) {
    let (owner, _, _, lecture) = cast(&t).await;
    let cases = [
        (
            json!({"purpose": "poster", "file_name": "a.mp4", "content_type": "video/mp4", "size": 1, "lecture_id": lecture}),
            "purpose",
        ),
        (video(&lecture, 5 * 1024 * 1024 * 1024 + 1), "size"),
        (
            json!({"purpose": "lecture_video", "file_name": "a.exe", "content_type": "application/x-msdownload", "size": 1, "lecture_id": lecture}),
            "content_type",
        ),
        (
            json!({"purpose": "avatar", "file_name": "a.png", "content_type": "image/png", "size": 10 * 1024 * 1024 + 1}),
            "size",
        ),
        (
            json!({"purpose": "lecture_attachment", "file_name": "a.pdf", "content_type": "application/pdf", "size": 1}),
            "lecture_id",
        ),
        (
            json!({"purpose": "avatar", "file_name": "a.png", "content_type": "image/png", "size": 1, "owner_id": owner.id}),
            "owner_id",
        ),
    ];
    for (request, field) in cases {
        let reply = t
            .post("/api/v1/uploads")
            .token(&owner.token)
            .json(request.clone())
            .send()
            .await;
        assert_eq!(reply.status, 422, "{request}: {:?}", reply.body);
        assert_eq!(reply.fields(), [field], "{request}");
    }
    assert_eq!(upload_events(&t.lms).await, 0, "nothing was recorded");
    let media = std::path::Path::new(&t.lms.config().data_dir).join("media");
    assert!(!media.exists(), "no file was written under {media:?}");
}

async fn s3_uploads_are_presigned_and_checked_by_the_server(t: TestApp) {
    let bucket = S3Server::start().await;
    let (t, server, _) = served(&t, |c| Config {
        s3_bucket: Some(s3::BUCKET.into()),
        s3_region: "us-east-1".into(),
        s3_endpoint: Some(bucket.endpoint.clone()),
        s3_force_path_style: true,
        s3_access_key_id: Some(s3::ACCESS_KEY.into()),
        s3_secret_access_key: s3::SECRET_KEY.into(),
        ..c
    })
    .await;
    let (owner, learner, _, lecture) = cast(&t).await;
    let ticket = new_ticket(&t, &owner.token, video(&lecture, 300)).await;
    let url = ticket["url"].as_str().unwrap();
    assert!(url.starts_with(&bucket.endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let headers = &ticket["headers"];
    assert_eq!(headers["if-none-match"], "*", "{headers}");
    let body = bytes(300);
    // The bucket checks the signed type, length and condition.
    let put = |content_type, body| put_with(url, headers, content_type, body);
    assert_eq!(put("video/webm", body.clone()).await.status(), 403);
    assert!(!put("video/mp4", bytes(301)).await.status().is_success());
    let unconditional = put_with(url, &json!({}), "video/mp4", body.clone()).await;
    assert_eq!(unconditional.status(), 403);
    let upload = ticket["upload_id"].as_str().unwrap();
    assert_eq!(complete(&t, &owner.token, upload).await.status, 422);
    let sent = put("video/mp4", body.clone()).await;
    assert_eq!(sent.status(), 200, "{:?}", sent.text().await);
    let done = complete(&t, &owner.token, upload).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let key = done.json()["object_key"].as_str().unwrap().to_owned();
    // The link writes once: the bucket keeps the checked bytes.
    assert_eq!(put("video/mp4", vec![0xee; 300]).await.status(), 412);
    assert_eq!(bucket.object(&key).as_deref(), Some(&body[..]));

    let playback = t
        .get(&format!("/api/v1/lectures/{lecture}/playback"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(playback.status, 200, "{:?}", playback.body);
    let link = playback.json()["url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&bucket.endpoint), "{link}");
    let got = reqwest::get(&link).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap(), body);
    // With a bucket, this server serves no files itself.
    let local = reqwest::get(format!("http://{}/media/{key}", server.addr))
        .await
        .unwrap();
    assert_eq!(local.status(), 404);
    server.stop().await;
}

/// A Mux delivery signed `age_secs` ago with `secret`.
fn mux_delivery(lms: &Lms, event: &Value, secret: &str, age_secs: i64) -> (String, Vec<u8>) {
    let body = serde_json::to_vec(event).unwrap();
    let header = timestamped_header(&body, secret.as_bytes(), lms.now().timestamp() - age_secs);
    (header, body)
}

async fn deliver(t: &TestApp, signature: Option<&str>, body: Vec<u8>) -> common::Reply {
    let mut call = t
        .post("/api/v1/webhooks/mux")
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        call = call.header("mux-signature", signature);
    }
    call.send().await
}

async fn mux_webhooks_are_verified_and_applied_once(t: TestApp) {
    let mux = FakeApi::start(|_| {
        (
            http::StatusCode::CREATED,
            json!({"data": {"id": "mux-asset-7", "status": "preparing"}}),
        )
    })
    .await;
    let (t, server, _) = served(&t, |c| Config {
        mux_token_id: Some("mux-token-id".into()),
        mux_token_secret: "mux-token-secret".into(),
        mux_signing_key_id: Some("signing-key-1".into()),
        mux_signing_private_key: base64::engine::general_purpose::STANDARD
            .encode(keys::MUX_SIGNING_KEY_PEM)
            .into(),
        mux_webhook_secret: MUX_WEBHOOK_SECRET.into(),
        mux_api_url: mux.url.clone(),
        ..c
    })
    .await;
    let (owner, learner, _, lecture) = cast(&t).await;
    let ticket = new_ticket(&t, &owner.token, video(&lecture, 16)).await;
    let sent = put(ticket["url"].as_str().unwrap(), "video/mp4", bytes(16)).await;
    assert_eq!(sent.status(), 200);
    let upload = ticket["upload_id"].as_str().unwrap();
    let done = complete(&t, &owner.token, upload).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.json()["video_status"], "processing");
    // Mux was asked to fetch the source from this server's signed link.
    let calls = mux.requests();
    assert_eq!(calls.len(), 1);
    let source = calls[0].json()["inputs"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        source.starts_with(&format!("http://{}/media/", server.addr)),
        "{source}"
    );
    assert_eq!(reqwest::get(&source).await.unwrap().status(), 200);

    let still = t
        .get(&format!("/api/v1/lectures/{lecture}/playback"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(still.status, 409, "{:?}", still.body);

    let ready = json!({
        "id": format!("evt-{upload}"), "type": "video.asset.ready",
        "data": {"id": "mux-asset-7", "passthrough": upload, "duration": 61.9,
                 "playback_ids": [{"id": "pb-7", "policy": "signed"}]}
    });
    let (header, body) = mux_delivery(&t.lms, &ready, MUX_WEBHOOK_SECRET, 0);
    let mut tampered = body.clone();
    tampered[12] ^= 1;
    let (stale, stale_body) = mux_delivery(&t.lms, &ready, MUX_WEBHOOK_SECRET, 301);
    let (wrong, wrong_body) = mux_delivery(&t.lms, &ready, "another-secret", 0);
    for (signature, body) in [
        (Some(header.as_str()), tampered),
        (Some(stale.as_str()), stale_body),
        (Some(wrong.as_str()), wrong_body),
        (None, body.clone()),
    ] {
        let refused = deliver(&t, signature, body).await;
        assert_eq!(refused.status, 401, "{:?}", refused.body);
    }
    let applied = deliver(&t, Some(&header), body.clone()).await;
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.json(), json!({"outcome": "applied"}));
    let duplicate = deliver(&t, Some(&header), body).await;
    assert_eq!(duplicate.json(), json!({"outcome": "duplicate"}));

    let playback = t
        .get(&format!("/api/v1/lectures/{lecture}/playback"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(playback.status, 200, "{:?}", playback.body);
    let playback = playback.json();
    assert_eq!(playback["kind"], "mux");
    let token = playback["token"].as_str().unwrap();
    assert_eq!(
        playback["url"],
        format!("https://stream.mux.com/pb-7.m3u8?token={token}")
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(keys::MUX_SIGNING_PUBLIC_KEY_PEM.as_bytes())
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["v"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "pb-7");
    assert_eq!(claims["kid"], "signing-key-1");
    // Images only when asked for: each is one more signature.
    assert_eq!(playback["thumbnail_url"], Value::Null);
    assert_eq!(playback["storyboard_url"], Value::Null);
    let with_poster = t
        .get(&format!(
            "/api/v1/lectures/{lecture}/playback?thumbnail=true"
        ))
        .token(&learner.token)
        .send()
        .await
        .json();
    let poster = with_poster["thumbnail_token"].as_str().unwrap();
    assert_eq!(
        with_poster["thumbnail_url"],
        format!("https://image.mux.com/pb-7/thumbnail.jpg?token={poster}")
    );
    assert_eq!(with_poster["storyboard_url"], Value::Null);
    validation.set_audience(&["t"]);
    let claims = jsonwebtoken::decode::<Value>(poster, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "pb-7");
    for (query, field) in [("thumbnail=yes", "thumbnail"), ("poster=true", "poster")] {
        let refused = t
            .get(&format!("/api/v1/lectures/{lecture}/playback?{query}"))
            .token(&learner.token)
            .send()
            .await;
        assert_eq!(refused.status, 422, "{query}");
        assert_eq!(refused.fields(), [field], "{query}");
    }
    let lecture_view = t
        .get(&format!("/api/v1/lectures/{lecture}"))
        .token(&owner.token)
        .send()
        .await;
    // Mux measures fractions of a second; the lecture keeps whole ones.
    assert_eq!(lecture_view.json()["duration_secs"], 62);
    server.stop().await;
}
