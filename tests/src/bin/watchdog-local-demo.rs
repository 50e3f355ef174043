//! The README's main job: runs the scanner the way Lambda would (cargo lambda watch +
//! invoke) against a running emulator and LocalStack, then prints what it found, what it
//! published, and what subscribers received. scripts/demo starts the emulator and LocalStack.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use watchdog_tests::lambda::{LambdaWatch, LocalAws};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(emulator) = arg("--emulator") else {
        eprintln!("usage: watchdog-local-demo --emulator http://127.0.0.1:4599 [--regions us-west-2,eu-central-1]");
        std::process::exit(2);
    };
    let regions = arg("--regions").unwrap_or_else(|| "us-west-2,eu-central-1".into());
    let aws = LocalAws::connect().await;
    let run = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let namespace = format!("GameLiftStreams/Watchdog/demo-{run}");
    let (topic, queue) = aws.topic_with_queue(&format!("watchdog-findings-{run}")).await;
    let (digest_topic, digest_queue) = aws.topic_with_queue(&format!("watchdog-digest-{run}")).await;
    let env = vec![
        ("AWS_REGION", "us-west-2".to_owned()),
        ("REGIONS", regions),
        ("AWS_ACCESS_KEY_ID", "demo".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "demo".to_owned()),
        ("AWS_ENDPOINT_URL_GAMELIFTSTREAMS", emulator.clone()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", aws.url.clone()),
        ("AWS_ENDPOINT_URL_SNS", aws.url.clone()),
        ("WATCHDOG_CLOCK_URL", format!("{emulator}/_emulator/clock")),
        ("METRIC_NAMESPACE", namespace.clone()),
        ("METRIC_DETAIL", "location".to_owned()),
        ("FINDINGS_TOPIC_ARN", topic.clone()),
        ("DIGEST_TOPIC_ARN", digest_topic.clone()),
        // As the template deploys it: a digest for people, a message per finding for programs.
        ("ALERT_DELIVERY", "both".to_owned()),
    ];
    // The emulator's clock stands still while cargo lambda builds the scanner, so the first scan
    // sees the fleet as loaded (the expired group expired moments before), and the second scan
    // comes one schedule period (five minutes) later, as the next scheduled one would.
    set_clock(&emulator, serde_json::json!({ "advance_seconds": 0, "frozen": true })).await;
    println!("Starting the scanner with cargo lambda watch (the first build takes a few minutes)...");
    let watch = LambdaWatch::start("demo", &env);
    let report = match watch.invoke_file("gls-watchdog-scanner", "scanner-scheduled-event.json").await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("The scan failed:\n{error}");
            std::process::exit(1);
        }
    };
    print_report(&report);

    let delivered = aws.drain(&queue, Duration::from_secs(2)).await;
    println!(
        "\nSNS: {} alert(s) published to {topic}; {} arrived at the subscribed SQS queue.",
        report["alerts"]["sent"],
        delivered.len()
    );
    if let Some(first) = delivered.first() {
        println!(
            "  e.g. subject {:?}, attributes kind={} severity={} stream_group={}",
            first.subject.as_deref().unwrap_or(""),
            first.attribute("kind").unwrap_or("?"),
            first.attribute("severity").unwrap_or("?"),
            first.attribute("stream_group").unwrap_or("?")
        );
    }
    // The digest as chat shows it (the SQS subscription gets the Chatbot custom notification).
    let digests = aws.drain(&digest_queue, Duration::from_secs(2)).await;
    println!("\nDigest: {} message(s) on {digest_topic}.", digests.len());
    for digest in &digests {
        println!("  {}", digest.payload["content"]["title"].as_str().unwrap_or(""));
        for line in digest.payload["content"]["description"].as_str().unwrap_or("").lines() {
            println!("  {line}");
        }
    }
    let metrics =
        aws.cloudwatch.list_metrics().namespace(&namespace).send().await.map(|o| o.metrics().len()).unwrap_or(0);
    println!(
        "CloudWatch: {} datums in {} PutMetricData call(s); ListMetrics shows {metrics} metrics (first page) in {namespace}.",
        report["metrics"]["datums"], report["metrics"]["put_metric_data_calls"]
    );

    set_clock(&emulator, serde_json::json!({ "advance_seconds": 300, "frozen": true })).await;
    println!(
        "\nFive minutes later (the emulator's clock moved on), the next scan: alerts already sent are not repeated."
    );
    match watch.invoke_file("gls-watchdog-scanner", "scanner-scheduler-input.json").await {
        Ok(again) => {
            println!(
                "  second run: {} sent, {} suppressed; digest: {}.",
                again["alerts"]["sent"],
                again["alerts"]["suppressed"],
                again["digest"]["title"].as_str().unwrap_or("none, nothing new")
            );
            // What was sent again is new: a finding the first run did not have (time moved on).
            let key = |f: &serde_json::Value| {
                format!("{} {} {}", f["stream_group_id"], f["kind"], f["location"].as_str().unwrap_or(""))
            };
            let before: Vec<String> = report["findings"].as_array().into_iter().flatten().map(key).collect();
            for finding in again["findings"].as_array().into_iter().flatten().filter(|f| !before.contains(&key(f))) {
                println!(
                    "  new since the first run: {} {}: {}",
                    finding["kind"], finding["stream_group_id"], finding["message"]
                );
            }
        }
        Err(error) => println!("  second run failed: {error}"),
    }
    // The clock runs again for whatever comes next (the CLI, or `--keep`).
    set_clock(&emulator, serde_json::json!({ "advance_seconds": 0, "frozen": false })).await;
}

