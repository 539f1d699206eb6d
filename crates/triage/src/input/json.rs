//! JSON lines, including Switchyard's own access log and stderr log.
//!
//! A hand-written scan of the top-level object: it looks only at the keys triage reads, skips
//! every other value without building it, and borrows string values straight from the line.
//! Only a string that contains escapes is decoded, into a scratch buffer the scanner reuses.
//! Lines with Switchyard's access-log keys in their usual order take a faster walk first
//! ([`known_order`]); what it does not read comes here.

mod access;
#[cfg(test)]
mod bench;
mod known_order;

use super::bytes::find2;
use super::level::{from_severity, level_word};
use super::scan::Parser;
use super::time::{epoch_number, Clock};
use crate::record::{Access, Detail, Level, Line, Request};

/// A line that starts with `{` starts a record; other lines continue the one above
/// (a stack trace printed around the logger, say).
pub(crate) struct Json {
    clock: Clock,
    detail: Detail,
}

impl Json {
    pub(crate) fn new(year: i32) -> Json {
        Json {
            clock: Clock::new(year),
            detail: Detail::Full,
        }
    }

    /// Fills only what `detail` asks for.
    pub(crate) fn with_detail(self, detail: Detail) -> Json {
        Json { detail, ..self }
    }
}

/// What a value is; its text is `line[start..end]` (a string's contents between the quotes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    /// A string with escapes still in it.
    Escaped,
    Num,
    Null,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Value {
    kind: Kind,
    start: usize,
    end: usize,
}

// The fields triage reads, as indexes into `Fields`.
const TS: usize = 0;
const LEVEL: usize = 1;
const MSG: usize = 2;
const REQUEST_ID: usize = 3;
const HOST: usize = 4;
const SERVER: usize = 5;
const SERVICE: usize = 6;
const STATUS: usize = 7;
const UPSTREAM_STATUS: usize = 8;
const POOL: usize = 9;
const METHOD: usize = 10;
const PATH: usize = 11;
const ERROR: usize = 12;
const DURATION: usize = 13;
const TRACE_ID: usize = 14;
/// OpenTelemetry's `severity_number`.
const SEVERITY_NUMBER: usize = 15;

/// The first value seen for each field.
type Fields = [Option<Value>; 16];

/// Which field a key fills. Keys are told apart by length first, so a key triage does not
/// read costs a compare or two.
#[inline]
fn slot(key: &[u8]) -> Option<usize> {
    Some(match key.len() {
        2 => match key {
            b"ts" | b"@t" => TS,
            b"@l" => LEVEL,
            b"@m" => MSG,
            _ => return None,
        },
        3 => match key {
            b"lvl" => LEVEL,
            b"msg" => MSG,
            b"app" => SERVICE,
            b"err" => ERROR,
            _ => return None,
        },
        4 => match key {
            b"time" => TS,
            b"host" => HOST,
            b"pool" => POOL,
            b"path" => PATH,
            b"body" => MSG,
            _ => return None,
        },
        5 => match key {
            b"level" => LEVEL,
            b"error" => ERROR,
            _ => return None,
        },
        6 => match key {
            b"status" => STATUS,
            b"method" => METHOD,
            b"server" => SERVER,
            b"req_id" => REQUEST_ID,
            _ => return None,
        },
        7 => match key {
            b"message" => MSG,
            b"service" => SERVICE,
            b"traceId" => TRACE_ID,
            _ => return None,
        },
        8 => match key {
            b"severity" | b"loglevel" => LEVEL,
            b"trace_id" => TRACE_ID,
            b"hostname" => HOST,
            _ => return None,
        },
        9 => match key {
            b"timestamp" => TS,
            b"log.level" => LEVEL,
            b"requestId" => REQUEST_ID,
            b"host.name" => HOST,
            _ => return None,
        },
        10 => match key {
            b"@timestamp" => TS,
            b"request_id" => REQUEST_ID,
            _ => return None,
        },
        11 if key == b"duration_ms" => DURATION,
        12 => match key {
            b"service_name" | b"service.name" => SERVICE,
            b"timeUnixNano" => TS,
            _ => return None,
        },
        13 if key == b"severity_text" => LEVEL,
        14 if key == b"time_unix_nano" => TS,
        15 if key == b"severity_number" => SEVERITY_NUMBER,
        15 if key == b"upstream_status" => UPSTREAM_STATUS,
        _ => return None,
    })
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// A string starting at the quote `b[i]`: (contents start, contents end, escaped, after).
#[inline]
fn string(b: &[u8], i: usize) -> Option<(usize, usize, bool, usize)> {
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        j = find2(b'"', b'\\', b, j)?;
        if b[j] == b'"' {
            return Some((start, j, escaped, j + 1));
        }
        escaped = true;
        j += 2;
        if j > b.len() {
            return None;
        }
    }
}

