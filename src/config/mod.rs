//! Every setting gocache has: one table of parameters, read from the command
//! line and a config file at start, and read and changed by `CONFIG` at
//! runtime.
//!
//! [`PARAMS`] declares each parameter once: its Redis name (used in the
//! config file, by `CONFIG` and as the `--name` flag), its aliases, its
//! default, whether `CONFIG SET` may change it, and how its text becomes a
//! field of [`Config`] and back. The command line, the config file
//! ([`file`](mod@file)), `CONFIG GET`, `CONFIG SET` and `CONFIG REWRITE` all go
//! through that table, so a parameter reads and validates the same
//! everywhere, with Redis's error texts.
//!
//! This module owns parsing and formatting only. It never opens a socket and
//! never changes the running server: applying a new [`Config`] to the
//! keyspace, the snapshot thread or the open-file limit is the server's job.
//! [`file`](mod@file) reads and rewrites the config file, and nothing else.

pub mod file;

use crate::access::Stamps;
use crate::error::Error;
use crate::keyspace::{Limit, Policy};
use crate::log::Level;
use std::path::PathBuf;

/// Most databases a server may have: each costs a few hundred bytes even
/// unused, so a typo cannot make it reserve gigabytes.
pub const MAX_DATABASES: usize = 10_000;

/// A save point: save when at least `changes` writes happened and `secs`
/// seconds passed since the last successful save (Redis's `save`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavePoint {
    /// Seconds since the last successful save, at least 1.
    pub secs: u64,
    /// Writes since then.
    pub changes: u64,
}

/// The value of every parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// TCP port; 0 binds an ephemeral one.
    pub port: u16,
    /// Address to bind.
    pub bind: String,
    /// Refuse clients from other hosts while no password is set.
    pub protected_mode: bool,
    /// Password clients must give with `AUTH`, if any.
    pub requirepass: Option<Vec<u8>>,
    /// Connections served at once; one more is refused.
    pub max_clients: usize,
    /// Seconds without a completed request before a client is closed; 0 = never.
    pub timeout_secs: u64,
    /// Log verbosity.
    pub log_level: Level,
    /// When the snapshot thread saves on its own; empty = never.
    pub save_points: Vec<SavePoint>,
    /// Refuse writes while the last save failed (and saves are scheduled).
    pub stop_writes_on_bgsave_error: bool,
    /// Directory holding the snapshot.
    pub dir: PathBuf,
    /// Snapshot file name inside `dir`.
    pub dbfilename: String,
    /// Longest RESP bulk string, in bytes.
    pub proto_max_bulk_len: usize,
    /// Largest request a client may have buffered, in bytes.
    pub client_query_buffer_limit: usize,
    /// Longest inline (line protocol) request, in bytes.
    pub max_line_bytes: usize,
    /// Number of databases (`SELECT 0` to `databases - 1`).
    pub databases: usize,
    /// Collection sizes up to which the packed encodings are kept.
    pub encodings: Encodings,
    /// `maxmemory`: most bytes of data and client buffers; 0 = no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`: what goes when memory is over the limit.
    pub maxmemory_policy: Policy,
    /// `maxmemory-samples`: keys a volatile policy compares per victim.
    pub maxmemory_samples: u32,
    /// `lfu-log-factor`: how slowly the LFU counter grows.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes per step down of an unused key's counter.
    pub lfu_decay_time: u32,
    /// `appendonly`: log every write to the append-only log.
    pub appendonly: bool,
    /// `appendfsync`: when the log is synced.
    pub appendfsync: crate::aof::Fsync,
    /// `appendfilename`: the log's file names start with this.
    pub appendfilename: String,
    /// `appenddirname`: the log's directory, inside `dir`.
    pub appenddirname: String,
    /// `auto-aof-rewrite-percentage`: growth over the size after the last
    /// rewrite that starts one (0 = never).
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size`: the smallest log rewritten on its own.
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-load-truncated`: load a log whose last record is cut short.
    pub aof_load_truncated: bool,
}

