//! A local Amazon GameLift Streams: the restJson1 wire protocol of the official service
//! model, the documented lifecycle rules on a clock the emulator owns, rate limits, fault
//! injection and an admin API. Unmodified AWS SDK clients reach it through
//! `AWS_ENDPOINT_URL_GAMELIFTSTREAMS`.

pub mod clock;
pub mod error;
pub mod fleet;
pub mod limits;
pub mod operations;
pub mod server;
pub mod service_model;
pub mod state;

pub use fleet::Fleet;
pub use server::{Emulator, router};
pub use state::{Timings, World};

use std::sync::Arc;
use tokio::net::TcpListener;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    pub account_id: String,
    /// The region for requests that carry no SigV4 credential scope.
    pub default_region: String,
    /// Multiplies the documented rate limits; 0 turns them off.
    pub rate_limit_scale: f64,
    pub timings: Timings,
    /// Seeds resource ids and fault injection, so runs repeat.
    pub seed: u64,
    pub frozen_clock: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            account_id: "111122223333".into(),
            default_region: "us-west-2".into(),
            rate_limit_scale: 1.0,
            timings: Timings::default(),
            seed: 1,
            frozen_clock: false,
        }
    }
}

/// Builds the emulator and loads `fleet` into it.
pub fn build(config: &Config, fleet: Option<&Fleet>) -> Result<Arc<Emulator>, String> {
    let mut world =
        World::new(config.account_id.clone(), config.default_region.clone(), config.timings.clone(), config.seed);
    world.clock.freeze(config.frozen_clock);
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
