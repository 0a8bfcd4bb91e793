//! Deadlines: the min-heap of `(deadline, key)` and the sweeper's alarm clock.
//!
//! [`DeadlineHeap`] lives inside the keyspace lock, so a deadline and its heap
//! entry change together. An entry is only a hint: when a key is overwritten,
//! persisted, re-expired or deleted its old entry stays behind, and whoever
//! pops it checks the key's current deadline first. The heap keeps the
//! invariant *entries = keys with a deadline + stale entries*, so its count of
//! stale entries is exact. When stale entries outnumber the live ones plus a
//! floor ([`COMPACT_FLOOR`]) the heap is compacted, incrementally: the old
//! heap is set aside and drained into a fresh one a few entries per write
//! ([`COMPACT_STEP`]), keeping one entry per key with a deadline and dropping
//! the rest. Memory stays proportional to the keys that have a deadline however
//! often they are re-set, and no single write pays for a whole compaction.
//!
//! [`ExpiryState`] is what the sweeper thread sleeps on: the deadline it has
//! promised to wake by (its alarm) and a condition variable that writers ring
//! only when they add a deadline earlier than the alarm. It holds no keys and
//! never touches the keyspace lock.

use crate::clock::now_ms;
use crate::keyspace::Key;
use std::cmp::Ordering as Order;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Most heap entries the sweeper pops per hold of the write lock.
pub const SWEEP_BATCH: usize = 1000;

/// Stale entries tolerated before a compaction, beyond one per live entry.
pub const COMPACT_FLOOR: usize = 1024;

/// Entries a write moves from the heap being compacted into the fresh one.
/// More than one, so a compaction ends before the new heap doubles.
pub const COMPACT_STEP: usize = 4;

/// The longest the sweeper sleeps, so a wall-clock jump cannot strand it.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// One heap entry. Ordered by deadline alone, earliest first, so that the
/// heap never compares keys: with thousands of keys sharing a millisecond,
/// comparing keys would chase two pointers per comparison.
struct Hint {
    deadline: u64,
    key: Key,
}

impl PartialEq for Hint {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}

impl Eq for Hint {}

impl PartialOrd for Hint {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Hint {
    fn cmp(&self, other: &Self) -> Order {
        // Reversed: `BinaryHeap` is a max-heap.
        other.deadline.cmp(&self.deadline)
    }
}

/// A min-heap of `(deadline, key)` hints, with its exact count of stale ones.
#[derive(Default)]
pub struct DeadlineHeap {
    heap: BinaryHeap<Hint>,
    /// The heap being compacted; drained into `heap` in deadline order.
    draining: BinaryHeap<Hint>,
    /// The deadline of the entries the compaction kept last, and their keys,
    /// to drop duplicates: entries leave the heap in deadline order, so a
    /// key's duplicates leave among the entries of one deadline.
    kept_at: u64,
    kept_keys: HashSet<Key>,
    stale: usize,
}

impl DeadlineHeap {
    /// Adds a hint that `key` expires at `deadline`.
    pub fn push(&mut self, deadline: u64, key: Key) {
        self.heap.push(Hint { deadline, key });
    }

    /// Notes that one entry in the heap no longer matches its key.
    pub fn mark_stale(&mut self) {
        self.stale += 1;
    }

    /// The earliest deadline in the heap (maybe a stale one).
    pub fn next_deadline(&self) -> Option<u64> {
        let first = |h: &BinaryHeap<Hint>| h.peek().map(|h| h.deadline);
        match (first(&self.heap), first(&self.draining)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Entries in the heap, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len() + self.draining.len()
    }

    /// Whether the heap is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries known to be stale.
    pub fn stale(&self) -> usize {
        self.stale
    }

    /// Whether a compaction is under way.
    pub fn compacting(&self) -> bool {
        !self.draining.is_empty()
    }

    /// Pops the earliest entry if its deadline is at or before `now`. The
    /// caller says, through [`DeadlineHeap::popped_stale`], if it was stale.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Key)> {
        let first = |h: &BinaryHeap<Hint>| h.peek().map(|h| h.deadline);
        let from = match (first(&self.heap), first(&self.draining)) {
            (Some(a), Some(b)) if b < a => &mut self.draining,
            (Some(_), _) => &mut self.heap,
            (None, Some(_)) => &mut self.draining,
            (None, None) => return None,
        };
        match from.peek() {
            Some(h) if h.deadline <= now => from.pop().map(|h| (h.deadline, h.key)),
            _ => None,
        }
    }

