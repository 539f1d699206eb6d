//! Output files: records are collected per file with their timestamp, put in time order once a
//! second of simulated time is complete, and written through a large buffer. Text is built with
//! the byte helpers in [`Put`] (integers, timestamps, ids) instead of `format!`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One output file whose records may be produced slightly out of order.
pub(crate) struct Sink {
    pub(crate) path: PathBuf,
    out: BufWriter<File>,
    arena: Vec<u8>,
    spare: Vec<u8>,
    entries: Vec<Entry>,
    open: Option<(u64, usize)>,
    written: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    ts_us: u64,
    start: u32,
    len: u32,
}

impl Sink {
    pub(crate) fn create(path: &Path) -> io::Result<Sink> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path)?;
        Ok(Sink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            arena: Vec::with_capacity(1 << 16),
            spare: Vec::new(),
            entries: Vec::new(),
            open: None,
            written: 0,
        })
    }

    /// Starts a record stamped `ts_us` (microseconds since the epoch) and returns the buffer to
    /// write it into; the record ends where the next one starts. Records end with `\n`.
    pub(crate) fn record(&mut self, ts_us: u64) -> &mut Vec<u8> {
        self.close();
        self.open = Some((ts_us, self.arena.len()));
        &mut self.arena
    }

    /// Starts a plain application-log record: `YYYY-MM-DD HH:MM:SS LEVEL: `.
    pub(crate) fn plain(&mut self, ts_us: u64, level: &str) -> &mut Vec<u8> {
        let b = self.record(ts_us);
        b.plain_ts(ts_us);
        b.push(b' ');
        b.s(level);
        b.s(": ");
        b
    }

    fn close(&mut self) {
        if let Some((ts_us, start)) = self.open.take() {
            self.entries.push(Entry {
                ts_us,
                start: start as u32,
                len: (self.arena.len() - start) as u32,
            });
        }
    }

    /// Writes, in time order, every record stamped before `boundary_us`; later ones wait.
    pub(crate) fn flush_before(&mut self, boundary_us: u64) -> io::Result<()> {
        self.close();
        self.entries.sort_by_key(|e| e.ts_us);
        let ready = self.entries.partition_point(|e| e.ts_us < boundary_us);
        for e in &self.entries[..ready] {
            let bytes = &self.arena[e.start as usize..(e.start + e.len) as usize];
            self.out.write_all(bytes)?;
            self.written += u64::from(e.len);
        }
        self.spare.clear();
        let mut kept = Vec::with_capacity(self.entries.len() - ready);
        for e in &self.entries[ready..] {
            let start = self.spare.len() as u32;
            self.spare
                .extend_from_slice(&self.arena[e.start as usize..(e.start + e.len) as usize]);
            kept.push(Entry { start, ..*e });
        }
        self.entries = kept;
        std::mem::swap(&mut self.arena, &mut self.spare);
        Ok(())
    }

    /// Bytes written plus bytes waiting.
    pub(crate) fn bytes(&self) -> u64 {
        self.written + self.arena.len() as u64
    }

    /// Writes everything left and closes the file; returns the bytes written.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.flush_before(u64::MAX)?;
        self.out.flush()?;
        Ok(self.written)
    }
}

/// Byte-level text building, cheaper than `write!` on the hot path.
pub(crate) trait Put {
    fn s(&mut self, s: &str) -> &mut Self;
    /// A decimal integer.
    fn u(&mut self, n: u64) -> &mut Self;
    /// `n` with at least two digits.
    fn u2(&mut self, n: u64) -> &mut Self;
    /// `YYYY-MM-DD HH:MM:SS` (UTC).
    fn plain_ts(&mut self, ts_us: u64) -> &mut Self;
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), as `to_rfc3339_opts(Millis, true)` writes it.
    fn iso_ts(&mut self, ts_us: u64) -> &mut Self;
    /// Microseconds as milliseconds the way `serde_json` writes an `f64` rounded to 3 decimals:
    /// `12.345`, `12.3`, `12.0`.
    fn ms3(&mut self, us: u64) -> &mut Self;
    /// Cents as `12.30`.
    fn money(&mut self, cents: u64) -> &mut Self;
}

