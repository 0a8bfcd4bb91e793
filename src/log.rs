//! Log lines on stderr: one line each, with a UTC timestamp and a level.
//!
//! Owns the process-wide verbosity (Redis's names: `warning`, `notice`,
//! `verbose`). Stdout is never written here: it carries only the listening line.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log, from least to most; Redis's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Errors and limits hit.
    Warning = 0,
    /// Start-up, shutdown and saves (the default).
    Notice = 1,
    /// Connections opening and closing.
    Verbose = 2,
}

impl Level {
    /// Parses Redis's level names.
    pub fn parse(name: &str) -> Option<Level> {
        match name {
            "warning" => Some(Level::Warning),
            "notice" => Some(Level::Notice),
            "verbose" => Some(Level::Verbose),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Verbose => "verbose",
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
        level.label(),
        message
    );
    // One write call per line keeps lines from different threads whole.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
