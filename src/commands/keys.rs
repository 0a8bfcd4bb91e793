//! Key commands: deletion, existence, deadlines, type, listing and renaming.
//!
//! Deadlines are absolute Unix milliseconds; a deadline at or before now
//! deletes the key at once, as in Redis. Listing (`KEYS`, `SCAN`) copies key
//! handles (reference counts) under the read guard and builds the reply after.

use super::{Access, Args, CommandResult, CommandSpec, Context, is_word, keyword_of, parse_int};
use crate::error::{CommandError, shown};
use crate::glob;
use crate::keyspace::{Entry, Event, PARTITIONS};
use crate::protocol::{Bytes, Reply};
use crate::value::Kind;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, Access::Write, del).keys(1, -1, 1),
    CommandSpec::new("unlink", -2, Access::Write, del).keys(1, -1, 1),
    CommandSpec::new("delete", 2, Access::Write, delete).keys(1, 1, 1),
    CommandSpec::new("exists", -2, Access::Read, exists).keys(1, -1, 1),
    CommandSpec::new("touch", -2, Access::Read, touch).keys(1, -1, 1),
    CommandSpec::new("expire", -3, Access::Write, expire).keys(1, 1, 1),
    CommandSpec::new("pexpire", -3, Access::Write, pexpire).keys(1, 1, 1),
    CommandSpec::new("expireat", -3, Access::Write, expireat).keys(1, 1, 1),
    CommandSpec::new("pexpireat", -3, Access::Write, pexpireat).keys(1, 1, 1),
    CommandSpec::new("ttl", 2, Access::Read, ttl).keys(1, 1, 1),
    CommandSpec::new("pttl", 2, Access::Read, pttl).keys(1, 1, 1),
    CommandSpec::new("expiretime", 2, Access::Read, expiretime).keys(1, 1, 1),
    CommandSpec::new("pexpiretime", 2, Access::Read, pexpiretime).keys(1, 1, 1),
    CommandSpec::new("persist", 2, Access::Write, persist).keys(1, 1, 1),
    CommandSpec::new("type", 2, Access::Read, key_type).keys(1, 1, 1),
    CommandSpec::new("keys", 2, Access::Read, keys),
    CommandSpec::new("scan", -2, Access::Read, scan),
    CommandSpec::new("randomkey", 1, Access::Read, randomkey),
    CommandSpec::new("rename", 3, Access::Write, rename).keys(1, 2, 1),
    CommandSpec::new("renamenx", 3, Access::Write, renamenx).keys(1, 2, 1),
    CommandSpec::new("move", 3, Access::Write, move_key).keys(1, 1, 1),
    CommandSpec::new("copy", -3, Access::Write, copy)
        .grows()
        .keys(1, 2, 1),
    CommandSpec::new("object", -2, Access::Read, object).keys(2, 2, 1),
];

/// `DEL key [key ...]` and `UNLINK`: the number removed.
fn del(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let mut db = ctx.write();
    let removed = argv[1..]
        .iter()
        .filter(|k| db.remove(k, now).is_some())
        .count();
    Ok(Reply::Integer(removed as i64))
}

/// `DELETE key` (the seed's command): `OK` if removed, nil if absent.
fn delete(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let removed = ctx.write().remove(argv[1], now).is_some();
    Ok(if removed { Reply::Ok } else { Reply::Nil })
}

/// `EXISTS key [key ...]`: each argument counts, repeats included.
fn exists(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let db = ctx.read();
    let n = argv[1..].iter().filter(|k| db.contains(k, now)).count();
    Ok(Reply::Integer(n as i64))
}

/// `TOUCH key [key ...]`: how many of the keys exist; each is a use, which
/// its access stamp records.
fn touch(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let db = ctx.read();
    let n = argv[1..]
        .iter()
        .filter(|k| db.get(k, now).is_some())
        .count();
    Ok(Reply::Integer(n as i64))
}

/// `EXPIRE`-family condition flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireIf {
    Always,
    /// `NX`
    NoDeadline,
    /// `XX`
    HasDeadline,
    /// `GT`, alone or with `XX` (a key without a deadline never passes it).
    Later,
    /// `LT`: no deadline counts as later than any.
    Sooner,
    /// `XX LT`: a deadline, and a later one.
    SoonerWithDeadline,
}

#[derive(Clone, Copy)]
enum ExpireFlag {
    Nx,
    Xx,
    Gt,
    Lt,
}

