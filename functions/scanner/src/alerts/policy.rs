//! What is due: which findings of a group are sent this run, and how its alert memory (tags
//! the watchdog owns on the group, see `watchdog_core::tags::alert`) changes. Pure.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use watchdog_core::findings::{Finding, Severity};
use watchdog_core::ports::Tags;
use watchdog_core::tags::MAX_TAGS_PER_RESOURCE;
use watchdog_core::tags::alert::{self, AlertRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertReason {
    New,
    SeverityRose,
    ResendDue,
}

/// The group an alert plan belongs to (id, ARN and region).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct AlertTarget {
    pub id: String,
    pub arn: String,
    pub region: String,
}

impl AlertTarget {
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

/// A group's alerts when nothing is remembered: all of them with `due` (the scan that is to
/// alert them), none otherwise, and no memory to write.
pub fn plan_without_memory(group: AlertTarget, findings: &[&Finding], due: Option<AlertReason>) -> GroupAlerts {
    let mut plan = GroupAlerts { group, ..GroupAlerts::default() };
    for finding in findings {
        match due {
            Some(why) => plan.send.push(((*finding).clone(), why)),
            None => plan.suppressed.push((*finding).clone()),
        }
    }
    plan
}

/// For an EXPIRED group, whose tags can be neither read nor written (seed 000 and the model's
/// ExpiresAt: "Only Get and Delete operations will work on an expired stream group"), whether
/// this scan alerts its findings: the first scan after ExpiresAt (`New`), then one scan every
/// re-send interval counted from ExpiresAt (`ResendDue`). The time since ExpiresAt, which
/// ListStreamGroups reports, is the memory: no tag is needed. A scan delayed past its period
/// can miss one window; the next interval's scan names the group again.
pub fn expiry_window_due(
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    resend: Duration,
    schedule: Duration,
) -> Option<AlertReason> {
    let since = (now - expires_at).num_seconds();
    let period = schedule.num_seconds().max(1);
    if since < period {
        // Just expired (or the service says EXPIRED a little before our clock does).
        return Some(AlertReason::New);
    }
    (since.rem_euclid(resend.num_seconds().max(1)) < period).then_some(AlertReason::ResendDue)
}

/// Whether to send `finding` given what was sent before.
pub fn should_send(
    finding: &Finding,
    sent: Option<&AlertRecord>,
    now: DateTime<Utc>,
    resend: Duration,
) -> Option<AlertReason> {
    match sent {
        None => Some(AlertReason::New),
        Some(record) if finding.severity > record.severity => Some(AlertReason::SeverityRose),
        Some(record) if now - record.sent_at >= resend => Some(AlertReason::ResendDue),
        Some(_) => None,
    }
}

/// One group's alerts this run: what to send, what not, and how its memory tags change.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GroupAlerts {
    pub group: AlertTarget,
    /// The alert tag prefix the memory keys start with.
    pub prefix: String,
    pub send: Vec<(Finding, AlertReason)>,
    /// The severity a finding sent for [`AlertReason::SeverityRose`] was alerted at before, by dedup key.
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
    group: AlertTarget,
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
                if let (AlertReason::SeverityRose, Some(before)) = (why, remembered) {
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
