//! [`Pack`]: a sequence of byte-string elements packed end to end in one
//! growable allocation behind a pointer one word wide (Redis's listpack
//! idea, in a format of our own). Small hashes keep their fields and values
//! in one, alternating; a [`QuickList`](super::quicklist::QuickList) is a
//! deque of them; an [`IntSet`](super::intset::IntSet) uses its buffer for
//! fixed-width integers.
//!
//! # Layout
//!
//! The allocation is a 12-byte header (`len`: content bytes in use, `cap`:
//! content bytes allocated, `count`: elements, each a `u32`) followed by
//! `cap` content bytes. Each element is written as
//!
//! ```text
//! [length, varint][bytes][length, varint reversed]
//! ```
//!
//! where the varint is LEB128 (7 bits a byte, low group first, the high bit
//! set on every byte but the last) and the copy after the bytes holds the
//! same varint bytes in reverse order, so that it can be read from its end.
//! An element of up to 127 bytes costs two bytes more than its length, up
//! to 16,383 four: the same as Redis's listpack for strings, which also
//! packs small integers tighter (we do not; see [`encoded_len`]). Either
//! end can be walked in O(element); an element is reached by walking from
//! the nearer end. The encoding of a sequence is canonical (shortest
//! varints), so two packs hold equal elements exactly when their bytes are
//! equal.
//!
//! # Capacity
//!
//! Every allocation asks for the most bytes the allocator's chunk holds
//! anyway (by the [`memory`] model), so the rounding glibc would waste is
//! capacity instead. Growing asks for at least an eighth more than the
//! current length (amortised O(1) appends, at most an eighth of slack); a
//! removal that leaves less than half the capacity in use gives the rest
//! back. [`Pack::new`] allocates the header alone: a 32-byte chunk that
//! already holds 12 content bytes.
//!
//! # Views
//!
//! A [`PackView`] is a pack's content bytes and element count borrowed from
//! wherever they are kept (a [`Pack`], or a copy of its bytes inline in
//! another allocation), with every read a pack has; the pack's own reads
//! are its view's. [`Pack::from_view`] makes an owned pack of one, to edit.
//!
//! This module is the only one among the values that touches memory
//! through raw pointers: it owns the allocation, its header and its
//! reallocation, and must never let the header's `len` cover a byte that
//! was not written, nor `cap` differ from the size the allocation was made
//! with.

use crate::memory;
use crate::os::OWN_PAGES_FROM;
use std::alloc::{self, Layout};
use std::ops::Range;
use std::ptr::NonNull;

