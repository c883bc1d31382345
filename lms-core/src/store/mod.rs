//! The store layer: traits the core calls, and the SQLite and PostgreSQL
//! implementations.
//!
//! A store method is one atomic domain step that owns its transaction
//! ("start a session", "rotate a refresh token"), never a raw table accessor,
//! and every step that changes state appends its [`NewEvent`](crate::events::NewEvent) in the same
//! transaction. Invariants live in constraints (unique e-mail, foreign keys,
//! checks) so they hold whatever calls the store.
//!
//! Hosts hold an `Arc<dyn Store>`; [`conformance`] is the suite any store,
//! ours or a third party's, must pass.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::actor::Actor;
use crate::clock::Timestamp;
use crate::domain::{Email, Role, SessionId, UserId};
use crate::error::{Error, Result};
use crate::events::{Event, EventQuery};

mod batch;
pub mod conformance;
pub mod courses;
pub mod enrollment;
pub mod live;
pub mod media;
mod migrations;
pub mod payments;
mod postgres;
mod sql;
mod sqlite;

pub use courses::CourseStore;
pub use enrollment::EnrollmentStore;
pub use live::LiveStore;
pub use media::MediaStore;
pub use migrations::MigrationStatus;
pub use payments::PaymentStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A user account as everyone may see it (the caller decides who sees whom).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The account id.
    pub id: UserId,
    /// Normalized e-mail address.
    pub email: String,
    /// The name shown to others.
    pub display_name: String,
    /// Self-description.
    pub bio: Option<String>,
    /// Media-storage key of the avatar image.
    pub avatar_key: Option<String>,
    /// What the account may do.
    pub role: Role,
    /// A disabled account cannot log in and its tokens stop working.
    pub disabled: bool,
    /// When the account was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When the account last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// A user with what only authentication may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The public part.
    pub user: User,
    /// Argon2id PHC string; `None` once deleted.
    pub password_hash: Option<String>,
    /// Bumped by every password change, disable and delete: access tokens
    /// carry it, and one with an older value is refused.
    pub token_version: i64,
    /// Password checks since the last success that have not (yet)
    /// succeeded: each is counted when it begins, a success resets the
    /// count. It stays at the limit while the account is locked.
    pub failed_logins: i64,
    /// Logins are refused until then.
    pub locked_until: Option<Timestamp>,
    /// When the account was deleted.
    pub deleted_at: Option<Timestamp>,
}

/// A new account, already validated and hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Fresh id.
    pub id: UserId,
    /// Normalized address.
    pub email: Email,
    /// Shown name.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Starting role.
    pub role: Role,
}

/// Profile fields to change; `None` leaves a field as it is, `Some(None)`
/// clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// New display name.
    pub display_name: Option<String>,
    /// New bio, or cleared.
    pub bio: Option<Option<String>>,
    /// New avatar key, or cleared.
    pub avatar_key: Option<Option<String>>,
}

impl ProfileChanges {
    /// Names of the fields this change touches, for the event payload.
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.display_name.is_some() {
            names.push("display_name");
        }
        if self.bio.is_some() {
            names.push("bio");
        }
        if self.avatar_key.is_some() {
            names.push("avatar_key");
        }
        names
    }
}

/// A refresh token as stored: only its SHA-256, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// The first session of a new account, opened in the same step that
/// creates it (self-service sign-up), so no account is left without one.
#[derive(Debug, Clone)]
pub struct FirstSession {
    /// The session (refresh-token family) id.
    pub id: SessionId,
    /// The first refresh token.
    pub refresh: NewRefreshToken,
}

