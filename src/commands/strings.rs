//! String commands: `SET` and its options, `GET`, counters, ranges, and the
//! multi-key `MGET`/`MSET` family.
//!
//! Values are immutable [`Entry`] bytes; a command that changes a value builds a
//! new one. Every command takes one guard, read or write, for its whole run,
//! so each is atomic (an `MSET` is never seen half-applied).

use super::{Access, CommandResult, CommandSpec, Context, is_word, parse_int};
use crate::error::CommandError;
use crate::keyspace::Entry;
use crate::protocol::{
    Bytes, Reply,
    reply::{format_double, format_int},
};

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, Access::Read, get).keys(1, 1, 1),
    CommandSpec::new("set", -3, Access::Write, set).keys(1, 1, 1),
    CommandSpec::new("setnx", 3, Access::Write, setnx).keys(1, 1, 1),
    CommandSpec::new("setex", 4, Access::Write, setex).keys(1, 1, 1),
    CommandSpec::new("psetex", 4, Access::Write, psetex).keys(1, 1, 1),
    CommandSpec::new("getset", 3, Access::Write, getset).keys(1, 1, 1),
    CommandSpec::new("getdel", 2, Access::Write, getdel).keys(1, 1, 1),
    CommandSpec::new("getex", -2, Access::Write, getex).keys(1, 1, 1),
    CommandSpec::new("mget", -2, Access::Read, mget).keys(1, -1, 1),
    CommandSpec::new("mset", -3, Access::Write, mset).keys(1, -1, 2),
    CommandSpec::new("msetnx", -3, Access::Write, msetnx).keys(1, -1, 2),
    CommandSpec::new("incr", 2, Access::Write, incr).keys(1, 1, 1),
    CommandSpec::new("decr", 2, Access::Write, decr).keys(1, 1, 1),
    CommandSpec::new("incrby", 3, Access::Write, incrby).keys(1, 1, 1),
    CommandSpec::new("decrby", 3, Access::Write, decrby).keys(1, 1, 1),
    CommandSpec::new("incrbyfloat", 3, Access::Write, incrbyfloat).keys(1, 1, 1),
    CommandSpec::new("append", 3, Access::Write, append).keys(1, 1, 1),
    CommandSpec::new("strlen", 2, Access::Read, strlen).keys(1, 1, 1),
    CommandSpec::new("getrange", 4, Access::Read, getrange).keys(1, 1, 1),
    CommandSpec::new("substr", 4, Access::Read, getrange).keys(1, 1, 1),
    CommandSpec::new("setrange", 4, Access::Write, setrange).keys(1, 1, 1),
];

/// A reply carrying an entry's value (shared, not copied), or nil.
fn value_reply(entry: Option<Entry>) -> Reply {
    entry.map_or(Reply::Nil, |e| Reply::Bulk(Bytes::Value(e)))
}

/// `GET key`
fn get(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let found = ctx.read().get(argv[1], ctx.now).cloned();
    ctx.count_lookup(found.is_some());
    Ok(value_reply(found))
}

/// When a `SET` applies, relative to the key existing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    Always,
    /// `NX`: only if absent.
    IfAbsent,
    /// `XX`: only if present.
    IfPresent,
}

/// What happens to the key's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewDeadline {
    /// Clear it (the default).
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// An absolute deadline in Unix ms (may already be past).
    At(u64),
}

/// `SET`'s parsed options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOptions {
    /// `NX` / `XX`.
    pub condition: Condition,
    /// `GET`: reply with the old value.
    pub get: bool,
    /// `EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`, or a bare trailing TTL in seconds.
    pub deadline: NewDeadline,
}

