//! aof_writer: the client side of `scripts/aof_durability.sh`, the kill -9
//! check of the append-only log. Standard library only; a single file the
//! script compiles with
//!
//! ```sh
//! rustc -O --edition 2021 -o "$TMP/aof_writer" scripts/aof_writer.rs
//! ```
//!
//! Subcommands (every one talks RESP over TCP to one address):
//!
//! - `write --addr A --round R --writers W --out DIR [--max-ms 20000]
//!   [--max-ops 10000000] [--rewrite-ms 0]`: opens W connections, writes
//!   `DIR/ready` once they are all open, then each writer `w` sends
//!   `SET r<R>-w<w>-<i> v:r<R>-w<w>-<i>` for i = 0, 1, ..., one at a time,
//!   and appends the key to `DIR/acked.r<R>.w<w>` only after its `+OK`
//!   arrived. A writer stops at the first error (the server was killed:
//!   the expected end), error reply, `--max-ops` SETs or `--max-ms`. With
//!   `--rewrite-ms N` one more connection sends `BGREWRITEAOF` every N ms
//!   while the writers run. Prints one line:
//!   `acked=N error_replies=E rewrites_started=S rewrites_refused=F ms=T`
//!   and, on stderr, the first error reply, if any.
//! - `check --addr A --dir DIR [--round R]`: reads every `DIR/acked.*`
//!   file and checks with pipelined `MGET`s (500 keys each) that each key
//!   holds its value. Prints one line:
//!   `checked=N missing=M wrong=X round_checked=n round_missing=m`
//!   (`round_*`: the keys of round R's files only) and, on stderr, the
//!   first 10 keys missing or wrong.
//! - `wait --addr A [--timeout-ms 30000]`: retries `PING` until the reply
//!   is `+PONG` (not a connection error, not `-LOADING`); exit 1 on timeout.
//!
//! Every loop is bounded by a count or a deadline; sockets have 10 s read
//! and write timeouts, so a server that hangs ends the run with an error.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply; an integer's value only shows in messages.
#[derive(Debug)]
#[allow(dead_code)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("reply line cut short"));
    }
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let n = || body.parse::<i64>().map_err(|_| bad("bad length"));
    match line[0] {
        b'+' => Ok(Reply::Status(body)),
        b'-' => Ok(Reply::Error(body)),
        b':' => Ok(Reply::Int(n()?)),
        b'$' => {
            let len = n()?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut buf = vec![0u8; len as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(len as usize);
            Ok(Reply::Bulk(Some(buf)))
        }
        b'*' => {
            let len = n()?;
            if len < 0 {
                return Ok(Reply::Array(None));
            }
            let mut items = Vec::with_capacity(len as usize);
            for _ in 0..len {
                items.push(read_reply(r)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        _ => Err(bad("unknown reply type")),
    }
}

fn connect(addr: &str) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let r = BufReader::new(s.try_clone()?);
    Ok((s, r))
}

struct Args(HashMap<String, String>);

impl Args {
    fn parse(list: &[String]) -> Args {
        let mut m = HashMap::new();
        let mut i = 0;
        while i < list.len() {
            let k = list[i].trim_start_matches("--").to_string();
            let v = list.get(i + 1).cloned().unwrap_or_default();
            m.insert(k, v);
            i += 2;
        }
        Args(m)
    }
    fn get(&self, k: &str) -> String {
        match self.0.get(k) {
            Some(v) => v.clone(),
            None => {
                eprintln!("aof_writer: missing --{k}");
                std::process::exit(2);
            }
        }
    }
    fn num(&self, k: &str, default: u64) -> u64 {
        match self.0.get(k) {
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("aof_writer: --{k} wants a number, not {v}");
                std::process::exit(2);
            }),
            None => default,
        }
    }
}

struct Written {
    acked: u64,
    error_reply: Option<String>,
}

fn writer(
    round: u64,
    w: u64,
    path: &Path,
    conn: (TcpStream, BufReader<TcpStream>),
    deadline: Instant,
    max_ops: u64,
) -> Written {
    let (mut s, mut r) = conn;
    let mut acked_file = BufWriter::new(File::create(path).expect("create the acked file"));
    let mut out = Vec::with_capacity(128);
    let mut done = Written { acked: 0, error_reply: None };
    for i in 0..max_ops {
        if Instant::now() >= deadline {
            break;
        }
        let key = format!("r{round}-w{w}-{i}");
        let value = format!("v:{key}");
        out.clear();
        command(&mut out, &[b"SET", key.as_bytes(), value.as_bytes()]);
        if s.write_all(&out).is_err() {
            break;
        }
        match read_reply(&mut r) {
            Ok(Reply::Status(st)) if st == "OK" => {
                // Only now is the write acknowledged.
                writeln!(acked_file, "{key}").expect("write the acked file");
                done.acked += 1;
            }
            Ok(Reply::Error(e)) => {
                done.error_reply = Some(e);
                break;
            }
            Ok(other) => {
                done.error_reply = Some(format!("unexpected reply {other:?}"));
                break;
            }
            Err(_) => break, // the server is gone: the expected end
        }
    }
    acked_file.flush().expect("flush the acked file");
    done
}

fn rewriter(
    conn: (TcpStream, BufReader<TcpStream>),
    every: Duration,
    deadline: Instant,
    stop: &AtomicBool,
) -> (u64, u64) {
    let (mut s, mut r) = conn;
    let mut out = Vec::new();
    command(&mut out, &[b"BGREWRITEAOF"]);
    let (mut started, mut refused) = (0, 0);
    // Bounded by the deadline; at most one command per `every`.
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        if s.write_all(&out).is_err() {
            break;
        }
        match read_reply(&mut r) {
            Ok(Reply::Status(_)) => started += 1,
            Ok(_) => refused += 1,
            Err(_) => break,
        }
        std::thread::sleep(every);
    }
    (started, refused)
}

