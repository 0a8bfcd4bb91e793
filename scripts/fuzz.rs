//! fuzz: a seeded, bounded protocol and command fuzzer for gocache.
//!
//! Standard library only; the cargo example `fuzz`, so `scripts/fuzz.sh`
//! builds it with one command and runs `target/release/examples/fuzz`:
//!
//! ```sh
//! cargo build --release --example fuzz
//! ```
//!
//! It asks the server for `COMMAND LIST` (and `COMMAND INFO`, for arities and
//! key positions), stores a canary key, and then sends pipelines of requests
//! until a budget runs out:
//!
//! - clean pipelines: 1 to 24 well-formed requests in one write, RESP or
//!   inline (line protocol, quoted the way `sdssplitargs` reads it), built
//!   from every listed command with random arguments: counts from 0 to 8,
//!   sometimes many; small, huge, negative and malformed integers; floats,
//!   `inf`, `nan`; empty and binary strings with `\r\n\0`; the keywords
//!   commands take; glob patterns; names from a small key pool; now and then
//!   strings of up to 64 KiB, and once in 20 000 requests a multi-key
//!   command with 100 000 to 1 048 576 arguments (gocache's limit). `MULTI` comes as a transaction (`MULTI`,
//!   queued commands, `EXEC` or `DISCARD`). Every reply is read and its RESP
//!   framing checked; a clean connection that is closed, stalls, or answers
//!   with broken framing is a failure.
//! - dirty pipelines: the same requests mutated (bit flips, inserted,
//!   deleted and duplicated bytes, truncation, wrong `*`/`$` counts, negative
//!   and huge lengths, lost `\r`, unbalanced quotes, overlong lines, plain
//!   garbage), on their own connection. The server may close it (a protocol
//!   error does, as in Redis); replies are not parsed. A sentinel request (an
//!   unknown command named `fz-sentinel-N`, which the server echoes in its
//!   error even before `AUTH`) tells when everything was answered; when a
//!   mutation swallows it, the fuzzer half-closes and reads to EOF, so no
//!   wait is longer than a short idle timeout.
//!
//! After every `--batch` requests, a separate clean connection checks that
//! `PING` answers `PONG`, that `fuzz:canary` still holds its random 32-byte
//! value, that the server's VmRSS (`/proc/PID/status`) is under the bound,
//! and that the server's log (if given) shows no `panicked at`. Any failure
//! prints the reason, the seed, the batch, the request count and the last
//! requests sent (hex-escaped, cut at 400 bytes each), and exits 1.
//!
//! Options:
//!
//! - `--addr HOST:PORT` server (default 127.0.0.1:6380)
//! - `--seed N` (default 20240607, always printed)
//! - `--requests N` request budget (default 200000)
//! - `--seconds S` wall-clock budget, fractions allowed (default 30); the run
//!   stops at whichever budget runs out first
//! - `--batch N` requests between checks (default 500)
//! - `--pid PID` the server's process, for VmRSS and its thread count;
//!   without it memory is not checked
//! - `--max-rss-mb M` RSS bound (default 512)
//! - `--password P` the server's `--requirepass`: the check connection and
//!   one clean connection in four authenticate; the rest of the traffic,
//!   dirty connections included, stays unauthenticated
//! - `--server-log FILE` the server's stderr, scanned for `panicked at` at
//!   every check so a panic is tied to the requests just sent
//!
//! Never sent, so the run is not disturbed: `SHUTDOWN`, `DEBUG`, `MONITOR`,
//! subscriptions, replication, scripting, `ACL`, blocking commands, `CLIENT
//! KILL`/`PAUSE`/`REPLY`, `CONFIG SET` of any real parameter but
//! `maxmemory-policy noeviction`, `AUTH` with the real password, anything
//! naming the canary. `QUIT` comes only last in a clean pipeline (the
//! connection is then reopened), `SAVE` about once in 4000 requests and
//! `BGSAVE` once in 800 (disk I/O is slow). `FLUSHALL`/`FLUSHDB` come about
//! once in 1500 clean pipelines, always last (`FLUSHDB` after a `SELECT 0`,
//! the canary's database): when the server answers `+OK` the next check
//! expects the canary gone, then stores a fresh one. `SWAPDB` and `MOVE`
//! are not sent: they could carry the canary away. `HELLO
//! 2|3` is sent freely: replies are walked as RESP2 and RESP3 alike.
//!
//! Bounds: each request is at most about 200 KiB, and a clean inline one at
//! most 64 KiB, the server's default `max-line-bytes` (a rare overlong
//! inline line is 1 MiB plus a little, to pass it,
//! and the rare huge argument list about 12 MB);
//! the key pool holds 17 names and `SETRANGE` offsets stay under 1 MiB, so
//! the data the server legitimately holds stays in the tens of megabytes and
//! 512 MiB of RSS means a leak. Every read has a deadline: 10 s on clean and
//! check connections, a 25 ms idle timeout then at most 5 s to EOF on dirty
//! ones.
//!
//! Reproducing: the requests are a function of the seed alone (timing only
//! decides which dirty connections get reopened), so `SEED=N bash
//! scripts/fuzz.sh S R` with the printed seed and request count replays the
//! same traffic against a fresh server; the failure report's last requests
//! are the ones to try alone. Before a release, run a long pass:
//! `bash scripts/fuzz.sh 600 1000000`.
//!
//! At the end it prints one line of `name=value` pairs: `seed`, `requests`,
//! `batches`, `reconnects`, `errors_replied` (error replies seen on clean
//! connections), `max_rss_mb`, `elapsed_s`, then `pipelines`, `mutated`,
//! `server_closes` (dirty connections the server closed), `dirty_stalls`
//! (dirty pipelines whose sentinel never came back), `max_threads` and
//! `stream` (a hash of every request byte: two runs with the same seed and
//! request count print the same one).

use std::collections::VecDeque;
use std::env;
use std::fs;
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::process;
use std::time::{Duration, Instant};

/// Longest clean inline request line, without its line end: gocache's
/// default `max-line-bytes`.
const CLEAN_LINE_MAX: usize = 64 * 1024;

/// Most arguments a request may have before `AUTH` (gocache's and Redis's limit).
const UNAUTHENTICATED_MAX_ARGS: usize = 10;

/// Longest bulk string, or inline line, before `AUTH`.
const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

const USAGE: &str = "usage: fuzz [--addr HOST:PORT] [--seed N] [--requests N] [--seconds S] [--batch N] [--pid PID] [--max-rss-mb M] [--password P] [--server-log FILE] (see the header of scripts/fuzz.rs)";

/// The key only the check connection touches.
const CANARY_KEY: &[u8] = b"fuzz:canary";

/// Byte strings no fuzzed request may contain, in lower case: the canary's
/// name, and commands that would end or empty the server outside the
/// fuzzer's control.
const TABOO: &[&[u8]] = &[b"canary", b"shutdown", b"flushall", b"flushdb"];

/// Commands never sent, though the server may list them: they would stop the
/// server, change the connection's mode, block, or touch persistence or
/// users behind the fuzzer's back.
const NEVER_SENT: &[&str] = &[
    "shutdown",
    "debug",
    "monitor",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
    "failover",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "acl",
    "module",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "script",
    "function",
    "fcall",
    "fcall_ro",
    "blpop",
    "brpop",
    "brpoplpush",
    "blmove",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "wait",
    "waitaof",
    "xread",
    "xreadgroup",
    "cluster",
    "migrate",
    "swapdb",
    "move",
    "bgrewriteaof",
    "flushall",
    "flushdb",
    "quit",
    "multi",
    "save",
    "bgsave",
];

/// Read deadline of clean and check connections: a valid request unanswered
/// this long is a hang.
const CLEAN_DEADLINE: Duration = Duration::from_secs(10);

/// How long a dirty connection may stay silent before its sentinel is
/// given up on.
const DIRTY_IDLE: Duration = Duration::from_millis(25);

/// How long a half-closed dirty connection may take to be closed by the
/// server; longer is a hang.
const EOF_DEADLINE: Duration = Duration::from_secs(5);

/// Requests kept for the failure report, and the bytes shown of each.
const RECENT_KEPT: usize = 24;
const RECENT_SHOWN: usize = 400;

/// The server's default `--max-line-bytes`: an overlong line exceeds it.
const MAX_LINE: usize = 1024 * 1024;

/// Most arguments a clean request carries, the name included: gocache's
/// limit (more is a protocol error that closes the connection).
const MAX_ARGV: usize = 1024 * 1024;

fn main() {
    let opts = Options::parse(env::args().skip(1).collect());
    let mut fuzzer = match Fuzzer::start(opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fuzz: cannot start: {e}");
            process::exit(2);
        }
    };
    if let Err(reason) = fuzzer.run() {
        fuzzer.fail(&reason);
    }
    println!("{}", fuzzer.summary());
}

