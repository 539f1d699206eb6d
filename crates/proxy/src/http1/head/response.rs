//! Response heads from servers: parsed strictly, and written on to the client with the framing
//! the client's protocol version and keep-alive allow.

use super::*;

/// A parsed response head from a server.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub status: u16,
    /// Bytes of the server's head.
    pub len: usize,
    pub framing: Framing,
    /// The server keeps the connection open after this response.
    pub keep_alive: bool,
}

/// Why a response head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadResponse(pub &'static str);

/// What the client side needs to write the response head.
pub(crate) struct ResponseContext<'a> {
    /// HTTP minor version of the client's request.
    pub client_minor: u8,
    /// The client connection stays open after this response (if the framing allows).
    pub client_keep_alive: bool,
    pub request_id: &'a [u8],
}

/// How the response head was written for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientFraming {
    /// How the body read from the server is written to the client.
    pub body: BodyOut,
    /// The client connection stays open after the body.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyOut {
    /// No body.
    Empty,
    /// Copied as is (a length was given).
    Raw,
    /// Re-chunked (the server's chunked or close-delimited body to an HTTP/1.1 client).
    Chunked,
    /// Copied as is, then the connection closes (close-delimited, HTTP/1.0 client).
    UntilClose,
}

/// Parses the response head at the start of `buf`, its end-to-end headers into `kept` (reused
/// from response to response). `Ok(None)`: not complete yet.
pub(crate) fn parse_response(
    buf: &[u8],
    method: &Method,
    kept: &mut ResponseHeaders,
) -> Result<Option<ResponseHead>, BadResponse> {
    kept.lines.clear();
    kept.upgrade = None;
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(BadResponse("too many header lines")),
        Err(_) => return Err(BadResponse("malformed response head")),
    };
    if check_line_endings(&buf[..len]).is_err() {
        return Err(BadResponse(
            "a line of the response head does not end in CRLF",
        ));
    }
    let status = resp.code.unwrap_or(0);
    let minor = resp.version.unwrap_or(1);
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut te = false;
    let mut close = minor == 0;
    let mut keep_alive_token = false;
    let mut named: Vec<&str> = Vec::new();
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(h.value)
                .ok_or(BadResponse("Content-Length is not a number"))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(BadResponse("two different Content-Length values"));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te = true;
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .map(|last| trim(last).eq_ignore_ascii_case(b"chunked"))
                .unwrap_or(false);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in split_tokens(h.value) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive_token = true;
                } else {
                    named.push(token);
                }
            }
        }
    }
    if te && content_length.is_some() {
        return Err(BadResponse(
            "both Content-Length and Transfer-Encoding in the response",
        ));
    }
    if minor == 0 && keep_alive_token {
        close = false;
    }
    let bodiless = method == Method::HEAD || status == 204 || status == 304 || status < 200;
    let framing = if bodiless {
        Framing::Empty
    } else if te {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match content_length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    let base = buf.as_ptr() as usize;
    for h in resp.headers.iter() {
        if status == 101 && h.name.eq_ignore_ascii_case("upgrade") {
            let value = h.value.as_ptr() as usize - base;
            kept.upgrade = Some(value..value + h.value.len());
        }
        if is_hop_by_hop(h.name)
            || named.iter().any(|n| n.eq_ignore_ascii_case(h.name))
            || h.name.eq_ignore_ascii_case("x-request-id")
            // A bodiless answer (HEAD, 204, 304) keeps its Content-Length as sent: it
            // describes the body a GET would get. Otherwise the length is written anew.
            || (h.name.eq_ignore_ascii_case("content-length") && framing != Framing::Empty)
        {
            continue;
        }
        let name = h.name.as_ptr() as usize - base;
        let value = h.value.as_ptr() as usize - base;
        kept.lines
            .push((name..name + h.name.len(), value..value + h.value.len()));
    }
    let keep_alive = !close && framing != Framing::UntilClose;
    Ok(Some(ResponseHead {
        status,
        len,
        framing,
        keep_alive,
    }))
}

/// The end-to-end headers of a response: ranges of the server's head.
#[derive(Default)]
pub(crate) struct ResponseHeaders {
    lines: Vec<(Range<usize>, Range<usize>)>,
    /// The `Upgrade` value of a `101 Switching Protocols`.
    upgrade: Option<Range<usize>>,
}

/// Writes the response head for the client into `out`, from the server's head `head` (the
/// bytes `parse_response` parsed).
pub(crate) fn write_response(
    out: &mut Out,
    head: &[u8],
    parsed: &ResponseHead,
    headers: &ResponseHeaders,
    ctx: &ResponseContext<'_>,
) -> ClientFraming {
    let body = match parsed.framing {
        Framing::Empty => BodyOut::Empty,
        Framing::Length(_) => BodyOut::Raw,
        Framing::Chunked | Framing::UntilClose if ctx.client_minor == 1 => BodyOut::Chunked,
        Framing::Chunked | Framing::UntilClose => BodyOut::UntilClose,
    };
    let keep_alive = ctx.client_keep_alive && body != BodyOut::UntilClose;
    out.status_line(parsed.status);
    for (name, value) in &headers.lines {
        out.header(&head[name.clone()], &head[value.clone()]);
    }
    if parsed.status == 101 {
        out.header(b"connection", b"upgrade");
        if let Some(upgrade) = &headers.upgrade {
            out.header(b"upgrade", &head[upgrade.clone()]);
        }
        out.header(b"x-request-id", ctx.request_id);
        out.end_head();
        return ClientFraming {
            body: BodyOut::Empty,
            keep_alive: false,
        };
    }
    if let Framing::Length(n) = parsed.framing {
        out.header_u64(b"content-length", n);
    }
    if body == BodyOut::Chunked {
        out.header(b"transfer-encoding", b"chunked");
    }
    out.header(b"x-request-id", ctx.request_id);
    if !keep_alive {
        out.header(b"connection", b"close");
    } else if ctx.client_minor == 0 {
        out.header(b"connection", b"keep-alive");
    }
    out.end_head();
    ClientFraming { body, keep_alive }
}
