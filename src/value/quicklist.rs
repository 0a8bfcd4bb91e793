//! [`QuickList`]: a list of byte strings kept as a deque of [`Pack`]s, each
//! holding a run of neighbouring elements (Redis's quicklist), for lists too
//! long for one pack.
//!
//! How much a node may hold is a [`Fill`], passed to every call that adds
//! an element, as Redis's `list-max-listpack-size` says
//! ([`Fill::from_redis`]). An element that would take a node past its limit
//! goes to a neighbour with room or to a new node, so an element bigger
//! than the limit gets a node of its own; inserting into the middle of a
//! full node splits it. A node emptied by a removal is dropped; removals do
//! not merge nodes (as in Redis), but an insertion that splits a node merges
//! the pieces with neighbours when both are under half the limit, and
//! [`QuickList::compact`] merges every such pair.
//!
//! An element is found by walking node counts from the nearer end (O(nodes),
//! then O(node bytes) inside the node); the list's length and the sum of its
//! packs' footprints are kept up to date, so [`QuickList::len`] and
//! [`QuickList::footprint`] are O(1). This module has no `unsafe` and must
//! never keep an empty node.

use super::pack::{self, Pack, encoded_len};
use crate::memory;
use std::collections::{VecDeque, vec_deque};

/// Most content bytes a node limited by [`Fill::Count`] holds (Redis's
/// `SIZE_SAFETY_LIMIT`), unless it holds a single element.
pub const SAFETY_LIMIT: usize = 8192;

/// Most elements per node a positive `list-max-listpack-size` can ask for
/// (Redis's `FILL_MAX`).
const MAX_FILL_COUNT: usize = (1 << 15) - 1;

/// How much one node of a [`QuickList`] may hold. A node always takes its
/// first element, however big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// At most this many content bytes (see [`pack::encoded_len`]).
    Bytes(usize),
    /// At most this many elements, and at most [`SAFETY_LIMIT`] content
    /// bytes (0 behaves as 1: an element a node).
    Count(usize),
}

impl Fill {
    /// The limit Redis's `list-max-listpack-size` sets: -1 to -5 are 4, 8,
    /// 16, 32 and 64 KiB a node (below -5 counts as -5); a positive `n` is
    /// `n` elements a node (at most 32,767), 0 one.
    pub fn from_redis(list_max_listpack_size: i64) -> Fill {
        match list_max_listpack_size {
            -1 => Fill::Bytes(4096),
            -2 => Fill::Bytes(8192),
            -3 => Fill::Bytes(16_384),
            -4 => Fill::Bytes(32_768),
            n if n < 0 => Fill::Bytes(65_536),
            n => Fill::Count((n as usize).clamp(1, MAX_FILL_COUNT)),
        }
    }

    /// Whether a node of `bytes` content bytes and `count` elements is
    /// within the limit (a list kept in one pack stays so while this holds
    /// of it, see [`List`](super::List)).
    pub fn allows(self, bytes: usize, count: usize) -> bool {
        match self {
            Fill::Bytes(limit) => bytes <= limit,
            Fill::Count(limit) => count <= limit && bytes <= SAFETY_LIMIT,
        }
    }

    /// Whether `node` may take `elem` as well.
    fn accepts(self, node: &Pack, elem: &[u8]) -> bool {
        node.is_empty() || self.allows(node.byte_len() + encoded_len(elem.len()), node.count() + 1)
    }

    /// Whether `node` is at most half full, so that two such merge within
    /// the limit.
    fn is_small(self, node: &Pack) -> bool {
        let (bytes, count) = (node.byte_len() * 2, node.count() * 2);
        match self {
            Fill::Bytes(limit) => bytes <= limit,
            Fill::Count(limit) => count <= limit && bytes <= SAFETY_LIMIT,
        }
    }
}

/// A list of byte strings in a deque of packs. Cloning copies.
#[derive(Default)]
pub struct QuickList {
    /// Never an empty one.
    nodes: VecDeque<Pack>,
    /// Elements in all nodes.
    len: usize,
    /// The sum of the nodes' footprints.
    packs: usize,
}

/// A node holding `elem` alone.
fn single(elem: &[u8]) -> Pack {
    let mut node = Pack::with_capacity(encoded_len(elem.len()));
    node.push_back(elem);
    node
}

