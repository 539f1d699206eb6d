//! The response body the client receives: the upstream's body streamed through, or a local
//! error page. When it ends (or the client goes away) the request is complete: its server slot
//! is released and its access-log line written with the bytes actually sent.

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use crate::access_log::{AccessLog, AccessRecord};
use crate::server::Lease;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What happens when a response is done.
pub(crate) struct Completion {
    pub started: Instant,
    pub record: Option<AccessRecord>,
    pub log: AccessLog,
    pub lease: Option<Lease>,
    pub bytes: u64,
    pub complete: bool,
    pub body_error: bool,
}

impl Drop for Completion {
    fn drop(&mut self) {
        // Release the server slot before logging.
        self.lease.take();
        if let Some(mut record) = self.record.take() {
            record.duration_ms = (self.started.elapsed().as_secs_f64() * 1e6).round() / 1000.0;
            record.bytes_sent = self.bytes;
            if record.error.is_none() {
                if self.body_error {
                    record.error = Some("upstream_body_error");
                } else if !self.complete {
                    record.error = Some("response_incomplete");
                }
            }
            self.log.log(&record);
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseBody {
        #[pin]
        inner: Either<Incoming, Full<Bytes>>,
        done: Option<Completion>,
    }

    impl PinnedDrop for ResponseBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(done) = this.done.as_mut() {
                if this.inner.is_end_stream() {
                    done.complete = true;
                }
            }
        }
    }
}

impl ResponseBody {
    pub(crate) fn upstream(body: Incoming, done: Completion) -> Self {
        ResponseBody {
            inner: Either::Left(body),
            done: Some(done),
        }
    }

    pub(crate) fn local(body: Bytes, done: Option<Completion>) -> Self {
        ResponseBody {
            inner: Either::Right(Full::new(body)),
            done,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = ready!(this.inner.poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                if let (Some(done), Some(data)) = (this.done.as_mut(), frame.data_ref()) {
                    done.bytes += data.len() as u64;
                }
            }
            Some(Err(_)) => {
                if let Some(done) = this.done.as_mut() {
                    done.body_error = true;
                }
            }
            None => {
                if let Some(mut done) = this.done.take() {
                    done.complete = true;
                }
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
