//! Timestamps of every format, zones and fractions, and the ones that are refused.

use super::*;
use chrono::{DateTime, NaiveDate};

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// A clock's parse: milliseconds and bytes used.
type Parse = fn(&mut Clock, &[u8]) -> Option<(i64, usize)>;

/// Each case `(text, time, bytes used)` parses so with `parse`, and each of `bad` does not.
fn expect(c: &mut Clock, parse: Parse, cases: &[(&str, &str, usize)], bad: &[&str]) {
    for &(text, want, used) in cases {
        assert_eq!(parse(c, text.as_bytes()), Some((ms(want), used)), "{text}");
    }
    for text in bad {
        assert_eq!(parse(c, text.as_bytes()), None, "{text}");
    }
}

#[test]
fn days_match_chrono() {
    for (y, m, d) in [
        (1970, 1, 1),
        (2000, 2, 29),
        (2025, 11, 13),
        (1969, 12, 31),
        (2400, 3, 1),
        (1600, 1, 1),
    ] {
        let want = NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
        assert_eq!(
            days_from_civil(y as i64, m, d),
            want.num_days(),
            "{y}-{m}-{d}"
        );
    }
}

#[test]
fn iso_shapes() {
    let mut c = Clock::new(2025);
    let cases = [
        ("2025-11-13 10:23:15 ERROR x", "2025-11-13T10:23:15Z", 19),
        ("2025-11-13T10:23:15Z x", "2025-11-13T10:23:15Z", 20),
        ("2025-11-13T10:23:15.123Z", "2025-11-13T10:23:15.123Z", 24),
        (
            "2025-11-13 10:23:15,123 INFO",
            "2025-11-13T10:23:15.123Z",
            23,
        ),
        (
            "2025-11-13T10:23:15.123456789+02:00 x",
            "2025-11-13T08:23:15.123Z",
            35,
        ),
        ("2025-11-13T10:23:15-0500 x", "2025-11-13T15:23:15Z", 24),
        ("2025-11-13T10:23:15+01 x", "2025-11-13T09:23:15Z", 22),
        ("2025-11-13 10:23:15 +0100 x", "2025-11-13T09:23:15Z", 25),
        ("2025-11-13 10:23:15 UTC x", "2025-11-13T10:23:15Z", 23),
        (
            "2025/11/13 10:23:15 [error] 12#0",
            "2025-11-13T10:23:15Z",
            19,
        ),
        ("2025-11-13 10:23:15.5", "2025-11-13T10:23:15.500Z", 21),
        ("2024-02-29 00:00:00", "2024-02-29T00:00:00Z", 19),
    ];
    let bad = [
        "2025-13-13 10:23:15",
        "2025-02-29 10:23:15",
        "2025-11-13 24:00:00",
        "2025-11-13",
        "2025-11-13 10:23",
        "x025-11-13 10:23:15",
    ];
    expect(&mut c, Clock::parse_iso, &cases, &bad);
    // A dash after the seconds that is not a zone stays in the message.
    assert_eq!(
        c.parse_iso(b"2025-11-13 10:23:15-worker"),
        Some((ms("2025-11-13T10:23:15Z"), 19))
    );
    assert_eq!(
        c.parse_iso(b"2025-11-13 10:23:15 -1 retries"),
        Some((ms("2025-11-13T10:23:15Z"), 19))
    );
}

#[test]
fn cached_minute_is_reused_and_replaced() {
    let mut c = Clock::new(2025);
    assert_eq!(
        c.parse_iso(b"2025-11-13 10:00:00").unwrap().0,
        ms("2025-11-13T10:00:00Z")
    );
    assert_eq!(
        c.parse_iso(b"2025-11-13 10:00:59.5+01:00").unwrap().0,
        ms("2025-11-13T09:00:59.5Z")
    );
    assert_eq!(c.parse_iso(b"2025-11-13 10:00:6x"), None);
    assert_eq!(c.parse_iso(b"2025-11-13 10:00-00"), None);
    assert_eq!(
        c.parse_iso(b"2025-11-13 11:00:00").unwrap().0,
        ms("2025-11-13T11:00:00Z")
    );
    assert_eq!(
        c.parse_iso(b"2025-11-14 11:00:00").unwrap().0,
        ms("2025-11-14T11:00:00Z")
    );
    assert_eq!(
        c.parse_iso(b"2025-11-13 11:00:00").unwrap().0,
        ms("2025-11-13T11:00:00Z")
    );
}

#[test]
fn other_shapes() {
    let mut c = Clock::new(2025);
    let cases = [
        ("Nov 13 10:23:15 host app: x", "2025-11-13T10:23:15Z", 15),
        ("Nov  3 10:23:15 host app: x", "2025-11-03T10:23:15Z", 15),
        (
            "13/Nov/2025:10:23:15 +0100] \"GET",
            "2025-11-13T09:23:15Z",
            26,
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [notice] x",
            "2005-12-04T04:47:44Z",
            26,
        ),
        (
            "[Wed Oct 11 14:32:52.123456 2000] [error] x",
            "2000-10-11T14:32:52.123Z",
            33,
        ),
        (
            "Thu, 13 Nov 2025 10:23:15 +0200 x",
            "2025-11-13T08:23:15Z",
            31,
        ),
        (
            "13-Nov-2025 10:23:15.123 SEVERE [main] x",
            "2025-11-13T10:23:15.123Z",
            24,
        ),
        ("17/06/09 20:10:40 INFO x", "2017-06-09T20:10:40Z", 17),
        ("081109 203615 148 INFO x", "2008-11-09T20:36:15Z", 13),
        (
            "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            "2017-12-23T22:15:29.606Z",
            21,
        ),
        ("[2025-11-13T10:23:15Z] x", "2025-11-13T10:23:15Z", 22),
    ];
    let bad = [
        "Server: frontend-02",
        "  at com.x.Y(Y.java:1)",
        "Query: SELECT 1",
        "95/100 connections",
        "123456 rows",
        "Mon itor",
    ];
    expect(&mut c, Clock::parse_start, &cases, &bad);
}

#[test]
fn epoch_numbers() {
    assert_eq!(epoch_number("1763029395"), Some(1_763_029_395_000));
    assert_eq!(epoch_number("1763029395.25"), Some(1_763_029_395_250));
    assert_eq!(epoch_number("1763029395123"), Some(1_763_029_395_123));
    assert_eq!(epoch_number("1763029395123456"), Some(1_763_029_395_123));
    assert_eq!(epoch_number("1763029395123456789"), Some(1_763_029_395_123));
    assert_eq!(epoch_number("x"), None);
}
