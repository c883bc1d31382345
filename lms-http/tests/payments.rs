//! Payments over HTTP on both stores: checkout against loopback fakes of
//! Stripe and Razorpay that check the key, the encoding and the
//! idempotency key; webhooks signed here by the providers' published
//! algorithms and delivered over a real socket as raw bytes (valid,
//! duplicate, tampered, stale, wrong secret); Razorpay's browser
//! confirmation; coupons; the learner's and the admins' orders, refunds
//! and marking paid; bad input refused with nothing stored. Every answer,
//! in process or off the socket, is checked against the OpenAPI document.

mod common;

use common::payments::{
    self as pay, RZP_KEY_ID, RZP_WHSEC, STRIPE_KEY, STRIPE_WHSEC, fake_razorpay, fake_stripe,
    hmac_hex, paid_course, stripe_signature,
};
use common::{Reply, Server, Session, TestApp, http_config, send_over};
use http::Method;
use lms_core::{Lms, Role};
use lms_http::App;
use lms_tests::fake::FakeApi;
use serde_json::{Value, json};
use tokio::net::TcpListener;

on_both_stores!(
    stripe_checkout_and_its_signed_webhook_enroll_exactly_once,
    razorpay_checkout_is_verified_by_signature_and_by_webhook,
    coupons_are_made_priced_listed_and_disabled,
    orders_are_listed_shown_refunded_and_marked_paid,
    a_learners_orders_come_a_page_at_a_time,
    bad_payment_input_is_refused_naming_the_field_and_stores_nothing,
    without_providers_checkout_and_webhooks_say_so,
);

/// The payment world of one test: the app served on a socket, the fakes
/// it calls, and the people.
struct Shop {
    t: TestApp,
    server: Server,
    stripe: FakeApi,
    razorpay: FakeApi,
    owner: Session,
    learner: Session,
    admin: Session,
}

async fn shop(t: &TestApp) -> Shop {
    let (stripe, razorpay) = (fake_stripe().await, fake_razorpay().await);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = pay::with_providers(
        lms_core::Config {
            public_url: format!("http://{}", listener.local_addr().unwrap()),
            ..common::core_config()
        },
        &stripe,
        &razorpay,
    );
    let lms = Lms::builder(config)
        .store(t.lms.store().clone())
        .build()
        .unwrap();
    let app = App::new(lms.clone(), http_config());
    let server = Server::start_on(listener, app.clone());
    let t = TestApp { app, lms };
    let owner = t.staff("owner@example.com", Role::Instructor).await;
    let admin = t.staff("admin@example.com", Role::Admin).await;
    let learner = t.register("learner@example.com").await;
    Shop {
        t,
        server,
        stripe,
        razorpay,
        owner,
        learner,
        admin,
    }
}

impl Shop {
    async fn checkout(&self, who: &Session, course: &str, body: Value) -> Reply {
        self.t
            .post(&format!("/api/v1/courses/{course}/checkout"))
            .token(&who.token)
            .json(body)
            .send()
            .await
    }

    async fn order(&self, who: &Session, order: &str) -> Reply {
        self.t
            .get(&format!("/api/v1/orders/{order}"))
            .token(&who.token)
            .send()
            .await
    }

    /// The course's enrollments, as its owner sees them.
    async fn enrollments(&self, course: &str) -> Vec<Value> {
        let reply = self
            .t
            .get(&format!("/api/v1/courses/{course}/enrollments"))
            .token(&self.owner.token)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.json()["items"].as_array().unwrap().clone()
    }

    async fn my_orders(&self, who: &Session) -> Vec<Value> {
        let reply = self
            .t
            .get("/api/v1/me/orders")
            .token(&who.token)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.json()["items"].as_array().unwrap().clone()
    }

    /// A Stripe delivery over the socket, signed by `signature` if given.
    async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> Reply {
        let mut headers = vec![("content-type", "application/json; charset=utf-8")];
        if let Some(signature) = signature {
            headers.push(("stripe-signature", signature));
        }
        send_over(
            self.server.addr,
            Method::POST,
            "/api/v1/webhooks/stripe",
            &headers,
            body.to_vec(),
        )
        .await
    }

