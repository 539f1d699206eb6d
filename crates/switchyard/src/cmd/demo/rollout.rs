//! The deploy pipeline replayed: a rollout of three new inventory servers whose third answers
//! 500 to one request in five (it passes `/health`, a shallow check), which stops at the third
//! and takes all three out again; then a decommission of two front ends, and the refusal of a
//! third below the pool's `min_servers`.

use std::time::Instant;

use switchyard_lab::shop::{Fault, SPARE_INVENTORY};

use super::steps::Ctx;
use super::summary::Step;

/// How long each rollout step bakes.
const BAKE: &str = "5s";

pub async fn rollout(cx: &mut Ctx<'_>) -> anyhow::Result<Vec<Step>> {
    let say = cx.say;
    say.step("A rollout: three new inventory servers, one step at a time");
    let [_, _, flaky] = SPARE_INVENTORY;
    say.say(&format!(
        "{flaky} answers 500 to one request in five, but 200 on /health: a shallow check lets it through."
    ));
    cx.lab.fault(flaky, Fault::FailEvery(5)).await?;
    let t0 = Instant::now();
    cx.watch(3).await;
    let before = cx.rate_since(t0);
    let mut args: Vec<String> = ["rollout", "--pool", "inventory"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for name in SPARE_INVENTORY {
        let addr = cx.lab.addr(name).expect("the lab has its spare servers");
        args.extend(["--add".into(), format!("{name}={addr}")]);
    }
    args.extend(
        [
            "--step",
            "1",
            "--bake",
            BAKE,
            "--check",
            "/health",
            "-m",
            "deploy 2.4.0: three more inventory servers",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let flaky_before = cx.lab.requests(flaky).unwrap_or(0);
    let started = Instant::now();
    let (succeeded, _) = cx.sy.cli_status(say, "deploy-bot", &args)?;
    let took = started.elapsed().as_secs_f64();
    let during = cx
        .load
        .error_rate_between(started, Instant::now())
        .unwrap_or(0.0);
    let flaky_requests = cx.lab.requests(flaky).unwrap_or(0) - flaky_before;
    say.say(&format!(
        "The rollout {} after {took:.1}s. Clients saw {:.2}% errors while it ran; {flaky} received {flaky_requests} requests before it was taken out.",
        if succeeded { "succeeded (it should not have)" } else { "stopped at the third server and took all three out" },
        during * 100.0
    ));
    let t_after = Instant::now();
    cx.watch(3).await;
    let after = cx.rate_since(t_after);
    cx.sy
        .cli(say, "oncall", &["servers", "list", "--pool", "inventory"])?;
    cx.lab.fault(flaky, Fault::Recover).await?;
    let first = Step {
        name: "rollout".into(),
        error_rate_before: before,
        error_rate_during: during,
        error_rate_after: after,
        detected_in_s: None,
        recovered_in_s: (!succeeded).then_some(took),
        bad_server_requests: Some(flaky_requests),
        triage_top_concentration: None,
        triage_top_suspect: None,
        refused: None,
    };
    Ok(vec![first, decommission(cx).await?])
}

/// Two front ends go; a third would leave the pool below `min_servers` and is refused.
async fn decommission(cx: &mut Ctx<'_>) -> anyhow::Result<Step> {
    let say = cx.say;
    say.step("Decommission: two front ends go, a third may not");
    let current = cx.sy.current_config()?;
    let config = switchyard_config::Config::parse(&current, "running config")?;
    let active = config.pools["frontend"]
        .servers
        .iter()
        .filter(|s| s.state == switchyard_config::ServerState::Active)
        .count();
    let min = active.saturating_sub(2).max(1);
    let with_min = current.replacen(
        "[pools.frontend]\n",
        &format!("[pools.frontend]\nmin_servers = {min}\n"),
        1,
    );
    let path = cx.dir.join("frontend-min-servers.toml");
    std::fs::write(&path, with_min)?;
    let path = path.display().to_string();
    let message = format!("the front ends keep at least {min} servers");
    cx.sy
        .cli(say, "oncall", &["apply", "--config", &path, "-m", &message])?;
    let t0 = Instant::now();
    let decommission = |count: &'static str, message: &'static str| {
        let args = [
            "decommission",
            "--pool",
            "frontend",
            "--count",
            count,
            "-m",
            message,
            "--drain-timeout",
            "5s",
        ];
        cx.sy.cli_status(say, "oncall", &args)
    };
    let (done, _) = decommission("2", "traffic is down after the sale")?;
    anyhow::ensure!(done, "the decommission of two front ends failed");
    let (went_through, _) = decommission("1", "one more")?;
    let during = cx.rate_since(t0);
    if went_through {
        say.say("The third decommission went through, which it should not have.");
    }
    let t_after = Instant::now();
    cx.watch(3).await;
    let after = cx.rate_since(t_after);
    cx.sy
        .cli(say, "oncall", &["servers", "list", "--pool", "frontend"])?;
    Ok(Step {
        name: "decommission".into(),
        error_rate_before: during,
        error_rate_during: during,
        error_rate_after: after,
        detected_in_s: None,
        recovered_in_s: None,
        bad_server_requests: None,
        triage_top_concentration: None,
        triage_top_suspect: None,
        refused: Some(!went_through),
    })
}
