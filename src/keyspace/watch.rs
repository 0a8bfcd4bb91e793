//! `WATCH`: which clients watch which keys, and marking them when a key
//! changes.
//!
//! The registry lives in the [`Store`](super::Store), under the keyspace
//! lock, and is only read or changed under the write guard: `WATCH` and
//! `UNWATCH` register and unregister there, and the commit marks the
//! watchers of every key a command changed. A client's side is a
//! [`Watching`]: its keys and a [`WatchFlag`] shared with the registry,
//! which `EXEC` reads. With no key watched the registry is empty, the change
//! log does not keep keys, and a commit does not look here at all.
//!
//! It never does I/O; it only touches memory under the write guard.

use super::Db;
use super::changes::Change;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when a key a client watches changes; `EXEC` then aborts.
#[derive(Debug, Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    /// Whether a watched key changed since `WATCH`.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    fn mark(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }
}

/// A client's watched keys.
#[derive(Debug, Default)]
pub struct Watching {
    /// Shared with the registry.
    pub flag: Arc<WatchFlag>,
    /// `(database, key)`, each once.
    pub keys: Vec<(usize, Vec<u8>)>,
}

/// One client watching one key.
#[derive(Debug)]
struct Watcher {
    flag: Arc<WatchFlag>,
    /// The key was stored but past its deadline when watched: its removal
    /// by the sweeper is then no change (as in Redis).
    expired_at_watch: bool,
}

/// Every watched key, by database, with its watchers.
#[derive(Debug, Default)]
pub struct Watches {
    by_db: Vec<HashMap<Vec<u8>, Vec<Watcher>>>,
    keys: usize,
}

impl Watches {
    /// Whether no key is watched.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Keys watched, counted once per database and key.
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Registers `flag` as watching `key` in `db`; `expired` says whether
    /// it is stored but past its deadline now.
    pub(super) fn add(&mut self, flag: &Arc<WatchFlag>, db: usize, key: &[u8], expired: bool) {
        if self.by_db.len() <= db {
            self.by_db.resize_with(db + 1, HashMap::new);
        }
        let watchers = self.by_db[db].entry(key.to_vec()).or_insert_with(|| {
            self.keys += 1;
            Vec::new()
        });
        watchers.push(Watcher {
            flag: flag.clone(),
            expired_at_watch: expired,
        });
    }

    /// Unregisters `flag` from each of `keys`.
    pub(super) fn remove(&mut self, flag: &Arc<WatchFlag>, keys: &[(usize, Vec<u8>)]) {
        for (db, key) in keys {
            let Some(map) = self.by_db.get_mut(*db) else {
                continue;
            };
            let Some(watchers) = map.get_mut(key.as_slice()) else {
                continue;
            };
            watchers.retain(|w| !Arc::ptr_eq(&w.flag, flag));
            if watchers.is_empty() {
                map.remove(key.as_slice());
                self.keys -= 1;
            }
        }
    }

    /// Whether a key of `watching` that was live when watched is now past
    /// its deadline, though not yet removed (Redis's EXEC checks this too).
    pub(super) fn expired_since_watch(&self, watching: &Watching, dbs: &[Db], now: u64) -> bool {
        watching.keys.iter().any(|(db, key)| {
            let live_at_watch = self
                .by_db
                .get(*db)
                .and_then(|m| m.get(key.as_slice()))
                .and_then(|ws| ws.iter().find(|w| Arc::ptr_eq(&w.flag, &watching.flag)))
                .is_some_and(|w| !w.expired_at_watch);
            live_at_watch && dbs[*db].is_stored_expired(key, now)
        })
    }

    /// Marks the watchers of every key in `changes`; `dbs` is the keyspace
    /// after them.
    pub(super) fn touch(&mut self, changes: &[Change], dbs: &[Db]) {
        for change in changes {
            match change {
                Change::Key { db, entry, .. } => self.touch_key(*db, entry.key(), dbs),
                Change::Flushed { db, keys } => {
                    for entry in keys {
                        self.touch_key(*db, entry.key(), dbs);
                    }
                }
                Change::Swapped { a, b, now } => {
                    // After the swap each database holds what the other
                    // held: for the watchers of `x`, the contents it lost
                    // are now in `other`, the ones it gained in `x`.
                    self.touch_swapped(*a, *b, dbs, *now);
                    if a != b {
                        self.touch_swapped(*b, *a, dbs, *now);
                    }
                }
            }
        }
    }

