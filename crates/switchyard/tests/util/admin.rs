//! A client of the admin API of a running `serve`, with the token from its state directory.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::process::Dir;
use super::serve::Serve;

/// An HTTP client that never goes through a proxy from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("building an HTTP client")
}

/// The admin API of a running `serve`, with the token from its state directory.
pub struct Admin {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Admin {
    pub fn of(dir: &Dir, serve: &Serve) -> Admin {
        Admin::of_state(&dir.path().join("switchyard-state"), serve)
    }

    /// For a serve whose state directory is `state`.
    pub fn of_state(state: &Path, serve: &Serve) -> Admin {
        let token = std::fs::read_to_string(state.join("admin.token"))
            .expect("serve writes its admin token")
            .trim()
            .to_string();
        Admin {
            base: format!("http://{}/api/v1", serve.admin),
            token,
            http: http_client(),
        }
    }

    /// GET `path`; panics unless the answer is 2xx JSON.
    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// POST `body` to `path`, with the token.
    async fn send(&self, path: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let request = self.http.post(url).bearer_auth(&self.token).json(body);
        request.send().await
    }

    /// POST `body` to `path`; returns the status, or the error if no answer came.
    pub async fn post_raw(&self, path: &str, body: &Value) -> Result<u16, reqwest::Error> {
        Ok(self.send(path, body).await?.status().as_u16())
    }

    /// POST `body` to `path`; returns the status and the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.send(path, body).await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// Fails unless every field of `expected` (a JSON object) has that value in `actual`.
pub fn assert_fields(actual: &Value, expected: Value) {
    for (key, want) in expected.as_object().expect("expected fields are an object") {
        assert_eq!(&actual[key], want, "field {key:?} of {actual:#}");
    }
}
