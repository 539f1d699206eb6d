//! Parked connections: cleartext HTTP/1 client connections that have been idle for a while are
//! taken out of their tasks and held by one task per worker, as a socket and a few pointers,
//! until the client sends again (a new task serves it), their idle timeout passes, or the proxy
//! drains. A keep-alive connection waiting minutes for its next request then costs a few hundred
//! bytes instead of a task's whole state.
//!
//! Each parked socket has its own waker, which puts the socket's key on a ready list and wakes
//! the parking task; only the sockets on that list are polled, so one wake-up costs the same with
//! ten parked connections or a hundred thousand.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use slab::Slab;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};

use crate::worker::{self, ConnGuard, ConnInfo, Phase};
use crate::Shared;

/// One parked connection.
struct Parked {
    stream: TcpStream,
    info: Arc<ConnInfo>,
    guard: ConnGuard,
    /// Tells this entry from an earlier one under the same key.
    generation: u64,
    waker: Waker,
}

/// Keys of parked sockets that became readable, and the parking task to wake.
#[derive(Default)]
struct Ready {
    keys: Mutex<Vec<usize>>,
    wake: Notify,
}

/// The waker of one parked socket.
struct SocketWaker {
    key: usize,
    ready: Arc<Ready>,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.key);
        self.ready.wake.notify_one();
    }
}

/// The parked connections of one worker.
struct Parking {
    parked: RefCell<Slab<Parked>>,
    /// Idle deadlines, soonest first: (deadline, key, generation).
    deadlines: RefCell<BinaryHeap<Reverse<(Instant, usize, u64)>>>,
    next_generation: Cell<u64>,
    ready: Arc<Ready>,
    /// Wakes the parking task when a deadline sooner than all others arrives.
    new_deadline: Notify,
}

thread_local! {
    static PARKING: RefCell<Option<Rc<Parking>>> = const { RefCell::new(None) };
}

/// Starts this worker's parking task; connections parked later are served with `shared` and
/// closed when `phase` leaves [`Phase::Serving`].
pub(crate) fn start(shared: Arc<Shared>, phase: watch::Receiver<Phase>) {
    let parking = Rc::new(Parking {
        parked: RefCell::new(Slab::new()),
        deadlines: RefCell::new(BinaryHeap::new()),
        next_generation: Cell::new(0),
        ready: Arc::new(Ready::default()),
        new_deadline: Notify::new(),
    });
    PARKING.set(Some(parking.clone()));
    tokio::task::spawn_local(run(parking, shared, phase));
}

/// Parks an idle connection that began waiting at `since`; without a parking task on this
/// thread (tests that serve connections by hand) the connection is closed.
pub(crate) fn park(stream: TcpStream, info: Arc<ConnInfo>, guard: ConnGuard, since: Instant) {
    let Some(parking) = PARKING.with_borrow(|p| p.clone()) else {
        return;
    };
    let deadline = since + info.limits.idle_timeout;
    let generation = parking.next_generation.get();
    parking.next_generation.set(generation + 1);
    let key = {
        let mut parked = parking.parked.borrow_mut();
        let entry = parked.vacant_entry();
        let key = entry.key();
        let waker = Waker::from(Arc::new(SocketWaker {
            key,
            ready: parking.ready.clone(),
        }));
        // Polled once by the parking task, which registers the waker with the socket.
        waker.wake_by_ref();
        entry.insert(Parked {
            stream,
            info,
            guard,
            generation,
            waker,
        });
        key
    };
    let mut deadlines = parking.deadlines.borrow_mut();
    // Deadlines of connections that came back stay until they pass; when they outnumber the
    // parked ones, they go at once, so the heap holds at most about two per parked connection.
    if deadlines.len() > 2 * parking.parked.borrow().len() + 64 {
        let parked = parking.parked.borrow();
        deadlines.retain(|Reverse((_, k, g))| parked.get(*k).is_some_and(|p| p.generation == *g));
    }
    let soonest = deadlines.peek().is_none_or(|Reverse(d)| deadline < d.0);
    deadlines.push(Reverse((deadline, key, generation)));
    if soonest {
        parking.new_deadline.notify_one();
    }
}

/// Gives back the memory of this worker's parking beyond what its parked connections need.
pub(crate) fn shrink() {
    let Some(parking) = PARKING.with_borrow(|p| p.clone()) else {
        return;
    };
    let mut parked = parking.parked.borrow_mut();
    if parked.capacity() > 2 * parked.len() + 64 {
        parked.shrink_to_fit();
    }
    let mut deadlines = parking.deadlines.borrow_mut();
    if deadlines.capacity() > 2 * deadlines.len() + 64 {
        deadlines.shrink_to_fit();
    }
}

async fn run(parking: Rc<Parking>, shared: Arc<Shared>, mut phase: watch::Receiver<Phase>) {
    loop {
        let next = parking.deadlines.borrow().peek().map(|Reverse(d)| d.0);
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = parking.ready.wake.notified() => poll_ready(&parking, &shared, &phase),
            _ = parking.new_deadline.notified() => {}
            _ = sleep => expire(&parking),
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() != Phase::Serving {
                    // Closing every parked connection; draining has nothing to wait for here.
                    parking.parked.borrow_mut().clear();
                    parking.deadlines.borrow_mut().clear();
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Polls the sockets whose wakers fired; each readable one gets a task again.
fn poll_ready(parking: &Parking, shared: &Arc<Shared>, phase: &watch::Receiver<Phase>) {
    let keys = std::mem::take(
        &mut *parking
            .ready
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    for key in keys {
        let readable = {
            let parked = parking.parked.borrow();
            let Some(p) = parked.get(key) else { continue };
            let mut cx = Context::from_waker(&p.waker);
            matches!(p.stream.poll_read_ready(&mut cx), Poll::Ready(_))
        };
        if readable {
            let p = parking.parked.borrow_mut().remove(key);
            // Readable can also mean closed or failed: the new task finds out and ends.
            worker::resume(p.stream, p.info, p.guard, shared.clone(), phase.clone());
        }
    }
}

/// Closes the connections whose idle timeout has passed.
fn expire(parking: &Parking) {
    let now = Instant::now();
    let mut deadlines = parking.deadlines.borrow_mut();
    let mut parked = parking.parked.borrow_mut();
    while let Some(Reverse((at, key, generation))) = deadlines.peek().copied() {
        if at > now {
            break;
        }
        deadlines.pop();
        if parked.get(key).is_some_and(|p| p.generation == generation) {
            parked.remove(key);
        }
    }
}
