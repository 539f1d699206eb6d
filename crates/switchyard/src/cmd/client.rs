//! The CLI's side of the admin API: finds it (`--admin`/`--token`, else the state directory),
//! sends one request, and turns refusals into one-line errors.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::state::StateDir;
use crate::Global;

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(g: &Global) -> anyhow::Result<Client> {
        let dir = StateDir::existing(&g.state);
        let base = match &g.admin {
            Some(url) => url.clone(),
            None => dir.admin_url()?.with_context(|| {
                format!(
                    "cannot find the admin API: pass --admin URL (or set SWITCHYARD_ADMIN), or run in the directory where `switchyard serve` keeps its state ({} has no admin.url)",
                    g.state.display()
                )
            })?,
        };
        let token = match &g.token {
            Some(t) => t.clone(),
            None => dir.token()?.with_context(|| {
                format!(
                    "no admin token: pass --token TOKEN (or set SWITCHYARD_TOKEN); `switchyard serve` writes it to {}/admin.token",
                    g.state.display()
                )
            })?,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
            rt,
        })
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let base = &self.base;
        self.rt.block_on(async {
            let resp = req.bearer_auth(&self.token).send().await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the admin API at {base}: is `switchyard serve` running? ({})",
                    root_cause(&e)
                )
            })?;
            let status = resp.status();
            let body: Value = resp.json().await.with_context(|| {
                format!("the admin API at {base} answered {status} without JSON")
            })?;
            if status.is_success() {
                return Ok(body);
            }
            let mut msg = format!(
                "{} (HTTP {})",
                body["reason"]
                    .as_str()
                    .map_or_else(|| body.to_string(), str::to_string),
                status.as_u16()
            );
            if let Some(problems) = body["problems"].as_array() {
                for p in problems {
                    msg.push_str(&format!("\n{}", p["text"].as_str().unwrap_or_default()));
                }
            }
            anyhow::bail!(msg)
        })
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
