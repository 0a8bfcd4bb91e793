//! [`LongDouble`]: the C `long double` Redis 7.0 does its float increments
//! in (`HINCRBYFLOAT`, `INCRBYFLOAT`), in software: the x87 80-bit
//! extended format of x86-64 Linux, a 64-bit significand with exponents
//! of ±16,383, so that increments read, round and print exactly as Redis's
//! do (`0.1` plus `0.2` is `0.3`, not `0.30000000000000004`; `1e308` twice
//! is a number, not an overflow).
//!
//! Three operations, each exact (big-integer arithmetic where a `u128`
//! does not suffice) and rounded once, to nearest, ties to even:
//! - [`LongDouble::parse`] reads a number as Redis's `string2ld` does
//!   with glibc's `strtold`: the whole argument, decimal (`-1.5e3`, `.5`,
//!   `5.`) or hexadecimal (`0x1.8p1`), or `inf`/`infinity`; refused when
//!   empty, 5 KiB or longer, led by a space, followed by anything, NaN,
//!   too big for the format, or so small that it rounds to zero.
//! - addition (`+`).
//! - [`LongDouble::to_human`] prints as `printf("%.17Lf")` with the
//!   trailing zeros (and a bare point) dropped, and `-0` as `0`: Redis's
//!   `ld2string` in its human mode.
//!
//! This module only computes: it keeps no state, and its work is bounded
//! by the input's length (at most 5 KiB of digits, and numbers of at most
//! about 16,500 bits).

use std::cmp::Ordering;

/// Inputs this long or longer are refused (Redis's `MAX_LONG_DOUBLE_CHARS`,
/// the buffer `string2ld` copies into).
pub const MAX_CHARS: usize = 5 * 1024;

/// The exponent of the least significand bit of the smallest subnormal:
/// every finite value is a multiple of 2^MIN_EXP.
const MIN_EXP: i64 = -16445;

/// The largest exponent of a normal value's least significand bit: every
/// finite value is below 2^(MAX_EXP + 64).
const MAX_EXP: i64 = 16320;

/// An x87 extended-precision number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    class: Class,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Zero,
    /// `significand × 2^exponent`; the significand's top bit is set unless
    /// the exponent is [`MIN_EXP`] (a subnormal).
    Finite {
        significand: u64,
        exponent: i64,
    },
    Infinite,
    Nan,
}

impl LongDouble {
    /// Zero.
    pub const ZERO: LongDouble = LongDouble {
        negative: false,
        class: Class::Zero,
    };

