//! The benchmark run: ceilings first (one Argon2 hash, `pgbench -S`), then
//! for each store: seed (or reuse), measure the `hello` server, start the
//! release `lms-http`, sign learners in, run every scenario, stop it;
//! finally the table and the targets, each passed or failed.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use hyper::body::Bytes;
use serde_json::Value as Json;

use crate::dataset::{self, PASSWORD, Scale};
use crate::load::{self, LoadResult, LoadSpec, MakeRequest};
use crate::procs::{self, Server};
use crate::seed::{self, Outcome, Target};
use crate::{argon, providers, say};

/// A scenario of the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `GET /healthz`.
    Health,
    /// `GET /api/v1/courses?limit=20`, first pages, later pages by cursor,
    /// other sorts, filters and a search.
    Catalog,
    /// `GET /api/v1/courses/{id}`: a 200-lecture course, as an enrolled
    /// learner.
    Tree,
    /// `GET /api/v1/courses/{id}/progress` as an enrolled learner.
    ProgressRead,
    /// `PUT /api/v1/lectures/{id}/progress`: a new resume position each time.
    ProgressWrite,
    /// `POST /api/v1/auth/login`, a different learner each time.
    Login,
    /// The catalog again while a login storm runs beside it.
    Storm,
    /// `GET /api/v1/lectures/{id}/playback` as an enrolled learner: a Mux
    /// HLS URL with its RS256-signed tokens.
    Playback,
    /// `POST /api/v1/webhooks/stripe`: a signed event not seen before,
    /// verified and recorded once.
    Webhook,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 9] = [
        Scenario::Health,
        Scenario::Catalog,
        Scenario::Tree,
        Scenario::ProgressRead,
        Scenario::ProgressWrite,
        Scenario::Login,
        Scenario::Storm,
        Scenario::Playback,
        Scenario::Webhook,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::Catalog => "catalog",
            Scenario::Tree => "tree",
            Scenario::ProgressRead => "progress-read",
            Scenario::ProgressWrite => "progress-write",
            Scenario::Login => "login",
            Scenario::Storm => "storm",
            Scenario::Playback => "playback",
            Scenario::Webhook => "webhook",
        }
    }
}

/// Which stores to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stores {
    Sqlite,
    Postgres,
    Both,
}

/// Everything a run needs; the binary fills it from its flags.
#[derive(Debug, Clone)]
pub struct Options {
    pub stores: Stores,
    pub database_url: String,
    pub sqlite_dir: PathBuf,
    pub scale: Scale,
    pub warmup: Duration,
    pub duration: Duration,
    pub connections: usize,
    pub storm_connections: usize,
    pub scenarios: Vec<Scenario>,
    pub reseed: bool,
    pub build: bool,
    pub pgbench_clients: usize,
    pub server_log: String,
    pub work_dir: PathBuf,
}

/// Settings every `lms-http` under test gets besides its store.
///
/// The per-address and per-account login limits are off (0): every request
/// here comes from 127.0.0.1 and the login scenario cycles through a few
/// hundred accounts per connection, so any real limit would turn it into a
/// measurement of 429s. A server without these settings ignores them.
const SERVER_ENV: &[(&str, &str)] = &[
    ("LMS_AUTH_RATE_PER_MINUTE", "0"),
    ("LMS_AUTH_ACCOUNT_RATE_PER_MINUTE", "0"),
    // Idle keep-alive connections between scenarios must survive.
    ("LMS_HEADER_READ_TIMEOUT_SECS", "120"),
];

/// The fixed signing secret of the servers under test.
const JWT_SECRET: &str = "lms-bench-jwt-secret-0123456789abcdef";

/// Access tokens live 15 minutes; sign in again well before.
const TOKEN_REFRESH: Duration = Duration::from_secs(10 * 60);

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub store: String,
    pub scenario: String,
    pub connections: usize,
    pub result: LoadResult,
    /// The ceiling this row is compared with: (its name, req/s).
    pub ceiling: Option<(&'static str, f64)>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.ceiling.map(|(_, c)| self.result.rps() / c.max(1e-9))
    }
}

