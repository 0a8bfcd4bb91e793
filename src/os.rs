//! What the standard library lacks, declared by hand from the C library: the
//! one module with `extern "C"`.
//!
//! - SIGINT and SIGTERM, turned into a flag the server polls (`signal`);
//!   SIGHUP and SIGPIPE ignored, as Redis ignores them.
//! - The open-file limit (`getrlimit`, `setrlimit`), raised at start as far
//!   as the hard limit allows, see [`raise_open_files_limit`].
//! - Closing a connection's socket from another thread (the idle timeout),
//!   see [`SocketHandle`], and descriptors held in reserve for when the
//!   table is full, see [`FileReserve`].
//! - Giving freed heap memory back to the operating system after a mass
//!   expiry (glibc's `malloc_trim`), see [`return_free_memory`], keeping
//!   large temporary buffers out of the heap and, under a memory limit,
//!   every thread in one arena (glibc's `mallopt`), see
//!   [`tune_allocator`]; and, in tests only, asking glibc how large a block
//!   it handed out is (`malloc_usable_size`), which checks the allocator
//!   model that `INFO memory` counts with ([`memory`](crate::memory)).
//! - An exclusive lock on the snapshot's temporary file while a save writes
//!   it (`flock`), see [`try_lock_exclusive`]: the standard library has file
//!   locks only from Rust 1.89, later than the version gocache builds with.
//! - Waiting, without reading, until a blocked client is woken or its
//!   socket hangs up, and asking whether a socket has hung up (`poll`), see
//!   [`wait_woken_or_hung_up`] and [`SocketHandle::is_hung_up`]: the
//!   standard library cannot wait on two sockets at once, nor see a hang-up
//!   without reading the bytes a client pipelined behind its blocked
//!   command.
//! - Writing a served blocked client's reply from the thread that served
//!   it, without waiting and without changing the socket's mode for its
//!   own thread (`send` with `MSG_DONTWAIT`), see
//!   [`SocketHandle::send_without_waiting`].
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

/// Routes SIGINT and SIGTERM to the flag; ignores SIGHUP and SIGPIPE.
pub fn install() -> io::Result<()> {
    imp::install()
}

/// The soft and hard limits on open files, where the platform has them.
pub fn open_files_limit() -> Option<(u64, u64)> {
    imp::open_files_limit()
}

/// Raises the soft limit on open files to `wanted`, or to the hard limit if
/// that is lower, and returns the soft limit now in force (`None` where the
/// platform has no such limit). Never lowers it.
pub fn raise_open_files_limit(wanted: u64) -> Option<u64> {
    let (soft, hard) = open_files_limit()?;
    if soft >= wanted {
        return Some(soft);
    }
    let target = wanted.min(hard);
    if imp::set_open_files_limit(target, hard).is_ok() {
        return Some(target);
    }
    open_files_limit().map(|(soft, _)| soft)
}

