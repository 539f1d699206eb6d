//! What `serve` starts from: the store (a SQLite file in the state directory, or etcd shared by
//! many instances), this instance's own settings, and the version to run first — the store's
//! newest, the `--config` file when it differs, or, when etcd cannot be reached at start, the
//! snapshot of the last version this instance ran.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use switchyard_admin::{Local, Snapshot};
use switchyard_config::Config;
use switchyard_store::{
    EtcdStore, EtcdTarget, NewVersion, SqliteStore, Store, StoreError, Version, VersionKind,
};

use crate::state::StateDir;

/// The snapshot's file name in the state directory.
pub const SNAPSHOT_FILE: &str = "snapshot.json";

/// Where versions live, and what is this instance's own.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// Where versions and events live: etcd://HOST:PORT[,HOST:PORT...]/PREFIX shares one
    /// history between instances (default: SQLite in the state directory).
    #[arg(long, env = "SWITCHYARD_STORE")]
    store: Option<String>,
    /// This instance's name, as `switchyard instances` lists it (default: the host name).
    #[arg(long, env = "SWITCHYARD_INSTANCE")]
    instance: Option<String>,
    /// The admin API's address on this instance, instead of the config's `[admin] bind`.
    #[arg(long, value_name = "ADDR")]
    admin_bind: Option<SocketAddr>,
    /// A listener's address on this instance, instead of the config's (repeatable).
    #[arg(long, value_name = "NAME=ADDR", value_parser = parse_listen)]
    listen: Vec<(String, SocketAddr)>,
}

fn parse_listen(text: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=ADDR, e.g. --listen web=127.0.0.1:8081"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not an address like 127.0.0.1:8081: {e}"))?;
    Ok((name.to_string(), addr))
}

/// The store `serve` runs on, with this instance's settings.
pub struct Start {
    pub store: Arc<dyn Store>,
    pub local: Local,
    pub config: Config,
    pub version: Version,
    /// The version came from the snapshot: the store could not be reached.
    pub from_snapshot: bool,
}

impl StoreArgs {
    pub fn open(
        self,
        state: &StateDir,
        file: Option<(PathBuf, Config)>,
        author: &str,
    ) -> anyhow::Result<Start> {
        let (store, snapshot): (Arc<dyn Store>, _) = match &self.store {
            Some(url) => {
                let target = EtcdTarget::parse(url)?;
                (
                    Arc::new(EtcdStore::connect(target)?),
                    Some(state.path.join(SNAPSHOT_FILE)),
                )
            }
            None => (Arc::new(SqliteStore::open(&state.path)?), None),
        };
        let local = Local {
            instance: self.instance.unwrap_or_else(hostname),
            admin_bind: self.admin_bind,
            listen: self.listen.into_iter().collect::<BTreeMap<_, _>>(),
            snapshot,
            ..Local::default()
        };
        let place = match &self.store {
            Some(_) => format!("the store {}", store.describe()),
            None => format!("the state directory {}", state.path.display()),
        };
        let (version, from_snapshot) = match starting_version(store.as_ref(), &place, file, author)
        {
            Ok(version) => (version, false),
            Err(StartError::Store(e @ StoreError::Unavailable { .. })) => {
                let Some(path) = &local.snapshot else {
                    return Err(e.into());
                };
                let snapshot = Snapshot::read(path)
                    .with_context(|| format!("could not read the snapshot {}", path.display()))?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{e}; and there is no snapshot {} to start from (one is written once this instance has run a version): start etcd, then serve again",
                            path.display()
                        )
                    })?;
                tracing::warn!(
                    version = snapshot.version.version,
                    "{e}; serving the snapshot of v{} from {} until the store is back",
                    snapshot.version.version,
                    path.display()
                );
                (snapshot.version, true)
            }
            Err(StartError::Store(e)) => return Err(e.into()),
            Err(StartError::Other(e)) => return Err(e),
        };
        let text = version.config.as_deref().unwrap_or_default();
        let config = Config::parse(text, &format!("v{}", version.version))
            .map_err(|e| anyhow::anyhow!("stored v{} does not parse:\n{e}", version.version))?;
        local.check(&config)?;
        Ok(Start {
            config: local.apply(config),
            store,
            local,
            version,
            from_snapshot,
        })
    }
}

enum StartError {
    Store(StoreError),
    Other(anyhow::Error),
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::Store(e)
    }
}

/// The newest stored version, after storing `file` as a new version when it differs.
fn starting_version(
    store: &dyn Store,
    place: &str,
    file: Option<(PathBuf, Config)>,
    author: &str,
) -> Result<Version, StartError> {
    loop {
        let head = store.head()?;
        let (path, config) = match (head, &file) {
            (None, None) => {
                return Err(StartError::Other(anyhow::anyhow!(
                    "no config: pass --config FILE or set SWITCHYARD_CONFIG ({place} has no versions yet)"
                )))
            }
            (Some(head), None) => return Ok(head),
            (Some(head), Some((_, config)))
                if head.digest == switchyard_store::digest(&config.to_toml()) =>
            {
                return Ok(head)
            }
            (_, Some((path, config))) => (path, config),
        };
        let parent = store.head()?.map(|h| h.version);
        let message = match parent {
            None => format!("initial config from {}", path.display()),
            Some(_) => format!("serve --config {}", path.display()),
        };
        let new = NewVersion {
            author: author.to_string(),
            kind: VersionKind::Apply,
            message,
            config: config.to_toml(),
            details: serde_json::json!({ "file": path.display().to_string() }),
        };
        match store.commit(new, parent) {
            Ok(version) => {
                tracing::info!(
                    version = version.version,
                    "config {} stored as v{}",
                    path.display(),
                    version.version
                );
                return Ok(version);
            }
            // Another instance started with a config at the same moment: look again.
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The host's name, or `switchyard` if it has none.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "switchyard".to_string())
}
