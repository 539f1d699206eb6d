//! The dashboard in a real browser: headless Chromium loads the page of a running `serve` with
//! traffic and two versions, and must render pools, servers and a chart with a version marker;
//! without the token it must show only the login prompt. Saves a screenshot, copied to
//! `docs/dashboard.png` when `SWITCHYARD_UPDATE_SCREENSHOT=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::*;
use serde_json::json;
use switchyard_lab::Backend;

/// How long one Chromium run may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> PathBuf {
    let found = Command::new("which")
        .arg("chromium")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let path = found.unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "headless Chromium is needed for the dashboard test and was not found on PATH or at \
         /usr/bin/chromium: .ci/run installs it (apt-get install -y chromium)"
    );
    path
}

/// Runs headless Chromium with a fresh profile on `url`, with `extra` flags; returns stdout.
fn browse(profile: &Path, url: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url);
    let o = run_with_timeout(&mut cmd, BROWSER_TIMEOUT);
    check(o.status.success(), "chromium failed", &cmd, &o);
    stdout(&o)
}

async fn send(client: &reqwest::Client, url: &str, n: usize) {
    for _ in 0..n {
        let r = client.get(url).send().await.expect("the proxy answers");
        let _ = r.bytes().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_pools_servers_and_a_chart_with_a_version_marker() {
    let chromium_path = chromium();
    let a1 = Backend::start("inventory-1").await.unwrap();
    let a2 = Backend::start("inventory-2").await.unwrap();
    let a3 = Backend::start("inventory-3").await.unwrap();
    let dir = Dir::new();
    let base = serve_config(
        "off",
        "",
        &[("inventory-1", a1.addr), ("inventory-2", a2.addr)],
    );
    let config = dir.write("switchyard.toml", &base);
    let serve = Serve::start(&dir, &config).await;
    let admin = Admin::of(&dir, &serve);
    let client = http_client();
    let url = format!("http://{}/", serve.listener("web"));

    // Three bursts ten seconds apart, so the chart has several buckets to draw.
    send(&client, &url, 250).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    a2.control.set_status(503);
    send(&client, &url, 60).await;
    a2.control.set_status(200);
    let grown = format!(
        "{base}\n[[pools.inventory.servers]]\nname = \"inventory-3\"\naddress = \"{}\"\n",
        a3.addr
    );
    let (status, body) = admin
        .post(
            "/apply",
            &json!({ "config": grown, "message": "add inventory-3", "author": "ops" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    send(&client, &url, 200).await;

    // The series endpoint the chart draws.
    let series = admin.get("/series?minutes=15").await;
    let pool = &series["pools"][0];
    assert_eq!(pool["name"], "inventory", "{series}");
    let requests: u64 = pool["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 510, "{series}");
    assert!(
        series["markers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "version" && m["version"] == 2),
        "{series}"
    );

    // The series need the token like every other API route.
    let refused = client
        .get(format!("http://{}/api/v1/series", serve.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The `dashboard` verb prints the URL with the token in the fragment.
    let o = run_ok(&mut dir.command(["dashboard"]));
    let printed = stdout(&o).trim().to_string();
    let page = format!("http://{}/#token={}", serve.admin, admin.token);
    assert_eq!(printed, page);

    let tmp = Dir::new();
    let dom = tokio::task::spawn_blocking({
        let (profile, page) = (tmp.path().join("profile-dom"), page.clone());
        move || browse(&profile, &page, &["--dump-dom"])
    })
    .await
    .unwrap();
    for want in [
        "id=\"pool-inventory\"",
        "data-server=\"inventory-1\"",
        "data-server=\"inventory-2\"",
        "data-server=\"inventory-3\"",
        "id=\"chart-inventory\"",
        "<svg class=\"chart\"",
        "class=\"marker version\"",
        "add inventory-3",
    ] {
        assert!(
            dom.contains(want),
            "the dashboard DOM lacks {want:?} ({}):\n{dom}",
            chromium_path.display()
        );
    }
    assert!(
        dom.contains("<section id=\"login\" hidden"),
        "the login prompt shows despite the token:\n{dom}"
    );
    assert!(
        !dom.contains(&admin.token),
        "the token stays out of the DOM:\n{dom}"
    );

    // Without a token: the login prompt, and no data.
    let bare = tokio::task::spawn_blocking({
        let (profile, page) = (
            tmp.path().join("profile-bare"),
            format!("http://{}/", serve.admin),
        );
        move || browse(&profile, &page, &["--dump-dom"])
    })
    .await
    .unwrap();
    assert!(
        bare.contains("<section id=\"login\">")
            && bare.contains("id=\"login-token\"")
            && bare.contains("<main id=\"app\" hidden"),
        "no login prompt without a token:\n{bare}"
    );
    assert!(
        !bare.contains("inventory-1") && !bare.contains("data-server"),
        "server data shown without a token:\n{bare}"
    );

    // A screenshot of the dashboard as a laptop shows it.
    let png = tmp.path().join("dashboard.png");
    tokio::task::spawn_blocking({
        let (profile, page, png) = (tmp.path().join("profile-shot"), page.clone(), png.clone());
        move || {
            browse(
                &profile,
                &page,
                &[
                    &format!("--screenshot={}", png.display()),
                    "--window-size=1400,1000",
                ],
            )
        }
    })
    .await
    .unwrap();
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "the screenshot {} has {size} bytes",
        png.display()
    );
    if std::env::var("SWITCHYARD_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&png, docs.join("dashboard.png")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_a_rollout_in_progress_with_each_new_server_beside_the_existing() {
    let pool = Pool::start(2, "").await;
    let new = Backend::start("inventory-4").await.unwrap();
    let _load = Load::start(pool.serve.listener("web"), 2, "/items");
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --bake 60s --detach -m 'one more'",
        new.addr
    );
    let (cmd, out) = pool.cli(&line).await;
    check(out.status.success(), "the rollout starts", &cmd, &out);
    let baked = poll(Duration::from_secs(15), || async {
        let v = pool.rollout(1).await;
        let new = &v["steps"][0]["bake"]["new"][0];
        let n = new["requests"].as_u64()?;
        let p90 = new["p90_ms"].as_f64()?;
        (n > 0 && p90 > 0.0).then_some(())
    })
    .await;
    assert!(
        baked.is_some(),
        "the bake counts the new server's requests and times them"
    );

    let page = format!("http://{}/#token={}", pool.serve.admin, pool.admin.token);
    let tmp = Dir::new();
    let dom = tokio::task::spawn_blocking({
        let profile = tmp.path().join("profile");
        move || browse(&profile, &page, &["--dump-dom"])
    })
    .await
    .unwrap();
    for want in [
        "<section id=\"rollouts\" class=\"panel\">",
        "id=\"rollout-inventory-1\"",
        "rollout 1 of inventory ",
        "<span class=\"badge running\">running</span>",
        "data-step=\"1\"",
        "<span class=\"badge baking\">baking</span>",
        "data-bake-server=\"inventory-4\"",
        "data-bake-server=\"existing\"",
        "existing servers",
        "<th>p90</th>",
        "class=\"marker rollout\"",
    ] {
        assert!(
            dom.contains(want),
            "the dashboard DOM lacks {want:?}:\n{dom}"
        );
    }
    let (cmd, out) = pool.cli("rollout abort --pool inventory").await;
    check(out.status.success(), "abort", &cmd, &out);
}
