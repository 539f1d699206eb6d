//! Plain application logs (`2025-11-13 10:23:15 ERROR: message`) and bare messages.

use super::level::split_level;
use super::scan::Parser;
use super::time::Clock;
use crate::record::Line;

/// A line that starts with a timestamp starts a record; any other line continues the one above.
pub(crate) struct Plain {
    clock: Clock,
}

/// Where a plain record's timestamp ends, and what it says.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stamp {
    ms: i64,
    len: usize,
}

impl Plain {
    pub(crate) fn new(year: i32) -> Plain {
        Plain {
            clock: Clock::new(year),
        }
    }
}

impl Parser for Plain {
    type Start = Stamp;

    #[inline]
    fn start(&mut self, line: &str) -> Option<Stamp> {
        self.clock
            .parse_start(line.as_bytes())
            .map(|(ms, len)| Stamp { ms, len })
    }

    // Inlined into the scanner's loop so the line is built where the record holds it.
    #[inline(always)]
    fn parse<'a>(&mut self, line: &'a str, start: Stamp, _: &'a mut String) -> Option<Line<'a>> {
        let (level, message) = split_level(line.get(start.len..)?);
        Some(Line {
            ts_ms: Some(start.ms),
            level,
            message,
            ..Line::default()
        })
    }
}

/// `--message-only`: every line is a record and the whole line is its message.
pub(crate) struct MessageOnly;

impl Parser for MessageOnly {
    type Start = ();

    #[inline]
    fn parse<'a>(&mut self, line: &'a str, _start: (), _: &'a mut String) -> Option<Line<'a>> {
        Some(Line {
            message: line,
            ..Line::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    /// (ts, level, message) of a plain line.
    fn parse(line: &str) -> Option<(Option<i64>, Option<Level>, String)> {
        let mut p = Plain::new(2025);
        let start = p.start(line)?;
        let mut scratch = String::new();
        let l = p.parse(line, start, &mut scratch)?;
        Some((l.ts_ms, l.level, l.message.to_string()))
    }

    #[test]
    fn seed_shapes() {
        let t = Some(1_763_029_395_000);
        let cases = [
            (
                "2025-11-13 10:23:15 ERROR: Database connection timeout",
                t,
                Some(Level::Error),
                "Database connection timeout",
            ),
            (
                "2025-11-13T10:23:15.123Z [WARN] slow query",
                Some(1_763_029_395_123),
                Some(Level::Warn),
                "slow query",
            ),
            (
                "2025-11-13 10:23:15 ERROR inventory: lookup failed",
                t,
                Some(Level::Error),
                "inventory: lookup failed",
            ),
            (
                "[2025-11-13 12:23:15+02:00] [error] upstream timed out",
                t,
                Some(Level::Error),
                "upstream timed out",
            ),
            (
                "2025-11-13 10:23:15 started without a level",
                t,
                None,
                "started without a level",
            ),
        ];
        for (line, ts, level, message) in cases {
            assert_eq!(
                parse(line),
                Some((ts, level, message.to_string())),
                "{line}"
            );
        }
    }

    #[test]
    fn continuation_lines_are_not_starts() {
        let mut p = Plain::new(2025);
        for line in [
            "  Server: frontend-02",
            "Server: frontend-02",
            "Query: SELECT 1",
            "Connection pool: 95/100 connections in use",
            "\tat com.x.Y.z(Y.java:12)",
            "Caused by: java.io.IOException",
        ] {
            assert!(p.start(line).is_none(), "{line}");
        }
    }
}
