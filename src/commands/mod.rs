//! The command table, and dispatch from an argument list to a handler.
//!
//! Each family of commands lives in one file and exports a `COMMANDS` slice of
//! [`CommandSpec`]: name, arity in Redis's convention (negative = at least),
//! what the command does to the keyspace, and its handler. [`dispatch`] looks
//! the name up case-insensitively, checks arity and authentication the same way
//! for every command (so "wrong number of arguments" always reads alike),
//! queues inside `MULTI`, and turns a handler's error into an error reply.
//! Adding a command touches one family file.
//!
//! Handlers read their options through one cursor, [`Args`], so that every
//! option error (a missing value, an extra argument, a bad number, an unknown
//! subcommand) reads the same, as Redis's does.
//!
//! Handlers reach the keyspace only through [`Context::read`],
//! [`Context::write`] and [`Context::store`], never through a lock: the
//! context owns the command's guard and commits what the command changed
//! before the guard drops, so that `EXEC` runs a whole transaction under one
//! write guard and every change reaches the commit point. Handlers never do
//! socket I/O, and never hold a guard while they do disk I/O.

pub mod args;
pub mod connection;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod memory;
pub mod persistence;
pub mod replication;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

pub use args::{Args, is_word, keyword_of, parse_int};

/// One client of an in-memory server, for the families' unit tests; a
/// test module adds the readers it needs in an `impl` of its own.
#[cfg(test)]
pub(crate) mod test_client {
    use crate::config::Config;
    use crate::protocol::Reply;
    use crate::session::Session;
    use crate::shared::Shared;
    use std::net::SocketAddr;

    /// A session on a server of its own.
    pub(crate) struct Client {
        pub(crate) shared: Shared,
        pub(crate) session: Session,
    }

    impl Client {
        /// A fresh server with this one client.
        pub(crate) fn new() -> Client {
            let shared = Shared::in_memory(Config::default());
            let addr = SocketAddr::from(([127, 0, 0, 1], 50_000));
            let info = shared.clients.register(addr, addr);
            Client {
                session: Session::new(info, true),
                shared,
            }
        }

        /// Runs `line`, split at spaces, and returns its reply.
        pub(crate) fn run(&mut self, line: &str) -> Reply {
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            super::dispatch(&self.shared, &mut self.session, &argv, &[])
        }

        /// Changes the keyspace has committed.
        pub(crate) fn changes(&self) -> u64 {
            self.shared.keyspace.read().changes()
        }
    }
}

use crate::error::{CommandError, shown};
use crate::keyspace::{Db, DbWriter, Entry, Event, ReadGuard, Store, WriteGuard};
use crate::protocol::{Dialect, Reply};
use crate::session::Session;
use crate::shared::Shared;
use crate::value::{Collection, Encodings};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

/// What a handler returns: a reply, or an error that becomes one.
pub type CommandResult = Result<Reply, CommandError>;

/// A command's handler. `argv[0]` is the command name as sent.
pub type Handler = fn(&mut Context<'_>, &[&[u8]]) -> CommandResult;

/// What a command does to the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads keys only.
    Read,
    /// Changes keys.
    Write,
    /// Touches no key.
    Neither,
}

/// How a command behaves between `MULTI` and `EXEC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InMulti {
    /// Queued, run by `EXEC`.
    Queue,
    /// Runs at once (`MULTI`, `EXEC`, `DISCARD`, `QUIT`, `RESET`).
    RunNow,
    /// Refused: it would do blocking I/O under the transaction's lock, or
    /// Redis refuses it there too (its `no_multi` commands).
    Refuse,
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Argument count including the name; negative means "at least -arity".
    pub arity: i32,
    /// Keyspace access.
    pub access: Access,
    /// Allowed before `AUTH` succeeds.
    pub before_auth: bool,
    /// Behaviour inside `MULTI`.
    pub in_multi: InMulti,
    /// Key positions for `COMMAND`: first, last (negative from the end), step.
    pub keys: (i32, i32, i32),
    /// May grow memory (Redis's `denyoom` flag): refused when memory is
    /// over `maxmemory` and nothing can be evicted.
    pub grows: bool,
    /// The handler.
    pub run: Handler,
}

