//! Which changes line up with the onset. A suspect is a change in the hours before the onset
//! (never one after it): closer is likelier, a change that names where the errors concentrate
//! is much likelier, and a change that a later change reverted before the onset is much less
//! likely. Each suspect says why, in words.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::concentration::Concentration;
use crate::changes::Change;

/// How far before the onset a change may be a suspect.
const LOOKBACK_MS: i64 = 6 * 3600 * 1000;
/// Closeness halves about every 20 minutes (e^-t/30min).
const CLOSENESS_MS: f64 = 30.0 * 60.0 * 1000.0;
/// What is left of the score of a change that was reverted before the onset.
const REVERTED: f64 = 0.2;

#[derive(Debug, Clone, Serialize)]
pub struct Suspect {
    pub ts: DateTime<Utc>,
    pub source: String,
    pub summary: String,
    pub score: f64,
    pub why: String,
    pub version: Option<u64>,
    /// The change that undid this one before the onset, if any.
    pub reverted_by: Option<String>,
}

/// Changes in the hours before `onset_ms` (up to the end of the onset bucket), best first.
pub fn suspects(
    changes: &[Change],
    onset_ms: Option<i64>,
    bucket_ms: i64,
    concentration: &[Concentration],
) -> Vec<Suspect> {
    let Some(onset) = onset_ms else {
        return Vec::new();
    };
    let top: Vec<&Concentration> = concentration
        .iter()
        .filter(|c| c.significant)
        .take(3)
        .collect();
    let in_window = |c: &&Change| {
        let t = c.ts.timestamp_millis();
        t <= onset + bucket_ms && t >= onset - LOOKBACK_MS
    };
    let mut out: Vec<Suspect> = changes
        .iter()
        .filter(in_window)
        .map(|c| {
            let before = onset - c.ts.timestamp_millis();
            let closeness = (-(before.max(0) as f64) / CLOSENESS_MS).exp();
            let text = format!(
                "{} {} {}",
                c.summary,
                c.target.as_deref().unwrap_or(""),
                c.kind.as_deref().unwrap_or("")
            );
            let named = top
                .iter()
                .find_map(|k| mentions(&text, &k.key).then_some((1.0, k.key.clone(), *k)))
                .or_else(|| {
                    top.iter().find_map(|k| {
                        let pool = k.pool.as_deref()?;
                        mentions(&text, pool).then(|| (0.5, format!("pool {pool}"), *k))
                    })
                });
            let mention = named.as_ref().map_or(0.0, |n| n.0);
            let reverter = changes
                .iter()
                .filter(|later| later.ts > c.ts && later.ts.timestamp_millis() < onset)
                .find(|later| reverts(later, c));
            let mut score = 0.4 * closeness + 0.6 * mention;
            let when = if before >= 0 {
                format!("{} before the onset", human(before))
            } else {
                format!("{} after the onset began, within its first bucket", human(-before))
            };
            let mut why = match &named {
                Some((_, n, k)) => format!(
                    "{when}; it names {n}, where {:.0}% of the errors are ({} errors, {:.1} expected)",
                    k.share_of_errors * 100.0,
                    k.errors,
                    k.expected
                ),
                None if top.is_empty() => {
                    format!("{when}; the errors concentrate nowhere it could name")
                }
                None => format!("{when}; it names none of the places the errors concentrate"),
            };
            if let Some(r) = reverter {
                score *= REVERTED;
                why.push_str(&format!(
                    "; but {} undid it {} before the onset",
                    short(r),
                    human(onset - r.ts.timestamp_millis())
                ));
            }
            Suspect {
                ts: c.ts,
                source: c.source.clone(),
                summary: c.summary.clone(),
                score: (score * 1000.0).round() / 1000.0,
                why,
                version: c.version,
                reverted_by: reverter.map(|r| r.summary.clone()),
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.ts.cmp(&a.ts)));
    out
}

/// Whether `later` undoes `change`: a Switchyard rollback to a version before it, or a change
/// that says it reverts (`revert`, `roll back`, `undo`) and names it by version or summary.
pub fn reverts(later: &Change, change: &Change) -> bool {
    if let (Some(to), Some(v), Some(lv)) = (later.rollback_to, change.version, later.version) {
        return to < v && v < lv;
    }
    let text = later.summary.to_ascii_lowercase();
    let says = ["revert", "roll back", "rollback", "rolled back", "undo"]
        .iter()
        .any(|w| text.contains(w));
    if !says {
        return false;
    }
    let by_version = change
        .version
        .is_some_and(|v| mentions(&text, &format!("v{v}")));
    let summary = change.summary.to_ascii_lowercase();
    by_version || (summary.len() >= 8 && text.contains(&summary))
}

/// `v5 rollback` or the first words of a change, for the why.
fn short(c: &Change) -> String {
    let s: String = c.summary.chars().take(60).collect();
    if s.len() < c.summary.len() {
        format!("\"{s}…\"")
    } else {
        format!("\"{s}\"")
    }
}

/// Whether `text` names `key` as a whole word (so `inventory-4` is not found in `inventory-42`).
pub fn mentions(text: &str, key: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(key).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + key.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

pub fn human(ms: i64) -> String {
    let s = ms / 1000;
    if s < 90 {
        format!("{s}s")
    } else if s < 5400 {
        format!("{}m", s / 60)
    } else {
        format!("{:.1}h", s as f64 / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(minute: u32, summary: &str) -> Change {
        Change {
            ts: chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 11, 13, 10, minute, 0).unwrap(),
            source: "changes.jsonl".into(),
            summary: summary.into(),
            kind: None,
            author: None,
            target: None,
            version: None,
            rollback_to: None,
        }
    }

    #[test]
    fn mentions_whole_names_only() {
        assert!(mentions(
            "pool inventory: + server inventory-4 10.0.0.1:80",
            "inventory-4"
        ));
        assert!(!mentions("+ server inventory-42", "inventory-4"));
        assert!(mentions("pool inventory: + server", "inventory"));
        assert!(!mentions("inventory-4 only", "inventory"));
    }

    #[test]
    fn reverted_changes_rank_down_and_later_ones_are_never_suspects() {
        let onset = change(30, "").ts.timestamp_millis();
        let changes = vec![
            change(20, "deploy search 1.4"),
            change(22, "Revert \"deploy search 1.4\""),
            change(25, "raise cache size"),
            change(45, "deploy billing 2.0"),
        ];
        let s = suspects(&changes, Some(onset), 60_000, &[]);
        let names: Vec<&str> = s.iter().map(|s| s.summary.as_str()).collect();
        assert!(!names.contains(&"deploy billing 2.0"), "{names:?}");
        let reverted = s.iter().find(|s| s.summary == "deploy search 1.4").unwrap();
        let plain = s.iter().find(|s| s.summary == "raise cache size").unwrap();
        assert!(reverted.score < plain.score, "{s:#?}");
        assert!(
            reverted.why.contains("undid it 8m before the onset"),
            "{}",
            reverted.why
        );
        assert_eq!(
            reverted.reverted_by.as_deref(),
            Some("Revert \"deploy search 1.4\"")
        );
        assert!(s.iter().all(|s| s.why.contains("before the onset")));
    }

    #[test]
    fn a_switchyard_rollback_reverts_the_versions_after_its_target() {
        let mut v4 = change(10, "v4 apply by ops: add inventory-4");
        v4.version = Some(4);
        let mut v5 = change(12, "v5 rollback by ops: back");
        v5.version = Some(5);
        v5.rollback_to = Some(3);
        let mut v3 = change(5, "v3 apply by ops");
        v3.version = Some(3);
        assert!(reverts(&v5, &v4));
        assert!(!reverts(&v5, &v3));
        assert!(!reverts(&v4, &v3));
    }
}
