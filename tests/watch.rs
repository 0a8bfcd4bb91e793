//! `WATCH` over real sockets: two clients in each dialect, a key that
//! expires while watched, and a client that leaves with watches.
//!
//! The reply-by-reply behaviour (which commands break a watch, `UNWATCH`,
//! `DISCARD`, errors) is in `tests/cases/`; these need a socket or the
//! clock.

mod common;

use common::{Resp, Server, encode, info_field, wait_for};

#[test]
fn a_write_by_another_client_makes_exec_answer_a_null_array_in_every_dialect() {
    let server = Server::start();
    let mut other = server.client();
    // RESP2: *-1.
    let mut c = server.client();
    assert_eq!(c.call(&["WATCH", "k"]), Resp::ok());
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["SET", "k", "mine"]), Resp::simple("QUEUED"));
    assert_eq!(other.call(&["SET", "k", "theirs"]), Resp::ok());
    c.send(encode(&["EXEC"]));
    c.expect(b"*-1\r\n");
    assert_eq!(other.call(&["GET", "k"]), Resp::bulk("theirs"));
    // The watch is gone after EXEC: the next transaction runs.
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["SET", "k", "mine"]), Resp::simple("QUEUED"));
    c.send(encode(&["EXEC"]));
    c.expect(b"*1\r\n+OK\r\n");
    // RESP3: a null.
    let mut c3 = server.client();
    c3.call(&["HELLO", "3"]);
    assert_eq!(c3.call(&["WATCH", "k"]), Resp::ok());
    assert_eq!(other.call(&["DEL", "k"]).int(), 1);
    assert_eq!(c3.call(&["MULTI"]), Resp::ok());
    assert_eq!(c3.call(&["GET", "k"]), Resp::simple("QUEUED"));
    c3.send(encode(&["EXEC"]));
    c3.expect(b"_\r\n");
    // The line protocol: (nil).
    let mut line = server.client();
    let mut typed = |request: &str| {
        line.send(format!("{request}\n"));
        line.read_line().trim_end().to_string()
    };
    assert_eq!(typed("WATCH k"), "OK");
    assert_eq!(typed("MULTI"), "OK");
    assert_eq!(typed("INCR k"), "QUEUED");
    assert_eq!(other.call(&["SET", "k", "1"]), Resp::ok());
    assert_eq!(typed("EXEC"), "(nil)");
    assert_eq!(other.call(&["GET", "k"]), Resp::bulk("1"));
}

#[test]
fn a_watched_key_that_expires_breaks_the_transaction() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(c.call(&["SET", "k", "v", "PX", "100"]), Resp::ok());
    assert_eq!(c.call(&["WATCH", "k"]), Resp::ok());
    let mut other = server.client();
    // The sweeper removes it on time, with no client reading it.
    wait_for("the watched key to be swept", || {
        info_field(&mut other, "stats", "expired_keys") == "1"
    });
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["SET", "k", "again"]), Resp::simple("QUEUED"));
    c.send(encode(&["EXEC"]));
    c.expect(b"*-1\r\n");
    assert_eq!(other.call(&["EXISTS", "k"]).int(), 0);
}

#[test]
fn a_client_that_leaves_while_watching_leaves_no_watch_behind() {
    let server = Server::start();
    let mut observer = server.client();
    {
        let mut c = server.client();
        assert_eq!(c.call(&["WATCH", "a", "b", "c"]), Resp::ok());
        assert_eq!(
            info_field(&mut observer, "clients", "total_watched_keys"),
            "3"
        );
        assert_eq!(c.call(&["SELECT", "2"]), Resp::ok());
        assert_eq!(c.call(&["WATCH", "a"]), Resp::ok());
        assert_eq!(
            info_field(&mut observer, "clients", "total_watched_keys"),
            "4"
        );
    }
    wait_for("the closed client's watches to go", || {
        info_field(&mut observer, "clients", "total_watched_keys") == "0"
    });
    // UNWATCH, DISCARD and RESET forget them too.
    let mut c = server.client();
    for forget in [&["UNWATCH"][..], &["RESET"]] {
        assert_eq!(c.call(&["WATCH", "x"]), Resp::ok());
        assert_eq!(
            info_field(&mut observer, "clients", "total_watched_keys"),
            "1"
        );
        c.call(forget);
        assert_eq!(
            info_field(&mut observer, "clients", "total_watched_keys"),
            "0"
        );
    }
    assert_eq!(c.call(&["WATCH", "x"]), Resp::ok());
    assert_eq!(c.call(&["MULTI"]), Resp::ok());
    assert_eq!(c.call(&["DISCARD"]), Resp::ok());
    assert_eq!(
        info_field(&mut observer, "clients", "total_watched_keys"),
        "0"
    );
}
