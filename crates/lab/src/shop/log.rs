//! Each service's own log file, `DIR/HOST/app.log`, in the plain format the seed's services
//! wrote: `YYYY-MM-DD HH:MM:SS LEVEL: message` (UTC), details on the following lines indented by
//! two spaces. An entry goes out in one write, so entries never interleave; the lab flushes the
//! buffers every 100 ms and on [`Lab::flush_logs`](super::Lab::flush_logs).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One host's `app.log`, opened for appending.
pub(crate) struct AppLog {
    out: Mutex<BufWriter<File>>,
}

impl AppLog {
    /// Opens (creating it and its directory if needed) `dir/host/app.log`.
    pub(crate) fn create(dir: &Path, host: &str) -> io::Result<AppLog> {
        let host_dir = dir.join(host);
        std::fs::create_dir_all(&host_dir)?;
        let path = host_dir.join("app.log");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(AppLog {
            out: Mutex::new(BufWriter::with_capacity(32 * 1024, file)),
        })
    }

    pub(crate) fn info(&self, message: &str) {
        self.write(Level::Info, message, &[]);
    }

    /// Writes one entry: the message line, then each `(key, value)` as `  key: value`.
    pub(crate) fn write(&self, level: Level, message: &str, details: &[(&str, &str)]) {
        let entry = format_entry(chrono::Utc::now(), level, message, details);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A lab log that cannot be written is not worth failing a request for.
        let _ = out.write_all(entry.as_bytes());
    }

    pub(crate) fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.flush();
    }
}

impl Drop for AppLog {
    fn drop(&mut self) {
        self.flush();
    }
}

fn format_entry(
    at: chrono::DateTime<chrono::Utc>,
    level: Level,
    message: &str,
    details: &[(&str, &str)],
) -> String {
    let mut entry = String::with_capacity(64 + message.len() + details.len() * 48);
    let _ = writeln!(
        entry,
        "{} {}: {message}",
        at.format("%Y-%m-%d %H:%M:%S"),
        level.as_str()
    );
    for (key, value) in details {
        let _ = writeln!(entry, "  {key}: {value}");
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn entries_read_like_the_seed_logs() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 11, 10, 53)
            .unwrap();
        let entry = format_entry(
            at,
            Level::Error,
            "database connection timeout",
            &[("Server", "frontend-02"), ("Wait", "200ms")],
        );
        assert_eq!(
            entry,
            "2026-11-25 11:10:53 ERROR: database connection timeout\n  Server: frontend-02\n  Wait: 200ms\n"
        );
    }

    #[test]
    fn writes_go_to_host_dir_app_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = AppLog::create(dir.path(), "auth-1").unwrap();
        log.info("auth service listening on 127.0.0.1:1");
        log.flush();
        let text = std::fs::read_to_string(dir.path().join("auth-1/app.log")).unwrap();
        assert!(
            text.ends_with(" INFO: auth service listening on 127.0.0.1:1\n"),
            "{text}"
        );
    }
}
