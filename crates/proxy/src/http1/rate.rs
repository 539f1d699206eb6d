//! The slowest a client may move a body: while the proxy waits on a client that sends a
//! request body or reads an answer, the client must keep up an average of the listener's
//! `min_data_rate`, after a short grace. Only time spent waiting on the client counts, so a
//! server that answers slowly (a stream of events, say) never makes its client look slow.
//! This is what ends slow-read and slow-body attacks, which would otherwise hold a server
//! connection for as long as they like; the rule is Kestrel's minimum data rates.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use super::buf::ReadBuf;

/// Waiting a client may cost before its average counts.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// One body's account: bytes the client moved and time spent waiting on it.
#[derive(Debug)]
pub(crate) struct Pace {
    bytes_per_sec: u64,
    moved: u64,
    waited: Duration,
}

impl Pace {
    /// A new body held to `bytes_per_sec`; none when that is 0 (no minimum).
    pub fn start(bytes_per_sec: u64) -> Option<Pace> {
        (bytes_per_sec > 0).then_some(Pace {
            bytes_per_sec,
            moved: 0,
            waited: Duration::ZERO,
        })
    }

    /// Until when, from `now`, the proxy may go on waiting for the client: the grace plus
    /// what the client earned by what it moved, less what it was already waited for.
    pub fn deadline(&self, now: Instant) -> Instant {
        let earned = Duration::from_secs_f64(self.moved as f64 / self.bytes_per_sec as f64);
        now + (GRACE + earned).saturating_sub(self.waited)
    }

    /// Records `n` bytes moved after waiting `waited` for them.
    pub fn moved(&mut self, n: usize, waited: Duration) {
        self.moved += n as u64;
        self.waited += waited;
    }

    /// The error for a client that fell behind.
    pub fn too_slow(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client moved the body slower than min_data_rate ({} bytes/s)",
                self.bytes_per_sec
            ),
        )
    }
}

/// Reads once from the client into `buf` (growing it up to `limit`), as
/// [`ReadBuf::read_from`] does, waiting at most `idle` for bytes and no longer than the pace
/// allows; running out of either is a `TimedOut` error that says which. As in [`write_all`],
/// the clock is read and a timer set only when the read has to wait.
pub(crate) async fn read<R: AsyncRead + Unpin>(
    buf: &mut ReadBuf,
    src: &mut R,
    limit: usize,
    idle: Duration,
    pace: Option<&mut Pace>,
) -> io::Result<Option<usize>> {
    let mut reading = std::pin::pin!(buf.read_from(src, limit));
    if let Poll::Ready(done) = poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await {
        if let (Ok(Some(n)), Some(pace)) = (&done, pace) {
            pace.moved(*n, Duration::ZERO);
        }
        return done;
    }
    let (done, waited) = within(reading, Some(idle), pace.as_deref()).await?;
    if let (Ok(Some(n)), Some(pace)) = (&done, pace) {
        pace.moved(*n, waited);
    }
    done
}

/// Runs `fut`, which has to wait on the client, for at most `idle` (when given) and no
/// longer than the pace allows; returns its output and how long it took. Running out of
/// either is a `TimedOut` error that says which.
pub(crate) async fn within<F: Future>(
    fut: F,
    idle: Option<Duration>,
    pace: Option<&Pace>,
) -> io::Result<(F::Output, Duration)> {
    let now = Instant::now();
    let idle_deadline = idle.map(|idle| now + idle);
    let pace_deadline = pace.map(|p| p.deadline(now));
    // Which limit comes first; the pace's when it is earlier than the idle limit or alone.
    let (deadline, too_slow) = match (idle_deadline, pace_deadline) {
        (Some(i), Some(p)) => (i.min(p), p < i),
        (Some(i), None) => (i, false),
        (None, Some(p)) => (p, true),
        (None, None) => return Ok((fut.await, now.elapsed())),
    };
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(out) => Ok((out, now.elapsed())),
        Err(_) => Err(match pace {
            Some(pace) if too_slow => pace.too_slow(),
            _ => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no body bytes for {:?}", idle.unwrap_or_default()),
            ),
        }),
    }
}

