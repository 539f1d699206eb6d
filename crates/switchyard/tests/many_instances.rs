//! Several instances on one history in a real 3-member etcd cluster: a change made through any
//! instance runs on all of them within a second, with no failed request; losing an etcd member,
//! or all of etcd, stops no traffic; and a race on `--if-version` has one winner.

use std::time::Duration;

use crate::util::{run_ok, stdout, Fleet};

/// How soon a change made through one instance must run on every other.
const PROPAGATION: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_any_instance_runs_on_all_without_a_failed_request() {
    let Some(fleet) = Fleet::start(3, 3, 2).await else {
        return;
    };
    let [one, two, three] = &fleet.instances[..] else {
        unreachable!()
    };
    fleet.all_run(1, PROPAGATION).await;

    // Apply through #1: #3 serves it within a second.
    let (status, body) = one.apply(&fleet.config(2), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"]["version"], 2);
    three.runs(2, PROPAGATION).await;
    let hits = three.hits(8).await;
    assert!(hits.iter().any(|h| h == "inventory-2"), "{hits:?}");

    // Roll back through #2 under load on all three: every instance runs v3, nothing fails.
    let loads = fleet.loads();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = two
        .admin
        .post(
            "/rollback",
            &serde_json::json!({"to": 1, "author": "ops", "message": "back"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    fleet.all_run(3, PROPAGATION).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, load) in fleet.instances.iter().zip(loads) {
        load.finish_without_failures(&i.name).await;
        assert!(i.hits(6).await.iter().all(|h| h == "inventory-1"));
    }
    // The guard of the instance that made the rollback bakes it; the others only run it.
    let events = one.admin.get("/events?limit=100").await;
    let versions = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "version")
        .count();
    assert_eq!(versions, 3, "{events}");

    // Two operators race --if-version on two instances: exactly one wins.
    let (mine, theirs) = (fleet.config(2), fleet.config(1).replace("10s", "9s"));
    let (a, b) = tokio::join!(one.apply(&mine, Some(3)), three.apply(&theirs, Some(3)));
    let statuses = [a.0, b.0];
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(statuses.contains(&409), "{a:?} {b:?}");
    fleet.all_run(4, PROPAGATION).await;

    // #3 bound the addresses it was given, not the shared config's.
    let pinned = |flag: &str| {
        let arg = three
            .args
            .iter()
            .find_map(|a| a.strip_prefix(flag))
            .unwrap();
        arg.parse::<std::net::SocketAddr>().unwrap()
    };
    assert_eq!(three.web, pinned("--listen=web="));
    assert_eq!(three.serve.admin, pinned("--admin-bind="));

    // Any instance lists all three, each with the version it runs.
    let mut cmd = two.dir.cli(["instances", "--output", "json"]);
    let listed: serde_json::Value = serde_json::from_slice(&run_ok(&mut cmd).stdout).unwrap();
    let listed = listed.as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lb-1", "lb-2", "lb-3"], "{listed:?}");
    for (i, entry) in fleet.instances.iter().zip(listed) {
        assert_eq!(entry["version"], 4, "{entry}");
        assert_eq!(entry["admin_url"], format!("http://{}", i.serve.admin));
        let seen: chrono::DateTime<chrono::Utc> =
            entry["last_seen"].as_str().unwrap().parse().unwrap();
        assert!(
            chrono::Utc::now() - seen < chrono::Duration::seconds(5),
            "{entry}"
        );
    }
    let text = stdout(&run_ok(&mut two.dir.cli(["instances"])));
    assert!(text.starts_with("NAME") && text.contains("lb-3"), "{text}");
    // Health is observed per instance: servers list says whose view it shows.
    let text = stdout(&run_ok(&mut two.dir.cli(["servers", "list"])));
    assert!(
        text.starts_with("health as seen by instance lb-2 (running v4)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_etcd_leader_under_load_loses_no_change_and_no_request() {
    let Some(mut fleet) = Fleet::start(3, 2, 2).await else {
        return;
    };
    fleet.all_run(1, PROPAGATION).await;
    let loads = fleet.loads();
    let leader = fleet.etcd.leader();
    fleet.etcd.kill(leader);
    // Each change is retried while the cluster elects a new leader, then lands.
    let mut landed = Vec::new();
    for n in [2, 1, 2] {
        let started = std::time::Instant::now();
        loop {
            let (status, body) = fleet.instances[landed.len() % 2]
                .apply(&fleet.config(n), None)
                .await;
            if status == 200 {
                landed.push(body["version"]["version"].as_u64().unwrap());
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(started.elapsed() < Duration::from_secs(10), "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(landed, [2, 3, 4]);
    fleet.all_run(4, PROPAGATION * 3).await;
    for (i, load) in fleet.instances.iter().zip(loads) {
        load.finish_without_failures(&i.name).await;
    }
    let history = fleet.instances[1].admin.get("/versions").await;
    let numbers: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_etcd_instances_serve_refuse_changes_restart_from_a_snapshot_and_catch_up() {
    let Some(mut fleet) = Fleet::start(3, 2, 2).await else {
        return;
    };
    fleet.all_run(1, PROPAGATION).await;
    let (status, _) = fleet.instances[0].apply(&fleet.config(2), None).await;
    assert_eq!(status, 200);
    fleet.all_run(2, PROPAGATION).await;
    for i in &fleet.instances {
        assert_eq!(i.store_connected().await, Some(1), "{}", i.name);
    }

    // All of etcd is lost: both instances say so and keep serving v2.
    fleet.etcd.kill_all();
    let loads = fleet.loads();
    for i in &fleet.instances {
        i.store_connected_becomes(0).await;
        i.serve
            .wait_for_log("lost the store", Duration::from_secs(1))
            .await
            .expect("a log line says the store is lost");
        assert_eq!(i.status().await["store_connected"], false);
    }
    let url = fleet.etcd.url(crate::util::PREFIX);
    let (status, body) = fleet.instances[0].apply(&fleet.config(1), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "store_unavailable");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.contains(&url) && reason.contains("keeps serving v2"),
        "{reason}"
    );

    // An instance restarted meanwhile serves its snapshot, and says so.
    let restarted = fleet.instances.pop().unwrap();
    let (name, dir) = (restarted.name.clone(), restarted.dir);
    drop(restarted.serve);
    let again = fleet.spawn(name, dir, Vec::new()).await;
    again
        .serve
        .wait_for_log("serving the snapshot of v2", Duration::from_secs(1))
        .await
        .expect("a log line says it serves the snapshot");
    let status = again.status().await;
    assert_eq!(status["version"], 2, "{status}");
    assert_eq!(status["from_snapshot"], true, "{status}");
    assert!(again.hits(6).await.iter().any(|h| h == "inventory-2"));
    fleet.instances.push(again);

    // etcd comes back: both catch up and take changes again.
    fleet.etcd.restart_all();
    for i in &fleet.instances {
        i.store_connected_becomes(1).await;
    }
    let (status, body) = fleet.instances[0].apply(&fleet.config(1), None).await;
    assert_eq!(status, 200, "{body}");
    fleet.all_run(3, PROPAGATION).await;
    assert_eq!(fleet.instances[1].status().await["from_snapshot"], false);
    for (i, load) in fleet.instances[..1].iter().zip(loads) {
        load.finish_without_failures(&i.name).await;
    }
}

/// Not a check (speed is measured, never asserted): prints apply latency on etcd and on SQLite,
/// and how long a change made through #1 takes to run on #3, over 100 applies each.
/// `cargo test -p switchyard --test integration latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn latency() {
    const APPLIES: u64 = 100;
    let Some(fleet) = Fleet::start(3, 3, 2).await else {
        return;
    };
    let (one, three) = (&fleet.instances[0], &fleet.instances[2]);
    let (mut apply, mut propagation) = (Vec::new(), Vec::new());
    for n in 2..APPLIES + 2 {
        let started = std::time::Instant::now();
        let (status, body) = one
            .apply(&fleet.config(1 + ((n + 1) % 2) as usize), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let applied = started.elapsed();
        assert_eq!(body["version"]["version"], n, "{body}");
        while three.status().await["version"] != n {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "v{n} never ran on #3"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        apply.push(applied);
        propagation.push(started.elapsed() - applied);
    }
    summary("apply on etcd (3 members)", &mut apply);
    summary("propagation #1 -> #3", &mut propagation);

    let dir = crate::util::Dir::new();
    dir.write("switchyard.toml", &fleet.config(1));
    let args = ["--config", "switchyard.toml"].map(std::ffi::OsStr::new);
    let serve = crate::util::Serve::start_with(&dir, &args).await;
    let admin = crate::util::Admin::of(&dir, &serve);
    let mut sqlite = Vec::new();
    for n in 2..APPLIES + 2 {
        let config = fleet.config(1 + ((n + 1) % 2) as usize);
        let body = serde_json::json!({"config": config, "author": "ops", "message": "change"});
        let started = std::time::Instant::now();
        let (status, answer) = admin.post("/apply", &body).await;
        assert_eq!(status, 200, "{answer}");
        sqlite.push(started.elapsed());
    }
    summary("apply on SQLite", &mut sqlite);
}

fn summary(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.1} ms, max {:.1} ms over {}",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}
