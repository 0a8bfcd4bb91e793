//! Deadlines: the min-heap of `(deadline, key)` and the sweeper's alarm clock.
//!
//! [`DeadlineHeap`] lives inside the keyspace lock, so a deadline and its heap
//! entry change together. An entry is only a hint: when a key is overwritten,
//! persisted, re-expired or deleted its old entry stays behind, and whoever
//! pops it checks the key's current deadline first. The heap keeps the
//! invariant *entries = keys with a deadline + stale entries*, so its count of
//! stale entries is exact.
//!
//! Hints hold the key bytes alone (a [`Key`]), never an [`Entry`], so a stale
//! hint never keeps an overwritten value alive. The heap interns those keys:
//! it keeps a table with one [`Key`] per key some hint names, every hint of
//! that key shares it, and each entry remembers its key's place in the table
//! ([`Entry::key_slot`]), so a deadline change finds the shared copy without
//! hashing or copying the key. When the last hint naming a key leaves the
//! heap (popped, dropped by a compaction, cleared), the key leaves the table
//! and is freed. However often a key's deadline changes, the heap holds one
//! copy of its bytes.
//!
//! Stale hints are dropped by compaction, which starts when stale entries
//! outnumber the live ones plus a floor ([`COMPACT_FLOOR`]), or when the
//! table's keys that no entry with a deadline uses (deleted or persisted
//! keys) hold more bytes than a floor ([`COMPACT_BYTES_FLOOR`]) plus the
//! bytes of the keys in use. It is incremental: the old heap is set aside and
//! drained into a fresh one a few entries at a time, by writes
//! ([`COMPACT_STEP`]) and by the sweeper between its sleeps, keeping one
//! entry per key with a deadline and dropping the rest. Memory stays
//! proportional to the keys that have a deadline however often they are
//! re-set, comes back after they are deleted, and no single write pays for a
//! whole compaction.
//!
//! The heap counts the bytes it holds ([`DeadlineHeap::footprint`], by
//! [`memory`]'s model): the room of its vectors, kept as
//! they grow, drain into each other and shrink, and the keys in its table.
//!
//! This module must never look inside the keyspace except through
//! [`Lookup`], never take a lock, and never copy a value.
//!
//! [`ExpiryState`] is what the sweeper thread sleeps on: the deadline it has
//! promised to wake by (its alarm) and a condition variable that writers ring
//! only when they add a deadline earlier than the alarm. It holds no keys and
//! never touches the keyspace lock.

use crate::clock::now_ms;
use crate::entry::{Entry, Key};
use crate::memory;
use std::cmp::Ordering as Order;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Most heap entries the sweeper pops (or compacts) per hold of the write
/// lock.
pub const SWEEP_BATCH: usize = 1000;

/// Most key bytes one hold of the write lock looks up while sweeping or
/// compacting, beyond the first key: each lookup hashes the whole key, so a
/// batch of hints of a large key would otherwise hold the lock for as long
/// as hashing a gigabyte takes. One key always goes through, however large.
pub const HOLD_KEY_BYTES: usize = 1 << 20;

/// Stale entries tolerated before a compaction, beyond one per live entry.
pub const COMPACT_FLOOR: usize = 1024;

/// Bytes of interned keys that no entry with a deadline uses tolerated
/// before a compaction, beyond the bytes of those in use: a few stale hints
/// of a deleted 100 MB key must not wait for a thousand more.
pub const COMPACT_BYTES_FLOOR: usize = 1 << 20;

/// Entries a write moves from the heap being compacted into the fresh one.
/// More than one, so a compaction ends before the new heap doubles.
pub const COMPACT_STEP: usize = 4;

/// The longest the sweeper sleeps, so a wall-clock jump cannot strand it.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How the heap finds the entry a hint names: the keyspace implements it.
pub trait Lookup {
    /// The entry stored under `key`, expired or not.
    fn entry(&self, key: &[u8]) -> Option<&Entry>;
}

/// Bytes of one [`Hint`] in a heap.
const HINT: usize = std::mem::size_of::<Hint>();

