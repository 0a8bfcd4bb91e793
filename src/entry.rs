//! One stored key: its key bytes, value bytes and deadline in a single
//! reference-counted allocation, behind a pointer one word wide.
//!
//! This is the keyspace's memory layout. A `HashSet<Entry>` bucket is 8 bytes
//! and each key costs one allocation of `HEADER + key + value` bytes, where a
//! `HashMap<Arc<[u8]>, (Arc<[u8]>, u64)>` would spend 40-byte buckets and two
//! allocations. Clones share the allocation (a snapshot or a reply holds an
//! entry without copying it); the bytes never change after construction.
//!
//! This module is the only place with `unsafe` for memory: it owns the
//! allocation, its layout and its reference count, and must never hand out a
//! pointer that outlives the last clone.

use std::alloc::{self, Layout};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// Longest key or value an entry can hold (lengths are stored as `u32`).
pub const MAX_LEN: usize = u32::MAX as usize;

/// What precedes the key and value bytes in the allocation.
#[repr(C)]
struct Header {
    /// Deadline in Unix ms, 0 for none. Atomic only so that a shared entry can
    /// be changed in place; every change is made under the keyspace write lock.
    expires_at: AtomicU64,
    /// Live clones.
    refs: AtomicU32,
    key_len: u32,
    value_len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

/// A stored key, value and deadline; cloning shares them.
pub struct Entry {
    ptr: NonNull<Header>,
}

// SAFETY: the key and value bytes are written once before the pointer is
// shared and never again; the reference count and the deadline are atomics.
// So an `Entry` may be sent to and shared between threads like an `Arc<[u8]>`.
unsafe impl Send for Entry {}
// SAFETY: as above: every shared access is a read of immutable bytes or an
// atomic operation.
unsafe impl Sync for Entry {}

impl Entry {
    /// A new entry. Panics if `key` or `value` is longer than [`MAX_LEN`];
    /// callers bound client-sent sizes far below that.
    pub fn new(key: &[u8], value: &[u8], expires_at: u64) -> Entry {
        assert!(
            key.len() <= MAX_LEN && value.len() <= MAX_LEN,
            "entry too large"
        );
        let layout = Self::layout(key.len(), value.len());
        // SAFETY: `layout` has a non-zero size (the header alone is 20 bytes).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<Header>()) else {
            alloc::handle_alloc_error(layout);
        };
        // SAFETY: `raw` is a fresh allocation of `layout`, which has room for
        // the header followed by both byte strings and is aligned for Header.
        unsafe {
            ptr.as_ptr().write(Header {
                expires_at: AtomicU64::new(expires_at),
                refs: AtomicU32::new(1),
                key_len: key.len() as u32,
                value_len: value.len() as u32,
            });
            let bytes = raw.add(HEADER);
            std::ptr::copy_nonoverlapping(key.as_ptr(), bytes, key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), bytes.add(key.len()), value.len());
        }
        Entry { ptr }
    }

    fn layout(key_len: usize, value_len: usize) -> Layout {
        let size = HEADER + key_len + value_len;
        match Layout::from_size_align(size, std::mem::align_of::<Header>()) {
            Ok(layout) => layout,
            Err(_) => panic!("entry layout overflow"),
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header was initialised in `new` and lives as long as
        // any clone, `self` among them.
        unsafe { self.ptr.as_ref() }
    }

    fn bytes(&self) -> *const u8 {
        // SAFETY: the allocation is at least HEADER bytes long.
        unsafe { self.ptr.as_ptr().cast::<u8>().add(HEADER) }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let len = self.header().key_len as usize;
        // SAFETY: `len` key bytes were copied right after the header in `new`
        // and are never written again.
        unsafe { std::slice::from_raw_parts(self.bytes(), len) }
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: `value_len` value bytes follow the key bytes, written once in `new`.
        unsafe {
            std::slice::from_raw_parts(self.bytes().add(h.key_len as usize), h.value_len as usize)
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
        self.ptr == other.ptr
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        // Relaxed is enough to take a new reference from an existing one (as
        // in `Arc`); abort rather than wrap if the count would overflow.
        if self.header().refs.fetch_add(1, Ordering::Relaxed) >= u32::MAX / 2 {
            std::process::abort();
        }
        Entry { ptr: self.ptr }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Synchronise with every other clone's release before freeing.
        fence(Ordering::Acquire);
        let layout = Self::layout(self.key().len(), self.value().len());
        // SAFETY: this was the last reference, so nobody else can reach the
        // allocation; it was made by `alloc` with this same layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout) };
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
    fn the_pointer_is_one_word() {
        assert_eq!(std::mem::size_of::<Entry>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Option<Entry>>(),
            std::mem::size_of::<usize>()
        );
    }
}
