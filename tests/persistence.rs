//! Snapshot persistence, end to end: the real binary saving, being stopped
//! (politely or with SIGKILL) and starting again on the same `--dir`.
//!
//! Every wait polls until a generous deadline; nothing relies on a sleep being
//! long enough. Every server is killed when its guard drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest any one wait may take on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn gocache() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gocache"));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Collects a pipe's bytes on a thread (which ends at end of file), so the
/// child never blocks on it.
fn drain(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, thread::JoinHandle<()>) {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let out = sink.clone();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (sink, reader)
}

/// Polls `child` until it exits, or fails the test at the deadline.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: gocache did not exit");
        thread::sleep(Duration::from_millis(10));
    }
}

/// A running `gocache` on `--dir`; killed and reaped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts on `dir` with periodic snapshots off, unless `extra` says otherwise.
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = gocache()
            .args(["--port", "0", "--snapshot-interval", "0", "--dir"])
            .arg(dir)
            .args(extra)
            .spawn()
            .expect("spawn gocache");
        let (stderr, _) = drain(child.stderr.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(DEADLINE).unwrap_or_default();
        let Some(addr) = line
            .trim_end()
            .strip_prefix("gocache listening on ")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no listening line (got {line:?}); stderr:\n{}",
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        };
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// SIGKILL (std's `Child::kill`), then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, "server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a failed start printed, and how it ended.
struct FailedStart {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Starts on `dir` expecting the server to exit on its own before listening.
fn start_expecting_failure(dir: &Path) -> FailedStart {
    let mut child = gocache()
        .args(["--port", "0", "--dir"])
        .arg(dir)
        .spawn()
        .expect("spawn gocache");
    let (stdout, stdout_reader) = drain(child.stdout.take().unwrap());
    let (stderr, stderr_reader) = drain(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, "failing start");
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

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resp {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

impl Resp {
    fn bulk(&self) -> Option<&[u8]> {
        match self {
            Resp::Bulk(b) => b.as_deref(),
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Resp::Int(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

/// A RESP2 client with a read deadline.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn send(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        let mut out = Vec::new();
        Self::encode(&mut out, args);
        self.writer.write_all(&out)
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Resp {
        self.send(args).expect("send");
        self.read().expect("read reply")
    }

    /// A command given as words.
    fn run(&mut self, words: &str) -> Resp {
        let args: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        self.cmd(&args)
    }

    fn read(&mut self) -> std::io::Result<Resp> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("incomplete reply line {line:?}"),
            ));
        }
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let number = || -> i64 { text.parse().expect("a number") };
        Ok(match line[0] {
            b'+' => Resp::Status(text.clone()),
            b'-' => Resp::Error(text.clone()),
            b':' => Resp::Int(number()),
            b'$' if number() < 0 => Resp::Bulk(None),
            b'$' => {
                let mut data = vec![0; number() as usize + 2];
                self.reader.read_exact(&mut data)?;
                data.truncate(data.len() - 2);
                Resp::Bulk(Some(data))
            }
            b'*' => {
                let n = number().max(0);
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.read()?);
                }
                Resp::Array(items)
            }
            other => panic!("unexpected reply type {:?}", other as char),
        })
    }

    /// `INFO persistence` as name/value pairs.
    fn persistence(&mut self) -> Vec<(String, String)> {
        let text = self.run("INFO persistence");
        let text = String::from_utf8(text.bulk().unwrap().to_vec()).unwrap();
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect()
    }

