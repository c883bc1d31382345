//! Password hashing: Argon2id, off the async executor, a bounded number at
//! a time.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on the
//! executor would stall every other request on that worker; running an
//! unbounded number at once would let a login flood exhaust memory. So hashes
//! run on threads of their own behind a semaphore.
//!
//! Each hash thread keeps its Argon2 memory from one hash to the next
//! ([`Memory`]) rather than allocating it per hash: a fresh 19 MiB block is
//! zeroed by the allocator (or faulted in page by page), work that has
//! nothing to do with the hash and that Argon2 does not need, as it writes
//! every block before reading it. A thread left idle for
//! [`RELEASE_MEMORY_AFTER`] gives its memory back.
//!
//! On Linux those threads run at a lower CPU priority (nice
//! [`HASH_NICE`]) than the request workers and the database drivers: when
//! the cores are busy, a hash yields to them. A burst of logins then slows
//! itself rather than every cheap read on the server, and the short write
//! steps around each login (counting the attempt, starting the session) are
//! not stretched by waiting for a core behind a hash, which would leave the
//! hash threads idle waiting for them. With idle cores a hash runs at full
//! speed. While other work keeps the cores busy, the hashes also take turns,
//! one at a time ([`Pace`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::generate_salt;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// How long a hash thread keeps its memory with no work to do.
pub(crate) const RELEASE_MEMORY_AFTER: Duration = Duration::from_secs(30);

/// Work for a hash thread, given the thread's memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A hash thread's Argon2 memory, allocated at its first hash and reused.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// At least the blocks `params` need (Argon2 uses the first ones); grows
    /// for a stored hash with a higher memory cost.
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks = vec![Block::default(); needed];
        }
        &mut self.blocks
    }
}

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
        let pace = Arc::new(Pace::new());
        for n in 0..permits {
            let queue = queue.clone();
            let pace = pace.clone();
            std::thread::Builder::new()
                .name(format!("lms-hash-{n}"))
                .spawn(move || hash_thread(&queue, &pace))
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
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let out = work(memory);
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
        self.run(move |memory| phc_hash(&params, password.as_bytes(), memory))
            .await?
    }

    /// Checks `password` against the PHC string `stored`.
    pub(crate) async fn verify(&self, password: &str, stored: &str) -> Result<Verified> {
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move |memory| {
            let hash = PasswordHash::new(&stored).map_err(Error::internal)?;
            let ok = matches(password.as_bytes(), &hash, memory);
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

/// A hash thread: lowers its own priority, then runs jobs at the shared
/// [`Pace`] until the [`Hasher`] is dropped.
///
/// One thread waits on the queue at a time (the others wait for the lock),
/// so idle threads give their memory back one [`RELEASE_MEMORY_AFTER`]
/// after another.
fn hash_thread(queue: &Mutex<Receiver<Job>>, pace: &Pace) {
    lower_priority();
    let mut memory = Memory::default();
    let mut in_lane = false;
    loop {
        // The lock is held only while waiting: the job runs after it drops.
        let job = queue.lock().map(|q| q.recv_timeout(RELEASE_MEMORY_AFTER));
        match job {
            Ok(Ok(job)) => pace.run(&mut in_lane, || job(&mut memory)),
            Ok(Err(RecvTimeoutError::Timeout)) => memory = Memory::default(),
            _ => return,
        }
    }
}

/// How many hashes run at once, and where: as many as there are hash
/// threads, on any core, while the hashes have the cores to themselves; one
/// at a time, on one core, while other work wants them too.
///
/// Each hash thread compares the CPU time its last hash got with the wall
/// time it took. Under half means the cores were busy with something else
/// (requests, the database, another process): the hashes then take turns
/// in one lane, on the last core, until a hash again gets at least half a
/// core. The nice value alone is not enough. Two Argon2 hashes at once
/// hold 2 x 19 MiB, more than a 32 MiB L3 cache, and a hash sliced in
/// between requests on every core leaves each core's own caches cold for
/// the next request. In the benchmark's login storm (SQLite) the catalog's
/// p99 was 5.1 to 5.4 ms with neither, 4.4 to 4.5 ms with the lane, 3.7
/// to 4.4 ms with the lane on one core; logins alone, with idle cores, ran
/// as fast as before.
#[derive(Debug)]
struct Pace {
    contended: AtomicBool,
    lane: Mutex<()>,
    /// `None` with a single core: nothing to keep a hash off.
    cores: Option<Cores>,
}

impl Pace {
    fn new() -> Self {
        Self {
            contended: AtomicBool::new(false),
            lane: Mutex::new(()),
            cores: Cores::of_this_thread(),
        }
    }

    /// Runs `hash` on this thread, in the lane if the last hash measured
    /// was contended, and measures it. `in_lane` is this thread's own:
    /// whether it is already confined to the lane's core.
    fn run(&self, in_lane: &mut bool, hash: impl FnOnce()) {
        let contended = self.contended.load(Ordering::Relaxed);
        let _lane = contended.then(|| self.lane.lock().unwrap_or_else(PoisonError::into_inner));
        if contended != *in_lane {
            if let Some(cores) = &self.cores {
                cores.confine(contended);
            }
            *in_lane = contended;
        }
        let started = Instant::now();
        let cpu_before = thread_cpu();
        hash();
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu()) {
            self.record(after.saturating_sub(before), started.elapsed());
        }
    }

    /// Records that a hash got `cpu` of CPU time in `wall` of wall time.
    fn record(&self, cpu: Duration, wall: Duration) {
        self.contended.store(cpu * 2 < wall, Ordering::Relaxed);
    }
}

/// The cores the process may use, and the lane's one core among them.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy)]
struct Cores {
    all: rustix::thread::CpuSet,
    lane: rustix::thread::CpuSet,
}

#[cfg(target_os = "linux")]
impl Cores {
    /// From the calling thread's affinity, which new threads inherit;
    /// `None` when it allows fewer than two cores.
    fn of_this_thread() -> Option<Self> {
        use rustix::thread::{CpuSet, sched_getaffinity};
        let all = sched_getaffinity(None).ok()?;
        if all.count() < 2 {
            return None;
        }
        let last = (0..CpuSet::MAX_CPU).rev().find(|&cpu| all.is_set(cpu))?;
        let mut lane = CpuSet::new();
        lane.set(last);
        Some(Self { all, lane })
    }

    /// Keeps the calling thread on the lane's core, or lets it go anywhere.
    fn confine(&self, to_lane: bool) {
        let cores = if to_lane { &self.lane } else { &self.all };
        if let Err(e) = rustix::thread::sched_setaffinity(None, cores) {
            // As with the nice value: hashing works the same, only less polite.
            tracing::debug!(error = %e, "could not move a hash thread");
        }
    }
}

/// Elsewhere hashes may run on any core.
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, Copy)]
struct Cores;

