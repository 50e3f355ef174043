//! The digest: one message per scan that has something new for people, instead of one message
//! per finding. It names the findings that are new, escalated or due again, by severity and
//! then by stream group; the findings no longer seen since the last digest; and how many are
//! still open. One SNS message carries it in two forms (`MessageStructure: json`): an AWS
//! Chatbot (Amazon Q Developer in chat applications) custom notification, the only form
//! Chatbot forwards to Slack and Teams, for every protocol but e-mail, and plain text for
//! e-mail. `schemas/chatbot-custom-notification.schema.json` is the custom-notification event
//! format it is checked against.
//!
//! Building is pure (plans and findings in, a [`Digest`] out); the scan publishes it and
//! writes the groups' alert memory only once SNS has accepted it.

use crate::alerts::{AlertReason, AlertTarget, GroupAlerts};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use watchdog_core::findings::{Finding, Severity};
use watchdog_core::ports::{Message, attributes};

/// Finding lines in the chat form; the rest are counted and left to the e-mail form and the
/// scanner's report. Chat clients fold long messages, and people read the first screen.
pub const MAX_CHAT_LINES: usize = 25;
/// Finding lines in the e-mail form, far below SNS's 256 KB message limit.
pub const MAX_EMAIL_LINES: usize = 500;
/// Recommended actions listed as next steps, and group ARNs listed as related resources.
const MAX_NEXT_STEPS: usize = 3;
const MAX_RELATED: usize = 10;

/// Why a finding is in the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    /// Its severity rose since it was last alerted.
    Escalated,
    /// Still open a re-send interval after it was last alerted (or, without alert memory, open
    /// at the first scan of an interval).
    DueAgain,
}

impl Change {
    fn label(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Escalated => "escalated",
            Self::DueAgain => "due again",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub finding: Finding,
    pub change: Change,
    /// The severity it was alerted at before, for an escalation.
    pub from: Option<Severity>,
}

/// A finding alerted before and no longer seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedEntry {
    pub group: AlertTarget,
    pub kind: String,
    pub location: Option<String>,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    pub at: DateTime<Utc>,
    pub regions: Vec<String>,
    /// Highest severity first, then by group.
    pub entries: Vec<Entry>,
    pub resolved: Vec<ResolvedEntry>,
    /// Open findings not named above (alerted before, or on groups that are not alerted:
    /// protected or expired), by severity.
    pub still_open: BTreeMap<Severity, usize>,
    /// Alerts held back because their group's alert memory is full (50 tags).
    pub held_back: usize,
}

/// What the scan's report says about the digest.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DigestSummary {
    /// Published to the digest topic (false in a dry run, when there was nothing new, or when
    /// SNS refused it).
    pub sent: bool,
    pub title: Option<String>,
    pub new: usize,
    pub escalated: usize,
    pub due_again: usize,
    pub resolved: usize,
    pub still_open: usize,
}

/// The digest of one scan: every group's alert plan, and every finding the scan made.
pub fn build(plans: &[GroupAlerts], findings: &[Finding], regions: &[String], at: DateTime<Utc>) -> Digest {
    let mut entries = Vec::new();
    let mut resolved = Vec::new();
    let mut named = BTreeSet::new();
    let mut held_back = 0;
    for plan in plans {
        for (finding, why) in &plan.send {
            let change = match why {
                AlertReason::New => Change::New,
                AlertReason::SeverityRose => Change::Escalated,
                AlertReason::ResendDue => Change::DueAgain,
            };
            let from = plan.escalated_from.get(&finding.dedup_key()).copied();
            named.insert((finding.stream_group_arn.clone(), finding.dedup_key()));
            entries.push(Entry { finding: finding.clone(), change, from });
        }
        for gone in &plan.resolved {
            let (kind, location) = Finding::split_dedup_key(&gone.key);
            resolved.push(ResolvedEntry {
                group: plan.group.clone(),
                kind: kind.to_owned(),
                location: location.map(str::to_owned),
                severity: gone.severity,
            });
        }
        held_back += plan.held_back.len();
    }
    entries.sort_by(|a, b| {
        (b.finding.severity, &a.finding.stream_group_id, a.finding.dedup_key()).cmp(&(
            a.finding.severity,
            &b.finding.stream_group_id,
            b.finding.dedup_key(),
        ))
    });
    resolved.sort_by(|a, b| (&a.group.id, &a.kind, &a.location).cmp(&(&b.group.id, &b.kind, &b.location)));
    let mut still_open = BTreeMap::new();
    for finding in findings {
        if !named.contains(&(finding.stream_group_arn.clone(), finding.dedup_key())) {
            *still_open.entry(finding.severity).or_insert(0) += 1;
        }
    }
    Digest { at, regions: regions.to_vec(), entries, resolved, still_open, held_back }
}

