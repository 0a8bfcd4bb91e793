//! Shared helpers for the integration tests: start the real `gocache` binary
//! on an ephemeral port, talk to it over TCP, and read replies with deadlines.
//!
//! [`Server`] starts the binary with `--port 0`, a `--dir` (a fresh temporary
//! one, or the caller's so that a later start finds what an earlier one
//! saved) and any extra flags, parses the `gocache listening on IP:PORT`
//! line, keeps draining stdout and stderr (so the child never blocks on a
//! full pipe), and kills the child when dropped. [`start_expecting_failure`]
//! runs a start that must end before listening and returns what it printed.
//! [`Client`] sends raw bytes and reads with a deadline: exactly N bytes,
//! until a predicate holds, or one whole RESP reply ([`Resp`]); its `try_`
//! forms report a closed connection instead of failing the test, for clients
//! that expect the server to die under them. Nothing here sleeps to wait for
//! a condition: every wait polls until a generous deadline.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous: the
/// tests run on a loaded two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The path of the `gocache` binary cargo built for these tests, or the one
/// `GOCACHE_BIN` names (to run the tests against another build, such as
/// the one before a fix, and see them fail).
pub fn binary() -> std::path::PathBuf {
    match std::env::var_os("GOCACHE_BIN") {
        Some(path) => PathBuf::from(path),
        None => assert_cmd::cargo::cargo_bin("gocache"),
    }
}

/// A running `gocache`; killed (and reaped) on drop.
pub struct Server {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Everything written to stdout after the listening line.
    pub stdout_rest: Arc<Mutex<Vec<u8>>>,
    /// Everything written to stderr so far.
    pub stderr: Arc<Mutex<Vec<u8>>>,
    /// The snapshot directory given with `--dir`.
    dir: PathBuf,
    /// The temporary directory behind `dir` when [`Server::start_with`] made
    /// it (removed on drop, after the child is killed); `None` when the
    /// caller owns `dir`.
    temp_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server with default flags.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with `--port 0 --dir <fresh temp dir>` followed by
    /// `extra` (a later flag overrides an earlier one).
    pub fn start_with(extra: &[&str]) -> Server {
        let temp_dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server::start_in(temp_dir.path(), extra);
        server.temp_dir = Some(temp_dir);
        server
    }

