//! The store steps both SQL backends share.
//!
//! SQLite and PostgreSQL run the same statements here: both accept `$n`
//! placeholders, `RETURNING`, and the same row decoding through sqlx. One
//! body of code, expanded once per backend by [`sql_store!`], keeps the two
//! from drifting apart; what really differs (how a write transaction begins,
//! how a time is bound, full-text search later) stays in each backend's file.
//!
//! The expanding module provides:
//! - `self.pool`, and `async fn write(&self) -> Result<WriteTx>`, which
//!   begins a transaction that will write: a `WriteTx` derefs to the
//!   connection and has `async fn commit(self)`, like sqlx's `Transaction`;
//! - `fn ts(Timestamp)`, binding a time the way the backend stores it;
//! - `FOR_UPDATE: &str`, appended to a `SELECT` that reads a row the step
//!   then changes, so no other writer changes it in between;
//! - `EVENT_ORDER: &str`, a condition on the rows of each event insert
//!   (PostgreSQL's event-order lock, see `postgres.rs`), or nothing;
//! - `write_by_text`, `commit_text` and `then`, which save round trips by
//!   putting several statements in one text (see `sql::enrollment`);
//! - `write_in_one_text` and `changed_then`, for a step whose every
//!   statement goes in one text: an update and the inserts that follow
//!   from the row it changed (see `begin_login_attempt`);
//! - `JSON_OBJECT`, the SQL function that builds a JSON object.
//!
//! Every step that writes an event writes it as its last statement before
//! the commit: on PostgreSQL `EVENT_ORDER` takes a lock held until the
//! commit, and it must be held as briefly as possible.

pub(crate) mod courses;
pub(crate) mod enrollment;
pub(crate) mod live;
pub(crate) mod media;
pub(crate) mod payments;

use serde_json::json;

use crate::error::Error;

/// Columns of `users`, in the order `user_record` reads them.
pub(crate) const USER_COLUMNS: &str = "id, email, display_name, bio, avatar_key, role, \
     password_hash, disabled, token_version, failed_logins, locked_until, created_at, \
     updated_at, deleted_at";

/// Turns a unique violation into a `conflict` that says what collided.
pub(crate) fn unique_as(err: sqlx::Error, message: &str) -> Error {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::conflict(message),
        _ => Error::from(err),
    }
}

/// A LIKE pattern matching `needle` anywhere, case-insensitively, with the
/// pattern characters in it taken literally (`ESCAPE '\'`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `VALUES` with `rows` rows of `width` placeholders each, numbered from
/// `$first`: `values(2, 2, 1)` is `VALUES ($1, $2), ($3, $4)`. Both
/// backends name its columns `column1`, `column2`, ...
pub(crate) fn values(rows: usize, width: usize, first: usize) -> String {
    let mut sql = String::from("VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", first + row * width + col));
        }
        sql.push(')');
    }
    sql
}

/// Event payload for a count of revoked sessions.
pub(crate) fn revoked(n: u64) -> serde_json::Value {
    json!({ "revoked_sessions": n })
}

