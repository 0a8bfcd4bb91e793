//! Connection commands: `PING`, `ECHO`, `QUIT`, `HELLO`, `AUTH`, `SELECT`,
//! `CLIENT`, `RESET`.
//!
//! They change only the calling connection's [`Session`](crate::session::Session)
//! and never touch the keyspace, apart from `CLIENT UNBLOCK`, which
//! answers another client's blocked wait through the keyspace's registry
//! of blocked clients, under the write guard.

use super::{Access, Args, CommandResult, CommandSpec, Context, InMulti, is_word, keyword_of};
use crate::error::{CommandError, shown};
use crate::keyspace::Served;
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
    let mut args = Args::new(argv);
    let message = args.next();
    args.finish_or_else(|| CommandError::WrongArity("ping".into()))?;
    Ok(message.map_or_else(|| Reply::status("PONG"), Reply::bulk))
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
    let mut args = Args::new(argv);
    let first = args.next_bytes()?;
    let (user, pass): (Option<&[u8]>, &[u8]) = match args.next() {
        None => (None, first),
        Some(pass) => (Some(first), pass),
    };
    args.finish()?;
    if !ctx.server.settings.password_set() && user.is_none() {
        return Err(CommandError::other(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(ctx, user.unwrap_or(b"default"), pass)?;
    Ok(Reply::Ok)
}

/// One of `HELLO`'s options after the protocol version.
#[derive(Debug, PartialEq, Eq)]
enum HelloOption<'a> {
    /// `AUTH username password`
    Auth(&'a [u8], &'a [u8]),
    /// `SETNAME clientname`
    SetName(&'a [u8]),
}

/// Parses `HELLO`'s protocol version, if one is given.
fn hello_proto(args: &mut Args<'_>) -> Result<Option<u8>, CommandError> {
    if args.is_empty() {
        return Ok(None);
    }
    args.next_with(|ver| match super::parse_int(ver) {
        Ok(v @ 2..=3) => Ok(Some(v as u8)),
        Ok(_) => Err(CommandError::other("NOPROTO unsupported protocol version")),
        Err(_) => Err(CommandError::other(
            "ERR Protocol version is not an integer or out of range",
        )),
    })
}

/// Reads `HELLO`'s next option, if any. One with too few values is named
/// in the error, as an unknown one is.
fn hello_option<'a>(args: &mut Args<'a>) -> Result<Option<HelloOption<'a>>, CommandError> {
    #[derive(Clone, Copy)]
    enum Word {
        Auth,
        SetName,
    }
    let Some(opt) = args.next() else {
        return Ok(None);
    };
    match keyword_of(opt, &[("auth", Word::Auth), ("setname", Word::SetName)]) {
        Some(Word::Auth) if args.remaining() >= 2 => Ok(Some(HelloOption::Auth(
            args.next_bytes()?,
            args.next_bytes()?,
        ))),
        Some(Word::SetName) if !args.is_empty() => {
            Ok(Some(HelloOption::SetName(args.next_bytes()?)))
        }
        _ => Err(CommandError::other(format!(
            "ERR Syntax error in HELLO option '{}'",
            shown(opt)
        ))),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: each
/// option takes effect as it is read, as in Redis, so an error after a
/// good `AUTH` leaves the client authenticated.
fn hello(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let proto = hello_proto(&mut args)?.unwrap_or(ctx.session.proto);
    while let Some(option) = hello_option(&mut args)? {
        match option {
            HelloOption::Auth(user, pass) => check_password(ctx, user, pass)?,
            HelloOption::SetName(name) => {
                let name = valid_name(name)?;
                ctx.session.client.set_names(|n| n.name = name);
            }
        }
    }
    if !ctx.session.authenticated {
        return Err(CommandError::other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
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

/// `SELECT index`: the database this connection's commands use.
fn select(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let db = super::server::database_index(ctx, argv[1], None)?;
    ctx.session.select(db);
    Ok(Reply::Ok)
}

fn valid_name(name: &[u8]) -> Result<String, CommandError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CommandError::other(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

#[derive(Clone, Copy)]
enum ClientSubcommand {
    Id,
    GetName,
    SetName,
    SetInfo,
    List,
    Info,
    Unblock,
}

/// `CLIENT`'s subcommands and their arities, as in Redis's table.
const CLIENT_SUBCOMMANDS: &[(&str, i32, ClientSubcommand)] = &[
    ("id", 2, ClientSubcommand::Id),
    ("getname", 2, ClientSubcommand::GetName),
    ("setname", 3, ClientSubcommand::SetName),
    ("setinfo", 4, ClientSubcommand::SetInfo),
    ("list", -2, ClientSubcommand::List),
    ("info", 2, ClientSubcommand::Info),
    ("unblock", -3, ClientSubcommand::Unblock),
];

/// Which clients `CLIENT LIST` shows.
#[derive(Debug, PartialEq, Eq)]
enum ClientFilter {
    /// Every client (no filter, or `TYPE normal`: every client is normal).
    All,
    /// None (`TYPE master|replica|slave|pubsub`).
    Nobody,
    /// `ID id [id ...]`, in the order given.
    Ids(Vec<i64>),
}

#[derive(Clone, Copy)]
enum ClientListOption {
    Type,
    Id,
}

/// Parses what follows `CLIENT LIST`: nothing, `TYPE type`, or
/// `ID id [id ...]`, with Redis's errors.
fn client_list_filter(mut args: Args<'_>) -> Result<ClientFilter, CommandError> {
    let option = args.keyword(&[
        ("type", ClientListOption::Type),
        ("id", ClientListOption::Id),
    ]);
    match option {
        None => {
            args.finish()?;
            Ok(ClientFilter::All)
        }
        Some(ClientListOption::Type) if args.remaining() == 1 => {
            let name = args.next_bytes()?;
            match keyword_of(
                name,
                &[
                    ("normal", true),
                    ("master", false),
                    ("replica", false),
                    ("slave", false),
                    ("pubsub", false),
                ],
            ) {
                Some(true) => Ok(ClientFilter::All),
                Some(false) => Ok(ClientFilter::Nobody),
                None => Err(CommandError::other(format!(
                    "ERR Unknown client type '{}'",
                    shown(name)
                ))),
            }
        }
        Some(ClientListOption::Id) if !args.is_empty() => args
            .map(|id| {
                super::parse_int(id).map_err(|_| CommandError::other("ERR Invalid client ID"))
            })
            .collect::<Result<_, _>>()
            .map(ClientFilter::Ids),
        Some(_) => Err(CommandError::Syntax),
    }
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 if client `id` was blocked and
/// is now answered (as a timeout, or with an `UNBLOCKED` error), else 0.
fn client_unblock(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    if argv.len() > 4 {
        return Err(CommandError::other(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            shown(argv[1])
        )));
    }
    // The reason is read before the id, as in Redis.
    let outcome = match argv.get(3) {
        None => Served::TimedOut,
        Some(reason) if is_word(reason, "timeout") => Served::TimedOut,
        Some(reason) if is_word(reason, "error") => Served::Unblocked,
        Some(_) => {
            return Err(CommandError::other(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = super::parse_int(argv[2])?;
    let unblocked = match u64::try_from(id) {
        Ok(id) => ctx.store().unblock_client(id, outcome),
        Err(_) => false,
    };
    Ok(Reply::Integer(i64::from(unblocked)))
}

/// `CLIENT ID | GETNAME | SETNAME name | SETINFO attr value |
/// LIST [TYPE type | ID id [id ...]] | INFO | UNBLOCK id [TIMEOUT|ERROR]`
fn client(ctx: &mut Context<'_>, argv: &[&[u8]]) -> CommandResult {
    let mut args = Args::new(argv);
    let sub = args.subcommand("client", CLIENT_SUBCOMMANDS)?;
    let me = &ctx.session.client;
    match sub {
        ClientSubcommand::Id => Ok(Reply::Integer(me.id as i64)),
        ClientSubcommand::GetName => {
            let name = me.names().name;
            Ok(if name.is_empty() {
                Reply::Nil
            } else {
                Reply::text(name)
            })
        }
        ClientSubcommand::SetName => {
            let name = valid_name(args.next_bytes()?)?;
            me.set_names(|n| n.name = name);
            Ok(Reply::Ok)
        }
        ClientSubcommand::SetInfo => {
            let (attr, value) = (args.next_bytes()?, args.next_bytes()?);
            let value = valid_name(value).map_err(|_| {
                CommandError::other(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    shown(attr).to_ascii_lowercase()
                ))
            })?;
            if is_word(attr, "lib-name") {
                me.set_names(|n| n.lib_name = value);
            } else if is_word(attr, "lib-ver") {
                me.set_names(|n| n.lib_ver = value);
            } else {
                return Err(CommandError::other(format!(
                    "ERR Unrecognized option '{}'",
                    shown(attr)
                )));
            }
            Ok(Reply::Ok)
        }
        ClientSubcommand::List => {
            let filter = client_list_filter(args)?;
            let now = ctx.now;
            let clients = ctx.server.clients.all();
            let listed: Vec<&Arc<ClientInfo>> = match &filter {
                ClientFilter::All => clients.iter().collect(),
                ClientFilter::Nobody => Vec::new(),
                ClientFilter::Ids(ids) => ids
                    .iter()
                    .filter_map(|id| clients.iter().find(|c| c.id as i64 == *id))
                    .collect(),
            };
            let mut text = String::new();
            for c in listed {
                text.push_str(&c.list_line(now, last_command_of(c)));
                text.push('\n');
            }
            Ok(Reply::Verbatim(text))
        }
        ClientSubcommand::Info => Ok(Reply::Verbatim(format!(
            "{}\n",
            me.list_line(ctx.now, last_command_of(me))
        ))),
        ClientSubcommand::Unblock => client_unblock(ctx, argv),
    }
}

/// `RESET`: back to a fresh connection's state.
fn reset(ctx: &mut Context<'_>, _: &[&[u8]]) -> CommandResult {
    ctx.session.multi = None;
    super::transactions::unwatch(ctx);
    ctx.session.select(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&'static str]) -> Vec<&'static [u8]> {
        w.iter().map(|w| w.as_bytes()).collect()
    }

    /// `HELLO`'s version and options, or the first error.
    /// Each option shown as `auth user pass` or `setname name`.
    fn hello_parse(w: &[&'static str]) -> Result<(Option<u8>, Vec<String>), String> {
        let argv = words(w);
        let mut args = Args::new(&argv);
        let proto = hello_proto(&mut args).map_err(|e| e.to_string())?;
        let mut options = Vec::new();
        while let Some(o) = hello_option(&mut args).map_err(|e| e.to_string())? {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            options.push(match o {
                HelloOption::Auth(user, pass) => format!("auth {} {}", text(user), text(pass)),
                HelloOption::SetName(name) => format!("setname {}", text(name)),
            });
        }
        Ok((proto, options))
    }

    #[test]
    fn hello_options_are_read_in_order() {
        assert_eq!(
            hello_parse(&[
                "hello", "3", "auth", "a", "b", "SETNAME", "x", "AUTH", "default", "pw"
            ]),
            Ok((
                Some(3),
                vec![
                    "auth a b".to_string(),
                    "setname x".to_string(),
                    "auth default pw".to_string(),
                ]
            ))
        );
        assert_eq!(hello_parse(&["hello"]), Ok((None, vec![])));
    }

    #[test]
    fn hello_errors_are_redis_texts() {
        for (w, error) in [
            (
                &["hello", "abc"][..],
                "ERR Protocol version is not an integer or out of range",
            ),
            (
                &["hello", "4", "bogus"],
                "NOPROTO unsupported protocol version",
            ),
            (
                &["hello", "3", "SETNAME"],
                "ERR Syntax error in HELLO option 'SETNAME'",
            ),
            (
                &["hello", "3", "AUTH", "default"],
                "ERR Syntax error in HELLO option 'AUTH'",
            ),
            (
                &["hello", "3", "setname", "x", "bogus"],
                "ERR Syntax error in HELLO option 'bogus'",
            ),
        ] {
            assert_eq!(hello_parse(w).unwrap_err(), error, "{w:?}");
        }
    }

    fn filter(w: &[&'static str]) -> Result<ClientFilter, String> {
        let argv = words(w);
        let mut args = Args::new(&argv);
        args.next();
        client_list_filter(args).map_err(|e| e.to_string())
    }

    #[test]
    fn client_list_takes_a_type_or_ids() {
        assert_eq!(filter(&["client", "list"]), Ok(ClientFilter::All));
        assert_eq!(
            filter(&["client", "list", "TYPE", "normal"]),
            Ok(ClientFilter::All)
        );
        assert_eq!(
            filter(&["client", "list", "type", "pubsub"]),
            Ok(ClientFilter::Nobody)
        );
        assert_eq!(
            filter(&["client", "list", "id", "3", "1"]),
            Ok(ClientFilter::Ids(vec![3, 1]))
        );
        for (w, error) in [
            (&["client", "list", "x"][..], "ERR syntax error"),
            (&["client", "list", "id"], "ERR syntax error"),
            (&["client", "list", "type"], "ERR syntax error"),
            (
                &["client", "list", "type", "normal", "x"],
                "ERR syntax error",
            ),
            (
                &["client", "list", "type", "bogus"],
                "ERR Unknown client type 'bogus'",
            ),
            (
                &["client", "list", "id", "1", "abc"],
                "ERR Invalid client ID",
            ),
        ] {
            assert_eq!(filter(w).unwrap_err(), error, "{w:?}");
        }
    }
}