#[cfg(not(target_os = "linux"))]
impl Cores {
    fn of_this_thread() -> Option<Self> {
        None
    }

    fn confine(&self, _to_lane: bool) {}
}

/// The CPU time the calling thread has used, where the platform tells it.
fn thread_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        use rustix::time::{ClockId, clock_gettime};
        let now = clock_gettime(ClockId::ThreadCPUTime);
        Some(Duration::new(
            u64::try_from(now.tv_sec).ok()?,
            u32::try_from(now.tv_nsec).ok()?,
        ))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Argon2id v1.3 of `password` with `params` and a fresh random salt, as a
/// PHC string, hashed in `memory`.
fn phc_hash(params: &Params, password: &[u8], memory: &mut Memory) -> Result<String> {
    let salt = generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Hasher::argon2(params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, memory.blocks(params))
        .map_err(Error::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(Error::internal)?,
        salt: Some(Salt::new(&salt).map_err(Error::internal)?),
        hash: Some(Output::new(&out).map_err(Error::internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to `hash` under the algorithm, version and
/// costs `hash` names, hashed in `memory`. A hash that cannot be checked
/// (no salt, an unknown algorithm, costs out of range) matches nothing.
fn matches(password: &[u8], hash: &PasswordHash, memory: &mut Memory) -> bool {
    let mut check = || -> std::result::Result<bool, argon2::password_hash::Error> {
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::new(hash.algorithm.as_str())?;
        let version = hash
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(hash)?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            salt,
            &mut out,
            memory.blocks(&params),
        )?;
        // `Output` compares in constant time.
        Ok(Output::new(&out)? == *expected)
    };
    check().unwrap_or(false)
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
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

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

    #[test]
    fn hashes_in_reused_memory_are_the_standard_phc_hashes() {
        let standard = |m: u32, t: u32| Hasher::argon2(Params::new(m, t, 1, None).unwrap());
        let params = Hasher::new(&config()).unwrap().params;
        // One memory for every step below: each leaves the next stale blocks.
        let mut memory = Memory::default();
        let ours = phc_hash(&params, b"correct horse", &mut memory).unwrap();
        let ours = PasswordHash::new(&ours).unwrap();
        assert!(
            standard(19456, 2)
                .verify_password(b"correct horse", &ours)
                .is_ok()
        );
        assert!(matches(b"correct horse", &ours, &mut memory));
        assert!(!matches(b"wrong horse", &ours, &mut memory));
        // Hashes the crate made on its own, with more memory than the
        // configured costs (the memory grows), then with less (a prefix of
        // it, holding the bigger hash's blocks).
        for (m, t) in [(32768, 2), (8192, 1)] {
            let theirs = standard(m, t).hash_password(b"battery staple").unwrap();
            assert!(
                matches(b"battery staple", &theirs, &mut memory),
                "m={m}, t={t}"
            );
            assert!(!matches(b"battery stapler", &theirs, &mut memory));
        }
        assert_eq!(memory.blocks.len(), 32768);
        // Nothing to compare with: no match, and no panic.
        let saltless = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1").unwrap();
        assert!(!matches(b"correct horse", &saltless, &mut memory));
    }

    #[test]
    fn a_hash_that_got_under_half_a_core_makes_the_next_ones_take_turns() {
        let pace = Pace::new();
        let ms = Duration::from_millis;
        pace.record(ms(60), ms(100));
        assert!(!pace.contended.load(Ordering::Relaxed));
        pace.record(ms(40), ms(100));
        assert!(pace.contended.load(Ordering::Relaxed));
        pace.record(ms(95), ms(100));
        assert!(!pace.contended.load(Ordering::Relaxed));
        // Measured for real: a job that waits uses no CPU while the time
        // passes, as a hash does that other threads keep off the cores.
        pace.run(&mut false, || std::thread::sleep(ms(50)));
        assert!(pace.contended.load(Ordering::Relaxed));
    }

    /// Two hash threads' jobs: the first holds on until told to finish; the
    /// answer is whether the second started while the first still ran.
    fn second_starts_beside_first(pace: &Pace) -> bool {
        let (first_started, wait_first) = std::sync::mpsc::channel();
        let (finish_first, first_may_finish) = std::sync::mpsc::channel::<()>();
        let (second_started, wait_second) = std::sync::mpsc::channel();
        let long = Duration::from_secs(10);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                pace.run(&mut false, move || {
                    first_started.send(()).unwrap();
                    let _ = first_may_finish.recv_timeout(long);
                });
            });
            wait_first.recv_timeout(long).unwrap();
            scope.spawn(move || pace.run(&mut false, move || second_started.send(()).unwrap()));
            let beside = wait_second.recv_timeout(Duration::from_millis(300)).is_ok();
            finish_first.send(()).unwrap();
            // Either way the second runs once the first is done.
            if !beside {
                wait_second.recv_timeout(long).unwrap();
            }
            beside
        })
    }

    #[test]
    fn hashes_run_side_by_side_until_contended_then_one_at_a_time() {
        let pace = Pace::new();
        assert!(second_starts_beside_first(&pace));
        pace.contended.store(true, Ordering::Relaxed);
        assert!(!second_starts_beside_first(&pace));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_contended_hash_runs_on_one_core_and_the_next_uncontended_one_anywhere() {
        use rustix::thread::sched_getaffinity;
        let pace = Pace::new();
        let allowed = sched_getaffinity(None).unwrap().count();
        let Some(cores) = pace.cores else {
            assert_eq!(allowed, 1, "a lane core is picked whenever there are two");
            return;
        };
        assert_eq!(cores.all.count(), allowed);
        // On a thread of its own: the test's thread keeps its cores.
        std::thread::spawn(move || {
            let cores_seen = |contended: bool, in_lane: &mut bool| {
                pace.contended.store(contended, Ordering::Relaxed);
                let mut seen = 0;
                pace.run(in_lane, || seen = sched_getaffinity(None).unwrap().count());
                seen
            };
            let mut in_lane = false;
            assert_eq!(cores_seen(true, &mut in_lane), 1);
            assert!(in_lane);
            assert_eq!(cores_seen(true, &mut in_lane), 1);
            assert_eq!(cores_seen(false, &mut in_lane), allowed);
            assert!(!in_lane);
        })
        .join()
        .unwrap();
    }

    #[tokio::test]
    async fn a_hash_thread_keeps_its_memory_between_hashes() {
        let mut one = config();
        one.hash_concurrency = 1;
        let hasher = Hasher::new(&one).unwrap();
        hasher.hash("correct horse battery").await.unwrap();
        let kept = hasher
            .run(|memory| (memory.blocks.len(), memory.blocks.as_ptr() as usize))
            .await
            .unwrap();
        assert_eq!(kept.0, hasher.params.block_count());
        hasher.hash("another password").await.unwrap();
        let again = hasher
            .run(|memory| (memory.blocks.len(), memory.blocks.as_ptr() as usize))
            .await
            .unwrap();
        assert_eq!(again, kept, "the same blocks, not new ones");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_at_a_lower_priority_than_the_caller() {
        let hasher = Hasher::new(&config()).unwrap();
        let caller = rustix::process::getpriority_process(None).unwrap();
        let worker = hasher
            .run(|_| rustix::process::getpriority_process(None).unwrap())
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
        let call = hasher.run(move |_| {
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
        hasher.run(|_| ()).await.unwrap();
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
