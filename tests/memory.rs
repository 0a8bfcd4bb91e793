//! Memory introspection, end to end: `INFO memory` follows the keyspace's
//! running count of bytes up and down, and `MEMORY USAGE` answers and
//! fails as Redis 7.0 does (checked against a real redis-server 7.0.15).

mod common;

use common::{Client, Resp, Server, encode, info_field};

/// The keyspace's part of `used_memory` from `INFO memory` (less what the
/// client buffers hold, which follows the pipelines these tests send).
fn used_memory(c: &mut Client) -> u64 {
    let fields = common::info_fields(c, "memory");
    let field = |name: &str| -> u64 {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.parse().unwrap())
            .unwrap()
    };
    field("used_memory") - field("mem_clients_normal")
}

/// Sets `key:<i>` to a 16-byte value for every `i` in `range`, pipelined.
fn set_keys(c: &mut Client, range: std::ops::Range<u32>, ttl: Option<&str>) {
    let mut batch = Vec::new();
    for i in range.clone() {
        let key = format!("key:{i:012}");
        let mut args = vec!["SET", &key, "vvvvvvvvvvvvvvvv"];
        if let Some(seconds) = ttl {
            args.extend(["EX", seconds]);
        }
        batch.extend(encode(&args));
    }
    c.send(batch);
    for _ in range {
        assert_eq!(c.read_resp(), Resp::ok());
    }
}

#[test]
fn info_used_memory_follows_keys_up_and_down() {
    let server = Server::start();
    let mut c = server.client();
    let empty = used_memory(&mut c);
    assert!(empty > 0, "the empty store has a size");
    let rss: u64 = info_field(&mut c, "memory", "used_memory_rss")
        .parse()
        .unwrap();
    assert!(rss > empty, "the process is larger than its keyspace");

    set_keys(&mut c, 0..20_000, None);
    let loaded = used_memory(&mut c);
    // 64 bytes an entry at least, plus its tables: under 100 bytes a key.
    let per_key = (loaded - empty) / 20_000;
    assert!((64..100).contains(&per_key), "{per_key} bytes per key");
    let peak: u64 = info_field(&mut c, "memory", "used_memory_peak")
        .parse()
        .unwrap();
    assert!(peak >= loaded, "peak {peak} below {loaded}");

    // A deadline on every key adds its hint and the heap's copy of the key.
    set_keys(&mut c, 0..20_000, Some("3600"));
    let with_ttl = used_memory(&mut c);
    let per_deadline = (with_ttl - loaded) / 20_000;
    assert!(
        (60..100).contains(&per_deadline),
        "{per_deadline} bytes a TTL"
    );

    // Half deleted: down by at least their entries.
    let mut batch = Vec::new();
    for i in 0..10_000u32 {
        batch.extend(encode(&["DEL", &format!("key:{i:012}")]));
    }
    c.send(batch);
    for _ in 0..10_000 {
        assert_eq!(c.read_resp(), Resp::Int(1));
    }
    let halved = used_memory(&mut c);
    assert!(
        halved + 10_000 * 64 <= with_ttl,
        "{halved} after {with_ttl}"
    );

    // Flushed: back to the empty store, exactly; the peak stays.
    assert_eq!(c.call(&["FLUSHALL"]), Resp::ok());
    assert_eq!(used_memory(&mut c), empty);
    let peak: u64 = info_field(&mut c, "memory", "used_memory_peak")
        .parse()
        .unwrap();
    assert_eq!(peak, with_ttl);
    assert!(info_field(&mut c, "memory", "used_memory_peak_human").ends_with('M'));
}

#[test]
fn memory_usage_counts_one_key_and_its_deadline() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "1234567890123456"]), Resp::ok());
    let plain = c.call(&["MEMORY", "USAGE", "k"]).int();
    // The 64-byte entry (24-byte header, key, value) and its table slot.
    assert!((64..200).contains(&plain), "{plain}");
    assert_eq!(
        c.call(&["memory", "usage", "k", "SAMPLES", "0", "samples", "7"]),
        Resp::Int(plain)
    );
    // Its deadline: a 16-byte hint, an 8-byte slot and a 32-byte copy of
    // the key.
    assert_eq!(c.call(&["EXPIRE", "k", "100"]), Resp::Int(1));
    assert_eq!(c.call(&["MEMORY", "USAGE", "k"]), Resp::Int(plain + 56));
    assert_eq!(c.call(&["MEMORY", "USAGE", "nope"]), Resp::NilBulk);
    // A bigger value is a bigger entry.
    assert_eq!(c.call(&["SET", "k", &"x".repeat(1000)]), Resp::ok());
    assert!(c.call(&["MEMORY", "USAGE", "k"]).int() > plain + 900);
}

#[test]
fn memory_errors_read_as_redis_7() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "v"]), Resp::ok());
    let syntax = Resp::err("ERR syntax error");
    let not_integer = Resp::err("ERR value is not an integer or out of range");
    for (args, reply) in [
        (
            &["MEMORY"][..],
            Resp::err("ERR wrong number of arguments for 'memory' command"),
        ),
        (
            &["MEMORY", "USAGE"],
            Resp::err("ERR wrong number of arguments for 'memory|usage' command"),
        ),
        (
            &["MEMORY", "HELP", "x"],
            Resp::err("ERR wrong number of arguments for 'memory|help' command"),
        ),
        (
            &["MEMORY", "STATS", "x"],
            Resp::err("ERR wrong number of arguments for 'memory|stats' command"),
        ),
        (
            &["MEMORY", "foo"],
            Resp::err("ERR unknown subcommand 'foo'. Try MEMORY HELP."),
        ),
        (&["MEMORY", "USAGE", "k", "SAMPLES"], syntax.clone()),
        (&["MEMORY", "USAGE", "k", "SAMPLES", "-1"], syntax.clone()),
        (&["MEMORY", "USAGE", "k", "foo"], syntax.clone()),
        // The options are checked before the key is looked up.
        (&["MEMORY", "USAGE", "missing", "foo"], syntax),
        (
            &["MEMORY", "USAGE", "k", "SAMPLES", "x"],
            not_integer.clone(),
        ),
        (
            &["MEMORY", "USAGE", "missing", "samples", "x"],
            not_integer.clone(),
        ),
        (
            &["MEMORY", "USAGE", "k", "samples", "99999999999999999999"],
            not_integer,
        ),
        (&["MEMORY", "PURGE"], Resp::ok()),
    ] {
        assert_eq!(c.call(args), reply, "{args:?}");
    }
    let help = c.call(&["MEMORY", "HELP"]);
    assert_eq!(
        help.items()[0],
        Resp::simple("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    let stats = c.call(&["MEMORY", "STATS"]).pairs();
    let field = |name: &str| {
        stats
            .iter()
            .find(|(k, _)| k.text() == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("MEMORY STATS has no {name}"))
    };
    assert_eq!(field("keys.count"), Resp::Int(1));
    assert_eq!(
        field("total.allocated").int().to_string(),
        info_field(&mut c, "memory", "used_memory")
    );
    assert_eq!(field("db.0").pairs().len(), 2);
}
