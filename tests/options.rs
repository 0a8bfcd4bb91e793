//! Option parsing against the real binary: every case here was checked
//! against redis-server 7.0.15, and each reply is Redis's, byte for byte.

mod common;

use common::{Client, Server, encode};

/// Sends `args` and asserts the raw reply bytes.
fn exchange(c: &mut Client, args: &[&str], expected: &[u8]) {
    c.send(encode(args));
    c.expect(expected);
}

const SYNTAX: &[u8] = b"-ERR syntax error\r\n";

#[test]
fn a_repeated_deadline_option_counts_its_last_value() {
    let server = Server::start();
    let mut c = server.client();
    exchange(
        &mut c,
        &["SET", "k", "v", "EX", "1", "ex", "200"],
        b"+OK\r\n",
    );
    exchange(&mut c, &["TTL", "k"], b":200\r\n");
    exchange(&mut c, &["SET", "k", "v", "KEEPTTL", "KEEPTTL"], b"+OK\r\n");
    exchange(&mut c, &["TTL", "k"], b":200\r\n");
    exchange(
        &mut c,
        &["GETEX", "k", "EX", "100", "EX", "300"],
        b"$1\r\nv\r\n",
    );
    exchange(&mut c, &["TTL", "k"], b":300\r\n");
    exchange(
        &mut c,
        &["GETEX", "k", "PERSIST", "PERSIST"],
        b"$1\r\nv\r\n",
    );
    exchange(&mut c, &["TTL", "k"], b":-1\r\n");
}

#[test]
fn options_parse_before_their_values_are_checked() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["SET", "k", "v", "EX", "abc", "bogus"], SYNTAX);
    exchange(
        &mut c,
        &["SET", "k", "v", "EX", "abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    // GETEX checks its deadline only for a key that is there.
    exchange(&mut c, &["GETEX", "missing", "EX", "abc"], b"$-1\r\n");
    exchange(
        &mut c,
        &["EXPIRE", "k", "abc", "BOGUS"],
        b"-ERR Unsupported option BOGUS\r\n",
    );
    exchange(
        &mut c,
        &["EXPIRE", "k", "10", "NX", "XX", "BOGUS"],
        b"-ERR Unsupported option BOGUS\r\n",
    );
}

#[test]
fn expire_xx_lt_needs_a_deadline() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["SET", "k", "v"], b"+OK\r\n");
    exchange(&mut c, &["EXPIRE", "k", "10", "XX", "LT"], b":0\r\n");
    exchange(&mut c, &["EXPIRE", "k", "10", "LT"], b":1\r\n");
    exchange(&mut c, &["EXPIRE", "k", "20", "xx", "lt"], b":0\r\n");
    exchange(&mut c, &["EXPIRE", "k", "5", "xx", "lt"], b":1\r\n");
}

#[test]
fn scan_reads_its_cursor_as_redis_does() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["SET", "k", "v"], b"+OK\r\n");
    // A negative cursor wraps past the last partition: nothing left.
    exchange(&mut c, &["SCAN", "-1"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    exchange(&mut c, &["SCAN", "-"], b"-ERR invalid cursor\r\n");
}

#[test]
fn client_list_takes_a_type_or_ids_and_nothing_else() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["CLIENT", "LIST", "x"], SYNTAX);
    exchange(&mut c, &["CLIENT", "LIST", "ID"], SYNTAX);
    exchange(
        &mut c,
        &["CLIENT", "LIST", "TYPE", "bogus"],
        b"-ERR Unknown client type 'bogus'\r\n",
    );
    exchange(
        &mut c,
        &["CLIENT", "LIST", "ID", "abc"],
        b"-ERR Invalid client ID\r\n",
    );
    exchange(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"], b"$0\r\n\r\n");
    exchange(&mut c, &["CLIENT", "LIST", "ID", "999999"], b"$0\r\n\r\n");
    let id = c.call(&["CLIENT", "ID"]).int().to_string();
    let mine = c.call(&["CLIENT", "LIST", "ID", &id]).text();
    assert!(mine.starts_with(&format!("id={id} ")), "{mine}");
    assert_eq!(mine.lines().count(), 1);
    let normal = c.call(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    assert!(normal.contains(&format!("id={id} ")), "{normal}");
}

#[test]
fn command_list_takes_one_filter() {
    let server = Server::start();
    let mut c = server.client();
    exchange(&mut c, &["COMMAND", "LIST", "x"], SYNTAX);
    exchange(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "bogus", "x"],
        SYNTAX,
    );
    exchange(&mut c, &["COMMAND", "LIST", "FILTERBY", "PATTERN"], SYNTAX);
    exchange(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "SETN*"],
        b"*1\r\n$5\r\nsetnx\r\n",
    );
    exchange(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "m"],
        b"*0\r\n",
    );
}

#[test]
fn hello_applies_each_option_as_it_reads_it() {
    let server = Server::start_with(&["--requirepass", "pw"]);
    let mut c = server.client();
    // A good AUTH holds though a later option is bad, as in Redis.
    exchange(
        &mut c,
        &["HELLO", "2", "AUTH", "default", "pw", "BOGUS"],
        b"-ERR Syntax error in HELLO option 'BOGUS'\r\n",
    );
    exchange(&mut c, &["PING"], b"+PONG\r\n");
    let mut d = server.client();
    exchange(
        &mut d,
        &["HELLO", "2", "AUTH", "default", "wrong", "BOGUS"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
}
