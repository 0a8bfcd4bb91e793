//! Connection commands: `PING`, `ECHO`, `QUIT`, `HELLO`, `AUTH`, `SELECT`,
//! `CLIENT`, `RESET`.
//!
//! They change only the calling connection's [`Session`](crate::session::Session)
//! and never touch the keyspace.

use super::{Access, CommandResult, CommandSpec, Context, InMulti, is_word};
use crate::error::{CommandError, shown};
use crate::protocol::Reply;
use crate::session::ClientInfo;
use crate::shared::REDIS_VERSION;
use std::sync::Arc;

/// This family's rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, Access::Neither, ping),
    CommandSpec::new("echo", 2, Access::Neither, echo),
    CommandSpec::new("quit", -1, Access::Neither, quit)
        .before_auth()
        .in_multi(InMulti::RunNow),
    CommandSpec::new("hello", -1, Access::Neither, hello).before_auth(),
    CommandSpec::new("auth", -2, Access::Neither, auth).before_auth(),
    CommandSpec::new("select", 2, Access::Neither, select),
    CommandSpec::new("client", -2, Access::Neither, client),
    CommandSpec::new("reset", 1, Access::Neither, reset)
        .before_auth()
        .in_multi(InMulti::RunNow),
];

/// `PING [message]`
fn ping(_: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    match argv {
        [_] => Ok(Reply::status("PONG")),
        [_, msg] => Ok(Reply::bulk(msg)),
        _ => Err(CommandError::WrongArity("ping".into())),
    }
}

/// `ECHO message`
fn echo(_: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    Ok(Reply::bulk(argv[1]))
}

/// `QUIT`: `OK`, then the connection closes.
fn quit(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    ctx.session.close_after_reply = true;
    Ok(Reply::Ok)
}

/// Checks a password against `--requirepass`; `user` must be `default`.
/// Without `--requirepass` the default user takes any password, as Redis's
/// `nopass` default user does.
fn check_password(ctx: &mut Context<'_>, user: &[u8], pass: &[u8]) -> Result<(), CommandError> {
    match &ctx.server.settings.requirepass() {
        None if user == b"default" => {
            ctx.session.authenticated = true;
            Ok(())
        }
        Some(expected) if user == b"default" && constant_time_eq(expected, pass) => {
            ctx.session.authenticated = true;
            Ok(())
        }
        _ => Err(CommandError::WrongPass),
    }
}

