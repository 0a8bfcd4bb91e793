//! The append-only log, over sockets: the real binary killed with SIGKILL
//! under `appendfsync always` (with and without a rewrite under way) loses
//! no acknowledged write; `BGREWRITEAOF` leaves only the files its manifest
//! names; the log switched on and off at runtime; a truncated tail loaded
//! and cut (or refused), corruption refused with every file left as it was;
//! a full disk refusing writes with `MISCONF` until space returns; the
//! parameters' defaults; and a snapshot becoming the log's first base.
//!
//! The log's layout is `src/aof/mod.rs`'s: `--dir`/`appendonlydir/`, with
//! `appendonly.aof.manifest` naming `appendonly.aof.N.base.gcs` and
//! `appendonly.aof.N.incr.gcl`; an incremental file is a 12-byte header,
//! then records of an 8-byte little-endian payload length, a 4-byte CRC-32
//! and the payload (`src/aof/record.rs`).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The log on, synced before every reply, no snapshots.
const ALWAYS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// The log's directory under `dir`.
fn log_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

/// The manifest's path under `dir`.
fn manifest_path(dir: &Path) -> PathBuf {
    log_dir(dir).join("appendonly.aof.manifest")
}

/// The base and the incremental files the manifest names, in its order.
fn manifest(dir: &Path) -> (Option<String>, Vec<String>) {
    let text = fs::read_to_string(manifest_path(dir)).expect("read the manifest");
    let mut base = None;
    let mut incrs = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("base ") {
            base = Some(name.to_string());
        } else if let Some(name) = line.strip_prefix("incr ") {
            incrs.push(name.to_string());
        }
    }
    (base, incrs)
}

/// The last incremental file the manifest names: the one being appended.
fn last_incr(dir: &Path) -> PathBuf {
    let (_, incrs) = manifest(dir);
    log_dir(dir).join(
        incrs
            .last()
            .expect("the manifest names an incremental file"),
    )
}

/// Where each record of an incremental file's bytes starts, after the
/// 12-byte header; the bytes must hold whole records only.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    assert_eq!(&bytes[..8], b"GOCACHEL", "the incremental file's magic");
    let mut starts = Vec::new();
    let mut at = 12;
    while at < bytes.len() {
        assert!(bytes.len() - at >= 12, "a record header cut at {at}");
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        assert!(
            len >= 1 && at + 12 + len <= bytes.len(),
            "a bad record at {at}"
        );
        starts.push(at);
        at += 12 + len;
    }
    starts
}

/// Every file under `dir` (recursively) with its bytes.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = fs::read(&path).expect("read");
                all.insert(path, bytes);
            }
        }
    }
    all
}

/// Sends `commands` pipelined (in chunks) and returns their replies.
fn pipeline(c: &mut Client, commands: &[Vec<String>]) -> Vec<Resp> {
    let mut replies = Vec::with_capacity(commands.len());
    for chunk in commands.chunks(200) {
        let mut bytes = Vec::new();
        for command in chunk {
            bytes.extend_from_slice(&encode(command));
        }
        c.send(bytes);
        for _ in chunk {
            replies.push(c.read_resp());
        }
    }
    replies
}

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Asserts each `(key, value)` is a string key holding that value.
fn assert_strings(c: &mut Client, pairs: &[(String, String)], what: &str) {
    let commands: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, _)| vec!["GET".to_string(), k.clone()])
        .collect();
    let replies = pipeline(c, &commands);
    for ((key, value), reply) in pairs.iter().zip(replies) {
        assert_eq!(reply, Resp::bulk(value), "{what}: GET {key}");
    }
}

/// Asserts none of `keys` exists.
fn assert_absent(c: &mut Client, keys: &[String], what: &str) {
    let commands: Vec<Vec<String>> = keys
        .iter()
        .map(|k| vec!["EXISTS".to_string(), k.clone()])
        .collect();
    for (key, reply) in keys.iter().zip(pipeline(c, &commands)) {
        assert_eq!(reply, Resp::Int(0), "{what}: {key} should be absent");
    }
}