    /// Marks the watchers of database `x` after a swap with `other`, as
    /// Redis does: a key that existed on either side changed, unless it
    /// was past its deadline when watched and is now absent or still past
    /// one, or was absent and is now only a key past its deadline.
    fn touch_swapped(&mut self, x: usize, other: usize, dbs: &[Db], now: u64) {
        let Some(map) = self.by_db.get_mut(x) else {
            return;
        };
        let (lost, gained) = (&dbs[other], &dbs[x]);
        for (key, watchers) in map.iter_mut() {
            let had = lost.stored(key).is_some();
            let has = gained.stored(key).is_some();
            if !had && !has {
                continue;
            }
            let stale_now = gained.is_stored_expired(key, now);
            for w in watchers.iter_mut() {
                if w.expired_at_watch {
                    if !has {
                        w.expired_at_watch = false;
                        continue;
                    }
                    if stale_now {
                        continue;
                    }
                } else if !had && stale_now {
                    w.expired_at_watch = true;
                    continue;
                }
                w.flag.mark();
            }
        }
    }

    fn touch_key(&mut self, db: usize, key: &[u8], dbs: &[Db]) {
        let Some(watchers) = self.by_db.get_mut(db).and_then(|m| m.get_mut(key)) else {
            return;
        };
        let gone = dbs[db].stored(key).is_none();
        for w in watchers {
            if w.expired_at_watch && gone {
                // The key was already logically gone when watched; its
                // removal changes nothing, but a later change does.
                w.expired_at_watch = false;
                continue;
            }
            w.flag.mark();
        }
    }

    /// The watched keys of `db` that `old` holds (live or not): those a
    /// flush of `old` changes.
    pub(super) fn held_by<'a>(&self, db: usize, old: &'a Db) -> Vec<&'a super::Entry> {
        self.by_db
            .get(db)
            .map(|map| map.keys().filter_map(|k| old.stored(k)).collect())
            .unwrap_or_default()
    }
}

/// Bits in a [`KeyFilter`].
const FILTER_BITS: usize = 4096;

/// A filter of the watched keys: one bit per slot of a seeded hash of the
/// database and key. It never misses a watched key; a key nobody watches
/// passes it rarely (about one in 4,096 per watched key) and then costs a
/// lookup in the registry, nothing worse. Bits are set as keys are watched
/// and all cleared when the last watch goes.
#[derive(Debug)]
pub struct KeyFilter {
    seed: u64,
    bits: Box<[u64; FILTER_BITS / 64]>,
    set: usize,
}

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter {
            seed: RandomState::new().hash_one(0x7761_7463_6865_645f_u64),
            bits: Box::new([0; FILTER_BITS / 64]),
            set: 0,
        }
    }
}

impl KeyFilter {
    /// Whether no key was added since the last clear.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.set == 0
    }

    fn slot(&self, db: usize, key: &[u8]) -> usize {
        let h = super::db::mix_hash(self.seed ^ (db as u64).wrapping_mul(super::db::MIX), key);
        (h ^ (h >> 29)).wrapping_mul(super::db::MIX) as usize >> 52 & (FILTER_BITS - 1)
    }

    /// Adds `key` of database `db`.
    pub fn insert(&mut self, db: usize, key: &[u8]) {
        let slot = self.slot(db, key);
        self.bits[slot / 64] |= 1 << (slot % 64);
        self.set += 1;
    }

    /// Whether `key` of database `db` may have been added.
    #[inline]
    pub fn may_hold(&self, db: usize, key: &[u8]) -> bool {
        let slot = self.slot(db, key);
        self.bits[slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        *self.bits = [0; FILTER_BITS / 64];
        self.set = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_holds_every_key_added_and_few_others() {
        let mut filter = KeyFilter::default();
        assert!(filter.is_empty());
        filter.insert(0, b"watched");
        filter.insert(3, b"");
        assert!(filter.may_hold(0, b"watched") && filter.may_hold(3, b""));
        let passing = (0..100_000u32)
            .filter(|i| filter.may_hold(0, format!("key:{i:010}").as_bytes()))
            .count();
        // Two bits of 4,096 set: about 49 of 100,000 expected.
        assert!(passing < 200, "{passing} of 100,000 pass");
        filter.clear();
        assert!(filter.is_empty() && !filter.may_hold(0, b"watched"));
    }
}
