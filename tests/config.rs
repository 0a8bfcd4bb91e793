//! Runtime configuration (issue 9), against the real binary over TCP: one
//! table of parameters read by `CONFIG GET` (globs, any case, RESP2 and
//! RESP3 shapes) and changed by `CONFIG SET` (all pairs or none, Redis's
//! error texts); `CONFIG RESETSTAT`; changes that take effect at once
//! (`timeout`, `requirepass`, `maxclients`, `loglevel`, `save`,
//! `stop-writes-on-bgsave-error`); a config file in redis.conf syntax that
//! flags override; and `CONFIG REWRITE`, which writes the settings back into
//! that file keeping its comments and order.
//!
//! The error texts were checked against a real `redis-server` 7.0.15. Every
//! wait polls until a generous deadline; the two sleeps are the quiet
//! periods in which something must *not* happen.

mod common;

use common::{
    Client, DEADLINE, Resp, Server, binary, encode, info_field, info_fields,
    start_expecting_failure, wait_for,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Every parameter in the table, by its Redis name.
const PARAMETERS: &[&str] = &[
    "port",
    "bind",
    "protected-mode",
    "requirepass",
    "maxclients",
    "timeout",
    "loglevel",
    "save",
    "stop-writes-on-bgsave-error",
    "dir",
    "dbfilename",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "max-line-bytes",
    "appendonly",
    "appendfsync",
    "appendfilename",
    "appenddirname",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "databases",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "list-max-listpack-size",
    "list-compress-depth",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    // Redis's own aliases, which its CONFIG GET * lists too.
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "list-max-ziplist-size",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
];

/// `CONFIG SET` followed by `args`.
fn set(c: &mut Client, args: &[&str]) -> Resp {
    let mut argv = vec!["CONFIG", "SET"];
    argv.extend_from_slice(args);
    c.call(&argv)
}

/// The value of the one parameter `pattern` names.
fn get(c: &mut Client, pattern: &str) -> String {
    let reply = c.call(&["CONFIG", "GET", pattern]);
    let pairs = reply.pairs();
    assert_eq!(pairs.len(), 1, "CONFIG GET {pattern}: {reply:?}");
    pairs[0].1.text()
}

/// `CONFIG GET` of `patterns` as name -> value.
fn get_map(c: &mut Client, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut argv = vec!["CONFIG", "GET"];
    argv.extend_from_slice(patterns);
    let reply = c.call(&argv);
    let pairs = reply.pairs();
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.text(), v.text())).collect();
    assert_eq!(map.len(), pairs.len(), "a name twice: {reply:?}");
    map
}

/// Redis's error for a `CONFIG SET` value or parameter that cannot be set.
fn failed(name: &str, why: &str) -> Resp {
    Resp::err(&format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

fn unknown(name: &str) -> Resp {
    Resp::err(&format!(
        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
    ))
}

fn stat(c: &mut Client, field: &str) -> u64 {
    info_field(c, "stats", field)
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number"))
}

fn persistence(c: &mut Client, field: &str) -> String {
    info_field(c, "persistence", field)
}

/// A config file in a temporary directory of its own.
struct ConfFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConfFile {
    fn new(text: &str) -> ConfFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gocache.conf");
        std::fs::write(&path, text).expect("write the config file");
        ConfFile { dir, path }
    }

    /// Starts `gocache <this file> --port 0 --dir <temp> <extra>`: the file
    /// must come first, so a bash wrapper puts it before the helper's flags
    /// (`$0` is the binary the helper appends, `$@` the rest).
    fn start(&self, extra: &[&str]) -> Server {
        let script = format!("exec \"$0\" '{}' \"$@\"", self.path.display());
        Server::start_through(&["bash", "-c", &script], extra)
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).expect("read the config file")
    }
}

/// A server started from a file holding `text`, followed by `extra`.
fn start_from(text: &str, extra: &[&str]) -> (ConfFile, Server) {
    let conf = ConfFile::new(text);
    let server = conf.start(extra);
    (conf, server)
}

/// Runs `gocache <args>` expecting it to exit at once; returns its output.
/// Killed (by its pid) and failed after [`DEADLINE`] if it serves instead.
fn run_to_exit(args: &[&std::ffi::OsStr]) -> Output {
    let child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gocache");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(output) => output.expect("wait for gocache"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("gocache did not exit");
        }
    }
}

// ---------------------------------------------------------------------------
// CONFIG GET