/// Skips a nested object or array starting at `b[i]`; returns the index after it.
fn nested(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string(b, i)?.3;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A byte a number goes on with: a digit, a sign, a point or an exponent.
#[inline(always)]
fn is_number_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// A number, `true`, `false` or `null` at `b[i]`: its kind and where its text starts and ends
/// (the value ends there too).
#[inline(always)]
fn bare(b: &[u8], i: usize) -> Option<(Kind, usize, usize)> {
    let end = match *b.get(i)? {
        b'-' | b'0'..=b'9' => {
            let mut e = i + 1;
            while e < b.len() && is_number_byte(b[e]) {
                e += 1;
            }
            return Some((Kind::Num, i, e));
        }
        b'n' if literal(b, i, b"null") => return Some((Kind::Null, i, i + 4)),
        b't' if literal(b, i, b"true") => i + 4,
        b'f' if literal(b, i, b"false") => i + 5,
        _ => return None,
    };
    Some((Kind::Other, i, end))
}

/// Whether `b[at..]` starts with `word`. With `word` a constant this is a compare of a fixed
/// size, which the compiler does in registers rather than with a call.
#[inline(always)]
fn literal(b: &[u8], at: usize, word: &[u8]) -> bool {
    b.get(at..at + word.len()) == Some(word)
}

/// Walks the top-level object, noting the first value of each field triage reads. `None`
/// when the line is not one complete JSON object.
fn scan(b: &[u8], fields: &mut Fields) -> Option<()> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (ks, ke, _, after) = string(b, i)?;
        let slot = slot(&b[ks..ke]);
        i = skip_ws(b, after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (kind, start, end) = match *b.get(i)? {
            b'"' => {
                let (s, e, escaped, after) = string(b, i)?;
                i = after;
                (if escaped { Kind::Escaped } else { Kind::Str }, s, e)
            }
            b'{' | b'[' => {
                let start = i;
                i = nested(b, i)?;
                (Kind::Other, start, i)
            }
            _ => {
                let (kind, start, end) = bare(b, i)?;
                i = end;
                (kind, start, end)
            }
        };
        if let Some(k) = slot {
            if fields[k].is_none() {
                fields[k] = Some(Value { kind, start, end });
            }
        }
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

/// Decodes JSON escapes in `raw` onto the end of `out`.
fn unescape(raw: &str, out: &mut String) {
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex = |chars: &mut std::str::Chars<'_>| {
                    let s: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&s, 16).ok()
                };
                let Some(hi) = hex(&mut chars) else {
                    out.push('\u{fffd}');
                    continue;
                };
                let code = if (0xd800..0xdc00).contains(&hi) {
                    let rest = chars.as_str();
                    match rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                    {
                        Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                            chars = rest[6..].chars();
                            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                        }
                        _ => 0xfffd,
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
}

/// A text field: borrowed from the line, or decoded into the scratch buffer.
#[derive(Clone, Copy)]
enum Text<'a> {
    Line(&'a str),
    Scratch(usize, usize),
}

/// A field as text: borrowed from the line, or decoded into `scratch` when it has escapes.
#[inline(always)]
fn text<'a>(line: &'a str, v: Option<Value>, scratch: &mut String) -> Option<Text<'a>> {
    let v = v?;
    match v.kind {
        Kind::Str | Kind::Num => line.get(v.start..v.end).map(Text::Line),
        Kind::Escaped => {
            let start = scratch.len();
            unescape(line.get(v.start..v.end)?, scratch);
            Some(Text::Scratch(start, scratch.len()))
        }
        Kind::Null | Kind::Other => None,
    }
}

