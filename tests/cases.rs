//! Data-driven command tests: each `tests/cases/*.case` file holds cases,
//! a case a few requests and the exact bytes of their replies. They run
//! in-process: a [`Shared::in_memory`] server, a [`Session`] per client, and
//! [`dispatch`] for each request, with no binary and no socket. A command's
//! behaviour is a few lines of data, and a diff of a case file reads like
//! the behaviour it changes. Expected replies are written by hand and
//! checked against a real `redis-server` 7.0.15 (see the end); nothing
//! rewrites them.
//!
//! # The format
//!
//! ```text
//! # A queued GET sees what other clients wrote before EXEC.
//!
//! === a queued GET runs at EXEC
//! > MULTI
//! +OK
//! > GET k
//! +QUEUED
//! b> SET k "a b"
//! +OK
//! > EXEC
//! *1
//! $3 a b
//! ```
//!
//! - `=== name` starts a case. Every case runs on a fresh, empty server
//!   with no client connected, unless `@continue` follows its header.
//! - `> request` is a request from the case's first client; `NAME> request`
//!   (a name of letters, digits, `-` and `_`) one from another client. A
//!   client connects when it first speaks, so client ids count 1, 2, ... in
//!   that order. The request is split as the line protocol splits a line
//!   (`"..."` with `\n` `\r` `\t` `\xHH` escapes, `'...'`), so any bytes
//!   can be sent, and runs as one request whatever the dialect.
//! - The lines after a request, up to the next request, directive or case
//!   header, are its exact reply; a reply written as the one line `...` is
//!   not checked (for a `HELLO 3` whose map another case checks). Blank
//!   lines and comments (a line that is `#` or starts with `# `) are
//!   skipped everywhere.
//! - In RESP (the default dialect) each line is one line of the reply, its
//!   `\r\n` implied, and a bulk or verbatim string is written on one line
//!   as its header, a space and its payload: `$5 vimla`, `$0`,
//!   `=8 txt:text`. `\\`, `\r`, `\n`, `\t` and `\xHH` are escapes, so
//!   CR, LF and binary bytes are never ambiguous. RESP2 or RESP3 follows
//!   the client's protocol version, as on a connection: 2 until `HELLO 3`,
//!   whose own reply is already RESP3.
//! - In the line dialect each line is one line of the reply as the server
//!   writes it (redis-cli's display), its `\n` implied, and nothing is an
//!   escape: the dialect already shows every byte of a value escaped.
//! - In either dialect a space that ends a line is written `\x20` (editors
//!   drop trailing blanks; Redis's unknown-command error ends in one).
//!
//! Directives:
//! - `@line`, `@resp`: the dialect of the requests that follow, to the end
//!   of the case; before the first case, every case's default.
//! - `@config NAME VALUE`: a configuration parameter of the case's server
//!   (`@config requirepass sekret`), before its first request; before the
//!   first case, for every case.
//! - `@sorted`: the next request's reply is compared with the elements of
//!   each innermost array (and the pairs of each map) sorted by their
//!   bytes, for replies in hash order (`KEYS`, `SCAN`).
//! - `@closed`: the connection closes after the request before it (`QUIT`).
//!   A request that closes its connection without it fails, and so does a
//!   request from a client already closed.
//! - `@continue` (under a case header): the case goes on with the previous
//!   case's server and clients.
//! - `@gocache-only` (under a case header): the case pins behaviour Redis
//!   does not have (the seed's `DELETE` and bare TTL); the check against
//!   Redis skips it.
//!
//! The clock is the real one, and nothing waits: a deadline is read back
//! with `TTL` right after it is set (whole seconds, rounded, so exact) or
//! is set at a fixed instant far ahead (`EXAT 4102444800`) and read back.
//! Expiry itself, and milliseconds left, are tested over a socket.
//!
//! On a mismatch the runner names the file and line, the request, the
//! expected and actual bytes (escaped) and the actual reply as a case file
//! writes it, goes on to the end of every file, and then fails once.
//!
//! # Checking the expected replies against Redis
//!
//! `GOCACHE_CASES_REDIS=127.0.0.1:PORT cargo test --test cases` sends every
//! case to the Redis at that address instead (over RESP; a line-dialect
//! reply is Redis's reply shown as gocache's line dialect shows it), after
//! a `FLUSHALL` of it: use a scratch `redis-server --port PORT --save ''`.
//! Client ids are Redis's own and differ; any other mismatch is a
//! difference between gocache and Redis to look into.