/// What one writer had acknowledged when the server died under it.
#[derive(Debug, Default)]
struct WriterLog {
    /// `SET key value`, acknowledged `+OK`.
    sets: Vec<(String, String)>,
    /// `HSET key field value`, acknowledged `:1`.
    hsets: Vec<(String, String, String)>,
    /// The list `RPUSH` grew, and the elements acknowledged, in order.
    list: String,
    pushed: Vec<String>,
    /// The counter `INCR` raised, and its last acknowledged value.
    counter: String,
    counted: i64,
}

/// Client threads writing distinct keys of their own until stopped, the
/// server dies, a count or [`DEADLINE`]; each keeps what was acknowledged.
struct Writers {
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    threads: Vec<thread::JoinHandle<WriterLog>>,
}

impl Writers {
    /// `n` writers against `addr`, their keys prefixed by `tag`.
    fn start(addr: SocketAddr, tag: &str, n: usize) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
        let threads = (0..n)
            .map(|t| {
                // Connected before the thread starts: a kill that comes
                // early still finds every writer connected.
                let mut c = Client::connect(addr);
                let (stop, acks) = (stop.clone(), acks.clone());
                let prefix = format!("{tag}:t{t}");
                thread::spawn(move || write_until_stopped(&mut c, &prefix, &stop, &acks))
            })
            .collect();
        Writers {
            stop,
            acks,
            threads,
        }
    }

    fn acks(&self) -> usize {
        self.acks.load(Ordering::Relaxed)
    }

    /// Waits until `n` writes were acknowledged or `most` has passed.
    fn wait_acks(&self, n: usize, most: Duration) {
        let start = Instant::now();
        while self.acks() < n && start.elapsed() < most {
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the writers (if the server has not ended them) and returns
    /// what each had acknowledged.
    fn finish(self) -> Vec<WriterLog> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("a writer failed"))
            .collect()
    }
}

fn write_until_stopped(
    c: &mut Client,
    prefix: &str,
    stop: &AtomicBool,
    acks: &AtomicUsize,
) -> WriterLog {
    let mut log = WriterLog {
        list: format!("{prefix}:list"),
        counter: format!("{prefix}:counter"),
        ..WriterLog::default()
    };
    let hash = format!("{prefix}:hash");
    let start = Instant::now();
    for i in 0..200_000u64 {
        if stop.load(Ordering::Relaxed) || start.elapsed() > DEADLINE {
            break;
        }
        let (key, value) = (format!("{prefix}:s{i}"), format!("v{i}"));
        let (field, element) = (format!("f{i}"), format!("e{i}"));
        let request = match i % 5 {
            0 | 1 => encode(&["SET", &key, &value]),
            2 => encode(&["RPUSH", &log.list, &element]),
            3 => encode(&["HSET", &hash, &field, &value]),
            _ => encode(&["INCR", &log.counter]),
        };
        if c.try_send(request).is_err() {
            break;
        }
        // The server is killed under the writers: a closed connection ends
        // the writer, and the write in flight was never acknowledged.
        let Ok(reply) = c.try_read_resp() else {
            break;
        };
        match i % 5 {
            0 | 1 => {
                assert_eq!(reply, Resp::ok(), "SET {key}");
                log.sets.push((key, value));
            }
            2 => {
                assert_eq!(reply, Resp::Int(log.pushed.len() as i64 + 1), "RPUSH");
                log.pushed.push(element);
            }
            3 => {
                assert_eq!(reply, Resp::Int(1), "HSET {field}");
                log.hsets.push((hash.clone(), field, value));
            }
            _ => {
                assert_eq!(reply, Resp::Int(log.counted + 1), "INCR");
                log.counted += 1;
            }
        }
        acks.fetch_add(1, Ordering::Relaxed);
    }
    log
}

