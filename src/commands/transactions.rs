//! Transactions: `MULTI`, `EXEC`, `DISCARD`, and optimistic locking with
//! `WATCH` and `UNWATCH`.
//!
//! `MULTI` starts queuing (see [`dispatch`](super::dispatch)); `EXEC` runs the
//! queue under one keyspace write guard, so no other client sees or changes
//! anything in between, and the guard commits the whole transaction's
//! changes once. A command that failed to queue aborts the whole
//! transaction with `EXECABORT`, as in Redis.
//!
//! `WATCH` registers keys in the keyspace's registry (under the write
//! guard); the commit point marks this client when any of them changes
//! (written, deleted, renamed, moved, flushed, swapped or expired). `EXEC`
//! checks the mark under its own guard, so nothing can change between the
//! check and the run, and answers a null array when it is set. `EXEC`,
//! `DISCARD`, `UNWATCH`, `RESET` and the end of the connection forget the
//! watches.

use super::{Access, CommandResult, CommandSpec, Context, InMulti, run_held};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::session::Transaction;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, Access::Neither, multi).in_multi(InMulti::RunNow),
    CommandSpec::new("exec", 1, Access::Write, exec).in_multi(InMulti::RunNow),
    CommandSpec::new("discard", 1, Access::Neither, discard).in_multi(InMulti::RunNow),
    CommandSpec::new("watch", -2, Access::Neither, watch)
        .keys(1, -1, 1)
        .in_multi(InMulti::RunNow),
    CommandSpec::new("unwatch", 1, Access::Neither, unwatch_command),
];

/// `MULTI`
fn multi(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::other("ERR MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Transaction::default());
    Ok(Reply::Ok)
}

/// `DISCARD`
fn discard(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    match ctx.session.multi.take() {
        Some(_) => {
            unwatch(ctx);
            Ok(Reply::Ok)
        }
        None => Err(CommandError::other("ERR DISCARD without MULTI")),
    }
}

/// `WATCH key [key ...]`: `EXEC` will abort if any of them changes first.
fn watch(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::other("ERR WATCH inside MULTI is not allowed"));
    }
    watch_room(ctx.session.watching.keys.len(), argv.len() - 1)?;
    let (db, now) = (ctx.session.db, ctx.now);
    let mut watching = std::mem::take(&mut ctx.session.watching);
    let store = ctx.store();
    for key in &argv[1..] {
        store.watch(&mut watching, db, key, now);
    }
    ctx.session.watching = watching;
    Ok(Reply::Ok)
}

/// Most keys one connection may watch at once, so that a client cannot
/// grow the registry (and its own list) without bound by sending `WATCH`
/// after `WATCH`.
pub const MAX_WATCHED_KEYS: usize = 1_000_000;

/// Refuses a `WATCH` of `asked` more keys (repeats counted, as they are
/// before they are checked) by a connection already watching `already`
/// when that would pass [`MAX_WATCHED_KEYS`]; nothing is watched then.
fn watch_room(already: usize, asked: usize) -> Result<(), CommandError> {
    if already.saturating_add(asked) > MAX_WATCHED_KEYS {
        return Err(CommandError::other(
            "ERR too many watched keys: UNWATCH, EXEC or DISCARD first",
        ));
    }
    Ok(())
}

/// `UNWATCH`
fn unwatch_command(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    unwatch(ctx);
    Ok(Reply::Ok)
}

/// Forgets the connection's watched keys, if it has any (no guard is
/// taken otherwise).
pub fn unwatch(ctx: &mut Context<'_>) {
    if ctx.session.watching.keys.is_empty() {
        return;
    }
    let mut watching = std::mem::take(&mut ctx.session.watching);
    ctx.store().unwatch(&mut watching);
}

/// `EXEC`: the queued replies, or a null array if a watched key changed.
fn exec(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    let Some(tx) = ctx.session.multi.take() else {
        return Err(CommandError::other("ERR EXEC without MULTI"));
    };
    if tx.failed {
        unwatch(ctx);
        return Err(CommandError::other(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let server = ctx.server;
    let now = ctx.now;
    let (session, store) = ctx.session_and_store();
    let mut watching = std::mem::take(&mut session.watching);
    let broken = store.watch_broken(&watching, now);
    if !watching.keys.is_empty() {
        store.unwatch(&mut watching);
    }
    if broken {
        return Ok(Reply::NilArray);
    }
    // The queued commands run under this command's guard, which commits
    // them all when this context drops.
    let replies = tx
        .queued
        .iter()
        .map(|argv| {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            run_held(server, session, store, now, &args)
        })
        .collect();
    Ok(Reply::Array(replies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_watches_at_most_the_limit() {
        assert!(watch_room(0, MAX_WATCHED_KEYS).is_ok());
        assert!(watch_room(MAX_WATCHED_KEYS - 1, 1).is_ok());
        let err = watch_room(MAX_WATCHED_KEYS, 1).unwrap_err().to_string();
        assert!(err.starts_with("ERR too many watched keys"), "{err}");
        assert!(watch_room(1, usize::MAX).is_err());
    }
}