use gocache::commands::{dispatch, resp_dialect};
use gocache::config::Config;
use gocache::protocol::{ArgSpans, Dialect, Reply, inline};
use gocache::session::Session;
use gocache::shared::Shared;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

/// Which dialect a request is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Resp,
    Line,
}

/// One request and what it must answer.
#[derive(Debug)]
struct Request {
    /// Line number of the request in its file.
    line: usize,
    /// The request line as written, for reports.
    text: String,
    /// Who sends it ("" for the case's first client).
    client: String,
    args: Vec<Vec<u8>>,
    mode: Mode,
    /// Compare the reply with its innermost arrays sorted.
    sorted: bool,
    /// The reply's exact bytes.
    expected: Vec<u8>,
    /// The reply is not checked (written `...`).
    unchecked: bool,
    /// Whether the connection closes after it.
    closes: bool,
}

#[derive(Debug)]
struct Case {
    name: String,
    /// Goes on with the previous case's server and clients.
    continues: bool,
    /// Pins behaviour of gocache's own, which the check against Redis skips.
    gocache_only: bool,
    config: Vec<(String, String)>,
    requests: Vec<Request>,
}

/// A line of a file that is not valid in the format.
#[derive(Debug)]
struct FormatError {
    line: usize,
    message: String,
}

/// The request whose reply lines are being read.
struct Pending {
    request: Request,
    reply: Vec<(usize, String)>,
}

/// Reads a case file; every format error found, if any.
fn parse(text: &str) -> Result<Vec<Case>, Vec<FormatError>> {
    let mut parser = Parser::default();
    for (i, line) in text.lines().enumerate() {
        parser.line(i + 1, line.strip_suffix('\r').unwrap_or(line));
    }
    parser.finish_request();
    if parser.sorted_next {
        parser.error(text.lines().count(), "@sorted before no request");
    }
    if parser.errors.is_empty() {
        Ok(parser.cases)
    } else {
        Err(parser.errors)
    }
}

/// The state of reading a case file, line by line.
#[derive(Default)]
struct Parser {
    cases: Vec<Case>,
    errors: Vec<FormatError>,
    /// The dialect and configuration every case starts with.
    file_mode: Option<Mode>,
    file_config: Vec<(String, String)>,
    /// The dialect of the requests that follow.
    mode: Option<Mode>,
    /// `@sorted` was seen and no request has taken it yet.
    sorted_next: bool,
    /// The line before was a case header (where `@continue` may stand).
    after_header: bool,
    /// The request whose reply lines are being read.
    pending: Option<Pending>,
    spans: ArgSpans,
}

