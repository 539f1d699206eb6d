//! Routing by host and path, balancing, request ids and header hygiene, over real sockets.

use std::time::Duration;

use crate::support::*;
use switchyard_lab::Backend;

#[tokio::test]
async fn routes_by_host_and_path_first_match_wins() {
    let inv = Backend::start("inventory").await.unwrap();
    let api = Backend::start("api").await.unwrap();
    let web = Backend::start("web").await.unwrap();
    let toml = format!(
        r#"{HEAD}
[[routes]]
host = "shop.example"
path_prefix = "/api/inventory"
pool = "inventory"
[[routes]]
path_prefix = "/api"
pool = "api"
[[routes]]
pool = "web"
{}{}{}"#,
        pool_toml("inventory", &[("inventory-1", inv.addr)]),
        pool_toml("api", &[("api-1", api.addr)]),
        pool_toml("web", &[("web-1", web.addr)]),
    );
    let p = start(&toml).await;
    let c = client();
    let cases = [
        ("shop.example", "/api/inventory/42", "inventory"),
        ("SHOP.example:8080", "/api/inventory", "inventory"),
        ("other.example", "/api/inventory/42", "api"),
        ("shop.example", "/api/inventoryx", "api"),
        ("shop.example", "/api", "api"),
        ("shop.example", "/apix", "web"),
        ("shop.example", "/", "web"),
    ];
    for (host, path, want) in cases {
        let r = c
            .get(p.url(path))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}{path}");
        assert_eq!(r.headers()["x-backend"], want, "{host}{path}");
    }
}

#[tokio::test]
async fn unmatched_request_gets_404_naming_host_and_path() {
    let b = Backend::start("b").await.unwrap();
    let toml = one_pool("", &[("b", b.addr)]).replace(
        "[[routes]]\npool",
        "[[routes]]\npath_prefix = \"/only\"\npool",
    );
    let p = start(&toml).await;
    let r = client().get(p.url("/elsewhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no_route");
    assert!(
        body["reason"].as_str().unwrap().contains("\"/elsewhere\""),
        "{body}"
    );
}

#[tokio::test]
async fn round_robin_spreads_evenly_and_respects_weights() {
    let a = Backend::start("a").await.unwrap();
    let b = Backend::start("b").await.unwrap();
    let c3 = Backend::start("c").await.unwrap();
    let p = start(&one_pool(
        "",
        &[("a", a.addr), ("b", b.addr), ("c", c3.addr)],
    ))
    .await;
    let c = client();
    for _ in 0..300 {
        let r = c.get(p.url("/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        (
            a.control.requests(),
            b.control.requests(),
            c3.control.requests()
        ),
        (100, 100, 100)
    );

    let heavy = Backend::start("heavy").await.unwrap();
    let light = Backend::start("light").await.unwrap();
    let toml = one_pool("", &[("heavy", heavy.addr), ("light", light.addr)])
        .replace("name = \"heavy\"", "name = \"heavy\"\nweight = 3");
    let p = start(&toml).await;
    for _ in 0..400 {
        c.get(p.url("/")).send().await.unwrap();
    }
    assert_eq!(
        (heavy.control.requests(), light.control.requests()),
        (300, 100)
    );
}

#[tokio::test]
async fn least_conn_prefers_the_idle_server() {
    let slow = Backend::start("slow").await.unwrap();
    slow.control.set_delay(Duration::from_millis(1500));
    let fast = Backend::start("fast").await.unwrap();
    let p = start(&one_pool(
        "balance = \"least_conn\"",
        &[("slow", slow.addr), ("fast", fast.addr)],
    ))
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1000);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = client();
        let url = p.url("/");
        tasks.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                c.get(&url).send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (s, f) = (slow.control.requests(), fast.control.requests());
    assert!(s <= 4, "the busy server got {s} requests");
    assert!(f >= 50, "the idle server got only {f} requests");
}

#[tokio::test]
async fn request_id_is_kept_generated_returned_and_forwarded() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let c = client();

    let r = c
        .get(p.url("/echo"))
        .header("x-request-id", "order-7f3a")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "order-7f3a");
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["headers"]["x-request-id"], "order-7f3a");
    assert_eq!(
        echo["headers"]["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );

    for bad in [None, Some("has spaces in it"), Some(&"x".repeat(129)[..])] {
        let mut req = c.get(p.url("/echo"));
        if let Some(bad) = bad {
            req = req.header("x-request-id", bad);
        }
        let r = req.send().await.unwrap();
        let returned = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(returned.len(), 32, "{returned}");
        assert!(returned.chars().all(|c| c.is_ascii_hexdigit()));
        let echo: serde_json::Value = r.json().await.unwrap();
        assert_eq!(echo["headers"]["x-request-id"], returned.as_str());
    }
}

#[tokio::test]
async fn forwarding_headers_host_and_hop_by_hop() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let r = client()
        .get(p.url("/echo"))
        .header("host", "shop.example")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "x-private")
        .header("x-private", "secret")
        .header("proxy-authorization", "Basic Zm9v")
        .send()
        .await
        .unwrap();
    let echo: serde_json::Value = r.json().await.unwrap();
    let h = &echo["headers"];
    assert_eq!(h["host"], "shop.example");
    // A client that is not a trusted proxy cannot add to the forwarding headers.
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(h.get("x-private").is_none(), "{h}");
    assert!(h.get("proxy-authorization").is_none(), "{h}");
    assert!(h.get("connection").is_none(), "{h}");
}

#[tokio::test]
async fn applied_config_takes_effect_for_new_requests() {
    let old = Backend::start("old").await.unwrap();
    let new = Backend::start("new").await.unwrap();
    let p = start(&one_pool("", &[("old", old.addr)])).await;
    let c = client();
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["x-backend"], "old");
    let next = switchyard_config::Config::parse(&one_pool("", &[("new", new.addr)]), "v2").unwrap();
    p.handle.apply(next).unwrap();
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["x-backend"], "new");
    assert_eq!(p.handle.config().pools["pool"].servers[0].name, "new");

    let moved = one_pool("", &[("new", new.addr)]).replace("127.0.0.1:0", "127.0.0.1:1");
    let err = p
        .handle
        .apply(switchyard_config::Config::parse(&moved, "v3").unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("needs a restart"), "{err}");
    assert_eq!(p.handle.config().pools["pool"].servers[0].name, "new");
}
