//! String commands: `SET` and its options, `GET`, counters, ranges, and the
//! multi-key `MGET`/`MSET` family.
//!
//! Values are immutable [`Entry`] bytes; a command that changes a value builds a
//! new one. A command that reads a value answers `WRONGTYPE` for a key
//! holding a collection (`MGET` answers nil for it, as Redis does); one
//! that only stores (`SET`, `MSET`) replaces whatever was there. Every command takes one guard, read or write, for its whole run,
//! so each is atomic (an `MSET` is never seen half-applied).

use super::{Access, Args, CommandResult, CommandSpec, Context, parse_int, string_of};
use crate::error::CommandError;
use crate::keyspace::{Entry, Event};
use crate::protocol::{Bytes, Reply, reply::format_int};
use crate::value::long_double::LongDouble;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, Access::Read, get).keys(1, 1, 1),
    CommandSpec::new("set", -3, Access::Write, set)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("setnx", 3, Access::Write, setnx)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("setex", 4, Access::Write, setex)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("psetex", 4, Access::Write, psetex)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("getset", 3, Access::Write, getset)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("getdel", 2, Access::Write, getdel).keys(1, 1, 1),
    CommandSpec::new("getex", -2, Access::Write, getex).keys(1, 1, 1),
    CommandSpec::new("mget", -2, Access::Read, mget).keys(1, -1, 1),
    CommandSpec::new("mset", -3, Access::Write, mset)
        .grows()
        .keys(1, -1, 2),
    CommandSpec::new("msetnx", -3, Access::Write, msetnx)
        .grows()
        .keys(1, -1, 2),
    CommandSpec::new("incr", 2, Access::Write, incr)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("decr", 2, Access::Write, decr)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("incrby", 3, Access::Write, incrby)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("decrby", 3, Access::Write, decrby)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("incrbyfloat", 3, Access::Write, incrbyfloat)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("append", 3, Access::Write, append)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("strlen", 2, Access::Read, strlen).keys(1, 1, 1),
    CommandSpec::new("getrange", 4, Access::Read, getrange).keys(1, 1, 1),
    CommandSpec::new("substr", 4, Access::Read, getrange).keys(1, 1, 1),
    CommandSpec::new("setrange", 4, Access::Write, setrange)
        .grows()
        .keys(1, 1, 1),
];

/// A reply carrying a string entry's value (shared, not copied), or nil.
fn value_reply(entry: Option<Entry>) -> Reply {
    entry.map_or(Reply::Nil, |e| Reply::Bulk(Bytes::Value(e)))
}

/// `entry`, a lookup's result, if it is a string: `WRONGTYPE` if not.
fn string_entry(entry: Option<&Entry>) -> Result<Option<Entry>, CommandError> {
    string_of(entry)?;
    Ok(entry.cloned())
}

/// `GET key`
fn get(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let found = string_entry(ctx.read().get(argv[1], ctx.now))?;
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

/// A deadline option as sent: `EX`, `PX`, `EXAT` or `PXAT` and its
/// argument. The argument is checked only when the deadline is used, as
/// Redis checks it: after every option has parsed, and for `GETEX` only once
/// the key is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineArg<'a> {
    /// 1000 for seconds, 1 for milliseconds.
    unit_ms: i64,
    /// `EXAT`/`PXAT`: a Unix time, not a time from now.
    absolute: bool,
    arg: &'a [u8],
}

impl DeadlineArg<'_> {
    /// The absolute deadline in Unix ms, or `command`'s invalid-expire error.
    pub fn resolve(self, now: u64, command: &'static str) -> Result<u64, CommandError> {
        deadline_from(self.arg, self.unit_ms, self.absolute, now, command)
    }
}

/// The option words of `SET` and `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringOption {
    Nx,
    Xx,
    Get,
    KeepTtl,
    Persist,
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl StringOption {
    /// The deadline `arg` stands for after this word, if it takes one.
    fn deadline(self, arg: &[u8]) -> Option<DeadlineArg<'_>> {
        let (unit_ms, absolute) = match self {
            StringOption::Ex => (1000, false),
            StringOption::Px => (1, false),
            StringOption::ExAt => (1000, true),
            StringOption::PxAt => (1, true),
            _ => return None,
        };
        Some(DeadlineArg {
            unit_ms,
            absolute,
            arg,
        })
    }
}

