//! The OpenAPI document: served, OpenAPI 3.1, one operation per routed
//! (method, path) and no other; and the check every other test's answers go
//! through really refuses answers the document does not describe.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use common::contract::check;
use http::{HeaderMap, HeaderValue, Method};
use lms_core::Role;
use serde_json::{Value, json};

on_both_stores!(
    the_document_is_served_as_openapi_3_1_json_with_an_etag,
    the_document_has_exactly_the_routed_operations,
    a_flattened_answer_is_checked_member_by_member,
);

async fn the_document_is_served_as_openapi_3_1_json_with_an_etag(t: TestApp) {
    let reply = t.get("/api/v1/openapi.json").send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc = reply.json();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let etag = reply.header("etag").unwrap().to_owned();
    let again = t
        .get("/api/v1/openapi.json")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
}

/// A course detail flattens the course into its summary and the summary
/// into the detail: each layer's members are known, no others.
async fn a_flattened_answer_is_checked_member_by_member(t: TestApp) {
    let instructor = t.staff("teacher@example.com", Role::Instructor).await;
    let (id, _, _) = t.published_course(&instructor, "Rust from zero").await;
    let path = format!("/api/v1/courses/{id}");
    let detail = t.get(&path).send().await.json();
    let headers = json_headers("application/json");
    let checked = |body: &Value| {
        check(
            &Method::GET,
            &path,
            200,
            &headers,
            body.to_string().as_bytes(),
        )
    };
    checked(&detail).unwrap();

    for layer in ["slug", "instructor_name", "sections"] {
        let mut without = detail.clone();
        without.as_object_mut().unwrap().remove(layer);
        checked(&without).unwrap_err();
    }
    let mut extra = detail.clone();
    extra["owner_email"] = json!("teacher@example.com");
    checked(&extra).unwrap_err();
    let mut nested = detail.clone();
    nested["sections"][0]["lectures"][0]["video_url"] = json!("https://example.com/v.m3u8");
    let err = checked(&nested).unwrap_err();
    assert!(err.contains("video_url"), "{err}");
    let mut price = detail.clone();
    price["price"] = json!({"kind": "free", "amount_minor": 0});
    checked(&price).unwrap_err();
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn the_document_has_exactly_the_routed_operations(t: TestApp) {
    let doc = t.get("/api/v1/openapi.json").send().await.json();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = lms_http::routes::operations()
        .map(|(m, p, _)| (m.as_str().to_owned(), lms_http::openapi::doc_path(p)))
        .collect();
    assert_eq!(
        routed.len(),
        lms_http::routes::operations().count(),
        "a route is in the table twice"
    );
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(missing.is_empty(), "routed but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    assert!(routed.contains(&("GET".to_owned(), "/api/v1/openapi.json".to_owned())));
}

fn json_headers(media_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(media_type));
    headers
}

fn user() -> Value {
    json!({
        "id": "0192f1c2-3b4a-7c5d-8e6f-0123456789ab",
        "email": "ada@example.com",
        "display_name": "Ada",
        "bio": null,
        "avatar_key": null,
        "role": "student",
        "disabled": false,
        "created_at": "2026-01-02T03:04:05.123456Z",
        "updated_at": "2026-01-02T03:04:05.123456Z",
    })
}

fn problem(status: u16, code: &str) -> Value {
    json!({
        "type": format!("urn:lms:problem:{code}"),
        "title": "x",
        "status": status,
        "detail": "x",
        "code": code,
        "request_id": "r1",
    })
}

fn check_json(
    method: Method,
    path: &str,
    status: u16,
    media: &'static str,
    body: &Value,
) -> Result<(), String> {
    check(
        &method,
        path,
        status,
        &json_headers(media),
        body.to_string().as_bytes(),
    )
}

#[test]
fn the_check_accepts_a_documented_answer() {
    check_json(Method::GET, "/api/v1/me", 200, "application/json", &user()).unwrap();
    check_json(
        Method::GET,
        "/api/v1/me",
        401,
        "application/problem+json",
        &problem(401, "unauthenticated"),
    )
    .unwrap();
    check_json(
        Method::GET,
        "/api/v1/nowhere",
        404,
        "application/problem+json",
        &problem(404, "not_found"),
    )
    .unwrap();
}

#[test]
fn the_check_refuses_a_body_of_the_wrong_shape() {
    let mut wrong = user();
    wrong["role"] = json!("emperor");
    let err = check_json(Method::GET, "/api/v1/me", 200, "application/json", &wrong).unwrap_err();
    assert!(err.contains("role"), "{err}");

    let mut missing = user();
    missing.as_object_mut().unwrap().remove("email");
    check_json(Method::GET, "/api/v1/me", 200, "application/json", &missing).unwrap_err();

    let mut bad_id = user();
    bad_id["id"] = json!("not-a-uuid");
    check_json(Method::GET, "/api/v1/me", 200, "application/json", &bad_id).unwrap_err();
}

#[test]
fn the_check_refuses_an_undocumented_member_even_in_a_flattened_object() {
    let mut extra = user();
    extra["password_hash"] = json!("$argon2id$...");
    let err = check_json(Method::GET, "/api/v1/me", 200, "application/json", &extra).unwrap_err();
    assert!(err.contains("password_hash"), "{err}");

    let page = json!({"items": [], "next_cursor": null, "total": 3});
    check_json(
        Method::GET,
        "/api/v1/courses",
        200,
        "application/json",
        &page,
    )
    .unwrap_err();
}

#[test]
fn the_check_refuses_an_undocumented_status_or_media_type() {
    let err = check_json(Method::GET, "/api/v1/me", 418, "application/json", &user()).unwrap_err();
    assert!(err.contains("418"), "{err}");
    check_json(
        Method::GET,
        "/api/v1/me",
        200,
        "application/problem+json",
        &user(),
    )
    .unwrap_err();
    // A problem whose status member is not the answer's status.
    check_json(
        Method::GET,
        "/api/v1/me",
        401,
        "application/problem+json",
        &problem(403, "forbidden"),
    )
    .unwrap_err();
    // A 422 always lists its fields.
    check_json(
        Method::PATCH,
        "/api/v1/me",
        422,
        "application/problem+json",
        &problem(422, "invalid_input"),
    )
    .unwrap_err();
    // An unrouted path only answers 404.
    check_json(
        Method::GET,
        "/api/v1/nowhere",
        500,
        "application/problem+json",
        &problem(500, "internal"),
    )
    .unwrap_err();
}

#[test]
fn the_check_refuses_a_body_where_none_is_documented() {
    let path = "/api/v1/courses/0192f1c2-3b4a-7c5d-8e6f-0123456789ab";
    check(&Method::DELETE, path, 204, &HeaderMap::new(), b"").unwrap();
    check(
        &Method::DELETE,
        path,
        204,
        &json_headers("application/json"),
        b"{}",
    )
    .unwrap_err();
}
