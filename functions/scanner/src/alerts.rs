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
use watchdog_core::findings::{Finding, Severity};
use watchdog_core::ports::attributes;
use watchdog_core::ports::{MAX_MESSAGES_PER_BATCH, Message, Notifier, StreamGroupWriter, Tags, Write};
use watchdog_core::tags::MAX_TAGS_PER_RESOURCE;
use watchdog_core::tags::alert::{self, AlertRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    New,
    SeverityRose,
    ResendDue,
}

/// The group an alert plan belongs to.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub arn: String,
    pub region: String,
}

impl GroupRef {
    pub fn new(id: &str, arn: &str, region: &str) -> Self {
        Self { id: id.to_owned(), arn: arn.to_owned(), region: region.to_owned() }
    }
}

/// A finding that was alerted and is no longer seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The finding's dedup key: its kind, and `:<location>` where it has one.
    pub key: String,
    /// The severity it was last alerted at.
    pub severity: Severity,
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
pub fn plan_without_memory(group: GroupRef, findings: &[&Finding], alert_now: bool) -> GroupAlerts {
    let mut plan = GroupAlerts { group, ..GroupAlerts::default() };
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
    pub group: GroupRef,
    /// The alert tag prefix the memory keys start with.
    pub prefix: String,
    pub send: Vec<(Finding, Why)>,
    /// The severity a finding sent for [`Why::SeverityRose`] was alerted at before, by dedup key.
    pub escalated_from: BTreeMap<String, Severity>,
    pub suppressed: Vec<Finding>,
    /// Tags to set once the sends succeed, by tag key.
    pub remember: BTreeMap<String, String>,
    /// Memory of findings that no longer hold and were last sent a re-send interval ago or
    /// more, so a later recurrence alerts again.
    pub forget: Vec<String>,
    /// Findings alerted before and not seen in this scan, announced once by the digest (only
    /// when resolutions are tracked); their memory is marked cleared in `remember`.
    pub resolved: Vec<Resolved>,
    /// Alerts not sent because their memory would not fit on the group (50 tags at most).
    pub held_back: Vec<Finding>,
}

/// How a group's alerts are decided from its memory.
#[derive(Debug, Clone)]
pub struct AlertPolicy {
    pub prefix: String,
    pub resend: Duration,
    /// Announce findings that cleared (the digest's "resolved"): marks their memory once.
    pub track_resolved: bool,
}

pub fn plan(
    group: GroupRef,
    findings: &[&Finding],
    tags: &BTreeMap<String, String>,
    policy: &AlertPolicy,
    now: DateTime<Utc>,
) -> GroupAlerts {
    let prefix = policy.prefix.as_str();
    let memory = alert::memory(tags, prefix);
    let mut plan = GroupAlerts { group, prefix: prefix.to_owned(), ..GroupAlerts::default() };
    for finding in findings {
        let key = finding.dedup_key();
        let remembered = memory.get(&key);
        match should_send(finding, remembered, now, policy.resend) {
            Some(why) => {
                plan.remember.insert(alert::key(prefix, &key), AlertRecord::sent(finding.severity, now).encode());
                if let (Why::SeverityRose, Some(before)) = (why, remembered) {
                    plan.escalated_from.insert(key, before.severity);
                }
                plan.send.push(((*finding).clone(), why));
            }
            None => plan.suppressed.push((*finding).clone()),
        }
    }
    // A finding that no longer holds is forgotten only once its re-send interval is over: one
    // that flaps around its threshold re-alerts at most once per interval, not on every flap.
    let current: Vec<String> = findings.iter().map(|f| f.dedup_key()).collect();
    for (key, record) in memory.iter().filter(|(key, _)| !current.contains(key)) {
        let forget = now - record.sent_at >= policy.resend;
        if forget {
            plan.forget.push(alert::key(prefix, key));
        }
        // Announced once: the mark keeps later scans (and flaps) from announcing it again.
        if policy.track_resolved && record.cleared_at.is_none() {
            plan.resolved.push(Resolved { key: key.clone(), severity: record.severity });
            if !forget {
                let cleared = AlertRecord { cleared_at: Some(now), ..*record };
                plan.remember.insert(alert::key(prefix, key), cleared.encode());
            }
        }
    }
    plan
}

impl GroupAlerts {
    /// The tag that remembers `finding` once it is sent.
    pub fn memory_key(&self, finding: &Finding) -> String {
        alert::key(&self.prefix, &finding.dedup_key())
    }

    /// For a scan that did not see all of the group (its details or the sessions went
    /// unread): a finding missing from it may only be unread, so nothing is forgotten or
    /// announced resolved, and the next full scan decides.
    pub fn keep_unseen(&mut self) {
        self.forget.clear();
        for resolved in std::mem::take(&mut self.resolved) {
            self.remember.remove(&alert::key(&self.prefix, &resolved.key));
        }
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
    /// Every group's plan, for the digest (with [`MemoryWrite::AfterDigest`]).
    pub plans: Vec<GroupAlerts>,
    /// Memory waiting for the digest to be accepted (with [`MemoryWrite::AfterDigest`]).
    pub held: Vec<GroupMemory>,
}

/// Where per-finding messages go.
#[derive(Clone, Copy)]
pub enum PerFinding<'a> {
    /// Published to this topic; memory is kept only for what SNS accepted.
    Publish(&'a dyn Notifier, &'a str),
    /// Wanted but not published (a dry run, or no topic): counted as not sent, nothing kept.
    Count,
    /// Not wanted (digests only): the digest alone decides what is remembered.
    Off,
}

/// When a group's alert memory is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryWrite {
    /// As soon as SNS has answered for the group's messages.
    PerGroup,
    /// Only once the scan's digest is accepted: held in [`Delivered::held`], so a digest that
    /// fails is sent again next run instead of being lost.
    AfterDigest,
}

