//! HTTP/2: cleartext with prior knowledge from clients and to upstreams, and h2 over TLS
//! negotiated with ALPN.

use std::collections::HashMap;
use std::sync::Arc;

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchyard_lab::Backend;
use switchyard_proxy::TlsMaterial;

fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

#[tokio::test]
async fn h2c_client_to_http1_upstream() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let r = h2c_client().get(p.url("/echo")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert!(r.headers().contains_key("x-request-id"));
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["version"], "HTTP/1.1");
    assert_eq!(
        echo["headers"]["host"],
        p.addr.to_string(),
        "authority becomes Host"
    );
    let line = p.access_lines_when(1).await.pop().unwrap();
    assert_eq!(line["protocol"], "HTTP/2");
}

#[tokio::test]
async fn h2c_upstream_from_both_client_protocols() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("protocol = \"h2c\"", &[("b", b.addr)])).await;
    for c in [client(), h2c_client()] {
        let r = c.get(p.url("/echo")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let echo: serde_json::Value = r.json().await.unwrap();
        assert_eq!(echo["version"], "HTTP/2.0");
        assert_eq!(echo["path"], "/echo");
    }
    // Many concurrent streams share the upstream connection.
    let c = h2c_client();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(tokio::spawn(c.get(p.url("/sleep/50")).send()));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status(), 200);
    }
}

#[tokio::test]
async fn tls_listener_negotiates_h2_and_http11_with_alpn() {
    let b = Backend::start("b").await.unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let material = TlsMaterial {
        cert_pem: cert.cert.pem().into_bytes(),
        key_pem: cert.key_pair.serialize_pem().into_bytes(),
    };
    let toml = one_pool("", &[("b", b.addr)]).replace(
        "bind = \"127.0.0.1:0\"",
        "bind = \"127.0.0.1:0\"\ntls = { cert = \"cert.pem\", key = \"key.pem\" }",
    );
    let p = start_with_tls(&toml, HashMap::from([("web".to_string(), material)])).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    for (alpn, want) in [(&b"h2"[..], "HTTP/2"), (&b"http/1.1"[..], "HTTP/1.1")] {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(p.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
        let io = TokioIo::new(tls);
        let req = http::Request::get("https://localhost/echo")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = if want == "HTTP/2" {
            let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            send.send_request(req).await.unwrap()
        } else {
            let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            let mut req = req;
            *req.uri_mut() = "/echo".parse().unwrap();
            send.send_request(req).await.unwrap()
        };
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["headers"]["x-forwarded-proto"], "https");
        let line = p.access_lines_when(1).await.pop().unwrap();
        assert_eq!(line["protocol"], want);
    }
}
