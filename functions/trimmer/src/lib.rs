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
use watchdog_core::ports::Operation;
use watchdog_core::reconcile::{self, Deployed, Plan, Reconciler, RegionRun, RunSettings};

/// What a run returns.
pub type Report = reconcile::Report<plan::TrimmerStep>;

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

/// The trimmer as the runner sees it: a value of its own, made from the configuration it
/// decides with.
pub struct Trimmer {
    config: Config,
}

impl Trimmer {
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// The trimmer on AWS (or whatever the standard endpoint variables point at).
    pub async fn deploy(config: Config) -> Deployed<Self> {
        let connection = config.connection.clone();
        watchdog_aws::lambda::deploy(Self::new(config), &connection).await
    }
}

#[async_trait]
impl Reconciler for Trimmer {
    type Kind = plan::TrimmerStep;

    fn settings(&self) -> &RunSettings {
        &self.config.run
    }

    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Self::Kind> {
        let observed = observe::observe(&mut run, &self.config).await;
        plan::plan(&observed, run.now, &self.config.settings)
    }
}

/// The Lambda handler: parse the event (errors name the field), run, return the report.
pub async fn handle(trimmer: Arc<Deployed<Trimmer>>, event: Value) -> Result<Report, Diagnostic> {
    watchdog_aws::lambda::reconcile(trimmer, event::parse(event)).await
}
