//! The read cache: answers many requests share (the public catalog, course
//! trees, the session behind an access token), kept for a short while.
//!
//! An entry is served only while both hold:
//! - it is younger than `Config::read_cache_ttl_ms`, which bounds how late
//!   another instance's change shows here (instances share nothing but the
//!   store, so each one's copy may lag by at most that much);
//! - the store has committed no write step since the entry was read
//!   ([`Store::committed_writes`]), so this instance's own changes show at
//!   once. A step that changes nothing cached (a progress write, a login
//!   attempt) does not count.
//!
//! A zero TTL, or a store that does not count its writes, turns it off.
//!
//! [`Store::committed_writes`]: crate::store::Store::committed_writes

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most entries one cache keeps; past it, it starts over.
const MAX_ENTRIES: usize = 10_000;

/// One kind of answer, by key.
#[derive(Debug)]
pub(crate) struct ReadCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    read_at: Instant,
    /// The store's write count taken before the value was read.
    writes: u64,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` if it is younger than `ttl` and no write was
    /// committed since it was read (`writes` is the count now).
    pub(crate) fn get(&self, key: &K, writes: u64, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().expect("read cache");
        entries
            .get(key)
            .filter(|e| e.writes == writes && e.read_at.elapsed() < ttl)
            .map(|e| e.value.clone())
    }

    /// Keeps `value`, read after the store had committed `writes` steps and
    /// started at `read_at`.
    pub(crate) fn put(&self, key: K, value: V, writes: u64, read_at: Instant) {
        let mut entries = self.entries.lock().expect("read cache");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                value,
                read_at,
                writes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_a_write_is_committed() {
        let cache = ReadCache::new();
        cache.put("k", 1, 7, Instant::now());
        assert_eq!(cache.get(&"k", 7, Duration::from_secs(60)), Some(1));
        assert_eq!(cache.get(&"k", 8, Duration::from_secs(60)), None);
        assert_eq!(cache.get(&"other", 7, Duration::from_secs(60)), None);
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_not_served() {
        let cache = ReadCache::new();
        let long_ago = Instant::now() - Duration::from_secs(5);
        cache.put("k", 1, 0, long_ago);
        assert_eq!(cache.get(&"k", 0, Duration::from_secs(1)), None);
        assert_eq!(cache.get(&"k", 0, Duration::from_secs(60)), Some(1));
    }
}
