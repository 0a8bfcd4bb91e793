//! The append-only log: every committed write, on disk before (or as) it
//! is acknowledged, and the data loaded from it at start.
//!
//! This module owns the log's directory and everything in it: the
//! [manifest](Manifest) that names the files, the base (a snapshot of the
//! data at the last rewrite, in the [snapshot](crate::snapshot) format),
//! the incremental files of commands written since ([`record`]), the
//! [`Journal`] that writes them with group commit, the rewrite that
//! compacts them, the background thread that syncs once a second and
//! retries failures, and loading at start.
//!
//! It must never hold the keyspace lock during disk I/O: the commit point
//! only copies each commit's record into the journal's buffer; a rewrite
//! captures the data under one read guard (reference counts, as a
//! snapshot does) and switches the journal to a new incremental file
//! under that same guard, then writes with no lock held.
//!
//! # The directory (`--dir`/`--appenddirname`)
//!
//! With `--appendfilename NAME` (default `appendonly.aof`):
//! - `NAME.manifest`: the manifest (below). It is only ever replaced
//!   whole: written to `NAME.manifest.tmp`, synced, renamed over, and the
//!   directory synced, so a crash leaves the old manifest or the new one.
//! - `NAME.S.base.gcs`: a base, a snapshot file (see
//!   [`snapshot`](crate::snapshot)'s format), written the same safe way.
//! - `NAME.S.incr.gcl`: an incremental file: [`record::HEADER`], then
//!   records ([`record`] documents them byte by byte), appended.
//!
//! `S` is a sequence number, one more at each rewrite. Files the manifest
//! does not name are leftovers of a rewrite a crash interrupted; loading
//! ignores them and the next rewrite's clean-up removes them.
//!
//! # The manifest, version 1
//!
//! Text, one item a line, each line ended by `\n`:
//!
//! ```text
//! gocache-log-manifest 1
//! seq 3
//! base appendonly.aof.3.base.gcs
//! incr appendonly.aof.3.incr.gcl
//! incr appendonly.aof.4.incr.gcl
//! check 5d41402a
//! ```
//!
//! The first line names the format and its version. `seq` is the highest
//! sequence number in use. At most one `base` line, then the incremental
//! files in the order they are replayed (more than one only while a
//! rewrite is under way, or after one failed: the older ones hold the
//! writes from before it began). `check` is the CRC-32 of every byte
//! before its line, in lower-case hex; a manifest whose check fails, or
//! that holds anything else, is refused.
//!
//! # Rewrite
//!
//! `BGREWRITEAOF` and the automatic rewrite (the log grew by
//! `auto-aof-rewrite-percentage` of its size after the last rewrite, and
//! is at least `auto-aof-rewrite-min-size`) run on a thread of their own:
//! 1. create the next incremental file (header written and synced) and
//!    make the manifest name it after the current ones;
//! 2. under one read guard, capture the data and switch the journal to
//!    that file: every write after the capture goes there;
//! 3. write the captured data as the next base;
//! 4. make the manifest name the new base and the new incremental file
//!    only, then remove the files it no longer names.
//!
//! A crash before 4 loads the old base, the old incremental files and
//! the new one, which hold every write; after 4, the new base and the new
//! file. Either way nothing acknowledged is missing.
//!
//! # Loading
//!
//! With `appendonly yes` and a manifest, the data comes from the log,
//! not the snapshot: the base, then each incremental file's records,
//! each applied under one write guard (a record is one commit, so a
//! transaction is applied whole), with time stopped at zero, so that no
//! key expires while the log is replayed (a key whose deadline passed
//! while the server was down is removed by the sweeper once it starts,
//! after its later writes were replayed, as Redis does). A last record
//! cut short is dropped with a warning naming the file and offset
//! (`aof-load-truncated yes`) and cut from the file, or refused (`no`).
//! Anything else wrong refuses to start, naming file and offset, and
//! changes no file. With `appendonly yes` and no manifest, the data
//! loaded from the snapshot (if any) becomes the first base: unlike
//! Redis, which would start empty there, switching the log on never
//! hides the data a server held.