impl CommandSpec {
    /// A command of `access` that runs after authentication and is queued in `MULTI`.
    pub const fn new(name: &'static str, arity: i32, access: Access, run: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            access,
            before_auth: false,
            in_multi: InMulti::Queue,
            keys: (0, 0, 0),
            grows: false,
            run,
        }
    }

    /// Marks the command as one that may grow memory (see `grows`).
    pub const fn grows(mut self) -> Self {
        self.grows = true;
        self
    }

    /// Sets the key positions reported by `COMMAND`.
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.keys = (first, last, step);
        self
    }

    /// Allows the command before authentication.
    pub const fn before_auth(mut self) -> Self {
        self.before_auth = true;
        self
    }

    /// Sets the behaviour inside `MULTI`.
    pub const fn in_multi(mut self, in_multi: InMulti) -> Self {
        self.in_multi = in_multi;
        self
    }

    fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

/// Every family's rows, with the group `COMMAND DOCS` names it by
/// (Redis's groups).
fn families() -> [(&'static [CommandSpec], &'static str); 12] {
    [
        (connection::COMMANDS, "connection"),
        (strings::COMMANDS, "string"),
        (keys::COMMANDS, "generic"),
        (server::COMMANDS, "server"),
        (transactions::COMMANDS, "transactions"),
        (persistence::COMMANDS, "server"),
        (replication::COMMANDS, "server"),
        (memory::COMMANDS, "server"),
        (sets::COMMANDS, "set"),
        (lists::COMMANDS, "list"),
        (hashes::COMMANDS, "hash"),
        (zsets::COMMANDS, "sorted-set"),
    ]
}

/// Every command, in table order.
pub fn table() -> impl Iterator<Item = &'static CommandSpec> {
    families().into_iter().flat_map(|(rows, _)| rows.iter())
}

/// The group `COMMAND DOCS` gives `spec`: its family's.
pub fn group_of(spec: &CommandSpec) -> &'static str {
    families()
        .into_iter()
        .find(|(rows, _)| rows.as_ptr_range().contains(&std::ptr::from_ref(spec)))
        .map_or("server", |(_, group)| group)
}

/// Every command, in table order, as a slice (built once).
fn rows() -> &'static [&'static CommandSpec] {
    static ROWS: OnceLock<Vec<&'static CommandSpec>> = OnceLock::new();
    ROWS.get_or_init(|| table().collect())
}

/// Finds a command by name, in any letter case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_row(name).map(|(_, spec)| spec)
}

/// The command table's hash of a name: FNV-1a. The table is fixed, so
/// names a client picks cannot crowd it (nothing they send is stored in
/// it); a keyed hash like the keyspace's would buy nothing here but cost.
#[derive(Clone, Copy, Default)]
struct NameHashing;

impl std::hash::BuildHasher for NameHashing {
    type Hasher = NameHasher;
    fn build_hasher(&self) -> NameHasher {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

/// FNV-1a's state (see [`NameHashing`]).
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A name's length prefix, one step rather than eight.
    #[inline]
    fn write_usize(&mut self, len: usize) {
        self.0 = (self.0 ^ len as u64).wrapping_mul(0x0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Finds a command and its position in the table, by name in any case.
fn lookup_row(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    type Rows = HashMap<&'static [u8], (usize, &'static CommandSpec), NameHashing>;
    static BY_NAME: OnceLock<Rows> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        rows()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), (i, *c)))
            .collect()
    });
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    by_name.get(&*lower).copied()
}

/// The name of the command at table position `row - 1` (as stored in
/// [`ClientInfo::last_command`](crate::session::ClientInfo)), or `NULL`
/// for 0.
pub fn name_at(row: usize) -> &'static str {
    row.checked_sub(1)
        .and_then(|i| rows().get(i))
        .map_or("NULL", |c| c.name)
}

/// A read view of the selected database: through a fresh read guard, or
/// through the guard the command (or its transaction) already holds.
pub enum DbRead<'a> {
    /// A shared guard taken for this read, and the database's number.
    Guard(ReadGuard<'a>, usize),
    /// The database under a guard already held.
    Held(&'a Db),
}

impl Deref for DbRead<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        match self {
            DbRead::Guard(g, db) => g.db(*db),
            DbRead::Held(db) => db,
        }
    }
}

/// The keyspace access a command holds.
enum Held<'a> {
    /// None yet.
    Nothing,
    /// A write guard taken by this command, committed when it drops.
    Write(WriteGuard<'a>),
    /// The store under the guard its `EXEC` holds.
    Exec(&'a mut Store),
}

/// A request's big arguments, each in a buffer of its own, which a stored
/// value can keep instead of copying.
#[derive(Clone, Copy)]
pub struct ArgBuffers<'a>(&'a [Arc<Vec<u8>>]);

