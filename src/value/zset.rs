//! Sorted sets: members with `f64` scores, ordered by (score, member
//! bytes), packed while small and indexed when big, with the semantics
//! Redis 7.0's sorted-set commands need: reads on the borrowed form
//! ([`ZSetRef`], the same for a pack kept inline in its key's entry and for
//! the index), writes on the owned one ([`ZSet`]).
//!
//! A packed sorted set is one [`Pack`] whose elements are its members in
//! ascending (score, member) order, each element holding its score and its
//! member together. It is used while the set
//! has at most `zset-max-listpack-entries` members and none longer than
//! `zset-max-listpack-value` bytes; past either, it converts to a
//! [`ZTree`]: a member-to-score [`Table`](super::Table) plus a counted
//! B+tree over the table's nodes, in which every operation on one member
//! and every rank or score lookup is O(log n). It never converts back, as
//! in Redis.
//!
//! Scores are never NaN (callers refuse it before asking). Equal scores
//! order by member bytes, shorter first on a common prefix; `-0.0` and
//! `0.0` compare equal (the member then decides) but each is kept as
//! given, as Redis keeps the double it was given.
//!
//! This module owns the encoding choice and the order. It never takes a
//! lock, does I/O or knows the keyspace, never stores a NaN, and never does
//! work proportional to the set's size in an operation on one member or a
//! range of a big set (a packed set is small: a walk of its bytes is its
//! lookup, as in Redis).

use super::hash::MAX_PACKED_BYTES;
use super::pack::{self, encoded_len};
use super::random::{Seeds, below};
pub use super::ztree::{ZTree, order};
use super::{Encodings, Pack, PackView};
use std::collections::HashSet;

/// A range of scores, `min` to `max`, each end inclusive or not (`ZCOUNT`,
/// `ZRANGEBYSCORE`'s `(` prefix).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// The low end.
    pub min: f64,
    /// Whether `min` itself is outside the range.
    pub min_exclusive: bool,
    /// The high end.
    pub max: f64,
    /// Whether `max` itself is outside the range.
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Whether `score` is in the range.
    pub fn contains(&self, score: f64) -> bool {
        self.above_min(score) && self.below_max(score)
    }

    /// Whether no score can be in the range (`min` above `max`, or equal
    /// with either end exclusive), as Redis checks before looking.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    /// Whether `score` is not below the low end.
    fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// Whether `score` is not above the high end.
    fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lex range (`ZRANGEBYLEX`'s `-`, `+`, `[m` and `(m`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m`: from or to `m`, including it.
    Inclusive(Vec<u8>),
    /// `(m`: from or to `m`, excluding it.
    Exclusive(Vec<u8>),
}

/// A range of members by their bytes, meaningful when every score is equal
/// (as Redis's lex commands assume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// The low end.
    pub min: LexBound,
    /// The high end.
    pub max: LexBound,
}

impl LexRange {
    /// Whether `member` is in the range.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.above_min(member) && self.below_max(member)
    }

    /// Whether no member can be in the range, as Redis checks before
    /// looking: the low end above the high one, or equal with either end
    /// exclusive, or `+` as the low end or `-` as the high one.
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (Max, _) | (_, Min) => true,
            (Min, _) | (_, Max) => false,
            (Inclusive(a), Inclusive(b)) => a > b,
            (Inclusive(a) | Exclusive(a), Inclusive(b) | Exclusive(b)) => a >= b,
        }
    }

    /// Whether `member` is not below the low end.
    fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(m) => member >= &m[..],
            LexBound::Exclusive(m) => member > &m[..],
        }
    }

    /// Whether `member` is not above the high end.
    fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(m) => member <= &m[..],
            LexBound::Exclusive(m) => member < &m[..],
        }
    }
}

/// What [`ZSet::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Added {
    /// The member is new.
    New,
    /// The member was there with this other score, now replaced.
    Updated(f64),
    /// The member was there with an equal score: nothing changed (`-0`
    /// and `0` are equal, and the old one stays, as in Redis).
    Same,
}

/// An owned sorted set.
#[derive(Debug, Clone)]
pub enum ZSet {
    /// Members with their scores, ascending, one element each.
    Packed(Pack),
    /// A member table and an order index over it.
    Tree(Box<ZTree>),
}

