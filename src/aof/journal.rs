//! The journal: the log bytes the keyspace has committed and the disk
//! does not hold yet, and the group commit that writes and syncs them.
//!
//! The commit point appends each commit's record here under the keyspace
//! write lock, so the bytes are in the order the writes were applied;
//! appending copies them into a buffer under this journal's own mutex
//! and does nothing else. No keyspace lock is ever held while the journal
//! writes or syncs.
//!
//! Offsets are positions in the stream of every byte appended since the
//! server started, across files. A connection notes, for its own thread,
//! the end of the bytes its writes appended and the end of the bytes that
//! were appended when it read ([`Marks`]): one thread serves one
//! connection, so the thread's marks are the connection's. Before its
//! replies go out it [settles](Journal::settle) them: under `always` it
//! waits until the disk holds everything up to both marks (a reply that
//! reveals a write is held like the write's own), under `everysec` and
//! `no` until `write(2)` has handed them to the kernel, so a killed
//! process loses no acknowledged write under any policy while the log is
//! healthy. (Once a write of the log has failed, `everysec` and `no`
//! acknowledge the writes already applied, as Redis does, and refuse new
//! ones; those bytes stay buffered until a retry writes them.) A reader
//! whose marks are already synced waits for nothing.
//!
//! Group commit. Under `always`, one thread of the journal's own (the
//! syncer, [`Journal::run_syncer`]) writes and syncs in a loop: each
//! round takes every byte appended so far, writes it at the file's end,
//! syncs (`fdatasync`), and wakes exactly the waiters it covered; the
//! writes appended during one round's sync are the next round's, so
//! connections keep running commands while the disk syncs, and many
//! writers share each sync. Under `everysec` and `no`, a waiter finding
//! nobody writing writes everything pending itself (a `write(2)`, a few
//! microseconds), so no thread hand-off is paid; the background thread
//! syncs once a second without taking the lead, so writers never wait
//! for that sync. A waiter parks on its own thread and is unparked by
//! whoever covered it, never woken with the others to find it must wait
//! on.
//!
//! A failed write or sync is never hidden: the bytes stay in the buffer
//! (a later write goes at the same file offset, over whatever part of
//! them reached the file), the failure is kept for `INFO` and the
//! `MISCONF` refusal of new writes, and the background thread retries
//! every [`RETRY_EVERY`]. Under `always` a writer whose bytes are not on
//! disk gets no reply until a retry succeeds: no acknowledgment claims a
//! durability it does not have. Readers are not held while the log
//! fails (nothing new can be written, and what they might reveal was
//! never acknowledged).

use super::Fsync;
use std::cell::Cell;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How often the background thread retries a failed write.
pub const RETRY_EVERY: Duration = Duration::from_millis(100);

/// Times a write-only waiter yields to a leader before parking.
const WRITE_SPINS: u32 = 8;

/// Buffer room kept between two leaders' writes; a burst bigger than this
/// gives its room back.
const KEPT_ROOM: usize = 1 << 20;

/// An incremental log file open for appending.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The open file (shared with a background sync).
    pub file: Arc<File>,
    /// Its path, for errors.
    pub path: PathBuf,
    /// Its length: where the next byte goes.
    pub len: u64,
}

/// The journal's state, under its mutex.
#[derive(Debug)]
struct State {
    /// Appended bytes not yet written.
    pending: Vec<u8>,
    /// The stream offset of `pending[0]`.
    pending_from: u64,
    /// The stream offset up to which bytes are written to a file.
    written: u64,
    /// The stream offset up to which bytes are synced.
    synced: u64,
    /// A leader is writing or syncing.
    leading: bool,
    /// The file bytes go to.
    file: Option<LogFile>,
    /// A file to switch to once `written` reaches the offset (a rewrite
    /// began there).
    next: Option<(u64, LogFile)>,
    /// The last write or sync error, until a retry succeeds.
    failure: Option<String>,
    /// A leader's buffer, handed back for the next.
    spare: Vec<u8>,
    /// Threads parked until the stream is written (`false`) or synced
    /// (`true`) up to an offset.
    waiting: Vec<Waiting>,
    /// A syncer thread runs ([`Journal::run_syncer`]).
    syncer: bool,
    /// The syncer is waiting for work.
    syncer_idle: bool,
    /// Connections' replies the syncer sends once synced.
    deferred: Vec<Arc<Outbox>>,
    /// Threads in [`Journal::flush`] waiting for a leader to finish.
    flushing: usize,
}