impl ArgBuffers<'_> {
    /// An entry for `key` holding `value`, one of the request's arguments:
    /// shared with its buffer if it has one, copied otherwise.
    #[inline]
    pub fn entry(self, key: &[u8], value: &[u8], expires_at: u64) -> Entry {
        match self
            .0
            .iter()
            .find(|o| o.as_ptr() == value.as_ptr() && o.len() == value.len())
        {
            Some(buffer) => Entry::with_shared_value(key, buffer.clone(), expires_at),
            None => Entry::new(key, value, expires_at),
        }
    }
}

/// The store under the guard held, if any.
fn held_store<'h>(held: &'h mut Held<'_>) -> Option<&'h mut Store> {
    match held {
        Held::Write(guard) => Some(guard),
        Held::Exec(store) => Some(store),
        Held::Nothing => None,
    }
}

/// What a handler may use: the shared state, its connection's session, the
/// time, and the keyspace.
///
/// The context owns the command's keyspace access. The first
/// [`Context::write`] (or [`Context::store`]) takes the write guard, and
/// every later one in the same command uses it: one guard per command, one
/// for a whole `EXEC`. When the context drops, after the handler has
/// returned, the guard commits the command's changes (see
/// [`keyspace`](crate::keyspace)) and only then releases the lock. Taking
/// it at the first write, not before the handler runs, lets a handler
/// build its new entry before any writer waits. A command that only reads
/// takes a read guard per [`Context::read`] (one, for every read command).
pub struct Context<'a> {
    /// Shared server state.
    pub server: &'a Shared,
    /// This connection's state.
    pub session: &'a mut Session,
    /// Unix milliseconds when the command started; one instant per command.
    pub now: u64,
    held: Held<'a>,
    /// The request's big arguments, in buffers of their own.
    owned: &'a [Arc<Vec<u8>>],
}

impl<'a> Context<'a> {
    /// A context for one top-level command.
    pub fn new(server: &'a Shared, session: &'a mut Session) -> Self {
        Context {
            server,
            session,
            now: crate::clock::now_ms(),
            held: Held::Nothing,
            owned: &[],
        }
    }

    /// An entry for `key` holding `value` (one of this request's
    /// arguments): a big argument received into a buffer of its own is
    /// kept, not copied; any other is copied into the entry.
    pub fn entry(&self, key: &[u8], value: &[u8], expires_at: u64) -> Entry {
        self.arg_buffers().entry(key, value, expires_at)
    }

