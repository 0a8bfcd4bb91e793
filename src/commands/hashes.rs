//! Hash commands: `HSET` and its kin, field reads, whole-hash reads,
//! increments, random fields and `HSCAN`, as Redis 7.0 answers them.
//!
//! Reads take one read guard and build their whole reply under it,
//! copying the bytes they answer: a reply never holds a clone of a
//! collection's entry (one alive would make the next edit copy the whole
//! collection). Every read counts its lookup for `INFO` (a key of another
//! type is a hit, then `WRONGTYPE`, as in Redis).
//!
//! Every write goes through [`Context::edit`], which reaches the commit
//! point with Redis's keyspace event name (`hset`, `hdel`, `hincrby`,
//! `hincrbyfloat`) and a deterministic command to replay (the command as
//! sent; `HINCRBYFLOAT` as the `HSET` of its result, as Redis propagates
//! it). A write that would change nothing (`HSETNX` of a field already
//! set, `HDEL` of absent fields, a refused increment) looks first, under
//! the same write guard, and then does not edit: it is no change, so
//! `WATCH`, the change count and the log never see it, as in Redis.
//!
//! What the value layer does ([`value::hash`](crate::value::hash)) stays
//! there: this module parses, looks up and replies. It must never keep a
//! guard past building its reply, and never do work proportional to a
//! hash's size unless the reply is (`HGETALL`, `HKEYS`, `HVALS`, a count
//! as large as the hash); a reply of random fields with repeats is held
//! to [`MOST_RANDOM_REPLY_BYTES`].

use super::keys::parse_cursor;
use super::{
    Access, Args, CommandResult, CommandSpec, Context, MOST_RANDOM_REPLY_BYTES, collection_of,
    is_word, parse_int, replay,
};
use crate::error::CommandError;
use crate::glob;
use crate::protocol::Reply;
use crate::value::long_double::LongDouble;
use crate::value::{Hash, HashRef};

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, Access::Write, hset)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("hsetnx", 4, Access::Write, hsetnx)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("hmset", -4, Access::Write, hset)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("hget", 3, Access::Read, hget).keys(1, 1, 1),
    CommandSpec::new("hmget", -3, Access::Read, hmget).keys(1, 1, 1),
    CommandSpec::new("hdel", -3, Access::Write, hdel).keys(1, 1, 1),
    CommandSpec::new("hlen", 2, Access::Read, hlen).keys(1, 1, 1),
    CommandSpec::new("hstrlen", 3, Access::Read, hstrlen).keys(1, 1, 1),
    CommandSpec::new("hexists", 3, Access::Read, hexists).keys(1, 1, 1),
    CommandSpec::new("hgetall", 2, Access::Read, hgetall).keys(1, 1, 1),
    CommandSpec::new("hkeys", 2, Access::Read, hkeys).keys(1, 1, 1),
    CommandSpec::new("hvals", 2, Access::Read, hvals).keys(1, 1, 1),
    CommandSpec::new("hincrby", 4, Access::Write, hincrby)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("hincrbyfloat", 4, Access::Write, hincrbyfloat)
        .grows()
        .keys(1, 1, 1),
    CommandSpec::new("hrandfield", -2, Access::Read, hrandfield).keys(1, 1, 1),
    CommandSpec::new("hscan", -3, Access::Read, hscan).keys(1, 1, 1),
];

/// What one element of a reply costs besides its bytes: the `Reply`, its
/// buffer's allocation and its RESP header.
const REPLY_ELEMENT_BYTES: usize = 96;

