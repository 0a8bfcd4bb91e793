//! Snapshots: the whole keyspace in one file, written crash-safely and loaded
//! strictly at start.
//!
//! This module owns the snapshot file and everything about it: its format
//! ([`format`](mod@format), checksummed by our own [`crc32`]), its atomic
//! replacement on disk ([`file`](mod@file)), the point-in-time view a save
//! writes ([`PointInTime`]), loading at start ([`load`], each collection
//! rebuilt by [`restore`]), and who saves when ([`saver`]: `SAVE`,
//! `BGSAVE`, the periodic snapshot thread, the final save at shutdown, and the
//! status `INFO` and `LASTSAVE` report).
//!
//! It must never hold the keyspace lock during serialisation or disk I/O: a
//! save clones the `Arc`s of every live entry under one read guard (a
//! reference count each, no copying of keys or values), releases the guard,
//! and only then encodes and writes. Writers wait for that clone, never for
//! the disk. A collection is encoded from the view's clone too, element by
//! element with no lock held: the keyspace never edits a collection whose
//! entry has another clone (it edits a copy and stores that instead, see
//! `Db::edit`), so the clone stays the value as it was at the capture. The
//! loader never opens the file for writing, so a snapshot it refuses is left
//! byte for byte as it was.
//!
//! # File format, version 3
//!
//! All integers are little-endian. Offsets are in bytes from the file start.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic: the ASCII bytes `GOCACHE` followed by one zero byte |
//! | 8  | 4 | format version, `u32`: `3` |
//! | 12 | 8 | creation time, `u64` Unix milliseconds (the point in time saved) |
//! | 20 | 8 | entry count `N`, `u64`: the entries of every database together |
//! | 28 | … | database sections, back to back, holding the `N` entries |
//! | end − 4 | 4 | CRC-32 (IEEE: zlib's and PNG's) of every byte before it, `u32` |
//!
//! Each database section is its database number (unsigned LEB128), its
//! entry count `C` (unsigned LEB128, at least 1), then `C` entries in no
//! particular order. Sections come in increasing database order; a database
//! without keys has none. A *string* below is a length `L` (unsigned LEB128:
//! 7 bits a byte, low bits first; the top bit is set on every byte but the
//! last; 1–10 bytes) followed by `L` bytes (any bytes). Each entry is:
//!
//! | size | field |
//! |-----:|-------|
//! | 1    | type: `0` string, `1` hash, `2` list, `3` set, `4` sorted set; any other is refused |
//! | 1–10 | key length `K`, unsigned LEB128 |
//! | `K`  | key bytes (any bytes) |
//! | …    | the value, by type (below) |
//! | 1    | deadline tag: `0` = no deadline, `1` = a deadline follows |
//! | 0 or 8 | the deadline, `u64` Unix milliseconds (never 0), present only when the tag is `1` |
//!
//! The value, by type:
//!
//! | type | value |
//! |------|-------|
//! | `0` string | one string: the value's bytes |
//! | `1` hash | field count `F` (unsigned LEB128, at least 1), then `F` pairs of strings, each a field then its value; no field twice |
//! | `2` list | element count `E` (unsigned LEB128, at least 1), then `E` strings, the elements from head to tail |
//! | `3` set | member count `M` (unsigned LEB128, at least 1), then `M` strings, the members; no member twice (an intset's integers are written as their decimal text, as `SMEMBERS` shows them) |
//! | `4` sorted set | member count `Z` (unsigned LEB128, at least 1), then `Z` pairs of strings, each a member then its score: 8 bytes, the `f64`'s bits little-endian (never a NaN); in strictly ascending (score, member) order, which also means no member twice |
//!
//! A hash's pairs and a set's members come in no particular order; a
//! sorted set's members come in order, so that loading one builds its
//! index bottom up, without sorting. Sorted sets were added within version
//! 3 (whose type `4` had been kept for them and refused by name), so a file
//! holding none is what earlier builds wrote and read, and an earlier build
//! given one refuses it naming the type: no version bump. The file
//! records no encoding: loading chooses each collection's encoding by the
//! thresholds in force then ([`restore`]), so a server restarted with other
//! `hash-max-listpack-*`, `set-max-intset-entries`,
//! `list-max-listpack-size` or `zset-max-listpack-*` settings holds its collections as if they had
//! been written under those.
//!
//! Version 2, written by earlier builds, has the same header and sections
//! but no type byte: every entry is a string, its key then its value. Version
//! 1 has no sections either: its `N` entries follow the header directly, and
//! load into database 0. Both still load.
//!
//! Deadlines are absolute, so a key keeps counting down while the server is
//! stopped; keys whose deadline passed before loading are dropped. A reader
//! refuses the whole file (it never loads part of one) when the magic or
//! version is wrong, the checksum does not match, a length runs past the
//! entries, a section is empty, out of order or longer than the entries
//! left, a database number is beyond the server's `--databases`, a type or
//! tag is unknown, a collection is empty or counts more elements than the
//! bytes left could hold (each takes at least its length byte), an element
//! runs past the entries, a hash field or set member repeats, an element is
//! longer than an entry can hold, a key repeats within a database, or bytes
//! follow the last entry; the error names the file and the byte offset of
//! the flaw. Every element of a collection is found in the file before
//! anything is sized from its count, so no count can make the loader
//! reserve more memory than the file's bytes justify. The smallest file, an
//! empty snapshot, is 32 bytes.
//!
//! Loading goes through the keyspace's [`DbWriter`](crate::keyspace::DbWriter)
//! and commits like any write, so the restored keys reach their databases'
//! deadline heaps, the sweeper, and the change count.

pub mod crc32;
pub mod file;
pub mod format;
pub mod restore;
pub mod saver;

pub use file::SnapshotPaths;
pub use saver::{BackgroundSaveRunning, SaveStatus, SnapshotThread, Snapshotter};

use restore::Restored;

use crate::config::Encodings;
use crate::error::Error;
use crate::keyspace::{Db, Entry, Event, Keyspace, PARTITIONS, Store};
use std::io::{self, Write};
use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant};

