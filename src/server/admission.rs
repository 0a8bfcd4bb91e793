//! Who gets a connection thread: protected mode, the client limit, and the
//! answer a refused client gets.
//!
//! [`admit`] runs on the accept loop for each accepted socket. A client from
//! another host while protected mode is on and no password is set gets
//! `-DENIED`; one past `maxclients` gets `ERR max number of clients
//! reached`. Either way it is handed to the [`Refuser`], a thread of its own
//! that waits (briefly, without blocking anyone) for the client's first
//! byte, answers in the dialect that byte picks (RESP for `*`, the line
//! protocol otherwise), drains what the client sent so the answer is not
//! lost to a reset, and closes. The accept loop itself never reads from or
//! waits on a client, and the refuser holds at most [`MAX_PENDING`]
//! sockets, so a flood of refused clients costs a bounded number of
//! descriptors.
//!
//! Refusals are logged at most once a second (see
//! [`crate::log::RateLimited`]), so a client cannot fill the log.

use super::{CONNECTION_STACK, ConnectionSlot};
use crate::log::{Level, RateLimited};
use crate::shared::Shared;
use crate::verbose;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

/// Refused sockets the refuser holds at once (and as many may wait in its
/// queue); more are answered at once.
pub const MAX_PENDING: usize = 8;

/// How long the refuser waits for a refused client's first byte before it
/// answers in RESP (what Redis sends, unasked, on accept).
const FIRST_BYTE_WAIT: Duration = Duration::from_millis(500);

/// How long it drains a refused client's input after answering, so that
/// closing with unread bytes does not reset the connection before the
/// client reads the answer.
const LINGER: Duration = Duration::from_millis(200);

/// How often the refuser looks at the sockets it holds.
const POLL: Duration = Duration::from_millis(5);

/// Why a client is refused, and what it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `maxclients` connections are already served.
    MaxClients,
    /// Protected mode: another host, and no password set.
    Protected,
}

/// The `-DENIED` text of protected mode (Redis's, naming gocache's ways out).
pub const PROTECTED_MODE_DENIED: &str = "DENIED gocache is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to gocache you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to gocache from the same host the server is running, however MAKE SURE gocache is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the gocache configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user with '--requirepass PASSWORD' or 'CONFIG SET requirepass PASSWORD'. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/// The error a client past the limit gets.
pub const MAX_CLIENTS_REACHED: &str = "ERR max number of clients reached";

impl Refusal {
    fn text(self) -> &'static str {
        match self {
            Refusal::MaxClients => MAX_CLIENTS_REACHED,
            Refusal::Protected => PROTECTED_MODE_DENIED,
        }
    }

    /// The answer in the dialect the client's first byte picked.
    fn answer(self, resp: bool) -> Vec<u8> {
        if resp {
            format!("-{}\r\n", self.text()).into_bytes()
        } else {
            format!("(error) {}\n", self.text()).into_bytes()
        }
    }
}

/// Whether `ip` is this host's loopback (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

static REFUSED_LOG: RateLimited = RateLimited::new(1000);

/// Decides on one accepted socket: a connection thread, or a refusal.
pub fn admit(server: &Arc<Shared>, refuser: &Refuser, stream: TcpStream, peer: SocketAddr) {
    server
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let settings = &server.settings;
    if settings.protected_mode() && !settings.password_set() && !is_loopback(peer.ip()) {
        verbose!("refused {peer}: protected mode, and no password is set");
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        refuser.refuse(stream, Refusal::Protected);
        return;
    }
    let max = settings.max_clients();
    if server.connected.fetch_add(1, Ordering::Relaxed) >= max {
        server.connected.fetch_sub(1, Ordering::Relaxed);
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        REFUSED_LOG.write(
            Level::Warning,
            format_args!("refused connection from {peer}: max number of clients ({max}) reached"),
        );
        refuser.refuse(stream, Refusal::MaxClients);
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
        REFUSED_LOG.write(
            Level::Warning,
            format_args!("cannot start a thread for {peer}: {e}"),
        );
    }
}

