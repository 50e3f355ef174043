//! A local Amazon GameLift Streams: every operation of the official service model over its
//! restJson1 wire protocol, the documented behaviour on a clock the emulator owns (lifecycle,
//! capacity arriving and leaving, placement, session timeouts, replication, stream URLs), the
//! documented rate limits, fault injection and an admin API that plays what players and the
//! service do by themselves. Unmodified AWS SDK clients reach it through
//! `AWS_ENDPOINT_URL_GAMELIFTSTREAMS`. Every service fact lives in `facts` with its source;
//! the emulator depends on no crate of the watchdog.

pub mod accounts;
pub mod admin;
pub mod clock;
pub mod error;
pub mod facts;
pub mod fleet;
pub mod instance;
pub mod limits;
pub mod operations;
pub mod server;
pub mod service_model;
pub mod settings;
pub mod state;
pub mod supply;
pub mod timeline;
pub mod vocabulary;

pub use facts::{CapacityTimings, ExpiredGroups, LocationChangesWithErrors, OmittedCapacity};
pub use fleet::Fleet;
pub use instance::Emulator;
pub use server::router;
pub use state::{Behaviour, EmulatedWorld, TimingProfile, Timings};

use std::sync::Arc;
use tokio::net::TcpListener;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    pub account_id: String,
    /// The region for requests that carry no SigV4 credential scope.
    pub default_region: String,
    /// The Regions that host the service; a request for any other fails as an unreachable
    /// endpoint does (`facts::SERVICE_REGIONS` by default).
    pub served_regions: Vec<String>,
    /// Multiplies the documented rate limits; 0 turns them off.
    pub rate_limit_scale: f64,
    pub timings: Timings,
    /// Readings of what the documentation leaves open.
    pub behaviour: Behaviour,
    /// Seeds resource ids and fault injection, so runs repeat.
    pub seed: u64,
    pub frozen_clock: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            account_id: "111122223333".into(),
            default_region: "us-west-2".into(),
            served_regions: facts::SERVICE_REGIONS.iter().map(|r| r.to_string()).collect(),
            rate_limit_scale: 1.0,
            timings: Timings::default(),
            behaviour: Behaviour::default(),
            seed: 1,
            frozen_clock: false,
        }
    }
}

/// Builds the emulator and loads `fleet` into it.
pub fn build(config: &Config, fleet: Option<&Fleet>) -> Result<Arc<Emulator>, String> {
    let mut world = EmulatedWorld::new(
        config.account_id.clone(),
        config.default_region.clone(),
        config.timings.clone(),
        config.seed,
    );
    world.clock.freeze(config.frozen_clock);
    if !config.served_regions.contains(&config.default_region) {
        return Err(format!(
            "the default region {} is not among the served regions ({})",
            config.default_region,
            config.served_regions.join(", ")
        ));
    }
    world.served_regions = config.served_regions.clone();
    world.behaviour = config.behaviour;
    let emulator = Emulator::new(world, config.rate_limit_scale, config.seed);
    if let Some(fleet) = fleet {
        emulator.load_fleet(fleet)?;
    }
    Ok(Arc::new(emulator))
}

/// Serves the emulator on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, emulator: Arc<Emulator>) -> std::io::Result<()> {
    axum::serve(listener, router(emulator)).await
}
