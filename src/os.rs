//! What the standard library lacks, declared by hand from the C library: the
//! one module with `extern "C"`.
//!
//! - SIGINT and SIGTERM, turned into a flag the server polls (`signal`).
//! - Giving freed heap memory back to the operating system after a mass
//!   expiry (glibc's `malloc_trim`), see [`return_free_memory`], and keeping
//!   large temporary buffers out of the heap (glibc's `mallopt`), see
//!   [`tune_allocator`].
//! - An exclusive lock on the snapshot's temporary file while a save writes
//!   it (`flock`), see [`try_lock_exclusive`]: the standard library has file
//!   locks only from Rust 1.89, later than the version gocache builds with.
//!
//! Signals: the standard library has no signal API, so `signal` is declared
//! under `#[cfg(unix)]`. The handler
//! only stores `true` to a static atomic; the housekeeping thread in
//! [`server`](crate::server) polls [`take_stop_request`] and starts a graceful
//! shutdown (final snapshot, exit 0). Nothing else may run in the handler. On
//! other platforms [`install`] does nothing and the default (immediate exit)
//! stays.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the handler, cleared by [`take_stop_request`].
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether SIGINT or SIGTERM arrived since the last call; clears the flag.
pub fn take_stop_request() -> bool {
    STOP_REQUESTED.swap(false, Ordering::AcqRel)
}

/// Routes SIGINT and SIGTERM to the flag.
pub fn install() -> io::Result<()> {
    imp::install()
}

/// Takes an exclusive advisory lock on `file` without waiting. The lock
/// belongs to this open file (not to a thread or a path) and lasts until
/// every handle on it is closed. `Ok(false)`: another open file holds it.
/// An error: the file system has no such locks. Other platforms: `Ok(true)`
/// without a lock.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    imp::try_lock_exclusive(file)
}

#[cfg(unix)]
mod imp {
    use super::STOP_REQUESTED;
    use std::ffi::c_int;
    use std::io;
    use std::sync::atomic::Ordering;

    // The same numbers on Linux, the BSDs and macOS.
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;
    const LOCK_EX: c_int = 2;
    const LOCK_NB: c_int = 4;
    /// `SIG_ERR`, `(sighandler_t) -1`.
    const SIG_ERR: usize = usize::MAX;

    unsafe extern "C" {
        /// `sighandler_t signal(int signum, sighandler_t handler)` from the C
        /// library. The previous handler comes back as a plain address: it
        /// may be `SIG_DFL` (0), `SIG_IGN` or `SIG_ERR`, none of which is a
        /// valid Rust function pointer.
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;

        /// `int flock(int fd, int operation)` from the C library.
        fn flock(fd: c_int, operation: c_int) -> c_int;
    }

    /// Runs in signal context, interrupting any thread at any instruction.
    /// It is async-signal-safe and sound because all it does is one store to
    /// a lock-free static atomic: no allocation, no lock, no I/O, no access
    /// to anything the interrupted code might hold half-updated.
    extern "C" fn on_stop_signal(_signum: c_int) {
        STOP_REQUESTED.store(true, Ordering::Release);
    }

    pub(super) fn install() -> io::Result<()> {
        for signum in [SIGINT, SIGTERM] {
            // SAFETY: `signal` is called with a valid signal number and a
            // handler of the C ABI signature `void (*)(int)` that lives for the
            // whole program and is async-signal-safe (see `on_stop_signal`).
            // glibc and musl give `signal` BSD semantics (the handler stays
            // installed, interrupted system calls restart).
            let previous = unsafe { signal(signum, on_stop_signal) };
            if previous == SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    pub(super) fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        // SAFETY: `flock` takes two integers and no pointer; the descriptor
        // stays open while `file` is borrowed, so it names this file.
        if unsafe { flock(file.as_raw_fd(), LOCK_EX | LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            Ok(false)
        } else {
            Err(e)
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn install() -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn try_lock_exclusive(_file: &std::fs::File) -> std::io::Result<bool> {
        Ok(true)
    }
}

// Returning free memory: freed keys leave free chunks scattered through the C
// allocator's heaps, which it keeps mapped; after a mass expiry that is most
// of the memory the keys used.
/// Asks glibc to hand free pages back (`madvise`), in every arena. It
/// takes each arena's lock in turn for a few milliseconds, so the sweeper
/// calls it only once an expiry wave is over.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_free_memory() {
    unsafe extern "C" {
        /// glibc: `int malloc_trim(size_t pad)`.
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: `malloc_trim` takes no pointer and has no precondition; it
    // works on glibc's own bookkeeping under glibc's own locks and only
    // releases pages that lie wholly inside free chunks, which no Rust
    // value occupies. Rust's global allocator on this target is that
    // same malloc, so nothing else manages those pages.
    unsafe {
        malloc_trim(0);
    }
}

/// Other platforms: nothing to do, or no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_free_memory() {}

/// Allocations at least this large get pages of their own from the
/// operating system, given back as soon as they are freed.
pub const OWN_PAGES_FROM: usize = 256 * 1024;

/// Fixes glibc's threshold for serving an allocation with pages of its own
/// at [`OWN_PAGES_FROM`]. Left alone, glibc raises the threshold to the size
/// of the largest block freed so far (up to 32 MiB): after the snapshot file
/// is read at start, every later snapshot's capture buffer (16 bytes a key)
/// would come from the heap and stay resident once freed, growing the
/// process by tens of megabytes after its first saves.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    unsafe extern "C" {
        /// glibc: `int mallopt(int param, int value)`.
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    /// glibc's `M_MMAP_THRESHOLD`.
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    // SAFETY: `mallopt` takes two integers and no pointer; it only changes
    // glibc's own tuning, under glibc's own lock, and is called once at start
    // before any connection thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM as std::ffi::c_int);
    }
}

/// Other platforms: their allocators need no such tuning here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}
