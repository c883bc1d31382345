//! Keeps the harness from rotting without timing anything: the load
//! generator counts what a real server answers, and a tiny seeded store is
//! one the core reads (catalog, search, tree, login) exactly as it would
//! read its own rows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use lms_bench::dataset::{self, PASSWORD, Scale};
use lms_bench::load::{self, LoadSpec};
use lms_bench::procs::Server;
use lms_bench::seed::{self, Outcome, Target};
use lms_core::{CatalogQuery, Config, Credentials, Lms, Secret};

fn hello() -> Server {
    let log = std::env::temp_dir().join(format!("lms-bench-hello-{}.log", std::process::id()));
    Server::start(std::path::Path::new(env!("CARGO_BIN_EXE_hello")), &[], &log)
        .expect("the hello server starts")
}

fn spec(addr: SocketAddr, path: &'static str) -> LoadSpec {
    LoadSpec {
        addr,
        connections: 4,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(300),
        make: Arc::new(move |_, _| load::request(addr, Method::GET, path, None, None)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_counts_answers_and_errors_of_a_real_server() {
    let server = hello();
    let ok = load::run(spec(server.addr, "/healthz")).await;
    assert!(ok.ok > 0, "no request succeeded");
    assert_eq!(ok.errors, 0, "{:?}", ok.error_kinds);
    assert_eq!(ok.latency_us.len(), ok.ok);

    let missing = load::run(spec(server.addr, "/nowhere")).await;
    assert_eq!(missing.ok, 0);
    assert!(missing.errors > 0);
    assert_eq!(missing.main_error().map(|(k, _)| k), Some("status 404"));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_errors_not_a_hang() {
    let server = hello();
    let addr = server.addr;
    server.stop();
    let result = load::run(spec(addr, "/healthz")).await;
    assert_eq!(result.ok, 0);
    assert!(result.errors > 0);
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_seed_is_what_the_core_reads_and_is_reused_the_second_time() {
    let dir = TempDir(std::env::temp_dir().join(format!("lms-bench-seed-{}", std::process::id())));
    let target = Target::Sqlite(dir.0.join("tiny.db"));
    let scale = Scale::TINY;
    let quiet = |_: &str| {};

    let first = seed::ensure(&target, scale, false, &quiet).await.unwrap();
    assert!(matches!(first, Outcome::Seeded(_)), "{first:?}");
    let counts = seed::counts(&target).await.unwrap();
    assert!(counts.match_scale(scale), "{counts:?}");
    let again = seed::ensure(&target, scale, false, &quiet).await.unwrap();
    assert_eq!(again, Outcome::Reused);

    let config = Config::with_jwt_secret(Secret::new("a test secret of thirty-two bytes!"));
    let lms = Lms::open(&target.database_url(), config).await.unwrap();

    // The catalog sees every published course, with its aggregates.
    let published = (0..scale.courses)
        .filter(|&c| dataset::course_is_published(c))
        .count();
    let page = lms
        .catalog(&CatalogQuery {
            limit: Some(100),
            ..CatalogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), published);
    for item in &page.items {
        assert_eq!(item.lecture_count, scale.lectures_per_course() as i64);
        assert!(item.total_duration_secs > 0);
        assert!(!item.instructor_name.is_empty());
    }
    // Full-text search sees seeded titles through the index's triggers.
    let search = lms
        .catalog(&CatalogQuery {
            q: Some("pyth".into()),
            ..CatalogQuery::default()
        })
        .await
        .unwrap();
    assert!(!search.items.is_empty());
    assert!(
        search
            .items
            .iter()
            .all(|i| i.course.title.contains("Python"))
    );

    // The shared password logs a learner in, and the tree is whole.
    let session = lms
        .login(Credentials {
            email: dataset::learner_email(0),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    let actor = lms.authenticate(&session.access_token).await.unwrap();
    let mine = lms.my_enrollments(&actor).await.unwrap();
    assert!(!mine.is_empty());
    let course = mine[0].course.id;
    let detail = lms
        .course_detail(&actor, &course.to_string())
        .await
        .unwrap();
    assert_eq!(detail.sections.len(), scale.sections_per_course);
    let progress = lms.course_progress(&actor, course).await.unwrap();
    assert_eq!(progress.lectures.len(), scale.lectures_per_course());

    // The seeded log is one the core pages through, in time order.
    let events = lms
        .events(
            &lms_core::Actor::System,
            &lms_core::EventQuery {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].created_at <= w[1].created_at)
    );
}