/// Bytes of one key's place in the table.
const KEY: usize = std::mem::size_of::<Key>();

/// One heap entry: 16 bytes. Ordered by deadline alone, earliest first, so
/// that the heap never compares keys: with thousands of keys sharing a
/// millisecond, comparing keys would chase two pointers per comparison.
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

/// A min-heap of `(deadline, key)` hints, with its exact count of stale ones
/// and the table of the keys they name.
#[derive(Default)]
pub struct DeadlineHeap {
    heap: BinaryHeap<Hint>,
    /// The heap being compacted; drained into `heap` in deadline order.
    draining: BinaryHeap<Hint>,
    /// The deadline of the entries the compaction kept last, and their keys'
    /// addresses, to drop duplicates: entries leave the heap in deadline
    /// order, so a key's duplicates leave among the entries of one deadline,
    /// and they share one interned key.
    kept_at: u64,
    kept_keys: HashSet<usize>,
    stale: usize,
    /// One key for each key some hint names, no two alike in allocation:
    /// `keys[i].index() == i`, and an entry whose `key_slot()` is `i + 1`
    /// has the bytes of `keys[i]`. Dense (a leaving key's place is filled by
    /// the last one), so it shrinks with the keys it holds.
    keys: Vec<Key>,
    /// Total length of the keys in `keys`.
    key_bytes: usize,
    /// Bytes held, by [`memory`]'s model: the room of the heaps, the table
    /// and the set of kept keys, and the keys in the table. Kept as the
    /// capacities and the table change, so reading it is O(1).
    footprint: usize,
}

impl DeadlineHeap {
    /// Adds a hint that `entry`'s key expires at `deadline`, sharing the key
    /// bytes with the key's other hints (see the module docs). `entry` must
    /// be the one the keyspace stores under its key.
    pub fn push(&mut self, deadline: u64, entry: &Entry) {
        let (heap_room, keys_room) = (self.heap.capacity(), self.keys.capacity());
        let key = self.intern(entry);
        self.heap.push(Hint { deadline, key });
        if self.heap.capacity() != heap_room || self.keys.capacity() != keys_room {
            self.footprint =
                self.footprint - memory::vec(heap_room, HINT) - memory::vec(keys_room, KEY)
                    + memory::vec(self.heap.capacity(), HINT)
                    + memory::vec(self.keys.capacity(), KEY);
        }
    }