impl Parser {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(FormatError {
            line,
            message: message.into(),
        });
    }

    fn line(&mut self, n: usize, line: &str) {
        if line.trim().is_empty() || line == "#" || line.starts_with("# ") {
            return;
        }
        let after_header = std::mem::take(&mut self.after_header);
        // `@continue` and `@gocache-only` both stand right under the header.
        let keeps_header = matches!(line, "@continue" | "@gocache-only");
        if let Some(name) = line.strip_prefix("=== ") {
            self.finish_request();
            if std::mem::take(&mut self.sorted_next) {
                self.error(n, "@sorted before no request");
            }
            self.mode = self.file_mode;
            self.cases.push(Case {
                name: name.trim().to_string(),
                continues: false,
                gocache_only: false,
                config: self.file_config.clone(),
                requests: Vec::new(),
            });
            self.after_header = true;
        } else if let Some(directive) = line.strip_prefix('@') {
            self.directive(n, directive, after_header);
            self.after_header = after_header && keeps_header;
        } else if let Some((client, request)) = split_request(line) {
            self.request(n, line, client, request);
        } else {
            match self.pending.as_mut() {
                Some(p) if p.request.closes => self.error(n, "a reply line after @closed"),
                Some(p) => {
                    p.reply.push((n, line.to_string()));
                    if line.ends_with([' ', '\t']) {
                        self.error(n, "a reply line ends in a blank: write it \\x20");
                    }
                }
                None => self.error(n, format!("not a request, directive or comment: {line:?}")),
            }
        }
    }

    fn directive(&mut self, n: usize, directive: &str, after_header: bool) {
        if directive == "closed" {
            match self.pending.as_mut() {
                Some(p) => p.request.closes = true,
                None => self.error(n, "@closed must follow a request and its reply"),
            }
            return;
        }
        self.finish_request();
        let (word, rest) = directive.split_once(' ').unwrap_or((directive, ""));
        let in_case = !self.cases.is_empty();
        let started = self.cases.last().is_some_and(|c| !c.requests.is_empty());
        let continues = self.cases.last().is_some_and(|c| c.continues);
        match word {
            "resp" | "line" if rest.is_empty() => {
                let mode = if word == "resp" {
                    Mode::Resp
                } else {
                    Mode::Line
                };
                if in_case {
                    self.mode = Some(mode);
                } else {
                    self.file_mode = Some(mode);
                }
            }
            "config" => match rest.split_once(' ') {
                None => self.error(n, "@config needs a name and a value"),
                Some(_) if started => self.error(n, "@config after the case's first request"),
                Some(_) if continues => self.error(n, "@config in a case that continues"),
                Some((name, value)) => {
                    let pair = (name.to_string(), value.to_string());
                    match self.cases.last_mut() {
                        Some(case) => case.config.push(pair),
                        None => self.file_config.push(pair),
                    }
                }
            },
            "sorted" if in_case && rest.is_empty() => self.sorted_next = true,
            "continue" if after_header && self.cases.len() > 1 && rest.is_empty() => {
                if let Some(case) = self.cases.last_mut() {
                    case.continues = true;
                }
            }
            "gocache-only" if after_header && rest.is_empty() => {
                if let Some(case) = self.cases.last_mut() {
                    case.gocache_only = true;
                }
            }
            "continue" => self.error(
                n,
                "@continue must directly follow the header of a case after the first",
            ),
            _ => self.error(n, format!("unknown or misplaced directive @{directive}")),
        }
    }

    fn request(&mut self, n: usize, line: &str, client: &str, request: &str) {
        self.finish_request();
        if self.cases.is_empty() {
            self.error(n, "a request before the first case header (=== name)");
            return;
        }
        let mut args = Vec::new();
        match inline::split(request.as_bytes(), 0, &mut self.spans) {
            Ok(()) => {
                let mut resolved = Vec::new();
                self.spans.resolve(request.as_bytes(), &mut resolved);
                args = resolved.iter().map(|a| a.to_vec()).collect();
                if args.is_empty() {
                    self.error(n, "an empty request");
                }
            }
            Err(e) => self.error(n, format!("the request does not split: {}", e.message)),
        }
        self.pending = Some(Pending {
            request: Request {
                line: n,
                text: line.to_string(),
                client: client.to_string(),
                args,
                mode: self.mode.unwrap_or(Mode::Resp),
                sorted: std::mem::take(&mut self.sorted_next),
                expected: Vec::new(),
                unchecked: false,
                closes: false,
            },
            reply: Vec::new(),
        });
    }

    /// Turns the request being read, with its reply lines, into bytes.
    fn finish_request(&mut self) {
        let Some(Pending { mut request, reply }) = self.pending.take() else {
            return;
        };
        if let [(_, only)] = &reply[..] {
            request.unchecked = only == "...";
        }
        for (line, text) in reply.iter().filter(|_| !request.unchecked) {
            match request.mode {
                Mode::Resp => match resp_line_bytes(text) {
                    Ok(bytes) => request.expected.extend(bytes),
                    Err(message) => self.error(*line, message),
                },
                Mode::Line => {
                    // The one escape of the line dialect: editors drop
                    // trailing blanks, and some errors end in a space.
                    match text.strip_suffix("\\x20") {
                        Some(rest) => {
                            request.expected.extend_from_slice(rest.as_bytes());
                            request.expected.push(b' ');
                        }
                        None => request.expected.extend_from_slice(text.as_bytes()),
                    }
                    request.expected.push(b'\n');
                }
            }
        }
        if let Some(case) = self.cases.last_mut() {
            case.requests.push(request);
        }
    }
}

