//! HTTP/1.x message heads: strict parsing of a client's request and a server's response on
//! `httparse`, and the head each is forwarded as. Anything a peer could read two ways (two
//! lengths, a length and a chunked coding, bare line feeds, folded lines, control bytes) is
//! refused instead of guessed, so nothing ambiguous ever reaches the other side.

use std::mem::MaybeUninit;
use std::ops::Range;

use http::Method;

use super::buf::{write_u64, Out};
pub(crate) use crate::headers::is_sane_request_id;
use crate::otel::{parse_traceparent, write_traceparent, Parent, Sampler, TraceHead};

/// Most header lines accepted in one head.
pub(crate) const MAX_HEADERS: usize = 128;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Until the server closes the connection (responses only).
    UntilClose,
}

/// Why a request head was refused: the status to answer with and a reason for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// A parsed request. Text fields are ranges into the forwarded head, which holds them all.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: Method,
    /// Bytes of the client's head, to be consumed from its buffer.
    pub len: usize,
    /// HTTP/1.0 (0) or HTTP/1.1 (1).
    pub minor: u8,
    pub framing: Framing,
    /// Whether the client wants the connection kept open after this exchange.
    pub keep_alive: bool,
    /// Origin-form path and query, within the forwarded head.
    pub path: Range<usize>,
    /// Host value (with port, as sent), within the forwarded head.
    pub host: Option<Range<usize>>,
    /// The request id sent upstream, within the forwarded head.
    pub request_id: Range<usize>,
    /// The client asked for `100 Continue` before sending its body.
    pub expect_continue: bool,
    /// The client asked to switch protocols (`Connection: upgrade` with `Upgrade`).
    pub upgrade: bool,
    /// Trace context, when spans are exported.
    pub trace: Option<TraceHead>,
}

/// What the request head depends on besides its bytes.
pub(crate) struct RequestContext<'a> {
    /// The client's address as text, for `X-Forwarded-For`.
    pub client_ip: &'a str,
    pub tls: bool,
    /// The peer is a proxy whose forwarding headers are kept and appended to.
    pub trusted: bool,
    /// A request id to use when the client sent no usable one.
    pub new_request_id: &'a [u8],
    /// Set when spans are exported: the client's `traceparent` is read, and the one forwarded
    /// names this proxy's span.
    pub sampler: Option<&'a Sampler>,
}

