//! A running `switchyard serve`: started in a test directory, its addresses read from its log
//! lines, killed when dropped (with a report when the test is failing), and the config it runs.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::{command_line, report, Dir};

/// How long `switchyard serve` may take to report its addresses.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Polls `probe` every 20 ms until it returns `Some`, or gives up after `timeout`.
pub async fn poll<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lines a child wrote to one of its streams so far.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect_lines(from: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let handle = std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            match line {
                Ok(line) => sink.lock().unwrap_or_else(|e| e.into_inner()).push(line),
                Err(_) => break,
            }
        }
    });
    (lines, handle)
}

/// A running `switchyard serve`; killed when dropped. If the test is panicking at that point,
/// the command line, stdout and stderr are printed.
pub struct Serve {
    child: Option<Child>,
    status: Option<ExitStatus>,
    cmdline: String,
    cwd: PathBuf,
    stdout: Lines,
    stderr: Lines,
    /// Set once a failure message already carries the report, so that drop does not repeat it.
    reported: AtomicBool,
    /// Listener name -> bound address, from the "listening on" log lines.
    pub listeners: Vec<(String, SocketAddr)>,
    /// The admin API address, from the "admin API" log line.
    pub admin: SocketAddr,
}

impl Serve {
    /// Runs `switchyard serve --config CONFIG` in `dir` and waits until it has logged every
    /// address it serves on.
    pub async fn start(dir: &Dir, config: &Path) -> Serve {
        Self::start_with(dir, &[OsStr::new("--config"), config.as_os_str()]).await
    }

    /// Runs `switchyard serve ARGS...` in `dir` (for example with no `--config`, to start from
    /// the newest stored version) and waits as [`Serve::start`] does.
    pub async fn start_with(dir: &Dir, args: &[&OsStr]) -> Serve {
        let mut cmd = dir.command(std::iter::once(OsStr::new("serve")).chain(args.iter().copied()));
        let cmdline = command_line(&cmd);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {cmdline}: {e}"));
        let (stdout, _) = collect_lines(child.stdout.take().expect("piped stdout"));
        let (stderr, _) = collect_lines(child.stderr.take().expect("piped stderr"));
        let mut serve = Serve {
            child: Some(child),
            status: None,
            cmdline,
            cwd: dir.path().to_path_buf(),
            stdout,
            stderr,
            reported: AtomicBool::new(false),
            listeners: Vec::new(),
            admin: "0.0.0.0:0".parse().expect("valid"),
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(admin) = serve.logs().iter().find_map(admin_addr) {
                serve.admin = admin;
                break;
            }
            if let Some(status) = serve.try_wait() {
                panic!(
                    "{}",
                    serve.report(&format!(
                        "switchyard serve exited during startup ({status})"
                    ))
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    serve.report(&format!(
                        "switchyard serve did not log its admin address within {STARTUP_TIMEOUT:?}"
                    ))
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        serve.listeners = serve.logs().iter().filter_map(listener_addr).collect();
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("serve is running").id()
    }

    /// The address the named listener is bound to.
    pub fn listener(&self, name: &str) -> SocketAddr {
        match self.listeners.iter().find(|(n, _)| n == name) {
            Some((_, addr)) => *addr,
            None => panic!(
                "{}",
                self.report(&format!(
                    "no \"listening on\" log line for listener {name:?}"
                ))
            ),
        }
    }

    /// Sends `signal` (e.g. "TERM") with the `kill` utility.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(
            status.success(),
            "kill -{signal} {} failed: {status}",
            self.pid()
        );
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.status = Some(status);
                }
            }
        }
        self.status
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                // Let the reader threads pick up the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits up to 5 s for a request through this serve to reach `backend` (and stay there).
    pub async fn wait_in_flight(&self, backend: &switchyard_lab::Backend) {
        let reached = poll(Duration::from_secs(5), || async {
            (backend.control.in_flight() >= 1).then_some(())
        })
        .await;
        self.check(
            reached.is_some(),
            "the slow request should reach the backend within 5s",
        );
    }

    /// Fails unless the process exits with status 0 within `timeout` and its last log line is
    /// "stopped cleanly".
    pub async fn stops_cleanly(&mut self, timeout: Duration) {
        let exited = self.wait_exit(timeout).await;
        self.check(
            exited.is_some_and(|s| s.success()),
            &format!(
                "switchyard serve should exit with status 0 within {timeout:?}, got {exited:?}"
            ),
        );
        let last = self.logs().pop();
        self.check(
            last.is_some_and(|l| l["msg"] == "stopped cleanly"),
            "the last log line should be \"stopped cleanly\"",
        );
    }

    /// stderr so far, one string per line.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// stdout so far, one string per line.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The JSON log lines on stderr so far (lines that are not JSON objects are skipped).
    pub fn logs(&self) -> Vec<Value> {
        self.stderr_lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// Waits up to `timeout` for a log line whose `msg` contains `text`.
    pub async fn wait_for_log(&self, text: &str, timeout: Duration) -> Option<Value> {
        poll(timeout, || async {
            self.logs()
                .into_iter()
                .find(|l| l["msg"].as_str().is_some_and(|m| m.contains(text)))
        })
        .await
    }

    /// The failure report: command, exit status, stdout and stderr. Meant for a panic message:
    /// once it has been built, dropping the guard does not print it again.
    pub fn report(&self, what: &str) -> String {
        self.reported.store(true, Ordering::SeqCst);
        let status = match self.status {
            Some(s) => s.to_string(),
            None => "still running".to_string(),
        };
        report(
            what,
            &self.cmdline,
            &self.cwd,
            &status,
            &self.stdout_lines().join("\n"),
            &self.stderr_lines().join("\n"),
        )
    }

    /// Fails the test with the full report unless `cond` holds.
    pub fn check(&self, cond: bool, what: &str) {
        if !cond {
            panic!("{}", self.report(what));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.status.is_none() {
                let _ = child.kill();
            }
            if let Ok(status) = child.wait() {
                self.status.get_or_insert(status);
            }
        }
        if std::thread::panicking() && !self.reported.load(Ordering::SeqCst) {
            eprintln!(
                "{}",
                self.report("switchyard serve, at the time the test failed")
            );
        }
    }
}

fn listener_addr(line: &Value) -> Option<(String, SocketAddr)> {
    let msg = line["msg"].as_str()?;
    if !msg.starts_with("listening on ") {
        return None;
    }
    let name = line["listener"].as_str()?.to_string();
    let addr = line["addr"].as_str()?.parse().ok()?;
    Some((name, addr))
}

fn admin_addr(line: &Value) -> Option<SocketAddr> {
    let msg = line["msg"].as_str()?;
    if !msg.starts_with("admin API") {
        return None;
    }
    line["addr"].as_str()?.parse().ok()
}

/// A serve config with one listener and one pool, every address on port 0 except the servers.
pub fn serve_config(
    access_log: &str,
    extra_runtime: &str,
    servers: &[(&str, SocketAddr)],
) -> String {
    let mut toml = format!(
        r#"[admin]
bind = "127.0.0.1:0"
access_log = '{access_log}'

[runtime]
workers = 2
{extra_runtime}

[[listeners]]
name = "web"
bind = "127.0.0.1:0"

[[routes]]
path_prefix = "/"
pool = "inventory"

[pools.inventory]
balance = "round_robin"
timeouts = {{ connect = "1s", request = "10s" }}
"#
    );
    for (name, addr) in servers {
        toml.push_str(&format!(
            "\n[[pools.inventory.servers]]\nname = \"{name}\"\naddress = \"{addr}\"\n"
        ));
    }
    toml
}