    /// A Razorpay delivery over the socket.
    async fn razorpay_webhook(
        &self,
        signature: Option<&str>,
        event_id: &str,
        body: &[u8],
    ) -> Reply {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("x-razorpay-event-id", event_id),
        ];
        if let Some(signature) = signature {
            headers.push(("x-razorpay-signature", signature));
        }
        send_over(
            self.server.addr,
            Method::POST,
            "/api/v1/webhooks/razorpay",
            &headers,
            body.to_vec(),
        )
        .await
    }

    fn now(&self) -> i64 {
        self.t.lms.now().timestamp()
    }
}

/// An event as Stripe sends it.
fn stripe_event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": 1,
        "type": kind, "livemode": false, "data": {"object": object}})
    .to_string()
    .into_bytes()
}

/// A Checkout Session of our `order`.
fn session(order: &str, session: &str, status: &str, amount: i64) -> Value {
    json!({"id": session, "object": "checkout.session", "client_reference_id": order,
        "metadata": {"order_id": order}, "payment_status": status,
        "payment_intent": format!("pi_{}", &session[8..]), "amount_total": amount,
        "currency": "usd", "status": "complete"})
}

/// An event as Razorpay sends it.
fn razorpay_event(kind: &str, payload: Value) -> Vec<u8> {
    json!({"entity": "event", "account_id": "acc_http", "event": kind,
        "contains": payload.as_object().unwrap().keys().collect::<Vec<_>>(),
        "payload": payload, "created_at": 1})
    .to_string()
    .into_bytes()
}

