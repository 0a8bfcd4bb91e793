//! Snapshot persistence, end to end: the real binary saving, being stopped
//! (politely or with SIGKILL) and starting again on the same `--dir`.
//!
//! Every wait polls until a generous deadline; nothing relies on a sleep being
//! long enough. Every server is killed when its guard drops.

mod common;

use common::{
    Client, Resp, Server, encode, info_field, info_fields, start_expecting_failure, wait_for,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Starts on `dir` (which the test owns, so a later start finds what this one
/// saved) with periodic snapshots off.
fn start_on(dir: &Path) -> Server {
    Server::start_in(dir, &["--snapshot-interval", "0"])
}

/// Waits for the server to exit on its own and asserts it exited with 0.
fn assert_exits_zero(server: &mut Server) {
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
}

/// Waits until no background save is pending or running.
fn wait_background_save(c: &mut Client) {
    wait_for("the background save to finish", || {
        info_field(c, "persistence", "rdb_bgsave_in_progress") == "0"
    });
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn snapshot(dir: &Path) -> PathBuf {
    dir.join("dump.gcs")
}

#[test]
fn a_restart_restores_values_binary_keys_and_counting_ttls_but_not_keys_expired_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let binary_key: &[u8] = b"bin\r\nkey\0\xff";
    let binary_value: &[u8] = b"\0\r\n$3\r\nnot a frame\xfe";
    let short_lived_deadline;
    let ttl_before;
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["SET", "plain", "value"]), Resp::ok());
        assert_eq!(c.call(&[b"SET", binary_key, binary_value]), Resp::ok());
        assert_eq!(c.call(&["SET", "empty", ""]), Resp::ok());
        assert_eq!(
            c.call(&["SET", "long-ttl", "x", "PX", "100000"]),
            Resp::ok()
        );
        short_lived_deadline = now_ms() + 1500;
        assert_eq!(c.call(&["SET", "short-ttl", "y", "PX", "1500"]), Resp::ok());
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        ttl_before = c.call(&["PTTL", "long-ttl"]).int();
        assert!(ttl_before > 0 && ttl_before <= 100_000);
        server.kill();
    }
    // Let the short deadline pass while the server is down.
    while now_ms() <= short_lived_deadline + 50 {
        thread::sleep(Duration::from_millis(20));
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(c.call(&["GET", "plain"]), Resp::bulk("value"));
    assert_eq!(c.call(&[b"GET", binary_key]), Resp::bulk(binary_value));
    assert_eq!(c.call(&["GET", "empty"]), Resp::bulk(""));
    let ttl_after = c.call(&["PTTL", "long-ttl"]).int();
    assert!(
        ttl_after > 0 && ttl_after < ttl_before,
        "{ttl_after} vs {ttl_before}"
    );
    assert_eq!(c.call(&["EXISTS", "short-ttl"]).int(), 0);
    assert_eq!(c.call(&["DBSIZE"]).int(), 4);
    let info = info_fields(&mut c, "persistence");
    let field = |name: &str| {
        info.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("rdb_last_load_keys_loaded"), Some("4"));
    assert_eq!(field("rdb_last_load_keys_expired"), Some("1"));
    assert_eq!(field("rdb_changes_since_last_save"), Some("0"));
}

#[test]
fn a_restored_deadline_reaches_the_sweeper_without_the_key_being_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["SET", "fleeting", "v", "PX", "6000"]), Resp::ok());
        assert_eq!(c.call(&["SET", "stays", "v"]), Resp::ok());
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        server.kill();
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_load_keys_loaded"),
        "2",
        "the restart took longer than the key's six seconds"
    );
    wait_for("the sweeper to expire it", || {
        info_field(&mut c, "stats", "expired_keys") == "1"
    });
    assert_eq!(c.call(&["DBSIZE"]).int(), 1);
}

/// A small time-seeded PRNG (xorshift64*), so every run kills at other moments.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn crash_key(round: usize, i: usize) -> Vec<u8> {
    format!("r{round}:{i}").into_bytes()
}

fn crash_value(round: usize, i: usize) -> Vec<u8> {
    format!("value {round}/{i}\r\n\0").into_bytes()
}

