//! Sorted-set commands: `ZADD` and its options, scores, ranks and counts,
//! ranges by rank, score and lex (read, stored with `ZRANGESTORE`, or
//! removed), pops (`ZPOPMIN`, `ZPOPMAX`, `ZMPOP`), the algebra of unions,
//! intersections and differences (plain sets taken as members scored 1),
//! `ZRANDMEMBER` and `ZSCAN`, with Redis 7.0's replies, error texts and
//! order of checks. The blocking pops (`BZPOPMIN`, `BZPOPMAX`, `BZMPOP`)
//! answer here when they find data, and otherwise register their client
//! with the blocked registry ([`crate::keyspace::blocked`]), which serves
//! it at the commit of the write that brings a sorted set, first blocked
//! first served, as the list pops are.
//!
//! Scores are read as Redis reads them: a score argument as C's `strtod`
//! reads the whole of it (hexadecimal floats and `inf` included, NaN and
//! out-of-range numbers refused: [`parse_score`]); a range bound more
//! loosely, as Redis's range parser does (`parse_bound`). A score is
//! replied as a double ([`Reply::Double`], `%.17g` as Redis's
//! `addReplyDouble` prints it, a `,` double in RESP3), and `WITHSCORES`
//! pairs are flat in RESP2 and arrays of two in RESP3.
//!
//! Every change goes through [`Context::edit`], named as Redis names its
//! keyspace event, with a replay command of the same effect (a `ZADD` or
//! `ZINCRBY` replays as the `ZADD` of the scores it set, a pop as
//! `ZPOPMIN key` or `ZPOPMIN key n` of how many it popped, as Redis
//! propagates pops). A write that would change
//! nothing (an `NX` of members present, a range that matches none) is
//! found out first, under the same write guard, and is not an edit: it
//! breaks no `WATCH`. A `*STORE` builds its result and stores it whole
//! with [`DbWriter::put_value`](crate::keyspace::DbWriter::put_value); an
//! empty result deletes the destination.
//!
//! Reads copy what they reply out under the read guard and build the
//! reply after it. Nothing here does work proportional to a set's size
//! for a command on one member or a range of `k` (beyond the O(log n) of
//! the value layer), except what Redis's command itself walks: the
//! algebra, `ZRANGESTORE` of a large range, `ZSCAN`'s pages. Handlers
//! never hold a guard across anything but the keyspace work itself.

use super::keys::parse_cursor;
use super::lists::parse_timeout;
use super::{
    Access, Args, CommandResult, CommandSpec, Context, MOST_RANDOM_REPLY_BYTES, collection_of,
    is_word, keyword_of, parse_int, replay,
};
use crate::error::CommandError;
use crate::glob;
use crate::key_hash::KeyHashing;
use crate::keyspace::{Db, Event, Wants};
use crate::protocol::Reply;
use crate::protocol::reply::format_double;
use crate::value::random::Seeds;
use crate::value::zset::{LexBound, LexRange, ScoreRange};
use crate::value::{Encodings, SetRef, Value, ZSet, ZSetRef};
use std::collections::HashMap;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, Access::Write, zadd)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("zincrby", 4, Access::Write, zincrby)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("zrem", -3, Access::Write, zrem).keys(1, 1, 1),
    CommandSpec::new("zcard", 2, Access::Read, zcard).keys(1, 1, 1),
    CommandSpec::new("zscore", 3, Access::Read, zscore).keys(1, 1, 1),
    CommandSpec::new("zmscore", -3, Access::Read, zmscore).keys(1, 1, 1),
    CommandSpec::new("zrank", 3, Access::Read, zrank).keys(1, 1, 1),
    CommandSpec::new("zrevrank", 3, Access::Read, zrevrank).keys(1, 1, 1),
    CommandSpec::new("zcount", 4, Access::Read, zcount).keys(1, 1, 1),
    CommandSpec::new("zlexcount", 4, Access::Read, zlexcount).keys(1, 1, 1),
    CommandSpec::new("zrange", -4, Access::Read, zrange).keys(1, 1, 1),
    CommandSpec::new("zrangestore", -5, Access::Write, zrangestore)
        .grows()
        .keys(1, 2, 1),
    CommandSpec::new("zrangebyscore", -4, Access::Read, zrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zrevrangebyscore", -4, Access::Read, zrevrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zrangebylex", -4, Access::Read, zrangebylex).keys(1, 1, 1),
    CommandSpec::new("zrevrangebylex", -4, Access::Read, zrevrangebylex).keys(1, 1, 1),
    CommandSpec::new("zrevrange", -4, Access::Read, zrevrange).keys(1, 1, 1),
    CommandSpec::new("zremrangebyrank", 4, Access::Write, zremrangebyrank).keys(1, 1, 1),
    CommandSpec::new("zremrangebyscore", 4, Access::Write, zremrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zremrangebylex", 4, Access::Write, zremrangebylex).keys(1, 1, 1),
    CommandSpec::new("zpopmin", -2, Access::Write, zpopmin).keys(1, 1, 1),
    CommandSpec::new("zpopmax", -2, Access::Write, zpopmax).keys(1, 1, 1),
    // Its keys follow a count, which Redis's first/last/step cannot say:
    // it reports 0, 0, 0 (as for the algebra's plain forms below).
    CommandSpec::new("zmpop", -4, Access::Write, zmpop),
    CommandSpec::new("zunion", -3, Access::Read, zunion),
    CommandSpec::new("zinter", -3, Access::Read, zinter),
    CommandSpec::new("zdiff", -3, Access::Read, zdiff),
    CommandSpec::new("zunionstore", -4, Access::Write, zunionstore)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("zinterstore", -4, Access::Write, zinterstore)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("zdiffstore", -4, Access::Write, zdiffstore)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("zintercard", -3, Access::Read, zintercard),
    CommandSpec::new("zrandmember", -2, Access::Read, zrandmember).keys(1, 1, 1),
    CommandSpec::new("zscan", -3, Access::Read, zscan).keys(1, 1, 1),
    CommandSpec::new("bzpopmin", -3, Access::Write, bzpopmin).keys(1, -2, 1),
    CommandSpec::new("bzpopmax", -3, Access::Write, bzpopmax).keys(1, -2, 1),
    CommandSpec::new("bzmpop", -5, Access::Write, bzmpop),
];

// ---------------------------------------------------------------------
// Scores: reading them as C's strtod does, and their text.

