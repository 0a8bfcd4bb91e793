//! The memory limit: which key goes when the keyspace holds more than
//! `maxmemory`, by each of Redis's eight `maxmemory-policy` values.
//!
//! [`Store::make_room`] is the one way keys are evicted. It removes keys
//! through the database's [`DbWriter`](super::DbWriter) as the event
//! `evicted`, so each eviction reaches the commit point like any deletion
//! (`WATCH` fires, a log records a `DEL`), and the entries go to the
//! trash, strings too, freed once the guard is released. It evicts at most
//! a bounded number of keys per call, so that one hold of the lock stays
//! short; the caller releases the lock between calls.
//!
//! How victims are chosen, by policy:
//!
//! - `allkeys-lru`: the CLOCK approximation of LRU. Each database has a
//!   *hand* (`db::Hand`) that walks its partitions in their
//!   tables' order (which the keyed hash makes unrelated to the keys or to
//!   when they were used). A use of a key sets the referenced bit of its
//!   access stamp ([`access`](crate::access)); the hand clears it as it
//!   passes and takes the keys it finds without one. A key is evicted only
//!   if it went unused for a whole turn of the hand, so every survivor was
//!   used more recently than every victim, to within one turn; a seconds
//!   clock, as Redis's `lru` field is, cannot order the thousands of keys a
//!   busy cache touches in one second.
//! - `allkeys-lfu`: the hand examines a stretch of keys and takes the
//!   sixteenth with the lowest access counter (Redis's logarithmic counter,
//!   decayed by `lfu-decay-time`), so each victim ranks among the least
//!   used of the many keys compared, where Redis compares five at a time
//!   with a pool of sixteen.
//! - `allkeys-random`: the hand takes every key it passes. The tables'
//!   order is random with respect to use, so this is random eviction, at
//!   no cost of a random draw per key.
//! - `allkeys-s3fifo`, gocache's own: S3-FIFO (Yang et al., "FIFO queues
//!   are all you need for cache eviction", SOSP 2023). A key new to the
//!   cache joins the *small* queue ([`SmallQueue`], a list of copies of
//!   its keys in the order they were stored), unless the small queue holds
//!   a tenth of the keys already ([`SMALL_SHARE`]; then it joins the main
//!   queue, as in the authors' own simulator) or the *ghost* queue
//!   remembers it ([`Ghost`]; then it joins the main queue, counted as used
//!   once). While the small queue holds more than a tenth of the keys, the
//!   victim is its oldest key not read since it was stored, which the
//!   ghost then remembers, and the keys read that it passes on the way move
//!   to the *main* queue. Otherwise the hand works the main queue as a
//!   CLOCK with a 2-bit count (a read adds one, up to 3; the hand takes a
//!   key at 0 and lowers the others by one) and passes small keys by. So a
//!   key written once and never read (a scan, a one-off miss) holds at most
//!   a tenth of the memory, and only for a tenth of the cache's turnover,
//!   and a key wanted again soon after its eviction is not judged new
//!   twice. Stamps are the queue stamps of [`access`](crate::access).
//! - `volatile-lru`, `volatile-lfu`, `volatile-random`, `volatile-ttl`:
//!   `maxmemory-samples` keys drawn at random from the keys with a deadline
//!   (the deadline heap's table of them, O(1) a draw), and the one idle
//!   longest, used least, or drawn first goes. Under `volatile-ttl` the
//!   deadline heap names the key nearest its deadline exactly (its
//!   earliest hint), and the sample is only for when that hint is stale.
//!
//! The hand queues what it takes (at most [`VICTIMS`] keys, of at most
//! [`VICTIM_BYTES`] bytes in all, per database), and a queued key is
//! evicted only if it is still there and was not used since it was queued.
//!
//! Eviction stops a little below the limit ([`slack`]), so that a flood of
//! writes at the limit takes the lock for an eviction once every few
//! dozen writes rather than for every one.
//!
//! This module never does I/O and never takes a lock: it runs under the
//! write guard its caller holds.

use super::{Db, Event, PARTITIONS, Store};
use crate::access::{MAIN, QUEUE_ACCESS, REFERENCED, promoted, queue_count};

