//! What changed between two checked configs, phrased for an operator.
//!
//! [`diff`] walks admin, runtime, listeners, routes and pools and lists each difference in a fixed
//! order, e.g. `pool inventory: + server inventory-4 192.168.1.45:8080`. Settings are compared
//! through their serialized form as flattened key paths (`timeouts.request 10s -> 2s`), so a field
//! added to the model shows up here without this module naming it. [`text_diff`] is the unified
//! diff of the canonical TOML, for when the exact text matters.
//!
//! Each [`Change`] carries a [`ChangeKind`] beside its text: code that needs to know what
//! changed (the guard, the admin API) branches on the kind, never on the words.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use similar::TextDiff;
use toml::Value;

use crate::model::{Config, ListenerConfig, PoolConfig, RouteConfig, ServerConfig, ServerState};

/// What kind of difference a [`Change`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ChangeKind {
    ListenerAdded,
    ListenerRemoved,
    RouteAdded,
    RouteRemoved,
    PoolAdded,
    PoolRemoved,
    ServerAdded,
    ServerRemoved,
    /// An operator took a server out of rotation or put it back.
    StateChanged {
        from: ServerState,
        to: ServerState,
    },
    /// A setting, by its dotted key path (`timeouts.request`) within the scope, or within the
    /// server when the change names one.
    Setting {
        path: String,
    },
}

/// One difference between two configs, phrased for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What the change is in: "pool inventory", "route 2", "listener web", "admin", "runtime";
    /// "pools", "routes" or "listeners" for one that is added or removed as a whole.
    pub scope: String,
    /// The change without its scope: "+ server inventory-4 192.168.1.45:8080",
    /// "timeouts.request 10s -> 2s".
    pub change: String,
    /// What the change is, for code that acts on it.
    pub kind: ChangeKind,
    /// The pool the change touches, when it touches one.
    pub pool: Option<String>,
    /// The server the change touches, when it touches one.
    pub server: Option<String>,
}

impl Change {
    fn new(scope: impl Into<String>, kind: ChangeKind, change: impl Into<String>) -> Change {
        Change {
            scope: scope.into(),
            change: change.into(),
            kind,
            pool: None,
            server: None,
        }
    }

    fn in_pool(mut self, pool: &str) -> Change {
        self.pool = Some(pool.to_string());
        self
    }

    fn on_server(mut self, server: &str) -> Change {
        self.server = Some(server.to_string());
        self
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.scope, self.change)
    }
}

/// Sections compared key by key, in this order, before any other plain section.
const SETTINGS_SECTIONS: [&str; 2] = ["admin", "runtime"];
/// Sections whose items are matched by name or position.
const ITEM_SECTIONS: [&str; 3] = ["listeners", "routes", "pools"];

/// Every difference between `old` and `new`: admin, runtime, listeners (by name), routes (by
/// position), then pools by name, each pool's settings before its servers. Identical configs
/// give an empty list.
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let mut out = Vec::new();
    sections(old, new, &mut out);
    listeners(&old.listeners, &new.listeners, &mut out);
    let several_listeners = old.listeners.len() > 1 || new.listeners.len() > 1;
    routes(&old.routes, &new.routes, several_listeners, &mut out);
    pools(old, new, &mut out);
    out
}