    /// The request's big arguments, usable while the keyspace guard is held.
    pub fn arg_buffers(&self) -> ArgBuffers<'a> {
        ArgBuffers(self.owned)
    }

    /// Reads the selected database.
    pub fn read(&self) -> DbRead<'_> {
        let db = self.session.db;
        match &self.held {
            Held::Exec(store) => DbRead::Held(store.db(db)),
            Held::Write(guard) => DbRead::Held(guard.db(db)),
            Held::Nothing => DbRead::Guard(self.server.keyspace.read(), db),
        }
    }

    /// Writes the selected database.
    #[inline]
    pub fn write(&mut self) -> DbWriter<'_> {
        let db = self.session.db;
        self.store().writer(db)
    }

    /// Commits this command's changes and releases its write guard now,
    /// for a handler done with the keyspace that still has work to do:
    /// freeing the value it replaced, building its reply. No writer waits
    /// on that. Under `EXEC` it does nothing (the transaction keeps its
    /// guard). Call it only after the command's last keyspace access: a
    /// write after it would take a second guard.
    #[inline]
    pub fn release(&mut self) {
        if matches!(self.held, Held::Write(_)) {
            self.held = Held::Nothing;
        }
    }

    /// The whole store under the command's write guard (taken now if it
    /// is not held yet), for what spans databases. Waits while a final
    /// snapshot is being taken, so that no write is acknowledged after the
    /// snapshot that should hold it.
    #[inline]
    pub fn store(&mut self) -> &mut Store {
        if matches!(self.held, Held::Nothing) {
            self.held = Held::Write(self.server.write_keyspace());
        }
        match held_store(&mut self.held) {
            Some(store) => store,
            None => unreachable!("the guard was just taken"),
        }
    }

    /// Runs `f` on the whole store, under the guard already held or a
    /// fresh read guard (never a second guard under `EXEC`'s).
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        match &self.held {
            Held::Exec(store) => f(store),
            Held::Write(guard) => f(guard),
            Held::Nothing => f(&self.server.keyspace.read()),
        }
    }

    /// The session and the store under the command's write guard, together
    /// (`EXEC` runs each queued command with both).
    pub fn session_and_store(&mut self) -> (&mut Session, &mut Store) {
        self.store();
        match held_store(&mut self.held) {
            Some(store) => (self.session, store),
            None => unreachable!("the guard was just taken"),
        }
    }

    /// Exact count of live keys in the selected database (sweeps what is
    /// due first).
    pub fn live_len(&mut self) -> usize {
        let db = self.session.db;
        self.live_lens(|store, _| store.db(db).stored_len())
    }

    /// Sweeps every key due by now, then runs `count` on the store under
    /// the same guard as the last sweep, so nothing past its deadline is
    /// left in what it counts. Without a guard held, see
    /// [`Keyspace::swept`](crate::keyspace::Keyspace::swept).
    pub fn live_lens<R>(&mut self, count: impl FnOnce(&Store, u64) -> R) -> R {
        let now = self.now;
        let Some(store) = held_store(&mut self.held) else {
            return self.server.keyspace.swept(now, count);
        };
        while store.sweep(now, crate::expiry::SWEEP_BATCH).1 {}
        count(store, now)
    }

    /// Edits the collection of type `C` at `key` in the selected
    /// database: creates it when absent if `create` (else answers
    /// `Ok(None)`), runs `change` on it in place, and records the edit as
    /// the event `event` with the command `replay` builds from the result
    /// (for a log; called only if one listens). An emptied collection is
    /// removed. `WRONGTYPE` for a key of another type. For a change that
    /// may leave the collection as it was, see [`Context::edit_maybe`].
    pub fn edit<C: Collection, R>(
        &mut self,
        key: &[u8],
        create: bool,
        event: &'static str,
        change: impl FnOnce(&mut C, &Encodings) -> R,
        replay: impl FnOnce(&R) -> Vec<Vec<u8>>,
    ) -> Result<Option<R>, CommandError> {
        self.edit_maybe(key, create, event, |c, e| (change(c, e), true), replay)
    }

    /// [`Context::edit`] for a change that may do nothing (`SREM` of a
    /// non-member, `LINSERT` without its pivot): `change` returns, beside
    /// its result, whether it changed the collection, and only a change is
    /// recorded (so it marks no `WATCH` and counts toward no save point),
    /// as in Redis.
    pub fn edit_maybe<C: Collection, R>(
        &mut self,
        key: &[u8],
        create: bool,
        event: &'static str,
        change: impl FnOnce(&mut C, &Encodings) -> (R, bool),
        replay: impl FnOnce(&R) -> Vec<Vec<u8>>,
    ) -> Result<Option<R>, CommandError> {
        let limits = self.server.settings.encodings();
        let now = self.now;
        self.write()
            .edit::<C, _>(
                key,
                now,
                create,
                Event::Edited(event),
                |value| match C::of(value) {
                    Some(collection) => {
                        let (result, changed) = change(collection, &limits);
                        (Some(result), changed)
                    }
                    None => (None, false),
                },
                |result| result.as_ref().map_or_else(Vec::new, replay),
            )
            .map(Option::flatten)
    }

    /// A fresh seed for this command's random picks: the time, the client,
    /// and a count of seeds handed out, so that two commands in one
    /// microsecond still draw differently.
    pub fn random_seed(&self) -> u64 {
        static HANDED_OUT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        crate::clock::now_us()
            ^ self.session.client.id.rotate_left(32)
            ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// The collection encoding thresholds in force.
    pub fn encodings(&self) -> Encodings {
        self.server.settings.encodings()
    }

    /// Whether the command runs inside `EXEC`.
    pub fn in_exec(&self) -> bool {
        matches!(self.held, Held::Exec(_))
    }

    /// Counts a keyspace hit or miss for `INFO`.
    pub fn count_lookup(&mut self, hit: bool) {
        if hit {
            self.session.counters.hits += 1;
        } else {
            self.session.counters.misses += 1;
        }
    }
}

/// The most bytes a reply of random picks with repeats (`HRANDFIELD` or
/// `SRANDMEMBER` with a negative count) may be expected to take: a count a
/// client sends cannot make the server build more (Redis has no limit).
pub const MOST_RANDOM_REPLY_BYTES: usize = 1 << 30;