    /// Notes that a popped entry was stale (it no longer counts as such).
    pub fn popped_stale(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    /// Whether stale entries outnumber `live` plus the floor, and no
    /// compaction is already under way.
    pub fn wants_compaction(&self, live: usize) -> bool {
        self.stale > live + COMPACT_FLOOR && !self.compacting()
    }

    /// Sets the current entries aside to be compacted by
    /// [`DeadlineHeap::compact_step`]. O(1).
    pub fn start_compaction(&mut self) {
        if !self.compacting() {
            self.draining = std::mem::take(&mut self.heap);
            self.kept_keys.clear();
        }
    }

    /// Moves up to `max` entries from the heap being compacted into the live
    /// one, keeping an entry only if `is_current` accepts it and it is not a
    /// duplicate of the one kept before; every other entry was counted stale.
    /// Returns whether the compaction is finished.
    pub fn compact_step(
        &mut self,
        max: usize,
        mut is_current: impl FnMut(u64, &Key) -> bool,
    ) -> bool {
        for _ in 0..max {
            let Some(Hint { deadline, key }) = self.draining.pop() else {
                break;
            };
            if deadline != self.kept_at {
                self.kept_at = deadline;
                self.kept_keys.clear();
            }
            if !self.kept_keys.contains(&key) && is_current(deadline, &key) {
                self.kept_keys.insert(key.clone());
                self.heap.push(Hint { deadline, key });
            } else {
                self.popped_stale();
            }
        }
        if self.draining.is_empty() {
            self.draining = BinaryHeap::new();
            self.kept_keys = HashSet::new();
            return true;
        }
        false
    }

    /// Compacts in one go (tests and callers that own the whole heap).
    pub fn compact(&mut self, is_current: impl FnMut(u64, &Key) -> bool) {
        self.start_compaction();
        self.compact_step(usize::MAX, is_current);
    }

    /// Whether the heap holds less than a quarter of its room.
    pub fn has_spare_capacity(&self) -> bool {
        let (len, cap) = (self.heap.len(), self.heap.capacity());
        cap > 1024 && len < cap / 4
    }

    /// Gives memory back once the heap has shrunk to a quarter of its room.
    pub fn release_spare_capacity(&mut self) {
        if self.has_spare_capacity() {
            self.heap.shrink_to(self.heap.len() * 2);
        }
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        *self = DeadlineHeap::default();
    }
}

/// The sweeper's alarm clock and the expiry counters.
///
/// The protocol that keeps a sleeping sweeper from missing an earlier
/// deadline: the sweeper reads the heap's earliest deadline and sets its alarm
/// to it while holding the keyspace lock ([`ExpiryState::arm`]); a writer adds
/// a deadline under the write lock and lowers the alarm to it if earlier
/// ([`ExpiryState::deadline_added`]), ringing the bell only then. The bell is
/// rung under `bell`, which the sweeper holds from reading the alarm until it
/// waits, so a ring either precedes that read (and shortens the sleep) or
/// reaches the waiting sweeper. Later deadlines never ring, so a stream of
/// writes never keeps the sweeper spinning.
pub struct ExpiryState {
    /// The Unix ms the sweeper will wake by (`u64::MAX`: no deadline known).
    alarm_at: AtomicU64,
    bell: Mutex<()>,
    ring: Condvar,
    max_sleep: Duration,
    /// While the sweeper waits: the alarm it waits for; 0 while it is awake.
    asleep_towards: AtomicU64,
    wakeups: AtomicU64,
    /// Whether due keys were left after the last sweep batch.
    behind: AtomicBool,
    expired_keys: AtomicU64,
    stop: AtomicBool,
}

impl Default for ExpiryState {
    fn default() -> Self {
        ExpiryState::with_max_sleep(MAX_SLEEP)
    }
}

impl ExpiryState {
    /// A state whose sweeper sleeps at most `max_sleep` at a time.
    pub fn with_max_sleep(max_sleep: Duration) -> ExpiryState {
        ExpiryState {
            alarm_at: AtomicU64::new(u64::MAX),
            bell: Mutex::new(()),
            ring: Condvar::new(),
            max_sleep,
            asleep_towards: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
            behind: AtomicBool::new(false),
            expired_keys: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Tells the sweeper that `deadline` was added; wakes it if it is earlier
    /// than its alarm. Called with the keyspace write lock held.
    pub fn deadline_added(&self, deadline: u64) {
        if self.alarm_at.fetch_min(deadline, Ordering::SeqCst) > deadline {
            let _bell = self.bell.lock().unwrap_or_else(PoisonError::into_inner);
            self.ring.notify_one();
        }
    }

    /// Sets the alarm to `next`, the heap's earliest deadline. Must be called
    /// with the keyspace lock held (read or write), the same hold in which
    /// `next` was read, so that no deadline added later goes unseen.
    pub fn arm(&self, next: Option<u64>) {
        self.alarm_at
            .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// The deadline the sweeper will wake by, if any.
    pub fn alarm_at(&self) -> Option<u64> {
        let at = self.alarm_at.load(Ordering::SeqCst);
        (at != u64::MAX).then_some(at)
    }

    /// Sleeps until the alarm, at most the maximum sleep, or until a writer
    /// lowers the alarm or [`ExpiryState::stop`] is called.
    pub fn sleep(&self) {
        let bell = self.bell.lock().unwrap_or_else(PoisonError::into_inner);
        let at = self.alarm_at.load(Ordering::SeqCst);
        let now = now_ms();
        if at > now && !self.stopping() {
            let wait = Duration::from_millis(at - now).min(self.max_sleep);
            self.asleep_towards.store(at, Ordering::SeqCst);
            let _ = self
                .ring
                .wait_timeout(bell, wait)
                .unwrap_or_else(PoisonError::into_inner);
            self.asleep_towards.store(0, Ordering::SeqCst);
        }
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// While the sweeper waits, the alarm it waits for (`u64::MAX`: none
    /// known); `None` while it is awake. For tests and diagnostics.
    pub fn asleep_towards(&self) -> Option<u64> {
        let at = self.asleep_towards.load(Ordering::SeqCst);
        (at != 0).then_some(at)
    }

    /// How many times [`ExpiryState::sleep`] has returned, early or not (for
    /// tests and diagnostics: a busy sweeper shows here).
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Records whether due keys remain after a sweep batch.
    pub fn set_behind(&self, behind: bool) {
        if self.behind.load(Ordering::Relaxed) != behind {
            self.behind.store(behind, Ordering::Relaxed);
        }
    }

    /// Whether due keys remained after the last sweep batch: the sweeper is
    /// working through a backlog, and clients may help.
    pub fn behind(&self) -> bool {
        self.behind.load(Ordering::Relaxed)
    }

    /// Adds `n` to the count of keys expired (on access or by the sweeper).
    pub fn count_expired(&self, n: u64) {
        if n > 0 {
            self.expired_keys.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Keys expired since start (or `CONFIG RESETSTAT`).
    pub fn expired_keys(&self) -> u64 {
        self.expired_keys.load(Ordering::Relaxed)
    }

    /// Zeroes the count of expired keys (`CONFIG RESETSTAT`).
    pub fn reset_expired_keys(&self) {
        self.expired_keys.store(0, Ordering::Relaxed);
    }

    /// Asks the sweeper to stop, and wakes it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _bell = self.bell.lock().unwrap_or_else(PoisonError::into_inner);
        self.ring.notify_all();
    }

    /// Whether [`ExpiryState::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;
    use std::time::Instant;

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

    #[test]
    fn compaction_keeps_one_entry_when_a_key_returns_to_an_old_deadline() {
        // A key moved 100 -> 200 -> 100 has two entries equal to its current
        // deadline; one was counted stale and must go, or alternating
        // deadlines would grow the heap without bound.
        let mut h = DeadlineHeap::default();
        h.push(100, key("k"));
        h.push(200, key("k"));
        h.mark_stale();
        h.push(100, key("k"));
        h.mark_stale();
        h.compact(|d, _| d == 100);
        assert_eq!((h.len(), h.stale()), (1, 0));
    }

    #[test]
    fn compaction_runs_in_bounded_steps_and_entries_stay_poppable() {
        let mut h = DeadlineHeap::default();
        for i in 0..100u64 {
            h.push(i, key(&i.to_string()));
            h.push(1000 + i, key(&i.to_string()));
            h.mark_stale();
        }
        h.start_compaction();
        assert!(h.compacting());
        // Entries still being drained count, and the earliest stays visible.
        assert_eq!(h.len(), 200);
        assert_eq!(h.next_deadline(), Some(0));
        assert!(!h.compact_step(COMPACT_STEP, |d, _| d >= 1000));
        assert_eq!(h.len(), 200 - COMPACT_STEP);
        // A push during the compaction lands in the fresh heap.
        h.push(5, key("new"));
        assert_eq!(h.pop_due(5).unwrap().0, 4);
        h.popped_stale();
        assert_eq!(h.pop_due(5), Some((5, key("new"))));
        while !h.compact_step(COMPACT_STEP, |d, _| d >= 1000) {}
        assert_eq!((h.len(), h.stale()), (100, 0));
        assert_eq!(h.next_deadline(), Some(1000));
    }

    #[test]
    fn an_earlier_deadline_rings_the_bell_and_a_later_one_does_not() {
        let state = Arc::new(ExpiryState::with_max_sleep(Duration::from_secs(60)));
        let far = now_ms() + 60_000;
        state.arm(Some(far));
        let sleeper = {
            let state = state.clone();
            thread::spawn(move || {
                let started = Instant::now();
                state.sleep();
                started.elapsed()
            })
        };
        // Later deadlines only leave the alarm where it is.
        for i in 1..=1000 {
            state.deadline_added(far + i);
        }
        assert_eq!(state.alarm_at(), Some(far));
        thread::sleep(Duration::from_millis(50));
        assert_eq!(state.wakeups(), 0, "a later deadline woke the sweeper");
        state.deadline_added(now_ms() + 10);
        let slept = sleeper.join().unwrap();
        assert!(slept < Duration::from_secs(30), "slept {slept:?}");
        assert_eq!(state.wakeups(), 1);
    }

    #[test]
    fn an_alarm_lowered_before_the_sleep_shortens_it() {
        let state = ExpiryState::with_max_sleep(Duration::from_secs(60));
        state.arm(Some(now_ms() + 60_000));
        // Rung with nobody waiting yet: the sleep must still honour it.
        state.deadline_added(now_ms() + 20);
        let started = Instant::now();
        state.sleep();
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn stop_wakes_a_sleeper() {
        let state = Arc::new(ExpiryState::with_max_sleep(Duration::from_secs(60)));
        state.arm(None);
        let sleeper = {
            let state = state.clone();
            thread::spawn(move || state.sleep())
        };
        thread::sleep(Duration::from_millis(20));
        state.stop();
        sleeper.join().unwrap();
        assert!(state.stopping());
    }
}
