//! The configuration in force while the server runs, and its changes.
//!
//! [`Settings`] holds the current [`Config`] (what `CONFIG GET` shows and
//! `CONFIG REWRITE` writes) and mirrors, in atomics, the few values that
//! every connection or every accept reads, so those reads take no lock.
//! [`Settings::change`] applies a `CONFIG SET`: all of its parameters, or,
//! if one cannot be applied, none. It never does socket I/O; the only
//! system call it may make is raising the open-file limit.

use super::Shared;
use crate::config::{Config, Encodings};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

/// Descriptors kept beyond one per client (Redis's
/// `CONFIG_MIN_RESERVED_FDS`): standard streams, the listener, the
/// [reserve](crate::os::FileReserve), the sockets the refuser holds (at most
/// 16), the shutdown wake-up, the snapshot and the config file.
pub const RESERVED_FILES: u64 = 32;

/// The running configuration.
pub struct Settings {
    current: RwLock<Config>,
    /// The config file the server started from, if any.
    file: Option<PathBuf>,
    max_clients: AtomicUsize,
    protected_mode: AtomicBool,
    password_set: AtomicBool,
    timeout_secs: AtomicU64,
    maxmemory: AtomicUsize,
    /// The collection encoding thresholds, read by every collection write.
    encodings: [AtomicU64; 7],
    /// Serialises changes, so two `CONFIG SET`s never interleave.
    changing: Mutex<()>,
}

impl Settings {
    /// Settings starting from `config` (with its client limit already
    /// fitted to the open-file limit).
    pub fn new(config: Config, file: Option<PathBuf>) -> Settings {
        let settings = Settings {
            max_clients: AtomicUsize::new(0),
            protected_mode: AtomicBool::new(false),
            password_set: AtomicBool::new(false),
            timeout_secs: AtomicU64::new(0),
            maxmemory: AtomicUsize::new(0),
            encodings: Default::default(),
            current: RwLock::new(config.clone()),
            file,
            changing: Mutex::new(()),
        };
        settings.mirror(&config);
        settings
    }

    fn mirror(&self, config: &Config) {
        self.max_clients
            .store(config.max_clients, Ordering::Relaxed);
        self.protected_mode
            .store(config.protected_mode, Ordering::Relaxed);
        self.password_set
            .store(config.requirepass.is_some(), Ordering::Relaxed);
        self.timeout_secs
            .store(config.timeout_secs, Ordering::Relaxed);
        self.maxmemory
            .store(config.limit().maxmemory, Ordering::Relaxed);
        crate::log::set_level(config.log_level);
        let e = config.encodings;
        let values = [
            e.hash_max_listpack_entries,
            e.hash_max_listpack_value,
            e.set_max_intset_entries,
            e.list_max_listpack_size as u64,
            e.list_compress_depth as u64,
            e.zset_max_listpack_entries,
            e.zset_max_listpack_value,
        ];
        for (slot, value) in self.encodings.iter().zip(values) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    /// The collection encoding thresholds in force: a few atomic loads,
    /// no lock.
    pub fn encodings(&self) -> Encodings {
        let [a, b, c, d, e, f, g] = &self.encodings;
        Encodings {
            hash_max_listpack_entries: a.load(Ordering::Relaxed),
            hash_max_listpack_value: b.load(Ordering::Relaxed),
            set_max_intset_entries: c.load(Ordering::Relaxed),
            list_max_listpack_size: d.load(Ordering::Relaxed) as i64,
            list_compress_depth: e.load(Ordering::Relaxed) as i64,
            zset_max_listpack_entries: f.load(Ordering::Relaxed),
            zset_max_listpack_value: g.load(Ordering::Relaxed),
        }
    }

    /// A copy of the whole configuration.
    pub fn current(&self) -> Config {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The password clients must give, if any.
    pub fn requirepass(&self) -> Option<Vec<u8>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .requirepass
            .clone()
    }

    /// Whether a password is set.
    pub fn password_set(&self) -> bool {
        self.password_set.load(Ordering::Relaxed)
    }

    /// Connections served at once.
    pub fn max_clients(&self) -> usize {
        self.max_clients.load(Ordering::Relaxed)
    }

    /// Whether protected mode is on.
    pub fn protected_mode(&self) -> bool {
        self.protected_mode.load(Ordering::Relaxed)
    }

    /// The idle timeout in seconds; 0 = none.
    pub fn timeout_secs(&self) -> u64 {
        self.timeout_secs.load(Ordering::Relaxed)
    }

    /// `maxmemory` in bytes; 0 = no limit. One atomic load.
    pub fn maxmemory(&self) -> usize {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// The config file the server started from.
    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_ref()
    }

    /// Takes the right to change the settings (held through a whole
    /// `CONFIG SET` or `CONFIG REWRITE`).
    pub fn begin_change(&self) -> MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `next` the configuration in force, applying what changed to
    /// the server's parts. Call it holding [`Settings::begin_change`].
    /// If the open-file limit cannot serve `next`'s client limit, nothing
    /// changes and the error names `maxclients` with Redis's words.
    pub fn change(&self, server: &Shared, next: Config) -> Result<(), (&'static str, String)> {
        let old = self.current();
        if next.max_clients > old.max_clients {
            let fitted = fit_clients_to_files(next.max_clients);
            if fitted < next.max_clients {
                return Err((
                    "maxclients",
                    format!(
                        "The operating system is not able to handle the specified number of clients, try with {fitted}"
                    ),
                ));
            }
        }
        if next.save_points != old.save_points {
            server.snapshotter.set_schedule(next.save_points.clone());
        }
        if next.stop_writes_on_bgsave_error != old.stop_writes_on_bgsave_error {
            server
                .snapshotter
                .set_stop_writes_on_error(next.stop_writes_on_bgsave_error);
        }
        if next.appendfsync != old.appendfsync {
            server.aof.journal.set_policy(next.appendfsync);
        }
        if next.appendonly != old.appendonly {
            if next.appendonly {
                server
                    .aof
                    .enable(&server.keyspace)
                    .map_err(|e| ("appendonly", e))?;
            } else {
                server.aof.disable(&server.keyspace);
            }
        }
        let (limit, stamps) = (next.limit(), next.stamps());
        let lowered = limit.maxmemory != 0
            && (old.limit().maxmemory == 0 || limit.maxmemory < old.limit().maxmemory);
        if limit != old.limit() || stamps != old.stamps() {
            server.keyspace.write().set_limit(limit, stamps);
        }
        self.mirror(&next);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        if lowered {
            // Down to the new limit now, as Redis does, a batch per hold of
            // the lock. Bounded: each batch evicts keys or ends it.
            let now = crate::clock::now_ms();
            let _ = server.make_room(now, usize::MAX);
        }
        Ok(())
    }
}

/// The most clients the open-file limit can serve, up to `wanted`, after
/// raising the soft limit as far as needed and the hard limit allows.
pub fn fit_clients_to_files(wanted: usize) -> usize {
    let needed = wanted as u64 + RESERVED_FILES;
    match crate::os::raise_open_files_limit(needed) {
        Some(limit) if limit < needed => limit.saturating_sub(RESERVED_FILES) as usize,
        _ => wanted,
    }
}
