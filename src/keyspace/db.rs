//! One database: its keys, values and deadlines, and its deadline heap.
//!
//! The keys are spread over [`PARTITIONS`] hash maps by an independent
//! hash. The partitions give `SCAN` a stable cursor (the partition index)
//! and keep any one rehash small, so a growing database never stalls writers
//! for a whole-table resize. They are allocated on the first write, so a
//! database that is never used costs a few words.
//!
//! Each key is one [`Entry`]: key bytes, value bytes and deadline in a single
//! shared allocation, so a partition is a `HashSet<Entry>` with 8-byte
//! buckets looked up by key bytes. Sharing makes a snapshot or a `GET` reply a
//! reference count, not a copy; a value is never changed in place, only
//! replaced.
//!
//! Deadlines are absolute Unix milliseconds stored in the entry (0 = none). A
//! key past its deadline is invisible to every read. Each deadline set is also
//! pushed to the database's [`DeadlineHeap`], which the sweeper drains on
//! time, in bounded batches.
//!
//! The heap keeps one copy of each key its hints name, and the entry
//! remembers where ([`Entry::key_slot`]). A replacing entry inherits the
//! place of the one it replaces, so however often a key's deadline changes or
//! its value is replaced, the heap copies neither its key nor its value.
//! This module keeps that link right (it is the only one that stores
//! entries), and counts the bytes of the keys with a deadline, so that the
//! heap can tell when its copies of deleted or persisted keys are worth a
//! compaction.
//!
//! It also counts the bytes it holds, by [`memory`]'s model: its entries
//! ([`Entry::footprint`]), its partitions' tables (by the room each last
//! allocated, counted when a store or a reserve grows it and when a shrink
//! reallocates it) and its deadline heap (which counts its own). Every
//! primitive below keeps those counts, so [`Db::used_memory`] is O(1).
//!
//! Its changing methods are primitives, visible to the
//! [`keyspace`](super) module only: they store, take and re-deadline
//! entries, with no notion of expiry on access. The keyspace's
//! [`DbWriter`](super::DbWriter) gives them Redis's semantics and records
//! each change for the commit; nothing else can change a database. Nothing
//! here does I/O or sleeps: it only touches memory, under the keyspace's
//! write guard.

use crate::access::Stamps;
pub use crate::entry::{Entry, Key};
use crate::expiry::{COMPACT_STEP, DeadlineHeap, ExpiryState, HOLD_KEY_BYTES, Lookup};
use crate::key_hash::KeyHashing;
use crate::memory;
use crate::value::{Hash, Kind, List, Set, Value, ZSet, raw};
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

/// Number of hash maps the keys are spread over (a power of two).
pub const PARTITIONS: usize = 256;

/// One partition: a set of entries looked up by key bytes, hashed with
/// the keyspace's keyed [`KeyHashing`] (SipHash-1-2, as Redis does).
pub(super) type KeyTable = HashSet<Entry, KeyHashing>;

fn partition_is_underfull(map: &KeyTable) -> bool {
    map.capacity() > 64 && map.len() < map.capacity() / 4
}

/// Bytes a partition's table of `capacity` allocates: a one-word bucket
/// (an [`Entry`]) and a control byte per slot.
fn table_bytes(capacity: usize) -> usize {
    memory::table(capacity, std::mem::size_of::<Entry>())
}

/// Bytes of the partitions themselves and their recorded rooms, once
/// allocated.
const PARTITIONS_BYTES: usize = memory::chunk(PARTITIONS * std::mem::size_of::<KeyTable>())
    + memory::chunk(PARTITIONS * std::mem::size_of::<usize>());

/// A sink for [`Db::sweep_into`] that frees what it is given at once.
pub(super) struct Discard;

impl<T> Extend<T> for Discard {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        iter.into_iter().for_each(drop);
    }
}

/// The partitions as the deadline heap sees them: by key, read-only.
struct Entries<'a> {
    parts: &'a [KeyTable],
    router: &'a Router,
}

impl Lookup for Entries<'_> {
    fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.parts[self.router.partition(key)].get(key)
    }
}

/// Picks a key's partition with a seeded multiply-xor hash: a few
/// nanoseconds, where the sets' SipHash (which guards each set against
/// collision floods) costs tens. The seed is random per process.
#[derive(Debug, Clone, Copy)]
struct Router {
    seed: u64,
}

impl Router {
    fn new() -> Router {
        Router {
            seed: RandomState::new().hash_one(0x0067_6f63_6163_6865_u64),
        }
    }

    fn partition(&self, key: &[u8]) -> usize {
        let mut h = mix_hash(self.seed, key);
        h ^= h >> 32;
        (h.wrapping_mul(MIX) >> 56) as usize & (PARTITIONS - 1)
    }
}

/// The multiplier of [`mix_hash`].
pub(super) const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// A seeded multiply-xor hash of `key`, eight bytes a step: a few
/// nanoseconds where SipHash costs tens. Callers fold the bits they use.
#[inline]
pub(super) fn mix_hash(seed: u64, key: &[u8]) -> u64 {
    let mut h = seed ^ (key.len() as u64).wrapping_mul(MIX);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        h = (h ^ w).wrapping_mul(MIX).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    (h ^ u64::from_le_bytes(tail)).wrapping_mul(MIX)
}

/// One database's maps and counters.
pub struct Db {
    /// Empty until the first key is stored, then [`PARTITIONS`] sets.
    pub(super) parts: Box<[KeyTable]>,
    /// Each partition's room: its table's capacity when it was last
    /// allocated. A set's `capacity()` is its keys plus the slots it can
    /// still fill before it grows, which a removal that leaves a tombstone
    /// lowers without freeing anything; the room is what its table holds.
    /// It changes when a store or a reserve grows the table (its capacity
    /// then passes the room, exactly, the table being new) and when a
    /// shrink reallocates it. Empty with `parts`.
    rooms: Box<[usize]>,
    router: Router,
    /// The partitions' hash, under a key of this database's own.
    hashing: KeyHashing,
    pub(super) len: usize,
    with_deadline: usize,
    /// Total length of the keys stored with a deadline, which the deadline
    /// heap's table always holds: the rest of the table is waste to compact.
    deadline_key_bytes: usize,
    /// Sum of every stored deadline, for `INFO`'s average TTL in O(1).
    deadline_sum: u128,
    /// Bytes of the stored entries ([`Entry::footprint`]): what Redis
    /// calls the dataset.
    data_bytes: usize,
    /// Bytes of the partitions and their tables, kept as their capacities
    /// change (on a store, a reserve, a shrink and a clear only).
    table_bytes: usize,
    pub(super) deadlines: DeadlineHeap,
    pub(super) expiry: Arc<ExpiryState>,
    /// What access stamps mean here, and how a use changes one.
    pub(super) stamps: Stamps,
    /// Where eviction's hand is in this database.
    pub(super) hand: Hand,
    /// The keys the hand queued for eviction.
    pub(super) victims: super::evict::Victims,
    /// Under `allkeys-s3fifo`: the keys new to the cache, oldest first.
    pub(super) small: super::evict::SmallQueue,
    /// Under `allkeys-s3fifo`: keys lately evicted from the small queue.
    pub(super) ghost: super::evict::Ghost,
}

