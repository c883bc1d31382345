//! Password hashing: Argon2id, off the async executor, a bounded number at
//! a time.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on the
//! executor would stall every other request on that worker; running an
//! unbounded number at once would let a login flood exhaust memory. So hashes
//! run on threads of their own behind a semaphore.
//!
//! On Linux those threads run at a lower CPU priority (nice
//! [`HASH_NICE`]) than the request workers and the database drivers: when
//! the cores are busy, a hash yields to them. A burst of logins then slows
//! itself rather than every cheap read on the server, and the short write
//! steps around each login (counting the attempt, starting the session) are
//! not stretched by waiting for a core behind a hash, which would leave the
//! hash threads idle waiting for them. With idle cores a hash runs at full
//! speed.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

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

/// The niceness of the hash threads (0 is the default, 19 the lowest
/// priority): under contention a nice-10 thread gets about a tenth of the
/// CPU a nice-0 one does.
pub(crate) const HASH_NICE: i32 = 10;

/// Work for a hash thread.
type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
pub(crate) struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Feeds the hash threads; they end when it is dropped.
    jobs: Mutex<Sender<Job>>,
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
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..permits {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("lms-hash-{n}"))
                .spawn(move || hash_thread(&queue))
                .map_err(Error::internal)?;
        }
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            jobs: Mutex::new(jobs),
            decoy: OnceCell::new(),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Runs `work` on a hash thread once a permit is free.
    ///
    /// The permit moves into the job: if the caller's future is dropped (a
    /// client hung up), the hash still runs to the end, and its permit must
    /// stay taken until it does, or the bound would not hold. There are as
    /// many threads as permits, so a job with a permit never queues long.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = work();
            drop(permit);
            // The caller may be gone; the work is done either way.
            let _ = done.send(out);
        });
        self.jobs
            .lock()
            .expect("hash queue")
            .send(job)
            .map_err(|_| Error::internal("the hash threads have stopped"))?;
        answer
            .await
            .map_err(|_| Error::internal("a hash thread panicked"))
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

/// A hash thread: lowers its own priority, then runs jobs until the
/// [`Hasher`] is dropped.
fn hash_thread(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting: the job runs after it drops.
        let job = queue.lock().map(|q| q.recv());
        match job {
            Ok(Ok(job)) => job(),
            _ => return,
        }
    }
}

/// Sets the calling thread's niceness to [`HASH_NICE`]. On Linux the nice
/// value is a thread's own (`setpriority(PRIO_PROCESS, 0)` changes only the
/// caller); elsewhere it is the process's, so it is left alone there.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, HASH_NICE) {
        // A sandbox may forbid it; hashing works the same, only less polite.
        tracing::debug!(error = %e, "could not lower the hash threads' priority");
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_at_a_lower_priority_than_the_caller() {
        let hasher = Hasher::new(&config()).unwrap();
        let caller = rustix::process::getpriority_process(None).unwrap();
        let worker = hasher
            .run(|| rustix::process::getpriority_process(None).unwrap())
            .await
            .unwrap();
        assert!(caller < HASH_NICE, "the tests run at a normal priority");
        assert_eq!(worker, HASH_NICE);
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), caller);
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
