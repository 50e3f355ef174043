//! A plan and its steps: the planner's output (pure) and the executor's input.

use super::effect::Effect;
use serde::Serialize;
use serde_json::{Map, Value};

/// What a function's step kinds tell the runner. A step kind serializes as an object tagged
/// with its name (`#[serde(tag = "action", rename_all = "snake_case")]`).
pub trait StepKind: Serialize + Clone + Send + Sync {
    /// The step's name in reports, logs and the `action` message attribute: its serde tag.
    fn name(&self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields.get("action").and_then(Value::as_str).unwrap_or("unnamed").to_owned(),
            _ => "unnamed".to_owned(),
        }
    }
    /// Figures announced with the step and summed in the report (e.g. capacity-hours saved).
    fn figures(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// One step of a plan: what it is (`kind`, the function's own type), where, why, and its
/// whole effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step<K> {
    pub stream_group: String,
    pub stream_group_arn: String,
    pub region: String,
    #[serde(flatten)]
    pub kind: K,
    pub reason: String,
    /// Steps of one sequence (one group's recreation, say) stop at the first that fails.
    #[serde(skip)]
    pub sequence: String,
    /// Consecutive steps with the same batch run as one call.
    #[serde(skip)]
    pub batch: Option<String>,
    #[serde(skip)]
    pub effect: Effect,
    /// What the report says when the step is done ([`CREATED_GROUP_ID`] is replaced).
    #[serde(skip)]
    pub done: String,
}

/// A group the plan leaves alone this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub stream_group: String,
    pub note: String,
}

/// Work the function wants to do but cannot until someone acts (a quota, an application in
/// ERROR, an acknowledgement): counted in the `StepsBlocked` health metric every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub stream_group: String,
    /// `quota`, `validation`, `tag_limit`, `application_not_ready`, `awaiting_ack`, ...
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan<K> {
    pub items: Vec<Step<K>>,
    /// What would be done in groups the function may not change (CloudFormation's): never done.
    pub reported_only: Vec<Step<K>>,
    pub notes: Vec<Note>,
    pub blocked: Vec<Blocked>,
}

impl<K> Default for Plan<K> {
    fn default() -> Self {
        Self { items: Vec::new(), reported_only: Vec::new(), notes: Vec::new(), blocked: Vec::new() }
    }
}

impl<K> Plan<K> {
    pub fn note(&mut self, stream_group: &str, note: impl Into<String>) {
        self.notes.push(Note { stream_group: stream_group.to_owned(), note: note.into() });
    }

    pub(super) fn extend(&mut self, other: Plan<K>) {
        self.items.extend(other.items);
        self.reported_only.extend(other.reported_only);
        self.notes.extend(other.notes);
        self.blocked.extend(other.blocked);
    }
}
