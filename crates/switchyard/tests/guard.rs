//! The change guard over real sockets: under steady load, a change that adds a server answering
//! 404 (no health checks to catch it) is rolled back by the guard within the bake, with the
//! numbers in the rollback's message and a webhook POST; a harmless change is kept; `--watch`
//! exits non-zero for the first and 0 for the second.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::*;
use serde_json::Value;
use switchyard_lab::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GUARD: &str = "\n[guard]\nbake = \"3s\"\nmin_requests = 30\n";

/// A webhook receiver: keeps the JSON body of every POST and answers 200.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = vec![0; 16 * 1024];
                    let body = loop {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).to_string();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break body.to_string();
                        }
                    };
                    if let Ok(v) = serde_json::from_str(&body) {
                        seen.lock().unwrap().push(v);
                    }
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Hook {
            url: format!("http://{addr}/hooks/switchyard"),
            bodies,
        }
    }
}

/// Runs a CLI verb off the async threads, so the load keeps going meanwhile.
async fn cli(dir: &Dir, line: &str) -> (std::process::Command, std::process::Output) {
    let mut cmd = dir.cli(argv(line));
    let cmd = tokio::task::spawn_blocking(move || {
        let out = run(&mut cmd);
        (cmd, out)
    })
    .await
    .unwrap();
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guard_rolls_back_a_404_server_and_keeps_a_weight_change() {
    let hook = Hook::start().await;
    let mut backends = Vec::new();
    for name in ["inventory-1", "inventory-2", "inventory-4"] {
        backends.push(Backend::start(name).await.unwrap());
    }
    backends[2].control.set_status(404);
    let good: Vec<(&str, SocketAddr)> = backends[..2]
        .iter()
        .map(|b| (b.name.as_str(), b.addr))
        .collect();
    let notify = format!("\n[notify]\nwebhook = \"{}\"\ntimeout = \"1s\"\n", hook.url);
    let base = serve_config("off", "", &good);
    let dir = Dir::new();
    let config = dir.write("switchyard.toml", &format!("{base}{GUARD}{notify}"));
    let serve = Serve::start(&dir, &config).await;
    let admin = Admin::of(&dir, &serve);
    let _load = Load::start(serve.listener("web"), 3, "/items");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The bad change: inventory-4 answers 404 to everything.
    let bad = format!(
        "{base}\n[[pools.inventory.servers]]\nname = \"inventory-4\"\naddress = \"{}\"\n{GUARD}{notify}",
        backends[2].addr
    );
    dir.write("bad.toml", &bad);
    let started = Instant::now();
    let (cmd, out) = cli(&dir, "apply --config bad.toml -m 'add inventory-4' --watch").await;
    let took = started.elapsed();
    check(
        !out.status.success(),
        "apply --watch of a bad change fails",
        &cmd,
        &out,
    );
    let err = stderr(&out);
    check(
        err.lines().count() == 1 && err.contains("v2 was rolled back as v3"),
        "one line saying v2 was rolled back",
        &cmd,
        &out,
    );
    check(
        took < Duration::from_secs(8),
        "the rollback came within the bake",
        &cmd,
        &out,
    );

    let history = admin.get("/versions").await;
    let rollback = history
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["author"] == "switchyard-guard")
        .unwrap_or_else(|| panic!("no version by switchyard-guard in {history:#}"));
    assert_eq!(rollback["kind"], "rollback", "{rollback:#}");
    assert_eq!(rollback["parent"], 2, "{rollback:#}");
    let message = rollback["message"].as_str().unwrap();
    for needle in [
        "auto-rollback of v2: error rate ",
        "(baseline 0.0%, limit ",
        "in pool inventory over ",
        " requests",
        "counting 4xx answers",
        "100% of the errors (4xx included) came from inventory-4 (added in v2)",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    let served = admin.get("/version").await;
    assert_eq!(served["version"], 3, "{served:#}");

    let delivered = poll(Duration::from_secs(5), || {
        let bodies = hook.bodies.clone();
        async move {
            let bodies = bodies.lock().unwrap();
            bodies
                .iter()
                .find(|b| b["kind"] == "auto-rollback")
                .cloned()
        }
    })
    .await
    .expect("the webhook receives the auto-rollback");
    assert_eq!(delivered["version"], 2, "{delivered:#}");
    assert_eq!(delivered["pool"], "inventory", "{delivered:#}");
    assert_eq!(delivered["reason"], message, "{delivered:#}");
    assert!(delivered["ts"].is_string(), "{delivered:#}");

    // The harmless change: a weight.
    let weighted = format!("{base}{GUARD}{notify}").replacen(
        "name = \"inventory-1\"\n",
        "name = \"inventory-1\"\nweight = 2\n",
        1,
    );
    dir.write("weight.toml", &weighted);
    let (cmd, out) = cli(
        &dir,
        "apply --config weight.toml -m 'more to inventory-1' --watch",
    )
    .await;
    check(
        out.status.success(),
        "apply --watch of a harmless change",
        &cmd,
        &out,
    );
    check(
        stdout(&out).contains("kept v4: error rate 0.0%"),
        "says v4 was kept",
        &cmd,
        &out,
    );
    let events = admin.get("/events").await;
    let verdicts: Vec<(u64, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "guard")
        .map(|e| {
            (
                e["details"]["version"].as_u64().unwrap(),
                e["details"]["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(verdicts.contains(&(2, "rolled-back")), "{verdicts:?}");
    assert!(verdicts.contains(&(4, "kept")), "{verdicts:?}");
    assert_eq!(admin.get("/version").await["version"], 4);
}

#[tokio::test]
async fn watch_without_a_guard_returns_at_once() {
    let site = Site::start(2, "alice").await;
    let toml = serve_config("off", "", &site.servers()).replacen(
        "name = \"inventory-1\"\n",
        "name = \"inventory-1\"\nweight = 3\n",
        1,
    );
    site.dir.write("weight.toml", &toml);
    let out = site.ok("apply --config weight.toml -m heavier --watch");
    assert!(out.contains("no guard"), "{out}");
}
