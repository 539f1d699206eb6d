//! The first seed incident, end to end: a config change adds a server that answers 404 to the
//! inventory pool, errors appear, `config diff` names the server, `rollback` makes them stop.

use crate::util::*;
use switchyard_lab::Backend;

/// Sends `n` GETs and returns how many were not 200.
async fn errors_in(url: &str, n: usize) -> usize {
    let client = http_client();
    let mut errors = 0;
    for i in 0..n {
        let r = client
            .get(format!("{url}/api/inventory/{i}"))
            .send()
            .await
            .unwrap();
        errors += usize::from(r.status() != 200);
    }
    errors
}

#[tokio::test]
async fn bad_pool_member_found_by_diff_and_fixed_by_rollback() {
    let inv1 = Backend::start("inventory-1").await.unwrap();
    let inv2 = Backend::start("inventory-2").await.unwrap();
    let wrong = Backend::start("not-inventory").await.unwrap();
    wrong.control.set_status(404);
    let dir = Dir::new();
    let v1 = serve_config(
        "off",
        "",
        &[("inventory-1", inv1.addr), ("inventory-2", inv2.addr)],
    );
    let config = dir.write("v1.toml", &v1);
    let serve = Serve::start(&dir, &config).await;
    let url = format!("http://{}", serve.listener("web"));
    assert_eq!(errors_in(&url, 60).await, 0, "v1 serves cleanly");

    let v2 = format!(
        "{v1}\n[[pools.inventory.servers]]\nname = \"inventory-4\"\naddress = \"{}\"\n",
        wrong.addr
    );
    dir.write("v2.toml", &v2);
    run_ok(&mut dir.command([
        "apply",
        "--config",
        "v2.toml",
        "-m",
        "add inventory-4",
        "--author",
        "deploy-bot",
    ]));
    let errors = errors_in(&url, 90).await;
    assert_eq!(errors, 30, "one request in three goes to the 404 server");
    assert_eq!(wrong.control.requests(), 30);

    let mut diff = dir.command(["config", "diff", "1", "2"]);
    let o = run_ok(&mut diff);
    assert_eq!(
        stdout(&o),
        format!("pool inventory: + server inventory-4 {}\n", wrong.addr)
    );

    let o = run_ok(&mut dir.command(["rollback", "--to", "1", "-m", "inventory-4 answers 404"]));
    assert!(
        stdout(&o).starts_with("rolled back to v1's config as v3 (1 change)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        errors_in(&url, 90).await,
        0,
        "errors stop after the rollback"
    );
    assert_eq!(
        wrong.control.requests(),
        30,
        "the bad server gets nothing after the rollback"
    );

    let o = run_ok(&mut dir.command(["history"]));
    let text = stdout(&o);
    assert!(
        text.contains("deploy-bot") && text.contains("add inventory-4"),
        "{text}"
    );
}