/// What a writer of one crash round saw before the kill.
struct RoundLog {
    /// SETs sent, acknowledged or not: no key beyond these exists.
    sent: usize,
    /// Every key below this was acknowledged before a `BGSAVE` that was then
    /// seen to complete successfully.
    durable: usize,
    completed_saves: usize,
}

/// Writes `r{round}:{i}` for i = 0, 1, 2, ... in pipelined batches on one
/// connection, asking for a `BGSAVE` whenever none is pending, until the
/// server dies under it. Past [`KEYS_PER_ROUND`] it keeps writing, setting
/// the round's last key again to the same value, so saves stay small.
fn write_until_killed(mut c: Client, round: usize) -> RoundLog {
    const BATCH: usize = 10;
    const KEYS_PER_ROUND: usize = 10_000;
    let mut log = RoundLog {
        sent: 0,
        durable: 0,
        completed_saves: 0,
    };
    let mut acked = 0;
    // Keys below this were all acknowledged before the pending BGSAVE was sent.
    let mut pending_save: Option<usize> = None;
    loop {
        let mut out = Vec::new();
        for i in acked..acked + BATCH {
            let i = i.min(KEYS_PER_ROUND - 1);
            out.extend(encode(&[
                &b"SET"[..],
                &crash_key(round, i),
                &crash_value(round, i),
            ]));
        }
        if c.try_send(&out).is_err() {
            return log;
        }
        log.sent = (acked + BATCH).min(KEYS_PER_ROUND);
        for _ in 0..BATCH {
            match c.try_read_resp() {
                Ok(reply) => assert_eq!(reply, Resp::ok()),
                Err(_) => return log,
            }
            acked = (acked + 1).min(KEYS_PER_ROUND);
        }
        match pending_save {
            None => match c
                .try_send(encode(&["BGSAVE"]))
                .and_then(|()| c.try_read_resp())
            {
                Ok(Resp::Simple(s)) if s == "Background saving started" => {
                    pending_save = Some(acked);
                }
                Ok(other) => panic!("BGSAVE answered {other:?}"),
                Err(_) => return log,
            },
            Some(covered) => {
                let info = match c
                    .try_send(encode(&["INFO", "persistence"]))
                    .and_then(|()| c.try_read_resp())
                {
                    Ok(Resp::Bulk(text)) => String::from_utf8(text).unwrap(),
                    Ok(other) => panic!("INFO answered {other:?}"),
                    Err(_) => return log,
                };
                // Status and progress change together under the server's
                // lock, so one INFO reply shows both of the same save.
                if info.contains("rdb_bgsave_in_progress:0\r\n") {
                    assert!(
                        info.contains("rdb_last_bgsave_status:ok\r\n"),
                        "a save failed: {info}"
                    );
                    log.durable = covered;
                    log.completed_saves += 1;
                    pending_save = None;
                }
            }
        }
    }
}

/// How many of `r{round}:0..sent` exist; asserts that they are exactly a
/// prefix (a point-in-time snapshot of one in-order writer) with right values.
fn surviving_prefix(c: &mut Client, round: usize, sent: usize) -> usize {
    let mut kept = None;
    for start in (0..sent).step_by(500) {
        let keys: Vec<Vec<u8>> = (start..(start + 500).min(sent))
            .map(|i| crash_key(round, i))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(Vec::as_slice));
        let Resp::Array(values) = c.call(&args) else {
            panic!("MGET did not answer an array")
        };
        for (offset, value) in values.iter().enumerate() {
            let i = start + offset;
            let value = match value {
                Resp::Bulk(v) => Some(v.as_slice()),
                Resp::NilBulk => None,
                other => panic!("MGET answered {other:?} for key {i}"),
            };
            match (value, kept) {
                (Some(v), None) => assert_eq!(v, crash_value(round, i), "round {round} key {i}"),
                (None, None) => kept = Some(i),
                (Some(_), Some(gap)) => {
                    panic!("round {round}: key {i} survived but key {gap} did not")
                }
                (None, Some(_)) => {}
            }
        }
    }
    kept.unwrap_or(sent)
}

