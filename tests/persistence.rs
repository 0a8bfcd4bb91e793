//! Snapshot persistence, end to end: the real binary saving, being stopped
//! (politely or with SIGKILL) and starting again on the same `--dir`.
//!
//! Every wait polls until a generous deadline; nothing relies on a sleep being
//! long enough. Every server is killed when its guard drops.
//!
//! Hashes, lists and sets reach the server both by command (`HSET`,
//! `RPUSH`, `SADD`) and through a snapshot file a test writes with the
//! library's own encoder; `COPY` writes collections over the socket, and
//! what the server saves is read back with the library's decoder.

mod common;

use common::{
    Client, Resp, Server, encode, info_field, info_fields, start_expecting_failure, wait_for,
};
use gocache::snapshot::format::{Encoder, Payload, decode};
use gocache::value::Kind;
use std::collections::HashMap;
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

/// One key of a snapshot as these tests compare them: its database, key,
/// type, strings and deadline. A string has one string; a hash's fields
/// and values alternate, pairs sorted by field; a set's members are sorted;
/// a list's elements are in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    db: u64,
    key: Vec<u8>,
    kind: Kind,
    strings: Vec<Vec<u8>>,
    expires_at: u64,
}

impl Stored {
    fn new(db: u64, key: &str, kind: Kind, strings: Vec<Vec<u8>>, expires_at: u64) -> Stored {
        let mut stored = Stored {
            db,
            key: key.as_bytes().to_vec(),
            kind,
            strings,
            expires_at,
        };
        stored.normalise();
        stored
    }

    fn normalise(&mut self) {
        match self.kind {
            Kind::Hash => {
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = self
                    .strings
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                pairs.sort();
                self.strings = pairs.into_iter().flat_map(|(f, v)| [f, v]).collect();
            }
            Kind::Set => self.strings.sort(),
            _ => {}
        }
    }

    /// The same value under another key and database (what `COPY` makes).
    fn copied(&self, db: u64, key: &[u8]) -> Stored {
        Stored {
            db,
            key: key.to_vec(),
            ..self.clone()
        }
    }
}

fn strings<I: AsRef<[u8]>>(items: impl IntoIterator<Item = I>) -> Vec<Vec<u8>> {
    items.into_iter().map(|s| s.as_ref().to_vec()).collect()
}

/// Collections of every type, in their small and their big encodings (by
/// Redis's default thresholds), and `OBJECT ENCODING`'s name for each.
fn seeds() -> Vec<(Stored, &'static str)> {
    // One fixed deadline (2100-01-01), the same however often this is called.
    let far = 4_102_444_800_000;
    let big_hash = (0..600).flat_map(|i| [format!("field {i}"), format!("value {i}\r\n")]);
    let big_list = (0..2_000).map(|i| format!("element {i}\0"));
    let big_set = (0..600).map(|i| format!("member {i}"));
    vec![
        (
            Stored::new(
                0,
                "seed:hash",
                Kind::Hash,
                strings(["a", "1", "b", "", "c\r\n", "\0"]),
                0,
            ),
            "listpack",
        ),
        (
            Stored::new(0, "seed:big-hash", Kind::Hash, strings(big_hash), 0),
            "hashtable",
        ),
        (
            Stored::new(
                0,
                "seed:list",
                Kind::List,
                strings(["x", "", "x", "\r\n\0"]),
                0,
            ),
            "quicklist",
        ),
        (
            Stored::new(0, "seed:big-list", Kind::List, strings(big_list), far),
            "quicklist",
        ),
        (
            Stored::new(
                0,
                "seed:ints",
                Kind::Set,
                strings(["-3", "0", "9", "9223372036854775807"]),
                0,
            ),
            "intset",
        ),
        (
            Stored::new(0, "seed:big-set", Kind::Set, strings(big_set), 0),
            "hashtable",
        ),
        (
            Stored::new(7, "seed:elsewhere", Kind::Set, strings(["a", "b"]), far),
            "hashtable",
        ),
    ]
}

