//! A full disk under the state directory (a 4 MiB tmpfs, when this process may mount one):
//! apply answers 507 with the reason, nothing is half written, serving goes on, and once space
//! is freed changes go through again and a restart reads every version back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;
use serde_json::json;
use switchyard_lab::Backend;

/// A tmpfs mounted for the test's life; `None` where mounting is not allowed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?
            .status
            .success();
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the disk is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_changes_with_the_reason_and_serving_goes_on() {
    let dir = Dir::new();
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "4m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let a = Backend::start("a").await.unwrap();
    let b = Backend::start("b").await.unwrap();
    let base = serve_config("off", "", &[("a", a.addr), ("b", b.addr)]);
    dir.write("switchyard.toml", &base);
    let state = disk.0.join("state");
    let args = [
        "--state".as_ref(),
        state.as_os_str(),
        "--config".as_ref(),
        "switchyard.toml".as_ref(),
    ];
    let serve = Serve::start_with(&dir, &args).await;
    let admin = Admin::of_state(&state, &serve);
    let web = serve.listener("web");
    let served = || async {
        http_client()
            .get(format!("http://{web}/"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(served().await, 200);

    fill(&disk.0.join("filler"));
    // A change big enough to need new pages: a long message.
    let message = "x".repeat(256 * 1024);
    let mut refused = None;
    for i in 0..20 {
        let body =
            json!({ "message": format!("{message}{i}"), "drain_timeout": "1s", "wait": false });
        let verb = if i % 2 == 0 { "remove" } else { "restore" };
        let (status, answer) = admin
            .post(&format!("/pools/inventory/servers/b/{verb}"), &body)
            .await;
        if status != 200 {
            refused = Some((status, answer));
            break;
        }
    }
    let (status, answer) = refused.expect("a change is refused on a full disk");
    assert_eq!(status, 507, "{answer}");
    assert_eq!(answer["error"], "disk_full", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(
        reason.contains("disk that holds the state directory is full")
            && reason.contains("nothing was changed"),
        "{reason}"
    );

    // Nothing half written: the history reads back whole, the running version is its head,
    // and the proxy still serves.
    let versions = admin.get("/versions").await;
    let head = versions[0]["version"].as_u64().unwrap();
    assert_eq!(versions.as_array().unwrap().len() as u64, head);
    assert_eq!(admin.get("/version").await["version"], head);
    for n in 1..=head {
        admin.get(&format!("/versions/{n}")).await;
    }
    for _ in 0..20 {
        assert_eq!(served().await, 200, "serving goes on");
    }

    // Space freed: changes go through again.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let (status, answer) = admin
        .post(
            "/pools/inventory/servers/a/remove",
            &json!({"message": "after", "wait": false}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(admin.get("/version").await["version"], head + 1);
    drop(serve);
}
