//! Blocking list pops over real sockets: who is served first, timeouts,
//! clients that hang up while blocked, transactions that push, `BLMOVE`
//! chains, `CLIENT UNBLOCK`, and many producers against many consumers.
//!
//! What a blocking command answers when it need not wait (data present,
//! or inside `MULTI`) is in `tests/cases/lists.case`; these need a client
//! that waits. Every wait has a deadline: a client is known to be blocked
//! once `INFO`'s `blocked_clients` counts it, and silence is asserted over
//! a short window only where the point is that nothing arrives.

mod common;

use common::{Client, DEADLINE, QUIET, Resp, Server, block, blocked_clients, encode, wait_blocked};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn pair(key: &str, value: &str) -> Resp {
    Resp::Array(vec![Resp::bulk(key), Resp::bulk(value)])
}

#[test]
fn waiting_clients_are_served_in_the_order_they_blocked() {
    let server = Server::start();
    let mut admin = server.client();
    let mut waiters: Vec<Client> = (0..3).map(|_| server.client()).collect();
    for w in &mut waiters {
        block(w, &["BLPOP", "k", "0"], &mut admin);
    }
    // One element: only the first is served; the others keep waiting.
    assert_eq!(admin.call(&["RPUSH", "k", "first"]).int(), 1);
    assert_eq!(waiters[0].read_resp(), pair("k", "first"));
    assert_eq!(admin.call(&["LLEN", "k"]).int(), 0, "never left visible");
    wait_blocked(&mut admin, 2);
    waiters[1].expect_silence(QUIET);
    // Then one push of two serves the next two, in order.
    assert_eq!(admin.call(&["RPUSH", "k", "a", "b"]).int(), 2);
    assert_eq!(waiters[1].read_resp(), pair("k", "a"));
    assert_eq!(waiters[2].read_resp(), pair("k", "b"));
    assert_eq!(admin.call(&["EXISTS", "k"]).int(), 0);
    assert_eq!(blocked_clients(&mut admin), 0);
    // A waiter on several keys is served from the first that gets a list.
    block(&mut waiters[0], &["BRPOP", "x", "y", "z", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "z", "1", "2"]).int(), 2);
    assert_eq!(waiters[0].read_resp(), pair("z", "2"));
    assert_eq!(
        admin.call(&["LRANGE", "z", "0", "-1"]),
        Resp::Array(vec![Resp::bulk("1")])
    );
}