/// Moves or stops the emulator's clock (its admin API); the demo cannot go on without it.
async fn set_clock(emulator: &str, change: Value) {
    let response = reqwest::Client::new().post(format!("{emulator}/_emulator/clock")).json(&change).send().await;
    match response {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => panic!("the emulator refused the clock change {change}: {}", r.status()),
        Err(e) => panic!("the emulator is unreachable: {e}"),
    }
}

fn print_report(report: &Value) {
    let counts = &report["counts"];
    println!(
        "\nScanned {} stream group(s) in {} at {} ({} ms).",
        counts["stream_groups"],
        report["regions"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        report["now"].as_str().unwrap_or(""),
        report["duration_ms"]
    );
    println!("  groups by status: {}", inline(&counts["groups_by_status"]));
    println!("  sessions holding or waiting for capacity: {}", inline(&counts["sessions_by_status"]));
    println!("  idle capacity-hours this period: {:.2}", report["idle"]["idle_capacity_hours"].as_f64().unwrap_or(0.0));
    println!("  session listing: {}", inline(&report["session_listing"]));
    println!(
        "  API calls: {}",
        report["api_calls"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| format!("{k}={}", v["attempts"])).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    );
    if report["complete"] == true {
        println!("  everything was read.");
    } else {
        println!("  could not read:");
        for unread in report["unread"].as_array().into_iter().flatten() {
            println!(
                "    {} {} {}: {} ({})",
                unread["region"], unread["operation"], unread["stream_group"], unread["error"], unread["consequence"]
            );
        }
    }

    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    println!("\nFindings ({}):", findings.len());
    let order = ["critical", "high", "warning", "info"];
    let mut sorted = findings.clone();
    sorted.sort_by_key(|f| order.iter().position(|s| f["severity"] == *s).unwrap_or(9));
    for f in &sorted {
        let location = f["location"].as_str().map(|l| format!(" [{l}]")).unwrap_or_default();
        println!(
            "  {:<8} {:<26} {}{location}",
            f["severity"].as_str().unwrap_or(""),
            f["kind"].as_str().unwrap_or(""),
            f["message"].as_str().unwrap_or("")
        );
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *by_kind.entry(f["kind"].as_str().unwrap_or("")).or_default() += 1;
    }
    println!("  by kind: {}", by_kind.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "));
}

fn inline(value: &Value) -> String {
    value
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
