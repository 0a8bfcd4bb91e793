//! cache_trace: deterministic cache traces, replayed cache-aside against a
//! Redis-compatible server or run through exact in-process caches, to
//! compare the hit ratios of eviction policies. Used by
//! `scripts/hit_ratio.sh`.
//!
//! Standard library only; a single file the script compiles with
//!
//! ```sh
//! rustc -O --edition 2021 -o "$TMP/cache_trace" scripts/cache_trace.rs
//! ```
//!
//! # Traces
//!
//! A trace is a sequence of `--requests N` key requests, a pure function of
//! `--trace T`, `--requests N`, `--keys K` and `--seed S`: `replay` and
//! `simulate` build it with the same code, so with the same arguments they
//! see the same keys in the same order.
//!
//! - Random numbers: splitmix64 seeded with `S`; a uniform double in
//!   `[0, 1)` is the top 53 bits of the next output times 2^-53.
//! - `zipfA` (e.g. `zipf0.8`, `zipf1.0`; any exponent A >= 0): each request
//!   is an independent draw of a rank `r` in `0..K` with probability
//!   proportional to `1 / (r + 1)^A`. The CDF is precomputed as K doubles;
//!   a draw takes one uniform `u` and picks the first rank whose CDF value
//!   exceeds `u` (binary search).
//! - `scan`: `zipf1.0`, with sequential scans of one-time keys mixed in.
//!   Let `L = max(1, K / 10)` (100,000 for the default 1,000,000 keys).
//!   The trace is cut into blocks of `2L` requests; in each block the first
//!   `L` requests are Zipf(1.0) draws over the K keys and the last `L` are
//!   a sequential scan of keys `scan:<j>`, `j` counting up from 0 over the
//!   whole trace, so no scan key is ever requested twice: half the requests
//!   are one-time keys and the best possible hit ratio is 0.5. Each scan is
//!   as long as the whole cache at the default sizing of `hit_ratio.sh`
//!   (10% of the K keys), so it flushes an exact LRU cache completely: the
//!   scan-resistance test of the LRU-K, 2Q, ARC and LIRS papers (a one-pass
//!   scan beside a skewed working set). No random numbers are drawn for
//!   scan requests. A trace of fewer than `3L` requests has at most one
//!   scan, at its end, which then affects nothing.
//!
//! Key names: rank `r` is the key `key:<p(r)>`, `p(r)` zero-padded to at
//! least 8 digits, where `p(r) = (a * r + b) mod K` with `a` coprime to `K`
//! (a bijection of `0..K`, so the hottest keys are not neighbours in name).
//! `a` is the first number from `(0x9E3779B97F4A7C15 mod K) | 1` upwards
//! that is coprime to `K`; `b = 0x632BE59BD9B4E019 mod K`. Scan keys are
//! `scan:<j>`, `j` zero-padded to at least 8 digits. Values are 100 bytes
//! of `x`.
//!
//! # Subcommands
//!
//! - `replay --addr HOST:PORT --trace T --requests N --keys K --seed S
//!   [--batch B]` (B defaults to 64): one TCP connection speaking RESP2.
//!   Cache-aside, pipelined: send the next B requests' GETs, read the B
//!   replies, then send one SET (100-byte value) for each key that missed,
//!   the first miss of a key within the batch only, and read their replies.
//!   A request counts as a hit iff its GET returned a value; a repeat of a
//!   missed key inside the same batch is therefore a miss too (with
//!   `--batch 1` replay follows the simulator's rule exactly). SETs refused
//!   with an error (e.g. OOM under `noeviction`) are counted, not fatal.
//!   Prints `hits=H requests=N ratio=R used_memory=U dbsize=D
//!   evicted_keys=E set_errors=X seconds=T` (`used_memory` from `INFO
//!   memory`, `evicted_keys` from `INFO stats`, `-` where the server does
//!   not say).
//! - `simulate --policy lru|lfu|s3fifo --capacity C --trace T --requests N
//!   --keys K --seed S`: the same trace against an exact cache of C
//!   entries, filled on every miss. `lru` evicts the least recently used
//!   resident key. `lfu` evicts the resident key with the fewest requests
//!   since it was inserted (its inserting request counts as one), ties going
//!   to the least recently used; a key evicted and inserted again starts
//!   over at one. `s3fifo` is S3-FIFO, as `simulate_s3fifo` says.
//!   Prints `hits=H requests=N ratio=R policy=P capacity=C`.
//! - `fill --addr HOST:PORT --count C --keys K [--batch B]`: SETs the keys
//!   of ranks `0..C` (names as above, 100-byte values), pipelined; used to
//!   size `maxmemory`. Prints `set=C`.
//! - `stats --addr HOST:PORT`: prints `used_memory=U dbsize=D
//!   evicted_keys=E maxmemory=M maxmemory_policy=P` (from `INFO memory`,
//!   `INFO stats` and `DBSIZE`).
//! - `wait --addr HOST:PORT [--timeout-ms MS]` (default 10000): connects
//!   and sends PING every 50 ms until a reply arrives; exits 1 on timeout.
//! - `freeport`: binds 127.0.0.1:0, prints the port the kernel chose and
//!   releases it (for servers that cannot pick their own port).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::exit;
use std::time::{Duration, Instant};

