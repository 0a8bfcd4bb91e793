//! Blocked clients (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`,
//! and the sorted-set pops `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`): who waits on
//! which key, and serving them from the commit point.
//!
//! The registry, [`Blocked`], lives in the [`Store`], under the keyspace
//! lock, and is only read or changed under the write guard. A client that
//! must wait registers one [`Waiter`] (an `Arc` its connection keeps too):
//! its keys, in one database, each with a first-come-first-served queue of
//! waiters, and what it wants from the first of them that holds a list.
//! The [`ChangeLog`](super::ChangeLog) keeps a filter of the keys waited
//! on, so a write to any other key costs a hash, as for `WATCH`.
//!
//! Serving happens in the commit (`Store::commit`), under the write guard
//! of the command or `EXEC` that fed a key, after the whole of it ran: for
//! every kept change to a key with waiters that now holds a list (or a
//! sorted set), the waiters that want that type are served in the order
//! they blocked (one waiting for the other type is passed over, as in
//! Redis; a key of a third type serves nobody), each popping as the edit
//! it is (recorded as `LPOP k`, `LPOP k n`, `LMOVE src dst LEFT RIGHT`,
//! `ZPOPMIN k` or `ZPOPMIN k n`, as Redis propagates it), until the
//! collection is empty or nobody is left; a
//! `BLMOVE`'s push is a change of its own, so the commit goes round again
//! for its destination's waiters. Nobody else can see an element between
//! the push that brought it and the pop that serves it. A waiter whose
//! client has hung up is forgotten before anything is popped for it.
//!
//! A served waiter gets its result in its slot (a leaf mutex) and is put
//! on the store's list of threads to wake. Once the write guard has
//! released the lock, it hands each its answer: if the waiter's connection
//! has flushed what came before and set up a [`Delivery`], the serving
//! thread encodes the reply and writes it straight to the client's socket
//! without waiting (so the reply leaves with no thread hand-off in the
//! way), leaving in the slot whatever the socket did not take; then it
//! writes the waiter's wake byte ([`Waker`]) either way. The slot's mutex
//! decides who answers: the connection takes its [`Outcome`] through it,
//! and, once it stops waiting, ends the delivery there too, so nothing is
//! sent twice and nothing is sent to a socket that has closed. This
//! module does no I/O under the keyspace lock beyond a zero-timeout poll
//! of a waiter's socket.

use super::changes::Change;
use super::{DbWriter, Event, Store};
use crate::error::CommandError;
use crate::os::SocketHandle;
use crate::value::list::End;
use crate::value::quicklist::Fill;
use crate::value::{Collection, Kind, List, ZSet};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// What a waiter wants from the first of its keys to hold a list (or, for
/// [`Wants::ZPop`], a sorted set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wants {
    /// Pop the lowest scores (the highest if `max`) of a sorted set: one
    /// member (`BZPOPMIN`, `BZPOPMAX`), or with `count`, up to that many
    /// (`BZMPOP`).
    ZPop {
        /// From the high end.
        max: bool,
        /// `BZMPOP`'s count; `None` for one member, answered flat.
        count: Option<usize>,
    },
    /// Pop from `end`: one element (`BLPOP`, `BRPOP`), or with `count`,
    /// up to that many (`BLMPOP`).
    Pop {
        /// Which end.
        end: End,
        /// `BLMPOP`'s count; `None` for one element, answered bare.
        count: Option<usize>,
    },
    /// Pop from `from` and push onto `to` at `to_end` (`BLMOVE`; with
    /// `rpoplpush`, `BRPOPLPUSH`, which replays as `RPOPLPUSH`).
    Move {
        /// The destination key.
        to: Vec<u8>,
        /// The end popped.
        from: End,
        /// The end pushed.
        to_end: End,
        /// Replay as `RPOPLPUSH src dst` rather than `LMOVE`.
        rpoplpush: bool,
    },
}

impl Wants {
    /// The type of the key that serves it.
    pub fn kind(&self) -> Kind {
        match self {
            Wants::ZPop { .. } => Kind::ZSet,
            Wants::Pop { .. } | Wants::Move { .. } => Kind::List,
        }
    }
}

/// What a blocked client is answered with, other than a timeout.
#[derive(Debug, Clone, PartialEq)]
pub enum Served {
    /// Members popped from the sorted set at `key`, with their scores, in
    /// the order popped.
    ZPopped {
        /// The key they came from.
        key: Vec<u8>,
        /// What was popped.
        members: ScoredMembers,
    },
    /// Elements popped from `key`, in the order popped.
    Popped {
        /// The key they came from.
        key: Vec<u8>,
        /// What was popped.
        elements: Vec<Vec<u8>>,
    },
    /// The element a move popped and pushed.
    Moved(Vec<u8>),
    /// A move's destination held another type (nothing was popped).
    WrongType,
    /// `CLIENT UNBLOCK id TIMEOUT`: answered as a timeout.
    TimedOut,
    /// `CLIENT UNBLOCK id ERROR`.
    Unblocked,
}

/// The sending end of a connection's wake socket: a byte written to it
/// wakes the connection's thread from its wait. Written only after the
/// keyspace lock is released.
#[derive(Debug, Clone)]
pub struct Waker {
    #[cfg(unix)]
    socket: Arc<std::os::unix::net::UnixStream>,
}

