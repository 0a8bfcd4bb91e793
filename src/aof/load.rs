//! Loading the data from the log at start: the base, then every record of
//! every incremental file, in the manifest's order.
//!
//! Each record is applied under one write guard through the command
//! table (the commands a commit replays are ordinary commands: `SET ...
//! PXAT`, `DEL`, `HSET`, `LPOP`, ...), with time stopped at zero so that
//! nothing expires while the log is replayed. A record is checked whole
//! (length, checksum, every command's shape) before any of it is
//! applied, and a command the keyspace answers with an error stops the
//! load: a log that does not replay cleanly is not loaded as if it had.
//! Loading only reads files; cutting a truncated tail is the caller's.

use super::record::{self, Command, Flaw};
use super::{LogPaths, Manifest};
use crate::error::Error;
use crate::protocol::Reply;
use crate::session::Session;
use crate::shared::Shared;
use crate::snapshot::SnapshotPaths;
use crate::warning;
use std::net::SocketAddr;

/// What loading found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Records applied.
    pub records: u64,
    /// Commands applied.
    pub commands: u64,
    /// The base's bytes.
    pub base_size: u64,
    /// The bytes of every incremental file but the last.
    pub older_incrs: u64,
    /// The length of the last incremental file's whole records (a
    /// truncated tail excluded): where appending resumes.
    pub last_len: u64,
}