pub mod journal;
pub mod record;

pub use journal::{Handed, Journal, LogFile, Marks, Outbox};

use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::shared::Shared;
use crate::snapshot::crc32::Crc32;
use crate::snapshot::{PointInTime, SnapshotPaths};
use crate::{notice, warning};
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// When the log is synced (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fsync {
    /// Before a write is acknowledged.
    Always = 0,
    /// Once a second, in the background.
    EverySec = 1,
    /// When the kernel chooses.
    No = 2,
}

impl Fsync {
    /// Redis's name.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }

    /// From Redis's name, in any case.
    pub fn parse(name: &str) -> Option<Fsync> {
        [Fsync::Always, Fsync::EverySec, Fsync::No]
            .into_iter()
            .find(|f| name.eq_ignore_ascii_case(f.name()))
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// Where the log's files are.
#[derive(Debug, Clone)]
pub struct LogPaths {
    /// `--dir` joined with `--appenddirname`.
    pub dir: PathBuf,
    /// `--appendfilename`.
    pub name: String,
}

impl LogPaths {
    /// The paths for `--dir dir --appenddirname dirname --appendfilename name`.
    pub fn new(dir: &Path, dirname: &str, name: &str) -> LogPaths {
        LogPaths {
            dir: dir.join(dirname),
            name: name.to_string(),
        }
    }

    /// The manifest's file name.
    pub fn manifest_name(&self) -> String {
        format!("{}.manifest", self.name)
    }

    /// Whether a manifest exists (the log holds the data).
    pub fn exists(&self) -> bool {
        self.dir.join(self.manifest_name()).exists()
    }

    fn base_name(&self, seq: u64) -> String {
        format!("{}.{seq}.base.gcs", self.name)
    }

    fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}.incr.gcl", self.name)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The files that make up the log (see the module doc's format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The highest sequence number in use.
    pub seq: u64,
    /// The base, if any.
    pub base: Option<String>,
    /// The incremental files, in replay order.
    pub incrs: Vec<String>,
}

const MANIFEST_FIRST_LINE: &str = "gocache-log-manifest 1";

impl Manifest {
    /// The manifest's text.
    pub fn encode(&self) -> String {
        let mut text = format!("{MANIFEST_FIRST_LINE}\nseq {}\n", self.seq);
        if let Some(base) = &self.base {
            text.push_str(&format!("base {base}\n"));
        }
        for incr in &self.incrs {
            text.push_str(&format!("incr {incr}\n"));
        }
        let check = Crc32::of(text.as_bytes());
        text.push_str(&format!("check {check:08x}\n"));
        text
    }

    /// Reads a manifest's text; `Err` says what is wrong, at which line.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let check_at = text
            .windows(7)
            .rposition(|w| w == b"\ncheck ")
            .map(|i| i + 1)
            .ok_or("it has no check line")?;
        let expected = format!("check {:08x}\n", Crc32::of(&text[..check_at]));
        if &text[check_at..] != expected.as_bytes() {
            return Err("its check does not match its contents".into());
        }
        let body = std::str::from_utf8(&text[..check_at]).map_err(|_| "it is not text")?;
        let mut lines = body.lines().enumerate();
        if lines.next().map(|(_, l)| l) != Some(MANIFEST_FIRST_LINE) {
            return Err(format!("its first line is not '{MANIFEST_FIRST_LINE}'"));
        }
        let mut manifest = Manifest::default();
        let mut seen_seq = false;
        for (i, line) in lines {
            let bad = || format!("line {}: '{}' is not a manifest line", i + 1, line);
            let (word, value) = line.split_once(' ').ok_or_else(bad)?;
            let name_ok = |v: &str| {
                !v.is_empty() && !v.contains('/') && v != "." && v != ".." && !v.contains(' ')
            };
            match word {
                "seq" if !seen_seq => {
                    manifest.seq = value.parse().map_err(|_| bad())?;
                    seen_seq = true;
                }
                "base"
                    if manifest.base.is_none() && manifest.incrs.is_empty() && name_ok(value) =>
                {
                    manifest.base = Some(value.to_string())
                }
                "incr" if name_ok(value) => manifest.incrs.push(value.to_string()),
                _ => return Err(bad()),
            }
        }
        if !seen_seq {
            return Err("it has no seq line".into());
        }
        Ok(manifest)
    }
}

