//! Set commands: membership, random picks, moves, the algebra of
//! intersections, unions and differences (and their `*STORE` forms), and
//! `SSCAN`, with Redis 7.0's replies, error texts and order of checks.
//!
//! Every change goes through [`Context::edit`], named as Redis names its
//! keyspace event, with a replay command that does the same again (`SPOP`
//! replays as the `SREM` of what it popped, as Redis propagates it); a
//! `*STORE` stores its computed set whole with
//! [`DbWriter::put_value`](crate::keyspace::DbWriter::put_value), and an
//! empty result deletes the destination. A write that would change nothing
//! (an `SADD` of members all present, an `SREM` of none) is not an edit, so
//! it breaks no `WATCH`, as in Redis; that is checked under the same write
//! guard as the edit.
//!
//! Reads build their reply under the read guard, copying the members' bytes
//! out, and keep no clone of a set's entry past it (a clone alive would make
//! the next edit copy the whole set). Random picks draw from [`Seeds`]
//! seeded per command.

use super::keys::parse_cursor;
use super::{
    Access, Args, CommandResult, CommandSpec, Context, MOST_RANDOM_REPLY_BYTES, collection_of,
    is_word, parse_int, replay,
};
use crate::error::CommandError;
use crate::glob;
use crate::keyspace::{Db, Event};
use crate::protocol::{Bytes, Reply};
use crate::value::set::{self, Element, Seeds};
use crate::value::{Encodings, Set, SetRef, Value};

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, Access::Write, sadd)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("srem", -3, Access::Write, srem).keys(1, 1, 1),
    CommandSpec::new("smembers", 2, Access::Read, smembers).keys(1, 1, 1),
    CommandSpec::new("sismember", 3, Access::Read, sismember).keys(1, 1, 1),
    CommandSpec::new("smismember", -3, Access::Read, smismember).keys(1, 1, 1),
    CommandSpec::new("scard", 2, Access::Read, scard).keys(1, 1, 1),
    CommandSpec::new("spop", -2, Access::Write, spop).keys(1, 1, 1),
    CommandSpec::new("srandmember", -2, Access::Read, srandmember).keys(1, 1, 1),
    CommandSpec::new("smove", 4, Access::Write, smove).keys(1, 2, 1),
    CommandSpec::new("sinter", -2, Access::Read, sinter).keys(1, -1, 1),
    // Its keys follow a count, which Redis's first/last/step cannot say:
    // it reports 0, 0, 0.
    CommandSpec::new("sintercard", -3, Access::Read, sintercard),
    CommandSpec::new("sinterstore", -3, Access::Write, sinterstore)
        .grows()
        .keys(1, -1, 1),
    CommandSpec::new("sunion", -2, Access::Read, sunion).keys(1, -1, 1),
    CommandSpec::new("sunionstore", -3, Access::Write, sunionstore)
        .grows()
        .keys(1, -1, 1),
    CommandSpec::new("sdiff", -2, Access::Read, sdiff).keys(1, -1, 1),
    CommandSpec::new("sdiffstore", -3, Access::Write, sdiffstore)
        .grows()
        .keys(1, -1, 1),
    CommandSpec::new("sscan", -3, Access::Read, sscan).keys(1, 1, 1),
];

/// What each member of a repeated random reply is counted as besides its
/// bytes, against [`MOST_RANDOM_REPLY_BYTES`].
const REPLY_OVERHEAD: usize = 64;

/// A member's bytes as a bulk reply (copied out of the set).
fn member_reply(member: Element<'_>) -> Reply {
    Reply::Bulk(Bytes::Owned(member.to_vec()))
}

/// The sets at `keys` (`None` for a missing key), looked up in order:
/// `WRONGTYPE` if any of them, missing ones before it included, holds
/// another type, as Redis checks every key before it answers.
fn sets_at<'d>(
    db: &'d Db,
    keys: &[&[u8]],
    now: u64,
) -> Result<Vec<Option<SetRef<'d>>>, CommandError> {
    keys.iter()
        .map(|key| collection_of::<Set>(db.get(key, now)))
        .collect()
}

