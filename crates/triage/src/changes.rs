//! Changes that may explain an incident: change files (JSON lines with `ts`, `summary`, and
//! optional `kind`, `author`, `target`; or plain `TIMESTAMP free text` lines such as
//! `git log --date=iso-strict --pretty='%ad %h %an: %s'`) and Switchyard's own versions.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One change on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub ts: DateTime<Utc>,
    /// Where it came from: the change file's name, or `switchyard`.
    pub source: String,
    pub summary: String,
    pub kind: Option<String>,
    pub author: Option<String>,
    pub target: Option<String>,
    /// For Switchyard versions: the version number (the one before it is the rollback target).
    pub version: Option<u64>,
    /// For a rollback: the version it went back to (so every version after that is undone).
    pub rollback_to: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("could not read the change file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a change file; lines that carry no time are counted in the second value.
pub fn read_file(path: &Path) -> Result<(Vec<Change>, u64), ChangeError> {
    let text = std::fs::read(path).map_err(|source| ChangeError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let text = String::from_utf8_lossy(&text);
    let source = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(parse(&text, &source))
}

/// Parses change lines; returns the changes and how many lines were skipped.
pub fn parse(text: &str, source: &str) -> (Vec<Change>, u64) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_line(line, source) {
            Some(c) => out.push(c),
            None => skipped += 1,
        }
    }
    out.sort_by_key(|c| c.ts);
    (out, skipped)
}

fn parse_line(line: &str, source: &str) -> Option<Change> {
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let ts = v
            .get("ts")
            .or_else(|| v.get("time"))
            .or_else(|| v.get("timestamp"))
            .and_then(|t| t.as_str())
            .and_then(parse_time)?;
        return Some(Change {
            ts,
            source: source.to_string(),
            summary: text("summary").or_else(|| text("message"))?,
            kind: text("kind"),
            author: text("author"),
            target: text("target"),
            version: v
                .get("version")
                .and_then(|n| n.as_u64())
                .or_else(|| text("summary").and_then(|s| switchyard_version(&s))),
            rollback_to: v.get("rollback_to").and_then(|n| n.as_u64()),
        });
    }
    // `TIMESTAMP rest`: the timestamp is the first one or two words.
    let mut words = line.splitn(3, ' ');
    let first = words.next()?;
    let second = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("");
    let (ts, summary) = match parse_time(first) {
        Some(ts) => (ts, line[first.len()..].trim()),
        None => (parse_time(&format!("{first} {second}"))?, rest.trim()),
    };
    Some(Change {
        ts,
        source: source.to_string(),
        summary: summary.to_string(),
        kind: None,
        author: None,
        target: None,
        version: switchyard_version(summary),
        rollback_to: None,
    })
}

/// `12` from a summary that names a Switchyard version: `switchyard v12: ...`.
fn switchyard_version(summary: &str) -> Option<u64> {
    let rest = &summary[summary.find("switchyard v")? + "switchyard v".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS` (UTC), with or without a zone.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Switchyard's own versions, from its event log: each version event becomes a change whose
/// summary lists what the version changed (so a version that added `inventory-4` names it).
pub fn from_events(events: &[switchyard_store::Event]) -> Vec<Change> {
    events
        .iter()
        .filter(|e| e.kind == switchyard_store::EventKind::Version)
        .map(|e| {
            let d = &e.details;
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            let changes: Vec<&str> = d["changes"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            let version = d["version"].as_u64();
            let mut summary = format!(
                "v{} {} by {}: {}",
                version.unwrap_or(0),
                text("kind"),
                text("author"),
                text("message")
            );
            if !changes.is_empty() {
                summary.push_str(&format!(" ({})", changes.join("; ")));
            }
            Change {
                ts: e.ts,
                source: "switchyard".into(),
                summary,
                kind: Some(text("kind")),
                author: Some(text("author")),
                target: e.pool.as_ref().map(|p| format!("pool {p}")),
                version,
                rollback_to: d["rollback_to"].as_u64(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_plain_lines() {
        let text = r#"
{"ts": "2025-11-13T10:20:00Z", "summary": "pool inventory: + server inventory-4", "kind": "config", "author": "ops", "target": "pool inventory"}
2025-11-13T08:00:00+01:00 a1b2c3d alice: deploy billing 2.3.5
2025-11-13 09:30:00 DNS TTL lowered to 60s
not a change
"#;
        let (changes, skipped) = parse(text, "changes.jsonl");
        assert_eq!(skipped, 1);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].summary, "a1b2c3d alice: deploy billing 2.3.5");
        assert_eq!(changes[0].ts.to_rfc3339(), "2025-11-13T07:00:00+00:00");
        assert_eq!(changes[1].summary, "DNS TTL lowered to 60s");
        assert_eq!(changes[2].target.as_deref(), Some("pool inventory"));
    }
}