/// What precedes the content bytes in the allocation.
#[repr(C)]
struct Header {
    /// Content bytes written, from the start.
    len: u32,
    /// Content bytes allocated.
    cap: u32,
    /// Elements (for an [`IntSet`](super::intset::IntSet): integers).
    count: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

/// Most content bytes a pack can hold (lengths are kept as `u32`).
pub const MAX_BYTES: usize = u32::MAX as usize;

/// Longest varint: five groups of seven bits cover a `u32`.
const MAX_VARINT: usize = 5;

/// Longest element a pack can hold: [`MAX_BYTES`] less its two lengths.
pub const MAX_ELEMENT: usize = MAX_BYTES - 2 * MAX_VARINT;

/// A packed sequence of byte-string elements, one word wide. Cloning copies.
pub struct Pack {
    ptr: NonNull<Header>,
}

// SAFETY: a `Pack` owns its allocation alone (like a `Box<[u8]>`): no clone
// shares it and nothing in it is mutated through `&self`, so moving it to
// another thread or reading it from several is sound.
unsafe impl Send for Pack {}
// SAFETY: as above: `&Pack` only reads.
unsafe impl Sync for Pack {}

/// Bytes of the varint of `n`.
const fn varint_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Content bytes an element of `len` bytes takes in a pack: the bytes and
/// its length twice (2 bytes up to 127, 4 up to 16,383, 6 up to 2 MiB).
pub const fn encoded_len(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// The varint of `n` forwards and reversed, and its length.
fn lengths(n: usize) -> ([u8; MAX_VARINT], [u8; MAX_VARINT], usize) {
    let (mut forward, mut back) = ([0u8; MAX_VARINT], [0u8; MAX_VARINT]);
    let k = varint_len(n);
    for i in 0..k {
        let more = if i + 1 < k { 0x80 } else { 0 };
        let byte = ((n >> (7 * i)) & 0x7f) as u8 | more;
        forward[i] = byte;
        back[k - 1 - i] = byte;
    }
    (forward, back, k)
}

/// The varint starting at `at`: its value and length.
fn read_varint(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for i in 0..MAX_VARINT {
        let b = *bytes.get(at.checked_add(i)?)?;
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The reversed varint ending just before `end`: its value and length.
fn read_varint_back(bytes: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for i in 0..MAX_VARINT {
        let b = *bytes.get(end.checked_sub(i + 1)?)?;
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The element starting at `at`: where its bytes are and where the next
/// element starts.
fn next_element(bytes: &[u8], at: usize) -> Option<(Range<usize>, usize)> {
    let (n, k) = read_varint(bytes, at)?;
    let start = at + k;
    let end = start.checked_add(n)?;
    let next = end.checked_add(k)?;
    (next <= bytes.len()).then_some((start..end, next))
}

/// The element ending just before `end`: where it starts and where its
/// bytes are.
fn prev_element(bytes: &[u8], end: usize) -> Option<(usize, Range<usize>)> {
    let (n, k) = read_varint_back(bytes, end)?;
    let data_end = end - k;
    let data_start = data_end.checked_sub(n)?;
    Some((data_start.checked_sub(k)?, data_start..data_end))
}

/// The least capacity growing from `len` content bytes asks for: an eighth
/// more (so appends are amortised O(1) and slack is at most an eighth).
fn grown(len: usize) -> usize {
    len.saturating_add(len / 8).min(MAX_BYTES)
}

/// How many elements `bytes` hold, if they are a well-formed, canonical
/// sequence of elements of at most [`MAX_BYTES`]: each element's length
/// varint is the shortest, and its copy after the bytes is the same varint
/// reversed.
fn validate(bytes: &[u8]) -> Option<usize> {
    if bytes.len() > MAX_BYTES {
        return None;
    }
    let (mut at, mut count) = (0, 0usize);
    while at < bytes.len() {
        let (n, k) = read_varint(bytes, at)?;
        let (_, next) = next_element(bytes, at)?;
        let back = bytes.get(next - k..next)?;
        let forward = bytes.get(at..at + k)?;
        if varint_len(n) != k || !back.iter().rev().eq(forward) {
            return None;
        }
        at = next;
        count += 1;
    }
    Some(count)
}

/// Content bytes to allocate for at least `need`: `need` rounded up to the
/// most that the allocator's chunk for it holds, by the [`memory`] model.
fn rounded_capacity(need: usize) -> usize {
    let chunk = memory::chunk(HEADER + need);
    // The largest request the model maps to this same chunk: a heap chunk
    // less its 8-byte size word; pages of their own less the request's
    // rounding to 16 and the two words the model adds.
    let most = if chunk >= OWN_PAGES_FROM {
        chunk - 24
    } else {
        chunk - 8
    };
    (most - HEADER).min(MAX_BYTES)
}

fn layout(cap: usize) -> Layout {
    match Layout::from_size_align(HEADER + cap, std::mem::align_of::<Header>()) {
        Ok(layout) => layout,
        Err(_) => panic!("pack layout overflow"),
    }
}

impl Pack {
    /// An empty pack. It allocates its header (a 32-byte chunk, room for 12
    /// content bytes already), so that a pack is never a null pointer.
    pub fn new() -> Pack {
        Pack::with_capacity(0)
    }

    /// An empty pack with room for at least `bytes` content bytes (see
    /// [`encoded_len`]), rounded up as every allocation is. Panics above
    /// [`MAX_BYTES`].
    pub fn with_capacity(bytes: usize) -> Pack {
        assert!(bytes <= MAX_BYTES, "pack too large");
        let cap = rounded_capacity(bytes);
        let layout = layout(cap);
        // SAFETY: `layout` has a non-zero size (the header alone is 12 bytes).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(layout);
        };
        // SAFETY: `raw` is a fresh allocation of `layout`, aligned for the
        // header and large enough for it.
        unsafe {
            ptr.as_ptr().write(Header {
                len: 0,
                cap: cap as u32,
                count: 0,
            })
        };
        Pack { ptr }
    }

    /// A pack holding a copy of `bytes`, which must be a pack's content
    /// bytes (as [`Pack::bytes`] returns them, from a snapshot say); `None`
    /// if they are not a well-formed, canonical sequence of elements.
    pub fn from_encoded(bytes: &[u8]) -> Option<Pack> {
        let count = validate(bytes)?;
        Some(Pack::copied(bytes, count, false))
    }

    /// An owned copy of the pack `view` borrows, to edit: its bytes are
    /// copied as they are, not checked again (a view holds a valid
    /// encoding by construction), into an allocation with an eighth of
    /// room to grow, as a pack that has just grown has.
    pub fn from_view(view: PackView<'_>) -> Pack {
        Pack::copied(view.bytes, view.count, true)
    }

    /// A pack holding a copy of `bytes` as `count` elements (for an
    /// [`IntSet`](super::intset::IntSet), integers), unchecked: the caller
    /// vouches that they are what the header says. Its capacity is the
    /// bytes' length, with an eighth more when `slack`, rounded as every
    /// allocation is. Panics above [`MAX_BYTES`].
    pub(super) fn copied(bytes: &[u8], count: usize, slack: bool) -> Pack {
        let room = if slack { grown(bytes.len()) } else { 0 };
        let mut pack = Pack::with_capacity(room.max(bytes.len()));
        pack.splice(0, 0, &[bytes]);
        pack.set_count(count);
        pack
    }

    /// The pack's bytes and count as a [`PackView`], which has every read
    /// the pack has (the pack's reads are its view's).
    pub fn view(&self) -> PackView<'_> {
        PackView {
            bytes: self.bytes(),
            count: self.count(),
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header was written when the allocation was made and
        // lives as long as `self`.
        unsafe { self.ptr.as_ref() }
    }

    fn header_mut(&mut self) -> &mut Header {
        // SAFETY: as in `header`; `&mut self` makes this the only reference.
        unsafe { self.ptr.as_mut() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the allocation is at least HEADER bytes long, so the
        // content starts within it (or one past its end, when `cap` is 0).
        unsafe { self.ptr.as_ptr().cast::<u8>().add(HEADER) }
    }

    /// The content bytes: the encoded elements, end to end.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the first `len` content bytes have all been written (every
        // change goes through `splice`, which writes what it adds to `len`)
        // and the allocation lives as long as `&self`.
        unsafe { std::slice::from_raw_parts(self.data(), self.byte_len()) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.data(), self.byte_len()) }
    }

    /// Content bytes in use.
    pub fn byte_len(&self) -> usize {
        self.header().len as usize
    }

    /// Content bytes allocated.
    pub fn capacity(&self) -> usize {
        self.header().cap as usize
    }

    /// Elements held, from the header: O(1).
    pub fn count(&self) -> usize {
        self.header().count as usize
    }

    /// Whether the pack holds no element.
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    /// Bytes the pack takes from the allocator (see [`memory`]): its one
    /// allocation, from the header alone.
    pub fn footprint(&self) -> usize {
        memory::chunk(HEADER + self.capacity())
    }

    /// Gives up ownership of the allocation, for an owner that keeps the
    /// pointer in an allocation of its own; [`Pack::from_raw`] takes it back.
    pub fn into_raw(self) -> NonNull<u8> {
        let ptr = self.ptr.cast::<u8>();
        std::mem::forget(self);
        ptr
    }

    /// Takes back a pack given up by [`Pack::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`Pack::into_raw`] and be taken back only once:
    /// the pack returned owns the allocation and frees it when dropped.
    pub unsafe fn from_raw(ptr: NonNull<u8>) -> Pack {
        Pack { ptr: ptr.cast() }
    }

    /// Sets the element count; the caller has just changed the bytes to hold
    /// that many.
    pub(super) fn set_count(&mut self, count: usize) {
        // Each element takes at least two content bytes, so this fits.
        self.header_mut().count = count as u32;
    }

    /// Moves the allocation to one of `cap` content bytes (at least `len`).
    fn reallocate(&mut self, cap: usize) {
        debug_assert!(cap >= self.byte_len() && cap <= MAX_BYTES);
        let old = layout(self.capacity());
        let new = layout(cap);
        // SAFETY: the allocation was made by the global allocator with
        // `old` (its `cap` is kept exact); the new size is non-zero and,
        // with `cap <= MAX_BYTES`, far below `isize::MAX`.
        let raw = unsafe { alloc::realloc(self.ptr.as_ptr().cast::<u8>(), old, new.size()) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(new);
        };
        self.ptr = ptr;
        self.header_mut().cap = cap as u32;
    }

    /// Replaces the `remove` content bytes from `at` with `parts`, one after
    /// another, growing the allocation first if need be and giving memory
    /// back after if less than half of it is left in use. The caller keeps
    /// the bytes a sequence of whole elements (or integers) and sets the
    /// count. Panics if the result would exceed [`MAX_BYTES`].
    pub(super) fn splice(&mut self, at: usize, remove: usize, parts: &[&[u8]]) {
        let len = self.byte_len();
        debug_assert!(at <= len && remove <= len - at);
        let at = at.min(len);
        let remove = remove.min(len - at);
        let add: usize = parts.iter().map(|p| p.len()).sum();
        let new_len = len - remove + add;
        assert!(new_len <= MAX_BYTES, "pack too large");
        if new_len > self.capacity() {
            self.reallocate(rounded_capacity(new_len.max(grown(len))));
        }
        let tail = len - at - remove;
        let data = self.data();
        // SAFETY: the capacity is at least `new_len` and at least `len`, so
        // the tail's source `at + remove .. len` and its destination
        // `at + add .. new_len` both lie in the allocation (`copy` allows
        // them to overlap); each part is copied to the bytes `at .. at +
        // add` its predecessors leave, and cannot overlap them, as a shared
        // borrow of this pack's bytes cannot be held beside `&mut self`.
        unsafe {
            std::ptr::copy(data.add(at + remove), data.add(at + add), tail);
            let mut pos = at;
            for part in parts {
                std::ptr::copy_nonoverlapping(part.as_ptr(), data.add(pos), part.len());
                pos += part.len();
            }
        }
        self.header_mut().len = new_len as u32;
        if new_len < self.capacity() / 2 {
            self.shrink_to_fit();
        }
    }

    /// Gives back what the allocation holds beyond the bytes in use (and
    /// the allocator's rounding of them).
    pub fn shrink_to_fit(&mut self) {
        let cap = rounded_capacity(self.byte_len());
        if cap < self.capacity() {
            self.reallocate(cap);
        }
    }

    /// Writes `elem` at content offset `at` and counts it.
    fn put(&mut self, at: usize, replace: usize, elem: &[u8]) {
        assert!(elem.len() <= MAX_ELEMENT, "element too large");
        let (forward, back, k) = lengths(elem.len());
        self.splice(at, replace, &[&forward[..k], elem, &back[..k]]);
    }

    /// Appends `elem`. Panics above [`MAX_ELEMENT`] bytes, or if the pack
    /// would exceed [`MAX_BYTES`]; callers bound element sizes far below.
    pub fn push_back(&mut self, elem: &[u8]) {
        self.put(self.byte_len(), 0, elem);
        self.set_count(self.count() + 1);
    }

    /// Prepends `elem` (O(bytes held): the rest moves up). Panics as
    /// [`Pack::push_back`] does.
    pub fn push_front(&mut self, elem: &[u8]) {
        self.put(0, 0, elem);
        self.set_count(self.count() + 1);
    }

    /// Removes and returns the first element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.remove(0)
    }

    /// Removes and returns the last element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let (start, data) = prev_element(self.bytes(), self.byte_len())?;
        let elem = self.bytes().get(data)?.to_vec();
        self.splice(start, self.byte_len() - start, &[]);
        self.set_count(self.count().saturating_sub(1));
        Some(elem)
    }

    /// The first element.
    pub fn front(&self) -> Option<&[u8]> {
        self.view().front()
    }

    /// The last element.
    pub fn back(&self) -> Option<&[u8]> {
        self.view().back()
    }

    /// The element at `index`, walking from the nearer end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.view().get(index)
    }

    /// Inserts `elem` so that it becomes element `index` (`index ==
    /// count()` appends); false, and nothing changes, past that. Panics as
    /// [`Pack::push_back`] does.
    pub fn insert(&mut self, index: usize, elem: &[u8]) -> bool {
        let Some(at) = self.view().offset_of(index) else {
            return false;
        };
        self.put(at, 0, elem);
        self.set_count(self.count() + 1);
        true
    }

    /// Replaces element `index` with `elem`; false if there is none. Panics
    /// as [`Pack::push_back`] does.
    pub fn replace(&mut self, index: usize, elem: &[u8]) -> bool {
        let Some((span, _)) = self.view().locate(index) else {
            return false;
        };
        self.put(span.start, span.len(), elem);
        true
    }

    /// Removes and returns element `index`.
    pub fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        let (span, data) = self.view().locate(index)?;
        let elem = self.bytes().get(data)?.to_vec();
        self.splice(span.start, span.len(), &[]);
        self.set_count(self.count() - 1);
        Some(elem)
    }

