//! The big encoding of sorted sets ([`ZTree`]): a member-to-score
//! [`Table`] and a counted B+tree over the table's nodes, ordered by
//! (score, member).
//!
//! The table answers "what is this member's score" in expected O(1), as
//! Redis's dict does; each of its nodes holds a member's bytes once, with
//! the score as an 8-byte value (a 13-byte member is a 32-byte chunk). The
//! tree orders those nodes: its leaves hold the nodes' addresses (8 bytes a
//! member, up to [`LEAF_MAX`] a leaf), and each inner node holds, for each
//! child, the child's member count and a *separator*, an owned copy of a
//! (score, member) key that bounds the child from below. So a member costs
//! its node, its share of the table's buckets and about ten bytes of leaf;
//! the separators, one per leaf, add about a byte more. Redis spends a
//! skiplist node, a dict entry and the member's sds string, about 120
//! bytes for a 13-byte member.
//!
//! The counts make every rank question O(log n): the rank of a member, the
//! member at a rank, where a score or lex bound falls, and a range of k
//! members costs O(log n + k). Inserting and removing are O(log n) (a leaf
//! is split when full and merged with, or refilled from, a neighbour when
//! less than a quarter full), as is a member's score update (a removal
//! and an insertion). Each leaf search compares against members through
//! the table's nodes; an inner node's separators are its own.
//!
//! This module owns the tree and the rule that keeps it sound: an address
//! is in the tree only while its node is in the table, holding the score
//! the tree was ordered by. So the score of a member is changed only after
//! its address has left the tree, and a node leaves the table only after
//! its address has left the tree. The one `unsafe` is in `scored`, the
//! reading of a node through its address. It never takes a lock, does I/O
//! or knows what a command is.

use super::table::{Node as TableNode, Pair, Table};
use crate::memory;
use scored::Scored;
use std::cmp::Ordering;
use std::ptr::NonNull;

/// The table of a big sorted set: members to their scores (8 bytes,
/// little-endian `f64` bits).
pub type ScoreTable = Table<Pair>;

/// Most addresses a leaf holds.
pub const LEAF_MAX: usize = 64;

/// Most children an inner node holds (one more for a moment, while it
/// takes a new child and before it splits).
pub const INNER_MAX: usize = 64;

/// A leaf with fewer addresses than this is merged with a neighbour or
/// refilled from it.
const LEAF_MIN: usize = LEAF_MAX / 4;

/// An inner node with fewer children than this is merged or refilled.
const INNER_MIN: usize = INNER_MAX / 4;

/// A test of a (score, member) key that is true for a prefix of the order
/// and false after it: "is this key before the place sought".
pub type Before<'f> = dyn Fn(f64, &[u8]) -> bool + 'f;

/// The order of sorted-set members: by score, then by member bytes (a
/// shorter member first on a common prefix). Scores are never NaN; `-0.0`
/// and `0.0` are equal, as Redis compares them.
pub fn order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    match a.0.partial_cmp(&b.0) {
        Some(Ordering::Equal) | None => a.1.cmp(b.1),
        Some(unequal) => unequal,
    }
}

/// A score as the table keeps it.
pub fn score_bytes(score: f64) -> [u8; 8] {
    score.to_bits().to_le_bytes()
}

/// The score the table keeps as `bytes` (0 for bytes of another length,
/// which the table never holds).
pub fn score_of(bytes: &[u8]) -> f64 {
    match <[u8; 8]>::try_from(bytes) {
        Ok(b) => f64::from_bits(u64::from_le_bytes(b)),
        Err(_) => 0.0,
    }
}

/// The one place that reads a table node through its address.
mod scored {
    use super::{Pair, TableNode, score_of};
    use std::ptr::NonNull;

    /// The address of a sorted set's table node, as its tree holds it.
    ///
    /// Not `Clone`: the tree holds each address once.
    pub(super) struct Scored(NonNull<u8>);

    // SAFETY: a `Scored` only reads a node that its sorted set's table owns
    // (see `new`), and the sorted set changes that node only through
    // `&mut` to itself, after taking the address out of its tree. So
    // sending one to another thread with its sorted set, or reading it from
    // several, is as safe as doing the same with the table.
    unsafe impl Send for Scored {}
    // SAFETY: as above: `&Scored` gives only reads.
    unsafe impl Sync for Scored {}

