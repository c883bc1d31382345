//! Payments through the `Lms` handle on both stores: checkout against
//! loopback fakes of Stripe and Razorpay that check auth, encoding and the
//! idempotency key; webhooks signed here by the providers' published
//! algorithms; exactly-once fulfillment under shuffled, repeated,
//! concurrent deliveries; coupon limits under concurrent fulfillments;
//! refunds and reconciliation.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::Harness;
use hmac::{Hmac, Mac};
use lms_core::events::kinds;
use lms_core::media::WebhookOutcome;
use lms_core::{
    Actor, CheckoutInput, Config, CouponCheck, CouponInput, Course, CourseId, CourseInput,
    ErrorKind, EventQuery, LectureInput, Lms, NewAccount, OrderQuery, OrderStatus, RefundInput,
    Role, SectionInput, SessionId,
};
use lms_tests::fake::{FakeApi, Recorded};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

on_both_stores!(
    stripe_checkout_sends_one_idempotent_form_and_its_webhook_enrolls_once,
    stripe_webhooks_with_a_bad_signature_change_nothing,
    razorpay_checkout_verify_and_webhooks_follow_the_rules,
    checkout_refuses_what_it_must_and_stores_nothing,
    coupons_price_checkouts_and_only_owners_make_them,
    a_coupon_with_ten_uses_left_is_used_ten_times_under_a_hundred_fulfillments,
    one_learner_s_free_by_coupon_checkouts_at_once_pay_one_order,
    an_owner_s_revocation_holds_against_refunds_and_late_payments,
    every_payment_is_applied_exactly_once_in_any_order,
    refunds_call_the_provider_and_reconciliation_repairs_drift,
);

const PASSWORD: &str = "correct horse battery";
const STRIPE_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const STRIPE_WHSEC: &str = "whsec_test_secret_0123456789";
const RZP_KEY_ID: &str = "rzp_test_1DP5mmOlF5G5ag";
const RZP_KEY_SECRET: &str = "thisissupersecret";
const RZP_WHSEC: &str = "razorpay-webhook-secret";

// ---------------------------------------------------------------- helpers

async fn user(h: &Harness, email: &str, role: Role) -> Actor {
    let user = h
        .lms
        .create_user(
            &Actor::System,
            NewAccount {
                email: email.into(),
                password: PASSWORD.into(),
                display_name: email.split('@').next().unwrap().into(),
                role,
            },
        )
        .await
        .unwrap();
    // The core trusts the actor its faces authenticated; a session id is
    // all a signed-in actor needs beyond the account.
    Actor::User {
        id: user.id,
        role,
        session: SessionId::new(),
    }
}

/// A published course priced `amount` minor units of `currency`.
async fn paid_course(lms: &Lms, owner: &Actor, amount: i64, currency: &str) -> Course {
    let course = lms
        .create_course(
            owner,
            CourseInput {
                title: format!("Course {}", uuid::Uuid::now_v7()),
                price: Some(lms_core::PriceInput {
                    amount,
                    currency: Some(currency.into()),
                }),
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
    lms.create_lecture(
        owner,
        section.id,
        LectureInput {
            title: "Notes".into(),
            kind: "article".into(),
            body: Some("text".into()),
            duration_secs: Some(10),
            free_preview: Some(false),
            position: None,
        },
    )
    .await
    .unwrap();
    lms.publish_course(owner, course.id).await.unwrap()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Provider-side state the fakes answer from (sessions and payments).
type Remote = Arc<Mutex<HashMap<String, Value>>>;

/// A fake of Stripe's API: it refuses a wrong key, form-decodes requests
/// and makes a session named after our order id.
async fn fake_stripe(remote: Remote) -> FakeApi {
    FakeApi::start(move |req: &Recorded| {
        if req.header("authorization") != Some(&format!("Bearer {STRIPE_KEY}")) {
            return (
                http::StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "Invalid API Key provided"}}),
            );
        }
        let f = form(&req.body);
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/checkout/sessions") => {
                let id = format!("cs_test_{}", f["client_reference_id"].replace('-', ""));
                (
                    http::StatusCode::OK,
                    json!({"id": id, "object": "checkout.session",
                        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                        "status": "open", "payment_status": "unpaid", "expires_at": 1}),
                )
            }
            ("POST", "/v1/refunds") => (
                http::StatusCode::OK,
                json!({"id": "re_1", "object": "refund", "status": "succeeded",
                    "amount": f["amount"].parse::<i64>().unwrap(),
                    "payment_intent": f["payment_intent"]}),
            ),
            ("GET", path) if path.starts_with("/v1/checkout/sessions/") => {
                let id = path.rsplit('/').next().unwrap();
                match remote.lock().unwrap().get(id) {
                    Some(session) => (http::StatusCode::OK, session.clone()),
                    None => (
                        http::StatusCode::NOT_FOUND,
                        json!({"error": {"message": "No such checkout.session"}}),
                    ),
                }
            }
            _ => (
                http::StatusCode::NOT_FOUND,
                json!({"error": {"message": "Unrecognized request URL"}}),
            ),
        }
    })
    .await
}

/// A fake of Razorpay's API: Basic auth checked, JSON bodies.
async fn fake_razorpay(remote: Remote) -> FakeApi {
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
                let id = format!(
                    "order_{}",
                    body["receipt"].as_str().unwrap().replace('-', "")
                );
                (
                    http::StatusCode::OK,
                    json!({"id": id, "entity": "order", "amount": body["amount"],
                        "amount_paid": 0, "amount_due": body["amount"],
                        "currency": body["currency"], "receipt": body["receipt"],
                        "status": "created", "notes": [], "created_at": 1}),
                )
            }
            ("POST", path) if path.starts_with("/v1/payments/") && path.ends_with("/refund") => {
                let body = req.json();
                (
                    http::StatusCode::OK,
                    json!({"id": "rfnd_1", "entity": "refund", "amount": body["amount"],
                        "payment_id": path.split('/').nth(3), "status": "processed"}),
                )
            }
            ("GET", path) if path.ends_with("/payments") => {
                let order = path.split('/').nth(3).unwrap();
                let items = remote
                    .lock()
                    .unwrap()
                    .get(order)
                    .cloned()
                    .unwrap_or(json!([]));
                (
                    http::StatusCode::OK,
                    json!({"entity": "collection", "count": 1, "items": items}),
                )
            }
            _ => (
                http::StatusCode::BAD_REQUEST,
                json!({"error": {"description": "The requested URL was not found"}}),
            ),
        }
    })
    .await
}