#[test]
fn crash_loop_never_loses_a_write_acknowledged_before_the_last_completed_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::seeded();
    eprintln!("crash loop PRNG seed {:#x}", rng.0);
    const ROUNDS: usize = 20;
    // Keys kept of each finished round, and the log of the last killed one.
    let mut kept_per_round: Vec<usize> = Vec::new();
    let mut last: Option<RoundLog> = None;
    let mut saves_seen = 0;
    for round in 0..=ROUNDS {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        if let Some(log) = last.take() {
            let kept = surviving_prefix(&mut c, round - 1, log.sent);
            assert!(
                kept >= log.durable,
                "round {}: {kept} keys survived, but {} were acknowledged before a completed save",
                round - 1,
                log.durable
            );
            kept_per_round.push(kept);
        }
        let expected: usize = kept_per_round.iter().sum();
        assert_eq!(
            c.call(&["DBSIZE"]).int() as usize,
            expected,
            "round {round}"
        );
        if round == ROUNDS {
            // The last start only checks: every round's keys, in full.
            for (r, &kept) in kept_per_round.iter().enumerate() {
                assert_eq!(surviving_prefix(&mut c, r, kept + 1), kept, "round {r}");
            }
            break;
        }
        let writer = {
            let c = server.client();
            thread::spawn(move || write_until_killed(c, round))
        };
        thread::sleep(Duration::from_millis(150 + rng.below(450)));
        server.kill();
        let log = writer.join().expect("writer thread");
        saves_seen += log.completed_saves;
        last = Some(log);
    }
    assert!(
        saves_seen > 0,
        "no save ever completed: the test proved nothing"
    );
    eprintln!("crash loop: {saves_seen} saves completed, keys kept per round {kept_per_round:?}");
}

/// Writes a few keys, shuts down cleanly, and returns the snapshot's bytes.
fn valid_snapshot(dir: &Path) -> Vec<u8> {
    let mut server = start_on(dir);
    let mut c = server.client();
    for i in 0..20 {
        let (key, value) = (format!("key{i}"), format!("value{i}"));
        assert_eq!(c.call(&["SET", &key, &value]), Resp::ok());
    }
    assert_eq!(c.call(&["SET", "with-ttl", "v", "EX", "1000"]), Resp::ok());
    assert_eq!(c.call(&["SAVE"]), Resp::ok());
    server.kill();
    std::fs::read(snapshot(dir)).unwrap()
}

fn assert_refuses_to_start(dir: &Path, damaged: &[u8], what: &str) {
    std::fs::write(snapshot(dir), damaged).unwrap();
    let failed = start_expecting_failure(dir, &[]);
    assert!(!failed.status.success(), "{what}: started anyway");
    assert_eq!(failed.status.code(), Some(1), "{what}");
    assert!(
        !failed.stdout.contains("listening"),
        "{what}: {}",
        failed.stdout
    );
    let path = snapshot(dir).display().to_string();
    assert!(
        failed.stderr.contains(&path) && failed.stderr.contains("is corrupt"),
        "{what}: stderr does not name {path}:\n{}",
        failed.stderr
    );
    assert_eq!(
        std::fs::read(snapshot(dir)).unwrap(),
        damaged,
        "{what}: the file was changed"
    );
}

#[test]
fn a_snapshot_with_one_flipped_byte_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid_snapshot(dir.path());
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    assert_refuses_to_start(dir.path(), &bytes, "flipped byte");
}

#[test]
fn a_truncated_snapshot_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = valid_snapshot(dir.path());
    assert_refuses_to_start(dir.path(), &bytes[..bytes.len() - 7], "truncated");
    assert_refuses_to_start(dir.path(), &bytes[..12], "cut inside the header");
}

#[test]
fn a_snapshot_with_a_wrong_magic_refuses_to_start_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid_snapshot(dir.path());
    bytes[..5].copy_from_slice(b"REDIS");
    assert_refuses_to_start(dir.path(), &bytes, "wrong magic");
}

#[cfg(unix)]
#[test]
fn sigterm_saves_the_last_acknowledged_write_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        for i in 0..100 {
            let (key, value) = (format!("k{i}"), format!("v{i}"));
            assert_eq!(c.call(&["SET", &key, &value]), Resp::ok());
        }
        assert_eq!(c.call(&["SET", "last", "acknowledged"]), Resp::ok());
        let sent = Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        assert_exits_zero(&mut server);
        server.wait_for_stderr("final DB save");
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(c.call(&["GET", "last"]), Resp::bulk("acknowledged"));
    assert_eq!(c.call(&["DBSIZE"]).int(), 101);
}