/// The ids of a 200 list answer's items, in order.
fn ids(reply: Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(reply: &Reply) -> String {
    reply.json()["order_id"].as_str().unwrap().to_owned()
}

async fn stripe_checkout_and_its_signed_webhook_enroll_exactly_once(t: TestApp) {
    let s = shop(&t).await;
    let course = paid_course(&s.t, &s.owner, 4999, "USD").await;
    // A paid course is bought, not enrolled in directly.
    s.t.post(&format!("/api/v1/courses/{course}/enroll"))
        .token(&s.learner.token)
        .send()
        .await
        .problem(402, "payment");
    let started = s
        .checkout(
            &s.learner,
            &course,
            json!({"provider": "stripe", "success_url": "https://school.example/thanks",
                   "cancel_url": "https://school.example/cancel"}),
        )
        .await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let order = id_of(&started);
    let session_id = format!("cs_test_{}", order.replace('-', ""));
    assert_eq!(
        started.header("location"),
        Some(format!("/api/v1/orders/{order}").as_str())
    );
    assert_eq!(
        started.json(),
        json!({"order_id": order, "status": "created", "provider": "stripe",
               "amount": 4999, "currency": "USD", "razorpay": null,
               "checkout_url": format!("https://checkout.stripe.com/c/pay/{session_id}")})
    );

    // What Stripe was sent: the key, a form, one idempotency key per order.
    let sent = s.stripe.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/checkout/sessions");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {STRIPE_KEY}").as_str())
    );
    assert_eq!(
        sent[0].header("idempotency-key"),
        Some(format!("lms-checkout-{order}").as_str())
    );
    let f = pay::form(&sent[0].body);
    assert_eq!(f["mode"], "payment");
    assert_eq!(f["client_reference_id"], order);
    assert_eq!(f["metadata[order_id]"], order);
    assert_eq!(f["line_items[0][quantity]"], "1");
    assert_eq!(f["line_items[0][price_data][currency]"], "usd");
    assert_eq!(f["line_items[0][price_data][unit_amount]"], "4999");
    assert_eq!(f["success_url"], "https://school.example/thanks");
    assert_eq!(f["cancel_url"], "https://school.example/cancel");
    let stored = s.order(&s.learner, &order).await.json();
    assert_eq!(stored["status"], "created");
    assert_eq!(stored["provider_order_id"], json!(session_id));
    assert!(s.enrollments(&course).await.is_empty());

    // Bad deliveries of the payment: refused, and nothing changes.
    let paid = stripe_event(
        "evt_http_paid",
        "checkout.session.completed",
        session(&order, &session_id, "paid", 4999),
    );
    let now = s.now();
    let good = stripe_signature(&paid, STRIPE_WHSEC, now);
    let mut tampered = paid.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 1;
    for (signature, body) in [
        (Some(good.clone()), tampered),
        (
            Some(stripe_signature(&paid, STRIPE_WHSEC, now - 301)),
            paid.clone(),
        ),
        (
            Some(stripe_signature(&paid, "whsec_other", now)),
            paid.clone(),
        ),
        (Some(format!("t={now}")), paid.clone()),
        (None, paid.clone()),
    ] {
        s.stripe_webhook(signature.as_deref(), &body)
            .await
            .problem(401, "unauthenticated");
    }
    assert_eq!(
        s.order(&s.learner, &order).await.json()["status"],
        "created"
    );
    assert!(s.enrollments(&course).await.is_empty());

    // The signed delivery enrolls; its redelivery answers 2xx, does nothing.
    let applied = s.stripe_webhook(Some(&good), &paid).await;
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.json(), json!({"outcome": "applied"}));
    let again = s
        .stripe_webhook(Some(&stripe_signature(&paid, STRIPE_WHSEC, now)), &paid)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), json!({"outcome": "duplicate"}));
    let enrolled = s.enrollments(&course).await;
    assert_eq!(enrolled.len(), 1, "{enrolled:?}");
    assert_eq!(enrolled[0]["enrollment"]["user_id"], json!(s.learner.id));
    assert_eq!(enrolled[0]["enrollment"]["source"], "purchase");
    assert_eq!(enrolled[0]["enrollment"]["status"], "active");
    let stored = s.order(&s.learner, &order).await.json();
    assert_eq!(stored["status"], "paid");
    assert_eq!(
        stored["provider_payment_id"],
        json!(format!("pi_{}", &session_id[8..]))
    );

    // Types we do not act on, and a late expiry, are acknowledged.
    for (id, kind) in [
        ("evt_http_other", "customer.created"),
        ("evt_http_late", "checkout.session.expired"),
    ] {
        let body = stripe_event(id, kind, session(&order, &session_id, "unpaid", 4999));
        let reply = s
            .stripe_webhook(Some(&stripe_signature(&body, STRIPE_WHSEC, now)), &body)
            .await;
        assert_eq!(reply.json(), json!({"outcome": "ignored"}));
    }
    assert_eq!(s.order(&s.learner, &order).await.json()["status"], "paid");
    // Bought: a second checkout is a conflict, and Stripe is not asked.
    s.checkout(&s.learner, &course, json!({"provider": "stripe"}))
        .await
        .problem(409, "conflict");
    assert_eq!(s.stripe.requests().len(), 1);

    // An admin refunds part of it through Stripe's refund API.
    let refunded =
        s.t.post(&format!("/api/v1/orders/{order}/refund"))
            .token(&s.admin.token)
            .json(json!({"amount": 999}))
            .send()
            .await;
    assert_eq!(refunded.status, 200, "{:?}", refunded.body);
    assert_eq!(refunded.json()["status"], "partially_refunded");
    assert_eq!(refunded.json()["refunded_amount"], 999);
    let sent = s.stripe.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].path, "/v1/refunds");
    let f = pay::form(&sent[1].body);
    assert_eq!(f["payment_intent"], format!("pi_{}", &session_id[8..]));
    assert_eq!(f["amount"], "999");
    assert_eq!(
        s.enrollments(&course).await[0]["enrollment"]["status"],
        "active"
    );
    s.server.stop().await;
}

