//! How two masked tokens at the same position differ: not at all, in a variable-looking way,
//! or in one word.
//!
//! The difference decides whether a message may join a template. Tokens that differ in shape
//! (`(<*>)` against `(gw.example.org)`), in a masked part, or in more than one word
//! (`ns.example.com` against `mail.other.net`) are values of one variable. Tokens that differ in
//! exactly one word (`"GET` against `"POST`, `SCREEN_ON` against `TIME_TICK` in an otherwise
//! equal dotted name, `Paused` against `Resumed`) usually name different events; the tree
//! decides those with its word rule.

use super::mask::VAR;
use crate::hash::same_key;

/// How a message token differs from a template token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Diff<'a> {
    /// Equal.
    Same,
    /// Different values of a variable.
    Var,
    /// One word differs, everything around it is equal.
    Word {
        /// The word in the template.
        template: &'a str,
        /// The word in the message.
        message: &'a str,
        /// The word just before it inside the token (the key of `key=value`), if any.
        key: Option<&'a str>,
    },
}

/// Whether byte `b` belongs to an atom: the byte form of [`is_atom_char`]. Every byte of a
/// non-ASCII character counts, so atoms and punctuation runs split at character boundaries.
///
/// [`is_atom_char`]: super::mask::is_atom_char
fn is_atom_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == 1 || b >= 0x80
}

/// Splits a token into alternating atoms and punctuation runs.
struct Segments<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Segments<'a> {
    /// `(is_atom, text)`.
    type Item = (bool, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.s.as_bytes()[self.pos..];
        let atom = is_atom_byte(*rest.first()?);
        let len = rest
            .iter()
            .position(|&b| is_atom_byte(b) != atom)
            .unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len;
        Some((atom, &self.s[start..self.pos]))
    }
}

fn segments(s: &str) -> Segments<'_> {
    Segments { s, pos: 0 }
}

/// Compares template token `t` with message token `m`.
pub(crate) fn diff<'a>(t: &'a str, m: &'a str) -> Diff<'a> {
    if same_key(t, m) {
        return Diff::Same;
    }
    if is_var(t) || is_var(m) {
        return Diff::Var;
    }
    // The common case: two plain words.
    let plain = |s: &str| s.bytes().all(|b| is_atom_byte(b) && b != 1);
    if plain(t) && plain(m) {
        return Diff::Word {
            template: t,
            message: m,
            key: None,
        };
    }
    let (mut ts, mut ms) = (segments(t), segments(m));
    let mut found: Option<(&str, &str, Option<&str>)> = None;
    let mut prev_atom: Option<&str> = None;
    loop {
        match (ts.next(), ms.next()) {
            (None, None) => break,
            (Some((ta, tx)), Some((ma, mx))) if ta == ma => {
                if tx != mx {
                    if !ta || found.is_some() {
                        // Different punctuation, or a second different word: a variable.
                        return Diff::Var;
                    }
                    found = Some((tx, mx, prev_atom));
                }
                if ta {
                    prev_atom = Some(tx);
                }
            }
            _ => return Diff::Var,
        }
    }
    let Some((tw, mw, key)) = found else {
        return Diff::Same;
    };
    if is_var(tw) || is_var(mw) {
        return Diff::Var;
    }
    // `eth<*>` against `eth`: the same word with and without a number.
    if tw.contains(VAR) || mw.contains(VAR) {
        let stem = |w: &'a str| w.trim_end_matches(VAR);
        if stem(tw) == stem(mw) {
            return Diff::Var;
        }
    }
    Diff::Word {
        template: tw,
        message: mw,
        key,
    }
}

/// The narrowest token covering both `t` and `m`: with the same punctuation, the differing
/// words become variables (`user=root` and `user=ftp` give `user=<*>`); otherwise the whole
/// token is one variable.
pub(crate) fn widen(t: &str, m: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let (mut ts, mut ms) = (segments(t), segments(m));
    loop {
        match (ts.next(), ms.next()) {
            (None, None) => break,
            (Some((ta, tx)), Some((ma, mx))) if ta == ma && (ta || tx == mx) => {
                if tx == mx {
                    out.push_str(tx);
                } else {
                    out.push(VAR);
                }
            }
            _ => return VAR.to_string(),
        }
    }
    if out.chars().all(|c| c == VAR) {
        return VAR.to_string();
    }
    out
}

/// A token (or word) that is a variable as a whole.
pub(crate) fn is_var(s: &str) -> bool {
    s.len() == 1 && s.as_bytes()[0] == 1
}

/// The last word of a token, if it has one.
pub(crate) fn last_word(s: &str) -> Option<&str> {
    segments(s).filter(|&(a, _)| a).last().map(|(_, w)| w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "\u{1}";

    #[test]
    fn same_and_variables() {
        assert_eq!(diff("uid=\u{1}", "uid=\u{1}"), Diff::Same);
        assert_eq!(diff(V, "root"), Diff::Var);
        assert_eq!(diff("root", V), Diff::Var);
        assert_eq!(diff("(\u{1})", "(gw.example.org)"), Diff::Var);
        assert_eq!(
            diff("ns.marryaldkfaczcz.com", "mail.example.net"),
            Diff::Var
        );
        assert_eq!(diff("eth\u{1}", "eth"), Diff::Var);
    }

    #[test]
    fn one_word() {
        assert_eq!(
            diff("\"GET", "\"POST"),
            Diff::Word {
                template: "GET",
                message: "POST",
                key: None
            }
        );
        assert_eq!(
            diff(
                "action:android.intent.action.SCREEN_ON",
                "action:android.intent.action.TIME_TICK"
            ),
            Diff::Word {
                template: "SCREEN_ON",
                message: "TIME_TICK",
                key: Some("action")
            }
        );
        assert_eq!(
            diff("user=root", "user=guest"),
            Diff::Word {
                template: "root",
                message: "guest",
                key: Some("user")
            }
        );
        assert_eq!(
            diff("alt\u{1}", "ee\u{1}"),
            Diff::Word {
                template: "alt\u{1}",
                message: "ee\u{1}",
                key: None
            }
        );
    }

    #[test]
    fn last_words() {
        assert_eq!(last_word("user"), Some("user"));
        assert_eq!(last_word("(uid=\u{1})"), Some("\u{1}"));
        assert_eq!(last_word("::"), None);
    }
}
