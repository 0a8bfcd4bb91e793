//! Active expiry, end to end: the real binary on an ephemeral port, spoken to
//! in RESP. Keys must disappear on their deadlines without anyone reading
//! them, in deadline order, and never early.
//!
//! `DBSIZE` and `KEYS` would hide or sweep an expired key themselves, so the
//! proof that the sweeper removed a key is `INFO stats` `expired_keys`, which
//! only removals advance; `EXISTS` and `KEYS` never remove anything.
//! Every wait polls with a generous deadline: CI is a loaded 2-core machine.

mod common;

use common::Server;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long any condition may take to come true before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A RESP client whose replies are compared as the bytes sent.
struct Client(common::Client);

fn client(server: &Server) -> Client {
    Client(server.client())
}

impl Client {
    /// Sends one command and returns its whole reply, bytes as sent.
    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        self.0.call_raw(args)
    }

    fn send(&mut self, args: &[&str]) {
        self.0.send(common::encode(args));
    }

    fn reply(&mut self) -> Vec<u8> {
        self.0.read_resp_raw()
    }

    /// The `expired_keys` counter from `INFO stats`.
    fn expired_keys(&mut self) -> u64 {
        let info = String::from_utf8(self.call(&["INFO", "stats"])).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .expect("INFO stats has expired_keys")
            .trim()
            .parse()
            .unwrap()
    }

    /// Polls until `expired_keys` reaches `n`; fails if it passes it.
    fn wait_expired(&mut self, n: u64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = self.expired_keys();
            assert!(seen <= n, "expired_keys is {seen}, expected {n}");
            if seen == n {
                return;
            }
            assert!(Instant::now() < deadline, "expired_keys stuck at {seen}");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The keys of a `KEYS` reply, in any order.
fn key_names(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut names: Vec<String> = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.starts_with('$') && !l.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[test]
fn a_key_set_with_px_200_is_swept_without_being_read() {
    let server = Server::start();
    let mut c = client(&server);
    assert_eq!(c.call(&["SET", "short", "v", "PX", "200"]), b"+OK\r\n");
    assert_eq!(c.call(&["SET", "plain", "v"]), b"+OK\r\n");
    // Nothing reads the key: only the sweeper can advance the counter.
    c.wait_expired(1);
    assert_eq!(c.call(&["DBSIZE"]), b":1\r\n");
    assert_eq!(c.call(&["KEYS", "*"]), b"*1\r\n$5\r\nplain\r\n");
}

#[test]
fn collections_with_a_deadline_are_swept_without_being_read() {
    let server = Server::start();
    let mut c = client(&server);
    assert_eq!(c.call(&["HSET", "h", "f", "v"]), b":1\r\n");
    assert_eq!(c.call(&["RPUSH", "l", "a", "b"]), b":2\r\n");
    assert_eq!(c.call(&["SADD", "s", "1", "x"]), b":2\r\n");
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "2.5", "b"]), b":2\r\n");
    for i in 0..200 {
        let member = format!("m{i}");
        assert_eq!(
            c.call(&["ZADD", "bigz", &i.to_string(), &member]),
            b":1\r\n"
        );
    }
    assert_eq!(c.call(&["SADD", "kept", "1"]), b":1\r\n");
    for key in ["h", "l", "s", "z", "bigz"] {
        assert_eq!(c.call(&["PEXPIRE", key, "200"]), b":1\r\n");
    }
    // Nothing reads them: only the sweeper can advance the counter.
    c.wait_expired(5);
    assert_eq!(c.call(&["DBSIZE"]), b":1\r\n");
    assert_eq!(c.call(&["KEYS", "*"]), b"*1\r\n$4\r\nkept\r\n");
    assert_eq!(c.call(&["TYPE", "h"]), b"+none\r\n");
}

