//! Finding the level word after a timestamp, and where the message begins.

use crate::record::Level;

/// The words [`Level::parse`] accepts, matched without allocating or trimming; the test below
/// keeps the two in step.
#[inline]
pub(crate) fn level_word(w: &[u8]) -> Option<Level> {
    let is = |s: &[u8]| w.eq_ignore_ascii_case(s);
    // The usual four- and five-letter words as one integer compare (`| 0x20` lowers ASCII
    // capitals and maps no other byte onto a lowercase letter).
    const fn word(s: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*s)
    }
    let lower4 = |w: &[u8]| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | 0x2020_2020;
    match w.len() {
        4 => match lower4(w) {
            x if x == word(b"info") => return Some(Level::Info),
            x if x == word(b"warn") => return Some(Level::Warn),
            _ => {}
        },
        5 => match (lower4(w), w[4] | 0x20) {
            (x, b'r') if x == word(b"erro") => return Some(Level::Error),
            (x, b'g') if x == word(b"debu") => return Some(Level::Debug),
            _ => {}
        },
        _ => {}
    }
    match w.len() {
        1 => match w[0] | 0x20 {
            b'e' => Some(Level::Error),
            b'f' => Some(Level::Fatal),
            b'w' => Some(Level::Warn),
            b'i' => Some(Level::Info),
            b'd' => Some(Level::Debug),
            b't' => Some(Level::Trace),
            _ => None,
        },
        3 if is(b"err") => Some(Level::Error),
        4 => match w[0] | 0x20 {
            b'i' if is(b"info") => Some(Level::Info),
            b'w' if is(b"warn") => Some(Level::Warn),
            b'c' if is(b"crit") => Some(Level::Fatal),
            b'f' if is(b"fine") => Some(Level::Debug),
            _ => None,
        },
        5 => match w[0] | 0x20 {
            b'e' if is(b"error") => Some(Level::Error),
            b'e' if is(b"emerg") => Some(Level::Fatal),
            b'd' if is(b"debug") => Some(Level::Debug),
            b't' if is(b"trace") => Some(Level::Trace),
            b'f' if is(b"fatal") => Some(Level::Fatal),
            b'f' if is(b"finer") => Some(Level::Trace),
            b'a' if is(b"alert") => Some(Level::Fatal),
            b'p' if is(b"panic") => Some(Level::Fatal),
            _ => None,
        },
        6 => match w[0] | 0x20 {
            b'n' if is(b"notice") => Some(Level::Notice),
            b's' if is(b"severe") => Some(Level::Error),
            b'f' if is(b"finest") => Some(Level::Trace),
            _ => None,
        },
        7 if is(b"warning") => Some(Level::Warn),
        8 if is(b"critical") => Some(Level::Fatal),
        11 if is(b"information") => Some(Level::Info),
        _ => None,
    }
}

/// Syslog severity (the low three bits of PRI) as a level.
pub(crate) fn from_severity(severity: u8) -> Level {
    match severity {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 => Level::Notice,
        6 => Level::Info,
        _ => Level::Debug,
    }
}

#[inline]
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'|' | b',' | b'-' | b':')
}

/// Splits what follows a timestamp into the level and the message.
///
/// The level is the first word (`ERROR`, `[error]`, `<W>`, `ERROR:`), or the second or third
/// when the words before it are a thread, a process id or a logger in brackets (`[main] ERROR`,
/// `12345 INFO`); a later word counts only in capitals or brackets, so that a message that
/// happens to say "error" is not taken for a level. The message is the rest after the level
/// and its separator (`:`, `-`, `|`). With no level found the message is the whole `body`
/// without leading separators.
#[inline]
pub(crate) fn split_level(body: &str) -> (Option<Level>, &str) {
    match split_common(body) {
        Some(hit) => hit,
        None => split_any(body),
    }
}

/// The commonest shape, ` INFO: message` (`info`, `warn`, `error` or `debug`, in any case,
/// followed by `:` or a space), read with two word compares instead of a scan. `None` leaves
/// the body to [`split_any`], which gives the same answer for these.
#[inline(always)]
fn split_common(body: &str) -> Option<(Option<Level>, &str)> {
    let b = body.as_bytes();
    let w: &[u8; 6] = b.first_chunk()?;
    if w[0] != b' ' {
        return None;
    }
    // `| 0x20` lowers ASCII capitals and maps no other byte onto a lowercase letter.
    let word = u32::from_le_bytes([w[1], w[2], w[3], w[4]]) | 0x2020_2020;
    let fifth = w[5] | 0x20;
    let (level, end) = match &word.to_le_bytes() {
        b"info" => (Level::Info, 5),
        b"warn" => (Level::Warn, 5),
        b"erro" if fifth == b'r' => (Level::Error, 6),
        b"debu" if fifth == b'g' => (Level::Debug, 6),
        _ => return None,
    };
    match b.get(end) {
        Some(b' ' | b':') | None => Some((Some(level), &body[after_level(b, end)..])),
        _ => None,
    }
}

