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
use watchdog_core::env_config::Connection;
use watchdog_core::ports::{DemandMetric, Operation};
use watchdog_core::reconcile::{self, Deployable, Plan, Reconciler, RegionRun, RunSettings};

/// What a run returns.
pub type Report = reconcile::Report<plan::TrimmerStep>;

/// The trimmer as the runner sees it: a value of its own, holding what it decides with.
pub struct Trimmer {
    settings: plan::Settings,
    demand_source: DemandMetric,
}

impl Deployable for Config {
    type Reconciler = Trimmer;

    fn split(self) -> (Trimmer, RunSettings, Connection) {
        let trimmer = Trimmer { settings: self.settings, demand_source: self.demand_source };
        (trimmer, self.run, self.connection)
    }
}

#[async_trait]
impl Reconciler for Trimmer {
    type Kind = plan::TrimmerStep;

    const OWN_OPERATIONS: &'static [Operation] = &[
        Operation::UpdateStreamGroup,
        Operation::TerminateStreamSession,
        Operation::TagResource,
        Operation::GetStreamGroup,
        Operation::ListStreamSessions,
    ];

    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Self::Kind> {
        let observed = observe::observe(&mut run, &self.settings, &self.demand_source).await;
        plan::plan(&observed, run.now, &self.settings)
    }
}
