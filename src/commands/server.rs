//! Server commands: `DBSIZE`, `FLUSHALL`/`FLUSHDB`, `INFO`, `CONFIG`,
//! `COMMAND`, `TIME`.
//!
//! Introspection reads counters and the configuration; the only keyspace
//! access is counting keys and flushing them. `CONFIG` reads and changes
//! parameters through the table in [`config`](crate::config) and the
//! server's [`Settings`](crate::shared::settings::Settings); `CONFIG
//! REWRITE` is the one command here that writes a file, with no keyspace
//! guard held.

use super::{Access, Args, CommandResult, CommandSpec, Context, is_word, table};
use crate::error::{CommandError, shown};
use crate::glob;
use crate::protocol::Reply;
use crate::shared::REDIS_VERSION;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::slice::ChunksExact;
use std::sync::atomic::Ordering;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, Access::Read, dbsize),
    CommandSpec::new("flushall", -1, Access::Write, flushall),
    CommandSpec::new("flushdb", -1, Access::Write, flushdb),
    CommandSpec::new("swapdb", 3, Access::Write, swapdb),
    CommandSpec::new("info", -1, Access::Neither, info),
    CommandSpec::new("config", -2, Access::Neither, config),
    CommandSpec::new("command", -1, Access::Neither, command),
    CommandSpec::new("time", 1, Access::Neither, time),
];

/// `DBSIZE`: exact; never counts a key past its deadline.
fn dbsize(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(ctx.live_len() as i64))
}

/// Checks the optional `ASYNC|SYNC` of `FLUSHALL` and `FLUSHDB` (both
/// flush at once: freeing is not the slow part of a flush here).
fn flush_mode(argv: &[&[u8]]) -> Result<(), CommandError> {
    let mut args = Args::new(argv);
    args.keyword(&[("async", ()), ("sync", ())]);
    args.finish()
}

/// `FLUSHALL [ASYNC|SYNC]`: every database.
fn flushall(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    flush_mode(argv)?;
    ctx.store().flush_all();
    Ok(Reply::Ok)
}

/// `FLUSHDB [ASYNC|SYNC]`: the selected database.
fn flushdb(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    flush_mode(argv)?;
    let db = ctx.session.db;
    ctx.store().flush(db);
    Ok(Reply::Ok)
}

/// A database number argument, checked against the databases there are.
/// Not a 32-bit integer: `not_a_number` when the command names its own
/// error (as `SWAPDB` does), else Redis's two texts for a bad or too large
/// integer; no such database: `ERR DB index is out of range`.
pub fn database_index(
    ctx: &Context<'_>,
    arg: &[u8],
    not_a_number: Option<&'static str>,
) -> Result<usize, CommandError> {
    let index = match (super::parse_int(arg), not_a_number) {
        (Ok(i), _) if i32::try_from(i).is_ok() => i,
        (_, Some(text)) => return Err(CommandError::other(text)),
        (Ok(_), None) => {
            return Err(CommandError::other(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ));
        }
        (Err(e), None) => return Err(e),
    };
    usize::try_from(index)
        .ok()
        .filter(|&i| i < ctx.server.keyspace.databases())
        .ok_or_else(|| CommandError::other("ERR DB index is out of range"))
}

/// `SWAPDB index1 index2`
fn swapdb(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let a = database_index(ctx, argv[1], Some("ERR invalid first DB index"))?;
    let b = database_index(ctx, argv[2], Some("ERR invalid second DB index"))?;
    let now = ctx.now;
    ctx.store().swap(a, b, now);
    Ok(Reply::Ok)
}

/// `TIME`: Unix seconds and microseconds, as strings.
fn time(_: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    let us = crate::clock::now_us();
    Ok(Reply::Array(vec![
        Reply::text((us / 1_000_000).to_string()),
        Reply::text((us % 1_000_000).to_string()),
    ]))
}

/// The sections `INFO` knows, in the order it prints them.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cluster",
    "keyspace",
];