/// What the log's files hold, as the server last made them.
#[derive(Debug, Clone, Default)]
struct Files {
    manifest: Manifest,
    /// The base's bytes.
    base_size: u64,
    /// The bytes of the incremental files before the one being written.
    older_incrs: u64,
    /// The log's size just after the last rewrite (or at start): the
    /// automatic rewrite's reference.
    size_after_rewrite: u64,
}

/// The state of rewrites, for `INFO` and for refusing a second one.
#[derive(Debug, Clone, Default)]
struct Rewrites {
    started: Option<Instant>,
    last_secs: Option<u64>,
    last_ok: bool,
    done: u64,
    consecutive_failures: u64,
}

/// What `INFO persistence` shows of the log.
#[derive(Debug, Clone)]
pub struct LogStatus {
    /// Whether the log is on.
    pub enabled: bool,
    /// Whether a rewrite runs now.
    pub rewriting: bool,
    /// Seconds the last rewrite took.
    pub last_rewrite_secs: Option<u64>,
    /// Seconds the running rewrite has taken so far.
    pub current_rewrite_secs: Option<u64>,
    /// Whether the last rewrite succeeded (or none ran).
    pub last_rewrite_ok: bool,
    /// Rewrites done since start.
    pub rewrites: u64,
    /// Failed rewrites since the last good one.
    pub consecutive_failures: u64,
    /// Whether the last write or sync succeeded.
    pub last_write_ok: bool,
    /// The log's bytes on disk: base and incremental files.
    pub current_size: u64,
    /// The base's bytes.
    pub base_size: u64,
    /// Bytes appended and not yet written.
    pub buffered: usize,
}

/// The append-only log of one server.
pub struct Aof {
    /// The bytes waiting for the disk.
    pub journal: Arc<Journal>,
    paths: LogPaths,
    files: Mutex<Files>,
    rewrites: Mutex<Rewrites>,
    rewriting: AtomicBool,
    enabled: AtomicBool,
}

/// The refusal a write gets while the log cannot be written (Redis's text,
/// the error's description after it).
pub const MISCONF_PREFIX: &str = "MISCONF Errors writing to the AOF file: ";

/// The reply to `BGREWRITEAOF` while one runs (Redis's).
pub const REWRITE_RUNNING: &str = "ERR Background append only file rewriting already in progress";

impl Aof {
    /// The log of a server with `paths`, syncing by `policy`; off until
    /// [`Aof::boot`] or [`Aof::enable`].
    pub fn new(paths: LogPaths, policy: Fsync) -> Aof {
        Aof {
            journal: Arc::new(Journal::new(policy)),
            paths,
            files: Mutex::new(Files::default()),
            rewrites: Mutex::new(Rewrites {
                last_ok: true,
                ..Rewrites::default()
            }),
            rewriting: AtomicBool::new(false),
            enabled: AtomicBool::new(false),
        }
    }

    /// Whether the log is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rewrite_state(&self) -> MutexGuard<'_, Rewrites> {
        self.rewrites.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The refusal for writes while the log fails, if it does.
    pub fn refusal(&self) -> Option<String> {
        if !self.journal.failing() {
            return None;
        }
        let why = self.journal.failure().unwrap_or_default();
        Some(format!("{MISCONF_PREFIX}{why}"))
    }