/// Asserts every write `logs` acknowledged is held by the server; the one
/// write each writer had in flight may or may not be.
fn assert_acknowledged(c: &mut Client, logs: &[WriterLog], what: &str) {
    for log in logs {
        assert_strings(c, &log.sets, what);
        let commands: Vec<Vec<String>> = log
            .hsets
            .iter()
            .map(|(k, f, _)| words(&["HGET", k, f]))
            .collect();
        for ((k, f, v), reply) in log.hsets.iter().zip(pipeline(c, &commands)) {
            assert_eq!(reply, Resp::bulk(v), "{what}: HGET {k} {f}");
        }
        let list = c.call(&["LRANGE", &log.list, "0", "-1"]);
        let list: Vec<String> = match list {
            Resp::Array(items) => items.iter().map(Resp::text).collect(),
            other => panic!("{what}: LRANGE {}: {other:?}", log.list),
        };
        assert!(
            list.len() <= log.pushed.len() + 1 && list.starts_with(&log.pushed),
            "{what}: {} holds {} elements, {} acknowledged",
            log.list,
            list.len(),
            log.pushed.len()
        );
        let counter = match c.call(&["GET", &log.counter]) {
            Resp::NilBulk => 0,
            reply => reply.text().parse::<i64>().expect("a counter"),
        };
        assert!(
            counter == log.counted || counter == log.counted + 1,
            "{what}: {} is {counter}, {} acknowledged",
            log.counter,
            log.counted
        );
    }
}

fn total_acks(logs: &[WriterLog]) -> usize {
    logs.iter()
        .map(|l| l.sets.len() + l.hsets.len() + l.pushed.len() + l.counted as usize)
        .sum()
}

#[test]
fn kill_9_under_appendfsync_always_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut rounds: Vec<Vec<WriterLog>> = Vec::new();
    for round in 0..3 {
        let mut server = Server::start_in(dir.path(), ALWAYS);
        let mut c = server.client();
        for (i, earlier) in rounds.iter().enumerate() {
            assert_acknowledged(&mut c, earlier, &format!("round {i}, after kill {round}"));
        }
        let writers = Writers::start(server.addr, &format!("r{round}"), 4);
        writers.wait_acks(1500, Duration::from_secs(3));
        server.kill();
        let logs = writers.finish();
        assert!(total_acks(&logs) > 0, "round {round}: nothing was written");
        println!("round {round}: {} writes acknowledged", total_acks(&logs));
        rounds.push(logs);
    }
    let server = Server::start_in(dir.path(), ALWAYS);
    let mut c = server.client();
    for (i, logs) in rounds.iter().enumerate() {
        assert_acknowledged(&mut c, logs, &format!("round {i}, after the last kill"));
    }
}

/// `n` keys of 100 bytes each, written with `MSET`s: enough data that a
/// rewrite takes a moment.
fn preload(c: &mut Client, n: usize) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = (0..n)
        .map(|i| (format!("pre:{i}"), format!("{i:0>100}")))
        .collect();
    for chunk in pairs.chunks(500) {
        let mut args = vec!["MSET".to_string()];
        for (k, v) in chunk {
            args.push(k.clone());
            args.push(v.clone());
        }
        assert_eq!(c.call(&args), Resp::ok());
    }
    pairs
}

/// Asks for a rewrite; one already running is as good.
fn bgrewriteaof(c: &mut Client) {
    match c.call(&["BGREWRITEAOF"]) {
        Resp::Simple(s) if s == "Background append only file rewriting started" => {}
        Resp::Error(e) if e == "ERR Background append only file rewriting already in progress" => {}
        other => panic!("BGREWRITEAOF: {other:?}"),
    }
}

