//! Human output: aligned tables and short times; `--output json` prints the API's JSON.
//!
//! Text that came from elsewhere (version messages, server names, log lines, reasons) never
//! reaches the terminal raw: [`clean`] and [`clean_line`] show control characters as escapes
//! (`\x1b`), so a message cannot clear the screen or fake a line.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Prints `value` as pretty JSON.
pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

/// `text` with every control character but newline and tab shown as an escape (`\x1b`,
/// `\u{9b}`). With `keep_colors`, colour sequences (`ESC [ digits ; m`) stay.
pub fn clean(text: &str, keep_colors: bool) -> String {
    escape(text, false, keep_colors)
}

/// [`clean`] for one line: newlines and tabs are escaped too.
pub fn clean_line(text: &str) -> String {
    escape(text, true, false)
}

fn escape(text: &str, line: bool, keep_colors: bool) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if keep_colors && c == '\u{1b}' {
            if let Some(len) = color_sequence(&text[i..]) {
                out.push_str(&text[i..i + len]);
                while chars.peek().is_some_and(|(j, _)| *j < i + len) {
                    chars.next();
                }
                continue;
            }
        }
        match c {
            '\n' | '\t' if !line => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The length of an SGR colour sequence (`ESC [ 1 ; 31 m`) at the start of `text`.
fn color_sequence(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("\u{1b}[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// Columns padded to their widest cell; the last column is not padded. Cells are cleaned
/// with [`clean_line`].
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| clean_line(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let mut out = String::new();
        for (i, (cell, w)) in cells.into_iter().zip(&widths).enumerate() {
            if i + 1 == n {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `2026-11-25 11:30:02` (UTC) from an RFC 3339 value.
pub fn time(v: &Value) -> String {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

/// A string field, or `-`.
pub fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => clean_line(s),
        other => clean_line(&other.to_string()),
    }
}

/// `v7`
pub fn v(v: &Value) -> String {
    v.as_u64().map_or_else(|| "-".into(), |n| format!("v{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(
            clean_line("ok\x1b[2J\x1b[Hfake\nline\u{9b}"),
            "ok\\x1b[2J\\x1b[Hfake\\nline\\u{9b}"
        );
        assert_eq!(clean("a\nb\tc\x07", false), "a\nb\tc\\x07");
        assert_eq!(
            clean("\x1b[1;31mred\x1b[0m \x1b[2J", true),
            "\x1b[1;31mred\x1b[0m \\x1b[2J"
        );
        assert_eq!(clean_line("plain"), "plain");
        assert_eq!(s(&Value::String("v\x1bc".into())), "v\\x1bc");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "LONGER"],
            &[
                vec!["wide cell".into(), "x".into()],
                vec!["b".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A          LONGER\nwide cell  x\nb          y");
    }
}