impl Waker {
    /// Writes one byte (a full socket already holds one, which is as good).
    pub fn wake(&self) {
        #[cfg(unix)]
        {
            use std::io::Write;
            let _ = (&*self.socket).write(&[1]);
        }
    }
}

/// A connection's wake socket pair, made the first time it blocks: its
/// thread waits on the receiving end and its client's socket at once.
#[derive(Debug)]
pub struct WakeSocket {
    #[cfg(unix)]
    receiver: std::os::unix::net::UnixStream,
    waker: Waker,
}

/// Why a wait on a [`WakeSocket`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeReason {
    /// A byte arrived (or the wait ended early: check the slot and wait
    /// again).
    Woken,
    /// The client's socket hung up.
    HungUp,
    /// The client sent more bytes (looked for only when asked).
    Readable,
    /// None of these, in the time given (or a signal cut the wait short): the
    /// caller checks its deadline.
    TimedOut,
}

impl WakeSocket {
    /// A new pair, both ends non-blocking.
    pub fn new() -> std::io::Result<WakeSocket> {
        #[cfg(unix)]
        {
            let (receiver, sender) = std::os::unix::net::UnixStream::pair()?;
            receiver.set_nonblocking(true)?;
            sender.set_nonblocking(true)?;
            Ok(WakeSocket {
                receiver,
                waker: Waker {
                    socket: Arc::new(sender),
                },
            })
        }
        #[cfg(not(unix))]
        {
            Ok(WakeSocket { waker: Waker {} })
        }
    }

    /// The sending end, for a waiter.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Reads every byte waiting (stale wakes of an earlier block).
    pub fn drain(&self) {
        #[cfg(unix)]
        {
            use std::io::Read;
            let mut buf = [0u8; 64];
            while matches!((&self.receiver).read(&mut buf), Ok(n) if n > 0) {}
        }
    }

    /// Waits for a wake byte, a hang-up of `client`'s socket (or, with
    /// `readable`, bytes on it), or `timeout` (`None`: no limit), reading
    /// nothing from either socket. Where there is no `poll`, it sleeps a
    /// few milliseconds and says it was woken, so that the caller checks
    /// its slot.
    pub fn wait(
        &self,
        client: Option<&SocketHandle>,
        readable: bool,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<WakeReason> {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let seen = crate::os::wait_woken_or_hung_up(
                self.receiver.as_raw_fd(),
                client.map(SocketHandle::fd),
                readable,
                timeout,
            )?;
            Ok(if seen.hung_up {
                WakeReason::HungUp
            } else if seen.woken {
                WakeReason::Woken
            } else if seen.readable {
                WakeReason::Readable
            } else {
                WakeReason::TimedOut
            })
        }
        #[cfg(not(unix))]
        {
            let _ = (client, readable);
            let step = std::time::Duration::from_millis(10);
            std::thread::sleep(timeout.map_or(step, |t| t.min(step)));
            Ok(WakeReason::Woken)
        }
    }
}

/// One blocked client: what it waits for and where its answer goes.
#[derive(Debug)]
pub struct Waiter {
    /// The client's id (`CLIENT UNBLOCK`'s).
    pub client: u64,
    /// The database its keys are in.
    pub db: usize,
    /// Its keys, each once, in the order given.
    pub keys: Vec<Vec<u8>>,
    /// What it wants.
    pub wants: Wants,
    /// The node size its pushes use (the setting when it blocked).
    pub fill: Fill,
    /// Unix ms at which it times out; 0 for never.
    pub deadline: u64,
    /// Its client's socket, to see it has hung up before serving it;
    /// `None` without a socket (commands run in-process). The connection
    /// unregisters its waiter, under the write guard, before the socket
    /// can close, so while registered the descriptor is the client's.
    socket: Option<SocketHandle>,
    /// How to wake its thread; `None` when nothing waits on it.
    waker: Option<Waker>,
    /// Its answer and how it is to be delivered (a leaf mutex: held for a
    /// move of a value, or for one send that never waits).
    slot: Mutex<Slot>,
}

/// How a served waiter's reply is written straight to its client by the
/// thread that served it: the client's socket, and how to encode the reply
/// (in the connection's protocol, which this module does not know).
pub struct Delivery {
    socket: SocketHandle,
    encode: EncodeServed,
}

/// Encodes a waiter's reply to what it was served, appending to the bytes.
pub type EncodeServed = Box<dyn Fn(&Waiter, Served, &mut Vec<u8>) + Send>;

