//! What a remediation function supplies to the runner: how it observes and plans one region.
//! The function's value is the reconciler; the runner (`run`) does the rest.

use super::observe::OBSERVING;
use super::plan::{Plan, StepKind};
use super::settings::RunSettings;
use crate::connection::Connection;
use crate::event_fields::RunRequest;
use crate::model::StreamGroup;
use crate::operations::Operation;
use crate::ports::{GameLiftStreams, Ports};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What a reconciler sees of one region's run.
pub struct RegionRun<'a> {
    pub region: &'a dyn GameLiftStreams,
    pub ports: &'a Ports,
    pub request: &'a RunRequest,
    pub now: DateTime<Utc>,
    /// Observation errors; the groups concerned stay out of the plan.
    pub errors: &'a mut Vec<String>,
    /// Every group listed in the region, so that a request naming a group that exists
    /// nowhere is reported.
    pub listed: &'a mut Vec<StreamGroup>,
}

/// A remediation function: how it observes and plans one region.
#[async_trait]
pub trait Reconciler: Send + Sync {
    /// The function's own step kinds.
    type Kind: StepKind;

    /// What the function calls beside the runner's observing ([`OBSERVING`]): its writes,
    /// then its own reads. [`operations`] gives the whole list.
    const OWN_OPERATIONS: &'static [Operation];

    /// Observe one region through its port and plan it. Observation errors go to
    /// `run.errors` and leave the groups concerned out of the plan (unknown means "do not
    /// touch").
    async fn plan_region(&self, run: RegionRun<'_>) -> Plan<Self::Kind>;
}

/// Every GameLift Streams operation reconciler `R` calls: the runner's observing, then its
/// own. Its IAM policy is checked against these, and the in-memory world refuses any other.
pub fn operations<R: Reconciler>() -> Vec<Operation> {
    OBSERVING.iter().chain(R::OWN_OPERATIONS).copied().collect()
}

/// A remediation function's configuration, as it is deployed: the reconciler it decides with,
/// the settings the runner runs it under, and the connection its ports reach AWS by. The
/// runtime, the CLI and the tests all deploy a function through this one split.
pub trait Deployable {
    type Reconciler: Reconciler;

    /// The reconciler, the run settings and the connection, in that order.
    fn split(self) -> (Self::Reconciler, RunSettings, Connection);
}
