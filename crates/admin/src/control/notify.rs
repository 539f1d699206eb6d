//! Outgoing notifications: one JSON POST to `[notify] webhook` per auto-rollback, ejection or
//! all-unhealthy pool. Every POST runs on its own task with a timeout and retries, so a slow or
//! failing receiver never holds up a change or a request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_config::NotifyConfig;

/// Pause before the first retry; each further retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Why a notice is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// The guard rolled a version back.
    AutoRollback,
    /// Outlier detection ejected a server.
    Ejection,
    /// A pool has no healthy server left.
    AllUnhealthy,
}

impl NoticeKind {
    /// The kind as the webhook receives it.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::AutoRollback => "auto-rollback",
            NoticeKind::Ejection => "ejection",
            NoticeKind::AllUnhealthy => "all-unhealthy",
        }
    }
}

/// What the webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The version concerned (the one rolled back), when there is one.
    pub version: Option<u64>,
    pub pool: Option<String>,
    pub server: Option<String>,
    /// One line for a person.
    pub reason: String,
    pub details: serde_json::Value,
    pub ts: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("webhook {url} could not be reached (attempt {attempt}): {source}")]
    Send {
        url: String,
        attempt: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("webhook {url} answered {status} (attempt {attempt})")]
    Status {
        url: String,
        attempt: u32,
        status: u16,
    },
}

/// Sends notices; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifier {
    http: reqwest::Client,
}

impl Notifier {
    /// POSTs `notice` on a task of its own; does nothing without a webhook.
    pub(crate) fn send(&self, config: Option<&NotifyConfig>, notice: Notice) {
        let Some(config) = config.cloned() else {
            return;
        };
        let http = self.http.clone();
        tokio::spawn(async move {
            if let Err(e) = deliver(&http, &config, &notice).await {
                tracing::warn!(kind = notice.kind.as_str(), "could not notify: {e}");
            }
        });
    }
}

/// One POST, then up to `retries` more after pauses of 200 ms, 400 ms, 800 ms...
async fn deliver(
    http: &reqwest::Client,
    config: &NotifyConfig,
    notice: &Notice,
) -> Result<(), NotifyError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let result = http
            .post(&config.webhook)
            .timeout(config.timeout)
            .json(notice)
            .send()
            .await;
        let error = match result {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => NotifyError::Status {
                url: config.webhook.clone(),
                attempt,
                status: resp.status().as_u16(),
            },
            Err(source) => NotifyError::Send {
                url: config.webhook.clone(),
                attempt,
                source,
            },
        };
        if attempt > config.retries {
            return Err(error);
        }
        tracing::debug!("{error}; retrying in {backoff:?}");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers 500 to the first request and 200 to the next; returns the bodies it saw.
    async fn flaky_receiver() -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for status in ["500 Internal Server Error", "200 OK"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 64 * 1024];
                let mut got = Vec::new();
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some((_, body)) = text.split_once("\r\n\r\n") {
                        if body.ends_with('}') {
                            seen.push(body.to_string());
                            break;
                        }
                    }
                }
                let resp =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
            seen
        });
        (url, task)
    }

    #[tokio::test]
    async fn retries_after_a_failure() {
        let (url, receiver) = flaky_receiver().await;
        let config = NotifyConfig {
            webhook: url,
            timeout: Duration::from_secs(2),
            retries: 2,
        };
        let notice = Notice {
            kind: NoticeKind::Ejection,
            version: None,
            pool: Some("inventory".into()),
            server: Some("inventory-2".into()),
            reason: "ejected".into(),
            details: serde_json::json!({}),
            ts: Utc::now(),
        };
        deliver(&reqwest::Client::new(), &config, &notice)
            .await
            .unwrap();
        let seen = receiver.await.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].contains("\"server\":\"inventory-2\""), "{seen:?}");
    }

    #[tokio::test]
    async fn gives_up_after_the_retries() {
        let config = NotifyConfig {
            webhook: "http://127.0.0.1:1/nothing-listens".into(),
            timeout: Duration::from_millis(200),
            retries: 1,
        };
        let notice = Notice {
            kind: NoticeKind::AllUnhealthy,
            version: None,
            pool: None,
            server: None,
            reason: String::new(),
            details: serde_json::json!({}),
            ts: Utc::now(),
        };
        let err = deliver(&reqwest::Client::new(), &config, &notice)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("attempt 2"), "{err}");
    }
}
