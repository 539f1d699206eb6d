use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::*;

fn options(scenario: Scenario) -> LogGenOptions {
    LogGenOptions {
        scenario,
        duration: Duration::from_secs(16 * 60),
        onset_after: Duration::from_secs(6 * 60),
        requests_per_second: 10,
        seed: 42,
        ..LogGenOptions::default()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Access-log lines as JSON values.
fn access(dir: &Path) -> Vec<serde_json::Value> {
    read(&dir.join("lb/access.log"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("access log lines are JSON"))
        .collect()
}

fn ts(v: &serde_json::Value) -> DateTime<Utc> {
    v["ts"].as_str().unwrap().parse().unwrap()
}

/// `(timestamp, record text)` of each record of a plain log, continuation lines included.
fn records(path: &Path) -> Vec<(DateTime<Utc>, String)> {
    let mut out: Vec<(DateTime<Utc>, String)> = Vec::new();
    for line in read(path).lines() {
        if let Some(rest) = line.strip_prefix("  ") {
            let last = out
                .last_mut()
                .expect("a continuation line follows a record");
            last.1.push('\n');
            last.1.push_str(rest);
        } else {
            let t = NaiveDateTime::parse_from_str(&line[..19], "%Y-%m-%d %H:%M:%S")
                .unwrap_or_else(|e| panic!("{line:?}: {e}"))
                .and_utc();
            out.push((t, line[20..].to_string()));
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let mut o = options(Scenario::Mixed);
    o.duration = Duration::from_secs(8 * 60);
    let ga = generate(a.path(), &o).unwrap();
    let gb = generate(b.path(), &o).unwrap();
    assert_eq!(ga.bytes, gb.bytes);
    assert_eq!(ga.files.len(), 14, "{:?}", ga.files);
    for (fa, fb) in ga.files.iter().zip(&gb.files) {
        assert_eq!(
            fa.strip_prefix(a.path()).unwrap(),
            fb.strip_prefix(b.path()).unwrap()
        );
        assert!(
            std::fs::read(fa).unwrap() == std::fs::read(fb).unwrap(),
            "{} differs",
            fa.display()
        );
    }
    let on_disk: u64 = ga
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(on_disk, ga.bytes);
    o.seed += 1;
    let gc = generate(c.path(), &o).unwrap();
    assert_ne!(
        read(&ga.dir.join("lb/access.log")),
        read(&gc.dir.join("lb/access.log"))
    );
}

#[test]
fn every_file_is_in_time_order_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(dir.path(), &options(Scenario::Mixed)).unwrap();
    for file in &g.files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let times: Vec<DateTime<Utc>> = match name {
            "app.log" => records(file).into_iter().map(|(t, _)| t).collect(),
            "access.log" => access(&g.dir).iter().map(ts).collect(),
            _ => read(file)
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["ts"].as_str().unwrap().parse().unwrap()
                })
                .collect(),
        };
        assert!(!times.is_empty(), "{} is empty", file.display());
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{} is out of order",
            file.display()
        );
    }
    let app = read(&g.dir.join("frontend-01/app.log"));
    for level in ["INFO", "WARN", "ERROR", "DEBUG"] {
        assert!(app.contains(&format!(" {level}: ")), "no {level} line");
    }
}

