//! Telling a file's format from its first lines.

use super::combined::Combined;
use super::scan::Parser;
use super::syslog::{Syslog3164, Syslog5424};
use super::time::Clock;
use super::Format;

/// Lines looked at.
const SAMPLE_LINES: usize = 200;

/// Each format in the order that wins a tie: the more specific shapes first.
const ORDER: [Format; 5] = [
    Format::Json,
    Format::Syslog5424,
    Format::Combined,
    Format::Syslog3164,
    Format::Plain,
];

pub(crate) fn detect(sample: &[u8]) -> Format {
    // An OTLP/JSON export is told by its first record line alone.
    let first = sample
        .split(|&c| c == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace));
    if first
        .and_then(|l| std::str::from_utf8(l).ok())
        .is_some_and(super::otlp::is_export)
    {
        return Format::Otlp;
    }
    let mut clock = Clock::new(2000);
    let mut s3164 = Syslog3164::new(2000);
    let mut s5424 = Syslog5424::new(2000);
    let mut combined = Combined::new(2000);
    let mut scratch = String::new();
    let mut votes = [0usize; 5];
    let mut lines = sample.split(|&c| c == b'\n').peekable();
    let mut seen = 0;
    while let Some(raw) = lines.next() {
        // The sample may end inside a line: the last piece is only a guess at a line.
        if lines.peek().is_none() && !sample.ends_with(b"\n") && seen > 0 {
            break;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(line) = std::str::from_utf8(raw) else {
            continue;
        };
        if line.trim().is_empty() || raw.contains(&0) {
            continue;
        }
        seen += 1;
        if seen > SAMPLE_LINES {
            break;
        }
        let b = line.as_bytes();
        if b[0] == b'{' {
            votes[0] += 1;
        }
        if s5424.start(line).is_some() {
            votes[1] += 1;
        }
        scratch.clear();
        if combined.parse(line, (), &mut scratch).is_some() {
            votes[2] += 1;
        }
        // A syslog line also starts with a timestamp: it votes for syslog only.
        if s3164.looks_like(line) {
            votes[3] += 1;
        } else if clock.parse_start(b).is_some() {
            votes[4] += 1;
        }
    }
    let best = (0..ORDER.len())
        .max_by_key(|&i| (votes[i], std::cmp::Reverse(i)))
        .unwrap_or(4);
    if votes[best] == 0 {
        Format::Plain
    } else {
        ORDER[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format() {
        let cases = [
            (
                "2025-11-13 10:23:15 ERROR: x\n  Server: a\n2025-11-13 10:23:16 INFO y\n",
                Format::Plain,
            ),
            (
                "{\"ts\":\"2025-11-13T10:23:15Z\",\"msg\":\"x\"}\n{\"ts\":1,\"msg\":\"y\"}\n",
                Format::Json,
            ),
            (
                "1.2.3.4 - - [13/Nov/2025:10:23:15 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\"\n",
                Format::Combined,
            ),
            (
                "<34>Nov 13 10:23:15 host app[1]: x\nNov 13 10:23:16 host app[1]: y\n",
                Format::Syslog3164,
            ),
            (
                "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown\n",
                Format::Syslog3164,
            ),
            (
                "<34>1 2025-11-13T10:23:15.003Z host app 1 ID - x\n",
                Format::Syslog5424,
            ),
            ("", Format::Plain),
            ("no timestamps at all\nanywhere\n", Format::Plain),
        ];
        for (sample, want) in cases {
            assert_eq!(detect(sample.as_bytes()), want, "{sample}");
        }
    }

    #[test]
    fn mixed_samples_go_by_majority() {
        let mut s = String::from("starting up (no timestamp)\n\u{1}\u{0}binary\n");
        for i in 0..10 {
            s.push_str(&format!(
                "{{\"ts\":\"2025-11-13T10:23:{i:02}Z\",\"level\":\"info\",\"msg\":\"m\"}}\n"
            ));
        }
        s.push_str("2025-11-13 10:23:15 ERROR: printed around the logger\n");
        s.push_str("{\"ts\":\"2025-11-13T10:23:59Z\",\"msg\":\"cut in the mi");
        assert_eq!(detect(s.as_bytes()), Format::Json);

        let mut s = String::new();
        for i in 0..5 {
            s.push_str(&format!(
                "2025-11-13T10:23:{i:02}Z frontend-02 shop[12]: message {i}\n"
            ));
        }
        s.push_str("2025-11-13 10:23:15 ERROR: one plain line\n");
        assert_eq!(detect(s.as_bytes()), Format::Syslog3164);

        let mut s = String::new();
        for i in 0..5 {
            s.push_str(&format!(
                "2025-11-13 10:23:{i:02},123 INFO [main] Component: message {i}\n"
            ));
        }
        s.push_str("<34>1 2025-11-13T10:23:15.003Z host app 1 ID - x\n");
        assert_eq!(detect(s.as_bytes()), Format::Plain);
    }
}
