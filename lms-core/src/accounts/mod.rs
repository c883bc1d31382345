//! Accounts and authentication: register, log in, refresh, log out, profile,
//! password, account deletion, and the admin operations on users.
//!
//! Rules decided here, for every face:
//! - Passwords are Argon2id PHC strings (see `hashing`); a login whose
//!   e-mail is unknown checks a decoy hash, so both answers cost the same.
//! - Every password check is first counted in the store, atomically, and
//!   only then hashed (see [`AccountStore::begin_login_attempt`]): however
//!   many arrive at once, at most the configured number are checked before
//!   the account locks, and a locked account is refused before any hashing,
//!   even with the right password. A success resets the count when its
//!   session starts, and only if nothing changed meanwhile (password,
//!   token version, disabled, a lock set by other attempts).
//!
//! [`AccountStore::begin_login_attempt`]: crate::store::AccountStore::begin_login_attempt
//! - Access tokens are short-lived JWTs; each request re-reads the user, so a
//!   disabled, deleted or re-passworded account stops working at once.
//! - Refresh tokens rotate on every use; a rotated one that comes back
//!   revokes its whole session.
//!
//! Deleting an account erases its personal data (e-mail, name, bio, avatar,
//! password hash) and revokes its sessions. What stays: the user id, role and
//! creation time, and the event log rows that mention the id, so enrollments,
//! orders and the audit trail keep pointing at a real (anonymous) account.
//! The e-mail can then be used for a new account.

mod hashing;
mod throttle;
mod tokens;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

pub(crate) use hashing::Hasher;
pub use throttle::AuthAction;
pub(crate) use tokens::{TokenKeys, random_token};

use crate::Lms;
use crate::actor::Actor;
use crate::clock::{Timestamp, after};
use crate::domain::{
    Bio, DisplayName, Email, ObjectKey, Password, Role, SessionId, UserId, page_limit,
};
use crate::error::{Error, ErrorKind, Result, check, finish};
use crate::events::{Event, EventQuery};
use crate::media::UploadPurpose;
use crate::store::{
    AccountChanges, AccountKey, FirstSession, LockPolicy, LoginAttempt, NewRefreshToken,
    NewSession, NewUser, ProfileChanges, Rotation, User, UserQuery, UserRecord, locked_out,
};

/// Self-service sign-up. The account starts as a `student`.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// E-mail address; normalized, unique regardless of case.
    pub email: String,
    /// 8 to 128 characters, not a common password.
    pub password: String,
    /// The name shown to others.
    pub display_name: String,
}

/// An account created by an admin or the operator, with a chosen role.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// E-mail address.
    pub email: String,
    /// Initial password.
    pub password: String,
    /// The name shown to others.
    pub display_name: String,
    /// Role (student when absent).
    #[serde(default)]
    pub role: Role,
}

/// E-mail and password, for logging in.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// E-mail address, in any case.
    pub email: String,
    /// The password.
    pub password: String,
}

/// Profile fields a user may change on their own account. Absent fields stay
/// as they are; `null` (or an empty string) clears `bio` and `avatar_key`,
/// and is refused (422) for `display_name`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New display name.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub display_name: Option<String>,
    /// New bio; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    pub bio: Option<Option<String>>,
    /// New avatar object key; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    pub avatar_key: Option<Option<String>>,
}

/// What an admin may change on someone's account. Absent fields stay;
/// `null` is refused (422).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    /// New role: `student`, `instructor` or `admin`.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(value_type = Role))]
    pub role: Option<String>,
    /// Disable (`true`: sessions end at once) or enable the account.
    #[serde(default, deserialize_with = "not_null")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub disabled: Option<bool>,
}

/// Refuses `null` for a field that cannot be cleared, where absent means
/// "leave it as it is": a client sending `null` to clear it would otherwise
/// get a success that changed nothing.
pub(crate) fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(
            "may not be null; leave it out to keep it as it is",
        )),
    }
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A password change by the user, proving they know the current one.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The password from now on.
    pub new_password: String,
}