#[inline(always)]
fn resolve<'a>(t: Option<Text<'a>>, scratch: &'a str) -> Option<&'a str> {
    match t? {
        Text::Line(s) => Some(s),
        Text::Scratch(s, e) => Some(&scratch[s..e]),
    }
}

/// A status code, written as a number or a string.
#[inline(always)]
fn number(line: &str, v: Option<Value>) -> Option<u16> {
    let v = v?;
    match v.kind {
        Kind::Num | Kind::Str => {
            let text = line.get(v.start..v.end)?;
            digits(text.as_bytes()).or_else(|| text.parse().ok())
        }
        _ => None,
    }
}

/// Up to five ASCII digits as a number, the common shape of a status code.
#[inline]
fn digits(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    u16::try_from(n).ok()
}

#[inline]
fn level(line: &str, v: Option<Value>) -> Option<Level> {
    let v = v?;
    let text = line.get(v.start..v.end)?;
    match v.kind {
        Kind::Str | Kind::Escaped => level_word(text.trim().as_bytes()),
        // pino/bunyan levels, then syslog severities
        Kind::Num => match text.parse::<u32>().ok()? {
            n @ 0..=7 => Some(from_severity(n as u8)),
            10 => Some(Level::Trace),
            20 => Some(Level::Debug),
            30 => Some(Level::Info),
            40 => Some(Level::Warn),
            50 => Some(Level::Error),
            60 => Some(Level::Fatal),
            _ => None,
        },
        _ => None,
    }
}

impl Json {
    /// The time a `ts`-like value names, in ms since the epoch.
    #[inline]
    fn time(&mut self, line: &str, v: Value) -> Option<i64> {
        let text = line.get(v.start..v.end)?;
        match v.kind {
            // OTLP JSON writes nanoseconds as a string of digits.
            // (A date's dash after the year settles it at once.)
            Kind::Str
                if text.as_bytes().get(4) != Some(&b'-')
                    && !text.is_empty()
                    && text.bytes().all(|b| b.is_ascii_digit()) =>
            {
                epoch_number(text)
            }
            Kind::Str | Kind::Escaped => self.clock.parse_start(text.as_bytes()).map(|(ms, _)| ms),
            Kind::Num => epoch_number(text),
            _ => None,
        }
    }
}

impl Parser for Json {
    type Start = ();

    #[inline]
    fn start(&mut self, line: &str) -> Option<()> {
        (line.as_bytes().first() == Some(&b'{')).then_some(())
    }

