//! A whole site for CLI tests: `serve` in its own directory in front of lab backends, verbs run
//! against it, and load through its proxy.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::admin::http_client;
use super::process::{argv, check, run_fails, run_ok, stderr, stdout, Dir};
use super::serve::{serve_config, Serve};

/// `switchyard serve` in its own directory in front of lab backends `inventory-1`..`N` (one
/// pool, round robin), its first version made by a known author from `switchyard.toml`.
/// Dropping it kills serve, then stops the backends, then removes the directory.
pub struct Site {
    pub serve: Serve,
    pub backends: Vec<switchyard_lab::Backend>,
    pub web: SocketAddr,
    pub dir: Dir,
}

impl Site {
    pub async fn start(servers: usize, author: &str) -> Site {
        let dir = Dir::new();
        let mut backends = Vec::new();
        for i in 1..=servers {
            let name = format!("inventory-{i}");
            let backend = switchyard_lab::Backend::start(&name).await;
            backends.push(backend.expect("starting a lab backend"));
        }
        let list: Vec<(&str, SocketAddr)> =
            backends.iter().map(|b| (b.name.as_str(), b.addr)).collect();
        dir.write("switchyard.toml", &serve_config("off", "", &list));
        let args = ["--config", "switchyard.toml", "--author", author].map(OsStr::new);
        let serve = Serve::start_with(&dir, &args).await;
        let web = serve.listener("web");
        Site {
            serve,
            backends,
            web,
            dir,
        }
    }

    /// `(name, address)` of every lab backend, for [`serve_config`].
    pub fn servers(&self) -> Vec<(&str, SocketAddr)> {
        self.backends
            .iter()
            .map(|b| (b.name.as_str(), b.addr))
            .collect()
    }

    /// `switchyard ARGS...` in the site's directory (see [`Dir::cli`]); `line` is split as
    /// [`argv`] does.
    pub fn cli(&self, line: &str) -> Command {
        self.dir.cli(argv(line))
    }

    /// stdout of a verb that must exit 0.
    pub fn ok(&self, line: &str) -> String {
        stdout(&run_ok(&mut self.cli(line)))
    }

    /// What a verb that must exit 0 prints with `--output json`.
    pub fn json(&self, line: &str) -> Value {
        let mut cmd = self.cli(line);
        cmd.args(["--output", "json"]);
        let o = run_ok(&mut cmd);
        let parsed = serde_json::from_slice(&o.stdout);
        check(parsed.is_ok(), "stdout should be JSON", &cmd, &o);
        parsed.expect("checked")
    }

    /// stderr of a verb that must exit 1.
    pub fn fails(&self, line: &str) -> String {
        stderr(&run_fails(&mut self.cli(line)))
    }

    /// Runs a verb that must fail with one line that starts `switchyard: ` and contains
    /// `needle`.
    pub fn refused(&self, line: &str, needle: &str) {
        let err = self.fails(line);
        let one = err.lines().count() == 1 && err.starts_with("switchyard: ");
        assert!(
            one && err.contains(needle),
            "{line}: want {needle:?}, got {err:?}"
        );
    }

    /// The version numbers `history --output json` lists, newest first.
    pub fn versions(&self) -> Vec<u64> {
        versions(&self.json("history"))
    }

    /// The admin token `serve` wrote to its state directory.
    pub fn token(&self) -> String {
        let path = self.dir.path().join("switchyard-state/admin.token");
        std::fs::read_to_string(path)
            .expect("serve writes its admin token")
            .trim()
            .to_string()
    }

    /// `n` GETs through the proxy, one after another: the name of the backend that answered
    /// each (every one must answer 200).
    pub async fn hits(&self, n: usize) -> Vec<String> {
        let client = http_client();
        let mut names = Vec::new();
        for _ in 0..n {
            let resp = client
                .get(format!("http://{}/", self.web))
                .send()
                .await
                .expect("a request through the proxy");
            let status = resp.status();
            let body = resp.text().await.expect("a response body");
            self.serve.check(
                status == 200,
                &format!("GET / through the proxy: {status} {body}"),
            );
            names.push(body.trim().to_string());
        }
        names
    }
}

/// The version numbers of a `history --output json`.
pub fn versions(history: &Value) -> Vec<u64> {
    let list = history.as_array().expect("history is a list");
    list.iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

/// The distinct backend names among [`Site::hits`].
pub fn names(hits: &[String]) -> std::collections::BTreeSet<&str> {
    hits.iter().map(String::as_str).collect()
}

/// Clients sending GETs for `path` through the proxy at `web`, a few milliseconds apart, until
/// dropped.
pub struct Load(Arc<AtomicBool>);

impl Load {
    pub fn start(web: SocketAddr, clients: usize, path: &'static str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..clients {
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = http_client();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = client.get(format!("http://{web}{path}")).send().await {
                        let _ = r.bytes().await;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
        Load(stop)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
