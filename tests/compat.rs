//! Details clients and tools rely on, pinned byte for byte against what
//! Redis 7.0.15 answers: `CLIENT LIST` filters, the `INFO` fields a lone
//! master prints, RESP replies to a program's inline requests (and a human
//! dialect for people), and `SYNC`/`PSYNC`, which `redis-cli --rdb` sends.

mod common;

use common::{Client, DEADLINE, Resp, Server, encode, have, info_fields};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Sends `args` as a RESP request and asserts the raw reply bytes.
fn exchange(c: &mut Client, args: &[&str], expected: &[u8]) {
    c.send(encode(args));
    c.expect(expected);
}

/// The `id=` of every line of a `CLIENT LIST` reply, in order.
fn listed_ids(list: &Resp) -> Vec<i64> {
    list.text()
        .lines()
        .map(|line| {
            line.strip_prefix("id=")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("bad CLIENT LIST line {line:?}"))
        })
        .collect()
}

const NO_REPLICATION: &str =
    "-ERR SYNC and PSYNC are not supported: gocache has no replication\r\n";

#[test]
fn client_list_filters_by_type_and_by_id() {
    let server = Server::start();
    let mut c = server.client();
    let mut other = server.client();
    let me = c.call(&["CLIENT", "ID"]).int();
    let them = other.call(&["CLIENT", "ID"]).int();
    assert_eq!(listed_ids(&c.call(&["CLIENT", "LIST"])), [me, them]);
    // Every client is a normal one, in any letter case.
    for kind in ["normal", "NoRmAl"] {
        let list = c.call(&["CLIENT", "LIST", "TYPE", kind]);
        assert_eq!(listed_ids(&list), [me, them], "TYPE {kind}");
    }
    // No replicas, masters or subscribers: an empty text, as Redis sends.
    for kind in ["master", "replica", "slave", "pubsub", "PUBSUB"] {
        exchange(&mut c, &["CLIENT", "LIST", "TYPE", kind], b"$0\r\n\r\n");
    }
    // IDs in the order given, repeats included; unknown ones skipped.
    let (me_s, them_s) = (me.to_string(), them.to_string());
    let list = c.call(&["CLIENT", "LIST", "ID", &them_s, &me_s, "99999", &them_s]);
    assert_eq!(listed_ids(&list), [them, me, them]);
    assert!(list.text().ends_with('\n'), "{list:?}");
    let list = c.call(&["CLIENT", "list", "id", "0", "-1", "99999"]);
    assert_eq!(list, Resp::bulk(""));
    // In RESP3 the text is verbatim, empty or not.
    c.call(&["HELLO", "3"]);
    exchange(
        &mut c,
        &["CLIENT", "LIST", "TYPE", "master"],
        b"=4\r\ntxt:\r\n",
    );
    let list = c.call(&["CLIENT", "LIST", "ID", &me_s]);
    assert!(matches!(list, Resp::Verbatim(..)), "{list:?}");
    assert_eq!(listed_ids(&list), [me]);
}

#[test]
fn client_list_filter_errors_have_redis_texts() {
    let server = Server::start();
    let mut c = server.client();
    for (args, error) in [
        (
            &["TYPE", "bogus"][..],
            &b"-ERR Unknown client type 'bogus'\r\n"[..],
        ),
        (&["ID", "abc"], b"-ERR Invalid client ID\r\n"),
        // One bad ID spoils the lot.
        (&["ID", "1", "abc"], b"-ERR Invalid client ID\r\n"),
        (&["ID", "1.5"], b"-ERR Invalid client ID\r\n"),
        (
            &["ID", "99999999999999999999"],
            b"-ERR Invalid client ID\r\n",
        ),
        (&["TYPE"], b"-ERR syntax error\r\n"),
        (&["ID"], b"-ERR syntax error\r\n"),
        (&["TYPE", "normal", "extra"], b"-ERR syntax error\r\n"),
        (&["bogus"], b"-ERR syntax error\r\n"),
        (&["bogus", "x"], b"-ERR syntax error\r\n"),
    ] {
        let mut request = vec!["CLIENT", "LIST"];
        request.extend_from_slice(args);
        exchange(&mut c, &request, error);
    }
    // A person at nc sees the same error in the line protocol.
    let mut person = server.client();
    assert_eq!(
        person.line("CLIENT LIST TYPE bogus"),
        "(error) ERR Unknown client type 'bogus'\n"
    );
}

