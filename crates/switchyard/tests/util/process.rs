//! Running the real `switchyard` binary: a unique temporary directory per test, commands with
//! a timeout, and a failure report that shows the command line, exit status, stdout and stderr.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a one-shot command such as `switchyard check` may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

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
