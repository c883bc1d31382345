//! One function per command. Each resolves its arguments, calls the core as
//! the operator ([`Actor::System`]) and prints the result; every rule is the
//! core's.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::Path;

use indicatif::ProgressBar;
use lms_core::{
    Actor, CourseExport, CourseId, Error, EventQuery, Lms, NewAccount, User, UserQuery,
};

use crate::cli::{Courses, Enrollments, Events, PasswordSource, Users};
use crate::output::Output;

pub mod live;
pub mod media;
pub mod payments;

/// What a command can fail with: the core's errors, and the few of our own
/// (files, terminals) mapped onto the same kinds.
pub type Result<T> = std::result::Result<T, Error>;

const SYSTEM: Actor = Actor::System;

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::invalid_field(what, e.to_string())
}

fn printed(e: std::io::Error) -> Error {
    Error::internal(format!("writing the output: {e}"))
}

/// A user by id or e-mail address.
async fn user(lms: &Lms, key: &str) -> Result<User> {
    lms.find_user(&SYSTEM, key).await
}

/// A course id from an id or a slug.
async fn course_id(lms: &Lms, key: &str) -> Result<CourseId> {
    Ok(lms.course_detail(&SYSTEM, key).await?.summary.course.id)
}

/// An RFC 3339 time given for `field`.
fn time(field: &str, raw: &str) -> Result<lms_core::Timestamp> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .map_err(|e| Error::invalid_field(field, format!("{raw:?}: {e}")))
}

/// A time for people, as the event log prints it.
fn when(t: &lms_core::Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn user_row(u: &User) -> Vec<String> {
    vec![
        u.id.to_string(),
        u.email.clone(),
        u.display_name.clone(),
        u.role.to_string(),
        if u.disabled { "disabled" } else { "active" }.to_owned(),
    ]
}

const USER_HEADERS: &[&str] = &["ID", "EMAIL", "NAME", "ROLE", "STATE"];

fn describe_user(u: &User) -> String {
    crate::output::table(USER_HEADERS, &[user_row(u)])
        .trim_end()
        .to_owned()
}

/// A password from the flag the operator chose, or a prompt on a terminal.
/// Answers it and whether it was generated (and must be shown).
fn password(source: &PasswordSource) -> Result<(String, bool)> {
    if source.generate_password {
        return Ok((generated_password(), true));
    }
    if source.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| io_error("password", e))?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid_field(
            "password",
            "no terminal to ask on: pass --password-stdin or --generate-password",
        ));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| io_error("password", e))?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| io_error("password", e))?;
    if first != again {
        return Err(Error::invalid_field(
            "password",
            "the two entries differ; run the command again",
        ));
    }
    Ok((first, false))
}

/// 24 characters from an alphabet without look-alikes: about 138 bits.
fn generated_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub async fn migrate(
    url: &str,
    schema: Option<&str>,
    status_only: bool,
    out: Output,
) -> Result<()> {
    let store = lms_core::store::connect(url, schema).await?;
    if !status_only {
        let pending = store
            .migration_status()
            .await?
            .iter()
            .filter(|m| !m.applied)
            .count();
        store.apply_migrations().await?;
        out.note(&format!("applied {pending} migration(s)"));
    }
    let status = store.migration_status().await?;
    out.list(&status, &["VERSION", "DESCRIPTION", "STATE"], |m| {
        vec![
            m.version.to_string(),
            m.description.clone(),
            if m.applied { "applied" } else { "pending" }.to_owned(),
        ]
    })
    .map_err(printed)
}

