//! The trimmer: lowers paid idle capacity to demand (and to a floor off-hours), raises it back
//! to the level the studio set when demand returns, and ends sessions the studio's policy
//! names. A reconciler on the shared runner (`watchdog_core::reconcile`): observe
//! ([`observe`]) -> plan (pure, [`plan`]) -> execute within a per-run limit; dry run by default.

pub mod config;
pub mod event;
pub mod observe;
pub mod plan;
pub mod schedule;

pub use config::Config;

use async_trait::async_trait;
use lambda_runtime::Diagnostic;
use serde_json::Value;
use std::sync::Arc;
use watchdog_core::env_config::Connection;
use watchdog_core::ports::Operation;
use watchdog_core::reconcile::{self, Deployed, Plan, Reconciler, RegionRun, RunSettings};

/// What a run returns.
pub type Report = reconcile::Report<plan::Action>;

/// Every GameLift Streams operation the trimmer calls; its IAM policy is checked against
/// these, and the in-memory world refuses any other.
pub const OPERATIONS: &[Operation] = &[
    Operation::ListStreamGroups,
    Operation::GetStreamGroup,
    Operation::ListTagsForResource,
    Operation::ListStreamSessions,
    Operation::TagResource,
    Operation::UpdateStreamGroup,
    Operation::TerminateStreamSession,
];

/// The configuration is the reconciler: everything it decides with is in it.
#[async_trait]
impl Reconciler for Config {
    fn deployment(&self) -> (&RunSettings, &Connection) {
        (&self.run, &self.connection)
    }

    type Action = plan::Action;

    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Self::Action> {
        let observed = observe::observe(&mut run, self).await;
        plan::plan(&observed, run.now, &self.settings)
    }
}

/// The Lambda handler: parse the event (errors name the field), run, return the report.
pub async fn handle(trimmer: Arc<Deployed<Config>>, event: Value) -> Result<Report, Diagnostic> {
    watchdog_aws::lambda::reconcile(trimmer, event::parse(event)).await
}