/// Size of every value written.
const VALUE_SIZE: usize = 100;
/// High bit marking a scan key's id (hot keys' ids are their names' numbers).
const SCAN_BIT: u64 = 1 << 63;

/// splitmix64 (Steele, Lea, Flood 2014): small, fast, good enough here.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The bijection `r -> (a * r + b) mod k` from ranks to key numbers.
struct Permutation {
    a: u64,
    b: u64,
    k: u64,
}

impl Permutation {
    fn new(k: u64) -> Self {
        let mut a = (0x9E37_79B9_7F4A_7C15u64 % k) | 1;
        while gcd(a, k) != 1 {
            a += 1;
        }
        Permutation { a, b: 0x632B_E59B_D9B4_E019u64 % k, k }
    }

    fn apply(&self, r: u64) -> u64 {
        ((self.a as u128 * r as u128 + self.b as u128) % self.k as u128) as u64
    }
}

/// The trace generator: see the module documentation.
struct Trace {
    cdf: Vec<f64>,
    perm: Permutation,
    rng: SplitMix64,
    /// Scan length `L` of the `scan` trace; 0 for the Zipf traces.
    scan_len: u64,
    issued: u64,
    next_scan: u64,
}

impl Trace {
    fn new(name: &str, keys: u64, seed: u64) -> Result<Self, String> {
        if keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        let (alpha, scans) = if name == "scan" {
            (1.0, true)
        } else if let Some(a) = name.strip_prefix("zipf") {
            match a.parse::<f64>() {
                Ok(a) if a >= 0.0 && a.is_finite() => (a, false),
                _ => return Err(format!("bad Zipf exponent in trace '{name}'")),
            }
        } else {
            return Err(format!("unknown trace '{name}' (zipfA or scan)"));
        };
        let mut cdf = Vec::with_capacity(keys as usize);
        let mut sum = 0.0f64;
        for r in 0..keys {
            sum += ((r + 1) as f64).powf(-alpha);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Ok(Trace {
            cdf,
            perm: Permutation::new(keys),
            rng: SplitMix64(seed),
            scan_len: if scans { (keys / 10).max(1) } else { 0 },
            issued: 0,
            next_scan: 0,
        })
    }

    /// The next request's key id: a hot key's number, or `SCAN_BIT | j`.
    fn next_key(&mut self) -> u64 {
        let issued = self.issued;
        self.issued += 1;
        if self.scan_len > 0 && issued % (2 * self.scan_len) >= self.scan_len {
            let j = self.next_scan;
            self.next_scan += 1;
            return SCAN_BIT | j;
        }
        let u = self.rng.next_f64();
        let r = self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1);
        self.perm.apply(r as u64)
    }
}

/// Appends the name of key id `id` to `out`.
fn key_name(id: u64, out: &mut String) {
    if id & SCAN_BIT != 0 {
        let _ = write!(out, "scan:{:08}", id & !SCAN_BIT);
    } else {
        let _ = write!(out, "key:{id:08}");
    }
}

/// Appends one RESP2 command to `buf`.
fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
    let _ = write!(buf, "*{}\r\n", args.len());
    for a in args {
        let _ = write!(buf, "${}\r\n", a.len());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// One RESP2 reply, reduced to what this tool needs.
enum Reply {
    Nil,
    Bulk(Vec<u8>),
    Simple(String),
    Error(String),
    Integer(i64),
    /// An array's items are read and dropped.
    Array,
}

/// A connection with buffered reads and writes.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    line: Vec<u8>,
}

