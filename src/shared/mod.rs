//! The state every thread shares: the keyspace, the clients, the counters,
//! the configuration in force, the snapshotter, and the queue of shutdown
//! requests.
//!
//! It is apart from the listener and its accept loop ([`server`](crate::server)),
//! so that the command handlers, the connection code and the tests depend
//! on it and on nothing that accepts sockets: [`Shared::in_memory`] builds
//! one for running commands without a socket. It must never do socket I/O
//! beyond the one connection that wakes a blocked accept for a shutdown.

pub mod settings;

use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::os::FileReserve;
use crate::protocol::Limits;
use crate::session::Clients;
use crate::snapshot::{SnapshotPaths, Snapshotter};
use crate::stats::Stats;
use settings::Settings;
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The Redis version whose behaviour gocache follows (`INFO`, `HELLO`).
pub const REDIS_VERSION: &str = "7.0.15";

/// Whether a shutdown writes a final snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOnExit {
    /// Save (the default, and `SHUTDOWN SAVE`).
    Save,
    /// Skip it (`SHUTDOWN NOSAVE`).
    NoSave,
}

/// A request to stop, and where to tell the requester if it failed.
pub struct ShutdownRequest {
    /// Whether to save first.
    pub save: SaveOnExit,
    /// Exit even if the final save fails (`SHUTDOWN FORCE`).
    pub force: bool,
    /// Told the error if the final save fails and the server keeps running.
    pub failed: Option<mpsc::Sender<String>>,
}

/// The request limits fixed at start, read on every request without a lock.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Longest bulk string, and longest string a command may build.
    pub proto_max_bulk_len: usize,
    /// Longest inline line.
    pub max_line_bytes: usize,
    /// Largest request a client may have buffered.
    pub query_buffer_limit: usize,
}

impl RequestLimits {
    /// The parser's limits for a client that has (or has not) authenticated.
    pub fn for_client(&self, authenticated: bool) -> Limits {
        Limits {
            max_bulk: self.proto_max_bulk_len,
            max_line: self.max_line_bytes,
            authenticated,
        }
    }
}

/// State shared by every thread of the server: what handlers, connections,
/// the sweeper and the snapshot thread all use.
pub struct Shared {
    /// The configuration in force, changed by `CONFIG SET`.
    pub settings: Settings,
    /// The request limits, fixed at start.
    pub limits: RequestLimits,
    /// The keys.
    pub keyspace: Keyspace,
    /// Counters for `INFO`.
    pub stats: Stats,
    /// Connected clients.
    pub clients: Clients,
    /// The address actually bound.
    pub local_addr: SocketAddr,
    /// When the server started.
    pub started: Instant,
    /// Unix ms when the server started.
    pub started_unix_ms: u64,
    /// Saves, their schedule and their status.
    pub snapshotter: Arc<Snapshotter>,
    /// The append-only log (off unless `appendonly yes`).
    pub aof: Arc<crate::aof::Aof>,
    /// Connections being served now.
    pub connected: AtomicUsize,
    /// Bytes the connections' buffers hold, counted toward `maxmemory`
    /// and `used_memory` (see [`Shared::used_memory`]).
    pub client_buffers: AtomicUsize,
    /// When eviction last handed free memory back (Unix ms; see
    /// [`Shared::make_room`]).
    trimmed_at_ms: AtomicU64,
    frozen: AtomicBool,
    /// Guards the wait for `frozen` to clear.
    thaw: Mutex<()>,
    /// Signalled when writes are let through again.
    thawed: Condvar,
    /// Pending requests, first come first served: each is answered.
    shutdown: Mutex<VecDeque<ShutdownRequest>>,
    /// Descriptors held for when the table is full.
    reserve: Mutex<FileReserve>,
}

/// Most batches of evictions one command waits for before it runs anyway
/// (the next commands go on evicting): a command never waits long behind
/// a mass of evictions, such as a lowered limit leaves.
pub const EVICT_BATCHES_PER_COMMAND: usize = 8;

