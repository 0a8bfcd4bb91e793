//! Who saves when: `SAVE`, `BGSAVE`, the periodic snapshot thread and the
//! final save at shutdown, one at a time, and the status they leave behind.
//!
//! [`Snapshotter`] lets exactly one save run at a time. A foreground save
//! (`SAVE`, shutdown) runs on the caller's thread; a background save (`BGSAVE`,
//! or the periodic one when keys changed since the last successful save) runs
//! on the [`SnapshotThread`]. A second background request while one is pending
//! or running is refused, as Redis refuses a second `BGSAVE`. The status
//! (`LASTSAVE`, `INFO persistence`) changes under the same mutex as the
//! "running" mark, so a reader never sees a save finished without its outcome.
//!
//! Periodic saves follow the save points (`save "<secs> <changes> ..."`):
//! one is due when, for some point, that many changes were made and that
//! many seconds passed since the last successful save; after a failed save
//! the next attempt waits [`RETRY_DELAY`], as Redis's does. While the last
//! save failed, saves are scheduled and `stop-writes-on-bgsave-error` is on,
//! [`Snapshotter::refusing_writes`] says so and writes answer `-MISCONF`
//! until a save succeeds: a failing disk is never silent.
//!
//! The status mutex is a leaf: nothing else is locked while it is held, and in
//! particular never the keyspace (`INFO` inside `EXEC` reads the status while
//! holding the keyspace write guard). The snapshot thread takes its
//! point-in-time view with a read guard it drops before writing.

use super::{PointInTime, SnapshotPaths};
use crate::clock::now_ms;
use crate::config::SavePoint;
use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::{notice, warning};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest the snapshot thread sleeps without looking at its requests.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// How often the snapshot thread checks the save points.
const SCHEDULE_TICK: Duration = Duration::from_millis(100);

/// After a failed periodic save, the wait before the next attempt (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
pub const RETRY_DELAY: Duration = Duration::from_secs(5);

/// Why a save runs; said in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveTrigger {
    /// The `SAVE` command.
    Save,
    /// The final save of a shutdown.
    Shutdown,
    /// The `BGSAVE` command.
    Bgsave,
    /// A save point was reached (`save`, `--snapshot-interval`).
    Periodic,
}

impl SaveTrigger {
    fn in_background(self) -> bool {
        matches!(self, SaveTrigger::Bgsave | SaveTrigger::Periodic)
    }
}

/// A background save is already pending or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundSaveRunning;

impl fmt::Display for BackgroundSaveRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a background save is already in progress")
    }
}

/// What `INFO persistence` and `LASTSAVE` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveStatus {
    /// A background save is pending or running.
    pub background_in_progress: bool,
    /// Seconds the running background save has taken so far.
    pub current_background_secs: Option<u64>,
    /// Unix seconds of the last successful save (the start time before one).
    pub last_save_unix_secs: u64,
    /// Whether the last save, of any kind, succeeded.
    pub last_ok: bool,
    /// Seconds the last background save took.
    pub last_background_secs: Option<u64>,
    /// Keyspace change count captured by the last successful save.
    pub changes_at_last_save: u64,
    /// Successful saves since start.
    pub saves: u64,
    /// Keys restored from the snapshot at start.
    pub loaded_keys: u64,
    /// Keys dropped at start because their deadline had passed.
    pub expired_at_load: u64,
}

struct State {
    status: SaveStatus,
    /// Who runs the save in progress, if one is.
    running: Option<SaveTrigger>,
    running_since: Option<Instant>,
    background_requested: bool,
    stopping: bool,
    /// When the snapshot thread saves on its own.
    schedule: Vec<SavePoint>,
    /// `stop-writes-on-bgsave-error`.
    stop_writes_on_error: bool,
    /// When the last save succeeded (or the server started).
    last_success: Instant,
    /// When the last save was tried.
    last_try: Option<Instant>,
}

