//! Persistence commands: `SAVE`, `BGSAVE`, `LASTSAVE`, `BGREWRITEAOF`,
//! `SHUTDOWN`, and the `INFO persistence` fields.
//!
//! They drive the [`Snapshotter`](crate::snapshot::Snapshotter), the
//! append-only log's rewrite and the server's shutdown; the saving itself
//! lives in [`snapshot`](crate::snapshot) and [`aof`](crate::aof).
//! `SAVE` writes on the calling connection's thread, but only after dropping
//! its read guard; it and `SHUTDOWN` are refused inside `MULTI`, so neither
//! ever does disk I/O or waits under `EXEC`'s write guard.

use super::{Access, Args, CommandResult, CommandSpec, Context, InMulti};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::shared::{SaveOnExit, ShutdownRequest};
use crate::snapshot::{BackgroundSaveRunning, PointInTime};
use std::sync::mpsc;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, Access::Neither, save).in_multi(InMulti::Refuse),
    CommandSpec::new("bgsave", -1, Access::Neither, bgsave),
    CommandSpec::new("lastsave", 1, Access::Neither, lastsave),
    CommandSpec::new("bgrewriteaof", 1, Access::Neither, bgrewriteaof),
    CommandSpec::new("shutdown", -1, Access::Neither, shutdown).in_multi(InMulti::Refuse),
];

impl From<BackgroundSaveRunning> for CommandError {
    fn from(_: BackgroundSaveRunning) -> Self {
        CommandError::other("ERR Background save already in progress")
    }
}

/// `SAVE`: `OK` once the snapshot is on disk.
fn save(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    if ctx.in_exec() {
        // The table refuses SAVE in MULTI; never write under EXEC's guard.
        return Err(CommandError::other(
            "ERR Command not allowed inside a transaction",
        ));
    }
    let claim = ctx.server.snapshotter.claim_foreground()?;
    // Captured under guards of its own, released before any byte is
    // written (this command holds none: SAVE is refused inside EXEC).
    let view = PointInTime::capture(&ctx.server.keyspace, ctx.now);
    match claim.save(view) {
        Ok(_) => Ok(Reply::Ok),
        // Redis answers a failed SAVE with a bare ERR; the log says why.
        Err(_) => Err(CommandError::other("ERR")),
    }
}

/// `BGSAVE [SCHEDULE]`: the snapshot thread saves; answers at once.
fn bgsave(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    // Nothing to schedule around: no rewrite of an append-only file runs.
    args.eat("schedule");
    args.finish()?;
    ctx.server.snapshotter.request_background()?;
    // Inside EXEC the save can only start once the transaction's guard is
    // released; Redis says "scheduled" there too.
    Ok(Reply::status(if ctx.in_exec() {
        "Background saving scheduled"
    } else {
        "Background saving started"
    }))
}

/// `BGREWRITEAOF`: the append-only log is rewritten on a thread of its
/// own; answers at once. With the log off, as in Redis, it writes a base
/// of the current data (which a start with `appendonly yes` then loads).
fn bgrewriteaof(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    if ctx.in_exec() {
        // The capture needs the keyspace lock EXEC holds: after it.
        return Err(CommandError::other(
            "ERR Command not allowed inside a transaction",
        ));
    }
    ctx.server
        .aof
        .request_rewrite(&ctx.server.keyspace)
        .map_err(CommandError::other)?;
    Ok(Reply::status(
        "Background append only file rewriting started",
    ))
}

/// `LASTSAVE`: Unix seconds of the last successful save.
fn lastsave(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    let secs = ctx.server.snapshotter.status().last_save_unix_secs;
    Ok(Reply::Integer(i64::try_from(secs).unwrap_or(i64::MAX)))
}

#[derive(Clone, Copy)]
enum ShutdownFlag {
    NoSave,
    Save,
    Now,
    Force,
    Abort,
}

/// What `SHUTDOWN` asks for.
#[derive(Debug, PartialEq, Eq)]
enum ShutdownAsk {
    /// Exit, saving first unless told not to; `force` exits even when
    /// that save fails.
    Exit { save: SaveOnExit, force: bool },
    /// `ABORT`: stop a shutdown in progress.
    Abort,
}