/// Writes `entries` as a whole snapshot at `path`, databases in order.
fn write_snapshot(path: &Path, entries: &[Stored]) {
    let mut sorted: Vec<&Stored> = entries.iter().collect();
    sorted.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
    let mut enc = Encoder::new(Vec::new(), now_ms(), sorted.len() as u64);
    let mut last = None;
    for e in sorted {
        if last != Some(e.db) {
            let n = entries.iter().filter(|x| x.db == e.db).count();
            enc.database(e.db, n as u64).unwrap();
            last = Some(e.db);
        }
        if e.kind == Kind::String {
            enc.entry(&e.key, &e.strings[0], e.expires_at).unwrap();
            continue;
        }
        let len = e.strings.len() / if e.kind == Kind::Hash { 2 } else { 1 };
        enc.begin_collection(&e.key, e.kind, len as u64).unwrap();
        for s in &e.strings {
            enc.element(s).unwrap();
        }
        enc.end_collection(e.expires_at).unwrap();
    }
    let (bytes, _) = enc.finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Every key of the snapshot at `path`, sorted by database and key.
fn read_snapshot(path: &Path) -> Vec<Stored> {
    let bytes = std::fs::read(path).unwrap();
    let mut all = Vec::new();
    decode(&bytes, |e| {
        let all_of = |x: gocache::snapshot::format::Elements<'_>| {
            x.iter().map(|s| s.bytes.to_vec()).collect::<Vec<_>>()
        };
        let (kind, strings) = match e.value {
            Payload::String(s) => (Kind::String, vec![s.to_vec()]),
            Payload::Hash(x) => (Kind::Hash, all_of(x)),
            Payload::List(x) => (Kind::List, all_of(x)),
            Payload::Set(x) => (Kind::Set, all_of(x)),
            Payload::ZSet(x) => (Kind::ZSet, all_of(x)),
        };
        let mut stored = Stored {
            db: e.db,
            key: e.key.to_vec(),
            kind,
            strings,
            expires_at: e.expires_at,
        };
        stored.normalise();
        all.push(stored);
        Ok(())
    })
    .unwrap_or_else(|flaw| panic!("{}: {flaw}", path.display()));
    all.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
    all
}

/// The collections of the snapshot at `path`.
fn saved_collections(path: &Path) -> Vec<Stored> {
    read_snapshot(path)
        .into_iter()
        .filter(|e| e.kind != Kind::String)
        .collect()
}

fn sorted(mut entries: Vec<Stored>) -> Vec<Stored> {
    entries.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
    entries
}

/// Checks `TYPE` and `OBJECT ENCODING` of every seed (selecting its
/// database), leaving database 0 selected.
fn assert_seeds_served(c: &mut Client, encodings: &HashMap<String, &str>) {
    for (seed, _) in seeds() {
        let key = String::from_utf8(seed.key.clone()).unwrap();
        assert_eq!(c.call(&["SELECT", &seed.db.to_string()]), Resp::ok());
        let kind = match seed.kind {
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::String => "string",
            Kind::ZSet => "zset",
        };
        assert_eq!(c.call(&["TYPE", &key]), Resp::simple(kind), "{key}");
        assert_eq!(
            c.call(&["OBJECT", "ENCODING", &key]),
            Resp::bulk(encodings[&key]),
            "{key}"
        );
    }
    assert_eq!(c.call(&["SELECT", "0"]), Resp::ok());
}