async fn razorpay_checkout_is_verified_by_signature_and_by_webhook(t: TestApp) {
    let s = shop(&t).await;
    let second = s.t.register("second@example.com").await;
    let course = paid_course(&s.t, &s.owner, 29935, "INR").await;
    let started = s
        .checkout(&s.learner, &course, json!({"provider": "Razorpay"}))
        .await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let order = id_of(&started);
    let answer = started.json();
    let razorpay_order = format!("order_{}", order.replace('-', ""));
    assert_eq!(
        answer["razorpay"],
        json!({"key_id": RZP_KEY_ID, "order_id": razorpay_order, "amount": 29935,
               "currency": "INR"})
    );
    assert_eq!(answer["checkout_url"], Value::Null);
    let sent = s.razorpay.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/orders");
    let body = sent[0].json();
    assert_eq!(body["amount"], 29935);
    assert_eq!(body["currency"], "INR");
    assert_eq!(body["receipt"], json!(order));

    // The browser's confirmation: a wrong signature, or someone else's
    // order, changes nothing.
    let verify = |who: &Session, payment: &str, signature: &str| {
        s.t.post("/api/v1/payments/razorpay/verify")
            .token(&who.token)
            // Checkout's handler answer whole, beside our order id.
            .json(
                json!({"order_id": order, "razorpay_order_id": razorpay_order,
                         "razorpay_payment_id": payment, "razorpay_signature": signature}),
            )
            .send()
    };
    let payment = "pay_http29QQoUBi66";
    let signature = pay::razorpay_payment_signature(&razorpay_order, payment);
    let wrong = pay::razorpay_payment_signature(&razorpay_order, "pay_other");
    assert_eq!(
        verify(&s.learner, payment, &wrong).await.fields(),
        ["razorpay_signature"]
    );
    verify(&second, payment, &signature)
        .await
        .problem(404, "not_found");
    assert_eq!(
        s.order(&s.learner, &order).await.json()["status"],
        "created"
    );
    assert!(s.enrollments(&course).await.is_empty());
    let paid = verify(&s.learner, payment, &signature).await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(paid.json()["status"], "paid");
    assert_eq!(paid.json()["provider_payment_id"], payment);
    let again = verify(&s.learner, payment, &signature).await;
    assert_eq!(again.json()["status"], "paid");
    assert_eq!(s.enrollments(&course).await.len(), 1);

    // The second learner pays and Razorpay's webhook reports it.
    let started = s
        .checkout(&second, &course, json!({"provider": "razorpay"}))
        .await;
    let second_order = id_of(&started);
    let captured = razorpay_event(
        "payment.captured",
        json!({"payment": {"entity": {"id": "pay_http_2", "entity": "payment",
            "amount": 29935, "currency": "INR", "status": "captured",
            "order_id": started.json()["razorpay"]["order_id"]}}}),
    );
    let good = hmac_hex(RZP_WHSEC.as_bytes(), &captured);
    let mut tampered = captured.clone();
    tampered.push(b' ');
    for (signature, body) in [
        (Some(good.clone()), tampered),
        (
            Some(hmac_hex(b"another-secret", &captured)),
            captured.clone(),
        ),
        (None, captured.clone()),
    ] {
        s.razorpay_webhook(signature.as_deref(), "evt_http_r1", &body)
            .await
            .problem(401, "unauthenticated");
    }
    assert_eq!(
        s.order(&second, &second_order).await.json()["status"],
        "created"
    );
    let applied = s
        .razorpay_webhook(Some(&good), "evt_http_r1", &captured)
        .await;
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.json(), json!({"outcome": "applied"}));
    let duplicate = s
        .razorpay_webhook(Some(&good), "evt_http_r1", &captured)
        .await;
    assert_eq!(duplicate.json(), json!({"outcome": "duplicate"}));
    let unknown = razorpay_event("invoice.paid", json!({"invoice": {"entity": {}}}));
    let ignored = s
        .razorpay_webhook(
            Some(&hmac_hex(RZP_WHSEC.as_bytes(), &unknown)),
            "evt_http_r2",
            &unknown,
        )
        .await;
    assert_eq!(ignored.json(), json!({"outcome": "ignored"}));
    assert_eq!(
        s.order(&second, &second_order).await.json()["status"],
        "paid"
    );
    let enrolled = s.enrollments(&course).await;
    assert_eq!(enrolled.len(), 2, "{enrolled:?}");

    // A full refund by an admin goes to Razorpay and revokes the access.
    let refunded =
        s.t.post(&format!("/api/v1/orders/{second_order}/refund"))
            .token(&s.admin.token)
            .json(json!({}))
            .send()
            .await;
    assert_eq!(refunded.status, 200, "{:?}", refunded.body);
    assert_eq!(refunded.json()["status"], "refunded");
    let sent = s.razorpay.requests();
    let last = sent.last().unwrap();
    assert_eq!(last.path, "/v1/payments/pay_http_2/refund");
    assert_eq!(last.json()["amount"], 29935);
    let revoked = s
        .enrollments(&course)
        .await
        .into_iter()
        .find(|e| e["enrollment"]["user_id"] == json!(second.id))
        .unwrap();
    assert_eq!(revoked["enrollment"]["status"], "revoked");
    s.server.stop().await;
}