/// The command a log replays for an edit: `name key args...`.
pub fn replay<'a>(
    name: &[u8],
    key: &[u8],
    args: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Vec<u8>> {
    let mut line = vec![name.to_vec(), key.to_vec()];
    line.extend(args.into_iter().map(<[u8]>::to_vec));
    line
}

/// The collection of type `C` in `entry` (a lookup's result): `None` for
/// no key, `WRONGTYPE` for a key of another type.
pub fn collection_of<C: Collection>(
    entry: Option<&Entry>,
) -> Result<Option<C::Ref<'_>>, CommandError> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    entry
        .collection()
        .and_then(C::of_ref)
        .map(Some)
        .ok_or(CommandError::WrongType)
}

/// The string in `entry` (a lookup's result): `None` for no key,
/// `WRONGTYPE` for a collection.
pub fn string_of(entry: Option<&Entry>) -> Result<Option<&[u8]>, CommandError> {
    match entry {
        None => Ok(None),
        Some(entry) => entry.string().map(Some).ok_or(CommandError::WrongType),
    }
}

/// The error a write gets while a failed save stops writes (Redis's text).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

static CROSS_PROTOCOL_LOG: crate::log::RateLimited = crate::log::RateLimited::new(1000);

/// Whether `name` starts an HTTP request or header: a browser made to
/// send a request to this port (cross-protocol scripting) sends `POST` and
/// `Host:` lines, which must never reach a command.
fn is_http(name: &[u8]) -> bool {
    is_word(name, "post") || is_word(name, "host:")
}

/// Runs one request and returns its reply. `owned` holds the request's big
/// arguments (see [`Context::entry`]).
pub fn dispatch(
    server: &Shared,
    session: &mut Session,
    argv: &[&[u8]],
    owned: &[Arc<Vec<u8>>],
) -> Reply {
    if is_http(argv[0]) {
        // Before anything else, as Redis does: no reply, the connection closes.
        CROSS_PROTOCOL_LOG.write(
            crate::log::Level::Warning,
            format_args!(
                "possible cross-protocol attack from {}: it sent an HTTP request ({}); connection closed",
                session.client.addr,
                shown(argv[0])
            ),
        );
        session.close_now = true;
        return Reply::Nil;
    }
    let Some((row, spec)) = lookup_row(argv[0]) else {
        return reject(session, unknown_command(argv));
    };
    if !spec.arity_ok(argv.len()) {
        return reject_command(
            server,
            session,
            spec,
            CommandError::WrongArity(spec.name.to_string()),
        );
    }
    if !session.authenticated && !spec.before_auth {
        return reject_command(server, session, spec, CommandError::NoAuth);
    }
    if server.snapshotter.refusing_writes() && refused_while_saves_fail(spec, session) {
        return reject_command(server, session, spec, CommandError::other(MISCONF));
    }
    if server.aof.journal.failing() && refused_while_saves_fail(spec, session) {
        if let Some(refusal) = server.aof.refusal() {
            return reject_command(server, session, spec, CommandError::other(refusal));
        }
    }
    if server.settings.maxmemory() != 0
        && refused_when_full(spec, session)
        && server
            .make_room(
                crate::clock::now_ms(),
                crate::shared::EVICT_BATCHES_PER_COMMAND,
            )
            .is_err()
    {
        return reject_command(server, session, spec, CommandError::other(OOM));
    }
    if let Some(tx) = session.multi.as_mut() {
        match spec.in_multi {
            InMulti::Queue => {
                return match tx.queue(argv, spec.access == Access::Write, spec.grows) {
                    Ok(()) => Reply::status("QUEUED"),
                    Err(e) => Reply::Error(e),
                };
            }
            InMulti::Refuse => {
                return reject(
                    session,
                    CommandError::other("ERR Command not allowed inside a transaction"),
                );
            }
            InMulti::RunNow => {}
        }
    }
    session.counters.commands += 1;
    session
        .client
        .last_command
        .store(row + 1, Ordering::Relaxed);
    let mut ctx = Context::new(server, session);
    ctx.owned = owned;
    (spec.run)(&mut ctx, argv).unwrap_or_else(Reply::Error)
}

/// Whether `spec` is refused while failed saves stop writes: every write,
/// `EXEC` of a transaction that writes, and `PING` (so that health checks
/// notice), as in Redis.
fn refused_while_saves_fail(spec: &CommandSpec, session: &Session) -> bool {
    match spec.name {
        "exec" => session.multi.as_ref().is_some_and(|tx| tx.has_write),
        "ping" => true,
        _ => spec.access == Access::Write,
    }
}