impl Conn {
    fn connect(addr: &str) -> io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(1 << 16, s.try_clone()?),
            writer: BufWriter::with_capacity(1 << 16, s),
            line: Vec::new(),
        })
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    fn read_line(&mut self) -> io::Result<String> {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line)?;
        if !self.line.ends_with(b"\r\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-reply"));
        }
        self.line.truncate(self.line.len() - 2);
        Ok(String::from_utf8_lossy(&self.line).into_owned())
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.read_line()?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad reply line {line:?}"));
        let (kind, rest) = line.split_at(1.min(line.len()));
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Integer(rest.parse().map_err(|_| bad())?),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Nil
                } else {
                    let mut data = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n as usize);
                    Reply::Bulk(data)
                }
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Nil
                } else {
                    for _ in 0..n {
                        self.read_reply()?;
                    }
                    Reply::Array
                }
            }
            _ => return Err(bad()),
        })
    }

    /// Sends one command and reads its reply.
    fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut buf = Vec::new();
        encode(&mut buf, args);
        self.send(&buf)?;
        self.read_reply()
    }
}

/// Field `name` of an `INFO` reply, if present.
fn info_field(conn: &mut Conn, section: &str, name: &str) -> io::Result<Option<String>> {
    let text = match conn.call(&[b"INFO", section.as_bytes()])? {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => return Ok(None),
    };
    Ok(text.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    }))
}

/// The `stats` figures, as `name=value` pairs.
fn server_stats(conn: &mut Conn) -> io::Result<String> {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let used = dash(info_field(conn, "memory", "used_memory")?);
    let maxmemory = dash(info_field(conn, "memory", "maxmemory")?);
    let policy = dash(info_field(conn, "memory", "maxmemory_policy")?);
    let evicted = dash(info_field(conn, "stats", "evicted_keys")?);
    let dbsize = match conn.call(&[b"DBSIZE"])? {
        Reply::Integer(n) => n.to_string(),
        _ => "-".into(),
    };
    Ok(format!(
        "used_memory={used} dbsize={dbsize} evicted_keys={evicted} maxmemory={maxmemory} maxmemory_policy={policy}"
    ))
}

/// Parsed `--name value` options.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String], known: &[&str]) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a.strip_prefix("--").ok_or_else(|| format!("unexpected argument '{a}'"))?;
            if !known.contains(&name) {
                return Err(format!("unknown option '--{name}'"));
            }
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), v.clone());
        }
        Ok(Opts(map))
    }

    fn str(&self, name: &str) -> Result<&str, String> {
        self.0.get(name).map(|s| s.as_str()).ok_or_else(|| format!("--{name} is required"))
    }

    fn num(&self, name: &str, default: Option<u64>) -> Result<u64, String> {
        match self.0.get(name) {
            Some(v) => v.parse().map_err(|_| format!("--{name}: not a number: '{v}'")),
            None => default.ok_or_else(|| format!("--{name} is required")),
        }
    }
}

fn io_err(e: io::Error) -> String {
    e.to_string()
}

/// `replay`: the trace against a server, cache-aside.
fn replay(o: &Opts) -> Result<(), String> {
    let addr = o.str("addr")?;
    let requests = o.num("requests", None)?;
    let batch = o.num("batch", Some(64))?.max(1) as usize;
    let mut trace = Trace::new(o.str("trace")?, o.num("keys", None)?, o.num("seed", None)?)?;
    let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let value = [b'x'; VALUE_SIZE];
    let start = Instant::now();
    let (mut hits, mut set_errors, mut done) = (0u64, 0u64, 0u64);
    let mut ids = Vec::with_capacity(batch);
    let mut names: Vec<String> = Vec::with_capacity(batch);
    let mut buf = Vec::new();
    let mut missed: Vec<usize> = Vec::new();
    while done < requests {
        let n = (requests - done).min(batch as u64) as usize;
        ids.clear();
        names.clear();
        buf.clear();
        for _ in 0..n {
            let id = trace.next_key();
            let mut name = String::new();
            key_name(id, &mut name);
            encode(&mut buf, &[b"GET", name.as_bytes()]);
            ids.push(id);
            names.push(name);
        }
        conn.send(&buf).map_err(io_err)?;
        missed.clear();
        for i in 0..n {
            match conn.read_reply().map_err(io_err)? {
                Reply::Bulk(_) => hits += 1,
                Reply::Nil => {
                    // Only the first miss of a key in this batch is filled.
                    if !missed.iter().any(|&j| ids[j] == ids[i]) {
                        missed.push(i);
                    }
                }
                Reply::Error(e) => return Err(format!("GET {} failed: {e}", names[i])),
                _ => return Err(format!("GET {}: unexpected reply", names[i])),
            }
        }
        if !missed.is_empty() {
            buf.clear();
            for &i in &missed {
                encode(&mut buf, &[b"SET", names[i].as_bytes(), &value]);
            }
            conn.send(&buf).map_err(io_err)?;
            for _ in 0..missed.len() {
                match conn.read_reply().map_err(io_err)? {
                    Reply::Simple(s) if s == "OK" => {}
                    Reply::Error(_) => set_errors += 1,
                    _ => return Err("SET: unexpected reply".into()),
                }
            }
        }
        done += n as u64;
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = server_stats(&mut conn).map_err(io_err)?;
    println!(
        "hits={hits} requests={requests} ratio={:.4} {stats} set_errors={set_errors} seconds={seconds:.2}",
        ratio(hits, requests)
    );
    Ok(())
}

fn ratio(hits: u64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        hits as f64 / requests as f64
    }
}

