//! W3C Trace Context on the request path: the client's `traceparent` read, the one sent
//! upstream written, ids made, and the sampling decision taken once per request. Nothing here
//! allocates.

use std::ops::Range;

/// Length of a version-00 `traceparent` value: `00-` 32 hex `-` 16 hex `-` 2 hex.
pub(crate) const TRACEPARENT_LEN: usize = 55;
/// Where the parent id starts within a `traceparent` value.
const PARENT_AT: usize = 36;

/// A `traceparent` as received: a trace id, the caller's span id and its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

/// Reads a `traceparent` value. Versions other than `00` are read by their first four fields
/// as the spec asks; `ff`, all-zero ids and anything malformed are refused.
pub(crate) fn parse_traceparent(value: &[u8]) -> Option<Parent> {
    if value.len() < TRACEPARENT_LEN || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let version = hex_u64(&value[..2])?;
    if version == 0xff || (version == 0 && value.len() != TRACEPARENT_LEN) {
        return None;
    }
    if version != 0 && value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-' {
        return None;
    }
    let trace_id =
        (u128::from(hex_u64(&value[3..19])?) << 64) | u128::from(hex_u64(&value[19..35])?);
    let span_id = hex_u64(&value[36..52])?;
    let flags = hex_u64(&value[53..55])?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// Lowercase hex digits only (the spec refuses uppercase).
fn hex_u64(digits: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        n = (n << 4) | u64::from(v);
    }
    Some(n)
}

fn put_hex(out: &mut [u8], mut n: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
}

/// `00-{trace}-{span}-{flags}`.
pub(crate) fn write_traceparent(
    trace_id: u128,
    span_id: u64,
    sampled: bool,
) -> [u8; TRACEPARENT_LEN] {
    let mut v = *b"00-00000000000000000000000000000000-0000000000000000-00";
    put_hex(&mut v[3..35], trace_id);
    put_hex(&mut v[36..52], u128::from(span_id));
    v[54] = if sampled { b'1' } else { b'0' };
    v
}

/// Rewrites the parent id of a `traceparent` value in place.
pub(crate) fn set_parent(value: &mut [u8], span_id: u64) {
    put_hex(&mut value[PARENT_AT..PARENT_AT + 16], u128::from(span_id));
}

/// 32 lowercase hex digits.
pub(crate) fn trace_hex(trace_id: u128) -> [u8; 32] {
    let mut v = [0u8; 32];
    put_hex(&mut v, trace_id);
    v
}

/// A new non-zero span id.
pub(crate) fn new_span_id() -> u64 {
    fastrand::u64(1..)
}

/// A new non-zero trace id.
pub(crate) fn new_trace_id() -> u128 {
    fastrand::u128(1..)
}

/// The sampling rule, taken once per request: a caller's sampled flag is followed; a new trace
/// is sampled when the low 64 bits of its id fall under `ratio` of their range (the
/// `TraceIdRatioBased` rule, so every hop with the same ratio agrees).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sampler {
    bound: u64,
    all: bool,
}

impl Sampler {
    pub fn new(ratio: f64) -> Sampler {
        Sampler {
            bound: (ratio.clamp(0.0, 1.0) * u64::MAX as f64) as u64,
            all: ratio >= 1.0,
        }
    }

    pub fn sampled(&self, parent: Option<&Parent>, trace_id: u128) -> bool {
        match parent {
            Some(p) => p.sampled,
            None => self.all || (trace_id as u64) < self.bound,
        }
    }
}

/// The trace facts of one parsed request head; ranges point into the forwarded head.
#[derive(Debug, Clone)]
pub(crate) struct TraceHead {
    pub trace_id: u128,
    /// The caller's span, when the request came with a valid `traceparent`.
    pub parent: Option<u64>,
    pub sampled: bool,
    /// The span id written into the forwarded `traceparent`: the first attempt's.
    pub first_attempt: u64,
    /// The forwarded `traceparent` value.
    pub traceparent: Range<usize>,
    /// The forwarded `tracestate` value, if any.
    pub tracestate: Option<Range<usize>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_the_spec_example() {
        let p = parse_traceparent(EXAMPLE).unwrap();
        assert_eq!(p.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(p.span_id, 0x00f067aa0ba902b7);
        assert!(p.sampled);
        let written = write_traceparent(p.trace_id, p.span_id, p.sampled);
        assert_eq!(&written[..], EXAMPLE);
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"garbage",
        ] {
            assert_eq!(
                parse_traceparent(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // A later version may carry more fields after a dash.
        assert!(
            parse_traceparent(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more")
                .is_some()
        );
    }

    #[test]
    fn parent_id_is_rewritten_in_place() {
        let mut v = *b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        set_parent(&mut v, 0xabc);
        assert_eq!(
            &v[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01"
        );
    }

    #[test]
    fn sampling_follows_the_parent_then_the_ratio() {
        let parent = parse_traceparent(EXAMPLE).unwrap();
        assert!(Sampler::new(0.0).sampled(Some(&parent), 1));
        let unsampled = Parent {
            sampled: false,
            ..parent
        };
        assert!(!Sampler::new(1.0).sampled(Some(&unsampled), 1));
        assert!(Sampler::new(1.0).sampled(None, u128::MAX));
        assert!(!Sampler::new(0.0).sampled(None, 1));
        let half = Sampler::new(0.5);
        let hits = (0..10_000)
            .filter(|_| half.sampled(None, new_trace_id()))
            .count();
        assert!(
            (4_000..6_000).contains(&hits),
            "{hits} of 10000 sampled at 0.5"
        );
    }
}