impl QuickList {
    /// An empty list (no allocation).
    pub fn new() -> QuickList {
        QuickList::default()
    }

    /// A list of `pack`'s elements, in order: the pack itself becomes the
    /// one node when it is within `fill` (no element is copied), else its
    /// elements are pushed one by one into nodes within `fill`.
    pub fn from_pack(pack: Pack, fill: Fill) -> QuickList {
        let mut list = QuickList::new();
        if pack.is_empty() {
            return list;
        }
        if pack.count() == 1 || fill.allows(pack.byte_len(), pack.count()) {
            list.len = pack.count();
            list.insert_node(0, pack);
            return list;
        }
        for element in pack.iter() {
            list.push_back(element, fill);
        }
        list
    }

    /// Elements in the list: O(1).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes (packs) the list is kept in.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes the list takes from the allocator (see [`memory`]): the
    /// deque's buffer and every pack, the `QuickList` itself apart. O(1).
    pub fn footprint(&self) -> usize {
        memory::vec(self.nodes.capacity(), std::mem::size_of::<Pack>()) + self.packs
    }

    /// Runs `f` on node `n`, keeping the footprint sum up to date.
    fn edit<R>(&mut self, n: usize, f: impl FnOnce(&mut Pack) -> R) -> Option<R> {
        let node = self.nodes.get_mut(n)?;
        let before = node.footprint();
        let result = f(node);
        self.packs = self.packs - before + node.footprint();
        Some(result)
    }

    /// Puts `node` at position `n` (at most the node count).
    fn insert_node(&mut self, n: usize, node: Pack) {
        self.packs += node.footprint();
        self.nodes.insert(n.min(self.nodes.len()), node);
    }

    /// Drops node `n` if it is empty, and with it deque capacity that is
    /// mostly unused.
    fn drop_if_empty(&mut self, n: usize) {
        if !self.nodes.get(n).is_some_and(Pack::is_empty) {
            return;
        }
        if let Some(node) = self.nodes.remove(n) {
            self.packs -= node.footprint();
        }
        self.shrink_nodes();
    }

    /// Gives back the deque's buffer when no node is left, and most of it
    /// when under a quarter is in use.
    fn shrink_nodes(&mut self) {
        let cap = self.nodes.capacity();
        if self.nodes.is_empty() {
            self.nodes = VecDeque::new();
        } else if cap > 8 && self.nodes.len() < cap / 4 {
            self.nodes.shrink_to(self.nodes.len() * 2);
        }
    }

    /// Merges node `n + 1` into node `n` if both are at most half full.
    fn merge_small(&mut self, n: usize, fill: Fill) {
        let (Some(a), Some(b)) = (self.nodes.get(n), self.nodes.get(n + 1)) else {
            return;
        };
        if !(fill.is_small(a) && fill.is_small(b)) {
            return;
        }
        if let Some(b) = self.nodes.remove(n + 1) {
            self.packs -= b.footprint();
            self.edit(n, |a| a.append(&b));
        }
    }

    /// Merges every pair of neighbouring nodes that are both at most half
    /// full under `fill` (after many removals from the middle, say).
    pub fn compact(&mut self, fill: Fill) {
        let mut n = 0;
        while n + 1 < self.nodes.len() {
            let nodes = self.nodes.len();
            self.merge_small(n, fill);
            if self.nodes.len() == nodes {
                n += 1;
            }
        }
        self.shrink_nodes();
    }