/// A login session to open, with what the password check relied on.
///
/// The session starts only if, when it is written, the account still has
/// the `token_version` and `password_hash` the login read and verified, is
/// neither disabled nor deleted, and is not locked by another attempt. So a
/// login that raced a password change, a disable or a lockout cannot undo
/// it, and a rehash can never put back an old password's hash.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session (refresh-token family) id.
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
    /// The first refresh token.
    pub refresh: NewRefreshToken,
    /// The token version the login read.
    pub token_version: i64,
    /// The stored hash the password was verified against.
    pub password_hash: String,
    /// The lock this login's own attempt set by reaching the limit (see
    /// [`LoginAttempt::Reserved`]): it does not stop the session, while a
    /// lock any other attempt set does.
    pub own_lock: Option<Timestamp>,
    /// A fresh hash to store when the stored one used weaker parameters.
    pub rehashed_password: Option<String>,
}
/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; the new token replaces it.
    Rotated {
        /// Whose session.
        user_id: UserId,
        /// Which session.
        session_id: SessionId,
    },
    /// The token had already been used: the session is now revoked.
    Reused {
        /// Whose session.
        user_id: UserId,
        /// Which session.
        session_id: SessionId,
    },
    /// Unknown, expired, or from a revoked session. Nothing changed.
    Invalid,
}

/// The account a password check is for.
#[derive(Debug, Clone, Copy)]
pub enum AccountKey<'a> {
    /// A signed-in user confirming their password.
    Id(UserId),
    /// A login, by normalized e-mail.
    Email(&'a Email),
}

/// The lock rule applied by [`AccountStore::begin_login_attempt`].
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    /// Attempts in a row, without a success, that lock the account.
    pub max_failures: u32,
    /// Locked until then when this attempt reaches the limit.
    pub lock_until: Timestamp,
}

/// What [`AccountStore::begin_login_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt is counted: go on and check the password.
    Reserved {
        /// Its number since the last success or lock (1 for the first).
        attempt: i64,
        /// When this attempt reached the limit: the lock it set. A session
        /// it then starts passes this as [`NewSession::own_lock`].
        locked_until: Option<Timestamp>,
    },
    /// The account is locked until then; nothing was counted and the
    /// password must not be checked.
    Locked {
        /// When attempts are allowed again.
        until: Timestamp,
    },
}

/// The error for a locked account at `now`, with the time left.
pub(crate) fn locked_out(until: Timestamp, now: Timestamp) -> Error {
    let wait = (until - now).to_std().unwrap_or_default();
    Error::rate_limited(
        format!(
            "too many failed logins; try again in {} seconds",
            wait.as_secs().max(1)
        ),
        wait,
    )
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only this role.
    pub role: Option<Role>,
    /// Case-insensitive substring of e-mail or display name.
    pub query: Option<String>,
    /// Keyset cursor: only users after this id.
    pub after: Option<UserId>,
    /// At most this many (default 50, at most 200).
    pub limit: Option<u32>,
}

impl UserQuery {
    /// Largest page.
    pub const MAX_LIMIT: u32 = 200;

    /// The page size to use.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, Self::MAX_LIMIT)
    }
}