/// The thresholds at which a collection leaves its compact encoding
/// (Redis's parameters of the same names). They apply as each collection
/// grows: one already converted stays converted, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encodings {
    /// `hash-max-listpack-entries`: most fields a packed hash holds.
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value`: longest field or value a packed hash holds.
    pub hash_max_listpack_value: u64,
    /// `set-max-intset-entries`: most integers an intset holds.
    pub set_max_intset_entries: u64,
    /// `list-max-listpack-size`: each list node's limit; negative is a
    /// size class (-1 = 4 KiB ... -5 = 64 KiB), positive a count.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: accepted and shown; gocache never
    /// compresses list nodes (Redis's default, 0, does not either).
    pub list_compress_depth: i64,
    /// `zset-max-listpack-entries`: most members a packed sorted set holds.
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value`: longest member a packed sorted set holds.
    pub zset_max_listpack_value: u64,
}

impl Encodings {
    /// Redis's defaults.
    pub const DEFAULT: Encodings = Encodings {
        hash_max_listpack_entries: 512,
        hash_max_listpack_value: 64,
        set_max_intset_entries: 512,
        list_max_listpack_size: -2,
        list_compress_depth: 0,
        zset_max_listpack_entries: 128,
        zset_max_listpack_value: 64,
    };
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            port: 0,
            bind: String::new(),
            protected_mode: false,
            requirepass: None,
            max_clients: 0,
            timeout_secs: 0,
            log_level: Level::Notice,
            save_points: Vec::new(),
            stop_writes_on_bgsave_error: false,
            dir: PathBuf::new(),
            dbfilename: String::new(),
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            max_line_bytes: 0,
            databases: 0,
            encodings: Encodings::DEFAULT,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            appendonly: false,
            appendfsync: crate::aof::Fsync::EverySec,
            appendfilename: String::new(),
            appenddirname: String::new(),
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_load_truncated: false,
        };
        for param in PARAMS {
            // The defaults are checked by a unit test; a bad one is a bug here.
            if let Err(e) = (param.set)(&mut config, param.default) {
                panic!("default of {} is invalid: {e}", param.name);
            }
        }
        config
    }
}

/// How a parameter's value is written, for the usage text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// A whole number.
    Integer,
    /// A byte count, with an optional unit (`64kb`, `512mb`, `1gb`).
    Bytes,
    /// One of a few words.
    Choice,
    /// Any text.
    Text,
    /// `"<seconds> <changes> [<seconds> <changes> ...]"`, or `""`.
    SavePoints,
}

/// One parameter: how it is named, parsed, shown and whether it may change
/// at runtime.
pub struct Param {
    /// Redis's name, lower case.
    pub name: &'static str,
    /// Other spellings accepted as flags and in the config file.
    pub aliases: &'static [&'static str],
    /// The shape of its value.
    pub kind: Kind,
    /// The default, as text.
    pub default: &'static str,
    /// Whether `CONFIG SET` may change it.
    pub mutable: bool,
    /// Shown as the value's placeholder and meaning in `--help`.
    pub help: &'static str,
    /// A value that is a secret (not echoed in logs).
    pub sensitive: bool,
    /// Parses `value` into the config, or says why not (Redis's words).
    pub set: fn(&mut Config, &str) -> Result<(), String>,
    /// The current value, as `CONFIG GET` shows it.
    pub get: fn(&Config) -> String,
}

impl Param {
    /// Whether `name` names this parameter (any case, aliases included).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param").field("name", &self.name).finish()
    }
}

