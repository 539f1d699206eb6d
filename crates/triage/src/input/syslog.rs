//! Syslog: RFC 3164 (`<34>Nov 13 10:23:15 host app[123]: msg`, also with an RFC 3339
//! timestamp as rsyslog writes files) and RFC 5424
//! (`<34>1 2025-11-13T10:23:15.003Z host app 123 ID47 [sd] msg`).
//! The level comes from PRI's severity when the line has one, else from a level word that
//! opens the message.

use memchr::memchr;

use super::level::{from_severity, split_level};
use super::scan::Parser;
use super::time::Clock;
use crate::record::{Level, Line};

/// Where a syslog record's header ends: its timestamp and PRI.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Header {
    ms: Option<i64>,
    pri: Option<u8>,
    body: usize,
}

/// `<PRI>` at the start of `b`: its value and the length it took.
fn pri(b: &[u8]) -> Option<(u8, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let mut v = 0u16;
    for (i, &c) in b.iter().enumerate().take(5).skip(1) {
        match c {
            b'0'..=b'9' => v = v * 10 + (c - b'0') as u16,
            b'>' if i > 1 && v <= 191 => return Some((v as u8, i + 1)),
            _ => return None,
        }
    }
    None
}

/// The first word of `s` and what follows the space after it.
#[inline]
fn word(s: &str) -> (&str, &str) {
    match s.bytes().position(|c| c == b' ') {
        Some(n) => (&s[..n], &s[n + 1..]),
        None => (s, ""),
    }
}

/// `app[123]:` or `app:` to `app`; `None` when `tag` is not a tag.
fn tag_name(tag: &str) -> Option<&str> {
    let t = tag.strip_suffix(':')?;
    let name = match memchr(b'[', t.as_bytes()) {
        Some(n) if t.ends_with(']') => &t[..n],
        _ => t,
    };
    (!name.is_empty()).then_some(name)
}

fn level_and_message(pri: Option<u8>, msg: &str) -> (Option<Level>, &str) {
    match pri {
        Some(p) => (Some(from_severity(p & 7)), msg),
        None => match split_level(msg) {
            (Some(level), rest) => (Some(level), rest),
            (None, _) => (None, msg),
        },
    }
}

/// RFC 3164 and the traditional file format.
pub(crate) struct Syslog3164 {
    clock: Clock,
}

impl Syslog3164 {
    pub(crate) fn new(year: i32) -> Syslog3164 {
        Syslog3164 {
            clock: Clock::new(year),
        }
    }

    /// Whether `line` has the shape `[<PRI>]TIMESTAMP HOST TAG: msg` (a tag is required when
    /// there is no PRI, so that plain logs are not taken for syslog).
    pub(crate) fn looks_like(&mut self, line: &str) -> bool {
        let Some(h) = self.start(line) else {
            return false;
        };
        if h.pri.is_some() {
            return true;
        }
        let (host, rest) = word(line[h.body..].trim_start_matches(' '));
        let (tag, _) = word(rest);
        !host.is_empty() && split_level(host).0.is_none() && tag_name(tag).is_some()
    }
}

impl Parser for Syslog3164 {
    type Start = Header;

    #[inline]
    fn start(&mut self, line: &str) -> Option<Header> {
        let b = line.as_bytes();
        let (pri, i) = match pri(b) {
            Some((p, n)) => (Some(p), n),
            None => (None, 0),
        };
        let (ms, n) = self
            .clock
            .parse_syslog(&b[i..])
            .or_else(|| self.clock.parse_iso(&b[i..]))?;
        Some(Header {
            ms: Some(ms),
            pri,
            body: i + n,
        })
    }

    fn parse<'a>(&mut self, line: &'a str, h: Header, _: &'a mut String) -> Option<Line<'a>> {
        let rest = line.get(h.body..)?.trim_start_matches(' ');
        let (first, after_first) = word(rest);
        let (host, service, msg) = if let Some(app) = tag_name(first) {
            (None, Some(app), after_first)
        } else {
            let (second, after_second) = word(after_first);
            match tag_name(second) {
                Some(app) => (Some(first), Some(app), after_second),
                None => (Some(first), None, after_first),
            }
        };
        let (level, message) = level_and_message(h.pri, msg.trim_start_matches(' '));
        Some(Line {
            ts_ms: h.ms,
            level,
            message,
            host: host.filter(|h| !h.is_empty() && *h != "-"),
            service,
            ..Line::default()
        })
    }
}

/// RFC 5424.
pub(crate) struct Syslog5424 {
    clock: Clock,
}

impl Syslog5424 {
    pub(crate) fn new(year: i32) -> Syslog5424 {
        Syslog5424 {
            clock: Clock::new(year),
        }
    }
}

/// Skips structured data (`-` or `[id k="v" ...]...`) at `b[i]`; returns the index after it.
fn structured_data(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        return Some(i + 1);
    }
    while b.get(i) == Some(&b'[') {
        let mut in_quotes = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' => i += 1,
                b'"' => in_quotes = !in_quotes,
                b']' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    Some(i)
}

impl Parser for Syslog5424 {
    type Start = Header;