/// Tags to set and remove on one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMemory {
    pub group: GroupRef,
    pub remember: Tags,
    pub forget: Vec<String>,
}

impl GroupMemory {
    fn is_empty(&self) -> bool {
        self.remember.is_empty() && self.forget.is_empty()
    }

    /// Writes it; what fails is returned as unread, with what that means.
    pub async fn write(&self, writer: &dyn StreamGroupWriter) -> Vec<Unread> {
        let mut unread = Vec::new();
        let (region, id) = (self.group.region.as_str(), Some(self.group.id.as_str()));
        let remember = Write::Tag { arn: self.group.arn.clone(), tags: self.remember.clone() };
        if !remember.is_empty()
            && let Err(e) = writer.write(&remember).await
        {
            unread.push(Unread::new(region, id, &e, "these alerts may be sent again next run"));
        }
        let forget = Write::Untag { arn: self.group.arn.clone(), keys: self.forget.clone() };
        if !forget.is_empty()
            && let Err(e) = writer.write(&forget).await
        {
            unread.push(Unread::new(region, id, &e, "a cleared finding's memory stays until it expires"));
        }
        unread
    }
}

/// A group whose messages are in flight, and the memory to write once they are all answered.
struct Pending {
    outstanding: usize,
    memory: GroupMemory,
}

/// A message waiting for a batch: its group's index, the memory tag (key, value) to write once
/// SNS accepts it (none without alert memory), and the message.
type Queued = (usize, Option<(String, String)>, Message);

/// The delivery phase of one region: receives each group's plan as soon as it is made,
/// publishes its per-finding messages in batches of ten as they fill, and writes (or holds for
/// the digest) a group's memory once SNS has answered for all its messages: only what SNS
/// accepted is remembered. In a dry run nothing is sent or written.
pub async fn deliver(
    mut plans: UnboundedReceiver<GroupAlerts>,
    per_finding: PerFinding<'_>,
    memory_write: MemoryWrite,
    writer: &dyn StreamGroupWriter,
) -> Delivered {
    let mut out = Delivered::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut queue: Vec<Queued> = Vec::new();
    loop {
        let next = plans.recv().await;
        let closed = next.is_none();
        if let Some(plan) = next {
            if memory_write == MemoryWrite::AfterDigest {
                out.plans.push(plan.clone());
            }
            let sent_keys: Vec<String> = plan.send.iter().map(|(f, _)| plan.memory_key(f)).collect();
            // Memory not tied to a message of this run (cleared marks), or all of it when the
            // digest alone decides.
            let mut remember = Tags::new();
            for (key, value) in &plan.remember {
                if matches!(per_finding, PerFinding::Off) || !sent_keys.contains(key) {
                    remember.insert(key.clone(), value.clone());
                }
            }
            let outstanding = match per_finding {
                PerFinding::Count => {
                    out.not_sent += plan.send.len();
                    continue;
                }
                PerFinding::Off => 0,
                PerFinding::Publish(..) => plan.send.len(),
            };
            let index = pending.len();
            let memory = GroupMemory { group: plan.group.clone(), remember, forget: plan.forget.clone() };
            pending.push(Pending { outstanding, memory });
            if let PerFinding::Publish(..) = per_finding {
                for ((finding, why), key) in plan.send.iter().zip(sent_keys) {
                    let memory = plan.remember.get(&key).map(|value| (key, value.clone()));
                    queue.push((index, memory, message(finding, *why)));
                }
            }
        }
        while let PerFinding::Publish(notifier, topic_arn) = per_finding
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
                        group.memory.remember.extend(memory);
                    }
                    Err(reason) => {
                        out.failed += 1;
                        if !reason.is_empty() {
                            out.errors.push(format!("SNS refused an alert for {}: {reason}", group.memory.group.id));
                        }
                    }
                }
            }
        }
        // Memory of every group SNS has answered for.
        for group in pending.iter_mut().filter(|g| g.outstanding == 0 && !g.memory.is_empty()) {
            let emptied = GroupMemory { group: group.memory.group.clone(), remember: Tags::new(), forget: Vec::new() };
            let memory = std::mem::replace(&mut group.memory, emptied);
            match memory_write {
                MemoryWrite::PerGroup => out.unread.extend(memory.write(writer).await),
                MemoryWrite::AfterDigest => out.held.push(memory),
            }
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

    fn group() -> GroupRef {
        GroupRef::new("sg-A", "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-A", "us-west-2")
    }

    fn policy(track_resolved: bool) -> AlertPolicy {
        AlertPolicy { prefix: "watchdog:alert:".into(), resend: Duration::hours(24), track_resolved }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn sent_once_then_again_after_the_interval_or_a_rise_in_severity() {
        let resend = Duration::hours(24);
        let f = finding(FindingKind::ExpirySoon, Severity::Warning, None);
        assert_eq!(should_send(&f, None, at(0), resend), Some(Why::New));
        let record = AlertRecord::sent(Severity::Warning, at(0));
        assert_eq!(should_send(&f, Some(&record), at(23), resend), None);
        assert_eq!(should_send(&f, Some(&record), at(24), resend), Some(Why::ResendDue));
        let higher = finding(FindingKind::ExpirySoon, Severity::High, None);
        assert_eq!(should_send(&higher, Some(&record), at(1), resend), Some(Why::SeverityRose));
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
        let plan = plan_without_memory(group(), &[&f], false);
        assert!(plan.send.is_empty() && plan.remember.is_empty() && plan.forget.is_empty());
        assert_eq!(plan_without_memory(group(), &[&f], true).send.len(), 1);
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
        assert_eq!(rose.send, [(high, Why::SeverityRose)]);
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
