//! Replies, and their encoding in the line protocol, RESP2 and RESP3.
//!
//! A command builds one [`Reply`]; the connection encodes it in the dialect the
//! request came in. The line protocol follows redis-cli's display: `OK`,
//! `"quoted"` strings with escapes that the line parser reads back, `(nil)`,
//! `(integer) N`, `(error) ...`, numbered array lines. RESP3-only types (maps,
//! doubles, booleans, null, verbatim text) fall back to their RESP2 shapes on a
//! RESP2 connection, as Redis does. Encoding only appends to a buffer.

use crate::entry::Entry;
use crate::error::CommandError;
use std::borrow::Cow;

use super::Dialect;

/// Bytes a reply carries: shared with the keyspace, or built for the reply.
#[derive(Debug, Clone)]
pub enum Bytes {
    /// Bytes built for this reply.
    Owned(Vec<u8>),
    /// The value of a stored entry (no copy was made).
    Value(Entry),
    /// The key of a stored entry (no copy was made).
    Key(Entry),
}

impl Bytes {
    /// The key of `entry`: shared for a string's entry, copied for a
    /// collection's, which a reply must not hold (a clone alive makes the
    /// next edit of the collection copy it whole).
    pub fn key_of(entry: &Entry) -> Bytes {
        if entry.collection().is_some() {
            Bytes::Owned(entry.key().to_vec())
        } else {
            Bytes::Key(entry.clone())
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(b) => b,
            Bytes::Value(e) => e.value(),
            Bytes::Key(e) => e.key(),
        }
    }
}

/// One reply to one command.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A status line, `+text`.
    Status(Cow<'static, str>),
    /// An error, `-PREFIX text`.
    Error(CommandError),
    /// `:n`
    Integer(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map: `%` in RESP3, a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set: `~` in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// A double: `,` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    Bool(bool),
    /// Text meant for people (INFO): `=` verbatim in RESP3, a bulk string in RESP2.
    Verbatim(String),
    /// An array of bulk strings packed into one buffer (see [`Bulks`]):
    /// the same bytes on the wire as an `Array` of `Bulk`s.
    Bulks(Box<Bulks>),
}

/// Bulk strings packed into one buffer, for a reply of many elements (a
/// list's range, say): one allocation however many elements there are,
/// where an `Array` of `Bulk`s takes one per element, made and freed
/// while the command runs. Each element is kept framed as RESP frames a
/// bulk string (`$3\r\nabc\r\n`), which RESP2 and RESP3 share, so that
/// encoding the reply is one copy; the line protocol reads the frames
/// back.
#[derive(Debug, Clone, Default)]
pub struct Bulks {
    framed: Vec<u8>,
    count: usize,
}

impl Bulks {
    /// Room for `count` elements of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Bulks {
        Bulks {
            framed: Vec::with_capacity(bytes + 8 * count),
            count: 0,
        }
    }

    /// Appends one element (a copy of `element`).
    pub fn push(&mut self, element: &[u8]) {
        bulk(&mut self.framed, element);
        self.count += 1;
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.framed.as_slice();
        std::iter::from_fn(move || {
            // `$<len>\r\n<bytes>\r\n`, as `push` wrote it.
            let digits = rest.iter().skip(1).position(|&b| b == b'\r')?;
            let len: usize = std::str::from_utf8(&rest[1..1 + digits])
                .ok()?
                .parse()
                .ok()?;
            let start = 1 + digits + 2;
            let element = rest.get(start..start + len)?;
            rest = rest.get(start + len + 2..).unwrap_or_default();
            Some(element)
        })
    }

    /// The reply: an array of these bulk strings.
    pub fn into_reply(self) -> Reply {
        Reply::Bulks(Box::new(self))
    }
}

impl Reply {
    /// A bulk string copied from `bytes`.
    pub fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(Bytes::Owned(bytes.to_vec()))
    }

    /// A bulk string of `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::Owned(text.into().into_bytes()))
    }

    /// A status reply of `text`.
    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(text))
    }

    /// Appends this reply, encoded for `dialect`, to `out`.
    pub fn encode(&self, dialect: Dialect, out: &mut Vec<u8>) {
        match dialect {
            Dialect::Line => {
                encode_line(self, 0, out);
            }
            Dialect::Resp2 => encode_resp(self, false, out),
            Dialect::Resp3 => encode_resp(self, true, out),
        }
    }
}

impl From<CommandError> for Reply {
    fn from(e: CommandError) -> Self {
        Reply::Error(e)
    }
}