/// A thread parked in [`Journal::reach`].
#[derive(Debug)]
struct Waiting {
    need: u64,
    sync: bool,
    thread: std::thread::Thread,
}

impl State {
    /// Takes the waiters the stream's progress now covers.
    fn covered(&mut self) -> Vec<std::thread::Thread> {
        let (written, synced) = (self.written, self.synced);
        let mut woken = Vec::new();
        self.waiting.retain(|w| {
            let have = if w.sync { synced } else { written };
            if have >= w.need {
                woken.push(w.thread.clone());
                false
            } else {
                true
            }
        });
        woken
    }
}

/// The journal of one server (see the module doc).
#[derive(Debug)]
pub struct Journal {
    id: u64,
    state: Mutex<State>,
    /// Signalled as a leader finishes while a [`Journal::flush`] waits
    /// for it (and by the rare state changes a flush may wait on).
    moved: Condvar,
    /// Signalled when the syncer has work (it waits on nothing else).
    work: Condvar,
    /// The end of the bytes appended: set under the keyspace write lock.
    appended: AtomicU64,
    policy: AtomicU8,
    /// Mirrors `state.failure.is_some()` for a check without the mutex.
    failing: AtomicBool,
}

impl Journal {
    /// An empty journal with no file, syncing by `policy`.
    pub fn new(policy: Fsync) -> Journal {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Journal {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                pending: Vec::new(),
                pending_from: 0,
                written: 0,
                synced: 0,
                leading: false,
                file: None,
                next: None,
                failure: None,
                spare: Vec::new(),
                waiting: Vec::new(),
                syncer: false,
                syncer_idle: false,
                deferred: Vec::new(),
                flushing: 0,
            }),
            moved: Condvar::new(),
            work: Condvar::new(),
            appended: AtomicU64::new(0),
            policy: AtomicU8::new(policy as u8),
            failing: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sync policy in force.
    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Changes the sync policy (`CONFIG SET appendfsync`).
    pub fn set_policy(&self, policy: Fsync) {
        self.policy.store(policy as u8, Ordering::Relaxed);
        self.work.notify_all();
    }

    /// Appends one commit's record; returns the stream offset after it.
    /// Called by the commit point, under the keyspace write lock: it only
    /// copies.
    pub fn append(&self, record: &[u8]) -> u64 {
        let mut st = self.lock();
        st.pending.extend_from_slice(record);
        let end = st.pending_from + st.pending.len() as u64;
        drop(st);
        self.appended.store(end, Ordering::Release);
        end
    }

    /// The stream offset after the last byte appended.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// Whether the last write or sync failed and no retry has succeeded.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The last write or sync error, if the log is failing.
    pub fn failure(&self) -> Option<String> {
        self.lock().failure.clone()
    }

    /// Starts writing to `file`, with nothing pending (at start, or when
    /// the log is switched on).
    pub fn open(&self, file: LogFile) {
        let mut st = self.lock();
        st.file = Some(file);
        st.next = None;
        drop(st);
        self.work.notify_all();
    }

    /// Bytes appended from now on go to `file`; those before stay in the
    /// current one, which is synced before the switch. Called with a
    /// keyspace guard held, so that no append falls between the point a
    /// rewrite captures and the switch.
    pub fn switch_to(&self, file: LogFile) {
        let at = self.appended();
        let mut st = self.lock();
        if st.file.is_none() {
            st.file = Some(file);
        } else {
            st.next = Some((at, file));
        }
    }