#[test]
fn info_reports_a_standalone_master_without_replicas_or_cluster() {
    let server = Server::start();
    let mut c = server.client();
    let all = c.call(&["INFO"]).text();
    let headers: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
    // Redis's order, less the sections gocache does not have.
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# Cluster",
            "# Keyspace",
        ]
    );
    let server_fields = info_fields(&mut c, "server");
    assert!(
        server_fields.contains(&("redis_mode".into(), "standalone".into())),
        "{server_fields:?}"
    );
    // What Redis 7.0.15 prints for a master with no replicas, in its order;
    // the replication ID is random, and the same at every call.
    let replication = info_fields(&mut c, "replication");
    let replid = &replication[3].1;
    assert_eq!(replid.len(), 40, "{replid}");
    assert!(replid.bytes().all(|b| b.is_ascii_hexdigit()), "{replid}");
    let zeros = "0".repeat(40);
    let expected: Vec<(String, String)> = [
        ("role", "master"),
        ("connected_slaves", "0"),
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", &zeros),
        ("master_repl_offset", "0"),
        ("second_repl_offset", "-1"),
        ("repl_backlog_active", "0"),
        ("repl_backlog_size", "1048576"),
        ("repl_backlog_first_byte_offset", "0"),
        ("repl_backlog_histlen", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(replication, expected);
    assert_eq!(info_fields(&mut c, "replication"), expected);
    // Byte for byte what Redis sends.
    exchange(
        &mut c,
        &["INFO", "cluster"],
        b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n",
    );
    exchange(
        &mut c,
        &["INFO", "CLUSTER"],
        b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n",
    );
    // Several sections by name come in Redis's order, whatever the order asked.
    let two = c.call(&["INFO", "cluster", "replication"]).text();
    assert!(two.starts_with("# Replication\r\nrole:master\r\n"), "{two}");
    assert!(
        two.ends_with("\r\n# Cluster\r\ncluster_enabled:0\r\n"),
        "{two}"
    );
    for everything in ["all", "everything", "default"] {
        let text = c.call(&["INFO", everything]).text();
        for header in ["# Replication\r\n", "# Cluster\r\n"] {
            assert!(text.contains(header), "INFO {everything}: no {header:?}");
        }
    }
}

/// The RESP3 `HELLO` map for the connection with `id`, as Redis sends it.
fn hello3_map(id: i64) -> Vec<u8> {
    format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
         $5\r\nproto\r\n:3\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
         $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
    .into_bytes()
}

#[test]
fn inline_requests_after_a_resp_request_are_answered_in_resp() {
    let server = Server::start();
    let mut c = server.client();
    let id = c.call(&["CLIENT", "ID"]).int();
    c.send("SET a 1\r\nGET a\r\nGET nokey\r\nINCR a\r\nECHO \"x y\"\r\nBOGUS\r\n");
    c.expect(
        "+OK\r\n$1\r\n1\r\n$-1\r\n:2\r\n$3\r\nx y\r\n\
         -ERR unknown command 'BOGUS', with args beginning with: \r\n",
    );
    // In the connection's RESP version.
    exchange(&mut c, &["HELLO", "3"], &hello3_map(id));
    c.roundtrip("GET nokey\r\n", "_\r\n");
    c.roundtrip(
        "INFO cluster\r\n",
        "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n",
    );
    // RESET goes back to RESP2, and the client is still a program.
    c.roundtrip("RESET\r\n", "+RESET\r\n");
    c.roundtrip("GET nokey\r\n", "$-1\r\n");
}

#[test]
fn an_inline_hello_makes_a_program_answered_in_the_protocol_it_picks() {
    let server = Server::start();
    let mut c = server.client();
    c.send("HELLO 3\r\n");
    let hello = c.read_resp();
    assert!(matches!(hello, Resp::Map(_)), "{hello:?}");
    assert_eq!(hello.get("proto"), Some(Resp::Int(3)));
    c.roundtrip("GET nokey\r\n", "_\r\n");
    // A refused HELLO still says a program is talking.
    let mut c = server.client();
    c.roundtrip(
        "HELLO 4\r\nPING\r\n",
        "-NOPROTO unsupported protocol version\r\n+PONG\r\n",
    );
    // So does one queued in a transaction.
    let mut c = server.client();
    c.roundtrip("MULTI\n", "OK\n");
    c.roundtrip("HELLO\n", "+QUEUED\r\n");
    c.roundtrip("DISCARD\n", "+OK\r\n");
}

#[test]
fn a_connection_that_only_sends_lines_keeps_human_replies() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip(
        "SET a 1\nGET a\nGET nokey\nINCR a\nPING\n",
        "OK\n\"1\"\n(nil)\n(integer) 2\nPONG\n",
    );
    // An unbalanced quote is answered and the connection stays open.
    c.roundtrip(
        "ECHO \"a\nPING\n",
        "(error) ERR Protocol error: unbalanced quotes in request\nPONG\n",
    );
    assert_eq!(c.line("INFO cluster"), "# Cluster\ncluster_enabled:0\n");
    // Its first RESP request makes it a program.
    c.send("GET a\n*1\r\n$4\r\nPING\r\nGET a\n");
    c.expect("\"2\"\n+PONG\r\n$1\r\n2\r\n");
}

