//! The sweeper thread: removes every key on its deadline.
//!
//! It sleeps until the earliest deadline in the keyspace's heap, or until a
//! writer adds an earlier one (see [`ExpiryState`](crate::expiry::ExpiryState)),
//! and at least once a second. Due keys are removed in batches of at most
//! [`SWEEP_BATCH`] per hold of the write lock, so mass expiry never stalls
//! clients. It never does I/O.

use crate::clock::now_ms;
use crate::expiry::SWEEP_BATCH;
use crate::keyspace::Keyspace;
use std::io;
use std::thread::{self, JoinHandle};

/// The running sweeper; dropping it stops and joins the thread.
pub struct Sweeper {
    keyspace: Keyspace,
    thread: Option<JoinHandle<()>>,
}

impl Sweeper {
    /// Starts the sweeper over `keyspace`.
    pub fn spawn(keyspace: Keyspace) -> io::Result<Sweeper> {
        let ks = keyspace.clone();
        let thread = thread::Builder::new()
            .name("sweeper".into())
            .spawn(move || sweep_forever(&ks))?;
        Ok(Sweeper {
            keyspace,
            thread: Some(thread),
        })
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.keyspace.expiry().stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sweep_forever(keyspace: &Keyspace) {
    let expiry = keyspace.expiry().clone();
    while !expiry.stopping() {
        let generation = expiry.generation();
        let now = now_ms();
        let next = keyspace.read().next_deadline();
        if next.is_some_and(|d| d <= now) {
            let (_, more) = keyspace.write().sweep(now, SWEEP_BATCH);
            if more {
                // Let waiting clients at the lock between batches.
                thread::yield_now();
            }
            continue;
        }
        expiry.sleep_until(next, generation, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn keys_are_removed_without_being_read() {
        let ks = Keyspace::new();
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        let now = now_ms();
        {
            let mut db = ks.write();
            for i in 0..50u32 {
                db.put(
                    &i.to_be_bytes(),
                    Arc::from(&b"v"[..]),
                    now + 50 + u64::from(i),
                    now,
                );
            }
            db.put(b"keep", Arc::from(&b"v"[..]), 0, now);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while ks.read().stored_len() > 1 {
            assert!(Instant::now() < deadline, "sweeper did not remove the keys");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(ks.expiry().expired_keys(), 50);
    }
}