/// What C's `strtod` makes of the longest number at the start of `text`:
/// the value, how many bytes it read (0 if none: then the value is 0),
/// and whether it was out of range (a finite number too big, or one so
/// small it reads as zero), as `errno == ERANGE` says with the value
/// Redis refuses.
fn strtod(text: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while text.get(i).is_some_and(|&b| is_c_space(b)) {
        i += 1;
    }
    let start = i;
    let negative = text.get(i) == Some(&b'-');
    if matches!(text.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &text[i..];
    let starts = |word: &str| {
        rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    };
    if starts("infinity") {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if starts("inf") {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if starts("nan") {
        // `nan(chars)` is one token too.
        let mut end = i + 3;
        if text.get(end) == Some(&b'(') {
            let close = text[end..].iter().position(|&b| b == b')');
            let inside_ok = |len: usize| {
                text[end + 1..end + len]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            };
            if let Some(len) = close.filter(|&len| inside_ok(len)) {
                end += len + 1;
            }
        }
        return (f64::NAN, end, false);
    }
    if rest.len() > 2 && rest[0] == b'0' && matches!(rest[1], b'x' | b'X') {
        if let Some((value, used)) = hex_float(&rest[2..]) {
            let range_error = value.is_infinite();
            return (sign * value, i + 2 + used, range_error);
        }
        // "0x" without a hex digit reads as the "0".
        return (0.0 * sign, i + 1, false);
    }
    // A decimal: digits, an optional point and digits, an optional exponent.
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(i);
    let mut end = i + whole;
    let mut fraction = 0;
    if text.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        if whole + fraction > 0 {
            end += 1 + fraction;
        }
    }
    if whole + fraction == 0 {
        return (0.0, 0, false);
    }
    let mantissa_end = end;
    if matches!(text.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(text.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exponent_digits = digits(e);
        if exponent_digits > 0 {
            end = e + exponent_digits;
        }
    }
    let number = std::str::from_utf8(&text[start..end]).unwrap_or("0");
    let value: f64 = number.parse().unwrap_or(0.0);
    let nonzero_digits = text[i..mantissa_end]
        .iter()
        .any(|b| matches!(b, b'1'..=b'9'));
    let range_error = value.is_infinite() || (value == 0.0 && nonzero_digits);
    (value, end, range_error)
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The hexadecimal float after a `0x`: hex digits, an optional point and
/// hex digits, an optional binary exponent `p±n`; its value and the bytes
/// read, or `None` without a digit.
fn hex_float(text: &[u8]) -> Option<(f64, usize)> {
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut any = false;
    let mut i = 0;
    let mut seen_point = false;
    while let Some(&b) = text.get(i) {
        if b == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (b as char).to_digit(16) else {
            break;
        };
        any = true;
        if mantissa >> 56 == 0 {
            mantissa = mantissa * 16 + u64::from(d);
            if seen_point {
                exponent -= 4;
            }
        } else if !seen_point {
            // Digits past what a u64 holds only scale the value.
            exponent += 4;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if matches!(text.get(i), Some(b'p' | b'P')) {
        let mut e = i + 1;
        let negative = text.get(e) == Some(&b'-');
        if matches!(text.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let count = text[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if count > 0 {
            let digits = std::str::from_utf8(&text[e..e + count]).unwrap_or("0");
            let n: i64 = digits.parse().unwrap_or(i64::from(i32::MAX)).min(100_000);
            exponent += if negative { -n } else { n };
            i = e + count;
        }
    }
    let mut value = mantissa as f64;
    // Scaled in steps that stay within f64's exponent range.
    while exponent > 0 && value.is_finite() && value != 0.0 {
        let step = exponent.min(1000);
        value *= 2f64.powi(step as i32);
        exponent -= step;
    }
    while exponent < 0 && value != 0.0 {
        let step = exponent.max(-1000);
        value *= 2f64.powi(step as i32);
        exponent -= step;
    }
    Some((value, i))
}

/// Reads a score (or a weight, or an increment) as Redis reads a double
/// argument: the whole argument one number as `strtod` reads it, no space
/// before it, not NaN, and not out of range. `None` for anything else.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (value, used, range_error) = strtod(arg);
    (used == arg.len() && !value.is_nan() && !range_error).then_some(value)
}

/// Reads one end of a score range as Redis's range parser does: an
/// optional `(` (exclusive), then a number as `strtod` reads it, which
/// must end the argument and not be NaN. Leading space, an out-of-range
/// number and nothing at all (read as 0) pass, as in Redis.
fn parse_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match arg.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (arg, false),
    };
    if text.is_empty() {
        return Some((0.0, exclusive));
    }
    let (value, used, _) = strtod(text);
    (used == text.len() && !value.is_nan()).then_some((value, exclusive))
}

/// `min max` of a score range, or `ERR min or max is not a float`.
fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CommandError> {
    let error = || CommandError::other("ERR min or max is not a float");
    let (min, min_exclusive) = parse_bound(min).ok_or_else(error)?;
    let (max, max_exclusive) = parse_bound(max).ok_or_else(error)?;
    Ok(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg {
        b"-" => Some(LexBound::Min),
        b"+" => Some(LexBound::Max),
        [b'[', rest @ ..] => Some(LexBound::Inclusive(rest.to_vec())),
        [b'(', rest @ ..] => Some(LexBound::Exclusive(rest.to_vec())),
        _ => None,
    }
}

/// `min max` of a lex range, or `ERR min or max not valid string range item`.
fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CommandError> {
    let error = || CommandError::other("ERR min or max not valid string range item");
    Ok(LexRange {
        min: lex_bound(min).ok_or_else(error)?,
        max: lex_bound(max).ok_or_else(error)?,
    })
}

/// A score as Redis's `d2string` writes it into a packed sorted set (and
/// so as `ZSCAN` of one shows it): an integer in the range where a double
/// converts exactly without `%.17g`'s exponent, `%.17g` otherwise.
fn packed_score_text(score: f64) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if score.is_finite() && score != 0.0 && (-HALF..=HALF).contains(&score) {
        let n = score as i64;
        if n as f64 == score {
            return n.to_string();
        }
    }
    format_double(score)
}

/// A score as a packed set keeps it: -0 becomes 0 (Redis's listpack
/// stores a zero as the integer 0).
fn packed_zero(score: f64) -> f64 {
    if score == 0.0 { 0.0 } else { score }
}

/// The error `ERR value is not a valid float`.
fn not_float() -> CommandError {
    CommandError::NotFloat
}

// ---------------------------------------------------------------------
// Shared helpers.

/// A member and its score, copied out of a sorted set.
type Scored = (Vec<u8>, f64);

/// Whether the client speaks RESP3 (pairs of member and score are then
/// arrays of two).
fn resp3(ctx: &Context<'_>) -> bool {
    ctx.session.proto == 3
}

/// Members, with their scores if `with_scores`: flat in RESP2, arrays of
/// two in RESP3, as Redis replies ranges.
fn scored_reply(items: Vec<Scored>, with_scores: bool, resp3: bool) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(m, _)| member(m)).collect());
    }
    if resp3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![member(m), Reply::Double(s)]))
                .collect(),
        );
    }
    let mut flat = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        flat.push(member(m));
        flat.push(Reply::Double(s));
    }
    Reply::Array(flat)
}

/// A member's bytes as a bulk reply.
fn member(m: Vec<u8>) -> Reply {
    Reply::Bulk(crate::protocol::Bytes::Owned(m))
}

/// The sorted set at `key` in `db`: `None` for no key, `WRONGTYPE` for
/// another type.
fn zset_at<'d>(db: &'d Db, key: &[u8], now: u64) -> Result<Option<ZSetRef<'d>>, CommandError> {
    collection_of::<ZSet>(db.get(key, now))
}