macro_rules! sql_store {
    ($store:ty, $db:ty, $row:ty) => {
        use async_trait::async_trait;
        use serde_json::json;
        use sqlx::Row as _;
        use sqlx::types::Json;
        use uuid::Uuid;

        use $crate::actor::Actor;
        use $crate::clock::Timestamp;
        use $crate::domain::{Email, Role, SessionId, UserId};
        use $crate::error::{Error, Result};
        use $crate::events::{kinds, Event, EventQuery, NewEvent};
        use $crate::store::sql::{contains_pattern, revoked, unique_as, USER_COLUMNS};
        use $crate::store::{
            AccountChanges, AccountKey, AccountStore, EventStore, FirstSession, LockPolicy, LoginAttempt,
            NewRefreshToken, NewSession, NewUser, ProfileChanges, Rate, Rotation, User, UserQuery,
            UserRecord, locked_out,
        };

        fn user_record(row: &$row) -> Result<UserRecord> {
            let role: String = row.try_get("role")?;
            let role = Role::parse("role", &role)
                .map_err(|_| Error::internal(format!("unknown role {role:?} in users")))?;
            Ok(UserRecord {
                user: User {
                    id: UserId(row.try_get("id")?),
                    email: row.try_get("email")?,
                    display_name: row.try_get("display_name")?,
                    bio: row.try_get("bio")?,
                    avatar_key: row.try_get("avatar_key")?,
                    role,
                    disabled: row.try_get("disabled")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                },
                password_hash: row.try_get("password_hash")?,
                token_version: row.try_get("token_version")?,
                failed_logins: row.try_get("failed_logins")?,
                locked_until: row.try_get("locked_until")?,
                deleted_at: row.try_get("deleted_at")?,
            })
        }

        fn event(row: &$row) -> Result<Event> {
            let Json(payload) = row.try_get("payload")?;
            Ok(Event {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                subject_type: row.try_get("subject_type")?,
                subject_id: row.try_get("subject_id")?,
                user_id: row.try_get("user_id")?,
                course_id: row.try_get("course_id")?,
                actor_kind: row.try_get("actor_kind")?,
                actor_id: row.try_get("actor_id")?,
                payload,
                created_at: row.try_get("created_at")?,
            })
        }

        /// Appends `event` inside the transaction of the change it records.
        /// Call it last, right before the commit (see the module docs).
        async fn append(
            tx: &mut WriteTx,
            event: NewEvent,
            at: Timestamp,
        ) -> Result<()> {
            append_all(tx, vec![(event, at)]).await
        }

        /// Appends events in order, in one statement (see [`append`]).
        async fn append_all(
            tx: &mut WriteTx,
            events: Vec<(NewEvent, Timestamp)>,
        ) -> Result<()> {
            if events.is_empty() {
                return Ok(());
            }
            // The rows come in list order, which the ids follow.
            let sql = format!(
                "INSERT INTO events (kind, subject_type, subject_id, user_id, course_id, \
                 actor_kind, actor_id, created_at, payload) SELECT * FROM ({}) AS v{EVENT_ORDER}",
                $crate::store::sql::values(events.len(), 9, 1)
            );
            let mut query = sqlx::query(&sql);
            for (event, at) in &events {
                query = bind_event(query, event, *at).bind(Json(&event.payload));
            }
            query.execute(&mut **tx).await?;
            Ok(())
        }

        /// An insert of one event for each row of `changed` (see
        /// `changed_then`), bound from `$first` on by [`bind_event`].
        /// `payload` is the SQL that builds the payload from the row, or
        /// `None` to bind the event's own after the rest.
        fn event_per_changed(first: usize, payload: Option<&str>) -> String {
            let params: Vec<String> = (first..first + 8).map(|n| format!("${n}")).collect();
            let payload = payload.map_or_else(|| format!("${}", first + 8), str::to_owned);
            format!(
                "INSERT INTO events (kind, subject_type, subject_id, user_id, course_id, \
                 actor_kind, actor_id, created_at, payload) SELECT {}, {payload} \
                 FROM changed{EVENT_ORDER}",
                params.join(", ")
            )
        }

        /// Binds `event` at `at`, all but the payload, in the order of the
        /// columns of every event insert.
        fn bind_event<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            event: &NewEvent,
            at: Timestamp,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            query
                .bind(event.kind)
                .bind(event.subject_type)
                .bind(event.subject_id)
                .bind(event.user_id)
                .bind(event.course_id)
                .bind(event.actor_kind)
                .bind(event.actor_id)
                .bind(ts(at))
        }

        /// Binds the key of `account`, which the step's `WHERE` names.
        fn bind_account<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            account: AccountKey<'q>,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            match account {
                AccountKey::Id(id) => query.bind(id.0),
                AccountKey::Email(email) => query.bind(email.as_str()),
            }
        }

        /// The inserts of a live session and its first refresh token, for
        /// each row `from` gives (a `FROM` clause, or nothing for one row).
        /// Binds: `$1` the session, `$2` the user, `$3` the time, `$4` the
        /// token's hash, `$5` its expiry.
        fn session_inserts(from: &str) -> [String; 2] {
            [
                format!(
                    "INSERT INTO sessions (id, user_id, created_at, last_used_at) \
                     SELECT $1, $2, $3, $3{from}"
                ),
                format!(
                    "INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, \
                     expires_at) SELECT $4, $1, $2, $3, $5{from}"
                ),
            ]
        }

        /// Inserts a live session with its first refresh token.
        async fn insert_session(
            tx: &mut WriteTx,
            id: SessionId,
            user: UserId,
            refresh: &NewRefreshToken,
            at: Timestamp,
        ) -> Result<()> {
            // One text, one round trip. On PostgreSQL `then` makes it one
            // statement, whose end is when the token's foreign key to the
            // session is checked: the session row is there by then.
            let [session, token] = session_inserts("");
            sqlx::query(&then(&session, &token))
                .bind(id.0)
                .bind(user.0)
                .bind(ts(at))
                .bind(&refresh.hash)
                .bind(ts(refresh.expires_at))
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// Revokes the user's live sessions except `keep`; how many were live.
        async fn revoke_all(
            tx: &mut WriteTx,
            user: UserId,
            keep: Option<SessionId>,
            at: Timestamp,
        ) -> Result<u64> {
            let keep = keep.map_or(Uuid::nil(), |s| s.0);
            let done = sqlx::query(
                "UPDATE sessions SET revoked_at = $2 \
                 WHERE user_id = $1 AND revoked_at IS NULL AND id <> $3",
            )
            .bind(user.0)
            .bind(ts(at))
            .bind(keep)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected())
        }

        /// The counts of [`Store::stats`](crate::store::Store::stats) as
        /// one statement of scalar subqueries.
        async fn stats_of(pool: &sqlx::Pool<$db>) -> Result<$crate::store::Stats> {
            let row = sqlx::query(
                "SELECT \
                 (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL) AS users, \
                 (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND role = 'student') AS students, \
                 (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND role = 'instructor') AS instructors, \
                 (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND role = 'admin') AS admins, \
                 (SELECT COUNT(*) FROM courses) AS courses, \
                 (SELECT COUNT(*) FROM courses WHERE status = 'published') AS published_courses, \
                 (SELECT COUNT(*) FROM enrollments WHERE status = 'active') AS enrollments, \
                 (SELECT COUNT(*) FROM enrollments WHERE completed_at IS NOT NULL) AS completions",
            )
            .fetch_one(pool)
            .await?;
            Ok($crate::store::Stats {
                users: row.try_get("users")?,
                students: row.try_get("students")?,
                instructors: row.try_get("instructors")?,
                admins: row.try_get("admins")?,
                courses: row.try_get("courses")?,
                published_courses: row.try_get("published_courses")?,
                enrollments: row.try_get("enrollments")?,
                completions: row.try_get("completions")?,
            })
        }

        #[async_trait]
        impl AccountStore for $store {
            async fn create_user(
                &self,
                new: NewUser,
                first_session: Option<FirstSession>,
                actor: Actor,
                at: Timestamp,
            ) -> Result<User> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, role, password_hash, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(new.id.0)
                .bind(new.email.as_str())
                .bind(&new.display_name)
                .bind(new.role.as_str())
                .bind(&new.password_hash)
                .bind(ts(at))
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_as(e, "an account with this e-mail already exists"))?;
                if let Some(first) = &first_session {
                    insert_session(&mut tx, first.id, new.id, &first.refresh, at).await?;
                }
                let kind = match actor {
                    Actor::Anonymous => kinds::USER_REGISTERED,
                    _ => kinds::USER_CREATED,
                };
                let payload = json!({ "role": new.role });
                append(&mut tx, NewEvent::user(kind, new.id.0, actor, payload), at).await?;
                if let Some(first) = first_session {
                    let payload = json!({ "rehashed_password": false });
                    let event =
                        NewEvent::session(kinds::SESSION_STARTED, first.id.0, new.id.0, payload);
                    append(&mut tx, event, at).await?;
                }
                self.commit(tx).await?;
                Ok(User {
                    id: new.id,
                    email: new.email.as_str().to_owned(),
                    display_name: new.display_name,
                    bio: None,
                    avatar_key: None,
                    role: new.role,
                    disabled: false,
                    created_at: at,
                    updated_at: at,
                })
            }

            async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(user_record).transpose()
            }

            async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND deleted_at IS NULL"
                );
                let row = sqlx::query(&sql)
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_record).transpose()
            }

            async fn session_user(
                &self,
                user: UserId,
                session: SessionId,
            ) -> Result<Option<(UserRecord, bool)>> {
                let sql = format!(
                    "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM sessions s \
                     WHERE s.id = $2 AND s.user_id = users.id AND s.revoked_at IS NULL) AS live \
                     FROM users WHERE id = $1"
                );
                let row = sqlx::query(&sql)
                    .bind(user.0)
                    .bind(session.0)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(row) => Ok(Some((user_record(&row)?, row.try_get("live")?))),
                    None => Ok(None),
                }
            }

            async fn begin_login_attempt(
                &self,
                account: AccountKey<'_>,
                policy: LockPolicy,
                actor: Actor,
                at: Timestamp,
            ) -> Result<(UserRecord, LoginAttempt)> {
                let key = match account {
                    AccountKey::Id(_) => "id = $1 AND deleted_at IS NULL",
                    AccountKey::Email(_) => "email = $1 AND deleted_at IS NULL",
                };
                // One statement counts the attempt and reads the count, so
                // concurrent attempts are counted one after the other, each
                // seeing the last (the row stays locked until the commit).
                // A lock that has run out starts a new count; a lock still
                // running matches no row.
                let next = "CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END";
                let count = format!(
                    "UPDATE users SET failed_logins = {next}, \
                     locked_until = CASE WHEN {next} >= $2 THEN $3 END \
                     WHERE {key} AND (locked_until IS NULL OR locked_until <= $4) \
                     RETURNING {USER_COLUMNS}"
                );
                // The event follows from the counted row, in the same text:
                // its subject is the row's id, and its payload is built
                // there, the lock's time bound as the JSON text serde makes
                // of it (`$5`), so the payload reads as one built here would.
                let lock_json = match serde_json::to_value(policy.lock_until) {
                    Ok(serde_json::Value::String(text)) => text,
                    _ => return Err(Error::internal("a time serializes as a JSON string")),
                };
                let logged = format!(
                    "INSERT INTO events (kind, subject_type, subject_id, user_id, \
                     actor_kind, actor_id, created_at, payload) \
                     SELECT $6, 'user', id, id, $7, $8, $4, {JSON_OBJECT}('attempt', \
                     failed_logins, 'locked_until', \
                     CASE WHEN locked_until IS NULL THEN NULL ELSE $5 END) \
                     FROM changed{EVENT_ORDER}"
                );
                let counted_and_logged = changed_then(
                    &count,
                    &format!("SELECT id, failed_logins, locked_until FROM users WHERE {key}"),
                    &[&logged],
                );
                let (actor_kind, actor_id) = actor.log_parts();
                let count_attempt = |sql| {
                    bind_account(sqlx::query(sql), account)
                        .bind(i64::from(policy.max_failures))
                        .bind(ts(policy.lock_until))
                        .bind(ts(at))
                        .bind(lock_json.clone())
                        .bind(kinds::USER_LOGIN_ATTEMPTED)
                        .bind(actor_kind)
                        .bind(actor_id)
                };
                // The whole step in one round trip (see `write_in_one_text`).
                let (mut one, begin, commit) = self.write_in_one_text().await?;
                let first = format!("{begin}{counted_and_logged}{commit}");
                let mut counted = count_attempt(&first).fetch_all(&mut *one).await?;
                // Changes nothing the read cache holds: not counted.
                one.commit().await?;
                if counted.is_empty() {
                    // No such account (an unknown e-mail, most often), a
                    // lock, or (on PostgreSQL, which reads what committed
                    // since) a lock lifted by a success in between. The row
                    // by the same test tells which: read plainly first, as
                    // the first two need no transaction, then held.
                    let state = format!(
                        "SELECT {USER_COLUMNS}, (locked_until IS NULL OR locked_until <= $2) \
                         AS open FROM users WHERE {key}"
                    );
                    // The account, and the lock in force if any.
                    let decide = |row: Option<$row>| -> Result<(UserRecord, Option<Timestamp>)> {
                        let row = row.ok_or_else(|| Error::not_found("user not found"))?;
                        let record = user_record(&row)?;
                        let open: bool = row.try_get("open")?;
                        let lock = record.locked_until.filter(|_| !open);
                        Ok((record, lock))
                    };
                    let read = bind_account(sqlx::query(&state), account)
                        .bind(ts(at))
                        .fetch_optional(&self.pool)
                        .await?;
                    if let (record, Some(until)) = decide(read)? {
                        return Ok((record, LoginAttempt::Locked { until }));
                    }
                    let mut tx = self.write().await?;
                    let held = format!("{state}{FOR_UPDATE}");
                    let held = bind_account(sqlx::query(&held), account)
                        .bind(ts(at))
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let (record, Some(until)) = decide(held)? {
                        tx.rollback().await?;
                        return Ok((record, LoginAttempt::Locked { until }));
                    }
                    // The row is held now, so the count goes through.
                    counted = count_attempt(&counted_and_logged).fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                }
                let row = counted
                    .first()
                    .ok_or_else(|| Error::internal("a held account row refused its count"))?;
                let record = user_record(row)?;
                let attempt = LoginAttempt::Reserved {
                    attempt: record.failed_logins,
                    locked_until: record.locked_until,
                };
                Ok((record, attempt))
            }

            async fn start_session(&self, session: NewSession, at: Timestamp) -> Result<()> {
                // The conditions are what the password check relied on; the
                // session starts only while they all still hold. Binds `$1`
                // to `$5` are the session's (see `session_inserts`).
                let reset = "UPDATE users SET failed_logins = 0, locked_until = NULL, \
                     password_hash = COALESCE($6, password_hash) \
                     WHERE id = $2 AND deleted_at IS NULL AND NOT disabled \
                     AND token_version = $7 AND password_hash = $8 \
                     AND (locked_until IS NULL OR locked_until <= $3 OR locked_until = $9) \
                     RETURNING id";
                let [new_session, new_token] = session_inserts(" FROM changed");
                // One statement on PostgreSQL, whose end is when the token's
                // foreign key to the session is checked.
                let started = changed_then(
                    reset,
                    "SELECT id FROM users WHERE id = $2",
                    &[&new_session, &new_token, &event_per_changed(10, None)],
                );
                let payload = json!({ "rehashed_password": session.rehashed_password.is_some() });
                let event = NewEvent::session(
                    kinds::SESSION_STARTED,
                    session.id.0,
                    session.user_id.0,
                    payload,
                );
                let (mut one, begin, commit) = self.write_in_one_text().await?;
                let text = format!("{begin}{started}{commit}");
                let query = sqlx::query(&text)
                    .bind(session.id.0)
                    .bind(session.user_id.0)
                    .bind(ts(at))
                    .bind(&session.refresh.hash)
                    .bind(ts(session.refresh.expires_at))
                    .bind(session.rehashed_password)
                    .bind(session.token_version)
                    .bind(&session.password_hash)
                    .bind(session.own_lock.map(ts));
                let started = bind_event(query, &event, at)
                    .bind(Json(&event.payload))
                    .fetch_all(&mut *one)
                    .await?;
                // Changes nothing the read cache holds: not counted.
                one.commit().await?;
                if started.is_empty() {
                    let locked: Option<Option<Timestamp>> = sqlx::query_scalar(
                        "SELECT locked_until FROM users WHERE id = $1 AND deleted_at IS NULL",
                    )
                    .bind(session.user_id.0)
                    .fetch_optional(&self.pool)
                    .await?;
                    return Err(match locked {
                        None => Error::not_found("user not found"),
                        Some(Some(until)) if until > at && session.own_lock != Some(until) => {
                            locked_out(until, at)
                        }
                        Some(_) => Error::unauthenticated("credentials changed; sign in again"),
                    });
                }
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                presented: &str,
                next: NewRefreshToken,
                at: Timestamp,
            ) -> Result<Rotation> {
                let mut tx = self.write().await?;
                // Marking the token used is the claim: of two concurrent uses
                // exactly one sees `used_at IS NULL`; the other is a reuse.
                let claimed = sqlx::query(
                    "UPDATE refresh_tokens SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL \
                     RETURNING session_id, user_id, expires_at",
                )
                .bind(presented)
                .bind(ts(at))
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = claimed {
                    let session_id = SessionId(row.try_get("session_id")?);
                    let user_id = UserId(row.try_get("user_id")?);
                    let expires_at: Timestamp = row.try_get("expires_at")?;
                    let live: bool = sqlx::query_scalar(
                        "SELECT revoked_at IS NULL FROM sessions WHERE id = $1",
                    )
                    .bind(session_id.0)
                    .fetch_one(&mut *tx)
                    .await?;
                    if !live || expires_at <= at {
                        tx.rollback().await?;
                        return Ok(Rotation::Invalid);
                    }
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, \
                         created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&next.hash)
                    .bind(session_id.0)
                    .bind(user_id.0)
                    .bind(ts(at))
                    .bind(ts(next.expires_at))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1")
                        .bind(session_id.0)
                        .bind(ts(at))
                        .execute(&mut *tx)
                        .await?;
                    let event = NewEvent::session(
                        kinds::SESSION_REFRESHED,
                        session_id.0,
                        user_id.0,
                        json!({}),
                    );
                    append(&mut tx, event, at).await?;
                    self.commit(tx).await?;
                    return Ok(Rotation::Rotated { user_id, session_id });
                }
                let known = sqlx::query(
                    "SELECT session_id, user_id FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = known else {
                    tx.rollback().await?;
                    return Ok(Rotation::Invalid);
                };
                // An already-rotated token came back: someone holds a copy.
                // Revoke the whole family so neither copy works any more.
                let session_id = SessionId(row.try_get("session_id")?);
                let user_id = UserId(row.try_get("user_id")?);
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(session_id.0)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() > 0 {
                    let event = NewEvent::session(
                        kinds::SESSION_REUSE_DETECTED,
                        session_id.0,
                        user_id.0,
                        json!({}),
                    );
                    append(&mut tx, event, at).await?;
                }
                self.commit(tx).await?;
                Ok(Rotation::Reused { user_id, session_id })
            }

            async fn end_session(&self, presented: &str, at: Timestamp) -> Result<()> {
                let mut tx = self.write().await?;
                let ended = sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE revoked_at IS NULL AND id = \
                     (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) \
                     RETURNING id, user_id",
                )
                .bind(presented)
                .bind(ts(at))
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = ended {
                    let id: Uuid = row.try_get("id")?;
                    let user: Uuid = row.try_get("user_id")?;
                    let event = NewEvent::session(kinds::SESSION_ENDED, id, user, json!({}));
                    append(&mut tx, event, at).await?;
                }
                self.commit(tx).await?;
                Ok(())
            }

            async fn update_profile(
                &self,
                user: UserId,
                changes: ProfileChanges,
                actor: Actor,
                at: Timestamp,
            ) -> Result<User> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL{FOR_UPDATE}"
                );
                let row = sqlx::query(&sql)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| Error::not_found("user not found"))?;
                let current = user_record(&row)?.user;
                // Only what differs is a change: the rest keeps its value,
                // and a request that changes nothing writes nothing.
                let mut fields = Vec::new();
                let display_name = match changes.display_name {
                    Some(name) if name != current.display_name => {
                        fields.push("display_name");
                        name
                    }
                    _ => current.display_name.clone(),
                };
                let bio = match changes.bio {
                    Some(bio) if bio != current.bio => {
                        fields.push("bio");
                        bio
                    }
                    _ => current.bio.clone(),
                };
                let avatar_key = match changes.avatar_key {
                    Some(key) if key != current.avatar_key => {
                        fields.push("avatar_key");
                        key
                    }
                    _ => current.avatar_key.clone(),
                };
                if fields.is_empty() {
                    tx.rollback().await?;
                    return Ok(current);
                }
                let sql = format!(
                    "UPDATE users SET display_name = $2, bio = $3, avatar_key = $4, updated_at = $5 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(user.0)
                    .bind(display_name)
                    .bind(bio)
                    .bind(avatar_key)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await?;
                let updated = user_record(&row)?.user;
                let payload = json!({ "fields": fields });
                let event = NewEvent::user(kinds::USER_PROFILE_UPDATED, user.0, actor, payload);
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(updated)
            }

            async fn set_password(
                &self,
                user: UserId,
                password_hash: String,
                keep: Option<SessionId>,
                actor: Actor,
                at: Timestamp,
            ) -> Result<()> {
                let mut tx = self.write().await?;
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $2, token_version = token_version + 1, \
                     failed_logins = 0, locked_until = NULL, updated_at = $3 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(user.0)
                .bind(password_hash)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("user not found"));
                }
                let n = revoke_all(&mut tx, user, keep, at).await?;
                let event = NewEvent::user(kinds::USER_PASSWORD_CHANGED, user.0, actor, revoked(n));
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(())
            }

            async fn update_account(
                &self,
                user: UserId,
                changes: AccountChanges,
                actor: Actor,
                at: Timestamp,
            ) -> Result<User> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL{FOR_UPDATE}"
                );
                let row = sqlx::query(&sql)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| Error::not_found("user not found"))?;
                let current = user_record(&row)?.user;
                let role = changes.role.filter(|r| *r != current.role);
                let disabled = changes.disabled.filter(|d| *d != current.disabled);
                if role.is_none() && disabled.is_none() {
                    return Ok(current);
                }
                // Disabling bumps the token version, so access tokens stop
                // working at once, not when they expire.
                let sql = format!(
                    "UPDATE users SET role = COALESCE($2, role), \
                     disabled = COALESCE($3, disabled), updated_at = $4, \
                     token_version = token_version + CASE WHEN $3 THEN 1 ELSE 0 END \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(user.0)
                    .bind(role.map(Role::as_str))
                    .bind(disabled)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await?;
                let updated = user_record(&row)?.user;
                let mut events = Vec::with_capacity(2);
                if let Some(role) = role {
                    let payload = json!({ "role": role });
                    events.push(NewEvent::user(kinds::USER_ROLE_CHANGED, user.0, actor, payload));
                }
                match disabled {
                    Some(true) => {
                        let n = revoke_all(&mut tx, user, None, at).await?;
                        events.push(NewEvent::user(kinds::USER_DISABLED, user.0, actor, revoked(n)));
                    }
                    Some(false) => {
                        events.push(NewEvent::user(kinds::USER_ENABLED, user.0, actor, revoked(0)));
                    }
                    None => {}
                }
                for event in events {
                    append(&mut tx, event, at).await?;
                }
                self.commit(tx).await?;
                Ok(updated)
            }

            async fn revoke_sessions(
                &self,
                user: UserId,
                actor: Actor,
                at: Timestamp,
            ) -> Result<u64> {
                let mut tx = self.write().await?;
                let done = sqlx::query(
                    "UPDATE users SET token_version = token_version + 1 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("user not found"));
                }
                let n = revoke_all(&mut tx, user, None, at).await?;
                let event = NewEvent::user(kinds::USER_SESSIONS_REVOKED, user.0, actor, revoked(n));
                append(&mut tx, event, at).await?;
                self.commit(tx).await?;
                Ok(n)
            }

            async fn delete_user(&self, user: UserId, actor: Actor, at: Timestamp) -> Result<()> {
                let mut tx = self.write().await?;
                // Personal data goes; the row stays so enrollments, orders
                // and the log keep pointing at a real id. The placeholder
                // address frees the e-mail for a new account.
                let done = sqlx::query(
                    "UPDATE users SET email = $2, display_name = 'Deleted user', bio = NULL, \
                     avatar_key = NULL, password_hash = NULL, token_version = token_version + 1, \
                     failed_logins = 0, locked_until = NULL, deleted_at = $3, updated_at = $3 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(user.0)
                .bind(format!("deleted-{}@deleted.invalid", user.0.simple()))
                .bind(ts(at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("user not found"));
                }
                let n = revoke_all(&mut tx, user, None, at).await?;
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await?;
                append(&mut tx, NewEvent::user(kinds::USER_DELETED, user.0, actor, revoked(n)), at)
                    .await?;
                self.commit(tx).await?;
                Ok(())
            }

            async fn list_users(&self, query: &UserQuery) -> Result<Vec<User>> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE deleted_at IS NULL \
                     AND ($1 IS NULL OR role = $1) \
                     AND ($2 IS NULL OR lower(email) LIKE $2 ESCAPE '\\' \
                          OR lower(display_name) LIKE $2 ESCAPE '\\') \
                     AND ($3 IS NULL OR id > $3) \
                     ORDER BY id LIMIT $4"
                );
                let rows = sqlx::query(&sql)
                    .bind(query.role.map(Role::as_str))
                    .bind(query.query.as_deref().map(contains_pattern))
                    .bind(query.after.map(|id| id.0))
                    .bind(i64::from(query.page_size()))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(user_record(r)?.user)).collect()
            }

            async fn hit_rate_limits(
                &self,
                buckets: &[(String, Rate)],
                at: Timestamp,
            ) -> Result<Option<std::time::Duration>> {
                let now = at.timestamp_micros();
                let mut tx = self.write().await?;
                let mut wait: Option<i64> = None;
                for (bucket, rate) in buckets {
                    let (interval, tolerance) = rate.gcra_us();
                    // GCRA in one statement, atomic under concurrent hits
                    // (the upsert locks the row): a bucket whose arrival
                    // time is at most `tolerance` ahead of now takes the hit
                    // and moves on by one interval; a fuller one stays.
                    let row = sqlx::query(
                        "INSERT INTO rate_limits (bucket, tat_us, allowed) VALUES ($1, $2 + $3, 1) \
                         ON CONFLICT (bucket) DO UPDATE SET \
                         allowed = CASE WHEN rate_limits.tat_us - $2 <= $4 THEN 1 ELSE 0 END, \
                         tat_us = CASE WHEN rate_limits.tat_us - $2 > $4 THEN rate_limits.tat_us \
                         WHEN rate_limits.tat_us > $2 THEN rate_limits.tat_us + $3 \
                         ELSE $2 + $3 END \
                         RETURNING allowed, tat_us",
                    )
                    .bind(bucket)
                    .bind(now)
                    .bind(interval)
                    .bind(tolerance)
                    .fetch_one(&mut *tx)
                    .await?;
                    let allowed: i64 = row.try_get("allowed")?;
                    if allowed == 0 {
                        let tat: i64 = row.try_get("tat_us")?;
                        let this = tat - now - tolerance;
                        wait = Some(wait.map_or(this, |w| w.max(this)));
                    }
                }
                match wait {
                    // Dropping the transaction rolls back the hits counted
                    // on the buckets that had room.
                    Some(us) => Ok(Some(std::time::Duration::from_micros(us.max(1) as u64))),
                    None => {
                        // Changes nothing the read cache holds: not counted.
                        tx.commit().await?;
                        Ok(None)
                    }
                }
            }

            async fn prune_rate_limits(&self, at: Timestamp) -> Result<u64> {
                let done = sqlx::query("DELETE FROM rate_limits WHERE tat_us < $1")
                    .bind(at.timestamp_micros())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl EventStore for $store {
            async fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
                let rows = sqlx::query(
                    "SELECT id, kind, subject_type, subject_id, user_id, course_id, actor_kind, \
                     actor_id, payload, created_at FROM events \
                     WHERE id > $1 AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR user_id = $3) \
                     AND ($4 IS NULL OR course_id = $4) ORDER BY id LIMIT $5",
                )
                .bind(query.after.unwrap_or(0))
                .bind(query.kind.as_deref())
                .bind(query.user_id)
                .bind(query.course_id)
                .bind(i64::from(query.page_size()))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(event).collect()
            }
        }

        $crate::store::sql::courses::courses_sql!($store, $db, $row);
        $crate::store::sql::enrollment::enrollment_sql!($store, $db, $row);
        $crate::store::sql::media::media_sql!($store, $db, $row);
        $crate::store::sql::live::live_sql!($store, $db, $row);
        $crate::store::sql::payments::payments_sql!($store, $db, $row);
    };
}

pub(crate) use sql_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("Ada"), "%ada%");
        assert_eq!(contains_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }
}
