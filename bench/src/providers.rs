//! What the provider scenarios need: ready Mux videos in a seeded store, the
//! time of one RS256 signature (the playback ceiling), and Stripe webhook
//! deliveries signed as Stripe signs them.

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::Sha256;
use uuid::Uuid;

use crate::seed::Target;

/// The Mux signing key of the servers under test: the test suite's key pair.
pub const MUX_SIGNING_KEY_PEM: &str = lms_tests::keys::MUX_SIGNING_KEY_PEM;

/// The Mux settings of the servers under test. Playback only signs tokens,
/// so the API URL is never called.
pub fn mux_env() -> Vec<(&'static str, String)> {
    vec![
        ("LMS_MUX_TOKEN_ID", "bench-token".to_owned()),
        ("LMS_MUX_TOKEN_SECRET", "bench-token-secret".to_owned()),
        ("LMS_MUX_SIGNING_KEY_ID", "bench-signing-key".to_owned()),
        (
            "LMS_MUX_SIGNING_PRIVATE_KEY",
            base64::engine::general_purpose::STANDARD.encode(MUX_SIGNING_KEY_PEM),
        ),
        (
            "LMS_MUX_WEBHOOK_SECRET",
            "bench-mux-webhook-secret".to_owned(),
        ),
        ("LMS_MUX_API_URL", "http://127.0.0.1:9".to_owned()),
    ]
}

/// The Stripe webhook secret of the servers under test.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_lms_bench";

/// The Stripe settings of the servers under test. Ingesting a webhook never
/// calls Stripe, so the API URL is never called.
pub fn stripe_env() -> Vec<(&'static str, String)> {
    vec![
        ("LMS_STRIPE_SECRET_KEY", "sk_test_lms_bench".to_owned()),
        (
            "LMS_STRIPE_WEBHOOK_SECRET",
            STRIPE_WEBHOOK_SECRET.to_owned(),
        ),
        ("LMS_STRIPE_API_URL", "http://127.0.0.1:9".to_owned()),
    ]
}

/// Gives every video lecture of `courses` a stored video that Mux reported
/// ready (a playback id), as the upload and webhook flow would have left
/// it; lectures that have one keep it. Returns how many were added.
pub async fn ready_videos(target: &Target, courses: &[Uuid]) -> Result<u64, String> {
    let db = |e: sqlx::Error| format!("readying videos: {e}");
    match target {
        Target::Sqlite(_) => {
            let pool = sqlx::SqlitePool::connect(&target.database_url())
                .await
                .map_err(db)?;
            let now = chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            let mut added = 0;
            let mut tx = pool.begin().await.map_err(db)?;
            for course in courses {
                added += sqlx::query(&ready_sql(
                    "randomblob(16)",
                    "'bench' || lower(hex(l.id))",
                    "?2",
                    "?1",
                ))
                .bind(course)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                sqlx::query(ATTACH_SQL_SQLITE)
                    .bind(course)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            pool.close().await;
            Ok(added)
        }
        Target::Postgres { url, schema } => {
            let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(db)?;
            let pool = sqlx::PgPool::connect_with(options.options([("search_path", schema)]))
                .await
                .map_err(db)?;
            let mut added = 0;
            let mut tx = pool.begin().await.map_err(db)?;
            for course in courses {
                added += sqlx::query(&ready_sql(
                    "gen_random_uuid()",
                    "'bench' || replace(l.id::text, '-', '')",
                    "now()",
                    "$1",
                ))
                .bind(course)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                sqlx::query(ATTACH_SQL_POSTGRES)
                    .bind(course)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            pool.close().await;
            Ok(added)
        }
    }
}

/// The insert of ready videos for one course's video lectures without one;
/// the backend gives its new-id, playback-id and time expressions and the
/// course parameter.
fn ready_sql(new_id: &str, playback_id: &str, now: &str, course: &str) -> String {
    format!(
        "INSERT INTO assets (id, owner_id, purpose, course_id, lecture_id, object_key, \
         file_name, content_type, size, status, video_status, mux_asset_id, playback_id, \
         duration_secs, created_at, updated_at, upload_expires_at, stored_at) \
         SELECT {new_id}, c.owner_id, 'lecture_video', l.course_id, l.id, \
         'bench/' || {playback_id}, 'lecture.mp4', 'video/mp4', 104857600, 'stored', 'ready', \
         {playback_id}, {playback_id}, l.duration_secs, {now}, {now}, {now}, {now} \
         FROM lectures l JOIN courses c ON c.id = l.course_id \
         WHERE l.course_id = {course} AND l.kind = 'video' AND l.video_asset_id IS NULL \
         AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.lecture_id = l.id)"
    )
}

const ATTACH_SQL_SQLITE: &str = "UPDATE lectures SET video_asset_id = \
     (SELECT a.id FROM assets a WHERE a.lecture_id = lectures.id AND a.purpose = 'lecture_video') \
     WHERE course_id = ?1 AND kind = 'video' AND video_asset_id IS NULL";

const ATTACH_SQL_POSTGRES: &str = "UPDATE lectures l SET video_asset_id = a.id FROM assets a \
     WHERE a.lecture_id = l.id AND a.purpose = 'lecture_video' \
     AND l.course_id = $1 AND l.kind = 'video' AND l.video_asset_id IS NULL";

/// The time of one RS256 signature of playback claims with the Mux signing
/// key: the median of `runs` after one untimed run, on this thread.
pub fn time_one_rs256(runs: usize) -> Result<Duration, String> {
    let key = EncodingKey::from_rsa_pem(MUX_SIGNING_KEY_PEM.as_bytes())
        .map_err(|e| format!("the Mux signing key: {e}"))?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench-signing-key".to_owned());
    let claims = serde_json::json!({
        "sub": "benchplaybackid", "aud": "v", "exp": 4_000_000_000_i64, "kid": "bench-signing-key",
    });
    let sign = || jsonwebtoken::encode(&header, &claims, &key);
    sign().map_err(|e| format!("signing: {e}"))?;
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            let _ = sign();
            started.elapsed()
        })
        .collect();
    times.sort();
    Ok(times[times.len() / 2])
}

/// A `checkout.session.completed` event Stripe has not sent before
/// (`event_id` is new), for a session naming no order of ours, and its
/// `Stripe-Signature` at `t`: the server verifies it, records the event
/// once, finds no order, and answers `ignored`.
pub fn stripe_delivery(event_id: &str, t: i64) -> (Vec<u8>, String) {
    let body = serde_json::json!({
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": t,
        "data": {"object": {
            "id": format!("cs_{event_id}"),
            "object": "checkout.session",
            "client_reference_id": Uuid::from_u128(0).to_string(),
            "payment_status": "paid",
            "payment_intent": format!("pi_{event_id}"),
            "amount_total": 4999,
            "currency": "usd",
        }},
    });
    let body = serde_json::to_vec(&body).expect("JSON values serialize");
    let mut mac = Hmac::<Sha256>::new_from_slice(STRIPE_WEBHOOK_SECRET.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    (body, signature)
}
