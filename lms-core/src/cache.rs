//! The read cache: answers many requests share (the public catalog, course
//! trees, the session behind an access token, the course a lecture is in),
//! kept for a short while.
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
//! An entry in the last quarter of its TTL is read anew by the first
//! request to find it there, while the others are still served the entry:
//! a popular answer is then refreshed before it expires, and only that one
//! request waits for the store, rather than every request in flight for it.
//!
//! [`Store::committed_writes`]: crate::store::Store::committed_writes

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::Result;

/// Most sessions kept: a few dozen bytes each.
pub(crate) const MAX_SESSIONS: usize = 100_000;

/// Most lecture-to-course links kept: a few dozen bytes each.
pub(crate) const MAX_LECTURES: usize = 100_000;

/// Most catalog pages, and most course trees, kept: tens of kilobytes each.
pub(crate) const MAX_PAGES: usize = 1_000;

/// One kind of answer, by key.
#[derive(Debug)]
pub(crate) struct ReadCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    /// Keys being read now. A miss on one of them waits for that read
    /// rather than make its own: when a popular entry expires, the
    /// requests in flight for it would otherwise all read it at once.
    loading: Mutex<HashMap<K, Arc<Notify>>>,
    /// Most entries kept: keys come from requests (search words, slugs),
    /// so without a bound anyone could grow the cache at will.
    max: usize,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    read_at: Instant,
    /// The store's write count taken before the value was read.
    writes: u64,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// A cache of at most `max` entries.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// The value for `key` if it is younger than `ttl` and no write was
    /// committed since it was read (`writes` is the count now).
    #[cfg(test)]
    fn get(&self, key: &K, writes: u64, ttl: Duration) -> Option<V> {
        self.lookup(key, writes, ttl).map(|(value, _)| value)
    }

    /// [`get`](Self::get), and whether the value is in the last quarter of
    /// its life, to be read anew.
    fn lookup(&self, key: &K, writes: u64, ttl: Duration) -> Option<(V, bool)> {
        let entries = self.entries.lock().expect("read cache");
        let entry = entries.get(key).filter(|e| e.writes == writes)?;
        let age = entry.read_at.elapsed();
        (age < ttl).then(|| (entry.value.clone(), age >= ttl - ttl / 4))
    }

    /// The value for `key`, or `load`'s, kept; one load per key at a time
    /// (see `loading`). `writes` tells the store's write count now.
    pub(crate) async fn get_or_load<F>(
        &self,
        key: K,
        writes: impl Fn() -> u64,
        ttl: Duration,
        load: F,
    ) -> Result<V>
    where
        K: Clone,
        F: Future<Output = Result<V>>,
    {
        loop {
            let now = writes();
            // Fresh: served. Aging: served unless no one is reading it anew.
            let aging = match self.lookup(&key, now, ttl) {
                Some((value, false)) => return Ok(value),
                Some((value, true)) => Some(value),
                None => None,
            };
            let other = {
                let mut loading = self.loading.lock().expect("read cache");
                match loading.get(&key) {
                    Some(other) => match aging {
                        // Being read anew: served meanwhile.
                        Some(value) => return Ok(value),
                        None => Some(other.clone()),
                    },
                    None => {
                        loading.insert(key.clone(), Arc::new(Notify::new()));
                        None
                    }
                }
            };
            let Some(other) = other else {
                let _done = Loading {
                    cache: self,
                    key: &key,
                };
                let read_at = Instant::now();
                return match load.await {
                    Ok(value) => {
                        self.put(key.clone(), value.clone(), now, read_at, ttl);
                        Ok(value)
                    }
                    // An early read that failed leaves the entry servable.
                    Err(e) => aging.ok_or(e),
                };
            };
            // Wait for the other load, then look again: the value is there,
            // or (it failed, or a write came since) this request reads it.
            // A `Notified` hears every wake-up after it is made, so once it
            // is made, seeing the same load still running means it will.
            let loaded = other.notified();
            let running = self
                .loading
                .lock()
                .expect("read cache")
                .get(&key)
                .is_some_and(|n| Arc::ptr_eq(n, &other));
            if running {
                loaded.await;
            }
        }
    }

    /// Keeps `value`, read after the store had committed `writes` steps and
    /// started at `read_at`. When the cache is full, entries that can no
    /// longer be served go first; if that is not enough, all of them.
    pub(crate) fn put(&self, key: K, value: V, writes: u64, read_at: Instant, ttl: Duration) {
        let mut entries = self.entries.lock().expect("read cache");
        if entries.len() >= self.max {
            entries.retain(|_, e| e.writes == writes && e.read_at.elapsed() < ttl);
            if entries.len() >= self.max {
                entries.clear();
            }
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

/// Ends a load, however it ends (done, failed, dropped): the key is free
/// and whoever waits for it looks again.
struct Loading<'a, K: Eq + Hash, V> {
    cache: &'a ReadCache<K, V>,
    key: &'a K,
}

impl<K: Eq + Hash, V> Drop for Loading<'_, K, V> {
    fn drop(&mut self) {
        let mut loading = self.cache.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(notify) = loading.remove(self.key) {
            notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn misses_on_one_key_wait_for_one_load() {
        let cache: Arc<ReadCache<&str, u32>> = Arc::new(ReadCache::new(10));
        let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load("k", || 0, MINUTE, async {
                            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(7)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 7);
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(cache.loading.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_dropped_load_lets_the_next_miss_load() {
        let cache: Arc<ReadCache<&str, u32>> = Arc::new(ReadCache::new(10));
        let failed = cache
            .get_or_load("k", || 0, MINUTE, async {
                Err(crate::Error::not_found("gone"))
            })
            .await;
        assert!(failed.is_err());
        let dropped = tokio::time::timeout(
            Duration::from_millis(20),
            cache.get_or_load("k", || 0, MINUTE, async {
                tokio::time::sleep(MINUTE).await;
                Ok(1)
            }),
        )
        .await;
        assert!(dropped.is_err());
        let loaded = cache.get_or_load("k", || 0, MINUTE, async { Ok(2) });
        assert_eq!(loaded.await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aging_entry_is_read_anew_by_one_request_while_the_others_are_served_it() {
        let cache: Arc<ReadCache<&str, u32>> = Arc::new(ReadCache::new(10));
        let ttl = Duration::from_secs(20);
        let aged = |secs| Instant::now() - Duration::from_secs(secs);
        // Younger than three quarters of the TTL: served, nothing read.
        cache.put("k", 1, 0, aged(2), ttl);
        let unread = cache.get_or_load("k", || 0, ttl, async { panic!("read a fresh entry") });
        assert_eq!(unread.await.unwrap(), 1);

        cache.put("k", 1, 0, aged(16), ttl);
        let (started, start) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_load("k", || 0, ttl, async {
                        started.send(()).unwrap();
                        released.await.unwrap();
                        Ok(2)
                    })
                    .await
            })
        };
        start.await.unwrap();
        // While it reads, the others get the entry without waiting or reading.
        let others = cache.get_or_load("k", || 0, ttl, async { panic!("read it twice") });
        assert_eq!(others.await.unwrap(), 1);
        release.send(()).unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), 2);
        assert_eq!(cache.lookup(&"k", 0, ttl), Some((2, false)));

        // An early read that fails leaves the entry as it was.
        cache.put("k", 3, 0, aged(18), ttl);
        let failed = cache.get_or_load("k", || 0, ttl, async {
            Err(crate::Error::internal("store down"))
        });
        assert_eq!(failed.await.unwrap(), 3);
        // Past the TTL nothing is served: a failed read is the answer.
        cache.put("k", 3, 0, aged(22), ttl);
        let expired = cache.get_or_load("k", || 0, ttl, async {
            Err(crate::Error::internal("store down"))
        });
        assert!(expired.await.is_err());
    }

    #[test]
    fn an_entry_is_served_until_a_write_is_committed() {
        let cache = ReadCache::new(10);
        cache.put("k", 1, 7, Instant::now(), MINUTE);
        assert_eq!(cache.get(&"k", 7, Duration::from_secs(60)), Some(1));
        assert_eq!(cache.get(&"k", 8, Duration::from_secs(60)), None);
        assert_eq!(cache.get(&"other", 7, Duration::from_secs(60)), None);
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_not_served() {
        let cache = ReadCache::new(10);
        let long_ago = Instant::now() - Duration::from_secs(5);
        cache.put("k", 1, 0, long_ago, MINUTE);
        assert_eq!(cache.get(&"k", 0, Duration::from_secs(1)), None);
        assert_eq!(cache.get(&"k", 0, Duration::from_secs(60)), Some(1));
    }

    #[test]
    fn a_full_cache_drops_stale_entries_first_and_never_grows_past_its_bound() {
        let cache = ReadCache::new(2);
        cache.put(1, "stale", 0, Instant::now(), MINUTE);
        cache.put(2, "fresh", 1, Instant::now(), MINUTE);
        // Full: the entry read before write 1 goes, the fresh one stays.
        cache.put(3, "new", 1, Instant::now(), MINUTE);
        assert_eq!(cache.get(&1, 1, MINUTE), None);
        assert_eq!(cache.get(&2, 1, MINUTE), Some("fresh"));
        assert_eq!(cache.get(&3, 1, MINUTE), Some("new"));
        // Full of servable entries: it starts over rather than grow.
        cache.put(4, "newer", 1, Instant::now(), MINUTE);
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        assert_eq!(cache.get(&4, 1, MINUTE), Some("newer"));
    }
}
