//! RESP multibulk requests: `*<n>\r\n` then `n` bulk strings `$<len>\r\n<bytes>\r\n`.
//!
//! Errors follow Redis's `processMultibulkBuffer` word for word, and every one
//! of them closes the connection. A half-arrived request is `Incomplete`, with
//! the total size needed when a bulk length is known; the parse resumes from
//! its [`Progress`] when more arrives, so no byte is looked at twice however
//! the request is split. Sizes are checked at their headers, tighter before
//! authentication, so a client cannot make the server buffer what it
//! announces. Never allocates more than the argument list; the bytes stay
//! in the caller's buffer, but for big bulk strings, which the caller
//! receives into buffers of their own ([`Parsed::BigArg`]).

use super::{
    ArgSpans, BIG_ARG, Limits, Parsed, Progress, ProtocolError, Span, UNAUTHENTICATED_MAX_ARGS,
    UNAUTHENTICATED_MAX_BULK,
};

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
/// More arguments than a client that has not authenticated may send.
pub const UNAUTHENTICATED_MULTIBULK: ProtocolError =
    protocol("ERR Protocol error: unauthenticated multibulk length");
/// A longer bulk string than a client that has not authenticated may send.
pub const UNAUTHENTICATED_BULK: ProtocolError =
    protocol("ERR Protocol error: unauthenticated bulk length");