/// Parses the request head at the start of `buf` and writes the head to forward upstream into
/// `out` (cleared first). `Ok(None)`: the head is not complete yet.
pub(crate) fn parse_request(
    buf: &[u8],
    ctx: &RequestContext<'_>,
    out: &mut Vec<u8>,
) -> Result<Option<RequestHead>, Refusal> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(refuse(431, "too many header lines")),
        Err(httparse::Error::Version) => {
            return Err(refuse(505, "only HTTP/1.0 and HTTP/1.1 are served here"))
        }
        Err(_) => return Err(refuse(400, "malformed request head")),
    };
    check_line_endings(&buf[..len])?;
    let method_text = req.method.unwrap_or_default();
    let method =
        Method::from_bytes(method_text.as_bytes()).map_err(|_| refuse(400, "malformed method"))?;
    if method == Method::CONNECT {
        return Err(refuse(
            405,
            "CONNECT is not served: this is a reverse proxy",
        ));
    }
    let minor = req.version.unwrap_or(1);
    let target = req.path.unwrap_or_default();
    let (authority, origin) = split_target(target, &method)?;
    let facts = RequestFacts::collect(req.headers)?;

    let framing = match (facts.transfer_encoding, facts.content_length) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                400,
                "both Content-Length and Transfer-Encoding: the body length is ambiguous",
            ))
        }
        (Some(_), None) if minor == 0 => {
            return Err(refuse(400, "Transfer-Encoding in an HTTP/1.0 request"))
        }
        (Some(te), None) => match te {
            Coding::Chunked => Framing::Chunked,
            Coding::NotFinalChunked => {
                return Err(refuse(
                    400,
                    "Transfer-Encoding does not end in chunked: the body length is unknown",
                ))
            }
            Coding::Other => {
                return Err(refuse(
                    501,
                    "only the chunked transfer coding is supported in requests",
                ))
            }
        },
        (None, Some(0)) | (None, None) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
    };
    if facts.expect_other {
        return Err(refuse(417, "only Expect: 100-continue is supported"));
    }
    if minor == 1 && facts.host.is_none() && authority.is_none() {
        return Err(refuse(400, "an HTTP/1.1 request needs a Host header"));
    }
    let keep_alive = if minor == 1 {
        !facts.close
    } else {
        facts.keep_alive
    };
    let upgrade = facts.upgrade_token && facts.upgrade.is_some() && minor == 1;

    // The forwarded head.
    out.clear();
    out.extend_from_slice(method_text.as_bytes());
    out.push(b' ');
    let path_start = out.len();
    out.extend_from_slice(origin.as_bytes());
    let path = path_start..out.len();
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host = None;
    if let Some(authority) = authority {
        // An absolute-form target names the host; a Host header is replaced by it.
        out.extend_from_slice(b"host: ");
        let start = out.len();
        out.extend_from_slice(authority.as_bytes());
        host = Some(start..out.len());
        out.extend_from_slice(b"\r\n");
    }
    let mut request_id = None;
    let mut parent: Option<Parent> = None;
    let mut tracestate = None;
    for h in req.headers.iter() {
        let name = h.name;
        if is_hop_by_hop(name)
            || facts.connection_names(name)
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("expect")
            || (!ctx.trusted && is_forwarding(name))
            || (ctx.trusted && name.eq_ignore_ascii_case("x-forwarded-for"))
            || (ctx.trusted && name.eq_ignore_ascii_case("x-forwarded-proto"))
        {
            continue;
        }
        if name.eq_ignore_ascii_case("host") {
            if authority.is_some() {
                continue;
            }
            out.extend_from_slice(b"host: ");
            let start = out.len();
            out.extend_from_slice(h.value);
            host = Some(start..out.len());
            out.extend_from_slice(b"\r\n");
            continue;
        }
        if name.eq_ignore_ascii_case("x-request-id") {
            if !is_sane_request_id(h.value) || request_id.is_some() {
                continue;
            }
            out.extend_from_slice(b"x-request-id: ");
            let start = out.len();
            out.extend_from_slice(h.value);
            request_id = Some(start..out.len());
            out.extend_from_slice(b"\r\n");
            continue;
        }
        if ctx.sampler.is_some() {
            if name.eq_ignore_ascii_case("traceparent") {
                // Replaced below by one that names this proxy's span.
                parent = parent.or_else(|| parse_traceparent(h.value));
                continue;
            }
            if tracestate.is_none() && name.eq_ignore_ascii_case("tracestate") {
                out.extend_from_slice(b"tracestate: ");
                let start = out.len();
                out.extend_from_slice(h.value);
                tracestate = Some(start..out.len());
                out.extend_from_slice(b"\r\n");
                continue;
            }
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    if host.is_none() {
        // HTTP/1.1 upstream needs a Host: an HTTP/1.0 request without one gets an empty value,
        // as RFC 9112 3.2 asks for a target without an authority.
        out.extend_from_slice(b"host: \r\n");
    }
    let request_id = match request_id {
        Some(r) => r,
        None => {
            out.extend_from_slice(b"x-request-id: ");
            let start = out.len();
            out.extend_from_slice(ctx.new_request_id);
            let r = start..out.len();
            out.extend_from_slice(b"\r\n");
            r
        }
    };
    let trace = ctx.sampler.map(|sampler| {
        let trace_id = parent.map_or_else(crate::otel::new_trace_id, |p| p.trace_id);
        let sampled = sampler.sampled(parent.as_ref(), trace_id);
        let first_attempt = crate::otel::new_span_id();
        out.extend_from_slice(b"traceparent: ");
        let start = out.len();
        out.extend_from_slice(&write_traceparent(trace_id, first_attempt, sampled));
        let traceparent = start..out.len();
        out.extend_from_slice(b"\r\n");
        TraceHead {
            trace_id,
            parent: parent.map(|p| p.span_id),
            sampled,
            first_attempt,
            traceparent,
            tracestate,
        }
    });
    forwarding_headers(out, &facts, ctx);
    if upgrade {
        out.extend_from_slice(b"connection: upgrade\r\nupgrade: ");
        out.extend_from_slice(facts.upgrade.unwrap_or_default());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            write_u64(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Empty | Framing::UntilClose => {}
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(RequestHead {
        method,
        len,
        minor,
        framing,
        keep_alive,
        path,
        host,
        request_id,
        expect_continue: facts.expect_continue && framing != Framing::Empty,
        upgrade,
        trace,
    }))
}

/// `X-Forwarded-For`/`-Proto`: set from this connection, or appended to when the peer is a
/// trusted proxy. `Forwarded` from an untrusted peer was dropped with the rest.
fn forwarding_headers(out: &mut Vec<u8>, facts: &RequestFacts<'_>, ctx: &RequestContext<'_>) {
    out.extend_from_slice(b"x-forwarded-for: ");
    if ctx.trusted {
        for v in &facts.forwarded_for {
            out.extend_from_slice(v);
            out.extend_from_slice(b", ");
        }
    }
    out.extend_from_slice(ctx.client_ip.as_bytes());
    out.extend_from_slice(b"\r\nx-forwarded-proto: ");
    if ctx.trusted {
        if let Some(proto) = facts.forwarded_proto {
            out.extend_from_slice(proto);
            out.extend_from_slice(b"\r\n");
            return;
        }
    }
    out.extend_from_slice(if ctx.tls { b"https\r\n" } else { b"http\r\n" });
}

/// Every line must end in CRLF: a bare LF or CR could end a line for one reader and not for
/// another.
fn check_line_endings(head: &[u8]) -> Result<(), Refusal> {
    for i in memchr::memchr2_iter(b'\r', b'\n', head) {
        let ok = match head[i] {
            b'\r' => head.get(i + 1) == Some(&b'\n'),
            _ => i > 0 && head[i - 1] == b'\r',
        };
        if !ok {
            return Err(refuse(400, "a line of the head does not end in CRLF"));
        }
    }
    Ok(())
}

/// Splits a request target into the authority of an absolute-form target and the origin-form
/// path and query to forward.
fn split_target<'a>(
    target: &'a str,
    method: &Method,
) -> Result<(Option<&'a str>, &'a str), Refusal> {
    if target.starts_with('/') {
        return Ok((None, target));
    }
    if target == "*" && method == Method::OPTIONS {
        return Ok((None, target));
    }
    let rest = if target.len() > 7 && target[..7].eq_ignore_ascii_case("http://") {
        &target[7..]
    } else if target.len() > 8 && target[..8].eq_ignore_ascii_case("https://") {
        &target[8..]
    } else {
        return Err(refuse(
            400,
            "the request target is neither a path nor an absolute URI",
        ));
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') {
        return Err(refuse(400, "the absolute URI has no usable authority"));
    }
    let origin = &rest[end..];
    // `http://host?q` has an empty path; the origin form of it is `/?q`, which cannot be
    // borrowed, so such targets are refused rather than rewritten.
    if !origin.starts_with('/') {
        if origin.is_empty() {
            return Ok((Some(authority), "/"));
        }
        return Err(refuse(400, "the absolute URI has a query but no path"));
    }
    Ok((Some(authority), origin))
}

/// A request's `Transfer-Encoding`, as far as framing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// Exactly `chunked`.
    Chunked,
    /// Codings that do not end in `chunked`.
    NotFinalChunked,
    /// `chunked` after another coding.
    Other,
}

