//! 4xx answers per server and per pool, apart from 5xx: a server answering 404 shows its 4xx
//! rate in `servers list` (text and JSON) and in `/api/v1/series`, pool and server, while its
//! 5xx rate stays 0.

use std::time::Duration;

use crate::util::*;
use switchyard_lab::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_404_shows_4xx_not_5xx() {
    let good = Backend::start("inventory-1").await.unwrap();
    let bad = Backend::start("inventory-4").await.unwrap();
    bad.control.set_status(404);
    let dir = Dir::new();
    let config = dir.write(
        "switchyard.toml",
        &serve_config(
            "off",
            "",
            &[("inventory-1", good.addr), ("inventory-4", bad.addr)],
        ),
    );
    let serve = Serve::start(&dir, &config).await;
    let admin = Admin::of(&dir, &serve);
    let client = http_client();
    let web = serve.listener("web");
    for _ in 0..20 {
        let r = client
            .get(format!("http://{web}/items"))
            .send()
            .await
            .unwrap();
        let _ = r.bytes().await;
    }

    let mut cmd = dir.cli(argv("servers list --output json"));
    let pools: serde_json::Value = serde_json::from_str(&stdout(&run_ok(&mut cmd))).unwrap();
    let server = |name: &str| {
        pools[0]["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let (one, four) = (server("inventory-1"), server("inventory-4"));
    assert_eq!(four["client_errors_1m"], 10, "{four:#}");
    assert_eq!(four["client_error_rate_1m"], 1.0, "{four:#}");
    assert_eq!(four["errors_1m"], 0, "{four:#}");
    assert_eq!(one["client_errors_1m"], 0, "{one:#}");

    let mut cmd = dir.cli(argv("servers list"));
    let text = stdout(&run_ok(&mut cmd));
    let header = text.lines().next().unwrap();
    assert!(header.contains("ERR/1M  4XX/1M"), "{text}");
    let row = text.lines().find(|l| l.contains("inventory-4")).unwrap();
    assert!(row.contains("0.0%    100.0%"), "{text}");

    let series = poll(Duration::from_secs(5), || async {
        let s = admin.get("/series?minutes=1").await;
        let pool = &s["pools"][0];
        let sum = |buckets: &serde_json::Value, key: &str| {
            buckets
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b[key].as_u64().unwrap())
                .sum::<u64>()
        };
        (sum(&pool["buckets"], "client_errors") == 10).then(|| {
            let servers = pool["servers"].as_array().unwrap();
            let four = servers.iter().find(|s| s["name"] == "inventory-4").unwrap();
            let one = servers.iter().find(|s| s["name"] == "inventory-1").unwrap();
            (
                sum(&four["buckets"], "client_errors"),
                sum(&four["buckets"], "errors"),
                sum(&one["buckets"], "client_errors"),
                sum(&one["buckets"], "requests"),
            )
        })
    })
    .await
    .expect("the pool's series counts 10 4xx answers");
    assert_eq!(series, (10, 0, 0, 10));
}