    /// Removes up to `n` elements from `start` on; returns how many it
    /// removed (fewer when the pack ends first, 0 from past the end).
    pub fn remove_range(&mut self, start: usize, n: usize) -> usize {
        let count = self.count();
        let n = n.min(count.saturating_sub(start));
        if n == 0 {
            return 0;
        }
        let (Some(from), Some(to)) = (
            self.view().offset_of(start),
            self.view().offset_of(start + n),
        ) else {
            return 0;
        };
        self.splice(from, to - from, &[]);
        self.set_count(count - n);
        n
    }

    /// Keeps only the elements for which `keep` returns true, in one pass
    /// over the bytes; returns how many it removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let len = self.byte_len();
        let (mut read, mut write, mut removed) = (0, 0, 0);
        let bytes = self.bytes_mut();
        while read < len {
            let Some((data, next)) = next_element(bytes, read) else {
                break;
            };
            if keep(&bytes[data]) {
                bytes.copy_within(read..next, write);
                write += next - read;
            } else {
                removed += 1;
            }
            read = next;
        }
        if removed > 0 {
            self.splice(write, len - write, &[]);
            self.set_count(self.count() - removed);
        }
        removed
    }

    /// Splits the pack in two at element `index`: `self` keeps the elements
    /// before it and the rest are returned (an empty pack when `index` is
    /// past the end).
    pub fn split_off(&mut self, index: usize) -> Pack {
        let count = self.count();
        let Some(at) = self.view().offset_of(index.min(count)) else {
            return Pack::new();
        };
        let len = self.byte_len();
        let mut rest = Pack::with_capacity(len - at);
        rest.splice(0, 0, &[&self.bytes()[at..]]);
        rest.set_count(count - index.min(count));
        self.splice(at, len - at, &[]);
        self.set_count(index.min(count));
        rest
    }

    /// Appends copies of all of `other`'s elements.
    pub fn append(&mut self, other: &Pack) {
        self.splice(self.byte_len(), 0, &[other.bytes()]);
        self.set_count(self.count() + other.count());
    }

    /// Prepends copies of all of `other`'s elements.
    pub fn prepend(&mut self, other: &Pack) {
        self.splice(0, 0, &[other.bytes()]);
        self.set_count(self.count() + other.count());
    }

    /// The elements in order; `.rev()` (or [`Pack::iter_rev`]) walks them
    /// from the back.
    pub fn iter(&self) -> Iter<'_> {
        self.view().iter()
    }

    /// The elements from the last to the first.
    pub fn iter_rev(&self) -> std::iter::Rev<Iter<'_>> {
        self.view().iter_rev()
    }

    /// The elements `start..end` (clamped to the pack), either way; both
    /// ends are found walking from the nearer end of the pack.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        self.view().range(start, end)
    }

    /// For a hash kept as alternating field and value elements: the index
    /// of the field equal to `field`, comparing fields only.
    pub fn find_pair(&self, field: &[u8]) -> Option<usize> {
        self.view().find_pair(field)
    }

    /// For a hash kept as alternating field and value elements: the value
    /// after the field equal to `field`.
    pub fn value_of(&self, field: &[u8]) -> Option<&[u8]> {
        self.view().value_of(field)
    }
}

