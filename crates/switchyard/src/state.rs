//! The state directory: the version store, the admin token and where the admin API listens.
//!
//! `DIR/switchyard.db` holds versions and events, `DIR/admin.token` (mode 0600) the bearer
//! token made at first start, and `DIR/admin.url` the admin API's address, written by `serve`
//! so that CLI verbs run in the same directory find it without flags.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Default state directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "./switchyard-state";
const TOKEN_FILE: &str = "admin.token";
const URL_FILE: &str = "admin.url";

pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    /// Opens `path`, creating it if needed.
    pub fn create(path: &Path) -> anyhow::Result<StateDir> {
        std::fs::create_dir_all(path).with_context(|| {
            format!(
                "could not create the state directory {}: pass --state DIR with a writable directory",
                path.display()
            )
        })?;
        Ok(StateDir {
            path: path.to_path_buf(),
        })
    }

    /// An existing directory, for clients.
    pub fn existing(path: &Path) -> StateDir {
        StateDir {
            path: path.to_path_buf(),
        }
    }

    /// The admin token, made (random, 256 bits, mode 0600) if there is none yet.
    pub fn token_or_create(&self) -> anyhow::Result<String> {
        if let Some(token) = self.token()? {
            return Ok(token);
        }
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let path = self.path.join(TOKEN_FILE);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        writeln!(file, "{token}").with_context(|| format!("could not write {}", path.display()))?;
        Ok(token)
    }

    /// The admin token, if the directory has one.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        read_trimmed(&self.path.join(TOKEN_FILE))
    }

    pub fn write_admin_url(&self, url: &str) -> anyhow::Result<()> {
        let path = self.path.join(URL_FILE);
        std::fs::write(&path, format!("{url}\n"))
            .with_context(|| format!("could not write {}", path.display()))
    }

    pub fn admin_url(&self) -> anyhow::Result<Option<String>> {
        read_trimmed(&self.path.join(URL_FILE))
    }
}

fn read_trimmed(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Who is making a change: `--author`, else `SWITCHYARD_AUTHOR`, else the OS user.
pub fn author(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("SWITCHYARD_AUTHOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}