#[test]
fn kill_9_during_bgrewriteaof_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let preloaded = {
        let mut server = Server::start_in(dir.path(), ALWAYS);
        let pairs = preload(&mut server.client(), 20_000);
        server.kill();
        pairs
    };
    // Every 7th preloaded key is checked after each kill, all at the end.
    let sample: Vec<(String, String)> = preloaded.iter().step_by(7).cloned().collect();
    let mut rounds: Vec<Vec<WriterLog>> = Vec::new();
    let mut rewriting_at_kill = 0;
    for round in 0..3 {
        let mut server = Server::start_in(dir.path(), ALWAYS);
        let mut c = server.client();
        assert_strings(&mut c, &sample, &format!("preloaded, after kill {round}"));
        for (i, earlier) in rounds.iter().enumerate() {
            assert_acknowledged(&mut c, earlier, &format!("round {i}, after kill {round}"));
        }
        let writers = Writers::start(server.addr, &format!("r{round}"), 4);
        writers.wait_acks(100, Duration::from_secs(3));
        match round {
            // Killed as soon as the rewrite started.
            0 => bgrewriteaof(&mut c),
            // Rewrites asked for again and again while the writes go on.
            1 => {
                let start = Instant::now();
                for _ in 0..50 {
                    bgrewriteaof(&mut c);
                    let target = writers.acks() + 100;
                    writers.wait_acks(target, Duration::from_millis(200));
                    if start.elapsed() > Duration::from_secs(2) {
                        break;
                    }
                }
            }
            // A few writes after the rewrite started.
            _ => {
                bgrewriteaof(&mut c);
                let target = writers.acks() + 20;
                writers.wait_acks(target, Duration::from_secs(1));
            }
        }
        if info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "1" {
            rewriting_at_kill += 1;
        }
        server.kill();
        let logs = writers.finish();
        assert!(total_acks(&logs) > 0, "round {round}: nothing was written");
        rounds.push(logs);
    }
    let server = Server::start_in(dir.path(), ALWAYS);
    let mut c = server.client();
    assert_strings(&mut c, &preloaded, "preloaded, after the last kill");
    for (i, logs) in rounds.iter().enumerate() {
        assert_acknowledged(&mut c, logs, &format!("round {i}, after the last kill"));
    }
    // A rewrite after the crashes finishes and removes what they left.
    bgrewriteaof(&mut c);
    wait_for("the rewrite to finish", || {
        info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
    // How often the kill landed inside a rewrite, for whoever reads the log.
    println!("kills during a rewrite: {rewriting_at_kill} of 3");
    assert_only_named_files(dir.path());
}

/// Asserts the log's directory holds the manifest and exactly the files it
/// names.
fn assert_only_named_files(dir: &Path) {
    let (base, incrs) = manifest(dir);
    let mut expected: Vec<String> = incrs;
    expected.extend(base);
    expected.push("appendonly.aof.manifest".to_string());
    expected.sort();
    let mut found: Vec<String> = fs::read_dir(log_dir(dir))
        .expect("the log's directory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, expected, "the log's directory");
}

#[test]
fn bgrewriteaof_during_writes_keeps_every_key_and_only_the_files_its_manifest_names() {
    let dir = tempfile::tempdir().unwrap();
    let flags = &["--appendonly", "yes", "--save", ""];
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let preloaded;
    {
        let mut server = Server::start_in(dir.path(), flags);
        let mut c = server.client();
        preloaded = preload(&mut c, 5_000);
        let rewrites: u64 = info_field(&mut c, "persistence", "aof_rewrites")
            .parse()
            .unwrap();
        let written = acked.clone();
        let churn = Churn::start(server.addr, 100_000, move |c, i| {
            let (key, value) = (format!("churn:{i}"), format!("value {i}"));
            assert_eq!(c.call(&["SET", &key, &value]), Resp::ok());
            written.lock().unwrap().push((key, value));
        });
        let count = |acked: &Arc<Mutex<Vec<(String, String)>>>| acked.lock().unwrap().len();
        wait_for("writes before the rewrite", || count(&acked) >= 200);
        // What a crashed rewrite leaves: an incremental file and a base
        // the manifest no longer names, and a base killed while it was
        // written (`SnapshotPaths::replace_with`'s `NAME.tmp`, never
        // renamed). The rewrite's clean-up removes them all.
        for leftover in [
            "appendonly.aof.0.incr.gcl",
            "appendonly.aof.0.base.gcs",
            "appendonly.aof.90.base.gcs.tmp",
        ] {
            fs::write(log_dir(dir.path()).join(leftover), b"left by a crash").unwrap();
        }
        assert_eq!(
            c.call(&["BGREWRITEAOF"]),
            Resp::simple("Background append only file rewriting started")
        );
        wait_for("the rewrite to be counted", || {
            info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "0"
                && info_field(&mut c, "persistence", "aof_rewrites")
                    .parse::<u64>()
                    .unwrap()
                    == rewrites + 1
        });
        let after = count(&acked) + 200;
        wait_for("writes after the rewrite", || count(&acked) >= after);
        churn.finish();
        assert_eq!(
            info_field(&mut c, "persistence", "aof_last_bgrewrite_status"),
            "ok"
        );
        assert_eq!(
            info_field(&mut c, "persistence", "aof_last_write_status"),
            "ok"
        );
        assert_only_named_files(dir.path());
        let (base, incrs) = manifest(dir.path());
        assert!(base.is_some(), "a rewrite leaves a base");
        assert_eq!(
            incrs.len(),
            1,
            "a finished rewrite leaves one incremental file"
        );
        c.send(encode(&["SHUTDOWN", "NOSAVE"]));
        c.expect_eof();
        let status = server.wait_exit();
        assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
    }
    assert!(
        !dir.path().join("dump.gcs").exists(),
        "no snapshot: the data must come from the log"
    );
    let server = Server::start_in(dir.path(), flags);
    let mut c = server.client();
    let acked = acked.lock().unwrap().clone();
    assert_strings(&mut c, &preloaded, "preloaded");
    assert_strings(&mut c, &acked, "written during the rewrite");
    assert_eq!(
        c.call(&["DBSIZE"]).int() as usize,
        preloaded.len() + acked.len()
    );
}

/// `count` keys `tag:i` set to `tag-i`; returns them.
fn set_keys(c: &mut Client, tag: &str, count: usize) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = (0..count)
        .map(|i| (format!("{tag}:{i}"), format!("{tag}-{i}")))
        .collect();
    let commands: Vec<Vec<String>> = pairs.iter().map(|(k, v)| words(&["SET", k, v])).collect();
    for ((k, _), reply) in pairs.iter().zip(pipeline(c, &commands)) {
        assert_eq!(reply, Resp::ok(), "SET {k}");
    }
    pairs
}

fn wait_log_idle(c: &mut Client, enabled: &str) {
    wait_for(&format!("aof_enabled:{enabled} and no rewrite"), || {
        info_field(c, "persistence", "aof_enabled") == enabled
            && info_field(c, "persistence", "aof_rewrite_in_progress") == "0"
    });
}

#[test]
fn config_set_appendonly_yes_logs_what_was_there_and_what_follows_and_no_stops_logging() {
    let dir = tempfile::tempdir().unwrap();
    let on = &["--appendonly", "yes", "--save", ""];
    let (before, during, after);
    {
        let mut server = Server::start_in(dir.path(), &["--save", ""]);
        let mut c = server.client();
        assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "0");
        before = set_keys(&mut c, "before", 300);
        assert_eq!(c.call(&["CONFIG", "SET", "appendonly", "yes"]), Resp::ok());
        // Written while the first base may still be under way.
        during = set_keys(&mut c, "during", 300);
        wait_log_idle(&mut c, "1");
        assert_eq!(
            info_field(&mut c, "persistence", "aof_last_bgrewrite_status"),
            "ok"
        );
        after = set_keys(&mut c, "after", 300);
        assert!(manifest_path(dir.path()).exists());
        server.kill();
    }
    let off;
    {
        let mut server = Server::start_in(dir.path(), on);
        let mut c = server.client();
        for (pairs, what) in [(&before, "before"), (&during, "during"), (&after, "after")] {
            assert_strings(
                &mut c,
                pairs,
                &format!("written {what} CONFIG SET appendonly yes"),
            );
        }
        assert_eq!(c.call(&["DBSIZE"]).int(), 900);
        assert_eq!(c.call(&["CONFIG", "SET", "appendonly", "no"]), Resp::ok());
        wait_log_idle(&mut c, "0");
        assert_eq!(
            c.call(&["CONFIG", "GET", "appendonly"]).pairs()[0].1,
            Resp::bulk("no")
        );
        off = set_keys(&mut c, "off", 100);
        server.kill();
    }
    let server = Server::start_in(dir.path(), on);
    let mut c = server.client();
    assert_strings(&mut c, &before, "before");
    assert_strings(&mut c, &after, "after");
    let off_keys: Vec<String> = off.into_iter().map(|(k, _)| k).collect();
    assert_absent(&mut c, &off_keys, "written after CONFIG SET appendonly no");
    assert_eq!(c.call(&["DBSIZE"]).int(), 900);
}

