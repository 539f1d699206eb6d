//! When a failed attempt is tried again. A connect failure (refused, timed out) sent nothing
//! to the server, so it is retried on another server whatever the method, as long as no byte
//! of the request body has been consumed, as HAProxy's `retry-on conn-failure` and Envoy's
//! `connect-failure` do. Any later failure may have reached the application, and is not.

use http::Method;

use crate::error::ProxyError;

/// A pool's retry budget, applied to one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Further attempts allowed after the first.
    pub retries: u32,
}

/// Where the request stands when an attempt fails.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempted {
    /// Attempts made so far, the failed one included.
    pub attempts: u32,
    /// No byte of the request body has been consumed (or there is none).
    pub body_untouched: bool,
    /// A server not yet tried is in rotation.
    pub another_server: bool,
}

impl RetryPolicy {
    /// Whether to try another server after `err`.
    pub fn retry_elsewhere(&self, err: &ProxyError, at: Attempted) -> bool {
        err.connect_failed()
            && at.body_untouched
            && at.another_server
            && at.attempts <= self.retries
    }

    /// Whether a request that failed on a reused keep-alive connection before any byte of an
    /// answer came back is sent again on a new connection to the same server: the server may
    /// have closed the idle connection as the request went out. Only a request that cannot
    /// change anything when repeated, with no body, is.
    pub fn resend_on_new_connection(method: &Method, has_body: bool) -> bool {
        !has_body && is_idempotent(method)
    }
}

/// Methods whose repetition has the effect of doing them once (RFC 9110 9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerRef;

    fn server() -> ServerRef {
        ServerRef {
            name: "a".into(),
            address: "127.0.0.1:1".parse().unwrap(),
        }
    }

    fn at(attempts: u32, body_untouched: bool, another_server: bool) -> Attempted {
        Attempted {
            attempts,
            body_untouched,
            another_server,
        }
    }

    #[test]
    fn connect_failures_are_retried_for_any_method_while_the_body_is_untouched() {
        let p = RetryPolicy { retries: 1 };
        let refused = ProxyError::ConnectRefused { server: server() };
        assert!(p.retry_elsewhere(&refused, at(1, true, true)));
        assert!(
            !p.retry_elsewhere(&refused, at(1, false, true)),
            "body consumed"
        );
        assert!(
            !p.retry_elsewhere(&refused, at(1, true, false)),
            "nobody left"
        );
        assert!(
            !p.retry_elsewhere(&refused, at(2, true, true)),
            "budget spent"
        );
        let timeout = ProxyError::ConnectTimeout {
            server: server(),
            timeout: std::time::Duration::from_secs(1),
        };
        assert!(p.retry_elsewhere(&timeout, at(1, true, true)));
    }

    #[test]
    fn failures_after_sending_are_not_retried() {
        let p = RetryPolicy { retries: 3 };
        let reset = ProxyError::Reset {
            server: server(),
            source: std::io::Error::other("closed"),
        };
        assert!(!p.retry_elsewhere(&reset, at(1, true, true)));
        let timeout = ProxyError::Timeout {
            server: server(),
            timeout: std::time::Duration::from_secs(1),
        };
        assert!(!p.retry_elsewhere(&timeout, at(1, true, true)));
        assert!(!RetryPolicy { retries: 0 }.retry_elsewhere(
            &ProxyError::ConnectRefused { server: server() },
            at(1, true, true)
        ));
    }

    #[test]
    fn only_bodiless_idempotent_requests_are_resent_on_a_new_connection() {
        assert!(RetryPolicy::resend_on_new_connection(&Method::GET, false));
        assert!(!RetryPolicy::resend_on_new_connection(&Method::GET, true));
        assert!(!RetryPolicy::resend_on_new_connection(&Method::POST, false));
    }
}