fn cmd_write(a: &Args) {
    let addr = a.get("addr");
    let round = a.num("round", 0);
    let writers = a.num("writers", 8);
    let out = PathBuf::from(a.get("out"));
    let max_ms = a.num("max-ms", 20000);
    let max_ops = a.num("max-ops", 10_000_000);
    let rewrite_ms = a.num("rewrite-ms", 0);
    let mut conns = Vec::new();
    for _ in 0..writers {
        conns.push(connect(&addr).unwrap_or_else(|e| {
            eprintln!("aof_writer: connect {addr}: {e}");
            std::process::exit(1);
        }));
    }
    let rconn = if rewrite_ms > 0 {
        Some(connect(&addr).unwrap_or_else(|e| {
            eprintln!("aof_writer: connect {addr}: {e}");
            std::process::exit(1);
        }))
    } else {
        None
    };
    File::create(out.join("ready")).expect("create the ready file");
    let start = Instant::now();
    let deadline = start + Duration::from_millis(max_ms);
    let stop = Arc::new(AtomicBool::new(false));
    let rthread = rconn.map(|c| {
        let stop = stop.clone();
        std::thread::spawn(move || rewriter(c, Duration::from_millis(rewrite_ms), deadline, &stop))
    });
    let threads: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(w, c)| {
            let path = out.join(format!("acked.r{round}.w{w}"));
            std::thread::spawn(move || writer(round, w as u64, &path, c, deadline, max_ops))
        })
        .collect();
    let mut acked = 0;
    let mut errors = 0;
    for t in threads {
        let done = t.join().expect("writer thread");
        acked += done.acked;
        if let Some(e) = done.error_reply {
            if errors == 0 {
                eprintln!("aof_writer: error reply: {e}");
            }
            errors += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (started, refused) = rthread.map(|t| t.join().expect("rewrite thread")).unwrap_or((0, 0));
    println!(
        "acked={acked} error_replies={errors} rewrites_started={started} rewrites_refused={refused} ms={}",
        start.elapsed().as_millis()
    );
}

fn cmd_check(a: &Args) {
    let addr = a.get("addr");
    let dir = PathBuf::from(a.get("dir"));
    let round = a.0.get("round").cloned();
    let round_prefix = round.map(|r| format!("acked.r{r}."));
    let mut keys: Vec<(String, bool)> = Vec::new();
    let mut names: Vec<_> = fs::read_dir(&dir)
        .expect("read the acked directory")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("acked."))
        .collect();
    names.sort();
    for name in names {
        let this_round = round_prefix.as_deref().is_some_and(|p| name.starts_with(p));
        let text = fs::read_to_string(dir.join(&name)).expect("read an acked file");
        keys.extend(text.lines().filter(|l| !l.is_empty()).map(|l| (l.to_string(), this_round)));
    }
    let (mut s, mut r) = connect(&addr).unwrap_or_else(|e| {
        eprintln!("aof_writer: connect {addr}: {e}");
        std::process::exit(1);
    });
    let (mut missing, mut wrong, mut round_checked, mut round_missing) = (0u64, 0u64, 0u64, 0u64);
    let mut shown = 0;
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        out.clear();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(chunk.iter().map(|(k, _)| k.as_bytes()));
        command(&mut out, &args);
        s.write_all(&out).expect("send MGET");
        let items = match read_reply(&mut r).expect("read the MGET reply") {
            Reply::Array(Some(items)) if items.len() == chunk.len() => items,
            other => {
                eprintln!("aof_writer: MGET got {other:?}");
                std::process::exit(1);
            }
        };
        for ((key, this_round), item) in chunk.iter().zip(items) {
            if *this_round {
                round_checked += 1;
            }
            let expect = format!("v:{key}");
            let problem = match item {
                Reply::Bulk(Some(v)) if v == expect.as_bytes() => None,
                Reply::Bulk(None) => {
                    missing += 1;
                    Some("missing".to_string())
                }
                Reply::Bulk(Some(v)) => {
                    wrong += 1;
                    Some(format!("holds {:?}", String::from_utf8_lossy(&v)))
                }
                other => {
                    wrong += 1;
                    Some(format!("got {other:?}"))
                }
            };
            if let Some(p) = problem {
                if *this_round {
                    round_missing += 1;
                }
                if shown < 10 {
                    eprintln!("aof_writer: acknowledged key {key} {p}");
                    shown += 1;
                }
            }
        }
    }
    println!(
        "checked={} missing={missing} wrong={wrong} round_checked={round_checked} round_missing={round_missing}",
        keys.len()
    );
}

fn cmd_wait(a: &Args) {
    let addr = a.get("addr");
    let deadline = Instant::now() + Duration::from_millis(a.num("timeout-ms", 30000));
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        match connect(&addr) {
            Ok((mut s, mut r)) => {
                let mut out = Vec::new();
                command(&mut out, &[b"PING"]);
                if s.write_all(&out).is_ok() {
                    match read_reply(&mut r) {
                        Ok(Reply::Status(p)) if p == "PONG" => return,
                        Ok(other) => last = format!("{other:?}"),
                        Err(e) => last = e.to_string(),
                    }
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("aof_writer: {addr} did not answer PONG in time (last: {last})");
    std::process::exit(1);
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let a = Args::parse(argv.get(2..).unwrap_or(&[]));
    match argv.get(1).map(String::as_str) {
        Some("write") => cmd_write(&a),
        Some("check") => cmd_check(&a),
        Some("wait") => cmd_wait(&a),
        _ => {
            eprintln!("usage: aof_writer write|check|wait --addr HOST:PORT ...");
            std::process::exit(2);
        }
    }
}
