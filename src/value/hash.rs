//! Hashes: fields to values, packed while small (alternating field and
//! value elements of one [`Pack`]) and a [`Table`] of pairs when big, with
//! Redis's semantics for every hash command: reads on the borrowed form
//! ([`HashRef`], the same for a pack kept inline in its key's entry and
//! for a table), writes on the owned one ([`Hash`](enum@Hash)).
//!
//! A packed hash keeps its pairs in the order they were first set (a
//! replaced value keeps its place), as Redis's listpack does; a table's
//! order is its buckets'. The encoding switches to the table when a write
//! would leave more than `hash-max-listpack-entries` fields, or would
//! store a field or value longer than `hash-max-listpack-value` bytes, or
//! would grow the pack past 1 GiB ([`MAX_PACKED_BYTES`], Redis's listpack
//! safety limit, which also keeps every element below
//! [`MAX_ELEMENT`](super::pack::MAX_ELEMENT)); it never switches back, as
//! in Redis.
//!
//! This module owns that choice and the hash semantics (what a field
//! lookup, an increment or a random pick answers). It never takes a lock,
//! does I/O or knows the keyspace, never leaves a pack holding an element
//! beyond the limits it was given, and never does work proportional to
//! the hash's size in an operation on one field of a table (a packed hash
//! is small: a walk of its bytes is its lookup, as in Redis).

use super::intset::canonical_i64;
use super::long_double::LongDouble;
use super::pack::encoded_len;
use super::random::Seeds;
use super::table::{Pair, Table};
use super::{Encodings, Pack, PackView};
use std::collections::HashSet;

/// The big encoding: a table of field-value pairs.
pub type PairTable = Table<Pair>;

/// Most content bytes a packed hash grows to (Redis's 1 GiB listpack
/// safety limit): a write that would pass it converts the hash to a table,
/// whatever the configured limits.
pub const MAX_PACKED_BYTES: usize = 1 << 30;

/// Picks a packed hash answers in one walk of its bytes, for a random
/// reply with repeats (Redis's `HRANDFIELD_RANDOM_SAMPLE_LIMIT`).
const RANDOM_BATCH: usize = 1000;

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

/// Why an increment was refused; [`message`](IncrError::message) is
/// Redis's error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrError {
    /// `HINCRBY` of a value that is not a 64-bit integer.
    NotInteger,
    /// `HINCRBY` past the 64-bit range.
    Overflow,
    /// `HINCRBYFLOAT` of a value that is not a number.
    NotFloat,
    /// `HINCRBYFLOAT` to an infinity or NaN.
    NotFinite,
}

impl IncrError {
    /// Redis's error reply for it.
    pub fn message(self) -> &'static str {
        match self {
            IncrError::NotInteger => "ERR hash value is not an integer",
            IncrError::Overflow => "ERR increment or decrement would overflow",
            IncrError::NotFloat => "ERR hash value is not a float",
            IncrError::NotFinite => "ERR increment would produce NaN or Infinity",
        }
    }
}

/// Whether a pack of `bytes` content bytes may take `field` and `value`
/// (each of at most `hash-max-listpack-value` bytes, and the pack staying
/// within [`MAX_PACKED_BYTES`]).
fn packable(bytes: usize, field: usize, value: usize, limits: &Encodings) -> bool {
    let short =
        |len: usize| len <= MAX_PACKED_BYTES && len as u64 <= limits.hash_max_listpack_value;
    short(field)
        && short(value)
        && bytes.saturating_add(encoded_len(field) + encoded_len(value)) <= MAX_PACKED_BYTES
}

impl Default for Hash {
    fn default() -> Hash {
        Hash::new()
    }
}

impl Hash {
    /// An empty hash, packed.
    pub fn new() -> Hash {
        Hash::Packed(Pack::new())
    }

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

    /// Converts a packed hash to a table, in place.
    fn convert(&mut self) {
        if let Hash::Packed(_) = self {
            let packed = std::mem::take(self);
            *self = packed.into_big();
        }
    }