/// One entry of a point-in-time view: the stored entry shared, not copied,
/// and its deadline as it was at that instant (a later `EXPIRE` changes the
/// shared entry's deadline in place, never this copy).
#[derive(Debug, Clone)]
pub struct SnapshotEntry {
    /// The key and value.
    pub entry: Entry,
    /// Absolute deadline in Unix ms, 0 for none, at the capture.
    pub expires_at: u64,
}

/// Below this many keys one thread captures alone: starting others would
/// cost more than it saves.
const PARALLEL_FROM: usize = 65_536;
/// Most threads one capture uses.
const MAX_CAPTURE_THREADS: usize = 8;

/// Memory for one capture, set aside and touched before the lock is taken,
/// so the page faults of a large view are not paid while writers wait; and
/// the number of threads that will share the capture.
pub struct CaptureRoom {
    /// One allocation for every thread (each fills its own stretch), so a
    /// large view goes back to the system in one piece when it is dropped.
    slots: Vec<Option<SnapshotEntry>>,
    threads: usize,
}

impl CaptureRoom {
    /// Room for about `expected` entries (a little more, for keys added
    /// between counting and capturing; any beyond that still fit).
    pub fn for_keys(expected: usize) -> CaptureRoom {
        let threads = if expected < PARALLEL_FROM {
            1
        } else {
            thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_CAPTURE_THREADS)
        };
        let mut slots = Vec::new();
        // Writing every slot now is what faults the pages in.
        slots.resize_with(expected + expected / 64 + 64 * threads, || None);
        CaptureRoom { slots, threads }
    }

    /// Clones (by reference count) every entry of `db` live at `now`. Call it
    /// with a guard dropped right after: its cost under the lock is one pass
    /// over the keys and two reference counts each, shared between threads
    /// that each take a contiguous range of the database's partitions.
    pub fn capture(mut self, db: &Db, now: u64) -> DbView {
        let threads = self.threads;
        let parts = |i: usize| i * PARTITIONS / threads..(i + 1) * PARTITIONS / threads;
        let stretch = self.slots.len() / threads;
        let mut stretches = self.slots.chunks_mut(stretch.max(1));
        let first = stretches.next().unwrap_or_default();
        let filled: Vec<Filled> = if threads == 1 {
            vec![fill(db, parts(0), now, first, 0)]
        } else {
            thread::scope(|scope| {
                let mut helpers = Vec::new();
                let mut unhelped = Vec::new();
                for (i, stretch) in (1..threads).zip(stretches) {
                    let spawned = thread::Builder::new()
                        .name("snapshot-capture".into())
                        .stack_size(CAPTURE_STACK)
                        .spawn_scoped(scope, move || fill(db, parts(i), now, stretch, i));
                    match spawned {
                        Ok(helper) => helpers.push(helper),
                        // No thread: this one does that range too.
                        Err(_) => unhelped.push(i),
                    }
                }
                let mut done = vec![fill(db, parts(0), now, first, 0)];
                for i in unhelped {
                    done.push(fill(db, parts(i), now, &mut [], i));
                }
                for helper in helpers {
                    let result = helper.join();
                    done.push(result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                }
                done
            })
        };
        let mut overflow = Vec::new();
        let mut stretches = Vec::with_capacity(filled.len());
        for f in filled {
            stretches.push((f.stretch * stretch, f.count));
            overflow.extend(f.overflow);
        }
        DbView {
            len: stretches.iter().map(|&(_, count)| count).sum::<usize>() + overflow.len(),
            slots: self.slots,
            stretches,
            overflow,
        }
    }
}

/// Stack of a capturing thread: it only iterates and clones.
const CAPTURE_STACK: usize = 64 * 1024;

/// What one capturing thread took: the first `count` slots of its stretch,
/// and whatever did not fit there.
struct Filled {
    stretch: usize,
    count: usize,
    overflow: Vec<SnapshotEntry>,
}

/// Fills stretch number `index` (then an overflow list) with the live
/// entries of `parts`.
fn fill(
    db: &Db,
    parts: Range<usize>,
    now: u64,
    stretch: &mut [Option<SnapshotEntry>],
    index: usize,
) -> Filled {
    let mut count = 0;
    let mut overflow = Vec::new();
    for part in parts {
        for entry in db.iter_partition(part, now) {
            let taken = SnapshotEntry {
                entry: entry.clone(),
                expires_at: entry.expires_at(),
            };
            match stretch.get_mut(count) {
                Some(slot) => {
                    *slot = Some(taken);
                    count += 1;
                }
                None => overflow.push(taken),
            }
        }
    }
    Filled {
        stretch: index,
        count,
        overflow,
    }
}

/// One database's live entries as they were at one instant.
#[derive(Debug)]
pub struct DbView {
    /// The room the entries were captured into.
    slots: Vec<Option<SnapshotEntry>>,
    /// `(start, count)`: the filled slots, one stretch per capturing thread.
    stretches: Vec<(usize, usize)>,
    /// Entries that did not fit in the room prepared for them.
    overflow: Vec<SnapshotEntry>,
    len: usize,
}

impl DbView {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &SnapshotEntry> {
        self.stretches
            .iter()
            .flat_map(|&(start, count)| &self.slots[start..start + count])
            .flatten()
            .chain(&self.overflow)
    }
}

/// Every live entry of every database as it was at one instant, ready to
/// be written with no lock held.
#[derive(Debug)]
pub struct PointInTime {
    /// `(database, its entries)`, for the databases that had any.
    dbs: Vec<(usize, DbView)>,
    len: usize,
    /// [`Store::changes`] at that instant: a later save is due when it moves.
    pub changes: u64,
    /// Unix ms of that instant; entries past their deadline by then are left out.
    pub taken_unix_ms: u64,
    /// How long the capture held the guard it was given.
    pub capture_time: Duration,
}

impl PointInTime {
    /// Captures `keyspace` at `now`: counts each database's keys under one
    /// short read guard, prepares a [`CaptureRoom`] for each with no lock
    /// held, then captures them all under a second read guard.
    pub fn capture(keyspace: &Keyspace, now: u64) -> PointInTime {
        // Two statements: the counting guard must be gone before the second
        // is taken, or a waiting writer could wedge them both.
        let counts: Vec<usize> = keyspace.read().dbs().iter().map(Db::stored_len).collect();
        let rooms: Vec<CaptureRoom> = counts.into_iter().map(CaptureRoom::for_keys).collect();
        PointInTime::capture_into(rooms, &keyspace.read(), now)
    }

