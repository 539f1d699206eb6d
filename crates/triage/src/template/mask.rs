//! Masking: a message becomes a list of tokens with its variable parts replaced by [`VAR`].
//!
//! A message is split on whitespace. Within a token, *atoms* (runs of letters, digits, `_` and
//! `-`) are told apart from the punctuation between them, which is kept as written so that
//! `uid=0`, `[10.0.0.1]` and `(HWID=1973)` keep their shape: `uid=<*>`, `[<*>]`, `(HWID=<*>)`.
//!
//! What is masked:
//! - whole tokens that are paths (`/var/log/app.log`, `C:\Windows\x.dll`), URLs
//!   (`hdfs://host:9000/x`), e-mail addresses and UUIDs;
//! - atoms holding a digit: numbers, IPs, ports, hex ids, block ids, durations such as `12ms`,
//!   versions, timestamps. An atom that is a word followed by a number (`eth0`, `alt1`, `tty2`)
//!   keeps its word: `eth<*>`, so that device and interface names stay apart;
//! - names of weekdays and months (`Sat`, `Jul`), which only ever appear inside dates;
//! - runs of masked atoms joined by `.` or `,` (an IP, a decimal, a list of numbers) become one;
//! - repeats: a masked token repeated several times in a row (a list of block ids) is kept once.
//!
//! Everything else (words, identifiers, punctuation) is kept as written; whether a word is a
//! variable is decided later, when messages are compared ([`super::compare`]).

use super::Rules;

/// Marks a masked part inside a token. Rendered as `<*>` in template text; a control
/// character so that it never collides with text from a log (input copies of it are replaced).
pub(crate) const VAR: char = '\u{1}';
const VAR_STR: &str = "\u{1}";

/// The masked tokens of one message, kept in one reusable buffer.
#[derive(Debug, Default)]
pub(crate) struct Masked {
    buf: String,
    spans: Vec<(u32, u32)>,
    /// Scratch space for one token.
    scratch: String,
}

impl Masked {
    /// Number of tokens.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The `i`th masked token.
    pub(crate) fn token(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    /// All masked tokens, in order.
    pub(crate) fn tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| &self.buf[s as usize..e as usize])
    }

    /// Masks `message`, replacing what this holds.
    pub(crate) fn mask(&mut self, message: &str, max_tokens: usize, rules: &Rules) {
        self.buf.clear();
        self.spans.clear();
        let mut words = message.split_ascii_whitespace();
        for word in words.by_ref() {
            if self.spans.len() + 1 == max_tokens {
                // Everything past the cap is one variable tail.
                self.push_token(VAR_STR, rules);
                break;
            }
            // A unit after a number is part of the value: `5.2 KB` and `384 B` are alike.
            if let Some(unit_len) = unit_prefix(word).filter(|_| rules.units_join_values) {
                if self
                    .spans
                    .last()
                    .is_some_and(|&(s, e)| &self.buf[s as usize..e as usize] == VAR_STR)
                {
                    self.buf.push_str(&word[unit_len..]);
                    let end = self.buf.len() as u32;
                    self.spans.last_mut().unwrap().1 = end;
                    continue;
                }
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            mask_token(word, &mut scratch, rules);
            self.push_token(&scratch, rules);
            self.scratch = scratch;
        }
    }

    fn push_token(&mut self, token: &str, rules: &Rules) {
        // A masked token repeated in a row (a list of ids) is kept once.
        if rules.collapse_repeats
            && self
                .spans
                .last()
                .is_some_and(|&(s, e)| &self.buf[s as usize..e as usize] == token)
            && token.contains(VAR)
        {
            return;
        }
        let start = self.buf.len() as u32;
        self.buf.push_str(token);
        self.spans.push((start, self.buf.len() as u32));
    }
}

/// Entries of a [`MaskCache`] (a power of two).
const CACHED: usize = 1024;

/// Recent messages with their masked tokens and the template each was filed under: logs
/// repeat their errors word for word, and a message seen again is not masked again (masking
/// depends only on the message and the miner's fixed rules) nor filed again while the tree has
/// not changed since (filing depends only on the masked message and the tree). So what comes
/// out is the same either way. Direct-mapped by a hash of the message.
#[derive(Default)]
pub(crate) struct MaskCache {
    entries: Vec<Cached>,
}

