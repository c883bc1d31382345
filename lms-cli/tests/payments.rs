//! `lms orders`, `lms coupons` and `lms payments` on both stores, against a
//! fake of Stripe's API on loopback that refuses a wrong key or a POST
//! without an `Idempotency-Key` and records what it was sent. Orders are
//! made as a learner would, by a checkout through the core.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::{SECRET, Store, actor, import_course};
use lms_core::{CheckoutInput, Config, CourseId};
use lms_tests::fake::{FakeApi, Recorded};
use serde_json::{Value, json};

on_both_stores!(
    refunds_and_reconciliation_go_through_the_provider,
    manual_orders_are_marked_paid_and_bad_input_changes_nothing,
    coupons_are_created_listed_and_disabled,
);

const STRIPE_KEY: &str = "sk_test_cli_4eC39HqLyjWDarjtT1zdp7dc";
const STRIPE_WHSEC: &str = "whsec_cli_test_secret_0123456789";

/// Checkout sessions the fake answers `GET` with, by id.
type Sessions = Arc<Mutex<HashMap<String, Value>>>;

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Stripe's API as far as checkout, refunds and reconciliation use it.
async fn fake_stripe(sessions: Sessions) -> FakeApi {
    FakeApi::start(move |req: &Recorded| {
        if req.header("authorization") != Some(&format!("Bearer {STRIPE_KEY}")) {
            return (
                http::StatusCode::UNAUTHORIZED,
                json!({"error": {"message": "Invalid API Key provided"}}),
            );
        }
        if req.method == http::Method::POST
            && req
                .header("idempotency-key")
                .is_none_or(|k| k.is_empty() || k.len() > 255)
        {
            return (
                http::StatusCode::BAD_REQUEST,
                json!({"error": {"message": "an Idempotency-Key is expected"}}),
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
                match sessions.lock().unwrap().get(id) {
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

/// Everything a payments test needs: the fake, a runtime serving it, the
/// store with the Stripe settings, a course and a learner.
struct Shop {
    runtime: tokio::runtime::Runtime,
    stripe: FakeApi,
    sessions: Sessions,
    s: Store,
    course: CourseId,
}

impl Shop {
    fn open(s: Store) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sessions = Sessions::default();
        let stripe = runtime.block_on(fake_stripe(sessions.clone()));
        let s = s
            .with_env("LMS_STRIPE_SECRET_KEY", STRIPE_KEY)
            .with_env("LMS_STRIPE_WEBHOOK_SECRET", STRIPE_WHSEC)
            .with_env("LMS_STRIPE_API_URL", &stripe.url);
        s.user("ada@example.com", "instructor");
        let course = import_course(&s, "ada@example.com");
        let course = CourseId::parse("id", course["id"].as_str().unwrap()).unwrap();
        Self {
            runtime,
            stripe,
            sessions,
            s,
            course,
        }
    }

    /// A checkout by `email` (a new student) with `provider`; the order id.
    fn checkout(&self, email: &str, provider: &str) -> String {
        let learner = actor(&self.s.user(email, "student"));
        let config = Config {
            stripe_secret_key: STRIPE_KEY.into(),
            stripe_webhook_secret: STRIPE_WHSEC.into(),
            stripe_api_url: self.stripe.url.clone(),
            ..Config::with_jwt_secret(SECRET)
        };
        self.runtime.block_on(async {
            let lms = self.s.core(config).await;
            let input = CheckoutInput {
                provider: provider.into(),
                ..CheckoutInput::default()
            };
            let answer = lms.checkout(&learner, self.course, input).await.unwrap();
            answer.order_id.to_string()
        })
    }

    /// What Stripe's session for `order` says when asked.
    fn stripe_says(&self, order: &str, session: Value) {
        let id = format!("cs_test_{}", order.replace('-', ""));
        self.sessions.lock().unwrap().insert(id, session);
    }

    fn refunds(&self) -> Vec<Recorded> {
        self.stripe
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v1/refunds")
            .collect()
    }

    /// The course's learners and their enrollment status.
    fn learners(&self) -> Vec<(String, String)> {
        self.s
            .lines(&["enrollments", "list", "rust-from-scratch"])
            .iter()
            .map(|e| {
                (
                    e["email"].as_str().unwrap().to_owned(),
                    e["enrollment"]["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// The same store with another Stripe key: the fake refuses it.
fn with_wrong_key(s: &Store) -> Store {
    Store {
        url: s.url.clone(),
        schema: s.schema.clone(),
        env: s
            .env
            .iter()
            .map(|(k, v)| match k.as_str() {
                "LMS_STRIPE_SECRET_KEY" => (k.clone(), "sk_test_wrong".to_owned()),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    }
}

fn refunds_and_reconciliation_go_through_the_provider(s: Store) {
    let shop = Shop::open(s);
    let s = &shop.s;
    let order = shop.checkout("bob@example.com", "stripe");
    let listed = s.lines(&["orders", "list"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], order.as_str());
    assert_eq!(listed[0]["status"], "created");
    assert!(s.lines(&["orders", "list", "--status", "paid"]).is_empty());

    // The webhook never came; Stripe says the session was paid.
    shop.stripe_says(
        &order,
        json!({"id": format!("cs_test_{}", order.replace('-', "")), "object": "checkout.session",
            "client_reference_id": order, "metadata": {"order_id": order},
            "payment_status": "paid", "payment_intent": "pi_cli", "amount_total": 4900,
            "currency": "usd", "status": "complete"}),
    );
    // A key Stripe refuses: the run says so (7) and repairs nothing.
    let stderr = with_wrong_key(s).fail(&["payments", "reconcile"], 7);
    assert!(
        stderr.contains("1 order(s) could not be checked"),
        "{stderr}"
    );
    assert_eq!(s.json(&["orders", "show", &order])["status"], "created");
    let report = s.json(&["payments", "reconcile"]);
    assert_eq!(report, json!({"checked": 1, "repaired": 1, "errors": 0}));
    let paid = s.json(&["orders", "show", &order]);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["provider_payment_id"], "pi_cli");
    assert_eq!(
        shop.learners(),
        [("bob@example.com".into(), "active".into())]
    );
    let again = s.run(&["payments", "reconcile"], 0);
    assert!(again.contains("checked 0 open order(s)"), "{again}");

    // Bad amounts are refused before Stripe hears of them.
    for bad in ["0", "4901"] {
        let stderr = s.fail(&["orders", "refund", &order, "--amount", bad], 2);
        assert!(
            stderr.contains("amount: must be between 1 and 4900"),
            "{stderr}"
        );
    }
    let stderr = s.fail(&["orders", "refund", "not-an-order"], 2);
    assert!(stderr.contains("order: is not a valid"), "{stderr}");
    // A refused key is the provider's error (7), and nothing is recorded.
    with_wrong_key(s).fail(&["orders", "refund", &order, "--amount", "900"], 7);
    let refused = shop.refunds();
    assert_eq!(refused.len(), 1, "only the refused attempt reached Stripe");
    assert_eq!(
        refused[0].header("authorization"),
        Some("Bearer sk_test_wrong")
    );
    assert_eq!(s.json(&["orders", "show", &order]), paid);

    let part = s.json(&["orders", "refund", &order, "--amount", "900"]);
    assert_eq!(part["status"], "partially_refunded");
    assert_eq!(part["refunded_amount"], 900);
    assert_eq!(
        shop.learners(),
        [("bob@example.com".into(), "active".into())]
    );
    let rest = s.run(&["orders", "refund", &order], 0);
    assert!(
        rest.contains("refunded") && rest.contains("49.00 USD"),
        "{rest}"
    );
    assert_eq!(s.json(&["orders", "show", &order])["refunded_amount"], 4900);
    assert_eq!(
        shop.learners(),
        [("bob@example.com".into(), "revoked".into())]
    );
    // What Stripe was sent: the key, the payment, one key per refunded total.
    let refunds = shop.refunds().split_off(1);
    assert_eq!(refunds.len(), 2);
    for (refund, (amount, total)) in refunds.iter().zip([("900", 900), ("4000", 4900)]) {
        assert_eq!(
            refund.header("authorization"),
            Some(format!("Bearer {STRIPE_KEY}").as_str())
        );
        assert_eq!(
            refund.header("idempotency-key"),
            Some(format!("lms-refund-{order}-{total}").as_str())
        );
        let sent = form(&refund.body);
        assert_eq!(sent["payment_intent"], "pi_cli");
        assert_eq!(sent["amount"], amount);
    }
    // Nothing is left to refund: a conflict.
    s.fail(&["orders", "refund", &order], 5);
    let table = s.run(&["orders", "list", "--status", "refunded"], 0);
    assert!(table.starts_with("ID") && table.contains(&order), "{table}");
}

fn manual_orders_are_marked_paid_and_bad_input_changes_nothing(s: Store) {
    let shop = Shop::open(s);
    let s = &shop.s;
    let manual = shop.checkout("carl@example.com", "manual");
    let stripe = shop.checkout("dora@example.com", "stripe");
    assert_eq!(s.json(&["orders", "show", &manual])["provider"], "manual");
    let by_buyer = s.lines(&["orders", "list", "--user", "carl@example.com"]);
    assert_eq!(by_buyer.len(), 1);
    assert_eq!(by_buyer[0]["id"], manual.as_str());
    let by_provider = s.lines(&[
        "orders",
        "list",
        "--provider",
        "stripe",
        "--course",
        "rust-from-scratch",
    ]);
    assert_eq!(by_provider.len(), 1);
    assert_eq!(by_provider[0]["id"], stripe.as_str());
    assert_eq!(s.lines(&["orders", "list", "--limit", "1"]).len(), 1);
    assert!(s.lines(&["orders", "list", "--flagged"]).is_empty());

    // Bad filters name themselves; a Stripe order is not marked paid by
    // hand; unknown orders are 4.
    let stderr = s.fail(
        &[
            "orders",
            "list",
            "--status",
            "settled",
            "--provider",
            "paypal",
        ],
        2,
    );
    assert!(
        stderr.contains("status:") && stderr.contains("provider:"),
        "{stderr}"
    );
    s.fail(&["orders", "mark-paid", &stripe], 5);
    let unknown = uuid::Uuid::now_v7().to_string();
    s.fail(&["orders", "show", &unknown], 4);
    s.fail(&["orders", "mark-paid", &unknown], 4);
    s.fail(&["orders", "list", "--user", "nobody@example.com"], 4);
    assert!(shop.learners().is_empty());
    assert_eq!(s.json(&["orders", "show", &stripe])["status"], "created");

    let paid = s.json(&["orders", "mark-paid", &manual]);
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());
    assert_eq!(
        shop.learners(),
        [("carl@example.com".into(), "active".into())]
    );
    // Again: as it is.
    assert_eq!(s.json(&["orders", "mark-paid", &manual]), paid);
    let shown = s.run(&["orders", "show", &manual], 0);
    assert!(
        shown.contains("paid") && shown.contains("manual"),
        "{shown}"
    );
    assert!(
        shop.stripe
            .requests()
            .iter()
            .all(|r| r.path == "/v1/checkout/sessions")
    );
}

fn coupons_are_created_listed_and_disabled(s: Store) {
    let shop = Shop::open(s);
    let s = &shop.s;
    let ada = s.json(&["users", "show", "ada@example.com"]);
    let spring = s.json(&[
        "coupons",
        "create",
        "--code",
        "spring-25",
        "--course",
        "rust-from-scratch",
        "--percent-off",
        "25",
        "--max-redemptions",
        "10",
        "--ends-at",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(spring["code"], "SPRING-25");
    assert_eq!(spring["kind"], "percent");
    assert_eq!(spring["owner_id"], ada["id"]);
    assert_eq!(spring["max_redemptions"], 10);
    assert_eq!(spring["disabled"], false);
    let all_of_ada = s.json(&[
        "coupons",
        "create",
        "--code",
        "ADA5",
        "--owner",
        "ada@example.com",
        "--amount-off",
        "500",
        "--currency",
        "usd",
    ]);
    assert_eq!(all_of_ada["course_id"], Value::Null);
    assert_eq!(all_of_ada["currency"], "USD");
    let table = s.run(&["coupons", "list"], 0);
    assert!(
        table.contains("SPRING-25") && table.contains("25%") && table.contains("5.00 USD"),
        "{table}"
    );
    assert_eq!(
        s.lines(&["coupons", "list", "--owner", "ada@example.com"])
            .len(),
        2
    );

    // Bad coupons name every bad argument and make nothing.
    let stderr = s.fail(
        &["coupons", "create", "--code", "x", "--percent-off", "150"],
        2,
    );
    assert!(
        stderr.contains("code:") && stderr.contains("percent_off:"),
        "{stderr}"
    );
    let stderr = s.fail(
        &[
            "coupons",
            "create",
            "--code",
            "TENOFF",
            "--amount-off",
            "1000",
            "--course",
            "rust-from-scratch",
        ],
        2,
    );
    assert!(stderr.contains("currency:"), "{stderr}");
    let stderr = s.fail(
        &[
            "coupons",
            "create",
            "--code",
            "LATER",
            "--percent-off",
            "5",
            "--ends-at",
            "soon",
        ],
        2,
    );
    assert!(stderr.contains("ends_at:"), "{stderr}");
    let stderr = s.fail(
        &[
            "coupons",
            "create",
            "--code",
            "NOBODY",
            "--percent-off",
            "5",
        ],
        2,
    );
    assert!(stderr.contains("owner_id:"), "{stderr}");
    s.fail(
        &[
            "coupons",
            "create",
            "--code",
            "spring-25",
            "--percent-off",
            "5",
            "--course",
            "rust-from-scratch",
        ],
        5,
    );
    assert_eq!(s.lines(&["coupons", "list"]).len(), 2);

    let id = spring["id"].as_str().unwrap();
    let disabled = s.json(&["coupons", "disable", id]);
    assert_eq!(disabled["disabled"], true);
    let listed = s.lines(&["coupons", "list"]);
    let states: Vec<_> = listed
        .iter()
        .map(|c| (c["code"].clone(), c["disabled"].clone()))
        .collect();
    assert!(
        states.contains(&(json!("SPRING-25"), json!(true))),
        "{states:?}"
    );
    assert!(
        states.contains(&(json!("ADA5"), json!(false))),
        "{states:?}"
    );
    s.fail(&["coupons", "disable", "not-a-coupon"], 2);
    s.fail(
        &["coupons", "disable", &uuid::Uuid::now_v7().to_string()],
        4,
    );
}
