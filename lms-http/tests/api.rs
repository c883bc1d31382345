//! The API through `App::handle` (no socket): the flows a client goes
//! through, on SQLite and PostgreSQL.

mod common;

use common::{PASSWORD, TestApp};
use http::Method;
use lms_core::Role;
use serde_json::json;

on_both_stores!(
    a_learner_registers_reads_and_edits_themselves_refreshes_and_logs_out,
    a_password_change_answers_a_new_token_and_ends_other_sessions,
    deleting_the_account_needs_the_password_and_ends_every_session,
    a_course_is_built_published_listed_enrolled_in_and_progressed,
    the_catalog_and_course_detail_answer_304_while_unchanged,
    an_instructor_edits_moves_and_deletes_the_course_tree,
    admins_list_users_change_roles_and_disable_accounts,
    owners_grant_by_id_admins_by_email_and_revocation_ends_access,
    a_stale_access_token_does_not_get_in_the_way_of_refresh_or_login,
    health_and_readiness_answer_ok,
);

async fn a_learner_registers_reads_and_edits_themselves_refreshes_and_logs_out(t: TestApp) {
    let reply = t
        .post("/api/v1/auth/register")
        .json(json!({"email": "Ada@Example.com", "password": PASSWORD, "display_name": "Ada"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let session = reply.json();
    assert_eq!(session["token_type"], "Bearer");
    assert!(session["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["role"], "student");
    let token = session["access_token"].as_str().unwrap();
    let refresh = session["refresh_token"].as_str().unwrap();

    let me = t.get("/api/v1/me").token(token).send().await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["display_name"], "Ada");
    assert_eq!(me.header("cache-control"), Some("no-store"));

    let patched = t
        .call(Method::PATCH, "/api/v1/me")
        .token(token)
        .json(json!({"display_name": "Ada L.", "bio": "Notes on engines"}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.json()["bio"], "Notes on engines");

    let login = t
        .post("/api/v1/auth/login")
        .json(json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.json()["user"]["display_name"], "Ada L.");

    let refreshed = t
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    let next = refreshed.json();
    assert_ne!(next["refresh_token"], refresh);
    let next_token = next["access_token"].as_str().unwrap();
    assert_eq!(
        t.get("/api/v1/me").token(next_token).send().await.status,
        200
    );

    // The rotated token used again ends the whole session.
    let reused = t
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    reused.problem(401, "unauthenticated");
    assert_eq!(reused.header("www-authenticate"), Some("Bearer"));
    t.get("/api/v1/me")
        .token(next_token)
        .send()
        .await
        .problem(401, "unauthenticated");

    // Logging out ends the login's session; twice is fine.
    let other = login.json();
    let other_refresh = other["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let out = t
            .post("/api/v1/auth/logout")
            .json(json!({"refresh_token": other_refresh}))
            .send()
            .await;
        assert_eq!(out.status, 204);
        assert!(out.body.is_empty());
    }
    t.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": other_refresh}))
        .send()
        .await
        .problem(401, "unauthenticated");
}

async fn a_password_change_answers_a_new_token_and_ends_other_sessions(t: TestApp) {
    let first = t.register("grace@example.com").await;
    let second = t.login("grace@example.com").await;
    let wrong = t
        .post("/api/v1/me/password")
        .token(&first.token)
        .json(json!({"current_password": "not the password at all", "new_password": "another long passphrase 7"}))
        .send()
        .await;
    assert_eq!(wrong.fields(), ["current_password"]);

    let changed = t
        .post("/api/v1/me/password")
        .token(&first.token)
        .json(json!({"current_password": PASSWORD, "new_password": "another long passphrase 7"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let token = changed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.get("/api/v1/me").token(&token).send().await.status, 200);
    for old in [&first.token, &second.token] {
        t.get("/api/v1/me")
            .token(old)
            .send()
            .await
            .problem(401, "unauthenticated");
    }
}

async fn deleting_the_account_needs_the_password_and_ends_every_session(t: TestApp) {
    let s = t.register("gone@example.com").await;
    let wrong = t
        .call(Method::DELETE, "/api/v1/me")
        .token(&s.token)
        .json(json!({"password": "wrong wrong wrong"}))
        .send()
        .await;
    assert_eq!(wrong.fields(), ["password"]);
    let deleted = t
        .call(Method::DELETE, "/api/v1/me")
        .token(&s.token)
        .json(json!({"password": PASSWORD}))
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    t.get("/api/v1/me")
        .token(&s.token)
        .send()
        .await
        .problem(401, "unauthenticated");
    t.post("/api/v1/auth/login")
        .json(json!({"email": "gone@example.com", "password": PASSWORD}))
        .send()
        .await
        .problem(401, "unauthenticated");
}

async fn a_course_is_built_published_listed_enrolled_in_and_progressed(t: TestApp) {
    let teacher = t.staff("teach@example.com", Role::Instructor).await;
    let (course, slug, lecture) = t.published_course(&teacher, "Rust from Zero").await;
    assert_eq!(slug, "rust-from-zero");

    // Anyone sees it in the catalog, with a search and filters.
    let page = t
        .get("/api/v1/courses?q=rust&price=free&sort=newest&limit=10")
        .send()
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let items = page.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], course);
    assert_eq!(items[0]["lecture_count"], 1);
    assert!(page.header("etag").is_some());

    // The outline by slug, for anyone; the content only once enrolled.
    let detail = t.get(&format!("/api/v1/courses/{slug}")).send().await;
    assert_eq!(detail.status, 200);
    // A percent-encoded path names the same course.
    let encoded = t.get("/api/v1/courses/rust%2Dfrom%2Dzero").send().await;
    assert_eq!(encoded.json(), detail.json());
    assert_eq!(detail.json()["sections"][0]["lectures"][0]["id"], lecture);
    let learner = t.register("learn@example.com").await;
    t.get(&format!("/api/v1/lectures/{lecture}"))
        .token(&learner.token)
        .send()
        .await
        .problem(403, "forbidden");

    let enrolled = t
        .post(&format!("/api/v1/courses/{course}/enroll"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    assert_eq!(enrolled.json()["status"], "active");
    let opened = t
        .get(&format!("/api/v1/lectures/{lecture}"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(opened.status, 200);
    assert_eq!(opened.json()["title"], "Hello");

    let progress = t
        .call(Method::PUT, &format!("/api/v1/lectures/{lecture}/progress"))
        .token(&learner.token)
        .json(json!({"position_secs": 90}))
        .send()
        .await;
    assert_eq!(progress.status, 200, "{:?}", progress.body);
    assert_eq!(
        progress.json()["lecture"],
        json!({"lecture_id": lecture, "completed": false, "position_secs": 90})
    );
    assert!(
        progress.json().get("lectures").is_none(),
        "a write answers with its lecture, not the whole report"
    );
    let done = t
        .call(Method::PUT, &format!("/api/v1/lectures/{lecture}/progress"))
        .token(&learner.token)
        .json(json!({"completed": true}))
        .send()
        .await;
    assert_eq!(done.json()["percent"], 100);
    assert!(done.json()["completed_at"].is_string());

    let read = t
        .get(&format!("/api/v1/courses/{course}/progress"))
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["completed_lectures"], 1);

    let mine = t
        .get("/api/v1/me/enrollments")
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(mine.status, 200);
    let rows = mine.json()["items"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["course"]["slug"], "rust-from-zero");
    assert_eq!(rows[0]["progress"]["percent"], 100);

    let learners = t
        .get(&format!("/api/v1/courses/{course}/enrollments?limit=10"))
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(learners.status, 200, "{:?}", learners.body);
    assert_eq!(learners.json()["items"][0]["email"], "learn@example.com");
    // Another learner may not see who is enrolled.
    t.get(&format!("/api/v1/courses/{course}/enrollments"))
        .token(&learner.token)
        .send()
        .await
        .problem(403, "forbidden");

    let reset = t
        .call(
            Method::DELETE,
            &format!("/api/v1/courses/{course}/progress"),
        )
        .token(&learner.token)
        .send()
        .await;
    assert_eq!(reset.status, 200);
    assert_eq!(reset.json()["percent"], 0);

    // A course with learners cannot be deleted; archiving keeps their access.
    t.call(Method::DELETE, &format!("/api/v1/courses/{course}"))
        .token(&teacher.token)
        .send()
        .await
        .problem(409, "conflict");
    // Nor can its last lecture, while it is published.
    t.call(Method::DELETE, &format!("/api/v1/lectures/{lecture}"))
        .token(&teacher.token)
        .send()
        .await
        .problem(409, "conflict");
    let archived = t
        .post(&format!("/api/v1/courses/{course}/archive"))
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(archived.json()["status"], "archived");
    let catalog = t.get("/api/v1/courses").send().await;
    assert!(catalog.json()["items"].as_array().unwrap().is_empty());
    assert_eq!(
        t.get(&format!("/api/v1/lectures/{lecture}"))
            .token(&learner.token)
            .send()
            .await
            .status,
        200
    );
}

async fn the_catalog_and_course_detail_answer_304_while_unchanged(t: TestApp) {
    let teacher = t.staff("etag@example.com", Role::Instructor).await;
    let (course, slug, _) = t.published_course(&teacher, "Caching").await;
    for path in [
        "/api/v1/courses".to_owned(),
        format!("/api/v1/courses/{slug}"),
    ] {
        let first = t.get(&path).send().await;
        assert_eq!(first.status, 200);
        let etag = first.header("etag").unwrap().to_owned();
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
        assert_eq!(first.header("cache-control"), Some("private, no-cache"));

        let again = t.get(&path).header("if-none-match", &etag).send().await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert!(again.header("x-request-id").is_some());
        assert_eq!(again.header("x-content-type-options"), Some("nosniff"));

        let other = t
            .get(&path)
            .header("if-none-match", "\"stale\"")
            .send()
            .await;
        assert_eq!(other.status, 200);
    }

    // A change makes a new tag.
    let before = t.get("/api/v1/courses").send().await;
    let patched = t
        .call(Method::PATCH, &format!("/api/v1/courses/{course}"))
        .token(&teacher.token)
        .json(json!({"subtitle": "Now with ETags"}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let after = t
        .get("/api/v1/courses")
        .header("if-none-match", before.header("etag").unwrap())
        .send()
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag"), before.header("etag"));
}

async fn an_instructor_edits_moves_and_deletes_the_course_tree(t: TestApp) {
    let teacher = t.staff("tree@example.com", Role::Instructor).await;
    let created = t
        .post("/api/v1/courses")
        .token(&teacher.token)
        .json(json!({"title": "Trees", "price": {"amount": 4999, "currency": "USD"}}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let course = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/courses/{course}").as_str())
    );
    let mut sections = Vec::new();
    for title in ["One", "Two"] {
        let s = t
            .post(&format!("/api/v1/courses/{course}/sections"))
            .token(&teacher.token)
            .json(json!({"title": title}))
            .send()
            .await;
        assert_eq!(s.status, 201);
        sections.push(s.json()["id"].as_str().unwrap().to_owned());
    }
    let renamed = t
        .call(Method::PATCH, &format!("/api/v1/sections/{}", sections[1]))
        .token(&teacher.token)
        .json(json!({"title": "Second"}))
        .send()
        .await;
    assert_eq!(renamed.json()["title"], "Second");
    let moved = t
        .post(&format!("/api/v1/sections/{}/move", sections[1]))
        .token(&teacher.token)
        .json(json!({"position": 0}))
        .send()
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.json()["position"], 0);

    let lecture = t
        .post(&format!("/api/v1/sections/{}/lectures", sections[0]))
        .token(&teacher.token)
        .json(json!({"title": "Roots", "kind": "article", "body": "# Roots"}))
        .send()
        .await;
    assert_eq!(lecture.status, 201, "{:?}", lecture.body);
    let lecture = lecture.json()["id"].as_str().unwrap().to_owned();
    let edited = t
        .call(Method::PATCH, &format!("/api/v1/lectures/{lecture}"))
        .token(&teacher.token)
        .json(json!({"free_preview": true}))
        .send()
        .await;
    assert_eq!(edited.json()["free_preview"], true);
    let relocated = t
        .post(&format!("/api/v1/lectures/{lecture}/move"))
        .token(&teacher.token)
        .json(json!({"section_id": sections[1], "position": 0}))
        .send()
        .await;
    assert_eq!(relocated.status, 200, "{:?}", relocated.body);
    assert_eq!(relocated.json()["section_id"], sections[1]);

    // The draft is invisible to others and listed for its owner.
    let stranger = t.register("stranger@example.com").await;
    t.get(&format!("/api/v1/courses/{course}"))
        .token(&stranger.token)
        .send()
        .await
        .problem(404, "not_found");
    let own = t
        .get("/api/v1/instructor/courses?limit=5")
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(own.status, 200, "{:?}", own.body);
    assert_eq!(own.json()["items"][0]["status"], "draft");

    let gone = t
        .call(Method::DELETE, &format!("/api/v1/lectures/{lecture}"))
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(gone.status, 204);
    let gone = t
        .call(Method::DELETE, &format!("/api/v1/sections/{}", sections[0]))
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(gone.status, 204);
    // Publishing needs a lecture: the core says so, as a 422.
    let publish = t
        .post(&format!("/api/v1/courses/{course}/publish"))
        .token(&teacher.token)
        .send()
        .await;
    assert!(
        [409, 422].contains(&publish.status),
        "{} {:?}",
        publish.status,
        publish.body
    );
    let deleted = t
        .call(Method::DELETE, &format!("/api/v1/courses/{course}"))
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(deleted.status, 204);
    t.get(&format!("/api/v1/courses/{course}"))
        .token(&teacher.token)
        .send()
        .await
        .problem(404, "not_found");
}

async fn admins_list_users_change_roles_and_disable_accounts(t: TestApp) {
    let admin = t.staff("root@example.com", Role::Admin).await;
    let learner = t.register("someone@example.com").await;
    t.get("/api/v1/users")
        .token(&learner.token)
        .send()
        .await
        .problem(403, "forbidden");

    let students = t
        .get("/api/v1/users?role=student&q=someone&limit=10")
        .token(&admin.token)
        .send()
        .await;
    assert_eq!(students.status, 200, "{:?}", students.body);
    let items = students.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], learner.id);

    let one = t
        .get(&format!("/api/v1/users/{}", learner.id))
        .token(&admin.token)
        .send()
        .await;
    assert_eq!(one.json()["email"], "someone@example.com");

    let promoted = t
        .call(Method::PATCH, &format!("/api/v1/users/{}", learner.id))
        .token(&admin.token)
        .json(json!({"role": "instructor"}))
        .send()
        .await;
    assert_eq!(promoted.status, 200, "{:?}", promoted.body);
    assert_eq!(promoted.json()["role"], "instructor");

    let bad_role = t
        .call(Method::PATCH, &format!("/api/v1/users/{}", learner.id))
        .token(&admin.token)
        .json(json!({"role": "emperor"}))
        .send()
        .await;
    assert_eq!(bad_role.fields(), ["role"]);

    let disabled = t
        .call(Method::PATCH, &format!("/api/v1/users/{}", learner.id))
        .token(&admin.token)
        .json(json!({"disabled": true}))
        .send()
        .await;
    assert_eq!(disabled.json()["disabled"], true);
    t.get("/api/v1/me")
        .token(&learner.token)
        .send()
        .await
        .problem(401, "unauthenticated");

    // An admin cannot lock themselves out: the core forbids it.
    t.call(Method::PATCH, &format!("/api/v1/users/{}", admin.id))
        .token(&admin.token)
        .json(json!({"disabled": true}))
        .send()
        .await
        .problem(403, "forbidden");
}

async fn owners_grant_by_id_admins_by_email_and_revocation_ends_access(t: TestApp) {
    let teacher = t.staff("owner@example.com", Role::Instructor).await;
    let admin = t.staff("boss@example.com", Role::Admin).await;
    let (course, _, lecture) = t.published_course(&teacher, "Granted").await;
    let a = t.register("a@example.com").await;
    let _b = t.register("b@example.com").await;

    let granted = t
        .post(&format!("/api/v1/courses/{course}/enrollments"))
        .token(&teacher.token)
        .json(json!({"user_id": a.id, "expires_at": "2999-01-01T00:00:00Z"}))
        .send()
        .await;
    assert_eq!(granted.status, 200, "{:?}", granted.body);
    assert_eq!(granted.json()["source"], "grant");

    // Bulk grants are for admins; each row says what happened.
    t.post(&format!("/api/v1/courses/{course}/enrollments"))
        .token(&teacher.token)
        .json(json!({"emails": ["b@example.com"]}))
        .send()
        .await
        .problem(403, "forbidden");
    let bulk = t
        .post(&format!("/api/v1/courses/{course}/enrollments"))
        .token(&admin.token)
        .json(json!({"emails": ["b@example.com", "nobody@example.com", "not an email", "B@example.com"]}))
        .send()
        .await;
    assert_eq!(bulk.status, 200, "{:?}", bulk.body);
    let results: Vec<String> = bulk.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        results,
        ["created", "unknown_user", "invalid_email", "duplicate"]
    );

    let both = t
        .post(&format!("/api/v1/courses/{course}/enrollments"))
        .token(&admin.token)
        .json(json!({"user_id": a.id, "emails": ["b@example.com"]}))
        .send()
        .await;
    assert_eq!(both.fields(), ["emails"]);

    let revoked = t
        .call(
            Method::DELETE,
            &format!("/api/v1/courses/{course}/enrollments/{}", a.id),
        )
        .token(&teacher.token)
        .send()
        .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(revoked.json()["status"], "revoked");
    t.get(&format!("/api/v1/lectures/{lecture}"))
        .token(&a.token)
        .send()
        .await
        .problem(403, "forbidden");
    // The record of the ended enrollment stays as it was.
    t.call(
        Method::DELETE,
        &format!("/api/v1/courses/{course}/progress"),
    )
    .token(&a.token)
    .send()
    .await
    .problem(403, "forbidden");
}

async fn a_stale_access_token_does_not_get_in_the_way_of_refresh_or_login(t: TestApp) {
    let s = t.register("stale@example.com").await;
    let refreshed = t
        .post("/api/v1/auth/refresh")
        .token("expired.or.garbage")
        .json(json!({"refresh_token": s.refresh}))
        .send()
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    let login = t
        .post("/api/v1/auth/login")
        .token("expired.or.garbage")
        .json(json!({"email": "stale@example.com", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(login.status, 200);
    // The catalog has no actor either.
    let catalog = t.get("/api/v1/courses").token("garbage").send().await;
    assert_eq!(catalog.status, 200);
}

async fn health_and_readiness_answer_ok(t: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let reply = t.get(path).send().await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.json(), json!({"status": "ok"}));
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}
