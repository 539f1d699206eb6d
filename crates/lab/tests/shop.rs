//! The shop lab behind a real Switchyard proxy, over real loopback sockets: request ids flow
//! through every service, faults show up in the front ends' logs the way the seed incidents
//! did, and the load generator keeps its rate.

mod faults;
mod running;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use switchyard_config::Config;
use switchyard_lab::load::{LoadGen, LoadOptions};
use switchyard_lab::shop::{Fault, Lab, LabOptions, Role};
use switchyard_proxy::{AccessLog, EventSink, Metrics, Proxy, ProxyHandle, ProxyOptions};

/// The lab with Switchyard in front of it, on free ports, logs in a temp dir.
struct Shop {
    lab: Lab,
    gateway: SocketAddr,
    handle: ProxyHandle,
    toml: String,
    _proxy: Proxy,
    _dir: tempfile::TempDir,
}

async fn start_shop() -> Shop {
    start_shop_with(|_| {}).await
}

async fn start_shop_with(tune: impl FnOnce(&mut LabOptions)) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LabOptions::new(dir.path());
    tune(&mut options);
    let lab = Lab::start(options).await.unwrap();
    let toml = format!(
        "[admin]\naccess_log = \"off\"\n\n[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\n{}",
        lab.switchyard_toml()
    );
    let config = Config::parse(&toml, "shop.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let mut registry = Registry::default();
    let proxy = Proxy::start(
        config,
        ProxyOptions {
            metrics: Metrics::register(&mut registry),
            access_log: AccessLog::off(),
            tls: Default::default(),
            events: EventSink::none(),
            release_memory: None,
        },
    )
    .await
    .unwrap();
    let gateway = proxy.local_addr("web").unwrap();
    lab.set_gateway(gateway);
    Shop {
        gateway,
        handle: proxy.handle(),
        toml,
        lab,
        _proxy: proxy,
        _dir: dir,
    }
}

impl Shop {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway)
    }

    /// Every log of hosts whose name starts with `prefix`, concatenated.
    fn logs(&self, prefix: &str) -> String {
        logs_in(&self.lab, prefix)
    }
}

fn logs_in(lab: &Lab, prefix: &str) -> String {
    lab.flush_logs();
    lab.hosts()
        .iter()
        .filter(|h| h.name.starts_with(prefix))
        .map(|h| std::fs::read_to_string(lab.log_path(&h.name)).unwrap())
        .collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The detail lines (`  Key: value`) of each entry whose first line ends with `message`.
fn entries<'a>(log: &'a str, message: &str) -> Vec<Vec<&'a str>> {
    let lines: Vec<&str> = log.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(message) {
            let details = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("  "))
                .map(|l| l.trim_start())
                .collect();
            found.push(details);
        }
    }
    found
}

async fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_flow_from_the_front_end_to_every_service_it_calls() {
    let shop = start_shop().await;
    let http = client();
    let response = http
        .get(shop.url("/products/1"))
        .header("x-request-id", "rid-product-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["x-backend"]
        .to_str()
        .unwrap()
        .starts_with("frontend-"));
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["id"], "1");
    assert!(page["in_stock"].is_u64(), "{page}");

    let response = http
        .post(shop.url("/checkout"))
        .header("x-request-id", "rid-checkout-1")
        .json(&json!({"product_id": 7, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "confirmed", "{order}");

    for prefix in ["frontend-", "inventory-", "auth-"] {
        let logs = shop.logs(prefix);
        for id in ["rid-product-1", "rid-checkout-1"] {
            let mention = format!("(request id {id})");
            assert!(logs.contains(&mention), "{prefix}:\n{logs}");
        }
    }
    let billing = shop.logs("billing-");
    assert!(
        billing.contains("POST /api/billing/charges -> 200"),
        "{billing}"
    );
    assert!(billing.contains("(request id rid-checkout-1)"));
    // The plain format: date, time, level, message.
    let line = shop.logs("frontend-").lines().last().unwrap().to_string();
    let (date, rest) = line.split_once(' ').unwrap();
    assert_eq!(date.len(), 10, "{line}");
    assert!(rest[8..].starts_with(" INFO: "), "{line}");
    assert!(!shop.logs("").contains("ERROR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_json_everywhere_but_on_the_wrong_service() {
    let shop = start_shop().await;
    let http = client();
    for host in shop.lab.hosts() {
        let response = http
            .get(format!("http://{}/health", host.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-backend"], host.name.as_str());
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let status = response.status();
        let body = response.text().await.unwrap();
        if host.role == Role::WrongService {
            assert_eq!(host.pool, None);
            assert_eq!(status, 404);
            assert_eq!(content_type, "text/html");
            assert_eq!(body, "<html><body><h1>Not Found</h1></body></html>");
        } else {
            assert_eq!(
                (status.as_u16(), content_type.as_str()),
                (200, "application/json")
            );
            assert_eq!(body, r#"{"status":"ok"}"#, "{}", host.name);
        }
    }
    // Health checks are not client requests.
    assert!(shop
        .lab
        .hosts()
        .iter()
        .all(|h| shop.lab.requests(&h.name) == Some(0)));
    assert_eq!(shop.lab.hosts().len(), 15);
}
