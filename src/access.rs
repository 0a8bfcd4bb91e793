//! What a key's access stamp says: how recently, or how often, the key was
//! used. Eviction ranks keys by it, and `OBJECT IDLETIME` and `OBJECT FREQ`
//! read it.
//!
//! Every stored [`Entry`](crate::entry::Entry) carries a 16-bit stamp (in
//! bits of its pointer that the address never uses, so it costs no memory).
//! Like Redis's 24-bit `lru` field, the stamp means one of two things,
//! depending on whether the `maxmemory-policy` in force is an LFU one:
//!
//! - **Recency** (every policy but the `*-lfu` ones): bit 15 is a
//!   *referenced* bit and bits 0-14 the second of the last access, modulo
//!   2^15 (so `OBJECT IDLETIME` is exact for keys idle less than nine hours,
//!   and counts modulo that beyond). An access sets both. The eviction hand
//!   clears the referenced bit as it passes a key and takes the keys it finds
//!   without one: the CLOCK approximation of LRU, which orders keys however
//!   fast they are used, where a seconds clock alone cannot tell apart the
//!   keys used in the same second.
//! - **Frequency** (`allkeys-lfu`, `volatile-lfu`): bits 8-15 are the minute
//!   of the last access, modulo 256, and bits 0-7 Redis's logarithmic access
//!   counter: a new key starts at [`LFU_INIT`], an access raises the counter
//!   with probability `1 / ((counter - LFU_INIT) * lfu-log-factor + 1)`, and
//!   it loses one for every `lfu-decay-time` minutes the key went unused.
//!
//! - **Queues** (`allkeys-s3fifo`, gocache's own): bit 15 says the key
//!   is in the *main* queue rather than the *small* one new keys start in,
//!   bits 13-14 count accesses since the eviction hand last passed it (0 to
//!   3, saturating), and bits 0-12 are the second of the last access,
//!   modulo 2^13 (`OBJECT IDLETIME` is exact below two hours). See
//!   [`evict`](crate::keyspace::evict) for what the hand does with them.
//!
//! Switching between the families reinterprets the stamps already stored,
//! as in Redis: they adjust as keys are used again.
//!
//! This module is arithmetic on stamps and a keyspace's copy of the settings. It
//! never touches the keyspace, takes no lock and allocates nothing.

use std::cell::Cell;

/// The counter a new key starts with under an LFU policy (Redis's
/// `LFU_INIT_VAL`), so a key just added is not the first to go.
pub const LFU_INIT: u8 = 5;

/// In a recency stamp: the key was used since the eviction hand last passed.
pub const REFERENCED: u16 = 1 << 15;

/// In a recency stamp: the bits of the second of the last access.
const SECONDS: u16 = REFERENCED - 1;

/// In a queue stamp: the key is in the main queue.
pub const MAIN: u16 = 1 << 15;

/// In a queue stamp: where the access count starts.
const QUEUE_COUNT_SHIFT: u32 = 13;

/// In a queue stamp: the access count's bits.
const QUEUE_COUNT: u16 = 0b11 << QUEUE_COUNT_SHIFT;

/// In a queue stamp: one access.
pub const QUEUE_ACCESS: u16 = 1 << QUEUE_COUNT_SHIFT;

/// In a queue stamp: the bits of the second of the last access.
const QUEUE_SECONDS: u16 = QUEUE_ACCESS - 1;

/// A queue stamp's access count (0 to 3).
#[inline]
pub fn queue_count(stamp: u16) -> u16 {
    (stamp & QUEUE_COUNT) >> QUEUE_COUNT_SHIFT
}

/// A queue stamp as the main queue takes a key promoted from the small
/// one: in the main queue, its accesses counted from zero again.
#[inline]
pub fn promoted(stamp: u16) -> u16 {
    MAIN | (stamp & QUEUE_SECONDS)
}

/// Which of the three meanings (see the module docs) stamps have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Meaning {
    /// A referenced bit and the second of the last use (every policy but
    /// the LFU ones and `allkeys-s3fifo`).
    #[default]
    Recency,
    /// Redis's logarithmic counter and the minute of the last use (the
    /// `*-lfu` policies).
    Frequency,
    /// The queue, a 2-bit count and the second of the last use
    /// (`allkeys-s3fifo`).
    Queues,
}