/// `NAME> request` or `> request`: the client's name and the request.
fn split_request(line: &str) -> Option<(&str, &str)> {
    let (client, request) = line.split_once("> ")?;
    client
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then_some((client, request))
}

/// The bytes one RESP reply line of a case file stands for.
fn resp_line_bytes(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if let Some((header, len)) = bulk_header(text.as_bytes()) {
        let payload = match text.get(header.len()..) {
            Some("") => Vec::new(),
            Some(rest) => match rest.strip_prefix(' ') {
                Some(payload) => unescape(payload)?,
                None => return Err(format!("a space must follow {header:?}")),
            },
            None => Vec::new(),
        };
        if payload.len() != len {
            return Err(format!(
                "{header} announces {len} bytes but {} follow",
                payload.len()
            ));
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&payload);
    } else {
        out.extend(unescape(text)?);
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// A bulk-like header (`$5`, `=8`, `!3`) at the start of `line`: its text
/// and the length it announces. `$-1` is not one: no payload follows it.
fn bulk_header(line: &[u8]) -> Option<(&str, usize)> {
    if !matches!(line.first(), Some(b'$' | b'=' | b'!')) {
        return None;
    }
    let digits = line[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || line.get(1 + digits).is_some_and(|&b| b != b' ') {
        return None;
    }
    let header = std::str::from_utf8(&line[..1 + digits]).ok()?;
    Some((header, header[1..].parse().ok()?))
}

/// Undoes the escapes of a RESP reply line.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |at: usize| {
            bytes
                .get(at..at + 2)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        match bytes.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'x') => match hex(i + 2) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => return Err(format!("bad \\x escape in {text:?}")),
            },
            _ => {
                return Err(format!(
                    "unknown escape in {text:?}: write a backslash as \\\\"
                ));
            }
        }
        i += 2;
    }
    Ok(out)
}

/// `bytes` with the escapes of a RESP reply line: printable ASCII as it is,
/// a backslash doubled, `\r` `\n` `\t`, anything else `\xHH`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// RESP bytes as a case file writes them, one reply line per line.
fn render_resp(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some(end) = bytes[i..].windows(2).position(|w| w == b"\r\n") else {
            let _ = writeln!(out, "{}   (no \\r\\n at the end)", escape(&bytes[i..]));
            break;
        };
        let line = &bytes[i..i + end];
        i += end + 2;
        let mut shown = escape(line);
        if let Some((_, len)) = bulk_header(line) {
            if bytes.get(i + len..i + len + 2) == Some(b"\r\n") {
                if len > 0 {
                    shown.push(' ');
                    shown.push_str(&escape(&bytes[i..i + len]));
                }
                i += len + 2;
            }
        }
        if shown.ends_with(' ') {
            shown.pop();
            shown.push_str("\\x20");
        }
        out.push_str(&shown);
        out.push('\n');
    }
    out
}

