//! The collection values a key can hold besides a string: hashes, lists,
//! sets and sorted sets, each in a compact encoding while small and an indexed one when
//! big (Redis's listpack / intset / quicklist / hashtable idea, written our
//! own way).
//!
//! A key's [`Entry`](crate::entry::Entry) keeps a string's bytes inline; a
//! collection it keeps as one pointer-wide *leaf* (a [`Pack`], an
//! [`IntSet`], or a `Box` of a [`QuickList`] or a [`Table`]) and a tag in its
//! header saying which. [`Value`] is the owned form of that pair, which a
//! writer edits; [`ValueRef`] the borrowed one, which a reader walks. Read
//! logic lives on the borrowed forms (`HashRef`, `ListRef`, `SetRef`) so
//! that it is written once for both.
//!
//! The leaves ([`pack`], [`intset`], [`quicklist`], [`table`]) own their
//! memory and count it ([`Value::footprint`], O(1)); the typed layers
//! ([`hash`], [`list`], [`set`]) give Redis's semantics and convert between
//! encodings at the thresholds of [`Encodings`]. [`long_double`] is the
//! arithmetic Redis's float increments are done in. Nothing here takes a lock,
//! does I/O or knows the keyspace: the keyspace decides when a value may be
//! changed in place (its entry not shared with a snapshot) and records the
//! change.

pub mod hash;
pub mod intset;
pub mod list;
pub mod long_double;
pub mod pack;
pub mod quicklist;
pub mod random;
pub mod set;
pub mod table;
pub mod zset;
pub mod ztree;

pub use crate::config::Encodings;
pub use hash::{Hash, HashRef};
pub use intset::{IntSet, IntSetView};
pub use list::{List, ListRef};
pub use pack::{Pack, PackView};
pub use quicklist::QuickList;
pub use set::{Set, SetRef};
pub use table::Table;
pub use zset::{ZSet, ZSetRef};
pub use ztree::ZTree;

/// The type of a key's value, as `TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (`SET`, `INCR`, ...).
    String,
    /// A hash of fields to values.
    Hash,
    /// A list.
    List,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
}

