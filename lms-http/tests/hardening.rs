//! Rate limits and client addresses, CORS, HEAD and OPTIONS, metrics and
//! readiness, on SQLite and PostgreSQL.

mod common;

use common::{PASSWORD, SECRET, Server, TestApp, fetch, http_config};
use http::Method;
use lms_core::events::kinds;
use lms_core::{Actor, Config, EventQuery, Lms};
use lms_http::{App, HttpConfig};
use serde_json::json;

on_both_stores!(
    logins_are_limited_per_address_before_any_password_check,
    logins_are_limited_per_account_whatever_the_address,
    forwarded_for_counts_only_behind_a_trusted_proxy,
    registrations_and_refreshes_are_limited_per_address,
    a_preflight_from_an_allowed_origin_gets_the_cors_answer,
    actual_responses_carry_cors_headers_for_allowed_origins_only,
    head_answers_like_get_without_the_body,
    options_lists_the_methods_of_a_path,
    metrics_count_requests_by_route_and_show_the_pool,
    metrics_can_move_to_their_own_listener,
    readiness_pings_the_store,
);

/// An app over the same store with other core and HTTP settings.
fn with(t: &TestApp, tune: impl FnOnce(&mut Config), http: HttpConfig) -> TestApp {
    let mut config = Config::with_jwt_secret(SECRET);
    tune(&mut config);
    // A still clock: the Retry-After figures below must not depend on how
    // long the hashing between two attempts took on a loaded machine.
    let lms = Lms::builder(config)
        .store(t.lms.store().clone())
        .clock(std::sync::Arc::new(lms_core::ManualClock::starting_now()))
        .build()
        .unwrap();
    TestApp {
        app: App::new(lms.clone(), http),
        lms,
    }
}

fn login_body(email: &str, password: &str) -> serde_json::Value {
    json!({"email": email, "password": password})
}

