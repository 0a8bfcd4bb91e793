//! Blocking sorted-set pops over real sockets (`BZPOPMIN`, `BZPOPMAX`,
//! `BZMPOP`): who is served first, timeouts, a transaction that adds,
//! waiters of lists and sorted sets on one key, and a scheduler's
//! delay queue served as its jobs arrive.
//!
//! What these commands answer when they need not wait (data present, or
//! inside `MULTI`) is in `tests/cases/zsets.case`. Every wait has a
//! deadline: a client is known to be blocked once `INFO`'s
//! `blocked_clients` counts it, and silence is asserted over a short
//! window only where the point is that nothing arrives.

mod common;

use common::{Client, QUIET, Resp, Server, block, blocked_clients, encode, wait_blocked};
use std::time::{Duration, Instant};

/// `BZPOPMIN`'s RESP2 answer: `[key, member, score]`.
fn triple(key: &str, member: &str, score: &str) -> Resp {
    Resp::Array(vec![Resp::bulk(key), Resp::bulk(member), Resp::bulk(score)])
}

#[test]
fn sorted_set_waiters_are_served_in_the_order_they_blocked() {
    let server = Server::start();
    let mut admin = server.client();
    let mut waiters: Vec<Client> = (0..3).map(|_| server.client()).collect();
    block(&mut waiters[0], &["BZPOPMIN", "z", "0"], &mut admin);
    block(
        &mut waiters[1],
        &["BZPOPMAX", "other", "z", "0"],
        &mut admin,
    );
    block(&mut waiters[2], &["BZPOPMIN", "z", "0"], &mut admin);
    // One member: only the first is served; the others keep waiting.
    assert_eq!(admin.call(&["ZADD", "z", "1.5", "a"]).int(), 1);
    assert_eq!(waiters[0].read_resp(), triple("z", "a", "1.5"));
    assert_eq!(admin.call(&["EXISTS", "z"]).int(), 0, "never left visible");
    wait_blocked(&mut admin, 2);
    waiters[1].expect_silence(QUIET);
    // One ZADD of three serves the next two, in order, each from its end.
    assert_eq!(
        admin
            .call(&["ZADD", "z", "1", "low", "2", "mid", "3", "high"])
            .int(),
        3
    );
    assert_eq!(waiters[1].read_resp(), triple("z", "high", "3"));
    assert_eq!(waiters[2].read_resp(), triple("z", "low", "1"));
    assert_eq!(
        admin.call(&["ZRANGE", "z", "0", "-1"]),
        Resp::Array(vec![Resp::bulk("mid")])
    );
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn a_sorted_set_wait_times_out_with_a_null_array() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    let start = Instant::now();
    c.send(encode(&["BZPOPMIN", "z", "0.2"]));
    c.expect(b"*-1\r\n");
    // Whole milliseconds of the wall clock from the command's start.
    assert!(
        start.elapsed() >= Duration::from_millis(198),
        "{:?}",
        start.elapsed()
    );
    c.send(encode(&[
        "BZMPOP", "0.05", "2", "y", "z", "MAX", "COUNT", "2",
    ]));
    c.expect(b"*-1\r\n");
    c.call(&["HELLO", "3"]);
    c.send(encode(&["BZPOPMAX", "z", "0.05"]));
    c.expect(b"_\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    // Nobody waits any more: an added member stays.
    assert_eq!(admin.call(&["ZADD", "z", "1", "m"]).int(), 1);
    assert_eq!(admin.call(&["ZCARD", "z"]).int(), 1);
}

#[test]
fn bzmpop_takes_up_to_its_count_and_answers_doubles_in_resp3() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    c.call(&["HELLO", "3"]);
    block(
        &mut c,
        &["BZMPOP", "0", "2", "a", "b", "MIN", "COUNT", "2"],
        &mut admin,
    );
    assert_eq!(
        admin
            .call(&["ZADD", "b", "3", "x", "0.5", "y", "7", "z"])
            .int(),
        3
    );
    c.expect(b"*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\ny\r\n,0.5\r\n*2\r\n$1\r\nx\r\n,3\r\n");
    block(&mut c, &["BZPOPMAX", "a", "0"], &mut admin);
    assert_eq!(admin.call(&["ZADD", "a", "inf", "top"]).int(), 1);
    c.expect(b"*3\r\n$1\r\na\r\n$3\r\ntop\r\n,inf\r\n");
    assert_eq!(admin.call(&["ZCARD", "b"]).int(), 1);
}

#[test]
fn a_transaction_that_adds_serves_the_waiter_once_it_has_run() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    block(&mut c, &["BZPOPMIN", "z", "0"], &mut admin);
    admin.call(&["MULTI"]);
    admin.call(&["ZADD", "z", "5", "a"]);
    admin.call(&["ZADD", "z", "1", "b"]);
    admin.call(&["ZREM", "z", "a"]);
    let exec = admin.call(&["EXEC"]);
    assert_eq!(
        exec,
        Resp::Array(vec![Resp::Int(1), Resp::Int(1), Resp::Int(1)])
    );
    // Served after the whole transaction: what it left, not its first add.
    assert_eq!(c.read_resp(), triple("z", "b", "1"));
}

#[test]
fn a_list_and_a_sorted_set_waiter_on_one_key_each_wait_for_their_type() {
    let server = Server::start();
    let mut admin = server.client();
    let mut lists = server.client();
    let mut zsets = server.client();
    block(&mut lists, &["BLPOP", "k", "0"], &mut admin);
    block(&mut zsets, &["BZPOPMIN", "k", "0"], &mut admin);
    // A sorted set serves its waiter, though a list waiter blocked first.
    assert_eq!(admin.call(&["ZADD", "k", "1", "m"]).int(), 1);
    assert_eq!(zsets.read_resp(), triple("k", "m", "1"));
    lists.expect_silence(QUIET);
    // A string serves nobody; a list then serves the list waiter.
    assert_eq!(admin.call(&["SET", "k", "v"]), Resp::simple("OK"));
    lists.expect_silence(QUIET);
    assert_eq!(admin.call(&["DEL", "k"]).int(), 1);
    block(&mut zsets, &["BZPOPMIN", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "k", "e"]).int(), 1);
    assert_eq!(
        lists.read_resp(),
        Resp::Array(vec![Resp::bulk("k"), Resp::bulk("e")])
    );
    zsets.expect_silence(QUIET);
    assert_eq!(blocked_clients(&mut admin), 1);
}

#[test]
fn a_delay_queue_hands_each_job_to_one_worker() {
    let server = Server::start();
    let mut admin = server.client();
    let mut workers: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for w in &mut workers {
        block(w, &["BZPOPMIN", "jobs", "0"], &mut admin);
    }
    for (i, due) in ["40", "10", "30", "20"].iter().enumerate() {
        let job = format!("job{i}");
        assert_eq!(admin.call(&["ZADD", "jobs", due, &job]).int(), 1);
    }
    // Each ZADD served the longest-waiting worker at once.
    let got: Vec<Resp> = workers.iter_mut().map(Client::read_resp).collect();
    assert_eq!(
        got,
        [
            triple("jobs", "job0", "40"),
            triple("jobs", "job1", "10"),
            triple("jobs", "job2", "30"),
            triple("jobs", "job3", "20"),
        ]
    );
    assert_eq!(admin.call(&["EXISTS", "jobs"]).int(), 0);
}