fn payments_config(stripe: &FakeApi, razorpay: &FakeApi) -> Config {
    Config {
        stripe_secret_key: STRIPE_KEY.into(),
        stripe_webhook_secret: STRIPE_WHSEC.into(),
        stripe_api_url: stripe.url.clone(),
        razorpay_key_id: Some(RZP_KEY_ID.into()),
        razorpay_key_secret: RZP_KEY_SECRET.into(),
        razorpay_webhook_secret: RZP_WHSEC.into(),
        razorpay_api_url: razorpay.url.clone(),
        ..common::config()
    }
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// `Stripe-Signature` as Stripe computes it: `v1` is the hex HMAC-SHA256
/// of `"<t>." + body` keyed with the whole `whsec_...` string.
fn stripe_signature(body: &[u8], secret: &str, t: i64) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret.as_bytes(), &signed))
}

fn stripe_event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": 1,
        "type": kind, "livemode": false, "data": {"object": object}})
    .to_string()
    .into_bytes()
}

fn session(order: &str, session_id: &str, status: &str, pi: &str, amount: i64, cur: &str) -> Value {
    json!({"id": session_id, "object": "checkout.session", "client_reference_id": order,
        "metadata": {"order_id": order}, "payment_status": status, "payment_intent": pi,
        "amount_total": amount, "currency": cur, "status": "complete"})
}

async fn stripe_deliver(lms: &Lms, body: &[u8]) -> lms_core::Result<WebhookOutcome> {
    let header = stripe_signature(body, STRIPE_WHSEC, lms.now().timestamp());
    Ok(lms.stripe_webhook(Some(&header), body).await?.outcome)
}

fn razorpay_event(kind: &str, payload: Value) -> Vec<u8> {
    json!({"entity": "event", "account_id": "acc_1", "event": kind,
        "contains": payload.as_object().unwrap().keys().collect::<Vec<_>>(),
        "payload": payload, "created_at": 1})
    .to_string()
    .into_bytes()
}

async fn rzp_deliver(lms: &Lms, id: &str, body: &[u8]) -> lms_core::Result<WebhookOutcome> {
    let signature = hmac_hex(RZP_WHSEC.as_bytes(), body);
    Ok(lms
        .razorpay_webhook(Some(&signature), Some(id), body)
        .await?
        .outcome)
}

async fn count_events(lms: &Lms, kind: &str) -> usize {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = lms
            .events(
                &Actor::System,
                &EventQuery {
                    after,
                    kind: Some(kind.into()),
                    limit: Some(1000),
                    ..EventQuery::default()
                },
            )
            .await
            .unwrap();
        n += page.len();
        match page.last() {
            Some(last) => after = Some(last.id),
            None => return n,
        }
    }
}

async fn enrolled(lms: &Lms, learner: &Actor, course: CourseId) -> bool {
    lms.store()
        .enrollment(course, learner.user_id().unwrap())
        .await
        .unwrap()
        .is_some_and(|e| e.status == lms_core::enrollment::EnrollmentStatus::Active)
}

fn stripe_checkout() -> CheckoutInput {
    CheckoutInput {
        provider: "stripe".into(),
        success_url: Some("https://school.example/thanks".into()),
        cancel_url: Some("https://school.example/cancel".into()),
        ..CheckoutInput::default()
    }
}

// ------------------------------------------------------------------ tests