/// What stamps mean in one keyspace, and the LFU counter's settings: a copy
/// of the `maxmemory-policy` family, `lfu-log-factor` and `lfu-decay-time`
/// in force, kept beside the data it stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamps {
    /// What the stamps mean, by the policy in force.
    pub meaning: Meaning,
    /// `lfu-log-factor`.
    pub log_factor: u32,
    /// `lfu-decay-time`, in minutes; 0 never decays.
    pub decay_minutes: u32,
}

impl Default for Stamps {
    /// Redis's defaults: recency, factor 10, decay every minute.
    fn default() -> Stamps {
        Stamps {
            meaning: Meaning::Recency,
            log_factor: 10,
            decay_minutes: 1,
        }
    }
}

/// The recency clock at `now` (Unix ms): seconds modulo 2^15.
#[inline]
fn seconds(now: u64) -> u16 {
    ((now / 1000) as u16) & SECONDS
}

/// The frequency clock at `now`: minutes modulo 256.
#[inline]
fn minutes(now: u64) -> u8 {
    (now / 60_000) as u8
}

/// Seconds since the access a recency stamp records, at `now`.
#[inline]
pub fn idle_seconds(stamp: u16, now: u64) -> u64 {
    u64::from(seconds(now).wrapping_sub(stamp) & SECONDS)
}

/// The queue stamps' clock at `now`: seconds modulo 2^13.
#[inline]
fn queue_seconds(now: u64) -> u16 {
    ((now / 1000) as u16) & QUEUE_SECONDS
}

impl Stamps {
    /// Whether stamps count frequency (an LFU policy is in force).
    #[inline]
    pub fn lfu(&self) -> bool {
        self.meaning == Meaning::Frequency
    }

    /// The stamp of a key stored at `now` that replaces one stamped `old`
    /// (if any). Replacing a key is a use of it; under LFU its count
    /// carries over, as Redis keeps it across an overwrite, and a new key
    /// starts at [`LFU_INIT`]. A new key's recency stamp has the time but
    /// not the referenced bit: until it is used again it is among the first
    /// the eviction hand takes, so a key written once and never read (a
    /// one-off miss, a scan) does not push out the keys that are read.
    #[inline]
    pub fn on_store(&self, old: Option<u16>, now: u64) -> u16 {
        match (old, self.meaning) {
            (Some(old), _) => self.touched(old, now),
            (None, Meaning::Frequency) => u16::from(minutes(now)) << 8 | u16::from(LFU_INIT),
            (None, Meaning::Queues) => queue_seconds(now),
            (None, Meaning::Recency) => seconds(now),
        }
    }

    /// Under queues: the stamp of a new key stored at `now` that was
    /// evicted from the small queue not long ago (the ghost queue remembers
    /// it). It goes straight to the main queue, counted as used once (so
    /// the hand's next pass lowers its count rather than taking it): it
    /// was wanted again.
    #[inline]
    pub fn on_store_remembered(&self, now: u64) -> u16 {
        MAIN | QUEUE_ACCESS | queue_seconds(now)
    }

    /// Under queues: the stamp of a new key stored at `now` straight into
    /// the main queue, unused yet.
    #[inline]
    pub fn on_store_main(&self, now: u64) -> u16 {
        MAIN | queue_seconds(now)
    }

    /// Seconds since the key stamped `stamp` was last used, at `now`
    /// (`OBJECT IDLETIME`; not meaningful under LFU).
    #[inline]
    pub fn idle_seconds(&self, stamp: u16, now: u64) -> u64 {
        if self.meaning == Meaning::Queues {
            return u64::from(queue_seconds(now).wrapping_sub(stamp) & QUEUE_SECONDS);
        }
        idle_seconds(stamp, now)
    }

    /// The stamp of a key stamped `old` and used at `now`.
    #[inline]
    pub fn touched(&self, old: u16, now: u64) -> u16 {
        match self.meaning {
            Meaning::Queues => {
                let count = (queue_count(old) + 1).min(3);
                return (old & MAIN) | count << QUEUE_COUNT_SHIFT | queue_seconds(now);
            }
            Meaning::Recency => return REFERENCED | seconds(now),
            Meaning::Frequency => {}
        }
        let counter = self.log_increment(self.frequency(old, now));
        u16::from(minutes(now)) << 8 | u16::from(counter)
    }