/// Loads `manifest`'s files from `paths` into `server`'s keyspace (meant
/// to be empty). A last record cut short is dropped with a warning if
/// `load_truncated`, refused otherwise; any other flaw is refused,
/// naming the file and the byte offset.
pub fn load(
    server: &Shared,
    paths: &LogPaths,
    manifest: &Manifest,
    load_truncated: bool,
) -> Result<Loaded, Error> {
    let mut loaded = Loaded::default();
    if let Some(base) = &manifest.base {
        let snapshot = SnapshotPaths::new(&paths.dir, base);
        // Time stopped at zero: a key the log edits later must be there.
        let report =
            crate::snapshot::load(&snapshot, &server.keyspace, 0, server.settings.encodings())?;
        if !report.found {
            return Err(Error::CorruptLog {
                path: snapshot.file,
                reason: "the manifest names this base, but it is missing".into(),
            });
        }
        loaded.base_size = report.bytes;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let client = server.clients.register(addr, addr);
    let mut session = Session::new(client.clone(), true);
    let result = (|| {
        for (i, name) in manifest.incrs.iter().enumerate() {
            let last = i + 1 == manifest.incrs.len();
            let path = paths.file(name);
            let bytes = std::fs::read(&path).map_err(|source| Error::File {
                path: path.clone(),
                action: "read the append-only file",
                source,
            })?;
            let corrupt = |reason: String| Error::CorruptLog {
                path: path.clone(),
                reason,
            };
            let end = record::check_header(&bytes).and_then(|()| {
                record::read_records(&bytes, record::HEADER.len(), |commands| {
                    apply(server, &mut session, commands)?;
                    loaded.records += 1;
                    loaded.commands += commands.len() as u64;
                    Ok(())
                })
            });
            let len = match end {
                Ok(len) => len,
                Err(Flaw::Truncated { offset }) if last && load_truncated => {
                    warning!(
                        "the append-only file {} ends inside a record at byte {offset} (of {}): loaded up to it and cut it there (aof-load-truncated yes)",
                        path.display(),
                        bytes.len()
                    );
                    offset
                }
                Err(flaw @ Flaw::Truncated { .. }) if last => {
                    return Err(corrupt(format!(
                        "{flaw}; refusing to start (aof-load-truncated no)"
                    )));
                }
                Err(flaw @ Flaw::Truncated { .. }) => {
                    return Err(corrupt(format!(
                        "{flaw}, but it is not the last file of the log"
                    )));
                }
                Err(flaw) => return Err(corrupt(flaw.to_string())),
            };
            if last {
                loaded.last_len = len;
            } else {
                loaded.older_incrs += len;
            }
        }
        Ok(loaded)
    })();
    server.clients.unregister(client.id);
    result
}

/// Applies one record's commands under one write guard.
fn apply(server: &Shared, session: &mut Session, commands: &[Command<'_>]) -> Result<(), String> {
    let databases = server.keyspace.databases();
    let mut store = server.keyspace.write();
    for command in commands {
        let db = usize::try_from(command.db)
            .ok()
            .filter(|&db| db < databases)
            .ok_or_else(|| {
                format!(
                    "a command for database {}, but this server has {databases} (--databases)",
                    command.db
                )
            })?;
        session.db = db;
        let reply = crate::commands::run_held(server, session, &mut store, 0, &command.args);
        if let Reply::Error(e) = reply {
            let name = crate::error::shown(command.args[0]);
            return Err(format!("replaying {name} failed: {e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Aof, Fsync};
    use crate::config::Config;
    use crate::keyspace::PARTITIONS;
    use crate::protocol::Reply;
    use crate::session::Session;
    use crate::shared::Shared;
    use crate::value::ValueRef;
    use crate::value::random::TestRng;
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::path::Path;

    /// A server over `dir` with the log on, its thresholds low so that
    /// collections cross between their encodings.
    fn server_in(dir: &Path) -> Shared {
        let mut config = Config {
            dir: dir.to_path_buf(),
            appendonly: true,
            appendfsync: Fsync::No,
            ..Config::default()
        };
        config.encodings.hash_max_listpack_entries = 8;
        config.encodings.set_max_intset_entries = 8;
        config.encodings.list_max_listpack_size = 4;
        config.encodings.zset_max_listpack_entries = 8;
        let shared = Shared::in_memory(config);
        shared.aof.boot(&shared, true).unwrap();
        shared
    }

    fn session(shared: &Shared) -> Session {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        Session::new(shared.clients.register(addr, addr), true)
    }

    /// Every live key of every database, with its type, value in a
    /// canonical order, and deadline.
    fn contents(shared: &Shared, now: u64) -> BTreeMap<(usize, Vec<u8>), String> {
        let store = shared.keyspace.read();
        let mut all = BTreeMap::new();
        for (index, db) in store.dbs().iter().enumerate() {
            for part in 0..PARTITIONS {
                for entry in db.iter_partition(part, now) {
                    let value = match entry.collection() {
                        None => format!("string {:?}", entry.value()),
                        Some(ValueRef::Hash(h)) => {
                            let mut pairs: Vec<_> = h.iter().collect();
                            pairs.sort();
                            format!("hash {pairs:?}")
                        }
                        Some(ValueRef::List(l)) => {
                            format!("list {:?}", l.iter().collect::<Vec<_>>())
                        }
                        Some(ValueRef::Set(s)) => {
                            let mut members: Vec<_> = s.members().collect();
                            members.sort();
                            format!("set {members:?}")
                        }
                        Some(ValueRef::ZSet(z)) => {
                            format!("zset {:?}", z.iter().collect::<Vec<_>>())
                        }
                    };
                    let key = (index, entry.key().to_vec());
                    all.insert(key, format!("{value} until {}", entry.expires_at()));
                }
            }
        }
        all
    }

    /// One random write (or a read that may expire a key), over a few
    /// keys of every type, in databases 0 to 2.
    fn random_command(rng: &mut TestRng) -> Vec<String> {
        let key = |rng: &mut TestRng| format!("k{}", rng.below(60));
        let member = |rng: &mut TestRng| {
            if rng.below(2) == 0 {
                rng.below(30).to_string()
            } else {
                format!("m{}", rng.below(30))
            }
        };
        let k = key(rng);
        let words: Vec<String> = match rng.below(44) {
            0 => vec!["SET".into(), k, member(rng)],
            1 => vec![
                "SET".into(),
                k,
                member(rng),
                "PX".into(),
                (1 + rng.below(30)).to_string(),
            ],
            2 => vec!["SET".into(), k, member(rng), "EX".into(), "3600".into()],
            3 => vec!["SET".into(), k, member(rng), "KEEPTTL".into(), "GET".into()],
            4 => vec!["APPEND".into(), k, member(rng)],
            5 => vec!["INCR".into(), k],
            6 => vec!["INCRBYFLOAT".into(), k, "1.25".into()],
            7 => vec!["SETRANGE".into(), k, rng.below(8).to_string(), member(rng)],
            8 => vec!["GETDEL".into(), k],
            9 => vec![
                "GETEX".into(),
                k,
                "PX".into(),
                (1 + rng.below(40)).to_string(),
            ],
            10 => vec!["DEL".into(), k, key(rng)],
            11 => vec!["PEXPIRE".into(), k, (1 + rng.below(40)).to_string()],
            12 => vec!["EXPIRE".into(), k, "3600".into()],
            13 => vec!["PERSIST".into(), k],
            14 => vec!["RENAME".into(), k, key(rng)],
            15 => vec!["COPY".into(), k, key(rng), "REPLACE".into()],
            16 => vec!["MOVE".into(), k, rng.below(3).to_string()],
            17 => vec![
                "HSET".into(),
                k,
                member(rng),
                member(rng),
                member(rng),
                member(rng),
            ],
            18 => vec!["HDEL".into(), k, member(rng)],
            19 => vec!["HINCRBY".into(), k, member(rng), "3".into()],
            20 => vec!["HINCRBYFLOAT".into(), k, member(rng), "0.5".into()],
            21 => vec!["LPUSH".into(), k, member(rng), member(rng)],
            22 => vec!["RPUSH".into(), k, member(rng), member(rng), member(rng)],
            23 => vec!["LPOP".into(), k],
            24 => vec!["RPOP".into(), k, "2".into()],
            25 => vec!["LMOVE".into(), k, key(rng), "LEFT".into(), "RIGHT".into()],
            26 => vec!["LSET".into(), k, "0".into(), member(rng)],
            27 => vec!["LTRIM".into(), k, "1".into(), "-2".into()],
            28 => vec!["LREM".into(), k, "0".into(), member(rng)],
            29 => vec![
                "LINSERT".into(),
                k,
                "BEFORE".into(),
                member(rng),
                member(rng),
            ],
            30 => vec!["SADD".into(), k, member(rng), member(rng), member(rng)],
            31 => vec!["SREM".into(), k, member(rng)],
            32 => vec!["SPOP".into(), k, (1 + rng.below(2)).to_string()],
            33 => vec!["SMOVE".into(), k, key(rng), member(rng)],
            34 => vec!["SINTERSTORE".into(), k, key(rng), key(rng)],
            35 => vec!["SUNIONSTORE".into(), k, key(rng), key(rng)],
            36 => vec![
                "ZADD".into(),
                k,
                rng.below(10).to_string(),
                member(rng),
                format!("{}.5", rng.below(10)),
                member(rng),
            ],
            37 => vec!["ZINCRBY".into(), k, "2".into(), member(rng)],
            38 => vec!["ZREM".into(), k, member(rng)],
            39 => vec!["ZPOPMIN".into(), k],
            40 => vec!["ZREMRANGEBYSCORE".into(), k, "3".into(), "(6".into()],
            41 => vec!["ZUNIONSTORE".into(), k, "2".into(), key(rng), key(rng)],
            42 => vec!["SELECT".into(), rng.below(3).to_string()],
            _ => match rng.below(40) {
                0 => vec!["SWAPDB".into(), "0".into(), rng.below(3).to_string()],
                1 => vec!["FLUSHDB".into()],
                // Reads expire keys whose deadline passed.
                _ => vec!["EXISTS".into(), k, key(rng), key(rng)],
            },
        };
        words
    }

    /// Runs `count` random commands (some inside `MULTI`/`EXEC`), calling
    /// `halfway` after half of them.
    fn run_workload(shared: &Shared, seed: u64, count: usize, halfway: impl FnOnce(&Shared)) {
        let mut rng = TestRng(seed);
        let mut session = session(shared);
        let mut halfway = Some(halfway);
        let run = |session: &mut Session, words: &[String]| {
            let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            crate::commands::dispatch(shared, session, &argv, &[])
        };
        let mut done = 0;
        while done < count {
            if done >= count / 2 {
                if let Some(f) = halfway.take() {
                    f(shared);
                }
            }
            if rng.below(50) == 0 {
                run(&mut session, &["MULTI".into()]);
                for _ in 0..2 + rng.below(3) {
                    let command = random_command(&mut rng);
                    run(&mut session, &command);
                    done += 1;
                }
                let end = if rng.below(8) == 0 { "DISCARD" } else { "EXEC" };
                let reply = run(&mut session, &[end.into()]);
                assert!(!matches!(reply, Reply::Error(_)), "{end}: {reply:?}");
            } else {
                run(&mut session, &random_command(&mut rng));
                done += 1;
            }
        }
    }

    fn replayed_equals_live(rewrite_halfway: bool) {
        let dir = tempfile::tempdir().unwrap();
        let live = server_in(dir.path());
        let seed = std::env::var("GOCACHE_AOF_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_a0f1);
        run_workload(&live, seed, 100_000, |shared| {
            if rewrite_halfway {
                shared.aof.rewrite_now(&shared.keyspace, false).unwrap();
            }
        });
        live.aof.journal.flush(true).unwrap();
        // Both sides read at one instant: keys with deadlines a few
        // milliseconds away are live in both or in neither.
        let now = crate::clock::now_ms();
        let expected = contents(&live, now);
        assert!(
            expected.len() > 20,
            "the workload left keys: {}",
            expected.len()
        );
        let manifest = live.aof.files().manifest.clone();
        assert!(manifest.base.is_some());
        assert_eq!(manifest.incrs.len(), 1);
        if rewrite_halfway {
            assert_eq!(manifest.seq, 2, "the rewrite made the second base");
        }
        let loaded = server_in(dir.path());
        assert_eq!(contents(&loaded, now), expected);
    }

    #[test]
    fn a_log_of_100k_random_writes_replays_to_the_same_keyspace() {
        replayed_equals_live(false);
    }

    #[test]
    fn base_and_incremental_after_a_rewrite_halfway_replay_to_the_same_keyspace() {
        replayed_equals_live(true);
    }

    #[test]
    fn a_log_switched_on_and_off_records_only_while_on() {
        let dir = tempfile::tempdir().unwrap();
        let shared = server_in(dir.path());
        let mut s = session(&shared);
        let mut run = |words: &[&str]| {
            let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            crate::commands::dispatch(&shared, &mut s, &argv, &[])
        };
        run(&["SET", "a", "1"]);
        shared.aof.disable(&shared.keyspace);
        run(&["SET", "b", "2"]);
        let aof: &Aof = &shared.aof;
        assert!(!aof.enabled());
        let loaded = server_in(dir.path());
        let keys: Vec<_> = contents(&loaded, crate::clock::now_ms())
            .into_keys()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(keys, vec![b"a".to_vec()]);
    }
}