/// Answers `stream` with `refusal` in RESP at once, without waiting for its
/// first byte (the refuser is full, or descriptors are short).
pub fn refuse_at_once(stream: TcpStream, refusal: Refusal) {
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&refusal.answer(true));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// The handle the accept loop gives refused sockets to.
pub struct Refuser {
    queue: SyncSender<(TcpStream, Refusal)>,
}

impl Refuser {
    /// Starts the refuser thread.
    pub fn spawn() -> std::io::Result<Refuser> {
        let (queue, incoming) = mpsc::sync_channel(MAX_PENDING);
        thread::Builder::new()
            .name("refuser".into())
            .stack_size(64 * 1024)
            .spawn(move || refuse_forever(incoming))?;
        Ok(Refuser { queue })
    }

    /// Hands `stream` over to be answered and closed; answers at once if the
    /// refuser already holds all it may.
    pub fn refuse(&self, stream: TcpStream, refusal: Refusal) {
        if let Err(mpsc::TrySendError::Full((stream, refusal))) =
            self.queue.try_send((stream, refusal))
        {
            refuse_at_once(stream, refusal);
        }
    }
}

/// A refused socket the refuser holds.
struct Pending {
    stream: TcpStream,
    refusal: Refusal,
    /// When it stops waiting for the first byte, or (answered) for the end.
    until: Instant,
    answered: bool,
}

impl Pending {
    /// Advances this socket; returns whether it is done with.
    fn step(&mut self, now: Instant) -> bool {
        let mut byte = [0u8; 512];
        if !self.answered {
            let first = match self.stream.peek(&mut byte[..1]) {
                Ok(0) => return true,
                Ok(_) => Some(byte[0]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => None,
                Err(_) => return true,
            };
            if first.is_none() && now < self.until {
                return false;
            }
            let resp = first.is_none_or(|b| b == b'*');
            if (&self.stream)
                .write_all(&self.refusal.answer(resp))
                .is_err()
            {
                return true;
            }
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
            self.answered = true;
            self.until = now + LINGER;
        }
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return now >= self.until,
                Err(_) => return true,
            }
        }
    }
}

fn refuse_forever(incoming: Receiver<(TcpStream, Refusal)>) {
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        let next = if pending.is_empty() {
            match incoming.recv() {
                Ok(next) => Some(next),
                Err(_) => return,
            }
        } else {
            match incoming.try_recv() {
                Ok(next) => Some(next),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        };
        if let Some((stream, refusal)) = next {
            if pending.len() >= MAX_PENDING || stream.set_nonblocking(true).is_err() {
                refuse_at_once(stream, refusal);
            } else {
                pending.push(Pending {
                    stream,
                    refusal,
                    until: Instant::now() + FIRST_BYTE_WAIT,
                    answered: false,
                });
            }
            continue;
        }
        let now = Instant::now();
        pending.retain_mut(|p| !p.step(now));
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn loopback_is_any_127_address_and_its_ipv6_forms() {
        assert!(is_loopback(Ipv4Addr::new(127, 0, 0, 1).into()));
        assert!(is_loopback(Ipv4Addr::new(127, 9, 9, 9).into()));
        assert!(is_loopback(Ipv6Addr::LOCALHOST.into()));
        assert!(is_loopback(
            Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().into()
        ));
        assert!(!is_loopback(Ipv4Addr::new(10, 0, 0, 1).into()));
        assert!(!is_loopback(
            Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().into()
        ));
    }

    #[test]
    fn the_answer_follows_the_dialect() {
        assert_eq!(
            Refusal::MaxClients.answer(true),
            b"-ERR max number of clients reached\r\n"
        );
        assert_eq!(
            Refusal::MaxClients.answer(false),
            b"(error) ERR max number of clients reached\n"
        );
        assert!(
            Refusal::Protected
                .answer(true)
                .starts_with(b"-DENIED gocache is running in protected mode")
        );
    }
}