#[test]
fn a_programs_inline_protocol_error_is_answered_in_resp_then_closes() {
    let server = Server::start_with(&["--max-line-bytes", "64"]);
    let unbalanced = "-ERR Protocol error: unbalanced quotes in request\r\n";
    // After a RESP request: the requests before the error are answered,
    // none after it.
    let mut c = server.client();
    exchange(&mut c, &["PING"], b"+PONG\r\n");
    c.send("ECHO ok\r\nECHO \"a\r\nPING\r\n");
    c.expect(format!("$2\r\nok\r\n{unbalanced}"));
    c.expect_eof();
    // After an inline HELLO.
    let mut c = server.client();
    c.send("HELLO\r\n");
    let hello = c.read_resp();
    assert_eq!(hello.get("proto"), Some(Resp::Int(2)), "{hello:?}");
    c.send("SET k 'a\r\n");
    c.expect(unbalanced);
    c.expect_eof();
    // A line over the limit, whole or not yet ended.
    for tail in ["\r\n", ""] {
        let mut c = server.client();
        exchange(&mut c, &["PING"], b"+PONG\r\n");
        c.send(format!("SET k {}{tail}", "x".repeat(100)));
        c.expect("-ERR Protocol error: too big inline request\r\n");
        c.expect_eof();
    }
    // Nothing was stored, and the server is unharmed.
    let mut c = server.client();
    exchange(&mut c, &["EXISTS", "k"], b":0\r\n");
}

#[test]
fn sync_and_psync_are_answered_in_resp_even_inline_and_from_people() {
    let server = Server::start();
    // A connection that has only sent lines: these replies are RESP anyway,
    // and the ones after them human again.
    let mut c = server.client();
    c.roundtrip("SYNC\r\n", NO_REPLICATION);
    c.roundtrip("psync ? -1\r\n", NO_REPLICATION);
    c.roundtrip(
        "SYNC extra\r\n",
        "-ERR wrong number of arguments for 'sync' command\r\n",
    );
    c.roundtrip(
        "PSYNC ?\r\n",
        "-ERR wrong number of arguments for 'psync' command\r\n",
    );
    c.roundtrip("PING\n", "PONG\n");
    // Refused inside MULTI, which it dooms, as in Redis.
    c.roundtrip(
        "MULTI\nSYNC\nEXEC\n",
        "OK\n-ERR Command not allowed inside a transaction\r\n\
         (error) EXECABORT Transaction discarded because of previous errors.\n",
    );
    // As RESP requests, in RESP2 and RESP3 alike.
    let mut c = server.client();
    exchange(&mut c, &["SYNC"], NO_REPLICATION.as_bytes());
    exchange(&mut c, &["PSYNC", "?", "-1"], NO_REPLICATION.as_bytes());
    c.call(&["HELLO", "3"]);
    exchange(&mut c, &["SYNC"], NO_REPLICATION.as_bytes());
    exchange(&mut c, &["MULTI"], b"+OK\r\n");
    exchange(
        &mut c,
        &["PSYNC", "?", "-1"],
        b"-ERR Command not allowed inside a transaction\r\n",
    );
    exchange(
        &mut c,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    // The error never echoes what was sent.
    let long = "x".repeat(10_000);
    exchange(&mut c, &["PSYNC", &long, &long], NO_REPLICATION.as_bytes());
}

#[test]
fn redis_cli_rdb_and_replica_stop_at_once_with_the_error() {
    if !have("redis-cli") {
        eprintln!("note: redis-cli is not installed; skipping the redis-cli --rdb test");
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let rdb = dir.path().join("dump.rdb");
    let port = server.addr.port().to_string();
    let rdb_arg = rdb.to_str().expect("utf-8 path");
    for mode in [&["--rdb", rdb_arg][..], &["--replica"]] {
        let mut child = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn redis-cli");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-cli {mode:?} still waiting after {DEADLINE:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let output = child.wait_with_output().expect("redis-cli output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!status.success(), "redis-cli {mode:?}: {stderr}");
        assert!(
            stderr.contains(
                "SYNC with master failed: -ERR SYNC and PSYNC are not supported: \
                 gocache has no replication"
            ),
            "redis-cli {mode:?}: {stderr}"
        );
    }
    assert!(!rdb.exists(), "no file is written");
}
