//! A real etcd cluster on loopback for tests: `n` members on free ports, in a temporary
//! directory, started and killed one by one. Needs the `etcd` and `etcdctl` binaries (Debian's
//! `etcd-server` and `etcd-client`); [`EtcdCluster::available`] tells whether they are here.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::EtcdTarget;

/// How long a cluster may take to elect a leader and answer.
const READY_WITHIN: Duration = Duration::from_secs(20);

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// A running etcd cluster; every member is killed when it is dropped.
pub struct EtcdCluster {
    dir: PathBuf,
    token: String,
    members: Vec<Member>,
}

impl EtcdCluster {
    /// Whether `etcd` and `etcdctl` can be run here. Tests that need etcd skip, saying so, only
    /// when this is false; under CI (`CI` set) a missing etcd fails instead, as CI installs it.
    pub fn available() -> bool {
        let runs = |bin: &str, arg: &str| {
            Command::new(bin)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let here = runs("etcd", "--version") && runs("etcdctl", "version");
        assert!(
            here || std::env::var_os("CI").is_none(),
            "etcd and etcdctl must be installed under CI (.ci/run installs etcd-server)"
        );
        if !here {
            eprintln!("skipped: the etcd and etcdctl binaries are not installed (apt-get install etcd-server etcd-client)");
        }
        here
    }

    /// Starts `n` members under `dir` and waits until every one is healthy.
    pub fn start(dir: &Path, n: usize) -> EtcdCluster {
        let members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
            })
            .collect();
        let mut cluster = EtcdCluster {
            dir: dir.to_path_buf(),
            token: format!("t{:x}", fastrand::u64(..)),
            members,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster.wait_ready();
        cluster
    }

    /// `etcd://` URL naming every member, with `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}", self.target(prefix))
    }

    pub fn target(&self, prefix: &str) -> EtcdTarget {
        EtcdTarget {
            members: self
                .members
                .iter()
                .map(|m| format!("127.0.0.1:{}", m.client_port))
                .collect(),
            prefix: prefix.to_string(),
        }
    }

    /// Kills member `i` (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills every member.
    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }

    /// Starts member `i` again on its data directory.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
    }

    /// Starts every stopped member and waits until the cluster answers.
    pub fn restart_all(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_none() {
                self.spawn(i);
            }
        }
        self.wait_ready();
    }

    /// The index of the current leader.
    pub fn leader(&self) -> usize {
        let out = self.etcdctl(&["endpoint", "status", "-w", "json"]);
        let statuses: serde_json::Value = serde_json::from_str(&out).expect("etcdctl JSON");
        for s in statuses.as_array().expect("a list of statuses") {
            let status = &s["Status"];
            if status["leader"] == status["header"]["member_id"] {
                let endpoint = s["Endpoint"].as_str().unwrap_or_default();
                return self
                    .members
                    .iter()
                    .position(|m| endpoint.ends_with(&format!(":{}", m.client_port)))
                    .expect("the leader is a member");
            }
        }
        panic!("no leader in {out}");
    }

    /// Runs `etcdctl` against every member that is running; returns its standard output.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect();
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg("--command-timeout=2s")
            .args(args)
            .output()
            .expect("etcdctl runs");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn spawn(&mut self, i: usize) {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        let m = &self.members[i];
        let client = format!("http://127.0.0.1:{}", m.client_port);
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let log =
            std::fs::File::create(self.dir.join(format!("{}.log", m.name))).expect("log file");
        let child = Command::new("etcd")
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(self.dir.join(&m.name))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.members[i].child = Some(child);
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let ok = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .arg(format!(
                    "--endpoints={}",
                    self.target("/").endpoints().join(",")
                ))
                .args(["--command-timeout=1s", "endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            if Instant::now() >= deadline {
                let tails: Vec<String> = self
                    .members
                    .iter()
                    .map(|m| {
                        let log = std::fs::read_to_string(self.dir.join(format!("{}.log", m.name)))
                            .unwrap_or_default();
                        let lines: Vec<&str> = log.lines().collect();
                        format!(
                            "{}:\n{}",
                            m.name,
                            lines[lines.len().saturating_sub(5)..].join("\n")
                        )
                    })
                    .collect();
                panic!(
                    "etcd did not become ready within {READY_WITHIN:?}; the members' logs end:\n{}",
                    tails.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A port nobody listens on right now, below the range the kernel hands out to outgoing
/// connections: a member that is killed and started again must find its port free, and a client
/// connecting meanwhile could otherwise be given that very port as its own.
fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
