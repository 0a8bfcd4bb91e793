//! Per-connection state, and the registry of connected clients.
//!
//! A [`Session`] belongs to one connection thread: protocol version,
//! authentication, a transaction being queued, counters not yet published.
//! A [`ClientInfo`] is the part other threads may read (`CLIENT LIST`,
//! `INFO clients`): it is shared through the [`Clients`] registry and holds
//! only atomics and a small mutex, never the keyspace.
//!
//! A blocking command (`BLPOP` and its kin) that must wait leaves its
//! registered [`Waiter`] in [`Session::blocked`]; the connection then
//! waits on its [`WakeSocket`] (made the first time, kept for the
//! connection's life) and its client's socket, with no lock held, and
//! [`ClientInfo::blocked`] says so to other threads meanwhile.

use crate::keyspace::{Waiter, WakeSocket};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Most commands one `MULTI` may queue, so a client cannot grow it forever.
pub const MAX_QUEUED: usize = 1_000_000;

/// Most argument bytes one `MULTI` may queue (Redis's query-buffer limit).
pub const MAX_QUEUED_BYTES: usize = 1 << 30;

/// A transaction being queued between `MULTI` and `EXEC`.
#[derive(Debug, Default)]
pub struct Transaction {
    /// Queued requests, each an owned argument list.
    pub queued: Vec<Vec<Vec<u8>>>,
    /// Argument bytes queued so far.
    pub queued_bytes: usize,
    /// Set when a command failed to queue; `EXEC` then aborts.
    pub failed: bool,
    /// Whether a queued command writes (`EXEC` is then a write).
    pub has_write: bool,
    /// Whether a queued command may grow memory (Redis's `denyoom`), so
    /// that `EXEC` is refused when memory is full and nothing can go.
    pub grows: bool,
}

impl Transaction {
    /// Queues a copy of `argv`; refuses (and dooms the transaction) past
    /// [`MAX_QUEUED`] commands or [`MAX_QUEUED_BYTES`] bytes.
    pub fn queue(
        &mut self,
        argv: &[&[u8]],
        writes: bool,
        grows: bool,
    ) -> Result<(), crate::error::CommandError> {
        let bytes: usize = argv.iter().map(|a| a.len()).sum();
        if self.queued.len() >= MAX_QUEUED || self.queued_bytes + bytes > MAX_QUEUED_BYTES {
            self.failed = true;
            return Err(crate::error::CommandError::other(
                "ERR transaction too large: too many commands or bytes queued",
            ));
        }
        self.queued_bytes += bytes;
        self.has_write |= writes;
        self.grows |= grows;
        self.queued.push(argv.iter().map(|a| a.to_vec()).collect());
        Ok(())
    }
}

/// Counters a connection gathers per batch and then adds to the server's.
#[derive(Debug, Default)]
pub struct LocalCounters {
    /// Commands run.
    pub commands: u64,
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
}

/// What other threads may see of a client.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique, increasing id (`CLIENT ID`).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub local_addr: SocketAddr,
    /// Unix ms when it connected.
    pub connected_at: u64,
    /// Unix ms of its last interaction: bytes read or a reply written.
    pub last_active: AtomicU64,
    /// Unix ms when its last request completed (or it connected): what
    /// `timeout` measures, so a request trickled in byte by byte is idle.
    pub last_request: AtomicU64,
    /// What its buffers hold, as of its last batch (`CLIENT LIST`).
    pub memory: BufferMemory,
    /// Its socket, while it is open, so that another thread can close it
    /// (the idle timeout); cleared before the socket is closed.
    pub socket: Mutex<Option<crate::os::SocketHandle>>,
    /// RESP version in use (2 or 3).
    pub proto: AtomicU8,
    /// The selected database.
    pub db: AtomicUsize,
    /// The last command's position in the command table, plus one (0: none
    /// yet); [`crate::commands::name_at`] names it.
    pub last_command: AtomicUsize,
    /// Name set with `CLIENT SETNAME` / `HELLO SETNAME`, and library info.
    pub names: Mutex<ClientNames>,
    /// Whether it is waiting in a blocking command (`CLIENT LIST`'s flag
    /// `b`; the idle timeout spares it, as Redis's does).
    pub blocked: AtomicBool,
}

