//! Hostile clients, over real sockets: cross-protocol requests, oversized
//! requests before `AUTH`, errors that would echo huge arguments, and
//! memory a client could make the server keep. Each test pins one limit of
//! the README's "Security and limits" section; each failed on the server
//! before that limit existed (run them against another build with
//! `GOCACHE_BIN=path cargo test --test hostile`).

mod common;

use common::{Client, Resp, Server, encode, wait_for};
use std::thread;
use std::time::Duration;

const MIB: u64 = 1024;

/// `command` followed by `n` key names `PREFIX0`, `PREFIX1`, ...
fn with_keys(command: &str, n: usize, prefix: &str) -> Vec<String> {
    std::iter::once(command.to_string())
        .chain((0..n).map(|i| format!("{prefix}{i}")))
        .collect()
}

/// Sends `bytes` as far as the server lets us: a server that closes the
/// connection mid-way (as it should, for a refused request) stops the send.
fn send_until_closed(c: &mut Client, bytes: &[u8]) {
    for chunk in bytes.chunks(64 * 1024) {
        if c.try_send(chunk).is_err() {
            return;
        }
    }
}

/// Reads until the server closes the connection; returns what it sent.
fn read_to_close(c: &mut Client) -> Vec<u8> {
    let mut got = Vec::new();
    c.stream
        .set_read_timeout(Some(common::DEADLINE))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match std::io::Read::read(&mut c.stream, &mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("read failed: {e} after {:?}", String::from_utf8_lossy(&got)),
        }
    }
}

#[test]
fn a_browser_post_runs_no_command_and_closes_at_once() {
    let server = Server::start();
    let attacks: [&[u8]; 3] = [
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:6380\r\nContent-Type: text/plain\r\n\r\nSET hijacked 1\r\n",
        b"Host: 127.0.0.1\r\nSET hijacked 2\r\n",
        b"*1\r\n$4\r\npost\r\n*3\r\n$3\r\nSET\r\n$8\r\nhijacked\r\n$1\r\n3\r\n",
    ];
    for attack in attacks {
        let mut c = server.client();
        c.send(attack);
        assert_eq!(read_to_close(&mut c), b"", "no reply, just the close");
    }
    // Inside a transaction and before AUTH it is the same.
    let mut c = server.client();
    c.roundtrip("MULTI\n", "OK\n");
    c.send("POST /x HTTP/1.1\nSET hijacked 4\nEXEC\n");
    assert_eq!(read_to_close(&mut c), b"");
    let mut c = server.client();
    assert_eq!(c.call(&["GET", "hijacked"]), Resp::NilBulk);
    server.wait_for_stderr("possible cross-protocol attack");

    let locked = Server::start_with(&["--requirepass", "pw"]);
    let mut c = locked.client();
    c.send("POST / HTTP/1.1\r\n");
    assert_eq!(read_to_close(&mut c), b"");
}

#[test]
fn cross_protocol_warnings_are_logged_at_most_once_a_second() {
    let server = Server::start();
    let started = std::time::Instant::now();
    for _ in 0..30 {
        let mut c = server.client();
        c.send("POST / HTTP/1.1\r\n");
        read_to_close(&mut c);
    }
    server.wait_for_stderr("possible cross-protocol attack");
    let seconds = started.elapsed().as_secs() + 1;
    let logged = server
        .stderr_text()
        .matches("possible cross-protocol attack")
        .count() as u64;
    assert!(
        logged <= seconds + 1,
        "{logged} warnings in about {seconds} s"
    );
}

#[test]
fn before_auth_a_long_multibulk_or_a_big_bulk_is_refused_at_its_header() {
    let server = Server::start_with(&["--requirepass", "pw"]);
    let cases: [(&[u8], &str); 3] = [
        (
            b"*11\r\n",
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        ),
    ];
    for (request, error) in cases {
        let mut c = server.client();
        c.send(request);
        c.expect(error);
        c.expect_eof();
    }
    // An inline line is held to the same 16 KiB before AUTH.
    let mut c = server.client();
    send_until_closed(&mut c, &vec![b'a'; 20 * 1024]);
    c.expect("(error) ERR Protocol error: too big inline request\n");
    c.expect_eof();
    // Up to the limits is fine, and after AUTH the ordinary limits apply.
    let mut c = server.client();
    let ten = ["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e"];
    assert_eq!(c.call(&ten), Resp::err("NOAUTH Authentication required."));
    assert_eq!(c.call(&["AUTH", "pw"]), Resp::ok());
    let big = "v".repeat(100_000);
    assert_eq!(c.call(&["SET", "k", &big]), Resp::ok());
}