impl Put for Vec<u8> {
    #[inline]
    fn s(&mut self, s: &str) -> &mut Self {
        self.extend_from_slice(s.as_bytes());
        self
    }

    #[inline]
    fn u(&mut self, mut n: u64) -> &mut Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.extend_from_slice(&buf[i..]);
        self
    }

    #[inline]
    fn u2(&mut self, n: u64) -> &mut Self {
        if n < 10 {
            self.push(b'0');
        }
        self.u(n)
    }

    fn plain_ts(&mut self, ts_us: u64) -> &mut Self {
        let c = Civil::from_us(ts_us);
        self.extend_from_slice(&c.date_time(b' '));
        self
    }

    fn iso_ts(&mut self, ts_us: u64) -> &mut Self {
        let c = Civil::from_us(ts_us);
        self.extend_from_slice(&c.date_time(b'T'));
        let ms = (ts_us / 1000) % 1000;
        self.extend_from_slice(&[
            b'.',
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
        ]);
        self
    }

    fn ms3(&mut self, us: u64) -> &mut Self {
        self.u(us / 1000);
        self.push(b'.');
        let frac = us % 1000;
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let keep = if frac.is_multiple_of(100) {
            1
        } else if frac.is_multiple_of(10) {
            2
        } else {
            3
        };
        self.extend_from_slice(&digits[..keep]);
        self
    }

    fn money(&mut self, cents: u64) -> &mut Self {
        self.u(cents / 100);
        self.push(b'.');
        self.u2(cents % 100)
    }
}

/// A UTC calendar time, to the second.
struct Civil {
    year: u64,
    month: u64,
    day: u64,
    secs_of_day: u64,
}

impl Civil {
    fn from_us(ts_us: u64) -> Civil {
        let secs = ts_us / 1_000_000;
        let days = (secs / 86_400) as i64;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year: year as u64,
            month: month as u64,
            day: day as u64,
            secs_of_day: secs % 86_400,
        }
    }

    fn date_time(&self, sep: u8) -> [u8; 19] {
        let d = |n: u64| b'0' + (n % 10) as u8;
        let (h, m, s) = (
            self.secs_of_day / 3600,
            self.secs_of_day / 60 % 60,
            self.secs_of_day % 60,
        );
        let y = self.year;
        [
            d(y / 1000),
            d(y / 100),
            d(y / 10),
            d(y),
            b'-',
            d(self.month / 10),
            d(self.month),
            b'-',
            d(self.day / 10),
            d(self.day),
            sep,
            d(h / 10),
            d(h),
            b':',
            d(m / 10),
            d(m),
            b':',
            d(s / 10),
            d(s),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn timestamps_match_chrono() {
        for secs in [0i64, 951_782_400, 1_763_029_395, 4_102_444_799] {
            let us = secs as u64 * 1_000_000 + 123_456;
            let t = Utc.timestamp_micros(us as i64).unwrap();
            let mut b = Vec::new();
            b.iso_ts(us);
            assert_eq!(
                String::from_utf8(b).unwrap(),
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            let mut b = Vec::new();
            b.plain_ts(us);
            assert_eq!(
                String::from_utf8(b).unwrap(),
                t.format("%Y-%m-%d %H:%M:%S").to_string()
            );
        }
    }

    #[test]
    fn durations_print_like_serde_json() {
        for us in [
            0u64, 5, 50, 500, 1_000, 12_345, 12_340, 12_300, 12_000, 5_000_123,
        ] {
            let mut b = Vec::new();
            b.ms3(us);
            let f = us as f64 / 1000.0;
            assert_eq!(
                String::from_utf8(b).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }
    }

    #[test]
    fn records_come_out_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut sink = Sink::create(&path).unwrap();
        sink.record(30).s("c\n");
        sink.record(10).s("a\n");
        sink.record(20).s("b\n");
        sink.flush_before(25).unwrap();
        sink.record(25).s("b2\n");
        assert_eq!(sink.finish().unwrap(), 9);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nb2\nc\n");
    }
}
