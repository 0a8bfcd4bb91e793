//! loadgen: a small RESP load generator for gocache's benchmark scripts.
//!
//! Standard library only; the cargo example `loadgen`, so a script builds it
//! with one command and runs `target/release/examples/loadgen`:
//!
//! ```sh
//! cargo build --release --example loadgen
//! ```
//!
//! It speaks RESP to any Redis-compatible server and prints one line of
//! `name=value` pairs per run, easy to pick apart in a shell script. Times
//! named `*_unix_ms` are wall-clock Unix milliseconds, comparable with a
//! server's deadlines; durations are measured on the monotonic clock.
//! Used by `scripts/expiry_bench.sh` and `scripts/snapshot_bench.sh`, so
//! gocache and redis-server are measured by the same code, and by
//! `scripts/ttl_memory.sh` and `scripts/used_memory.sh`.
//!
//! Key names: `PREFIX{i}` for `i < --keys N` (default 1000), `--prefix P`
//! (default `key:`), the number zero-padded to `--key-digits D` digits
//! (default 0: no padding; `--key-digits 7` gives `key:0000042`).
//! Values: `--value-size B` bytes (default 16), `--values fixed` (default:
//! all `x`) or `--values distinct` (hex digits that differ per key and, when
//! rewritten by `save-latency`, per write).
//!
//! Modes (every mode that talks to a server takes `--addr HOST:PORT`,
//! default 127.0.0.1:6379):
//!
//! - `fill`: sets the keys, pipelined, cycling over them until `--total`
//!   commands were sent (default: each key once). Options: the key and
//!   value options above, `--total M`, `--px MS` or `--ex S` (default no
//!   TTL), `--pipeline K` (commands per batch, default 1000).
//!   Prints `sent`, `elapsed_ms`, `ops_per_sec`, `first_send_unix_ms`,
//!   `last_send_unix_ms` (just before the last batch was written) and
//!   `last_reply_unix_ms`. Fails on any reply other than `+OK`.
//! - `get-latency`: `--clients C` connections (default 10), each sending
//!   `GET` of a random key one at a time for `--seconds D` (default 5,
//!   fractions allowed). Prints `requests`, `p50_us`, `p99_us`, `p999_us`,
//!   `max_us`, `max_at_unix_ms`, `errors`.
//! - `save-latency`: runs one `--command save|bgsave` (default `bgsave`) on
//!   the server whose process is `--pid PID`, while one connection SETs
//!   random existing keys (16-byte `distinct` values unless the value
//!   options say otherwise) back to back, timing each, from 300 ms before
//!   the save to 300 ms after it, and another thread samples the server's
//!   memory every 5 ms. Linux only (reads `/proc`). Prints:
//!   `save_ms` (from sending the command until the server says it is done:
//!   the `SAVE` reply, or for `BGSAVE` `INFO persistence` showing
//!   `rdb_bgsave_in_progress:0`, polled every 5 ms; a failed save fails),
//!   `max_set_ms`, `p99_set_ms`, `sets`, `mem_before_kb` (VmRSS before),
//!   `mem_peak_kb` (the highest sample: VmRSS, or when the server has forked
//!   children, as Redis does, its Pss plus theirs so shared pages count
//!   once) and `hwm_kb` (VmHWM after the save, reset through
//!   `/proc/PID/clear_refs` just before it: a check that sampling did not
//!   miss a peak; the reset needs root).
//! - `wait-info`: polls `INFO [--section S]` (default `stats`) every
//!   `--poll-ms` (default 5) until field `--field F` (default `expired_keys`)
//!   reaches `--at-least N`, or `--timeout S` (default 60) passes. Prints
//!   `reached` (1 or 0), `value`, `reached_unix_ms` (when the reply saying so
//!   arrived), `polls`.
//! - `cmd ARG...`: sends one command and prints its reply in a plain form
//!   (integers and strings as they are, errors prefixed `ERR:`).
//! - `ready-time --pattern TEXT -- PROGRAM ARG...`: runs the program (stdout
//!   piped, stderr discarded), times from the spawn to the first stdout line
//!   containing TEXT, then kills it. Prints `ready_ms`; fails if the program
//!   ends its output without printing TEXT.
//! - `free-port`: prints a TCP port on 127.0.0.1 that was free a moment ago.

