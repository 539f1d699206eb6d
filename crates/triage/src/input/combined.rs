//! nginx/Apache access logs in the common and combined formats:
//! `10.0.0.1 - frank [13/Nov/2025:10:23:15 +0000] "GET /x HTTP/1.1" 500 123 "-" "curl/8"`.

use memchr::{memchr, memchr2};

use super::scan::Parser;
use super::time::Clock;
use crate::record::{Access, Line};

/// Every line is a record of its own; one that does not parse is counted as unparsable.
pub(crate) struct Combined {
    clock: Clock,
}

impl Combined {
    pub(crate) fn new(year: i32) -> Combined {
        Combined {
            clock: Clock::new(year),
        }
    }
}

/// The end of a quoted field whose opening quote is just before `b[i]` (`\"` does not end it).
fn closing_quote(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some(i);
        }
        i += 2;
        if i > b.len() {
            return None;
        }
    }
}

fn token_end(b: &[u8], i: usize) -> usize {
    memchr(b' ', &b[i..]).map_or(b.len(), |n| i + n)
}

impl Parser for Combined {
    type Start = ();

    fn parse<'a>(&mut self, line: &'a str, _start: (), _: &'a mut String) -> Option<Line<'a>> {
        let b = line.as_bytes();
        let open = memchr(b'[', b)?;
        let (ts_ms, n) = self.clock.parse_clf(&b[open + 1..])?;
        let mut i = open + 1 + n;
        if !b[i..].starts_with(b"] \"") {
            return None;
        }
        let quote = i + 2;
        let request_end = closing_quote(b, quote + 1)?;
        let request = &line[quote + 1..request_end];
        i = request_end + 1;
        if b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let status_end = token_end(b, i);
        let status: u16 = line[i..status_end]
            .parse()
            .ok()
            .filter(|s| (100..1000).contains(s))?;
        let bytes_end = if status_end < b.len() {
            token_end(b, status_end + 1)
        } else {
            status_end
        };
        let mut parts = request.split(' ');
        let method = parts
            .next()
            .filter(|m| !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()));
        let path = method.and(parts.next()).filter(|p| !p.is_empty());
        Some(Line {
            ts_ms: Some(ts_ms),
            message: &line[quote..bytes_end],
            access: Some(Access {
                status,
                method,
                path,
                ..Access::default()
            }),
            ..Line::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(line: &str, f: impl FnOnce(Option<Line<'_>>) -> R) -> R {
        let mut scratch = String::new();
        f(Combined::new(2025).parse(line, (), &mut scratch))
    }

    #[test]
    fn combined_and_common() {
        let line = r#"10.0.0.1 - frank [13/Nov/2025:12:23:15 +0200] "GET /api/inventory/42?x=\"1\" HTTP/1.1" 502 157 "https://shop/" "Mozilla/5.0 (X11)""#;
        with(line, |l| {
            let l = l.unwrap();
            assert_eq!(l.ts_ms, Some(1_763_029_395_000));
            let a = l.access.clone().unwrap();
            assert_eq!(
                (a.status, a.method, a.path),
                (502, Some("GET"), Some(r#"/api/inventory/42?x=\"1\""#))
            );
            assert_eq!(
                l.message,
                r#""GET /api/inventory/42?x=\"1\" HTTP/1.1" 502 157"#
            );
            assert!(l.is_error());
        });
        with(r#"::1 - - [13/Nov/2025:10:23:15 -0000] "-" 400 0"#, |l| {
            let l = l.unwrap();
            assert!(!l.is_error(), "a 4xx is not an error by itself");
            let a = l.access.unwrap();
            assert_eq!((a.status, a.method, a.path), (400, None, None));
        });
        with(
            r#"1.2.3.4 - - [13/Nov/2025:10:23:15 +0000] "POST /login HTTP/2.0" 404"#,
            |l| {
                assert_eq!(l.unwrap().access.unwrap().status, 404);
            },
        );
    }

    #[test]
    fn not_access_lines() {
        for bad in [
            "hello",
            r#"1.2.3.4 - - [13/Nov/2025:10:23:15 +0000] "GET / HTTP/1.1"#,
            r#"1.2.3.4 - - [13/Nov/2025:10:23:15 +0000] "GET / HTTP/1.1" abc 1"#,
            "1.2.3.4 - - [nope] \"GET\" 200 1",
        ] {
            with(bad, |l| assert!(l.is_none(), "{bad}"));
        }
    }
}