#[derive(Default)]
struct Cached {
    hash: u64,
    message: String,
    masked: Masked,
    /// The template it was filed under, and the tree's generation then, when filing it
    /// changed nothing.
    filed: Option<(super::TemplateId, u64)>,
}

impl MaskCache {
    /// `message` masked, where it is kept (for [`MaskCache::filed`]), and the template it was
    /// filed under at `generation` of the tree, if it was.
    pub(crate) fn mask(
        &mut self,
        message: &str,
        max_tokens: usize,
        rules: &Rules,
        generation: u64,
    ) -> (usize, &Masked, Option<super::TemplateId>) {
        use std::hash::BuildHasher;
        if self.entries.is_empty() {
            self.entries.resize_with(CACHED, Cached::default);
        }
        let hash = foldhash::fast::FixedState::default().hash_one(message) | 1;
        let at = hash as usize % CACHED;
        let entry = &mut self.entries[at];
        if entry.hash != hash || entry.message != message {
            entry.masked.mask(message, max_tokens, rules);
            entry.message.clear();
            entry.message.push_str(message);
            entry.hash = hash;
            entry.filed = None;
        }
        let filed = entry
            .filed
            .filter(|&(_, g)| g == generation)
            .map(|(id, _)| id);
        (at, &entry.masked, filed)
    }

    /// The message kept at `at` was filed under `id` at `generation`, changing nothing.
    pub(crate) fn filed(&mut self, at: usize, id: super::TemplateId, generation: u64) {
        self.entries[at].filed = Some((id, generation));
    }
}

/// If `word` is a unit of size or time (`KB`, `ms`, `GiB,`), the length of the unit.
fn unit_prefix(word: &str) -> Option<usize> {
    const UNITS: [&str; 22] = [
        "B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "kB", "bytes", "ns", "us",
        "\u{b5}s", "ms", "s", "sec", "secs", "min", "mins", "h",
    ];
    let unit = word.trim_end_matches([',', ';', ')', ']', '.', ':']);
    UNITS.contains(&unit).then_some(unit.len())
}

/// Renders a masked token for people: [`VAR`] becomes `<*>`.
pub(crate) fn render(token: &str, out: &mut String) {
    for (i, part) in token.split(VAR).enumerate() {
        if i > 0 {
            out.push_str("<*>");
        }
        out.push_str(part);
    }
}

/// Whether `c` belongs to an atom (a word, a number, an identifier).
pub(crate) fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == VAR || !c.is_ascii()
}

/// Masks one whitespace-separated token into `out`.
fn mask_token(token: &str, out: &mut String, rules: &Rules) {
    // Most tokens are one atom (`inventory`, `GET`, `503`, `eth0`): no brackets to keep, no
    // punctuation to split on, and of the whole-token variables only a UUID can be one. What
    // the general steps below would give for them, without their scans.
    if !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        if rules.whole_token_variables && is_uuid(token) {
            out.push(VAR);
        } else {
            push_atom(token, out, rules);
        }
        return;
    }
    mask_token_parts(token, out, rules);
}

/// [`mask_token`] for any token: brackets, whole-token variables, atoms and the punctuation
/// between them.
fn mask_token_parts(token: &str, out: &mut String, rules: &Rules) {
    // Surrounding brackets, quotes and trailing punctuation stay; the core may be masked whole.
    let core_start = token
        .find(|c: char| !matches!(c, '(' | '[' | '{' | '<' | '"' | '\''))
        .unwrap_or(token.len());
    let rest = &token[core_start..];
    let core_len = rest
        .trim_end_matches([')', ']', '}', '>', '"', '\'', ',', ';', '.', ':', '!', '?'])
        .len();
    let (lead, core, trail) = (&token[..core_start], &rest[..core_len], &rest[core_len..]);
    if rules.whole_token_variables && !core.is_empty() && is_whole_variable(core) {
        out.push_str(lead);
        out.push(VAR);
        out.push_str(trail);
        return;
    }
    let mut atom_start: Option<usize> = None;
    for (i, c) in token.char_indices() {
        if is_atom_char(c) && c != VAR {
            if atom_start.is_none() {
                atom_start = Some(i);
            }
        } else {
            if let Some(s) = atom_start.take() {
                push_atom(&token[s..i], out, rules);
            }
            // A stray marker from the input must not read as a masked part.
            out.push(if c == VAR { '?' } else { c });
        }
    }
    if let Some(s) = atom_start {
        push_atom(&token[s..], out, rules);
    }
    if rules.collapse_repeats {
        collapse_joined(out);
    }
}

