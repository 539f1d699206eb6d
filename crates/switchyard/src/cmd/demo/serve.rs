//! The demo's Switchyard: the real binary, run as a child with its own state directory, and
//! the real CLI verbs, printed as an operator would type them.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;

use super::Narrator;

pub struct Switchyard {
    child: Child,
    pub state: PathBuf,
    pub gateway: SocketAddr,
    pub admin: SocketAddr,
}

impl Switchyard {
    /// Starts `switchyard serve`, its log going to `log`, and waits for its addresses.
    pub fn start(config: &Path, state: &Path, log: &Path) -> anyhow::Result<Switchyard> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--config"])
            .arg(config)
            .arg("--state")
            .arg(state)
            // If the demo dies, serve sees its standard input close and stops too.
            .arg("--stop-on-stdin-close")
            .env("SWITCHYARD_AUTHOR", "demo")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("could not start switchyard serve")?;
        let stderr = child.stderr.take().expect("piped");
        let mut file = std::fs::File::create(log)
            .with_context(|| format!("could not create {}", log.display()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    let msg = v["msg"].as_str().unwrap_or_default();
                    let addr = v["addr"]
                        .as_str()
                        .and_then(|a| a.parse::<SocketAddr>().ok());
                    if let Some(addr) = addr {
                        let kind = if msg.starts_with("admin") {
                            "admin"
                        } else {
                            "listener"
                        };
                        let _ = tx.send((kind, addr));
                    }
                }
            }
        });
        let (mut gateway, mut admin) = (None, None);
        while gateway.is_none() || admin.is_none() {
            match rx.recv_timeout(Duration::from_secs(15)) {
                Ok(("admin", a)) => admin = Some(a),
                Ok((_, a)) => gateway = Some(a),
                Err(_) => {
                    let _ = child.kill();
                    anyhow::bail!(
                        "switchyard serve did not come up within 15 s; see {}",
                        log.display()
                    );
                }
            }
        }
        Ok(Switchyard {
            child,
            state: state.to_path_buf(),
            gateway: gateway.expect("set above"),
            admin: admin.expect("set above"),
        })
    }

    /// Runs `switchyard ARGS` against this instance, showing the command and its output.
    pub fn cli(&self, say: &Narrator, author: &str, args: &[&str]) -> anyhow::Result<String> {
        let (ok, out) = self.cli_status(say, author, args)?;
        if !ok {
            anyhow::bail!("switchyard {} failed", quote(args));
        }
        Ok(out)
    }

    /// Like [`cli`](Self::cli), for a command that may fail: whether it succeeded, and its
    /// standard output.
    pub fn cli_status(
        &self,
        say: &Narrator,
        author: &str,
        args: &[&str],
    ) -> anyhow::Result<(bool, String)> {
        say.command(&format!("switchyard {}", quote(args)));
        let out = Command::new(std::env::current_exe()?)
            .args(args)
            .arg("--state")
            .arg(&self.state)
            .env("SWITCHYARD_AUTHOR", author)
            .output()
            .context("could not run the switchyard CLI")?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        say.output(&stdout);
        say.output(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), stdout))
    }

    /// The running config's canonical TOML (`switchyard config show`, not narrated).
    pub fn current_config(&self) -> anyhow::Result<String> {
        let out = Command::new(std::env::current_exe()?)
            .args(["config", "show", "--state"])
            .arg(&self.state)
            .output()
            .context("could not run switchyard config show")?;
        anyhow::ensure!(out.status.success(), "switchyard config show failed");
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Switchyard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Arguments as a shell would need them.
fn quote(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') || a.contains('"') || a.is_empty() {
                format!("{a:?}")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
