//! The change record: what one command (or one `EXEC`, one sweep, one load)
//! did to the keyspace, as the commit point hands it to whoever listens.
//!
//! Every change the [`DbWriter`](super::DbWriter) and the
//! [`Store`](super::Store) make is counted in the [`ChangeLog`]. When some
//! subsystem needs to know *which* keys changed (today: `WATCH` and blocked
//! clients; later the append-only log, keyspace notifications), the log also
//! keeps one [`Change`] per change it may want: the key (a shared entry, a
//! reference count rather than a copy), the event named as Redis names its
//! keyspace events, and the effect a log would replay. Without a listener
//! it only counts, so a command on a keyspace nobody watches pays one
//! addition; with watches only, a change to a key the filter of watched
//! keys cannot hold pays a hash of the key.
//!
//! This module only describes changes; it never changes the keyspace and
//! never does I/O.

use super::Entry;

/// What happened to a key, named as Redis names its keyspace events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Stored by `SET` and its kin (`set`).
    Set,
    /// Deleted (`del`).
    Del,
    /// Given a deadline (`expire`).
    Expire,
    /// Removed on its deadline, by the sweeper or a write that found it due (`expired`).
    Expired,
    /// Removed to bring memory under `maxmemory` (`evicted`).
    Evicted,
    /// Its deadline removed (`persist`).
    Persist,
    /// Renamed away (`rename_from`).
    RenameFrom,
    /// Renamed onto (`rename_to`).
    RenameTo,
    /// Moved to another database (`move_from`).
    MoveFrom,
    /// Moved in from another database (`move_to`).
    MoveTo,
    /// Changed by `INCR`, `DECR`, `INCRBY`, `DECRBY` (`incrby`).
    Incrby,
    /// Changed by `INCRBYFLOAT` (`incrbyfloat`).
    Incrbyfloat,
    /// Changed by `APPEND` (`append`).
    Append,
    /// Changed by `SETRANGE` (`setrange`).
    Setrange,
    /// Stored by `COPY` (`copy_to`).
    Copy,
    /// Restored from the snapshot at start (no Redis event: it fires none).
    Loaded,
    /// A collection changed by the command of this name (`hset`, `lpush`,
    /// `srem`, ...: Redis names these events after their commands).
    Edited(&'static str),
}

impl Event {
    /// The event's name in Redis's keyspace notifications.
    pub fn name(self) -> &'static str {
        match self {
            Event::Set => "set",
            Event::Del => "del",
            Event::Expire => "expire",
            Event::Expired => "expired",
            Event::Evicted => "evicted",
            Event::Persist => "persist",
            Event::RenameFrom => "rename_from",
            Event::RenameTo => "rename_to",
            Event::MoveFrom => "move_from",
            Event::MoveTo => "move_to",
            Event::Incrby => "incrby",
            Event::Incrbyfloat => "incrbyfloat",
            Event::Append => "append",
            Event::Setrange => "setrange",
            Event::Copy => "copy_to",
            Event::Loaded => "loaded",
            Event::Edited(name) => name,
        }
    }
}

/// What a change did to its key, as a log would replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The collection was changed as this command changes it, run on the
    /// value as it was (a pop served to a blocked client is the `LPOP` it
    /// is; an `SPOP` the `SREM` of what it popped). Empty when another
    /// change of the same command carries the command: an `LMOVE`'s push
    /// onto its destination, whose `LMOVE` is recorded with the pop from
    /// its source.
    Edited(Box<[Vec<u8>]>),
    /// The entry's value was stored with this absolute deadline (0: none).
    Stored(u64),
    /// The key was removed.
    Removed,
    /// The key's deadline became this absolute time (0: none).
    Deadline(u64),
}

/// One change to the keyspace.
#[derive(Debug, Clone)]
pub enum Change {
    /// One key changed.
    Key {
        /// The database it is in.
        db: usize,
        /// What happened, in Redis's words.
        event: Event,
        /// The key's entry: the stored one, or the one removed.
        entry: Entry,
        /// What a log would replay.
        effect: Effect,
    },
    /// A whole database was emptied (`FLUSHDB`, or `FLUSHALL` for each).
    /// In detail mode it carries the keys it held, so that watchers of
    /// the ones that existed are told.
    Flushed {
        /// The database.
        db: usize,
        /// Its keys before the flush.
        keys: Vec<Entry>,
    },
    /// Two databases swapped their contents (`SWAPDB`), at `now` (Unix
    /// ms: which of their keys were past their deadline then matters to
    /// `WATCH`).
    Swapped {
        /// One database.
        a: usize,
        /// The other.
        b: usize,
        /// When.
        now: u64,
    },
}

