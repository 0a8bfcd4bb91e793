//! The human line protocol: one request per `\n`-terminated line.
//!
//! Splitting follows Redis's `sdssplitargs`: arguments separated by spaces or
//! tabs; double quotes with the escapes `\" \\ \n \r \t \a \b \xHH`; single
//! quotes literal but for `\'`; a closing quote must be followed by a blank or
//! the end of the line. Owns only parsing; never allocates beyond the line.

use super::{ArgSpans, Limits, Parsed, Progress, ProtocolError, Span};

/// Error text for a line longer than the configured limit.
pub const TOO_BIG: ProtocolError = ProtocolError {
    message: "ERR Protocol error: too big inline request",
    close: true,
};

/// Error text for a line whose quotes do not balance.
pub const UNBALANCED: ProtocolError = ProtocolError {
    message: "ERR Protocol error: unbalanced quotes in request",
    close: false,
};

/// Parses one line from the start of `buf`, if a whole one is buffered.
/// `progress` remembers how far an earlier call looked for the line's end,
/// so a line trickled in byte by byte is searched once. Before
/// authentication a line may be at most
/// [`UNAUTHENTICATED_MAX_BULK`](super::UNAUTHENTICATED_MAX_BULK) bytes.
///
/// On an unbalanced-quote error the caller skips `line_len(buf)` bytes.
pub fn parse(
    buf: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    args: &mut ArgSpans,
) -> Result<Parsed, ProtocolError> {
    let max_line = if limits.authenticated {
        limits.max_line
    } else {
        limits.max_line.min(super::UNAUTHENTICATED_MAX_BULK)
    };
    let from = progress.scanned.min(buf.len());
    let Some(newline) = memchr(b'\n', &buf[from..]).map(|i| from + i) else {
        progress.scanned = buf.len();
        return if buf.len() > max_line {
            Err(TOO_BIG)
        } else {
            Ok(Parsed::Incomplete(0))
        };
    };
    progress.reset();
    let mut end = newline;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    if end > max_line {
        return Err(TOO_BIG);
    }
    split(&buf[..end], 0, args)?;
    if args.spans.is_empty() {
        return Ok(Parsed::Skip(newline + 1));
    }
    Ok(Parsed::Request {
        consumed: newline + 1,
    })
}

