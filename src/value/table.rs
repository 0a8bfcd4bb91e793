//! The big encoding of hashes and sets: a chained hash table, like Redis's
//! `dict`, whose elements are thin nodes of one allocation each.
//!
//! A [`Table`] is an array of buckets (one pointer each, a power of two of
//! them, at most one element per bucket on average) and, behind each
//! bucket, a chain of nodes. A node is a single allocation holding the
//! pointer to the next node and the element's bytes with their lengths
//! (see [`Node`] for the layout); a set member of 14 bytes costs a 32-byte
//! chunk and a share of the buckets (8 to 16 bytes in a table that grew to
//! its size, up to 64 in one that is emptying, before it shrinks), where
//! Redis 7 spends about 75. [`SetTable`] holds set members,
//! [`HashTable`] a hash's fields and values; both are one generic table
//! over the [`Kind`] of node.
//!
//! Keys are hashed with SipHash-1-2 under a random key of the table's own
//! ([`KeyHashing`]), so a client cannot choose members that collide.
//!
//! Growing and shrinking are incremental, as in Redis: a resize allocates
//! the new array (zeroed pages, not written) and keeps the old one; every
//! mutating operation then moves at most [`REHASH_STEP`] nodes and passes
//! at most ten times as many empty buckets, and lookups look in both arrays
//! until the old one is empty. No operation, on a table of any size, does
//! more than that bounded amount of moving; [`Table::rehash_step`] lets an
//! idle loop finish the work sooner.
//!
//! This module owns the nodes and the bucket arrays. It must never let a
//! node outlive its table (or the [`Node`] handed out for it), never hand
//! out a reference that outlives the borrow of the table it came from, and
//! never do work proportional to the table's size in one operation, apart
//! from those that visit every element (iteration, cloning, dropping) and
//! a random pick in a table almost all of whose buckets are empty. The
//! only `unsafe` is in its `node` part, the allocation and layout of a node
//! and of a zeroed bucket array; everything above it is safe code over
//! `Option<Node>` links.

use super::random::{Seeds, below};
use crate::key_hash::KeyHashing;
use crate::memory;
use std::hash::BuildHasher;

pub use node::Node;

/// Most nodes a mutating operation moves from the old array to the new one
/// while rehashing; it also passes at most ten times as many empty buckets.
pub const REHASH_STEP: usize = 4;

/// Fewest buckets a table has.
const MIN_BUCKETS: usize = 4;

/// Most buckets [`Table::with_capacity`] allocates up front (128 MiB of
/// them): a larger hint, as from a corrupt count in a file, buys no
/// allocation the elements do not pay for; the table grows as they come.
const MAX_PRESIZE: usize = 1 << 24;

/// Draws of a (bucket, depth) pair before [`Table::random`] settles for
/// a non-empty bucket: at the sparsest load a table keeps (one element in
/// eight buckets) the fair draw succeeds in 64 tries on average.
const FAIR_TRIES: usize = 512;

/// The depths the fair draw tries: chains longer than this (rare at a
/// load of at most one) are reached only by the fallback.
const FAIR_DEPTH: usize = 8;

/// Buckets [`Table::random`] draws, after the fair draws missed, before
/// walking to the next non-empty one instead (with at least one element
/// per eight buckets, as the table keeps outside a resize, all of them
/// miss about once in 3,000 picks).
const RANDOM_TRIES: usize = 64;

mod sealed {
    /// Keeps [`Kind`](super::Kind) to the two kinds this module defines.
    pub trait Sealed {}
}

/// What a table's nodes hold: a set member ([`Member`]) or a hash field
/// and its value ([`Pair`]). Sealed: there are only these two.
pub trait Kind: sealed::Sealed + Sized + 'static {
    /// Byte strings a node holds: the key alone (1) or a key and a value (2).
    const PARTS: usize;
    /// What iteration, scans and random picks yield for one element.
    type Item<'a>;
    /// The element made of a node's key and value (the value is empty for
    /// a kind of one part).
    fn item<'a>(key: &'a [u8], value: &'a [u8]) -> Self::Item<'a>;
}

/// Nodes of a set: one member each.
pub enum Member {}

/// Nodes of a hash: one field and its value each.
pub enum Pair {}

impl sealed::Sealed for Member {}
impl sealed::Sealed for Pair {}

impl Kind for Member {
    const PARTS: usize = 1;
    type Item<'a> = &'a [u8];
    fn item<'a>(key: &'a [u8], _value: &'a [u8]) -> &'a [u8] {
        key
    }
}

impl Kind for Pair {
    const PARTS: usize = 2;
    type Item<'a> = (&'a [u8], &'a [u8]);
    fn item<'a>(key: &'a [u8], value: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        (key, value)
    }
}

/// The big encoding of a set.
pub type SetTable = Table<Member>;

/// The big encoding of a hash.
pub type HashTable = Table<Pair>;

/// One bucket: the head of a chain.
type Bucket<K> = Option<Node<K>>;

/// A chained hash table of thin nodes with incremental rehashing.
///
/// `size_of::<Table<_>>()` is 80 bytes (two bucket arrays, four counters,
/// the hash key), kept in a `Box` by its owner. [`footprint`](Table::footprint)
/// counts what the table allocates, not those 80 bytes: the owner adds
/// `memory::chunk(size_of::<Table<K>>())` for its box.
pub struct Table<K: Kind> {
    /// The array new nodes go into; the only one outside a resize.
    /// Never fewer than [`MIN_BUCKETS`] buckets.
    main: Box<[Bucket<K>]>,
    /// While rehashing, the array being emptied into `main`; otherwise
    /// empty (no allocation).
    old: Box<[Bucket<K>]>,
    /// Buckets of `old` below this index are empty.
    next_old: usize,
    /// Elements in both arrays.
    len: usize,
    /// Elements still in `old`.
    old_len: usize,
    /// What the nodes take from the allocator, [`memory::chunk`] each.
    node_bytes: usize,
    hasher: KeyHashing,
}

impl<K: Kind> Table<K> {
    /// An empty table (of four buckets).
    pub fn new() -> Table<K> {
        Table::with_buckets(MIN_BUCKETS)
    }

    /// An empty table with buckets for `n` elements (at most 2^24 buckets up
    /// front, however large `n`), so that adding them causes no resize.
    pub fn with_capacity(n: usize) -> Table<K> {
        // MAX_PRESIZE is a power of two, so this cannot overflow.
        Table::with_buckets(n.clamp(MIN_BUCKETS, MAX_PRESIZE).next_power_of_two())
    }

    fn with_buckets(buckets: usize) -> Table<K> {
        Table {
            main: node::empty_buckets(buckets),
            old: node::empty_buckets(0),
            next_old: 0,
            len: 0,
            old_len: 0,
            node_bytes: 0,
            hasher: KeyHashing::new(),
        }
    }