    impl Scored {
        /// The address of a node.
        ///
        /// # Safety
        /// `address` must be a [`Pair`] table node's whose value is a
        /// score's 8 bytes, and that node must stay alive, with that
        /// value, for as long as this `Scored` exists.
        pub(super) unsafe fn new(address: NonNull<u8>) -> Scored {
            Scored(address)
        }

        /// The node's address.
        pub(super) fn address(&self) -> NonNull<u8> {
            self.0
        }

        /// The member and its score.
        pub(super) fn key(&self) -> (f64, &[u8]) {
            // SAFETY: per `new`, the node lives, unchanged, as long as
            // `self`, and so for the borrow of `self`.
            let (member, score) = unsafe { TableNode::<Pair>::parts_at(self.0) };
            (score_of(score), member)
        }
    }
}

/// An owned copy of a key, bounding a child of an inner node from below:
/// every key in the child is at least its separator, and every key before
/// the child is below it. The separator of a node's first child is never
/// read (it may be stale, or [`Sep::none`]) until it is replaced.
#[derive(Clone)]
struct Sep {
    score: f64,
    member: Box<[u8]>,
}

impl Sep {
    /// A copy of `key`.
    fn of(key: (f64, &[u8])) -> Sep {
        Sep {
            score: key.0,
            member: key.1.into(),
        }
    }

    /// A placeholder for a first child (no allocation).
    fn none() -> Sep {
        Sep {
            score: f64::NEG_INFINITY,
            member: Box::default(),
        }
    }

    fn key(&self) -> (f64, &[u8]) {
        (self.score, &self.member)
    }

    fn bytes(&self) -> usize {
        memory::chunk(self.member.len())
    }
}

/// A node of the tree; every leaf is at the same depth.
enum Node {
    /// Addresses, ascending.
    Leaf(Vec<Scored>),
    /// Children, ascending.
    Inner(Vec<Child>),
}

/// One child of an inner node.
struct Child {
    /// Addresses under it.
    count: usize,
    /// Its lower bound.
    sep: Sep,
    node: Node,
}

/// What one node allocates itself (its vector, and for an inner node its
/// children's separators), not counting its children's own.
fn own(node: &Node) -> usize {
    match node {
        Node::Leaf(v) => memory::vec(v.capacity(), std::mem::size_of::<Scored>()),
        Node::Inner(c) => {
            memory::vec(c.capacity(), std::mem::size_of::<Child>())
                + c.iter().map(|c| c.sep.bytes()).sum::<usize>()
        }
    }
}

/// Makes room in `v` for `extra` more, growing to a power of two (at least
/// four, at most `max`, or what is needed if more).
fn room<T>(v: &mut Vec<T>, extra: usize, max: usize) {
    let need = v.len() + extra;
    if need > v.capacity() {
        let want = need.next_power_of_two().clamp(4, max).max(need);
        v.reserve_exact(want - v.len());
    }
}

/// Which child of `children` the key belongs to: the last whose separator
/// is at most `key` (the first if none is).
fn child_for(children: &[Child], key: (f64, &[u8])) -> usize {
    children
        .get(1..)
        .unwrap_or_default()
        .partition_point(|c| order(c.sep.key(), key) != Ordering::Greater)
}

/// Whether a node is below its minimum fill.
fn is_under(node: &Node) -> bool {
    match node {
        Node::Leaf(v) => v.len() < LEAF_MIN,
        Node::Inner(c) => c.len() < INNER_MIN,
    }
}

/// Adds `bytes` after and takes away what was before: the footprint's
/// running count (wrapping, as the two may cross; the total never does).
fn account(total: &mut usize, before: usize, after: usize) {
    *total = total.wrapping_add(after).wrapping_sub(before);
}