/// Turns a relative or absolute expire argument into absolute Unix ms.
/// `unit_ms` is 1000 for seconds; `absolute` for `EXAT`/`PXAT`.
pub fn deadline_from(
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    now: u64,
    command: &'static str,
) -> Result<u64, CommandError> {
    let n = parse_int(arg)?;
    if n <= 0 {
        return Err(CommandError::InvalidExpire(command));
    }
    let ms = n
        .checked_mul(unit_ms)
        .ok_or(CommandError::InvalidExpire(command))?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now as i64)
            .ok_or(CommandError::InvalidExpire(command))?
    };
    Ok(at as u64)
}

/// Parses the options after `SET key value`.
pub fn parse_set_options(opts: &[&[u8]], now: u64) -> Result<SetOptions, CommandError> {
    let mut o = SetOptions {
        condition: Condition::Always,
        get: false,
        deadline: NewDeadline::Clear,
    };
    let mut ttl_given = false;
    let mut i = 0;
    while i < opts.len() {
        let word = opts[i];
        let next = opts.get(i + 1);
        let mut expire = |unit: i64, absolute: bool| -> Result<(), CommandError> {
            if ttl_given {
                return Err(CommandError::Syntax);
            }
            let arg = next.ok_or(CommandError::Syntax)?;
            o.deadline = NewDeadline::At(deadline_from(arg, unit, absolute, now, "set")?);
            ttl_given = true;
            i += 1;
            Ok(())
        };
        if is_word(word, "nx") && o.condition != Condition::IfPresent {
            o.condition = Condition::IfAbsent;
        } else if is_word(word, "xx") && o.condition != Condition::IfAbsent {
            o.condition = Condition::IfPresent;
        } else if is_word(word, "get") {
            o.get = true;
        } else if is_word(word, "ex") {
            expire(1000, false)?;
        } else if is_word(word, "px") {
            expire(1, false)?;
        } else if is_word(word, "exat") {
            expire(1000, true)?;
        } else if is_word(word, "pxat") {
            expire(1, true)?;
        } else if is_word(word, "keepttl") && !ttl_given {
            o.deadline = NewDeadline::Keep;
            ttl_given = true;
        } else if i == opts.len() - 1
            && !ttl_given
            && word
                .first()
                .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
        {
            // The seed's form: a bare TTL in seconds as the last argument.
            o.deadline = NewDeadline::At(deadline_from(word, 1000, false, now, "set")?);
            ttl_given = true;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Stores `val` under `key` per `opts`; returns (applied, previous value).
/// The new entry is built before the lock is taken, so other writers never
/// wait on its allocation (or on a big value's, which is shared, not copied).
fn set_with(
    ctx: &mut Context<'_>,
    key: &[u8],
    val: &[u8],
    opts: SetOptions,
) -> (bool, Option<Entry>) {
    let now = ctx.now;
    let fresh = ctx.entry(
        key,
        val,
        match opts.deadline {
            NewDeadline::At(at) if at > now => at,
            _ => 0,
        },
    );
    let expires_now = matches!(opts.deadline, NewDeadline::At(at) if at <= now);
    if opts.condition == Condition::Always && opts.deadline != NewDeadline::Keep && !expires_now {
        // The common SET: one lookup stores it, and the replaced entry
        // comes back from put.
        return (true, ctx.write().put_entry(fresh, now));
    }
    let mut db = ctx.write();
    let old = db.get_live(key, now).cloned();
    let allowed = match opts.condition {
        Condition::Always => true,
        Condition::IfAbsent => old.is_none(),
        Condition::IfPresent => old.is_some(),
    };
    if allowed {
        if expires_now {
            // Already past: Redis sets the key and expires it at once,
            // counting it in expired_keys.
            db.remove(key, now);
            drop(db);
            ctx.server.keyspace.expiry().count_expired(1);
        } else {
            if opts.deadline == NewDeadline::Keep {
                // Not shared with anyone yet: its deadline may still change.
                fresh.set_expires_at(old.as_ref().map_or(0, Entry::expires_at));
            }
            db.put_entry(fresh, now);
        }
    }
    (allowed, old)
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] | [ttl-seconds]`
fn set(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let opts = parse_set_options(&argv[3..], ctx.now)?;
    let (applied, old) = set_with(ctx, argv[1], argv[2], opts);
    Ok(match (opts.get, applied) {
        (true, _) => value_reply(old),
        (false, true) => Reply::Ok,
        (false, false) => Reply::Nil,
    })
}

/// `SETNX key value`
fn setnx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let opts = SetOptions {
        condition: Condition::IfAbsent,
        get: false,
        deadline: NewDeadline::Clear,
    };
    let (applied, _) = set_with(ctx, argv[1], argv[2], opts);
    Ok(Reply::Integer(i64::from(applied)))
}

fn set_expiring(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    unit: i64,
    name: &'static str,
) -> CommandResult {
    let at = deadline_from(argv[2], unit, false, ctx.now, name)?;
    let opts = SetOptions {
        condition: Condition::Always,
        get: false,
        deadline: NewDeadline::At(at),
    };
    set_with(ctx, argv[1], argv[3], opts);
    Ok(Reply::Ok)
}

/// `SETEX key seconds value`
fn setex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    set_expiring(ctx, argv, 1000, "setex")
}

/// `PSETEX key milliseconds value`
fn psetex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    set_expiring(ctx, argv, 1, "psetex")
}

/// `GETSET key value`
fn getset(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let opts = SetOptions {
        condition: Condition::Always,
        get: true,
        deadline: NewDeadline::Clear,
    };
    let (_, old) = set_with(ctx, argv[1], argv[2], opts);
    Ok(value_reply(old))
}

/// `GETDEL key`
fn getdel(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let old = ctx.write().remove(argv[1], now);
    ctx.count_lookup(old.is_some());
    Ok(value_reply(old))
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`
fn getex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let change = match &argv[2..] {
        [] => None,
        [w] if is_word(w, "persist") => Some(0),
        [w, arg] if is_word(w, "ex") => Some(deadline_from(arg, 1000, false, now, "getex")?),
        [w, arg] if is_word(w, "px") => Some(deadline_from(arg, 1, false, now, "getex")?),
        [w, arg] if is_word(w, "exat") => Some(deadline_from(arg, 1000, true, now, "getex")?),
        [w, arg] if is_word(w, "pxat") => Some(deadline_from(arg, 1, true, now, "getex")?),
        _ => return Err(CommandError::Syntax),
    };
    let mut db = ctx.write();
    let found = db.get_live(argv[1], now).cloned();
    if let (Some(_), Some(at)) = (&found, change) {
        db.set_deadline(argv[1], at, now);
    }
    drop(db);
    ctx.count_lookup(found.is_some());
    Ok(value_reply(found))
}

/// `MGET key [key ...]`
fn mget(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let db = ctx.read();
    let found: Vec<Option<Entry>> = argv[1..].iter().map(|k| db.get(k, now).cloned()).collect();
    drop(db);
    let hits = found.iter().filter(|v| v.is_some()).count() as u64;
    ctx.session.counters.hits += hits;
    ctx.session.counters.misses += found.len() as u64 - hits;
    Ok(Reply::Array(found.into_iter().map(value_reply).collect()))
}

fn pairs<'a>(
    argv: &'a [&'a [u8]],
    name: &str,
) -> Result<std::slice::ChunksExact<'a, &'a [u8]>, CommandError> {
    if (argv.len() - 1) % 2 != 0 {
        return Err(CommandError::WrongArity(name.into()));
    }
    Ok(argv[1..].chunks_exact(2))
}

