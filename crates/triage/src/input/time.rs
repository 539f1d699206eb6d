//! Timestamps at the start of a line, to milliseconds since the Unix epoch (UTC).
//!
//! The shapes nearly every log uses (`2025-11-13 10:23:15`, with `T` or `/`, `,`/`.` fractions
//! and `Z`/`+01:00`/`-0500`/` UTC` zones) are parsed by hand, with the minute cached because
//! consecutive lines share it. Rarer shapes (ctime, Tomcat, Spark, HDFS, HealthApp, RFC 2822,
//! syslog and Apache's `13/Nov/2025:10:23:15 +0000`) go through [`Clock::parse_other`]; those
//! that need chrono are tried only when a cheap look at the first bytes says they may match.
//!
//! A timestamp without a zone is taken as UTC: a log does not say which zone its machine was in.

use chrono::format::{Item, Parsed, StrftimeItems};

const MS_PER_MIN: i64 = 60_000;
const MS_PER_DAY: i64 = 86_400_000;

/// Day number since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[inline]
fn digit(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    (d < 10).then_some(d as u32)
}

#[inline]
fn two(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(*b.get(i)?)? * 10 + digit(*b.get(i + 1)?)?)
}

/// `Jan`..`Dec` (any case) to 1..=12.
pub(crate) fn month_abbr(b: &[u8]) -> Option<u32> {
    let m = b.get(..3)?;
    let key = [m[0] | 0x20, m[1] | 0x20, m[2] | 0x20];
    Some(match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

fn weekday_abbr(b: &[u8]) -> bool {
    let Some(w) = b.get(..3) else { return false };
    let key = [w[0] | 0x20, w[1] | 0x20, w[2] | 0x20];
    matches!(
        &key,
        b"mon" | b"tue" | b"wed" | b"thu" | b"fri" | b"sat" | b"sun"
    )
}

/// Milliseconds of a fraction starting at `b[i]` (the digits after `.`/`,`), and where it ends.
#[inline]
fn fraction(b: &[u8], mut i: usize) -> (i64, usize) {
    let mut ms = 0i64;
    let mut n = 0;
    while let Some(d) = b.get(i).copied().and_then(digit) {
        if n < 3 {
            ms = ms * 10 + d as i64;
        }
        n += 1;
        i += 1;
    }
    for _ in n..3 {
        ms *= 10;
    }
    (ms, i)
}

/// A zone suffix at `b[i]`: `Z`, `+01:00`, `+0100`, `+01`, ` +0100`, ` UTC`, ` GMT`.
/// Returns the offset east of UTC in minutes and where it ends; `(0, i)` when there is none.
#[inline]
fn zone(b: &[u8], i: usize) -> (i64, usize) {
    match b.get(i) {
        Some(b'Z' | b'z') => (0, i + 1),
        Some(&sign @ (b'+' | b'-')) => signed_offset(b, i + 1, sign).unwrap_or((0, i)),
        Some(b' ') => {
            let rest = &b[i + 1..];
            let ends = |j: usize| matches!(rest.get(j), None | Some(b' ' | b']' | b'\t' | b','));
            match rest.first() {
                Some(&sign @ (b'+' | b'-')) if rest.len() >= 5 && ends(5) => {
                    match signed_offset(b, i + 2, sign) {
                        Some((off, end)) if end == i + 6 => (off, end),
                        _ => (0, i),
                    }
                }
                Some(b'U' | b'G')
                    if (rest.starts_with(b"UTC") || rest.starts_with(b"GMT")) && ends(3) =>
                {
                    (0, i + 4)
                }
                _ => (0, i),
            }
        }
        _ => (0, i),
    }
}

/// `HH`, `HHMM` or `HH:MM` after a sign; the digits must not run on into a longer number.
fn signed_offset(b: &[u8], i: usize, sign: u8) -> Option<(i64, usize)> {
    let h = two(b, i)? as i64;
    let (m, end) = if b.get(i + 2) == Some(&b':') {
        (two(b, i + 3)? as i64, i + 5)
    } else if let Some(m) = two(b, i + 2) {
        (m as i64, i + 4)
    } else {
        (0, i + 2)
    };
    if h > 23 || m > 59 || b.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let off = h * 60 + m;
    Some((if sign == b'-' { -off } else { off }, end))
}

fn utc_ms(days: i64, h: u32, m: u32, s: u32, frac_ms: i64, offset_min: i64) -> i64 {
    days * MS_PER_DAY + (h as i64 * 3_600 + m as i64 * 60 + s as i64) * 1000 + frac_ms
        - offset_min * MS_PER_MIN
}

/// Whether a timestamp followed by the space at `b[i]` ends there: what comes after the space
/// (if anything) starts none of the zone forms (`+02:00`, `-0500`, `UTC`, `GMT`).
#[inline(always)]
fn ends_at_space(b: &[u8], i: usize) -> bool {
    !matches!(b.get(i + 1), Some(b'+' | b'-' | b'U' | b'G'))
}

/// The common ends of an ISO timestamp after its minute, read from a fixed window of its first
/// 24 bytes: `:SS`, then `.mmm` and `Z` or a space, or a space at once. `None` leaves the
/// line to [`read_after_minute`], which gives the same answer for these shapes.
#[inline(always)]
fn after_minute(b: &[u8], minute: i64) -> Option<(i64, usize)> {
    let w: &[u8; 24] = b.first_chunk()?;
    let d = |i: usize| w[i].wrapping_sub(b'0');
    let (s1, s0) = (d(17), d(18));
    if w[16] != b':' || s1 > 9 || s0 > 9 {
        return None;
    }
    let s = i64::from(s1) * 10 + i64::from(s0);
    if s > 60 {
        return None;
    }
    let at_second = minute + s * 1000;
    let plain_space = |i: usize| b[i] == b' ' && ends_at_space(b, i);
    match w[19] {
        b'.' | b',' => {
            let (x, y, z) = (d(20), d(21), d(22));
            if x > 9 || y > 9 || z > 9 || d(23) <= 9 {
                return None;
            }
            let ms = at_second + i64::from(x) * 100 + i64::from(y) * 10 + i64::from(z);
            match w[23] {
                b'Z' | b'z' => Some((ms, 24)),
                _ if plain_space(23) => Some((ms, 23)),
                _ => None,
            }
        }
        _ if plain_space(19) => Some((at_second, 19)),
        _ => None,
    }
}

/// The rest of an ISO timestamp after its minute (`minute` in ms): `:SS`, a fraction, a zone.
fn read_after_minute(b: &[u8], minute: i64) -> Option<(i64, usize)> {
    if b.get(16) != Some(&b':') {
        return None;
    }
    let s = two(b, 17)?;
    if s > 60 {
        return None;
    }
    let at_second = minute + s as i64 * 1000;
    let (frac, i) = match b.get(19) {
        Some(b'.' | b',') => match (b.get(20..23), b.get(23)) {
            // The common case: milliseconds, then not another digit.
            (Some(&[x, y, z]), next)
                if x.is_ascii_digit()
                    && y.is_ascii_digit()
                    && z.is_ascii_digit()
                    && !next.is_some_and(u8::is_ascii_digit) =>
            {
                (
                    ((x - b'0') as i64 * 100 + (y - b'0') as i64 * 10 + (z - b'0') as i64),
                    23,
                )
            }
            _ if b.get(20).is_some_and(u8::is_ascii_digit) => fraction(b, 20),
            _ => (0, 19),
        },
        _ => (0, 19),
    };
    // Most lines go on with a space and a word: no zone to look for.
    let (off, i) = match b.get(i) {
        Some(b' ') if ends_at_space(b, i) => (0, i),
        None => (0, i),
        _ => zone(b, i),
    };
    Some((at_second + frac - off * MS_PER_MIN, i))
}

/// Parses timestamps and remembers the last date it saw (consecutive lines share one).
pub(crate) struct Clock {
    /// The year for shapes that leave it out (RFC 3164 syslog).
    year: i32,
    /// The first 16 bytes (`YYYY-MM-DD HH:MM`) of the last ISO timestamp, and its minute in
    /// ms: lines of one minute share them.
    last_minute: [u8; 16],
    last_minute_ms: i64,
    /// The same for syslog's `Mmm dd HH:MM`.
    last_syslog_minute: [u8; 12],
    last_syslog_minute_ms: i64,
    other: Vec<(Shape, Vec<Item<'static>>)>,
}

/// The rarer shapes handed to chrono, each with a cheap pre-check on the first bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// `Sun Dec 04 04:47:44 2005`, `Wed Oct 11 14:32:52.123456 2000` (Apache error log, ctime)
    Ctime,
    /// `Thu, 13 Nov 2025 10:23:15 +0000`
    Rfc2822,
    /// `13-Nov-2025 10:23:15.123` (Tomcat)
    DayMonYear,
    /// `25/11/13 10:23:15` (Spark, log4j `yy/MM/dd`)
    ShortSlash,
    /// `251113 102315` (HDFS)
    Compact,
    /// `20251113-10:23:15:123` (HealthApp)
    DashedCompact,
}

impl Clock {
    pub(crate) fn new(year: i32) -> Clock {
        let item = |f: &'static str| StrftimeItems::new(f).collect::<Vec<_>>();
        Clock {
            year,
            // Never equal to a line's bytes: 0xff does not occur in UTF-8.
            last_minute: [0xff; 16],
            last_minute_ms: 0,
            last_syslog_minute: [0xff; 12],
            last_syslog_minute_ms: 0,
            other: vec![
                (Shape::Ctime, item("%a %b %e %H:%M:%S%.f %Y")),
                (Shape::Rfc2822, item("%a, %d %b %Y %H:%M:%S %z")),
                (Shape::DayMonYear, item("%d-%b-%Y %H:%M:%S%.f")),
                (Shape::ShortSlash, item("%y/%m/%d %H:%M:%S")),
                (Shape::Compact, item("%y%m%d %H%M%S")),
                (Shape::DashedCompact, item("%Y%m%d-%H:%M:%S:%3f")),
            ],
        }
    }

    /// `YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]` (also `/` between date parts) at the start of `b`:
    /// milliseconds since the epoch and the number of bytes it took.
    #[inline]
    pub(crate) fn parse_iso(&mut self, b: &[u8]) -> Option<(i64, usize)> {
        let head: &[u8; 16] = b.get(..16)?.try_into().ok()?;
        let minute = if *head == self.last_minute {
            self.last_minute_ms
        } else {
            let sep = b[4];
            if (sep != b'-' && sep != b'/')
                || b[7] != sep
                || !matches!(b[10], b' ' | b'T' | b't')
                || b[13] != b':'
            {
                return None;
            }
            let year = (two(b, 0)? * 100 + two(b, 2)?) as i64;
            let month = two(b, 5)?;
            let day = two(b, 8)?;
            let (h, m) = (two(b, 11)?, two(b, 14)?);
            if !(1..=12).contains(&month)
                || day == 0
                || day > days_in_month(year, month)
                || h > 23
                || m > 59
            {
                return None;
            }
            let ms = utc_ms(days_from_civil(year, month, day), h, m, 0, 0, 0);
            self.last_minute = *head;
            self.last_minute_ms = ms;
            ms
        };
        if let Some(hit) = after_minute(b, minute) {
            return Some(hit);
        }
        read_after_minute(b, minute)
    }

    /// `Mmm dd HH:MM:SS[.frac]` (RFC 3164; the day may be space-padded), in [`Clock::year`].
    pub(crate) fn parse_syslog(&mut self, b: &[u8]) -> Option<(i64, usize)> {
        if b.len() < 15 || b[3] != b' ' || b[9] != b':' || b[12] != b':' || b[6] != b' ' {
            return None;
        }
        // `Mmm dd HH:MM` names a minute; lines of one minute share it.
        let head: [u8; 12] = b[..12].try_into().ok()?;
        let minute = if head == self.last_syslog_minute {
            self.last_syslog_minute_ms
        } else {
            let month = month_abbr(b)?;
            let day = match b[4] {
                b' ' => digit(b[5])?,
                _ => two(b, 4)?,
            };
            let year = self.year as i64;
            let (h, m) = (two(b, 7)?, two(b, 10)?);
            if day == 0 || day > days_in_month(year, month) || h > 23 || m > 59 {
                return None;
            }
            let ms = utc_ms(days_from_civil(year, month, day), h, m, 0, 0, 0);
            self.last_syslog_minute = head;
            self.last_syslog_minute_ms = ms;
            ms
        };
        let s = two(b, 13)?;
        if s > 60 {
            return None;
        }
        let (frac, i) = match b.get(15) {
            Some(b'.') if b.get(16).is_some_and(u8::is_ascii_digit) => fraction(b, 16),
            _ => (0, 15),
        };
        Some((minute + s as i64 * 1000 + frac, i))
    }

    /// `13/Nov/2025:10:23:15 +0000` (the common log format's timestamp, without brackets).
    pub(crate) fn parse_clf(&self, b: &[u8]) -> Option<(i64, usize)> {
        if b.len() < 20
            || b[2] != b'/'
            || b[6] != b'/'
            || b[11] != b':'
            || b[14] != b':'
            || b[17] != b':'
        {
            return None;
        }
        let day = two(b, 0)?;
        let month = month_abbr(&b[3..])?;
        let year = (two(b, 7)? * 100 + two(b, 9)?) as i64;
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let (h, m, s) = (two(b, 12)?, two(b, 15)?, two(b, 18)?);
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        let (frac, i) = match b.get(20) {
            Some(b'.' | b',') if b.get(21).is_some_and(u8::is_ascii_digit) => fraction(b, 21),
            _ => (0, 20),
        };
        let (off, i) = zone(b, i);
        Some((
            utc_ms(days_from_civil(year, month, day), h, m, s, frac, off),
            i,
        ))
    }

    /// Any timestamp shape this module knows, at the start of `b` (one `[` before it is
    /// allowed, and the matching `]` is taken with it).
    #[inline]
    pub(crate) fn parse_start(&mut self, b: &[u8]) -> Option<(i64, usize)> {
        let first = *b.first()?;
        if first.is_ascii_digit() {
            if let Some(hit) = self.parse_iso(b) {
                return Some(hit);
            }
            return self.parse_other(b);
        }
        if first == b'[' {
            let (ms, n) = self
                .parse_iso(&b[1..])
                .or_else(|| self.parse_other(&b[1..]))?;
            let end = if b.get(1 + n) == Some(&b']') {
                n + 2
            } else {
                n + 1
            };
            return Some((ms, end));
        }
        if first.is_ascii_alphabetic() {
            return self.parse_other(b);
        }
        None
    }

    /// The rarer shapes; each is tried only after a cheap check of the first bytes.
    pub(crate) fn parse_other(&mut self, b: &[u8]) -> Option<(i64, usize)> {
        let first = *b.first()?;
        if first.is_ascii_digit() {
            if b.get(2) == Some(&b'/') && b.get(3).is_some_and(u8::is_ascii_alphabetic) {
                return self.parse_clf(b);
            }
            if b.get(2) == Some(&b'-') && b.get(3).is_some_and(u8::is_ascii_alphabetic) {
                return self.chrono(b, Shape::DayMonYear);
            }
            if b.get(2) == Some(&b'/') && b.get(5) == Some(&b'/') && b.get(8) == Some(&b' ') {
                return self.chrono(b, Shape::ShortSlash);
            }
            if b.len() >= 21 && b[8] == b'-' && b[11] == b':' && b[14] == b':' && b[17] == b':' {
                return self.chrono(b, Shape::DashedCompact);
            }
            if b.len() >= 14
                && b[6] == b' '
                && b[..6].iter().chain(&b[7..13]).all(u8::is_ascii_digit)
                && !b[13].is_ascii_digit()
            {
                return self.chrono(b, Shape::Compact);
            }
            return None;
        }
        if month_abbr(b).is_some() {
            return self.parse_syslog(b);
        }
        if weekday_abbr(b) {
            return match b.get(3) {
                Some(b',') => self.chrono(b, Shape::Rfc2822),
                Some(b' ') => self.chrono(b, Shape::Ctime),
                _ => None,
            };
        }
        None
    }

    fn chrono(&self, b: &[u8], shape: Shape) -> Option<(i64, usize)> {
        // Timestamps are ASCII: cut at the first non-ASCII byte so `b` can be read as text.
        let ascii = b.iter().position(|c| !c.is_ascii()).unwrap_or(b.len());
        let text = std::str::from_utf8(&b[..ascii.min(48)]).ok()?;
        let (_, items) = self.other.iter().find(|(s, _)| *s == shape)?;
        let mut parsed = Parsed::new();
        let rest = chrono::format::parse_and_remainder(&mut parsed, text, items.iter()).ok()?;
        let used = text.len() - rest.len();
        let ms = match parsed.to_datetime() {
            Ok(dt) => dt.timestamp_millis(),
            Err(_) => parsed
                .to_naive_datetime_with_offset(0)
                .ok()?
                .and_utc()
                .timestamp_millis(),
        };
        Some((ms, used))
    }
}

/// A JSON number timestamp: seconds (with or without a fraction), milliseconds, microseconds
/// or nanoseconds since the epoch, told apart by magnitude.
pub(crate) fn epoch_number(text: &str) -> Option<i64> {
    // Integers are scaled exactly: nanoseconds since the epoch do not fit an f64's mantissa.
    if let Ok(n) = text.parse::<i64>() {
        let a = n.unsigned_abs();
        return Some(if a >= 100_000_000_000_000_000 {
            n.div_euclid(1_000_000)
        } else if a >= 100_000_000_000_000 {
            n.div_euclid(1_000)
        } else if a >= 100_000_000_000 {
            n
        } else {
            n.checked_mul(1_000)?
        });
    }
    let v: f64 = text.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    let a = v.abs();
    let ms = if a >= 1e17 {
        v / 1e6
    } else if a >= 1e14 {
        v / 1e3
    } else if a >= 1e11 {
        v
    } else {
        v * 1e3
    };
    Some(ms.floor() as i64)
}

#[cfg(test)]
mod tests;