impl State {
    /// Whether writes must be refused now (Redis's
    /// `writeCommandsDeniedByDiskError`).
    fn refuses_writes(&self) -> bool {
        self.stop_writes_on_error && !self.schedule.is_empty() && !self.status.last_ok
    }
}

/// The one place saves are started, serialised and recorded.
pub struct Snapshotter {
    paths: SnapshotPaths,
    state: Mutex<State>,
    /// Signalled when a request arrives, a save ends, or the thread must stop.
    wake: Condvar,
    /// [`State::refuses_writes`], readable on every write without the mutex.
    refusing: AtomicBool,
}

impl Snapshotter {
    /// A snapshotter for `paths`, saving on its own at `schedule` (empty =
    /// only on request). `changes` is the keyspace change count after
    /// loading, which counts as saved; `started_unix_ms` is `LASTSAVE` until
    /// a save succeeds.
    pub fn new(
        paths: SnapshotPaths,
        schedule: Vec<SavePoint>,
        stop_writes_on_error: bool,
        started_unix_ms: u64,
        changes: u64,
        load: &super::LoadReport,
    ) -> Snapshotter {
        Snapshotter {
            paths,
            refusing: AtomicBool::new(false),
            state: Mutex::new(State {
                schedule,
                stop_writes_on_error,
                last_success: Instant::now(),
                last_try: None,
                status: SaveStatus {
                    background_in_progress: false,
                    current_background_secs: None,
                    last_save_unix_secs: started_unix_ms / 1000,
                    last_ok: true,
                    last_background_secs: None,
                    changes_at_last_save: changes,
                    saves: 0,
                    loaded_keys: load.loaded,
                    expired_at_load: load.expired,
                },
                running: None,
                running_since: None,
                background_requested: false,
                stopping: false,
            }),
            wake: Condvar::new(),
        }
    }

    /// Counts the keyspace's `changes` as saved (what was loaded from the
    /// append-only log at start is on disk already).
    pub fn count_as_saved(&self, changes: u64) {
        self.lock().status.changes_at_last_save = changes;
    }

    /// The snapshot's paths.
    pub fn paths(&self) -> &SnapshotPaths {
        &self.paths
    }

    /// Whether writes must be refused with `-MISCONF`: the last save failed,
    /// saves are scheduled and `stop-writes-on-bgsave-error` is on.
    pub fn refusing_writes(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }

    fn update_gate(&self, state: &State) {
        self.refusing
            .store(state.refuses_writes(), Ordering::Relaxed);
    }

    /// Replaces the save points (`CONFIG SET save`).
    pub fn set_schedule(&self, schedule: Vec<SavePoint>) {
        let mut state = self.lock();
        state.schedule = schedule;
        self.update_gate(&state);
        self.wake.notify_all();
    }

    /// Turns `stop-writes-on-bgsave-error` on or off.
    pub fn set_stop_writes_on_error(&self, on: bool) {
        let mut state = self.lock();
        state.stop_writes_on_error = on;
        self.update_gate(&state);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current status.
    pub fn status(&self) -> SaveStatus {
        let state = self.lock();
        let mut status = state.status;
        status.background_in_progress =
            state.background_requested || state.running.is_some_and(SaveTrigger::in_background);
        status.current_background_secs = match (state.running, state.running_since) {
            (Some(t), Some(since)) if t.in_background() => Some(since.elapsed().as_secs()),
            _ => None,
        };
        status
    }

    /// Claims the right to save now on the caller's thread (`SAVE`): refused
    /// while a background save is pending or running, waits for another
    /// foreground save to end.
    pub fn claim_foreground(&self) -> Result<SaveClaim<'_>, BackgroundSaveRunning> {
        let mut state = self.lock();
        loop {
            if state.background_requested || state.running.is_some_and(SaveTrigger::in_background) {
                return Err(BackgroundSaveRunning);
            }
            if state.running.is_none() {
                return Ok(self.claim(state, SaveTrigger::Save));
            }
            state = self.wait(state, MAX_SLEEP);
        }
    }

