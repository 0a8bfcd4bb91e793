//! One stored key: its key bytes, value bytes and deadline in a single
//! reference-counted allocation, behind a pointer one word wide; and [`Key`],
//! the same for key bytes alone, which the deadline heap shares among its
//! hints.
//!
//! This is the keyspace's memory layout. A `HashSet<Entry>` bucket is 8 bytes
//! and each key costs one allocation of `HEADER + key + value` bytes, where a
//! `HashMap<Arc<[u8]>, (Arc<[u8]>, u64)>` would spend 40-byte buckets and two
//! allocations. Clones share the allocation (a snapshot or a reply holds an
//! entry without copying it); the bytes never change after construction.
//!
//! A big value that arrived in a buffer of its own (a bulk string of at least
//! [`BIG_ARG`](crate::protocol::BIG_ARG) bytes) is kept in that buffer
//! instead: the allocation then holds the key and a pointer to the shared
//! buffer, so storing a 512 MiB value costs 512 MiB, not twice that.
//!
//! A collection (a hash, list or set, see [`value`](crate::value)) is held
//! as its one-word leaf in a slot right after the header, with the leaf's
//! type as a tag in the header's value length; the key follows the slot.
//! Unlike a string, a collection is changed in place, and only by the
//! keyspace, under its write lock, through `Entry::edit`, which requires
//! that no clone of the entry exists (a snapshot holding one gets a copy
//! made first).
//!
//! A [`Key`] holds no value, so a deadline hint that outlives its entry keeps
//! the key bytes alive and never an overwritten value. It is one word wide
//! with a 12-byte header, where an `Arc<[u8]>` is two words with a 16-byte
//! header: a deadline hint is 16 bytes instead of 24, which pays for the
//! 8-byte place in the deadline heap's table that lets every hint of a key
//! share one copy, so a key with a deadline costs no more than it did with
//! one `Arc<[u8]>` per hint. An entry records that place in what would
//! otherwise be padding in its header ([`Entry::key_slot`]).
//!
//! This module is the only place with `unsafe` for memory: it owns both
//! allocations, their layout and their reference counts, and must never hand
//! out a pointer that outlives the last clone.

use crate::memory;
use crate::value::{Kind, Value, ValueRef, raw};
use std::alloc::{self, Layout};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// An entry's handle to its allocation (see [`Entry`]).
fn word_of(ptr: NonNull<Header>) -> AtomicU64 {
    let address = ptr.as_ptr() as usize as u64;
    assert!(
        address & !ADDRESS == 0,
        "an allocation above 2^48: this target cannot keep access stamps in addresses"
    );
    AtomicU64::new(address)
}

/// Longest key or value an entry can hold (lengths are stored as `u32`; the
/// values above it mark a shared value or a collection).
pub const MAX_LEN: usize = COLLECTION as usize - 1;

/// What precedes the key and value bytes in the allocation.
#[repr(C)]
struct Header {
    /// Deadline in Unix ms, 0 for none. Atomic only so that a shared entry can
    /// be changed in place; every change is made under the keyspace write lock.
    expires_at: AtomicU64,
    /// Live clones.
    refs: AtomicU32,
    key_len: u32,
    /// The value's length, or [`SHARED_VALUE`], or [`COLLECTION`] plus a
    /// collection leaf's tag. Atomic so that an edit in place can change
    /// the tag (a conversion between encodings); that happens only under
    /// the keyspace write lock, with no other clone alive.
    value_len: AtomicU32,
    /// Where the deadline heap keeps this key's shared [`Key`]: 0 for
    /// nowhere, else its index + 1. It fills what would be padding, so it
    /// costs no memory. Changed only under the keyspace write lock.
    key_slot: AtomicU32,
}

/// In `value_len`: the value is not in the allocation; a pointer to a
/// shared buffer (`Arc<Vec<u8>>`, from `Arc::into_raw`) follows the key
/// instead, and the buffer knows its length.
const SHARED_VALUE: u32 = u32::MAX;

/// In `value_len`, above this: a collection, whose leaf's tag is the
/// difference. Its leaf fills the [`SLOT`] after the header; the key
/// follows.
const COLLECTION: u32 = u32::MAX - 16;

/// Bytes of a collection's slot (one leaf, 8-aligned after the header).
const SLOT: usize = 8;

/// Bytes after the key that hold a shared value's pointer.
const POINTER: usize = std::mem::size_of::<*const Vec<u8>>();

const HEADER: usize = std::mem::size_of::<Header>();

/// Bytes of the allocation behind an `Arc<Vec<u8>>`: the two counts and
/// the vector's pointer, capacity and length.
const ARC_VEC: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Vec<u8>>();

/// A stored key, value and deadline; cloning shares them.
///
/// The word holds the allocation's address in its low 48 bits and the key's
/// access stamp ([`access`](crate::access)) in the top 16, which addresses
/// never use on the targets `STAMPS_FIT` names (elsewhere the stamp is
/// not kept and reads 0). The stamp belongs to this handle, not to the
/// allocation: the keyspace's own handle, in its table, is the one stamped.
/// It is atomic so a read under the keyspace's shared lock can stamp it;
/// the address bits never change.
pub struct Entry {
    word: AtomicU64,
}