/// Exact LRU of `capacity` entries: key -> last use, and last use -> key.
fn simulate_lru(trace: &mut Trace, requests: u64, capacity: usize) -> u64 {
    let mut last: HashMap<u64, u64> = HashMap::with_capacity(capacity + 1);
    let mut by_age: BTreeMap<u64, u64> = BTreeMap::new();
    let mut hits = 0;
    for now in 0..requests {
        let id = trace.next_key();
        if let Some(t) = last.get_mut(&id) {
            hits += 1;
            by_age.remove(t);
            *t = now;
            by_age.insert(now, id);
        } else if capacity > 0 {
            if last.len() == capacity {
                let (_, victim) = by_age.pop_first().expect("a full cache has entries");
                last.remove(&victim);
            }
            last.insert(id, now);
            by_age.insert(now, id);
        }
    }
    hits
}

/// Exact in-cache LFU of `capacity` entries: key -> (count, last use), and
/// the set of (count, last use, key) whose first element is the victim.
fn simulate_lfu(trace: &mut Trace, requests: u64, capacity: usize) -> u64 {
    let mut meta: HashMap<u64, (u64, u64)> = HashMap::with_capacity(capacity + 1);
    let mut order: BTreeSet<(u64, u64, u64)> = BTreeSet::new();
    let mut hits = 0;
    for now in 0..requests {
        let id = trace.next_key();
        if let Some(m) = meta.get_mut(&id) {
            hits += 1;
            order.remove(&(m.0, m.1, id));
            *m = (m.0 + 1, now);
            order.insert((m.0, m.1, id));
        } else if capacity > 0 {
            if meta.len() == capacity {
                let (_, _, victim) = order.pop_first().expect("a full cache has entries");
                meta.remove(&victim);
            }
            meta.insert(id, (1, now));
            order.insert((1, now, id));
        }
    }
    hits
}

/// Exact S3-FIFO (Yang et al., SOSP 2023) of `capacity` entries: a small
/// FIFO of a tenth of the capacity that new keys enter, a main FIFO with a
/// 2-bit count per key (a hit adds one, up to 3), and a ghost FIFO of as
/// many keys as the main one holds. When the cache is full: while the small
/// FIFO holds a tenth or more, its oldest key moves to the main FIFO if it
/// was hit, or else is evicted into the ghost; otherwise the main FIFO's
/// oldest key is evicted if its count is 0, or else goes back in with its
/// count lowered by one. A miss on a key the ghost holds enters the main
/// FIFO. (libCacheSim's S3FIFO.c, the authors' simulator, does the same.)
fn simulate_s3fifo(trace: &mut Trace, requests: u64, capacity: usize) -> u64 {
    use std::collections::VecDeque;
    // Where a cached key is, and its count.
    let mut cached: HashMap<u64, (bool, u8)> = HashMap::with_capacity(capacity + 1);
    let (mut small, mut main) = (VecDeque::new(), VecDeque::new());
    let mut ghost: VecDeque<u64> = VecDeque::new();
    let mut in_ghost: HashMap<u64, u64> = HashMap::new();
    let small_max = (capacity / 10).max(1);
    let mut hits = 0;
    for _ in 0..requests {
        let id = trace.next_key();
        if let Some(meta) = cached.get_mut(&id) {
            hits += 1;
            meta.1 = (meta.1 + 1).min(3);
            continue;
        }
        if capacity == 0 {
            continue;
        }
        while cached.len() >= capacity {
            if small.len() >= small_max || main.is_empty() {
                let victim = small.pop_front().expect("a full cache has keys");
                let count = cached[&victim].1;
                if count > 0 {
                    cached.insert(victim, (true, 0));
                    main.push_back(victim);
                } else {
                    cached.remove(&victim);
                    ghost.push_back(victim);
                    *in_ghost.entry(victim).or_insert(0) += 1;
                    while ghost.len() > capacity - small_max {
                        let old = ghost.pop_front().expect("a long ghost has keys");
                        let n = in_ghost.get_mut(&old).expect("ghost keys are counted");
                        *n -= 1;
                        if *n == 0 {
                            in_ghost.remove(&old);
                        }
                    }
                }
            } else {
                let victim = main.pop_front().expect("checked");
                let count = cached[&victim].1;
                if count > 0 {
                    cached.insert(victim, (true, count - 1));
                    main.push_back(victim);
                } else {
                    cached.remove(&victim);
                }
            }
        }
        if in_ghost.contains_key(&id) {
            cached.insert(id, (true, 0));
            main.push_back(id);
        } else {
            cached.insert(id, (false, 0));
            small.push_back(id);
        }
    }
    hits
}