    /// The length of the file being written, and of the one queued to
    /// take over, for `aof_current_size`.
    pub fn file_lengths(&self) -> (u64, u64) {
        let st = self.lock();
        (
            st.file.as_ref().map_or(0, |f| f.len),
            st.next.as_ref().map_or(0, |(_, f)| f.len),
        )
    }

    /// Bytes appended and not yet written (`aof_buffer_length`).
    pub fn buffered(&self) -> usize {
        self.lock().pending.len()
    }

    /// Takes this thread's [`Marks`] for this journal, clearing them.
    pub fn take_marks(&self) -> Marks {
        Marks::take(self.id)
    }

    /// Waits until this thread's [`Marks`] for this journal are safe to
    /// reveal (see the module doc), and clears them.
    pub fn settle_marks(&self) {
        let marks = Marks::take(self.id);
        if marks.wrote != 0 || marks.saw != 0 {
            self.settle(marks);
        }
    }

    /// Waits until a writer's bytes up to `marks.wrote` and a reader's up
    /// to `marks.saw` may be revealed under the policy in force.
    pub fn settle(&self, marks: Marks) {
        let need = marks.wrote.max(marks.saw);
        match self.policy() {
            Fsync::Always => {
                if self.failing() {
                    // Only a writer's own bytes hold it while failing.
                    self.reach(marks.wrote, true, true);
                } else {
                    self.reach(need, true, true);
                }
            }
            Fsync::EverySec | Fsync::No => {
                if !self.failing() {
                    self.reach(need, false, false);
                }
            }
        }
    }

    /// Waits until the stream up to `need` is written (and if `sync`,
    /// synced). A write-only wait leads when nobody writes; a synced one
    /// waits for the syncer (or leads, if none runs). While the log
    /// fails, a `patient` caller waits for the background retry; another
    /// returns.
    fn reach(&self, need: u64, sync: bool, patient: bool) {
        let me = std::thread::current();
        let mut spins = 0;
        let mut st = self.lock();
        loop {
            let have = if sync { st.synced } else { st.written };
            if have >= need {
                return;
            }
            let failing = st.failure.is_some();
            if failing && !patient {
                return;
            }
            if !failing && !st.leading && (!sync || !st.syncer) {
                st = self.lead(st, sync);
                continue;
            }
            if !sync && !failing && spins < WRITE_SPINS {
                // A leader's `write(2)` takes microseconds: yielding to
                // it costs less than sleeping and being woken.
                spins += 1;
                drop(st);
                std::thread::yield_now();
                st = self.lock();
                continue;
            }
            st.waiting.retain(|w| w.thread.id() != me.id());
            st.waiting.push(Waiting {
                need,
                sync,
                thread: me.clone(),
            });
            if sync && st.syncer_idle {
                self.work.notify_all();
            }
            drop(st);
            // Unparked by whoever covers `need`; the timeout only bounds
            // a wait through a failure's retries.
            std::thread::park_timeout(RETRY_EVERY);
            st = self.lock();
        }
    }

    /// The syncer: under `always`, writes and syncs round after round
    /// while anything is appended or anyone waits for a sync; otherwise
    /// waits. Runs on a thread of its own until the process ends.
    pub fn run_syncer(&self) {
        let mut st = self.lock();
        st.syncer = true;
        loop {
            let end = st.pending_from + st.pending.len() as u64;
            let wanted = st.waiting.iter().any(|w| w.sync)
                || !st.deferred.is_empty()
                || (self.policy() == Fsync::Always && st.synced < end);
            if !wanted || st.leading || st.failure.is_some() {
                st.syncer_idle = true;
                st = self
                    .work
                    .wait_timeout(st, RETRY_EVERY)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                st.syncer_idle = false;
                continue;
            }
            st = self.lead(st, true);
        }
    }