/// Where eviction's hand points: a partition, and how many of its entries
/// (in its table's order) the hand has passed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Hand {
    pub(super) part: usize,
    pub(super) passed: usize,
}

/// An empty value of `value`'s type in its big encoding: what an entry
/// about to be replaced keeps once its value is moved out (no packed one
/// can stand in its slot).
fn vacated(value: &Value) -> Value {
    match value {
        Value::Hash(_) => Value::Hash(Hash::Table(Box::default())),
        Value::List(_) => Value::List(List::Quick(Box::default())),
        Value::Set(_) => Value::Set(Set::Table(Box::default())),
        Value::ZSet(_) => Value::ZSet(ZSet::Tree(Box::default())),
    }
}

/// What [`Db::edit`] found, and did.
#[derive(Debug)]
pub(super) enum Edit<R> {
    /// No such key: nothing ran.
    Absent,
    /// The key is stored past its deadline: nothing ran (the caller
    /// removes it as an expiry).
    Expired,
    /// The key holds another type: nothing ran.
    WrongType,
    /// The change ran and returned this.
    Done(R),
}

impl Db {
    pub(super) fn new(expiry: Arc<ExpiryState>) -> Db {
        Db {
            parts: Box::new([]),
            rooms: Box::new([]),
            router: Router::new(),
            hashing: KeyHashing::new(),
            len: 0,
            with_deadline: 0,
            deadline_key_bytes: 0,
            deadline_sum: 0,
            data_bytes: 0,
            table_bytes: 0,
            deadlines: DeadlineHeap::default(),
            expiry,
            stamps: Stamps::default(),
            hand: Hand::default(),
            victims: super::evict::Victims::default(),
            small: super::evict::SmallQueue::default(),
            ghost: super::evict::Ghost::default(),
        }
    }

    fn part_of(&self, key: &[u8]) -> usize {
        self.router.partition(key)
    }

    /// The partitions, allocated on the first store.
    #[inline]
    fn parts_for_insert(&mut self) -> &mut [KeyTable] {
        if self.parts.is_empty() {
            self.allocate_parts();
        }
        &mut self.parts
    }

    #[cold]
    fn allocate_parts(&mut self) {
        self.parts = (0..PARTITIONS)
            .map(|_| HashSet::with_hasher(self.hashing.clone()))
            .collect();
        self.rooms = vec![0; PARTITIONS].into_boxed_slice();
        self.table_bytes += PARTITIONS_BYTES;
    }

    /// After partition `part` had keys stored or room reserved: counts its
    /// table's growth, if it grew. Its capacity passes its room only when
    /// a new, larger table was allocated (see `rooms`).
    #[inline]
    fn maybe_grown(&mut self, part: usize) {
        let capacity = self.parts[part].capacity();
        let room = self.rooms[part];
        if capacity > room {
            self.rooms[part] = capacity;
            self.table_bytes = self.table_bytes - table_bytes(room) + table_bytes(capacity);
        }
    }

    /// The stored entry for `key`, live or past its deadline.
    pub fn stored(&self, key: &[u8]) -> Option<&Entry> {
        self.parts.get(self.part_of(key))?.get(key)
    }

    /// The live entry for `key`, or `None` when absent or past its
    /// deadline; a use of the key, which its access stamp records (Redis's
    /// lookups that touch).
    #[inline]
    pub fn get(&self, key: &[u8], now: u64) -> Option<&Entry> {
        let entry = self.peek(key, now)?;
        entry.set_stamp(self.stamps.touched(entry.stamp(), now));
        Some(entry)
    }

