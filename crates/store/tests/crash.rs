//! A writer killed with SIGKILL at random moments leaves the history whole.
//!
//! The writer is this test binary run again as a child process, with [`WRITER_DIR`] set, running
//! only the ignored test [`crash_writer`]. The parent kills it a few times at random moments,
//! reopens the store after each kill, checks every version and event, and lets the next writer
//! carry on from the head it finds.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchyard_store::{digest, EventKind, NewEvent, NewVersion, SqliteStore, Store, VersionKind};

/// Set in the child: the store directory to write to.
const WRITER_DIR: &str = "SWITCHYARD_STORE_CRASH_WRITER_DIR";
/// Set to replay a run: the seed the failing run printed.
const SEED: &str = "SWITCHYARD_STORE_CRASH_SEED";
/// What the writer prints once the store is open.
const READY: &str = "switchyard-store crash writer ready";
const ROUNDS: usize = 5;
/// A writer nobody killed stops by itself after this long.
const WRITER_LIMIT: Duration = Duration::from_secs(60);

/// Version `n`'s config: tagged with its number, and from a few bytes to ~20 KB so that commits
/// span several pages and a kill can land in the middle of one.
fn config(n: u64) -> String {
    format!(
        "# version {n}\n{}",
        "x".repeat((n as usize * 7919) % 20_000)
    )
}

#[test]
#[ignore = "the child process of killed_writers_leave_the_history_whole; does nothing on its own"]
fn crash_writer() {
    let Some(dir) = std::env::var_os(WRITER_DIR) else {
        return;
    };
    let store = SqliteStore::open(Path::new(&dir)).unwrap();
    let mut head = store.head().unwrap().map(|v| v.version);
    let mut out = std::io::stdout();
    writeln!(out, "{READY}").unwrap();
    out.flush().unwrap();

    let started = Instant::now();
    while started.elapsed() < WRITER_LIMIT {
        let n = head.map_or(1, |h| h + 1);
        let new = NewVersion {
            author: "crash-writer".into(),
            kind: VersionKind::Apply,
            message: format!("version {n}"),
            config: config(n),
            details: json!({"pool": "inventory", "n": n}),
        };
        let v = store
            .commit(new, head)
            .expect("the only writer never conflicts");
        head = Some(v.version);
        if n.is_multiple_of(3) {
            store
                .record_event(NewEvent {
                    kind: EventKind::Health,
                    pool: Some("inventory".into()),
                    server: Some(format!("inventory-{n}")),
                    details: json!({"after_version": n}),
                })
                .unwrap();
        }
    }
}

/// Kills the writer if the test fails while it runs.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_writer(dir: &Path) -> Writer {
    let exe = std::env::current_exe().unwrap();
    let mut writer = Writer(
        Command::new(exe)
            .args(["crash::crash_writer", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads=1"])
            .env(WRITER_DIR, dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // libtest prints its own lines first (and "test crash_writer ... " without a newline).
    let stdout = writer.0.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(READY));
    assert!(
        ready,
        "the writer exited before opening the store: {:?}",
        writer.0.wait()
    );
    writer
}

/// Reopens the store and checks the history is whole; returns the head.
fn check_whole(dir: &Path, round: usize) -> u64 {
    let raw = rusqlite::Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap();
    let integrity: String = raw
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "round {round}");
    drop(raw);

    let store = SqliteStore::open(dir).unwrap();
    let n = store.head().unwrap().map_or(0, |v| v.version);
    let listed: Vec<u64> = store
        .versions(usize::MAX)
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(
        listed,
        (1..=n).rev().collect::<Vec<_>>(),
        "round {round}: gaps"
    );

    let events = store.events(None, usize::MAX).unwrap();
    let mut version_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Version)
        .collect();
    version_events.sort_by_key(|e| e.details["version"].as_u64());
    assert_eq!(
        version_events.len() as u64,
        n,
        "round {round}: one event per version"
    );

    for (k, event) in (1..=n).zip(version_events) {
        // `version` checks the config against its digest.
        let v = store.version(k).unwrap().unwrap();
        assert_eq!(
            v.parent,
            (k > 1).then(|| k - 1),
            "round {round}: parent of v{k}"
        );
        assert_eq!(
            v.config.as_deref(),
            Some(config(k).as_str()),
            "round {round}: v{k}"
        );
        assert_eq!(v.digest, digest(&config(k)));
        assert_eq!(event.details["version"], k, "round {round}: event of v{k}");
        assert_eq!(event.details["digest"], v.digest.as_str());
        assert_eq!(event.ts, v.created_at);
        assert_eq!(event.pool.as_deref(), Some("inventory"));
    }
    n
}

/// xorshift64: enough to spread the kills, and replayable from the printed seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn killed_writers_leave_the_history_whole() {
    let seed = std::env::var(SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("{SEED}={seed}");
    let mut rng = seed;
    let dir = tempfile::tempdir().unwrap();

    let mut head = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(20 + next(&mut rng) % 181);
        let mut writer = start_writer(dir.path());
        std::thread::sleep(delay);
        writer.0.kill().unwrap();
        let status = writer.0.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the writer died on its own: {status}"
        );

        let reopened = check_whole(dir.path(), round);
        eprintln!("round {round}: killed after {delay:?}, history whole at v{reopened}");
        assert!(
            reopened >= head,
            "round {round}: v{head} was lost, head is v{reopened}"
        );
        head = reopened;
    }
    assert!(head > 0, "no writer committed anything");
}