/// Inserts `entry` (whose key is `key`) below `node`; returns the node's
/// new right sibling if it split. `bytes` is the tree's running count.
fn insert(node: &mut Node, entry: Scored, key: (f64, &[u8]), bytes: &mut usize) -> Option<Child> {
    match node {
        Node::Leaf(v) => {
            let before = memory::vec(v.capacity(), std::mem::size_of::<Scored>());
            let pos = v.partition_point(|e| order(e.key(), key) == Ordering::Less);
            if v.len() < LEAF_MAX {
                room(v, 1, LEAF_MAX);
                v.insert(pos, entry);
                account(bytes, before, own(node));
                return None;
            }
            let mut right: Vec<Scored> = Vec::new();
            if pos == v.len() {
                // An append (ascending scores, a timestamp): keep this leaf
                // full and start the next one.
                room(&mut right, 1, LEAF_MAX);
                right.push(entry);
            } else {
                let mid = v.len() / 2;
                room(&mut right, v.len() - mid + 1, LEAF_MAX);
                right.extend(v.drain(mid..));
                if pos <= mid {
                    v.insert(pos, entry);
                } else {
                    right.insert(pos - mid, entry);
                }
            }
            let sep = Sep::of(right.first()?.key());
            let right = Node::Leaf(right);
            account(bytes, before, memory::vec(v.capacity(), 8) + own(&right));
            Some(Child {
                count: match &right {
                    Node::Leaf(r) => r.len(),
                    Node::Inner(_) => 0,
                },
                sep,
                node: right,
            })
        }
        Node::Inner(children) => {
            let j = child_for(children, key);
            let child = children.get_mut(j)?;
            child.count += 1;
            let split = insert(&mut child.node, entry, key, bytes)?;
            child.count -= split.count;
            let before = own(node);
            let Node::Inner(children) = node else {
                return None;
            };
            room(children, 1, INNER_MAX + 1);
            children.insert(j + 1, split);
            if children.len() <= INNER_MAX {
                account(bytes, before, own(node));
                return None;
            }
            let mid = children.len() / 2;
            let mut right = Vec::new();
            room(&mut right, children.len() - mid, INNER_MAX + 1);
            right.extend(children.drain(mid..));
            let count = right.iter().map(|c| c.count).sum();
            let sep = right.first()?.sep.clone();
            let right = Node::Inner(right);
            account(bytes, before, own(node) + own(&right));
            Some(Child {
                count,
                sep,
                node: right,
            })
        }
    }
}

/// Removes the entry at `address` (whose key is `key`) from below `node`;
/// false if it is not there.
fn remove(node: &mut Node, address: NonNull<u8>, key: (f64, &[u8]), bytes: &mut usize) -> bool {
    match node {
        Node::Leaf(v) => {
            let pos = v.partition_point(|e| order(e.key(), key) == Ordering::Less);
            if v.get(pos).is_some_and(|e| e.address() == address) {
                v.remove(pos);
                true
            } else {
                false
            }
        }
        Node::Inner(children) => {
            let j = child_for(children, key);
            let Some(child) = children.get_mut(j) else {
                return false;
            };
            if !remove(&mut child.node, address, key, bytes) {
                return false;
            }
            child.count -= 1;
            if is_under(&child.node) {
                let before = own(node);
                if let Node::Inner(children) = node {
                    rebalance(children, j, bytes);
                }
                account(bytes, before, own(node));
            }
            true
        }
    }
}

