//! Transactions: `MULTI`, `EXEC`, `DISCARD`.
//!
//! `MULTI` starts queuing (see [`dispatch`](super::dispatch)); `EXEC` runs the
//! queue under one keyspace write guard, so no other client sees or changes
//! anything in between. A command that failed to queue aborts the whole
//! transaction with `EXECABORT`, as in Redis.

use super::{Access, CommandResult, CommandSpec, Context, InMulti, run_held};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::session::Transaction;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, Access::Neither, multi).in_multi(InMulti::RunNow),
    CommandSpec::new("exec", 1, Access::Write, exec).in_multi(InMulti::RunNow),
    CommandSpec::new("discard", 1, Access::Neither, discard).in_multi(InMulti::RunNow),
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
        Some(_) => Ok(Reply::Ok),
        None => Err(CommandError::other("ERR DISCARD without MULTI")),
    }
}

/// `EXEC`
fn exec(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    let Some(tx) = ctx.session.multi.take() else {
        return Err(CommandError::other("ERR EXEC without MULTI"));
    };
    if tx.failed {
        return Err(CommandError::other(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let server = ctx.server;
    let now = ctx.now;
    let mut guard = server.write_keyspace();
    let replies = tx
        .queued
        .iter()
        .map(|argv| {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            run_held(server, ctx.session, &mut guard, now, &args)
        })
        .collect();
    Ok(Reply::Array(replies))
}
