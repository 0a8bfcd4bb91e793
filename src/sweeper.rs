//! The sweeper thread: removes every key on its deadline.
//!
//! It sleeps until the earliest deadline in the keyspace's heap, or until a
//! writer adds an earlier one (see [`ExpiryState`](crate::expiry::ExpiryState)
//! for why none is missed), and wakes at least once a second so that a jump of
//! the wall clock cannot strand it; it needs no polling tick, and writes with
//! later deadlines never wake it. Due keys are removed in batches of at most
//! [`SWEEP_BATCH`] heap entries per hold of the write lock, with a short
//! pause between holds so that waiting clients get in: mass expiry never
//! stalls them.
//!
//! Whenever no key is due it also advances the deadline heap's compaction,
//! if one is due (see [`expiry`](crate::expiry)), by at most [`SWEEP_BATCH`]
//! entries per hold with the same pause between holds, stopping as soon as a
//! key falls due. Writes advance a compaction only while they add deadlines;
//! the sweeper is what finishes one after `DEL`, `PERSIST` or an overwrite
//! without a TTL left stale hints behind and nothing else writes, so their
//! keys' memory comes back within a wake-up (at most [`MAX_SLEEP`]).
//!
//! Between waves of expiry it shrinks the partitions that removals left
//! mostly empty, one per hold, and the deadline heap, and after a large wave
//! (or a compaction that freed many keys) it asks the C allocator to return
//! free memory to the operating system. It never does I/O, and it frees
//! removed entries and keys only after releasing the lock.

use crate::clock::now_ms;
#[cfg(doc)]
use crate::expiry::MAX_SLEEP;
use crate::expiry::SWEEP_BATCH;
use crate::keyspace::{Entry, Key, Keyspace};
use std::io;
use std::thread::{self, JoinHandle};
use std::time::Duration;

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

/// Keys expired since the last return of free memory to the operating
/// system before the next one is worth its cost.
const TRIM_AFTER_KEYS: u64 = 65_536;

/// How far off the next deadline must be for a wave of expiry to count as
/// over, so that memory is given back (giving it back during a wave would
/// take the lock for memory the wave is about to empty further).
const QUIET_MS: u64 = 1000;

/// The sweeper's pause between two holds of the write lock. The lock wakes
/// every waiting reader when a writer leaves, but a writer that comes back at
/// once finds them still waking and sends them back to sleep; on a busy
/// machine that starved readers for tens of milliseconds. A pause longer
/// than a wake-up lets them in. Yielding the CPU was not enough: the readers
/// wake on the other core.
const PAUSE_FOR_CLIENTS: Duration = Duration::from_micros(100);

fn pause_for_clients() {
    thread::sleep(PAUSE_FOR_CLIENTS);
}

/// What one hold of the write lock removed, to be freed after it.
#[derive(Default)]
struct Garbage {
    entries: Vec<Entry>,
    keys: Vec<Key>,
    /// Keys freed by compactions since start (they count towards a trim as
    /// expired keys do).
    compacted_keys: u64,
}

impl Extend<Entry> for Garbage {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        self.entries.extend(iter);
    }
}

impl Extend<Key> for Garbage {
    fn extend<I: IntoIterator<Item = Key>>(&mut self, iter: I) {
        self.keys.extend(iter);
    }
}

impl Garbage {
    /// Frees everything held: called with no lock held.
    fn free(&mut self) {
        self.entries.clear();
        self.keys.clear();
    }
}

fn sweep_forever(keyspace: &Keyspace) {
    let expiry = keyspace.expiry().clone();
    let mut garbage = Garbage {
        entries: Vec::with_capacity(SWEEP_BATCH),
        ..Garbage::default()
    };
    let mut freed_at_last_trim = 0;
    while !expiry.stopping() {
        let now = now_ms();
        // Arming under the read guard that reads the heap is what makes a
        // deadline added after this point ring the alarm.
        let next = keyspace.read_for_sweeper().arm_sweeper();
        if next.is_none_or(|d| d > now) {
            compact_between_sweeps(keyspace, &mut garbage);
            // Between waves of expiry, give back what the last one emptied.
            if next.is_none_or(|d| d > now + QUIET_MS) {
                shrink_what_removal_emptied(keyspace);
                let freed = expiry.expired_keys() + garbage.compacted_keys;
                // `CONFIG RESETSTAT` zeroes the expired count: start over.
                freed_at_last_trim = freed_at_last_trim.min(freed);
                if freed >= freed_at_last_trim + TRIM_AFTER_KEYS {
                    freed_at_last_trim = freed;
                    crate::os::return_free_memory();
                }
            }
            // A compaction cut short by a due key re-arms before sleeping.
            if keyspace.read_for_sweeper().compaction_due() {
                continue;
            }
            expiry.sleep();
            continue;
        }
        loop {
            let (_, more) =
                keyspace
                    .write_for_sweeper()
                    .sweep_into(now_ms(), SWEEP_BATCH, &mut garbage);
            // Free the removed keys and values outside the lock.
            garbage.free();
            if !more || expiry.stopping() {
                break;
            }
            pause_for_clients();
        }
    }
}

/// Advances a due compaction of the deadline heap to its end, by at most
/// [`SWEEP_BATCH`] entries per hold of the write lock with a pause for
/// clients between holds, freeing what each hold dropped after releasing
/// it. Returns early once a key is due, so that sweeping never waits for a
/// compaction. Finding nothing to do costs one read guard.
fn compact_between_sweeps(keyspace: &Keyspace, garbage: &mut Garbage) {
    if !keyspace.read_for_sweeper().compaction_due() {
        return;
    }
    while !keyspace.expiry().stopping() {
        let (more, due) = {
            let mut db = keyspace.write_for_sweeper();
            let more = db.compact_some(SWEEP_BATCH, garbage);
            (more, db.next_deadline().is_some_and(|d| d <= now_ms()))
        };
        garbage.compacted_keys += garbage.keys.len() as u64;
        garbage.free();
        if !more || due {
            return;
        }
        pause_for_clients();
    }
}