/// `MSET key value [key value ...]`
fn mset(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let pairs = pairs(argv, "mset")?;
    let now = ctx.now;
    // Built under the guard, one at a time, each replaced entry freed before
    // the next is allocated: measured fewer instructions than building them
    // all first (the allocator's per-thread cache holds only a few).
    let buffers = ctx.arg_buffers();
    let mut db = ctx.write();
    for kv in pairs {
        db.put_entry(buffers.entry(kv[0], kv[1], 0), now);
    }
    Ok(Reply::Ok)
}

/// `MSETNX key value [key value ...]`: all or nothing.
fn msetnx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let pairs = pairs(argv, "msetnx")?;
    let now = ctx.now;
    let buffers = ctx.arg_buffers();
    let mut db = ctx.write();
    if pairs.clone().any(|kv| db.get_live(kv[0], now).is_some()) {
        return Ok(Reply::Integer(0));
    }
    for kv in pairs {
        db.put_entry(buffers.entry(kv[0], kv[1], 0), now);
    }
    Ok(Reply::Integer(1))
}

/// Adds `by` to the integer at `key` (0 when absent), keeping its deadline.
fn add(ctx: &mut Context<'_>, key: &[u8], by: i64) -> CommandResult {
    let now = ctx.now;
    let mut db = ctx.write();
    let (current, expires_at) = match db.get_live(key, now) {
        Some(e) => (
            crate::protocol::resp::parse_i64(e.value()).ok_or(CommandError::NotInteger)?,
            e.expires_at(),
        ),
        None => (0, 0),
    };
    let next = current.checked_add(by).ok_or(CommandError::Overflow)?;
    let mut digits = [0u8; 20];
    db.put(key, format_int(next, &mut digits), expires_at, now);
    Ok(Reply::Integer(next))
}

