//! Bodies stream through in both directions: 100 MB each way with bounded memory.
//! (Its own test binary, so that the peak-memory reading sees this test alone.)

use crate::support::*;
use futures_util::StreamExt;
use switchyard_lab::Backend;

const SIZE: u64 = 100 * 1024 * 1024;

/// Peak resident memory of this process so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_stream_both_ways_with_bounded_memory() {
    let b = Backend::start("b").await.unwrap();
    let p = start(&one_pool("", &[("b", b.addr)])).await;
    let c = client();
    // Warm up so allocator arenas exist before the baseline is taken.
    body_of(c.get(p.url("/bytes/1000000"))).await;
    let before = peak_rss();

    let chunk = bytes::Bytes::from(vec![b'u'; 64 * 1024]);
    let chunks = SIZE / chunk.len() as u64;
    let upload = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let r = c
        .put(p.url("/echo"))
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["body_bytes"], SIZE);

    let r = c
        .get(p.url(&format!("/bytes/{SIZE}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut received = 0u64;
    let mut stream = r.bytes_stream();
    while let Some(chunk) = stream.next().await {
        received += chunk.unwrap().len() as u64;
    }
    assert_eq!(received, SIZE);

    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 32 * 1024 * 1024,
        "peak memory grew by {} MB while moving 200 MB",
        grown / (1024 * 1024)
    );
    let line = p.access_lines_when(1).await.pop().unwrap();
    assert_eq!(line["bytes_sent"], SIZE);
}
