//! Helpers for running the real `switchyard` binary in a temporary directory.
//!
//! Every command runs in its own temporary directory, so config files can be named by relative
//! paths and error messages can be matched exactly. When a check fails, the command line, its
//! exit status, stdout and stderr are printed, so the failure can be understood from the test
//! output alone. A running `switchyard serve` is wrapped in [`Serve`], which kills the process
//! when dropped, also when the test panics.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a one-shot command such as `switchyard check` may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `switchyard serve` may take to report its addresses.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_switchyard"))
}

/// A unique temporary directory, removed on drop.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix("switchyard-test-")
            .tempdir()
            .expect("creating a temporary directory");
        Dir { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes `contents` to `name` inside the directory and returns the full path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// `switchyard ARGS...`, run in this directory, with an environment that cannot change
    /// what the binary does (no `SWITCHYARD_CONFIG`, default log level).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("SWITCHYARD_CONFIG")
            .env_remove("RUST_LOG");
        cmd
    }
}

/// `program arg arg ...` for messages.
pub fn command_line(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// The failure report: what ran, how it ended, and everything it printed.
pub fn report(
    what: &str,
    cmd: &str,
    cwd: &Path,
    status: &str,
    stdout: &str,
    stderr: &str,
) -> String {
    format!(
        "\n\n==========\n{what}\n\ncommand: {cmd}\ncwd: {}\nstatus: {status}\n\nstdout:\n{stdout}\n\nstderr:\n{stderr}\n==========\n",
        cwd.display()
    )
}

fn output_report(what: &str, cmd: &Command, o: &Output) -> String {
    report(
        what,
        &command_line(cmd),
        cmd.get_current_dir().unwrap_or(Path::new(".")),
        &o.status.to_string(),
        &String::from_utf8_lossy(&o.stdout),
        &String::from_utf8_lossy(&o.stderr),
    )
}

/// Runs `cmd` to completion, killing it if it takes longer than [`COMMAND_TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    run_with_timeout(cmd, COMMAND_TIMEOUT)
}

/// Runs `cmd` to completion, killing it (and failing the test) after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", command_line(cmd)));
    let mut guard = ChildGuard(Some(child));
    let child = guard.0.as_mut().expect("child is set");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => break None,
            Err(e) => panic!("waiting for {}: {e}", command_line(cmd)),
        }
    };
    let status = match status {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let status = child.wait().expect("waiting for a killed child");
            let out = Output {
                status,
                stdout: stdout.join().unwrap_or_default(),
                stderr: stderr.join().unwrap_or_default(),
            };
            guard.0 = None;
            panic!(
                "{}",
                output_report(
                    &format!("command did not exit within {timeout:?}"),
                    cmd,
                    &out
                )
            );
        }
    };
    guard.0 = None;
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        buf
    })
}

/// Kills and reaps a child that is still set when dropped.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `cmd` and fails the test, with a full report, unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let o = run(cmd);
    if !o.status.success() {
        panic!(
            "{}",
            output_report("command failed but was expected to succeed", cmd, &o)
        );
    }
    o
}

/// Runs `cmd` and fails the test, with a full report, unless it exits with status 1.
pub fn run_fails(cmd: &mut Command) -> Output {
    let o = run(cmd);
    if o.status.code() != Some(1) {
        panic!(
            "{}",
            output_report("command was expected to exit with status 1", cmd, &o)
        );
    }
    o
}

/// Checks `cond` about a finished command; on failure, reports the command and its output.
pub fn check(cond: bool, what: &str, cmd: &Command, o: &Output) {
    if !cond {
        panic!("{}", output_report(what, cmd, o));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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

/// An HTTP client that never goes through a proxy from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("building an HTTP client")
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

    /// POST `body` to `path`; returns the status, or the error if no answer came.
    pub async fn post_raw(&self, path: &str, body: &Value) -> Result<u16, reqwest::Error> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        Ok(r.status().as_u16())
    }

    /// POST `body` to `path`; returns the status and the JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// Variables that would point a CLI verb at another state directory, admin API, token or author.
pub const CLI_ENV: [&str; 4] = [
    "SWITCHYARD_STATE",
    "SWITCHYARD_ADMIN",
    "SWITCHYARD_TOKEN",
    "SWITCHYARD_AUTHOR",
];

impl Dir {
    /// [`Dir::command`] without the [`CLI_ENV`] variables, so that a verb finds the admin API
    /// and token only through this directory's `switchyard-state`.
    pub fn cli<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        for var in CLI_ENV {
            cmd.env_remove(var);
        }
        cmd
    }
}

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

/// Arguments from one line: split at whitespace, except inside single quotes
/// (`apply -m 'more capacity'` is three arguments and a message).
pub fn argv(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    for (i, part) in line.split('\'').enumerate() {
        if i % 2 == 1 {
            args.push(part.to_string());
        } else {
            args.extend(part.split_whitespace().map(str::to_string));
        }
    }
    args
}

/// Fails unless every field of `expected` (a JSON object) has that value in `actual`.
pub fn assert_fields(actual: &Value, expected: Value) {
    for (key, want) in expected.as_object().expect("expected fields are an object") {
        assert_eq!(&actual[key], want, "field {key:?} of {actual:#}");
    }
}

/// Whether `program` runs (`program --version`, or `program version` as openssl wants).
pub fn have(program: &str) -> bool {
    ["--version", "version"].iter().any(|arg| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Writes `cert.pem` and `key.pem` for localhost and 127.0.0.1 into `dir` (openssl).
pub fn self_signed_cert(dir: &Dir) {
    let mut openssl = Command::new("openssl");
    openssl
        .current_dir(dir.path())
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "1"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
    run_ok(&mut openssl);
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
