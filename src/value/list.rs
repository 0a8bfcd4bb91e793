//! Lists: one [`Pack`] while the list fits one node of
//! `list-max-listpack-size`, a [`QuickList`] of packs beyond. Redis 7.0
//! calls both `quicklist`, and so does `OBJECT ENCODING`.
//!
//! This is the typed layer the list commands use: pushes and pops at
//! either [`End`], reads and edits by index with Redis's negative indexes
//! ([`index_of`], [`span`]), `LINSERT`'s pivot, `LREM`'s counted removal,
//! `LTRIM`, and `LPOS`'s search. Each costs what it touches (the elements
//! pushed, popped, read or trimmed, and the walk to the first of them),
//! except the searches, which are O(n) as in Redis.
//!
//! A packed list converts to a [`QuickList`] when an edit would take it
//! past one node's [`Fill`] (its pack becomes the first node, nothing is
//! copied), and never back, as Redis 7.0 never converts back. Elements
//! are at most [`pack::MAX_ELEMENT`](super::pack::MAX_ELEMENT) bytes: the
//! command layer refuses longer ones, as the packs panic on them. Never
//! takes a lock or does I/O.

use super::pack::encoded_len;
use super::quicklist::Fill;
use super::{Pack, PackView, QuickList};
use std::ops::Range;

/// An owned list.
#[derive(Debug, Clone)]
pub enum List {
    /// Elements of one pack.
    Packed(Pack),
    /// A list of packs.
    Quick(Box<QuickList>),
}

/// A borrowed list.
#[derive(Debug, Clone, Copy)]
pub enum ListRef<'a> {
    /// Elements of one pack.
    Packed(PackView<'a>),
    /// A list of packs.
    Quick(&'a QuickList),
}

/// One end of a list: `LEFT` (the head, index 0) or `RIGHT` (the tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (`LPUSH`, `LPOP`, `LEFT`).
    Head,
    /// The tail (`RPUSH`, `RPOP`, `RIGHT`).
    Tail,
}

impl End {
    /// `LEFT` or `RIGHT`, as `LMOVE` names it.
    pub fn word(self) -> &'static str {
        match self {
            End::Head => "LEFT",
            End::Tail => "RIGHT",
        }
    }

    /// The pop command at this end.
    pub fn pop_command(self) -> &'static str {
        match self {
            End::Head => "LPOP",
            End::Tail => "RPOP",
        }
    }

    /// The event Redis fires for a pop at this end.
    pub fn pop_event(self) -> &'static str {
        match self {
            End::Head => "lpop",
            End::Tail => "rpop",
        }
    }

    /// The event Redis fires for a push at this end.
    pub fn push_event(self) -> &'static str {
        match self {
            End::Head => "lpush",
            End::Tail => "rpush",
        }
    }
}

/// The position Redis's `index` names in a list of `len` elements
/// (negative counts from the tail, -1 the last), if there is one.
pub fn index_of(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(index).ok()?
    };
    (i < len).then_some(i)
}

