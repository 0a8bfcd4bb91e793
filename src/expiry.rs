//! Deadlines: the min-heap of `(deadline, key)` and the sweeper's wake-ups.
//!
//! [`DeadlineHeap`] lives inside the keyspace lock, so a deadline and its heap
//! entry change together. An entry is only a hint: when a key is overwritten,
//! persisted, re-expired or deleted its old entry stays behind, and whoever
//! pops it checks the key's current deadline first. Stale entries are counted
//! exactly, and the heap is compacted when they outnumber the live ones plus a
//! floor ([`COMPACT_FLOOR`]), so memory stays proportional to the keys that
//! have a deadline however often they are re-set.
//!
//! [`ExpiryState`] is what the sweeper thread sleeps on: the earliest deadline
//! it knows of and a condition variable that writers signal when they add an
//! earlier one. It holds no keys and never touches the keyspace lock.

use crate::keyspace::Key;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Most keys removed per hold of the write lock.
pub const SWEEP_BATCH: usize = 1000;

/// Stale entries tolerated before a compaction, beyond one per live entry.
pub const COMPACT_FLOOR: usize = 1024;

/// The longest the sweeper sleeps, so a wall-clock jump cannot strand it.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// A min-heap of `(deadline, key)` hints, with its count of stale entries.
#[derive(Default)]
pub struct DeadlineHeap {
    heap: BinaryHeap<Reverse<(u64, Key)>>,
    stale: usize,
}

impl DeadlineHeap {
    /// Adds a hint that `key` expires at `deadline`.
    pub fn push(&mut self, deadline: u64, key: Key) {
        self.heap.push(Reverse((deadline, key)));
    }

    /// Notes that one entry in the heap no longer matches its key.
    pub fn mark_stale(&mut self) {
        self.stale += 1;
    }

    /// The earliest deadline in the heap (maybe a stale one).
    pub fn next_deadline(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Entries in the heap, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether the heap is empty.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Entries known to be stale.
    pub fn stale(&self) -> usize {
        self.stale
    }

    /// Pops the earliest entry if its deadline is at or before `now`. The
    /// caller says, through [`DeadlineHeap::popped_stale`], if it was stale.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Key)> {
        match self.heap.peek() {
            Some(Reverse((d, _))) if *d <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Notes that a popped entry was stale (it no longer counts as such).
    pub fn popped_stale(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    /// Whether stale entries outnumber `live` plus the floor.
    pub fn wants_compaction(&self, live: usize) -> bool {
        self.stale > live + COMPACT_FLOOR
    }

    /// Keeps only the entries `is_current` accepts, in O(len) time.
    pub fn compact(&mut self, mut is_current: impl FnMut(u64, &Key) -> bool) {
        self.heap.retain(|Reverse((d, k))| is_current(*d, k));
        self.stale = 0;
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.heap = BinaryHeap::new();
        self.stale = 0;
    }
}

/// The sweeper's alarm clock and the expiry counters.
#[derive(Default)]
pub struct ExpiryState {
    /// Earliest deadline the sleeping sweeper knows of (`u64::MAX`: none).
    earliest: Mutex<u64>,
    alarm: Condvar,
    /// Bumped on every deadline added, so the sweeper can tell that it
    /// missed one between reading the heap and going to sleep.
    generation: AtomicU64,
    expired_keys: AtomicU64,
    stop: std::sync::atomic::AtomicBool,
}

impl ExpiryState {
    /// Tells the sweeper that `deadline` was added; wakes it if it is earlier
    /// than what it sleeps towards. Called with the keyspace lock held.
    pub fn deadline_added(&self, deadline: u64) {
        self.generation.fetch_add(1, Ordering::Release);
        let mut earliest = self.earliest.lock().unwrap_or_else(PoisonError::into_inner);
        if deadline < *earliest {
            *earliest = deadline;
            self.alarm.notify_one();
        }
    }

    /// The current generation; see [`ExpiryState::sleep_until`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Sleeps until `next` (Unix ms; `None` = no deadline), at most
    /// [`MAX_SLEEP`], unless a deadline was added since `seen_generation`
    /// or an earlier one arrives meanwhile.
    pub fn sleep_until(&self, next: Option<u64>, seen_generation: u64, now: u64) {
        let mut earliest = self.earliest.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation() != seen_generation || self.stopping() {
            return;
        }
        *earliest = next.unwrap_or(u64::MAX);
        let wait = next.map_or(MAX_SLEEP, |d| {
            Duration::from_millis(d.saturating_sub(now)).min(MAX_SLEEP)
        });
        if wait.is_zero() {
            return;
        }
        let _ = self.alarm.wait_timeout(earliest, wait);
    }

    /// Adds `n` to the count of keys expired (on access or by the sweeper).
    pub fn count_expired(&self, n: u64) {
        if n > 0 {
            self.expired_keys.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Keys expired since start.
    pub fn expired_keys(&self) -> u64 {
        self.expired_keys.load(Ordering::Relaxed)
    }

    /// Asks the sweeper to stop, and wakes it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _guard = self.earliest.lock().unwrap_or_else(PoisonError::into_inner);
        self.alarm.notify_all();
    }

    /// Whether [`ExpiryState::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn key(s: &str) -> Key {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn pops_only_due_entries_in_deadline_order() {
        let mut h = DeadlineHeap::default();
        h.push(30, key("c"));
        h.push(10, key("a"));
        h.push(20, key("b"));
        assert_eq!(h.pop_due(5), None);
        assert_eq!(h.pop_due(25).unwrap().0, 10);
        assert_eq!(h.pop_due(25).unwrap().0, 20);
        assert_eq!(h.pop_due(25), None);
        assert_eq!(h.next_deadline(), Some(30));
    }

    #[test]
    fn compaction_keeps_only_current_entries() {
        let mut h = DeadlineHeap::default();
        for round in 0..3u64 {
            for i in 0..10 {
                h.push(1000 + round, key(&i.to_string()));
                if round > 0 {
                    h.mark_stale();
                }
            }
        }
        assert_eq!(h.stale(), 20);
        assert!(!h.wants_compaction(10));
        h.compact(|d, _| d == 1002);
        assert_eq!(h.len(), 10);
        assert_eq!(h.stale(), 0);
    }
}