/// Parses `EXPIRE`'s `NX|XX|GT|LT` flags (any may repeat); conflicts are
/// checked once every flag has been read, as Redis does.
fn expire_condition(opts: &[&[u8]]) -> Result<ExpireIf, CommandError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in Args::over(opts) {
        let flag = keyword_of(
            opt,
            &[
                ("nx", ExpireFlag::Nx),
                ("xx", ExpireFlag::Xx),
                ("gt", ExpireFlag::Gt),
                ("lt", ExpireFlag::Lt),
            ],
        )
        .ok_or_else(|| CommandError::other(format!("ERR Unsupported option {}", shown(opt))))?;
        match flag {
            ExpireFlag::Nx => nx = true,
            ExpireFlag::Xx => xx = true,
            ExpireFlag::Gt => gt = true,
            ExpireFlag::Lt => lt = true,
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::other(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CommandError::other(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireIf::NoDeadline,
        (_, _, true, _) => ExpireIf::Later,
        (_, true, _, true) => ExpireIf::SoonerWithDeadline,
        (_, false, _, true) => ExpireIf::Sooner,
        (_, true, ..) => ExpireIf::HasDeadline,
        _ => ExpireIf::Always,
    })
}

/// Shared body of `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`.
fn expire_generic(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    unit_ms: i64,
    absolute: bool,
    name: &'static str,
) -> CommandResult {
    // The flags first, then the time, as Redis reads them.
    let cond = expire_condition(&argv[3..])?;
    let n = parse_int(argv[2])?;
    let now = ctx.now;
    let scaled = n
        .checked_mul(unit_ms)
        .ok_or(CommandError::InvalidExpire(name))?;
    let at = if absolute {
        scaled
    } else {
        scaled
            .checked_add(now as i64)
            .ok_or(CommandError::InvalidExpire(name))?
    };
    // At or before now (or before the epoch): the key goes at once.
    let at = if at <= now as i64 {
        now.max(1)
    } else {
        at as u64
    };
    let mut db = ctx.write();
    let Some(current) = db.get_live(argv[1], now).map(|e| e.expires_at()) else {
        return Ok(Reply::Integer(0));
    };
    let allowed = match cond {
        ExpireIf::Always => true,
        ExpireIf::NoDeadline => current == 0,
        ExpireIf::HasDeadline => current != 0,
        ExpireIf::Later => current != 0 && at > current,
        ExpireIf::Sooner => current == 0 || at < current,
        ExpireIf::SoonerWithDeadline => current != 0 && at < current,
    };
    if allowed {
        db.set_deadline(argv[1], at, now);
    }
    Ok(Reply::Integer(i64::from(allowed)))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`
fn expire(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    expire_generic(ctx, argv, 1000, false, "expire")
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
fn pexpire(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    expire_generic(ctx, argv, 1, false, "pexpire")
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`
fn expireat(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    expire_generic(ctx, argv, 1000, true, "expireat")
}

/// `PEXPIREAT key unix-ms [NX|XX|GT|LT]`
fn pexpireat(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    expire_generic(ctx, argv, 1, true, "pexpireat")
}

/// -2 when absent, -1 without a deadline, else the deadline (Unix ms).
fn deadline_of(ctx: &Context<'_>, key: &[u8]) -> i64 {
    match ctx.read().peek(key, ctx.now) {
        None => -2,
        Some(e) => e.deadline().map_or(-1, |d| d as i64),
    }
}

/// `TTL key`: seconds left, rounded as Redis rounds.
fn ttl(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(match deadline_of(ctx, argv[1]) {
        d if d < 0 => d,
        d => (d - ctx.now as i64 + 500) / 1000,
    }))
}

/// `PTTL key`: milliseconds left.
fn pttl(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(match deadline_of(ctx, argv[1]) {
        d if d < 0 => d,
        d => d - ctx.now as i64,
    }))
}

/// `EXPIRETIME key`: the deadline in Unix seconds, rounded as Redis rounds.
fn expiretime(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(match deadline_of(ctx, argv[1]) {
        d if d < 0 => d,
        d => (d + 500) / 1000,
    }))
}

/// `PEXPIRETIME key`: the deadline in Unix milliseconds.
fn pexpiretime(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(deadline_of(ctx, argv[1])))
}

/// `PERSIST key`: 1 if a deadline was removed.
fn persist(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let mut db = ctx.write();
    let had = db
        .get_live(argv[1], now)
        .is_some_and(|e| e.expires_at() != 0);
    if had {
        db.set_deadline(argv[1], 0, now);
    }
    Ok(Reply::Integer(i64::from(had)))
}

