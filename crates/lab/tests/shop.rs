//! The shop lab behind a real Switchyard proxy, over real loopback sockets: request ids flow
//! through every service, faults show up in the front ends' logs the way the seed incidents
//! did, and the load generator keeps its rate.

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
        assert!(
            logs.contains("(request id rid-product-1)"),
            "{prefix}:\n{logs}"
        );
        assert!(
            logs.contains("(request id rid-checkout-1)"),
            "{prefix}:\n{logs}"
        );
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
    assert_eq!(shop.lab.hosts().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_server_answering_404_fails_a_third_of_product_pages_with_a_full_story() {
    let shop = start_shop().await;
    shop.lab
        .fault("inventory-2", Fault::NotFound)
        .await
        .unwrap();
    let http = client();
    let mut failed = 0;
    for id in 0..60 {
        let response = http
            .get(shop.url(&format!("/products/{id}")))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {}
            500 => failed += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!((14..=26).contains(&failed), "{failed} of 60 failed");
    assert_eq!(shop.lab.requests("inventory-2"), Some(failed));

    let logs = shop.logs("frontend-");
    let errors = entries(&logs, "ERROR: inventory lookup failed for GET /products/");
    assert_eq!(errors.len() as u64, failed, "{logs}");
    let details = &errors[0];
    assert_eq!(details[0], "Service: inventory");
    assert!(
        details[1].starts_with("Request: GET /api/inventory/"),
        "{details:?}"
    );
    assert!(details[1].contains("(request id "));
    assert_eq!(details[2], "Expected: 200 with JSON inventory data");
    assert_eq!(details[3], r#"Received: 404 text/html "Not Found""#);
    assert_eq!(details[4], "Server: inventory-2");
    assert_eq!(
        details[5],
        "Reason: inventory-2 answered 404 with an HTML page: it is not serving the inventory API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_the_wrong_service_to_the_inventory_pool_fails_a_quarter_of_requests() {
    let shop = start_shop().await;
    let bad = shop.lab.addr("inventory-4").unwrap();
    let toml = format!(
        "{}\n[[pools.inventory.servers]]\nname = \"inventory-4\"\naddress = \"{bad}\"\n",
        shop.toml
    );
    shop.handle
        .apply(Config::parse(&toml, "shop.toml").unwrap())
        .unwrap();
    let http = client();
    let mut failed = 0;
    for id in 0..80 {
        let status = http
            .get(shop.url(&format!("/products/{id}")))
            .send()
            .await
            .unwrap()
            .status();
        failed += u64::from(status == 500);
    }
    assert!((12..=28).contains(&failed), "{failed} of 80 failed");
    assert_eq!(shop.lab.requests("inventory-4"), Some(failed));
    let logs = shop.logs("frontend-");
    let errors = entries(&logs, "ERROR: inventory lookup failed");
    assert!(
        errors.iter().all(|d| d.contains(&"Server: inventory-4")),
        "{logs}"
    );
    assert!(errors
        .iter()
        .all(|d| d.contains(&r#"Received: 404 text/html "Not Found""#)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vague_mode_logs_the_seed_line_and_500s_name_the_server() {
    let shop = start_shop_with(|o| o.vague_errors = true).await;
    for host in ["inventory-1", "inventory-2", "inventory-3"] {
        shop.lab.fault(host, Fault::NotFound).await.unwrap();
    }
    let http = client();
    let status = http
        .get(shop.url("/products/5"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 500);
    let logs = shop.logs("frontend-");
    assert!(
        logs.contains(" ERROR: invalid response from server\n"),
        "{logs}"
    );
    assert!(!logs.contains("inventory lookup failed"));

    // The same failure told in full, this time a billing server that answers 500.
    shop.lab.set_vague_errors(false);
    for host in ["inventory-1", "inventory-2", "inventory-3"] {
        shop.lab.fault(host, Fault::Recover).await.unwrap();
    }
    shop.lab.fault("billing-1", Fault::Error500).await.unwrap();
    shop.lab.fault("billing-2", Fault::Error500).await.unwrap();
    let response = http
        .post(shop.url("/checkout"))
        .header("x-request-id", "rid-pay")
        .json(&json!({"product_id": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let logs = shop.logs("frontend-");
    let details = &entries(&logs, "ERROR: payment failed for POST /checkout")[0];
    assert_eq!(details[0], "Service: billing");
    assert_eq!(
        details[1],
        "Request: POST /api/billing/charges (request id rid-pay)"
    );
    assert!(
        details[3].starts_with("Received: 500 application/json \"{"),
        "{details:?}"
    );
    assert!(details[4] == "Server: billing-1" || details[4] == "Server: billing-2");
    assert!(details[5].ends_with("answered 500 Internal Server Error"));
    // The failing server tells its side too.
    assert!(shop
        .logs("billing-")
        .contains("ERROR: request failed for POST /api/billing/charges"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_front_end_times_out_on_its_own_database_only() {
    let shop = start_shop().await;
    let load = LoadGen::start(
        shop.gateway,
        LoadOptions {
            rate: 120.0,
            ..LoadOptions::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leak_started = Instant::now();
    shop.lab.fault("frontend-02", Fault::leak()).await.unwrap();
    eventually(
        "frontend-02 to log database connection timeouts",
        Duration::from_secs(25),
        || {
            shop.logs("frontend-02")
                .contains("ERROR: database connection timeout")
        },
    )
    .await;
    let took = leak_started.elapsed();
    assert!(took >= Duration::from_secs(5), "pool filled in {took:?}");
    let logs = shop.logs("frontend-02");
    let details = &entries(&logs, "ERROR: database connection timeout")[0];
    assert_eq!(details[0], "Server: frontend-02");
    assert!(details[1].starts_with("Request: "), "{details:?}");
    assert!(details[2].starts_with("Query: SELECT "), "{details:?}");
    let pool = details[3];
    assert!(
        pool.starts_with("Connection pool: 9") && pool.ends_with("/100 connections in use"),
        "{pool}"
    );
    assert_eq!(details[4], "Wait: 200ms");
    assert!(logs.contains("WARN: database connection pool nearly exhausted"));
    let state = shop.lab.status();
    let frontend_02 = state.iter().find(|s| s.info.name == "frontend-02").unwrap();
    assert_eq!(frontend_02.faults, ["leak-connections"]);
    assert!(frontend_02.db.unwrap().leaked >= 90, "{frontend_02:?}");

    tokio::time::sleep(Duration::from_secs(1)).await;
    for other in ["frontend-01", "frontend-03", "frontend-04"] {
        let logs = shop.logs(other);
        assert!(!logs.contains("ERROR"), "{other}:\n{logs}");
    }
    let now = Instant::now();
    let rate = load
        .error_rate_between(now - Duration::from_secs(1), now)
        .unwrap();
    assert!(rate > 0.1, "error rate {rate}");

    shop.lab.fault("frontend-02", Fault::Recover).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recovered = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        load.error_rate_between(recovered, Instant::now()),
        Some(0.0)
    );
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_server_drops_its_connections_and_recovers_on_the_same_port() {
    let shop = start_shop().await;
    let addr = shop.lab.addr("inventory-1").unwrap();
    let direct = client();
    let health = format!("http://{addr}/health");
    assert_eq!(direct.get(&health).send().await.unwrap().status(), 200);

    shop.lab.fault("inventory-1", Fault::Crash).await.unwrap();
    let status = shop.lab.status();
    assert!(
        !status
            .iter()
            .find(|s| s.info.name == "inventory-1")
            .unwrap()
            .up
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // The open keep-alive connection went down with it.
    assert!(direct.get(&health).send().await.is_err());
    // Switchyard retries a GET that could not connect on another server.
    let http = client();
    for id in 0..6 {
        let response = http
            .get(shop.url(&format!("/products/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    shop.lab.fault("inventory-1", Fault::Recover).await.unwrap();
    assert_eq!(shop.lab.addr("inventory-1"), Some(addr));
    assert_eq!(client().get(&health).send().await.unwrap().status(), 200);
    let log = shop.logs("inventory-1");
    assert_eq!(
        log.matches(&format!("listening on {addr}")).count(),
        2,
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_holds_its_rate_and_counts_errors() {
    let shop = start_shop().await;
    let load = LoadGen::start(
        shop.gateway,
        LoadOptions {
            rate: 100.0,
            concurrency: 8,
            ..LoadOptions::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let snapshot = load.snapshot();
    let first_three: Vec<_> = snapshot.seconds.iter().take(3).collect();
    assert_eq!(first_three.len(), 3, "{snapshot:?}");
    let sent: u64 = first_three.iter().map(|s| s.requests).sum();
    assert!(
        (270..=330).contains(&sent),
        "{sent} requests in 3 s: {snapshot:?}"
    );
    assert!(
        snapshot.seconds.iter().all(|s| s.requests <= 101),
        "{snapshot:?}"
    );
    assert_eq!(snapshot.errors, 0, "{snapshot:?}");
    let frontends: u64 = shop
        .lab
        .hosts()
        .iter()
        .filter(|h| h.role == Role::Frontend)
        .map(|h| shop.lab.requests(&h.name).unwrap())
        .sum();
    assert!(
        frontends >= sent && frontends <= snapshot.requests,
        "{frontends}"
    );

    shop.lab
        .fault("inventory-2", Fault::NotFound)
        .await
        .unwrap();
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rate = load.error_rate_between(from, Instant::now()).unwrap();
    assert!((0.2..=0.47).contains(&rate), "error rate {rate}");
    let last = load.snapshot();
    assert!(last.last(1)[0].errors > 0, "{last:?}");
    let stopped = load.stop().await;
    assert_eq!(stopped.statuses.get(&500).copied(), Some(stopped.errors));
    assert_eq!(stopped.no_answer, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_sets_faults_and_reports_state() {
    let shop = start_shop().await;
    let control = format!("http://{}", shop.lab.control_addr());
    let http = client();
    let post = |path: &str, body: Value| http.post(format!("{control}{path}")).json(&body).send();

    let response = post("/faults/billing-1", json!({"fault": "latency", "ms": 50}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    post("/faults/billing-1", json!({"fault": "error-500"}))
        .await
        .unwrap();
    let state: Value = http
        .get(format!("{control}/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["gateway"], shop.gateway.to_string());
    let hosts = state["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 12);
    let billing = hosts.iter().find(|h| h["name"] == "billing-1").unwrap();
    assert_eq!(billing["faults"], json!(["error-500", "latency 50ms"]));
    assert_eq!(
        billing["address"],
        shop.lab.addr("billing-1").unwrap().to_string()
    );
    assert_eq!(billing["up"], true);
    let frontend = hosts.iter().find(|h| h["name"] == "frontend-01").unwrap();
    assert_eq!(frontend["db_pool"]["size"], 100);
    assert_eq!(hosts.last().unwrap()["pool"], Value::Null);

    let after: Value = post("/faults/billing-1", json!({"fault": "recover"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["faults"], json!([]));

    let unknown = post("/faults/billing-9", json!({"fault": "crash"}))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let reason: Value = unknown.json().await.unwrap();
    assert!(
        reason["reason"].as_str().unwrap().contains("billing-2"),
        "{reason}"
    );
    let bad = post("/faults/billing-1", json!({"fault": "melt"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let wrong = post("/faults/auth-1", json!({"fault": "leak-connections"}))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["reason"],
        "fault leak-connections applies to front ends only, not to auth-1 (auth)"
    );

    let vague = post("/vague-errors", json!({"on": true})).await.unwrap();
    assert_eq!(vague.status(), 200);
    let crash = post("/faults/frontend-03", json!({"fault": "crash"}))
        .await
        .unwrap();
    assert_eq!(crash.json::<Value>().await.unwrap()["up"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_lab_closes_every_port_and_keeps_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions::new(dir.path())).await.unwrap();
    let mut addrs: Vec<SocketAddr> = lab.hosts().iter().map(|h| h.addr).collect();
    addrs.push(lab.control_addr());
    lab.fault("frontend-01", Fault::leak()).await.unwrap();
    drop(lab);
    for addr in addrs {
        eventually(&format!("{addr} to close"), Duration::from_secs(2), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err()
        })
        .await;
    }
    assert_logs_kept(dir.path());

    // `shutdown` closes the ports before it returns.
    let lab = Lab::start(LabOptions::new(dir.path())).await.unwrap();
    let addrs: Vec<SocketAddr> = lab.hosts().iter().map(|h| h.addr).collect();
    lab.shutdown().await;
    for addr in addrs {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr}"
        );
    }
}

fn assert_logs_kept(dir: &Path) {
    let log = std::fs::read_to_string(dir.join("frontend-01/app.log")).unwrap();
    assert!(
        log.contains("INFO: frontend service listening on 127.0.0.1:"),
        "{log}"
    );
    assert!(dir.join("inventory-4/app.log").exists());
}