/// Writes all of `bytes`, within the pace when there is one. The clock is read and a timer
/// set only when a write has to wait, so a client that keeps up costs nothing. Only bytes the
/// client took after such a wait count as moved: what the kernel's buffers took at once says
/// nothing about how fast the client reads.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    dst: &mut W,
    bytes: &[u8],
    pace: Option<&mut Pace>,
) -> io::Result<()> {
    let Some(pace) = pace else {
        return tokio::io::AsyncWriteExt::write_all(dst, bytes).await;
    };
    let mut written = 0;
    let mut waiting_since: Option<Instant> = None;
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        while written < bytes.len() {
            match Pin::new(&mut *dst).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    written += n;
                    if let Some(since) = waiting_since.take() {
                        pace.moved(n, since.elapsed());
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if waiting_since.is_none() {
                        let now = Instant::now();
                        waiting_since = Some(now);
                        let deadline = pace.deadline(now);
                        match timer.as_mut() {
                            Some(t) => t.as_mut().reset(deadline),
                            None => timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                        }
                    }
                    let timer = timer.as_mut().expect("set while waiting");
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(pace.too_slow()));
                    }
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn waiting_is_allowed_by_what_the_client_moved() {
        let now = Instant::now();
        let mut pace = Pace::start(100).unwrap();
        assert_eq!(pace.deadline(now), now + GRACE);
        pace.moved(1_000, Duration::from_secs(4));
        assert_eq!(pace.deadline(now), now + GRACE + Duration::from_secs(6));
        pace.moved(100, Duration::from_secs(20));
        assert_eq!(pace.deadline(now), now);
        assert!(Pace::start(0).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_falls_behind_is_cut_off() {
        let (mut near, mut far) = tokio::io::duplex(64);
        let mut pace = Pace::start(100).unwrap();
        // The far end reads 10 bytes a second, a tenth of the minimum.
        let reader = tokio::spawn(async move {
            let mut got = [0u8; 10];
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if far.read(&mut got).await.unwrap_or(0) == 0 {
                    break;
                }
            }
        });
        let started = Instant::now();
        let err = write_all(&mut near, &[b'x'; 1_000], Some(&mut pace))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string().contains("min_data_rate (100 bytes/s)"),
            "{err}"
        );
        // Each second of waiting earns 0.1 s: the grace runs out after about 2.2 s.
        let took = started.elapsed();
        assert!(
            took > GRACE && took < GRACE + Duration::from_secs(1),
            "cut off after {took:?}"
        );
        drop(near);
        reader.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn only_bytes_written_after_a_wait_count_as_moved() {
        let (mut near, mut far) = tokio::io::duplex(64);
        let mut pace = Pace::start(100).unwrap();
        let reader = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.unwrap();
            all.len()
        });
        write_all(&mut near, &[b'x'; 1_000], Some(&mut pace))
            .await
            .unwrap();
        drop(near);
        assert_eq!(reader.await.unwrap(), 1_000);
        // 64 bytes went at once into the pipe; the rest after the wait.
        assert_eq!(pace.moved, 936);
        assert_eq!(pace.waited, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn reads_wait_only_when_nothing_is_there() {
        let (mut near, mut far) = tokio::io::duplex(4096);
        let mut pace = Pace::start(100).unwrap();
        let mut buf = ReadBuf::default();
        tokio::io::AsyncWriteExt::write_all(&mut far, b"ready")
            .await
            .unwrap();
        let idle = Duration::from_secs(5);
        let got = read(&mut buf, &mut near, 4096, idle, Some(&mut pace)).await;
        assert_eq!(got.unwrap(), Some(5));
        assert_eq!((pace.moved, pace.waited), (5, Duration::ZERO));
        // Nothing more comes: the pace (2 s of grace and 0.05 s earned) ends the wait first.
        let started = Instant::now();
        let err = read(&mut buf, &mut near, 4096, idle, Some(&mut pace))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("min_data_rate"), "{err}");
        assert_eq!(started.elapsed(), GRACE + Duration::from_millis(50));
        // Without a pace, the idle limit does.
        let err = read(&mut buf, &mut near, 4096, idle, None)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no body bytes for 5s");
        drop(far);
    }

    #[tokio::test(start_paused = true)]
    async fn time_spent_on_other_things_does_not_count() {
        let (mut near, mut far) = tokio::io::duplex(4096);
        let mut pace = Pace::start(100).unwrap();
        // A body that trickles in from the server for a minute, to a client that keeps up.
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            write_all(&mut near, b"event\n", Some(&mut pace))
                .await
                .unwrap();
            let mut got = [0u8; 6];
            far.read_exact(&mut got).await.unwrap();
        }
        assert_eq!(pace.waited, Duration::ZERO);
    }
}