    /// The node holding element `i` and its index in that node, walking
    /// node counts from the nearer end.
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            let mut rest = i;
            for (n, node) in self.nodes.iter().enumerate() {
                if rest < node.count() {
                    return Some((n, rest));
                }
                rest -= node.count();
            }
        } else {
            let mut rest = self.len - 1 - i;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if rest < node.count() {
                    return Some((n, node.count() - 1 - rest));
                }
                rest -= node.count();
            }
        }
        None
    }

    /// Adds `elem` at the head. Panics above [`pack::MAX_ELEMENT`] bytes.
    pub fn push_front(&mut self, elem: &[u8], fill: Fill) {
        if self.nodes.front().is_some_and(|p| fill.accepts(p, elem)) {
            self.edit(0, |p| p.push_front(elem));
        } else {
            self.insert_node(0, single(elem));
        }
        self.len += 1;
    }

    /// Adds `elem` at the tail. Panics above [`pack::MAX_ELEMENT`] bytes.
    pub fn push_back(&mut self, elem: &[u8], fill: Fill) {
        if self.nodes.back().is_some_and(|p| fill.accepts(p, elem)) {
            self.edit(self.nodes.len() - 1, |p| p.push_back(elem));
        } else {
            self.insert_node(self.nodes.len(), single(elem));
        }
        self.len += 1;
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let elem = self.edit(0, Pack::pop_front)??;
        self.drop_if_empty(0);
        self.len -= 1;
        Some(elem)
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let last = self.nodes.len().checked_sub(1)?;
        let elem = self.edit(last, Pack::pop_back)??;
        self.drop_if_empty(last);
        self.len -= 1;
        Some(elem)
    }

    /// The head element.
    pub fn front(&self) -> Option<&[u8]> {
        self.nodes.front()?.front()
    }

    /// The tail element.
    pub fn back(&self) -> Option<&[u8]> {
        self.nodes.back()?.back()
    }

    /// Element `i`, counting from the head.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (n, off) = self.locate(i)?;
        self.nodes.get(n)?.get(off)
    }

    /// Replaces element `i` with `elem`; false if there is none. In place
    /// when the node stays within `fill`, else by removing and inserting.
    pub fn set(&mut self, i: usize, elem: &[u8], fill: Fill) -> bool {
        let Some((n, off)) = self.locate(i) else {
            return false;
        };
        let Some(node) = self.nodes.get(n) else {
            return false;
        };
        let Some(old) = node.get(off) else {
            return false;
        };
        let bytes = node.byte_len() - encoded_len(old.len()) + encoded_len(elem.len());
        if node.count() == 1 || fill.allows(bytes, node.count()) {
            return self.edit(n, |p| p.replace(off, elem)).unwrap_or(false);
        }
        self.remove(i).is_some() && self.insert(i, elem, fill)
    }

    /// Inserts `elem` so that it becomes element `i` (`i == len()`
    /// appends); false, and nothing changes, past that. It goes into the
    /// node holding element `i` if that has room, else to the tail of the
    /// node before when `i` starts a node, else the full node splits at `i`.
    pub fn insert(&mut self, i: usize, elem: &[u8], fill: Fill) -> bool {
        if i == self.len {
            self.push_back(elem, fill);
            return true;
        }
        let Some((n, off)) = self.locate(i) else {
            return false;
        };
        let accepts =
            |list: &QuickList, n: usize| list.nodes.get(n).is_some_and(|p| fill.accepts(p, elem));
        if accepts(self, n) {
            self.edit(n, |p| p.insert(off, elem));
        } else if off == 0 && n > 0 && accepts(self, n - 1) {
            self.edit(n - 1, |p| p.push_back(elem));
        } else if off == 0 {
            self.insert_node(n, single(elem));
        } else {
            let Some(mut right) = self.edit(n, |p| p.split_off(off)) else {
                return false;
            };
            let right_at = if accepts(self, n) {
                self.edit(n, |p| p.push_back(elem));
                n + 1
            } else if fill.accepts(&right, elem) {
                right.push_front(elem);
                n + 1
            } else {
                self.insert_node(n + 1, single(elem));
                n + 2
            };
            self.insert_node(right_at, right);
            self.merge_small(right_at, fill);
            if n > 0 {
                self.merge_small(n - 1, fill);
            }
        }
        self.len += 1;
        true
    }

    /// Removes and returns element `i`.
    pub fn remove(&mut self, i: usize) -> Option<Vec<u8>> {
        let (n, off) = self.locate(i)?;
        let elem = self.edit(n, |p| p.remove(off))??;
        self.drop_if_empty(n);
        self.len -= 1;
        Some(elem)
    }

    /// Removes up to `count` elements from `start` on (for `LTRIM`);
    /// returns how many it removed. Whole nodes in the range are dropped
    /// without reading their elements.
    pub fn remove_range(&mut self, start: usize, count: usize) -> usize {
        let count = count.min(self.len.saturating_sub(start));
        let Some((mut n, off)) = self.locate(start) else {
            return 0;
        };
        if count == 0 {
            return 0;
        }
        let mut left = count;
        if off > 0 {
            // Part of the first node; it keeps its first `off` elements.
            let take = self.edit(n, |p| p.remove_range(off, left)).unwrap_or(0);
            left -= take;
            n += 1;
        }
        let mut end = n;
        while let Some(node) = self.nodes.get(end).filter(|p| p.count() <= left) {
            left -= node.count();
            end += 1;
        }
        for node in self.nodes.drain(n..end) {
            self.packs -= node.footprint();
        }
        if left > 0 {
            // The head of the last node; it keeps the rest.
            self.edit(n, |p| p.remove_range(0, left));
        }
        self.shrink_nodes();
        self.len -= count;
        count
    }

    /// Removes elements equal to `elem` (for `LREM`): the first `limit` of
    /// them from the head, or from the tail if `from_back`, or all of them
    /// if `limit` is 0. Returns how many it removed.
    pub fn remove_matching(&mut self, elem: &[u8], limit: usize, from_back: bool) -> usize {
        let mut left = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let nodes = self.nodes.len();
        for k in 0..nodes {
            if left == 0 {
                break;
            }
            let n = if from_back { nodes - 1 - k } else { k };
            let Some(node) = self.nodes.get(n) else {
                break;
            };
            let matches = node.iter().filter(|&e| e == elem).count();
            let take = matches.min(left);
            if take == 0 {
                continue;
            }
            // From the back, the last `take` matches of this node go.
            let (mut skip, mut drop) = (if from_back { matches - take } else { 0 }, take);
            self.edit(n, |p| {
                p.retain(|e| {
                    if drop == 0 || e != elem {
                        return true;
                    }
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    drop -= 1;
                    false
                })
            });
            left -= take;
            removed += take;
        }
        let packs = &mut self.packs;
        self.nodes.retain(|p| {
            if p.is_empty() {
                *packs -= p.footprint();
            }
            !p.is_empty()
        });
        self.shrink_nodes();
        self.len -= removed;
        removed
    }

    /// The elements from the head (`.rev()`, or [`QuickList::iter_rev`],
    /// from the tail).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, usize::MAX)
    }

    /// The elements from the tail.
    pub fn iter_rev(&self) -> std::iter::Rev<Iter<'_>> {
        self.iter().rev()
    }

    /// Elements `start..=end_inclusive`, clamped to the list (for
    /// `LRANGE`), either way. Both ends are found by walking node counts,
    /// O(nodes), and within their nodes.
    pub fn range(&self, start: usize, end_inclusive: usize) -> Iter<'_> {
        let end = end_inclusive.min(self.len.saturating_sub(1));
        let empty = || Iter {
            front: pack::Iter::default(),
            middle: self.nodes.range(0..0),
            back: pack::Iter::default(),
            remaining: 0,
        };
        if start >= self.len || start > end {
            return empty();
        }
        let (Some((a, a_off)), Some((b, b_off))) = (self.locate(start), self.locate(end)) else {
            return empty();
        };
        let (Some(first), Some(last)) = (self.nodes.get(a), self.nodes.get(b)) else {
            return empty();
        };
        let remaining = end - start + 1;
        if a == b {
            return Iter {
                front: first.range(a_off, b_off + 1),
                remaining,
                ..empty()
            };
        }
        Iter {
            front: first.range(a_off, first.count()),
            middle: self.nodes.range(a + 1..b),
            back: last.range(0, b_off + 1),
            remaining,
        }
    }
}

