//! Active health checks, outlier ejection and what a pool does when nothing is healthy, with
//! real backends whose behaviour the tests flip.

use std::time::Duration;

use crate::support::*;
use switchyard_lab::Backend;
use switchyard_proxy::{EventKind, LiveState};

const CHECK: &str = "\n[pools.pool.health]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\nexpect_status = [200]\nrise = 2\nfall = 3\n";

async fn wait_state(p: &TestProxy, server: &str, state: LiveState) {
    for _ in 0..300 {
        if status_of(p, server).state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{server} never became {state:?}: {:?}",
        status_of(p, server)
    );
}

/// Sends `n` GETs to /api and returns how many came back 200.
async fn ok_count(p: &TestProxy, n: usize) -> usize {
    let c = client();
    let mut ok = 0;
    for i in 0..n {
        let r = c.get(p.url(&format!("/api/{i}"))).send().await.unwrap();
        ok += usize::from(r.status() == 200);
    }
    ok
}

#[tokio::test]
async fn a_server_answering_404_never_gets_a_client_request() {
    let good = Backend::start("inventory-1").await.unwrap();
    let bad = Backend::start("inventory-4").await.unwrap();
    bad.control.set_status(404);
    let p = start(&format!(
        "{}{CHECK}",
        one_pool("", &[("inventory-1", good.addr), ("inventory-4", bad.addr)])
    ))
    .await;
    wait_state(&p, "inventory-1", LiveState::Active).await;
    assert_eq!(ok_count(&p, 100).await, 100);
    assert_eq!(
        bad.control.requests_to("/api"),
        0,
        "no client request reached the 404 server"
    );
    wait_state(&p, "inventory-4", LiveState::Unhealthy).await;
    assert!(bad.control.requests_to("/health") >= 3, "it was checked");
    let s = status_of(&p, "inventory-4");
    assert_eq!(
        s.health_reason.unwrap(),
        format!(
            "unhealthy: health check GET /health on inventory-4 ({0}): expected 200, got 404 text/plain \"inventory-4\"",
            bad.addr
        )
    );
    assert_eq!(
        p.metric("switchyard_upstream_healthy{pool=\"pool\",server=\"inventory-4\"}"),
        0.0
    );
    assert_eq!(
        p.metric("switchyard_upstream_healthy{pool=\"pool\",server=\"inventory-1\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_failing_server_leaves_after_fall_and_returns_after_rise() {
    let s1 = Backend::start("s1").await.unwrap();
    let s2 = Backend::start("s2").await.unwrap();
    let p = start(&format!(
        "{}{CHECK}",
        one_pool("", &[("s1", s1.addr), ("s2", s2.addr)])
    ))
    .await;
    wait_state(&p, "s2", LiveState::Active).await;
    wait_state(&p, "s1", LiveState::Active).await;
    let up = p
        .next_event(EventKind::Health, Duration::from_secs(5))
        .await;
    assert_eq!(up.details["to"], "healthy");

    s2.control.set_status(500);
    let down = loop {
        let e = p
            .next_event(EventKind::Health, Duration::from_secs(5))
            .await;
        if e.server.as_deref() == Some("s2") && e.details["to"] == "unhealthy" {
            break e;
        }
    };
    assert_eq!(down.details["streak"], 3, "after `fall` failures");
    assert_eq!(
        down.details["reason"],
        format!(
            "s2 ({0}) is unhealthy after 3 failed checks: health check GET /health on s2 ({0}): expected 200, got 500 text/plain \"s2\"",
            s2.addr
        )
    );
    let before = s2.control.requests_to("/api");
    assert_eq!(ok_count(&p, 50).await, 50, "s1 carries everything");
    assert_eq!(s2.control.requests_to("/api"), before);

    s2.control.set_status(0);
    let back = p
        .next_event(EventKind::Health, Duration::from_secs(5))
        .await;
    assert_eq!(
        (back.server.as_deref(), back.details["to"].as_str()),
        (Some("s2"), Some("healthy"))
    );
    assert_eq!(back.details["streak"], 2, "after `rise` passes");
    ok_count(&p, 20).await;
    assert!(
        s2.control.requests_to("/api") > before,
        "s2 is back in rotation"
    );
}

#[tokio::test]
async fn reject_names_each_server_and_why() {
    let s1 = Backend::start("s1").await.unwrap();
    let s2 = Backend::start("s2").await.unwrap();
    s1.control.set_status(503);
    s2.control.set_status(503);
    let p = start(&format!(
        "{}{CHECK}",
        one_pool("", &[("s1", s1.addr), ("s2", s2.addr)])
    ))
    .await;
    wait_state(&p, "s1", LiveState::Unhealthy).await;
    wait_state(&p, "s2", LiveState::Unhealthy).await;
    let r = client().get(p.url("/api/1")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no_healthy_server");
    let check = |name: &str, addr| {
        format!("{name} ({addr}) unhealthy: health check GET /health on {name} ({addr}): expected 200, got 503 text/plain \"{name}\"")
    };
    assert_eq!(
        body["reason"],
        format!(
            "no healthy server in pool pool: {}; {}",
            check("s1", s1.addr),
            check("s2", s2.addr)
        )
    );
    let e = p
        .next_event(EventKind::AllUnhealthy, Duration::from_secs(5))
        .await;
    assert_eq!(e.details["mode"], "reject");
    assert_eq!(
        s1.control.requests_to("/api") + s2.control.requests_to("/api"),
        0
    );
}

#[tokio::test]
async fn fail_open_spreads_over_every_server() {
    let s1 = Backend::start("s1").await.unwrap();
    let s2 = Backend::start("s2").await.unwrap();
    // The checks want JSON; the backends answer text, so both fail their checks while
    // answering client requests fine.
    let check = CHECK.replace(
        "rise = 2",
        "rise = 2\nexpect_header = { \"content-type\" = \"application/json\" }",
    );
    let toml = format!(
        "{}{check}",
        one_pool(
            "when_all_unhealthy = \"fail_open\"",
            &[("s1", s1.addr), ("s2", s2.addr)]
        )
    );
    let p = start(&toml).await;
    wait_state(&p, "s1", LiveState::Unhealthy).await;
    wait_state(&p, "s2", LiveState::Unhealthy).await;
    assert!(status_of(&p, "s1")
        .health_reason
        .unwrap()
        .contains("expected 200 with content-type application/json, got 200 text/plain \"s1\""));
    assert_eq!(ok_count(&p, 40).await, 40);
    assert_eq!(
        (
            s1.control.requests_to("/api"),
            s2.control.requests_to("/api")
        ),
        (20, 20)
    );
    let e = p
        .next_event(EventKind::AllUnhealthy, Duration::from_secs(5))
        .await;
    assert_eq!(e.details["mode"], "fail_open");
}

#[tokio::test]
async fn outliers_are_ejected_with_backoff_and_never_more_than_the_cap() {
    let s1 = Backend::start("s1").await.unwrap();
    let s2 = Backend::start("s2").await.unwrap();
    s2.control.set_status(500);
    let outlier = "\n[pools.pool.outlier]\nconsecutive_failures = 3\nbase_ejection = \"300ms\"\nmax_ejection = \"10s\"\nmax_ejected_percent = 50\n";
    let p = start(&format!(
        "{}{outlier}",
        one_pool("", &[("s1", s1.addr), ("s2", s2.addr)])
    ))
    .await;
    let c = client();
    // Round robin: every second request meets s2 until it is ejected after 3 failures.
    for _ in 0..6 {
        c.get(p.url("/api/x")).send().await.unwrap();
    }
    let e = p
        .next_event(EventKind::Ejection, Duration::from_secs(1))
        .await;
    assert_eq!(e.server.as_deref(), Some("s2"));
    assert_eq!(e.details["ejection"], 1);
    assert_eq!(e.details["ejected_for_ms"], 300);
    assert_eq!(e.details["consecutive_failures"], 3);
    assert_eq!(
        e.details["reason"],
        format!(
            "s2 ({}) ejected for 300ms: 3 consecutive failures (last: answered 500)",
            s2.addr
        )
    );
    assert_eq!(status_of(&p, "s2").state, LiveState::Ejected);
    let failed_before = s2.control.requests_to("/api");
    assert_eq!(failed_before, 3);
    assert_eq!(
        ok_count(&p, 20).await,
        20,
        "s1 takes everything while s2 is out"
    );
    assert_eq!(s2.control.requests_to("/api"), failed_before);

    // It comes back, fails again, and is ejected for twice as long.
    tokio::time::sleep(Duration::from_millis(350)).await;
    for _ in 0..6 {
        c.get(p.url("/api/x")).send().await.unwrap();
    }
    let back = p
        .next_event(EventKind::Return, Duration::from_secs(1))
        .await;
    assert_eq!(back.server.as_deref(), Some("s2"));
    let e = p
        .next_event(EventKind::Ejection, Duration::from_secs(1))
        .await;
    assert_eq!(
        (
            e.details["ejection"].as_u64(),
            e.details["ejected_for_ms"].as_u64()
        ),
        (Some(2), Some(600))
    );

    // With s2 out, s1 failing too would put half the pool... plus s1: over the 50% cap.
    s1.control.set_status(500);
    for _ in 0..10 {
        c.get(p.url("/api/x")).send().await.unwrap();
    }
    assert_eq!(
        status_of(&p, "s1").state,
        LiveState::Active,
        "the cap keeps s1 in rotation"
    );
    assert!(s1.control.requests_to("/api") >= 30);
}
