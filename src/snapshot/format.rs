//! The snapshot file format, version 3 (and reading versions 1 and 2):
//! encoding and strict decoding.
//!
//! The byte layout is documented in the [parent module](super). The encoder
//! streams entries through a fixed-size buffer into any writer, checksumming
//! each chunk as it goes, so a snapshot of any size costs one buffer of
//! memory; a collection is written element by element from its borrowed
//! form, never copied whole. The decoder works on the whole file in memory
//! and trusts nothing: every length and every element count is checked
//! against the bytes that remain before anything is visited, and any flaw is
//! a [`Corruption`] with its byte offset. Neither side touches files or
//! locks.

use super::crc32::Crc32;
use crate::value::{Kind, SetRef, ValueRef};
use std::fmt;
use std::io::{self, Write};

/// The first eight bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"GOCACHE\0";
/// The format version this build writes: typed entries (strings and
/// collections).
pub const VERSION: u32 = 3;
/// The second format version, which this build still reads: database
/// sections of string entries.
pub const VERSION_2: u32 = 2;
/// The first format version, which this build still reads: one database,
/// no sections, loaded as database 0.
pub const VERSION_1: u32 = 1;
/// Magic, version, creation time, entry count.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 8;
/// The CRC-32 at the end.
pub const TRAILER_LEN: usize = 4;
/// Deadline tag: the key has no deadline.
pub const NO_DEADLINE: u8 = 0;
/// Deadline tag: eight bytes of Unix-millisecond deadline follow.
pub const HAS_DEADLINE: u8 = 1;
/// Type byte (version 3): a string, its length and bytes follow.
pub const TYPE_STRING: u8 = 0;
/// Type byte: a hash, its field count and field-value pairs follow.
pub const TYPE_HASH: u8 = 1;
/// Type byte: a list, its element count and elements (head first) follow.
pub const TYPE_LIST: u8 = 2;
/// Type byte: a set, its member count and members follow.
pub const TYPE_SET: u8 = 3;
/// Type byte: a sorted set, its member count and member-score pairs
/// (the score as 8 bytes of `f64` bits, little-endian) follow, ascending.
pub const TYPE_SORTED_SET: u8 = 4;

/// How much the encoder buffers before handing bytes to its writer.
const CHUNK: usize = 1 << 20;

/// The type byte of a value of `kind`.
pub fn type_byte(kind: Kind) -> u8 {
    match kind {
        Kind::String => TYPE_STRING,
        Kind::Hash => TYPE_HASH,
        Kind::List => TYPE_LIST,
        Kind::Set => TYPE_SET,
        Kind::ZSet => TYPE_SORTED_SET,
    }
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Writes one snapshot: the header at creation, then per database
/// [`Encoder::database`] and its entries ([`Encoder::entry`] for a string,
/// [`Encoder::collection`] for a collection, or the three steps of
/// [`Encoder::begin_collection`]), then [`Encoder::finish`].
///
/// It refuses (with [`io::ErrorKind::InvalidInput`]) anything that would
/// make a file the decoder refuses by its structure: entries outside a
/// section, sections out of order or cut short, more or fewer entries than
/// declared, an empty collection, or a collection with more or fewer
/// elements than it declared.
pub struct Encoder<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: Crc32,
    written: u64,
    declared: u64,
    entries: u64,
    /// Entries the current database section still expects.
    section_left: u64,
    /// The last database a section was started for.
    last_db: Option<u64>,
    /// Strings the collection being written still expects (a hash's
    /// fields and values both count), or `None` outside one.
    open: Option<u64>,
}