/// Counts `found` keyspace hits and `looked - found` misses.
fn count_lookups(ctx: &mut Context<'_>, looked: usize, found: usize) {
    for i in 0..looked {
        ctx.count_lookup(i < found);
    }
}

/// `SADD key member [member ...]`: how many were new.
fn sadd(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, members) = (argv[1], &argv[2..]);
    let now = ctx.now;
    if let Some(set) = collection_of::<Set>(ctx.write().get_live(key, now))? {
        if members.iter().all(|m| set.contains(m)) {
            return Ok(Reply::Integer(0));
        }
    }
    let added = ctx.edit::<Set, _>(
        key,
        true,
        "sadd",
        |set, limits| members.iter().filter(|m| set.insert(m, limits)).count(),
        |_| replay(b"SADD", key, members.iter().copied()),
    )?;
    Ok(Reply::Integer(added.unwrap_or(0) as i64))
}

/// `SREM key member [member ...]`: how many were removed. The last one
/// removed deletes the key.
fn srem(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, members) = (argv[1], &argv[2..]);
    let now = ctx.now;
    {
        let mut db = ctx.write();
        let set = collection_of::<Set>(db.get_live(key, now))?;
        if !set.is_some_and(|set| members.iter().any(|m| set.contains(m))) {
            return Ok(Reply::Integer(0));
        }
    }
    let removed = ctx.edit::<Set, _>(
        key,
        false,
        "srem",
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
        |_| replay(b"SREM", key, members.iter().copied()),
    )?;
    Ok(Reply::Integer(removed.unwrap_or(0)))
}

/// `SMEMBERS key`: every member, as a set (`~` in RESP3).
fn smembers(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (members, found) = {
        let db = ctx.read();
        match collection_of::<Set>(db.get(argv[1], ctx.now))? {
            Some(set) => (set.elements().map(member_reply).collect(), true),
            None => (Vec::new(), false),
        }
    };
    ctx.count_lookup(found);
    Ok(Reply::Set(members))
}

/// `SISMEMBER key member`: 1 or 0.
fn sismember(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (is_member, found) = {
        let db = ctx.read();
        let set = collection_of::<Set>(db.get(argv[1], ctx.now))?;
        (set.is_some_and(|s| s.contains(argv[2])), set.is_some())
    };
    ctx.count_lookup(found);
    Ok(Reply::Integer(i64::from(is_member)))
}

/// `SMISMEMBER key member [member ...]`: 1 or 0 for each; a missing key
/// is an empty set.
fn smismember(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (answers, found) = {
        let db = ctx.read();
        let set = collection_of::<Set>(db.get(argv[1], ctx.now))?;
        let answers = argv[2..]
            .iter()
            .map(|m| Reply::Integer(i64::from(set.is_some_and(|s| s.contains(m)))))
            .collect();
        (answers, set.is_some())
    };
    ctx.count_lookup(found);
    Ok(Reply::Array(answers))
}

/// `SCARD key`: how many members (0 for a missing key).
fn scard(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let len = {
        let db = ctx.read();
        collection_of::<Set>(db.get(argv[1], ctx.now))?.map(SetRef::len)
    };
    ctx.count_lookup(len.is_some());
    Ok(Reply::Integer(len.unwrap_or(0) as i64))
}

/// Reads a count that must be 0 or more: any other argument, an integer
/// or not, is `ERR value is out of range, must be positive`, as Redis words
/// it.
fn positive_count(arg: &[u8]) -> Result<usize, CommandError> {
    parse_int(arg)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CommandError::other("ERR value is out of range, must be positive"))
}