async fn coupons_are_made_priced_listed_and_disabled(t: TestApp) {
    let s = shop(&t).await;
    let other = s.t.staff("other@example.com", Role::Instructor).await;
    let course = paid_course(&s.t, &s.owner, 5000, "USD").await;
    let coupons = |who: &Session, query: &str| {
        s.t.get(&format!("/api/v1/coupons{query}"))
            .token(&who.token)
            .send()
    };
    let create = |who: &Session, body: Value| {
        s.t.post("/api/v1/coupons")
            .token(&who.token)
            .json(body)
            .send()
    };

    // Bad coupons: 422 naming each field, or refused, and none stored.
    for (body, fields) in [
        (
            json!({"code": "x", "course_id": course, "percent_off": 0}),
            vec!["code", "percent_off"],
        ),
        (
            json!({"code": "TWO", "course_id": course, "percent_off": 5, "amount_off": 100}),
            vec!["percent_off"],
        ),
        (
            json!({"code": "FIXED", "course_id": course, "amount_off": 100}),
            vec!["currency"],
        ),
        (
            json!({"code": "TYPO", "course_id": course, "percent_off": 5, "discount": 1}),
            vec!["discount"],
        ),
    ] {
        assert_eq!(create(&s.owner, body).await.fields(), fields);
    }
    create(&s.learner, json!({"code": "MINE", "percent_off": 50}))
        .await
        .problem(403, "forbidden");
    create(
        &other,
        json!({"code": "THEIRS", "course_id": course, "percent_off": 50}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(
        coupons(&s.admin, "").await.json(),
        json!({"items": []}),
        "nothing was stored"
    );

    let made = create(
        &s.owner,
        json!({"code": "spring-25", "course_id": course, "percent_off": 25}),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let coupon = made.json();
    assert_eq!(coupon["code"], "SPRING-25");
    assert_eq!(coupon["kind"], "percent");
    assert_eq!(coupon["disabled"], false);
    let id = coupon["id"].as_str().unwrap().to_owned();
    create(
        &s.owner,
        json!({"code": "SPRING-25", "course_id": course, "percent_off": 10}),
    )
    .await
    .problem(409, "conflict");

    // Pricing, in any case.
    let validate = |code: &str| {
        s.t.post("/api/v1/coupons/validate")
            .token(&s.learner.token)
            .json(json!({"code": code, "course_id": course}))
            .send()
    };
    let quote = validate("Spring-25").await;
    assert_eq!(quote.status, 200, "{:?}", quote.body);
    assert_eq!(
        quote.json(),
        json!({"coupon_id": id, "code": "SPRING-25", "course_id": course,
               "list_amount": 5000, "discount_amount": 1250, "amount": 3750,
               "currency": "USD"})
    );
    assert_eq!(validate("WINTER-25").await.fields(), ["code"]);

    // Lists: one's own; admins all, or one owner's; others' are refused.
    let listed = coupons(&s.owner, "").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], json!(id));
    assert_eq!(coupons(&other, "").await.json(), json!({"items": []}));
    assert_eq!(
        coupons(&s.admin, "").await.json()["items"][0]["id"],
        json!(id)
    );
    let owner_query = format!("?owner={}", s.owner.id);
    assert_eq!(
        coupons(&s.admin, &owner_query).await.json()["items"][0]["id"],
        json!(id)
    );
    assert_eq!(
        coupons(&s.admin, &format!("?owner={}", other.id))
            .await
            .json(),
        json!({"items": []})
    );
    coupons(&other, &owner_query)
        .await
        .problem(403, "forbidden");
    assert_eq!(coupons(&s.admin, "?owner=nope").await.fields(), ["owner"]);

    // A checkout with the code is charged the discounted price.
    let started = s
        .checkout(
            &s.learner,
            &course,
            json!({"provider": "manual", "coupon_code": "spring-25"}),
        )
        .await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    assert_eq!(started.json()["amount"], 3750);
    let order = s.order(&s.learner, &id_of(&started)).await.json();
    assert_eq!(order["discount_amount"], 1250);
    assert_eq!(order["coupon_id"], json!(id));

    // A coupon taking the whole price enrolls at once, with no provider.
    let free = create(
        &s.owner,
        json!({"code": "FREE-ALL", "percent_off": 100, "max_redemptions": 1}),
    )
    .await;
    assert_eq!(free.status, 201, "{:?}", free.body);
    let given = s
        .checkout(
            &s.learner,
            &course,
            json!({"provider": "stripe", "coupon_code": "free-all"}),
        )
        .await;
    assert_eq!(given.status, 201, "{:?}", given.body);
    assert_eq!(given.json()["status"], "paid");
    assert_eq!(given.json()["provider"], "coupon");
    assert_eq!(given.json()["amount"], 0);
    assert!(s.stripe.requests().is_empty());
    assert_eq!(s.enrollments(&course).await.len(), 1);

    // Disabling: the owner may (again changes nothing), others may not see it.
    let disable = |who: &Session| {
        s.t.post(&format!("/api/v1/coupons/{id}/disable"))
            .token(&who.token)
            .send()
    };
    disable(&other).await.problem(404, "not_found");
    let disabled = disable(&s.owner).await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(disabled.json()["disabled"], true);
    assert_eq!(disable(&s.owner).await.json()["disabled"], true);
    assert_eq!(validate("SPRING-25").await.fields(), ["code"]);
    s.t.post("/api/v1/coupons/nope/disable")
        .token(&s.owner.token)
        .send()
        .await
        .fields();
    s.server.stop().await;
}

/// `/me/orders` pages like the admins' list: oldest first, `after` the
/// last id of the page before; a bad `after` or `limit` is a 422 naming it.
async fn a_learners_orders_come_a_page_at_a_time(t: TestApp) {
    let s = shop(&t).await;
    let mut orders = Vec::new();
    for amount in [1000, 2000, 3000] {
        let course = paid_course(&s.t, &s.owner, amount, "EUR").await;
        let started = s
            .checkout(&s.learner, &course, json!({"provider": "manual"}))
            .await;
        assert_eq!(started.status, 201, "{:?}", started.body);
        orders.push(id_of(&started));
    }
    let page = |query: String| {
        s.t.get(&format!("/api/v1/me/orders{query}"))
            .token(&s.learner.token)
            .send()
    };
    assert_eq!(ids(page(String::new()).await), orders);
    assert_eq!(ids(page("?limit=2".into()).await), orders[..2]);
    let next = format!("?limit=2&after={}", orders[1]);
    assert_eq!(ids(page(next).await), orders[2..]);
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?after=nope", "after"),
    ] {
        assert_eq!(page(query.into()).await.fields(), [field], "{query}");
    }
    s.server.stop().await;
}