impl Digest {
    /// Whether there is anything to tell: a scan that changed nothing sends no digest.
    pub fn has_news(&self) -> bool {
        !self.entries.is_empty() || !self.resolved.is_empty()
    }

    fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    fn open_total(&self) -> usize {
        self.still_open.values().sum()
    }

    /// The highest severity named, or info when only resolutions are.
    pub fn severity(&self) -> Severity {
        self.entries.iter().map(|e| e.finding.severity).max().unwrap_or(Severity::Info)
    }

    /// "3 new, 1 escalated, 2 resolved": only the parts that are not zero.
    pub fn headline(&self) -> String {
        let parts: Vec<String> = [
            (self.count(Change::New), "new"),
            (self.count(Change::Escalated), "escalated"),
            (self.count(Change::DueAgain), "due again"),
            (self.resolved.len(), "resolved"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() { "nothing new".to_owned() } else { parts.join(", ") }
    }

    pub fn summary(&self, sent: bool) -> DigestSummary {
        DigestSummary {
            sent,
            title: self.has_news().then(|| self.subject()),
            new: self.count(Change::New),
            escalated: self.count(Change::Escalated),
            due_again: self.count(Change::DueAgain),
            resolved: self.resolved.len(),
            still_open: self.open_total(),
        }
    }

    /// The e-mail subject (SNS keeps 100 printable ASCII characters).
    pub fn subject(&self) -> String {
        format!("[GameLift Streams watchdog] {}", self.headline())
    }

    /// Entries grouped by severity (highest first), then by group, in order.
    fn by_severity(&self) -> Vec<(Severity, Vec<GroupEntries<'_>>)> {
        let mut out: Vec<(Severity, Vec<GroupEntries<'_>>)> = Vec::new();
        for entry in &self.entries {
            let f = &entry.finding;
            if out.last().is_none_or(|(s, _)| *s != f.severity) {
                out.push((f.severity, Vec::new()));
            }
            let groups = &mut out.last_mut().expect("pushed").1;
            match groups.last_mut() {
                Some((id, _, list)) if *id == f.stream_group_id => list.push(entry),
                _ => groups.push((&f.stream_group_id, &f.region, vec![entry])),
            }
        }
        out
    }

    fn open_text(&self) -> String {
        let parts: Vec<String> = self.still_open.iter().rev().map(|(s, n)| format!("{n} {s}")).collect();
        format!("{} ({})", self.open_total(), parts.join(", "))
    }

    /// The custom notification for chat (client-markdown; Unicode emoji render in Slack and
    /// Teams alike, `*` emphasises in both).
    pub fn chat_notification(&self) -> Value {
        let mut lines = Vec::new();
        let mut shown = 0;
        let total = self.entries.len() + self.resolved.len();
        'severities: for (severity, groups) in self.by_severity() {
            let count: usize = groups.iter().map(|(_, _, list)| list.len()).sum();
            lines.push(format!("{} *{}* ({count})", emoji(severity), capitalised(severity)));
            for (group, region, list) in groups {
                lines.push(format!("• `{group}` ({region})"));
                for entry in list {
                    if shown == MAX_CHAT_LINES {
                        break 'severities;
                    }
                    shown += 1;
                    lines.push(format!("    ◦ {}", chat_line(entry)));
                }
            }
        }
        if !self.resolved.is_empty() && shown < MAX_CHAT_LINES {
            lines.push(format!("✅ *Resolved* ({})", self.resolved.len()));
            for gone in &self.resolved {
                if shown == MAX_CHAT_LINES {
                    break;
                }
                shown += 1;
                lines.push(format!("• `{}` ({}): {}", gone.group.id, gone.group.region, resolved_text(gone)));
            }
        }
        if shown < total {
            lines.push(format!(
                "…and {} more: see the e-mail digest, the findings topic or `gls-watchdog scan`.",
                total - shown
            ));
        }
        if self.open_total() > 0 {
            lines.push(format!("*Still open, not repeated here:* {}", self.open_text()));
        }
        if self.held_back > 0 {
            lines.push(format!(
                "⚠️ {} alert(s) held back: their stream group's alert memory is full (50 tags).",
                self.held_back
            ));
        }
        let next_steps: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.finding.severity >= Severity::Warning)
            .map(|e| format!("{}: {}", e.finding.kind, e.finding.recommended_action))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .take(MAX_NEXT_STEPS)
            .collect();
        let mut keywords: Vec<String> = vec!["GameLift Streams".to_owned()];
        keywords.extend(self.entries.iter().map(|e| e.finding.severity.to_string()).collect::<BTreeSet<_>>());
        keywords.extend(self.regions.iter().cloned());
        let related: Vec<&str> = self
            .entries
            .iter()
            .map(|e| e.finding.stream_group_arn.as_str())
            .chain(self.resolved.iter().map(|r| r.group.arn.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .take(MAX_RELATED)
            .collect();
        let mut content = json!({
            "textType": "client-markdown",
            "title": format!("{} GameLift Streams watchdog: {}", emoji(self.severity()), self.headline()),
            "description": lines.join("\n"),
            "keywords": keywords,
        });
        if !next_steps.is_empty() {
            content["nextSteps"] = json!(next_steps);
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("gls-watchdog-digest-{}", self.at.timestamp()),
            "content": content,
            "metadata": {
                "summary": format!("GameLift Streams watchdog: {}", self.headline()),
                "eventType": "GameLiftStreamsWatchdogDigest",
                "relatedResources": related,
                "additionalContext": {
                    "new": self.count(Change::New).to_string(),
                    "escalated": self.count(Change::Escalated).to_string(),
                    "stillOpenDueAgain": self.count(Change::DueAgain).to_string(),
                    "resolved": self.resolved.len().to_string(),
                    "stillOpen": self.open_total().to_string(),
                    "regions": self.regions.join(","),
                    "scannedAt": self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                },
            },
        })
    }

    /// The plain-text form for e-mail: every finding with its message and recommended action.
    pub fn email_text(&self) -> String {
        let mut text = format!(
            "GameLift Streams watchdog digest, {} (regions: {})\n\n{}.\n",
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.regions.join(", "),
            capitalise(&self.headline())
        );
        let mut shown = 0;
        for (severity, groups) in self.by_severity() {
            text.push_str(&format!("\n{}\n", severity.as_str().to_uppercase()));
            for (group, region, list) in groups {
                text.push_str(&format!("  {group} ({region})\n"));
                for entry in list {
                    if shown == MAX_EMAIL_LINES {
                        continue;
                    }
                    shown += 1;
                    let f = &entry.finding;
                    text.push_str(&format!("    - {} [{}]: {}\n", where_text(f), change_text(entry), f.message));
                    text.push_str(&format!("      Recommended action: {}\n", f.recommended_action));
                }
            }
        }
        if self.entries.len() > shown {
            text.push_str(&format!(
                "\n...and {} more (the scanner's report has them all).\n",
                self.entries.len() - shown
            ));
        }
        if !self.resolved.is_empty() {
            text.push_str("\nRESOLVED (no longer seen)\n");
            for gone in &self.resolved {
                text.push_str(&format!("  {} ({}): {}\n", gone.group.id, gone.group.region, resolved_text(gone)));
            }
        }
        if self.open_total() > 0 {
            text.push_str(&format!("\nStill open, not repeated here: {}.\n", self.open_text()));
        }
        if self.held_back > 0 {
            text.push_str(&format!(
                "\n{} alert(s) held back: their stream group's alert memory is full (50 tags); \
                 remove tags from those groups.\n",
                self.held_back
            ));
        }
        text
    }

    /// One SNS message: the chat form for every protocol but e-mail, which gets the text.
    /// `type=digest` and the highest `severity` are attributes subscriptions can filter on.
    pub fn message(&self) -> Message {
        let chat = self.chat_notification().to_string();
        let text = self.email_text();
        let body = json!({
            "default": chat,
            "email": text,
            "email-json": chat,
            "sqs": chat,
            "lambda": chat,
            "http": chat,
            "https": chat,
        });
        Message {
            subject: self.subject(),
            body: body.to_string(),
            per_protocol: true,
            attributes: attributes(&[("type", "digest"), ("severity", self.severity().as_str())]),
        }
    }
}

/// One group's entries of one severity: (group id, region, entries).
type GroupEntries<'a> = (&'a str, &'a str, Vec<&'a Entry>);

fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::High => "🟠",
        Severity::Warning => "🟡",
        Severity::Info => "🔵",
    }
}

