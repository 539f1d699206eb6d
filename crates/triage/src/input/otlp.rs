//! OpenTelemetry logs as the Collector's file exporter writes them: one OTLP/JSON
//! `ExportLogsServiceRequest` per line (`resourceLogs` > `scopeLogs` > `logRecords`), each
//! line holding any number of records.
//!
//! Mapping: the resource's `service.name` is the service and `host.name` the host; a
//! `severityNumber` of 17 or more is an error (the text is read when the number is missing);
//! `traceId` and a `request_id`-like attribute let `logs trace` follow the record. Unlike the
//! other formats, a line is decoded into owned values (serde), since one line is many records.

use std::io::BufRead;

use serde::Deserialize;
use serde_json::Value;

use super::level::level_word;
use super::time::epoch_number;
use super::{Record, Sink, Skipped, SourceInfo};
use crate::record::{Level, Line};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Export {
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResourceLogs {
    resource: Attributes,
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Attributes {
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ScopeLogs {
    log_records: Vec<LogRecord>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct LogRecord {
    time_unix_nano: Option<Value>,
    observed_time_unix_nano: Option<Value>,
    severity_number: Option<i64>,
    severity_text: Option<String>,
    body: Option<Value>,
    attributes: Vec<KeyValue>,
    trace_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyValue {
    key: String,
    value: Value,
}

/// An OTLP `AnyValue` as text: a string as it is, anything else as its JSON.
fn any_text(v: &Value) -> Option<String> {
    let Value::Object(map) = v else {
        return None;
    };
    let (kind, inner) = map.iter().next()?;
    Some(match (kind.as_str(), inner) {
        ("stringValue", Value::String(s)) => s.clone(),
        ("intValue", Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    })
}

fn attribute(attrs: &[KeyValue], keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| attrs.iter().find(|a| a.key == *k))
        .and_then(|a| any_text(&a.value))
}

/// Nanoseconds since the epoch (a string of digits or a number) to milliseconds.
fn nanos_to_ms(v: &Value) -> Option<i64> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    epoch_number(&text).filter(|ms| *ms > 0)
}

/// Whether a line is an OTLP/JSON logs export.
pub(crate) fn is_export(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"resourceLogs\""))
}

/// Reads every line of `reader` and hands each log record to `sink`.
pub(crate) fn scan(
    reader: impl BufRead,
    source: &SourceInfo,
    sink: &mut impl Sink,
) -> std::io::Result<Skipped> {
    let mut skipped = Skipped::default();
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.contains(&0) {
            skipped.binary += 1;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            skipped.invalid_utf8 += 1;
            continue;
        };
        let Ok(export) = serde_json::from_str::<Export>(text) else {
            skipped.unparsable += 1;
            continue;
        };
        for rl in &export.resource_logs {
            let service = attribute(&rl.resource.attributes, &["service.name"]);
            let host = attribute(&rl.resource.attributes, &["host.name"]);
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    emit(
                        r,
                        service.as_deref(),
                        host.as_deref(),
                        n as u64 + 1,
                        source,
                        sink,
                        &mut skipped,
                    );
                }
            }
        }
    }
    Ok(skipped)
}

fn emit(
    r: &LogRecord,
    service: Option<&str>,
    host: Option<&str>,
    line_no: u64,
    source: &SourceInfo,
    sink: &mut impl Sink,
    skipped: &mut Skipped,
) {
    let ts_ms = r
        .time_unix_nano
        .as_ref()
        .and_then(nanos_to_ms)
        .or_else(|| r.observed_time_unix_nano.as_ref().and_then(nanos_to_ms));
    if ts_ms.is_none() {
        skipped.no_timestamp += 1;
        return;
    }
    let level = r
        .severity_number
        .and_then(Level::from_otel)
        .or_else(|| level_word(r.severity_text.as_deref()?.trim().as_bytes()));
    // A multi-line body is a message and its details, as plain logs write them.
    let body = r.body.as_ref().and_then(any_text).unwrap_or_default();
    let (message, body_details) = body.split_once('\n').unwrap_or((&body, ""));
    let request_id = attribute(
        &r.attributes,
        &[
            "request_id",
            "http.request.id",
            "switchyard.request_id",
            "request.id",
        ],
    );
    let trace_id = r.trace_id.as_deref().filter(|t| !t.is_empty());
    let host = attribute(&r.attributes, &["host.name"]).or(host.map(str::to_string));
    let is_error = level.is_some_and(Level::is_error);
    let details = if is_error {
        std::iter::once(body_details.to_string())
            .filter(|d| !d.is_empty())
            .chain(
                [
                    "exception.type",
                    "exception.message",
                    "exception.stacktrace",
                ]
                .iter()
                .filter_map(|k| attribute(&r.attributes, &[k])),
            )
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        String::new()
    };
    let line = Line {
        ts_ms,
        level,
        message,
        host: host.as_deref(),
        service,
        request_id: request_id.as_deref().or(trace_id),
        trace_id,
        access: None,
    };
    sink.record(
        source,
        &Record {
            line,
            details: &details,
            line_no,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Format;

    #[test]
    fn one_line_gives_every_record_with_resource_and_severity() {
        let line = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"inventory"}},{"key":"host.name","value":{"stringValue":"inv-2"}}]},"scopeLogs":[{"scope":{},"logRecords":[{"timeUnixNano":"1763029395050000000","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"db timeout"},"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","attributes":[{"key":"request_id","value":{"stringValue":"r-9"}}]},{"timeUnixNano":"1763029396000000000","severityNumber":9,"body":{"stringValue":"ok"}}]}]}]}"#;
        let source = SourceInfo {
            path: "x.jsonl".into(),
            host: "file-host".into(),
            service: "file".into(),
            format: Format::Otlp,
        };
        let mut seen = Vec::new();
        let mut sink = |_: &SourceInfo, r: &Record<'_>| {
            let l = &r.line;
            seen.push((
                l.ts_ms,
                l.level,
                l.message.to_string(),
                l.service.map(str::to_string),
                l.host.map(str::to_string),
                l.request_id.map(str::to_string),
                l.trace_id.map(str::to_string),
                l.is_error(),
            ));
        };
        let skipped = scan(line.as_bytes(), &source, &mut sink).unwrap();
        assert_eq!(skipped.total(), 0);
        assert_eq!(seen.len(), 2);
        let first = &seen[0];
        assert_eq!(
            first.0,
            Some(1_763_029_395_050),
            "nanoseconds scaled exactly"
        );
        assert_eq!(first.1, Some(Level::Error));
        assert_eq!(first.2, "db timeout");
        assert_eq!(first.3.as_deref(), Some("inventory"));
        assert_eq!(first.4.as_deref(), Some("inv-2"));
        assert_eq!(first.5.as_deref(), Some("r-9"));
        assert_eq!(first.6.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(first.7);
        assert_eq!(seen[1].1, Some(Level::Info));
        assert!(!seen[1].7);
        assert!(is_export(line));
        assert!(!is_export(r#"{"ts":"2025-11-13T10:23:15Z"}"#));
    }
}
