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

use super::random::Seeds;
pub use super::ztree::ZTree;
use super::{Encodings, Pack, PackView};

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
    /// The member was there with this very score (bit for bit): nothing
    /// changed.
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
        todo!()
    }

    /// Sets `member`'s score to `score` (never NaN), adding the member if
    /// new. Converts to the big encoding first if the member is longer
    /// than `zset-max-listpack-value` bytes, and after if the set then has
    /// more than `zset-max-listpack-entries` members.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &Encodings) -> Added {
        let _ = (member, score, limits);
        todo!()
    }

    /// Removes `member`: true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let _ = member;
        todo!()
    }

    /// Removes up to `count` members from the low end (the high end if
    /// `max`) and returns them with their scores, in the order popped.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let _ = (max, count);
        todo!()
    }

    /// Removes the members of ascending ranks `start..=end` (which the
    /// caller has clamped to the set) and returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let _ = (start, end);
        todo!()
    }

    /// Removes the members whose scores are in `range`; returns how many.
    pub fn remove_score_range(&mut self, range: &ScoreRange) -> usize {
        let _ = range;
        todo!()
    }

    /// Removes the members in the lex `range`; returns how many.
    pub fn remove_lex_range(&mut self, range: &LexRange) -> usize {
        let _ = range;
        todo!()
    }
}

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
        let _ = member;
        todo!()
    }

    /// `member`'s 0-based rank in ascending order, or from the high end
    /// when `rev`.
    pub fn rank(self, member: &[u8], rev: bool) -> Option<usize> {
        let _ = (member, rev);
        todo!()
    }

    /// Visits the members of ranks `start..=end` (counted from the high end
    /// when `rev`, and visited in that order) with their scores; the
    /// caller clamps the ranks to the set.
    pub fn range_by_rank(
        self,
        start: usize,
        end: usize,
        rev: bool,
        visit: impl FnMut(&'a [u8], f64),
    ) {
        let _ = (start, end, rev, visit);
        todo!()
    }

    /// Visits the members whose scores are in `range`, ascending (from the
    /// high end when `rev`), skipping the first `offset` of them and
    /// stopping after `limit` if given.
    pub fn range_by_score(
        self,
        range: &ScoreRange,
        rev: bool,
        offset: usize,
        limit: Option<usize>,
        visit: impl FnMut(&'a [u8], f64),
    ) {
        let _ = (range, rev, offset, limit, visit);
        todo!()
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
        let _ = (range, rev, offset, limit, visit);
        todo!()
    }

    /// Members whose scores are in `range` (`ZCOUNT`).
    pub fn count_in_score(self, range: &ScoreRange) -> usize {
        let _ = range;
        todo!()
    }

    /// Members in the lex `range` (`ZLEXCOUNT`).
    pub fn count_in_lex(self, range: &LexRange) -> usize {
        let _ = range;
        todo!()
    }

    /// Every member with its score, in ascending (score, member) order.
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], f64)> + 'a {
        std::iter::empty()
    }

    /// A random member with its score, `None` only if empty; `seed` drives
    /// the choice.
    pub fn random(self, seed: u64) -> Option<(&'a [u8], f64)> {
        let _ = seed;
        todo!()
    }

    /// `count` distinct random members (all of them if there are no more),
    /// as Redis's `ZRANDMEMBER key count` chooses them.
    pub fn sample_distinct(self, count: usize, seeds: &mut Seeds) -> Vec<(&'a [u8], f64)> {
        let _ = (count, seeds);
        todo!()
    }

    /// One step of `ZSCAN` from `cursor`: visits members and returns the
    /// next cursor, 0 when complete; a packed set visits everything at once
    /// and returns 0.
    pub fn scan(self, cursor: u64, count: usize, visit: impl FnMut(&'a [u8], f64)) -> u64 {
        let _ = (cursor, count, visit);
        todo!()
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
