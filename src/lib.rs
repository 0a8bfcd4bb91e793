//! gocache: a Redis-inspired in-memory key-value server, built with the Rust
//! standard library alone.
//!
//! # Layout
//! - [`config`] is the table of every parameter, read from the command line
//!   and the config file (and rewritten by `CONFIG REWRITE`); [`log`] writes
//!   stderr log lines, rate-limited where a client could provoke them.
//! - [`server`] binds, accepts (one OS thread per connection) and shuts down;
//!   its [`admission`](server::admission) decides who is served (protected
//!   mode, the client limit) and answers refused clients,
//!   [`housekeeping`](server::housekeeping) runs the clock (signals, the
//!   idle timeout), [`settings`](server::settings) holds the configuration
//!   in force. [`connection`] serves one client: read, parse, run, reply,
//!   within the limits of the README's "Security and limits".
//! - [`protocol`] holds the two dialects spoken on one port (the human line
//!   protocol and RESP2/RESP3) and the reply encoders.
//! - [`commands`] is the command table, one file per family, and dispatch.
//! - [`keyspace`] is the `RwLock`-guarded map of keys, each an [`entry`] (key,
//!   value and deadline in one shared allocation); [`expiry`] and [`sweeper`]
//!   remove keys on their deadlines, the queue sharing one copy of each key
//!   (an [`entry::Key`]) among its hints. [`memory`] is the model of what
//!   an allocation costs, with which the keyspace counts its bytes as they
//!   change (`INFO memory`, `MEMORY USAGE`).
//! - [`snapshot`] writes the keyspace to disk crash-safely and loads it at
//!   start; [`os`] declares what std lacks from the C library (signals,
//!   the open-file limit and a reserve of descriptors, shutting a socket
//!   down from another thread, returning freed memory, the lock on a
//!   snapshot's temporary file).
//! - [`session`] is per-connection state; [`stats`] the `INFO` counters;
//!   [`error`] the error types; [`glob`] the pattern matcher; [`clock`] time.
//!
//! `unsafe` lives in two small modules only: [`entry`] (the allocations) and
//! [`os`] (the C declarations), each with a comment on why it is sound.
//!
//! `main.rs` only parses the arguments and calls [`server::run`].

#![deny(missing_docs)]

pub mod log;

pub mod clock;
pub mod commands;
pub mod config;
pub mod connection;
pub mod entry;
pub mod error;
pub mod expiry;
pub mod glob;
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
