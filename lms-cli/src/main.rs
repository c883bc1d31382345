//! `lms`: the admin CLI. Parses the command line, opens the store, runs one
//! command as the operator, and exits with the code of the design's error
//! table (`lms --help` lists the commands).

mod cli;
mod commands;
mod output;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use lms_core::{Config, Error, ErrorKind, Lms, Secret};

use cli::{Cli, Command};
use output::Output;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output {
        json: cli.json,
        quiet: cli.quiet,
    };
    match run(cli, out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

async fn run(cli: Cli, out: Output) -> Result<(), Error> {
    let url = cli.database_url();
    let schema = cli.database_schema.clone();
    if cli.verbose > 0 {
        eprintln!("store: {}", redacted(&url));
    }
    match &cli.command {
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "lms", &mut std::io::stdout());
            return Ok(());
        }
        Command::Migrate { status } => {
            return commands::migrate(&url, schema.as_deref(), *status, out).await;
        }
        _ => {}
    }
    // Only media commands print local links, which need the server's secret.
    let stored = match &cli.command {
        Command::Media(m) if m.settings.jwt_secret.is_none() => stored_secret(&cli.data_dir)?,
        _ => None,
    };
    let server_secret = match &cli.command {
        Command::Media(m) => m.settings.jwt_secret.is_some() || stored.is_some(),
        _ => false,
    };
    let config = config(&cli, stored);
    // Opening applies pending migrations, as lms-http does.
    let lms = Lms::open(&url, config).await?;
    match cli.command {
        Command::Users(c) => commands::users(&lms, c, out).await,
        Command::Courses(c) => commands::courses(&lms, c, out).await,
        Command::Enrollments(c) => commands::enrollments(&lms, c, out).await,
        Command::Events(c) => commands::events(&lms, c, out).await,
        Command::Stats => commands::stats(&lms, out).await,
        Command::Media(c) => commands::media::run(&lms, c.command, server_secret, out).await,
        Command::Live(c) => commands::live::run(&lms, c, out).await,
        Command::Orders(c) => commands::payments::orders(&lms, c.command, out).await,
        Command::Coupons(c) => commands::payments::coupons(&lms, c, out).await,
        Command::Payments(c) => commands::payments::payments(&lms, c.command, out).await,
        Command::Completions { .. } | Command::Migrate { .. } => unreachable!("handled above"),
    }
}

/// The core's configuration: the store's schema and the data folder, plus
/// the provider settings of the commands that use them.
///
/// The operator signs no access tokens, so the handle gets a fresh random
/// signing secret: the server's own secret never has to reach this tool,
/// except for media commands, whose local links it signs (`stored` is the
/// data folder's copy, when the flag does not give it).
fn config(cli: &Cli, stored: Option<Secret>) -> Config {
    let config = Config {
        database_schema: cli.database_schema.clone(),
        data_dir: cli.data_dir.display().to_string(),
        ..Config::with_jwt_secret(Secret::generate())
    };
    match &cli.command {
        Command::Media(m) => m.settings.apply(config, stored),
        Command::Orders(o) => o.settings.apply(config),
        Command::Payments(p) => p.settings.apply(config),
        _ => config,
    }
}

/// The signing secret `lms-http` generated into the data folder
/// (`jwt-secret`), if it did.
fn stored_secret(data_dir: &std::path::Path) -> Result<Option<Secret>, Error> {
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= Config::MIN_JWT_SECRET_BYTES => {
            Ok(Some(Secret::new(text.trim())))
        }
        Ok(_) => Err(Error::invalid_field(
            "jwt_secret",
            format!("{} holds too short a secret", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::invalid_field(
            "jwt_secret",
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// A URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The design's exit codes (DESIGN.md, "Errors").
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => 2,
        ErrorKind::Unauthenticated | ErrorKind::Forbidden => 3,
        ErrorKind::NotFound => 4,
        ErrorKind::Conflict => 5,
        ErrorKind::RateLimited => 6,
        ErrorKind::Payment | ErrorKind::Provider => 7,
        // Internal, and any kind a newer core adds.
        _ => 1,
    }
}

/// The error on standard error: what went wrong, which values, and what to
/// try.
fn report(e: &Error) {
    eprintln!("error: {e}");
    for field in e.fields() {
        eprintln!("  {}: {}", field.field, field.message);
    }
    let hint = match e.kind() {
        ErrorKind::NotFound => {
            Some("list what exists with the `list` command (e.g. `lms users list`)")
        }
        ErrorKind::Conflict => Some("it already exists; `show` it, or choose another value"),
        ErrorKind::InvalidInput => Some("fix the values above and run the command again"),
        ErrorKind::Internal => Some("run again with -v; if it persists, check the store"),
        _ => None,
    };
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://lms:s3cret@db:5432/lms"),
            "postgres://lms:***@db:5432/lms"
        );
        assert_eq!(redacted("postgres://lms@db/lms"), "postgres://lms@db/lms");
        assert_eq!(
            redacted("sqlite://./lms-data/lms.db"),
            "sqlite://./lms-data/lms.db"
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