/// Accounts, sessions and login throttling.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts a user and, for a sign-up, opens their first session in the
    /// same transaction. A taken e-mail is a `conflict` and writes nothing.
    ///
    /// Events: `user.registered` (anonymous actor) or `user.created`, then
    /// `session.started` when there is a first session.
    async fn create_user(
        &self,
        new: NewUser,
        first_session: Option<FirstSession>,
        actor: Actor,
        at: Timestamp,
    ) -> Result<User>;

    /// A user by id, deleted ones included.
    async fn user(&self, id: UserId) -> Result<Option<UserRecord>>;

    /// A live (not deleted) user by normalized e-mail.
    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>>;

    /// A user with whether `session` is theirs and still live, in one round trip.
    async fn session_user(
        &self,
        user: UserId,
        session: SessionId,
    ) -> Result<Option<(UserRecord, bool)>>;

    /// Reserves one password check for `account`, before any hashing:
    /// counts it as a failure until a session starts (or the password is
    /// changed), and locks the account when the count reaches the policy's
    /// limit. While the account is locked nothing is counted and the answer
    /// is [`LoginAttempt::Locked`]. A missing or deleted user is `not_found`.
    ///
    /// Answers the account as this step left it, next to the decision: a
    /// login finds the account and counts the attempt in one step, and the
    /// password it then checks is the one the attempt was counted against.
    ///
    /// Counting first, in one atomic step, is what holds the limit under
    /// concurrency: of any number of simultaneous attempts at most the
    /// limit's worth get a `Reserved` and reach the hasher, and a lock is in
    /// force the moment the last one is counted, whatever the outcome of the
    /// checks still running.
    ///
    /// The reservation is the only state change a password check makes, so
    /// it writes the event, `user.login_attempted` by `actor` (payload: the
    /// attempt number and the lock it set, if any). A wrong password then
    /// changes nothing more and writes nothing; a right one starts a session
    /// (`session.started`), which resets the count.
    async fn begin_login_attempt(
        &self,
        account: AccountKey<'_>,
        policy: LockPolicy,
        actor: Actor,
        at: Timestamp,
    ) -> Result<(UserRecord, LoginAttempt)>;

    /// A successful login: opens a session with its first refresh token,
    /// resets the attempt count and lock (and stores a rehashed password),
    /// provided the account is still as [`NewSession`] describes. Otherwise
    /// writes nothing: a lock set by another attempt is `rate_limited`, a
    /// missing or deleted user `not_found`, a changed password or token
    /// version or a disabled account `unauthenticated`.
    async fn start_session(&self, session: NewSession, at: Timestamp) -> Result<()>;

    /// Uses the refresh token with hash `presented`: a live one is replaced
    /// by `next`; an already-used one revokes its session.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: NewRefreshToken,
        at: Timestamp,
    ) -> Result<Rotation>;

    /// Logout: revokes the session of the refresh token with hash
    /// `presented`. Unknown or already-ended sessions change nothing.
    async fn end_session(&self, presented: &str, at: Timestamp) -> Result<()>;

    /// Changes profile fields of a live user. Only fields whose value
    /// differs are written and named in the event; when none differs
    /// nothing is written and the user comes back as they are.
    async fn update_profile(
        &self,
        user: UserId,
        changes: ProfileChanges,
        actor: Actor,
        at: Timestamp,
    ) -> Result<User>;

    /// Replaces the password hash, invalidates older access tokens and
    /// revokes every session except `keep`.
    async fn set_password(
        &self,
        user: UserId,
        password_hash: String,
        keep: Option<SessionId>,
        actor: Actor,
        at: Timestamp,
    ) -> Result<()>;

    /// An admin's change to an account, in one transaction: the role, and
    /// disabling (revoking sessions and tokens) or enabling it. Setting a
    /// field to its current value changes nothing and records nothing; a
    /// missing or deleted user is `not_found`.
    ///
    /// Events: `user.role_changed`, then `user.disabled` or `user.enabled`,
    /// each only for a field that changed.
    async fn update_account(
        &self,
        user: UserId,
        changes: AccountChanges,
        actor: Actor,
        at: Timestamp,
    ) -> Result<User>;

    /// Revokes every live session of the user and invalidates their access
    /// tokens. Returns how many sessions were live.
    async fn revoke_sessions(&self, user: UserId, actor: Actor, at: Timestamp) -> Result<u64>;

    /// Deletes an account: personal data is erased, sessions revoked, the
    /// row and its id stay so history keeps pointing somewhere.
    async fn delete_user(&self, user: UserId, actor: Actor, at: Timestamp) -> Result<()>;

    /// Live users in id order, filtered.
    async fn list_users(&self, query: &UserQuery) -> Result<Vec<User>>;

    /// Counts one hit on every bucket at once, if each has room for it
    /// under its rate (GCRA: `limit` hits in a burst, then one per
    /// `period / limit`). All or nothing: when any bucket is full nothing is
    /// counted and the answer is how long until it has room again.
    ///
    /// Buckets are shared by every instance on the store, so a limit holds
    /// across a fleet. Writes no event: a hit is not a change of state
    /// anyone audits.
    async fn hit_rate_limits(
        &self,
        buckets: &[(String, Rate)],
        at: Timestamp,
    ) -> Result<Option<std::time::Duration>>;

    /// Deletes buckets whose hits have all drained by `at` (they are the
    /// same as absent ones). Returns how many.
    async fn prune_rate_limits(&self, at: Timestamp) -> Result<u64>;
}