    /// Claims the final save of a shutdown, waiting for any save in progress
    /// (whose view may predate the last writes) to end first.
    pub fn claim_final(&self) -> SaveClaim<'_> {
        let mut state = self.lock();
        while state.running.is_some() {
            state = self.wait(state, MAX_SLEEP);
        }
        self.claim(state, SaveTrigger::Shutdown)
    }

    /// Asks the snapshot thread for a background save (`BGSAVE`).
    pub fn request_background(&self) -> Result<(), BackgroundSaveRunning> {
        let mut state = self.lock();
        if state.background_requested || state.running.is_some_and(SaveTrigger::in_background) {
            return Err(BackgroundSaveRunning);
        }
        state.background_requested = true;
        self.wake.notify_all();
        Ok(())
    }

    fn claim<'a>(
        &'a self,
        mut state: MutexGuard<'_, State>,
        trigger: SaveTrigger,
    ) -> SaveClaim<'a> {
        state.running = Some(trigger);
        state.running_since = Some(Instant::now());
        state.last_try = Some(Instant::now());
        SaveClaim {
            owner: self,
            trigger,
            started: Instant::now(),
            open: true,
        }
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>, at_most: Duration) -> MutexGuard<'a, State> {
        self.wake
            .wait_timeout(state, at_most)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Starts the snapshot thread over `keyspace`.
    pub fn spawn(self: &Arc<Self>, keyspace: Keyspace) -> io::Result<SnapshotThread> {
        let owner = self.clone();
        let handle = thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || owner.serve_background(&keyspace))?;
        Ok(SnapshotThread {
            owner: self.clone(),
            handle: Some(handle),
        })
    }

    /// The snapshot thread: runs requested and scheduled background saves
    /// until told to stop.
    fn serve_background(&self, keyspace: &Keyspace) {
        loop {
            // Read before taking the status lock: the keyspace lock is never
            // taken while the status lock is held.
            let changes = keyspace.read().changes();
            let mut state = self.lock();
            if state.stopping {
                return;
            }
            let now = Instant::now();
            let mut trigger = None;
            if state.background_requested && state.running.is_none() {
                state.background_requested = false;
                trigger = Some(SaveTrigger::Bgsave);
            }
            if trigger.is_none()
                && state.running.is_none()
                && save_point_reached(&state, changes, now)
            {
                trigger = Some(SaveTrigger::Periodic);
            }
            match trigger {
                Some(trigger) => {
                    let claim = self.claim(state, trigger);
                    notice!("{} started", describe(trigger));
                    let view = PointInTime::capture(keyspace, now_ms());
                    let _ = claim.save(view);
                }
                None => {
                    let sleep = if state.schedule.is_empty() {
                        MAX_SLEEP
                    } else {
                        SCHEDULE_TICK
                    };
                    drop(self.wait(state, sleep));
                }
            }
        }
    }
}

/// Whether a save point is reached: enough changes and enough time since
/// the last successful save, and, after a failure, the retry delay passed.
fn save_point_reached(state: &State, changes: u64, now: Instant) -> bool {
    let since_success = now.saturating_duration_since(state.last_success);
    let changed = changes.saturating_sub(state.status.changes_at_last_save);
    let may_retry = state.status.last_ok
        || state
            .last_try
            .is_none_or(|t| now.saturating_duration_since(t) >= RETRY_DELAY);
    may_retry
        && state
            .schedule
            .iter()
            .any(|p| changed >= p.changes && since_success.as_secs() >= p.secs)
}

fn describe(trigger: SaveTrigger) -> &'static str {
    match trigger {
        SaveTrigger::Save => "DB save (SAVE)",
        SaveTrigger::Shutdown => "final DB save before shutdown",
        SaveTrigger::Bgsave => "background save (BGSAVE)",
        SaveTrigger::Periodic => "periodic background save",
    }
}