/// A borrowed sorted set.
#[derive(Debug, Clone, Copy)]
pub enum ZSetRef<'a> {
    /// Members with their scores, ascending, one element each.
    Packed(PackView<'a>),
    /// A member table and an order index over it.
    Tree(&'a ZTree),
}

/// How a packed sorted set writes one member and its score as one element
/// of its pack:
///
/// ```text
/// [head: 1 byte][score: 0 to 8 bytes][member bytes]
/// ```
///
/// A head below `0xF0` is the score itself, an integer from 0 to 239, with
/// no score bytes; `0xF0 + k` (k from 1 to 7) is an integer score in the k
/// little-endian two's-complement bytes that follow; `0xF8` is any other
/// score, its `f64` bits in 8 little-endian bytes (so `-0`, fractions,
/// infinities and integers of 2^55 and beyond). Each score has exactly one
/// encoding. A member of 10 bytes with a score from 0 to 239 is a 13-byte
/// element with the pack's two length bytes, where Redis's listpack spends
/// 14 (two entries); a timestamp in milliseconds takes 6 bytes more.
mod element {
    /// Longest encoded score.
    pub const MOST_HEAD: usize = 9;

    /// First head byte of an integer score in bytes that follow.
    const INT: u8 = 0xF0;

    /// The head byte of a score in its 8 `f64` bytes.
    const RAW: u8 = 0xF8;

    /// Integers whose magnitude is below this are kept in at most 7 bytes.
    const INT_LIMIT: f64 = (1u64 << 55) as f64;

    /// `score`'s encoding, in the first bytes of the array (how many is
    /// the second value).
    pub fn head(score: f64) -> ([u8; MOST_HEAD], usize) {
        let mut out = [0u8; MOST_HEAD];
        let integer = score.fract() == 0.0
            && score.abs() < INT_LIMIT
            && !(score == 0.0 && score.is_sign_negative());
        if integer {
            let n = score as i64;
            if (0..i64::from(INT)).contains(&n) {
                out[0] = n as u8;
                return (out, 1);
            }
            let k = (1..=7usize)
                .find(|&k| {
                    let bits = 8 * k as u32;
                    n >= -(1i64 << (bits - 1)) && n < (1i64 << (bits - 1))
                })
                .unwrap_or(7);
            out[0] = INT + k as u8;
            out[1..=k].copy_from_slice(&n.to_le_bytes()[..k]);
            return (out, 1 + k);
        }
        out[0] = RAW;
        out[1..].copy_from_slice(&score.to_bits().to_le_bytes());
        (out, MOST_HEAD)
    }

    /// Runs `f` on the element of `member` and `score` (built on the stack
    /// for a member of up to 64 bytes).
    pub fn with<R>(member: &[u8], score: f64, f: impl FnOnce(&[u8]) -> R) -> R {
        let (head, n) = head(score);
        let total = n + member.len();
        if total <= 80 {
            let mut buf = [0u8; 80];
            buf[..n].copy_from_slice(&head[..n]);
            buf[n..total].copy_from_slice(member);
            f(&buf[..total])
        } else {
            let mut buf = Vec::with_capacity(total);
            buf.extend_from_slice(&head[..n]);
            buf.extend_from_slice(member);
            f(&buf)
        }
    }

    /// The member and score of an element [`with`] wrote (an element it
    /// did not write reads as some score and member; never a panic).
    pub fn read(elem: &[u8]) -> (&[u8], f64) {
        let Some((&tag, rest)) = elem.split_first() else {
            return (elem, 0.0);
        };
        match tag {
            0..INT => (rest, f64::from(tag)),
            RAW => match rest.split_first_chunk::<8>() {
                Some((bits, member)) => (member, f64::from_bits(u64::from_le_bytes(*bits))),
                None => (rest, 0.0),
            },
            _ => {
                let k = usize::from(tag - INT).min(rest.len()).min(8);
                let mut bytes = [0u8; 8];
                bytes[..k].copy_from_slice(&rest[..k]);
                // Sign-extend from the top byte given.
                let shift = 64 - 8 * k as u32;
                let n = if k == 0 {
                    0
                } else {
                    (i64::from_le_bytes(bytes) << shift) >> shift
                };
                (&rest[k..], n as f64)
            }
        }
    }

    #[cfg(test)]
    /// Whether `elem` is an element [`with`] could have written (its
    /// score not NaN, and encoded the one way).
    pub fn is_valid(elem: &[u8]) -> bool {
        let (member, score) = read(elem);
        let n = elem.len() - member.len();
        let (head, m) = head(score);
        !score.is_nan() && n == m && elem.get(..n) == head.get(..n)
    }
}

/// Bytes `member` with `score` takes in a packed set's pack.
pub fn packed_len(member: &[u8], score: f64) -> usize {
    encoded_len(element::head(score).1 + member.len())
}

/// Whether a pack of `bytes` content bytes and `count` elements may take a
/// new `member` (with a score of up to 9 bytes) and stay packed under
/// `limits` and within [`MAX_PACKED_BYTES`].
fn packable(bytes: usize, count: usize, member: usize, limits: &Encodings) -> bool {
    (count as u64) < limits.zset_max_listpack_entries
        && member as u64 <= limits.zset_max_listpack_value
        && bytes.saturating_add(encoded_len(member.saturating_add(element::MOST_HEAD)))
            <= MAX_PACKED_BYTES
}

/// Where in a packed set `member` is, and its score.
fn find(p: PackView<'_>, member: &[u8]) -> Option<(usize, f64)> {
    p.iter()
        .map(element::read)
        .enumerate()
        .find(|(_, (m, _))| *m == member)
        .map(|(i, (_, s))| (i, s))
}

/// How many elements of a packed set come before (`score`, `member`).
fn position(p: PackView<'_>, score: f64, member: &[u8]) -> usize {
    p.iter()
        .map(element::read)
        .take_while(|&(m, s)| order((s, m), (score, member)) == std::cmp::Ordering::Less)
        .count()
}

/// Ranks `lo..hi` of members, after skipping `offset` of them from the
/// low end (the high end if `rev`) and keeping at most `limit`.
fn window(lo: usize, hi: usize, rev: bool, offset: usize, limit: Option<usize>) -> (usize, usize) {
    let n = hi.saturating_sub(lo);
    let skip = offset.min(n);
    let take = limit.map_or(n - skip, |l| l.min(n - skip));
    if rev {
        (hi - skip - take, hi - skip)
    } else {
        (lo + skip, lo + skip + take)
    }
}

impl ZSet {
    /// A packed set of `members`, which must be in strictly ascending
    /// (score, member) order, none repeated and no score NaN (as
    /// [`ZTree::from_sorted`] checks them); if they are not, the index of
    /// the first that breaks the rule. The caller has checked the limits.
    pub fn packed_from_sorted<'m>(
        members: impl IntoIterator<Item = (&'m [u8], f64)>,
    ) -> Result<ZSet, usize> {
        let mut pack = Pack::new();
        let mut seen: HashSet<&[u8]> = HashSet::new();
        let mut last: Option<(f64, &[u8])> = None;
        for (i, (member, score)) in members.into_iter().enumerate() {
            let in_order = last.is_none_or(|prev| order(prev, (score, member)).is_lt());
            if score.is_nan() || !in_order || !seen.insert(member) {
                return Err(i);
            }
            element::with(member, score, |e| pack.push_back(e));
            last = Some((score, member));
        }
        Ok(ZSet::Packed(pack))
    }
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::new()
    }
}

