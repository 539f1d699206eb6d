//! The fast path for JSON lines whose keys come in a known order: Switchyard's access log,
//! written compact by `serde_json` with its fields always in the same order.
//!
//! The quotes and backslashes of the whole line are found first, 64 bytes at a time; with no
//! backslash, every quote opens or closes a key or a string, so the walk takes them in order
//! without searching. Each key is checked against the one expected next with two word
//! compares, and its value is taken between its quotes or up to the next `,`. A key that is
//! not the expected one is looked up as the general scanner does and the walk goes on, so
//! other logs with a stable key order lose little. Anything else (a backslash, white space, a
//! nested value, a line shorter than 64 or longer than 1,024 bytes) gives up, and the general
//! scanner reads the line.
//!
//! A line with exactly the proxy's keys in the proxy's order (nearly every line of its access
//! log) is read first by [`super::access`]; any difference sends it to the walk above.

use super::{bare, slot, Fields, Kind, Value};
use crate::input::bytes::masks_without;

/// Longest line the fast path reads.
const MAX_LINE: usize = 1024;
const WORDS: usize = MAX_LINE / 64;

/// The quotes of a line without backslashes, each taken once, in order.
struct Quotes {
    masks: [u64; WORDS],
    words: usize,
    word: usize,
    bits: u64,
}

impl Quotes {
    fn of(b: &[u8]) -> Option<Quotes> {
        if b.len() < 64 || b.len() > MAX_LINE {
            return None;
        }
        let mut masks = [0u64; WORDS];
        let words = masks_without(b, (b'"', b'\\'), &mut masks)?;
        Some(Quotes {
            masks,
            words,
            word: 0,
            bits: masks[0],
        })
    }

    /// The next quote.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            if self.word >= self.words {
                return None;
            }
            self.bits = self.masks[self.word];
        }
        let at = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(at)
    }

    /// The next quote, which must be at `at`.
    #[inline(always)]
    fn expect(&mut self, at: usize) -> Option<()> {
        (self.next()? == at).then_some(())
    }
}

/// A key as two little-endian words: its first and last (up to) eight bytes.
#[derive(Clone, Copy)]
struct Key {
    len: usize,
    head: u64,
    tail: u64,
    /// The field it fills, if triage reads it.
    slot: Option<usize>,
}

