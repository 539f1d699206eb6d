//! Switchyard's own access-log line, read as the proxy writes it: compact `serde_json` with
//! every key once and always in the same order (`trace_id` only when spans are exported).
//!
//! Each key, with the `,` before it and the `:` after it, is one compare against a constant,
//! so keys cost no search at all. A string value ends at the next quote or backslash, found
//! 16 bytes at a time; a backslash gives up, as does anything else unexpected (white space,
//! another key, a nested value), and [`super::known_order`] reads the line instead. Nearly
//! every line of the proxy's access log is read here.

use super::{bare, literal, Fields, Kind, Value, DURATION, ERROR, HOST, METHOD, PATH, POOL};
use super::{REQUEST_ID, SERVER, STATUS, TRACE_ID, TS, UPSTREAM_STATUS};
use crate::input::bytes::find2;

/// A value at `b[v]`, strings without escapes only: its kind, where its text starts and
/// ends, and the index after it.
#[inline(always)]
fn value(b: &[u8], v: usize) -> Option<(Kind, usize, usize, usize)> {
    if *b.get(v)? == b'"' {
        let end = find2(b'"', b'\\', b, v + 1)?;
        return (b[end] == b'"').then_some((Kind::Str, v + 1, end, end + 1));
    }
    let (kind, start, end) = bare(b, v)?;
    Some((kind, start, end, end))
}

/// Reads the line exactly as the proxy writes it, noting the value of each field triage
/// reads. `None` when it is not such a line; what was noted before giving up is cleared by
/// the caller.
pub(super) fn exact(b: &[u8], fields: &mut Fields) -> Option<()> {
    let mut i = 0;
    macro_rules! field {
        ($key:literal, $slot:expr) => {{
            if !literal(b, i, $key) {
                return None;
            }
            let (kind, start, end, after) = value(b, i + $key.len())?;
            let slot: Option<usize> = $slot;
            if let Some(slot) = slot {
                fields[slot] = Some(Value { kind, start, end });
            }
            i = after;
        }};
    }
    field!(b"{\"ts\":", Some(TS));
    field!(b",\"request_id\":", Some(REQUEST_ID));
    field!(b",\"client\":", None);
    field!(b",\"listener\":", None);
    field!(b",\"method\":", Some(METHOD));
    field!(b",\"path\":", Some(PATH));
    field!(b",\"host\":", Some(HOST));
    field!(b",\"protocol\":", None);
    field!(b",\"status\":", Some(STATUS));
    field!(b",\"pool\":", Some(POOL));
    field!(b",\"server\":", Some(SERVER));
    field!(b",\"server_address\":", None);
    field!(b",\"upstream_status\":", Some(UPSTREAM_STATUS));
    field!(b",\"duration_ms\":", Some(DURATION));
    field!(b",\"bytes_sent\":", None);
    field!(b",\"attempts\":", None);
    field!(b",\"error\":", Some(ERROR));
    if b.get(i) != Some(&b'}') {
        field!(b",\"trace_id\":", Some(TRACE_ID));
    }
    (b.get(i) == Some(&b'}') && i + 1 == b.len()).then_some(())
}
