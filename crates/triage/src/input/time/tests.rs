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

/// `text => time @ bytes used` for `parse_iso`. The last two: a dash after the seconds that is
/// not a zone stays in the message.
const ISO_SHAPES: &str = r#"
2025-11-13 10:23:15 ERROR x => 2025-11-13T10:23:15Z @ 19
2025-11-13T10:23:15Z x => 2025-11-13T10:23:15Z @ 20
2025-11-13T10:23:15.123Z => 2025-11-13T10:23:15.123Z @ 24
2025-11-13 10:23:15,123 INFO => 2025-11-13T10:23:15.123Z @ 23
2025-11-13T10:23:15.123456789+02:00 x => 2025-11-13T08:23:15.123Z @ 35
2025-11-13T10:23:15-0500 x => 2025-11-13T15:23:15Z @ 24
2025-11-13T10:23:15+01 x => 2025-11-13T09:23:15Z @ 22
2025-11-13 10:23:15 +0100 x => 2025-11-13T09:23:15Z @ 25
2025-11-13 10:23:15 UTC x => 2025-11-13T10:23:15Z @ 23
2025/11/13 10:23:15 [error] 12#0 => 2025-11-13T10:23:15Z @ 19
2025-11-13 10:23:15.5 => 2025-11-13T10:23:15.500Z @ 21
2024-02-29 00:00:00 => 2024-02-29T00:00:00Z @ 19
2025-11-13 10:23:15-worker => 2025-11-13T10:23:15Z @ 19
2025-11-13 10:23:15 -1 retries => 2025-11-13T10:23:15Z @ 19
"#;

/// `text => time @ bytes used` for `parse_start`, the shapes other than ISO 8601.
const OTHER_SHAPES: &str = r#"
Nov 13 10:23:15 host app: x => 2025-11-13T10:23:15Z @ 15
Nov  3 10:23:15 host app: x => 2025-11-03T10:23:15Z @ 15
13/Nov/2025:10:23:15 +0100] "GET => 2025-11-13T09:23:15Z @ 26
[Sun Dec 04 04:47:44 2005] [notice] x => 2005-12-04T04:47:44Z @ 26
[Wed Oct 11 14:32:52.123456 2000] [error] x => 2000-10-11T14:32:52.123Z @ 33
Thu, 13 Nov 2025 10:23:15 +0200 x => 2025-11-13T08:23:15Z @ 31
13-Nov-2025 10:23:15.123 SEVERE [main] x => 2025-11-13T10:23:15.123Z @ 24
17/06/09 20:10:40 INFO x => 2017-06-09T20:10:40Z @ 17
081109 203615 148 INFO x => 2008-11-09T20:36:15Z @ 13
20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579 => 2017-12-23T22:15:29.606Z @ 21
[2025-11-13T10:23:15Z] x => 2025-11-13T10:23:15Z @ 22
"#;

/// Each line `text => time @ bytes used` of `cases` parses so with `parse`, and each of `bad`
/// does not.
fn expect(c: &mut Clock, parse: Parse, cases: &str, bad: &[&str]) {
    for line in cases.lines().filter(|l| !l.is_empty()) {
        let (text, rest) = line.split_once(" => ").expect("text => time @ used");
        let (want, used) = rest.split_once(" @ ").expect("time @ used");
        let used: usize = used.parse().unwrap();
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
    let bad = [
        "2025-13-13 10:23:15",
        "2025-02-29 10:23:15",
        "2025-11-13 24:00:00",
        "2025-11-13",
        "2025-11-13 10:23",
        "x025-11-13 10:23:15",
    ];
    expect(&mut c, Clock::parse_iso, ISO_SHAPES, &bad);
}

#[test]
fn cached_minute_is_reused_and_replaced() {
    let mut c = Clock::new(2025);
    // In this order: the cached minute is reused, refused on a bad tail, then replaced.
    for (text, want) in [
        ("2025-11-13 10:00:00", Some("2025-11-13T10:00:00Z")),
        (
            "2025-11-13 10:00:59.5+01:00",
            Some("2025-11-13T09:00:59.5Z"),
        ),
        ("2025-11-13 10:00:6x", None),
        ("2025-11-13 10:00-00", None),
        ("2025-11-13 11:00:00", Some("2025-11-13T11:00:00Z")),
        ("2025-11-14 11:00:00", Some("2025-11-14T11:00:00Z")),
        ("2025-11-13 11:00:00", Some("2025-11-13T11:00:00Z")),
    ] {
        let got = c.parse_iso(text.as_bytes()).map(|(t, _)| t);
        assert_eq!(got, want.map(ms), "{text}");
    }
}

#[test]
fn other_shapes() {
    let mut c = Clock::new(2025);
    let bad = [
        "Server: frontend-02",
        "  at com.x.Y(Y.java:1)",
        "Query: SELECT 1",
        "95/100 connections",
        "123456 rows",
        "Mon itor",
    ];
    expect(&mut c, Clock::parse_start, OTHER_SHAPES, &bad);
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

/// The fixed-window reading after the minute gives what the general one gives, on every tail
/// it accepts, and leaves the rest to it.
#[test]
fn the_window_after_the_minute_agrees_with_the_general_reading() {
    let seconds = ["00", "07", "59", "60", "61", "5x", "x5"];
    let fractions = ["", ".123", ",123", ".12", ".1234", ".12x", ".", ".123456"];
    let ends = [
        "", "Z", "z", " ", " +0200", " -05:00", " UTC", " GMT", " INFO x", "+01:00", "x", " U",
        " G", "\"", "9",
    ];
    let minute = 1_763_028_000_000;
    let mut windowed = 0;
    for sep in [':', '-'] {
        for s in seconds {
            for f in fractions {
                for e in ends {
                    // Alone (as a JSON value is) and with more after it.
                    let stamp = format!("2025-11-13T10:00{sep}{s}{f}{e}");
                    for line in [stamp.clone(), format!("{stamp} and some more words")] {
                        let b = line.as_bytes();
                        let general = read_after_minute(b, minute);
                        if let Some(fast) = after_minute(b, minute) {
                            windowed += 1;
                            assert_eq!(Some(fast), general, "{line}");
                        }
                    }
                }
            }
        }
    }
    assert!(windowed > 40, "{windowed}");
}