/// The positions `start..=stop` name in a list of `len` elements, as
/// `LRANGE` and `LTRIM` read them (negative from the tail, clamped), as a
/// half-open range; empty when `start` is past `stop` or the end.
pub fn span(len: usize, start: i64, stop: i64) -> Range<usize> {
    let resolve = |i: i64| -> i64 {
        if i < 0 {
            (len as i64).saturating_add(i)
        } else {
            i
        }
    };
    let start = resolve(start).max(0);
    let stop = resolve(stop);
    if start > stop || start >= len as i64 {
        return 0..0;
    }
    let stop = stop.min(len as i64 - 1);
    start as usize..stop as usize + 1
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

impl List {
    /// An empty list, packed.
    pub fn new() -> List {
        List::Packed(Pack::new())
    }

    /// The same list as a list of packs, each within `fill`.
    pub fn into_quick(self, fill: Fill) -> List {
        match self {
            List::Packed(p) => List::Quick(Box::new(QuickList::from_pack(p, fill))),
            quick => quick,
        }
    }

    /// The same list as a list of packs (Redis's default node size).
    pub fn into_big(self) -> List {
        self.into_quick(Fill::from_redis(-2))
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> ListRef<'_> {
        match self {
            List::Packed(p) => ListRef::Packed(p.view()),
            List::Quick(q) => ListRef::Quick(q),
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The list of packs, converting a packed list whose pack would no
    /// longer fit one node of `fill` once it holds `bytes` content bytes
    /// and `count` elements; `None` while it stays packed.
    fn quick_unless_fits(
        &mut self,
        bytes: usize,
        count: usize,
        fill: Fill,
    ) -> Option<&mut QuickList> {
        if let List::Packed(p) = self {
            if fill.allows(bytes, count) {
                return None;
            }
            let pack = std::mem::take(p);
            *self = List::Quick(Box::new(QuickList::from_pack(pack, fill)));
        }
        match self {
            List::Quick(q) => Some(q),
            List::Packed(_) => None,
        }
    }

    /// The growth an edit adds to a packed list: its bytes and count after.
    fn grown(&self, add_bytes: usize, add_count: usize) -> (usize, usize) {
        match self {
            List::Packed(p) => (p.byte_len() + add_bytes, p.count() + add_count),
            List::Quick(_) => (0, 0),
        }
    }

    /// Adds `elem` at `end`.
    pub fn push(&mut self, end: End, elem: &[u8], fill: Fill) {
        let (bytes, count) = self.grown(encoded_len(elem.len()), 1);
        match self.quick_unless_fits(bytes, count, fill) {
            Some(q) => match end {
                End::Head => q.push_front(elem, fill),
                End::Tail => q.push_back(elem, fill),
            },
            None => {
                if let List::Packed(p) = self {
                    match end {
                        End::Head => p.push_front(elem),
                        End::Tail => p.push_back(elem),
                    }
                }
            }
        }
    }

    /// Adds each of `elems` at `end` in turn (so `LPUSH k a b` leaves `b`
    /// first).
    pub fn push_all<'e>(
        &mut self,
        end: End,
        elems: impl IntoIterator<Item = &'e [u8]>,
        fill: Fill,
    ) {
        for elem in elems {
            self.push(end, elem, fill);
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match (self, end) {
            (List::Packed(p), End::Head) => p.pop_front(),
            (List::Packed(p), End::Tail) => p.pop_back(),
            (List::Quick(q), End::Head) => q.pop_front(),
            (List::Quick(q), End::Tail) => q.pop_back(),
        }
    }

    /// Removes up to `count` elements from `end` and returns them in the
    /// order they were popped (from the tail: last first).
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<Vec<u8>> {
        let len = self.len();
        let n = count.min(len);
        if n == 0 {
            return Vec::new();
        }
        let start = match end {
            End::Head => 0,
            End::Tail => len - n,
        };
        let view = self.as_ref();
        let popped: Vec<Vec<u8>> = match end {
            End::Head => view.range_of(0..n).map(<[u8]>::to_vec).collect(),
            End::Tail => view
                .range_of(start..len)
                .rev()
                .map(<[u8]>::to_vec)
                .collect(),
        };
        self.remove_range(start, n);
        popped
    }

    /// Removes up to `n` elements from position `start` on; returns how
    /// many it removed.
    fn remove_range(&mut self, start: usize, n: usize) -> usize {
        match self {
            List::Packed(p) => p.remove_range(start, n),
            List::Quick(q) => q.remove_range(start, n),
        }
    }

    /// Replaces the element at position `index` with `elem`; false if
    /// there is none.
    pub fn set(&mut self, index: usize, elem: &[u8], fill: Fill) -> bool {
        let (bytes, count) = match self {
            List::Packed(p) => match p.get(index) {
                Some(old) => (
                    p.byte_len() - encoded_len(old.len()) + encoded_len(elem.len()),
                    p.count(),
                ),
                None => return false,
            },
            List::Quick(_) => (0, 0),
        };
        match self.quick_unless_fits(bytes, count, fill) {
            Some(q) => q.set(index, elem, fill),
            None => match self {
                List::Packed(p) => p.replace(index, elem),
                List::Quick(_) => false,
            },
        }
    }

    /// Inserts `elem` so that it becomes the element at position `index`
    /// (`index == len()` appends); false, and nothing changes, past that.
    pub fn insert(&mut self, index: usize, elem: &[u8], fill: Fill) -> bool {
        if index > self.len() {
            return false;
        }
        let (bytes, count) = self.grown(encoded_len(elem.len()), 1);
        match self.quick_unless_fits(bytes, count, fill) {
            Some(q) => q.insert(index, elem, fill),
            None => match self {
                List::Packed(p) => p.insert(index, elem),
                List::Quick(_) => false,
            },
        }
    }

    /// Removes elements equal to `elem` as `LREM` counts them: the first
    /// `count` from the head when positive, the last `-count` from the
    /// tail when negative, all of them when 0. Returns how many it
    /// removed. O(n).
    pub fn remove_matching(&mut self, elem: &[u8], count: i64) -> usize {
        let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let from_back = count < 0;
        match self {
            List::Quick(q) => q.remove_matching(elem, limit, from_back),
            List::Packed(p) => {
                let limit = if limit == 0 { usize::MAX } else { limit };
                // From the back, the last `limit` matches go: skip the rest.
                let mut skip = if from_back {
                    p.iter()
                        .filter(|&e| e == elem)
                        .count()
                        .saturating_sub(limit)
                } else {
                    0
                };
                let mut left = limit;
                p.retain(|e| {
                    if left == 0 || e != elem {
                        return true;
                    }
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    left -= 1;
                    false
                })
            }
        }
    }

    /// Keeps only the elements `start..=stop` name (as `LTRIM` reads them);
    /// returns how many it removed. An empty range removes everything.
    pub fn trim(&mut self, start: i64, stop: i64) -> usize {
        let len = self.len();
        let keep = span(len, start, stop);
        let tail = self.remove_range(keep.end, len - keep.end);
        tail + self.remove_range(0, keep.start)
    }
}

/// A list's elements in order, from either end.
pub enum ListIter<'a> {
    /// Of one pack.
    Packed(super::pack::Iter<'a>),
    /// Of a list of packs.
    Quick(super::quicklist::Iter<'a>),
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            ListIter::Packed(i) => i.next(),
            ListIter::Quick(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ListIter::Packed(i) => i.size_hint(),
            ListIter::Quick(i) => i.size_hint(),
        }
    }
}

impl<'a> DoubleEndedIterator for ListIter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        match self {
            ListIter::Packed(i) => i.next_back(),
            ListIter::Quick(i) => i.next_back(),
        }
    }
}

