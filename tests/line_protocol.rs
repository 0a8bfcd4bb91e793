//! The human line protocol (issue 2), over real TCP against the real binary:
//! the seed session byte for byte, line ends, quoting, pipelining,
//! concurrency, limits, expiry seen by waiting, and start-up behaviour.
//! The exact replies of each command are data in `tests/cases/*.case`
//! (run in-process by `tests/cases.rs`).

mod common;

use common::{Churn, Client, DEADLINE, Server, binary, cli_repr, wait_for};
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn the_seed_nc_session_works_byte_for_byte() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("SET name \"vimla\"\n", "OK\n");
    c.roundtrip("GET name\n", "\"vimla\"\n");
    c.roundtrip("SET session_token \"abc123\" 60\n", "OK\n");
    c.roundtrip("DELETE name\n", "OK\n");
    c.expect_silence(Duration::from_millis(100));
}

#[test]
fn a_line_may_end_in_crlf() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("set k v\r\n", "OK\n");
    c.roundtrip("GeT k\r\n", "\"v\"\n");
    c.roundtrip("pInG\r\n", "PONG\n");
}

#[test]
fn blank_lines_are_ignored() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("\n\r\n   \n\t\nPING\n", "PONG\n");
    c.send("\n\n");
    c.expect_silence(Duration::from_millis(150));
}

#[test]
fn a_key_set_with_a_short_ttl_disappears() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("SET k v PX 50\n", "OK\n");
    wait_for("k to expire", || c.line("GET k") == "(nil)\n");
    c.roundtrip("EXISTS k\n", "(integer) 0\n");
    c.roundtrip("TTL k\n", "(integer) -2\n");
}

#[test]
fn dbsize_never_counts_expired_keys() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("SET a 1\n", "OK\n");
    c.roundtrip("SET b 1 PX 1\n", "OK\n");
    wait_for("b to expire", || c.line("DBSIZE") == "(integer) 1\n");
    c.roundtrip("KEYS *\n", "1) \"a\"\n");
}

#[test]
fn quoting_and_every_escape() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip("SET k \"a b\"\n", "OK\n");
    c.roundtrip("GET k\n", "\"a b\"\n");
    c.roundtrip(
        "SET k \"q\\\" bs\\\\ n\\n r\\r t\\t a\\a b\\b x\\x41\\xff\"\n",
        "OK\n",
    );
    c.roundtrip("STRLEN k\n", "(integer) 25\n");
    c.roundtrip(
        "GET k\n",
        "\"q\\\" bs\\\\ n\\n r\\r t\\t a\\a b\\b xA\\xff\"\n",
    );
    // Single quotes are literal but for \'.
    c.roundtrip("SET k 'it\\'s \\n \"x\"'\n", "OK\n");
    c.roundtrip("GET k\n", "\"it's \\\\n \\\"x\\\"\"\n");
    // Tabs separate arguments; empty strings are arguments.
    c.roundtrip("SET\tk\t\"\"\n", "OK\n");
    c.roundtrip("GET k\n", "\"\"\n");
    c.roundtrip("STRLEN k\n", "(integer) 0\n");
}

#[test]
fn unbalanced_quotes_answer_an_error_and_keep_the_connection() {
    let server = Server::start();
    let mut c = server.client();
    let error = "(error) ERR Protocol error: unbalanced quotes in request\n";
    c.roundtrip("SET k \"abc\n", error);
    c.roundtrip("SET k 'abc\n", error);
    c.roundtrip("SET k \"a\"b\n", error);
    c.roundtrip("PING\n", "PONG\n");
    c.roundtrip("GET k\n", "(nil)\n");
}

#[test]
fn all_256_byte_values_round_trip_through_set_and_get() {
    let server = Server::start();
    let mut c = server.client();
    let all: Vec<u8> = (0..=255u8).collect();
    let escaped: String = all.iter().map(|b| format!("\\x{b:02x}")).collect();
    c.roundtrip(format!("SET bin \"{escaped}\"\n"), "OK\n");
    c.roundtrip("STRLEN bin\n", "(integer) 256\n");
    let shown = cli_repr(&all);
    c.roundtrip("GET bin\n", format!("{shown}\n"));
    // The reply pasted back into a SET stores the same bytes.
    c.roundtrip(format!("SET copy {shown}\n"), "OK\n");
    c.roundtrip("GET copy\n", format!("{shown}\n"));
    // And RESP sees the raw bytes.
    let reply = c.call(&["GET", "copy"]);
    assert_eq!(reply.bytes(), &all[..]);
}

