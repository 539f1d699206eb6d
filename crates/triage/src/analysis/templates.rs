//! Error messages grouped into templates, with when and where each template was seen and one
//! full example (first line and details) to quote.

use std::collections::BTreeSet;

use crate::template::{TemplateId, TemplateMiner};

/// Longest example kept per template.
const EXAMPLE_BYTES: usize = 1024;
/// Most hosts listed per template.
const MAX_HOSTS: usize = 32;

#[derive(Debug, Clone)]
pub struct TemplateStats {
    pub count: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub hosts: BTreeSet<String>,
    /// The first occurrence, with its continuation lines.
    pub example: String,
}

/// The miner plus the facts about each template.
#[derive(Default)]
pub struct TemplateBook {
    miner: TemplateMiner,
    stats: Vec<TemplateStats>,
}

impl TemplateBook {
    pub fn add(&mut self, ts_ms: i64, host: &str, message: &str, details: &str) -> TemplateId {
        let id = self.miner.add(message);
        let i = id as usize;
        if i >= self.stats.len() {
            let mut example = message.to_string();
            if !details.is_empty() {
                example.push('\n');
                example.push_str(details);
            }
            truncate(&mut example, EXAMPLE_BYTES);
            self.stats.resize(
                i + 1,
                TemplateStats {
                    count: 0,
                    first_ms: ts_ms,
                    last_ms: ts_ms,
                    hosts: BTreeSet::new(),
                    example: String::new(),
                },
            );
            self.stats[i].example = example;
        }
        let s = &mut self.stats[i];
        s.count += 1;
        s.first_ms = s.first_ms.min(ts_ms);
        s.last_ms = s.last_ms.max(ts_ms);
        if s.hosts.len() < MAX_HOSTS && !s.hosts.contains(host) {
            s.hosts.insert(host.to_string());
        }
        id
    }

    /// Templates with their stats, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TemplateStats)> {
        self.miner
            .templates()
            .iter()
            .zip(&self.stats)
            .map(|(t, s)| (t.text.as_str(), s))
    }

    pub fn text(&self, id: TemplateId) -> &str {
        &self.miner.template(id).text
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}