impl<'a> ListRef<'a> {
    /// Every element, head to tail (`.rev()` for tail to head).
    pub fn iter(self) -> ListIter<'a> {
        match self {
            ListRef::Packed(p) => ListIter::Packed(p.iter()),
            ListRef::Quick(q) => ListIter::Quick(q.iter()),
        }
    }

    /// The elements at `positions` (clamped to the list), either way.
    pub fn range_of(self, positions: Range<usize>) -> ListIter<'a> {
        let Range { start, end } = positions;
        match self {
            ListRef::Packed(p) => ListIter::Packed(p.range(start, end)),
            ListRef::Quick(q) if start >= end => ListIter::Quick(q.range(1, 0)),
            ListRef::Quick(q) => ListIter::Quick(q.range(start, end - 1)),
        }
    }

    /// The elements `start..=stop` name, as `LRANGE` reads them.
    pub fn range(self, start: i64, stop: i64) -> ListIter<'a> {
        self.range_of(span(self.len(), start, stop))
    }

    /// The element Redis's `index` names (negative from the tail).
    pub fn get(self, index: i64) -> Option<&'a [u8]> {
        self.at(index_of(self.len(), index)?)
    }

    /// The element at position `i` from the head.
    pub fn at(self, i: usize) -> Option<&'a [u8]> {
        match self {
            ListRef::Packed(p) => p.get(i),
            ListRef::Quick(q) => q.get(i),
        }
    }

    /// The element at `end`.
    pub fn end(self, end: End) -> Option<&'a [u8]> {
        match (self, end) {
            (ListRef::Packed(p), End::Head) => p.front(),
            (ListRef::Packed(p), End::Tail) => p.back(),
            (ListRef::Quick(q), End::Head) => q.front(),
            (ListRef::Quick(q), End::Tail) => q.back(),
        }
    }
}