#[test]
fn config_get_star_lists_every_parameter_once_with_its_default() {
    let server = Server::start();
    let mut c = server.client();
    let all = get_map(&mut c, &["*"]);
    let names: BTreeSet<&str> = all.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = PARAMETERS.iter().copied().collect();
    assert_eq!(
        names, expected,
        "gocache's own aliases are not listed; Redis's are"
    );
    let dir = std::fs::canonicalize(server.dir()).unwrap();
    let port = server.addr.port().to_string();
    let dir = dir.display().to_string();
    for (name, value) in [
        ("port", port.as_str()),
        ("bind", "127.0.0.1"),
        ("protected-mode", "yes"),
        ("requirepass", ""),
        ("timeout", "0"),
        ("loglevel", "notice"),
        ("save", "60 1"),
        ("stop-writes-on-bgsave-error", "yes"),
        ("dir", dir.as_str()),
        ("dbfilename", "dump.gcs"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("max-line-bytes", "65536"),
        ("appendonly", "no"),
        ("appendfsync", "everysec"),
        ("appendfilename", "appendonly.aof"),
        ("appenddirname", "appendonlydir"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "67108864"),
        ("aof-load-truncated", "yes"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("databases", "16"),
        ("hash-max-listpack-entries", "512"),
        ("hash-max-listpack-value", "64"),
        ("set-max-intset-entries", "512"),
        ("list-max-listpack-size", "-2"),
        ("list-compress-depth", "0"),
        ("zset-max-listpack-entries", "128"),
        ("zset-max-listpack-value", "64"),
        ("zset-max-ziplist-entries", "128"),
        ("zset-max-ziplist-value", "64"),
    ] {
        assert_eq!(all[name], value, "{name}");
    }
    // 10000 unless the open-file limit cannot serve that many.
    let max: u64 = all["maxclients"].parse().unwrap();
    assert!((1..=10_000).contains(&max), "maxclients {max}");
}

#[test]
fn config_get_takes_several_case_insensitive_glob_patterns_and_names_each_parameter_once() {
    let server = Server::start();
    let mut c = server.client();
    // RESP2: a flat array of name, value.
    c.send(encode(&["CONFIG", "GET", "timeout"]));
    c.expect(b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    c.send(encode(&["CONFIG", "GET", "nosuch*"]));
    c.expect(b"*0\r\n");

    let every = get_map(&mut c, &["*"]).len();
    assert_eq!(every, PARAMETERS.len());
    // Overlapping patterns still name each parameter once.
    assert_eq!(
        get_map(&mut c, &["*", "max*", "timeout", "TIMEOUT"]).len(),
        every
    );
    let max = get_map(&mut c, &["*max*"]);
    let names: BTreeSet<&str> = max.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "hash-max-listpack-entries",
            "hash-max-listpack-value",
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value",
            "list-max-listpack-size",
            "list-max-ziplist-size",
            "max-line-bytes",
            "maxclients",
            "maxmemory",
            "maxmemory-policy",
            "maxmemory-samples",
            "proto-max-bulk-len",
            "set-max-intset-entries",
            "zset-max-listpack-entries",
            "zset-max-listpack-value",
            "zset-max-ziplist-entries",
            "zset-max-ziplist-value",
        ])
    );
    // Case-insensitive. A name given exactly is echoed as spelled (as Redis
    // does); one matched by a glob is shown as the table spells it.
    assert_eq!(
        c.call(&["CONFIG", "GET", "LOGLEVEL"]),
        Resp::Array(vec![Resp::bulk("LOGLEVEL"), Resp::bulk("notice")])
    );
    assert_eq!(
        get_map(&mut c, &["Time*", "LogLevel", "nosuch", "d?tabases"]),
        BTreeMap::from([
            ("timeout".to_string(), "0".to_string()),
            ("LogLevel".to_string(), "notice".to_string()),
            ("databases".to_string(), "16".to_string()),
        ])
    );
    // The first spelling wins when two patterns name the same parameter.
    assert_eq!(
        get_map(&mut c, &["timeout", "TIMEOUT"]),
        BTreeMap::from([("timeout".to_string(), "0".to_string())])
    );
    assert_eq!(
        get_map(&mut c, &["TIMEOUT", "timeout"]),
        BTreeMap::from([("TIMEOUT".to_string(), "0".to_string())])
    );
    // gocache's alias finds the parameter under its Redis name.
    let max_clients = get(&mut c, "maxclients");
    assert_eq!(
        get_map(&mut c, &["max-clients"]),
        BTreeMap::from([("maxclients".to_string(), max_clients)])
    );

    // RESP3: a map.
    let hello = c.call(&["HELLO", "3"]);
    assert!(matches!(hello, Resp::Map(_)), "{hello:?}");
    c.send(encode(&["CONFIG", "GET", "timeout"]));
    c.expect(b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    c.send(encode(&["CONFIG", "GET", "nosuch"]));
    c.expect(b"%0\r\n");
    let all3 = c.call(&["CONFIG", "GET", "*", "max*"]);
    assert!(matches!(all3, Resp::Map(_)), "{all3:?}");
    assert_eq!(all3.pairs().len(), every);
}

// ---------------------------------------------------------------------------
// CONFIG SET

#[test]
fn config_set_applies_every_pair_or_none() {
    let server = Server::start();
    let mut c = server.client();
    let max_clients = get(&mut c, "maxclients");
    assert_eq!(
        set(&mut c, &["timeout", "5", "loglevel", "loud"]),
        failed(
            "loglevel",
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        )
    );
    assert_eq!(get(&mut c, "timeout"), "0", "nothing applied");
    assert_eq!(get(&mut c, "loglevel"), "notice");
    // A bad value after a good one undoes the good one too.
    assert_eq!(
        set(&mut c, &["maxclients", "5", "timeout", "-1"]),
        failed(
            "timeout",
            "argument must be between 0 and 2147483647 inclusive"
        )
    );
    assert_eq!(get(&mut c, "maxclients"), max_clients);
    assert_eq!(
        set(&mut c, &["timeout", "5", "port", "1"]),
        failed("port", "can't set immutable config")
    );
    assert_eq!(
        set(&mut c, &["timeout", "5", "nosuch", "1"]),
        unknown("nosuch")
    );
    assert_eq!(
        set(&mut c, &["timeout", "5", "timeout", "6"]),
        failed("timeout", "duplicate parameter")
    );
    assert_eq!(get(&mut c, "timeout"), "0");

    // Good pairs all apply; names and choices in any case.
    assert_eq!(
        set(&mut c, &["timeout", "5", "loglevel", "warning"]),
        Resp::ok()
    );
    assert_eq!(get(&mut c, "timeout"), "5");
    assert_eq!(get(&mut c, "loglevel"), "warning");
    assert_eq!(
        set(
            &mut c,
            &["TIMEOUT", "6", "LogLevel", "NOTICE", "Max-Clients", "77"]
        ),
        Resp::ok()
    );
    assert_eq!(
        get_map(&mut c, &["timeout", "loglevel", "maxclients"]),
        BTreeMap::from([
            ("timeout".to_string(), "6".to_string()),
            ("loglevel".to_string(), "notice".to_string()),
            ("maxclients".to_string(), "77".to_string()),
        ])
    );

    // The line protocol reaches the same command (on a connection that has
    // sent only lines, so its replies are human ones).
    let mut person = server.client();
    assert_eq!(
        person.line("CONFIG SET timeout 7 loglevel loud"),
        "(error) ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\n"
    );
    assert_eq!(person.line("CONFIG SET timeout 7 loglevel verbose"), "OK\n");
    assert_eq!(
        person.line("CONFIG GET timeout"),
        "1) \"timeout\"\n2) \"7\"\n"
    );
}

#[test]
fn config_set_errors_have_redis_texts() {
    let server = Server::start();
    let mut c = server.client();
    let before = get_map(&mut c, &["*"]);

    assert_eq!(set(&mut c, &["nosuch", "1"]), unknown("nosuch"));
    assert_eq!(set(&mut c, &["NoSuch", "1"]), unknown("NoSuch"));
    for name in ["port", "bind", "dir", "dbfilename", "databases"] {
        assert_eq!(
            set(&mut c, &[name, "1"]),
            failed(name, "can't set immutable config"),
            "{name}"
        );
    }
    // What Redis may change but gocache does not support yet takes only its
    // one value.
    assert_eq!(set(&mut c, &["appendonly", "no"]), Resp::ok());
    // The memory limit's parameters, with Redis's texts.
    assert_eq!(
        set(&mut c, &["maxmemory-policy", "lru"]),
        failed(
            "maxmemory-policy",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        )
    );
    assert_eq!(
        set(&mut c, &["maxmemory-samples", "0"]),
        failed(
            "maxmemory-samples",
            "argument must be between 1 and 2147483647 inclusive"
        )
    );
    assert_eq!(
        set(&mut c, &["maxmemory", "12x"]),
        failed("maxmemory", "argument must be a memory value")
    );
    assert_eq!(
        set(&mut c, &["appendfsync", "sometimes"]),
        failed(
            "appendfsync",
            "argument(s) must be one of the following: always, everysec, no"
        )
    );
    // Immutable and duplicate name the parameter as the client spelled it.
    assert_eq!(
        set(&mut c, &["PORT", "1"]),
        failed("PORT", "can't set immutable config")
    );
    assert_eq!(
        set(&mut c, &["timeout", "1", "TIMEOUT", "2"]),
        failed("TIMEOUT", "duplicate parameter")
    );
    // A value error names the parameter as the table spells it.
    assert_eq!(
        set(&mut c, &["TIMEOUT", "-1"]),
        failed(
            "timeout",
            "argument must be between 0 and 2147483647 inclusive"
        )
    );
    let bad_bool = "argument must be 'yes' or 'no'";
    assert_eq!(
        set(&mut c, &["protected-mode", "maybe"]),
        failed("protected-mode", bad_bool)
    );
    assert_eq!(
        set(&mut c, &["stop-writes-on-bgsave-error", "1"]),
        failed("stop-writes-on-bgsave-error", bad_bool)
    );
    let not_integer = "argument couldn't be parsed into an integer";
    for value in ["x", "007", "5.0", " 5", ""] {
        assert_eq!(
            set(&mut c, &["timeout", value]),
            failed("timeout", not_integer),
            "{value:?}"
        );
    }
    assert_eq!(
        set(&mut c, &["maxclients", "x"]),
        failed("maxclients", not_integer)
    );
    assert_eq!(
        set(&mut c, &["maxclients", "0"]),
        failed(
            "maxclients",
            "argument must be between 1 and 4294967295 inclusive"
        )
    );
    for value in ["0 1", "60", "x 1", "60 1 x", "60 -1"] {
        assert_eq!(
            set(&mut c, &["save", value]),
            failed("save", "Invalid save parameters"),
            "{value:?}"
        );
    }
    assert_eq!(
        set(&mut c, &["loglevel", "loud"]),
        failed(
            "loglevel",
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        )
    );

    // Arity.
    assert_eq!(set(&mut c, &["a", "b", "c"]), Resp::err("ERR syntax error"));
    let arity = |sub: &str| {
        Resp::err(&format!(
            "ERR wrong number of arguments for 'config|{sub}' command"
        ))
    };
    assert_eq!(set(&mut c, &["a"]), arity("set"));
    assert_eq!(set(&mut c, &[]), arity("set"));
    assert_eq!(c.call(&["CONFIG", "GET"]), arity("get"));
    assert_eq!(c.call(&["CONFIG", "RESETSTAT", "x"]), arity("resetstat"));
    assert_eq!(c.call(&["CONFIG", "REWRITE", "x"]), arity("rewrite"));
    assert_eq!(
        c.call(&["CONFIG"]),
        Resp::err("ERR wrong number of arguments for 'config' command")
    );
    assert_eq!(
        c.call(&["CONFIG", "bogus"]),
        Resp::err("ERR unknown subcommand 'bogus'. Try CONFIG HELP.")
    );

    assert_eq!(
        get_map(&mut c, &["*"]),
        before,
        "no failed SET changed anything"
    );
}

// ---------------------------------------------------------------------------
// CONFIG RESETSTAT

#[test]
fn config_resetstat_zeroes_the_counters() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
    assert_eq!(c.call(&["GET", "k"]), Resp::bulk("v"));
    assert_eq!(c.call(&["GET", "nope"]), Resp::NilBulk);
    assert_eq!(c.call(&["SET", "e", "v", "PX", "1"]), Resp::ok());
    wait_for("the key to expire", || stat(&mut c, "expired_keys") >= 1);
    // One connection too many.
    let max_clients = get(&mut c, "maxclients");
    assert_eq!(set(&mut c, &["maxclients", "1"]), Resp::ok());
    let mut refused = server.client();
    refused.send(encode(&["PING"]));
    refused.expect("-ERR max number of clients reached\r\n");
    refused.expect_eof();
    assert_eq!(set(&mut c, &["maxclients", &max_clients]), Resp::ok());

    let counters = [
        "total_connections_received",
        "total_commands_processed",
        "keyspace_hits",
        "keyspace_misses",
        "expired_keys",
        "rejected_connections",
    ];
    for field in counters {
        assert!(stat(&mut c, field) > 0, "{field} counted something");
    }
    assert_eq!(c.call(&["CONFIG", "RESETSTAT"]), Resp::ok());
    // One INFO, so that it sees only the RESETSTAT, which Redis counts
    // after the reset.
    let after: BTreeMap<String, String> = info_fields(&mut c, "stats").into_iter().collect();
    for field in counters {
        let expected = if field == "total_commands_processed" {
            "1"
        } else {
            "0"
        };
        assert_eq!(after[field], expected, "{field}");
    }
    // Counting goes on from zero.
    let mut other = server.client();
    assert_eq!(other.call(&["GET", "k"]), Resp::bulk("v"));
    assert_eq!(stat(&mut other, "total_connections_received"), 1);
    assert_eq!(stat(&mut other, "keyspace_hits"), 1);
    assert_eq!(stat(&mut other, "keyspace_misses"), 0);
}

