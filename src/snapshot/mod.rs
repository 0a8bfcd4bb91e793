//! Snapshots: the whole keyspace in one file, written crash-safely and loaded
//! strictly at start.
//!
//! This module owns the snapshot file and everything about it: its format
//! ([`format`](mod@format), checksummed by our own [`crc32`]), its atomic replacement on
//! disk ([`file`](mod@file)), the point-in-time view a save writes ([`PointInTime`]),
//! loading at start ([`load`]), and who saves when ([`saver`]: `SAVE`,
//! `BGSAVE`, the periodic snapshot thread, the final save at shutdown, and the
//! status `INFO` and `LASTSAVE` report).
//!
//! It must never hold the keyspace lock during serialisation or disk I/O: a
//! save clones the `Arc`s of every live entry under one read guard (a
//! reference count each, no copying of keys or values), releases the guard,
//! and only then encodes and writes. Writers wait for that clone, never for
//! the disk. The loader never opens the file for writing, so a snapshot it
//! refuses is left byte for byte as it was.
//!
//! # File format, version 2
//!
//! All integers are little-endian. Offsets are in bytes from the file start.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic: the ASCII bytes `GOCACHE` followed by one zero byte |
//! | 8  | 4 | format version, `u32`: `2` |
//! | 12 | 8 | creation time, `u64` Unix milliseconds (the point in time saved) |
//! | 20 | 8 | entry count `N`, `u64`: the entries of every database together |
//! | 28 | … | database sections, back to back, holding the `N` entries |
//! | end − 4 | 4 | CRC-32 (IEEE: zlib's and PNG's) of every byte before it, `u32` |
//!
//! Each database section is its database number (unsigned LEB128), its
//! entry count `C` (unsigned LEB128, at least 1), then `C` entries in no
//! particular order. Sections come in increasing database order; a database
//! without keys has none. Each entry is:
//!
//! | size | field |
//! |-----:|-------|
//! | 1–10 | key length `K`, unsigned LEB128 (7 bits a byte, low bits first; the top bit is set on every byte but the last) |
//! | `K`  | key bytes (any bytes) |
//! | 1–10 | value length `V`, unsigned LEB128 |
//! | `V`  | value bytes (any bytes) |
//! | 1    | deadline tag: `0` = no deadline, `1` = a deadline follows |
//! | 0 or 8 | the deadline, `u64` Unix milliseconds (never 0), present only when the tag is `1` |
//!
//! Version 1, written by earlier builds, has no sections: its `N` entries
//! follow the header directly, and load into database 0.
//!
//! Deadlines are absolute, so a key keeps counting down while the server is
//! stopped; keys whose deadline passed before loading are dropped. A reader
//! refuses the whole file (it never loads part of one) when the magic or
//! version is wrong, the checksum does not match, a length runs past the
//! entries, a section is empty, out of order or longer than the entries
//! left, a database number is beyond the server's `--databases`, a tag is
//! unknown, a key repeats within a database, or bytes follow the last
//! entry. The smallest file, an empty snapshot, is 32 bytes.
//!
//! Loading goes through the keyspace's [`DbWriter`](crate::keyspace::DbWriter)
//! and commits like any write, so the restored keys reach their databases'
//! deadline heaps, the sweeper, and the change count.

pub mod crc32;
pub mod file;
pub mod format;
pub mod saver;

pub use file::SnapshotPaths;
pub use saver::{BackgroundSaveRunning, SaveStatus, SnapshotThread, Snapshotter};

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
                encoder.entry(e.entry.key(), e.entry.value(), e.expires_at)?;
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
/// any client is served). A missing file is an empty start; a file that is
/// not a valid snapshot is [`Error::CorruptSnapshot`] naming it, and the
/// keyspace must then be thrown away. Restored keys go through a
/// [`DbWriter`](crate::keyspace::DbWriter), so their deadlines reach the
/// deadline heap and the sweeper.
pub fn load(paths: &SnapshotPaths, keyspace: &Keyspace, now: u64) -> Result<LoadReport, Error> {
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
    let mut visit = |entry: format::Visit<'_>| {
        let db = entry.db as usize;
        if db >= databases {
            return Err(format!(
                "the snapshot holds database {db}, but this server has {databases} (--databases)"
            ));
        }
        let mut writer = store.writer(db);
        if let Some(n) = entry.section_len {
            writer.reserve((n as usize).min(bound));
        }
        if entry.expires_at != 0 && entry.expires_at <= now {
            report.expired += 1;
            return Ok(());
        }
        if entry.key.len() > crate::entry::MAX_LEN || entry.value.len() > crate::entry::MAX_LEN {
            return Err(format!(
                "an entry of {} + {} bytes is larger than a key or value can be",
                entry.key.len(),
                entry.value.len()
            ));
        }
        let restored = Entry::new(entry.key, entry.value, entry.expires_at);
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
        let report = load(&paths, &restored, 200).unwrap();
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
        let report = load(&paths, &restored, 150).unwrap();
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
        assert_eq!(load(&paths, &ks, 0).unwrap(), LoadReport::default());
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
        let err = load(&paths, &Keyspace::new(), 0).unwrap_err();
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
        let err = load(&paths, &Keyspace::new(), 0).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
}
