//! `switchyard rollout` over real sockets, under steady load: a good rollout of three servers in
//! steps of one fails no request; a third server that answers 500 to one request in five (and
//! passes the shallow health check) fails its bake, every added server is taken out again as one
//! version, the verb exits 1 naming the server and its numbers, and clients see under 2% errors;
//! a server that answers right but 200 ms late fails its bake on latency; a replacement moves
//! weight step by step, then drains and removes the old server.

use std::time::{Duration, Instant};

use crate::util::*;
use switchyard_lab::load::{LoadGen, LoadOptions};
use switchyard_lab::Backend;

fn load(pool: &Pool) -> LoadGen {
    LoadGen::start(
        pool.serve.listener("web"),
        LoadOptions {
            rate: 200.0,
            checkout_share: 0.0,
            ..LoadOptions::default()
        },
    )
}

async fn new_servers(names: &[&str]) -> Vec<Backend> {
    let mut out = Vec::new();
    for n in names {
        out.push(Backend::start(n).await.unwrap());
    }
    out
}

fn adds(backends: &[Backend]) -> String {
    backends
        .iter()
        .map(|b| format!("--add {}={}", b.name, b.addr))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rolls `new` out under steady load in steps of one with a 2 s bake; the CLI's command and
/// output, and the clients' requests and failures while it ran.
async fn roll_out(
    pool: &Pool,
    new: &[Backend],
) -> (
    std::process::Command,
    std::process::Output,
    (u64, u64),
    LoadGen,
) {
    let load = load(pool);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = Instant::now();
    let line = format!(
        "rollout --pool inventory {} --step 1 --bake 2s -m 'more capacity'",
        adds(new)
    );
    let (cmd, out) = pool.cli(&line).await;
    let counts = load.counts_between(from, Instant::now());
    (cmd, out, counts, load)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_good_rollout_of_three_in_steps_of_one_fails_no_request() {
    let pool = Pool::start(3, "").await;
    let new = new_servers(&["inventory-4", "inventory-5", "inventory-6"]).await;
    let (cmd, out, (requests, errors), load) = roll_out(&pool, &new).await;
    check(out.status.success(), "the rollout succeeds", &cmd, &out);
    let text = stdout(&out);
    check(
        text.contains("rollout 1 of pool inventory by")
            && text.contains(": succeeded (more capacity)")
            && text.contains(
                "inventory-4, inventory-5, inventory-6 in 3 steps, each healthy and baked 2s",
            ),
        "it says what it added",
        &cmd,
        &out,
    );
    assert!(requests > 500, "load ran: {requests}");
    assert_eq!(errors, 0, "no client request failed during the rollout");
    for b in &new {
        assert_eq!(pool.state(&b.name).await, "active");
        assert!(
            b.control.requests_to("/products") > 0,
            "{} took traffic",
            b.name
        );
    }

    let view = pool.rollout(1).await;
    assert_eq!(view["state"], "succeeded", "{view:#}");
    let steps = view["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["phase"], "passed", "{s:#}");
        assert_eq!(s["version"], 2 + i as u64, "{s:#}");
        assert!(
            s["bake"]["new"][0]["requests"].as_u64().unwrap() > 0,
            "{s:#}"
        );
        assert!(
            s["bake"]["existing"]["requests"].as_u64().unwrap() > 0,
            "{s:#}"
        );
    }
    let history = pool.admin.get("/versions").await;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rollout", "rollout", "rollout", "apply"]);
    assert!(history[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("rollout 1 step 3/3: add inventory-6: more capacity"));
    let events = pool.admin.get("/events").await;
    let states: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "rollout")
        .map(|e| e["details"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 2, "{events:#}");
    assert!(states.contains(&"running") && states.contains(&"succeeded"));
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_third_server_takes_all_three_out_again() {
    let pool = Pool::start(3, "").await;
    let new = new_servers(&["inventory-4", "inventory-5", "inventory-6"]).await;
    new[2].control.fail_every(5);
    let (cmd, out, (requests, errors), load) = roll_out(&pool, &new).await;
    check(!out.status.success(), "the rollout fails", &cmd, &out);
    let err = stderr(&out);
    check(
        err.starts_with("switchyard: rollout 1 of pool inventory failed at step 3 of 3: inventory-6: error rate ")
            && err.contains("against 0.0% on the existing servers")
            && err.contains("took inventory-4, inventory-5, inventory-6 out again as v5"),
        "one line: which step, which server, the numbers, what was undone",
        &cmd,
        &out,
    );
    let rate = errors as f64 / requests as f64;
    assert!(rate < 0.02, "{errors} of {requests} client requests failed");
    assert!(
        new[2].control.failed() > 0,
        "the bad server did fail requests"
    );

    for b in &new {
        let state = pool.state(&b.name).await;
        assert!(
            state == "removed" || state == "draining",
            "{}: {state}",
            b.name
        );
    }
    let undo = pool.admin.get("/versions/5").await;
    assert_eq!(undo["kind"], "rollout");
    let message = undo["message"].as_str().unwrap();
    assert!(
        message.starts_with("rollout 1 failed: took inventory-4, inventory-5, inventory-6 out again: inventory-6: error rate "),
        "{message}"
    );
    assert!(message.contains(" requests against "), "{message}");
    let view = pool.rollout(1).await;
    assert_eq!(view["state"], "failed");
    assert_eq!(view["failure"]["what"], "bake");
    assert_eq!(view["failure"]["server"], "inventory-6");
    assert!(view["failure"]["evidence"]["errors"].as_u64().unwrap() > 0);
    assert_eq!(view["undo_version"], 5);
    assert_eq!(view["steps"][2]["phase"], "failed");
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_new_server_is_taken_out_on_its_latency() {
    // Health checks that wait for a slow answer, so that only the bake can tell.
    let health = HEALTH.replace("\"100ms\"", "\"250ms\"");
    let pool = Pool::start_with_health(2, "", &health).await;
    let healthy = poll(Duration::from_secs(10), || async {
        let servers = pool.servers().await;
        servers
            .iter()
            .all(|s| s["health"] == "healthy")
            .then_some(())
    })
    .await;
    assert!(healthy.is_some(), "{:#?}", pool.servers().await);
    let new = new_servers(&["inventory-3"]).await;
    // It answers every request right, 200 ms late.
    new[0].control.set_delay(Duration::from_millis(200));
    let (cmd, out, (requests, errors), load) = roll_out(&pool, &new).await;
    check(!out.status.success(), "the rollout fails", &cmd, &out);
    let err = stderr(&out);
    check(
        err.starts_with(
            "switchyard: rollout 1 of pool inventory failed at step 1 of 1: inventory-3: p90 latency ",
        ) && err.contains("ms on the existing servers over ")
            && err.contains("(limits 2x the existing servers' and 50 ms above)")
            && err.contains("took inventory-3 out again as v3"),
        "the latency is the evidence, in numbers",
        &cmd,
        &out,
    );
    assert_eq!(errors, 0, "{errors} of {requests} client requests failed");
    assert_ne!(pool.state("inventory-3").await, "active");
    let view = pool.rollout(1).await;
    assert_eq!(view["state"], "failed", "{view:#}");
    let evidence = &view["failure"]["evidence"];
    assert_eq!(evidence["slow"], true, "{evidence:#}");
    assert_eq!(evidence["failing"], false, "{evidence:#}");
    let (new_p90, old_p90) = (
        evidence["p90_ms"].as_f64().unwrap(),
        evidence["existing_p90_ms"].as_f64().unwrap(),
    );
    assert!(
        (128.0..=256.0).contains(&new_p90),
        "200 ms answers fall in the 128-256 ms bucket: {new_p90}"
    );
    assert!(old_p90 < 50.0, "{old_p90}");
    let bake = &view["steps"][0]["bake"];
    assert!(
        bake["existing"]["p90_ms"].as_f64().unwrap() < 50.0,
        "{bake:#}"
    );
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_with_on_failure_stop_keeps_the_steps_that_passed() {
    let pool = Pool::start(2, "").await;
    let new = new_servers(&["inventory-4", "inventory-5"]).await;
    new[1].control.fail_every(2);
    let load = load(&pool);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let line = format!(
        "rollout --pool inventory {} --bake 2s --on-failure stop -m 'more'",
        adds(&new)
    );
    let (cmd, out) = pool.cli(&line).await;
    check(!out.status.success(), "the rollout fails", &cmd, &out);
    check(
        stderr(&out).contains(
            "took inventory-5 out again as v4 (kept inventory-4, from steps that passed)",
        ),
        "only the failed step is undone",
        &cmd,
        &out,
    );
    assert_eq!(pool.state("inventory-4").await, "active");
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replacement_moves_weight_then_drains_the_old_server() {
    let pool = Pool::start(2, "").await;
    let new = new_servers(&["inventory-9"]).await;
    let load = load(&pool);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = Instant::now();
    let line = format!(
        "rollout --pool inventory --replace inventory-1=inventory-9 {} --weights 10,50,100 --bake 1s -m 'new host'",
        adds(&new)
    );
    let (cmd, out) = pool.cli(&line).await;
    check(out.status.success(), "the replacement succeeds", &cmd, &out);
    assert_eq!(pool.state("inventory-1").await, "removed");
    assert_eq!(pool.state("inventory-9").await, "active");

    // v2..v4: inventory-9 at 10%, 50%, 100% of inventory-1's weight (scaled by 10); v5: back
    // to weight 1 each, inventory-1 removed.
    let weights = |config: &str, name: &str| -> (u64, String) {
        let doc: toml::Value = toml::from_str(config).unwrap();
        let servers = doc["pools"]["inventory"]["servers"].as_array().unwrap();
        let s = servers
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap();
        (
            s["weight"].as_integer().unwrap() as u64,
            s["state"].as_str().unwrap_or("active").to_string(),
        )
    };
    let mut seen = Vec::new();
    for n in 2..=5 {
        let v = pool.admin.get(&format!("/versions/{n}")).await;
        let config = v["config"].as_str().unwrap();
        seen.push((
            weights(config, "inventory-1"),
            weights(config, "inventory-9"),
            weights(config, "inventory-2").0,
        ));
    }
    let w = |weight: u64, state: &str| (weight, state.to_string());
    assert_eq!(
        seen,
        [
            (w(10, "active"), w(1, "active"), 10),
            (w(10, "active"), w(5, "active"), 10),
            (w(10, "active"), w(10, "active"), 10),
            (w(1, "removed"), w(1, "active"), 1),
        ]
    );
    let (requests, errors) = load.counts_between(from, Instant::now());
    assert_eq!(errors, 0, "{errors} of {requests} failed");
    load.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_replacement_keeps_the_old_server_and_its_weights() {
    let pool = Pool::start(2, "").await;
    let new = new_servers(&["inventory-9"]).await;
    let load = load(&pool);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let line = format!(
        "rollout --pool inventory --replace inventory-1=inventory-9 {} --bake 2s --on-failure stop -m 'new host'",
        adds(&new)
    );
    // inventory-9 turns bad once its first weight step has passed.
    let turn_bad = async {
        let second = poll(Duration::from_secs(15), || async {
            let all = pool.admin.get("/pools/inventory/rollouts").await;
            (all[0]["steps"][0]["phase"] == "passed").then_some(())
        })
        .await;
        assert!(second.is_some(), "the first weight step passes");
        new[0].control.fail_every(2);
    };
    let ((cmd, out), ()) = tokio::join!(pool.cli(&line), turn_bad);
    check(!out.status.success(), "the replacement fails", &cmd, &out);
    check(
        stderr(&out).contains("failed at step 2 of 4"),
        "at the second weight step",
        &cmd,
        &out,
    );
    check(
        stderr(&out).contains(": inventory-9: error rate ")
            && stderr(&out).contains("took inventory-9 out again as v"),
        "the new server goes, even with --on-failure stop",
        &cmd,
        &out,
    );
    assert_eq!(pool.state("inventory-1").await, "active");
    assert_eq!(pool.state("inventory-9").await, "removed");
    let head = pool.admin.get("/version").await["version"]
        .as_u64()
        .unwrap();
    let config = pool.admin.get(&format!("/versions/{head}")).await;
    let doc: toml::Value = toml::from_str(config["config"].as_str().unwrap()).unwrap();
    let weights: Vec<i64> = doc["pools"]["inventory"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["weight"].as_integer().unwrap())
        .collect();
    assert_eq!(weights, [1, 1, 1], "the pool's weights are back");
    load.stop().await;
}
