//! Sets: an [`IntSet`] while every member is an integer and there are at
//! most `set-max-intset-entries` of them, a [`Table`] of members otherwise,
//! as in Redis 7.0 (which has no listpack sets: a small set of strings is a
//! hash table too).
//!
//! A set only converts one way, intset to table, as a member is added:
//! removing the member that forced the table leaves the table. The one way
//! back is Redis's own: an `SPOP` with a count that leaves few members
//! builds the set of those anew ([`Set::pop_many`]), and a new set starts
//! as an intset.
//!
//! Members are read as [`Element`]s, an intset's integer or a table's
//! bytes, so that comparing one set's members with another's never formats
//! an integer on the heap. An integer is a member exactly when its bytes are
//! the integer as `i64::to_string` writes it ([`canonical_i64`]): `"10"` is
//! the integer 10, `"010"` and `"+10"` are strings.
//!
//! Random picks take their randomness from [`Seeds`], so a caller (and a
//! test) decides where it comes from. The algebra of `SINTER`, `SUNION`
//! and `SDIFF` is here ([`intersect`], [`union`], [`difference`]), with
//! Redis's choices of order and algorithm. Never takes a lock or does I/O.

use super::intset::{self, canonical_i64};
use super::pack::MAX_BYTES;
pub use super::random::Seeds;
use super::random::below;
use super::table::{self, Member, Table};
use super::{Encodings, IntSet, IntSetView};
use std::collections::HashSet;

/// The big encoding: a table of members.
pub type MemberTable = Table<Member>;

/// Most integers an intset holds, whatever `set-max-intset-entries` says:
/// Redis caps the parameter at 2^30, and a pack holds at most
/// [`MAX_BYTES`], 8 bytes an integer at the widest.
const MOST_INTS: usize = if MAX_BYTES / 8 < 1 << 30 {
    MAX_BYTES / 8
} else {
    1 << 30
};

/// How many integers an intset may hold under `limits`.
fn intset_limit(limits: &Encodings) -> usize {
    usize::try_from(limits.set_max_intset_entries)
        .unwrap_or(usize::MAX)
        .min(MOST_INTS)
}

/// One member as a set keeps it: an intset's integer, or a table's bytes.
/// An integer stands for its decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Element<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a table.
    Bytes(&'a [u8]),
}

impl Element<'_> {
    /// The member's bytes, copied (an integer formatted).
    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }

    /// Runs `f` on the member's bytes (an integer formatted on the stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Element::Bytes(b) => f(b),
            Element::Int(n) => {
                use std::io::Write;
                // i64::MIN is the longest, at 20 bytes.
                let mut buf = [0u8; 20];
                let mut rest = &mut buf[..];
                let _ = write!(rest, "{n}");
                let len = 20 - rest.len();
                f(&buf[..len])
            }
        }
    }

    /// The integer an intset would keep for this member, if any.
    fn as_int(self) -> Option<i64> {
        match self {
            Element::Int(n) => Some(n),
            Element::Bytes(b) => canonical_i64(b),
        }
    }
}

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

/// The table holding `ints`' integers, formatted, sized for them.
fn table_of(ints: &IntSet) -> Box<MemberTable> {
    let mut table = MemberTable::with_capacity(ints.len());
    for n in ints {
        Element::Int(n).with_bytes(|b| table.insert(b));
    }
    Box::new(table)
}

impl Default for Set {
    fn default() -> Set {
        Set::new()
    }
}

impl Set {
    /// An empty set, an intset (as every new set starts).
    pub fn new() -> Set {
        Set::Ints(IntSet::new())
    }