    /// One leader's round: writes everything pending (up to a switch of
    /// files) and syncs if asked (or if the file is being left), with no
    /// lock held during the I/O, then unparks the waiters it covered
    /// (with no lock held either) and returns the state locked again.
    fn lead<'a>(&'a self, mut st: MutexGuard<'a, State>, sync: bool) -> MutexGuard<'a, State> {
        st.leading = true;
        let end = st.pending_from + st.pending.len() as u64;
        let limit = st.next.as_ref().map_or(end, |(at, _)| (*at).min(end));
        let take = (limit - st.pending_from) as usize;
        let batch = if take == st.pending.len() {
            let spare = std::mem::take(&mut st.spare);
            std::mem::replace(&mut st.pending, spare)
        } else {
            st.pending.drain(..take).collect()
        };
        let from = st.pending_from;
        st.pending_from += take as u64;
        let leaving = st.next.as_ref().is_some_and(|(at, _)| *at == limit);
        let sync = sync || leaving;
        let file = st.file.clone();
        drop(st);

        let result = match &file {
            None => Err(("no log file is open".to_string(), PathBuf::new())),
            Some(f) => write_and_sync(f, &batch, sync).map_err(|e| (describe(&e), f.path.clone())),
        };

        let mut st = self.lock();
        st.leading = false;
        match result {
            Ok(()) => {
                st.written = from + take as u64;
                if let Some(f) = st.file.as_mut() {
                    f.len += batch.len() as u64;
                }
                if sync {
                    st.synced = st.written;
                }
                if leaving {
                    st.file = st.next.take().map(|(_, f)| f);
                }
                if st.failure.take().is_some() {
                    self.failing.store(false, Ordering::Relaxed);
                    crate::notice!("the append-only log is written again");
                }
                let mut batch = batch;
                batch.clear();
                if batch.capacity() <= KEPT_ROOM && st.spare.capacity() < batch.capacity() {
                    st.spare = batch;
                }
            }
            Err((e, path)) => {
                // Back in front of whatever was appended meanwhile, to be
                // written at the same file offset by the retry.
                let mut batch = batch;
                batch.extend_from_slice(&st.pending);
                st.pending = batch;
                st.pending_from = from;
                if st.failure.is_none() {
                    crate::warning!(
                        "writing the append-only log {} failed: {e}; writes are refused until a retry succeeds",
                        path.display()
                    );
                }
                st.failure = Some(e);
                self.failing.store(true, Ordering::Relaxed);
            }
        }
        let woken = st.covered();
        let (deferred, synced) = if sync && !st.deferred.is_empty() {
            (std::mem::take(&mut st.deferred), st.synced)
        } else {
            (Vec::new(), 0)
        };
        // Only a flush waits on `moved`; a wake costs a system call.
        let flushing = st.flushing > 0;
        drop(st);
        if flushing {
            self.moved.notify_all();
        }
        woken.iter().for_each(std::thread::Thread::unpark);
        if deferred.is_empty() {
            return self.lock();
        }
        let later: Vec<Arc<Outbox>> = deferred
            .into_iter()
            .filter(|outbox| !outbox.send_if_synced(synced))
            .collect();
        let mut st = self.lock();
        st.deferred.extend(later);
        st
    }