#[test]
fn collections_survive_saves_copies_and_restarts_in_every_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds();
    let mut expected: Vec<Stored> = seeds.iter().map(|(s, _)| s.clone()).collect();
    write_snapshot(&snapshot(dir.path()), &expected);
    let default_encodings: HashMap<String, &str> = seeds
        .iter()
        .map(|(s, e)| (String::from_utf8(s.key.clone()).unwrap(), *e))
        .collect();
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(
            info_field(&mut c, "persistence", "rdb_last_load_keys_loaded"),
            "7"
        );
        assert_eq!(c.call(&["DBSIZE"]).int(), 6);
        assert_seeds_served(&mut c, &default_encodings);
        // Read before the server's reply, so the server's clock is no
        // earlier than this one: what is left can only be less.
        let left = 4_102_444_800_000 - now_ms();
        let ttl = c.call(&["PTTL", "seed:big-list"]).int() as u64;
        assert!(ttl <= left && ttl > left - 60_000, "{ttl}");
        // Collections written over the socket: COPY makes new ones.
        assert_eq!(c.call(&["COPY", "seed:hash", "copy:hash"]).int(), 1);
        assert_eq!(
            c.call(&["COPY", "seed:big-set", "copy:big-set", "DB", "3"])
                .int(),
            1
        );
        assert_eq!(c.call(&["COPY", "seed:big-list", "copy:big-list"]).int(), 1);
        expected.push(expected[0].copied(0, b"copy:hash"));
        expected.push(expected[5].copied(3, b"copy:big-set"));
        expected.push(expected[3].copied(0, b"copy:big-list"));
        expected = sorted(expected);
        assert_eq!(c.call(&["SET", "a string", "too"]), Resp::ok());
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        assert_eq!(saved_collections(&snapshot(dir.path())), expected, "SAVE");
        server.kill();
    }
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_seeds_served(&mut c, &default_encodings);
        assert_eq!(c.call(&["TYPE", "copy:hash"]), Resp::simple("hash"));
        assert_eq!(c.call(&["GET", "a string"]), Resp::bulk("too"));
        std::fs::remove_file(snapshot(dir.path())).unwrap();
        assert_eq!(
            c.call(&["BGSAVE"]),
            Resp::simple("Background saving started")
        );
        wait_background_save(&mut c);
        assert_eq!(saved_collections(&snapshot(dir.path())), expected, "BGSAVE");
        std::fs::remove_file(snapshot(dir.path())).unwrap();
        c.send(encode(&["SHUTDOWN"]));
        assert_exits_zero(&mut server);
        assert_eq!(
            saved_collections(&snapshot(dir.path())),
            expected,
            "SHUTDOWN"
        );
    }
    // Loaded under other thresholds: the same values in other encodings.
    let server = Server::start_in(
        dir.path(),
        &[
            "--snapshot-interval",
            "0",
            "--hash-max-listpack-entries",
            "2",
            "--set-max-intset-entries",
            "3",
            "--list-max-listpack-size",
            "1",
        ],
    );
    let mut c = server.client();
    let mut tight = default_encodings.clone();
    tight.insert("seed:hash".into(), "hashtable");
    tight.insert("seed:ints".into(), "hashtable");
    assert_seeds_served(&mut c, &tight);
    assert_eq!(
        c.call(&["OBJECT", "ENCODING", "copy:hash"]),
        Resp::bulk("hashtable")
    );
    assert_eq!(c.call(&["SAVE"]), Resp::ok());
    assert_eq!(
        saved_collections(&snapshot(dir.path())),
        expected,
        "re-encoded"
    );
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

/// What the crash writer does as its `i`th write of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrashOp {
    /// `SET r{round}:{i} <crash_value>`.
    Set,
    /// `COPY <seed> r{round}:{i}`: a collection written over the socket;
    /// the seed's key and `TYPE`.
    Copy(&'static str, &'static str),
}

/// Seeds the crash writer copies: small ones throughout, big ones (a
/// table hash, a quicklist, a table set) only early in a round, so that
/// twenty rounds of copies stay a few megabytes.
const SMALL_SEEDS: [(&str, &str); 3] = [
    ("seed:hash", "hash"),
    ("seed:ints", "set"),
    ("seed:list", "list"),
];
const ALL_SEEDS: [(&str, &str); 6] = [
    ("seed:hash", "hash"),
    ("seed:ints", "set"),
    ("seed:list", "list"),
    ("seed:big-hash", "hash"),
    ("seed:big-list", "list"),
    ("seed:big-set", "set"),
];

/// Every fifth write copies a collection. The round's last key (which the
/// writer sets again and again past `KEYS_PER_ROUND`) is a `SET`.
fn crash_op(i: usize) -> CrashOp {
    if i % 5 != 3 {
        return CrashOp::Set;
    }
    let seeds: &[(&str, &str)] = if i < 200 { &ALL_SEEDS } else { &SMALL_SEEDS };
    let (seed, kind) = seeds[(i / 5) % seeds.len()];
    CrashOp::Copy(seed, kind)
}

fn crash_request(round: usize, i: usize) -> Vec<u8> {
    match crash_op(i) {
        CrashOp::Set => encode(&[&b"SET"[..], &crash_key(round, i), &crash_value(round, i)]),
        CrashOp::Copy(seed, _) => encode(&[&b"COPY"[..], seed.as_bytes(), &crash_key(round, i)]),
    }
}