/// Writes `count` keys with the log synced before each reply, kills the
/// server, and returns the keys.
fn write_then_kill(dir: &Path, count: usize) -> Vec<(String, String)> {
    let mut server = Server::start_in(dir, ALWAYS);
    let mut c = server.client();
    let pairs: Vec<(String, String)> = (0..count)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    // One at a time: a record each.
    for (k, v) in &pairs {
        assert_eq!(c.call(&["SET", k, v]), Resp::ok());
    }
    server.kill();
    pairs
}

/// Asserts a start refuses, naming `file` and each of `needles`, and
/// changes no file under `dir`.
fn assert_refused(dir: &Path, extra: &[&str], file: &Path, needles: &[&str]) -> String {
    let before = files_under(dir);
    let failed = start_expecting_failure(dir, extra);
    assert!(
        !failed.status.success(),
        "the start should fail; stderr:\n{}",
        failed.stderr
    );
    assert!(
        !failed.stdout.contains("listening"),
        "it must not listen: {}",
        failed.stdout
    );
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        failed.stderr.contains(&name),
        "stderr should name {name}:\n{}",
        failed.stderr
    );
    for needle in needles {
        assert!(
            failed.stderr.contains(needle),
            "stderr should say {needle:?}:\n{}",
            failed.stderr
        );
    }
    assert!(files_under(dir) == before, "a refused start changed a file");
    failed.stderr
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn a_truncated_tail_is_loaded_and_cut_by_default_and_refused_with_aof_load_truncated_no() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = write_then_kill(dir.path(), 50);
    let incr = last_incr(dir.path());
    let whole = fs::read(&incr).unwrap();
    let starts = record_starts(&whole);
    assert!(starts.len() >= 50, "a record per SET: {}", starts.len());
    let last_start = *starts.last().unwrap();
    assert!(
        whole[last_start..].windows(3).any(|w| w == b"k49"),
        "the last record is the last SET"
    );
    let strict: Vec<&str> = ALWAYS
        .iter()
        .copied()
        .chain(["--aof-load-truncated", "no"])
        .collect();

    // 1. The first 5 bytes of a record header after the whole records.
    append_bytes(&incr, &whole[last_start..last_start + 5]);
    let cut_at = whole.len().to_string();
    assert_refused(
        dir.path(),
        &strict,
        &incr,
        &[&format!("at byte {cut_at}"), "aof-load-truncated no"],
    );
    {
        let mut server = Server::start_in(dir.path(), ALWAYS);
        server.wait_for_stderr(&format!("ends inside a record at byte {cut_at}"));
        let stderr = server.stderr_text();
        let name = incr.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&name) && l.contains(&cut_at)),
            "the warning names the file and the offset:\n{stderr}"
        );
        assert_strings(&mut server.client(), &pairs, "after the truncated load");
        assert_eq!(
            fs::read(&incr).unwrap(),
            whole,
            "the partial record was cut"
        );
        server.kill();
    }
    // Cut, it now loads even with aof-load-truncated no.
    {
        let server = Server::start_in(dir.path(), &strict);
        assert_strings(&mut server.client(), &pairs, "after the cut");
    }

    // 2. The last record cut 3 bytes short.
    fs::OpenOptions::new()
        .write(true)
        .open(&incr)
        .unwrap()
        .set_len(whole.len() as u64 - 3)
        .unwrap();
    let cut_at = last_start.to_string();
    assert_refused(dir.path(), &strict, &incr, &[&format!("at byte {cut_at}")]);
    {
        let mut server = Server::start_in(dir.path(), ALWAYS);
        server.wait_for_stderr(&format!("ends inside a record at byte {cut_at}"));
        let mut c = server.client();
        assert_strings(&mut c, &pairs[..49], "the whole records");
        assert_absent(&mut c, &["k49".to_string()], "the cut record");
        assert_eq!(fs::read(&incr).unwrap(), &whole[..last_start]);
        server.kill();
    }
    let server = Server::start_in(dir.path(), &strict);
    let mut c = server.client();
    assert_strings(&mut c, &pairs[..49], "after the second cut");
    assert_eq!(c.call(&["DBSIZE"]).int(), 49);
}

