//! Memory introspection: `MEMORY USAGE | STATS | MALLOC-STATS | PURGE |
//! HELP`, and the `INFO memory` fields.
//!
//! Every figure but the resident set is the keyspace's running count of
//! the bytes it holds (see [`keyspace`](crate::keyspace) and
//! [`memory`](crate::memory)): entries, tables and deadline heaps, with
//! what the allocator rounds each allocation up to, plus what the
//! connections' read, argument and reply buffers allocate (each
//! connection counts its own after every batch, `mem_clients_normal`).
//! Reading it takes a read guard for a few loads, never a walk over the
//! keys. What neither holds (thread stacks, the program) shows only in
//! `used_memory_rss`.

use super::{Access, CommandResult, CommandSpec, Context, is_word};
use crate::error::{CommandError, shown};
use crate::keyspace::Memory;
use crate::memory::human;
use crate::protocol::Reply;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("memory", -2, Access::Read, memory)];

/// `MEMORY HELP`, as Redis words it, for the subcommands there are.
const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// `MEMORY subcommand [arg ...]`: Redis's subcommands, their arities and
/// error texts; no `DOCTOR` (its report rests on allocator statistics
/// glibc does not keep).
fn memory(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let sub = argv[1];
    let arity = |name: &str| CommandError::WrongArity(format!("memory|{name}"));
    for (name, fits) in [
        ("usage", argv.len() >= 3),
        ("stats", argv.len() == 2),
        ("malloc-stats", argv.len() == 2),
        ("purge", argv.len() == 2),
        ("help", argv.len() == 2),
    ] {
        if !is_word(sub, name) {
            continue;
        }
        if !fits {
            return Err(arity(name));
        }
        return match name {
            "usage" => usage(ctx, argv[2], &argv[3..]),
            "stats" => Ok(stats(ctx)),
            // What Redis answers when built without jemalloc.
            "malloc-stats" => Ok(Reply::text("Stats not supported for the current allocator")),
            "purge" => {
                // Trimming takes glibc's arena locks for milliseconds: never
                // under `EXEC`'s write guard, where every client would wait.
                if !ctx.in_exec() {
                    crate::os::return_free_memory();
                }
                Ok(Reply::Ok)
            }
            _ => Ok(Reply::Array(
                HELP.iter()
                    .map(|line| Reply::Status((*line).into()))
                    .collect(),
            )),
        };
    }
    Err(CommandError::other(format!(
        "ERR unknown subcommand '{}'. Try MEMORY HELP.",
        shown(sub)
    )))
}