/// Whether an address leaves the top 16 bits of a `u64` free: 32-bit
/// targets, and the 64-bit ones whose user-space addresses are at most 48
/// bits wide and untagged.
const STAMPS_FIT: bool = cfg!(any(
    target_pointer_width = "32",
    target_arch = "x86_64",
    all(
        target_arch = "aarch64",
        target_os = "linux",
        not(target_env = "ohos")
    )
)) && !cfg!(target_os = "android");

/// Where the stamp starts in an entry's word.
const STAMP_SHIFT: u32 = 48;

/// The address bits of an entry's word.
const ADDRESS: u64 = (1 << STAMP_SHIFT) - 1;

// SAFETY: the key and value bytes are written once before the pointer is
// shared and never again; the reference count and the deadline are atomics;
// a shared value is an `Arc<Vec<u8>>`, itself `Send + Sync`, never mutated.
// So an `Entry` may be sent to and shared between threads like an `Arc<[u8]>`.
unsafe impl Send for Entry {}
// SAFETY: as above: every shared access is a read of immutable bytes or an
// atomic operation.
unsafe impl Sync for Entry {}

impl Entry {
    /// A new entry. Panics if `key` or `value` is longer than [`MAX_LEN`];
    /// callers bound client-sent sizes far below that.
    pub fn new(key: &[u8], value: &[u8], expires_at: u64) -> Entry {
        assert!(value.len() <= MAX_LEN, "entry too large");
        let (ptr, raw) = Self::allocate(key, value.len() as u32, expires_at, 0);
        // SAFETY: `allocate` left room for `value.len()` bytes after the key.
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr(), raw.add(HEADER + key.len()), value.len());
        }
        Entry { word: word_of(ptr) }
    }

    /// A new entry whose value stays in `value`, shared, not copied (a big
    /// value received in a buffer of its own).
    pub fn with_shared_value(key: &[u8], value: Arc<Vec<u8>>, expires_at: u64) -> Entry {
        let (ptr, raw) = Self::allocate(key, SHARED_VALUE, expires_at, 0);
        let shared = Arc::into_raw(value);
        // SAFETY: `allocate` left POINTER bytes after the key for a shared
        // value; they are written unaligned, as they are read.
        unsafe {
            raw.add(HEADER + key.len())
                .cast::<*const Vec<u8>>()
                .write_unaligned(shared);
        }
        Entry { word: word_of(ptr) }
    }

    /// A new entry holding the collection `value`. A packed encoding's
    /// bytes are kept inline, after the key (one allocation for the whole
    /// small collection); a big encoding's leaf is kept in the slot.
    pub fn with_value(key: &[u8], value: Value, expires_at: u64) -> Entry {
        if let Some((tag, body, count)) = raw::inline_body(&value) {
            assert!(body.len() <= MAX_LEN, "entry too large");
            let value_len = COLLECTION + u32::from(tag);
            let (ptr, raw) = Self::allocate(key, value_len, expires_at, body.len());
            // SAFETY: `allocate` left the slot after the header and
            // `body.len()` bytes after the key; the slot is 8-aligned.
            unsafe {
                let slot = raw.add(HEADER).cast::<u32>();
                slot.write(body.len() as u32);
                slot.add(1).write(count as u32);
                std::ptr::copy_nonoverlapping(
                    body.as_ptr(),
                    raw.add(HEADER + SLOT + key.len()),
                    body.len(),
                );
            }
            return Entry { word: word_of(ptr) };
        }
        // The tag is known only once the leaf is written; allocate as a
        // collection (any pointer tag gives the same layout), then set it.
        let (ptr, raw) = Self::allocate(key, COLLECTION + 2, expires_at, 0);
        // SAFETY: the slot follows the 24-byte header, 8-aligned, and is
        // fresh; the header is ours alone until the entry is returned.
        let tag = unsafe { raw::write(value, raw.add(HEADER).cast::<u64>()) };
        let entry = Entry { word: word_of(ptr) };
        entry
            .header()
            .value_len
            .store(COLLECTION + u32::from(tag), Ordering::Relaxed);
        entry
    }

    /// Where the key starts: after the slot for a collection.
    #[inline]
    fn key_offset(value_len: u32) -> usize {
        if is_collection(value_len) {
            HEADER + SLOT
        } else {
            HEADER
        }
    }

    /// Allocates and fills the header and key; the caller writes the value
    /// (or, with `value_len` [`SHARED_VALUE`], the shared value's pointer)
    /// after the key.
    fn allocate(
        key: &[u8],
        value_len: u32,
        expires_at: u64,
        body: usize,
    ) -> (NonNull<Header>, *mut u8) {
        assert!(key.len() <= MAX_LEN, "entry too large");
        let layout = Self::layout(Self::size(key.len(), value_len, body));
        // SAFETY: `layout` has a non-zero size (the header alone is 24 bytes).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(layout);
        };
        // SAFETY: `raw` is a fresh allocation of `layout`, which has room for
        // the header followed by the key and is aligned for Header.
        unsafe {
            ptr.as_ptr().write(Header {
                expires_at: AtomicU64::new(expires_at),
                refs: AtomicU32::new(1),
                key_len: key.len() as u32,
                value_len: AtomicU32::new(value_len),
                key_slot: AtomicU32::new(0),
            });
            std::ptr::copy_nonoverlapping(
                key.as_ptr(),
                raw.add(Self::key_offset(value_len)),
                key.len(),
            );
        }
        (ptr, raw)
    }

    /// Bytes of the allocation of an entry of `key_len` key bytes and a
    /// value of `value_len` (or [`SHARED_VALUE`], or a collection's tag,
    /// with `body` inline bytes for a packed one).
    #[inline]
    fn size(key_len: usize, value_len: u32, body: usize) -> usize {
        let stored = if value_len == SHARED_VALUE {
            POINTER
        } else if is_collection(value_len) {
            SLOT + body
        } else {
            value_len as usize
        };
        HEADER + key_len + stored
    }

    /// Bytes of this entry's allocation.
    #[inline]
    fn own_size(&self) -> usize {
        let h = self.header();
        Self::size(h.key_len as usize, h.value_len(), self.inline_len())
    }

    /// Inline bytes of a packed collection (0 for anything else).
    #[inline]
    fn inline_len(&self) -> usize {
        match self.tag() {
            // SAFETY: a packed collection's slot starts with its body length.
            Some(tag) if raw::is_inline(tag) => unsafe {
                self.slot().cast::<u32>().read() as usize
            },
            _ => 0,
        }
    }

    fn layout(size: usize) -> Layout {
        match Layout::from_size_align(size, std::mem::align_of::<Header>()) {
            Ok(layout) => layout,
            Err(_) => panic!("entry layout overflow"),
        }
    }

    /// The shared value's pointer, if the value is shared.
    fn shared(&self) -> Option<*const Vec<u8>> {
        let h = self.header();
        (h.value_len() == SHARED_VALUE).then(|| {
            // SAFETY: with SHARED_VALUE set, `with_shared_value` wrote the
            // pointer right after the key, unaligned, and it is never changed.
            unsafe {
                self.bytes()
                    .add(h.key_len as usize)
                    .cast::<*const Vec<u8>>()
                    .read_unaligned()
            }
        })
    }

    /// The shared value's buffer, if the value is shared.
    fn shared_buffer(&self) -> Option<&Vec<u8>> {
        // SAFETY: the pointer came from `Arc::into_raw` and this entry holds
        // that reference until its last clone drops, so the buffer outlives
        // `&self`; nobody mutates a shared buffer.
        self.shared().map(|shared| unsafe { &*shared })
    }

    /// Whether the value is kept in a shared buffer rather than inline.
    pub fn value_is_shared(&self) -> bool {
        self.header().value_len() == SHARED_VALUE
    }

    /// The collection leaf's tag, if the value is a collection.
    #[inline]
    fn tag(&self) -> Option<u8> {
        let len = self.header().value_len();
        (is_collection(len) && len != COLLECTION).then(|| (len - COLLECTION) as u8)
    }

    /// The slot a collection's leaf is kept in.
    fn slot(&self) -> *mut u64 {
        // SAFETY: a collection's allocation has SLOT bytes after the header.
        unsafe { self.ptr().as_ptr().cast::<u8>().add(HEADER).cast::<u64>() }
    }

    /// The value's type.
    #[inline]
    pub fn kind(&self) -> Kind {
        match self.collection() {
            Some(value) => value.kind(),
            None => Kind::String,
        }
    }

    /// The string value, or `None` for a collection.
    #[inline]
    pub fn string(&self) -> Option<&[u8]> {
        match self.tag() {
            None => Some(self.value()),
            Some(_) => None,
        }
    }

    /// The collection value, or `None` for a string.
    #[inline]
    pub fn collection(&self) -> Option<ValueRef<'_>> {
        let tag = self.tag()?;
        if raw::is_inline(tag) {
            let slot = self.slot().cast::<u32>();
            // SAFETY: a packed collection's slot holds its body length and
            // count, and the body follows the key, written once in
            // `with_value` and never changed (an edit builds a new entry).
            return Some(unsafe {
                let (len, count) = (slot.read() as usize, slot.add(1).read() as usize);
                let key_len = self.header().key_len as usize;
                let body = std::slice::from_raw_parts(self.bytes().add(key_len), len);
                raw::borrow_inline(tag, body, count)
            });
        }
        // SAFETY: the slot holds the leaf of `tag`, written at
        // construction or by the last edit, which needed every other
        // clone gone and `&mut` access to the database holding it; a new
        // edit needs the same, so it cannot run while `&self` is borrowed
        // through a clone or the database.
        Some(unsafe { raw::borrow(tag, self.slot()) })
    }

    /// Whether the value is a packed collection kept inline, which is
    /// never edited in place: an edit stores a new entry.
    pub fn is_packed(&self) -> bool {
        self.tag().is_some_and(raw::is_inline)
    }

    /// Whether no other clone of this entry exists, so that an edit in
    /// place is seen by nobody else. Exact under the keyspace write lock,
    /// under which every clone the keyspace makes is made.
    pub fn is_unique(&self) -> bool {
        self.header().refs.load(Ordering::Acquire) == 1
    }

    /// Edits the collection in place: `change` gets the owned value, and
    /// whatever it leaves (another encoding too) is stored back.
    ///
    /// # Safety
    /// The caller must have exclusive access: no other clone of the entry
    /// ([`Entry::is_unique`]) and no borrow of its value, as under the
    /// keyspace write lock with `&mut` access to the database holding it.
    ///
    /// # Panics
    /// If the entry holds a string.
    pub(crate) unsafe fn edit<R>(&self, change: impl FnOnce(&mut Value) -> R) -> R {
        let Some(tag) = self.tag().filter(|&t| !raw::is_inline(t)) else {
            panic!("edit in place of a string or a packed collection");
        };
        /// Stores the value back even if `change` panics, so the entry
        /// never holds a leaf that was moved out.
        struct Back<'e> {
            entry: &'e Entry,
            value: std::mem::ManuallyDrop<Value>,
        }
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                // SAFETY: the value was moved out of the slot, so the slot
                // holds no leaf; `take` happens once, here.
                let value = unsafe { std::mem::ManuallyDrop::take(&mut self.value) };
                // SAFETY: the slot is valid and aligned, and empty (above).
                let tag = unsafe { raw::write(value, self.entry.slot()) };
                self.entry
                    .header()
                    .value_len
                    .store(COLLECTION + u32::from(tag), Ordering::Relaxed);
            }
        }
        let mut back = Back {
            entry: self,
            // SAFETY: the slot holds the leaf of `tag`; the caller
            // guarantees nobody else reads it until `Back` writes it back.
            value: std::mem::ManuallyDrop::new(unsafe { raw::read(tag, self.slot()) }),
        };
        change(&mut back.value)
    }

    /// A new entry with this one's key, deadline and place in the deadline
    /// heap, holding `value` (a copy of a shared collection, to edit).
    pub fn with_same_key(&self, value: Value) -> Entry {
        let entry = Entry::with_value(self.key(), value, self.expires_at());
        entry.set_key_slot(self.key_slot());
        entry
    }

    /// An entry of this value under `key` with `expires_at`: the
    /// collection moved if this is its last clone (a copy otherwise), a
    /// string copied (or its shared buffer shared).
    pub fn moved_to(self, key: &[u8], expires_at: u64) -> Entry {
        if let Some(buffer) = self.shared() {
            // SAFETY: as in `shared_buffer`; the new entry takes a
            // reference of its own before this one drops.
            let buffer = unsafe {
                Arc::increment_strong_count(buffer);
                Arc::from_raw(buffer)
            };
            return Entry::with_shared_value(key, buffer, expires_at);
        }
        if self.tag().is_none() {
            return Entry::new(key, self.value(), expires_at);
        }
        match self.into_value() {
            Ok(value) => Entry::with_value(key, value, expires_at),
            Err(shared) => match shared.collection() {
                Some(value) => Entry::with_value(key, value.to_value(), expires_at),
                None => Entry::new(key, shared.value(), expires_at),
            },
        }
    }

    /// A copy of this value under `key` with `expires_at` (`COPY`): a
    /// collection copied element by element, a shared string buffer shared.
    pub fn copied_to(&self, key: &[u8], expires_at: u64) -> Entry {
        match self.collection() {
            Some(value) => Entry::with_value(key, value.to_value(), expires_at),
            None => self.clone().moved_to(key, expires_at),
        }
    }

    /// The collection value, moved out if this is the last clone; the
    /// entry back otherwise (or if it holds a string).
    pub fn into_value(self) -> Result<Value, Entry> {
        let Some(tag) = self.tag() else {
            return Err(self);
        };
        if raw::is_inline(tag) {
            return match self.collection() {
                Some(value) => Ok(value.to_value()),
                None => Err(self),
            };
        }
        if !self.is_unique() {
            return Err(self);
        }
        // SAFETY: the last clone: nobody else can read the slot; the leaf
        // is moved out and the slot marked as holding none below, before
        // the entry is dropped.
        let value = unsafe { raw::read(tag, self.slot()) };
        self.header().value_len.store(COLLECTION, Ordering::Relaxed);
        Ok(value)
    }

    /// Bytes the entry takes from the allocator (see
    /// [`memory`]): its own allocation and, for a shared
    /// value, the buffer and the `Arc` around it. Arithmetic on the
    /// lengths in the header: no call into the allocator.
    #[inline]
    pub fn footprint(&self) -> usize {
        let own = memory::chunk(self.own_size());
        if let Some(value) = self.collection() {
            return own + value.footprint();
        }
        match self.shared_buffer() {
            Some(buffer) => own + memory::chunk(ARC_VEC) + memory::chunk(buffer.capacity()),
            None => own,
        }
    }

    /// The allocation.
    #[inline]
    fn ptr(&self) -> NonNull<Header> {
        let address = (self.word.load(Ordering::Relaxed) & ADDRESS) as usize;
        // SAFETY: the address bits are those of the allocation, never null,
        // set at construction and never changed.
        unsafe { NonNull::new_unchecked(address as *mut Header) }
    }

    /// The key's access stamp (see [`access`](crate::access)); 0 on a
    /// target that cannot keep one.
    #[inline]
    pub fn stamp(&self) -> u16 {
        (self.word.load(Ordering::Relaxed) >> STAMP_SHIFT) as u16
    }

    /// Records the key's access stamp, unless it is already `stamp` (so a
    /// read of a key used this second writes nothing). Safe from any
    /// thread holding the entry: only the stamp bits change.
    #[inline]
    pub fn set_stamp(&self, stamp: u16) {
        if !STAMPS_FIT || self.stamp() == stamp {
            return;
        }
        let address = self.word.load(Ordering::Relaxed) & ADDRESS;
        self.word
            .store(address | u64::from(stamp) << STAMP_SHIFT, Ordering::Relaxed);
    }

    fn header(&self) -> &Header {
        // SAFETY: the header was initialised in `new` and lives as long as
        // any clone, `self` among them.
        unsafe { self.ptr().as_ref() }
    }

    /// Where the key starts.
    fn bytes(&self) -> *const u8 {
        let offset = Self::key_offset(self.header().value_len());
        // SAFETY: the allocation holds the header (and a collection's
        // slot) before the key.
        unsafe { self.ptr().as_ptr().cast::<u8>().add(offset) }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let len = self.header().key_len as usize;
        // SAFETY: `len` key bytes were copied right after the header in `new`
        // and are never written again.
        unsafe { std::slice::from_raw_parts(self.bytes(), len) }
    }

    /// A string's value; empty for a collection (callers that may meet
    /// one ask [`Entry::string`] or [`Entry::kind`]).
    pub fn value(&self) -> &[u8] {
        if let Some(buffer) = self.shared_buffer() {
            return buffer;
        }
        let h = self.header();
        let value_len = h.value_len();
        if is_collection(value_len) {
            return &[];
        }
        // SAFETY: `value_len` value bytes follow the key bytes, written once in `new`.
        unsafe {
            std::slice::from_raw_parts(self.bytes().add(h.key_len as usize), value_len as usize)
        }
    }

    /// The deadline in Unix ms, 0 for none.
    pub fn expires_at(&self) -> u64 {
        self.header().expires_at.load(Ordering::Relaxed)
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<u64> {
        Some(self.expires_at()).filter(|&d| d != 0)
    }

    /// Whether the deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        let d = self.expires_at();
        d != 0 && d <= now
    }

    /// Changes the deadline in place. Only the keyspace calls this, under its
    /// write lock; clones taken earlier (snapshots) copy the deadline first.
    pub fn set_expires_at(&self, expires_at: u64) {
        self.header()
            .expires_at
            .store(expires_at, Ordering::Relaxed);
    }

    /// Whether `self` and `other` are clones of one allocation.
    pub fn shares_allocation_with(&self, other: &Entry) -> bool {
        self.ptr() == other.ptr()
    }

    /// Where the deadline heap keeps this key's shared [`Key`]: 0 for
    /// nowhere, else its index + 1. A new entry has 0.
    pub fn key_slot(&self) -> u32 {
        self.header().key_slot.load(Ordering::Relaxed)
    }

    /// Records where the deadline heap keeps this key's shared [`Key`]. Only
    /// the keyspace calls this, under its write lock; nothing else reads it.
    pub fn set_key_slot(&self, slot: u32) {
        self.header().key_slot.store(slot, Ordering::Relaxed);
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        // Relaxed is enough to take a new reference from an existing one (as
        // in `Arc`); abort rather than wrap if the count would overflow.
        if self.header().refs.fetch_add(1, Ordering::Relaxed) >= u32::MAX / 2 {
            std::process::abort();
        }
        // The clone starts with this handle's stamp.
        Entry {
            word: AtomicU64::new(self.word.load(Ordering::Relaxed)),
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Synchronise with every other clone's release before freeing.
        fence(Ordering::Acquire);
        let layout = Self::layout(self.own_size());
        if let Some(tag) = self.tag().filter(|&t| !raw::is_inline(t)) {
            // SAFETY: the last clone owns the leaf; it is dropped once,
            // here (`into_value` leaves no tag when it moved it out).
            drop(unsafe { raw::read(tag, self.slot()) });
        }
        if let Some(shared) = self.shared() {
            // SAFETY: the pointer came from `Arc::into_raw` in
            // `with_shared_value`, and this last clone gives that reference back.
            drop(unsafe { Arc::from_raw(shared) });
        }
        // SAFETY: this was the last reference, so nobody else can reach the
        // allocation; it was made by `alloc` with this same layout.
        unsafe { alloc::dealloc(self.ptr().as_ptr().cast::<u8>(), layout) };
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly as `[u8]` does, for `Borrow<[u8]>` lookups.
        self.key().hash(state);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value().len())
            .field("expires_at", &self.expires_at())
            .finish()
    }
}

