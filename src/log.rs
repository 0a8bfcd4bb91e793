//! Log lines on stderr: one line each, with a UTC timestamp and a level.
//!
//! Owns the process-wide verbosity (Redis's names: `warning`, `notice`,
//! `verbose`, `debug`) and [`RateLimited`], which keeps a client that
//! misbehaves in a loop from filling the log. Stdout is never written here:
//! it carries only the listening line.

use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// How much to log, from least to most; Redis's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors and limits hit.
    Warning = 0,
    /// Start-up, shutdown and saves (the default).
    Notice = 1,
    /// Connections opening and closing, client misbehaviour.
    Verbose = 2,
    /// Everything (gocache logs nothing more at this level yet).
    Debug = 3,
}

impl Level {
    /// Parses Redis's level names.
    pub fn parse(name: &str) -> Option<Level> {
        match name {
            "warning" => Some(Level::Warning),
            "notice" => Some(Level::Notice),
            "verbose" => Some(Level::Verbose),
            "debug" => Some(Level::Debug),
            _ => None,
        }
    }

    /// Redis's name of the level.
    pub fn name(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Verbose => "verbose",
            Level::Debug => "debug",
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);

/// Sets the most verbose level that is printed.
pub fn set_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// True when a line at `level` would be printed.
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Writes one log line if `level` is enabled. Use the macros instead.
pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format!(
        "{} {} [{}] {}\n",
        crate::clock::format_utc(crate::clock::now_ms()),
        std::process::id(),
        level.name(),
        message
    );
    // One write call per line keeps lines from different threads whole.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A log line that is written at most once per interval, however often it
/// is asked for; the next one written says how many were left out. For
/// events a client can cause at will (protocol errors, refused
/// connections), so that nobody can fill the log or slow the server with it.
pub struct RateLimited {
    interval_ms: u64,
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimited {
    /// A limiter that lets one line through per `interval_ms`.
    pub const fn new(interval_ms: u64) -> RateLimited {
        RateLimited {
            interval_ms,
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Writes `message` at `level` unless a line went out less than an
    /// interval ago; then it only counts it.
    pub fn write(&self, level: Level, message: std::fmt::Arguments<'_>) {
        if !enabled(level) {
            return;
        }
        let now = crate::clock::now_ms();
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= self.interval_ms || last == 0;
        if !due
            || self
                .last_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.suppressed.swap(0, Ordering::Relaxed) {
            0 => write(level, message),
            n => write(
                level,
                format_args!("{message} ({n} similar lines suppressed)"),
            ),
        }
    }
}

/// Logs at `warning`.
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warning, format_args!($($arg)*)) };
}

/// Logs at `notice`.
#[macro_export]
macro_rules! notice {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Notice, format_args!($($arg)*)) };
}

/// Logs at `verbose`.
#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Verbose, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_line_counts_what_it_left_out() {
        let limit = RateLimited::new(60_000);
        for _ in 0..5 {
            limit.write(Level::Warning, format_args!("x"));
        }
        assert_eq!(limit.suppressed.load(Ordering::Relaxed), 4);
        assert_ne!(limit.last_ms.load(Ordering::Relaxed), 0);
    }
}