impl ListRef<'_> {
    /// An owned copy (of every element: O(n)).
    pub fn to_list(self) -> List {
        match self {
            ListRef::Packed(x) => List::Packed(Pack::from_view(x)),
            ListRef::Quick(x) => List::Quick(Box::new(x.clone())),
        }
    }

    /// Elements.
    pub fn len(self) -> usize {
        match self {
            ListRef::Packed(p) => p.count(),
            ListRef::Quick(q) => q.len(),
        }
    }

    /// Whether it has no element.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Bytes taken from the allocator beyond the entry (0 when packed,
    /// kept inline in it): O(1).
    pub fn footprint(self) -> usize {
        match self {
            ListRef::Packed(_) => 0,
            ListRef::Quick(q) => {
                crate::memory::chunk(std::mem::size_of::<QuickList>()) + q.footprint()
            }
        }
    }

    /// `OBJECT ENCODING`'s name for it (Redis 7.0 has one for lists).
    pub fn encoding(self) -> &'static str {
        "quicklist"
    }

    /// The position of the first element equal to `elem`, from the head
    /// (`LINSERT`'s pivot). O(n).
    pub fn find(self, elem: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == elem)
    }

    /// How many elements equal `elem`. O(n).
    pub fn count_of(self, elem: &[u8]) -> usize {
        self.iter().filter(|&e| e == elem).count()
    }

    /// `LPOS`'s search: the positions (from the head) of the elements
    /// equal to `elem`, skipping the first `rank - 1` matches and walking
    /// from the tail when `rank` is negative, at most `count` of them (0:
    /// all), looking at no more than `maxlen` elements (0: all). `rank`
    /// must not be 0. The most negative rank skips nothing: Redis negates
    /// the rank in C, where that one stays negative, and every match then
    /// counts. O(n).
    pub fn positions(self, elem: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        debug_assert!(rank != 0, "LPOS refuses a rank of 0");
        let len = self.len();
        let skip = match rank {
            i64::MIN => 0,
            r => usize::try_from(r.unsigned_abs()).unwrap_or(usize::MAX) - 1,
        };
        let scanned = if maxlen == 0 { usize::MAX } else { maxlen };
        let wanted = if count == 0 { usize::MAX } else { count };
        let matches: Box<dyn Iterator<Item = usize>> = if rank < 0 {
            Box::new(
                self.iter()
                    .rev()
                    .take(scanned)
                    .enumerate()
                    .filter(|(_, e)| *e == elem)
                    .map(move |(i, _)| len - 1 - i),
            )
        } else {
            Box::new(
                self.iter()
                    .take(scanned)
                    .enumerate()
                    .filter(|(_, e)| *e == elem)
                    .map(|(i, _)| i),
            )
        };
        matches.skip(skip).take(wanted).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use crate::value::random::TestRng as Rng;

    /// Indexes as a client sends them.
    trait Indexes {
        fn index(&mut self, len: usize) -> i64;
    }

    impl Indexes for Rng {
        /// An index as a client sends one: mostly in range, either sign,
        /// sometimes far out.
        fn index(&mut self, len: usize) -> i64 {
            let len = len as i64;
            match self.below(10) {
                0 => i64::MIN + self.below(3) as i64,
                1 => i64::MAX - self.below(3) as i64,
                2..=5 => self.below(len as usize + 3) as i64 - 1,
                _ => -(self.below(len as usize + 3) as i64),
            }
        }
    }

    /// Short elements from a small alphabet (so searches find matches),
    /// now and then an empty one or one bigger than a node.
    fn element(rng: &mut Rng) -> Vec<u8> {
        match rng.below(30) {
            0 => vec![b'B'; 300 + rng.below(300)],
            1 => Vec::new(),
            2..=15 => vec![b'a' + rng.below(3) as u8],
            _ => (0..rng.below(12))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect(),
        }
    }

    /// The model's reading of Redis's index.
    fn model_index(len: usize, index: i64) -> Option<usize> {
        let i = if index < 0 {
            len as i128 + index as i128
        } else {
            index as i128
        };
        (0..len as i128).contains(&i).then_some(i as usize)
    }

    /// The model's reading of a start/stop pair.
    fn model_span(len: usize, start: i64, stop: i64) -> Range<usize> {
        let len = len as i128;
        let mut s = start as i128;
        let mut e = stop as i128;
        if s < 0 {
            s += len;
        }
        if e < 0 {
            e += len;
        }
        s = s.max(0);
        if s > e || s >= len {
            return 0..0;
        }
        s as usize..(e.min(len - 1) + 1) as usize
    }

    fn model_lrem(model: &mut VecDeque<Vec<u8>>, elem: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == elem).collect();
        if count < 0 {
            hits.reverse();
        }
        hits.truncate(limit);
        hits.sort_unstable();
        for &i in hits.iter().rev() {
            model.remove(i);
        }
        hits.len()
    }

    fn model_positions(
        model: &VecDeque<Vec<u8>>,
        elem: &[u8],
        rank: i64,
        count: usize,
        maxlen: usize,
    ) -> Vec<usize> {
        let len = model.len();
        let order: Vec<usize> = if rank < 0 {
            (0..len).rev().collect()
        } else {
            (0..len).collect()
        };
        let scanned = if maxlen == 0 { len } else { maxlen.min(len) };
        let mut out = Vec::new();
        let mut matches = 0u64;
        // Redis's `-rank` leaves i64::MIN negative: every match counts.
        let first = if rank == i64::MIN {
            1
        } else {
            rank.unsigned_abs()
        };
        for &i in &order[..scanned] {
            if model[i] == elem {
                matches += 1;
                if matches >= first {
                    out.push(i);
                    if count != 0 && out.len() >= count {
                        break;
                    }
                }
            }
        }
        out
    }

    /// Every read against the model, and the encoding invariant: packed
    /// only while one node of `fill` holds the list.
    fn check(list: &List, model: &VecDeque<Vec<u8>>, fill: Fill, was_quick: bool) {
        let view = list.as_ref();
        assert_eq!(view.len(), model.len());
        assert!(view.iter().eq(model.iter().map(|e| &e[..])));
        assert!(view.iter().rev().eq(model.iter().rev().map(|e| &e[..])));
        if let List::Packed(p) = list {
            assert!(!was_quick, "a list of packs went back to one pack");
            assert!(fill.allows(p.byte_len(), p.count()), "a pack past its fill");
        }
    }

    fn random_operations(fill: Fill, seed: u64) {
        let mut rng = Rng(seed);
        let mut list = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut was_quick = false;
        for step in 0..6000 {
            let end = if rng.below(2) == 0 {
                End::Head
            } else {
                End::Tail
            };
            match rng.below(16) {
                0..=3 => {
                    let elems: Vec<Vec<u8>> =
                        (0..1 + rng.below(4)).map(|_| element(&mut rng)).collect();
                    list.push_all(end, elems.iter().map(Vec::as_slice), fill);
                    for e in elems {
                        match end {
                            End::Head => model.push_front(e),
                            End::Tail => model.push_back(e),
                        }
                    }
                }
                4 => {
                    let want = match end {
                        End::Head => model.pop_front(),
                        End::Tail => model.pop_back(),
                    };
                    assert_eq!(list.pop(end), want, "step {step}");
                }
                5 => {
                    let n = rng.below(6);
                    let want: Vec<Vec<u8>> = (0..n)
                        .map_while(|_| match end {
                            End::Head => model.pop_front(),
                            End::Tail => model.pop_back(),
                        })
                        .collect();
                    assert_eq!(list.pop_many(end, n), want, "step {step}");
                }
                6 => {
                    let index = rng.index(model.len());
                    let e = element(&mut rng);
                    let at = model_index(model.len(), index);
                    let ok = at.is_some_and(|i| list.set(i, &e, fill));
                    assert_eq!(ok, at.is_some(), "step {step}");
                    if let Some(i) = at {
                        model[i] = e;
                    }
                }
                7 => {
                    let pivot = element(&mut rng);
                    let e = element(&mut rng);
                    let after = rng.below(2) == 0;
                    let found = list.as_ref().find(&pivot);
                    assert_eq!(found, model.iter().position(|x| *x == pivot));
                    if let Some(i) = found {
                        let at = i + usize::from(after);
                        assert!(list.insert(at, &e, fill));
                        model.insert(at, e);
                    }
                }
                8 => {
                    let e = vec![b'a' + rng.below(3) as u8];
                    let count = match rng.below(4) {
                        0 => 0,
                        1 => i64::MIN,
                        _ => rng.below(5) as i64 - 2,
                    };
                    let want = model_lrem(&mut model, &e, count);
                    assert_eq!(list.remove_matching(&e, count), want, "step {step}");
                }
                9 => {
                    if rng.below(4) == 0 {
                        let (start, stop) = (rng.index(model.len()), rng.index(model.len()));
                        let keep = model_span(model.len(), start, stop);
                        let removed = model.len() - keep.len();
                        model = model.drain(keep).collect();
                        assert_eq!(list.trim(start, stop), removed, "step {step}");
                    }
                }
                10 | 11 => {
                    let (start, stop) = (rng.index(model.len()), rng.index(model.len()));
                    let keep = model_span(model.len(), start, stop);
                    assert_eq!(span(model.len(), start, stop), keep);
                    let want = model.range(keep);
                    let view = list.as_ref();
                    assert!(view.range(start, stop).eq(want.clone().map(|e| &e[..])));
                    assert!(view.range(start, stop).rev().eq(want.rev().map(|e| &e[..])));
                }
                12 => {
                    let index = rng.index(model.len());
                    let want = model_index(model.len(), index).map(|i| &model[i][..]);
                    assert_eq!(
                        index_of(model.len(), index),
                        model_index(model.len(), index)
                    );
                    assert_eq!(list.as_ref().get(index), want, "step {step}");
                    assert_eq!(list.as_ref().end(End::Head), model.front().map(|e| &e[..]));
                    assert_eq!(list.as_ref().end(End::Tail), model.back().map(|e| &e[..]));
                }
                _ => {
                    let e = vec![b'a' + rng.below(3) as u8];
                    let rank = match rng.below(6) {
                        0 => i64::MIN,
                        1 => i64::MAX,
                        r => r as i64 - 3,
                    };
                    let rank = if rank == 0 { 1 } else { rank };
                    let (count, maxlen) = (rng.below(4), rng.below(8));
                    assert_eq!(
                        list.as_ref().positions(&e, rank, count, maxlen),
                        model_positions(&model, &e, rank, count, maxlen),
                        "step {step}: rank {rank} count {count} maxlen {maxlen}"
                    );
                    assert_eq!(
                        list.as_ref().count_of(&e),
                        model.iter().filter(|x| **x == e).count()
                    );
                }
            }
            check(&list, &model, fill, was_quick);
            was_quick |= matches!(list, List::Quick(_));
            if model.is_empty() && rng.below(3) == 0 {
                // An emptied list stops existing; the next one starts packed.
                list = List::new();
                was_quick = false;
            }
        }
    }

    #[test]
    fn random_edits_match_a_deque_under_a_byte_fill() {
        random_operations(Fill::Bytes(128), 11);
    }

    #[test]
    fn random_edits_match_a_deque_under_a_count_fill() {
        random_operations(Fill::Count(5), 12);
    }

    #[test]
    fn random_edits_match_a_deque_under_redis_default() {
        random_operations(Fill::from_redis(-2), 13);
    }

    #[test]
    fn a_list_stays_packed_while_one_node_holds_it_then_converts_for_good() {
        let fill = Fill::Count(3);
        let mut list = List::new();
        list.push_all(End::Tail, [&b"a"[..], b"b", b"c"], fill);
        assert!(matches!(list, List::Packed(_)));
        list.push(End::Head, b"z", fill);
        assert!(matches!(list, List::Quick(_)));
        assert!(list.as_ref().iter().eq([&b"z"[..], b"a", b"b", b"c"]));
        list.pop_many(End::Tail, 3);
        assert!(
            matches!(list, List::Quick(_)),
            "never back, as in Redis 7.0"
        );
        // An element bigger than a node converts on its own.
        let mut list = List::new();
        list.push(End::Tail, &[b'x'; 9000], Fill::from_redis(-2));
        assert!(matches!(list, List::Quick(_)));
        // So does a replacement or an insertion that overflows the pack.
        let mut list = List::new();
        list.push_all(End::Tail, [&b"a"[..], b"b"], Fill::Bytes(8));
        assert!(matches!(list, List::Packed(_)));
        assert!(list.set(1, b"longer", Fill::Bytes(8)));
        assert!(matches!(list, List::Quick(_)));
        let mut list = List::new();
        list.push_all(End::Tail, [&b"a"[..], b"b"], Fill::Count(2));
        assert!(list.insert(1, b"m", Fill::Count(2)));
        assert!(matches!(list, List::Quick(_)));
        assert!(list.as_ref().iter().eq([&b"a"[..], b"m", b"b"]));
        assert!(!list.insert(9, b"x", Fill::Count(2)));
        assert!(!list.set(9, b"x", Fill::Count(2)));
    }

    #[test]
    fn indexes_read_as_redis_reads_them() {
        assert_eq!(index_of(3, 0), Some(0));
        assert_eq!(index_of(3, -1), Some(2));
        assert_eq!(index_of(3, -3), Some(0));
        assert_eq!((index_of(3, -4), index_of(3, 3)), (None, None));
        assert_eq!((index_of(3, i64::MIN), index_of(3, i64::MAX)), (None, None));
        assert_eq!(index_of(0, 0), None);
        assert_eq!(span(5, 0, -1), 0..5);
        assert_eq!(span(5, -100, 100), 0..5);
        assert_eq!(span(5, 2, 1), 0..0);
        assert_eq!(span(5, 5, 10), 0..0);
        assert_eq!(span(5, -2, -1), 3..5);
        assert_eq!(span(5, i64::MIN, i64::MIN), 0..0);
        assert_eq!(span(5, i64::MIN, i64::MAX), 0..5);
        assert_eq!(span(0, 0, -1), 0..0);
    }

    #[test]
    fn pops_from_the_tail_come_last_first_and_trim_keeps_the_span() {
        let mut list = List::new();
        let fill = Fill::Count(2);
        list.push_all(End::Tail, [&b"1"[..], b"2", b"3", b"4", b"5"], fill);
        assert_eq!(list.pop_many(End::Tail, 2), [b"5".to_vec(), b"4".to_vec()]);
        assert_eq!(list.pop_many(End::Head, 0), Vec::<Vec<u8>>::new());
        assert_eq!(list.trim(1, -1), 1);
        assert!(list.as_ref().iter().eq([&b"2"[..], b"3"]));
        assert_eq!(list.trim(5, 10), 2);
        assert!(list.is_empty());
    }

    #[test]
    fn lpos_skips_by_rank_and_stops_at_count_and_maxlen() {
        let mut list = List::new();
        let fill = Fill::from_redis(-2);
        list.push_all(
            End::Tail,
            [&b"a"[..], b"b", b"c", b"1", b"2", b"3", b"c", b"c"],
            fill,
        );
        let view = list.as_ref();
        assert_eq!(view.positions(b"c", 1, 1, 0), [2]);
        assert_eq!(view.positions(b"c", 2, 1, 0), [6]);
        assert_eq!(view.positions(b"c", -1, 1, 0), [7]);
        assert_eq!(view.positions(b"c", -2, 0, 0), [6, 2]);
        assert_eq!(view.positions(b"c", 1, 0, 0), [2, 6, 7]);
        assert_eq!(view.positions(b"c", 1, 2, 0), [2, 6]);
        assert_eq!(view.positions(b"c", 1, 0, 3), [2]);
        assert_eq!(view.positions(b"c", 1, 0, 2), Vec::<usize>::new());
        assert_eq!(view.positions(b"x", 1, 0, 0), Vec::<usize>::new());
        assert_eq!(view.positions(b"c", i64::MIN, 0, 0), [7, 6, 2]);
        assert_eq!(view.positions(b"c", i64::MAX, 0, 0), Vec::<usize>::new());
    }
}
