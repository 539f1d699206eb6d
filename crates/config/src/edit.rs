//! Changes an operator makes to servers without writing a whole config: add a server, take
//! one out of rotation, put it back, change its weight, or several of these at once
//! ([`ServerEdit`], as a rollout's step makes them). Each returns a new checked config
//! (revalidated in full, so a duplicate name or address is refused exactly as in a file) and
//! never touches the original.

use std::net::SocketAddr;

use crate::model::{Config, ServerConfig, ServerState};
use crate::ConfigErrors;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("pool {pool:?} does not exist; pools are: {known}")]
    UnknownPool { pool: String, known: String },
    #[error("pool {pool:?} has no server {server:?}; its servers are: {known}")]
    UnknownServer {
        pool: String,
        server: String,
        known: String,
    },
    #[error("server {server:?} in pool {pool:?} is already {state}")]
    Unchanged {
        pool: String,
        server: String,
        state: &'static str,
    },
    #[error("the change would make an invalid config ({} problem{})", .0.0.len(), if .0.0.len() == 1 { "" } else { "s" })]
    Invalid(#[source] ConfigErrors),
}

/// One change to one server of a pool, for [`Config::with_edits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEdit {
    Add {
        name: String,
        address: SocketAddr,
        weight: u32,
    },
    State {
        name: String,
        state: ServerState,
    },
    Weight {
        name: String,
        weight: u32,
    },
}

impl Config {
    /// A copy with every edit made to `pool`, in order, checked once at the end.
    pub fn with_edits(&self, pool: &str, edits: &[ServerEdit]) -> Result<Config, EditError> {
        let mut next = self.clone();
        let p = pool_mut(&mut next, pool)?;
        for edit in edits {
            match edit {
                ServerEdit::Add {
                    name,
                    address,
                    weight,
                } => p.servers.push(ServerConfig {
                    name: name.clone(),
                    address: *address,
                    weight: *weight,
                    max_connections: None,
                    state: ServerState::Active,
                }),
                ServerEdit::State { name, state } => {
                    let s = server_mut(p, pool, name)?;
                    if s.state == *state {
                        return Err(EditError::Unchanged {
                            pool: pool.to_string(),
                            server: name.clone(),
                            state: state.as_str(),
                        });
                    }
                    s.state = *state;
                }
                ServerEdit::Weight { name, weight } => server_mut(p, pool, name)?.weight = *weight,
            }
        }
        recheck(&next)
    }

    /// A copy with `server` appended to `pool`.
    pub fn with_server_added(
        &self,
        pool: &str,
        name: &str,
        address: SocketAddr,
        weight: u32,
    ) -> Result<Config, EditError> {
        let add = ServerEdit::Add {
            name: name.to_string(),
            address,
            weight,
        };
        self.with_edits(pool, &[add])
    }

    /// A copy in which `server` of `pool` has `state`.
    pub fn with_server_state(
        &self,
        pool: &str,
        server: &str,
        state: ServerState,
    ) -> Result<Config, EditError> {
        let edit = ServerEdit::State {
            name: server.to_string(),
            state,
        };
        self.with_edits(pool, &[edit])
    }
}

fn server_mut<'a>(
    p: &'a mut crate::PoolConfig,
    pool: &str,
    server: &str,
) -> Result<&'a mut ServerConfig, EditError> {
    let known = names(p.servers.iter().map(|s| s.name.as_str()));
    p.servers
        .iter_mut()
        .find(|s| s.name == server)
        .ok_or_else(|| EditError::UnknownServer {
            pool: pool.to_string(),
            server: server.to_string(),
            known,
        })
}

fn pool_mut<'a>(
    config: &'a mut Config,
    pool: &str,
) -> Result<&'a mut crate::PoolConfig, EditError> {
    let known = names(config.pools.keys().map(String::as_str));
    config
        .pools
        .get_mut(pool)
        .ok_or_else(|| EditError::UnknownPool {
            pool: pool.to_string(),
            known,
        })
}

/// The file name in errors about a config made by an edit: there is no file to point at.
pub const EDITED: &str = "(edited config)";

fn recheck(config: &Config) -> Result<Config, EditError> {
    Config::parse(&config.to_toml(), EDITED).map_err(EditError::Invalid)
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = items.map(|s| format!("{s:?}")).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n[[routes]]\npool = \"inv\"\n[[pools.inv.servers]]\nname = \"inv-1\"\naddress = \"127.0.0.1:9101\"\n";

    #[test]
    fn add_remove_restore() {
        let c = Config::parse(BASE, "t").unwrap();
        let added = c
            .with_server_added("inv", "inv-2", "127.0.0.1:9102".parse().unwrap(), 2)
            .unwrap();
        assert_eq!(added.pools["inv"].servers[1].weight, 2);
        let removed = added
            .with_server_state("inv", "inv-1", ServerState::Removed)
            .unwrap();
        assert_eq!(removed.pools["inv"].servers[0].state, ServerState::Removed);
        assert!(matches!(
            removed.with_server_state("inv", "inv-1", ServerState::Removed),
            Err(EditError::Unchanged { .. })
        ));
        let restored = removed
            .with_server_state("inv", "inv-1", ServerState::Active)
            .unwrap();
        assert_eq!(restored, added);
        assert_eq!(c.pools["inv"].servers.len(), 1, "the original is untouched");
    }

    #[test]
    fn several_edits_make_one_config() {
        let c = Config::parse(BASE, "t").unwrap();
        let edits = [
            ServerEdit::Add {
                name: "inv-2".into(),
                address: "127.0.0.1:9102".parse().unwrap(),
                weight: 1,
            },
            ServerEdit::Weight {
                name: "inv-1".into(),
                weight: 9,
            },
            ServerEdit::State {
                name: "inv-2".into(),
                state: ServerState::Removed,
            },
        ];
        let next = c.with_edits("inv", &edits).unwrap();
        let servers = &next.pools["inv"].servers;
        assert_eq!(
            (servers[0].weight, servers[1].state),
            (9, ServerState::Removed)
        );
        let unknown = ServerEdit::Weight {
            name: "inv-9".into(),
            weight: 2,
        };
        assert!(matches!(
            c.with_edits("inv", &[unknown]),
            Err(EditError::UnknownServer { .. })
        ));
    }

    #[test]
    fn refusals_name_what_exists() {
        let c = Config::parse(BASE, "t").unwrap();
        let e = c
            .with_server_added("inv", "inv-1", "127.0.0.1:9109".parse().unwrap(), 1)
            .unwrap_err();
        let EditError::Invalid(problems) = &e else {
            panic!("{e}")
        };
        assert!(
            problems.to_string().contains("two servers named \"inv-1\""),
            "{e}"
        );
        let e = c
            .with_server_added("nope", "x", "127.0.0.1:1".parse().unwrap(), 1)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pool \"nope\" does not exist; pools are: \"inv\""
        );
        let e = c
            .with_server_state("inv", "x", ServerState::Removed)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pool \"inv\" has no server \"x\"; its servers are: \"inv-1\""
        );
    }
}