    /// Sets `field` to `value`: true if the field is new. Converts to the
    /// table first if the pack may not take them, and after if the hash
    /// then has more fields than `limits` allow packed (whether or not this
    /// field was new).
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
        if let Hash::Packed(p) = self {
            if !packable(p.byte_len(), field.len(), value.len(), limits) {
                self.convert();
            }
        }
        let (new, too_many) = match self {
            Hash::Table(t) => return t.insert(field, value),
            Hash::Packed(p) => {
                let new = match p.find_pair(field) {
                    Some(at) => {
                        p.replace(at + 1, value);
                        false
                    }
                    None => {
                        p.push_back(field);
                        p.push_back(value);
                        true
                    }
                };
                // Checked after a replaced value too, as Redis does: a
                // limit lowered since the hash was built applies at its
                // next write.
                (
                    new,
                    (p.count() / 2) as u64 > limits.hash_max_listpack_entries,
                )
            }
        };
        if too_many {
            self.convert();
        }
        new
    }

    /// Sets `field` to `value` if it has no value yet: true if it was set.
    pub fn set_if_absent(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
        !self.as_ref().contains(field) && self.set(field, value, limits)
    }

    /// Removes `field`: true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => match p.find_pair(field) {
                Some(at) => p.remove_range(at, 2) == 2,
                None => false,
            },
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Adds `by` to the integer at `field` (0 if absent) and stores the
    /// sum, which it returns (`HINCRBY`).
    pub fn incr_by(&mut self, field: &[u8], by: i64, limits: &Encodings) -> Result<i64, IncrError> {
        let sum = self.as_ref().int_after(field, by)?;
        self.set(field, sum.to_string().as_bytes(), limits);
        Ok(sum)
    }

    /// Adds `by` to the number at `field` (0 if absent) in `long double`
    /// arithmetic and stores the sum as Redis prints it, which it returns
    /// (`HINCRBYFLOAT`).
    pub fn incr_by_float(
        &mut self,
        field: &[u8],
        by: LongDouble,
        limits: &Encodings,
    ) -> Result<String, IncrError> {
        let sum = self.as_ref().float_after(field, by)?;
        self.set(field, sum.as_bytes(), limits);
        Ok(sum)
    }
}

impl<'a> HashRef<'a> {
    /// Every field and its value, in the encoding's order.
    pub fn iter(self) -> Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a> {
        match self {
            HashRef::Packed(p) => Box::new(pairs(p)),
            HashRef::Table(t) => Box::new(t.iter()),
        }
    }

