//! A rollout lives in the serve process: `rollout abort` from another shell stops it and takes
//! its servers out again; killing the CLI that started it does not stop it. `decommission`
//! drains and removes, and refuses (exit 1, the limit and its numbers, nothing changed) below
//! `min_servers` or when the remaining servers would saturate at the recent peak in flight.

use std::process::Stdio;
use std::time::Duration;

use crate::util::*;
use switchyard_lab::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abort_stops_a_rollout_and_takes_its_servers_out() {
    let pool = Pool::start(2, "").await;
    let a = Backend::start("inventory-4").await.unwrap();
    let b = Backend::start("inventory-5").await.unwrap();
    let _load = Load::start(pool.serve.listener("web"), 2, "/items");
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --add inventory-5={} --bake 60s --detach -m 'slow bake'",
        a.addr, b.addr
    );
    let (cmd, out) = pool.cli(&line).await;
    check(out.status.success(), "the rollout starts", &cmd, &out);
    check(
        stdout(&out).contains(
            "rollout 1 of pool inventory started in 2 steps; it runs in the serve process",
        ),
        "it says where the rollout runs",
        &cmd,
        &out,
    );
    let baking = poll(Duration::from_secs(10), || async {
        let v = pool.rollout(1).await;
        (v["steps"][0]["phase"] == "baking").then_some(v)
    })
    .await;
    assert!(baking.is_some(), "step 1 bakes");

    let (cmd, out) = pool
        .cli("--output json rollout abort --pool inventory")
        .await;
    check(out.status.success(), "abort succeeds", &cmd, &out);
    let view: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(view["state"], "aborted", "{view:#}");
    assert_eq!(view["failure"]["what"], "abort");
    assert_eq!(view["steps"][0]["phase"], "aborted");
    assert_eq!(view["steps"][1]["phase"], "pending");
    assert_eq!(view["undo_version"], 3);
    assert_eq!(pool.state("inventory-4").await, "removed");
    assert_eq!(
        pool.state("inventory-5").await,
        "absent",
        "step 2 never ran"
    );

    let (cmd, out) = pool.cli("rollout abort --pool inventory").await;
    check(!out.status.success(), "nothing left to abort", &cmd, &out);
    check(
        stderr(&out).contains("pool inventory has no rollout running"),
        "says so",
        &cmd,
        &out,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollout_survives_the_cli_being_killed() {
    let pool = Pool::start(2, "").await;
    let a = Backend::start("inventory-4").await.unwrap();
    let b = Backend::start("inventory-5").await.unwrap();
    let _load = Load::start(pool.serve.listener("web"), 2, "/items");
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --add inventory-5={} --bake 2s -m 'capacity'",
        a.addr, b.addr
    );
    let mut cli = pool
        .dir
        .cli(argv(&line))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let baking = poll(Duration::from_secs(10), || async {
        let all = pool.admin.get("/pools/inventory/rollouts").await;
        (all[0]["steps"][0]["phase"] == "baking").then_some(())
    })
    .await;
    assert!(baking.is_some(), "step 1 bakes");
    cli.kill().unwrap();
    cli.wait().unwrap();

    let done = poll(Duration::from_secs(20), || async {
        let v = pool.rollout(1).await;
        (v["state"] != "running").then_some(v)
    })
    .await
    .expect("the rollout ends without its CLI");
    assert_eq!(done["state"], "succeeded", "{done:#}");
    assert_eq!(pool.state("inventory-5").await, "active");

    // Any shell can read how it went.
    let (cmd, out) = pool.cli("rollout status --pool inventory").await;
    check(
        out.status.success() && stdout(&out).contains("rollout 1 of pool inventory by"),
        "status shows it",
        &cmd,
        &out,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decommission_refuses_below_min_servers_and_above_capacity() {
    let pool = Pool::start(4, "min_servers = 2\nmax_connections = 4").await;
    let (cmd, out) = pool
        .cli("decommission --pool inventory --count 3 -m 'shrink'")
        .await;
    check(!out.status.success(), "refused", &cmd, &out);
    check(
        stderr(&out).trim_end()
            == "switchyard: refused: taking out inventory-2, inventory-3, inventory-4 would leave pool \"inventory\" with 1 server in rotation, below its min_servers 2; nothing was changed (HTTP 409)",
        "names the limit with its numbers",
        &cmd,
        &out,
    );
    assert_eq!(
        pool.admin.get("/version").await["version"],
        1,
        "nothing changed"
    );

    // 10 clients of a slow page keep about 10 requests in flight: 2 servers (room for 8) would
    // saturate.
    let load = Load::start(pool.serve.listener("web"), 10, "/sleep/300");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cmd, out) = pool
        .cli("decommission --pool inventory inventory-3 inventory-4 -m 'shrink'")
        .await;
    check(!out.status.success(), "refused", &cmd, &out);
    let err = stderr(&out);
    check(
        err.contains("refused: the 2 servers left in pool \"inventory\" would saturate: together they take 8 requests in flight (saturated at 90%: 7), and the pool's peak over the last 5 minutes was "),
        "names the capacity with its numbers",
        &cmd,
        &out,
    );
    drop(load);
    assert_eq!(
        pool.admin.get("/version").await["version"],
        1,
        "nothing changed"
    );

    // A quiet pool may lose one server and keep its min_servers.
    let quiet = Pool::start(3, "min_servers = 2").await;
    let (cmd, out) = quiet
        .cli("decommission --pool inventory --count 1 -m 'shrink'")
        .await;
    check(out.status.success(), "one can go", &cmd, &out);
    check(
        stdout(&out).starts_with("decommissioned inventory-3 from pool inventory as v2; 2 servers remain in rotation; drained"),
        "says what it did",
        &cmd,
        &out,
    );
    assert_eq!(quiet.state("inventory-3").await, "removed");
    let events = quiet.admin.get("/events").await;
    let e = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "decommission")
        .unwrap_or_else(|| panic!("no decommission event in {events:#}"));
    assert_eq!(e["details"]["servers"][0], "inventory-3");
    assert_eq!(e["details"]["version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_rollout_requests_are_refused_and_change_nothing() {
    let pool = Pool::start(2, "").await;
    let a = Backend::start("inventory-4").await.unwrap();
    for (line, reason) in [
        (
            format!("rollout --pool nope --add inventory-4={} -m x", a.addr),
            "pool \"nope\" does not exist; pools are: \"inventory\" (HTTP 400)",
        ),
        (
            "rollout --pool inventory --add inventory-4=localhost:80 -m x".to_string(),
            "server \"inventory-4\": address \"localhost:80\" is not an IP:PORT address",
        ),
        (
            format!("rollout --pool inventory --add inventory-1={} -m x", a.addr),
            "pool \"inventory\" already has a server named \"inventory-1\"; pick another name",
        ),
        (
            format!("rollout --pool inventory --add inventory-4={} --step 0 -m x", a.addr),
            "step \"0\": give a number of servers per step",
        ),
        (
            format!("rollout --pool inventory --add inventory-4={} --check health -m x", a.addr),
            "check \"health\": give a path such as /health",
        ),
        (
            "rollout --pool inventory --add inventory-4 -m x".to_string(),
            "--add \"inventory-4\": write NAME=IP:PORT",
        ),
        (
            format!("rollout --pool inventory --replace inventory-7=inventory-4 --add inventory-4={} -m x", a.addr),
            "pool \"inventory\" has no server \"inventory-7\" to replace",
        ),
    ] {
        let (cmd, out) = pool.cli(&line).await;
        check(!out.status.success(), "refused", &cmd, &out);
        check(stderr(&out).contains(reason), reason, &cmd, &out);
    }
    assert_eq!(
        pool.admin.get("/version").await["version"],
        1,
        "nothing changed"
    );

    // One rollout per pool at a time.
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --bake 60s --detach -m first",
        a.addr
    );
    let (cmd, out) = pool.cli(&line).await;
    check(out.status.success(), "the first starts", &cmd, &out);
    let (cmd, out) = pool.cli(&line.replace("first", "second")).await;
    check(!out.status.success(), "the second is refused", &cmd, &out);
    check(
        stderr(&out).contains("pool \"inventory\" already has rollout 1 running")
            && stderr(&out).contains("(HTTP 409)"),
        "names the running rollout",
        &cmd,
        &out,
    );
    let (cmd, out) = pool.cli("rollout abort --pool inventory 1").await;
    check(out.status.success(), "abort by id", &cmd, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_failing_its_checks_never_stays_in_the_pool() {
    let pool = Pool::start(2, "").await;
    let sick = Backend::start("inventory-4").await.unwrap();
    sick.control.set_status(503);

    // The rollout's own check runs before the server joins: nothing changes.
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --check /health --health-timeout 1s -m x",
        sick.addr
    );
    let (cmd, out) = pool.cli(&line).await;
    check(!out.status.success(), "the check fails", &cmd, &out);
    check(
        stderr(&out).trim_end()
            == "switchyard: rollout 1 of pool inventory failed at step 1 of 1: inventory-4 did not answer 2xx on /health within 1s: it answered 503; no server had joined the pool",
        "says which server answered what",
        &cmd,
        &out,
    );
    assert_eq!(
        pool.admin.get("/version").await["version"],
        1,
        "nothing changed"
    );

    // Without it, the pool's health checks keep it out, and the rollout takes it out again.
    let line = format!(
        "rollout --pool inventory --add inventory-4={} --health-timeout 1s -m x",
        sick.addr
    );
    let (cmd, out) = pool.cli(&line).await;
    check(!out.status.success(), "the health wait fails", &cmd, &out);
    let err = stderr(&out);
    check(
        err.contains("failed at step 1 of 1: inventory-4 did not pass pool inventory's health checks within 1s: ")
            && err.contains("expected 200, got 503")
            && err.ends_with("took inventory-4 out again as v3\n"),
        "says why, and what it undid",
        &cmd,
        &out,
    );
    assert_eq!(pool.state("inventory-4").await, "removed");
}