impl Header {
    #[inline]
    fn value_len(&self) -> u32 {
        self.value_len.load(Ordering::Relaxed)
    }
}

/// Whether a header's value length marks a collection.
#[inline]
fn is_collection(value_len: u32) -> bool {
    value_len >= COLLECTION && value_len != SHARED_VALUE
}

/// What precedes the key bytes in a [`Key`] allocation.
#[repr(C)]
struct KeyHeader {
    /// Live clones.
    refs: AtomicU32,
    len: u32,
    /// A number the owner keeps with the key (see [`Key::index`]).
    index: AtomicU32,
}

const KEY_HEADER: usize = std::mem::size_of::<KeyHeader>();

/// Key bytes alone in one reference-counted allocation, one word wide.
/// Cloning shares the bytes; they never change after construction.
pub struct Key {
    ptr: NonNull<KeyHeader>,
}

// SAFETY: as for `Entry`: the bytes are written once before the pointer is
// shared, and the count and the index are atomics.
unsafe impl Send for Key {}
// SAFETY: as above.
unsafe impl Sync for Key {}

impl Key {
    /// A new key holding a copy of `bytes`. Panics if `bytes` is longer than
    /// [`MAX_LEN`].
    pub fn new(bytes: &[u8]) -> Key {
        assert!(bytes.len() <= MAX_LEN, "key too large");
        let layout = Self::layout(bytes.len());
        // SAFETY: `layout` has a non-zero size (the header alone is 12 bytes).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<KeyHeader>()) else {
            alloc::handle_alloc_error(layout);
        };
        // SAFETY: `raw` is a fresh allocation of `layout`, room for the
        // header followed by the bytes, aligned for KeyHeader.
        unsafe {
            ptr.as_ptr().write(KeyHeader {
                refs: AtomicU32::new(1),
                len: bytes.len() as u32,
                index: AtomicU32::new(0),
            });
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), raw.add(KEY_HEADER), bytes.len());
        }
        Key { ptr }
    }

    /// Bytes the key takes from the allocator (see
    /// [`memory`]), shared by all its clones.
    #[inline]
    pub fn footprint(&self) -> usize {
        Self::footprint_of(self.bytes().len())
    }

    /// Bytes a key of `len` bytes would take from the allocator.
    #[inline]
    pub fn footprint_of(len: usize) -> usize {
        memory::chunk(KEY_HEADER + len)
    }

    fn layout(len: usize) -> Layout {
        match Layout::from_size_align(KEY_HEADER + len, std::mem::align_of::<KeyHeader>()) {
            Ok(layout) => layout,
            Err(_) => panic!("key layout overflow"),
        }
    }

    fn header(&self) -> &KeyHeader {
        // SAFETY: initialised in `new`, alive as long as any clone.
        unsafe { self.ptr.as_ref() }
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        let len = self.header().len as usize;
        // SAFETY: `len` bytes were copied right after the header in `new` and
        // are never written again; the allocation lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(KEY_HEADER), len) }
    }

    /// How many clones exist, `self` included. Exact only while nobody
    /// clones or drops one concurrently (the deadline heap asks under the
    /// keyspace write lock, which every clone it holds is made under).
    pub fn ref_count(&self) -> usize {
        self.header().refs.load(Ordering::Acquire) as usize
    }

    /// Whether `a` and `b` are clones of one allocation.
    pub fn ptr_eq(a: &Key, b: &Key) -> bool {
        a.ptr == b.ptr
    }

    /// The allocation's address: equal for clones, distinct between live
    /// keys (to tell clones apart without comparing bytes).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The number the owner keeps with the key (the deadline heap: its
    /// position in the heap's table of keys). 0 when new.
    pub fn index(&self) -> u32 {
        self.header().index.load(Ordering::Relaxed)
    }

    /// Changes [`Key::index`]; the owner does so under its own lock.
    pub fn set_index(&self, index: u32) {
        self.header().index.store(index, Ordering::Relaxed);
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        if self.header().refs.fetch_add(1, Ordering::Relaxed) >= u32::MAX / 2 {
            std::process::abort();
        }
        Key { ptr: self.ptr }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let layout = Self::layout(self.bytes().len());
        // SAFETY: this was the last reference; the allocation was made by
        // `alloc` with this same layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout) };
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?})", String::from_utf8_lossy(self.bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn holds_key_value_and_deadline() {
        let e = Entry::new(b"key", b"\0value\r\n", 42);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), b"\0value\r\n");
        assert_eq!(e.deadline(), Some(42));
        assert!(e.is_expired(42) && !e.is_expired(41));
        e.set_expires_at(0);
        assert_eq!(e.deadline(), None);
        assert!(!e.is_expired(u64::MAX));
    }

    #[test]
    fn empty_key_and_value_are_fine() {
        let e = Entry::new(b"", b"", 0);
        assert_eq!(e.key(), b"");
        assert_eq!(e.value(), b"");
    }

    #[test]
    fn clones_share_and_the_last_drop_frees() {
        let e = Entry::new(b"k", &[7u8; 1000], 0);
        let clones: Vec<Entry> = (0..100).map(|_| e.clone()).collect();
        drop(e);
        assert!(clones.iter().all(|c| c.value() == [7u8; 1000]));
        let threads: Vec<_> = clones
            .into_iter()
            .map(|c| std::thread::spawn(move || c.value().len()))
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 1000);
        }
    }

    #[test]
    fn a_set_of_entries_is_looked_up_by_key_bytes() {
        let mut set: HashSet<Entry> = HashSet::new();
        set.insert(Entry::new(b"a", b"1", 0));
        set.insert(Entry::new(b"b", b"2", 0));
        assert_eq!(set.get(&b"a"[..]).unwrap().value(), b"1");
        assert!(!set.contains(&b"c"[..]));
        // Replacing keeps one entry per key.
        set.replace(Entry::new(b"a", b"3", 0));
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(&b"a"[..]).unwrap().value(), b"3");
    }

    #[test]
    fn a_shared_value_is_kept_not_copied_and_released_with_the_last_clone() {
        let buffer = Arc::new(vec![5u8; 100_000]);
        let e = Entry::with_shared_value(b"big", buffer.clone(), 7);
        assert_eq!(e.value().as_ptr(), buffer.as_ptr(), "no copy");
        assert_eq!(
            (e.key(), e.value().len(), e.expires_at()),
            (&b"big"[..], 100_000, 7)
        );
        assert!(e.value_is_shared());
        let clone = e.clone();
        drop(e);
        assert_eq!(Arc::strong_count(&buffer), 2);
        drop(clone);
        assert_eq!(
            Arc::strong_count(&buffer),
            1,
            "the entry gave its reference back"
        );
    }

    #[test]
    fn the_footprint_is_the_allocation_rounded_as_the_allocator_rounds_it() {
        // 24 + 16 + 16 bytes: a 64-byte chunk.
        let e = Entry::new(b"key:000000000001", &[b'v'; 16], 0);
        assert_eq!(e.footprint(), 64);
        assert_eq!(Entry::new(b"", b"", 0).footprint(), 32);
        // A shared value counts its buffer and the Arc around it, not a copy.
        let buffer = Arc::new(vec![5u8; 100_000]);
        let shared = Entry::with_shared_value(b"big", buffer, 0);
        assert_eq!(
            shared.footprint(),
            memory::chunk(24 + 3 + 8) + memory::chunk(ARC_VEC) + memory::chunk(100_000)
        );
        assert_eq!(ARC_VEC, 40);
        // 12 + 16 bytes: a 48-byte chunk.
        assert_eq!(Key::new(b"key:000000000001").footprint(), 48);
        assert_eq!(Key::footprint_of(12), 32);
        assert_eq!(Key::footprint_of(30), 64);
    }

    #[test]
    fn the_header_stays_24_bytes() {
        assert_eq!(HEADER, 24);
    }

    #[test]
    fn the_slot_fills_padding() {
        assert_eq!(HEADER, 24);
        let e = Entry::new(b"k", b"v", 0);
        assert_eq!(e.key_slot(), 0);
        e.clone().set_key_slot(7);
        assert_eq!(e.key_slot(), 7);
    }

    #[test]
    fn a_key_is_one_word_and_clones_share_its_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), std::mem::size_of::<usize>());
        assert_eq!(KEY_HEADER, 12);
        let k = Key::new(b"some key");
        assert_eq!(&*k, b"some key");
        assert_eq!(k.ref_count(), 1);
        let c = k.clone();
        assert!(Key::ptr_eq(&k, &c) && k.addr() == c.addr());
        assert_eq!(k.ref_count(), 2);
        c.set_index(42);
        assert_eq!(k.index(), 42);
        drop(c);
        assert_eq!(k.ref_count(), 1);
        let other = Key::new(b"some key");
        assert!(!Key::ptr_eq(&k, &other) && k == other);
        assert_eq!(&*Key::new(b""), b"");
        let big = Key::new(&[9u8; 100_000]);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = big.clone();
                std::thread::spawn(move || b.iter().map(|&x| x as usize).sum::<usize>())
            })
            .collect();
        drop(big);
        for t in threads {
            assert_eq!(t.join().unwrap(), 900_000);
        }
    }

    fn packed_list(items: &[&[u8]]) -> Value {
        let mut pack = crate::value::Pack::new();
        for item in items {
            pack.push_back(item);
        }
        Value::List(crate::value::List::Packed(pack))
    }

    fn items(entry: &Entry) -> Vec<Vec<u8>> {
        match entry.collection() {
            Some(ValueRef::List(l)) => l.iter().map(<[u8]>::to_vec).collect(),
            _ => panic!("not a list"),
        }
    }

    #[test]
    fn a_packed_collection_is_kept_inline_after_the_key() {
        let e = Entry::with_value(b"list", packed_list(&[b"a", b"bc"]), 9);
        assert_eq!(
            (e.key(), e.expires_at(), e.kind()),
            (&b"list"[..], 9, Kind::List)
        );
        assert!(e.is_packed() && e.string().is_none() && e.value().is_empty());
        assert_eq!(items(&e), [b"a".to_vec(), b"bc".to_vec()]);
        // 24 + 8 + 4 key bytes + 2 * (1 + n + 1) body bytes, in one chunk.
        assert_eq!(e.footprint(), memory::chunk(24 + 8 + 4 + 3 + 4));
        let moved = e.clone().moved_to(b"other", 0);
        assert_eq!((moved.key(), items(&moved).len()), (&b"other"[..], 2));
        assert_eq!(items(&e).len(), 2, "the original is untouched");
    }

    #[test]
    fn a_big_collection_is_edited_in_place_and_moved_without_a_copy() {
        let big = packed_list(&[b"x"]).into_big();
        let e = Entry::with_value(b"k", big, 0);
        assert!(!e.is_packed() && e.is_unique());
        // SAFETY: the only clone, nobody else reads it.
        unsafe {
            e.edit(|v| {
                if let Some(crate::value::List::Quick(q)) = v.list_mut() {
                    q.push_back(b"y", crate::value::quicklist::Fill::from_redis(-2));
                }
            })
        };
        assert_eq!(items(&e), [b"x".to_vec(), b"y".to_vec()]);
        let before = e.footprint();
        assert!(before > memory::chunk(24 + 8 + 1));
        let clone = e.clone();
        let Err(e) = e.into_value() else {
            panic!("a shared entry gives no value away")
        };
        drop(clone);
        let value = e.into_value().expect("the last clone gives its value");
        assert_eq!(value.len(), 2);
        let copied = Entry::with_value(b"k2", value, 0).copied_to(b"k3", 5);
        assert_eq!((items(&copied).len(), copied.expires_at()), (2, 5));
    }

    #[test]
    fn a_sorted_set_is_inline_while_packed_and_behind_the_slot_when_big() {
        use crate::value::{Encodings, ZSet};
        let mut z = ZSet::new();
        z.insert(b"b", 2.0, &Encodings::DEFAULT);
        z.insert(b"a", 0.5, &Encodings::DEFAULT);
        let e = Entry::with_value(b"z", Value::ZSet(z.clone()), 0);
        assert!(e.is_packed());
        assert_eq!(e.kind(), Kind::ZSet);
        let members = |e: &Entry| -> Vec<(Vec<u8>, f64)> {
            let z = e
                .collection()
                .and_then(ValueRef::zset)
                .expect("a sorted set");
            z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
        };
        assert_eq!(members(&e), [(b"a".to_vec(), 0.5), (b"b".to_vec(), 2.0)]);
        assert_eq!(e.collection().map(ValueRef::encoding), Some("listpack"));
        let big = Entry::with_value(b"z", Value::ZSet(z.into_big()), 0);
        assert!(!big.is_packed());
        assert_eq!(big.collection().map(ValueRef::encoding), Some("skiplist"));
        // SAFETY: the only clone, nobody else reads it.
        unsafe {
            big.edit(|v| {
                if let Some(z) = v.zset_mut() {
                    z.insert(b"c", -1.0, &Encodings::DEFAULT);
                }
            })
        };
        assert_eq!(members(&big)[0], (b"c".to_vec(), -1.0));
        let copy = big.copied_to(b"y", 7);
        assert_eq!(members(&copy).len(), 3);
        let value = big.into_value().expect("the last clone");
        assert_eq!(value.len(), 3);
    }

    #[test]
    fn the_handle_is_eight_bytes_and_keeps_its_stamp_apart_from_the_address() {
        // A table's bucket holds one handle: 8 bytes, address and stamp.
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        let e = Entry::new(b"key", b"value", 0);
        assert_eq!(e.stamp(), 0);
        e.set_stamp(0xbeef);
        if STAMPS_FIT {
            assert_eq!(e.stamp(), 0xbeef);
        }
        assert_eq!(e.key(), b"key");
        assert_eq!(e.value(), b"value");
        // A clone starts with the stamp and then keeps its own.
        let c = e.clone();
        assert_eq!(c.stamp(), e.stamp());
        c.set_stamp(1);
        assert!(c.shares_allocation_with(&e));
        assert_eq!(e.value(), b"value");
        if STAMPS_FIT {
            assert_eq!(e.stamp(), 0xbeef);
            assert_eq!(c.stamp(), 1);
        }
    }
}