/// Every parameter, in the order `CONFIG REWRITE` appends them.
pub static PARAMS: &[Param] = &[
    Param {
        name: "port",
        aliases: &[],
        kind: Kind::Integer,
        default: "6380",
        mutable: false,
        help: "N  TCP port to listen on; 0 picks a free one",
        sensitive: false,
        set: |c, v| {
            c.port = integer(v, 0, 65535)? as u16;
            Ok(())
        },
        get: |c| c.port.to_string(),
    },
    Param {
        name: "bind",
        aliases: &[],
        kind: Kind::Text,
        default: "127.0.0.1",
        mutable: false,
        help: "ADDR  address to listen on",
        sensitive: false,
        set: |c, v| {
            if v.is_empty() || v.contains(char::is_whitespace) {
                return Err("argument must be one address".into());
            }
            c.bind = v.to_string();
            Ok(())
        },
        get: |c| c.bind.clone(),
    },
    Param {
        name: "protected-mode",
        aliases: &[],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
        help: "yes|no  with no password set, refuse clients from other hosts",
        sensitive: false,
        set: |c, v| {
            c.protected_mode = boolean(v)?;
            Ok(())
        },
        get: |c| yes_no(c.protected_mode),
    },
    Param {
        name: "requirepass",
        aliases: &[],
        kind: Kind::Text,
        default: "",
        mutable: true,
        help: "PASSWORD  require AUTH PASSWORD before other commands",
        sensitive: true,
        set: |c, v| {
            c.requirepass = (!v.is_empty()).then(|| v.as_bytes().to_vec());
            Ok(())
        },
        get: |c| String::from_utf8_lossy(c.requirepass.as_deref().unwrap_or_default()).into_owned(),
    },
    Param {
        name: "maxclients",
        aliases: &["max-clients"],
        kind: Kind::Integer,
        default: "10000",
        mutable: true,
        help: "N  connections served at once",
        sensitive: false,
        set: |c, v| {
            c.max_clients = integer(v, 1, i64::from(u32::MAX))? as usize;
            Ok(())
        },
        get: |c| c.max_clients.to_string(),
    },
    Param {
        name: "timeout",
        aliases: &[],
        kind: Kind::Integer,
        default: "0",
        mutable: true,
        help: "SECS  close a client with no request completed for SECS; 0 = never",
        sensitive: false,
        set: |c, v| {
            c.timeout_secs = integer(v, 0, i64::from(i32::MAX))? as u64;
            Ok(())
        },
        get: |c| c.timeout_secs.to_string(),
    },
    Param {
        name: "loglevel",
        aliases: &[],
        kind: Kind::Choice,
        default: "notice",
        mutable: true,
        help: "LEVEL  debug, verbose, notice or warning",
        sensitive: false,
        set: |c, v| {
            c.log_level = Level::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
                "argument(s) must be one of the following: debug, verbose, notice, warning"
                    .to_string()
            })?;
            Ok(())
        },
        get: |c| c.log_level.name().to_string(),
    },
    Param {
        name: "save",
        aliases: &[],
        kind: Kind::SavePoints,
        default: "60 1",
        mutable: true,
        help: "\"SECS CHANGES ...\"  save after SECS if CHANGES writes; \"\" = never",
        sensitive: false,
        set: |c, v| {
            c.save_points = save_points(v)?;
            Ok(())
        },
        get: |c| format_save_points(&c.save_points),
    },
    Param {
        name: "stop-writes-on-bgsave-error",
        aliases: &[],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
        help: "yes|no  refuse writes (MISCONF) while the last save failed",
        sensitive: false,
        set: |c, v| {
            c.stop_writes_on_bgsave_error = boolean(v)?;
            Ok(())
        },
        get: |c| yes_no(c.stop_writes_on_bgsave_error),
    },
    Param {
        name: "dir",
        aliases: &[],
        kind: Kind::Text,
        default: ".",
        mutable: false,
        help: "DIR  directory of the snapshot file",
        sensitive: false,
        set: |c, v| {
            if v.is_empty() {
                return Err("argument must be a directory".into());
            }
            c.dir = PathBuf::from(v);
            Ok(())
        },
        // The server makes it absolute at start, so that `CONFIG GET dir`
        // needs no file-system call.
        get: |c| c.dir.display().to_string(),
    },
    Param {
        name: "dbfilename",
        aliases: &[],
        kind: Kind::Text,
        default: "dump.gcs",
        mutable: false,
        help: "NAME  snapshot file name inside --dir",
        sensitive: false,
        set: |c, v| {
            if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            c.dbfilename = v.to_string();
            Ok(())
        },
        get: |c| c.dbfilename.clone(),
    },
    Param {
        name: "databases",
        aliases: &[],
        kind: Kind::Integer,
        default: "16",
        mutable: false,
        help: "N  number of databases, SELECT 0 to N-1 (at most 10000)",
        sensitive: false,
        set: |c, v| {
            c.databases = integer(v, 1, MAX_DATABASES as i64)? as usize;
            Ok(())
        },
        get: |c| c.databases.to_string(),
    },
    Param {
        name: "proto-max-bulk-len",
        aliases: &[],
        kind: Kind::Bytes,
        default: "512mb",
        mutable: false,
        help: "BYTES  longest string a client may send or build",
        sensitive: false,
        set: |c, v| {
            c.proto_max_bulk_len = bytes(v, 1, crate::entry::MAX_LEN as u64)? as usize;
            Ok(())
        },
        get: |c| c.proto_max_bulk_len.to_string(),
    },
    Param {
        name: "client-query-buffer-limit",
        aliases: &[],
        kind: Kind::Bytes,
        default: "1gb",
        mutable: false,
        help: "BYTES  largest request a client may send",
        sensitive: false,
        set: |c, v| {
            c.client_query_buffer_limit = bytes(v, 1024 * 1024, 1 << 40)? as usize;
            Ok(())
        },
        get: |c| c.client_query_buffer_limit.to_string(),
    },
    Param {
        name: "max-line-bytes",
        aliases: &[],
        kind: Kind::Bytes,
        default: "65536",
        mutable: false,
        help: "BYTES  longest line-protocol request",
        sensitive: false,
        set: |c, v| {
            c.max_line_bytes = bytes(v, 1, crate::entry::MAX_LEN as u64)? as usize;
            Ok(())
        },
        get: |c| c.max_line_bytes.to_string(),
    },
    Param {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        kind: Kind::Integer,
        default: "512",
        mutable: true,
        help: "N  most fields a hash keeps packed",
        sensitive: false,
        set: |c, v| {
            c.encodings.hash_max_listpack_entries = integer(v, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.encodings.hash_max_listpack_entries.to_string(),
    },
    Param {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        kind: Kind::Bytes,
        default: "64",
        mutable: true,
        help: "BYTES  longest field or value a hash keeps packed",
        sensitive: false,
        set: |c, v| {
            c.encodings.hash_max_listpack_value = bytes(v, 0, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.encodings.hash_max_listpack_value.to_string(),
    },
    Param {
        name: "set-max-intset-entries",
        aliases: &[],
        kind: Kind::Integer,
        default: "512",
        mutable: true,
        help: "N  most integers a set keeps as an intset",
        sensitive: false,
        set: |c, v| {
            c.encodings.set_max_intset_entries = integer(v, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.encodings.set_max_intset_entries.to_string(),
    },
    Param {
        name: "list-max-listpack-size",
        aliases: &["list-max-ziplist-size"],
        kind: Kind::Integer,
        default: "-2",
        mutable: true,
        help: "N  list node limit: -1..-5 = 4..64 KiB, or N entries",
        sensitive: false,
        set: |c, v| {
            c.encodings.list_max_listpack_size = integer(v, i32::MIN as i64, i32::MAX as i64)?;
            Ok(())
        },
        get: |c| c.encodings.list_max_listpack_size.to_string(),
    },
    Param {
        name: "list-compress-depth",
        aliases: &[],
        kind: Kind::Integer,
        default: "0",
        mutable: true,
        help: "N  accepted for Redis's configs; gocache never compresses list nodes",
        sensitive: false,
        set: |c, v| {
            c.encodings.list_compress_depth = integer(v, 0, i32::MAX as i64)?;
            Ok(())
        },
        get: |c| c.encodings.list_compress_depth.to_string(),
    },
    Param {
        name: "zset-max-listpack-entries",
        aliases: &["zset-max-ziplist-entries"],
        kind: Kind::Integer,
        default: "128",
        mutable: true,
        help: "N  most members a sorted set keeps packed",
        sensitive: false,
        set: |c, v| {
            c.encodings.zset_max_listpack_entries = integer(v, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.encodings.zset_max_listpack_entries.to_string(),
    },
    Param {
        name: "zset-max-listpack-value",
        aliases: &["zset-max-ziplist-value"],
        kind: Kind::Bytes,
        default: "64",
        mutable: true,
        help: "BYTES  longest member a sorted set keeps packed",
        sensitive: false,
        set: |c, v| {
            c.encodings.zset_max_listpack_value = bytes(v, 0, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.encodings.zset_max_listpack_value.to_string(),
    },
    Param {
        name: "appendonly",
        aliases: &[],
        kind: Kind::Bool,
        default: "no",
        mutable: true,
        help: "yes|no  log every write to the append-only log (under --dir/--appenddirname)",
        sensitive: false,
        set: |c, v| {
            c.appendonly = boolean(v)?;
            Ok(())
        },
        get: |c| yes_no(c.appendonly),
    },
    Param {
        name: "appendfsync",
        aliases: &[],
        kind: Kind::Choice,
        default: "everysec",
        mutable: true,
        help: "always|everysec|no  sync the log before each reply, once a second, or never",
        sensitive: false,
        set: |c, v| {
            c.appendfsync = crate::aof::Fsync::parse(v).ok_or_else(|| {
                "argument(s) must be one of the following: always, everysec, no".to_string()
            })?;
            Ok(())
        },
        get: |c| c.appendfsync.name().to_string(),
    },
    Param {
        name: "appendfilename",
        aliases: &[],
        kind: Kind::Text,
        default: "appendonly.aof",
        mutable: false,
        help: "NAME  the log's file names start with NAME",
        sensitive: false,
        set: |c, v| {
            if v.is_empty() {
                return Err("appendfilename can't be empty".into());
            }
            if v.contains('/') || v == "." || v == ".." {
                return Err("appendfilename can't be a path, just a filename".into());
            }
            c.appendfilename = v.to_string();
            Ok(())
        },
        get: |c| c.appendfilename.clone(),
    },
    Param {
        name: "appenddirname",
        aliases: &[],
        kind: Kind::Text,
        default: "appendonlydir",
        mutable: false,
        help: "NAME  the log's directory, inside --dir",
        sensitive: false,
        set: |c, v| {
            if v.is_empty() {
                return Err("appenddirname can't be empty".into());
            }
            if v.contains('/') || v == "." || v == ".." {
                return Err("appenddirname can't be a path, just a dirname".into());
            }
            c.appenddirname = v.to_string();
            Ok(())
        },
        get: |c| c.appenddirname.clone(),
    },
    Param {
        name: "auto-aof-rewrite-percentage",
        aliases: &[],
        kind: Kind::Integer,
        default: "100",
        mutable: true,
        help: "N  rewrite the log once it grew by N % since the last rewrite (0 = never)",
        sensitive: false,
        set: |c, v| {
            c.auto_aof_rewrite_percentage = integer(v, 0, i64::from(i32::MAX))? as u64;
            Ok(())
        },
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        aliases: &[],
        kind: Kind::Bytes,
        default: "64mb",
        mutable: true,
        help: "BYTES  the smallest log rewritten on its own",
        sensitive: false,
        set: |c, v| {
            c.auto_aof_rewrite_min_size = bytes(v, 0, i64::MAX as u64)?;
            Ok(())
        },
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
    },
    Param {
        name: "aof-load-truncated",
        aliases: &[],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
        help: "yes|no  at start, load a log whose last record was cut short (and cut it)",
        sensitive: false,
        set: |c, v| {
            c.aof_load_truncated = boolean(v)?;
            Ok(())
        },
        get: |c| yes_no(c.aof_load_truncated),
    },
    Param {
        name: "maxmemory",
        aliases: &[],
        kind: Kind::Bytes,
        default: "0",
        mutable: true,
        help: "BYTES  most memory for data and client buffers (0 = no limit)",
        sensitive: false,
        set: |c, v| {
            c.maxmemory = bytes(v, 0, u64::MAX)?;
            Ok(())
        },
        get: |c| c.maxmemory.to_string(),
    },
    Param {
        name: "maxmemory-policy",
        aliases: &[],
        kind: Kind::Choice,
        default: "noeviction",
        mutable: true,
        help: "POLICY  what goes over the limit: noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl, or gocache's allkeys-s3fifo",
        sensitive: false,
        set: |c, v| {
            c.maxmemory_policy = Policy::parse(v).ok_or_else(|| {
                let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            })?;
            Ok(())
        },
        get: |c| c.maxmemory_policy.name().to_string(),
    },
    Param {
        name: "maxmemory-samples",
        aliases: &[],
        kind: Kind::Integer,
        default: "5",
        mutable: true,
        help: "N  keys a volatile-* policy compares per eviction",
        sensitive: false,
        set: |c, v| {
            c.maxmemory_samples = integer(v, 1, i64::from(i32::MAX))? as u32;
            Ok(())
        },
        get: |c| c.maxmemory_samples.to_string(),
    },
    Param {
        name: "lfu-log-factor",
        aliases: &[],
        kind: Kind::Integer,
        default: "10",
        mutable: true,
        help: "N  how slowly an LFU access counter grows",
        sensitive: false,
        set: |c, v| {
            c.lfu_log_factor = integer(v, 0, i64::from(i32::MAX))? as u32;
            Ok(())
        },
        get: |c| c.lfu_log_factor.to_string(),
    },
    Param {
        name: "lfu-decay-time",
        aliases: &[],
        kind: Kind::Integer,
        default: "1",
        mutable: true,
        help: "MINUTES  per step down of an unused key's LFU counter (0 = never)",
        sensitive: false,
        set: |c, v| {
            c.lfu_decay_time = integer(v, 0, i64::from(i32::MAX))? as u32;
            Ok(())
        },
        get: |c| c.lfu_decay_time.to_string(),
    },
];

impl Config {
    /// The memory limit this configuration sets.
    pub fn limit(&self) -> Limit {
        Limit {
            maxmemory: usize::try_from(self.maxmemory).unwrap_or(usize::MAX),
            policy: self.maxmemory_policy,
            samples: self.maxmemory_samples as usize,
        }
    }

    /// What access stamps mean under this configuration.
    pub fn stamps(&self) -> Stamps {
        Stamps {
            meaning: self.maxmemory_policy.stamp_meaning(),
            log_factor: self.lfu_log_factor,
            decay_minutes: self.lfu_decay_time,
        }
    }
}

/// Aliases that are Redis's own names for a parameter (its old
/// `ziplist` names): `CONFIG GET` lists them as entries of their own, as
/// Redis does.
pub const REDIS_ALIASES: &[&str] = &[
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "list-max-ziplist-size",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
];

/// Finds a parameter by name or alias, in any case.
pub fn lookup(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.is_named(name))
}

impl Param {
    /// Parses `value` into `config`; Redis's error text on failure.
    pub fn apply(&self, config: &mut Config, value: &str) -> Result<(), String> {
        (self.set)(config, value)
    }

    /// The current value in `config`, as `CONFIG GET` shows it.
    pub fn value(&self, config: &Config) -> String {
        (self.get)(config)
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn boolean(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn integer(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = crate::protocol::resp::parse_i64(v.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// A byte count as Redis's `memtoull` reads one: digits, then an optional
/// unit `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, in any case.
fn bytes(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    let n = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| "argument must be a memory value".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// Parses `save`'s value: pairs of seconds (at least 1) and changes (at
/// least 0), each separated by one space, as Redis splits it; `""` is none.
pub fn save_points(v: &str) -> Result<Vec<SavePoint>, String> {
    let invalid = || "Invalid save parameters".to_string();
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<&str> = v.split(' ').collect();
    if words.len() % 2 != 0 {
        return Err(invalid());
    }
    words
        .chunks_exact(2)
        .map(|pair| {
            let secs = pair[0].parse::<u64>().map_err(|_| invalid())?;
            let changes = pair[1].parse::<u64>().map_err(|_| invalid())?;
            if secs == 0 {
                return Err(invalid());
            }
            Ok(SavePoint { secs, changes })
        })
        .collect()
}

/// `save`'s value as `CONFIG GET` shows it: `"60 1 300 100"`.
pub fn format_save_points(points: &[SavePoint]) -> String {
    points
        .iter()
        .map(|p| format!("{} {}", p.secs, p.changes))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the command line asks for.
#[derive(Debug)]
// Made once per process: the size of `Serve` costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Invocation {
    /// Run the server.
    Serve(Box<Startup>),
    /// Print the usage and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
}

/// The configuration to start with, and the file it came from.
#[derive(Debug, Clone)]
pub struct Startup {
    /// Every parameter's value.
    pub config: Config,
    /// The config file named on the command line, kept for `CONFIG REWRITE`.
    pub file: Option<PathBuf>,
}

/// The usage text printed by `--help` and after a bad flag.
pub fn usage() -> String {
    let mut text = String::from(
        "Usage: gocache [/path/to/gocache.conf] [OPTIONS]\n\n\
         Every parameter can be given in the config file (redis.conf syntax:\n\
         `name value` per line) or as a flag; flags win. Options:\n",
    );
    for p in PARAMS {
        let (value, meaning) = p.help.split_once("  ").unwrap_or(("", p.help));
        let mut flag = format!("--{} {value}", p.name);
        for alias in p.aliases {
            flag.push_str(&format!(", --{alias}"));
        }
        text.push_str(&format!(
            "  {flag:<38} {meaning} (default {:?})\n",
            p.default
        ));
    }
    text.push_str(&format!(
        "  {:<38} {}\n  {:<38} {}\n  {:<38} {}\n",
        "--snapshot-interval SECS",
        "the same as --save \"SECS 1\"; 0 = --save \"\"",
        "--help",
        "print this help and exit",
        "--version",
        "print the version and exit"
    ));
    text
}

/// Parses the arguments after the program name: an optional config file
/// first, then `--name value` or `--name=value` flags, which override it.
pub fn parse<I, S>(args: I) -> Result<Invocation, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Invocation::Help);
    }
    if args.iter().any(|a| a == "--version" || a == "-v") {
        return Ok(Invocation::Version);
    }
    let mut config = Config::default();
    let mut rest = args.as_slice();
    let mut file = None;
    if let Some(first) = rest.first().filter(|a| !a.starts_with("--")) {
        let path = PathBuf::from(first);
        file::load(&path, &mut config)?;
        file = Some(path);
        rest = &rest[1..];
    }
    let mut flags = rest.iter();
    while let Some(arg) = flags.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(Error::Usage(format!(
                "unexpected argument '{arg}': the config file must come first"
            )));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let interval = name == "snapshot-interval";
        let Some(param) = (if interval {
            lookup("save")
        } else {
            lookup(name)
        }) else {
            return Err(Error::Usage(format!("unknown option '--{name}'")));
        };
        let Some(mut value) = inline.or_else(|| flags.next().cloned()) else {
            return Err(Error::Usage(format!("option '--{name}' needs a value")));
        };
        if interval {
            let secs: u64 = value.parse().map_err(|_| {
                Error::Usage(format!("invalid value '{value}' for '--snapshot-interval'"))
            })?;
            value = if secs == 0 {
                String::new()
            } else {
                format!("{secs} 1")
            };
        }
        param.apply(&mut config, &value).map_err(|why| {
            Error::Usage(format!("invalid value '{value}' for '--{name}': {why}"))
        })?;
    }
    Ok(Invocation::Serve(Box::new(Startup { config, file })))
}

/// Save points from `(secs, changes)` pairs (for tests).
#[cfg(test)]
pub(crate) fn points(pairs: &[(u64, u64)]) -> Vec<SavePoint> {
    pairs
        .iter()
        .map(|&(secs, changes)| SavePoint { secs, changes })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Config {
        match parse(args.iter().copied()).unwrap() {
            Invocation::Serve(s) => s.config,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    #[test]
    fn every_default_is_valid_and_reads_back_as_itself() {
        let c = Config::default();
        for p in PARAMS {
            let mut fresh = c.clone();
            p.apply(&mut fresh, p.default).unwrap();
            assert_eq!(fresh, c, "{}", p.name);
        }
        assert_eq!(c.port, 6380);
        assert_eq!(c.bind, "127.0.0.1");
        assert_eq!(c.max_clients, 10_000);
        assert_eq!(c.max_line_bytes, 64 * 1024);
        assert_eq!(c.dbfilename, "dump.gcs");
        assert_eq!(c.save_points, points(&[(60, 1)]));
        assert!(c.protected_mode && c.stop_writes_on_bgsave_error);
        assert_eq!(c.timeout_secs, 0);
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for p in PARAMS {
            for name in std::iter::once(&p.name).chain(p.aliases) {
                assert!(seen.insert(*name), "{name} twice");
                assert_eq!(*name, name.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn flags_take_separate_or_inline_values_and_aliases() {
        let c = serve(&["--port", "0", "--max-clients=3", "--loglevel", "verbose"]);
        assert_eq!((c.port, c.max_clients, c.log_level), (0, 3, Level::Verbose));
        assert_eq!(serve(&["--maxclients", "7"]).max_clients, 7);
        assert!(!serve(&["--protected-mode", "no"]).protected_mode);
        assert_eq!(serve(&["--snapshot-interval", "0"]).save_points, vec![]);
        assert_eq!(
            serve(&["--save", "900 1 300 10"]).save_points,
            points(&[(900, 1), (300, 10)])
        );
        assert_eq!(
            serve(&["--proto-max-bulk-len", "1mb"]).proto_max_bulk_len,
            1 << 20
        );
        assert_eq!(serve(&["--requirepass", ""]).requirepass, None);
    }

    #[test]
    fn bad_flags_and_values_are_usage_errors_naming_them() {
        for args in [
            &["--nope", "1"][..],
            &["--port", "70000"],
            &["--port"],
            &["--max-clients", "0"],
            &["--loglevel", "loud"],
            &["--proto-max-bulk-len", "4294967296"],
            &["--save", "60"],
            &["--protected-mode", "maybe"],
            &["--appendonly", "maybe"],
            &["--appendfsync", "sometimes"],
            &["--appenddirname", "a/b"],
        ] {
            let err = parse(args.iter().copied()).unwrap_err();
            assert_eq!(err.exit_status(), 2, "{args:?}");
            assert!(err.to_string().contains(args[0]), "{args:?}: {err}");
        }
    }

    #[test]
    fn values_fail_with_redis_texts() {
        let mut c = Config::default();
        let set = |c: &mut Config, name: &str, v: &str| lookup(name).unwrap().apply(c, v);
        assert_eq!(
            set(&mut c, "timeout", "x"),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            set(&mut c, "timeout", "-1"),
            Err("argument must be between 0 and 2147483647 inclusive".into())
        );
        assert_eq!(
            set(&mut c, "protected-mode", "1"),
            Err("argument must be 'yes' or 'no'".into())
        );
        for bad in ["0 1", "  ", "60  1", "60", "x 1"] {
            assert_eq!(
                set(&mut c, "save", bad),
                Err("Invalid save parameters".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            set(&mut c, "loglevel", "loud"),
            Err("argument(s) must be one of the following: debug, verbose, notice, warning".into())
        );
        assert!(set(&mut c, "PROTECTED-MODE", "NO").is_ok());
        assert!(!c.protected_mode);
    }

    #[test]
    fn byte_counts_take_redis_units() {
        assert_eq!(bytes("64kb", 1, u64::MAX), Ok(65536));
        assert_eq!(bytes("1K", 1, u64::MAX), Ok(1000));
        assert_eq!(bytes("2gb", 1, u64::MAX), Ok(2 << 30));
        assert!(bytes("1tb", 1, u64::MAX).is_err());
        assert!(bytes("", 1, u64::MAX).is_err());
    }
}
