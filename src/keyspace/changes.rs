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
use crate::aof::record::RecordBuilder;

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
    /// The commands a log would replay for this change, usually one:
    /// relative times are already absolute (`SET k v EX 10` replays as
    /// `SET k v PXAT <ms>`), and computed values are stored as themselves
    /// (`INCRBYFLOAT` replays as the `SET` of its result). A collection
    /// stored whole (`RENAME`, `COPY`, a `*STORE`) replays as the `DEL` of
    /// whatever the key held, the command that builds it, and its
    /// deadline. The database to select first is [`Change::db`].
    pub fn replay(&self) -> Vec<Vec<Vec<u8>>> {
        let mut commands = ReplayCommands::default();
        self.write_replay(&mut commands);
        commands.0
    }

    /// Writes [`Change::replay`]'s command to `out`, argument by argument,
    /// without building it first: what the append-only log does under the
    /// write lock, so a `SET` costs its bytes copied once, no allocation.
    pub fn write_replay(&self, out: &mut impl ReplayWriter) {
        let db = self.db();
        match self {
            Change::Key { entry, effect, .. } => write_key_replay(db, entry, effect, out),
            Change::Flushed { .. } => out.command_of(db, &[b"FLUSHDB"]),
            Change::Swapped { a, b, .. } => out.command_of(
                db,
                &[
                    b"SWAPDB",
                    Decimal::of(*a as u64).as_bytes(),
                    Decimal::of(*b as u64).as_bytes(),
                ],
            ),
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

/// Writes the replay of one key's change ([`Change::write_replay`]).
fn write_key_replay(db: usize, entry: &Entry, effect: &Effect, out: &mut impl ReplayWriter) {
    let key = entry.key();
    match effect {
        Effect::Edited(command) => {
            if !command.is_empty() {
                out.command(db, command.len());
                command.iter().for_each(|arg| out.arg(arg));
            }
        }
        &Effect::Stored(at) if entry.collection().is_some() => {
            out.command_of(db, &[b"DEL", key]);
            let command = stored_collection(entry);
            out.command(db, command.len());
            command.iter().for_each(|arg| out.arg(arg));
            if at != 0 {
                out.command_of(db, &[b"PEXPIREAT", key, Decimal::of(at).as_bytes()]);
            }
        }
        Effect::Stored(0) => out.command_of(db, &[b"SET", key, entry.value()]),
        &Effect::Stored(at) => out.command_of(
            db,
            &[
                b"SET",
                key,
                entry.value(),
                b"PXAT",
                Decimal::of(at).as_bytes(),
            ],
        ),
        Effect::Removed => out.command_of(db, &[b"DEL", key]),
        Effect::Deadline(0) => out.command_of(db, &[b"PERSIST", key]),
        &Effect::Deadline(at) => {
            out.command_of(db, &[b"PEXPIREAT", key, Decimal::of(at).as_bytes()])
        }
    }
}

/// Where [`Change::write_replay`] writes a command.
pub trait ReplayWriter {
    /// Starts a command of `argc` arguments (its name included), run in
    /// database `db`.
    fn command(&mut self, db: usize, argc: usize);
    /// The command's next argument.
    fn arg(&mut self, arg: &[u8]);

    /// A whole command, `args` its name and arguments.
    fn command_of(&mut self, db: usize, args: &[&[u8]]) {
        self.command(db, args.len());
        args.iter().for_each(|arg| self.arg(arg));
    }
}

/// Collects the replayed commands ([`Change::replay`]).
#[derive(Default)]
struct ReplayCommands(Vec<Vec<Vec<u8>>>);

impl ReplayWriter for ReplayCommands {
    fn command(&mut self, _db: usize, argc: usize) {
        self.0.push(Vec::with_capacity(argc));
    }
    fn arg(&mut self, arg: &[u8]) {
        if let Some(command) = self.0.last_mut() {
            command.push(arg.to_vec());
        }
    }
}

/// A number's decimal digits, formatted on the stack.
struct Decimal {
    digits: [u8; 20],
    from: usize,
}

impl Decimal {
    fn of(mut n: u64) -> Decimal {
        let mut digits = [0u8; 20];
        let mut from = digits.len();
        loop {
            from -= 1;
            digits[from] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { digits, from }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.from..]
    }
}

/// A collection stored whole (`COPY`, a `*STORE`, a load), as the one
/// command that rebuilds it on an empty key.
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
    /// Keep every change (for a listener that needs them all).
    pub(super) keep_all: bool,
    /// The append-only log is on: every change's replay is written to
    /// `record` as it is counted, so that the log holds no entry and
    /// costs no copy of a collection a later edit would have to make.
    pub(super) journaling: bool,
    /// The commit's record for the append-only log, so far.
    pub(super) record: RecordBuilder,
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
        self.record_key(db, event, entry, effect);
    }

    /// Journals a change already counted, and keeps it if a listener may
    /// want it.
    #[inline]
    fn record_key(&mut self, db: usize, event: Event, entry: &Entry, effect: Effect) {
        if self.journaling {
            write_key_replay(db, entry, &effect, &mut self.record);
        }
        if self.keep_all || self.listened(db, entry.key()) {
            self.keep_key(db, event, entry, effect);
        }
    }

    /// Counts a change nobody wants kept (see [`ChangeLog::wants`]).
    #[inline]
    pub(super) fn count_only(&mut self) {
        self.count += 1;
    }

    /// Whether a change to `key` of `db` would be kept or journaled: a
    /// caller may then gather what [`ChangeLog::key`] needs (a clone of
    /// an entry it is about to move) only if so.
    #[inline]
    pub(super) fn wants(&self, db: usize, key: &[u8]) -> bool {
        self.journaling || self.keep_all || self.listened(db, key)
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
        self.wants(db, key)
    }

    /// Keeps (or journals) an edit already counted by
    /// [`ChangeLog::counts_edit`], with the command that replays it.
    #[cold]
    pub(super) fn keep_edit(
        &mut self,
        db: usize,
        event: Event,
        entry: &Entry,
        replay: Vec<Vec<u8>>,
    ) {
        self.record_key(db, event, entry, Effect::Edited(replay.into_boxed_slice()));
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
        if self.journaling {
            change.write_replay(&mut self.record);
        }
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
            .concat()
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
