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
use watchdog_core::env_config::Connection;
use watchdog_core::ports::Operation;
use watchdog_core::reconcile::{self, Deployable, Plan, Reconciler, RegionRun, RunSettings};

/// What a run returns.
pub type Report = reconcile::Report<plan::RecyclerStep>;

/// The recycler as the runner sees it: a value of its own, holding what it decides with.
pub struct Recycler {
    settings: plan::Settings,
}

impl Deployable for Config {
    type Reconciler = Recycler;

    fn split(self) -> (Recycler, RunSettings, Connection) {
        (Recycler { settings: self.settings }, self.run, self.connection)
    }
}

#[async_trait]
impl Reconciler for Recycler {
    type Kind = plan::RecyclerStep;

    const OWN_OPERATIONS: &'static [Operation] = &[
        Operation::CreateStreamGroup,
        Operation::AssociateApplications,
        Operation::AddStreamGroupLocations,
        Operation::RemoveStreamGroupLocations,
        Operation::UpdateStreamGroup,
        Operation::DeleteStreamGroup,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::GetStreamGroup,
        Operation::GetApplication,
        Operation::ListStreamSessions,
        Operation::ListStreamUrls,
    ];

    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Self::Kind> {
        let observed = observe::observe(&mut run, &self.settings).await;
        plan::plan(&observed, run.now, &self.settings)
    }
}
