//! The replayed incidents. Each step narrates what happens, runs the commands an operator
//! would type, and measures the clients' error rate before, during and after.

use std::path::Path;
use std::time::{Duration, Instant};

use switchyard_config::{Config, HealthConfig, StatusRange};
use switchyard_lab::load::LoadGen;
use switchyard_lab::shop::{Fault, Lab};
use switchyard_triage::analysis::{triage, Findings, TriageOptions};
use switchyard_triage::input::InputOptions;

use super::serve::Switchyard;
use super::summary::Step;
use super::Narrator;

/// What every step works with.
pub struct Ctx<'a> {
    pub say: &'a Narrator,
    pub lab: &'a Lab,
    pub sy: &'a Switchyard,
    pub load: &'a LoadGen,
    pub logs: &'a Path,
    pub v1: &'a str,
    pub dir: &'a Path,
}

/// How long each measured phase lasts.
const PHASE: Duration = Duration::from_secs(4);

impl Ctx<'_> {
    pub(super) fn rate_since(&self, from: Instant) -> f64 {
        self.load
            .error_rate_between(from, Instant::now())
            .unwrap_or(0.0)
    }

    /// Prints the clients' error rate over the last second, `n` times, a second apart.
    pub(super) async fn watch(&self, n: usize) {
        for _ in 0..n {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = Instant::now();
            let rate = self
                .load
                .error_rate_between(now - Duration::from_secs(1), now)
                .unwrap_or(0.0);
            self.say
                .say(&format!("  clients: {:5.1}% errors", rate * 100.0));
        }
    }

    /// Seconds until the clients' error rate over one second crosses `threshold` (upwards when
    /// `rising`), polled four times a second for at most `max`.
    async fn until(&self, threshold: f64, rising: bool, max: Duration) -> Option<f64> {
        let start = Instant::now();
        while start.elapsed() < max {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let Some(rate) = self
                .load
                .error_rate_between(now - Duration::from_secs(1), now)
            else {
                continue;
            };
            if (rising && rate > threshold) || (!rising && rate <= threshold) {
                return Some(start.elapsed().as_secs_f64());
            }
        }
        None
    }

    /// Runs triage over the lab's logs and Switchyard's history as an operator would (shown as
    /// text), and returns the same findings, computed here by the triage library.
    fn triage(&self, from: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Findings> {
        self.lab.flush_logs();
        let logs = self.logs.display().to_string();
        let from = from.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let args = [
            "triage",
            logs.as_str(),
            "--bucket",
            "2s",
            "--from",
            from.as_str(),
        ];
        self.sy.cli(self.say, "oncall", &args)?;
        let paths = [self.logs.to_path_buf()];
        let stored = crate::cmd::triage::stored_changes(&self.sy.state)?;
        let changes = crate::cmd::triage::with_change_files(stored, &[], &paths)?;
        let options = TriageOptions {
            bucket: Duration::from_secs(2),
            from: Some(crate::cmd::logs::parse_time(&from)?),
            to: None,
            input: InputOptions {
                roots: paths.to_vec(),
                ..InputOptions::default()
            },
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        Ok(triage(&paths, &changes, &options, &|_| {})?.0)
    }
}

/// `server inventory-4` from the findings' first concentration.
fn top_concentration(f: &Findings) -> Option<String> {
    let c = f.concentration.first()?;
    Some(format!("{} {}", c.dimension.as_str(), c.key))
}

/// The best-ranked change, if it ranks high enough to act on.
fn top_suspect(f: &Findings) -> Option<(String, Option<u64>)> {
    let s = f.suspect_changes.first()?;
    (s.score >= 0.5).then(|| (s.summary.clone(), s.version))
}

/// The health check of the step that shows it keeping the bad server out: 200 expected.
fn expect_200() -> HealthConfig {
    HealthConfig {
        path: "/health".into(),
        interval: Duration::from_millis(500),
        timeout: Duration::from_millis(400),
        expect_status: vec![StatusRange {
            low: 200,
            high: 200,
        }],
        expect_header: Default::default(),
        expect_body: None,
        rise: 2,
        fall: 2,
    }
}

pub async fn bad_deploy(cx: &mut Ctx<'_>) -> anyhow::Result<Vec<Step>> {
    let say = cx.say;
    say.step("Incident 1: a bad pool member");
    say.say("Steady traffic first:");
    let t0 = Instant::now();
    let wall0 = chrono::Utc::now() - chrono::Duration::seconds(8);
    cx.watch(PHASE.as_secs() as usize).await;
    let before = cx.rate_since(t0);
    let bad = cx.lab.addr("inventory-4").expect("the lab has inventory-4");
    say.say(&format!(
        "A deploy adds inventory-4 ({bad}) to the inventory pool. It is not an inventory service: it answers 404."
    ));
    let v2 = Config::parse(cx.v1, "v1")?.with_server_added("inventory", "inventory-4", bad, 1)?;
    let v2_path = cx.dir.join("deploy-2.3.5.toml");
    std::fs::write(&v2_path, v2.to_toml())?;
    let v2_s = v2_path.display().to_string();
    let bad_before = cx.lab.requests("inventory-4").unwrap_or(0);
    let t_change = Instant::now();
    cx.sy.cli(
        say,
        "deploy-bot",
        &[
            "apply",
            "--config",
            &v2_s,
            "-m",
            "deploy 2.3.5: more inventory capacity",
        ],
    )?;
    let threshold = (before * 2.0).max(before + 0.03);
    let detected = cx.until(threshold, true, Duration::from_secs(10)).await;
    cx.watch(PHASE.as_secs() as usize).await;
    let during = cx.rate_since(t_change + Duration::from_secs(1));
    say.say(&format!("About {:.0}% of client requests now fail. Triage over every service's logs and Switchyard's history:", during * 100.0));
    let findings = cx.triage(wall0)?;
    let suspect = top_suspect(&findings);
    let to = suspect
        .as_ref()
        .and_then(|s| s.1)
        .map_or(1, |v| v.saturating_sub(1).max(1));
    say.say(&format!("As the report suggests, roll back to v{to}:"));
    let t_fix = Instant::now();
    cx.sy.cli(
        say,
        "oncall",
        &[
            "rollback",
            "--to",
            &to.to_string(),
            "-m",
            "triage: inventory-4 answers 404",
        ],
    )?;
    let recovered = cx.until(threshold, false, Duration::from_secs(10)).await;
    cx.watch(PHASE.as_secs() as usize).await;
    let after = cx.rate_since(t_fix + Duration::from_secs(1));
    let first = Step {
        name: "bad-deploy".into(),
        error_rate_before: before,
        error_rate_during: during,
        error_rate_after: after,
        detected_in_s: detected,
        recovered_in_s: recovered,
        bad_server_requests: Some(cx.lab.requests("inventory-4").unwrap_or(0) - bad_before),
        triage_top_concentration: top_concentration(&findings),
        triage_top_suspect: suspect.map(|s| s.0),
        refused: None,
    };

    say.step("The same change, with a health check that expects 200");
    let mut checked = v2;
    if let Some(pool) = checked.pools.get_mut("inventory") {
        pool.health = Some(expect_200());
    }
    let checked_path = cx.dir.join("deploy-2.3.5-checked.toml");
    std::fs::write(&checked_path, checked.to_toml())?;
    let checked_s = checked_path.display().to_string();
    let bad_before = cx.lab.requests("inventory-4").unwrap_or(0);
    let t1 = Instant::now();
    cx.sy.cli(
        say,
        "deploy-bot",
        &[
            "apply",
            "--config",
            &checked_s,
            "-m",
            "deploy 2.3.5 again, health-checked",
        ],
    )?;
    cx.watch(3).await;
    cx.sy
        .cli(say, "oncall", &["servers", "list", "--pool", "inventory"])?;
    let during_checked = cx.rate_since(t1);
    let second = Step {
        name: "bad-deploy-health-checked".into(),
        error_rate_before: after,
        error_rate_during: during_checked,
        error_rate_after: during_checked,
        detected_in_s: None,
        recovered_in_s: None,
        bad_server_requests: Some(cx.lab.requests("inventory-4").unwrap_or(0) - bad_before),
        triage_top_concentration: None,
        triage_top_suspect: None,
        refused: None,
    };
    say.say("inventory-4 never passed its checks, so it never got a request. Back to v1:");
    cx.sy.cli(
        say,
        "oncall",
        &[
            "rollback",
            "--to",
            "1",
            "-m",
            "inventory-4 is not an inventory service",
        ],
    )?;
    Ok(vec![first, second])
}

pub async fn connection_leak(cx: &mut Ctx<'_>) -> anyhow::Result<Step> {
    let say = cx.say;
    say.step("Incident 2: a leaking front end");
    let t0 = Instant::now();
    let wall0 = chrono::Utc::now() - chrono::Duration::seconds(1);
    cx.watch(PHASE.as_secs() as usize).await;
    let before = cx.rate_since(t0);
    say.say("frontend-02 starts leaking database connections (taken, never returned):");
    let served_before = cx.lab.requests("frontend-02").unwrap_or(0);
    let t_fault = Instant::now();
    cx.lab.fault("frontend-02", Fault::leak()).await?;
    let threshold = (before * 2.0).max(before + 0.03);
    let detected = cx.until(threshold, true, Duration::from_secs(40)).await;
    cx.watch(PHASE.as_secs() as usize).await;
    let during = cx.rate_since(t_fault + Duration::from_secs_f64(detected.unwrap_or(0.0)));
    say.say("Triage:");
    let findings = cx.triage(wall0)?;
    let t_fix = Instant::now();
    cx.sy.cli(
        say,
        "oncall",
        &[
            "servers",
            "remove",
            "frontend-02",
            "--pool",
            "frontend",
            "-m",
            "database connection pool exhausted",
            "--drain-timeout",
            "5s",
        ],
    )?;
    let recovered = cx.until(threshold, false, Duration::from_secs(10)).await;
    cx.watch(PHASE.as_secs() as usize).await;
    let after = cx.rate_since(t_fix + Duration::from_secs(1));
    cx.sy
        .cli(say, "oncall", &["servers", "list", "--pool", "frontend"])?;
    Ok(Step {
        name: "connection-leak".into(),
        error_rate_before: before,
        error_rate_during: during,
        error_rate_after: after,
        detected_in_s: detected,
        recovered_in_s: recovered,
        bad_server_requests: Some(cx.lab.requests("frontend-02").unwrap_or(0) - served_before),
        triage_top_concentration: top_concentration(&findings),
        triage_top_suspect: top_suspect(&findings).map(|s| s.0),
        refused: None,
    })
}

/// The bad deploy once more, with the guard on: it rolls the change back by itself.
pub async fn guarded_change(cx: &mut Ctx<'_>) -> anyhow::Result<Step> {
    let say = cx.say;
    say.step("Incident 1 again, with the guard watching every change");
    let guard = "\n[guard]\nbake = \"15s\"\nmax_error_rate = 0.05\nmax_increase = 0.02\nmin_requests = 100\nauto_rollback = true\n";
    // From the running config, so that earlier steps' changes (a removed front end) stay.
    let current = cx.sy.current_config()?;
    let guarded = format!("{current}{guard}");
    let guarded_path = cx.dir.join("guarded.toml");
    std::fs::write(&guarded_path, &guarded)?;
    let guarded_s = guarded_path.display().to_string();
    cx.sy.cli(
        say,
        "oncall",
        &[
            "apply",
            "--config",
            &guarded_s,
            "-m",
            "turn on the change guard",
        ],
    )?;
    let t0 = Instant::now();
    cx.watch(3).await;
    let before = cx.rate_since(t0);
    let bad = cx.lab.addr("inventory-4").expect("the lab has inventory-4");
    let bad_deploy = format!(
        "{current}\n[[pools.inventory.servers]]\nname = \"inventory-4\"\naddress = \"{bad}\"\n{guard}"
    );
    let bad_path = cx.dir.join("deploy-2.3.5-guarded.toml");
    std::fs::write(&bad_path, &bad_deploy)?;
    let bad_s = bad_path.display().to_string();
    let bad_before = cx.lab.requests("inventory-4").unwrap_or(0);
    say.say("The same bad deploy; `--watch` follows the bake:");
    let t_change = Instant::now();
    let (kept, _) = cx.sy.cli_status(
        say,
        "deploy-bot",
        &[
            "apply",
            "--config",
            &bad_s,
            "-m",
            "deploy 2.3.5: more inventory capacity",
            "--watch",
        ],
    )?;
    let rolled_back_in = t_change.elapsed().as_secs_f64();
    let during = cx
        .load
        .error_rate_between(t_change, Instant::now())
        .unwrap_or(0.0);
    let t_after = Instant::now();
    cx.watch(3).await;
    let after = cx.rate_since(t_after);
    cx.sy.cli(say, "oncall", &["history", "--limit", "3"])?;
    Ok(Step {
        name: "bad-deploy-guarded".into(),
        error_rate_before: before,
        error_rate_during: during,
        error_rate_after: after,
        detected_in_s: None,
        recovered_in_s: (!kept).then_some(rolled_back_in),
        bad_server_requests: Some(cx.lab.requests("inventory-4").unwrap_or(0) - bad_before),
        triage_top_concentration: None,
        triage_top_suspect: None,
        refused: None,
    })
}
