//! The memory limit, end to end: a write flood far past `maxmemory` keeps
//! the server alive and within its limit, the policies choose as they
//! promise, `noeviction` refuses only what grows, a lowered limit evicts
//! at once, and an eviction is a change `WATCH` sees.

mod common;

use common::{Client, Resp, Server, encode, info_field};

const MB: u64 = 1024 * 1024;

/// A numeric field of `INFO section`.
fn info_number(c: &mut Client, section: &str, field: &str) -> u64 {
    info_field(c, section, field).parse().unwrap()
}

/// Sets each key of `keys` to `value`, pipelined, and returns how many
/// were refused with the OOM error (any other reply but OK fails).
fn set_all(c: &mut Client, keys: impl Iterator<Item = String> + Clone, value: &[u8]) -> usize {
    let mut batch = Vec::new();
    for key in keys.clone() {
        batch.extend(encode(&[b"SET".as_slice(), key.as_bytes(), value]));
    }
    c.send(batch);
    let mut refused = 0;
    for _ in keys {
        match c.read_resp() {
            Resp::Simple(s) if s == "OK" => {}
            Resp::Error(e) if e.starts_with("OOM ") => refused += 1,
            other => panic!("SET answered {other:?}"),
        }
    }
    refused
}

#[test]
fn a_flood_ten_times_the_limit_keeps_used_memory_within_it_and_the_read_keys() {
    let server = Server::start_with(&["--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = server.client();
    let limit = 20 * MB;
    let value = vec![b'v'; 4096];
    // 200 hot keys, read after every batch of writes.
    let hot: Vec<String> = (0..200).map(|i| format!("hot:{i}")).collect();
    assert_eq!(set_all(&mut c, hot.iter().cloned(), &value), 0);
    let mut highest_used = 0;
    // 50 batches of 1,000 new 4 KiB keys: 200 MB, ten times the limit.
    for batch in 0..50 {
        let keys = (0..1000).map(move |i| format!("cold:{batch}:{i}"));
        assert_eq!(
            set_all(&mut c, keys, &value),
            0,
            "allkeys-lru refused a write"
        );
        let mut reads = Vec::new();
        for key in &hot {
            reads.extend(encode(&["GET", key]));
        }
        c.send(reads);
        for key in &hot {
            let found = c.read_resp() == Resp::bulk(&value);
            assert!(found, "{key} was evicted in batch {batch}");
        }
        let used = info_number(&mut c, "memory", "used_memory");
        highest_used = highest_used.max(used);
    }
    // Within the limit after each command, give or take the one key the
    // last command stored after making room for it.
    assert!(
        highest_used <= limit + 8192,
        "used_memory reached {highest_used}"
    );
    let evicted = info_number(&mut c, "stats", "evicted_keys");
    assert!(evicted > 40_000, "evicted_keys {evicted}");
    // The keys never read again went, the first written first.
    let mut early = Vec::new();
    for i in 0..100 {
        early.extend(encode(&["EXISTS", &format!("cold:0:{i}")]));
    }
    c.send(early);
    for _ in 0..100 {
        assert_eq!(c.read_resp(), Resp::Int(0));
    }
    // Memory was given back and reused: the process stays near the limit,
    // far below the 200 MB written.
    let rss = server.status_kb("VmRSS") * 1024;
    assert!(rss < 3 * limit + 16 * MB, "resident {rss} bytes");
    assert_eq!(info_field(&mut c, "memory", "maxmemory"), limit.to_string());
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "allkeys-lru"
    );
}

#[test]
fn noeviction_refuses_sets_past_the_limit_but_serves_reads_and_deletes() {
    let server = Server::start_with(&["--maxmemory", "4mb"]);
    let mut c = server.client();
    let value = vec![b'x'; 1024];
    let refused = set_all(&mut c, (0..8000).map(|i| format!("k:{i}")), &value);
    assert!(refused > 2000, "only {refused} of 8,000 refused");
    assert_eq!(info_number(&mut c, "stats", "evicted_keys"), 0);
    assert_eq!(
        c.call(&["SET", "another", "v"]),
        Resp::err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    assert_eq!(c.call(&["GET", "k:0"]), Resp::bulk(&value));
    let deleted: Vec<String> = (0..1000).map(|i| format!("k:{i}")).collect();
    let mut del = vec!["DEL"];
    del.extend(deleted.iter().map(String::as_str));
    assert_eq!(c.call(&del), Resp::Int(1000));
    // With room again, writes go through.
    assert_eq!(c.call(&["SET", "another", "v"]), Resp::ok());
}

#[test]
fn volatile_ttl_evicts_the_key_nearest_its_deadline_first_and_watch_sees_it() {
    let server = Server::start_with(&["--maxmemory-policy", "volatile-ttl"]);
    let mut c = server.client();
    let value = vec![b'x'; 1024];
    // Three keys with deadlines, each far bigger than the slack eviction
    // leaves below the limit, so each eviction takes exactly one of them.
    let big = vec![b'b'; 64 * 1024];
    for (key, ttl) in [("late", "5000"), ("soon", "1000"), ("later", "9000")] {
        let args = [
            b"SET".as_slice(),
            key.as_bytes(),
            &big,
            b"EX",
            ttl.as_bytes(),
        ];
        assert_eq!(c.call(&args), Resp::ok());
    }
    assert_eq!(
        set_all(&mut c, (0..2000).map(|i| format!("k:{i}")), &value),
        0
    );
    let mut watcher = server.client();
    assert_eq!(watcher.call(&["WATCH", "soon"]), Resp::ok());
    // A limit just below what is held: one key must go.
    let used = info_number(&mut c, "memory", "used_memory");
    let limit = (used - 600).to_string();
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", &limit]), Resp::ok());
    assert_eq!(c.call(&["EXISTS", "soon"]), Resp::Int(0));
    assert_eq!(
        c.call(&["EXISTS", "late", "later", "k:0", "k:1999"]),
        Resp::Int(4)
    );
    assert_eq!(info_number(&mut c, "stats", "evicted_keys"), 1);
    // The eviction is a change to the watched key: the transaction fails.
    assert_eq!(watcher.call(&["MULTI"]), Resp::ok());
    assert_eq!(
        watcher.call(&["SET", "soon", "again"]),
        Resp::simple("QUEUED")
    );
    assert_eq!(watcher.call(&["EXEC"]), Resp::NilArray);
    // As memory grows again, the next nearest goes, then the last (one
    // write can take both, when it passes the limit by more than a key, as
    // a table that grows does); keys without a deadline never do.
    let mut written = 0;
    for expected_gone in ["late", "later"] {
        loop {
            assert!(written < 1000, "{expected_gone} never went");
            let key = format!("more:{written}");
            written += 1;
            let args = [b"SET".as_slice(), key.as_bytes(), &value];
            assert_eq!(c.call(&args), Resp::ok());
            let late = c.call(&["EXISTS", "late"]);
            let later = c.call(&["EXISTS", "later"]);
            assert!(
                late == Resp::Int(0) || later == Resp::Int(1),
                "later went before late"
            );
            if c.call(&["EXISTS", expected_gone]) == Resp::Int(0) {
                break;
            }
        }
    }
    assert_eq!(info_number(&mut c, "stats", "evicted_keys"), 3);
    let refused = set_all(&mut c, (0..200).map(|i| format!("most:{i}")), &value);
    assert!(refused > 0, "with no key left to evict, writes are refused");
    assert_eq!(c.call(&["EXISTS", "k:0", "k:1999"]), Resp::Int(2));
}

#[test]
fn a_lowered_limit_evicts_down_to_it_before_config_set_answers() {
    let server = Server::start();
    let mut c = server.client();
    let value = vec![b'x'; 1024];
    assert_eq!(
        set_all(&mut c, (0..10_000).map(|i| format!("k:{i}")), &value),
        0
    );
    let used = info_number(&mut c, "memory", "used_memory");
    assert!(used > 10 * MB, "{used}");
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "maxmemory-policy",
            "allkeys-random",
            "maxmemory",
            "4mb"
        ]),
        Resp::ok()
    );
    let used = info_number(&mut c, "memory", "used_memory");
    assert!(
        used <= 4 * MB,
        "used_memory {used} after lowering the limit"
    );
    let keys = match c.call(&["DBSIZE"]) {
        Resp::Int(n) => n,
        other => panic!("{other:?}"),
    };
    assert!((1000..4000).contains(&keys), "{keys} keys left");
    let evicted = info_number(&mut c, "stats", "evicted_keys");
    assert_eq!(evicted, 10_000 - keys as u64);
    // The freed memory is reused: writing as much again grows nothing.
    let rss_before = server.status_kb("VmRSS");
    assert_eq!(
        set_all(&mut c, (0..10_000).map(|i| format!("n:{i}")), &value),
        0
    );
    let used = info_number(&mut c, "memory", "used_memory");
    assert!(used <= 4 * MB + 8192, "used_memory {used}");
    let rss_after = server.status_kb("VmRSS");
    assert!(
        rss_after <= rss_before + 4096,
        "{rss_before} kB -> {rss_after} kB"
    );
}