/// `SPOP key [count]`: a random member removed (nil if none); with a
/// count, that many distinct ones as a set (`~` in RESP3), empty for a
/// missing key or a count of 0.
fn spop(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let key = argv[1];
    let count = match argv {
        [_, _] => None,
        [_, _, count] => Some(positive_count(count)?),
        _ => return Err(CommandError::Syntax),
    };
    let mut seeds = Seeds::new(ctx.random_seed());
    let Some(count) = count else {
        let popped = ctx.edit::<Set, _>(
            key,
            false,
            "spop",
            |set, _| set.pop_random(seeds.draw()),
            |popped| replay(b"SREM", key, popped.as_deref()),
        )?;
        return Ok(popped
            .flatten()
            .map_or(Reply::Nil, |m| Reply::Bulk(Bytes::Owned(m))));
    };
    let now = ctx.now;
    let exists = collection_of::<Set>(ctx.write().get_live(key, now))?.is_some();
    if !exists || count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let popped = ctx.edit::<Set, _>(
        key,
        false,
        "spop",
        |set, limits| set.pop_many(count, &mut seeds, limits),
        |popped| replay(b"SREM", key, popped.iter().map(Vec::as_slice)),
    )?;
    let members = popped.unwrap_or_default();
    Ok(Reply::Set(
        members
            .into_iter()
            .map(|m| Reply::Bulk(Bytes::Owned(m)))
            .collect(),
    ))
}

