//! One connection, served by its own thread: read, parse, run, reply.
//!
//! Requests are parsed from a reused read buffer; every whole request already
//! buffered is run before anything is written, and the replies of that batch
//! go out in one write, or in writes of `FLUSH_REPLIES_AT` (64 KiB) when they
//! are large. The first byte of each request picks how it is parsed; its
//! reply is RESP for a RESP request, and for an inline one once the client
//! has shown it is a program (a RESP request or a `HELLO` before it), or
//! when it is `SYNC`/`PSYNC`; otherwise the human line protocol.
//!
//! Memory follows what the client actually sent, and is given back:
//! - every size a request announces is checked at its header, tighter before
//!   `AUTH` (see [`Limits`](crate::protocol::Limits)), and a whole request may not exceed the query
//!   buffer limit;
//! - the read buffer grows in steps no larger than what already arrived (or
//!   than what the request still needs), zeroing only the step it is about
//!   to read into, so a header alone cannot make the server reserve what it
//!   announces;
//! - a big bulk string ([`BIG_ARG`](crate::protocol::BIG_ARG) and up) is received straight into a
//!   buffer of its own, which `SET` then stores without copying;
//! - a half-received request is not parsed again from its start: the
//!   parser's [`Progress`] resumes where it stopped;
//! - once a request that made a buffer grow is done, every buffer (read,
//!   reply, argument lists) shrinks back to its base size.
//!
//! A blocking command that must wait (`BLPOP` on empty lists) leaves its
//! registered waiter in the session: the replies before it are written,
//! then the thread waits, holding no lock, in `poll` on its wake socket and
//! on the client's socket (for a hang-up only: bytes pipelined behind the
//! command stay unread, as in Redis), until the commit point serves it and
//! wakes it, its timeout passes, or the client hangs up. On a timeout or a
//! hang-up it takes the write guard and unregisters itself (answering what
//! it was served, if a push got there first); a client that hung up is
//! answered nothing. Then the requests pipelined after it run.
//!
//! Before replies are written, the append-only log's journal settles what
//! this connection's commands wrote and read (see
//! [`Journal::settle_marks`](crate::aof::Journal::settle_marks)): under
//! `appendfsync always` no reply acknowledging or revealing a write goes
//! out before the log holding it is synced.
//!
//! This module holds no lock while it reads or writes the socket: commands
//! take and release their guards inside [`dispatch`].

use crate::commands::{dispatch, is_word, lists, replication, resp_dialect};
use crate::error::CommandError;
use crate::keyspace::{Delivery, EncodeServed, Outcome, Waiter, WakeReason};
use crate::log::{Level, RateLimited};
use crate::memory;
use crate::protocol::{ArgSpans, Dialect, Parsed, Progress, ProtocolError, Reply, inline, resp};
use crate::session::{ClientInfo, Session};
use crate::shared::Shared;
use crate::verbose;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

/// Pending reply bytes that are written before the batch ends, so that the
/// reply buffer stays bounded (one reply can still exceed it).
const FLUSH_REPLIES_AT: usize = 64 * 1024;

/// Read buffer size a connection starts with and shrinks back to.
const BASE_BUFFER: usize = 16 * 1024;

/// The largest step the read buffer grows by at once.
const MAX_GROWTH_STEP: usize = 1024 * 1024;

static CONNECTION_ERROR_LOG: RateLimited = RateLimited::new(1000);