    /// The value of `field`.
    pub fn get(self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Packed(p) => p.value_of(field),
            HashRef::Table(t) => t.get(field),
        }
    }

    /// A random field and its value (`None` only if empty); `seed` drives
    /// the choice.
    pub fn random(self, seed: u64) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            HashRef::Packed(p) => {
                let n = p.count() / 2;
                if n == 0 {
                    return None;
                }
                let at = 2 * Seeds::new(seed).below(n);
                let mut pair = p.range(at, at + 2);
                Some((pair.next()?, pair.next()?))
            }
            HashRef::Table(t) => t.random(seed),
        }
    }

    /// `count` random pairs, repeats allowed, each chosen independently
    /// (`HRANDFIELD` with a negative count), given to `visit` in the order
    /// drawn. A packed hash answers up to a thousand picks in one walk of
    /// its bytes; a table, each pick in expected O(1).
    pub fn random_pairs(self, count: usize, seed: u64, mut visit: impl FnMut(&'a [u8], &'a [u8])) {
        let mut rng = Seeds::new(seed);
        let n = self.len();
        if n == 0 {
            return;
        }
        match self {
            HashRef::Table(t) => {
                for _ in 0..count {
                    if let Some((f, v)) = t.random(rng.draw()) {
                        visit(f, v);
                    }
                }
            }
            HashRef::Packed(p) => {
                let mut left = count;
                while left > 0 {
                    let batch = left.min(RANDOM_BATCH);
                    left -= batch;
                    // (pair index, place in the reply), walked in pair order.
                    let mut picks: Vec<(usize, usize)> =
                        (0..batch).map(|order| (rng.below(n), order)).collect();
                    picks.sort_unstable();
                    let mut drawn: Vec<(&[u8], &[u8])> = vec![(&[], &[]); batch];
                    let mut walk = pairs(p).enumerate().peekable();
                    for &(index, order) in &picks {
                        while walk.peek().is_some_and(|&(i, _)| i < index) {
                            walk.next();
                        }
                        if let Some(&(_, pair)) = walk.peek() {
                            drawn[order] = pair;
                        }
                    }
                    for (f, v) in drawn {
                        visit(f, v);
                    }
                }
            }
        }
    }

    /// `count` random pairs, no two the same (`HRANDFIELD` with a positive
    /// count), given to `visit`: every pair when `count` reaches the size;
    /// otherwise as Redis chooses, by the size's ratio to `count` (so a
    /// small count of a big table costs O(count), not O(size)): with less
    /// than three times as many pairs, all are copied and random ones
    /// dropped until `count` are left; with more, a packed hash picks in
    /// one walk (selection sampling) and a table draws at random, skipping
    /// repeats.
    pub fn distinct_random_pairs(
        self,
        count: usize,
        seed: u64,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) {
        let mut rng = Seeds::new(seed);
        let n = self.len();
        if count >= n {
            self.iter().for_each(|(f, v)| visit(f, v));
            return;
        }
        if count.saturating_mul(3) > n {
            let mut all: Vec<(&[u8], &[u8])> = self.iter().collect();
            while all.len() > count {
                all.swap_remove(rng.below(all.len()));
            }
            all.into_iter().for_each(|(f, v)| visit(f, v));
            return;
        }
        match self {
            HashRef::Packed(p) => {
                let mut needed = count;
                for (i, (f, v)) in pairs(p).enumerate() {
                    if needed == 0 {
                        break;
                    }
                    if rng.below(n - i) < needed {
                        needed -= 1;
                        visit(f, v);
                    }
                }
            }
            HashRef::Table(t) => {
                let mut seen: HashSet<&[u8]> = HashSet::with_capacity(count);
                while seen.len() < count {
                    if let Some((f, v)) = t.random(rng.draw()) {
                        if seen.insert(f) {
                            visit(f, v);
                        }
                    }
                }
            }
        }
    }

    /// One step of a scan from `cursor` (0 to start), each pair visited
    /// given to `visit`; returns the next cursor, 0 when done. A packed
    /// hash is visited whole in one step whatever the cursor, as Redis
    /// does for a listpack; a table one bucket (and what it rehashes into)
    /// per step, with a table scan's guarantee that every pair present
    /// for the whole scan is visited.
    pub fn scan(self, cursor: u64, mut visit: impl FnMut(&'a [u8], &'a [u8])) -> u64 {
        match self {
            HashRef::Packed(p) => {
                pairs(p).for_each(|(f, v)| visit(f, v));
                0
            }
            HashRef::Table(t) => t.scan(cursor, |(f, v)| visit(f, v)),
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

    /// Whether `field` has a value.
    pub fn contains(self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Bytes of `field`'s value, 0 if absent (`HSTRLEN`).
    pub fn value_len(self, field: &[u8]) -> usize {
        self.get(field).map_or(0, <[u8]>::len)
    }

    /// What `HINCRBY field by` would store: the integer at `field` (0 if
    /// absent) plus `by`.
    pub fn int_after(self, field: &[u8], by: i64) -> Result<i64, IncrError> {
        let current = match self.get(field) {
            None => 0,
            Some(value) => canonical_i64(value).ok_or(IncrError::NotInteger)?,
        };
        current.checked_add(by).ok_or(IncrError::Overflow)
    }

    /// What `HINCRBYFLOAT field by` would store: the number at `field` (0
    /// if absent) plus `by`, as Redis prints it.
    pub fn float_after(self, field: &[u8], by: LongDouble) -> Result<String, IncrError> {
        let current = match self.get(field) {
            None => LongDouble::ZERO,
            Some(value) => LongDouble::parse(value).ok_or(IncrError::NotFloat)?,
        };
        let sum = current + by;
        if !sum.is_finite() {
            return Err(IncrError::NotFinite);
        }
        Ok(sum.to_human())
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

/// A packed hash's pairs, in order.
fn pairs(p: PackView<'_>) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut elements = p.iter();
    std::iter::from_fn(move || Some((elements.next()?, elements.next()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Small thresholds, so that the model crosses them often.
    const SMALL: Encodings = Encodings {
        hash_max_listpack_entries: 8,
        hash_max_listpack_value: 10,
        ..Encodings::DEFAULT
    };

    /// What a hash must hold: the pairs, their packed order (first set
    /// first), and whether it has gone big.
    #[derive(Default)]
    struct Model {
        map: HashMap<Vec<u8>, Vec<u8>>,
        order: Vec<Vec<u8>>,
        big: bool,
    }

    impl Model {
        fn set(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
            let long = |b: &[u8]| b.len() as u64 > limits.hash_max_listpack_value;
            self.big |= long(field) || long(value);
            let new = self.map.insert(field.to_vec(), value.to_vec()).is_none();
            if new {
                self.order.push(field.to_vec());
            }
            self.big |= self.map.len() as u64 > limits.hash_max_listpack_entries;
            new
        }

        fn remove(&mut self, field: &[u8]) -> bool {
            self.order.retain(|f| f != field);
            self.map.remove(field).is_some()
        }
    }

    fn check(hash: &Hash, model: &Model) {
        let h = hash.as_ref();
        assert_eq!(h.len(), model.map.len());
        assert_eq!(h.is_empty(), model.map.is_empty());
        assert_eq!(
            h.encoding(),
            if model.big { "hashtable" } else { "listpack" }
        );
        let seen: HashMap<Vec<u8>, Vec<u8>> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(seen, model.map);
        if !model.big {
            assert!(
                h.iter()
                    .map(|(f, _)| f)
                    .eq(model.order.iter().map(Vec::as_slice))
            );
        }
        for (f, v) in &model.map {
            assert_eq!(h.get(f), Some(&v[..]));
            assert_eq!(h.value_len(f), v.len());
            assert!(h.contains(f));
        }
        assert_eq!(h.get(b"never-set"), None);
        assert_eq!(h.value_len(b"never-set"), 0);
        assert_eq!(h.footprint() == 0, !model.big);
    }

    /// A byte string of 0 to 13 bytes over a small alphabet (so fields
    /// repeat, and some pass the 10-byte limit), sometimes a number.
    fn bytes(rng: &mut Seeds) -> Vec<u8> {
        match rng.below(4) {
            0 => (rng.below(40) as i64 - 20).to_string().into_bytes(),
            _ => (0..rng.below(14)).map(|_| b"abcd"[rng.below(4)]).collect(),
        }
    }

    #[test]
    fn random_edits_match_a_hashmap_across_the_conversion() {
        let mut conversions = 0;
        for round in 0..200u64 {
            let mut rng = Seeds::new(round);
            let mut hash = Hash::new();
            let mut model = Model::default();
            // Short keys only for the first rounds: the count limit then
            // converts, not the length limit.
            let short = round % 2 == 0;
            for _ in 0..120 {
                let mut field = bytes(&mut rng);
                let value = bytes(&mut rng);
                if short {
                    field.truncate(2);
                }
                match rng.below(6) {
                    0 | 1 => {
                        let value = if short {
                            &value[..value.len().min(3)]
                        } else {
                            &value
                        };
                        assert_eq!(
                            hash.set(&field, value, &SMALL),
                            model.set(&field, value, &SMALL)
                        );
                    }
                    2 => {
                        let absent = !model.map.contains_key(&field);
                        assert_eq!(hash.set_if_absent(&field, &value, &SMALL), absent);
                        if absent {
                            model.set(&field, &value, &SMALL);
                        }
                    }
                    3 => assert_eq!(hash.remove(&field), model.remove(&field)),
                    4 => {
                        let by = rng.below(200) as i64 - 100;
                        let want = match model.map.get(&field) {
                            None => Ok(by),
                            Some(v) => std::str::from_utf8(v)
                                .ok()
                                .and_then(|s| s.parse::<i64>().ok())
                                .filter(|n| n.to_string().as_bytes() == &v[..])
                                .ok_or(IncrError::NotInteger)
                                .map(|n| n + by),
                        };
                        assert_eq!(hash.incr_by(&field, by, &SMALL), want);
                        if let Ok(n) = want {
                            model.set(&field, n.to_string().as_bytes(), &SMALL);
                        }
                    }
                    _ => {
                        let by = LongDouble::from_i64(rng.below(10) as i64);
                        let got = hash.incr_by_float(&field, by, &SMALL);
                        let current = match model.map.get(&field) {
                            None => Some(LongDouble::ZERO),
                            Some(v) => LongDouble::parse(v),
                        };
                        match current {
                            Some(current) => {
                                let want = (current + by).to_human();
                                assert_eq!(got.as_deref(), Ok(want.as_str()));
                                model.set(&field, want.as_bytes(), &SMALL);
                            }
                            None => assert_eq!(got, Err(IncrError::NotFloat)),
                        }
                    }
                }
                check(&hash, &model);
            }
            conversions += usize::from(model.big);
        }
        assert!(conversions > 100, "{conversions} of 200 rounds converted");
    }

    #[test]
    fn each_threshold_is_the_most_a_pack_holds() {
        let limits = Encodings {
            hash_max_listpack_entries: 4,
            hash_max_listpack_value: 5,
            ..Encodings::DEFAULT
        };
        let mut hash = Hash::new();
        for f in ["a", "b", "c", "d"] {
            assert!(hash.set(f.as_bytes(), b"12345", &limits));
        }
        assert!(!hash.set(b"a", b"54321", &limits));
        assert_eq!(hash.as_ref().encoding(), "listpack");
        assert!(hash.set(b"e", b"1", &limits));
        assert_eq!(hash.as_ref().encoding(), "hashtable");
        // Never back, however small it gets.
        for f in ["a", "b", "c", "d"] {
            assert!(hash.remove(f.as_bytes()));
        }
        assert_eq!(hash.as_ref().encoding(), "hashtable");
        assert_eq!(hash.as_ref().get(b"e"), Some(&b"1"[..]));

        let mut long_value = Hash::new();
        long_value.set(b"f", b"123456", &limits);
        assert_eq!(long_value.as_ref().encoding(), "hashtable");
        let mut long_field = Hash::new();
        long_field.set(b"123456", b"v", &limits);
        assert_eq!(long_field.as_ref().encoding(), "hashtable");
        // A replaced value too long converts, and the old one is gone.
        let mut replaced = Hash::new();
        replaced.set(b"f", b"v", &limits);
        assert!(!replaced.set(b"f", b"123456", &limits));
        assert_eq!(replaced.as_ref().encoding(), "hashtable");
        assert_eq!(replaced.as_ref().get(b"f"), Some(&b"123456"[..]));
        // An increment whose result is too long converts.
        let mut counter = Hash::new();
        assert_eq!(counter.incr_by(b"n", 99_999, &limits), Ok(99_999));
        assert_eq!(counter.as_ref().encoding(), "listpack");
        assert_eq!(counter.incr_by(b"n", 1, &limits), Ok(100_000));
        assert_eq!(counter.as_ref().encoding(), "hashtable");
        // A limit lowered after the hash was built applies at its next
        // write, a replacement too.
        let lowered = Encodings {
            hash_max_listpack_entries: 2,
            ..limits
        };
        let mut three = Hash::new();
        for f in ["a", "b", "c"] {
            three.set(f.as_bytes(), b"1", &limits);
        }
        assert_eq!(three.as_ref().encoding(), "listpack");
        assert!(!three.set(b"a", b"2", &lowered));
        assert_eq!(three.as_ref().encoding(), "hashtable");
        // Zero entries allowed packed: every hash is a table.
        let none = Encodings {
            hash_max_listpack_entries: 0,
            ..limits
        };
        let mut table = Hash::new();
        table.set(b"a", b"b", &none);
        assert_eq!(table.as_ref().encoding(), "hashtable");
    }

    #[test]
    fn a_pack_never_grows_past_its_safety_limit() {
        let unlimited = Encodings {
            hash_max_listpack_entries: u64::MAX,
            hash_max_listpack_value: u64::MAX,
            ..Encodings::DEFAULT
        };
        assert!(packable(0, 10, 10, &unlimited));
        assert!(packable(MAX_PACKED_BYTES - 6, 1, 1, &unlimited));
        assert!(!packable(MAX_PACKED_BYTES - 5, 1, 1, &unlimited));
        assert!(!packable(0, MAX_PACKED_BYTES, 0, &unlimited));
        assert!(!packable(0, usize::MAX, usize::MAX, &unlimited));
        assert!(!packable(0, 65, 1, &Encodings::DEFAULT));
        assert!(packable(0, 64, 64, &Encodings::DEFAULT));
    }

    #[test]
    fn increments_give_redis_errors() {
        let mut hash = Hash::new();
        let l = Encodings::DEFAULT;
        for (value, ok) in [
            ("10", true),
            ("-10", true),
            ("0", true),
            ("abc", false),
            (" 1", false),
            ("1 ", false),
            ("01", false),
            ("-0", false),
            ("+1", false),
            ("1.5", false),
            ("", false),
            ("9223372036854775808", false),
        ] {
            hash.set(b"f", value.as_bytes(), &l);
            let got = hash.incr_by(b"f", 1, &l);
            assert_eq!(got.is_ok(), ok, "{value:?}: {got:?}");
            if !ok {
                assert_eq!(got, Err(IncrError::NotInteger));
                assert_eq!(hash.as_ref().get(b"f"), Some(value.as_bytes()), "unchanged");
            }
        }
        hash.set(b"n", i64::MAX.to_string().as_bytes(), &l);
        assert_eq!(hash.incr_by(b"n", 1, &l), Err(IncrError::Overflow));
        assert_eq!(hash.incr_by(b"n", -1, &l), Ok(i64::MAX - 1));
        hash.set(b"m", i64::MIN.to_string().as_bytes(), &l);
        assert_eq!(hash.incr_by(b"m", -1, &l), Err(IncrError::Overflow));
        assert_eq!(hash.incr_by(b"new", -5, &l), Ok(-5));
        assert_eq!(hash.as_ref().get(b"new"), Some(&b"-5"[..]));

        let by = |t: &str| LongDouble::parse(t.as_bytes()).unwrap();
        assert_eq!(
            hash.incr_by_float(b"x", by("0.1"), &l).as_deref(),
            Ok("0.1")
        );
        assert_eq!(
            hash.incr_by_float(b"x", by("0.2"), &l).as_deref(),
            Ok("0.3")
        );
        assert_eq!(hash.as_ref().get(b"x"), Some(&b"0.3"[..]));
        hash.set(b"s", b"1.5abc", &l);
        assert_eq!(
            hash.incr_by_float(b"s", by("1"), &l),
            Err(IncrError::NotFloat)
        );
        hash.set(b"s", b"inf", &l);
        assert_eq!(
            hash.incr_by_float(b"s", by("1"), &l),
            Err(IncrError::NotFinite)
        );
        hash.set(b"s", b"1e4932", &l);
        assert_eq!(
            hash.incr_by_float(b"s", by("1e4932"), &l),
            Err(IncrError::NotFinite)
        );
        assert_eq!(hash.as_ref().get(b"s"), Some(&b"1e4932"[..]));
        // A sum too long to pack converts (4933 digits).
        assert!(
            hash.incr_by_float(b"s", by("1"), &l)
                .is_ok_and(|s| s.len() == 4933)
        );
        assert_eq!(hash.as_ref().encoding(), "hashtable");
        assert_eq!(
            IncrError::NotFinite.message(),
            "ERR increment would produce NaN or Infinity"
        );
    }

    /// A hash of `n` fields `f0..`, packed or not, and its pairs.
    fn numbered(n: usize, packed: bool) -> (Hash, HashMap<Vec<u8>, Vec<u8>>) {
        let limits = Encodings {
            hash_max_listpack_entries: if packed { 1 << 20 } else { 0 },
            ..Encodings::DEFAULT
        };
        let mut hash = Hash::new();
        let mut model = HashMap::new();
        for i in 0..n {
            let (f, v) = (format!("f{i}").into_bytes(), format!("v{i}").into_bytes());
            hash.set(&f, &v, &limits);
            model.insert(f, v);
        }
        assert_eq!(hash.as_ref().encoding() == "listpack", packed || n == 0);
        (hash, model)
    }

    #[test]
    fn random_picks_are_pairs_of_the_hash_and_reach_every_one() {
        for packed in [true, false] {
            let (hash, model) = numbered(7, packed);
            let h = hash.as_ref();
            let mut seen = HashSet::new();
            for seed in 0..2000 {
                let (f, v) = h.random(seed).expect("not empty");
                assert_eq!(model.get(f).map(Vec::as_slice), Some(v));
                seen.insert(f.to_vec());
            }
            assert_eq!(seen.len(), 7);
            let mut drawn = Vec::new();
            h.random_pairs(2500, 9, |f, v| drawn.push((f.to_vec(), v.to_vec())));
            assert_eq!(drawn.len(), 2500);
            assert!(drawn.iter().all(|(f, v)| model.get(f) == Some(v)));
            let kinds: HashSet<&Vec<u8>> = drawn.iter().map(|(f, _)| f).collect();
            assert_eq!(kinds.len(), 7);
            // Not sorted: the order drawn is kept across the batch's walk.
            let firsts: Vec<&Vec<u8>> = drawn.iter().take(50).map(|(f, _)| f).collect();
            assert!(firsts.windows(2).any(|w| w[0] > w[1]));
        }
        let empty = Hash::new();
        assert_eq!(empty.as_ref().random(1), None);
        let mut none = 0;
        empty.as_ref().random_pairs(10, 1, |_, _| none += 1);
        empty
            .as_ref()
            .distinct_random_pairs(10, 1, |_, _| none += 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn distinct_picks_are_distinct_in_every_case_of_count_against_size() {
        for packed in [true, false] {
            let (hash, model) = numbered(30, packed);
            let h = hash.as_ref();
            // Whole, copy-and-drop (3 × count > size), and sampling.
            for count in [0, 1, 5, 9, 10, 11, 20, 29, 30, 31, 1000] {
                for seed in 0..20 {
                    let mut drawn = Vec::new();
                    h.distinct_random_pairs(count, seed, |f, v| {
                        assert_eq!(model.get(f).map(Vec::as_slice), Some(v));
                        drawn.push(f.to_vec());
                    });
                    assert_eq!(drawn.len(), count.min(30), "count {count}");
                    let distinct: HashSet<&Vec<u8>> = drawn.iter().collect();
                    assert_eq!(distinct.len(), drawn.len());
                }
            }
            // Every pair can be chosen.
            let mut seen = HashSet::new();
            for seed in 0..500 {
                h.distinct_random_pairs(3, seed, |f, _| {
                    seen.insert(f.to_vec());
                });
            }
            assert_eq!(seen.len(), 30);
        }
    }

    #[test]
    fn a_scan_returns_every_pair() {
        for packed in [true, false] {
            let (hash, model) = numbered(300, packed);
            let mut seen = HashMap::new();
            let mut cursor = 0;
            let mut steps = 0;
            loop {
                cursor = hash.as_ref().scan(cursor, |f, v| {
                    seen.insert(f.to_vec(), v.to_vec());
                });
                steps += 1;
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, model);
            assert_eq!(steps == 1, packed);
        }
        // A packed hash is whole in one step whatever the cursor.
        let (hash, _) = numbered(3, true);
        let mut n = 0;
        assert_eq!(hash.as_ref().scan(12345, |_, _| n += 1), 0);
        assert_eq!(n, 3);
    }

    #[test]
    fn copies_and_conversions_keep_every_pair() {
        let (hash, model) = numbered(50, true);
        let copy = hash.as_ref().to_hash();
        let big = copy.clone().into_big();
        for h in [&hash, &copy, &big] {
            let seen: HashMap<Vec<u8>, Vec<u8>> = h
                .as_ref()
                .iter()
                .map(|(f, v)| (f.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(seen, model);
        }
        assert_eq!(big.as_ref().encoding(), "hashtable");
        assert!(big.as_ref().footprint() > 50 * 8);
        let mut emptied = big;
        for f in model.keys() {
            assert!(emptied.remove(f));
            assert!(!emptied.remove(f));
        }
        assert!(emptied.as_ref().is_empty());
    }
}