/// A signed-in session: the user and their tokens.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthSession {
    /// The account.
    pub user: User,
    /// Short-lived bearer token for requests.
    pub access_token: String,
    /// Long-lived token that gets a new pair once; keep it secret.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A new access token for the current session.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessToken {
    /// Short-lived bearer token for requests.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

// Debug shows everything but passwords and tokens, so these structs can be
// logged or printed in a failed assertion without leaking a secret.
const REDACTED: &str = "<redacted>";

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .finish()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession")
            .field("user", &self.user)
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

const BEARER: &str = "Bearer";

fn bad_credentials() -> Error {
    Error::unauthenticated("wrong e-mail or password")
}

/// What a successful password check hands to the session it starts.
struct Checked {
    /// The stored hash the password matched.
    hash: String,
    /// The lock this check's own attempt set, if it reached the limit.
    own_lock: Option<Timestamp>,
    /// A stronger hash of the password, when the stored one is weaker than
    /// configured.
    rehash: Option<String>,
}

struct ValidAccount {
    email: Email,
    password: Password,
    display_name: DisplayName,
}

fn validate_account(email: &str, password: &str, display_name: &str) -> Result<ValidAccount> {
    let mut errors = Vec::new();
    let email = check(Email::parse("email", email), &mut errors);
    let password = check(Password::parse("password", password), &mut errors);
    let display_name = check(
        DisplayName::parse("display_name", display_name),
        &mut errors,
    );
    match (email, password, display_name) {
        (Some(email), Some(password), Some(display_name)) => Ok(ValidAccount {
            email,
            password,
            display_name,
        }),
        _ => Err(Error::invalid_fields(errors)),
    }
}

fn validate_profile(update: ProfileUpdate) -> Result<ProfileChanges> {
    let mut errors = Vec::new();
    let display_name = update
        .display_name
        .map(|n| check(DisplayName::parse("display_name", &n), &mut errors));
    // An empty string clears, like null: forms often cannot send null.
    let bio = update.bio.map(|b| {
        b.filter(|s| !s.trim().is_empty())
            .and_then(|s| check(Bio::parse("bio", &s), &mut errors))
    });
    let avatar_key = update.avatar_key.map(|k| {
        k.filter(|s| !s.trim().is_empty())
            .and_then(|s| check(ObjectKey::parse("avatar_key", &s), &mut errors))
    });
    finish(errors, || ProfileChanges {
        display_name: display_name.flatten().map(|n| n.as_str().to_owned()),
        bio: bio.map(|b| b.map(|b| b.as_str().to_owned())),
        avatar_key: avatar_key.map(|k| k.map(|k| k.as_str().to_owned())),
    })
}

impl Lms {
    /// Signs up a new student and signs them in. The account and its first
    /// session are one store step: either both exist or neither does.
    pub async fn register(&self, registration: Registration) -> Result<AuthSession> {
        let valid = validate_account(
            &registration.email,
            &registration.password,
            &registration.display_name,
        )?;
        let now = self.now();
        let session = SessionId::new();
        let refresh_token = random_token();
        let first = FirstSession {
            id: session,
            refresh: self.refresh_record(&refresh_token, now),
        };
        let record = self
            .insert_account(valid, Role::Student, Actor::Anonymous, Some(first))
            .await?;
        self.signed_in(record, session, refresh_token, now)
    }

    /// Creates an account with a chosen role: admins and the operator only
    /// (this is how the first admin comes to be).
    pub async fn create_user(&self, actor: &Actor, account: NewAccount) -> Result<User> {
        actor.require_admin()?;
        let valid = validate_account(&account.email, &account.password, &account.display_name)?;
        let record = self
            .insert_account(valid, account.role, *actor, None)
            .await?;
        Ok(record.user)
    }

    async fn insert_account(
        &self,
        valid: ValidAccount,
        role: Role,
        actor: Actor,
        first_session: Option<FirstSession>,
    ) -> Result<UserRecord> {
        let password_hash = self.inner.hasher.hash(valid.password.expose()).await?;
        let new = NewUser {
            id: UserId::new(),
            email: valid.email,
            display_name: valid.display_name.as_str().to_owned(),
            password_hash: password_hash.clone(),
            role,
        };
        let user = self
            .store()
            .create_user(new, first_session, actor, self.now())
            .await?;
        Ok(UserRecord {
            user,
            password_hash: Some(password_hash),
            token_version: 0,
            failed_logins: 0,
            locked_until: None,
            deleted_at: None,
        })
    }