#[test]
fn shutdown_saves_the_last_acknowledged_write_and_exits_zero_without_replying() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["SET", "last", "acknowledged"]), Resp::ok());
        c.send(encode(&["SHUTDOWN"]));
        // SHUTDOWN must not reply before exiting: the connection just closes.
        c.expect_eof();
        assert_exits_zero(&mut server);
    }
    let server = start_on(dir.path());
    assert_eq!(
        server.client().call(&["GET", "last"]),
        Resp::bulk("acknowledged")
    );
}

#[test]
fn shutdown_nosave_exits_zero_without_saving() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["SET", "saved", "yes"]), Resp::ok());
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        assert_eq!(c.call(&["SET", "unsaved", "yes"]), Resp::ok());
        c.send(encode(&["SHUTDOWN", "NOSAVE"]));
        assert_exits_zero(&mut server);
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(c.call(&["EXISTS", "saved"]).int(), 1);
    assert_eq!(c.call(&["EXISTS", "unsaved"]).int(), 0);
}

#[test]
fn a_failed_save_keeps_the_old_snapshot_and_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "1"]), Resp::ok());
    assert_eq!(c.call(&["SAVE"]), Resp::ok());
    let good = std::fs::read(snapshot(dir.path())).unwrap();
    let lastsave = c.call(&["LASTSAVE"]).int();

    // A directory where the temporary file must go: even root cannot create it.
    let blocker = dir.path().join("dump.gcs.tmp");
    std::fs::create_dir(&blocker).unwrap();
    assert_eq!(c.call(&["SET", "k", "2"]), Resp::ok());
    assert_eq!(
        c.call(&["BGSAVE"]),
        Resp::simple("Background saving started")
    );
    wait_background_save(&mut c);
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "err"
    );
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save"),
        "1"
    );
    assert_eq!(c.call(&["SAVE"]), Resp::err("ERR"));
    assert_eq!(c.call(&["LASTSAVE"]).int(), lastsave);
    assert_eq!(
        c.call(&["SHUTDOWN"]),
        Resp::err("ERR Errors trying to SHUTDOWN. Check logs.")
    );
    // Still serving, and writes are no longer frozen.
    assert_eq!(c.call(&["SET", "k", "3"]), Resp::ok());
    assert_eq!(c.call(&["GET", "k"]), Resp::bulk("3"));
    assert_eq!(std::fs::read(snapshot(dir.path())).unwrap(), good);
    server.wait_for_stderr("previous snapshot is kept");

    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(c.call(&["SAVE"]), Resp::ok());
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    c.send(encode(&["SHUTDOWN"]));
    assert_exits_zero(&mut server);
    let server = start_on(dir.path());
    assert_eq!(server.client().call(&["GET", "k"]), Resp::bulk("3"));
}

#[test]
fn an_unusable_dir_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let afile = dir.path().join("afile");
    std::fs::write(&afile, b"a regular file").unwrap();
    let bad = afile.join("sub");
    let failed = start_expecting_failure(&bad, &[]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        failed.stderr.contains(&bad.display().to_string()),
        "{}",
        failed.stderr
    );
    assert!(!failed.stdout.contains("listening"));
}

#[test]
fn a_missing_dir_is_created_and_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let server = start_on(&nested);
    assert!(nested.is_dir());
    assert_eq!(server.client().call(&["DBSIZE"]).int(), 0);
}