/// Serves `stream` until the client leaves, quits or breaks the protocol.
pub fn serve(stream: TcpStream, server: &Shared, client: Arc<ClientInfo>) {
    let _ = stream.set_nodelay(true);
    let peer = client.addr;
    let id = client.id;
    *client.socket.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(crate::os::SocketHandle::of(&stream));
    let mut conn = Connection {
        stream,
        server,
        session: Session::new(client.clone(), !server.settings.password_set()),
        input: ReadBuffer::new(),
        out: Vec::with_capacity(BASE_BUFFER),
        spans: ArgSpans::default(),
        progress: Progress::default(),
        counted: 0,
        outbox: None,
        handed_off: false,
    };
    let mut result = conn.run();
    // Replies handed to the log's syncer go out before the socket closes
    // (after `QUIT`, say); then it sends nothing more.
    if result.is_ok() {
        result = conn.finish_hand_off();
    }
    if let Some(outbox) = &conn.outbox {
        outbox.close();
    }
    server
        .client_buffers
        .fetch_sub(conn.counted, Ordering::Relaxed);
    // A wait cut short by an error leaves its waiter registered: it goes
    // now, before the socket closes, so that nobody is served (nor is the
    // descriptor polled) after that.
    if let Some(waiter) = conn.session.blocked.take() {
        server.keyspace.write().unblock(&waiter);
        client.blocked.store(false, Ordering::Relaxed);
    }
    // Cleared before the socket closes, so no other thread shuts down a
    // descriptor that has been reused.
    *client.socket.lock().unwrap_or_else(PoisonError::into_inner) = None;
    match result {
        Ok(()) => verbose!("client {id} ({peer}) closed"),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
            verbose!("client {id} ({peer}) went away: {e}")
        }
        Err(e) => {
            CONNECTION_ERROR_LOG.write(Level::Warning, format_args!("client {id} ({peer}): {e}"))
        }
    }
    if !conn.session.watching.keys.is_empty() {
        server.keyspace.write().unwatch(&mut conn.session.watching);
    }
    let mut counters = std::mem::take(&mut conn.session.counters);
    server.stats.absorb(&mut counters);
}

/// The bytes received and not yet run. `bytes.len()` is what has been
/// zeroed (and may be read into); `filled` what holds received bytes.
struct ReadBuffer {
    bytes: Vec<u8>,
    filled: usize,
}

