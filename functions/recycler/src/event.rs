//! What invokes the recycler: its schedule, the scanner's findings through SNS, or a person
//! with overrides. Errors name the field.

use aws_lambda_events::sns::SnsEvent;
use serde::Deserialize;
use serde_json::Value;
use watchdog_core::event_fields;
use watchdog_core::findings::FindingKind;

pub use watchdog_core::event_fields::EventError;

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

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecycleRequest {
    #[serde(default)]
    pub trigger: Option<String>,
    /// Overrides DRY_RUN for this invocation (only towards safety: a request can always
    /// ask for a dry run; it can ask for a real run only where DRY_RUN=false).
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Reconcile only these groups (ids or ARNs).
    #[serde(default)]
    pub stream_groups: Option<Vec<String>>,
}

fn deserialize<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, EventError> {
    event_fields::deserialize(value, "").map_err(|e| e.in_event(EVENT))
}

pub fn parse(event: Value) -> Result<RecycleRequest, EventError> {
    let Value::Object(object) = &event else {
        return Err(error("(event)", "expected a JSON object"));
    };
    if object.contains_key("Records") {
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
    if object.contains_key("detail-type") {
        return Ok(RecycleRequest { trigger: Some("schedule".into()), ..RecycleRequest::default() });
    }
    let request: RecycleRequest = deserialize(event)?;
    if let Some(groups) = &request.stream_groups {
        event_fields::check_group_names(EVENT, "stream_groups", groups)?;
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

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