/// Line-dialect bytes as a case file writes them.
fn render_line(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        match line.strip_suffix(' ') {
            Some(rest) => {
                out.push_str(rest);
                out.push_str("\\x20");
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One client of a case's server.
struct Client {
    name: String,
    session: Session,
    /// The line of the request after which its connection closed.
    closed_after: Option<usize>,
}

/// A case's server and the clients connected to it.
struct Server {
    shared: Shared,
    clients: Vec<Client>,
    /// Where a `SAVE` would write; removed with the server.
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(config: &[(String, String)]) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let mut c = Config {
            dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        for (name, value) in config {
            let param = gocache::config::lookup(name)
                .ok_or_else(|| format!("@config: no parameter {name:?}"))?;
            param
                .apply(&mut c, value)
                .map_err(|e| format!("@config {name} {value}: {e}"))?;
        }
        Ok(Server {
            shared: Shared::in_memory(c),
            clients: Vec::new(),
            _dir: dir,
        })
    }

    /// The position of the client called `name`, connected now if it has
    /// not spoken yet.
    fn connect(&mut self, name: &str) -> usize {
        if let Some(i) = self.clients.iter().position(|c| c.name == name) {
            return i;
        }
        let n = self.clients.len() as u16 + 1;
        let peer = SocketAddr::from(([127, 0, 0, 1], 50_000 + n));
        let local = SocketAddr::from(([127, 0, 0, 1], 6380));
        let info = self.shared.clients.register(peer, local);
        let authenticated = !self.shared.settings.password_set();
        self.clients.push(Client {
            name: name.to_string(),
            session: Session::new(info, authenticated),
            closed_after: None,
        });
        self.clients.len() - 1
    }

    /// Runs `request` as a connection would: its reply's bytes, in the
    /// dialect the connection would answer in, and whether the connection
    /// closes after it.
    fn run(&mut self, request: &Request) -> Result<(Vec<u8>, bool), String> {
        let i = self.connect(&request.client);
        let shared = &self.shared;
        let client = &mut self.clients[i];
        if let Some(line) = client.closed_after {
            return Err(format!("this client's connection closed after line {line}"));
        }
        let session = &mut client.session;
        let argv: Vec<&[u8]> = request.args.iter().map(Vec::as_slice).collect();
        let mut reply = dispatch(shared, session, &argv, &[]);
        shared.stats.absorb(&mut session.counters);
        if request.sorted {
            sort_reply(&mut reply);
        }
        let mut out = Vec::new();
        let closes = session.close_now || session.close_after_reply;
        if !session.close_now {
            // As on a connection: `HELLO` answers in the version it
            // switches to, so the dialect is read after the command ran.
            let dialect = match request.mode {
                Mode::Line => Dialect::Line,
                Mode::Resp => resp_dialect(session.proto),
            };
            reply.encode(dialect, &mut out);
        }
        if closes {
            client.closed_after = Some(request.line);
            shared.clients.unregister(session.client.id);
        }
        Ok((out, closes))
    }
}

/// Sorts the elements of every innermost array or set of `reply`, and the
/// pairs of every map, by their bytes.
fn sort_reply(reply: &mut Reply) {
    fn key(r: &Reply) -> Vec<u8> {
        match r {
            Reply::Bulk(b) => b.as_slice().to_vec(),
            other => {
                let mut out = Vec::new();
                other.encode(Dialect::Resp3, &mut out);
                out
            }
        }
    }
    let nested = |r: &Reply| matches!(r, Reply::Array(_) | Reply::Set(_) | Reply::Map(_));
    match reply {
        Reply::Array(items) | Reply::Set(items) => {
            if items.iter().any(nested) {
                items.iter_mut().for_each(sort_reply);
            } else {
                items.sort_by_key(key);
            }
        }
        Reply::Map(pairs) => {
            pairs.iter_mut().for_each(|(_, v)| sort_reply(v));
            pairs.sort_by_key(|(k, _)| key(k));
        }
        _ => {}
    }
}

/// The server a case runs on: gocache in-process, or (to check the
/// expected replies) a real Redis.
enum Target {
    InProcess(Box<Server>),
    Redis(RedisServer),
}

impl Target {
    fn start(config: &[(String, String)], redis: Option<&str>) -> Result<Target, String> {
        match redis {
            None => Server::start(config).map(|s| Target::InProcess(Box::new(s))),
            Some(addr) => RedisServer::start(addr, config).map(Target::Redis),
        }
    }

    fn run(&mut self, request: &Request) -> Result<(Vec<u8>, bool), String> {
        match self {
            Target::InProcess(server) => server.run(request),
            Target::Redis(server) => server.run(request),
        }
    }
}

/// A real Redis, emptied for each case, that the requests are sent to over
/// RESP (`GOCACHE_CASES_REDIS=HOST:PORT`): how the expected replies are
/// checked against Redis. Line-dialect replies are Redis's RESP replies
/// shown as gocache's line dialect shows them. Client ids, gocache's own
/// commands and its documented differences do not match; every other
/// mismatch is a difference to look into.
struct RedisServer {
    addr: String,
    control: TcpStream,
    /// Parameters set for the case, put back when it ends.
    restore: Vec<(String, String)>,
    clients: Vec<RedisClient>,
}

struct RedisClient {
    name: String,
    stream: TcpStream,
    proto: u8,
    closed_after: Option<usize>,
}

impl RedisServer {
    fn start(addr: &str, config: &[(String, String)]) -> Result<RedisServer, String> {
        let control = redis_connect(addr)?;
        let mut server = RedisServer {
            addr: addr.to_string(),
            control,
            restore: Vec::new(),
            clients: Vec::new(),
        };
        server.call(&[b"FLUSHALL"])?;
        for (name, value) in config {
            let old = server.call(&[b"CONFIG", b"GET", name.as_bytes()])?;
            let old = match old {
                Reply::Array(items) if items.len() == 2 => match &items[1] {
                    Reply::Bulk(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            server.restore.push((name.clone(), old));
            server.call(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()])?;
        }
        Ok(server)
    }

    /// A request on the control connection.
    fn call(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        let mut buf = Vec::new();
        redis_send(&mut self.control, args)?;
        redis_read(&mut self.control, &mut buf)
    }

    fn run(&mut self, request: &Request) -> Result<(Vec<u8>, bool), String> {
        let i = match self.clients.iter().position(|c| c.name == request.client) {
            Some(i) => i,
            None => {
                self.clients.push(RedisClient {
                    name: request.client.clone(),
                    stream: redis_connect(&self.addr)?,
                    proto: 2,
                    closed_after: None,
                });
                self.clients.len() - 1
            }
        };
        let client = &mut self.clients[i];
        if let Some(line) = client.closed_after {
            return Err(format!("this client's connection closed after line {line}"));
        }
        let args: Vec<&[u8]> = request.args.iter().map(Vec::as_slice).collect();
        redis_send(&mut client.stream, &args)?;
        let mut raw = Vec::new();
        let mut reply = redis_read(&mut client.stream, &mut raw)?;
        let name = args[0].to_ascii_lowercase();
        if !matches!(reply, Reply::Error(_)) {
            match (&name[..], args.get(1)) {
                (b"hello", Some(v)) => client.proto = if *v == b"3" { 3 } else { 2 },
                (b"reset", _) => client.proto = 2,
                _ => {}
            }
        }
        let closes = request.closes && {
            // Only asked when the case expects it: the wait costs time.
            let mut byte = [0u8; 1];
            let _ = client
                .stream
                .set_read_timeout(Some(std::time::Duration::from_millis(200)));
            matches!(client.stream.read(&mut byte), Ok(0))
        };
        if closes {
            client.closed_after = Some(request.line);
        }
        if request.sorted {
            sort_reply(&mut reply);
        }
        Ok(match request.mode {
            Mode::Resp if !request.sorted => (raw, closes),
            mode => {
                let dialect = match mode {
                    Mode::Line => Dialect::Line,
                    Mode::Resp => resp_dialect(client.proto),
                };
                let mut out = Vec::new();
                reply.encode(dialect, &mut out);
                (out, closes)
            }
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        for (name, value) in std::mem::take(&mut self.restore) {
            let _ = self.call(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
        }
    }
}

fn redis_connect(addr: &str) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    Ok(stream)
}

fn redis_send(stream: &mut TcpStream, args: &[&[u8]]) -> Result<(), String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n", arg.len()).bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    stream.write_all(&out).map_err(|e| format!("send: {e}"))
}

/// Reads one whole reply into `raw` and parses it.
fn redis_read(stream: &mut TcpStream, raw: &mut Vec<u8>) -> Result<Reply, String> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some((reply, used)) = parse_resp(raw) {
            if used == raw.len() {
                return Ok(reply);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(format!("closed; got {:?}", escape(raw))),
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read: {e}; got {:?}", escape(raw))),
        }
    }
}

/// One RESP2 or RESP3 reply at the start of `buf`, and its length; `None`
/// until it is all there.
fn parse_resp(buf: &[u8]) -> Option<(Reply, usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let text = String::from_utf8_lossy(&buf[1..end]).into_owned();
    let mut at = end + 2;
    let number = || text.parse::<i64>().ok();
    let reply = match buf.first()? {
        b'+' => Reply::Status(text.into()),
        b'-' => Reply::Error(gocache::error::CommandError::other(text)),
        b':' => Reply::Integer(number()?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(text == "t"),
        b',' => Reply::Double(match text.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            t => t.parse().ok()?,
        }),
        b'(' => Reply::text(text),
        b'$' | b'=' | b'!' => match number()? {
            -1 => Reply::Nil,
            n => {
                let n = n as usize;
                let payload = buf.get(at..at + n)?;
                if buf.get(at + n..at + n + 2)? != b"\r\n" {
                    return None;
                }
                at += n + 2;
                match buf[0] {
                    b'=' => Reply::Verbatim(
                        String::from_utf8_lossy(payload.get(4..).unwrap_or_default()).into(),
                    ),
                    b'!' => Reply::Error(gocache::error::CommandError::other(
                        String::from_utf8_lossy(payload).into_owned(),
                    )),
                    _ => Reply::bulk(payload),
                }
            }
        },
        kind @ (b'*' | b'~' | b'%' | b'>') => match number()? {
            -1 => Reply::NilArray,
            n => {
                let count = if *kind == b'%' { 2 * n } else { n };
                let mut items = Vec::new();
                for _ in 0..count {
                    let (item, used) = parse_resp(&buf[at..])?;
                    items.push(item);
                    at += used;
                }
                match kind {
                    b'~' => Reply::Set(items),
                    b'%' => {
                        let mut pairs = Vec::new();
                        let mut items = items.into_iter();
                        while let (Some(k), Some(v)) = (items.next(), items.next()) {
                            pairs.push((k, v));
                        }
                        Reply::Map(pairs)
                    }
                    _ => Reply::Array(items),
                }
            }
        },
        _ => Reply::Status(format!("(unparsed {:?})", escape(&buf[..end])).into()),
    };
    Some((reply, at))
}

/// Runs every case of a file; a report of each mismatch.
fn run_cases(file: &str, cases: &[Case], redis: Option<&str>) -> Vec<String> {
    let mut failures = Vec::new();
    let mut server: Option<Target> = None;
    for case in cases {
        if !case.continues || server.is_none() {
            // The one before goes first: a Redis puts its settings back.
            drop(server.take());
            server = match Target::start(&case.config, redis) {
                Ok(s) => Some(s),
                Err(e) => {
                    let line = case.requests.first().map_or(0, |r| r.line);
                    failures.push(format!("{file}:{line}: case {:?}: {e}", case.name));
                    None
                }
            };
        }
        let Some(server) = server.as_mut() else {
            continue;
        };
        if case.gocache_only && redis.is_some() {
            continue;
        }
        for request in &case.requests {
            let place = format!("{file}:{}: {}", request.line, request.text);
            let (actual, closed) = match server.run(request) {
                Ok(outcome) => outcome,
                Err(e) => {
                    failures.push(format!("{place}\n  {e}"));
                    continue;
                }
            };
            let mut report = String::new();
            if !request.unchecked && actual != request.expected {
                let _ = writeln!(report, "  expected: \"{}\"", escape(&request.expected));
                let _ = writeln!(report, "  actual:   \"{}\"", escape(&actual));
                let shown = match request.mode {
                    Mode::Resp => render_resp(&actual),
                    Mode::Line => render_line(&actual),
                };
                let _ = writeln!(report, "  actual, as a case file writes it:");
                for line in shown.lines() {
                    let _ = writeln!(report, "    {line}");
                }
            }
            match (closed, request.closes) {
                (true, false) => report.push_str("  the connection closed (write @closed)\n"),
                (false, true) => report.push_str("  the connection stayed open (@closed)\n"),
                _ => {}
            }
            if !report.is_empty() {
                failures.push(format!("{place}   (case {:?})\n{report}", case.name));
            }
        }
    }
    failures
}

/// Reads and runs one case file: a report of each format error or mismatch.
fn check_file(file: &str, text: &str, redis: Option<&str>) -> (usize, Vec<String>) {
    match parse(text) {
        Ok(cases) => {
            let requests = cases.iter().map(|c| c.requests.len()).sum();
            (requests, run_cases(file, &cases, redis))
        }
        Err(errors) => (
            0,
            errors
                .iter()
                .map(|e| format!("{file}:{}: {}", e.line, e.message))
                .collect(),
        ),
    }
}

#[test]
fn every_case_file_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    let redis = std::env::var("GOCACHE_CASES_REDIS").ok();
    let mut failures = Vec::new();
    let mut requests = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read case file");
        let name = format!(
            "tests/cases/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let (n, mut found) = check_file(&name, &text, redis.as_deref());
        requests += n;
        failures.append(&mut found);
    }
    assert!(
        failures.is_empty(),
        "{} of the case files' checks failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(requests > 0);
}

// The runner's own behaviour: a runner that passed everything would be
// worse than none.

#[test]
fn a_mismatch_names_file_line_request_and_both_byte_strings_and_the_run_goes_on() {
    let text = "=== one\n> SET k v\n+OK\n> GET k\n$1 x\n\n=== two\n> GET k\n$1 v\n";
    let (_, failures) = check_file("t.case", text, None);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let first = &failures[0];
    assert!(first.starts_with("t.case:4: > GET k"), "{first}");
    assert!(first.contains(r#"expected: "$1\r\nx\r\n""#), "{first}");
    assert!(first.contains(r#"actual:   "$1\r\nv\r\n""#), "{first}");
    assert!(first.contains("    $1 v\n"), "{first}");
    // The second case started empty: its GET found nothing.
    assert!(
        failures[1].starts_with("t.case:8: > GET k"),
        "{}",
        failures[1]
    );
    assert!(failures[1].contains(r#"actual:   "$-1\r\n""#));
}

#[test]
fn clients_dialects_and_closing_are_followed() {
    let text = "\
=== two clients, two dialects
> SET k 1
+OK
@line
b> GET k
\"1\"
> QUIT
OK
@closed
@resp
b> HELLO 3 SETNAME b
%7
$6 server
$5 redis
$7 version
$6 7.0.15
$5 proto
:3
$2 id
:2
$4 mode
$10 standalone
$4 role
$6 master
$7 modules
*0
b> GET nope
_
";
    let (n, failures) = check_file("t.case", text, None);
    assert_eq!(n, 5);
    assert!(failures.is_empty(), "{failures:#?}");
    let (_, failures) = check_file("t.case", "=== q\n> QUIT\n+OK\n> PING\n+PONG\n", None);
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(failures[0].contains("write @closed"), "{}", failures[0]);
    assert!(
        failures[1].contains("closed after line 2"),
        "{}",
        failures[1]
    );
}

#[test]
fn every_byte_survives_the_escapes_and_the_rendering() {
    let all: Vec<u8> = (0..=255u8).collect();
    let mut reply = Vec::new();
    Reply::bulk(&all).encode(Dialect::Resp2, &mut reply);
    let rendered = render_resp(&reply);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), 1, "{rendered}");
    assert_eq!(resp_line_bytes(lines[0]).unwrap(), reply);
    assert_eq!(render_resp(b"$2\r\na \r\n"), "$2 a\\x20\n");
    assert_eq!(resp_line_bytes("$2 a\\x20").unwrap(), b"$2\r\na \r\n");
}

#[test]
fn format_errors_are_reported_with_their_lines() {
    let text = "> PING\n=== x\n> SET k \"v\n$3 ab\n@bogus\n> GET k\n@sorted\n";
    let (_, errors) = check_file("t.case", text, None);
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').nth(1).unwrap())
        .collect();
    assert_eq!(lines, ["1", "3", "4", "5", "7"], "{errors:#?}");
}

#[test]
fn continue_sorted_unchecked_and_config_do_what_they_say() {
    let text = "\
@config requirepass sekret
=== one
> AUTH sekret
+OK
> MSET b 1 a 2 c 3
+OK
=== two
@continue
> HELLO 3
...
@sorted
> KEYS *
*3
$1 a
$1 b
$1 c
=== three
> GET a
-NOAUTH Authentication required.
";
    let (n, failures) = check_file("t.case", text, None);
    assert_eq!(n, 5);
    assert!(failures.is_empty(), "{failures:#?}");
    // Unsorted, the order is the hash's; sorted wrongly, it fails.
    let text = "=== x\n> MSET b 1 a 2\n+OK\n@sorted\n> KEYS *\n*2\n$1 b\n$1 a\n";
    let (_, failures) = check_file("t.case", text, None);
    assert_eq!(failures.len(), 1, "{failures:#?}");
}