impl Clone for QuickList {
    fn clone(&self) -> QuickList {
        let nodes = self.nodes.clone();
        // Cloned packs drop their spare capacity: count them afresh.
        let packs = nodes.iter().map(Pack::footprint).sum();
        QuickList {
            nodes,
            len: self.len,
            packs,
        }
    }
}

impl PartialEq for QuickList {
    /// Equal elements in order, however they are split into nodes.
    fn eq(&self, other: &QuickList) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for QuickList {}

impl std::fmt::Debug for QuickList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickList")
            .field("len", &self.len)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl<'a> IntoIterator for &'a QuickList {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The elements of a [`QuickList`] (or a range of them), from either end.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    /// What is left of the first node.
    front: pack::Iter<'a>,
    /// The whole nodes between.
    middle: vec_deque::Iter<'a, Pack>,
    /// What is left of the last node.
    back: pack::Iter<'a>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let elem = loop {
            if let Some(elem) = self.front.next() {
                break elem;
            }
            match self.middle.next() {
                Some(node) => self.front = node.iter(),
                None => break self.back.next()?,
            }
        };
        self.remaining = self.remaining.saturating_sub(1);
        Some(elem)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        let elem = loop {
            if let Some(elem) = self.back.next_back() {
                break elem;
            }
            match self.middle.next_back() {
                Some(node) => self.back = node.iter(),
                None => break self.front.next_back()?,
            }
        };
        self.remaining = self.remaining.saturating_sub(1);
        Some(elem)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::value::random::TestRng as Rng;