#[test]
fn config_resetstat_also_zeroes_what_was_pipelined_before_it() {
    let server = Server::start();
    let mut c = server.client();
    // One write: the server reads it as one batch.
    let mut batch = encode(&["SET", "a", "1"]);
    batch.extend(encode(&["GET", "a"]));
    batch.extend(encode(&["GET", "nope"]));
    batch.extend(encode(&["CONFIG", "RESETSTAT"]));
    c.send(batch);
    c.expect("+OK\r\n$1\r\n1\r\n$-1\r\n+OK\r\n");
    // Redis 7.0.15: 1 command (the RESETSTAT; each INFO counts once it is
    // done), 0 hits, 0 misses.
    assert_eq!(stat(&mut c, "total_commands_processed"), 1);
    assert_eq!(stat(&mut c, "keyspace_hits"), 0);
    assert_eq!(stat(&mut c, "keyspace_misses"), 0);
}

// ---------------------------------------------------------------------------
// Runtime changes take effect

/// Reads from `idle` for at most `wait`; true if the server closed it.
fn closed_within(idle: &mut Client, wait: Duration) -> bool {
    idle.stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match idle.stream.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected bytes {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("read failed: {e}"),
    }
}

#[test]
fn timeout_set_at_runtime_closes_idle_clients_and_zero_turns_it_off() {
    let server = Server::start();
    let mut busy = server.client();
    assert_eq!(set(&mut busy, &["timeout", "1"]), Resp::ok());
    assert_eq!(get(&mut busy, "timeout"), "1");
    let mut idle = server.client();
    let start = Instant::now();
    // The busy client keeps talking while the idle one is closed.
    while !closed_within(&mut idle, Duration::from_millis(100)) {
        assert_eq!(busy.call(&["PING"]), Resp::simple("PONG"));
        assert!(
            start.elapsed() < DEADLINE,
            "the idle client was never closed"
        );
    }
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before being idle for 1 s",
        start.elapsed()
    );
    assert_eq!(busy.call(&["PING"]), Resp::simple("PONG"));

    assert_eq!(set(&mut busy, &["timeout", "0"]), Resp::ok());
    let mut idle = server.client();
    // With timeout 1 it would be closed within about 2 s.
    assert!(!closed_within(&mut idle, Duration::from_millis(2500)));
    assert_eq!(idle.call(&["PING"]), Resp::simple("PONG"));
}

