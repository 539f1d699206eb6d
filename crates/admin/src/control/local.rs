//! What belongs to one instance rather than to the shared history: its name, the addresses it
//! binds when several instances share a host, and where it keeps its snapshot.
//!
//! The history holds one config for every instance; each instance applies its [`Local`]
//! overrides to every version before running it, and never stores them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchyard_config::Config;
use switchyard_store::Version;

/// One instance's own settings.
#[derive(Debug, Clone)]
pub struct Local {
    /// The instance's name (`--instance`, default the host name).
    pub instance: String,
    /// `--admin-bind`: replaces `[admin] bind`.
    pub admin_bind: Option<SocketAddr>,
    /// `--listen NAME=ADDR`: replaces listener NAME's `bind`.
    pub listen: BTreeMap<String, SocketAddr>,
    /// Where the last version this instance ran is kept, to start from when the store is down.
    pub snapshot: Option<PathBuf>,
    /// Where this instance's admin API listens, as other instances list it.
    pub admin_url: String,
    /// When this instance started.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A `--listen` naming a listener the config does not have.
#[derive(Debug, thiserror::Error)]
#[error("--listen {name}=...: the config has no listener {name:?} (it has: {known})")]
pub struct UnknownListener {
    pub name: String,
    pub known: String,
}

impl Default for Local {
    fn default() -> Self {
        Local {
            instance: String::new(),
            admin_bind: None,
            listen: BTreeMap::new(),
            snapshot: None,
            admin_url: String::new(),
            started_at: chrono::Utc::now(),
        }
    }
}

impl Local {
    /// `config` with this instance's binds.
    pub fn apply(&self, mut config: Config) -> Config {
        if let Some(bind) = self.admin_bind {
            config.admin.bind = bind;
        }
        for l in &mut config.listeners {
            if let Some(bind) = self.listen.get(&l.name) {
                l.bind = *bind;
            }
        }
        config
    }

    /// Checks that every `--listen` names a listener of `config`.
    pub fn check(&self, config: &Config) -> Result<(), UnknownListener> {
        for name in self.listen.keys() {
            if !config.listeners.iter().any(|l| &l.name == name) {
                let known: Vec<&str> = config.listeners.iter().map(|l| l.name.as_str()).collect();
                return Err(UnknownListener {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// The last version an instance ran, as kept on its disk.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub store: String,
    pub version: Version,
}

impl Snapshot {
    /// Writes the snapshot whole or not at all (a temporary file renamed into place).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let temp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, path)
    }

    /// The snapshot at `path`, `None` if there is none.
    pub fn read(path: &Path) -> std::io::Result<Option<Snapshot>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
