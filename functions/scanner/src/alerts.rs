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
mod tests;
