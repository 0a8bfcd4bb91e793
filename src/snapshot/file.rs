//! The snapshot on disk: preparing its directory, replacing it atomically,
//! reading it back.
//!
//! A save never writes the snapshot file in place: it writes `NAME.tmp` in the
//! same directory, syncs it, renames it over `NAME` and then syncs the
//! directory, so a crash at any instant leaves either the old complete file or
//! the new complete one. On any error the temporary file is removed and the
//! old snapshot is left as it was. Reading never opens the file for writing.
//! This module holds no lock; callers must not hold the keyspace lock either.

use crate::error::Error;
use std::fs::{self, File};
use std::io::{self, BufWriter, ErrorKind};
use std::path::{Path, PathBuf};

/// Where a snapshot lives and where its replacement is written.
#[derive(Debug, Clone)]
pub struct SnapshotPaths {
    /// The directory (`--dir`).
    pub dir: PathBuf,
    /// `dir/NAME`.
    pub file: PathBuf,
    /// `dir/NAME.tmp`, the file being written during a save.
    pub tmp: PathBuf,
}

impl SnapshotPaths {
    /// The paths for `--dir dir --dbfilename name`.
    pub fn new(dir: &Path, name: &str) -> Self {
        SnapshotPaths {
            dir: dir.to_path_buf(),
            file: dir.join(name),
            tmp: dir.join(format!("{name}.tmp")),
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
        let tmp = TempFile {
            path: &self.tmp,
            armed: true,
        };
        // A leftover from a crash is simply truncated.
        let file = File::create(tmp.path).map_err(|e| fail(tmp.path, "create", e))?;
        // The encoder buffers already; this only batches its small header writes.
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let len = fill(&mut out).map_err(|e| fail(tmp.path, "write", e))?;
        let file = out
            .into_inner()
            .map_err(|e| fail(tmp.path, "write", e.into_error()))?;
        file.sync_all().map_err(|e| fail(tmp.path, "sync", e))?;
        drop(file);
        fs::rename(tmp.path, &self.file)
            .map_err(|e| fail(&self.file, "rename the new snapshot over", e))?;
        tmp.disarm();
        sync_dir(&self.dir).map_err(|e| fail(&self.dir, "sync the directory", e))?;
        Ok(len)
    }
}

/// Removes the temporary file on drop unless it was renamed into place:
/// every early return and every panic cleans up.
struct TempFile<'a> {
    path: &'a Path,
    armed: bool,
}

impl TempFile<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; renames are durable enough.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
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
