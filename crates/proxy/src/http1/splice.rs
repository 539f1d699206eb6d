//! Moving a raw body from one plain TCP socket to another through a pipe with `splice(2)`,
//! so that its bytes never enter the proxy's memory, as HAProxy's `option splice-response`
//! does. The pump hands over the rest of a large body once what it had buffered is written;
//! a TLS side, or a pipe the system will not give, leaves the body to the copying pump. The
//! same limits hold as there: the idle read timeout on the sender, the minimum data rate on
//! the client.

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::pipe::{self, PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::pump::{cut_short, PumpError};
use super::rate::{self, Pace};

/// What a pipe is asked to hold: a quarter of a MiB, so that a large body moves in few
/// system calls. The system may give less (its per-user pipe quota); the pipe works at any
/// size.
const PIPE_SIZE: usize = 256 * 1024;
/// What the first fill of the pipe takes from the sender. Each fill the receiver takes
/// without making the proxy wait doubles it, up to the pipe's size: a client that reads
/// slowly (or not at all, as in a slow-read attack) draws little from the server, one that
/// keeps up soon moves the body in large pieces.
const FIRST_FILL: usize = 64 * 1024;
/// Empty pipes kept for reuse per thread; the rest are closed.
const SPARE_PIPES: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

/// One side of a body copy, as far as splicing goes: plain TCP can be spliced, nothing else.
pub(crate) trait Splice {
    /// The TCP socket beneath, when the bytes on it are the body's bytes as they are.
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl Splice for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Splice for TlsStream<TcpStream> {}

/// A kernel pipe, empty whenever it is not in use.
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    size: usize,
}

impl Pipe {
    /// A spare pipe of this thread, or a new one; none when the system has no descriptors
    /// or pipes to give.
    pub fn take() -> Option<Pipe> {
        SPARE
            .with(|s| s.borrow_mut().pop())
            .or_else(|| Pipe::open().ok())
    }

    fn open() -> io::Result<Pipe> {
        let (read, write) = pipe::pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        let size = pipe::fcntl_setpipe_size(&write, PIPE_SIZE)
            .or_else(|_| pipe::fcntl_getpipe_size(&write))?;
        Ok(Pipe { read, write, size })
    }

    /// Keeps an empty pipe for the next body.
    fn give_back(self) {
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_PIPES {
                s.push(self);
            }
        });
    }
}

/// Closes this thread's spare pipes, when its connections have gone quiet.
pub(crate) fn drop_spare_pipes() {
    SPARE.with(|s| *s.borrow_mut() = Vec::new());
}

/// Moves `len` bytes (`None`: until the sender closes) from `src` to `dst` through `pipe`.
/// The sender may be silent for `idle` at most; a client on either side is held to its pace.
/// `source_done` gets the bytes moved once the sender has given all of them, before the
/// last of them reach `dst`. Returns the bytes moved.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn body(
    pipe: Pipe,
    src: &TcpStream,
    dst: &TcpStream,
    len: Option<u64>,
    idle: Duration,
    mut src_pace: Option<&mut Pace>,
    mut dst_pace: Option<&mut Pace>,
    source_done: &mut dyn FnMut(u64),
) -> Result<u64, PumpError> {
    let mut left = len.unwrap_or(u64::MAX);
    let mut moved: u64 = 0;
    let mut held = 0;
    let mut ended = false;
    // How long the client made the last write wait: what it takes next counts against it.
    let mut write_waited: Option<Duration> = None;
    let mut fill = FIRST_FILL.min(pipe.size);
    // Whether the receiver made the proxy wait since the pipe was last empty.
    let mut waited = false;
    loop {
        if held == 0 {
            if ended {
                pipe.give_back();
                return Ok(moved);
            }
            if !std::mem::take(&mut waited) && moved > 0 {
                fill = (fill * 2).min(pipe.size);
            }
            // With the pipe empty, a read that cannot go on means the sender has nothing.
            let want = left.min(fill as u64) as usize;
            match src.try_io(Interest::READABLE, || transfer(src, &pipe.write, want)) {
                Ok(0) if len.is_some() => return Err(PumpError::Read(cut_short())),
                Ok(n) => {
                    held = n;
                    moved += n as u64;
                    left -= n as u64;
                    if let Some(pace) = src_pace.as_deref_mut() {
                        pace.moved(n, Duration::ZERO);
                    }
                    if n == 0 || left == 0 {
                        ended = true;
                        source_done(moved);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let (ready, took) =
                        rate::within(src.readable(), Some(idle), src_pace.as_deref())
                            .await
                            .map_err(PumpError::Read)?;
                    ready.map_err(PumpError::Read)?;
                    if let Some(pace) = src_pace.as_deref_mut() {
                        pace.moved(0, took);
                    }
                }
                Err(e) => return Err(PumpError::Read(e)),
            }
        } else {
            match dst.try_io(Interest::WRITABLE, || transfer(&pipe.read, dst, held)) {
                Ok(n) => {
                    held -= n;
                    if let (Some(pace), Some(waited)) =
                        (dst_pace.as_deref_mut(), write_waited.take())
                    {
                        pace.moved(n, waited);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let (ready, took) = rate::within(dst.writable(), None, dst_pace.as_deref())
                        .await
                        .map_err(PumpError::Write)?;
                    ready.map_err(PumpError::Write)?;
                    write_waited = Some(write_waited.unwrap_or_default() + took);
                    waited = true;
                }
                Err(e) => return Err(PumpError::Write(e)),
            }
        }
    }
}

/// One `splice(2)` of at most `len` bytes, never blocking.
fn transfer(
    from: impl std::os::fd::AsFd,
    to: impl std::os::fd::AsFd,
    len: usize,
) -> io::Result<usize> {
    Ok(pipe::splice(
        from,
        None,
        to,
        None,
        len,
        SpliceFlags::NONBLOCK | SpliceFlags::MOVE,
    )?)
}