use std::env;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{self, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: loadgen fill|get-latency|save-latency|wait-info|cmd|ready-time|free-port [--addr HOST:PORT] [options] (see the header of scripts/loadgen.rs)";

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        die(USAGE);
    };
    let opts = Options::parse(&args[1..]);
    let result = match mode.as_str() {
        "fill" => fill(&opts),
        "get-latency" => get_latency(&opts),
        "save-latency" => save_latency(&opts),
        "wait-info" => wait_info(&opts),
        "cmd" => cmd(&opts),
        "ready-time" => ready_time(&opts),
        "free-port" => free_port(),
        _ => die(USAGE),
    };
    if let Err(e) = result {
        die(&format!("loadgen {mode}: {e}"));
    }
}

fn die(msg: &str) -> ! {
    eprintln!("{msg}");
    process::exit(2);
}

/// `--name value` options, and the words left over: from the first word that
/// is not an option, or everything after a lone `--` (for `cmd` and
/// `ready-time`).
struct Options {
    pairs: Vec<(String, String)>,
    words: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut pairs = Vec::new();
        let mut words = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == "--" && words.is_empty() {
                words.extend(it.cloned());
                break;
            }
            match a.strip_prefix("--") {
                Some(name) if words.is_empty() => {
                    let Some(v) = it.next() else {
                        die(&format!("--{name} needs a value"));
                    };
                    pairs.push((name.to_string(), v.clone()));
                }
                _ => words.push(a.clone()),
            }
        }
        Options { pairs, words }
    }

    fn str(&self, name: &str, default: &str) -> String {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or(default.to_string(), |(_, v)| v.clone())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.pairs.iter().rev().find(|(n, _)| n == name) {
            None => default,
            Some((_, v)) => v
                .parse()
                .unwrap_or_else(|_| die(&format!("--{name}: not a number: {v}"))),
        }
    }

    fn addr(&self) -> String {
        self.str("addr", "127.0.0.1:6379")
    }

    /// The key and value options shared by the modes that write or read keys.
    fn keys(&self, values: &str) -> Keys {
        Keys {
            count: self.num::<u64>("keys", 1000).max(1),
            prefix: self.str("prefix", "key:"),
            digits: self.num("key-digits", 0),
            value_size: self.num("value-size", 16),
            distinct: match self.str("values", values).as_str() {
                "fixed" => false,
                "distinct" => true,
                other => die(&format!("--values: fixed or distinct, not {other}")),
            },
        }
    }
}

/// How keys are named and what values are written to them.
#[derive(Clone)]
struct Keys {
    count: u64,
    prefix: String,
    digits: usize,
    value_size: usize,
    distinct: bool,
}

impl Keys {
    /// Writes the name of key `i` into `out`.
    fn name(&self, i: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(format!("{i:0width$}", width = self.digits).as_bytes());
    }

    /// Writes a value for key `i` into `out`; `salt` tells writes apart.
    fn value(&self, i: u64, salt: u64, out: &mut Vec<u8>) {
        out.clear();
        if self.distinct {
            let hex = format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt);
            out.extend(hex.bytes().cycle().take(self.value_size));
        } else {
            out.resize(self.value_size, b'x');
        }
    }
}