impl Default for Pack {
    fn default() -> Pack {
        Pack::new()
    }
}

impl Clone for Pack {
    /// A copy with no spare capacity beyond the allocator's rounding.
    fn clone(&self) -> Pack {
        Pack::copied(self.bytes(), self.count(), false)
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        let layout = layout(self.capacity());
        // SAFETY: the allocation was made by the global allocator with this
        // layout (`cap` is kept exact) and `self` owns it alone.
        unsafe { alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout) };
    }
}

impl PartialEq for Pack {
    fn eq(&self, other: &Pack) -> bool {
        // The encoding is canonical: equal elements, equal bytes.
        self.bytes() == other.bytes()
    }
}

impl Eq for Pack {}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view().fmt(f)
    }
}

impl<'a> IntoIterator for &'a Pack {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// A pack borrowed as its content bytes and element count, from a [`Pack`]
/// ([`Pack::view`]) or from a copy of those kept elsewhere (inline in
/// another allocation, say): every read a pack has, each returning data
/// borrowed for `'a`, not from the view. Copying a view copies the borrow.
///
/// A view holds a well-formed encoding of exactly `count` elements by
/// construction: [`Pack::view`] takes a pack's, [`PackView::new`] checks,
/// and [`PackView::new_unchecked`] has its caller vouch.
#[derive(Clone, Copy)]
pub struct PackView<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> PackView<'a> {
    /// A view of `bytes` as `count` elements, not checked.
    ///
    /// # Safety
    ///
    /// `bytes` must be a pack's content bytes and `count` its element
    /// count, as [`Pack::bytes`] and [`Pack::count`] returned them at one
    /// time (the bytes may since have been copied anywhere): a well-formed,
    /// canonical sequence of exactly `count` elements, at most
    /// [`MAX_BYTES`] long. [`Pack::from_view`] copies them into an owned
    /// pack unchecked, and the view's reads trust them. (Those reads check
    /// every bound today, so bytes that break this give wrong answers, not
    /// undefined behaviour; the contract keeps unchecked reads open to
    /// them and to the packs made from views.)
    pub unsafe fn new_unchecked(bytes: &'a [u8], count: usize) -> PackView<'a> {
        PackView { bytes, count }
    }

    /// A view of `bytes` as `count` elements, if they are a well-formed,
    /// canonical sequence of exactly that many (checked as
    /// [`Pack::from_encoded`] checks; for bytes from outside, a snapshot
    /// say): O(bytes).
    pub fn new(bytes: &'a [u8], count: usize) -> Option<PackView<'a>> {
        (validate(bytes)? == count).then_some(PackView { bytes, count })
    }

    /// Elements held: O(1).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Content bytes in use.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The content bytes: the encoded elements, end to end.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the view holds no element.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements in order; `.rev()` (or [`PackView::iter_rev`]) walks
    /// them from the back.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            bytes: self.bytes,
            remaining: self.count,
        }
    }

