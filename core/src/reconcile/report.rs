//! What a run returns and how it fails: the report, its health metrics and its error types.

use super::plan::{Plan, Step, StepKind};
use crate::event_fields::EventError;
use crate::ports::{CallCounts, Datum, Unit};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Executed<K> {
    #[serde(flatten)]
    pub step: Step<K>,
    pub outcome: String,
}

/// What a run returns.
#[derive(Debug, Serialize)]
pub struct Report<K> {
    pub function: &'static str,
    pub trigger: String,
    pub dry_run: bool,
    pub now: String,
    /// Everything the run decided, in order.
    pub plan: Plan<K>,
    pub executed: Vec<Executed<K>>,
    /// Planned but not done: a step before it failed, or the per-run limit was reached.
    pub deferred: Vec<Step<K>>,
    pub errors: Vec<String>,
    /// Steps whose execution failed this run (their sequences are deferred).
    pub failed_steps: usize,
    pub mutating_calls: usize,
    pub api_calls: CallCounts,
    /// The steps' figures summed: over what was done, or over the plan in a dry run.
    #[serde(flatten)]
    pub totals: Map<String, Value>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    #[error("cannot read the clock: {0}")]
    Clock(String),
    /// The run finished but its report or announcements could not be published.
    #[error("the run finished but publishing failed: {0}")]
    Publish(String),
    /// The run saw too little to be trusted (a region it could not list, most groups unread).
    #[error("the scan is incomplete: {0}")]
    Incomplete(String),
    /// Steps failed in this run and in an earlier one within the repeated-failure window.
    #[error("steps keep failing: {0}")]
    StepsFailing(String),
}

impl RunError {
    /// The Lambda error type alarms and callers see.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::Clock(_) => "ClockUnavailable",
            Self::Publish(_) => "PublishFailed",
            Self::Incomplete(_) => "ScanIncomplete",
            Self::StepsFailing(_) => "StepsFailing",
        }
    }
}

/// A run's health metrics, by function: steps done, failed, deferred and blocked, and the
/// problems reported (observation errors included). Five custom metrics per function.
pub fn health<K>(report: &Report<K>) -> Vec<Datum> {
    let datum = |name, value: usize| Datum {
        name,
        dimensions: vec![("Function", report.function.to_owned())],
        value: value as f64,
        unit: Unit::Count,
    };
    vec![
        datum("StepsDone", report.executed.len()),
        datum("StepsFailed", report.failed_steps),
        datum("StepsDeferred", report.deferred.len()),
        datum("StepsBlocked", report.plan.blocked.len()),
        datum("Problems", report.errors.len()),
    ]
}

pub(super) fn totals<K: StepKind>(kinds: Vec<&K>) -> Map<String, Value> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for kind in kinds {
        for (name, value) in kind.figures() {
            *sums.entry(name).or_default() += value.as_f64().unwrap_or(0.0);
        }
    }
    sums.into_iter().map(|(name, sum)| (name, json!((sum * 100.0).round() / 100.0))).collect()
}