/// [`split_level`] for any body.
fn split_any(body: &str) -> (Option<Level>, &str) {
    let b = body.as_bytes();
    // The common shape first: ` LEVEL message`, ` LEVEL: message`.
    if b.len() > 2 && b[0] == b' ' && b[1].is_ascii_alphabetic() {
        let mut j = 2;
        while j < b.len() && j < 13 && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        if let (Some(level), Some(b' ' | b':') | None) = (level_word(&b[1..j]), b.get(j)) {
            return (Some(level), &body[after_level(b, j)..]);
        }
    }
    let mut i = 0;
    while i < b.len() && is_sep(b[i]) {
        i += 1;
    }
    let message_start = i;
    for nth in 0..3 {
        if i >= b.len() {
            break;
        }
        let (open, close) = match b[i] {
            b'[' => (true, b']'),
            b'<' => (true, b'>'),
            b'(' => (true, b')'),
            _ => (false, b' '),
        };
        let (word, end) = if open {
            match memchr::memchr(close, &b[i + 1..]) {
                Some(n) => (&b[i + 1..i + 1 + n], i + 2 + n),
                None => break,
            }
        } else {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b' ' | b'\t' | b'|' | b',') {
                j += 1;
            }
            let word = &b[i..j];
            (word.strip_suffix(b":").unwrap_or(word), j)
        };
        let candidate =
            open || nth == 0 || (word.len() >= 4 && word.iter().all(u8::is_ascii_uppercase));
        if candidate {
            if let Some(level) = level_word(trim_ascii(word)) {
                return (Some(level), &body[after_level(b, end)..]);
            }
        }
        i = end;
        while i < b.len() && is_sep(b[i]) {
            i += 1;
        }
    }
    (None, &body[message_start..])
}

/// Where the message starts after a level word ending at `k`: past blanks and a separator
/// that stands alone (`ERROR: x`, `ERROR - x`, `ERROR | x`), but not a `-` that starts a word.
#[inline]
fn after_level(b: &[u8], mut k: usize) -> usize {
    loop {
        while k < b.len() && matches!(b[k], b' ' | b'\t') {
            k += 1;
        }
        let alone = matches!(b.get(k + 1), None | Some(b' ' | b'\t'));
        if k < b.len() && matches!(b[k], b':' | b'-' | b'|' | b']' | b',') && alone {
            k += 1;
        } else {
            return k;
        }
    }
}

fn trim_ascii(w: &[u8]) -> &[u8] {
    let s = w
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(w.len());
    let e = w
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &w[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-compare reading of ` LEVEL: message` agrees with the general one on every
    /// body it takes, and leaves the others to it.
    #[test]
    fn the_common_shape_splits_as_any_shape_does() {
        let mut taken = 0;
        for word in [
            "INFO", "info", "Info", "WARN", "ERROR", "error", "DEBUG", "Debug", "INFOS", "ERRORS",
            "ERRO", "DEBU", "WARNING", "INF0", "iNfO", "info1", "[INFO]", "ERR",
        ] {
            for after in [
                "", ":", ": ", " ", ": x", " x", " - x", ":x", "x", "  :  x", " | x",
            ] {
                let body = format!(" {word}{after}");
                if let Some(hit) = split_common(&body) {
                    taken += 1;
                    assert_eq!(hit, split_any(&body), "{body:?}");
                }
            }
        }
        assert!(taken > 30, "{taken}");
    }

    #[test]
    fn same_words_as_level_parse() {
        let words = [
            "error",
            "ERR",
            "e",
            "E",
            "severe",
            "fatal",
            "CRIT",
            "critical",
            "alert",
            "emerg",
            "panic",
            "f",
            "warn",
            "WARNING",
            "w",
            "notice",
            "info",
            "Information",
            "i",
            "debug",
            "d",
            "fine",
            "trace",
            "t",
            "finer",
            "finest",
            "x",
            "errors",
            "inf",
            "",
            "warnings",
            "dbg",
            "fatality",
        ];
        for w in words {
            assert_eq!(level_word(w.as_bytes()), Level::parse(w), "{w}");
        }
    }

    #[test]
    fn levels_in_headers() {
        let cases = [
            (
                " ERROR: Database connection timeout",
                Some(Level::Error),
                "Database connection timeout",
            ),
            (" [ERROR] message", Some(Level::Error), "message"),
            (
                " ERROR component: message",
                Some(Level::Error),
                "component: message",
            ),
            (
                " INFO [main] org.apache.X: Created",
                Some(Level::Info),
                "[main] org.apache.X: Created",
            ),
            (
                " - INFO  [QuorumPeer[myid=1]/0:2181:X@774] - Notification",
                Some(Level::Info),
                "[QuorumPeer[myid=1]/0:2181:X@774] - Notification",
            ),
            (
                " [main] WARN com.x.Y - slow",
                Some(Level::Warn),
                "com.x.Y - slow",
            ),
            (
                " 25746 INFO nova.api [req-1] GET",
                Some(Level::Info),
                "nova.api [req-1] GET",
            ),
            (
                ", Info                  CBS    Loaded",
                Some(Level::Info),
                "CBS    Loaded",
            ),
            (
                " [error] 123#0: *5 connect() failed",
                Some(Level::Error),
                "123#0: *5 connect() failed",
            ),
            (
                " connection error: refused",
                None,
                "connection error: refused",
            ),
            (
                " request failed with error code 5",
                None,
                "request failed with error code 5",
            ),
            ("", None, ""),
            (" <E> boom", Some(Level::Error), "boom"),
            (
                " ERROR -1 retries left",
                Some(Level::Error),
                "-1 retries left",
            ),
            (" ERROR - broken pipe", Some(Level::Error), "broken pipe"),
            (" WARN | disk 91% full", Some(Level::Warn), "disk 91% full"),
            (" ERROR:", Some(Level::Error), ""),
        ];
        for (body, level, message) in cases {
            assert_eq!(split_level(body), (level, message), "{body:?}");
        }
    }

    #[test]
    fn severities() {
        assert_eq!(from_severity(3), Level::Error);
        assert_eq!(from_severity(0), Level::Fatal);
        assert_eq!(from_severity(6), Level::Info);
    }
}
