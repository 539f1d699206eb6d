//! `serve` and its state directory: the first config becomes v1, the same config again changes
//! nothing, a different one becomes a new version, and no config starts from the newest.

use std::ffi::OsStr;
use std::time::Duration;

use crate::util::*;
use switchyard_lab::Backend;

async fn head(dir: &Dir, serve: &Serve) -> serde_json::Value {
    Admin::of(dir, serve).get("/version").await
}

async fn restart(dir: &Dir, mut serve: Serve, args: &[&OsStr]) -> Serve {
    serve.signal("TERM");
    assert!(serve.wait_exit(Duration::from_secs(10)).await.is_some());
    Serve::start_with(dir, args).await
}

#[tokio::test]
async fn versions_follow_the_config_file_across_restarts() {
    let a = Backend::start("a").await.unwrap();
    let b = Backend::start("b").await.unwrap();
    let dir = Dir::new();
    let one = dir.write("one.toml", &serve_config("off", "", &[("a", a.addr)]));
    let two = dir.write("two.toml", &serve_config("off", "", &[("b", b.addr)]));

    let serve = Serve::start(&dir, &one).await;
    let v = head(&dir, &serve).await;
    assert_eq!(
        (v["version"].as_u64(), v["kind"].as_str()),
        (Some(1), Some("apply"))
    );
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("initial config from ") && message.ends_with("/one.toml"),
        "{message}"
    );

    let serve = restart(&dir, serve, &[OsStr::new("--config"), one.as_os_str()]).await;
    assert_eq!(
        head(&dir, &serve).await["version"],
        1,
        "the same config adds no version"
    );

    let serve = restart(&dir, serve, &[OsStr::new("--config"), two.as_os_str()]).await;
    let v = head(&dir, &serve).await;
    assert_eq!(v["version"], 2);
    assert_eq!(v["parent"], 1);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("serve --config ") && message.ends_with("/two.toml"),
        "{message}"
    );

    let serve = restart(&dir, serve, &[]).await;
    assert_eq!(head(&dir, &serve).await["version"], 2);
    let r = http_client()
        .get(format!("http://{}/", serve.listener("web")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-backend"], "b", "serves the newest version");
}
