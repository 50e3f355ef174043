//! Alerts on SNS without an alert storm. The memory of what was sent lives on each stream
//! group itself, in tags the watchdog owns (`watchdog:alert:<kind>[:<location>]` =
//! `<severity>|<epoch seconds>`): no database. A finding is sent when it is new, when its
//! severity rose, or when the re-send interval has passed since it was last sent.

use aws_sdk_sns::types::PublishBatchRequestEntry;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use watchdog_shared::findings::{Finding, Severity};
use watchdog_shared::sns::string_attribute;

/// SNS PublishBatch takes at most ten messages.
const BATCH: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRecord {
    pub severity: Severity,
    pub sent_at: DateTime<Utc>,
}

impl AlertRecord {
    pub fn tag_value(&self) -> String {
        format!("{}|{}", self.severity, self.sent_at.timestamp())
    }

    pub fn parse(value: &str) -> Option<Self> {
        let (severity, epoch) = value.split_once('|')?;
        Some(Self { severity: Severity::parse(severity)?, sent_at: DateTime::from_timestamp(epoch.parse().ok()?, 0)? })
    }
}

/// The alert memory held in a group's tags, by dedup key. Unreadable values are ignored
/// (the alert is then sent again, which is better than never).
pub fn memory(tags: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, AlertRecord> {
    tags.iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(prefix)?.to_owned(), AlertRecord::parse(value)?)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    New,
    SeverityRose,
    ResendDue,
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
    pub send: Vec<(Finding, Why)>,
    pub suppressed: Vec<Finding>,
    /// Tags to set once the sends succeed.
    pub remember: BTreeMap<String, String>,
    /// Memory of findings that no longer hold, so a recurrence alerts again.
    pub forget: Vec<String>,
}

pub fn plan(
    findings: &[&Finding],
    tags: &BTreeMap<String, String>,
    prefix: &str,
    now: DateTime<Utc>,
    resend: Duration,
) -> GroupAlerts {
    let memory = memory(tags, prefix);
    let mut plan = GroupAlerts::default();
    for finding in findings {
        let key = finding.dedup_key();
        match should_send(finding, memory.get(&key), now, resend) {
            Some(why) => {
                plan.remember.insert(
                    format!("{prefix}{key}"),
                    AlertRecord { severity: finding.severity, sent_at: now }.tag_value(),
                );
                plan.send.push(((*finding).clone(), why));
            }
            None => plan.suppressed.push((*finding).clone()),
        }
    }
    let current: Vec<String> = findings.iter().map(|f| f.dedup_key()).collect();
    plan.forget = memory.keys().filter(|k| !current.contains(k)).map(|k| format!("{prefix}{k}")).collect();
    plan
}

/// SNS subjects: at most 100 printable ASCII characters.
pub fn subject(finding: &Finding) -> String {
    let text = format!(
        "[GameLift Streams watchdog] {} {}: {}",
        finding.severity.as_str().to_uppercase(),
        finding.kind,
        finding.stream_group_id
    );
    text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(100).collect()
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
/// (`MessageStructure: json`: e-mail gets the text; SQS, Lambda and HTTP get the JSON).
pub fn message(finding: &Finding, why: Why) -> String {
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

/// Publishes findings in batches of ten, a few batches at a time; returns, per finding,
/// whether SNS accepted it, and the errors.
pub async fn publish(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    findings: &[(Finding, Why)],
) -> (Vec<bool>, Vec<String>) {
    let results: Vec<(usize, Result<aws_sdk_sns::operation::publish_batch::PublishBatchOutput, String>)> =
        futures::stream::iter(findings.chunks(BATCH).enumerate())
            .map(|(batch_index, batch)| async move {
                let entries: Vec<PublishBatchRequestEntry> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, (finding, why))| {
                        PublishBatchRequestEntry::builder()
                            .id(format!("f{i}"))
                            .subject(subject(finding))
                            .message(message(finding, *why))
                            .message_structure("json")
                            .message_attributes("kind", string_attribute(finding.kind.as_str()))
                            .message_attributes("severity", string_attribute(finding.severity.as_str()))
                            .message_attributes("stream_group", string_attribute(&finding.stream_group_id))
                            .message_attributes("region", string_attribute(&finding.region))
                            .build()
                            .expect("id and message are set")
                    })
                    .collect();
                let sent = client
                    .publish_batch()
                    .topic_arn(topic_arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| {
                        format!("PublishBatch: {}", aws_smithy_types::error::display::DisplayErrorContext(&e))
                    });
                (batch_index, sent)
            })
            .buffer_unordered(crate::metrics::PUBLISH_CONCURRENCY)
            .collect()
            .await;
    let mut accepted = vec![false; findings.len()];
    let mut errors = Vec::new();
    for (batch_index, result) in results {
        match result {
            Ok(out) => {
                for ok in out.successful() {
                    if let Some(i) = ok.id().and_then(|id| id.strip_prefix('f')).and_then(|i| i.parse::<usize>().ok()) {
                        accepted[batch_index * BATCH + i] = true;
                    }
                }
                for failed in out.failed() {
                    errors.push(format!("SNS refused {}: {}", failed.id(), failed.message().unwrap_or(failed.code())));
                }
            }
            Err(error) => errors.push(error),
        }
    }
    (accepted, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchdog_shared::findings::FindingKind;

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
        let plan = plan(&[&rotation, &idle], &tags, prefix, at(2), Duration::hours(24));
        assert_eq!(plan.send.len(), 1);
        assert_eq!(plan.send[0].0.dedup_key(), "idle_capacity:us-west-2");
        assert_eq!(plan.suppressed, [rotation]);
        assert_eq!(plan.remember["watchdog:alert:idle_capacity:us-west-2"], format!("warning|{}", at(2).timestamp()));
        assert_eq!(plan.forget, ["watchdog:alert:idle_capacity:us-east-1"]);
    }

    #[test]
    fn memory_ignores_foreign_and_unreadable_tags() {
        let tags = BTreeMap::from([
            ("watchdog:alert:expired".to_owned(), "bogus".to_owned()),
            ("watchdog:alert:rotation_due".to_owned(), "high|1800000000".to_owned()),
            ("owner".to_owned(), "high|1".to_owned()),
        ]);
        let memory = memory(&tags, "watchdog:alert:");
        assert_eq!(memory.len(), 1);
        assert_eq!(memory["rotation_due"].severity, Severity::High);
    }

    #[test]
    fn messages_carry_text_for_people_and_json_for_programs() {
        let f = finding(FindingKind::IdleCapacity, Severity::Warning, Some("us-west-2"));
        let subject = subject(&f);
        assert_eq!(subject, "[GameLift Streams watchdog] WARNING idle_capacity: sg-A");
        let structured: serde_json::Value = serde_json::from_str(&message(&f, Why::New)).unwrap();
        assert!(structured["default"].as_str().unwrap().contains("Recommended action: Recreate it."));
        assert!(structured["email"].as_str().unwrap().contains("Location: us-west-2"));
        let payload: serde_json::Value = serde_json::from_str(structured["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(payload["finding"]["kind"], "idle_capacity");
        assert_eq!(payload["why"], "new");
    }
}
