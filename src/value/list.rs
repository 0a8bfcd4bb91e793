//! Lists: one [`Pack`] while the list fits one node of
//! `list-max-listpack-size`, a [`QuickList`] of packs beyond. Redis 7.0
//! calls both `quicklist`, and so does `OBJECT ENCODING`. Never takes a
//! lock or does I/O.

use super::quicklist::Fill;
use super::{Pack, PackView, QuickList};

/// An owned list.
#[derive(Debug, Clone)]
pub enum List {
    /// Elements of one pack.
    Packed(Pack),
    /// A list of packs.
    Quick(Box<QuickList>),
}

/// A borrowed list.
#[derive(Debug, Clone, Copy)]
pub enum ListRef<'a> {
    /// Elements of one pack.
    Packed(PackView<'a>),
    /// A list of packs.
    Quick(&'a QuickList),
}

impl List {
    /// The same list as a list of packs, each within `fill`.
    pub fn into_quick(self, fill: Fill) -> List {
        match self {
            List::Packed(p) => {
                let mut quick = QuickList::new();
                for element in p.iter() {
                    quick.push_back(element, fill);
                }
                List::Quick(Box::new(quick))
            }
            quick => quick,
        }
    }

    /// The same list as a list of packs (Redis's default node size).
    pub fn into_big(self) -> List {
        self.into_quick(Fill::from_redis(-2))
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> ListRef<'_> {
        match self {
            List::Packed(p) => ListRef::Packed(p.view()),
            List::Quick(q) => ListRef::Quick(q),
        }
    }
}

/// A list's elements in order, from either end.
pub enum ListIter<'a> {
    /// Of one pack.
    Packed(super::pack::Iter<'a>),
    /// Of a list of packs.
    Quick(super::quicklist::Iter<'a>),
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            ListIter::Packed(i) => i.next(),
            ListIter::Quick(i) => i.next(),
        }
    }
}

impl<'a> DoubleEndedIterator for ListIter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        match self {
            ListIter::Packed(i) => i.next_back(),
            ListIter::Quick(i) => i.next_back(),
        }
    }
}

impl<'a> ListRef<'a> {
    /// Every element, head to tail (`.rev()` for tail to head).
    pub fn iter(self) -> ListIter<'a> {
        match self {
            ListRef::Packed(p) => ListIter::Packed(p.iter()),
            ListRef::Quick(q) => ListIter::Quick(q.iter()),
        }
    }
}

impl ListRef<'_> {
    /// An owned copy (of every element: O(n)).
    pub fn to_list(self) -> List {
        match self {
            ListRef::Packed(x) => List::Packed(Pack::from_view(x)),
            ListRef::Quick(x) => List::Quick(Box::new(x.clone())),
        }
    }

    /// Elements.
    pub fn len(self) -> usize {
        match self {
            ListRef::Packed(p) => p.count(),
            ListRef::Quick(q) => q.len(),
        }
    }

    /// Whether it has no element.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Bytes taken from the allocator beyond the entry (0 when packed,
    /// kept inline in it): O(1).
    pub fn footprint(self) -> usize {
        match self {
            ListRef::Packed(_) => 0,
            ListRef::Quick(q) => {
                crate::memory::chunk(std::mem::size_of::<QuickList>()) + q.footprint()
            }
        }
    }

    /// `OBJECT ENCODING`'s name for it (Redis 7.0 has one for lists).
    pub fn encoding(self) -> &'static str {
        "quicklist"
    }
}
