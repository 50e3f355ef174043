//! What invokes the trimmer: its schedule (EventBridge or Scheduler input) or a person with
//! overrides. Errors name the field.

use serde::Deserialize;
use serde_json::Value;
use watchdog_core::event_fields;

pub use watchdog_core::event_fields::EventError;

const EVENT: &str = "trimmer";

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimRequest {
    #[serde(default)]
    pub trigger: Option<String>,
    /// Asks for a dry run; a request cannot turn the deployment's dry run off.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Only these groups (ids or ARNs).
    #[serde(default)]
    pub stream_groups: Option<Vec<String>>,
}

pub fn parse(event: Value) -> Result<TrimRequest, EventError> {
    let Value::Object(object) = &event else {
        return Err(EventError { event: EVENT, field: "(event)".into(), problem: "expected a JSON object".into() });
    };
    if object.contains_key("detail-type") {
        return Ok(TrimRequest { trigger: Some("schedule".into()), ..TrimRequest::default() });
    }
    let request: TrimRequest = event_fields::deserialize(event, "").map_err(|e| e.in_event(EVENT))?;
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
        assert_eq!(parse(fixture("trimmer-scheduler-input.json")).unwrap().trigger.as_deref(), Some("schedule"));
        assert_eq!(parse(fixture("trimmer-dry-run.json")).unwrap().dry_run, Some(true));
        assert_eq!(parse(fixture("scanner-scheduled-event.json")).unwrap().trigger.as_deref(), Some("schedule"));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(parse(json!({ "stream_groups": "sg-1" })).unwrap_err().field, "stream_groups");
        assert_eq!(parse(json!({ "dryrun": true })).unwrap_err().field, "dryrun");
    }
}
