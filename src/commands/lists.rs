//! List commands: pushes and pops at either end (`LPUSH`, `RPOP`, `LMPOP`,
//! ...), reads by index and range, edits in the middle (`LSET`, `LINSERT`,
//! `LREM`, `LTRIM`), `LPOS`, moves between lists (`LMOVE`,
//! `RPOPLPUSH`), and the blocking pops (`BLPOP`, `BRPOP`, `BLMOVE`,
//! `BRPOPLPUSH`, `BLMPOP`).
//!
//! Every change goes through the keyspace's edit path ([`Context::edit`],
//! or the [`DbWriter`](crate::keyspace::DbWriter) pops and moves that the
//! commit point also uses to serve blocked clients), named with the event
//! Redis fires and the command a log would replay; an emptied list is
//! removed there. A command that would change nothing (an `LREM` that
//! matches nothing, an `LINSERT` without its pivot, a failed `LSET`)
//! checks first and makes no edit, so that it touches no watch, as in
//! Redis. Arguments are checked in Redis's order, so the same bad request
//! gets the same error.
//!
//! A blocking command with data to pop behaves as its plain form (and
//! replays as it: `BLPOP k` as `LPOP k`, `BLMOVE` as `LMOVE`); inside
//! `EXEC` it never waits, answering as a timeout would (`BLMOVE` a nil).
//! Otherwise it registers a [`Waiter`] under its write guard and leaves it
//! in the session: the connection waits, with no lock held, and answers
//! with [`blocked_reply`] once the commit point has served it, it times
//! out, or `CLIENT UNBLOCK` releases it. Handlers never wait themselves.

use super::{Access, Args, CommandResult, CommandSpec, Context, collection_of, parse_int, replay};
use crate::error::CommandError;
use crate::keyspace::blocked::{move_replay, pop_replay};
use crate::keyspace::{Served, Waiter, Wants};
use crate::protocol::{Bulks, Bytes, Reply};
use crate::value::list::{End, index_of};
use crate::value::pack::MAX_ELEMENT;
use crate::value::quicklist::Fill;
use crate::value::{Encodings, List};
use std::sync::PoisonError;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, Access::Write, lpush)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("rpush", -3, Access::Write, rpush)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("lpushx", -3, Access::Write, lpushx)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("rpushx", -3, Access::Write, rpushx)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("lpop", -2, Access::Write, lpop).keys(1, 1, 1),
    CommandSpec::new("rpop", -2, Access::Write, rpop).keys(1, 1, 1),
    CommandSpec::new("llen", 2, Access::Read, llen).keys(1, 1, 1),
    CommandSpec::new("lrange", 4, Access::Read, lrange).keys(1, 1, 1),
    CommandSpec::new("lindex", 3, Access::Read, lindex).keys(1, 1, 1),
    CommandSpec::new("lset", 4, Access::Write, lset)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("lrem", 4, Access::Write, lrem).keys(1, 1, 1),
    CommandSpec::new("ltrim", 4, Access::Write, ltrim).keys(1, 1, 1),
    CommandSpec::new("linsert", 5, Access::Write, linsert)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("lpos", -3, Access::Read, lpos).keys(1, 1, 1),
    CommandSpec::new("lmove", 5, Access::Write, lmove)
        .grows()
        .keys(1, 2, 1),
    CommandSpec::new("rpoplpush", 3, Access::Write, rpoplpush)
        .grows()
        .keys(1, 2, 1),
    // Keys follow a count: Redis's legacy key range says nothing (0 0 0).
    CommandSpec::new("lmpop", -4, Access::Write, lmpop),
    CommandSpec::new("blpop", -3, Access::Write, blpop).keys(1, -2, 1),
    CommandSpec::new("brpop", -3, Access::Write, brpop).keys(1, -2, 1),
    CommandSpec::new("blmove", 6, Access::Write, blmove)
        .grows()
        .keys(1, 2, 1),
    CommandSpec::new("brpoplpush", 4, Access::Write, brpoplpush)
        .grows()
        .keys(1, 2, 1),
    CommandSpec::new("blmpop", -5, Access::Write, blmpop),
];

// Arguments are bounded by `proto-max-bulk-len`, itself at most an
// entry's longest value, so every argument fits a pack; the check in
// `elements` stays as the command layer's guard should the bounds move.
const _: () = assert!(crate::entry::MAX_LEN <= MAX_ELEMENT);

/// `ERR index out of range`, as Redis words it for `LSET`.
const OUT_OF_RANGE: &str = "ERR index out of range";

/// The node size `list-max-listpack-size` sets.
fn fill(limits: &Encodings) -> Fill {
    Fill::from_redis(limits.list_max_listpack_size)
}

