//! RESP2 and RESP3 on the same port (issue 5), spoken raw over TCP against
//! the real binary: framing, pipelining, protocol errors and the close
//! after them, slow requests, what only a clock or a second thread can
//! show (milliseconds left, atomicity, SCAN's guarantee), and the
//! introspection commands whose replies change from run to run. Exact
//! replies of the string, key, connection and transaction commands are
//! data in `tests/cases/*.case` (run by `tests/cases.rs`).

mod common;

use common::{Churn, Client, DEADLINE, Resp, Server, encode, info_field, info_fields, wait_for};
use std::collections::HashSet;
use std::io::Read;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Sends `args` and asserts the raw reply bytes.
fn exchange(c: &mut Client, args: &[&str], expected: &[u8]) {
    c.send(encode(args));
    c.expect(expected);
}

/// Switches `c` to RESP3 and returns the HELLO reply.
fn hello3(c: &mut Client) -> Resp {
    let reply = c.call(&["HELLO", "3"]);
    assert!(matches!(reply, Resp::Map(_)), "{reply:?}");
    reply
}

fn info_number(c: &mut Client, section: &str, field: &str) -> u64 {
    info_field(c, section, field)
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number"))
}

#[test]
fn resp3_doubles_verbatim_text_and_sets_after_hello_3() {
    // The other RESP3 shapes (HELLO's map, nulls, CONFIG GET's map) are in
    // tests/cases; INCRBYFLOAT's double is about to become a bulk string.
    let server = Server::start();
    let mut c = server.client();
    hello3(&mut c);
    exchange(&mut c, &["SET", "f", "10.5"], b"+OK\r\n");
    // A bulk string, as Redis 7.0 sends it in RESP3 too.
    exchange(&mut c, &["INCRBYFLOAT", "f", "0.1"], b"$4\r\n10.6\r\n");
    exchange(&mut c, &["GET", "f"], b"$4\r\n10.6\r\n");
    // INFO is verbatim text.
    let info = c.call_raw(&["INFO", "server"]);
    assert!(
        info.starts_with(b"="),
        "{:?}",
        String::from_utf8_lossy(&info)
    );
    match common::parse_resp(&info).unwrap().0 {
        Resp::Verbatim(fmt, text) => {
            assert_eq!(fmt, "txt");
            assert!(text.starts_with(b"# Server\r\n"));
        }
        other => panic!("{other:?}"),
    }
    // COMMAND INFO flags are sets; an unknown name is null.
    let info = c.call(&["COMMAND", "INFO", "get", "nosuch"]);
    let get = info.items()[0].items();
    assert_eq!(get[0], Resp::bulk("get"));
    assert!(matches!(get[2], Resp::Set(_)), "{:?}", get[2]);
    assert_eq!(info.items()[1], Resp::Null);
    // No supported command has a boolean or a double reply in Redis 7.0, so
    // `#` and `,` never appear.
}

#[test]
fn pipelined_resp_requests_are_answered_in_order_in_one_batch() {
    let server = Server::start();
    let mut c = server.client();
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        batch.extend(encode(&["SET", &k, &v]));
        batch.extend(encode(&["GET", &k]));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    assert!(batch.len() < 16 * 1024, "fits one read");
    c.send(&batch);
    let mut buf = vec![0u8; 1 << 20];
    c.stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let first = c.stream.read(&mut buf).unwrap();
    assert_eq!(first, expected.len(), "one batch, one write");
    assert_eq!(&buf[..first], &expected[..]);
}

#[test]
fn both_dialects_share_one_connection() {
    let server = Server::start();
    let mut c = server.client();
    // Lines get human replies until the first RESP request; from then on
    // the connection is a program, and its lines get RESP replies.
    c.send(b"SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nGET a\n");
    c.expect(b"OK\n$1\r\n1\r\n$1\r\n1\r\n");
}