/// Redis's `maxmemory-policy`: what goes when memory is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Nothing: growing commands are refused (the default).
    #[default]
    NoEviction,
    /// Least recently used, among every key.
    AllkeysLru,
    /// gocache's own: S3-FIFO's small, main and ghost queues, among every
    /// key (see the module docs).
    AllkeysS3fifo,
    /// Least recently used, among the keys with a deadline.
    VolatileLru,
    /// Least frequently used, among every key.
    AllkeysLfu,
    /// Least frequently used, among the keys with a deadline.
    VolatileLfu,
    /// Any key.
    AllkeysRandom,
    /// Any key with a deadline.
    VolatileRandom,
    /// The key with a deadline nearest to it.
    VolatileTtl,
}

impl Policy {
    /// Redis's policies, in the order Redis lists them in its error (which
    /// gocache's error repeats, word for word).
    pub const ALL: [Policy; 8] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::NoEviction,
    ];

    /// Redis's name for the policy.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllkeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllkeysLfu => "allkeys-lfu",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::AllkeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
            Policy::AllkeysS3fifo => "allkeys-s3fifo",
        }
    }

    /// The policy named `name`, in any letter case: Redis's eight, and
    /// gocache's own.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .chain([Policy::AllkeysS3fifo])
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// What access stamps mean under this policy.
    pub fn stamp_meaning(self) -> crate::access::Meaning {
        use crate::access::Meaning;
        match self {
            Policy::AllkeysLfu | Policy::VolatileLfu => Meaning::Frequency,
            Policy::AllkeysS3fifo => Meaning::Queues,
            _ => Meaning::Recency,
        }
    }

    /// Whether only keys with a deadline may go.
    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// The memory limit in force: `maxmemory` (0 = none), the policy and
/// `maxmemory-samples`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Most bytes the keyspace and the clients' buffers may hold; 0 for no
    /// limit.
    pub maxmemory: usize,
    /// What goes when they hold more.
    pub policy: Policy,
    /// Keys a volatile policy compares per victim.
    pub samples: usize,
}

impl Default for Limit {
    fn default() -> Limit {
        Limit {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
        }
    }
}

/// What [`Store::make_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Memory is within the limit (keys may have been evicted to get there).
    Enough,
    /// Keys were evicted, as many as one call may, and memory is still over:
    /// call again (after letting others have the lock).
    Evicting,
    /// Memory is over the limit and the policy finds nothing to evict.
    Exhausted,
}

/// Most keys queued for eviction per database.
pub const VICTIMS: usize = 32;

/// Most key bytes queued for eviction per database (a long key or two
/// fill the queue on their own).
pub const VICTIM_BYTES: usize = 64 * 1024;

/// Most keys one turn of the hand examines.
const EXAMINE: usize = 512;

/// Under `allkeys-lfu`, the hand takes one key in this many it examines.
const LFU_SELECTIVITY: usize = 16;

/// Draws per victim a volatile policy makes, per sample it wants, before
/// it settles for what it found (draws can name keys since removed).
const DRAWS_PER_SAMPLE: usize = 4;

/// Under `allkeys-s3fifo`: the small queue gives up keys while it holds
/// more than one key in this many (S3-FIFO's small queue is a tenth of the
/// cache), the main queue otherwise.
pub const SMALL_SHARE: usize = 10;

/// Keys of the small queue one search for a victim looks at, at most.
const SMALL_LOOKS: usize = 64;

/// Under `allkeys-s3fifo`: S3-FIFO's small queue, the keys new to the
/// cache in the order they were stored. A key stays listed after it is
/// deleted or promoted; the queue's head is checked against the database
/// when it is taken.
#[derive(Debug, Default)]
pub struct SmallQueue {
    keys: std::collections::VecDeque<Box<[u8]>>,
    /// Bytes the listed keys' copies allocate.
    key_bytes: usize,
}

impl SmallQueue {
    /// Lists `key` as the newest.
    pub(super) fn push(&mut self, key: Box<[u8]>) {
        self.key_bytes += crate::memory::chunk(key.len());
        self.keys.push_back(key);
    }