/// The right to run the one save in progress; recorded and released by
/// [`SaveClaim::save`], or released (as a failure) if dropped unused.
pub struct SaveClaim<'a> {
    owner: &'a Snapshotter,
    trigger: SaveTrigger,
    started: Instant,
    open: bool,
}

impl SaveClaim<'_> {
    /// Writes `view` to the snapshot file (no lock held), records the outcome
    /// and releases the claim. Failures are logged at `warning`.
    pub fn save(mut self, view: PointInTime) -> Result<u64, Error> {
        let owner = self.owner;
        let result = owner.paths.replace_with(|w| view.encode(w));
        let (keys, changes, capture) = (view.len(), view.changes, view.capture_time);
        // Free the view before anyone can see the save as finished.
        drop(view);
        let elapsed = self.started.elapsed();
        match &result {
            Ok(bytes) => notice!(
                "{} done: {keys} keys ({:.1} ms under the read lock), {bytes} bytes written to {} in {} ms",
                describe(self.trigger),
                capture.as_secs_f64() * 1000.0,
                owner.paths.file.display(),
                elapsed.as_millis()
            ),
            Err(e) => warning!(
                "{} failed, the previous snapshot is kept: {e}",
                describe(self.trigger)
            ),
        }
        let mut state = owner.lock();
        if result.is_ok() {
            state.last_success = Instant::now();
        }
        let status = &mut state.status;
        status.last_ok = result.is_ok();
        if result.is_ok() {
            status.last_save_unix_secs = now_ms() / 1000;
            status.changes_at_last_save = changes;
            status.saves += 1;
        }
        if self.trigger.in_background() {
            status.last_background_secs = Some(elapsed.as_secs());
        }
        owner.update_gate(&state);
        self.release(&mut state);
        result
    }

    fn release(&mut self, state: &mut State) {
        state.running = None;
        state.running_since = None;
        self.open = false;
        self.owner.wake.notify_all();
    }
}

impl Drop for SaveClaim<'_> {
    fn drop(&mut self) {
        if self.open {
            // Unwinding out of a save: count it as failed, let others run.
            let owner = self.owner;
            let mut state = owner.lock();
            state.status.last_ok = false;
            owner.update_gate(&state);
            self.release(&mut state);
        }
    }
}