#[test]
fn each_protocol_error_is_answered_then_the_connection_closes() {
    let server = Server::start_with(&["--proto-max-bulk-len", "1000"]);
    for (request, error) in [
        (&b"*x\r\n"[..], "invalid multibulk length"),
        (b"*-\r\n", "invalid multibulk length"),
        (b"*99999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n$x\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$1001\r\n", "invalid bulk length"),
        (b"*1\r\nX\r\n", "expected '$', got 'X'"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'"),
    ] {
        let mut c = server.client();
        c.send(request);
        c.expect(format!("-ERR Protocol error: {error}\r\n"));
        c.expect_eof();
    }
    // Just under the bulk limit is fine, and the server is unharmed.
    let mut c = server.client();
    let big = "x".repeat(1000);
    exchange(&mut c, &["SET", "big", &big], b"+OK\r\n");
    assert_eq!(c.call(&["STRLEN", "big"]), Resp::Int(1000));
}

#[test]
fn a_bulk_string_arriving_one_byte_at_a_time_blocks_nobody() {
    let server = Server::start();
    let mut slow = server.client();
    let mut other = server.client();
    let value = "0123456789\r\nabc";
    let request = encode(&["SET", "slow", value]);
    for (i, byte) in request.iter().enumerate() {
        slow.send([*byte]);
        if i % 4 == 0 && i + 1 < request.len() {
            // Everyone else is served while the request is half-sent.
            exchange(&mut other, &["PING"], b"+PONG\r\n");
            exchange(&mut other, &["GET", "slow"], b"$-1\r\n");
        }
        thread::sleep(Duration::from_millis(1));
    }
    slow.expect(b"+OK\r\n");
    assert_eq!(other.call(&["GET", "slow"]), Resp::bulk(value));
}

#[test]
fn select_knows_the_configured_number_of_databases() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["SELECT", "15"], b"+OK\r\n");
    exchange(
        &mut c,
        &["SELECT", "16"],
        b"-ERR DB index is out of range\r\n",
    );
    exchange(
        &mut c,
        &["SELECT", "-1"],
        b"-ERR DB index is out of range\r\n",
    );
    exchange(
        &mut c,
        &["SELECT", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    let two = Server::start_with(&["--databases", "2"]);
    let mut c = two.client();
    exchange(&mut c, &["SELECT", "1"], b"+OK\r\n");
    exchange(
        &mut c,
        &["SELECT", "2"],
        b"-ERR DB index is out of range\r\n",
    );
}

#[test]
fn client_list_shows_each_client_with_its_names() {
    // CLIENT ID, GETNAME, SETNAME and SETINFO themselves are in
    // tests/cases/connection.case.
    let server = Server::start();
    let mut c = server.client();
    let id = c.call(&["CLIENT", "ID"]).int();
    assert!(id > 0);
    let mut other = server.client();
    assert!(other.call(&["CLIENT", "ID"]).int() > id, "ids increase");
    exchange(&mut c, &["CLIENT", "SETNAME", "app"], b"+OK\r\n");
    exchange(
        &mut c,
        &["CLIENT", "SETINFO", "lib-name", "redis-py"],
        b"+OK\r\n",
    );
    exchange(&mut c, &["CLIENT", "SETINFO", "LIB-VER", "5.0"], b"+OK\r\n");
    let list = c.call(&["CLIENT", "LIST"]).text();
    let mine = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no line for {id}: {list}"));
    for field in [
        "name=app",
        "lib-name=redis-py",
        "lib-ver=5.0",
        "resp=2",
        "addr=127.0.0.1:",
    ] {
        assert!(mine.contains(field), "{field} missing: {mine}");
    }
    assert_eq!(list.lines().count(), 2, "{list}");
    // In RESP3, CLIENT LIST is verbatim text.
    hello3(&mut c);
    assert!(matches!(c.call(&["CLIENT", "LIST"]), Resp::Verbatim(..)));
}

#[test]
fn exec_replies_follow_resp3_after_hello_3() {
    // The rest of MULTI and EXEC is in tests/cases/transactions.case; this
    // joins it once INCRBYFLOAT's RESP3 reply settles.
    let server = Server::start();
    let mut c = server.client();
    hello3(&mut c);
    exchange(&mut c, &["MULTI"], b"+OK\r\n");
    exchange(&mut c, &["GET", "nope"], b"+QUEUED\r\n");
    exchange(&mut c, &["INCRBYFLOAT", "fl", "1.5"], b"+QUEUED\r\n");
    exchange(&mut c, &["EXEC"], b"*2\r\n_\r\n$3\r\n1.5\r\n");
}

#[test]
fn a_transaction_is_never_seen_half_done() {
    let server = Server::start();
    let writer = Churn::start(server.addr, 2_000, |c, _| {
        let mut batch = encode(&["MULTI"]);
        for _ in 0..10 {
            batch.extend(encode(&["INCR", "c"]));
        }
        batch.extend(encode(&["EXEC"]));
        c.send(&batch);
        for _ in 0..11 {
            c.read_resp();
        }
        let exec = c.read_resp();
        assert_eq!(exec.items().len(), 10);
    });
    let mut reader = server.client();
    let start = Instant::now();
    let mut reads = 0;
    while reads < 3_000 && start.elapsed() < Duration::from_secs(10) {
        let n: i64 = match reader.call(&["GET", "c"]) {
            Resp::NilBulk => 0,
            r => r.text().parse().unwrap(),
        };
        assert_eq!(n % 10, 0, "saw a transaction half done: {n}");
        reads += 1;
    }
    writer.finish();
}

#[test]
fn scan_returns_every_key_present_throughout_while_others_churn() {
    let server = Server::start();
    let mut c = server.client();
    let stable: HashSet<String> = (0..2_000).map(|i| format!("stable:{i}")).collect();
    for chunk in stable.iter().collect::<Vec<_>>().chunks(100) {
        let mut args = vec!["MSET".to_string()];
        for k in chunk {
            args.push(k.to_string());
            args.push("v".into());
        }
        assert_eq!(c.call(&args), Resp::ok());
    }
    let churn = Churn::start(server.addr, 200_000, |c, j| {
        let add = format!("churn:{j}");
        let mut batch = encode(&["SET", &add, "x"]);
        if j >= 50 {
            batch.extend(encode(&["DEL", &format!("churn:{}", j - 50)]));
        }
        c.send(&batch);
        c.read_resp();
        if j >= 50 {
            c.read_resp();
        }
    });
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.call(&["SCAN", &cursor, "COUNT", "10"]);
        let items = reply.items();
        cursor = items[0].text();
        for k in items[1].items() {
            seen.insert(k.text());
        }
        calls += 1;
        assert!(calls < 100_000, "SCAN never came back to 0");
        if cursor == "0" {
            break;
        }
    }
    churn.finish();
    let missing: Vec<_> = stable.difference(&seen).collect();
    assert!(missing.is_empty(), "SCAN missed {} keys", missing.len());
    assert!(calls > 1, "COUNT 10 should take several calls");
}

