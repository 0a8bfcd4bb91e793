//! Hashes: fields to values, packed while small (alternating field and
//! value elements of one [`Pack`]) and a [`Table`] of pairs when big.
//!
//! The encoding switches to the table when a hash would hold more than
//! `hash-max-listpack-entries` fields or a field or value longer than
//! `hash-max-listpack-value` bytes, and never back, as in Redis. Never
//! takes a lock or does I/O.

use super::table::{Pair, Table};
use super::{Pack, PackView};

/// The big encoding: a table of field-value pairs.
pub type PairTable = Table<Pair>;

/// An owned hash.
#[derive(Debug, Clone)]
pub enum Hash {
    /// Alternating field and value elements.
    Packed(Pack),
    /// A hash table of pairs.
    Table(Box<PairTable>),
}

/// A borrowed hash.
#[derive(Debug, Clone, Copy)]
pub enum HashRef<'a> {
    /// Alternating field and value elements.
    Packed(PackView<'a>),
    /// A hash table of pairs.
    Table(&'a PairTable),
}

impl Hash {
    /// The same hash in its big encoding.
    pub fn into_big(self) -> Hash {
        match self {
            Hash::Packed(p) => {
                let mut table = PairTable::with_capacity(p.count() / 2);
                let mut elements = p.iter();
                while let (Some(field), Some(value)) = (elements.next(), elements.next()) {
                    table.insert(field, value);
                }
                Hash::Table(Box::new(table))
            }
            table => table,
        }
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> HashRef<'_> {
        match self {
            Hash::Packed(p) => HashRef::Packed(p.view()),
            Hash::Table(t) => HashRef::Table(t),
        }
    }
}

impl<'a> HashRef<'a> {
    /// Every field and its value, in the encoding's order.
    pub fn iter(self) -> Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a> {
        match self {
            HashRef::Packed(p) => {
                let mut elements = p.iter();
                Box::new(std::iter::from_fn(move || {
                    Some((elements.next()?, elements.next()?))
                }))
            }
            HashRef::Table(t) => Box::new(t.iter()),
        }
    }
}

impl HashRef<'_> {
    /// An owned copy (of every element: O(n)).
    pub fn to_hash(self) -> Hash {
        match self {
            HashRef::Packed(x) => Hash::Packed(Pack::from_view(x)),
            HashRef::Table(x) => Hash::Table(Box::new(x.clone())),
        }
    }

    /// Fields.
    pub fn len(self) -> usize {
        match self {
            HashRef::Packed(p) => p.count() / 2,
            HashRef::Table(t) => t.len(),
        }
    }

    /// Whether it has no field.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Bytes taken from the allocator beyond the entry (0 when packed,
    /// kept inline in it): O(1).
    pub fn footprint(self) -> usize {
        match self {
            HashRef::Packed(_) => 0,
            HashRef::Table(t) => {
                crate::memory::chunk(std::mem::size_of::<PairTable>()) + t.footprint()
            }
        }
    }

    /// `OBJECT ENCODING`'s name for it.
    pub fn encoding(self) -> &'static str {
        match self {
            HashRef::Packed(_) => "listpack",
            HashRef::Table(_) => "hashtable",
        }
    }
}
