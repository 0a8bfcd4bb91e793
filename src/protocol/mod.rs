//! The two dialects spoken on one port, and the replies both encode.
//!
//! The first byte of a request picks its dialect, as in Redis: `*` starts a
//! RESP multibulk request ([`resp`]), anything else is a line of the human line
//! protocol ([`inline`]). Both parse into the same argument list and go through
//! the same command table; [`reply`] turns one [`Reply`] into either dialect's
//! bytes. Nothing here touches sockets or the keyspace: the parsers only say
//! whether a whole request is buffered yet.

pub mod inline;
pub mod reply;
pub mod resp;

pub use reply::{Bytes, Reply};

/// Which dialect a request arrived in, and so which its reply is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The human line protocol, replies in redis-cli's display style.
    Line,
    /// RESP version 2.
    Resp2,
    /// RESP version 3.
    Resp3,
}

/// What parsing the start of a buffer found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request: `consumed` bytes, arguments as byte ranges.
    Request {
        /// Bytes of the buffer the request occupied.
        consumed: usize,
    },
    /// Bytes that carry no request (a blank line, `*0`): skip them.
    Skip(usize),
    /// More bytes are needed; at least this many in total, when known.
    Incomplete(usize),
}

/// A request that cannot be parsed. The text is the exact error reply; after a
/// RESP protocol error (and an overlong line) the connection is closed.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// Full error text, `ERR Protocol error: ...`.
    pub message: &'static str,
    /// Whether the connection must be closed after replying.
    pub close: bool,
}

/// Where parsed arguments live: ranges into the read buffer, or (for quoted
/// inline arguments, which need unescaping) into a scratch buffer.
#[derive(Debug, Default)]
pub struct ArgSpans {
    /// `(from_scratch, start, end)` for each argument.
    pub spans: Vec<(bool, usize, usize)>,
    /// Unescaped bytes of quoted arguments.
    pub scratch: Vec<u8>,
}

impl ArgSpans {
    /// Clears both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.spans.clear();
        self.scratch.clear();
    }

    /// Resolves the spans against `buf` into argument slices.
    pub fn resolve<'a>(&'a self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.clear();
        out.extend(self.spans.iter().map(|&span| self.arg(buf, span)));
    }

    fn arg<'a>(&'a self, buf: &'a [u8], (scratch, start, end): (bool, usize, usize)) -> &'a [u8] {
        if scratch {
            &self.scratch[start..end]
        } else {
            &buf[start..end]
        }
    }

    /// Calls `f` with the arguments resolved against `buf`, on the stack when
    /// there are few (the common case: no allocation per request).
    pub fn with_args<R>(&self, buf: &[u8], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        const ON_STACK: usize = 16;
        let n = self.spans.len();
        if n <= ON_STACK {
            let mut args: [&[u8]; ON_STACK] = [&[]; ON_STACK];
            for (slot, &span) in args.iter_mut().zip(&self.spans) {
                *slot = self.arg(buf, span);
            }
            f(&args[..n])
        } else {
            let mut args = Vec::with_capacity(n);
            self.resolve(buf, &mut args);
            f(&args)
        }
    }
}