/// Parses `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: flags in any
/// order, `ABORT` alone, never both `SAVE` and `NOSAVE`.
fn parse_shutdown(argv: &[&[u8]]) -> Result<ShutdownAsk, CommandError> {
    let (mut nosave, mut save, mut force, mut abort, mut now) = (false, false, false, false, false);
    let mut args = Args::new(argv);
    while let Some(flag) = args.keyword(&[
        ("nosave", ShutdownFlag::NoSave),
        ("save", ShutdownFlag::Save),
        ("now", ShutdownFlag::Now),
        ("force", ShutdownFlag::Force),
        ("abort", ShutdownFlag::Abort),
    ]) {
        match flag {
            ShutdownFlag::NoSave => nosave = true,
            ShutdownFlag::Save => save = true,
            // Nothing to skip: there are no replicas to wait for.
            ShutdownFlag::Now => now = true,
            ShutdownFlag::Force => force = true,
            ShutdownFlag::Abort => abort = true,
        }
    }
    args.finish()?;
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return Err(CommandError::Syntax);
    }
    Ok(if abort {
        ShutdownAsk::Abort
    } else {
        ShutdownAsk::Exit {
            save: if nosave {
                SaveOnExit::NoSave
            } else {
                SaveOnExit::Save
            },
            force,
        }
    })
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: no reply when the server
/// exits; an error, and the server serving on, when the final save fails.
fn shutdown(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let ShutdownAsk::Exit { save, force } = parse_shutdown(argv)? else {
        // A shutdown here never waits for anything that could be aborted.
        return Err(CommandError::other("ERR No shutdown in progress."));
    };
    let (failed, failure) = mpsc::channel();
    ctx.server.request_shutdown(ShutdownRequest {
        save,
        force,
        failed: Some(failed),
    });
    match failure.recv() {
        Ok(message) => Err(CommandError::other(message)),
        // The sender is dropped unanswered only when the server is exiting:
        // like Redis, send no reply and let the connection close with the
        // process.
        Err(mpsc::RecvError) => loop {
            std::thread::park();
        },
    }
}

/// The `INFO persistence` fields, in Redis's order.
pub fn info_fields(ctx: &mut Context<'_>) -> Vec<(&'static str, String)> {
    let changes = ctx.with_store(|store| store.changes());
    let s = ctx.server.snapshotter.status();
    let secs = |v: Option<u64>| v.map_or_else(|| "-1".to_string(), |s| s.to_string());
    let mut fields = vec![
        ("loading", "0".into()),
        ("async_loading", "0".into()),
        (
            "rdb_changes_since_last_save",
            changes.saturating_sub(s.changes_at_last_save).to_string(),
        ),
        (
            "rdb_bgsave_in_progress",
            u8::from(s.background_in_progress).to_string(),
        ),
        ("rdb_last_save_time", s.last_save_unix_secs.to_string()),
        (
            "rdb_last_bgsave_status",
            if s.last_ok { "ok" } else { "err" }.into(),
        ),
        ("rdb_last_bgsave_time_sec", secs(s.last_background_secs)),
        (
            "rdb_current_bgsave_time_sec",
            secs(s.current_background_secs),
        ),
        ("rdb_saves", s.saves.to_string()),
        ("rdb_last_load_keys_expired", s.expired_at_load.to_string()),
        ("rdb_last_load_keys_loaded", s.loaded_keys.to_string()),
    ];
    let log = ctx.server.aof.status();
    let ok = |good: bool| if good { "ok" } else { "err" }.to_string();
    fields.extend([
        ("aof_enabled", u8::from(log.enabled).to_string()),
        (
            "aof_rewrite_in_progress",
            u8::from(log.rewriting).to_string(),
        ),
        ("aof_rewrite_scheduled", "0".into()),
        ("aof_last_rewrite_time_sec", secs(log.last_rewrite_secs)),
        (
            "aof_current_rewrite_time_sec",
            secs(log.current_rewrite_secs),
        ),
        ("aof_last_bgrewrite_status", ok(log.last_rewrite_ok)),
        ("aof_rewrites", log.rewrites.to_string()),
        (
            "aof_rewrites_consecutive_failures",
            log.consecutive_failures.to_string(),
        ),
        ("aof_last_write_status", ok(log.last_write_ok)),
        ("aof_last_cow_size", "0".into()),
        ("module_fork_in_progress", "0".into()),
        ("module_fork_last_cow_size", "0".into()),
    ]);
    if log.enabled {
        fields.extend([
            ("aof_current_size", log.current_size.to_string()),
            ("aof_base_size", log.base_size.to_string()),
            ("aof_pending_rewrite", "0".into()),
            ("aof_buffer_length", log.buffered.to_string()),
            ("aof_pending_bio_fsync", "0".into()),
            ("aof_delayed_fsync", "0".into()),
        ]);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(w: &[&'static str]) -> Result<ShutdownAsk, CommandError> {
        let argv: Vec<&[u8]> = w.iter().map(|w| w.as_bytes()).collect();
        parse_shutdown(&argv)
    }

    #[test]
    fn shutdown_flags_parse_in_any_order_and_case() {
        assert_eq!(
            ask(&["shutdown"]),
            Ok(ShutdownAsk::Exit {
                save: SaveOnExit::Save,
                force: false
            })
        );
        assert_eq!(
            ask(&["shutdown", "Force", "now", "NOSAVE"]),
            Ok(ShutdownAsk::Exit {
                save: SaveOnExit::NoSave,
                force: true
            })
        );
        assert_eq!(ask(&["shutdown", "abort"]), Ok(ShutdownAsk::Abort));
    }

    #[test]
    fn conflicting_or_unknown_shutdown_flags_are_syntax_errors() {
        for bad in [
            &["shutdown", "nosave", "save"][..],
            &["shutdown", "abort", "now"],
            &["shutdown", "bogus"],
            &["shutdown", "save", "bogus"],
        ] {
            assert_eq!(ask(bad), Err(CommandError::Syntax), "{bad:?}");
        }
    }
}
