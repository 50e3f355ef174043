//! Alerts on SNS without an alert storm: planning (pure) and delivery. The memory of what was
//! sent lives on each stream group itself, in tags the watchdog owns (see
//! `watchdog_core::tags::alert`): no database. A finding is sent when it is new, when its
//! severity rose, or when the re-send interval has passed since it was last sent; its memory
//! is written only once SNS accepted it.

use crate::observe::Unread;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use tokio::sync::mpsc::UnboundedReceiver;
use watchdog_core::findings::Finding;
use watchdog_core::ports::attributes;
use watchdog_core::ports::{MAX_MESSAGES_PER_BATCH, Message, Notifier, StreamGroupWriter, Tags};
use watchdog_core::tags::MAX_TAGS_PER_RESOURCE;
use watchdog_core::tags::alert::{self, AlertRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    New,
    SeverityRose,
    ResendDue,
}

/// Without alert memory (ALERT_MEMORY=none): whether `now` falls in the first scan of a
/// re-send interval, the intervals counted from midnight UTC. Every finding present then is
/// alerted; none in between.
pub fn first_scan_of_interval(now: DateTime<Utc>, resend: Duration, schedule: Duration) -> bool {
    let into_interval = now.timestamp().rem_euclid(resend.num_seconds().max(1));
    into_interval < schedule.num_seconds().max(1)
}

/// A group's alerts when nothing is remembered: all of them in the first scan of an interval,
/// none otherwise, and no memory to write.
pub fn plan_without_memory(group_arn: &str, findings: &[&Finding], alert_now: bool) -> GroupAlerts {
    let mut plan = GroupAlerts { group_arn: group_arn.to_owned(), ..GroupAlerts::default() };
    for finding in findings {
        if alert_now {
            plan.send.push(((*finding).clone(), Why::ResendDue));
        } else {
            plan.suppressed.push((*finding).clone());
        }
    }
    plan
}

/// Whether to send `finding` given what was sent before.
pub fn should_send(finding: &Finding, sent: Option<&AlertRecord>, now: DateTime<Utc>, resend: Duration) -> Option<Why> {
    match sent {
        None => Some(Why::New),
        Some(record) if finding.severity > record.severity => Some(Why::SeverityRose),
        Some(record) if now - record.sent_at >= resend => Some(Why::ResendDue),
        Some(_) => None,
    }
}

/// One group's alerts this run: what to send, what not, and how its memory tags change.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GroupAlerts {
    pub group_arn: String,
    /// The alert tag prefix the memory keys start with.
    pub prefix: String,
    pub send: Vec<(Finding, Why)>,
    pub suppressed: Vec<Finding>,
    /// Tags to set once the sends succeed, by tag key.
    pub remember: BTreeMap<String, String>,
    /// Memory of findings that no longer hold and were last sent a re-send interval ago or
    /// more, so a later recurrence alerts again.
    pub forget: Vec<String>,
    /// Alerts not sent because their memory would not fit on the group (50 tags at most).
    pub held_back: Vec<Finding>,
}

pub fn plan(
    group_arn: &str,
    findings: &[&Finding],
    tags: &BTreeMap<String, String>,
    prefix: &str,
    now: DateTime<Utc>,
    resend: Duration,
) -> GroupAlerts {
    let memory = alert::memory(tags, prefix);
    let mut plan = GroupAlerts { group_arn: group_arn.to_owned(), prefix: prefix.to_owned(), ..GroupAlerts::default() };
    for finding in findings {
        let key = finding.dedup_key();
        match should_send(finding, memory.get(&key), now, resend) {
            Some(why) => {
                plan.remember.insert(
                    alert::key(prefix, &key),
                    AlertRecord { severity: finding.severity, sent_at: now }.encode(),
                );
                plan.send.push(((*finding).clone(), why));
            }
            None => plan.suppressed.push((*finding).clone()),
        }
    }
    // A finding that no longer holds is forgotten only once its re-send interval is over: one
    // that flaps around its threshold re-alerts at most once per interval, not on every flap.
    let current: Vec<String> = findings.iter().map(|f| f.dedup_key()).collect();
    plan.forget = memory
        .iter()
        .filter(|(k, record)| !current.contains(k) && now - record.sent_at >= resend)
        .map(|(k, _)| alert::key(prefix, k))
        .collect();
    plan
}

impl GroupAlerts {
    /// The tag that remembers `finding` once it is sent.
    pub fn memory_key(&self, finding: &Finding) -> String {
        alert::key(&self.prefix, &finding.dedup_key())
    }

