//! Hardening through `App::handle`: every error is a problem document with
//! the right status and code, and every answer carries the request id and
//! the security headers.

mod common;

use common::{MAX_BODY, PASSWORD, TestApp};
use http::Method;
use lms_core::Role;
use serde_json::json;

on_both_stores!(
    a_missing_or_invalid_token_is_a_401_with_www_authenticate,
    an_operation_the_role_does_not_allow_is_a_403,
    an_unknown_route_and_an_unknown_course_are_404s,
    a_wrong_method_is_a_405_listing_the_allowed_ones,
    a_taken_email_is_a_409,
    a_body_over_the_cap_is_a_413_declared_or_not,
    a_body_route_without_json_is_a_415,
    malformed_json_is_a_400,
    an_unknown_member_is_a_422_naming_it,
    a_member_of_the_wrong_type_is_a_422_naming_it,
    null_for_a_member_that_cannot_be_cleared_is_a_422_naming_it,
    a_body_sent_to_a_route_that_reads_none_is_refused_unless_empty,
    a_path_id_that_is_not_a_uuid_is_a_422_naming_the_parameter,
    an_unknown_or_malformed_query_parameter_is_a_422_naming_it,
    the_core_validation_errors_come_back_field_by_field,
    a_locked_account_is_a_429_with_retry_after,
    every_answer_carries_a_request_id_and_the_security_headers,
);

async fn a_missing_or_invalid_token_is_a_401_with_www_authenticate(t: TestApp) {
    let missing = t.get("/api/v1/me").send().await;
    missing.problem(401, "unauthenticated");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let garbage = t.get("/api/v1/me").token("not-a-jwt").send().await;
    garbage.problem(401, "unauthenticated");
    assert_eq!(garbage.header("www-authenticate"), Some("Bearer"));
    let basic = t
        .get("/api/v1/me")
        .header("authorization", "Basic YWRhOmFkYQ==")
        .send()
        .await;
    basic.problem(401, "unauthenticated");
    let empty = t
        .get("/api/v1/me")
        .header("authorization", "Bearer ")
        .send()
        .await;
    empty.problem(401, "unauthenticated");
    // Two credentials, a good one first: refused, not one picked.
    let ada = t.register("two@example.com").await;
    let two = t
        .get("/api/v1/me")
        .token(&ada.token)
        .header("authorization", "Bearer garbage")
        .send()
        .await;
    two.problem(401, "unauthenticated");
    t.get("/api/v1/me").token(&ada.token).send().await.json();
}

async fn an_operation_the_role_does_not_allow_is_a_403(t: TestApp) {
    let student = t.register("student@example.com").await;
    t.post("/api/v1/courses")
        .token(&student.token)
        .json(json!({"title": "Mine now"}))
        .send()
        .await
        .problem(403, "forbidden");
}

async fn an_unknown_route_and_an_unknown_course_are_404s(t: TestApp) {
    t.get("/api/v1/nothing-here")
        .send()
        .await
        .problem(404, "not_found");
    t.get("/").send().await.problem(404, "not_found");
    t.get("/api/v1/courses/0190f5a0-0000-7000-8000-000000000000")
        .send()
        .await
        .problem(404, "not_found");
    t.get("/api/v1/courses/no-such-slug")
        .send()
        .await
        .problem(404, "not_found");
}