    fn pop(&mut self) -> Option<Box<[u8]>> {
        let key = self.keys.pop_front()?;
        self.key_bytes -= crate::memory::chunk(key.len());
        // Give back what a longer queue needed (halving at a quarter, so
        // that growing and shrinking do not alternate).
        if self.keys.capacity() > 64 && self.keys.len() < self.keys.capacity() / 4 {
            self.keys.shrink_to(self.keys.len() * 2);
        }
        Some(key)
    }

    /// Keys listed (some may be gone).
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Forgets every key and gives back the memory (the policy changed, or
    /// the database was emptied).
    pub(super) fn clear(&mut self) {
        *self = SmallQueue::default();
    }

    /// Bytes the queue allocates.
    pub fn footprint(&self) -> usize {
        crate::memory::vec(self.keys.capacity(), std::mem::size_of::<Box<[u8]>>()) + self.key_bytes
    }
}

/// Slots the ghost queue has at least, when it has any.
const GHOST_MIN_SLOTS: usize = 1024;

/// Under `allkeys-s3fifo`: S3-FIFO's ghost queue, the keys lately taken
/// from the small queue, each remembered by a 15-bit fingerprint of its
/// hash in a table of about one slot per key the database holds (rounded
/// up to a power of two; S3-FIFO's ghost is as long as its main queue).
/// A key whose hash lands on a slot already holding another's takes it,
/// so the ghost forgets older keys as newer ones come, as a queue of the
/// same length would, only less strictly; a key never evicted matches a
/// slot one time in 32,768, and then merely starts in the main queue.
#[derive(Debug, Default)]
pub struct Ghost {
    slots: Vec<u16>,
}

impl Ghost {
    /// The slot for `hash`, and the fingerprint it holds for it (never 0,
    /// which marks an empty slot).
    #[inline]
    fn slot(&self, hash: u64) -> (usize, u16) {
        let index = (hash as usize) & (self.slots.len() - 1);
        (index, (hash >> 48) as u16 | 1)
    }

    /// Remembers the key hashed `hash`.
    pub(super) fn remember(&mut self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let (index, print) = self.slot(hash);
        self.slots[index] = print;
    }

    /// Whether the key hashed `hash` is remembered; it is forgotten if so.
    #[inline]
    pub(super) fn take(&mut self, hash: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let (index, print) = self.slot(hash);
        let found = self.slots[index] == print;
        if found {
            self.slots[index] = 0;
        }
        found
    }

    /// Sizes the table for a database of `keys` keys (forgetting every key
    /// when it moves). Call it where the database's memory is counted.
    pub(super) fn fit(&mut self, keys: usize) {
        let want = keys.max(GHOST_MIN_SLOTS).next_power_of_two();
        if self.slots.len() < want || self.slots.len() > 4 * want {
            self.slots = vec![0; want];
        }
    }

    /// Forgets every key and gives back the table (the policy changed).
    pub(super) fn clear(&mut self) {
        self.slots = Vec::new();
    }

    /// Bytes the table allocates.
    #[inline]
    pub fn footprint(&self) -> usize {
        crate::memory::vec(self.slots.capacity(), std::mem::size_of::<u16>())
    }
}

/// Under `volatile-ttl`: stale hints dropped from the front of the deadline
/// heap per victim, at most (the sample decides if there are more).
const STALE_HINTS_DROPPED: usize = 64;

/// Most keys one [`Store::make_room`] evicts.
pub const EVICT_BATCH: usize = 64;

/// How far below the limit eviction goes once it starts: a thousandth of
/// the limit, at most 8 KiB.
pub fn slack(maxmemory: usize) -> usize {
    (maxmemory / 1024).min(8 * 1024)
}

/// A key the hand queued, with its stamp when it was queued.
#[derive(Debug)]
pub(super) struct Victim {
    key: Box<[u8]>,
    stamp: u16,
}

/// The keys queued for eviction in one database.
#[derive(Debug, Default)]
pub(super) struct Victims {
    queue: Vec<Victim>,
    bytes: usize,
}

impl Victims {
    fn is_full(&self) -> bool {
        self.queue.len() >= VICTIMS || self.bytes >= VICTIM_BYTES
    }