/// Least milliseconds between two hand-backs of free memory while evicting
/// (see [`Shared::make_room`]).
pub const TRIM_WHILE_EVICTING_MS: u64 = 1_000;

/// Memory is over `maxmemory` and the policy can evict nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl Shared {
    /// Bytes counted as used: the keyspace's (as of its last commit) and
    /// the client buffers'.
    pub fn used_memory(&self) -> usize {
        self.keyspace.used_memory_published() + self.client_buffers.load(Ordering::Relaxed)
    }

    /// Evicts keys by the policy in force until memory is within
    /// `maxmemory`, in batches of [`EVICT_BATCH`](crate::keyspace::evict::EVICT_BATCH)
    /// keys, the lock released between them, at most `batches` of them.
    /// `Err` if memory is over the limit and nothing can be evicted. The
    /// check before any lock is two atomic loads.
    pub fn make_room(&self, now: u64, batches: usize) -> Result<(), OutOfMemory> {
        let max = self.settings.maxmemory();
        if max == 0 || self.used_memory() <= max {
            return Ok(());
        }
        let room = self.evict(now, batches);
        if room.is_ok() {
            self.return_memory_while_evicting(now);
        }
        room
    }

    /// The batches of [`Shared::make_room`], each under its own hold of
    /// the write lock.
    fn evict(&self, now: u64, batches: usize) -> Result<(), OutOfMemory> {
        for _ in 0..batches {
            let clients = self.client_buffers.load(Ordering::Relaxed);
            match self.write_keyspace().make_room(clients, now) {
                crate::keyspace::Room::Enough => return Ok(()),
                crate::keyspace::Room::Exhausted => return Err(OutOfMemory),
                crate::keyspace::Room::Evicting => {}
            }
        }
        Ok(())
    }

    /// While evicting, hands free memory back to the operating system at
    /// most every [`TRIM_WHILE_EVICTING_MS`], on the thread of the command
    /// that finds it due, with no lock of the keyspace held.
    ///
    /// A keyspace at its limit churns: each new key follows an eviction,
    /// and the hash tables grow once as removals leave tombstones, each
    /// leaving its old table behind as free heap that keys of another size
    /// do not reuse, and clients that leave leave their buffers. glibc
    /// keeps that memory resident until asked (`malloc_trim`, a few
    /// milliseconds for this command, under the allocator's lock). In
    /// alternating runs of a flood at a 64 MB limit, asking once a second
    /// brought the resident set's growth from 1.11 to 1.08 times the limit.
    fn return_memory_while_evicting(&self, now: u64) {
        let last = self.trimmed_at_ms.load(Ordering::Relaxed);
        if now < last.saturating_add(TRIM_WHILE_EVICTING_MS) {
            return;
        }
        // One command of those that find it due does it.
        if self
            .trimmed_at_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            crate::os::return_free_memory();
        }
    }

    /// The keyspace write guard, waiting while writes are frozen for a final
    /// snapshot (checked after the lock is taken, so no write slips past;
    /// the wait is on a condition, with no lock of the keyspace held).
    #[inline]
    pub fn write_keyspace(&self) -> crate::keyspace::WriteGuard<'_> {
        let guard = self.keyspace.write();
        if !self.frozen.load(Ordering::Acquire) {
            return guard;
        }
        drop(guard);
        self.write_keyspace_once_thawed()
    }

    /// The wait of [`Shared::write_keyspace`] while writes are frozen.
    #[cold]
    fn write_keyspace_once_thawed(&self) -> crate::keyspace::WriteGuard<'_> {
        loop {
            {
                let mut thawed = self.thaw.lock().unwrap_or_else(PoisonError::into_inner);
                while self.frozen.load(Ordering::Acquire) {
                    thawed = self
                        .thawed
                        .wait(thawed)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            let guard = self.keyspace.write();
            if !self.frozen.load(Ordering::Acquire) {
                return guard;
            }
        }
    }

    /// Stops writes from being applied (`true`) or lets them through again.
    pub fn freeze_writes(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Release);
        // Under the mutex, so a writer between its check and its wait
        // cannot miss the wake-up.
        let _thaw = self.thaw.lock().unwrap_or_else(PoisonError::into_inner);
        self.thawed.notify_all();
    }

    /// Connections being served now.
    pub fn connected_clients(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Asks the accept loop to shut the server down.
    pub fn request_shutdown(&self, request: ShutdownRequest) {
        self.shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(request);
        // Wake the blocking accept with a connection of our own; with the
        // descriptor table full, a reserved descriptor makes room for it.
        let wake =
            || TcpStream::connect_timeout(&wake_addr(self.local_addr), Duration::from_secs(1));
        if let Err(e) = wake() {
            if crate::os::is_out_of_files(&e) {
                self.reserve().release_one();
                let _ = wake();
            }
        }
    }
}

