//! What the payment tests share: loopback fakes of Stripe's and Razorpay's
//! APIs that check the credentials and encoding they are sent, the
//! providers' signatures computed here from their published algorithms
//! (PROVIDERS.md), never with lms's own code, and a paid course.

use std::collections::HashMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use lms_core::Config;
use lms_tests::fake::{FakeApi, Recorded};
use serde_json::json;

use super::{Session, TestApp};

pub const STRIPE_KEY: &str = "sk_test_http_4eC39HqLyjWDarjt";
pub const STRIPE_WHSEC: &str = "whsec_http_test_secret_0123456789";
pub const RZP_KEY_ID: &str = "rzp_test_http1DP5mmOl";
pub const RZP_KEY_SECRET: &str = "http-razorpay-key-secret";
pub const RZP_WHSEC: &str = "http-razorpay-webhook-secret";

/// `config` with Stripe and Razorpay pointed at the fakes.
pub fn with_providers(config: Config, stripe: &FakeApi, razorpay: &FakeApi) -> Config {
    Config {
        stripe_secret_key: STRIPE_KEY.into(),
        stripe_webhook_secret: STRIPE_WHSEC.into(),
        stripe_api_url: stripe.url.clone(),
        razorpay_key_id: Some(RZP_KEY_ID.into()),
        razorpay_key_secret: RZP_KEY_SECRET.into(),
        razorpay_webhook_secret: RZP_WHSEC.into(),
        razorpay_api_url: razorpay.url.clone(),
        ..config
    }
}

pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// `Stripe-Signature` as Stripe makes it: `v1` is the hex HMAC-SHA256 of
/// `"<t>." + body`, keyed with the whole `whsec_...` string.
pub fn stripe_signature(body: &[u8], secret: &str, t: i64) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret.as_bytes(), &signed))
}

/// The signature Razorpay Checkout hands the browser for a payment.
pub fn razorpay_payment_signature(razorpay_order: &str, payment: &str) -> String {
    hmac_hex(
        RZP_KEY_SECRET.as_bytes(),
        format!("{razorpay_order}|{payment}").as_bytes(),
    )
}

pub fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn refuse(message: &str) -> (http::StatusCode, serde_json::Value) {
    (
        http::StatusCode::BAD_REQUEST,
        json!({"error": {"message": message, "description": message}}),
    )
}

/// Stripe: the secret key as a bearer token, form bodies, and an
/// `Idempotency-Key` on every POST (we always send one, so its absence is
/// a bug the fake reports). A session is named after our order id.
pub async fn fake_stripe() -> FakeApi {
    FakeApi::start(|req: &Recorded| {
        if req.header("authorization") != Some(&format!("Bearer {STRIPE_KEY}")) {
            return (
                http::StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "Invalid API Key provided"}}),
            );
        }
        if req.method == http::Method::POST {
            if req.header("content-type") != Some("application/x-www-form-urlencoded") {
                return refuse("the body must be form-encoded");
            }
            if req.header("idempotency-key").is_none_or(|k| k.len() > 255) {
                return refuse("no usable Idempotency-Key");
            }
        }
        let f = form(&req.body);
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/checkout/sessions") => {
                let Some(order) = f.get("client_reference_id") else {
                    return refuse("client_reference_id is missing");
                };
                let id = format!("cs_test_{}", order.replace('-', ""));
                (
                    http::StatusCode::OK,
                    json!({"id": id, "object": "checkout.session",
                        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                        "status": "open", "payment_status": "unpaid", "expires_at": 1}),
                )
            }
            ("POST", "/v1/refunds") => (
                http::StatusCode::OK,
                json!({"id": "re_http_1", "object": "refund", "status": "succeeded",
                    "amount": f.get("amount").and_then(|a| a.parse::<i64>().ok()),
                    "payment_intent": f.get("payment_intent")}),
            ),
            _ => (
                http::StatusCode::NOT_FOUND,
                json!({"error": {"message": "Unrecognized request URL"}}),
            ),
        }
    })
    .await
}

/// Razorpay: HTTP Basic `key_id:key_secret`, JSON bodies. An order is
/// named after our order id (its `receipt`); no payment is ever listed.
pub async fn fake_razorpay() -> FakeApi {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{RZP_KEY_ID}:{RZP_KEY_SECRET}"));
    FakeApi::start(move |req: &Recorded| {
        if req.header("authorization") != Some(&format!("Basic {basic}")) {
            return (
                http::StatusCode::UNAUTHORIZED,
                json!({"error": {"code": "BAD_REQUEST_ERROR",
                    "description": "Authentication failed"}}),
            );
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/orders") => {
                let body = req.json();
                let Some(receipt) = body["receipt"].as_str().filter(|r| r.len() <= 40) else {
                    return refuse("receipt must be at most 40 characters");
                };
                (
                    http::StatusCode::OK,
                    json!({"id": format!("order_{}", receipt.replace('-', "")),
                        "entity": "order", "amount": body["amount"], "amount_paid": 0,
                        "amount_due": body["amount"], "currency": body["currency"],
                        "receipt": receipt, "status": "created", "notes": [],
                        "created_at": 1}),
                )
            }
            ("POST", path) if path.starts_with("/v1/payments/") && path.ends_with("/refund") => {
                let body = req.json();
                (
                    http::StatusCode::OK,
                    json!({"id": "rfnd_http_1", "entity": "refund", "amount": body["amount"],
                        "payment_id": path.split('/').nth(3), "status": "processed"}),
                )
            }
            ("GET", path) if path.ends_with("/payments") => (
                http::StatusCode::OK,
                json!({"entity": "collection", "count": 0, "items": []}),
            ),
            _ => refuse("The requested URL was not found"),
        }
    })
    .await
}

/// A published course of `owner` priced `amount` minor units of
/// `currency`, with one article lecture; its id.
pub async fn paid_course(t: &TestApp, owner: &Session, amount: i64, currency: &str) -> String {
    let created = t
        .post("/api/v1/courses")
        .token(&owner.token)
        .json(json!({
            "title": format!("Paid {}", uuid::Uuid::now_v7().simple()),
            "price": {"amount": amount, "currency": currency},
        }))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let section = t
        .post(&format!("/api/v1/courses/{id}/sections"))
        .token(&owner.token)
        .json(json!({"title": "One"}))
        .send()
        .await;
    assert_eq!(section.status, 201, "{:?}", section.body);
    let section = section.json()["id"].as_str().unwrap().to_owned();
    let lecture = t
        .post(&format!("/api/v1/sections/{section}/lectures"))
        .token(&owner.token)
        .json(json!({"title": "Notes", "kind": "article", "body": "text"}))
        .send()
        .await;
    assert_eq!(lecture.status, 201, "{:?}", lecture.body);
    let published = t
        .post(&format!("/api/v1/courses/{id}/publish"))
        .token(&owner.token)
        .send()
        .await;
    assert_eq!(published.status, 200, "{:?}", published.body);
    id
}