/// `INCR key`
fn incr(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    add(ctx, argv[1], 1)
}

/// `DECR key`
fn decr(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    add(ctx, argv[1], -1)
}

/// `INCRBY key increment`
fn incrby(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let by = parse_int(argv[2])?;
    add(ctx, argv[1], by)
}

/// `DECRBY key decrement`
fn decrby(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let by = parse_int(argv[2])?;
    let by = by
        .checked_neg()
        .ok_or_else(|| CommandError::other("ERR decrement would overflow"))?;
    add(ctx, argv[1], by)
}

/// Parses a float the way Redis's `INCRBYFLOAT` accepts one: no spaces, no
/// NaN, and the whole argument used.
fn parse_float(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(|c: char| c.is_whitespace())
        || text.ends_with(|c: char| c.is_whitespace())
    {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// `INCRBYFLOAT key increment`
fn incrbyfloat(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let by = parse_float(argv[2]).ok_or(CommandError::NotFloat)?;
    let now = ctx.now;
    let mut db = ctx.write();
    let current = match db.get_live(argv[1], now) {
        Some(e) => parse_float(e.value()).ok_or(CommandError::NotFloat)?,
        None => 0.0,
    };
    let next = current + by;
    if !next.is_finite() {
        return Err(CommandError::other(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = format_double(next);
    db.put_keep_ttl(argv[1], text.as_bytes(), now);
    // A bulk string in RESP3 too, as Redis 7.0 sends (clients type it so).
    Ok(Reply::text(text))
}

/// `APPEND key value`
fn append(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let max = ctx.server.limits.proto_max_bulk_len;
    let mut db = ctx.write();
    let current = db.get_live(argv[1], now).map_or(0, |e| e.value().len());
    // Checked before anything is copied, as Redis's checkStringLength does.
    if current.saturating_add(argv[2].len()) > max {
        return Err(too_big());
    }
    let mut joined = db
        .get_live(argv[1], now)
        .map_or_else(Vec::new, |e| e.value().to_vec());
    joined.extend_from_slice(argv[2]);
    let len = joined.len();
    db.put_keep_ttl(argv[1], &joined, now);
    Ok(Reply::Integer(len as i64))
}

fn too_big() -> CommandError {
    CommandError::other("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// `STRLEN key`
fn strlen(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let len = ctx
        .read()
        .get(argv[1], ctx.now)
        .map_or(0, |e| e.value().len());
    Ok(Reply::Integer(len as i64))
}

/// `GETRANGE key start end` (inclusive; negative counts from the end)
fn getrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (start, end) = (parse_int(argv[2])?, parse_int(argv[3])?);
    let Some(entry) = ctx.read().get(argv[1], ctx.now).cloned() else {
        return Ok(Reply::bulk(b""));
    };
    let v = entry.value();
    let len = v.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Ok(Reply::bulk(b""));
    }
    let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (clamp(start), clamp(end).min(len - 1));
    if start > end {
        return Ok(Reply::bulk(b""));
    }
    Ok(Reply::bulk(&v[start as usize..=end as usize]))
}

/// `SETRANGE key offset value`
fn setrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let offset = parse_int(argv[2])?;
    if offset < 0 {
        return Err(CommandError::other("ERR offset is out of range"));
    }
    let patch = argv[3];
    let now = ctx.now;
    let max = ctx.server.limits.proto_max_bulk_len;
    let mut db = ctx.write();
    let current = db.get_live(argv[1], now).cloned();
    if patch.is_empty() {
        return Ok(Reply::Integer(
            current.map_or(0, |v| v.value().len() as i64),
        ));
    }
    let offset = offset as usize;
    if offset.saturating_add(patch.len()) > max {
        return Err(too_big());
    }
    let mut bytes = current.map_or_else(Vec::new, |v| v.value().to_vec());
    if bytes.len() < offset + patch.len() {
        bytes.resize(offset + patch.len(), 0);
    }
    bytes[offset..offset + patch.len()].copy_from_slice(patch);
    let len = bytes.len();
    db.put_keep_ttl(argv[1], &bytes, now);
    Ok(Reply::Integer(len as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(words: &[&str]) -> Result<SetOptions, CommandError> {
        let v: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        parse_set_options(&v, 1_000)
    }

    #[test]
    fn bare_trailing_integer_is_a_ttl_in_seconds() {
        assert_eq!(opts(&["60"]).unwrap().deadline, NewDeadline::At(61_000));
        assert_eq!(
            opts(&["NX", "60"]).unwrap().deadline,
            NewDeadline::At(61_000)
        );
    }

    #[test]
    fn redis_options_parse_in_any_order_and_case() {
        let o = opts(&["px", "500", "NX", "get"]).unwrap();
        assert_eq!(o.deadline, NewDeadline::At(1_500));
        assert_eq!(o.condition, Condition::IfAbsent);
        assert!(o.get);
        assert_eq!(
            opts(&["EXAT", "5"]).unwrap().deadline,
            NewDeadline::At(5_000)
        );
        assert_eq!(opts(&["PXAT", "5"]).unwrap().deadline, NewDeadline::At(5));
        assert_eq!(opts(&["KEEPTTL"]).unwrap().deadline, NewDeadline::Keep);
    }

    #[test]
    fn bad_ttls_and_conflicts_are_the_redis_errors() {
        assert_eq!(opts(&["0"]), Err(CommandError::InvalidExpire("set")));
        assert_eq!(opts(&["-5"]), Err(CommandError::InvalidExpire("set")));
        assert_eq!(opts(&["EX", "0"]), Err(CommandError::InvalidExpire("set")));
        assert_eq!(opts(&["EX", "abc"]), Err(CommandError::NotInteger));
        assert_eq!(opts(&["PX", "1.5"]), Err(CommandError::NotInteger));
        assert_eq!(
            opts(&["EX", "9223372036854775807"]),
            Err(CommandError::InvalidExpire("set"))
        );
        for bad in [
            &["NX", "XX"][..],
            &["EX", "1", "PX", "1"],
            &["KEEPTTL", "EX", "1"],
            &["EX"],
            &["bogus"],
            &["60", "NX"],
            &["EX", "1", "60"],
        ] {
            assert_eq!(opts(bad), Err(CommandError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_strictly() {
        assert_eq!(parse_float(b"10.5"), Some(10.5));
        assert_eq!(parse_float(b"5.0e3"), Some(5000.0));
        for bad in [&b""[..], b" 1", b"1 ", b"abc", b"nan"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }
}