pub async fn users(lms: &Lms, command: Users, out: Output) -> Result<()> {
    match command {
        Users::Create {
            email,
            name,
            role,
            password: source,
        } => {
            let (password, generated) = password(&source)?;
            let account = NewAccount {
                email,
                password: password.clone(),
                display_name: name,
                role: role.role(),
            };
            let created = lms.create_user(&SYSTEM, account).await?;
            if generated {
                #[derive(serde::Serialize)]
                struct WithPassword<'a> {
                    #[serde(flatten)]
                    user: &'a User,
                    password: &'a str,
                }
                let shown = WithPassword {
                    user: &created,
                    password: &password,
                };
                out.one(&shown, || {
                    format!("{}\npassword: {password}", describe_user(&created))
                })
            } else {
                out.one(&created, || describe_user(&created))
            }
            .map_err(printed)
        }
        Users::List { role, query, limit } => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = lms
                    .list_users(
                        &SYSTEM,
                        &UserQuery {
                            role: role.map(|r| r.role()),
                            query: query.clone(),
                            after,
                            limit: Some(UserQuery::MAX_LIMIT),
                        },
                    )
                    .await?;
                let full = page.len() == UserQuery::MAX_LIMIT as usize;
                after = page.last().map(|u| u.id);
                all.extend(page);
                if !full || limit.is_some_and(|l| all.len() >= l) {
                    break;
                }
            }
            if let Some(limit) = limit {
                all.truncate(limit);
            }
            out.list(&all, USER_HEADERS, user_row).map_err(printed)
        }
        Users::Show { user: key } => {
            let u = user(lms, &key).await?;
            out.one(&u, || describe_user(&u)).map_err(printed)
        }
        Users::SetRole { user: key, role } => {
            let id = user(lms, &key).await?.id;
            let u = lms.set_role(&SYSTEM, id, role.role()).await?;
            out.one(&u, || describe_user(&u)).map_err(printed)
        }
        Users::Disable { user: key } => {
            let id = user(lms, &key).await?.id;
            let u = lms.set_disabled(&SYSTEM, id, true).await?;
            out.one(&u, || describe_user(&u)).map_err(printed)
        }
        Users::Enable { user: key } => {
            let id = user(lms, &key).await?.id;
            let u = lms.set_disabled(&SYSTEM, id, false).await?;
            out.one(&u, || describe_user(&u)).map_err(printed)
        }
        Users::ResetPassword {
            user: key,
            password: source,
        } => {
            let target = user(lms, &key).await?;
            let (password, generated) = password(&source)?;
            lms.reset_password(&SYSTEM, target.id, &password).await?;
            let shown = serde_json::json!({
                "user_id": target.id,
                "password": generated.then_some(&password),
            });
            out.one(&shown, || {
                let mut text = format!("password of {} reset; their sessions ended", target.email);
                if generated {
                    text.push_str(&format!("\npassword: {password}"));
                }
                text
            })
            .map_err(printed)
        }
        Users::RevokeSessions { user: key } => {
            let target = user(lms, &key).await?;
            let n = lms.revoke_sessions(&SYSTEM, target.id).await?;
            let shown = serde_json::json!({ "user_id": target.id, "revoked_sessions": n });
            out.one(&shown, || {
                format!("ended {n} session(s) of {}", target.email)
            })
            .map_err(printed)
        }
    }
}

fn course_row(c: &lms_core::CourseSummary) -> Vec<String> {
    vec![
        c.course.id.to_string(),
        c.course.slug.clone(),
        c.course.title.clone(),
        c.course.status.as_str().to_owned(),
        c.lecture_count.to_string(),
        c.course.enrollment_count.to_string(),
    ]
}

const COURSE_HEADERS: &[&str] = &["ID", "SLUG", "TITLE", "STATUS", "LECTURES", "LEARNERS"];

