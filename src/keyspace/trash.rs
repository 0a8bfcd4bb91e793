//! What a write removed, freed after its guard is released.
//!
//! Dropping a big collection walks every element: a million-field hash
//! takes tens of milliseconds to free. A write that removes one (`DEL`,
//! `UNLINK`, an overwrite, a pop that empties it, `FLUSHALL`) puts it here
//! instead, under the lock, in O(1); the write guard frees it once the
//! lock is released, on the writer's own thread when it is small, and on
//! the one background freeing thread when it is big (Redis's lazy free),
//! so the writer's reply does not wait for it either.
//!
//! This module never takes the keyspace lock and never frees under it.

use super::Entry;
use super::db::KeyTable;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Elements above which a removal is freed on the background thread
/// (Redis's `LAZYFREE_THRESHOLD`).
pub const LAZY_FREE_THRESHOLD: usize = 64;

/// Removed entries and emptied tables, waiting for the lock to go.
#[derive(Default)]
pub struct Trash {
    entries: Vec<Entry>,
    tables: Vec<Box<[KeyTable]>>,
    /// Elements held, summed over what is here (a table counts its keys).
    work: usize,
}

impl Trash {
    /// Keeps a removed entry if it is a collection (a string is freed in
    /// O(1) wherever its last clone drops).
    #[inline]
    pub fn entry(&mut self, entry: &Entry) {
        if let Some(value) = entry.collection() {
            self.work += value.len();
            self.entries.push(entry.clone());
        }
    }

    /// Keeps a removed entry of any kind, strings included: eviction's,
    /// whose batches of removals would otherwise free dozens of entries
    /// while every other writer waits.
    pub fn keep(&mut self, entry: Entry) {
        self.work += entry.collection().map_or(1, |value| value.len());
        self.entries.push(entry);
    }

    /// Keeps a database's emptied partitions, holding `keys` keys.
    pub fn tables(&mut self, tables: Box<[KeyTable]>, keys: usize) {
        if !tables.is_empty() {
            self.work += keys;
            self.tables.push(tables);
        }
    }

    /// Whether nothing is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.tables.is_empty()
    }

    /// Frees what is here: at once when small, on the background thread
    /// when big. Call it with no keyspace guard held.
    pub fn free(self) {
        if self.work <= LAZY_FREE_THRESHOLD {
            return;
        }
        match freer() {
            Some(sender) => {
                // If the thread is gone the trash comes back and drops here.
                let _ = sender
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .send(self);
            }
            None => drop(self),
        }
    }
}

/// A sweep's sink: collections kept, strings freed at once.
impl Extend<Entry> for Trash {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        for entry in iter {
            self.entry(&entry);
        }
    }
}

/// A sweep's sink for the keys a deadline heap let go of: freed at once
/// (a key's bytes, no collection).
impl Extend<super::Key> for Trash {
    fn extend<I: IntoIterator<Item = super::Key>>(&mut self, iter: I) {
        iter.into_iter().for_each(drop);
    }
}

/// The background freeing thread's queue, started on first use; `None`
/// if it could not be started (then big trash is freed in place).
fn freer() -> Option<&'static Mutex<Sender<Trash>>> {
    static FREER: OnceLock<Option<Mutex<Sender<Trash>>>> = OnceLock::new();
    FREER
        .get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Trash>();
            std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || receiver.into_iter().for_each(drop))
                .ok()
                .map(|_| Mutex::new(sender))
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_not_kept_and_small_trash_frees_at_once() {
        let mut trash = Trash::default();
        trash.entry(&Entry::new(b"k", b"v", 0));
        assert!(trash.is_empty());
        trash.free();
    }
}
