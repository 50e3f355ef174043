//! The scanner's phases in-process, on the in-memory world: findings, alerts sent once and
//! remembered by key, metrics in batches of at most 1,000 while the scan reads, unread items,
//! dry run and publish failures. The same through cargo lambda, the emulator and LocalStack
//! is in tests/tests/scanner_lambda.rs.

use chrono::Duration;
use gls_watchdog_scanner::event::ScanRequest;
use gls_watchdog_scanner::{Config, OPERATIONS, Report, Scanner};
use watchdog_core::env_config::FromEnv;
use watchdog_core::ports::ErrorKind;
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::testkit::{self, World};
use watchdog_core::{LocationStatus, StreamGroupStatus, StreamSessionStatus};

const REGION: &str = "us-west-2";
const TOPIC: &str = "arn:aws:sns:us-west-2:111122223333:findings";

/// A world of `count` groups: every one 30 days old (rotation due), every tenth one with a
/// failed remote location, each with one player and no idle capacity.
fn world_with_fleet(count: usize) -> World {
    let world = World::new(now());
    for i in 0..count {
        let id = format!("sg-G{i:05}");
        let mut group =
            testkit::group(REGION, &id, "gen5n_high", now() - Duration::days(30), &[(REGION, 2), ("eu-west-1", 2)]);
        for location in &mut group.locations {
            location.capacity.idle = 0;
        }
        if i % 10 == 0 {
            group.status = StreamGroupStatus::ActiveWithErrors;
            group.locations[1].status = LocationStatus::Error;
        }
        world.add_group(group);
        world.add_session(testkit::session(REGION, &id, i, StreamSessionStatus::Connected, REGION, now(), now()));
    }
    world
}

fn scanner(world: &World, extra: &[(&str, &str)]) -> Scanner {
    let mut vars = vec![("AWS_REGION", REGION), ("FINDINGS_TOPIC_ARN", TOPIC), ("METRIC_DETAIL", "location")];
    vars.extend_from_slice(extra);
    let config = Config::from_pairs(&vars).expect("valid configuration");
    Scanner::new(config, world.allowing(OPERATIONS).ports(&[REGION]))
}

async fn scan(scanner: &Scanner) -> Report {
    scanner.scan(ScanRequest::default()).await.expect("the scan succeeds")
}

#[tokio::test]
async fn findings_are_alerted_once_and_remembered_on_their_groups() {
    let world = world_with_fleet(20);
    let scanner = scanner(&world, &[]);
    let report = scan(&scanner).await;
    assert!(report.complete, "{:?}", report.unread);
    assert_eq!(report.counts.stream_groups, 20);
    assert_eq!(report.findings.len(), 22, "20 rotation_due + 2 active_with_errors");
    assert_eq!(report.alerts.sent, 22);
    assert_eq!(world.calls_of("PublishBatch"), 3, "ten per call");
    let group = world.group("sg-G00000").unwrap();
    assert!(group.tags.contains_key("watchdog:alert:rotation_due"));
    assert!(group.tags.contains_key("watchdog:alert:active_with_errors"));

    let again = scan(&scanner).await;
    assert_eq!((again.alerts.sent, again.alerts.suppressed), (0, 22), "nothing is sent twice");
    assert_eq!(world.calls_of("PublishBatch"), 3);
}

#[tokio::test]
async fn metrics_go_out_in_batches_of_at_most_a_thousand() {
    let world = world_with_fleet(50);
    let report = scan(&scanner(&world, &[])).await;
    let datums = world.metrics().len();
    assert_eq!(report.metrics.datums, datums);
    assert!(datums > 2000, "{datums} datums at location detail");
    assert_eq!(world.put_metric_calls(), datums.div_ceil(1000), "as few calls as the API allows");
    assert!(report.metrics.published);
    let health: Vec<_> = world.metrics().into_iter().filter(|(_, d)| d.name == "RunDuration").collect();
    assert_eq!(health.len(), 1);
}

