//! [`IntSet`]: a sorted set of distinct `i64` values packed at the narrowest
//! width that holds them all (2, 4 or 8 bytes each, little-endian), behind
//! a pointer one word wide: Redis's intset, for sets whose members are all
//! integers.
//!
//! It keeps its integers in a [`Pack`]'s allocation (12-byte header, the
//! allocator's rounding used as capacity, memory given back as it drains)
//! with the header's element count as the number of integers, so the width
//! is the bytes in use divided by the count and needs no field of its own.
//! A value too wide for the current width rewrites the set at the wider one
//! (it then goes first or last, being outside every held value's range); a
//! removal that leaves the smallest and largest value narrower rewrites the
//! set at the narrower width, so the width is always the narrowest (Redis
//! never narrows back).
//!
//! An [`IntSetView`] borrows the integers' bytes and count from wherever
//! they are kept (an [`IntSet`], or a copy inline in another allocation)
//! and has every read the set has; the set's reads are its view's.
//! [`IntSet::from_view`] makes an owned set of one, to edit.
//!
//! Lookups are binary searches; an insertion or removal moves the integers
//! after it. This module's only `unsafe` hands a raw pointer back to
//! [`Pack::from_raw`]; it edits its bytes through [`Pack`]'s, and must never
//! leave them anything but `count` integers of one width in ascending order.

use super::pack::{MAX_BYTES, Pack};

/// A sorted set of distinct integers, one word wide. Cloning copies.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct IntSet {
    pack: Pack,
}

/// The narrowest width, in bytes, that holds `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// The integer in `bytes`, 2, 4 or 8 of them, little-endian (0 for any
/// other length, which the set never holds).
fn decode(bytes: &[u8]) -> i64 {
    if let Ok(b) = <[u8; 2]>::try_from(bytes) {
        i16::from_le_bytes(b).into()
    } else if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        i32::from_le_bytes(b).into()
    } else if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        i64::from_le_bytes(b)
    } else {
        0
    }
}

/// `v`'s little-endian bytes; the first `width` of them are `v` at that
/// width, for any width that holds it.
fn encode(v: i64) -> [u8; 8] {
    v.to_le_bytes()
}