    /// Starts a server with `--port 0 --dir <dir>` followed by `extra`. The
    /// caller owns `dir` and keeps it past this server, so a later start can
    /// load what this one saved.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Server::start_wrapped(&[], dir, extra)
    }

    /// Like [`Server::start_with`], but through `wrapper`, a command that
    /// ends by running the program and arguments that follow it (e.g.
    /// `["bash", "-c", "ulimit -n 64; exec \"$@\"", "bash"]`, or `ip netns
    /// exec NAME`); it must exec, so the server keeps the wrapper's pid.
    pub fn start_through(wrapper: &[&str], extra: &[&str]) -> Server {
        let temp_dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server::start_wrapped(wrapper, temp_dir.path(), extra);
        server.temp_dir = Some(temp_dir);
        server
    }

    fn start_wrapped(wrapper: &[&str], dir: &Path, extra: &[&str]) -> Server {
        let mut child = spawn(wrapper, dir, extra);
        let (stderr, _) = drain(child.stderr.take().expect("stderr"));
        let (line, stdout_rest) = first_line(child.stdout.take().expect("stdout"));
        let line = match line {
            Some(line) => line,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "gocache did not print its listening line; stderr:\n{}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                );
            }
        };
        let addr = parse_listening_line(&line)
            .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}"));
        Server {
            child,
            addr,
            stdout_rest,
            stderr,
            dir: dir.to_path_buf(),
            temp_dir: None,
        }
    }

    /// The snapshot directory given with `--dir`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new connection to the server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The stderr text so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stderr contains `needle`. Stderr is drained by a thread of
    /// its own, so a line the server has written may reach the test a moment
    /// later: never assert on it without waiting.
    pub fn wait_for_stderr(&self, needle: &str) {
        let start = Instant::now();
        while !self.stderr_text().contains(needle) {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {needle:?} on stderr; stderr so far:\n{}",
                self.stderr_text()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process (SIGKILL: no chance to save) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit on its own and returns how it ended.
    /// Everything it wrote to stderr is collected before this returns.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let status = wait_exit(&mut self.child, "gocache to exit");
        wait_for("stderr to close", || Arc::strong_count(&self.stderr) == 1);
        status
    }

    /// Kills the process and waits for it; returns what stdout carried after
    /// the listening line.
    pub fn kill_and_collect_stdout(&mut self) -> Vec<u8> {
        self.kill();
        wait_for("stdout to close", || {
            Arc::strong_count(&self.stdout_rest) == 1
        });
        self.stdout_rest.lock().unwrap().clone()
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kb(&self, field: &str) -> u64 {
        proc_status_kb(self.pid(), field)
    }

    /// CPU time the process has used so far (user + system), from
    /// `/proc/PID/stat`.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the parenthesised name; utime and stime are 14 and 15.
        let after = &stat[stat.rfind(')').expect("name") + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // The kernel's USER_HZ is 100 on every Linux we run on.
        Duration::from_millis(ticks * 10)
    }

    /// Sends the signal `name` (`HUP`, `TERM`, ...) with bash's `kill`
    /// (a builtin, so no package is needed for it).
    pub fn signal(&self, name: &str) {
        let status = Command::new("bash")
            .args(["-c", &format!("kill -s {name} {}", self.pid())])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A field of `/proc/PID/status` in KiB.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Spawns `[wrapper...] gocache --port 0 --dir <dir> <extra>` with piped
/// stdout and stderr.
fn spawn(wrapper: &[&str], dir: &Path, extra: &[&str]) -> Child {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary());
            c
        }
        None => Command::new(binary()),
    };
    command
        .arg("--port")
        .arg("0")
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gocache")
}

/// Polls `child` until it exits; panics naming `what` after [`DEADLINE`].
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let mut status = None;
    wait_for(what, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.expect("exited")
}

/// What a start that ended on its own printed, and how it ended.
pub struct FailedStart {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Starts `gocache --port 0 --dir <dir> <extra>` expecting it to exit on its
/// own (before or instead of listening); returns its whole output once both
/// pipes have closed.
pub fn start_expecting_failure(dir: &Path, extra: &[&str]) -> FailedStart {
    let mut child = spawn(&[], dir, extra);
    let (stdout, stdout_reader) = drain(child.stdout.take().expect("stdout"));
    let (stderr, stderr_reader) = drain(child.stderr.take().expect("stderr"));
    let status = wait_exit(&mut child, "the failing start to exit");
    // The pipes reach end of file with the exit.
    stdout_reader.join().unwrap();
    stderr_reader.join().unwrap();
    let text = |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).into_owned();
    FailedStart {
        status,
        stdout: text(&stdout),
        stderr: text(&stderr),
    }
}

/// Whether `tool` is on the `PATH` (a test that needs it skips without it).
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Parses `gocache listening on IP:PORT`.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.trim_end_matches(['\r', '\n'])
        .strip_prefix("gocache listening on ")?
        .parse()
        .ok()
}

/// Reads the first stdout line (with a deadline), then keeps collecting the
/// rest in the background. The returned buffer's `Arc` is dropped by the
/// reader thread at end of file.
fn first_line(stdout: ChildStdout) -> (Option<String>, Arc<Mutex<Vec<u8>>>) {
    let rest = Arc::new(Mutex::new(Vec::new()));
    let theirs = rest.clone();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => {
                let _ = tx.send(Some(line));
            }
            _ => {
                let _ = tx.send(None);
                return;
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => theirs.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
        drop(theirs);
    });
    let line = rx.recv_timeout(DEADLINE).ok().flatten();
    (line, rest)
}

/// Collects everything a pipe carries, in the background; the thread ends
/// at end of file.
fn drain(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, thread::JoinHandle<()>) {
    let out = Arc::new(Mutex::new(Vec::new()));
    let theirs = out.clone();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => theirs.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    });
    (out, reader)
}

