//! The deployment's settings for a run: dry run, the per-run limit, the actions topic, the
//! health namespace. `env_config` builds them from the environment; the runner only reads
//! them (settings flow one way).

use super::plan::Step;

/// A request may ask for a dry run; only the deployment can turn dry run off.
pub fn effective_dry_run(configured: bool, requested: Option<bool>) -> bool {
    configured || requested == Some(true)
}

/// What counts against the per-run limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Mutating API calls (the recycler's MAX_MUTATIONS_PER_RUN).
    MutatingCalls(usize),
    /// Steps (the trimmer's MAX_CHANGES_PER_RUN: location changes and session ends).
    Steps(usize),
}

impl Limit {
    pub(super) fn max(self) -> usize {
        match self {
            Self::MutatingCalls(n) | Self::Steps(n) => n,
        }
    }

    pub(super) fn cost<K>(self, step: &Step<K>) -> usize {
        match self {
            Self::MutatingCalls(_) => step.effect.mutating_calls(),
            Self::Steps(_) => 1,
        }
    }
}

/// The deployment's settings for a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub function: &'static str,
    pub dry_run: bool,
    pub limit: Limit,
    pub actions_topic_arn: Option<String>,
    /// The EventBridge bus each executed step is put on (`EVENT_BUS_NAME`).
    pub event_bus: Option<String>,
    /// Publish the plan of a dry run to the actions topic.
    pub publish_plan: bool,
    /// Where the run's health metrics go (StepsDone, StepsFailed, StepsDeferred, StepsBlocked,
    /// Problems).
    pub metric_namespace: String,
    /// A run whose steps fail, when steps also failed in an earlier run this recent, fails
    /// its invocation (the function-errors alarm); `None` never fails on that account.
    pub repeated_failure_window: Option<chrono::Duration>,
}
