//! Faults as the seed incidents had them: a server answering 404, the wrong service in a pool,
//! vague 500s, a leaking front end and a crashed server.

use super::*;

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
    // The first request to time out may read (a product) or write (a checkout's order).
    assert!(
        details[2].starts_with("Query: SELECT ") || details[2].starts_with("Query: INSERT "),
        "{details:?}"
    );
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