/// Merges child `j`, which is under its minimum, with a neighbour, or
/// moves some of the neighbour's entries into it if the two would not fit
/// in one node. Accounts for the two children's own bytes; the caller for
/// the parent's.
fn rebalance(children: &mut Vec<Child>, j: usize, bytes: &mut usize) {
    if children.len() < 2 {
        return;
    }
    let l = if j + 1 < children.len() { j } else { j - 1 };
    let (head, tail) = children.split_at_mut(l + 1);
    let (Some(left), Some(right)) = (head.last_mut(), tail.first_mut()) else {
        return;
    };
    let before = own(&left.node) + own(&right.node);
    let total = left.count + right.count;
    let merged = match (&mut left.node, &mut right.node) {
        (Node::Leaf(a), Node::Leaf(b)) => {
            if a.len() + b.len() <= LEAF_MAX {
                room(a, b.len(), LEAF_MAX);
                a.append(b);
                true
            } else {
                let target = (a.len() + b.len()) / 2;
                if a.len() < target {
                    let k = target - a.len();
                    room(a, k, LEAF_MAX);
                    a.extend(b.drain(..k));
                } else {
                    let k = a.len() - target;
                    room(b, k, LEAF_MAX);
                    let moved: Vec<Scored> = a.drain(a.len() - k..).collect();
                    b.splice(0..0, moved);
                }
                if let Some(first) = b.first() {
                    right.sep = Sep::of(first.key());
                }
                left.count = a.len();
                right.count = b.len();
                false
            }
        }
        (Node::Inner(a), Node::Inner(b)) => {
            // The right node's first child takes the parent's separator,
            // its lower bound, before it may move.
            if let Some(first) = b.first_mut() {
                first.sep = right.sep.clone();
            }
            if a.len() + b.len() <= INNER_MAX {
                room(a, b.len(), INNER_MAX + 1);
                a.append(b);
                true
            } else {
                let target = (a.len() + b.len()) / 2;
                if a.len() < target {
                    let k = target - a.len();
                    room(a, k, INNER_MAX + 1);
                    a.extend(b.drain(..k));
                } else {
                    let k = a.len() - target;
                    room(b, k, INNER_MAX + 1);
                    let moved: Vec<Child> = a.drain(a.len() - k..).collect();
                    b.splice(0..0, moved);
                }
                if let Some(first) = b.first() {
                    right.sep = first.sep.clone();
                }
                left.count = a.iter().map(|c| c.count).sum();
                right.count = total - left.count;
                false
            }
        }
        // Every leaf is at the same depth: siblings are alike.
        _ => false,
    };
    if merged {
        left.count = total;
        let after = own(&left.node);
        account(bytes, before, after);
        children.remove(l + 1);
    } else {
        let after = own(&left.node) + own(&right.node);
        account(bytes, before, after);
    }
}

/// How many entries below `node` come before the first for which `before`
/// is false (`before` must be true for a prefix of the order and false
/// after it).
fn count_before(node: &Node, before: &Before<'_>) -> usize {
    let mut node = node;
    let mut count = 0;
    loop {
        match node {
            Node::Leaf(v) => {
                return count
                    + v.partition_point(|e| {
                        let (s, m) = e.key();
                        before(s, m)
                    });
            }
            Node::Inner(children) => {
                let j = children
                    .get(1..)
                    .unwrap_or_default()
                    .partition_point(|c| before(c.sep.score, &c.sep.member));
                count += children.iter().take(j).map(|c| c.count).sum::<usize>();
                match children.get(j) {
                    Some(c) => node = &c.node,
                    None => return count,
                }
            }
        }
    }
}

/// The entry of rank `rank` below `node`.
fn at(node: &Node, mut rank: usize) -> Option<&Scored> {
    let mut node = node;
    loop {
        match node {
            Node::Leaf(v) => return v.get(rank),
            Node::Inner(children) => {
                let mut next = None;
                for c in children {
                    if rank < c.count {
                        next = Some(&c.node);
                        break;
                    }
                    rank -= c.count;
                }
                node = next?;
            }
        }
    }
}

/// Visits the entries of ranks `start..end` below `node` (of `count`
/// entries), ascending, or descending if `rev`.
fn visit<'a>(
    node: &'a Node,
    count: usize,
    start: usize,
    end: usize,
    rev: bool,
    f: &mut dyn FnMut(&'a Scored),
) {
    match node {
        Node::Leaf(v) => {
            let Some(part) = v.get(start..end.min(v.len())) else {
                return;
            };
            if rev {
                part.iter().rev().for_each(f);
            } else {
                part.iter().for_each(f);
            }
        }
        Node::Inner(children) => {
            let mut each = |c: &'a Child, offset: usize| {
                let (lo, hi) = (offset, offset + c.count);
                if lo < end && start < hi {
                    let (s, e) = (start.max(lo) - lo, end.min(hi) - lo);
                    visit(&c.node, c.count, s, e, rev, f);
                }
            };
            if rev {
                let mut offset = count;
                for c in children.iter().rev() {
                    offset -= c.count;
                    if offset + c.count <= start {
                        break;
                    }
                    each(c, offset);
                }
            } else {
                let mut offset = 0;
                for c in children {
                    if offset >= end {
                        break;
                    }
                    each(c, offset);
                    offset += c.count;
                }
            }
        }
    }
}

