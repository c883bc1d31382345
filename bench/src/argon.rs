//! Password hashing with the core's parameters: to make the one hash every
//! seeded account shares, and to time one hash for the login ceiling.
//!
//! The core keeps its hasher private; the parameters are public
//! (`Config::default()`), and Argon2id v0x13 with them is the whole recipe,
//! so a hash made here is one the core verifies without rehashing.

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHasher as _, PasswordVerifier as _, Version,
};
use lms_core::Config;

fn argon2() -> Argon2<'static> {
    let config = Config::default();
    let params = Params::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        None,
    )
    .expect("the core's default parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string for `password`, as the core would store it.
pub fn hash(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("hashing cannot fail with valid parameters")
        .to_string()
}

/// Whether `password` matches the PHC string `stored`.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// The time of one hash: the median of `runs`, on this thread. The median,
/// not the fastest: the login scenario shares the machine with the same
/// neighbours.
///
/// The hashes run in one block of memory, touched by an untimed hash
/// first, so they time the hash and nothing else. A fresh allocation per
/// hash would not do: measured here, a new thread's first nine or so
/// 19 MiB allocations came back as untouched pages, and their page faults
/// made those hashes take 30 to 47 ms against 18 ms after. The server's
/// hash threads, long-lived, take no page faults once warm.
pub fn time_one_hash(runs: usize) -> Duration {
    let mut memory = Memory::new();
    memory.hash(b"touch every block once");
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            memory.hash(b"a password of ordinary length");
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Hashes per second with `threads` threads hashing at once, each `runs`
/// times in its own memory (touched first, as in [`time_one_hash`]): what
/// the machine does when every core hashes, which on shared hardware is
/// less than `threads` times one hash alone.
pub fn parallel_hash_rate(threads: usize, runs: usize) -> f64 {
    let threads = threads.max(1);
    let runs = runs.max(1);
    let start = std::sync::Barrier::new(threads);
    let took: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut memory = Memory::new();
                    memory.hash(b"touch every block once");
                    start.wait();
                    let started = Instant::now();
                    for _ in 0..runs {
                        memory.hash(b"a password of ordinary length");
                    }
                    started.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a hashing thread panicked"))
            .collect()
    });
    // Each thread's own rate: the first to finish does not wait for the
    // last, as a login would not.
    took.iter().map(|t| runs as f64 / t.as_secs_f64()).sum()
}

/// The core's hash, run in one block of memory that every call reuses.
struct Memory {
    hasher: Argon2<'static>,
    blocks: Vec<Block>,
}

impl Memory {
    /// The salt of every timed hash: its value does not change the work.
    const SALT: [u8; 16] = [0x5a; 16];

    fn new() -> Self {
        let hasher = argon2();
        let blocks = vec![Block::default(); hasher.params().block_count()];
        Self { hasher, blocks }
    }

    /// The raw 32-byte hash of `password` with [`Self::SALT`].
    fn hash(&mut self, password: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.hasher
            .hash_password_into_with_memory(password, &Self::SALT, &mut out, &mut self.blocks)
            .expect("hashing cannot fail with valid parameters");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("wrong horse battery", &stored));
        assert!(!verify("correct horse battery", "not a phc string"));
    }

    #[test]
    fn the_timed_hash_is_the_core_hash() {
        // Reusing its memory, it still does a whole hash: the same bytes as
        // a PHC hash of the same password and salt, twice over.
        let phc: PasswordHash = argon2()
            .hash_password_with_salt(b"correct horse battery", &Memory::SALT)
            .unwrap();
        let mut memory = Memory::new();
        for _ in 0..2 {
            let raw = memory.hash(b"correct horse battery");
            assert_eq!(phc.hash.as_ref().unwrap().as_bytes(), raw);
        }
    }
}
