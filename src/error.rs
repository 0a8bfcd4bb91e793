//! The server's own error types.
//!
//! [`Error`] is what stops the server or a background job (bad flags, a port in
//! use, a snapshot that fails to load or save); it names the path or value at
//! fault. [`CommandError`] is what a client is answered; its `Display` is the
//! exact Redis error text, prefix included (`ERR`, `WRONGTYPE`, `NOAUTH`, ...),
//! so client libraries raise the right exception types.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure of the server itself, as opposed to a failed command.
#[derive(Debug)]
pub enum Error {
    /// A command-line flag was unknown or had a bad value (exit status 2).
    Usage(String),
    /// Binding the listening socket failed.
    Bind {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        source: io::Error,
    },
    /// An I/O error on a file, with the file named.
    File {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        source: io::Error,
    },
    /// A snapshot file is not a valid snapshot.
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it, with the byte offset where known.
        reason: String,
    },
    /// A file of the append-only log is not what the log holds.
    CorruptLog {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with the byte offset.
        reason: String,
    },
    /// A line of the config file is not a valid directive.
    Config {
        /// The config file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The line, truncated.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The open-file limit is too low to serve even one client.
    TooFewFiles(String),
    /// Any other I/O error.
    Io(io::Error),
}

impl Error {
    /// The process exit status this error should end the process with.
    pub fn exit_status(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Bind { addr, source } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "cannot listen on {addr}: address already in use ({source})"
                )
            }
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::File {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Error::CorruptSnapshot { path, reason } => {
                write!(f, "snapshot {} is corrupt: {reason}", path.display())
            }
            Error::CorruptLog { path, reason } => {
                write!(
                    f,
                    "append-only log file {} is bad: {reason}",
                    path.display()
                )
            }
            Error::Config {
                path,
                line,
                text,
                reason,
            } => write!(
                f,
                "config file {}, line {line} ('{text}'): {reason}",
                path.display()
            ),
            Error::TooFewFiles(why) => f.write_str(why),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::File { source, .. } | Error::Io(source) => {
                Some(source)
            }
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Most bytes of a client's argument an error reply quotes (Redis's `%.128s`):
/// an error never echoes unbounded input.
pub const QUOTED_MAX: usize = 128;

/// A client's argument as an error reply may quote it: its first
/// [`QUOTED_MAX`] bytes, as text.
pub fn shown(arg: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(&arg[..arg.len().min(QUOTED_MAX)])
}

/// An error reply to a command. `Display` gives the exact wire text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `ERR unknown command '<name>', with args beginning with: '<a>' ...`
    UnknownCommand {
        /// The command name as sent.
        name: String,
        /// The first arguments as sent, already truncated.
        args: Vec<String>,
    },
    /// `ERR wrong number of arguments for '<name>' command`
    WrongArity(String),
    /// `ERR syntax error`
    Syntax,
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(&'static str),
    /// `NOAUTH Authentication required.`
    NoAuth,
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// Any other error: the full text after nothing, prefix included.
    Other(Cow<'static, str>),
}

impl CommandError {
    /// An error whose full text (prefix included) is `text`.
    pub fn other(text: impl Into<Cow<'static, str>>) -> Self {
        CommandError::Other(text.into())
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownCommand { name, args } => {
                write!(
                    f,
                    "ERR unknown command '{name}', with args beginning with: "
                )?;
                for arg in args {
                    write!(f, "'{arg}' ")?;
                }
                Ok(())
            }
            CommandError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::NotFloat => f.write_str("ERR value is not a valid float"),
            CommandError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CommandError::InvalidExpire(cmd) => {
                write!(f, "ERR invalid expire time in '{cmd}' command")
            }
            CommandError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CommandError::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            CommandError::Other(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_matches_redis_7() {
        let e = CommandError::UnknownCommand {
            name: "foo".into(),
            args: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
    }

    #[test]
    fn a_quoted_argument_is_cut_at_128_bytes() {
        assert_eq!(shown(&[b'a'; 1000]).len(), 128);
        assert_eq!(shown(b"short"), "short");
    }

    #[test]
    fn usage_errors_exit_with_two() {
        assert_eq!(Error::Usage("x".into()).exit_status(), 2);
        assert_eq!(Error::Io(io::Error::other("x")).exit_status(), 1);
    }
}