    fn push(&mut self, key: &[u8], stamp: u16) {
        self.bytes += key.len();
        self.queue.push(Victim {
            key: key.into(),
            stamp,
        });
    }

    fn pop(&mut self) -> Option<Victim> {
        let victim = self.queue.pop()?;
        self.bytes -= victim.key.len();
        Some(victim)
    }

    /// Forgets every queued key (the policy changed, or the database was
    /// emptied).
    pub(super) fn clear(&mut self) {
        self.queue = Vec::new();
        self.bytes = 0;
    }
}

impl Store {
    /// The memory limit in force.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Sets the memory limit and policy. Stamps mean frequency from now on
    /// if the policy is an LFU one, recency otherwise.
    pub fn set_limit(&mut self, limit: Limit, stamps: crate::access::Stamps) {
        if limit.policy != self.limit.policy {
            for index in 0..self.dbs.len() {
                self.dbs[index].victims.clear();
                if limit.policy != Policy::AllkeysS3fifo {
                    self.counted(index, |db| {
                        db.small.clear();
                        db.ghost.clear();
                    });
                }
            }
        }
        self.limit = limit;
        for db in &mut self.dbs {
            db.stamps = stamps;
        }
    }

    /// Keys evicted since start (`INFO`'s `evicted_keys`).
    pub fn evicted_keys(&self) -> u64 {
        self.evicted
    }

    /// Whether the keyspace and `clients` bytes of client buffers are over
    /// the limit.
    pub fn over_limit(&self, clients: usize) -> bool {
        let max = self.limit.maxmemory;
        max != 0 && self.memory.used + clients > max
    }

    /// Evicts keys by the policy while the keyspace and `clients` bytes of
    /// client buffers are over the limit, down to a little under it
    /// ([`slack`]), at most [`EVICT_BATCH`] keys.
    pub fn make_room(&mut self, clients: usize, now: u64) -> Room {
        if !self.over_limit(clients) {
            return Room::Enough;
        }
        let target = self.limit.maxmemory - slack(self.limit.maxmemory);
        for _ in 0..EVICT_BATCH {
            if self.memory.used + clients <= target {
                return Room::Enough;
            }
            match self.pick_victim(now) {
                Pick::Victim(db, key) => {
                    if let Some(gone) = self.writer(db).remove_as(&key, now, Event::Evicted) {
                        self.evicted += 1;
                        // Freed once the guard is released.
                        self.trash.keep(gone);
                    }
                }
                // The hand passed keys used since its last turn; the next
                // call goes on from there.
                Pick::NotYet => break,
                Pick::Nothing if self.over_limit(clients) => return Room::Exhausted,
                Pick::Nothing => return Room::Enough,
            }
        }
        if self.over_limit(clients) {
            Room::Evicting
        } else {
            Room::Enough
        }
    }