const SET_OPTIONS: &[(&str, StringOption)] = &[
    ("nx", StringOption::Nx),
    ("xx", StringOption::Xx),
    ("get", StringOption::Get),
    ("keepttl", StringOption::KeepTtl),
    ("ex", StringOption::Ex),
    ("px", StringOption::Px),
    ("exat", StringOption::ExAt),
    ("pxat", StringOption::PxAt),
];

const GETEX_OPTIONS: &[(&str, StringOption)] = &[
    ("persist", StringOption::Persist),
    ("ex", StringOption::Ex),
    ("px", StringOption::Px),
    ("exat", StringOption::ExAt),
    ("pxat", StringOption::PxAt),
];

/// `SET`'s and `GETEX`'s options as sent.
struct StringOptions<'a> {
    condition: Condition,
    get: bool,
    /// The deadline word and its argument (empty for `KEEPTTL`/`PERSIST`).
    ttl: Option<(StringOption, &'a [u8])>,
}

/// Reads the options in `words` from `args`. As in Redis, a deadline word
/// may be repeated (the last value counts) but not mixed with another, nor
/// `NX` with `XX`. `bare_ttl` lets a last argument that looks like a number
/// be a TTL in seconds (the seed's `SET key value ttl`).
fn string_options<'a>(
    mut args: Args<'a>,
    words: &[(&str, StringOption)],
    bare_ttl: bool,
) -> Result<StringOptions<'a>, CommandError> {
    let mut o = StringOptions {
        condition: Condition::Always,
        get: false,
        ttl: None,
    };
    while let Some(word) = args.peek() {
        let free = |w: StringOption, ttl: Option<(StringOption, &[u8])>| {
            ttl.is_none_or(|(given, _)| given == w)
        };
        match args.keyword(words) {
            Some(StringOption::Nx) if o.condition != Condition::IfPresent => {
                o.condition = Condition::IfAbsent;
            }
            Some(StringOption::Xx) if o.condition != Condition::IfAbsent => {
                o.condition = Condition::IfPresent;
            }
            Some(StringOption::Get) => o.get = true,
            Some(w @ (StringOption::KeepTtl | StringOption::Persist)) if free(w, o.ttl) => {
                o.ttl = Some((w, b""));
            }
            Some(
                w @ (StringOption::Ex | StringOption::Px | StringOption::ExAt | StringOption::PxAt),
            ) if free(w, o.ttl) => {
                o.ttl = Some((w, args.next_bytes()?));
            }
            None if bare_ttl
                && args.remaining() == 1
                && o.ttl.is_none()
                && word
                    .first()
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'-') =>
            {
                o.ttl = Some((StringOption::Ex, word));
                args.next();
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(o)
}

/// Parses the options after `SET key value`.
pub fn parse_set_options(opts: &[&[u8]], now: u64) -> Result<SetOptions, CommandError> {
    if opts.is_empty() {
        // The plain `SET key value`: nothing to read.
        return Ok(SetOptions {
            condition: Condition::Always,
            get: false,
            deadline: NewDeadline::Clear,
        });
    }
    let o = string_options(Args::over(opts), SET_OPTIONS, true)?;
    let deadline = match o.ttl {
        None => NewDeadline::Clear,
        Some((StringOption::KeepTtl, _)) => NewDeadline::Keep,
        Some((word, arg)) => match word.deadline(arg) {
            Some(d) => NewDeadline::At(d.resolve(now, "set")?),
            None => return Err(CommandError::Syntax),
        },
    };
    Ok(SetOptions {
        condition: o.condition,
        get: o.get,
        deadline,
    })
}

/// What `GETEX` does to a found key's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetexChange<'a> {
    /// `PERSIST`: remove it.
    Persist,
    /// `EX`/`PX`/`EXAT`/`PXAT`: set it.
    Deadline(DeadlineArg<'a>),
}

impl GetexChange<'_> {
    /// The new deadline in Unix ms (0 for none), or the invalid-expire error.
    pub fn deadline(self, now: u64) -> Result<u64, CommandError> {
        match self {
            GetexChange::Persist => Ok(0),
            GetexChange::Deadline(d) => d.resolve(now, "getex"),
        }
    }
}

/// Parses the options after `GETEX key`; `None` leaves the deadline alone.
pub fn parse_getex_options<'a>(
    opts: &'a [&'a [u8]],
) -> Result<Option<GetexChange<'a>>, CommandError> {
    let o = string_options(Args::over(opts), GETEX_OPTIONS, false)?;
    Ok(o.ttl.map(|(word, arg)| match word.deadline(arg) {
        Some(d) => GetexChange::Deadline(d),
        None => GetexChange::Persist,
    }))
}

