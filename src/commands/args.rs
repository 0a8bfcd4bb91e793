//! A cursor over one command's arguments, so that every handler reads its
//! options the same way and every option error reads as Redis's.
//!
//! [`Args`] hands the arguments out in order: as bytes, as integers, as
//! floats, or as keywords matched in any letter case. An option whose value
//! is missing is `ERR syntax error`, and so is anything left over at
//! [`Args::finish`], as in Redis. Container commands (`CLIENT`, `CONFIG`,
//! `COMMAND`) choose their subcommand through [`Args::subcommand`], which
//! gives Redis's "unknown subcommand" and "wrong number of arguments for
//! 'client|id'" texts. The cursor only reads arguments; what they mean, and
//! which combinations conflict, stays with the command.
//!
//! # Format
//!
//! A typical option loop, for `SCAN cursor [MATCH pattern] [COUNT n]`:
//!
//! ```text
//! let mut args = Args::new(argv);
//! let cursor = args.next_with(parse_cursor)?;
//! while let Some(option) = args.keyword(&[("match", Match), ("count", Count)]) {
//!     match option {
//!         Match => pattern = Some(args.next_bytes()?),
//!         Count => count = args.next_int()?,
//!     }
//! }
//! args.finish()?;
//! ```

use crate::error::{CommandError, shown};

