use super::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use watchdog_core::findings::{Finding, FindingKind, Severity};
use watchdog_core::tags::alert::AlertRecord;

fn finding(kind: FindingKind, severity: Severity, location: Option<&str>) -> Finding {
    Finding {
        kind,
        severity,
        stream_group_id: "sg-A".into(),
        stream_group_arn: "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-A".into(),
        region: "us-west-2".into(),
        location: location.map(str::to_owned),
        message: "Stream group sg-A expires in 6.0 days.".into(),
        recommended_action: "Recreate it.".into(),
        details: json!({}),
    }
}

fn group() -> AlertTarget {
    AlertTarget::new("sg-A", "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-A", "us-west-2")
}

fn policy(track_resolved: bool) -> AlertPolicy {
    AlertPolicy { prefix: "watchdog:alert:".into(), resend: Duration::hours(24), track_resolved }
}

fn at(hours: i64) -> DateTime<Utc> {
    watchdog_core::testkit::fixed_now() + Duration::hours(hours)
}

#[test]
fn sent_once_then_again_after_the_interval_or_a_rise_in_severity() {
    let resend = Duration::hours(24);
    let f = finding(FindingKind::ExpirySoon, Severity::Warning, None);
    assert_eq!(should_send(&f, None, at(0), resend), Some(AlertReason::New));
    let record = AlertRecord::sent(Severity::Warning, at(0));
    assert_eq!(should_send(&f, Some(&record), at(23), resend), None);
    assert_eq!(should_send(&f, Some(&record), at(24), resend), Some(AlertReason::ResendDue));
    let higher = finding(FindingKind::ExpirySoon, Severity::High, None);
    assert_eq!(should_send(&higher, Some(&record), at(1), resend), Some(AlertReason::SeverityRose));
    let lower = finding(FindingKind::ExpirySoon, Severity::Info, None);
    assert_eq!(should_send(&lower, Some(&record), at(1), resend), None);
}

#[test]
fn the_plan_remembers_sends_and_forgets_cleared_findings() {
    let tags = BTreeMap::from([
        ("team".to_owned(), "racing".to_owned()),
        ("watchdog:alert:rotation_due".to_owned(), format!("warning|{}", at(0).timestamp())),
        ("watchdog:alert:idle_capacity:us-east-1".to_owned(), format!("warning|{}", at(0).timestamp())),
    ]);
    let rotation = finding(FindingKind::RotationDue, Severity::Warning, None);
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let plan = plan(group(), &[&rotation, &idle], &tags, &policy(false), at(2));
    assert_eq!(plan.send.len(), 1);
    assert_eq!(plan.send[0].0.dedup_key(), "idle_capacity:us-west-2");
    assert_eq!(plan.suppressed, std::slice::from_ref(&rotation));
    assert_eq!(plan.remember["watchdog:alert:idle_capacity:us-west-2"], format!("warning|{}", at(2).timestamp()));
    assert!(plan.forget.is_empty(), "sent 2 h ago: kept, so a flap does not re-alert");
    let plan = plan_at(&tags, &[&rotation, &idle], at(24));
    assert_eq!(plan.forget, ["watchdog:alert:idle_capacity:us-east-1"], "forgotten after the interval");
}

fn plan_at(tags: &BTreeMap<String, String>, findings: &[&Finding], now: DateTime<Utc>) -> GroupAlerts {
    plan(group(), findings, tags, &policy(false), now)
}

#[test]
fn without_memory_each_finding_alerts_in_the_first_scan_of_each_interval_only() {
    let (resend, schedule) = (Duration::hours(24), Duration::minutes(5));
    let midnight = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z").unwrap().with_timezone(&Utc);
    let scans_alerting = (0..288 * 2)
        .map(|i| midnight + Duration::minutes(5 * i) + Duration::seconds(17))
        .filter(|at| first_scan_of_interval(*at, resend, schedule))
        .count();
    assert_eq!(scans_alerting, 2, "one scan a day alerts");
    assert!(first_scan_of_interval(midnight + Duration::seconds(299), resend, schedule));
    assert!(!first_scan_of_interval(midnight + Duration::seconds(300), resend, schedule));
    let f = finding(FindingKind::RotationDue, Severity::Warning, None);
    let plan = plan_without_memory(group(), &[&f], None);
    assert!(plan.send.is_empty() && plan.remember.is_empty() && plan.forget.is_empty());
    assert_eq!(plan_without_memory(group(), &[&f], Some(AlertReason::ResendDue)).send.len(), 1);
}