    /// Elements in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a resize is under way (nodes remain in the old array).
    pub fn is_rehashing(&self) -> bool {
        !self.old.is_empty()
    }

    /// Bytes the table takes from the allocator: its bucket arrays (both,
    /// while rehashing) and its nodes. Kept as a running count: O(1).
    pub fn footprint(&self) -> usize {
        let bucket = std::mem::size_of::<Bucket<K>>();
        memory::vec(self.main.len(), bucket) + memory::vec(self.old.len(), bucket) + self.node_bytes
    }

    /// Whether an element with key `key` (a member, or a field) is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Removes the element with key `key`; false if there was none.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// Removes the element with key `key` and hands its node over.
    pub fn take(&mut self, key: &[u8]) -> Option<Node<K>> {
        self.rehash_step(REHASH_STEP);
        let hash = self.hash(key);
        let (slot, in_old) = match slot_of(&mut self.main, hash, key) {
            Some(slot) => (slot, false),
            None => (slot_of(&mut self.old, hash, key)?, true),
        };
        let node = unlink(slot)?;
        self.forget(&node, in_old);
        Some(node)
    }

    /// Removes a random element (as [`random`](Table::random) picks it)
    /// and hands its node over; `None` only if the table is empty.
    pub fn pop_random(&mut self, seed: u64) -> Option<Node<K>> {
        self.rehash_step(REHASH_STEP);
        let place = self.random_place(seed)?;
        let array = if place.in_old {
            &mut self.old
        } else {
            &mut self.main
        };
        let mut slot = array.get_mut(place.bucket)?;
        for _ in 0..place.depth {
            slot = slot.as_mut()?.next_mut();
        }
        let node = unlink(slot)?;
        self.forget(&node, place.in_old);
        Some(node)
    }

    /// A random element in expected O(1), `None` only if the table is
    /// empty. `seed` drives the choice (callers pass a fresh one each
    /// time): a uniform bucket and a uniform depth in it, drawn again
    /// until they name an element, so elements are equally likely (chains
    /// are short at the loads the table keeps); after many misses, a
    /// random non-empty bucket and a random node of its chain, as Redis's
    /// `dictGetRandomKey` picks.
    pub fn random(&self, seed: u64) -> Option<K::Item<'_>> {
        let place = self.random_place(seed)?;
        let array = if place.in_old { &self.old } else { &self.main };
        chain(array.get(place.bucket))
            .nth(place.depth)
            .map(Node::get)
    }

    /// Visits the elements of the bucket the cursor points at and returns
    /// the next cursor, 0 when the scan is complete (start with 0), as
    /// Redis's `dictScan` does: the cursor counts up in reversed bit order,
    /// so every element present for the whole scan is visited at least
    /// once even if the table grows, shrinks or rehashes between calls
    /// (some may be visited twice). While rehashing it visits the bucket of
    /// the smaller array and every bucket of the larger one that it
    /// expands to. Any `cursor` is accepted.
    pub fn scan<'a>(&'a self, cursor: u64, mut visit: impl FnMut(K::Item<'a>)) -> u64 {
        let mut visit_bucket = |array: &'a [Bucket<K>], v: u64| {
            let index = (v & mask(array.len())) as usize;
            for node in chain(array.get(index)) {
                visit(node.get());
            }
        };
        let mut v = cursor;
        if !self.is_rehashing() {
            let m0 = mask(self.main.len());
            visit_bucket(&self.main, v);
            v |= !m0;
            return v.reverse_bits().wrapping_add(1).reverse_bits();
        }
        let (small, large) = if self.old.len() <= self.main.len() {
            (&*self.old, &*self.main)
        } else {
            (&*self.main, &*self.old)
        };
        let (m0, m1) = (mask(small.len()), mask(large.len()));
        visit_bucket(small, v);
        loop {
            visit_bucket(large, v);
            // Count up the bits the small mask does not cover, reversed.
            v |= !m1;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }

    /// The elements, in no particular order.
    pub fn iter(&self) -> Iter<'_, K> {
        let old = self.old.get(self.next_old..).unwrap_or_default();
        Iter {
            buckets: old.iter().chain(self.main.iter()),
            node: None,
            left: self.len,
        }
    }

    /// Takes every element out, leaving the table empty (and new): the
    /// nodes come out one by one, and those not taken are freed with the
    /// iterator, which may be sent to another thread to do so.
    pub fn drain(&mut self) -> IntoIter<K> {
        std::mem::take(self).into_iter()
    }

    /// Moves at most `budget` nodes from the old array to the new one,
    /// passing at most ten times as many empty buckets; returns whether
    /// rehashing is still under way. Every mutating operation does this
    /// with [`REHASH_STEP`]; an idle loop may call it to finish sooner.
    pub fn rehash_step(&mut self, budget: usize) -> bool {
        let mut moved = 0;
        let mut empty = 0;
        let most_empty = budget.saturating_mul(10);
        while self.old_len > 0 && moved < budget && empty < most_empty {
            let Some(slot) = self.old.get_mut(self.next_old) else {
                break;
            };
            match unlink(slot) {
                None => {
                    self.next_old += 1;
                    empty += 1;
                }
                Some(node) => {
                    let hash = self.hasher.hash_one(node.key());
                    push(&mut self.main, hash, node);
                    self.old_len -= 1;
                    moved += 1;
                }
            }
        }
        if self.old_len == 0 {
            self.finish_rehash();
        }
        self.is_rehashing()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, key: &[u8]) -> Option<&Node<K>> {
        let hash = self.hash(key);
        [&self.main, &self.old]
            .into_iter()
            .flat_map(|array| chain(array.get(index(array.len(), hash))))
            .find(|node| node.key() == key)
    }

    /// Adds an element; if its key is present, replaces the value when
    /// `replace` (a hash) and changes nothing otherwise (a set). True if
    /// the key is new.
    fn put(&mut self, key: &[u8], value: &[u8], replace: bool) -> bool {
        self.rehash_step(REHASH_STEP);
        let hash = self.hash(key);
        let found = match slot_of(&mut self.main, hash, key) {
            Some(slot) => Some(slot),
            None => slot_of(&mut self.old, hash, key),
        };
        if let Some(slot) = found {
            let node = if replace { slot.as_mut() } else { None };
            if let Some(node) = node {
                let before = node.footprint();
                if !node.overwrite_value(value) {
                    let mut fresh = Node::new(node.key(), value);
                    fresh.set_next(node.take_next());
                    // The old node, now alone, is freed.
                    *node = fresh;
                }
                let after = node.footprint();
                self.node_bytes = self.node_bytes - before + after;
            }
            return false;
        }
        let node = Node::new(key, value);
        self.node_bytes += node.footprint();
        push(&mut self.main, hash, node);
        self.len += 1;
        if !self.is_rehashing() && self.len > self.main.len() {
            // Twice the buckets at least; never more than the elements need.
            let buckets = self.len.checked_next_power_of_two();
            self.resize(buckets.unwrap_or(self.main.len()));
        }
        true
    }

    /// Accounts for a node just unlinked, and shrinks if the table has
    /// become sparse.
    fn forget(&mut self, node: &Node<K>, in_old: bool) {
        self.len -= 1;
        self.node_bytes -= node.footprint();
        if in_old {
            self.old_len -= 1;
            if self.old_len == 0 {
                self.finish_rehash();
            }
        }
        if !self.is_rehashing()
            && self.main.len() > MIN_BUCKETS
            && self.len.saturating_mul(8) < self.main.len()
        {
            self.resize(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Starts moving every node into a new array of `buckets` buckets.
    /// Only called when not rehashing.
    fn resize(&mut self, buckets: usize) {
        debug_assert!(!self.is_rehashing());
        if buckets == self.main.len() {
            return;
        }
        let old = std::mem::replace(&mut self.main, node::empty_buckets(buckets));
        if self.len > 0 {
            self.old = old;
            self.old_len = self.len;
            self.next_old = 0;
        }
    }

    fn finish_rehash(&mut self) {
        self.old = node::empty_buckets(0);
        self.next_old = 0;
    }

    /// Where a random element is, or `None` if the table is empty.
    fn random_place(&self, seed: u64) -> Option<Place> {
        if self.len == 0 {
            return None;
        }
        let mut state = Seeds::new(seed);
        // Buckets of `old` below `next_old` are empty: they are not drawn.
        let live_old = self.old.len().saturating_sub(self.next_old);
        let total = live_old + self.main.len();
        let place = |r: usize| {
            if r < live_old {
                (true, self.next_old + r)
            } else {
                (false, r - live_old)
            }
        };
        let head = |(in_old, bucket): (bool, usize)| {
            let array = if in_old { &self.old } else { &self.main };
            array.get(bucket).and_then(Option::as_ref)
        };
        // Fair first: a uniform bucket and a uniform depth below
        // FAIR_DEPTH, kept only if the chain is that deep, so every element
        // of a chain no longer than FAIR_DEPTH is equally likely (Redis's
        // HRANDFIELD and SRANDMEMBER promise a uniform distribution).
        for _ in 0..FAIR_TRIES {
            let (in_old, bucket) = place(below(state.draw(), total));
            let depth = below(state.draw(), FAIR_DEPTH);
            let array = if in_old { &self.old } else { &self.main };
            if chain(array.get(bucket)).nth(depth).is_some() {
                return Some(Place {
                    in_old,
                    bucket,
                    depth,
                });
            }
        }
        let drawn = (0..RANDOM_TRIES)
            .map(|_| place(below(state.draw(), total)))
            .find(|&p| head(p).is_some());
        let (in_old, bucket) = match drawn {
            Some(found) => found,
            None => {
                // A sparse table: walk on from a random bucket.
                let start = below(state.draw(), total);
                (0..total)
                    .map(|k| place((start + k) % total))
                    .find(|&p| head(p).is_some())?
            }
        };
        let array = if in_old { &self.old } else { &self.main };
        let length = chain(array.get(bucket)).count();
        Some(Place {
            in_old,
            bucket,
            depth: below(state.draw(), length),
        })
    }
}

/// Where one node is: its array, bucket and place in the chain.
struct Place {
    in_old: bool,
    bucket: usize,
    depth: usize,
}

impl Table<Member> {
    /// Adds `member`; false if it was already present.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.put(member, &[], false)
    }
}

impl Table<Pair> {
    /// Sets `field` to `value`: true if the field is new, false if it
    /// existed and its value was replaced (the node is rewritten in place
    /// if the new value has the old one's length, reallocated otherwise).
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.put(field, value, true)
    }

    /// The value of `field`, if present.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(Node::value)
    }

    /// The node holding `field`, if present: its [`address`](Node::address)
    /// is stable until the field is removed (see [`Node`]).
    pub fn node(&self, field: &[u8]) -> Option<&Node<Pair>> {
        self.find(field)
    }
}