/// Writes `n` in decimal into `buf`, returning the digits (no allocation).
pub fn format_int(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        // i64::MIN has 19 digits, so there is always room for the sign.
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(format_int(n, &mut buf));
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    push_int(out, n as i64);
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    // Short lengths, the most common, framed without formatting digits.
    match bytes.len() {
        n @ 0..10 => out.extend_from_slice(&[b'$', b'0' + n as u8, b'\r', b'\n']),
        n @ 10..100 => out.extend_from_slice(&[
            b'$',
            b'0' + (n / 10) as u8,
            b'0' + (n % 10) as u8,
            b'\r',
            b'\n',
        ]),
        n => header(out, b'$', n),
    }
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Formats a double as Redis 7.0 replies one (`addReplyDouble`): C's
/// `%.17g`, seventeen significant digits with trailing zeros dropped
/// (`1.5`, `3`, `0.10000000000000001`, `1e+17`), and `inf`/`-inf`/`nan`.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g17(d)
}

/// C's `printf("%.17g", d)` for a finite `d`.
fn format_g17(d: f64) -> String {
    const PRECISION: i32 = 17;
    // Rust's `{:e}` with 16 decimals rounds to 17 significant digits
    // exactly as printf does (correctly rounded, ties to even).
    let sci = format!("{:.16e}", d);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if (-4..PRECISION).contains(&exponent) {
        // Fixed notation with PRECISION - 1 - exponent decimals.
        if exponent >= 0 {
            let point = exponent as usize + 1;
            out.push_str(&digits[..point]);
            let fraction = digits[point..].trim_end_matches('0');
            if !fraction.is_empty() {
                out.push('.');
                out.push_str(fraction);
            }
        } else {
            let fraction = digits.trim_end_matches('0');
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(fraction);
        }
    } else {
        out.push_str(&digits[..1]);
        let fraction = digits[1..].trim_end_matches('0');
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    }
    out
}

/// Strips CR and LF from error text so one error is always one line.
fn error_line(e: &CommandError) -> String {
    e.to_string().replace(['\r', '\n'], " ")
}