impl Kind {
    /// `TYPE`'s answer.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    /// The kind `SCAN ... TYPE name` filters by, if `name` is one.
    pub fn named(name: &[u8]) -> Option<Kind> {
        [Kind::String, Kind::Hash, Kind::List, Kind::Set, Kind::ZSet]
            .into_iter()
            .find(|k| k.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// An owned collection value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A hash.
    Hash(Hash),
    /// A list.
    List(List),
    /// A set.
    Set(Set),
    /// A sorted set.
    ZSet(ZSet),
}

/// A borrowed collection value.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    /// A hash.
    Hash(HashRef<'a>),
    /// A list.
    List(ListRef<'a>),
    /// A set.
    Set(SetRef<'a>),
    /// A sorted set.
    ZSet(ZSetRef<'a>),
}

impl Value {
    /// Its type.
    pub fn kind(&self) -> Kind {
        self.as_ref().kind()
    }

    /// The borrowed form.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Hash(h) => ValueRef::Hash(h.as_ref()),
            Value::List(l) => ValueRef::List(l.as_ref()),
            Value::Set(s) => ValueRef::Set(s.as_ref()),
            Value::ZSet(z) => ValueRef::ZSet(z.as_ref()),
        }
    }

    /// Elements (fields of a hash); an empty collection stops existing.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Whether it holds nothing (and so must not be stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes it takes from the allocator as an owned value: O(1).
    pub fn footprint(&self) -> usize {
        let boxed = |size: usize, inner: usize| crate::memory::chunk(size) + inner;
        match self {
            Value::Hash(Hash::Packed(p))
            | Value::List(List::Packed(p))
            | Value::ZSet(ZSet::Packed(p)) => p.footprint(),
            Value::Set(Set::Ints(i)) => i.footprint(),
            Value::Hash(Hash::Table(t)) => {
                boxed(std::mem::size_of::<hash::PairTable>(), t.footprint())
            }
            Value::List(List::Quick(q)) => boxed(std::mem::size_of::<QuickList>(), q.footprint()),
            Value::Set(Set::Table(t)) => {
                boxed(std::mem::size_of::<set::MemberTable>(), t.footprint())
            }
            Value::ZSet(ZSet::Tree(t)) => boxed(std::mem::size_of::<ZTree>(), t.footprint()),
        }
    }
}

impl<'a> ValueRef<'a> {
    /// Its type.
    pub fn kind(self) -> Kind {
        match self {
            ValueRef::Hash(_) => Kind::Hash,
            ValueRef::List(_) => Kind::List,
            ValueRef::Set(_) => Kind::Set,
            ValueRef::ZSet(_) => Kind::ZSet,
        }
    }

    /// Elements (fields of a hash).
    pub fn len(self) -> usize {
        match self {
            ValueRef::Hash(h) => h.len(),
            ValueRef::List(l) => l.len(),
            ValueRef::Set(s) => s.len(),
            ValueRef::ZSet(z) => z.len(),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// An owned copy (of every element: O(n)).
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Hash(h) => Value::Hash(h.to_hash()),
            ValueRef::List(l) => Value::List(l.to_list()),
            ValueRef::Set(s) => Value::Set(s.to_set()),
            ValueRef::ZSet(z) => Value::ZSet(z.to_zset()),
        }
    }

    /// Bytes it takes from the allocator beyond its entry's allocation
    /// (0 for a packed one, kept inline): O(1).
    pub fn footprint(self) -> usize {
        match self {
            ValueRef::Hash(h) => h.footprint(),
            ValueRef::List(l) => l.footprint(),
            ValueRef::Set(s) => s.footprint(),
            ValueRef::ZSet(z) => z.footprint(),
        }
    }

    /// `OBJECT ENCODING`'s answer for the encoding in use.
    pub fn encoding(self) -> &'static str {
        match self {
            ValueRef::Hash(h) => h.encoding(),
            ValueRef::List(l) => l.encoding(),
            ValueRef::Set(s) => s.encoding(),
            ValueRef::ZSet(z) => z.encoding(),
        }
    }

    /// The hash, if it is one.
    pub fn hash(self) -> Option<HashRef<'a>> {
        match self {
            ValueRef::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The list, if it is one.
    pub fn list(self) -> Option<ListRef<'a>> {
        match self {
            ValueRef::List(l) => Some(l),
            _ => None,
        }
    }

    /// The set, if it is one.
    pub fn set(self) -> Option<SetRef<'a>> {
        match self {
            ValueRef::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The sorted set, if it is one.
    pub fn zset(self) -> Option<ZSetRef<'a>> {
        match self {
            ValueRef::ZSet(z) => Some(z),
            _ => None,
        }
    }
}

impl Value {
    /// The same value in its big encoding (a table, a list of packs).
    pub fn into_big(self) -> Value {
        match self {
            Value::Hash(h) => Value::Hash(h.into_big()),
            Value::List(l) => Value::List(l.into_big()),
            Value::Set(s) => Value::Set(s.into_big()),
            Value::ZSet(z) => Value::ZSet(z.into_big()),
        }
    }

    /// The hash, if it is one.
    pub fn hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The list, if it is one.
    pub fn list_mut(&mut self) -> Option<&mut List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The set, if it is one.
    pub fn set_mut(&mut self) -> Option<&mut Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The sorted set, if it is one.
    pub fn zset_mut(&mut self) -> Option<&mut ZSet> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
}

/// One of the collection types, as commands name them: how to find it in
/// a value, owned or borrowed, and how to start an empty one.
pub trait Collection: Sized {
    /// Its borrowed form.
    type Ref<'a>: Copy;
    /// Its `TYPE`.
    const KIND: Kind;
    /// A new, empty one (in the compact encoding), as a value.
    fn empty() -> Value;
    /// It, inside `value`, if `value` is one.
    fn of(value: &mut Value) -> Option<&mut Self>;
    /// Its borrowed form, inside `value`, if `value` is one.
    fn of_ref(value: ValueRef<'_>) -> Option<Self::Ref<'_>>;
}

impl Collection for Hash {
    type Ref<'a> = HashRef<'a>;
    const KIND: Kind = Kind::Hash;
    fn empty() -> Value {
        Value::Hash(Hash::Packed(Pack::new()))
    }
    fn of(value: &mut Value) -> Option<&mut Hash> {
        value.hash_mut()
    }
    fn of_ref(value: ValueRef<'_>) -> Option<HashRef<'_>> {
        value.hash()
    }
}

impl Collection for List {
    type Ref<'a> = ListRef<'a>;
    const KIND: Kind = Kind::List;
    fn empty() -> Value {
        Value::List(List::Packed(Pack::new()))
    }
    fn of(value: &mut Value) -> Option<&mut List> {
        value.list_mut()
    }
    fn of_ref(value: ValueRef<'_>) -> Option<ListRef<'_>> {
        value.list()
    }
}

impl Collection for Set {
    type Ref<'a> = SetRef<'a>;
    const KIND: Kind = Kind::Set;
    fn empty() -> Value {
        Value::Set(Set::Ints(IntSet::new()))
    }
    fn of(value: &mut Value) -> Option<&mut Set> {
        value.set_mut()
    }
    fn of_ref(value: ValueRef<'_>) -> Option<SetRef<'_>> {
        value.set()
    }
}

impl Collection for ZSet {
    type Ref<'a> = ZSetRef<'a>;
    const KIND: Kind = Kind::ZSet;
    fn empty() -> Value {
        Value::ZSet(ZSet::new())
    }
    fn of(value: &mut Value) -> Option<&mut ZSet> {
        value.zset_mut()
    }
    fn of_ref(value: ValueRef<'_>) -> Option<ZSetRef<'_>> {
        value.zset()
    }
}

/// A collection's leaf as an entry stores it: a tag (which leaf type) and
/// the leaf's one word. The entry module converts; nothing else needs to.
pub(crate) mod raw {
    use super::*;

    /// A packed hash ([`Pack`] of alternating fields and values).
    pub const HASH_PACKED: u8 = 1;
    /// A hash table of fields and values.
    pub const HASH_TABLE: u8 = 2;
    /// A list in one pack.
    pub const LIST_PACKED: u8 = 3;
    /// A list of packs.
    pub const LIST_QUICK: u8 = 4;
    /// A set of integers.
    pub const SET_INTS: u8 = 5;
    /// A hash table of members.
    pub const SET_TABLE: u8 = 6;
    /// A packed sorted set ([`Pack`] of scored members, ascending).
    pub const ZSET_PACKED: u8 = 7;
    /// A sorted set's table and order index.
    pub const ZSET_TREE: u8 = 8;

    // Every leaf is one word, so that the entry's slot holds exactly it.
    const _: () = {
        assert!(std::mem::size_of::<Box<QuickList>>() == 8);
        assert!(std::mem::size_of::<Box<hash::PairTable>>() == 8);
        assert!(std::mem::size_of::<Box<set::MemberTable>>() == 8);
        assert!(std::mem::size_of::<Box<ZTree>>() == 8);
    };

    /// Whether a tag's leaf is kept inline in the entry (a packed
    /// encoding) rather than behind the slot's pointer.
    #[inline]
    pub fn is_inline(tag: u8) -> bool {
        matches!(tag, HASH_PACKED | LIST_PACKED | SET_INTS | ZSET_PACKED)
    }

    /// A packed value's tag, encoded bytes and element count, to be kept
    /// inline; `None` for a big encoding.
    pub fn inline_body(value: &Value) -> Option<(u8, &[u8], usize)> {
        match value {
            Value::Hash(Hash::Packed(p)) => Some((HASH_PACKED, p.bytes(), p.count())),
            Value::List(List::Packed(p)) => Some((LIST_PACKED, p.bytes(), p.count())),
            Value::Set(Set::Ints(i)) => Some((SET_INTS, i.bytes(), i.len())),
            Value::ZSet(ZSet::Packed(p)) => Some((ZSET_PACKED, p.bytes(), p.count())),
            _ => None,
        }
    }

    /// The borrowed form of a packed value kept inline as `body`.
    ///
    /// # Safety
    /// `body` and `count` must be what [`inline_body`] gave for a value of
    /// this `tag`.
    pub unsafe fn borrow_inline(tag: u8, body: &[u8], count: usize) -> ValueRef<'_> {
        // SAFETY: per the caller, the bytes are a valid encoding of `count`
        // elements, as the views require.
        unsafe {
            match tag {
                HASH_PACKED => {
                    ValueRef::Hash(HashRef::Packed(PackView::new_unchecked(body, count)))
                }
                LIST_PACKED => {
                    ValueRef::List(ListRef::Packed(PackView::new_unchecked(body, count)))
                }
                ZSET_PACKED => {
                    ValueRef::ZSet(ZSetRef::Packed(PackView::new_unchecked(body, count)))
                }
                _ => ValueRef::Set(SetRef::Ints(IntSetView::new_unchecked(body, count))),
            }
        }
    }

    /// Moves `value`'s leaf into `slot` and returns its tag.
    ///
    /// A packed value is never written to a slot (it is kept inline); the
    /// entry checks [`inline_body`] first.
    ///
    /// # Safety
    /// `slot` must be valid for an 8-byte, 8-aligned write, and hold no
    /// leaf (its old one was read out, or it is fresh).
    pub unsafe fn write(value: Value, slot: *mut u64) -> u8 {
        // SAFETY: each leaf is 8 bytes (asserted above) and `slot` is
        // valid and aligned for 8 bytes, per the caller.
        unsafe {
            match value {
                Value::Hash(Hash::Table(t)) => {
                    slot.cast::<Box<hash::PairTable>>().write(t);
                    HASH_TABLE
                }
                Value::List(List::Quick(q)) => {
                    slot.cast::<Box<QuickList>>().write(q);
                    LIST_QUICK
                }
                Value::Set(Set::Table(t)) => {
                    slot.cast::<Box<set::MemberTable>>().write(t);
                    SET_TABLE
                }
                Value::ZSet(ZSet::Tree(t)) => {
                    slot.cast::<Box<ZTree>>().write(t);
                    ZSET_TREE
                }
                // Kept inline by the entry, never here: a packed value
                // that reaches this point is converted to its big
                // encoding's leaf rather than lost.
                packed @ (Value::Hash(Hash::Packed(_))
                | Value::List(List::Packed(_))
                | Value::Set(Set::Ints(_))
                | Value::ZSet(ZSet::Packed(_))) => write(packed.into_big(), slot),
            }
        }
    }

    /// Moves the leaf out of `slot`.
    ///
    /// # Safety
    /// `slot` must hold a leaf written by [`write`] with this `tag`, which
    /// the caller then owns: it must be written back or dropped once, and
    /// nobody may read the slot meanwhile.
    pub unsafe fn read(tag: u8, slot: *const u64) -> Value {
        // SAFETY: per the caller, the slot holds a leaf of `tag`'s type.
        unsafe {
            match tag {
                HASH_TABLE => Value::Hash(Hash::Table(slot.cast::<Box<hash::PairTable>>().read())),
                LIST_QUICK => Value::List(List::Quick(slot.cast::<Box<QuickList>>().read())),
                ZSET_TREE => Value::ZSet(ZSet::Tree(slot.cast::<Box<ZTree>>().read())),
                _ => Value::Set(Set::Table(slot.cast::<Box<set::MemberTable>>().read())),
            }
        }
    }

    /// Borrows the leaf in `slot`.
    ///
    /// # Safety
    /// `slot` must hold a leaf written by [`write`] with this `tag`, alive
    /// and unchanged for `'a`.
    pub unsafe fn borrow<'a>(tag: u8, slot: *const u64) -> ValueRef<'a> {
        // SAFETY: per the caller, the slot holds a live leaf of `tag`'s
        // type for 'a; shared references to it are all anyone takes then.
        unsafe {
            match tag {
                HASH_TABLE => ValueRef::Hash(HashRef::Table(&*slot.cast::<Box<hash::PairTable>>())),
                LIST_QUICK => ValueRef::List(ListRef::Quick(&*slot.cast::<Box<QuickList>>())),
                ZSET_TREE => ValueRef::ZSet(ZSetRef::Tree(&*slot.cast::<Box<ZTree>>())),
                _ => ValueRef::Set(SetRef::Table(&*slot.cast::<Box<set::MemberTable>>())),
            }
        }
    }
}