    #[inline]
    fn start(&mut self, line: &str) -> Option<Header> {
        let b = line.as_bytes();
        let (p, i) = pri(b)?;
        if !b[i..].starts_with(b"1 ") {
            return None;
        }
        let t = i + 2;
        if b.get(t) == Some(&b'-') {
            return Some(Header {
                ms: None,
                pri: Some(p),
                body: t + 1,
            });
        }
        let (ms, n) = self.clock.parse_iso(&b[t..])?;
        Some(Header {
            ms: Some(ms),
            pri: Some(p),
            body: t + n,
        })
    }

    fn parse<'a>(&mut self, line: &'a str, h: Header, _: &'a mut String) -> Option<Line<'a>> {
        let rest = line.get(h.body..)?.strip_prefix(' ')?;
        let (host, rest) = word(rest);
        let (app, rest) = word(rest);
        let (_procid, rest) = word(rest);
        let (_msgid, rest) = word(rest);
        let sd_end = structured_data(rest.as_bytes(), 0)?;
        let msg = rest.get(sd_end..)?.strip_prefix(' ').unwrap_or("");
        let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
        let nil = |s: &'a str| (!s.is_empty() && s != "-").then_some(s);
        let (level, message) = level_and_message(h.pri, msg);
        Some(Line {
            ts_ms: h.ms,
            level,
            message,
            host: nil(host),
            service: nil(app),
            ..Line::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<P: Parser, R>(mut p: P, line: &str, f: impl FnOnce(Option<Line<'_>>) -> R) -> R {
        let mut scratch = String::new();
        let parsed = p.start(line).and_then(|h| p.parse(line, h, &mut scratch));
        f(parsed)
    }

    /// What `p` reads from `line`: time, level, host, service and message; `None` when it
    /// reads no record.
    type Fields = (
        Option<i64>,
        Option<Level>,
        Option<String>,
        Option<String>,
        String,
    );
    fn fields<P: Parser>(p: P, line: &str) -> Option<Fields> {
        with(p, line, |l| {
            l.map(|l| {
                let text = |s: Option<&str>| s.map(str::to_string);
                (
                    l.ts_ms,
                    l.level,
                    text(l.host),
                    text(l.service),
                    l.message.to_string(),
                )
            })
        })
    }

    /// `(line, ts_ms, level, host, service, message)`.
    type Case<'a> = (
        &'a str,
        Option<i64>,
        Option<Level>,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );

    fn check<P: Parser>(parser: impl Fn() -> P, cases: &[Case<'_>]) {
        for &(line, ts, level, host, service, message) in cases {
            let want = (
                ts,
                level,
                host.map(str::to_string),
                service.map(str::to_string),
            );
            let want = (want.0, want.1, want.2, want.3, message.to_string());
            assert_eq!(fields(parser(), line), Some(want), "{line}");
        }
    }

    #[test]
    fn rfc3164() {
        const T: Option<i64> = Some(1_763_029_395_000);
        let (e, i) = (Some(Level::Error), Some(Level::Info));
        check(
            || Syslog3164::new(2025),
            &[
                (
                    "<11>Nov 13 10:23:15 frontend-02 shop[123]: db timeout",
                    T,
                    e,
                    Some("frontend-02"),
                    Some("shop"),
                    "db timeout",
                ),
                (
                    "Nov  3 10:23:15 combo sshd(pam_unix)[19939]: ERROR: authentication failure",
                    Some(1_762_165_395_000),
                    e,
                    Some("combo"),
                    Some("sshd(pam_unix)"),
                    "authentication failure",
                ),
                (
                    "<30>Nov 13 10:23:15 app: no host here",
                    T,
                    i,
                    None,
                    Some("app"),
                    "no host here",
                ),
                (
                    "2025-11-13T12:23:15.5+02:00 web-1 nginx[9]: started",
                    Some(1_763_029_395_500),
                    None,
                    Some("web-1"),
                    Some("nginx"),
                    "started",
                ),
            ],
        );
        let mut s = Syslog3164::new(2025);
        assert!(
            s.looks_like("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure;")
        );
        assert!(!s.looks_like("2025-11-13 10:23:15 ERROR component: message"));
        assert!(!s.looks_like("2025-11-13 10:23:15 [main] INFO x"));
    }

    #[test]
    fn rfc5424() {
        let line = "<34>1 2025-11-13T10:23:15.003Z mymachine.example.com su - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\]lication\"][x@1 a=\"b\"] \u{feff}'su root' failed";
        check(
            || Syslog5424::new(2025),
            &[
                (
                    line,
                    Some(1_763_029_395_003),
                    Some(Level::Fatal),
                    Some("mymachine.example.com"),
                    Some("su"),
                    "'su root' failed",
                ),
                (
                    "<165>1 2025-11-13T10:23:15+01:00 - - - - -",
                    Some(1_763_025_795_000),
                    Some(Level::Notice),
                    None,
                    None,
                    "",
                ),
                (
                    "<13>1 - host app - - - no time",
                    None,
                    Some(Level::Notice),
                    Some("host"),
                    Some("app"),
                    "no time",
                ),
            ],
        );
        let v2 = fields(
            Syslog5424::new(2025),
            "<13>2 2025-11-13T10:23:15Z h a - - - v2",
        );
        assert_eq!(v2, None);
    }
}
