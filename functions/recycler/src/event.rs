//! What invokes the recycler: its schedule, the scanner's findings through SNS, or a person
//! with overrides. Errors name the field.

use aws_lambda_events::sns::SnsEvent;
use serde::Deserialize;
use serde_json::Value;
use watchdog_core::event_fields::{self, RunRequest};
use watchdog_core::findings::FindingKind;

pub use watchdog_core::event_fields::EventError;

/// The recycler takes what every remediation function takes.
pub type RecycleRequest = RunRequest;

const EVENT: &str = "recycler";

fn error(field: impl Into<String>, problem: impl Into<String>) -> EventError {
    EventError { event: EVENT, field: field.into(), problem: problem.into() }
}

/// Finding kinds the recycler acts on (the template's SNS filter policy lists the same).
pub const ACTS_ON: [FindingKind; 4] = [
    FindingKind::RotationDue,
    FindingKind::AssociationCutoffSoon,
    FindingKind::ExpirySoon,
    FindingKind::ActiveWithErrors,
];

fn deserialize<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, EventError> {
    event_fields::deserialize(value, "").map_err(|e| e.in_event(EVENT))
}

pub fn parse(event: Value) -> Result<RecycleRequest, EventError> {
    if event_fields::object(&event, EVENT)?.contains_key("Records") {
        // Findings from the scanner: reconcile the groups they name.
        let sns: SnsEvent = deserialize(event)?;
        let mut groups = Vec::new();
        for (i, record) in sns.records.iter().enumerate() {
            let payload: Value = serde_json::from_str(&record.sns.message).map_err(|e| {
                error(format!("Records[{i}].Sns.Message"), format!("not the scanner's JSON payload: {e}"))
            })?;
            let kind = payload["finding"]["kind"].as_str().and_then(FindingKind::parse);
            let group = payload["finding"]["stream_group_arn"].as_str();
            match (kind, group) {
                (Some(kind), Some(group)) if ACTS_ON.contains(&kind) => groups.push(group.to_owned()),
                (Some(_), Some(_)) => {}
                _ => {
                    return Err(error(
                        format!("Records[{i}].Sns.Message"),
                        "expected {\"finding\": {\"kind\": ..., \"stream_group_arn\": ...}}",
                    ));
                }
            }
        }
        groups.sort();
        groups.dedup();
        return Ok(RecycleRequest { trigger: Some("finding".into()), dry_run: None, stream_groups: Some(groups) });
    }
    event_fields::run_request(event, EVENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use watchdog_core::testkit::event_fixture as fixture;

    #[test]
    fn fixtures_parse() {
        let finding = parse(fixture("recycler-sns-finding.json")).unwrap();
        assert_eq!(finding.trigger.as_deref(), Some("finding"));
        assert_eq!(
            finding.stream_groups.unwrap(),
            ["arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-RACER0001"]
        );
        assert_eq!(parse(fixture("recycler-dry-run.json")).unwrap().dry_run, Some(true));
        assert_eq!(parse(fixture("scanner-scheduled-event.json")).unwrap().trigger.as_deref(), Some("schedule"));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(json!({ "dry_run": "maybe" })).unwrap_err();
        assert_eq!(err.field, "dry_run");
        let err = parse(json!({ "Records": [{ "Sns": { "Message": "hello" } }] })).unwrap_err();
        assert!(err.field.starts_with("Records"), "{err}");
    }
}