    fn info_field(&mut self, section: &str, name: &str) -> String {
        let text = self.run(&format!("INFO {section}"));
        let text = String::from_utf8(text.bulk().unwrap().to_vec()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
            .trim()
            .to_string()
    }

    /// Waits until no background save is pending or running.
    fn wait_background_save(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while self.info_field("persistence", "rdb_bgsave_in_progress") != "0" {
            assert!(Instant::now() < deadline, "background save never finished");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn ok() -> Resp {
    Resp::Status("OK".into())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn snapshot(dir: &Path) -> PathBuf {
    dir.join("dump.gcs")
}

#[test]
fn a_restart_restores_values_binary_keys_and_counting_ttls_but_not_keys_expired_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let binary_key: &[u8] = b"bin\r\nkey\0\xff";
    let binary_value: &[u8] = b"\0\r\n$3\r\nnot a frame\xfe";
    let short_lived_deadline;
    let ttl_before;
    {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        assert_eq!(c.run("SET plain value"), ok());
        assert_eq!(c.cmd(&[b"SET", binary_key, binary_value]), ok());
        assert_eq!(c.cmd(&[b"SET", b"empty", b""]), ok());
        assert_eq!(c.run("SET long-ttl x PX 100000"), ok());
        short_lived_deadline = now_ms() + 1500;
        assert_eq!(c.run("SET short-ttl y PX 1500"), ok());
        assert_eq!(c.run("SAVE"), ok());
        ttl_before = c.run("PTTL long-ttl").int();
        assert!(ttl_before > 0 && ttl_before <= 100_000);
        server.kill();
    }
    // Let the short deadline pass while the server is down.
    while now_ms() <= short_lived_deadline + 50 {
        thread::sleep(Duration::from_millis(20));
    }
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.run("GET plain").bulk(), Some(&b"value"[..]));
    assert_eq!(c.cmd(&[b"GET", binary_key]).bulk(), Some(binary_value));
    assert_eq!(c.run("GET empty").bulk(), Some(&b""[..]));
    let ttl_after = c.run("PTTL long-ttl").int();
    assert!(
        ttl_after > 0 && ttl_after < ttl_before,
        "{ttl_after} vs {ttl_before}"
    );
    assert_eq!(c.run("EXISTS short-ttl").int(), 0);
    assert_eq!(c.run("DBSIZE").int(), 4);
    let info = c.persistence();
    let field = |name: &str| {
        info.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("rdb_last_load_keys_loaded"), Some("4"));
    assert_eq!(field("rdb_last_load_keys_expired"), Some("1"));
    assert_eq!(field("rdb_changes_since_last_save"), Some("0"));
}

#[test]
fn a_restored_deadline_reaches_the_sweeper_without_the_key_being_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        assert_eq!(c.run("SET fleeting v PX 6000"), ok());
        assert_eq!(c.run("SET stays v"), ok());
        assert_eq!(c.run("SAVE"), ok());
        server.kill();
    }
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(
        c.info_field("persistence", "rdb_last_load_keys_loaded"),
        "2",
        "the restart took longer than the key's six seconds"
    );
    let deadline = Instant::now() + DEADLINE;
    while c.info_field("stats", "expired_keys") != "1" {
        assert!(Instant::now() < deadline, "the sweeper never expired it");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.run("DBSIZE").int(), 1);
}

/// A small time-seeded PRNG (xorshift64*), so every run kills at other moments.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn crash_key(round: usize, i: usize) -> Vec<u8> {
    format!("r{round}:{i}").into_bytes()
}

fn crash_value(round: usize, i: usize) -> Vec<u8> {
    format!("value {round}/{i}\r\n\0").into_bytes()
}

/// What a writer of one crash round saw before the kill.
struct RoundLog {
    /// SETs sent, acknowledged or not: no key beyond these exists.
    sent: usize,
    /// Every key below this was acknowledged before a `BGSAVE` that was then
    /// seen to complete successfully.
    durable: usize,
    completed_saves: usize,
}

/// Writes `r{round}:{i}` for i = 0, 1, 2, ... in pipelined batches on one
/// connection, asking for a `BGSAVE` whenever none is pending, until the
/// server dies under it. Past [`KEYS_PER_ROUND`] it keeps writing, setting
/// the round's last key again to the same value, so saves stay small.
fn write_until_killed(mut c: Client, round: usize) -> RoundLog {
    const BATCH: usize = 10;
    const KEYS_PER_ROUND: usize = 10_000;
    let mut log = RoundLog {
        sent: 0,
        durable: 0,
        completed_saves: 0,
    };
    let mut acked = 0;
    // Keys below this were all acknowledged before the pending BGSAVE was sent.
    let mut pending_save: Option<usize> = None;
    loop {
        let mut out = Vec::new();
        for i in acked..acked + BATCH {
            let i = i.min(KEYS_PER_ROUND - 1);
            Client::encode(
                &mut out,
                &[b"SET", &crash_key(round, i), &crash_value(round, i)],
            );
        }
        if c.writer.write_all(&out).is_err() {
            return log;
        }
        log.sent = (acked + BATCH).min(KEYS_PER_ROUND);
        for _ in 0..BATCH {
            match c.read() {
                Ok(reply) => assert_eq!(reply, ok()),
                Err(_) => return log,
            }
            acked = (acked + 1).min(KEYS_PER_ROUND);
        }
        match pending_save {
            None => match c.send(&[b"BGSAVE"]).and_then(|()| c.read()) {
                Ok(Resp::Status(s)) if s == "Background saving started" => {
                    pending_save = Some(acked);
                }
                Ok(other) => panic!("BGSAVE answered {other:?}"),
                Err(_) => return log,
            },
            Some(covered) => {
                let info = match c.send(&[b"INFO", b"persistence"]).and_then(|()| c.read()) {
                    Ok(Resp::Bulk(Some(text))) => String::from_utf8(text).unwrap(),
                    Ok(other) => panic!("INFO answered {other:?}"),
                    Err(_) => return log,
                };
                // Status and progress change together under the server's
                // lock, so one INFO reply shows both of the same save.
                if info.contains("rdb_bgsave_in_progress:0\r\n") {
                    assert!(
                        info.contains("rdb_last_bgsave_status:ok\r\n"),
                        "a save failed: {info}"
                    );
                    log.durable = covered;
                    log.completed_saves += 1;
                    pending_save = None;
                }
            }
        }
    }
}