    /// The next key to evict by the policy in force (see [`Pick`]).
    fn pick_victim(&mut self, now: u64) -> Pick {
        let limit = self.limit;
        if limit.policy == Policy::NoEviction {
            return Pick::Nothing;
        }
        let databases = self.dbs.len();
        let mut evictable = false;
        for step in 0..databases {
            let index = (self.evict_from + step) % databases;
            let db = &mut self.dbs[index];
            let found = if limit.policy.volatile_only() {
                if db.stored_with_deadline() == 0 {
                    continue;
                }
                self.rng = next_random(self.rng);
                let seed = self.rng;
                if limit.policy == Policy::VolatileTtl {
                    // Stale hints at the front would hide the nearest key.
                    self.counted(index, |db| db.drop_stale_earliest(STALE_HINTS_DROPPED));
                }
                sample_volatile(&self.dbs[index], limit, now, seed)
            } else {
                if db.len == 0 {
                    continue;
                }
                if limit.policy == Policy::AllkeysS3fifo {
                    // Taking from the small queue frees its copies of keys,
                    // and the ghost is sized to the database here.
                    self.counted(index, |db| {
                        db.ghost.fit(db.len);
                        small_victim(db).or_else(|| queued_victim(db, limit.policy, now))
                    })
                } else {
                    queued_victim(db, limit.policy, now)
                }
            };
            evictable = true;
            if let Some(key) = found {
                // The next victim comes from the next database, so every
                // database gives up keys, as Redis's pool draws from all.
                self.evict_from = (index + 1) % databases;
                return Pick::Victim(index, key);
            }
        }
        if evictable {
            Pick::NotYet
        } else {
            Pick::Nothing
        }
    }
}

/// What [`Store::pick_victim`] found.
enum Pick {
    /// This key of this database goes.
    Victim(usize, Box<[u8]>),
    /// There are keys the policy may evict, but this bounded search chose
    /// none (the hand passed only keys used since its last turn).
    NotYet,
    /// The policy can evict no key (none at all, or none with a deadline).
    Nothing,
}

/// The next queued victim of `db` under an `allkeys-*` policy, turning
/// the hand to queue more when the queue is empty.
fn queued_victim(db: &mut Db, policy: Policy, now: u64) -> Option<Box<[u8]>> {
    // Under CLOCK a turn can pass only keys used since the last turn (it
    // clears their bits); the next then finds them. Three turns, each
    // bounded, before giving up on this database for this victim.
    for _ in 0..3 {
        while let Some(victim) = db.victims.pop() {
            let Some(entry) = db.stored(&victim.key) else {
                continue;
            };
            // A key used since it was queued stays (its stamp moved).
            if policy != Policy::AllkeysRandom && entry.stamp() != victim.stamp {
                continue;
            }
            return Some(victim.key);
        }
        turn_hand(db, policy, now);
    }
    None
}

/// Under `allkeys-s3fifo`, while the small queue holds more than a
/// [`SMALL_SHARE`]th of `db`'s keys: its oldest key not used since it was
/// stored, which the ghost queue then remembers; the used ones it passes
/// move to the main queue. At most [`SMALL_LOOKS`] keys are looked at.
/// `None` leaves it to the main queue.
fn small_victim(db: &mut Db) -> Option<Box<[u8]>> {
    for _ in 0..SMALL_LOOKS {
        if db.small.len() * SMALL_SHARE <= db.len {
            return None;
        }
        let key = db.small.pop()?;
        // Gone, or moved to the main queue since (stored again while the
        // ghost remembered it): not the small queue's any more.
        let Some(entry) = db.stored(&key) else {
            continue;
        };
        let stamp = entry.stamp();
        if stamp & MAIN != 0 {
            continue;
        }
        if queue_count(stamp) > 0 {
            entry.set_stamp(promoted(stamp));
            continue;
        }
        let hash = db.ghost_hash(&key);
        db.ghost.remember(hash);
        return Some(key);
    }
    None
}

/// Moves `db`'s hand over up to [`EXAMINE`] keys, queueing victims by
/// `policy` (see the module docs).
fn turn_hand(db: &mut Db, policy: Policy, now: u64) {
    if db.parts.is_empty() {
        return;
    }
    let mut hand = db.hand;
    let mut examined = 0;
    // Under LFU: the examined keys' counters, to queue the lowest.
    let mut counted: Vec<(u8, u16, &[u8])> = Vec::new();
    let stamps = db.stamps;
    let victims = &mut db.victims;
    let mut partitions_passed = 0;
    // At most one round of the partitions, so no key is passed twice in
    // one call: a second pass would queue a key whose mark (or count) the
    // first just lowered, taking away the turn it was owed. The start of
    // the partition the hand began in waits for the next call.
    'walk: while examined < EXAMINE && partitions_passed < PARTITIONS {
        for entry in db.parts[hand.part].iter().skip(hand.passed) {
            hand.passed += 1;
            examined += 1;
            let stamp = entry.stamp();
            match policy {
                Policy::AllkeysLfu => {
                    counted.push((stamps.frequency(stamp, now), stamp, entry.key()));
                }
                Policy::AllkeysRandom => victims.push(entry.key(), stamp),
                // The small queue has its own order (see `small_victim`).
                Policy::AllkeysS3fifo if stamp & MAIN == 0 => {}
                Policy::AllkeysS3fifo if queue_count(stamp) > 0 => {
                    entry.set_stamp(stamp - QUEUE_ACCESS);
                }
                Policy::AllkeysS3fifo => victims.push(entry.key(), stamp),
                _ if stamp & REFERENCED != 0 => entry.set_stamp(stamp & !REFERENCED),
                _ => victims.push(entry.key(), stamp),
            }
            if examined >= EXAMINE || victims.is_full() {
                break 'walk;
            }
        }
        hand.part = (hand.part + 1) % PARTITIONS;
        hand.passed = 0;
        partitions_passed += 1;
    }
    if !counted.is_empty() {
        let take = counted.len().div_ceil(LFU_SELECTIVITY);
        if take < counted.len() {
            counted.select_nth_unstable_by_key(take, |&(count, _, _)| count);
        }
        // The queue is taken from its end: the least used last.
        let lowest = &mut counted[..take];
        lowest.sort_unstable_by_key(|&(count, _, _)| std::cmp::Reverse(count));
        for &(_, stamp, key) in lowest.iter() {
            if victims.is_full() {
                break;
            }
            victims.push(key, stamp);
        }
    }
    db.hand = hand;
}