/// An admin's change to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountChanges {
    /// New role.
    pub role: Option<Role>,
    /// Disable (true) or enable (false).
    pub disabled: Option<bool>,
}

/// At most `limit` hits per `period`, in a burst or spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Hits allowed per period (at least 1).
    pub limit: u32,
    /// The period.
    pub period: std::time::Duration,
}

impl Rate {
    /// `limit` hits a minute.
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: std::time::Duration::from_secs(60),
        }
    }

    /// Microseconds between two hits at the steady rate (GCRA's emission
    /// interval), and how far ahead of now a bucket may run (its burst
    /// tolerance), in the store's integer units.
    pub(crate) fn gcra_us(self) -> (i64, i64) {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        let interval = (period / i64::from(self.limit.max(1))).max(1);
        (interval, period - interval)
    }
}

/// What an installation holds, for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Stats {
    /// Live (not deleted) accounts.
    pub users: i64,
    /// Of those, students.
    pub students: i64,
    /// Of those, instructors.
    pub instructors: i64,
    /// Of those, admins.
    pub admins: i64,
    /// Courses in any status.
    pub courses: i64,
    /// Of those, published.
    pub published_courses: i64,
    /// Enrollments not revoked (expired ones included).
    pub enrollments: i64,
    /// Enrollments whose course was completed.
    pub completions: i64,
}

/// How a store's connection pool is used, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections open now.
    pub open: u32,
    /// Open connections not lent out.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The event log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Events in log order after the query's cursor.
    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
}

/// Everything the core needs from a store.
#[async_trait]
pub trait Store:
    AccountStore
    + EventStore
    + CourseStore
    + EnrollmentStore
    + MediaStore
    + LiveStore
    + PaymentStore
    + Debug
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Applied and pending schema migrations.
    async fn migration_status(&self) -> Result<Vec<MigrationStatus>>;

    /// Applies the pending migrations.
    async fn apply_migrations(&self) -> Result<()>;

    /// One cheap round trip, for readiness probes.
    async fn ping(&self) -> Result<()>;

    /// Counts across the whole store, in one round trip.
    async fn stats(&self) -> Result<Stats>;

    /// The connection pool's use now.
    fn pool_stats(&self) -> PoolStats;

    /// How many write steps this handle has committed that may change a
    /// catalog page, a course tree or a session, counted from any start:
    /// the core's read cache keeps an answer only while this stays the
    /// same. `None` (the default) says the store does not count, and the
    /// core then caches nothing.
    fn committed_writes(&self) -> Option<u64> {
        None
    }
}

/// Connects to the store a URL names without applying migrations (see
/// [`open`]), for tools that report or apply them.
pub async fn connect(url: &str, schema: Option<&str>) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url, schema).await?))
    } else {
        Err(Error::invalid_field(
            "database_url",
            "must start with sqlite: or postgres://",
        ))
    }
}

/// Opens the store a URL names and applies its migrations:
/// `sqlite://path`, `sqlite::memory:`, `postgres://...` or `postgresql://...`.
/// `schema` selects the PostgreSQL schema (created when missing).
pub async fn open(url: &str, schema: Option<&str>) -> Result<Arc<dyn Store>> {
    let store = connect(url, schema).await?;
    store.apply_migrations().await?;
    Ok(store)
}