/// The arguments of one command not yet read, front first.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    /// Everything the cursor was made over.
    line: &'a [&'a [u8]],
    /// Index in `line` of the next argument to hand out.
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor over a whole command line `argv`, starting after its name.
    pub fn new(argv: &'a [&'a [u8]]) -> Self {
        Args {
            line: argv,
            pos: argv.len().min(1),
        }
    }

    /// A cursor over exactly `args` (a command's tail, for a parser that
    /// is given only its options).
    pub fn over(args: &'a [&'a [u8]]) -> Self {
        Args { line: args, pos: 0 }
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.line.len() - self.pos
    }

    /// Whether every argument has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, left unread.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.line.get(self.pos).copied()
    }

    /// The arguments left, unread.
    pub fn rest(&self) -> &'a [&'a [u8]] {
        &self.line[self.pos..]
    }

    /// Reads every argument left (a key list, `CONFIG GET`'s patterns).
    pub fn take_rest(&mut self) -> &'a [&'a [u8]] {
        let rest = self.rest();
        self.pos = self.line.len();
        rest
    }

    /// Reads the next `n` arguments (the keys after a `numkeys`), or is a
    /// syntax error, reading nothing, when fewer are left.
    pub fn next_many(&mut self, n: usize) -> Result<&'a [&'a [u8]], CommandError> {
        let many = self.rest().get(..n).ok_or(CommandError::Syntax)?;
        self.pos += n;
        Ok(many)
    }

    /// Reads the next argument; a syntax error when there is none.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], CommandError> {
        self.next().ok_or(CommandError::Syntax)
    }

    /// Reads the next argument as a signed 64-bit integer, or is
    /// `ERR value is not an integer or out of range`.
    pub fn next_int(&mut self) -> Result<i64, CommandError> {
        parse_int(self.next_bytes()?)
    }

    /// Reads the next argument as a double, or is `ERR value is not a
    /// valid float` (see [`parse_double`]).
    pub fn next_float(&mut self) -> Result<f64, CommandError> {
        parse_double(self.next_bytes()?).ok_or(CommandError::NotFloat)
    }

    /// Reads the next argument through `parse`, for a value with an error
    /// text of its own (a cursor, a timeout, a protocol version).
    pub fn next_with<T>(
        &mut self,
        parse: impl FnOnce(&'a [u8]) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        parse(self.next_bytes()?)
    }

    /// Reads the next argument if it is `word`, in any letter case.
    pub fn eat(&mut self, word: &str) -> bool {
        let found = self.peek().is_some_and(|arg| is_word(arg, word));
        if found {
            self.pos += 1;
        }
        found
    }

    /// If the next argument is one of `words` (in any letter case), reads
    /// it and returns what it stands for; otherwise reads nothing. The loop
    /// over a command's options is `while let Some(o) = args.keyword(..)`,
    /// then [`finish`](Self::finish).
    pub fn keyword<T: Copy>(&mut self, words: &[(&str, T)]) -> Option<T> {
        let found = keyword_of(self.peek()?, words)?;
        self.pos += 1;
        Some(found)
    }

    /// Reads the next argument, which must be one of `words` (a required
    /// choice such as `LEFT|RIGHT`), or is a syntax error.
    pub fn next_keyword<T: Copy>(&mut self, words: &[(&str, T)]) -> Result<T, CommandError> {
        self.keyword(words).ok_or(CommandError::Syntax)
    }

    /// Reads every argument left as pairs (`field value ...`); a syntax
    /// error, reading nothing, when an odd number is left.
    pub fn pairs(&mut self) -> Result<std::slice::ChunksExact<'a, &'a [u8]>, CommandError> {
        if self.remaining() % 2 != 0 {
            return Err(CommandError::Syntax);
        }
        Ok(self.take_rest().chunks_exact(2))
    }

    /// Reads a container command's subcommand, from a cursor fresh from
    /// [`new`](Self::new), and checks the line's length against its row of
    /// `table`: lower-case name, arity in Redis's convention (the whole
    /// line counted, negative meaning "at least"), and what it stands for.
    /// `command` is the container's lower-case name; the errors are
    /// Redis's `ERR unknown subcommand 'x'. Try CLIENT HELP.` and `ERR wrong
    /// number of arguments for 'client|id' command`.
    pub fn subcommand<T: Copy>(
        &mut self,
        command: &str,
        table: &[(&str, i32, T)],
    ) -> Result<T, CommandError> {
        debug_assert_eq!(self.pos, 1, "subcommand read from a fresh command line");
        let argc = self.line.len();
        let sub = self
            .next()
            .ok_or_else(|| CommandError::WrongArity(command.to_string()))?;
        let Some(&(name, arity, which)) = table.iter().find(|(name, ..)| is_word(sub, name)) else {
            return Err(CommandError::other(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                shown(sub),
                command.to_ascii_uppercase()
            )));
        };
        let fits = match usize::try_from(arity) {
            Ok(exact) => argc == exact,
            Err(_) => argc >= arity.unsigned_abs() as usize,
        };
        if !fits {
            return Err(CommandError::WrongArity(format!("{command}|{name}")));
        }
        Ok(which)
    }

    /// Ends the parse: `ERR syntax error` if any argument is left.
    pub fn finish(self) -> Result<(), CommandError> {
        self.finish_or_else(|| CommandError::Syntax)
    }

    /// Ends the parse with `error` if any argument is left, for a command
    /// whose extras are some other error (`PING a b` is an arity error).
    pub fn finish_or_else(self, error: impl FnOnce() -> CommandError) -> Result<(), CommandError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(error())
        }
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    /// Reads the next argument, if any.
    fn next(&mut self) -> Option<&'a [u8]> {
        let arg = self.peek()?;
        self.pos += 1;
        Some(arg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}

/// What `arg` stands for if it is one of `words`, in any letter case.
pub fn keyword_of<T: Copy>(arg: &[u8], words: &[(&str, T)]) -> Option<T> {
    words
        .iter()
        .find(|(word, _)| is_word(arg, word))
        .map(|&(_, which)| which)
}

