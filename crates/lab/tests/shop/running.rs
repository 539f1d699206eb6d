//! Running the lab: the load generator's rate, the control API, and a clean shutdown.

use super::*;

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
    assert_eq!(hosts.len(), 15);
    let billing = hosts.iter().find(|h| h["name"] == "billing-1").unwrap();
    assert_eq!(billing["faults"], json!(["error-500", "latency 50ms"]));
    assert_eq!(
        billing["address"],
        shop.lab.addr("billing-1").unwrap().to_string()
    );
    assert_eq!(billing["up"], true);
    let frontend = hosts.iter().find(|h| h["name"] == "frontend-01").unwrap();
    assert_eq!(frontend["db_pool"]["size"], 100);
    let wrong = hosts.iter().find(|h| h["name"] == "inventory-4").unwrap();
    assert_eq!(wrong["pool"], Value::Null);

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
