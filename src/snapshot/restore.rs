//! A loaded entry's value, built from the elements the decoder found, in
//! the encoding the thresholds in force ([`Encodings`]) choose for it, as
//! if it had just been written by commands under them.
//!
//! - A hash is packed (alternating fields and values in one [`Pack`]) if it
//!   has at most `hash-max-listpack-entries` fields and no field or value
//!   is longer than `hash-max-listpack-value` bytes; a table of pairs
//!   otherwise.
//! - A set is an [`IntSet`] if it has at most `set-max-intset-entries`
//!   members and every one is an integer as an intset holds it (the
//!   canonical decimal text of an `i64`, see [`canonical_i64`]); a table of
//!   members otherwise.
//! - A list is one [`Pack`] if its elements fit one node of
//!   `list-max-listpack-size` (within the node limit, as a
//!   [`QuickList`] measures it); a [`QuickList`] with nodes of that size
//!   otherwise.
//!
//! - A sorted set is packed if it has at most `zset-max-listpack-entries`
//!   members and none is longer than `zset-max-listpack-value` bytes; a
//!   [`ZTree`] otherwise, its index built bottom up
//!   from the file's order. Its members must come in strictly ascending
//!   (score, member) order, each score 8 bytes and not a NaN; the first
//!   that is not, or a member seen before, is refused at its offset.
//!
//! The values are built directly from the leaves. A repeated hash field or
//! set member is refused at its offset, as is an element longer than an
//! entry can hold. Every count a table or set is sized from has had all its
//! elements found in the file by the decoder first, so no count can make
//! the loader reserve more than the file holds. Nothing here takes a lock
//! or does I/O.

use super::format::{Element, Elements, Payload, Refusal};
use crate::config::Encodings;
use crate::entry::MAX_LEN;
use crate::value::hash::PairTable;
use crate::value::intset::canonical_i64;
use crate::value::pack::encoded_len;
use crate::value::quicklist::{Fill, SAFETY_LIMIT};
use crate::value::set::MemberTable;
use crate::value::zset::{ZSet, ZTree, packed_len};
use crate::value::{Hash, IntSet, List, Pack, QuickList, Set, Value};
use std::collections::HashSet;

/// A restored value: a string's bytes (borrowed from the file), or a
/// collection built from it.
#[derive(Debug)]
pub enum Restored<'a> {
    /// A string.
    String(&'a [u8]),
    /// A hash, list or set.
    Collection(Value),
}

/// Up to this many fields a packed hash is checked for a repeated field
/// by walking the pack; beyond, with a set of the fields seen.
const LINEAR_UP_TO: usize = 16;

/// Builds the value `payload` holds, in the encoding `limits` choose.
pub fn value<'a>(payload: Payload<'a>, limits: &Encodings) -> Result<Restored<'a>, Refusal> {
    Ok(match payload {
        Payload::String(bytes) => {
            if bytes.len() > MAX_LEN {
                return Err(format!(
                    "a value of {} bytes is larger than a value can be",
                    bytes.len()
                )
                .into());
            }
            Restored::String(bytes)
        }
        Payload::Hash(elements) => Restored::Collection(hash(elements, limits)?),
        Payload::List(elements) => Restored::Collection(list(elements, limits)?),
        Payload::Set(elements) => Restored::Collection(set(elements, limits)?),
        Payload::ZSet(elements) => Restored::Collection(zset(elements, limits)?),
    })
}

/// What one pass over a collection's strings finds: the longest, and the
/// bytes they would take in one pack. Refuses a string longer than an
/// entry can hold.
fn measure(elements: &Elements<'_>) -> Result<(usize, usize), Refusal> {
    let (mut longest, mut packed) = (0usize, 0usize);
    for e in elements.iter() {
        let len = e.bytes.len();
        if len > MAX_LEN {
            return Err(Refusal::at(
                e.offset,
                format!("an element of {len} bytes is larger than an element can be"),
            ));
        }
        longest = longest.max(len);
        packed = packed.saturating_add(encoded_len(len));
    }
    Ok((longest, packed))
}

/// The refusal of a hash field or set member `e` seen before.
fn repeated(e: Element<'_>, what: &str) -> Refusal {
    const SHOWN: usize = 64;
    let shown = &e.bytes[..e.bytes.len().min(SHOWN)];
    let more = if e.bytes.len() > SHOWN { "..." } else { "" };
    Refusal::at(
        e.offset,
        format!(
            "the {what} \"{}{more}\" appears twice",
            shown.escape_ascii()
        ),
    )
}

fn hash(elements: Elements<'_>, limits: &Encodings) -> Result<Value, Refusal> {
    let fields = elements.strings() / 2;
    let (longest, packed_bytes) = measure(&elements)?;
    let packed = fields as u64 <= limits.hash_max_listpack_entries
        && longest as u64 <= limits.hash_max_listpack_value
        && packed_bytes <= MAX_LEN;
    if packed {
        let mut pack = Pack::new();
        let mut seen = (fields > LINEAR_UP_TO).then(|| HashSet::with_capacity(fields));
        for (field, value) in elements.pairs() {
            let again = match &mut seen {
                Some(seen) => !seen.insert(field.bytes),
                None => pack.find_pair(field.bytes).is_some(),
            };
            if again {
                return Err(repeated(field, "hash field"));
            }
            pack.push_back(field.bytes);
            pack.push_back(value.bytes);
        }
        return Ok(Value::Hash(Hash::Packed(pack)));
    }
    let mut table = PairTable::with_capacity(fields);
    for (field, value) in elements.pairs() {
        if !table.insert(field.bytes, value.bytes) {
            return Err(repeated(field, "hash field"));
        }
    }
    Ok(Value::Hash(Hash::Table(Box::new(table))))
}

