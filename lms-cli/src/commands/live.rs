//! `lms live`: a course's live classes, scheduled, changed and cancelled
//! as the operator (who hosts every course, like an admin).

use lms_core::{LiveSession, LiveSessionId, LiveSessionInput, LiveSessionUpdate, Lms};

use super::{Result, SYSTEM, course_id, printed, time, when};
use crate::cli::Live;
use crate::output::{Output, table};

const HEADERS: &[&str] = &["ID", "STARTS", "STATUS", "ROOM", "TITLE"];

fn row(s: &LiveSession) -> Vec<String> {
    vec![
        s.id.to_string(),
        when(&s.starts_at),
        s.status.as_str().to_owned(),
        s.room_name.clone(),
        s.title.clone(),
    ]
}

fn describe(s: &LiveSession) -> String {
    let mut text = table(HEADERS, &[row(s)]);
    if let Some(ingress) = &s.ingress {
        text.push_str(&format!(
            "ingress ({}): {}  key: {}\n",
            ingress.input_type.as_str(),
            ingress.url,
            ingress.stream_key
        ));
    }
    text.trim_end().to_owned()
}

fn id(raw: &str) -> Result<LiveSessionId> {
    LiveSessionId::parse("id", raw)
}

pub async fn run(lms: &Lms, command: Live, out: Output) -> Result<()> {
    match command {
        Live::List { course } => {
            let course = course_id(lms, &course).await?;
            let sessions = lms.live_sessions(&SYSTEM, course).await?;
            out.list(&sessions, HEADERS, row).map_err(printed)
        }
        Live::Create {
            course,
            title,
            starts_at,
        } => {
            let starts_at = time("starts_at", &starts_at)?;
            let course = course_id(lms, &course).await?;
            let s = lms
                .create_live_session(&SYSTEM, course, LiveSessionInput { title, starts_at })
                .await?;
            out.one(&s, || describe(&s)).map_err(printed)
        }
        Live::Show { id: raw } => {
            let s = lms.live_session(&SYSTEM, id(&raw)?).await?;
            out.one(&s, || describe(&s)).map_err(printed)
        }
        Live::Update {
            id: raw,
            title,
            starts_at,
        } => {
            let id = id(&raw)?;
            let starts_at = starts_at
                .as_deref()
                .map(|t| time("starts_at", t))
                .transpose()?;
            let s = lms
                .update_live_session(&SYSTEM, id, LiveSessionUpdate { title, starts_at })
                .await?;
            out.one(&s, || describe(&s)).map_err(printed)
        }
        Live::Cancel { id: raw } => {
            let s = lms.cancel_live_session(&SYSTEM, id(&raw)?).await?;
            out.one(&s, || format!("{} is {}", s.title, s.status.as_str()))
                .map_err(printed)
        }
    }
}