#[test]
fn alerts_whose_memory_would_not_fit_are_held_back() {
    let mut tags: BTreeMap<String, String> = (0..48).map(|i| (format!("team-{i}"), "x".to_owned())).collect();
    tags.insert("watchdog:alert:rotation_due".into(), format!("warning|{}", at(-48).timestamp()));
    let rotation = finding(FindingKind::RotationDue, Severity::Warning, None);
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let errors = finding(FindingKind::ActiveWithErrors, Severity::High, None);
    let mut plan = plan_at(&tags, &[&rotation, &idle, &errors], at(0));
    plan.fit_memory(&tags);
    let sent: Vec<String> = plan.send.iter().map(|(f, _)| f.dedup_key()).collect();
    // 49 tags: the resend of rotation_due overwrites its tag, one new tag fits, one does not.
    assert_eq!(sent, ["rotation_due", "idle_capacity:us-west-2"]);
    assert_eq!(plan.held_back.iter().map(|f| f.dedup_key()).collect::<Vec<_>>(), ["active_with_errors"]);
    assert!(!plan.remember.contains_key("watchdog:alert:active_with_errors"));
}

#[test]
fn a_finding_flapping_around_its_threshold_alerts_once_per_interval() {
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let rotation = finding(FindingKind::RotationDue, Severity::Warning, None);
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let mut sent = 0;
    // Every five minutes for a day the idle finding comes and goes; rotation stays.
    for step in 0..288 {
        let now = at(0) + Duration::minutes(5 * step);
        let findings: Vec<&Finding> = if step % 2 == 0 { vec![&rotation, &idle] } else { vec![&rotation] };
        let plan = plan_at(&tags, &findings, now);
        sent += plan.send.iter().filter(|(f, _)| f.kind == FindingKind::IdleCapacity).count();
        tags.extend(plan.remember);
        for key in plan.forget {
            tags.remove(&key);
        }
    }
    assert_eq!(sent, 1, "one alert in the day, not one per flap");
}

/// Applies a plan's memory changes to the tags, as delivery does once SNS accepted.
fn apply(tags: &mut BTreeMap<String, String>, plan: &GroupAlerts) {
    tags.extend(plan.remember.clone());
    for key in &plan.forget {
        tags.remove(key);
    }
}

#[test]
fn a_cleared_finding_is_announced_resolved_once_and_forgotten_after_the_interval() {
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let mut tags = BTreeMap::new();
    let first = plan(group(), &[&idle], &tags, &policy(true), at(0));
    apply(&mut tags, &first);

    let cleared = plan(group(), &[], &tags, &policy(true), at(1));
    assert_eq!(cleared.resolved, [Resolved { key: "idle_capacity:us-west-2".into(), severity: Severity::Warning }]);
    assert!(cleared.forget.is_empty(), "kept for the interval, so a flap does not re-alert");
    assert_eq!(
        cleared.remember["watchdog:alert:idle_capacity:us-west-2"],
        format!("warning|{}|{}", at(0).timestamp(), at(1).timestamp())
    );
    apply(&mut tags, &cleared);

    let later = plan(group(), &[], &tags, &policy(true), at(2));
    assert!(later.resolved.is_empty() && later.remember.is_empty(), "announced once, no further write");
    let back = plan(group(), &[&idle], &tags, &policy(true), at(3));
    assert!(back.send.is_empty() && back.remember.is_empty(), "back within the interval: quiet");
    let after = plan(group(), &[], &tags, &policy(true), at(24));
    assert_eq!(after.forget, ["watchdog:alert:idle_capacity:us-west-2"]);
    assert!(after.resolved.is_empty());

    // Without a digest nothing is marked: no tag write for a resolution nobody reads.
    let mut tags = BTreeMap::new();
    let first = plan(group(), &[&idle], &tags, &policy(false), at(0));
    apply(&mut tags, &first);
    let quiet = plan(group(), &[], &tags, &policy(false), at(1));
    assert!(quiet.resolved.is_empty() && quiet.remember.is_empty());
}