    /// A key some hint names, chosen by `pick` (any number: it is reduced
    /// to a place in the table); `None` if no hint names a key. The key may
    /// have been deleted or persisted since.
    pub fn key_at(&self, pick: u64) -> Option<&Key> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys.get((pick % self.keys.len() as u64) as usize)
    }

    /// Bytes the heap holds (see the field `footprint`). O(1).
    pub fn footprint(&self) -> usize {
        self.footprint
    }

    /// What one key with a deadline of `key_len` bytes adds to the heap:
    /// its hint, its place in the table and the table's copy of it.
    pub fn share_of_key(key_len: usize) -> usize {
        HINT + KEY + Key::footprint_of(key_len)
    }

    /// Bytes of the room of the heaps, the table and the set of kept keys.
    fn room(&self) -> usize {
        memory::vec(self.heap.capacity(), HINT)
            + memory::vec(self.draining.capacity(), HINT)
            + memory::vec(self.keys.capacity(), KEY)
            + memory::table(self.kept_keys.capacity(), std::mem::size_of::<usize>())
    }

    /// Runs `change`, which may change the room of the heaps, the table or
    /// the set of kept keys, and counts the difference.
    fn resizing<R>(&mut self, change: impl FnOnce(&mut Self) -> R) -> R {
        let before = self.room();
        let result = change(self);
        self.footprint = self.footprint - before + self.room();
        result
    }

    /// The table's key for `entry`, added to the table if absent.
    fn intern(&mut self, entry: &Entry) -> Key {
        let slot = entry.key_slot() as usize;
        if let Some(key) = slot.checked_sub(1).and_then(|i| self.keys.get(i)) {
            // Always true while the slots are kept right; checked anyway,
            // since a hint naming the wrong bytes would never expire its key.
            if key.bytes() == entry.key() {
                return key.clone();
            }
            debug_assert!(false, "an entry's key slot names another key");
        }
        let key = Key::new(entry.key());
        match u32::try_from(self.keys.len() + 1) {
            Ok(slot) => {
                key.set_index(slot - 1);
                entry.set_key_slot(slot);
                self.keys.push(key.clone());
                self.key_bytes += key.len();
                self.footprint += key.footprint();
            }
            // Four billion keys with deadlines: this one goes uninterned,
            // and its hint frees it when it leaves.
            Err(_) => entry.set_key_slot(0),
        }
        key
    }

    /// Lets go of a key whose hint left the heap: if no other hint names
    /// it, it leaves the table, the last key moves into its place, and the
    /// entries that pointed at either are told. The key is handed to `freed`
    /// when this was its last reference, so that the caller can free it
    /// after releasing the lock.
    fn release(&mut self, key: Key, entries: &impl Lookup, freed: &mut impl Extend<Key>) {
        let at = key.index() as usize;
        let interned = self.keys.get(at).is_some_and(|k| Key::ptr_eq(k, &key));
        if !interned {
            freed.extend(Some(key));
            return;
        }
        // Two references: this hint's and the table's.
        if key.ref_count() > 2 {
            return;
        }
        let last = self.keys.len() - 1;
        drop(self.keys.swap_remove(at));
        self.key_bytes -= key.len();
        self.footprint -= key.footprint();
        // Unlink before moving the last key in: if that one has the same
        // bytes (a newer key of the same name), its entry names `last`, and
        // must not be unlinked once it names `at`.
        relink(entries, &key, at, 0);
        if let Some(moved) = self.keys.get(at) {
            moved.set_index(at as u32);
            relink(entries, moved, last, at + 1);
        }
        freed.extend(Some(key));
    }

    /// Whether a hint `(deadline, key)` is the live one of `entry`, the
    /// entry stored under its key: the deadlines agree and the hint names the
    /// entry's own copy in the table, not that of an earlier key of the same
    /// name deleted since (whose stale hints keep theirs until they leave).
    pub fn is_current(&self, deadline: u64, key: &Key, entry: &Entry) -> bool {
        entry.expires_at() == deadline
            && match entry.key_slot() as usize {
                // Not interned (the table is full): the deadline decides.
                0 => true,
                slot => self.keys.get(slot - 1).is_some_and(|k| Key::ptr_eq(k, key)),
            }
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

    /// The earliest hint: its deadline and the key it names (which may be
    /// stale: check the key's current deadline).
    pub fn earliest(&self) -> Option<(u64, &Key)> {
        let hint = match (self.heap.peek(), self.draining.peek()) {
            (Some(a), Some(b)) => {
                if a.deadline <= b.deadline {
                    a
                } else {
                    b
                }
            }
            (a, b) => a.or(b)?,
        };
        Some((hint.deadline, &hint.key))
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

    /// Keys in the table: distinct keys that some hint names.
    pub fn interned_keys(&self) -> usize {
        self.keys.len()
    }

    /// Total length of the keys in the table.
    pub fn interned_bytes(&self) -> usize {
        self.key_bytes
    }

    /// Whether a compaction is under way.
    pub fn compacting(&self) -> bool {
        !self.draining.is_empty()
    }

    /// Pops the earliest entry if its deadline is at or before `now`. The
    /// caller deals with the key's entry, then hands the key back through
    /// [`DeadlineHeap::finish_pop`].
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

    /// Takes back the key of a popped entry. The entry counted as stale (it
    /// was, or removing its key just made it so) and no longer does; its key
    /// leaves the table if no other hint names it, and goes to `freed` if
    /// this was its last reference.
    pub fn finish_pop(&mut self, key: Key, entries: &impl Lookup, freed: &mut impl Extend<Key>) {
        self.stale = self.stale.saturating_sub(1);
        self.release(key, entries, freed);
    }

    /// Whether a compaction should start (none is under way): stale entries
    /// outnumber `live` (the keys with a deadline) plus [`COMPACT_FLOOR`],
    /// or the table's keys beyond `live_bytes` (the bytes of the keys with
    /// a deadline, which the table always holds) exceed `live_bytes` plus
    /// [`COMPACT_BYTES_FLOOR`].
    pub fn wants_compaction(&self, live: usize, live_bytes: usize) -> bool {
        let unused_bytes = self.key_bytes.saturating_sub(live_bytes);
        !self.compacting()
            && (self.stale > live + COMPACT_FLOOR
                || unused_bytes > live_bytes.saturating_add(COMPACT_BYTES_FLOOR))
    }

    /// Sets the current entries aside to be compacted by
    /// [`DeadlineHeap::compact_step`]. O(1).
    pub fn start_compaction(&mut self) {
        if !self.compacting() {
            self.resizing(|h| {
                h.draining = std::mem::take(&mut h.heap);
                h.kept_keys.clear();
            });
        }
    }

    /// Moves up to `max` entries from the heap being compacted into the live
    /// one (fewer once their keys add up to [`HOLD_KEY_BYTES`]), keeping an
    /// entry only if it is current
    /// ([`DeadlineHeap::is_current`]) for its key's entry in `entries` and
    /// not a duplicate of one kept before; every other
    /// entry was counted stale, and its key is released as a pop's is
    /// (possibly to `freed`). Returns whether the compaction is finished.
    pub fn compact_step(
        &mut self,
        max: usize,
        entries: &impl Lookup,
        freed: &mut impl Extend<Key>,
    ) -> bool {
        self.resizing(|h| h.compact_step_uncounted(max, entries, freed))
    }

    /// [`DeadlineHeap::compact_step`], leaving the room it changes uncounted.
    fn compact_step_uncounted(
        &mut self,
        max: usize,
        entries: &impl Lookup,
        freed: &mut impl Extend<Key>,
    ) -> bool {
        let mut looked_up = 0;
        for _ in 0..max {
            if looked_up > HOLD_KEY_BYTES {
                break;
            }
            let Some(Hint { deadline, key }) = self.draining.pop() else {
                break;
            };
            looked_up += key.len();
            if deadline != self.kept_at {
                self.kept_at = deadline;
                self.kept_keys.clear();
            }
            let current = entries
                .entry(&key)
                .is_some_and(|e| self.is_current(deadline, &key, e));
            if current && self.kept_keys.insert(key.addr()) {
                self.heap.push(Hint { deadline, key });
            } else {
                self.stale = self.stale.saturating_sub(1);
                self.release(key, entries, freed);
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
    pub fn compact(&mut self, entries: &impl Lookup, freed: &mut impl Extend<Key>) {
        self.start_compaction();
        self.compact_step(usize::MAX, entries, freed);
    }

    /// Whether the heap or its table of keys holds less than a quarter of
    /// its room.
    pub fn has_spare_capacity(&self) -> bool {
        let spare = |len: usize, cap: usize| cap > 1024 && len < cap / 4;
        spare(self.heap.len(), self.heap.capacity()) || spare(self.keys.len(), self.keys.capacity())
    }

    /// Gives memory back once the heap or its table of keys has shrunk to a
    /// quarter of its room (to twice its length, so that growth and
    /// shrinkage do not alternate).
    pub fn release_spare_capacity(&mut self) {
        if self.has_spare_capacity() {
            self.resizing(|h| {
                h.heap.shrink_to(h.heap.len() * 2);
                h.keys.shrink_to(h.keys.len() * 2);
            });
        }
    }

    /// Drops every entry and every key.
    pub fn clear(&mut self) {
        *self = DeadlineHeap::default();
    }
}

/// Moves the entry stored under `key` from table slot `from` to slot value
/// `to` (an index + 1, or 0 for none), unless it names another slot: a key
/// deleted and set again has a new slot while stale hints keep the old one.
fn relink(entries: &impl Lookup, key: &Key, from: usize, to: usize) {
    if let Some(entry) = entries.entry(key) {
        if entry.key_slot() as usize == from + 1 {
            entry.set_key_slot(to as u32);
        }
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
impl DeadlineHeap {
    /// The keys of every hint, in no order.
    fn hint_keys(&self) -> impl Iterator<Item = &Key> {
        self.heap.iter().chain(self.draining.iter()).map(|h| &h.key)
    }

    /// [`DeadlineHeap::footprint`] counted from scratch.
    pub(crate) fn recount_footprint(&self) -> usize {
        self.room() + self.keys.iter().map(Key::footprint).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;
    use std::time::Instant;

    /// A keyspace in miniature: entries by key, replaced the way the real
    /// one replaces them (a new entry takes over the old one's key slot).
    #[derive(Default)]
    struct Store(HashSet<Entry>);

    impl Lookup for Store {
        fn entry(&self, key: &[u8]) -> Option<&Entry> {
            self.0.get(key)
        }
    }

    impl Store {
        fn put(&mut self, key: &str, deadline: u64) -> Entry {
            let entry = Entry::new(key.as_bytes(), b"v", deadline);
            if let Some(old) = self.0.replace(entry.clone()) {
                entry.set_key_slot(old.key_slot());
            }
            entry
        }

        fn get(&self, key: &str) -> &Entry {
            self.0.get(key.as_bytes()).unwrap()
        }
    }

    /// Frees at once what it is given.
    struct FreeNow;

    impl Extend<Key> for FreeNow {
        fn extend<I: IntoIterator<Item = Key>>(&mut self, iter: I) {
            iter.into_iter().for_each(drop);
        }
    }

    /// Checks the table against the hints: one key per distinct allocation
    /// the hints name, each at its index, counted once per hint plus once.
    fn assert_table_matches_hints(h: &DeadlineHeap) {
        let mut hints_per_key = std::collections::HashMap::new();
        for k in h.hint_keys() {
            *hints_per_key.entry(k.addr()).or_insert(0usize) += 1;
        }
        assert_eq!(h.interned_keys(), hints_per_key.len());
        for (i, k) in h.keys.iter().enumerate() {
            assert_eq!(k.index() as usize, i);
            assert_eq!(k.ref_count(), hints_per_key[&k.addr()] + 1);
        }
        let bytes: usize = h.keys.iter().map(|k| k.len()).sum();
        assert_eq!(h.interned_bytes(), bytes);
        assert_eq!(h.footprint(), h.recount_footprint());
    }

    #[test]
    fn pops_only_due_entries_in_deadline_order() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        for (k, d) in [("c", 30), ("a", 10), ("b", 20)] {
            h.push(d, &s.put(k, d));
        }
        assert_eq!(h.pop_due(5), None);
        let (d, k) = h.pop_due(25).unwrap();
        assert_eq!((d, &*k), (10, &b"a"[..]));
        h.finish_pop(k, &s, &mut FreeNow);
        assert_eq!(h.pop_due(25).unwrap().0, 20);
        assert_eq!(h.pop_due(25), None);
        assert_eq!(h.next_deadline(), Some(30));
    }

    #[test]
    fn compaction_keeps_only_current_entries() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        for round in 0..3u64 {
            for i in 0..10 {
                let e = s.put(&i.to_string(), 1000 + round);
                h.push(1000 + round, &e);
                if round > 0 {
                    h.mark_stale();
                }
            }
        }
        assert_eq!(h.stale(), 20);
        assert_eq!(h.interned_keys(), 10, "one copy per key, not per hint");
        assert!(!h.wants_compaction(10, 10));
        h.compact(&s, &mut FreeNow);
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (10, 0, 10));
        assert_table_matches_hints(&h);
    }

    #[test]
    fn compaction_keeps_one_entry_when_a_key_returns_to_an_old_deadline() {
        // A key moved 100 -> 200 -> 100 has two entries equal to its current
        // deadline; one was counted stale and must go, or alternating
        // deadlines would grow the heap without bound.
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        let e = s.put("k", 100);
        h.push(100, &e);
        e.set_expires_at(200);
        h.push(200, &e);
        h.mark_stale();
        e.set_expires_at(100);
        h.push(100, &e);
        h.mark_stale();
        h.compact(&s, &mut FreeNow);
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (1, 0, 1));
        assert_table_matches_hints(&h);
    }

    #[test]
    fn compaction_runs_in_bounded_steps_and_entries_stay_poppable() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        for i in 0..100u64 {
            let e = s.put(&i.to_string(), i);
            h.push(i, &e);
            e.set_expires_at(1000 + i);
            h.push(1000 + i, &e);
            h.mark_stale();
        }
        h.start_compaction();
        assert!(h.compacting());
        // Entries still being drained count, and the earliest stays visible.
        assert_eq!(h.len(), 200);
        assert_eq!(h.next_deadline(), Some(0));
        assert!(!h.compact_step(COMPACT_STEP, &s, &mut FreeNow));
        assert_eq!(h.len(), 200 - COMPACT_STEP);
        // A push during the compaction lands in the fresh heap.
        h.push(5, &s.put("new", 5));
        let (d, k) = h.pop_due(5).unwrap();
        assert_eq!(d, 4);
        h.finish_pop(k, &s, &mut FreeNow);
        let (d, k) = h.pop_due(5).unwrap();
        assert_eq!((d, &*k), (5, &b"new"[..]));
        // Due and current: the keyspace removes it, which makes it stale.
        s.0.remove(&b"new"[..]);
        h.mark_stale();
        h.finish_pop(k, &s, &mut FreeNow);
        assert_eq!(h.interned_keys(), 100, "new left with its only hint");
        while !h.compact_step(COMPACT_STEP, &s, &mut FreeNow) {}
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (100, 0, 100));
        assert_eq!(h.next_deadline(), Some(1000));
        assert_table_matches_hints(&h);
    }

    #[test]
    fn every_deadline_change_of_a_key_shares_one_copy_of_it() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        let big = "k".repeat(4096);
        let e = s.put(&big, 1);
        h.push(1, &e);
        for d in 2..=10_000u64 {
            e.set_expires_at(d);
            h.push(d, &e);
            h.mark_stale();
            assert_eq!(h.interned_keys(), 1);
        }
        // And when the entry is replaced by a new one of the same key.
        let e = s.put(&big, 20_000);
        h.push(20_000, &e);
        h.mark_stale();
        assert_eq!((h.interned_keys(), h.interned_bytes()), (1, 4096));
        let first = h.hint_keys().next().unwrap().clone();
        assert!(h.hint_keys().all(|k| Key::ptr_eq(k, &first)));
        drop(first);
        assert_eq!(h.keys[0].ref_count(), 10_001 + 1);
        assert_eq!(e.key_slot(), 1);
        h.start_compaction();
        let mut steps = 1;
        while !h.compact_step(usize::MAX, &s, &mut FreeNow) {
            steps += 1;
        }
        // 4 KiB a hint: about 256 hints a step.
        assert!(steps > 30, "{steps} steps");
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (1, 0, 1));
        assert_eq!(h.keys[0].ref_count(), 2);
    }

    #[test]
    fn a_compaction_step_looks_up_a_bounded_number_of_key_bytes() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        let big = "k".repeat(300 << 10);
        let e = s.put(&big, 1);
        h.push(1, &e);
        for d in 2..=20u64 {
            e.set_expires_at(d);
            h.push(d, &e);
            h.mark_stale();
        }
        h.start_compaction();
        // 300 KiB a hint: four make 1.2 MiB, past the budget after the fourth.
        assert!(!h.compact_step(usize::MAX, &s, &mut FreeNow));
        assert_eq!(h.len(), 20 - 4);
        // A key larger than the budget still goes through, and ends the step.
        let huge = "h".repeat(HOLD_KEY_BYTES + 1);
        h.push(100, &s.put(&huge, 100));
        h.push(101, &s.put(&huge, 101));
        h.mark_stale();
        while !h.compact_step(usize::MAX, &s, &mut FreeNow) {}
        h.start_compaction();
        assert!(!h.compact_step(usize::MAX, &s, &mut FreeNow));
        assert!(h.compact_step(usize::MAX, &s, &mut FreeNow));
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (2, 0, 2));
    }

    #[test]
    fn a_deleted_or_persisted_key_leaves_the_table_with_its_last_hint() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        for k in ["gone", "persisted"] {
            let e = s.put(k, 10);
            h.push(10, &e);
            for d in 11..20 {
                e.set_expires_at(d);
                h.push(d, &e);
                h.mark_stale();
            }
        }
        // Deleting one and persisting the other makes their last hints stale.
        s.0.remove(&b"gone"[..]);
        s.get("persisted").set_expires_at(0);
        h.mark_stale();
        h.mark_stale();
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (20, 20, 2));
        // Bytes: 13 in the table, none in use, far below the floor.
        assert!(!h.wants_compaction(0, 0));
        let mut freed = Vec::new();
        h.compact(&s, &mut freed);
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (0, 0, 0));
        assert_eq!(h.interned_bytes(), 0);
        // Each key went out once, its last reference, to be freed later.
        let mut names: Vec<&[u8]> = freed.iter().map(|k| &**k).collect();
        names.sort();
        assert_eq!(names, [&b"gone"[..], b"persisted"]);
        assert!(freed.iter().all(|k| k.ref_count() == 1));
        assert_eq!(s.get("persisted").key_slot(), 0);
    }

    #[test]
    fn a_key_leaving_the_table_hands_its_place_to_the_last_one() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        for (k, d) in [("a", 1), ("b", 2), ("c", 3)] {
            h.push(d, &s.put(k, d));
        }
        assert_eq!(s.get("c").key_slot(), 3);
        s.0.remove(&b"a"[..]);
        let (_, k) = h.pop_due(1).unwrap();
        h.finish_pop(k, &s, &mut FreeNow);
        assert_eq!(h.interned_keys(), 2);
        assert_eq!(s.get("c").key_slot(), 1, "c moved into a's place");
        assert_table_matches_hints(&h);
        // c's next deadline finds its copy at the new place.
        let c = s.get("c").clone();
        c.set_expires_at(30);
        h.push(30, &c);
        assert_eq!(h.interned_keys(), 2);
        assert_table_matches_hints(&h);
    }

    #[test]
    fn unused_key_bytes_start_a_compaction() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        let mib = 1 << 20;
        for i in 0..4u8 {
            let name = format!("{i}{}", "x".repeat(mib - 1));
            h.push(5, &s.put(&name, 5));
        }
        assert_eq!(h.interned_bytes(), 4 * mib);
        // `live` keys with a deadline, hence `live` MiB in use; no stale
        // hint counts here, only bytes.
        let wants = |live: usize| h.wants_compaction(live, live * mib);
        assert!(!wants(4));
        // 2 MiB unused is not more than 2 MiB in use plus the 1 MiB floor.
        assert!(!wants(2));
        assert!(wants(1));
        assert!(wants(0));
        assert_eq!(COMPACT_BYTES_FLOOR, mib);
    }

    #[test]
    fn a_key_set_again_after_a_delete_drops_the_old_copy_on_compaction() {
        let (mut h, mut s) = (DeadlineHeap::default(), Store::default());
        h.push(50, &s.put("k", 50));
        s.0.remove(&b"k"[..]);
        h.mark_stale();
        // Set again with the very same deadline: a new copy, the old hint
        // stays behind and must not pass for the new key's.
        h.push(50, &s.put("k", 50));
        assert_eq!(h.interned_keys(), 2);
        assert_eq!(s.get("k").key_slot(), 2);
        h.compact(&s, &mut FreeNow);
        assert_eq!((h.len(), h.stale(), h.interned_keys()), (1, 0, 1));
        assert_eq!(s.get("k").key_slot(), 1);
        assert_table_matches_hints(&h);
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