async fn attempts_on(t: &TestApp, email: &str) -> usize {
    let user = t
        .lms
        .list_users(
            &Actor::System,
            &lms_core::UserQuery {
                query: Some(email.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap()[0]
        .id;
    t.lms
        .events(
            &Actor::System,
            &EventQuery {
                kind: Some(kinds::USER_LOGIN_ATTEMPTED.to_owned()),
                user_id: Some(user.0),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len()
}

async fn logins_are_limited_per_address_before_any_password_check(t: TestApp) {
    t.register("ada@example.com").await;
    let t = with(
        &t,
        |c| {
            c.auth_rate_per_minute = 3;
            c.max_failed_logins = 100;
        },
        http_config(),
    );
    let before = attempts_on(&t, "ada@example.com").await;
    for _ in 0..3 {
        t.post("/api/v1/auth/login")
            .peer("198.51.100.7:5000")
            .json(login_body("ada@example.com", "not the password at all"))
            .send()
            .await
            .problem(401, "unauthenticated");
    }
    let refused = t
        .post("/api/v1/auth/login")
        .peer("198.51.100.7:5001")
        .json(login_body("ada@example.com", PASSWORD))
        .send()
        .await;
    refused.problem(429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("20"));
    // The refused attempt never reached the password check: it counted
    // nothing on the account.
    assert_eq!(attempts_on(&t, "ada@example.com").await, before + 3);
    // Another address is not affected, and the right password works there.
    let ok = t
        .post("/api/v1/auth/login")
        .peer("198.51.100.8:5000")
        .json(login_body("ada@example.com", PASSWORD))
        .send()
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}

async fn logins_are_limited_per_account_whatever_the_address(t: TestApp) {
    t.register("bob@example.com").await;
    let t = with(&t, |c| c.auth_account_rate_per_minute = 2, http_config());
    for peer in ["192.0.2.1:1", "192.0.2.2:1"] {
        let ok = t
            .post("/api/v1/auth/login")
            .peer(peer)
            .json(login_body("Bob@Example.com", PASSWORD))
            .send()
            .await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
    }
    let refused = t
        .post("/api/v1/auth/login")
        .peer("192.0.2.3:1")
        .json(login_body("bob@example.com", PASSWORD))
        .send()
        .await;
    refused.problem(429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("30"));
    // In-process calls have no address but the account limit still holds.
    t.post("/api/v1/auth/login")
        .json(login_body("bob@example.com", PASSWORD))
        .send()
        .await
        .problem(429, "rate_limited");
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(t: TestApp) {
    let http = HttpConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..http_config()
    };
    let t = with(&t, |c| c.auth_rate_per_minute = 1, http);
    let register = |email: &str, peer: &str, xff: &str| {
        t.post("/api/v1/auth/register")
            .peer(peer)
            .header("x-forwarded-for", xff)
            .json(json!({"email": email, "password": PASSWORD, "display_name": "P"}))
    };
    // Behind our proxy each forwarded client has its own allowance.
    let first = register("p1@example.com", "10.0.0.1:1", "203.0.113.5")
        .send()
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    register("p2@example.com", "10.0.0.1:1", "203.0.113.5")
        .send()
        .await
        .problem(429, "rate_limited");
    // A forged entry to the left of the proxy's own changes nothing.
    register("p3@example.com", "10.0.0.1:1", "1.1.1.1, 203.0.113.5")
        .send()
        .await
        .problem(429, "rate_limited");
    let other = register("p4@example.com", "10.0.0.2:1", "203.0.113.6")
        .send()
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    // A client that is not our proxy cannot choose its address.
    let direct = register("p5@example.com", "198.51.100.1:1", "203.0.113.7")
        .send()
        .await;
    assert_eq!(direct.status, 201, "{:?}", direct.body);
    register("p6@example.com", "198.51.100.1:1", "203.0.113.8")
        .send()
        .await
        .problem(429, "rate_limited");
}

async fn registrations_and_refreshes_are_limited_per_address(t: TestApp) {
    let session = t.register("carol@example.com").await;
    let t = with(&t, |c| c.auth_rate_per_minute = 1, http_config());
    let refresh = |token: &str| {
        t.post("/api/v1/auth/refresh")
            .peer("203.0.113.20:9")
            .json(json!({"refresh_token": token}))
    };
    let rotated = refresh(&session.refresh).send().await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let next = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    let refused = refresh(&next).send().await;
    refused.problem(429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("60"));
    // The refused refresh did not use the token: it still rotates elsewhere.
    let elsewhere = t
        .post("/api/v1/auth/refresh")
        .peer("203.0.113.21:9")
        .json(json!({"refresh_token": next}))
        .send()
        .await;
    assert_eq!(elsewhere.status, 200, "{:?}", elsewhere.body);
}

fn cors_app(t: &TestApp) -> TestApp {
    let http = HttpConfig {
        cors_origins: vec!["https://app.example".to_owned()],
        ..http_config()
    };
    with(t, |_| {}, http)
}

async fn a_preflight_from_an_allowed_origin_gets_the_cors_answer(t: TestApp) {
    let t = cors_app(&t);
    let reply = t
        .call(Method::OPTIONS, "/api/v1/courses")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, HEAD, POST, OPTIONS")
    );
    let headers = reply.header("access-control-allow-headers").unwrap();
    assert!(headers.contains("authorization") && headers.contains("content-type"));
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert!(reply.header("access-control-allow-credentials").is_none());
    assert!(reply.body.is_empty());

    let refused = t
        .call(Method::OPTIONS, "/api/v1/courses")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await;
    assert_eq!(refused.status, 204);
    assert!(refused.header("access-control-allow-origin").is_none());
    assert!(refused.header("access-control-allow-methods").is_none());
}

async fn actual_responses_carry_cors_headers_for_allowed_origins_only(t: TestApp) {
    let cors = cors_app(&t);
    let reply = cors
        .get("/api/v1/courses")
        .header("origin", "https://app.example")
        .send()
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let expose = reply.header("access-control-expose-headers").unwrap();
    assert!(expose.contains("etag") && expose.contains("x-request-id"));
    let vary: Vec<_> = reply
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(vary.iter().any(|v| v == "origin"), "{vary:?}");
    // An answer to a request without Origin varies by it too: a shared
    // cache must not give it to a page that needs the CORS headers.
    let no_origin = cors.get("/api/v1/courses").send().await;
    let vary: Vec<_> = no_origin.headers.get_all("vary").iter().collect();
    assert!(vary.iter().any(|v| *v == "origin"), "{vary:?}");
    // Errors carry them too, so a page can read the problem.
    let missing = cors
        .get("/api/v1/nope")
        .header("origin", "https://app.example")
        .send()
        .await;
    assert_eq!(
        missing.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let other = cors
        .get("/api/v1/courses")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert!(other.header("access-control-allow-origin").is_none());
    // Without configured origins nothing CORS-related is sent.
    let plain = t
        .get("/api/v1/courses")
        .header("origin", "https://app.example")
        .send()
        .await;
    assert!(plain.header("access-control-allow-origin").is_none());
}

async fn head_answers_like_get_without_the_body(t: TestApp) {
    let get = t.get("/api/v1/courses").send().await;
    let head = t.call(Method::HEAD, "/api/v1/courses").send().await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), get.header("etag"));
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    // Over a socket the length reaches the client and no body follows.
    let server = Server::start(t.app.clone()).await;
    let raw = fetch(server.addr, "HEAD", "/api/v1/courses", &[], None).await;
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    assert_eq!(raw.body, "");
    server.stop().await;
}

async fn options_lists_the_methods_of_a_path(t: TestApp) {
    let reply = t
        .call(
            Method::OPTIONS,
            "/api/v1/lectures/0190f5a0-0000-7000-8000-000000000000",
        )
        .send()
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("allow"),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
    t.call(Method::OPTIONS, "/api/v1/nowhere")
        .send()
        .await
        .problem(404, "not_found");
}

async fn metrics_count_requests_by_route_and_show_the_pool(t: TestApp) {
    for _ in 0..3 {
        assert_eq!(t.get("/api/v1/courses").send().await.status, 200);
    }
    t.get("/api/v1/courses/no-such-course").send().await;
    let reply = t.get("/metrics").send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some(lms_http::metrics::CONTENT_TYPE)
    );
    let text = std::str::from_utf8(&reply.body).unwrap();
    assert!(
        text.contains(
            "lms_http_requests_total{route=\"/api/v1/courses\",method=\"GET\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/v1/courses/{course}\",method=\"GET\",status=\"404\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("lms_http_request_duration_seconds_count{route=\"/api/v1/courses\"} 3"),
        "{text}"
    );
    let max = text
        .lines()
        .find(|l| l.starts_with("lms_store_pool_connections{state=\"max\"}"))
        .unwrap_or_else(|| panic!("no pool maximum in {text}"));
    let max: i64 = max.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(max >= 1, "{max}");
}

async fn metrics_can_move_to_their_own_listener(t: TestApp) {
    let api = with(
        &t,
        |_| {},
        HttpConfig {
            metrics_on_api: false,
            ..http_config()
        },
    );
    api.get("/metrics").send().await.problem(404, "not_found");
    assert_eq!(api.get("/healthz").send().await.status, 200);
    let server = Server::start(api.app.metrics_only()).await;
    let metrics = fetch(server.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(metrics.status, 200);
    // The API's requests are counted where the metrics are served.
    assert!(
        metrics.body.contains(
            "lms_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{}",
        metrics.body
    );
    let api_route = fetch(server.addr, "GET", "/api/v1/courses", &[], None).await;
    assert_eq!(api_route.status, 404);
    server.stop().await;
}

async fn readiness_pings_the_store(t: TestApp) {
    let reply = t.get("/readyz").send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}
