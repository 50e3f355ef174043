//! The scanner benchmark (scripts/bench): generated fleets of 100 and 1,000 stream groups
//! (3 locations, 10 sessions each) on a release-built emulator with the documented rate
//! limits on and added latency; the release-built scanner run through cargo lambda; the
//! figures against what the rate limits allow, written as a Markdown table.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use watchdog_tests::bench::{fleet, rate_bound, scanner_peak_memory_mib, start_emulator};
use watchdog_tests::lambda::{LambdaWatch, LocalAws, local_env, workspace_root};

const HOLDING: [&str; 6] =
    ["ACTIVATING", "ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING", "TERMINATING"];

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_owned())
}

struct Row {
    groups: usize,
    wall_s: f64,
    bound_s: f64,
    busiest: String,
    calls: BTreeMap<String, (u64, u64)>,
    datums: u64,
    put_metric_data: u64,
    throttles: u64,
    peak_mib: Option<f64>,
}

async fn run(groups: usize, latency_ms: u64, share: f64, aws: &LocalAws) -> Row {
    let run_dir = workspace_root().join(".run");
    std::fs::create_dir_all(&run_dir).expect(".run");
    let fleet_file = run_dir.join(format!("bench-{groups}.toml"));
    std::fs::write(&fleet_file, fleet(groups)).expect("write fleet");
    let emulator = start_emulator(Some(fleet_file.to_str().expect("utf-8")), latency_ms).await;
    let http = reqwest::Client::new();
    let admin = |path: &str| emulator.admin(path);
    let topic = aws.sns.create_topic().name(format!("bench-{groups}")).send().await.expect("topic");
    let mut env = local_env(&emulator.url, &aws.url);
    env.extend([
        ("METRIC_NAMESPACE", format!("WatchdogBench/{groups}-{}", std::process::id())),
        ("METRIC_DETAIL", "group".to_owned()),
        ("API_SHARE", share.to_string()),
        ("FINDINGS_TOPIC_ARN", topic.topic_arn().expect("arn").to_owned()),
    ]);
    let watch = LambdaWatch::start_with(&format!("bench-{groups}"), &env, true);
    // Warm the function (build, start, first connections) on a run that reads one page only.
    let _ = watch.invoke("gls-watchdog-scanner", &json!({ "dry_run": true, "stream_groups": ["sg-warmup"] })).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await; // let the rate-limit buckets refill
    http.delete(admin("counters")).send().await.expect("reset counters");

    let report = watch.invoke_file("gls-watchdog-scanner", "scanner-scheduled-event.json").await.expect("scan");
    let peak_mib = scanner_peak_memory_mib();
    let counters: Value = http.get(admin("counters")).send().await.expect("counters").json().await.expect("json");
    let state: Value = http.get(admin("state")).send().await.expect("state").json().await.expect("json");

    // The least each operation needs for this fleet and this report.
    let fleet_groups = state["regions"]["us-west-2"]["stream_groups"].as_array().expect("groups");
    let mut per_status: BTreeMap<String, u64> = BTreeMap::new();
    for g in fleet_groups {
        for (status, n) in g["sessions"].as_object().expect("sessions") {
            *per_status.entry(status.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    let described =
        fleet_groups.iter().filter(|g| !matches!(g["status"].as_str(), Some("EXPIRED" | "DELETING"))).count();
    let findings = report["findings"].as_array().expect("findings");
    // Expired groups answer only Get and Delete: their findings need no tag calls.
    let expired: std::collections::BTreeSet<&str> =
        fleet_groups.iter().filter(|g| g["status"] == "EXPIRED").filter_map(|g| g["id"].as_str()).collect();
    let groups_with_findings: std::collections::BTreeSet<&str> =
        findings.iter().filter_map(|f| f["stream_group_id"].as_str()).filter(|id| !expired.contains(id)).collect();
    let stale: u64 = findings
        .iter()
        .filter(|f| f["kind"] == "stale_session")
        .map(|f| f["details"]["sessions"].as_array().map_or(0, |s| s.len() as u64))
        .sum();
    let alerts = report["alerts"]["sent"].as_u64().unwrap_or(0);
    let datums = report["metrics"]["datums"].as_u64().unwrap_or(0);
    let mut minimum: BTreeMap<String, u64> = BTreeMap::from([
        ("ListStreamGroups".into(), (groups as u64).div_ceil(100)),
        ("GetStreamGroup".into(), described as u64),
        (
            "ListStreamSessionsByAccount".into(),
            HOLDING.iter().map(|s| per_status.get(*s).copied().unwrap_or(0).div_ceil(100).max(1)).sum(),
        ),
        ("GetStreamSession".into(), stale),
        ("ListTagsForResource".into(), groups_with_findings.len() as u64),
        ("TagResource".into(), groups_with_findings.len() as u64),
    ]);
    minimum.retain(|_, v| *v > 0);
    let operations = counters["operations"].as_object().expect("operations");
    let mut calls = BTreeMap::new();
    for (op, min) in &minimum {
        calls.insert(op.clone(), (operations.get(op).and_then(|c| c["calls"].as_u64()).unwrap_or(0), *min));
    }
    for (op, c) in operations {
        calls.entry(op.clone()).or_insert((c["calls"].as_u64().unwrap_or(0), 0));
    }
    calls.insert(
        "PublishBatch (SNS)".into(),
        (report["api_calls"]["PublishBatch"]["attempts"].as_u64().unwrap_or(0), alerts.div_ceil(10)),
    );
    let throttles = operations.values().map(|c| c["throttled"].as_u64().unwrap_or(0)).sum();

    // Each operation has its own bucket of `limit x share` per second holding one second's
    // worth, so no scan can be faster than its busiest operation allows.
    let (busiest, bound_s) = minimum
        .iter()
        .filter_map(|(op, n)| Some((op.clone(), rate_bound(op, *n, share)?)))
        .fold((String::new(), 0.0), |best, (op, t)| if t > best.1 { (op, t) } else { best });
    Row {
        groups,
        wall_s: report["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        bound_s,
        busiest,
        calls,
        datums,
        put_metric_data: report["metrics"]["put_metric_data_calls"].as_u64().unwrap_or(0),
        throttles,
        peak_mib,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> =
        arg("--sizes", "100,1000").split(',').map(|s| s.trim().parse().expect("--sizes: numbers")).collect();
    let latency_ms: u64 = arg("--latency-ms", "20").parse().expect("--latency-ms: a number");
    let share: f64 = arg("--share", "0.5").parse().expect("--share: a number");
    let out = arg("--out", "benchmarks/scanner.md");
    let aws = LocalAws::connect().await;
    let mut rows = Vec::new();
    for groups in sizes {
        eprintln!("== {groups} stream groups");
        let row = run(groups, latency_ms, share, &aws).await;
        eprintln!(
            "   wall {:.1} s, bound {:.1} s, throttles {}, peak {:?} MiB",
            row.wall_s, row.bound_s, row.throttles, row.peak_mib
        );
        rows.push(row);
    }

    let mut md = String::new();
    writeln!(md, "# Scanner benchmark\n").unwrap();
    writeln!(md, "Reproduce with `./scripts/bench scanner` ({}). Machine: {} cores, {}. Emulator: release build, documented rate limits, {latency_ms} ms added to every call. Scanner: release build via `cargo lambda watch --release`, `API_SHARE={share}`, `METRIC_DETAIL=group`, alerts to an SNS topic on LocalStack. Each fleet: 3 locations and 10 sessions per group (2% expired, 1% in ERROR, 2% with a stale session, 10% with idle always-on capacity), first scan (every finding is new).\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())).map(|kib| format!("{:.0} GiB", kib.parse::<f64>().unwrap_or(0.0) / 1_048_576.0)).unwrap_or_default()
    ).unwrap();
    writeln!(md, "Earlier runs, and what changed between them: [scanner-history.md](scanner-history.md), kept by hand (every run rewrites this file).\n").unwrap();
    writeln!(md, "| stream groups | wall time | lower bound (busiest operation) | ratio (target <= 1.05) | PutMetricData calls / ceil(datums/1000) | throttles (target 0) | peak memory (target < 64 MB) |").unwrap();
    writeln!(md, "|---|---|---|---|---|---|---|").unwrap();
    for r in &rows {
        writeln!(
            md,
            "| {} | {:.1} s | {:.1} s ({}) | {:.2} | {} / {} ({} datums) | {} | {} |",
            r.groups,
            r.wall_s,
            r.bound_s,
            r.busiest,
            if r.bound_s > 0.0 { r.wall_s / r.bound_s } else { 0.0 },
            r.put_metric_data,
            r.datums.div_ceil(1000),
            r.datums,
            r.throttles,
            r.peak_mib.map_or("not measured".to_owned(), |m| format!("{m:.1} MiB")),
        )
        .unwrap();
    }
    writeln!(md, "\nAPI calls by operation (made / minimum needed; 0 = no minimum, not needed by this fleet):\n")
        .unwrap();
    let ops: std::collections::BTreeSet<&String> = rows.iter().flat_map(|r| r.calls.keys()).collect();
    writeln!(
        md,
        "| operation | {} |",
        rows.iter().map(|r| format!("{} groups", r.groups)).collect::<Vec<_>>().join(" | ")
    )
    .unwrap();
    writeln!(md, "|---|{}", "---|".repeat(rows.len())).unwrap();
    for op in ops {
        let cells: Vec<String> = rows
            .iter()
            .map(|r| r.calls.get(op).map_or("-".to_owned(), |(made, min)| format!("{made} / {min}")))
            .collect();
        writeln!(md, "| {op} | {} |", cells.join(" | ")).unwrap();
    }
    writeln!(md, "\nThe lower bound: every operation has its own token bucket of `limit x share` requests per second holding one second's worth, so a scan takes at least `(calls - burst) / rate` for its busiest operation. Minimums: ListStreamGroups `ceil(groups / 100)`; GetStreamGroup one per group that is not expired or deleting; ListStreamSessionsByAccount one page of 100 per holding status (at least one each); GetStreamSession one per stale-session candidate; ListTagsForResource and TagResource one per group with a finding that is not expired (first run: all new; an expired group answers only Get and Delete); PublishBatch `ceil(alerts / 10)`.").unwrap();
    let path = workspace_root().join(&out);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("benchmarks dir");
    std::fs::write(&path, md).expect("write table");
    eprintln!("wrote {}", path.display());
}