    /// The elements from the last to the first.
    pub fn iter_rev(&self) -> std::iter::Rev<Iter<'a>> {
        self.iter().rev()
    }

    /// The first element.
    pub fn front(&self) -> Option<&'a [u8]> {
        self.iter().next()
    }

    /// The last element.
    pub fn back(&self) -> Option<&'a [u8]> {
        self.iter().next_back()
    }

    /// The element at `index`, walking from the nearer end.
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        let (_, data) = self.locate(index)?;
        self.bytes.get(data)
    }

    /// The elements `start..end` (clamped to the view), either way; both
    /// ends are found walking from the nearer end.
    pub fn range(&self, start: usize, end: usize) -> Iter<'a> {
        let end = end.min(self.count);
        if start >= end {
            return Iter::default();
        }
        match (self.offset_of(start), self.offset_of(end)) {
            (Some(from), Some(to)) => Iter {
                bytes: self.bytes.get(from..to).unwrap_or_default(),
                remaining: end - start,
            },
            _ => Iter::default(),
        }
    }

    /// For a hash kept as alternating field and value elements: the index
    /// of the field equal to `field`, comparing fields only.
    pub fn find_pair(&self, field: &[u8]) -> Option<usize> {
        let mut elements = self.iter();
        let mut index = 0;
        while let Some(candidate) = elements.next() {
            if candidate == field {
                return Some(index);
            }
            elements.next()?;
            index += 2;
        }
        None
    }

    /// For a hash kept as alternating field and value elements: the value
    /// after the field equal to `field`.
    pub fn value_of(&self, field: &[u8]) -> Option<&'a [u8]> {
        let mut elements = self.iter();
        while let Some(candidate) = elements.next() {
            let value = elements.next()?;
            if candidate == field {
                return Some(value);
            }
        }
        None
    }

    /// The content offset where element `index` starts (`byte_len` for
    /// `index == count`), walking from the nearer end.
    fn offset_of(&self, index: usize) -> Option<usize> {
        let count = self.count;
        if index > count {
            return None;
        }
        let bytes = self.bytes;
        if index <= count / 2 {
            let mut at = 0;
            for _ in 0..index {
                at = next_element(bytes, at)?.1;
            }
            Some(at)
        } else {
            let mut at = bytes.len();
            for _ in index..count {
                at = prev_element(bytes, at)?.0;
            }
            Some(at)
        }
    }

    /// The element at `index` and the content offsets it spans.
    fn locate(&self, index: usize) -> Option<(Range<usize>, Range<usize>)> {
        if index >= self.count {
            return None;
        }
        let at = self.offset_of(index)?;
        let (data, next) = next_element(self.bytes, at)?;
        Some((at..next, data))
    }
}

impl std::fmt::Debug for PackView<'_> {
    /// The elements, as lossy UTF-8.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl<'a> IntoIterator for PackView<'a> {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The elements of a [`Pack`] or [`PackView`] (or a range of them), from
