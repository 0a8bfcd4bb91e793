//! The listener, the accept loop, housekeeping, and shutdown.
//!
//! Owns [`Server`], the state every connection thread shares, and [`run`],
//! which binds, loads the snapshot, prints the listening line, starts the
//! sweeper, the snapshot thread and the housekeeping thread, and then accepts:
//! one OS thread per connection, up to `--max-clients`. A shutdown (signal or
//! `SHUTDOWN`) wakes the accept loop by connecting to it, stops accepting,
//! freezes writes, takes the final snapshot and ends the process; if that save
//! fails it unfreezes and serves on. The accept loop never reads from a client
//! and touches the keyspace only for that final snapshot.

use crate::clock::now_ms;
use crate::config::Config;
use crate::error::Error;
use crate::keyspace::{Db, Keyspace};
use crate::session::Clients;
use crate::snapshot::{self, PointInTime, SnapshotPaths, Snapshotter};
use crate::stats::Stats;
use crate::sweeper::Sweeper;
use crate::{notice, verbose, warning};
use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Stack size of a connection thread: parsing and dispatch need little, and
/// thousands of connections should not reserve megabytes each.
const CONNECTION_STACK: usize = 256 * 1024;

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

/// State shared by every thread of the server.
pub struct Server {
    /// The configuration it started with.
    pub config: Config,
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
    connected: AtomicUsize,
    frozen: AtomicBool,
    /// Pending requests, first come first served: each is answered.
    shutdown: Mutex<VecDeque<ShutdownRequest>>,
}

impl Server {
    /// The keyspace write guard, waiting while writes are frozen for a final
    /// snapshot (checked after the lock is taken, so no write slips past).
    pub fn write_keyspace(&self) -> RwLockWriteGuard<'_, Db> {
        loop {
            let guard = self.keyspace.write();
            if !self.frozen.load(Ordering::Acquire) {
                return guard;
            }
            drop(guard);
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops writes from being applied (`true`) or lets them through again.
    pub fn freeze_writes(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Release);
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
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&wake_addr(self.local_addr), Duration::from_secs(1));
    }

    fn take_shutdown(&self) -> Option<ShutdownRequest> {
        self.shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
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

/// Decrements the connection count when a connection thread ends, even by panic.
struct ConnectionSlot {
    server: Arc<Server>,
    id: u64,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.server.clients.unregister(self.id);
        self.server.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Binds, serves until shut down, and returns the process exit status.
pub fn run(config: Config) -> Result<i32, Error> {
    crate::log::set_level(config.log_level);
    crate::os::tune_allocator();
    let keyspace = Keyspace::new();
    let addr = format!("{}:{}", config.bind, config.port);
    let listener =
        TcpListener::bind((config.bind.as_str(), config.port)).map_err(|source| Error::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let started = Instant::now();
    let started_unix_ms = now_ms();
    let paths = SnapshotPaths::new(&config.dir, &config.dbfilename);
    paths.prepare_dir()?;
    let loading = Instant::now();
    let loaded = snapshot::load(&paths, &keyspace, started_unix_ms)?;
    if loaded.found {
        notice!(
            "DB loaded from {}: {} keys restored, {} expired while down, {} bytes in {} ms",
            paths.file.display(),
            loaded.loaded,
            loaded.expired,
            loaded.bytes,
            loading.elapsed().as_millis()
        );
    } else {
        notice!("no snapshot at {}: starting empty", paths.file.display());
    }
    let snapshotter = Arc::new(Snapshotter::new(
        paths,
        config.snapshot_interval_secs,
        started_unix_ms,
        keyspace.read().changes(),
        &loaded,
    ));
    let server = Arc::new(Server {
        config,
        keyspace,
        stats: Stats::default(),
        clients: Clients::default(),
        local_addr,
        started,
        started_unix_ms,
        snapshotter,
        connected: AtomicUsize::new(0),
        frozen: AtomicBool::new(false),
        shutdown: Mutex::new(VecDeque::new()),
    });
    let _sweeper = Sweeper::spawn(server.keyspace.clone())?;
    let _snapshot_thread = server.snapshotter.spawn(server.keyspace.clone())?;
    crate::os::install()?;
    spawn_housekeeping(&server)?;

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "gocache listening on {local_addr}")?;
        out.flush()?;
    }
    notice!(
        "gocache {} (following Redis {REDIS_VERSION}) ready on {local_addr}, pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );

    loop {
        let accepted = listener.accept();
        if let Some(request) = server.take_shutdown() {
            match shut_down(&server, request) {
                Some(status) => return Ok(status),
                None => continue,
            }
        }
        match accepted {
            Ok((stream, peer)) => admit(&server, stream, peer),
            Err(e) => {
                warning!("accept failed: {e}");
                // Out of descriptors or similar: back off rather than spin.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The reply to a `SHUTDOWN` whose final save failed (Redis's words).
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// Stops the server: returns the exit status, or `None` to keep serving
/// (a final save failed, as Redis refuses to exit without it).
fn shut_down(server: &Server, request: ShutdownRequest) -> Option<i32> {
    notice!(
        "shutdown requested ({:?}); no longer accepting connections",
        request.save
    );
    if request.save == SaveOnExit::Save {
        // Frozen first: every write acknowledged from here on would be lost,
        // so none is; those already applied are in the view below.
        server.freeze_writes(true);
        let claim = server.snapshotter.claim_final();
        let view = PointInTime::capture(&server.keyspace, now_ms());
        if let Err(e) = claim.save(view) {
            if request.force {
                warning!("the final save failed ({e}); exiting anyway (SHUTDOWN FORCE)");
            } else {
                warning!("the final save failed ({e}); not exiting, serving on");
                server.freeze_writes(false);
                if let Some(failed) = request.failed {
                    let _ = failed.send(SHUTDOWN_FAILED.to_string());
                }
                return None;
            }
        }
    }
    notice!("gocache is now ready to exit, bye bye");
    Some(0)
}

fn admit(server: &Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    server
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let max = server.config.max_clients;
    if server.connected.fetch_add(1, Ordering::Relaxed) >= max {
        server.connected.fetch_sub(1, Ordering::Relaxed);
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        warning!("refused connection from {peer}: max number of clients ({max}) reached");
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = (&stream).write_all(b"(error) ERR max number of clients reached\n");
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let local = stream.local_addr().unwrap_or(server.local_addr);
    let info = server.clients.register(peer, local);
    let slot = ConnectionSlot {
        server: server.clone(),
        id: info.id,
    };
    verbose!("accepted {peer} as client {}", info.id);
    let spawned = thread::Builder::new()
        .name(format!("client-{}", info.id))
        .stack_size(CONNECTION_STACK)
        .spawn(move || {
            let server = slot.server.clone();
            crate::connection::serve(stream, &server, info);
            drop(slot);
        });
    if let Err(e) = spawned {
        // The closure (and with it the slot) was dropped: the count is restored.
        warning!("cannot start a thread for {peer}: {e}");
    }
}

fn spawn_housekeeping(server: &Arc<Server>) -> std::io::Result<()> {
    let server = server.clone();
    thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            loop {
                server.stats.sample_ops(now_ms());
                if crate::os::take_stop_request() {
                    notice!("received SIGINT or SIGTERM, scheduling shutdown");
                    server.request_shutdown(ShutdownRequest {
                        save: SaveOnExit::Save,
                        force: false,
                        failed: None,
                    });
                }
                thread::sleep(Duration::from_millis(100));
            }
        })?;
    Ok(())
}
