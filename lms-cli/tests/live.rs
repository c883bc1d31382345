//! `lms live`: classes scheduled, listed, changed and cancelled on both
//! stores; bad times and titles are refused and schedule nothing.

#[macro_use]
mod common;

use common::{Store, import_course};

on_both_stores!(
    live_classes_are_scheduled_changed_and_cancelled,
    bad_live_input_is_refused_and_schedules_nothing,
);

/// A time `days` from now, as RFC 3339.
fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

fn live_classes_are_scheduled_changed_and_cancelled(s: Store) {
    s.user("ada@example.com", "instructor");
    let course = import_course(&s, "ada@example.com");
    let starts = "2027-06-30T18:00:00Z";
    let starts = if chrono::DateTime::parse_from_rfc3339(starts).unwrap() > chrono::Utc::now() {
        starts.to_owned()
    } else {
        in_days(30)
    };
    let created = s.json(&[
        "live",
        "create",
        "rust-from-scratch",
        "--title",
        "Office hours",
        "--starts-at",
        &starts,
    ]);
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["title"], "Office hours");
    assert_eq!(created["course_id"], course["id"]);
    assert_eq!(created["room_name"], format!("lms-{id}").as_str());
    // The operator schedules in the owner's name.
    assert_eq!(created["created_by"], course["owner_id"]);
    let parsed =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        parsed(&created["starts_at"]),
        chrono::DateTime::parse_from_rfc3339(&starts).unwrap()
    );

    let listed = s.lines(&["live", "list", "rust-from-scratch"]);
    assert_eq!(listed, vec![created.clone()]);
    let by_id = s.lines(&["live", "list", course["id"].as_str().unwrap()]);
    assert_eq!(by_id.len(), 1);
    assert_eq!(s.json(&["live", "show", id]), created);
    let table = s.run(&["live", "list", "rust-from-scratch"], 0);
    assert!(
        table.starts_with("ID") && table.contains("Office hours"),
        "{table}"
    );

    let later = in_days(60);
    let updated = s.json(&[
        "live",
        "update",
        id,
        "--title",
        "Office hours: ownership",
        "--starts-at",
        &later,
    ]);
    assert_eq!(updated["title"], "Office hours: ownership");
    assert_eq!(
        parsed(&updated["starts_at"]).timestamp(),
        chrono::DateTime::parse_from_rfc3339(&later)
            .unwrap()
            .timestamp()
    );
    let retitled = s.json(&["live", "update", id, "--title", "Q&A"]);
    assert_eq!(retitled["title"], "Q&A");
    assert_eq!(retitled["starts_at"], updated["starts_at"]);

    let cancelled = s.json(&["live", "cancel", id]);
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["ended_at"].is_string());
    // Again changes nothing.
    assert_eq!(s.json(&["live", "cancel", id])["status"], "cancelled");
    let said = s.run(&["live", "cancel", id], 0);
    assert_eq!(said.trim(), "Q&A is cancelled");
    // A cancelled class takes no more changes: a conflict (5).
    s.fail(&["live", "update", id, "--title", "Too late"], 5);
    let kinds: Vec<String> = s
        .lines(&["events", "list"])
        .iter()
        .filter_map(|e| {
            e["kind"]
                .as_str()
                .filter(|k| k.starts_with("live_session."))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "live_session.scheduled",
            "live_session.updated",
            "live_session.updated",
            "live_session.cancelled"
        ]
    );
}

fn bad_live_input_is_refused_and_schedules_nothing(s: Store) {
    s.user("ada@example.com", "instructor");
    import_course(&s, "ada@example.com");
    let soon = in_days(1);
    for (title, starts, field) in [
        ("Office hours", "tomorrow".to_owned(), "starts_at"),
        ("Office hours", in_days(-2), "starts_at"),
        ("Office hours", in_days(3 * 365), "starts_at"),
        ("", soon.clone(), "title"),
    ] {
        let argv = [
            "live",
            "create",
            "rust-from-scratch",
            "--title",
            title,
            "--starts-at",
            &starts,
        ];
        let stderr = s.fail(&argv, 2);
        assert!(stderr.contains(&format!("{field}:")), "{argv:?}: {stderr}");
    }
    // Unknown things are 4; a change must name something to change.
    s.fail(
        &[
            "live",
            "create",
            "no-such-course",
            "--title",
            "X",
            "--starts-at",
            &soon,
        ],
        4,
    );
    assert!(s.lines(&["live", "list", "rust-from-scratch"]).is_empty());
    let made = s.json(&[
        "live",
        "create",
        "rust-from-scratch",
        "--title",
        "Office hours",
        "--starts-at",
        &soon,
    ]);
    let id = made["id"].as_str().unwrap();
    s.fail(&["live", "update", id], 2);
    let stderr = s.fail(&["live", "update", id, "--starts-at", "next week"], 2);
    assert!(stderr.contains("starts_at:"), "{stderr}");
    let stderr = s.fail(&["live", "show", "not-an-id"], 2);
    assert!(stderr.contains("id: is not a valid"), "{stderr}");
    let unknown = uuid::Uuid::now_v7().to_string();
    s.fail(&["live", "show", &unknown], 4);
    s.fail(&["live", "cancel", &unknown], 4);
    assert_eq!(
        s.json(&["live", "show", id]),
        made,
        "the failed update changed nothing"
    );
}
