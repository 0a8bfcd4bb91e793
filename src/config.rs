//! The command line, parsed by hand into a [`Config`].
//!
//! Owns every flag's name, default and validation, and the usage text. It
//! never opens sockets or files: checking that a directory is writable is the
//! snapshot module's job at start-up.

use crate::error::Error;
use crate::log::Level;
use std::path::PathBuf;

/// Everything the server is told at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// TCP port; 0 binds an ephemeral one.
    pub port: u16,
    /// Address to bind.
    pub bind: String,
    /// Connections served at once; one more is refused.
    pub max_clients: usize,
    /// Longest inline (line protocol) request, in bytes.
    pub max_line_bytes: usize,
    /// Longest RESP bulk string, in bytes.
    pub proto_max_bulk_len: usize,
    /// Log verbosity.
    pub log_level: Level,
    /// Seconds between periodic snapshots; 0 turns them off.
    pub snapshot_interval_secs: u64,
    /// Directory holding the snapshot.
    pub dir: PathBuf,
    /// Snapshot file name inside `dir`.
    pub dbfilename: String,
    /// Password clients must give with `AUTH`, if any.
    pub requirepass: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6380,
            bind: "127.0.0.1".to_string(),
            max_clients: 10_000,
            max_line_bytes: 1024 * 1024,
            proto_max_bulk_len: 512 * 1024 * 1024,
            log_level: Level::Notice,
            snapshot_interval_secs: 60,
            dir: PathBuf::from("."),
            dbfilename: "dump.gcs".to_string(),
            requirepass: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run the server.
    Serve(Config),
    /// Print the usage and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
}

/// The usage text printed by `--help` and after a bad flag.
pub const USAGE: &str = "\
Usage: gocache [OPTIONS]

Options:
  --port N                 TCP port to listen on (default 6380; 0 picks a free one)
  --bind ADDR              address to bind (default 127.0.0.1)
  --max-clients N          connections served at once (default 10000)
  --max-line-bytes N       longest line-protocol request in bytes (default 1048576)
  --proto-max-bulk-len N   longest RESP bulk string in bytes (default 536870912)
  --loglevel LEVEL         warning, notice or verbose (default notice)
  --snapshot-interval SECS seconds between snapshots when keys changed; 0 = off (default 60)
  --dir DIR                directory of the snapshot file (default .)
  --dbfilename NAME        snapshot file name (default dump.gcs)
  --requirepass PASSWORD   require AUTH PASSWORD before other commands
  --help                   print this help and exit
  --version                print the version and exit
";

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Invocation, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut config = Config::default();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(Invocation::Help),
            "--version" | "-v" => return Ok(Invocation::Version),
            _ => {}
        }
        let mut value = || -> Result<String, Error> {
            match inline_value.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(Error::Usage(format!("option '{flag}' needs a value"))),
            }
        };
        match flag.as_str() {
            "--port" => config.port = number(&flag, &value()?)?,
            "--bind" => config.bind = value()?,
            "--max-clients" => config.max_clients = positive(&flag, &value()?)?,
            "--max-line-bytes" => config.max_line_bytes = byte_limit(&flag, &value()?)?,
            "--proto-max-bulk-len" => config.proto_max_bulk_len = byte_limit(&flag, &value()?)?,
            "--loglevel" => {
                let v = value()?;
                config.log_level = Level::parse(&v).ok_or_else(|| {
                    Error::Usage(format!(
                        "invalid value '{v}' for '--loglevel': expected warning, notice or verbose"
                    ))
                })?;
            }
            "--snapshot-interval" => config.snapshot_interval_secs = number(&flag, &value()?)?,
            "--dir" => {
                let v = value()?;
                if v.is_empty() {
                    return Err(Error::Usage("invalid value '' for '--dir'".into()));
                }
                config.dir = PathBuf::from(v);
            }
            "--dbfilename" => {
                let v = value()?;
                if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                    return Err(Error::Usage(format!(
                        "invalid value '{v}' for '--dbfilename': expected a plain file name"
                    )));
                }
                config.dbfilename = v;
            }
            "--requirepass" => config.requirepass = Some(value()?.into_bytes()),
            _ => return Err(Error::Usage(format!("unknown option '{arg}'"))),
        }
    }
    Ok(Invocation::Serve(config))
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, Error> {
    v.parse()
        .map_err(|_| Error::Usage(format!("invalid value '{v}' for '{flag}'")))
}

fn positive(flag: &str, v: &str) -> Result<usize, Error> {
    match number::<usize>(flag, v)? {
        0 => Err(Error::Usage(format!(
            "invalid value '{v}' for '{flag}': must be at least 1"
        ))),
        n => Ok(n),
    }
}

/// A size limit for client-sent strings: at least 1, and small enough for a
/// stored entry's 32-bit lengths.
fn byte_limit(flag: &str, v: &str) -> Result<usize, Error> {
    match positive(flag, v)? {
        n if n > crate::entry::MAX_LEN => Err(Error::Usage(format!(
            "invalid value '{v}' for '{flag}': at most {}",
            crate::entry::MAX_LEN
        ))),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Config {
        match parse(args.iter().copied()).unwrap() {
            Invocation::Serve(c) => c,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = serve(&[]);
        assert_eq!(c.port, 6380);
        assert_eq!(c.bind, "127.0.0.1");
        assert_eq!(c.max_clients, 10_000);
        assert_eq!(c.max_line_bytes, 1 << 20);
        assert_eq!(c.dbfilename, "dump.gcs");
        assert_eq!(c.snapshot_interval_secs, 60);
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let c = serve(&["--port", "0", "--max-clients=3", "--loglevel", "verbose"]);
        assert_eq!(c.port, 0);
        assert_eq!(c.max_clients, 3);
        assert_eq!(c.log_level, Level::Verbose);
    }

    #[test]
    fn bad_flags_and_values_are_usage_errors_naming_them() {
        for args in [
            &["--nope"][..],
            &["--port", "70000"],
            &["--port"],
            &["--max-clients", "0"],
            &["--loglevel", "loud"],
            &["--proto-max-bulk-len", "4294967296"],
        ] {
            let err = parse(args.iter().copied()).unwrap_err();
            assert_eq!(err.exit_status(), 2, "{args:?}");
            assert!(err.to_string().contains(args[0]) || err.to_string().contains(args[1]));
        }
    }
}