    /// What `INFO persistence` shows.
    pub fn status(&self) -> LogStatus {
        let files = self.files().clone();
        let rewrites = self.rewrite_state().clone();
        let (current, next) = self.journal.file_lengths();
        LogStatus {
            enabled: self.enabled(),
            rewriting: self.rewriting.load(Ordering::Relaxed),
            last_rewrite_secs: rewrites.last_secs,
            current_rewrite_secs: rewrites.started.map(|s| s.elapsed().as_secs()),
            last_rewrite_ok: rewrites.last_ok,
            rewrites: rewrites.done,
            consecutive_failures: rewrites.consecutive_failures,
            last_write_ok: !self.journal.failing(),
            current_size: files.base_size + files.older_incrs + current + next,
            base_size: files.base_size,
            buffered: self.journal.buffered(),
        }
    }

    /// At start, with `appendonly yes`: loads the data from the log if it
    /// has a manifest (the caller then did not load the snapshot),
    /// otherwise makes what was loaded the log's first base; then opens
    /// the last incremental file and switches the log on. Before any
    /// client is served and before the sweeper starts.
    pub fn boot(&self, server: &Shared, load_truncated: bool) -> Result<(), Error> {
        fs::create_dir_all(&self.paths.dir).map_err(|source| Error::File {
            path: self.paths.dir.clone(),
            action: "create the append-only directory",
            source,
        })?;
        let Some(manifest) = self.read_manifest()? else {
            notice!(
                "no append-only log in {}: creating its first base from the data loaded",
                self.paths.dir.display()
            );
            return self.rewrite_now(&server.keyspace, true);
        };
        let started = Instant::now();
        let loaded = load::load(server, &self.paths, &manifest, load_truncated)?;
        notice!(
            "DB loaded from the append-only log {}: {} commands in {} records, {} ms",
            self.paths.dir.display(),
            loaded.commands,
            loaded.records,
            started.elapsed().as_millis()
        );
        let mut manifest = manifest;
        let last = match manifest.incrs.last() {
            Some(last) => last.clone(),
            None => {
                // A base only (a rewrite while the log was off): start
                // the first incremental file after it.
                manifest.seq += 1;
                let name = self.paths.incr_name(manifest.seq);
                create_incr(&self.paths.file(&name))?;
                manifest.incrs.push(name.clone());
                self.write_manifest(&manifest)?;
                name
            }
        };
        let path = self.paths.file(&last);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| Error::File {
                path: path.clone(),
                action: "open the append-only file",
                source,
            })?;
        let len = loaded.last_len;
        // A truncated tail is cut, so new records follow whole ones; a
        // file cut inside its header gets its header again.
        file.set_len(len).map_err(|source| Error::File {
            path: path.clone(),
            action: "cut the incomplete record from",
            source,
        })?;
        let len = if len < record::HEADER.len() as u64 {
            journal::write_at(&file, record::HEADER, 0)
                .and_then(|()| file.sync_all())
                .map_err(|source| Error::File {
                    path: path.clone(),
                    action: "write the header of",
                    source,
                })?;
            record::HEADER.len() as u64
        } else {
            len
        };
        {
            let mut files = self.files();
            files.base_size = loaded.base_size;
            files.older_incrs = loaded.older_incrs;
            files.size_after_rewrite = loaded.base_size + loaded.older_incrs + len;
            files.manifest = manifest;
        }
        self.journal.open(LogFile {
            file: Arc::new(file),
            path,
            len,
        });
        server
            .keyspace
            .write()
            .attach_journal(Some(self.journal.clone()));
        self.enabled.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn read_manifest(&self) -> Result<Option<Manifest>, Error> {
        let path = self.paths.file(&self.paths.manifest_name());
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::File {
                    path,
                    action: "read the manifest",
                    source,
                });
            }
        };
        Manifest::parse(&bytes)
            .map(Some)
            .map_err(|reason| Error::CorruptLog { path, reason })
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), Error> {
        let text = manifest.encode();
        SnapshotPaths::new(&self.paths.dir, &self.paths.manifest_name())
            .replace_with(|w| {
                use std::io::Write;
                w.write_all(text.as_bytes())?;
                Ok(text.len() as u64)
            })
            .map(|_| ())
    }

    /// Switches the log on at runtime (`CONFIG SET appendonly yes`): a
    /// rewrite of the current data, in the background, whose first step
    /// starts logging every write after its capture.
    pub fn enable(self: &Arc<Self>, keyspace: &Keyspace) -> Result<(), String> {
        if self.enabled() {
            return Ok(());
        }
        self.start_rewrite(keyspace, true)
    }

    /// Switches the log off (`CONFIG SET appendonly no`): the keyspace
    /// stops appending, and what it appended is written and synced.
    pub fn disable(&self, keyspace: &Keyspace) {
        // A running rewrite finishes first (it may be the one switching
        // the log on).
        while self.rewriting.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !self.enabled.swap(false, Ordering::AcqRel) {
            return;
        }
        keyspace.write().attach_journal(None);
        if let Err(e) = self.journal.close() {
            warning!("the append-only log was switched off with its last writes unwritten: {e}");
        }
        notice!("the append-only log is off");
    }

    /// `BGREWRITEAOF`: starts a rewrite on a thread of its own.
    pub fn request_rewrite(self: &Arc<Self>, keyspace: &Keyspace) -> Result<(), String> {
        self.start_rewrite(keyspace, false)
    }

    fn start_rewrite(self: &Arc<Self>, keyspace: &Keyspace, enabling: bool) -> Result<(), String> {
        if self.rewriting.swap(true, Ordering::AcqRel) {
            return Err(REWRITE_RUNNING.into());
        }
        self.rewrite_state().started = Some(Instant::now());
        let (aof, keyspace) = (self.clone(), keyspace.clone());
        let spawned = std::thread::Builder::new()
            .name("aof-rewrite".into())
            .spawn(move || {
                let result = aof.rewrite_now(&keyspace, enabling);
                aof.finish_rewrite(result);
            });
        if let Err(e) = spawned {
            self.finish_rewrite(Err(Error::Io(e)));
            return Err("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.".into());
        }
        Ok(())
    }

    fn finish_rewrite(&self, result: Result<(), Error>) {
        let mut state = self.rewrite_state();
        let secs = state.started.take().map(|s| s.elapsed().as_secs());
        state.last_secs = secs;
        match result {
            Ok(()) => {
                state.last_ok = true;
                state.done += 1;
                state.consecutive_failures = 0;
            }
            Err(e) => {
                warning!("the append-only log's rewrite failed: {e}");
                state.last_ok = false;
                state.consecutive_failures += 1;
            }
        }
        drop(state);
        self.rewriting.store(false, Ordering::Release);
    }

    /// A rewrite (see the module doc). `starting`: the log is off and
    /// this rewrite switches it on (at start or at runtime), so there are
    /// no current files to keep until it ends.
    fn rewrite_now(&self, keyspace: &Keyspace, starting: bool) -> Result<(), Error> {
        // Settles a switch of files an earlier rewrite left pending, so
        // that this one's switch is the only one.
        let _ = self.journal.flush(false);
        let old = self.files().manifest.clone();
        let mut next = old.clone();
        next.seq = old.seq + 1;
        if starting {
            // Never reuse a name a manifest on disk (an earlier run's) holds.
            if let Ok(Some(on_disk)) = self.read_manifest() {
                next.seq = next.seq.max(on_disk.seq + 1);
            }
        }
        let incr_name = self.paths.incr_name(next.seq);
        let base_name = self.paths.base_name(next.seq);
        fs::create_dir_all(&self.paths.dir).map_err(|source| Error::File {
            path: self.paths.dir.clone(),
            action: "create the append-only directory",
            source,
        })?;
        let logging = !starting && self.enabled();
        // 1. The file the writes after the capture go to.
        let incr_path = self.paths.file(&incr_name);
        let incr = if starting || logging {
            Some(create_incr(&incr_path)?)
        } else {
            None
        };
        if logging {
            let mut during = old.clone();
            during.seq = next.seq;
            during.incrs.push(incr_name.clone());
            self.write_manifest(&during)?;
            self.files().manifest = during;
        }
        // 2. The capture, and the switch at the same instant.
        let now = crate::clock::now_ms();
        let counts: Vec<usize> = keyspace
            .read()
            .dbs()
            .iter()
            .map(crate::keyspace::Db::stored_len)
            .collect();
        let rooms = counts
            .into_iter()
            .map(crate::snapshot::CaptureRoom::for_keys)
            .collect();
        let view = match incr {
            Some(file) if starting => {
                let mut guard = keyspace.write();
                let view = PointInTime::capture_into(rooms, &guard, now);
                self.journal.open(LogFile {
                    file: Arc::new(file),
                    path: incr_path.clone(),
                    len: record::HEADER.len() as u64,
                });
                guard.attach_journal(Some(self.journal.clone()));
                self.enabled.store(true, Ordering::Relaxed);
                view
            }
            Some(file) => {
                let guard = keyspace.read();
                let view = PointInTime::capture_into(rooms, &guard, now);
                self.journal.switch_to(LogFile {
                    file: Arc::new(file),
                    path: incr_path.clone(),
                    len: record::HEADER.len() as u64,
                });
                drop(guard);
                view
            }
            None => PointInTime::capture_into(rooms, &keyspace.read(), now),
        };
        // 3. The base.
        let written =
            SnapshotPaths::new(&self.paths.dir, &base_name).replace_with(|w| view.encode(w));
        let base_size = match written {
            Ok(len) => len,
            Err(e) => {
                if starting {
                    // Nothing names the file the writes go to: stop.
                    self.abandon_start(keyspace);
                }
                return Err(e);
            }
        };
        drop(view);
        // 4. The manifest of the new files alone, then the clean-up.
        next.base = Some(base_name.clone());
        next.incrs = if starting || logging {
            vec![incr_name.clone()]
        } else {
            Vec::new()
        };
        if let Err(e) = self.write_manifest(&next) {
            if starting {
                self.abandon_start(keyspace);
            }
            return Err(e);
        }
        let incr_len = if starting || logging {
            record::HEADER.len() as u64
        } else {
            0
        };
        {
            let mut files = self.files();
            files.manifest = next.clone();
            files.base_size = base_size;
            files.older_incrs = 0;
            files.size_after_rewrite = base_size + incr_len;
        }
        self.remove_unnamed(&next);
        notice!(
            "append-only log rewritten: base {} of {} bytes",
            base_name,
            base_size
        );
        Ok(())
    }

    /// Undoes a start of the log whose first base could not be written.
    fn abandon_start(&self, keyspace: &Keyspace) {
        keyspace.write().attach_journal(None);
        let _ = self.journal.close();
        self.enabled.store(false, Ordering::Relaxed);
        warning!("the append-only log could not write its first base: it stays off");
    }

    /// Removes the log files in the directory that `manifest` does not
    /// name (what a rewrite replaced, or a crashed one left).
    fn remove_unnamed(&self, manifest: &Manifest) {
        let Ok(entries) = fs::read_dir(&self.paths.dir) else {
            return;
        };
        let prefix = format!("{}.", self.paths.name);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A base's temporary file too: a crash mid-rewrite leaves it,
            // and its sequence number is never used again.
            let ours = name.starts_with(&prefix)
                && (name.ends_with(".base.gcs")
                    || name.ends_with(".base.gcs.tmp")
                    || name.ends_with(".incr.gcl"));
            let named =
                manifest.base.as_deref() == Some(name.as_str()) || manifest.incrs.contains(&name);
            if ours && !named {
                if let Err(e) = fs::remove_file(entry.path()) {
                    warning!("could not remove the old log file {name}: {e}");
                }
            }
        }
    }

    /// Whether the automatic rewrite is due: the log is at least
    /// `min_size` and grew by `percent` of its size after the last
    /// rewrite (0 turns it off).
    pub fn rewrite_due(&self, percent: u64, min_size: u64) -> bool {
        if percent == 0 || !self.enabled() || self.rewriting.load(Ordering::Relaxed) {
            return false;
        }
        let status = self.status();
        let base = self.files().size_after_rewrite.max(1);
        status.current_size >= min_size
            && status.current_size.saturating_mul(100) / base >= 100 + percent
    }

    /// The background threads: the journal's syncer (the group commit
    /// of `always`), and one that syncs once a second under `everysec`,
    /// writes what only the sweeper appended, retries a failed write, and
    /// starts the automatic rewrite when due.
    pub fn spawn_background(self: &Arc<Self>, server: &Arc<Shared>) -> std::io::Result<()> {
        let journal = self.journal.clone();
        std::thread::Builder::new()
            .name("aof-sync".into())
            .stack_size(256 * 1024)
            .spawn(move || journal.run_syncer())?;
        let (aof, server) = (self.clone(), Arc::downgrade(server));
        std::thread::Builder::new()
            .name("aof".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut last_sync = Instant::now();
                loop {
                    std::thread::sleep(journal::RETRY_EVERY);
                    let Some(server) = server.upgrade() else {
                        return;
                    };
                    if !aof.enabled() {
                        continue;
                    }
                    let policy = aof.journal.policy();
                    // Under `always` the syncer writes everything, unless
                    // the log fails: then this is the retry.
                    if policy != Fsync::Always || aof.journal.failing() {
                        let _ = aof.journal.flush(policy == Fsync::Always);
                    }
                    if policy == Fsync::EverySec && last_sync.elapsed() >= Duration::from_secs(1) {
                        aof.journal.sync_written();
                        last_sync = Instant::now();
                    }
                    let config = server.settings.current();
                    if aof.rewrite_due(
                        config.auto_aof_rewrite_percentage,
                        config.auto_aof_rewrite_min_size,
                    ) {
                        let _ = aof.request_rewrite(&server.keyspace);
                    }
                }
            })
            .map(|_| ())
    }

    /// At shutdown: writes and syncs everything appended.
    pub fn flush_at_exit(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        self.journal.flush(true)
    }
}

