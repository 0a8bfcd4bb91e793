//! The two dialects spoken on one port, and the replies both encode.
//!
//! The first byte of a request picks how it is parsed, as in Redis: `*` starts
//! a RESP multibulk request ([`resp`]), anything else is an inline line
//! ([`inline`]). Both parse into the same argument list and go through the
//! same command table; [`reply`] turns one [`Reply`] into either dialect's
//! bytes (the connection picks which: a person's lines get the human line
//! protocol, a program's RESP). Nothing here touches sockets or the keyspace:
//! the parsers only say whether a whole request is buffered yet.

pub mod inline;
pub mod reply;
pub mod resp;

pub use reply::{Bulks, Bytes, Reply};

/// Which dialect a reply is written in: RESP for a RESP request, and for an
/// inline one from a program; the line protocol for a person's line (see
/// [`connection`](crate::connection)).
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
    /// A bulk string of at least [`BIG_ARG`] bytes starts at `at` and is not
    /// all buffered: the caller receives its `len` bytes into a buffer of
    /// their own ([`ArgSpans::push_owned`]), puts whatever followed them at
    /// `at`, and parses on. The bytes before `at` stay where they are.
    BigArg {
        /// Where the bulk's bytes start, from the request's start.
        at: usize,
        /// How many there are.
        len: usize,
    },
}

/// Bulk strings at least this long are received into a buffer of their
/// own, which a stored value can then keep without copying it (Redis's
/// `PROTO_MBULK_BIG_ARG`).
pub const BIG_ARG: usize = 32 * 1024;

/// Most arguments a client that has not authenticated may send in one
/// request (Redis's limit).
pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;

/// Longest bulk string, or inline line, a client that has not
/// authenticated may send (Redis's limit for bulks).
pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// The sizes one request may announce, checked at each header before the
/// bytes it announces are buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Longest inline line (`max-line-bytes`).
    pub max_line: usize,
    /// Whether the client may send more than an unauthenticated one.
    pub authenticated: bool,
}

/// Where parsing of a half-received request stopped, so that it resumes
/// there when more bytes arrive instead of starting over: a request
/// trickled in byte by byte costs what it would cost in one piece.
/// Positions count from the request's start, which the caller keeps at the
/// front of its buffer while the request is incomplete.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Arguments the multibulk header announced (0: header not read yet).
    pub(crate) args_total: usize,
    /// Where the next argument's header (or the line's end) is looked for.
    pub(crate) pos: usize,
    /// Where the search for the current header's (or line's) end resumes.
    pub(crate) scanned: usize,
    /// The two bytes after an owned argument are still to be skipped.
    pub(crate) skip_crlf: bool,
}

impl Progress {
    /// Forgets a request: the next byte starts a new one.
    pub fn reset(&mut self) {
        *self = Progress::default();
    }

    /// Whether a request is half parsed.
    pub fn is_started(&self) -> bool {
        *self != Progress::default()
    }

    /// After the caller received a [`Parsed::BigArg`] into its own buffer
    /// and put what followed it at `at`: parsing resumes there, past the
    /// bulk's trailing CRLF.
    pub fn resume_after_owned(&mut self, at: usize) {
        self.pos = at;
        self.scanned = at + 1;
        self.skip_crlf = true;
    }
}

/// A request that cannot be parsed. The text is the exact error reply; after a
/// RESP protocol error (and an overlong line) the connection is closed, and
/// after any inline one from a program too.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// Full error text, `ERR Protocol error: ...`.
    pub message: &'static str,
    /// Whether the connection must be closed after replying.
    pub close: bool,
}

/// Where one argument's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// A range of the read buffer, from the request's start.
    Buffer(usize, usize),
    /// A range of the scratch buffer (an unescaped quoted inline argument).
    Scratch(usize, usize),
    /// One of the owned buffers (a big bulk string).
    Owned(usize),
}

/// Where parsed arguments live: ranges into the read buffer, unescaped
/// bytes in a scratch buffer, or buffers of their own for big bulk strings.
#[derive(Debug, Default)]
pub struct ArgSpans {
    /// Each argument's place.
    pub spans: Vec<Span>,
    /// Unescaped bytes of quoted arguments.
    pub scratch: Vec<u8>,
    /// Big bulk strings, shared so that a stored value can keep one.
    pub owned: Vec<std::sync::Arc<Vec<u8>>>,
}

/// Capacity the argument lists keep between requests; more is given back.
const SPANS_KEPT: usize = 64;
const SCRATCH_KEPT: usize = 16 * 1024;

impl ArgSpans {
    /// Clears every list, keeping their capacity.
    #[inline]
    pub fn clear(&mut self) {
        self.spans.clear();
        // Most requests have no quoted or big argument: skip the work.
        if !self.scratch.is_empty() {
            self.scratch.clear();
        }
        if !self.owned.is_empty() {
            self.owned.clear();
        }
    }

    /// Adds an argument held in a buffer of its own.
    pub fn push_owned(&mut self, bytes: Vec<u8>) {
        self.spans.push(Span::Owned(self.owned.len()));
        self.owned.push(std::sync::Arc::new(bytes));
    }

    /// Gives back what a large request made the lists grow to.
    pub fn shrink(&mut self) {
        if self.spans.capacity() > SPANS_KEPT {
            self.spans = Vec::with_capacity(SPANS_KEPT);
        }
        if self.scratch.capacity() > SCRATCH_KEPT {
            self.scratch = Vec::new();
        }
        if self.owned.capacity() > SPANS_KEPT {
            self.owned = Vec::new();
        }
    }

    /// Bytes the lists hold on to (`CLIENT LIST`'s `argv-mem`).
    pub fn memory(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<Span>()
            + self.scratch.capacity()
            + self.owned.iter().map(|o| o.capacity()).sum::<usize>()
    }

    /// Resolves the spans against `buf` into argument slices.
    pub fn resolve<'a>(&'a self, buf: &'a [u8], out: &mut Vec<&'a [u8]>) {
        out.clear();
        out.extend(self.spans.iter().map(|&span| self.arg(buf, span)));
    }

    fn arg<'a>(&'a self, buf: &'a [u8], span: Span) -> &'a [u8] {
        match span {
            Span::Buffer(start, end) => &buf[start..end],
            Span::Scratch(start, end) => &self.scratch[start..end],
            Span::Owned(i) => &self.owned[i],
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