    /// Hands a connection's pending replies, which may go once the stream
    /// is synced up to its `marks`, to the syncer, which sends them to the
    /// connection's socket itself right after that sync: the connection's
    /// thread goes back to its socket instead of sleeping until the sync
    /// and being woken for it. Replies already handed off go first: the
    /// new ones join them. Returns `false`, leaving `out` as it was, when
    /// this journal cannot (not `always`, no syncer, failing, or already
    /// synced that far with nothing handed off before, or the outbox
    /// would pass [`OUTBOX_MAX`]).
    pub fn hand_off(&self, outbox: &Arc<Outbox>, marks: Marks, out: &mut Vec<u8>) -> bool {
        let need = marks.wrote.max(marks.saw);
        if need == 0 || self.policy() != Fsync::Always {
            return false;
        }
        let mut st = self.lock();
        if !st.syncer || st.failure.is_some() {
            return false;
        }
        let mut slot = outbox.lock();
        if slot.closed
            || (!slot.queued && st.synced >= need)
            || slot.bytes.len() + out.len() > OUTBOX_MAX
        {
            return false;
        }
        slot.bytes.extend_from_slice(out);
        out.clear();
        slot.need = slot.need.max(need);
        if !slot.queued {
            slot.queued = true;
            st.deferred.push(outbox.clone());
        }
        drop(slot);
        if st.syncer_idle {
            self.work.notify_all();
        }
        true
    }

    /// Writes everything appended and, if `sync`, syncs it; for the
    /// background thread's retries and for a shutdown. `Err` is the
    /// failure, if the log is still failing after it.
    pub fn flush(&self, sync: bool) -> Result<(), String> {
        let mut st = self.lock();
        // What was appended by now: writers appending meanwhile wait for
        // the syncer or lead themselves, so this never chases them.
        let end = st.pending_from + st.pending.len() as u64;
        loop {
            let have = if sync { st.synced } else { st.written };
            if have >= end && st.next.as_ref().is_none_or(|(at, _)| *at > end) {
                return Ok(());
            }
            if st.leading {
                st.flushing += 1;
                st = self.moved.wait(st).unwrap_or_else(PoisonError::into_inner);
                st.flushing -= 1;
                continue;
            }
            st = self.lead(st, sync);
            if let Some(e) = &st.failure {
                return Err(e.clone());
            }
        }
    }

    /// Syncs what is written without taking the lead, so that writers
    /// go on writing meanwhile (`everysec`'s once a second). A failed
    /// sync fails the log like a failed write.
    pub fn sync_written(&self) {
        let st = self.lock();
        if st.synced >= st.written {
            return;
        }
        let (upto, file) = (st.written, st.file.clone());
        drop(st);
        let Some(file) = file else { return };
        let result = file.file.sync_data();
        let mut st = self.lock();
        match result {
            // A switch of files meanwhile synced the old one anyway.
            Ok(()) => {
                st.synced = st.synced.max(upto);
                let woken = st.covered();
                woken.iter().for_each(std::thread::Thread::unpark);
            }
            Err(e) => {
                let e = describe(&e);
                crate::warning!(
                    "syncing the append-only log {} failed: {e}; writes are refused until a retry succeeds",
                    file.path.display()
                );
                st.failure = Some(e);
                self.failing.store(true, Ordering::Relaxed);
            }
        }
        drop(st);
        self.moved.notify_all();
    }

    /// Writes and syncs everything, then closes the file (`CONFIG SET
    /// appendonly no`, once the keyspace stopped appending).
    pub fn close(&self) -> Result<(), String> {
        let flushed = self.flush(true);
        let mut st = self.lock();
        st.file = None;
        st.next = None;
        if flushed.is_err() {
            // Nothing will write them now.
            st.pending_from += st.pending.len() as u64;
            st.pending.clear();
            st.written = st.pending_from;
            st.synced = st.pending_from;
            st.failure = None;
            self.failing.store(false, Ordering::Relaxed);
        }
        drop(st);
        self.moved.notify_all();
        flushed
    }
}

/// A connection's replies handed to the syncer ([`Journal::hand_off`]),
/// and its socket.
#[derive(Debug)]
pub struct Outbox {
    socket: crate::os::SocketHandle,
    waker: crate::keyspace::Waker,
    slot: Mutex<OutSlot>,
}