/// Stores `val` under `key` per `opts`; returns (applied, previous value).
/// The new entry is built before the lock is taken, so other writers never
/// wait on its allocation (or on a big value's, which is shared, not copied).
/// With `GET`, a previous value that is not a string is `WRONGTYPE`, and
/// nothing is stored.
fn set_with(
    ctx: &mut Context<'_>,
    key: &[u8],
    val: &[u8],
    opts: SetOptions,
) -> Result<(bool, Option<Entry>), CommandError> {
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
    if opts.condition == Condition::Always
        && opts.deadline != NewDeadline::Keep
        && !expires_now
        && !opts.get
    {
        // The common SET: one lookup stores it, and the replaced entry
        // comes back from put, to be freed after the guard is released.
        let old = ctx.write().put_entry(fresh, now);
        ctx.release();
        return Ok((true, old));
    }
    let mut db = ctx.write();
    let old = db.get_live(key, now).cloned();
    if opts.get && old.as_ref().is_some_and(|e| e.string().is_none()) {
        return Err(CommandError::WrongType);
    }
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
            ctx.server.keyspace.expiry().count_expired(1);
        } else {
            if opts.deadline == NewDeadline::Keep {
                // Not shared with anyone yet: its deadline may still change.
                fresh.set_expires_at(old.as_ref().map_or(0, Entry::expires_at));
            }
            db.put_entry(fresh, now);
        }
    }
    ctx.release();
    Ok((allowed, old))
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] | [ttl-seconds]`
fn set(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let opts = parse_set_options(&argv[3..], ctx.now)?;
    let (applied, old) = set_with(ctx, argv[1], argv[2], opts)?;
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
    let (applied, _) = set_with(ctx, argv[1], argv[2], opts)?;
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
    set_with(ctx, argv[1], argv[3], opts)?;
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
    let (_, old) = set_with(ctx, argv[1], argv[2], opts)?;
    Ok(value_reply(old))
}

/// `GETDEL key`
fn getdel(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let mut db = ctx.write();
    string_of(db.get_live(argv[1], now))?;
    let old = db.remove(argv[1], now);
    ctx.count_lookup(old.is_some());
    Ok(value_reply(old))
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`
fn getex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let change = parse_getex_options(&argv[2..])?;
    let mut db = ctx.write();
    let found = string_entry(db.get_live(argv[1], now))?;
    // Checked only for a key that is there, as Redis does.
    let change = match (&found, change) {
        (Some(_), Some(change)) => Some(change.deadline(now)?),
        _ => None,
    };
    if let (Some(_), Some(at)) = (&found, change) {
        db.set_deadline(argv[1], at, now);
    }
    ctx.count_lookup(found.is_some());
    Ok(value_reply(found))
}

/// `MGET key [key ...]`
fn mget(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let db = ctx.read();
    // A key holding a collection is nil here, as in Redis.
    let found: Vec<Option<Entry>> = argv[1..]
        .iter()
        .map(|k| db.get(k, now).filter(|e| e.string().is_some()).cloned())
        .collect();
    drop(db);
    let hits = found.iter().filter(|v| v.is_some()).count() as u64;
    ctx.session.counters.hits += hits;
    ctx.session.counters.misses += found.len() as u64 - hits;
    Ok(Reply::Array(found.into_iter().map(value_reply).collect()))
}

/// `MSET`'s key-value pairs; an odd count is an arity error, as in Redis.
fn pairs<'a>(
    argv: &'a [&'a [u8]],
    name: &str,
) -> Result<std::slice::ChunksExact<'a, &'a [u8]>, CommandError> {
    Args::new(argv)
        .pairs()
        .map_err(|_| CommandError::WrongArity(name.into()))
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
            crate::protocol::resp::parse_i64(e.string().ok_or(CommandError::WrongType)?)
                .ok_or(CommandError::NotInteger)?,
            e.expires_at(),
        ),
        None => (0, 0),
    };
    let next = current.checked_add(by).ok_or(CommandError::Overflow)?;
    let mut digits = [0u8; 20];
    let entry = Entry::new(key, format_int(next, &mut digits), expires_at);
    db.put_entry_as(entry, now, Event::Incrby);
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

