use super::*;

fn ctx() -> RequestContext<'static> {
    RequestContext {
        client_ip: "192.0.2.7",
        tls: false,
        trusted: false,
        new_request_id: b"00000000000000000000000000000001",
        sampler: None,
    }
}

fn parse(raw: &[u8]) -> Result<(RequestHead, String), Refusal> {
    let mut out = Vec::new();
    let head = parse_request(raw, &ctx(), &mut out)?.expect("complete head");
    Ok((head, String::from_utf8(out).unwrap()))
}

#[test]
fn a_plain_request_is_forwarded_with_its_id_and_forwarding_headers() {
    let (head, out) = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\nConnection: keep-alive, x-drop\r\nx-drop: 1\r\n\r\n").unwrap();
    assert_eq!(head.framing, Framing::Empty);
    assert!(head.keep_alive);
    assert_eq!(&out[head.path.clone()], "/a?b=1");
    assert_eq!(&out[head.host.clone().unwrap()], "shop");
    assert_eq!(
        out,
        "GET /a?b=1 HTTP/1.1\r\nhost: shop\r\nAccept: */*\r\nx-request-id: 00000000000000000000000000000001\r\nx-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\n\r\n"
    );
}

#[test]
fn a_sane_client_request_id_is_kept() {
    let (head, out) = parse(b"GET / HTTP/1.1\r\nhost: a\r\nx-request-id: abc-1\r\n\r\n").unwrap();
    assert_eq!(&out[head.request_id.clone()], "abc-1");
    let (head, out) =
        parse(b"GET / HTTP/1.1\r\nhost: a\r\nx-request-id: has space\r\n\r\n").unwrap();
    assert_eq!(
        &out[head.request_id.clone()],
        "00000000000000000000000000000001"
    );
    assert!(!out.contains("has space"));
}