/// Appends an atom, masked if it is variable.
fn push_atom(atom: &str, out: &mut String, rules: &Rules) {
    let bytes = atom.as_bytes();
    if !bytes.iter().any(u8::is_ascii_digit) {
        if rules.mask_date_words && is_date_word(atom) {
            out.push(VAR);
        } else {
            out.push_str(atom);
        }
        return;
    }
    // A word followed by a number (`eth0`, `alt1`): the word stays.
    let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if rules.keep_word_before_number
        && letters >= 2
        && bytes[letters..].iter().all(u8::is_ascii_digit)
    {
        out.push_str(&atom[..letters]);
        out.push(VAR);
        return;
    }
    out.push(VAR);
}

/// Joins `<*>.<*>` and `<*>,<*>` runs (IPs, decimals, versions, number lists) into one `<*>`.
fn collapse_joined(out: &mut String) {
    let b = out.as_bytes();
    let needs = b
        .windows(3)
        .any(|w| w[0] == 1 && (w[1] == b'.' || w[1] == b',') && w[2] == 1);
    if !needs {
        return;
    }
    let mut res = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        res.push(c);
        if c == VAR {
            loop {
                let mut look = chars.clone();
                match (look.next(), look.next()) {
                    (Some('.' | ','), Some(VAR)) => {
                        chars.next();
                        chars.next();
                    }
                    _ => break,
                }
            }
        }
    }
    *out = res;
}