/// The running snapshot thread; dropping it stops and joins the thread, after
/// the save it may be running ends.
pub struct SnapshotThread {
    owner: Arc<Snapshotter>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for SnapshotThread {
    fn drop(&mut self) {
        self.owner.lock().stopping = true;
        self.owner.wake.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{LoadReport, load};

    fn snapshotter(dir: &std::path::Path, interval: u64) -> Arc<Snapshotter> {
        let schedule = match interval {
            0 => vec![],
            secs => vec![SavePoint { secs, changes: 1 }],
        };
        Arc::new(Snapshotter::new(
            SnapshotPaths::new(dir, "dump.gcs"),
            schedule,
            true,
            now_ms(),
            0,
            &LoadReport::default(),
        ))
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_second_background_request_is_refused_until_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 0);
        let ks = Keyspace::new();
        ks.write().writer(0).put(b"k", &b"v"[..], 0, 0);
        assert_eq!(saver.request_background(), Ok(()));
        assert_eq!(saver.request_background(), Err(BackgroundSaveRunning));
        assert!(saver.status().background_in_progress);
        assert!(saver.claim_foreground().is_err(), "SAVE refused meanwhile");
        let _thread = saver.spawn(ks.clone()).unwrap();
        wait_for("the background save", || saver.status().saves == 1);
        let status = saver.status();
        assert!(!status.background_in_progress && status.last_ok);
        assert_eq!(status.last_background_secs, Some(0));
        assert_eq!(status.changes_at_last_save, ks.read().changes());
        let restored = Keyspace::new();
        assert_eq!(
            load(
                saver.paths(),
                &restored,
                0,
                crate::config::Encodings::DEFAULT
            )
            .unwrap()
            .loaded,
            1
        );
        assert_eq!(saver.request_background(), Ok(()));
    }

    #[test]
    fn periodic_saves_happen_only_when_keys_changed() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 1);
        let ks = Keyspace::new();
        let _thread = saver.spawn(ks.clone()).unwrap();
        thread::sleep(Duration::from_millis(1300));
        assert_eq!(saver.status().saves, 0, "nothing changed, nothing saved");
        ks.write().writer(0).put(b"k", &b"v"[..], 0, 0);
        wait_for("the periodic save", || saver.status().saves == 1);
        assert!(saver.paths().file.exists());
    }

    #[test]
    fn a_failed_save_is_recorded_and_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 0);
        let ks = Keyspace::new();
        ks.write().writer(0).put(b"k", &b"v"[..], 0, 0);
        let claim = saver.claim_foreground().unwrap();
        claim.save(PointInTime::capture(&ks, 0)).unwrap();
        let before = std::fs::read(&saver.paths().file).unwrap();
        let last_save = saver.status().last_save_unix_secs;

        std::fs::create_dir(&saver.paths().tmp).unwrap();
        ks.write().writer(0).put(b"k2", &b"v"[..], 0, 0);
        let claim = saver.claim_foreground().unwrap();
        assert!(claim.save(PointInTime::capture(&ks, 0)).is_err());
        let status = saver.status();
        assert!(!status.last_ok);
        assert_eq!(status.saves, 1);
        assert_eq!(status.last_save_unix_secs, last_save);
        assert!(status.changes_at_last_save < ks.read().changes());
        assert_eq!(std::fs::read(&saver.paths().file).unwrap(), before);
    }

    #[test]
    fn a_failed_save_refuses_writes_only_with_a_schedule_and_the_setting_on() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 3600);
        let ks = Keyspace::new();
        std::fs::create_dir(&saver.paths().tmp).unwrap();
        let claim = saver.claim_foreground().unwrap();
        assert!(claim.save(PointInTime::capture(&ks, 0)).is_err());
        assert!(saver.refusing_writes());
        saver.set_stop_writes_on_error(false);
        assert!(!saver.refusing_writes());
        saver.set_stop_writes_on_error(true);
        saver.set_schedule(vec![]);
        assert!(!saver.refusing_writes(), "no save points, as in Redis");
        saver.set_schedule(vec![SavePoint {
            secs: 60,
            changes: 1,
        }]);
        assert!(saver.refusing_writes());
        std::fs::remove_dir(&saver.paths().tmp).unwrap();
        let claim = saver.claim_foreground().unwrap();
        claim.save(PointInTime::capture(&ks, 0)).unwrap();
        assert!(!saver.refusing_writes(), "a good save lifts it");
    }

    #[test]
    fn save_points_need_both_the_changes_and_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 0);
        saver.set_schedule(vec![SavePoint {
            secs: 1,
            changes: 3,
        }]);
        let state = saver.lock();
        let start = state.last_success;
        let later = start + Duration::from_secs(2);
        assert!(!save_point_reached(&state, 2, later), "too few changes");
        assert!(!save_point_reached(&state, 3, start), "too soon");
        assert!(save_point_reached(&state, 3, later));
    }

    #[test]
    fn the_final_save_waits_for_a_save_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let saver = snapshotter(dir.path(), 0);
        let first = saver.claim_foreground().unwrap();
        let waiter = {
            let saver = saver.clone();
            thread::spawn(move || {
                let claim = saver.claim_final();
                claim.save(PointInTime::capture(&Keyspace::new(), 0))
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished());
        drop(first);
        waiter.join().unwrap().unwrap();
        assert_eq!(saver.status().saves, 1);
    }
}
