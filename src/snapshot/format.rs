//! The snapshot file format, version 2 (and reading version 1): encoding
//! and strict decoding.
//!
//! The byte layout is documented in the [parent module](super). The encoder
//! streams entries through a fixed-size buffer into any writer, checksumming
//! each chunk as it goes, so a snapshot of any size costs one buffer of
//! memory. The decoder works on the whole file in memory and trusts nothing:
//! every length is checked against the bytes that remain, and any flaw is a
//! [`Corruption`] with its byte offset. Neither side touches files or locks.

use super::crc32::Crc32;
use std::fmt;
use std::io::{self, Write};

/// The first eight bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"GOCACHE\0";
/// The format version this build writes.
pub const VERSION: u32 = 2;
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

/// How much the encoder buffers before handing bytes to its writer.
const CHUNK: usize = 1 << 20;

/// Writes one snapshot: the header at creation, then [`Encoder::entry`] once
/// per entry, then [`Encoder::finish`].
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
        }
    }

    /// Starts the section of database `index`, which holds the next `count`
    /// entries (at least one). Sections come in increasing database order.
    pub fn database(&mut self, index: u64, count: u64) -> io::Result<()> {
        if self.section_left != 0 || count == 0 || self.last_db.is_some_and(|last| index <= last) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "snapshot database sections out of order, empty, or cut short",
            ));
        }
        self.last_db = Some(index);
        self.section_left = count;
        self.varint(index)?;
        self.varint(count)
    }

    /// Appends one entry; `expires_at` is a Unix-ms deadline, 0 for none.
    pub fn entry(&mut self, key: &[u8], value: &[u8], expires_at: u64) -> io::Result<()> {
        self.entries += 1;
        if self.section_left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a snapshot entry outside any database section",
            ));
        }
        self.section_left -= 1;
        if self.entries > self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more snapshot entries than the header declares",
            ));
        }
        self.varint(key.len() as u64)?;
        self.bytes(key)?;
        self.varint(value.len() as u64)?;
        self.bytes(value)?;
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

    /// Writes the checksum and returns the writer and the file's length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.entries != self.declared {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fewer snapshot entries than the header declares",
            ));
        }
        self.flush_chunk()?;
        self.out.write_all(&self.crc.value().to_le_bytes())?;
        Ok((self.out, self.written + TRAILER_LEN as u64))
    }

    fn varint(&mut self, mut v: u64) -> io::Result<()> {
        self.room(10)?;
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
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
    pub value: &'a [u8],
    /// Absolute deadline in Unix ms, 0 for none.
    pub expires_at: u64,
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
/// visited; an error returned by `visit` becomes a [`Corruption`] at that
/// entry's offset.
pub fn decode(
    bytes: &[u8],
    visit: impl FnMut(Visit<'_>) -> Result<(), String>,
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
    if version != VERSION && version != VERSION_1 {
        return Err(Corruption::at(
            8,
            format!(
                "unknown format version {version} (this build reads versions {VERSION_1} and {VERSION})"
            ),
        ));
    }
    let sections = version == VERSION;
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
        return Err(match entries(body, sections, |_| Ok(())) {
            Err(mut flaw) => {
                flaw.reason = format!("{}; {mismatch}", flaw.reason);
                flaw
            }
            Ok(_) => Corruption::at(body_len, mismatch),
        });
    }
    entries(body, sections, visit)
}

/// Walks the entries of `body` (the file without its checksum).
/// With `sections` (version 2), entries come in database sections, each
/// opened by its database number and entry count.
fn entries(
    body: &[u8],
    sections: bool,
    mut visit: impl FnMut(Visit<'_>) -> Result<(), String>,
) -> Result<Header, Corruption> {
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
        let key = field(body, &mut pos).map_err(|(at, what)| flaw(at, format!("key {what}")))?;
        let value =
            field(body, &mut pos).map_err(|(at, what)| flaw(at, format!("value {what}")))?;
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
        .map_err(|why| flaw(start, why))?;
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

/// Reads a length-prefixed byte string at `*pos`; on error, the offset and what is wrong.
fn field<'a>(body: &'a [u8], pos: &mut usize) -> Result<&'a [u8], (usize, String)> {
    let at = *pos;
    let len = varint(body, pos).map_err(|what| (at, format!("length {what}")))?;
    let left = body.len() - *pos;
    if len > left as u64 {
        return Err((
            at,
            format!("of {len} bytes runs past the end of the entries ({left} bytes left)"),
        ));
    }
    let bytes = &body[*pos..*pos + len as usize];
    *pos += len as usize;
    Ok(bytes)
}

/// Reads an unsigned LEB128 number of at most 64 bits.
fn varint(body: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
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
            got.push((e.key.to_vec(), e.value.to_vec(), e.expires_at));
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
            let mut bytes = b"GOCACHE\0".to_vec();
            bytes.extend_from_slice(&VERSION.to_le_bytes());
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
            got.push((e.db, e.key.to_vec(), e.value.to_vec()));
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
        expected.extend_from_slice(&[2, 0, 0, 0]);
        expected.extend_from_slice(&[0x0B, 0x0A, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        // Database 0's section: one entry.
        expected.extend_from_slice(&[0, 1]);
        expected.extend_from_slice(&[1, b'k', 2, b'v', b'v', 1, 2, 1, 0, 0, 0, 0, 0, 0]);
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
        assert_eq!(&buf[HEADER_LEN + 2..HEADER_LEN + 4], &[0xAC, 0x02]);
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
        bad[8] = 3;
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert!(err.reason.contains("unknown format version 3"), "{err}");
    }

    #[test]
    fn a_length_running_past_the_end_is_refused_even_with_a_valid_checksum() {
        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 0)], 1);
        // After the section header (2 bytes) and the key (2 bytes).
        bad[HEADER_LEN + 4] = 100; // the value length
        reseal(&mut bad);
        let err = decode_all(&bad).unwrap_err();
        assert_eq!(err.offset, Some(HEADER_LEN + 4));
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
        bad[HEADER_LEN + 6] = 9;
        reseal(&mut bad);
        assert!(
            decode_all(&bad)
                .unwrap_err()
                .reason
                .contains("unknown deadline tag 9")
        );

        let mut bad = encode(&[(b"k".to_vec(), b"v".to_vec(), 1)], 1);
        bad[HEADER_LEN + 7] = 0;
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
                Err("duplicate key".to_string())
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
}