/// `SRANDMEMBER key [count]`: a random member (nil if none); with a
/// positive count that many distinct ones, with a negative one that many
/// picks that may repeat, as an array (empty for a missing key or 0).
fn srandmember(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let count = match argv {
        [_, _] => None,
        [_, _, count] => Some(parse_int(count)?),
        _ => return Err(CommandError::Syntax),
    };
    if count == Some(i64::MIN) {
        return Err(CommandError::other(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let mut seeds = Seeds::new(ctx.random_seed());
    let (reply, found) = {
        let db = ctx.read();
        let set = collection_of::<Set>(db.get(argv[1], ctx.now))?;
        let reply = match (set, count) {
            (None, None) => Reply::Nil,
            (None, Some(_)) => Reply::Array(Vec::new()),
            (Some(set), None) => set.random(seeds.draw()).map_or(Reply::Nil, member_reply),
            (Some(set), Some(n)) => Reply::Array(random_members(set, n, &mut seeds)?),
        };
        (reply, set.is_some())
    };
    ctx.count_lookup(found);
    Ok(reply)
}

/// `SRANDMEMBER`'s members for a count of `n` (not `i64::MIN`): distinct
/// ones for `n` > 1, `|n|` independent picks otherwise, as Redis chooses.
fn random_members(set: SetRef<'_>, n: i64, seeds: &mut Seeds) -> Result<Vec<Reply>, CommandError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if n > 1 {
        let count = usize::try_from(n).unwrap_or(usize::MAX);
        let picked = set.sample_distinct(count, seeds);
        return Ok(picked.into_iter().map(member_reply).collect());
    }
    let too_large = || {
        CommandError::other(format!(
            "ERR count is too large: the reply would exceed {MOST_RANDOM_REPLY_BYTES} bytes"
        ))
    };
    let picks = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
    if picks > MOST_RANDOM_REPLY_BYTES / REPLY_OVERHEAD {
        return Err(too_large());
    }
    let mut replies = Vec::with_capacity(picks.min(4096));
    let mut bytes = 0usize;
    for _ in 0..picks {
        let Some(member) = set.random(seeds.draw()) else {
            break;
        };
        let reply = member_reply(member);
        if let Reply::Bulk(b) = &reply {
            bytes += REPLY_OVERHEAD + b.as_slice().len();
        }
        if bytes > MOST_RANDOM_REPLY_BYTES {
            return Err(too_large());
        }
        replies.push(reply);
    }
    Ok(replies)
}

/// `SMOVE source destination member`: 1 if `member` was moved (or is in
/// `source` when it is also the destination), 0 if not in `source`.
fn smove(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (src, dst, member) = (argv[1], argv[2], argv[3]);
    let now = ctx.now;
    let in_target = {
        let mut db = ctx.write();
        // Found past its deadline, each is removed, as any write does.
        db.get_live(src, now);
        db.get_live(dst, now);
        // A missing source answers 0 before any type is checked.
        let Some(source) = db.get(src, now) else {
            return Ok(Reply::Integer(0));
        };
        let source = collection_of::<Set>(Some(source))?;
        let target = collection_of::<Set>(db.get(dst, now))?;
        let in_source = source.is_some_and(|s| s.contains(member));
        if src == dst || !in_source {
            return Ok(Reply::Integer(i64::from(in_source)));
        }
        target.is_some_and(|t| t.contains(member))
    };
    ctx.edit::<Set, _>(
        src,
        false,
        "srem",
        |set, _| set.remove(member),
        |_| replay(b"SREM", src, [member]),
    )?;
    // A destination that holds the member already is not changed.
    if !in_target {
        ctx.edit::<Set, _>(
            dst,
            true,
            "sadd",
            |set, limits| set.insert(member, limits),
            |_| replay(b"SADD", dst, [member]),
        )?;
    }
    Ok(Reply::Integer(1))
}

/// `SINTER key [key ...]`: the members in every set, as a set (`~` in
/// RESP3), in the smallest set's order; empty if any key is missing.
fn sinter(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let keys = &argv[1..];
    let (members, found) = {
        let db = ctx.read();
        let sets = sets_at(&db, keys, ctx.now)?;
        let mut members = Vec::new();
        set::intersect(&sets, |e| {
            members.push(member_reply(e));
            true
        });
        (members, sets.iter().flatten().count())
    };
    count_lookups(ctx, keys.len(), found);
    Ok(Reply::Set(members))
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: how many members are
/// in every set, counting stopped at `limit` if it is not 0.
fn sintercard(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let numkeys = args.next_with(|arg| {
        parse_int(arg)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| CommandError::other("ERR numkeys should be greater than 0"))
    })?;
    if numkeys > args.remaining() {
        return Err(CommandError::other(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys = args.next_many(numkeys)?;
    let mut limit = 0;
    while let Some(option) = args.next() {
        if !is_word(option, "limit") || args.is_empty() {
            return Err(CommandError::Syntax);
        }
        limit = args.next_with(|arg| {
            parse_int(arg)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| CommandError::other("ERR LIMIT can't be negative"))
        })?;
    }
    let (cardinality, found) = {
        let db = ctx.read();
        let sets = sets_at(&db, keys, ctx.now)?;
        let mut cardinality = 0usize;
        set::intersect(&sets, |_| {
            cardinality += 1;
            limit == 0 || cardinality < limit
        });
        (cardinality, sets.iter().flatten().count())
    };
    count_lookups(ctx, keys.len(), found);
    Ok(Reply::Integer(cardinality as i64))
}

/// `SUNION key [key ...]`: the members of any set, as a set (`~` in RESP3).
fn sunion(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    combine(ctx, &argv[1..], set::union)
}

/// `SDIFF key [key ...]`: the members of the first set in no other, as a
/// set (`~` in RESP3).
fn sdiff(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    combine(ctx, &argv[1..], set::difference)
}

/// An operation computing a new set from sets (`None` for a missing key).
type Combine = fn(&[Option<SetRef<'_>>], &Encodings) -> Set;

/// `SUNION` and `SDIFF`: the set `op` computes from the sets at `keys`,
/// under the read guard, replied in its own order (ascending when it is an
/// intset, as Redis's is).
fn combine(ctx: &mut Context<'_>, keys: &[&[u8]], op: Combine) -> CommandResult {
    let limits = ctx.encodings();
    let (members, found) = {
        let db = ctx.read();
        let sets = sets_at(&db, keys, ctx.now)?;
        let result = op(&sets, &limits);
        let members = result.as_ref().elements().map(member_reply).collect();
        (members, sets.iter().flatten().count())
    };
    count_lookups(ctx, keys.len(), found);
    Ok(Reply::Set(members))
}

/// `SINTER`'s result as a new set.
fn intersection(sets: &[Option<SetRef<'_>>], limits: &Encodings) -> Set {
    let mut out = Set::new();
    set::intersect(sets, |e| {
        out.insert_element(e, limits);
        true
    });
    out
}

/// `SINTERSTORE destination key [key ...]`
fn sinterstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    store(ctx, argv, "sinterstore", intersection)
}

/// `SUNIONSTORE destination key [key ...]`
fn sunionstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    store(ctx, argv, "sunionstore", set::union)
}

/// `SDIFFSTORE destination key [key ...]`
fn sdiffstore(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    store(ctx, argv, "sdiffstore", set::difference)
}

/// The `*STORE` commands: computes `op` over the sets at `argv[2..]` and
/// stores the result at `argv[1]`, replacing whatever it held (deadline
/// included), or deletes it if the result is empty. Read and written under
/// one write guard, so nothing comes between. The reply is the result's
/// size.
fn store(ctx: &mut Context<'_>, argv: &[&[u8]], event: &'static str, op: Combine) -> CommandResult {
    let (dst, keys) = (argv[1], &argv[2..]);
    let (now, limits) = (ctx.now, ctx.encodings());
    let result = {
        let db = ctx.write();
        let sets = sets_at(&db, keys, now)?;
        op(&sets, &limits)
    };
    let len = result.len();
    ctx.write()
        .put_value(dst, Value::Set(result), 0, now, Event::Edited(event));
    Ok(Reply::Integer(len as i64))
}

/// `SSCAN`'s options.
struct ScanOptions<'a> {
    /// Members visited per call, about.
    count: usize,
    /// Only members matching it are returned (`*` matches all: `None`).
    pattern: Option<&'a [u8]>,
}

/// Parses `[MATCH pattern] [COUNT count]` in any order, the last of each
/// counting, as Redis does.
fn scan_options<'a>(opts: &'a [&'a [u8]]) -> Result<ScanOptions<'a>, CommandError> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
    };
    let mut args = Args::over(opts);
    while let Some(option) = args.next() {
        if is_word(option, "count") && !args.is_empty() {
            o.count = match args.next_int()? {
                n if n < 1 => return Err(CommandError::Syntax),
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
        } else if is_word(option, "match") && !args.is_empty() {
            o.pattern = Some(args.next_bytes()?).filter(|p| *p != b"*");
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(o)
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and
/// the members visited that match. An intset comes whole in one call, with
/// cursor 0. As in Redis the cursor is checked first, then the key, and
/// only then the options (a missing key answers an empty scan whatever
/// they are).
fn sscan(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let cursor = parse_cursor(argv[2])?;
    let options = scan_options(&argv[3..]);
    let (next, members, found) = {
        let db = ctx.read();
        match collection_of::<Set>(db.get(argv[1], ctx.now))? {
            None => (0, Vec::new(), false),
            Some(set) => {
                let ScanOptions { count, pattern } = options?;
                let mut members = Vec::new();
                let next = set.scan(cursor, count, |e| {
                    e.with_bytes(|b| {
                        if pattern.is_none_or(|p| glob::matches(p, b)) {
                            members.push(Reply::bulk(b));
                        }
                    });
                });
                (next, members, true)
            }
        }
    };
    ctx.count_lookup(found);
    Ok(Reply::Array(vec![
        Reply::text(next.to_string()),
        Reply::Array(members),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_client::Client;
    use std::collections::HashSet;

    impl Client {
        fn int(&mut self, line: &str) -> i64 {
            match self.run(line) {
                Reply::Integer(n) => n,
                other => panic!("{line}: {other:?}"),
            }
        }

        /// The members of a set or array reply, and whether it was a set.
        fn members(&mut self, line: &str) -> (Vec<Vec<u8>>, bool) {
            let (items, is_set) = match self.run(line) {
                Reply::Set(items) => (items, true),
                Reply::Array(items) => (items, false),
                other => panic!("{line}: {other:?}"),
            };
            let bytes = items
                .into_iter()
                .map(|r| match r {
                    Reply::Bulk(b) => b.as_slice().to_vec(),
                    other => panic!("{line}: {other:?}"),
                })
                .collect();
            (bytes, is_set)
        }
    }

    fn distinct(members: &[Vec<u8>]) -> HashSet<Vec<u8>> {
        let set: HashSet<Vec<u8>> = members.iter().cloned().collect();
        assert_eq!(set.len(), members.len(), "a member twice: {members:?}");
        set
    }

    /// `SADD key` of `n` members (every third a string), as a command line.
    fn sadd(key: &str, n: usize) -> String {
        let mut line = format!("SADD {key}");
        for i in 0..n {
            if i % 3 == 2 {
                line.push_str(&format!(" m{i}"));
            } else {
                line.push_str(&format!(" {i}"));
            }
        }
        line
    }

    #[test]
    fn spop_with_a_count_pops_distinct_members_of_the_set_by_every_strategy() {
        let mut c = Client::new();
        for size in [1, 2, 6, 30] {
            for count in [1, 2, 5, 6, 7, 25, 29, 30, 31] {
                c.run("DEL s");
                c.int(&sadd("s", size));
                let (all, _) = c.members("SMEMBERS s");
                let all = distinct(&all);
                let (popped, is_set) = c.members(&format!("SPOP s {count}"));
                assert!(is_set, "SPOP with a count replies a set");
                let popped = distinct(&popped);
                assert_eq!(popped.len(), count.min(size), "{size} {count}");
                let (left, _) = c.members("SMEMBERS s");
                let left = distinct(&left);
                assert!(popped.is_disjoint(&left));
                assert_eq!(&popped | &left, all);
                assert_eq!(c.int("EXISTS s"), i64::from(count < size));
            }
        }
    }

    #[test]
    fn srandmember_picks_members_without_changing_the_set() {
        let mut c = Client::new();
        c.int(&sadd("s", 40));
        let (all, _) = c.members("SMEMBERS s");
        let all = distinct(&all);
        let before = c.changes();
        for count in [1, 2, 13, 14, 39, 40, 41] {
            let (picked, is_set) = c.members(&format!("SRANDMEMBER s {count}"));
            assert!(!is_set, "SRANDMEMBER replies an array");
            let picked = distinct(&picked);
            assert_eq!(picked.len(), count.min(40));
            assert!(picked.is_subset(&all));
            let (repeats, _) = c.members(&format!("SRANDMEMBER s -{count}"));
            assert_eq!(repeats.len(), count);
            assert!(repeats.iter().all(|m| all.contains(m)));
        }
        let (many, _) = c.members("SRANDMEMBER s -2000");
        let seen: HashSet<Vec<u8>> = many.into_iter().collect();
        assert_eq!(seen, all, "every member comes up");
        assert_eq!(c.changes(), before);
        assert_eq!(c.int("SCARD s"), 40);
    }

    #[test]
    fn a_negative_count_too_large_for_one_reply_is_refused() {
        let mut c = Client::new();
        c.int("SADD s a");
        for count in ["-9223372036854775807", "-16777217"] {
            match c.run(&format!("SRANDMEMBER s {count}")) {
                Reply::Error(e) => assert!(e.to_string().starts_with("ERR count is too large")),
                other => panic!("{count}: {other:?}"),
            }
        }
        let (few, _) = c.members("SRANDMEMBER s -3");
        assert_eq!(few, [b"a", b"a", b"a"]);
    }

    #[test]
    fn only_writes_that_change_a_set_count_as_changes() {
        let mut c = Client::new();
        c.int("SADD s a b");
        c.int("SADD t b");
        let changed = |c: &mut Client, line: &str| {
            let before = c.changes();
            c.run(line);
            c.changes() - before
        };
        assert_eq!(changed(&mut c, "SADD s a"), 0);
        assert_eq!(changed(&mut c, "SREM s zz"), 0);
        assert_eq!(changed(&mut c, "SREM nope a"), 0);
        assert_eq!(changed(&mut c, "SMOVE s s a"), 0);
        assert_eq!(changed(&mut c, "SMOVE s t zz"), 0);
        assert_eq!(changed(&mut c, "SPOP s 0"), 0);
        assert_eq!(changed(&mut c, "SPOP nope"), 0);
        assert_eq!(changed(&mut c, "SINTERSTORE none nope"), 0);
        assert_eq!(changed(&mut c, "SADD s c"), 1);
        // Moved onto a set holding it: only the source changes.
        assert_eq!(changed(&mut c, "SMOVE s t b"), 1);
        assert_eq!(changed(&mut c, "SMOVE s t a"), 2);
        assert_eq!(changed(&mut c, "SUNIONSTORE u s t"), 1);
        // The last member popped: the pop, then the deletion.
        assert_eq!(changed(&mut c, "SPOP s"), 2);
        assert_eq!(c.int("EXISTS s"), 0);
    }
}