/// `INCRBYFLOAT key increment`: the sum in `long double`, as Redis
/// computes and prints it (see [`LongDouble`]); the value is read before
/// the increment, as Redis reads them.
fn incrbyfloat(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let mut db = ctx.write();
    let current = match string_of(db.get_live(argv[1], now))? {
        Some(v) => LongDouble::parse(v).ok_or(CommandError::NotFloat)?,
        None => LongDouble::ZERO,
    };
    let by = LongDouble::parse(argv[2]).ok_or(CommandError::NotFloat)?;
    let next = current + by;
    if !next.is_finite() {
        return Err(CommandError::other(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = next.to_human();
    db.put_keep_ttl(argv[1], text.as_bytes(), now, Event::Incrbyfloat);
    // A bulk string in RESP3 too, as Redis 7.0 sends (clients type it so).
    Ok(Reply::text(text))
}

/// `APPEND key value`
fn append(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let now = ctx.now;
    let max = ctx.server.limits.proto_max_bulk_len;
    let mut db = ctx.write();
    let current = string_of(db.get_live(argv[1], now))?.map_or(0, <[u8]>::len);
    // Checked before anything is copied, as Redis's checkStringLength does.
    if current.saturating_add(argv[2].len()) > max {
        return Err(too_big());
    }
    let mut joined = db
        .get_live(argv[1], now)
        .map_or_else(Vec::new, |e| e.value().to_vec());
    joined.extend_from_slice(argv[2]);
    let len = joined.len();
    db.put_keep_ttl(argv[1], &joined, now, Event::Append);
    Ok(Reply::Integer(len as i64))
}

fn too_big() -> CommandError {
    CommandError::other("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// `STRLEN key`
fn strlen(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let len = string_of(ctx.read().get(argv[1], ctx.now))?.map_or(0, <[u8]>::len);
    Ok(Reply::Integer(len as i64))
}

/// `GETRANGE key start end` (inclusive; negative counts from the end)
fn getrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (start, end) = (parse_int(argv[2])?, parse_int(argv[3])?);
    let Some(entry) = string_entry(ctx.read().get(argv[1], ctx.now))? else {
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
    let current = string_entry(db.get_live(argv[1], now))?;
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
    db.put_keep_ttl(argv[1], &bytes, now, Event::Setrange);
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
    fn a_repeated_deadline_word_is_allowed_and_the_last_value_counts() {
        assert_eq!(
            opts(&["EX", "1", "ex", "2"]).unwrap().deadline,
            NewDeadline::At(3_000)
        );
        assert_eq!(
            opts(&["PX", "1", "PX", "2"]).unwrap().deadline,
            NewDeadline::At(1_002)
        );
        assert_eq!(
            opts(&["KEEPTTL", "KEEPTTL"]).unwrap().deadline,
            NewDeadline::Keep
        );
        let o = opts(&["NX", "nx", "GET", "get"]).unwrap();
        assert_eq!((o.condition, o.get), (Condition::IfAbsent, true));
    }

    #[test]
    fn every_option_parses_before_the_deadline_value_is_checked() {
        assert_eq!(opts(&["EX", "abc", "bogus"]), Err(CommandError::Syntax));
        assert_eq!(opts(&["EX", "0", "NX", "XX"]), Err(CommandError::Syntax));
        assert_eq!(
            opts(&["EX", "1", "EX", "abc"]),
            Err(CommandError::NotInteger)
        );
    }

    fn getex(words: &[&str]) -> Result<Option<u64>, CommandError> {
        let v: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        parse_getex_options(&v)?
            .map(|change| change.deadline(1_000))
            .transpose()
    }

    #[test]
    fn getex_takes_one_kind_of_deadline_change() {
        assert_eq!(getex(&[]), Ok(None));
        assert_eq!(getex(&["PERSIST"]), Ok(Some(0)));
        assert_eq!(getex(&["persist", "PERSIST"]), Ok(Some(0)));
        assert_eq!(getex(&["EX", "1", "ex", "2"]), Ok(Some(3_000)));
        assert_eq!(getex(&["pxat", "5"]), Ok(Some(5)));
        assert_eq!(
            getex(&["EX", "0"]),
            Err(CommandError::InvalidExpire("getex"))
        );
        assert_eq!(getex(&["EX", "abc"]), Err(CommandError::NotInteger));
        for bad in [
            &["EX", "1", "PERSIST"][..],
            &["PERSIST", "EX", "1"],
            &["EXAT", "1", "PXAT", "2"],
            &["EX"],
            &["NX"],
            &["GET"],
            &["KEEPTTL"],
            &["60"],
            &["bogus"],
        ] {
            assert_eq!(getex(bad), Err(CommandError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn getex_checks_its_deadline_only_when_applied() {
        let v: Vec<&[u8]> = vec![b"EX", b"abc"];
        assert!(parse_getex_options(&v).is_ok());
    }
}