/// Under a volatile policy: the best of `maxmemory-samples` keys with a
/// deadline drawn at random from `db`, using `seed` for the draws.
fn sample_volatile(db: &Db, limit: Limit, now: u64, seed: u64) -> Option<Box<[u8]>> {
    if db.stored_with_deadline() == 0 {
        return None;
    }
    // The heap's earliest hint names the key nearest its deadline, unless
    // it is stale; then the sample below decides.
    if limit.policy == Policy::VolatileTtl {
        if let Some((deadline, key)) = db.deadlines.earliest() {
            if let Some(entry) = db.stored(key.bytes()) {
                if entry.expires_at() == deadline {
                    return Some(entry.key().into());
                }
            }
        }
    }
    // No more samples than there are keys with a deadline: a large
    // `maxmemory-samples` must not make one hold of the lock draw billions.
    let samples = limit.samples.clamp(1, db.stored_with_deadline());
    let mut pick = seed;
    // The best so far: its key and its rank (lower goes first).
    let mut best: Option<(u64, &[u8])> = None;
    let mut found = 0;
    for _ in 0..samples * DRAWS_PER_SAMPLE {
        if found == samples {
            break;
        }
        pick = next_random(pick);
        let key = db.deadlines.key_at(pick)?;
        let Some(entry) = db.stored(key.bytes()) else {
            continue;
        };
        let Some(deadline) = entry.deadline() else {
            continue;
        };
        found += 1;
        let rank = match limit.policy {
            Policy::VolatileTtl => deadline,
            Policy::VolatileLfu => u64::from(db.stamps.frequency(entry.stamp(), now)),
            // Longest idle first.
            Policy::VolatileLru => u64::MAX - crate::access::idle_seconds(entry.stamp(), now),
            _ => 0,
        };
        if best.is_none_or(|(r, _)| rank < r) {
            best = Some((rank, entry.key()));
        }
        if limit.policy == Policy::VolatileRandom {
            break;
        }
    }
    best.map(|(_, key)| key.into())
}