/// A connection's buffer sizes, published once per batch for `CLIENT LIST`
/// and `INFO clients`.
#[derive(Debug, Default)]
pub struct BufferMemory {
    /// Bytes of a request received but not yet run (`qbuf`).
    pub query: AtomicUsize,
    /// Read buffer room beyond them (`qbuf-free`).
    pub query_free: AtomicUsize,
    /// What the argument lists hold (`argv-mem`).
    pub args: AtomicUsize,
    /// Replies not yet written (`omem`), and the reply buffer's room.
    pub output: AtomicUsize,
}

impl BufferMemory {
    /// Every buffer's bytes together (`tot-mem`).
    pub fn total(&self) -> usize {
        self.query.load(Ordering::Relaxed)
            + self.query_free.load(Ordering::Relaxed)
            + self.args.load(Ordering::Relaxed)
            + self.output.load(Ordering::Relaxed)
    }
}

/// The strings a client may set about itself.
#[derive(Debug, Default, Clone)]
pub struct ClientNames {
    /// `CLIENT SETNAME`.
    pub name: String,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: String,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: String,
}

impl ClientInfo {
    /// A copy of the client's names.
    pub fn names(&self) -> ClientNames {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Shuts its socket down from another thread, if it is still open.
    /// Returns whether it was.
    pub fn close_socket(&self) -> bool {
        let socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        match socket.as_ref() {
            Some(handle) => {
                // The connection thread clears the handle under this lock
                // before it closes the socket, so the handle is still its.
                handle.shut_down();
                true
            }
            None => false,
        }
    }

    /// Changes the client's names.
    pub fn set_names(&self, f: impl FnOnce(&mut ClientNames)) {
        f(&mut self.names.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// One `CLIENT LIST` line, without its newline; `last_command` names
    /// its last command (`NULL` for none).
    pub fn list_line(&self, now: u64, last_command: &str) -> String {
        let names = self.names();
        let age = now.saturating_sub(self.connected_at) / 1000;
        let idle = now.saturating_sub(self.last_active.load(Ordering::Relaxed)) / 1000;
        let m = &self.memory;
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.local_addr,
            names.name,
            age,
            idle,
            if self.blocked.load(Ordering::Relaxed) {
                "b"
            } else {
                "N"
            },
            self.db.load(Ordering::Relaxed),
            m.query.load(Ordering::Relaxed),
            m.query_free.load(Ordering::Relaxed),
            m.args.load(Ordering::Relaxed),
            m.query.load(Ordering::Relaxed) + m.query_free.load(Ordering::Relaxed),
            m.output.load(Ordering::Relaxed),
            m.total(),
            last_command,
            self.proto.load(Ordering::Relaxed),
            names.lib_name,
            names.lib_ver,
        )
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new client and returns its info.
    pub fn register(&self, addr: SocketAddr, local_addr: SocketAddr) -> Arc<ClientInfo> {
        let now = crate::clock::now_ms();
        let info = Arc::new(ClientInfo {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            addr,
            local_addr,
            connected_at: now,
            last_active: AtomicU64::new(now),
            last_request: AtomicU64::new(now),
            memory: BufferMemory::default(),
            socket: Mutex::new(None),
            proto: AtomicU8::new(2),
            db: AtomicUsize::new(0),
            last_command: AtomicUsize::new(0),
            names: Mutex::new(ClientNames::default()),
            blocked: AtomicBool::new(false),
        });
        self.lock().insert(info.id, info.clone());
        info
    }

    /// Closes the sockets of clients idle (no request completed) for more
    /// than `max_idle_ms`, apart from blocked ones (as Redis spares them);
    /// their threads then see the end of the stream and finish. Returns how
    /// many were closed.
    pub fn close_idle(&self, now: u64, max_idle_ms: u64) -> usize {
        let idle: Vec<Arc<ClientInfo>> = self
            .lock()
            .values()
            .filter(|c| !c.blocked.load(Ordering::Relaxed))
            .filter(|c| now.saturating_sub(c.last_request.load(Ordering::Relaxed)) > max_idle_ms)
            .cloned()
            .collect();
        idle.iter().filter(|c| c.close_socket()).count()
    }

    /// Removes a client that disconnected.
    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// How many clients are connected.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The client with `id`, if it is connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.lock().get(&id).cloned()
    }

    /// A copy of the list, in id order.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's state, owned by its thread.
pub struct Session {
    /// What others see of this client.
    pub client: Arc<ClientInfo>,
    /// RESP version for RESP requests: 2 or 3.
    pub proto: u8,
    /// Whether `AUTH` has succeeded (or no password is set).
    pub authenticated: bool,
    /// The selected database (`SELECT`).
    pub db: usize,
    /// Whether the client has shown it is a program, not a person at `nc`:
    /// it sent a RESP request or a `HELLO`. Its inline requests are then
    /// answered in RESP, and an inline protocol error closes it, as in
    /// Redis. Never cleared, not even by `RESET`.
    pub program: bool,
    /// A transaction being queued, between `MULTI` and `EXEC`.
    pub multi: Option<Transaction>,
    /// The keys this client watches (`WATCH`), registered in the keyspace.
    pub watching: crate::keyspace::Watching,
    /// Close the connection once the current reply is written (`QUIT`).
    pub close_after_reply: bool,
    /// Close the connection at once, without a reply (a cross-protocol
    /// request: see [`dispatch`](crate::commands::dispatch)).
    pub close_now: bool,
    /// Counters not yet added to the server's.
    pub counters: LocalCounters,
    /// The waiter a blocking command registered, which the connection
    /// waits on before it runs anything else (see the module's doc).
    pub blocked: Option<Arc<Waiter>>,
    /// The socket pair a blocked wait is woken through, made on first use.
    wake: Option<WakeSocket>,
}

impl Session {
    /// A fresh session; `authenticated` when the server needs no password.
    pub fn new(client: Arc<ClientInfo>, authenticated: bool) -> Self {
        Session {
            client,
            proto: 2,
            authenticated,
            db: 0,
            program: false,
            multi: None,
            watching: crate::keyspace::Watching::default(),
            close_after_reply: false,
            close_now: false,
            counters: LocalCounters::default(),
            blocked: None,
            wake: None,
        }
    }

    /// The connection's wake socket pair, made the first time.
    pub fn wake_socket(&mut self) -> std::io::Result<&WakeSocket> {
        if self.wake.is_none() {
            self.wake = Some(WakeSocket::new()?);
        }
        match &self.wake {
            Some(wake) => Ok(wake),
            None => unreachable!("the wake socket was just made"),
        }
    }

    /// Selects database `db`, keeping the shared view in step.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.client.db.store(db, Ordering::Relaxed);
    }

    /// Sets the RESP version, keeping the shared view in step.
    pub fn set_proto(&mut self, proto: u8) {
        self.proto = proto;
        self.client.proto.store(proto, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_refuses_more_bytes_than_the_limit_and_is_doomed() {
        let mut tx = Transaction::default();
        assert!(tx.queue(&[b"SET", b"k", b"v"], true, true).is_ok());
        // Zeroed and never touched: the allocator maps it lazily.
        let huge = vec![0u8; MAX_QUEUED_BYTES];
        assert!(tx.queue(&[b"SET", b"k", &huge], true, true).is_err());
        assert!(tx.failed);
        assert_eq!(tx.queued.len(), 1);
    }
}
