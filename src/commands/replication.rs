//! Replication commands: `SYNC` and `PSYNC`, and the `# Replication`
//! section of `INFO`.
//!
//! gocache has no replication: it is always a master with no replicas, and
//! both commands answer an error. Only programs send them (a replica,
//! `redis-cli --rdb`, `redis-cli --replica`), and `redis-cli` sends its
//! `SYNC` as an inline line, so the connection answers them in RESP in
//! every dialect ([`answers_in_resp`]): a line-protocol reply would leave
//! such a client waiting for a `$<length>` line that never comes. Nothing
//! here touches the keyspace.

use super::{Access, CommandResult, CommandSpec, Context, InMulti, is_word};
use crate::error::CommandError;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

/// This family's rows of the command table. Both are refused inside
/// `MULTI`, as Redis's `no_multi` flag has it.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sync", 1, Access::Neither, sync).in_multi(InMulti::Refuse),
    CommandSpec::new("psync", -3, Access::Neither, sync).in_multi(InMulti::Refuse),
];

/// The answer to `SYNC` and `PSYNC`: short, and quoting nothing the
/// client sent.
const NO_REPLICATION: &str = "ERR SYNC and PSYNC are not supported: gocache has no replication";

/// Whether a request named `name` is answered in RESP whatever dialect it
/// arrived in: `SYNC` and `PSYNC`, which only programs send.
pub fn answers_in_resp(name: &[u8]) -> bool {
    is_word(name, "sync") || is_word(name, "psync")
}

/// `SYNC` and `PSYNC replicationid offset`: refused until gocache has
/// replication.
fn sync(_: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    Err(CommandError::other(NO_REPLICATION))
}

/// The `# Replication` fields of `INFO`, as Redis prints them for a master
/// with no replicas and no backlog.
pub fn info_fields() -> Vec<(&'static str, String)> {
    vec![
        ("role", "master".into()),
        ("connected_slaves", "0".into()),
        ("master_failover_state", "no-failover".into()),
        ("master_replid", replication_id().to_string()),
        ("master_replid2", "0".repeat(40)),
        ("master_repl_offset", "0".into()),
        ("second_repl_offset", "-1".into()),
        ("repl_backlog_active", "0".into()),
        // Redis's default `repl-backlog-size`; no backlog is ever made.
        ("repl_backlog_size", "1048576".into()),
        ("repl_backlog_first_byte_offset", "0".into()),
        ("repl_backlog_histlen", "0".into()),
    ]
}

/// This process's replication ID: 40 random hex digits, chosen once, as
/// Redis chooses one at start.
fn replication_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        // `RandomState` is seeded from the operating system's randomness.
        let seed = RandomState::new();
        let mut hex: String = (0u64..3)
            .map(|i| format!("{:016x}", seed.hash_one(i)))
            .collect();
        hex.truncate(40);
        hex
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replication_id_is_40_hex_digits_and_stays_the_same() {
        let id = replication_id();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(replication_id(), id);
    }

    #[test]
    fn only_sync_and_psync_answer_in_resp_in_every_dialect() {
        for name in [&b"SYNC"[..], b"sync", b"PSync"] {
            assert!(answers_in_resp(name));
        }
        for name in [&b"GET"[..], b"syncx", b"hello"] {
            assert!(!answers_in_resp(name));
        }
    }
}