/// The headers that decide framing and forwarding, gathered in one pass.
#[derive(Default)]
struct RequestFacts<'a> {
    content_length: Option<u64>,
    transfer_encoding: Option<Coding>,
    host: Option<&'a [u8]>,
    close: bool,
    keep_alive: bool,
    upgrade_token: bool,
    upgrade: Option<&'a [u8]>,
    expect_continue: bool,
    expect_other: bool,
    /// Other header names listed in `Connection`, lowercase-insensitive.
    named: Vec<&'a str>,
    forwarded_for: Vec<&'a [u8]>,
    forwarded_proto: Option<&'a [u8]>,
}

impl<'a> RequestFacts<'a> {
    fn collect(headers: &[httparse::Header<'a>]) -> Result<Self, Refusal> {
        let mut f = RequestFacts::default();
        let mut te_seen = false;
        for h in headers {
            let name = h.name;
            let value = h.value;
            if name.eq_ignore_ascii_case("content-length") {
                let n = parse_content_length(value)
                    .ok_or(refuse(400, "Content-Length is not a number"))?;
                match f.content_length {
                    Some(m) if m != n => {
                        return Err(refuse(400, "two different Content-Length values"))
                    }
                    _ => f.content_length = Some(n),
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // Several Transfer-Encoding lines are one list; only the last coding matters
                // for framing, but anything but a single `chunked` is refused or not served.
                let text = std::str::from_utf8(value)
                    .map_err(|_| refuse(400, "Transfer-Encoding is not text"))?;
                let mut codings = text.split(',').map(str::trim).filter(|c| !c.is_empty());
                let mut count = usize::from(te_seen);
                let mut last = None;
                for c in codings.by_ref() {
                    count += 1;
                    last = Some(c);
                }
                let Some(last) = last else {
                    return Err(refuse(400, "empty Transfer-Encoding"));
                };
                f.transfer_encoding = Some(if !last.eq_ignore_ascii_case("chunked") {
                    Coding::NotFinalChunked
                } else if count > 1 {
                    Coding::Other
                } else {
                    Coding::Chunked
                });
                te_seen = true;
            } else if name.eq_ignore_ascii_case("host") {
                if f.host.is_some() {
                    return Err(refuse(400, "more than one Host header"));
                }
                f.host = Some(value);
            } else if name.eq_ignore_ascii_case("connection") {
                for token in split_tokens(value) {
                    if token.eq_ignore_ascii_case("close") {
                        f.close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        f.keep_alive = true;
                    } else if token.eq_ignore_ascii_case("upgrade") {
                        f.upgrade_token = true;
                    } else {
                        f.named.push(token);
                    }
                }
            } else if name.eq_ignore_ascii_case("upgrade") {
                f.upgrade = Some(value);
            } else if name.eq_ignore_ascii_case("expect") {
                if value.eq_ignore_ascii_case(b"100-continue") {
                    f.expect_continue = true;
                } else {
                    f.expect_other = true;
                }
            } else if name.eq_ignore_ascii_case("x-forwarded-for") {
                f.forwarded_for.push(value);
            } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
                f.forwarded_proto = Some(value);
            }
        }
        Ok(f)
    }

    fn connection_names(&self, name: &str) -> bool {
        self.named.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Headers that describe one connection and are never forwarded.
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    crate::headers::HOP_BY_HOP
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

fn is_forwarding(name: &str) -> bool {
    name.eq_ignore_ascii_case("x-forwarded-for")
        || name.eq_ignore_ascii_case("x-forwarded-proto")
        || name.eq_ignore_ascii_case("x-forwarded-host")
        || name.eq_ignore_ascii_case("forwarded")
}

/// Digits only: no sign, no spaces inside, no overflow. A list of equal values (`5, 5`) is
/// one value.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let mut result = None;
    for part in value.split(|b| *b == b',') {
        let part = trim(part);
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = part
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        match result {
            Some(m) if m != n => return None,
            _ => result = Some(n),
        }
    }
    result
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn split_tokens(value: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(value)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

mod response;

pub(crate) use response::{
    parse_response, write_response, BodyOut, ResponseContext, ResponseHead, ResponseHeaders,
};

#[cfg(test)]
mod tests;