#[test]
fn http10_closes_unless_asked_and_bodies_are_framed() {
    let (head, out) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!head.keep_alive);
    // Forwarded as HTTP/1.1, which needs a Host: an empty one (RFC 9112 3.2).
    assert!(out.contains("\r\nhost: \r\n"), "{out}");
    assert!(head.host.is_none());
    let (head, _) = parse(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n").unwrap();
    assert!(head.keep_alive);
    let (head, out) = parse(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\n\r\n").unwrap();
    assert_eq!(head.framing, Framing::Length(12));
    assert!(out.contains("content-length: 12\r\n"));
    let (head, out) =
        parse(b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: Chunked\r\n\r\n").unwrap();
    assert_eq!(head.framing, Framing::Chunked);
    assert!(out.contains("transfer-encoding: chunked\r\n"));
}

#[test]
fn partial_heads_wait_for_more() {
    let mut out = Vec::new();
    assert!(
        parse_request(b"GET / HTTP/1.1\r\nhost: a\r\n", &ctx(), &mut out)
            .unwrap()
            .is_none()
    );
}

#[test]
fn refusals_carry_their_status() {
    for (raw, status) in [
        (&b"GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n"[..], 400),
        (b"GET / HTTP/2.0\r\nhost: a\r\n\r\n", 505),
        (b"CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n", 405),
        (b"GET / HTTP/1.1\r\nhost: a\r\nexpect: nope\r\n\r\n", 417),
        (b"GET a/b HTTP/1.1\r\nhost: a\r\n\r\n", 400),
    ] {
        assert_eq!(parse(raw).unwrap_err().status, status, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn responses_are_framed_and_cleaned() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close, x-hop\r\nx-hop: 1\r\nx-keep: 2\r\nx-request-id: theirs\r\n\r\nabc";
    let mut headers = ResponseHeaders::default();
    let head = parse_response(raw, &Method::GET, &mut headers)
        .unwrap()
        .unwrap();
    assert_eq!(head.framing, Framing::Length(3));
    assert!(!head.keep_alive);
    let mut out = Out::default();
    let ctx = ResponseContext {
        client_minor: 1,
        client_keep_alive: true,
        request_id: b"mine",
    };
    let framing = write_response(&mut out, raw, &head, &headers, &ctx);
    assert!(framing.keep_alive);
    assert_eq!(
        String::from_utf8(out.bytes).unwrap(),
        "HTTP/1.1 200 OK\r\nx-keep: 2\r\ncontent-length: 3\r\nx-request-id: mine\r\n\r\n"
    );
    let head = parse_response(b"HTTP/1.1 200 OK\r\n\r\n", &Method::GET, &mut headers)
        .unwrap()
        .unwrap();
    assert_eq!(head.framing, Framing::UntilClose);
    let head = parse_response(
        b"HTTP/1.1 204 No Content\r\n\r\n",
        &Method::GET,
        &mut headers,
    )
    .unwrap()
    .unwrap();
    assert_eq!(head.framing, Framing::Empty);
    assert!(parse_response(
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
        &Method::GET,
        &mut headers
    )
    .is_err());
}

mod arbitrary_bytes {
    //! Any bytes from a client or a server give an answer or a refusal, never a panic, and
    //! whatever is forwarded is a head that parses back with the same framing.
    use super::*;
    use proptest::prelude::*;

    fn heads() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            Just(b"GET / HTTP/1.1\r\n".to_vec()),
            Just(b"POST /x?y=1 HTTP/1.0\r\n".to_vec()),
            Just(b"host: a\r\n".to_vec()),
            Just(b"content-length: 5\r\n".to_vec()),
            Just(b"transfer-encoding: chunked\r\n".to_vec()),
            Just(b"x-request-id: abc\r\n".to_vec()),
            Just(b"connection: close, x\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
        ];
        proptest::collection::vec(line, 0..12).prop_map(|parts| parts.concat())
    }

    /// A head that parses is forwarded as one that parses again the same way.
    fn request_round_trips(raw: &[u8]) -> Result<(), TestCaseError> {
        let mut out = Vec::new();
        if let Ok(Some(head)) = parse_request(raw, &ctx(), &mut out) {
            let mut again = Vec::new();
            let forwarded = parse_request(&out, &ctx(), &mut again);
            let forwarded = forwarded
                .expect("the forwarded head parses")
                .expect("complete");
            prop_assert_eq!(forwarded.framing, head.framing);
            prop_assert!(is_sane_request_id(&out[head.request_id.clone()]));
        }
        Ok(())
    }

    /// Any response head, alone or after a valid status line, parses or is refused.
    fn response_parses_or_is_refused(raw: &[u8], head_request: bool) -> Result<(), TestCaseError> {
        let method = if head_request {
            Method::HEAD
        } else {
            Method::GET
        };
        let mut headers = ResponseHeaders::default();
        let mut fixed = b"HTTP/1.1 200 OK\r\n".to_vec();
        fixed.extend_from_slice(raw);
        for input in [raw, &fixed[..]] {
            if let Ok(Some(head)) = parse_response(input, &method, &mut headers) {
                let mut out = Out::default();
                let ctx = ResponseContext {
                    client_minor: 1,
                    client_keep_alive: true,
                    request_id: b"id",
                };
                write_response(&mut out, input, &head, &headers, &ctx);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn requests_never_panic_and_forward_what_parses(raw in heads()) {
            request_round_trips(&raw)?;
        }

        #[test]
        fn responses_never_panic(raw in heads(), head_request in any::<bool>()) {
            response_parses_or_is_refused(&raw, head_request)?;
        }
    }

    /// The same properties, 100,000 cases each:
    /// `cargo test -p switchyard-proxy --lib -- --ignored heads_100k`.
    #[test]
    #[ignore = "100,000 cases: run with --ignored"]
    fn heads_100k() {
        let config = ProptestConfig::with_cases(100_000);
        let mut runner = proptest::test_runner::TestRunner::new(config.clone());
        runner
            .run(&heads(), |raw| request_round_trips(&raw))
            .unwrap();
        let mut runner = proptest::test_runner::TestRunner::new(config);
        runner
            .run(&(heads(), any::<bool>()), |(raw, head)| {
                response_parses_or_is_refused(&raw, head)
            })
            .unwrap();
    }
}

#[test]
fn traced_requests_forward_a_traceparent_naming_this_proxy() {
    let sampler = crate::otel::Sampler::new(0.0);
    let ctx = RequestContext {
        sampler: Some(&sampler),
        ..ctx()
    };
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: vendor=x\r\n\r\n";
    let mut out = Vec::new();
    let head = parse_request(raw, &ctx, &mut out).unwrap().unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    let trace = head.trace.expect("traced");
    assert_eq!(trace.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
    assert_eq!(trace.parent, Some(0x00f067aa0ba902b7));
    assert!(trace.sampled, "the caller's sampled flag wins over ratio 0");
    assert_eq!(text.matches("traceparent").count(), 1, "{text}");
    let forwarded = &text[trace.traceparent.clone()];
    assert_eq!(
        forwarded,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{:016x}-01",
            trace.first_attempt
        )
    );
    assert_eq!(&text[trace.tracestate.unwrap()], "vendor=x");

    // No traceparent: a new trace, unsampled at ratio 0.
    let mut out = Vec::new();
    let head = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &ctx, &mut out)
        .unwrap()
        .unwrap();
    let trace = head.trace.unwrap();
    assert_eq!(trace.parent, None);
    assert!(!trace.sampled);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(&format!("traceparent: 00-{:032x}-", trace.trace_id)),
        "{text}"
    );
}
