//! The incremental log's bytes: its header, its records, and how a
//! record is built under the write lock and read back at start.
//!
//! One record is one commit of the keyspace: every command a commit
//! replays (one command's effects, a whole `EXEC`, a sweep's removals, an
//! eviction batch), so that a crash can never leave half of a transaction
//! on disk to replay: a record is loaded whole or not at all.
//!
//! | size | field |
//! |-----:|-------|
//! | 8 | payload length `L`, `u64` little-endian (at least 1) |
//! | 4 | CRC-32 (IEEE, [`crc32`](crate::snapshot::crc32)) of the payload, `u32` little-endian |
//! | `L` | payload: one or more commands, back to back |
//!
//! Each command is its database number (unsigned LEB128), its argument
//! count `A` (unsigned LEB128, at least 1; the command's name is the
//! first), then `A` strings, each a length (unsigned LEB128) and that
//! many bytes. The payload ends exactly where its last command does.
//!
//! A file is [`HEADER`] (12 bytes: the ASCII `GOCACHEL`, then the format
//! version, `u32` little-endian, `1`) followed by records back to back.
//!
//! Reading tells a *truncated* tail (the file ends inside a record's
//! header or payload: a write cut short by a crash) from *corruption* (a
//! complete record whose checksum or contents are wrong, or a bad header),
//! and names the byte offset of either. This module only encodes and
//! decodes bytes; it never does I/O.

use crate::keyspace::ReplayWriter;
use crate::snapshot::crc32::Crc32;
use crate::snapshot::format::{push_varint, varint};

/// The first 12 bytes of every incremental log file.
pub const HEADER: &[u8; 12] = b"GOCACHEL\x01\0\0\0";

/// Bytes of a record's header: its length and its checksum.
pub const RECORD_HEADER: usize = 12;

/// Builds one commit's record in a buffer kept from commit to commit.
#[derive(Debug, Default)]
pub struct RecordBuilder {
    buf: Vec<u8>,
}

/// The buffer's room kept between records; a commit that needed more
/// (a big `MSET`, a stored collection) gives it back.
const KEPT_ROOM: usize = 64 * 1024;

impl RecordBuilder {
    /// Whether no command has been written since the last [`clear`](Self::clear).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The finished record (its header filled in) for the caller to
    /// append; then [`clear`](Self::clear) it.
    pub fn finish(&mut self) -> &[u8] {
        let payload = self.buf.len() - RECORD_HEADER;
        let crc = Crc32::of(&self.buf[RECORD_HEADER..]);
        self.buf[..8].copy_from_slice(&(payload as u64).to_le_bytes());
        self.buf[8..12].copy_from_slice(&crc.to_le_bytes());
        &self.buf
    }

    /// Empties the builder for the next commit.
    pub fn clear(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEPT_ROOM {
            self.buf = Vec::new();
        }
    }
}

impl ReplayWriter for RecordBuilder {
    #[inline]
    fn command(&mut self, db: usize, argc: usize) {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&[0; RECORD_HEADER]);
        }
        push_varint(&mut self.buf, db as u64);
        push_varint(&mut self.buf, argc as u64);
    }

    #[inline]
    fn arg(&mut self, arg: &[u8]) {
        push_varint(&mut self.buf, arg.len() as u64);
        self.buf.extend_from_slice(arg);
    }
}

/// One command read back from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The database it runs in.
    pub db: u64,
    /// Its arguments, the name first.
    pub args: Vec<&'a [u8]>,
}

/// What is wrong with a log's bytes, at which offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flaw {
    /// The bytes end inside the record that starts at `offset`: a write
    /// cut short. Everything before `offset` is whole.
    Truncated {
        /// Where the incomplete record starts.
        offset: u64,
    },
    /// The bytes at `offset` are not what a log holds.
    Corrupt {
        /// Where.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for Flaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flaw::Truncated { offset } => {
                write!(f, "the last record, at byte {offset}, is incomplete")
            }
            Flaw::Corrupt { offset, reason } => write!(f, "at byte {offset}: {reason}"),
        }
    }
}

