//! TEMPORARY STUB (replaced by the real table before commit).
#![allow(missing_docs)]
use std::marker::PhantomData;
#[derive(Debug, Clone, Default)]
pub struct Table<N> {
    _n: PhantomData<N>,
    len: usize,
}
#[derive(Debug, Clone)]
pub struct Member;
#[derive(Debug, Clone)]
pub struct Pair;
impl<N> Table<N> {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn footprint(&self) -> usize {
        0
    }
}
impl Table<Member> {
    pub fn iter(&self) -> std::iter::Empty<&[u8]> {
        std::iter::empty()
    }
}
impl Table<Pair> {
    pub fn iter(&self) -> std::iter::Empty<(&[u8], &[u8])> {
        std::iter::empty()
    }
}
