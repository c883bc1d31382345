//! Runs the quickstart program as a user would, in an empty folder.

use std::process::Command;

fn run_in(dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .current_dir(dir)
        .output()
        .expect("run quickstart");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "quickstart failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_quickstart_registers_logs_in_and_prints_the_actor_twice_over() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let first = run_in(&dir);
    assert!(first.contains("opened sqlite store"), "{first}");
    assert!(first.contains("registered ada@example.com"), "{first}");
    let actor_line = first
        .lines()
        .find(|l| l.starts_with("actor: "))
        .expect("an actor line");
    let actor: serde_json::Value = serde_json::from_str(&actor_line["actor: ".len()..]).unwrap();
    assert_eq!(actor["kind"], "user");
    assert_eq!(actor["role"], "student");
    assert!(
        dir.join("lms-data/lms.db").exists(),
        "the embedded default file"
    );

    // A second run finds the account in the same file and logs in again.
    let second = run_in(&dir);
    assert!(
        second.contains("ada@example.com is already registered"),
        "{second}"
    );
    let again = second.lines().find(|l| l.starts_with("actor: ")).unwrap();
    let again: serde_json::Value = serde_json::from_str(&again["actor: ".len()..]).unwrap();
    assert_eq!(again["id"], actor["id"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