impl ZSet {
    /// An empty sorted set, packed.
    pub fn new() -> ZSet {
        ZSet::Packed(Pack::new())
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> ZSetRef<'_> {
        match self {
            ZSet::Packed(p) => ZSetRef::Packed(p.view()),
            ZSet::Tree(t) => ZSetRef::Tree(t),
        }
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same sorted set in its big encoding.
    pub fn into_big(self) -> ZSet {
        match self {
            ZSet::Packed(p) => {
                let members = p.iter().map(element::read);
                let tree = ZTree::from_sorted(members, p.count()).unwrap_or_else(|_| {
                    // A pack is in order; should one not be, insert one by
                    // one rather than lose members.
                    let mut t = ZTree::new();
                    for (m, s) in p.iter().map(element::read) {
                        t.insert(m, s);
                    }
                    t
                });
                ZSet::Tree(Box::new(tree))
            }
            tree => tree,
        }
    }

    /// Converts a packed set to the big encoding, in place.
    fn convert(&mut self) {
        if let ZSet::Packed(_) = self {
            let packed = std::mem::take(self);
            *self = packed.into_big();
        }
    }

    /// Sets `member`'s score to `score` (never NaN), adding the member if
    /// new. A packed set converts to the big encoding before taking a new
    /// member longer than `zset-max-listpack-value` bytes or one past
    /// `zset-max-listpack-entries` members, as Redis does; a score update
    /// never converts.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &Encodings) -> Added {
        if let ZSet::Packed(p) = self {
            match find(p.view(), member) {
                Some((_, old)) if old == score => return Added::Same,
                Some((at, old)) => {
                    p.remove(at);
                    let pos = position(p.view(), score, member);
                    element::with(member, score, |e| p.insert(pos, e));
                    return Added::Updated(old);
                }
                None if packable(p.byte_len(), p.count(), member.len(), limits) => {
                    let pos = position(p.view(), score, member);
                    element::with(member, score, |e| p.insert(pos, e));
                    return Added::New;
                }
                None => self.convert(),
            }
        }
        match self {
            ZSet::Tree(t) => match t.insert(member, score) {
                None => Added::New,
                Some(old) if old == score => Added::Same,
                Some(old) => Added::Updated(old),
            },
            ZSet::Packed(_) => Added::Same,
        }
    }

    /// Removes `member`: true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Packed(p) => match find(p.view(), member) {
                Some((at, _)) => p.remove(at).is_some(),
                None => false,
            },
            ZSet::Tree(t) => t.remove(member).is_some(),
        }
    }

    /// Removes up to `count` members from the low end (the high end if
    /// `max`) and returns them with their scores, in the order popped.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let n = count.min(len);
        if n == 0 {
            return Vec::new();
        }
        let mut popped = Vec::with_capacity(n);
        let (start, end) = if max { (len - n, len) } else { (0, n) };
        self.as_ref().visit_ranks(start, end, false, |m, s| {
            popped.push((m.to_vec(), s));
        });
        if max {
            popped.reverse();
        }
        self.remove_rank_range(start, end - 1);
        popped
    }

    /// Removes the members of ascending ranks `start..=end` (which the
    /// caller has clamped to the set) and returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len().saturating_sub(1));
        if self.is_empty() || start > end {
            return 0;
        }
        match self {
            ZSet::Packed(p) => p.remove_range(start, end - start + 1),
            ZSet::Tree(t) => {
                let mut doomed = Vec::with_capacity(end - start + 1);
                t.visit(start, end + 1, false, |m, _| doomed.push(m.to_vec()));
                doomed.iter().filter(|m| t.remove(m).is_some()).count()
            }
        }
    }

    /// Removes the members whose scores are in `range`; returns how many.
    pub fn remove_score_range(&mut self, range: &ScoreRange) -> usize {
        let (lo, hi) = self.as_ref().score_ranks(range);
        if lo >= hi {
            return 0;
        }
        self.remove_rank_range(lo, hi - 1)
    }

    /// Removes the members in the lex `range`; returns how many.
    pub fn remove_lex_range(&mut self, range: &LexRange) -> usize {
        let (lo, hi) = self.as_ref().lex_ranks(range);
        if lo >= hi {
            return 0;
        }
        self.remove_rank_range(lo, hi - 1)
    }
}