#[test]
fn a_timeout_answers_a_null_and_forgets_the_waiter() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    let start = Instant::now();
    c.send(encode(&["BLPOP", "k", "0.2"]));
    c.expect(b"*-1\r\n");
    // The deadline is whole milliseconds of the wall clock, counted from
    // the command's start: a millisecond's truncation may show here.
    assert!(
        start.elapsed() >= Duration::from_millis(198),
        "{:?}",
        start.elapsed()
    );
    // A move times out as Redis 7.0 answers every list wait: a null array.
    c.send(encode(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"]));
    c.expect(b"*-1\r\n");
    c.send(encode(&["BLMPOP", "0.05", "1", "k", "LEFT"]));
    c.expect(b"*-1\r\n");
    c.call(&["HELLO", "3"]);
    c.send(encode(&["BRPOPLPUSH", "k", "d", "0.05"]));
    c.expect(b"_\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    // Nobody waits any more: a push stays in the list.
    assert_eq!(admin.call(&["RPUSH", "k", "x"]).int(), 1);
    assert_eq!(admin.call(&["LLEN", "k"]).int(), 1);
    assert_eq!(c.call(&["PING"]), Resp::simple("PONG"));
}

#[test]
fn a_client_that_hangs_up_while_blocked_is_forgotten_and_nothing_is_popped_for_it() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    drop(c);
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.call(&["RPUSH", "k", "x"]).int(), 1);
    assert_eq!(admin.call(&["LLEN", "k"]).int(), 1);
    // Pushing right after the hang-up, before its thread can unregister
    // it: the pusher sees the socket has hung up and pops nothing for it.
    for round in 0..20 {
        let key = format!("q{round}");
        let mut c = server.client();
        block(&mut c, &["BRPOP", &key, "0"], &mut admin);
        c.stream.shutdown(std::net::Shutdown::Both).unwrap();
        drop(c);
        assert_eq!(admin.call(&["RPUSH", &key, "x"]).int(), 1);
        assert_eq!(admin.call(&["LLEN", &key]).int(), 1, "round {round}");
    }
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_transaction_that_pushes_serves_the_waiter_only_after_exec() {
    let server = Server::start();
    let mut waiter = server.client();
    let mut producer = server.client();
    block(&mut waiter, &["BLPOP", "k", "0"], &mut producer);
    assert_eq!(producer.call(&["MULTI"]), Resp::ok());
    assert_eq!(producer.call(&["RPUSH", "k", "a"]), Resp::simple("QUEUED"));
    assert_eq!(producer.call(&["LLEN", "k"]), Resp::simple("QUEUED"));
    waiter.expect_silence(QUIET);
    // Inside the transaction the element is there; the waiter gets it as
    // the transaction's commit ends, after EXEC's own work.
    assert_eq!(
        producer.call(&["EXEC"]),
        Resp::Array(vec![Resp::Int(1), Resp::Int(1)])
    );
    assert_eq!(waiter.read_resp(), pair("k", "a"));
    assert_eq!(producer.call(&["EXISTS", "k"]).int(), 0);
}

#[test]
fn a_chain_of_moves_hands_one_element_down_to_the_last_waiter() {
    let server = Server::start();
    let mut admin = server.client();
    let mut first = server.client();
    let mut second = server.client();
    let mut last = server.client();
    block(
        &mut first,
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        &mut admin,
    );
    block(&mut second, &["BRPOPLPUSH", "b", "c", "0"], &mut admin);
    block(&mut last, &["BLPOP", "c", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "a", "x"]).int(), 1);
    assert_eq!(first.read_resp(), Resp::bulk("x"));
    assert_eq!(second.read_resp(), Resp::bulk("x"));
    assert_eq!(last.read_resp(), pair("c", "x"));
    assert_eq!(admin.call(&["EXISTS", "a", "b", "c"]).int(), 0);
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn a_move_onto_a_key_of_another_type_fails_and_the_next_waiter_gets_the_element() {
    let server = Server::start();
    let mut admin = server.client();
    let mut mover = server.client();
    let mut popper = server.client();
    assert_eq!(admin.call(&["SET", "s", "string"]), Resp::ok());
    block(
        &mut mover,
        &["BLMOVE", "src", "s", "LEFT", "LEFT", "0"],
        &mut admin,
    );
    block(&mut popper, &["BLPOP", "src", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "src", "x"]).int(), 1);
    assert_eq!(
        mover.read_resp(),
        Resp::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(popper.read_resp(), pair("src", "x"));
    assert_eq!(admin.call(&["GET", "s"]), Resp::bulk("string"));
}

#[test]
fn a_served_blmpop_takes_up_to_its_count() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    block(
        &mut c,
        &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"],
        &mut admin,
    );
    assert_eq!(admin.call(&["RPUSH", "b", "1", "2", "3"]).int(), 3);
    assert_eq!(
        c.read_resp(),
        Resp::Array(vec![
            Resp::bulk("b"),
            Resp::Array(vec![Resp::bulk("3"), Resp::bulk("2")])
        ])
    );
    assert_eq!(admin.call(&["LLEN", "b"]).int(), 1);
}

#[test]
fn client_unblock_answers_as_a_timeout_or_with_an_error() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    let id = c.call(&["CLIENT", "ID"]).int().to_string();
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    let list = admin.call(&["CLIENT", "LIST"]).text();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap();
    assert!(
        line.contains(" flags=b ") && line.contains(" cmd=blpop "),
        "{line}"
    );
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id]).int(), 1);
    c.expect(b"*-1\r\n");
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id]).int(), 0);
    block(
        &mut c,
        &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
        &mut admin,
    );
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]).int(), 1);
    c.expect(b"*-1\r\n");
    block(&mut c, &["BRPOP", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id, "error"]).int(), 1);
    c.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    // Unblocked, it waits no more: a push stays.
    assert_eq!(admin.call(&["RPUSH", "k", "x"]).int(), 1);
    assert_eq!(c.call(&["LLEN", "k"]).int(), 1);
}

#[test]
fn requests_pipelined_behind_a_blocked_one_run_once_it_is_served() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    let mut batch = encode(&["BLPOP", "k", "0"]);
    batch.extend(encode(&["PING"]));
    batch.extend(encode(&["LLEN", "k"]));
    c.send(batch);
    wait_blocked(&mut admin, 1);
    c.expect_silence(QUIET);
    assert_eq!(admin.call(&["RPUSH", "k", "a", "b"]).int(), 2);
    c.expect(b"*2\r\n$1\r\nk\r\n$1\r\na\r\n+PONG\r\n:1\r\n");
}

