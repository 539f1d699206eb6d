//! `[admin] tls`: the admin API is served over HTTPS (also on a non-loopback bind, which then
//! needs no opt-in), plain HTTP to it gets nothing, and the token is still required.

use std::process::Command;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_over_tls() {
    if !have("openssl") || !have("curl") {
        eprintln!("skipped: needs the openssl and curl programs");
        return;
    }
    let dir = Dir::new();
    self_signed_cert(&dir);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = serve_config("off", "", &[("a", dead.local_addr().unwrap())]).replacen(
        "[admin]\n",
        "[admin]\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n",
        1,
    );
    let config = dir.write("switchyard.toml", &config);
    let serve = Serve::start(&dir, &config).await;
    let admin = serve.admin;
    let url = std::fs::read_to_string(dir.path().join("switchyard-state/admin.url")).unwrap();
    assert_eq!(url.trim(), format!("https://{admin}"));
    let token = std::fs::read_to_string(dir.path().join("switchyard-state/admin.token")).unwrap();

    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.current_dir(dir.path())
            .args([
                "--silent",
                "--show-error",
                "--noproxy",
                "*",
                "--max-time",
                "10",
            ])
            .args(["--write-out", "\n%{http_code}"])
            .args(args);
        run(&mut c)
    };
    let with_token = format!("authorization: Bearer {}", token.trim());
    let o = curl(&[
        "--cacert",
        "cert.pem",
        "-H",
        &with_token,
        &format!("https://127.0.0.1:{}/api/v1/version", admin.port()),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.ends_with("\n200") && out.contains("\"version\":1"),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = curl(&[
        "--cacert",
        "cert.pem",
        &format!("https://127.0.0.1:{}/api/v1/version", admin.port()),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("\n401"));
    // Plain HTTP gets no answer.
    let o = curl(&[&format!("http://{admin}/api/v1/version")]);
    assert!(
        !String::from_utf8_lossy(&o.stdout).ends_with("\n200"),
        "{o:?}"
    );
}