#[test]
fn unauthenticated_uploads_cannot_pin_memory() {
    let server = Server::start_with(&["--requirepass", "pw"]);
    let before = server.status_kb("VmRSS");
    // Four clients each announce a 512 MiB value and start sending it.
    let body = vec![b'x'; 64 << 20];
    let mut clients: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for c in &mut clients {
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
        send_until_closed(c, &body);
    }
    let grown = server.status_kb("VmRSS").saturating_sub(before);
    assert!(grown < 32 * MIB, "RSS grew by {grown} KiB");
}

#[test]
fn error_replies_quote_at_most_128_bytes_of_any_argument() {
    let server = Server::start();
    let mut c = server.client();
    let huge = "y".repeat(1 << 20);
    for request in [
        vec![huge.as_str()],
        vec!["nosuchcommand", &huge, &huge],
        vec!["HELLO", "3", &huge],
        vec!["CLIENT", &huge],
        vec!["CLIENT", "SETINFO", &huge, "v"],
        vec!["CONFIG", &huge],
        vec!["CONFIG", "SET", &huge, "1"],
        vec!["COMMAND", &huge],
        vec!["EXPIRE", "k", "1", &huge],
        vec!["OBJECT", &huge],
    ] {
        let reply = c.call_raw(&request);
        assert!(
            reply.starts_with(b"-"),
            "{:?}",
            String::from_utf8_lossy(&reply[..80])
        );
        assert!(
            reply.len() < 400,
            "{} bytes for {:?}",
            reply.len(),
            &request[0][..10.min(request[0].len())]
        );
    }
    // A 64 MiB argument costs about its own size, not several copies.
    let before = server.status_kb("VmRSS");
    let big = "z".repeat(64 << 20);
    let reply = c.call_raw(&["HELLO", "3", &big]);
    assert!(reply.len() < 400, "{} bytes", reply.len());
    let peak = server.status_kb("VmHWM").saturating_sub(before);
    assert!(peak < 160 * MIB, "peak grew by {peak} KiB");
}

/// A `CLIENT LIST` field of the line for client `id`.
fn client_field(list: &str, id: i64, field: &str) -> u64 {
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no client {id} in {list}"));
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {line}"))
}

#[test]
fn idle_connections_give_their_buffers_back_after_a_huge_request() {
    let server = Server::start();
    let keys = 1_048_575;
    let request = encode(&with_keys("MGET", keys, "k"));
    // The reply: the array header and a nil per key.
    let reply_len = format!("*{keys}\r\n").len() + keys * 5;
    let mut idle: Vec<(Client, i64)> = Vec::new();
    let mut observer = server.client();
    let before = server.status_kb("VmRSS");
    for _ in 0..4 {
        let mut c = server.client();
        let id = c.call(&["CLIENT", "ID"]).int();
        c.send(&request);
        let got = c.read_exact_n(reply_len);
        assert!(got.starts_with(b"*1048575\r\n$-1\r\n"));
        idle.push((c, id));
    }
    let list = observer.call(&["CLIENT", "LIST"]).text();
    for (_, id) in &idle {
        let total = client_field(&list, *id, "tot-mem");
        assert!(
            total <= 64 * 1024,
            "client {id} keeps {total} bytes: {list}"
        );
        assert!(total > 0, "the buffers are counted");
    }
    // And the process gives the memory back (before: 24 MiB per connection).
    wait_for("RSS to come back", || {
        server.status_kb("VmRSS") < before + 24 * MIB
    });
}