    /// A set of `elements` (repeats count once), encoded as adding them
    /// one by one to a new set would leave it.
    pub fn from_elements<'e>(
        elements: impl IntoIterator<Item = Element<'e>>,
        limits: &Encodings,
    ) -> Set {
        let mut set = Set::new();
        for e in elements {
            set.insert_element(e, limits);
        }
        set
    }

    /// The same set in its big encoding.
    pub fn into_big(self) -> Set {
        match self {
            Set::Ints(ints) => Set::Table(table_of(&ints)),
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

    /// Members.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.as_ref().contains(member)
    }

    /// Adds `member`; false if it was there already. An intset becomes a
    /// table when `member` is not an integer, or when it would hold more
    /// than `set-max-intset-entries` integers.
    pub fn insert(&mut self, member: &[u8], limits: &Encodings) -> bool {
        self.insert_element(Element::Bytes(member), limits)
    }

    /// Adds `member` (from another set, say), as [`Set::insert`] does.
    pub fn insert_element(&mut self, member: Element<'_>, limits: &Encodings) -> bool {
        if let Set::Ints(ints) = self {
            match member.as_int() {
                Some(n) if ints.contains(n) => return false,
                Some(n) if ints.len() < intset_limit(limits) => return ints.insert(n),
                _ => {
                    let table = table_of(ints);
                    *self = Set::Table(table);
                }
            }
        }
        match self {
            Set::Table(table) => member.with_bytes(|b| table.insert(b)),
            Set::Ints(_) => false,
        }
    }

    /// Removes `member`; false if it was not there. A table stays a table.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.remove_element(Element::Bytes(member))
    }

    /// Removes `member` (from another set, say), as [`Set::remove`] does.
    pub fn remove_element(&mut self, member: Element<'_>) -> bool {
        match self {
            Set::Ints(ints) => member.as_int().is_some_and(|n| ints.remove(n)),
            Set::Table(table) => member.with_bytes(|b| table.remove(b)),
        }
    }

    /// Removes a random member (as [`SetRef::random`] picks it) and returns
    /// its bytes; `None` only if the set is empty.
    pub fn pop_random(&mut self, seed: u64) -> Option<Vec<u8>> {
        match self {
            Set::Ints(ints) => {
                let n = ints.get(below(seed, ints.len()))?;
                ints.remove(n);
                Some(Element::Int(n).to_vec())
            }
            Set::Table(table) => table.pop_random(seed).map(|node| node.key().to_vec()),
        }
    }

    /// Removes `count` random members (all of them if there are no more)
    /// and returns their bytes, as Redis's `SPOP key count` chooses them:
    /// the whole set when `count` reaches its size; `count` random pops
    /// when more than a fifth of that many members would remain; otherwise
    /// the members to keep are drawn instead, into a new set (which is an
    /// intset again if they allow it), and the rest is popped, in the old
    /// set's order. Never more than O(count) random draws.
    pub fn pop_many(
        &mut self,
        count: usize,
        seeds: &mut Seeds,
        limits: &Encodings,
    ) -> Vec<Vec<u8>> {
        let size = self.len();
        if count >= size {
            let all = self.as_ref().members().collect();
            *self = Set::new();
            return all;
        }
        let remaining = size - count;
        if remaining.saturating_mul(5) > count {
            return (0..count)
                .filter_map(|_| self.pop_random(seeds.draw()))
                .collect();
        }
        let mut kept = Set::new();
        for _ in 0..remaining {
            if let Some(member) = self.pop_random(seeds.draw()) {
                kept.insert(&member, limits);
            }
        }
        let popped = self.as_ref().members().collect();
        *self = kept;
        popped
    }
}

/// The members of a set, in its encoding's order (ascending for an
/// intset, the table's otherwise).
pub enum Elements<'a> {
    /// An intset's.
    Ints(intset::Iter<'a>),
    /// A table's.
    Table(table::Iter<'a, Member>),
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        match self {
            Elements::Ints(i) => i.next().map(Element::Int),
            Elements::Table(t) => t.next().map(Element::Bytes),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Elements::Ints(i) => i.size_hint(),
            Elements::Table(t) => t.size_hint(),
        }
    }
}

impl ExactSizeIterator for Elements<'_> {}