/// Runs `read` on the sorted set at `key` under a read guard (`None` for
/// no key), counting the lookup.
fn read_zset<R>(
    ctx: &mut Context<'_>,
    key: &[u8],
    read: impl FnOnce(Option<ZSetRef<'_>>) -> R,
) -> Result<R, CommandError> {
    let (result, found) = {
        let db = ctx.read();
        let zset = zset_at(&db, key, ctx.now)?;
        (read(zset), zset.is_some())
    };
    ctx.count_lookup(found);
    Ok(result)
}

/// Runs `read` on the live sorted set at `key` (`None` for no key) under
/// the command's write guard, a key past its deadline removed first: a
/// write's look before it edits, under the same guard as the edit.
fn with_zset_for_write<R>(
    ctx: &mut Context<'_>,
    key: &[u8],
    read: impl FnOnce(Option<ZSetRef<'_>>) -> R,
) -> Result<R, CommandError> {
    let now = ctx.now;
    let mut db = ctx.write();
    let zset = collection_of::<ZSet>(db.get_live(key, now))?;
    Ok(read(zset))
}

/// Reads a rank (a `long` argument): `ERR value is not an integer or out
/// of range`.
fn rank_arg(arg: &[u8]) -> Result<i64, CommandError> {
    parse_int(arg)
}

/// Ranks `start..=end` (negative counting from the end) of a set of
/// `len` members, clamped as Redis clamps them; `None` if empty.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

// ---------------------------------------------------------------------
// ZADD and ZINCRBY.

/// `ZADD`'s flags.
#[derive(Debug, Default, Clone, Copy)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What a `ZADD` does, worked out before anything changes.
#[derive(Debug, Default)]
struct ZaddPlan<'a> {
    added: usize,
    updated: usize,
    processed: usize,
    /// The last pair's resulting score (`INCR`'s reply).
    score: f64,
    /// The members to write with their final scores, in first-change order.
    writes: Vec<(&'a [u8], f64)>,
}

/// Works `ZADD`'s pairs out against `set` as Redis's `zsetAdd` would apply
/// them one after another, a member given twice seeing its first result.
///
/// A score of -0 written into a packed set reads back as 0, as Redis's
/// listpack stores it (as the integer 0); a skiplist keeps -0. So the
/// plan follows the set's encoding as Redis converts it: before adding a
/// member past `limits`, or at the creation of a set whose first member
/// is too long.
fn plan_zadd<'a>(
    set: Option<ZSetRef<'_>>,
    flags: ZaddFlags,
    pairs: &[(f64, &'a [u8])],
    limits: &Encodings,
) -> Result<ZaddPlan<'a>, CommandError> {
    let mut plan = ZaddPlan::default();
    // Members of a packed set, or None once it is (or will be) a tree.
    let mut packed = match set {
        None => Some(0),
        Some(z @ ZSetRef::Packed(_)) => Some(z.len() as u64),
        Some(ZSetRef::Tree(_)) => None,
    };
    let mut written = Written::new(pairs.len());
    for &(score, member) in pairs {
        let current = match written.get(member, &plan.writes) {
            Some(at) => Some(plan.writes[at].1),
            None => set.and_then(|s| s.score(member)),
        };
        let new_score = match current {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                let new_score = if flags.incr { current + score } else { score };
                if new_score.is_nan() {
                    return Err(CommandError::other(
                        "ERR resulting score is not a number (NaN)",
                    ));
                }
                if (flags.lt && new_score >= current) || (flags.gt && new_score <= current) {
                    continue;
                }
                let new_score = if packed.is_some() {
                    packed_zero(new_score)
                } else {
                    new_score
                };
                plan.processed += 1;
                plan.score = new_score;
                // Redis compares the doubles: -0 and 0 are the same score.
                if new_score == current {
                    continue;
                }
                plan.updated += 1;
                new_score
            }
            None => {
                if flags.xx {
                    continue;
                }
                packed = packed.filter(|&n| {
                    n < limits.zset_max_listpack_entries
                        && member.len() as u64 <= limits.zset_max_listpack_value
                });
                let score = match packed.as_mut() {
                    Some(n) => {
                        *n += 1;
                        packed_zero(score)
                    }
                    None => score,
                };
                plan.added += 1;
                plan.processed += 1;
                plan.score = score;
                score
            }
        };
        match written.get(member, &plan.writes) {
            Some(at) => plan.writes[at].1 = new_score,
            None => {
                written.insert(member, plan.writes.len());
                plan.writes.push((member, new_score));
            }
        }
    }
    Ok(plan)
}

/// Where each member a `ZADD` writes is in its plan: found by a look
/// through the few writes of a short `ZADD` (the common one, with a pair
/// or two), by a map past [`Written::LINEAR_UP_TO`] pairs.
enum Written<'a> {
    Linear,
    Map(HashMap<&'a [u8], usize, KeyHashing>),
}

impl<'a> Written<'a> {
    const LINEAR_UP_TO: usize = 8;

    fn new(pairs: usize) -> Written<'a> {
        if pairs <= Self::LINEAR_UP_TO {
            Written::Linear
        } else {
            Written::Map(HashMap::with_capacity_and_hasher(pairs, KeyHashing::new()))
        }
    }

    fn get(&self, member: &[u8], writes: &[(&'a [u8], f64)]) -> Option<usize> {
        match self {
            Written::Linear => writes.iter().position(|(m, _)| *m == member),
            Written::Map(map) => map.get(member).copied(),
        }
    }

    fn insert(&mut self, member: &'a [u8], at: usize) {
        if let Written::Map(map) = self {
            map.insert(member, at);
        }
    }
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`:
/// how many were added (with `CH`, added or changed); with `INCR`, the
/// member's new score, or nil if a flag stopped it.
fn zadd(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut flags = ZaddFlags::default();
    let mut at = 2;
    while let Some(word) = argv.get(at) {
        let flag = match keyword_of(
            word,
            &[
                ("nx", 0),
                ("xx", 1),
                ("gt", 2),
                ("lt", 3),
                ("ch", 4),
                ("incr", 5),
            ],
        ) {
            Some(flag) => flag,
            None => break,
        };
        *match flag {
            0 => &mut flags.nx,
            1 => &mut flags.xx,
            2 => &mut flags.gt,
            3 => &mut flags.lt,
            4 => &mut flags.ch,
            _ => &mut flags.incr,
        } = true;
        at += 1;
    }
    add(ctx, argv[1], &argv[at..], flags)
}

/// `ZINCRBY key increment member`: the member's new score.
fn zincrby(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let flags = ZaddFlags {
        incr: true,
        ..ZaddFlags::default()
    };
    add(ctx, argv[1], &argv[2..], flags)
}

/// `ZADD` after its flags, `ZINCRBY`: the checks in Redis's order (the
/// pairs' shape, conflicting flags, every score, the key's type), then the
/// change, made only if it changes something.
fn add(ctx: &mut Context<'_>, key: &[u8], rest: &[&[u8]], flags: ZaddFlags) -> CommandResult {
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CommandError::other(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CommandError::other(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest.len() > 2 {
        return Err(CommandError::other(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = rest
        .chunks_exact(2)
        .map(|pair| Ok((parse_score(pair[0]).ok_or_else(not_float)?, pair[1])))
        .collect::<Result<Vec<(f64, &[u8])>, CommandError>>()?;
    let limits = ctx.encodings();
    let plan = with_zset_for_write(ctx, key, |set| plan_zadd(set, flags, &pairs, &limits))??;
    if !plan.writes.is_empty() {
        let writes = &plan.writes;
        ctx.edit::<ZSet, _>(
            key,
            true,
            if flags.incr { "zincr" } else { "zadd" },
            |set, limits| {
                for &(member, score) in writes {
                    set.insert(member, score, limits);
                }
            },
            |_| zadd_replay(key, writes),
        )?;
    }
    Ok(if flags.incr {
        if plan.processed > 0 {
            Reply::Double(plan.score)
        } else {
            Reply::Nil
        }
    } else if flags.ch {
        Reply::Integer((plan.added + plan.updated) as i64)
    } else {
        Reply::Integer(plan.added as i64)
    })
}

/// `ZADD key score member ...` of members with the scores they now have:
/// the same effect again, whatever the flags or increments were.
fn zadd_replay(key: &[u8], writes: &[(&[u8], f64)]) -> Vec<Vec<u8>> {
    let mut line = vec![b"ZADD".to_vec(), key.to_vec()];
    for &(member, score) in writes {
        line.push(format_double(score).into_bytes());
        line.push(member.to_vec());
    }
    line
}

// ---------------------------------------------------------------------
// ZREM and the simple reads.

/// `ZREM key member [member ...]`: how many were removed; the last one
/// removes the key.
fn zrem(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, members) = (argv[1], &argv[2..]);
    let any = with_zset_for_write(ctx, key, |set| {
        set.is_some_and(|s| members.iter().any(|m| s.score(m).is_some()))
    })?;
    if !any {
        return Ok(Reply::Integer(0));
    }
    let removed = ctx.edit::<ZSet, _>(
        key,
        false,
        "zrem",
        |set, _| {
            let mut removed = 0;
            for m in members {
                if set.remove(m) {
                    removed += 1;
                    if set.is_empty() {
                        break;
                    }
                }
            }
            removed
        },
        |_| replay(b"ZREM", key, members.iter().copied()),
    )?;
    Ok(Reply::Integer(removed.unwrap_or(0)))
}

/// `ZCARD key`: how many members (0 for no key).
fn zcard(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let len = read_zset(ctx, argv[1], |z| z.map_or(0, ZSetRef::len))?;
    Ok(Reply::Integer(len as i64))
}

/// `ZSCORE key member`: the score, or nil.
fn zscore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let score = read_zset(ctx, argv[1], |z| z.and_then(|z| z.score(argv[2])))?;
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

/// `ZMSCORE key member [member ...]`: a score or nil for each; no key is
/// an empty sorted set.
fn zmscore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let scores = read_zset(ctx, argv[1], |z| {
        argv[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect::<Vec<_>>()
    })?;
    Ok(Reply::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Reply::Nil, Reply::Double))
            .collect(),
    ))
}

/// `ZRANK key member`: its 0-based rank from the lowest score, or nil.
fn zrank(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    rank(ctx, argv, false)
}

/// `ZREVRANK key member`: its rank from the highest score, or nil.
fn zrevrank(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    rank(ctx, argv, true)
}

fn rank(ctx: &mut Context<'_>, argv: &[&[u8]], rev: bool) -> CommandResult {
    let rank = read_zset(ctx, argv[1], |z| z.and_then(|z| z.rank(argv[2], rev)))?;
    Ok(rank.map_or(Reply::Nil, |r| Reply::Integer(r as i64)))
}

/// `ZCOUNT key min max`: members with scores in the range (checked before
/// the key).
fn zcount(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let range = score_range(argv[2], argv[3])?;
    let count = read_zset(ctx, argv[1], |z| {
        z.filter(|_| !range.is_empty())
            .map_or(0, |z| z.count_in_score(&range))
    })?;
    Ok(Reply::Integer(count as i64))
}

/// `ZLEXCOUNT key min max`: members in the lex range.
fn zlexcount(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let range = lex_range(argv[2], argv[3])?;
    let count = read_zset(ctx, argv[1], |z| {
        z.filter(|_| !range.is_empty())
            .map_or(0, |z| z.count_in_lex(&range))
    })?;
    Ok(Reply::Integer(count as i64))
}

// ---------------------------------------------------------------------
// Ranges.

/// What a range is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// Not said yet (`ZRANGE` and `ZRANGESTORE` read `BYSCORE`/`BYLEX`).
    Auto,
    Rank,
    Score,
    Lex,
}

/// A range request, parsed.
#[derive(Debug)]
struct RangeRequest {
    by: By,
    rev: bool,
    with_scores: bool,
    /// `LIMIT offset count` (count -1, the default, meaning all).
    offset: i64,
    count: i64,
    bounds: Bounds,
}

/// The two ends of a range, as its kind reads them.
#[derive(Debug)]
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Parses a range command from `argv[first]` (its source key) on, as
/// Redis's shared range parser does: the options in any order (`REV` and
/// `BYSCORE`/`BYLEX` only where the command leaves them open, no
/// `WITHSCORES` for a store), then the conflicts, then the bounds (given
/// high first when reversed by score or lex).
fn parse_range(
    argv: &[&[u8]],
    first: usize,
    store: bool,
    mut by: By,
    mut rev: Option<bool>,
) -> Result<RangeRequest, CommandError> {
    let mut with_scores = false;
    let (mut offset, mut count) = (0, -1);
    let mut j = first + 3;
    while j < argv.len() {
        let arg = argv[j];
        let left = argv.len() - j - 1;
        if !store && is_word(arg, "withscores") {
            with_scores = true;
        } else if is_word(arg, "limit") && left >= 2 {
            offset = parse_int(argv[j + 1])?;
            count = parse_int(argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && is_word(arg, "rev") {
            rev = Some(true);
        } else if by == By::Auto && is_word(arg, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is_word(arg, "byscore") {
            by = By::Score;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if count != -1 && by == By::Rank {
        return Err(CommandError::other(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == By::Lex {
        return Err(CommandError::other(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (argv[first + 1], argv[first + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let bounds = match by {
        By::Score => Bounds::Score(score_range(min, max)?),
        By::Lex => Bounds::Lex(lex_range(min, max)?),
        By::Rank | By::Auto => Bounds::Rank(rank_arg(min)?, rank_arg(max)?),
    };
    Ok(RangeRequest {
        by,
        rev,
        with_scores,
        offset,
        count,
        bounds,
    })
}

/// The members (and scores) of `request`'s range of `z`, in reply order.
fn collect_range(z: ZSetRef<'_>, request: &RangeRequest) -> Vec<Scored> {
    let mut out = Vec::new();
    let mut visit = |m: &[u8], s: f64| out.push((m.to_vec(), s));
    // A negative offset skips past the end, as Redis's walk does; a
    // negative count means no limit.
    let offset = usize::try_from(request.offset).ok();
    let limit = usize::try_from(request.count).ok();
    match &request.bounds {
        Bounds::Rank(start, end) => {
            if let Some((start, end)) = clamp_ranks(*start, *end, z.len()) {
                z.range_by_rank(start, end, request.rev, visit);
            }
        }
        Bounds::Score(range) => {
            if let Some(offset) = offset.filter(|&o| o < z.len() && !range.is_empty()) {
                z.range_by_score(range, request.rev, offset, limit, &mut visit);
            }
        }
        Bounds::Lex(range) => {
            if let Some(offset) = offset.filter(|&o| o < z.len() && !range.is_empty()) {
                z.range_by_lex(range, request.rev, offset, limit, &mut visit);
            }
        }
    }
    out
}

/// A range command that replies: parses, reads under the read guard,
/// replies after it.
fn range_read(ctx: &mut Context<'_>, argv: &[&[u8]], by: By, rev: Option<bool>) -> CommandResult {
    let request = parse_range(argv, 1, false, by, rev)?;
    debug_assert!(request.by != By::Auto);
    let items = read_zset(ctx, argv[1], |z| {
        z.map_or_else(Vec::new, |z| collect_range(z, &request))
    })?;
    Ok(scored_reply(items, request.with_scores, resp3(ctx)))
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Auto, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
fn zrevrange(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Rank, Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Score, Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
fn zrevrangebyscore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Score, Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
fn zrangebylex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Lex, Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
fn zrevrangebylex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    range_read(ctx, argv, By::Lex, Some(true))
}

/// A sorted set of `items`, in the encoding their count and sizes call for.
/// Built as Redis builds a result (a skiplist, converted to a listpack
/// when small enough, where a -0 becomes 0).
fn build_zset(items: Vec<Scored>, ctx: &Context<'_>) -> ZSet {
    let limits = ctx.encodings();
    let packs = items.len() as u64 <= limits.zset_max_listpack_entries
        && items
            .iter()
            .all(|(m, _)| m.len() as u64 <= limits.zset_max_listpack_value);
    let mut z = ZSet::new();
    for (m, s) in items {
        z.insert(&m, if packs { packed_zero(s) } else { s }, &limits);
    }
    z
}

/// Stores `result` at `dst` (replacing whatever it held, deadline
/// included) as the event `event`, or deletes `dst` if it is empty; its
/// size.
fn store_result(ctx: &mut Context<'_>, dst: &[u8], result: ZSet, event: &'static str) -> Reply {
    let len = result.len();
    let now = ctx.now;
    ctx.write()
        .put_value(dst, Value::ZSet(result), 0, now, Event::Edited(event));
    Reply::Integer(len as i64)
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`:
/// the range stored at `dst`, its size replied; read and written under one
/// write guard.
fn zrangestore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let request = parse_range(argv, 2, true, By::Auto, None)?;
    let items = with_zset_for_write(ctx, argv[2], |set| {
        set.map_or_else(Vec::new, |z| collect_range(z, &request))
    })?;
    let result = build_zset(items, ctx);
    Ok(store_result(ctx, argv[1], result, "zrangestore"))
}

/// The `ZREMRANGEBY*` commands: parses the range, then removes what it
/// holds (nothing changed, no edit); the count removed.
fn remove_range(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    bounds: Bounds,
    event: &'static str,
) -> CommandResult {
    let key = argv[1];
    // What to remove, if anything: `None` for nothing (or no key).
    let plan = with_zset_for_write(ctx, key, |set| {
        let set = set?;
        match &bounds {
            Bounds::Rank(start, end) => clamp_ranks(*start, *end, set.len()).map(Some),
            Bounds::Score(range) => {
                (!range.is_empty() && set.count_in_score(range) > 0).then_some(None)
            }
            Bounds::Lex(range) => {
                (!range.is_empty() && set.count_in_lex(range) > 0).then_some(None)
            }
        }
    })?;
    let Some(ranks) = plan else {
        return Ok(Reply::Integer(0));
    };
    let removed = ctx.edit::<ZSet, _>(
        key,
        false,
        event,
        |set, _| match (&bounds, ranks) {
            (Bounds::Rank(..), Some((start, end))) => set.remove_rank_range(start, end),
            (Bounds::Score(range), _) => set.remove_score_range(range),
            (Bounds::Lex(range), _) => set.remove_lex_range(range),
            _ => 0,
        },
        |_| replay(argv[0], key, argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(removed.unwrap_or(0) as i64))
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let bounds = Bounds::Rank(rank_arg(argv[2])?, rank_arg(argv[3])?);
    remove_range(ctx, argv, bounds, "zremrangebyrank")
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let bounds = Bounds::Score(score_range(argv[2], argv[3])?);
    remove_range(ctx, argv, bounds, "zremrangebyscore")
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let bounds = Bounds::Lex(lex_range(argv[2], argv[3])?);
    remove_range(ctx, argv, bounds, "zremrangebylex")
}

// ---------------------------------------------------------------------
// Pops.

/// Pops up to `count` members from the low end (the high end if `max`)
/// of the sorted set at `key`, which the caller found non-empty under
/// this command's write guard; recorded as `zpopmin`/`zpopmax`, replayed
/// as `ZPOPMIN key n` (`ZPOPMAX`) of how many it popped, or without a
/// count for a plain pop (`counted` false), as Redis propagates pops.
fn pop_from(
    ctx: &mut Context<'_>,
    key: &[u8],
    max: bool,
    count: usize,
    counted: bool,
) -> Result<Vec<Scored>, CommandError> {
    let now = ctx.now;
    let popped = ctx.write().pop_zset(key, max, count, now, counted)?;
    Ok(popped.unwrap_or_default())
}

/// `ZPOPMIN key [count]`
fn zpopmin(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    pop_command(ctx, argv, false)
}

/// `ZPOPMAX key [count]`
fn zpopmax(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    pop_command(ctx, argv, true)
}

/// `ZPOPMIN`/`ZPOPMAX`: members and scores, flat (and with a count, pairs
/// in RESP3); an empty array for no key or a count of 0.
fn pop_command(ctx: &mut Context<'_>, argv: &[&[u8]], max: bool) -> CommandResult {
    if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = match argv.get(2) {
        None => None,
        Some(arg) => Some(
            parse_int(arg)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    CommandError::other("ERR value is out of range, must be positive")
                })?,
        ),
    };
    let key = argv[1];
    let exists = with_zset_for_write(ctx, key, |z| z.is_some())?;
    if !exists || count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let popped = pop_from(ctx, key, max, count.unwrap_or(1), count.is_some())?;
    Ok(scored_reply(popped, true, resp3(ctx) && count.is_some()))
}

/// `ZMPOP`'s and `BZMPOP`'s arguments after the timeout: the keys, which
/// end, and the count (1 by default).
struct MultiPop<'a> {
    /// The keys, in order.
    keys: &'a [&'a [u8]],
    /// Pops from the high end.
    max: bool,
    /// Members to pop at most.
    count: usize,
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` from `argv[at]`
/// on, with Redis's errors.
fn parse_multi_pop<'a>(argv: &'a [&'a [u8]], at: usize) -> Result<MultiPop<'a>, CommandError> {
    let numkeys = parse_int(argv[at])
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| CommandError::other("ERR numkeys should be greater than 0"))?;
    let where_at = at
        .checked_add(numkeys)
        .and_then(|n| n.checked_add(1))
        .filter(|&n| n < argv.len())
        .ok_or(CommandError::Syntax)?;
    let max = match keyword_of(argv[where_at], &[("min", false), ("max", true)]) {
        Some(max) => max,
        None => return Err(CommandError::Syntax),
    };
    let mut count = None;
    let mut args = Args::over(&argv[where_at + 1..]);
    while let Some(option) = args.next() {
        if count.is_none() && is_word(option, "count") && !args.is_empty() {
            count = Some(args.next_with(|arg| {
                parse_int(arg)
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CommandError::other("ERR count should be greater than 0"))
            })?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(MultiPop {
        keys: &argv[at + 1..where_at],
        max,
        count: count.unwrap_or(1),
    })
}

/// The first of `keys` holding a sorted set, under the write guard (each
/// found past its deadline removed); `WRONGTYPE` for a key of another
/// type before it.
fn first_zset<'k>(
    ctx: &mut Context<'_>,
    keys: &[&'k [u8]],
) -> Result<Option<&'k [u8]>, CommandError> {
    for &key in keys {
        if with_zset_for_write(ctx, key, |z| z.is_some())? {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// `[key, [[member, score], ...]]`, as `ZMPOP` and `BZMPOP` reply.
fn multi_pop_reply(key: &[u8], popped: Vec<Scored>) -> Reply {
    Reply::Array(vec![
        Reply::bulk(key),
        Reply::Array(
            popped
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![member(m), Reply::Double(s)]))
                .collect(),
        ),
    ])
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: from the first
/// key holding a sorted set, `[key, [[member, score], ...]]`; a null array
/// if none does.
fn zmpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let MultiPop { keys, max, count } = parse_multi_pop(argv, 1)?;
    let Some(key) = first_zset(ctx, keys)? else {
        return Ok(Reply::NilArray);
    };
    let popped = pop_from(ctx, key, max, count, true)?;
    Ok(multi_pop_reply(key, popped))
}

/// The reply to a blocking pop that wanted `count` (`None`: `BZPOPMIN`'s
/// `[key, member, score]`; `Some`: `BZMPOP`'s `[key, [[member, score],
/// ...]]`) and got `members` from `key`.
pub fn blocking_pop_reply(key: Vec<u8>, members: Vec<Scored>, count: Option<usize>) -> Reply {
    if count.is_some() {
        return multi_pop_reply(&key, members);
    }
    let mut flat = vec![member(key)];
    for (m, s) in members.into_iter().take(1) {
        flat.push(member(m));
        flat.push(Reply::Double(s));
    }
    Reply::Array(flat)
}

/// The blocking pops: from the first of `keys` holding a sorted set, at
/// once; else (not inside `EXEC`, where it answers a null array) the
/// client waits until `timeout_ms` (0: forever).
fn blocking_zpop(
    ctx: &mut Context<'_>,
    keys: &[&[u8]],
    max: bool,
    count: Option<usize>,
    timeout_ms: u64,
) -> CommandResult {
    if let Some(key) = first_zset(ctx, keys)? {
        let popped = pop_from(ctx, key, max, count.unwrap_or(1), count.is_some())?;
        return Ok(blocking_pop_reply(key.to_vec(), popped, count));
    }
    if ctx.in_exec() {
        return Ok(Reply::NilArray);
    }
    super::lists::block(ctx, keys, Wants::ZPop { max, count }, timeout_ms)
}

/// `BZPOPMIN key [key ...] timeout`: `[key, member, score]`, at once or
/// once a sorted set arrives; a null array at the timeout.
fn bzpopmin(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let timeout_ms = parse_timeout(argv[argv.len() - 1])?;
    blocking_zpop(ctx, &argv[1..argv.len() - 1], false, None, timeout_ms)
}

/// `BZPOPMAX key [key ...] timeout`
fn bzpopmax(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let timeout_ms = parse_timeout(argv[argv.len() - 1])?;
    blocking_zpop(ctx, &argv[1..argv.len() - 1], true, None, timeout_ms)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`: as
/// `ZMPOP`, else waits. The timeout is read after the rest, as in Redis.
fn bzmpop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let MultiPop { keys, max, count } = parse_multi_pop(argv, 2)?;
    let timeout_ms = parse_timeout(argv[1])?;
    blocking_zpop(ctx, keys, max, Some(count), timeout_ms)
}

// ---------------------------------------------------------------------
// The algebra.

/// One input of the algebra: a sorted set, a plain set (members scored
/// 1), or no key (empty).
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    Sorted(ZSetRef<'a>),
    Plain(SetRef<'a>),
}

impl<'a> Source<'a> {
    fn len(self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    /// Every member with its score.
    fn each(self, mut visit: impl FnMut(&[u8], f64)) {
        match self {
            Source::Missing => {}
            Source::Sorted(z) => z.iter().for_each(|(m, s)| visit(m, s)),
            Source::Plain(s) => s.elements().for_each(|e| e.with_bytes(|b| visit(b, 1.0))),
        }
    }

    /// The score of `member`, if it is one.
    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Sorted(z) => z.score(member),
            Source::Plain(s) => s.contains(member).then_some(1.0),
        }
    }
}

/// Which operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// How scores of one member combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Combines `value` into `target` as Redis does: a sum that is NaN (inf
/// plus -inf) is 0; a NaN `value` never wins a MIN or MAX.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// The inputs at `keys`, in order; `WRONGTYPE` for a key holding neither
/// a sorted set nor a set.
fn sources_at<'d>(db: &'d Db, keys: &[&[u8]], now: u64) -> Result<Vec<Source<'d>>, CommandError> {
    keys.iter()
        .map(|key| match db.get(key, now) {
            None => Ok(Source::Missing),
            Some(entry) => {
                let value = entry.collection().ok_or(CommandError::WrongType)?;
                if let Some(z) = value.zset() {
                    Ok(Source::Sorted(z))
                } else if let Some(s) = value.set() {
                    Ok(Source::Plain(s))
                } else {
                    Err(CommandError::WrongType)
                }
            }
        })
        .collect()
}

/// The algebra's options after its keys.
struct AlgebraOptions {
    weights: Vec<f64>,
    how: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// Parses `[WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` (or, for
/// `ZINTERCARD`, `[LIMIT n]`) as Redis reads them: each where the command
/// takes it, `WEIGHTS` only with a weight for every key.
fn algebra_options(
    rest: &[&[u8]],
    keys: usize,
    op: Op,
    store: bool,
    card: bool,
) -> Result<AlgebraOptions, CommandError> {
    let mut o = AlgebraOptions {
        weights: vec![1.0; keys],
        how: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let mut j = 0;
    while j < rest.len() {
        let remaining = rest.len() - j;
        let arg = rest[j];
        if op != Op::Diff && !card && remaining > keys && is_word(arg, "weights") {
            for (i, w) in rest[j + 1..=j + keys].iter().enumerate() {
                o.weights[i] = parse_score(w)
                    .ok_or_else(|| CommandError::other("ERR weight value is not a float"))?;
            }
            j += 1 + keys;
        } else if op != Op::Diff && !card && remaining >= 2 && is_word(arg, "aggregate") {
            o.how = keyword_of(
                rest[j + 1],
                &[
                    ("sum", Aggregate::Sum),
                    ("min", Aggregate::Min),
                    ("max", Aggregate::Max),
                ],
            )
            .ok_or(CommandError::Syntax)?;
            j += 2;
        } else if !store && !card && is_word(arg, "withscores") {
            o.with_scores = true;
            j += 1;
        } else if card && remaining >= 2 && is_word(arg, "limit") {
            o.limit = parse_int(rest[j + 1])
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| CommandError::other("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(o)
}

/// Members and scores in sorted-set order.
fn sorted(mut items: Vec<Scored>) -> Vec<Scored> {
    items.sort_by(|a, b| a.1.total_cmp_zset(&b.1).then_with(|| a.0.cmp(&b.0)));
    items
}

/// Score order as a sorted set keeps it: numeric, -0 equal to 0 (no NaN).
trait ZsetOrder {
    fn total_cmp_zset(&self, other: &f64) -> std::cmp::Ordering;
}

impl ZsetOrder for f64 {
    fn total_cmp_zset(&self, other: &f64) -> std::cmp::Ordering {
        self.partial_cmp(other).unwrap_or(std::cmp::Ordering::Equal)
    }
}

/// Computes `op` over `sources` with `options`, as Redis does: inputs
/// walked smallest first (a union's sums added in that order), the
/// first input's members tried against the others for an intersection,
/// the first input less the others (unweighted) for a difference.
/// `ZINTERCARD` counts (stopping at its limit) instead: `Err(count)`.
fn combine(
    keys: &[&[u8]],
    sources: &[Source<'_>],
    op: Op,
    o: &AlgebraOptions,
    card: bool,
) -> Result<Vec<Scored>, usize> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    if op != Op::Diff {
        order.sort_by_key(|&i| sources[i].len());
    }
    match op {
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for &i in &order {
                let w = o.weights[i];
                sources[i].each(|m, s| {
                    let mut score = w * s;
                    match acc.get_mut(m) {
                        Some(target) => aggregate(target, score, o.how),
                        None => {
                            if score.is_nan() {
                                score = 0.0;
                            }
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            Ok(acc.into_iter().collect())
        }
        Op::Inter => {
            let first = order[0];
            let mut out = Vec::new();
            let mut count = 0usize;
            if sources[first].len() == 0 {
                return if card { Err(0) } else { Ok(out) };
            }
            let mut stop = false;
            sources[first].each(|m, s| {
                if stop {
                    return;
                }
                let mut score = o.weights[first] * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for &j in &order[1..] {
                    // One key given twice is one value: its own score.
                    let value = if keys[j] == keys[first] {
                        Some(s)
                    } else {
                        sources[j].score(m)
                    };
                    match value {
                        Some(v) => aggregate(&mut score, v * o.weights[j], o.how),
                        None => return,
                    }
                }
                if card {
                    count += 1;
                    if o.limit != 0 && count >= o.limit {
                        stop = true;
                    }
                } else {
                    out.push((m.to_vec(), score));
                }
            });
            if card { Err(count) } else { Ok(out) }
        }
        Op::Diff => {
            let mut out = Vec::new();
            if keys[1..].contains(&keys[0]) && !matches!(sources[0], Source::Missing) {
                return Ok(out);
            }
            sources[0].each(|m, s| {
                if sources[1..].iter().all(|other| other.score(m).is_none()) {
                    out.push((m.to_vec(), s));
                }
            });
            Ok(out)
        }
    }
}

/// The algebra: `[dst] numkeys key [key ...] options`.
fn algebra(
    ctx: &mut Context<'_>,
    argv: &[&[u8]],
    op: Op,
    store: bool,
    card: bool,
) -> CommandResult {
    let at = if store { 2 } else { 1 };
    let numkeys = parse_int(argv[at])?;
    if numkeys < 1 {
        return Err(CommandError::other(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(argv[0]).to_ascii_lowercase()
        )));
    }
    let keys_end = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
        .filter(|&end| end <= argv.len())
        .ok_or(CommandError::Syntax)?;
    let keys = &argv[at + 1..keys_end];
    let rest = &argv[keys_end..];
    let now = ctx.now;
    let computed = if store {
        let db = ctx.write();
        let sources = sources_at(&db, keys, now)?;
        let options = algebra_options(rest, keys.len(), op, store, card)?;
        (
            combine(keys, &sources, op, &options, card),
            options.with_scores,
        )
    } else {
        let (computed, found) = {
            let db = ctx.read();
            let sources = sources_at(&db, keys, now)?;
            let options = algebra_options(rest, keys.len(), op, store, card)?;
            let found = sources
                .iter()
                .filter(|s| !matches!(s, Source::Missing))
                .count();
            (
                (
                    combine(keys, &sources, op, &options, card),
                    options.with_scores,
                ),
                found,
            )
        };
        for i in 0..keys.len() {
            ctx.count_lookup(i < found);
        }
        computed
    };
    let (result, with_scores) = computed;
    let items = match result {
        Err(count) => return Ok(Reply::Integer(count as i64)),
        Ok(items) => items,
    };
    if store {
        let event = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        let result = build_zset(items, ctx);
        return Ok(store_result(ctx, argv[1], result, event));
    }
    Ok(scored_reply(sorted(items), with_scores, resp3(ctx)))
}

/// `ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zunion(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Union, false, false)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zinter(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Inter, false, false)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
fn zdiff(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Diff, false, false)
}

/// `ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
fn zunionstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Union, true, false)
}

/// `ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
fn zinterstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Inter, true, false)
}

