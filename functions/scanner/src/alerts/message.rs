//! What a per-finding alert says: its subject, the text people read and the JSON programs
//! read, in one SNS message (the digest's forms are in `digest`).

use super::policy::AlertReason;
use serde_json::json;
use watchdog_core::findings::Finding;
use watchdog_core::ports::{Message, attributes};

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
pub fn message(finding: &Finding, why: AlertReason) -> Message {
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

fn message_body(finding: &Finding, why: AlertReason) -> String {
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
