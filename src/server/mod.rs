//! The listener, the accept loop, and shutdown.
//!
//! Owns [`Shared`], the state every connection thread shares, and [`run`],
//! which fits the client limit to the open-file limit, binds, loads the
//! snapshot, prints the listening line, starts the sweeper, the snapshot
//! thread, the [refuser](admission::Refuser) and the
//! [housekeeping] thread, and then accepts: one OS thread per
//! connection, up to `maxclients` ([`admission`] decides). A failing accept
//! backs off and is logged at most once a second; when descriptors run out
//! it frees one of its [reserve](crate::os::FileReserve) to take the waiting
//! client and tell it why it is refused. A shutdown (signal or `SHUTDOWN`)
//! wakes the accept loop by connecting to it, stops accepting, freezes
//! writes, releases the reserved descriptors (so the final snapshot can be
//! written even with the descriptor table full), takes the final snapshot
//! and ends the process; if that save fails it unfreezes and serves on. The
//! accept loop never reads from a client and touches the keyspace only for
//! that final snapshot.

pub mod admission;
pub mod housekeeping;

use crate::clock::now_ms;
use crate::config::Startup;
use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::log::{Level, RateLimited};
use crate::os::FileReserve;
use crate::shared::{Shared, settings};
use crate::snapshot::{self, PointInTime, SnapshotPaths, Snapshotter};
use crate::sweeper::Sweeper;
use crate::{notice, warning};
use admission::{Refusal, Refuser};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Stack size of a connection thread: parsing and dispatch need little, and
/// thousands of connections should not reserve megabytes each.
pub(crate) const CONNECTION_STACK: usize = 256 * 1024;

pub use crate::shared::{REDIS_VERSION, SaveOnExit, ShutdownRequest};