async fn orders_are_listed_shown_refunded_and_marked_paid(t: TestApp) {
    let s = shop(&t).await;
    let other = s.t.register("other@example.com").await;
    let course = paid_course(&s.t, &s.owner, 2000, "EUR").await;
    assert!(s.my_orders(&s.learner).await.is_empty());
    let started = s
        .checkout(&s.learner, &course, json!({"provider": "manual"}))
        .await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let order = id_of(&started);
    assert_eq!(started.json()["checkout_url"], Value::Null);
    let mine = s.my_orders(&s.learner).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], json!(order));
    assert_eq!(mine[0]["status"], "created");
    assert!(s.my_orders(&other).await.is_empty());
    s.order(&other, &order).await.problem(404, "not_found");
    s.t.get(&format!("/api/v1/orders/{order}"))
        .send()
        .await
        .problem(401, "unauthenticated");

    // The admins' list, filtered.
    let list = |query: &str| {
        s.t.get(&format!("/api/v1/orders{query}"))
            .token(&s.admin.token)
            .send()
    };
    assert_eq!(ids(list("").await), [order.as_str()]);
    let open = format!(
        "?status=created&provider=manual&user_id={}&course_id={course}&flagged=false&limit=10",
        s.learner.id
    );
    assert_eq!(ids(list(&open).await), [order.as_str()]);
    assert!(ids(list("?status=paid").await).is_empty());
    assert!(ids(list(&format!("?after={order}")).await).is_empty());
    assert!(ids(list(&format!("?user_id={}", other.id)).await).is_empty());
    assert!(ids(list("?flagged=true").await).is_empty());
    for (query, field) in [
        ("?status=lost", "status"),
        ("?provider=paypal", "provider"),
        ("?flagged=maybe", "flagged"),
        ("?limit=0", "limit"),
        ("?limit=ten", "limit"),
        ("?user_id=nope", "user_id"),
        ("?colour=red", "colour"),
    ] {
        assert_eq!(list(query).await.fields(), [field], "{query}");
    }
    s.t.get("/api/v1/orders")
        .token(&s.learner.token)
        .send()
        .await
        .problem(403, "forbidden");

    // Refunding an unpaid order is a conflict; marking paid is for admins.
    let refund = |body: Value| {
        s.t.post(&format!("/api/v1/orders/{order}/refund"))
            .token(&s.admin.token)
            .json(body)
            .send()
    };
    refund(json!({})).await.problem(409, "conflict");
    let mark = |who: &Session| {
        s.t.post(&format!("/api/v1/orders/{order}/mark-paid"))
            .token(&who.token)
            .send()
    };
    mark(&s.learner).await.problem(403, "forbidden");
    assert!(s.enrollments(&course).await.is_empty());
    let paid = mark(&s.admin).await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(paid.json()["status"], "paid");
    assert_eq!(mark(&s.admin).await.json(), paid.json());
    let enrolled = s.enrollments(&course).await;
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0]["enrollment"]["source"], "purchase");

    // Refunds: a bad amount or an unknown member is a 422 and changes
    // nothing; part of it keeps the access, the rest revokes it.
    assert_eq!(refund(json!({"amount": 2001})).await.fields(), ["amount"]);
    assert_eq!(refund(json!({"amount": 0})).await.fields(), ["amount"]);
    assert_eq!(
        refund(json!({"amount": 10, "reason": "asked"}))
            .await
            .fields(),
        ["reason"]
    );
    assert_eq!(s.order(&s.admin, &order).await.json()["refunded_amount"], 0);
    s.t.post(&format!("/api/v1/orders/{order}/refund"))
        .token(&s.learner.token)
        .json(json!({}))
        .send()
        .await
        .problem(403, "forbidden");
    let part = refund(json!({"amount": 500})).await;
    assert_eq!(part.status, 200, "{:?}", part.body);
    assert_eq!(part.json()["status"], "partially_refunded");
    assert_eq!(part.json()["refunded_amount"], 500);
    assert_eq!(
        s.enrollments(&course).await[0]["enrollment"]["status"],
        "active"
    );
    let rest = refund(json!({})).await;
    assert_eq!(rest.json()["status"], "refunded");
    assert_eq!(rest.json()["refunded_amount"], 2000);
    assert_eq!(
        s.enrollments(&course).await[0]["enrollment"]["status"],
        "revoked"
    );
    refund(json!({})).await.problem(409, "conflict");
    assert_eq!(ids(list("?status=refunded").await), [order.as_str()]);
    assert_eq!(s.my_orders(&s.learner).await[0]["status"], "refunded");

    // Reconciliation: admins only; nothing open at the providers here.
    let reconcile = |who: &Session| {
        s.t.post("/api/v1/payments/reconcile")
            .token(&who.token)
            .send()
    };
    reconcile(&s.learner).await.problem(403, "forbidden");
    let report = reconcile(&s.admin).await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    assert_eq!(
        report.json(),
        json!({"checked": 0, "repaired": 0, "errors": 0})
    );
    s.server.stop().await;
}

