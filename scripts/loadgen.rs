//! loadgen: a small RESP load generator for gocache's benchmark scripts.
//!
//! Standard library only, so a script builds it with one command:
//!
//! ```sh
//! rustc -O --edition 2021 scripts/loadgen.rs -o target/loadgen
//! ```
//!
//! It speaks RESP to any Redis-compatible server and prints one line of
//! `name=value` pairs per run, easy to pick apart in a shell script. Times
//! named `*_unix_ms` are wall-clock Unix milliseconds, comparable with a
//! server's deadlines; durations are measured on the monotonic clock.
//!
//! Modes (every mode takes `--addr HOST:PORT`, default 127.0.0.1:6379):
//!
//! - `fill`: sets keys `PREFIX0 .. PREFIX{keys-1}`, pipelined, cycling over
//!   them until `--total` commands were sent (default: each key once).
//!   Options: `--keys N`, `--total M`, `--prefix P` (default `key:`),
//!   `--px MS` or `--ex S` (default no TTL), `--value-size B` (default 16),
//!   `--pipeline K` (commands per batch, default 1000).
//!   Prints `sent`, `elapsed_ms`, `ops_per_sec`, `first_send_unix_ms`,
//!   `last_send_unix_ms` (just before the last batch was written) and
//!   `last_reply_unix_ms`. Fails on any reply other than `+OK`.
//! - `get-latency`: `--clients C` connections (default 10), each sending
//!   `GET PREFIX{i}` for random `i < --keys` (default 1000) one at a time for
//!   `--seconds D` (default 5, fractions allowed). Prints `requests`,
//!   `p50_us`, `p99_us`, `p999_us`, `max_us`, `max_at_unix_ms`, `errors`.
//! - `wait-info`: polls `INFO [--section S]` (default `stats`) every
//!   `--poll-ms` (default 5) until field `--field F` (default `expired_keys`)
//!   reaches `--at-least N`, or `--timeout S` (default 60) passes. Prints
//!   `reached` (1 or 0), `value`, `reached_unix_ms` (when the reply saying so
//!   arrived), `polls`.
//! - `cmd ARG...`: sends one command and prints its reply in a plain form
//!   (integers and strings as they are, errors prefixed `ERR:`).
//! - `free-port`: prints a TCP port on 127.0.0.1 that was free a moment ago.

use std::env;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: loadgen fill|get-latency|wait-info|cmd|free-port [--addr HOST:PORT] [options] (see the header of scripts/loadgen.rs)";

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        die(USAGE);
    };
    let opts = Options::parse(&args[1..]);
    let result = match mode.as_str() {
        "fill" => fill(&opts),
        "get-latency" => get_latency(&opts),
        "wait-info" => wait_info(&opts),
        "cmd" => cmd(&opts),
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

/// `--name value` options, and the words left over (for `cmd`).
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
            rest.parse::<i64>()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply {line:?}")))
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
}

fn fill(opts: &Options) -> io::Result<()> {
    let keys: u64 = opts.num("keys", 1000);
    let total: u64 = opts.num("total", keys);
    let pipeline: u64 = opts.num::<u64>("pipeline", 1000).max(1);
    let prefix = opts.str("prefix", "key:");
    let value = vec![b'x'; opts.num("value-size", 16)];
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
    let mut key = Vec::new();
    while sent < total {
        let batch = pipeline.min(total - sent);
        for j in 0..batch {
            key.clear();
            key.extend_from_slice(prefix.as_bytes());
            key.extend_from_slice(((sent + j) % keys).to_string().as_bytes());
            match &ttl {
                Some((unit, n)) => conn.queue(&[b"SET", &key, &value, unit, n.as_bytes()]),
                None => conn.queue(&[b"SET", &key, &value]),
            }
        }
        last_send = unix_ms();
        conn.flush()?;
        for _ in 0..batch {
            match conn.read_reply()? {
                Reply::Status(s) if s == "OK" => {}
                other => {
                    return Err(io::Error::other(format!("SET replied {other:?}")));
                }
            }
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
    let keys: u64 = opts.num::<u64>("keys", 1000).max(1);
    let prefix = opts.str("prefix", "key:");
    let addr = opts.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for id in 0..clients {
        let mut conn = Conn::open(&addr)?;
        let (stop, prefix) = (stop.clone(), prefix.clone());
        workers.push(thread::spawn(move || -> io::Result<(Vec<u32>, u32, u64, u64)> {
            let mut samples = Vec::with_capacity(1 << 16);
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (id as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03);
            let (mut max, mut max_at, mut errors) = (0u32, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let key = format!("{prefix}{}", rng % keys);
                let sent = Instant::now();
                let reply = conn.call(&[b"GET", key.as_bytes()])?;
                let us = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
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
        }));
    }
    thread::sleep(Duration::from_secs_f64(seconds.max(0.0)));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let (mut max, mut max_at, mut errors) = (0u32, 0u64, 0u64);
    for w in workers {
        let (samples, m, at, e) = w.join().map_err(|_| io::Error::other("client panicked"))??;
        all.extend(samples);
        if m > max {
            max = m;
            max_at = at;
        }
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| -> u32 {
        if all.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        all[rank.clamp(1, all.len()) - 1]
    };
    println!(
        "requests={} p50_us={} p99_us={} p999_us={} max_us={max} max_at_unix_ms={max_at} errors={errors}",
        all.len(),
        pct(50.0),
        pct(99.0),
        pct(99.9),
    );
    Ok(())
}

fn wait_info(opts: &Options) -> io::Result<()> {
    let section = opts.str("section", "stats");
    let field = format!("{}:", opts.str("field", "expired_keys"));
    let target: i64 = opts.num("at-least", 0);
    let poll = Duration::from_millis(opts.num("poll-ms", 5));
    let timeout = Duration::from_secs_f64(opts.num("timeout", 60.0));
    let mut conn = Conn::open(&opts.addr())?;
    let started = Instant::now();
    let mut polls = 0u64;
    loop {
        let info = conn.call(&[b"INFO", section.as_bytes()])?.plain();
        let at = unix_ms();
        polls += 1;
        let value: i64 = info
            .lines()
            .find_map(|l| l.strip_prefix(field.as_str()))
            .and_then(|v| v.trim().parse().ok())
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

fn free_port() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}