#[test]
fn randomkey_picks_every_key_in_time() {
    // RANDOMKEY's exact replies, and RENAME's, are in tests/cases/keys.case.
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["MSET", "b", "1", "c", "3"], b"+OK\r\n");
    let mut picked = HashSet::new();
    for _ in 0..200 {
        picked.insert(c.call(&["RANDOMKEY"]).text());
    }
    assert_eq!(picked, HashSet::from(["b".to_string(), "c".to_string()]));
}

#[test]
fn pttl_counts_the_milliseconds_left() {
    // Whole seconds (TTL) are checked exactly in tests/cases; milliseconds
    // move while the test runs, so they are checked within a range here.
    let server = Server::start();
    let mut c = server.client();
    let pttl = |c: &mut Client, key: &str| c.call(&["PTTL", key]).int();
    exchange(&mut c, &["SET", "k", "v", "PX", "100000"], b"+OK\r\n");
    let left = pttl(&mut c, "k");
    assert!((90_000..=100_000).contains(&left), "SET PX: {left}");
    exchange(&mut c, &["PEXPIRE", "k", "200000"], b":1\r\n");
    let left = pttl(&mut c, "k");
    assert!((190_000..=200_000).contains(&left), "PEXPIRE: {left}");
    exchange(&mut c, &["GETEX", "k", "PX", "100000"], b"$1\r\nv\r\n");
    let left = pttl(&mut c, "k");
    assert!((90_000..=100_000).contains(&left), "GETEX PX: {left}");
    exchange(&mut c, &["GETEX", "k"], b"$1\r\nv\r\n");
    assert!(
        pttl(&mut c, "k") > 90_000,
        "a plain GETEX keeps the deadline"
    );
    exchange(&mut c, &["PSETEX", "p", "100000", "v"], b"+OK\r\n");
    let left = pttl(&mut c, "p");
    assert!((90_000..=100_000).contains(&left), "PSETEX: {left}");
}

