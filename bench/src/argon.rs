//! Password hashing with the core's parameters: to make the one hash every
//! seeded account shares, and to time one hash for the login ceiling.
//!
//! The core keeps its hasher private; the parameters are public
//! (`Config::default()`), and Argon2id v0x13 with them is the whole recipe,
//! so a hash made here is one the core verifies without rehashing.

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
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

/// The time of one hash: the median of `runs` (after one untimed run that
/// pays for first-touch page faults), on this thread. The median, not the
/// fastest: the login scenario shares the machine with the same neighbours.
pub fn time_one_hash(runs: usize) -> Duration {
    let hasher = argon2();
    let _ = hasher.hash_password(b"warm up the allocator");
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            let _ = hasher.hash_password(b"a password of ordinary length");
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
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
}