/// Runs `answer` on the hash at `key` under one read guard (`None` for no
/// key, `WRONGTYPE` for another type) and counts the lookup.
fn read_hash(
    ctx: &mut Context<'_>,
    key: &[u8],
    answer: impl FnOnce(Option<HashRef<'_>>) -> CommandResult,
) -> CommandResult {
    let (hit, result) = {
        let db = ctx.read();
        let entry = db.get(key, ctx.now);
        (
            entry.is_some(),
            collection_of::<Hash>(entry).and_then(answer),
        )
    };
    ctx.count_lookup(hit);
    result
}

/// Runs `look` on the hash at `key` under the command's write guard
/// (taken now, and kept for the edit that may follow), to decide whether
/// the command changes anything.
fn look_for_write<T>(
    ctx: &mut Context<'_>,
    key: &[u8],
    look: impl FnOnce(Option<HashRef<'_>>) -> T,
) -> Result<T, CommandError> {
    let now = ctx.now;
    let mut db = ctx.write();
    Ok(look(collection_of::<Hash>(db.get_live(key, now))?))
}

/// `HSET key field value [field value ...]`: the fields that are new;
/// `HMSET`, the same with `OK`.
fn hset(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let hmset = !argv[0].eq_ignore_ascii_case(b"hset");
    if argv.len() % 2 != 0 {
        let name = if hmset { "hmset" } else { "hset" };
        return Err(CommandError::WrongArity(name.into()));
    }
    let (key, pairs) = (argv[1], &argv[2..]);
    let created = ctx
        .edit::<Hash, _>(
            key,
            true,
            "hset",
            |hash, limits| {
                pairs
                    .chunks_exact(2)
                    .filter(|pair| hash.set(pair[0], pair[1], limits))
                    .count()
            },
            |_| replay(argv[0], argv[1], argv[2..].iter().copied()),
        )?
        .unwrap_or(0);
    Ok(if hmset {
        Reply::Ok
    } else {
        Reply::Integer(created as i64)
    })
}

/// `HSETNX key field value`: 1 if the field was set, 0 if it had a value.
fn hsetnx(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, field, value) = (argv[1], argv[2], argv[3]);
    if look_for_write(ctx, key, |hash| hash.is_some_and(|h| h.contains(field)))? {
        return Ok(Reply::Integer(0));
    }
    ctx.edit::<Hash, _>(
        key,
        true,
        "hset",
        |hash, limits| hash.set(field, value, limits),
        |_| replay(argv[0], argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(1))
}

/// `HGET key field`: the value, or nil.
fn hget(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let field = argv[2];
    read_hash(ctx, argv[1], |hash| {
        Ok(hash
            .and_then(|h| h.get(field))
            .map_or(Reply::Nil, Reply::bulk))
    })
}

/// `HMGET key field [field ...]`: each value, or nil (all nil for no key).
fn hmget(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let fields = &argv[2..];
    read_hash(ctx, argv[1], |hash| {
        let value = |field: &&[u8]| hash.and_then(|h| h.get(field));
        Ok(Reply::Array(
            fields
                .iter()
                .map(|f| value(f).map_or(Reply::Nil, Reply::bulk))
                .collect(),
        ))
    })
}

/// `HDEL key field [field ...]`: how many were removed. The last one
/// removes the key.
fn hdel(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (key, fields) = (argv[1], &argv[2..]);
    let any = look_for_write(ctx, key, |hash| {
        hash.is_some_and(|h| fields.iter().any(|f| h.contains(f)))
    })?;
    if !any {
        return Ok(Reply::Integer(0));
    }
    let removed = ctx
        .edit::<Hash, _>(
            key,
            false,
            "hdel",
            |hash, _| fields.iter().filter(|f| hash.remove(f)).count(),
            |_| replay(argv[0], argv[1], argv[2..].iter().copied()),
        )?
        .unwrap_or(0);
    Ok(Reply::Integer(removed as i64))
}

/// `HLEN key`: the number of fields.
fn hlen(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    read_hash(ctx, argv[1], |hash| {
        Ok(Reply::Integer(hash.map_or(0, HashRef::len) as i64))
    })
}

/// `HSTRLEN key field`: the length of the value, 0 if absent.
fn hstrlen(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let field = argv[2];
    read_hash(ctx, argv[1], |hash| {
        Ok(Reply::Integer(hash.map_or(0, |h| h.value_len(field)) as i64))
    })
}

/// `HEXISTS key field`: 1 or 0.
fn hexists(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let field = argv[2];
    read_hash(ctx, argv[1], |hash| {
        Ok(Reply::Integer(i64::from(
            hash.is_some_and(|h| h.contains(field)),
        )))
    })
}

/// `HGETALL key`: a map of every field to its value (a flat array in
/// RESP2), in the hash's order.
fn hgetall(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    read_hash(ctx, argv[1], |hash| {
        let pairs = hash.map_or_else(Vec::new, |h| {
            h.iter()
                .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
                .collect()
        });
        Ok(Reply::Map(pairs))
    })
}

/// `HKEYS key`: every field.
fn hkeys(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    read_hash(ctx, argv[1], |hash| {
        Ok(Reply::Array(hash.map_or_else(Vec::new, |h| {
            h.iter().map(|(f, _)| Reply::bulk(f)).collect()
        })))
    })
}

/// `HVALS key`: every value.
fn hvals(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    read_hash(ctx, argv[1], |hash| {
        Ok(Reply::Array(hash.map_or_else(Vec::new, |h| {
            h.iter().map(|(_, v)| Reply::bulk(v)).collect()
        })))
    })
}

/// `HINCRBY key field increment`: the new value.
fn hincrby(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let by = parse_int(argv[3])?;
    let (key, field) = (argv[1], argv[2]);
    let sum = look_for_write(ctx, key, |hash| {
        hash.map_or(Ok(by), |h| h.int_after(field, by))
    })?
    .map_err(|e| CommandError::other(e.message()))?;
    ctx.edit::<Hash, _>(
        key,
        true,
        "hincrby",
        |hash, limits| hash.set(field, sum.to_string().as_bytes(), limits),
        |_| replay(argv[0], argv[1], argv[2..].iter().copied()),
    )?;
    Ok(Reply::Integer(sum))
}

/// `HINCRBYFLOAT key field increment`: the new value, computed and
/// printed in `long double` as Redis does, as a bulk string (in RESP3
/// too, as Redis 7.0 sends it).
fn hincrbyfloat(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let by = LongDouble::parse(argv[3]).ok_or(CommandError::NotFloat)?;
    if !by.is_finite() {
        return Err(CommandError::other("ERR value is NaN or Infinity"));
    }
    let (key, field) = (argv[1], argv[2]);
    let sum = look_for_write(ctx, key, |hash| {
        hash.map_or_else(|| Ok(by.to_human()), |h| h.float_after(field, by))
    })?
    .map_err(|e| CommandError::other(e.message()))?;
    ctx.edit::<Hash, _>(
        key,
        true,
        "hincrbyfloat",
        |hash, limits| hash.set(field, sum.as_bytes(), limits),
        |_| {
            vec![
                b"HSET".to_vec(),
                key.to_vec(),
                field.to_vec(),
                sum.clone().into_bytes(),
            ]
        },
    )?;
    Ok(Reply::text(sum))
}

/// `HRANDFIELD key [count [WITHVALUES]]`: a random field (nil for no key);
/// with a count, that many distinct fields (all, if fewer), or with a
/// negative count that many drawn with repeats; `WITHVALUES` pairs each
/// with its value (a flat array in RESP2, arrays of two in RESP3).
fn hrandfield(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let seed = ctx.random_seed();
    let key = argv[1];
    let Some(&count) = argv.get(2) else {
        return read_hash(ctx, key, |hash| {
            Ok(hash
                .and_then(|h| h.random(seed))
                .map_or(Reply::Nil, |(f, _)| Reply::bulk(f)))
        });
    };
    let count = match parse_int(count)? {
        i64::MIN => {
            return Err(CommandError::other(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        n => n,
    };
    let with_values = match argv.get(3) {
        None => false,
        Some(word) if argv.len() == 4 && is_word(word, "withvalues") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if with_values && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CommandError::other("ERR value is out of range"));
    }
    let nested = with_values && ctx.session.proto >= 3;
    read_hash(ctx, key, |hash| {
        let Some(hash) = hash.filter(|_| count != 0) else {
            return Ok(Reply::Array(Vec::new()));
        };
        let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let elements = if with_values { 2 * n } else { n };
        let mut reply = Vec::new();
        let mut add = |f: &[u8], v: &[u8]| match (with_values, nested) {
            (false, _) => reply.push(Reply::bulk(f)),
            (true, true) => reply.push(Reply::Array(vec![Reply::bulk(f), Reply::bulk(v)])),
            (true, false) => {
                reply.push(Reply::bulk(f));
                reply.push(Reply::bulk(v));
            }
        };
        if count > 0 {
            hash.distinct_random_pairs(n, seed, &mut add);
        } else {
            let pair_bytes = average_pair_bytes(hash);
            let per_element = REPLY_ELEMENT_BYTES + pair_bytes / if with_values { 2 } else { 1 };
            if elements.saturating_mul(per_element) > MOST_RANDOM_REPLY_BYTES {
                return Err(CommandError::other(
                    "ERR value is out of range: the reply would take more than 1 GiB",
                ));
            }
            hash.random_pairs(n, seed, &mut add);
        }
        Ok(Reply::Array(reply))
    })
}

/// About how many bytes a pair of `hash` holds: its encoding's bytes over
/// its fields (lengths and table overhead included), O(1).
fn average_pair_bytes(hash: HashRef<'_>) -> usize {
    let bytes = match hash {
        HashRef::Packed(p) => p.byte_len(),
        HashRef::Table(_) => hash.footprint(),
    };
    bytes / hash.len().max(1)
}

#[derive(Clone, Copy)]
enum ScanOption {
    Match,
    Count,
}

/// `HSCAN`'s options after the cursor: the `MATCH` pattern (unless it
/// matches everything) and `COUNT` (10 by default, at least 1); each may
/// repeat, the last counting.
pub(crate) fn scan_options<'a>(
    args: &'a [&'a [u8]],
) -> Result<(Option<&'a [u8]>, usize), CommandError> {
    let mut args = Args::over(args);
    let (mut pattern, mut count) = (None, 10);
    while let Some(option) =
        args.keyword(&[("match", ScanOption::Match), ("count", ScanOption::Count)])
    {
        match option {
            ScanOption::Match => pattern = Some(args.next_bytes()?).filter(|p| *p != b"*"),
            ScanOption::Count => {
                count = match args.next_int()? {
                    n if n < 1 => return Err(CommandError::Syntax),
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                }
            }
        }
    }
    args.finish()?;
    Ok((pattern, count))
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and
/// a flat list of fields and values. A packed hash comes whole, with
/// cursor 0. A table is scanned bucket by bucket until at least `COUNT`
/// pairs were visited (before `MATCH` filters them) or 20 × `COUNT`
/// buckets were, where Redis stops.
fn hscan(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let cursor = parse_cursor(argv[2])?;
    // Redis reads the options only once it has found the hash.
    let options = scan_options(&argv[3..]);
    read_hash(ctx, argv[1], |hash| {
        let Some(hash) = hash else {
            return Ok(scan_reply(0, Vec::new()));
        };
        let (pattern, count) = options?;
        // Redis counts fields and values both, against twice the count.
        let wanted = count.saturating_mul(2);
        let mut steps_left = wanted.saturating_mul(10);
        let (mut visited, mut items) = (0usize, Vec::new());
        let mut cursor = cursor;
        loop {
            cursor = hash.scan(cursor, |f, v| {
                visited += 2;
                if pattern.is_none_or(|p| glob::matches(p, f)) {
                    items.push(Reply::bulk(f));
                    items.push(Reply::bulk(v));
                }
            });
            if cursor == 0 || steps_left == 0 || visited >= wanted {
                break;
            }
            steps_left -= 1;
        }
        Ok(scan_reply(cursor, items))
    })
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::text(cursor.to_string()), Reply::Array(items)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_client::Client;
    use crate::protocol::Dialect;
    use std::collections::{HashMap, HashSet};

    impl Client {
        /// The reply's RESP bytes, in the connection's protocol.
        fn wire(&mut self, line: &str) -> Vec<u8> {
            let dialect = |proto| {
                if proto == 3 {
                    Dialect::Resp3
                } else {
                    Dialect::Resp2
                }
            };
            let reply = self.run(line);
            let mut out = Vec::new();
            reply.encode(dialect(self.session.proto), &mut out);
            out
        }

        /// A hash `h` of `n` fields `f<i>` = `v<i>`, packed or a table.
        fn fill(&mut self, n: usize, packed: bool) {
            let limit = if packed { "100000" } else { "0" };
            self.run(&format!("CONFIG SET hash-max-listpack-entries {limit}"));
            for i in 0..n {
                self.run(&format!("HSET h f{i} v{i}"));
            }
            let want = if packed { "listpack" } else { "hashtable" };
            assert_eq!(bulk(&self.run("OBJECT ENCODING h")), want.as_bytes());
        }
    }

    fn bulk(reply: &Reply) -> Vec<u8> {
        match reply {
            Reply::Bulk(b) => b.as_slice().to_vec(),
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    fn items(reply: Reply) -> Vec<Reply> {
        match reply {
            Reply::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The fields (and values, if given) of an `HRANDFIELD` reply, in
    /// either protocol's shape.
    fn picks(reply: Reply, with_values: bool, nested: bool) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let all = items(reply);
        match (with_values, nested) {
            (false, _) => all.iter().map(|f| (bulk(f), None)).collect(),
            (true, true) => all
                .into_iter()
                .map(|pair| match &items(pair)[..] {
                    [f, v] => (bulk(f), Some(bulk(v))),
                    other => panic!("not a pair: {other:?}"),
                })
                .collect(),
            (true, false) => all
                .chunks(2)
                .map(|pair| (bulk(&pair[0]), Some(bulk(&pair[1]))))
                .collect(),
        }
    }

    #[test]
    fn hrandfield_counts_are_distinct_or_repeat_in_every_shape() {
        for packed in [true, false] {
            for proto in [2, 3] {
                let mut c = Client::new();
                c.fill(40, packed);
                c.session.proto = proto;
                let model: HashMap<Vec<u8>, Vec<u8>> = (0..40)
                    .map(|i| (format!("f{i}").into_bytes(), format!("v{i}").into_bytes()))
                    .collect();
                // The size's cases: whole, copy-and-drop, sampling, repeats.
                for count in [1i64, 2, 13, 14, 20, 39, 40, 41, 500, -1, -3, -40, -2500] {
                    for with_values in [false, true] {
                        let line = format!(
                            "HRANDFIELD h {count}{}",
                            if with_values { " WITHVALUES" } else { "" }
                        );
                        let got = picks(c.run(&line), with_values, proto == 3);
                        let want = if count > 0 { count.min(40) } else { -count };
                        assert_eq!(got.len() as i64, want, "{line}");
                        for (f, v) in &got {
                            let value = model.get(f).expect("a field of the hash");
                            assert!(v.as_ref().is_none_or(|v| v == value), "{line}");
                        }
                        if count > 0 {
                            let distinct: HashSet<&Vec<u8>> = got.iter().map(|(f, _)| f).collect();
                            assert_eq!(distinct.len(), got.len(), "{line}");
                        }
                    }
                }
                // Repeats come in a random order, not the hash's.
                let many = picks(c.run("HRANDFIELD h -2500"), false, false);
                let kinds: HashSet<&Vec<u8>> = many.iter().map(|(f, _)| f).collect();
                assert_eq!(kinds.len(), 40);
            }
        }
    }

    #[test]
    fn a_single_random_field_reaches_every_field() {
        for packed in [true, false] {
            let mut c = Client::new();
            c.fill(5, packed);
            let seen: HashSet<Vec<u8>> = (0..300).map(|_| bulk(&c.run("HRANDFIELD h"))).collect();
            assert_eq!(seen.len(), 5);
        }
    }

    #[test]
    fn writes_that_change_nothing_are_not_changes() {
        let mut c = Client::new();
        c.run("HSET h a 1 s x");
        let before = c.changes();
        for line in [
            "HSETNX h a 2",
            "HDEL h nope other",
            "HDEL nokey a",
            "HINCRBY h s 1",
            "HINCRBYFLOAT h s 1",
            "HINCRBY h a abc",
            "HGET h a",
            "HGETALL h",
        ] {
            c.run(line);
            assert_eq!(c.changes(), before, "{line}");
        }
        assert_eq!(c.wire("EXISTS nokey"), b":0\r\n");
        for line in ["HSETNX h b 2", "HDEL h b", "HINCRBY h n 1", "HSET h a 1"] {
            let was = c.changes();
            c.run(line);
            assert!(c.changes() > was, "{line}");
        }
    }

    #[test]
    fn hscan_of_a_table_visits_every_pair_across_calls() {
        let mut c = Client::new();
        c.fill(1000, false);
        let mut seen = HashMap::new();
        let (mut cursor, mut calls) = ("0".to_string(), 0);
        loop {
            let mut reply = items(c.run(&format!("HSCAN h {cursor}")));
            let found = items(reply.pop().expect("the pairs"));
            // About COUNT (10) pairs a call: whole buckets, so a few more.
            assert!(found.len() <= 2 * 30, "{}", found.len());
            for pair in found.chunks(2) {
                seen.insert(bulk(&pair[0]), bulk(&pair[1]));
            }
            cursor = String::from_utf8(bulk(&reply[0])).unwrap();
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(seen.iter().all(|(f, v)| f[1..] == v[1..]));
        assert!(calls > 20, "{calls} calls");
        // MATCH filters what was visited; COUNT asks for more a call.
        let reply = items(c.run("HSCAN h 0 MATCH f1?? COUNT 100000"));
        assert_eq!(bulk(&reply[0]), b"0");
        assert_eq!(items(reply.into_iter().nth(1).unwrap()).len(), 2 * 100);
    }

    #[test]
    fn hincrbyfloat_stores_what_it_answers() {
        let mut c = Client::new();
        for step in ["0.1", "0.2", "1e-20", "-0.3"] {
            let answered = bulk(&c.run(&format!("HINCRBYFLOAT h f {step}")));
            assert_eq!(bulk(&c.run("HGET h f")), answered);
        }
        assert_eq!(bulk(&c.run("HGET h f")), b"0");
    }
}