pub async fn courses(lms: &Lms, command: Courses, out: Output) -> Result<()> {
    match command {
        Courses::List { status, limit } => {
            let mut all = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = lms
                    .courses(
                        &SYSTEM,
                        status.map(|s| s.status()),
                        cursor.as_deref(),
                        Some(lms_core::catalog::MAX_PAGE),
                    )
                    .await?;
                all.extend(page.items);
                cursor = page.next_cursor;
                if cursor.is_none() || limit.is_some_and(|l| all.len() >= l) {
                    break;
                }
            }
            if let Some(limit) = limit {
                all.truncate(limit);
            }
            out.list(&all, COURSE_HEADERS, course_row).map_err(printed)
        }
        Courses::Show { course } => {
            let detail = lms.course_detail(&SYSTEM, &course).await?;
            out.one(&detail, || {
                let mut text = crate::output::table(COURSE_HEADERS, &[course_row(&detail.summary)]);
                for section in &detail.sections {
                    text.push_str(&format!("\n{}. {}\n", section.position + 1, section.title));
                    for l in &section.lectures {
                        let preview = if l.free_preview { "  (preview)" } else { "" };
                        text.push_str(&format!(
                            "   {}. {} [{}, {}s]{preview}\n",
                            l.position + 1,
                            l.title,
                            l.kind.as_str(),
                            l.duration_secs
                        ));
                    }
                }
                text.trim_end().to_owned()
            })
            .map_err(printed)
        }
        Courses::Publish { course } => {
            let id = course_id(lms, &course).await?;
            let c = lms.publish_course(&SYSTEM, id).await?;
            out.one(&c, || format!("{} is published", c.slug))
                .map_err(printed)
        }
        Courses::Unpublish { course } => {
            let id = course_id(lms, &course).await?;
            let c = lms.unpublish_course(&SYSTEM, id).await?;
            out.one(&c, || format!("{} is a draft again", c.slug))
                .map_err(printed)
        }
        Courses::Archive { course } => {
            let id = course_id(lms, &course).await?;
            let c = lms.archive_course(&SYSTEM, id).await?;
            out.one(&c, || format!("{} is archived", c.slug))
                .map_err(printed)
        }
        Courses::Export { course, output } => {
            let export = lms.export_course(&SYSTEM, &course).await?;
            let text = serde_json::to_string_pretty(&export)
                .map_err(|e| Error::internal(format!("serializing the export: {e}")))?;
            match output {
                Some(path) => {
                    write_atomically(&path, &text)?;
                    out.note(&format!("wrote {}", path.display()));
                    Ok(())
                }
                // The document is the output, with or without --json.
                None if !out.quiet => {
                    println!("{text}");
                    Ok(())
                }
                None => Ok(()),
            }
        }
        Courses::Import { file, owner } => {
            let text = read_input(&file)?;
            let export: CourseExport = serde_json::from_str(&text).map_err(|e| {
                Error::invalid_field(
                    "file",
                    format!("{} is not an exported course: {e}", file.display()),
                )
            })?;
            let spinner = spinner(out, "importing");
            let outcome = lms.import_course(&SYSTEM, &export, owner.as_deref()).await;
            spinner.finish_and_clear();
            let outcome = outcome?;
            out.one(&outcome, || {
                format!(
                    "{}: {} ({} change(s))",
                    outcome.course.slug, outcome.result, outcome.changes
                )
            })
            .map_err(printed)
        }
    }
}

/// Writes `text` to `path` through a temporary file in the same folder, so
/// a failure never leaves half a document behind.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("lms-partial");
    std::fs::write(&tmp, format!("{text}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::invalid_field("output", format!("cannot write {}: {e}", path.display()))
        })
}

fn read_input(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| io_error("file", e))?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Error::invalid_field("file", format!("cannot read {}: {e}", path.display())))
}

/// A spinner on a terminal's standard error, hidden otherwise.
fn spinner(out: Output, message: &'static str) -> ProgressBar {
    if out.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

/// E-mail addresses from the first column of a CSV file; a first row whose
/// cell is `email` is a header.
fn emails_from_csv(path: &Path) -> Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| {
            Error::invalid_field("from_file", format!("cannot read {}: {e}", path.display()))
        })?;
    let mut emails = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| Error::invalid_field("from_file", format!("{}: {e}", path.display())))?;
        let Some(cell) = record.get(0).filter(|c| !c.is_empty()) else {
            continue;
        };
        if i == 0 && cell.eq_ignore_ascii_case("email") {
            continue;
        }
        emails.push(cell.to_owned());
    }
    Ok(emails)
}

