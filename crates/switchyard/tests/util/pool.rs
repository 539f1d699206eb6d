//! A pool of lab backends behind a running `serve`, for the rollout and decommission suites:
//! servers `inventory-1..N` in pool `inventory`, with health checks on `/health`, and new
//! backends to roll out.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use switchyard_lab::Backend;

use super::{argv, run_with_timeout, serve_config, Admin, Dir, Serve};

/// The pool's active health check: fast, so that a step's health wait is short.
pub const HEALTH: &str = "\n[pools.inventory.health]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\nexpect_status = [200]\nrise = 2\nfall = 2\n";

/// How long one CLI verb of these suites may run.
const VERB_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Pool {
    pub dir: Dir,
    pub serve: Serve,
    pub admin: Admin,
    pub old: Vec<Backend>,
}

impl Pool {
    /// `old` servers in rotation; `pool_settings` go into `[pools.inventory]` (such as
    /// `min_servers = 2`).
    pub async fn start(old: usize, pool_settings: &str) -> Pool {
        Pool::start_with_health(old, pool_settings, HEALTH).await
    }

    /// [`Pool::start`] with `health` as the pool's health-check section.
    pub async fn start_with_health(old: usize, pool_settings: &str, health: &str) -> Pool {
        let mut backends = Vec::new();
        for i in 1..=old {
            backends.push(Backend::start(&format!("inventory-{i}")).await.unwrap());
        }
        let servers: Vec<(&str, std::net::SocketAddr)> =
            backends.iter().map(|b| (b.name.as_str(), b.addr)).collect();
        let config = serve_config("off", "", &servers).replace(
            "balance = \"round_robin\"",
            &format!("balance = \"round_robin\"\n{pool_settings}"),
        );
        let dir = Dir::new();
        let path = dir.write("switchyard.toml", &format!("{config}{health}"));
        let serve = Serve::start(&dir, &path).await;
        let admin = Admin::of(&dir, &serve);
        Pool {
            dir,
            serve,
            admin,
            old: backends,
        }
    }

    /// Runs a CLI verb off the async threads, so that load keeps going meanwhile.
    pub async fn cli(&self, line: &str) -> (Command, Output) {
        let mut cmd = self.dir.cli(argv(line));
        tokio::task::spawn_blocking(move || {
            let out = run_with_timeout(&mut cmd, VERB_TIMEOUT);
            (cmd, out)
        })
        .await
        .unwrap()
    }

    /// The pool's servers as `GET /pools` shows them.
    pub async fn servers(&self) -> Vec<Value> {
        let pools = self.admin.get("/pools?pool=inventory").await;
        pools[0]["servers"].as_array().cloned().unwrap_or_default()
    }

    /// The live state of `name`.
    pub async fn state(&self, name: &str) -> String {
        let servers = self.servers().await;
        let s = servers.iter().find(|s| s["name"] == name);
        s.map_or("absent".into(), |s| s["state"].as_str().unwrap().into())
    }

    /// Rollout `id` of the pool.
    pub async fn rollout(&self, id: u64) -> Value {
        self.admin
            .get(&format!("/pools/inventory/rollouts/{id}"))
            .await
    }
}