impl Delivery {
    /// A delivery to `socket`, encoding with `encode`. The connection that
    /// sets it up must have written every reply before the blocked one,
    /// and must keep the socket open until it has ended the delivery
    /// ([`Waiter::finish`]).
    pub fn new(socket: SocketHandle, encode: EncodeServed) -> Delivery {
        Delivery { socket, encode }
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// Where a waiter's answer stands.
#[derive(Debug, Default)]
struct Slot {
    /// What it was served, not yet sent nor taken.
    served: Option<Served>,
    /// Set while its connection waits with nothing left to write before
    /// the blocked reply.
    delivery: Option<Delivery>,
    /// Once the reply was sent straight to the client: what the socket did
    /// not take (usually nothing), for the connection to write.
    unsent: Option<Vec<u8>>,
    /// Whether its connection's wait also ends when the client sends
    /// something: then a reply sent whole needs no wake, since the thread
    /// has nothing to do before the client's next request, which wakes it.
    listening: bool,
}

impl Slot {
    fn take_outcome(&mut self) -> Option<Outcome> {
        if let Some(unsent) = self.unsent.take() {
            return Some(Outcome::Sent { unsent });
        }
        self.served.take().map(Outcome::Served)
    }
}

/// How a blocked client's wait was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// What it was served, for its connection to answer.
    Served(Served),
    /// Its reply was already written to its socket by the thread that
    /// served it, except for `unsent`, which its connection writes next.
    Sent {
        /// The reply's bytes the socket did not take at once.
        unsent: Vec<u8>,
    },
}

impl Waiter {
    /// A waiter for `client`, not yet registered. Duplicate keys are
    /// dropped (the first stays).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: u64,
        db: usize,
        keys: &[&[u8]],
        wants: Wants,
        fill: Fill,
        deadline: u64,
        socket: Option<SocketHandle>,
        waker: Option<Waker>,
    ) -> Waiter {
        let mut unique: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
        for key in keys {
            if !unique.iter().any(|k| k == key) {
                unique.push(key.to_vec());
            }
        }
        Waiter {
            client,
            db,
            keys: unique,
            wants,
            fill,
            deadline,
            socket,
            waker,
            slot: Mutex::new(Slot::default()),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the thread that serves this waiter write the reply straight to
    /// the client (see [`Delivery::new`] for what the caller promises),
    /// and, if its connection is `listening` for the client's input too,
    /// not wake it when the whole reply went; if it was answered already,
    /// returns that instead.
    pub fn deliver_directly(&self, delivery: Delivery, listening: bool) -> Option<Outcome> {
        let mut slot = self.slot();
        let answered = slot.take_outcome();
        if answered.is_none() {
            slot.delivery = Some(delivery);
            slot.listening = listening;
        }
        answered
    }

    /// Says its connection no longer ends its wait on the client's input
    /// (the client sent bytes while blocked): from now on a delivered
    /// reply wakes it.
    pub fn stop_listening(&self) {
        self.slot().listening = false;
    }

    /// Ends the wait's direct delivery, if any, and takes the answer, if
    /// there is one. Once it returns, no other thread writes to the
    /// client's socket for this waiter.
    pub fn finish(&self) -> Option<Outcome> {
        let mut slot = self.slot();
        slot.delivery = None;
        slot.take_outcome()
    }

    /// The answer, if there is one, ending the delivery then (nothing more
    /// can be served to a waiter once it has an answer).
    pub fn take_outcome(&self) -> Option<Outcome> {
        let mut slot = self.slot();
        let outcome = slot.take_outcome();
        if outcome.is_some() {
            slot.delivery = None;
        }
        outcome
    }

    fn serve(&self, served: Served) {
        self.slot().served = Some(served);
    }

    /// Writes the reply straight to the client if the connection set up a
    /// delivery, and says whether its thread still needs waking (not when
    /// the whole reply went and the connection listens for the client's
    /// next request); called with no keyspace lock held. The send never
    /// waits, and the slot's mutex is held across it, so the connection
    /// cannot take the answer (nor close the socket) meanwhile.
    fn deliver(&self) -> bool {
        let mut slot = self.slot();
        // Both or neither: a delivery waits for an answer, and an answer
        // without one is left for the connection.
        if slot.delivery.is_none() || slot.served.is_none() {
            return true;
        }
        let (Some(delivery), Some(served)) = (slot.delivery.take(), slot.served.take()) else {
            unreachable!("both were just seen");
        };
        let mut reply = Vec::new();
        (delivery.encode)(self, served, &mut reply);
        let sent = delivery.socket.send_without_waiting(&reply);
        reply.drain(..sent);
        let needs_wake = !(reply.is_empty() && slot.listening);
        slot.unsent = Some(reply);
        needs_wake
    }

    /// Whether its client has hung up (never, without a socket).
    fn is_gone(&self) -> bool {
        self.socket.as_ref().is_some_and(SocketHandle::is_hung_up)
    }

    /// Delivers its answer where it can and wakes its thread (after the
    /// keyspace lock is released).
    pub(super) fn wake(&self) {
        if !self.deliver() {
            return;
        }
        if let Some(waker) = &self.waker {
            waker.wake();
        }
    }
}

/// A key's waiters, by their place in the order they blocked in.
type Queue = BTreeMap<u64, Arc<Waiter>>;

/// Every blocked client, by database and key, in the order they blocked.
#[derive(Debug, Default)]
pub struct Blocked {
    /// Per database: each key's waiters.
    by_db: Vec<HashMap<Vec<u8>, Queue>>,
    /// Per client: its place in the order, and its waiter.
    by_client: HashMap<u64, (u64, Arc<Waiter>)>,
    /// The next place in the order.
    next: u64,
}

impl Blocked {
    /// Whether nobody is blocked.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Clients blocked (`INFO`'s `blocked_clients`).
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    fn add(&mut self, waiter: Arc<Waiter>) {
        let seq = self.next;
        self.next += 1;
        if self.by_db.len() <= waiter.db {
            self.by_db.resize_with(waiter.db + 1, HashMap::new);
        }
        for key in &waiter.keys {
            self.by_db[waiter.db]
                .entry(key.clone())
                .or_default()
                .insert(seq, waiter.clone());
        }
        if let Some((_, old)) = self.by_client.insert(waiter.client, (seq, waiter)) {
            // A client blocks once at a time; a stale registration goes.
            self.unlink(old.db, &old.keys, None);
        }
    }

    /// Unregisters client `id`'s waiter from all its keys.
    fn remove(&mut self, id: u64) -> Option<Arc<Waiter>> {
        let (seq, waiter) = self.by_client.remove(&id)?;
        self.unlink(waiter.db, &waiter.keys, Some(seq));
        Some(waiter)
    }

    /// Drops place `seq` (or, with `None`, nothing: a replaced waiter's
    /// queues are cleaned of empty entries) from each of `keys`.
    fn unlink(&mut self, db: usize, keys: &[Vec<u8>], seq: Option<u64>) {
        let Some(map) = self.by_db.get_mut(db) else {
            return;
        };
        for key in keys {
            if let Some(queue) = map.get_mut(key.as_slice()) {
                if let Some(seq) = seq {
                    queue.remove(&seq);
                }
                if queue.is_empty() {
                    map.remove(key.as_slice());
                }
            }
        }
    }

    /// The first waiter on `key` of `db` that wants a key of `kind`.
    fn first_wanting(&self, db: usize, key: &[u8], kind: Kind) -> Option<Arc<Waiter>> {
        let queue = self.by_db.get(db)?.get(key)?;
        queue.values().find(|w| w.wants.kind() == kind).cloned()
    }

    /// Whether anyone waits on `key` of `db`.
    fn waits_on(&self, db: usize, key: &[u8]) -> bool {
        self.by_db.get(db).is_some_and(|m| m.contains_key(key))
    }

    /// The keys waited on in `db`.
    fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        self.by_db
            .get(db)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `waiter` is registered (not yet served nor unregistered).
    fn holds(&self, waiter: &Arc<Waiter>) -> bool {
        self.by_client
            .get(&waiter.client)
            .is_some_and(|(_, w)| Arc::ptr_eq(w, waiter))
    }
}

/// `LPOP key` / `RPOP key`, or with a count `LPOP key n`: a pop as a log
/// replays it (what Redis propagates for a served or immediate blocking
/// pop too).
pub fn pop_replay(end: End, key: &[u8], count: Option<usize>) -> Vec<Vec<u8>> {
    let mut command = vec![end.pop_command().as_bytes().to_vec(), key.to_vec()];
    if let Some(n) = count {
        command.push(n.to_string().into_bytes());
    }
    command
}

/// `LMOVE src dst LEFT RIGHT`, or `RPOPLPUSH src dst`.
pub fn move_replay(src: &[u8], dst: &[u8], from: End, to: End, rpoplpush: bool) -> Vec<Vec<u8>> {
    if rpoplpush {
        return vec![b"RPOPLPUSH".to_vec(), src.to_vec(), dst.to_vec()];
    }
    vec![
        b"LMOVE".to_vec(),
        src.to_vec(),
        dst.to_vec(),
        from.word().as_bytes().to_vec(),
        to.word().as_bytes().to_vec(),
    ]
}

/// Members of a sorted set with their scores, as popped.
pub type ScoredMembers = Vec<(Vec<u8>, f64)>;

/// `ZPOPMIN key` / `ZPOPMAX key`, or with a count `ZPOPMIN key n`: a
/// sorted-set pop as a log replays it (what Redis propagates for a served
/// or immediate blocking pop too).
pub fn zpop_replay(max: bool, key: &[u8], count: Option<usize>) -> Vec<Vec<u8>> {
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut command = vec![name.to_vec(), key.to_vec()];
    if let Some(n) = count {
        command.push(n.to_string().into_bytes());
    }
    command
}

impl DbWriter<'_> {
    /// Pops up to `count` members from the low end (the high end if
    /// `max`) of the sorted set at `key`, recorded as the
    /// `zpopmin`/`zpopmax` it is, replayed as `ZPOPMIN key` or (if
    /// `counted`) `ZPOPMIN key n` of the number popped; an emptied set is
    /// removed. `Ok(None)` if there is no sorted set. `WRONGTYPE` for
    /// another type.
    pub fn pop_zset(
        &mut self,
        key: &[u8],
        max: bool,
        count: usize,
        now: u64,
        counted: bool,
    ) -> Result<Option<ScoredMembers>, CommandError> {
        let event = if max { "zpopmax" } else { "zpopmin" };
        self.edit::<ZSet, _>(
            key,
            now,
            false,
            Event::Edited(event),
            |value| (ZSet::of(value).map(|z| z.pop(max, count)), true),
            |popped| {
                popped.as_ref().map_or_else(Vec::new, |p| {
                    zpop_replay(max, key, counted.then_some(p.len()))
                })
            },
        )
        .map(Option::flatten)
    }

    /// Pops up to `count` elements from `end` of the list at `key`,
    /// recorded as the `lpop`/`rpop` it is with `replay` built from the
    /// number popped; an emptied list is removed. `Ok(None)` if there is
    /// no list. `WRONGTYPE` for another type.
    pub fn pop_list(
        &mut self,
        key: &[u8],
        end: End,
        count: usize,
        now: u64,
        replay: impl FnOnce(usize) -> Vec<Vec<u8>>,
    ) -> Result<Option<Vec<Vec<u8>>>, CommandError> {
        self.edit::<List, _>(
            key,
            now,
            false,
            Event::Edited(end.pop_event()),
            |value| (List::of(value).map(|list| list.pop_many(end, count)), true),
            |popped| popped.as_ref().map_or_else(Vec::new, |p| replay(p.len())),
        )
        .map(Option::flatten)
    }

    /// Moves the element at `from` of the list at `src` to `to` of the
    /// list at `dst` (created if absent), as `LMOVE` does, and returns it;
    /// `Ok(None)` if `src` holds no list. `WRONGTYPE` if `src`, or then
    /// `dst`, holds another type, before anything changes.
    ///
    /// Recorded as Redis fires its events: the push onto `dst`
    /// (`lpush`/`rpush`), then the pop from `src` (`lpop`/`rpop`), which
    /// carries `replay` (the whole `LMOVE`, as Redis propagates it; the
    /// push's own replay is empty, being part of it). Pushing first means
    /// a list moved onto itself is never emptied on the way.
    #[allow(clippy::too_many_arguments)]
    pub fn move_list_element(
        &mut self,
        src: &[u8],
        dst: &[u8],
        from: End,
        to: End,
        fill: Fill,
        now: u64,
        replay: impl FnOnce() -> Vec<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, CommandError> {
        let element = match self.get_live(src, now) {
            None => return Ok(None),
            Some(entry) => match entry.collection().and_then(List::of_ref) {
                Some(list) => list.end(from).map(<[u8]>::to_vec),
                None => return Err(CommandError::WrongType),
            },
        };
        let Some(element) = element else {
            return Ok(None);
        };
        if self
            .get_live(dst, now)
            .is_some_and(|entry| entry.kind() != Kind::List)
        {
            return Err(CommandError::WrongType);
        }
        self.edit::<List, _>(
            dst,
            now,
            true,
            Event::Edited(to.push_event()),
            |value| {
                if let Some(list) = List::of(value) {
                    list.push(to, &element, fill);
                }
                ((), true)
            },
            |_| Vec::new(),
        )?;
        self.edit::<List, _>(
            src,
            now,
            false,
            Event::Edited(from.pop_event()),
            |value| (List::of(value).map(|list| list.pop(from)), true),
            |_| replay(),
        )?;
        Ok(Some(element))
    }
}

impl Store {
    /// Registers `waiter` on its keys (after the changes made so far are
    /// committed, so that none of them serves it) and returns it shared.
    pub fn block(&mut self, waiter: Waiter) -> Arc<Waiter> {
        self.commit();
        let waiter = Arc::new(waiter);
        for key in &waiter.keys {
            self.log.blocked.insert(waiter.db, key);
        }
        self.blocked.add(waiter.clone());
        waiter
    }

    /// Unregisters `waiter` (its client timed out or left), ends its
    /// direct delivery, and returns its answer if it was served first.
    pub fn unblock(&mut self, waiter: &Arc<Waiter>) -> Option<Outcome> {
        if self.blocked.holds(waiter) {
            self.blocked.remove(waiter.client);
            self.forget_filter_if_idle();
        }
        waiter.finish()
    }

    /// `CLIENT UNBLOCK`: answers client `id`'s waiter with `outcome` and
    /// wakes it; false if it is not blocked.
    pub fn unblock_client(&mut self, id: u64, outcome: Served) -> bool {
        let Some(waiter) = self.blocked.remove(id) else {
            return false;
        };
        self.forget_filter_if_idle();
        waiter.serve(outcome);
        self.woken.push(waiter);
        true
    }

    /// Clients blocked now.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.len()
    }

    fn forget_filter_if_idle(&mut self) {
        if self.blocked.is_empty() {
            self.log.blocked.clear();
        }
    }

    /// Serves the waiters on every key `changes` touched that now holds a
    /// list. The pops are changes of their own, left in the log for the
    /// commit's next round.
    pub(super) fn serve_blocked(&mut self, changes: &[Change]) {
        let mut ready: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut add = |db: usize, key: &[u8]| {
            if !ready.iter().any(|(d, k)| *d == db && k == key) {
                ready.push((db, key.to_vec()));
            }
        };
        for change in changes {
            match change {
                Change::Key { db, entry, .. } => {
                    if self.blocked.waits_on(*db, entry.key()) {
                        add(*db, entry.key());
                    }
                }
                Change::Swapped { a, b, .. } => {
                    for db in [*a, *b] {
                        for key in self.blocked.keys_in(db) {
                            add(db, &key);
                        }
                    }
                }
                Change::Flushed { .. } => {}
            }
        }
        if ready.is_empty() {
            return;
        }
        let now = crate::clock::now_ms();
        for (db, key) in ready {
            self.serve_key(db, &key, now);
        }
        self.forget_filter_if_idle();
    }

    /// Serves `key`'s waiters in the order they blocked while it holds a
    /// list or a sorted set, each waiter that wants the type it holds.
    fn serve_key(&mut self, db: usize, key: &[u8], now: u64) {
        loop {
            let holds = self
                .writer(db)
                .get_live(key, now)
                .and_then(|entry| entry.collection())
                .filter(|value| !value.is_empty())
                .map(|value| value.kind());
            let Some(kind @ (Kind::List | Kind::ZSet)) = holds else {
                return;
            };
            let Some(waiter) = self.blocked.first_wanting(db, key, kind) else {
                return;
            };
            self.blocked.remove(waiter.client);
            if waiter.is_gone() {
                // Nothing is popped for a client that has left; its thread
                // finds itself unregistered and goes.
                continue;
            }
            let served = self.serve_one(db, key, &waiter, now);
            waiter.serve(served);
            self.woken.push(waiter);
        }
    }

    /// Pops for `waiter` from `key`, which holds what it wants.
    fn serve_one(&mut self, db: usize, key: &[u8], waiter: &Waiter, now: u64) -> Served {
        let mut writer = self.writer(db);
        let result = match &waiter.wants {
            &Wants::ZPop { max, count } => writer
                .pop_zset(key, max, count.unwrap_or(1), now, count.is_some())
                .map(|members| Served::ZPopped {
                    key: key.to_vec(),
                    members: members.unwrap_or_default(),
                }),
            &Wants::Pop { end, count } => writer
                .pop_list(key, end, count.unwrap_or(1), now, |n| {
                    pop_replay(end, key, count.map(|_| n))
                })
                .map(|popped| Served::Popped {
                    key: key.to_vec(),
                    elements: popped.unwrap_or_default(),
                }),
            Wants::Move {
                to,
                from,
                to_end,
                rpoplpush,
            } => writer
                .move_list_element(key, to, *from, *to_end, waiter.fill, now, || {
                    move_replay(key, to, *from, *to_end, *rpoplpush)
                })
                .map(|moved| Served::Moved(moved.unwrap_or_default())),
        };
        result.unwrap_or(Served::WrongType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;

    const FILL: Fill = Fill::Bytes(8192);

    fn pop_waiter(client: u64, keys: &[&[u8]], count: Option<usize>) -> Waiter {
        let wants = Wants::Pop {
            end: End::Head,
            count,
        };
        Waiter::new(client, 0, keys, wants, FILL, 0, None, None)
    }

    fn move_waiter(client: u64, from: &[u8], to: &[u8]) -> Waiter {
        let wants = Wants::Move {
            to: to.to_vec(),
            from: End::Head,
            to_end: End::Tail,
            rpoplpush: false,
        };
        Waiter::new(client, 0, &[from], wants, FILL, 0, None, None)
    }

    fn rpush(store: &mut Store, key: &[u8], elems: &[&[u8]]) {
        store
            .writer(0)
            .edit::<List, _>(
                key,
                0,
                true,
                Event::Edited("rpush"),
                |v| {
                    if let Some(list) = List::of(v) {
                        list.push_all(End::Tail, elems.iter().copied(), FILL);
                    }
                    ((), true)
                },
                |_| vec![b"RPUSH".to_vec()],
            )
            .unwrap();
    }

    fn popped(key: &str, elements: &[&str]) -> Option<Served> {
        Some(Served::Popped {
            key: key.as_bytes().to_vec(),
            elements: elements.iter().map(|e| e.as_bytes().to_vec()).collect(),
        })
    }

    /// What `waiter` was served, if anything (never sent directly here).
    fn answer(waiter: &Waiter) -> Option<Served> {
        match waiter.take_outcome() {
            None => None,
            Some(Outcome::Served(served)) => Some(served),
            Some(sent) => panic!("sent directly: {sent:?}"),
        }
    }

    /// A connected pair of loopback sockets: (the server's end, the
    /// client's end).
    fn socket_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    fn delivery_to(socket: &std::net::TcpStream) -> Delivery {
        Delivery::new(
            SocketHandle::of(socket),
            Box::new(|_, served, out| out.extend_from_slice(format!("{served:?}").as_bytes())),
        )
    }

    #[test]
    fn a_waiter_with_a_delivery_is_answered_on_its_socket_by_the_serving_thread() {
        use std::io::Read;
        let (server_end, mut client_end) = socket_pair();
        let ks = Keyspace::new();
        let waiter = ks.write().block(pop_waiter(1, &[b"k"], None));
        assert_eq!(
            waiter.deliver_directly(delivery_to(&server_end), true),
            None
        );
        rpush(&mut ks.write(), b"k", &[b"a"]);
        let expected = format!("{:?}", popped("k", &["a"]).unwrap());
        let mut got = vec![0u8; expected.len()];
        client_end
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        client_end.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), expected);
        assert_eq!(
            waiter.take_outcome(),
            Some(Outcome::Sent { unsent: vec![] }),
            "the connection learns it was sent, and sends nothing more"
        );
        assert_eq!(waiter.finish(), None);
    }

    #[test]
    fn a_delivery_set_up_after_the_answer_returns_it_and_an_ended_one_sends_nothing() {
        let (server_end, _client_end) = socket_pair();
        let ks = Keyspace::new();
        let early = ks.write().block(pop_waiter(1, &[b"k"], None));
        rpush(&mut ks.write(), b"k", &[b"a"]);
        assert_eq!(
            early.deliver_directly(delivery_to(&server_end), true),
            popped("k", &["a"]).map(Outcome::Served),
            "served before the connection was ready: it answers itself"
        );
        let ended = ks.write().block(pop_waiter(2, &[b"k"], None));
        assert_eq!(ended.deliver_directly(delivery_to(&server_end), true), None);
        assert_eq!(ended.finish(), None);
        rpush(&mut ks.write(), b"k", &[b"b"]);
        assert_eq!(
            ended.take_outcome(),
            popped("k", &["b"]).map(Outcome::Served),
            "no delivery once ended: left for the connection"
        );
    }

    fn replays(store: &Store) -> Vec<(String, Vec<String>)> {
        store
            .log
            .changes
            .iter()
            .map(|c| match c {
                Change::Key { event, entry, .. } => (
                    format!("{} {}", event.name(), String::from_utf8_lossy(entry.key())),
                    c.replay()
                        .concat()
                        .iter()
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect(),
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn waiters_are_served_in_the_order_they_blocked_once_the_push_commits() {
        let ks = Keyspace::new();
        let (first, second, third) = {
            let mut store = ks.write();
            let first = store.block(pop_waiter(1, &[b"other", b"k"], None));
            let second = store.block(pop_waiter(2, &[b"k"], None));
            let third = store.block(pop_waiter(3, &[b"k", b"k"], None));
            (first, second, third)
        };
        assert_eq!(third.keys.len(), 1, "a key given twice waits once");
        {
            let mut store = ks.write();
            rpush(&mut store, b"k", &[b"a", b"b"]);
            assert!(answer(&first).is_none(), "not before the commit");
        }
        assert_eq!(answer(&first), popped("k", &["a"]));
        assert_eq!(answer(&second), popped("k", &["b"]));
        assert_eq!(answer(&third), None);
        let store = ks.read();
        assert_eq!(store.blocked_clients(), 1);
        assert!(store.db(0).stored(b"k").is_none(), "emptied, removed");
        assert!(
            !store.blocked.waits_on(0, b"other"),
            "served: gone from every key"
        );
    }

    #[test]
    fn a_served_pop_is_recorded_as_the_pop_it_is() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.log.keep_all = true;
        let waiter = store.block(pop_waiter(1, &[b"k"], Some(5)));
        rpush(&mut store, b"k", &[b"a", b"b", b"c"]);
        let pushed = std::mem::take(&mut store.log.changes);
        store.serve_blocked(&pushed);
        assert_eq!(answer(&waiter), popped("k", &["a", "b", "c"]));
        assert_eq!(
            replays(&store),
            [
                (
                    "lpop k".to_string(),
                    vec!["LPOP".into(), "k".into(), "3".into()]
                ),
                ("del k".to_string(), vec!["DEL".into(), "k".into()]),
            ]
        );
        assert_eq!(store.woken.len(), 1);
    }

    #[test]
    fn a_move_records_its_push_then_its_pop_which_carries_the_lmove() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        rpush(&mut store, b"src", &[b"x"]);
        store.commit();
        store.log.keep_all = true;
        let moved = store.writer(0).move_list_element(
            b"src",
            b"dst",
            End::Head,
            End::Tail,
            FILL,
            0,
            || move_replay(b"src", b"dst", End::Head, End::Tail, false),
        );
        assert_eq!(moved, Ok(Some(b"x".to_vec())));
        let lmove: Vec<String> = ["LMOVE", "src", "dst", "LEFT", "RIGHT"]
            .map(String::from)
            .into();
        assert_eq!(
            replays(&store),
            [
                ("rpush dst".to_string(), vec![]),
                ("lpop src".to_string(), lmove),
                ("del src".to_string(), vec!["DEL".into(), "src".into()]),
            ]
        );
        // Onto itself: pushed first, so never emptied on the way.
        store.commit();
        let rotated = store.writer(0).move_list_element(
            b"dst",
            b"dst",
            End::Head,
            End::Tail,
            FILL,
            0,
            Vec::new,
        );
        assert_eq!(rotated, Ok(Some(b"x".to_vec())));
        assert_eq!(replays(&store).len(), 2, "no del: {:?}", replays(&store));
        assert_eq!(
            store.db(0).stored(b"dst").map(|e| e.kind()),
            Some(Kind::List)
        );
    }

    #[test]
    fn a_chain_of_moves_is_served_in_one_commit_down_to_the_last_waiter() {
        let ks = Keyspace::new();
        let (mover, popper) = {
            let mut store = ks.write();
            (
                store.block(move_waiter(1, b"a", b"b")),
                store.block(pop_waiter(2, &[b"b"], None)),
            )
        };
        rpush(&mut ks.write(), b"a", &[b"x"]);
        assert_eq!(answer(&mover), Some(Served::Moved(b"x".to_vec())));
        assert_eq!(answer(&popper), popped("b", &["x"]));
        let store = ks.read();
        assert_eq!(store.db(0).stored_len(), 0);
        assert_eq!(store.blocked_clients(), 0);
        assert!(
            store.log.blocked.is_empty(),
            "the filter goes with the last waiter"
        );
    }

    #[test]
    fn a_move_onto_another_type_is_answered_wrongtype_and_pops_nothing() {
        let ks = Keyspace::new();
        let (mover, popper) = {
            let mut store = ks.write();
            store.writer(0).put(b"s", b"string", 0, 0);
            (
                store.block(move_waiter(1, b"a", b"s")),
                store.block(pop_waiter(2, &[b"a"], None)),
            )
        };
        rpush(&mut ks.write(), b"a", &[b"x"]);
        assert_eq!(answer(&mover), Some(Served::WrongType));
        assert_eq!(answer(&popper), popped("a", &["x"]));
    }

    #[test]
    fn unblocking_forgets_the_waiter_and_client_unblock_answers_it() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        let waiter = store.block(pop_waiter(7, &[b"k"], None));
        assert!(!store.log.blocked.is_empty());
        assert_eq!(store.unblock(&waiter), None);
        assert_eq!(store.blocked_clients(), 0);
        assert!(store.log.blocked.is_empty());
        assert!(!store.unblock_client(7, Served::TimedOut));
        let waiter = store.block(pop_waiter(7, &[b"k"], None));
        assert!(store.unblock_client(7, Served::Unblocked));
        assert_eq!(store.woken.len(), 1);
        assert_eq!(
            store.unblock(&waiter),
            Some(Outcome::Served(Served::Unblocked))
        );
        // A push now feeds nobody.
        rpush(&mut store, b"k", &[b"x"]);
        store.commit();
        assert!(store.db(0).stored(b"k").is_some());
    }

    fn zpop_waiter(client: u64, keys: &[&[u8]], max: bool, count: Option<usize>) -> Waiter {
        Waiter::new(
            client,
            0,
            keys,
            Wants::ZPop { max, count },
            FILL,
            0,
            None,
            None,
        )
    }

    fn zadd(store: &mut Store, key: &[u8], members: &[(&[u8], f64)]) {
        store
            .writer(0)
            .edit::<ZSet, _>(
                key,
                0,
                true,
                Event::Edited("zadd"),
                |v| {
                    if let Some(z) = ZSet::of(v) {
                        for &(m, s) in members {
                            z.insert(m, s, &crate::config::Encodings::DEFAULT);
                        }
                    }
                    ((), true)
                },
                |_| vec![b"ZADD".to_vec()],
            )
            .unwrap();
    }

    fn zpopped(key: &str, members: &[(&str, f64)]) -> Option<Served> {
        Some(Served::ZPopped {
            key: key.as_bytes().to_vec(),
            members: members
                .iter()
                .map(|&(m, s)| (m.as_bytes().to_vec(), s))
                .collect(),
        })
    }

    #[test]
    fn sorted_set_waiters_are_served_in_order_passing_over_list_waiters() {
        let ks = Keyspace::new();
        let (list, low, high, many) = {
            let mut store = ks.write();
            (
                store.block(pop_waiter(1, &[b"z"], None)),
                store.block(zpop_waiter(2, &[b"other", b"z"], false, None)),
                store.block(zpop_waiter(3, &[b"z"], true, None)),
                store.block(zpop_waiter(4, &[b"z"], false, Some(5))),
            )
        };
        zadd(
            &mut ks.write(),
            b"z",
            &[(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)],
        );
        assert_eq!(answer(&list), None, "a list waiter is not served by a zset");
        assert_eq!(answer(&low), zpopped("z", &[("a", 1.0)]));
        assert_eq!(answer(&high), zpopped("z", &[("c", 3.0)]));
        assert_eq!(answer(&many), zpopped("z", &[("b", 2.0)]));
        let store = ks.read();
        assert_eq!(store.blocked_clients(), 1, "the list waiter still waits");
        assert!(store.db(0).stored(b"z").is_none(), "emptied, removed");
        drop(store);
        rpush(&mut ks.write(), b"z", &[b"x"]);
        assert_eq!(answer(&list), popped("z", &["x"]));
    }

    #[test]
    fn a_served_sorted_set_pop_is_recorded_as_zpopmin_with_the_count_popped() {
        let ks = Keyspace::new();
        let mut store = ks.write();
        store.log.keep_all = true;
        let one = store.block(zpop_waiter(1, &[b"z"], false, None));
        let many = store.block(zpop_waiter(2, &[b"z"], true, Some(10)));
        zadd(&mut store, b"z", &[(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]);
        let added = std::mem::take(&mut store.log.changes);
        store.serve_blocked(&added);
        assert_eq!(answer(&one), zpopped("z", &[("a", 1.0)]));
        assert_eq!(answer(&many), zpopped("z", &[("c", 3.0), ("b", 2.0)]));
        assert_eq!(
            replays(&store),
            [
                ("zpopmin z".to_string(), vec!["ZPOPMIN".into(), "z".into()]),
                (
                    "zpopmax z".to_string(),
                    vec!["ZPOPMAX".into(), "z".into(), "2".into()]
                ),
                ("del z".to_string(), vec!["DEL".into(), "z".into()]),
            ]
        );
    }

    #[test]
    fn a_string_at_a_sorted_set_waiters_key_serves_nobody() {
        let ks = Keyspace::new();
        let waiter = ks.write().block(zpop_waiter(1, &[b"k"], false, None));
        ks.write().writer(0).put(b"k", b"string", 0, 0);
        assert_eq!(answer(&waiter), None);
        let mut store = ks.write();
        store.writer(0).remove(b"k", 0);
        zadd(&mut store, b"k", &[(b"m", -1.5)]);
        drop(store);
        assert_eq!(answer(&waiter), zpopped("k", &[("m", -1.5)]));
    }

    #[test]
    fn a_key_of_another_type_serves_nobody_and_keeps_its_waiters() {
        let ks = Keyspace::new();
        let waiter = ks.write().block(pop_waiter(1, &[b"k"], None));
        ks.write().writer(0).put(b"k", b"string", 0, 0);
        assert_eq!(answer(&waiter), None);
        assert_eq!(ks.read().blocked_clients(), 1);
        let mut store = ks.write();
        store.writer(0).remove(b"k", 0);
        rpush(&mut store, b"k", &[b"x"]);
        drop(store);
        assert_eq!(answer(&waiter), popped("k", &["x"]));
    }
}
