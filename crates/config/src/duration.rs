//! Durations as operators write them: `250ms`, `1s`, `1m30s`; read from TOML, and written back
//! the same way when a config is serialized.

use std::time::Duration;

use serde::Serializer;

/// Parses a duration such as `500ms`, `10s` or `1m30s`; a bare number is refused so that
/// nobody has to guess the unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" has no unit; write it like \"{text}s\" or \"{text}ms\""
        ));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("\"{text}\" is not a duration ({e}); write it like \"500ms\", \"10s\" or \"1m30s\"")
    })
}

/// A measured time in milliseconds as people read it: `212 ms`, `1.9 ms` or `2.35 s`.
pub fn format_millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Formats a duration the way [`parse_duration`] reads it back (`1s`, `1500ms`, `2m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) || ms == 0 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Serializes a duration as [`format_duration`] writes it (`serialize_with`).
pub(crate) fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// [`ser_duration`] for an optional duration.
pub(crate) fn ser_opt_duration<S: Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_times_read_well() {
        assert_eq!(format_millis(212.4), "212 ms");
        assert_eq!(format_millis(1.94), "1.9 ms");
        assert_eq!(format_millis(2345.0), "2.35 s");
    }

    #[test]
    fn round_trips() {
        for text in ["1s", "250ms", "2m", "1h", "0ms", "90s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{text}");
        }
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("ten seconds")
            .unwrap_err()
            .contains("not a duration"));
    }
}
