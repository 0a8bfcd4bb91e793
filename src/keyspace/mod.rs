//! The keyspace: every database, behind one lock, and the one point where
//! every change to it is committed.
//!
//! [`Keyspace`] is a cheap handle (`Arc`) to a `RwLock<Store>`; callers get
//! a [`ReadGuard`] or a [`WriteGuard`] and never the lock itself. A poisoned
//! lock (a panic in some connection while it held the write guard) is
//! recovered, never unwrapped: every method leaves the maps and counters
//! consistent before anything that could panic.
//!
//! The [`Store`] holds the numbered databases ([`Db`], `--databases`, 16 by
//! default), the count of changes, the registry of watched keys
//! ([`watch`]) and the [`ChangeLog`] of the changes not yet committed. The
//! only way to change a database is a [`DbWriter`] (from
//! [`Store::writer`]) or one of the store's own database-wide operations
//! (flush, swap, sweep); each counts what it changes in the log, naming
//! the event as Redis names it. Dropping the [`WriteGuard`] commits the
//! log, under the lock and before it is released: the count of changes
//! moves, the watchers of each changed key are marked, and the clients
//! blocked on a key that now holds a list are served ([`blocked`]), their
//! threads woken once the lock is released. Whoever takes a
//! write guard (a command's context, `EXEC`, the sweeper, a client helping
//! it, the snapshot loader) therefore commits through the same point, and
//! no change can skip it. Later subsystems (the append-only log, keyspace
//! notifications) attach in `Store::commit`.
//!
//! One lock, not shards, on measurement (figures in the README's Performance
//! section). A first trial routing single-key commands over 16 independent
//! locks gained nothing unpipelined (each request costs a thread wake-up, not
//! lock time) and 9-12 % on pipelined writes. Once `SET` built its entry
//! before taking the lock, a complete 16-shard keyspace (multi-key commands,
//! `EXEC` and snapshots over every shard's guard, taken in order) measured
//! within the noise of the single lock at `-P 16` and at `-P 1`. One lock
//! keeps `MSET`, `EXEC`, `MOVE`, `SWAPDB` and snapshots atomic with no lock
//! ordering, so it stays.
//!
//! The store also keeps the bytes the keyspace holds as a running sum
//! (`INFO memory`'s `used_memory`, see [`memory`](crate::memory)): each
//! database counts its own ([`Db::used_memory`], O(1)), and every change
//! made through a [`DbWriter`] or the store's own operations moves the
//! store's total by the database's count after it less the count before
//! it, and the peak with it. A few integer operations under the guard the
//! change already holds; nothing ever walks the keys to count.
//!
//! While the sweeper is behind (a mass expiry), every [`Keyspace::read`]
//! and [`Keyspace::write`] also removes a few due keys, so that the many
//! connection threads cannot starve the one sweeper of CPU. This module
//! must never do I/O or sleep while a guard is held; it only touches
//! memory.

pub mod blocked;
pub mod changes;
mod db;
pub mod evict;
mod trash;
pub mod watch;

pub use crate::entry::{Entry, Key};
pub use blocked::{
    Blocked, Delivery, EncodeServed, Outcome, Served, Waiter, WakeReason, WakeSocket, Waker, Wants,
};
pub use changes::{Change, ChangeLog, Effect, Event, ReplayWriter};
pub use db::{Db, PARTITIONS};
pub use evict::{Limit, Policy, Room};
pub use trash::Trash;
pub use watch::{WatchFlag, Watches, Watching};

use crate::aof::Journal;
use crate::error::CommandError;
use crate::expiry::{ExpiryState, SWEEP_BATCH};
use crate::value::{Collection, Value};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

/// Most due keys a client's read or write removes while the sweeper is
/// behind (a few microseconds of work).
pub const HELP_BATCH: usize = 32;

/// Databases a keyspace has unless configured otherwise (Redis's default).
pub const DEFAULT_DATABASES: usize = 16;

/// The bytes the keyspace holds, kept as a running sum: every change to a
/// database counts what it did to the database's bytes (an O(1) difference
/// of [`Db::used_memory`] before and after), and the peak follows.
#[derive(Debug, Clone, Copy)]
struct MemoryUse {
    /// The store's own bytes with no key (the databases' fixed part).
    startup: usize,
    /// `startup` plus every database's [`Db::used_memory`].
    used: usize,
    /// The most `used` has been.
    peak: usize,
}

impl MemoryUse {
    /// Counts a database's bytes going from `before` to `after`.
    #[inline]
    fn changed(&mut self, before: usize, after: usize) {
        self.used = self.used - before + after;
        if self.used > self.peak {
            self.peak = self.used;
        }
    }
}

/// The bytes the keyspace holds, by part (see [`Store::memory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Everything counted: the sum of the other parts.
    pub used: usize,
    /// The most `used` has been since start.
    pub peak: usize,
    /// The store's bytes with no key.
    pub startup: usize,
    /// The entries: keys and values.
    pub data: usize,
    /// The partitions and their tables.
    pub tables: usize,
    /// The deadline heaps.
    pub deadlines: usize,
}