/// `ZDIFFSTORE dst numkeys key [key ...]`
fn zdiffstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Diff, true, false)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: how many members are
/// in every input, counting stopped at `limit` if it is not 0.
fn zintercard(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    algebra(ctx, argv, Op::Inter, false, true)
}

// ---------------------------------------------------------------------
// ZRANDMEMBER and ZSCAN.

/// What each member of a repeated random reply is counted as besides its
/// bytes, against [`MOST_RANDOM_REPLY_BYTES`].
const REPLY_OVERHEAD: usize = 64;

/// `ZRANDMEMBER key [count [WITHSCORES]]`: a random member (nil if none);
/// with a count, that many distinct members (a positive count) or picks
/// that may repeat (a negative one), as an array, empty for no key.
fn zrandmember(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let Some(count_arg) = argv.get(2) else {
        let mut seeds = Seeds::new(ctx.random_seed());
        let picked = read_zset(ctx, argv[1], |z| {
            z.and_then(|z| z.random(seeds.draw()))
                .map(|(m, _)| m.to_vec())
        })?;
        return Ok(picked.map_or(Reply::Nil, member));
    };
    let count = parse_int(count_arg)?;
    if count == i64::MIN {
        return Err(CommandError::other(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_scores = match argv.len() {
        3 => false,
        4 if is_word(argv[3], "withscores") => true,
        _ => return Err(CommandError::Syntax),
    };
    if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::other("ERR value is out of range"));
    }
    let mut seeds = Seeds::new(ctx.random_seed());
    let picked = read_zset(ctx, argv[1], |z| match z {
        None => Ok(Vec::new()),
        Some(z) => random_members(z, count, with_scores, &mut seeds),
    })??;
    Ok(scored_reply(picked, with_scores, resp3(ctx)))
}

/// `ZRANDMEMBER`'s picks for `count` (not `i64::MIN`): `|count|`
/// independent picks for a negative count (or 1), else distinct members,
/// the whole set (highest first, as Redis walks it) when it has no more.
fn random_members(
    z: ZSetRef<'_>,
    count: i64,
    with_scores: bool,
    seeds: &mut Seeds,
) -> Result<Vec<Scored>, CommandError> {
    if count == 0 || z.is_empty() {
        return Ok(Vec::new());
    }
    if count < 0 || count == 1 {
        let picks = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let too_large = || {
            CommandError::other(format!(
                "ERR count is too large: the reply would exceed {MOST_RANDOM_REPLY_BYTES} bytes"
            ))
        };
        let per_pick = REPLY_OVERHEAD * if with_scores { 2 } else { 1 };
        if picks > MOST_RANDOM_REPLY_BYTES / per_pick {
            return Err(too_large());
        }
        let mut out = Vec::with_capacity(picks.min(4096));
        let mut bytes = 0usize;
        for _ in 0..picks {
            let Some((m, s)) = z.random(seeds.draw()) else {
                break;
            };
            bytes += per_pick + m.len();
            if bytes > MOST_RANDOM_REPLY_BYTES {
                return Err(too_large());
            }
            out.push((m.to_vec(), s));
        }
        return Ok(out);
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count >= z.len() {
        let mut all: Vec<Scored> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        all.reverse();
        return Ok(all);
    }
    Ok(z.sample_distinct(count, seeds)
        .into_iter()
        .map(|(m, s)| (m.to_vec(), s))
        .collect())
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and
/// a flat list of members and scores (as text, in RESP3 too, as Redis
/// sends them). A packed set comes whole, with cursor 0. The cursor is
/// checked first, then the key, and only then the options.
fn zscan(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let cursor = parse_cursor(argv[2])?;
    let options = super::hashes::scan_options(&argv[3..]);
    let (next, items) = read_zset(ctx, argv[1], |z| -> Result<_, CommandError> {
        let Some(z) = z else {
            return Ok((0, Vec::new()));
        };
        let (pattern, count) = options?;
        let packed = matches!(z, ZSetRef::Packed(_));
        let mut items = Vec::new();
        let next = z.scan(cursor, count, |m, s| {
            if pattern.is_none_or(|p| glob::matches(p, m)) {
                let text = if packed {
                    packed_score_text(s)
                } else {
                    format_double(s)
                };
                items.push(Reply::bulk(m));
                items.push(Reply::text(text));
            }
        });
        Ok((next, items))
    })??;
    Ok(Reply::Array(vec![
        Reply::text(next.to_string()),
        Reply::Array(items),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_client::Client;
    use std::collections::{BTreeMap, HashSet};

    impl Client {
        fn zint(&mut self, line: &str) -> i64 {
            match self.run(line) {
                Reply::Integer(n) => n,
                other => panic!("{line}: {other:?}"),
            }
        }

        /// The bulk strings of an array reply (scores of a RESP2
        /// WITHSCORES reply come as doubles: shown as Redis prints them).
        fn zwords(&mut self, line: &str) -> Vec<String> {
            match self.run(line) {
                Reply::Array(items) => items.into_iter().map(word).collect(),
                other => panic!("{line}: {other:?}"),
            }
        }

        /// How many changes `line` committed.
        fn zchanged(&mut self, line: &str) -> u64 {
            let before = self.changes();
            self.run(line);
            self.changes() - before
        }
    }

    fn word(reply: Reply) -> String {
        match reply {
            Reply::Bulk(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
            Reply::Double(d) => format_double(d),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_writes_that_change_a_sorted_set_count_as_changes() {
        let mut c = Client::new();
        c.zint("ZADD z 1 a 2 b");
        for line in [
            "ZADD z 1 a",
            "ZADD z NX 5 a",
            "ZADD z XX 1 nope",
            "ZADD z GT 0 a",
            "ZADD z LT 3 b",
            "ZADD z -0 nope2 XX",
            "ZINCRBY z 0 a",
            "ZADD z INCR 0 a",
            "ZREM z nope",
            "ZREM nokey a",
            "ZREMRANGEBYSCORE z 10 20",
            "ZREMRANGEBYSCORE z (2 2",
            "ZREMRANGEBYRANK z 5 6",
            "ZREMRANGEBYLEX z [x [y",
            "ZPOPMIN z 0",
            "ZPOPMIN nokey",
            "ZMPOP 1 nokey MIN",
            "ZRANGESTORE gone nokey 0 -1",
            "ZUNIONSTORE gone 1 nokey",
            "ZRANDMEMBER z -5",
        ] {
            assert_eq!(c.zchanged(line), 0, "{line}");
        }
        assert_eq!(
            c.zchanged("ZADD z 1 a 3 b 4 c"),
            1,
            "one edit for many pairs"
        );
        assert_eq!(c.zchanged("ZINCRBY z 1 a"), 1);
        assert_eq!(c.zchanged("ZREM z a c"), 1);
        // The last member popped: the pop, then the deletion.
        assert_eq!(c.zchanged("ZPOPMAX z"), 2);
        assert_eq!(c.zint("EXISTS z"), 0);
    }

    #[test]
    fn zadd_with_a_member_twice_sees_its_first_result() {
        let mut c = Client::new();
        assert_eq!(c.zint("ZADD z 1 a 2 a"), 1);
        assert_eq!(c.zwords("ZRANGE z 0 -1 WITHSCORES"), ["a", "2"]);
        assert_eq!(c.zint("ZADD z CH GT 5 a 3 a 9 b"), 2);
        assert_eq!(c.zwords("ZRANGE z 0 -1 WITHSCORES"), ["a", "5", "b", "9"]);
        assert_eq!(c.zint("ZADD z NX 1 c 2 c"), 1);
        assert_eq!(c.zwords("ZMSCORE z c"), ["1"]);
    }

    #[test]
    fn zrandmember_picks_members_of_the_set_in_every_shape() {
        let mut c = Client::new();
        let mut line = String::from("ZADD z");
        for i in 0..40 {
            line.push_str(&format!(" {i} m{i}"));
        }
        c.zint(&line);
        let all: HashSet<String> = (0..40).map(|i| format!("m{i}")).collect();
        let before = c.changes();
        for count in [1, 2, 13, 14, 39, 40, 41] {
            let picked = c.zwords(&format!("ZRANDMEMBER z {count}"));
            let distinct: HashSet<String> = picked.iter().cloned().collect();
            assert_eq!(distinct.len(), picked.len(), "distinct: {picked:?}");
            assert_eq!(picked.len(), count.min(40));
            assert!(distinct.is_subset(&all));
            let repeats = c.zwords(&format!("ZRANDMEMBER z -{count}"));
            assert_eq!(repeats.len(), count);
            assert!(repeats.iter().all(|m| all.contains(m)));
            let scored = c.zwords(&format!("ZRANDMEMBER z -{count} WITHSCORES"));
            assert_eq!(scored.len(), 2 * count);
            for pair in scored.chunks(2) {
                assert_eq!(pair[0], format!("m{}", pair[1]), "its own score");
            }
        }
        let many: HashSet<String> = c.zwords("ZRANDMEMBER z -3000").into_iter().collect();
        assert_eq!(many, all, "every member comes up");
        assert_eq!(c.changes(), before);
        assert_eq!(c.zint("ZCARD z"), 40);
        match c.run("ZRANDMEMBER z -9223372036854775807") {
            Reply::Error(e) => assert!(e.to_string().starts_with("ERR count is too large")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zscan_of_a_skiplist_visits_every_member_once_over_many_calls() {
        let mut c = Client::new();
        let mut line = String::from("ZADD z");
        for i in 0..1000 {
            line.push_str(&format!(" {i}.5 m{i}"));
        }
        c.zint(&line);
        assert_eq!(word(c.run("OBJECT ENCODING z")), "skiplist");
        let mut seen = BTreeMap::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let Reply::Array(parts) = c.run(&format!("ZSCAN z {cursor} COUNT 50")) else {
                panic!("not an array");
            };
            let mut parts = parts.into_iter();
            cursor = word(parts.next().unwrap());
            let Some(Reply::Array(items)) = parts.next() else {
                panic!("no items");
            };
            let items: Vec<String> = items.into_iter().map(word).collect();
            for pair in items.chunks(2) {
                seen.insert(pair[0].clone(), pair[1].clone());
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 1, "a skiplist is scanned in steps");
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen["m7"], "7.5");
    }

    /// A sorted set as the model keeps it: member -> score, and the order
    /// (score, member) derived from it.
    #[derive(Default)]
    struct Model(BTreeMap<Vec<u8>, f64>);

    impl Model {
        fn ordered(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<_> = self.0.iter().map(|(m, s)| (m.clone(), *s)).collect();
            v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            v
        }
    }

    #[test]
    fn commands_agree_with_a_simple_model_over_random_operations() {
        // Small limits, so the set crosses from listpack to skiplist.
        let mut c = Client::new();
        c.run("CONFIG SET zset-max-listpack-entries 16");
        let mut model = Model::default();
        let mut rng = crate::value::random::TestRng(0x5eed_2026);
        let mut draw = |n: usize| rng.below(n);
        for step in 0..6000 {
            let member = format!("m{}", draw(60));
            let score = (draw(41) as f64 - 20.0) / 4.0;
            match draw(8) {
                0..=2 => {
                    let new = !model.0.contains_key(member.as_bytes());
                    assert_eq!(c.zint(&format!("ZADD z {score} {member}")), i64::from(new));
                    model.0.insert(member.clone().into_bytes(), score);
                }
                3 => {
                    let got = word(c.run(&format!("ZINCRBY z {score} {member}")));
                    let s = model.0.entry(member.clone().into_bytes()).or_insert(0.0);
                    *s += score;
                    assert_eq!(got, format_double(*s));
                }
                4 => {
                    let had = model.0.remove(member.as_bytes()).is_some();
                    assert_eq!(c.zint(&format!("ZREM z {member}")), i64::from(had));
                }
                5 => {
                    let (lo, hi) = (score, score + draw(8) as f64);
                    let expected: Vec<String> = model
                        .ordered()
                        .into_iter()
                        .filter(|(_, s)| *s > lo && *s <= hi)
                        .map(|(m, _)| String::from_utf8(m).unwrap())
                        .collect();
                    let got = c.zwords(&format!("ZRANGEBYSCORE z ({lo} {hi}"));
                    assert_eq!(got, expected, "step {step}");
                    assert_eq!(
                        c.zint(&format!("ZCOUNT z ({lo} {hi}")),
                        expected.len() as i64
                    );
                }
                6 => {
                    let ordered = model.ordered();
                    let rank = ordered.iter().position(|(m, _)| m == member.as_bytes());
                    let got = c.run(&format!("ZREVRANK z {member}"));
                    match (rank, got) {
                        (None, Reply::Nil) => {}
                        (Some(r), Reply::Integer(n)) => {
                            assert_eq!(n as usize, ordered.len() - 1 - r, "step {step}")
                        }
                        (r, got) => panic!("step {step}: {r:?} {got:?}"),
                    }
                }
                _ => {
                    let (start, stop) = (draw(10) as i64 - 5, draw(10) as i64 - 3);
                    let ordered = model.ordered();
                    let expected: Vec<String> = match clamp_ranks(start, stop, ordered.len()) {
                        None => Vec::new(),
                        Some((a, b)) => ordered[a..=b]
                            .iter()
                            .flat_map(|(m, s)| {
                                [String::from_utf8(m.clone()).unwrap(), format_double(*s)]
                            })
                            .collect(),
                    };
                    let got = c.zwords(&format!("ZRANGE z {start} {stop} WITHSCORES"));
                    assert_eq!(got, expected, "step {step}");
                }
            }
            assert_eq!(c.zint("ZCARD z"), model.0.len() as i64, "step {step}");
        }
    }

    #[test]
    fn scores_parse_as_strtod_reads_the_whole_argument() {
        for (text, value) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+.5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("inf", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
            ("0x10", 16.0),
            ("0X1p-2", 0.25),
            ("-0x.8", -0.5),
            ("0e-400", 0.0),
        ] {
            assert_eq!(parse_score(text.as_bytes()), Some(value), "{text}");
        }
        assert!(parse_score(b"1e-310").is_some_and(|v| v > 0.0));
        assert!(parse_score(b"-0").is_some_and(|v| v == 0.0 && v.is_sign_negative()));
        for bad in [
            "", " 1", "1 ", "abc", "nan", "NaN", "-nan", "1e400", "-1e400", "1e-400", "1e", "1e+",
            ".", "+", "0x", "infx", "1.2.3", "0x1p", "\t1",
        ] {
            assert_eq!(parse_score(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn range_bounds_parse_as_redis_range_parser_reads_them() {
        assert_eq!(parse_bound(b"(1.5"), Some((1.5, true)));
        assert_eq!(parse_bound(b"2"), Some((2.0, false)));
        assert_eq!(parse_bound(b"-inf"), Some((f64::NEG_INFINITY, false)));
        assert_eq!(parse_bound(b"(+inf"), Some((f64::INFINITY, true)));
        // What Redis lets through: nothing (0), leading space, overflow, hex.
        assert_eq!(parse_bound(b""), Some((0.0, false)));
        assert_eq!(parse_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_bound(b" 2"), Some((2.0, false)));
        assert_eq!(parse_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_bound(b"0x2"), Some((2.0, false)));
        for bad in ["a", "(a", "nan", "(nan", "1 ", " ", "((1", "[1"] {
            assert_eq!(parse_bound(bad.as_bytes()), None, "{bad:?}");
        }
        assert!(score_range(b"1", b"(x").is_err());
    }

    #[test]
    fn lex_bounds_are_dash_plus_or_bracketed() {
        assert_eq!(lex_bound(b"-"), Some(LexBound::Min));
        assert_eq!(lex_bound(b"+"), Some(LexBound::Max));
        assert_eq!(lex_bound(b"[a"), Some(LexBound::Inclusive(b"a".to_vec())));
        assert_eq!(lex_bound(b"("), Some(LexBound::Exclusive(Vec::new())));
        for bad in ["", "a", "--", "++", "-a", "+a"] {
            assert_eq!(lex_bound(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn packed_scores_print_integers_whole_as_d2string_does() {
        assert_eq!(packed_score_text(1e17), "100000000000000000");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(packed_score_text(1.5), "1.5");
        assert_eq!(packed_score_text(0.1), "0.10000000000000001");
        assert_eq!(packed_score_text(-0.0), "-0");
        assert_eq!(packed_score_text(f64::INFINITY), "inf");
        assert_eq!(packed_score_text(1e19), "1e+19");
    }

    #[test]
    fn ranks_clamp_as_redis_clamps_them() {
        assert_eq!(clamp_ranks(0, -1, 4), Some((0, 3)));
        assert_eq!(clamp_ranks(-100, 100, 4), Some((0, 3)));
        assert_eq!(clamp_ranks(-2, -1, 4), Some((2, 3)));
        assert_eq!(clamp_ranks(3, 1, 4), None);
        assert_eq!(clamp_ranks(4, 10, 4), None);
        assert_eq!(clamp_ranks(0, -5, 4), None);
        assert_eq!(clamp_ranks(0, 0, 0), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn sums_of_opposite_infinities_are_zero_and_nan_never_wins() {
        let mut t = f64::INFINITY;
        aggregate(&mut t, f64::NEG_INFINITY, Aggregate::Sum);
        assert_eq!(t, 0.0);
        let mut t = 1.0;
        aggregate(&mut t, f64::NAN, Aggregate::Min);
        assert_eq!(t, 1.0);
        aggregate(&mut t, f64::NAN, Aggregate::Max);
        assert_eq!(t, 1.0);
        aggregate(&mut t, 0.5, Aggregate::Min);
        assert_eq!(t, 0.5);
    }
}
