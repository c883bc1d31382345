//! What the CLI tests share: the built `lms` binary on a fresh SQLite file
//! or PostgreSQL schema, ways to run it and read its output, and a course
//! document to import.

#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use lms_core::store::conformance::{test_database_url, unique_schema};
use serde_json::{Value, json};

/// One store for one test, and how to reach it.
pub struct Store {
    pub url: String,
    pub schema: Option<String>,
    /// More variables every run gets (provider settings, the data folder).
    pub env: Vec<(String, String)>,
}

pub fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", uuid::Uuid::now_v7()))
}

impl Store {
    pub fn sqlite() -> Self {
        Self {
            url: format!("sqlite://{}", tmp("lms.db").display()),
            schema: None,
            env: Vec::new(),
        }
    }

    pub fn postgres() -> Self {
        Self {
            url: test_database_url(),
            schema: Some(unique_schema()),
            env: Vec::new(),
        }
    }

    pub fn lms(&self) -> Command {
        let mut cmd = Command::cargo_bin("lms").unwrap();
        cmd.env_clear()
            .env("LMS_DATABASE_URL", &self.url)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        if let Some(schema) = &self.schema {
            cmd.env("LMS_DATABASE_SCHEMA", schema);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The same store, every run also given `name=value`.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `args`, which must fail with `code`; answers standard error.
    pub fn fail(&self, args: &[&str], code: i32) -> String {
        let output = self.lms().args(args).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "lms {args:?}\nstderr: {stderr}"
        );
        assert!(stderr.starts_with("error:"), "lms {args:?}: {stderr}");
        stderr
    }

    /// A handle of the core on the same store, for what only a signed-in
    /// user does (a checkout), with `config`'s provider settings.
    pub async fn core(&self, config: lms_core::Config) -> lms_core::Lms {
        let config = lms_core::Config {
            database_schema: self.schema.clone(),
            ..config
        };
        lms_core::Lms::open(&self.url, config).await.unwrap()
    }

    /// Runs `args`; asserts the exit code; answers standard output.
    pub fn run(&self, args: &[&str], code: i32) -> String {
        self.run_with(args, None, code)
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let mut cmd = self.lms();
        cmd.args(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let output = cmd.output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "lms {args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        if code != 0 {
            assert!(stderr.starts_with("error:"), "lms {args:?}: {stderr}");
        }
        stdout
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.run(&all, 0)).unwrap()
    }

    /// JSON lines.
    pub fn lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all, 0)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn user(&self, email: &str, role: &str) -> Value {
        self.json(&[
            "users",
            "create",
            "--email",
            email,
            "--name",
            "Someone",
            "--role",
            role,
            "--generate-password",
        ])
    }
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::common::Store::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::common::Store::postgres()); } )*
        }
    };
}

/// A 32-byte signing secret for tests.
pub const SECRET: &str = "cli-test-secret-0123456789abcdef-0123456789";

/// A signed-in user's actor for the core, as the HTTP face would make it.
pub fn actor(user: &Value) -> lms_core::Actor {
    let role = match user["role"].as_str().unwrap() {
        "admin" => lms_core::Role::Admin,
        "instructor" => lms_core::Role::Instructor,
        _ => lms_core::Role::Student,
    };
    lms_core::Actor::User {
        id: lms_core::UserId::parse("id", user["id"].as_str().unwrap()).unwrap(),
        role,
        session: lms_core::SessionId::new(),
    }
}

/// Imports [`export_doc`] owned by `owner` (an existing instructor);
/// answers the course as `courses show` prints it.
pub fn import_course(s: &Store, owner: &str) -> Value {
    let file = tmp("course.json");
    std::fs::write(&file, export_doc(owner).to_string()).unwrap();
    s.json(&["courses", "import", file.to_str().unwrap()]);
    s.json(&["courses", "show", "rust-from-scratch"])
}

/// A document as `courses export` writes it: two sections, three lectures.
pub fn export_doc(owner: &str) -> Value {
    json!({
        "format": "lms.course/1",
        "course": {
            "slug": "rust-from-scratch",
            "title": "Rust from scratch",
            "subtitle": "Ownership without tears",
            "description": "# Welcome",
            "level": "beginner",
            "language": "en",
            "tags": ["rust", "systems"],
            "price": {"amount": 4900, "currency": "USD"},
            "status": "published",
            "owner_email": owner,
        },
        "sections": [
            {"title": "Basics", "lectures": [
                {"title": "Hello", "kind": "video", "body": "", "duration_secs": 300, "free_preview": true},
                {"title": "Types", "kind": "article", "body": "Types **matter**.", "duration_secs": 0, "free_preview": false},
            ]},
            {"title": "Ownership", "lectures": [
                {"title": "Borrowing", "kind": "video", "body": "", "duration_secs": 600, "free_preview": false},
            ]},
        ],
    })
}