async fn bad_payment_input_is_refused_naming_the_field_and_stores_nothing(t: TestApp) {
    let s = shop(&t).await;
    let course = paid_course(&s.t, &s.owner, 4999, "USD").await;
    let (free, _, _) = s.t.published_course(&s.owner, "Free Rust").await;
    for (body, fields) in [
        (json!({"provider": "paypal"}), vec!["provider"]),
        (json!({}), vec!["provider"]),
        (
            json!({"provider": "stripe", "success_url": "javascript:alert(1)"}),
            vec!["success_url"],
        ),
        (
            json!({"provider": "bank", "cancel_url": "ftp://school.example"}),
            vec!["provider", "cancel_url"],
        ),
        (
            json!({"provider": "stripe", "colour": "red"}),
            vec!["colour"],
        ),
        (json!({"provider": 7}), vec!["provider"]),
        (
            json!({"provider": "stripe", "coupon_code": "NOSUCH"}),
            vec!["coupon_code"],
        ),
    ] {
        let reply = s.checkout(&s.learner, &course, body.clone()).await;
        assert_eq!(reply.fields(), fields, "{body}");
    }
    assert_eq!(
        s.checkout(&s.learner, &free, json!({"provider": "stripe"}))
            .await
            .fields(),
        ["course"]
    );
    s.checkout(&s.learner, "nope", json!({"provider": "stripe"}))
        .await
        .fields();
    let not_json =
        s.t.post(&format!("/api/v1/courses/{course}/checkout"))
            .token(&s.learner.token)
            .header("content-type", "application/json")
            .body("{provider: stripe}")
            .send()
            .await;
    not_json.problem(400, "bad_request");
    s.t.post(&format!("/api/v1/courses/{course}/checkout"))
        .json(json!({"provider": "stripe"}))
        .send()
        .await
        .problem(401, "unauthenticated");
    assert_eq!(
        s.t.post("/api/v1/payments/razorpay/verify")
            .token(&s.learner.token)
            .json(json!({"order_id": "nope", "razorpay_payment_id": "p",
                         "razorpay_signature": "s"}))
            .send()
            .await
            .fields(),
        ["order_id"]
    );
    assert!(s.my_orders(&s.learner).await.is_empty());
    assert!(s.stripe.requests().is_empty());
    assert!(s.razorpay.requests().is_empty());

    // A signed delivery that is not an event is a 422, applied nowhere.
    let body = b"not json".to_vec();
    let reply = s
        .stripe_webhook(Some(&stripe_signature(&body, STRIPE_WHSEC, s.now())), &body)
        .await;
    assert_eq!(reply.fields(), ["body"]);
    s.server.stop().await;
}

