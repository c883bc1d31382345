//! The processes the harness runs: `cargo build`, the servers under test
//! (each with its output in a log file, its address read from the
//! `listening on ADDR` line both print), and `pgbench`.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr as _;
use std::time::{Duration, Instant};

/// The workspace this harness belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate sits in the workspace")
        .to_path_buf()
}

/// `target/release` of the build that produced this harness (a debug
/// harness still runs release servers: they are what is measured).
pub fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("release")))
        .unwrap_or_else(|| workspace_root().join("target").join("release"))
}

/// Builds the release `lms-http` and this package's binaries.
pub fn build_release() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "-p",
            "lms-http",
            "-p",
            "lms-bench",
            "--bins",
        ])
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build --release failed ({status})"))
    }
}

/// A server process, stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Server {
    /// Starts `exe` with `env` (plus `LMS_BIND=127.0.0.1:0`) and waits for
    /// its `listening on` line.
    pub fn start(exe: &Path, env: &[(&str, String)], log: &Path) -> Result<Server, String> {
        if !exe.exists() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release -p lms-http -p lms-bench` \
                 or run without --no-build",
                exe.display()
            ));
        }
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let out = File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("log file: {e}"))?;
        let mut command = Command::new(exe);
        command
            .env("LMS_BIND", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(addr) = listening_addr(&std::fs::read_to_string(log).unwrap_or_default()) {
                server.addr = addr;
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening; its log:\n{}",
                    exe.display(),
                    tail(log)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not say `listening on` within two minutes; its log:\n{}",
                    exe.display(),
                    tail(log)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the server to finish (SIGTERM: in-flight requests complete) and
    /// waits up to 15 s before killing it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The address in a `listening on ADDR` line, if the log has one yet.
pub fn listening_addr(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let rest = &line[line.find("listening on ")? + "listening on ".len()..];
        let addr: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '[' | ']'))
            .collect();
        SocketAddr::from_str(&addr).ok()
    })
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The `pgbench` to run: the one on `PATH`, else one in Debian's versioned
/// PostgreSQL folders.
pub fn find_pgbench() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin").join("pgbench")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// What to tell a user without pgbench.
pub const PGBENCH_MISSING: &str = "pgbench not found: it ships with the PostgreSQL server \
     package (Debian: `apt-get install postgresql-15` or `postgresql-contrib`; it lands in \
     /usr/lib/postgresql/<version>/bin/pgbench)";

/// The `tps = N` figure of pgbench's report.
pub fn parse_pgbench_tps(report: &str) -> Option<f64> {
    report.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("tps = ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Connection flags for pgbench from a `postgres://user@host:port/db` URL.
pub fn pgbench_args(url: &str) -> Result<(Vec<String>, String), String> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| format!("postgres url: {e}"))?;
    let db = options
        .get_database()
        .ok_or("the PostgreSQL URL names no database")?
        .to_owned();
    let args = vec![
        "-h".to_owned(),
        options.get_host().to_owned(),
        "-p".to_owned(),
        options.get_port().to_string(),
        "-U".to_owned(),
        options.get_username().to_owned(),
    ];
    Ok((args, db))
}

/// Runs `pgbench -i` then `pgbench -S` (select-only, prepared statements, as
/// sqlx sends them) with `clients` clients on two threads for `secs`
/// seconds against a scratch database next to `url`'s; answers its tps.
pub async fn pgbench(pgbench: &Path, url: &str, clients: usize, secs: u64) -> Result<f64, String> {
    let (conn_args, db) = pgbench_args(url)?;
    let scratch = format!("{db}_pgbench");
    let scratch_url = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{scratch}"),
        None => return Err("the PostgreSQL URL names no database".to_owned()),
    };
    crate::seed::create_database(&scratch_url).await?;
    let run = |args: Vec<String>| -> Result<String, String> {
        let output = Command::new(pgbench)
            .args(&conn_args)
            .args(&args)
            .arg(&scratch)
            .output()
            .map_err(|e| format!("running pgbench: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(format!("pgbench failed ({}):\n{text}", output.status))
        }
    };
    run(vec!["-i".into(), "-q".into(), "-s".into(), "10".into()])?;
    let report = run(vec![
        "-S".into(),
        "-M".into(),
        "prepared".into(),
        "-c".into(),
        clients.to_string(),
        "-j".into(),
        "2".into(),
        "-T".into(),
        secs.to_string(),
    ])?;
    parse_pgbench_tps(&report).ok_or_else(|| format!("no tps in pgbench's report:\n{report}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_either_servers_listening_line() {
        let lms = "2026-01-01T00:00:00.000000Z  INFO listening on 127.0.0.1:41234 addr=127.0.0.1:41234 store=\"sqlite\"";
        assert_eq!(
            listening_addr(lms),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(
            listening_addr("migrating\nlistening on 127.0.0.1:9\n"),
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(listening_addr("starting up"), None);
    }

    #[test]
    fn tps_is_read_from_a_pgbench_report() {
        let report = "number of transactions actually processed: 1000\n\
                      latency average = 0.321 ms\n\
                      initial connection time = 5.1 ms\n\
                      tps = 24680.123456 (without initial connection time)\n";
        assert_eq!(parse_pgbench_tps(report), Some(24680.123456));
        assert_eq!(parse_pgbench_tps("connection refused"), None);
    }
}