/// Decrements the connection count when a connection thread ends, even by panic.
pub(crate) struct ConnectionSlot {
    pub(crate) server: Arc<Shared>,
    pub(crate) id: u64,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.server.clients.unregister(self.id);
        self.server.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Binds, serves until shut down, and returns the process exit status.
pub fn run(startup: Startup) -> Result<i32, Error> {
    let Startup { mut config, file } = startup;
    crate::log::set_level(config.log_level);
    crate::os::install()?;
    // With a memory limit from the start, one arena (see `tune_allocator`).
    crate::os::tune_allocator(config.maxmemory != 0);
    // Opened first, the reserve gets the lowest descriptor numbers.
    let reserve = FileReserve::open();
    let wanted = config.max_clients;
    config.max_clients = settings::fit_clients_to_files(wanted);
    let (soft, hard) = crate::os::open_files_limit().unwrap_or_default();
    if config.max_clients == 0 {
        return Err(Error::TooFewFiles(format!(
            "the open file limit ({soft}) leaves no descriptor for a client: raise it (ulimit -n) to at least {}",
            settings::RESERVED_FILES + 1
        )));
    }
    if config.max_clients < wanted {
        warning!(
            "maxclients lowered from {wanted} to {}: the open file limit is {soft} (hard limit {hard}); raise it (ulimit -n {}) to serve {wanted} clients",
            config.max_clients,
            wanted as u64 + settings::RESERVED_FILES
        );
    }
    let keyspace = Keyspace::with_databases(config.databases);
    let addr = format!("{}:{}", config.bind, config.port);
    let listener =
        TcpListener::bind((config.bind.as_str(), config.port)).map_err(|source| Error::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = listener.local_addr()?;
    // `CONFIG GET port` and `CONFIG REWRITE` state the port actually bound.
    config.port = local_addr.port();
    let started_unix_ms = now_ms();
    let paths = SnapshotPaths::new(&config.dir, &config.dbfilename);
    paths.prepare_dir()?;
    // Absolute from here on, as `CONFIG GET dir` shows it.
    if let Ok(absolute) = std::fs::canonicalize(&config.dir) {
        config.dir = absolute;
    }
    let loading = Instant::now();
    // With the log on and a manifest, the data is the log's, as in Redis.
    let log_paths =
        crate::aof::LogPaths::new(&config.dir, &config.appenddirname, &config.appendfilename);
    let from_log = config.appendonly && log_paths.exists();
    let loaded = if from_log {
        snapshot::LoadReport::default()
    } else {
        snapshot::load(&paths, &keyspace, started_unix_ms, config.encodings)?
    };
    if from_log {
        notice!(
            "appendonly yes: loading from the append-only log in {}, not from {}",
            log_paths.dir.display(),
            paths.file.display()
        );
    } else if loaded.found {
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
        config.save_points.clone(),
        config.stop_writes_on_bgsave_error,
        started_unix_ms,
        keyspace.read().changes(),
        &loaded,
    ));
    let server = Arc::new(Shared::new(
        config,
        file,
        keyspace,
        snapshotter,
        local_addr,
        started_unix_ms,
        reserve,
    ));
    if server.settings.current().appendonly {
        let load_truncated = server.settings.current().aof_load_truncated;
        server.aof.boot(&server, load_truncated)?;
        // What the log held counts as saved, as a snapshot's keys do.
        server
            .snapshotter
            .count_as_saved(server.keyspace.read().changes());
    }
    server.aof.spawn_background(&server)?;
    let _sweeper = Sweeper::spawn(server.keyspace.clone())?;
    let _snapshot_thread = server.snapshotter.spawn(server.keyspace.clone())?;
    let refuser = Refuser::spawn()?;
    housekeeping::spawn(&server)?;

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

    let mut failures = 0u32;
    loop {
        let (accepted, through_reserve) = match listener.accept() {
            Err(e) if crate::os::is_out_of_files(&e) => {
                (accept_through_reserve(&server, &listener, e), true)
            }
            other => (other, false),
        };
        if let Some(request) = server.take_shutdown() {
            // The wake-up connection (or a client) is closed unanswered.
            drop(accepted);
            match shut_down(&server, request) {
                Some(status) => return Ok(status),
                None => continue,
            }
        }
        match accepted {
            Ok((stream, peer)) if through_reserve => {
                failures = 0;
                // No descriptor is left for a connection: tell it, close it,
                // and take the reserved descriptor back.
                server
                    .stats
                    .rejected_connections
                    .fetch_add(1, Ordering::Relaxed);
                ACCEPT_LOG.write(
                    Level::Warning,
                    format_args!("refused connection from {peer}: no file descriptor left"),
                );
                admission::refuse_at_once(stream, Refusal::MaxClients);
                server.reserve().refill();
            }
            Ok((stream, peer)) => {
                failures = 0;
                admission::admit(&server, &refuser, stream, peer);
            }
            Err(e) => {
                if through_reserve {
                    server.reserve().refill();
                }
                failures = failures.saturating_add(1);
                ACCEPT_LOG.write(Level::Warning, format_args!("accept failed: {e}"));
                // Back off, longer the longer failures last (up to 100 ms).
                thread::sleep(Duration::from_millis(u64::from(failures.min(10)) * 10));
            }
        }
    }
}

static ACCEPT_LOG: RateLimited = RateLimited::new(1000);

/// After an accept failed for want of descriptors: frees one reserved
/// descriptor and accepts again, so the waiting client can be told why it
/// is refused instead of waiting in silence. The error is returned if the
/// reserve is spent.
fn accept_through_reserve(
    server: &Shared,
    listener: &TcpListener,
    e: std::io::Error,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    ACCEPT_LOG.write(Level::Warning, format_args!("accept failed: {e}"));
    if !server.reserve().release_one() {
        return Err(e);
    }
    listener.accept()
}

/// The reply to a `SHUTDOWN` whose final save failed (Redis's words).
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// Stops the server: returns the exit status, or `None` to keep serving
/// (a final save failed, as Redis refuses to exit without it).
fn shut_down(server: &Shared, request: ShutdownRequest) -> Option<i32> {
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
        // The save needs a descriptor or two even if clients took all others.
        server.reserve().release_all();
        let saved = claim.save(view);
        if saved.is_err() {
            server.reserve().refill();
        }
        if let Err(e) = saved {
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
    // Whatever the log's policy, the last writes reach the disk.
    if let Err(e) = server.aof.flush_at_exit() {
        warning!("the append-only log could not be synced at exit: {e}");
    }
    notice!("gocache is now ready to exit, bye bye");
    Some(0)
}
