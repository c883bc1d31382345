//! The live-class steps both SQL backends share; expanded by `sql_store!`
//! into each backend's module.

/// Columns of `live_sessions`, in the order `live_from` reads them.
pub(crate) const LIVE_COLUMNS: &str = "id, course_id, title, starts_at, status, room_name, \
     created_by, ingress_id, ingress_type, ingress_url, stream_key, created_at, updated_at, \
     started_at, ended_at";

macro_rules! live_sql {
    ($store:ty, $db:ty, $row:ty) => {
        use $crate::domain::LiveSessionId;
        use $crate::live::{IngressType, LiveIngress, LiveSession, LiveStatus};
        use $crate::store::live::{LiveSessionChanges, LiveStore, NewLiveSession, RoomChange};
        use $crate::store::sql::live::LIVE_COLUMNS;

        fn live_from(row: &$row) -> Result<LiveSession> {
            let status: String = row.try_get("status")?;
            let ingress_id: Option<String> = row.try_get("ingress_id")?;
            let ingress = match ingress_id {
                Some(ingress_id) => {
                    let kind: String = row.try_get("ingress_type")?;
                    Some(LiveIngress {
                        ingress_id,
                        input_type: IngressType::parse("ingress_type", &kind).map_err(|_| {
                            Error::internal(format!("unknown ingress type {kind:?}"))
                        })?,
                        url: row.try_get("ingress_url")?,
                        stream_key: row.try_get("stream_key")?,
                    })
                }
                None => None,
            };
            Ok(LiveSession {
                id: LiveSessionId(row.try_get("id")?),
                course_id: CourseId(row.try_get("course_id")?),
                title: row.try_get("title")?,
                starts_at: row.try_get("starts_at")?,
                status: LiveStatus::parse(&status).ok_or_else(|| {
                    Error::internal(format!("unknown live status {status:?}"))
                })?,
                room_name: row.try_get("room_name")?,
                created_by: UserId(row.try_get("created_by")?),
                ingress,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                started_at: row.try_get("started_at")?,
                ended_at: row.try_get("ended_at")?,
            })
        }

        fn live_event(
            kind: &'static str,
            session: &LiveSession,
            actor: Actor,
            payload: serde_json::Value,
        ) -> NewEvent {
            NewEvent::course(
                kind,
                "live_session",
                session.id.0,
                session.course_id.0,
                None,
                actor,
                payload,
            )
        }

        async fn locked_live(
            tx: &mut WriteTx,
            id: LiveSessionId,
        ) -> Result<Option<LiveSession>> {
            let sql = format!("SELECT {LIVE_COLUMNS} FROM live_sessions WHERE id = $1 {FOR_UPDATE}");
            let row = sqlx::query(&sql).bind(id.0).fetch_optional(&mut **tx).await?;
            row.as_ref().map(live_from).transpose()
        }

        async fn reread_live(
            tx: &mut WriteTx,
            id: LiveSessionId,
        ) -> Result<LiveSession> {
            locked_live(tx, id)
                .await?
                .ok_or_else(|| Error::internal("changed live session not found"))
        }

        #[async_trait]
        impl LiveStore for $store {
            async fn create_live_session(
                &self,
                new: NewLiveSession,
                actor: Actor,
                at: Timestamp,
            ) -> Result<LiveSession> {
                let mut tx = self.write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO live_sessions (id, course_id, title, starts_at, status, \
                     room_name, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $7)",
                )
                .bind(new.id.0)
                .bind(new.course_id.0)
                .bind(&new.title)
                .bind(ts(new.starts_at))
                .bind(&new.room_name)
                .bind(new.created_by.0)
                .bind(ts(at))
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    // The course went away since it was checked.
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("course not found"));
                    }
                    Err(e) => return Err(unique_as(e, "this live session exists already")),
                }
                let session = reread_live(&mut tx, new.id).await?;
                let payload = json!({
                    "title": session.title,
                    "starts_at": session.starts_at,
                    "room_name": session.room_name,
                });
                append(
                    &mut tx,
                    live_event(kinds::LIVE_SESSION_SCHEDULED, &session, actor, payload),
                    at,
                )
                .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(session)
            }

            async fn live_session(&self, id: LiveSessionId) -> Result<Option<LiveSession>> {
                let sql = format!("SELECT {LIVE_COLUMNS} FROM live_sessions WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(live_from).transpose()
            }

            async fn course_live_sessions(&self, course: CourseId) -> Result<Vec<LiveSession>> {
                let sql = format!(
                    "SELECT {LIVE_COLUMNS} FROM live_sessions WHERE course_id = $1 \
                     ORDER BY starts_at, id"
                );
                let rows = sqlx::query(&sql).bind(course.0).fetch_all(&self.pool).await?;
                rows.iter().map(live_from).collect()
            }

            async fn update_live_session(
                &self,
                id: LiveSessionId,
                changes: LiveSessionChanges,
                actor: Actor,
                at: Timestamp,
            ) -> Result<LiveSession> {
                let mut tx = self.write().await?;
                let current = locked_live(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("live session not found"))?;
                if current.status != LiveStatus::Scheduled {
                    return Err(Error::conflict(format!(
                        "the live session is {}; only a scheduled one can change",
                        current.status.as_str()
                    )));
                }
                let title = changes.title.filter(|t| *t != current.title);
                let starts_at = changes.starts_at.filter(|s| *s != current.starts_at);
                let mut fields = Vec::new();
                if title.is_some() {
                    fields.push("title");
                }
                if starts_at.is_some() {
                    fields.push("starts_at");
                }
                if fields.is_empty() {
                    return Ok(current);
                }
                sqlx::query(
                    "UPDATE live_sessions SET title = $2, starts_at = $3, updated_at = $4 \
                     WHERE id = $1",
                )
                .bind(id.0)
                .bind(title.as_ref().unwrap_or(&current.title))
                .bind(ts(starts_at.unwrap_or(current.starts_at)))
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                let session = reread_live(&mut tx, id).await?;
                let payload = json!({ "fields": fields });
                append(
                    &mut tx,
                    live_event(kinds::LIVE_SESSION_UPDATED, &session, actor, payload),
                    at,
                )
                .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(session)
            }

            async fn cancel_live_session(
                &self,
                id: LiveSessionId,
                actor: Actor,
                at: Timestamp,
            ) -> Result<LiveSession> {
                let mut tx = self.write().await?;
                let current = locked_live(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("live session not found"))?;
                match current.status {
                    LiveStatus::Cancelled => return Ok(current),
                    LiveStatus::Scheduled => {}
                    other => {
                        return Err(Error::conflict(format!(
                            "the live session is {}; only a scheduled one can be cancelled",
                            other.as_str()
                        )));
                    }
                }
                sqlx::query(
                    "UPDATE live_sessions SET status = 'cancelled', ended_at = $2, \
                     updated_at = $2 WHERE id = $1",
                )
                .bind(id.0)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                let session = reread_live(&mut tx, id).await?;
                append(
                    &mut tx,
                    live_event(kinds::LIVE_SESSION_CANCELLED, &session, actor, json!({})),
                    at,
                )
                .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(session)
            }

            async fn set_live_ingress(
                &self,
                id: LiveSessionId,
                ingress: &LiveIngress,
                actor: Actor,
                at: Timestamp,
            ) -> Result<LiveSession> {
                let mut tx = self.write().await?;
                let current = locked_live(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("live session not found"))?;
                if !current.status.is_open() {
                    return Err(Error::conflict(format!(
                        "the live session is {}",
                        current.status.as_str()
                    )));
                }
                if current.ingress.is_some() {
                    return Err(Error::conflict("the live session has an ingress already"));
                }
                sqlx::query(
                    "UPDATE live_sessions SET ingress_id = $2, ingress_type = $3, \
                     ingress_url = $4, stream_key = $5, updated_at = $6 WHERE id = $1",
                )
                .bind(id.0)
                .bind(&ingress.ingress_id)
                .bind(ingress.input_type.as_str())
                .bind(&ingress.url)
                .bind(&ingress.stream_key)
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, "this ingress belongs to another live session"))?;
                let session = reread_live(&mut tx, id).await?;
                let payload = json!({
                    "ingress_id": ingress.ingress_id,
                    "input_type": ingress.input_type.as_str(),
                });
                append(
                    &mut tx,
                    live_event(kinds::LIVE_SESSION_INGRESS_CREATED, &session, actor, payload),
                    at,
                )
                .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(session)
            }

            async fn apply_room_event(
                &self,
                delivery: WebhookDelivery,
                change: Option<RoomChange>,
                at: Timestamp,
            ) -> Result<$crate::media::WebhookOutcome> {
                use $crate::media::WebhookOutcome as Outcome;
                let mut tx = self.write().await?;
                if !record_delivery(&mut tx, &delivery, at).await? {
                    return Ok(Outcome::Duplicate);
                }
                let Some(change) = change else {
                    // Changes nothing the read cache holds: not counted.
                    tx.commit().await?;
                    return Ok(Outcome::Ignored);
                };
                let sql = format!(
                    "SELECT {LIVE_COLUMNS} FROM live_sessions WHERE room_name = $1 {FOR_UPDATE}"
                );
                let row = sqlx::query(&sql)
                    .bind(&change.room_name)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(current) = row.as_ref().map(live_from).transpose()? else {
                    // Changes nothing the read cache holds: not counted.
                    tx.commit().await?;
                    return Ok(Outcome::Ignored);
                };
                // Forward only: a late room_started never reopens an ended
                // class, and nothing revives a cancelled one.
                let (sql, kind) = match (current.status, change.status) {
                    (LiveStatus::Scheduled, LiveStatus::Live) => (
                        "UPDATE live_sessions SET status = 'live', started_at = $2, \
                         updated_at = $2 WHERE id = $1",
                        kinds::LIVE_SESSION_STARTED,
                    ),
                    (LiveStatus::Scheduled | LiveStatus::Live, LiveStatus::Ended) => (
                        "UPDATE live_sessions SET status = 'ended', ended_at = $2, \
                         updated_at = $2 WHERE id = $1",
                        kinds::LIVE_SESSION_ENDED,
                    ),
                    _ => {
                        // Changes nothing the read cache holds: not counted.
                        tx.commit().await?;
                        return Ok(Outcome::Ignored);
                    }
                };
                sqlx::query(sql)
                    .bind(current.id.0)
                    .bind(ts(at))
                    .execute(&mut *tx)
                    .await?;
                let session = reread_live(&mut tx, current.id).await?;
                let payload = json!({
                    "provider": delivery.provider,
                    "event_id": delivery.event_id,
                    "room_name": session.room_name,
                });
                append(&mut tx, live_event(kind, &session, Actor::System, payload), at).await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(Outcome::Applied)
            }
        }
    };
}

pub(crate) use live_sql;
