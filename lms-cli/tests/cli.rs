//! The built `lms` binary against a fresh SQLite file or PostgreSQL schema:
//! every command's success path, its JSON shape, exit codes for bad input,
//! and export then import reproducing a course, idempotently.

#[macro_use]
mod common;

use common::{Store, export_doc, tmp};
use serde_json::{Value, json};

on_both_stores!(
    migrate_lists_pending_then_applies_them,
    users_are_created_listed_changed_and_their_sessions_revoked,
    bad_input_gets_its_exit_code_and_changes_nothing,
    a_course_exported_and_imported_into_an_empty_store_is_the_same_tree,
    reimporting_changes_nothing_and_a_changed_document_updates_in_place,
    enrollments_are_granted_in_bulk_listed_and_revoked,
    events_and_stats_report_what_happened,
);

fn migrate_lists_pending_then_applies_them(s: Store) {
    let pending = s.lines(&["migrate", "--status"]);
    assert!(pending.len() >= 3);
    assert!(pending.iter().all(|m| m["applied"] == false), "{pending:?}");
    let applied = s.lines(&["migrate"]);
    assert_eq!(applied.len(), pending.len());
    assert!(applied.iter().all(|m| m["applied"] == true), "{applied:?}");
    // Applying again is a no-op.
    assert_eq!(s.lines(&["migrate"]), applied);
    let table = s.run(&["migrate", "--status"], 0);
    assert!(table.starts_with("VERSION"), "{table}");
    assert!(table.contains("applied"));
}

fn users_are_created_listed_changed_and_their_sessions_revoked(s: Store) {
    let ada = s.user("ada@example.com", "instructor");
    for key in [
        "id",
        "email",
        "display_name",
        "role",
        "disabled",
        "created_at",
    ] {
        assert!(ada.get(key).is_some(), "{key} missing from {ada}");
    }
    let password = ada["password"].as_str().unwrap();
    assert!(password.len() >= 20, "{password}");
    let bob = s.run_with(
        &[
            "--json",
            "users",
            "create",
            "--email",
            "Bob@Example.com",
            "--name",
            "Bob",
            "--password-stdin",
        ],
        Some("a long and unusual passphrase 42\n"),
        0,
    );
    let bob: Value = serde_json::from_str(&bob).unwrap();
    assert_eq!(bob["email"], "bob@example.com");
    assert!(
        bob.get("password").is_none(),
        "a chosen password is not echoed"
    );

    let all = s.lines(&["users", "list"]);
    assert_eq!(all.len(), 2);
    let students = s.lines(&["users", "list", "--role", "student"]);
    assert_eq!(students.len(), 1);
    assert_eq!(students[0]["email"], "bob@example.com");
    let found = s.lines(&["users", "list", "--query", "ADA"]);
    assert_eq!(found[0]["id"], ada["id"]);
    let table = s.run(&["users", "list"], 0);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("ada@example.com") && table.contains("instructor"));

    let shown = s.json(&["users", "show", "bob@example.com"]);
    assert_eq!(shown["id"], bob["id"]);
    let by_id = s.json(&["users", "show", bob["id"].as_str().unwrap()]);
    assert_eq!(by_id, shown);
    let promoted = s.json(&["users", "set-role", "bob@example.com", "admin"]);
    assert_eq!(promoted["role"], "admin");
    let disabled = s.json(&["users", "disable", "bob@example.com"]);
    assert_eq!(disabled["disabled"], true);
    let enabled = s.json(&["users", "enable", "bob@example.com"]);
    assert_eq!(enabled["disabled"], false);
    let reset = s.json(&[
        "users",
        "reset-password",
        "bob@example.com",
        "--generate-password",
    ]);
    assert_eq!(reset["user_id"], bob["id"]);
    assert!(reset["password"].as_str().unwrap().len() >= 20);
    let revoked = s.json(&["users", "revoke-sessions", "ada@example.com"]);
    assert_eq!(revoked["revoked_sessions"], 0);
    let quiet = s.run(&["-q", "users", "show", "ada@example.com"], 0);
    assert_eq!(quiet, "");
}