/// How many of `r{round}:0..sent` exist; asserts that they are exactly a
/// prefix (a point-in-time snapshot of one in-order writer) with right values.
fn surviving_prefix(c: &mut Client, round: usize, sent: usize) -> usize {
    let mut kept = None;
    for start in (0..sent).step_by(500) {
        let keys: Vec<Vec<u8>> = (start..(start + 500).min(sent))
            .map(|i| crash_key(round, i))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(Vec::as_slice));
        let Resp::Array(values) = c.cmd(&args) else {
            panic!("MGET did not answer an array")
        };
        for (offset, value) in values.iter().enumerate() {
            let i = start + offset;
            match (value.bulk(), kept) {
                (Some(v), None) => assert_eq!(v, crash_value(round, i), "round {round} key {i}"),
                (None, None) => kept = Some(i),
                (Some(_), Some(gap)) => {
                    panic!("round {round}: key {i} survived but key {gap} did not")
                }
                (None, Some(_)) => {}
            }
        }
    }
    kept.unwrap_or(sent)
}

#[test]
fn crash_loop_never_loses_a_write_acknowledged_before_the_last_completed_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::seeded();
    eprintln!("crash loop PRNG seed {:#x}", rng.0);
    const ROUNDS: usize = 20;
    // Keys kept of each finished round, and the log of the last killed one.
    let mut kept_per_round: Vec<usize> = Vec::new();
    let mut last: Option<RoundLog> = None;
    let mut saves_seen = 0;
    for round in 0..=ROUNDS {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        if let Some(log) = last.take() {
            let kept = surviving_prefix(&mut c, round - 1, log.sent);
            assert!(
                kept >= log.durable,
                "round {}: {kept} keys survived, but {} were acknowledged before a completed save",
                round - 1,
                log.durable
            );
            kept_per_round.push(kept);
        }
        let expected: usize = kept_per_round.iter().sum();
        assert_eq!(c.run("DBSIZE").int() as usize, expected, "round {round}");
        if round == ROUNDS {
            // The last start only checks: every round's keys, in full.
            for (r, &kept) in kept_per_round.iter().enumerate() {
                assert_eq!(surviving_prefix(&mut c, r, kept + 1), kept, "round {r}");
            }
            break;
        }
        let writer = {
            let c = server.client();
            thread::spawn(move || write_until_killed(c, round))
        };
        thread::sleep(Duration::from_millis(150 + rng.below(450)));
        server.kill();
        let log = writer.join().expect("writer thread");
        saves_seen += log.completed_saves;
        last = Some(log);
    }
    assert!(
        saves_seen > 0,
        "no save ever completed: the test proved nothing"
    );
    eprintln!("crash loop: {saves_seen} saves completed, keys kept per round {kept_per_round:?}");
}

/// Writes a few keys, shuts down cleanly, and returns the snapshot's bytes.
fn valid_snapshot(dir: &Path) -> Vec<u8> {
    let mut server = Server::start(dir, &[]);
    let mut c = server.client();
    for i in 0..20 {
        assert_eq!(c.run(&format!("SET key{i} value{i}")), ok());
    }
    assert_eq!(c.run("SET with-ttl v EX 1000"), ok());
    assert_eq!(c.run("SAVE"), ok());
    server.kill();
    std::fs::read(snapshot(dir)).unwrap()
}

