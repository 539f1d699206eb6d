//! A client connection's one timer, for every deadline it waits on in turn (the idle wait for
//! its next request, the server's answer to it). Arming a timer on every wait costs a timer
//! wheel insert and removal per request; this one is moved only when it fires before the
//! deadline of the wait in progress (or that deadline is earlier than where it stands), so a
//! busy connection re-arms it about once per idle wait length instead.

use std::pin::Pin;

use tokio::time::{Instant, Sleep};

pub(crate) struct Timer {
    sleep: Pin<Box<Sleep>>,
}

impl Timer {
    /// A timer set at `at` (it fires at once on the first wait when that is past).
    pub fn new(at: Instant) -> Timer {
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(at)),
        }
    }

    /// Completes at `deadline` (not before), moving the timer only where it must.
    pub async fn until(&mut self, deadline: Instant) {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        loop {
            self.sleep.as_mut().await;
            if Instant::now() >= deadline {
                return;
            }
            self.sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn each_wait_ends_at_its_own_deadline() {
        let start = Instant::now();
        let mut timer = Timer::new(start);
        // A long deadline, then a shorter one: the shorter one is kept to.
        let long = tokio::time::timeout(
            Duration::from_millis(100),
            timer.until(start + Duration::from_secs(10)),
        );
        assert!(long.await.is_err());
        timer.until(start + Duration::from_millis(300)).await;
        assert_eq!(Instant::now(), start + Duration::from_millis(300));
        // A later deadline after the timer fired early: it waits the whole way.
        let later = Instant::now() + Duration::from_millis(500);
        timer.until(later).await;
        assert_eq!(Instant::now(), later);
        // A past deadline ends at once.
        timer.until(start).await;
        assert_eq!(Instant::now(), later);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_left_behind_by_busy_waits_is_moved_only_when_it_fires() {
        let start = Instant::now();
        let mut timer = Timer::new(start + Duration::from_millis(500));
        // Waits that end early (the request came) leave the timer where it was.
        for i in 1..=4u64 {
            let deadline = start + Duration::from_millis(100 * i + 500);
            let cut = tokio::time::timeout(Duration::from_millis(50), timer.until(deadline));
            assert!(cut.await.is_err());
            assert_eq!(timer.sleep.deadline(), start + Duration::from_millis(500));
        }
        // One that runs out passes the old setting and ends at its own deadline.
        let deadline = Instant::now() + Duration::from_millis(500);
        timer.until(deadline).await;
        assert_eq!(Instant::now(), deadline);
    }
}