/// Tokens that are variables as a whole: paths, URLs, e-mail addresses, UUIDs.
fn is_whole_variable(core: &str) -> bool {
    let b = core.as_bytes();
    // Unix paths with at least two parts or a query, home- and dot-relative paths.
    if (b[0] == b'/' && core[1..].contains(['/', '?']))
        || core.starts_with("~/")
        || core.starts_with("./")
        || core.starts_with("../")
    {
        return true;
    }
    // Paths inside other text (`{id}GLOBALROOT/Device/Volume/config/SAM`).
    if core.bytes().filter(|&c| c == b'/').count() >= 3
        || core.bytes().filter(|&c| c == b'\\').count() >= 3
    {
        return true;
    }
    // Windows paths: `C:\...` and `\\server\share`.
    if (b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
        || core.starts_with("\\\\")
    {
        return true;
    }
    // URLs.
    if let Some(p) = scheme_end(core) {
        if p > 0
            && core[..p]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+')
            && b.len() > p + 3
        {
            return true;
        }
    }
    // E-mail addresses: local@domain.tld.
    if let Some(at) = core.find('@') {
        let (local, domain) = (&core[..at], &core[at + 1..]);
        if !local.is_empty()
            && local
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+'))
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
            && domain
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
        {
            return true;
        }
    }
    is_uuid(core)
}

/// Where `://` starts in `core`, if it holds one: a search for `:` first, since few tokens have
/// one (a string search would be set up for every token).
fn scheme_end(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    memchr::memchr_iter(b':', b).find(|&p| b[p + 1..].starts_with(b"//"))
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Weekday and month names as dates write them (`Sat`, `Jul`, `Monday`, `December`).
fn is_date_word(atom: &str) -> bool {
    const WORDS: [&str; 19] = [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const LONG: [&str; 17] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
    ];
    let n = atom.len();
    (n == 3 && WORDS.contains(&atom)) || (n >= 5 && (LONG.contains(&atom) || atom == "December"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens of one atom take a short way; it gives what the general steps give, under every
    /// combination of the rules that bear on it.
    #[test]
    fn one_atom_tokens_mask_as_the_general_steps_do() {
        let tokens = [
            "inventory",
            "GET",
            "Sat",
            "Saturday",
            "December",
            "Decembers",
            "eth0",
            "e0",
            "503",
            "12ms",
            "0x1f",
            "abc-def",
            "a_b",
            "-",
            "_",
            "--verbose",
            "x1y2",
            "2025-11-13",
            "123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400z",
            "blk_-1608999687919862906",
            "tty2",
            "A1",
            "Jul",
        ];
        for whole in [false, true] {
            for dates in [false, true] {
                for keep in [false, true] {
                    let rules = Rules {
                        whole_token_variables: whole,
                        mask_date_words: dates,
                        keep_word_before_number: keep,
                        ..Rules::default()
                    };
                    for t in tokens {
                        let (mut fast, mut general) = (String::new(), String::new());
                        mask_token(t, &mut fast, &rules);
                        mask_token_parts(t, &mut general, &rules);
                        assert_eq!(fast, general, "{t} {whole} {dates} {keep}");
                    }
                }
            }
        }
    }

    fn masked(message: &str) -> String {
        let mut m = Masked::default();
        m.mask(message, 256, &Rules::default());
        let mut out = String::new();
        for (i, t) in m.tokens().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            render(t, &mut out);
        }
        out
    }

    #[test]
    fn numbers_ips_and_ports() {
        assert_eq!(
            masked("Received connection request /10.10.34.11:45307"),
            "Received connection request /<*>:<*>"
        );
        assert_eq!(
            masked("status: 200 len: 1893 time: 0.2477829"),
            "status: <*> len: <*> time: <*>"
        );
        assert_eq!(
            masked("Invalid user admin from 173.234.31.186"),
            "Invalid user admin from <*>"
        );
        assert_eq!(masked("latency -12 +3"), "latency <*> +<*>");
    }

    #[test]
    fn ids_and_durations() {
        assert_eq!(
            masked("PacketResponder 1 for block blk_-6952295868487656571 terminating"),
            "PacketResponder <*> for block <*> terminating"
        );
        assert_eq!(
            masked("req-38101a0b-2096-447d-96ea-a692162415ae done"),
            "<*> done"
        );
        assert_eq!(
            masked("[instance: 38101a0b-2096-447d-96ea-a692162415ae]"),
            "[instance: <*>]"
        );
        assert_eq!(
            masked("took 12ms (threshold=30000ms)"),
            "took <*> (threshold=<*>)"
        );
        assert_eq!(masked("tag 0x7fed806eb5d"), "tag <*>");
    }

    #[test]
    fn key_value_keeps_the_key() {
        assert_eq!(
            masked("logname= uid=0 euid=0 tty=ssh rhost=1.2.3.4"),
            "logname= uid=<*> euid=<*> tty=ssh rhost=<*>"
        );
        assert_eq!(masked("(HWID=1973)"), "(HWID=<*>)");
    }

    #[test]
    fn word_with_number_keeps_the_word() {
        assert_eq!(masked("via interface alt0"), "via interface alt<*>");
        assert_eq!(masked("via interface ee0"), "via interface ee<*>");
        assert_eq!(masked("node R02-M1-N0"), "node <*>");
    }

    #[test]
    fn paths_urls_emails() {
        assert_eq!(
            masked("workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
            "workerEnv.init() ok <*>"
        );
        assert_eq!(
            masked("Input split: hdfs://10.10.34.11:9000/pjhe/test/1/input.txt:0+1"),
            "Input split: <*>"
        );
        assert_eq!(masked("Loaded C:\\Windows\\winsxs\\x.dll"), "Loaded <*>");
        assert_eq!(masked("mail from <ops@example.com>"), "mail from <<*>>");
        assert_eq!(masked("deleted '/tmp/a/b'."), "deleted '<*>'.");
    }

    #[test]
    fn dates_are_masked() {
        assert_eq!(
            masked("at Sat Jul  9 22:53:19 2005"),
            "at <*> <*>:<*>:<*> <*>"
        );
    }

    #[test]
    fn repeated_masked_tokens_collapse() {
        assert_eq!(masked("delete blk_1 blk_2 blk_3 now"), "delete <*> now");
        assert_eq!(masked("onExtend:1514038530000 14 0 4"), "onExtend:<*> <*>");
    }

    #[test]
    fn stray_markers_and_long_messages() {
        assert_eq!(masked("a\u{1}b"), "a?b");
        let mut m = Masked::default();
        m.mask("a b c d e f", 3, &Rules::default());
        assert_eq!(m.len(), 3);
        assert_eq!(m.token(2), VAR_STR);
    }
}
