//! The measuring client of `scripts/snapshot_bench.sh` (std only; built with
//! `rustc -O` into `target/`). It speaks RESP to gocache and to redis-server
//! alike, so both are measured by the same code.
//!
//!   port                          print a free loopback port
//!   fill PORT N                   SET key:0000000 .. key:N-1 to 16-byte values, pipelined
//!   measure PORT PID save|bgsave  run one save while a client times every SET
//!                                 and another samples the server's memory
//!   startup PATTERN -- CMD...     time from exec to the first stdout line
//!                                 containing PATTERN, then kill the child
//!
//! `measure` prints one line of `name=value` fields:
//!   save_ms       from sending the command to the server saying it is done
//!                 (the SAVE reply; for BGSAVE, INFO rdb_bgsave_in_progress:0,
//!                 polled every 5 ms)
//!   max_set_ms, p99_set_ms, sets
//!                 per-request latency of back-to-back SETs (random existing
//!                 keys, 16-byte values) from 300 ms before the save to 300 ms
//!                 after it
//!   mem_before_kb, mem_peak_kb
//!                 the server's memory before and at its highest during the
//!                 save: VmRSS of the process plus, for forked children (Redis),
//!                 their proportional share (Pss) so shared pages count once
//!   hwm_kb        VmHWM of the server process after the save (its peak RSS,
//!                 reset through /proc/PID/clear_refs just before), a check
//!                 that sampling did not miss a peak

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match arg(0).as_str() {
        "port" => {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("{}", l.local_addr().unwrap().port());
        }
        "fill" => fill(&arg(1), arg(2).parse().expect("N")),
        "measure" => measure(&arg(1), arg(2).parse().expect("PID"), &arg(3)),
        "startup" => {
            assert_eq!(arg(2), "--", "startup PATTERN -- CMD...");
            startup(&arg(1), &args[3..]);
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: port | fill PORT N | measure PORT PID save|bgsave | startup PATTERN -- CMD...");
    std::process::exit(2)
}

fn connect(port: &str) -> TcpStream {
    let s = TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one reply; returns its first line and, for a bulk string, its body.
fn read_reply(r: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("read reply");
    assert!(!line.is_empty(), "connection closed");
    let mut body = Vec::new();
    if let Some(len) = line.strip_prefix('$') {
        let len: i64 = len.trim().parse().unwrap();
        if len >= 0 {
            body = vec![0; len as usize + 2];
            r.read_exact(&mut body).unwrap();
            body.truncate(len as usize);
        }
    }
    assert!(!line.starts_with('-'), "error reply: {line}");
    (line, body)
}

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:07}").into_bytes()
}

/// A 16-byte value that differs per key and per write.
fn value(i: u64, salt: u64) -> Vec<u8> {
    format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt).into_bytes()
}

fn fill(port: &str, n: u64) {
    let start = Instant::now();
    let stream = connect(port);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    const WINDOW: u64 = 1000;
    let mut i = 0;
    while i < n {
        let end = (i + WINDOW).min(n);
        let mut out = Vec::new();
        for k in i..end {
            encode(&mut out, &[b"SET", &key(k), &value(k, 0)]);
        }
        writer.write_all(&out).unwrap();
        for _ in i..end {
            read_reply(&mut reader);
        }
        i = end;
    }
    println!("filled {n} keys in {} ms", start.elapsed().as_millis());
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            kids.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    kids
}

/// The server's memory now: its RSS, plus the Pss of any children.
fn memory_kb(pid: u32) -> u64 {
    let kids = children(pid);
    if kids.is_empty() {
        status_kb(pid, "VmRSS:")
    } else {
        // With a fork sharing pages, RSS would count them twice.
        pss_kb(pid) + kids.into_iter().map(pss_kb).sum::<u64>()
    }
}

fn measure(port: &str, pid: u32, how: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    // SETs timed one by one on their own connection.
    let timer = {
        let stop = stop.clone();
        let port = port.to_string();
        thread::spawn(move || {
            let stream = connect(&port);
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            let mut lat = Vec::with_capacity(1 << 20);
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let k = rng % 1_000_000;
                out.clear();
                encode(&mut out, &[b"SET", &key(k), &value(k, rng)]);
                let t = Instant::now();
                writer.write_all(&out).unwrap();
                read_reply(&mut reader);
                lat.push(t.elapsed().as_micros() as u64);
            }
            lat
        })
    };
    // Memory sampled every 5 ms.
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let stop = stop.clone();
        let peak = peak.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_kb(pid), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    thread::sleep(Duration::from_millis(300));
    let before = status_kb(pid, "VmRSS:");
    peak.store(before, Ordering::Relaxed);
    // Resets VmHWM to the current RSS (Linux 4.0+; the bench runs as root).
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");

    let stream = connect(port);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let start = Instant::now();
    let mut out = Vec::new();
    match how {
        "save" => {
            encode(&mut out, &[b"SAVE"]);
            writer.write_all(&out).unwrap();
            let (line, _) = read_reply(&mut reader);
            assert_eq!(line.trim_end(), "+OK");
        }
        "bgsave" => {
            encode(&mut out, &[b"BGSAVE"]);
            writer.write_all(&out).unwrap();
            let (line, _) = read_reply(&mut reader);
            assert!(line.contains("Background saving started"), "{line}");
            loop {
                out.clear();
                encode(&mut out, &[b"INFO", b"persistence"]);
                writer.write_all(&out).unwrap();
                let (_, body) = read_reply(&mut reader);
                let text = String::from_utf8_lossy(&body);
                if text.contains("rdb_bgsave_in_progress:0") {
                    assert!(text.contains("rdb_last_bgsave_status:ok"), "{text}");
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(120), "save never ended");
                thread::sleep(Duration::from_millis(5));
            }
        }
        _ => usage(),
    }
    let save_ms = start.elapsed().as_secs_f64() * 1000.0;
    let hwm = status_kb(pid, "VmHWM:");
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut lat = timer.join().unwrap();
    sampler.join().unwrap();
    lat.sort_unstable();
    let max = *lat.last().unwrap_or(&0);
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or(0);
    println!(
        "save_ms={save_ms:.1} max_set_ms={:.2} p99_set_ms={:.2} sets={} mem_before_kb={before} mem_peak_kb={} hwm_kb={hwm}",
        max as f64 / 1000.0,
        p99 as f64 / 1000.0,
        lat.len(),
        peak.load(Ordering::Relaxed),
    );
}

fn startup(pattern: &str, cmd: &[String]) {
    let start = Instant::now();
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = lines.by_ref().map_while(Result::ok).any(|l| l.contains(pattern));
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "the child never printed {pattern:?}");
    println!("ready_ms={ms:.1}");
}