/// The length of the first line in `buf`, its `\n` included (0 if none).
pub fn line_len(buf: &[u8]) -> usize {
    memchr(b'\n', buf).map_or(0, |i| i + 1)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into arguments. Unquoted arguments are spans of the line
/// (offset by `base` into the read buffer); quoted ones are unescaped into the
/// scratch buffer.
pub fn split(line: &[u8], base: usize, args: &mut ArgSpans) -> Result<(), ProtocolError> {
    args.clear();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_blank(line[i]) {
            i += 1;
        }
        if i == n {
            return Ok(());
        }
        // Fast path: an argument with no quote in it is a span of the line.
        let start = i;
        while i < n && !is_blank(line[i]) && line[i] != b'"' && line[i] != b'\'' {
            i += 1;
        }
        if i == n || is_blank(line[i]) {
            args.spans.push(Span::Buffer(base + start, base + i));
            continue;
        }
        // A quote: copy what came before it, then unescape into scratch.
        let scratch_start = args.scratch.len();
        args.scratch.extend_from_slice(&line[start..i]);
        loop {
            if i == n || is_blank(line[i]) {
                break;
            }
            match line[i] {
                b'"' => {
                    i += 1;
                    loop {
                        if i == n {
                            return Err(UNBALANCED);
                        }
                        match line[i] {
                            b'\\'
                                if i + 3 < n
                                    && line[i + 1] == b'x'
                                    && hex_value(line[i + 2]).is_some()
                                    && hex_value(line[i + 3]).is_some() =>
                            {
                                let hi = hex_value(line[i + 2]).unwrap_or(0);
                                let lo = hex_value(line[i + 3]).unwrap_or(0);
                                args.scratch.push(hi * 16 + lo);
                                i += 4;
                            }
                            b'\\' if i + 1 < n => {
                                args.scratch.push(match line[i + 1] {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 0x08,
                                    b'a' => 0x07,
                                    other => other,
                                });
                                i += 2;
                            }
                            b'"' => {
                                i += 1;
                                if i < n && !is_blank(line[i]) {
                                    return Err(UNBALANCED);
                                }
                                break;
                            }
                            other => {
                                args.scratch.push(other);
                                i += 1;
                            }
                        }
                    }
                }
                b'\'' => {
                    i += 1;
                    loop {
                        if i == n {
                            return Err(UNBALANCED);
                        }
                        match line[i] {
                            b'\\' if i + 1 < n && line[i + 1] == b'\'' => {
                                args.scratch.push(b'\'');
                                i += 2;
                            }
                            b'\'' => {
                                i += 1;
                                if i < n && !is_blank(line[i]) {
                                    return Err(UNBALANCED);
                                }
                                break;
                            }
                            other => {
                                args.scratch.push(other);
                                i += 1;
                            }
                        }
                    }
                }
                other => {
                    args.scratch.push(other);
                    i += 1;
                }
            }
        }
        args.spans
            .push(Span::Scratch(scratch_start, args.scratch.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let mut args = ArgSpans::default();
        split(line.as_bytes(), 0, &mut args)?;
        let mut out = Vec::new();
        args.resolve(line.as_bytes(), &mut out);
        Ok(out.into_iter().map(<[u8]>::to_vec).collect())
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn splits_on_spaces_and_tabs() {
        assert_eq!(words("SET  a\tb ").unwrap(), strs(&["SET", "a", "b"]));
        assert_eq!(words("   ").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn double_quotes_take_every_escape() {
        assert_eq!(
            words(r#"SET k "a b" "\"\\\n\r\t\a\b\x41\xff\q""#).unwrap(),
            vec![
                b"SET".to_vec(),
                b"k".to_vec(),
                b"a b".to_vec(),
                b"\"\\\n\r\t\x07\x08A\xffq".to_vec()
            ]
        );
        assert_eq!(words(r#""""#).unwrap(), strs(&[""]));
    }

    #[test]
    fn single_quotes_are_literal_but_for_an_escaped_quote() {
        assert_eq!(
            words(r"'a\n b' 'it\'s'").unwrap(),
            strs(&[r"a\n b", "it's"])
        );
    }

    #[test]
    fn unbalanced_or_glued_quotes_are_errors() {
        for line in [r#"SET k "abc"#, "SET k 'abc", r#"SET k "a"b"#, r#"GET "a\"#] {
            assert_eq!(words(line), Err(UNBALANCED), "{line}");
        }
    }

    #[test]
    fn a_quote_inside_a_word_opens_a_quoted_part() {
        assert_eq!(words(r#"ab"c d""#).unwrap(), strs(&["abc d"]));
    }

    #[test]
    fn parse_waits_for_newline_and_enforces_the_limit() {
        let limits = Limits {
            max_bulk: 16,
            max_line: 16,
            authenticated: true,
        };
        let mut args = ArgSpans::default();
        let mut p = Progress::default();
        assert_eq!(
            parse(b"GET a", &limits, &mut p, &mut args),
            Ok(Parsed::Incomplete(0))
        );
        assert_eq!(
            parse(b"GET a\r\nPING\n", &limits, &mut p, &mut args),
            Ok(Parsed::Request { consumed: 7 })
        );
        assert_eq!(
            parse(b"\r\n", &limits, &mut p, &mut args),
            Ok(Parsed::Skip(2))
        );
        assert_eq!(parse(&[b'a'; 17], &limits, &mut p, &mut args), Err(TOO_BIG));
        let mut long = vec![b'a'; 17];
        long.push(b'\n');
        assert_eq!(
            parse(&long, &limits, &mut Progress::default(), &mut args),
            Err(TOO_BIG)
        );
    }

    #[test]
    fn before_auth_a_line_is_at_most_16_kib() {
        let limits = Limits {
            max_bulk: 1 << 20,
            max_line: 1 << 20,
            authenticated: false,
        };
        let mut args = ArgSpans::default();
        let long = vec![b'a'; 16 * 1024 + 1];
        assert_eq!(
            parse(&long, &limits, &mut Progress::default(), &mut args),
            Err(TOO_BIG)
        );
    }
}