    /// Logs in with e-mail and password.
    ///
    /// Wrong e-mail and wrong password give the same `unauthenticated` error
    /// after the same work. A locked account gives `rate_limited` (with the
    /// time left) before any hashing; a disabled one `forbidden`, but only
    /// to someone who knows the password.
    pub async fn login(&self, credentials: Credentials) -> Result<AuthSession> {
        // Ensures the decoy exists before the branch, so no answer pays for
        // creating it.
        self.inner.hasher.decoy().await?;
        let Ok(email) = Email::parse("email", &credentials.email) else {
            self.inner
                .hasher
                .verify_decoy(&credentials.password)
                .await?;
            return Err(bad_credentials());
        };
        let (record, checked) = self
            .check_password(
                AccountKey::Email(&email),
                &credentials.password,
                Actor::Anonymous,
            )
            .await?;
        if record.user.disabled {
            return Err(Error::forbidden("this account is disabled"));
        }
        self.open_session(&record, checked).await
    }

    /// Checks `password` for `account` on behalf of `actor`, under the
    /// lockout: the attempt is counted in the store first, and a locked
    /// account is refused without hashing. Answers the account as counted.
    ///
    /// An account that does not exist (an unknown e-mail, or one deleted
    /// since it was read) costs one verification, like a wrong password, so
    /// the time taken does not tell which e-mails have accounts.
    async fn check_password(
        &self,
        account: AccountKey<'_>,
        password: &str,
        actor: Actor,
    ) -> Result<(UserRecord, Checked)> {
        let now = self.now();
        let policy = LockPolicy {
            max_failures: self.config().max_failed_logins,
            lock_until: after(now, self.config().lockout()),
        };
        let counted = self
            .store()
            .begin_login_attempt(account, policy, actor, now)
            .await;
        let (record, attempt) = match counted {
            Ok(counted) => counted,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.inner.hasher.verify_decoy(password).await?;
                return Err(bad_credentials());
            }
            Err(e) => return Err(e),
        };
        let own_lock = match attempt {
            LoginAttempt::Locked { until } => return Err(locked_out(until, now)),
            LoginAttempt::Reserved { locked_until, .. } => locked_until,
        };
        // A deleted account has no hash, but is not found above.
        let stored = record.password_hash.clone().ok_or_else(bad_credentials)?;
        // Anything longer than the policy allows cannot be the password;
        // it still costs one verification, like an unknown e-mail.
        if password.chars().count() > Password::MAX_CHARS {
            self.inner.hasher.verify_decoy(password).await?;
            return Err(bad_credentials());
        }
        let verified = self.inner.hasher.verify(password, &stored).await?;
        if !verified.ok {
            // Already counted by the reservation: nothing more to write.
            return Err(bad_credentials());
        }
        let rehash = if verified.needs_rehash {
            Some(self.inner.hasher.hash(password).await?)
        } else {
            None
        };
        let checked = Checked {
            hash: stored,
            own_lock,
            rehash,
        };
        Ok((record, checked))
    }

    /// Starts a session after a successful check, provided the account is
    /// still as the check saw it.
    async fn open_session(&self, record: &UserRecord, checked: Checked) -> Result<AuthSession> {
        let now = self.now();
        let session = SessionId::new();
        let refresh_token = random_token();
        let new = NewSession {
            id: session,
            user_id: record.user.id,
            refresh: self.refresh_record(&refresh_token, now),
            token_version: record.token_version,
            password_hash: checked.hash,
            own_lock: checked.own_lock,
            rehashed_password: checked.rehash,
        };
        self.store()
            .start_session(new, now)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => bad_credentials(),
                _ => e,
            })?;
        self.signed_in(record.clone(), session, refresh_token, now)
    }

    /// The answer to a sign-in: the user and a fresh token pair.
    fn signed_in(
        &self,
        record: UserRecord,
        session: SessionId,
        refresh_token: String,
        now: Timestamp,
    ) -> Result<AuthSession> {
        let access = self.access_token(&record, session, now)?;
        Ok(AuthSession {
            user: record.user,
            access_token: access.access_token,
            refresh_token,
            token_type: BEARER,
            expires_in: access.expires_in,
        })
    }

    fn refresh_record(&self, token: &str, now: Timestamp) -> NewRefreshToken {
        NewRefreshToken {
            hash: tokens::refresh_hash(token),
            expires_at: after(now, self.config().refresh_token_ttl()),
        }
    }

    fn access_token(
        &self,
        record: &UserRecord,
        session: SessionId,
        now: Timestamp,
    ) -> Result<AccessToken> {
        let keys = &self.inner.keys;
        let token = keys.issue(
            record.user.id,
            record.user.role,
            session,
            record.token_version,
            now,
        )?;
        Ok(AccessToken {
            access_token: token,
            token_type: BEARER,
            expires_in: keys.ttl_secs(),
        })
    }

    /// Trades a refresh token for a new pair. The presented token stops
    /// working; presenting it again revokes the whole session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthSession> {
        let now = self.now();
        let next = random_token();
        let rotation = self
            .store()
            .rotate_refresh_token(
                &tokens::refresh_hash(refresh_token.trim()),
                self.refresh_record(&next, now),
                now,
            )
            .await?;
        match rotation {
            Rotation::Rotated {
                user_id,
                session_id,
            } => {
                let record = self
                    .store()
                    .user(user_id)
                    .await?
                    .filter(|r| r.deleted_at.is_none() && !r.user.disabled)
                    .ok_or_else(|| Error::unauthenticated("invalid or expired refresh token"))?;
                let access = self.access_token(&record, session_id, now)?;
                Ok(AuthSession {
                    user: record.user,
                    access_token: access.access_token,
                    refresh_token: next,
                    token_type: BEARER,
                    expires_in: access.expires_in,
                })
            }
            Rotation::Reused { .. } => Err(Error::unauthenticated(
                "refresh token already used; the session was ended, sign in again",
            )),
            Rotation::Invalid => Err(Error::unauthenticated("invalid or expired refresh token")),
        }
    }

    /// Ends the session the refresh token belongs to. Unknown or already
    /// ended sessions are not an error: logging out twice is fine.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let hash = tokens::refresh_hash(refresh_token.trim());
        self.store().end_session(&hash, self.now()).await
    }

    /// Turns an access token into the acting user.
    ///
    /// Refused: a bad signature, algorithm, key, issuer or audience; an
    /// expired or not-yet-valid token; a token of a disabled or deleted user,
    /// of an ended session, or issued before the last password change.
    pub async fn authenticate(&self, access_token: &str) -> Result<Actor> {
        let claims = self.inner.keys.verify(access_token.trim(), self.now())?;
        let (user, session) = (UserId(claims.sub), SessionId(claims.sid));
        let revoked = || Error::unauthenticated("access token revoked; sign in again");
        // The verdict on the session, not the account record, is what the
        // read cache keeps: the role and token version while it is live.
        let verdict = self
            .cached(&self.inner.sessions, (user, session), async {
                Ok(self
                    .store()
                    .session_user(user, session)
                    .await?
                    .filter(|(record, live)| {
                        *live && record.deleted_at.is_none() && !record.user.disabled
                    })
                    .map(|(record, _)| (record.user.role, record.token_version)))
            })
            .await?;
        let role = match verdict {
            Some((role, version)) if version == claims.ver => role,
            _ => return Err(revoked()),
        };
        Ok(Actor::User {
            id: user,
            role,
            session,
        })
    }

    /// A live account, or `not_found`.
    async fn live_user(&self, id: UserId) -> Result<UserRecord> {
        self.store()
            .user(id)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| Error::not_found("user not found"))
    }

    /// The signed-in user's account.
    pub async fn current_user(&self, actor: &Actor) -> Result<User> {
        let id = actor.require_user()?;
        Ok(self.live_user(id).await?.user)
    }

    /// A user's account: themselves, admins and the operator.
    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<User> {
        actor.require_self_or_admin(id)?;
        Ok(self.live_user(id).await?.user)
    }

    /// Changes the signed-in user's profile.
    pub async fn update_profile(&self, actor: &Actor, update: ProfileUpdate) -> Result<User> {
        let id = actor.require_user()?;
        let changes = validate_profile(update)?;
        if changes.field_names().is_empty() {
            return self.current_user(actor).await;
        }
        if let Some(Some(key)) = &changes.avatar_key {
            self.check_file_key(actor, "avatar_key", key, UploadPurpose::Avatar, |a| {
                a.owner_id == id
            })
            .await?;
        }
        self.store()
            .update_profile(id, changes, *actor, self.now())
            .await
    }

    /// Changes the signed-in user's password. Every other session ends and
    /// older access tokens stop working; the answer is a new access token for
    /// the current session, whose refresh token keeps working.
    pub async fn change_password(
        &self,
        actor: &Actor,
        change: PasswordChange,
    ) -> Result<AccessToken> {
        let Actor::User { id, session, .. } = *actor else {
            return Err(Error::unauthenticated("sign in first"));
        };
        let new = Password::parse("new_password", &change.new_password)?;
        if change.new_password == change.current_password {
            return Err(Error::invalid_field(
                "new_password",
                "is the current password; choose another",
            ));
        }
        self.live_user(id).await?;
        self.check_password(AccountKey::Id(id), &change.current_password, *actor)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Unauthenticated => {
                    Error::invalid_field("current_password", "is not the current password")
                }
                _ => e,
            })?;
        let hash = self.inner.hasher.hash(new.expose()).await?;
        self.store()
            .set_password(id, hash, Some(session), *actor, self.now())
            .await?;
        let record = self.live_user(id).await?;
        self.access_token(&record, session, self.now())
    }

    /// Sets a user's password without the old one: admins and the operator.
    /// Every session of the user ends. Not on oneself: an admin changes
    /// their own password with [`change_password`](Self::change_password),
    /// proving the current one, so a stolen admin session cannot take the
    /// account over.
    pub async fn reset_password(&self, actor: &Actor, id: UserId, password: &str) -> Result<()> {
        actor.require_admin()?;
        if actor.user_id() == Some(id) {
            return Err(Error::forbidden(
                "an admin cannot reset their own password; use change_password, \
                 which asks for the current one",
            ));
        }
        let new = Password::parse("password", password)?;
        self.live_user(id).await?;
        let hash = self.inner.hasher.hash(new.expose()).await?;
        self.store()
            .set_password(id, hash, None, *actor, self.now())
            .await
    }

    /// Deletes the signed-in user's own account; the password confirms it.
    /// See the module docs for what is kept.
    pub async fn delete_account(&self, actor: &Actor, password: &str) -> Result<()> {
        let id = actor.require_user()?;
        self.live_user(id).await?;
        self.check_password(AccountKey::Id(id), password, *actor)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Unauthenticated => {
                    Error::invalid_field("password", "is not the current password")
                }
                _ => e,
            })?;
        self.store().delete_user(id, *actor, self.now()).await
    }

    /// Changes a user's role and whether the account is disabled, in one
    /// step: admins and the operator. An admin cannot change their own role
    /// or disable themselves, so a school never loses its last admin by
    /// accident. Disabling ends every session at once.
    pub async fn update_account(
        &self,
        actor: &Actor,
        id: UserId,
        update: AccountUpdate,
    ) -> Result<User> {
        actor.require_admin()?;
        let role = update
            .role
            .as_deref()
            .map(|r| Role::parse("role", r))
            .transpose()?;
        let changes = AccountChanges {
            role,
            disabled: update.disabled,
        };
        if actor.user_id() == Some(id) {
            // Only an admin gets here: naming their own role is no change.
            if changes.role.is_some_and(|r| r != Role::Admin) {
                return Err(Error::forbidden("an admin cannot change their own role"));
            }
            if changes.disabled == Some(true) {
                return Err(Error::forbidden(
                    "an admin cannot disable their own account",
                ));
            }
        }
        self.store()
            .update_account(id, changes, *actor, self.now())
            .await
    }

    /// [`Lms::update_account`] changing only the role.
    pub async fn set_role(&self, actor: &Actor, id: UserId, role: Role) -> Result<User> {
        let update = AccountUpdate {
            role: Some(role.as_str().to_owned()),
            disabled: None,
        };
        self.update_account(actor, id, update).await
    }

    /// [`Lms::update_account`] disabling or enabling only.
    pub async fn set_disabled(&self, actor: &Actor, id: UserId, disabled: bool) -> Result<User> {
        let update = AccountUpdate {
            role: None,
            disabled: Some(disabled),
        };
        self.update_account(actor, id, update).await
    }

    /// Ends every session of a user (themselves, admins, the operator).
    /// Returns how many were live.
    pub async fn revoke_sessions(&self, actor: &Actor, id: UserId) -> Result<u64> {
        actor.require_self_or_admin(id)?;
        self.store().revoke_sessions(id, *actor, self.now()).await
    }

    /// Lists live accounts: admins and the operator.
    pub async fn list_users(&self, actor: &Actor, query: &UserQuery) -> Result<Vec<User>> {
        actor.require_admin()?;
        page_limit(query.limit, 50, UserQuery::MAX_LIMIT)?;
        self.store().list_users(query).await
    }

    /// A live account by id or e-mail address: admins and the operator.
    pub async fn find_user(&self, actor: &Actor, id_or_email: &str) -> Result<User> {
        actor.require_admin()?;
        if let Ok(id) = UserId::parse("user", id_or_email) {
            return Ok(self.live_user(id).await?.user);
        }
        let email = Email::parse("user", id_or_email)
            .map_err(|_| Error::invalid_field("user", "must be a user id or an e-mail address"))?;
        self.store()
            .user_by_email(&email)
            .await?
            .map(|r| r.user)
            .ok_or_else(|| Error::not_found(format!("no user with the e-mail {}", email.as_str())))
    }

    /// Counts of users, courses, enrollments and completions: admins and
    /// the operator.
    pub async fn stats(&self, actor: &Actor) -> Result<crate::store::Stats> {
        actor.require_admin()?;
        self.store().stats().await
    }

    /// Reads the event log: admins and the operator.
    pub async fn events(&self, actor: &Actor, query: &EventQuery) -> Result<Vec<Event>> {
        actor.require_admin()?;
        self.store().events(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock as _;
    use crate::clock::SystemClock;

    const SECRET_WORD: &str = "swordfish-in-the-debug-output";

    #[test]
    fn debug_output_never_shows_passwords_or_tokens() {
        let user = User {
            id: UserId::new(),
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            bio: None,
            avatar_key: None,
            role: Role::Student,
            disabled: false,
            created_at: SystemClock.now(),
            updated_at: SystemClock.now(),
        };
        let printed = [
            format!(
                "{:?}",
                Registration {
                    email: "ada@example.com".into(),
                    password: SECRET_WORD.into(),
                    display_name: "Ada".into(),
                }
            ),
            format!(
                "{:?}",
                NewAccount {
                    email: "ada@example.com".into(),
                    password: SECRET_WORD.into(),
                    display_name: "Ada".into(),
                    role: Role::Admin,
                }
            ),
            format!(
                "{:?}",
                Credentials {
                    email: "ada@example.com".into(),
                    password: SECRET_WORD.into(),
                }
            ),
            format!(
                "{:?}",
                PasswordChange {
                    current_password: SECRET_WORD.into(),
                    new_password: SECRET_WORD.into(),
                }
            ),
            format!(
                "{:?}",
                AuthSession {
                    user,
                    access_token: SECRET_WORD.into(),
                    refresh_token: SECRET_WORD.into(),
                    token_type: BEARER,
                    expires_in: 900,
                }
            ),
            format!(
                "{:#?}",
                AccessToken {
                    access_token: SECRET_WORD.into(),
                    token_type: BEARER,
                    expires_in: 900,
                }
            ),
        ];
        for text in printed {
            assert!(!text.contains(SECRET_WORD), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn debug_output_keeps_what_is_not_secret() {
        let credentials = Credentials {
            email: "ada@example.com".into(),
            password: SECRET_WORD.into(),
        };
        assert_eq!(
            format!("{credentials:?}"),
            r#"Credentials { email: "ada@example.com", password: "<redacted>" }"#
        );
    }
}
