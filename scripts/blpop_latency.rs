//! Push-to-reply latency of blocked `BLPOP` clients, and a check that every
//! element is delivered exactly once (`scripts/blpop_latency.sh` runs it
//! against gocache and Redis in turn).
//!
//! `CONSUMERS` connections wait in `BLPOP queue 0`; one producer connection
//! sends `RPUSH queue <id>:<ns>` at a fixed pace, `<ns>` being the send time
//! on a clock shared by every thread of this process. A consumer that gets
//! an element records how long after its send it arrived, and blocks again.
//! At the end the producer pushes one `stop` per consumer. Prints one line:
//! `delivered=N duplicates=D missing=M p50_us=.. p99_us=.. max_us=..`.
//!
//!   blpop_latency --addr 127.0.0.1:6379 [--consumers 50] [--messages 20000]
//!                 [--interval-us 100]
//!
//! Every loop is bounded: the producer sends `messages` elements, and a
//! consumer gives up after 10 s without a reply.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply and returns its bulk strings (flattened), or None for a
/// null; panics on an error reply, which this tool never expects.
fn read_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<Vec<u8>>>> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "*" => {
            let n: i64 = rest.parse().unwrap_or(-1);
            if n < 0 {
                return Ok(None);
            }
            let mut items = Vec::new();
            for _ in 0..n {
                if let Some(mut inner) = read_reply(r)? {
                    items.append(&mut inner);
                }
            }
            Ok(Some(items))
        }
        "$" => {
            let n: i64 = rest.parse().unwrap_or(-1);
            if n < 0 {
                return Ok(None);
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            Ok(Some(vec![buf]))
        }
        ":" | "+" => Ok(Some(vec![rest.as_bytes().to_vec()])),
        "_" => Ok(None),
        _ => panic!("unexpected reply: {line}"),
    }
}

fn main() {
    let mut addr = "127.0.0.1:6379".to_string();
    let (mut consumers, mut messages, mut interval_us) = (50usize, 20_000usize, 100u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--addr" => addr = value,
            "--consumers" => consumers = value.parse().expect("--consumers N"),
            "--messages" => messages = value.parse().expect("--messages N"),
            "--interval-us" => interval_us = value.parse().expect("--interval-us N"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    let clock = Instant::now();
    let key = format!("blpop-latency-{}", std::process::id());
    let seen = Arc::new(Mutex::new(vec![0u32; messages]));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(messages)));
    let mut threads = Vec::new();
    for _ in 0..consumers {
        let (addr, key, seen, latencies) =
            (addr.clone(), key.clone(), seen.clone(), latencies.clone());
        threads.push(std::thread::spawn(move || {
            let stream = TcpStream::connect(&addr).expect("connect");
            stream.set_nodelay(true).ok();
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            loop {
                writer
                    .write_all(&command(&[b"BLPOP", key.as_bytes(), b"0"]))
                    .expect("send");
                let Ok(Some(reply)) = read_reply(&mut reader) else {
                    return;
                };
                let arrived = clock.elapsed().as_nanos() as u64;
                let Some(element) = reply.get(1) else { return };
                if element == b"stop" {
                    return;
                }
                let text = String::from_utf8_lossy(element);
                let mut parts = text.split(':');
                let id: usize = parts
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(usize::MAX);
                let sent: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(arrived);
                if let Some(count) = seen.lock().unwrap().get_mut(id) {
                    *count += 1;
                }
                latencies.lock().unwrap().push(arrived.saturating_sub(sent));
            }
        }));
    }
    let producer = TcpStream::connect(&addr).expect("connect");
    producer.set_nodelay(true).ok();
    let mut writer = producer.try_clone().expect("clone");
    let mut reader = BufReader::new(producer);
    // Let every consumer block first.
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    for id in 0..messages {
        let due = start + Duration::from_micros(interval_us * id as u64);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        let element = format!("{id}:{}", clock.elapsed().as_nanos());
        writer
            .write_all(&command(&[b"RPUSH", key.as_bytes(), element.as_bytes()]))
            .expect("push");
        read_reply(&mut reader).expect("push reply");
    }
    for _ in 0..consumers {
        writer
            .write_all(&command(&[b"RPUSH", key.as_bytes(), b"stop"]))
            .expect("stop");
        read_reply(&mut reader).expect("stop reply");
    }
    for t in threads {
        t.join().ok();
    }
    writer.write_all(&command(&[b"DEL", key.as_bytes()])).ok();
    let seen = seen.lock().unwrap();
    let delivered = seen.iter().filter(|&&c| c >= 1).count();
    let duplicates: u32 = seen.iter().map(|&c| c.saturating_sub(1)).sum();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "delivered={delivered} duplicates={duplicates} missing={} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        messages - delivered,
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
}