fn capitalised(severity: Severity) -> String {
    capitalise(severity.as_str())
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `idle_capacity at us-west-2`, or the kind alone.
fn where_text(f: &Finding) -> String {
    match &f.location {
        Some(location) => format!("{} at {location}", f.kind),
        None => f.kind.to_string(),
    }
}

fn change_text(entry: &Entry) -> String {
    match (entry.change, entry.from) {
        (Change::Escalated, Some(from)) => format!("escalated from {from}"),
        (change, _) => change.label().to_owned(),
    }
}

fn chat_line(entry: &Entry) -> String {
    format!("{} _{}_: {}", where_text(&entry.finding), change_text(entry), entry.finding.message)
}

fn resolved_text(gone: &ResolvedEntry) -> String {
    let at = gone.location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default();
    format!("{}{at} no longer seen (was {})", gone.kind, gone.severity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Resolved;
    use watchdog_core::findings::FindingKind;

    const SCHEMA: &str = include_str!("../../../schemas/chatbot-custom-notification.schema.json");

    fn finding(group: &str, kind: FindingKind, severity: Severity, location: Option<&str>) -> Finding {
        Finding {
            kind,
            severity,
            stream_group_id: group.into(),
            stream_group_arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{group}"),
            region: "us-west-2".into(),
            location: location.map(str::to_owned),
            message: format!("{group} has {kind}."),
            recommended_action: format!("Fix {kind}."),
            details: json!({}),
        }
    }

    fn plan(group: &str, send: Vec<(Finding, AlertReason)>) -> GroupAlerts {
        GroupAlerts {
            group: AlertTarget::new(
                group,
                &format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{group}"),
                "us-west-2",
            ),
            send,
            ..GroupAlerts::default()
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:05:00Z").unwrap().with_timezone(&Utc)
    }

    fn validate(notification: &Value) {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
        let errors: Vec<String> = validator.iter_errors(notification).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}\n{notification:#}");
    }

    #[test]
    fn findings_are_grouped_by_severity_then_group_with_counts_of_the_rest() {
        let errors = finding("sg-B", FindingKind::GroupError, Severity::Critical, None);
        let idle = finding("sg-A", FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
        let rotation = finding("sg-A", FindingKind::RotationDue, Severity::Warning, None);
        let expiry = finding("sg-C", FindingKind::ExpirySoon, Severity::High, None);
        let ongoing = finding("sg-C", FindingKind::AssociationCutoffPassed, Severity::High, None);
        let mut c = plan("sg-C", vec![(expiry.clone(), AlertReason::SeverityRose)]);
        c.escalated_from.insert("expiry_soon".into(), Severity::Warning);
        c.resolved.push(Resolved { key: "idle_capacity:eu-west-1".into(), severity: Severity::Warning });
        let plans = [
            plan("sg-A", vec![(rotation.clone(), AlertReason::New), (idle.clone(), AlertReason::ResendDue)]),
            plan("sg-B", vec![(errors.clone(), AlertReason::New)]),
            c,
        ];
        let all = [errors, idle, rotation, expiry, ongoing];
        let digest = build(&plans, &all, &["us-west-2".into()], at());

        assert!(digest.has_news());
        let order: Vec<(&str, &str)> =
            digest.entries.iter().map(|e| (e.finding.stream_group_id.as_str(), e.finding.kind.as_str())).collect();
        assert_eq!(
            order,
            [("sg-B", "group_error"), ("sg-C", "expiry_soon"), ("sg-A", "idle_capacity"), ("sg-A", "rotation_due")]
        );
        assert_eq!(digest.still_open, BTreeMap::from([(Severity::High, 1)]), "the one alerted before");
        assert_eq!(digest.headline(), "2 new, 1 escalated, 1 due again, 1 resolved");
        assert_eq!(digest.severity(), Severity::Critical);

        let chat = digest.chat_notification();
        validate(&chat);
        let description = chat["content"]["description"].as_str().unwrap();
        let critical = description.find("*Critical* (1)").unwrap();
        let high = description.find("*High* (1)").unwrap();
        let warning = description.find("*Warning* (2)").unwrap();
        assert!(critical < high && high < warning, "{description}");
        assert_eq!(description.matches("• `sg-A` (us-west-2)").count(), 1, "one heading per group: {description}");
        assert!(description.contains("expiry_soon _escalated from warning_"), "{description}");
        assert!(description.contains(
            "✅ *Resolved* (1)\n• `sg-C` (us-west-2): idle_capacity at eu-west-1 no longer seen (was warning)"
        ));
        assert!(description.contains("*Still open, not repeated here:* 1 (1 high)"));
        assert_eq!(chat["metadata"]["additionalContext"]["new"], "2");
        assert_eq!(chat["content"]["nextSteps"].as_array().unwrap().len(), 3);

        let text = digest.email_text();
        assert!(text.contains("CRITICAL\n  sg-B (us-west-2)\n    - group_error [new]: sg-B has group_error.\n      Recommended action: Fix group_error.\n"), "{text}");
        assert!(text.contains("RESOLVED (no longer seen)\n  sg-C (us-west-2): idle_capacity at eu-west-1"));
        assert!(!text.contains('*'), "no chat markup in e-mail");
    }

    #[test]
    fn the_message_carries_chat_json_for_programs_and_chatbot_and_text_for_email() {
        let errors = finding("sg-B", FindingKind::GroupError, Severity::Critical, None);
        let digest =
            build(&[plan("sg-B", vec![(errors.clone(), AlertReason::New)])], &[errors], &["us-west-2".into()], at());
        let message = digest.message();
        assert!(message.per_protocol);
        assert_eq!(message.subject, "[GameLift Streams watchdog] 1 new");
        assert_eq!(
            (message.attributes["type"].as_str(), message.attributes["severity"].as_str()),
            ("digest", "critical")
        );
        let body: Value = serde_json::from_str(&message.body).unwrap();
        for protocol in ["default", "sqs", "lambda", "http", "https", "email-json"] {
            let chat: Value = serde_json::from_str(body[protocol].as_str().unwrap()).unwrap();
            validate(&chat);
        }
        assert!(body["email"].as_str().unwrap().starts_with("GameLift Streams watchdog digest, 2026-11-22 10:05 UTC"));
    }

    #[test]
    fn a_scan_with_nothing_new_has_no_news_and_long_digests_are_cut_for_chat_only() {
        let quiet = finding("sg-A", FindingKind::RotationDue, Severity::Warning, None);
        let digest = build(&[plan("sg-A", Vec::new())], &[quiet], &["us-west-2".into()], at());
        assert!(!digest.has_news());
        assert_eq!(digest.still_open[&Severity::Warning], 1);

        let many: Vec<Finding> = (0..40)
            .map(|i| finding(&format!("sg-{i:03}"), FindingKind::RotationDue, Severity::Warning, None))
            .collect();
        let plans: Vec<GroupAlerts> =
            many.iter().map(|f| plan(&f.stream_group_id, vec![(f.clone(), AlertReason::New)])).collect();
        let digest = build(&plans, &many, &["us-west-2".into()], at());
        let chat = digest.chat_notification();
        validate(&chat);
        let description = chat["content"]["description"].as_str().unwrap();
        assert_eq!(description.matches("    ◦ ").count(), MAX_CHAT_LINES);
        assert!(description.contains("…and 15 more"), "{description}");
        assert_eq!(digest.email_text().matches("    - rotation_due [new]").count(), 40);
    }

    #[test]
    fn the_schema_refuses_what_chatbot_would_drop() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let good = json!({ "version": "1.0", "source": "custom", "content": { "description": "x" } });
        assert!(validator.is_valid(&good));
        for bad in [
            json!({ "version": "2.0", "source": "custom", "content": { "description": "x" } }),
            json!({ "version": "1.0", "source": "aws", "content": { "description": "x" } }),
            json!({ "version": "1.0", "source": "custom", "content": { "title": "no description" } }),
            json!({ "version": "1.0", "source": "custom", "content": { "description": "x", "textType": "html" } }),
            json!({ "version": "1.0", "source": "custom", "content": { "description": "x", "nextStep": ["typo"] } }),
            json!({ "version": "1.0", "source": "custom", "content": { "description": "x" }, "metadata": { "additionalContext": { "n": 1 } } }),
        ] {
            assert!(!validator.is_valid(&bad), "{bad}");
        }
    }
}