/// The integer `bytes` spell exactly as `i64::to_string` would write it
/// (optional `-`, digits, no leading zero, no `+`, no `-0`): the members a
/// set may keep as integers without changing how they read back.
pub fn canonical_i64(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let first = *digits.first()?;
    let leading_zero = first == b'0' && (digits.len() > 1 || digits.len() < bytes.len());
    if leading_zero || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

impl IntSet {
    /// An empty set (it allocates a [`Pack`]'s header).
    pub fn new() -> IntSet {
        IntSet { pack: Pack::new() }
    }

    /// A set holding a copy of the integers `view` borrows, to edit: the
    /// bytes are copied as they are, not checked again, with an eighth of
    /// room to grow.
    pub fn from_view(view: IntSetView<'_>) -> IntSet {
        IntSet {
            pack: Pack::copied(view.bytes, view.count, true),
        }
    }

    /// The set's integers as an [`IntSetView`], which has every read the
    /// set has (the set's reads are its view's).
    pub fn view(&self) -> IntSetView<'_> {
        IntSetView {
            bytes: self.pack.bytes(),
            count: self.pack.count(),
        }
    }

    /// The encoded integers: [`IntSet::len`] of them, each
    /// [`IntSet::width`] bytes, little-endian, ascending (what an
    /// [`IntSetView`] is made of).
    pub fn bytes(&self) -> &[u8] {
        self.view().bytes()
    }

    /// How many integers the set holds.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    /// Bytes each integer takes now: 2, 4 or 8.
    pub fn width(&self) -> usize {
        self.view().width()
    }

    /// The integer at `index` in ascending order.
    pub fn get(&self, index: usize) -> Option<i64> {
        self.view().get(index)
    }

    /// The smallest integer.
    pub fn min(&self) -> Option<i64> {
        self.view().min()
    }

    /// The largest integer.
    pub fn max(&self) -> Option<i64> {
        self.view().max()
    }

    /// Whether `v` is in the set.
    pub fn contains(&self, v: i64) -> bool {
        self.view().contains(v)
    }

    /// Adds `v`; false if it was there already.
    pub fn insert(&mut self, v: i64) -> bool {
        let w = self.width();
        if width_for(v) > w {
            // Wider than every held value, so outside their range.
            self.rewrite(width_for(v), Some(v));
            return true;
        }
        match self.view().search(v) {
            Ok(_) => false,
            Err(pos) => {
                let count = self.len();
                self.pack.splice(pos * w, 0, &[&encode(v)[..w]]);
                self.pack.set_count(count + 1);
                true
            }
        }
    }

    /// Removes `v`; false if it was not there.
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(pos) = self.view().search(v) else {
            return false;
        };
        let (w, count) = (self.width(), self.len());
        self.pack.splice(pos * w, w, &[]);
        self.pack.set_count(count - 1);
        if let (Some(lo), Some(hi)) = (self.min(), self.max()) {
            let narrowest = width_for(lo).max(width_for(hi));
            if narrowest < w {
                self.rewrite(narrowest, None);
            }
        }
        true
    }

    /// Rewrites the set at `width` bytes an integer, adding `extra` (not
    /// held yet) in its place.
    fn rewrite(&mut self, width: usize, extra: Option<i64>) {
        let mut values: Vec<i64> = self.iter().collect();
        if let Some(v) = extra {
            let pos = values.partition_point(|&x| x < v);
            values.insert(pos, v);
        }
        let mut bytes = Vec::with_capacity(values.len() * width);
        for v in &values {
            bytes.extend_from_slice(&encode(*v)[..width]);
        }
        self.pack.splice(0, self.pack.byte_len(), &[&bytes]);
        self.pack.set_count(values.len());
        self.pack.shrink_to_fit();
    }

    /// The integers in ascending order (`.rev()` for descending).
    pub fn iter(&self) -> Iter<'_> {
        self.view().iter()
    }

    /// Bytes the set takes from the allocator (see
    /// [`memory`](crate::memory)): its one allocation.
    pub fn footprint(&self) -> usize {
        self.pack.footprint()
    }

    /// Gives up ownership of the allocation, as [`Pack::into_raw`] does;
    /// [`IntSet::from_raw`] takes it back.
    pub fn into_raw(self) -> std::ptr::NonNull<u8> {
        self.pack.into_raw()
    }

    /// Takes back a set given up by [`IntSet::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`IntSet::into_raw`] (not from a [`Pack`] of
    /// elements) and be taken back only once.
    pub unsafe fn from_raw(ptr: std::ptr::NonNull<u8>) -> IntSet {
        // SAFETY: the caller passes a pointer from `IntSet::into_raw`, which
        // is `Pack::into_raw` of the set's pack, taken back once.
        let pack = unsafe { Pack::from_raw(ptr) };
        IntSet { pack }
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view().fmt(f)
    }
}

/// An intset borrowed as its encoded integers and their count, from an
/// [`IntSet`] ([`IntSet::view`]) or from a copy of those kept elsewhere
/// (inline in another allocation, say): every read a set has, each
/// returning data borrowed for `'a`. Copying a view copies the borrow.
///
/// A view holds `count` integers of one width (2, 4 or 8 bytes, the bytes'
/// length over the count), little-endian, strictly ascending, at the
/// narrowest width that holds them, by construction: [`IntSet::view`]
/// takes a set's, [`IntSetView::new`] checks, and
/// [`IntSetView::new_unchecked`] has its caller vouch.
#[derive(Clone, Copy)]
pub struct IntSetView<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> IntSetView<'a> {
    /// A view of `bytes` as `count` integers, not checked.
    ///
    /// # Safety
    ///
    /// `bytes` must be a set's encoded integers and `count` their number,
    /// as [`IntSet::bytes`] and [`IntSet::len`] returned them at one time
    /// (the bytes may since have been copied anywhere): `count` integers
    /// of one width, strictly ascending, at the narrowest width. Its reads
    /// and [`IntSet::from_view`] trust them. (The reads check every bound
    /// today, so bytes that break this give wrong answers or a panic, not
    /// undefined behaviour; the contract keeps unchecked reads open.)
    pub unsafe fn new_unchecked(bytes: &'a [u8], count: usize) -> IntSetView<'a> {
        IntSetView { bytes, count }
    }

    /// A view of `bytes` as `count` integers, if they are a set's encoding
    /// of that many: none and no bytes, or a width of 2, 4 or 8 bytes
    /// dividing the bytes exactly, the integers strictly ascending, and the
    /// width the narrowest that holds them (so that equal sets have equal
    /// bytes). For bytes from outside, a snapshot say: O(bytes).
    pub fn new(bytes: &'a [u8], count: usize) -> Option<IntSetView<'a>> {
        let view = IntSetView { bytes, count };
        if bytes.len() > MAX_BYTES {
            return None;
        }
        if count == 0 {
            return bytes.is_empty().then_some(view);
        }
        let width = view.width();
        if bytes.len() % count != 0 || !matches!(width, 2 | 4 | 8) {
            return None;
        }
        let ascending = view.iter().zip(view.iter().skip(1)).all(|(a, b)| a < b);
        let narrowest = width_for(view.min()?).max(width_for(view.max()?));
        (ascending && narrowest == width).then_some(view)
    }

    /// How many integers the view holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes each integer takes: 2, 4 or 8 (2 when empty).
    pub fn width(&self) -> usize {
        match self.count {
            0 => 2,
            n => self.bytes.len() / n,
        }
    }

    /// The encoded integers: [`IntSetView::len`] of them, each
    /// [`IntSetView::width`] bytes, little-endian, ascending.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The integer at `index` in ascending order.
    pub fn get(&self, index: usize) -> Option<i64> {
        let w = self.width();
        let at = index.checked_mul(w)?;
        self.bytes.get(at..at.checked_add(w)?).map(decode)
    }

    /// The smallest integer.
    pub fn min(&self) -> Option<i64> {
        self.get(0)
    }

    /// The largest integer.
    pub fn max(&self) -> Option<i64> {
        self.get(self.count.checked_sub(1)?)
    }

    /// Where `v` is (`Ok`) or would go (`Err`), by binary search.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let Some(m) = self.get(mid) else {
                return Err(lo);
            };
            match m.cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Whether `v` is in the view.
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// The integers in ascending order (`.rev()` for descending).
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            chunks: self.bytes.chunks_exact(self.width()),
        }
    }
}

