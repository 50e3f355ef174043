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
use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use std::sync::Arc;
use watchdog_core::ports::{GameLiftStreams, Operation, Ports};
use watchdog_core::reconcile::{self, Plan, Reconciler, RunError};

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

pub struct Trimmer {
    pub config: Config,
    pub ports: Ports,
}

impl Trimmer {
    /// The trimmer on AWS (or whatever the standard endpoint variables point at).
    pub async fn connect(config: Config) -> Self {
        let ports = watchdog_aws::connect(&config.connection).await;
        Self { config, ports }
    }

    pub async fn run(&self, request: event::TrimRequest) -> Result<Report, RunError> {
        let trigger = request.trigger.clone().unwrap_or_else(|| "manual".into());
        reconcile::run(self, &self.ports, &self.config.run, &request, trigger, request.dry_run).await
    }
}

#[async_trait]
impl Reconciler for Trimmer {
    type Action = plan::Action;
    type Request = event::TrimRequest;

    async fn plan_region(
        &self,
        region: &dyn GameLiftStreams,
        ports: &Ports,
        request: &Self::Request,
        now: DateTime<Utc>,
        errors: &mut Vec<String>,
    ) -> Plan<Self::Action> {
        let only = request.stream_groups.as_deref();
        let observed = observe::observe(region, ports.demand.as_ref(), &self.config, only, now, errors).await;
        plan::plan(&observed, now, &self.config.settings)
    }
}

/// The Lambda handler: parse the event (errors name the field), run, return the report.
pub async fn handle(trimmer: Arc<Trimmer>, event: Value) -> Result<Report, Diagnostic> {
    let request = event::parse(event).map_err(|e| watchdog_aws::lambda::diagnostic(e.into()))?;
    trimmer.run(request).await.map_err(watchdog_aws::lambda::diagnostic)
}
