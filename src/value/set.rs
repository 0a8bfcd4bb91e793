//! Sets: an [`IntSet`] while every member is an integer and there are at
//! most `set-max-intset-entries` of them, a [`Table`] of members otherwise
//! (and never back), as in Redis 7.0. Never takes a lock or does I/O.

use super::table::{Member, Table};
use super::{IntSet, IntSetView};

/// The big encoding: a table of members.
pub type MemberTable = Table<Member>;

/// An owned set.
#[derive(Debug, Clone)]
pub enum Set {
    /// Sorted integers.
    Ints(IntSet),
    /// A hash table of members.
    Table(Box<MemberTable>),
}

/// A borrowed set.
#[derive(Debug, Clone, Copy)]
pub enum SetRef<'a> {
    /// Sorted integers.
    Ints(IntSetView<'a>),
    /// A hash table of members.
    Table(&'a MemberTable),
}

impl Set {
    /// The same set in its big encoding.
    pub fn into_big(self) -> Set {
        match self {
            Set::Ints(ints) => {
                let mut table = MemberTable::with_capacity(ints.len());
                for n in ints.iter() {
                    table.insert(n.to_string().as_bytes());
                }
                Set::Table(Box::new(table))
            }
            table => table,
        }
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> SetRef<'_> {
        match self {
            Set::Ints(i) => SetRef::Ints(i.view()),
            Set::Table(t) => SetRef::Table(t),
        }
    }
}

impl<'a> SetRef<'a> {
    /// Every member as bytes (an intset's integers formatted), in the
    /// encoding's order.
    pub fn members(self) -> Box<dyn Iterator<Item = Vec<u8>> + 'a> {
        match self {
            SetRef::Ints(i) => Box::new(i.iter().map(|n| n.to_string().into_bytes())),
            SetRef::Table(t) => Box::new(t.iter().map(<[u8]>::to_vec)),
        }
    }
}

impl SetRef<'_> {
    /// An owned copy (of every element: O(n)).
    pub fn to_set(self) -> Set {
        match self {
            SetRef::Ints(x) => Set::Ints(IntSet::from_view(x)),
            SetRef::Table(x) => Set::Table(Box::new(x.clone())),
        }
    }

    /// Members.
    pub fn len(self) -> usize {
        match self {
            SetRef::Ints(i) => i.len(),
            SetRef::Table(t) => t.len(),
        }
    }

    /// Whether it has no member.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Bytes taken from the allocator beyond the entry (0 when packed,
    /// kept inline in it): O(1).
    pub fn footprint(self) -> usize {
        match self {
            SetRef::Ints(_) => 0,
            SetRef::Table(t) => {
                crate::memory::chunk(std::mem::size_of::<MemberTable>()) + t.footprint()
            }
        }
    }

    /// `OBJECT ENCODING`'s name for it.
    pub fn encoding(self) -> &'static str {
        match self {
            SetRef::Ints(_) => "intset",
            SetRef::Table(_) => "hashtable",
        }
    }
}