/// Checks a log file's header; `Err` names what is wrong. A file shorter
/// than the header is a truncated one (a crash right after it was
/// created).
pub fn check_header(bytes: &[u8]) -> Result<(), Flaw> {
    if bytes.len() < HEADER.len() {
        if HEADER.starts_with(bytes) {
            return Err(Flaw::Truncated { offset: 0 });
        }
        return Err(Flaw::Corrupt {
            offset: 0,
            reason: "not a gocache log (bad magic)".into(),
        });
    }
    if bytes[..8] != HEADER[..8] {
        return Err(Flaw::Corrupt {
            offset: 0,
            reason: "not a gocache log (bad magic)".into(),
        });
    }
    if bytes[8..12] != HEADER[8..12] {
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        return Err(Flaw::Corrupt {
            offset: 8,
            reason: format!("log format version {version} is not one this build reads (1)"),
        });
    }
    Ok(())
}

/// Calls `apply` with each record's commands, in order, from the record
/// at `from` (after the header) to the end of `bytes`. Stops at the first
/// flaw: a record is handed over only once it is whole and its checksum
/// matches, so no part of a flawed record is ever applied. `apply`'s own
/// error stops the reading too and is returned as corruption at that
/// record. Returns the offset after the last whole record.
pub fn read_records(
    bytes: &[u8],
    from: usize,
    mut apply: impl FnMut(&[Command<'_>]) -> Result<(), String>,
) -> Result<u64, Flaw> {
    let mut at = from;
    let mut commands = Vec::new();
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < RECORD_HEADER {
            return Err(Flaw::Truncated { offset: at as u64 });
        }
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(rest[8..12].try_into().unwrap_or_default());
        let corrupt = |offset: usize, reason: String| Flaw::Corrupt {
            offset: offset as u64,
            reason,
        };
        if len == 0 {
            return Err(corrupt(at, "a record of no bytes".into()));
        }
        let available = (rest.len() - RECORD_HEADER) as u64;
        if len > available {
            return Err(Flaw::Truncated { offset: at as u64 });
        }
        let payload = &rest[RECORD_HEADER..RECORD_HEADER + len as usize];
        if Crc32::of(payload) != crc {
            return Err(corrupt(at, "the record's checksum does not match".into()));
        }
        commands.clear();
        parse_payload(payload, &mut commands)
            .map_err(|(pos, reason)| corrupt(at + RECORD_HEADER + pos, reason.into()))?;
        apply(&commands).map_err(|reason| corrupt(at, reason))?;
        at += RECORD_HEADER + len as usize;
    }
    Ok(at as u64)
}

/// Splits a checksummed payload into its commands; on a flaw, its offset
/// in the payload and what it is.
fn parse_payload<'a>(
    payload: &'a [u8],
    commands: &mut Vec<Command<'a>>,
) -> Result<(), (usize, &'static str)> {
    let mut pos = 0;
    while pos < payload.len() {
        let start = pos;
        let field = |pos: &mut usize| varint(payload, pos).map_err(|_| (start, "a bad number"));
        let db = field(&mut pos)?;
        let argc = field(&mut pos)?;
        // Each argument takes at least its length byte.
        if argc == 0 || argc > (payload.len() - pos) as u64 {
            return Err((start, "a bad argument count"));
        }
        let mut args = Vec::with_capacity(argc as usize);
        for _ in 0..argc {
            let len = field(&mut pos)?;
            if len > (payload.len() - pos) as u64 {
                return Err((start, "an argument runs past its record"));
            }
            args.push(&payload[pos..pos + len as usize]);
            pos += len as usize;
        }
        commands.push(Command { db, args });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(commands: &[(usize, &[&[u8]])]) -> Vec<u8> {
        let mut b = RecordBuilder::default();
        for (db, args) in commands {
            b.command(*db, args.len());
            args.iter().for_each(|a| b.arg(a));
        }
        b.finish().to_vec()
    }

    fn log_of(records: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = HEADER.to_vec();
        records.iter().for_each(|r| bytes.extend_from_slice(r));
        bytes
    }

    /// Each record's commands, as `(database, arguments)`.
    type Read = Vec<Vec<(u64, Vec<Vec<u8>>)>>;

    fn read_all(bytes: &[u8]) -> (Read, Result<u64, Flaw>) {
        let mut seen = Vec::new();
        let end = check_header(bytes).and_then(|()| {
            read_records(bytes, HEADER.len(), |cmds| {
                seen.push(
                    cmds.iter()
                        .map(|c| (c.db, c.args.iter().map(|a| a.to_vec()).collect()))
                        .collect(),
                );
                Ok(())
            })
        });
        (seen, end)
    }

    #[test]
    fn records_read_back_as_written_with_their_databases() {
        let one = record(&[(0, &[b"SET", b"k", b"v"])]);
        let two = record(&[(3, &[b"DEL", b"a"]), (3, &[b"SET", b"", b"\0\r\n"])]);
        let bytes = log_of(&[one, two]);
        let (seen, end) = read_all(&bytes);
        assert_eq!(end, Ok(bytes.len() as u64));
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0],
            vec![(0, vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()])]
        );
        assert_eq!(
            seen[1][1],
            (3, vec![b"SET".to_vec(), b"".to_vec(), b"\0\r\n".to_vec()])
        );
    }

    /// toydb's recovery test, for our log: cut the file at every byte of
    /// its last record; each prefix loads exactly the whole records before
    /// the cut and reports the cut as a truncation at the last record's
    /// start, never a wrong value.
    #[test]
    fn a_log_cut_at_every_byte_of_its_last_record_loads_the_whole_records_before_it() {
        let first = record(&[(0, &[b"SET", b"a", b"1"])]);
        let last = record(&[
            (1, &[b"SET", b"b", b"two"]),
            (1, &[b"PEXPIREAT", b"b", b"9"]),
        ]);
        let bytes = log_of(&[first.clone(), last.clone()]);
        let last_at = (HEADER.len() + first.len()) as u64;
        for cut in last_at as usize..bytes.len() {
            let (seen, end) = read_all(&bytes[..cut]);
            assert_eq!(seen.len(), 1, "cut at {cut}");
            assert_eq!(seen[0][0].1[2], b"1".to_vec());
            if cut == last_at as usize {
                assert_eq!(end, Ok(last_at), "a cut between records is a whole log");
            } else {
                assert_eq!(
                    end,
                    Err(Flaw::Truncated { offset: last_at }),
                    "cut at {cut}"
                );
            }
        }
        // A header cut short is a truncation too; a wrong one is not.
        for cut in 0..HEADER.len() {
            assert_eq!(
                check_header(&bytes[..cut]),
                Err(Flaw::Truncated { offset: 0 })
            );
        }
        assert!(matches!(
            check_header(b"GOCACHE?\x01\0\0\0"),
            Err(Flaw::Corrupt { .. })
        ));
        assert!(matches!(
            check_header(b"GOCACHEL\x02\0\0\0"),
            Err(Flaw::Corrupt { offset: 8, .. })
        ));
    }

    #[test]
    fn a_flipped_byte_in_a_whole_record_is_corruption_naming_its_record() {
        let first = record(&[(0, &[b"SET", b"a", b"1"])]);
        let second = record(&[(0, &[b"SET", b"b", b"2"])]);
        let bytes = log_of(&[first.clone(), second.clone()]);
        let second_at = HEADER.len() + first.len();
        for i in second_at + RECORD_HEADER..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let (seen, end) = read_all(&bad);
            assert_eq!(seen.len(), 1, "byte {i}");
            assert_eq!(
                end,
                Err(Flaw::Corrupt {
                    offset: second_at as u64,
                    reason: "the record's checksum does not match".into()
                })
            );
        }
        // A zero-filled tail (a file extended but never written) is not a record.
        let mut zeros = bytes.clone();
        zeros.extend_from_slice(&[0; 16]);
        assert!(matches!(read_all(&zeros).1, Err(Flaw::Corrupt { .. })));
    }

    #[test]
    fn a_payload_that_checksums_but_does_not_parse_is_refused() {
        let mut bytes = HEADER.to_vec();
        for payload in [&[0u8, 0][..], &[0, 3, 1, b'x'], &[0, 1, 9, b'x']] {
            let mut rec = (payload.len() as u64).to_le_bytes().to_vec();
            rec.extend_from_slice(&Crc32::of(payload).to_le_bytes());
            rec.extend_from_slice(payload);
            let mut file = bytes.clone();
            file.extend_from_slice(&rec);
            assert!(
                matches!(read_all(&file).1, Err(Flaw::Corrupt { .. })),
                "{payload:?}"
            );
        }
        bytes.clear();
    }
}