    /// Mostly short elements from a small alphabet (so that `LREM` finds
    /// matches), now and then one bigger than `big`.
    fn element(rng: &mut Rng, big: usize) -> Vec<u8> {
        match rng.below(20) {
            0 => vec![b'B'; big + 1 + rng.below(big)],
            1 => Vec::new(),
            2..=9 => vec![b'a' + rng.below(3) as u8],
            _ => {
                let len = rng.below(30);
                (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
            }
        }
    }

    /// Everything the list promises of itself, and its elements against
    /// the model's.
    fn check(list: &QuickList, model: &VecDeque<Vec<u8>>, fill: Fill) {
        assert_eq!(list.len(), model.len());
        assert_eq!(list.nodes.iter().map(Pack::count).sum::<usize>(), list.len);
        for node in &list.nodes {
            assert!(!node.is_empty(), "an empty node");
            assert!(
                node.count() == 1 || fill.allows(node.byte_len(), node.count()),
                "a node past {fill:?}: {} bytes, {} elements",
                node.byte_len(),
                node.count()
            );
        }
        let packs: usize = list.nodes.iter().map(Pack::footprint).sum();
        assert_eq!(list.packs, packs, "the cached footprint");
        assert!(list.iter().eq(model.iter().map(|e| &e[..])));
        assert!(list.iter_rev().eq(model.iter().rev().map(|e| &e[..])));
        assert_eq!(list.iter().len(), model.len());
    }

    fn random_operations(fill: Fill, big: usize, seed: u64) {
        let mut rng = Rng(seed);
        let mut list = QuickList::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..4000 {
            let i = rng.below(model.len() + 2);
            match rng.below(14) {
                0 | 1 => {
                    let e = element(&mut rng, big);
                    list.push_back(&e, fill);
                    model.push_back(e);
                }
                2 | 3 => {
                    let e = element(&mut rng, big);
                    list.push_front(&e, fill);
                    model.push_front(e);
                }
                4 => assert_eq!(list.pop_front(), model.pop_front()),
                5 => assert_eq!(list.pop_back(), model.pop_back()),
                6 | 7 => {
                    let e = element(&mut rng, big);
                    let ok = i <= model.len();
                    assert_eq!(list.insert(i, &e, fill), ok, "step {step}");
                    if ok {
                        model.insert(i, e);
                    }
                }
                8 => {
                    let e = element(&mut rng, big);
                    let ok = i < model.len();
                    assert_eq!(list.set(i, &e, fill), ok, "step {step}");
                    if ok {
                        model[i] = e;
                    }
                }
                9 => assert_eq!(list.remove(i), model.remove(i), "step {step}"),
                10 => {
                    let n = rng.below(12);
                    let want = n.min(model.len().saturating_sub(i));
                    assert_eq!(list.remove_range(i, n), want, "step {step}");
                    let from = i.min(model.len());
                    model.drain(from..from + want);
                }
                11 => {
                    let e = vec![b'a' + rng.below(3) as u8];
                    let limit = rng.below(3);
                    let from_back = rng.below(2) == 0;
                    let mut removed = 0;
                    let mut keep = |x: &Vec<u8>| {
                        if *x == e && (limit == 0 || removed < limit) {
                            removed += 1;
                            false
                        } else {
                            true
                        }
                    };
                    let kept: VecDeque<Vec<u8>> = if from_back {
                        let mut kept: VecDeque<_> =
                            model.iter().rev().filter(|x| keep(x)).cloned().collect();
                        kept.make_contiguous().reverse();
                        kept
                    } else {
                        model.iter().filter(|x| keep(x)).cloned().collect()
                    };
                    assert_eq!(
                        list.remove_matching(&e, limit, from_back),
                        removed,
                        "step {step}"
                    );
                    model = kept;
                }
                12 => {
                    assert_eq!(list.get(i), model.get(i).map(|e| &e[..]));
                    assert_eq!(list.front(), model.front().map(|e| &e[..]));
                    assert_eq!(list.back(), model.back().map(|e| &e[..]));
                }
                _ => {
                    let end = i + rng.below(40);
                    let from = i.min(model.len());
                    let want = model.range(from..(end + 1).min(model.len()).max(from));
                    assert!(
                        list.range(i, end).eq(want.clone().map(|e| &e[..])),
                        "step {step}"
                    );
                    assert!(
                        list.range(i, end)
                            .rev()
                            .eq(want.clone().rev().map(|e| &e[..]))
                    );
                    assert_eq!(list.range(i, end).len(), want.len());
                    // Both ends at once meet in the middle.
                    let mut both = list.range(i, end);
                    let mut got = Vec::new();
                    while let (Some(a), b) = (both.next(), both.next_back()) {
                        got.push(a);
                        got.extend(b);
                    }
                    assert_eq!(got.len(), want.len());
                }
            }
            if step % 20 == 0 {
                check(&list, &model, fill);
            }
            if step % 1000 == 999 {
                list.compact(fill);
                check(&list, &model, fill);
                let copy = list.clone();
                assert_eq!(copy, list);
                check(&copy, &model, fill);
            }
        }
        check(&list, &model, fill);
        while list.pop_front().is_some() {}
        assert_eq!((list.node_count(), list.footprint()), (0, 0));
    }

    #[test]
    fn random_operations_match_a_deque_under_a_byte_limit() {
        random_operations(Fill::Bytes(64), 64, 1);
    }

    #[test]
    fn random_operations_match_a_deque_under_a_count_limit() {
        random_operations(Fill::Count(3), 100, 2);
    }

    #[test]
    fn random_operations_match_a_deque_under_redis_default() {
        random_operations(Fill::from_redis(-2), 8192, 3);
    }

    #[test]
    fn fill_follows_list_max_listpack_size() {
        assert_eq!(Fill::from_redis(-1), Fill::Bytes(4096));
        assert_eq!(Fill::from_redis(-2), Fill::Bytes(8192));
        assert_eq!(Fill::from_redis(-3), Fill::Bytes(16_384));
        assert_eq!(Fill::from_redis(-4), Fill::Bytes(32_768));
        assert_eq!(Fill::from_redis(-5), Fill::Bytes(65_536));
        assert_eq!(Fill::from_redis(i64::MIN), Fill::Bytes(65_536));
        assert_eq!(Fill::from_redis(0), Fill::Count(1));
        assert_eq!(Fill::from_redis(128), Fill::Count(128));
        assert_eq!(Fill::from_redis(i64::MAX), Fill::Count(32_767));
    }

    #[test]
    fn nodes_fill_to_the_limit() {
        let mut list = QuickList::new();
        for i in 0..10u8 {
            list.push_back(&[i], Fill::Count(3));
        }
        assert_eq!(list.node_count(), 4);
        // 3-byte elements, 20 of them to 60 bytes.
        let mut list = QuickList::new();
        for _ in 0..40 {
            list.push_front(b"x", Fill::Bytes(60));
        }
        assert_eq!(list.node_count(), 2);
        // A count limit still stops at SAFETY_LIMIT bytes.
        let mut list = QuickList::new();
        for _ in 0..3 {
            list.push_back(&[0; 5000], Fill::Count(100));
        }
        assert_eq!(list.node_count(), 3);
    }

    #[test]
    fn an_element_bigger_than_the_limit_gets_a_node_of_its_own() {
        let fill = Fill::Bytes(64);
        let big = vec![b'B'; 1000];
        let mut list = QuickList::new();
        for i in 0..20u8 {
            list.push_back(&[i], fill);
        }
        assert_eq!(list.node_count(), 1);
        // Into the middle of the one full node: it splits around the big one.
        assert!(list.insert(10, &big, fill));
        assert_eq!(list.get(10), Some(&big[..]));
        assert_eq!(list.get(9), Some(&[9][..]));
        assert_eq!(list.get(11), Some(&[10][..]));
        assert!(
            list.nodes
                .iter()
                .any(|p| p.count() == 1 && p.byte_len() > 64)
        );
        // Replacing a small element with a big one moves it out as well.
        assert!(list.set(0, &big, fill));
        assert!(list.set(20, &big, fill));
        assert_eq!(list.get(0), Some(&big[..]));
        assert_eq!(list.back(), Some(&big[..]));
        for node in &list.nodes {
            assert!(node.count() == 1 || node.byte_len() <= 64);
        }
        list.push_front(&big, fill);
        list.push_back(&big, fill);
        assert_eq!(list.len(), 23);
        assert_eq!(list.pop_front().as_deref(), Some(&big[..]));
        assert_eq!(list.pop_back().as_deref(), Some(&big[..]));
        assert_eq!(list.iter().filter(|e| e.len() == 1000).count(), 3);
    }

    #[test]
    fn a_pack_within_the_fill_becomes_the_one_node_and_a_bigger_one_is_split() {
        let mut pack = Pack::new();
        for i in 0..6u8 {
            pack.push_back(&[i]);
        }
        let list = QuickList::from_pack(pack.clone(), Fill::Count(8));
        assert_eq!((list.len(), list.node_count()), (6, 1));
        assert_eq!(
            list.packs,
            list.nodes.iter().map(Pack::footprint).sum::<usize>()
        );
        let split = QuickList::from_pack(pack, Fill::Count(4));
        assert_eq!((split.len(), split.node_count()), (6, 2));
        assert_eq!(split, list);
        let empty = QuickList::from_pack(Pack::new(), Fill::Count(4));
        assert_eq!(
            (empty.len(), empty.node_count(), empty.footprint()),
            (0, 0, 0)
        );
    }

    #[test]
    fn remove_range_drops_whole_nodes() {
        let fill = Fill::Count(4);
        let mut list = QuickList::new();
        for i in 0..100u32 {
            list.push_back(&i.to_be_bytes(), fill);
        }
        assert_eq!(list.node_count(), 25);
        assert_eq!(list.remove_range(2, 90), 90);
        assert_eq!(list.len(), 10);
        assert_eq!(list.node_count(), 3);
        let want: Vec<u32> = (0..2).chain(92..100).collect();
        assert!(
            list.iter()
                .map(|e| e.to_vec())
                .eq(want.iter().map(|i| i.to_be_bytes().to_vec()))
        );
        assert_eq!(list.remove_range(10, 5), 0);
        assert_eq!(list.remove_range(0, usize::MAX), 10);
        assert_eq!((list.len(), list.node_count()), (0, 0));
    }

    #[test]
    fn out_of_range_indexes_change_nothing() {
        let fill = Fill::Count(2);
        let mut list = QuickList::new();
        assert_eq!(
            (list.pop_front(), list.pop_back(), list.get(0)),
            (None, None, None)
        );
        assert!(!list.set(0, b"x", fill));
        assert!(!list.insert(1, b"x", fill));
        assert_eq!(list.remove(0), None);
        assert_eq!(list.range(0, usize::MAX).count(), 0);
        list.push_back(b"a", fill);
        assert_eq!(list.get(usize::MAX), None);
        assert!(!list.insert(usize::MAX, b"x", fill));
        assert_eq!(list.remove_range(usize::MAX, usize::MAX), 0);
        assert_eq!(list.range(1, 0).count(), 0);
        assert_eq!(list.range(0, usize::MAX).collect::<Vec<_>>(), [b"a"]);
    }

    #[test]
    fn footprint_is_counted() {
        let mut list = QuickList::new();
        assert_eq!(list.footprint(), 0);
        let fill = Fill::Bytes(8192);
        for i in 0..5000u32 {
            list.push_back(i.to_string().as_bytes(), fill);
        }
        let packs: usize = list.nodes.iter().map(Pack::footprint).sum();
        assert_eq!(
            list.footprint(),
            memory::vec(list.nodes.capacity(), 8) + packs
        );
        // About 6 bytes an element, each node's allocator rounding and
        // slack included.
        assert!(list.footprint() < 5000 * 7, "{}", list.footprint());
        list.remove_range(0, 5000);
        assert_eq!(list.footprint(), 0);
    }
}
