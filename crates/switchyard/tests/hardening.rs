//! Hardening of `serve` and its admin API, over real sockets and the real binary: the token
//! file (atomic, private, long enough, never empty), the private state directory, auth before
//! 405, non-loopback admin binds, settings that need a restart, bodies that are not the JSON a
//! route takes, and control characters in text output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};

use crate::util::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A config with one unreachable server: enough for serve to start.
fn plain_config(admin_extra: &str) -> String {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    serve_config("off", "", &[("inventory-1", addr)]).replacen(
        "[admin]\n",
        &format!("[admin]\n{admin_extra}\n"),
        1,
    )
}

/// Runs `serve` expecting it to refuse to start; returns its stderr.
fn serve_refuses(dir: &Dir) -> String {
    let mut cmd = dir.command(["serve", "--config", "switchyard.toml"]);
    let out = run(&mut cmd);
    check(!out.status.success(), "serve refuses to start", &cmd, &out);
    stderr(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_state_directory_is_private_and_its_token_whole() {
    let dir = Dir::new();
    dir.write("switchyard.toml", &plain_config(""));
    let serve = Serve::start_with(&dir, &["--config".as_ref(), "switchyard.toml".as_ref()]).await;
    let state = dir.path().join("switchyard-state");
    assert_eq!(mode(&state), 0o700, "state directory");
    for entry in std::fs::read_dir(&state).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.contains(".tmp"), "no temporary file is left: {name}");
        if name.starts_with("switchyard.db") || name == "admin.token" {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    let token = std::fs::read_to_string(state.join("admin.token")).unwrap();
    assert!(
        token.ends_with('\n') && token.trim().len() == 64,
        "{token:?}"
    );
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_empty_short_or_readable_token() {
    let dir = Dir::new();
    dir.write("switchyard.toml", &plain_config(""));
    let state = dir.path().join("switchyard-state");
    std::fs::create_dir(&state).unwrap();
    let token = state.join("admin.token");
    let set = |text: &str, mode: u32| {
        std::fs::write(&token, text).unwrap();
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(mode)).unwrap();
    };

    // What a disk that filled up during the first start used to leave behind.
    set("", 0o600);
    let err = serve_refuses(&dir);
    assert!(
        err.contains("has 0 characters, fewer than the 32 required")
            && err.contains("delete the file and serve makes a new one"),
        "{err}"
    );
    set("short-token\n", 0o600);
    let err = serve_refuses(&dir);
    assert!(err.contains("has 11 characters"), "{err}");

    set(&format!("{}\n", "a".repeat(40)), 0o644);
    let err = serve_refuses(&dir);
    assert!(
        err.contains("has mode 644, so other users can read it")
            && err.contains("run `chmod 600 ./switchyard-state/admin.token`"),
        "{err}"
    );

    // Fixed as the message says, it starts and the token works.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let serve = Serve::start_with(&dir, &["--config".as_ref(), "switchyard.toml".as_ref()]).await;
    let admin = Admin::of(&dir, &serve);
    assert_eq!(admin.token, "a".repeat(40));
    assert_eq!(admin.get("/version").await["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_without_the_token_is_401_and_with_it_405() {
    let site = Site::start(1, "alice").await;
    let client = http_client();
    let url = format!("http://{}/api/v1/apply", site.serve.admin);
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token: {:?}", r.text().await);
    let r = client
        .delete(format!("http://{}/api/v1/versions", site.serve.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client
        .get(&url)
        .bearer_auth(site.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_admin_bind_is_refused_unless_asked_for() {
    let dir = Dir::new();
    dir.write(
        "switchyard.toml",
        &plain_config("").replacen("bind = \"127.0.0.1:0\"", "bind = \"0.0.0.0:0\"", 1),
    );
    let mut check_cmd = dir.command(["check", "--config", "switchyard.toml"]);
    let out = run(&mut check_cmd);
    let err = stderr(&out);
    check(
        out.status.code() == Some(1)
            && err.contains("admin.bind 0.0.0.0:0 is not a loopback address")
            && err.contains("admin.allow_insecure_remote = true"),
        "check refuses a cleartext remote admin API",
        &check_cmd,
        &out,
    );
    let err = serve_refuses(&dir);
    assert!(err.contains("is not a loopback address"), "{err}");
    assert!(
        !dir.path().join("switchyard-state/admin.url").exists(),
        "nothing was served"
    );

    // Asked for explicitly, it starts and says so.
    dir.write(
        "switchyard.toml",
        &plain_config("allow_insecure_remote = true").replacen(
            "bind = \"127.0.0.1:0\"",
            "bind = \"0.0.0.0:0\"",
            1,
        ),
    );
    let serve = Serve::start_with(&dir, &["--config".as_ref(), "switchyard.toml".as_ref()]).await;
    let line = serve
        .logs()
        .into_iter()
        .find(|l| l["msg"].as_str().unwrap_or("").starts_with("admin API"))
        .unwrap();
    assert_eq!(line["level"], "warn", "{line}");
    assert!(
        line["msg"]
            .as_str()
            .unwrap()
            .contains("NOT loopback and NOT encrypted"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_runtime_changes_that_need_a_restart_are_refused() {
    let site = Site::start(1, "alice").await;
    let admin = Admin::of(&site.dir, &site.serve);
    let base = serve_config("off", "", &site.servers());
    let cases = [
        (
            base.replacen("access_log = 'off'", "access_log = 'stdout'", 1),
            "admin.access_log off -> stdout",
        ),
        (
            base.replacen("workers = 2", "workers = 3", 1),
            "runtime.workers 2 -> 3",
        ),
        (
            base.replacen("[admin]\n", "[admin]\nallow_insecure_remote = true\n", 1),
            "admin.allow_insecure_remote (unset) -> true",
        ),
    ];
    for (config, detail) in cases {
        let (status, body) = admin
            .post("/apply", &json!({"config": config, "message": "x"}))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"], "needs_restart", "{body}");
        let reason = body["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(detail) && reason.contains("needs a restart; nothing was changed"),
            "{detail:?}: {reason}"
        );
    }
    assert_eq!(site.versions(), [1], "nothing was stored");

    // Settings read live go through.
    let live = base
        .replacen("workers = 2", "workers = 2\nshutdown_timeout = \"7s\"", 1)
        .replacen("[admin]\n", "[admin]\nevent_retention = \"3d\"\n", 1);
    let (status, body) = admin
        .post("/apply", &json!({"config": live, "message": "live"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(site.versions(), [2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_events_show_control_characters_as_escapes() {
    let site = Site::start(1, "alice").await;
    let config = serve_config("off", "", &site.servers()).replacen(
        "workers = 2",
        "workers = 2\nshutdown_timeout = \"9s\"",
        1,
    );
    site.dir.write("next.toml", &config);
    let mut cmd = site.cli("apply --config next.toml");
    cmd.args(["-m", "deploy\x1b[2J\x1b[Hall fine\nv9 apply by root: fake"]);
    run_ok(&mut cmd);
    for verb in ["history", "events", "version"] {
        let out = site.ok(verb);
        assert!(
            !out.contains('\x1b'),
            "{verb} printed a raw escape: {out:?}"
        );
        assert!(
            out.contains("deploy\\x1b[2J\\x1b[Hall fine\\nv9 apply by root: fake"),
            "{verb}: {out}"
        );
    }
    // JSON keeps the message as it was sent.
    assert_eq!(
        site.json("version")["message"],
        "deploy\x1b[2J\x1b[Hall fine\nv9 apply by root: fake"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_the_json_a_route_takes_gets_the_json_error() {
    let site = Site::start(1, "alice").await;
    let admin = Admin::of(&site.dir, &site.serve);
    let http = http_client();
    let cases = [
        (
            "application/json",
            "{\"config\": ",
            400,
            "EOF while parsing",
        ),
        (
            "application/json",
            "{\"message\": \"no config\"}",
            422,
            "missing field `config`",
        ),
        ("text/plain", "{}", 415, "Content-Type"),
    ];
    for (content_type, body, status, detail) in cases {
        let r = http
            .post(format!("{}/apply", admin.base))
            .bearer_auth(&admin.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{content_type} {body}");
        let answer: Value = r.json().await.expect("a JSON answer");
        assert_eq!(answer["error"], "bad_request", "{answer}");
        assert_eq!(answer["status"], status, "{answer}");
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the request body is not the JSON this route takes: ")
                && reason.contains(detail),
            "{reason}"
        );
    }
    assert_eq!(site.versions(), [1], "nothing was stored");
}
