//! Password hashing: Argon2id, off the async executor, a bounded number at
//! a time.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on the
//! executor would stall every other request on that worker; running an
//! unbounded number at once would let a login flood exhaust memory. So hashes
//! run on the blocking pool behind a semaphore.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::Config;
use crate::error::{Error, Result};

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The password matches.
    pub ok: bool,
    /// The hash used weaker parameters than configured: store a new one.
    pub needs_rehash: bool,
}

#[derive(Debug)]
pub(crate) struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, checked when the e-mail is unknown so
    /// that answering "no such user" costs the same as "wrong password".
    decoy: OnceCell<String>,
}

impl Hasher {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| Error::invalid_field("argon2_memory_kib", e.to_string()))?;
        let permits = match config.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            decoy: OnceCell::new(),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Runs `work` on the blocking pool once a permit is free.
    ///
    /// The permit moves into the blocking task: if the caller's future is
    /// dropped (a client hung up), the hash still runs to the end, and its
    /// permit must stay taken until it does, or the bound would not hold.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(Error::internal)
    }

    /// A PHC string for `password` with the configured parameters.
    pub(crate) async fn hash(&self, password: &str) -> Result<String> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run(move || {
            Self::argon2(params)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(Error::internal)
        })
        .await?
    }

    /// Checks `password` against the PHC string `stored`.
    pub(crate) async fn verify(&self, password: &str, stored: &str) -> Result<Verified> {
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move || {
            let hash = PasswordHash::new(&stored).map_err(Error::internal)?;
            let ok = Self::argon2(params.clone())
                .verify_password(password.as_bytes(), &hash)
                .is_ok();
            Ok(Verified {
                ok,
                needs_rehash: ok && weaker_than(&hash, &params),
            })
        })
        .await?
    }

    /// Does the work of one verification, for a login whose e-mail is unknown.
    pub(crate) async fn verify_decoy(&self, password: &str) -> Result<()> {
        let decoy = self.decoy().await?;
        self.verify(password, decoy).await?;
        Ok(())
    }

    /// The decoy hash, made once with the configured parameters. Every login
    /// asks for it first, so even the first unknown e-mail costs no more than
    /// a known one.
    pub(crate) async fn decoy(&self) -> Result<&str> {
        let decoy = self
            .decoy
            .get_or_try_init(|| async { self.hash(&crate::accounts::random_token()).await })
            .await?;
        Ok(decoy)
    }
}

/// True when `hash` is not Argon2id v1.3 or any of its costs is below `want`.
fn weaker_than(hash: &PasswordHash, want: &Params) -> bool {
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(have) => {
            have.m_cost() < want.m_cost()
                || have.t_cost() < want.t_cost()
                || have.p_cost() < want.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::with_jwt_secret("x".repeat(32))
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_at_least_owasp_parameters() {
        let hasher = Hasher::new(&config()).unwrap();
        let phc = hasher.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let v = hasher.verify("correct horse battery", &phc).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        let v = hasher.verify("wrong horse battery", &phc).await.unwrap();
        assert!(!v.ok);
    }

    #[tokio::test]
    async fn a_cancelled_hash_keeps_its_permit_until_the_work_ends() {
        let mut one_at_a_time = config();
        one_at_a_time.hash_concurrency = 1;
        let hasher = Hasher::new(&one_at_a_time).unwrap();
        let (started_tx, started) = std::sync::mpsc::channel();
        let (finish, finish_rx) = std::sync::mpsc::channel::<()>();
        let call = hasher.run(move || {
            started_tx.send(()).unwrap();
            finish_rx.recv().unwrap();
        });
        // Poll the call until the work is running, then drop it, as a
        // cancelled request would.
        let mut call = Box::pin(call);
        tokio::select! {
            _ = &mut call => unreachable!("the work waits for `finish`"),
            _ = tokio::task::spawn_blocking(move || started.recv().unwrap()) => {}
        }
        drop(call);
        assert_eq!(
            hasher.permits.available_permits(),
            0,
            "the permit is released while the work still runs"
        );
        finish.send(()).unwrap();
        hasher.run(|| ()).await.unwrap();
        assert_eq!(hasher.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_hash_with_weaker_parameters_asks_for_a_rehash() {
        let hasher = Hasher::new(&config()).unwrap();
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        let v = hasher.verify("correct horse battery", &weak).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );

        let mut stronger = config();
        stronger.argon2_iterations = 3;
        let current = hasher.hash("correct horse battery").await.unwrap();
        let v = Hasher::new(&stronger)
            .unwrap()
            .verify("correct horse battery", &current)
            .await
            .unwrap();
        assert!(v.needs_rehash, "raising t must ask for a rehash");
    }
}