/// Builds a tree of `entries`, already in order, with full leaves.
fn build(entries: Vec<Scored>) -> Node {
    if entries.len() <= LEAF_MAX {
        return Node::Leaf(entries);
    }
    let mut level: Vec<Child> = Vec::new();
    let mut entries = entries.into_iter();
    for size in even_parts(entries.len(), LEAF_MAX) {
        let leaf: Vec<Scored> = entries.by_ref().take(size).collect();
        let sep = leaf.first().map_or_else(Sep::none, |e| Sep::of(e.key()));
        level.push(Child {
            count: leaf.len(),
            sep,
            node: Node::Leaf(leaf),
        });
    }
    while level.len() > 1 {
        let mut upper = Vec::new();
        let mut children = level.into_iter();
        for size in even_parts(children.len(), INNER_MAX) {
            let group: Vec<Child> = children.by_ref().take(size).collect();
            let sep = group.first().map_or_else(Sep::none, |c| c.sep.clone());
            upper.push(Child {
                count: group.iter().map(|c| c.count).sum(),
                sep,
                node: Node::Inner(group),
            });
        }
        level = upper;
    }
    level
        .pop()
        .map_or_else(|| Node::Leaf(Vec::new()), |c| c.node)
}

/// Sizes of the fewest parts of at most `max` that `n` splits into, as
/// even as can be.
fn even_parts(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let parts = n.div_ceil(max).max(1);
    (0..parts).map(move |i| n / parts + usize::from(i < n % parts))
}

/// What every node below `node` allocates, counted from scratch.
fn recount(node: &Node) -> usize {
    own(node)
        + match node {
            Node::Leaf(_) => 0,
            Node::Inner(c) => c.iter().map(|c| recount(&c.node)).sum(),
        }
}

/// A big sorted set: a table of members and scores, and the tree that
/// orders them.
pub struct ZTree {
    table: ScoreTable,
    root: Node,
    /// What the tree's nodes allocate (the table counts its own).
    tree_bytes: usize,
}

impl Default for ZTree {
    fn default() -> ZTree {
        ZTree::new()
    }
}

impl ZTree {
    /// An empty one.
    pub fn new() -> ZTree {
        ZTree {
            table: ScoreTable::new(),
            root: Node::Leaf(Vec::new()),
            tree_bytes: 0,
        }
    }

    /// One of `members`, which must come in strictly ascending (score,
    /// member) order with no NaN score; if they do not, the index of the
    /// first that breaks the rule (out of order, a NaN, or a member seen
    /// before). Builds the tree bottom up, its leaves full: O(n).
    pub fn from_sorted<'m>(
        members: impl IntoIterator<Item = (&'m [u8], f64)>,
        len_hint: usize,
    ) -> Result<ZTree, usize> {
        let mut table = ScoreTable::with_capacity(len_hint);
        let mut entries: Vec<Scored> = Vec::with_capacity(len_hint.min(1 << 20));
        let mut last: Option<(f64, &[u8])> = None;
        for (i, (member, score)) in members.into_iter().enumerate() {
            let in_order = last.is_none_or(|prev| order(prev, (score, member)) == Ordering::Less);
            if score.is_nan() || !in_order || !table.insert(member, &score_bytes(score)) {
                return Err(i);
            }
            let node = table.node(member).ok_or(i)?;
            // SAFETY: as in `scored`: the node is in the table this tree
            // goes with.
            entries.push(unsafe { Scored::new(node.address()) });
            last = Some((score, member));
        }
        let root = build(entries);
        Ok(ZTree {
            table,
            tree_bytes: recount(&root),
            root,
        })
    }