    /// [`Db::get`] that is not a use: the stamp stays (`TYPE`, `TTL`,
    /// `EXISTS`, `OBJECT` and the rest of Redis's lookups that do not touch).
    #[inline]
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        let entry = self.stored(key)?;
        (!entry.is_expired(now)).then_some(entry)
    }

    /// What access stamps mean in this database.
    pub fn stamps(&self) -> &Stamps {
        &self.stamps
    }

    /// Whether `key` is live (not a use of it).
    pub fn contains(&self, key: &[u8], now: u64) -> bool {
        self.peek(key, now).is_some()
    }

    /// Whether `key` is stored but past its deadline (a write removes it).
    pub fn is_stored_expired(&self, key: &[u8], now: u64) -> bool {
        // With no deadline stored, nothing can have expired: no lookup.
        self.with_deadline > 0 && self.stored(key).is_some_and(|e| e.is_expired(now))
    }

    /// Takes `key`'s stored entry out, live or not.
    pub(super) fn take_key(&mut self, key: &[u8]) -> Option<Entry> {
        if self.parts.is_empty() {
            return None;
        }
        let part = self.part_of(key);
        self.take(part, key)
    }

    fn take(&mut self, part: usize, key: &[u8]) -> Option<Entry> {
        // Taking never shrinks a table; the sweeper's shrink does.
        let old = self.parts[part].take(key)?;
        self.len -= 1;
        self.data_bytes -= old.footprint();
        self.forget_deadline(old.expires_at(), key.len());
        if old.expires_at() != 0 {
            self.deadlines.mark_stale();
        }
        Some(old)
    }

    /// Counts a deadline (0: none) of a key `key_len` bytes long in the
    /// deadline counters.
    fn count_deadline(&mut self, expires_at: u64, key_len: usize) {
        if expires_at != 0 {
            self.with_deadline += 1;
            self.deadline_key_bytes += key_len;
            self.deadline_sum += u128::from(expires_at);
        }
    }

    /// Takes a deadline (0: none) of a key `key_len` bytes long out of the
    /// deadline counters.
    fn forget_deadline(&mut self, expires_at: u64, key_len: usize) {
        if expires_at != 0 {
            self.with_deadline -= 1;
            self.deadline_key_bytes -= key_len;
            self.deadline_sum -= u128::from(expires_at);
        }
    }

    /// Stores `entry`, replacing any stored entry for its key, which it
    /// returns (live or past its deadline). The entry is built before the
    /// lock is taken, so that its allocation is not made while others wait.
    #[inline]
    pub(super) fn insert(&mut self, entry: Entry, now: u64) -> Option<Entry> {
        let (expires_at, key_len) = (entry.expires_at(), entry.key().len());
        let part = self.part_of(entry.key());
        // The stamp (see `Stamps::on_store`): under LFU the count of the key
        // replaced carries over, which takes a lookup first.
        let replaced = if self.stamps.lfu() {
            self.parts
                .get(part)
                .and_then(|p| p.get(entry.key()))
                .map(Entry::stamp)
        } else {
            None
        };
        // Under queues a key new to the cache joins the small queue, unless
        // the ghost queue remembers it, or the small queue has its share of
        // the keys already (then it joins the main queue, as in the authors'
        // own simulator: a cache filling up keeps what it stored first). An
        // overwrite is restamped below, and keeps its queue.
        let mut small_key = None;
        let stamp = if self.stamps.meaning != crate::access::Meaning::Queues {
            self.stamps.on_store(replaced, now)
        } else if self.ghost.take(self.ghost_hash(entry.key())) {
            self.stamps.on_store_remembered(now)
        } else if self.small.len() * super::evict::SMALL_SHARE > self.len {
            self.stamps.on_store_main(now)
        } else {
            small_key = Some(Box::<[u8]>::from(entry.key()));
            self.stamps.on_store(None, now)
        };
        entry.set_stamp(stamp);
        // A second handle on the stored entry (a count, not a copy), to link
        // it to the deadline heap's copy of its key once it is stored. With
        // no deadline to queue and no key in the heap's table (so no slot
        // to inherit), there is nothing to link: the common SET of a cache
        // without TTLs skips the two atomic counts.
        let stored = (expires_at != 0 || self.deadlines.interned_keys() > 0).then(|| entry.clone());
        let bytes = entry.footprint();
        // Even replacing a key may grow the table (it makes room first).
        let old = self.parts_for_insert()[part].replace(entry);
        // Under recency, a key that replaced another was used, unlike a
        // new one: its stored handle is stamped so (a lookup, only for an
        // overwrite).
        if let Some(old) = old.as_ref().filter(|_| !self.stamps.lfu()) {
            if let Some(stored) = self.parts[part].get(old.key()) {
                stored.set_stamp(self.stamps.on_store(Some(old.stamp()), now));
            }
        }
        self.maybe_grown(part);
        self.data_bytes = self.data_bytes + bytes - old.as_ref().map_or(0, Entry::footprint);
        // The new entry takes over the old one's place in the deadline
        // heap's table of keys: its hints, live or stale, keep sharing one
        // copy of the key.
        if let Some(stored) = &stored {
            stored.set_key_slot(old.as_ref().map_or(0, Entry::key_slot));
        }
        let old_deadline = old.as_ref().map_or(0, Entry::expires_at);
        if old.is_none() {
            self.len += 1;
            if let Some(key) = small_key {
                self.small.push(key);
            }
        }
        self.forget_deadline(old_deadline, key_len);
        self.count_deadline(expires_at, key_len);
        if old_deadline != expires_at {
            if old_deadline != 0 {
                self.deadlines.mark_stale();
            }
            if let Some(stored) = stored.as_ref().filter(|_| expires_at != 0) {
                self.schedule(expires_at, stored);
            }
        }
        old
    }

    /// Runs `change` on the collection of type `kind` stored live under
    /// `key`, keeping the byte count; in the same lookup, says instead if
    /// the key is absent, past its deadline or of another type. A big encoding is
    /// changed in place, unless a clone of its entry is alive (a
    /// snapshot's): no clone may see the edit, so then, as for a packed
    /// collection (kept inline in its entry), `change` edits a copy, which
    /// a new entry stores. A big value that `change` leaves packed (an
    /// `SPOP` that rebuilds a set of integers as an intset) is kept packed,
    /// in a new entry, as its encoding must read.
    pub(super) fn edit<R>(
        &mut self,
        key: &[u8],
        now: u64,
        kind: Kind,
        change: impl FnOnce(&mut Value) -> R,
    ) -> Edit<R> {
        let part = self.part_of(key);
        let Some(entry) = self.parts.get(part).and_then(|p| p.get(key)) else {
            return Edit::Absent;
        };
        if entry.is_expired(now) {
            return Edit::Expired;
        }
        if entry.kind() != kind {
            return Edit::WrongType;
        }
        let Some(value) = entry.collection() else {
            return Edit::WrongType;
        };
        // An edit is a use of the key; a new entry for it keeps the stamp.
        let stamp = self.stamps.touched(entry.stamp(), now);
        entry.set_stamp(stamp);
        if entry.is_packed() || !entry.is_unique() {
            let mut copy = value.to_value();
            let result = change(&mut copy);
            let fresh = entry.with_same_key(copy);
            fresh.set_stamp(stamp);
            let bytes = fresh.footprint();
            let old = self.parts[part].replace(fresh);
            self.data_bytes = self.data_bytes + bytes - old.as_ref().map_or(0, Entry::footprint);
            // A clone's holder frees a shared old entry, outside the lock;
            // a packed one is one small allocation.
            drop(old);
            return Edit::Done(result);
        }
        let before = entry.footprint();
        let mut repacked = None;
        let in_place = |value: &mut Value| {
            let result = change(value);
            if raw::inline_body(value).is_some() {
                // An entry keeps a packed value inline, never in its slot:
                // moved out, for a new entry, leaving an empty big one.
                repacked = Some(std::mem::replace(value, vacated(value)));
            }
            result
        };
        // SAFETY: `&mut self` excludes every other access to the stored
        // entries, and the entry has no other clone (checked above; new
        // clones are made only through this database or a clone).
        let result = unsafe { entry.edit(in_place) };
        let Some(packed) = repacked else {
            self.data_bytes = self.data_bytes - before + entry.footprint();
            return Edit::Done(result);
        };
        let fresh = entry.with_same_key(packed);
        fresh.set_stamp(stamp);
        let bytes = fresh.footprint();
        let old = self.parts[part].replace(fresh);
        self.data_bytes = self.data_bytes + bytes - before;
        drop(old);
        Edit::Done(result)
    }

    /// Makes room for `additional` more keys spread evenly over the
    /// partitions (loading a snapshot), so that they are not rehashed as
    /// they arrive.
    pub(super) fn reserve(&mut self, additional: usize) {
        let per_part = additional.div_ceil(PARTITIONS);
        self.parts_for_insert();
        for part in 0..PARTITIONS {
            self.parts[part].reserve(per_part);
            self.maybe_grown(part);
        }
    }

    /// Sets (or with 0, clears) the deadline of the stored `key`, keeping
    /// its value where it is. Returns whether the key is stored.
    pub(super) fn change_deadline(&mut self, key: &[u8], expires_at: u64) -> bool {
        let Some(entry) = self.stored(key) else {
            return false;
        };
        let had = entry.expires_at();
        if had == expires_at {
            return true;
        }
        // Entries are shared only with snapshots (which copied the deadline
        // when they were taken) and replies (which read the value alone).
        // The value stays where it is; only the deadline changes.
        entry.set_expires_at(expires_at);
        let entry = entry.clone();
        self.forget_deadline(had, key.len());
        self.count_deadline(expires_at, key.len());
        if had != 0 {
            self.deadlines.mark_stale();
        }
        if expires_at != 0 {
            self.schedule(expires_at, &entry);
        }
        true
    }

    /// Queues a deadline hint for the stored `entry` (sharing the heap's copy
    /// of its key, never making one if the heap has it) and tells the
    /// sweeper. Each call also advances a heap compaction by a few entries,
    /// starting one if [`DeadlineHeap::wants_compaction`], so no single write
    /// pays for a whole compaction. Keys it frees are freed here, a few at
    /// most.
    fn schedule(&mut self, deadline: u64, entry: &Entry) {
        self.deadlines.push(deadline, entry);
        self.expiry.deadline_added(deadline);
        self.compact_some(COMPACT_STEP, &mut Discard);
    }

    /// Whether the deadline heap wants a compaction or has one under way.
    pub fn compaction_due(&self) -> bool {
        self.deadlines.compacting()
            || self
                .deadlines
                .wants_compaction(self.with_deadline, self.deadline_key_bytes)
    }

    /// Starts a heap compaction if one is due, then advances it by up to
    /// `max` entries, handing the keys it frees to `freed` (so that a caller
    /// can free them after releasing the lock). Returns whether one is still
    /// under way.
    pub(super) fn compact_some(&mut self, max: usize, freed: &mut impl Extend<Key>) -> bool {
        if self
            .deadlines
            .wants_compaction(self.with_deadline, self.deadline_key_bytes)
        {
            self.deadlines.start_compaction();
        }
        if !self.deadlines.compacting() {
            return false;
        }
        let entries = Entries {
            parts: &self.parts,
            router: &self.router,
        };
        !self.deadlines.compact_step(max, &entries, freed)
    }

    /// Removes up to `batch` keys whose deadline is at or before `now`.
    /// Returns how many were removed and whether more are due.
    #[cfg(test)]
    pub(super) fn sweep(&mut self, now: u64, batch: usize) -> (usize, bool) {
        self.sweep_into(now, batch, &mut Discard)
    }

    /// Like [`Db::sweep`], but hands each removed entry, and each key the
    /// deadline heap let go of, to `removed` instead of freeing them, so that
    /// a caller can free them after it has released the lock. `batch` bounds
    /// the heap entries popped, stale ones included, and so does
    /// [`HOLD_KEY_BYTES`] (the bytes of the keys looked up, beyond the
    /// first), so one call's work is bounded whatever the heap holds.
    pub(super) fn sweep_into<R: Extend<Entry> + Extend<Key>>(
        &mut self,
        now: u64,
        batch: usize,
        removed: &mut R,
    ) -> (usize, bool) {
        let mut count = 0;
        let mut looked_up = 0;
        for _ in 0..batch {
            if looked_up > HOLD_KEY_BYTES {
                break;
            }
            let Some((deadline, key)) = self.deadlines.pop_due(now) else {
                break;
            };
            looked_up += key.len();
            let part = self.part_of(&key);
            if self.parts[part]
                .get(&*key)
                .is_some_and(|e| self.deadlines.is_current(deadline, &key, e))
            {
                if let Some(gone) = self.take(part, &key) {
                    removed.extend(Some(gone));
                    count += 1;
                }
            }
            // Either the entry was stale, or `take` just counted it as stale.
            let entries = Entries {
                parts: &self.parts,
                router: &self.router,
            };
            self.deadlines.finish_pop(key, &entries, removed);
        }
        self.expiry.count_expired(count as u64);
        let more = self.deadlines.next_deadline().is_some_and(|d| d <= now);
        (count, more)
    }

    /// Drops up to `max` stale hints from the front of the deadline heap,
    /// so that its earliest hint, once live, names the key nearest its
    /// deadline (`volatile-ttl`'s victim: the hint of a key it just evicted
    /// is stale, and would otherwise stay at the front). Call it where the
    /// database's memory is counted: the heap's table of keys may shrink.
    pub(super) fn drop_stale_earliest(&mut self, max: usize) {
        let mut freed: Vec<super::Key> = Vec::new();
        for _ in 0..max {
            let deadline = {
                let Some((deadline, key)) = self.deadlines.earliest() else {
                    break;
                };
                let part = self.part_of(key);
                let live = self
                    .parts
                    .get(part)
                    .and_then(|p| p.get(&**key))
                    .is_some_and(|e| self.deadlines.is_current(deadline, key, e));
                if live {
                    break;
                }
                deadline
            };
            let Some((_, key)) = self.deadlines.pop_due(deadline) else {
                break;
            };
            let entries = Entries {
                parts: &self.parts,
                router: &self.router,
            };
            self.deadlines.finish_pop(key, &entries, &mut freed);
        }
    }

    /// Partitions holding less than a quarter of their room, which
    /// `Db::shrink_partition` would give back.
    pub fn underfull_partitions(&self) -> Vec<usize> {
        (0..self.parts.len())
            .filter(|&i| partition_is_underfull(&self.parts[i]))
            .collect()
    }

    /// Gives back the spare room of partition `part` if it is underfull: a
    /// rehash of that partition alone, so one call's work is bounded by the
    /// partition's size. Returns whether it shrank.
    pub(super) fn shrink_partition(&mut self, part: usize) -> bool {
        let Some(map) = self.parts.get_mut(part) else {
            return false;
        };
        if !partition_is_underfull(map) {
            return false;
        }
        // Twice the length: halving at a quarter keeps growth and shrinkage
        // from alternating. An underfull table always moves to a new one (of
        // at most half its buckets, or none), whose capacity is its room.
        map.shrink_to(map.len() * 2);
        let (room, capacity) = (self.rooms[part], map.capacity());
        self.rooms[part] = capacity;
        self.table_bytes = self.table_bytes - table_bytes(room) + table_bytes(capacity);
        true
    }

    /// Whether the deadline heap holds less than a quarter of its room.
    pub fn deadlines_are_underfull(&self) -> bool {
        self.deadlines.has_spare_capacity()
    }

    /// Gives back the deadline heap's spare room if it is mostly empty.
    pub(super) fn shrink_deadlines(&mut self) {
        self.deadlines.release_spare_capacity();
    }

    /// The earliest queued deadline (possibly a stale hint).
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.next_deadline()
    }

    /// Entries in the deadline heap, stale ones included.
    pub fn deadline_hints(&self) -> usize {
        self.deadlines.len()
    }

    /// Entries in the deadline heap that no longer match their key; always
    /// `deadline_hints() - stored_with_deadline()`.
    pub fn stale_hints(&self) -> usize {
        self.deadlines.stale()
    }

    /// Distinct keys the deadline heap holds a copy of: one per key its
    /// hints name, however many hints name it.
    pub fn interned_keys(&self) -> usize {
        self.deadlines.interned_keys()
    }

    /// Total length of the keys the deadline heap holds a copy of.
    pub fn interned_key_bytes(&self) -> usize {
        self.deadlines.interned_bytes()
    }

    /// Total length of the keys stored with a deadline, counting any not
    /// yet swept.
    pub fn stored_deadline_key_bytes(&self) -> usize {
        self.deadline_key_bytes
    }

    /// Removes every key. Returns how many there were, and the
    /// partitions that held them, for the caller to free outside the lock.
    pub(super) fn clear(&mut self) -> (usize, Box<[KeyTable]>) {
        let n = self.len;
        let parts = std::mem::replace(&mut self.parts, Box::new([]));
        self.rooms = Box::new([]);
        self.len = 0;
        self.with_deadline = 0;
        self.deadline_key_bytes = 0;
        self.deadline_sum = 0;
        self.data_bytes = 0;
        self.table_bytes = 0;
        self.deadlines.clear();
        // Every listed key is gone; the ghost may remember them still.
        self.small.clear();
        (n, parts)
    }

    /// Bytes the database holds, by [`memory`]'s model: its entries, its
    /// partitions' tables and its deadline heap. O(1): every change keeps
    /// the counts.
    #[inline]
    pub fn used_memory(&self) -> usize {
        self.data_bytes
            + self.table_bytes
            + self.deadlines.footprint()
            + self.small.footprint()
            + self.ghost.footprint()
    }

    /// The hash the ghost queue remembers `key` by.
    #[inline]
    pub(super) fn ghost_hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hashing.hash_one(key)
    }

    /// Bytes of the stored entries (keys and values).
    pub fn data_bytes(&self) -> usize {
        self.data_bytes
    }

    /// Bytes of the partitions and their tables.
    pub fn table_bytes(&self) -> usize {
        self.table_bytes
    }

    /// Bytes of the deadline heap: its hints, its table and its copies of
    /// keys.
    pub fn deadline_bytes(&self) -> usize {
        self.deadlines.footprint()
    }

    /// `MEMORY USAGE`: the bytes a live `key` accounts for, or `None` when
    /// absent or past its deadline. Its entry, its share of its
    /// partition's table (the table's bytes over its keys, so the shares
    /// add up to the table) and, with a deadline, what the deadline heap
    /// holds for it (one hint, one place in the table, one copy of the key).
    pub fn usage_of(&self, key: &[u8], now: u64) -> Option<usize> {
        let entry = self.peek(key, now)?;
        let part = self.part_of(key);
        let slot = table_bytes(self.rooms[part]).div_ceil(self.parts[part].len().max(1));
        let deadline = match entry.deadline() {
            Some(_) => DeadlineHeap::share_of_key(key.len()),
            None => 0,
        };
        Some(entry.footprint() + slot + deadline)
    }

    /// [`Db::used_memory`] counted from scratch, walking everything.
    #[cfg(test)]
    pub(super) fn recount_memory(&self) -> usize {
        let partitions = if self.parts.is_empty() {
            0
        } else {
            PARTITIONS_BYTES
        };
        for (set, &room) in self.parts.iter().zip(self.rooms.iter()) {
            // A table's capacity never passes its room.
            assert!(set.len() <= set.capacity() && set.capacity() <= room);
        }
        assert_eq!(self.rooms.len(), self.parts.len());
        let tables: usize = self.rooms.iter().map(|&room| table_bytes(room)).sum();
        let entries: usize = self.parts.iter().flatten().map(Entry::footprint).sum();
        assert_eq!(entries, self.data_bytes, "entries");
        assert_eq!(partitions + tables, self.table_bytes, "tables");
        partitions
            + tables
            + entries
            + self.deadlines.recount_footprint()
            + self.small.footprint()
            + self.ghost.footprint()
    }

    /// Keys stored, counting any past their deadline not yet swept.
    pub fn stored_len(&self) -> usize {
        self.len
    }

    /// Keys stored with a deadline, counting any not yet swept.
    pub fn stored_with_deadline(&self) -> usize {
        self.with_deadline
    }

    /// Mean time left, in ms, over the keys with a deadline (0 if none);
    /// keys past their deadline but not yet swept count as 0.
    pub fn average_ttl(&self, now: u64) -> u64 {
        if self.with_deadline == 0 {
            return 0;
        }
        let mean = self.deadline_sum / self.with_deadline as u128;
        u64::try_from(mean).unwrap_or(u64::MAX).saturating_sub(now)
    }

    /// Every live entry.
    pub fn iter_live(&self, now: u64) -> impl Iterator<Item = &Entry> {
        self.parts
            .iter()
            .flat_map(|p| p.iter())
            .filter(move |e| !e.is_expired(now))
    }

    /// The live entries of one partition (a `SCAN` step).
    pub fn iter_partition(&self, part: usize, now: u64) -> impl Iterator<Item = &Entry> {
        self.parts
            .get(part)
            .into_iter()
            .flat_map(|p| p.iter())
            .filter(move |e| !e.is_expired(now))
    }

    /// A live entry chosen at random, using `seed` for the choice.
    pub fn random_entry(&self, now: u64, seed: u64) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        let mut pick = seed;
        // Try random partitions first; fall back to a full walk so that a
        // sparse or mostly-expired keyspace still finds its live keys.
        for _ in 0..PARTITIONS {
            pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let part = &self.parts[(pick >> 33) as usize % PARTITIONS];
            if part.is_empty() {
                continue;
            }
            let skip = (pick >> 17) as usize % part.len();
            if let Some(e) = part.iter().skip(skip).find(|e| !e.is_expired(now)) {
                return Some(e.clone());
            }
        }
        self.iter_live(now).next().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Event, HELP_BATCH, Keyspace, Store};

    #[test]
    fn the_router_spreads_similar_keys_over_every_partition() {
        let router = Router::new();
        let mut counts = [0usize; PARTITIONS];
        for i in 0..256_000u32 {
            counts[router.partition(format!("key:{i:012}").as_bytes())] += 1;
        }
        // 1,000 expected per partition; a decent hash stays well inside this.
        assert!(
            counts.iter().all(|&c| (700..1300).contains(&c)),
            "{counts:?}"
        );
    }
    use crate::expiry::SWEEP_BATCH;

    fn v(s: &str) -> &[u8] {
        s.as_bytes()
    }

    #[test]
    fn expired_entries_are_invisible_and_removed_on_write() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        db.put(b"a", v("1"), 100, 0);
        db.put(b"b", v("2"), 0, 0);
        assert!(db.get(b"a", 99).is_some());
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.iter_live(100).count(), 1);
        assert!(db.get_live(b"a", 100).is_none());
        assert_eq!(db.stored_len(), 1);
        assert_eq!(db.stored_with_deadline(), 0);
    }

    #[test]
    fn deadline_counters_follow_every_change() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        db.put(b"a", v("1"), 500, 0);
        assert_eq!(db.stored_with_deadline(), 1);
        db.put(b"a", v("2"), 0, 0);
        assert_eq!(db.stored_with_deadline(), 0);
        assert!(db.set_deadline(b"a", 900, 0));
        assert_eq!(db.stored_with_deadline(), 1);
        db.put_keep_ttl(b"a", v("3"), 0, Event::Set);
        assert_eq!(db.get(b"a", 0).unwrap().expires_at(), 900);
        assert!(db.set_deadline(b"a", 0, 0));
        assert_eq!(db.stored_with_deadline(), 0);
        assert!(db.set_deadline(b"a", 5, 10), "a past deadline deletes");
        assert_eq!(db.stored_len(), 0);
        assert!(!db.set_deadline(b"a", 50, 10));
    }

    #[test]
    fn live_len_never_counts_expired_keys() {
        let ks = Keyspace::new();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..100u32 {
                db.put(&i.to_be_bytes(), v("x"), if i % 2 == 0 { 50 } else { 0 }, 0);
            }
        }
        assert_eq!(ks.live_len(0, 49), 100);
        assert_eq!(ks.live_len(0, 50), 50);
        assert_eq!(ks.read().stored_len(), 50, "due keys were swept");
        assert_eq!(ks.expiry().expired_keys(), 50);
    }

    #[test]
    fn sweep_respects_the_batch_limit_and_skips_stale_hints() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        for i in 0..2500u32 {
            db.put(&i.to_be_bytes(), v("x"), 10, 0);
        }
        // Overwrite one key without a deadline: its hint becomes stale.
        db.put(&0u32.to_be_bytes(), v("y"), 0, 0);
        // The batch bounds entries popped per call, stale ones included.
        assert_eq!(db.db.sweep(20, 1000), (999, true));
        assert_eq!(db.db.sweep(20, 1000), (1000, true));
        assert_eq!(db.db.sweep(20, 1000), (500, false));
        assert_eq!(db.stored_len(), 1);
        assert!(db.get(&0u32.to_be_bytes(), 20).is_some());
    }

    #[test]
    fn re_setting_the_same_keys_keeps_the_heap_bounded() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        for round in 0..200u64 {
            for i in 0..100u32 {
                db.put(&i.to_be_bytes(), v("x"), 1_000_000 + round, 0);
            }
        }
        assert!(db.deadline_hints() <= 2 * 100 + crate::expiry::COMPACT_FLOOR + 1);
        assert_eq!(db.stored_with_deadline(), 100);
    }

    #[test]
    fn alternating_deadlines_on_one_key_keep_the_heap_bounded() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        db.put(b"k", v("x"), 0, 0);
        for i in 0..100_000u64 {
            db.set_deadline(b"k", 1_000_000 + (i % 2), 0);
            assert!(db.deadline_hints() <= 2 + crate::expiry::COMPACT_FLOOR + 1);
            assert_eq!(db.interned_keys(), 1);
        }
        assert_eq!(db.deadline_hints(), 1 + db.stale_hints());
    }

    /// Runs a whole compaction now, whatever the triggers say.
    fn compact_fully(db: &mut Db) -> Vec<Key> {
        let mut freed = Vec::new();
        db.deadlines.start_compaction();
        while db.compact_some(usize::MAX, &mut freed) {}
        freed
    }

    #[test]
    fn every_kind_of_deadline_change_shares_one_copy_of_the_key() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        let key = vec![b'k'; 4096];
        db.put(&key, v("x"), 0, 0);
        for i in 0..3000u64 {
            let before = db.get(&key, 0).unwrap().clone();
            let deadline = 1_000_000 + i;
            match i % 6 {
                // EXPIRE, PEXPIRE, GETEX EX: the deadline changes in place,
                // the value is not copied.
                0..=2 => {
                    assert!(db.set_deadline(&key, deadline, 0));
                    assert!(db.get(&key, 0).unwrap().shares_allocation_with(&before));
                }
                // PERSIST (or GETEX PERSIST).
                3 => assert!(db.set_deadline(&key, 0, 0)),
                // SET ... KEEPTTL: a new value, the same deadline.
                4 => drop(db.put_keep_ttl(&key, v("y"), 0, Event::Set)),
                // SET ... EX: a new value and deadline.
                _ => drop(db.put(&key, v("z"), deadline, 0)),
            }
            assert!(db.interned_keys() <= 1, "{} copies", db.interned_keys());
            assert!(db.interned_key_bytes() <= key.len());
            assert_eq!(
                db.deadline_hints(),
                db.stored_with_deadline() + db.stale_hints()
            );
        }
        // PERSIST and an overwrite without a TTL leave only stale hints,
        // whose shared copy goes with the last of them.
        db.set_deadline(&key, 0, 0);
        db.put(&key, v("w"), 0, 0);
        assert_eq!(db.interned_keys(), 1);
        let freed = compact_fully(db.db);
        assert_eq!((db.deadline_hints(), db.stale_hints()), (0, 0));
        assert_eq!((db.interned_keys(), db.interned_key_bytes()), (0, 0));
        assert_eq!(freed.len(), 1);
        assert_eq!(freed[0].ref_count(), 1, "handed out to be freed");
        // A new deadline makes a new copy, and only one.
        db.set_deadline(&key, 5_000_000, 0);
        db.set_deadline(&key, 5_000_001, 0);
        assert_eq!(db.interned_keys(), 1);
        // Deleted: its copy leaves with its hints.
        db.remove(&key, 0);
        compact_fully(db.db);
        assert_eq!((db.interned_keys(), db.deadline_hints()), (0, 0));
    }

    #[test]
    fn deleted_large_keys_start_a_compaction_by_their_bytes() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        let names: Vec<Vec<u8>> = (0..32u8).map(|i| vec![i; 64 << 10]).collect();
        for name in &names {
            db.put(name, v("x"), 1_000_000, 0);
            db.set_deadline(name, 1_000_001, 0);
        }
        assert_eq!(db.interned_keys(), 32);
        assert!(!db.compaction_due());
        for name in &names {
            db.remove(name, 0);
        }
        // 64 stale hints are far below the count floor; 2 MiB of keys no
        // entry uses are above the byte floor.
        assert_eq!(db.stale_hints(), 64);
        assert!(db.compaction_due());
        let mut freed = Vec::new();
        let mut holds = 0;
        while db.db.compact_some(crate::expiry::SWEEP_BATCH, &mut freed) {
            holds += 1;
        }
        // 64 KiB a key: about 17 hints per hold, not 1,000.
        assert!(
            holds >= 3,
            "{holds} holds: not bounded by the bytes looked up"
        );
        assert_eq!((db.deadline_hints(), db.stale_hints()), (0, 0));
        assert_eq!((db.interned_keys(), db.interned_key_bytes()), (0, 0));
        assert_eq!(freed.len(), 32);
        assert!(!db.compaction_due());
    }

    #[test]
    fn a_key_deleted_and_set_again_expires_on_its_new_deadline_only() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        db.put(b"k", v("old"), 100, 0);
        db.remove(b"k", 0);
        db.put(b"k", v("new"), 100, 0);
        db.set_deadline(b"k", 200, 0);
        // The old key's stale hint at 100 must not remove the new key.
        assert_eq!(db.db.sweep(150, 1000), (0, false));
        assert_eq!(db.get(b"k", 150).unwrap().value(), b"new");
        assert_eq!(db.db.sweep(200, 1000), (1, false));
        assert_eq!((db.deadline_hints(), db.stale_hints()), (0, 0));
        assert_eq!(db.interned_keys(), 0);
    }

    #[test]
    fn a_compaction_is_spread_over_many_writes() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        let n = 20_000u32;
        for round in 0..2u64 {
            for i in 0..n {
                db.put(&i.to_be_bytes(), v("x"), 1_000_000 + round, 0);
            }
        }
        // One more round of re-sets crosses the threshold and starts one.
        let mut i = 0u32;
        while !db.deadlines.compacting() {
            db.put(&i.to_be_bytes(), v("x"), 2_000_000, 0);
            i += 1;
        }
        let before = db.deadline_hints();
        db.put(&i.to_be_bytes(), v("x"), 2_000_000, 0);
        let after = db.deadline_hints();
        assert!(
            after + crate::expiry::COMPACT_STEP >= before,
            "one write did {} entries of compaction work",
            before - after
        );
        assert!(db.deadlines.compacting());
        let mut writes = 1;
        while db.deadlines.compacting() {
            i += 1;
            db.put(&(i % n).to_be_bytes(), v("x"), 2_000_000, 0);
            writes += 1;
        }
        assert!(writes > 1000, "finished after {writes} writes");
        assert_eq!(db.deadline_hints(), n as usize + db.stale_hints());
    }

    #[test]
    fn stale_count_stays_exact_under_any_mix_of_writes() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            seed >> 33
        };
        let mut now = 1000u64;
        for _ in 0..200_000 {
            let key = (next() % 64).to_be_bytes();
            let deadline = if next() % 4 == 0 {
                0
            } else {
                now + next() % 50
            };
            match next() % 7 {
                0 | 1 => drop(db.put(&key, v("x"), deadline, now)),
                2 => drop(db.set_deadline(&key, deadline, now)),
                3 => drop(db.remove(&key, now)),
                4 => drop(db.put_keep_ttl(&key, v("y"), now, Event::Set)),
                5 => drop(db.db.sweep(now, 3)),
                _ => now += next() % 5,
            }
            assert_eq!(
                db.deadline_hints(),
                db.stored_with_deadline() + db.stale_hints()
            );
            // The table holds every key with a deadline, each once.
            assert!(db.interned_keys() <= db.deadline_hints());
            assert!(db.interned_key_bytes() >= db.stored_deadline_key_bytes());
        }
        // Every key with a deadline names its own copy in the table.
        for part in db.parts.iter() {
            for e in part.iter().filter(|e| e.expires_at() != 0) {
                let slot = e.key_slot() as usize;
                assert!(slot >= 1 && db.deadlines.interned_keys() >= slot);
            }
        }
        // Every key with a deadline still has its hint: a full sweep past all
        // deadlines leaves no key with one, an empty heap and no copies.
        while db.db.sweep(u64::MAX - 1, 1000).1 {}
        assert_eq!(db.stored_with_deadline(), 0);
        assert_eq!((db.deadline_hints(), db.stale_hints()), (0, 0));
        assert_eq!((db.interned_keys(), db.interned_key_bytes()), (0, 0));
    }

    #[test]
    fn overwriting_an_expired_key_counts_it_as_expired() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        db.put(b"a", v("1"), 100, 0);
        assert!(db.put(b"a", v("2"), 0, 200).is_none());
        assert_eq!(ks.expiry().expired_keys(), 1);
    }

    #[test]
    fn mass_removal_gives_partition_memory_back() {
        let ks = Keyspace::new();
        let mut guard = ks.write();
        let mut db = guard.writer(0);
        let capacity = |db: &Db| db.parts.iter().map(|p| p.capacity()).sum::<usize>();
        for i in 0..100_000u32 {
            db.put(&i.to_be_bytes(), v("x"), 10, 0);
        }
        let loaded = capacity(&db);
        while db.db.sweep(10, SWEEP_BATCH).1 {}
        assert_eq!(db.stored_len(), 0);
        assert!(loaded > 100_000);
        assert_eq!(db.underfull_partitions().len(), PARTITIONS);
        for part in db.underfull_partitions() {
            assert!(db.db.shrink_partition(part));
        }
        assert!(db.underfull_partitions().is_empty());
        assert!(
            capacity(&db) <= PARTITIONS * 64,
            "{} of {loaded}",
            capacity(&db)
        );
    }

    /// Checks the running count of bytes against a count from scratch.
    fn assert_memory_recounts(store: &Store) {
        assert_eq!(store.used_memory(), store.recount_memory());
        let m = store.memory();
        assert_eq!(m.used, m.startup + m.data + m.tables + m.deadlines);
        assert!(m.peak >= m.used);
    }

    /// One random change of any kind to one of three databases, as the
    /// running count of bytes must follow it.
    fn random_change(store: &mut Store, next: &mut impl FnMut() -> u64, keys: u64, now: &mut u64) {
        let db = (next() % 3) as usize;
        let key = format!("key:{}", next() % keys).into_bytes();
        let value = vec![b'v'; (next() % 80) as usize];
        let deadline = match next() % 4 {
            0 => 0,
            // Far off: re-set often, they leave stale hints to compact.
            1 => *now + 1_000_000 + next() % 1000,
            _ => *now + next() % 200,
        };
        match next() % 16 {
            0..=4 => drop(store.writer(db).put(&key, &value, deadline, *now)),
            5 => {
                let big = std::sync::Arc::new(vec![7u8; 40_000 + next() as usize % 100]);
                let entry = Entry::with_shared_value(&key, big, deadline);
                drop(store.writer(db).put_entry(entry, *now));
            }
            6 => drop(
                store
                    .writer(db)
                    .put_keep_ttl(&key, &value, *now, Event::Set),
            ),
            7 | 8 => drop(store.writer(db).remove(&key, *now)),
            9 | 10 => drop(store.writer(db).set_deadline(&key, deadline, *now)),
            11 => drop(store.sweep(*now, 50)),
            12 => drop(store.compact_some(next() as usize % 64, &mut Discard)),
            13 => {
                for (db, part) in store.underfull_partitions() {
                    store.shrink_partition(db, part);
                }
                store.shrink_deadlines();
            }
            14 => match next() % 500 {
                0 => drop(store.flush(db)),
                1 => store.swap(db, (db + 1) % 3, *now),
                2 => store.writer(db).reserve(next() as usize % 5000),
                _ => {}
            },
            _ => *now += next() % 20,
        }
    }

    #[test]
    fn the_running_count_of_bytes_matches_a_recount_under_any_mix_of_changes() {
        let ks = Keyspace::with_databases(3);
        let mut guard = ks.write();
        let empty = guard.used_memory();
        assert_eq!(empty, guard.recount_memory());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            seed >> 33
        };
        let mut now = 1000u64;
        // A few keys whose deadlines change often: stale hints, compactions.
        let mut compacting = 0;
        for step in 0..40_000 {
            random_change(&mut guard, &mut next, 64, &mut now);
            compacting += usize::from(guard.compaction_due());
            if step % 16 == 0 {
                assert_memory_recounts(&guard);
            }
        }
        assert!(compacting > 0, "no compaction ran");
        // A crowd of keys that expire together: underfull tables and an
        // underfull heap, shrunk.
        for i in 0..40_000u32 {
            guard.writer(2).put(&i.to_be_bytes(), b"x", now + 5, now);
        }
        assert_memory_recounts(&guard);
        while guard.sweep(now + 5, 1000).1 {}
        assert!(guard.underfull_partitions().len() > 100);
        assert!(guard.deadlines_are_underfull());
        for (db, part) in guard.underfull_partitions() {
            assert!(guard.shrink_partition(db, part));
        }
        guard.shrink_deadlines();
        assert_memory_recounts(&guard);
        // Many keys, every kind of change.
        for step in 0..40_000 {
            random_change(&mut guard, &mut next, 3000, &mut now);
            if step % 16 == 0 {
                assert_memory_recounts(&guard);
            }
        }
        assert_memory_recounts(&guard);
        assert!(guard.memory().peak > guard.used_memory());
        // Everything deleted key by key, the queues drained and compacted,
        // the room given back: only what is too small to shrink remains.
        for db in 0..3 {
            let keys: Vec<Vec<u8>> = guard
                .db(db)
                .iter_live(0)
                .map(|e| e.key().to_vec())
                .collect();
            for key in keys {
                guard.writer(db).remove(&key, 0);
            }
        }
        while guard.sweep(u64::MAX - 1, 1000).1 {}
        while guard.compact_some(usize::MAX, &mut Discard) {}
        for (db, part) in guard.underfull_partitions() {
            guard.shrink_partition(db, part);
        }
        guard.shrink_deadlines();
        assert_eq!(guard.stored_len(), 0);
        assert_memory_recounts(&guard);
        assert_eq!(guard.memory().data, 0);
        assert_eq!(guard.deadline_hints(), 0);
        // Flushed: back to the empty store's bytes, exactly.
        guard.flush_all();
        assert_memory_recounts(&guard);
        assert_eq!(guard.used_memory(), empty);
    }

    #[test]
    fn small_keys_count_what_the_allocator_hands_out() {
        let ks = Keyspace::with_databases(1);
        let mut guard = ks.write();
        let empty = guard.used_memory();
        let n = 200_000u32;
        for i in 0..n {
            let key = format!("key:{i:012}");
            guard.writer(0).put(key.as_bytes(), &[b'x'; 16], 0, 0);
        }
        let m = guard.memory();
        // 64-byte chunks for the entries, about 9 to 18 bytes of table.
        assert_eq!(m.data, 64 * n as usize);
        let per_key = (m.used - empty) as f64 / f64::from(n);
        assert!((73.0..=84.0).contains(&per_key), "{per_key} bytes per key");
        let usage = guard.db(0).usage_of(b"key:000000000001", 0).unwrap();
        assert!((73..=84).contains(&usage), "{usage}");
        assert_eq!(guard.db(0).usage_of(b"nope", 0), None);
        // A deadline adds a hint, a place in the heap's table and a copy
        // of the key: 16 + 8 + 48 bytes.
        guard.writer(0).set_deadline(b"key:000000000001", 5000, 0);
        let with_ttl = guard.db(0).usage_of(b"key:000000000001", 0).unwrap();
        assert_eq!(with_ttl, usage + 16 + 8 + 48);
        assert_eq!(guard.db(0).usage_of(b"key:000000000001", 5000), None);
        assert_memory_recounts(&guard);
    }

    #[test]
    fn a_big_value_an_edit_leaves_packed_is_stored_packed() {
        let ks = Keyspace::with_databases(1);
        let mut guard = ks.write();
        let limits = crate::value::Encodings::DEFAULT;
        let mut big = Set::new();
        for m in ["a", "1", "2"] {
            big.insert(m.as_bytes(), &limits);
        }
        let entry = Entry::with_value(b"s", Value::Set(big), 4_102_444_800_000);
        guard.writer(0).put_entry(entry, 0);
        let edit = |guard: &mut Store, change: &dyn Fn(&mut Set) -> bool| {
            let event = Event::Edited("spop");
            let change = |v: &mut Value| (v.set_mut().is_some_and(change), true);
            guard
                .writer(0)
                .edit::<Set, _>(b"s", 0, false, event, change, |_| vec![])
        };
        let removed = edit(&mut guard, &|set| {
            let removed = set.remove(b"a");
            // Rebuilt from what is left, as SPOP's last strategy does.
            *set = Set::from_elements(set.as_ref().elements(), &limits);
            removed
        });
        assert_eq!(removed.ok(), Some(Some(true)));
        let stored = guard.db(0).get(b"s", 0).unwrap();
        assert!(stored.is_packed());
        assert_eq!(stored.collection().unwrap().encoding(), "intset");
        assert_eq!(stored.collection().unwrap().len(), 2);
        assert_eq!(stored.expires_at(), 4_102_444_800_000, "the deadline stays");
        assert_memory_recounts(&guard);
        // An edit that leaves it big stays in place.
        edit(&mut guard, &|set| set.insert(b"x", &limits)).ok();
        let grown = guard.db(0).get(b"s", 0).unwrap();
        assert_eq!(grown.collection().unwrap().encoding(), "hashtable");
        assert_memory_recounts(&guard);
    }

    #[test]
    fn clients_help_a_sweeper_that_is_behind() {
        let ks = Keyspace::new();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..1000u32 {
                db.put(&i.to_be_bytes(), v("x"), 10, 0);
            }
            // A batch that leaves due keys behind raises the flag.
            assert_eq!(guard.sweep(20, 100), (100, true));
        }
        assert!(ks.expiry().behind());
        let before = ks.read_for_sweeper().stored_len();
        drop(ks.read());
        assert_eq!(ks.read_for_sweeper().stored_len(), before - HELP_BATCH);
        drop(ks.write());
        assert_eq!(ks.read_for_sweeper().stored_len(), before - 2 * HELP_BATCH);
        // Holding a guard, a second read cannot take the write lock: it
        // skips the help rather than deadlock.
        let held = ks.read();
        let again = ks.read();
        assert_eq!(again.stored_len(), held.stored_len());
        drop((held, again));
        while ks.write_for_sweeper().sweep(u64::MAX - 1, 1000).1 {}
        assert!(!ks.expiry().behind());
    }
}