    /// The proxy's own access-log line, read exactly ([`access::exact`]), when counting and
    /// it is not an error: what [`Json::parse`] gives for it, without building the line.
    #[inline]
    fn request<'a>(&mut self, line: &'a str, _start: ()) -> Option<Request<'a>> {
        if self.detail != Detail::Counts {
            return None;
        }
        // The four fields counting reads; the walk fills them for every line it reads, and
        // `parse` takes such a line as a request (it has a status and a pool, if only `null`)
        // that names no host.
        let (mut ts, mut status, mut pool, mut server) = (None, None, None, None);
        access::walk(line.as_bytes(), |slot, v| match slot {
            TS => ts = Some(v),
            STATUS => status = Some(v),
            POOL => pool = Some(v),
            SERVER => server = Some(v),
            _ => {}
        })?;
        let status = number(line, status).filter(|&s| s < 500)?;
        let ts_ms = self.time(line, ts?)?;
        // No escapes: the walk gives up on a backslash.
        let plain = |v: Option<Value>| match v {
            Some(Value {
                kind: Kind::Str | Kind::Num,
                start,
                end,
            }) => line.get(start..end),
            _ => None,
        };
        Some(Request {
            ts_ms,
            status,
            pool: plain(pool),
            server: plain(server),
        })
    }

    fn parse<'a>(
        &mut self,
        line: &'a str,
        _start: (),
        scratch: &'a mut String,
    ) -> Option<Line<'a>> {
        let mut f: Fields = [None; 16];
        if known_order::scan(line.as_bytes(), &mut f).is_none() {
            f = [None; 16];
            scan(line.as_bytes(), &mut f)?;
        }
        let ts_ms = f[TS].and_then(|v| self.time(line, v));
        let level = level(line, f[LEVEL]).or_else(|| {
            let n = f[SEVERITY_NUMBER]?;
            Level::from_otel(line.get(n.start..n.end)?.parse().ok()?)
        });
        // Switchyard's access log: `host` is the request's Host header and `server` the
        // upstream server, so neither names the machine that wrote the line.
        let access_shape =
            f[STATUS].is_some() && (f[POOL].is_some() || f[UPSTREAM_STATUS].is_some());
        let status = number(line, f[STATUS]);
        let full = self.detail == Detail::Full;
        // Counting reads the message (or the proxy's `error`) of errors only.
        let want_message = full
            || level.is_some_and(Level::is_error)
            || (access_shape && status.is_some_and(|s| s >= 500));
        let upstream_status = if full {
            number(line, f[UPSTREAM_STATUS])
        } else {
            None
        };

        let field = |want: bool, k: usize| if want { f[k] } else { None };
        let msg = text(line, field(want_message, MSG), scratch);
        let request_id = text(line, field(full, REQUEST_ID), scratch);
        let trace_id = text(line, field(full, TRACE_ID), scratch);
        let host = if access_shape {
            None
        } else {
            text(line, f[HOST].or(f[SERVER]), scratch)
        };
        let service = text(line, f[SERVICE], scratch);
        let error = text(line, field(want_message, ERROR), scratch);
        let (method, path, pool, server, duration) = if access_shape {
            (
                text(line, field(full, METHOD), scratch),
                text(line, field(full, PATH), scratch),
                text(line, f[POOL], scratch),
                text(line, f[SERVER], scratch),
                text(line, field(full, DURATION), scratch),
            )
        } else {
            (None, None, None, None, None)
        };

        let scratch: &'a String = scratch;
        let error = resolve(error, scratch);
        let access = match (access_shape, status) {
            (true, Some(status)) => Some(Access {
                status,
                upstream_status,
                method: resolve(method, scratch),
                path: resolve(path, scratch),
                pool: resolve(pool, scratch),
                server: resolve(server, scratch),
                error,
                duration_ms: resolve(duration, scratch),
            }),
            _ => None,
        };
        let trace_id = resolve(trace_id, scratch).filter(|t| !t.is_empty());
        Some(Line {
            ts_ms,
            level,
            message: resolve(msg, scratch).or(error).unwrap_or(""),
            host: resolve(host, scratch),
            service: resolve(service, scratch),
            // A record without a request id is followed by its trace id, as before OTel.
            request_id: resolve(request_id, scratch).or(trace_id),
            trace_id,
            access,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(line: &str, f: impl FnOnce(Option<Line<'_>>) -> R) -> R {
        let mut scratch = String::new();
        let mut p = Json::new(2025);
        let parsed = p.start(line).and_then(|()| p.parse(line, (), &mut scratch));
        f(parsed)
    }

    #[test]
    fn switchyard_access_log() {
        let line = r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r-1","client":"10.0.0.9:5123","listener":"main","method":"GET","path":"/api/inventory/42","host":"shop.example","protocol":"HTTP/1.1","status":500,"pool":"inventory","server":"inventory-4","server_address":"192.168.1.45:8080","upstream_status":404,"duration_ms":3.25,"bytes_sent":120,"attempts":1,"error":"upstream answered 404"}"#;
        with(line, |l| {
            let l = l.unwrap();
            assert_eq!(l.ts_ms, Some(1_763_029_395_123));
            assert_eq!(l.host, None, "the Host header is not the machine");
            assert_eq!(l.request_id, Some("r-1"));
            assert_eq!(l.message, "upstream answered 404");
            let a = l.access.clone().unwrap();
            assert_eq!(a.status, 500);
            assert_eq!(a.upstream_status, Some(404));
            assert_eq!((a.method, a.path), (Some("GET"), Some("/api/inventory/42")));
            assert_eq!((a.pool, a.server), (Some("inventory"), Some("inventory-4")));
            assert!(l.is_error());
        });
        let ok = r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r-2","method":"GET","path":"/","host":"h","status":200,"pool":null,"server":null,"upstream_status":null,"error":null}"#;
        with(ok, |l| {
            let a = l.unwrap().access.unwrap();
            assert_eq!(
                (a.status, a.upstream_status, a.server, a.error),
                (200, None, None, None)
            );
        });
    }

    #[test]
    fn counts_leave_out_what_counting_does_not_read() {
        let counts = |line: &str| {
            let mut scratch = String::new();
            let mut p = Json::new(2025).with_detail(Detail::Counts);
            p.start(line)?;
            p.parse(line, (), &mut scratch).map(|l| format!("{l:?}"))
        };
        let full = |line: &str| with(line, |l| l.map(|l| format!("{l:?}")));
        let error = r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r-1","client":"10.0.0.9:5123","listener":"main","method":"GET","path":"/api/inventory/42","host":"shop.example","protocol":"HTTP/1.1","status":502,"pool":"inventory","server":"inventory-4","server_address":"192.168.1.45:8080","upstream_status":null,"duration_ms":3.25,"bytes_sent":120,"attempts":1,"error":"connect refused"}"#;
        let ok = error
            .replace("502", "200")
            .replace(r#""connect refused""#, "null");
        let app = r#"{"ts":"2025-11-13T10:23:15Z","level":"info","msg":"started","request_id":"r-2","host":"web-1","service":"cart"}"#;
        let app_error = app.replace("info", "error");
        let mut scratch = String::new();
        let mut p = Json::new(2025).with_detail(Detail::Counts);
        let l = p.parse(error, (), &mut scratch).unwrap();
        let a = l.access.clone().unwrap();
        assert_eq!(
            (l.ts_ms, l.host, l.request_id, l.trace_id),
            (Some(1_763_029_395_123), None, None, None)
        );
        assert_eq!(
            (a.status, a.pool, a.server),
            (502, Some("inventory"), Some("inventory-4"))
        );
        assert_eq!(
            (a.method, a.path, a.duration_ms, a.upstream_status),
            (None, None, None, None)
        );
        assert_eq!(
            (l.message, a.error),
            ("connect refused", Some("connect refused"))
        );
        assert!(l.is_error());
        for line in [&ok, app] {
            let c = counts(line).unwrap();
            assert!(c.contains(r#"message: """#) && !c.contains("r-"), "{c}");
            assert_ne!(Some(c), full(line));
        }
        let c = counts(&app_error).unwrap();
        assert!(
            c.contains(r#"message: "started""#) && c.contains("web-1") && c.contains("cart"),
            "{c}"
        );
        assert_eq!(counts("{broken"), None);
    }

    /// A request read for counting is the line `parse` gives for it; errors, other lines and
    /// a full reading take `parse` itself.
    #[test]
    fn requests_read_for_counting_are_the_lines_parse_gives() {
        let mut lines = bench::access_lines(2_000);
        lines.extend([
            // Escapes, a null pool and server, a bad time, a status as text, a 5xx: `parse`.
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r","client":"c","listener":"l","method":"GET","path":"/a\"b","host":"h","protocol":"HTTP/1.1","status":200,"pool":"p","server":"s","server_address":"a","upstream_status":200,"duration_ms":1.5,"bytes_sent":1,"attempts":1,"error":null}"#.to_string(),
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r","client":"c","listener":"l","method":"GET","path":"/","host":"h","protocol":"HTTP/1.1","status":404,"pool":null,"server":null,"server_address":null,"upstream_status":null,"duration_ms":0.1,"bytes_sent":0,"attempts":0,"error":null}"#.to_string(),
            r#"{"ts":"yesterday","request_id":"r","client":"c","listener":"l","method":"GET","path":"/","host":"h","protocol":"HTTP/1.1","status":200,"pool":"p","server":"s","server_address":"a","upstream_status":200,"duration_ms":1,"bytes_sent":1,"attempts":1,"error":null}"#.to_string(),
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r","client":"c","listener":"l","method":"GET","path":"/","host":"h","protocol":"HTTP/1.1","status":"204","pool":"p","server":"s","server_address":"a","upstream_status":204,"duration_ms":1,"bytes_sent":1,"attempts":1,"error":null}"#.to_string(),
        ]);
        let mut quick = Json::new(2025).with_detail(Detail::Counts);
        let mut whole = Json::new(2025).with_detail(Detail::Counts);
        let mut full = Json::new(2025);
        let (mut requests, mut parsed) = (0, 0);
        for line in &lines {
            let mut scratch = String::new();
            let want = whole.parse(line, (), &mut scratch);
            assert_eq!(full.request(line, ()), None, "{line}");
            match quick.request(line, ()) {
                Some(r) => {
                    requests += 1;
                    assert_eq!(Some(r.line()), want, "{line}");
                }
                None => {
                    parsed += 1;
                    let error = want.as_ref().is_some_and(Line::is_error);
                    let odd = !line.contains(r#""pool":"inventory""#)
                        && !line.contains(r#""pool":"billing""#)
                        && !line.contains(r#""pool":"auth""#)
                        && !line.contains(r#""pool":"frontend""#);
                    assert!(error || odd, "{line}");
                }
            }
        }
        assert!(requests > 1_000 && parsed > 100, "{requests} {parsed}");
        let text_status = lines.last().unwrap();
        assert_eq!(quick.request(text_status, ()).map(|r| r.status), Some(204));
    }

    #[test]
    fn switchyard_stderr_log_and_others() {
        let line = r#"{"ts":"2025-11-13T10:23:15.003Z","level":"error","msg":"health check failed","server":"inventory-4","pool":"inventory","service":"lb"}"#;
        with(line, |l| {
            let l = l.unwrap();
            assert_eq!(
                (l.level, l.message, l.host, l.service),
                (
                    Some(Level::Error),
                    "health check failed",
                    Some("inventory-4"),
                    Some("lb")
                )
            );
            assert!(l.access.is_none());
        });
        let line = r#"{"@timestamp": "2025-11-13T12:23:15+02:00", "severity": "WARNING", "message": "a \"quoted\"\nline \u00e9\ud83d\ude00", "hostname": "web-1", "app": "cart", "trace_id": "t9"}"#;
        with(line, |l| {
            let l = l.unwrap();
            assert_eq!(l.ts_ms, Some(1_763_029_395_000));
            assert_eq!(l.level, Some(Level::Warn));
            assert_eq!(l.message, "a \"quoted\"\nline é😀");
            assert_eq!(
                (l.host, l.service, l.request_id),
                (Some("web-1"), Some("cart"), Some("t9"))
            );
        });
        with(
            r#"{"time":1763029395,"level":50,"msg":"x","nested":{"a":[1,{"b":"}"}]},"ok":true}"#,
            |l| {
                let l = l.unwrap();
                assert_eq!(
                    (l.ts_ms, l.level),
                    (Some(1_763_029_395_000), Some(Level::Error))
                );
            },
        );
        with(
            r#"{"timestamp":1763029395123.0,"lvl":"e","message":"y"}"#,
            |l| {
                assert_eq!(l.unwrap().ts_ms, Some(1_763_029_395_123));
            },
        );
    }

    #[test]
    fn broken_objects() {
        for bad in [
            r#"{"ts":"2025-11-13T10:23:15Z","msg":"trunc"#,
            r#"{"a" 1}"#,
            r#"{"a":1"#,
            "{",
            r#"{"a":tru}"#,
        ] {
            with(bad, |l| assert!(l.is_none(), "{bad}"));
        }
        with("{}", |l| assert_eq!(l.unwrap(), Line::default()));
    }
}