/// `TYPE key`: `string`, `hash`, `list`, `set` or `none`.
fn key_type(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let kind = ctx.read().peek(argv[1], ctx.now).map(Entry::kind);
    Ok(Reply::status(kind.map_or("none", Kind::name)))
}

fn key_replies(keys: Vec<Bytes>) -> Reply {
    Reply::Array(keys.into_iter().map(Reply::Bulk).collect())
}

/// `KEYS pattern`
fn keys(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let pattern = argv[1];
    let match_all = pattern == b"*";
    let found: Vec<Bytes> = ctx
        .read()
        .iter_live(ctx.now)
        .filter(|e| match_all || glob::matches(pattern, e.key()))
        .map(Bytes::key_of)
        .collect();
    Ok(key_replies(found))
}

/// `SCAN`'s arguments.
#[derive(Debug, PartialEq, Eq)]
struct ScanOptions<'a> {
    cursor: u64,
    /// `MATCH`, unless it matches everything.
    pattern: Option<&'a [u8]>,
    /// `COUNT`: about how many keys to visit.
    count: usize,
    /// `TYPE`: only keys of the type of this name (none, if no type has
    /// it, as in Redis 7.0).
    type_name: Option<&'a [u8]>,
}

#[derive(Clone, Copy)]
enum ScanOption {
    Match,
    Count,
    Type,
}

/// Parses `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`; each option
/// may repeat, the last counting.
fn parse_scan<'a>(argv: &'a [&'a [u8]]) -> Result<ScanOptions<'a>, CommandError> {
    let mut args = Args::new(argv);
    let mut o = ScanOptions {
        cursor: args.next_with(parse_cursor)?,
        pattern: None,
        count: 10,
        type_name: None,
    };
    while let Some(option) = args.keyword(&[
        ("match", ScanOption::Match),
        ("count", ScanOption::Count),
        ("type", ScanOption::Type),
    ]) {
        match option {
            ScanOption::Match => o.pattern = Some(args.next_bytes()?).filter(|p| *p != b"*"),
            ScanOption::Count => {
                o.count = match args.next_int()? {
                    n if n < 1 => return Err(CommandError::Syntax),
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                };
            }
            ScanOption::Type => o.type_name = Some(args.next_bytes()?),
        }
    }
    args.finish()?;
    Ok(o)
}

/// Parses a `SCAN` cursor as Redis reads one (C's `strtoul`): decimal
/// digits after an optional sign, a negative one wrapping around, and an
/// empty one 0; no space before it, nothing after, nothing beyond 64 bits.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let invalid = || CommandError::other("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let value = digits.iter().try_fold(0u64, |v, d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    let value = value.ok_or_else(invalid)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`
///
/// The cursor is the index of the next partition to visit; each call returns
/// whole partitions until about COUNT keys are gathered. A key lives in one
/// partition for its whole life, so every key present from the first call to
/// the last is returned at least once.
fn scan(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let ScanOptions {
        cursor,
        pattern,
        count,
        type_name,
    } = parse_scan(argv)?;
    let mut part = cursor as usize;
    let mut found: Vec<Bytes> = Vec::new();
    let mut visited = 0;
    {
        let db = ctx.read();
        while part < PARTITIONS && visited < count {
            for k in db.iter_partition(part, ctx.now) {
                visited += 1;
                let of_type =
                    type_name.is_none_or(|t| t.eq_ignore_ascii_case(k.kind().name().as_bytes()));
                if of_type && pattern.is_none_or(|p| glob::matches(p, k.key())) {
                    found.push(Bytes::key_of(k));
                }
            }
            part += 1;
        }
    }
    let next = if part >= PARTITIONS { 0 } else { part };
    Ok(Reply::Array(vec![
        Reply::text(next.to_string()),
        key_replies(found),
    ]))
}

/// `RANDOMKEY`
fn randomkey(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    let seed = ctx.random_seed();
    Ok(ctx
        .read()
        .random_entry(ctx.now, seed)
        .map_or(Reply::Nil, |k| Reply::Bulk(Bytes::key_of(&k))))
}

/// Moves `src` to `dst` keeping its deadline; `only_if_new` is `RENAMENX`.
fn rename_generic(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    only_if_new: bool,
) -> Result<bool, CommandError> {
    let (src, dst) = (argv[1], argv[2]);
    let now = ctx.now;
    let mut db = ctx.write();
    if db.get_live(src, now).is_none() {
        return Err(CommandError::other("ERR no such key"));
    }
    if src == dst {
        return Ok(!only_if_new);
    }
    if only_if_new && db.get_live(dst, now).is_some() {
        return Ok(false);
    }
    let Some(entry) = db.take_as(src, now, Event::RenameFrom) else {
        return Ok(false);
    };
    let expires_at = entry.expires_at();
    db.put_entry_as(entry.moved_to(dst, expires_at), now, Event::RenameTo);
    Ok(true)
}

/// `RENAME key newkey`
fn rename(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    rename_generic(ctx, argv, false)?;
    Ok(Reply::Ok)
}

/// `RENAMENX key newkey`
fn renamenx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::Integer(i64::from(rename_generic(ctx, argv, true)?)))
}