pub async fn enrollments(lms: &Lms, command: Enrollments, out: Output) -> Result<()> {
    match command {
        Enrollments::Grant {
            course,
            mut emails,
            from_file,
            expires,
        } => {
            if let Some(path) = &from_file {
                emails.extend(emails_from_csv(path)?);
            }
            if emails.is_empty() {
                return Err(Error::invalid_field(
                    "emails",
                    "name at least one address, or --from-file with a CSV of them",
                ));
            }
            let expires_at = expires.as_deref().map(|t| time("expires", t)).transpose()?;
            let id = course_id(lms, &course).await?;
            if emails.len() > MAX_GRANT {
                return Err(Error::invalid_field(
                    "emails",
                    format!(
                        "{} addresses; one grant takes at most {MAX_GRANT}, so nothing is \
                         half-done: split the file",
                        emails.len()
                    ),
                ));
            }
            let spinner = spinner(out, "granting");
            let rows = lms.grant_by_emails(&SYSTEM, id, &emails, expires_at).await;
            spinner.finish_and_clear();
            let rows = rows?;
            out.list(&rows, &["EMAIL", "RESULT"], |r| {
                vec![r.email.clone(), r.result.to_owned()]
            })
            .map_err(printed)
        }
        Enrollments::Revoke { course, user: key } => {
            let id = course_id(lms, &course).await?;
            let learner = user(lms, &key).await?;
            let e = lms.revoke_enrollment(&SYSTEM, id, learner.id).await?;
            out.one(&e, || format!("{} no longer has access", learner.email))
                .map_err(printed)
        }
        Enrollments::List { course } => {
            let id = course_id(lms, &course).await?;
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = lms
                    .course_enrollments(&SYSTEM, id, after, Some(PAGE))
                    .await?;
                let full = page.len() == PAGE as usize;
                after = page.last().map(|e| e.enrollment.id);
                all.extend(page);
                if !full {
                    break;
                }
            }
            out.list(&all, &["EMAIL", "NAME", "STATUS", "PROGRESS"], |e| {
                vec![
                    e.email.clone(),
                    e.display_name.clone(),
                    serde_json::to_value(e.enrollment.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    format!(
                        "{}/{} ({}%)",
                        e.progress.completed_lectures,
                        e.progress.total_lectures,
                        e.progress.percent
                    ),
                ]
            })
            .map_err(printed)
        }
    }
}

/// Rows a grant takes at once (the core's bulk limit).
const MAX_GRANT: usize = lms_core::store::enrollment::MAX_BULK_GRANT;
/// Rows read per page of a listing.
const PAGE: u32 = 100;

pub async fn events(lms: &Lms, command: Events, out: Output) -> Result<()> {
    let Events::List { after, kind, limit } = command;
    let query = EventQuery {
        after,
        kind,
        limit: Some(limit),
        ..EventQuery::default()
    };
    let events = lms.events(&SYSTEM, &query).await?;
    out.list(&events, &["ID", "TIME", "TYPE", "SUBJECT", "ACTOR"], |e| {
        vec![
            e.id.to_string(),
            when(&e.created_at),
            e.kind.clone(),
            format!("{} {}", e.subject_type, e.subject_id),
            match e.actor_id {
                Some(id) => format!("{} {id}", e.actor_kind),
                None => e.actor_kind.clone(),
            },
        ]
    })
    .map_err(printed)
}

pub async fn stats(lms: &Lms, out: Output) -> Result<()> {
    let s = lms.stats(&SYSTEM).await?;
    out.one(&s, || {
        crate::output::table(
            &["WHAT", "COUNT"],
            &[
                ("users", s.users),
                ("  students", s.students),
                ("  instructors", s.instructors),
                ("  admins", s.admins),
                ("courses", s.courses),
                ("  published", s.published_courses),
                ("enrollments", s.enrollments),
                ("completions", s.completions),
            ]
            .map(|(what, n)| vec![what.to_owned(), n.to_string()]),
        )
        .trim_end()
        .to_owned()
    })
    .map_err(printed)
}