impl<K: Kind> Default for Table<K> {
    fn default() -> Table<K> {
        Table::new()
    }
}

impl<K: Kind> Clone for Table<K> {
    /// A deep copy: every node copied, in the same buckets and chain order,
    /// under the same hash key, mid-rehash if the original is.
    fn clone(&self) -> Table<K> {
        Table {
            main: clone_array(&self.main),
            old: clone_array(&self.old),
            next_old: self.next_old,
            len: self.len,
            old_len: self.old_len,
            node_bytes: self.node_bytes,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K: Kind> std::fmt::Debug for Table<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len)
            .field("buckets", &self.main.len())
            .field("old_buckets", &self.old.len())
            .finish()
    }
}

/// An iterator over a table's elements, from [`Table::iter`].
pub struct Iter<'a, K: Kind> {
    buckets: std::iter::Chain<std::slice::Iter<'a, Bucket<K>>, std::slice::Iter<'a, Bucket<K>>>,
    node: Option<&'a Node<K>>,
    left: usize,
}

impl<'a, K: Kind> Iterator for Iter<'a, K> {
    type Item = K::Item<'a>;

    fn next(&mut self) -> Option<K::Item<'a>> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next().as_ref();
                self.left = self.left.saturating_sub(1);
                return Some(node.get());
            }
            if self.left == 0 {
                return None;
            }
            self.node = self.buckets.next()?.as_ref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K: Kind> ExactSizeIterator for Iter<'_, K> {}

impl<'a, K: Kind> IntoIterator for &'a Table<K> {
    type Item = K::Item<'a>;
    type IntoIter = Iter<'a, K>;

    fn into_iter(self) -> Iter<'a, K> {
        self.iter()
    }
}

/// The nodes of a table, taken out one by one, from [`Table::drain`] or
/// `into_iter`; those not taken are freed when it drops.
pub struct IntoIter<K: Kind> {
    table: Table<K>,
    /// The next bucket to take from, counting `old`'s buckets first.
    bucket: usize,
}

impl<K: Kind> Iterator for IntoIter<K> {
    type Item = Node<K>;

    fn next(&mut self) -> Option<Node<K>> {
        let table = &mut self.table;
        while table.len > 0 {
            let in_old = self.bucket < table.old.len();
            let slot = if in_old {
                table.old.get_mut(self.bucket)?
            } else {
                table.main.get_mut(self.bucket - table.old.len())?
            };
            if let Some(node) = unlink(slot) {
                // No resize: the table is going away.
                table.len -= 1;
                table.node_bytes -= node.footprint();
                if in_old {
                    table.old_len -= 1;
                }
                return Some(node);
            }
            self.bucket += 1;
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.table.len, Some(self.table.len))
    }
}

impl<K: Kind> ExactSizeIterator for IntoIter<K> {}

impl<K: Kind> IntoIterator for Table<K> {
    type Item = Node<K>;
    type IntoIter = IntoIter<K>;