#[test]
fn bad_pool_member_onset_server_and_change_match_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(Scenario::BadPoolMember);
    let g = generate(dir.path(), &o).unwrap();
    assert_eq!(g.onset, o.start + Duration::from_secs(6 * 60));
    assert_eq!(g.bad_server.as_deref(), Some("inventory-4"));
    assert_eq!(g.bad_host, None);

    let lines = access(&g.dir);
    let to_bad: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["server"] == "inventory-4")
        .collect();
    let first = ts(to_bad[0]);
    assert!(
        first >= g.onset && first < g.onset + Duration::from_secs(2),
        "first call to inventory-4 at {first}"
    );
    for v in &to_bad {
        assert_eq!(
            (
                v["pool"].as_str(),
                v["status"].as_u64(),
                v["upstream_status"].as_u64()
            ),
            (Some("inventory"), Some(404), Some(404))
        );
    }
    let inventory_after = lines
        .iter()
        .filter(|v| v["pool"] == "inventory" && ts(v) >= g.onset)
        .count();
    let share = to_bad.len() as f64 / inventory_after as f64;
    assert!(
        (0.24..=0.26).contains(&share),
        "inventory-4 got {share:.3} of inventory calls"
    );

    // The front ends' errors name the server, and start at the onset.
    let mut detailed = 0;
    for n in 1..=4 {
        for (t, text) in records(&g.dir.join(format!("frontend-0{n}/app.log"))) {
            if text.contains("Server: inventory-4") {
                assert!(t >= g.onset.with_nanosecond0());
                assert!(
                    text.starts_with("ERROR: inventory returned an invalid response"),
                    "{text}"
                );
                for field in [
                    "Service: ",
                    "Request: ",
                    "Expected: ",
                    "Received: 404",
                    "Reason: ",
                ] {
                    assert!(text.contains(field), "{field} missing in {text}");
                }
                detailed += 1;
            }
        }
    }
    assert_eq!(detailed, to_bad.len());

    // The change that added it, 1 to 3 minutes before the onset, and nothing else near it.
    let changes: Vec<serde_json::Value> = read(&g.change_file)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let added: Vec<_> = changes
        .iter()
        .filter(|c| c["summary"] == BAD_MEMBER_CHANGE)
        .collect();
    assert_eq!(added.len(), 1);
    assert_eq!(
        (added[0]["kind"].as_str(), added[0]["target"].as_str()),
        (Some("config"), Some("pool inventory"))
    );
    let before = g.onset - ts(added[0]);
    assert!(
        before >= chrono::Duration::seconds(60) && before <= chrono::Duration::seconds(180),
        "{before}"
    );
    for c in &changes {
        if c["summary"] != BAD_MEMBER_CHANGE {
            assert!(g.onset - ts(c) >= chrono::Duration::hours(1), "{c}");
        }
    }
}

trait Floor {
    fn with_nanosecond0(self) -> Self;
}

impl Floor for DateTime<Utc> {
    fn with_nanosecond0(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap()
    }
}

/// Share of client requests (the `web` listener) answered 5xx in `[from, to)`.
fn client_error_rate(
    lines: &[serde_json::Value],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (f64, usize) {
    let window: Vec<_> = lines
        .iter()
        .filter(|v| v["listener"] == "web" && ts(v) >= from && ts(v) < to)
        .collect();
    let failed = window
        .iter()
        .filter(|v| v["status"].as_u64().unwrap() >= 500)
        .count();
    (failed as f64 / window.len() as f64, window.len())
}

#[test]
fn error_rate_is_baseline_before_and_about_a_fifth_during_the_bad_member_incident() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(Scenario::BadPoolMember);
    let g = generate(dir.path(), &o).unwrap();
    let lines = access(&g.dir);
    let end = o.start + o.duration;
    let (before, n_before) = client_error_rate(&lines, o.start, g.onset);
    let (during, n_during) = client_error_rate(&lines, g.onset + Duration::from_secs(10), end);
    assert!(n_before > 3000 && n_during > 5000, "{n_before} {n_during}");
    assert!(
        before > 0.0 && before <= 0.006,
        "baseline error rate {before:.4}"
    );
    assert!(
        (0.17..=0.24).contains(&during),
        "incident error rate {during:.4}"
    );
}

#[test]
fn leak_is_confined_to_frontend_02_and_creeps_up_to_a_full_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(Scenario::LeakingFrontend);
    o.duration = Duration::from_secs(18 * 60);
    let g = generate(dir.path(), &o).unwrap();
    assert_eq!(g.bad_host.as_deref(), Some("frontend-02"));
    assert_eq!(g.bad_server, None);
    assert!(!g.dir.join("inventory-4").exists());

    let timeouts: Vec<(DateTime<Utc>, String)> = records(&g.dir.join("frontend-02/app.log"))
        .into_iter()
        .filter(|(_, text)| text.starts_with("ERROR: database connection timeout"))
        .collect();
    let (first, _) = &timeouts[0];
    assert!(
        *first >= g.onset.with_nanosecond0() && *first < g.onset + Duration::from_secs(10),
        "{first}"
    );
    for (_, text) in &timeouts {
        for detail in [
            "\nServer: frontend-02\n",
            "\nQuery: ",
            "/100 connections in use",
        ] {
            assert!(text.contains(detail), "{detail:?} missing in {text}");
        }
    }
    assert!(
        timeouts[0]
            .1
            .contains("Connection pool: 95/100 connections in use"),
        "{}",
        timeouts[0].1
    );
    assert!(timeouts
        .last()
        .unwrap()
        .1
        .contains("Connection pool: 100/100 connections in use"));

    for n in [1, 3, 4] {
        let text = read(&g.dir.join(format!("frontend-0{n}/app.log")));
        assert!(!text.contains("database connection timeout"));
    }
    let lines = access(&g.dir);
    let web_5xx_after: Vec<_> = lines
        .iter()
        .filter(|v| {
            v["listener"] == "web" && v["status"].as_u64().unwrap() >= 500 && ts(v) >= g.onset
        })
        .collect();
    let on_02 = web_5xx_after
        .iter()
        .filter(|v| v["server"] == "frontend-02")
        .count();
    assert!(
        on_02 as f64 / web_5xx_after.len() as f64 > 0.95,
        "{on_02} of {}",
        web_5xx_after.len()
    );

    let changes = read(&g.change_file);
    assert!(!changes.contains("inventory-4") && !changes.contains("frontend"));
}

