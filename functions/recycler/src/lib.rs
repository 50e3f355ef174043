//! The recycler: the watchdog's hands for the lifecycle limits. Recreates aging stream groups
//! blue/green and repairs failed locations, as a reconciler on the shared runner
//! (`watchdog_core::reconcile`): each run observes ([`observe`]), plans with a pure function
//! ([`plan`]) and executes what is due; all state lives in tags on the groups.

pub mod carry;
pub mod config;
pub mod cutover;
pub mod event;
pub mod observe;
pub mod plan;

pub use config::Config;

use async_trait::async_trait;
use lambda_runtime::Diagnostic;
use serde_json::Value;
use std::sync::Arc;
use watchdog_core::env_config::Connection;
use watchdog_core::ports::Operation;
use watchdog_core::reconcile::{self, Deployed, Plan, Reconciler, RegionRun, RunSettings};

/// What a run returns.
pub type Report = reconcile::Report<plan::Step>;

/// Every GameLift Streams operation the recycler calls; its IAM policy is checked against
/// these, and the in-memory world refuses any other.
pub const OPERATIONS: &[Operation] = &[
    Operation::ListStreamGroups,
    Operation::GetStreamGroup,
    Operation::ListTagsForResource,
    Operation::ListStreamSessions,
    Operation::TagResource,
    Operation::UntagResource,
    Operation::CreateStreamGroup,
    Operation::AssociateApplications,
    Operation::DeleteStreamGroup,
    Operation::RemoveStreamGroupLocations,
    Operation::AddStreamGroupLocations,
    Operation::GetApplication,
    Operation::ListStreamUrls,
    Operation::UpdateStreamGroup,
];

/// The configuration is the reconciler: everything it decides with is in it.
#[async_trait]
impl Reconciler for Config {
    fn deployment(&self) -> (&RunSettings, &Connection) {
        (&self.run, &self.connection)
    }

    type Action = plan::Step;

    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Self::Action> {
        let observed = observe::observe(&mut run, &self.settings).await;
        plan::plan(&observed, run.now, &self.settings)
    }
}

/// The Lambda handler: parse the event (errors name the field), run, return the report.
pub async fn handle(recycler: Arc<Deployed<Config>>, event: Value) -> Result<Report, Diagnostic> {
    watchdog_aws::lambda::reconcile(recycler, event::parse(event)).await
}