    fn into_iter(self) -> IntoIter<K> {
        IntoIter {
            table: self,
            bucket: 0,
        }
    }
}

/// The bucket of `hash` in an array of `len` buckets (`len` a power of
/// two); for an empty array an index past its end.
fn index(len: usize, hash: u64) -> usize {
    (hash as usize) & len.wrapping_sub(1)
}

/// The cursor mask of an array of `len` buckets.
fn mask(len: usize) -> u64 {
    (len as u64).wrapping_sub(1)
}

/// The nodes of the chain whose head is in `bucket`.
fn chain<K: Kind>(bucket: Option<&Bucket<K>>) -> impl Iterator<Item = &Node<K>> {
    std::iter::successors(bucket.and_then(Option::as_ref), |node| node.next().as_ref())
}

/// The link that holds the node with key `key` (hashing to `hash`), if
/// the array has one.
fn slot_of<'a, K: Kind>(
    array: &'a mut [Bucket<K>],
    hash: u64,
    key: &[u8],
) -> Option<&'a mut Bucket<K>> {
    let mut slot = array.get_mut(index(array.len(), hash))?;
    loop {
        match slot {
            None => return None,
            Some(node) if node.key() == key => return Some(slot),
            Some(node) => slot = node.next_mut(),
        }
    }
}

/// Takes the node out of `slot`, linking its successor in its place.
fn unlink<K: Kind>(slot: &mut Bucket<K>) -> Option<Node<K>> {
    let mut node = slot.take()?;
    *slot = node.take_next();
    Some(node)
}

/// Puts `node` at the head of its bucket's chain. The array is never empty
/// (the main array has at least [`MIN_BUCKETS`]).
fn push<K: Kind>(array: &mut [Bucket<K>], hash: u64, mut node: Node<K>) {
    let i = index(array.len(), hash);
    if let Some(slot) = array.get_mut(i) {
        node.set_next(slot.take());
        *slot = Some(node);
    }
}

fn clone_array<K: Kind>(array: &[Bucket<K>]) -> Box<[Bucket<K>]> {
    let mut copy = node::empty_buckets(array.len());
    for (from, to) in array.iter().zip(copy.iter_mut()) {
        let mut tail = to;
        for node in chain(Some(from)) {
            tail = tail.insert(node.copy_alone()).next_mut();
        }
    }
    copy
}

/// The one place with `unsafe`: a node's allocation and layout, and zeroed
/// bucket arrays.
mod node {
    use super::{Bucket, Kind};
    use crate::memory;
    use std::alloc::{self, Layout};
    use std::marker::PhantomData;
    use std::ptr::NonNull;

    /// Bytes of the link to the next node at the start of every node.
    const NEXT: usize = std::mem::size_of::<Option<NonNull<u8>>>();

    /// Alignment of a node: the link's.
    const ALIGN: usize = std::mem::align_of::<Option<NonNull<u8>>>();

    /// One element of a table, in one allocation of its own:
    ///
    /// ```text
    /// member: [next: 8][len: varint][member bytes]
    /// pair:   [next: 8][field len: varint][field bytes][value len: varint][value bytes]
    /// ```
    ///
    /// `next` is the link to the next node of the bucket's chain (null for
    /// none). A length is a little-endian base-128 varint: one byte below
    /// 128, two below 16,384, three below 2 MiB, at most ten; so a member of
    /// 14 bytes is a 23-byte node, a 32-byte chunk, and a field and a value
    /// of 10 bytes each a 30-byte node, a 48-byte chunk. Lengths have no
    /// limit but memory.
    ///
    /// A node handed out by [`Table::take`](super::Table::take) or a drain
    /// owns its element alone and frees it when dropped.
    #[repr(transparent)]
    pub struct Node<K: Kind> {
        ptr: NonNull<u8>,
        kind: PhantomData<K>,
    }

    // SAFETY: a node owns its allocation alone, as a `Box<[u8]>` does: it
    // is reached only through its one owner (a link of a chain or a
    // detached `Node`), its bytes are changed only through `&mut`, and it
    // holds nothing tied to a thread. So it may move between threads and
    // be read from several at once like a `Box<[u8]>`.
    unsafe impl<K: Kind> Send for Node<K> {}
    // SAFETY: as above: `&Node` gives only reads.
    unsafe impl<K: Kind> Sync for Node<K> {}

    impl<K: Kind> Node<K> {
        /// A node of `key` and, for a pair, `value` (a member's `value` is
        /// ignored), not linked to any other.
        pub(super) fn new(key: &[u8], value: &[u8]) -> Node<K> {
            let layout = layout::<K>(key.len(), value.len());
            // SAFETY: `layout` is never zero-sized (the link alone is 8 bytes).
            let raw = unsafe { alloc::alloc(layout) };
            let Some(ptr) = NonNull::new(raw) else {
                alloc::handle_alloc_error(layout);
            };
            // SAFETY: `raw` is a fresh allocation of `layout`, aligned for
            // the link, with room for the link, each part's varint and its
            // bytes (`layout` counted exactly these).
            unsafe {
                raw.cast::<Bucket<K>>().write(None);
                let mut at = raw.add(NEXT);
                at = write_part(at, key);
                if K::PARTS == 2 {
                    write_part(at, value);
                }
            }
            Node {
                ptr,
                kind: PhantomData,
            }
        }

        /// A copy of this node's element, not linked to any other.
        pub(super) fn copy_alone(&self) -> Node<K> {
            Node::new(self.key(), self.value())
        }

        /// The element.
        pub fn get(&self) -> K::Item<'_> {
            K::item(self.key(), self.value())
        }

        /// Where the node is. A node never moves while it is in a table:
        /// rehashing relinks it, and replacing a pair's value with one of
        /// the same length rewrites it in place; only a value of another
        /// length gives the field a new node. So a sorted set's index may
        /// hold the address until it removes the member.
        pub fn address(&self) -> NonNull<u8> {
            self.ptr
        }