impl<W: Write> Encoder<W> {
    /// Starts a snapshot of exactly `entries` entries, created at `created_unix_ms`.
    pub fn new(out: W, created_unix_ms: u64, entries: u64) -> Self {
        let mut buf = Vec::with_capacity(CHUNK);
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&created_unix_ms.to_le_bytes());
        buf.extend_from_slice(&entries.to_le_bytes());
        Encoder {
            out,
            buf,
            crc: Crc32::new(),
            written: 0,
            declared: entries,
            entries: 0,
            section_left: 0,
            last_db: None,
            open: None,
        }
    }

    /// Starts the section of database `index`, which holds the next `count`
    /// entries (at least one). Sections come in increasing database order.
    pub fn database(&mut self, index: u64, count: u64) -> io::Result<()> {
        if self.open.is_some()
            || self.section_left != 0
            || count == 0
            || self.last_db.is_some_and(|last| index <= last)
        {
            return Err(invalid(
                "snapshot database sections out of order, empty, or cut short",
            ));
        }
        self.last_db = Some(index);
        self.section_left = count;
        self.varint(index)?;
        self.varint(count)
    }

    /// Counts one more entry of the current section and writes its type
    /// byte and key.
    fn start_entry(&mut self, type_byte: u8, key: &[u8]) -> io::Result<()> {
        if self.open.is_some() {
            return Err(invalid("a snapshot entry inside an unfinished collection"));
        }
        self.entries += 1;
        if self.section_left == 0 {
            return Err(invalid("a snapshot entry outside any database section"));
        }
        self.section_left -= 1;
        if self.entries > self.declared {
            return Err(invalid("more snapshot entries than the header declares"));
        }
        self.room(1)?;
        self.buf.push(type_byte);
        self.varint(key.len() as u64)?;
        self.bytes(key)
    }

    /// Appends one string entry; `expires_at` is a Unix-ms deadline, 0 for none.
    pub fn entry(&mut self, key: &[u8], value: &[u8], expires_at: u64) -> io::Result<()> {
        self.start_entry(TYPE_STRING, key)?;
        self.string(value)?;
        self.deadline(expires_at)
    }

    /// Appends one collection entry, its elements read from `value` as it
    /// is (a hash's pairs and a set's members in the encoding's order, a
    /// list's elements head first, an intset's integers as decimal text, a
    /// sorted set's members ascending, each followed by its score's 8
    /// bytes).
    /// Fails, leaving the file unfinishable, if `value` is empty or yields
    /// a number of elements other than its length.
    pub fn collection(
        &mut self,
        key: &[u8],
        value: ValueRef<'_>,
        expires_at: u64,
    ) -> io::Result<()> {
        self.begin_collection(key, value.kind(), value.len() as u64)?;
        match value {
            ValueRef::Hash(hash) => {
                for (field, value) in hash.iter() {
                    self.element(field)?;
                    self.element(value)?;
                }
            }
            ValueRef::List(list) => {
                for element in list.iter() {
                    self.element(element)?;
                }
            }
            ValueRef::Set(SetRef::Ints(ints)) => {
                let mut text = [0u8; 20];
                for n in ints.iter() {
                    self.element(int_text(n, &mut text))?;
                }
            }
            ValueRef::Set(SetRef::Table(table)) => {
                for member in table.iter() {
                    self.element(member)?;
                }
            }
            ValueRef::ZSet(zset) => {
                for (member, score) in zset.iter() {
                    self.element(member)?;
                    self.element(&score.to_bits().to_le_bytes())?;
                }
            }
        }
        self.end_collection(expires_at)
    }

    /// Starts a collection entry of `kind` holding `len` elements (fields,
    /// for a hash; at least one): [`Encoder::element`] must follow once for
    /// each (twice for each field of a hash: the field, then its value),
    /// then [`Encoder::end_collection`]. The encoder does not look at the
    /// elements: a repeated set member or hash field is written as given
    /// (and refused by the loader).
    pub fn begin_collection(&mut self, key: &[u8], kind: Kind, len: u64) -> io::Result<()> {
        let strings = match kind {
            Kind::String => return Err(invalid("a string is not a collection")),
            Kind::Hash | Kind::ZSet => len.checked_mul(2),
            Kind::List | Kind::Set => Some(len),
        };
        let Some(strings) = strings.filter(|&n| n != 0) else {
            return Err(invalid("an empty or oversized collection in a snapshot"));
        };
        self.start_entry(type_byte(kind), key)?;
        self.varint(len)?;
        self.open = Some(strings);
        Ok(())
    }

    /// Appends the next element of the collection begun last.
    pub fn element(&mut self, element: &[u8]) -> io::Result<()> {
        match &mut self.open {
            Some(left) if *left > 0 => *left -= 1,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a collection yielded more elements than its length",
                ));
            }
        }
        self.string(element)
    }

    /// Ends the collection begun last, every element written;
    /// `expires_at` is its Unix-ms deadline, 0 for none.
    pub fn end_collection(&mut self, expires_at: u64) -> io::Result<()> {
        match self.open.take() {
            Some(0) => self.deadline(expires_at),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a collection yielded fewer elements than its length",
            )),
            None => Err(invalid("no collection begun")),
        }
    }

    /// Writes the checksum and returns the writer and the file's length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.entries != self.declared || self.open.is_some() {
            return Err(invalid("fewer snapshot entries than the header declares"));
        }
        self.flush_chunk()?;
        self.out.write_all(&self.crc.value().to_le_bytes())?;
        Ok((self.out, self.written + TRAILER_LEN as u64))
    }

    /// A length-prefixed string.
    fn string(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.varint(bytes.len() as u64)?;
        self.bytes(bytes)
    }

    fn deadline(&mut self, expires_at: u64) -> io::Result<()> {
        if expires_at == 0 {
            self.room(1)?;
            self.buf.push(NO_DEADLINE);
        } else {
            self.room(9)?;
            self.buf.push(HAS_DEADLINE);
            self.buf.extend_from_slice(&expires_at.to_le_bytes());
        }
        Ok(())
    }

    fn varint(&mut self, v: u64) -> io::Result<()> {
        self.room(10)?;
        push_varint(&mut self.buf, v);
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() >= CHUNK {
            // Large values skip the buffer rather than growing it.
            self.flush_chunk()?;
            self.crc.update(bytes);
            self.out.write_all(bytes)?;
            self.written += bytes.len() as u64;
            return Ok(());
        }
        self.room(bytes.len())?;
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Makes room for `n` more bytes in the buffer.
    fn room(&mut self, n: usize) -> io::Result<()> {
        if self.buf.len() + n > CHUNK {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        self.crc.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// `n` in decimal, as `i64::to_string` writes it, in `buf`.
fn int_text(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// What the header of a valid snapshot says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Unix ms when the snapshot was taken.
    pub created_unix_ms: u64,
    /// Number of entries.
    pub entries: u64,
}

/// One entry as the decoder hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// The database it belongs to.
    pub db: u64,
    /// At the first entry of a database's section, the section's entry
    /// count (a loader sizes that database's tables from it).
    pub section_len: Option<u64>,
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: Payload<'a>,
    /// Absolute deadline in Unix ms, 0 for none.
    pub expires_at: u64,
}

/// An entry's value as the file holds it: a string's bytes, or a
/// collection's elements, already checked to be all there.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A string (every entry of a version 1 or 2 file).
    String(&'a [u8]),
    /// A hash: its fields and values, alternating.
    Hash(Elements<'a>),
    /// A list, head first.
    List(Elements<'a>),
    /// A set.
    Set(Elements<'a>),
    /// A sorted set: its members and scores, alternating.
    ZSet(Elements<'a>),
}

impl<'a> Payload<'a> {
    /// The string, if it is one.
    pub fn string(self) -> Option<&'a [u8]> {
        match self {
            Payload::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A collection's run of length-prefixed strings, each known to lie within
/// the file: iterating cannot fail.
#[derive(Clone, Copy)]
pub struct Elements<'a> {
    /// The run.
    bytes: &'a [u8],
    /// Offset in the file of the run's first byte.
    offset: usize,
    /// Strings in the run (a hash's fields and values both count).
    strings: usize,
}

impl fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Elements")
            .field("offset", &self.offset)
            .field("strings", &self.strings)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// One string of a collection, and where in the file it starts (its
/// length prefix).
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    /// Offset of its length prefix in the file.
    pub offset: usize,
    /// Its bytes.
    pub bytes: &'a [u8],
}

impl<'a> Elements<'a> {
    /// Strings in the run: a list's elements, a set's members, twice a
    /// hash's fields or a sorted set's members.
    pub fn strings(&self) -> usize {
        self.strings
    }

    /// Bytes the run takes in the file (length prefixes included).
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The strings, in file order.
    pub fn iter(&self) -> ElementIter<'a> {
        ElementIter {
            bytes: self.bytes,
            pos: 0,
            offset: self.offset,
        }
    }

    /// The strings two by two: a hash's fields, each with its value, or a
    /// sorted set's members, each with its score.
    pub fn pairs(&self) -> impl Iterator<Item = (Element<'a>, Element<'a>)> + 'a {
        let mut strings = self.iter();
        std::iter::from_fn(move || Some((strings.next()?, strings.next()?)))
    }
}

/// The strings of an [`Elements`].
#[derive(Debug, Clone)]
pub struct ElementIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    offset: usize,
}

impl<'a> Iterator for ElementIter<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let at = self.pos;
        // The decoder checked every string of the run; a flaw here cannot
        // happen, and would end the run rather than panic.
        let bytes = field(self.bytes, &mut self.pos).ok()?;
        Some(Element {
            offset: self.offset + at,
            bytes,
        })
    }
}

/// Why a visitor refuses an entry (a repeated key, say), and where, if it
/// is one place inside the entry (a repeated set member); without an
/// offset the flaw is reported at the entry's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Byte offset of the flaw in the file, if known.
    pub offset: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl Refusal {
    /// A refusal at byte `offset` of the file.
    pub fn at(offset: usize, reason: impl Into<String>) -> Refusal {
        Refusal {
            offset: Some(offset),
            reason: reason.into(),
        }
    }
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal {
            offset: None,
            reason,
        }
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Refusal {
        reason.to_string().into()
    }
}

/// Why bytes are not a valid snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Byte offset of the flaw, where one place is at fault.
    pub offset: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl Corruption {
    fn at(offset: usize, reason: impl Into<String>) -> Self {
        Corruption {
            offset: Some(offset),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} (at byte offset {offset})", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Validates `bytes` as a whole snapshot and calls `visit` for each entry in
/// file order.
///
/// The magic, the version and the checksum are checked before any entry is
/// visited, and each entry's structure (every length, a collection's every
/// element) before it is; a [`Refusal`] returned by `visit` becomes a
/// [`Corruption`] at its offset, or at that entry's.
pub fn decode(
    bytes: &[u8],
    visit: impl FnMut(Visit<'_>) -> Result<(), Refusal>,
) -> Result<Header, Corruption> {
    let min = HEADER_LEN + TRAILER_LEN;
    if bytes.len() < min {
        return Err(Corruption {
            offset: None,
            reason: format!(
                "truncated: the file is {} bytes, shorter than the smallest snapshot ({min} bytes)",
                bytes.len()
            ),
        });
    }
    if bytes[..8] != MAGIC {
        return Err(Corruption::at(
            0,
            format!(
                "bad magic: expected \"{}\", found \"{}\" (not a gocache snapshot)",
                MAGIC.escape_ascii(),
                bytes[..8].escape_ascii()
            ),
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if !(VERSION_1..=VERSION).contains(&version) {
        return Err(Corruption::at(
            8,
            format!(
                "unknown format version {version} (this build reads versions {VERSION_1} to {VERSION})"
            ),
        ));
    }
    let body_len = bytes.len() - TRAILER_LEN;
    let (body, trailer) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
    let computed = Crc32::of(body);
    if stored != computed {
        // Say where the damage is if the structure shows it (a truncated
        // file usually does); otherwise the checksum is all we know.
        let mismatch = format!(
            "checksum mismatch: the file says {stored:#010x}, its first {body_len} bytes give {computed:#010x}"
        );
        return Err(match entries(body, version, |_| Ok(())) {
            Err(mut flaw) => {
                flaw.reason = format!("{}; {mismatch}", flaw.reason);
                flaw
            }
            Ok(_) => Corruption::at(body_len, mismatch),
        });
    }
    entries(body, version, visit)
}

/// Walks the entries of `body` (the file without its checksum), a file of
/// `version`: from version 2, entries come in database sections, each
/// opened by its database number and entry count; from version 3 each
/// entry starts with its type byte.
fn entries(
    body: &[u8],
    version: u32,
    mut visit: impl FnMut(Visit<'_>) -> Result<(), Refusal>,
) -> Result<Header, Corruption> {
    let (sections, typed) = (version >= VERSION_2, version >= VERSION);
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let header = Header {
        created_unix_ms: u64_at(12),
        entries: u64_at(20),
    };
    let mut pos = HEADER_LEN;
    let (mut db, mut section_left, mut last_db) = (0u64, 0u64, None::<u64>);
    for index in 0..header.entries {
        let mut section_len = None;
        if sections && section_left == 0 {
            let at = pos;
            let bad = |what: String| {
                Corruption::at(at, format!("database section before entry {index}: {what}"))
            };
            db = varint(body, &mut pos).map_err(|w| bad(format!("database number {w}")))?;
            let count = varint(body, &mut pos).map_err(|w| bad(format!("entry count {w}")))?;
            if last_db.is_some_and(|last| db <= last) {
                return Err(bad(format!("database {db} out of order")));
            }
            if count == 0 || count > header.entries - index {
                return Err(bad(format!(
                    "{count} entries, but {} remain of {}",
                    header.entries - index,
                    header.entries
                )));
            }
            last_db = Some(db);
            section_left = count;
            section_len = Some(count);
        }
        section_left = section_left.saturating_sub(1);
        let start = pos;
        let flaw = |at: usize, what: String| {
            Corruption::at(
                at,
                format!("entry {index} (starting at offset {start}): {what}"),
            )
        };
        let type_byte = if typed {
            let Some(&t) = body.get(pos) else {
                return Err(flaw(pos, "type runs past the end of the entries".into()));
            };
            pos += 1;
            t
        } else {
            TYPE_STRING
        };
        let key = field(body, &mut pos).map_err(|f| flaw(f.at, f.describe("key")))?;
        let value = match type_byte {
            TYPE_STRING => {
                Payload::String(field(body, &mut pos).map_err(|f| flaw(f.at, f.describe("value")))?)
            }
            TYPE_HASH => {
                Payload::Hash(elements(body, &mut pos, Kind::Hash).map_err(|(at, w)| flaw(at, w))?)
            }
            TYPE_LIST => {
                Payload::List(elements(body, &mut pos, Kind::List).map_err(|(at, w)| flaw(at, w))?)
            }
            TYPE_SET => {
                Payload::Set(elements(body, &mut pos, Kind::Set).map_err(|(at, w)| flaw(at, w))?)
            }
            TYPE_SORTED_SET => {
                Payload::ZSet(elements(body, &mut pos, Kind::ZSet).map_err(|(at, w)| flaw(at, w))?)
            }
            t => return Err(flaw(start, format!("unknown type {t}"))),
        };
        let expires_at = match body.get(pos) {
            None => {
                return Err(flaw(
                    pos,
                    "deadline tag runs past the end of the entries".into(),
                ));
            }
            Some(&NO_DEADLINE) => {
                pos += 1;
                0
            }
            Some(&HAS_DEADLINE) => {
                if body.len() - pos < 9 {
                    return Err(flaw(
                        pos,
                        "deadline runs past the end of the entries".into(),
                    ));
                }
                let deadline = u64_at(pos + 1);
                if deadline == 0 {
                    return Err(flaw(pos, "deadline tag set but the deadline is 0".into()));
                }
                pos += 9;
                deadline
            }
            Some(&tag) => return Err(flaw(pos, format!("unknown deadline tag {tag}"))),
        };
        visit(Visit {
            db,
            section_len,
            key,
            value,
            expires_at,
        })
        .map_err(|refusal| flaw(refusal.offset.unwrap_or(start), refusal.reason))?;
    }
    if pos != body.len() {
        return Err(Corruption::at(
            pos,
            format!(
                "{} unexpected bytes after the last of {} entries",
                body.len() - pos,
                header.entries
            ),
        ));
    }
    Ok(header)
}

/// Reads a collection of `kind` at `*pos`: its element count (at least 1,
/// and no more than the bytes left could hold, each string taking at least
/// its one length byte), then every element, each checked to lie within
/// the body. On error, the offset and what is wrong.
fn elements<'a>(
    body: &'a [u8],
    pos: &mut usize,
    kind: Kind,
) -> Result<Elements<'a>, (usize, String)> {
    let (name, per, unit) = match kind {
        Kind::Hash => ("hash", 2, "field"),
        Kind::ZSet => ("sorted set", 2, "member"),
        Kind::List => ("list", 1, "element"),
        _ => ("set", 1, "member"),
    };
    let at = *pos;
    let count = varint(body, pos).map_err(|w| (at, format!("{name} {unit} count {w}")))?;
    if count == 0 {
        return Err((
            at,
            format!("an empty {name} (a collection holds at least one {unit})"),
        ));
    }
    let left = body.len() - *pos;
    // Checked before anything is sized from it: each string takes a byte.
    if count > (left / per) as u64 {
        return Err((
            at,
            format!("a {name} of {count} {unit}s, more than the {left} bytes left could hold"),
        ));
    }
    let strings = count as usize * per;
    let start = *pos;
    for i in 0..strings {
        let what = match (kind, i % 2) {
            (Kind::Hash, 0) => format!("hash field {} (of {count})", i / 2),
            (Kind::Hash, _) => format!("value of hash field {} (of {count})", i / 2),
            (Kind::ZSet, 0) => format!("sorted set member {} (of {count})", i / 2),
            (Kind::ZSet, _) => format!("score of sorted set member {} (of {count})", i / 2),
            _ => format!("{name} {unit} {i} (of {count})"),
        };
        field(body, pos).map_err(|f| (f.at, f.describe(&what)))?;
    }
    Ok(Elements {
        bytes: &body[start..*pos],
        offset: start,
        strings,
    })
}

/// A length-prefixed string that does not fit: where, and why.
struct FieldFlaw {
    /// Offset of its length prefix.
    at: usize,
    /// The prefix's own flaw, or else the length and the bytes left.
    what: Result<(u64, usize), &'static str>,
}

impl FieldFlaw {
    /// The flaw of the string called `name`.
    fn describe(&self, name: &str) -> String {
        match self.what {
            Err(w) => format!("{name} length {w}"),
            Ok((len, left)) => format!(
                "{name} of {len} bytes runs past the end of the entries ({left} bytes left)"
            ),
        }
    }
}

/// Reads a length-prefixed byte string at `*pos`.
fn field<'a>(body: &'a [u8], pos: &mut usize) -> Result<&'a [u8], FieldFlaw> {
    let at = *pos;
    let len = varint(body, pos).map_err(|w| FieldFlaw { at, what: Err(w) })?;
    let left = body.len() - *pos;
    if len > left as u64 {
        return Err(FieldFlaw {
            at,
            what: Ok((len, left)),
        });
    }
    let bytes = &body[*pos..*pos + len as usize];
    *pos += len as usize;
    Ok(bytes)
}

/// Appends `v` as an unsigned LEB128 number (1-10 bytes).
#[inline]
pub(crate) fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 number of at most 64 bits.
pub(crate) fn varint(body: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let Some(&byte) = body.get(*pos) else {
            return Err("runs past the end of the entries");
        };
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err("is longer than 64 bits");
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Entry = (Vec<u8>, Vec<u8>, u64);

    fn encode(entries: &[Entry], created: u64) -> Vec<u8> {
        let mut enc = Encoder::new(Vec::new(), created, entries.len() as u64);
        if !entries.is_empty() {
            enc.database(0, entries.len() as u64).unwrap();
        }
        for (k, v, d) in entries {
            enc.entry(k, v, *d).unwrap();
        }
        let (out, len) = enc.finish().unwrap();
        assert_eq!(out.len() as u64, len);
        out
    }

    fn decode_all(bytes: &[u8]) -> Result<(Header, Vec<Entry>), Corruption> {
        let mut got = Vec::new();
        let header = decode(bytes, |e| {
            got.push((
                e.key.to_vec(),
                e.value.string().unwrap().to_vec(),
                e.expires_at,
            ));
            Ok(())
        })?;
        Ok((header, got))
    }

    /// Rewrites the trailing checksum so a deliberately damaged body passes it.
    fn reseal(bytes: &mut [u8]) {
        let n = bytes.len() - TRAILER_LEN;
        let crc = Crc32::of(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }

    fn sample() -> Vec<Entry> {
        vec![
            (b"plain".to_vec(), b"value".to_vec(), 0),
            (
                b"bin\r\n\0key".to_vec(),
                b"\0\r\n\xff".to_vec(),
                1_900_000_000_000,
            ),
            (Vec::new(), Vec::new(), 0),
            (vec![b'k'; 200], vec![7u8; 300], u64::MAX),
        ]
    }

    #[test]
    fn databases_round_trip_in_their_sections() {
        let mut enc = Encoder::new(Vec::new(), 5, 3);
        enc.database(0, 1).unwrap();
        enc.entry(b"a", b"1", 0).unwrap();
        enc.database(7, 2).unwrap();
        enc.entry(b"b", b"2", 0).unwrap();
        enc.entry(b"c", b"3", 9).unwrap();
        let (bytes, _) = enc.finish().unwrap();
        let mut got = Vec::new();
        decode(&bytes, |e| {
            got.push((e.db, e.section_len, e.key.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            [
                (0, Some(1), b"a".to_vec()),
                (7, Some(2), b"b".to_vec()),
                (7, None, b"c".to_vec())
            ]
        );
    }

    #[test]
    fn the_encoder_refuses_sections_out_of_order_or_cut_short() {
        let mut enc = Encoder::new(Vec::new(), 0, 3);
        assert!(enc.entry(b"a", b"1", 0).is_err(), "no section yet");
        let mut enc = Encoder::new(Vec::new(), 0, 3);
        enc.database(3, 1).unwrap();
        enc.entry(b"a", b"1", 0).unwrap();
        assert!(enc.database(3, 1).is_err(), "repeated");
        assert!(enc.database(2, 1).is_err(), "decreasing");
        assert!(enc.database(4, 0).is_err(), "empty");
        enc.database(4, 2).unwrap();
        enc.entry(b"b", b"1", 0).unwrap();
        assert!(enc.database(5, 1).is_err(), "the previous one is cut short");
    }

    #[test]
    fn sections_out_of_order_or_overrunning_are_refused() {
        // Hand-built bodies: database 1 then 0, and a section of 5 of 1.
        for (sections, why) in [
            (
                &[1u8, 1, 1, b'a', 1, b'1', 0, 0, 1, 1, b'b', 1, b'2', 0][..],
                "out of order",
            ),
            (&[0u8, 5, 1, b'a', 1, b'1', 0][..], "remain"),
        ] {
            let count = if why == "remain" { 1u64 } else { 2 };
            // Version 2: sections of untyped string entries.
            let mut bytes = b"GOCACHE\0".to_vec();
            bytes.extend_from_slice(&VERSION_2.to_le_bytes());
            bytes.extend_from_slice(&0u64.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            bytes.extend_from_slice(sections);
            bytes.extend_from_slice(&[0; 4]);
            reseal(&mut bytes);
            let err = decode_all(&bytes).unwrap_err();
            assert!(err.reason.contains(why), "{err}");
        }
    }

    #[test]
    fn a_version_1_file_loads_as_database_0() {
        let mut bytes = b"GOCACHE\0".to_vec();
        bytes.extend_from_slice(&VERSION_1.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&[1, b'k', 1, b'v', 0]);
        bytes.extend_from_slice(&[0; 4]);
        reseal(&mut bytes);
        let mut got = Vec::new();
        decode(&bytes, |e| {
            got.push((e.db, e.key.to_vec(), e.value.string().unwrap().to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [(0, b"k".to_vec(), b"v".to_vec())]);
    }

    #[test]
    fn entries_round_trip_with_binary_bytes_and_deadlines() {
        let bytes = encode(&sample(), 1234);
        let (header, got) = decode_all(&bytes).unwrap();
        assert_eq!(
            header,
            Header {
                created_unix_ms: 1234,
                entries: 4
            }
        );
        assert_eq!(got, sample());
    }

    #[test]
    fn values_larger_than_the_buffer_round_trip() {
        let big = vec![(b"big".to_vec(), vec![0xABu8; CHUNK * 2 + 17], 5)];
        let (_, got) = decode_all(&encode(&big, 0)).unwrap();
        assert_eq!(got, big);
    }

    #[test]
    fn the_layout_is_the_documented_one_byte_for_byte() {
        let bytes = encode(&[(b"k".to_vec(), b"vv".to_vec(), 0x0102)], 0x0A0B);
        let mut expected = b"GOCACHE\0".to_vec();
        expected.extend_from_slice(&[3, 0, 0, 0]);
        expected.extend_from_slice(&[0x0B, 0x0A, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        // Database 0's section: one entry.
        expected.extend_from_slice(&[0, 1]);
        // Type 0 (string), the key, the value, the deadline.
        expected.extend_from_slice(&[0, 1, b'k', 2, b'v', b'v', 1, 2, 1, 0, 0, 0, 0, 0, 0]);
        let crc = Crc32::of(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn lengths_of_128_and_more_take_several_varint_bytes() {
        let mut buf = Vec::new();
        let mut enc = Encoder::new(&mut buf, 0, 1);
        enc.database(0, 1).unwrap();
        enc.entry(&[b'x'; 300], b"", 0).unwrap();
        enc.finish().unwrap();
        // 300 = 0b10_0101100: low seven bits first, with the continuation bit.
        assert_eq!(&buf[HEADER_LEN + 3..HEADER_LEN + 5], &[0xAC, 0x02]);
        let mut max = vec![0xFF; 9];
        max.push(1);
        assert_eq!(varint(&max, &mut 0), Ok(u64::MAX));
        max[9] = 2;
        assert!(varint(&max, &mut 0).is_err(), "65 bits");
    }

    #[test]
    fn empty_snapshot_is_header_and_checksum_only() {
        let bytes = encode(&[], 9);
        assert_eq!(bytes.len(), HEADER_LEN + TRAILER_LEN);
        assert_eq!(decode_all(&bytes).unwrap().1, Vec::<Entry>::new());
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused() {
        let good = encode(&sample(), 77);
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            assert!(decode_all(&bad).is_err(), "flip at {at} accepted");
        }
        let mut bad = good.clone();
        bad[HEADER_LEN + 3] ^= 1;
        let err = decode_all(&bad).unwrap_err();
        assert!(err.reason.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn every_truncation_is_refused_and_says_so() {
        let good = encode(&sample(), 77);
        for len in 0..good.len() {
            assert!(decode_all(&good[..len]).is_err(), "length {len} accepted");
        }
        let err = decode_all(&good[..10]).unwrap_err();
        assert!(err.reason.starts_with("truncated"), "{err}");
        let err = decode_all(&good[..good.len() - 9]).unwrap_err();
        assert!(err.reason.contains("past the end"), "{err}");
    }

    #[test]
    fn bad_magic_is_refused_before_anything_else() {
        let mut bad = encode(&sample(), 1);
        bad[0] = b'R';
        let err = decode_all(&bad).unwrap_err();
        assert_eq!(err.offset, Some(0));
        assert!(err.reason.contains("bad magic"), "{err}");
    }

    #[test]
    fn unknown_version_is_refused_by_number() {
        let mut bad = encode(&sample(), 1);
        bad[8] = 4;
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert!(err.reason.contains("unknown format version 4"), "{err}");
    }

    #[test]
    fn a_length_running_past_the_end_is_refused_even_with_a_valid_checksum() {
        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 0)], 1);
        // After the section header (2 bytes), the type and the key (2 bytes).
        bad[HEADER_LEN + 5] = 100; // the value length
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert_eq!(err.offset, Some(HEADER_LEN + 5));
        assert!(
            err.reason.contains("value of 100 bytes runs past the end"),
            "{err}"
        );
    }

    #[test]
    fn more_entries_declared_than_present_is_refused() {
        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 0)], 1);
        bad[20] = 2;
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert!(err.reason.contains("entry 1"), "{err}");
    }

    #[test]
    fn trailing_garbage_is_refused_even_with_a_valid_checksum() {
        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 0)], 1);
        let n = bad.len() - TRAILER_LEN;
        bad.splice(n..n, [0u8, 0, 0]);
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert!(err.reason.contains("3 unexpected bytes"), "{err}");
    }

    #[test]
    fn unknown_deadline_tags_and_zero_deadlines_are_refused() {
        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 0)], 1);
        bad[HEADER_LEN + 7] = 9;
        reseal(&mut bad);
        assert!(
            decode_all(&bad)
                .unwrap_err()
                .reason
                .contains("unknown deadline tag 9")
        );

        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 1)], 1);
        bad[HEADER_LEN + 8] = 0;
        reseal(&mut bad);
        assert!(
            decode_all(&bad)
                .unwrap_err()
                .reason
                .contains("deadline is 0")
        );
    }

    #[test]
    fn a_visitor_error_is_reported_at_its_entry() {
        let bytes = encode(&sample(), 1);
        let err = decode(&bytes, |e| {
            if e.key.is_empty() {
                Err("duplicate key".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(err.reason.starts_with("entry 2 "), "{err}");
        assert!(err.reason.ends_with("duplicate key"), "{err}");
    }

    #[test]
    fn the_encoder_refuses_a_count_that_does_not_match() {
        let mut enc = Encoder::new(Vec::new(), 0, 1);
        enc.database(0, 1).unwrap();
        enc.entry(b"a", b"b", 0).unwrap();
        assert!(enc.entry(b"c", b"d", 0).is_err());
        assert!(Encoder::new(Vec::new(), 0, 1).finish().is_err());
    }

    /// What a visit saw of one entry: its type byte and its strings.
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        db: u64,
        key: Vec<u8>,
        kind: u8,
        strings: Vec<Vec<u8>>,
        expires_at: u64,
    }

    fn decode_typed(bytes: &[u8]) -> Result<Vec<Seen>, Corruption> {
        let mut got = Vec::new();
        decode(bytes, |e| {
            let (kind, strings) = match e.value {
                Payload::String(s) => (TYPE_STRING, vec![s.to_vec()]),
                Payload::Hash(x) => (TYPE_HASH, x.iter().map(|s| s.bytes.to_vec()).collect()),
                Payload::List(x) => (TYPE_LIST, x.iter().map(|s| s.bytes.to_vec()).collect()),
                Payload::Set(x) => (TYPE_SET, x.iter().map(|s| s.bytes.to_vec()).collect()),
                Payload::ZSet(x) => (
                    TYPE_SORTED_SET,
                    x.iter().map(|s| s.bytes.to_vec()).collect(),
                ),
            };
            got.push(Seen {
                db: e.db,
                key: e.key.to_vec(),
                kind,
                strings,
                expires_at: e.expires_at,
            });
            Ok(())
        })?;
        Ok(got)
    }

    /// Writes `(db, key, kind, len, strings, deadline)` entries, sections
    /// as the databases change.
    /// `(db, key, kind, len, strings, deadline)`.
    type Raw<'a> = (u64, &'a [u8], Kind, u64, Vec<&'a [u8]>, u64);

    fn encode_raw(entries: &[Raw<'_>]) -> Vec<u8> {
        let mut enc = Encoder::new(Vec::new(), 7, entries.len() as u64);
        let mut last = None;
        for (db, key, kind, len, strings, deadline) in entries {
            if last != Some(*db) {
                let n = entries.iter().filter(|e| e.0 == *db).count();
                enc.database(*db, n as u64).unwrap();
                last = Some(*db);
            }
            if *kind == Kind::String {
                enc.entry(key, strings[0], *deadline).unwrap();
                continue;
            }
            enc.begin_collection(key, *kind, *len).unwrap();
            for s in strings {
                enc.element(s).unwrap();
            }
            enc.end_collection(*deadline).unwrap();
        }
        enc.finish().unwrap().0
    }

    fn mixed() -> Vec<u8> {
        let big = vec![0x5Au8; CHUNK + 3];
        encode_raw(&[
            (0, b"s", Kind::String, 0, vec![b"v"], 0),
            (0, b"h", Kind::Hash, 2, vec![b"f1", b"v1", b"f2", b""], 9),
            (2, b"l", Kind::List, 3, vec![b"a", b"", &big], 0),
            (2, b"st", Kind::Set, 2, vec![b"-12", b"m\r\n\0"], u64::MAX),
        ])
    }

    #[test]
    fn collections_round_trip_with_their_strings_in_file_order() {
        let big = vec![0x5Au8; CHUNK + 3];
        let got = decode_typed(&mixed()).unwrap();
        let strings = |v: &[&[u8]]| v.iter().map(|s| s.to_vec()).collect::<Vec<_>>();
        let seen = |db, key: &[u8], kind, s: &[&[u8]], expires_at| Seen {
            db,
            key: key.to_vec(),
            kind,
            strings: strings(s),
            expires_at,
        };
        assert_eq!(
            got,
            [
                seen(0, b"s", TYPE_STRING, &[b"v"], 0),
                seen(0, b"h", TYPE_HASH, &[b"f1", b"v1", b"f2", b""], 9),
                seen(2, b"l", TYPE_LIST, &[b"a", b"", &big], 0),
                seen(2, b"st", TYPE_SET, &[b"-12", b"m\r\n\0"], u64::MAX),
            ]
        );
    }

    #[test]
    fn a_collection_entry_is_the_documented_layout_byte_for_byte() {
        let bytes = encode_raw(&[(0, b"k", Kind::Hash, 1, vec![b"f", b"vv"], 0)]);
        let mut expected = b"GOCACHE\0".to_vec();
        expected.extend_from_slice(&[3, 0, 0, 0]);
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&[0, 1]);
        // Type 1 (hash), the key, one field, the field, its value, no deadline.
        expected.extend_from_slice(&[1, 1, b'k', 1, 1, b'f', 2, b'v', b'v', 0]);
        let crc = Crc32::of(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);

        let list = encode_raw(&[(0, b"k", Kind::List, 2, vec![b"a", b""], 0)]);
        assert_eq!(
            &list[HEADER_LEN + 2..list.len() - 4],
            &[2, 1, b'k', 2, 1, b'a', 0, 0]
        );
        let set = encode_raw(&[(0, b"k", Kind::Set, 1, vec![b"7"], 0)]);
        assert_eq!(
            &set[HEADER_LEN + 2..set.len() - 4],
            &[3, 1, b'k', 1, 1, b'7', 0]
        );
    }

    #[test]
    fn the_encoder_refuses_collections_that_do_not_match_their_length() {
        let mut enc = Encoder::new(Vec::new(), 0, 3);
        enc.database(0, 3).unwrap();
        assert!(enc.begin_collection(b"e", Kind::Set, 0).is_err(), "empty");
        assert!(
            enc.begin_collection(b"s", Kind::String, 1).is_err(),
            "a string"
        );
        assert!(
            enc.begin_collection(b"h", Kind::Hash, u64::MAX).is_err(),
            "overflow"
        );
        assert!(enc.element(b"x").is_err(), "no collection begun");
        assert!(enc.end_collection(0).is_err(), "no collection begun");

        let mut enc = Encoder::new(Vec::new(), 0, 2);
        enc.database(0, 2).unwrap();
        enc.begin_collection(b"h", Kind::Hash, 1).unwrap();
        enc.element(b"f").unwrap();
        assert!(
            enc.entry(b"k", b"v", 0).is_err(),
            "an entry inside a collection"
        );
        assert!(enc.end_collection(0).is_err(), "the value is missing");

        let mut enc = Encoder::new(Vec::new(), 0, 1);
        enc.database(0, 1).unwrap();
        enc.begin_collection(b"l", Kind::List, 1).unwrap();
        enc.element(b"a").unwrap();
        assert!(enc.element(b"b").is_err(), "one too many");

        let mut enc = Encoder::new(Vec::new(), 0, 1);
        enc.database(0, 1).unwrap();
        enc.begin_collection(b"l", Kind::List, 1).unwrap();
        assert!(enc.finish().is_err(), "unfinished");
    }

    #[test]
    fn intset_integers_are_written_as_their_decimal_text() {
        let mut buf = [0u8; 20];
        for n in [0, 1, -1, 9, 10, -10, 12345, i64::MAX, i64::MIN] {
            assert_eq!(int_text(n, &mut buf), n.to_string().as_bytes());
        }
    }

    /// A version 3 body of one entry of database 0 in a resealed file.
    fn v3_file(entry: &[u8]) -> Vec<u8> {
        let mut bytes = b"GOCACHE\0".to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&[0, 1]);
        bytes.extend_from_slice(entry);
        bytes.extend_from_slice(&[0; 4]);
        reseal(&mut bytes);
        bytes
    }

    #[test]
    fn flawed_collections_are_refused_at_their_offset_even_with_a_valid_checksum() {
        // The entry starts at 30 (the header, then the section's 2 bytes);
        // its count, after the type byte and a 1-byte key, at 33.
        let cases: &[(&[u8], usize, &str)] = &[
            (&[3, 1, b'k', 0, 0], 33, "an empty set"),
            (&[1, 1, b'k', 0, 0], 33, "an empty hash"),
            (&[2, 1, b'k', 0, 0], 33, "an empty list"),
            (
                &[2, 1, b'k', 9, 1, b'a', 0],
                33,
                "a list of 9 elements, more than the 3 bytes",
            ),
            // Two fields need four strings: three bytes cannot hold them.
            (
                &[1, 1, b'k', 2, 0, 0, 0],
                33,
                "a hash of 2 fields, more than the 3 bytes",
            ),
            (
                &[
                    3, 1, b'k', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0,
                ],
                33,
                "more than",
            ),
            (
                &[3, 1, b'k', 2, 1, b'a', 5, b'b', 0],
                36,
                "set member 1 (of 2) of 5 bytes runs past",
            ),
            (
                &[1, 1, b'k', 1, 1, b'f', 9, b'v', 0],
                36,
                "value of hash field 0 (of 1) of 9 bytes",
            ),
            (
                &[2, 1, b'k', 2, 1, b'a', 0x80],
                36,
                "list element 1 (of 2) length runs past",
            ),
            (&[9, 1, b'k', 1, b'v', 0], 30, "unknown type 9"),
            (
                &[4, 1, b'k', 1, 1, b'v', 8, 1],
                36,
                "score of sorted set member 0 (of 1) of 8 bytes runs past",
            ),
            (
                &[4, 1, b'k', 2, 1, b'v', 0],
                33,
                "a sorted set of 2 members, more than",
            ),
            (&[2, 1, b'k', 1, 1, b'a'], 36, "deadline tag runs past"),
        ];
        for &(entry, offset, why) in cases {
            let err = decode_typed(&v3_file(entry)).unwrap_err();
            assert!(err.reason.contains(why), "{why}: {err}");
            assert!(
                err.reason.starts_with("entry 0 (starting at offset 30)"),
                "{err}"
            );
            assert_eq!(err.offset, Some(offset), "{why}: {err}");
        }
    }

    #[test]
    fn a_visitor_refusal_with_an_offset_is_reported_there() {
        let bytes = encode_raw(&[(0, b"k", Kind::Set, 2, vec![b"a", b"a"], 0)]);
        let err = decode(&bytes, |e| match e.value {
            Payload::Set(members) => {
                let second = members.iter().nth(1).unwrap();
                Err(Refusal::at(second.offset, "repeats"))
            }
            _ => Ok(()),
        })
        .unwrap_err();
        // Entry at 30: type, key (2), count, "a" (2 bytes), then the second.
        assert_eq!(err.offset, Some(36), "{err}");
        assert!(err.reason.ends_with("repeats"), "{err}");
    }

    #[test]
    fn every_truncation_or_flipped_byte_of_a_file_with_collections_is_refused() {
        let good = encode_raw(&[
            (0, b"h", Kind::Hash, 2, vec![b"f1", b"v1", b"f2", b"v2"], 5),
            (1, b"l", Kind::List, 2, vec![b"a", b"bb"], 0),
            (3, b"s", Kind::Set, 3, vec![b"1", b"2", b"x"], 0),
        ]);
        assert_eq!(decode_typed(&good).unwrap().len(), 3);
        for len in 0..good.len() {
            assert!(decode_typed(&good[..len]).is_err(), "length {len} accepted");
        }
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x04;
            assert!(decode_typed(&bad).is_err(), "flip at {at} accepted");
        }
    }
}