#[test]
fn a_served_client_answers_what_it_sends_next_whenever_it_sends_it() {
    // The pushing connection writes the served reply itself; the waiter's
    // own thread must still run whatever the client sends next.
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    // Nothing sent behind the wait: the next request comes after the reply.
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "k", "a"]).int(), 1);
    assert_eq!(c.read_resp(), pair("k", "a"));
    assert_eq!(c.call(&["RPUSH", "k", "x"]).int(), 1);
    assert_eq!(c.call(&["LPOP", "k"]), Resp::bulk("x"));
    // A request sent while blocked runs once the wait is served.
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    c.send(encode(&["PING"]));
    c.expect_silence(QUIET);
    assert_eq!(admin.call(&["RPUSH", "k", "b"]).int(), 1);
    c.expect(b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n+PONG\r\n");
    // Served, it is neither counted nor listed as blocked, though its
    // thread has had nothing to do since.
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "k", "c"]).int(), 1);
    assert_eq!(c.read_resp(), pair("k", "c"));
    assert_eq!(blocked_clients(&mut admin), 0);
    let list = admin.call(&["CLIENT", "LIST"]);
    let Resp::Bulk(list) = list else {
        panic!("{list:?}")
    };
    let list = String::from_utf8(list).unwrap();
    assert!(!list.contains("flags=b"), "{list}");
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn a_push_in_another_database_does_not_serve_a_waiter() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    assert_eq!(c.call(&["SELECT", "1"]), Resp::ok());
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["RPUSH", "k", "db0"]).int(), 1);
    c.expect_silence(QUIET);
    assert_eq!(admin.call(&["SELECT", "1"]), Resp::ok());
    // A list renamed onto the key serves it as a push does.
    assert_eq!(admin.call(&["RPUSH", "tmp", "db1"]).int(), 1);
    assert_eq!(admin.call(&["RENAME", "tmp", "k"]), Resp::ok());
    assert_eq!(c.read_resp(), pair("k", "db1"));
    assert_eq!(admin.call(&["SELECT", "0"]), Resp::ok());
    assert_eq!(admin.call(&["LLEN", "k"]).int(), 1);
}

#[test]
fn a_swapped_in_database_serves_its_waiters() {
    let server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    assert_eq!(admin.call(&["SELECT", "2"]), Resp::ok());
    assert_eq!(admin.call(&["RPUSH", "k", "from2"]).int(), 1);
    assert_eq!(admin.call(&["SWAPDB", "0", "2"]), Resp::ok());
    assert_eq!(c.read_resp(), pair("k", "from2"));
}

#[test]
fn blocked_clients_are_spared_by_the_idle_timeout() {
    let server = Server::start_with(&["--timeout", "1"]);
    let mut c = server.client();
    let mut idle = server.client();
    let start = Instant::now();
    c.send(encode(&["BLPOP", "k", "2.5"]));
    c.expect(b"*-1\r\n");
    // The server's deadline is in whole milliseconds of its own clock,
    // which it read a moment after `start`: a few ms of rounding.
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(2490), "{waited:?}");
    assert_eq!(c.call(&["PING"]), Resp::simple("PONG"));
    // An idle client that is not blocked was closed meanwhile.
    idle.expect_eof();
}

#[test]
fn shutdown_does_not_wait_for_blocked_clients() {
    let mut server = Server::start();
    let mut admin = server.client();
    let mut c = server.client();
    block(&mut c, &["BLPOP", "k", "0"], &mut admin);
    admin.send(encode(&["SHUTDOWN", "NOSAVE"]));
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
}

#[test]
fn twenty_producers_and_twenty_consumers_deliver_every_element_exactly_once() {
    const SIDES: usize = 20;
    const EACH: usize = 50;
    let server = Server::start();
    let addr = server.addr;
    let delivered = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let consumers: Vec<_> = (0..SIDES)
        .map(|i| {
            let (delivered, received) = (delivered.clone(), received.clone());
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut mine = Vec::new();
                // Each blocks with a short timeout, so it can stop once
                // everything has been delivered.
                while delivered.load(Ordering::SeqCst) < SIDES * EACH {
                    assert!(start.elapsed() < DEADLINE, "consumer {i} ran out of time");
                    let command = if i % 2 == 0 { "BLPOP" } else { "BRPOP" };
                    match c.call(&[command, "q", "0.2"]) {
                        Resp::NilArray => {}
                        Resp::Array(items) => {
                            assert_eq!(items[0], Resp::bulk("q"));
                            mine.push(items[1].text());
                            delivered.fetch_add(1, Ordering::SeqCst);
                        }
                        other => panic!("consumer {i}: {other:?}"),
                    }
                }
                received.lock().unwrap().extend(mine);
            })
        })
        .collect();
    let producers: Vec<_> = (0..SIDES)
        .map(|p| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                for n in 0..EACH {
                    let element = format!("{p}:{n}");
                    assert!(c.call(&["RPUSH", "q", &element]).int() >= 1);
                }
            })
        })
        .collect();
    for t in producers.into_iter().chain(consumers) {
        t.join().expect("a client thread failed");
    }
    let mut got = received.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<String> = (0..SIDES)
        .flat_map(|p| (0..EACH).map(move |n| format!("{p}:{n}")))
        .collect();
    want.sort();
    assert_eq!(
        got.len(),
        want.len(),
        "delivered {} of {}",
        got.len(),
        want.len()
    );
    assert_eq!(got, want, "every element exactly once");
    let mut admin = server.client();
    assert_eq!(admin.call(&["EXISTS", "q"]).int(), 0);
    wait_blocked(&mut admin, 0);
}