#[test]
fn request_ids_are_shared_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(dir.path(), &options(Scenario::BadPoolMember)).unwrap();
    let lines = access(&g.dir);
    let access_ids: HashSet<&str> = lines
        .iter()
        .map(|v| v["request_id"].as_str().unwrap())
        .collect();
    let mut front_ids = HashSet::new();
    for n in 1..=4 {
        for line in read(&g.dir.join(format!("frontend-0{n}/app.log"))).lines() {
            if let Some((_, id)) = line.split_once("request_id=") {
                front_ids.insert(id[..32].to_string());
            }
        }
    }
    let mut checked = 0;
    for backend in ["inventory-2", "inventory-4", "auth-1", "billing-2"] {
        for line in read(&g.dir.join(backend).join("app.log")).lines() {
            if let Some((_, id)) = line.split_once("request_id=") {
                assert_eq!(id.len(), 32);
                assert!(
                    access_ids.contains(id),
                    "{id} from {backend} is not in the access log"
                );
                assert!(
                    front_ids.contains(id),
                    "{id} from {backend} is in no front end's log"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    // One request, many hops: an id in the web listener's log also appears on the internal one.
    let web: HashSet<&str> = lines
        .iter()
        .filter(|v| v["listener"] == "web")
        .map(|v| v["request_id"].as_str().unwrap())
        .collect();
    assert!(lines
        .iter()
        .filter(|v| v["listener"] == "internal")
        .all(|v| web.contains(v["request_id"].as_str().unwrap())));
}

#[test]
fn vague_errors_use_the_seed_wording() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(Scenario::BadPoolMember);
    o.vague_errors = true;
    o.duration = Duration::from_secs(8 * 60);
    let g = generate(dir.path(), &o).unwrap();
    let text = read(&g.dir.join("frontend-03/app.log"));
    assert!(text.contains(" ERROR: invalid response from server\n"));
    assert!(!text.contains("returned an invalid response"));
}

#[test]
fn target_bytes_extends_the_run_until_the_size_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(Scenario::Mixed);
    o.duration = Duration::from_secs(60);
    o.onset_after = Duration::from_secs(30);
    o.requests_per_second = 50;
    o.target_bytes = Some(8_000_000);
    let g = generate(dir.path(), &o).unwrap();
    assert!(g.bytes >= 8_000_000 && g.bytes < 8_500_000, "{}", g.bytes);
    o.requests_per_second = 0;
    assert_eq!(
        generate(dir.path(), &o).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn sizes_and_scenario_names_parse() {
    assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
    assert_eq!(parse_size("1.5 gb"), Ok(1_500_000_000));
    assert_eq!(parse_size("64KiB"), Ok(65_536));
    assert_eq!(parse_size("1000"), Ok(1000));
    assert!(parse_size("lots").is_err());
    assert!(parse_size("3 parsecs")
        .unwrap_err()
        .contains("unknown unit"));
    for s in [
        Scenario::BadPoolMember,
        Scenario::LeakingFrontend,
        Scenario::Mixed,
    ] {
        assert_eq!(s.name().parse::<Scenario>(), Ok(s));
    }
    assert!("outage"
        .parse::<Scenario>()
        .unwrap_err()
        .to_string()
        .contains("bad-deploy, connection-leak or mixed"));
}