impl ReadBuffer {
    fn new() -> ReadBuffer {
        ReadBuffer {
            bytes: vec![0; BASE_BUFFER],
            filled: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    fn consume(&mut self, n: usize) {
        self.bytes.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Drops the bytes `from..to`, moving what follows them down.
    fn remove(&mut self, from: usize, to: usize) {
        self.bytes.copy_within(to..self.filled, from);
        self.filled -= to - from;
    }

    /// Room to read into. When the buffer is full it grows by a step no
    /// larger than what it already holds (the request's known remainder,
    /// when `need` says how long the request is), and only that step is
    /// zeroed: memory follows the bytes that arrive.
    fn room(&mut self, need: usize) -> &mut [u8] {
        if self.filled == self.bytes.len() {
            let step = if need > self.filled {
                (need - self.filled).min(MAX_GROWTH_STEP)
            } else {
                self.filled.clamp(BASE_BUFFER, MAX_GROWTH_STEP)
            };
            self.bytes.resize(self.filled + step, 0);
        }
        &mut self.bytes[self.filled..]
    }

    /// Shrinks back to the base size once what is buffered fits in it.
    fn shrink(&mut self) {
        if self.bytes.capacity() > BASE_BUFFER && self.filled <= BASE_BUFFER / 2 {
            let mut fresh = vec![0; BASE_BUFFER];
            fresh[..self.filled].copy_from_slice(&self.bytes[..self.filled]);
            self.bytes = fresh;
        }
    }
}

struct Connection<'a> {
    stream: TcpStream,
    server: &'a Shared,
    session: Session,
    input: ReadBuffer,
    out: Vec<u8>,
    spans: ArgSpans,
    /// How far the request at the front of `input` has been parsed.
    progress: Progress,
    /// The buffers' bytes last counted in the server's `client_buffers`.
    counted: usize,
    /// Where replies handed to the log's syncer wait (made at the first
    /// hand-off), and whether some are still out there.
    outbox: Option<Arc<crate::aof::Outbox>>,
    handed_off: bool,
}

/// What to do after a batch of requests.
enum Next {
    /// Read more bytes; the request at the front needs this many in all (0:
    /// not known).
    Read(usize),
    /// Receive the request's big bulk string of `len` bytes at `at`.
    BigArg { at: usize, len: usize },
    /// Write what is pending and close.
    Close,
    /// Writing failed mid-batch: the connection is gone.
    Broken(std::io::Error),
}

impl Connection<'_> {
    fn run(&mut self) -> std::io::Result<()> {
        loop {
            let next = self.run_batch();
            self.flush_out()?;
            self.publish_memory();
            let need = match next {
                Next::Close => return Ok(()),
                Next::Broken(e) => return Err(e),
                Next::BigArg { at, len } => {
                    if !self.receive_big_arg(at, len)? {
                        return Ok(());
                    }
                    continue;
                }
                Next::Read(need) => need,
            };
            if self.handed_off && !self.wait_for_input_or_hand_off()? {
                return Ok(());
            }
            let room = self.input.room(need);
            let n = match self.stream.read(room) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.input.filled += n;
        }
    }

    /// Writes the pending replies, if any, and shrinks the reply buffer back
    /// after a large batch.
    fn flush_out(&mut self) -> std::io::Result<()> {
        self.flush(true)
    }

    /// [`Connection::flush_out`]; with `may_hand_off`, replies that must
    /// wait for the append-only log's sync may be handed to its syncer
    /// to send, and this thread goes back to its client at once.
    fn flush(&mut self, may_hand_off: bool) -> std::io::Result<()> {
        if !self.out.is_empty() {
            // No reply that acknowledges or reveals a write leaves before
            // the append-only log allows (a few instructions when it is off).
            let journal = &self.server.aof.journal;
            let marks = journal.take_marks();
            if may_hand_off && marks != crate::aof::Marks::default() {
                let outbox = self.outbox()?;
                if journal.hand_off(&outbox, marks, &mut self.out) {
                    self.handed_off = true;
                    return Ok(());
                }
            }
            self.finish_hand_off()?;
            journal.settle(marks);
            self.stream.write_all(&self.out)?;
            self.out.clear();
            if self.out.capacity() > 4 * BASE_BUFFER {
                self.out = Vec::with_capacity(BASE_BUFFER);
            }
        }
        Ok(())
    }

    /// This connection's outbox for replies handed to the log's syncer.
    fn outbox(&mut self) -> std::io::Result<Arc<crate::aof::Outbox>> {
        if let Some(outbox) = &self.outbox {
            return Ok(outbox.clone());
        }
        let waker = self.session.wake_socket()?.waker();
        let outbox = crate::aof::Outbox::new(crate::os::SocketHandle::of(&self.stream), waker);
        self.outbox = Some(outbox.clone());
        Ok(outbox)
    }

    /// Waits until every reply handed to the log's syncer is sent,
    /// writing what the socket did not take at once.
    fn finish_hand_off(&mut self) -> std::io::Result<()> {
        let Some(outbox) = self.outbox.clone().filter(|_| self.handed_off) else {
            return Ok(());
        };
        loop {
            match outbox.state(true) {
                crate::aof::Handed::Done => break,
                crate::aof::Handed::Unsent(rest) => self.stream.write_all(&rest)?,
                crate::aof::Handed::Waiting => {
                    let wake = self.session.wake_socket()?;
                    // Bounded, in case the wake raced the watch.
                    wake.wait(None, false, Some(std::time::Duration::from_millis(100)))?;
                    wake.drain();
                }
            }
        }
        self.handed_off = false;
        Ok(())
    }

    /// Before reading while replies are handed off: waits for the client
    /// to send (or hang up) or for the syncer to need this thread (bytes
    /// it could not send). Always `true` for now: the read that follows
    /// sees a hang-up.
    fn wait_for_input_or_hand_off(&mut self) -> std::io::Result<bool> {
        let Some(outbox) = self.outbox.clone() else {
            self.handed_off = false;
            return Ok(true);
        };
        let socket = crate::os::SocketHandle::of(&self.stream);
        loop {
            match outbox.state(false) {
                crate::aof::Handed::Done => {
                    self.handed_off = false;
                    return Ok(true);
                }
                crate::aof::Handed::Unsent(rest) => self.stream.write_all(&rest)?,
                crate::aof::Handed::Waiting => {
                    let wake = self.session.wake_socket()?;
                    match wake.wait(Some(&socket), true, None)? {
                        // A hang-up too: what the client sent before it
                        // is still read and run, as Redis would.
                        WakeReason::Readable | WakeReason::HungUp => return Ok(true),
                        WakeReason::Woken | WakeReason::TimedOut => wake.drain(),
                    }
                }
            }
        }
    }

    /// Publishes what the buffers hold, for `CLIENT LIST`, and counts
    /// what they allocate in the server's `used_memory` (one atomic add
    /// when it changed, which after a batch of the usual size it has not).
    fn publish_memory(&mut self) {
        let held = memory::chunk(self.input.bytes.capacity())
            + self.spans.memory()
            + memory::chunk(self.out.capacity());
        if held != self.counted {
            let buffers = &self.server.client_buffers;
            if held > self.counted {
                buffers.fetch_add(held - self.counted, Ordering::Relaxed);
            } else {
                buffers.fetch_sub(self.counted - held, Ordering::Relaxed);
            }
            self.counted = held;
        }
        let m = &self.session.client.memory;
        m.query.store(self.input.filled, Ordering::Relaxed);
        m.query_free.store(
            self.input.bytes.len() - self.input.filled,
            Ordering::Relaxed,
        );
        m.args.store(self.spans.memory(), Ordering::Relaxed);
        m.output.store(self.out.capacity(), Ordering::Relaxed);
    }

    /// Receives the big bulk string of `len` bytes starting at `at` of the
    /// request at the front of the buffer into a buffer of its own: what
    /// already arrived is moved there, the rest is read straight into it.
    /// Returns `false` if the client went away first.
    fn receive_big_arg(&mut self, at: usize, len: usize) -> std::io::Result<bool> {
        let arrived = (self.input.filled - at).min(len);
        let mut value = Vec::with_capacity(len);
        value.extend_from_slice(&self.input.data()[at..at + arrived]);
        self.input.remove(at, at + arrived);
        let mut got = value.len();
        while got < len {
            if got == value.len() {
                // Zero only the stretch about to be read into.
                value.resize((got + MAX_GROWTH_STEP).min(len), 0);
            }
            match self.stream.read(&mut value[got..]) {
                Ok(0) => return Ok(false),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.spans.push_owned(value);
        self.progress.resume_after_owned(at);
        Ok(true)
    }

    /// Runs every whole request buffered, then moves the unparsed rest to
    /// the front of the buffer.
    fn run_batch(&mut self) -> Next {
        let (consumed, next) = self.run_requests();
        self.input.consume(consumed);
        if !self.progress.is_started() {
            self.input.shrink();
            self.spans.shrink();
        }
        next
    }

    /// Runs every whole request in the buffer; returns the bytes consumed.
    fn run_requests(&mut self) -> (usize, Next) {
        let server = self.server;
        let filled = self.input.filled;
        let mut pos = 0;
        let mut ran = false;
        let mut next = Next::Read(0);
        while pos < filled {
            let input = &self.input.bytes[pos..filled];
            let limits = server.limits.for_client(self.session.authenticated);
            let (parsed, dialect) = if input[0] == b'*' {
                self.session.program = true;
                (
                    resp::parse(input, &limits, &mut self.progress, &mut self.spans),
                    resp_dialect(self.session.proto),
                )
            } else {
                (
                    inline::parse(input, &limits, &mut self.progress, &mut self.spans),
                    self.inline_dialect(),
                )
            };
            match parsed {
                Ok(Parsed::Request { consumed }) => {
                    ran = true;
                    let session = &mut self.session;
                    let owned = &self.spans.owned;
                    let mut resp_only = false;
                    // A program is answered in RESP whatever it sends, so
                    // the names matter only while it looks like a person.
                    let person = !session.program;
                    let reply = self.spans.with_args(input, |args| {
                        if person {
                            // A `HELLO` in any form, even refused or
                            // queued, says a program is talking.
                            if is_word(args[0], "hello") {
                                session.program = true;
                            }
                            resp_only = replication::answers_in_resp(args[0]);
                        }
                        dispatch(server, session, args, owned)
                    });
                    // A big argument a command did not keep is freed now,
                    // not when the next request comes.
                    if !self.spans.owned.is_empty() {
                        self.spans.owned.clear();
                    }
                    if self.session.close_now {
                        return (pos, Next::Close);
                    }
                    // A blocking command that must wait: its reply is
                    // what the wait ends with.
                    // Chosen after the command ran: `HELLO` answers in the
                    // protocol it switches to, as Redis does.
                    let dialect = if resp_only {
                        resp_dialect(self.session.proto)
                    } else {
                        self.inline_dialect()
                    };
                    match self.session.blocked.clone() {
                        None => reply.encode(dialect, &mut self.out),
                        Some(waiter) => {
                            match self.wait_blocked(&waiter, dialect, pos + consumed < filled) {
                                Ok(Some(Outcome::Served(served))) => {
                                    lists::blocked_reply(&waiter, Some(served))
                                        .encode(dialect, &mut self.out)
                                }
                                Ok(Some(Outcome::Sent { unsent })) => {
                                    self.out.extend_from_slice(&unsent)
                                }
                                Ok(None) => lists::blocked_reply(&waiter, None)
                                    .encode(dialect, &mut self.out),
                                Err(e) => return (pos, e),
                            }
                        }
                    }
                    drop(reply);
                    pos += consumed;
                    // A client that pipelines many large reads without
                    // reading replies waits on the socket here; replies
                    // never pile up past this bound. No guard is held.
                    if self.out.len() >= FLUSH_REPLIES_AT {
                        if let Err(e) = self.flush_out() {
                            return (pos, Next::Broken(e));
                        }
                    }
                    if self.session.close_after_reply {
                        return (pos, Next::Close);
                    }
                }
                Ok(Parsed::Skip(n)) => pos += n,
                Ok(Parsed::Incomplete(need)) => {
                    if need.max(input.len()) > server.limits.query_buffer_limit {
                        return (pos, self.protocol_error(dialect, PROTOCOL_TOO_BIG));
                    }
                    next = Next::Read(need);
                    break;
                }
                Ok(Parsed::BigArg { at, len }) => {
                    let owned: usize = self.spans.owned.iter().map(|o| o.len()).sum();
                    if at + len + owned > server.limits.query_buffer_limit {
                        return (pos, self.protocol_error(dialect, PROTOCOL_TOO_BIG));
                    }
                    next = Next::BigArg { at, len };
                    break;
                }
                // A program's inline protocol error closes it, as in Redis;
                // a person at `nc` keeps the connection.
                Err(e) if e.close || self.session.program => {
                    return (pos, self.protocol_error(dialect, e));
                }
                Err(e) => {
                    Reply::Error(CommandError::other(e.message)).encode(dialect, &mut self.out);
                    pos += inline::line_len(input).max(1);
                }
            }
        }
        let now = crate::clock::now_ms();
        let client = &self.session.client;
        client.last_active.store(now, Ordering::Relaxed);
        if ran {
            client.last_request.store(now, Ordering::Relaxed);
        }
        server.stats.absorb(&mut self.session.counters);
        (pos, next)
    }

    /// Waits for the blocked command's `waiter` with no lock held (see
    /// the module's doc), after writing the replies before it; returns how
    /// it was answered (`None`: it timed out), or what to do if the client
    /// hung up or the wait failed. Leaves the waiter unregistered and its
    /// direct delivery ended either way (or, on an error, in the session
    /// for [`serve`] to unregister).
    ///
    /// Once the replies before it are written, the thread that serves the
    /// waiter may write the reply itself, in `dialect` ([`Delivery`]):
    /// that saves a thread hand-off between a push and the reply. With
    /// nothing `pipelined` behind the blocked request in the buffer, the
    /// wait also ends on the client's input, and a reply delivered whole
    /// needs no wake at all.
    fn wait_blocked(
        &mut self,
        waiter: &Arc<Waiter>,
        dialect: Dialect,
        pipelined: bool,
    ) -> Result<Option<Outcome>, Next> {
        // Every reply before the blocked one is out, handed off or not:
        // its delivery may be written straight to the socket.
        self.flush(false).map_err(Next::Broken)?;
        let client = self.session.client.clone();
        client.blocked.store(true, Ordering::Relaxed);
        let socket = crate::os::SocketHandle::of(&self.stream);
        self.session.wake_socket().map_err(Next::Broken)?.drain();
        // Run by the serving thread as it sends the reply: the client is
        // then no longer blocked, and was active, as after any reply.
        let served_client = client.clone();
        let encode: EncodeServed = Box::new(move |waiter, served, out| {
            lists::blocked_reply(waiter, Some(served)).encode(dialect, out);
            served_client.blocked.store(false, Ordering::Relaxed);
            served_client
                .last_active
                .store(crate::clock::now_ms(), Ordering::Relaxed);
        });
        // Until the client sends something, the wait also ends on its
        // input, so that a reply delivered whole needs no wake: the
        // client's next request wakes this thread, as an idle one's does.
        // Requests already buffered behind this one need the wake.
        let mut listening = !pipelined;
        let mut answered =
            waiter.deliver_directly(Delivery::new(socket.clone(), encode), listening);
        let outcome = loop {
            if let Some(outcome) = answered.take().or_else(|| waiter.take_outcome()) {
                break Ok(Some(outcome));
            }
            let timeout = match waiter.deadline {
                0 => None,
                deadline => {
                    let now = crate::clock::now_ms();
                    if now >= deadline {
                        break Ok(self.server.keyspace.write().unblock(waiter));
                    }
                    Some(std::time::Duration::from_millis(deadline - now))
                }
            };
            let wake = match self.session.wake_socket() {
                Ok(wake) => wake,
                Err(e) => break Err(Next::Broken(e)),
            };
            match wake.wait(Some(&socket), listening, timeout) {
                Ok(WakeReason::Woken) => wake.drain(),
                Ok(WakeReason::Readable) => {
                    // Bytes behind the blocked request (or sent while it
                    // waits) stay unread; wait for a wake from now on.
                    listening = false;
                    waiter.stop_listening();
                }
                Ok(WakeReason::HungUp) => {
                    // Whatever was served (a push raced the hang-up) has
                    // nobody to go to.
                    self.server.keyspace.write().unblock(waiter);
                    break Err(Next::Close);
                }
                Ok(WakeReason::TimedOut) => {}
                Err(e) => break Err(Next::Broken(e)),
            }
        };
        if matches!(outcome, Err(Next::Broken(_))) {
            // Unregistered by `serve`; no reply may be sent meanwhile.
            waiter.finish();
            return outcome;
        }
        client.blocked.store(false, Ordering::Relaxed);
        self.session.blocked = None;
        outcome
    }

    /// The dialect of replies to inline requests: RESP once the client has
    /// shown it is a program ([`Session::program`]), the line protocol for
    /// a person. (Every RESP request marks a program, so this is also the
    /// dialect of any reply once a request has run.)
    fn inline_dialect(&self) -> Dialect {
        if self.session.program {
            resp_dialect(self.session.proto)
        } else {
            Dialect::Line
        }
    }

    fn protocol_error(&mut self, dialect: Dialect, e: ProtocolError) -> Next {
        // The client's doing: verbose only, so it cannot fill the log.
        verbose!(
            "closing client {} ({}): {}",
            self.session.client.id,
            self.session.client.addr,
            e.message
        );
        Reply::Error(CommandError::other(e.message)).encode(dialect, &mut self.out);
        Next::Close
    }
}

/// A RESP request larger than the query buffer limit.
const PROTOCOL_TOO_BIG: ProtocolError = ProtocolError {
    message: "ERR Protocol error: request exceeds the query buffer limit",
    close: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_grows_by_what_arrived_and_shrinks_back() {
        let mut b = ReadBuffer::new();
        b.filled = BASE_BUFFER;
        // Unknown length: at most doubles what arrived.
        assert_eq!(b.room(0).len(), BASE_BUFFER);
        b.filled = 2 * BASE_BUFFER;
        // Known length: never past it.
        assert_eq!(b.room(2 * BASE_BUFFER + 10).len(), 10);
        b.filled += 10;
        b.consume(2 * BASE_BUFFER + 10);
        b.shrink();
        assert_eq!(b.bytes.len(), BASE_BUFFER);
        assert_eq!(b.bytes.capacity(), BASE_BUFFER);
    }

    #[test]
    fn growth_steps_are_bounded() {
        let mut b = ReadBuffer::new();
        b.bytes = vec![0; 64 * MAX_GROWTH_STEP];
        b.filled = b.bytes.len();
        assert_eq!(b.room(usize::MAX).len(), MAX_GROWTH_STEP);
    }
}