    /// Keeps only the sends whose memory fits on the group, which holds at most
    /// [`MAX_TAGS_PER_RESOURCE`] tags: an alert that could not be remembered would be sent again
    /// every scan, so it is held back (reported, counted in `AlertMemoryFull`) instead.
    pub fn fit_memory(&mut self, tags: &Tags) {
        let mut room = MAX_TAGS_PER_RESOURCE.saturating_sub(tags.len());
        let sends = std::mem::take(&mut self.send);
        for (finding, why) in sends {
            let key = self.memory_key(&finding);
            if tags.contains_key(&key) {
                self.send.push((finding, why));
            } else if room > 0 {
                room -= 1;
                self.send.push((finding, why));
            } else {
                self.remember.remove(&key);
                self.held_back.push(finding);
            }
        }
    }
}

/// The subject line (SNS keeps at most 100 printable ASCII characters of it).
pub fn subject(finding: &Finding) -> String {
    format!(
        "[GameLift Streams watchdog] {} {}: {}",
        finding.severity.as_str().to_uppercase(),
        finding.kind,
        finding.stream_group_id
    )
}

/// The text people read (e-mail, chat).
pub fn human_text(finding: &Finding) -> String {
    let mut text = format!(
        "{}\n\nSeverity: {}\nFinding: {}\nStream group: {} ({})\nRegion: {}\n",
        finding.message,
        finding.severity,
        finding.kind,
        finding.stream_group_id,
        finding.stream_group_arn,
        finding.region
    );
    if let Some(location) = &finding.location {
        text.push_str(&format!("Location: {location}\n"));
    }
    text.push_str(&format!("\nRecommended action: {}\n", finding.recommended_action));
    text
}

/// One SNS message per finding, with a text for people and JSON for programs
/// (`MessageStructure: json`: e-mail gets the text; SQS, Lambda and HTTP get the JSON), and
/// the attributes subscriptions filter on.
pub fn message(finding: &Finding, why: Why) -> Message {
    Message {
        subject: subject(finding),
        body: message_body(finding, why),
        per_protocol: true,
        attributes: attributes(&[
            ("kind", finding.kind.as_str()),
            ("severity", finding.severity.as_str()),
            ("stream_group", &finding.stream_group_id),
            ("region", &finding.region),
        ]),
    }
}

fn message_body(finding: &Finding, why: Why) -> String {
    let payload = json!({ "type": "finding", "why": why, "finding": finding }).to_string();
    let text = human_text(finding);
    json!({
        "default": text,
        "email": text,
        "email-json": payload,
        "sqs": payload,
        "lambda": payload,
        "http": payload,
        "https": payload,
    })
    .to_string()
}

/// What delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
    /// Would have been sent, had a topic been configured.
    pub not_sent: usize,
    pub errors: Vec<String>,
    /// Memory that could not be written.
    pub unread: Vec<Unread>,
}

/// A group whose messages are in flight, and the memory to write once they are all answered.
struct Pending {
    group_arn: String,
    group_id: String,
    outstanding: usize,
    remember: Tags,
    forget: Vec<String>,
}

/// A message waiting for a batch: its group's index, the memory tag (key, value) to write once
/// SNS accepts it (none without alert memory), and the message.
type Queued = (usize, Option<(String, String)>, Message);