/// Compares without stopping at the first difference, so response time does
/// not reveal how much of a guessed password was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `AUTH [username] password`
fn auth(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let (user, pass): (&[u8], &[u8]) = match argv {
        [_, pass] => (b"default", pass),
        [_, user, pass] => (user, pass),
        _ => return Err(CommandError::Syntax),
    };
    if !ctx.server.settings.password_set() && argv.len() == 2 {
        return Err(CommandError::other(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(ctx, user, pass)?;
    Ok(Reply::Ok)
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut proto = ctx.session.proto;
    if let Some(ver) = argv.get(1) {
        proto = match super::parse_int(ver) {
            Ok(v @ 2..=3) => v as u8,
            Ok(_) => return Err(CommandError::other("NOPROTO unsupported protocol version")),
            Err(_) => {
                return Err(CommandError::other(
                    "ERR Protocol version is not an integer or out of range",
                ));
            }
        };
    }
    let mut setname = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is_word(argv[i], "auth") && more >= 2 {
            check_password(ctx, argv[i + 1], argv[i + 2])?;
            i += 3;
        } else if is_word(argv[i], "setname") && more >= 1 {
            setname = Some(argv[i + 1]);
            i += 2;
        } else {
            return Err(CommandError::other(format!(
                "ERR Syntax error in HELLO option '{}'",
                shown(argv[i])
            )));
        }
    }
    if !ctx.session.authenticated {
        return Err(CommandError::other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = setname {
        let name = valid_name(name)?;
        ctx.session.client.set_names(|n| n.name = name);
    }
    ctx.session.set_proto(proto);
    let field = |k: &str| Reply::text(k);
    Ok(Reply::Map(vec![
        (field("server"), Reply::text("redis")),
        (field("version"), Reply::text(REDIS_VERSION)),
        (field("proto"), Reply::Integer(i64::from(proto))),
        (field("id"), Reply::Integer(ctx.session.client.id as i64)),
        (field("mode"), Reply::text("standalone")),
        (field("role"), Reply::text("master")),
        (field("modules"), Reply::Array(Vec::new())),
    ]))
}

/// `SELECT index`: only database 0 exists.
fn select(_: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    match super::parse_int(argv[1])? {
        0 => Ok(Reply::Ok),
        _ => Err(CommandError::other("ERR DB index is out of range")),
    }
}

fn valid_name(name: &[u8]) -> Result<String, CommandError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CommandError::other(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// `CLIENT ID | GETNAME | SETNAME name | SETINFO attr value | LIST [filter] | INFO`
fn client(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let sub = shown(argv[1]).to_ascii_lowercase();
    let arity_error = || {
        CommandError::other(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        ))
    };
    let me = &ctx.session.client;
    match (sub.as_str(), argv.len()) {
        ("id", 2) => Ok(Reply::Integer(me.id as i64)),
        ("getname", 2) => {
            let name = me.names().name;
            Ok(if name.is_empty() {
                Reply::Nil
            } else {
                Reply::text(name)
            })
        }
        ("setname", 3) => {
            let name = valid_name(argv[2])?;
            me.set_names(|n| n.name = name);
            Ok(Reply::Ok)
        }
        ("setinfo", 4) => {
            let value = valid_name(argv[3]).map_err(|_| {
                CommandError::other(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    shown(argv[2]).to_ascii_lowercase()
                ))
            })?;
            if is_word(argv[2], "lib-name") {
                me.set_names(|n| n.lib_name = value);
            } else if is_word(argv[2], "lib-ver") {
                me.set_names(|n| n.lib_ver = value);
            } else {
                return Err(CommandError::other(format!(
                    "ERR Unrecognized option '{}'",
                    shown(argv[2])
                )));
            }
            Ok(Reply::Ok)
        }
        // Any count: the filters' own errors are syntax errors.
        ("list", _) => client_list(ctx, &argv[2..]),
        ("info", 2) => Ok(Reply::Verbatim(format!(
            "{}\n",
            me.list_line(ctx.now, last_command_of(me))
        ))),
        ("id" | "getname" | "setname" | "setinfo" | "info", _) => Err(arity_error()),
        _ => Err(CommandError::other(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            shown(argv[1])
        ))),
    }
}

/// The kinds of client `CLIENT LIST TYPE` can ask for (Redis's names;
/// `slave` is another name for `replica`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

impl ClientType {
    fn named(name: &[u8]) -> Option<ClientType> {
        [
            ("normal", ClientType::Normal),
            ("replica", ClientType::Replica),
            ("slave", ClientType::Replica),
            ("master", ClientType::Master),
            ("pubsub", ClientType::PubSub),
        ]
        .into_iter()
        .find_map(|(word, kind)| is_word(name, word).then_some(kind))
    }

    /// What `client` is. Every gocache client is `normal`: there is no
    /// replication and no pub/sub yet.
    fn of(_client: &ClientInfo) -> ClientType {
        ClientType::Normal
    }
}

/// `CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id [id ...]]`,
/// given the arguments after `LIST`. With IDs, one line per ID that names a
/// connected client, in the order given (repeats included), as Redis does.
fn client_list(ctx: &Context<'_>, filter: &[&[u8]]) -> CommandResult {
    let clients = &ctx.server.clients;
    let listed: Vec<Arc<ClientInfo>> = match filter {
        [] => clients.all(),
        [word, name] if is_word(word, "type") => {
            let kind = ClientType::named(name).ok_or_else(|| {
                CommandError::other(format!("ERR Unknown client type '{}'", shown(name)))
            })?;
            clients
                .all()
                .into_iter()
                .filter(|c| ClientType::of(c) == kind)
                .collect()
        }
        [word, ids @ ..] if is_word(word, "id") && !ids.is_empty() => {
            // Every ID is checked before any is listed.
            let ids = ids
                .iter()
                .map(|id| super::parse_int(id))
                .collect::<Result<Vec<i64>, _>>()
                .map_err(|_| CommandError::other("ERR Invalid client ID"))?;
            ids.into_iter()
                .filter_map(|id| u64::try_from(id).ok().and_then(|id| clients.get(id)))
                .collect()
        }
        _ => return Err(CommandError::Syntax),
    };
    let mut text = String::new();
    for c in &listed {
        text.push_str(&c.list_line(ctx.now, last_command_of(c)));
        text.push('\n');
    }
    Ok(Reply::Verbatim(text))
}

/// `RESET`: back to a fresh connection's state.
fn reset(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    ctx.session.multi = None;
    ctx.session.set_proto(2);
    ctx.session.authenticated = !ctx.server.settings.password_set();
    ctx.session.client.set_names(|n| n.name.clear());
    Ok(Reply::status("RESET"))
}

/// The name of `client`'s last command, for `CLIENT LIST`.
fn last_command_of(client: &ClientInfo) -> &'static str {
    super::name_at(
        client
            .last_command
            .load(std::sync::atomic::Ordering::Relaxed),
    )
}