/// A target of the issue, checked.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub measured: String,
    pub required: String,
    pub pass: bool,
}

/// The ceilings, measured once per run.
#[derive(Debug, Clone)]
pub struct Ceilings {
    pub cores: usize,
    pub hash_time: Duration,
    pub pgbench_tps: Result<f64, String>,
}

impl Ceilings {
    /// Logins per second if every core did nothing but hash.
    pub fn login_ceiling(&self) -> f64 {
        self.cores as f64 / self.hash_time.as_secs_f64()
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub ceilings: Ceilings,
    pub rows: Vec<Row>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
}

/// A signed-in learner with a course they are enrolled in.
#[derive(Debug, Clone)]
struct Learner {
    token: String,
    course: String,
    /// (lecture id, duration) of the course's video lectures.
    videos: Vec<(String, i64)>,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn json_body(value: &Json) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("JSON values serialize"))
}

async fn get_json(addr: SocketAddr, path: &str, token: Option<&str>) -> Result<Json, String> {
    let (status, body) = load::fetch(addr, load::request(addr, Method::GET, path, token, None))
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "GET {path}: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {path}: {e}"))
}

async fn login(addr: SocketAddr, email: &str) -> Result<String, String> {
    let body = json_body(&serde_json::json!({ "email": email, "password": PASSWORD }));
    let request = load::request(addr, Method::POST, "/api/v1/auth/login", None, Some(body));
    let (status, body) = load::fetch(addr, request).await?;
    if !status.is_success() {
        return Err(format!(
            "login of {email}: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let session: Json = serde_json::from_slice(&body).map_err(|e| format!("login: {e}"))?;
    session["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "login answered without access_token".to_owned())
}

async fn sign_in(addr: SocketAddr, n: usize) -> Result<Learner, String> {
    let token = login(addr, &dataset::learner_email(n)).await?;
    let mine = get_json(addr, "/api/v1/me/enrollments", Some(&token)).await?;
    let course = mine["items"][0]["course"]["id"]
        .as_str()
        .ok_or_else(|| format!("learner {n} has no enrollment"))?
        .to_owned();
    let tree = get_json(addr, &format!("/api/v1/courses/{course}"), Some(&token)).await?;
    let videos: Vec<(String, i64)> = tree["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["lectures"].as_array().into_iter().flatten())
        .filter(|l| l["kind"] == "video")
        .filter_map(|l| Some((l["id"].as_str()?.to_owned(), l["duration_secs"].as_i64()?)))
        .filter(|(_, d)| *d > 2)
        .collect();
    if videos.is_empty() {
        return Err(format!("course {course} has no video lecture"));
    }
    Ok(Learner {
        token,
        course,
        videos,
    })
}

/// Signs learners 0..n in, a few at a time (each login is one Argon2 hash).
async fn sign_in_all(addr: SocketAddr, n: usize) -> Result<Vec<Learner>, String> {
    let mut learners = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| tokio::spawn(sign_in(addr, i)))
            .collect();
        for task in tasks {
            learners.push(task.await.map_err(|e| format!("sign-in task: {e}"))??);
        }
    }
    Ok(learners)
}

/// Catalog pages a visitor asks for: the first page, the next few by
/// cursor, and the other sorts, filters and a search.
async fn catalog_paths(addr: SocketAddr) -> Result<Vec<String>, String> {
    let first = "/api/v1/courses?limit=20".to_owned();
    let mut paths = vec![first.clone()];
    let mut page = get_json(addr, &first, None).await?;
    let items = page["items"].as_array().map_or(0, Vec::len);
    if items != 20 {
        return Err(format!(
            "the first catalog page has {items} courses, not 20"
        ));
    }
    for _ in 0..4 {
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        let path = format!("/api/v1/courses?limit=20&cursor={cursor}");
        page = get_json(addr, &path, None).await?;
        paths.push(path);
    }
    for query in [
        "sort=popular",
        "sort=title",
        "level=beginner",
        "tag=programming",
        "q=python",
        "language=en&price=free",
    ] {
        paths.push(format!("/api/v1/courses?limit=20&{query}"));
    }
    Ok(paths)
}

fn spec(addr: SocketAddr, o: &Options, connections: usize, make: MakeRequest) -> LoadSpec {
    LoadSpec {
        addr,
        connections,
        warmup: o.warmup,
        duration: o.duration,
        make,
    }
}

fn health_load(addr: SocketAddr) -> MakeRequest {
    Arc::new(move |_, _| load::request(addr, Method::GET, "/healthz", None, None))
}

fn catalog_load(addr: SocketAddr, paths: Arc<Vec<String>>) -> MakeRequest {
    Arc::new(move |c, seq| {
        let path = &paths[(c + seq as usize) % paths.len()];
        load::request(addr, Method::GET, path, None, None)
    })
}

/// Logins spread over many learners, never one learner on two connections
/// at once: concurrent attempts on one account count toward its lockout.
fn login_load(addr: SocketAddr, first: usize, pool: usize, connections: usize) -> MakeRequest {
    let per_connection = (pool / connections).max(1);
    Arc::new(move |c, seq| {
        let n = first + c + connections * (seq as usize % per_connection);
        let body = json_body(
            &serde_json::json!({ "email": dataset::learner_email(n), "password": PASSWORD }),
        );
        load::request(addr, Method::POST, "/api/v1/auth/login", None, Some(body))
    })
}

/// The `RUST_LOG` of `lms-http` for `--server-log`. `quiet` drops the
/// per-request line but keeps `listening on`, which the harness waits for.
fn server_log_filter(given: &str) -> String {
    match given {
        "quiet" => "warn,lms_http=info,lms_http::app=warn".to_owned(),
        other => other.to_owned(),
    }
}

/// Runs `GET /healthz` against the `hello` server.
async fn measure_hello(o: &Options) -> Result<LoadResult, String> {
    let exe = procs::release_dir().join("hello");
    let log = o.work_dir.join("logs").join("hello.log");
    let server = Server::start(&exe, &[], &log)?;
    let result = load::run(spec(
        server.addr,
        o,
        o.connections,
        health_load(server.addr),
    ))
    .await;
    server.stop();
    Ok(result)
}

/// Runs the scenarios against one store's server.
async fn run_store(
    o: &Options,
    target: &Target,
    ceilings: &Ceilings,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let store = target.backend();
    say(&format!(
        "{store}: making sure the data set {} is there",
        o.scale.key()
    ));
    match seed::ensure(target, o.scale, o.reseed, &|line| {
        say(&format!("{store}: {line}"))
    })
    .await?
    {
        Outcome::Reused => say(&format!("{store}: reusing the seeded data set")),
        Outcome::Seeded(took) => {
            let line = format!("{store}: seeded in {:.1} s", took.as_secs_f64());
            say(&line);
            notes.push(line);
        }
    }
    let counts = seed::counts(target).await?;
    say(&format!("{store}: {counts:?}"));

    let mut env: Vec<(&str, String)> = vec![
        ("LMS_DATABASE_URL", target.database_url()),
        (
            "LMS_DATA_DIR",
            o.work_dir.join("data").display().to_string(),
        ),
        ("LMS_JWT_SECRET", JWT_SECRET.to_owned()),
        ("RUST_LOG", server_log_filter(&o.server_log)),
    ];
    if let Some(schema) = target.schema() {
        env.push(("LMS_DATABASE_SCHEMA", schema.to_owned()));
    }
    for (k, v) in SERVER_ENV {
        env.push((k, (*v).to_owned()));
    }
    env.extend(providers::mux_env());
    env.extend(providers::stripe_env());
    let exe = procs::release_dir().join("lms-http");
    let log = o
        .work_dir
        .join("logs")
        .join(format!("lms-http-{store}.log"));
    let server = Server::start(&exe, &env, &log)?;
    let addr = server.addr;
    say(&format!(
        "{store}: lms-http (pid {}) on {addr}, log {}",
        server.pid(),
        log.display()
    ));

    let learners_needed = o.connections;
    let mut signed_in_at = Instant::now();
    let mut learners = Arc::new(sign_in_all(addr, learners_needed).await?);
    let paths = Arc::new(catalog_paths(addr).await?);
    // The ceiling is measured here, beside the scenarios it is compared
    // with, rather than once per run: on a shared machine the background
    // load minutes apart differs more than the figures being compared.
    say(&format!("{store}: ceiling: the hello server"));
    let hello_result = measure_hello(o).await?;
    say(&format!(
        "{store}: hello: {:.0} req/s, p99 {:.2} ms",
        hello_result.rps(),
        hello_result.latency_ms(0.99)
    ));
    let hello = hello_result.rps();
    rows.push(Row {
        store: store.to_owned(),
        scenario: "hello (ceiling)".to_owned(),
        connections: o.connections,
        result: hello_result,
        ceiling: None,
    });
    // The learners' courses get ready Mux videos for the playback scenario.
    let courses: Vec<uuid::Uuid> = learners
        .iter()
        .filter_map(|l| l.course.parse().ok())
        .collect();
    let readied = providers::ready_videos(target, &courses).await?;
    say(&format!(
        "{store}: {readied} video lectures of {} courses made ready at Mux",
        courses.len()
    ));
    // Timed beside the scenarios, like the hash below.
    let rs256_time = tokio::task::spawn_blocking(|| providers::time_one_rs256(101))
        .await
        .map_err(|e| format!("RS256 timing: {e}"))??;
    let playback_ceiling = ceilings.cores as f64 / rs256_time.as_secs_f64();
    notes.push(format!(
        "{store}: one RS256 signature (2048-bit key) beside its scenarios: {:.3} ms; {} cores / t_rs256 = {:.0} signatures/s",
        rs256_time.as_secs_f64() * 1000.0,
        ceilings.cores,
        playback_ceiling
    ));
    // Event ids no earlier run used, so every delivery is new.
    let run_nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let login_pool_first = learners_needed;
    let login_pool = (o.scale.learners() - learners_needed).min(20_000);

    let mut idle_catalog: Option<LoadResult> = None;
    for &scenario in &o.scenarios {
        if signed_in_at.elapsed() > TOKEN_REFRESH {
            learners = Arc::new(sign_in_all(addr, learners_needed).await?);
            signed_in_at = Instant::now();
        }
        let ls = learners.clone();
        let (make, ceiling): (MakeRequest, _) = match scenario {
            Scenario::Health => (health_load(addr), Some(("hello", hello))),
            Scenario::Catalog => (catalog_load(addr, paths.clone()), Some(("hello", hello))),
            Scenario::Tree => (
                Arc::new(move |c, _| {
                    let l = &ls[c % ls.len()];
                    let path = format!("/api/v1/courses/{}", l.course);
                    load::request(addr, Method::GET, &path, Some(&l.token), None)
                }),
                Some(("hello", hello)),
            ),
            Scenario::ProgressRead => (
                Arc::new(move |c, _| {
                    let l = &ls[c % ls.len()];
                    let path = format!("/api/v1/courses/{}/progress", l.course);
                    load::request(addr, Method::GET, &path, Some(&l.token), None)
                }),
                Some(("hello", hello)),
            ),
            Scenario::ProgressWrite => {
                // A position this run has not written yet, so every request
                // is a real change (an unchanged position writes nothing).
                let offset = (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    % 1_000) as i64;
                (
                    Arc::new(move |c, seq| {
                        let l = &ls[c % ls.len()];
                        let n = l.videos.len() as u64;
                        let (lecture, duration) = &l.videos[(seq % n) as usize];
                        let round = (seq / n) as i64 + offset;
                        let position = 1 + round % (duration - 1);
                        let path = format!("/api/v1/lectures/{lecture}/progress");
                        let body = json_body(&serde_json::json!({ "position_secs": position }));
                        load::request(addr, Method::PUT, &path, Some(&l.token), Some(body))
                    }),
                    Some(("hello", hello)),
                )
            }
            // Its ceiling is timed around it, below.
            Scenario::Login => (
                login_load(addr, login_pool_first, login_pool, o.connections),
                None,
            ),
            Scenario::Playback => (
                Arc::new(move |c, seq| {
                    let l = &ls[c % ls.len()];
                    let (lecture, _) = &l.videos[seq as usize % l.videos.len()];
                    let path = format!("/api/v1/lectures/{lecture}/playback");
                    load::request(addr, Method::GET, &path, Some(&l.token), None)
                }),
                Some(("cores/t_rs256", playback_ceiling)),
            ),
            Scenario::Webhook => (
                Arc::new(move |c, seq| {
                    let event_id = format!("evt_bench_{run_nonce:x}_{c}_{seq}");
                    let t = chrono::Utc::now().timestamp();
                    let (body, signature) = providers::stripe_delivery(&event_id, t);
                    let path = "/api/v1/webhooks/stripe";
                    let mut request =
                        load::request(addr, Method::POST, path, None, Some(Bytes::from(body)));
                    request.headers_mut().insert(
                        "stripe-signature",
                        http::HeaderValue::from_str(&signature)
                            .expect("a signature is a valid header value"),
                    );
                    request
                }),
                None,
            ),
            Scenario::Storm => {
                let idle = match idle_catalog.clone() {
                    Some(idle) => idle,
                    None => {
                        say(&format!(
                            "{store}: catalog at idle, for the storm's baseline"
                        ));
                        let make = catalog_load(addr, paths.clone());
                        load::run(spec(addr, o, o.connections, make)).await
                    }
                };
                let hash_before = time_hash().await?;
                say(&format!(
                    "{store}: storm: catalog x{} beside login x{}",
                    o.connections, o.storm_connections
                ));
                let catalog = load::run(spec(
                    addr,
                    o,
                    o.connections,
                    catalog_load(addr, paths.clone()),
                ));
                let logins = load::run(spec(
                    addr,
                    o,
                    o.storm_connections,
                    login_load(addr, login_pool_first, login_pool, o.storm_connections),
                ));
                let (catalog, logins) = tokio::join!(catalog, logins);
                let login_ceiling =
                    login_ceiling(store, "storm", ceilings.cores, hash_before, notes).await?;
                let line = format!(
                    "{store}: catalog p99 {:.2} ms idle, {:.2} ms during the login storm ({:.2}x)",
                    idle.latency_ms(0.99),
                    catalog.latency_ms(0.99),
                    catalog.latency_ms(0.99) / idle.latency_ms(0.99).max(1e-9)
                );
                say(&line);
                rows.push(Row {
                    store: store.to_owned(),
                    scenario: "storm: catalog".to_owned(),
                    connections: o.connections,
                    result: catalog,
                    ceiling: Some(("hello", hello)),
                });
                rows.push(Row {
                    store: store.to_owned(),
                    scenario: "storm: login".to_owned(),
                    connections: o.storm_connections,
                    result: logins,
                    ceiling: Some(("cores/t_hash", login_ceiling)),
                });
                if idle_catalog.is_none() {
                    rows.push(Row {
                        store: store.to_owned(),
                        scenario: "catalog".to_owned(),
                        connections: o.connections,
                        result: idle,
                        ceiling: Some(("hello", hello)),
                    });
                }
                continue;
            }
        };
        let hash_before = match scenario {
            Scenario::Login => Some(time_hash().await?),
            _ => None,
        };
        say(&format!(
            "{store}: {} x{} for {:.0} s",
            scenario.name(),
            o.connections,
            o.duration.as_secs_f64()
        ));
        let result = load::run(spec(addr, o, o.connections, make)).await;
        let ceiling = match hash_before {
            Some(before) => Some((
                "cores/t_hash",
                login_ceiling(store, "login", ceilings.cores, before, notes).await?,
            )),
            None => ceiling,
        };
        say(&format!(
            "{store}: {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
            scenario.name(),
            result.rps(),
            result.latency_ms(0.5),
            result.latency_ms(0.99),
            result.errors,
            result
                .main_error()
                .map(|(k, n)| format!(" (most: {k} x{n})"))
                .unwrap_or_default()
        ));
        if scenario == Scenario::Catalog {
            idle_catalog = Some(result.clone());
        }
        rows.push(Row {
            store: store.to_owned(),
            scenario: scenario.name().to_owned(),
            connections: o.connections,
            result,
            ceiling,
        });
    }
    server.stop();
    Ok(())
}

/// Runs of the hash timed on each side of a login scenario: enough for a
/// median that one slow run does not move, few enough to take well under
/// a second.
const HASH_RUNS: usize = 15;

/// The time of one Argon2 hash, now (see [`argon::time_one_hash`]).
async fn time_hash() -> Result<Duration, String> {
    tokio::task::spawn_blocking(|| argon::time_one_hash(HASH_RUNS))
        .await
        .map_err(|e| format!("hash timing: {e}"))
}

/// The login ceiling of a scenario that ran between `before` and now:
/// `cores` over the mean of the hash timed just before it and the one
/// timed just after. On a shared machine one hash's time drifts by tens of
/// percent within minutes, so a ceiling timed apart from its scenario
/// measures the neighbours more than the server. Both times go in the notes.
async fn login_ceiling(
    store: &str,
    scenario: &str,
    cores: usize,
    before: Duration,
    notes: &mut Vec<String>,
) -> Result<f64, String> {
    let after = time_hash().await?;
    let mean = (before + after) / 2;
    let ceiling = cores as f64 / mean.as_secs_f64();
    let parallel = tokio::task::spawn_blocking(move || argon::parallel_hash_rate(cores, HASH_RUNS))
        .await
        .map_err(|e| format!("hash timing: {e}"))?;
    notes.push(format!(
        "{store}: {scenario}: one Argon2id hash {:.1} ms just before, {:.1} ms just after; \
         {cores} cores / {:.1} ms = {ceiling:.1} logins/s. With {cores} threads hashing at once \
         and no server, the machine made {parallel:.1} hashes/s ({:.1}% of that ceiling)",
        before.as_secs_f64() * 1000.0,
        after.as_secs_f64() * 1000.0,
        mean.as_secs_f64() * 1000.0,
        parallel / ceiling * 100.0,
    ));
    Ok(ceiling)
}

/// Measures the ceilings and every selected store; never panics on a store
/// that fails (its error becomes a note and its targets fail).
pub async fn run(o: &Options) -> Result<Report, String> {
    let mut notes = vec![format!("load average before: {}", load_average())];
    if o.build {
        say("building the release binaries");
        procs::build_release()?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    say("timing one Argon2 hash with the core's parameters");
    let hash_time = time_hash().await?;

    let wants_pg = matches!(o.stores, Stores::Postgres | Stores::Both);
    let pgbench_tps = if wants_pg {
        match procs::find_pgbench() {
            Some(pgbench) => {
                say(&format!("ceiling: pgbench -S -c {}", o.pgbench_clients));
                let secs = o.duration.as_secs().max(1);
                procs::pgbench(&pgbench, &o.database_url, o.pgbench_clients, secs).await
            }
            None => Err(procs::PGBENCH_MISSING.to_owned()),
        }
    } else {
        Err("not measured (no PostgreSQL store in this run)".to_owned())
    };
    if let Err(e) = &pgbench_tps {
        say(&format!("pgbench: {e}"));
    }

    let ceilings = Ceilings {
        cores,
        hash_time,
        pgbench_tps,
    };
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    if matches!(o.stores, Stores::Sqlite | Stores::Both) {
        targets.push(Target::Sqlite(
            o.sqlite_dir.join(format!("{}.db", o.scale.key())),
        ));
    }
    if wants_pg {
        targets.push(Target::Postgres {
            url: o.database_url.clone(),
            schema: format!("bench_{}", o.scale.key()),
        });
    }
    for target in &targets {
        if let Err(e) = run_store(o, target, &ceilings, &mut rows, &mut notes).await {
            let line = format!("{}: FAILED: {e}", target.backend());
            say(&line);
            notes.push(line);
        }
    }
    notes.push(format!("load average after: {}", load_average()));
    let checks = checks(&ceilings, &rows, &targets);
    Ok(Report {
        ceilings,
        rows,
        checks,
        notes,
    })
}

fn find<'a>(rows: &'a [Row], store: &str, scenario: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.store == store && r.scenario == scenario)
}

/// The targets, for the stores this run measured.
fn checks(ceilings: &Ceilings, rows: &[Row], targets: &[Target]) -> Vec<Check> {
    let mut checks = Vec::new();
    let ratio = |store: &str, scenario: &str, at_least: f64| {
        let name = format!("{store}: {scenario} >= {:.0}% of hello", at_least * 100.0);
        let hello = find(rows, store, "hello (ceiling)").map_or(0.0, |r| r.result.rps());
        let required = format!("{:.0}% ({:.0} req/s)", at_least * 100.0, at_least * hello);
        match find(rows, store, scenario).and_then(|r| Some((r, r.ratio()?))) {
            Some((row, ratio)) => Check {
                name,
                measured: format!("{:.1}% ({:.0} req/s)", ratio * 100.0, row.result.rps()),
                required,
                pass: ratio >= at_least && row.result.errors == 0,
            },
            None => Check {
                name,
                measured: "not measured".to_owned(),
                required,
                pass: false,
            },
        }
    };
    for target in targets {
        let store = target.backend();
        checks.push(ratio(store, "health", 0.85));
        let catalog = if store == "sqlite" { 0.40 } else { 0.25 };
        checks.push(ratio(store, "catalog", catalog));
        checks.push(ratio(store, "tree", 0.25));
    }
    for target in targets {
        let store = target.backend();
        if store == "sqlite" {
            let row = find(rows, store, "progress-write");
            checks.push(Check {
                name: "sqlite: progress write >= 10,000/s".to_owned(),
                measured: row.map_or("not measured".to_owned(), |r| {
                    format!("{:.0} req/s", r.result.rps())
                }),
                required: "10000 req/s".to_owned(),
                pass: row.is_some_and(|r| r.result.rps() >= 10_000.0 && r.result.errors == 0),
            });
        }
        let row = find(rows, store, "login");
        let ceiling = row
            .and_then(|r| r.ceiling)
            .map_or(ceilings.login_ceiling(), |(_, c)| c);
        checks.push(Check {
            name: format!("{store}: login >= 90% of cores/t_hash"),
            measured: row.map_or("not measured".to_owned(), |r| {
                format!(
                    "{:.1}% ({:.1} req/s)",
                    r.result.rps() / ceiling * 100.0,
                    r.result.rps()
                )
            }),
            required: format!("90% ({:.1} req/s)", 0.9 * ceiling),
            pass: row.is_some_and(|r| r.result.rps() >= 0.9 * ceiling && r.result.errors == 0),
        });
        let row = find(rows, store, "playback");
        let ceiling = row.and_then(|r| r.ceiling).map(|(_, c)| c);
        checks.push(Check {
            name: format!("{store}: playback >= 80% of cores/t_rs256"),
            measured: match (row, ceiling) {
                (Some(r), Some(c)) => format!(
                    "{:.1}% ({:.0} req/s)",
                    r.result.rps() / c * 100.0,
                    r.result.rps()
                ),
                _ => "not measured".to_owned(),
            },
            required: ceiling.map_or("80%".to_owned(), |c| format!("80% ({:.0} req/s)", 0.8 * c)),
            pass: row
                .zip(ceiling)
                .is_some_and(|(r, c)| r.result.rps() >= 0.8 * c && r.result.errors == 0),
        });
        let idle = find(rows, store, "catalog");
        let storm = find(rows, store, "storm: catalog");
        let storm_logins = find(rows, store, "storm: login");
        let measured = match (idle, storm) {
            (Some(i), Some(s)) => {
                let (i, s) = (i.result.latency_ms(0.99), s.result.latency_ms(0.99));
                Some((i, s, s / i.max(1e-9)))
            }
            _ => None,
        };
        checks.push(Check {
            name: format!("{store}: catalog p99 in a login storm <= 2x idle"),
            measured: measured.map_or("not measured".to_owned(), |(i, s, x)| {
                let logins = storm_logins.map_or(0.0, |l| l.result.rps());
                format!("{x:.2}x ({s:.2} ms vs {i:.2} ms; {logins:.1} logins/s beside it)")
            }),
            required: "2.00x".to_owned(),
            // A storm in which no login got through is no storm: the
            // catalog then merely ran twice.
            pass: measured.is_some_and(|(_, _, x)| x <= 2.0)
                && storm.is_some_and(|s| s.result.errors == 0)
                && storm_logins.is_some_and(|l| l.result.ok > 0 && l.result.errors == 0),
        });
    }
    checks
}

impl Report {
    /// The report as Markdown: ceilings, the table, the targets, notes.
    pub fn markdown(&self) -> String {
        let c = &self.ceilings;
        let mut out = String::new();
        let _ = writeln!(out, "Ceilings:\n");
        let _ = writeln!(
            out,
            "- hello-world hyper server: the `hello (ceiling)` row of each store, \
             measured just before that store's scenarios"
        );
        let _ = writeln!(
            out,
            "- one Argon2id hash (m=19456 KiB, t=2, p=1) at the start: {:.1} ms; {} cores / t_hash = {:.1} logins/s \
             (each login row uses the hash timed just before and after it, in the notes)",
            c.hash_time.as_secs_f64() * 1000.0,
            c.cores,
            c.login_ceiling()
        );
        match &c.pgbench_tps {
            Ok(tps) => {
                let _ = writeln!(out, "- pgbench -S -M prepared: {tps:.0} tps");
            }
            Err(e) => {
                let _ = writeln!(out, "- pgbench -S: {e}");
            }
        }
        let _ = writeln!(
            out,
            "\n| store | scenario | conns | req/s | p50 ms | p99 ms | errors | vs ceiling |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let vs = match (r.ceiling, r.ratio()) {
                (Some((name, _)), Some(x)) => format!("{:.1}% of {name}", x * 100.0),
                _ => String::new(),
            };
            let errors = match r.result.main_error() {
                Some((kind, _)) => format!("{} ({kind})", r.result.errors),
                None => r.result.errors.to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
                r.store,
                r.scenario,
                r.connections,
                r.result.rps(),
                r.result.latency_ms(0.5),
                r.result.latency_ms(0.99),
                errors,
                vs
            );
        }
        if let Ok(tps) = &c.pgbench_tps {
            for r in self.rows.iter().filter(|r| r.store == "postgres") {
                if matches!(r.scenario.as_str(), "catalog" | "tree" | "progress-read") {
                    let _ = writeln!(
                        out,
                        "\npostgres {}: {:.1}% of pgbench -S tps",
                        r.scenario,
                        r.result.rps() / tps * 100.0
                    );
                }
            }
        }
        let _ = writeln!(out, "\n| target | measured | required | result |");
        let _ = writeln!(out, "|---|---|---|---|");
        for check in &self.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                check.name,
                check.measured,
                check.required,
                if check.pass { "pass" } else { "FAIL" }
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}