fn set(elements: Elements<'_>, limits: &Encodings) -> Result<Value, Refusal> {
    let members = elements.strings();
    measure(&elements)?;
    // At most 8 bytes an integer, kept inline in the entry.
    let ints = members as u64 <= limits.set_max_intset_entries
        && members.saturating_mul(8) <= MAX_LEN
        && elements.iter().all(|m| canonical_i64(m.bytes).is_some());
    if ints {
        let mut set = IntSet::new();
        for member in elements.iter() {
            let n = canonical_i64(member.bytes).unwrap_or_default();
            if !set.insert(n) {
                return Err(repeated(member, "set member"));
            }
        }
        return Ok(Value::Set(Set::Ints(set)));
    }
    let mut table = MemberTable::with_capacity(members);
    for member in elements.iter() {
        if !table.insert(member.bytes) {
            return Err(repeated(member, "set member"));
        }
    }
    Ok(Value::Set(Set::Table(Box::new(table))))
}

fn zset(elements: Elements<'_>, limits: &Encodings) -> Result<Value, Refusal> {
    let members = elements.strings() / 2;
    measure(&elements)?;
    let (mut longest, mut packed_bytes) = (0usize, 0usize);
    for (member, score) in elements.pairs() {
        let Ok(bits) = <[u8; 8]>::try_from(score.bytes) else {
            return Err(Refusal::at(
                score.offset,
                format!(
                    "a sorted set score of {} bytes (a score is 8)",
                    score.bytes.len()
                ),
            ));
        };
        let score = f64::from_bits(u64::from_le_bytes(bits));
        longest = longest.max(member.bytes.len());
        packed_bytes = packed_bytes.saturating_add(packed_len(member.bytes, score));
    }
    let scored = || {
        elements.pairs().map(|(m, s)| {
            let bits = <[u8; 8]>::try_from(s.bytes).unwrap_or_default();
            (m.bytes, f64::from_bits(u64::from_le_bytes(bits)))
        })
    };
    let packed = members as u64 <= limits.zset_max_listpack_entries
        && longest as u64 <= limits.zset_max_listpack_value
        && packed_bytes <= MAX_LEN;
    let built = if packed {
        ZSet::packed_from_sorted(scored())
    } else {
        ZTree::from_sorted(scored(), members).map(|t| ZSet::Tree(Box::new(t)))
    };
    built
        .map(Value::ZSet)
        .map_err(|i| match elements.pairs().nth(i) {
            Some((member, score)) => zset_flaw(member, score, scored().take(i)),
            None => "a sorted set out of order".to_string().into(),
        })
}

/// Why the sorted set member `member` with `score`, after `before`, was
/// refused: a NaN score, a member seen before, or one out of order.
fn zset_flaw<'a>(
    member: Element<'_>,
    score: Element<'_>,
    mut before: impl Iterator<Item = (&'a [u8], f64)>,
) -> Refusal {
    let bits = <[u8; 8]>::try_from(score.bytes).unwrap_or_default();
    let s = f64::from_bits(u64::from_le_bytes(bits));
    if s.is_nan() {
        return Refusal::at(score.offset, "a sorted set score is NaN".to_string());
    }
    if before.any(|(m, _)| m == member.bytes) {
        return repeated(member, "sorted set member");
    }
    const SHOWN: usize = 64;
    let shown = &member.bytes[..member.bytes.len().min(SHOWN)];
    Refusal::at(
        member.offset,
        format!(
            "the sorted set member \"{}\" (score {s}) is out of (score, member) order",
            shown.escape_ascii()
        ),
    )
}

/// Whether `count` elements taking `bytes` in a pack are within one node
/// of `fill` (the limit a [`QuickList`] keeps each node within).
fn fits_one_node(fill: Fill, bytes: usize, count: usize) -> bool {
    match fill {
        Fill::Bytes(limit) => bytes <= limit,
        Fill::Count(limit) => count <= limit.max(1) && bytes <= SAFETY_LIMIT,
    }
}

fn list(elements: Elements<'_>, limits: &Encodings) -> Result<Value, Refusal> {
    let (_, packed_bytes) = measure(&elements)?;
    let fill = Fill::from_redis(limits.list_max_listpack_size);
    if fits_one_node(fill, packed_bytes, elements.strings()) && packed_bytes <= MAX_LEN {
        let mut pack = Pack::new();
        for element in elements.iter() {
            pack.push_back(element.bytes);
        }
        return Ok(Value::List(List::Packed(pack)));
    }
    let mut quick = QuickList::new();
    for element in elements.iter() {
        quick.push_back(element.bytes, fill);
    }
    Ok(Value::List(List::Quick(Box::new(quick))))
}