#[tokio::test]
async fn an_unreadable_group_is_scanned_from_its_summary_and_said_so() {
    let world = world_with_fleet(5);
    world.fail("GetStreamGroup", Some("sg-G00001"), ErrorKind::Other, None);
    world.fail("ListTagsForResource", Some("sg-G00002"), ErrorKind::Throttled, None);
    let report = scan(&scanner(&world, &[])).await;
    assert!(!report.complete);
    let unread: Vec<(&str, Option<&str>)> =
        report.unread.iter().map(|u| (u.operation, u.stream_group.as_deref())).collect();
    assert!(unread.contains(&("GetStreamGroup", Some("sg-G00001"))), "{unread:?}");
    assert!(unread.contains(&("ListTagsForResource", Some("sg-G00002"))), "{unread:?}");
    assert_eq!(report.counts.described_groups, 4);
    assert!(report.findings.iter().any(|f| f.stream_group_id == "sg-G00001"), "lifecycle findings from the summary");
    assert!(!world.group("sg-G00002").unwrap().tags.keys().any(|k| k.starts_with("watchdog:alert:")));
}

#[tokio::test]
async fn a_dry_run_publishes_and_writes_nothing() {
    let world = world_with_fleet(5);
    let report =
        scanner(&world, &[]).scan(ScanRequest { dry_run: Some(true), ..ScanRequest::default() }).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(report.alerts.not_sent, report.findings.len());
    assert_eq!(world.mutating_calls(), 0);
    assert!(world.published().is_empty() && world.metrics().is_empty());
}

#[tokio::test]
async fn a_request_cannot_turn_the_configured_dry_run_off() {
    let world = world_with_fleet(2);
    let scanner = scanner(&world, &[("DRY_RUN", "true")]);
    let report = scanner.scan(ScanRequest { dry_run: Some(false), ..ScanRequest::default() }).await.unwrap();
    assert!(report.dry_run);
    assert!(world.published().is_empty());
}

#[tokio::test]
async fn a_publish_failure_fails_the_scan_after_everything_else_ran() {
    let world = world_with_fleet(3);
    world.fail("PutMetricData", None, ErrorKind::Other, None);
    let error = scanner(&world, &[]).scan(ScanRequest::default()).await.unwrap_err();
    assert_eq!(error.error_type(), "PublishFailed");
    assert_eq!(world.calls_of("PublishBatch"), 1, "alerts still went out");
}

#[tokio::test]
async fn a_scan_that_sees_too_little_fails_so_the_alarms_see_it() {
    let world = world_with_fleet(4);
    world.fail("ListStreamGroups", None, ErrorKind::Other, None);
    let error = scanner(&world, &[]).scan(ScanRequest::default()).await.unwrap_err();
    assert_eq!(error.error_type(), "ScanIncomplete");
    assert!(error.to_string().contains("could not list the stream groups of us-west-2"), "{error}");

    let world = world_with_fleet(4);
    for id in ["sg-G00000", "sg-G00001", "sg-G00002"] {
        world.fail("GetStreamGroup", Some(id), ErrorKind::Throttled, None);
    }
    let error = scanner(&world, &[("DRY_RUN", "true")]).scan(ScanRequest::default()).await.unwrap_err();
    assert!(error.to_string().contains("read the details of only 1 of 4 stream groups"), "{error}");

    let world = world_with_fleet(4);
    world.fail("GetStreamGroup", Some("sg-G00000"), ErrorKind::Throttled, None);
    let report = scan(&scanner(&world, &[])).await;
    assert!(!report.complete, "one unread group of four: reported, not failed");
}

#[tokio::test]
async fn a_named_arn_of_another_region_never_names_a_group_here() {
    let world = world_with_fleet(2);
    let elsewhere = "arn:aws:gameliftstreams:eu-west-1:111122223333:streamgroup/sg-G00000".to_owned();
    let request = ScanRequest { stream_groups: Some(vec![elsewhere.clone()]), ..ScanRequest::default() };
    let report = scanner(&world, &[("DRY_RUN", "true")]).scan(request).await.unwrap();
    assert_eq!(report.counts.stream_groups, 0);
    assert_eq!(report.unread[0].stream_group.as_deref(), Some(elsewhere.as_str()));
}

