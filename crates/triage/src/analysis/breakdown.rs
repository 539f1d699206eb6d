//! `logs errors --by ...`: error counts per server, host, service, template or minute.

use serde::Serialize;

use crate::analysis::aggregate::Dim;
use crate::analysis::findings::ms_to_time;
use crate::analysis::run::Scan;

/// What `logs errors --by` groups by (a `clap` value with the `clap` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum By {
    Server,
    Host,
    Service,
    Pool,
    Template,
    Minute,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    pub errors: u64,
    /// Records (or requests) of the key, when known.
    pub total: Option<u64>,
}

/// Rows with errors, most first (by minute: in time order).
pub fn breakdown(scan: &Scan, by: By) -> Vec<Row> {
    let dim_rows = |dim: Dim| -> Vec<Row> {
        scan.aggregate.keys[dim as usize]
            .iter()
            .map(|(k, s)| {
                let c = s.total();
                Row {
                    key: k.clone(),
                    errors: c.errors,
                    total: Some(c.total),
                }
            })
            .filter(|r| r.errors > 0)
            .collect()
    };
    let mut rows = match by {
        By::Server => dim_rows(Dim::Server),
        By::Host => dim_rows(Dim::Host),
        By::Service => dim_rows(Dim::Service),
        By::Pool => dim_rows(Dim::Pool),
        By::Template => scan
            .templates
            .iter()
            .map(|(text, s)| Row {
                key: text.to_string(),
                errors: s.count,
                total: None,
            })
            .collect(),
        By::Minute => {
            let mut rows = Vec::new();
            for series in [&scan.aggregate.logs, &scan.aggregate.requests] {
                let Some((a, b)) = series.span() else {
                    continue;
                };
                for i in a..b {
                    let c = series.get(i);
                    if c.errors > 0 {
                        rows.push((i, c.errors, c.total));
                    }
                }
            }
            rows.sort();
            let mut merged: Vec<Row> = Vec::new();
            for (bucket, errors, total) in rows {
                let key = ms_to_time(bucket * scan.bucket_ms)
                    .format("%Y-%m-%d %H:%M")
                    .to_string();
                match merged.last_mut() {
                    Some(last) if last.key == key => {
                        last.errors += errors;
                        last.total = last.total.map(|t| t + total);
                    }
                    _ => merged.push(Row {
                        key,
                        errors,
                        total: Some(total),
                    }),
                }
            }
            return merged;
        }
    };
    rows.sort_by(|a, b| b.errors.cmp(&a.errors).then(a.key.cmp(&b.key)));
    rows
}