/// The command line.
struct Options {
    addr: String,
    seed: u64,
    requests: u64,
    seconds: f64,
    batch: u64,
    pid: Option<u32>,
    max_rss_mb: u64,
    password: Option<Vec<u8>>,
    server_log: Option<String>,
}

impl Options {
    fn parse(args: Vec<String>) -> Options {
        let mut o = Options {
            addr: "127.0.0.1:6380".into(),
            seed: 20240607,
            requests: 200_000,
            seconds: 30.0,
            batch: 500,
            pid: None,
            max_rss_mb: 512,
            password: None,
            server_log: None,
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                process::exit(0);
            }
            let Some(value) = it.next() else {
                usage_error(&format!("{flag} needs a value"));
            };
            match flag.as_str() {
                "--addr" => o.addr = value,
                "--seed" => o.seed = number(&flag, &value),
                "--requests" => o.requests = number(&flag, &value),
                "--seconds" => o.seconds = number(&flag, &value),
                "--batch" => o.batch = number::<u64>(&flag, &value).max(1),
                "--pid" => o.pid = Some(number(&flag, &value)),
                "--max-rss-mb" => o.max_rss_mb = number(&flag, &value),
                "--password" => o.password = Some(value.into_bytes()),
                "--server-log" => o.server_log = Some(value),
                _ => usage_error(&format!("unknown option {flag}")),
            }
        }
        o
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| usage_error(&format!("{flag}: not a number: {value}")))
}

fn usage_error(msg: &str) -> ! {
    eprintln!("fuzz: {msg}\n{USAGE}");
    process::exit(2);
}

/// splitmix64: tiny, fast, and the same stream for the same seed on every
/// machine, which is all reproduction needs.
struct Rng(u64);