/// `elems`, refused if one is longer than a list element can be.
fn elements<'a>(elems: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CommandError> {
    if elems.iter().any(|e| e.len() > MAX_ELEMENT) {
        return Err(CommandError::other("ERR element too large"));
    }
    Ok(elems)
}

/// `LEFT` or `RIGHT`, in any case, else a syntax error.
fn end_of(arg: &[u8]) -> Result<End, CommandError> {
    super::keyword_of(arg, &[("left", End::Head), ("right", End::Tail)]).ok_or(CommandError::Syntax)
}

/// A count that must be at least 0 (`LPOP`'s): anything else, a bad
/// number included, is Redis's one error for it.
fn positive_count(arg: &[u8]) -> Result<usize, CommandError> {
    parse_int(arg)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CommandError::other("ERR value is out of range, must be positive"))
}

/// A count that must be at least 1, or `error` (`LMPOP`'s `numkeys` and
/// `COUNT`).
fn at_least_one(arg: &[u8], error: &'static str) -> Result<usize, CommandError> {
    parse_int(arg)
        .ok()
        .filter(|&n| n >= 1)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CommandError::other(error))
}

/// `LPUSH|RPUSH|LPUSHX|RPUSHX key element [element ...]`: the new length;
/// the `X` forms push only onto an existing list (else 0).
fn push(ctx: &mut Context<'_>, argv: &[&[u8]], end: End, create: bool) -> CommandResult {
    let (key, elems) = (argv[1], elements(&argv[2..])?);
    let name = match end {
        End::Head => "LPUSH",
        End::Tail => "RPUSH",
    };
    let len = ctx.edit::<List, _>(
        key,
        create,
        end.push_event(),
        |list, limits| {
            list.push_all(end, elems.iter().copied(), fill(limits));
            list.len()
        },
        |_| replay(name.as_bytes(), argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// `LPUSH key element [element ...]`
fn lpush(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    push(ctx, argv, End::Head, true)
}

/// `RPUSH key element [element ...]`
fn rpush(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    push(ctx, argv, End::Tail, true)
}

/// `LPUSHX key element [element ...]`
fn lpushx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    push(ctx, argv, End::Head, false)
}

/// `RPUSHX key element [element ...]`
fn rpushx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    push(ctx, argv, End::Tail, false)
}

/// A bulk string of bytes built for the reply.
fn owned(bytes: Vec<u8>) -> Reply {
    Reply::Bulk(Bytes::Owned(bytes))
}

/// Popped elements as an array of bulk strings.
fn bulk_array(elements: Vec<Vec<u8>>) -> Reply {
    Reply::Array(elements.into_iter().map(owned).collect())
}

/// `LPOP|RPOP key [count]`: one element as a bulk string, or with a count
/// an array of up to that many (a missing key: nil, or a nil array).
fn pop(ctx: &mut Context<'_>, argv: &[&[u8]], end: End) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::WrongArity(end.pop_event().to_string()));
    }
    let count = argv.get(2).map(|c| positive_count(c)).transpose()?;
    let key = argv[1];
    let now = ctx.now;
    let mut writer = ctx.write();
    let missing = if count.is_some() {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    if count == Some(0) {
        // A count of 0 pops nothing but still tells a list from no key.
        let found = collection_of::<List>(writer.get_live(key, now))?.is_some();
        return Ok(if found {
            Reply::Array(Vec::new())
        } else {
            missing
        });
    }
    let popped = writer.pop_list(key, end, count.unwrap_or(1), now, |n| {
        pop_replay(end, key, count.map(|_| n))
    })?;
    Ok(match (popped, count) {
        (None, _) => missing,
        (Some(popped), Some(_)) => bulk_array(popped),
        (Some(popped), None) => popped.into_iter().next().map_or(Reply::Nil, owned),
    })
}

/// `LPOP key [count]`
fn lpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    pop(ctx, argv, End::Head)
}

/// `RPOP key [count]`
fn rpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    pop(ctx, argv, End::Tail)
}

/// `LLEN key`: 0 for no key.
fn llen(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let len = {
        let db = ctx.read();
        collection_of::<List>(db.get(argv[1], ctx.now))?.map(|l| l.len())
    };
    ctx.count_lookup(len.is_some());
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// `LRANGE key start stop`: the elements from `start` to `stop`
/// inclusive, negative indexes counting from the tail.
fn lrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (start, stop) = (parse_int(argv[2])?, parse_int(argv[3])?);
    let items = {
        let db = ctx.read();
        collection_of::<List>(db.get(argv[1], ctx.now))?.map(|l| {
            let range = l.range(start, stop);
            // Elements are copied into one buffer, not one each.
            let mut items = Bulks::with_capacity(range.size_hint().0, 0);
            range.for_each(|element| items.push(element));
            items
        })
    };
    ctx.count_lookup(items.is_some());
    Ok(items.unwrap_or_default().into_reply())
}

