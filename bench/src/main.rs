//! `lms-bench`: seeds, serves, loads and reports. `lms-bench --help` lists
//! the flags; `bench/README.md` explains the figures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lms_bench::dataset::Scale;
use lms_bench::harness::{self, Options, Scenario, Stores};
use lms_bench::procs;

/// Benchmark of the release lms-http against its ceilings.
#[derive(Debug, Parser)]
#[command(name = "lms-bench", version)]
struct Args {
    /// Stores to measure
    #[arg(long, value_enum, default_value = "both")]
    store: Stores,

    /// PostgreSQL database (created when missing); the data set goes in a
    /// schema named after its scale
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://postgres@127.0.0.1:5432/lms_bench"
    )]
    database_url: String,

    /// Measured seconds per scenario
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,

    /// Seconds of load before measuring starts
    #[arg(long, value_name = "SECS")]
    warmup: Option<f64>,

    /// Keep-alive connections per scenario
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Login connections beside the catalog in the storm scenario
    #[arg(long, default_value_t = 16)]
    storm_connections: usize,

    /// Scenarios to run, comma-separated [default: all]
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,

    /// Drop the seeded data set and write it again
    #[arg(long)]
    reseed: bool,

    /// Small data set (100 courses, still 200 lectures each) and 2 s runs:
    /// a smoke check, not a measurement
    #[arg(long)]
    quick: bool,

    /// Do not run `cargo build --release` first
    #[arg(long)]
    no_build: bool,

    /// Threads of the load generator's runtime [default: one per core]
    #[arg(long)]
    client_threads: Option<usize>,

    /// pgbench clients (-c); two threads (-j 2)
    #[arg(long, default_value_t = 16)]
    pgbench_clients: usize,

    /// RUST_LOG of lms-http: `info` logs one line per request, as a
    /// production server does; `quiet` drops that line (it must keep
    /// lms_http's info, whose `listening on` line the harness waits for)
    #[arg(long, default_value = "info")]
    server_log: String,

    /// Folder for the SQLite data set, server logs and data
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        lms_bench::say(
            "warning: this harness is a debug build; its load generator is slow. \
             Use `cargo run --release -p lms-bench`.",
        );
    }
    let scale = if args.quick {
        Scale::QUICK
    } else {
        Scale::FULL
    };
    let secs = |given: Option<f64>, full: f64, quick: f64| {
        Duration::from_secs_f64(given.unwrap_or(if args.quick { quick } else { full }))
    };
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| procs::workspace_root().join("target").join("lms-bench"));
    let options = Options {
        stores: args.store,
        database_url: args.database_url.clone(),
        sqlite_dir: work_dir.join("sqlite"),
        scale,
        warmup: secs(args.warmup, 3.0, 0.5),
        duration: secs(args.duration, 10.0, 2.0),
        connections: args.connections.max(1),
        storm_connections: args.storm_connections.max(1),
        scenarios: if args.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            args.scenarios.clone()
        },
        reseed: args.reseed,
        build: !args.no_build,
        pgbench_clients: args.pgbench_clients.max(1),
        server_log: args.server_log.clone(),
        work_dir,
    };
    let threads = args
        .client_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            lms_bench::say(&format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(harness::run(&options)) {
        Ok(report) => {
            println!("{}", report.markdown());
            if report.checks.iter().all(|c| c.pass) {
                ExitCode::SUCCESS
            } else {
                // Missed targets are a result, not a crash: say so in the
                // exit code so scripts can tell, but distinctly from errors.
                ExitCode::from(3)
            }
        }
        Err(e) => {
            lms_bench::say(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}
