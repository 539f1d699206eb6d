//! The guard blames changes, not clients: while a change that adds a server bakes, clients that
//! ask for missing pages get 404 from every server alike, and the verdict is `kept`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GUARD: &str = "\n[guard]\nbake = \"3s\"\nmin_requests = 30\n";

/// A keep-alive HTTP/1.1 server answering 404 for paths under `/missing`, else 200.
async fn site_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = vec![0; 8192];
                loop {
                    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&got[..end]).to_string();
                    got.drain(..end + 4);
                    let path = head.split(' ').nth(1).unwrap_or("/");
                    let (status, body) = if path.starts_with("/missing") {
                        ("404 Not Found", "no such page")
                    } else {
                        ("200 OK", "items")
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_asking_for_missing_pages_during_a_bake_leave_the_change_kept() {
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(site_server().await);
    }
    let base = serve_config(
        "off",
        "",
        &[("inventory-1", servers[0]), ("inventory-2", servers[1])],
    );
    let dir = Dir::new();
    let config = dir.write("switchyard.toml", &format!("{base}{GUARD}"));
    let serve = Serve::start(&dir, &config).await;
    let admin = Admin::of(&dir, &serve);
    let web = serve.listener("web");
    let _pages = Load::start(web, 2, "/items");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // A good server is added; meanwhile clients start asking for pages that do not exist, a
    // share of 4xx that was 0 before the change.
    let added = format!(
        "{base}\n[[pools.inventory.servers]]\nname = \"inventory-3\"\naddress = \"{}\"\n{GUARD}",
        servers[2]
    );
    dir.write("add.toml", &added);
    let _missing = Load::start(web, 2, "/missing/page");
    let mut cmd = dir.cli(argv("apply --config add.toml -m 'add inventory-3' --watch"));
    let out = tokio::task::spawn_blocking(move || {
        let out = run(&mut cmd);
        (cmd, out)
    })
    .await
    .unwrap();
    let (cmd, out) = out;
    check(
        out.status.success() && stdout(&out).contains("kept v2"),
        "the added server is kept although clients got 404s",
        &cmd,
        &out,
    );
    let guard = admin.get("/guard").await;
    assert_eq!(guard["bake"]["verdict"], "kept", "{guard:#}");
    assert_eq!(guard["bake"]["client_errors_counted"], false, "{guard:#}");
    assert!(
        guard["bake"]["requests"].as_u64().unwrap() >= 30,
        "enough requests for a verdict: {guard:#}"
    );
    assert_eq!(admin.get("/version").await["version"], 2);
}
