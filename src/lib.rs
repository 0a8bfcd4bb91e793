//! gocache: a Redis-inspired in-memory key-value server, built with the Rust
//! standard library alone.
//!
//! # Layout
//! - [`config`] is the table of every parameter, read from the command line
//!   and the config file (and rewritten by `CONFIG REWRITE`); [`log`] writes
//!   stderr log lines, rate-limited where a client could provoke them.
//! - [`shared`] is the state every thread shares (keyspace, clients,
//!   counters, [`settings`](shared::settings) in force, snapshotter, the
//!   queue of shutdown requests), apart from any socket:
//!   [`Shared::in_memory`](shared::Shared::in_memory) runs commands with no
//!   listener, which is how `tests/cases.rs` runs the case files.
//! - [`server`] binds, accepts (one OS thread per connection) and shuts down;
//!   its [`admission`](server::admission) decides who is served (protected
//!   mode, the client limit) and answers refused clients,
//!   [`housekeeping`](server::housekeeping) runs the clock (signals, the
//!   idle timeout). [`connection`] serves one client: read, parse, run,
//!   reply, within the limits of the README's "Security and limits".
//! - [`protocol`] holds the two dialects spoken on one port (the human line
//!   protocol and RESP2/RESP3) and the reply encoders.
//! - [`commands`] is the command table, one file per family, and dispatch;
//!   a handler's [`Context`](commands::Context) owns its keyspace guard, and
//!   every handler reads its options through one cursor,
//!   [`Args`](commands::Args).
//! - [`keyspace`] is the `RwLock`-guarded [`Store`](keyspace::Store) of
//!   numbered databases, each a map of keys to an [`entry`] (key, value and
//!   deadline in one shared allocation; a small collection packed inline
//!   in it, a big one behind it), and the one commit point every
//!   change passes through ([`changes`](keyspace::changes) says what
//!   changed; [`watch`](keyspace::watch) is `WATCH`'s registry,
//!   [`blocked`](keyspace::blocked) the blocked clients', served there);
//!   [`expiry`] and [`sweeper`] remove keys on their deadlines, the queue
//!   sharing one copy of each key (an [`entry::Key`]) among its hints.
//!   [`memory`] is the model of what an allocation costs, with which the
//!   keyspace counts its bytes as they change (`INFO memory`, `MEMORY
//!   USAGE`).
//! - [`value`] holds the collections a key can hold besides a string
//!   (hashes, lists, sets, sorted sets): the packed encodings
//!   ([`pack`](value::pack), [`intset`](value::intset)), the big ones
//!   ([`quicklist`](value::quicklist), [`table`](value::table),
//!   [`ztree`](value::ztree)), and the
//!   typed layers that give Redis's semantics and switch between them.
//! - [`snapshot`] writes the keyspace to disk crash-safely and loads it at
//!   start; [`aof`] is the append-only log: the commit point appends each
//!   commit's record to its [journal](aof::Journal), which writes and
//!   syncs with group commit before replies go out, and which is
//!   rewritten in the background and replayed at start; [`os`] declares what std lacks from the C library (signals,
//!   the open-file limit and a reserve of descriptors, shutting a socket
//!   down from another thread, returning freed memory, the lock on a
//!   snapshot's temporary file, the resident set size, waiting on a
//!   blocked client's sockets).
//! - [`session`] is per-connection state; [`stats`] the `INFO` counters;
//!   [`error`] the error types; [`glob`] the pattern matcher; [`clock`] time;
//!   [`key_hash`] the keyed hash of every table whose keys clients choose
//!   (a database's, a collection's); [`access`] what a key's access stamp
//!   (recency or frequency, for eviction and `OBJECT IDLETIME|FREQ`) means.
//!
//! Dependencies run one way: `server` → `connection` → `commands` →
//! `shared` → `keyspace`, `snapshot`, `session`, `config`. Nothing below
//! `commands` knows the command table, and nothing below `server` knows
//! the listener.
//!
//! `unsafe` lives in a few small modules only, each with a comment on why
//! it is sound: [`entry`] (the key allocations, and a collection's leaf in
//! its slot), [`value::pack`] and [`value::table`] (the thin allocations of
//! packed elements and table nodes), [`value::ztree`] (reading a sorted
//! set's table node through the address its tree holds), the leaf
//! conversions of [`value`]'s
//! `raw` module, and [`os`] (the C declarations).
//!
//! `main.rs` only parses the arguments and calls [`server::run`].
//!
//! # Locks
//!
//! Every lock, in the order they may be taken (a thread holding one may
//! take only those below it), and what may be done under each:
//!
//! 1. The keyspace lock (`RwLock<Store>`, [`keyspace`]): one per server.
//!    Under it: memory only. No socket or disk I/O, no sleep, no wait on a
//!    channel; never a second guard on it (a thread that holds one passes
//!    it down, as `EXEC` does through its [`Context`](commands::Context)).
//!    Snapshots clone entries under a read guard and write with none; a
//!    command builds its new entry before taking the write guard; the
//!    commit runs as the write guard drops, still under it.
//! 2. The expiry alarm's mutex ([`ExpiryState`](expiry::ExpiryState)):
//!    taken under the keyspace lock to ring the sweeper; held only to
//!    notify or to wait.
//! 3. The snapshotter's status mutex ([`Snapshotter`](snapshot::Snapshotter)):
//!    `INFO` may read it under the keyspace lock; the snapshot thread never
//!    takes the keyspace lock while holding it, and no file is written
//!    under it.
//! 4. The append-only log's journal mutex ([`Journal`](aof::Journal)):
//!    taken under the keyspace lock to append a commit's record (a copy
//!    of bytes, nothing more); no file is written or synced under it (the
//!    writing thread takes the bytes and releases it). Under it, a
//!    connection's outbox ([`Outbox`](aof::Outbox), a leaf) may be taken
//!    to hand replies over; the syncer takes an outbox alone, across one
//!    send that never waits.
//! 5. The settings ([`Settings`](shared::settings::Settings)): a mutex that
//!    serialises `CONFIG SET` and `CONFIG REWRITE` (the rewrite writes the
//!    config file under it, with no other lock held), then the `RwLock` of
//!    the configuration in force, held only to copy or replace it.
//! 6. Leaf mutexes, each held for a few instructions and never with
//!    another of them: the client registry, each client's names and socket
//!    handle (a blocking command copies its handle under the keyspace
//!    lock), the ops-per-second samples, the shutdown queue, the reserve
//!    of descriptors, the thaw mutex a writer waits on while writes are
//!    frozen for the final save (the keyspace guard is dropped first), and
//!    each blocked client's answer slot
//!    ([`Waiter`](keyspace::Waiter)): filled under the keyspace lock by
//!    the commit that serves it, taken by its own thread with or without
//!    it, and held by the serving thread, once the write guard is
//!    released, across the one send that never waits with which it writes
//!    the reply to the client. A blocked thread waits in `poll` with no
//!    lock at all; the wake byte is written after the write guard is
//!    released.
//!
//! A poisoned lock (a panic while it was held) is recovered, never
//! unwrapped: each is left consistent before anything that could panic, so
//! a panic in one connection never stops the others.

#![deny(missing_docs)]
// An entry's word holds its access stamp beside its address, so clippy
// counts it a mutable key; its hash and equality are its key bytes alone,
// which never change.
#![allow(clippy::mutable_key_type)]

pub mod log;

pub mod access;
pub mod aof;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connection;
pub mod entry;
pub mod error;
pub mod expiry;
pub mod glob;
pub mod key_hash;
pub mod keyspace;
pub mod memory;
pub mod os;
pub mod protocol;
pub mod server;
pub mod session;
pub mod shared;
pub mod snapshot;
pub mod stats;
pub mod sweeper;
pub mod value;
