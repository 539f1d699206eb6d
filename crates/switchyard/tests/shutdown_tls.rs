//! `switchyard serve` on SIGTERM with a TLS listener: requests in flight must finish too.
//!
//! The switchyard crate has no TLS client among its dev-dependencies, so this test uses the
//! `openssl` and `curl` programs; it is skipped (with a note) where they are missing.

use std::io::ErrorKind;
use std::process::Command;
use std::time::Duration;

use crate::util::{have, poll, run_with_timeout, self_signed_cert, Dir, Serve};
use switchyard_lab::Backend;

#[tokio::test]
async fn sigterm_drains_requests_in_flight_on_a_tls_listener() {
    if !have("openssl") || !have("curl") {
        eprintln!("skipped: needs the openssl and curl programs");
        return;
    }
    let dir = Dir::new();
    self_signed_cert(&dir);

    let backend = Backend::start("inventory-1").await.unwrap();
    let config = dir.write(
        "switchyard.toml",
        &format!(
            r#"[admin]
bind = "127.0.0.1:0"
access_log = "off"

[runtime]
workers = 2
shutdown_timeout = "20s"

[[listeners]]
name = "web"
bind = "127.0.0.1:0"
tls = {{ cert = "cert.pem", key = "key.pem" }}

[[routes]]
pool = "inventory"

[[pools.inventory.servers]]
name = "inventory-1"
address = "{}"
"#,
            backend.addr
        ),
    );
    let mut serve = Serve::start(&dir, &config).await;
    let web = serve.listener("web");

    // A request that takes 1.5 s at the backend, over TLS.
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--show-error", "--insecure", "--noproxy", "*"])
        .args(["--max-time", "15", "--write-out", "\n%{http_code}"])
        .arg(format!("https://{web}/sleep/1500"));
    let slow = tokio::task::spawn_blocking(move || {
        let out = run_with_timeout(&mut curl, Duration::from_secs(20));
        (crate::util::command_line(&curl), out)
    });
    serve.wait_in_flight(&backend).await;

    serve.signal("TERM");
    let refused = poll(Duration::from_secs(1), || async {
        match tokio::net::TcpStream::connect(web).await {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        }
    })
    .await;
    serve.check(
        refused.is_some(),
        "new connections should be refused within 1s of SIGTERM",
    );

    let (curl_line, out) = slow.await.unwrap();
    let curl_out = crate::util::stdout(&out);
    serve.check(
        out.status.success() && curl_out == "inventory-1 slept 1500ms\n\n200",
        &format!(
            "the TLS request in flight should complete with 200 after SIGTERM;\n\
             {curl_line} exited with {}, stdout {curl_out:?}, stderr {:?}",
            out.status,
            crate::util::stderr(&out)
        ),
    );
    serve.stops_cleanly(Duration::from_secs(5)).await;
}