async fn a_wrong_method_is_a_405_listing_the_allowed_ones(t: TestApp) {
    let reply = t.call(Method::DELETE, "/api/v1/courses").send().await;
    reply.problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let reply = t.call(Method::PUT, "/api/v1/me").send().await;
    reply.problem(405, "method_not_allowed");
    assert_eq!(
        reply.header("allow"),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
    let reply = t.get("/api/v1/auth/login").send().await;
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
}

async fn a_taken_email_is_a_409(t: TestApp) {
    t.register("twice@example.com").await;
    t.post("/api/v1/auth/register")
        .json(json!({"email": "TWICE@example.com", "password": PASSWORD, "display_name": "Again"}))
        .send()
        .await
        .problem(409, "conflict");
}

async fn a_body_over_the_cap_is_a_413_declared_or_not(t: TestApp) {
    let big = format!(
        r#"{{"email":"big@example.com","password":"{}","display_name":"x"}}"#,
        "p".repeat(MAX_BODY)
    );
    // The in-process body has no length header unless we add one: both
    // the declared length and the counted bytes are checked.
    let undeclared = t
        .post("/api/v1/auth/register")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await;
    undeclared.problem(413, "payload_too_large");
    let declared = t
        .post("/api/v1/auth/register")
        .header("content-type", "application/json")
        .header("content-length", &big.len().to_string())
        .body(big)
        .send()
        .await;
    declared.problem(413, "payload_too_large");
    // Nothing was created.
    t.post("/api/v1/auth/login")
        .json(json!({"email": "big@example.com", "password": PASSWORD}))
        .send()
        .await
        .problem(401, "unauthenticated");
}

async fn a_body_route_without_json_is_a_415(t: TestApp) {
    let body = json!({"email": "a@example.com", "password": PASSWORD}).to_string();
    let plain = t
        .post("/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await;
    plain.problem(415, "unsupported_media_type");
    // JSON is UTF-8; a body declared otherwise is not read as JSON.
    let latin1 = t
        .post("/api/v1/auth/login")
        .header("content-type", "application/json; charset=latin1")
        .body(body.clone())
        .send()
        .await;
    latin1.problem(415, "unsupported_media_type");
    let none = t.post("/api/v1/auth/login").body(body).send().await;
    none.problem(415, "unsupported_media_type");
}

async fn malformed_json_is_a_400(t: TestApp) {
    for text in [
        r#"{"email": "a@example.com","#,
        "",
        r#"{"email": "a@example.com", "password": "x"} trailing"#,
        "{'email': 1}",
        // An unknown member before the fault does not make it a 422.
        r#"{"zz" 1}"#,
        r#"{"zz": 1,}"#,
    ] {
        t.post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .problem(400, "bad_request");
    }
}

async fn an_unknown_member_is_a_422_naming_it(t: TestApp) {
    // Mass assignment: a learner may not choose their role.
    let reply = t
        .post("/api/v1/auth/register")
        .json(json!({"email": "m@example.com", "password": PASSWORD, "display_name": "M", "role": "admin"}))
        .send()
        .await;
    assert_eq!(reply.fields(), ["role"]);
    let teacher = t.staff("nested@example.com", Role::Instructor).await;
    let reply = t
        .post("/api/v1/courses")
        .token(&teacher.token)
        .json(json!({"title": "T", "price": {"amount": 100, "currency": "USD", "discount": 5}}))
        .send()
        .await;
    assert_eq!(reply.fields(), ["price.discount"]);
}

async fn a_member_of_the_wrong_type_is_a_422_naming_it(t: TestApp) {
    // Well-formed JSON of the wrong shape is a 422, not a 400.
    let reply = t
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await;
    assert_eq!(reply.fields(), ["body"]);
    // An array is not an object, even one whose items line up with the
    // fields: it neither signs up nor renames a course.
    let reply = t
        .post("/api/v1/auth/register")
        .json(json!(["arr@example.com", PASSWORD, "Arr"]))
        .send()
        .await;
    reply.problem(422, "invalid_input");
    assert_eq!(reply.fields(), ["body"]);
    let teacher = t.staff("arrays@example.com", Role::Instructor).await;
    let course = t
        .post("/api/v1/courses")
        .token(&teacher.token)
        .json(json!({"title": "Kept"}))
        .send()
        .await
        .json();
    let path = format!("/api/v1/courses/{}", course["id"].as_str().unwrap());
    for body in [json!(["Renamed"]), json!({"price": [100, "USD"]})] {
        let reply = t
            .call(Method::PATCH, &path)
            .token(&teacher.token)
            .json(body)
            .send()
            .await;
        reply.problem(422, "invalid_input");
    }
    let kept = t.get(&path).token(&teacher.token).send().await.json();
    assert_eq!(
        (&kept["title"], &kept["price"]),
        (&course["title"], &course["price"])
    );
    assert_eq!(kept["title"], "Kept");
    let reply = t
        .post("/api/v1/auth/login")
        .json(json!({"email": 42, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(reply.fields(), ["email"]);
    assert_eq!(
        reply.json()["errors"][0]["message"],
        "must be a string, not integer `42`"
    );
    let reply = t
        .post("/api/v1/auth/login")
        .json(json!({"email": "a@example.com"}))
        .send()
        .await;
    assert_eq!(reply.fields(), ["password"]);
}

/// In a change, an absent member stays as it is and `null` clears only
/// what can be cleared: anywhere else `null` would be a silent no-op to a
/// client meaning "clear it", so it is refused and nothing changes.
async fn null_for_a_member_that_cannot_be_cleared_is_a_422_naming_it(t: TestApp) {
    let teacher = t.staff("nulls@example.com", Role::Instructor).await;
    let (course, _, lecture) = t.published_course(&teacher, "Nulls").await;
    let course_path = format!("/api/v1/courses/{course}");
    let lecture_path = format!("/api/v1/lectures/{lecture}");
    let course_before = t.get(&course_path).send().await.json();
    let lecture_before = t
        .get(&lecture_path)
        .token(&teacher.token)
        .send()
        .await
        .json();
    for (path, member) in [
        (&course_path, "title"),
        (&course_path, "subtitle"),
        (&course_path, "price"),
        (&course_path, "tags"),
        (&lecture_path, "body"),
        (&lecture_path, "free_preview"),
        (&"/api/v1/me".to_owned(), "display_name"),
    ] {
        let reply = t
            .call(Method::PATCH, path)
            .token(&teacher.token)
            .json(json!({ member: null }))
            .send()
            .await;
        let body = reply.problem(422, "invalid_input");
        assert_eq!(reply.fields(), [member], "{body}");
        assert!(body.to_string().contains("may not be null"), "{body}");
    }
    assert_eq!(t.get(&course_path).send().await.json(), course_before);
    assert_eq!(
        t.get(&lecture_path)
            .token(&teacher.token)
            .send()
            .await
            .json(),
        lecture_before
    );
    let cleared = t
        .call(Method::PATCH, &course_path)
        .token(&teacher.token)
        .json(json!({"thumbnail_key": null}))
        .send()
        .await;
    assert_eq!(cleared.status, 200, "{:?}", cleared.body);
}

async fn a_body_sent_to_a_route_that_reads_none_is_refused_unless_empty(t: TestApp) {
    let teacher = t.staff("no-body@example.com", Role::Instructor).await;
    let (course, _, _) = t.published_course(&teacher, "No body").await;
    let archive = format!("/api/v1/courses/{course}/archive");
    let status = || async {
        let course = t
            .get(&format!("/api/v1/courses/{course}"))
            .token(&teacher.token);
        course.send().await.json()["status"].clone()
    };
    // Members would be ignored, so they are refused, and nothing happens.
    let member = t
        .post(&archive)
        .token(&teacher.token)
        .json(json!({"dry_run": true}))
        .send()
        .await;
    member.problem(422, "invalid_input");
    assert_eq!(member.fields(), ["dry_run"], "{:?}", member.body);
    let text = t
        .post(&archive)
        .token(&teacher.token)
        .header("content-type", "text/plain")
        .body("archive it")
        .send()
        .await;
    text.problem(415, "unsupported_media_type");
    let broken = t
        .post(&archive)
        .token(&teacher.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await;
    broken.problem(400, "bad_request");
    assert_eq!(status().await, "published");
    // `{}`, blank or no body at all: the action runs.
    let empty_object = t
        .post(&archive)
        .token(&teacher.token)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(empty_object.status, 200, "{:?}", empty_object.body);
    assert_eq!(status().await, "archived");
    for (path, body) in [
        (format!("/api/v1/courses/{course}/unpublish"), " \r\n"),
        (format!("/api/v1/courses/{course}/publish"), ""),
    ] {
        let reply = t.post(&path).token(&teacher.token).body(body).send().await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    }
    assert_eq!(status().await, "published");
}

async fn a_path_id_that_is_not_a_uuid_is_a_422_naming_the_parameter(t: TestApp) {
    let teacher = t.staff("ids@example.com", Role::Instructor).await;
    let cases = [
        (Method::POST, "/api/v1/courses/not-a-uuid/publish", "course"),
        (Method::DELETE, "/api/v1/sections/42", "section"),
        (Method::GET, "/api/v1/lectures/xyz", "lecture"),
        (Method::GET, "/api/v1/users/me", "user"),
    ];
    for (method, path, field) in cases {
        let reply = t.call(method, path).token(&teacher.token).send().await;
        assert_eq!(reply.fields(), [field], "{path}");
    }
}

async fn an_unknown_or_malformed_query_parameter_is_a_422_naming_it(t: TestApp) {
    for (query, field) in [
        ("colour=red", "colour"),
        ("limit=ten", "limit"),
        ("limit=1000", "limit"),
        ("sort=random", "sort"),
        ("instructor=nobody", "instructor"),
        ("q=a&q=b", "q"),
        // Not UTF-8: refused, not searched for as a replacement character.
        ("q=%FF", "q"),
    ] {
        let reply = t.get(&format!("/api/v1/courses?{query}")).send().await;
        assert_eq!(reply.fields(), [field], "{query}");
    }
    // A route without parameters refuses them too, before doing anything;
    // the probes take any.
    let admin = t.staff("params@example.com", Role::Admin).await;
    for path in ["/api/v1/me?status=active", "/api/v1/me/enrollments?limit=1"] {
        let reply = t.get(path).token(&admin.token).send().await;
        reply.problem(422, "invalid_input");
    }
    let reply = t
        .get("/api/v1/users?limit=0")
        .token(&admin.token)
        .send()
        .await;
    assert_eq!(reply.fields(), ["limit"]);
    assert_eq!(t.get("/healthz?t=1").send().await.status, 200);
}

async fn the_core_validation_errors_come_back_field_by_field(t: TestApp) {
    let reply = t
        .post("/api/v1/auth/register")
        .json(json!({"email": "no-at-sign", "password": "short", "display_name": ""}))
        .send()
        .await;
    let mut fields = reply.fields();
    fields.sort();
    assert_eq!(fields, ["display_name", "email", "password"]);
    let body = reply.json();
    assert!(body["errors"][0]["message"].is_string());
}

async fn a_locked_account_is_a_429_with_retry_after(t: TestApp) {
    t.register("locked@example.com").await;
    let wrong = json!({"email": "locked@example.com", "password": "not the right one"});
    for _ in 0..t.lms.config().max_failed_logins {
        t.post("/api/v1/auth/login")
            .json(wrong.clone())
            .send()
            .await
            .problem(401, "unauthenticated");
    }
    let locked = t
        .post("/api/v1/auth/login")
        .json(json!({"email": "locked@example.com", "password": PASSWORD}))
        .send()
        .await;
    locked.problem(429, "rate_limited");
    let wait: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(wait >= 1 && wait <= t.lms.config().lockout_secs, "{wait}");
}

async fn every_answer_carries_a_request_id_and_the_security_headers(t: TestApp) {
    let s = t.register("headers@example.com").await;
    let replies = [
        t.get("/healthz").send().await,
        t.get("/api/v1/me").token(&s.token).send().await,
        t.get("/api/v1/me").send().await,
        t.get("/api/v1/nope").send().await,
        t.call(Method::PATCH, "/api/v1/courses").send().await,
    ];
    let mut ids = Vec::new();
    for reply in &replies {
        let id = reply.header("x-request-id").expect("a request id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        ids.push(id.to_owned());
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(
            reply.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), replies.len(), "request ids are unique");

    // A plain id from a proxy is kept, so its logs and ours line up.
    let echoed = t
        .get("/api/v1/me")
        .header("x-request-id", "edge-7f3a.1")
        .send()
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("edge-7f3a.1"));
    assert_eq!(echoed.json()["request_id"], "edge-7f3a.1");
}