/// The delivery phase of one region: receives each group's plan as soon as it is made,
/// publishes in batches of ten as they fill, and writes a group's memory once SNS has
/// answered for all its messages (only what SNS accepted is remembered). Without a topic
/// nothing is sent or written.
pub async fn deliver(
    mut plans: UnboundedReceiver<(String, GroupAlerts)>,
    topic: Option<(&dyn Notifier, &str)>,
    writer: &dyn StreamGroupWriter,
    region: &str,
) -> Delivered {
    let mut out = Delivered::default();
    let mut pending: Vec<Pending> = Vec::new();
    // Messages waiting for a batch, each with the index of its group in `pending` and the
    // memory (tag key and value) to write once SNS accepts it, if the plan keeps memory.
    let mut queue: Vec<Queued> = Vec::new();
    loop {
        let next = plans.recv().await;
        let closed = next.is_none();
        if let Some((group_id, plan)) = next {
            let Some(_) = topic else {
                out.not_sent += plan.send.len();
                continue;
            };
            let index = pending.len();
            pending.push(Pending {
                group_arn: plan.group_arn.clone(),
                group_id,
                outstanding: plan.send.len(),
                remember: Tags::new(),
                forget: plan.forget.clone(),
            });
            for (finding, why) in &plan.send {
                let key = plan.memory_key(finding);
                let memory = plan.remember.get(&key).map(|value| (key, value.clone()));
                queue.push((index, memory, message(finding, *why)));
            }
        }
        while let Some((notifier, topic_arn)) = topic
            && (queue.len() >= MAX_MESSAGES_PER_BATCH || (closed && !queue.is_empty()))
        {
            let batch: Vec<Queued> = queue.drain(..queue.len().min(MAX_MESSAGES_PER_BATCH)).collect();
            let messages: Vec<Message> = batch.iter().map(|(_, _, m)| m.clone()).collect();
            let results = match notifier.publish_batch(topic_arn, &messages).await {
                Ok(results) => results,
                Err(e) => {
                    out.errors.push(e.to_string());
                    messages.iter().map(|_| Err(String::new())).collect()
                }
            };
            for ((index, memory, _), result) in batch.into_iter().zip(results) {
                let group = &mut pending[index];
                group.outstanding -= 1;
                match result {
                    Ok(()) => {
                        out.sent += 1;
                        group.remember.extend(memory);
                    }
                    Err(reason) => {
                        out.failed += 1;
                        if !reason.is_empty() {
                            out.errors.push(format!("SNS refused an alert for {}: {reason}", group.group_id));
                        }
                    }
                }
            }
        }
        // Memory of every group SNS has answered for.
        for group in
            pending.iter_mut().filter(|g| g.outstanding == 0 && !(g.remember.is_empty() && g.forget.is_empty()))
        {
            if let Err(e) = writer.tag(&group.group_arn, &group.remember).await {
                out.unread.push(Unread::new(
                    region,
                    Some(&group.group_id),
                    &e,
                    "these alerts may be sent again next run",
                ));
            }
            if let Err(e) = writer.untag(&group.group_arn, &group.forget).await {
                out.unread.push(Unread::new(
                    region,
                    Some(&group.group_id),
                    &e,
                    "a cleared finding's memory stays until it expires",
                ));
            }
            group.remember.clear();
            group.forget.clear();
        }
        if closed {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchdog_core::findings::{FindingKind, Severity};

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

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn sent_once_then_again_after_the_interval_or_a_rise_in_severity() {
        let resend = Duration::hours(24);
        let f = finding(FindingKind::ExpirySoon, Severity::Warning, None);
        assert_eq!(should_send(&f, None, at(0), resend), Some(Why::New));
        let record = AlertRecord { severity: Severity::Warning, sent_at: at(0) };
        assert_eq!(should_send(&f, Some(&record), at(23), resend), None);
        assert_eq!(should_send(&f, Some(&record), at(24), resend), Some(Why::ResendDue));
        let higher = finding(FindingKind::ExpirySoon, Severity::High, None);
        assert_eq!(should_send(&higher, Some(&record), at(1), resend), Some(Why::SeverityRose));
        let lower = finding(FindingKind::ExpirySoon, Severity::Info, None);
        assert_eq!(should_send(&lower, Some(&record), at(1), resend), None);
    }

    #[test]
    fn the_plan_remembers_sends_and_forgets_cleared_findings() {
        let prefix = "watchdog:alert:";
        let tags = BTreeMap::from([
            ("team".to_owned(), "racing".to_owned()),
            ("watchdog:alert:rotation_due".to_owned(), format!("warning|{}", at(0).timestamp())),
            ("watchdog:alert:idle_capacity:us-east-1".to_owned(), format!("warning|{}", at(0).timestamp())),
        ]);
        let rotation = finding(FindingKind::RotationDue, Severity::Warning, None);
        let idle = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
        let plan = plan(&rotation.stream_group_arn, &[&rotation, &idle], &tags, prefix, at(2), Duration::hours(24));
        assert_eq!(plan.send.len(), 1);
        assert_eq!(plan.send[0].0.dedup_key(), "idle_capacity:us-west-2");
        assert_eq!(plan.suppressed, std::slice::from_ref(&rotation));
        assert_eq!(plan.remember["watchdog:alert:idle_capacity:us-west-2"], format!("warning|{}", at(2).timestamp()));
        assert!(plan.forget.is_empty(), "sent 2 h ago: kept, so a flap does not re-alert");
        let plan = plan_at(&tags, &[&rotation, &idle], at(24));
        assert_eq!(plan.forget, ["watchdog:alert:idle_capacity:us-east-1"], "forgotten after the interval");
    }

    fn plan_at(tags: &BTreeMap<String, String>, findings: &[&Finding], now: DateTime<Utc>) -> GroupAlerts {
        plan(&findings[0].stream_group_arn, findings, tags, "watchdog:alert:", now, Duration::hours(24))
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
        let plan = plan_without_memory("arn", &[&f], false);
        assert!(plan.send.is_empty() && plan.remember.is_empty() && plan.forget.is_empty());
        assert_eq!(plan_without_memory("arn", &[&f], true).send.len(), 1);
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

    #[test]
    fn messages_carry_text_for_people_and_json_for_programs() {
        let f = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
        let subject = subject(&f);
        assert_eq!(subject, "[GameLift Streams watchdog] WARNING idle_capacity: sg-A");
        let message = message(&f, Why::New);
        assert!(message.per_protocol);
        assert_eq!(message.attributes["kind"], "idle_capacity");
        let structured: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert!(structured["default"].as_str().unwrap().contains("Recommended action: Recreate it."));
        assert!(structured["email"].as_str().unwrap().contains("Location: us-west-2"));
        let payload: serde_json::Value = serde_json::from_str(structured["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(payload["finding"]["kind"], "idle_capacity");
        assert_eq!(payload["why"], "new");
    }
}