/// The members of a sorted set with their scores, ascending.
pub enum Iter<'a> {
    /// A packed set's.
    Packed(pack::Iter<'a>),
    /// A big set's.
    Tree(super::ztree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            Iter::Packed(p) => p.next().map(element::read),
            Iter::Tree(t) => t.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Packed(p) => p.size_hint(),
            Iter::Tree(t) => t.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> ZSetRef<'a> {
    /// Members.
    pub fn len(self) -> usize {
        match self {
            ZSetRef::Packed(p) => p.count(),
            ZSetRef::Tree(t) => t.len(),
        }
    }

    /// Whether it has no member.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// `member`'s score.
    pub fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetRef::Packed(p) => find(p, member).map(|(_, s)| s),
            ZSetRef::Tree(t) => t.score(member),
        }
    }

    /// Whether `member` is in the set.
    pub fn contains(self, member: &[u8]) -> bool {
        self.score(member).is_some()
    }

    /// `member`'s 0-based rank in ascending order, or from the high end
    /// when `rev`.
    pub fn rank(self, member: &[u8], rev: bool) -> Option<usize> {
        let rank = match self {
            ZSetRef::Packed(p) => find(p, member).map(|(i, _)| i),
            ZSetRef::Tree(t) => t.rank(member),
        }?;
        Some(if rev { self.len() - 1 - rank } else { rank })
    }

    /// The member of ascending rank `rank`, with its score.
    pub fn at(self, rank: usize) -> Option<(&'a [u8], f64)> {
        match self {
            ZSetRef::Packed(p) => p.get(rank).map(element::read),
            ZSetRef::Tree(t) => t.at(rank),
        }
    }

    /// Visits the members of ranks `start..=end` (counted from the high end
    /// when `rev`, and visited in that order) with their scores; the
    /// caller clamps the ranks to the set (ranks past the end are not
    /// visited).
    pub fn range_by_rank(
        self,
        start: usize,
        end: usize,
        rev: bool,
        visit: impl FnMut(&'a [u8], f64),
    ) {
        let len = self.len();
        let end = end.min(len.saturating_sub(1));
        if start > end || len == 0 {
            return;
        }
        let (lo, hi) = if rev {
            (len - 1 - end, len - start)
        } else {
            (start, end + 1)
        };
        self.visit_ranks(lo, hi, rev, visit);
    }

    /// Visits ascending ranks `lo..hi`, in that order or the reverse.
    fn visit_ranks(self, lo: usize, hi: usize, rev: bool, mut visit: impl FnMut(&'a [u8], f64)) {
        if lo >= hi {
            return;
        }
        match self {
            ZSetRef::Packed(p) => {
                let part = p.range(lo, hi.min(p.count())).map(element::read);
                if rev {
                    part.rev().for_each(|(m, s)| visit(m, s));
                } else {
                    part.for_each(|(m, s)| visit(m, s));
                }
            }
            ZSetRef::Tree(t) => t.visit(lo, hi, rev, visit),
        }
    }

    /// How many members come before the first for which `before` is false
    /// (`before` true for a prefix of the (score, member) order).
    fn count_before(self, before: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetRef::Packed(p) => p
                .iter()
                .map(element::read)
                .take_while(|&(m, s)| before(s, m))
                .count(),
            ZSetRef::Tree(t) => t.count_before(before),
        }
    }

    /// The ascending ranks `lo..hi` of the members whose scores are in
    /// `range`: O(log n) on a big set.
    pub fn score_ranks(self, range: &ScoreRange) -> (usize, usize) {
        if range.is_empty() {
            return (0, 0);
        }
        let lo = self.count_before(&|s, _| !range.above_min(s));
        let hi = self.count_before(&|s, _| range.below_max(s));
        (lo, hi.max(lo))
    }

    /// The ascending ranks `lo..hi` of the members in the lex `range`
    /// (meaningful when every score is equal): O(log n) on a big set.
    pub fn lex_ranks(self, range: &LexRange) -> (usize, usize) {
        if range.is_empty() {
            return (0, 0);
        }
        let lo = self.count_before(&|_, m| !range.above_min(m));
        let hi = self.count_before(&|_, m| range.below_max(m));
        (lo, hi.max(lo))
    }

    /// Visits the members whose scores are in `range`, ascending (from the
    /// high end when `rev`), skipping the first `offset` of them and
    /// stopping after `limit` if given: O(log n + visited) on a big set,
    /// whatever the offset.
    pub fn range_by_score(
        self,
        range: &ScoreRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
        visit: impl FnMut(&'a [u8], f64),
    ) {
        let (lo, hi) = self.score_ranks(range);
        let (lo, hi) = window(lo, hi, rev, offset, limit);
        self.visit_ranks(lo, hi, rev, visit);
    }

    /// Visits the members in the lex `range`, as
    /// [`range_by_score`](ZSetRef::range_by_score) does for scores.
    pub fn range_by_lex(
        self,
        range: &LexRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
        visit: impl FnMut(&'a [u8], f64),
    ) {
        let (lo, hi) = self.lex_ranks(range);
        let (lo, hi) = window(lo, hi, rev, offset, limit);
        self.visit_ranks(lo, hi, rev, visit);
    }

    /// Members whose scores are in `range` (`ZCOUNT`): O(log n) on a big
    /// set.
    pub fn count_in_score(self, range: &ScoreRange) -> usize {
        let (lo, hi) = self.score_ranks(range);
        hi - lo
    }

    /// Members in the lex `range` (`ZLEXCOUNT`): O(log n) on a big set.
    pub fn count_in_lex(self, range: &LexRange) -> usize {
        let (lo, hi) = self.lex_ranks(range);
        hi - lo
    }

    /// Every member with its score, in ascending (score, member) order.
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], f64)> + 'a {
        self.members()
    }

    /// Every member with its score, ascending, as a named iterator.
    pub fn members(self) -> Iter<'a> {
        match self {
            ZSetRef::Packed(p) => Iter::Packed(p.iter()),
            ZSetRef::Tree(t) => Iter::Tree(t.iter()),
        }
    }

    /// A random member with its score, `None` only if empty, every member
    /// equally likely; `seed` drives the choice. O(log n) on a big set.
    pub fn random(self, seed: u64) -> Option<(&'a [u8], f64)> {
        self.at(below(seed, self.len()))
    }

    /// `count` distinct random members (all of them if there are no more),
    /// as Redis's `ZRANDMEMBER key count` chooses them: the whole set, in
    /// order, when `count` reaches its size; when `count` is more than a
    /// third of it, every member less random ones (in order); otherwise
    /// random picks until `count` distinct ones are drawn (in the order
    /// drawn), so that a small count never costs O(size).
    pub fn sample_distinct(self, count: usize, seeds: &mut Seeds) -> Vec<(&'a [u8], f64)> {
        let size = self.len();
        if count >= size {
            return self.members().collect();
        }
        if count.saturating_mul(3) > size {
            let mut keep = vec![true; size];
            let mut left = size;
            while left > count {
                let r = seeds.below(size);
                if keep[r] {
                    keep[r] = false;
                    left -= 1;
                }
            }
            return self
                .members()
                .zip(keep)
                .filter_map(|(e, k)| k.then_some(e))
                .collect();
        }
        let mut seen = HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let rank = seeds.below(size);
            if seen.insert(rank) {
                if let Some(e) = self.at(rank) {
                    picked.push(e);
                }
            }
        }
        picked
    }

    /// One step of `ZSCAN` from `cursor`: visits members and returns the
    /// next cursor, 0 when complete. A packed set visits everything at
    /// once and returns 0; a big one scans its table a bucket at a time
    /// until `count` members are visited, ten times `count` more buckets
    /// are passed, or the scan is complete, as `SetRef::scan` does.
    pub fn scan(self, cursor: u64, count: usize, mut visit: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSetRef::Packed(p) => {
                p.iter().map(element::read).for_each(|(m, s)| visit(m, s));
                0
            }
            ZSetRef::Tree(t) => {
                let mut visited = 0usize;
                let mut cursor = cursor;
                let mut more = count.saturating_mul(10);
                loop {
                    cursor = t.table().scan(cursor, |(m, s)| {
                        visited += 1;
                        visit(m, super::ztree::score_of(s));
                    });
                    if cursor == 0 || more == 0 || visited >= count {
                        return cursor;
                    }
                    more -= 1;
                }
            }
        }
    }

    /// Whether `other` is this very sorted set (the same key given twice),
    /// not merely an equal one.
    pub fn is_same(self, other: ZSetRef<'_>) -> bool {
        match (self, other) {
            (ZSetRef::Packed(a), ZSetRef::Packed(b)) => std::ptr::eq(a.bytes(), b.bytes()),
            (ZSetRef::Tree(a), ZSetRef::Tree(b)) => std::ptr::eq(a, b),
            _ => false,
        }
    }
}

