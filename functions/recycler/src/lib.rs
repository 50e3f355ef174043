//! The recycler: the watchdog's hands for the lifecycle limits. Recreates aging stream groups
//! blue/green and repairs failed locations, as a reconciler on the shared runner
//! (`watchdog_core::reconcile`): each run observes ([`observe`]), plans with a pure function
//! ([`plan`]) and executes what is due; all state lives in tags on the groups.

pub mod config;
pub mod event;
pub mod observe;
pub mod plan;

pub use config::Config;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use std::sync::Arc;
use watchdog_core::ports::{GameLiftStreams, Operation, Ports};
use watchdog_core::reconcile::{self, Plan, Reconciler, RunError};

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
];

pub struct Recycler {
    pub config: Config,
    pub ports: Ports,
}

impl Recycler {
    /// The recycler on AWS (or whatever the standard endpoint variables point at).
    pub async fn connect(config: Config) -> Self {
        let ports = watchdog_aws::connect(&config.connection).await;
        Self { config, ports }
    }

    pub async fn run(&self, request: event::RecycleRequest) -> Result<Report, RunError> {
        let trigger = request.trigger.clone().unwrap_or_else(|| "manual".into());
        reconcile::run(self, &self.ports, &self.config.run, &request, trigger, request.dry_run).await
    }
}

#[async_trait]
impl Reconciler for Recycler {
    type Action = plan::Step;
    type Request = event::RecycleRequest;

    async fn plan_region(
        &self,
        region: &dyn GameLiftStreams,
        _ports: &Ports,
        request: &Self::Request,
        now: DateTime<Utc>,
        errors: &mut Vec<String>,
    ) -> Plan<Self::Action> {
        let settings = &self.config.settings;
        let observed = observe::observe(region, request.stream_groups.as_deref(), settings, errors).await;
        plan::plan(&observed, now, settings)
    }
}

/// The Lambda handler: parse the event (errors name the field), run, return the report.
pub async fn handle(recycler: Arc<Recycler>, event: Value) -> Result<Report, Diagnostic> {
    let request = event::parse(event).map_err(|e| watchdog_aws::lambda::diagnostic(e.into()))?;
    recycler.run(request).await.map_err(watchdog_aws::lambda::diagnostic)
}