async fn without_providers_checkout_and_webhooks_say_so(t: TestApp) {
    let owner = t.staff("owner@example.com", Role::Instructor).await;
    let learner = t.register("learner@example.com").await;
    let course = paid_course(&t, &owner, 4999, "USD").await;
    let reply = t
        .post(&format!("/api/v1/courses/{course}/checkout"))
        .token(&learner.token)
        .json(json!({"provider": "stripe"}))
        .send()
        .await;
    assert_eq!(reply.fields(), ["provider"]);
    let body = stripe_event("evt_1", "checkout.session.completed", json!({}));
    let header = stripe_signature(&body, STRIPE_WHSEC, t.lms.now().timestamp());
    let refused = t
        .post("/api/v1/webhooks/stripe")
        .header("stripe-signature", &header)
        .body(body.clone())
        .send()
        .await
        .problem(404, "not_found");
    assert_eq!(refused["detail"], "Stripe is not configured");
    let refused = t
        .post("/api/v1/webhooks/razorpay")
        .header(
            "x-razorpay-signature",
            &hmac_hex(RZP_WHSEC.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .problem(404, "not_found");
    assert_eq!(refused["detail"], "Razorpay is not configured");
    // A manual order needs no provider at all.
    let manual = t
        .post(&format!("/api/v1/courses/{course}/checkout"))
        .token(&learner.token)
        .json(json!({"provider": "manual"}))
        .send()
        .await;
    assert_eq!(manual.status, 201, "{:?}", manual.body);
}