/// Polls `cond` until it holds; panics naming `what` after [`DEADLINE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// One TCP connection to the server.
pub struct Client {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read but not yet consumed.
    pending: Vec<u8>,
}

/// What a read found when it stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The condition held.
    Done,
    /// The peer closed the connection.
    Eof,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            pending: Vec::new(),
        }
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.try_send(bytes).expect("send");
    }

    /// Writes all of `bytes`, reporting a failure (the server is gone)
    /// instead of failing the test.
    pub fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        self.stream.write_all(bytes.as_ref())
    }

    /// Reads once more from the socket into `pending`, waiting at most until
    /// `deadline`. Returns false on end of file; panics at the deadline or on
    /// a read error.
    fn fill(&mut self, deadline: Instant) -> bool {
        match self.read_some(deadline) {
            Ok(open) => open,
            Err(e) if e.kind() == ErrorKind::TimedOut => panic!(
                "timed out; got so far: {:?}",
                String::from_utf8_lossy(&self.pending)
            ),
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Like [`Client::fill`], but a timeout is `Err(TimedOut)` and a read
    /// error is returned as it is.
    fn read_some(&mut self, deadline: Instant) -> io::Result<bool> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"));
        }
        self.stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))?;
        let mut buf = [0u8; 64 * 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads until `done(pending)` gives `Some(n)`, then takes and returns the
    /// first `n` bytes. Panics at the deadline or on end of file.
    pub fn read_until(&mut self, mut done: impl FnMut(&[u8]) -> Option<usize>) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(n) = done(&self.pending) {
                return self.pending.drain(..n).collect();
            }
            if !self.fill(deadline) {
                if let Some(n) = done(&self.pending) {
                    return self.pending.drain(..n).collect();
                }
                panic!(
                    "connection closed; got so far: {:?}",
                    String::from_utf8_lossy(&self.pending)
                );
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact_n(&mut self, n: usize) -> Vec<u8> {
        self.read_until(|buf| (buf.len() >= n).then_some(n))
    }

    /// Reads exactly as many bytes as `expected` and asserts they are equal.
    pub fn expect(&mut self, expected: impl AsRef<[u8]>) {
        let expected = expected.as_ref();
        let got = self.read_exact_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "raw: {got:?}"
        );
        assert_eq!(got, expected);
    }

    /// Sends `request` and asserts the reply is exactly `expected`.
    pub fn roundtrip(&mut self, request: impl AsRef<[u8]>, expected: impl AsRef<[u8]>) {
        self.send(request);
        self.expect(expected);
    }

    /// Reads one `\n`-terminated line (the `\n` included).
    pub fn read_line(&mut self) -> String {
        let line = self.read_until(|buf| buf.iter().position(|&b| b == b'\n').map(|i| i + 1));
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Sends a line-protocol request and returns its whole reply, however
    /// many lines: an `ECHO` marker follows the request, and everything
    /// before the marker's reply is the answer.
    pub fn line(&mut self, request: &str) -> String {
        const MARKER: &[u8] = b"\"--end-of-reply--\"\n";
        self.send(format!("{request}\nECHO --end-of-reply--\n"));
        let all = self.read_until(|buf| {
            buf.windows(MARKER.len())
                .position(|w| w == MARKER)
                .map(|i| i + MARKER.len())
        });
        String::from_utf8_lossy(&all[..all.len() - MARKER.len()]).into_owned()
    }

    /// Asserts the server closes the connection without sending anything more.
    pub fn expect_eof(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while self.fill(deadline) {
            assert!(
                self.pending.is_empty(),
                "expected end of file, got {:?}",
                String::from_utf8_lossy(&self.pending)
            );
        }
        assert!(self.pending.is_empty(), "unexpected {:?}", self.pending);
    }

    /// Asserts nothing arrives within `quiet` (no stray reply bytes).
    pub fn expect_silence(&mut self, quiet: Duration) {
        let until = Instant::now() + quiet;
        while Instant::now() < until {
            self.stream
                .set_read_timeout(Some(
                    until
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                ))
                .unwrap();
            let mut buf = [0u8; 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("connection closed unexpectedly"),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        assert!(
            self.pending.is_empty(),
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&self.pending)
        );
    }

    /// Sends a RESP request built from `args` and reads one whole reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        self.send(encode(args));
        self.read_resp()
    }

    /// Like [`Client::call`], but returns the reply's raw bytes.
    pub fn call_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(encode(args));
        self.read_resp_raw()
    }

    /// Reads one whole RESP reply.
    pub fn read_resp(&mut self) -> Resp {
        let raw = self.read_resp_raw();
        let (value, used) = parse_resp(&raw).expect("a whole reply");
        assert_eq!(used, raw.len());
        value
    }

    /// Reads the raw bytes of one whole RESP reply.
    pub fn read_resp_raw(&mut self) -> Vec<u8> {
        self.read_until(|buf| parse_resp(buf).map(|(_, n)| n))
    }

    /// Reads one whole RESP reply, reporting end of file, a read error or
    /// the deadline as an error instead of failing the test.
    pub fn try_read_resp(&mut self) -> io::Result<Resp> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some((value, used)) = parse_resp(&self.pending) {
                self.pending.drain(..used);
                return Ok(value);
            }
            if !self.read_some(deadline)? {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed mid-reply",
                ));
            }
        }
    }
}