/// The address to connect to in order to reach a listener bound to `addr`
/// (an unspecified address is reached through loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let mut target = addr;
    if addr.ip().is_unspecified() {
        target.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    target
}

impl Shared {
    /// State for a server started from `config` with `keyspace` already
    /// loaded, reachable at `local_addr`.
    pub fn new(
        config: Config,
        file: Option<std::path::PathBuf>,
        keyspace: Keyspace,
        snapshotter: Arc<Snapshotter>,
        local_addr: SocketAddr,
        started_unix_ms: u64,
        reserve: FileReserve,
    ) -> Shared {
        let limits = RequestLimits {
            proto_max_bulk_len: config.proto_max_bulk_len,
            max_line_bytes: config.max_line_bytes,
            query_buffer_limit: config
                .client_query_buffer_limit
                .max(config.proto_max_bulk_len.saturating_add(1 << 20)),
        };
        keyspace.write().set_limit(config.limit(), config.stamps());
        let aof = Arc::new(crate::aof::Aof::new(
            crate::aof::LogPaths::new(&config.dir, &config.appenddirname, &config.appendfilename),
            config.appendfsync,
        ));
        Shared {
            aof,
            client_buffers: AtomicUsize::new(0),
            trimmed_at_ms: AtomicU64::new(0),
            settings: Settings::new(config, file),
            limits,
            keyspace,
            stats: Stats::default(),
            clients: Clients::default(),
            local_addr,
            started: Instant::now(),
            started_unix_ms,
            snapshotter,
            connected: AtomicUsize::new(0),
            frozen: AtomicBool::new(false),
            thaw: Mutex::new(()),
            thawed: Condvar::new(),
            shutdown: Mutex::new(VecDeque::new()),
            reserve: Mutex::new(reserve),
        }
    }

    /// State with an empty keyspace and no listener, for running commands
    /// in-process (the data-driven tests). Saving writes under
    /// `config.dir`, as a server's would.
    pub fn in_memory(config: Config) -> Shared {
        let now = crate::clock::now_ms();
        let keyspace = Keyspace::with_databases(config.databases);
        let paths = SnapshotPaths::new(&config.dir, &config.dbfilename);
        let snapshotter = Arc::new(Snapshotter::new(
            paths,
            config.save_points.clone(),
            config.stop_writes_on_bgsave_error,
            now,
            0,
            &crate::snapshot::LoadReport::default(),
        ));
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Shared::new(
            config,
            None,
            keyspace,
            snapshotter,
            addr,
            now,
            FileReserve::default(),
        )
    }

    /// Releases one reserved descriptor (to take a client or save at a
    /// full descriptor table).
    pub fn reserve(&self) -> std::sync::MutexGuard<'_, FileReserve> {
        self.reserve.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The oldest pending shutdown request, if any.
    pub fn take_shutdown(&self) -> Option<ShutdownRequest> {
        self.shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}