/// `LINDEX key index`: the element, or nil out of range.
fn lindex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let element = {
        let db = ctx.read();
        match collection_of::<List>(db.get(argv[1], ctx.now))? {
            // The key is looked up before the index is read, as in Redis.
            None => None,
            Some(list) => Some(list.get(parse_int(argv[2])?).map(Reply::bulk)),
        }
    };
    ctx.count_lookup(element.is_some());
    Ok(element.flatten().unwrap_or(Reply::Nil))
}

/// `LSET key index element`
fn lset(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, elem) = (argv[1], elements(&argv[3..])?[0]);
    let now = ctx.now;
    let len = match collection_of::<List>(ctx.write().get_live(key, now))? {
        Some(list) => list.len(),
        None => return Err(CommandError::other("ERR no such key")),
    };
    let at = index_of(len, parse_int(argv[2])?).ok_or(CommandError::other(OUT_OF_RANGE))?;
    ctx.edit::<List, _>(
        key,
        false,
        "lset",
        |list, limits| list.set(at, elem, fill(limits)),
        |_| replay(b"LSET", argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Ok)
}

/// `LREM key count element`: removes the first `count` elements equal to
/// `element` (from the tail when negative, all of them for 0).
fn lrem(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let count = parse_int(argv[2])?;
    let (key, elem) = (argv[1], argv[3]);
    let now = ctx.now;
    let matches = match collection_of::<List>(ctx.write().get_live(key, now))? {
        Some(list) => list.count_of(elem),
        None => 0,
    };
    if matches == 0 {
        return Ok(Reply::Integer(0));
    }
    let removed = ctx.edit::<List, _>(
        key,
        false,
        "lrem",
        |list, _| list.remove_matching(elem, count),
        |_| replay(b"LREM", argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(removed.unwrap_or(0) as i64))
}

/// `LTRIM key start stop`: keeps only that range (an empty one removes
/// the key). An existing list counts as changed even if nothing goes, as
/// in Redis.
fn ltrim(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (start, stop) = (parse_int(argv[2])?, parse_int(argv[3])?);
    ctx.edit::<List, _>(
        argv[1],
        false,
        "ltrim",
        |list, _| list.trim(start, stop),
        |_| replay(b"LTRIM", argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Ok)
}

/// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 without
/// the pivot, 0 without the key.
fn linsert(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let after = super::keyword_of(argv[2], &[("before", false), ("after", true)])
        .ok_or(CommandError::Syntax)?;
    let (key, pivot, elem) = (argv[1], argv[3], elements(&argv[4..])?[0]);
    let now = ctx.now;
    let at = match collection_of::<List>(ctx.write().get_live(key, now))? {
        None => return Ok(Reply::Integer(0)),
        Some(list) => match list.find(pivot) {
            None => return Ok(Reply::Integer(-1)),
            Some(i) => i + usize::from(after),
        },
    };
    let len = ctx.edit::<List, _>(
        key,
        false,
        "linsert",
        |list, limits| {
            list.insert(at, elem, fill(limits));
            list.len()
        },
        |_| replay(b"LINSERT", argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// `LPOS`'s options.
#[derive(Clone, Copy)]
enum LposOption {
    Rank,
    Count,
    MaxLen,
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`: the
/// index of the first match (nil for none), or with `COUNT` an array of
/// up to that many (0: all).
fn lpos(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let (key, elem) = (args.next_bytes()?, args.next_bytes()?);
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let non_negative = |arg: &[u8], error: &'static str| {
        parse_int(arg)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| CommandError::other(error))
    };
    while !args.is_empty() {
        let option = args.keyword(&[
            ("rank", LposOption::Rank),
            ("count", LposOption::Count),
            ("maxlen", LposOption::MaxLen),
        ]);
        // Each option needs its value; anything else is a syntax error.
        let (Some(option), Some(value)) = (option, args.next()) else {
            return Err(CommandError::Syntax);
        };
        match option {
            LposOption::Rank => {
                rank = parse_int(value)?;
                if rank == 0 {
                    return Err(CommandError::other(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            }
            LposOption::Count => count = Some(non_negative(value, "ERR COUNT can't be negative")?),
            LposOption::MaxLen => maxlen = non_negative(value, "ERR MAXLEN can't be negative")?,
        }
    }
    let found = {
        let db = ctx.read();
        collection_of::<List>(db.get(key, ctx.now))?
            .map(|list| list.positions(elem, rank, count.unwrap_or(1), maxlen))
    };
    ctx.count_lookup(found.is_some());
    let index = |i: usize| Reply::Integer(i as i64);
    Ok(match (found, count) {
        (Some(found), Some(_)) => Reply::Array(found.into_iter().map(index).collect()),
        (None, Some(_)) => Reply::Array(Vec::new()),
        (found, None) => found
            .and_then(|f| f.first().copied())
            .map_or(Reply::Nil, index),
    })
}

/// Moves one element from `src` to `dst`, as `LMOVE` (or `RPOPLPUSH`,
/// which replays as itself) does: the element, or nil when `src` holds no
/// list.
fn move_between(
    ctx: &mut Context<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    rpoplpush: bool,
) -> Result<Option<Vec<u8>>, CommandError> {
    let (fill, now) = (fill(&ctx.encodings()), ctx.now);
    ctx.write()
        .move_list_element(src, dst, from, to, fill, now, || {
            move_replay(src, dst, from, to, rpoplpush)
        })
}

/// A moved element, or nil.
fn moved_reply(moved: Option<Vec<u8>>) -> Reply {
    moved.map_or(Reply::Nil, owned)
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
fn lmove(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (from, to) = (end_of(argv[3])?, end_of(argv[4])?);
    move_between(ctx, argv[1], argv[2], from, to, false).map(moved_reply)
}

/// `RPOPLPUSH source destination`
fn rpoplpush(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    move_between(ctx, argv[1], argv[2], End::Tail, End::Head, true).map(moved_reply)
}

/// `LMPOP`'s and `BLMPOP`'s arguments after the timeout: `numkeys key
/// [key ...] LEFT|RIGHT [COUNT count]`, read in Redis's order.
fn mpop_args<'a>(args: &mut Args<'a>) -> Result<(&'a [&'a [u8]], End, usize), CommandError> {
    let numkeys = at_least_one(args.next_bytes()?, "ERR numkeys should be greater than 0")?;
    // The keys and then the end must be there.
    if numkeys >= args.remaining() {
        return Err(CommandError::Syntax);
    }
    let keys = args.next_many(numkeys)?;
    let end = end_of(args.next_bytes()?)?;
    let mut count = None;
    while let Some(word) = args.next() {
        match count {
            None if super::is_word(word, "count") && !args.is_empty() => {
                count = Some(at_least_one(
                    args.next_bytes()?,
                    "ERR count should be greater than 0",
                )?);
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok((keys, end, count.unwrap_or(1)))
}

/// Pops for a multi-key pop from the first of `keys` holding a list: up
/// to `count` elements (`Some`), or one (`None`, `BLPOP`'s form). `None`
/// if none holds one; `WRONGTYPE` at the first key of another type.
fn pop_first(
    ctx: &mut Context<'_>,
    keys: &[&[u8]],
    end: End,
    count: Option<usize>,
) -> Result<Option<Served>, CommandError> {
    let now = ctx.now;
    let mut writer = ctx.write();
    for &key in keys {
        let holds =
            collection_of::<List>(writer.get_live(key, now))?.is_some_and(|l| !l.is_empty());
        if !holds {
            continue;
        }
        let popped = writer.pop_list(key, end, count.unwrap_or(1), now, |n| {
            pop_replay(end, key, count.map(|_| n))
        })?;
        return Ok(Some(Served::Popped {
            key: key.to_vec(),
            elements: popped.unwrap_or_default(),
        }));
    }
    Ok(None)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: `[key,
/// [element ...]]` from the first key holding a list, or a nil array.
fn lmpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let (keys, end, count) = mpop_args(&mut args)?;
    Ok(match pop_first(ctx, keys, end, Some(count))? {
        Some(served) => served_reply(
            &Wants::Pop {
                end,
                count: Some(count),
            },
            served,
        ),
        None => Reply::NilArray,
    })
}

/// Parses a blocking command's timeout, in seconds, as Redis reads it (a
/// long double, rounded up to whole milliseconds): its milliseconds, 0
/// for none. Redis's two errors: not a number (or out of a long double's
/// range), and negative, which also covers a number of milliseconds too
/// large for 64 bits (Redis's conversion makes it negative).
pub fn parse_timeout(arg: &[u8]) -> Result<u64, CommandError> {
    let not_a_float = || CommandError::other("ERR timeout is not a float or out of range");
    let negative = || CommandError::other("ERR timeout is negative");
    let seconds = long_double(arg).ok_or_else(not_a_float)?;
    // Negative, or past a signed 64-bit integer (2^63 and up).
    let too_big = 1i128 << 63;
    if let Some(ms) = exact_ms(arg) {
        return match u64::try_from(ms) {
            Ok(ms) if i128::from(ms) < too_big => Ok(ms),
            _ => Err(negative()),
        };
    }
    let ms = seconds * 1000.0;
    let ms = if ms == 0.0 { 0.0 } else { ms.ceil() };
    if !ms.is_finite() || !(0.0..too_big as f64).contains(&ms) {
        return Err(negative());
    }
    Ok(ms as u64)
}

/// Redis's milliseconds for a decimal timeout of at most 19 significant
/// digits and 19 decimal places, exactly as an x86 long double computes
/// `ceill(seconds * 1000.0)`: the seconds rounded to 64 significant bits,
/// the product rounded again, then rounded up. (That is why `-0.001`
/// means no timeout, not a negative one: the long double nearest it is a
/// hair above, and so is its product.) `None` for any other form, which
/// a double then approximates.
fn exact_ms(arg: &[u8]) -> Option<i128> {
    let text = std::str::from_utf8(arg).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some(0);
    }
    if trimmed.len() > 19 {
        return None;
    }
    let d: u128 = trimmed.parse().ok()?;
    let zeros = (significant.len() - trimmed.len()) as i32;
    let exp10 = exponent
        .checked_sub(fraction.len() as i32)?
        .checked_add(zeros)?;
    // The seconds as m * 2^e, rounded to 64 significant bits.
    let (m, e) = if exp10 >= 0 {
        if exp10 > 19 {
            return None;
        }
        round64(d * 10u128.pow(exp10 as u32), 0)
    } else {
        let k = exp10.unsigned_abs();
        if k > 19 {
            return None;
        }
        let p = 10u128.pow(k);
        // m = d * 2^s / p, scaled into [2^63, 2^64), rounded to nearest
        // even; d < 10^19 and p <= 10^19 keep d * 2^s below 2^128.
        let bits = |x: u128| 128 - x.leading_zeros() as i32;
        let mut s = 63 + bits(p) - bits(d);
        let quotient = |s: i32| ((d << s) / p, (d << s) % p);
        let (mut q, mut r) = quotient(s);
        if q >= 1 << 64 {
            s -= 1;
            (q, r) = quotient(s);
        } else if q < 1 << 63 {
            s += 1;
            (q, r) = quotient(s);
        }
        if 2 * r > p || (2 * r == p && q & 1 == 1) {
            q += 1;
        }
        if q == 1 << 64 {
            (q >> 1, -s + 1)
        } else {
            (q, -s)
        }
    };
    let (q, e) = round64(m * 1000, e);
    // Up for a positive number, down (towards zero) for a negative one.
    let (int, frac) = match e {
        e if e >= 0 => (q.checked_shl(e as u32).filter(|_| e < 64)?, false),
        e if e <= -128 => (0, q != 0),
        e => (q >> -e, q & ((1u128 << -e) - 1) != 0),
    };
    let int = i128::try_from(int).ok()?;
    Some(if negative {
        -int
    } else {
        int + i128::from(frac)
    })
}

/// `m * 2^e` rounded to at most 64 significant bits, to nearest even.
fn round64(m: u128, e: i32) -> (u128, i32) {
    let bits = 128 - m.leading_zeros();
    if bits <= 64 {
        return (m, e);
    }
    let shift = bits - 64;
    let (mut q, rem, half) = (m >> shift, m & ((1 << shift) - 1), 1u128 << (shift - 1));
    if rem > half || (rem == half && q & 1 == 1) {
        q += 1;
    }
    if q == 1 << 64 {
        (q >> 1, e + shift as i32 + 1)
    } else {
        (q, e + shift as i32)
    }
}

/// The value of `arg` as C's `strtold` reads a whole argument into an x86
/// long double (Redis's `string2ld`): decimal or hexadecimal, `inf`,
/// `infinity`, no space around, not NaN, at most 5,119 bytes, and within
/// the long double's range (a decimal number beyond it, or so small that
/// it would read as zero, is refused). Kept as a double: a number beyond
/// a double's range reads as an infinity, or as the smallest positive or
/// negative number, so that the timeout's rules apply to it as to Redis's
/// long double.
fn long_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() >= 5 * 1024 {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = match unsigned.get(..2) {
        Some("0x" | "0X") => hex_float(&unsigned[2..])?,
        _ => decimal_float(unsigned)?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// An unsigned decimal number (or `inf`, `infinity`) within an x86 long
/// double's range, as a double (see [`long_double`]).
fn decimal_float(text: &str) -> Option<f64> {
    if !text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.' || b == b'i' || b == b'I')
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    if value.is_infinite() && text.starts_with(['i', 'I']) {
        return Some(value);
    }
    // The decimal exponent of the leading digit, to test the long
    // double's range, whatever the double made of it.
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = whole.bytes().chain(fraction.bytes());
    let Some(first) = digits.clone().position(|b| b != b'0') else {
        return Some(0.0);
    };
    let leading = whole.len() as i64 - 1 - first as i64;
    let magnitude = exponent.saturating_add(leading);
    let significant: f64 = {
        let lead: String = digits.skip(first).take(17).map(char::from).collect();
        format!("{}.{}", &lead[..1], &lead[1..]).parse().ok()?
    };
    // An x86 long double holds about 1.18973e4932 down to 3.6452e-4951.
    let too_big = magnitude > 4932 || (magnitude == 4932 && significant >= 1.189_731_495_357_231);
    let too_small =
        magnitude < -4951 || (magnitude == -4951 && significant < 3.645_199_531_882_474);
    if too_big || too_small {
        return None;
    }
    Some(if value == 0.0 {
        f64::MIN_POSITIVE
    } else {
        value
    })
}

/// The digits of a C hexadecimal float after its `0x`: hex digits with an
/// optional point, then an optional binary exponent `p[+-]digits`.
fn hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.find(['p', 'P']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars().chain(fraction.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let shift = exponent.saturating_sub(4 * fraction.len() as i64);
    Some(value * 2f64.powi(shift.clamp(-100_000, 100_000) as i32))
}

/// Registers this client as waiting for `wants` on `keys` until
/// `timeout_ms` passes (0: forever) and leaves its waiter in the session
/// for the connection to wait on. The reply returned is never sent: the
/// connection answers once the wait ends.
pub(crate) fn block(
    ctx: &mut Context<'_>,
    keys: &[&[u8]],
    wants: Wants,
    timeout_ms: u64,
) -> CommandResult {
    let deadline = match timeout_ms {
        0 => 0,
        ms => ctx.now.saturating_add(ms),
    };
    let fill = fill(&ctx.encodings());
    let client = ctx.session.client.clone();
    let socket = client
        .socket
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let waker = ctx
        .session
        .wake_socket()
        .map_err(|e| CommandError::other(format!("ERR cannot block: {e}")))?
        .waker();
    let waiter = Waiter::new(
        client.id,
        ctx.session.db,
        keys,
        wants,
        fill,
        deadline,
        socket,
        Some(waker),
    );
    let waiter = ctx.store().block(waiter);
    ctx.session.blocked = Some(waiter);
    Ok(Reply::NilArray)
}

/// `BLPOP|BRPOP key [key ...] timeout`: `[key, element]` from the first
/// key holding a list, else waits.
fn blocking_pop(ctx: &mut Context<'_>, argv: &[&[u8]], end: End) -> CommandResult {
    let (keys, timeout) = argv[1..].split_at(argv.len() - 2);
    let timeout_ms = parse_timeout(timeout[0])?;
    let wants = Wants::Pop { end, count: None };
    match pop_first(ctx, keys, end, None)? {
        Some(served) => Ok(served_reply(&wants, served)),
        None if ctx.in_exec() => Ok(Reply::NilArray),
        None => block(ctx, keys, wants, timeout_ms),
    }
}

/// `BLPOP key [key ...] timeout`
fn blpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    blocking_pop(ctx, argv, End::Head)
}

/// `BRPOP key [key ...] timeout`
fn brpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    blocking_pop(ctx, argv, End::Tail)
}

/// The blocking move: as `LMOVE` when `src` holds a list, else waits on
/// it (nil inside `EXEC`).
fn blocking_move(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    from: End,
    to: End,
    timeout_ms: u64,
    rpoplpush: bool,
) -> CommandResult {
    let (src, dst) = (argv[1], argv[2]);
    let now = ctx.now;
    if collection_of::<List>(ctx.write().get_live(src, now))?.is_some() {
        return move_between(ctx, src, dst, from, to, rpoplpush).map(moved_reply);
    }
    if ctx.in_exec() {
        return Ok(Reply::Nil);
    }
    let wants = Wants::Move {
        to: dst.to_vec(),
        from,
        to_end: to,
        rpoplpush,
    };
    block(ctx, &[src], wants, timeout_ms)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
fn blmove(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (from, to) = (end_of(argv[3])?, end_of(argv[4])?);
    let timeout_ms = parse_timeout(argv[5])?;
    blocking_move(ctx, argv, from, to, timeout_ms, false)
}

/// `BRPOPLPUSH source destination timeout`
fn brpoplpush(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let timeout_ms = parse_timeout(argv[3])?;
    blocking_move(ctx, argv, End::Tail, End::Head, timeout_ms, true)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: as
/// `LMPOP`, else waits. The timeout is read after the rest, as in Redis.
fn blmpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let timeout = args.next_bytes()?;
    let (keys, end, count) = mpop_args(&mut args)?;
    let timeout_ms = parse_timeout(timeout)?;
    let wants = Wants::Pop {
        end,
        count: Some(count),
    };
    match pop_first(ctx, keys, end, Some(count))? {
        Some(served) => Ok(served_reply(&wants, served)),
        None if ctx.in_exec() => Ok(Reply::NilArray),
        None => block(ctx, keys, wants, timeout_ms),
    }
}

/// The reply to a command that wanted `wants` and got `served`.
fn served_reply(wants: &Wants, served: Served) -> Reply {
    match served {
        Served::Popped { key, elements } => {
            let key = owned(key);
            match wants {
                Wants::Pop { count: Some(_), .. } => Reply::Array(vec![key, bulk_array(elements)]),
                _ => {
                    let mut pair = vec![key];
                    pair.extend(elements.into_iter().take(1).map(owned));
                    Reply::Array(pair)
                }
            }
        }
        Served::ZPopped { key, members } => {
            let count = match wants {
                Wants::ZPop { count, .. } => *count,
                _ => None,
            };
            super::zsets::blocking_pop_reply(key, members, count)
        }
        Served::Moved(element) => moved_reply(Some(element)),
        Served::WrongType => Reply::Error(CommandError::WrongType),
        // Redis answers every timed-out list wait with a nil array, a
        // BLMOVE's too.
        Served::TimedOut => Reply::NilArray,
        Served::Unblocked => Reply::Error(CommandError::other(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        )),
    }
}

/// The reply to a blocked client whose wait has ended: what it was served,
/// or (`None`) the timeout's nil array.
pub fn blocked_reply(waiter: &Waiter, served: Option<Served>) -> Reply {
    served_reply(&waiter.wants, served.unwrap_or(Served::TimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        let ok = |t: &str| parse_timeout(t.as_bytes()).map_err(|e| e.to_string());
        let nan = Err("ERR timeout is not a float or out of range".to_string());
        let neg = Err("ERR timeout is negative".to_string());
        assert_eq!(ok("0"), Ok(0));
        assert_eq!(ok("1"), Ok(1000));
        assert_eq!(ok("0.001"), Ok(1));
        assert_eq!(ok("0.0001"), Ok(1), "rounded up");
        assert_eq!(ok("1.5e3"), Ok(1_500_000));
        assert_eq!(ok("+1"), Ok(1000));
        assert_eq!((ok(".5"), ok("5.")), (Ok(500), Ok(5000)));
        assert_eq!((ok("-0"), ok("-1e-400")), (Ok(0), Ok(0)));
        assert_eq!(ok("1e-400"), Ok(1), "tiny but positive in a long double");
        assert_eq!(ok("1e-4950"), Ok(1));
        assert_eq!(
            (ok("0x10"), ok("0x1p-3"), ok("0X.8")),
            (Ok(16_000), Ok(125), Ok(500))
        );
        assert_eq!(ok("9.2e15"), Ok(9_200_000_000_000_000_000));
        for t in [
            "-1", "-0.0011", "-0x10", "inf", "-inf", "infinity", "1e400", "1e4931", "9.3e15",
        ] {
            assert_eq!(ok(t), neg, "{t}");
        }
        for t in [
            "", " 1", "1 ", "abc", "1e", "nan", "1e4933", "1e5000", "1e-4960", "1e-5000", "0x",
            "0xg", "--1",
        ] {
            assert_eq!(ok(t), nan, "{t}");
        }
        assert_eq!(ok(&"1".repeat(5119)), nan, "past a long double");
        assert_eq!(ok(&"1".repeat(4000)), neg);
        assert_eq!(ok(&format!("0.{}1", "0".repeat(5118))), nan, "too long");
        assert_eq!(ok(&format!("0.{}1", "0".repeat(4900))), Ok(1));
    }

    #[test]
    fn timeouts_round_as_an_x86_long_double_does() {
        // Worked out exactly (rationals rounded to 64 significant bits)
        // by a script, for decimal forms and random ones; `None`: negative.
        let table: &[(&str, Option<u64>)] = &[
            ("0.1", Some(100)),
            ("-0.001", Some(0)),
            ("0.001", Some(1)),
            ("0.3", Some(300)),
            ("1.5", Some(1500)),
            ("-0.0015", None),
            ("-0.002", None),
            ("2.675", Some(2675)),
            ("0.01", Some(10)),
            ("-0.01", None),
            ("1e-3", Some(1)),
            ("100.1", Some(100100)),
            ("0.123456789", Some(124)),
            ("-0.1", None),
            ("0.0001", Some(1)),
            ("-0.0009999", Some(0)),
            ("0.0000000000000000001", Some(1)),
            ("1234567.891", Some(1234567891)),
            ("9.2e15", Some(9200000000000000000)),
            ("9.3e15", None),
            ("-1e-19", Some(0)),
            ("3.14159e2", Some(314159)),
            ("0.5e-3", Some(1)),
            ("-0.5e-3", Some(0)),
            ("1e0", Some(1000)),
            ("10E-4", Some(1)),
            ("000.0010", Some(1)),
            ("-000.0010", Some(0)),
            ("0.00796487719", Some(8)),
            ("3589227265024498.1", Some(3589227265024498100)),
            ("0.000000000006092", Some(1)),
            ("-0.000001793336797545", Some(0)),
            ("-0.06847639", None),
            ("126614410.5304", Some(126614410531)),
            ("148889880452199", Some(148889880452199000)),
            ("0.000004", Some(1)),
            ("-9.14786", None),
            ("-9.046669", None),
            ("-0.006429424", None),
            ("371263230915.57", Some(371263230915570)),
            ("1217899233.055631546", Some(1217899233056)),
            ("0.000001356321088", Some(1)),
            ("0.00059770", Some(1)),
            ("-0.000000000006", Some(0)),
            ("0.000052967109444618", Some(1)),
            ("7968626629.87512", Some(7968626629876)),
            ("0.1996834", Some(200)),
            ("5770.17450424345", Some(5770175)),
            ("-0.00000832797400", Some(0)),
            ("32581490620.0", Some(32581490620000)),
            ("0.0000000214", Some(1)),
            ("-16.2856944398", None),
            ("36023074.4440839789", Some(36023074445)),
            ("0.0642", Some(65)),
            ("85758.76367", Some(85758764)),
            ("0.00000000000000616", Some(1)),
            ("0.0000000000000000031", Some(1)),
            ("-0.0000489266674", Some(0)),
            ("0.0000000064", Some(1)),
            ("0.000000000000095901", Some(1)),
            ("2.3755922089155", Some(2376)),
            ("-0.000000054", Some(0)),
            ("0.00000000547561", Some(1)),
            ("36.417210029", Some(36418)),
            ("0.000000014754", Some(1)),
            ("206.829776373448303", Some(206830)),
            ("-0.000000000093468", Some(0)),
            ("-5797171.74462844870", None),
        ];
        for &(t, want) in table {
            assert_eq!(parse_timeout(t.as_bytes()).ok(), want, "{t}");
        }
    }

    #[test]
    fn key_positions_are_redis_legacy_ones() {
        let keys = |name: &str| super::super::lookup(name.as_bytes()).map(|c| c.keys);
        assert_eq!(keys("lpush"), Some((1, 1, 1)));
        assert_eq!(keys("lmove"), Some((1, 2, 1)));
        assert_eq!(keys("rpoplpush"), Some((1, 2, 1)));
        assert_eq!(keys("blpop"), Some((1, -2, 1)));
        assert_eq!(keys("brpop"), Some((1, -2, 1)));
        assert_eq!(keys("blmove"), Some((1, 2, 1)));
        assert_eq!(keys("brpoplpush"), Some((1, 2, 1)));
        // Keys after a count: Redis's legacy range is empty.
        assert_eq!(keys("lmpop"), Some((0, 0, 0)));
        assert_eq!(keys("blmpop"), Some((0, 0, 0)));
    }

    #[test]
    fn served_pops_answer_in_each_commands_shape() {
        let popped = || Served::Popped {
            key: b"k".to_vec(),
            elements: vec![b"a".to_vec(), b"b".to_vec()],
        };
        let one = Wants::Pop {
            end: End::Head,
            count: None,
        };
        let many = Wants::Pop {
            end: End::Head,
            count: Some(2),
        };
        let shape = |r: Reply| {
            let mut out = Vec::new();
            r.encode(crate::protocol::Dialect::Resp2, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            shape(served_reply(&one, popped())),
            "*2\r\n$1\r\nk\r\n$1\r\na\r\n"
        );
        assert_eq!(
            shape(served_reply(&many, popped())),
            "*2\r\n$1\r\nk\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(shape(served_reply(&one, Served::TimedOut)), "*-1\r\n");
        assert_eq!(
            shape(served_reply(&one, Served::Unblocked)),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        );
    }
}
