//! Several `switchyard serve` instances sharing one history in a real etcd cluster on loopback,
//! in front of the same lab backends, with load that counts every failed request.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard_store::testing::EtcdCluster;

use super::admin::{http_client, Admin};
use super::process::Dir;
use super::serve::{poll, serve_config, Serve};

/// The etcd prefix the fleet's history lives under.
pub const PREFIX: &str = "/shop";

/// One instance: its directory (and state directory), its process and its admin API.
pub struct Instance {
    pub name: String,
    pub dir: Dir,
    pub serve: Serve,
    pub admin: Admin,
    pub web: SocketAddr,
    /// The command line's arguments after `serve`.
    pub args: Vec<String>,
}

/// An etcd cluster, lab backends `inventory-1`..`N`, and instances `lb-1`..`lb-M` of serve.
pub struct Fleet {
    pub instances: Vec<Instance>,
    pub etcd: EtcdCluster,
    pub backends: Vec<switchyard_lab::Backend>,
    pub etcd_dir: Dir,
}

impl Fleet {
    /// `None`, saying why, when the etcd binaries are missing.
    pub async fn start(members: usize, instances: usize, backends: usize) -> Option<Fleet> {
        if !EtcdCluster::available() {
            return None;
        }
        let etcd_dir = Dir::new();
        let etcd = EtcdCluster::start(etcd_dir.path(), members);
        let mut fleet = Fleet {
            instances: Vec::new(),
            etcd,
            backends: Vec::new(),
            etcd_dir,
        };
        for i in 1..=backends {
            let backend = switchyard_lab::Backend::start(&format!("inventory-{i}")).await;
            fleet
                .backends
                .push(backend.expect("starting a lab backend"));
        }
        for i in 1..=instances {
            let dir = Dir::new();
            let mut extra: Vec<OsString> = Vec::new();
            if i == 1 {
                // The first instance brings the first version; the others start from the store.
                extra.push("--config".into());
                extra.push(dir.write("switchyard.toml", &fleet.config(1)).into());
            } else if i == 3 {
                // The third binds addresses of its own instead of the shared config's.
                extra.push(format!("--listen=web={}", free_addr()).into());
                extra.push(format!("--admin-bind={}", free_addr()).into());
            }
            let instance = fleet.spawn(format!("lb-{i}"), dir, extra).await;
            fleet.instances.push(instance);
        }
        Some(fleet)
    }

    /// A config whose pool holds the first `n` backends.
    pub fn config(&self, n: usize) -> String {
        let servers: Vec<(&str, SocketAddr)> = self.backends[..n]
            .iter()
            .map(|b| (b.name.as_str(), b.addr))
            .collect();
        serve_config("off", "", &servers)
    }

    /// Starts instance `name` in `dir` on the fleet's store.
    pub async fn spawn(&self, name: String, dir: Dir, extra: Vec<OsString>) -> Instance {
        let mut args: Vec<OsString> = vec![
            "--store".into(),
            self.etcd.url(PREFIX).into(),
            "--instance".into(),
            name.clone().into(),
            "--author".into(),
            "ops".into(),
        ];
        args.extend(extra);
        let text = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
        let serve = Serve::start_with(&dir, &args).await;
        let admin = Admin::of(&dir, &serve);
        let web = serve.listener("web");
        Instance {
            name,
            dir,
            serve,
            admin,
            web,
            args: text,
        }
    }

    /// Waits until every instance runs `version`; returns how long the slowest took.
    pub async fn all_run(&self, version: u64, within: Duration) -> Duration {
        let start = Instant::now();
        for i in &self.instances {
            i.runs(version, within).await;
        }
        start.elapsed()
    }

    /// Two clients on each instance's listener, counting answers until `finish`.
    pub fn loads(&self) -> Vec<CountedLoad> {
        self.instances
            .iter()
            .map(|i| CountedLoad::start(i.web, 2))
            .collect()
    }
}

/// A loopback address nobody listens on right now.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

impl Instance {
    /// `GET /api/v1/instance`.
    pub async fn status(&self) -> Value {
        self.admin.get("/instance").await
    }

    /// Waits until this instance runs `version`, at most `within`.
    pub async fn runs(&self, version: u64, within: Duration) {
        let ran = poll(within, || async {
            (self.status().await["version"] == version).then_some(())
        })
        .await;
        self.serve.check(
            ran.is_some(),
            &format!("{} should run v{version} within {within:?}", self.name),
        );
    }

    /// Applies `config` through this instance; the status and the answer.
    pub async fn apply(&self, config: &str, if_version: Option<u64>) -> (u16, Value) {
        let mut body = json!({"config": config, "author": "ops", "message": "change"});
        if let Some(v) = if_version {
            body["if_version"] = v.into();
        }
        self.admin.post("/apply", &body).await
    }

    /// The value of `switchyard_store_connected` in `/metrics`.
    pub async fn store_connected(&self) -> Option<i64> {
        let url = format!("http://{}/metrics", self.serve.admin);
        let text = http_client()
            .get(url)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("switchyard_store_connected "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Waits (at most 8 s) until `/metrics` says `switchyard_store_connected {value}`.
    pub async fn store_connected_becomes(&self, value: i64) {
        let became = poll(Duration::from_secs(8), || async {
            (self.store_connected().await == Some(value)).then_some(())
        })
        .await;
        self.serve.check(
            became.is_some(),
            &format!(
                "{}: switchyard_store_connected should become {value}",
                self.name
            ),
        );
    }

    /// The names of the backends that answer `n` GETs through this instance (each must be 200).
    pub async fn hits(&self, n: usize) -> Vec<String> {
        let client = http_client();
        let mut names = Vec::new();
        for _ in 0..n {
            let resp = client.get(format!("http://{}/", self.web)).send().await;
            let resp = resp.expect("a request through the proxy");
            let status = resp.status();
            let body = resp.text().await.expect("a body");
            self.serve.check(
                status == 200,
                &format!("GET / through {}: {status} {body}", self.name),
            );
            names.push(body.trim().to_string());
        }
        names
    }
}

/// Clients sending GETs through a proxy until stopped, counting answers that are not 200.
pub struct CountedLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl CountedLoad {
    pub fn start(web: SocketAddr, clients: usize) -> CountedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let tasks = (0..clients)
            .map(|_| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let client = http_client();
                    while !stop.load(Ordering::Relaxed) {
                        let answer = client.get(format!("http://{web}/")).send().await;
                        let good = match answer {
                            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        let counter = if good { &ok } else { &failed };
                        counter.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        CountedLoad {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    /// Stops the clients; `(ok, failed)` request counts.
    pub async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Stops the clients and checks that `instance` answered plenty and failed none.
    pub async fn finish_without_failures(self, instance: &str) {
        let (ok, failed) = self.finish().await;
        assert!(
            ok > 20 && failed == 0,
            "{instance}: {ok} ok, {failed} failed"
        );
    }
}