/// either end.
#[derive(Clone, Debug, Default)]
pub struct Iter<'a> {
    /// The encoded elements not yet yielded.
    bytes: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let bytes = self.bytes;
        let Some((data, next)) = next_element(bytes, 0) else {
            self.remaining = 0;
            return None;
        };
        self.bytes = bytes.get(next..).unwrap_or_default();
        self.remaining -= 1;
        bytes.get(data)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let bytes = self.bytes;
        let Some((start, data)) = prev_element(bytes, bytes.len()) else {
            self.remaining = 0;
            return None;
        };
        self.bytes = bytes.get(..start).unwrap_or_default();
        self.remaining -= 1;
        bytes.get(data)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    use crate::value::random::TestRng as Rng;

    fn element(rng: &mut Rng) -> Vec<u8> {
        let len = match rng.below(10) {
            0 => 0,
            1..=6 => rng.below(20),
            7 | 8 => 100 + rng.below(60),
            _ => 16_000 + rng.below(800),
        };
        let fill = rng.next() as u8;
        (0..len).map(|i| fill.wrapping_add(i as u8)).collect()
    }

    fn same(pack: &Pack, model: &VecDeque<Vec<u8>>) {
        assert_eq!(pack.count(), model.len());
        assert!(pack.iter().eq(model.iter().map(|e| &e[..])));
        assert!(pack.iter_rev().eq(model.iter().rev().map(|e| &e[..])));
    }

    #[test]
    fn elements_of_every_length_class_round_trip() {
        let lengths = [0, 1, 127, 128, 16_383, 16_384, 100_000];
        let elements: Vec<Vec<u8>> = lengths
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect())
            .collect();
        let mut pack = Pack::new();
        for e in &elements {
            pack.push_back(e);
        }
        assert_eq!(pack.count(), lengths.len());
        let want: usize = lengths.iter().map(|&n| encoded_len(n)).sum();
        assert_eq!(pack.byte_len(), want);
        for (i, e) in elements.iter().enumerate() {
            assert_eq!(pack.get(i), Some(&e[..]), "element {i}");
        }
        assert!(pack.iter().eq(elements.iter().map(|e| &e[..])));
        assert!(pack.iter_rev().eq(elements.iter().rev().map(|e| &e[..])));
        assert_eq!(Pack::from_encoded(pack.bytes()).as_ref(), Some(&pack));
        for e in elements.iter().rev() {
            assert_eq!(pack.pop_back().as_ref(), Some(e));
        }
        assert_eq!(pack.pop_back(), None);
        assert_eq!(pack.byte_len(), 0);
    }

    #[test]
    fn lengths_take_one_byte_up_to_127_and_two_up_to_16383() {
        assert_eq!(encoded_len(0), 2);
        assert_eq!(encoded_len(127), 129);
        assert_eq!(encoded_len(128), 132);
        assert_eq!(encoded_len(16_383), 16_387);
        assert_eq!(encoded_len(16_384), 16_390);
        let mut pack = Pack::new();
        pack.push_back(&[b'x'; 200]);
        // 200 = 0b1_1001000: low group first, with the continuation bit.
        assert_eq!(&pack.bytes()[..2], &[0xc8, 0x01]);
        assert_eq!(&pack.bytes()[202..], &[0x01, 0xc8]);
    }

    #[test]
    fn pushes_and_pops_at_both_ends_match_a_deque() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut pack = Pack::new();
        let mut model = VecDeque::new();
        for step in 0..3000 {
            match rng.below(4) {
                0 => {
                    let e = element(&mut rng);
                    pack.push_back(&e);
                    model.push_back(e);
                }
                1 => {
                    let e = element(&mut rng);
                    pack.push_front(&e);
                    model.push_front(e);
                }
                2 => assert_eq!(pack.pop_front(), model.pop_front(), "step {step}"),
                _ => assert_eq!(pack.pop_back(), model.pop_back(), "step {step}"),
            }
            assert_eq!(pack.count(), model.len());
            assert_eq!(pack.front(), model.front().map(|e| &e[..]));
            assert_eq!(pack.back(), model.back().map(|e| &e[..]));
            if step % 50 == 0 {
                same(&pack, &model);
            }
        }
        same(&pack, &model);
    }

    #[test]
    fn positional_edits_match_a_deque() {
        let mut rng = Rng(12345);
        let mut pack = Pack::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..3000 {
            let i = rng.below(model.len() + 2);
            match rng.below(6) {
                0 | 1 => {
                    let e = element(&mut rng);
                    let ok = i <= model.len();
                    assert_eq!(pack.insert(i, &e), ok, "step {step}");
                    if ok {
                        model.insert(i, e);
                    }
                }
                2 => assert_eq!(pack.remove(i), model.remove(i), "step {step}"),
                3 => {
                    let e = element(&mut rng);
                    let ok = i < model.len();
                    assert_eq!(pack.replace(i, &e), ok);
                    if ok {
                        model[i] = e;
                    }
                }
                4 => {
                    let n = rng.below(4);
                    let want = n.min(model.len().saturating_sub(i));
                    assert_eq!(pack.remove_range(i, n), want);
                    model.drain(i.min(model.len())..i.min(model.len()) + want);
                }
                _ => {
                    assert_eq!(pack.get(i), model.get(i).map(|e| &e[..]));
                    let end = i + rng.below(5);
                    let want = model.range(i.min(model.len())..end.min(model.len()));
                    assert!(pack.range(i, end).eq(want.clone().map(|e| &e[..])));
                    assert!(pack.range(i, end).rev().eq(want.rev().map(|e| &e[..])));
                }
            }
            if step % 25 == 0 {
                same(&pack, &model);
            }
        }
        same(&pack, &model);
    }

    #[test]
    fn out_of_range_indexes_change_nothing() {
        let mut pack = Pack::new();
        pack.push_back(b"a");
        assert_eq!(pack.get(1), None);
        assert_eq!(pack.get(usize::MAX), None);
        assert!(!pack.insert(2, b"x"));
        assert!(!pack.replace(1, b"x"));
        assert_eq!(pack.remove(1), None);
        assert_eq!(pack.remove_range(1, usize::MAX), 0);
        assert_eq!(pack.remove_range(usize::MAX, usize::MAX), 0);
        assert_eq!(pack.range(5, 2).count(), 0);
        assert_eq!(pack.split_off(9).count(), 0);
        assert_eq!(pack.iter().collect::<Vec<_>>(), [b"a"]);
        let mut empty = Pack::new();
        assert_eq!((empty.pop_front(), empty.pop_back()), (None, None));
        assert_eq!((empty.front(), empty.back()), (None, None));
    }

    #[test]
    fn split_append_and_retain_keep_the_sequence() {
        let mut pack = Pack::new();
        for i in 0..100u32 {
            pack.push_back(i.to_string().as_bytes());
        }
        let mut rest = pack.split_off(40);
        assert_eq!((pack.count(), rest.count()), (40, 60));
        assert_eq!(rest.front(), Some(&b"40"[..]));
        assert_eq!(pack.back(), Some(&b"39"[..]));
        let head = pack.split_off(0);
        assert_eq!((pack.count(), head.count()), (0, 40));
        rest.prepend(&head);
        pack.append(&rest);
        assert!(
            pack.iter()
                .map(|e| e.to_vec())
                .eq((0..100).map(|i: u32| i.to_string().into_bytes()))
        );
        assert_eq!(pack.retain(|e| e.ends_with(b"7")), 90);
        assert_eq!(pack.count(), 10);
        let sevens: Vec<String> = (0..10).map(|i| (i * 10 + 7).to_string()).collect();
        assert!(
            pack.iter_rev()
                .eq(sevens.iter().rev().map(|s| s.as_bytes()))
        );
        assert_eq!(pack.get(0), Some(&b"7"[..]));
        assert_eq!(pack.get(9), Some(&b"97"[..]));
        assert_eq!(Pack::from_encoded(pack.bytes()), Some(pack));
    }

    #[test]
    fn a_hash_finds_fields_not_values() {
        let mut pack = Pack::new();
        for (f, v) in [("name", "ada"), ("ada", "name"), ("", "empty")] {
            pack.push_back(f.as_bytes());
            pack.push_back(v.as_bytes());
        }
        assert_eq!(pack.find_pair(b"ada"), Some(2));
        assert_eq!(pack.find_pair(b"name"), Some(0));
        assert_eq!(pack.find_pair(b""), Some(4));
        assert_eq!(pack.find_pair(b"empty"), None);
        assert_eq!(pack.value_of(b"ada"), Some(&b"name"[..]));
        assert_eq!(pack.value_of(b""), Some(&b"empty"[..]));
        assert_eq!(pack.value_of(b"zzz"), None);
    }

    #[test]
    fn malformed_encodings_are_refused() {
        assert_eq!(Pack::from_encoded(&[]).map(|p| p.count()), Some(0));
        assert!(Pack::from_encoded(&[1, b'a', 1]).is_some());
        // Truncated, mismatched back length, overlong varint.
        assert!(Pack::from_encoded(&[2, b'a', 2]).is_none());
        assert!(Pack::from_encoded(&[1, b'a', 2]).is_none());
        assert!(Pack::from_encoded(&[0x81, 0x00, b'a', 0x00, 0x81]).is_none());
        assert!(Pack::from_encoded(&[0xff; 12]).is_none());
    }

    #[test]
    fn footprint_is_counted() {
        let mut pack = Pack::new();
        assert_eq!(pack.capacity(), 12);
        assert_eq!(pack.footprint(), 32);
        for i in 0..2000u32 {
            pack.push_back(&i.to_le_bytes());
            assert_eq!(pack.footprint(), memory::chunk(HEADER + pack.capacity()));
            // The capacity is all the chunk holds: one byte more would not fit.
            assert!(memory::chunk(HEADER + pack.capacity() + 1) > pack.footprint());
        }
        // An eighth of slack at most, past the allocator's own rounding.
        assert!(pack.capacity() <= rounded_capacity(pack.byte_len() * 9 / 8 + 1));
    }

    #[test]
    fn capacity_rounds_to_what_the_allocator_gives_anyway() {
        for need in (0..5000).chain((OWN_PAGES_FROM - 5000..OWN_PAGES_FROM + 9000).step_by(7)) {
            let cap = rounded_capacity(need);
            assert!(cap >= need, "{need}");
            assert_eq!(
                memory::chunk(HEADER + cap),
                memory::chunk(HEADER + need),
                "{need}"
            );
            assert!(
                memory::chunk(HEADER + cap + 1) > memory::chunk(HEADER + cap),
                "{need}"
            );
        }
    }

    #[test]
    fn capacity_shrinks_after_draining() {
        let mut pack = Pack::new();
        for _ in 0..1000 {
            pack.push_back(&[7u8; 100]);
        }
        let full = pack.footprint();
        assert!(full > 100_000);
        while pack.count() > 3 {
            pack.pop_front();
            let len = pack.byte_len();
            assert!(pack.capacity() <= (2 * len).max(rounded_capacity(len)));
        }
        assert!(pack.footprint() < 1024, "{}", pack.footprint());
        pack.remove_range(0, 3);
        assert_eq!(pack.footprint(), 32);
        assert_eq!(pack.capacity(), 12);
    }

    #[test]
    fn clones_are_deep_and_raw_pointers_round_trip() {
        let mut pack = Pack::new();
        pack.push_back(b"one");
        let copy = pack.clone();
        pack.push_back(b"two");
        assert_eq!(copy.count(), 1);
        assert_eq!(pack.count(), 2);
        let raw = pack.into_raw();
        // SAFETY: `raw` came from `into_raw` just above and is taken back once.
        let back = unsafe { Pack::from_raw(raw) };
        assert_eq!(back.iter().collect::<Vec<_>>(), [&b"one"[..], b"two"]);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let p = back.clone();
                std::thread::spawn(move || p.count())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 2);
        }
    }

    /// A pack of `n` random elements, and what it holds.
    fn random_pack(rng: &mut Rng, n: usize) -> (Pack, Vec<Vec<u8>>) {
        let mut pack = Pack::new();
        let mut model = Vec::new();
        for _ in 0..n {
            let e = element(rng);
            pack.push_back(&e);
            model.push(e);
        }
        (pack, model)
    }

    /// Every read of `view` against `pack`'s (and the model's).
    fn view_reads_as(view: PackView<'_>, pack: &Pack, model: &[Vec<u8>], rng: &mut Rng) {
        assert_eq!(view.count(), model.len());
        assert_eq!(view.is_empty(), model.is_empty());
        assert_eq!(view.byte_len(), pack.byte_len());
        assert_eq!(view.bytes(), pack.bytes());
        assert_eq!(view.iter().len(), model.len());
        assert!(view.iter().eq(model.iter().map(|e| &e[..])));
        assert!(view.iter_rev().eq(model.iter().rev().map(|e| &e[..])));
        assert!(view.into_iter().eq(pack.iter()));
        assert_eq!(view.front(), model.first().map(|e| &e[..]));
        assert_eq!(view.back(), model.last().map(|e| &e[..]));
        for i in 0..=model.len() {
            assert_eq!(view.get(i), model.get(i).map(|e| &e[..]), "get {i}");
            assert_eq!(view.get(i), pack.get(i));
        }
        for _ in 0..20 {
            let start = rng.below(model.len() + 2);
            let end = rng.below(model.len() + 2);
            let want =
                &model[start.min(model.len())..end.clamp(start.min(model.len()), model.len())];
            assert!(view.range(start, end).eq(want.iter().map(|e| &e[..])));
            assert!(
                view.range(start, end)
                    .rev()
                    .eq(want.iter().rev().map(|e| &e[..]))
            );
            assert_eq!(view.range(start, end).len(), want.len());
        }
        for field in model.iter().take(10).chain([&b"absent".to_vec()]) {
            assert_eq!(view.find_pair(field), pack.find_pair(field));
            assert_eq!(view.value_of(field), pack.value_of(field));
        }
        assert_eq!(format!("{view:?}"), format!("{pack:?}"));
    }

    #[test]
    fn a_view_of_copied_bytes_reads_as_the_pack() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for n in [0, 1, 2, 3, 7, 20, 61] {
            let (pack, model) = random_pack(&mut rng, n);
            view_reads_as(pack.view(), &pack, &model, &mut rng);
            // Kept elsewhere, as the keyspace keeps a small pack inline.
            let inline = pack.bytes().to_vec();
            // SAFETY: `inline` is a copy of `pack.bytes()` and the count is
            // `pack.count()`, taken together.
            let view = unsafe { PackView::new_unchecked(&inline, pack.count()) };
            view_reads_as(view, &pack, &model, &mut rng);
            let checked = PackView::new(&inline, pack.count()).expect("a pack's own bytes");
            view_reads_as(checked, &pack, &model, &mut rng);
            assert!(PackView::new(&inline, pack.count() + 1).is_none());
            if n > 0 {
                assert!(PackView::new(&inline, pack.count() - 1).is_none());
            }
        }
        // A hash: fields and values alternate.
        let mut pack = Pack::new();
        for (f, v) in [("a", "1"), ("1", "a"), ("", "e")] {
            pack.push_back(f.as_bytes());
            pack.push_back(v.as_bytes());
        }
        let inline = pack.bytes().to_vec();
        // SAFETY: a copy of `pack.bytes()` with `pack.count()`.
        let view = unsafe { PackView::new_unchecked(&inline, pack.count()) };
        drop(pack);
        assert_eq!(view.find_pair(b"1"), Some(2));
        assert_eq!(view.value_of(b"1"), Some(&b"a"[..]));
        assert_eq!(view.value_of(b""), Some(&b"e"[..]));
        assert_eq!(view.find_pair(b"e"), None);
    }

    #[test]
    fn from_view_copies_a_pack_to_edit() {
        let mut rng = Rng(77);
        for n in [0, 1, 5, 40, 300] {
            let (pack, mut model) = random_pack(&mut rng, n);
            let inline = pack.bytes().to_vec();
            // SAFETY: a copy of `pack.bytes()` with `pack.count()`.
            let view = unsafe { PackView::new_unchecked(&inline, pack.count()) };
            let mut copy = Pack::from_view(view);
            assert_eq!(copy, pack);
            assert_eq!(copy.count(), pack.count());
            assert_eq!(Pack::from_view(pack.view()), pack);
            // Room for an eighth more, rounded, and no more.
            let len = pack.byte_len();
            assert_eq!(copy.capacity(), rounded_capacity(len + len / 8));
            assert_eq!(copy.footprint(), memory::chunk(HEADER + copy.capacity()));
            copy.push_front(b"new");
            copy.push_back(b"last");
            model.insert(0, b"new".to_vec());
            model.push(b"last".to_vec());
            assert!(copy.iter().eq(model.iter().map(|e| &e[..])));
            assert_eq!(copy.remove(0).as_deref(), Some(&b"new"[..]));
            assert_eq!(copy.pop_back().as_deref(), Some(&b"last"[..]));
            assert_eq!(copy, pack);
            assert!(view.iter().eq(pack.iter()), "the source is untouched");
        }
    }

    /// Checks what a checked view accepted: it reads whole, both ways, as
    /// `count` elements, and is exactly the encoding of what it reads.
    fn accepted_is_canonical(view: PackView<'_>, bytes: &[u8], count: usize) {
        assert_eq!(view.count(), count);
        let elements: Vec<&[u8]> = view.iter().collect();
        assert_eq!(elements.len(), count);
        assert!(view.iter_rev().eq(elements.iter().rev().copied()));
        let mut pack = Pack::new();
        for e in &elements {
            pack.push_back(e);
        }
        assert_eq!(pack.bytes(), bytes);
        assert_eq!(Pack::from_view(view), pack);
        assert_eq!(Pack::from_encoded(bytes), Some(pack));
    }

    #[test]
    fn checked_views_refuse_truncated_and_garbled_bytes() {
        let mut rng = Rng(0x0bad_5eed_0bad_5eed);
        let (pack, _) = random_pack(&mut rng, 12);
        let (bytes, count) = (pack.bytes(), pack.count());
        // Every truncation: only whole-element prefixes, counted right.
        let boundaries: Vec<usize> = (0..=count)
            .map(|i| pack.view().offset_of(i).unwrap())
            .collect();
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            let whole = boundaries.iter().position(|&b| b == cut);
            for n in [0, 1, count, whole.unwrap_or(0)] {
                match PackView::new(prefix, n) {
                    Some(view) => {
                        assert_eq!(Some(n), whole, "cut {cut}");
                        accepted_is_canonical(view, prefix, n);
                    }
                    None => assert!(whole != Some(n), "cut {cut}, count {n}"),
                }
            }
        }
        let (mut kept, mut small) = (0, Pack::new());
        for e in [&b"ab"[..], b"", b"xyz", &[0x80; 130]] {
            small.push_back(e);
        }
        for case in 0..10_000 {
            let input: Vec<u8> = match case % 3 {
                // Random bytes of random length.
                0 => (0..rng.below(40)).map(|_| rng.next() as u8).collect(),
                // A valid encoding with a byte garbled.
                1 => {
                    let mut b = small.bytes().to_vec();
                    let at = rng.below(b.len());
                    b[at] ^= 1 << rng.below(8);
                    b
                }
                // Random elements with a random tail cut off.
                _ => {
                    let (p, _) = random_pack(&mut Rng(rng.next() | 1), rng.below(4));
                    let b = p.bytes();
                    b[..b.len() - rng.below(b.len().min(3) + 1)].to_vec()
                }
            };
            let n = rng.below(8);
            if let Some(view) = PackView::new(&input, n) {
                accepted_is_canonical(view, &input, n);
                kept += 1;
            }
        }
        assert!(
            kept > 100,
            "{kept}: the cases should reach valid inputs too"
        );
    }

    #[test]
    fn a_pack_is_one_word() {
        assert_eq!(HEADER, 12);
        assert_eq!(std::mem::size_of::<Pack>(), 8);
        assert_eq!(std::mem::size_of::<Option<Pack>>(), 8);
    }
}