/// Creates an incremental file holding only its header, synced with its
/// directory entry.
fn create_incr(path: &Path) -> Result<File, Error> {
    let fail = |action, source| Error::File {
        path: path.to_path_buf(),
        action,
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| fail("create", e))?;
    journal::write_at(&file, record::HEADER, 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write the header of", e))?;
    if let Some(dir) = path.parent() {
        crate::snapshot::file::sync_dir(dir).map_err(|e| fail("sync the directory of", e))?;
    }
    Ok(file)
}

pub mod load;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_and_refuses_any_change() {
        let m = Manifest {
            seq: 4,
            base: Some("appendonly.aof.3.base.gcs".into()),
            incrs: vec![
                "appendonly.aof.3.incr.gcl".into(),
                "appendonly.aof.4.incr.gcl".into(),
            ],
        };
        let text = m.encode();
        assert_eq!(Manifest::parse(text.as_bytes()), Ok(m.clone()));
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[i] ^= 0x01;
            assert!(Manifest::parse(&bad).is_err(), "byte {i}");
        }
        for cut in 0..bytes.len() {
            assert!(Manifest::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let none = Manifest {
            seq: 1,
            base: None,
            incrs: vec![],
        };
        assert_eq!(Manifest::parse(none.encode().as_bytes()), Ok(none));
    }

    #[test]
    fn fsync_policies_have_redis_names() {
        for f in [Fsync::Always, Fsync::EverySec, Fsync::No] {
            assert_eq!(Fsync::parse(&f.name().to_uppercase()), Some(f));
            assert_eq!(Fsync::from_u8(f as u8), f);
        }
        assert_eq!(Fsync::parse("sometimes"), None);
    }
}
