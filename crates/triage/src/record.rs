//! What a log line says once parsed, borrowed from the line itself so that the common case
//! (a line that is not an error) costs no allocation.

/// Severity as logs write it, normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Parses `ERROR`, `error`, `Err`, `E`, `WARNING`, `crit`, `emerg`, syslog severities...
    pub fn parse(text: &str) -> Option<Level> {
        let t = text.trim().trim_end_matches(':');
        let l = |s: &str| t.eq_ignore_ascii_case(s);
        Some(if l("error") || l("err") || l("e") || l("severe") {
            Level::Error
        } else if l("fatal")
            || l("crit")
            || l("critical")
            || l("alert")
            || l("emerg")
            || l("panic")
            || l("f")
        {
            Level::Fatal
        } else if l("warn") || l("warning") || l("w") {
            Level::Warn
        } else if l("notice") {
            Level::Notice
        } else if l("info") || l("information") || l("i") {
            Level::Info
        } else if l("debug") || l("d") || l("fine") {
            Level::Debug
        } else if l("trace") || l("t") || l("finer") || l("finest") {
            Level::Trace
        } else {
            return None;
        })
    }

    pub fn is_error(self) -> bool {
        self >= Level::Error
    }

    /// The OpenTelemetry `SeverityNumber` (1-24): 17 and above are errors.
    pub fn from_otel(number: i64) -> Option<Level> {
        Some(match number {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            21..=24 => Level::Fatal,
            _ => return None,
        })
    }
}

/// How much of each line a reader needs: parsers may leave out what it does not read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every field.
    #[default]
    Full,
    /// What counting records needs: the timestamp, level, host and service, an access-log
    /// line's status, pool and server, and the message (or the access log's `error`) of
    /// errors only. Request and trace ids, method, path, upstream status and duration are
    /// left out, and so is the message of a line that is not an error.
    Counts,
}

/// Fields of an access-log line (Switchyard's JSON access log, nginx/Apache combined).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access<'a> {
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub pool: Option<&'a str>,
    pub server: Option<&'a str>,
    /// Switchyard's `error` field: why the proxy failed the request.
    pub error: Option<&'a str>,
    /// `duration_ms` as written (`3.25`).
    pub duration_ms: Option<&'a str>,
}

/// An access-log line that is not an error, with only what counting reads of it. A parser
/// hands such lines on this way when its sink asks for counts ([`Detail::Counts`]), which
/// spares building the whole [`Line`]; [`Request::line`] is the line it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub ts_ms: i64,
    /// Below 500.
    pub status: u16,
    pub pool: Option<&'a str>,
    pub server: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// The line as a parser reading for counts gives it.
    pub fn line(&self) -> Line<'a> {
        Line {
            ts_ms: Some(self.ts_ms),
            access: Some(Access {
                status: self.status,
                pool: self.pool,
                server: self.server,
                ..Access::default()
            }),
            ..Line::default()
        }
    }
}

/// One parsed line. A line without a timestamp of its own is a continuation of the record
/// above it (indented details, stack traces) or, at the top of a file, garbage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub ts_ms: Option<i64>,
    pub level: Option<Level>,
    /// The message without timestamp, level and other header fields.
    pub message: &'a str,
    /// The host the record names itself (JSON `host`, syslog hostname), if any.
    pub host: Option<&'a str>,
    /// The service the record names itself (JSON `service`/`app`, syslog app-name), if any.
    pub service: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// The W3C trace id the record names (OTel `trace_id`/`traceId`), as written.
    pub trace_id: Option<&'a str>,
    pub access: Option<Access<'a>>,
}

impl Line<'_> {
    /// A continuation line: no timestamp of its own.
    pub fn is_continuation(&self) -> bool {
        self.ts_ms.is_none()
    }

    /// Errors: error-or-worse levels, and access-log 5xx.
    pub fn is_error(&self) -> bool {
        self.level.is_some_and(Level::is_error)
            || self.access.as_ref().is_some_and(|a| a.status >= 500)
    }
}
