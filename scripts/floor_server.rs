//! The floor of the design: the least work a thread-per-connection server can
//! do per request. It answers `+PONG` to every RESP request and does nothing
//! else: no parsing beyond counting requests, no keyspace, no lock.
//!
//! This is not gocache. `scripts/floor.sh` measures it beside gocache and
//! Redis with `redis-benchmark -t ping_mbulk`, so that the cost of one OS
//! thread per connection (a wake-up and a context switch per unpipelined
//! request) can be told apart from the cost of gocache's own code.
//!
//! Standard library only; the cargo example `floor_server`, built with
//! `cargo build --release --example floor_server`.
//!
//! Usage: floor_server  (binds 127.0.0.1 on a free port and prints
//! `floor listening on IP:PORT`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

/// `redis-benchmark -t ping_mbulk` sends `*1\r\n$4\r\nPING\r\n`: one `*`
/// per request, and none inside a request.
fn requests_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'*').count()
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!(
        "floor listening on {}",
        listener.local_addr().expect("address")
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        thread::spawn(move || {
            let mut input = [0u8; 16 * 1024];
            let mut replies = Vec::with_capacity(16 * 1024);
            loop {
                let n = match stream.read(&mut input) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                replies.clear();
                for _ in 0..requests_in(&input[..n]) {
                    replies.extend_from_slice(b"+PONG\r\n");
                }
                if stream.write_all(&replies).is_err() {
                    return;
                }
            }
        });
    }
}