#[tokio::test]
async fn an_unreadable_scan_forgets_no_alert_and_the_next_clean_scan_sends_nothing_again() {
    let world = world_with_fleet(2);
    // Idle capacity: a finding only a full read (locations and capacity) can make.
    world.add_group(testkit::group(REGION, "sg-IDLE00001", "gen5n_high", now() - Duration::days(30), &[(REGION, 8)]));
    let scanner = scanner(&world, &[]);
    let first = scan(&scanner).await;
    assert_eq!(first.alerts.sent, first.findings.len());
    assert!(first.findings.iter().any(|f| f.stream_group_id == "sg-IDLE00001" && f.kind.as_str() == "idle_capacity"));
    let memory = |world: &World| {
        world
            .group("sg-IDLE00001")
            .unwrap()
            .tags
            .keys()
            .filter(|k| k.starts_with("watchdog:alert:"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let remembered = memory(&world);

    world.fail("GetStreamGroup", Some("sg-IDLE00001"), ErrorKind::Other, None);
    let partial = scan(&scanner).await;
    assert!(!partial.complete);
    assert_eq!(memory(&world), remembered, "what the scan could not see is not forgotten");

    world.clear_faults();
    let clean = scan(&scanner).await;
    assert_eq!((clean.alerts.sent, clean.alerts.suppressed), (0, first.findings.len()), "nothing is sent again");
}

#[tokio::test]
async fn a_protected_groups_findings_are_reported_but_it_gets_no_tag_and_no_alert() {
    let world = world_with_fleet(2);
    let mut protected = world.group("sg-G00001").unwrap();
    protected.tags.insert(watchdog_core::opt_in::PROTECT_TAG.into(), "true".into());
    let world2 = World::new(now());
    world2.add_group(world.group("sg-G00000").unwrap());
    world2.add_group(protected);
    let scanner = scanner(&world2, &[]);
    for _ in 0..2 {
        let report = scan(&scanner).await;
        assert!(report.findings.iter().any(|f| f.stream_group_id == "sg-G00001"), "still a finding");
    }
    let writes: Vec<_> = world2
        .calls()
        .into_iter()
        .filter(|c| ["TagResource", "UntagResource"].contains(&c.operation.as_str()) && c.target.ends_with("sg-G00001"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let alerted: Vec<_> = world2
        .published()
        .into_iter()
        .filter(|(_, m)| m.attributes.get("stream_group").is_some_and(|g| g == "sg-G00001"))
        .collect();
    assert!(alerted.is_empty(), "{alerted:?}");
    assert!(
        world2.published().iter().any(|(_, m)| m.attributes.get("stream_group").is_some_and(|g| g == "sg-G00000")),
        "the unprotected group is alerted"
    );
}

#[tokio::test]
async fn a_group_whose_alert_memory_is_full_sends_no_storm_and_is_counted() {
    let world = world_with_fleet(1);
    // 49 tags of the studio's own: room for one alert's memory, not two.
    let mut group = world.group("sg-G00000").unwrap();
    group.tags = (0..49).map(|i| (format!("cost-{i:02}"), "x".to_owned())).collect();
    let world = World::new(now());
    world.add_group(group);
    let scanner = scanner(&world, &[]);
    let mut sent = 0;
    for run in 0..3 {
        world.set_now(now() + Duration::minutes(5 * run));
        let report = scan(&scanner).await;
        assert_eq!(report.findings.len(), 2, "rotation_due and active_with_errors");
        assert_eq!(report.alerts.memory_full, ["sg-G00000"]);
        sent += report.alerts.sent;
    }
    assert_eq!(sent, 1, "the one whose memory fits, once; the other held back, not re-sent every scan");
    assert_eq!(world.group("sg-G00000").unwrap().tags.len(), 50);
    let full: Vec<f64> =
        world.metrics().iter().filter(|(_, d)| d.name == "AlertMemoryFull").map(|(_, d)| d.value).collect();
    assert_eq!(full, [1.0, 1.0, 1.0]);
}

#[tokio::test]
async fn with_alert_memory_none_no_tag_is_touched_and_each_finding_alerts_once_a_day() {
    let world = world_with_fleet(1);
    let scanner = scanner(&world, &[("ALERT_MEMORY", "none")]);
    let mut alerting_scans = Vec::new();
    // A day of scans every five minutes, from noon.
    for step in 0..288 {
        let at = now() + Duration::minutes(5 * step) + Duration::seconds(20);
        world.set_now(at);
        let report = scan(&scanner).await;
        assert!(!report.findings.is_empty());
        if report.alerts.sent > 0 {
            assert_eq!(report.alerts.sent, report.findings.len(), "every finding of that scan");
            alerting_scans.push(at.format("%H:%M").to_string());
        }
    }
    assert_eq!(alerting_scans, ["00:00"], "one scan a day alerts: the first after midnight UTC");
    let tag_calls =
        ["ListTagsForResource", "TagResource", "UntagResource"].iter().map(|op| world.calls_of(op)).sum::<usize>();
    assert_eq!(tag_calls, 0);
}

/// At the default detail the scanner publishes what the alarms read and, for the trimmer's
/// demand history, the in-use capacity of the locations of groups that ask for the trimmer;
/// nothing per group otherwise.
#[tokio::test]
async fn the_default_detail_publishes_what_alarms_read_and_demand_only_for_trim_opted_in_groups() {
    let world = world_with_fleet(5);
    let tag = |id: &str, key: &str, value: &str| {
        let mut group = world.group(id).unwrap();
        group.tags.insert(key.into(), value.into());
        world.add_group(group);
    };
    tag("sg-G00001", "watchdog:trim", "true");
    tag("sg-G00002", "watchdog:trim", "true");
    tag("sg-G00002", "watchdog:protect", "true");
    tag("sg-G00003", "watchdog:trim", "false");
    tag("sg-G00004", "watchdog:trim", "true");
    tag("sg-G00004", "aws:cloudformation:stack-name", "games");
    let config = Config::from_pairs(&[("AWS_REGION", REGION), ("FINDINGS_TOPIC_ARN", TOPIC)]).unwrap();
    let scanner = Scanner::new(config, world.allowing(OPERATIONS).ports(&[REGION]));
    let report = scan(&scanner).await;
    assert!(report.complete, "{:?}", report.unread);

    let metrics = world.metrics();
    let mut names: Vec<String> = metrics
        .iter()
        .map(|(_, d)| {
            let dims: Vec<String> = d.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}", d.name, dims.join(","))
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "AlertMemoryFull ",
            "ApiErrors ",
            "Findings Kind=expired",
            "Findings Kind=expiry_soon",
            "IdleCapacity ",
            "InUseCapacity StreamGroupId=sg-G00001,Location=eu-west-1",
            "InUseCapacity StreamGroupId=sg-G00001,Location=us-west-2",
            "InUseCapacity StreamGroupId=sg-G00004,Location=eu-west-1",
            "InUseCapacity StreamGroupId=sg-G00004,Location=us-west-2",
            "RunDuration ",
            "StreamGroups Status=ACTIVE_WITH_ERRORS",
            "StreamGroups Status=ERROR",
            "Throttles ",
            "UnreadItems ",
        ],
        "demand for the opted-in groups that are not protected (a stack's group has what would be done reported)"
    );
    let errors = metrics.iter().find(|(_, d)| d.name == "StreamGroups" && d.dimensions[0].1 == "ACTIVE_WITH_ERRORS");
    assert_eq!(errors.unwrap().1.value, 1.0, "sg-G00000 has a failed location");
    let in_use = metrics.iter().find(|(_, d)| d.name == "InUseCapacity").unwrap();
    assert_eq!(in_use.1.value, 2.0, "2 allocated, none idle");
    assert_eq!(world.calls_of("ListTagsForResource"), 5, "one tag read per serving group, shared with alerts");

    // With demand for every location (a trimmer managing all groups) no tag is read for it.
    let world = world_with_fleet(3);
    let vars = [("AWS_REGION", REGION), ("DEMAND_METRICS", "all"), ("ALERT_MEMORY", "none")];
    let scanner = Scanner::new(Config::from_pairs(&vars).unwrap(), world.allowing(OPERATIONS).ports(&[REGION]));
    scan(&scanner).await;
    assert_eq!(world.metrics().iter().filter(|(_, d)| d.name == "InUseCapacity").count(), 6);
    assert_eq!(world.calls_of("ListTagsForResource"), 0);
}

const DIGEST_TOPIC: &str = "arn:aws:sns:us-west-2:111122223333:digest";

fn digest_scanner(world: &World, delivery: &str) -> Scanner {
    scanner(world, &[("DIGEST_TOPIC_ARN", DIGEST_TOPIC), ("ALERT_DELIVERY", delivery)])
}

/// The digests published so far: (subject, chat description, e-mail text).
fn digests(world: &World) -> Vec<(String, String, String)> {
    world
        .published()
        .into_iter()
        .filter(|(topic, _)| topic == DIGEST_TOPIC)
        .map(|(_, message)| {
            let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
            let chat: serde_json::Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
            let description = chat["content"]["description"].as_str().unwrap().to_owned();
            (message.subject, description, body["email"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn one_digest_names_every_new_finding_and_an_unchanged_scan_sends_none() {
    let world = world_with_fleet(12);
    let scanner = digest_scanner(&world, "both");
    let first = scan(&scanner).await;
    assert_eq!(first.findings.len(), 14, "12 rotation_due + 2 active_with_errors");
    assert_eq!(first.alerts.sent, 14, "per-finding messages for machines too");
    let sent = digests(&world);
    assert_eq!(sent.len(), 1, "one digest for the whole scan");
    let (subject, chat, email) = &sent[0];
    assert_eq!(subject, "[GameLift Streams watchdog] 14 new");
    for finding in &first.findings {
        let line = format!("{} ({})\n    - {} [new]", finding.stream_group_id, finding.region, finding.kind);
        let named = email.contains(&line) || email.contains(&format!("[new]: {}", finding.message));
        assert!(named, "{} {} missing from\n{email}", finding.stream_group_id, finding.kind);
    }
    assert!(chat.find("*High* (2)").unwrap() < chat.find("*Warning* (12)").unwrap(), "{chat}");
    let summary = first.digest.as_ref().unwrap();
    assert!(summary.sent);
    assert_eq!((summary.new, summary.still_open), (14, 0));

    let again = scan(&scanner).await;
    assert_eq!(digests(&world).len(), 1, "nothing new, no digest");
    let summary = again.digest.unwrap();
    assert!(!summary.sent && summary.title.is_none());
    assert_eq!(summary.still_open, 14);
}

#[tokio::test]
async fn an_escalation_and_a_resolution_each_send_one_digest_naming_them() {
    let world = world_with_fleet(1);
    // 7.5 days before expiry: 12 hours later expiry_soon rises from warning to high.
    let created = now() - Duration::days(365) + Duration::hours(180);
    world.add_group(testkit::group(REGION, "sg-AGING0001", "gen5n_high", created, &[(REGION, 2)]));
    let scanner = digest_scanner(&world, "digest");
    let first = scan(&scanner).await;
    assert!(first.findings.iter().any(|f| f.kind.as_str() == "expiry_soon" && f.severity.as_str() == "warning"));
    assert_eq!(world.calls_of("PublishBatch"), 0, "digest only: no per-finding messages");
    assert_eq!(digests(&world).len(), 1);

    let later = now() + Duration::hours(12);
    world.set_now(later);
    let escalated = scan(&scanner).await;
    assert_eq!(escalated.digest.as_ref().map(|d| (d.escalated, d.new)), Some((1, 0)), "{:?}", escalated.digest);
    let (subject, chat, _) = digests(&world).pop().unwrap();
    assert_eq!(subject, "[GameLift Streams watchdog] 1 escalated");
    assert!(chat.contains("`sg-AGING0001`") && chat.contains("expiry_soon _escalated from warning_"), "{chat}");

    // The failed location is repaired: its finding is announced resolved, once.
    let mut repaired = world.group("sg-G00000").unwrap();
    repaired.status = StreamGroupStatus::Active;
    repaired.locations[1].status = LocationStatus::Active;
    world.add_group(repaired);
    world.set_now(later + Duration::minutes(5));
    scan(&scanner).await;
    let (subject, chat, email) = digests(&world).pop().unwrap();
    assert_eq!(subject, "[GameLift Streams watchdog] 1 resolved");
    assert!(chat.contains("`sg-G00000` (us-west-2): active_with_errors no longer seen (was high)"), "{chat}");
    assert!(email.contains("RESOLVED (no longer seen)\n  sg-G00000 (us-west-2): active_with_errors"), "{email}");
    world.set_now(later + Duration::minutes(10));
    scan(&scanner).await;
    assert_eq!(digests(&world).len(), 3, "announced once");
}

#[tokio::test]
async fn a_refused_digest_loses_nothing_it_is_sent_again_next_scan() {
    let world = world_with_fleet(3);
    let scanner = digest_scanner(&world, "both");
    world.fail("Publish", None, ErrorKind::Other, Some(1));
    let error = scanner.scan(ScanRequest::default()).await.unwrap_err();
    assert_eq!(error.error_type(), "PublishFailed");
    assert!(error.to_string().contains("SNS refused the digest (4 new)"), "{error}");
    assert!(
        !world.groups().iter().any(|g| g.tags.keys().any(|k| k.starts_with("watchdog:alert:"))),
        "no memory without the digest"
    );
    let retry = scan(&scanner).await;
    assert!(retry.digest.unwrap().sent);
    assert_eq!(digests(&world).len(), 1);
    assert_eq!(retry.alerts.sent, 4, "per-finding messages go again too: a machine may see one twice, nobody none");
    let third = scan(&scanner).await;
    assert_eq!((third.alerts.sent, digests(&world).len()), (0, 1));
}

#[tokio::test]
async fn a_dry_run_builds_the_digest_but_sends_and_writes_nothing() {
    let world = world_with_fleet(3);
    let report = digest_scanner(&world, "digest")
        .scan(ScanRequest { dry_run: Some(true), ..ScanRequest::default() })
        .await
        .unwrap();
    let summary = report.digest.unwrap();
    assert_eq!((summary.sent, summary.new), (false, 4));
    assert_eq!(summary.title.as_deref(), Some("[GameLift Streams watchdog] 4 new"));
    assert_eq!(world.mutating_calls(), 0);
    assert!(world.published().is_empty());
}

/// The demand decision needs the group's tags; when they cannot be read the group's demand is
/// not published that run (the trimmer then has less history and lowers nothing), and the
/// scan says what it could not read.
#[tokio::test]
async fn an_unreadable_opt_in_tag_publishes_no_demand_for_that_group_and_says_so() {
    let world = world_with_fleet(3);
    for id in ["sg-G00001", "sg-G00002"] {
        let mut group = world.group(id).unwrap();
        group.tags.insert("watchdog:trim".into(), "true".into());
        world.add_group(group);
    }
    world.fail("ListTagsForResource", Some("sg-G00002"), ErrorKind::Throttled, None);
    let config = Config::from_pairs(&[("AWS_REGION", REGION), ("FINDINGS_TOPIC_ARN", TOPIC)]).unwrap();
    let scanner = Scanner::new(config, world.allowing(OPERATIONS).ports(&[REGION]));
    let report = scan(&scanner).await;

    let demand: Vec<String> = world
        .metrics()
        .iter()
        .filter(|(_, d)| d.name == "InUseCapacity")
        .map(|(_, d)| d.dimensions[0].1.clone())
        .collect();
    assert_eq!(demand, ["sg-G00001", "sg-G00001"], "both locations of the readable opted-in group only");
    let unread: Vec<_> = report.unread.iter().filter(|u| u.operation == "ListTagsForResource").collect();
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].stream_group.as_deref(), Some("sg-G00002"));
    assert!(unread[0].consequence.contains("demand not published"), "{}", unread[0].consequence);
    assert!(!report.complete);
    let unread_items = world.metrics().iter().find(|(_, d)| d.name == "UnreadItems").map(|(_, d)| d.value);
    assert_eq!(unread_items, Some(1.0), "counted in the scanner's health");
}

#[tokio::test]
async fn a_group_whose_only_finding_cleared_is_announced_resolved() {
    let world = World::new(now());
    let mut broken = testkit::group(REGION, "sg-BROKEN001", "gen5n_high", now() - Duration::days(3), &[(REGION, 2)]);
    broken.status = StreamGroupStatus::Error;
    // Its capacity is in use once it serves again: idle always-on would be a finding of its own.
    broken.locations[0].capacity.idle = 0;
    world.add_group(broken);
    let scanner = digest_scanner(&world, "digest");
    let first = scan(&scanner).await;
    assert_eq!(first.findings.len(), 1, "group_error only");
    let mut repaired = world.group("sg-BROKEN001").unwrap();
    repaired.status = StreamGroupStatus::Active;
    world.add_group(repaired);
    world.set_now(now() + Duration::minutes(5));
    let after = scan(&scanner).await;
    assert!(after.findings.is_empty());
    let (subject, chat, _) = digests(&world).pop().unwrap();
    assert_eq!(subject, "[GameLift Streams watchdog] 1 resolved");
    assert!(chat.contains("`sg-BROKEN001` (us-west-2): group_error no longer seen (was critical)"), "{chat}");
}

/// An EXPIRED group has no tag memory (only Get and Delete work on it), yet it is named by id
/// on the findings topic and in the digest when first seen, and again once a re-send interval
/// has passed since (its memory is an ExpiredGroupAlerted datum read back from CloudWatch),
/// never in between, however often the scanner runs.
#[tokio::test]
async fn an_expired_group_is_named_when_first_seen_and_once_per_resend_interval() {
    let world = World::new(now());
    let expires_at = now() + Duration::minutes(2);
    let mut group = testkit::group(REGION, "sg-EXPIRING", "gen5n_high", now() - Duration::days(365), &[(REGION, 2)]);
    group.expires_at = Some(expires_at);
    world.add_group(group);
    let scanner = digest_scanner(&world, "both");
    let expiry_messages = |world: &World| {
        let published = world.published().into_iter();
        published.filter(|(topic, m)| topic == TOPIC && m.attributes["kind"] == "expired").collect::<Vec<_>>()
    };
    let tag_calls = |world: &World| {
        ["ListTagsForResource", "TagResource", "UntagResource"].iter().map(|op| world.calls_of(op)).sum::<usize>()
    };
    let mut tag_calls_at_expiry = None;
    let mut named = Vec::new();
    // Scans every five minutes for a day and a half; the group expires two minutes in.
    for step in 0..432 {
        let at = now() + Duration::minutes(5 * step) + Duration::seconds(20);
        world.set_now(at);
        if at >= expires_at {
            world.set_group_status("sg-EXPIRING", StreamGroupStatus::Expired);
            tag_calls_at_expiry.get_or_insert(tag_calls(&world));
        }
        let before = expiry_messages(&world).len();
        scan(&scanner).await;
        if expiry_messages(&world).len() > before {
            named.push((at - expires_at).num_minutes());
            // A second scan at the same moment (a manual run) does not name it again.
            let named_so_far = expiry_messages(&world).len();
            scan(&scanner).await;
            assert_eq!(expiry_messages(&world).len(), named_so_far, "repeated at {at}");
        }
    }
    // Scans at hh:m5:20; the first alert is remembered at 12:05:20, so the next scan more than
    // 24 hours later (12:10:20 the next day) names it again.
    assert_eq!(named, [3, 24 * 60 + 8], "first seen, then once a re-send interval has passed");
    assert!(expiry_messages(&world).iter().all(|(_, m)| m.attributes["stream_group"] == "sg-EXPIRING"));
    let named_in_digest = digests(&world).into_iter().filter(|(_, _, email)| email.contains("- expired [")).count();
    assert_eq!(named_in_digest, 2, "the digest names it as often as the findings topic does");
    assert!(world.metrics().iter().any(|(_, d)| d.name == "ExpiredGroupAlerted"), "its memory is in CloudWatch");
    assert_eq!(Some(tag_calls(&world)), tag_calls_at_expiry, "nothing is asked of an expired group's tags");
}

/// docs/scanner.md's metrics table names every metric a scan publishes at the richest detail
/// (with a price table, so the cost metric too), and nothing else: a metric added to the code
/// without its row, or a row left for a metric that is gone, fails here.
#[tokio::test]
async fn the_documented_metrics_table_and_what_a_scan_publishes_agree() {
    let world = world_with_fleet(3);
    let mut expired = testkit::group(REGION, "sg-EXPIRED", "gen5n_high", now() - Duration::days(366), &[(REGION, 2)]);
    expired.status = StreamGroupStatus::Expired;
    world.add_group(expired);
    let prices = r#"{"gen5n_high": 1.0}"#;
    scan(&scanner(&world, &[("PRICE_TABLE", prices), ("ALERT_MEMORY", "none")])).await;
    let published: std::collections::BTreeSet<&str> = world.metrics().iter().map(|(_, d)| d.name).collect();
    assert!(published.len() > 15, "{published:?}");
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scanner.md")).unwrap();
    let table = docs.split("## Metrics").nth(1).expect("a Metrics section");
    let missing: Vec<&&str> = published.iter().filter(|name| !table.contains(&format!("`{name}`"))).collect();
    assert!(missing.is_empty(), "metrics without a row in docs/scanner.md: {missing:?}");
    // And the other way: every metric name the table's rows give (CamelCase in backticks, not a
    // dimension value such as `ACTIVE` or a code path) is one a scan publishes.
    let rows = table.lines().skip_while(|l| !l.starts_with("| detail |")).take_while(|l| l.starts_with('|'));
    let named: std::collections::BTreeSet<&str> = rows
        .flat_map(|row| row.split('`').skip(1).step_by(2))
        .filter(|word| {
            word.starts_with(|c: char| c.is_ascii_uppercase())
                && word.chars().any(|c| c.is_ascii_lowercase())
                && word.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .collect();
    assert!(named.len() > 15, "{named:?}");
    let gone: Vec<&&str> = named.difference(&published).collect();
    assert!(gone.is_empty(), "rows in docs/scanner.md for metrics no scan publishes: {gone:?}");
}

/// The expired groups' alert memory (CloudWatch) is read for all of a region's expired groups
/// in one GetMetricData call, not one per group, and each is still alerted once.
#[tokio::test]
async fn the_expired_groups_alert_memory_is_read_in_one_call() {
    let world = world_with_fleet(2);
    for i in 0..3 {
        let id = format!("sg-EXPIRED{i}");
        let mut expired = testkit::group(REGION, &id, "gen5n_high", now() - Duration::days(366), &[(REGION, 2)]);
        expired.status = StreamGroupStatus::Expired;
        world.add_group(expired);
    }
    let scanner = scanner(&world, &[]);
    let report = scan(&scanner).await;
    assert_eq!(world.calls_of("GetMetricData"), 1, "{:?}", report.unread);
    let expired_alerts = world.published().iter().filter(|(_, m)| m.attributes["kind"] == "expired").count();
    assert_eq!(expired_alerts, 3, "each expired group named once");
    scan(&scanner).await;
    assert_eq!(world.calls_of("GetMetricData"), 2, "one more scan, one more call");
    let again = world.published().iter().filter(|(_, m)| m.attributes["kind"] == "expired").count();
    assert_eq!(again, 3, "remembered: not named again");
}

/// A group's tags are read as soon as its details are in when they are needed whatever its
/// findings (its demand metric, by default): while the sessions are still being listed, every
/// serving group's tags are already read, so the tag reads keep pace with GetStreamGroup
/// instead of trailing the scan. (Issue 23: the last groups' tag reads trailed the last
/// GetStreamGroup by about 13 s at 1,000 groups.)
#[tokio::test]
async fn tags_are_read_while_the_sessions_are_still_being_listed() {
    use watchdog_core::ports::Operation;
    let world = world_with_fleet(10);
    world.hold(Operation::ListStreamSessionsByAccount);
    let scanner = scanner(&world, &[("METRIC_DETAIL", "group")]);
    let scanning = scan(&scanner);
    tokio::pin!(scanning);
    let read_early = async {
        while world.calls_of("ListTagsForResource") < 10 {
            tokio::task::yield_now().await;
        }
    };
    // Generous: on success the reads are done in milliseconds; the bound only ends a regression
    // (tag reads waiting for the held sessions) instead of hanging.
    let bound = std::time::Duration::from_secs(20);
    tokio::select! {
        report = &mut scanning => panic!("the scan ended while its sessions were held: {:?}", report.unread),
        _ = read_early => {}
        _ = tokio::time::sleep(bound) => panic!("no tags read while the sessions were held: {} of 10", world.calls_of("ListTagsForResource")),
    }
    assert_eq!(world.calls_of("GetStreamGroup"), 10);
    world.release(Operation::ListStreamSessionsByAccount);
    let report = scanning.await;
    assert!(report.complete, "{:?}", report.unread);
    assert_eq!(world.calls_of("ListTagsForResource"), 10, "each group's tags read once");
    assert_eq!(report.findings.len(), 11, "10 rotation_due + 1 active_with_errors, as without the hold");
}

/// OWNER_TAG_KEY: each finding counted under its group's owner (the digest per owner is built
/// from these counts); a group without the tag is under none; tags are read only for groups
/// with findings, and not at all without the key.
#[tokio::test]
async fn findings_are_counted_under_their_groups_owner_and_only_their_groups_tags_are_read() {
    let world = World::new(now());
    let owners = [Some("racing"), Some("tactics"), None, Some("racing")];
    for (i, owner) in owners.iter().enumerate() {
        // The last group is new: no finding, so its tags are not needed.
        let created = if i == 3 { now() } else { now() - Duration::days(30) };
        let mut group = testkit::group(REGION, &format!("sg-O{i}"), "gen5n_high", created, &[(REGION, 1)]);
        group.locations[0].capacity.idle = 0;
        if let Some(owner) = owner {
            group.tags.insert("team".into(), owner.to_string());
        }
        world.add_group(group);
    }
    let report = scan(&scanner(&world, &[("ALERT_MEMORY", "none"), ("OWNER_TAG_KEY", "team")])).await;
    assert_eq!(report.findings.len(), 3, "{:?}", report.findings);
    let by_owner = serde_json::to_value(&report.counts.findings_by_owner).unwrap();
    assert_eq!(by_owner, serde_json::json!({ "racing": { "warning": 1 }, "tactics": { "warning": 1 } }));
    assert_eq!(world.calls_of("ListTagsForResource"), 3, "the groups with findings only");

    let world_without = World::new(now());
    for (i, _) in owners.iter().enumerate() {
        world_without.add_group(testkit::group(
            REGION,
            &format!("sg-O{i}"),
            "gen5n_high",
            now() - Duration::days(30),
            &[(REGION, 1)],
        ));
    }
    let report = scan(&scanner(&world_without, &[("ALERT_MEMORY", "none")])).await;
    assert!(report.counts.findings_by_owner.is_empty());
    assert_eq!(world_without.calls_of("ListTagsForResource"), 0, "no owner, no tag read");
}
