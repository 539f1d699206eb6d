//! Live changes lose nothing: under steady keep-alive load, 200 apply/rollback cycles and a
//! server removal with drain fail no client request, and a slow request in flight to the
//! removed server completes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::util::*;
use serde_json::json;
use switchyard_lab::Backend;

#[derive(Default)]
struct Load {
    stop: AtomicBool,
    ok: AtomicU64,
    failed: AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

/// `clients` keep-alive clients sending GETs until told to stop.
fn start_load(url: String, clients: usize) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let tasks = (0..clients)
        .map(|_| {
            let (load, url) = (load.clone(), url.clone());
            tokio::spawn(async move {
                let client = http_client();
                while !load.stop.load(Ordering::Relaxed) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes().await;
                            load.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            load.failed.fetch_add(1, Ordering::Relaxed);
                            let what = match other {
                                Ok(r) => {
                                    format!("{} {}", r.status(), r.text().await.unwrap_or_default())
                                }
                                Err(e) => e.to_string(),
                            };
                            load.failures.lock().unwrap().push(what);
                        }
                    }
                }
            })
        })
        .collect();
    (load, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_rollbacks_and_a_drained_removal_fail_no_request() {
    let s1 = Backend::start("s1").await.unwrap();
    let s2 = Backend::start("s2").await.unwrap();
    let s3 = Backend::start("s3").await.unwrap();
    let dir = Dir::new();
    let base = serve_config("off", "", &[("s1", s1.addr), ("s2", s2.addr)]);
    let config = dir.write("switchyard.toml", &base);
    let grown = format!(
        "{base}\n[[pools.inventory.servers]]\nname = \"s3\"\naddress = \"{}\"\n",
        s3.addr
    );
    let serve = Serve::start(&dir, &config).await;
    let admin = Admin::of(&dir, &serve);
    let (load, tasks) = start_load(format!("http://{}/", serve.listener("web")), 4);

    for cycle in 0..200 {
        let (status, body) = admin
            .post("/apply", &json!({ "config": grown, "message": format!("cycle {cycle}: add s3"), "author": "test" }))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["changed"], true);
        let (status, body) = admin
            .post(
                "/rollback",
                &json!({ "to": 1, "message": format!("cycle {cycle}: back"), "author": "test" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let history = admin.get("/versions?limit=1000").await;
    assert_eq!(history.as_array().unwrap().len(), 401);
    assert_eq!(history[0]["version"], 401);
    assert_eq!(history[0]["kind"], "rollback");
    assert!(
        s3.control.requests() > 0,
        "s3 was in rotation during the cycles"
    );

    // A slow request in flight to s2 when it is removed still completes.
    s2.control.set_delay(Duration::from_millis(1500));
    poll(Duration::from_secs(10), || async {
        (s2.control.in_flight() > 0).then_some(())
    })
    .await
    .expect("a request reaches the slow s2");
    let ok_before = load.ok.load(Ordering::Relaxed);
    let mut remove = dir.command([
        "servers",
        "remove",
        "s2",
        "--pool",
        "inventory",
        "-m",
        "slow",
        "--drain-timeout",
        "10s",
    ]);
    let o = tokio::task::spawn_blocking(move || {
        let o = run_ok(&mut remove);
        (stdout(&o), o)
    })
    .await
    .unwrap();
    assert!(
        o.0.contains("removed s2 from pool inventory as v402"),
        "{}",
        o.0
    );
    assert!(o.0.contains("drained in"), "{}", o.0);
    assert_eq!(
        s2.control.in_flight(),
        0,
        "the drain waited for s2's requests"
    );
    let s2_requests = s2.control.requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s2.control.requests(),
        s2_requests,
        "a removed server gets no new requests"
    );

    load.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (ok, failed) = (
        load.ok.load(Ordering::Relaxed),
        load.failed.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed,
        0,
        "failed requests: {:?}",
        load.failures.lock().unwrap()
    );
    assert!(
        ok > ok_before && ok > 1000,
        "only {ok} requests were served"
    );
}