/// Unified diff (3 lines of context) of the two configs' canonical TOML, under `---`/`+++`
/// headers named by the labels. Identical configs give an empty string.
pub fn text_diff(old: &Config, new: &Config, old_label: &str, new_label: &str) -> String {
    let (old, new) = (old.to_toml(), new.to_toml());
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

/// Admin, runtime and any top-level section other than listeners, routes and pools.
fn sections(old: &Config, new: &Config, out: &mut Vec<Change>) {
    let (old, new) = (table_of(old), table_of(new));
    let others: BTreeSet<&str> = old
        .keys()
        .chain(new.keys())
        .map(String::as_str)
        .filter(|k| !SETTINGS_SECTIONS.contains(k) && !ITEM_SECTIONS.contains(k))
        .collect();
    for name in SETTINGS_SECTIONS.into_iter().chain(others) {
        for (path, line) in value_changes(old.get(name), new.get(name)) {
            out.push(Change::new(name, ChangeKind::Setting { path }, line));
        }
    }
}

fn listeners(old: &[ListenerConfig], new: &[ListenerConfig], out: &mut Vec<Change>) {
    for listener in new {
        match old.iter().find(|o| o.name == listener.name) {
            None => out.push(Change::new(
                "listeners",
                ChangeKind::ListenerAdded,
                format!("+ listener {} {}", listener.name, listener.bind),
            )),
            Some(before) => {
                let scope = format!("listener {}", listener.name);
                for (path, line) in settings_changes(before, listener, &["name"]) {
                    out.push(Change::new(&scope, ChangeKind::Setting { path }, line));
                }
            }
        }
    }
    for listener in old.iter().filter(|o| !new.iter().any(|n| n.name == o.name)) {
        out.push(Change::new(
            "listeners",
            ChangeKind::ListenerRemoved,
            format!("- listener {} {}", listener.name, listener.bind),
        ));
    }
}

/// Routes are compared by position (first match wins, so position is meaning); numbered from 1.
fn routes(old: &[RouteConfig], new: &[RouteConfig], listener: bool, out: &mut Vec<Change>) {
    for i in 0..old.len().max(new.len()) {
        let number = i + 1;
        match (old.get(i), new.get(i)) {
            (Some(before), Some(after)) => {
                let scope = format!("route {number}");
                for (path, line) in settings_changes(before, after, &[]) {
                    let kind = ChangeKind::Setting { path };
                    out.push(Change::new(&scope, kind, line).in_pool(&after.pool));
                }
            }
            (None, Some(after)) => out.push(
                Change::new(
                    "routes",
                    ChangeKind::RouteAdded,
                    format!("+ route {number}: {}", describe_route(after, listener)),
                )
                .in_pool(&after.pool),
            ),
            (Some(before), None) => out.push(
                Change::new(
                    "routes",
                    ChangeKind::RouteRemoved,
                    format!("- route {number}: {}", describe_route(before, listener)),
                )
                .in_pool(&before.pool),
            ),
            (None, None) => {}
        }
    }
}

/// `host=shop.example path=/api -> pool inventory`; the listener only when there are several.
fn describe_route(route: &RouteConfig, listener: bool) -> String {
    let mut parts = Vec::new();
    if listener {
        parts.push(format!("listener={}", route.listener));
    }
    if let Some(host) = &route.host {
        parts.push(format!("host={host}"));
    }
    if let Some(path) = &route.path_prefix {
        parts.push(format!("path={path}"));
    }
    if parts.is_empty() {
        parts.push("any request".to_string());
    }
    format!("{} -> pool {}", parts.join(" "), route.pool)
}

fn pools(old: &Config, new: &Config, out: &mut Vec<Change>) {
    let names: BTreeSet<&String> = old.pools.keys().chain(new.pools.keys()).collect();
    for name in names {
        match (old.pools.get(name), new.pools.get(name)) {
            (Some(before), Some(after)) => pool_changes(name, before, after, out),
            (None, Some(after)) => out.push(
                Change::new(
                    "pools",
                    ChangeKind::PoolAdded,
                    format!("+ pool {name} ({})", describe_servers(&after.servers)),
                )
                .in_pool(name),
            ),
            (Some(_), None) => {
                let change =
                    Change::new("pools", ChangeKind::PoolRemoved, format!("- pool {name}"));
                out.push(change.in_pool(name))
            }
            (None, None) => {}
        }
    }
}

/// Pool settings first, then servers (matched by name) in the new order, then removed servers.
fn pool_changes(name: &str, old: &PoolConfig, new: &PoolConfig, out: &mut Vec<Change>) {
    let scope = format!("pool {name}");
    for (path, line) in settings_changes(old, new, &["servers"]) {
        out.push(Change::new(&scope, ChangeKind::Setting { path }, line).in_pool(name));
    }
    let on_server = |kind, line, server: &ServerConfig| {
        Change::new(&scope, kind, line)
            .in_pool(name)
            .on_server(&server.name)
    };
    for server in &new.servers {
        let Some(before) = old.server(&server.name) else {
            let line = format!("+ server {}", describe_server(server));
            out.push(on_server(ChangeKind::ServerAdded, line, server));
            continue;
        };
        for (path, line) in settings_changes(before, server, &["name"]) {
            let kind = if path == "state" {
                ChangeKind::StateChanged {
                    from: before.state,
                    to: server.state,
                }
            } else {
                ChangeKind::Setting { path }
            };
            let line = format!("server {}: {line}", server.name);
            out.push(on_server(kind, line, server));
        }
    }
    for server in old.servers.iter().filter(|s| new.server(&s.name).is_none()) {
        let line = format!("- server {}", describe_server(server));
        out.push(on_server(ChangeKind::ServerRemoved, line, server));
    }
}

/// `2 servers: billing-1 127.0.0.1:9301, billing-2 127.0.0.1:9302`.
fn describe_servers(servers: &[ServerConfig]) -> String {
    let list: Vec<String> = servers.iter().map(describe_server).collect();
    match list.len() {
        0 => "no servers".to_string(),
        1 => format!("1 server: {}", list[0]),
        n => format!("{n} servers: {}", list.join(", ")),
    }
}

/// `inventory-4 192.168.1.45:8080`, with ` weight 3` when the weight is not 1.
fn describe_server(server: &ServerConfig) -> String {
    let mut text = format!("{} {}", server.name, server.address);
    if server.weight != 1 {
        text.push_str(&format!(" weight {}", server.weight));
    }
    text
}

/// `(KEY, "KEY OLD -> NEW")` for every flattened key path that differs between the serialized
/// forms of `old` and `new`, leaving out the top-level keys in `skip`.
fn settings_changes<T: Serialize>(old: &T, new: &T, skip: &[&str]) -> Vec<(String, String)> {
    let strip = |mut value: Value| {
        if let Value::Table(table) = &mut value {
            for key in skip {
                table.remove(*key);
            }
        }
        value
    };
    let (old, new) = (strip(to_value(old)), strip(to_value(new)));
    value_changes(Some(&old), Some(&new))
}

/// `(KEY, "KEY OLD -> NEW")` for every flattened key path that differs; a key present on one
/// side only shows `(unset)` on the other.
fn value_changes(old: Option<&Value>, new: Option<&Value>) -> Vec<(String, String)> {
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    if let Some(old) = old {
        flatten(old, "", &mut before);
    }
    if let Some(new) = new {
        flatten(new, "", &mut after);
    }
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (b, a) = (before.get(key), after.get(key));
            if b == a {
                return None;
            }
            let unset = "(unset)".to_string();
            let (b, a) = (b.unwrap_or(&unset), a.unwrap_or(&unset));
            let line = if key.is_empty() {
                format!("{b} -> {a}")
            } else {
                format!("{key} {b} -> {a}")
            };
            Some((key.clone(), line))
        })
        .collect()
}