fn assert_refuses_to_start(dir: &Path, damaged: &[u8], what: &str) {
    std::fs::write(snapshot(dir), damaged).unwrap();
    let failed = start_expecting_failure(dir);
    assert!(!failed.status.success(), "{what}: started anyway");
    assert_eq!(failed.status.code(), Some(1), "{what}");
    assert!(
        !failed.stdout.contains("listening"),
        "{what}: {}",
        failed.stdout
    );
    let path = snapshot(dir).display().to_string();
    assert!(
        failed.stderr.contains(&path) && failed.stderr.contains("is corrupt"),
        "{what}: stderr does not name {path}:\n{}",
        failed.stderr
    );
    assert_eq!(
        std::fs::read(snapshot(dir)).unwrap(),
        damaged,
        "{what}: the file was changed"
    );
}

#[test]
fn a_snapshot_with_one_flipped_byte_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid_snapshot(dir.path());
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    assert_refuses_to_start(dir.path(), &bytes, "flipped byte");
}

#[test]
fn a_truncated_snapshot_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = valid_snapshot(dir.path());
    assert_refuses_to_start(dir.path(), &bytes[..bytes.len() - 7], "truncated");
    assert_refuses_to_start(dir.path(), &bytes[..12], "cut inside the header");
}

#[test]
fn a_snapshot_with_a_wrong_magic_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid_snapshot(dir.path());
    bytes[..5].copy_from_slice(b"REDIS");
    assert_refuses_to_start(dir.path(), &bytes, "wrong magic");
}

#[cfg(unix)]
#[test]
fn sigterm_saves_the_last_acknowledged_write_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        for i in 0..100 {
            assert_eq!(c.run(&format!("SET k{i} v{i}")), ok());
        }
        assert_eq!(c.run("SET last acknowledged"), ok());
        let sent = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = server.wait_exit();
        assert_eq!(status.code(), Some(0), "{}", server.stderr());
        assert!(
            server.stderr().contains("final DB save"),
            "{}",
            server.stderr()
        );
    }
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.run("GET last").bulk(), Some(&b"acknowledged"[..]));
    assert_eq!(c.run("DBSIZE").int(), 101);
}

#[test]
fn shutdown_saves_the_last_acknowledged_write_and_exits_zero_without_replying() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        assert_eq!(c.run("SET last acknowledged"), ok());
        c.send(&[b"SHUTDOWN"]).unwrap();
        let mut rest = Vec::new();
        let _ = c.reader.read_to_end(&mut rest);
        assert_eq!(rest, b"", "SHUTDOWN replied before exiting");
        assert_eq!(server.wait_exit().code(), Some(0), "{}", server.stderr());
    }
    let server = Server::start(dir.path(), &[]);
    assert_eq!(
        server.client().run("GET last").bulk(),
        Some(&b"acknowledged"[..])
    );
}

#[test]
fn shutdown_nosave_exits_zero_without_saving() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = server.client();
        assert_eq!(c.run("SET saved yes"), ok());
        assert_eq!(c.run("SAVE"), ok());
        assert_eq!(c.run("SET unsaved yes"), ok());
        c.send(&[b"SHUTDOWN", b"NOSAVE"]).unwrap();
        assert_eq!(server.wait_exit().code(), Some(0), "{}", server.stderr());
    }
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.run("EXISTS saved").int(), 1);
    assert_eq!(c.run("EXISTS unsaved").int(), 0);
}