fn encode_resp(reply: &Reply, resp3: bool, out: &mut Vec<u8>) {
    match reply {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Status(s) => {
            out.push(b'+');
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Error(e) => {
            out.push(b'-');
            out.extend_from_slice(error_line(e).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Integer(n) => {
            out.push(b':');
            push_int(out, *n);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(b) => bulk(out, b.as_slice()),
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            header(out, b'*', items.len());
            for item in items {
                encode_resp(item, resp3, out);
            }
        }
        Reply::Set(items) => {
            header(out, if resp3 { b'~' } else { b'*' }, items.len());
            for item in items {
                encode_resp(item, resp3, out);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                header(out, b'%', pairs.len());
            } else {
                header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode_resp(k, resp3, out);
                encode_resp(v, resp3, out);
            }
        }
        Reply::Double(d) if resp3 => {
            out.push(b',');
            out.extend_from_slice(format_double(*d).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
        Reply::Bool(b) if resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Bool(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
        Reply::Verbatim(text) if resp3 => {
            header(out, b'=', text.len() + 4);
            out.extend_from_slice(b"txt:");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim(text) => bulk(out, text.as_bytes()),
        Reply::Bulks(bulks) => {
            header(out, b'*', bulks.len());
            out.extend_from_slice(&bulks.framed);
        }
    }
}

/// Appends `bytes` as a double-quoted string whose escapes the line parser
/// reads back to the same bytes (redis-cli's `sdscatrepr`).
pub fn quote(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
        }
    }
    out.push(b'"');
}

/// Encodes `reply` as redis-cli shows it. `indent` is the column nested array
/// lines after the first start at.
fn encode_line(reply: &Reply, indent: usize, out: &mut Vec<u8>) {
    match reply {
        Reply::Ok => out.extend_from_slice(b"OK\n"),
        Reply::Status(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Reply::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(error_line(e).as_bytes());
            out.push(b'\n');
        }
        Reply::Integer(n) => {
            out.extend_from_slice(b"(integer) ");
            push_int(out, *n);
            out.push(b'\n');
        }
        Reply::Bool(b) => {
            out.extend_from_slice(if *b {
                b"(integer) 1\n"
            } else {
                b"(integer) 0\n"
            });
        }
        Reply::Bulk(b) => {
            quote(b.as_slice(), out);
            out.push(b'\n');
        }
        Reply::Double(d) => {
            quote(format_double(*d).as_bytes(), out);
            out.push(b'\n');
        }
        Reply::Nil | Reply::NilArray => out.extend_from_slice(b"(nil)\n"),
        Reply::Verbatim(text) => {
            // People read INFO at the prompt: show its lines as they are.
            for line in text.split_terminator('\n') {
                out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
                out.push(b'\n');
            }
        }
        Reply::Array(items) | Reply::Set(items) => {
            encode_line_items(items.iter(), items.len(), indent, out)
        }
        Reply::Map(pairs) => encode_line_items(
            pairs.iter().flat_map(|(k, v)| [k, v]),
            pairs.len() * 2,
            indent,
            out,
        ),
        // People at a prompt: shown as the array it stands for.
        Reply::Bulks(bulks) => {
            let items: Vec<Reply> = bulks.iter().map(Reply::bulk).collect();
            encode_line_items(items.iter(), items.len(), indent, out)
        }
    }
}

fn encode_line_items<'a>(
    items: impl Iterator<Item = &'a Reply>,
    len: usize,
    indent: usize,
    out: &mut Vec<u8>,
) {
    if len == 0 {
        out.extend_from_slice(b"(empty array)\n");
        return;
    }
    let width = len.to_string().len();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.resize(out.len() + indent, b' ');
        }
        let label = format!("{:>width$}) ", i + 1);
        out.extend_from_slice(label.as_bytes());
        encode_line(item, indent + label.len(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ArgSpans, inline};

    #[test]
    fn packed_bulks_read_back_and_encode_as_the_array_they_stand_for() {
        let elements: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"\r\n$3\r\n".to_vec(),
            vec![b'x'; 9],
            vec![b'y'; 10],
            vec![b'z'; 99],
            vec![0; 100],
            vec![7; 70_000],
        ];
        let mut bulks = Bulks::with_capacity(elements.len(), 0);
        elements.iter().for_each(|e| bulks.push(e));
        assert_eq!(bulks.len(), elements.len());
        assert_eq!(bulks.iter().collect::<Vec<_>>(), elements);
        let array = Reply::Array(elements.iter().map(|e| Reply::bulk(e)).collect());
        for dialect in [Dialect::Resp2, Dialect::Resp3, Dialect::Line] {
            let (mut packed, mut plain) = (Vec::new(), Vec::new());
            bulks.clone().into_reply().encode(dialect, &mut packed);
            array.encode(dialect, &mut plain);
            assert!(packed == plain, "{dialect:?}");
        }
        let mut empty = Vec::new();
        Bulks::default()
            .into_reply()
            .encode(Dialect::Line, &mut empty);
        assert_eq!(empty, b"(empty array)\n");
    }

    fn line(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.encode(Dialect::Line, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn resp(reply: &Reply, dialect: Dialect) -> Vec<u8> {
        let mut out = Vec::new();
        reply.encode(dialect, &mut out);
        out
    }

    #[test]
    fn line_dialect_follows_redis_cli() {
        assert_eq!(line(&Reply::Ok), "OK\n");
        assert_eq!(line(&Reply::Integer(-3)), "(integer) -3\n");
        assert_eq!(line(&Reply::Nil), "(nil)\n");
        assert_eq!(line(&Reply::bulk(b"vimla")), "\"vimla\"\n");
        assert_eq!(line(&Reply::Array(vec![])), "(empty array)\n");
        assert_eq!(
            line(&Reply::Error(CommandError::Syntax)),
            "(error) ERR syntax error\n"
        );
        let items: Vec<Reply> = (0..10).map(Reply::Integer).collect();
        let shown = line(&Reply::Array(items));
        assert!(shown.starts_with(" 1) (integer) 0\n 2) (integer) 1\n"));
        assert!(shown.ends_with("10) (integer) 9\n"));
    }

    #[test]
    fn nested_arrays_indent_like_redis_cli() {
        let r = Reply::Array(vec![
            Reply::text("a"),
            Reply::Array(vec![Reply::text("b"), Reply::text("c")]),
        ]);
        assert_eq!(line(&r), "1) \"a\"\n2) 1) \"b\"\n   2) \"c\"\n");
    }

    #[test]
    fn every_byte_round_trips_through_quote_and_the_line_parser() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut shown = b"SET k ".to_vec();
        quote(&all, &mut shown);
        let mut args = ArgSpans::default();
        inline::split(&shown, 0, &mut args).unwrap();
        let mut out = Vec::new();
        args.resolve(&shown, &mut out);
        assert_eq!(out[2], &all[..]);
    }

    #[test]
    fn quote_uses_the_named_escapes() {
        let mut out = Vec::new();
        quote(b"\"\\\n\r\t\x07\x08\x00\xff", &mut out);
        assert_eq!(out, br#""\"\\\n\r\t\a\b\x00\xff""#);
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Integer(1))]);
        assert_eq!(resp(&map, Dialect::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(resp(&map, Dialect::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(resp(&Reply::Nil, Dialect::Resp2), b"$-1\r\n");
        assert_eq!(resp(&Reply::Nil, Dialect::Resp3), b"_\r\n");
        assert_eq!(resp(&Reply::Double(1.5), Dialect::Resp3), b",1.5\r\n");
        assert_eq!(resp(&Reply::Double(1.5), Dialect::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(resp(&Reply::Bool(true), Dialect::Resp3), b"#t\r\n");
        assert_eq!(
            resp(&Reply::Integer(i64::MIN), Dialect::Resp2),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(
            resp(&Reply::Verbatim("hi".into()), Dialect::Resp3),
            b"=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(5.0e3), "5000");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        for (d, text) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e17, "1e+17"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (1e300, "1.0000000000000001e+300"),
            (-2.5e-10, "-2.5000000000000002e-10"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e-310, "9.9999999999999694e-311"),
            (150.0, "150"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(format_double(d), text, "{d:e}");
        }
    }
}
