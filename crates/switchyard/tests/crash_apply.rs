//! A crash mid-change leaves the history whole: `serve` is killed with SIGKILL while applies
//! stream in, restarted from its state directory, and every stored version must be complete,
//! numbered without gaps and served; a `serve` killed while it starts leaves no partial token.
//! 4 rounds in a normal run, 100 with `--ignored`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::util::*;
use serde_json::json;
use switchyard_lab::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_serve_during_applies_keeps_every_version_whole() {
    storm(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "100 rounds of kill -9: run with --ignored"]
async fn killing_serve_during_applies_100_rounds() {
    storm(100).await;
}

/// Starts `serve` in a new state directory and kills it after `delay`: its token file is
/// then absent or whole, and no temporary file is left.
async fn kill_during_start(config: &str, delay: Duration) {
    let dir = Dir::new();
    dir.write("switchyard.toml", config);
    let mut child = dir
        .command(["serve", "--config", "switchyard.toml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let state = dir.path().join("switchyard-state");
    if let Ok(entries) = std::fs::read_dir(&state) {
        for entry in entries {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            assert!(
                !name.contains(".tmp"),
                "{name} left after kill at {delay:?}"
            );
        }
    }
    match std::fs::read_to_string(state.join("admin.token")) {
        Ok(token) => assert!(
            token.len() == 65 && token.ends_with('\n'),
            "partial token {token:?} after kill at {delay:?}"
        ),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
    }
}

async fn storm(rounds: u64) {
    let a = Backend::start("a").await.unwrap();
    let b = Backend::start("b").await.unwrap();
    let dir = Dir::new();
    let config = dir.write(
        "switchyard.toml",
        &serve_config("off", "", &[("a", a.addr), ("b", b.addr)]),
    );
    let mut serve = Serve::start(&dir, &config).await;
    let mut last_seen = 1u64;
    let plain = std::fs::read_to_string(&config).unwrap();
    for round in 0..rounds {
        kill_during_start(&plain, Duration::from_millis(round * 7 % 60)).await;
        let admin = Arc::new(Admin::of(&dir, &serve));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (admin, stop) = (admin.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (verb, body) = if i.is_multiple_of(2) {
                        (
                            "remove",
                            json!({ "message": format!("remove {i}"), "drain_timeout": "1s", "wait": false }),
                        )
                    } else {
                        ("restore", json!({ "message": format!("restore {i}") }))
                    };
                    let path = format!("/pools/inventory/servers/b/{verb}");
                    let sent =
                        tokio::time::timeout(Duration::from_secs(2), admin.post_raw(&path, &body))
                            .await;
                    match sent {
                        Ok(Ok(200)) => i += 1,
                        // After a restart the server may already be in the state asked for.
                        Ok(Ok(409)) => i += 1,
                        other => {
                            eprintln!("writer stopped at {i}: {other:?}");
                            break;
                        }
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(150 + 70 * (round % 8))).await;
        serve.signal("KILL");
        stop.store(true, Ordering::Relaxed);
        let _ = writer.await;
        let _ = serve.wait_exit(Duration::from_secs(5)).await;

        serve = Serve::start_with(&dir, &[]).await;
        let admin = Admin::of(&dir, &serve);
        let versions = admin.get("/versions?limit=100000").await;
        let versions = versions.as_array().unwrap();
        let head = versions[0]["version"].as_u64().unwrap();
        assert!(
            head > last_seen,
            "round {round}: the writer made no progress (head v{head})"
        );
        assert_eq!(versions.len() as u64, head, "no gaps");
        for (i, v) in versions.iter().enumerate() {
            let n = head - i as u64;
            assert_eq!(v["version"], n);
            assert_eq!(v["parent"], if n == 1 { json!(null) } else { json!(n - 1) });
        }
        // Every version reads back whole (the store checks each digest).
        for n in (last_seen..=head).rev() {
            let v = admin.get(&format!("/versions/{n}")).await;
            assert!(v["config"].as_str().unwrap().contains("[pools.inventory]"));
        }
        let current = admin.get("/version").await;
        assert_eq!(
            current["version"], head,
            "serve restarted from the newest version"
        );
        let events = admin.get("/events?limit=100000").await;
        let version_events = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "version")
            .count() as u64;
        assert_eq!(version_events, head, "each version has its event");
        let r = http_client()
            .get(format!("http://{}/", serve.listener("web")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the restarted proxy serves");
        // The running config is the newest version's: b is out after a removal, in after a
        // restore.
        let b_state = admin.get("/pools").await[0]["servers"][1]["state"].clone();
        let removed = versions[0]["kind"] == "server-remove";
        assert_eq!(
            b_state == "removed" || b_state == "draining",
            removed,
            "round {round}: b is {b_state} after v{head} ({})",
            versions[0]["kind"]
        );
        last_seen = head;
    }
}
