//! One connection, served by its own thread: read, parse, run, reply.
//!
//! Requests are parsed from a reused read buffer; every whole request already
//! buffered is run before anything is written, and the replies of that batch
//! go out in one write, or in writes of `FLUSH_REPLIES_AT` (64 KiB) when they
//! are large. The first byte of each request picks its dialect.
//! Memory stays bounded: an inline line may not exceed `--max-line-bytes`, a
//! RESP bulk `--proto-max-bulk-len`, and a whole RESP request
//! [`max_request`]; buffers shrink back once a large request is done.
//! This module holds no lock while it reads or writes the socket: commands
//! take and release their guards inside [`dispatch`].

use crate::commands::{dispatch, resp_dialect};
use crate::error::CommandError;
use crate::protocol::{ArgSpans, Dialect, Parsed, ProtocolError, Reply, inline, resp};
use crate::server::Server;
use crate::session::{ClientInfo, Session};
use crate::{verbose, warning};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Pending reply bytes that are written before the batch ends, so that the
/// reply buffer stays bounded (one reply can still exceed it).
const FLUSH_REPLIES_AT: usize = 64 * 1024;

/// Read buffer size a connection starts with and shrinks back to.
const BASE_BUFFER: usize = 16 * 1024;

/// Largest whole RESP request accepted (Redis's client-query-buffer-limit is
/// 1 GiB); always room for one maximal bulk string.
pub fn max_request(server: &Server) -> usize {
    (1usize << 30).max(server.config.proto_max_bulk_len.saturating_add(1 << 20))
}

/// Serves `stream` until the client leaves, quits or breaks the protocol.
pub fn serve(stream: TcpStream, server: &Server, client: Arc<ClientInfo>) {
    let _ = stream.set_nodelay(true);
    let peer = client.addr;
    let id = client.id;
    let mut conn = Connection {
        stream,
        server,
        session: Session::new(client, server),
        buf: vec![0; BASE_BUFFER],
        out: Vec::with_capacity(BASE_BUFFER),
    };
    match conn.run() {
        Ok(()) => verbose!("client {id} ({peer}) closed"),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
            verbose!("client {id} ({peer}) went away: {e}")
        }
        Err(e) => warning!("client {id} ({peer}): {e}"),
    }
    let mut counters = std::mem::take(&mut conn.session.counters);
    server.stats.absorb(&mut counters);
}

struct Connection<'a> {
    stream: TcpStream,
    server: &'a Server,
    session: Session,
    buf: Vec<u8>,
    out: Vec<u8>,
}

/// What to do after a batch of requests.
enum Next {
    /// Read more bytes; at least this many must fit in the buffer.
    Read(usize),
    /// Write what is pending and close.
    Close,
    /// Writing failed mid-batch: the connection is gone.
    Broken(std::io::Error),
}

impl Connection<'_> {
    fn run(&mut self) -> std::io::Result<()> {
        let mut filled = 0;
        let mut spans = ArgSpans::default();
        loop {
            let (consumed, next) = self.run_batch(filled, &mut spans);
            self.flush_out()?;
            let need = match next {
                Next::Close => return Ok(()),
                Next::Broken(e) => return Err(e),
                Next::Read(need) => need,
            };
            // Keep the unparsed tail at the front of the buffer.
            self.buf.copy_within(consumed..filled, 0);
            filled -= consumed;
            self.fit(filled, need);
            let n = match self.stream.read(&mut self.buf[filled..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            filled += n;
        }
    }

    /// Writes the pending replies, if any, and shrinks the reply buffer back
    /// after a large batch.
    fn flush_out(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
            if self.out.capacity() > 4 * BASE_BUFFER {
                self.out = Vec::with_capacity(BASE_BUFFER);
            }
        }
        Ok(())
    }

    /// Sizes the buffer for `filled` bytes plus room to read, shrinking back
    /// when idle. It grows only when full, by doubling, and never past a
    /// known request size: memory follows the bytes that actually arrived,
    /// so a bulk header alone cannot make the server reserve its length.
    fn fit(&mut self, filled: usize, need: usize) {
        let len = self.buf.len();
        if filled == 0 && need <= BASE_BUFFER && len > BASE_BUFFER {
            self.buf = vec![0; BASE_BUFFER];
        } else if filled == len {
            let doubled = len.saturating_mul(2);
            let target = if need > len {
                doubled.min(need)
            } else {
                doubled
            };
            self.buf.resize(target, 0);
        }
    }

    /// Runs every whole request in `buf[..filled]`; returns bytes consumed.
    fn run_batch(&mut self, filled: usize, spans: &mut ArgSpans) -> (usize, Next) {
        let server = self.server;
        let mut pos = 0;
        let mut next = Next::Read(0);
        while pos < filled {
            let input = &self.buf[pos..filled];
            let (parsed, dialect) = if input[0] == b'*' {
                let max_bulk = server.config.proto_max_bulk_len;
                (
                    resp::parse(input, max_bulk, spans),
                    resp_dialect(self.session.proto),
                )
            } else {
                let max_line = server.config.max_line_bytes;
                (inline::parse(input, max_line, spans), Dialect::Line)
            };
            match parsed {
                Ok(Parsed::Request { consumed }) => {
                    let session = &mut self.session;
                    let reply = spans.with_args(input, |args| dispatch(server, session, args));
                    // `HELLO` answers in the protocol it switches to, as Redis does.
                    let dialect = match dialect {
                        Dialect::Line => Dialect::Line,
                        _ => resp_dialect(self.session.proto),
                    };
                    reply.encode(dialect, &mut self.out);
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
                    if need > max_request(server) {
                        return (pos, self.protocol_error(dialect, PROTOCOL_TOO_BIG));
                    }
                    // `need` counts from this request's start, which moves to 0.
                    next = Next::Read(need);
                    break;
                }
                Err(e) if e.close => return (pos, self.protocol_error(dialect, e)),
                Err(e) => {
                    Reply::Error(CommandError::other(e.message)).encode(dialect, &mut self.out);
                    pos += inline::line_len(input).max(1);
                }
            }
        }
        self.session
            .client
            .last_active
            .store(crate::clock::now_ms(), Ordering::Relaxed);
        server.stats.absorb(&mut self.session.counters);
        (pos, next)
    }

    fn protocol_error(&mut self, dialect: Dialect, e: ProtocolError) -> Next {
        warning!(
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