impl Rng {
    /// A generator for one purpose: each purpose gets its own stream, so
    /// that timing-dependent choices never shift the request stream.
    fn new(seed: u64, purpose: u64) -> Rng {
        let mut r = Rng(seed ^ purpose.wrapping_mul(0xA24B_AED4_963E_E407));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True `n` times in `d`.
    fn chance(&mut self, n: u64, d: u64) -> bool {
        self.below(d) < n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `pick` for lists of references, which are copied out.
    fn one<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick(items)
    }

    /// Small counts are far more likely than large ones: `0..=max`, skewed
    /// towards 0.
    fn skewed(&mut self, max: u64) -> u64 {
        let cap = self.below(max + 1);
        self.below(cap + 1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What the fuzzer needs to know of one listed command.
#[derive(Clone)]
struct CommandInfo {
    name: String,
    /// Redis's convention: negative means "at least -arity".
    arity: i64,
    first_key: i64,
    last_key: i64,
    key_step: i64,
}

impl CommandInfo {
    /// Whether argument `i` (1 = first after the name) of `argc` is a key.
    fn is_key(&self, i: usize, argc: usize) -> bool {
        let (first, step) = (self.first_key, self.key_step.max(1));
        if first <= 0 {
            return false;
        }
        let last = if self.last_key < 0 {
            argc as i64 + self.last_key
        } else {
            self.last_key
        };
        let i = i as i64;
        i >= first && i <= last && (i - first) % step == 0
    }
}

/// Keywords the commands take, shown in a few letter cases.
const KEYWORDS: &[&str] = &[
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "MATCH",
    "COUNT",
    "TYPE",
    "ASYNC",
    "SYNC",
    "SCHEDULE",
    "LIMIT",
    "WITHSCORES",
    "STRING",
    "LIST",
    "INFO",
    "ID",
    "GETNAME",
    "SETNAME",
    "SETINFO",
    "LIB-NAME",
    "LIB-VER",
    "DOCS",
    "GETKEYS",
    "RESETSTAT",
    "HELP",
    "DEFAULT",
    "AUTH",
    "NOSAVE",
    "NOW",
    "FORCE",
    "ABORT",
    "REPLACE",
    "LEN",
    "IDX",
    "ALL",
    "EVERYTHING",
    "SERVER",
    "MEMORY",
    "KEYSPACE",
    "STATS",
    "CLIENTS",
    "PERSISTENCE",
];

/// Integers at and past the edges parsers get wrong.
const EDGE_INTS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "00",
    "01",
    "+1",
    " 1",
    "1 ",
    "1.0",
    "0x1f",
    "1e3",
    "1_000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "9223372036854775806",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "536870911",
    "536870912",
    "1048576",
    "4611686018427387904",
    "-4611686018427387905",
    "9223372036854775",
    "9223372036854776",
    "1000000000000000",
];

/// Floats, spelled right and wrong.
const FLOATS: &[&str] = &[
    "0.1",
    "-0.0",
    "3.14159",
    "1e308",
    "1e309",
    "-1e309",
    "1.7976931348623157e308",
    "5e-324",
    "1e-320",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "-Infinity",
    "nan",
    "NaN",
    "-nan",
    ".5",
    "5.",
    "0x1p3",
    "1e",
    "e1",
    "--1",
    "1.2.3",
    " 1.5",
    "1.5 ",
    "17e1000",
    "0.30000000000000004",
];

/// Glob patterns, including ones that make naive matchers backtrack.
const GLOBS: &[&str] = &[
    "*",
    "?",
    "fz:*",
    "fz:k?",
    "fz:k[0-5]",
    "fz:k[^0-5]",
    "[",
    "[^",
    "[a-",
    "[]",
    "[z-a]",
    "\\",
    "\\*",
    "*\\",
    "fz:*a*a*a*a*a*a*a*b",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "**********************************x",
    "?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*",
    "[a-z][a-z][a-z][a-z][a-z]*",
    "*[",
    "*[a-",
    "fz:\\k*",
];

/// Clean requests for one pipeline, how to read their replies, and what they
/// were (for the failure report).
struct CleanPipeline {
    bytes: Vec<u8>,
    expects: Vec<Expect>,
    requests: Vec<Vec<u8>>,
}

/// What the server owes a clean pipeline, in order.
enum Expect {
    /// One RESP reply.
    Reply,
    /// Inline replies, up to the error naming this sentinel.
    Inline(Vec<u8>),
    /// One RESP reply to `FLUSHALL`/`FLUSHDB`: `+OK` empties the keyspace.
    Flush,
    /// The server closes the connection (after `QUIT`).
    Closed,
}

/// Builds requests. Owns the request stream's generator, so the stream is a
/// function of the seed alone.
struct Generator {
    rng: Rng,
    commands: Vec<CommandInfo>,
    keys: Vec<Vec<u8>>,
    password: Option<Vec<u8>>,
    /// Numbers the sentinels (it advances with the stream, so it is
    /// deterministic too).
    sentinels: u64,
}

impl Generator {
    fn new(seed: u64, listed: &[CommandInfo], password: Option<Vec<u8>>) -> Generator {
        let commands = listed
            .iter()
            .filter(|c| !NEVER_SENT.contains(&c.name.as_str()))
            .cloned()
            .collect();
        let mut keys: Vec<Vec<u8>> = (0..12).map(|i| format!("fz:k{i}").into_bytes()).collect();
        keys.push(format!("fz:{}", "a".repeat(200)).into_bytes());
        keys.push(b"fz:{tag}x".to_vec());
        keys.push(b"fz:\x00\r\n\xff".to_vec());
        keys.push(b"fz: spaced \"key\"".to_vec());
        keys.push(Vec::new());
        Generator {
            rng: Rng::new(seed, 1),
            commands,
            keys,
            password,
            sentinels: 0,
        }
    }

    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(&self.keys).clone()
    }

    /// A keyword, sometimes in lower or mixed case.
    fn keyword(&mut self) -> Vec<u8> {
        let word = self.rng.pick(KEYWORDS).as_bytes().to_vec();
        self.recase(word)
    }

    fn recase(&mut self, word: Vec<u8>) -> Vec<u8> {
        match self.rng.below(5) {
            0 => word.to_ascii_lowercase(),
            1 => word
                .iter()
                .map(|b| {
                    if self.rng.chance(1, 2) {
                        b.to_ascii_lowercase()
                    } else {
                        b.to_ascii_uppercase()
                    }
                })
                .collect(),
            _ => word,
        }
    }

    fn word(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| b'a' + self.rng.below(26) as u8).collect()
    }

    /// One random argument. `cheap` leaves out long strings, for requests
    /// with many arguments and for mutation bases.
    fn arg(&mut self, cheap: bool) -> Vec<u8> {
        let r = &mut self.rng;
        match r.below(1000) {
            0..=299 => self.key(),
            300..=429 => (r.range(0, 103) as i64 - 3).to_string().into_bytes(),
            430..=499 => r.pick(EDGE_INTS).as_bytes().to_vec(),
            500..=529 => r.pick(FLOATS).as_bytes().to_vec(),
            530..=559 => {
                let f = f64::from_bits(r.next());
                let f = if f.is_finite() { f } else { -1.5e-7 };
                let v = if r.chance(1, 2) {
                    f
                } else {
                    (r.below(2_000_000) as f64 - 1e6) / 1000.0
                };
                v.to_string().into_bytes()
            }
            560..=689 => self.keyword(),
            690..=729 => Vec::new(),
            730..=809 => {
                let n = r.range(1, 32) as usize;
                (0..n)
                    .map(|_| {
                        if r.chance(1, 3) {
                            *r.pick(b"\r\n\0\xff'\"\\ \t*$")
                        } else {
                            r.next() as u8
                        }
                    })
                    .collect()
            }
            810..=889 => {
                let n = r.range(1, 16) as usize;
                self.word(n)
            }
            890..=939 => r.pick(GLOBS).as_bytes().to_vec(),
            940..=989 => {
                let n = r.range(32, 1024) as usize;
                (0..n).map(|_| b' ' + r.below(95) as u8).collect()
            }
            _ if cheap => {
                let n = r.range(1, 8) as usize;
                self.word(n)
            }
            _ => {
                let n = if r.chance(1, 10) {
                    r.range(8192, 65536)
                } else {
                    r.range(1024, 8192)
                };
                let fill = b'a' + r.below(26) as u8;
                let mut s = vec![fill; n as usize];
                // A few random bytes, so values are not all one byte.
                for _ in 0..8 {
                    let at = r.below(n) as usize;
                    s[at] = r.next() as u8;
                }
                s
            }
        }
    }

    /// How many arguments to give a command of `arity`: usually what it
    /// takes, often 0 to 8, sometimes many.
    fn arg_count(&mut self, arity: i64) -> usize {
        let fixed = (arity.unsigned_abs() as usize).saturating_sub(1);
        match self.rng.below(1000) {
            0..=549 if arity > 0 => fixed,
            0..=549 => fixed + self.rng.skewed(6) as usize,
            550..=959 => self.rng.below(9) as usize,
            960..=994 => self.rng.range(9, 64) as usize,
            _ => self.rng.range(64, 1500) as usize,
        }
    }

    /// A command name, in a random case now and then.
    fn name(&mut self, name: &str) -> Vec<u8> {
        let upper = name.to_ascii_uppercase().into_bytes();
        if self.rng.chance(1, 5) {
            self.recase(upper)
        } else {
            upper
        }
    }

    /// One well-formed request (well-formed as bytes: its arguments are as
    /// random as they come). `plain` leaves out the rare and special
    /// commands (`SAVE`, `BGSAVE`, transactions), for transactions and
    /// mutation bases.
    fn request(&mut self, plain: bool, cheap: bool) -> Vec<Vec<u8>> {
        for _ in 0..20 {
            let argv = self.request_once(plain, cheap);
            if self.is_safe(&argv) {
                return argv;
            }
        }
        vec![b"PING".to_vec()]
    }

    fn request_once(&mut self, plain: bool, cheap: bool) -> Vec<Vec<u8>> {
        if !plain && self.rng.chance(1, 4000) {
            return vec![self.name("save")];
        }
        if !plain && self.rng.chance(1, 800) {
            let mut argv = vec![self.name("bgsave")];
            if self.rng.chance(1, 3) {
                argv.push(self.keyword());
            }
            return argv;
        }
        if self.rng.chance(3, 100) || self.commands.is_empty() {
            return self.unknown_command(cheap);
        }
        if !plain && self.rng.chance(1, 20_000) {
            return self.huge_request();
        }
        let info = self.rng.pick(&self.commands).clone();
        let name = self.name(&info.name);
        let mut argv = match info.name.as_str() {
            "client" => self.client_args(),
            "config" => self.config_args(),
            "command" => self.command_args(),
            "hello" => self.hello_args(),
            "auth" => {
                let n = self.rng.range(1, 3) as usize;
                let mut args: Vec<Vec<u8>> = (0..n).map(|_| self.arg(true)).collect();
                if n == 2 && self.rng.chance(1, 2) {
                    args[0] = b"default".to_vec();
                }
                args
            }
            _ => {
                let n = self.arg_count(info.arity);
                let cheap = cheap || n > 8;
                (1..=n)
                    .map(|i| {
                        if info.is_key(i, n + 1) && self.rng.chance(85, 100) {
                            self.key()
                        } else {
                            self.arg(cheap)
                        }
                    })
                    .collect()
            }
        };
        if info.name == "setrange" && argv.len() >= 2 {
            // An offset near 512 MiB makes the server allocate that much,
            // legitimately; keep offsets under 1 MiB so RSS stays a signal.
            if let Some(n) = std::str::from_utf8(&argv[1])
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            {
                if (1 << 20..=1 << 30).contains(&n) {
                    argv[1] = (n % (1 << 20)).to_string().into_bytes();
                }
            }
        }
        argv.insert(0, name);
        argv
    }

    /// A command that takes any number of keys, with 100 000 up to
    /// [`MAX_ARGV`] short ones: the server's largest argument lists.
    fn huge_request(&mut self) -> Vec<Vec<u8>> {
        let many: Vec<String> = self
            .commands
            .iter()
            .filter(|c| c.arity < 0 && c.key_step > 0 && c.last_key < 0)
            .map(|c| c.name.clone())
            .collect();
        let name = if many.is_empty() {
            "exists".to_string()
        } else {
            self.rng.pick(&many).clone()
        };
        let argc = if self.rng.chance(1, 4) {
            MAX_ARGV - self.rng.below(2) as usize
        } else {
            self.rng.range(100_000, MAX_ARGV as u64) as usize
        };
        let mut argv = Vec::with_capacity(argc);
        argv.push(self.name(&name));
        // The twelve short pool keys, so the request stays near 12 MB.
        argv.extend((1..argc).map(|_| self.keys[self.rng.below(12) as usize].clone()));
        argv
    }

    fn unknown_command(&mut self, cheap: bool) -> Vec<Vec<u8>> {
        let name = match self.rng.below(5) {
            0 => {
                let n = self.rng.range(1, 12) as usize;
                self.word(n)
            }
            1 => {
                let n = self.rng.range(1, 12) as usize;
                self.rng.bytes(n)
            }
            // Longer than any command name, past the server's lookup buffer.
            2 => {
                let n = self.rng.range(30, 300) as usize;
                self.word(n)
            }
            3 => {
                let base = self.rng.pick(&self.commands).name.clone();
                let mut b = base.into_bytes();
                b.push(b'a' + self.rng.below(26) as u8);
                b
            }
            _ => Vec::new(),
        };
        let n = self.rng.below(5) as usize;
        let mut argv = vec![name];
        argv.extend((0..n).map(|_| self.arg(cheap)));
        argv
    }

    /// `CLIENT` with subcommands that only touch the calling connection.
    fn client_args(&mut self) -> Vec<Vec<u8>> {
        let sub = *self.rng.pick(&[
            "ID", "GETNAME", "SETNAME", "SETINFO", "LIST", "INFO", "HELP", "", "NOSUCH",
        ]);
        let mut args = vec![self.recase(sub.as_bytes().to_vec())];
        if sub == "SETINFO" && self.rng.chance(2, 3) {
            let attr = self.rng.one(&[&b"LIB-NAME"[..], b"LIB-VER"]).to_vec();
            args.push(self.recase(attr));
        }
        let n = self.rng.skewed(3);
        args.extend((0..n).map(|_| self.arg(true)));
        args
    }

    /// `CONFIG GET` anything; `CONFIG SET` only of a name no server knows, or
    /// the one harmless value.
    fn config_args(&mut self) -> Vec<Vec<u8>> {
        match self.rng.below(6) {
            0..=2 => {
                let mut args = vec![self.recase(b"GET".to_vec())];
                let n = self.rng.skewed(3);
                args.extend((0..n).map(|_| {
                    if self.rng.chance(1, 2) {
                        self.rng.pick(GLOBS).as_bytes().to_vec()
                    } else {
                        self.arg(true)
                    }
                }));
                args
            }
            3 => {
                let mut args = vec![self.recase(b"SET".to_vec())];
                if self.rng.chance(1, 2) {
                    args.push(b"maxmemory-policy".to_vec());
                    args.push(b"noeviction".to_vec());
                } else {
                    let n = self.rng.range(4, 10) as usize;
                    let mut name = b"fz-no-such-".to_vec();
                    name.extend(self.word(n));
                    args.push(name);
                    let n = self.rng.skewed(3);
                    args.extend((0..n).map(|_| self.arg(true)));
                }
                args
            }
            4 => vec![self.recase(b"RESETSTAT".to_vec())],
            _ => {
                let n = self.rng.range(1, 3);
                (0..n).map(|_| self.arg(true)).collect()
            }
        }
    }

    fn command_args(&mut self) -> Vec<Vec<u8>> {
        if self.rng.chance(1, 10) {
            return Vec::new();
        }
        let sub = *self
            .rng
            .pick(&["COUNT", "LIST", "INFO", "DOCS", "GETKEYS", "HELP", "NOSUCH"]);
        let mut args = vec![self.recase(sub.as_bytes().to_vec())];
        let n = self.rng.skewed(4);
        for _ in 0..n {
            let a = if self.rng.chance(2, 3) && !self.commands.is_empty() {
                let name = self.rng.pick(&self.commands).name.clone();
                self.name(&name)
            } else {
                self.arg(true)
            };
            args.push(a);
        }
        args
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`, never with the
    /// real password.
    fn hello_args(&mut self) -> Vec<Vec<u8>> {
        let mut args = Vec::new();
        if self.rng.chance(1, 10) {
            return args;
        }
        let ver = *self.rng.pick(&[
            "2",
            "3",
            "2",
            "3",
            "1",
            "4",
            "0",
            "-1",
            "99999999999999999999",
            "",
        ]);
        args.push(ver.as_bytes().to_vec());
        for _ in 0..self.rng.skewed(2) {
            if self.rng.chance(1, 2) {
                args.push(self.recase(b"AUTH".to_vec()));
                let user = if self.rng.chance(2, 3) {
                    b"default".to_vec()
                } else {
                    self.arg(true)
                };
                args.push(user);
                args.push(self.arg(true));
            } else {
                args.push(self.recase(b"SETNAME".to_vec()));
                args.push(self.arg(true));
            }
        }
        if self.rng.chance(1, 10) {
            args.push(self.arg(true));
        }
        args
    }

    /// Whether a request stays clear of the canary, the password and the
    /// commands the run must not send.
    fn is_safe(&self, argv: &[Vec<u8>]) -> bool {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        if NEVER_SENT.contains(&name.as_str()) && !matches!(name.as_str(), "save" | "bgsave") {
            return false;
        }
        argv.iter().all(|a| self.bytes_are_safe(a))
    }

    fn bytes_are_safe(&self, bytes: &[u8]) -> bool {
        let lower = bytes.to_ascii_lowercase();
        !TABOO.iter().any(|t| contains(&lower, t))
            && self
                .password
                .as_deref()
                .is_none_or(|p| p.is_empty() || !contains(bytes, p))
    }

    /// The next sentinel's name and the bytes of its echo in the server's
    /// unknown-command error (quotes included, so `-1` is not `-10`).
    fn sentinel(&mut self) -> (Vec<u8>, Vec<u8>) {
        self.sentinels += 1;
        let name = format!("fz-sentinel-{}", self.sentinels).into_bytes();
        let mut echo = vec![b'\''];
        echo.extend_from_slice(&name);
        echo.push(b'\'');
        (name, echo)
    }

    /// A clean pipeline: 1 to about 24 requests, RESP and inline mixed,
    /// with an inline sentinel after each run of inline requests so their
    /// unframed replies can be told apart.
    fn clean_pipeline(&mut self) -> CleanPipeline {
        let mut p = CleanPipeline {
            bytes: Vec::new(),
            expects: Vec::new(),
            requests: Vec::new(),
        };
        let target = 1 + self.rng.skewed(24) as usize;
        let mut inline_open = false;
        while p.requests.len() < target {
            if self.rng.chance(1, 100) {
                // Bytes that carry no request and get no reply.
                let skip: &[u8] =
                    self.rng
                        .one(&[&b"*0\r\n"[..], b"*-1\r\n", b"\r\n", b"  \t \n", b"\n"]);
                if skip[0] == b'*' {
                    self.close_inline(&mut p, &mut inline_open);
                } else {
                    inline_open = true;
                }
                p.bytes.extend_from_slice(skip);
                p.requests.push(skip.to_vec());
                continue;
            }
            let group = if self.rng.chance(1, 40) {
                self.transaction()
            } else {
                vec![self.request(false, false)]
            };
            let group: Vec<Vec<Vec<u8>>> = group
                .into_iter()
                .map(|argv| self.fit_before_auth(argv))
                .collect();
            let inline = self.rng.chance(3, 10);
            for argv in group {
                let inline_bytes = if inline {
                    self.encode_inline(&argv)
                } else {
                    None
                };
                match inline_bytes {
                    Some(bytes) => {
                        inline_open = true;
                        p.bytes.extend_from_slice(&bytes);
                        p.requests.push(bytes);
                    }
                    None => {
                        self.close_inline(&mut p, &mut inline_open);
                        let bytes = encode_resp(&argv);
                        p.bytes.extend_from_slice(&bytes);
                        p.requests.push(bytes);
                        p.expects.push(Expect::Reply);
                    }
                }
            }
        }
        self.close_inline(&mut p, &mut inline_open);
        if self.rng.chance(1, 1500) {
            let name = self.rng.one(&["flushall", "flushdb"]);
            if name == "flushdb" {
                // FLUSHDB empties only the selected database, and the
                // pipeline may have selected another: back to the
                // canary's first.
                let select = encode_resp(&[self.name("select"), b"0".to_vec()]);
                p.bytes.extend_from_slice(&select);
                p.requests.push(select);
                p.expects.push(Expect::Reply);
            }
            let mut argv = vec![self.name(name)];
            if self.rng.chance(1, 2) {
                let mode = self.rng.one(&[&b"ASYNC"[..], b"SYNC"]).to_vec();
                argv.push(self.recase(mode));
            }
            let bytes = encode_resp(&argv);
            p.bytes.extend_from_slice(&bytes);
            p.requests.push(bytes);
            p.expects.push(Expect::Flush);
        } else if self.rng.chance(1, 300) {
            let bytes = encode_resp(&[self.name("quit")]);
            p.bytes.extend_from_slice(&bytes);
            p.requests.push(bytes);
            p.expects.push(Expect::Reply);
            p.expects.push(Expect::Closed);
        }
        p
    }

    fn close_inline(&mut self, p: &mut CleanPipeline, inline_open: &mut bool) {
        if *inline_open {
            let (name, echo) = self.sentinel();
            p.bytes.extend_from_slice(&name);
            p.bytes.extend_from_slice(b"\r\n");
            p.expects.push(Expect::Inline(echo));
            *inline_open = false;
        }
    }

    /// `MULTI`, up to five queued commands, then `EXEC` or `DISCARD` (or
    /// rarely nothing closes it but the commands themselves).
    fn transaction(&mut self) -> Vec<Vec<Vec<u8>>> {
        let mut group = vec![vec![self.name("multi")]];
        for _ in 0..self.rng.skewed(5) {
            group.push(self.request(true, false));
        }
        let end = if self.rng.chance(4, 5) {
            "exec"
        } else {
            "discard"
        };
        group.push(vec![self.name(end)]);
        group
    }

    /// With a password set, a clean connection may be unauthenticated (most
    /// are, and `RESET` undoes an `AUTH`), and the server closes one that
    /// sends more than 10 arguments or a bulk string over 16 KiB before
    /// `AUTH`: clean requests then keep within those limits.
    fn fit_before_auth(&self, mut argv: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        if self.password.is_some() {
            argv.truncate(UNAUTHENTICATED_MAX_ARGS);
            for arg in &mut argv {
                arg.truncate(UNAUTHENTICATED_MAX_BULK);
            }
        }
        argv
    }

    /// A request in the line protocol, quoted as `sdssplitargs` reads it;
    /// `None` when it cannot be one (too long for a line: over
    /// [`CLEAN_LINE_MAX`]).
    fn encode_inline(&mut self, argv: &[Vec<u8>]) -> Option<Vec<u8>> {
        let total: usize = argv.iter().map(|a| a.len() * 4 + 3).sum();
        if total > 256 * 1024 {
            return None;
        }
        let mut out = Vec::with_capacity(total);
        for (i, arg) in argv.iter().enumerate() {
            if i > 0 {
                let sep: &[u8] = self.rng.one(&[&b" "[..], b" ", b" ", b"\t", b"  "]);
                out.extend_from_slice(sep);
            }
            let plain = !arg.is_empty()
                && !arg.iter().any(|&b| {
                    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | b'"' | b'\'')
                })
                // A line starting with `*` would be read as RESP.
                && (i != 0 || arg[0] != b'*');
            let single_ok = !arg.iter().any(|&b| matches!(b, b'\'' | b'\\' | b'\n'));
            if plain && self.rng.chance(9, 10) {
                out.extend_from_slice(arg);
            } else if single_ok && self.rng.chance(1, 4) {
                out.push(b'\'');
                out.extend_from_slice(arg);
                out.push(b'\'');
            } else {
                self.double_quote(arg, &mut out);
            }
        }
        // The server closes a connection whose line passes its inline
        // limit (64 KiB by default): a clean request must fit in one.
        let max = if self.password.is_some() {
            UNAUTHENTICATED_MAX_BULK
        } else {
            CLEAN_LINE_MAX
        };
        if out.len() > max {
            return None;
        }
        out.extend_from_slice(if self.rng.chance(1, 2) {
            b"\r\n"
        } else {
            b"\n"
        });
        Some(out)
    }

    fn double_quote(&mut self, arg: &[u8], out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(b'"');
        let hex_all = self.rng.chance(1, 20);
        for &b in arg {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x07 => out.extend_from_slice(b"\\a"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x20..=0x7e if !hex_all => out.push(b),
                _ => {
                    let hex = [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]];
                    out.extend_from_slice(b"\\x");
                    out.extend_from_slice(&hex);
                }
            }
        }
        out.push(b'"');
    }

    /// A dirty pipeline: 1 to 6 requests, most of them mutated.
    fn dirty_pipeline(&mut self) -> Vec<Vec<u8>> {
        let n = self.rng.range(1, 6);
        (0..n)
            .map(|_| {
                for _ in 0..20 {
                    let bytes = if self.rng.chance(3, 4) {
                        self.mutated()
                    } else {
                        let argv = self.request(true, true);
                        if self.rng.chance(1, 2) {
                            self.encode_inline(&argv)
                                .unwrap_or_else(|| encode_resp(&argv))
                        } else {
                            encode_resp(&argv)
                        }
                    };
                    if self.bytes_are_safe(&bytes) {
                        return bytes;
                    }
                }
                b"PING\r\n".to_vec()
            })
            .collect()
    }

    /// One mutated request: garbage, an overlong line, or a valid request
    /// with one to eight mutations.
    fn mutated(&mut self) -> Vec<u8> {
        if self.rng.chance(1, 1500) {
            return self.overlong();
        }
        if self.rng.chance(8, 100) {
            return self.garbage();
        }
        let argv = self.request(true, true);
        let inline = self.rng.chance(2, 5);
        let mut b = if inline {
            self.encode_inline(&argv)
                .unwrap_or_else(|| encode_resp(&argv))
        } else {
            encode_resp(&argv)
        };
        let rounds = if self.rng.chance(1, 10) {
            self.rng.range(4, 8)
        } else {
            self.rng.range(1, 3)
        };
        for _ in 0..rounds {
            self.mutate(&mut b);
        }
        b
    }

    fn mutate(&mut self, b: &mut Vec<u8>) {
        let r = &mut self.rng;
        let at = |r: &mut Rng, b: &Vec<u8>| r.below(b.len() as u64 + 1) as usize;
        match r.below(12) {
            0 if !b.is_empty() => {
                let i = r.below(b.len() as u64) as usize;
                b[i] ^= 1 << r.below(8);
            }
            1 => {
                let i = at(r, b);
                let n = r.range(1, 4) as usize;
                let ins: Vec<u8> = (0..n)
                    .map(|_| *r.pick(b"\r\n*$-09\"'\\ \0\xff:+x"))
                    .collect();
                b.splice(i..i, ins);
            }
            2 if !b.is_empty() => {
                let i = r.below(b.len() as u64) as usize;
                let n = (r.range(1, 8) as usize).min(b.len() - i);
                b.drain(i..i + n);
            }
            3 => {
                let i = at(r, b);
                b.truncate(i);
            }
            4 if !b.is_empty() => {
                let s = r.below(b.len() as u64) as usize;
                let n = (r.range(1, 64) as usize).min(b.len() - s);
                let seg = b[s..s + n].to_vec();
                let i = at(r, b);
                for _ in 0..r.range(1, 3) {
                    b.splice(i..i, seg.iter().copied());
                }
            }
            5 => self.replace_header_number(b),
            6 => {
                let crs: Vec<usize> = (0..b.len()).filter(|&i| b[i] == b'\r').collect();
                if !crs.is_empty() {
                    b.remove(*r.pick(&crs));
                }
            }
            7 if !b.is_empty() => {
                let i = r.below(b.len() as u64) as usize;
                b[i] = r.next() as u8;
            }
            8 => {
                let i = at(r, b);
                let quote: &[u8] = r.one(&[&b"\""[..], b"'", b"\\", b"\\x", b"\\x4", b"\"\"x"]);
                b.splice(i..i, quote.iter().copied());
            }
            9 => {
                let i = at(r, b);
                let token: &[u8] = r.one(&[
                    &b"*"[..],
                    b"$-1\r\n",
                    b"\r\n",
                    b"*3\r\n",
                    b"*1\r\n$4\r\nPING\r\n",
                    b"$999999999\r\n",
                    b"$0\r\n\r\n",
                    b"*-5\r\n",
                    b"*1048577\r\n",
                    b"$536870913\r\n",
                    b"\n",
                ]);
                b.splice(i..i, token.iter().copied());
            }
            10 if b.len() >= 2 => {
                let i = r.below(b.len() as u64 - 1) as usize;
                b.swap(i, i + 1);
            }
            _ => {
                let other = self.request(true, true);
                let other = encode_resp(&other);
                let cut = self.rng.below(other.len() as u64 + 1) as usize;
                let i = self.rng.below(b.len() as u64 + 1) as usize;
                b.truncate(i);
                b.extend_from_slice(&other[cut..]);
            }
        }
    }

    /// Replaces the number of a `*N` or `$N` header with a wrong one.
    fn replace_header_number(&mut self, b: &mut Vec<u8>) {
        let heads: Vec<usize> = (0..b.len())
            .filter(|&i| matches!(b[i], b'*' | b'$') && (i == 0 || b[i - 1] == b'\n'))
            .collect();
        if heads.is_empty() {
            return;
        }
        let h = *self.rng.pick(&heads) + 1;
        let end = (h..b.len()).find(|&i| b[i] == b'\r').unwrap_or(b.len());
        let old: i64 = std::str::from_utf8(&b[h..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let new = match self.rng.below(12) {
            0 => (old + 1).to_string(),
            1 => (old - 1).to_string(),
            2 => (old + self.rng.range(2, 100) as i64).to_string(),
            3 => "-1".into(),
            4 => format!("-{}", self.rng.range(2, 1000)),
            5 => "0".into(),
            6 => self.rng.pick(EDGE_INTS).to_string(),
            7 => "".into(),
            8 => "abc".into(),
            9 => "1048577".into(),
            10 => "536870913".into(),
            _ => " 1".into(),
        };
        b.splice(h..end, new.into_bytes());
    }

    /// Random bytes, or a soup of protocol tokens.
    fn garbage(&mut self) -> Vec<u8> {
        if self.rng.chance(1, 2) {
            let n = self.rng.range(1, 256) as usize;
            return self.rng.bytes(n);
        }
        let mut out = Vec::new();
        for _ in 0..self.rng.range(1, 40) {
            let t: &[u8] = self.rng.one(&[
                &b"*"[..],
                b"$",
                b"\r\n",
                b"-1",
                b"0",
                b"3",
                b"\r",
                b"\n",
                b"GET",
                b"SET",
                b"fz:k1",
                b"\"",
                b"'",
                b"\\x",
                b" ",
                b"PING",
                b"MULTI",
                b"EXEC",
                b"99999999999999999999",
            ]);
            out.extend_from_slice(t);
        }
        out
    }

    /// A line past the server's default `--max-line-bytes`, or a RESP header
    /// longer than Redis accepts; both are protocol errors that close.
    fn overlong(&mut self) -> Vec<u8> {
        match self.rng.below(3) {
            0 => {
                let n = MAX_LINE + self.rng.range(1, 4096) as usize;
                let mut b = b"SET fz:k0 ".to_vec();
                b.resize(n, b'x');
                b.extend_from_slice(b"\r\n");
                b
            }
            1 => {
                let mut b = vec![b'*'];
                b.resize(70_000, b'1');
                b
            }
            _ => {
                let mut b = b"*1\r\n$".to_vec();
                b.resize(70_000, b'9');
                b
            }
        }
    }
}

fn encode_resp(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A connection and the bytes it has received but not yet consumed.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where unconsumed bytes start in `buf`.
    start: usize,
    /// The server closed its side.
    eof: bool,
}

impl Conn {
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            start: 0,
            eof: false,
        })
    }

    /// Writes all of `bytes`. Whenever the socket is full it reads what has
    /// arrived, so a server blocked writing replies never deadlocks a large
    /// pipeline.
    fn send(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        let mut sent = 0;
        while sent < bytes.len() {
            let left = time_left(deadline)?;
            self.stream
                .set_write_timeout(Some(left.min(Duration::from_millis(20))))?;
            match self.stream.write(&bytes[sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if would_block(&e) => {
                    self.fill(Duration::from_millis(1))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads once, waiting at most `wait`; false when nothing came.
    fn fill(&mut self, wait: Duration) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let old = self.buf.len();
        self.buf.resize(old + 64 * 1024, 0);
        let got = self.stream.read(&mut self.buf[old..]);
        self.buf.truncate(old + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(_) => Ok(true),
            Err(e) if would_block(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Forgets consumed bytes; only between replies, so no offset into the
    /// buffer is held across it.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads one whole reply and builds it (small replies only: the check
    /// connection and start-up).
    fn value(&mut self, deadline: Instant) -> Result<Value, String> {
        self.compact();
        loop {
            let mut pos = self.start;
            if let Some(v) = parse_value(&self.buf, &mut pos, 0)? {
                self.start = pos;
                return Ok(v);
            }
            self.wait_for_more(deadline)?;
        }
    }

    /// Waits for more bytes; an error on EOF or past the deadline.
    fn wait_for_more(&mut self, deadline: Instant) -> Result<(), String> {
        let left = time_left(deadline).map_err(|_| {
            format!(
                "no reply within {} s ({} bytes pending)",
                CLEAN_DEADLINE.as_secs(),
                self.buf.len() - self.start
            )
        })?;
        self.fill(left.min(Duration::from_millis(200)))
            .map_err(|e| format!("read failed: {e}"))?;
        if self.eof {
            return Err(format!(
                "the server closed the connection ({} bytes pending: {})",
                self.buf.len() - self.start,
                escape(&self.buf[self.start..], 200)
            ));
        }
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

/// A reply, as far as the check connection and start-up need it.
#[derive(Debug, PartialEq)]
enum Value {
    Status(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
    /// A RESP3 scalar the callers never look into.
    Other,
}

/// The `\r\n`-terminated line at `pos` (without its type byte), and where
/// the next element starts; `None` until it has all arrived.
fn line_at(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, String> {
    let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
        if buf.len() - pos > 1024 * 1024 {
            return Err("a reply line longer than 1 MiB".into());
        }
        return Ok(None);
    };
    let end = pos + nl;
    if end == pos || buf[end - 1] != b'\r' {
        return Err(format!(
            "a reply line not ended by \\r\\n: {}",
            escape(&buf[pos..=end], 120)
        ));
    }
    Ok(Some((&buf[pos + 1..end - 1], end + 1)))
}

/// A RESP integer as servers write them: optional `-`, digits only.
fn reply_int(line: &[u8]) -> Result<i64, String> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    let ok = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    std::str::from_utf8(line)
        .ok()
        .filter(|_| ok)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not a reply integer: {}", escape(line, 80)))
}

/// Parses one whole reply at `pos`; `None` until it has all arrived.
fn parse_value(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, String> {
    if depth > 64 {
        return Err("replies nested over 64 deep".into());
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let kind = buf[*pos];
    let Some((line, next)) = line_at(buf, *pos)? else {
        return Ok(None);
    };
    let line = line.to_vec();
    match kind {
        b'+' => {
            *pos = next;
            Ok(Some(Value::Status(line)))
        }
        b'-' => {
            *pos = next;
            Ok(Some(Value::Error(line)))
        }
        b':' => {
            let n = reply_int(&line)?;
            *pos = next;
            Ok(Some(Value::Int(n)))
        }
        b'_' | b',' | b'#' | b'(' => {
            *pos = next;
            Ok(Some(Value::Other))
        }
        b'$' | b'=' | b'!' => {
            let n = reply_int(&line)?;
            if n < 0 {
                *pos = next;
                return Ok(Some(Value::Nil));
            }
            let end = next + n as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err("a bulk string not followed by \\r\\n".into());
            }
            *pos = end + 2;
            let bytes = buf[next..end].to_vec();
            Ok(Some(if kind == b'!' {
                Value::Error(bytes)
            } else {
                Value::Bulk(bytes)
            }))
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n = reply_int(&line)?;
            if n < 0 {
                *pos = next;
                return Ok(Some(Value::Nil));
            }
            let n = if kind == b'%' { n * 2 } else { n };
            let mut p = next;
            let mut items = Vec::new();
            for _ in 0..n {
                match parse_value(buf, &mut p, depth + 1)? {
                    Some(v) => items.push(v),
                    None => return Ok(None),
                }
            }
            *pos = p;
            Ok(Some(Value::Array(items)))
        }
        other => Err(format!("unknown reply type byte 0x{other:02x}")),
    }
}

/// Walks RESP2 and RESP3 replies as they arrive, one element at a time,
/// checking their framing without building them, so a reply of many
/// megabytes costs one pass.
#[derive(Default)]
struct ReplyScanner {
    /// Elements still due in each open aggregate, innermost last.
    open: Vec<u64>,
    /// The type byte of the reply being walked.
    top: u8,
    /// The first line of that reply, cut short (enough to tell `+OK`).
    top_line: Vec<u8>,
}

impl ReplyScanner {
    /// Advances `pos` past whole elements; returns the finished reply's type
    /// byte and first line, or `None` when more bytes are needed (the walk
    /// resumes where it stopped).
    fn next(&mut self, buf: &[u8], pos: &mut usize) -> Result<Option<(u8, Vec<u8>)>, String> {
        loop {
            if *pos >= buf.len() {
                return Ok(None);
            }
            let kind = buf[*pos];
            let Some((line, mut next)) = line_at(buf, *pos)? else {
                return Ok(None);
            };
            let mut children = 0u64;
            match kind {
                b'+' | b'-' => {}
                b':' | b'(' => {
                    reply_int(line)?;
                }
                b',' if !line.is_empty() => {}
                b'#' if line == b"t" || line == b"f" => {}
                b'_' if line.is_empty() => {}
                b'$' | b'=' | b'!' => {
                    let n = reply_int(line)?;
                    if n < -1 || (n == -1 && kind != b'$') {
                        return Err(format!("bad bulk length {n}"));
                    }
                    if n >= 0 {
                        let end = next + n as usize;
                        if buf.len() < end + 2 {
                            return Ok(None);
                        }
                        if &buf[end..end + 2] != b"\r\n" {
                            return Err(format!(
                                "a {n}-byte bulk string not followed by \\r\\n: {}",
                                escape(&buf[*pos..(end + 2).min(*pos + 200)], 200)
                            ));
                        }
                        if kind == b'=' && (n < 4 || buf[next + 3] != b':') {
                            return Err("a verbatim string without its format".into());
                        }
                        next = end + 2;
                    }
                }
                b'*' | b'~' | b'%' | b'|' | b'>' => {
                    let n = reply_int(line)?;
                    if n < -1 || (n == -1 && kind != b'*') || n > 100_000_000 {
                        return Err(format!("bad aggregate length {n}"));
                    }
                    let n = n.max(0) as u64;
                    children = match kind {
                        b'%' => n * 2,
                        // Attributes come before the element they describe.
                        b'|' => n * 2 + 1,
                        _ => n,
                    };
                }
                other => {
                    return Err(format!(
                        "unknown or malformed reply element 0x{other:02x}: {}",
                        escape(&buf[*pos..next], 120)
                    ));
                }
            }
            if self.open.is_empty() {
                self.top = kind;
                self.top_line = line[..line.len().min(64)].to_vec();
            }
            *pos = next;
            if children > 0 {
                self.open.push(children);
                continue;
            }
            // One element is done: close every aggregate it completes.
            loop {
                match self.open.last_mut() {
                    None => return Ok(Some((self.top, std::mem::take(&mut self.top_line)))),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }
}

/// Error replies among the replies to inline requests. A connection that
/// has sent a RESP request or a `HELLO` gets them in RESP: when the bytes
/// walk as whole RESP replies, the errors among those; otherwise they are
/// the human dialect's, lines that start, after any array numbering, with
/// `(error)`.
fn inline_errors(replies: &[u8]) -> u64 {
    let mut scanner = ReplyScanner::default();
    let mut pos = 0;
    let mut errors = 0;
    while let Ok(Some((kind, _))) = scanner.next(replies, &mut pos) {
        errors += u64::from(matches!(kind, b'-' | b'!'));
        if pos == replies.len() {
            return errors;
        }
    }
    replies
        .split(|&b| b == b'\n')
        .filter(|line| {
            let start = line
                .iter()
                .position(|&b| !matches!(b, b' ' | b'0'..=b'9' | b')'))
                .unwrap_or(line.len());
            line[start..].starts_with(b"(error) ")
        })
        .count() as u64
}

/// Bytes shown as an escaped string, cut at `max` bytes.
fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push_str(&format!("...(+{} bytes)", bytes.len() - max));
    }
    s
}

/// `VmRSS` and `Threads` of a process, from `/proc/PID/status`; `None` once
/// it is gone.
fn process_status(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    if text
        .lines()
        .any(|l| l.starts_with("State:") && l.contains("zombie"))
    {
        return None;
    }
    Some((field("VmRSS:"), field("Threads:")))
}

/// Asks the server which commands it has, with arity and key positions.
fn discover(addr: SocketAddr, password: Option<&[u8]>) -> Result<Vec<CommandInfo>, String> {
    let mut conn = Conn::open(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let deadline = Instant::now() + CLEAN_DEADLINE;
    if let Some(p) = password {
        authenticate(&mut conn, p, deadline)?;
    }
    let send = |conn: &mut Conn, argv: &[Vec<u8>]| {
        conn.send(&encode_resp(argv), deadline)
            .map_err(|e| format!("write failed: {e}"))
    };
    send(&mut conn, &[b"COMMAND".to_vec(), b"LIST".to_vec()])?;
    let names: Vec<String> = match conn.value(deadline)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Bulk(b) | Value::Status(b) => {
                    Some(String::from_utf8_lossy(&b).to_ascii_lowercase())
                }
                _ => None,
            })
            .collect(),
        other => return Err(format!("COMMAND LIST replied {other:?}")),
    };
    let mut argv = vec![b"COMMAND".to_vec(), b"INFO".to_vec()];
    argv.extend(names.iter().map(|n| n.clone().into_bytes()));
    send(&mut conn, &argv)?;
    let infos = match conn.value(deadline)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let int = |items: &[Value], i: usize, default: i64| match items.get(i) {
        Some(Value::Int(n)) => *n,
        _ => default,
    };
    Ok(names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let row: &[Value] = match infos.get(i) {
                Some(Value::Array(row)) => row,
                _ => &[],
            };
            CommandInfo {
                name: name.clone(),
                arity: int(row, 1, -1),
                first_key: int(row, 3, 1),
                last_key: int(row, 4, 1),
                key_step: int(row, 5, 1),
            }
        })
        .collect())
}

fn authenticate(conn: &mut Conn, password: &[u8], deadline: Instant) -> Result<(), String> {
    conn.send(
        &encode_resp(&[b"AUTH".to_vec(), password.to_vec()]),
        deadline,
    )
    .map_err(|e| format!("write failed: {e}"))?;
    match conn.value(deadline)? {
        Value::Status(s) if s == b"OK" => Ok(()),
        other => Err(format!("AUTH replied {other:?}")),
    }
}

/// What the run counted.
#[derive(Default)]
struct Counts {
    requests: u64,
    batches: u64,
    pipelines: u64,
    reconnects: u64,
    errors_replied: u64,
    mutated: u64,
    server_closes: u64,
    dirty_stalls: u64,
    max_rss_kb: u64,
    max_threads: u64,
    /// FNV-1a of every request byte sent: equal for two runs of one seed
    /// and request budget, which shows a replay sends the same traffic.
    stream_hash: u64,
}

/// The run: connections, the canary, the counts, the recent requests.
struct Fuzzer {
    opts: Options,
    addr: SocketAddr,
    generator: Generator,
    /// Connection-level choices (which clean connections authenticate), on
    /// a stream of their own.
    conn_rng: Rng,
    canary_rng: Rng,
    canary: Vec<u8>,
    /// A `FLUSHALL` was answered `+OK` since the last check.
    flushed: bool,
    clean: Option<Conn>,
    /// Pipelines the clean connection serves before it is replaced.
    clean_left: u64,
    dirty: Option<Conn>,
    check: Conn,
    recent: VecDeque<(&'static str, Vec<u8>)>,
    counts: Counts,
    started: Instant,
    log_offset: u64,
}

impl Fuzzer {
    fn start(opts: Options) -> Result<Fuzzer, String> {
        let addr = opts
            .addr
            .to_socket_addrs()
            .map_err(|e| format!("--addr {}: {e}", opts.addr))?
            .next()
            .ok_or_else(|| format!("--addr {}: no address", opts.addr))?;
        let commands = discover(addr, opts.password.as_deref())?;
        let mut canary_rng = Rng::new(opts.seed, 3);
        let canary = canary_rng.bytes(32);
        let mut check = Conn::open(addr).map_err(|e| format!("cannot connect: {e}"))?;
        let deadline = Instant::now() + CLEAN_DEADLINE;
        if let Some(p) = &opts.password {
            authenticate(&mut check, p, deadline)?;
        }
        let generator = Generator::new(opts.seed, &commands, opts.password.clone());
        println!(
            "fuzz seed={} addr={addr} requests={} seconds={} batch={} max_rss_mb={} commands={} excluded={}",
            opts.seed,
            opts.requests,
            opts.seconds,
            opts.batch,
            opts.max_rss_mb,
            generator.commands.len(),
            commands.len() - generator.commands.len(),
        );
        let mut f = Fuzzer {
            addr,
            generator,
            conn_rng: Rng::new(opts.seed, 2),
            canary_rng,
            canary,
            flushed: false,
            clean: None,
            clean_left: 0,
            dirty: None,
            check,
            recent: VecDeque::new(),
            counts: Counts {
                stream_hash: 0xcbf2_9ce4_8422_2325,
                ..Counts::default()
            },
            started: Instant::now(),
            log_offset: 0,
            opts,
        };
        f.store_canary()?;
        Ok(f)
    }

    fn store_canary(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + CLEAN_DEADLINE;
        let argv = [b"SET".to_vec(), CANARY_KEY.to_vec(), self.canary.clone()];
        self.check
            .send(&encode_resp(&argv), deadline)
            .map_err(|e| format!("check connection: write failed: {e}"))?;
        match self.check.value(deadline)? {
            Value::Status(s) if s == b"OK" => Ok(()),
            other => Err(format!("SET of the canary replied {other:?}")),
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let budget = Duration::from_secs_f64(self.opts.seconds.max(0.0));
        let mut since_check = 0;
        let mut last_progress = Instant::now();
        while self.counts.requests < self.opts.requests && self.started.elapsed() < budget {
            let before = self.counts.requests;
            if self.generator.rng.chance(7, 10) {
                self.clean_pipeline()?;
            } else {
                self.dirty_pipeline()?;
            }
            self.counts.pipelines += 1;
            since_check += self.counts.requests - before;
            if since_check >= self.opts.batch {
                since_check = 0;
                self.check()?;
            }
            if last_progress.elapsed() >= Duration::from_secs(10) {
                last_progress = Instant::now();
                eprintln!(
                    "fuzz: {} requests, {} batches, {:.0} s, rss {:.1} MB",
                    self.counts.requests,
                    self.counts.batches,
                    self.started.elapsed().as_secs_f64(),
                    self.counts.max_rss_kb as f64 / 1024.0
                );
            }
        }
        if since_check > 0 || self.counts.batches == 0 {
            self.check()?;
        }
        Ok(())
    }

    fn remember(&mut self, label: &'static str, bytes: &[u8]) {
        let mut h = self.counts.stream_hash;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.counts.stream_hash = h;
        if self.recent.len() == RECENT_KEPT {
            self.recent.pop_front();
        }
        let kept = bytes.len().min(RECENT_SHOWN + 1);
        let mut copy = bytes[..kept].to_vec();
        if bytes.len() > kept {
            // Keep the true length visible in the report.
            copy.extend_from_slice(format!("...(+{} bytes)", bytes.len() - kept).as_bytes());
        }
        self.recent.push_back((label, copy));
    }

    /// The clean connection, opened (and maybe authenticated) on first use
    /// and replaced every few hundred pipelines.
    fn clean_conn(&mut self) -> Result<Conn, String> {
        if self.clean_left == 0 {
            self.clean = None;
        }
        if let Some(c) = self.clean.take() {
            self.clean_left -= 1;
            return Ok(c);
        }
        let mut c = self.connect()?;
        self.clean_left = self.conn_rng.range(20, 400);
        if let Some(p) = self.opts.password.clone() {
            if self.conn_rng.chance(1, 4) {
                authenticate(&mut c, &p, Instant::now() + CLEAN_DEADLINE)
                    .map_err(|e| format!("clean connection: {e}"))?;
            }
        }
        Ok(c)
    }

    fn connect(&mut self) -> Result<Conn, String> {
        if self.counts.pipelines > 0 {
            self.counts.reconnects += 1;
        }
        let mut last = String::new();
        // A few tries: a refused connect on a busy loopback is not yet a
        // dead server; the check says whether it is.
        for _ in 0..3 {
            match Conn::open(self.addr) {
                Ok(c) => return Ok(c),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("cannot connect to {}: {last}", self.addr))
    }

    fn clean_pipeline(&mut self) -> Result<(), String> {
        let p = self.generator.clean_pipeline();
        for r in &p.requests {
            self.remember("clean", r);
        }
        self.counts.requests += p.requests.len() as u64;
        let mut conn = self.clean_conn()?;
        let deadline = Instant::now() + CLEAN_DEADLINE;
        conn.send(&p.bytes, deadline)
            .map_err(|e| format!("clean connection: write failed: {e}"))?;
        let mut keep = true;
        for expect in &p.expects {
            conn.compact();
            match expect {
                Expect::Reply | Expect::Flush => {
                    let (kind, line) = read_reply(&mut conn, deadline)
                        .map_err(|e| format!("clean connection: {e}"))?;
                    if matches!(kind, b'-' | b'!') {
                        self.counts.errors_replied += 1;
                    }
                    if matches!(expect, Expect::Flush) && kind == b'+' && line == b"OK" {
                        self.flushed = true;
                    }
                }
                Expect::Inline(echo) => {
                    let errors = read_inline(&mut conn, echo, deadline)
                        .map_err(|e| format!("clean connection (inline replies): {e}"))?;
                    self.counts.errors_replied += errors;
                }
                Expect::Closed => {
                    while !conn.eof {
                        conn.wait_for_more(deadline).or_else(|e| {
                            if conn.eof {
                                Ok(())
                            } else {
                                Err(format!("clean connection after QUIT: {e}"))
                            }
                        })?;
                    }
                    if conn.buf.len() > conn.start {
                        return Err(format!(
                            "bytes after QUIT's reply: {}",
                            escape(&conn.buf[conn.start..], 200)
                        ));
                    }
                    keep = false;
                }
            }
        }
        if keep {
            self.clean = Some(conn);
        } else {
            self.clean_left = 0;
        }
        Ok(())
    }

    fn dirty_pipeline(&mut self) -> Result<(), String> {
        let requests = self.generator.dirty_pipeline();
        let (name, echo) = self.generator.sentinel();
        let half_close = self.generator.rng.chance(3, 20);
        let mut bytes = Vec::new();
        for r in &requests {
            self.remember("dirty", r);
            bytes.extend_from_slice(r);
        }
        self.counts.requests += requests.len() as u64;
        self.counts.mutated += requests.len() as u64;
        let mut conn = match self.dirty.take() {
            Some(c) => c,
            None => self.connect()?,
        };
        // What came before the last sentinel is of no further use.
        conn.buf.clear();
        conn.start = 0;
        let deadline = Instant::now() + EOF_DEADLINE;
        if !half_close {
            // Ends a line left open, then asks for the sentinel.
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&encode_resp(&[name]));
        }
        if conn.send(&bytes, deadline).is_err() {
            // The server closed it mid-write: a protocol error did that.
            self.counts.server_closes += 1;
            return Ok(());
        }
        if !half_close {
            let mut searched = 0;
            loop {
                if find(&conn.buf[searched..], &echo).is_some() {
                    self.dirty = Some(conn);
                    return Ok(());
                }
                searched = conn.buf.len().saturating_sub(echo.len());
                match conn.fill(DIRTY_IDLE) {
                    Ok(true) => continue,
                    Ok(false) if conn.eof => {
                        self.counts.server_closes += 1;
                        return Ok(());
                    }
                    Ok(false) => break,
                    Err(_) => {
                        self.counts.server_closes += 1;
                        return Ok(());
                    }
                }
            }
            // A mutation swallowed the sentinel (the server waits for the
            // rest of a bulk string or line): finish with EOF instead.
            self.counts.dirty_stalls += 1;
        }
        let _ = conn.stream.shutdown(Shutdown::Write);
        while !conn.eof {
            conn.buf.clear();
            conn.start = 0;
            match conn.fill(Duration::from_millis(200)) {
                Ok(_) => {}
                Err(_) => return Ok(()),
            }
            if Instant::now() >= deadline && !conn.eof {
                return Err(format!(
                    "a half-closed dirty connection was not closed by the server within {} s",
                    EOF_DEADLINE.as_secs()
                ));
            }
        }
        Ok(())
    }

    /// The check after a batch: alive, canary intact, RSS bounded, no panic
    /// in the log.
    fn check(&mut self) -> Result<(), String> {
        self.counts.batches += 1;
        let deadline = Instant::now() + CLEAN_DEADLINE;
        let mut bytes = encode_resp(&[b"PING".to_vec()]);
        bytes.extend(encode_resp(&[b"GET".to_vec(), CANARY_KEY.to_vec()]));
        self.check
            .send(&bytes, deadline)
            .map_err(|e| format!("check connection: write failed: {e}"))?;
        let pong = self
            .check
            .value(deadline)
            .map_err(|e| format!("check connection: PING: {e}"))?;
        if pong != Value::Status(b"PONG".to_vec()) {
            return Err(format!("PING replied {pong:?}"));
        }
        let got = self
            .check
            .value(deadline)
            .map_err(|e| format!("check connection: GET canary: {e}"))?;
        if self.flushed {
            if got != Value::Nil {
                return Err(format!(
                    "after FLUSHALL replied +OK, the canary still reads {got:?}"
                ));
            }
            self.flushed = false;
            self.canary = self.canary_rng.bytes(32);
            self.store_canary()?;
        } else if got != Value::Bulk(self.canary.clone()) {
            return Err(format!(
                "the canary changed: expected \"{}\", got {got:?}",
                escape(&self.canary, 64)
            ));
        }
        if let Some(pid) = self.opts.pid {
            let Some((rss_kb, threads)) = process_status(pid) else {
                return Err(format!("the server process {pid} is gone"));
            };
            self.counts.max_rss_kb = self.counts.max_rss_kb.max(rss_kb);
            self.counts.max_threads = self.counts.max_threads.max(threads);
            if rss_kb > self.opts.max_rss_mb * 1024 {
                return Err(format!(
                    "server RSS {:.1} MB is over --max-rss-mb {}",
                    rss_kb as f64 / 1024.0,
                    self.opts.max_rss_mb
                ));
            }
        }
        self.scan_log()
    }

    /// Looks for a panic in what the server logged since the last check.
    fn scan_log(&mut self) -> Result<(), String> {
        let Some(path) = &self.opts.server_log else {
            return Ok(());
        };
        let Ok(mut file) = fs::File::open(path) else {
            return Ok(());
        };
        // Back up a little so a line split across two checks is still seen.
        let from = self.log_offset.saturating_sub(64);
        let mut text = Vec::new();
        if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut text).is_err() {
            return Ok(());
        }
        self.log_offset = from + text.len() as u64;
        if let Some(at) = find(&text, b"panicked at") {
            let start = text[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let end = (at + 600).min(text.len());
            return Err(format!(
                "the server log shows a panic: {}",
                String::from_utf8_lossy(&text[start..end])
            ));
        }
        Ok(())
    }

    fn fail(&self, reason: &str) -> ! {
        let c = &self.counts;
        println!("FAIL: {reason}");
        println!(
            "seed={} batch={} requests={} (replay: SEED={} bash scripts/fuzz.sh {} {})",
            self.opts.seed,
            c.batches,
            c.requests,
            self.opts.seed,
            self.opts.seconds.ceil() as u64,
            c.requests
        );
        println!("last requests sent, oldest first:");
        for (label, bytes) in &self.recent {
            println!("  {label} \"{}\"", escape(bytes, RECENT_SHOWN + 32));
        }
        println!("{}", self.summary());
        process::exit(1);
    }

    fn summary(&self) -> String {
        let c = &self.counts;
        format!(
            "seed={} requests={} batches={} reconnects={} errors_replied={} max_rss_mb={:.1} elapsed_s={:.1} pipelines={} mutated={} server_closes={} dirty_stalls={} max_threads={} stream={:016x}",
            self.opts.seed,
            c.requests,
            c.batches,
            c.reconnects,
            c.errors_replied,
            c.max_rss_kb as f64 / 1024.0,
            self.started.elapsed().as_secs_f64(),
            c.pipelines,
            c.mutated,
            c.server_closes,
            c.dirty_stalls,
            c.max_threads,
            c.stream_hash
        )
    }
}

/// Reads one whole RESP reply on a clean connection.
fn read_reply(conn: &mut Conn, deadline: Instant) -> Result<(u8, Vec<u8>), String> {
    let mut scanner = ReplyScanner::default();
    loop {
        let mut pos = conn.start;
        let found = scanner.next(&conn.buf, &mut pos);
        conn.start = pos;
        match found {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => conn.wait_for_more(deadline)?,
            Err(e) => return Err(format!("malformed reply: {e}")),
        }
    }
}

/// Reads inline replies up to the sentinel's error line; returns how many
/// error replies came before it.
fn read_inline(conn: &mut Conn, echo: &[u8], deadline: Instant) -> Result<u64, String> {
    let mut searched = conn.start;
    loop {
        if let Some(i) = find(&conn.buf[searched..], echo) {
            let at = searched + i;
            let line_start = conn.buf[conn.start..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(conn.start, |j| conn.start + j + 1);
            let Some(nl) = conn.buf[at..].iter().position(|&b| b == b'\n') else {
                conn.wait_for_more(deadline)?;
                continue;
            };
            let errors = inline_errors(&conn.buf[conn.start..line_start]);
            conn.start = at + nl + 1;
            return Ok(errors);
        }
        searched = conn.buf.len().saturating_sub(echo.len()).max(conn.start);
        conn.wait_for_more(deadline)?;
    }
}