impl<'a> SetRef<'a> {
    /// Every member, in the encoding's order.
    pub fn elements(self) -> Elements<'a> {
        match self {
            SetRef::Ints(i) => Elements::Ints(i.iter()),
            SetRef::Table(t) => Elements::Table(t.iter()),
        }
    }

    /// Every member as bytes (an intset's integers formatted), in the
    /// encoding's order.
    pub fn members(self) -> Box<dyn Iterator<Item = Vec<u8>> + 'a> {
        Box::new(self.elements().map(Element::to_vec))
    }

    /// A random member, `None` only if the set is empty: any integer of an
    /// intset equally likely, a table's as [`Table::random`] picks.
    pub fn random(self, seed: u64) -> Option<Element<'a>> {
        match self {
            SetRef::Ints(i) => i.get(below(seed, i.len())).map(Element::Int),
            SetRef::Table(t) => t.random(seed).map(Element::Bytes),
        }
    }

    /// `count` distinct random members (all of them if there are no more),
    /// as Redis's `SRANDMEMBER key count` chooses them: the whole set when
    /// `count` reaches its size; when it is more than a third of it, a copy
    /// of every member less random ones; otherwise random picks until
    /// `count` distinct ones are drawn, so that a small count never costs
    /// O(size). In no particular order.
    pub fn sample_distinct(self, count: usize, seeds: &mut Seeds) -> Vec<Element<'a>> {
        let size = self.len();
        if count >= size {
            return self.elements().collect();
        }
        if count.saturating_mul(3) > size {
            let mut all: Vec<Element<'a>> = self.elements().collect();
            while all.len() > count {
                all.swap_remove(below(seeds.draw(), all.len()));
            }
            return all;
        }
        let mut seen = HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let Some(e) = self.random(seeds.draw()) else {
                break;
            };
            if seen.insert(e) {
                picked.push(e);
            }
        }
        picked
    }

    /// One step of `SSCAN` from `cursor`: visits members and returns the
    /// next cursor, 0 when the scan is complete. An intset visits every
    /// member at once and returns 0. A table visits a bucket at a time (see
    /// [`Table::scan`]) until `count` members are visited, ten times
    /// `count` more buckets are passed, or the scan is complete, as Redis
    /// does.
    pub fn scan(self, cursor: u64, count: usize, mut visit: impl FnMut(Element<'a>)) -> u64 {
        match self {
            SetRef::Ints(i) => {
                i.iter().for_each(|n| visit(Element::Int(n)));
                0
            }
            SetRef::Table(t) => {
                let mut visited = 0usize;
                let mut cursor = cursor;
                let mut more = count.saturating_mul(10);
                loop {
                    cursor = t.scan(cursor, |m| {
                        visited += 1;
                        visit(Element::Bytes(m));
                    });
                    if cursor == 0 || more == 0 || visited >= count {
                        return cursor;
                    }
                    more -= 1;
                }
            }
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

    /// Whether `member` is in the set.
    pub fn contains(self, member: &[u8]) -> bool {
        self.contains_element(Element::Bytes(member))
    }

    /// Whether `member` (from another set, say) is in the set.
    pub fn contains_element(self, member: Element<'_>) -> bool {
        match self {
            SetRef::Ints(i) => member.as_int().is_some_and(|n| i.contains(n)),
            SetRef::Table(t) => member.with_bytes(|b| t.contains(b)),
        }
    }

    /// Whether `other` is this very set (the same key given twice), not
    /// merely an equal one.
    pub fn is_same(self, other: SetRef<'_>) -> bool {
        match (self, other) {
            (SetRef::Ints(a), SetRef::Ints(b)) => std::ptr::eq(a.bytes(), b.bytes()),
            (SetRef::Table(a), SetRef::Table(b)) => std::ptr::eq(a, b),
            _ => false,
        }
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

/// `SINTER`'s members: those in every one of `sets` (a missing set, `None`,
/// is empty, and so is the intersection), given to `keep` until it answers
/// false. As Redis does, the sets are ordered by size (equal sizes keep
/// their order) and the smallest one's members, in its order, are looked
/// up in the others.
pub fn intersect<'a>(sets: &[Option<SetRef<'a>>], mut keep: impl FnMut(Element<'a>) -> bool) {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<SetRef<'a>>>>() else {
        return;
    };
    sets.sort_by_key(|s| s.len());
    let Some((&first, rest)) = sets.split_first() else {
        return;
    };
    for e in first.elements() {
        let everywhere = rest
            .iter()
            .all(|s| s.is_same(first) || s.contains_element(e));
        if everywhere && !keep(e) {
            return;
        }
    }
}

/// `SUNION`: every member of any of `sets` (`None` is a missing set), as a
/// new set built by adding them in order.
pub fn union(sets: &[Option<SetRef<'_>>], limits: &Encodings) -> Set {
    let mut out = Set::new();
    for set in sets.iter().flatten() {
        for e in set.elements() {
            out.insert_element(e, limits);
        }
    }
    out
}

/// `SDIFF`: the members of the first of `sets` in none of the others
/// (`None` is a missing set), as a new set. Redis's two algorithms, chosen
/// as it chooses: look each member of the first set up in the others
/// (biggest first), or copy the first set and remove the others' members,
/// whichever is less work; the first set given again empties the result.
pub fn difference(sets: &[Option<SetRef<'_>>], limits: &Encodings) -> Set {
    let mut out = Set::new();
    let Some((Some(first), rest)) = sets.split_first() else {
        return out;
    };
    let mut others: Vec<SetRef<'_>> = rest.iter().flatten().copied().collect();
    if others.iter().any(|s| s.is_same(*first)) {
        return out;
    }
    let lookups = first.len().saturating_mul(others.len() + 1) / 2;
    let copies = others
        .iter()
        .fold(first.len(), |sum, s| sum.saturating_add(s.len()));
    if lookups <= copies {
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for e in first.elements() {
            if !others.iter().any(|s| s.contains_element(e)) {
                out.insert_element(e, limits);
            }
        }
    } else {
        for e in first.elements() {
            out.insert_element(e, limits);
        }
        for set in &others {
            if out.is_empty() {
                break;
            }
            for e in set.elements() {
                out.remove_element(e);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn limits(max: u64) -> Encodings {
        Encodings {
            set_max_intset_entries: max,
            ..Encodings::DEFAULT
        }
    }

    /// Members of assorted shapes: small integers (which an intset keeps),
    /// integers at the width boundaries, and strings that only look like
    /// integers ("+1", "01", "-0") or are not (binary, empty).
    fn member(r: u64) -> Vec<u8> {
        let n = (r >> 8) % 40;
        match r % 10 {
            0..=5 => n.to_string().into_bytes(),
            6 => [i64::MIN, i64::MAX, 32767, 32768, -32769, 1 << 40][n as usize % 6]
                .to_string()
                .into_bytes(),
            7 => format!("+{n}").into_bytes(),
            8 => format!("0{n}").into_bytes(),
            _ => [&b""[..], b"-0", b"a", b"\x00\xff", b"member"][n as usize % 5].to_vec(),
        }
    }

    fn members_of(set: SetRef<'_>) -> HashSet<Vec<u8>> {
        let all: Vec<Vec<u8>> = set.members().collect();
        let unique: HashSet<Vec<u8>> = all.iter().cloned().collect();
        assert_eq!(all.len(), unique.len(), "no member twice");
        unique
    }

    /// The encoding is an intset exactly while it may be (for a set that
    /// only grew), and reads as the model.
    fn same(set: &Set, model: &HashSet<Vec<u8>>, limits: &Encodings) {
        assert_eq!(set.len(), model.len());
        assert_eq!(set.is_empty(), model.is_empty());
        assert_eq!(&members_of(set.as_ref()), model);
        assert_eq!(set.as_ref().elements().len(), model.len());
        if let Set::Ints(ints) = set {
            assert!(ints.len() as u64 <= limits.set_max_intset_entries);
            assert!(model.iter().all(|m| canonical_i64(m).is_some()));
        }
    }

    #[test]
    fn edits_match_a_hashset_across_the_conversion() {
        for max in [0, 1, 4, 16, 512] {
            let limits = limits(max);
            let mut seeds = Seeds::new(max + 1);
            let mut set = Set::new();
            let mut model = HashSet::new();
            let mut converted = false;
            for step in 0..4000 {
                let r = seeds.draw();
                let m = member(r >> 4);
                match r % 8 {
                    0..=3 => assert_eq!(set.insert(&m, &limits), model.insert(m.clone())),
                    4 | 5 => assert_eq!(set.remove(&m), model.remove(&m)),
                    6 => {
                        let popped = set.pop_random(seeds.draw());
                        assert_eq!(popped.is_none(), model.is_empty());
                        if let Some(p) = popped {
                            assert!(model.remove(&p), "{p:?} was a member");
                        }
                    }
                    _ => {
                        for probe in [&m[..], b"9", b"09", b"-0"] {
                            let want = model.contains(probe);
                            assert_eq!(set.contains(probe), want, "{probe:?}");
                            let e = Element::Bytes(probe);
                            assert_eq!(set.as_ref().contains_element(e), want);
                        }
                    }
                }
                assert_eq!(set.contains(&m), model.contains(&m), "step {step}");
                if matches!(set, Set::Table(_)) {
                    converted = true;
                }
                if converted {
                    assert!(matches!(set, Set::Table(_)), "never back: step {step}");
                } else {
                    same(&set, &model, &limits);
                }
                if step % 97 == 0 {
                    same_members(&set, &model);
                }
            }
            assert!(converted, "max {max}: the cases reach a table");
            same_members(&set, &model);
        }
    }

    fn same_members(set: &Set, model: &HashSet<Vec<u8>>) {
        assert_eq!(set.len(), model.len());
        assert_eq!(&members_of(set.as_ref()), model);
    }

    #[test]
    fn integers_stay_an_intset_up_to_the_limit_and_strings_make_a_table() {
        let limits = limits(4);
        let mut set = Set::new();
        for n in ["3", "-1", "2", "9223372036854775807"] {
            assert!(set.insert(n.as_bytes(), &limits));
        }
        assert!(!set.insert(b"3", &limits), "a repeat on a full intset");
        assert_eq!(set.as_ref().encoding(), "intset");
        assert_eq!(
            set.as_ref().members().collect::<Vec<_>>(),
            [&b"-1"[..], b"2", b"3", b"9223372036854775807"]
        );
        assert!(set.insert(b"5", &limits));
        assert_eq!(set.as_ref().encoding(), "hashtable");
        assert!(set.remove(b"5"));
        assert_eq!(set.as_ref().encoding(), "hashtable", "never back");
        let mut strings = Set::new();
        assert!(strings.insert(b"01", &limits));
        assert_eq!(strings.as_ref().encoding(), "hashtable");
        let mut none = Set::new();
        assert!(none.insert(b"1", &super::tests::limits(0)));
        assert_eq!(none.as_ref().encoding(), "hashtable");
        assert!(!Set::new().remove(b"x"));
        assert!(!set.remove(b"+2"));
        assert!(set.remove(b"2"));
    }

    #[test]
    fn an_integer_element_finds_its_digits_in_a_table_and_back() {
        let limits = limits(512);
        let table = Set::from_elements([Element::Bytes(b"x"), Element::Bytes(b"-7")], &limits);
        assert_eq!(table.as_ref().encoding(), "hashtable");
        assert!(table.as_ref().contains_element(Element::Int(-7)));
        assert!(!table.as_ref().contains_element(Element::Int(7)));
        let ints = Set::from_elements([Element::Int(i64::MIN), Element::Int(-7)], &limits);
        assert_eq!(ints.as_ref().encoding(), "intset");
        assert!(ints.as_ref().contains_element(Element::Bytes(b"-7")));
        assert!(ints.as_ref().contains(b"-9223372036854775808"));
        assert!(!ints.as_ref().contains(b"-07"));
        assert_eq!(Element::Int(i64::MIN).to_vec(), b"-9223372036854775808");
        let mut set = table.clone();
        assert!(set.remove_element(Element::Int(-7)));
        assert_eq!(set.len(), 1);
    }

    fn drain_model(popped: &[Vec<u8>], model: &mut HashSet<Vec<u8>>) {
        let unique: HashSet<&Vec<u8>> = popped.iter().collect();
        assert_eq!(unique.len(), popped.len(), "popped twice");
        for p in popped {
            assert!(model.remove(p), "{p:?} was a member");
        }
    }

    #[test]
    fn pop_many_takes_count_distinct_members_by_each_strategy() {
        let limits = limits(16);
        for size in [1usize, 2, 5, 6, 12, 40] {
            for count in [0, 1, 2, 4, 5, 10, 11, 39, 40, 41, 1000] {
                for strings in [false, true] {
                    let mut seeds = Seeds::new((size * 1000 + count) as u64);
                    let mut set = Set::new();
                    let mut model = HashSet::new();
                    for i in 0..size {
                        let m = if strings && i % 3 == 0 {
                            format!("s{i}")
                        } else {
                            i.to_string()
                        };
                        set.insert(m.as_bytes(), &limits);
                        model.insert(m.into_bytes());
                    }
                    let popped = set.pop_many(count, &mut seeds, &limits);
                    assert_eq!(popped.len(), count.min(size), "{size} {count}");
                    drain_model(&popped, &mut model);
                    same_members(&set, &model);
                    // What is kept is encoded as a new set of it would be.
                    let remaining = size.saturating_sub(count);
                    if remaining > 0 && remaining * 5 <= count {
                        let fresh =
                            Set::from_elements(model.iter().map(|m| Element::Bytes(m)), &limits);
                        assert_eq!(set.as_ref().encoding(), fresh.as_ref().encoding());
                    }
                }
            }
        }
    }

    #[test]
    fn pop_many_leaving_few_builds_an_intset_again_as_redis_does() {
        let limits = limits(4);
        let mut set = Set::new();
        for n in 1..=6 {
            set.insert(n.to_string().as_bytes(), &limits);
        }
        assert_eq!(set.as_ref().encoding(), "hashtable");
        let popped = set.pop_many(5, &mut Seeds::new(7), &limits);
        assert_eq!(popped.len(), 5);
        assert_eq!(set.as_ref().encoding(), "intset");
        assert_eq!(set.len(), 1);
        // An intset's leftover members come out in ascending order.
        let mut ints = Set::new();
        for n in 1..=12 {
            ints.insert(n.to_string().as_bytes(), &super::tests::limits(512));
        }
        let popped = ints.pop_many(11, &mut Seeds::new(3), &limits);
        let values: Vec<i64> = popped.iter().map(|p| canonical_i64(p).unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    #[test]
    fn samples_are_distinct_members_and_cover_the_set() {
        let limits = limits(512);
        for strings in [false, true] {
            let mut set = Set::new();
            for i in 0..30 {
                let m = if strings {
                    format!("m{i}")
                } else {
                    i.to_string()
                };
                set.insert(m.as_bytes(), &limits);
            }
            let all = members_of(set.as_ref());
            let mut seeds = Seeds::new(11);
            let mut seen = HashSet::new();
            for count in [0, 1, 2, 9, 10, 11, 29, 30, 31, 500] {
                for _ in 0..20 {
                    let sample = set.as_ref().sample_distinct(count, &mut seeds);
                    assert_eq!(sample.len(), count.min(30));
                    let bytes: HashSet<Vec<u8>> = sample.iter().map(|e| e.to_vec()).collect();
                    assert_eq!(bytes.len(), sample.len());
                    assert!(bytes.is_subset(&all));
                    seen.extend(bytes);
                }
            }
            assert_eq!(seen, all, "every member gets picked");
            let mut picked = HashSet::new();
            for _ in 0..2000 {
                picked.insert(set.as_ref().random(seeds.draw()).unwrap().to_vec());
            }
            assert_eq!(picked, all);
        }
        assert_eq!(Set::new().as_ref().random(1), None);
        assert!(
            Set::new()
                .as_ref()
                .sample_distinct(3, &mut Seeds::new(1))
                .is_empty()
        );
        assert_eq!(Set::new().pop_random(1), None);
    }

    #[test]
    fn an_intset_scans_whole_and_a_table_scans_to_cursor_zero() {
        let limits = limits(512);
        let ints = Set::from_elements((0..100).map(Element::Int), &limits);
        let mut seen = Vec::new();
        assert_eq!(ints.as_ref().scan(12345, 1, |e| seen.push(e.to_vec())), 0);
        assert_eq!(seen.len(), 100);
        let mut table = Set::from_elements((0..1000).map(Element::Int), &limits);
        assert_eq!(table.as_ref().encoding(), "hashtable");
        let all = members_of(table.as_ref());
        for count in [1, 10, 2000] {
            let mut seen = HashSet::new();
            let mut cursor = 0;
            let mut calls = 0;
            loop {
                let mut got = 0;
                cursor = table.as_ref().scan(cursor, count, |e| {
                    got += 1;
                    seen.insert(e.to_vec());
                });
                calls += 1;
                assert!(got > 0 || cursor == 0 || count > 1, "a bucket at least");
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, all, "count {count}");
            if count == 2000 {
                assert_eq!(calls, 1);
            }
        }
        // A shrinking table still reaches 0, and every member present all
        // along is visited.
        let mut seen = HashSet::new();
        let mut cursor = table.as_ref().scan(0, 50, |e| {
            seen.insert(e.to_vec());
        });
        for n in 0..900 {
            table.remove(n.to_string().as_bytes());
        }
        while cursor != 0 {
            cursor = table.as_ref().scan(cursor, 5, |e| {
                seen.insert(e.to_vec());
            });
        }
        let kept: HashSet<Vec<u8>> = (900..1000)
            .map(|n: i32| n.to_string().into_bytes())
            .collect();
        assert!(kept.is_subset(&seen));
    }

    fn random_set(seeds: &mut Seeds, limits: &Encodings) -> (Set, HashSet<Vec<u8>>) {
        let mut set = Set::new();
        let mut model = HashSet::new();
        let strings = seeds.draw() % 3 == 0;
        for _ in 0..seeds.draw() % 30 {
            let r = seeds.draw();
            let m = if strings && r % 4 == 0 {
                format!("s{}", r % 20).into_bytes()
            } else {
                ((r >> 8) % 25).to_string().into_bytes()
            };
            set.insert(&m, limits);
            model.insert(m);
        }
        (set, model)
    }

    #[test]
    fn algebra_matches_hashset_algebra() {
        let limits = limits(10);
        let mut seeds = Seeds::new(42);
        for round in 0..500 {
            let n = 1 + (seeds.draw() % 4) as usize;
            let built: Vec<(Set, HashSet<Vec<u8>>)> =
                (0..n).map(|_| random_set(&mut seeds, &limits)).collect();
            // Some inputs missing (None), and the first repeated sometimes.
            let mut refs: Vec<Option<SetRef<'_>>> = built
                .iter()
                .map(|(s, _)| (!s.is_empty()).then(|| s.as_ref()))
                .collect();
            let mut models: Vec<HashSet<Vec<u8>>> = built.iter().map(|(_, m)| m.clone()).collect();
            if round % 7 == 0 {
                refs.push(refs[0]);
                models.push(models[0].clone());
            }
            let mut inter = Vec::new();
            intersect(&refs, |e| {
                inter.push(e.to_vec());
                true
            });
            let want_inter = models.iter().skip(1).fold(models[0].clone(), |acc, m| {
                acc.intersection(m).cloned().collect()
            });
            assert_eq!(inter.iter().cloned().collect::<HashSet<_>>(), want_inter);
            assert_eq!(inter.len(), want_inter.len());
            let mut limited = 0;
            intersect(&refs, |_| {
                limited += 1;
                limited < 2
            });
            assert_eq!(limited, want_inter.len().min(2));

            let u = union(&refs, &limits);
            let want_union: HashSet<Vec<u8>> = models.iter().flatten().cloned().collect();
            same(&u, &want_union, &limits);

            let d = difference(&refs, &limits);
            let want_diff: HashSet<Vec<u8>> =
                models.iter().skip(1).fold(models[0].clone(), |acc, m| {
                    acc.difference(m).cloned().collect()
                });
            same_members(&d, &want_diff);
        }
    }

    #[test]
    fn intersect_walks_the_smallest_set_in_its_order() {
        let limits = limits(512);
        let big = Set::from_elements((0..50).map(Element::Int), &limits);
        let small = Set::from_elements([30, 10, 20].map(Element::Int), &limits);
        let mut got = Vec::new();
        intersect(&[Some(big.as_ref()), Some(small.as_ref())], |e| {
            got.push(e);
            true
        });
        assert_eq!(got, [10, 20, 30].map(Element::Int));
        let mut none = 0;
        intersect(&[Some(big.as_ref()), None], |_| {
            none += 1;
            true
        });
        assert_eq!(none, 0);
        // A union or difference of integers only is an intset, ascending.
        let u = union(&[Some(small.as_ref()), None, Some(big.as_ref())], &limits);
        assert_eq!(u.as_ref().encoding(), "intset");
        let d = difference(&[Some(big.as_ref()), Some(small.as_ref())], &limits);
        assert_eq!(d.len(), 47);
        assert!(difference(&[None, Some(small.as_ref())], &limits).is_empty());
        assert!(difference(&[Some(small.as_ref()), Some(small.as_ref())], &limits).is_empty());
        assert!(small.as_ref().is_same(small.as_ref()));
        assert!(!small.as_ref().is_same(small.clone().as_ref()));
    }
}