fn bad_input_gets_its_exit_code_and_changes_nothing(s: Store) {
    s.user("ada@example.com", "student");
    // A taken e-mail is a conflict (5) and no second account appears.
    let out = s
        .lms()
        .args([
            "users",
            "create",
            "--email",
            "ADA@example.com",
            "--name",
            "X",
        ])
        .arg("--generate-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(s.lines(&["users", "list"]).len(), 1);
    // Invalid values (2) name the field.
    let out = s
        .lms()
        .args(["users", "create", "--email", "not-an-email", "--name", "X"])
        .arg("--generate-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("email"), "{stderr}");
    // No terminal and no password flag: told how to give one.
    let out = s
        .lms()
        .args(["users", "create", "--email", "b@example.com", "--name", "B"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--password-stdin")
    );
    // Unknown things are 4, unknown roles and flags 2.
    s.run(&["users", "show", "nobody@example.com"], 4);
    s.run(&["courses", "show", "no-such-course"], 4);
    s.run(&["users", "set-role", "ada@example.com", "owner"], 2);
    s.run(&["users", "frobnicate"], 2);
    // A file that is not an export: 2, and no course appears.
    let bad = tmp("bad.json");
    std::fs::write(&bad, "{\"format\": \"something else\"}").unwrap();
    s.run(&["courses", "import", bad.to_str().unwrap()], 2);
    let wrong = tmp("wrong.json");
    let mut doc = export_doc("ada@example.com");
    doc["format"] = json!("lms.course/0");
    doc["sections"][0]["lectures"][0]["kind"] = json!("hologram");
    std::fs::write(&wrong, doc.to_string()).unwrap();
    let out = s
        .lms()
        .args(["courses", "import", wrong.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("format"), "{stderr}");
    assert!(stderr.contains("sections[0].lectures[0].kind"), "{stderr}");
    // A student cannot own a course.
    let student_owned = tmp("student.json");
    std::fs::write(&student_owned, export_doc("ada@example.com").to_string()).unwrap();
    s.run(&["courses", "import", student_owned.to_str().unwrap()], 2);
    assert!(s.lines(&["courses", "list"]).is_empty());
}

fn a_course_exported_and_imported_into_an_empty_store_is_the_same_tree(s: Store) {
    s.user("ada@example.com", "instructor");
    let file = tmp("course.json");
    std::fs::write(&file, export_doc("ada@example.com").to_string()).unwrap();
    let imported = s.json(&["courses", "import", file.to_str().unwrap()]);
    assert_eq!(imported["result"], "created");
    assert_eq!(imported["course"]["slug"], "rust-from-scratch");
    assert_eq!(imported["course"]["status"], "published");

    let exported_file = tmp("exported.json");
    s.run(
        &[
            "courses",
            "export",
            "rust-from-scratch",
            "-o",
            exported_file.to_str().unwrap(),
        ],
        0,
    );
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&exported_file).unwrap()).unwrap();
    assert_eq!(exported, export_doc("ada@example.com"));
    // To standard output too, by id.
    let id = imported["course"]["id"].as_str().unwrap();
    let stdout: Value = serde_json::from_str(&s.run(&["courses", "export", id], 0)).unwrap();
    assert_eq!(stdout, exported);

    // Into an empty store of the same backend.
    let empty = match &s.schema {
        Some(_) => Store::postgres(),
        None => Store::sqlite(),
    };
    empty.user("ada@example.com", "instructor");
    let again = empty.json(&["courses", "import", exported_file.to_str().unwrap()]);
    assert_eq!(again["result"], "created");
    let reexported: Value =
        serde_json::from_str(&empty.run(&["courses", "export", "rust-from-scratch"], 0)).unwrap();
    assert_eq!(reexported, exported);
    let detail = empty.json(&["courses", "show", "rust-from-scratch"]);
    assert_eq!(detail["sections"].as_array().unwrap().len(), 2);
    assert_eq!(detail["sections"][0]["lectures"][1]["title"], "Types");
    assert_eq!(detail["lecture_count"], 3);
    let table = empty.run(&["courses", "show", "rust-from-scratch"], 0);
    assert!(
        table.contains("1. Basics") && table.contains("Borrowing"),
        "{table}"
    );
}

fn reimporting_changes_nothing_and_a_changed_document_updates_in_place(s: Store) {
    s.user("ada@example.com", "instructor");
    s.user("bea@example.com", "instructor");
    let file = tmp("course.json");
    std::fs::write(&file, export_doc("ada@example.com").to_string()).unwrap();
    let first = s.json(&["courses", "import", file.to_str().unwrap()]);
    let events_before = s.lines(&["events", "list", "--limit", "1000"]).len();
    let second = s.json(&["courses", "import", file.to_str().unwrap()]);
    assert_eq!(
        (second["result"].as_str(), second["changes"].as_u64()),
        (Some("unchanged"), Some(0))
    );
    assert_eq!(second["course"], first["course"]);
    assert_eq!(
        s.lines(&["events", "list", "--limit", "1000"]).len(),
        events_before
    );

    let before = s.json(&["courses", "show", "rust-from-scratch"]);
    let mut doc = export_doc("ada@example.com");
    doc["course"]["title"] = json!("Rust, from scratch");
    doc["sections"][1]["lectures"]
        .as_array_mut()
        .unwrap()
        .push(json!({"title": "Lifetimes", "kind": "video", "duration_secs": 420}));
    std::fs::write(&file, doc.to_string()).unwrap();
    // --owner overrides the document's owner.
    let updated = s.json(&[
        "courses",
        "import",
        file.to_str().unwrap(),
        "--owner",
        "bea@example.com",
    ]);
    assert_eq!(updated["result"], "updated");
    assert_eq!(updated["changes"], 2);
    assert_eq!(updated["course"]["id"], first["course"]["id"]);
    let after = s.json(&["courses", "show", "rust-from-scratch"]);
    assert_eq!(after["title"], "Rust, from scratch");
    assert_eq!(
        after["sections"][0]["lectures"][0]["id"], before["sections"][0]["lectures"][0]["id"],
        "kept lectures keep their ids"
    );
    assert_eq!(after["sections"][1]["lectures"][1]["title"], "Lifetimes");
    let exported: Value =
        serde_json::from_str(&s.run(&["courses", "export", "rust-from-scratch"], 0)).unwrap();
    assert_eq!(exported["course"]["owner_email"], "bea@example.com");

    let listed = s.lines(&["courses", "list", "--status", "published"]);
    assert_eq!(listed.len(), 1);
    let draft = s.json(&["courses", "unpublish", "rust-from-scratch"]);
    assert_eq!(draft["status"], "draft");
    assert!(
        s.lines(&["courses", "list", "--status", "published"])
            .is_empty()
    );
    assert_eq!(
        s.json(&["courses", "publish", "rust-from-scratch"])["status"],
        "published"
    );
    assert_eq!(
        s.json(&["courses", "archive", "rust-from-scratch"])["status"],
        "archived"
    );
}

fn enrollments_are_granted_in_bulk_listed_and_revoked(s: Store) {
    s.user("ada@example.com", "instructor");
    for who in ["l1", "l2", "l3"] {
        s.user(&format!("{who}@example.com"), "student");
    }
    let file = tmp("course.json");
    std::fs::write(&file, export_doc("ada@example.com").to_string()).unwrap();
    s.json(&["courses", "import", file.to_str().unwrap()]);
    let csv = tmp("emails.csv");
    std::fs::write(&csv, "email,name\nl2@example.com,Two\n\nL3@Example.com,Three\nghost@example.com,Nobody\nnot-an-email\n").unwrap();
    let rows = s.lines(&[
        "enrollments",
        "grant",
        "rust-from-scratch",
        "l1@example.com",
        "--from-file",
        csv.to_str().unwrap(),
        "--expires",
        "2099-01-01T00:00:00Z",
    ]);
    let results: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["email"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("l1@example.com", "created"),
            ("l2@example.com", "created"),
            ("L3@Example.com", "created"),
            ("ghost@example.com", "unknown_user"),
            ("not-an-email", "invalid_email"),
        ]
    );
    let again = s.lines(&[
        "enrollments",
        "grant",
        "rust-from-scratch",
        "l1@example.com",
        "--expires",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(again[0]["result"], "unchanged");
    let listed = s.lines(&["enrollments", "list", "rust-from-scratch"]);
    assert_eq!(listed.len(), 3);
    assert!(
        listed.iter().all(|e| e["progress"]["total_lectures"] == 3),
        "{listed:?}"
    );
    let revoked = s.json(&[
        "enrollments",
        "revoke",
        "rust-from-scratch",
        "l2@example.com",
    ]);
    assert_eq!(revoked["status"], "revoked");
    let table = s.run(&["enrollments", "list", "rust-from-scratch"], 0);
    assert!(
        table.contains("revoked") && table.contains("0/3 (0%)"),
        "{table}"
    );
    s.run(
        &[
            "enrollments",
            "grant",
            "rust-from-scratch",
            "l1@example.com",
            "--expires",
            "tomorrow",
        ],
        2,
    );
    s.run(&["enrollments", "grant", "rust-from-scratch"], 2);
    s.run(
        &["enrollments", "grant", "no-such-course", "l1@example.com"],
        4,
    );
}

fn events_and_stats_report_what_happened(s: Store) {
    s.user("ada@example.com", "instructor");
    s.user("bob@example.com", "student");
    let file = tmp("course.json");
    std::fs::write(&file, export_doc("ada@example.com").to_string()).unwrap();
    s.json(&["courses", "import", file.to_str().unwrap()]);
    s.lines(&[
        "enrollments",
        "grant",
        "rust-from-scratch",
        "bob@example.com",
    ]);
    let created = s.lines(&["events", "list", "--type", "user.created"]);
    assert_eq!(created.len(), 2);
    assert!(
        created.iter().all(|e| e["actor_kind"] == "system"),
        "{created:?}"
    );
    let all = s.lines(&["events", "list"]);
    let first = all[0]["id"].as_i64().unwrap();
    let after = s.lines(&["events", "list", "--after", &first.to_string()]);
    assert_eq!(after.len(), all.len() - 1);
    assert!(all.iter().any(|e| e["kind"] == "course.imported"));
    let stats = s.json(&["stats"]);
    assert_eq!(
        stats,
        json!({
            "users": 2, "students": 1, "instructors": 1, "admins": 0,
            "courses": 1, "published_courses": 1, "enrollments": 1, "completions": 0,
        })
    );
    let table = s.run(&["stats"], 0);
    assert!(
        table.contains("enrollments") && table.contains("published"),
        "{table}"
    );
    let completion = s.run(&["completions", "bash"], 0);
    assert!(completion.contains("lms"), "{completion}");
}
