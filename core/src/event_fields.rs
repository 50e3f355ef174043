//! Reading Lambda events so that an error names the field at fault
//! (`regions[1]`, `detail.dry_run`, `Records[0].Sns.Message`) and what was expected.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A field of an event and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// An event a function cannot act on: which function's event, the field, the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {event} event: {field}: {problem}")]
pub struct EventError {
    /// `scan`, `recycler`, `trimmer`.
    pub event: &'static str,
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn in_event(self, event: &'static str) -> EventError {
        EventError { event, field: self.field, problem: self.problem }
    }
}

/// Deserializes `value`; `prefix` is where it sits in the event ("" for the whole event).
pub fn deserialize<T: for<'de> Deserialize<'de>>(value: Value, prefix: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "(event)".to_owned(),
            (true, _) => path,
            (false, ".") => prefix.to_owned(),
            (false, _) => format!("{prefix}.{path}"),
        };
        FieldError { field, problem: e.into_inner().to_string() }
    })
}

/// What a person, a program or a schedule may ask of a remediation function.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// `schedule` for scheduled runs; anything else is a manual run. Only reported.
    pub trigger: Option<String>,
    /// Asks for a dry run; a request cannot turn the deployment's dry run off.
    pub dry_run: Option<bool>,
    /// Only these groups (ids or ARNs).
    pub stream_groups: Option<Vec<String>>,
}

/// The event as a JSON object, or an error saying it is not one.
pub fn object<'a>(event: &'a Value, name: &'static str) -> Result<&'a Map<String, Value>, EventError> {
    event.as_object().ok_or_else(|| EventError {
        event: name,
        field: "(event)".into(),
        problem: "expected a JSON object (a scheduled event or a request)".into(),
    })
}

/// A run request: an EventBridge event (a scheduled run), or a request whose unknown fields
/// are refused and whose group names are checked.
pub fn run_request(event: Value, name: &'static str) -> Result<RunRequest, EventError> {
    if object(&event, name)?.contains_key("detail-type") {
        return Ok(RunRequest { trigger: Some("schedule".into()), ..RunRequest::default() });
    }
    let request: RunRequest = deserialize(event, "").map_err(|e| e.in_event(name))?;
    check_optional_group_names(name, &request.stream_groups)?;
    Ok(request)
}

/// [`check_group_names`] where the request names groups.
pub fn check_optional_group_names(name: &'static str, names: &Option<Vec<String>>) -> Result<(), EventError> {
    names.as_deref().map_or(Ok(()), |names| check_group_names(name, "stream_groups", names))
}

/// A stream group id (`sg-` and up to 29 letters or digits) or a GameLift Streams stream
/// group ARN.
pub fn is_group_identifier(name: &str) -> bool {
    let is_id = |id: &str| {
        id.len() <= 32
            && id
                .strip_prefix("sg-")
                .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    };
    is_id(name)
        || (name.starts_with("arn:aws:gameliftstreams:")
            && name.split_once(":streamgroup/").is_some_and(|(_, id)| is_id(id))
            && name.len() <= 128)
}

/// The most groups one request may name: a report about each stays well within Lambda's
/// 6 MB response limit.
pub const MAX_NAMED_GROUPS: usize = 100;

/// Checks the `stream_groups` of a request: at least one, at most [`MAX_NAMED_GROUPS`], each
/// an id or ARN.
pub fn check_group_names(event: &'static str, field: &str, names: &[String]) -> Result<(), EventError> {
    if names.len() > MAX_NAMED_GROUPS {
        return Err(EventError {
            event,
            field: field.to_owned(),
            problem: format!("names {} stream groups; at most {MAX_NAMED_GROUPS} per request", names.len()),
        });
    }
    if names.is_empty() {
        return Err(EventError {
            event,
            field: field.to_owned(),
            problem: "must name at least one stream group, or be left out".into(),
        });
    }
    match names.iter().enumerate().find(|(_, g)| !is_group_identifier(g)) {
        Some((i, bad)) => Err(EventError {
            event,
            field: format!("{field}[{i}]"),
            problem: format!("{bad:?} is not a stream group id (sg-...) or ARN"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Request {
        dry_run: Option<bool>,
        regions: Option<Vec<String>>,
    }

    #[test]
    fn the_path_names_the_field() {
        let err = deserialize::<Request>(json!({ "regions": ["a", 2] }), "").unwrap_err();
        assert_eq!(err.field, "regions[1]");
        let err = deserialize::<Request>(json!({ "dry_run": 1 }), "detail").unwrap_err();
        assert_eq!(err.field, "detail.dry_run");
        let err = deserialize::<Request>(json!(3), "").unwrap_err();
        assert_eq!(err.field, "(event)");
    }

    #[test]
    fn group_names_are_ids_or_arns() {
        assert!(is_group_identifier("sg-RACER0001"));
        assert!(is_group_identifier("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-RACER0001"));
        for bad in ["../../x", "sg-", "sg-a/b", "group-1", "arn:aws:gameliftstreams:us-west-2:1:streamgroup/../x"] {
            assert!(!is_group_identifier(bad), "{bad}");
        }
        let err = check_group_names("recycler", "stream_groups", &["sg-A".into(), "../../x".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid recycler event: stream_groups[1]: \"../../x\" is not a stream group id (sg-...) or ARN"
        );
    }
}
