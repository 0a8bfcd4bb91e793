//! Server-wide counters for `INFO`.
//!
//! Connections add their per-batch counts here, so the hot path touches a
//! shared cache line once per batch, not once per command. The ops meter is
//! sampled by the server's housekeeping thread ten times a second.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::session::LocalCounters;

/// Samples kept for `instantaneous_ops_per_sec` (1.6 s at 100 ms apart).
const OPS_SAMPLES: usize = 16;

/// Counters shown by `INFO stats`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused at the client limit.
    pub rejected_connections: AtomicU64,
    /// Commands processed.
    pub commands_processed: AtomicU64,
    /// Reads that found their key.
    pub keyspace_hits: AtomicU64,
    /// Reads that did not.
    pub keyspace_misses: AtomicU64,
    ops: Mutex<VecDeque<(u64, u64)>>,
}

impl Stats {
    /// Adds a connection's counters and zeroes them.
    pub fn absorb(&self, local: &mut LocalCounters) {
        if local.commands > 0 {
            self.commands_processed
                .fetch_add(local.commands, Ordering::Relaxed);
        }
        if local.hits > 0 {
            self.keyspace_hits.fetch_add(local.hits, Ordering::Relaxed);
        }
        if local.misses > 0 {
            self.keyspace_misses
                .fetch_add(local.misses, Ordering::Relaxed);
        }
        *local = LocalCounters::default();
    }

    /// Records a sample of the command count at `now_ms`.
    pub fn sample_ops(&self, now_ms: u64) {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        ops.push_back((now_ms, self.commands_processed.load(Ordering::Relaxed)));
        while ops.len() > OPS_SAMPLES {
            ops.pop_front();
        }
    }

    /// Commands per second over the sampled window.
    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        let ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        match (ops.front(), ops.back()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => (c1 - c0) * 1000 / (t1 - t0),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_rate_comes_from_the_sample_window() {
        let s = Stats::default();
        s.sample_ops(1000);
        s.commands_processed.store(500, Ordering::Relaxed);
        s.sample_ops(1500);
        assert_eq!(s.instantaneous_ops_per_sec(), 1000);
    }
}