    /// `text` as Redis's `string2ld` reads it (see the module doc), or
    /// `None` where it refuses it.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        let (negative, body) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, text),
        };
        let class = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            Class::Infinite
        } else if let Some(hex) = body
            .strip_prefix(b"0x")
            .or_else(|| body.strip_prefix(b"0X"))
        {
            parse_hex(hex)?
        } else {
            parse_decimal(body)?
        };
        Some(LongDouble { negative, class })
    }

    /// An integer, exactly (every `i64` fits the significand).
    pub fn from_i64(n: i64) -> LongDouble {
        let class = if n == 0 {
            Class::Zero
        } else {
            round(u128::from(n.unsigned_abs()), 0, false)
        };
        LongDouble {
            negative: n < 0,
            class,
        }
    }

    /// Whether it is neither infinite nor NaN.
    pub fn is_finite(self) -> bool {
        matches!(self.class, Class::Zero | Class::Finite { .. })
    }

    /// As Redis's `ld2string` prints in its human mode: `%.17Lf` without
    /// trailing zeros, `inf` / `-inf`, and `0` for a negative zero.
    pub fn to_human(self) -> String {
        let digits = match self.class {
            Class::Nan => return "nan".into(),
            Class::Infinite if self.negative => return "-inf".into(),
            Class::Infinite => return "inf".into(),
            Class::Zero => return "0".into(),
            Class::Finite {
                significand,
                exponent,
            } => fixed_17(significand, exponent),
        };
        if self.negative && digits != "0" {
            format!("-{digits}")
        } else {
            digits
        }
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other`, rounded to nearest (ties to even) as the x87 adds.
    fn add(self, other: LongDouble) -> LongDouble {
        let nan = LongDouble {
            negative: false,
            class: Class::Nan,
        };
        match (self.class, other.class) {
            (Class::Nan, _) | (_, Class::Nan) => nan,
            (Class::Infinite, Class::Infinite) if self.negative != other.negative => nan,
            (Class::Infinite, _) => self,
            (_, Class::Infinite) => other,
            (Class::Zero, Class::Zero) => LongDouble {
                // -0 + -0 is -0; any other sum of zeros is +0.
                negative: self.negative && other.negative,
                class: Class::Zero,
            },
            (Class::Zero, _) => other,
            (_, Class::Zero) => self,
            (
                Class::Finite {
                    significand: ma,
                    exponent: ea,
                },
                Class::Finite {
                    significand: mb,
                    exponent: eb,
                },
            ) => {
                // `x` has the larger exponent, so it is the larger in size
                // unless the exponents are equal.
                let ((mx, ex, nx), (my, ey, ny)) = if ea >= eb {
                    ((ma, ea, self.negative), (mb, eb, other.negative))
                } else {
                    ((mb, eb, other.negative), (ma, ea, self.negative))
                };
                // 62 bits of room below x's significand; y is shifted into
                // them, and what falls off the bottom is kept as a sticky bit.
                const ROOM: u32 = 62;
                let x = u128::from(mx) << ROOM;
                let d = ex - ey;
                let full = u128::from(my) << ROOM;
                let (y, lost) = if d >= 128 {
                    (0, my != 0)
                } else {
                    let y = full >> d;
                    (y, (y << d) != full)
                };
                let exponent = ex - i64::from(ROOM);
                let (negative, sum, sticky) = if nx == ny {
                    (nx, x + y, lost)
                } else if x >= y {
                    // x - (y + a fraction): one below, and sticky.
                    (nx, x - y - u128::from(lost), lost)
                } else {
                    (ny, y - x, false)
                };
                if sum == 0 && !sticky {
                    return LongDouble::ZERO;
                }
                LongDouble {
                    negative,
                    class: round(sum, exponent, sticky),
                }
            }
        }
    }
}

/// `m × 2^e` printed with 17 decimals (rounded to nearest, ties to even,
/// as glibc's `printf` rounds), then trimmed of trailing zeros and a
/// trailing point.
fn fixed_17(m: u64, e: i64) -> String {
    const SCALE: u128 = 100_000_000_000_000_000; // 10^17
    if e >= 0 {
        // An integer: no fraction to print.
        let mut n = Big::from_u64(m);
        n.shl(e as u64);
        return n.to_decimal();
    }
    let k = e.unsigned_abs();
    let (mut whole, fraction) = if k < 64 {
        (m >> k, m & ((1u64 << k) - 1))
    } else {
        (0, m)
    };
    // fraction / 2^k in units of 10^-17; fraction × 10^17 < 2^121.
    let scaled = u128::from(fraction) * SCALE;
    let mut decimals = if k >= 122 {
        // Below half a unit of the last decimal: rounds to nothing.
        0
    } else {
        let q = scaled >> k;
        let rest = scaled - (q << k);
        let half = 1u128 << (k - 1);
        if rest > half || (rest == half && q % 2 == 1) {
            q + 1
        } else {
            q
        }
    };
    if decimals == SCALE {
        decimals = 0;
        whole += 1;
    }
    let mut text = format!("{whole}.{decimals:017}");
    let kept = text.trim_end_matches('0').trim_end_matches('.').len();
    text.truncate(kept);
    text
}

/// The finite (or infinite, on overflow) value nearest to
/// `(n + sticky × a fraction) × 2^e`, for `n > 0` or `sticky`: ties to even,
/// subnormals below 2^-16382, zero below half the least subnormal.
fn round(n: u128, e: i64, sticky: bool) -> Class {
    let bits = i64::from(128 - n.leading_zeros());
    let target = (e + bits - 64).max(MIN_EXP);
    let shift = target - e;
    let significand = if shift <= 0 {
        // Exact: fewer than 64 bits, moved up (at most to the 64th).
        ((n << shift.unsigned_abs().min(127)) as u64, target)
    } else {
        let shift = shift.unsigned_abs();
        let (kept, half, below) = if shift >= 129 {
            (0, false, n != 0 || sticky)
        } else {
            let kept = if shift >= 128 { 0 } else { n >> shift };
            let half = (n >> (shift - 1)) & 1 == 1;
            let mask = (1u128 << (shift - 1)) - 1;
            (kept, half, n & mask != 0 || sticky)
        };
        let kept = kept as u64;
        if half && (below || kept % 2 == 1) {
            match kept.checked_add(1) {
                Some(up) => (up, target),
                None => (1 << 63, target + 1),
            }
        } else {
            (kept, target)
        }
    };
    match significand {
        (0, _) => Class::Zero,
        (_, exponent) if exponent > MAX_EXP => Class::Infinite,
        (significand, exponent) => Class::Finite {
            significand,
            exponent,
        },
    }
}

/// [`round`] of a big `n × 2^e`: its top 128 bits, and a sticky bit for
/// the rest.
fn round_big(n: &Big, e: i64) -> Class {
    let bits = n.bit_len();
    if bits <= 128 {
        return round(n.low_u128(), e, false);
    }
    let drop = bits - 128;
    let mut top = n.clone();
    top.shr(drop);
    round(top.low_u128(), e + drop as i64, n.any_below(drop))
}

/// Most an exponent is taken as: any larger one over- or underflows
/// whatever the digits, and the bound keeps the arithmetic in range.
const EXPONENT_CAP: i64 = 1_000_000;

/// The optional exponent after a mantissa (`e-5`, `p+3`): its value, capped
/// at ±[`EXPONENT_CAP`], or `None` if it is not one whole exponent.
fn exponent_part(rest: &[u8], marks: &[u8; 2]) -> Option<i64> {
    let Some((mark, digits)) = rest.split_first() else {
        return Some(0);
    };
    if !marks.contains(mark) {
        return None;
    }
    let (negative, digits) = match digits.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, digits),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |v, d| {
        (v * 10 + i64::from(d - b'0')).min(EXPONENT_CAP)
    });
    Some(if negative { -value } else { value })
}

/// A mantissa of `digit`s with an optional point: the digits (without the
/// point), how many followed the point, and the rest of the input.
fn mantissa(text: &[u8], digit: fn(&u8) -> bool) -> Option<(Vec<u8>, usize, &[u8])> {
    let whole = text.iter().take_while(|b| digit(b)).count();
    let (mut digits, mut rest) = (text[..whole].to_vec(), &text[whole..]);
    let mut after_point = 0;
    if let Some(tail) = rest.strip_prefix(b".") {
        after_point = tail.iter().take_while(|b| digit(b)).count();
        digits.extend_from_slice(&tail[..after_point]);
        rest = &tail[after_point..];
    }
    (!digits.is_empty()).then_some((digits, after_point, rest))
}

/// A decimal number without its sign: `digits[.digits][e[sign]digits]`.
fn parse_decimal(text: &[u8]) -> Option<Class> {
    let (digits, after_point, rest) = mantissa(text, u8::is_ascii_digit)?;
    let exponent = exponent_part(rest, b"eE")?;
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => &digits[first..],
        None => return Some(Class::Zero),
    };
    // The value is in [10^(top - 1), 10^top).
    let exponent = exponent - after_point as i64;
    let top = significant.len() as i64 + exponent;
    if top > 4933 {
        return None; // above the largest, about 1.19e4932
    }
    if top < -4950 {
        return None; // below half the least subnormal, about 1.8e-4951
    }
    let mut n = Big::from_decimal(significant);
    let class = if exponent >= 0 {
        n.mul_pow10(exponent as u64);
        round_big(&n, 0)
    } else {
        let mut divisor = Big::from_u64(1);
        divisor.mul_pow10(exponent.unsigned_abs());
        // Enough quotient bits (66 or 67) to round, and a sticky remainder.
        let scale = (divisor.bit_len() + 66).saturating_sub(n.bit_len());
        n.shl(scale);
        let (quotient, exact) = n.div_small_quotient(&divisor);
        round(quotient, -(scale as i64), !exact)
    };
    match class {
        // Too big, or so small it rounds to zero: strtold's ERANGE cases
        // that string2ld refuses.
        Class::Infinite | Class::Zero => None,
        finite => Some(finite),
    }
}

/// A hexadecimal number after its `0x`: `hex[.hex][p[sign]digits]`.
fn parse_hex(text: &[u8]) -> Option<Class> {
    let (digits, after_point, rest) = mantissa(text, u8::is_ascii_hexdigit)?;
    let exponent = exponent_part(rest, b"pP")?;
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => &digits[first..],
        None => return Some(Class::Zero),
    };
    let exponent = exponent - 4 * after_point as i64;
    // The value is below 2^top and at least 2^(top - 4).
    let top = 4 * significant.len() as i64 + exponent;
    if !(MIN_EXP - 4..=MAX_EXP + 64 + 4).contains(&top) {
        return None;
    }
    let n = Big::from_hex(significant);
    match round_big(&n, exponent) {
        Class::Infinite | Class::Zero => None,
        finite => Some(finite),
    }
}

/// A non-negative integer of 32-bit limbs, least significant first, with
/// no zero limb at the top.
#[derive(Debug, Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut big = Big(vec![n as u32, (n >> 32) as u32]);
        big.trim();
        big
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut big = Big(Vec::with_capacity(digits.len() / 9 + 1));
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
            big.mul_add(10u32.pow(chunk.len() as u32), value);
        }
        big
    }

    fn from_hex(digits: &[u8]) -> Big {
        let mut big = Big(Vec::with_capacity(digits.len() / 8 + 1));
        for chunk in digits.chunks(7) {
            let value = chunk.iter().fold(0u32, |v, d| {
                v * 16 + char::from(*d).to_digit(16).unwrap_or_default()
            });
            big.mul_add(1 << (4 * chunk.len()), value);
        }
        big
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// `self = self × by + add`.
    fn mul_add(&mut self, by: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(by) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut power: u64) {
        while power > 0 {
            let step = power.min(9);
            self.mul_add(10u32.pow(step as u32), 0);
            power -= step;
        }
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(top) => 32 * self.0.len() as u64 - u64::from(top.leading_zeros()),
        }
    }

    fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .enumerate()
            .fold(0, |v, (i, &limb)| v | u128::from(limb) << (32 * i))
    }

    /// Whether any of the lowest `bits` bits is set.
    fn any_below(&self, bits: u64) -> bool {
        let whole = (bits / 32) as usize;
        let part = (bits % 32) as u32;
        self.0.iter().take(whole).any(|&l| l != 0)
            || (part > 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|&l| l & ((1 << part) - 1) != 0))
    }

    fn shl(&mut self, bits: u64) {
        if self.0.is_empty() {
            return;
        }
        let (whole, part) = ((bits / 32) as usize, (bits % 32) as u32);
        if part > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let next = *limb >> (32 - part);
                *limb = (*limb << part) | carry;
                carry = next;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, whole));
    }

    fn shr(&mut self, bits: u64) {
        let (whole, part) = ((bits / 32) as usize, (bits % 32) as u32);
        self.0.drain(..whole.min(self.0.len()));
        if part > 0 {
            let mut carry = 0;
            for limb in self.0.iter_mut().rev() {
                let next = *limb << (32 - part);
                *limb = (*limb >> part) | carry;
                carry = next;
            }
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`, for `other <= self`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *limb = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    /// The quotient of `self / divisor`, which must be below 2^128, and
    /// whether the division is exact. Consumes `self` as the remainder.
    fn div_small_quotient(&mut self, divisor: &Big) -> (u128, bool) {
        let mut quotient = 0u128;
        let span = self.bit_len().saturating_sub(divisor.bit_len());
        debug_assert!(span < 128);
        let mut shifted = divisor.clone();
        shifted.shl(span);
        for bit in (0..=span).rev() {
            if self.cmp(&shifted) != Ordering::Less {
                self.sub(&shifted);
                quotient |= 1 << bit;
            }
            shifted.shr(1);
        }
        (quotient, self.0.is_empty())
    }

    /// Decimal digits (at least one).
    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 1_000_000_000;
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rest = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rest << 32) | u64::from(*limb);
                *limb = (v / CHUNK) as u32;
                rest = v % CHUNK;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rest as u32);
        }
        let mut text = chunks.pop().unwrap_or(0).to_string();
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(text: &str) -> String {
        LongDouble::parse(text.as_bytes())
            .unwrap_or_else(|| panic!("{text:?} parses"))
            .to_human()
    }

    fn sum(terms: &[&str]) -> String {
        terms
            .iter()
            .map(|t| LongDouble::parse(t.as_bytes()).expect("a number"))
            .fold(LongDouble::ZERO, |a, b| a + b)
            .to_human()
    }

    #[test]
    fn numbers_print_as_redis_prints_them() {
        // Each checked against redis-server 7.0.15 (HINCRBYFLOAT h f x).
        for (text, shown) in [
            ("1.5", "1.5"),
            ("+1", "1"),
            ("-0", "0"),
            ("1.", "1"),
            (".5", "0.5"),
            ("3.0e3", "3000"),
            ("0x10", "16"),
            ("0x1.8p1", "3"),
            ("12345678901234567890123", "12345678901234567889920"),
            ("0.0000000000000000001", "0"),
            ("1e-17", "0.00000000000000001"),
            ("5e-18", "0"),
            ("5.1e-18", "0.00000000000000001"),
            ("-0.00000000000000000001", "0"),
            ("1.23456789012345678901", "1.23456789012345679"),
            ("9999999999999999999.99", "10000000000000000000"),
            // Ties at the 17th decimal go to the even digit.
            ("0.000003814697265625", "0.00000381469726562"),
            ("0.000011444091796875", "0.00001144409179688"),
            ("4e-4950", "0"),
            ("2e-4951", "0"),
            ("0X1P-16445", "0"),
        ] {
            assert_eq!(human(text), shown, "{text}");
        }
        assert_eq!(
            human("1e308"),
            "99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048"
        );
        let big = human("1e4932");
        assert_eq!(big.len(), 4933);
        assert!(big.starts_with("10000000000000000000060189493879638913238377742545331147"));
        assert!(big.ends_with("89350876379371163141086538418113791886622720"));
        assert!(human("1.18e4932").starts_with("1180000000000000000000652812918"));
    }

    #[test]
    fn sums_round_as_the_x87_adds() {
        // Each checked against redis-server 7.0.15.
        assert_eq!(sum(&["0.1", "0.2"]), "0.3");
        assert_eq!(sum(&["10.5", "0.1", "-5"]), "5.6");
        assert_eq!(sum(&["1.5", "-1.5"]), "0");
        assert_eq!(
            sum(&["1e308", "1e308"]),
            "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"
        );
        assert_eq!(sum(&["17179869184", "1"]), "17179869185");
        assert_eq!(sum(&["1", "1e-30"]), "1");
        assert_eq!(sum(&["1e30", "-1e30", "5"]), "5");
        // Far apart: the small one only decides the rounding.
        assert_eq!(sum(&["1e4000", "-1e-4000", "-1e4000"]), "0");
        // Overflow and cancellation of infinities.
        let max = LongDouble::parse(b"1.18e4932").unwrap();
        assert!(!(max + max).is_finite());
        let inf = LongDouble::parse(b"inf").unwrap();
        let minus = LongDouble::parse(b"-infinity").unwrap();
        assert!(!(inf + minus).is_finite());
        assert_eq!((inf + max).to_human(), "inf");
        assert_eq!(minus.to_human(), "-inf");
    }

    #[test]
    fn integers_are_exact() {
        for n in [0, 1, -1, i64::MAX, i64::MIN, 1 << 53, (1 << 53) + 1] {
            assert_eq!(LongDouble::from_i64(n).to_human(), n.to_string());
            assert_eq!(human(&n.to_string()), n.to_string());
        }
        assert_eq!(
            (LongDouble::from_i64(i64::MAX) + LongDouble::from_i64(1)).to_human(),
            "9223372036854775808"
        );
    }

    #[test]
    fn what_string2ld_refuses_is_refused() {
        for bad in [
            "",
            " 1",
            "1 ",
            "\t1",
            "abc",
            "nan",
            "-nan",
            "NaN(1)",
            "1e",
            "1e+",
            "e5",
            ".",
            ".e1",
            "0x",
            "0x.",
            "0xg",
            "0x1p",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "0.1e-4950",
            "1e-4951",
            "0x1p16384",
            "0x1p-16447",
            "1\u{0}2",
            "--1",
            "+-1",
            "infinit",
            "1,5",
            "١",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        let longest = format!("0.{}", "1".repeat(MAX_CHARS - 3));
        assert_eq!(human(&longest), "0.11111111111111111");
        assert!(LongDouble::parse(format!("{longest}1").as_bytes()).is_none());
        let zeros = format!("0.{}1", "0".repeat(MAX_CHARS - 10));
        assert!(LongDouble::parse(zeros.as_bytes()).is_none());
        for good in [
            "0e-99999999999",
            "0x0p99999999",
            "INF",
            "+Infinity",
            "00012",
            "1E2",
        ] {
            assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good}");
        }
    }

    #[test]
    fn the_extremes_round_trip_through_their_hex_spelling() {
        let least = LongDouble::parse(b"0x1p-16445").unwrap();
        assert_eq!(
            least.class,
            Class::Finite {
                significand: 1,
                exponent: MIN_EXP
            }
        );
        // Half the least subnormal is a tie, which rounds to zero (even).
        assert_eq!(LongDouble::parse(b"0x1p-16446"), None);
        assert_eq!(LongDouble::parse(b"0x1.8p-16446"), Some(least));
        let top = LongDouble::parse(b"0x1.fffffffffffffffep16383").unwrap();
        assert_eq!(
            top.class,
            Class::Finite {
                significand: u64::MAX,
                exponent: MAX_EXP
            }
        );
        assert_eq!(LongDouble::parse(b"0x1.ffffffffffffffffp16383"), None);
        assert_eq!((least + least).to_human(), "0");
        let smallest_normal = LongDouble::parse(b"0x1p-16382").unwrap();
        let below = LongDouble::parse(b"0x0.fffffffffffffffep-16382").unwrap();
        assert_eq!(below + least, smallest_normal);
    }
}