#[test]
fn info_has_every_section_and_field() {
    let server = Server::start();
    let mut c = server.client();
    let all = c.call(&["INFO"]).text();
    for header in [
        "# Server\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Persistence\r\n",
        "# Stats\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(all.contains(header), "{header:?} missing");
    }
    assert_eq!(info_field(&mut c, "server", "redis_version"), "7.0.15");
    assert_eq!(
        info_field(&mut c, "server", "gocache_version"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        info_field(&mut c, "server", "tcp_port"),
        server.addr.port().to_string()
    );
    assert!(info_number(&mut c, "clients", "connected_clients") >= 1);
    assert!(info_number(&mut c, "memory", "used_memory") > 0);
    assert!(!info_fields(&mut c, "persistence").is_empty());
    info_number(&mut c, "stats", "instantaneous_ops_per_sec");
    // A section asked for by name comes alone.
    let server_only = c.call(&["INFO", "server"]).text();
    assert!(server_only.starts_with("# Server\r\n"));
    assert!(!server_only.contains("# Clients"));
    assert_eq!(c.call(&["INFO", "nosuchsection"]), Resp::bulk(""));
    let raw = c.call_raw(&["INFO", "server"]);
    assert!(raw.starts_with(b"$"), "INFO is a bulk string in RESP2");

    // Counters move with the traffic.
    let before = info_number(&mut c, "stats", "total_commands_processed");
    for _ in 0..5 {
        c.call(&["PING"]);
    }
    let after = info_number(&mut c, "stats", "total_commands_processed");
    assert!(after >= before + 6, "{before} -> {after}");
    assert_eq!(c.call(&["SET", "hit", "1"]), Resp::ok());
    let hits = info_number(&mut c, "stats", "keyspace_hits");
    let misses = info_number(&mut c, "stats", "keyspace_misses");
    c.call(&["GET", "hit"]);
    c.call(&["GET", "miss"]);
    assert_eq!(info_number(&mut c, "stats", "keyspace_hits"), hits + 1);
    assert_eq!(info_number(&mut c, "stats", "keyspace_misses"), misses + 1);
    let expired = info_number(&mut c, "stats", "expired_keys");
    assert_eq!(c.call(&["SET", "gone", "1", "PX", "1"]), Resp::ok());
    wait_for("expired_keys to count the expiry", || {
        info_number(&mut c, "stats", "expired_keys") > expired
    });

    // Keyspace: one key with a deadline, one without.
    assert_eq!(c.call(&["SET", "ttl", "1", "EX", "100"]), Resp::ok());
    let db0 = info_field(&mut c, "keyspace", "db0");
    let (prefix, avg) = db0.rsplit_once(",avg_ttl=").expect("avg_ttl");
    assert_eq!(prefix, "keys=2,expires=1");
    let avg: u64 = avg.parse().unwrap();
    assert!((90_000..=100_000).contains(&avg), "avg_ttl {avg}");
    assert_eq!(c.call(&["FLUSHALL"]), Resp::ok());
    assert!(info_fields(&mut c, "keyspace").is_empty());

    // RESP3: verbatim text with the same content.
    hello3(&mut c);
    match c.call(&["INFO", "server"]) {
        Resp::Verbatim(fmt, text) => {
            assert_eq!(fmt, "txt");
            assert!(String::from_utf8_lossy(&text).contains("redis_version:7.0.15\r\n"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_get_reports_the_parameters_clients_ask_for() {
    let server = Server::start();
    let mut c = server.client();
    let get = |c: &mut Client, pattern: &str| c.call(&["CONFIG", "GET", pattern]);
    let single = |c: &mut Client, name: &str| -> String {
        let reply = get(c, name);
        let pairs = reply.pairs();
        assert_eq!(pairs.len(), 1, "{name}: {reply:?}");
        assert_eq!(pairs[0].0.text(), name, "the name as asked, like Redis");
        pairs[0].1.text()
    };
    single(&mut c, "save");
    assert_eq!(single(&mut c, "appendonly"), "no");
    assert_eq!(single(&mut c, "maxmemory"), "0");
    assert_eq!(single(&mut c, "databases"), "16");
    assert_eq!(single(&mut c, "port"), server.addr.port().to_string());
    let dir = std::fs::canonicalize(server.dir()).unwrap();
    assert_eq!(single(&mut c, "dir"), dir.display().to_string());
    // Names are matched case-insensitively, patterns as globs.
    assert_eq!(single(&mut c, "APPENDONLY"), "no");
    let max = get(&mut c, "*max*");
    assert!(matches!(max, Resp::Array(_)), "RESP2: a flat array");
    let names: HashSet<String> = max.pairs().iter().map(|(k, _)| k.text()).collect();
    for name in ["maxmemory", "maxclients", "proto-max-bulk-len"] {
        assert!(names.contains(name), "{name} missing from *max*: {names:?}");
    }
    assert!(names.iter().all(|n| n.contains("max")), "{names:?}");
    assert_eq!(get(&mut c, "nosuch"), Resp::Array(vec![]));
    // Several patterns at once.
    assert_eq!(
        c.call(&["CONFIG", "GET", "port", "databases"])
            .pairs()
            .len(),
        2
    );
    exchange(
        &mut c,
        &["CONFIG", "GET"],
        b"-ERR wrong number of arguments for 'config|get' command\r\n",
    );
    let set = c.call(&["CONFIG", "SET", "maxmemory", "1z"]);
    assert!(
        matches!(set, Resp::Error(ref e) if e.starts_with("ERR ")),
        "{set:?}"
    );
    // RESP3: a map.
    hello3(&mut c);
    let max3 = get(&mut c, "*max*");
    assert!(matches!(max3, Resp::Map(_)), "{max3:?}");
    assert_eq!(max3.pairs().len(), names.len());
    assert_eq!(
        get(&mut c, "port"),
        Resp::Map(vec![(
            Resp::bulk("port"),
            Resp::bulk(server.addr.port().to_string())
        )])
    );
}

#[test]
fn save_is_empty_when_snapshots_are_off() {
    let server = Server::start_with(&["--snapshot-interval", "0"]);
    let mut c = server.client();
    exchange(
        &mut c,
        &["CONFIG", "GET", "save"],
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
    );
}

#[test]
fn command_count_and_docs() {
    let server = Server::start();
    let mut c = server.client();
    let all = c.call(&["COMMAND"]);
    let count = c.call(&["COMMAND", "COUNT"]).int();
    assert_eq!(all.items().len() as i64, count);
    let names: HashSet<String> = all.items().iter().map(|e| e.items()[0].text()).collect();
    for name in [
        "get",
        "set",
        "delete",
        "del",
        "hello",
        "auth",
        "scan",
        "multi",
        "exec",
        "info",
        "config",
        "command",
        "time",
        "incrbyfloat",
        "client",
    ] {
        assert!(names.contains(name), "{name} missing from COMMAND");
    }
    for entry in all.items() {
        let e = entry.items();
        assert_eq!(e.len(), 10, "{entry:?}");
        assert_ne!(e[1].int(), 0, "arity of {:?}", e[0]);
    }
    let get = c.call(&["COMMAND", "INFO", "get"]);
    let get = get.items()[0].items();
    assert_eq!(get[1], Resp::Int(2));
    assert_eq!((get[3].int(), get[4].int(), get[5].int()), (1, 1, 1));
    let docs = c.call(&["COMMAND", "DOCS", "get", "set"]);
    assert!(matches!(docs, Resp::Array(_)), "RESP2 flat map");
    let doc = docs.get("get").expect("docs for get");
    assert!(doc.get("summary").is_some(), "{doc:?}");
    assert!(docs.get("set").is_some());
    assert!(c.call(&["COMMAND", "DOCS"]).pairs().len() as i64 == count);
    exchange(
        &mut c,
        &["COMMAND", "COUNT", "x"],
        b"-ERR wrong number of arguments for 'command|count' command\r\n",
    );
    hello3(&mut c);
    assert!(matches!(c.call(&["COMMAND", "DOCS", "get"]), Resp::Map(_)));
}

#[test]
fn time_is_seconds_and_microseconds() {
    let server = Server::start();
    let mut c = server.client();
    let reply = c.call(&["TIME"]);
    let parts = reply.items();
    assert_eq!(parts.len(), 2);
    let secs: u64 = parts[0].text().parse().unwrap();
    let micros: u64 = parts[1].text().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 5, "{secs} vs {now}");
    assert!(micros < 1_000_000);
    exchange(
        &mut c,
        &["TIME", "x"],
        b"-ERR wrong number of arguments for 'time' command\r\n",
    );
}

#[test]
fn a_huge_declared_bulk_does_not_reserve_its_length() {
    let server = Server::start();
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut c = server.client();
        c.send(b"*2\r\n$3\r\nGET\r\n$500000000\r\n");
        idle.push(c);
    }
    let mut probe = server.client();
    exchange(&mut probe, &["PING"], b"+PONG\r\n");
    // Sample for a while: the server reads the headers in its own time.
    for _ in 0..10 {
        let kb = rss(server.pid());
        assert!(kb < 100 * 1024, "4 half-sent 500 MB bulks took {kb} kB");
        thread::sleep(Duration::from_millis(50));
    }
    exchange(&mut probe, &["PING"], b"+PONG\r\n");
}

#[test]
fn pipelined_large_replies_all_arrive_in_order() {
    let server = Server::start();
    let mut c = server.client();
    let big = "x".repeat(100 * 1024);
    assert_eq!(c.call(&["SET", "big", &big]), Resp::ok());
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(encode(&["GET", "big"]));
        batch.extend(encode(&["ECHO", &i.to_string()]));
    }
    // 5 MB of replies to one batch: they go out in bounded writes.
    c.send(&batch);
    for i in 0..50 {
        assert_eq!(c.read_resp(), Resp::bulk(&big));
        assert_eq!(c.read_resp(), Resp::bulk(i.to_string()));
    }
}