impl Change {
    /// The command a log would replay for this change: relative times are
    /// already absolute (`SET k v EX 10` replays as `SET k v PXAT <ms>`),
    /// and computed values are stored as themselves (`INCRBYFLOAT` replays
    /// as the `SET` of its result). The database to select first is
    /// [`Change::db`].
    pub fn replay(&self) -> Vec<Vec<u8>> {
        let word = |w: &str| w.as_bytes().to_vec();
        match self {
            Change::Key { entry, effect, .. } => {
                let key = entry.key().to_vec();
                match effect {
                    Effect::Edited(command) => command.to_vec(),
                    Effect::Stored(_) if entry.collection().is_some() => stored_collection(entry),
                    Effect::Stored(0) => vec![word("SET"), key, entry.value().to_vec()],
                    &Effect::Stored(at) => vec![
                        word("SET"),
                        key,
                        entry.value().to_vec(),
                        word("PXAT"),
                        word(&at.to_string()),
                    ],
                    Effect::Removed => vec![word("DEL"), key],
                    Effect::Deadline(0) => vec![word("PERSIST"), key],
                    &Effect::Deadline(at) => vec![word("PEXPIREAT"), key, word(&at.to_string())],
                }
            }
            Change::Flushed { .. } => vec![word("FLUSHDB")],
            Change::Swapped { a, b, .. } => {
                vec![word("SWAPDB"), word(&a.to_string()), word(&b.to_string())]
            }
        }
    }

    /// The database the change applies to (the first, for a swap).
    pub fn db(&self) -> usize {
        match *self {
            Change::Key { db, .. } | Change::Flushed { db, .. } | Change::Swapped { a: db, .. } => {
                db
            }
        }
    }
}

/// A collection stored whole (`COPY`, a `*STORE`, a load), as the one
/// command that rebuilds it on an empty key; its deadline, if any, is a
/// change of its own.
fn stored_collection(entry: &Entry) -> Vec<Vec<u8>> {
    use crate::value::ValueRef;
    let Some(value) = entry.collection() else {
        return Vec::new();
    };
    let (command, items): (&str, Vec<Vec<u8>>) = match value {
        ValueRef::Hash(h) => (
            "HSET",
            h.iter()
                .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                .collect(),
        ),
        ValueRef::List(l) => ("RPUSH", l.iter().map(<[u8]>::to_vec).collect()),
        ValueRef::Set(s) => ("SADD", s.members().collect()),
        ValueRef::ZSet(z) => (
            "ZADD",
            z.iter()
                .flat_map(|(m, score)| [score.to_string().into_bytes(), m.to_vec()])
                .collect(),
        ),
    };
    let mut args = vec![command.as_bytes().to_vec(), entry.key().to_vec()];
    args.extend(items);
    args
}

/// The changes made since the last commit.
#[derive(Debug, Default)]
pub struct ChangeLog {
    /// Keep every change (for a listener that needs them all, such as the
    /// append-only log to come).
    pub(super) keep_all: bool,
    /// The keys some client watches, as a filter: a change to a key it
    /// cannot hold is only counted, so a watch elsewhere costs a write a
    /// hash of its key, no more.
    pub(super) watched: super::watch::KeyFilter,
    /// The keys some client is blocked on, as a filter, likewise.
    pub(super) blocked: super::watch::KeyFilter,
    /// Changes since the last commit.
    pub(super) count: u64,
    /// The kept changes.
    pub(super) changes: Vec<Change>,
}

impl ChangeLog {
    /// Counts one change to `entry`'s key, keeping it if a listener may
    /// want it.
    #[inline]
    pub(super) fn key(&mut self, db: usize, event: Event, entry: &Entry, effect: Effect) {
        self.count += 1;
        if self.keep_all || self.listened(db, entry.key()) {
            self.keep_key(db, event, entry, effect);
        }
    }