impl Memory {
    /// Everything but the entries: the startup bytes, the tables and the
    /// deadline heaps.
    pub fn overhead(&self) -> usize {
        self.used - self.data
    }
}

/// Every database, and what a commit needs; what the lock guards.
pub struct Store {
    dbs: Vec<Db>,
    memory: MemoryUse,
    /// Changes committed since the keyspace was created (never goes down).
    changes: u64,
    log: ChangeLog,
    watches: Watches,
    expiry: Arc<ExpiryState>,
    /// The database the next sweep looks at first.
    sweep_from: usize,
    /// What writes removed, freed once the write guard is released.
    trash: Trash,
    /// The clients blocked on list keys.
    blocked: Blocked,
    /// Waiters served (or unblocked) under this guard, woken once it is
    /// released.
    woken: Vec<Arc<Waiter>>,
    /// The memory limit and eviction policy in force.
    limit: Limit,
    /// Keys evicted since start.
    evicted: u64,
    /// The database the next victim is looked for in first.
    evict_from: usize,
    /// The state of eviction's random draws.
    rng: u64,
    /// `memory.used`, published at each commit for a check without the lock.
    used_published: Arc<std::sync::atomic::AtomicUsize>,
    /// The append-only log's journal, while the log is on: each commit's
    /// record is appended to it.
    journal: Option<Arc<Journal>>,
    /// Where the last commit's record ended in the journal's stream (0:
    /// it appended none).
    appended_to: u64,
}

impl Store {
    fn new(databases: usize, expiry: Arc<ExpiryState>) -> Store {
        let dbs: Vec<Db> = (0..databases).map(|_| Db::new(expiry.clone())).collect();
        let startup = crate::memory::vec(dbs.capacity(), std::mem::size_of::<Db>());
        Store {
            dbs,
            memory: MemoryUse {
                startup,
                used: startup,
                peak: startup,
            },
            changes: 0,
            log: ChangeLog::default(),
            watches: Watches::default(),
            expiry,
            sweep_from: 0,
            trash: Trash::default(),
            blocked: Blocked::default(),
            woken: Vec::new(),
            limit: Limit::default(),
            evicted: 0,
            evict_from: 0,
            rng: crate::clock::now_us() | 1,
            used_published: Arc::new(std::sync::atomic::AtomicUsize::new(startup)),
            journal: None,
            appended_to: 0,
        }
    }

