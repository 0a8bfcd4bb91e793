//! RESP multibulk requests: `*<n>\r\n` then `n` bulk strings `$<len>\r\n<bytes>\r\n`.
//!
//! Errors follow Redis's `processMultibulkBuffer` word for word, and every one
//! of them closes the connection. A half-arrived request is `Incomplete`, with
//! the total size needed when a bulk length is known, so the reader can grow
//! its buffer once instead of re-parsing byte by byte. Never allocates more
//! than the argument list; the bytes stay in the caller's buffer.

use super::{ArgSpans, Parsed, ProtocolError};

/// Longest `*<n>` or `$<len>` header line Redis accepts before giving up.
const MAX_HEADER: usize = 64 * 1024;

/// Most arguments one request may carry (Redis's limit is `INT_MAX`; a million
/// keeps a hostile count from building a huge argument list).
pub const MAX_ARGS: i64 = 1024 * 1024;

const fn protocol(message: &'static str) -> ProtocolError {
    ProtocolError {
        message,
        close: true,
    }
}

/// `*` with a count that is not a number, or too large.
pub const INVALID_MULTIBULK: ProtocolError =
    protocol("ERR Protocol error: invalid multibulk length");
/// `$` with a length that is not a number, negative, or over the limit.
pub const INVALID_BULK: ProtocolError = protocol("ERR Protocol error: invalid bulk length");
/// A header line with no end in sight.
pub const TOO_BIG_COUNT: ProtocolError = protocol("ERR Protocol error: too big mbulk count string");
/// A bulk header line with no end in sight.
pub const TOO_BIG_BULK_COUNT: ProtocolError =
    protocol("ERR Protocol error: too big bulk count string");

/// Finds `\r\n`-terminated header at `at`; returns (number, index after it).
fn header(buf: &[u8], at: usize) -> Option<(Option<i64>, usize)> {
    let rel = buf[at..].iter().position(|&b| b == b'\r')?;
    let cr = at + rel;
    if cr + 1 >= buf.len() {
        return None;
    }
    Some((parse_i64(&buf[at + 1..cr]), cr + 2))
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional `-`,
/// no `+`, no spaces, no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 20 || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Parses one multibulk request from the start of `buf` (which starts with `*`).
pub fn parse(buf: &[u8], max_bulk: usize, args: &mut ArgSpans) -> Result<Parsed, ProtocolError> {
    args.clear();
    let Some((count, mut pos)) = header(buf, 0) else {
        return if buf.len() > MAX_HEADER {
            Err(TOO_BIG_COUNT)
        } else {
            Ok(Parsed::Incomplete(0))
        };
    };
    let count = match count {
        Some(n) if n <= MAX_ARGS => n,
        _ => return Err(INVALID_MULTIBULK),
    };
    if count <= 0 {
        return Ok(Parsed::Skip(pos));
    }
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete(0));
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError {
                message: expected_dollar(buf[pos]),
                close: true,
            });
        }
        let Some((len, data)) = header(buf, pos) else {
            return if buf.len() - pos > MAX_HEADER {
                Err(TOO_BIG_BULK_COUNT)
            } else {
                Ok(Parsed::Incomplete(0))
            };
        };
        let len = match len {
            Some(n) if n >= 0 && n as u64 <= max_bulk as u64 => n as usize,
            _ => return Err(INVALID_BULK),
        };
        let end = data + len;
        if end + 2 > buf.len() {
            return Ok(Parsed::Incomplete(end + 2));
        }
        args.spans.push((false, data, end));
        pos = end + 2;
    }
    Ok(Parsed::Request { consumed: pos })
}

/// `expected '$', got 'X'`, with the byte shown as Redis shows it. The texts
/// are interned per byte so that errors stay `&'static str`.
fn expected_dollar(got: u8) -> &'static str {
    use std::sync::OnceLock;
    static TEXTS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (0..=255u8)
            .map(|b| {
                let shown = if b.is_ascii_graphic() || b == b' ' {
                    (b as char).to_string()
                } else {
                    format!("\\x{b:02x}")
                };
                &*Box::leak(
                    format!("ERR Protocol error: expected '$', got '{shown}'").into_boxed_str(),
                )
            })
            .collect()
    });
    texts[got as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut spans = ArgSpans::default();
        let parsed = parse(buf, 512, &mut spans)?;
        let mut out = Vec::new();
        spans.resolve(buf, &mut out);
        Ok((parsed, out.into_iter().map(<[u8]>::to_vec).collect()))
    }

    #[test]
    fn parses_a_whole_request_with_binary_bytes() {
        let (p, a) = args_of(b"*2\r\n$3\r\nGET\r\n$4\r\na\r\n\0\r\n").unwrap();
        assert_eq!(p, Parsed::Request { consumed: 23 });
        assert_eq!(a, vec![b"GET".to_vec(), b"a\r\n\0".to_vec()]);
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        let req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 1..req.len() {
            assert!(
                matches!(args_of(&req[..cut]).unwrap().0, Parsed::Incomplete(_)),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn known_bulk_length_reports_the_size_needed() {
        assert_eq!(
            args_of(b"*1\r\n$100\r\nab").unwrap().0,
            Parsed::Incomplete(112)
        );
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(args_of(b"*x\r\n"), Err(INVALID_MULTIBULK));
        assert_eq!(args_of(b"*99999999999\r\n"), Err(INVALID_MULTIBULK));
        assert_eq!(args_of(b"*1\r\n$-1\r\n"), Err(INVALID_BULK));
        assert_eq!(args_of(b"*1\r\n$513\r\n"), Err(INVALID_BULK));
        assert_eq!(
            args_of(b"*1\r\nfoo\r\n").unwrap_err().message,
            "ERR Protocol error: expected '$', got 'f'"
        );
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(args_of(b"*0\r\n").unwrap().0, Parsed::Skip(4));
        assert_eq!(args_of(b"*-1\r\n").unwrap().0, Parsed::Skip(5));
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"+1", b" 1", b"01", b"-0", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_i64(b"0"), Some(0));
    }
}