#[test]
fn overwriting_without_a_ttl_cancels_the_expiry() {
    let server = Server::start();
    let mut c = client(&server);
    assert_eq!(c.call(&["SET", "k", "old", "PX", "300"]), b"+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "new"]), b"+OK\r\n");
    // A marker set afterwards expires no earlier than k would have.
    assert_eq!(c.call(&["SET", "marker", "v", "PX", "300"]), b"+OK\r\n");
    c.wait_expired(1);
    assert_eq!(c.call(&["GET", "k"]), b"$3\r\nnew\r\n");
    assert_eq!(c.call(&["TTL", "k"]), b":-1\r\n");
    assert_eq!(c.call(&["DBSIZE"]), b":1\r\n");
}

#[test]
fn persist_cancels_the_expiry() {
    let server = Server::start();
    let mut c = client(&server);
    assert_eq!(c.call(&["SET", "k", "v", "PX", "300"]), b"+OK\r\n");
    assert_eq!(c.call(&["PERSIST", "k"]), b":1\r\n");
    assert_eq!(c.call(&["SET", "marker", "v", "PX", "300"]), b"+OK\r\n");
    c.wait_expired(1);
    assert_eq!(c.call(&["EXISTS", "k"]), b":1\r\n");
    assert_eq!(c.call(&["TTL", "k"]), b":-1\r\n");
}

#[test]
fn a_second_expire_moves_the_deadline_later_and_the_key_survives_the_first() {
    let server = Server::start();
    let mut c = client(&server);
    assert_eq!(c.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.call(&["PEXPIRE", "k", "300"]), b":1\r\n");
    let moved_at = now_ms();
    assert_eq!(c.call(&["PEXPIRE", "k", "1500"]), b":1\r\n");
    assert_eq!(c.call(&["SET", "marker", "v", "PX", "300"]), b"+OK\r\n");
    c.wait_expired(1);
    assert_eq!(c.call(&["EXISTS", "k"]), b":1\r\n");
    // And it does go on its new deadline, swept like any other.
    c.wait_expired(2);
    assert!(
        now_ms() >= moved_at + 1500,
        "k went before its new deadline"
    );
    assert_eq!(c.call(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn many_keys_with_different_ttls_disappear_in_deadline_order_and_never_early() {
    let server = Server::start();
    let mut c = client(&server);
    const N: usize = 5;
    const SPACING_MS: u64 = 300;
    // Set the latest first, so no key's deadline depends on how fast the
    // others were set; `set_before[i]` bounds key i's deadline from below.
    let mut set_before = [0u64; N];
    for i in (0..N).rev() {
        set_before[i] = now_ms();
        let ttl = (SPACING_MS * (i as u64 + 1)).to_string();
        assert_eq!(
            c.call(&["SET", &format!("k{i}"), "v", "PX", &ttl]),
            b"+OK\r\n"
        );
    }
    let earliest_deadline = |i: usize| set_before[i] + SPACING_MS * (i as u64 + 1);
    let deadline = Instant::now() + PATIENCE;
    loop {
        // One KEYS reply is one instant's view of the keyspace.
        let present = key_names(&c.call(&["KEYS", "*"]));
        let expired = c.expired_keys();
        let seen_at = now_ms();
        let gone: Vec<bool> = (0..N)
            .map(|i| !present.contains(&format!("k{i}")))
            .collect();
        for i in 0..N {
            if gone[i] {
                assert!(
                    gone[..i].iter().all(|g| *g),
                    "k{i} went before an earlier key: {present:?}"
                );
            }
        }
        let due = (0..N).filter(|&i| earliest_deadline(i) <= seen_at).count();
        assert!(
            expired as usize <= due,
            "{expired} swept but only {due} due"
        );
        if expired as usize == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {expired} of {N} keys swept"
        );
        thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(c.call(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn a_deadline_in_the_past_deletes_the_key_at_once() {
    let server = Server::start();
    let mut c = client(&server);
    for k in ["a", "b", "c", "d"] {
        assert_eq!(c.call(&["SET", k, "v"]), b"+OK\r\n");
    }
    assert_eq!(c.call(&["EXPIRE", "a", "-1"]), b":1\r\n");
    assert_eq!(c.call(&["EXPIREAT", "b", "1"]), b":1\r\n");
    assert_eq!(c.call(&["PEXPIREAT", "c", "1"]), b":1\r\n");
    assert_eq!(c.call(&["GETEX", "d", "PXAT", "1"]), b"$1\r\nv\r\n");
    assert_eq!(c.call(&["EXISTS", "a", "b", "c", "d"]), b":0\r\n");
    assert_eq!(c.call(&["DBSIZE"]), b":0\r\n");
    // Deleted, not left behind for the sweeper: once a later marker has been
    // swept, the counter holds the marker alone. (Redis 7.0 counts such a
    // deletion as a DEL, not as an expiry; gocache does the same.)
    assert_eq!(c.call(&["SET", "marker", "v", "PX", "100"]), b"+OK\r\n");
    c.wait_expired(1);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(c.expired_keys(), 1);

    // SET with a deadline already past stores and expires the key at once;
    // Redis 7.0 counts that one as expired.
    assert_eq!(c.call(&["SET", "e", "v", "PXAT", "1"]), b"+OK\r\n");
    assert_eq!(c.call(&["EXISTS", "e"]), b":0\r\n");
    assert_eq!(c.call(&["DBSIZE"]), b":0\r\n");
    assert_eq!(c.expired_keys(), 2);
}

#[test]
fn info_stats_expired_keys_counts_every_swept_key() {
    let server = Server::start();
    let mut c = client(&server);
    // Pipelined: 200 keys with short, different TTLs and 10 without.
    for i in 0..200 {
        let ttl = (100 + i % 50).to_string();
        c.send(&["SET", &format!("t{i}"), "v", "PX", &ttl]);
    }
    for i in 0..10 {
        c.send(&["SET", &format!("p{i}"), "v"]);
    }
    for _ in 0..210 {
        assert_eq!(c.reply(), b"+OK\r\n");
    }
    c.wait_expired(200);
    assert_eq!(c.call(&["DBSIZE"]), b":10\r\n");
    assert_eq!(c.expired_keys(), 200);
}

/// The server's resident memory in bytes (`VmRSS` in `/proc/PID/status`).
fn rss_bytes(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("/proc/PID/status (Linux)");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

const MIB: u64 = 1 << 20;

/// Polls until the server's RSS is at most `limit`; fails after
/// [`PATIENCE`], saying by how much it is still over `base`.
fn wait_for_rss_at_most(server: &Server, limit: u64, base: u64, what: &str) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = rss_bytes(server);
        if now <= limit {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "RSS still {:.1} MiB over its level before, {} s after {what}",
            (now - base) as f64 / MIB as f64,
            PATIENCE.as_secs()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_thousand_ttl_changes_of_a_large_key_keep_one_copy_and_del_gives_it_back() {
    // Each change that sets a deadline used to leave another copy of the key
    // in the expiry queue, kept after DEL: 750 of the 1,000 changes below,
    // 47 MiB of copies of this key. (Kept small, and so is the pipeline:
    // the debug build takes milliseconds to hash a key this long.)
    const KEY_BYTES: usize = 64 << 10;
    const CHANGES: usize = 1000;
    const PIPELINE: usize = 10;
    let server = Server::start();
    let mut c = client(&server);
    let key = "k".repeat(KEY_BYTES);
    assert_eq!(c.call(&["SET", &key, "v", "EX", "3600"]), b"+OK\r\n");
    let before = rss_bytes(&server);

    // EXPIRE, PEXPIRE, GETEX, PERSIST and SET KEEPTTL, over and over; the
    // replies are fixed because a TTL always precedes PERSIST.
    let change = |i: usize| -> (Vec<String>, &'static [u8]) {
        let n = |base: usize| (base + i).to_string();
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        match i % 8 {
            0 | 4 => (s(&["EXPIRE", &key, &n(3600)]), b":1\r\n"),
            1 | 5 => (s(&["PEXPIRE", &key, &n(3_600_000)]), b":1\r\n"),
            2 => (s(&["GETEX", &key, "EX", &n(7200)]), b"$1\r\nv\r\n"),
            3 => (s(&["PERSIST", &key]), b":1\r\n"),
            6 => (s(&["GETEX", &key, "PX", &n(7_200_000)]), b"$1\r\nv\r\n"),
            _ => (s(&["SET", &key, "v", "KEEPTTL"]), b"+OK\r\n"),
        }
    };
    for batch in 0..CHANGES / PIPELINE {
        let mut expected = Vec::new();
        for i in batch * PIPELINE..(batch + 1) * PIPELINE {
            let (args, reply) = change(i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            c.send(&args);
            expected.push((i, reply));
        }
        for (i, reply) in expected {
            assert_eq!(c.reply(), reply, "change {i}");
        }
    }
    let ttl = String::from_utf8(c.call(&["PTTL", &key])).unwrap();
    assert!(ttl.starts_with(":7"), "the last GETEX PX set it: {ttl:?}");
    let changed = rss_bytes(&server);
    let grown = changed.saturating_sub(before);
    assert!(
        grown < 16 * MIB,
        "RSS grew by {:.1} MiB over {CHANGES} TTL changes of a {} KiB key \
         ({:.1} MiB before, {:.1} MiB after)",
        grown as f64 / MIB as f64,
        KEY_BYTES >> 10,
        before as f64 / MIB as f64,
        changed as f64 / MIB as f64
    );

    // After DEL no write comes: what the key held must come back anyway.
    assert_eq!(c.call(&["DEL", &key]), b":1\r\n");
    let after = wait_for_rss_at_most(&server, before + 4 * MIB, before, "DEL");
    eprintln!(
        "RSS: {:.1} MiB before, {:.1} MiB after {CHANGES} changes, {:.1} MiB after DEL",
        before as f64 / MIB as f64,
        changed as f64 / MIB as f64,
        after as f64 / MIB as f64
    );
    assert_eq!(c.call(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn deleted_keys_with_ttls_give_their_memory_back_with_no_further_writes() {
    // 32 keys of 256 KiB with a TTL, changed once, then deleted: their
    // stale hints (64, far below the count that starts a compaction) keep
    // 8 MiB of key copies until the sweeper compacts them on its own.
    // Allocations this large get pages of their own (`os::tune_allocator`),
    // so each free shows in RSS at once.
    const KEY_BYTES: usize = 256 << 10;
    const KEYS: usize = 32;
    let server = Server::start();
    let mut c = client(&server);
    let keys: Vec<String> = (0..KEYS)
        .map(|i| format!("{i:02}{}", "k".repeat(KEY_BYTES - 2)))
        .collect();
    assert_eq!(c.call(&["SET", "marker", "v"]), b"+OK\r\n");
    let before = rss_bytes(&server);
    for k in &keys {
        c.send(&["SET", k, "v", "EX", "3600"]);
        c.send(&["EXPIRE", k, "7200"]);
        assert_eq!(c.reply(), b"+OK\r\n");
        assert_eq!(c.reply(), b":1\r\n");
    }
    let loaded = rss_bytes(&server);
    assert!(
        loaded >= before + 8 * MIB,
        "the keys should show: {:.1} MiB loaded, {:.1} MiB before",
        loaded as f64 / MIB as f64,
        before as f64 / MIB as f64
    );
    for k in &keys {
        c.send(&["DEL", k]);
    }
    for _ in &keys {
        assert_eq!(c.reply(), b":1\r\n");
    }
    let after = wait_for_rss_at_most(&server, before + 4 * MIB, before, "the DELs");
    eprintln!(
        "RSS: {:.1} MiB before, {:.1} MiB loaded, {:.1} MiB after DEL",
        before as f64 / MIB as f64,
        loaded as f64 / MIB as f64,
        after as f64 / MIB as f64
    );
    assert_eq!(c.call(&["DBSIZE"]), b":1\r\n");
}
