//! A finished request turned into OTLP spans: one server span for the request and one client
//! span per upstream attempt, with the OTel HTTP semantic-convention attributes and
//! Switchyard's own (`switchyard.pool`, `switchyard.server`, `switchyard.version`,
//! `switchyard.request_id`, `switchyard.error.reason`). Runs on the exporter task.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::record::{AttemptEnd, Finished};

/// Appends the spans of `f` to `out`.
pub(crate) fn spans_of(f: Finished, scope: &InstrumentationScope, out: &mut Vec<SpanData>) {
    let trace_id = TraceId::from(f.trace_id);
    let flags = if f.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let state = f
        .tracestate
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let context =
        |span: u64| SpanContext::new(trace_id, SpanId::from(span), flags, false, state.clone());
    let name: Cow<'static, str> = Cow::Owned(f.method.clone());
    // Every span of the request: this trace's context, its method as the name, no events or
    // links. `parent` is the parent span and whether it came from the caller.
    let span = |id: u64,
                parent: (SpanId, bool),
                kind: SpanKind,
                (start, end): (SystemTime, SystemTime),
                attributes: Vec<KeyValue>,
                status: Status| SpanData {
        span_context: context(id),
        parent_span_id: parent.0,
        parent_span_is_remote: parent.1,
        span_kind: kind,
        name: name.clone(),
        start_time: start,
        end_time: end,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    };

    for a in &f.attempts {
        let m = &a.mark;
        let mut attrs = vec![
            KeyValue::new("http.request.method", f.method.clone()),
            KeyValue::new("server.address", a.server.address.ip().to_string()),
            KeyValue::new("server.port", i64::from(a.server.address.port())),
            KeyValue::new("url.full", format!("http://{}{}", a.server.address, f.path)),
            KeyValue::new("network.protocol.version", f.upstream_protocol),
            KeyValue::new("switchyard.server", a.server.name.clone()),
            KeyValue::new("switchyard.request_id", f.request_id.clone()),
        ];
        if let Some(pool) = &f.pool {
            attrs.push(KeyValue::new("switchyard.pool", pool.clone()));
        }
        let index = f
            .attempts
            .iter()
            .position(|x| x.mark.span_id == m.span_id)
            .unwrap_or(0);
        if index > 0 {
            attrs.push(KeyValue::new("http.request.resend_count", index as i64));
        }
        let status = match m.outcome {
            AttemptEnd::Answered(code) => {
                attrs.push(KeyValue::new("http.response.status_code", i64::from(code)));
                if code >= 500 {
                    attrs.push(KeyValue::new("error.type", code.to_string()));
                    Status::error(format!("answered {code}"))
                } else {
                    Status::Unset
                }
            }
            AttemptEnd::Failed(code) => {
                attrs.push(KeyValue::new("error.type", code));
                let reason = a.reason.clone().unwrap_or_else(|| code.to_string());
                attrs.push(KeyValue::new("switchyard.error.reason", reason.clone()));
                Status::error(reason)
            }
            AttemptEnd::Open => Status::Unset,
        };
        let end = m.end().unwrap_or(f.duration);
        out.push(span(
            m.span_id,
            (SpanId::from(f.span_id), false),
            SpanKind::Client,
            (f.start + m.start(), f.start + end),
            attrs,
            status,
        ));
    }

    let mut attrs = vec![
        KeyValue::new("http.request.method", f.method.clone()),
        KeyValue::new("url.path", f.path),
        KeyValue::new("url.scheme", f.scheme),
        KeyValue::new(
            "network.protocol.version",
            f.protocol.trim_start_matches("HTTP/"),
        ),
        KeyValue::new("client.address", f.client.ip().to_string()),
        KeyValue::new("client.port", i64::from(f.client.port())),
        KeyValue::new("http.response.status_code", i64::from(f.status)),
        KeyValue::new("switchyard.listener", f.listener),
        KeyValue::new("switchyard.request_id", f.request_id),
        KeyValue::new("switchyard.attempts", f.attempts.len() as i64),
    ];
    if !f.host.is_empty() {
        attrs.push(KeyValue::new("server.address", f.host));
    }
    if f.version > 0 {
        attrs.push(KeyValue::new("switchyard.version", f.version as i64));
    }
    if let Some(pool) = f.pool {
        attrs.push(KeyValue::new("switchyard.pool", pool));
    }
    if let Some(server) = f.server {
        attrs.push(KeyValue::new("switchyard.server", server));
    }
    let status = match f.error {
        Some((code, reason)) => {
            attrs.push(KeyValue::new("error.type", code));
            attrs.push(KeyValue::new("switchyard.error.reason", reason.clone()));
            Status::error(reason)
        }
        None if f.status >= 500 => {
            attrs.push(KeyValue::new("error.type", f.status.to_string()));
            Status::error(format!("answered {}", f.status))
        }
        None => Status::Unset,
    };
    out.push(span(
        f.span_id,
        (
            f.parent.map_or(SpanId::INVALID, SpanId::from),
            f.parent.is_some(),
        ),
        SpanKind::Server,
        (f.start, f.start + f.duration),
        attrs,
        status,
    ));
}