    /// Captures every database of `store` at `now` into `rooms` (one per
    /// database, prepared before the guard was taken).
    pub fn capture_into(rooms: Vec<CaptureRoom>, store: &Store, now: u64) -> PointInTime {
        let started = Instant::now();
        let mut dbs = Vec::new();
        let mut rooms = rooms.into_iter();
        for (index, db) in store.dbs().iter().enumerate() {
            let room = rooms.next().unwrap_or_else(|| CaptureRoom::for_keys(0));
            if db.stored_len() == 0 {
                continue;
            }
            let view = room.capture(db, now);
            if !view.is_empty() {
                dbs.push((index, view));
            }
        }
        PointInTime {
            len: dbs.iter().map(|(_, v)| v.len()).sum(),
            dbs,
            changes: store.changes(),
            taken_unix_ms: now,
            capture_time: started.elapsed(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The databases that had entries, each with its view, in order.
    pub fn databases(&self) -> impl Iterator<Item = (usize, &DbView)> {
        self.dbs.iter().map(|(i, v)| (*i, v))
    }

    /// The entries of every database, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &SnapshotEntry> {
        self.dbs.iter().flat_map(|(_, v)| v.entries())
    }

    /// Encodes the view as a whole snapshot into `out`; returns its length.
    pub fn encode(&self, out: impl Write) -> io::Result<u64> {
        let mut encoder = format::Encoder::new(out, self.taken_unix_ms, self.len() as u64);
        for (index, view) in self.databases() {
            encoder.database(index as u64, view.len() as u64)?;
            for e in view.entries() {
                // The entry is this view's clone: a writer that edits the
                // collection meanwhile edits a copy (the keyspace copies a
                // shared one first), so it is read here, with no lock held,
                // as it was at the capture.
                match e.entry.collection() {
                    None => encoder.entry(e.entry.key(), e.entry.value(), e.expires_at)?,
                    Some(value) => encoder.collection(e.entry.key(), value, e.expires_at)?,
                }
            }
        }
        encoder.finish().map(|(_, len)| len)
    }
}

/// What loading the snapshot at start found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Whether there was a snapshot file at all.
    pub found: bool,
    /// Keys restored.
    pub loaded: u64,
    /// Keys dropped because their deadline passed while the server was down.
    pub expired: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// When the snapshot was taken (Unix ms).
    pub created_unix_ms: u64,
}

/// Loads the snapshot at `paths` into `keyspace` (meant to be empty, before
/// any client is served), each collection in the encoding `limits` (the
/// configuration in force) choose for it. A missing file is an empty start;
/// a file that is not a valid snapshot is [`Error::CorruptSnapshot`] naming
/// it, and the keyspace must then be thrown away. Restored keys go through a
/// [`DbWriter`](crate::keyspace::DbWriter), so their deadlines reach the
/// deadline heap and the sweeper.
pub fn load(
    paths: &SnapshotPaths,
    keyspace: &Keyspace,
    now: u64,
    limits: Encodings,
) -> Result<LoadReport, Error> {
    let Some(bytes) = paths.read()? else {
        return Ok(LoadReport::default());
    };
    let mut report = LoadReport {
        found: true,
        bytes: bytes.len() as u64,
        ..LoadReport::default()
    };
    let mut store = keyspace.write();
    let databases = store.databases();
    // Size each database's tables once from its verified section header;
    // the count is bounded by the file's length (an entry takes at least 3
    // bytes) so that no header can make the loader reserve more than the
    // file could hold.
    let bound = bytes.len() / 3;
    let mut visit = |entry: format::Visit<'_>| -> Result<(), format::Refusal> {
        let db = entry.db as usize;
        if db >= databases {
            return Err(format!(
                "the snapshot holds database {db}, but this server has {databases} (--databases)"
            )
            .into());
        }
        let mut writer = store.writer(db);
        if let Some(n) = entry.section_len {
            writer.reserve((n as usize).min(bound));
        }
        if entry.key.len() > crate::entry::MAX_LEN {
            return Err(format!(
                "a key of {} bytes is larger than a key can be",
                entry.key.len()
            )
            .into());
        }
        // Built (and so checked: a repeated member is refused) even if it
        // expired while the server was down: a flawed file is refused
        // whatever its deadlines.
        let value = restore::value(entry.value, &limits)?;
        if entry.expires_at != 0 && entry.expires_at <= now {
            report.expired += 1;
            return Ok(());
        }
        let restored = match value {
            Restored::String(value) => Entry::new(entry.key, value, entry.expires_at),
            Restored::Collection(value) => Entry::with_value(entry.key, value, entry.expires_at),
        };
        if writer.put_entry_as(restored, now, Event::Loaded).is_some() {
            return Err("the key appears twice".into());
        }
        report.loaded += 1;
        Ok(())
    };
    let header = format::decode(&bytes, &mut visit).map_err(|flaw| Error::CorruptSnapshot {
        path: paths.file.clone(),
        reason: flaw.to_string(),
    })?;
    report.created_unix_ms = header.created_unix_ms;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyspace_with(entries: &[(&[u8], &[u8], u64)]) -> Keyspace {
        let ks = Keyspace::new();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for (k, v, d) in entries {
                db.put(k, v, *d, 0);
            }
        }
        ks
    }

    fn save(ks: &Keyspace, paths: &SnapshotPaths, now: u64) -> PointInTime {
        let view = PointInTime::capture(ks, now);
        paths.replace_with(|w| view.encode(w)).unwrap();
        view
    }

    #[test]
    fn a_saved_keyspace_loads_back_with_values_and_deadlines() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "dump.gcs");
        let ks = keyspace_with(&[
            (b"a", b"1", 0),
            (b"bin\r\n\0", b"\0\xff\r\n", 5_000),
            (b"", b"empty key", 0),
        ]);
        let view = save(&ks, &paths, 100);
        assert_eq!(view.len(), 3);

        let restored = Keyspace::new();
        let report = load(&paths, &restored, 200, Encodings::DEFAULT).unwrap();
        assert_eq!((report.found, report.loaded, report.expired), (true, 3, 0));
        assert_eq!(report.created_unix_ms, 100);
        let guard = restored.read();
        let db = guard.db(0);
        assert_eq!(db.get(b"a", 200).unwrap().value(), b"1");
        let bin = db.get(b"bin\r\n\0", 200).unwrap();
        assert_eq!((bin.value(), bin.expires_at()), (&b"\0\xff\r\n"[..], 5_000));
        assert_eq!(
            db.next_deadline(),
            Some(5_000),
            "the deadline reached the heap"
        );
        assert_eq!(db.stored_with_deadline(), 1);
    }

    #[test]
    fn keys_whose_deadline_passed_are_dropped_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "dump.gcs");
        let ks = keyspace_with(&[(b"gone", b"x", 150), (b"kept", b"y", 0)]);
        save(&ks, &paths, 100);
        let restored = Keyspace::new();
        let report = load(&paths, &restored, 150, Encodings::DEFAULT).unwrap();
        assert_eq!((report.loaded, report.expired), (1, 1));
        assert!(restored.read().db(0).get(b"gone", 0).is_none());
    }

    #[test]
    fn entries_already_expired_at_capture_are_not_saved() {
        let ks = keyspace_with(&[(b"old", b"x", 50), (b"new", b"y", 0)]);
        let view = PointInTime::capture(&ks, 60);
        assert_eq!(view.len(), 1);
        assert_eq!(view.entries().next().unwrap().entry.key(), b"new");
    }

    #[test]
    fn a_capture_shares_values_instead_of_copying_them() {
        let ks = keyspace_with(&[(b"k", b"v", 0)]);
        let view = PointInTime::capture(&ks, 0);
        let guard = ks.read();
        let db = guard.db(0);
        let shared = &view.entries().next().unwrap().entry;
        assert!(shared.shares_allocation_with(db.get(b"k", 0).unwrap()));
    }

    #[test]
    fn a_capture_holds_keys_added_after_its_room_was_counted() {
        let ks = Keyspace::new();
        let room = CaptureRoom::for_keys(0);
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..500u32 {
                db.put(&i.to_be_bytes(), &b"v"[..], 0, 0);
            }
        }
        let view = room.capture(ks.read().db(0), 0);
        assert_eq!(view.len(), 500);
        assert_eq!(view.entries().count(), 500);
        let room = CaptureRoom::for_keys(10_000);
        assert_eq!(room.capture(ks.read().db(0), 0).entries().count(), 500);
    }

    #[test]
    fn a_large_capture_shared_between_threads_holds_every_entry_once() {
        let ks = Keyspace::new();
        let n = PARALLEL_FROM as u32 + 1000;
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..n {
                db.put(&i.to_be_bytes(), &i.to_le_bytes()[..], 0, 0);
            }
        }
        let view = PointInTime::capture(&ks, 0);
        assert_eq!(view.len(), n as usize);
        let mut seen = vec![false; n as usize];
        for e in view.entries() {
            let i = u32::from_be_bytes(e.entry.key().try_into().unwrap());
            assert_eq!(e.entry.value(), &i.to_le_bytes());
            assert!(!std::mem::replace(&mut seen[i as usize], true), "{i} twice");
        }
        assert!(seen.iter().all(|s| *s));

        // A room counted for half the keys: every stretch overflows.
        let room = CaptureRoom::for_keys(n as usize / 2);
        let view = room.capture(ks.read().db(0), 0);
        assert_eq!(view.len(), n as usize);
        assert_eq!(view.entries().count(), n as usize);
    }

    #[test]
    fn a_missing_file_is_an_empty_start() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "none.gcs");
        let ks = Keyspace::new();
        assert_eq!(
            load(&paths, &ks, 0, Encodings::DEFAULT).unwrap(),
            LoadReport::default()
        );
        assert_eq!(ks.read().stored_len(), 0);
    }

    #[test]
    fn a_corrupt_file_is_refused_naming_it_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "dump.gcs");
        save(&keyspace_with(&[(b"a", b"1", 0)]), &paths, 1);
        let mut bytes = std::fs::read(&paths.file).unwrap();
        bytes[30] ^= 0xFF;
        std::fs::write(&paths.file, &bytes).unwrap();
        let err = load(&paths, &Keyspace::new(), 0, Encodings::DEFAULT).unwrap_err();
        assert!(matches!(err, Error::CorruptSnapshot { .. }));
        let text = err.to_string();
        assert!(text.contains(&paths.file.display().to_string()), "{text}");
        assert!(text.contains("checksum mismatch"), "{text}");
        assert_eq!(std::fs::read(&paths.file).unwrap(), bytes);
    }

    #[test]
    fn a_repeated_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "dump.gcs");
        paths
            .replace_with(|w| {
                let mut enc = format::Encoder::new(w, 0, 2);
                enc.database(0, 2)?;
                enc.entry(b"k", b"1", 0)?;
                enc.entry(b"k", b"2", 0)?;
                enc.finish().map(|(_, n)| n)
            })
            .unwrap();
        let err = load(&paths, &Keyspace::new(), 0, Encodings::DEFAULT).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    use crate::value::hash::PairTable;
    use crate::value::quicklist::Fill;
    use crate::value::set::MemberTable;
    use crate::value::{Hash, HashRef, IntSet, Kind, List, ListRef, Pack, QuickList};
    use crate::value::{Set, SetRef, Value, ValueRef, ZSetRef};

    fn text(prefix: &str, i: usize) -> Vec<u8> {
        format!("{prefix}{i}").into_bytes()
    }

    fn packed_hash(n: usize) -> Value {
        let mut pack = Pack::new();
        for i in 0..n {
            pack.push_back(&text("f", i));
            pack.push_back(&text("v", i));
        }
        Value::Hash(Hash::Packed(pack))
    }

    fn table_hash(n: usize, value_len: usize) -> Value {
        let mut table = PairTable::with_capacity(n);
        for i in 0..n {
            let mut value = text("value ", i);
            value.resize(value_len.max(value.len()), b'.');
            assert!(table.insert(&text("field", i), &value));
        }
        Value::Hash(Hash::Table(Box::new(table)))
    }

    fn packed_list(elements: &[&[u8]]) -> Value {
        let mut pack = Pack::new();
        for e in elements {
            pack.push_back(e);
        }
        Value::List(List::Packed(pack))
    }

    fn quick_list(n: usize) -> Value {
        let mut quick = QuickList::new();
        for i in 0..n {
            quick.push_back(&text("element\r\n\0 ", i), Fill::from_redis(-2));
        }
        Value::List(List::Quick(Box::new(quick)))
    }

    fn int_set(ints: impl IntoIterator<Item = i64>) -> Value {
        let mut set = IntSet::new();
        for n in ints {
            set.insert(n);
        }
        Value::Set(Set::Ints(set))
    }

    fn table_set<I: AsRef<[u8]>>(members: impl IntoIterator<Item = I>) -> Value {
        let mut table = MemberTable::with_capacity(0);
        for m in members {
            assert!(table.insert(m.as_ref()));
        }
        Value::Set(Set::Table(Box::new(table)))
    }

    fn sorted_set(n: usize, limits: &Encodings) -> Value {
        let mut z = crate::value::ZSet::new();
        let odd = [f64::NEG_INFINITY, -0.0, 0.0, f64::INFINITY, 2.5, -1e300];
        for i in 0..n {
            let score = odd.get(i).copied().unwrap_or((i % 50) as f64);
            z.insert(&text("member\r\n", i), score, limits);
        }
        Value::ZSet(z)
    }

    /// A value's type and elements, order-free where the type is: a hash's
    /// pairs and a set's members sorted, a list's elements in order.
    fn contents(value: ValueRef<'_>) -> (Kind, Vec<Vec<u8>>) {
        let elements = match value {
            ValueRef::Hash(h) => {
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                pairs.sort();
                pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
            }
            ValueRef::List(l) => l.iter().map(<[u8]>::to_vec).collect(),
            ValueRef::Set(s) => {
                let mut members: Vec<Vec<u8>> = s.members().collect();
                members.sort();
                members
            }
            ValueRef::ZSet(z) => z
                .iter()
                .flat_map(|(m, score)| [m.to_vec(), score.to_bits().to_le_bytes().to_vec()])
                .collect(),
        };
        (value.kind(), elements)
    }

    /// Which leaf holds the value.
    fn leaf(value: ValueRef<'_>) -> &'static str {
        match value {
            ValueRef::Hash(HashRef::Packed(_)) => "packed hash",
            ValueRef::Hash(HashRef::Table(_)) => "hash table",
            ValueRef::List(ListRef::Packed(_)) => "packed list",
            ValueRef::List(ListRef::Quick(_)) => "quicklist",
            ValueRef::Set(SetRef::Ints(_)) => "intset",
            ValueRef::Set(SetRef::Table(_)) => "set table",
            ValueRef::ZSet(ZSetRef::Packed(_)) => "packed zset",
            ValueRef::ZSet(ZSetRef::Tree(_)) => "zset tree",
        }
    }

    fn put_value(ks: &Keyspace, db: usize, key: &[u8], value: Value, expires_at: u64) {
        let mut guard = ks.write();
        let entry = Entry::with_value(key, value, expires_at);
        assert!(guard.writer(db).put_entry(entry, 0).is_none());
    }

    fn paths_in(dir: &tempfile::TempDir) -> SnapshotPaths {
        SnapshotPaths::new(dir.path(), "dump.gcs")
    }

    /// `(db, key, leaf, contents, deadline)` of every collection in `ks`.
    type Summary = Vec<(usize, Vec<u8>, &'static str, (Kind, Vec<Vec<u8>>), u64)>;

    fn summary(ks: &Keyspace) -> Summary {
        let guard = ks.read();
        let mut all = Vec::new();
        for (index, db) in guard.dbs().iter().enumerate() {
            for part in 0..PARTITIONS {
                for entry in db.iter_partition(part, 0) {
                    if let Some(value) = entry.collection() {
                        all.push((
                            index,
                            entry.key().to_vec(),
                            leaf(value),
                            contents(value),
                            entry.expires_at(),
                        ));
                    }
                }
            }
        }
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all
    }

    #[test]
    fn every_type_and_encoding_round_trips_in_several_databases_with_deadlines() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::with_databases(16);
        ks.write().writer(0).put(b"string", b"plain", 0, 0);
        put_value(&ks, 0, b"small hash", packed_hash(3), 5_000);
        put_value(&ks, 0, b"big hash", table_hash(1_000, 0), 0);
        put_value(&ks, 0, b"long values", table_hash(2, 100), 7_000);
        put_value(
            &ks,
            3,
            b"small list",
            packed_list(&[b"a", b"", b"\0\r\n"]),
            0,
        );
        put_value(&ks, 3, b"big list", quick_list(5_000), 9_000);
        let huge = vec![0xA5u8; 3 << 20];
        put_value(&ks, 3, b"one huge element", packed_list(&[&huge]), 0);
        put_value(&ks, 15, b"ints", int_set([-5, 0, 7, i64::MIN, i64::MAX]), 0);
        put_value(
            &ks,
            15,
            b"many ints",
            table_set((0..600).map(|i| i.to_string())),
            0,
        );
        put_value(
            &ks,
            15,
            b"strings",
            table_set(["a", "b\r\n", "10", ""]),
            6_000,
        );
        put_value(&ks, 3, b"", packed_hash(1), 0);
        let before = summary(&ks);
        assert_eq!(before.len(), 10);
        assert_eq!(save(&ks, &paths, 100).len(), 11);

        let restored = Keyspace::with_databases(16);
        let report = load(&paths, &restored, 200, Encodings::DEFAULT).unwrap();
        assert_eq!((report.loaded, report.expired), (11, 0));
        let mut expected = before.clone();
        for e in &mut expected {
            // Built as a table, but a list of one element over the node
            // limit is a quicklist, and 2 short fields a packed hash.
            match e.1.as_slice() {
                b"one huge element" => e.2 = "quicklist",
                b"many ints" => assert_eq!(e.2, "set table", "600 > 512 integers"),
                _ => {}
            }
        }
        let after = summary(&restored);
        assert_eq!(after, expected);
        let guard = restored.read();
        assert_eq!(guard.db(0).get(b"string", 200).unwrap().value(), b"plain");
        assert_eq!(guard.db(0).next_deadline(), Some(5_000));
        assert_eq!(guard.db(3).next_deadline(), Some(9_000));
        assert_eq!(guard.db(15).stored_with_deadline(), 1);
        assert_eq!(guard.db(3).stored_len(), 4);
    }

    #[test]
    fn loading_chooses_each_encoding_by_the_thresholds_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::new();
        put_value(&ks, 0, b"hash10", packed_hash(10), 0);
        put_value(&ks, 0, b"hash long value", table_hash(1, 100), 0);
        put_value(&ks, 0, b"table hash of 2", table_hash(2, 0), 0);
        put_value(&ks, 0, b"list10", packed_list(&[&b"x"[..]; 10]), 0);
        put_value(&ks, 0, b"list4", packed_list(&[&b"x"[..]; 4]), 0);
        put_value(&ks, 0, b"ints10", int_set(0..10), 0);
        put_value(&ks, 0, b"table of 3 ints", table_set(["1", "-2", "3"]), 0);
        put_value(
            &ks,
            0,
            b"non-canonical",
            table_set(["1", "007", "-0", "+5"]),
            0,
        );
        put_value(
            &ks,
            0,
            b"too wide",
            table_set(["1", "9223372036854775808"]),
            0,
        );
        save(&ks, &paths, 0);
        let leaves = |limits: Encodings| {
            let restored = Keyspace::new();
            load(&paths, &restored, 0, limits).unwrap();
            assert_eq!(
                summary(&restored).iter().map(|e| &e.3).collect::<Vec<_>>(),
                summary(&ks).iter().map(|e| &e.3).collect::<Vec<_>>(),
                "the contents do not depend on the limits"
            );
            summary(&restored)
                .into_iter()
                .map(|e| (String::from_utf8(e.1).unwrap(), e.2))
                .collect::<Vec<_>>()
        };
        let named = |pairs: &[(&str, &'static str)]| {
            let mut v: Vec<(String, &'static str)> =
                pairs.iter().map(|&(k, l)| (k.to_string(), l)).collect();
            v.sort();
            v
        };
        assert_eq!(
            leaves(Encodings::DEFAULT),
            named(&[
                ("hash10", "packed hash"),
                ("hash long value", "hash table"),
                ("table hash of 2", "packed hash"),
                ("list10", "packed list"),
                ("list4", "packed list"),
                ("ints10", "intset"),
                ("table of 3 ints", "intset"),
                ("non-canonical", "set table"),
                ("too wide", "set table"),
            ])
        );
        let tight = Encodings {
            hash_max_listpack_entries: 5,
            hash_max_listpack_value: 200,
            set_max_intset_entries: 3,
            list_max_listpack_size: 4,
            ..Encodings::DEFAULT
        };
        assert_eq!(
            leaves(tight),
            named(&[
                ("hash10", "hash table"),
                ("hash long value", "packed hash"),
                ("table hash of 2", "packed hash"),
                ("list10", "quicklist"),
                ("list4", "packed list"),
                ("ints10", "set table"),
                ("table of 3 ints", "intset"),
                ("non-canonical", "set table"),
                ("too wide", "set table"),
            ])
        );
        let none = Encodings {
            hash_max_listpack_entries: 0,
            set_max_intset_entries: 0,
            list_max_listpack_size: -1,
            ..Encodings::DEFAULT
        };
        let all = leaves(none);
        assert!(
            all.iter()
                .all(|(_, l)| matches!(*l, "hash table" | "set table" | "packed list")),
            "{all:?}"
        );
    }

    #[test]
    fn a_view_stays_a_point_in_time_while_its_collections_are_edited_and_encoded_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::new();
        put_value(&ks, 0, b"big list", quick_list(3_000), 0);
        put_value(&ks, 0, b"small list", packed_list(&[b"a"]), 0);
        let before = summary(&ks);
        let view = PointInTime::capture(&ks, 0);
        let fill = Fill::from_redis(-2);
        let push = |key: &[u8], element: &[u8]| {
            let mut guard = ks.write();
            guard
                .writer(0)
                .edit::<List, _>(
                    key,
                    0,
                    false,
                    Event::Edited("rpush"),
                    |value| match value {
                        Value::List(List::Quick(q)) => (q.push_back(element, fill), true),
                        Value::List(List::Packed(p)) => (p.push_back(element), true),
                        other => panic!("not a list: {other:?}"),
                    },
                    |_| Vec::new(),
                )
                .unwrap()
                .unwrap();
        };
        // Encoded on another thread, holding no lock, while this one edits
        // both lists under the write lock.
        let encoded = thread::scope(|scope| {
            let encoder = scope.spawn(|| {
                let mut bytes = Vec::new();
                view.encode(&mut bytes).unwrap();
                bytes
            });
            for i in 0..200 {
                push(b"big list", &text("after ", i));
                push(b"small list", &text("after ", i));
            }
            encoder.join().unwrap()
        });
        {
            let guard = ks.read();
            let live = guard.db(0).get(b"big list", 0).unwrap();
            assert_eq!(live.collection().unwrap().len(), 3_200);
            let captured = view
                .entries()
                .find(|e| e.entry.key() == b"big list")
                .unwrap();
            assert!(
                !captured.entry.shares_allocation_with(live),
                "edited a copy"
            );
            assert_eq!(captured.entry.collection().unwrap().len(), 3_000);
        }
        std::fs::write(&paths.file, &encoded).unwrap();
        let restored = Keyspace::new();
        load(&paths, &restored, 0, Encodings::DEFAULT).unwrap();
        assert_eq!(summary(&restored), before);
        // With the view gone, the next edit is in place again.
        drop(view);
        push(b"big list", b"last");
        assert_eq!(summary(&ks)[0].3.1.len(), 3_201);
    }

    #[test]
    fn a_version_2_file_still_loads_its_databases() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        // What the previous build wrote: sections, untyped string entries.
        let mut bytes = b"GOCACHE\0".to_vec();
        bytes.extend_from_slice(&format::VERSION_2.to_le_bytes());
        bytes.extend_from_slice(&42u64.to_le_bytes());
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.extend_from_slice(&[0, 1, 1, b'a', 1, b'1', 0]);
        bytes.extend_from_slice(&[5, 2, 1, b'b', 2, b'2', b'2', 1]);
        bytes.extend_from_slice(&9_000u64.to_le_bytes());
        bytes.extend_from_slice(&[1, b'c', 0, 0]);
        let crc = crc32::Crc32::of(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        std::fs::write(&paths.file, &bytes).unwrap();
        let restored = Keyspace::new();
        let report = load(&paths, &restored, 0, Encodings::DEFAULT).unwrap();
        assert_eq!((report.loaded, report.created_unix_ms), (3, 42));
        let guard = restored.read();
        assert_eq!(guard.db(0).get(b"a", 0).unwrap().value(), b"1");
        let b = guard.db(5).get(b"b", 0).unwrap();
        assert_eq!(
            (b.kind(), b.value(), b.expires_at()),
            (Kind::String, &b"22"[..], 9_000)
        );
        assert_eq!(guard.db(5).get(b"c", 0).unwrap().value(), b"");
    }

    #[test]
    fn an_expired_collection_is_dropped_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::new();
        put_value(&ks, 0, b"gone", table_hash(600, 0), 150);
        put_value(&ks, 0, b"kept", int_set([1]), 0);
        save(&ks, &paths, 100);
        let restored = Keyspace::new();
        let report = load(&paths, &restored, 150, Encodings::DEFAULT).unwrap();
        assert_eq!((report.loaded, report.expired), (1, 1));
        assert_eq!(summary(&restored).len(), 1);

        // Expired or not, a flawed collection is a flawed file.
        paths
            .replace_with(|w| {
                let mut enc = format::Encoder::new(w, 0, 1);
                enc.database(0, 1)?;
                enc.begin_collection(b"gone", Kind::Set, 2)?;
                enc.element(b"1")?;
                enc.element(b"1")?;
                enc.end_collection(150)?;
                enc.finish().map(|(_, n)| n)
            })
            .unwrap();
        let err = load(&paths, &Keyspace::new(), 150, Encodings::DEFAULT).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn sorted_sets_round_trip_in_both_encodings_and_load_by_the_limits_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::with_databases(4);
        let l = Encodings::DEFAULT;
        put_value(&ks, 0, b"small", sorted_set(10, &l), 4_000);
        put_value(&ks, 2, b"big", sorted_set(3_000, &l), 0);
        put_value(&ks, 2, b"one", sorted_set(1, &l), 0);
        let before = summary(&ks);
        let leaves: Vec<&str> = before.iter().map(|e| e.2).collect();
        assert_eq!(leaves, ["packed zset", "zset tree", "packed zset"]);
        save(&ks, &paths, 100);
        let restored = Keyspace::with_databases(4);
        let report = load(&paths, &restored, 200, l).unwrap();
        assert_eq!(report.loaded, 3);
        assert_eq!(summary(&restored), before);
        {
            let guard = restored.read();
            let entry = guard.db(2).get(b"big", 200).unwrap();
            let z = entry.collection().and_then(|v| v.zset()).unwrap();
            assert_eq!(z.rank(&text("member\r\n", 0), false), Some(0), "-inf first");
            assert_eq!(z.at(2999).map(|(_, s)| s), Some(f64::INFINITY));
            assert!(z.score(&text("member\r\n", 1)).unwrap().is_sign_negative());
            if let crate::value::ZSetRef::Tree(t) = z {
                t.check();
            }
        }
        let none = Encodings {
            zset_max_listpack_entries: 0,
            ..l
        };
        let restored = Keyspace::with_databases(4);
        load(&paths, &restored, 200, none).unwrap();
        let after = summary(&restored);
        assert!(after.iter().all(|e| e.2 == "zset tree"), "{after:?}");
        let everything = Encodings {
            zset_max_listpack_entries: 10_000,
            zset_max_listpack_value: 100,
            ..l
        };
        let restored = Keyspace::with_databases(4);
        load(&paths, &restored, 200, everything).unwrap();
        let after = summary(&restored);
        assert!(after.iter().all(|e| e.2 == "packed zset"), "{after:?}");
        assert_eq!(
            after.iter().map(|e| &e.3).collect::<Vec<_>>(),
            before.iter().map(|e| &e.3).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_flawed_sorted_set_is_refused_at_its_offset_in_every_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let score = |s: f64| s.to_bits().to_le_bytes();
        let (one, half, nan) = (score(1.0), score(0.5), score(f64::NAN));
        // The collection's strings start at 45 (see the case above): a
        // member of one byte takes 2, a score 9.
        type Case<'a> = (u64, Vec<&'a [u8]>, usize, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                2,
                vec![b"a", &one, b"a", &one[..]],
                56,
                "the sorted set member \"a\" appears twice",
            ),
            (
                2,
                vec![b"a", &one, b"b", &half],
                56,
                "the sorted set member \"b\" (score 0.5) is out of",
            ),
            (
                2,
                vec![b"b", &one, b"a", &one],
                56,
                "the sorted set member \"a\" (score 1) is out of",
            ),
            (1, vec![b"a", &nan], 47, "a sorted set score is NaN"),
            (
                1,
                vec![b"a", &one[..7]],
                47,
                "a sorted set score of 7 bytes",
            ),
        ];
        let big = Encodings {
            zset_max_listpack_entries: 0,
            ..Encodings::DEFAULT
        };
        for (len, strings, offset, what) in cases {
            write_collection(&paths, Kind::ZSet, len, &strings);
            for limits in [Encodings::DEFAULT, big] {
                let text = refusal(&paths, limits);
                assert!(text.contains(what), "{text}");
                assert!(text.contains("entry 1 (starting at offset 41)"), "{text}");
                assert!(
                    text.contains(&format!("(at byte offset {offset})")),
                    "{what}: {text}"
                );
            }
        }
    }

    /// Writes one database-0 collection of `kind` holding `strings` (`len`
    /// elements, fields for a hash).
    fn write_collection(paths: &SnapshotPaths, kind: Kind, len: u64, strings: &[&[u8]]) {
        paths
            .replace_with(|w| {
                let mut enc = format::Encoder::new(w, 0, 2);
                enc.database(0, 2)?;
                enc.entry(b"before", b"x", 0)?;
                enc.begin_collection(b"k", kind, len)?;
                for s in strings {
                    enc.element(s)?;
                }
                enc.end_collection(0)?;
                enc.finish().map(|(_, n)| n)
            })
            .unwrap();
    }

    fn refusal(paths: &SnapshotPaths, limits: Encodings) -> String {
        let before = std::fs::read(&paths.file).unwrap();
        let err = load(paths, &Keyspace::new(), 0, limits).unwrap_err();
        assert!(matches!(err, Error::CorruptSnapshot { .. }), "{err}");
        assert_eq!(
            std::fs::read(&paths.file).unwrap(),
            before,
            "left as it was"
        );
        let text = err.to_string();
        assert!(text.contains(&paths.file.display().to_string()), "{text}");
        text
    }

    #[test]
    fn a_repeated_set_member_or_hash_field_is_refused_at_its_offset_in_every_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let small = Encodings::DEFAULT;
        let big = Encodings {
            hash_max_listpack_entries: 0,
            set_max_intset_entries: 0,
            ..Encodings::DEFAULT
        };
        // The header and section take 30 bytes, the first entry 11; the
        // collection starts at 41: type, key (2), count (1), its strings.
        let many: Vec<Vec<u8>> = (0..40).map(|i| text("m", i)).collect();
        let mut repeated_late: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        repeated_late.push(b"m39");
        let late_offset = 41 + 4 + many.iter().map(|m| 1 + m.len()).sum::<usize>();
        let mut pairs: Vec<&[u8]> = Vec::new();
        for m in &many {
            pairs.extend([m.as_slice(), b"v"]);
        }
        pairs.extend([&b"m0"[..], b"again"]);
        let pairs_offset = 41 + 4 + many.iter().map(|m| 1 + m.len() + 2).sum::<usize>();
        /// `(kind, len, strings, offset of the repeat, what repeats)`.
        type Case<'a> = (Kind, u64, Vec<&'a [u8]>, usize, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (Kind::Set, 3, vec![b"1", b"2", b"1"], 49, "set member \"1\""),
            (Kind::Set, 2, vec![b"a", b"a"], 47, "set member \"a\""),
            (
                Kind::Set,
                41,
                repeated_late,
                late_offset,
                "set member \"m39\"",
            ),
            (
                Kind::Hash,
                2,
                vec![b"f", b"1", b"f", b"2"],
                49,
                "hash field \"f\"",
            ),
            (Kind::Hash, 41, pairs, pairs_offset, "hash field \"m0\""),
        ];
        for (kind, len, strings, offset, what) in cases {
            write_collection(&paths, kind, len, &strings);
            for limits in [small, big] {
                let text = refusal(&paths, limits);
                assert!(
                    text.contains(&format!("the {what} appears twice")),
                    "{text}"
                );
                assert!(text.contains("entry 1 (starting at offset 41)"), "{text}");
                assert!(
                    text.contains(&format!("(at byte offset {offset})")),
                    "{what}: {text}"
                );
            }
        }
    }

    #[test]
    fn flawed_collections_are_refused_at_start_naming_the_file_and_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        // One entry in database 0, at offset 30, resealed.
        let file = |entry: &[u8]| {
            let mut bytes = b"GOCACHE\0".to_vec();
            bytes.extend_from_slice(&format::VERSION.to_le_bytes());
            bytes.extend_from_slice(&0u64.to_le_bytes());
            bytes.extend_from_slice(&1u64.to_le_bytes());
            bytes.extend_from_slice(&[0, 1]);
            bytes.extend_from_slice(entry);
            let crc = crc32::Crc32::of(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
            bytes
        };
        let cases: &[(&[u8], &str)] = &[
            (
                &[1, 1, b'k', 0, 0],
                "an empty hash (a collection holds at least one field) (at byte offset 33)",
            ),
            (
                &[3, 1, b'k', 200, 1, 1, b'a', 0],
                "a set of 200 members, more than the 3 bytes left could hold (at byte offset 33)",
            ),
            (
                &[2, 1, b'k', 1, 9, b'a', 0],
                "list element 0 (of 1) of 9 bytes runs past the end of the entries (2 bytes left) (at byte offset 34)",
            ),
            (
                &[7, 1, b'k', 1, b'v', 0],
                "unknown type 7 (at byte offset 30)",
            ),
        ];
        for (entry, what) in cases {
            std::fs::write(&paths.file, file(entry)).unwrap();
            let text = refusal(&paths, Encodings::DEFAULT);
            assert!(text.contains(what), "{what}: {text}");
        }
    }

    #[test]
    fn every_truncation_of_a_small_file_with_collections_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(&dir);
        let ks = Keyspace::with_databases(4);
        ks.write().writer(0).put(b"s", b"v", 0, 0);
        put_value(&ks, 0, b"h", packed_hash(2), 9_000);
        put_value(&ks, 1, b"l", packed_list(&[b"a", b"bb"]), 0);
        put_value(&ks, 3, b"i", int_set([1, 300, -70_000]), 0);
        put_value(&ks, 3, b"t", table_set(["x", "y"]), 0);
        save(&ks, &paths, 1);
        let good = std::fs::read(&paths.file).unwrap();
        let restored = Keyspace::with_databases(4);
        assert_eq!(
            load(&paths, &restored, 0, Encodings::DEFAULT)
                .unwrap()
                .loaded,
            5
        );
        assert_eq!(summary(&restored), summary(&ks));
        for len in 0..good.len() {
            std::fs::write(&paths.file, &good[..len]).unwrap();
            let fresh = Keyspace::with_databases(4);
            let err = load(&paths, &fresh, 0, Encodings::DEFAULT).unwrap_err();
            assert!(
                matches!(err, Error::CorruptSnapshot { .. }),
                "length {len}: {err}"
            );
            // Refused before any entry is visited: nothing was loaded.
            assert_eq!(fresh.read().stored_len(), 0, "length {len}");
        }
    }
}
