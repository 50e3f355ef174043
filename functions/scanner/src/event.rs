//! What can invoke the scanner: an EventBridge scheduled event, EventBridge Scheduler with the
//! explicit input the template sets, or a person or program with overrides. Errors name the
//! field and the expected form.

use crate::config::is_region_name;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use watchdog_core::event_fields;

pub use watchdog_core::event_fields::EventError;

const EVENT: &str = "scan";

fn error(field: impl Into<String>, problem: impl Into<String>) -> EventError {
    EventError { event: EVENT, field: field.into(), problem: problem.into() }
}

/// Overrides a direct invocation (or a schedule's input) may carry. Unknown fields are refused.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// `schedule` for scheduled runs; anything else is a manual run. Only reported.
    pub trigger: Option<String>,
    /// Compute everything, publish nothing (no metrics, no alerts, no alert-memory tags).
    pub dry_run: Option<bool>,
    /// Scan only these configured regions.
    pub regions: Option<Vec<String>>,
    /// Scan only these stream groups (ids or ARNs).
    pub stream_groups: Option<Vec<String>>,
    /// One target of an organisation's scan, as the hub's state machine sends it: another
    /// account's region, read with that account's spoke role (org/hub.yaml).
    pub target: Option<ScanTarget>,
}

/// An (account, region) of the organisation and the read role to assume there.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScanTarget {
    pub account: String,
    pub region: String,
    /// The spoke's read role, the same name in every account (org/spoke.yaml ReadRoleName).
    pub role_name: String,
}

impl ScanTarget {
    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/{}", self.account, self.role_name)
    }

    /// What is wrong with this target, if anything: the field and why.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Some(("account", format!("{:?} is not a 12-digit account id", self.account)));
        }
        if !is_region_name(&self.region) {
            return Some(("region", format!("{:?} is not a region name such as us-west-2", self.region)));
        }
        let valid_role = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        if self.role_name.is_empty() || self.role_name.len() > 64 || !self.role_name.chars().all(valid_role) {
            return Some(("role_name", format!("{:?} is not an IAM role name", self.role_name)));
        }
        None
    }
}

fn deserialize<T: for<'de> Deserialize<'de>>(value: Value, prefix: &str) -> Result<T, EventError> {
    event_fields::deserialize(value, prefix).map_err(|e| e.in_event(EVENT))
}

/// Parses any accepted event into a scan request.
pub fn parse(event: Value) -> Result<ScanRequest, EventError> {
    let request = if event_fields::object(&event, EVENT)?.contains_key("detail-type") {
        // An EventBridge event; a scheduled rule's detail is empty, a custom one may carry overrides.
        let envelope: EventBridgeEvent<Value> = deserialize(event, "")?;
        let mut request = match envelope.detail {
            Value::Object(map) if !map.is_empty() => deserialize(Value::Object(map), "detail")?,
            _ => ScanRequest::default(),
        };
        if envelope.detail_type == "Scheduled Event" && request.trigger.is_none() {
            request.trigger = Some("schedule".into());
        }
        request
    } else {
        deserialize::<ScanRequest>(event, "")?
    };
    validate(&request)?;
    Ok(request)
}

fn validate(request: &ScanRequest) -> Result<(), EventError> {
    if let Some(regions) = &request.regions {
        if regions.is_empty() {
            return Err(error("regions", "must name at least one region, or be left out"));
        }
        if let Some((i, bad)) = regions.iter().enumerate().find(|(_, r)| !is_region_name(r)) {
            return Err(error(format!("regions[{i}]"), format!("{bad:?} is not a region name such as us-west-2")));
        }
    }
    if let Some(target) = &request.target {
        if request.regions.is_some() {
            return Err(error("regions", "a target names its own region; leave regions out"));
        }
        if let Some((field, problem)) = target.problem() {
            return Err(error(format!("target.{field}"), problem));
        }
    }
    event_fields::check_optional_group_names(EVENT, &request.stream_groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use watchdog_core::testkit::event_fixture as fixture;

    #[test]
    fn every_fixture_in_events_parses() {
        let scheduled = parse(fixture("scanner-scheduled-event.json")).unwrap();
        assert_eq!(scheduled.trigger.as_deref(), Some("schedule"));
        assert_eq!(scheduled.dry_run, None);
        let scheduler = parse(fixture("scanner-scheduler-input.json")).unwrap();
        assert_eq!(scheduler.trigger.as_deref(), Some("schedule"));
        let dry = parse(fixture("scanner-dry-run.json")).unwrap();
        assert_eq!(dry.dry_run, Some(true));
        assert_eq!(dry.regions.as_deref(), Some(&["us-west-2".to_owned()][..]));
        let one = parse(fixture("scanner-one-group.json")).unwrap();
        assert_eq!(one.stream_groups.unwrap().len(), 1);
    }

    #[test]
    fn a_target_names_a_12_digit_account_a_region_and_a_role() {
        let target = json!({ "account": "222233334444", "region": "us-west-2", "role_name": "gls-watchdog-read" });
        let request = parse(json!({ "trigger": "organisation", "target": target })).unwrap();
        assert_eq!(request.target.unwrap().role_arn(), "arn:aws:iam::222233334444:role/gls-watchdog-read");
        let bad = json!({ "target": { "account": "2222", "region": "us-west-2", "role_name": "r" } });
        assert_eq!(parse(bad).unwrap_err().field, "target.account");
        let both = json!({ "regions": ["us-west-2"], "target": target });
        assert_eq!(parse(both).unwrap_err().field, "regions");
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(json!({ "dry_run": "yes" })).unwrap_err();
        assert_eq!(err.field, "dry_run");
        assert!(err.problem.contains("expected a boolean"), "{err}");
        let err = parse(json!({ "region": ["us-west-2"] })).unwrap_err();
        assert!(err.problem.contains("unknown field `region`"), "{err}");
        let err = parse(json!({ "regions": ["us-west-2", "mars"] })).unwrap_err();
        assert_eq!(err.to_string(), "invalid scan event: regions[1]: \"mars\" is not a region name such as us-west-2");
        let err = parse(json!({ "stream_groups": ["group-1"] })).unwrap_err();
        assert_eq!(err.field, "stream_groups[0]");
        let err = parse(json!([1, 2])).unwrap_err();
        assert_eq!(err.field, "(event)");
        let mut scheduled = fixture("scanner-scheduled-event.json");
        scheduled["detail"] = json!({ "dry_run": 1 });
        assert_eq!(parse(scheduled).unwrap_err().field, "detail.dry_run");
    }
}