/// A xorshift64 generator: cheap, and the same sequence for the same seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The `p`th percentile (0-100) of sorted samples, by nearest rank; 0 when
/// there are none.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds since `start`, saturating.
fn micros_since(start: Instant) -> u32 {
    start.elapsed().as_micros().min(u32::MAX as u128) as u32
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One RESP reply, as much as the modes need.
#[derive(Debug, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// Fails unless `reply` is `+OK`; `what` names the command.
fn expect_ok(reply: Reply, what: &str) -> io::Result<()> {
    match reply {
        Reply::Status(s) if s == "OK" => Ok(()),
        other => Err(io::Error::other(format!("{what} replied {other:?}"))),
    }
}

impl Reply {
    fn plain(&self) -> String {
        match self {
            Reply::Status(s) => s.clone(),
            Reply::Error(e) => format!("ERR:{e}"),
            Reply::Int(n) => n.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) => "(nil)".into(),
            Reply::Array(items) => items
                .iter()
                .map(Reply::plain)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// A connection: buffered reads, requests encoded into a reused buffer.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    out: Vec<u8>,
    line: Vec<u8>,
}

impl Conn {
    fn open(addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(256 * 1024, stream.try_clone()?),
            writer: stream,
            out: Vec::with_capacity(64 * 1024),
            line: Vec::new(),
        })
    }

    /// Appends one command to the pending batch.
    fn queue(&mut self, args: &[&[u8]]) {
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Writes the pending batch.
    fn flush(&mut self) -> io::Result<()> {
        self.writer.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.queue(args);
        self.flush()?;
        self.read_reply()
    }

    fn read_line(&mut self) -> io::Result<String> {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line)?;
        if !self.line.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-reply",
            ));
        }
        Ok(String::from_utf8_lossy(&self.line[..self.line.len() - 2]).into_owned())
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.read_line()?;
        let (kind, rest) = line.split_at(1.min(line.len()));
        let num = || {
            rest.parse::<i64>().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad reply {line:?}"))
            })
        };
        Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(num()?),
            "$" => match num()? {
                n if n < 0 => Reply::Bulk(None),
                n => {
                    let mut body = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut body)?;
                    body.truncate(n as usize);
                    Reply::Bulk(Some(body))
                }
            },
            "*" => {
                let n = num()?;
                let mut items = Vec::with_capacity(n.max(0) as usize);
                for _ in 0..n.max(0) {
                    items.push(self.read_reply()?);
                }
                Reply::Array(items)
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad reply {line:?}"),
                ));
            }
        })
    }

    /// The text of `INFO <section>`.
    fn info(&mut self, section: &str) -> io::Result<String> {
        Ok(self.call(&[b"INFO", section.as_bytes()])?.plain())
    }
}

/// The value of `name` in INFO text, if present.
fn info_value<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn fill(opts: &Options) -> io::Result<()> {
    let keys = opts.keys("fixed");
    let total: u64 = opts.num("total", keys.count);
    let pipeline: u64 = opts.num::<u64>("pipeline", 1000).max(1);
    let ttl: Option<(&[u8], String)> = match (opts.str("px", ""), opts.str("ex", "")) {
        (px, _) if !px.is_empty() => Some((b"PX", px)),
        (_, ex) if !ex.is_empty() => Some((b"EX", ex)),
        _ => None,
    };
    let mut conn = Conn::open(&opts.addr())?;
    let started = Instant::now();
    let first_send = unix_ms();
    let mut last_send = first_send;
    let mut sent = 0u64;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    while sent < total {
        let batch = pipeline.min(total - sent);
        for j in 0..batch {
            let i = (sent + j) % keys.count;
            keys.name(i, &mut key);
            keys.value(i, 0, &mut value);
            match &ttl {
                Some((unit, n)) => conn.queue(&[b"SET", &key, &value, unit, n.as_bytes()]),
                None => conn.queue(&[b"SET", &key, &value]),
            }
        }
        last_send = unix_ms();
        conn.flush()?;
        for _ in 0..batch {
            expect_ok(conn.read_reply()?, "SET")?;
        }
        sent += batch;
    }
    let last_reply = unix_ms();
    let elapsed = started.elapsed();
    println!(
        "sent={sent} elapsed_ms={} ops_per_sec={:.0} first_send_unix_ms={first_send} last_send_unix_ms={last_send} last_reply_unix_ms={last_reply}",
        elapsed.as_millis(),
        sent as f64 / elapsed.as_secs_f64().max(1e-9),
    );
    Ok(())
}