/// What an [`Outbox`] holds (a leaf mutex: held to move bytes, or across
/// one send that never waits).
#[derive(Debug, Default)]
struct OutSlot {
    /// Replies waiting for the sync.
    bytes: Vec<u8>,
    /// The stream offset they wait for.
    need: u64,
    /// In the journal's list of deferred replies.
    queued: bool,
    /// What the socket did not take at once, for the connection to write.
    unsent: Vec<u8>,
    /// Its connection waits to be told the replies are out.
    watched: bool,
    /// The connection is closing: send nothing more.
    closed: bool,
}

/// Where an [`Outbox`]'s replies stand, for its connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Handed {
    /// Nothing handed off is left: the connection may write again.
    Done,
    /// Still waiting for the sync.
    Waiting,
    /// Sent but for these bytes, which the connection must write next.
    Unsent(Vec<u8>),
}

impl Outbox {
    /// An outbox for the connection on `socket`, woken through `waker`
    /// when the syncer could not send everything, or when it watches.
    pub fn new(socket: crate::os::SocketHandle, waker: crate::keyspace::Waker) -> Arc<Outbox> {
        Arc::new(Outbox {
            socket,
            waker,
            slot: Mutex::new(OutSlot::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, OutSlot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the handed-off replies stand; with `watch`, a `Waiting`
    /// connection is woken when that changes.
    pub fn state(&self, watch: bool) -> Handed {
        let mut slot = self.lock();
        if !slot.unsent.is_empty() {
            return Handed::Unsent(std::mem::take(&mut slot.unsent));
        }
        if slot.queued {
            slot.watched |= watch;
            return Handed::Waiting;
        }
        Handed::Done
    }

    /// Stops all sending (the connection is closing its socket).
    pub fn close(&self) {
        let mut slot = self.lock();
        slot.closed = true;
        slot.bytes = Vec::new();
        slot.unsent = Vec::new();
    }

    /// The syncer's part: sends the replies if the stream is `synced`
    /// far enough, without waiting on the socket. Returns whether they
    /// are done with (sent, or the connection closed).
    fn send_if_synced(&self, synced: u64) -> bool {
        let mut slot = self.lock();
        if slot.closed {
            slot.queued = false;
            return true;
        }
        if slot.need > synced {
            return false;
        }
        let sent = self.socket.send_without_waiting(&slot.bytes);
        if sent < slot.bytes.len() {
            let rest = slot.bytes[sent..].to_vec();
            slot.unsent.extend_from_slice(&rest);
        }
        slot.bytes.clear();
        if slot.bytes.capacity() > KEPT_OUTBOX {
            slot.bytes = Vec::new();
        }
        slot.queued = false;
        let wake = slot.watched || !slot.unsent.is_empty();
        slot.watched = false;
        drop(slot);
        if wake {
            self.waker.wake();
        }
        true
    }
}

/// Room an outbox keeps between hand-offs.
const KEPT_OUTBOX: usize = 16 * 1024;

/// Most reply bytes an outbox holds for the syncer to send: a client that
/// pipelines more while a sync runs has the rest written by its own
/// thread, after the sync, so what the syncer holds stays bounded.
const OUTBOX_MAX: usize = 64 * 1024;

/// Writes `bytes` at the end of `file` and, if `sync`, syncs it.
fn write_and_sync(file: &LogFile, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    if !bytes.is_empty() {
        write_at(&file.file, bytes, file.len)?;
    }
    if sync {
        file.file.sync_data()?;
    }
    Ok(())
}

/// An I/O error as C's `strerror` words it (what Redis's `MISCONF` quotes):
/// std's text without its `(os error N)`.
fn describe(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Writes all of `bytes` at offset `at` of `file`.
#[cfg(unix)]
pub(super) fn write_at(file: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}

/// Writes all of `bytes` at offset `at` of `file`.
#[cfg(not(unix))]
pub(super) fn write_at(mut file: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}

/// What one thread's commands wrote to and read from a journal since its
/// last settle: stream offsets, 0 for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The end of the bytes this thread's writes appended.
    pub wrote: u64,
    /// The end of the bytes appended when this thread last read.
    pub saw: u64,
}

thread_local! {
    /// `(journal id, marks)`: one journal's marks at a time, so that
    /// in-process tests with several servers on one thread never wait on
    /// another server's journal.
    static MARKS: Cell<(u64, Marks)> = const { Cell::new((0, Marks { wrote: 0, saw: 0 })) };
}

impl Marks {
    fn update(journal: u64, change: impl FnOnce(&mut Marks)) {
        MARKS.with(|cell| {
            let (id, mut marks) = cell.get();
            if id != journal {
                marks = Marks::default();
            }
            change(&mut marks);
            cell.set((journal, marks));
        });
    }

    fn take(journal: u64) -> Marks {
        MARKS.with(|cell| {
            let (id, marks) = cell.replace((0, Marks::default()));
            if id == journal {
                marks
            } else {
                Marks::default()
            }
        })
    }
}

impl Journal {
    /// Notes, for this thread, that its write appended up to `end`.
    #[inline]
    pub fn note_wrote(&self, end: u64) {
        Marks::update(self.id, |m| m.wrote = m.wrote.max(end));
    }

    /// Notes, for this thread, what was appended as it read.
    #[inline]
    pub fn note_saw(&self) {
        let end = self.appended();
        if end != 0 {
            Marks::update(self.id, |m| m.saw = m.saw.max(end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_on(dir: &std::path::Path, policy: Fsync) -> Journal {
        let path = dir.join("log");
        let file = File::create(&path).unwrap();
        let j = Journal::new(policy);
        j.open(LogFile {
            file: Arc::new(file),
            path,
            len: 0,
        });
        j
    }

    #[test]
    fn a_writer_settles_once_its_bytes_are_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal_on(dir.path(), Fsync::Always);
        let end = j.append(b"hello");
        j.note_wrote(end);
        j.settle_marks();
        assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"hello");
        let st = j.lock();
        assert_eq!((st.written, st.synced, st.pending.len()), (5, 5, 0));
    }

    #[test]
    fn many_writers_share_few_syncs_and_every_byte_lands_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let j = Arc::new(journal_on(dir.path(), Fsync::Always));
        let store = Arc::new(Mutex::new(()));
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let (j, store) = (j.clone(), store.clone());
                std::thread::spawn(move || {
                    for i in 0..200u8 {
                        // The keyspace lock orders appends, as in a commit.
                        let end = {
                            let _lock = store.lock().unwrap();
                            j.append(&[t, i])
                        };
                        j.note_wrote(end);
                        j.settle_marks();
                        assert!(j.lock().synced >= end);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let bytes = std::fs::read(dir.path().join("log")).unwrap();
        assert_eq!(bytes.len(), 8 * 200 * 2);
        for t in 0..8u8 {
            let mine: Vec<u8> = bytes
                .chunks(2)
                .filter(|c| c[0] == t)
                .map(|c| c[1])
                .collect();
            assert_eq!(mine, (0..200u8).collect::<Vec<_>>(), "thread {t}");
        }
    }

    #[test]
    fn a_switch_leaves_earlier_bytes_in_the_old_file_and_later_ones_in_the_new() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal_on(dir.path(), Fsync::EverySec);
        j.append(b"old");
        let path = dir.path().join("new");
        j.switch_to(LogFile {
            file: Arc::new(File::create(&path).unwrap()),
            path: path.clone(),
            len: 0,
        });
        let end = j.append(b"new!");
        j.note_wrote(end);
        j.settle_marks();
        assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"old");
        assert_eq!(std::fs::read(&path).unwrap(), b"new!");
        assert_eq!(j.file_lengths(), (4, 0));
    }

    #[test]
    fn another_journals_marks_are_never_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let a = journal_on(dir.path(), Fsync::Always);
        let b = Journal::new(Fsync::Always);
        a.note_wrote(a.append(b"x"));
        // `b` has no file and no bytes: settling it must not wait on a's.
        b.settle_marks();
        a.settle_marks();
    }
}
