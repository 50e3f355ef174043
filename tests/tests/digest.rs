//! Digests through the real path: the scanner under cargo lambda, the emulator, and LocalStack's
//! SNS delivering the digest topic and the findings topic to SQS queues. What lands is checked
//! against the chat custom-notification schema in `schemas/`.

use serde_json::Value;
use std::time::Duration;
use watchdog_tests::lambda::{LambdaWatch, QueuedMessage, workspace_root};
use watchdog_tests::quick_config;
use watchdog_tests::stage::Stage;

const SCANNER: &str = "gls-watchdog-scanner";

const FLEET: &str = include_str!("../fleets/digest.toml");

fn validator() -> jsonschema::Validator {
    let path = workspace_root().join("schemas/chatbot-custom-notification.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, digest: &QueuedMessage) {
    let errors: Vec<String> = validator.iter_errors(&digest.payload).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{:#}", digest.payload);
}

/// (group, kind) of every finding line, each under its group's `• \`sg-...\`` heading.
fn named_findings(description: &str) -> Vec<(String, String)> {
    let mut group = String::new();
    let mut named = Vec::new();
    for line in description.lines() {
        if let Some(heading) = line.strip_prefix("• `") {
            group = heading.split('`').next().unwrap_or_default().to_owned();
        } else if let Some(entry) = line.strip_prefix("    ◦ ") {
            let kind = entry.split([' ', ':']).next().unwrap_or_default();
            named.push((group.clone(), kind.to_owned()));
        }
    }
    named
}

fn description(digest: &QueuedMessage) -> &str {
    digest.payload["content"]["description"].as_str().expect("a description")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_digest_per_scan_with_news_none_when_unchanged_and_one_naming_an_escalation() {
    // GIVEN the scanner with digests and per-finding messages, each topic drained by a queue
    let stage = Stage::frozen(quick_config(), Some(FLEET)).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    let (digest_topic, digest_queue) = stage.topic("digest").await;
    let (findings_topic, findings_queue) = stage.topic("findings").await;
    let env = stage.env(
        "Digest",
        &[("FINDINGS_TOPIC_ARN", &findings_topic), ("DIGEST_TOPIC_ARN", &digest_topic), ("ALERT_DELIVERY", "both")],
    );
    let watch = LambdaWatch::start("digest", &env);
    let validator = validator();

    // WHEN the first scan runs THEN one digest names every finding, and machines get one each
    let first = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan");
    let findings = first["findings"].as_array().unwrap();
    assert!(findings.len() >= 5, "{findings:#?}");
    assert_eq!(first["digest"]["sent"], true, "{:#}", first["digest"]);
    let digests = aws.drain(&digest_queue, Duration::from_secs(2)).await;
    assert_eq!(digests.len(), 1, "one digest for the scan: {digests:#?}");
    let digest = &digests[0];
    assert_valid(&validator, digest);
    assert_eq!(digest.attribute("type"), Some("digest"));
    assert_eq!(digest.attribute("severity"), Some("critical"), "sg-BROKEN001 is in ERROR");
    assert_eq!(digest.subject.as_deref(), Some(format!("[GameLift Streams watchdog] {} new", findings.len()).as_str()));
    let text = description(digest);
    let named = named_findings(text);
    for finding in findings {
        let (group, kind) = (finding["stream_group_id"].as_str().unwrap(), finding["kind"].as_str().unwrap());
        assert!(named.contains(&(group.to_owned(), kind.to_owned())), "{kind} of {group} missing from\n{text}");
    }
    assert_eq!(named.len(), findings.len(), "each once: {text}");
    assert!(text.find("*Critical*").unwrap() < text.find("*Warning*").unwrap(), "{text}");
    let per_finding = aws.drain(&findings_queue, Duration::from_secs(2)).await;
    assert_eq!(per_finding.len(), findings.len(), "per-finding messages stay for machine subscribers");

    // WHEN nothing changed THEN no digest and no message
    let again = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan");
    assert_eq!(again["digest"]["sent"], false);
    assert_eq!(again["digest"]["still_open"].as_u64(), Some(findings.len() as u64));
    assert!(aws.drain(&digest_queue, Duration::from_secs(2)).await.is_empty());
    assert!(aws.drain(&findings_queue, Duration::from_secs(1)).await.is_empty());

    // WHEN twelve hours pass and expiry_soon rises to high THEN one digest names the escalation,
    // and the idle always-on capacity its players left behind (their sessions ended) as new
    emu.advance_days(0.5).await;
    let later = watch.invoke_file(SCANNER, "scanner-scheduled-event.json").await.expect("scan");
    assert_eq!(later["digest"]["escalated"], 1, "{:#}", later["digest"]);
    let digests = aws.drain(&digest_queue, Duration::from_secs(2)).await;
    assert_eq!(digests.len(), 1);
    assert_valid(&validator, &digests[0]);
    assert_eq!(digests[0].subject.as_deref(), Some("[GameLift Streams watchdog] 1 new, 1 escalated"));
    let new = named_findings(description(&digests[0]));
    assert!(new.contains(&("sg-EXPIRING1".to_owned(), "idle_capacity".to_owned())), "{new:?}");
    assert_eq!(digests[0].attribute("severity"), Some("high"));
    let text = description(&digests[0]);
    assert!(text.contains("`sg-EXPIRING1`") && text.contains("expiry_soon _escalated from warning_"), "{text}");
    assert!(text.contains(&format!("*Still open, not repeated here:* {}", findings.len() - 1)), "{text}");
}