async fn stripe_checkout_sends_one_idempotent_form_and_its_webhook_enrolls_once(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 4999, "USD").await;

    let answer = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap();
    let order_id = answer.order_id.to_string();
    let session_id = format!("cs_test_{}", order_id.replace('-', ""));
    assert_eq!(answer.status, OrderStatus::Created);
    assert_eq!(
        answer.checkout_url.as_deref(),
        Some(format!("https://checkout.stripe.com/c/pay/{session_id}").as_str())
    );

    // What Stripe was sent: Bearer key, a form, one idempotency key per order.
    let sent = stripe.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, http::Method::POST);
    assert_eq!(sent[0].path, "/v1/checkout/sessions");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        sent[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        sent[0].header("idempotency-key"),
        Some(format!("lms-checkout-{order_id}").as_str())
    );
    let f = form(&sent[0].body);
    assert_eq!(f["mode"], "payment");
    assert_eq!(f["client_reference_id"], order_id);
    assert_eq!(f["metadata[order_id]"], order_id);
    assert_eq!(f["line_items[0][quantity]"], "1");
    assert_eq!(f["line_items[0][price_data][currency]"], "usd");
    assert_eq!(f["line_items[0][price_data][unit_amount]"], "4999");
    assert_eq!(
        f["line_items[0][price_data][product_data][name]"],
        course.title
    );
    assert_eq!(f["success_url"], "https://school.example/thanks");
    assert_eq!(f["cancel_url"], "https://school.example/cancel");
    let order = lms.order(&learner, answer.order_id).await.unwrap();
    assert_eq!(
        order.provider_order_id.as_deref(),
        Some(session_id.as_str())
    );

    // Completed but unpaid (a delayed method): nothing yet.
    let unpaid = stripe_event(
        "evt_1",
        "checkout.session.completed",
        session(&order_id, &session_id, "unpaid", "pi_1", 4999, "usd"),
    );
    assert_eq!(
        stripe_deliver(&lms, &unpaid).await.unwrap(),
        WebhookOutcome::Ignored
    );
    assert!(!enrolled(&lms, &learner, course.id).await);

    let paid = stripe_event(
        "evt_2",
        "checkout.session.async_payment_succeeded",
        session(&order_id, &session_id, "paid", "pi_1", 4999, "usd"),
    );
    assert_eq!(
        stripe_deliver(&lms, &paid).await.unwrap(),
        WebhookOutcome::Applied
    );
    assert_eq!(
        stripe_deliver(&lms, &paid).await.unwrap(),
        WebhookOutcome::Duplicate
    );
    let order = lms.order(&learner, answer.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.provider_payment_id.as_deref(), Some("pi_1"));
    assert!(enrolled(&lms, &learner, course.id).await);
    let enrollment = lms
        .store()
        .enrollment(course.id, learner.user_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        enrollment.source,
        lms_core::enrollment::EnrollmentSource::Purchase
    );
    assert_eq!(count_events(&lms, kinds::ORDER_PAID).await, 1);
    assert_eq!(count_events(&lms, kinds::ENROLLMENT_CREATED).await, 1);

    // A late expiry or failure never undoes the payment.
    for (id, kind) in [
        ("evt_3", "checkout.session.expired"),
        ("evt_4", "checkout.session.async_payment_failed"),
    ] {
        let late = stripe_event(
            id,
            kind,
            session(&order_id, &session_id, "unpaid", "pi_1", 4999, "usd"),
        );
        assert_eq!(
            stripe_deliver(&lms, &late).await.unwrap(),
            WebhookOutcome::Ignored
        );
    }
    assert_eq!(
        lms.order(&learner, answer.order_id).await.unwrap().status,
        OrderStatus::Paid
    );
    // Unknown types are acknowledged and change nothing.
    let other = stripe_event("evt_5", "customer.created", json!({"id": "cus_1"}));
    assert_eq!(
        stripe_deliver(&lms, &other).await.unwrap(),
        WebhookOutcome::Ignored
    );
    // Enrolled now, so a second checkout is a conflict.
    let err = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    // A payment of another amount or currency flags the order, no access.
    let other_learner = user(&h, "other@example.com", Role::Student).await;
    for (n, (amount, currency, reason)) in [
        (100, "usd", "amount_mismatch"),
        (4999, "eur", "currency_mismatch"),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = lms
            .checkout(&other_learner, course.id, stripe_checkout())
            .await
            .unwrap();
        let id = answer.order_id.to_string();
        let body = stripe_event(
            &format!("evt_mismatch_{n}"),
            "checkout.session.completed",
            session(
                &id,
                &format!("cs_x{n}"),
                "paid",
                &format!("pi_x{n}"),
                amount,
                currency,
            ),
        );
        stripe_deliver(&lms, &body).await.unwrap();
        let order = lms.order(&Actor::System, answer.order_id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Created);
        assert_eq!(order.review_reason.as_deref(), Some(reason));
        assert!(!enrolled(&lms, &other_learner, course.id).await);
    }
    let flagged = lms
        .orders(
            &Actor::System,
            OrderQuery {
                flagged: Some(true),
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(flagged.len(), 2);
    assert_eq!(count_events(&lms, kinds::ORDER_FLAGGED).await, 2);
    // The admin accepts one after review.
    let accepted = lms
        .mark_order_paid(&Actor::System, flagged[0].id)
        .await
        .unwrap();
    assert_eq!(accepted.status, OrderStatus::Paid);
    assert!(enrolled(&lms, &other_learner, course.id).await);
    // Students see their own orders only.
    assert_eq!(
        lms.my_orders(&other_learner, None, None)
            .await
            .unwrap()
            .len(),
        2
    );
    let err = lms.order(&learner, flagged[0].id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = lms
        .orders(&learner, OrderQuery::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}

async fn stripe_webhooks_with_a_bad_signature_change_nothing(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 4999, "USD").await;
    let answer = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap();
    let id = answer.order_id.to_string();
    let body = stripe_event(
        "evt_sig",
        "checkout.session.completed",
        session(&id, "cs_1", "paid", "pi_1", 4999, "usd"),
    );
    let now = lms.now().timestamp();
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("4999", "4998")
        .into_bytes();
    let good = stripe_signature(&body, STRIPE_WHSEC, now);
    let cases: [(Option<String>, &[u8]); 5] = [
        (Some(good.clone()), &tampered),
        (Some(stripe_signature(&body, "whsec_wrong", now)), &body),
        (
            Some(stripe_signature(&body, STRIPE_WHSEC, now - 301)),
            &body,
        ),
        (Some(format!("t={now}")), &body),
        (None, &body),
    ];
    for (header, body) in cases {
        let err = lms
            .stripe_webhook(header.as_deref(), body)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{header:?}");
    }
    assert!(!enrolled(&lms, &learner, course.id).await);
    // Several v1 entries (secrets rolling): any one matching is enough,
    // and the rejected attempts above did not use up the event id.
    let sig = good.split("v1=").nth(1).unwrap();
    let rolled = format!(
        "t={now},v1={},v1={sig},v0=ignored",
        hmac_hex(b"whsec_old", b"x")
    );
    let receipt = lms.stripe_webhook(Some(&rolled), &body).await.unwrap();
    assert_eq!(receipt.outcome, WebhookOutcome::Applied);
    assert!(enrolled(&lms, &learner, course.id).await);
    // Within the 300 s tolerance is still accepted.
    let fresh = stripe_event("evt_unknown", "payout.paid", json!({}));
    let header = stripe_signature(&fresh, STRIPE_WHSEC, now - 299);
    lms.stripe_webhook(Some(&header), &fresh).await.unwrap();
}

async fn razorpay_checkout_verify_and_webhooks_follow_the_rules(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let second = user(&h, "second@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 29935, "INR").await;
    let rzp = CheckoutInput {
        provider: "razorpay".into(),
        ..CheckoutInput::default()
    };

    let answer = lms
        .checkout(&learner, course.id, rzp.clone())
        .await
        .unwrap();
    let checkout = answer.razorpay.clone().unwrap();
    assert_eq!(checkout.key_id, RZP_KEY_ID);
    assert_eq!(checkout.amount, 29935);
    assert_eq!(checkout.currency.code(), "INR");
    let sent = razorpay.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/orders");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{RZP_KEY_ID}:{RZP_KEY_SECRET}"));
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        sent[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = sent[0].json();
    assert_eq!(body["amount"], json!(29935));
    assert_eq!(body["currency"], json!("INR"));
    assert_eq!(body["receipt"], json!(answer.order_id.to_string()));

    // The browser's signature is over OUR stored Razorpay order id.
    let signature = |order: &str, payment: &str| {
        hmac_hex(
            RZP_KEY_SECRET.as_bytes(),
            format!("{order}|{payment}").as_bytes(),
        )
    };
    let verify = |sig: String| lms_core::RazorpayVerifyInput {
        order_id: answer.order_id,
        razorpay_order_id: None,
        razorpay_payment_id: "pay_29QQoUBi66xm2f".into(),
        razorpay_signature: sig,
    };
    for bad in [
        signature("order_someone_else", "pay_29QQoUBi66xm2f"),
        hmac_hex(
            b"wrong",
            format!("{}|pay_29QQoUBi66xm2f", checkout.order_id).as_bytes(),
        ),
        "zz".into(),
    ] {
        let err = lms
            .razorpay_verify(&learner, verify(bad))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.fields()[0].field, "razorpay_signature");
    }
    let err = lms
        .razorpay_verify(
            &second,
            verify(signature(&checkout.order_id, "pay_29QQoUBi66xm2f")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "not the buyer");
    // Checkout's handler answer may be sent whole: a Razorpay order id
    // named must be this order's, even with a signature valid for it.
    let err = lms
        .razorpay_verify(
            &learner,
            lms_core::RazorpayVerifyInput {
                razorpay_order_id: Some("order_someone_else".into()),
                ..verify(signature("order_someone_else", "pay_29QQoUBi66xm2f"))
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "razorpay_order_id", "{err}");
    assert!(!enrolled(&lms, &learner, course.id).await);
    let paid = lms
        .razorpay_verify(
            &learner,
            lms_core::RazorpayVerifyInput {
                razorpay_order_id: Some(checkout.order_id.clone()),
                ..verify(signature(&checkout.order_id, "pay_29QQoUBi66xm2f"))
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    assert!(enrolled(&lms, &learner, course.id).await);

    // The webhook for the same payment then changes nothing.
    let captured = razorpay_event(
        "payment.captured",
        json!({"payment": {"entity": {"id": "pay_29QQoUBi66xm2f", "entity": "payment",
            "amount": 29935, "currency": "INR", "status": "captured",
            "order_id": checkout.order_id}}}),
    );
    assert_eq!(
        rzp_deliver(&lms, "evt_r1", &captured).await.unwrap(),
        WebhookOutcome::Ignored
    );
    assert_eq!(
        rzp_deliver(&lms, "evt_r1", &captured).await.unwrap(),
        WebhookOutcome::Duplicate
    );
    // Bad signatures are refused.
    let err = lms
        .razorpay_webhook(
            Some(&hmac_hex(b"wrong", &captured)),
            Some("evt_r2"),
            &captured,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    let mut tampered = captured.clone();
    tampered.push(b' ');
    let err = lms
        .razorpay_webhook(
            Some(&hmac_hex(RZP_WHSEC.as_bytes(), &captured)),
            Some("evt_r3"),
            &tampered,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);

    // A second learner pays through order.paid (no event id header: the
    // event name and entity id stand in), a failure after it changes
    // nothing, a full refund revokes the enrollment.
    let answer = lms.checkout(&second, course.id, rzp).await.unwrap();
    let rzp_order = answer.razorpay.unwrap().order_id;
    let payment = json!({"id": "pay_2", "entity": "payment", "amount": 29935,
        "currency": "INR", "status": "captured", "order_id": rzp_order});
    let order_paid = razorpay_event(
        "order.paid",
        json!({"payment": {"entity": payment},
            "order": {"entity": {"id": rzp_order, "status": "paid"}}}),
    );
    let sig = hmac_hex(RZP_WHSEC.as_bytes(), &order_paid);
    let first = lms
        .razorpay_webhook(Some(&sig), None, &order_paid)
        .await
        .unwrap();
    assert_eq!(first.outcome, WebhookOutcome::Applied);
    let again = lms
        .razorpay_webhook(Some(&sig), None, &order_paid)
        .await
        .unwrap();
    assert_eq!(again.outcome, WebhookOutcome::Duplicate);
    assert!(enrolled(&lms, &second, course.id).await);
    let failed = razorpay_event(
        "payment.failed",
        json!({"payment": {"entity": {"id": "pay_3", "order_id": rzp_order,
            "amount": 29935, "currency": "INR", "status": "failed"}}}),
    );
    assert_eq!(
        rzp_deliver(&lms, "evt_f", &failed).await.unwrap(),
        WebhookOutcome::Ignored
    );
    let refund = razorpay_event(
        "refund.processed",
        json!({"refund": {"entity": {"id": "rfnd_1", "payment_id": "pay_2", "amount": 29935}},
            "payment": {"entity": {"id": "pay_2", "amount": 29935, "amount_refunded": 29935,
                "order_id": rzp_order}}}),
    );
    assert_eq!(
        rzp_deliver(&lms, "evt_rf", &refund).await.unwrap(),
        WebhookOutcome::Applied
    );
    let order = lms.order(&second, answer.order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Refunded);
    assert_eq!(order.refunded_amount, 29935);
    assert!(!enrolled(&lms, &second, course.id).await);
    assert_eq!(count_events(&lms, kinds::ENROLLMENT_REVOKED).await, 1);
}

async fn checkout_refuses_what_it_must_and_stores_nothing(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 4999, "USD").await;
    let free = paid_course(&lms, &owner, 0, "USD").await;

    let err = lms
        .checkout(
            &learner,
            course.id,
            CheckoutInput {
                provider: "paypal".into(),
                success_url: Some("javascript:alert(1)".into()),
                cancel_url: Some("ftp://x".into()),
                coupon_code: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["provider", "success_url", "cancel_url"]);

    let err = lms
        .checkout(&learner, free.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.fields()[0].field, "course");

    let err = lms
        .checkout(
            &learner,
            course.id,
            CheckoutInput {
                coupon_code: Some("NOPE123".into()),
                ..stripe_checkout()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "coupon_code");

    let err = lms
        .checkout(&Actor::Anonymous, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);

    // A provider that is not configured.
    let bare = h.with_config(common::config());
    let err = bare
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "provider");

    // Taken out by the owner: buying back in is refused, nothing stored.
    let removed = user(&h, "removed@example.com", Role::Student).await;
    let removed_id = removed.user_id().unwrap();
    let grant = lms_core::GrantInput {
        user_id: removed_id,
        expires_at: None,
    };
    lms.grant_enrollment(&owner, course.id, grant)
        .await
        .unwrap();
    let revoked = lms
        .revoke_enrollment(&owner, course.id, removed_id)
        .await
        .unwrap();
    assert_eq!(
        revoked.revoked_by,
        Some(lms_core::enrollment::RevokedBy::Owner)
    );
    let err = lms
        .checkout(&removed, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(err.message().contains("revoked"), "{err}");
    assert!(
        lms.my_orders(&removed, None, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Granted access already: a conflict.
    lms.grant_enrollment(
        &owner,
        course.id,
        lms_core::GrantInput {
            user_id: learner.user_id().unwrap(),
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let err = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // The owner has nothing to buy.
    let err = lms
        .checkout(&owner, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(lms.my_orders(&owner, None, None).await.unwrap().is_empty());

    assert!(
        lms.my_orders(&learner, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(stripe.requests().is_empty());
    assert_eq!(count_events(&lms, kinds::ORDER_CREATED).await, 0);

    // A provider refusing is a provider error, with its message.
    let broken = h.with_config(Config {
        stripe_secret_key: "sk_test_wrong".into(),
        ..payments_config(&stripe, &razorpay)
    });
    let other = user(&h, "other@example.com", Role::Student).await;
    let err = broken
        .checkout(&other, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(
        err.message().contains("Invalid API Key"),
        "{}",
        err.message()
    );

    // The order that refusal left stays on record, and keeps its course: a
    // course with orders and no enrollment is archived, never deleted.
    let unsold = paid_course(&lms, &owner, 1999, "USD").await;
    let err = broken
        .checkout(&other, unsold.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    lms.delete_course(&owner, free.id).await.unwrap();
    let err = lms.delete_course(&owner, unsold.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("orders"), "{}", err.message());
    assert!(
        lms.course_detail(&owner, &unsold.id.to_string())
            .await
            .is_ok()
    );
}

async fn coupons_price_checkouts_and_only_owners_make_them(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let rival = user(&h, "rival@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 5000, "USD").await;

    let err = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "a b".into(),
                percent_off: Some(150),
                amount_off: None,
                currency: Some("USD".into()),
                max_redemptions: Some(0),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap_err();
    let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        ["code", "percent_off", "currency", "max_redemptions"]
    );
    for (who, kind) in [
        (&learner, ErrorKind::Forbidden),
        (&rival, ErrorKind::Forbidden),
    ] {
        let err = lms
            .create_coupon(
                who,
                CouponInput {
                    code: "TAKEOVER".into(),
                    course_id: Some(course.id),
                    percent_off: Some(50),
                    ..CouponInput::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    // Another owner beside the course is pointed out, not dropped.
    let err = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "ELSEWHERE".into(),
                course_id: Some(course.id),
                owner_id: rival.user_id(),
                percent_off: Some(50),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "owner_id", "{err:?}");
    // Nor is a student, who owns no course, a coupon's owner.
    let err = lms
        .create_coupon(
            &Actor::System,
            CouponInput {
                code: "STUDENTS".into(),
                owner_id: learner.user_id(),
                percent_off: Some(50),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "owner_id", "{err:?}");
    assert!(lms.coupons(&Actor::System, None).await.unwrap().is_empty());

    let half = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "Half-Off".into(),
                course_id: Some(course.id),
                percent_off: Some(50),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(half.code, "HALF-OFF");
    let err = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "half-off".into(),
                percent_off: Some(10),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "codes ignore case");
    let quote = lms
        .validate_coupon(
            &learner,
            CouponCheck {
                code: "half-off".into(),
                course_id: course.id,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (quote.list_amount, quote.discount_amount, quote.amount),
        (5000, 2500, 2500)
    );
    // A fixed amount in another currency does not apply; in the course's
    // currency it is capped at the price, and 100% enrolls at once.
    lms.create_coupon(
        &owner,
        CouponInput {
            code: "EURO10".into(),
            amount_off: Some(1000),
            currency: Some("eur".into()),
            ..CouponInput::default()
        },
    )
    .await
    .unwrap();
    let err = lms
        .validate_coupon(
            &learner,
            CouponCheck {
                code: "euro10".into(),
                course_id: course.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "code");
    let answer = lms
        .checkout(
            &learner,
            course.id,
            CheckoutInput {
                coupon_code: Some("half-off".into()),
                ..stripe_checkout()
            },
        )
        .await
        .unwrap();
    assert_eq!(answer.amount, 2500);
    let f = form(&stripe.requests()[0].body);
    assert_eq!(f["line_items[0][price_data][unit_amount]"], "2500");

    let rival_course = paid_course(&lms, &rival, 5000, "USD").await;
    let everything = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "ALLFREE".into(),
                amount_off: Some(99_999),
                currency: Some("USD".into()),
                max_per_user: Some(1),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap();
    let err = lms
        .validate_coupon(
            &learner,
            CouponCheck {
                code: "allfree".into(),
                course_id: rival_course.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "code", "not the owner's course");
    let answer = lms
        .checkout(
            &learner,
            course.id,
            CheckoutInput {
                coupon_code: Some("AllFree".into()),
                ..stripe_checkout()
            },
        )
        .await
        .unwrap();
    assert_eq!(answer.status, OrderStatus::Paid);
    assert_eq!(answer.amount, 0);
    assert!(answer.checkout_url.is_none());
    assert!(enrolled(&lms, &learner, course.id).await);
    assert_eq!(stripe.requests().len(), 1, "no provider for a free order");
    let coupon = lms.store().coupon(everything.id).await.unwrap().unwrap();
    assert_eq!(coupon.redeemed, 1);

    // Disabled: refused. Only the owner or an admin disables.
    let err = lms.disable_coupon(&rival, half.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(lms.disable_coupon(&owner, half.id).await.unwrap().disabled);
    let err = lms
        .validate_coupon(
            &learner,
            CouponCheck {
                code: "HALF-OFF".into(),
                course_id: course.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields()[0].field, "code");
    assert_eq!(lms.coupons(&owner, None).await.unwrap().len(), 3);
    assert!(lms.coupons(&rival, None).await.unwrap().is_empty());
    assert_eq!(count_events(&lms, kinds::COUPON_CREATED).await, 3);
    assert_eq!(count_events(&lms, kinds::COUPON_DISABLED).await, 1);
}

async fn a_coupon_with_ten_uses_left_is_used_ten_times_under_a_hundred_fulfillments(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let mut courses = Vec::new();
    for _ in 0..10 {
        courses.push(paid_course(&lms, &owner, 2000, "USD").await);
    }
    let mut learners = Vec::new();
    for i in 0..10 {
        learners.push(user(&h, &format!("l{i}@example.com"), Role::Student).await);
    }
    let coupon = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "TENFREE".into(),
                percent_off: Some(100),
                max_redemptions: Some(10),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap();
    let half = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "TENHALF".into(),
                percent_off: Some(50),
                max_redemptions: Some(10),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap();

    // 100 checkouts at once, each free by the coupon: each one fulfills
    // at once, so 100 fulfillments race for 10 uses.
    let mut tasks = tokio::task::JoinSet::new();
    for learner in &learners {
        for course in &courses {
            let (lms, learner, course) = (lms.clone(), *learner, course.id);
            tasks.spawn(async move {
                lms.checkout(
                    &learner,
                    course,
                    CheckoutInput {
                        coupon_code: Some("tenfree".into()),
                        ..stripe_checkout()
                    },
                )
                .await
            });
        }
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(answer) => {
                assert_eq!(answer.status, OrderStatus::Paid);
                ok += 1;
            }
            Err(e) => {
                assert!(
                    matches!(e.kind(), ErrorKind::Conflict | ErrorKind::InvalidInput),
                    "{e:?}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (10, 90));
    let stored = lms.store().coupon(coupon.id).await.unwrap().unwrap();
    assert_eq!(stored.redeemed, 10);

    // Paid orders the same way: the 90 pairs left check out while uses
    // seem left, then their 90 payments land at once. Ten fulfill, the
    // rest wait for review.
    let mut orders = Vec::new();
    for learner in &learners {
        for course in &courses {
            if enrolled(&lms, learner, course.id).await {
                continue;
            }
            let answer = lms
                .checkout(
                    learner,
                    course.id,
                    CheckoutInput {
                        coupon_code: Some("tenhalf".into()),
                        ..stripe_checkout()
                    },
                )
                .await
                .unwrap();
            assert_eq!(answer.amount, 1000);
            orders.push(answer.order_id);
        }
    }
    assert_eq!(orders.len(), 90);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, order) in orders.iter().enumerate() {
        let lms = lms.clone();
        let id = order.to_string();
        tasks.spawn(async move {
            let body = stripe_event(
                &format!("evt_c{n}"),
                "checkout.session.completed",
                session(
                    &id,
                    &format!("cs_c{n}"),
                    "paid",
                    &format!("pi_c{n}"),
                    1000,
                    "usd",
                ),
            );
            stripe_deliver(&lms, &body).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), WebhookOutcome::Applied);
    }
    let stored = lms.store().coupon(half.id).await.unwrap().unwrap();
    assert_eq!(stored.redeemed, 10);
    let mut paid = 0;
    for order in &orders {
        let order = lms.order(&Actor::System, *order).await.unwrap();
        match order.status {
            OrderStatus::Paid => paid += 1,
            OrderStatus::Created => {
                assert_eq!(order.review_reason.as_deref(), Some("coupon_limit_reached"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(paid, 10);
}

async fn one_learner_s_free_by_coupon_checkouts_at_once_pay_one_order(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 2000, "USD").await;
    let coupon = lms
        .create_coupon(
            &owner,
            CouponInput {
                code: "ALLFREE".into(),
                percent_off: Some(100),
                ..CouponInput::default()
            },
        )
        .await
        .unwrap();
    // A double click, eight times over: each sees no enrollment yet.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let lms = lms.clone();
        tasks.spawn(async move {
            let input = CheckoutInput {
                coupon_code: Some("allfree".into()),
                ..stripe_checkout()
            };
            lms.checkout(&learner, course.id, input).await
        });
    }
    let (mut ok, mut refused) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(answer) => {
                assert_eq!(answer.status, OrderStatus::Paid);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "{e:?}");
                assert!(e.message().contains("already enrolled"), "{e:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (1, 7));
    assert!(enrolled(&lms, &learner, course.id).await);
    let orders = lms.my_orders(&learner, None, None).await.unwrap();
    let paid = orders.iter().filter(|o| o.status.is_paid()).count();
    assert_eq!(paid, 1, "{orders:?}");
    assert!(
        orders
            .iter()
            .all(|o| o.status.is_paid() || o.status == OrderStatus::Failed),
        "{orders:?}"
    );
    let stored = lms.store().coupon(coupon.id).await.unwrap().unwrap();
    assert_eq!(stored.redeemed, 1, "one use, for the one order paid");
}

async fn an_owner_s_revocation_holds_against_refunds_and_late_payments(h: Harness) {
    use lms_core::enrollment::RevokedBy;
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let refunded = user(&h, "refunded@example.com", Role::Student).await;
    let late = user(&h, "late@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 4999, "USD").await;
    let pay = |order: lms_core::OrderId, n: u32| {
        let id = order.to_string();
        stripe_event(
            &format!("evt_o{n}"),
            "checkout.session.completed",
            session(
                &id,
                &format!("cs_o{n}"),
                "paid",
                &format!("pi_o{n}"),
                4999,
                "usd",
            ),
        )
    };
    let revoked_by = |who: Actor| {
        let lms = lms.clone();
        async move {
            let mine = lms.my_enrollments(&who).await.unwrap();
            mine.iter()
                .find(|e| e.enrollment.course_id == course.id)
                .and_then(|e| e.enrollment.revoked_by)
        }
    };

    // Refunded, then taken out by the owner: the owner's revocation it is.
    let bought = lms
        .checkout(&refunded, course.id, stripe_checkout())
        .await
        .unwrap();
    stripe_deliver(&lms, &pay(bought.order_id, 1))
        .await
        .unwrap();
    lms.refund_order(&Actor::System, bought.order_id, RefundInput::default())
        .await
        .unwrap();
    assert_eq!(revoked_by(refunded).await, Some(RevokedBy::Refund));
    let revoked = lms
        .revoke_enrollment(&owner, course.id, refunded.user_id().unwrap())
        .await
        .unwrap();
    assert_eq!(revoked.revoked_by, Some(RevokedBy::Owner));
    let err = lms
        .checkout(&refunded, course.id, stripe_checkout())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");

    // A checkout opened before the owner took the learner out, paid
    // after: the payment is recorded, the access waits for an admin.
    let open = lms
        .checkout(&late, course.id, stripe_checkout())
        .await
        .unwrap();
    let grant = lms_core::GrantInput {
        user_id: late.user_id().unwrap(),
        expires_at: None,
    };
    lms.grant_enrollment(&owner, course.id, grant)
        .await
        .unwrap();
    lms.revoke_enrollment(&owner, course.id, late.user_id().unwrap())
        .await
        .unwrap();
    assert_eq!(
        stripe_deliver(&lms, &pay(open.order_id, 2)).await.unwrap(),
        WebhookOutcome::Applied
    );
    let flagged = lms.order(&Actor::System, open.order_id).await.unwrap();
    assert_eq!(
        (flagged.status, flagged.review_reason.as_deref()),
        (OrderStatus::Created, Some("learner_revoked"))
    );
    assert_eq!(flagged.provider_payment_id.as_deref(), Some("pi_o2"));
    assert!(!enrolled(&lms, &late, course.id).await);
    assert_eq!(revoked_by(late).await, Some(RevokedBy::Owner));
    // An admin who accepts it after review lets the learner back in.
    let accepted = lms
        .mark_order_paid(&Actor::System, open.order_id)
        .await
        .unwrap();
    assert_eq!(accepted.status, OrderStatus::Paid);
    assert!(enrolled(&lms, &late, course.id).await);
    assert_eq!(revoked_by(late).await, None);
}

/// What should become of one order in the exactly-once run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Paid,
    PaidThenExpired,
    Refunded,
    PartlyRefunded,
}

async fn every_payment_is_applied_exactly_once_in_any_order(h: Harness) {
    const ORDERS: usize = 1000;
    const COPIES: usize = 3;
    const AT_ONCE: usize = 50;
    const USERS: usize = 40;
    const COURSES: usize = 25;
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let mut courses = Vec::new();
    for _ in 0..COURSES {
        courses.push(paid_course(&lms, &owner, 4999, "USD").await);
    }
    let mut learners = Vec::new();
    for i in 0..USERS {
        learners.push(user(&h, &format!("buyer{i}@example.com"), Role::Student).await);
    }
    let started = std::time::Instant::now();
    let mut plan = Vec::new();
    for (n, (learner, course)) in learners
        .iter()
        .flat_map(|l| courses.iter().map(move |c| (*l, c.id)))
        .enumerate()
    {
        let answer = lms
            .checkout(&learner, course, stripe_checkout())
            .await
            .unwrap();
        let fate = match n % 10 {
            0 | 1 => Fate::Refunded,
            2 | 3 => Fate::PartlyRefunded,
            4 => Fate::PaidThenExpired,
            _ => Fate::Paid,
        };
        plan.push((answer.order_id, learner, course, fate));
    }
    assert_eq!(plan.len(), ORDERS);
    let checkouts = started.elapsed();

    // Every event of every order, three copies each.
    let mut early = Vec::new();
    let mut deliveries = Vec::new();
    for (n, (order, _, _, fate)) in plan.iter().enumerate() {
        let id = order.to_string();
        let session_id = format!("cs_test_{}", id.replace('-', ""));
        let pi = format!("pi_{n}");
        let mut events = vec![stripe_event(
            &format!("evt_pay_{n}"),
            if n % 2 == 0 {
                "checkout.session.completed"
            } else {
                "checkout.session.async_payment_succeeded"
            },
            session(&id, &session_id, "paid", &pi, 4999, "usd"),
        )];
        let refunded = match fate {
            Fate::Refunded => Some(4999),
            Fate::PartlyRefunded => Some(1500),
            _ => None,
        };
        if let Some(amount) = refunded {
            events.push(stripe_event(
                &format!("evt_refund_{n}"),
                "charge.refunded",
                json!({"id": format!("ch_{n}"), "object": "charge", "amount": 4999,
                    "amount_refunded": amount, "refunded": amount == 4999,
                    "payment_intent": pi}),
            ));
        }
        if *fate == Fate::PaidThenExpired {
            events.push(stripe_event(
                &format!("evt_expired_{n}"),
                "checkout.session.expired",
                session(&id, &session_id, "unpaid", &pi, 4999, "usd"),
            ));
        }
        for (k, event) in events.into_iter().enumerate() {
            for _ in 0..COPIES {
                // The refunds of the first 100 orders go before everything.
                if k == 1 && n < 100 && refunded.is_some() {
                    early.push(event.clone());
                } else {
                    deliveries.push(event.clone());
                }
            }
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    deliveries.shuffle(&mut rng);
    early.shuffle(&mut rng);
    let total = early.len() + deliveries.len();

    let started = std::time::Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut outcomes: HashMap<String, Vec<WebhookOutcome>> = HashMap::new();
    for batch in [early, deliveries] {
        let mut tasks = tokio::task::JoinSet::new();
        for body in batch {
            let permit = limit.clone().acquire_owned().await.unwrap();
            let lms = lms.clone();
            tasks.spawn(async move {
                let outcome = stripe_deliver(&lms, &body).await;
                drop(permit);
                let id: Value = serde_json::from_slice(&body).unwrap();
                (id["id"].as_str().unwrap().to_owned(), outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (id, outcome) = done.unwrap();
            outcomes.entry(id).or_default().push(outcome.unwrap());
        }
    }
    let delivering = started.elapsed();
    eprintln!(
        "{}: {ORDERS} checkouts in {checkouts:?}; {total} deliveries, {AT_ONCE} at once, in {delivering:?}",
        h.store.backend()
    );

    // Each event did its work once; its copies were duplicates.
    for (id, seen) in &outcomes {
        assert_eq!(seen.len(), COPIES, "{id}");
        let firsts = seen
            .iter()
            .filter(|o| **o != WebhookOutcome::Duplicate)
            .count();
        assert_eq!(firsts, 1, "{id}: {seen:?}");
    }
    let mut active = 0;
    let mut per_course: HashMap<CourseId, i64> = HashMap::new();
    for (order, learner, course, fate) in &plan {
        let order = lms.order(&Actor::System, *order).await.unwrap();
        let (status, refunded, access) = match fate {
            Fate::Paid | Fate::PaidThenExpired => (OrderStatus::Paid, 0, true),
            Fate::Refunded => (OrderStatus::Refunded, 4999, false),
            Fate::PartlyRefunded => (OrderStatus::PartiallyRefunded, 1500, true),
        };
        assert_eq!(
            (order.status, order.refunded_amount),
            (status, refunded),
            "{fate:?}"
        );
        assert!(order.provider_payment_id.is_some());
        assert_eq!(enrolled(&lms, learner, *course).await, access, "{fate:?}");
        if access {
            active += 1;
            *per_course.entry(*course).or_default() += 1;
        }
    }
    assert_eq!(active, 800);
    assert_eq!(count_events(&lms, kinds::ORDER_PAID).await, ORDERS);
    assert_eq!(count_events(&lms, kinds::ORDER_REFUNDED).await, 200);
    assert_eq!(
        count_events(&lms, kinds::ORDER_PARTIALLY_REFUNDED).await,
        200
    );
    // The courses' enrollment counts agree with the enrollments.
    for course in &courses {
        let stored = lms
            .store()
            .course(&lms_core::store::courses::CourseKey::Id(course.id))
            .await
            .unwrap()
            .unwrap()
            .course;
        assert_eq!(
            stored.enrollment_count,
            per_course.get(&course.id).copied().unwrap_or(0)
        );
    }
}

async fn refunds_call_the_provider_and_reconciliation_repairs_drift(h: Harness) {
    let remote = Remote::default();
    let (stripe, razorpay) = (
        fake_stripe(remote.clone()).await,
        fake_razorpay(remote.clone()).await,
    );
    let lms = h.with_config(payments_config(&stripe, &razorpay));
    let owner = user(&h, "owner@example.com", Role::Instructor).await;
    let learner = user(&h, "learner@example.com", Role::Student).await;
    let late = user(&h, "late@example.com", Role::Student).await;
    let course = paid_course(&lms, &owner, 4999, "USD").await;
    let inr = paid_course(&lms, &owner, 50000, "INR").await;

    let answer = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap();
    let id = answer.order_id.to_string();
    let paid = stripe_event(
        "evt_p",
        "checkout.session.completed",
        session(&id, "cs_r", "paid", "pi_r", 4999, "usd"),
    );
    stripe_deliver(&lms, &paid).await.unwrap();

    for (bad, kind) in [
        (Some(0), ErrorKind::InvalidInput),
        (Some(5000), ErrorKind::InvalidInput),
    ] {
        let err = lms
            .refund_order(&Actor::System, answer.order_id, RefundInput { amount: bad })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
    }
    let err = lms
        .refund_order(&learner, answer.order_id, RefundInput::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let part = lms
        .refund_order(
            &Actor::System,
            answer.order_id,
            RefundInput { amount: Some(999) },
        )
        .await
        .unwrap();
    assert_eq!(part.status, OrderStatus::PartiallyRefunded);
    assert!(enrolled(&lms, &learner, course.id).await);
    let rest = lms
        .refund_order(&Actor::System, answer.order_id, RefundInput::default())
        .await
        .unwrap();
    assert_eq!(
        (rest.status, rest.refunded_amount),
        (OrderStatus::Refunded, 4999)
    );
    assert!(!enrolled(&lms, &learner, course.id).await);
    let mine = lms.my_enrollments(&learner).await.unwrap();
    let ended = mine.iter().find(|e| e.enrollment.course_id == course.id);
    assert_eq!(
        ended.map(|e| e.enrollment.revoked_by),
        Some(Some(lms_core::enrollment::RevokedBy::Refund)),
        "a refund, not the owner, ended it: the learner may buy again (below)"
    );
    let refunds: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .collect();
    assert_eq!(refunds.len(), 2);
    let first = form(&refunds[0].body);
    assert_eq!(first["payment_intent"], "pi_r");
    assert_eq!(first["amount"], "999");
    assert_eq!(form(&refunds[1].body)["amount"], "4000");
    assert_eq!(
        refunds[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    let keys: Vec<_> = refunds
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            format!("lms-refund-{id}-999"),
            format!("lms-refund-{id}-4999")
        ]
    );
    // Stripe's own charge.refunded for it arrives after: nothing more.
    let charge = stripe_event(
        "evt_ch",
        "charge.refunded",
        json!({"amount": 4999, "amount_refunded": 4999, "refunded": true, "payment_intent": "pi_r"}),
    );
    assert_eq!(
        stripe_deliver(&lms, &charge).await.unwrap(),
        WebhookOutcome::Ignored
    );
    let err = lms
        .refund_order(&Actor::System, answer.order_id, RefundInput::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    // Razorpay refund: POST /v1/payments/{id}/refund, JSON, Basic auth.
    let rzp = lms
        .checkout(
            &learner,
            inr.id,
            CheckoutInput {
                provider: "razorpay".into(),
                ..CheckoutInput::default()
            },
        )
        .await
        .unwrap();
    let rzp_order = rzp.razorpay.unwrap().order_id;
    let captured = razorpay_event(
        "payment.captured",
        json!({"payment": {"entity": {"id": "pay_R", "amount": 50000, "currency": "INR",
            "status": "captured", "order_id": rzp_order}}}),
    );
    rzp_deliver(&lms, "evt_cap", &captured).await.unwrap();
    lms.refund_order(
        &Actor::System,
        rzp.order_id,
        RefundInput {
            amount: Some(10000),
        },
    )
    .await
    .unwrap();
    let sent = razorpay.requests();
    let refund = sent.last().unwrap();
    assert_eq!(refund.path, "/v1/payments/pay_R/refund");
    assert_eq!(refund.json()["amount"], json!(10000));
    assert!(
        refund
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );

    // Drift: webhooks that never came. Stripe says one session is paid,
    // another expired; Razorpay has a captured payment.
    let paid_late = lms
        .checkout(&late, course.id, stripe_checkout())
        .await
        .unwrap();
    let expired = lms
        .checkout(&learner, course.id, stripe_checkout())
        .await
        .unwrap();
    let rzp_late = lms
        .checkout(
            &late,
            inr.id,
            CheckoutInput {
                provider: "razorpay".into(),
                ..CheckoutInput::default()
            },
        )
        .await
        .unwrap();
    let session_of = |o: &lms_core::OrderId| format!("cs_test_{}", o.to_string().replace('-', ""));
    {
        let mut remote = remote.lock().unwrap();
        let s = session_of(&paid_late.order_id);
        remote.insert(
            s.clone(),
            session(
                &paid_late.order_id.to_string(),
                &s,
                "paid",
                "pi_late",
                4999,
                "usd",
            ),
        );
        let s = session_of(&expired.order_id);
        remote.insert(
            s.clone(),
            json!({"id": s, "status": "expired", "payment_status": "unpaid"}),
        );
        let r = rzp_late.razorpay.clone().unwrap().order_id;
        remote.insert(
            r.clone(),
            json!([{"id": "pay_f", "status": "failed", "amount": 50000, "currency": "INR", "order_id": r},
                   {"id": "pay_ok", "status": "captured", "amount": 50000, "currency": "INR", "order_id": r}]),
        );
    }
    assert!(!enrolled(&lms, &late, course.id).await);
    let report = lms.reconcile_payments(&Actor::System).await.unwrap();
    assert_eq!((report.checked, report.repaired, report.errors), (3, 3, 0));
    assert!(enrolled(&lms, &late, course.id).await);
    assert!(enrolled(&lms, &late, inr.id).await);
    assert_eq!(
        lms.order(&Actor::System, expired.order_id)
            .await
            .unwrap()
            .status,
        OrderStatus::Expired
    );
    let gets: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.method == http::Method::GET)
        .map(|r| r.path)
        .collect();
    assert!(gets.contains(&format!(
        "/v1/checkout/sessions/{}",
        session_of(&paid_late.order_id)
    )));
    // Nothing is left open, so a second run asks nobody and repairs nothing.
    let report = lms.reconcile_payments(&Actor::System).await.unwrap();
    assert_eq!((report.checked, report.repaired), (0, 0));
    let err = lms.reconcile_payments(&learner).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}