    /// The address of `member`'s node, as the tree holds it.
    fn scored(&self, member: &[u8]) -> Option<Scored> {
        let node = self.table.node(member)?;
        // SAFETY: the node is in this set's table, its value a score (all
        // this set stores); the address leaves the tree before the node
        // leaves the table or its score changes (see `insert`, `remove`).
        Some(unsafe { Scored::new(node.address()) })
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes taken from the allocator, not counting the `ZTree` itself:
    /// O(1).
    pub fn footprint(&self) -> usize {
        self.table.footprint() + self.tree_bytes
    }

    /// The table of members and scores (for a scan).
    pub fn table(&self) -> &ScoreTable {
        &self.table
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.table.get(member).map(score_of)
    }

    /// Sets `member`'s score (never NaN), adding it if new: `None` if it
    /// is new, else its old score. An equal score (`-0.0` and `0.0` are
    /// equal) changes nothing.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        // One lookup finds the node, its address and its old score.
        if let Some(address) = self.table.node(member).map(|node| node.address()) {
            // SAFETY: the node is in this set's table, its value a score;
            // this reads it once, and no `Scored` outlives the statement.
            let old = unsafe { Scored::new(address) }.key().0;
            if old == score {
                return Some(old);
            }
            remove(&mut self.root, address, (old, member), &mut self.tree_bytes);
            // The same length: the node is rewritten in place, and keeps
            // its address (no longer in the tree).
            self.table.insert(member, &score_bytes(score));
            // SAFETY: the node rewritten in place (above) holds the new
            // score at the same address; it goes back into the tree, which
            // it leaves before the node leaves the table or changes again.
            let entry = unsafe { Scored::new(address) };
            self.index_entry(entry, member, score);
            return Some(old);
        }
        self.table.insert(member, &score_bytes(score));
        self.index(member, score);
        None
    }

    /// Puts `member`'s node, holding `score`, into the tree.
    fn index(&mut self, member: &[u8], score: f64) {
        let Some(entry) = self.scored(member) else {
            return;
        };
        self.index_entry(entry, member, score);
    }