        /// The key and the value (empty for a member) of the node at
        /// `address`.
        ///
        /// # Safety
        /// `address` must be a node's [`address`](Node::address), and the
        /// node must stay alive and its value unchanged for `'a`.
        pub unsafe fn parts_at<'a>(address: NonNull<u8>) -> (&'a [u8], &'a [u8]) {
            // SAFETY: per the caller, a node of this kind lives at `address`
            // for 'a; its parts were written by `new` right after the link
            // (a member's value part does not exist: it reads as empty).
            unsafe {
                let (key, after_key) = read_part(address.as_ptr().add(NEXT));
                if K::PARTS == 1 {
                    return (key, &[]);
                }
                (key, read_part(after_key).0)
            }
        }

        /// The key: the member, or the field.
        pub fn key(&self) -> &[u8] {
            // SAFETY: `new` wrote the key's varint and bytes right after
            // the link, and they are never changed.
            unsafe { read_part(self.ptr.as_ptr().add(NEXT)).0 }
        }

        /// The value (empty for a member).
        pub(super) fn value(&self) -> &[u8] {
            if K::PARTS == 1 {
                return &[];
            }
            // SAFETY: a pair's value part follows its key part, both written
            // in `new`; only `overwrite_value` changes the value's bytes,
            // through `&mut self`.
            unsafe {
                let (_, after_key) = read_part(self.ptr.as_ptr().add(NEXT));
                read_part(after_key).0
            }
        }

        /// Replaces a pair's value in place if `value` has the present
        /// one's length; false (nothing changed) otherwise.
        pub(super) fn overwrite_value(&mut self, value: &[u8]) -> bool {
            if K::PARTS != 2 || self.value().len() != value.len() {
                return false;
            }
            let key = self.key().len();
            // Where the value's bytes start, after the link, the key's part
            // and the value's varint (as `new` wrote them).
            let offset = NEXT + varint_len(key) + key + varint_len(value.len());
            // SAFETY: `offset` is where the value's bytes are, inside this
            // node's allocation, and as many bytes as the old value's follow
            // it; the pointer comes from the allocation's own (not from a
            // shared borrow), and `&mut self` makes the write exclusive.
            unsafe {
                let at = self.ptr.as_ptr().add(offset);
                std::ptr::copy_nonoverlapping(value.as_ptr(), at, value.len());
            }
            true
        }

        /// Bytes the node takes from the allocator.
        pub fn footprint(&self) -> usize {
            memory::chunk(layout::<K>(self.key().len(), self.value().len()).size())
        }

        /// The link to the next node.
        pub(super) fn next(&self) -> &Bucket<K> {
            // SAFETY: the link at the start of the node was initialised in
            // `new` and is only changed through `next_mut`; an
            // `Option<Node<K>>` is one pointer (`Node` is a transparent
            // `NonNull`), so the aligned start of the node holds one.
            unsafe { &*self.ptr.as_ptr().cast::<Bucket<K>>() }
        }

        /// The link to the next node, to change it.
        pub(super) fn next_mut(&mut self) -> &mut Bucket<K> {
            // SAFETY: as in `next`; `&mut self` makes the access exclusive.
            unsafe { &mut *self.ptr.as_ptr().cast::<Bucket<K>>() }
        }

        /// Takes the rest of the chain off this node.
        pub(super) fn take_next(&mut self) -> Bucket<K> {
            self.next_mut().take()
        }

        /// Links `next` behind this node (which must have no successor:
        /// one would be dropped).
        pub(super) fn set_next(&mut self, next: Bucket<K>) {
            *self.next_mut() = next;
        }
    }

    impl<K: Kind> Drop for Node<K> {
        fn drop(&mut self) {
            // Free the rest of the chain in a loop: dropping it recursively
            // could run out of stack on a long chain.
            let mut rest = self.take_next();
            while let Some(mut node) = rest {
                rest = node.take_next();
            }
            let layout = layout::<K>(self.key().len(), self.value().len());
            // SAFETY: the allocation was made in `new` with this layout
            // (the lengths it is computed from never change), and this node
            // was its only owner.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }

    impl<K: Kind> std::fmt::Debug for Node<K> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Node")
                .field("key", &String::from_utf8_lossy(self.key()))
                .field("value_len", &self.value().len())
                .finish()
        }
    }

    /// The layout of a node of a key of `key` bytes and, for a pair, a
    /// value of `value` bytes.
    fn layout<K: Kind>(key: usize, value: usize) -> Layout {
        let part = |len: usize| len.checked_add(varint_len(len));
        let size = part(key).and_then(|k| {
            let v = if K::PARTS == 2 { part(value)? } else { 0 };
            k.checked_add(v)?.checked_add(NEXT)
        });
        // Slices that together outnumber the address space cannot exist.
        match size.map(|size| Layout::from_size_align(size, ALIGN)) {
            Some(Ok(layout)) => layout,
            _ => panic!("table node too large"),
        }
    }

    /// Bytes of `n` as a varint.
    fn varint_len(n: usize) -> usize {
        let bits = usize::BITS - (n | 1).leading_zeros();
        bits.div_ceil(7) as usize
    }

    /// Writes `bytes`' length as a varint at `at`, then the bytes; returns
    /// the address after them.
    ///
    /// # Safety
    /// `at` must have room for `varint_len(bytes.len()) + bytes.len()`
    /// bytes, not overlapping `bytes`.
    unsafe fn write_part(mut at: *mut u8, bytes: &[u8]) -> *mut u8 {
        let mut n = bytes.len();
        // SAFETY: the caller gave room for the varint and the bytes.
        unsafe {
            while n >= 0x80 {
                at.write((n as u8) | 0x80);
                at = at.add(1);
                n >>= 7;
            }
            at.write(n as u8);
            at = at.add(1);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
            at.add(bytes.len())
        }
    }

    /// Reads a part that `write_part` wrote at `at`: its bytes, and the
    /// address after them.
    ///
    /// # Safety
    /// `at` must be where `write_part` wrote a part, in an allocation that
    /// lives and is not written for `'a`.
    unsafe fn read_part<'a>(mut at: *const u8) -> (&'a [u8], *const u8) {
        let mut len = 0usize;
        let mut shift = 0;
        // SAFETY: `write_part` wrote a varint here, its last byte below
        // 0x80, then `len` bytes; the caller keeps them alive for 'a.
        unsafe {
            loop {
                let byte = at.read();
                at = at.add(1);
                len |= usize::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
            }
            (std::slice::from_raw_parts(at, len), at.add(len))
        }
    }

    /// An array of `n` empty buckets. The memory comes zeroed from the
    /// allocator (for a large array, untouched pages), so a resize costs no
    /// writes up front.
    pub(super) fn empty_buckets<K: Kind>(n: usize) -> Box<[Bucket<K>]> {
        if n == 0 {
            return Box::default();
        }
        let Ok(layout) = Layout::array::<Bucket<K>>(n) else {
            // The table never asks for more buckets than elements it holds.
            panic!("bucket array too large");
        };
        // SAFETY: `layout` is not zero-sized (n > 0 and a bucket is 8 bytes).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        if raw.is_null() {
            alloc::handle_alloc_error(layout);
        }
        // SAFETY: `raw` is a fresh allocation from the global allocator with
        // the layout of `[Bucket<K>; n]`, which is what a `Box<[Bucket<K>]>`
        // of `n` frees with. All zeroes is a valid `Option<Node<K>>`, and it
        // is `None`: `Node` is a transparent `NonNull`, which Rust
        // guarantees `Option` represents with null.
        unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                raw.cast::<Bucket<K>>(),
                n,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// A seeded xorshift64 sequence.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A distinct key for each id, of assorted shapes: empty, binary, a
    /// few hundred bytes, text.
    fn key(id: u64) -> Vec<u8> {
        let mut k = match id % 7 {
            _ if id == 0 => return vec![],
            0 => vec![0],
            1 => vec![1, 0xff],
            2 => vec![b'x'; (id % 300) as usize],
            _ => b"member:".to_vec(),
        };
        k.extend_from_slice(id.to_string().as_bytes());
        k
    }

    /// The key space and the inserts in ten operations at operation `op`:
    /// cycles of 10,000 operations, 4,000 mostly inserting into a key space
    /// of 50, 500 or 2,000 keys, then 6,000 only removing from all of them
    /// (which leaves a few), so that both resizes happen often.
    fn phase(op: u64) -> (u64, u64) {
        if op % 10_000 < 4000 {
            ([50, 500, 2000][(op / 10_000 % 3) as usize], 8)
        } else {
            (2000, 0)
        }
    }

    fn value(rng: &mut Rng) -> Vec<u8> {
        let len = match rng.below(10) {
            0 => 0,
            1 => 1,
            2 => 127 + rng.below(3) as usize,
            _ => rng.below(40) as usize,
        };
        (0..len).map(|_| rng.next() as u8).collect()
    }

    /// The footprint counted from scratch.
    fn recount<K: Kind>(t: &Table<K>) -> usize {
        let nodes: usize = [&t.main, &t.old]
            .iter()
            .flat_map(|a| a.iter())
            .flat_map(|b| chain(Some(b)))
            .map(Node::footprint)
            .sum();
        memory::vec(t.main.len(), 8) + memory::vec(t.old.len(), 8) + nodes
    }

    /// The table's invariants: counts, buckets, every node where its hash
    /// says, nothing in `old` below `next_old`.
    fn check<K: Kind>(t: &Table<K>) {
        assert_eq!(t.footprint(), recount(t));
        assert!(t.main.len().is_power_of_two() && t.main.len() >= MIN_BUCKETS);
        let count = |a: &[Bucket<K>]| a.iter().flat_map(|b| chain(Some(b))).count();
        assert_eq!(count(&t.old), t.old_len);
        assert_eq!(count(&t.main) + t.old_len, t.len);
        assert_eq!(t.iter().count(), t.len);
        for array in [&t.main, &t.old] {
            for (i, bucket) in array.iter().enumerate() {
                for node in chain(Some(bucket)) {
                    assert_eq!(index(array.len(), t.hash(node.key())), i);
                }
            }
        }
        assert!(t.old.iter().take(t.next_old).all(Option::is_none));
    }

    #[test]
    fn a_set_agrees_with_a_hash_set_over_200k_random_operations() {
        let mut rng = Rng(0x5eed_0001);
        let mut table = SetTable::new();
        let mut model: HashSet<Vec<u8>> = HashSet::new();
        let (mut grew, mut shrank) = (0, 0);
        for op in 0..200_000u64 {
            // Phases of growth and of shrinking, so both resizes happen often.
            let (space, inserts) = phase(op);
            let k = key(rng.below(space));
            let before = table.main.len();
            if rng.below(10) < inserts {
                assert_eq!(table.insert(&k), model.insert(k.clone()), "insert {op}");
            } else {
                assert_eq!(table.remove(&k), model.remove(&k), "remove {op}");
            }
            grew += usize::from(table.main.len() > before);
            shrank += usize::from(table.main.len() < before);
            assert_eq!(table.len(), model.len());
            assert_eq!(table.contains(&k), model.contains(&k));
            if op % 2_000 == 0 {
                check(&table);
                assert!(model.iter().all(|m| table.contains(m)));
                let seen: HashSet<Vec<u8>> = table.iter().map(<[u8]>::to_vec).collect();
                assert_eq!(seen, model);
            }
        }
        assert!(grew > 10 && shrank > 10, "grew {grew}, shrank {shrank}");
        check(&table);
    }

    #[test]
    fn a_hash_agrees_with_a_hash_map_over_200k_random_operations() {
        let mut rng = Rng(0x5eed_0002);
        let mut table = HashTable::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let (mut grew, mut shrank) = (0, 0);
        for op in 0..200_000u64 {
            let (space, inserts) = phase(op);
            let k = key(rng.below(space));
            let before = table.main.len();
            let dice = rng.below(10);
            if dice < inserts {
                let v = value(&mut rng);
                assert_eq!(table.insert(&k, &v), model.insert(k.clone(), v).is_none());
            } else if inserts > 0 && dice % 2 == 0 {
                // Replace: an update as callers make it, get then insert.
                if let Some(old) = table.get(&k).map(<[u8]>::to_vec) {
                    let mut v = old.clone();
                    v.push(b'+');
                    assert!(!table.insert(&k, &v));
                    model.insert(k.clone(), v);
                }
            } else {
                assert_eq!(table.remove(&k), model.remove(&k).is_some());
            }
            grew += usize::from(table.main.len() > before);
            shrank += usize::from(table.main.len() < before);
            assert_eq!(table.len(), model.len());
            assert_eq!(table.get(&k), model.get(&k).map(Vec::as_slice), "op {op}");
            if op % 2_000 == 0 {
                check(&table);
                let seen: HashMap<Vec<u8>, Vec<u8>> = table
                    .iter()
                    .map(|(f, v)| (f.to_vec(), v.to_vec()))
                    .collect();
                assert_eq!(seen, model);
            }
        }
        assert!(grew > 10 && shrank > 10, "grew {grew}, shrank {shrank}");
        check(&table);
    }

    /// Runs one scan to completion, calling `between` before each step.
    fn scan_all<K: Kind>(
        table: &mut Table<K>,
        mut between: impl FnMut(&mut Table<K>),
    ) -> HashSet<Vec<u8>>
    where
        for<'a> K::Item<'a>: Into<Scanned<'a>>,
    {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            between(table);
            cursor = table.scan(cursor, |item| {
                seen.insert(item.into().0.to_vec());
            });
            steps += 1;
            assert!(steps < 10_000_000, "the scan ends");
            if cursor == 0 {
                return seen;
            }
        }
    }

    /// The key of a scanned item.
    struct Scanned<'a>(&'a [u8]);

    impl<'a> From<&'a [u8]> for Scanned<'a> {
        fn from(member: &'a [u8]) -> Scanned<'a> {
            Scanned(member)
        }
    }

    impl<'a> From<(&'a [u8], &'a [u8])> for Scanned<'a> {
        fn from((field, _): (&'a [u8], &'a [u8])) -> Scanned<'a> {
            Scanned(field)
        }
    }

    #[test]
    fn a_scan_of_a_still_table_visits_every_element_once() {
        let mut table = SetTable::new();
        for id in 0..4096 {
            table.insert(&key(id));
        }
        while table.rehash_step(100) {}
        let mut count = 0;
        let mut cursor = 0;
        loop {
            cursor = table.scan(cursor, |_| count += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(count, 4096);
        // A table mid-rehash is scanned whole too.
        for id in 4096..4196 {
            table.insert(&key(id));
        }
        assert!(table.is_rehashing());
        let seen = scan_all(&mut table, |_| {});
        assert_eq!(seen.len(), 4196);
    }

    #[test]
    fn a_scan_visits_every_element_present_throughout_while_the_table_grows_and_shrinks() {
        let mut both = 0;
        for round in 0..16u64 {
            let mut rng = Rng(0x5ca7 + round);
            let mut table = HashTable::new();
            let start = 50 + rng.below(3000);
            // Elements present for the whole scan: never removed during it.
            let kept: HashSet<Vec<u8>> = (0..start).map(|id| key(id * 2)).collect();
            for k in &kept {
                table.insert(k, b"v");
            }
            let mut extra: Vec<Vec<u8>> = vec![];
            let mut next_id = 0u64;
            let mut step = 0u64;
            let (mut grew, mut shrank) = (false, false);
            let seen = scan_all(&mut table, |t| {
                let before = t.main.len();
                // Blocks of 50 steps of inserts (growth), then of removals
                // (shrinking), of elements that were not there at the start.
                let ops = rng.below(if round % 2 == 0 { 20 } else { 150 });
                let growing = step / 50 % 2 == 0;
                step += 1;
                for _ in 0..ops {
                    if growing {
                        let k = key(next_id * 2 + 1);
                        next_id += 1;
                        t.insert(&k, b"w");
                        extra.push(k);
                    } else if !extra.is_empty() {
                        let at = rng.below(extra.len() as u64) as usize;
                        assert!(t.remove(&extra.swap_remove(at)));
                    } else {
                        t.rehash_step(1);
                    }
                }
                grew |= t.main.len() > before;
                shrank |= t.main.len() < before;
            });
            assert!(kept.is_subset(&seen), "round {round}");
            both += usize::from(grew && shrank);
        }
        assert!(both >= 4, "{both} scans saw a grow and a shrink");
    }

    #[test]
    fn a_scan_survives_removing_almost_everything_mid_scan() {
        let mut table = SetTable::new();
        for id in 0..20_000 {
            table.insert(&key(id));
        }
        let kept: HashSet<Vec<u8>> = (0..20_000).step_by(997).map(key).collect();
        let mut victims: Vec<Vec<u8>> =
            (0..20_000).map(key).filter(|k| !kept.contains(k)).collect();
        let seen = scan_all(&mut table, |t| {
            for _ in 0..500 {
                if let Some(k) = victims.pop() {
                    t.remove(&k);
                }
            }
        });
        assert!(kept.is_subset(&seen));
        assert_eq!(table.len(), kept.len());
    }

    #[test]
    fn any_cursor_is_accepted() {
        let mut table = SetTable::new();
        for id in 0..300 {
            table.insert(&key(id));
        }
        for cursor in [u64::MAX, 1 << 63, 12345, 7] {
            table.scan(cursor, |_| {});
        }
        assert!(table.is_rehashing() || table.len() == 300);
    }

    #[test]
    fn random_picks_are_uniform_whatever_the_chains() {
        // Redis's own test: 10 members, 1,000 picks, chi-square under 40
        // (df = 9: a 0.00001 chance). Here over many tables and seeds, so
        // a bias from shared buckets would show.
        let mut seed = 1u64;
        for round in 0..20u64 {
            let mut table = SetTable::new();
            for i in 0..10u64 {
                table.insert(format!("m{}", i * 7 + round).as_bytes());
            }
            let mut counts = std::collections::HashMap::new();
            for _ in 0..1000 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *counts
                    .entry(table.random(seed).unwrap().to_vec())
                    .or_insert(0f64) += 1.0;
            }
            let chi: f64 = counts.values().map(|&c| (c - 100.0).powi(2) / 100.0).sum();
            assert!(chi < 40.0, "round {round}: chi-square {chi}");
        }
    }

    #[test]
    fn random_reaches_every_element_and_is_none_only_when_empty() {
        let mut table = SetTable::new();
        assert!(table.random(1).is_none());
        for id in 0..10 {
            table.insert(&key(id));
        }
        let mut seen = HashSet::new();
        let mut state = Seeds::new(99);
        for _ in 0..10_000 {
            let m = table.random(state.draw()).map(<[u8]>::to_vec);
            let m = m.expect("non-empty");
            assert!(table.contains(&m));
            seen.insert(m);
        }
        assert_eq!(seen.len(), 10);
        // Mid-rehash, and sparse (presized, one element): still never None.
        let mut big = HashTable::new();
        for id in 0..5000 {
            big.insert(&key(id), b"v");
        }
        assert!(big.is_rehashing());
        for seed in 0..2000 {
            let (f, v) = big.random(seed).expect("non-empty");
            assert_eq!(big.get(f), Some(v));
        }
        let mut sparse = SetTable::with_capacity(1 << 20);
        sparse.insert(b"alone");
        for seed in 0..100 {
            assert_eq!(sparse.random(seed), Some(&b"alone"[..]));
        }
    }

    #[test]
    fn pop_random_empties_the_table() {
        let mut table = SetTable::new();
        let all: HashSet<Vec<u8>> = (0..3000).map(key).collect();
        for k in &all {
            table.insert(k);
        }
        let mut popped = HashSet::new();
        let mut seed = Seeds::new(5);
        while let Some(node) = table.pop_random(seed.draw()) {
            assert!(popped.insert(node.get().to_vec()));
            assert!(!table.contains(node.key()));
            if popped.len() % 100 == 0 {
                check(&table);
            }
        }
        assert_eq!(popped, all);
        assert_eq!(table.footprint(), memory::vec(table.main.len(), 8));
    }

    #[test]
    fn no_operation_moves_more_than_the_step_while_rehashing() {
        let mut table = SetTable::new();
        let mut rehashing_ops = 0;
        let mut resizes = 0;
        let mut measure = |t: &mut SetTable, insert: bool, k: &[u8]| {
            let (was, old_len, next_old) = (t.is_rehashing(), t.old_len, t.next_old);
            let buckets = t.main.len();
            let removed_old = !insert && t.contains(k) && {
                let hash = t.hash(k);
                chain(t.old.get(index(t.old.len(), hash))).any(|n| n.key() == k)
            };
            if insert {
                t.insert(k);
            } else {
                t.remove(k);
            }
            if was {
                rehashing_ops += 1;
                let moved = old_len - t.old_len - usize::from(removed_old);
                assert!(moved <= REHASH_STEP, "moved {moved}");
                if t.is_rehashing() {
                    assert!(t.next_old - next_old <= 10 * REHASH_STEP);
                }
            }
            resizes += usize::from(t.main.len() != buckets);
        };
        for id in 0..100_000 {
            measure(&mut table, true, &key(id));
        }
        for id in 0..99_990 {
            measure(&mut table, false, &key(id));
        }
        // 4 to 131,072 buckets (15 grows), and back to 32 (4 shrinks of 8 times).
        assert!(
            rehashing_ops > 10_000 && resizes >= 19,
            "{rehashing_ops} {resizes}"
        );
        check(&table);
        // The idle step finishes the work.
        let mut t = SetTable::new();
        for id in 0..1025 {
            t.insert(&key(id));
        }
        assert!(t.is_rehashing());
        while t.rehash_step(1) {}
        assert!(!t.is_rehashing());
        check(&t);
    }

    #[test]
    fn a_resize_never_waits_for_elements_removed_from_the_old_array() {
        let mut table = SetTable::new();
        for id in 0..1025 {
            table.insert(&key(id));
        }
        assert!(table.is_rehashing());
        for id in 0..1020 {
            table.remove(&key(id));
        }
        check(&table);
        assert_eq!(table.len(), 5);
        assert!(!table.is_rehashing() || table.old_len > 0);
    }

    #[test]
    fn lengths_0_1_and_65536_and_across_varint_widths() {
        let sizes = [0usize, 1, 14, 15, 16, 127, 128, 16_383, 16_384, 65_536];
        let mut set = SetTable::new();
        let mut hash = HashTable::new();
        for &n in &sizes {
            let bytes = vec![n as u8; n];
            assert!(set.insert(&bytes));
            assert!(!set.insert(&bytes));
            assert!(hash.insert(&bytes, &bytes));
        }
        for &n in &sizes {
            let bytes = vec![n as u8; n];
            assert!(set.contains(&bytes));
            assert_eq!(hash.get(&bytes), Some(&bytes[..]));
            // Replace with every other length: in place or reallocated.
            for &m in &sizes {
                let v = vec![m as u8 ^ 0x55; m];
                assert!(!hash.insert(&bytes, &v));
                assert_eq!(hash.get(&bytes), Some(&v[..]));
            }
        }
        check(&set);
        check(&hash);
        // The last replacement of each field was by the longest value.
        assert_eq!(hash.get(b""), Some(&[0x55; 65_536][..]));
        for &n in &sizes {
            let bytes = vec![n as u8; n];
            assert!(set.remove(&bytes) && hash.remove(&bytes));
            assert!(!set.remove(&bytes) && !hash.remove(&bytes));
        }
        assert!(set.is_empty() && hash.is_empty());
    }

    #[test]
    fn nodes_are_as_small_as_documented() {
        let member = Node::<Member>::new(b"member:0000001", b"");
        assert_eq!(member.key().len(), 14);
        assert_eq!(member.footprint(), 32);
        assert_eq!(Node::<Member>::new(&[7; 15], b"").footprint(), 32);
        assert_eq!(Node::<Member>::new(&[7; 16], b"").footprint(), 48);
        let pair = Node::<Pair>::new(b"field:0001", b"value:0001");
        assert_eq!(pair.get(), (&b"field:0001"[..], &b"value:0001"[..]));
        assert_eq!(pair.footprint(), 48);
        assert_eq!(std::mem::size_of::<Option<Node<Pair>>>(), 8);
        assert_eq!(std::mem::size_of::<Table<Member>>(), 80);
        assert_eq!(std::mem::size_of::<Table<Pair>>(), 80);
        // 1,000 members of 14 bytes: 32 B a node and 8 to 16 B of buckets.
        let mut set = SetTable::new();
        for id in 0..1000 {
            set.insert(format!("member:{id:07}").as_bytes());
        }
        while set.rehash_step(100) {}
        assert_eq!(set.footprint(), 1000 * 32 + memory::vec(1024, 8));
    }

    #[test]
    fn removing_everything_leaves_only_the_buckets() {
        let mut table = HashTable::with_capacity(1000);
        for id in 0..5000 {
            table.insert(&key(id), &[1; 100]);
        }
        assert!(table.footprint() > 5000 * 100);
        for id in 0..5000 {
            assert!(table.remove(&key(id)));
        }
        assert!(!table.is_rehashing());
        assert_eq!(table.footprint(), memory::vec(table.main.len(), 8));
        assert_eq!(table.main.len(), MIN_BUCKETS);
    }

    #[test]
    fn a_clone_is_deep_and_independent() {
        let mut table = HashTable::new();
        for id in 0..1030 {
            table.insert(&key(id), &key(id + 1));
        }
        assert!(table.is_rehashing());
        let copy = table.clone();
        check(&copy);
        assert_eq!(copy.footprint(), table.footprint());
        for id in 0..1030 {
            table.insert(&key(id), b"changed");
        }
        for id in 0..1030 {
            assert_eq!(copy.get(&key(id)), Some(&key(id + 1)[..]));
        }
        let mut copy = copy;
        assert!(copy.remove(&key(3)));
        assert_eq!(table.get(&key(3)), Some(&b"changed"[..]));
        check(&copy);
    }

    #[test]
    fn drain_hands_over_every_node_and_leaves_an_empty_table() {
        let mut table = SetTable::new();
        for id in 0..2050 {
            table.insert(&key(id));
        }
        assert!(table.is_rehashing());
        let drained = table.drain();
        assert_eq!(drained.len(), 2050);
        assert!(table.is_empty());
        check(&table);
        let on_another_thread = std::thread::spawn(move || {
            let mut it = drained;
            let some: Vec<Vec<u8>> = it.by_ref().take(1000).map(|n| n.key().to_vec()).collect();
            (some, it.len())
        });
        let (some, left) = on_another_thread.join().unwrap();
        assert_eq!((some.len(), left), (1000, 1050));
        let all: HashSet<Vec<u8>> = {
            let mut t = SetTable::new();
            for id in 0..2000 {
                t.insert(&key(id));
            }
            t.into_iter().map(|n| n.get().to_vec()).collect()
        };
        assert_eq!(all, (0..2000).map(key).collect());
    }

    #[test]
    fn iteration_during_a_rehash_yields_each_element_once() {
        let mut table = HashTable::new();
        for id in 0..2060 {
            table.insert(&key(id), b"v");
        }
        table.rehash_step(50);
        assert!(table.is_rehashing());
        let fields: Vec<&[u8]> = table.iter().map(|(f, _)| f).collect();
        assert_eq!(fields.len(), 2060);
        assert_eq!(fields.iter().collect::<HashSet<_>>().len(), 2060);
        assert_eq!((&table).into_iter().len(), 2060);
    }

    #[test]
    fn tables_and_nodes_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SetTable>();
        send_sync::<HashTable>();
        send_sync::<Node<Member>>();
        send_sync::<Node<Pair>>();
        send_sync::<IntoIter<Pair>>();
        send_sync::<Iter<'static, Member>>();
    }

    #[test]
    fn two_tables_hash_differently() {
        let (a, b) = (SetTable::new(), SetTable::new());
        let differ = (0..64).any(|id| a.hash(&key(id)) != b.hash(&key(id)));
        assert!(differ);
    }
}