impl ZSetRef<'_> {
    /// An owned copy (of every member: O(n)).
    pub fn to_zset(self) -> ZSet {
        match self {
            ZSetRef::Packed(p) => ZSet::Packed(Pack::from_view(p)),
            ZSetRef::Tree(t) => ZSet::Tree(Box::new(t.clone())),
        }
    }

    /// Bytes taken from the allocator beyond the entry (0 when packed,
    /// kept inline in it): O(1).
    pub fn footprint(self) -> usize {
        match self {
            ZSetRef::Packed(_) => 0,
            ZSetRef::Tree(t) => crate::memory::chunk(std::mem::size_of::<ZTree>()) + t.footprint(),
        }
    }

    /// `OBJECT ENCODING`'s name for it (Redis 7.0's names).
    pub fn encoding(self) -> &'static str {
        match self {
            ZSetRef::Packed(_) => "listpack",
            ZSetRef::Tree(_) => "skiplist",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::random::TestRng;
    use std::collections::{BTreeMap, HashMap};

    fn limits(entries: u64, value: u64) -> Encodings {
        Encodings {
            zset_max_listpack_entries: entries,
            zset_max_listpack_value: value,
            ..Encodings::DEFAULT
        }
    }

    /// A score in a model's key, ordered as sorted sets order scores.
    #[derive(Debug, Clone, Copy)]
    struct Score(f64);

    impl PartialEq for Score {
        fn eq(&self, other: &Score) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Score {}
    impl PartialOrd for Score {
        fn partial_cmp(&self, other: &Score) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Score {
        fn cmp(&self, other: &Score) -> std::cmp::Ordering {
            self.0.partial_cmp(&other.0).expect("no NaN")
        }
    }

    /// The simple model: (score, member) in order, and member to score.
    #[derive(Default)]
    struct Model {
        order: BTreeMap<(Score, Vec<u8>), ()>,
        scores: HashMap<Vec<u8>, f64>,
    }

    impl Model {
        fn insert(&mut self, member: &[u8], score: f64) -> Added {
            match self.scores.get(member).copied() {
                Some(old) if old == score => Added::Same,
                Some(old) => {
                    self.order.remove(&(Score(old), member.to_vec()));
                    self.order.insert((Score(score), member.to_vec()), ());
                    self.scores.insert(member.to_vec(), score);
                    Added::Updated(old)
                }
                None => {
                    self.order.insert((Score(score), member.to_vec()), ());
                    self.scores.insert(member.to_vec(), score);
                    Added::New
                }
            }
        }

        fn remove(&mut self, member: &[u8]) -> bool {
            match self.scores.remove(member) {
                Some(old) => self.order.remove(&(Score(old), member.to_vec())).is_some(),
                None => false,
            }
        }

        fn entry(&self, m: &[u8]) -> (Vec<u8>, f64) {
            (m.to_vec(), self.scores[m])
        }

        /// The first `count` from the low end, or the high end if `max`.
        fn first(&self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
            let keys = self.order.keys();
            if max {
                keys.rev().take(count).map(|(_, m)| self.entry(m)).collect()
            } else {
                keys.take(count).map(|(_, m)| self.entry(m)).collect()
            }
        }

        fn ranks(&self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
            let keys = self.order.keys().skip(start).take(end - start);
            keys.map(|(_, m)| self.entry(m)).collect()
        }

        fn matching(&self, keep: impl Fn(&[u8], f64) -> bool) -> Vec<(Vec<u8>, f64)> {
            let keys = self.order.keys().filter(|(_, m)| keep(m, self.scores[m]));
            keys.map(|(_, m)| self.entry(m)).collect()
        }

        fn list(&self) -> Vec<(Vec<u8>, f64)> {
            // The scores of the map, bit for bit (a key's -0 reads as 0).
            self.order
                .keys()
                .map(|(_, m)| (m.clone(), self.scores[m]))
                .collect()
        }
    }

    fn listed(z: ZSetRef<'_>) -> Vec<(Vec<u8>, u64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect()
    }

    fn bits(v: &[(Vec<u8>, f64)]) -> Vec<(Vec<u8>, u64)> {
        v.iter().map(|(m, s)| (m.clone(), s.to_bits())).collect()
    }

    const SCORES: &[f64] = &[
        f64::NEG_INFINITY,
        f64::INFINITY,
        -0.0,
        0.0,
        1.0,
        -1.0,
        2.5,
        -2.5,
        239.0,
        240.0,
        -128.0,
        -129.0,
        65536.0,
        1e20,
        -1e-300,
        36028797018963968.0, // 2^55
        -36028797018963968.0,
        36028797018963967.0,
        1_700_000_000_123.0,
    ];

    fn member(rng: &mut TestRng, space: usize) -> Vec<u8> {
        let id = rng.below(space);
        match id % 9 {
            0 => b"m".repeat(id % 5),
            1 => vec![0xff, (id % 3) as u8],
            2 => format!("{}", id).into_bytes(),
            3 => format!("long member {id} {}", "x".repeat(id % 20)).into_bytes(),
            _ => format!("member:{id}").into_bytes(),
        }
    }

    fn score(rng: &mut TestRng, equal: bool) -> f64 {
        if equal {
            return 3.0;
        }
        match rng.below(4) {
            0 => SCORES[rng.below(SCORES.len())],
            1 => rng.below(20) as f64 - 10.0,
            2 => (rng.next() >> 11) as f64 / (1u64 << 40) as f64 - 1000.0,
            _ => rng.below(5) as f64 * 0.25,
        }
    }

    fn score_range(rng: &mut TestRng) -> ScoreRange {
        let mut end = || match rng.below(5) {
            0 => SCORES[rng.below(SCORES.len())],
            _ => rng.below(24) as f64 - 12.0 + rng.below(2) as f64 * 0.5,
        };
        let (a, b) = (end(), end());
        let (min, max) = if rng.below(8) == 0 {
            (a, b)
        } else {
            (a.min(b), a.max(b))
        };
        ScoreRange {
            min,
            min_exclusive: rng.below(2) == 0,
            max,
            max_exclusive: rng.below(2) == 0,
        }
    }

    fn lex_bound(rng: &mut TestRng, space: usize) -> LexBound {
        match rng.below(6) {
            0 => LexBound::Min,
            1 => LexBound::Max,
            2 | 3 => LexBound::Inclusive(member(rng, space)),
            _ => LexBound::Exclusive(member(rng, space)),
        }
    }

    /// Everything a reader can ask, compared with the model.
    fn agree(z: &ZSet, model: &Model, rng: &mut TestRng, space: usize, equal: bool) {
        let r = z.as_ref();
        let all = model.list();
        assert_eq!(r.len(), all.len());
        assert_eq!(listed(r), bits(&all));
        if let ZSet::Tree(t) = z {
            t.check();
        }
        let n = all.len();
        for _ in 0..8 {
            let m = member(rng, space);
            let want = model.scores.get(&m).copied();
            assert_eq!(r.score(&m).map(f64::to_bits), want.map(f64::to_bits));
            let rank = all.iter().position(|(x, _)| *x == m);
            assert_eq!(r.rank(&m, false), rank);
            assert_eq!(r.rank(&m, true), rank.map(|k| n - 1 - k));
        }
        if n > 0 {
            let (a, b) = (rng.below(n), rng.below(n));
            let (start, end) = (a.min(b), a.max(b));
            for rev in [false, true] {
                let mut got = Vec::new();
                r.range_by_rank(start, end, rev, |m, s| got.push((m.to_vec(), s)));
                let mut want: Vec<_> = all.clone();
                if rev {
                    want.reverse();
                }
                assert_eq!(
                    bits(&got),
                    bits(&want[start..=end]),
                    "ranks {start}..={end} rev {rev}"
                );
            }
            let k = rng.below(n);
            assert_eq!(r.at(k).map(|(m, _)| m.to_vec()), Some(all[k].0.clone()));
        }
        for _ in 0..4 {
            let range = score_range(rng);
            let inside: Vec<_> = all
                .iter()
                .filter(|(_, s)| range.contains(*s))
                .cloned()
                .collect();
            let inside = if range.is_empty() { Vec::new() } else { inside };
            assert_eq!(r.count_in_score(&range), inside.len(), "{range:?}");
            for rev in [false, true] {
                let offset = rng.below(4);
                let limit = [None, Some(0), Some(1), Some(3), Some(1000)][rng.below(5)];
                let mut want = inside.clone();
                if rev {
                    want.reverse();
                }
                let want: Vec<_> = want
                    .into_iter()
                    .skip(offset)
                    .take(limit.unwrap_or(usize::MAX))
                    .collect();
                let mut got = Vec::new();
                r.range_by_score(&range, rev, offset, limit, |m, s| got.push((m.to_vec(), s)));
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{range:?} rev {rev} {offset} {limit:?}"
                );
            }
        }
        if equal {
            for _ in 0..4 {
                let range = LexRange {
                    min: lex_bound(rng, space),
                    max: lex_bound(rng, space),
                };
                let inside: Vec<_> = if range.is_empty() {
                    Vec::new()
                } else {
                    all.iter()
                        .filter(|(m, _)| range.contains(m))
                        .cloned()
                        .collect()
                };
                assert_eq!(r.count_in_lex(&range), inside.len(), "{range:?}");
                for rev in [false, true] {
                    let offset = rng.below(3);
                    let limit = [None, Some(0), Some(2)][rng.below(3)];
                    let mut want = inside.clone();
                    if rev {
                        want.reverse();
                    }
                    let want: Vec<_> = want
                        .into_iter()
                        .skip(offset)
                        .take(limit.unwrap_or(usize::MAX))
                        .collect();
                    let mut got = Vec::new();
                    r.range_by_lex(&range, rev, offset, limit, |m, s| got.push((m.to_vec(), s)));
                    assert_eq!(bits(&got), bits(&want), "{range:?} rev {rev}");
                }
            }
        }
        if let Some((m, s)) = r.random(rng.next()) {
            assert_eq!(model.scores.get(m).map(|x| x.to_bits()), Some(s.to_bits()));
        }
    }

    /// One random edit, applied to both.
    fn edit(
        z: &mut ZSet,
        model: &mut Model,
        rng: &mut TestRng,
        space: usize,
        equal: bool,
        limits: &Encodings,
    ) {
        // A big member space is a growth phase: mostly inserts.
        let pick = if space >= 20_000 && rng.below(2) == 0 {
            0
        } else {
            rng.below(100)
        };
        match pick {
            0..=54 => {
                let (m, s) = (member(rng, space), score(rng, equal));
                assert_eq!(z.insert(&m, s, limits), model.insert(&m, s));
            }
            55..=84 => {
                let m = member(rng, space);
                assert_eq!(z.remove(&m), model.remove(&m));
            }
            85..=91 => {
                let max = rng.below(2) == 0;
                let count = [0, 1, 1, 2, 5][rng.below(5)];
                let popped = z.pop(max, count);
                let want = model.first(max, count);
                assert_eq!(bits(&popped), bits(&want));
                for (m, _) in &want {
                    model.remove(m);
                }
            }
            92..=94 => {
                let n = model.scores.len();
                if n > 0 {
                    let start = rng.below(n);
                    let end = (start + rng.below(4)).min(n - 1);
                    let doomed = model.ranks(start, end + 1);
                    assert_eq!(z.remove_rank_range(start, end), doomed.len());
                    for (m, _) in doomed {
                        model.remove(&m);
                    }
                }
            }
            95..=97 => {
                let range = score_range(rng);
                let doomed: Vec<_> = if range.is_empty() {
                    Vec::new()
                } else {
                    model.matching(|_, s| range.contains(s))
                };
                // Keep these removals small, so that sets grow.
                if doomed.len() <= 6 {
                    assert_eq!(z.remove_score_range(&range), doomed.len(), "{range:?}");
                    for (m, _) in doomed {
                        model.remove(&m);
                    }
                }
            }
            _ => {
                if equal {
                    let range = LexRange {
                        min: lex_bound(rng, space),
                        max: lex_bound(rng, space),
                    };
                    let doomed: Vec<_> = if range.is_empty() {
                        Vec::new()
                    } else {
                        model.matching(|m, _| range.contains(m))
                    };
                    if doomed.len() <= 6 {
                        assert_eq!(z.remove_lex_range(&range), doomed.len());
                        for (m, _) in doomed {
                            model.remove(&m);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_sorted_set_agrees_with_a_btreemap_over_100k_random_operations() {
        let mut rng = TestRng(0x2e7_5eed);
        let small = limits(16, 24);
        let (mut packed_checks, mut tree_checks, mut conversions) = (0, 0, 0);
        let mut deepest = 0;
        // Rounds of a fresh set: a member space and whether all scores are
        // equal (for lex ranges); the big rounds grow trees of three levels.
        let rounds: &[(usize, bool, usize)] = &[
            (12, false, 3000),
            (40, true, 6000),
            (300, false, 15_000),
            (14, true, 3000),
            (20_000, false, 25_000),
            (600, true, 12_000),
            (30, false, 6000),
            (3000, true, 30_000),
        ];
        for &(space, equal, ops) in rounds {
            let mut z = ZSet::new();
            let mut model = Model::default();
            let mut was_packed = true;
            for op in 0..ops {
                edit(&mut z, &mut model, &mut rng, space, equal, &small);
                if matches!(z, ZSet::Tree(_)) && was_packed {
                    conversions += 1;
                    was_packed = false;
                }
                if let ZSet::Packed(p) = &z {
                    assert!(p.count() <= 16);
                    assert!(p.iter().all(element::is_valid));
                }
                let every = if model.scores.len() > 1000 { 997 } else { 41 };
                if op % every == 0 {
                    agree(&z, &model, &mut rng, space, equal);
                    match z {
                        ZSet::Packed(_) => packed_checks += 1,
                        ZSet::Tree(ref t) => {
                            tree_checks += 1;
                            deepest = deepest.max(t.depth());
                        }
                    }
                }
            }
            agree(&z, &model, &mut rng, space, equal);
            // Emptying a tree by pops leaves a sound, empty tree.
            let n = model.scores.len();
            assert_eq!(z.pop(false, n + 1).len(), n);
            assert!(z.is_empty());
            if let ZSet::Tree(t) = &z {
                t.check();
            }
        }
        assert!(
            packed_checks > 50 && tree_checks > 50,
            "{packed_checks} {tree_checks}"
        );
        assert!(conversions >= 6, "{conversions}");
        assert!(deepest >= 2, "inner nodes split and merge: depth {deepest}");
    }

    #[test]
    fn scores_encode_one_way_and_read_back_exactly() {
        let mut all: Vec<f64> = SCORES.to_vec();
        all.extend([
            i64::MAX as f64,
            i64::MIN as f64,
            f64::MIN_POSITIVE,
            5e-324,
            -7.0,
            127.0,
            128.0,
            -32768.0,
            1e15,
        ]);
        for k in 0..64 {
            all.push((1u64 << k) as f64);
            all.push(-((1u64 << k) as f64));
            all.push((1u64 << k) as f64 - 1.0);
        }
        for s in all {
            for m in [&b""[..], b"a", b"member"] {
                element::with(m, s, |e| {
                    assert!(element::is_valid(e), "{s}");
                    let (m2, s2) = element::read(e);
                    assert_eq!((m2, s2.to_bits()), (m, s.to_bits()), "{s}");
                });
            }
        }
        assert_eq!(element::head(7.0).1, 1);
        assert_eq!(element::head(-1.0).1, 2);
        assert_eq!(element::head(1_700_000_000_123.0).1, 7);
        assert_eq!(element::head(-0.0).1, 9, "-0 keeps its sign");
        assert_eq!(element::head(0.5).1, 9);
    }

    #[test]
    fn equal_scores_order_by_bytes_and_minus_zero_ties_with_zero() {
        let mut z = ZSet::new();
        let l = Encodings::DEFAULT;
        for (m, s) in [
            (&b"b"[..], 0.0),
            (b"ab", -0.0),
            (b"a", 0.0),
            (b"", 1.0),
            (b"\xff", -0.0),
        ] {
            assert_eq!(z.insert(m, s, &l), Added::New);
        }
        let want: Vec<&[u8]> = vec![b"a", b"ab", b"b", b"\xff", b""];
        for big in [false, true] {
            let got: Vec<&[u8]> = z.as_ref().iter().map(|(m, _)| m).collect();
            assert_eq!(got, want, "big {big}");
            assert!(z.as_ref().score(b"ab").unwrap().is_sign_negative());
            z = z.into_big();
        }
        // An equal score is no change, and the old zero's sign stays.
        assert_eq!(z.insert(b"ab", 0.0, &l), Added::Same);
        assert!(z.as_ref().score(b"ab").unwrap().is_sign_negative());
        assert_eq!(z.insert(b"ab", 2.0, &l), Added::Updated(-0.0));
    }

    #[test]
    fn a_packed_set_converts_past_either_limit_and_never_back() {
        let l = limits(3, 5);
        let mut z = ZSet::new();
        for (i, m) in [b"a", b"b", b"c"].into_iter().enumerate() {
            z.insert(m, i as f64, &l);
        }
        assert_eq!(z.as_ref().encoding(), "listpack");
        assert_eq!(z.insert(b"a", 9.0, &l), Added::Updated(0.0));
        assert_eq!(
            z.as_ref().encoding(),
            "listpack",
            "an update never converts"
        );
        assert_eq!(z.insert(b"d", 1.0, &l), Added::New);
        assert_eq!(z.as_ref().encoding(), "skiplist");
        z.remove(b"d");
        z.remove(b"a");
        assert_eq!(z.as_ref().encoding(), "skiplist");
        let mut long = ZSet::new();
        long.insert(b"12345", 1.0, &l);
        assert_eq!(long.as_ref().encoding(), "listpack");
        long.insert(b"123456", 1.0, &l);
        assert_eq!(long.as_ref().encoding(), "skiplist");
        let mut none = ZSet::new();
        none.insert(b"x", 1.0, &limits(0, 64));
        assert_eq!(none.as_ref().encoding(), "skiplist");
        assert_eq!(ZSet::new().as_ref().encoding(), "listpack");
    }

    #[test]
    fn ranges_know_when_they_are_empty() {
        let r = |min, min_exclusive, max, max_exclusive| ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        };
        assert!(!r(1.0, false, 1.0, false).is_empty());
        assert!(r(1.0, true, 1.0, false).is_empty());
        assert!(r(2.0, false, 1.0, false).is_empty());
        assert!(!r(f64::NEG_INFINITY, false, f64::INFINITY, false).is_empty());
        assert!(r(f64::INFINITY, true, f64::INFINITY, false).is_empty());
        assert!(r(1.0, true, 2.0, true).contains(1.5));
        assert!(!r(1.0, true, 2.0, true).contains(2.0));
        assert!(r(-0.0, false, 0.0, false).contains(0.0));
        use LexBound::*;
        let x = |m: &str| m.as_bytes().to_vec();
        let lex = |min, max| LexRange { min, max };
        assert!(lex(Max, Max).is_empty());
        assert!(lex(Min, Min).is_empty());
        assert!(!lex(Min, Max).is_empty());
        assert!(!lex(Inclusive(x("a")), Inclusive(x("a"))).is_empty());
        assert!(lex(Exclusive(x("a")), Inclusive(x("a"))).is_empty());
        assert!(lex(Inclusive(x("b")), Exclusive(x("a"))).is_empty());
        assert!(lex(Inclusive(x("a")), Exclusive(x("b"))).contains(b"ab"));
        assert!(!lex(Inclusive(x("a")), Exclusive(x("b"))).contains(b"b"));
        assert!(lex(Min, Max).contains(b""));
    }

    fn big(n: usize) -> ZSet {
        let mut z = ZSet::new();
        for i in 0..n {
            z.insert(
                format!("m{i}").as_bytes(),
                (i % 1000) as f64,
                &limits(0, 64),
            );
        }
        z
    }

    #[test]
    fn a_big_set_copies_deeply_and_counts_its_bytes() {
        let z = big(5000);
        let ZSet::Tree(t) = &z else { panic!() };
        t.check();
        let mut copy = z.clone();
        let ZSet::Tree(c) = &copy else { panic!() };
        c.check();
        assert_eq!(listed(z.as_ref()), listed(copy.as_ref()));
        assert!(copy.remove(b"m7"));
        assert_eq!(z.as_ref().score(b"m7"), Some(7.0));
        assert_eq!(copy.as_ref().score(b"m7"), None);
        // The footprint follows the table and the tree, and shrinks back.
        let before = z.as_ref().footprint();
        assert!(before > 5000 * 40 && before < 5000 * 80, "{before}");
        let mut z = z;
        for i in 0..4990 {
            z.remove(format!("m{i}").as_bytes());
        }
        let ZSet::Tree(t) = &z else { panic!() };
        t.check();
        assert!(z.as_ref().footprint() < 2000, "{}", z.as_ref().footprint());
        assert_eq!(z.as_ref().to_zset().len(), 10);
    }

    #[test]
    fn samples_are_distinct_members_and_scans_cover_the_set() {
        for z in [big(50), {
            let mut p = ZSet::new();
            for i in 0..50 {
                p.insert(format!("m{i}").as_bytes(), i as f64, &Encodings::DEFAULT);
            }
            p
        }] {
            let mut seeds = Seeds::new(9);
            let all: HashSet<Vec<u8>> = z.as_ref().iter().map(|(m, _)| m.to_vec()).collect();
            for count in [0, 1, 5, 16, 17, 49, 50, 51] {
                let s = z.as_ref().sample_distinct(count, &mut seeds);
                assert_eq!(s.len(), count.min(50));
                let distinct: HashSet<Vec<u8>> = s.iter().map(|(m, _)| m.to_vec()).collect();
                assert_eq!(distinct.len(), s.len());
                assert!(distinct.is_subset(&all));
                for (m, sc) in s {
                    assert_eq!(z.as_ref().score(m), Some(sc));
                }
            }
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                cursor = z.as_ref().scan(cursor, 3, |m, s| {
                    assert_eq!(z.as_ref().score(m), Some(s));
                    seen.insert(m.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, all);
        }
        assert_eq!(ZSet::new().as_ref().random(3), None);
    }
}