#[test]
fn persistence_commands_answer_as_redis_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(dir.path());
    let mut c = server.client();
    let before = c.call(&["LASTSAVE"]).int();
    assert!((before - (now_ms() / 1000) as i64).abs() <= 5);
    assert_eq!(c.call(&["BGSAVE", "now"]), Resp::err("ERR syntax error"));
    assert_eq!(
        c.call(&["SAVE", "x"]),
        Resp::err("ERR wrong number of arguments for 'save' command")
    );
    assert_eq!(
        c.call(&["SHUTDOWN", "bogus"]),
        Resp::err("ERR syntax error")
    );
    assert_eq!(
        c.call(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        Resp::err("ERR syntax error")
    );
    assert_eq!(
        c.call(&["SHUTDOWN", "ABORT"]),
        Resp::err("ERR No shutdown in progress.")
    );

    // Inside MULTI: SAVE and SHUTDOWN are refused; BGSAVE is scheduled, and
    // a second one finds the first still pending (EXEC's guard holds it).
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(
        c.call(&["SAVE"]),
        Resp::err("ERR Command not allowed inside a transaction")
    );
    assert_eq!(c.call(&["DISCARD"]), Resp::ok());
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["BGSAVE"]), Resp::simple("QUEUED"));
    assert_eq!(c.call(&["BGSAVE", "SCHEDULE"]), Resp::simple("QUEUED"));
    assert_eq!(
        c.call(&["EXEC"]),
        Resp::Array(vec![
            Resp::simple("Background saving scheduled"),
            Resp::err("ERR Background save already in progress"),
        ])
    );
    wait_background_save(&mut c);
    assert_eq!(info_field(&mut c, "persistence", "rdb_saves"), "1");
    assert!(snapshot(dir.path()).exists());
    assert!(c.call(&["LASTSAVE"]).int() >= before);
    let info = info_fields(&mut c, "persistence");
    for field in [
        "loading",
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_time_sec",
        "aof_enabled",
    ] {
        assert!(info.iter().any(|(k, _)| k == field), "INFO lacks {field}");
    }
}

#[test]
fn periodic_snapshots_save_only_after_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--snapshot-interval", "1"]);
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
    wait_for("a periodic save", || {
        info_field(&mut c, "persistence", "rdb_saves") == "1"
    });
    assert!(snapshot(dir.path()).exists());
    // Nothing changed since: two more intervals bring no save.
    thread::sleep(Duration::from_millis(2300));
    assert_eq!(info_field(&mut c, "persistence", "rdb_saves"), "1");
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
}

#[test]
fn every_database_survives_a_restart_and_too_few_databases_refuse_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["SET", "k", "in 0"]), Resp::ok());
        assert_eq!(c.call(&["SELECT", "9"]), Resp::ok());
        assert_eq!(c.call(&["SET", "k", "in 9"]), Resp::ok());
        assert_eq!(c.call(&["SET", "t", "x", "PX", "100000"]), Resp::ok());
        assert_eq!(c.call(&["SELECT", "15"]), Resp::ok());
        assert_eq!(c.call(&["SET", "last", "in 15"]), Resp::ok());
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        server.kill();
    }
    {
        let server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(c.call(&["GET", "k"]), Resp::bulk("in 0"));
        assert_eq!(c.call(&["DBSIZE"]).int(), 1);
        assert_eq!(c.call(&["SELECT", "9"]), Resp::ok());
        assert_eq!(c.call(&["GET", "k"]), Resp::bulk("in 9"));
        let ttl = c.call(&["PTTL", "t"]).int();
        assert!(ttl > 0 && ttl <= 100_000, "{ttl}");
        assert_eq!(c.call(&["SELECT", "15"]), Resp::ok());
        assert_eq!(c.call(&["GET", "last"]), Resp::bulk("in 15"));
        let keyspace = info_fields(&mut c, "keyspace");
        let names: Vec<&str> = keyspace.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["db0", "db9", "db15"]);
        assert!(
            keyspace[1].1.starts_with("keys=2,expires=1,"),
            "{keyspace:?}"
        );
    }
    // A server with fewer databases than the file names refuses to start,
    // and leaves the file as it was.
    let file = dir.path().join("dump.gcs");
    let before = std::fs::read(&file).unwrap();
    let failed = start_expecting_failure(dir.path(), &["--databases", "10"]);
    assert!(!failed.status.success());
    assert!(
        failed.stderr.contains("database 15") && failed.stderr.contains("--databases"),
        "{}",
        failed.stderr
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn a_version_1_snapshot_loads_into_database_0() {
    let dir = tempfile::tempdir().unwrap();
    // What an earlier build wrote: no database sections, one entry.
    let mut bytes = b"GOCACHE\0".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&[3, b'o', b'l', b'd', 2, b'v', b'1', 0]);
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.path().join("dump.gcs"), &bytes).unwrap();
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(c.call(&["GET", "old"]), Resp::bulk("v1"));
    assert_eq!(c.call(&["SELECT", "1"]), Resp::ok());
    assert_eq!(c.call(&["DBSIZE"]).int(), 0);
}

/// CRC-32 (IEEE), bit by bit: slow and obviously right, for building files.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
