//! The scanner through the real Lambda path: `cargo lambda watch` + `cargo lambda invoke`
//! with the fixtures in `events/`, the emulator for GameLift Streams and LocalStack for
//! CloudWatch, SNS and SQS. Then read back what landed.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_gameliftstreams::types::StreamGroupStatus;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use watchdog_tests::lambda::{LambdaWatch, LocalAws, local_env};
use watchdog_tests::stage::unique;
use watchdog_tests::{TestEmulator, findings_of, quick_config};

const SCANNER: &str = "gls-watchdog-scanner";

const FLEET: &str = include_str!("../fleets/scanner-lambda.toml");

fn scanner_env(
    emu: &TestEmulator,
    aws: &LocalAws,
    namespace: &str,
    topic: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env = local_env(&emu.url, &aws.url);
    env.extend([
        ("METRIC_NAMESPACE", namespace.to_owned()),
        ("METRIC_DETAIL", "location".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "info".to_owned()),
    ]);
    if let Some(topic) = topic {
        env.push(("FINDINGS_TOPIC_ARN", topic.to_owned()));
    }
    env
}

fn kinds_of(report: &Value, group: &str) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["stream_group_id"] == group)
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn metric_value(aws: &LocalAws, namespace: &str, name: &str, dims: &[(&str, &str)]) -> Option<f64> {
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(dims.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build()).collect()))
        .build();
    let query = MetricDataQuery::builder()
        .id("q")
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
        .build();
    let now = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp());
    let start = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp() - 3600);
    let out = aws
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(start)
        .end_time(now)
        .send()
        .await
        .unwrap();
    out.metric_data_results().first().and_then(|r| r.values().first().copied())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_scan_publishes_metrics_and_alerts_once_and_raises_new_findings_as_time_passes() {
    // GIVEN the fleet on an emulator with a frozen clock and the documented rate limits
    let mut config = quick_config();
    config.frozen_clock = true;
    config.rate_limit_scale = 1.0;
    let emu = TestEmulator::start(config, Some(FLEET)).await;
    let aws = LocalAws::connect().await;
    let namespace = unique("WatchdogTest");
    let (topic, queue) = aws.topic_with_queue(&unique("findings")).await;
    let watch = LambdaWatch::start("scanner-e2e", &scanner_env(&emu, &aws, &namespace, Some(&topic)));

    // WHEN the scheduled event arrives
    let report = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan succeeds");

    // THEN the report covers every group and raises the expected findings
    assert_eq!(report["trigger"], "schedule");
    assert_eq!(report["complete"], true, "{:#}", report["unread"]);
    assert_eq!(report["counts"]["stream_groups"], 5);
    assert_eq!(kinds_of(&report, "sg-ALMOST028"), set(&[]));
    assert_eq!(kinds_of(&report, "sg-IDLE00001"), set(&["idle_capacity", "stale_session"]));
    assert_eq!(
        kinds_of(&report, "sg-OLD000200"),
        set(&["association_cutoff_passed", "rotation_due", "active_with_errors"])
    );
    assert_eq!(kinds_of(&report, "sg-EXPIRED01"), set(&["expired"]));
    assert_eq!(kinds_of(&report, "sg-BROKEN001"), set(&["group_error"]));
    let sent = report["alerts"]["sent"].as_u64().unwrap();
    // Every finding is alerted, the expired group's too: it answers only Get and Delete (seed
    // 000), so its alert memory is an ExpiredGroupAlerted datum in CloudWatch, not a tag.
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(sent, findings.len() as u64);
    assert_eq!(report["metrics"]["published"], true);
    assert_eq!(report["metrics"]["put_metric_data_calls"], 1, "{} datums fit one call", report["metrics"]["datums"]);

    // The alerts arrived, with attributes subscribers can filter on and JSON for programs.
    let delivered = aws.drain(&queue, Duration::from_secs(2)).await;
    assert_eq!(delivered.len() as u64, sent);
    let stale = delivered.iter().find(|d| d.attribute("kind") == Some("stale_session")).expect("stale_session alert");
    assert_eq!(stale.attribute("severity"), Some("warning"));
    assert_eq!(stale.attribute("stream_group"), Some("sg-IDLE00001"));
    assert_eq!(stale.payload["finding"]["location"], "us-west-2");
    assert!(stale.subject.as_deref().unwrap().contains("stale_session"));

    // The metrics landed: capacity per location and lifecycle per group.
    let idle =
        metric_value(&aws, &namespace, "IdleCapacity", &[("StreamGroupId", "sg-IDLE00001"), ("Location", "us-west-2")])
            .await;
    assert_eq!(idle, Some(34.0), "36 always-on, 2 sessions hold capacity");
    let age = metric_value(&aws, &namespace, "AgeDays", &[("StreamGroupId", "sg-OLD000200")]).await.unwrap();
    assert!((age - 200.0).abs() < 0.01, "{age}");
    let listed = aws.cloudwatch.list_metrics().namespace(&namespace).metric_name("DaysToExpiry").send().await.unwrap();
    assert_eq!(listed.metrics().len(), 5, "one per group: {listed:?}");

    // The alert memory lives on the groups as tags.
    let gamelift = emu.client("us-west-2").await;
    let tags = gamelift
        .list_tags_for_resource()
        .resource_arn("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-BROKEN001")
        .send()
        .await
        .unwrap();
    assert!(tags.tags().unwrap().get("watchdog:alert:group_error").is_some_and(|v| v.starts_with("critical|")));

    // WHEN it runs again THEN nothing is sent twice
    let again = watch.invoke_file(SCANNER, "scanner-scheduler-input.json").await.expect("second scan");
    assert_eq!(again["alerts"]["sent"], 0);
    assert_eq!(again["alerts"]["suppressed"].as_u64().unwrap(), sent);
    assert!(aws.drain(&queue, Duration::from_secs(2)).await.is_empty());

    // WHEN the clock passes day 28 of the first group THEN exactly that finding is new
    emu.advance_days(0.2).await;
    let later = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("third scan");
    assert_eq!(kinds_of(&later, "sg-ALMOST028"), set(&["rotation_due"]));
    assert_eq!(later["alerts"]["sent"], 1, "{:#}", later["findings"]);
    let delivered = aws.drain(&queue, Duration::from_secs(2)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].attribute("kind"), Some("rotation_due"));
    assert_eq!(delivered[0].attribute("stream_group"), Some("sg-ALMOST028"));

    // A dry run computes the same and publishes nothing.
    let group = gamelift.get_stream_group().identifier("sg-ALMOST028").send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::Active));
    let dry = watch.invoke_file(SCANNER, "scanner-dry-run.json").await.expect("dry run");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["metrics"]["published"], false);
    assert!(dry["api_calls"].get("PutMetricData").is_none());
    assert!(dry["api_calls"].get("PublishBatch").is_none());
    assert!(dry["api_calls"].get("TagResource").is_none());
}

