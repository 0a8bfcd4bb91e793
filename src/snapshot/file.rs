//! The snapshot on disk: preparing its directory, replacing it atomically,
//! reading it back.
//!
//! A save never writes the snapshot file in place: it writes `NAME.tmp` in the
//! same directory, syncs it, renames it over `NAME` and then syncs the
//! directory, so a crash at any instant leaves either the old complete file or
//! the new complete one. On any error the temporary file is removed and the
//! old snapshot is left as it was. A save holds a file lock on `NAME.tmp`
//! until it has renamed it, so a second server saving to the same file at
//! the same moment waits for it (or, after [`LOCK_WAIT`], fails its save)
//! instead of writing into this one. Reading
//! never opens the file for writing. This module takes no lock of the
//! keyspace's; callers must not hold the keyspace lock either.

use crate::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Where a snapshot lives and where its replacement is written.
#[derive(Debug, Clone)]
pub struct SnapshotPaths {
    /// The directory (`--dir`).
    pub dir: PathBuf,
    /// `dir/NAME`.
    pub file: PathBuf,
    /// `dir/NAME.tmp`, the file being written during a save.
    pub tmp: PathBuf,
    /// How long a save waits for another process's save of the same file
    /// to finish before it gives up.
    pub lock_wait: Duration,
}

/// How long a save waits, by default, for another process's save of the
/// same file: longer than a save of millions of keys takes.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

impl SnapshotPaths {
    /// The paths for `--dir dir --dbfilename name`.
    pub fn new(dir: &Path, name: &str) -> Self {
        SnapshotPaths {
            dir: dir.to_path_buf(),
            file: dir.join(name),
            tmp: dir.join(format!("{name}.tmp")),
            lock_wait: LOCK_WAIT,
        }
    }

    /// Creates the directory if missing and proves it writable by creating
    /// and removing a probe file, so a bad `--dir` fails at start, not at the
    /// first save.
    pub fn prepare_dir(&self) -> Result<(), Error> {
        fs::create_dir_all(&self.dir).map_err(|source| Error::File {
            path: self.dir.clone(),
            action: "create the snapshot directory",
            source,
        })?;
        let mut probe_name = self.tmp.as_os_str().to_owned();
        probe_name.push(format!(".probe-{}", std::process::id()));
        let probe = PathBuf::from(probe_name);
        File::create(&probe).map_err(|source| Error::File {
            path: self.dir.clone(),
            action: "create a file in the snapshot directory",
            source,
        })?;
        fs::remove_file(&probe).map_err(|source| Error::File {
            path: probe.clone(),
            action: "remove the probe file",
            source,
        })
    }