/// Reads the `\r\n`-terminated header line that starts at `at`, looking
/// for its `\r` from `from` on (past `at`, or where an earlier call stopped
/// looking); returns the number and the index after the line, or how far
/// it looked.
#[inline]
fn header(buf: &[u8], at: usize, from: usize) -> Result<(Option<i64>, usize), usize> {
    let from = from.min(buf.len());
    let Some(rel) = buf[from..].iter().position(|&b| b == b'\r') else {
        return Err(buf.len());
    };
    let cr = from + rel;
    if cr + 1 >= buf.len() {
        return Err(cr);
    }
    Ok((parse_i64(&buf[at + 1..cr]), cr + 2))
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

/// Parses one multibulk request from the start of `buf` (which starts with
/// `*`), resuming where `progress` says an earlier call stopped. Every size
/// is checked at its header, against `limits`, before its bytes are
/// buffered.
pub fn parse(
    buf: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    args: &mut ArgSpans,
) -> Result<Parsed, ProtocolError> {
    // Positions live in locals and go to `progress` only when the request
    // is not all here: the common, whole request never stores them.
    let resumed = progress.args_total > 0;
    let (total, mut pos, mut from) = if resumed {
        (progress.args_total, progress.pos, progress.scanned)
    } else {
        args.clear();
        let (count, after) = match header(buf, 0, progress.scanned.max(1)) {
            Ok(found) => found,
            Err(looked) => {
                progress.scanned = looked;
                return if buf.len() > MAX_HEADER {
                    Err(TOO_BIG_COUNT)
                } else {
                    Ok(Parsed::Incomplete(0))
                };
            }
        };
        let count = match count {
            Some(n) if n <= MAX_ARGS => n,
            _ => return Err(INVALID_MULTIBULK),
        };
        if count <= 0 {
            progress.reset();
            return Ok(Parsed::Skip(after));
        }
        if !limits.authenticated && count as usize > UNAUTHENTICATED_MAX_ARGS {
            return Err(UNAUTHENTICATED_MULTIBULK);
        }
        (count as usize, after, after + 1)
    };
    let stop = |progress: &mut Progress, pos: usize, from: usize, parsed: Parsed| {
        progress.args_total = total;
        progress.pos = pos;
        progress.scanned = from;
        Ok(parsed)
    };
    if progress.skip_crlf {
        if pos + 2 > buf.len() {
            return Ok(Parsed::Incomplete(pos + 2));
        }
        progress.skip_crlf = false;
        pos += 2;
        from = pos + 1;
    }
    while args.spans.len() < total {
        if pos >= buf.len() {
            return stop(progress, pos, pos + 1, Parsed::Incomplete(0));
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError {
                message: expected_dollar(buf[pos]),
                close: true,
            });
        }
        let (len, data) = match header(buf, pos, from) {
            Ok(found) => found,
            Err(looked) => {
                return if buf.len() - pos > MAX_HEADER {
                    Err(TOO_BIG_BULK_COUNT)
                } else {
                    stop(progress, pos, looked, Parsed::Incomplete(0))
                };
            }
        };
        let len = match len {
            Some(n) if n >= 0 && n as u64 <= limits.max_bulk as u64 => n as usize,
            _ => return Err(INVALID_BULK),
        };
        if !limits.authenticated && len > UNAUTHENTICATED_MAX_BULK {
            return Err(UNAUTHENTICATED_BULK);
        }
        let end = data + len;
        if end + 2 > buf.len() {
            let parsed = if len >= BIG_ARG {
                Parsed::BigArg { at: data, len }
            } else {
                Parsed::Incomplete(end + 2)
            };
            // The header is read again next time (it is short); the bytes
            // of a big bulk go to a buffer of their own meanwhile.
            return stop(progress, pos, pos + 1, parsed);
        }
        args.spans.push(Span::Buffer(data, end));
        pos = end + 2;
        from = pos + 1;
    }
    if progress.is_started() {
        progress.reset();
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

    const OPEN: Limits = Limits {
        max_bulk: 512,
        max_line: 512,
        authenticated: true,
    };

    fn parse_all(buf: &[u8], limits: &Limits) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut spans = ArgSpans::default();
        let parsed = parse(buf, limits, &mut Progress::default(), &mut spans)?;
        let mut out = Vec::new();
        spans.resolve(buf, &mut out);
        Ok((parsed, out.into_iter().map(<[u8]>::to_vec).collect()))
    }

    fn args_of(buf: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        parse_all(buf, &OPEN)
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
    fn a_request_fed_byte_by_byte_resumes_and_parses_the_same() {
        let req = b"*3\r\n$3\r\nSET\r\n$2\r\nab\r\n$10\r\n0123456789\r\n";
        let mut progress = Progress::default();
        let mut spans = ArgSpans::default();
        for cut in 1..req.len() {
            let parsed = parse(&req[..cut], &OPEN, &mut progress, &mut spans).unwrap();
            assert!(matches!(parsed, Parsed::Incomplete(_)), "cut at {cut}");
        }
        let parsed = parse(req, &OPEN, &mut progress, &mut spans).unwrap();
        assert_eq!(
            parsed,
            Parsed::Request {
                consumed: req.len()
            }
        );
        let mut out = Vec::new();
        spans.resolve(req, &mut out);
        assert_eq!(out, vec![&b"SET"[..], b"ab", b"0123456789"]);
        assert!(!progress.is_started(), "reset for the next request");
    }

    #[test]
    fn known_bulk_length_reports_the_size_needed() {
        assert_eq!(
            args_of(b"*1\r\n$100\r\nab").unwrap().0,
            Parsed::Incomplete(112)
        );
    }

    #[test]
    fn a_big_bulk_not_yet_buffered_is_handed_over_and_parsing_resumes_after_it() {
        let limits = Limits {
            max_bulk: 1 << 20,
            ..OPEN
        };
        let head = format!("*2\r\n$3\r\nSET\r\n${BIG_ARG}\r\n");
        let mut buf = head.clone().into_bytes();
        buf.extend_from_slice(b"xyz");
        let mut progress = Progress::default();
        let mut spans = ArgSpans::default();
        let parsed = parse(&buf, &limits, &mut progress, &mut spans).unwrap();
        assert_eq!(
            parsed,
            Parsed::BigArg {
                at: head.len(),
                len: BIG_ARG
            }
        );
        // The caller took the bytes away and left what followed them at `at`.
        spans.push_owned(vec![b'x'; BIG_ARG]);
        progress.resume_after_owned(head.len());
        let mut rest = head.into_bytes();
        rest.extend_from_slice(b"\r\n*1");
        let parsed = parse(&rest, &limits, &mut progress, &mut spans).unwrap();
        assert_eq!(
            parsed,
            Parsed::Request {
                consumed: rest.len() - 2
            }
        );
        let mut out = Vec::new();
        spans.resolve(&rest, &mut out);
        assert_eq!(out[1].len(), BIG_ARG);
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
    fn before_auth_sizes_are_refused_at_their_headers() {
        let closed = Limits {
            authenticated: false,
            max_bulk: 1 << 20,
            ..OPEN
        };
        assert_eq!(
            parse_all(b"*11\r\n", &closed),
            Err(UNAUTHENTICATED_MULTIBULK)
        );
        assert!(parse_all(b"*10\r\n", &closed).is_ok());
        assert_eq!(
            parse_all(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", &closed),
            Err(UNAUTHENTICATED_BULK)
        );
        assert!(parse_all(b"*2\r\n$4\r\nAUTH\r\n$16384\r\n", &closed).is_ok());
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