/// 30 groups aged 20.5 to 49.5 days, each with one player and no idle waste: their only
/// findings are lifecycle ones, which a group's summary is enough for.
fn bulk_fleet() -> String {
    let mut fleet = String::from("[[applications]]\nkey = \"racer\"\ndescription = \"Racer\"\n");
    for i in 0..30 {
        fleet.push_str(&format!(
            "\n[[stream_groups]]\nid = \"sg-BULK{i:05}\"\ndescription = \"bulk-{i}\"\nstream_class = \"gen5n_high\"\ncreated_days_ago = {}.5\napplications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 2\n  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n",
            20 + i
        ));
    }
    fleet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_with_unreadable_groups_then_a_clean_scan_sends_nothing_twice() {
    let mut config = quick_config();
    config.frozen_clock = true;
    let emu = TestEmulator::start(config, Some(&bulk_fleet())).await;
    emu.admin_ok(
        "/_emulator/faults",
        json!({ "operation": "GetStreamGroup", "error_rate": 0.5, "error": "InternalServerException" }),
    )
    .await;
    let aws = LocalAws::connect().await;
    let (topic, queue) = aws.topic_with_queue(&unique("resend")).await;
    let mut env = scanner_env(&emu, &aws, &unique("WatchdogResend"), Some(&topic));
    // Half of all GetStreamGroup calls fail; with one retry about a quarter of the groups go
    // unread, few enough for the scan to count as seeing (at least half read in full).
    env.push(("MAX_ATTEMPTS", "2".to_owned()));
    let watch = LambdaWatch::start("scanner-resend", &env);

    let partial = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan");
    assert_eq!(partial["complete"], false, "some groups went unread");
    assert_eq!(partial["alerts"]["sent"], 22, "every rotation_due, from the summaries too: {partial:#}");

    emu.http().delete(format!("{}/_emulator/faults", emu.url)).send().await.unwrap();
    emu.advance_seconds(300.0).await;
    let clean = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan");
    assert_eq!(clean["complete"], true);
    assert_eq!((clean["alerts"]["sent"].as_u64(), clean["alerts"]["suppressed"].as_u64()), (Some(0), Some(22)));
    let delivered = aws.drain(&queue, Duration::from_secs(2)).await;
    assert_eq!(delivered.len(), 22, "each finding reached subscribers once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_under_throttling_and_server_errors_says_exactly_what_it_could_not_read() {
    let fleet = bulk_fleet();
    let mut config = quick_config();
    config.frozen_clock = true;
    let emu = TestEmulator::start(config, Some(&fleet)).await;
    for (operation, error) in
        [("GetStreamGroup", "InternalServerException"), ("ListTagsForResource", "ThrottlingException")]
    {
        emu.admin_ok("/_emulator/faults", json!({ "operation": operation, "error_rate": 0.5, "error": error })).await;
    }
    let aws = LocalAws::connect().await;
    let namespace = unique("WatchdogFaults");
    let mut env = scanner_env(&emu, &aws, &namespace, None);
    env.push(("MAX_ATTEMPTS", "2".to_owned()));
    let watch = LambdaWatch::start("scanner-faults", &env);

    let report = watch.invoke(SCANNER, &json!({ "dry_run": true })).await.expect("scan succeeds despite faults");

    // Every group was listed; each one is either described in full or named as unread.
    assert_eq!(report["counts"]["stream_groups"], 30);
    let unread = report["unread"].as_array().unwrap();
    let unread_gets: BTreeSet<&str> = unread
        .iter()
        .filter(|u| u["operation"] == "GetStreamGroup")
        .map(|u| u["stream_group"].as_str().unwrap())
        .collect();
    let described = report["counts"]["described_groups"].as_u64().unwrap() as usize;
    assert_eq!(described + unread_gets.len(), 30, "{unread:#?}");
    assert!(!unread_gets.is_empty(), "with half of all attempts failing and 2 attempts, some groups go unread");
    assert!(unread.iter().all(|u| u["error"].as_str().unwrap().contains("Exception") && u["consequence"].is_string()));
    assert_eq!(report["complete"], false);
    // Unread groups still get their lifecycle findings, from the summary.
    let rotation: BTreeSet<&str> = findings_of(&report["findings"], "rotation_due")
        .iter()
        .map(|f| f["stream_group_id"].as_str().unwrap())
        .collect();
    assert_eq!(rotation.len(), 22, "groups aged 28.5 to 49.5 days");
    // The SDK retried server errors and throttles, and the report counts them.
    let calls = &report["api_calls"];
    assert!(calls["GetStreamGroup"]["server_errors"].as_u64().unwrap() > 0);
    assert!(calls["ListTagsForResource"]["throttled"].as_u64().unwrap() > 0);
    assert!(calls["GetStreamGroup"]["attempts"].as_u64().unwrap() > 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_or_configuration_fails_with_the_field_named() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let aws = LocalAws::connect().await;
    let watch = LambdaWatch::start("scanner-bad-event", &scanner_env(&emu, &aws, &unique("WatchdogBad"), None));
    let err = watch.invoke(SCANNER, &json!({ "stream_groups": ["not a group"] })).await.unwrap_err();
    assert!(err.contains("stream_groups[0]"), "{err}");
    let err = watch.invoke(SCANNER, &json!({ "regions": ["eu-central-1"] })).await.unwrap_err();
    assert!(err.contains("regions[0]: eu-central-1 is not a configured region"), "{err}");
    drop(watch);

    let mut env = scanner_env(&emu, &aws, &unique("WatchdogBad"), None);
    env.push(("API_SHARE", "2".to_owned()));
    let watch = LambdaWatch::start("scanner-bad-config", &env);
    let err = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.unwrap_err();
    assert!(err.contains("API_SHARE=\"2\" is invalid"), "{err}");
    assert_eq!(emu.calls("ListStreamGroups").await, 0, "a bad configuration stops the function before any scan");
}

/// A typo in REGIONS starts (AWS adds Regions, so no well-formed name is refused up front),
/// scans the Regions that answer, and fails the run naming the one without an endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_the_service_fails_the_scan_by_name_and_the_others_are_still_scanned() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let aws = LocalAws::connect().await;
    let mut env = scanner_env(&emu, &aws, &unique("WatchdogRegionTypo"), None);
    env.retain(|(k, _)| *k != "REGIONS");
    env.extend([("REGIONS", "us-west-2,us-west-3".to_owned()), ("MAX_ATTEMPTS", "1".to_owned())]);
    let watch = LambdaWatch::start("scanner-region-typo", &env);
    let err = watch.invoke_file(SCANNER, "scanner-scheduler-input.json").await.unwrap_err();
    // cargo lambda wraps the error in a box: compare without the wrapping.
    let flat: String = err.chars().filter(|c| !c.is_whitespace() && *c != '│').collect();
    assert!(flat.contains("ScanIncomplete") && flat.contains("couldnotlistthestreamgroupsofus-west-3"), "{err}");
    let logs = watch.output();
    assert!(logs.contains("us-west-3"), "the log names the region");
    assert!(emu.calls("ListStreamGroups").await >= 1, "us-west-2 was still scanned");
}