    /// Starts (`Some`) or stops (`None`) appending every commit to the
    /// append-only log's journal. Changes made before are not logged.
    pub fn attach_journal(&mut self, journal: Option<Arc<Journal>>) {
        self.commit();
        self.log.journaling = journal.is_some();
        self.journal = journal;
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index` (which must be below [`Store::databases`]).
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    /// Every database, in order.
    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Changes committed since the keyspace was created.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Keys stored in every database, counting any not yet swept.
    pub fn stored_len(&self) -> usize {
        self.dbs.iter().map(Db::stored_len).sum()
    }

    /// The way to change database `index`.
    pub fn writer(&mut self, index: usize) -> DbWriter<'_> {
        DbWriter {
            db: &mut self.dbs[index],
            log: &mut self.log,
            memory: &mut self.memory,
            trash: &mut self.trash,
            index,
        }
    }

    /// Bytes the keyspace holds (`INFO memory`'s `used_memory`): a running
    /// sum, read in O(1).
    pub fn used_memory(&self) -> usize {
        self.memory.used
    }

    /// The bytes the keyspace holds, by part. O(databases): it adds up
    /// each database's counts, never walking the keys.
    pub fn memory(&self) -> Memory {
        let sum = |part: fn(&Db) -> usize| self.dbs.iter().map(part).sum();
        Memory {
            used: self.memory.used,
            peak: self.memory.peak,
            startup: self.memory.startup,
            data: sum(Db::data_bytes),
            tables: sum(Db::table_bytes),
            deadlines: sum(Db::deadline_bytes),
        }
    }

    /// [`Store::used_memory`] counted from scratch, walking every key.
    #[cfg(test)]
    fn recount_memory(&self) -> usize {
        self.memory.startup + self.dbs.iter().map(Db::recount_memory).sum::<usize>()
    }

    /// Runs `change` on database `index` and counts what it did to the
    /// bytes held.
    fn counted<R>(&mut self, index: usize, change: impl FnOnce(&mut Db) -> R) -> R {
        let db = &mut self.dbs[index];
        let before = db.used_memory();
        let result = change(db);
        self.memory.changed(before, db.used_memory());
        result
    }

    /// Empties database `index`; returns how many keys it held.
    pub fn flush(&mut self, index: usize) -> usize {
        let n = self.dbs[index].stored_len();
        if n == 0 {
            // Nothing to record, but the room its keys left goes back.
            let (_, tables) = self.counted(index, Db::clear);
            self.trash.tables(tables, 0);
            return 0;
        }
        let keys = if self.log.in_detail() {
            let held = self.watches.held_by(index, &self.dbs[index]);
            held.into_iter().cloned().collect()
        } else {
            Vec::new()
        };
        let (_, tables) = self.counted(index, Db::clear);
        self.trash.tables(tables, n);
        self.log.other(Change::Flushed { db: index, keys });
        n
    }

    /// Empties every database; returns how many keys they held.
    pub fn flush_all(&mut self) -> usize {
        (0..self.dbs.len()).map(|i| self.flush(i)).sum()
    }

    /// Swaps the contents of databases `a` and `b` (`SWAPDB`): clients
    /// using one now see the other's keys.
    /// `now` tells which keys are past their deadline, for `WATCH`.
    pub fn swap(&mut self, a: usize, b: usize, now: u64) {
        if a != b {
            self.dbs.swap(a, b);
        }
        self.log.other(Change::Swapped { a, b, now });
    }

    /// Watches `key` of database `db` for `watching` (once per key).
    pub fn watch(&mut self, watching: &mut Watching, db: usize, key: &[u8], now: u64) {
        if watching.keys.iter().any(|(d, k)| *d == db && k == key) {
            return;
        }
        // Changes made before the watch must not mark it.
        self.commit();
        let expired = self.dbs[db].is_stored_expired(key, now);
        self.watches.add(&watching.flag, db, key, expired);
        watching.keys.push((db, key.to_vec()));
        self.log.watched.insert(db, key);
    }

    /// Forgets every key `watching` watches, and leaves it clean.
    pub fn unwatch(&mut self, watching: &mut Watching) {
        self.watches.remove(&watching.flag, &watching.keys);
        *watching = Watching::default();
        if self.watches.is_empty() {
            self.log.watched.clear();
        }
    }

    /// Whether a key `watching` watches changed since it was watched, or
    /// is now past its deadline though it was live then: `EXEC` aborts.
    pub fn watch_broken(&self, watching: &Watching, now: u64) -> bool {
        watching.flag.is_dirty() || self.watches.expired_since_watch(watching, &self.dbs, now)
    }

    /// Keys watched by any client, once per database and key.
    pub fn watched_keys(&self) -> usize {
        self.watches.len()
    }

    /// Commits the changes made since the last commit: counts them, marks
    /// the watchers of every changed key and serves the clients blocked on
    /// a key that now holds a list, whose pops are changes of their own,
    /// committed in the next round. The write guard calls it as it drops,
    /// under the lock.
    #[inline]
    fn commit(&mut self) {
        loop {
            self.changes += self.log.count;
            self.log.count = 0;
            if self.log.changes.is_empty() {
                break;
            }
            self.commit_kept();
        }
        if !self.log.record.is_empty() {
            self.append_record();
        }
    }

    /// Appends the commit's record to the journal: every round of the
    /// commit (a push and the pops it served) in one record, so that a
    /// crash keeps all of it or none.
    #[cold]
    #[inline(never)]
    fn append_record(&mut self) {
        if let Some(journal) = &self.journal {
            self.appended_to = journal.append(self.log.record.finish());
        }
        self.log.record.clear();
    }

    /// The part of a commit that hands the kept changes to their listeners.
    #[cold]
    #[inline(never)]
    fn commit_kept(&mut self) {
        let mut changes = std::mem::take(&mut self.log.changes);
        if !self.watches.is_empty() {
            self.watches.touch(&changes, &self.dbs);
        }
        if !self.blocked.is_empty() {
            self.serve_blocked(&changes);
        }
        // Keep the buffer's room for the next command, unless serving
        // left changes for the next round.
        changes.clear();
        if self.log.changes.is_empty() {
            self.log.changes = changes;
        }
    }

    /// The earliest queued deadline of any database (possibly stale).
    pub fn next_deadline(&self) -> Option<u64> {
        self.dbs.iter().filter_map(Db::next_deadline).min()
    }

    /// Arms the sweeper's alarm with the earliest queued deadline and returns
    /// it. Reading and arming under one guard is what keeps the sweeper from
    /// sleeping past a deadline added meanwhile (see [`ExpiryState`]).
    pub fn arm_sweeper(&self) -> Option<u64> {
        let next = self.next_deadline();
        self.expiry.arm(next);
        next
    }

    /// Removes up to `batch` keys whose deadline is at or before `now`, from
    /// every database. Returns how many were removed and whether more are due.
    /// A removed collection goes to the trash, freed after the guard.
    pub fn sweep(&mut self, now: u64, batch: usize) -> (usize, bool) {
        let mut trash = std::mem::take(&mut self.trash);
        let swept = self.sweep_into(now, batch, &mut trash);
        self.trash = trash;
        swept
    }

    /// Like [`Store::sweep`], but hands each removed entry, and each key a
    /// deadline heap let go of, to `removed` instead of freeing them, so
    /// that a caller can free them after it has released the lock. `batch`
    /// bounds the heap entries popped.
    pub fn sweep_into<R: Extend<Entry> + Extend<Key>>(
        &mut self,
        now: u64,
        batch: usize,
        removed: &mut R,
    ) -> (usize, bool) {
        // One database per call, starting after the last one swept, so a
        // database whose keys keep falling due never starves the others.
        let n = self.dbs.len();
        let mut count = 0;
        for step in 0..n {
            let index = (self.sweep_from + step) % n;
            if self.dbs[index].next_deadline().is_none_or(|d| d > now) {
                continue;
            }
            let mut recorded = Recorded {
                log: &mut self.log,
                db: index,
                inner: removed,
            };
            let db = &mut self.dbs[index];
            let before = db.used_memory();
            count = db.sweep_into(now, batch, &mut recorded).0;
            self.memory.changed(before, db.used_memory());
            self.sweep_from = (index + 1) % n;
            break;
        }
        let more = self.next_deadline().is_some_and(|d| d <= now);
        self.expiry.set_behind(more);
        (count, more)
    }

    /// Whether a deadline heap wants a compaction or has one under way.
    pub fn compaction_due(&self) -> bool {
        self.dbs.iter().any(Db::compaction_due)
    }

    /// Advances the first due compaction by up to `max` entries, handing
    /// the keys it frees to `freed`. Returns whether one is still due.
    pub fn compact_some(&mut self, max: usize, freed: &mut impl Extend<Key>) -> bool {
        if let Some(index) = self.dbs.iter().position(Db::compaction_due) {
            self.counted(index, |db| db.compact_some(max, freed));
        }
        self.compaction_due()
    }

    /// `(database, partition)` of every partition holding less than a
    /// quarter of its room.
    pub fn underfull_partitions(&self) -> Vec<(usize, usize)> {
        self.dbs
            .iter()
            .enumerate()
            .flat_map(|(i, db)| db.underfull_partitions().into_iter().map(move |p| (i, p)))
            .collect()
    }

    /// Gives back the spare room of one partition if it is underfull.
    pub fn shrink_partition(&mut self, db: usize, part: usize) -> bool {
        db < self.dbs.len() && self.counted(db, |d| d.shrink_partition(part))
    }

    /// Whether some deadline heap holds less than a quarter of its room.
    pub fn deadlines_are_underfull(&self) -> bool {
        self.dbs.iter().any(Db::deadlines_are_underfull)
    }

    /// Gives back the deadline heaps' spare room.
    pub fn shrink_deadlines(&mut self) {
        for index in 0..self.dbs.len() {
            self.counted(index, Db::shrink_deadlines);
        }
    }

    /// Deadline hints queued in every database, stale ones included.
    pub fn deadline_hints(&self) -> usize {
        self.dbs.iter().map(Db::deadline_hints).sum()
    }

    /// Stale deadline hints in every database.
    pub fn stale_hints(&self) -> usize {
        self.dbs.iter().map(Db::stale_hints).sum()
    }
}

/// A sink for a sweep that records each removal as an expiry and passes
/// it on.
struct Recorded<'a, R> {
    log: &'a mut ChangeLog,
    db: usize,
    inner: &'a mut R,
}

impl<R: Extend<Entry>> Extend<Entry> for Recorded<'_, R> {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        for entry in iter {
            self.log
                .key(self.db, Event::Expired, &entry, Effect::Removed);
            self.inner.extend(Some(entry));
        }
    }
}

impl<R: Extend<Key>> Extend<Key> for Recorded<'_, R> {
    fn extend<I: IntoIterator<Item = Key>>(&mut self, iter: I) {
        self.inner.extend(iter);
    }
}

/// The way to change one database: Redis's semantics over the database's
/// primitives (a key past its deadline is removed, and counted as expired,
/// by the write that finds it), each change recorded for the commit. It
/// reads as the database it writes.
pub struct DbWriter<'a> {
    db: &'a mut Db,
    log: &'a mut ChangeLog,
    memory: &'a mut MemoryUse,
    trash: &'a mut Trash,
    index: usize,
}

impl Deref for DbWriter<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl DbWriter<'_> {
    /// The database's number.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs `change` on the database and counts what it did to the bytes
    /// held: a few integer operations, under the guard already held.
    #[inline]
    fn counted<R>(&mut self, change: impl FnOnce(&mut Db) -> R) -> R {
        let before = self.db.used_memory();
        let result = change(self.db);
        self.memory.changed(before, self.db.used_memory());
        result
    }

    /// Removes `key` if it is stored past its deadline, as an expiry.
    fn expire_if_due(&mut self, key: &[u8], now: u64) {
        if self.db.is_stored_expired(key, now) {
            if let Some(gone) = self.counted(|db| db.take_key(key)) {
                self.expired(&gone);
                self.trash.entry(&gone);
            }
        }
    }

    fn expired(&mut self, gone: &Entry) {
        self.db.expiry.count_expired(1);
        self.log
            .key(self.index, Event::Expired, gone, Effect::Removed);
    }

    /// The live entry for `key`; a stored one past its deadline is removed.
    pub fn get_live(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(key, now);
        let entry = self.db.stored(key)?;
        entry.set_stamp(self.db.stamps.touched(entry.stamp(), now));
        Some(entry)
    }

    /// Stores `entry` (built before the lock was taken) as a `set`.
    /// Returns the previous live entry.
    #[inline]
    pub fn put_entry(&mut self, entry: Entry, now: u64) -> Option<Entry> {
        self.put_entry_as(entry, now, Event::Set)
    }

    /// Stores `entry`, recorded as `event`. Returns the previous live entry.
    #[inline]
    pub fn put_entry_as(&mut self, entry: Entry, now: u64, event: Event) -> Option<Entry> {
        let expires_at = entry.expires_at();
        // Recorded once the old entry is known: Redis counts a key found
        // expired by the write that replaces it as expired before the
        // write, and a replay must remove the old value, then store.
        let recorded = self
            .log
            .wants(self.index, entry.key())
            .then(|| entry.clone());
        let old = self.counted(|db| db.insert(entry, now));
        let live_old = match old {
            Some(old) => {
                self.trash.entry(&old);
                if old.is_expired(now) {
                    self.expired(&old);
                    None
                } else {
                    Some(old)
                }
            }
            None => None,
        };
        match recorded {
            Some(entry) => self
                .log
                .key(self.index, event, &entry, Effect::Stored(expires_at)),
            None => self.log.count_only(),
        }
        live_old
    }

    /// Stores `value` under `key` with `expires_at` (0 for none) as a `set`.
    pub fn put(&mut self, key: &[u8], value: &[u8], expires_at: u64, now: u64) -> Option<Entry> {
        self.put_entry(Entry::new(key, value, expires_at), now)
    }

    /// Replaces the value of a live `key`, keeping its deadline; stores it
    /// without a deadline when absent. Recorded as `event`.
    pub fn put_keep_ttl(
        &mut self,
        key: &[u8],
        value: &[u8],
        now: u64,
        event: Event,
    ) -> Option<Entry> {
        let expires_at = self.get_live(key, now).map_or(0, Entry::expires_at);
        self.put_entry_as(Entry::new(key, value, expires_at), now, event)
    }

    /// Removes `key` as a `del`; returns its entry if it was live.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        self.remove_as(key, now, Event::Del)
    }

    /// Removes `key`, recorded as `event`; returns its entry if it was live.
    pub fn remove_as(&mut self, key: &[u8], now: u64, event: Event) -> Option<Entry> {
        let old = self.counted(|db| db.take_key(key))?;
        self.trash.entry(&old);
        if old.is_expired(now) {
            self.expired(&old);
            return None;
        }
        self.log.key(self.index, event, &old, Effect::Removed);
        Some(old)
    }

    /// Takes a live `key` out, recorded as `event`, and hands its entry to
    /// the caller (who moves it elsewhere: `RENAME`, `MOVE`), not to the
    /// trash; `None` if it was not live.
    pub fn take_as(&mut self, key: &[u8], now: u64, event: Event) -> Option<Entry> {
        self.expire_if_due(key, now);
        let old = self.counted(|db| db.take_key(key))?;
        self.log.key(self.index, event, &old, Effect::Removed);
        Some(old)
    }

    /// Sets (or with 0, clears) the deadline of a live `key`. A deadline at
    /// or before `now` deletes the key at once (a `del`, as in Redis).
    /// Returns whether it was live.
    pub fn set_deadline(&mut self, key: &[u8], expires_at: u64, now: u64) -> bool {
        self.expire_if_due(key, now);
        if expires_at != 0 && expires_at <= now {
            return self.remove(key, now).is_some();
        }
        if !self.counted(|db| db.change_deadline(key, expires_at)) {
            return false;
        }
        let event = if expires_at == 0 {
            Event::Persist
        } else {
            Event::Expire
        };
        if let Some(entry) = self.db.stored(key) {
            self.log
                .key(self.index, event, entry, Effect::Deadline(expires_at));
        }
        true
    }

    /// Stores the collection `value` under `key` with `expires_at` (0 for
    /// none), recorded as `event`. Returns the previous live entry. An
    /// empty collection is not stored (Redis never keeps one): the key is
    /// removed instead.
    pub fn put_value(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        now: u64,
        event: Event,
    ) -> Option<Entry> {
        if value.is_empty() {
            return self.remove(key, now);
        }
        self.put_entry_as(Entry::with_value(key, value, expires_at), now, event)
    }

    /// Edits the live collection of `key`, which must be of `kind`:
    /// creates it with `create` when the key is absent (or answers
    /// `Ok(None)` without one), runs `change` on it in place, and, if
    /// `change` says it changed something (the `bool` it returns beside its
    /// result), records the edit as `event`, with the command `replay`
    /// builds from the result for a log (called only if some listener
    /// keeps changes). A collection left empty is removed, as a `del` after
    /// the edit.
    ///
    /// # Errors
    /// `WRONGTYPE` if the key holds another type.
    pub fn edit<C: Collection, R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: bool,
        event: Event,
        change: impl FnOnce(&mut Value) -> (R, bool),
        replay: impl FnOnce(&R) -> Vec<Vec<u8>>,
    ) -> Result<Option<R>, CommandError> {
        // Whether the key holds a live collection of this type, and the
        // edit, and whether it left the collection empty, are all one
        // lookup; the entry is looked up again only for a listener.
        let run = |value: &mut Value| {
            let (result, changed) = change(value);
            (result, changed, value.is_empty())
        };
        // Taken only by the attempt that runs it (one that finds no live
        // collection of this type leaves it for the next).
        let mut run = Some(run);
        let mut edit_once = |writer: &mut Self| {
            writer
                .counted(|db| db.edit(key, now, C::KIND, |value| run.take().map(|run| run(value))))
        };
        let edited = match edit_once(self) {
            db::Edit::Done(done) => done,
            db::Edit::WrongType => return Err(CommandError::WrongType),
            db::Edit::Expired | db::Edit::Absent => {
                self.expire_if_due(key, now);
                if !create {
                    return Ok(None);
                }
                // Stored without a record: the edit below is the change.
                let entry = Entry::with_value(key, C::empty(), 0);
                self.counted(|db| db.insert(entry, now));
                match edit_once(self) {
                    db::Edit::Done(done) => done,
                    _ => None,
                }
            }
        };
        let Some((result, changed, emptied)) = edited else {
            return Ok(None);
        };
        if changed && self.log.counts_edit(self.index, key) {
            if let Some(entry) = self.db.stored(key) {
                self.log
                    .keep_edit(self.index, event, entry, replay(&result));
            }
        }
        if emptied {
            if let Some(gone) = self.counted(|db| db.take_key(key)) {
                self.log.key(self.index, Event::Del, &gone, Effect::Removed);
                self.trash.entry(&gone);
            }
        }
        Ok(Some(result))
    }

    /// Makes room for `additional` more keys (loading a snapshot).
    pub fn reserve(&mut self, additional: usize) {
        self.counted(|db| db.reserve(additional));
    }
}

/// A shared guard on the keyspace. Dropping it notes, for the log's
/// sake, what had been appended when this thread read (see
/// [`Journal::settle_marks`]).
pub struct ReadGuard<'a>(RwLockReadGuard<'a, Store>);

impl Drop for ReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(journal) = &self.0.journal {
            journal.note_saw();
        }
    }
}

impl Deref for ReadGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

/// An exclusive guard on the keyspace; dropping it commits what was
/// changed under it (see `Store::commit`), releases the lock, and then
/// wakes the blocked clients it served and frees what the changes removed
/// ([`Trash`]).
pub struct WriteGuard<'a>(Option<RwLockWriteGuard<'a, Store>>);

impl<'a> WriteGuard<'a> {
    fn new(guard: RwLockWriteGuard<'a, Store>) -> WriteGuard<'a> {
        WriteGuard(Some(guard))
    }
}

impl Deref for WriteGuard<'_> {
    type Target = Store;
    #[inline]
    fn deref(&self) -> &Store {
        match &self.0 {
            Some(guard) => guard,
            // Taken only by `drop`.
            None => unreachable!("write guard used after release"),
        }
    }
}

impl DerefMut for WriteGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Store {
        match &mut self.0 {
            Some(guard) => guard,
            None => unreachable!("write guard used after release"),
        }
    }
}

impl Drop for WriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let Some(mut guard) = self.0.take() else {
            return;
        };
        guard.commit();
        guard
            .used_published
            .store(guard.memory.used, std::sync::atomic::Ordering::Relaxed);
        let mut settle_before_waking = None;
        let wrote = std::mem::take(&mut guard.appended_to);
        if let Some(journal) = &guard.journal {
            if wrote != 0 {
                journal.note_wrote(wrote);
            } else {
                journal.note_saw();
            }
            // A served client's reply reveals the pop this commit logged:
            // it goes out once the log allows, like the pusher's own.
            if !guard.woken.is_empty() {
                settle_before_waking = Some((journal.clone(), journal.appended()));
            }
        }
        let trash = if guard.trash.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut guard.trash))
        };
        let woken = if guard.woken.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut guard.woken))
        };
        drop(guard);
        if let Some((journal, upto)) = settle_before_waking {
            journal.settle(crate::aof::Marks {
                wrote: upto,
                saw: upto,
            });
        }
        if let Some(woken) = woken {
            woken.iter().for_each(|w| w.wake());
        }
        if let Some(trash) = trash {
            trash.free();
        }
    }
}

/// A handle to the shared keyspace; clone it freely.
#[derive(Clone)]
pub struct Keyspace {
    store: Arc<RwLock<Store>>,
    expiry: Arc<ExpiryState>,
    databases: usize,
    /// The store's `used_memory` as of the last commit.
    used_published: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyspace {
    /// An empty keyspace of [`DEFAULT_DATABASES`] with its own expiry queue.
    pub fn new() -> Keyspace {
        Keyspace::with_databases(DEFAULT_DATABASES)
    }

    /// An empty keyspace of `databases` databases (at least one).
    pub fn with_databases(databases: usize) -> Keyspace {
        Keyspace::build(databases, ExpiryState::default())
    }

    /// An empty keyspace whose sweeper sleeps on `expiry` (tests use a long
    /// maximum sleep to show that wake-ups come from the alarm, not a tick).
    pub fn with_expiry(expiry: ExpiryState) -> Keyspace {
        Keyspace::build(DEFAULT_DATABASES, expiry)
    }

    fn build(databases: usize, expiry: ExpiryState) -> Keyspace {
        let expiry = Arc::new(expiry);
        let databases = databases.max(1);
        let store = Store::new(databases, expiry.clone());
        let used_published = store.used_published.clone();
        Keyspace {
            store: Arc::new(RwLock::new(store)),
            expiry,
            databases,
            used_published,
        }
    }

    /// The keyspace's `used_memory` as of the last write committed: one
    /// atomic load, no lock, for deciding whether to take the lock to evict.
    #[inline]
    pub fn used_memory_published(&self) -> usize {
        self.used_published
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A shared guard for reading. Recovers a poisoned lock.
    ///
    /// While the sweeper is behind (mass expiry), the caller first removes
    /// up to [`HELP_BATCH`] due keys if the write lock is free this instant
    /// (never waiting for it, so this cannot deadlock a thread that already
    /// holds a guard). Connection threads would otherwise outnumber the one
    /// sweeper thread for the CPU; this way the clients that compete with it
    /// pay a few microseconds each, as Redis's single thread does.
    pub fn read(&self) -> ReadGuard<'_> {
        if self.expiry.behind() {
            self.help_sweep();
        }
        self.read_for_sweeper()
    }

    /// An exclusive guard for writing. Recovers a poisoned lock. While the
    /// sweeper is behind, the caller removes up to [`HELP_BATCH`] due keys
    /// first (see [`Keyspace::read`]).
    #[inline]
    pub fn write(&self) -> WriteGuard<'_> {
        let mut guard = self.write_for_sweeper();
        if self.expiry.behind() {
            guard.sweep(crate::clock::now_ms(), HELP_BATCH);
        }
        guard
    }

    /// A write guard without helping the sweeper: the sweeper's own.
    pub fn write_for_sweeper(&self) -> WriteGuard<'_> {
        WriteGuard::new(self.store.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// A read guard without helping the sweeper: the sweeper's own.
    pub fn read_for_sweeper(&self) -> ReadGuard<'_> {
        ReadGuard(self.store.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn help_sweep(&self) {
        let store = match self.store.try_write() {
            Ok(store) => store,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        WriteGuard::new(store).sweep(crate::clock::now_ms(), HELP_BATCH);
    }

    /// Number of databases (fixed at start).
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// The expiry queue and its counters.
    pub fn expiry(&self) -> &Arc<ExpiryState> {
        &self.expiry
    }

    /// Exact number of live keys in database `db` (see [`Keyspace::swept`]).
    pub fn live_len(&self, db: usize, now: u64) -> usize {
        self.swept(now, |store, _| store.db(db).stored_len())
    }

    /// Runs `count` on the store with nothing due by `now` left in it:
    /// under a read guard when nothing is due, else under the write guard
    /// of the last of the bounded batches that sweep what is (so no batch
    /// holds the lock long).
    pub fn swept<R>(&self, now: u64, count: impl FnOnce(&Store, u64) -> R) -> R {
        {
            let store = self.read();
            if store.next_deadline().is_none_or(|d| d > now) {
                return count(&store, now);
            }
        }
        loop {
            let mut store = self.write();
            let (_, more) = store.sweep(now, SWEEP_BATCH);
            if !more {
                return count(&store, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watching(store: &mut Store, db: usize, keys: &[&str], now: u64) -> Watching {
        let mut w = Watching::default();
        for k in keys {
            store.watch(&mut w, db, k.as_bytes(), now);
        }
        w
    }

    #[test]
    fn a_change_marks_the_watchers_of_that_key_in_that_database_only() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.writer(0).put(b"k", b"1", 0, 0);
        let w = watching(&mut store, 0, &["k"], 0);
        let other_db = watching(&mut store, 1, &["k"], 0);
        let other_key = watching(&mut store, 0, &["j"], 0);
        store.commit();
        assert!(!store.watch_broken(&w, 0));
        store.writer(0).put(b"k", b"2", 0, 0);
        store.commit();
        assert!(store.watch_broken(&w, 0));
        assert!(!store.watch_broken(&other_db, 0));
        assert!(!store.watch_broken(&other_key, 0));
        // A no-op (DEL of a missing key) changes nothing.
        store.writer(0).remove(b"j", 0);
        store.commit();
        assert!(!store.watch_broken(&other_key, 0));
    }

    #[test]
    fn without_watches_the_log_only_counts_and_unwatching_forgets_everything() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.writer(0).put(b"a", b"1", 0, 0);
        assert_eq!(store.log.changes.len(), 0);
        store.commit();
        assert_eq!(store.changes(), 1);
        let mut w = watching(&mut store, 0, &["a", "b", "a"], 0);
        assert_eq!((store.watched_keys(), w.keys.len()), (2, 2));
        store.writer(0).put(b"a", b"2", 0, 0);
        assert_eq!(store.log.changes.len(), 1, "detail while watched");
        store.commit();
        store.unwatch(&mut w);
        assert_eq!(store.watched_keys(), 0);
        assert!(w.keys.is_empty() && !w.flag.is_dirty());
        store.writer(0).put(b"a", b"3", 0, 0);
        assert_eq!(store.log.changes.len(), 0, "back to counting");
        store.commit();
        assert_eq!(store.changes(), 3);
    }

    #[test]
    fn expiry_breaks_a_watch_swept_or_not_unless_the_key_was_already_expired() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.writer(0).put(b"live", b"1", 100, 0);
        store.writer(0).put(b"dead", b"1", 100, 0);
        let live = watching(&mut store, 0, &["live"], 50);
        // Watched after its deadline, before the sweeper took it.
        let dead = watching(&mut store, 0, &["dead"], 150);
        store.commit();
        // Past its deadline but not yet swept: EXEC still sees the change.
        assert!(store.watch_broken(&live, 150));
        assert!(!store.watch_broken(&dead, 150));
        store.sweep(150, 100);
        store.commit();
        assert!(store.watch_broken(&live, 150));
        assert!(
            !store.watch_broken(&dead, 150),
            "sweeping a key already expired when watched changes nothing"
        );
        // But a later write to it does.
        store.writer(0).put(b"dead", b"new", 0, 150);
        store.commit();
        assert!(store.watch_broken(&dead, 150));
    }

    #[test]
    fn flushes_and_swaps_mark_watchers_of_keys_that_existed() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.writer(0).put(b"here", b"1", 0, 0);
        store.writer(2).put(b"there", b"1", 0, 0);
        let here = watching(&mut store, 0, &["here"], 0);
        let absent = watching(&mut store, 0, &["absent"], 0);
        let swapped = watching(&mut store, 1, &["there"], 0);
        store.commit();
        store.flush(0);
        store.commit();
        assert!(store.watch_broken(&here, 0));
        assert!(!store.watch_broken(&absent, 0), "nothing changed for it");
        assert!(!store.watch_broken(&swapped, 0));
        store.swap(1, 2, 0);
        store.commit();
        assert!(store.watch_broken(&swapped, 0), "db 1 now holds `there`");
        assert_eq!(store.db(1).get(b"there", 0).unwrap().value(), b"1");
        assert_eq!(store.db(2).stored_len(), 0);
    }

    #[test]
    fn a_swap_leaves_watches_on_keys_past_their_deadline_alone_as_redis_does() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        // Watched while past its deadline, swapped for nothing: no change.
        store.writer(1).put(b"x", b"foo", 10, 0);
        let w1 = watching(&mut store, 1, &["x"], 20);
        store.commit();
        store.swap(0, 1, 20);
        store.commit();
        assert!(!store.watch_broken(&w1, 20));
        store.flush_all();
        store.commit();
        // Absent when watched, replaced by a key past its deadline.
        store.writer(0).put(b"y", b"foo", 10, 0);
        let w2 = watching(&mut store, 1, &["y"], 20);
        store.commit();
        store.swap(0, 1, 20);
        store.commit();
        assert!(!store.watch_broken(&w2, 20));
        store.flush_all();
        store.commit();
        // Past its deadline on both sides.
        store.writer(1).put(b"z", b"foo", 10, 0);
        store.writer(0).put(b"z", b"bar", 10, 0);
        let w3 = watching(&mut store, 1, &["z"], 20);
        store.commit();
        store.swap(0, 1, 20);
        store.commit();
        assert!(!store.watch_broken(&w3, 20));
        // A live key swapped in does change it.
        store.flush_all();
        store.writer(0).put(b"z", b"live", 0, 0);
        store.commit();
        store.swap(0, 1, 20);
        store.commit();
        assert!(store.watch_broken(&w3, 20));
    }

    #[test]
    fn every_change_is_recorded_with_its_event_and_replay() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        let mut w = watching(&mut store, 0, &["k"], 0);
        store.writer(0).put(b"k", b"v", 10_000, 0);
        store.writer(0).set_deadline(b"k", 0, 0);
        store
            .writer(0)
            .put_keep_ttl(b"k", b"1.5", 0, Event::Incrbyfloat);
        store.writer(0).remove(b"k", 0);
        let seen: Vec<(Event, Vec<Vec<u8>>)> = store
            .log
            .changes
            .iter()
            .map(|c| match c {
                Change::Key { event, .. } => (*event, c.replay().concat()),
                other => panic!("{other:?}"),
            })
            .collect();
        let words = |ws: &[&str]| ws.iter().map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                (Event::Set, words(&["SET", "k", "v", "PXAT", "10000"])),
                (Event::Persist, words(&["PERSIST", "k"])),
                (Event::Incrbyfloat, words(&["SET", "k", "1.5"])),
                (Event::Del, words(&["DEL", "k"])),
            ]
        );
        store.commit();
        assert_eq!(store.changes(), 4);
        store.unwatch(&mut w);
    }
}
