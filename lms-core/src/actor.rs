//! Who is acting. Every operation takes an [`Actor`] and decides in the core
//! whether it may go ahead, so no face re-implements a rule.

use serde::Serialize;

use crate::domain::{Role, SessionId, UserId};
use crate::error::{Error, Result};

/// The principal behind a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// Nobody signed in.
    Anonymous,
    /// The operator: CLI commands, migrations, the first admin. May do anything.
    System,
    /// A signed-in user, as their access token proved.
    User {
        /// The account.
        id: UserId,
        /// The account's role at the time of authentication.
        role: Role,
        /// The login session the token belongs to.
        session: SessionId,
    },
}

impl Actor {
    /// The user id, if a user is acting.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// True for the system actor and for admins.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::System
                | Self::User {
                    role: Role::Admin,
                    ..
                }
        )
    }

    /// The signed-in user, or `unauthenticated`.
    pub fn require_user(&self) -> Result<UserId> {
        self.user_id()
            .ok_or_else(|| Error::unauthenticated("sign in first"))
    }

    /// Goes ahead only for admins and the system actor.
    pub fn require_admin(&self) -> Result<()> {
        match self {
            _ if self.is_admin() => Ok(()),
            Self::Anonymous => Err(Error::unauthenticated("sign in first")),
            _ => Err(Error::forbidden("only an admin may do this")),
        }
    }

    /// Goes ahead for `user` themselves, admins, and the system actor.
    pub fn require_self_or_admin(&self, user: UserId) -> Result<()> {
        if self.user_id() == Some(user) {
            return Ok(());
        }
        self.require_admin()
    }

    /// How the event log records this actor: a kind and an optional user id.
    pub(crate) fn log_parts(&self) -> (&'static str, Option<uuid::Uuid>) {
        match self {
            Self::Anonymous => ("anonymous", None),
            Self::System => ("system", None),
            Self::User { id, .. } => ("user", Some(id.0)),
        }
    }
}