/// Tables become dotted key paths (`timeouts.request`); every other value is rendered as text.
fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Table(table) => {
            for (key, value) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(value, &path, out);
            }
        }
        Value::String(text) => {
            out.insert(prefix.to_string(), text.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn to_value<T: Serialize>(part: &T) -> Value {
    Value::try_from(part).expect("a checked config always serializes")
}

fn table_of(config: &Config) -> toml::Table {
    match to_value(config) {
        Value::Table(table) => table,
        _ => unreachable!("a config serializes to a table"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum State {
        Active,
        Removed,
    }

    #[derive(Serialize)]
    struct Item {
        name: &'static str,
        state: State,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        nested: Nested,
    }

    #[derive(Serialize)]
    struct Nested {
        request: &'static str,
        ports: Vec<u16>,
    }

    fn item(state: State, limit: Option<u32>, request: &'static str) -> Item {
        Item {
            name: "a",
            state,
            limit,
            nested: Nested {
                request,
                ports: vec![80],
            },
        }
    }

    fn lines<T: Serialize>(old: &T, new: &T, skip: &[&str]) -> Vec<String> {
        let changes = settings_changes(old, new, skip);
        changes.into_iter().map(|(_, line)| line).collect()
    }

    #[test]
    fn any_serialized_field_is_compared() {
        let old = item(State::Active, None, "10s");
        let new = item(State::Removed, Some(5), "2s");
        assert_eq!(
            lines(&old, &new, &["name"]),
            [
                "limit (unset) -> 5",
                "nested.request 10s -> 2s",
                "state active -> removed",
            ]
        );
        assert_eq!(
            lines(&new, &old, &[]),
            [
                "limit 5 -> (unset)",
                "nested.request 2s -> 10s",
                "state removed -> active",
            ]
        );
        assert!(lines(&old, &old, &[]).is_empty());
    }

    #[test]
    fn arrays_are_rendered_whole() {
        let old = item(State::Active, None, "1s");
        let mut new = item(State::Active, None, "1s");
        new.nested.ports.push(443);
        assert_eq!(lines(&old, &new, &[]), ["nested.ports [80] -> [80, 443]"]);
    }
}