/// `INFO <section>` as `field -> value` pairs, in order.
pub fn info_fields(c: &mut Client, section: &str) -> Vec<(String, String)> {
    let text = c.call(&["INFO", section]).text();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (k.to_string(), v.trim_end_matches('\r').to_string())
        })
        .collect()
}

/// One field of `INFO <section>`; panics if it is missing.
pub fn info_field(c: &mut Client, section: &str, field: &str) -> String {
    info_fields(c, section)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

/// Encodes a RESP multibulk request.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 or RESP3 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    /// `+text`
    Simple(String),
    /// `-text`
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` bytes
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk)
    NilBulk,
    /// `*-1` (RESP2 null array)
    NilArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n`
    Array(Vec<Resp>),
    /// `%n`
    Map(Vec<(Resp, Resp)>),
    /// `~n`
    Set(Vec<Resp>),
    /// `,text`
    Double(String),
    /// `#t` / `#f`
    Bool(bool),
    /// `=n fmt:text`: format and text.
    Verbatim(String, Vec<u8>),
}

impl Resp {
    /// A bulk string of `s`.
    pub fn bulk(s: impl AsRef<[u8]>) -> Resp {
        Resp::Bulk(s.as_ref().to_vec())
    }

    /// A simple status.
    pub fn simple(s: &str) -> Resp {
        Resp::Simple(s.to_string())
    }

    /// `+OK`
    pub fn ok() -> Resp {
        Resp::simple("OK")
    }

    /// An error reply.
    pub fn err(s: &str) -> Resp {
        Resp::Error(s.to_string())
    }

    /// The bytes of a bulk, simple or verbatim string.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Resp::Bulk(b) | Resp::Verbatim(_, b) => b,
            Resp::Simple(s) | Resp::Double(s) => s.as_bytes(),
            other => panic!("not a string: {other:?}"),
        }
    }

    /// The text of a bulk, simple or verbatim string.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// The integer of `:n`.
    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }

    /// The items of an array or set.
    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(v) | Resp::Set(v) => v,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// Map pairs: from a `%` map, or from a flat RESP2 array.
    pub fn pairs(&self) -> Vec<(Resp, Resp)> {
        match self {
            Resp::Map(p) => p.clone(),
            Resp::Array(v) => {
                assert!(v.len() % 2 == 0, "odd flat map: {v:?}");
                v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
            }
            other => panic!("not a map: {other:?}"),
        }
    }

    /// The value under text key `key` in a map (either shape).
    pub fn get(&self, key: &str) -> Option<Resp> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k.bytes() == key.as_bytes())
            .map(|(_, v)| v)
    }
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// Parses one whole RESP reply at the start of `buf`; returns it and the
/// bytes it used, or `None` if more bytes are needed.
pub fn parse_resp(buf: &[u8]) -> Option<(Resp, usize)> {
    parse_at(buf, 0)
}