    /// Puts `entry`, `member`'s node holding `score`, into the tree.
    fn index_entry(&mut self, entry: Scored, member: &[u8], score: f64) {
        if let Some(split) = insert(&mut self.root, entry, (score, member), &mut self.tree_bytes) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(vec![
                Child {
                    count: self.table.len() - split.count,
                    sep: Sep::none(),
                    node: left,
                },
                split,
            ]);
            account(&mut self.tree_bytes, 0, own(&self.root));
        }
    }

    /// Removes `member`: its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.score(member)?;
        let address = self.table.node(member)?.address();
        remove(
            &mut self.root,
            address,
            (score, member),
            &mut self.tree_bytes,
        );
        self.table.remove(member);
        // A root of one child gives way to it.
        loop {
            let only = match &mut self.root {
                Node::Inner(c) if c.len() == 1 => c.pop(),
                _ => None,
            };
            let Some(only) = only else {
                break;
            };
            let freed = own(&self.root) + only.sep.bytes();
            account(&mut self.tree_bytes, freed, 0);
            self.root = only.node;
        }
        Some(score)
    }

    /// The member of ascending rank `rank`, with its score.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        at(&self.root, rank).map(|e| {
            let (score, member) = e.key();
            (member, score)
        })
    }

    /// How many members come before the first for which `before` is false
    /// (`before` true for a prefix of the (score, member) order).
    pub fn count_before(&self, before: &Before<'_>) -> usize {
        count_before(&self.root, before)
    }

    /// `member`'s ascending rank.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_before(&|s, m| order((s, m), (score, member)) == Ordering::Less))
    }

    /// Visits the members of ascending ranks `start..end` with their
    /// scores, in that order, or the reverse if `rev`.
    pub fn visit<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'a [u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        visit(&self.root, self.len(), start, end, rev, &mut |e| {
            let (score, member) = e.key();
            f(member, score);
        });
    }

    /// Every member with its score, ascending.
    pub fn iter(&self) -> Iter<'_> {
        let mut iter = Iter {
            stack: Vec::new(),
            leaf: [].iter(),
            left: self.len(),
        };
        iter.descend(&self.root);
        iter
    }

    /// Levels of inner nodes above the leaves (for tests).
    #[cfg(test)]
    pub(crate) fn depth(&self) -> usize {
        let mut node = &self.root;
        let mut depth = 0;
        while let Node::Inner(c) = node {
            depth += 1;
            node = &c[0].node;
        }
        depth
    }

    /// The tree's invariants, checked from scratch (for tests): order,
    /// counts, separators, fill, depth, the byte count, and that every
    /// member of the table is in the tree once.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        fn walk(
            node: &Node,
            lo: Option<(f64, &[u8])>,
            depth: usize,
            leaves: &mut Vec<usize>,
            root: bool,
        ) -> usize {
            match node {
                Node::Leaf(v) => {
                    leaves.push(depth);
                    assert!(v.len() <= LEAF_MAX && v.capacity() <= LEAF_MAX);
                    assert!(root || !v.is_empty());
                    if let (Some(lo), Some(first)) = (lo, v.first()) {
                        assert_ne!(order(first.key(), lo), Ordering::Less);
                    }
                    v.len()
                }
                Node::Inner(c) => {
                    assert!(c.len() <= INNER_MAX && c.capacity() <= INNER_MAX + 1);
                    assert!(c.len() >= if root { 2 } else { 1 });
                    let mut total = 0;
                    for (i, child) in c.iter().enumerate() {
                        let lo = if i == 0 { lo } else { Some(child.sep.key()) };
                        if i > 0 {
                            if let Some(prev) = at(&c[i - 1].node, c[i - 1].count - 1) {
                                assert_eq!(order(prev.key(), child.sep.key()), Ordering::Less);
                            }
                        }
                        let n = walk(&child.node, lo, depth + 1, leaves, false);
                        assert_eq!(n, child.count);
                        total += n;
                    }
                    total
                }
            }
        }
        let mut leaves = Vec::new();
        assert_eq!(walk(&self.root, None, 0, &mut leaves, true), self.len());
        assert!(
            leaves.windows(2).all(|w| w[0] == w[1]),
            "leaves at one depth"
        );
        assert_eq!(self.tree_bytes, recount(&self.root));
        let listed: Vec<(f64, Vec<u8>)> = self.iter().map(|(m, s)| (s, m.to_vec())).collect();
        assert!(
            listed
                .windows(2)
                .all(|w| order((w[0].0, &w[0].1), (w[1].0, &w[1].1)) == Ordering::Less)
        );
        assert_eq!(listed.len(), self.table.len());
        for (s, m) in &listed {
            assert_eq!(self.score(m).map(f64::to_bits), Some(s.to_bits()));
        }
    }
}

impl Clone for ZTree {
    /// A deep copy: the table copied, and a tree of the copy's nodes built
    /// in the original's order (full leaves).
    fn clone(&self) -> ZTree {
        let mut copy = ZTree {
            table: self.table.clone(),
            root: Node::Leaf(Vec::new()),
            tree_bytes: 0,
        };
        let entries: Vec<Scored> = self
            .iter()
            .filter_map(|(member, _)| copy.scored(member))
            .collect();
        copy.root = build(entries);
        copy.tree_bytes = recount(&copy.root);
        copy
    }
}

impl std::fmt::Debug for ZTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZTree").field("len", &self.len()).finish()
    }
}

/// The members of a [`ZTree`] with their scores, ascending.
pub struct Iter<'a> {
    /// The rest of each inner node on the way down to the current leaf.
    stack: Vec<std::slice::Iter<'a, Child>>,
    leaf: std::slice::Iter<'a, Scored>,
    left: usize,
}

impl<'a> Iter<'a> {
    /// Goes down to the first leaf below `node`.
    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Leaf(v) => {
                    self.leaf = v.iter();
                    return;
                }
                Node::Inner(c) => {
                    let mut rest = c.iter();
                    let Some(first) = rest.next() else {
                        return;
                    };
                    self.stack.push(rest);
                    node = &first.node;
                }
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        loop {
            if let Some(e) = self.leaf.next() {
                self.left = self.left.saturating_sub(1);
                let (score, member) = e.key();
                return Some((member, score));
            }
            loop {
                let top = self.stack.last_mut()?;
                match top.next() {
                    Some(child) => {
                        self.descend(&child.node);
                        break;
                    }
                    None => {
                        self.stack.pop();
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}