fn get_latency(opts: &Options) -> io::Result<()> {
    let clients: usize = opts.num::<usize>("clients", 10).max(1);
    let seconds: f64 = opts.num("seconds", 5.0);
    let keys = opts.keys("fixed");
    let addr = opts.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for id in 0..clients {
        let mut conn = Conn::open(&addr)?;
        let (stop, keys) = (stop.clone(), keys.clone());
        workers.push(thread::spawn(
            move || -> io::Result<(Vec<u32>, u32, u64, u64)> {
                let mut samples = Vec::with_capacity(1 << 16);
                let mut rng = XorShift(
                    0x9e37_79b9_7f4a_7c15u64 ^ (id as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03),
                );
                let (mut max, mut max_at, mut errors) = (0u32, 0u64, 0u64);
                let mut key = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    keys.name(rng.next() % keys.count, &mut key);
                    let sent = Instant::now();
                    let reply = conn.call(&[b"GET", &key])?;
                    let us = micros_since(sent);
                    if matches!(reply, Reply::Error(_)) {
                        errors += 1;
                    }
                    if us > max {
                        max = us;
                        max_at = unix_ms();
                    }
                    samples.push(us);
                }
                Ok((samples, max, max_at, errors))
            },
        ));
    }
    thread::sleep(Duration::from_secs_f64(seconds.max(0.0)));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let (mut max, mut max_at, mut errors) = (0u32, 0u64, 0u64);
    for w in workers {
        let (samples, m, at, e) = w
            .join()
            .map_err(|_| io::Error::other("client panicked"))??;
        all.extend(samples);
        if m > max {
            max = m;
            max_at = at;
        }
        errors += e;
    }
    all.sort_unstable();
    println!(
        "requests={} p50_us={} p99_us={} p999_us={} max_us={max} max_at_unix_ms={max_at} errors={errors}",
        all.len(),
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        percentile(&all, 99.9),
    );
    Ok(())
}

/// A `kB` figure from a `/proc/PID/<file>` line `field: N kB`; 0 if absent.
fn proc_kb(pid: u32, file: &str, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The pids of `pid`'s children (of all its threads).
fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let list = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            kids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    kids
}

/// The server's memory now: its RSS, or with forked children (which share
/// pages that RSS would count twice) its Pss plus theirs.
fn memory_kb(pid: u32) -> u64 {
    let kids = children(pid);
    if kids.is_empty() {
        proc_kb(pid, "status", "VmRSS")
    } else {
        let pss = |p: u32| proc_kb(p, "smaps_rollup", "Pss");
        pss(pid) + kids.into_iter().map(pss).sum::<u64>()
    }
}