    /// A frequency stamp's counter at `now`: what it counted, less one for
    /// every `lfu-decay-time` minutes since the key was last used.
    #[inline]
    pub fn frequency(&self, stamp: u16, now: u64) -> u8 {
        let counter = stamp as u8;
        if self.decay_minutes == 0 {
            return counter;
        }
        let elapsed = u32::from(minutes(now).wrapping_sub((stamp >> 8) as u8));
        let periods = elapsed / self.decay_minutes;
        counter.saturating_sub(periods.min(255) as u8)
    }

    /// Redis's logarithmic increment: the higher the counter, the less likely
    /// an access raises it.
    fn log_increment(&self, counter: u8) -> u8 {
        if counter == u8::MAX {
            return counter;
        }
        let base = f64::from(counter.saturating_sub(LFU_INIT));
        let p = 1.0 / (base * f64::from(self.log_factor) + 1.0);
        if unit_random() < p {
            counter + 1
        } else {
            counter
        }
    }
}

/// A number in [0, 1) from this thread's own generator (xorshift64*,
/// seeded from the thread's address and the time): no lock, no sharing.
fn unit_random() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = crate::clock::now_us() ^ (std::ptr::from_ref(state) as u64).rotate_left(32) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recency_stamp_counts_idle_seconds_across_the_wrap() {
        let stamps = Stamps::default();
        let stamp = stamps.touched(0, 5_000);
        assert_eq!(stamp & REFERENCED, REFERENCED);
        assert_eq!(idle_seconds(stamp, 5_000), 0);
        assert_eq!(idle_seconds(stamp, 12_999), 7);
        // 2^15 seconds later the clock has wrapped; the count is modulo.
        let near_wrap = u64::from(SECONDS) * 1000;
        let stamp = stamps.on_store(None, near_wrap);
        assert_eq!(stamp & REFERENCED, 0, "a new key is not referenced yet");
        assert_eq!(idle_seconds(stamp, near_wrap + 3_000), 3);
        assert_eq!(stamps.on_store(Some(stamp), 0) & REFERENCED, REFERENCED);
    }

    #[test]
    fn a_queue_stamp_counts_accesses_to_three_and_keeps_its_queue() {
        let stamps = Stamps {
            meaning: Meaning::Queues,
            ..Stamps::default()
        };
        let new = stamps.on_store(None, 5_000);
        assert_eq!((new & MAIN, queue_count(new)), (0, 0));
        let mut stamp = new;
        for expected in [1, 2, 3, 3] {
            stamp = stamps.touched(stamp, 6_000);
            assert_eq!((stamp & MAIN, queue_count(stamp)), (0, expected));
        }
        assert_eq!(stamps.idle_seconds(stamp, 9_000), 3);
        let main = promoted(stamp);
        assert_eq!((main & MAIN, queue_count(main)), (MAIN, 0));
        assert_eq!(stamps.touched(main, 6_000) & MAIN, MAIN);
        let back = stamps.on_store_remembered(7_000);
        assert_eq!((back & MAIN, queue_count(back)), (MAIN, 1));
        // Seconds wrap at 2^13.
        let wrap = u64::from(QUEUE_SECONDS) * 1000;
        let late = stamps.on_store(None, wrap);
        assert_eq!(stamps.idle_seconds(late, wrap + 2_000), 2);
    }

    #[test]
    fn the_frequency_counter_decays_by_minutes_and_grows_logarithmically() {
        let stamps = Stamps {
            meaning: Meaning::Frequency,
            ..Stamps::default()
        };
        assert_eq!(stamps.on_store(None, 0) as u8, LFU_INIT);
        let stamp = 3u16 << 8 | 20;
        assert_eq!(stamps.frequency(stamp, 3 * 60_000), 20);
        assert_eq!(stamps.frequency(stamp, 7 * 60_000), 16);
        assert_eq!(stamps.frequency(stamp, 250 * 60_000), 0);
        let slow = Stamps {
            decay_minutes: 0,
            ..stamps
        };
        assert_eq!(slow.frequency(stamp, 250 * 60_000), 20);
        let mut counter = LFU_INIT;
        for _ in 0..1000 {
            counter = stamps.log_increment(counter);
        }
        // Redis: about 1,000 hits take a counter of 5 to about 18 (factor 10).
        assert!((10..40).contains(&counter), "{counter}");
        assert_eq!(stamps.log_increment(255), 255);
        // An overwrite keeps the count it replaces.
        let kept = stamps.on_store(Some(3u16 << 8 | 200), 3 * 60_000);
        assert!(kept as u8 >= 200);
    }
}