/// The error a growing command gets when memory is over `maxmemory` and
/// nothing can be evicted (Redis's text).
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Whether `spec` is refused when memory is full: a command that may grow
/// memory, `EXEC` of a transaction holding one, and anything queued in
/// `MULTI` but `EXEC`, `DISCARD`, `QUIT` and `RESET` (a queue grows too),
/// as in Redis. Keys are evicted for these first.
fn refused_when_full(spec: &CommandSpec, session: &Session) -> bool {
    match spec.name {
        "exec" => session.multi.as_ref().is_some_and(|tx| tx.grows),
        "discard" | "quit" | "reset" => false,
        _ => spec.grows || session.multi.is_some(),
    }
}

/// Runs a queued command under `EXEC`'s write guard.
pub fn run_held(
    server: &Shared,
    session: &mut Session,
    store: &mut Store,
    now: u64,
    argv: &[&[u8]],
) -> Reply {
    let Some(spec) = lookup(argv[0]) else {
        return Reply::Error(unknown_command(argv));
    };
    session.counters.commands += 1;
    let mut ctx = Context {
        server,
        session,
        now,
        held: Held::Exec(store),
        owned: &[],
    };
    (spec.run)(&mut ctx, argv).unwrap_or_else(Reply::Error)
}

/// An error while queuing in `MULTI` also dooms the transaction.
/// A known command refused before it runs (arity, authentication, failed
/// saves). `EXEC` refused so discards its transaction and forgets its
/// watches, answering `EXECABORT` with the reason, as Redis does (even
/// outside `MULTI`); any other refusal dooms the transaction being queued.
fn reject_command(
    server: &Shared,
    session: &mut Session,
    spec: &CommandSpec,
    error: CommandError,
) -> Reply {
    if spec.name != "exec" {
        return reject(session, error);
    }
    session.multi = None;
    if !session.watching.keys.is_empty() {
        server.keyspace.write().unwatch(&mut session.watching);
    }
    let text = error.to_string();
    // Redis builds its own refusals without the `ERR ` code (only shared
    // errors such as NOAUTH and MISCONF keep theirs).
    let reason = text.strip_prefix("ERR ").unwrap_or(&text);
    Reply::Error(CommandError::other(format!(
        "EXECABORT Transaction discarded because of: {reason}"
    )))
}

fn reject(session: &mut Session, error: CommandError) -> Reply {
    if let Some(tx) = session.multi.as_mut() {
        tx.failed = true;
    }
    Reply::Error(error)
}

fn unknown_command(argv: &[&[u8]]) -> CommandError {
    // As Redis: the name and then arguments while they fit in 128 bytes,
    // each cut to what is left, so the error is bounded however long they are.
    let mut args = Vec::new();
    let mut used = 0;
    for arg in &argv[1..] {
        if used >= crate::error::QUOTED_MAX {
            break;
        }
        let a = shown_within(arg, crate::error::QUOTED_MAX - used);
        used += a.len() + 3;
        args.push(a);
    }
    CommandError::UnknownCommand {
        name: shown(argv[0]).into_owned(),
        args,
    }
}

/// At most `max` bytes of `arg` as text.
fn shown_within(arg: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&arg[..arg.len().min(max)]).into_owned()
}

/// The dialect name of a connection's RESP version.
pub fn resp_dialect(proto: u8) -> Dialect {
    if proto == 3 {
        Dialect::Resp3
    } else {
        Dialect::Resp2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_unique_lower_case_and_fits_the_lookup_buffer() {
        let mut seen = std::collections::HashSet::new();
        for c in table() {
            assert!(seen.insert(c.name), "{} twice", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= 32);
            assert_ne!(c.arity, 0);
        }
    }

    #[test]
    fn lookup_ignores_case_and_rejects_long_names() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn unknown_command_text_is_bounded() {
        let long = vec![b'x'; 1 << 20];
        let argv: Vec<&[u8]> = vec![&long, &long, &long];
        let text = unknown_command(&argv).to_string();
        assert!(text.len() < 400, "{}", text.len());
    }

    #[test]
    fn http_request_lines_are_recognised_in_any_case() {
        for name in [&b"POST"[..], b"post", b"Host:", b"HOST:"] {
            assert!(is_http(name));
        }
        for name in [&b"GET"[..], b"host", b"posts"] {
            assert!(!is_http(name));
        }
    }
}