/// Shrinks what mass removal left mostly empty, one partition per hold of
/// the write lock (so no hold does more than one partition's rehash), with a
/// pause for clients between holds. Finding nothing to do costs one read
/// guard.
fn shrink_what_removal_emptied(keyspace: &Keyspace) {
    let (underfull, heap_underfull) = {
        let db = keyspace.read_for_sweeper();
        (db.underfull_partitions(), db.deadlines_are_underfull())
    };
    for (db, part) in underfull {
        keyspace.write_for_sweeper().shrink_partition(db, part);
        pause_for_clients();
    }
    if heap_underfull {
        keyspace.write_for_sweeper().shrink_deadlines();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::ExpiryState;
    use std::time::Instant;

    #[test]
    fn keys_are_removed_without_being_read() {
        let ks = Keyspace::new();
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        let now = now_ms();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..50u32 {
                db.put(&i.to_be_bytes(), &b"v"[..], now + 50 + u64::from(i), now);
            }
            db.put(b"keep", &b"v"[..], 0, now);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while ks.read().stored_len() > 1 {
            assert!(Instant::now() < deadline, "sweeper did not remove the keys");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(ks.expiry().expired_keys(), 50);
    }

    fn long_sleeping_keyspace() -> Keyspace {
        // With a one-minute maximum sleep, anything faster than that comes
        // from the alarm, not from the periodic wake-up.
        Keyspace::with_expiry(ExpiryState::with_max_sleep(Duration::from_secs(60)))
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_earlier_deadline_wakes_a_sweeper_sleeping_towards_a_later_one() {
        let ks = long_sleeping_keyspace();
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        let now = now_ms();
        let late = now + 60_000;
        ks.write().writer(0).put(b"late", &b"v"[..], late, now);
        wait_for("a sleep towards the late deadline", || {
            ks.expiry().asleep_towards() == Some(late)
        });
        let now = now_ms();
        ks.write().writer(0).put(b"soon", &b"v"[..], now + 100, now);
        wait_for("the early key to go", || ks.read().stored_len() == 1);
        assert!(ks.read().db(0).get(b"late", now_ms()).is_some());
        assert_eq!(ks.expiry().expired_keys(), 1);
        wait_for("a sleep towards the late deadline again", || {
            ks.expiry().asleep_towards() == Some(late)
        });
    }

    #[test]
    fn a_stream_of_writes_with_later_deadlines_does_not_keep_the_sweeper_busy() {
        let ks = long_sleeping_keyspace();
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        wait_for("a sleep with no deadline", || {
            ks.expiry().asleep_towards() == Some(u64::MAX)
        });
        let woken = ks.expiry().wakeups();
        let first = now_ms() + 60_000;
        for i in 0..10_000u64 {
            let now = now_ms();
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            db.put(&i.to_be_bytes(), &b"v"[..], first + i, now);
            db.put(b"plain", &b"v"[..], 0, now);
        }
        wait_for("a sleep towards the first deadline", || {
            ks.expiry().asleep_towards() == Some(first)
        });
        // The first deadline woke it once; a second wake-up is tolerated (a
        // ring racing its wake-up), thousands would be a busy loop.
        assert!(
            ks.expiry().wakeups() <= woken + 2,
            "woke {} times",
            ks.expiry().wakeups() - woken
        );
    }

    #[test]
    fn mass_expiry_is_swept_in_bounded_batches() {
        let ks = Keyspace::new();
        let now = now_ms();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for i in 0..(3 * SWEEP_BATCH as u32 + 17) {
                db.put(&i.to_be_bytes(), &b"v"[..], now + 20, now);
            }
        }
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        wait_for("every key to go", || ks.read().stored_len() == 0);
        assert_eq!(ks.expiry().expired_keys(), 3 * SWEEP_BATCH as u64 + 17);
        assert_eq!(ks.read().deadline_hints(), 0);
    }

    #[test]
    fn the_sweeper_compacts_after_deletes_with_no_further_writes() {
        let ks = Keyspace::new();
        let _sweeper = Sweeper::spawn(ks.clone()).unwrap();
        let now = now_ms();
        let names: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 64 << 10]).collect();
        {
            let mut guard = ks.write();
            let mut db = guard.writer(0);
            for name in &names {
                db.put(name, &b"v"[..], now + 3_600_000, now);
                for i in 1..3 {
                    db.set_deadline(name, now + 3_600_000 + i, now);
                }
            }
            assert_eq!(db.interned_keys(), 40);
            for name in &names {
                db.remove(name, now);
            }
        }
        // No write follows: the sweeper alone gives the copies back.
        wait_for("the deleted keys' copies to go", || {
            let guard = ks.read();
            let db = guard.db(0);
            db.interned_keys() == 0 && db.deadline_hints() == 0
        });
        assert_eq!(ks.read().stale_hints(), 0);
        assert_eq!(ks.expiry().expired_keys(), 0);
    }

    #[test]
    fn dropping_the_sweeper_stops_it_promptly() {
        let ks = long_sleeping_keyspace();
        let sweeper = Sweeper::spawn(ks.clone()).unwrap();
        thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        drop(sweeper);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
