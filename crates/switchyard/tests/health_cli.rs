//! Health-gated admission from the CLI: `servers add --wait-healthy` admits a server only after
//! it passes its checks, and fails with the last check's reason when it does not.

use crate::util::*;
use switchyard_lab::Backend;

const CHECK: &str = "\n[pools.inventory.health]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\nexpect_status = [200]\nrise = 2\nfall = 2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_healthy_admits_good_servers_and_refuses_bad_ones() {
    let first = Backend::start("inventory-1").await.unwrap();
    let good = Backend::start("inventory-2").await.unwrap();
    let bad = Backend::start("inventory-4").await.unwrap();
    bad.control.set_status(404);
    let dir = Dir::new();
    let config = dir.write(
        "switchyard.toml",
        &format!(
            "{}{CHECK}",
            serve_config("off", "", &[("inventory-1", first.addr)])
        ),
    );
    let serve = Serve::start(&dir, &config).await;

    let o = run_ok(&mut dir.command([
        "servers",
        "add",
        &good.addr.to_string(),
        "--pool",
        "inventory",
        "--name",
        "inventory-2",
        "-m",
        "more capacity",
        "--wait-healthy",
        "--timeout",
        "10s",
    ]));
    let out = stdout(&o);
    assert!(
        out.starts_with("added inventory-2 to pool inventory as v2 (1 change)"),
        "{out}"
    );
    assert!(
        out.contains("inventory-2 is in rotation (passed its health checks) after"),
        "{out}"
    );

    let mut add_bad = dir.command([
        "servers",
        "add",
        &bad.addr.to_string(),
        "--pool",
        "inventory",
        "--name",
        "inventory-4",
        "-m",
        "deploy 2.3.5",
        "--wait-healthy",
        "--timeout",
        "1s",
    ]);
    let o = run_fails(&mut add_bad);
    let a = bad.addr;
    check(
        stderr(&o)
            == format!("switchyard: inventory-4 did not become healthy within 1s; it is unhealthy: health check GET /health on inventory-4 ({a}): expected 200, got 404 text/plain \"inventory-4\"; it stays out of rotation (take it out with `switchyard servers remove inventory-4 --pool inventory`)\n"),
        "a server that fails its checks is refused with the last check's reason",
        &add_bad,
        &o,
    );

    let client = http_client();
    for i in 0..40 {
        let r = client
            .get(format!("http://{}/api/{i}", serve.listener("web")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        bad.control.requests_to("/api"),
        0,
        "the failing server got no traffic"
    );
    assert_eq!(good.control.requests_to("/api"), 20);

    let o = run_ok(&mut dir.command(["servers", "list"]));
    let list = stdout(&o);
    let row = list.lines().find(|l| l.contains("inventory-4")).unwrap();
    assert!(
        row.contains(" unhealthy ") && row.contains("expected 200, got 404"),
        "{list}"
    );
    let o = run_ok(&mut dir.command(["events", "--output", "json"]));
    let events: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let health: Vec<&serde_json::Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "health" && e["server"] == "inventory-4")
        .collect();
    assert_eq!(health.len(), 1, "{events}");
    assert_eq!(health[0]["details"]["to"], "unhealthy");
}