fn parse_at(buf: &[u8], at: usize) -> Option<(Resp, usize)> {
    let kind = *buf.get(at)?;
    let end = line_end(buf, at + 1)?;
    let head = String::from_utf8_lossy(&buf[at + 1..end]).into_owned();
    let after = end + 2;
    let number = || -> i64 {
        head.parse()
            .unwrap_or_else(|_| panic!("bad RESP header {:?}", head))
    };
    let items = |n: i64, mut pos: usize| -> Option<(Vec<Resp>, usize)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (item, next) = parse_at(buf, pos)?;
            out.push(item);
            pos = next;
        }
        Some((out, pos))
    };
    Some(match kind {
        b'+' => (Resp::Simple(head), after),
        b'-' => (Resp::Error(head), after),
        b':' => (Resp::Int(number()), after),
        b',' => (Resp::Double(head), after),
        b'_' => (Resp::Null, after),
        b'#' => (Resp::Bool(head == "t"), after),
        b'$' | b'=' => {
            let n = number();
            if n < 0 {
                return Some((Resp::NilBulk, after));
            }
            let stop = after + n as usize;
            if buf.len() < stop + 2 {
                return None;
            }
            assert_eq!(&buf[stop..stop + 2], b"\r\n", "bulk not followed by CRLF");
            let body = buf[after..stop].to_vec();
            let value = if kind == b'$' {
                Resp::Bulk(body)
            } else {
                let fmt = String::from_utf8_lossy(&body[..3]).into_owned();
                assert_eq!(body[3], b':', "verbatim format separator");
                Resp::Verbatim(fmt, body[4..].to_vec())
            };
            (value, stop + 2)
        }
        b'*' | b'~' => {
            let n = number();
            if n < 0 {
                return Some((Resp::NilArray, after));
            }
            let (v, pos) = items(n, after)?;
            (
                if kind == b'*' {
                    Resp::Array(v)
                } else {
                    Resp::Set(v)
                },
                pos,
            )
        }
        b'%' => {
            let (v, pos) = items(number() * 2, after)?;
            let pairs = v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
            (Resp::Map(pairs), pos)
        }
        other => panic!("unknown RESP type byte {:?}", other as char),
    })
}

/// Shows bytes the way redis-cli (and gocache's line protocol) does: double
/// quotes, named escapes, `\xHH` for the rest. Written independently of the
/// server's encoder so the tests check it.
pub fn cli_repr(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            32..=126 => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// A client on its own connection and thread, running `step(client, i)` for
/// i = 0, 1, ... until [`Churn::finish`], `rounds` steps, or [`DEADLINE`]:
/// the writer side of "a reader never sees ..." tests.
pub struct Churn {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

impl Churn {
    /// Starts the loop against `addr`.
    pub fn start(
        addr: SocketAddr,
        rounds: u64,
        mut step: impl FnMut(&mut Client, u64) + Send + 'static,
    ) -> Churn {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut c = Client::connect(addr);
            let start = Instant::now();
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) && i < rounds && start.elapsed() < DEADLINE {
                step(&mut c, i);
                i += 1;
            }
        });
        Churn { stop, thread }
    }

    /// Stops the loop and waits for it; a failed assertion in it fails the test.
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the churning client failed");
    }
}

/// How long a client that must get nothing is listened to (the blocking
/// tests' one window of silence).
pub const QUIET: Duration = Duration::from_millis(300);

/// `INFO clients`' `blocked_clients`.
pub fn blocked_clients(c: &mut Client) -> usize {
    info_field(c, "clients", "blocked_clients").parse().unwrap()
}

/// Waits until `n` clients are blocked.
pub fn wait_blocked(c: &mut Client, n: usize) {
    wait_for(&format!("{n} blocked clients"), || blocked_clients(c) == n);
}

/// Sends `args` from `client`, which will block, and waits until the
/// server counts one more blocked client.
pub fn block(client: &mut Client, args: &[&str], watcher: &mut Client) {
    let before = blocked_clients(watcher);
    client.send(encode(args));
    wait_blocked(watcher, before + 1);
}