/// The first (up to) eight bytes of `b[at..at + len]` as a word, padded with zeros.
const fn head_word(b: &[u8], at: usize, len: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < 8 && i < len {
        w |= (b[at + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// The last eight bytes of `b[at..at + len]` (len at least 8) as a word.
const fn tail_word(b: &[u8], at: usize, len: usize) -> u64 {
    head_word(b, at + len - 8, 8)
}

const fn key(name: &[u8], slot: Option<usize>) -> Key {
    let len = name.len();
    Key {
        len,
        head: head_word(name, 0, len),
        tail: if len > 8 { tail_word(name, 0, len) } else { 0 },
        slot,
    }
}

/// Switchyard's access-log keys in order ([`super::access::ACCESS_KEYS`]), as words.
const ACCESS_KEYS: [Key; 18] = {
    let mut keys = [key(b"", None); 18];
    let mut n = 0;
    while n < keys.len() {
        let (name, slot) = super::access::ACCESS_KEYS[n];
        keys[n] = key(name.as_bytes(), slot);
        n += 1;
    }
    keys
};

/// Whether `b[at..at + k.len]` is the key `k`.
#[inline(always)]
fn is_key(b: &[u8], at: usize, len: usize, k: &Key) -> bool {
    if len != k.len {
        return false;
    }
    let word = |from: usize| -> Option<u64> {
        Some(u64::from_le_bytes(b.get(from..from + 8)?.try_into().ok()?))
    };
    if len <= 8 {
        // The key is followed by `":` and a value, so eight bytes are there to read.
        let Some(w) = word(at) else {
            return b[at..at + len] == k.head.to_le_bytes()[..len];
        };
        let mask = if len == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * len)) - 1
        };
        w & mask == k.head
    } else {
        word(at) == Some(k.head) && word(at + len - 8) == Some(k.tail)
    }
}

/// A value at `b[v]`: its kind, where its text starts and ends, and the index after it.
#[inline(always)]
fn value(b: &[u8], v: usize, quotes: &mut Quotes) -> Option<(Kind, usize, usize, usize)> {
    if *b.get(v)? == b'"' {
        quotes.expect(v)?;
        let end = quotes.next()?;
        return Some((Kind::Str, v + 1, end, end + 1));
    }
    let (kind, start, end) = bare(b, v)?;
    Some((kind, start, end, end))
}

/// Walks a compact JSON object expecting Switchyard's access-log keys in order; notes the
/// first value of each field triage reads. `None` gives the line to the general scanner.
pub(super) fn scan(b: &[u8], fields: &mut Fields) -> Option<()> {
    if b.first() != Some(&b'{') {
        return None;
    }
    if super::access::exact(b, fields).is_some() {
        return Some(());
    }
    *fields = [None; 16];
    let mut quotes = Quotes::of(b)?;
    let mut expected = 0;
    let mut i = 1;
    loop {
        // `"key":`
        quotes.expect(i)?;
        let close = quotes.next()?;
        let (ks, klen) = (i + 1, close - i - 1);
        let field = match ACCESS_KEYS.get(expected) {
            Some(k) if is_key(b, ks, klen, k) => {
                expected += 1;
                k.slot
            }
            _ => slot(&b[ks..close]),
        };
        if b.get(close + 1) != Some(&b':') {
            return None;
        }
        let (kind, start, end, after) = value(b, close + 2, &mut quotes)?;
        if let Some(k) = field {
            if fields[k].is_none() {
                fields[k] = Some(Value { kind, start, end });
            }
        }
        match b.get(after) {
            Some(b',') => i = after + 1,
            Some(b'}') if after + 1 == b.len() => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(line: &str, f: fn(&[u8], &mut Fields) -> Option<()>) -> Option<Vec<String>> {
        let mut fields: Fields = [None; 16];
        f(line.as_bytes(), &mut fields)?;
        Some(
            fields
                .iter()
                .map(|v| {
                    v.map_or("-".into(), |v| {
                        format!("{:?} {}", v.kind, &line[v.start..v.end])
                    })
                })
                .collect(),
        )
    }

    #[test]
    fn agrees_with_the_general_scanner() {
        let lines = [
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"0123456789abcdef0123456789abcdef","client":"10.0.1.11:41234","listener":"internal","method":"GET","path":"/inventory/items/4821","host":"inventory.shop.internal","protocol":"HTTP/1.1","status":404,"pool":"inventory","server":"inventory-4","server_address":"10.0.3.14:8080","upstream_status":404,"duration_ms":3.25,"bytes_sent":120,"attempts":1,"error":null}"#,
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r","client":"c","listener":"l","method":"POST","path":"/","host":"h","protocol":"HTTP/2","status":502,"pool":null,"server":null,"server_address":null,"upstream_status":null,"duration_ms":0.5,"bytes_sent":0,"attempts":2,"error":"no healthy server","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
            // Another order, and keys of other logs: looked up one by one.
            r#"{"level":"error","ts":"2025-11-13T10:23:15Z","msg":"x","ok":true,"n":-1.5e3,"server":"a"}"#,
        ];
        for line in lines {
            let fast = fields_of(line, scan);
            assert!(fast.is_some(), "{line}");
            assert_eq!(fast, fields_of(line, super::super::scan), "{line}");
        }
    }

    #[test]
    fn the_proxys_lines_take_the_unrolled_walk() {
        for line in [
            r#"{"ts":"2025-11-13T10:00:00.008Z","request_id":"6d9b6851642e4923a9ff20ea1ee8c7ee","client":"10.0.1.12:60586","listener":"internal","method":"GET","path":"/inventory/items/59154","host":"inventory.shop.internal","protocol":"HTTP/1.1","status":200,"pool":"inventory","server":"inventory-2","server_address":"10.0.3.12:8080","upstream_status":200,"duration_ms":5.963,"bytes_sent":243,"attempts":1,"error":null}"#,
            r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"r","client":"c","listener":"l","method":"POST","path":"/","host":"h","protocol":"HTTP/2","status":502,"pool":null,"server":null,"server_address":null,"upstream_status":null,"duration_ms":0.5,"bytes_sent":0,"attempts":2,"error":"no healthy server","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
        ] {
            let b = line.as_bytes();
            let mut fields: Fields = [None; 16];
            assert!(
                super::super::access::exact(b, &mut fields).is_some(),
                "{line}"
            );
            assert_eq!(fields_of(line, scan), fields_of(line, super::super::scan));
        }
    }

    /// The values compared together with their keys (`"HTTP/1.1"`, one attempt, no error),
    /// the strings of a usual length, and the ones that only start like them give what the
    /// general scanner gives.
    #[test]
    fn common_values_and_their_near_misses_agree_with_the_general_scanner() {
        let line = r#"{"ts":"2025-11-13T10:23:15.123Z","request_id":"0123456789abcdef0123456789abcdef","client":"10.0.1.11:41234","listener":"internal","method":"GET","path":"/inventory/items/4821","host":"inventory.shop.internal","protocol":"HTTP/1.1","status":404,"pool":"inventory","server":"inventory-4","server_address":"10.0.3.14:8080","upstream_status":404,"duration_ms":3.25,"bytes_sent":120,"attempts":1,"error":null}"#;
        let variants = [
            ("", ""),
            (r#""protocol":"HTTP/1.1""#, r#""protocol":"HTTP/1.10""#),
            (r#""protocol":"HTTP/1.1""#, r#""protocol":"HTTP/2""#),
            (r#""protocol":"HTTP/1.1""#, r#""protocol":"HTTP/1.1x""#),
            (r#""attempts":1"#, r#""attempts":10"#),
            (r#""attempts":1"#, r#""attempts":1.5"#),
            (r#""attempts":1"#, r#""attempts":1e3"#),
            (r#""attempts":1"#, r#""attempts":-1"#),
            (r#""attempts":1"#, r#""attempts":"1""#),
            (r#""error":null"#, r#""error":"connect refused""#),
            (r#""error":null"#, r#""error":nullx"#),
            (
                r#""error":null"#,
                r#""error":null,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#,
            ),
            // Time stamps and request ids of other lengths than the usual ones, and escapes.
            (r#"15.123Z""#, r#"15.12Z""#),
            (r#"15.123Z""#, r#"15.1234Z""#),
            (r#"15.123Z""#, r#"15.12\"Z""#),
            (
                r#"0123456789abcdef0123456789abcdef"#,
                r#"0123456789abcdef0123456789abcde"#,
            ),
            (
                r#"0123456789abcdef0123456789abcdef"#,
                r#"0123456789abcdef0123456789abcdef0"#,
            ),
            (
                r#"0123456789abcdef0123456789abcdef"#,
                r#"0123456789abcdef\"123456789abcdef"#,
            ),
            (
                r#"0123456789abcdef0123456789abcdef"#,
                r#"0123456789abcdef0123456789abcde\\"#,
            ),
        ];
        for (from, to) in variants {
            let line = line.replace(from, to);
            let fast = fields_of(&line, scan);
            // A backslash sends the line to the general scanner.
            if fast.is_none() && line.contains('\\') {
                continue;
            }
            assert_eq!(fast, fields_of(&line, super::super::scan), "{line}");
        }
        let mut fields: Fields = [None; 16];
        assert!(super::super::access::exact(line.as_bytes(), &mut fields).is_some());
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        let pad = format!(r#"{{"pad":"{}","#, "x".repeat(64));
        for rest in [
            r#""ts":"a\"b","status":200}"#,
            r#""ts": "2025-11-13T10:23:15Z"}"#,
            r#""ts" :"2025-11-13T10:23:15Z"}"#,
            r#""a":{"b":1}}"#,
            r#""ts":"2025"#,
            r#""ts":"2025"} trailing"#,
            r#""ts":nul}"#,
            r#""ts":"2025","#,
        ] {
            let line = format!("{pad}{rest}");
            assert!(fields_of(&line, scan).is_none(), "{line}");
        }
        let long = format!(r#"{pad}"ts":"{}"}}"#, "y".repeat(1024));
        for line in ["{", "", r#"{"ts":"2025-11-13T10:23:15Z"}"#, &long] {
            assert!(fields_of(line, scan).is_none(), "{line}");
            assert!(fields_of(line, super::super::scan).is_some() || line.len() < 2);
        }
    }
}