    /// Out of line, so that the counting path stays a few instructions
    /// inlined into every write.
    #[cold]
    #[inline(never)]
    fn keep_key(&mut self, db: usize, event: Event, entry: &Entry, effect: Effect) {
        self.changes.push(Change::Key {
            db,
            event,
            entry: entry.clone(),
            effect,
        });
    }

    /// Counts an edit of `key`'s collection and says whether a listener
    /// may want it kept ([`ChangeLog::keep_edit`]), so that the caller
    /// looks the entry up only then.
    #[inline]
    pub(super) fn counts_edit(&mut self, db: usize, key: &[u8]) -> bool {
        self.count += 1;
        self.keep_all || self.listened(db, key)
    }

    /// Keeps an edit already counted by [`ChangeLog::counts_edit`], with
    /// the command that replays it.
    #[cold]
    pub(super) fn keep_edit(
        &mut self,
        db: usize,
        event: Event,
        entry: &Entry,
        replay: Vec<Vec<u8>>,
    ) {
        self.keep_key(db, event, entry, Effect::Edited(replay.into_boxed_slice()));
    }

    /// Whether a watch or a blocked client may be on `key` of `db`.
    #[inline]
    fn listened(&self, db: usize, key: &[u8]) -> bool {
        (!self.watched.is_empty() && self.watched.may_hold(db, key))
            || (!self.blocked.is_empty() && self.blocked.may_hold(db, key))
    }

    /// Counts a change that is not one key's, keeping it if any listener
    /// may want it.
    pub(super) fn other(&mut self, change: Change) {
        self.count += 1;
        if self.in_detail() {
            self.changes.push(change);
        }
    }

    /// Whether some change may be kept, so a caller can skip gathering what
    /// a kept change needs.
    pub(super) fn in_detail(&self) -> bool {
        self.keep_all || !self.watched.is_empty() || !self.blocked.is_empty()
    }

    /// Changes counted since the last commit.
    pub fn pending(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(change: &Change) -> Vec<String> {
        change
            .replay()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn a_stored_key_replays_as_a_set_with_an_absolute_deadline() {
        let entry = Entry::new(b"k", b"v", 1_700_000_010_000);
        let change = Change::Key {
            db: 0,
            event: Event::Set,
            entry: entry.clone(),
            effect: Effect::Stored(1_700_000_010_000),
        };
        assert_eq!(args(&change), ["SET", "k", "v", "PXAT", "1700000010000"]);
        let plain = Change::Key {
            db: 3,
            event: Event::Incrbyfloat,
            entry: Entry::new(b"f", b"10.5", 0),
            effect: Effect::Stored(0),
        };
        assert_eq!(args(&plain), ["SET", "f", "10.5"]);
        assert_eq!(plain.db(), 3);
    }

    #[test]
    fn removals_deadlines_flushes_and_swaps_replay_as_their_commands() {
        let entry = Entry::new(b"k", b"v", 0);
        let key = |effect| Change::Key {
            db: 0,
            event: Event::Del,
            entry: entry.clone(),
            effect,
        };
        assert_eq!(args(&key(Effect::Removed)), ["DEL", "k"]);
        assert_eq!(args(&key(Effect::Deadline(0))), ["PERSIST", "k"]);
        assert_eq!(
            args(&key(Effect::Deadline(5_000))),
            ["PEXPIREAT", "k", "5000"]
        );
        let flushed = Change::Flushed {
            db: 2,
            keys: Vec::new(),
        };
        assert_eq!(args(&flushed), ["FLUSHDB"]);
        let swapped = Change::Swapped { a: 0, b: 1, now: 0 };
        assert_eq!(args(&swapped), ["SWAPDB", "0", "1"]);
    }

    #[test]
    fn without_detail_the_log_only_counts() {
        let mut log = ChangeLog::default();
        let entry = Entry::new(b"k", b"v", 0);
        log.key(0, Event::Set, &entry, Effect::Stored(0));
        assert_eq!((log.pending(), log.changes.len()), (1, 0));
        log.keep_all = true;
        log.key(0, Event::Del, &entry, Effect::Removed);
        assert_eq!((log.pending(), log.changes.len()), (2, 1));
        assert_eq!(Event::RenameFrom.name(), "rename_from");
    }
}
