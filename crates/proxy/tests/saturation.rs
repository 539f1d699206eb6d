//! Saturation and slow start: how load on a server is shown and how a new server is eased in.

use std::time::Duration;

use crate::support::*;
use switchyard_lab::Backend;
use switchyard_proxy::EventKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_at_its_limit_for_most_of_ten_seconds_is_saturated() {
    let b = Backend::start("inventory-1").await.unwrap();
    b.control.set_delay(Duration::from_millis(9000));
    let p = start(&one_pool(
        "max_connections = 2\nqueue = 0",
        &[("inventory-1", b.addr)],
    ))
    .await;
    let c = client();
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(c.get(p.url("/")).send()))
        .collect();
    let e = p
        .next_event(EventKind::Saturation, Duration::from_secs(9))
        .await;
    assert_eq!(e.details["saturated"], true);
    assert_eq!(e.details["in_use"], 2);
    assert_eq!(
        e.details["reason"],
        format!(
            "inventory-1 ({}) saturated: at least 90% of its limit in use for most of the last 10 s (2/2 in use now)",
            b.addr
        )
    );
    let s = &p.handle.status()[0].servers[0];
    assert!(s.saturated);
    assert_eq!((s.in_flight, s.limit), (2, 2));
    // The third request finds no slot and no room to wait.
    let r = c.get(p.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["reason"],
        "all servers are at their connection limit (inventory-1 2/2 in use) and the queue is full (0/0 waiting)"
    );
    for h in held {
        h.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_start_eases_a_new_server_in() {
    let old = Backend::start("old").await.unwrap();
    let new = Backend::start("new").await.unwrap();
    let extra = "slow_start = \"3s\"";
    let p = start(&one_pool(extra, &[("old", old.addr)])).await;
    let next = one_pool(extra, &[("old", old.addr), ("new", new.addr)]);
    p.handle
        .apply(switchyard_config::Config::parse(&next, "v2").unwrap())
        .unwrap();
    let c = client();
    for _ in 0..200 {
        c.get(p.url("/api")).send().await.unwrap();
    }
    let early = new.control.requests_to("/api");
    assert!(
        early < 60,
        "a cold server got {early} of the first 200 requests (half would be 100)"
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let before = new.control.requests_to("/api");
    for _ in 0..200 {
        c.get(p.url("/api")).send().await.unwrap();
    }
    let late = new.control.requests_to("/api") - before;
    assert_eq!(late, 100, "once ramped it takes its full share");
}
