//! What invokes the trimmer: its schedule (EventBridge or Scheduler input) or a person with
//! overrides. Errors name the field.

use serde_json::Value;
use watchdog_core::event_fields::{self, EventError, RunRequest};

/// The trimmer takes what every remediation function takes.
pub type TrimRequest = RunRequest;

pub fn parse(event: Value) -> Result<TrimRequest, EventError> {
    event_fields::run_request(event, "trimmer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use watchdog_core::testkit::event_fixture as fixture;

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