/// The next of a sequence of pseudo-random numbers (a 64-bit LCG step
/// mixed down), for draws no client can predict usefully.
fn next_random(state: u64) -> u64 {
    let x = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    x ^ (x >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Stamps;
    use crate::keyspace::Keyspace;

    const NOW: u64 = 1_000_000_000;

    /// A store of `keys` string keys `k0`, `k1`, ... (those in `volatile`
    /// with deadlines 1000 s + their index ahead), under `policy`, with a
    /// fixed seed for the random draws.
    fn store_with(policy: Policy, keys: usize, volatile: &[usize]) -> Keyspace {
        let ks = Keyspace::new();
        let mut g = ks.write();
        let lfu = Stamps {
            meaning: policy.stamp_meaning(),
            ..Stamps::default()
        };
        g.set_limit(
            Limit {
                maxmemory: 0,
                policy,
                samples: 64,
            },
            lfu,
        );
        g.rng = 42;
        for i in 0..keys {
            let deadline = if volatile.contains(&i) {
                NOW + 1_000_000 + i as u64 * 1000
            } else {
                0
            };
            g.writer(0)
                .put(format!("k{i}").as_bytes(), b"v", deadline, NOW);
        }
        drop(g);
        ks
    }

    /// Picks a victim and evicts it; its name.
    fn evict_one(store: &mut Store) -> Option<String> {
        match store.pick_victim(NOW) {
            Pick::Victim(db, key) => {
                store.writer(db).remove_as(&key, NOW, Event::Evicted);
                Some(String::from_utf8(key.into()).unwrap())
            }
            Pick::NotYet => Some("(not yet)".into()),
            Pick::Nothing => None,
        }
    }

    #[test]
    fn noeviction_picks_nothing() {
        let ks = store_with(Policy::NoEviction, 10, &[1]);
        assert_eq!(evict_one(&mut ks.write()), None);
    }

    #[test]
    fn allkeys_lru_takes_the_keys_unused_since_the_hand_last_passed() {
        let ks = store_with(Policy::AllkeysLru, 20, &[]);
        let mut g = ks.write();
        // Every key was just stored, so used: the first pick's turns clear
        // their bits, and one goes.
        let first = evict_one(&mut g).unwrap();
        // Now ten keys are read; the other nine untouched go before any of them.
        let hot: Vec<String> = (0..20)
            .map(|i| format!("k{i}"))
            .filter(|k| *k != first)
            .take(10)
            .collect();
        for k in &hot {
            assert!(g.db(0).get(k.as_bytes(), NOW).is_some());
        }
        let mut gone = Vec::new();
        for _ in 0..9 {
            gone.push(evict_one(&mut g).unwrap());
        }
        assert!(
            gone.iter().all(|k| !hot.contains(k)),
            "{gone:?} took a hot key"
        );
        assert_eq!(g.db(0).stored_len(), 10);
        // Then the hot keys, once the hand has passed them unused.
        for _ in 0..10 {
            let k = evict_one(&mut g).unwrap();
            assert!(hot.contains(&k), "{k}");
        }
        assert_eq!(evict_one(&mut g), None);
    }

    #[test]
    fn allkeys_s3fifo_takes_unread_small_keys_first_then_works_the_main_queue() {
        let ks = store_with(Policy::AllkeysS3fifo, 21, &[]);
        let mut g = ks.write();
        let is_main =
            |g: &mut Store, k: &str| g.db(0).stored(k.as_bytes()).unwrap().stamp() & MAIN != 0;
        // One key in ten joined the small queue: k0, k10 and k20, in order.
        let small: Vec<String> = (0..21)
            .map(|i| format!("k{i}"))
            .filter(|k| !is_main(&mut g, k))
            .collect();
        assert_eq!(small, ["k0", "k10", "k20"]);
        // Three small keys of 21 is over a tenth: the oldest unread one goes,
        // and the ghost remembers it.
        assert_eq!(evict_one(&mut g).as_deref(), Some("k0"));
        // Read keys stay, in either queue, while unread ones go: k10, the
        // small queue's oldest, as soon as the small queue is over its share
        // again (after one main key goes).
        assert!(g.db(0).get(b"k5", NOW).is_some());
        assert!(g.db(0).get(b"k20", NOW).is_some());
        let gone: Vec<String> = (0..5).map(|_| evict_one(&mut g).unwrap()).collect();
        assert!(gone.contains(&"k10".to_string()), "{gone:?}");
        assert!(!gone.iter().any(|k| k == "k5" || k == "k20"), "{gone:?}");
        // Stored again while the ghost remembers it, k0 joins the main queue.
        g.writer(0).put(b"k0", b"v", 0, NOW);
        assert!(is_main(&mut g, "k0"));
        // The small queue, worked, moves the read k20 to the main queue.
        while !is_main(&mut g, "k20") {
            assert_ne!(evict_one(&mut g).as_deref(), Some("k20"));
        }
    }

    #[test]
    fn allkeys_lfu_takes_the_least_used() {
        let ks = store_with(Policy::AllkeysLfu, 40, &[]);
        let mut g = ks.write();
        let minute = (NOW / 60_000) as u8;
        for i in 0..40 {
            let counter = if i == 17 { 1 } else { 50 + i as u8 };
            g.db(0)
                .stored(format!("k{i}").as_bytes())
                .unwrap()
                .set_stamp(u16::from(minute) << 8 | u16::from(counter));
        }
        assert_eq!(evict_one(&mut g).as_deref(), Some("k17"));
    }

    #[test]
    fn allkeys_random_takes_every_key_once_in_turn() {
        let ks = store_with(Policy::AllkeysRandom, 50, &[]);
        let mut g = ks.write();
        let mut gone = std::collections::BTreeSet::new();
        for _ in 0..50 {
            assert!(gone.insert(evict_one(&mut g).unwrap()));
        }
        assert_eq!(evict_one(&mut g), None);
    }

    #[test]
    fn volatile_policies_take_only_keys_with_a_deadline() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let ks = store_with(policy, 30, &[3, 8, 21]);
            let mut g = ks.write();
            let mut gone: Vec<String> = (0..3).filter_map(|_| evict_one(&mut g)).collect();
            gone.sort();
            assert_eq!(gone, ["k21", "k3", "k8"], "{policy:?}");
            assert_eq!(evict_one(&mut g), None, "{policy:?}");
            assert_eq!(g.db(0).stored_len(), 27);
        }
    }

    #[test]
    fn volatile_ttl_takes_the_nearest_deadline_first() {
        let ks = store_with(Policy::VolatileTtl, 30, &[3, 8, 21, 25]);
        let mut g = ks.write();
        // One sample: the order below is the heap's, not a sample's luck.
        let limit = Limit {
            samples: 1,
            ..g.limit()
        };
        g.set_limit(limit, Stamps::default());
        // Deadlines grow with the index, but k25's is moved nearest. Each
        // eviction leaves the victim's hint, stale, at the heap's front.
        g.writer(0).set_deadline(b"k25", NOW + 10, NOW);
        let order: Vec<String> = (0..4).filter_map(|_| evict_one(&mut g)).collect();
        assert_eq!(order, ["k25", "k3", "k8", "k21"]);
    }

    #[test]
    fn volatile_lru_and_lfu_take_the_idlest_and_the_least_used() {
        let ks = store_with(Policy::VolatileLru, 10, &[2, 5]);
        let mut g = ks.write();
        let stamps = Stamps::default();
        g.db(0)
            .stored(b"k5")
            .unwrap()
            .set_stamp(stamps.touched(0, NOW - 600_000));
        assert_eq!(evict_one(&mut g).as_deref(), Some("k5"));

        let ks = store_with(Policy::VolatileLfu, 10, &[2, 5]);
        let mut g = ks.write();
        let minute = (NOW / 60_000) as u16;
        g.db(0).stored(b"k2").unwrap().set_stamp(minute << 8 | 40);
        g.db(0).stored(b"k5").unwrap().set_stamp(minute << 8 | 2);
        assert_eq!(evict_one(&mut g).as_deref(), Some("k5"));
    }

    #[test]
    fn make_room_evicts_to_just_under_the_limit_and_says_when_it_cannot() {
        let ks = store_with(Policy::AllkeysRandom, 2000, &[]);
        let mut g = ks.write();
        let full = g.used_memory();
        let limit = Limit {
            maxmemory: full - 20_000,
            policy: Policy::AllkeysRandom,
            samples: 5,
        };
        g.set_limit(limit, Stamps::default());
        let mut rounds = 0;
        while g.make_room(0, NOW) == Room::Evicting {
            rounds += 1;
            assert!(rounds < 100);
        }
        assert!(g.used_memory() <= limit.maxmemory);
        assert!(g.used_memory() + 2 * slack(limit.maxmemory) > limit.maxmemory - 1000);
        let evicted = g.evicted_keys();
        assert!(evicted > 0 && evicted < 2000, "{evicted}");
        // Client buffers count too; with the keys all gone nothing is left
        // to evict.
        let mut rounds = 0;
        let last = loop {
            match g.make_room(limit.maxmemory, NOW) {
                Room::Evicting => rounds += 1,
                other => break other,
            }
            assert!(rounds < 1000);
        };
        assert_eq!(last, Room::Exhausted);
        assert_eq!(g.db(0).stored_len(), 0);
    }
}