/// `simulate`: the trace against an exact in-process cache.
fn simulate(o: &Opts) -> Result<(), String> {
    let policy = o.str("policy")?;
    let capacity = o.num("capacity", None)? as usize;
    let requests = o.num("requests", None)?;
    let mut trace = Trace::new(o.str("trace")?, o.num("keys", None)?, o.num("seed", None)?)?;
    let hits = match policy {
        "lru" => simulate_lru(&mut trace, requests, capacity),
        "lfu" => simulate_lfu(&mut trace, requests, capacity),
        "s3fifo" => simulate_s3fifo(&mut trace, requests, capacity),
        _ => return Err(format!("unknown policy '{policy}' (lru, lfu or s3fifo)")),
    };
    println!(
        "hits={hits} requests={requests} ratio={:.4} policy={policy} capacity={capacity}",
        ratio(hits, requests)
    );
    Ok(())
}

/// `fill`: SETs the keys of ranks `0..count`, pipelined.
fn fill(o: &Opts) -> Result<(), String> {
    let addr = o.str("addr")?;
    let count = o.num("count", None)?;
    let keys = o.num("keys", None)?;
    let batch = o.num("batch", Some(64))?.max(1);
    if keys == 0 || count > keys {
        return Err("--count must be at most --keys, and --keys at least 1".into());
    }
    let perm = Permutation::new(keys);
    let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let value = [b'x'; VALUE_SIZE];
    let mut buf = Vec::new();
    let mut r = 0;
    while r < count {
        let n = (count - r).min(batch);
        buf.clear();
        for i in r..r + n {
            let mut name = String::new();
            key_name(perm.apply(i), &mut name);
            encode(&mut buf, &[b"SET", name.as_bytes(), &value]);
        }
        conn.send(&buf).map_err(io_err)?;
        for _ in 0..n {
            match conn.read_reply().map_err(io_err)? {
                Reply::Simple(s) if s == "OK" => {}
                Reply::Error(e) => return Err(format!("SET failed: {e}")),
                _ => return Err("SET: unexpected reply".into()),
            }
        }
        r += n;
    }
    println!("set={count}");
    Ok(())
}

/// `wait`: PING until the server answers or the timeout passes.
fn wait(o: &Opts) -> Result<(), String> {
    let addr = o.str("addr")?;
    let deadline = Instant::now() + Duration::from_millis(o.num("timeout-ms", Some(10_000))?);
    loop {
        if let Ok(mut c) = Conn::connect(addr) {
            if let Ok(Reply::Simple(_)) = c.call(&[b"PING"]) {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("{addr} did not answer PING in time"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let sub = args.first().map(|s| s.as_str()).unwrap_or("");
    let rest = args.get(1..).unwrap_or(&[]);
    match sub {
        "replay" => replay(&Opts::parse(rest, &["addr", "trace", "requests", "keys", "seed", "batch"])?),
        "simulate" => simulate(&Opts::parse(rest, &["policy", "capacity", "trace", "requests", "keys", "seed"])?),
        "fill" => fill(&Opts::parse(rest, &["addr", "count", "keys", "batch"])?),
        "stats" => {
            let o = Opts::parse(rest, &["addr"])?;
            let addr = o.str("addr")?;
            let mut conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
            println!("{}", server_stats(&mut conn).map_err(io_err)?);
            Ok(())
        }
        "wait" => wait(&Opts::parse(rest, &["addr", "timeout-ms"])?),
        "freeport" => {
            let l = TcpListener::bind("127.0.0.1:0").map_err(io_err)?;
            println!("{}", l.local_addr().map_err(io_err)?.port());
            Ok(())
        }
        _ => Err("usage: cache_trace replay|simulate|fill|stats|wait|freeport [--option value ...] \
                  (see the doc comment at the top of scripts/cache_trace.rs)"
            .into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("cache_trace: {e}");
        exit(1);
    }
}
