//! The housekeeping thread: what the server does on a clock rather than on
//! a request.
//!
//! Ten times a second it samples the command count for
//! `instantaneous_ops_per_sec` and turns a SIGINT or SIGTERM into a
//! shutdown request; once a second, with `timeout` set, it closes clients
//! that completed no request for longer than that (shutting their sockets
//! down, which ends their threads' reads). It never touches the keyspace.
//! Blocked clients are exempt from the timeout, as in Redis (subscribers,
//! once gocache has them, are to be too).

use crate::clock::now_ms;
use crate::shared::{SaveOnExit, Shared, ShutdownRequest};
use crate::{notice, verbose};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How often the thread wakes.
const TICK: Duration = Duration::from_millis(100);

/// Ticks between two looks for idle clients.
const IDLE_CHECK_TICKS: u32 = 10;

/// Starts the housekeeping thread.
pub fn spawn(server: &Arc<Shared>) -> std::io::Result<()> {
    let server = server.clone();
    thread::Builder::new()
        .name("housekeeping".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            let mut ticks = 0u32;
            loop {
                let now = now_ms();
                server.stats.sample_ops(now);
                if crate::os::take_stop_request() {
                    notice!("received SIGINT or SIGTERM, scheduling shutdown");
                    server.request_shutdown(ShutdownRequest {
                        save: SaveOnExit::Save,
                        force: false,
                        failed: None,
                    });
                }
                ticks = ticks.wrapping_add(1);
                if ticks % IDLE_CHECK_TICKS == 0 {
                    close_idle_clients(&server, now);
                }
                thread::sleep(TICK);
            }
        })?;
    Ok(())
}

fn close_idle_clients(server: &Shared, now: u64) {
    let timeout = server.settings.timeout_secs();
    if timeout == 0 {
        return;
    }
    let closed = server.clients.close_idle(now, timeout.saturating_mul(1000));
    if closed > 0 {
        verbose!("closed {closed} idle client(s) (timeout {timeout} s)");
    }
}