fn crash_reply(i: usize) -> Resp {
    match crash_op(i) {
        CrashOp::Set => Resp::ok(),
        CrashOp::Copy(..) => Resp::Int(1),
    }
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
fn write_until_killed(c: Client, round: usize) -> RoundLog {
    write_ops_until_killed(c, round, crash_request, |i, reply| {
        assert_eq!(reply, crash_reply(i), "write {i}")
    })
}

/// [`write_until_killed`] with other writes: `request(round, i)` is the
/// `i`th, and `check(i, reply)` asserts its reply.
fn write_ops_until_killed(
    mut c: Client,
    round: usize,
    request: fn(usize, usize) -> Vec<u8>,
    check: fn(usize, Resp),
) -> RoundLog {
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
            out.extend(request(round, i.min(KEYS_PER_ROUND - 1)));
        }
        if c.try_send(&out).is_err() {
            return log;
        }
        log.sent = (acked + BATCH).min(KEYS_PER_ROUND);
        for _ in 0..BATCH {
            match c.try_read_resp() {
                Ok(reply) => check(acked.min(KEYS_PER_ROUND - 1), reply),
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
/// prefix (a point-in-time snapshot of one in-order writer) with right
/// values (strings) and types (copied collections; their contents are
/// checked against the file at the end).
fn surviving_prefix(c: &mut Client, round: usize, sent: usize) -> usize {
    let mut kept = None;
    for start in (0..sent).step_by(500) {
        let range = start..(start + 500).min(sent);
        let keys: Vec<Vec<u8>> = range.clone().map(|i| crash_key(round, i)).collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(Vec::as_slice));
        let Resp::Array(values) = c.call(&args) else {
            panic!("MGET did not answer an array")
        };
        // MGET answers nil for a collection: ask those their TYPE.
        let copies: Vec<usize> = range.filter(|&i| crash_op(i) != CrashOp::Set).collect();
        let mut out = Vec::new();
        for &i in &copies {
            out.extend(encode(&[&b"TYPE"[..], &crash_key(round, i)]));
        }
        c.send(out);
        let types: HashMap<usize, String> =
            copies.iter().map(|&i| (i, c.read_resp().text())).collect();
        for (offset, value) in values.iter().enumerate() {
            let i = start + offset;
            let present = match (crash_op(i), value) {
                (CrashOp::Set, Resp::Bulk(v)) => {
                    assert_eq!(v, &crash_value(round, i), "round {round} key {i}");
                    true
                }
                (CrashOp::Set, Resp::NilBulk) => false,
                (CrashOp::Set, other) => panic!("MGET answered {other:?} for key {i}"),
                (CrashOp::Copy(_, kind), _) => match types[&i].as_str() {
                    "none" => false,
                    found => {
                        assert_eq!(found, kind, "round {round} key {i}");
                        true
                    }
                },
            };
            match (present, kept) {
                (true, None) => {}
                (false, None) => kept = Some(i),
                (true, Some(gap)) => {
                    panic!("round {round}: key {i} survived but key {gap} did not")
                }
                (false, Some(_)) => {}
            }
        }
    }
    kept.unwrap_or(sent)
}

/// Asserts that every collection in the snapshot at `path` is a seed as
/// written, or a copy of the seed its crash key says.
fn assert_collections_are_seeds_or_their_copies(path: &Path, kept_per_round: &[usize]) {
    let seeds: HashMap<Vec<u8>, Stored> = seeds()
        .into_iter()
        .map(|(s, _)| (s.key.clone(), s))
        .collect();
    let mut copies = 0;
    for saved in saved_collections(path) {
        if let Some(seed) = seeds.get(&saved.key) {
            assert!(&saved == seed, "seed {:?} changed", seed.key.escape_ascii());
            continue;
        }
        let key = String::from_utf8(saved.key.clone()).unwrap();
        let (round, i) = key[1..].split_once(':').unwrap();
        let (round, i): (usize, usize) = (round.parse().unwrap(), i.parse().unwrap());
        assert!(i < kept_per_round[round], "{key} beyond its round's prefix");
        let CrashOp::Copy(seed, _) = crash_op(i) else {
            panic!("{key} holds a collection")
        };
        // Not assert_eq!: a big collection's Debug would fill the screen.
        let expected = seeds[seed.as_bytes()].copied(0, &saved.key);
        assert!(saved == expected, "{key} is not a copy of {seed}");
        copies += 1;
    }
    let expected: usize = kept_per_round
        .iter()
        .map(|&kept| (0..kept).filter(|&i| crash_op(i) != CrashOp::Set).count())
        .sum();
    assert_eq!(copies, expected, "copies in the file");
}

#[test]
fn crash_loop_never_loses_a_write_acknowledged_before_the_last_completed_save() {
    let dir = tempfile::tempdir().unwrap();
    // Collections of every type and encoding, which every save must carry
    // along, and which the writer copies into new keys.
    let seeds: Vec<Stored> = seeds().into_iter().map(|(s, _)| s).collect();
    write_snapshot(&snapshot(dir.path()), &seeds);
    let seeds_in_db0 = seeds.iter().filter(|s| s.db == 0).count();
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
        let expected: usize = kept_per_round.iter().sum::<usize>() + seeds_in_db0;
        assert_eq!(
            c.call(&["DBSIZE"]).int() as usize,
            expected,
            "round {round}"
        );
        if round == ROUNDS {
            // The last start only checks: every round's keys, in full, and
            // every collection's contents, as this server saves them.
            for (r, &kept) in kept_per_round.iter().enumerate() {
                assert_eq!(surviving_prefix(&mut c, r, kept + 1), kept, "round {r}");
            }
            assert_eq!(c.call(&["SAVE"]), Resp::ok());
            assert_collections_are_seeds_or_their_copies(&snapshot(dir.path()), &kept_per_round);
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

/// Writes a few keys besides the seed collections, saves, and returns the
/// snapshot's bytes.
fn valid_snapshot(dir: &Path) -> Vec<u8> {
    let seeds: Vec<Stored> = seeds().into_iter().map(|(s, _)| s).collect();
    write_snapshot(&snapshot(dir), &seeds);
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

/// Returns the failed start's stderr.
fn assert_refuses_to_start(dir: &Path, damaged: &[u8], what: &str) -> String {
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
    failed.stderr
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

/// A one-entry version 3 file of database 0 with `entry` (at offset 30)
/// as its body, checksummed.
fn file_of_one_entry(entry: &[u8]) -> Vec<u8> {
    let mut bytes = b"GOCACHE\0".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&[0, 1]);
    bytes.extend_from_slice(entry);
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn a_snapshot_with_a_flawed_collection_refuses_to_start_naming_the_file_and_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let repeated = |kind: Kind, len: u64, elements: &[&str]| {
        let mut enc = Encoder::new(Vec::new(), 0, 1);
        enc.database(0, 1).unwrap();
        enc.begin_collection(b"k", kind, len).unwrap();
        for e in elements {
            enc.element(e.as_bytes()).unwrap();
        }
        enc.end_collection(0).unwrap();
        enc.finish().unwrap().0
    };
    // Entries start at 30: the type, the key (2 bytes), the count at 33.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            repeated(Kind::Set, 3, &["7", "8", "7"]),
            "the set member \"7\" appears twice (at byte offset 38)",
        ),
        (
            repeated(Kind::Set, 2, &["same", "same"]),
            "the set member \"same\" appears twice (at byte offset 39)",
        ),
        (
            repeated(Kind::Hash, 2, &["f", "1", "f", "2"]),
            "the hash field \"f\" appears twice (at byte offset 38)",
        ),
        (
            file_of_one_entry(&[2, 1, b'k', 0, 0]),
            "an empty list (a collection holds at least one element) (at byte offset 33)",
        ),
        (
            file_of_one_entry(&[3, 1, b'k', 100, 1, b'a', 0]),
            "a set of 100 members, more than the 3 bytes left could hold (at byte offset 33)",
        ),
        (
            file_of_one_entry(&[1, 1, b'k', 1, 1, b'f', 50, b'v', 0]),
            "value of hash field 0 (of 1) of 50 bytes runs past the end of the entries (2 bytes left) (at byte offset 36)",
        ),
        (
            file_of_one_entry(&[8, 1, b'k', 1, b'v', 0]),
            "unknown type 8 (at byte offset 30)",
        ),
    ];
    for (bytes, what) in cases {
        let stderr = assert_refuses_to_start(dir.path(), &bytes, what);
        assert!(stderr.contains(what), "{what}:\n{stderr}");
        assert!(
            stderr.contains("entry 0 (starting at offset 30)"),
            "{what}:\n{stderr}"
        );
    }
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

#[test]
fn collections_written_by_commands_survive_a_restart_in_every_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let (big_fields, big_list, big_set) = (600, 3_000, 600);
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(
            c.call(&["HSET", "hash", "a", "1", "b", "", "c\r\n", "\0"])
                .int(),
            3
        );
        for i in 0..big_fields {
            let (f, v) = (format!("field {i}"), format!("value {i}"));
            assert_eq!(c.call(&["HSET", "big-hash", &f, &v]).int(), 1);
        }
        assert_eq!(c.call(&["RPUSH", "list", "x", "", "x"]).int(), 3);
        for i in 0..big_list {
            assert_eq!(
                c.call(&["RPUSH", "big-list", &format!("e{i}")]).int(),
                i + 1
            );
        }
        assert_eq!(c.call(&["SADD", "ints", "-3", "0", "9"]).int(), 3);
        for i in 0..big_set {
            assert_eq!(c.call(&["SADD", "big-set", &format!("m{i}")]).int(), 1);
        }
        assert_eq!(c.call(&["PEXPIRE", "big-list", "100000"]).int(), 1);
        assert_eq!(c.call(&["SELECT", "4"]), Resp::ok());
        assert_eq!(c.call(&["SADD", "elsewhere", "a", "b"]).int(), 2);
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        server.kill();
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    for (key, encoding) in [
        ("hash", "listpack"),
        ("big-hash", "hashtable"),
        ("list", "quicklist"),
        ("big-list", "quicklist"),
        ("ints", "intset"),
        ("big-set", "hashtable"),
    ] {
        assert_eq!(
            c.call(&["OBJECT", "ENCODING", key]),
            Resp::bulk(encoding),
            "{key}"
        );
    }
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = c
        .call(&["HGETALL", "hash"])
        .pairs()
        .into_iter()
        .map(|(f, v)| (f.bytes().to_vec(), v.bytes().to_vec()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"".to_vec()),
            (b"c\r\n".to_vec(), b"\0".to_vec())
        ]
    );
    assert_eq!(c.call(&["HLEN", "big-hash"]).int(), big_fields);
    assert_eq!(
        c.call(&["HGET", "big-hash", "field 599"]),
        Resp::bulk("value 599")
    );
    assert_eq!(
        c.call(&["LRANGE", "list", "0", "-1"]),
        Resp::Array(vec![Resp::bulk("x"), Resp::bulk(""), Resp::bulk("x")])
    );
    let list = c.call(&["LRANGE", "big-list", "0", "-1"]);
    let elements: Vec<String> = list.items().iter().map(Resp::text).collect();
    assert_eq!(
        elements,
        (0..big_list).map(|i| format!("e{i}")).collect::<Vec<_>>()
    );
    let ttl = c.call(&["PTTL", "big-list"]).int();
    assert!(ttl > 0 && ttl <= 100_000, "{ttl}");
    let mut ints: Vec<String> = c
        .call(&["SMEMBERS", "ints"])
        .items()
        .iter()
        .map(Resp::text)
        .collect();
    ints.sort();
    assert_eq!(ints, ["-3", "0", "9"]);
    assert_eq!(c.call(&["SCARD", "big-set"]).int(), big_set);
    assert_eq!(c.call(&["SISMEMBER", "big-set", "m599"]).int(), 1);
    assert_eq!(c.call(&["SELECT", "4"]), Resp::ok());
    assert_eq!(c.call(&["SCARD", "elsewhere"]).int(), 2);
}

/// The `i`th write of the collection crash loop: members, elements and
/// fields numbered by `i`, so the survivors show which writes were kept.
/// The round's last write (repeated past the round's count) is a `SADD`,
/// which changes nothing when repeated.
fn collection_request(round: usize, i: usize) -> Vec<u8> {
    let n = i.to_string();
    let key = |kind: &str| format!("r{round}:{kind}");
    match i % 3 {
        0 => encode(&["SADD", &key("set"), &n]),
        1 => encode(&["RPUSH", &key("list"), &n]),
        _ => encode(&["HSET", &key("hash"), &format!("f{n}"), &n]),
    }
}

/// The numbers of the writes of `round` that survived, from its set, list
/// and hash; asserts they are exactly a prefix `0..k` (and the list in
/// order), and returns `k`.
fn surviving_collection_writes(c: &mut Client, round: usize) -> usize {
    let number = |r: &Resp| r.text().parse::<usize>().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for member in c.call(&["SMEMBERS", &format!("r{round}:set")]).items() {
        let i = number(member);
        assert!(i % 3 == 0 && seen.insert(i), "set member {i}");
    }
    let list = c.call(&["LRANGE", &format!("r{round}:list"), "0", "-1"]);
    let list: Vec<usize> = list.items().iter().map(number).collect();
    assert!(
        list.windows(2).all(|w| w[0] < w[1]),
        "list out of order: {list:?}"
    );
    for i in list {
        assert!(i % 3 == 1 && seen.insert(i), "list element {i}");
    }
    for (field, value) in c.call(&["HGETALL", &format!("r{round}:hash")]).pairs() {
        let i = number(&value);
        assert_eq!(field.text(), format!("f{i}"));
        assert!(i % 3 == 2 && seen.insert(i), "hash field {i}");
    }
    let k = seen.len();
    assert!(
        seen.iter().copied().eq(0..k),
        "round {round}: not a prefix: {seen:?}"
    );
    k
}

#[test]
fn crash_loop_of_collection_writes_never_loses_one_acknowledged_before_the_last_completed_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::seeded();
    eprintln!("collection crash loop PRNG seed {:#x}", rng.0);
    const ROUNDS: usize = 10;
    let mut kept_per_round: Vec<usize> = Vec::new();
    let mut last: Option<RoundLog> = None;
    let mut saves_seen = 0;
    for round in 0..=ROUNDS {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        if let Some(log) = last.take() {
            let kept = surviving_collection_writes(&mut c, round - 1);
            assert!(
                kept <= log.sent,
                "round {}: {kept} of {} sent",
                round - 1,
                log.sent
            );
            assert!(
                kept >= log.durable,
                "round {}: {kept} writes survived, but {} were acknowledged before a completed save",
                round - 1,
                log.durable
            );
            kept_per_round.push(kept);
        }
        for (r, &kept) in kept_per_round.iter().enumerate() {
            assert_eq!(surviving_collection_writes(&mut c, r), kept, "round {r}");
        }
        if round == ROUNDS {
            break;
        }
        let writer = {
            let c = server.client();
            thread::spawn(move || {
                write_ops_until_killed(c, round, collection_request, |i, reply| match reply {
                    Resp::Int(_) => {}
                    other => panic!("write {i} answered {other:?}"),
                })
            })
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

#[test]
fn sorted_sets_written_by_commands_survive_a_restart_in_both_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let big = 500;
    {
        let mut server = start_on(dir.path());
        let mut c = server.client();
        assert_eq!(
            c.call(&[
                "ZADD", "small", "1.5", "a", "-inf", "", "inf", "c\r\n", "0.1", "\0"
            ])
            .int(),
            4
        );
        for i in 0..big {
            let (score, member) = (format!("{}", i * 7 % big), format!("m{i}"));
            assert_eq!(c.call(&["ZADD", "big", &score, &member]).int(), 1);
        }
        assert_eq!(c.call(&["PEXPIRE", "big", "100000"]).int(), 1);
        assert_eq!(c.call(&["SAVE"]), Resp::ok());
        server.kill();
    }
    let server = start_on(dir.path());
    let mut c = server.client();
    assert_eq!(
        c.call(&["OBJECT", "ENCODING", "small"]),
        Resp::bulk("listpack")
    );
    assert_eq!(
        c.call(&["OBJECT", "ENCODING", "big"]),
        Resp::bulk("skiplist")
    );
    assert_eq!(c.call(&["TYPE", "big"]), Resp::simple("zset"));
    let small: Vec<Vec<u8>> = c
        .call(&["ZRANGE", "small", "0", "-1", "WITHSCORES"])
        .items()
        .iter()
        .map(|r| r.bytes().to_vec())
        .collect();
    assert_eq!(
        small,
        [
            &b""[..],
            b"-inf",
            b"\0",
            b"0.10000000000000001",
            b"a",
            b"1.5",
            b"c\r\n",
            b"inf"
        ]
    );
    assert_eq!(c.call(&["ZCARD", "big"]).int(), big as i64);
    for i in [0, 1, 250, 499] {
        let member = format!("m{i}");
        let score = (i * 7 % big).to_string();
        assert_eq!(c.call(&["ZSCORE", "big", &member]), Resp::bulk(&score));
        assert_eq!(
            c.call(&["ZRANK", "big", &member]).int(),
            (i * 7 % big) as i64,
            "{member}"
        );
    }
    let ttl = c.call(&["PTTL", "big"]).int();
    assert!(ttl > 0 && ttl <= 100_000, "{ttl}");
}
