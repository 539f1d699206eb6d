//! The slowest a client may move a body: a request body it sends, or an answer it reads, must
//! average at least the listener's `min_data_rate` once a grace period has passed. This is
//! what ends slow-read and slow-body attacks (a client that takes an answer a few bytes at a
//! time would otherwise hold the server connection serving it for as long as it likes); the
//! same rule as Kestrel's minimum data rates.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};

/// Time a body has before its average rate counts.
pub(crate) const GRACE: Duration = Duration::from_secs(10);

/// The clock of one body: when it began and how much of it moved.
#[derive(Debug)]
pub(crate) struct Pace {
    bytes_per_sec: u64,
    started: Instant,
    moved: u64,
}

impl Pace {
    /// A body starting now, held to `bytes_per_sec`; none when that is 0 (no minimum).
    pub fn start(bytes_per_sec: u64) -> Option<Pace> {
        (bytes_per_sec > 0).then(|| Pace {
            bytes_per_sec,
            started: Instant::now(),
            moved: 0,
        })
    }

    /// When `more` bytes must have moved, on top of those that did, to keep the average.
    pub fn deadline(&self, more: usize) -> Instant {
        let due =
            Duration::from_secs_f64((self.moved + more as u64) as f64 / self.bytes_per_sec as f64);
        self.started + due.max(GRACE)
    }

    pub fn moved(&mut self, n: usize) {
        self.moved += n as u64;
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

/// Writes all of `bytes`, within the pace when there is one. A timer is set only when a write
/// has to wait, so a client that keeps up costs nothing.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    dst: &mut W,
    bytes: &[u8],
    pace: Option<&mut Pace>,
) -> io::Result<()> {
    let Some(pace) = pace else {
        return tokio::io::AsyncWriteExt::write_all(dst, bytes).await;
    };
    let deadline = pace.deadline(bytes.len());
    let mut written = 0;
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        while written < bytes.len() {
            match Pin::new(&mut *dst).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let timer =
                        timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(pace.too_slow()));
                    }
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    })
    .await?;
    pace.moved(bytes.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_counts_only_after_the_grace_period() {
        let mut pace = Pace::start(100).unwrap();
        assert_eq!(pace.deadline(500), pace.started + GRACE);
        assert_eq!(pace.deadline(2_000), pace.started + Duration::from_secs(20));
        pace.moved(1_000);
        assert_eq!(pace.deadline(1_000), pace.started + Duration::from_secs(20));
        assert!(Pace::start(0).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_falls_behind_is_cut_off() {
        let (mut near, mut far) = tokio::io::duplex(64);
        let mut pace = Pace::start(100).unwrap();
        // The far end reads 10 bytes a second: 1,000 bytes need 100 s, allowed 10.
        let reader = tokio::spawn(async move {
            let mut got = [0u8; 10];
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if tokio::io::AsyncReadExt::read(&mut far, &mut got)
                    .await
                    .unwrap_or(0)
                    == 0
                {
                    break;
                }
            }
        });
        let err = write_all(&mut near, &[b'x'; 1_000], Some(&mut pace))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string().contains("min_data_rate (100 bytes/s)"),
            "{err}"
        );
        assert_eq!(pace.started.elapsed(), GRACE);
        drop(near);
        reader.await.unwrap();
        // One that keeps up is not.
        let (mut near, mut far) = tokio::io::duplex(4096);
        let mut pace = Pace::start(100).unwrap();
        write_all(&mut near, &[b'x'; 1_000], Some(&mut pace))
            .await
            .unwrap();
        let mut got = vec![0u8; 1_000];
        tokio::io::AsyncReadExt::read_exact(&mut far, &mut got)
            .await
            .unwrap();
    }
}