#[test]
fn a_partial_scan_neither_forgets_nor_announces_resolutions() {
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let rotation = finding(FindingKind::RotationDue, Severity::Warning, None);
    let mut tags = BTreeMap::new();
    let first = plan(group(), &[&idle, &rotation], &tags, &policy(true), at(0));
    apply(&mut tags, &first);
    let mut partial = plan(group(), &[&rotation], &tags, &policy(true), at(30));
    assert_eq!((partial.resolved.len(), partial.forget.len()), (1, 1));
    partial.keep_unseen();
    assert!(partial.resolved.is_empty() && partial.forget.is_empty());
    assert_eq!(partial.remember.keys().collect::<Vec<_>>(), ["watchdog:alert:rotation_due"], "the resend only");
}

#[test]
fn an_escalation_records_the_severity_it_rose_from() {
    let mut tags = BTreeMap::new();
    let warning = finding(FindingKind::ExpirySoon, Severity::Warning, None);
    let first = plan(group(), &[&warning], &tags, &policy(true), at(0));
    apply(&mut tags, &first);
    let high = finding(FindingKind::ExpirySoon, Severity::High, None);
    let rose = plan(group(), &[&high], &tags, &policy(true), at(1));
    assert_eq!(rose.send, [(high, AlertReason::SeverityRose)]);
    assert_eq!(rose.escalated_from["expiry_soon"], Severity::Warning);
}

#[test]
fn a_flapping_finding_is_announced_at_most_once_per_interval_each_way() {
    let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let mut tags = BTreeMap::new();
    let (mut sent, mut resolved, mut writes) = (0, 0, 0);
    for step in 0..288 {
        let now = at(0) + Duration::minutes(5 * step);
        let findings: Vec<&Finding> = if step % 2 == 0 { vec![&idle] } else { vec![] };
        let plan = plan(group(), &findings, &tags, &policy(true), now);
        sent += plan.send.len();
        resolved += plan.resolved.len();
        writes += usize::from(!plan.remember.is_empty() || !plan.forget.is_empty());
        apply(&mut tags, &plan);
    }
    assert_eq!((sent, resolved), (1, 1), "one alert and one resolution in the day");
    assert_eq!(writes, 2, "the alert and the cleared mark");
}

#[test]
fn messages_carry_text_for_people_and_json_for_programs() {
    let f = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
    let subject = subject(&f);
    assert_eq!(subject, "[GameLift Streams watchdog] WARNING idle_capacity: sg-A");
    let message = message(&f, AlertReason::New);
    assert!(message.per_protocol);
    assert_eq!(message.attributes["kind"], "idle_capacity");
    let structured: serde_json::Value = serde_json::from_str(&message.body).unwrap();
    assert!(structured["default"].as_str().unwrap().contains("Recommended action: Recreate it."));
    assert!(structured["email"].as_str().unwrap().contains("Location: us-west-2"));
    let payload: serde_json::Value = serde_json::from_str(structured["sqs"].as_str().unwrap()).unwrap();
    assert_eq!(payload["finding"]["kind"], "idle_capacity");
    assert_eq!(payload["why"], "new");
}

#[test]
fn an_expired_groups_findings_are_due_when_first_seen_then_once_per_resend_interval() {
    let expired = at(0);
    let (resend, schedule) = (Duration::hours(24), Duration::minutes(5));
    let due = |minutes: i64| expiry_window_due(expired + Duration::minutes(minutes), expired, resend, schedule);
    assert_eq!(due(0), Some(AlertReason::New));
    assert_eq!(due(4), Some(AlertReason::New), "within the scan period after ExpiresAt");
    assert_eq!(due(5), None);
    assert_eq!(due(23 * 60), None);
    assert_eq!(due(24 * 60 + 1), Some(AlertReason::ResendDue));
    assert_eq!(due(24 * 60 + 6), None);
    assert_eq!(due(-1), Some(AlertReason::New), "the service says EXPIRED a little before our clock");
}
