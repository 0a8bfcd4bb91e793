//! TEMPORARY STUB (replaced by the real table before commit).
//!
//! Only the API the snapshot code is written against, with just enough
//! behind it (a vector in insertion order and a std set of the keys) for
//! the snapshot round-trip tests to mean something until the real table
//! is merged: `Table<Member>` with `insert(&[u8]) -> bool`, `iter()` over
//! `&[u8]`; `Table<Pair>` with `insert(field, value) -> bool`, `iter()`
//! over `(&[u8], &[u8])`; both with `len()` and `with_capacity(n)`.
//! `insert` is true when the member or field was not there before.
#![allow(missing_docs)]
use std::collections::HashSet;
use std::marker::PhantomData;

type Item = (Box<[u8]>, Box<[u8]>);
#[derive(Debug, Clone)]
pub struct Table<N> {
    _n: PhantomData<N>,
    items: Vec<Item>,
    keys: HashSet<Box<[u8]>>,
}
#[derive(Debug, Clone)]
pub struct Member;
#[derive(Debug, Clone)]
pub struct Pair;
impl<N> Default for Table<N> {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}
impl<N> Table<N> {
    pub fn with_capacity(n: usize) -> Self {
        Table {
            _n: PhantomData,
            items: Vec::with_capacity(n),
            keys: HashSet::with_capacity(n),
        }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn footprint(&self) -> usize {
        0
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        if !self.keys.insert(key.into()) {
            return false;
        }
        self.items.push((key.into(), value.into()));
        true
    }
}
impl Table<Member> {
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.put(member, &[])
    }
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().map(|(k, _)| &**k)
    }
}
impl Table<Pair> {
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.put(field, value)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.items.iter().map(|(k, v)| (&**k, &**v))
    }
}
