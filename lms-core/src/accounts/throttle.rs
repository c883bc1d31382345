//! Rate limits on the unauthenticated entry points (register, log in,
//! refresh), per client address and per account, counted in the store so
//! they hold across every instance. Faces call [`Lms::throttle`] before the
//! operation, so a refused attempt costs one store round trip and never a
//! password hash.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use sha2::{Digest as _, Sha256};

use crate::Lms;
use crate::domain::Email;
use crate::error::{Error, Result};
use crate::store::Rate;

/// An entry point with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    /// Signing up.
    Register,
    /// Logging in.
    Login,
    /// Trading a refresh token.
    Refresh,
}

impl AuthAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::Refresh => "refresh",
        }
    }
}

/// Drained buckets are deleted on one hit in this many, so the table holds
/// roughly the buckets of the last period without a background task.
const PRUNE_EVERY: u64 = 1024;

impl Lms {
    /// Counts one attempt at `action` from `client` on `account` (the
    /// e-mail given to register or log in), refusing with `rate_limited`
    /// and the time to wait when either is over its rate
    /// (`auth_rate_per_minute` per address, `auth_account_rate_per_minute`
    /// per account). A refused attempt is not counted.
    ///
    /// An IPv6 client is limited by its /64, the block one subscriber
    /// usually holds, so hopping addresses inside it gains nothing.
    pub async fn throttle(
        &self,
        action: AuthAction,
        client: Option<IpAddr>,
        account: Option<&str>,
    ) -> Result<()> {
        let config = self.config();
        let mut buckets = Vec::with_capacity(2);
        if let Some(client) = client
            && config.auth_rate_per_minute > 0
        {
            let key = format!("{}:address:{}", action.as_str(), address_key(client));
            buckets.push((bucket(&key), Rate::per_minute(config.auth_rate_per_minute)));
        }
        if let Some(account) = account
            && config.auth_account_rate_per_minute > 0
        {
            let key = format!("{}:account:{}", action.as_str(), account_key(account));
            buckets.push((
                bucket(&key),
                Rate::per_minute(config.auth_account_rate_per_minute),
            ));
        }
        if buckets.is_empty() {
            return Ok(());
        }
        let now = self.now();
        if self.inner.throttle_hits.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1
        {
            self.store().prune_rate_limits(now).await?;
        }
        match self.store().hit_rate_limits(&buckets, now).await? {
            None => Ok(()),
            Some(wait) => Err(Error::rate_limited(
                format!(
                    "too many attempts; try again in {} seconds",
                    wait.as_secs_f64().ceil().max(1.0)
                ),
                wait,
            )),
        }
    }
}

/// The address a client is limited by: itself for IPv4 (an IPv4-mapped
/// IPv6 address counts as its IPv4 one), its /64 for IPv6.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The account an attempt names: the normalized e-mail when it is one, so
/// `Ada@Example.com` and `ada@example.com` share a bucket.
fn account_key(account: &str) -> String {
    match Email::parse("email", account) {
        Ok(email) => email.as_str().to_owned(),
        Err(_) => account.trim().to_lowercase(),
    }
}

/// Buckets are stored hashed: the table never holds an e-mail address, and
/// every key has the same short length.
fn bucket(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
    }

    #[test]
    fn an_account_is_keyed_by_its_normalized_email() {
        assert_eq!(
            account_key(" Ada@Example.COM "),
            account_key("ada@example.com")
        );
        assert_eq!(account_key("Not An Email"), "not an email");
    }

    #[test]
    fn buckets_hide_the_key_and_have_one_length() {
        let b = bucket("login:account:ada@example.com");
        assert_eq!(b.len(), 32);
        assert!(!b.contains("ada"));
        assert_ne!(b, bucket("login:account:bob@example.com"));
    }
}