/// Whether `arg` equals the ASCII word `word`, ignoring case.
pub fn is_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses a client-sent integer the way Redis does, or `ERR value is not an integer`.
pub fn parse_int(arg: &[u8]) -> Result<i64, CommandError> {
    crate::protocol::resp::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// Parses a double the way Redis reads a score or any other double
/// argument: the whole argument a decimal number (or `inf`, `infinity`,
/// signed, in any case), no space before it, not NaN, and in range: a
/// number too big for a double, or so small that it would read as zero, is
/// refused rather than rounded. C's `strtod` also takes hexadecimal
/// floats; this does not.
pub fn parse_double(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    // Rust's parse refuses surrounding space itself, so nothing is skipped.
    let value: f64 = text.parse().ok()?;
    let digits = text.trim_start_matches(['+', '-']);
    let spelled_infinite = digits.starts_with(['i', 'I']);
    if value.is_nan() || (value.is_infinite() && !spelled_infinite) {
        return None;
    }
    let mantissa = digits.split(['e', 'E']).next().unwrap_or_default();
    if value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line as the handler receives it.
    fn line<'a>(words: &'a [&'a str]) -> Vec<&'a [u8]> {
        words.iter().map(|w| w.as_bytes()).collect()
    }

    fn other(text: &'static str) -> CommandError {
        CommandError::other(text)
    }

    #[test]
    fn arguments_come_out_in_order_and_a_missing_one_is_a_syntax_error() {
        let argv = line(&["cmd", "a", "-12", "2.5"]);
        let mut args = Args::new(&argv);
        assert_eq!(args.remaining(), 3);
        assert_eq!(args.peek(), Some(&b"a"[..]));
        assert_eq!(args.next_bytes(), Ok(&b"a"[..]));
        assert_eq!(args.next_int(), Ok(-12));
        assert_eq!(args.next_float(), Ok(2.5));
        assert!(args.is_empty());
        assert_eq!(args.next_bytes(), Err(CommandError::Syntax));
        assert_eq!(args.next_int(), Err(CommandError::Syntax));
        assert_eq!(args.finish(), Ok(()));
    }

    #[test]
    fn bad_numbers_are_the_redis_errors() {
        let argv = line(&["cmd", "1.5", "99999999999999999999", "abc", "nan"]);
        let mut args = Args::new(&argv);
        assert_eq!(args.next_int(), Err(CommandError::NotInteger));
        assert_eq!(args.next_int(), Err(CommandError::NotInteger));
        assert_eq!(args.next_float(), Err(CommandError::NotFloat));
        assert_eq!(args.next_float(), Err(CommandError::NotFloat));
        assert_eq!(
            CommandError::NotInteger.to_string(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            CommandError::NotFloat.to_string(),
            "ERR value is not a valid float"
        );
    }

    #[test]
    fn doubles_parse_as_redis_reads_a_score() {
        for (text, value) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+.5", 0.5),
            ("1e3", 1000.0),
            ("inf", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("+infinity", f64::INFINITY),
            ("0e-400", 0.0),
            ("-0", 0.0),
        ] {
            assert_eq!(parse_double(text.as_bytes()), Some(value), "{text}");
        }
        assert!(parse_double(b"1e-310").is_some_and(|v| v > 0.0));
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e400", "-1e400", "1e-400", "1e", "0x10",
        ] {
            assert_eq!(parse_double(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn finish_rejects_extras_with_a_syntax_error() {
        let argv = line(&["cmd", "extra"]);
        assert_eq!(Args::new(&argv).finish(), Err(CommandError::Syntax));
        assert_eq!(
            Args::new(&argv).finish_or_else(|| CommandError::WrongArity("ping".into())),
            Err(CommandError::WrongArity("ping".into()))
        );
        assert_eq!(Args::over(&argv[2..]).finish(), Ok(()));
    }

    #[test]
    fn keywords_match_in_any_case_and_read_nothing_when_they_do_not() {
        let argv = line(&["cmd", "Nx", "bogus"]);
        let mut args = Args::new(&argv);
        let words = [("nx", 1), ("xx", 2)];
        assert_eq!(args.keyword(&words), Some(1));
        assert_eq!(args.keyword(&words), None);
        assert!(!args.eat("xx"));
        assert_eq!(args.next_keyword(&words), Err(CommandError::Syntax));
        assert!(args.eat("BOGUS"));
        assert_eq!(args.next_keyword(&words), Err(CommandError::Syntax));
    }

    #[test]
    fn pairs_and_counted_lists_are_read_whole_or_not_at_all() {
        let argv = line(&["cmd", "a", "1", "b", "2"]);
        let pairs: Vec<_> = Args::new(&argv).pairs().unwrap().collect();
        assert_eq!(pairs, [[&b"a"[..], b"1"], [&b"b"[..], b"2"]]);
        let mut odd = Args::new(&argv[..4]);
        assert!(odd.pairs().is_err());
        assert_eq!(odd.remaining(), 3);
        let mut args = Args::new(&argv);
        assert_eq!(args.next_many(2), Ok(&argv[1..3]));
        assert_eq!(args.next_many(3), Err(CommandError::Syntax));
        assert_eq!(args.take_rest(), &argv[3..]);
        assert!(args.is_empty());
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Sub {
        Id,
        SetName,
        List,
    }

    const SUBS: &[(&str, i32, Sub)] = &[
        ("id", 2, Sub::Id),
        ("setname", 3, Sub::SetName),
        ("list", -2, Sub::List),
    ];

    fn sub(words: &[&str]) -> Result<Sub, CommandError> {
        let argv = line(words);
        Args::new(&argv).subcommand("client", SUBS)
    }

    #[test]
    fn subcommands_check_their_arity_and_name_the_container_in_errors() {
        assert_eq!(sub(&["client", "ID"]), Ok(Sub::Id));
        assert_eq!(sub(&["client", "setname", "x"]), Ok(Sub::SetName));
        assert_eq!(sub(&["client", "list", "type", "normal"]), Ok(Sub::List));
        assert_eq!(
            sub(&["client", "id", "x"]).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'client|id' command"
        );
        assert_eq!(
            sub(&["client", "setname"]).unwrap_err().to_string(),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            sub(&["client", "Bogus"]).unwrap_err().to_string(),
            "ERR unknown subcommand 'Bogus'. Try CLIENT HELP."
        );
    }

    // The shapes the sorted-set and list commands will parse, each checked
    // against redis-server 7.0.15's replies.

    #[derive(Debug, Default, PartialEq)]
    struct Zadd {
        nx: bool,
        xx: bool,
        gt: bool,
        lt: bool,
        ch: bool,
        incr: bool,
        members: Vec<(f64, Vec<u8>)>,
    }

    #[derive(Clone, Copy)]
    enum ZaddFlag {
        Nx,
        Xx,
        Gt,
        Lt,
        Ch,
        Incr,
    }

    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
    fn zadd(words: &[&str]) -> Result<Zadd, CommandError> {
        let argv = line(words);
        let mut args = Args::new(&argv);
        let _key = args.next_bytes()?;
        let mut z = Zadd::default();
        while let Some(flag) = args.keyword(&[
            ("nx", ZaddFlag::Nx),
            ("xx", ZaddFlag::Xx),
            ("gt", ZaddFlag::Gt),
            ("lt", ZaddFlag::Lt),
            ("ch", ZaddFlag::Ch),
            ("incr", ZaddFlag::Incr),
        ]) {
            let set = match flag {
                ZaddFlag::Nx => &mut z.nx,
                ZaddFlag::Xx => &mut z.xx,
                ZaddFlag::Gt => &mut z.gt,
                ZaddFlag::Lt => &mut z.lt,
                ZaddFlag::Ch => &mut z.ch,
                ZaddFlag::Incr => &mut z.incr,
            };
            *set = true;
        }
        if args.is_empty() {
            return Err(CommandError::Syntax);
        }
        let pairs = args.pairs()?;
        if z.nx && z.xx {
            return Err(other(
                "ERR XX and NX options at the same time are not compatible",
            ));
        }
        if (z.nx && (z.gt || z.lt)) || (z.gt && z.lt) {
            return Err(other(
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if z.incr && pairs.len() > 1 {
            return Err(other(
                "ERR INCR option supports a single increment-element pair",
            ));
        }
        for pair in pairs {
            let score = Args::over(&pair[..1]).next_float()?;
            z.members.push((score, pair[1].to_vec()));
        }
        Ok(z)
    }

    #[test]
    fn zadd_shapes_parse() {
        let z = zadd(&["zadd", "z", "XX", "gt", "CH", "1.5", "a", "-inf", "b"]).unwrap();
        assert!(z.xx && z.gt && z.ch && !z.nx && !z.lt && !z.incr);
        assert_eq!(
            z.members,
            [(1.5, b"a".to_vec()), (f64::NEG_INFINITY, b"b".to_vec())]
        );
        assert!(zadd(&["zadd", "z", "nx", "incr", "1", "a"]).is_ok_and(|z| z.nx && z.incr));
        // A flag word after the first score is a member, not a flag.
        assert_eq!(
            zadd(&["zadd", "z", "1", "nx"]).unwrap().members,
            [(1.0, b"nx".to_vec())]
        );
        for (words, error) in [
            (
                &["zadd", "z", "nx", "xx", "1", "a"][..],
                "ERR XX and NX options at the same time are not compatible",
            ),
            (
                &["zadd", "z", "gt", "lt", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["zadd", "z", "nx", "gt", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["zadd", "z", "incr", "1", "a", "2", "b"],
                "ERR INCR option supports a single increment-element pair",
            ),
            (&["zadd", "z", "1", "a", "2"], "ERR syntax error"),
            (&["zadd", "z", "nx", "xx", "1"], "ERR syntax error"),
            (&["zadd", "z", "nx"], "ERR syntax error"),
            (&["zadd", "z", "abc", "a"], "ERR value is not a valid float"),
        ] {
            assert_eq!(zadd(words).unwrap_err().to_string(), error, "{words:?}");
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum RangeBy {
        Rank,
        Score,
        Lex,
    }

    #[derive(Debug, PartialEq)]
    struct Zrange<'a> {
        start: &'a [u8],
        stop: &'a [u8],
        by: RangeBy,
        rev: bool,
        limit: Option<(i64, i64)>,
        with_scores: bool,
    }

    #[derive(Clone, Copy)]
    enum ZrangeOption {
        ByScore,
        ByLex,
        Rev,
        Limit,
        WithScores,
    }

    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
    fn zrange<'a>(argv: &'a [&'a [u8]]) -> Result<Zrange<'a>, CommandError> {
        let mut args = Args::new(argv);
        let _key = args.next_bytes()?;
        let (start, stop) = (args.next_bytes()?, args.next_bytes()?);
        let mut by = None;
        let (mut rev, mut limit, mut with_scores) = (false, None, false);
        while let Some(option) = args.keyword(&[
            ("byscore", ZrangeOption::ByScore),
            ("bylex", ZrangeOption::ByLex),
            ("rev", ZrangeOption::Rev),
            ("limit", ZrangeOption::Limit),
            ("withscores", ZrangeOption::WithScores),
        ]) {
            match option {
                ZrangeOption::ByScore if by.is_none() => by = Some(RangeBy::Score),
                ZrangeOption::ByLex if by.is_none() => by = Some(RangeBy::Lex),
                ZrangeOption::Rev if !rev => rev = true,
                ZrangeOption::Limit if args.remaining() >= 2 => {
                    limit = Some((args.next_int()?, args.next_int()?));
                }
                ZrangeOption::WithScores => with_scores = true,
                _ => return Err(CommandError::Syntax),
            }
        }
        args.finish()?;
        let by = by.unwrap_or(RangeBy::Rank);
        if limit.is_some() && by == RangeBy::Rank {
            return Err(other(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        if with_scores && by == RangeBy::Lex {
            return Err(other(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        Ok(Zrange {
            start,
            stop,
            by,
            rev,
            limit,
            with_scores,
        })
    }

    #[test]
    fn zrange_shapes_parse() {
        let argv = line(&[
            "zrange",
            "z",
            "(1",
            "+inf",
            "BYSCORE",
            "limit",
            "0",
            "-1",
            "rev",
            "withscores",
        ]);
        assert_eq!(
            zrange(&argv),
            Ok(Zrange {
                start: b"(1",
                stop: b"+inf",
                by: RangeBy::Score,
                rev: true,
                limit: Some((0, -1)),
                with_scores: true,
            })
        );
        let argv = line(&["zrange", "z", "0", "-1"]);
        assert!(zrange(&argv).is_ok_and(|z| z.by == RangeBy::Rank && z.limit.is_none()));
        for (words, error) in [
            (
                &["zrange", "z", "0", "-1", "limit", "0", "1"][..],
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ),
            (
                &["zrange", "z", "0", "-1", "bylex", "withscores"],
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
            ),
            (
                &["zrange", "z", "0", "-1", "rev", "rev"],
                "ERR syntax error",
            ),
            (
                &["zrange", "z", "0", "-1", "byscore", "bylex"],
                "ERR syntax error",
            ),
            (
                &["zrange", "z", "0", "-1", "limit", "0"],
                "ERR syntax error",
            ),
            (&["zrange", "z", "0", "-1", "bogus"], "ERR syntax error"),
            (
                &["zrange", "z", "0", "-1", "limit", "a", "1"],
                "ERR value is not an integer or out of range",
            ),
        ] {
            let argv = line(words);
            assert_eq!(zrange(&argv).unwrap_err().to_string(), error, "{words:?}");
        }
    }

    #[derive(Debug, PartialEq)]
    struct Lpos {
        rank: i64,
        count: Option<i64>,
        max_len: i64,
    }

    #[derive(Clone, Copy)]
    enum LposOption {
        Rank,
        Count,
        MaxLen,
    }

    /// A count that must not be negative; anything else is `error`, as
    /// Redis's `getPositiveLongFromObjectOrReply` answers.
    fn not_negative(error: &'static str) -> impl FnOnce(&[u8]) -> Result<i64, CommandError> {
        move |arg| {
            parse_int(arg)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| other(error))
        }
    }

    /// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
    fn lpos(words: &[&str]) -> Result<Lpos, CommandError> {
        let argv = line(words);
        let mut args = Args::new(&argv);
        let (_key, _element) = (args.next_bytes()?, args.next_bytes()?);
        let mut l = Lpos {
            rank: 1,
            count: None,
            max_len: 0,
        };
        while let Some(option) = args.keyword(&[
            ("rank", LposOption::Rank),
            ("count", LposOption::Count),
            ("maxlen", LposOption::MaxLen),
        ]) {
            match option {
                LposOption::Rank => {
                    l.rank = args.next_int()?;
                    if l.rank == 0 {
                        return Err(other(
                            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                        ));
                    }
                }
                LposOption::Count => {
                    l.count = Some(args.next_with(not_negative("ERR COUNT can't be negative"))?);
                }
                LposOption::MaxLen => {
                    l.max_len = args.next_with(not_negative("ERR MAXLEN can't be negative"))?;
                }
            }
        }
        args.finish()?;
        Ok(l)
    }

    #[test]
    fn lpos_shapes_parse() {
        assert_eq!(
            lpos(&["lpos", "l", "a", "RANK", "-1", "count", "0", "MaxLen", "10"]),
            Ok(Lpos {
                rank: -1,
                count: Some(0),
                max_len: 10,
            })
        );
        assert!(lpos(&["lpos", "l", "a"]).is_ok_and(|l| l.rank == 1 && l.count.is_none()));
        for (words, error) in [
            (
                &["lpos", "l", "a", "rank", "0"][..],
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
            ),
            (
                &["lpos", "l", "a", "count", "-1"],
                "ERR COUNT can't be negative",
            ),
            (
                &["lpos", "l", "a", "count", "abc"],
                "ERR COUNT can't be negative",
            ),
            (
                &["lpos", "l", "a", "maxlen", "-1"],
                "ERR MAXLEN can't be negative",
            ),
            (
                &["lpos", "l", "a", "rank", "abc"],
                "ERR value is not an integer or out of range",
            ),
            (&["lpos", "l", "a", "rank"], "ERR syntax error"),
            (&["lpos", "l", "a", "bogus", "1"], "ERR syntax error"),
        ] {
            assert_eq!(lpos(words).unwrap_err().to_string(), error, "{words:?}");
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum End {
        Left,
        Right,
    }

    const ENDS: &[(&str, End)] = &[("left", End::Left), ("right", End::Right)];

    /// A blocking command's timeout in seconds, with Redis's texts.
    fn timeout(arg: &[u8]) -> Result<f64, CommandError> {
        let secs =
            parse_double(arg).ok_or_else(|| other("ERR timeout is not a float or out of range"))?;
        if secs < 0.0 {
            return Err(other("ERR timeout is negative"));
        }
        Ok(secs)
    }

    /// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
    fn blmove(words: &[&str]) -> Result<(End, End, f64), CommandError> {
        let argv = line(words);
        let mut args = Args::new(&argv);
        let (_source, _destination) = (args.next_bytes()?, args.next_bytes()?);
        let from = args.next_keyword(ENDS)?;
        let to = args.next_keyword(ENDS)?;
        let secs = args.next_with(timeout)?;
        args.finish()?;
        Ok((from, to, secs))
    }

    /// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
    fn lmpop<'a>(argv: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], End, i64), CommandError> {
        let mut args = Args::new(argv);
        let numkeys = args.next_with(|arg| {
            parse_int(arg)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| other("ERR numkeys should be greater than 0"))
        })?;
        let keys = args.next_many(usize::try_from(numkeys).unwrap_or(usize::MAX))?;
        let end = args.next_keyword(ENDS)?;
        let mut count = 1;
        if args.eat("count") {
            count = args.next_with(|arg| {
                parse_int(arg)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| other("ERR count should be greater than 0"))
            })?;
        }
        args.finish()?;
        Ok((keys, end, count))
    }

    #[test]
    fn list_direction_timeout_and_numkeys_shapes_parse() {
        assert_eq!(
            blmove(&["blmove", "a", "b", "LEFT", "right", "0.5"]),
            Ok((End::Left, End::Right, 0.5))
        );
        for (words, error) in [
            (
                &["blmove", "a", "b", "up", "left", "0"][..],
                "ERR syntax error",
            ),
            (
                &["blmove", "a", "b", "left", "right", "abc"],
                "ERR timeout is not a float or out of range",
            ),
            (
                &["blmove", "a", "b", "left", "right", "-1"],
                "ERR timeout is negative",
            ),
            (
                &["blmove", "a", "b", "left", "right", "0", "extra"],
                "ERR syntax error",
            ),
        ] {
            assert_eq!(blmove(words).unwrap_err().to_string(), error, "{words:?}");
        }
        let argv = line(&["lmpop", "2", "k1", "k2", "right", "COUNT", "3"]);
        assert_eq!(lmpop(&argv), Ok((&argv[2..4], End::Right, 3)));
        for (words, error) in [
            (
                &["lmpop", "0", "l", "left"][..],
                "ERR numkeys should be greater than 0",
            ),
            (&["lmpop", "3", "l", "left"], "ERR syntax error"),
            (&["lmpop", "1", "l", "middle"], "ERR syntax error"),
            (
                &["lmpop", "1", "l", "left", "count", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["lmpop", "1", "l", "left", "count", "1", "count", "1"],
                "ERR syntax error",
            ),
        ] {
            let argv = line(words);
            assert_eq!(lmpop(&argv).unwrap_err().to_string(), error, "{words:?}");
        }
    }
}
