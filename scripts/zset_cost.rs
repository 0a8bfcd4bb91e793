//! How the cost of sorted-set commands grows with the set's size
//! (`scripts/zset_cost.sh` runs it): for each size, one sorted set of that
//! many members is built, then `ZADD` (a new score for a random member),
//! `ZREM` (of random members, added back untimed), `ZSCORE`, `ZRANK` and
//! `ZRANGE` of 10 from a random rank are each timed over many operations
//! sent pipelined, and the microseconds per operation printed. Logarithmic
//! costs grow by about log(1e6)/log(1e3) = 2 from 1,000 to 1,000,000
//! members; linear ones by 1,000.
//!
//!   zset_cost --addr 127.0.0.1:6380 [--sizes 1000,100000,1000000]
//!             [--ops 100000] [--pipeline 1000]
//!
//! Prints one line per command and size: `command size us_per_op`.
//! Every loop is bounded by its counts; a server that stops answering ends
//! the run with an error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads and discards one reply; an error reply ends the run.
fn skip_reply(r: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    let text = String::from_utf8_lossy(&line);
    let text = text.trim_end();
    let (kind, rest) = text.split_at(1.min(text.len()));
    match kind {
        "*" | "~" | "%" => {
            let n: i64 = rest.parse().unwrap_or(-1);
            let n = if kind == "%" { n * 2 } else { n };
            for _ in 0..n.max(0) {
                skip_reply(r)?;
            }
        }
        "$" => {
            let n: i64 = rest.parse().unwrap_or(-1);
            if n >= 0 {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf)?;
            }
        }
        "-" => {
            return Err(std::io::Error::other(format!("error reply: {text}")));
        }
        "" => return Err(std::io::Error::other("connection closed")),
        _ => {}
    }
    Ok(())
}

/// A seeded xorshift: the same members and scores every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn score(&mut self) -> String {
        format!("{}", self.below(1 << 30))
    }
}

struct Conn {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    pipeline: usize,
}

impl Conn {
    /// Sends the `n` commands `build` writes (one per call), `pipeline`
    /// at a time, reading every reply; the time it all took.
    fn run(&mut self, n: usize, mut build: impl FnMut(usize, &mut Vec<u8>)) -> Duration {
        let start = Instant::now();
        let mut buf = Vec::new();
        let mut done = 0;
        while done < n {
            let batch = self.pipeline.min(n - done);
            buf.clear();
            for i in done..done + batch {
                build(i, &mut buf);
            }
            self.writer.write_all(&buf).expect("send");
            for _ in 0..batch {
                skip_reply(&mut self.reader).expect("reply");
            }
            done += batch;
        }
        start.elapsed()
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = arg(&args, "--addr").unwrap_or("127.0.0.1:6380");
    let sizes: Vec<usize> = arg(&args, "--sizes")
        .unwrap_or("1000,100000,1000000")
        .split(',')
        .map(|s| s.parse().expect("a size"))
        .collect();
    let ops: usize = arg(&args, "--ops").map_or(100_000, |s| s.parse().expect("ops"));
    let pipeline: usize = arg(&args, "--pipeline").map_or(1000, |s| s.parse().expect("pipeline"));
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut c = Conn {
        writer: stream.try_clone().expect("clone"),
        reader: BufReader::new(stream),
        pipeline,
    };
    let key: &[u8] = b"zset-cost";
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for &size in &sizes {
        c.run(1, |_, out| command(out, &[b"DEL", key]));
        // Built with ZADDs of 1,000 pairs each.
        let per = 1000;
        c.run(size.div_ceil(per), |batch, out| {
            let mut line: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.to_vec()];
            for i in batch * per..((batch + 1) * per).min(size) {
                line.push(rng.score().into_bytes());
                line.push(format!("m{i}").into_bytes());
            }
            let refs: Vec<&[u8]> = line.iter().map(Vec::as_slice).collect();
            command(out, &refs);
        });
        let report = |name: &str, n: usize, took: Duration| {
            println!(
                "{name} {size} {:.3}",
                took.as_secs_f64() * 1e6 / n.max(1) as f64
            );
        };
        let took = c.run(ops, |_, out| {
            let (m, s) = (format!("m{}", rng.below(size)), rng.score());
            command(out, &[b"ZADD", key, s.as_bytes(), m.as_bytes()]);
        });
        report("ZADD", ops, took);
        // Distinct members removed, then put back untimed.
        let removals = ops.min(size / 2);
        let start = rng.below(size);
        let took = c.run(removals, |i, out| {
            let m = format!("m{}", (start + i * 2) % size);
            command(out, &[b"ZREM", key, m.as_bytes()]);
        });
        report("ZREM", removals, took);
        c.run(removals, |i, out| {
            let (m, s) = (format!("m{}", (start + i * 2) % size), rng.score());
            command(out, &[b"ZADD", key, s.as_bytes(), m.as_bytes()]);
        });
        let took = c.run(ops, |_, out| {
            let m = format!("m{}", rng.below(size));
            command(out, &[b"ZSCORE", key, m.as_bytes()]);
        });
        report("ZSCORE", ops, took);
        let took = c.run(ops, |_, out| {
            let m = format!("m{}", rng.below(size));
            command(out, &[b"ZRANK", key, m.as_bytes()]);
        });
        report("ZRANK", ops, took);
        let took = c.run(ops, |_, out| {
            let from = rng.below(size.saturating_sub(10).max(1));
            let (a, b) = (from.to_string(), (from + 9).to_string());
            command(out, &[b"ZRANGE", key, a.as_bytes(), b.as_bytes()]);
        });
        report("ZRANGE10", ops, took);
    }
    c.run(1, |_, out| command(out, &[b"DEL", key]));
}