#[test]
fn requirepass_set_at_runtime_guards_new_connections_and_empty_removes_it() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(set(&mut c, &["requirepass", "s3cr3t-pw"]), Resp::ok());
    // The connection that set it stays usable.
    assert_eq!(c.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(get(&mut c, "requirepass"), "s3cr3t-pw");

    let mut n = server.client();
    n.send(encode(&["GET", "a"]));
    n.expect("-NOAUTH Authentication required.\r\n");
    assert_eq!(
        n.call(&["AUTH", "wrong"]),
        Resp::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(n.call(&["AUTH", "s3cr3t-pw"]), Resp::ok());
    assert_eq!(n.call(&["GET", "a"]), Resp::NilBulk);
    let mut l = server.client();
    l.roundtrip("GET a\n", "(error) NOAUTH Authentication required.\n");
    // The log names the change, not the password.
    server.wait_for_stderr("CONFIG SET requirepass (redacted)");
    assert!(!server.stderr_text().contains("s3cr3t-pw"));

    assert_eq!(set(&mut c, &["requirepass", ""]), Resp::ok());
    assert_eq!(get(&mut c, "requirepass"), "");
    let mut m = server.client();
    assert_eq!(m.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(n.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(
        m.call(&["AUTH", "x"]),
        Resp::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        )
    );
}

#[test]
fn maxclients_set_at_runtime_refuses_one_client_too_many() {
    let server = Server::start();
    let mut c1 = server.client();
    let mut c2 = server.client();
    assert_eq!(c2.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(set(&mut c1, &["maxclients", "2"]), Resp::ok());
    assert_eq!(info_field(&mut c1, "clients", "maxclients"), "2");

    let mut third = server.client();
    third.send(encode(&["PING"]));
    third.expect("-ERR max number of clients reached\r\n");
    third.expect_eof();
    // Answered in the dialect of its first byte.
    let mut line = server.client();
    line.send("PING\n");
    line.expect("(error) ERR max number of clients reached\n");
    line.expect_eof();
    assert_eq!(stat(&mut c1, "rejected_connections"), 2);
    assert_eq!(info_field(&mut c1, "clients", "connected_clients"), "2");

    assert_eq!(set(&mut c2, &["maxclients", "3"]), Resp::ok());
    let mut now_fits = server.client();
    assert_eq!(now_fits.call(&["PING"]), Resp::simple("PONG"));
    let mut fourth = server.client();
    fourth.send(encode(&["PING"]));
    fourth.expect("-ERR max number of clients reached\r\n");
    fourth.expect_eof();
}

#[test]
fn loglevel_set_at_runtime_changes_what_is_logged() {
    let server = Server::start();
    let accepted = || server.stderr_text().matches("[verbose] accepted ").count();
    let mut c = server.client();
    assert_eq!(c.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(set(&mut c, &["loglevel", "verbose"]), Resp::ok());
    assert_eq!(get(&mut c, "loglevel"), "verbose");
    server.wait_for_stderr("CONFIG SET loglevel verbose");
    let mut b = server.client();
    assert_eq!(b.call(&["PING"]), Resp::simple("PONG"));
    server.wait_for_stderr("[verbose] accepted ");
    assert_eq!(accepted(), 1, "only the connection after the change");

    assert_eq!(set(&mut c, &["loglevel", "warning"]), Resp::ok());
    let mut quiet = server.client();
    assert_eq!(quiet.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(set(&mut c, &["loglevel", "verbose"]), Resp::ok());
    let mut loud = server.client();
    assert_eq!(loud.call(&["PING"]), Resp::simple("PONG"));
    // The log is in order: had the quiet one been logged, it would be here
    // before the loud one.
    wait_for("the second accept line", || accepted() >= 2);
    assert_eq!(accepted(), 2, "{}", server.stderr_text());
}

#[test]
fn protected_mode_and_stop_writes_on_bgsave_error_can_be_changed() {
    let server = Server::start();
    let mut c = server.client();
    for name in ["protected-mode", "stop-writes-on-bgsave-error"] {
        assert_eq!(get(&mut c, name), "yes", "{name}");
        assert_eq!(set(&mut c, &[name, "no"]), Resp::ok());
        assert_eq!(get(&mut c, name), "no", "{name}");
        assert_eq!(set(&mut c, &[name, "YES"]), Resp::ok());
        assert_eq!(get(&mut c, name), "yes", "{name}");
    }
    // Loopback clients are served either way.
    assert_eq!(set(&mut c, &["protected-mode", "no"]), Resp::ok());
    assert_eq!(server.client().call(&["PING"]), Resp::simple("PONG"));
}

#[test]
fn stop_writes_on_bgsave_error_set_at_runtime_lifts_and_restores_misconf() {
    let server = Server::start();
    let mut c = server.client();
    // A directory where the temporary snapshot must go makes saves fail.
    std::fs::create_dir(server.dir().join("dump.gcs.tmp")).unwrap();
    assert_eq!(c.call(&["SET", "k", "1"]), Resp::ok());
    assert_eq!(
        c.call(&["BGSAVE"]),
        Resp::simple("Background saving started")
    );
    wait_for("the background save to fail", || {
        persistence(&mut c, "rdb_bgsave_in_progress") == "0"
            && persistence(&mut c, "rdb_last_bgsave_status") == "err"
    });
    let is_misconf = |r: &Resp| matches!(r, Resp::Error(e) if e.starts_with("MISCONF Redis is configured to save RDB snapshots"));
    let refused = c.call(&["SET", "k", "2"]);
    assert!(is_misconf(&refused), "{refused:?}");

    assert_eq!(
        set(&mut c, &["stop-writes-on-bgsave-error", "no"]),
        Resp::ok()
    );
    assert_eq!(c.call(&["SET", "k", "3"]), Resp::ok());
    assert_eq!(
        set(&mut c, &["stop-writes-on-bgsave-error", "yes"]),
        Resp::ok()
    );
    let refused = c.call(&["SET", "k", "4"]);
    assert!(is_misconf(&refused), "{refused:?}");
    // As in Redis, with no save points failed saves stop nothing.
    assert_eq!(set(&mut c, &["save", ""]), Resp::ok());
    assert_eq!(c.call(&["SET", "k", "5"]), Resp::ok());
    assert_eq!(c.call(&["GET", "k"]), Resp::bulk("5"));
}

#[test]
fn save_set_at_runtime_schedules_background_saves_and_empty_turns_them_off() {
    let server = Server::start_with(&["--snapshot-interval", "0"]);
    let mut c = server.client();
    assert_eq!(get(&mut c, "save"), "");
    assert_eq!(set(&mut c, &["save", "900 1 300 10"]), Resp::ok());
    assert_eq!(get(&mut c, "save"), "900 1 300 10");
    assert_eq!(set(&mut c, &["save", "1 1"]), Resp::ok());
    assert_eq!(get(&mut c, "save"), "1 1");
    assert_eq!(persistence(&mut c, "rdb_saves"), "0");
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
    wait_for("a scheduled save", || {
        persistence(&mut c, "rdb_saves") != "0"
    });
    assert!(server.dir().join("dump.gcs").exists());

    assert_eq!(set(&mut c, &["save", ""]), Resp::ok());
    c.send(encode(&["CONFIG", "GET", "save"]));
    c.expect("*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    wait_for("no save in progress", || {
        persistence(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    let saves = persistence(&mut c, "rdb_saves");
    assert_eq!(c.call(&["SET", "k", "w"]), Resp::ok());
    // With "1 1" still in force this would be saved within about 2 s.
    thread::sleep(Duration::from_millis(2500));
    assert_eq!(persistence(&mut c, "rdb_saves"), saves);
    assert_eq!(persistence(&mut c, "rdb_changes_since_last_save"), "1");
}

#[test]
fn a_save_value_of_only_spaces_is_invalid_as_in_redis() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(
        set(&mut c, &["save", "  "]),
        failed("save", "Invalid save parameters")
    );
    assert_eq!(get(&mut c, "save"), "60 1");
}

// ---------------------------------------------------------------------------
// The snapshot schedule on the command line

#[test]
fn the_snapshot_schedule_takes_redis_save_form_beside_snapshot_interval() {
    for (flags, expected) in [
        (&[][..], "60 1"),
        (&["--save", "60 5"], "60 5"),
        (&["--save", "900 1 300 10"], "900 1 300 10"),
        (&["--save=120 3"], "120 3"),
        (&["--save", ""], ""),
        (&["--snapshot-interval", "0"], ""),
        (&["--snapshot-interval", "30"], "30 1"),
        (&["--save", "60 5", "--snapshot-interval", "7"], "7 1"),
    ] {
        let server = Server::start_with(flags);
        let mut c = server.client();
        assert_eq!(get(&mut c, "save"), expected, "{flags:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = start_expecting_failure(dir.path(), &["--save", "0 1"]);
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--save"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("Invalid save parameters"),
        "{}",
        bad.stderr
    );
}

// ---------------------------------------------------------------------------
// The config file

#[test]
fn a_config_file_in_redis_syntax_sets_parameters_and_flags_override_it() {
    let text = "# gocache.conf for a test\n\
                \n\
                \x20  # an indented comment\n\
                \t\n\
                maxclients 50\n\
                timeout 7\r\n\
                requirepass \"two words\\x21\"\n\
                loglevel 'verbose'\n\
                protected-mode no\n\
                stop-writes-on-bgsave-error no\n\
                save 900 1\n\
                save 300 10\n";
    let (conf, server) = start_from(text, &[]);
    let mut c = server.client();
    assert_eq!(
        c.call(&["PING"]),
        Resp::err("NOAUTH Authentication required.")
    );
    assert_eq!(c.call(&["AUTH", "two words!"]), Resp::ok());
    let expected = BTreeMap::from([
        ("maxclients", "50"),
        ("timeout", "7"),
        ("requirepass", "two words!"),
        ("loglevel", "verbose"),
        ("protected-mode", "no"),
        ("stop-writes-on-bgsave-error", "no"),
        ("save", "900 1 300 10"),
    ]);
    for (name, value) in &expected {
        assert_eq!(get(&mut c, name), *value, "{name}");
    }
    drop(server);

    // A flag overrides the file; the rest of the file still applies.
    let server = conf.start(&["--timeout", "9", "--loglevel=warning"]);
    let mut c = server.client();
    assert_eq!(c.call(&["AUTH", "two words!"]), Resp::ok());
    for (name, value) in &expected {
        let value = match *name {
            "timeout" => "9",
            "loglevel" => "warning",
            _ => value,
        };
        assert_eq!(get(&mut c, name), value, "{name}");
    }
}

#[test]
fn redis_names_and_gocache_aliases_work_in_the_file_and_as_flags() {
    for (file, flags, expected) in [
        ("max-clients 12\n", &[][..], "12"),
        ("maxclients 12\n", &[][..], "12"),
        ("MaxClients 16\nTIMEOUT 3\n", &[][..], "16"),
        ("max-clients 12\n", &["--maxclients", "13"][..], "13"),
        ("maxclients 12\n", &["--max-clients", "14"][..], "14"),
        ("maxclients 12\n", &["--max-clients=15"][..], "15"),
    ] {
        let (_conf, server) = start_from(file, flags);
        let mut c = server.client();
        assert_eq!(get(&mut c, "maxclients"), expected, "{file:?} {flags:?}");
        assert_eq!(get(&mut c, "max-clients"), expected, "{file:?} {flags:?}");
    }
}

#[test]
fn save_lines_in_a_file_accumulate_and_an_empty_one_clears_them() {
    for (file, flags, expected) in [
        ("timeout 1\n", &[][..], "60 1"),
        ("save 900 1\nsave 300 10\n", &[][..], "900 1 300 10"),
        ("save 900 1 300 10\n", &[][..], "900 1 300 10"),
        ("save 900 1\nsave \"\"\n", &[][..], ""),
        ("save ''\n", &[][..], ""),
        ("save 900 1\nsave \"\"\nsave 60 5\n", &[][..], "60 5"),
        // A flag replaces the file's schedule (Redis would append to it).
        ("save 900 1\n", &["--save", "10 2"][..], "10 2"),
        ("save 900 1\n", &["--snapshot-interval", "0"][..], ""),
    ] {
        let (_conf, server) = start_from(file, flags);
        let mut c = server.client();
        assert_eq!(get(&mut c, "save"), expected, "{file:?} {flags:?}");
    }
}

#[test]
fn a_bad_config_file_refuses_to_start_naming_the_file_the_line_and_the_reason() {
    let bad_directive = "Bad directive or wrong number of arguments";
    for (text, line, shown, reason) in [
        ("# ok\ntimeout 1\nnosuch 1\n", 3, "nosuch 1", bad_directive),
        ("timeout 1 2\n", 1, "timeout 1 2", bad_directive),
        (
            "maxclients x\n",
            1,
            "maxclients x",
            "argument couldn't be parsed into an integer",
        ),
        (
            "\n\nrequirepass \"open\n",
            3,
            "requirepass \"open",
            "Unbalanced quotes in configuration line",
        ),
        ("save 0 1\n", 1, "save 0 1", "Invalid save parameters"),
        (
            "timeout -1\n",
            1,
            "timeout -1",
            "argument must be between 0 and 2147483647 inclusive",
        ),
        (
            "# levels\nloglevel loud\n",
            2,
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
    ] {
        let conf = ConfFile::new(text);
        let out = run_to_exit(&[
            conf.path.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
            "--dir".as_ref(),
            conf.dir.path().as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {stderr}");
        for needle in [
            conf.path.display().to_string(),
            format!("line {line}"),
            shown.to_string(),
            reason.to_string(),
        ] {
            assert!(
                stderr.contains(&needle),
                "{text:?}: no {needle:?} in {stderr}"
            );
        }
        assert!(out.stdout.is_empty(), "{text:?}: it did not listen");
    }
    // A file that is not there.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.conf");
    let out = run_to_exit(&[missing.as_os_str(), "--port".as_ref(), "0".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

#[test]
fn an_unknown_flag_or_a_late_config_file_exits_2_with_the_usage() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = start_expecting_failure(dir.path(), &["--nosuch", "1"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("unknown option '--nosuch'"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("Usage: gocache"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("--max-clients"),
        "aliases in the usage"
    );
    assert!(!unknown.stdout.contains("listening"));

    let bad_value = start_expecting_failure(dir.path(), &["--timeout", "-1"]);
    assert_eq!(bad_value.status.code(), Some(2), "{}", bad_value.stderr);
    assert!(
        bad_value.stderr.contains("--timeout"),
        "{}",
        bad_value.stderr
    );

    // The config file must be the first argument.
    let conf = ConfFile::new("timeout 1\n");
    let late = start_expecting_failure(dir.path(), &[conf.path.to_str().unwrap()]);
    assert_eq!(late.status.code(), Some(2), "{}", late.stderr);
    assert!(
        late.stderr.contains("the config file must come first"),
        "{}",
        late.stderr
    );
}

// ---------------------------------------------------------------------------
// CONFIG REWRITE

#[test]
fn config_rewrite_keeps_comments_and_order_and_appends_what_is_new() {
    let original = "# gocache settings, by hand\n\
                    \n\
                    # clients\n\
                    maxclients 50\n\
                    timeout 7\n\
                    \n\
                    # snapshots\n\
                    save 900 1\n\
                    save 300 10\n\
                    # end\n";
    let (conf, server) = start_from(original, &[]);
    let mut c = server.client();
    assert_eq!(
        set(
            &mut c,
            &[
                "maxclients",
                "60",
                "loglevel",
                "verbose",
                "save",
                "120 3",
                "requirepass",
                "p w"
            ]
        ),
        Resp::ok()
    );
    assert_eq!(c.call(&["CONFIG", "REWRITE"]), Resp::ok());
    server.wait_for_stderr("CONFIG REWRITE executed with success");
    let dir = std::fs::canonicalize(server.dir()).unwrap();
    // In place: maxclients, and save (its later line dropped). Appended, in
    // table order: what the flags and CONFIG SET made differ from the
    // defaults (the port actually bound, the password, the level, the dir).
    let expected = format!(
        "# gocache settings, by hand\n\
         \n\
         # clients\n\
         maxclients 60\n\
         timeout 7\n\
         \n\
         # snapshots\n\
         save 120 3\n\
         # end\n\
         \n\
         # Generated by CONFIG REWRITE\n\
         port {}\n\
         requirepass \"p w\"\n\
         loglevel verbose\n\
         dir {}\n",
        server.addr.port(),
        dir.display()
    );
    assert_eq!(conf.text(), expected);
    // Nothing changed since: a second rewrite writes the same text.
    assert_eq!(c.call(&["CONFIG", "REWRITE"]), Resp::ok());
    assert_eq!(conf.text(), expected);
    let leftovers: Vec<_> = std::fs::read_dir(conf.dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    drop(server);

    // A server started from the rewritten file has the values.
    let server = conf.start(&[]);
    let mut c = server.client();
    assert_eq!(c.call(&["AUTH", "p w"]), Resp::ok());
    assert_eq!(
        get_map(
            &mut c,
            &["maxclients", "timeout", "loglevel", "save", "requirepass"]
        ),
        BTreeMap::from([
            ("maxclients".to_string(), "60".to_string()),
            ("timeout".to_string(), "7".to_string()),
            ("loglevel".to_string(), "verbose".to_string()),
            ("save".to_string(), "120 3".to_string()),
            ("requirepass".to_string(), "p w".to_string()),
        ])
    );
}

#[test]
fn config_rewrite_without_a_config_file_is_an_error() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(
        c.call(&["CONFIG", "REWRITE"]),
        Resp::err("ERR The server is running without a config file")
    );
}

#[test]
fn config_rewrite_is_refused_inside_a_transaction_which_holds_the_keyspace() {
    let (conf, server) = start_from("timeout 7\n", &[]);
    let mut c = server.client();
    let before = conf.text();
    assert_eq!(c.call(&["CONFIG", "SET", "timeout", "8"]), Resp::ok());
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(
        c.call(&["CONFIG", "REWRITE"]),
        Resp::Simple("QUEUED".into())
    );
    assert_eq!(
        c.call(&["EXEC"]),
        Resp::Array(vec![Resp::err(
            "ERR CONFIG REWRITE is not allowed inside a transaction"
        )])
    );
    assert_eq!(conf.text(), before, "the file is untouched");
}

#[test]
fn config_rewrite_reports_a_file_it_cannot_write() {
    let (conf, server) = start_from("timeout 7\n", &[]);
    let mut c = server.client();
    std::fs::remove_dir_all(conf.dir.path()).unwrap();
    let reply = c.call(&["CONFIG", "REWRITE"]);
    assert!(
        matches!(reply, Resp::Error(ref e) if e.starts_with("ERR Rewriting config file: ")),
        "{reply:?}"
    );
    // The server goes on serving.
    assert_eq!(c.call(&["PING"]), Resp::simple("PONG"));
    assert_eq!(get(&mut c, "timeout"), "7");
}