#[test]
fn pipelined_requests_are_answered_in_order_in_one_batch() {
    let server = Server::start();
    let mut c = server.client();
    c.roundtrip(
        "SET a 1\nGET a\nINCR a\nGET a\nDEL a\nGET a\n",
        "OK\n\"1\"\n(integer) 2\n\"2\"\n(integer) 1\n(nil)\n",
    );
    // A large batch in one write: the replies come back together, in order.
    let n = 500;
    let mut batch = String::new();
    let mut expected = String::new();
    for i in 0..n {
        batch.push_str(&format!("SET k{i} {i}\nGET k{i}\n"));
        expected.push_str(&format!("OK\n\"{i}\"\n"));
    }
    assert!(batch.len() < 16 * 1024, "fits one read");
    c.send(&batch);
    // One deadline for the whole batch; and the first read already holds
    // every reply, so the server did not write once per reply.
    let mut buf = vec![0u8; 1 << 20];
    c.stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let first = std::io::Read::read(&mut c.stream, &mut buf).unwrap();
    assert_eq!(
        first,
        expected.len(),
        "replies of one batch should arrive in one write"
    );
    assert_eq!(String::from_utf8_lossy(&buf[..first]), expected);
}

#[test]
fn fifty_clients_each_incrementing_a_thousand_times_reach_exactly_50000() {
    let server = Server::start();
    let addr = server.addr;
    let workers: Vec<_> = (0..50)
        .map(|_| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                // Ten requests per write: still 1,000 separate commands each.
                for _ in 0..100 {
                    c.send("INCR c\n".repeat(10));
                    for _ in 0..10 {
                        let line = c.read_line();
                        assert!(line.starts_with("(integer) "), "{line:?}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut c = server.client();
    c.roundtrip("GET c\n", "\"50000\"\n");
}

#[test]
fn a_reader_never_sees_half_an_mset() {
    let server = Server::start();
    let mut setup = server.client();
    setup.roundtrip("MSET a 0 b 0\n", "OK\n");
    let writer = Churn::start(server.addr, 20_000, |c, i| {
        c.roundtrip(format!("MSET a {n} b {n}\n", n = i + 1), "OK\n");
    });
    let mut reader = server.client();
    let start = Instant::now();
    let mut reads = 0;
    while reads < 5_000 && start.elapsed() < Duration::from_secs(10) {
        let reply = reader.call(&["MGET", "a", "b"]);
        let items = reply.items();
        assert_eq!(items[0], items[1], "saw half an MSET: {reply:?}");
        reads += 1;
    }
    writer.finish();
    assert!(reads > 100, "only {reads} reads");
}

#[test]
fn a_client_over_max_clients_is_refused_in_its_dialect_and_others_keep_working() {
    let server = Server::start_with(&["--max-clients", "2"]);
    let mut a = server.client();
    let mut b = server.client();
    // Round trips make sure both are admitted before the third connects.
    a.roundtrip("PING\n", "PONG\n");
    b.roundtrip("PING\n", "PONG\n");
    // The refusal is in the dialect of the client's first byte: the line
    // protocol here, RESP for `*`, and RESP (as Redis sends) if the client
    // sends nothing.
    let mut refused = server.client();
    refused.send("PING\n");
    refused.expect("(error) ERR max number of clients reached\n");
    refused.expect_eof();
    let mut refused = server.client();
    refused.send("*1\r\n$4\r\nPING\r\n");
    refused.expect("-ERR max number of clients reached\r\n");
    refused.expect_eof();
    let mut silent = server.client();
    silent.expect("-ERR max number of clients reached\r\n");
    silent.expect_eof();
    a.roundtrip("SET k 1\n", "OK\n");
    b.roundtrip("GET k\n", "\"1\"\n");
    // When one leaves, a new client gets its slot.
    drop(a);
    wait_for("a freed slot", || {
        let mut c = server.client();
        c.send("PING\n");
        c.read_line() == "PONG\n"
    });
    b.roundtrip("PING\n", "PONG\n");
    server.wait_for_stderr("max number of clients");
}

#[test]
fn an_overlong_line_is_refused_and_the_connection_closed() {
    let server = Server::start_with(&["--max-line-bytes", "64"]);
    let error = "(error) ERR Protocol error: too big inline request\n";
    // A whole line over the limit.
    let mut c = server.client();
    c.roundtrip(format!("SET k {}\n", "x".repeat(100)), error);
    c.expect_eof();
    // A line with no end yet, already over the limit.
    let mut c = server.client();
    c.roundtrip(format!("SET k {}", "x".repeat(100)), error);
    c.expect_eof();
    // Just under the limit still works, and others are unaffected.
    let mut c = server.client();
    let value = "y".repeat(64 - "SET k ".len());
    c.roundtrip(format!("SET k {value}\n"), "OK\n");
    c.roundtrip("GET k\n", format!("\"{value}\"\n"));
}

#[test]
fn a_client_that_vanishes_mid_line_harms_nobody() {
    let server = Server::start();
    let mut watcher = server.client();
    for partial in [
        "SET half valu",
        "SET \"unterminated",
        "*3\r\n$3\r\nSET\r\n$4\r\nhalf",
    ] {
        let mut c = server.client();
        c.send(partial);
        drop(c);
    }
    watcher.roundtrip("PING\n", "PONG\n");
    watcher.roundtrip("GET half\n", "(nil)\n");
    watcher.roundtrip("DBSIZE\n", "(integer) 0\n");
    let mut fresh = server.client();
    fresh.roundtrip("SET x 1\n", "OK\n");
}

#[test]
fn stdout_carries_only_the_listening_line() {
    let mut server = Server::start();
    let mut c = server.client();
    c.roundtrip("SET a 1\n", "OK\n");
    c.roundtrip(
        "bogus\n",
        "(error) ERR unknown command 'bogus', with args beginning with: \n",
    );
    c.send("SET k \"x\n");
    c.read_line();
    drop(c);
    let mut over = Server::start_with(&["--max-clients", "1"]);
    let mut first = over.client();
    first.roundtrip("PING\n", "PONG\n");
    let mut refused = over.client();
    refused.read_line();
    assert!(over.kill_and_collect_stdout().is_empty());
    assert!(server.kill_and_collect_stdout().is_empty());
    server.wait_for_stderr("notice");
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run gocache")
}

#[test]
fn an_unknown_flag_or_bad_value_exits_2_naming_it_with_usage() {
    for (args, named) in [
        (&["--bogus"][..], "--bogus"),
        (&["--port", "abc"], "--port"),
        (&["--port", "70000"], "--port"),
        (&["--port"], "--port"),
        (&["--max-clients", "0"], "--max-clients"),
        (&["--max-line-bytes", "x"], "--max-line-bytes"),
        (&["--loglevel", "loud"], "--loglevel"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: gocache"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_port_in_use_exits_1_with_a_clear_message() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--port", &port, "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&port), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn help_and_version_exit_0() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--port",
        "--bind",
        "--max-clients",
        "--max-line-bytes",
        "--loglevel",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("gocache {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn log_lines_have_a_timestamp_and_a_level_and_loglevel_filters() {
    let server = Server::start_with(&["--loglevel", "verbose"]);
    let mut c = server.client();
    c.roundtrip("PING\n", "PONG\n");
    drop(c);
    server.wait_for_stderr("[verbose]");
    let quiet = Server::start_with(&["--loglevel", "warning"]);
    let mut c = quiet.client();
    c.roundtrip("PING\n", "PONG\n");
    assert!(!quiet.stderr_text().contains("[notice]"));
    for line in server.stderr_text().lines() {
        assert!(
            line.contains("[notice]") || line.contains("[verbose]") || line.contains("[warning]"),
            "{line}"
        );
        assert!(
            line.as_bytes()[0].is_ascii_digit(),
            "timestamp first: {line}"
        );
    }
}

#[test]
fn bind_takes_an_address() {
    let server = Server::start_with(&["--bind", "127.0.0.1"]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    server.client().roundtrip("PING\n", "PONG\n");
}

#[test]
fn garbage_input_never_takes_the_server_down() {
    let mut server = Server::start();
    // A fixed-seed generator: the same bytes every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"\n",
        b"\"",
        b"'",
        b"\\",
        b"\\x",
        b" ",
        b"\t",
        b"-1",
        b"0",
        b"9223372036854775808",
        b"SET",
        b"GET",
        b"INCR",
        b"MULTI",
        b"EXEC",
        b"HELLO",
        b"3",
        b"SCAN",
        b"KEYS",
        b"[",
        b"*?",
        b"GETRANGE",
        b"SETRANGE",
        b"EX",
        b"PXAT",
        b"\0",
        b"\xff",
    ];
    for _ in 0..100 {
        let mut garbage = Vec::new();
        for _ in 0..(next() % 200) {
            garbage.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let mut c = server.client();
        // The server may close on a protocol error before reading it all.
        let _ = std::io::Write::write_all(&mut c.stream, &garbage);
    }
    let mut c = server.client();
    c.roundtrip("PING\n", "PONG\n");
    assert!(server.is_running());
    assert!(!server.stderr_text().contains("panicked"));
}