#[test]
fn a_failed_save_keeps_the_old_snapshot_and_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.run("SET k 1"), ok());
    assert_eq!(c.run("SAVE"), ok());
    let good = std::fs::read(snapshot(dir.path())).unwrap();
    let lastsave = c.run("LASTSAVE").int();

    // A directory where the temporary file must go: even root cannot create it.
    let blocker = dir.path().join("dump.gcs.tmp");
    std::fs::create_dir(&blocker).unwrap();
    assert_eq!(c.run("SET k 2"), ok());
    assert_eq!(
        c.run("BGSAVE"),
        Resp::Status("Background saving started".into())
    );
    c.wait_background_save();
    assert_eq!(c.info_field("persistence", "rdb_last_bgsave_status"), "err");
    assert_eq!(
        c.info_field("persistence", "rdb_changes_since_last_save"),
        "1"
    );
    assert_eq!(c.run("SAVE"), Resp::Error("ERR".into()));
    assert_eq!(c.run("LASTSAVE").int(), lastsave);
    assert_eq!(
        c.run("SHUTDOWN"),
        Resp::Error("ERR Errors trying to SHUTDOWN. Check logs.".into())
    );
    // Still serving, and writes are no longer frozen.
    assert_eq!(c.run("SET k 3"), ok());
    assert_eq!(c.run("GET k").bulk(), Some(&b"3"[..]));
    assert_eq!(std::fs::read(snapshot(dir.path())).unwrap(), good);
    assert!(server.stderr().contains("previous snapshot is kept"));

    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(c.run("SAVE"), ok());
    assert_eq!(c.info_field("persistence", "rdb_last_bgsave_status"), "ok");
    c.send(&[b"SHUTDOWN"]).unwrap();
    assert_eq!(server.wait_exit().code(), Some(0));
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.client().run("GET k").bulk(), Some(&b"3"[..]));
}

#[test]
fn an_unusable_dir_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let afile = dir.path().join("afile");
    std::fs::write(&afile, b"a regular file").unwrap();
    let bad = afile.join("sub");
    let failed = start_expecting_failure(&bad);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        failed.stderr.contains(&bad.display().to_string()),
        "{}",
        failed.stderr
    );
    assert!(!failed.stdout.contains("listening"));
}

#[test]
fn a_missing_dir_is_created_and_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let server = Server::start(&nested, &[]);
    assert!(nested.is_dir());
    assert_eq!(server.client().run("DBSIZE").int(), 0);
}

#[test]
fn persistence_commands_answer_as_redis_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = server.client();
    let before = c.run("LASTSAVE").int();
    assert!((before - (now_ms() / 1000) as i64).abs() <= 5);
    assert_eq!(c.run("BGSAVE now"), Resp::Error("ERR syntax error".into()));
    assert_eq!(
        c.run("SAVE x"),
        Resp::Error("ERR wrong number of arguments for 'save' command".into())
    );
    assert_eq!(
        c.run("SHUTDOWN bogus"),
        Resp::Error("ERR syntax error".into())
    );
    assert_eq!(
        c.run("SHUTDOWN SAVE NOSAVE"),
        Resp::Error("ERR syntax error".into())
    );
    assert_eq!(
        c.run("SHUTDOWN ABORT"),
        Resp::Error("ERR No shutdown in progress.".into())
    );

    // Inside MULTI: SAVE and SHUTDOWN are refused; BGSAVE is scheduled, and
    // a second one finds the first still pending (EXEC's guard holds it).
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(
        c.run("SAVE"),
        Resp::Error("ERR Command not allowed inside a transaction".into())
    );
    assert_eq!(c.run("DISCARD"), ok());
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("BGSAVE"), Resp::Status("QUEUED".into()));
    assert_eq!(c.run("BGSAVE SCHEDULE"), Resp::Status("QUEUED".into()));
    assert_eq!(
        c.run("EXEC"),
        Resp::Array(vec![
            Resp::Status("Background saving scheduled".into()),
            Resp::Error("ERR Background save already in progress".into()),
        ])
    );
    c.wait_background_save();
    assert_eq!(c.info_field("persistence", "rdb_saves"), "1");
    assert!(snapshot(dir.path()).exists());
    assert!(c.run("LASTSAVE").int() >= before);
    let info = c.persistence();
    for field in [
        "loading",
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_time_sec",
        "aof_enabled",
    ] {
        assert!(info.iter().any(|(k, _)| k == field), "INFO lacks {field}");
    }
}

#[test]
fn periodic_snapshots_save_only_after_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--snapshot-interval", "1"]);
    let mut c = server.client();
    assert_eq!(c.run("SET k v"), ok());
    let deadline = Instant::now() + DEADLINE;
    while c.info_field("persistence", "rdb_saves") != "1" {
        assert!(Instant::now() < deadline, "no periodic save");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(snapshot(dir.path()).exists());
    // Nothing changed since: two more intervals bring no save.
    thread::sleep(Duration::from_millis(2300));
    assert_eq!(c.info_field("persistence", "rdb_saves"), "1");
    assert_eq!(
        c.info_field("persistence", "rdb_changes_since_last_save"),
        "0"
    );
}