/// `MEMORY USAGE key [SAMPLES count]`: the bytes `key` accounts for (its
/// entry, its share of its table, its deadline's share of the heap), or
/// nil if it is absent. The options are checked first, as in Redis; a
/// string has nothing to sample, so the count only has to be valid.
fn usage(ctx: &mut Context<'_>, key: &[u8], options: &[&[u8]]) -> CommandResult {
    let mut rest = options;
    while let [word, more @ ..] = rest {
        match more {
            [count, tail @ ..] if is_word(word, "samples") => {
                if super::parse_int(count)? < 0 {
                    return Err(CommandError::Syntax);
                }
                rest = tail;
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(match ctx.read().usage_of(key, ctx.now) {
        Some(bytes) => Reply::Integer(i64::try_from(bytes).unwrap_or(i64::MAX)),
        None => Reply::Nil,
    })
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / whole as f64
}

/// The resident set over the bytes counted, as Redis's
/// `mem_fragmentation_ratio`: here everything the keyspace does not hold
/// counts as overhead.
fn fragmentation(rss: u64, used: usize) -> f64 {
    rss as f64 / used.max(1) as f64
}

/// The keyspace's figures `m` with the client buffers' bytes added (to
/// what is used and, if that passes it, to the peak), and those bytes.
fn with_clients(ctx: &Context<'_>, mut m: Memory) -> (Memory, usize) {
    let clients = ctx
        .server
        .client_buffers
        .load(std::sync::atomic::Ordering::Relaxed);
    m.used += clients;
    m.peak = m.peak.max(m.used);
    (m, clients)
}

/// `MEMORY STATS`: Redis's fields that the keyspace's and the client
/// buffers' counts answer honestly; those about replication, scripts and
/// the allocator's own statistics are left out.
fn stats(ctx: &Context<'_>) -> Reply {
    let int = |n: usize| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    // One guard for every figure, so that they agree.
    let (m, keys, dbs) = ctx.with_store(|store| {
        let dbs: Vec<(String, Reply)> = store
            .dbs()
            .iter()
            .enumerate()
            .filter(|(_, db)| db.stored_len() > 0)
            .map(|(i, db)| {
                let overhead = Reply::Map(vec![
                    (
                        Reply::text("overhead.hashtable.main"),
                        int(db.table_bytes()),
                    ),
                    (
                        Reply::text("overhead.hashtable.expires"),
                        int(db.deadline_bytes()),
                    ),
                ]);
                (format!("db.{i}"), overhead)
            })
            .collect();
        (store.memory(), store.stored_len(), dbs)
    });
    let (m, clients) = with_clients(ctx, m);
    let rss = crate::os::resident_bytes();
    let net = m.used.saturating_sub(m.startup).max(1);
    let mut fields = vec![
        ("peak.allocated".to_string(), int(m.peak)),
        ("total.allocated".into(), int(m.used)),
        ("startup.allocated".into(), int(m.startup)),
        ("clients.normal".into(), int(clients)),
    ];
    fields.extend(dbs);
    fields.extend([
        ("overhead.total".into(), int(m.overhead())),
        ("keys.count".into(), int(keys)),
        (
            "keys.bytes-per-key".into(),
            int(net.checked_div(keys).unwrap_or(0)),
        ),
        ("dataset.bytes".into(), int(m.data)),
        (
            "dataset.percentage".into(),
            Reply::Double(percent(m.data, net)),
        ),
        (
            "peak.percentage".into(),
            Reply::Double(percent(m.used, m.peak)),
        ),
        (
            "fragmentation".into(),
            Reply::Double(fragmentation(rss, m.used)),
        ),
        (
            "fragmentation.bytes".into(),
            Reply::Integer(rss as i64 - m.used as i64),
        ),
    ]);
    Reply::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Reply::text(name), value))
            .collect(),
    )
}

/// The `INFO memory` section: Redis's names, for the figures gocache has.
/// `used_memory` is the keyspace's count plus the client buffers'.
pub fn info_fields(ctx: &Context<'_>) -> Vec<(&'static str, String)> {
    let (m, limit): (Memory, _) = ctx.with_store(|store| (store.memory(), store.limit()));
    let (m, clients) = with_clients(ctx, m);
    let rss = crate::os::resident_bytes();
    let net = m.used.saturating_sub(m.startup).max(1);
    let bytes = |n: usize| (n.to_string(), human(n as u64));
    let (used, used_human) = bytes(m.used);
    let (peak, peak_human) = bytes(m.peak);
    let (max, max_human) = bytes(limit.maxmemory);
    vec![
        ("used_memory", used),
        ("used_memory_human", used_human),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", peak_human),
        (
            "used_memory_peak_perc",
            format!("{:.2}%", percent(m.used, m.peak)),
        ),
        ("used_memory_overhead", m.overhead().to_string()),
        ("used_memory_startup", m.startup.to_string()),
        ("used_memory_dataset", m.data.to_string()),
        (
            "used_memory_dataset_perc",
            format!("{:.2}%", percent(m.data, net)),
        ),
        ("maxmemory", max),
        ("maxmemory_human", max_human),
        ("maxmemory_policy", limit.policy.name().into()),
        (
            "mem_fragmentation_ratio",
            format!("{:.2}", fragmentation(rss, m.used)),
        ),
        (
            "mem_fragmentation_bytes",
            (rss as i64 - m.used as i64).to_string(),
        ),
        ("mem_clients_normal", clients.to_string()),
        // Rust's global allocator: the C library's malloc.
        ("mem_allocator", "libc".into()),
    ]
}