fn save_latency(opts: &Options) -> io::Result<()> {
    let keys = opts.keys("distinct");
    let addr = opts.addr();
    let pid: u32 = opts.num("pid", 0);
    if pid == 0 {
        die("loadgen save-latency: give the server's --pid");
    }
    let command = opts.str("command", "bgsave");
    if command != "save" && command != "bgsave" {
        die("loadgen save-latency: --command save or bgsave");
    }
    let stop = Arc::new(AtomicBool::new(false));
    // SETs timed one by one on their own connection.
    let timer = {
        let mut conn = Conn::open(&addr)?;
        let stop = stop.clone();
        thread::spawn(move || -> io::Result<Vec<u32>> {
            let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
            let mut samples = Vec::with_capacity(1 << 20);
            let (mut key, mut value) = (Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let salt = rng.next();
                let i = salt % keys.count;
                keys.name(i, &mut key);
                keys.value(i, salt, &mut value);
                let sent = Instant::now();
                expect_ok(conn.call(&[b"SET", &key, &value])?, "SET")?;
                samples.push(micros_since(sent));
            }
            Ok(samples)
        })
    };
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_kb(pid), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    thread::sleep(Duration::from_millis(300));
    let before = proc_kb(pid, "status", "VmRSS");
    peak.store(before, Ordering::Relaxed);
    // "5" resets VmHWM to the current RSS (Linux 4.0+, root only).
    let _ = fs::write(format!("/proc/{pid}/clear_refs"), "5");

    let mut conn = Conn::open(&addr)?;
    let started = Instant::now();
    if command == "save" {
        expect_ok(conn.call(&[b"SAVE"])?, "SAVE")?;
    } else {
        match conn.call(&[b"BGSAVE"])? {
            Reply::Status(s) if s.contains("Background saving started") => {}
            other => return Err(io::Error::other(format!("BGSAVE replied {other:?}"))),
        }
        loop {
            let info = conn.info("persistence")?;
            // Progress and status change together, so one reply shows both
            // of the same save.
            if info_value(&info, "rdb_bgsave_in_progress") == Some("0") {
                if info_value(&info, "rdb_last_bgsave_status") != Some("ok") {
                    return Err(io::Error::other(format!("the save failed:\n{info}")));
                }
                break;
            }
            if started.elapsed() >= Duration::from_secs(120) {
                return Err(io::Error::other("the save never ended"));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
    let save_ms = started.elapsed().as_secs_f64() * 1000.0;
    let hwm = proc_kb(pid, "status", "VmHWM");
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut samples = timer
        .join()
        .map_err(|_| io::Error::other("the SET client panicked"))??;
    sampler
        .join()
        .map_err(|_| io::Error::other("the memory sampler panicked"))?;
    samples.sort_unstable();
    let ms = |us: u32| f64::from(us) / 1000.0;
    println!(
        "save_ms={save_ms:.1} max_set_ms={:.2} p99_set_ms={:.2} sets={} mem_before_kb={before} mem_peak_kb={} hwm_kb={hwm}",
        ms(samples.last().copied().unwrap_or(0)),
        ms(percentile(&samples, 99.0)),
        samples.len(),
        peak.load(Ordering::Relaxed),
    );
    Ok(())
}

fn wait_info(opts: &Options) -> io::Result<()> {
    let section = opts.str("section", "stats");
    let field = opts.str("field", "expired_keys");
    let target: i64 = opts.num("at-least", 0);
    let poll = Duration::from_millis(opts.num("poll-ms", 5));
    let timeout = Duration::from_secs_f64(opts.num("timeout", 60.0));
    let mut conn = Conn::open(&opts.addr())?;
    let started = Instant::now();
    let mut polls = 0u64;
    loop {
        let info = conn.info(&section)?;
        let at = unix_ms();
        polls += 1;
        let value: i64 = info_value(&info, &field)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no numeric {field} in INFO {section}")))?;
        let reached = value >= target;
        if reached || started.elapsed() >= timeout {
            println!(
                "reached={} value={value} reached_unix_ms={at} polls={polls}",
                u8::from(reached)
            );
            return Ok(());
        }
        thread::sleep(poll);
    }
}

fn cmd(opts: &Options) -> io::Result<()> {
    if opts.words.is_empty() {
        die("loadgen cmd: give the command, e.g. `loadgen cmd DBSIZE`");
    }
    let args: Vec<&[u8]> = opts.words.iter().map(|w| w.as_bytes()).collect();
    let reply = Conn::open(&opts.addr())?.call(&args)?;
    println!("{}", reply.plain());
    Ok(())
}

fn ready_time(opts: &Options) -> io::Result<()> {
    let pattern = opts.str("pattern", "");
    let Some((program, args)) = opts.words.split_first() else {
        die("loadgen ready-time: give --pattern TEXT -- PROGRAM ARG...");
    };
    if pattern.is_empty() {
        die("loadgen ready-time: give --pattern TEXT");
    }
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let found = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains(&pattern));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    if !found {
        return Err(io::Error::other(format!(
            "{program} never printed {pattern:?}"
        )));
    }
    println!("ready_ms={ms:.1}");
    Ok(())
}

fn free_port() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}