/// `MOVE key db`: 1 if moved, 0 if absent here or present there.
fn move_key(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let to = super::server::database_index(ctx, argv[2], None)?;
    let (from, now) = (ctx.session.db, ctx.now);
    if from == to {
        return Err(CommandError::other(
            "ERR source and destination objects are the same",
        ));
    }
    let store = ctx.store();
    if store.writer(from).get_live(argv[1], now).is_none()
        || store.writer(to).get_live(argv[1], now).is_some()
    {
        return Ok(Reply::Integer(0));
    }
    // A new entry in the target, with the deadline: an entry is linked to
    // its own database's deadline heap, so it is not shared across two.
    let Some(entry) = store.writer(from).take_as(argv[1], now, Event::MoveFrom) else {
        return Ok(Reply::Integer(0));
    };
    let expires_at = entry.expires_at();
    store
        .writer(to)
        .put_entry_as(entry.moved_to(argv[1], expires_at), now, Event::MoveTo);
    Ok(Reply::Integer(1))
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied
/// (value and deadline), 0 if the source is absent or the destination
/// exists without `REPLACE`.
fn copy(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (src, dst) = (argv[1], argv[2]);
    let from = ctx.session.db;
    let mut to = from;
    let mut replace = false;
    let mut args = Args::over(&argv[3..]);
    while let Some(word) = args.next() {
        if is_word(word, "replace") {
            replace = true;
        } else if is_word(word, "db") && args.remaining() > 0 {
            to = super::server::database_index(ctx, args.next_bytes()?, None)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if from == to && src == dst {
        return Err(CommandError::other(
            "ERR source and destination objects are the same",
        ));
    }
    let now = ctx.now;
    let store = ctx.store();
    let Some(entry) = store.writer(from).get_live(src, now).cloned() else {
        return Ok(Reply::Integer(0));
    };
    let mut target = store.writer(to);
    if target.get_live(dst, now).is_some() {
        if !replace {
            return Ok(Reply::Integer(0));
        }
        target.remove(dst, now);
    }
    let copied = entry.copied_to(dst, entry.expires_at());
    drop(entry);
    target.put_entry_as(copied, now, Event::Copy);
    Ok(Reply::Integer(1))
}

/// `OBJECT HELP`, as Redis words it, for the subcommands there are.
const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis's refusals of `OBJECT IDLETIME` under an LFU policy and of
/// `OBJECT FREQ` under any other: the stamp counts the other thing.
const IDLETIME_UNDER_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const FREQ_WITHOUT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key`, `OBJECT HELP`: the
/// encoding in use (Redis's names), the seconds since the key was last
/// used, its access counter, or nil for an absent key. None of them is a
/// use of the key.
fn object(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    #[derive(Clone, Copy)]
    enum Sub {
        Encoding,
        Refcount,
        Idletime,
        Freq,
        Help,
    }
    let sub = Args::new(argv).subcommand(
        "object",
        &[
            ("encoding", 3, Sub::Encoding),
            ("refcount", 3, Sub::Refcount),
            ("idletime", 3, Sub::Idletime),
            ("freq", 3, Sub::Freq),
            ("help", 2, Sub::Help),
        ],
    )?;
    if let Sub::Help = sub {
        return Ok(Reply::Array(
            OBJECT_HELP
                .iter()
                .map(|line| Reply::Status((*line).into()))
                .collect(),
        ));
    }
    let db = ctx.read();
    let Some(entry) = db.peek(argv[2], ctx.now) else {
        return Ok(Reply::Nil);
    };
    let stamps = db.stamps();
    Ok(match sub {
        Sub::Encoding => Reply::text(match entry.collection() {
            Some(value) => value.encoding(),
            None => string_encoding(entry.value()),
        }),
        Sub::Idletime if stamps.lfu() => return Err(CommandError::other(IDLETIME_UNDER_LFU)),
        Sub::Idletime => Reply::Integer(stamps.idle_seconds(entry.stamp(), ctx.now) as i64),
        Sub::Freq if !stamps.lfu() => return Err(CommandError::other(FREQ_WITHOUT_LFU)),
        Sub::Freq => Reply::Integer(i64::from(stamps.frequency(entry.stamp(), ctx.now))),
        // Every value has one reference: gocache shares no integers.
        _ => Reply::Integer(1),
    })
}

/// The encoding Redis would report for a string of these bytes: `int` for
/// a canonical 64-bit integer, `embstr` up to 44 bytes, `raw` beyond.
fn string_encoding(value: &[u8]) -> &'static str {
    let canonical = value.len() <= 20
        && crate::protocol::resp::parse_i64(value).is_some_and(|n| {
            let mut digits = [0u8; 20];
            crate::protocol::reply::format_int(n, &mut digits) == value
        });
    if canonical {
        "int"
    } else if value.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&'static str]) -> Vec<&'static [u8]> {
        w.iter().map(|w| w.as_bytes()).collect()
    }

    fn condition(w: &[&'static str]) -> Result<ExpireIf, String> {
        expire_condition(&words(w)).map_err(|e| e.to_string())
    }

    #[test]
    fn expire_flags_combine_as_redis_combines_them() {
        assert_eq!(condition(&[]), Ok(ExpireIf::Always));
        assert_eq!(condition(&["nx", "NX"]), Ok(ExpireIf::NoDeadline));
        assert_eq!(condition(&["XX"]), Ok(ExpireIf::HasDeadline));
        assert_eq!(condition(&["gt"]), Ok(ExpireIf::Later));
        assert_eq!(condition(&["xx", "gt"]), Ok(ExpireIf::Later));
        assert_eq!(condition(&["lt"]), Ok(ExpireIf::Sooner));
        assert_eq!(condition(&["lt", "xx"]), Ok(ExpireIf::SoonerWithDeadline));
    }

    #[test]
    fn expire_flag_errors_are_redis_texts_and_an_unknown_flag_comes_first() {
        let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
        let gt = "ERR GT and LT options at the same time are not compatible";
        assert_eq!(condition(&["nx", "xx"]).unwrap_err(), nx);
        assert_eq!(condition(&["gt", "nx"]).unwrap_err(), nx);
        assert_eq!(condition(&["gt", "lt"]).unwrap_err(), gt);
        assert_eq!(
            condition(&["nx", "xx", "BOGUS"]).unwrap_err(),
            "ERR Unsupported option BOGUS"
        );
    }

    #[test]
    fn scan_options_parse_in_any_order_and_the_last_counts() {
        let argv = words(&[
            "scan", "7", "COUNT", "5", "match", "a*", "type", "hash", "count", "3",
        ]);
        assert_eq!(
            parse_scan(&argv),
            Ok(ScanOptions {
                cursor: 7,
                pattern: Some(b"a*"),
                count: 3,
                type_name: Some(b"hash"),
            })
        );
        let argv = words(&["scan", "0", "MATCH", "*", "TYPE", "String"]);
        assert!(
            parse_scan(&argv).is_ok_and(|o| o.pattern.is_none() && o.type_name == Some(b"String"))
        );
    }

    #[test]
    fn scan_errors_are_redis_texts() {
        for (w, error) in [
            (&["scan", "abc"][..], "ERR invalid cursor"),
            (&["scan", " 1"], "ERR invalid cursor"),
            (&["scan", "18446744073709551616"], "ERR invalid cursor"),
            (&["scan", "0", "COUNT"], "ERR syntax error"),
            (&["scan", "0", "COUNT", "0"], "ERR syntax error"),
            (
                &["scan", "0", "COUNT", "abc"],
                "ERR value is not an integer or out of range",
            ),
            (&["scan", "0", "MATCH"], "ERR syntax error"),
            (&["scan", "0", "BOGUS", "x"], "ERR syntax error"),
        ] {
            assert_eq!(
                parse_scan(&words(w)).unwrap_err().to_string(),
                error,
                "{w:?}"
            );
        }
    }

    #[test]
    fn scan_cursors_read_as_strtoul_reads_them() {
        assert_eq!(parse_cursor(b"42"), Ok(42));
        assert_eq!(parse_cursor(b"+3"), Ok(3));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"-"[..], b"1 ", b"0x1", b"1.0"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