impl std::fmt::Debug for IntSetView<'_> {
    /// The integers, as a set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for IntSetView<'a> {
    type Item = i64;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a IntSet {
    type Item = i64;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The integers of an [`IntSet`] or [`IntSetView`], from either end.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for Iter<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        self.chunks.next().map(decode)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<i64> {
        self.chunks.next_back().map(decode)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory;
    use std::collections::BTreeSet;

    use crate::value::random::TestRng as Rng;

    /// Values clustered around the width boundaries and the extremes.
    fn value(rng: &mut Rng) -> i64 {
        let near = [
            0,
            i16::MIN as i64,
            i16::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ];
        let r = rng.next();
        let base = near[(r % near.len() as u64) as usize];
        let offset = ((r >> 8) % 7) as i64 - 3;
        match (r >> 16) % 4 {
            0 => r as i64,
            _ => base.saturating_add(offset),
        }
    }

    fn same(set: &IntSet, model: &BTreeSet<i64>) {
        assert_eq!(set.len(), model.len());
        assert!(set.iter().eq(model.iter().copied()));
        assert!(set.iter().rev().eq(model.iter().rev().copied()));
        let narrowest = model.iter().map(|&v| width_for(v)).max().unwrap_or(2);
        assert_eq!(set.width(), narrowest, "{model:?}");
        assert_eq!(set.pack.byte_len(), set.len() * set.width());
    }

    #[test]
    fn inserts_and_removals_match_a_btreeset() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        let mut set = IntSet::new();
        let mut model = BTreeSet::new();
        for step in 0..20_000 {
            let v = value(&mut rng);
            if rng.next() % 3 == 0 {
                assert_eq!(set.remove(v), model.remove(&v), "step {step}: remove {v}");
            } else {
                assert_eq!(set.insert(v), model.insert(v), "step {step}: insert {v}");
            }
            assert_eq!(set.contains(v), model.contains(&v));
            if step % 100 == 0 {
                same(&set, &model);
                for (i, want) in model.iter().enumerate() {
                    assert_eq!(set.get(i), Some(*want));
                }
            }
        }
        same(&set, &model);
    }

    #[test]
    fn width_grows_at_each_boundary_and_narrows_back() {
        let mut set = IntSet::new();
        assert_eq!(set.width(), 2);
        for v in [-1, 1, i16::MAX as i64, i16::MIN as i64] {
            set.insert(v);
        }
        assert_eq!(set.width(), 2);
        set.insert(i16::MAX as i64 + 1);
        assert_eq!(set.width(), 4);
        set.insert(i32::MIN as i64);
        assert_eq!(set.width(), 4);
        set.insert(i32::MIN as i64 - 1);
        assert_eq!(set.width(), 8);
        set.insert(i64::MAX);
        set.insert(i64::MIN);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [
                i64::MIN,
                i32::MIN as i64 - 1,
                i32::MIN as i64,
                i16::MIN as i64,
                -1,
                1,
                i16::MAX as i64,
                i16::MAX as i64 + 1,
                i64::MAX
            ]
        );
        assert!(!set.insert(i64::MIN));
        for v in [i64::MIN, i64::MAX, i32::MIN as i64 - 1] {
            assert!(set.remove(v));
        }
        assert_eq!(set.width(), 4);
        set.remove(i32::MIN as i64);
        set.remove(i16::MAX as i64 + 1);
        assert_eq!(set.width(), 2);
        assert_eq!(set.min(), Some(i16::MIN as i64));
        assert_eq!(set.max(), Some(i16::MAX as i64));
        assert!(!set.remove(12345));
    }

    #[test]
    fn out_of_range_indexes_are_none() {
        let mut set = IntSet::new();
        assert_eq!((set.get(0), set.min(), set.max()), (None, None, None));
        set.insert(5);
        assert_eq!(set.get(1), None);
        assert_eq!(set.get(usize::MAX), None);
        assert_eq!(set.get(0), Some(5));
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(canonical_i64(b"0"), Some(0));
        assert_eq!(canonical_i64(b"-12"), Some(-12));
        assert_eq!(canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"007",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1e3",
            b"00",
        ] {
            assert_eq!(
                canonical_i64(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn footprint_is_counted() {
        let mut set = IntSet::new();
        assert_eq!(set.footprint(), 32);
        for v in 0..500 {
            set.insert(v);
        }
        // 1000 bytes of 2-byte integers, capacity at most an eighth over.
        assert_eq!(set.footprint(), memory::chunk(12 + set.pack.capacity()));
        assert!(set.footprint() <= memory::chunk(12 + 1000 * 9 / 8));
        set.insert(1 << 40);
        assert_eq!(set.footprint(), memory::chunk(12 + 501 * 8));
        for v in 0..500 {
            set.remove(v);
        }
        assert_eq!(set.footprint(), 32);
    }

    /// Every read of `view` against `set`'s (and the model's).
    fn view_reads_as(view: IntSetView<'_>, set: &IntSet, model: &BTreeSet<i64>, rng: &mut Rng) {
        assert_eq!(view.len(), model.len());
        assert_eq!(view.is_empty(), model.is_empty());
        assert_eq!(view.width(), set.width());
        assert_eq!(view.bytes(), set.bytes());
        assert_eq!(view.iter().len(), model.len());
        assert!(view.iter().eq(model.iter().copied()));
        assert!(view.iter().rev().eq(model.iter().rev().copied()));
        assert!(view.into_iter().eq(set.iter()));
        assert_eq!(view.min(), model.first().copied());
        assert_eq!(view.max(), model.last().copied());
        for (i, v) in model.iter().enumerate() {
            assert_eq!(view.get(i), Some(*v));
            assert!(view.contains(*v));
        }
        assert_eq!(view.get(model.len()), None);
        assert_eq!(view.get(usize::MAX), None);
        for _ in 0..50 {
            let v = value(rng);
            assert_eq!(view.contains(v), model.contains(&v), "{v}");
            assert_eq!(view.contains(v), set.contains(v));
        }
        assert_eq!(format!("{view:?}"), format!("{set:?}"));
    }

    #[test]
    fn a_view_of_copied_bytes_reads_as_the_set_at_every_width() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut set = IntSet::new();
        let mut model = BTreeSet::new();
        let mut widths = BTreeSet::new();
        for step in 0..600 {
            // Narrow values first, then ever wider, then draining back.
            let v = match step {
                0..200 => (rng.next() % 1000) as i64 - 500,
                200..300 => (rng.next() % 100_000) as i64 - 50_000,
                300..400 => value(&mut rng),
                _ => *model
                    .iter()
                    .nth((rng.next() % model.len() as u64) as usize)
                    .unwrap(),
            };
            if step < 400 {
                set.insert(v);
                model.insert(v);
            } else {
                set.remove(v);
                model.remove(&v);
            }
            if step % 10 != 0 {
                continue;
            }
            widths.insert(set.width());
            view_reads_as(set.view(), &set, &model, &mut rng);
            let inline = set.bytes().to_vec();
            // SAFETY: `inline` is a copy of `set.bytes()` and the count is
            // `set.len()`, taken together.
            let view = unsafe { IntSetView::new_unchecked(&inline, set.len()) };
            view_reads_as(view, &set, &model, &mut rng);
            let checked = IntSetView::new(&inline, set.len()).expect("a set's own bytes");
            view_reads_as(checked, &set, &model, &mut rng);
            let mut copy = IntSet::from_view(view);
            assert_eq!(copy, set);
            same(&copy, &model);
            assert_eq!(IntSet::from_view(set.view()), set);
            // The copy edits on its own, at any width.
            let extreme = if model.contains(&i64::MIN) {
                i64::MAX
            } else {
                i64::MIN
            };
            if !model.contains(&extreme) {
                assert!(copy.insert(extreme));
                assert_eq!(copy.width(), 8);
                assert!(copy.remove(extreme));
                assert_eq!(copy, set, "narrowed back");
            }
            assert!(
                view.iter().eq(model.iter().copied()),
                "the source is untouched"
            );
        }
        assert_eq!(widths, BTreeSet::from([2, 4, 8]));
    }

    #[test]
    fn checked_views_refuse_what_no_set_holds() {
        let at = |w: usize, vs: &[i64]| -> Vec<u8> {
            vs.iter().flat_map(|v| encode(*v)[..w].to_vec()).collect()
        };
        assert!(IntSetView::new(&[], 0).is_some());
        assert!(IntSetView::new(&at(2, &[1, 2]), 2).is_some());
        assert!(IntSetView::new(&at(4, &[1, 1 << 20]), 2).is_some());
        assert!(IntSetView::new(&at(8, &[1, 1 << 40]), 2).is_some());
        for (bytes, count, why) in [
            (at(2, &[1]), 0, "bytes but no count"),
            (vec![], 1, "a count but no bytes"),
            (at(2, &[1, 2]), 3, "count too large"),
            (at(2, &[1, 2, 3]), 2, "not a multiple"),
            (vec![0; 3], 1, "width 3"),
            (vec![0; 1], 1, "width 1"),
            (vec![0; 16], 1, "width 16"),
            (at(2, &[2, 1]), 2, "descending"),
            (at(2, &[1, 1]), 2, "a duplicate"),
            (at(4, &[1, 2]), 2, "not the narrowest width"),
            (at(8, &[1, 1 << 20]), 2, "not the narrowest width"),
        ] {
            assert!(IntSetView::new(&bytes, count).is_none(), "{why}");
        }
        let mut rng = Rng(0xfeed_face_0000_0001);
        let mut kept = 0;
        for case in 0..10_000 {
            let (input, n) = match case % 3 {
                // Random bytes, a random count.
                0 => {
                    let b: Vec<u8> = (0..rng.next() % 40).map(|_| rng.next() as u8).collect();
                    let n = (rng.next() % 6) as usize;
                    (b, n)
                }
                // A set's bytes with a byte garbled.
                1 => {
                    let mut set = IntSet::new();
                    for _ in 0..1 + rng.next() % 8 {
                        set.insert(value(&mut rng));
                    }
                    let mut b = set.bytes().to_vec();
                    let i = (rng.next() as usize) % b.len();
                    b[i] ^= 1 << (rng.next() % 8);
                    (b, set.len())
                }
                // A set's bytes cut short, or its count off by one.
                _ => {
                    let mut set = IntSet::new();
                    for _ in 0..rng.next() % 6 {
                        set.insert((rng.next() % 64) as i64);
                    }
                    let cut = (rng.next() % 3) as usize;
                    let b = set.bytes()[..set.bytes().len().saturating_sub(cut)].to_vec();
                    let n = (set.len() + (rng.next() % 3) as usize).saturating_sub(1);
                    (b, n)
                }
            };
            let Some(view) = IntSetView::new(&input, n) else {
                continue;
            };
            kept += 1;
            // Accepted: exactly a set's encoding of what it reads.
            let values: BTreeSet<i64> = view.iter().collect();
            assert_eq!(values.len(), n);
            let mut set = IntSet::new();
            for v in &values {
                set.insert(*v);
            }
            assert_eq!(set.bytes(), &input[..]);
            assert_eq!(IntSet::from_view(view), set);
            same(&IntSet::from_view(view), &values);
        }
        assert!(
            kept > 1000,
            "{kept}: the cases should reach valid inputs too"
        );
    }

    #[test]
    fn clones_are_deep_and_raw_pointers_round_trip() {
        let mut set = IntSet::new();
        set.insert(3);
        let copy = set.clone();
        set.insert(4);
        assert_eq!(copy.len(), 1);
        // SAFETY: the pointer comes from `into_raw` just before, taken back once.
        let back = unsafe { IntSet::from_raw(set.into_raw()) };
        assert_eq!(back.iter().collect::<Vec<_>>(), [3, 4]);
        assert_eq!(std::mem::size_of::<IntSet>(), 8);
        assert_eq!(std::mem::size_of::<Option<IntSet>>(), 8);
    }
}