    /// The whole snapshot file, or `None` if there is none.
    pub fn read(&self) -> Result<Option<Vec<u8>>, Error> {
        match fs::read(&self.file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::File {
                path: self.file.clone(),
                action: "read the snapshot",
                source,
            }),
        }
    }

    /// Replaces the snapshot with what `fill` writes, atomically. `fill`
    /// returns the number of bytes it wrote, which is returned on success.
    pub fn replace_with(
        &self,
        fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<u64>,
    ) -> Result<u64, Error> {
        let fail = |path: &Path, action, source| Error::File {
            path: path.to_path_buf(),
            action,
            source,
        };
        let (file, tmp) = self.claim_tmp()?;
        // The encoder buffers already; this only batches its small header writes.
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let len = fill(&mut out).map_err(|e| fail(&self.tmp, "write", e))?;
        let file = out
            .into_inner()
            .map_err(|e| fail(&self.tmp, "write", e.into_error()))?;
        file.sync_all().map_err(|e| fail(&self.tmp, "sync", e))?;
        drop(file);
        // Renamed while the lock is still held (by `tmp`), so that no other
        // process can claim this file under its old name and write into it.
        fs::rename(&self.tmp, &self.file)
            .map_err(|e| fail(&self.file, "rename the new snapshot over", e))?;
        tmp.disarm();
        sync_dir(&self.dir).map_err(|e| fail(&self.dir, "sync the directory", e))?;
        Ok(len)
    }

    /// Opens `NAME.tmp`, empty, for this save alone. Its lock keeps a second
    /// server saving to the same file (same `--dir` and `--dbfilename`) from
    /// writing it at the same time: this save waits for that one to finish,
    /// up to [`SnapshotPaths::lock_wait`], then writes its own (the last
    /// save wins, as when they take turns), or fails with a clear error. A
    /// leftover from a crash holds no lock and is reused. The returned guard
    /// holds the lock and removes the file unless it is renamed into place.
    fn claim_tmp(&self) -> Result<(File, TempFile<'_>), Error> {
        let fail = |action, source| Error::File {
            path: self.tmp.clone(),
            action,
            source,
        };
        let give_up = Instant::now() + self.lock_wait;
        loop {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.tmp)
                .map_err(|e| fail("create", e))?;
            // An error is a file system without locks (some network mounts):
            // the guard is against a misconfiguration, so save unguarded
            // rather than never.
            let locked = crate::os::try_lock_exclusive(&file).unwrap_or(true);
            // Locked, and still the file the name gives: the holder may have
            // renamed it into place between our open and our lock.
            if locked && names_same_file(&self.tmp, &file) {
                let lock = file.try_clone().map_err(|e| fail("create", e))?;
                let tmp = TempFile {
                    path: &self.tmp,
                    _lock: lock,
                    armed: true,
                };
                file.set_len(0).map_err(|e| fail("truncate", e))?;
                return Ok((file, tmp));
            }
            if Instant::now() >= give_up {
                return Err(fail(
                    "lock",
                    io::Error::new(
                        ErrorKind::WouldBlock,
                        "another process is saving to the same snapshot file",
                    ),
                ));
            }
            drop(file);
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Removes the temporary file on drop unless it was renamed into place (every
/// early return and every panic cleans up), then releases its lock.
struct TempFile<'a> {
    path: &'a Path,
    /// A handle on the locked file: the lock lasts until this is dropped,
    /// after [`Drop::drop`] has run.
    _lock: File,
    armed: bool,
}

impl TempFile<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        // While the lock is held, `path` still names this save's own file.
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

/// Whether `path` names the file `file` has open.
#[cfg(unix)]
fn names_same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// Without inode numbers, trust the open.
#[cfg(not(unix))]
fn names_same_file(_path: &Path, _file: &File) -> bool {
    true
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; renames are durable enough.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replace_writes_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        paths.prepare_dir().unwrap();
        let n = paths
            .replace_with(|w| w.write_all(b"hello").map(|()| 5))
            .unwrap();
        assert_eq!(n, 5);
        assert_eq!(fs::read(&paths.file).unwrap(), b"hello");
        assert!(!paths.tmp.exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no probe left"
        );
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        fs::write(&paths.file, b"old").unwrap();
        let err = paths
            .replace_with(|w| {
                w.write_all(b"partial")?;
                Err(io::Error::other("disk full"))
            })
            .unwrap_err();
        assert!(err.to_string().contains("s.gcs.tmp"), "{err}");
        assert_eq!(fs::read(&paths.file).unwrap(), b"old");
        assert!(!paths.tmp.exists());
    }

    #[test]
    fn an_uncreatable_temporary_fails_with_its_path_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        fs::write(&paths.file, b"old").unwrap();
        fs::create_dir(&paths.tmp).unwrap(); // even root cannot create a file here
        let err = paths.replace_with(|_| Ok(0)).unwrap_err();
        assert!(err.to_string().contains("cannot create"), "{err}");
        assert_eq!(fs::read(&paths.file).unwrap(), b"old");
    }

    #[test]
    fn a_leftover_temporary_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        fs::write(&paths.tmp, b"torn leftover from a crash").unwrap();
        paths
            .replace_with(|w| w.write_all(b"new").map(|()| 3))
            .unwrap();
        assert_eq!(fs::read(&paths.file).unwrap(), b"new");
        assert!(!paths.tmp.exists());
    }

    #[test]
    fn a_save_while_another_process_writes_the_temporary_too_long_fails_and_both_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = SnapshotPaths::new(dir.path(), "s.gcs");
        paths.lock_wait = Duration::from_millis(100);
        fs::write(&paths.file, b"old").unwrap();
        // Another server saving to the same file: its own open of NAME.tmp,
        // locked (a second open file description conflicts like a process).
        let mut theirs = File::create(&paths.tmp).unwrap();
        assert!(crate::os::try_lock_exclusive(&theirs).unwrap());
        theirs.write_all(b"their snapshot, half written").unwrap();
        let err = paths
            .replace_with(|w| w.write_all(b"mine").map(|()| 4))
            .unwrap_err();
        assert!(
            err.to_string().contains("another process is saving"),
            "{err}"
        );
        assert_eq!(fs::read(&paths.file).unwrap(), b"old");
        assert_eq!(
            fs::read(&paths.tmp).unwrap(),
            b"their snapshot, half written",
            "the other save's file is neither truncated nor removed"
        );
        // Once they are done (lock released), saves go through again.
        drop(theirs);
        paths
            .replace_with(|w| w.write_all(b"mine").map(|()| 4))
            .unwrap();
        assert_eq!(fs::read(&paths.file).unwrap(), b"mine");
        assert!(!paths.tmp.exists());
    }

    #[test]
    fn a_save_waits_for_another_process_to_finish_its_save() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        let theirs = File::create(&paths.tmp).unwrap();
        assert!(crate::os::try_lock_exclusive(&theirs).unwrap());
        let (file, tmp) = (paths.file.clone(), paths.tmp.clone());
        let other = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            fs::write(&tmp, b"theirs").unwrap();
            fs::rename(&tmp, &file).unwrap();
            drop(theirs);
        });
        let started = Instant::now();
        paths
            .replace_with(|w| w.write_all(b"mine").map(|()| 4))
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
        other.join().unwrap();
        assert_eq!(
            fs::read(&paths.file).unwrap(),
            b"mine",
            "the last save wins"
        );
        assert!(!paths.tmp.exists());
    }

    #[test]
    fn a_renamed_temporary_no_longer_names_the_open_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "s.gcs");
        let open = File::create(&paths.tmp).unwrap();
        assert!(names_same_file(&paths.tmp, &open));
        fs::rename(&paths.tmp, &paths.file).unwrap();
        assert!(!names_same_file(&paths.tmp, &open));
        File::create(&paths.tmp).unwrap();
        assert!(!names_same_file(&paths.tmp, &open));
    }

    #[test]
    fn a_missing_snapshot_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(dir.path(), "absent.gcs");
        assert!(paths.read().unwrap().is_none());
    }

    #[test]
    fn a_directory_under_a_regular_file_fails_to_prepare_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let afile = dir.path().join("afile");
        fs::write(&afile, b"").unwrap();
        let paths = SnapshotPaths::new(&afile.join("sub"), "s.gcs");
        let err = paths.prepare_dir().unwrap_err();
        assert!(err.to_string().contains("afile/sub"), "{err}");
    }

    #[test]
    fn a_missing_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SnapshotPaths::new(&dir.path().join("a/b"), "s.gcs");
        paths.prepare_dir().unwrap();
        assert!(dir.path().join("a/b").is_dir());
    }
}