/// `INFO [section ...]`
fn info(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let asked = &argv[1..];
    let wanted = |s: &str| {
        asked.is_empty()
            || asked.iter().any(|a| {
                is_word(a, s)
                    || is_word(a, "all")
                    || is_word(a, "everything")
                    || is_word(a, "default")
            })
    };
    let mut text = String::new();
    for section in SECTIONS.iter().filter(|s| wanted(s)) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = writeln!(text, "# {}\r", capitalise(section));
        let fields = section_fields(ctx, section);
        for (name, value) in fields {
            let _ = write!(text, "{name}:{value}\r\n");
        }
    }
    Ok(Reply::Verbatim(text))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn section_fields(ctx: &mut Context<'_>, section: &str) -> Vec<(Cow<'static, str>, String)> {
    if section == "keyspace" {
        return keyspace_fields(ctx);
    }
    fixed_fields(ctx, section)
        .into_iter()
        .map(|(name, value)| (Cow::Borrowed(name), value))
        .collect()
}

/// One `db<N>:keys=..,expires=..,avg_ttl=..` line per database with keys.
fn keyspace_fields(ctx: &mut Context<'_>) -> Vec<(Cow<'static, str>, String)> {
    ctx.live_lens(|store, now| {
        store
            .dbs()
            .iter()
            .enumerate()
            .filter(|(_, db)| db.stored_len() > 0)
            .map(|(i, db)| {
                let line = format!(
                    "keys={},expires={},avg_ttl={}",
                    db.stored_len(),
                    db.stored_with_deadline(),
                    db.average_ttl(now)
                );
                (Cow::Owned(format!("db{i}")), line)
            })
            .collect()
    })
}

