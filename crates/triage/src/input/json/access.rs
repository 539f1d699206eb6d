//! Switchyard's own access-log line, read as the proxy writes it: compact `serde_json` with
//! every key once and always in the same order (`trace_id` only when spans are exported).
//!
//! Each key, with the `,` before it and the `:` after it, is one compare against a constant,
//! so keys cost no search at all. A string value ends at the next quote or backslash, found
//! 16 bytes at a time; a backslash gives up, as does anything else unexpected (white space,
//! another key, a nested value), and [`super::known_order`] reads the line instead. Nearly
//! every line of the proxy's access log is read here.

use super::{bare, is_number_byte, literal, Fields, Kind, Value, DURATION, ERROR, HOST};
use super::{METHOD, PATH, POOL};
use super::{REQUEST_ID, SERVER, STATUS, TRACE_ID, TS, UPSTREAM_STATUS};
use crate::input::bytes::{find2, none_of2};

/// A value at `b[v]`, strings without escapes only: its kind, where its text starts and
/// ends, and the index after it. A string of the `usual` length is checked as such first.
#[inline(always)]
fn value(b: &[u8], v: usize, usual: Option<usize>) -> Option<(Kind, usize, usize, usize)> {
    if *b.get(v)? == b'"' {
        if let Some(s) = usual.and_then(|n| b.get(v + 1..v + 2 + n)) {
            let n = s.len() - 1;
            if s[n] == b'"' && none_of2(b'"', b'\\', &s[..n]) {
                return Some((Kind::Str, v + 1, v + 1 + n, v + 2 + n));
            }
        }
        let end = find2(b'"', b'\\', b, v + 1)?;
        return (b[end] == b'"').then_some((Kind::Str, v + 1, end, end + 1));
    }
    let (kind, start, end) = bare(b, v)?;
    Some((kind, start, end, end))
}

/// Switchyard's access-log keys in the order `AccessRecord` writes them (`trace_id` only when
/// spans are exported), each with the field it fills. The walk here and the known-order walk's
/// guesses of the next key both come from this list.
pub(super) const ACCESS_KEYS: [(&str, Option<usize>); 18] = [
    ("ts", Some(TS)),
    ("request_id", Some(REQUEST_ID)),
    ("client", None),
    ("listener", None),
    ("method", Some(METHOD)),
    ("path", Some(PATH)),
    ("host", Some(HOST)),
    ("protocol", None),
    ("status", Some(STATUS)),
    ("pool", Some(POOL)),
    ("server", Some(SERVER)),
    ("server_address", None),
    ("upstream_status", Some(UPSTREAM_STATUS)),
    ("duration_ms", Some(DURATION)),
    ("bytes_sent", None),
    ("attempts", None),
    ("error", Some(ERROR)),
    ("trace_id", Some(TRACE_ID)),
];

/// A key as it stands in the line, with what comes before and after it: `{"ts":` for the first,
/// `,"name":` for the others.
#[derive(Clone, Copy)]
struct Literal {
    bytes: [u8; 32],
    len: usize,
}

impl Literal {
    const fn of(n: usize) -> Literal {
        let name = ACCESS_KEYS[n].0.as_bytes();
        let mut bytes = [0u8; 32];
        bytes[0] = if n == 0 { b'{' } else { b',' };
        bytes[1] = b'"';
        let mut i = 0;
        while i < name.len() {
            bytes[2 + i] = name[i];
            i += 1;
        }
        bytes[2 + name.len()] = b'"';
        bytes[3 + name.len()] = b':';
        Literal {
            bytes,
            len: name.len() + 4,
        }
    }

    /// The key with `value` after it, if the field has a [`COMMON`] value.
    const fn common(n: usize) -> Option<(Literal, Kind)> {
        let mut c = 0;
        while c < COMMON.len() {
            let (field, value, kind) = COMMON[c];
            if field == n {
                let mut l = Literal::of(n);
                let v = value.as_bytes();
                let mut i = 0;
                while i < v.len() {
                    l.bytes[l.len + i] = v[i];
                    i += 1;
                }
                l.len += v.len();
                return Some((l, kind));
            }
            c += 1;
        }
        None
    }

    /// Whether `b[at..]` starts with it. Each use is a constant, so this is a compare of a
    /// fixed size against immediates.
    #[inline(always)]
    fn at(&self, b: &[u8], at: usize) -> bool {
        literal(b, at, &self.bytes[..self.len])
    }
}

/// The length the proxy's time stamps (`2025-11-13T10:00:00.008Z`) and request ids (32 hex
/// digits) always have: such a string is checked in two compares instead of searched.
const USUAL_LEN: [Option<usize>; 2] = [Some(24), Some(32)];

/// Values the proxy writes for nearly every request (on HTTP/1.1, answered at the first
/// attempt, without an error), each compared together with its key in one go. A field with
/// another value is read as any other.
const COMMON: [(usize, &str, Kind); 3] = [
    (7, "\"HTTP/1.1\"", Kind::Str),
    (15, "1", Kind::Num),
    (16, "null", Kind::Null),
];

/// The field at `b[i]` (its key `key_len` bytes long) read as its [`COMMON`] value `whole`,
/// if it has that value: its kind, where its text starts and ends, and the index after it.
#[inline(always)]
fn common(
    b: &[u8],
    i: usize,
    key_len: usize,
    whole: Option<(Literal, Kind)>,
) -> Option<(Kind, usize, usize, usize)> {
    let (whole, kind) = whole?;
    let (v, end) = (i + key_len, i + whole.len);
    // A number must end where the common one does (`1`, not `10`).
    if !whole.at(b, i) || (kind == Kind::Num && b.get(end).is_some_and(|&c| is_number_byte(c))) {
        return None;
    }
    Some(match kind {
        Kind::Str => (kind, v + 1, end - 1, end),
        _ => (kind, v, end, end),
    })
}

/// Reads the line exactly as the proxy writes it, noting the value of each field triage
/// reads. `None` when it is not such a line; what was noted before giving up is cleared by
/// the caller.
pub(super) fn exact(b: &[u8], fields: &mut Fields) -> Option<()> {
    walk(b, |slot, v| fields[slot] = Some(v))
}

/// [`exact`], handing each value triage reads to `put` with its field.
#[inline(always)]
pub(super) fn walk(b: &[u8], mut put: impl FnMut(usize, Value)) -> Option<()> {
    let mut i = 0;
    macro_rules! field {
        ($($n:literal)*) => {$({
            const KEY: Literal = Literal::of($n);
            const WHOLE: Option<(Literal, Kind)> = Literal::common($n);
            let (kind, start, end, after) = match common(b, i, KEY.len, WHOLE) {
                Some(found) => found,
                None => {
                    if !KEY.at(b, i) {
                        return None;
                    }
                    value(b, i + KEY.len, USUAL_LEN.get($n).copied().flatten())?
                }
            };
            if let Some(slot) = ACCESS_KEYS[$n].1 {
                put(slot, Value { kind, start, end });
            }
            i = after;
        })*};
    }
    field!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    if b.get(i) != Some(&b'}') {
        field!(17);
    }
    (b.get(i) == Some(&b'}') && i + 1 == b.len()).then_some(())
}