#[test]
fn corruption_inside_the_log_or_its_manifest_refuses_to_start_and_changes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = write_then_kill(dir.path(), 20);
    let incr = last_incr(dir.path());
    let whole = fs::read(&incr).unwrap();
    let starts = record_starts(&whole);
    assert!(starts.len() >= 20);
    // The last byte of the third record's payload (a value byte).
    let bad_record = starts[2];
    let mut bad = whole.clone();
    bad[starts[3] - 1] ^= 0x20;
    fs::write(&incr, &bad).unwrap();
    for extra in [&[][..], &["--aof-load-truncated", "yes"][..]] {
        let flags: Vec<&str> = ALWAYS
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect();
        assert_refused(
            dir.path(),
            &flags,
            &incr,
            &[&format!("at byte {bad_record}"), "checksum"],
        );
    }
    fs::write(&incr, &whole).unwrap();

    // A manifest with one byte changed.
    let manifest_file = manifest_path(dir.path());
    let text = fs::read(&manifest_file).unwrap();
    let mut bad = text.clone();
    let at = text.iter().position(|&b| b == b'\n').unwrap() + 1; // "seq ..."
    bad[at] = b'S';
    fs::write(&manifest_file, &bad).unwrap();
    assert_refused(dir.path(), ALWAYS, &manifest_file, &[]);
    // A manifest naming a file that is not there.
    let missing = String::from_utf8(text.clone())
        .unwrap()
        .replace(".incr.gcl", ".incr.gcx");
    fs::write(&manifest_file, missing).unwrap();
    assert_refused(dir.path(), ALWAYS, &manifest_file, &[]);
    fs::write(&manifest_file, &text).unwrap();

    // Put back, the log loads whole.
    let server = Server::start_in(dir.path(), ALWAYS);
    assert_strings(&mut server.client(), &pairs, "the repaired log");
}

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size`, or says why it could not.
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("id -u: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not running as root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Fills the file system `path` is on, writing `path` until it is full.
fn fill_disk(path: &Path) {
    let mut f = fs::File::create(path).expect("create the filler");
    for size in [64 * 1024, 4096, 512] {
        let chunk = vec![0xa5u8; size];
        for _ in 0..100_000 {
            match f.write(&chunk) {
                Ok(n) if n == size => {}
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("writing the filler: {e}"),
            }
        }
    }
}

/// One phase of the full-disk test under `policy`, in `dir` on a small
/// tmpfs whose free space `filler` (on the same tmpfs) takes.
fn full_disk_phase(dir: &Path, filler: &Path, policy: &str) {
    fs::create_dir_all(dir).unwrap();
    let flags = &["--appendonly", "yes", "--appendfsync", policy, "--save", ""];
    let mut server = Server::start_in(dir, flags);
    let mut c = server.client();
    let first = set_keys(&mut c, "first", 50);
    fill_disk(filler);

    // A writer of 1000-byte values: the first write that does not fit fails
    // the log; under `always` its reply waits for space, under `everysec`
    // it is acknowledged (its bytes stay buffered) and later ones refused.
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let mut c = server.client();
        let stop = stop.clone();
        thread::spawn(move || {
            let value = "x".repeat(1000);
            let mut replies = Vec::new();
            for i in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("probe:{i}");
                c.send(encode(&["SET", &key, &value]));
                let reply = c.read_resp();
                let refused = matches!(reply, Resp::Error(_));
                replies.push((key, reply));
                if refused {
                    break;
                }
            }
            replies
        })
    };
    wait_for("aof_last_write_status:err", || {
        info_field(&mut c, "persistence", "aof_last_write_status") == "err"
    });
    let mut refused = Vec::new();
    for i in 0..5 {
        let key = format!("refused:{i}");
        for request in [
            words(&["SET", &key, "v"]),
            words(&["RPUSH", &key, "e"]),
            words(&["INCR", &key]),
        ] {
            match c.call(&request) {
                Resp::Error(e) => assert!(
                    e.starts_with("MISCONF Errors writing to the AOF file: "),
                    "{policy}: {request:?} got {e}"
                ),
                other => panic!("{policy}: {request:?} while the disk is full: {other:?}"),
            }
        }
        refused.push(key);
    }
    assert_eq!(
        c.call(&["GET", &first[0].0]),
        Resp::bulk(&first[0].1),
        "{policy}: reads go on"
    );
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_write_status"),
        "err"
    );

    fs::remove_file(filler).unwrap();
    wait_for("aof_last_write_status:ok", || {
        info_field(&mut c, "persistence", "aof_last_write_status") == "ok"
    });
    stop.store(true, Ordering::Relaxed);
    let probed = probe.join().expect("the probe failed");
    let mut acked: Vec<(String, String)> = Vec::new();
    for (key, reply) in probed {
        match reply {
            Resp::Simple(s) if s == "OK" => acked.push((key, "x".repeat(1000))),
            Resp::Error(e) if e.starts_with("MISCONF Errors writing to the AOF file: ") => {
                refused.push(key)
            }
            other => panic!("{policy}: the probe's SET {key} got {other:?}"),
        }
    }
    let later = set_keys(&mut c, "later", 50);
    server.kill();
    println!(
        "{policy}: {} probe writes acknowledged, {} writes refused",
        acked.len(),
        refused.len()
    );

    let server = Server::start_in(dir, flags);
    let mut c = server.client();
    assert_strings(&mut c, &first, &format!("{policy}: before the disk filled"));
    assert_strings(
        &mut c,
        &acked,
        &format!("{policy}: acknowledged as it filled"),
    );
    assert_strings(&mut c, &later, &format!("{policy}: after space returned"));
    assert_absent(&mut c, &refused, &format!("{policy}: refused"));
    assert_eq!(
        c.call(&["DBSIZE"]).int() as usize,
        first.len() + acked.len() + later.len()
    );
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_until_space_returns_and_loses_no_acknowledged_write() {
    let tmpfs = match Tmpfs::mount("2m") {
        Ok(t) => t,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    for policy in ["always", "everysec"] {
        let dir = tmpfs.path().join(policy);
        full_disk_phase(&dir, &tmpfs.path().join("filler"), policy);
        // Room for the next phase.
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_log_parameters_have_redis_defaults_and_only_appendfsync_and_appendonly_change() {
    let server = Server::start();
    let mut c = server.client();
    let get = |c: &mut Client, name: &str| {
        let pairs = c.call(&["CONFIG", "GET", name]).pairs();
        assert_eq!(pairs.len(), 1, "CONFIG GET {name}");
        pairs[0].1.text()
    };
    for (name, default) in [
        ("appendonly", "no"),
        ("appendfsync", "everysec"),
        ("appendfilename", "appendonly.aof"),
        ("appenddirname", "appendonlydir"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "67108864"),
        ("aof-load-truncated", "yes"),
    ] {
        assert_eq!(get(&mut c, name), default, "{name}");
    }
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendfsync", "always"]),
        Resp::ok()
    );
    assert_eq!(get(&mut c, "appendfsync"), "always");
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendfsync", "sometimes"]),
        Resp::err(
            "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: always, everysec, no"
        )
    );
    for name in ["appendfilename", "appenddirname"] {
        assert_eq!(
            c.call(&["CONFIG", "SET", name, "x"]),
            Resp::err(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            )),
            "{name}"
        );
    }
    assert_eq!(get(&mut c, "appendfilename"), "appendonly.aof");
    assert_eq!(
        info_field(&mut c, "persistence", "aof_enabled"),
        "0",
        "appendfsync alone does not switch the log on"
    );
}

#[test]
fn appendonly_yes_over_a_snapshot_and_no_log_starts_with_the_snapshot_as_its_first_base() {
    let dir = tempfile::tempdir().unwrap();
    let saved = {
        let mut server = Server::start_in(dir.path(), &[]);
        let mut c = server.client();
        let pairs = set_keys(&mut c, "saved", 200);
        c.send(encode(&["SHUTDOWN"]));
        c.expect_eof();
        assert_eq!(server.wait_exit().code(), Some(0));
        pairs
    };
    assert!(dir.path().join("dump.gcs").exists(), "SHUTDOWN saved");
    assert!(!log_dir(dir.path()).exists());
    let on = &["--appendonly", "yes", "--save", ""];
    let logged = {
        let mut server = Server::start_in(dir.path(), on);
        let mut c = server.client();
        assert_strings(&mut c, &saved, "from the snapshot");
        wait_log_idle(&mut c, "1");
        let (base, _) = manifest(dir.path());
        assert!(base.is_some(), "the snapshot's data became the first base");
        let pairs = set_keys(&mut c, "logged", 50);
        server.kill();
        pairs
    };
    // The log alone holds the data now.
    fs::remove_file(dir.path().join("dump.gcs")).unwrap();
    let server = Server::start_in(dir.path(), on);
    let mut c = server.client();
    assert_strings(&mut c, &saved, "the first base, after kill -9");
    assert_strings(&mut c, &logged, "logged, after kill -9");
    assert_eq!(c.call(&["DBSIZE"]).int(), 250);
}