fn fixed_fields(ctx: &mut Context<'_>, section: &str) -> Vec<(&'static str, String)> {
    let server = ctx.server;
    // Counted so far in this connection's batch, so a pipelined INFO sees them.
    server.stats.absorb(&mut ctx.session.counters);
    let stats = &server.stats;
    match section {
        "server" => {
            let uptime = server.started.elapsed().as_secs();
            vec![
                ("redis_version", REDIS_VERSION.to_string()),
                ("gocache_version", env!("CARGO_PKG_VERSION").to_string()),
                ("redis_mode", "standalone".into()),
                ("os", std::env::consts::OS.to_string()),
                ("arch_bits", (usize::BITS).to_string()),
                ("multiplexing_api", "threads".into()),
                ("process_id", std::process::id().to_string()),
                ("tcp_port", server.local_addr.port().to_string()),
                ("uptime_in_seconds", uptime.to_string()),
                ("uptime_in_days", (uptime / 86_400).to_string()),
                (
                    "executable",
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ]
        }
        "clients" => vec![
            ("connected_clients", server.connected_clients().to_string()),
            ("maxclients", server.settings.max_clients().to_string()),
            (
                "blocked_clients",
                ctx.with_store(|store| store.blocked_clients()).to_string(),
            ),
            // Redis 7.4's name; 7.0 has no count of watched keys.
            (
                "total_watched_keys",
                ctx.with_store(|store| store.watched_keys()).to_string(),
            ),
        ],
        "memory" => super::memory::info_fields(ctx),
        "persistence" => super::persistence::info_fields(ctx),
        "stats" => vec![
            (
                "total_connections_received",
                stats
                    .connections_received
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "total_commands_processed",
                stats.commands_processed.load(Ordering::Relaxed).to_string(),
            ),
            (
                "instantaneous_ops_per_sec",
                stats.instantaneous_ops_per_sec().to_string(),
            ),
            (
                "rejected_connections",
                stats
                    .rejected_connections
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "expired_keys",
                server.keyspace.expiry().expired_keys().to_string(),
            ),
            (
                "evicted_keys",
                ctx.with_store(crate::keyspace::Store::evicted_keys)
                    .to_string(),
            ),
            (
                "keyspace_hits",
                stats.keyspace_hits.load(Ordering::Relaxed).to_string(),
            ),
            (
                "keyspace_misses",
                stats.keyspace_misses.load(Ordering::Relaxed).to_string(),
            ),
        ],
        "replication" => super::replication::info_fields(),
        // No cluster mode: what clients read to choose a cluster client.
        "cluster" => vec![("cluster_enabled", "0".into())],
        _ => Vec::new(),
    }
}

/// `CONFIG GET pattern [pattern ...] | SET name value [name value ...] |
/// RESETSTAT | REWRITE`
fn config(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    match args.subcommand("config", CONFIG_SUBCOMMANDS)? {
        ConfigSubcommand::Get => Ok(config_get(ctx, args.rest())),
        ConfigSubcommand::Set => config_set(ctx, args.pairs()?),
        ConfigSubcommand::ResetStat => config_resetstat(ctx),
        ConfigSubcommand::Rewrite => config_rewrite(ctx),
    }
}

#[derive(Clone, Copy)]
enum ConfigSubcommand {
    Get,
    Set,
    ResetStat,
    Rewrite,
}

/// `CONFIG`'s subcommands and their arities, as in Redis's table.
const CONFIG_SUBCOMMANDS: &[(&str, i32, ConfigSubcommand)] = &[
    ("get", -3, ConfigSubcommand::Get),
    ("set", -4, ConfigSubcommand::Set),
    ("resetstat", 2, ConfigSubcommand::ResetStat),
    ("rewrite", 2, ConfigSubcommand::Rewrite),
];

/// `CONFIG RESETSTAT`
fn config_resetstat(ctx: &mut Context<'_>) -> CommandResult {
    let s = &ctx.server.stats;
    for counter in [
        &s.commands_processed,
        &s.keyspace_hits,
        &s.keyspace_misses,
        &s.connections_received,
        &s.rejected_connections,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    ctx.server.keyspace.expiry().reset_expired_keys();
    // What this connection counted earlier in its batch goes too.
    ctx.session.counters = Default::default();
    Ok(Reply::Ok)
}

/// `CONFIG REWRITE`
fn config_rewrite(ctx: &mut Context<'_>) -> CommandResult {
    if ctx.in_exec() {
        // Never write a file under the transaction's keyspace guard.
        return Err(CommandError::other(
            "ERR CONFIG REWRITE is not allowed inside a transaction",
        ));
    }
    let settings = &ctx.server.settings;
    let Some(path) = settings.file() else {
        return Err(CommandError::other(
            "ERR The server is running without a config file",
        ));
    };
    // Held so the file states one consistent set of values.
    let _changing = settings.begin_change();
    match crate::config::file::rewrite(path, &settings.current()) {
        Ok(()) => {
            crate::notice!("CONFIG REWRITE executed with success ({})", path.display());
            Ok(Reply::Ok)
        }
        Err(e) => {
            crate::warning!("CONFIG REWRITE failed ({}): {e}", path.display());
            Err(CommandError::other(format!(
                "ERR Rewriting config file: {e}"
            )))
        }
    }
}

/// The parameters matching any of `patterns` (globs, any case), each once,
/// in table order. A pattern naming a parameter exactly is echoed as the
/// client spelled it, as Redis does. Redis's own aliases of a parameter
/// (`hash-max-ziplist-entries`) are entries of their own, as Redis 7.0
/// lists them (`CONFIG GET *` names both); gocache's aliases are not.
fn config_get(ctx: &Context<'_>, patterns: &[&[u8]]) -> Reply {
    let current = ctx.server.settings.current();
    let lowered: Vec<Vec<u8>> = patterns
        .iter()
        .map(|p| p[..p.len().min(1024)].to_ascii_lowercase())
        .collect();
    let shown_as = |name: &str| {
        patterns.iter().zip(&lowered).find_map(|(p, lower)| {
            glob::matches(lower, name.as_bytes()).then(|| {
                if lower == name.as_bytes() {
                    String::from_utf8_lossy(p).into_owned()
                } else {
                    name.to_string()
                }
            })
        })
    };
    let mut pairs = Vec::new();
    for param in crate::config::PARAMS {
        let value = || Reply::text(param.value(&current));
        let own_alias_matches = param
            .aliases
            .iter()
            .filter(|a| !crate::config::REDIS_ALIASES.contains(a))
            .any(|a| lowered.iter().any(|l| glob::matches(l, a.as_bytes())));
        if let Some(name) = shown_as(param.name) {
            pairs.push((Reply::text(name), value()));
        } else if own_alias_matches {
            pairs.push((Reply::text(param.name), value()));
        }
        for alias in param.aliases {
            if crate::config::REDIS_ALIASES.contains(alias) {
                if let Some(name) = shown_as(alias) {
                    pairs.push((Reply::text(name), value()));
                }
            }
        }
    }
    Reply::Map(pairs)
}

/// `CONFIG SET`: every pair applies, or none does; Redis's error texts.
fn config_set(ctx: &mut Context<'_>, pairs: ChunksExact<'_, &[u8]>) -> CommandResult {
    let failed = |name: &str, why: &str| {
        CommandError::other(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    let settings = &ctx.server.settings;
    let _changing = settings.begin_change();
    let mut params: Vec<(&crate::config::Param, String, String)> = Vec::new();
    for pair in pairs {
        let name = shown(pair[0]).into_owned();
        let Some(param) = crate::config::lookup(&name).filter(|_| pair[0].len() <= 128) else {
            return Err(CommandError::other(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if !param.mutable {
            return Err(failed(&name, "can't set immutable config"));
        }
        if params.iter().any(|(p, _, _)| std::ptr::eq(*p, param)) {
            return Err(failed(&name, "duplicate parameter"));
        }
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        params.push((param, name, value));
    }
    let mut next = settings.current();
    for (param, _, value) in &params {
        param
            .apply(&mut next, value)
            .map_err(|why| failed(param.name, &why))?;
    }
    settings
        .change(ctx.server, next)
        .map_err(|(name, why)| failed(name, &why))?;
    for (param, _, value) in &params {
        let shown_value = if param.sensitive { "(redacted)" } else { value };
        crate::notice!("CONFIG SET {} {}", param.name, shown_value);
    }
    Ok(Reply::Ok)
}

fn describe(spec: &CommandSpec) -> Reply {
    let mut flags = Vec::new();
    match spec.access {
        super::Access::Write => flags.push(Reply::Status("write".into())),
        super::Access::Read => flags.push(Reply::Status("readonly".into())),
        super::Access::Neither => {}
    }
    if spec.before_auth {
        flags.push(Reply::Status("no_auth".into()));
    }
    let (first, last, step) = spec.keys;
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Set(flags),
        Reply::Integer(i64::from(first)),
        Reply::Integer(i64::from(last)),
        Reply::Integer(i64::from(step)),
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

#[derive(Clone, Copy)]
enum CommandSubcommand {
    Count,
    List,
    Info,
    Docs,
}

/// `COMMAND`'s subcommands and their arities, as in Redis's table.
const COMMAND_SUBCOMMANDS: &[(&str, i32, CommandSubcommand)] = &[
    ("count", 2, CommandSubcommand::Count),
    ("list", -2, CommandSubcommand::List),
    ("info", -2, CommandSubcommand::Info),
    ("docs", -2, CommandSubcommand::Docs),
];

/// Which commands `COMMAND LIST` names.
#[derive(Debug, PartialEq, Eq)]
enum CommandFilter {
    /// Every command.
    All,
    /// `FILTERBY PATTERN p`: those whose name matches the glob `p`, in any case.
    Pattern(Vec<u8>),
    /// `FILTERBY MODULE m` or `FILTERBY ACLCAT c`: none, since gocache has
    /// no modules and keeps no ACL categories (Redis too lists nothing for a
    /// category it does not know).
    Nothing,
}

#[derive(Clone, Copy)]
enum FilterBy {
    Module,
    AclCat,
    Pattern,
}

/// Parses what follows `COMMAND LIST`: nothing, or exactly
/// `FILTERBY MODULE|ACLCAT|PATTERN arg`.
fn command_list_filter(mut args: Args<'_>) -> Result<CommandFilter, CommandError> {
    if args.is_empty() {
        return Ok(CommandFilter::All);
    }
    if args.remaining() != 3 || !args.eat("filterby") {
        return Err(CommandError::Syntax);
    }
    let by = args.next_keyword(&[
        ("module", FilterBy::Module),
        ("aclcat", FilterBy::AclCat),
        ("pattern", FilterBy::Pattern),
    ])?;
    let arg = args.next_bytes()?;
    Ok(match by {
        FilterBy::Pattern => CommandFilter::Pattern(arg.to_ascii_lowercase()),
        FilterBy::Module | FilterBy::AclCat => CommandFilter::Nothing,
    })
}

/// `COMMAND [COUNT | LIST [FILTERBY MODULE|ACLCAT|PATTERN arg] | INFO [name ...] | DOCS [name ...]]`
fn command(_: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    if args.is_empty() {
        return Ok(Reply::Array(table().map(describe).collect()));
    }
    let named = |names: &[&[u8]]| -> Vec<Option<&'static CommandSpec>> {
        names.iter().map(|n| super::lookup(n)).collect()
    };
    match args.subcommand("command", COMMAND_SUBCOMMANDS)? {
        CommandSubcommand::Count => Ok(Reply::Integer(table().count() as i64)),
        CommandSubcommand::List => {
            let filter = command_list_filter(args)?;
            let listed = table().filter(|c| match &filter {
                CommandFilter::All => true,
                CommandFilter::Pattern(p) => glob::matches(p, c.name.as_bytes()),
                CommandFilter::Nothing => false,
            });
            Ok(Reply::Array(listed.map(|c| Reply::text(c.name)).collect()))
        }
        CommandSubcommand::Info => {
            let names = args.rest();
            let specs: Vec<Option<&CommandSpec>> = if names.is_empty() {
                table().map(Some).collect()
            } else {
                named(names)
            };
            Ok(Reply::Array(
                specs
                    .into_iter()
                    .map(|s| s.map_or(Reply::Nil, describe))
                    .collect(),
            ))
        }
        CommandSubcommand::Docs => {
            let names = args.rest();
            let specs: Vec<&CommandSpec> = if names.is_empty() {
                table().collect()
            } else {
                named(names).into_iter().flatten().collect()
            };
            Ok(Reply::Map(
                specs
                    .into_iter()
                    .map(|s| {
                        let doc = Reply::Map(vec![
                            (
                                Reply::text("summary"),
                                Reply::text(format!(
                                    "{} (see the gocache README)",
                                    s.name.to_ascii_uppercase()
                                )),
                            ),
                            (Reply::text("since"), Reply::text("1.0.0")),
                            (Reply::text("group"), Reply::text(super::group_of(s))),
                        ]);
                        (Reply::text(s.name), doc)
                    })
                    .collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(w: &[&'static str]) -> Result<CommandFilter, String> {
        let argv: Vec<&[u8]> = w.iter().map(|w| w.as_bytes()).collect();
        let mut args = Args::new(&argv);
        args.next();
        command_list_filter(args).map_err(|e| e.to_string())
    }

    #[test]
    fn command_list_takes_one_filter_or_none() {
        assert_eq!(filter(&["command", "list"]), Ok(CommandFilter::All));
        assert_eq!(
            filter(&["command", "list", "FILTERBY", "Pattern", "GE*"]),
            Ok(CommandFilter::Pattern(b"ge*".to_vec()))
        );
        assert_eq!(
            filter(&["command", "list", "filterby", "aclcat", "read"]),
            Ok(CommandFilter::Nothing)
        );
        for bad in [
            &["command", "list", "x"][..],
            &["command", "list", "filterby", "pattern"],
            &["command", "list", "filterby", "bogus", "x"],
            &["command", "list", "filterby", "pattern", "x", "y"],
        ] {
            assert_eq!(filter(bad), Err("ERR syntax error".into()), "{bad:?}");
        }
    }
}
