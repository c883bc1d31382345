//! The `lms-http` binary: its embedded default (SQLite and a generated
//! secret under ./lms-data, reused on restart), PostgreSQL by URL, its
//! help, and a clean exit on SIGTERM.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{PASSWORD, fetch};
use lms_core::store::conformance::{test_database_url, unique_schema};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_lms-http");

/// A running binary and the lines it logged so far.
struct Running {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

/// A fresh working folder for one test.
fn workdir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("http-binary")
        .join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the binary in `dir` with only `env` among the LMS_ variables,
/// and waits for its "listening on" line.
async fn start(dir: &Path, env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("LMS_") {
            command.env_remove(name);
        }
    }
    command.env("LMS_BIND", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let (tx, mut lines) = mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for reader in [
        Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines
                .recv()
                .await
                .unwrap_or_else(|| panic!("the binary exited; it said:\n{}", seen.join("\n")));
            seen.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .unwrap();
                return addr.parse::<SocketAddr>().unwrap();
            }
        }
    })
    .await
    .expect("the binary logs the address it listens on");
    Running {
        child,
        addr,
        lines,
        seen,
    }
}

impl Running {
    /// Sends SIGTERM and waits for a clean exit; answers everything logged.
    async fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().unwrap().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the binary exits after SIGTERM")
            .unwrap();
        assert!(status.success(), "exit status {status}");
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(5), self.lines.recv()).await
        {
            self.seen.push(line);
        }
        self.seen
    }
}

fn said(lines: &[String], words: &str) -> bool {
    lines.iter().any(|l| l.contains(words))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_the_embedded_default_and_keeps_its_secret_across_restarts() {
    let dir = workdir();
    let first = start(&dir, &[]).await;
    let health = fetch(first.addr, "GET", "/healthz", &[], None).await;
    assert_eq!(health.status, 200);
    let body = json!({"email": "bin@example.com", "password": PASSWORD, "display_name": "Bin"});
    let registered = fetch(
        first.addr,
        "POST",
        "/api/v1/auth/register",
        &[],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let token = registered.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines = first.terminate().await;
    assert!(said(&lines, "generated a signing secret"), "{lines:#?}");
    assert!(said(&lines, "SIGTERM"), "{lines:#?}");

    let data = dir.join("lms-data");
    assert!(data.join("lms.db").is_file());
    let secret = data.join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret_text = std::fs::read_to_string(&secret).unwrap();
    assert!(
        !lines.iter().any(|l| l.contains(secret_text.trim())),
        "the secret was logged"
    );

    // Restarted, it reuses the secret: the old access token still works,
    // and the account is still there.
    let second = start(&dir, &[]).await;
    let me = fetch(
        second.addr,
        "GET",
        "/api/v1/me",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["email"], "bin@example.com");
    let lines = second.terminate().await;
    assert!(
        said(&lines, "using the signing secret stored"),
        "{lines:#?}"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), secret_text);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_postgres_with_a_given_secret_and_logs_json() {
    let dir = workdir();
    let url = test_database_url();
    let schema = unique_schema();
    let secret = "binary-test-secret-0123456789abcdef-xyz";
    let running = start(
        &dir,
        &[
            ("LMS_DATABASE_URL", &url),
            ("LMS_DATABASE_SCHEMA", &schema),
            ("LMS_JWT_SECRET", secret),
            ("LMS_LOG_JSON", "true"),
        ],
    )
    .await;
    let ready = fetch(running.addr, "GET", "/readyz", &[], None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let catalog = fetch(running.addr, "GET", "/api/v1/courses", &[], None).await;
    assert_eq!(catalog.status, 200, "{}", catalog.body);
    let lines = running.terminate().await;
    let logged: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Successful probes are logged at debug level only, below the default.
    assert!(
        !logged.iter().any(|v| v["route"] == "/readyz"),
        "{lines:#?}"
    );
    let request = logged
        .iter()
        .find(|v| v["route"] == "/api/v1/courses")
        .unwrap_or_else(|| panic!("no JSON request log line in {lines:#?}"));
    assert_eq!(request["status"], 200);
    assert_eq!(request["method"], "GET");
    assert!(request["request_id"].is_string());
    assert!(request["latency_ms"].is_number());
    // No secret was generated or logged.
    assert!(!dir.join("lms-data").join("jwt-secret").exists());
    assert!(
        !lines.iter().any(|l| l.contains(secret)),
        "the secret was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_to_their_own_address_and_both_listeners_stop_on_sigterm() {
    let dir = workdir();
    let mut running = start(&dir, &[("LMS_METRICS_BIND", "127.0.0.1:0")]).await;
    let metrics_addr = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = running.lines.recv().await.expect("the binary runs");
            running.seen.push(line.clone());
            if let Some(rest) = line.split("metrics on ").nth(1) {
                let addr = rest.split(|c: char| c.is_whitespace() || c == '"').next();
                return addr.unwrap().parse::<SocketAddr>().unwrap();
            }
        }
    })
    .await
    .expect("the binary logs the metrics address");
    assert_eq!(
        fetch(running.addr, "GET", "/healthz", &[], None)
            .await
            .status,
        200
    );
    let on_api = fetch(running.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(on_api.status, 404);
    let metrics = fetch(metrics_addr, "GET", "/metrics", &[], None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains(
            "lms_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("lms_store_pool_connections"),
        "{}",
        metrics.body
    );
    let not_api = fetch(metrics_addr, "GET", "/api/v1/courses", &[], None).await;
    assert_eq!(not_api.status, 404);
    running.terminate().await;
    assert!(
        tokio::net::TcpStream::connect(metrics_addr).await.is_err(),
        "the metrics listener stopped"
    );
}

#[tokio::test]
async fn the_help_documents_every_setting_without_showing_secrets() {
    let output = Command::new(BIN)
        .arg("--help")
        .env("LMS_JWT_SECRET", "a-secret-that-must-not-show-0123456789")
        .env(
            "LMS_DATABASE_URL",
            "postgres://user:pw-must-not-show@db/lms",
        )
        .env("LMS_STRIPE_SECRET_KEY", "sk_test_must-not-show")
        .env("LMS_RAZORPAY_KEY_SECRET", "rzp-must-not-show")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for name in [
        "LMS_DATABASE_URL",
        "LMS_DATABASE_SCHEMA",
        "LMS_DATA_DIR",
        "LMS_BIND",
        "LMS_PUBLIC_URL",
        "LMS_JWT_SECRET",
        "LMS_JWT_PREVIOUS_SECRETS",
        "LMS_CORS_ORIGINS",
        "LMS_MAX_BODY_BYTES",
        "LMS_MAX_CONNECTIONS",
        "LMS_LOG_JSON",
        "LMS_TRUSTED_PROXIES",
        "LMS_AUTH_RATE_PER_MINUTE",
        "LMS_AUTH_ACCOUNT_RATE_PER_MINUTE",
        "LMS_METRICS_BIND",
        "LMS_STRIPE_SECRET_KEY",
        "LMS_STRIPE_WEBHOOK_SECRET",
        "LMS_STRIPE_API_URL",
        "LMS_RAZORPAY_KEY_ID",
        "LMS_RAZORPAY_KEY_SECRET",
        "LMS_RAZORPAY_WEBHOOK_SECRET",
        "LMS_RAZORPAY_API_URL",
    ] {
        assert!(
            help.contains(name),
            "--help does not mention {name}:\n{help}"
        );
    }
    assert!(!help.contains("must-not-show"), "{help}");
}