#[test]
fn a_big_upload_costs_about_its_size() {
    let server = Server::start();
    let mut c = server.client();
    let before = server.status_kb("VmRSS");
    let size = 256usize << 20;
    c.send(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${size}\r\n"));
    let chunk = vec![b'v'; 1 << 20];
    for _ in 0..size / chunk.len() {
        c.send(&chunk);
    }
    c.send("\r\n");
    c.expect("+OK\r\n");
    let peak = server.status_kb("VmHWM").saturating_sub(before);
    let value_kib = (size / 1024) as u64;
    assert!(
        peak < value_kib + value_kib / 4,
        "a {value_kib} KiB value cost {peak} KiB at peak"
    );
    assert_eq!(c.call(&["STRLEN", "big"]), Resp::Int(size as i64));
    let got = c.call_raw(&["GETRANGE", "big", "-3", "-1"]);
    assert_eq!(got, b"$3\r\nvvv\r\n");
}

#[test]
fn a_request_trickled_in_pieces_costs_about_what_it_costs_whole() {
    let server = Server::start();
    let exists = with_keys("EXISTS", 100_000, "key:");
    let request = encode(&exists);
    let mut c = server.client();
    let cpu = server.cpu_time();
    assert_eq!(c.call_raw(&exists), b":0\r\n");
    let whole = server.cpu_time() - cpu;
    let cpu = server.cpu_time();
    for piece in request.chunks(request.len() / 1000 + 1) {
        c.send(piece);
        // Each piece arrives on its own, so the server reads about 1000 times.
        thread::sleep(Duration::from_millis(1));
    }
    c.expect(":0\r\n");
    let trickled = server.cpu_time() - cpu;
    eprintln!("whole: {whole:?}, trickled: {trickled:?}");
    assert!(
        trickled < whole * 3 + Duration::from_millis(300),
        "whole: {whole:?}, trickled: {trickled:?}"
    );
}

#[test]
fn setrange_and_append_respect_proto_max_bulk_len() {
    let server = Server::start_with(&["--proto-max-bulk-len", "1000"]);
    let mut c = server.client();
    let too_big = Resp::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    let part = "a".repeat(600);
    assert_eq!(c.call(&["APPEND", "k", &part]), Resp::Int(600));
    assert_eq!(c.call(&["APPEND", "k", &part]), too_big);
    assert_eq!(c.call(&["SETRANGE", "k", "990", "0123456789x"]), too_big);
    assert_eq!(
        c.call(&["SETRANGE", "k", "990", "0123456789"]),
        Resp::Int(1000)
    );
    assert_eq!(c.call(&["SETRANGE", "n", "1000", "x"]), too_big);
    assert_eq!(c.call(&["STRLEN", "k"]), Resp::Int(1000));
}

#[test]
fn the_inline_limit_defaults_to_64_kib() {
    let server = Server::start();
    let mut c = server.client();
    let fits = format!("SET k {}\n", "x".repeat(64 * 1024 - 7));
    c.roundtrip(fits, "OK\n");
    let mut c = server.client();
    send_until_closed(
        &mut c,
        format!("SET k {}\n", "x".repeat(64 * 1024)).as_bytes(),
    );
    c.expect("(error) ERR Protocol error: too big inline request\n");
    c.expect_eof();
}

#[test]
fn protocol_errors_are_not_logged_at_the_default_level() {
    let server = Server::start();
    for _ in 0..50 {
        let mut c = server.client();
        c.send("*x\r\n");
        c.expect("-ERR Protocol error: invalid multibulk length\r\n");
        c.expect_eof();
    }
    let mut c = server.client();
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
    assert!(
        !server.stderr_text().contains("Protocol error"),
        "{}",
        server.stderr_text()
    );
}

#[test]
fn client_list_reports_what_a_connection_is_buffering() {
    let server = Server::start();
    let mut c = server.client();
    let id = c.call(&["CLIENT", "ID"]).int();
    // Half a request, waiting for the rest.
    let mut half = server.client();
    let half_id = half.call(&["CLIENT", "ID"]).int();
    half.send("*2\r\n$4\r\nECHO\r\n$10\r\n01234");
    wait_for("the half request to be seen", || {
        let list = c.call(&["CLIENT", "LIST"]).text();
        client_field(&list, half_id, "qbuf") > 0
    });
    let list = c.call(&["CLIENT", "LIST"]).text();
    assert!(client_field(&list, id, "tot-mem") > 0);
    half.send("56789\r\n");
    half.expect("$10\r\n0123456789\r\n");
}