/// Whether `e` says the process (or the system) has no descriptor left.
pub fn is_out_of_files(e: &io::Error) -> bool {
    // EMFILE and ENFILE: 24 and 23 on Linux, the BSDs and macOS.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// A connection's socket, as another thread may shut it down (which wakes
/// the connection's thread from its read with the end of the stream). It
/// does not own the socket: whoever holds one must make sure the socket is
/// still open, which [`ClientInfo`](crate::session::ClientInfo) does by
/// clearing its handle under a lock before the connection closes it.
#[derive(Debug, Clone)]
pub struct SocketHandle {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl SocketHandle {
    /// The handle of `stream`.
    pub fn of(stream: &std::net::TcpStream) -> SocketHandle {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            SocketHandle {
                fd: stream.as_raw_fd(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = stream;
            SocketHandle {}
        }
    }

    /// Whether the peer has hung up (closed, or shut its side down) or the
    /// socket failed, seen without reading anything and without waiting
    /// (a poll with no timeout). Where the platform cannot tell, false.
    pub fn is_hung_up(&self) -> bool {
        #[cfg(unix)]
        {
            imp::hung_up(self.fd)
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    /// The descriptor, for a wait on it.
    #[cfg(unix)]
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.fd
    }

    /// Shuts both directions of the socket down; the descriptor stays open
    /// (its owner closes it).
    pub fn shut_down(&self) {
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: the owner keeps the descriptor open while this handle
            // may be used (see the type's doc), so it names that socket;
            // ManuallyDrop keeps this borrowed view from closing it.
            let stream =
                std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(self.fd) });
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Writes what the socket takes of `bytes` at once, never waiting,
    /// and returns how many it took: fewer than all (perhaps none) when
    /// its send buffer is full, none when it failed. Whoever owns the
    /// connection writes the rest and finds any failure itself. (A send
    /// with `MSG_DONTWAIT`, so the socket stays in blocking mode for its
    /// own thread.) Where the platform has no such send, none.
    pub fn send_without_waiting(&self, bytes: &[u8]) -> usize {
        #[cfg(unix)]
        {
            imp::send_without_waiting(self.fd, bytes)
        }
        #[cfg(not(unix))]
        {
            let _ = bytes;
            0
        }
    }
}

/// Descriptors opened at start and held, so that when every other
/// descriptor is taken, closing these frees the few that the final
/// snapshot, or the accept of a client to be refused, needs. Opened first,
/// they have low numbers, which stay under the limit even if it is lowered
/// while the server runs.
#[derive(Debug, Default)]
pub struct FileReserve {
    held: Vec<std::fs::File>,
}

impl FileReserve {
    /// Descriptors kept in reserve.
    pub const SIZE: usize = 4;

    /// Opens the reserve (as many as it can).
    pub fn open() -> FileReserve {
        let mut reserve = FileReserve::default();
        reserve.refill();
        reserve
    }

    /// Closes one reserved descriptor; returns whether there was one.
    pub fn release_one(&mut self) -> bool {
        self.held.pop().is_some()
    }

    /// Closes every reserved descriptor.
    pub fn release_all(&mut self) {
        self.held.clear();
    }

    /// Reopens what was released, as far as descriptors are free.
    pub fn refill(&mut self) {
        while self.held.len() < Self::SIZE {
            match imp::reserve_file() {
                Some(f) => self.held.push(f),
                None => break,
            }
        }
    }

    /// Descriptors held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// Takes an exclusive advisory lock on `file` without waiting. The lock
/// belongs to this open file (not to a thread or a path) and lasts until
/// every handle on it is closed. `Ok(false)`: another open file holds it.
/// An error: the file system has no such locks. Other platforms: `Ok(true)`
/// without a lock.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    imp::try_lock_exclusive(file)
}

/// What [`wait_woken_or_hung_up`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The wake socket has a byte to read.
    pub woken: bool,
    /// The client's socket hung up or failed.
    pub hung_up: bool,
    /// The client's socket has bytes to read (asked for only with
    /// `readable`).
    pub readable: bool,
}

/// Waits until the socket `wake` is readable, the client socket `client`
/// hangs up or fails (or, with `readable`, has bytes to read), or
/// `timeout` passes (`None`: no limit); reads from neither. Nothing is
/// ready after a timeout, or when a signal interrupted the wait (the
/// caller checks and waits again).
#[cfg(unix)]
pub fn wait_woken_or_hung_up(
    wake: std::os::fd::RawFd,
    client: Option<std::os::fd::RawFd>,
    readable: bool,
    timeout: Option<std::time::Duration>,
) -> io::Result<Readiness> {
    imp::wait_woken_or_hung_up(wake, client, readable, timeout)
}

#[cfg(unix)]
mod imp {
    use super::STOP_REQUESTED;
    use std::ffi::c_int;
    use std::io;
    use std::sync::atomic::Ordering;

    // The same numbers on Linux, the BSDs and macOS.
    const SIGHUP: c_int = 1;
    const SIGINT: c_int = 2;
    const SIGPIPE: c_int = 13;
    const SIGTERM: c_int = 15;
    /// `SIG_IGN`, `(sighandler_t) 1`.
    const SIG_IGN: usize = 1;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const RLIMIT_NOFILE: c_int = 7;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const RLIMIT_NOFILE: c_int = 8;
    const LOCK_EX: c_int = 2;
    const LOCK_NB: c_int = 4;
    /// `SIG_ERR`, `(sighandler_t) -1`.
    const SIG_ERR: usize = usize::MAX;

    unsafe extern "C" {
        /// `sighandler_t signal(int signum, sighandler_t handler)` from the C
        /// library. Handlers go in and come back as plain addresses: they
        /// may be `SIG_DFL` (0), `SIG_IGN` or `SIG_ERR`, none of which is a
        /// valid Rust function pointer.
        fn signal(signum: c_int, handler: usize) -> usize;

        /// `int getrlimit(int resource, struct rlimit *rlim)`.
        fn getrlimit(resource: c_int, rlim: *mut RLimit) -> c_int;

        /// `int setrlimit(int resource, const struct rlimit *rlim)`.
        fn setrlimit(resource: c_int, rlim: *const RLimit) -> c_int;

        /// `int flock(int fd, int operation)` from the C library.
        fn flock(fd: c_int, operation: c_int) -> c_int;

        /// `int poll(struct pollfd *fds, nfds_t nfds, int timeout)` from
        /// the C library.
        fn poll(fds: *mut PollFd, nfds: NFds, timeout: c_int) -> c_int;

        /// `ssize_t send(int fd, const void *buf, size_t len, int flags)`
        /// from the C library.
        fn send(fd: c_int, buf: *const std::ffi::c_void, len: usize, flags: c_int) -> isize;
    }

    /// `MSG_DONTWAIT | MSG_NOSIGNAL` on Linux; elsewhere `MSG_DONTWAIT`
    /// alone (SIGPIPE is ignored process-wide by [`install`]).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const SEND_NOW: c_int = 0x40 | 0x4000;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const SEND_NOW: c_int = 0x80;

    pub(super) fn send_without_waiting(fd: c_int, bytes: &[u8]) -> usize {
        let mut sent = 0;
        while sent < bytes.len() {
            let rest = &bytes[sent..];
            // SAFETY: `rest` is valid for reads of `rest.len()` bytes for
            // the call, which only reads them; the descriptor is the
            // caller's (see `SocketHandle`), and a bad one is an error,
            // not undefined behaviour.
            let n = unsafe { send(fd, rest.as_ptr().cast(), rest.len(), SEND_NOW) };
            if n > 0 {
                sent += n as usize;
            } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            } else {
                break;
            }
        }
        sent
    }

    /// `struct pollfd`: the same layout on Linux, the BSDs and macOS.
    #[repr(C)]
    struct PollFd {
        fd: c_int,
        events: std::ffi::c_short,
        revents: std::ffi::c_short,
    }

    /// `nfds_t`: `unsigned long` on Linux, `unsigned int` on the BSDs and
    /// macOS.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type NFds = std::ffi::c_ulong;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type NFds = std::ffi::c_uint;

    const POLLIN: std::ffi::c_short = 0x1;
    const POLLERR: std::ffi::c_short = 0x8;
    const POLLHUP: std::ffi::c_short = 0x10;
    const POLLNVAL: std::ffi::c_short = 0x20;
    /// The peer shut its side down (Linux's `POLLRDHUP`): reported even
    /// while bytes it sent before are unread, so asking for it alone (not
    /// `POLLIN`) sees a hang-up without waking for every pipelined byte.
    /// Elsewhere only `POLLHUP` and `POLLERR` tell, which poll reports
    /// unasked.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const POLLRDHUP: std::ffi::c_short = 0x2000;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const POLLRDHUP: std::ffi::c_short = 0;

    /// What a client socket's `revents` say of a hang-up.
    const GONE: std::ffi::c_short = POLLRDHUP | POLLHUP | POLLERR | POLLNVAL;

    /// Polls `fds` for at most `timeout_ms` (-1: no limit); false if a
    /// signal interrupted it.
    fn poll_fds(fds: &mut [PollFd], timeout_ms: c_int) -> io::Result<bool> {
        // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfd
        // structures for the whole call, which only writes their
        // `revents`; poll reads nothing else of ours and takes descriptor
        // numbers only (a closed one is reported as POLLNVAL, not an error).
        let ready = unsafe { poll(fds.as_mut_ptr(), fds.len() as NFds, timeout_ms) };
        if ready >= 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        }
    }

    pub(super) fn hung_up(fd: c_int) -> bool {
        let mut fds = [PollFd {
            fd,
            events: POLLRDHUP,
            revents: 0,
        }];
        matches!(poll_fds(&mut fds, 0), Ok(true)) && fds[0].revents & GONE != 0
    }

    pub(super) fn wait_woken_or_hung_up(
        wake: c_int,
        client: Option<c_int>,
        readable: bool,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<super::Readiness> {
        let timeout_ms = match timeout {
            None => -1,
            // Rounded up, so a wait never ends before its time.
            Some(t) => c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX),
        };
        let mut fds = [
            PollFd {
                fd: wake,
                events: POLLIN,
                revents: 0,
            },
            PollFd {
                fd: client.unwrap_or(-1),
                events: if readable {
                    POLLRDHUP | POLLIN
                } else {
                    POLLRDHUP
                },
                revents: 0,
            },
        ];
        // A negative descriptor is skipped by poll, so one array serves both.
        if !poll_fds(&mut fds, timeout_ms)? {
            return Ok(super::Readiness::default());
        }
        Ok(super::Readiness {
            woken: fds[0].revents != 0,
            hung_up: client.is_some() && fds[1].revents & GONE != 0,
            readable: client.is_some() && fds[1].revents & POLLIN != 0,
        })
    }

    /// Runs in signal context, interrupting any thread at any instruction.
    /// It is async-signal-safe and sound because all it does is one store to
    /// a lock-free static atomic: no allocation, no lock, no I/O, no access
    /// to anything the interrupted code might hold half-updated.
    extern "C" fn on_stop_signal(_signum: c_int) {
        STOP_REQUESTED.store(true, Ordering::Release);
    }

    /// `rlim_t` as the plain `getrlimit` symbol takes it: `unsigned long`
    /// on Linux, 64 bits on macOS and the BSDs.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type RLim = std::ffi::c_ulong;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    type RLim = u64;

    /// `rlim_t` as 64 bits; a no-op where it already is (64-bit targets),
    /// a widening on 32-bit Linux.
    #[allow(clippy::unnecessary_cast)]
    fn widen(v: RLim) -> u64 {
        v as u64
    }

    /// `struct rlimit`.
    #[repr(C)]
    pub(super) struct RLimit {
        cur: RLim,
        max: RLim,
    }

    pub(super) fn install() -> io::Result<()> {
        let stop = on_stop_signal as extern "C" fn(c_int) as usize;
        for (signum, handler) in [
            (SIGINT, stop),
            (SIGTERM, stop),
            (SIGHUP, SIG_IGN),
            (SIGPIPE, SIG_IGN),
        ] {
            // SAFETY: `signal` is called with a valid signal number and either
            // SIG_IGN or a handler of the C ABI signature `void (*)(int)` that
            // lives for the whole program and is async-signal-safe (see
            // `on_stop_signal`). glibc and musl give `signal` BSD semantics
            // (the handler stays installed, interrupted system calls restart).
            let previous = unsafe { signal(signum, handler) };
            if previous == SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    pub(super) fn open_files_limit() -> Option<(u64, u64)> {
        let mut limit = RLimit { cur: 0, max: 0 };
        // SAFETY: `limit` is a valid, writable `struct rlimit` for the call.
        (unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) } == 0)
            .then_some((widen(limit.cur), widen(limit.max)))
    }

    pub(super) fn set_open_files_limit(soft: u64, hard: u64) -> io::Result<()> {
        let clamp = |v: u64| RLim::try_from(v).unwrap_or(RLim::MAX);
        let limit = RLimit {
            cur: clamp(soft),
            max: clamp(hard),
        };
        // SAFETY: `limit` is a valid `struct rlimit`, only read by the call.
        if unsafe { setrlimit(RLIMIT_NOFILE, &limit) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub(super) fn reserve_file() -> Option<std::fs::File> {
        std::fs::File::open("/dev/null").ok()
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

    pub(super) fn open_files_limit() -> Option<(u64, u64)> {
        None
    }

    pub(super) fn set_open_files_limit(_soft: u64, _hard: u64) -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn reserve_file() -> Option<std::fs::File> {
        None
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

/// What glibc's `malloc_usable_size` says a fresh allocation of `size`
/// bytes (aligned as the keyspace's allocations are, to 8) holds: the test
/// of [`memory`](crate::memory)'s model of the allocator. `None` for a
/// zero size.
#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
pub(crate) fn usable_size_of_fresh_allocation(size: usize) -> Option<usize> {
    use std::alloc::{Layout, alloc, dealloc};
    unsafe extern "C" {
        /// glibc: `size_t malloc_usable_size(void *ptr)`.
        fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
    }
    let layout = Layout::from_size_align(size, 8).ok().filter(|_| size > 0)?;
    // SAFETY: `layout` has a non-zero size. Rust's global allocator on this
    // target is glibc's malloc (alignments up to 16 go straight to
    // `malloc`), so the block is a live malloc chunk, which is all that
    // `malloc_usable_size` requires; it only reads the chunk's header. The
    // block is freed with the layout it was made with, and never used
    // otherwise.
    unsafe {
        let ptr = alloc(layout);
        if ptr.is_null() {
            return None;
        }
        let usable = malloc_usable_size(ptr.cast());
        dealloc(ptr, layout);
        Some(usable)
    }
}

/// Allocations at least this large get pages of their own from the
/// operating system, given back as soon as they are freed.
pub const OWN_PAGES_FROM: usize = 256 * 1024;

/// Fixes glibc's threshold for serving an allocation with pages of its own
/// at [`OWN_PAGES_FROM`], and with `one_arena` (a memory limit is set at
/// start) keeps every thread in one arena.
///
/// The threshold: left alone, glibc raises it to the size of the largest
/// block freed so far (up to 32 MiB): after the snapshot file is read at
/// start, every later snapshot's capture buffer (16 bytes a key) would come
/// from the heap and stay resident once freed, growing the process by tens
/// of megabytes after its first saves.
///
/// One arena: left alone, glibc gives threads up to eight arenas a core,
/// and with a connection thread per client a key is allocated in one arena
/// and its replacement, after an eviction, in another; each arena keeps its
/// own high-water mark, and the process grew to 1.25 to 1.5 times the
/// memory limit under a flood of new keys (`scripts/eviction_bench.sh`).
/// With one arena it grew to 1.09 times, and the same flood ran faster
/// here. Without a limit the arenas stay: one cost 2 to 4 % of throughput
/// with 50 clients. Per-thread caches still serve most allocations
/// without the arena's lock. (A limit first set at runtime finds the
/// arenas made already: glibc cannot merge them.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator(one_arena: bool) {
    unsafe extern "C" {
        /// glibc: `int mallopt(int param, int value)`.
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    /// glibc's `M_MMAP_THRESHOLD`.
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    /// glibc's `M_ARENA_MAX`.
    const M_ARENA_MAX: std::ffi::c_int = -8;
    // SAFETY: `mallopt` takes two integers and no pointer; it only changes
    // glibc's own tuning, under glibc's own lock, and is called once at start
    // before any connection thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM as std::ffi::c_int);
        if one_arena {
            mallopt(M_ARENA_MAX, 1);
        }
    }
}

/// Other platforms: their allocators need no such tuning here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator(_one_arena: bool) {}

/// Resident set size of this process in bytes, from `/proc/self/statm`
/// (0 where there is no `/proc`).
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn the_open_files_limit_is_read_and_never_lowered() {
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft <= hard);
        assert_eq!(raise_open_files_limit(1), Some(soft));
    }

    #[test]
    #[cfg(unix)]
    fn the_reserve_releases_and_refills() {
        let mut reserve = FileReserve::open();
        assert_eq!(reserve.len(), FileReserve::SIZE);
        assert!(reserve.release_one());
        reserve.release_all();
        assert!(reserve.is_empty());
        reserve.refill();
        assert_eq!(reserve.len(), FileReserve::SIZE);
    }
}
