//! The trimmer: lowers paid idle capacity to demand (and to a floor off-hours), raises it back
//! to the level the studio set when demand returns, and ends sessions the studio's policy
//! names. Observe -> plan (pure, [`plan`]) -> execute within a per-run limit; dry run by default.

pub mod config;
pub mod demand;
pub mod event;
pub mod plan;
pub mod run;
pub mod schedule;

pub use config::Config;
pub use run::{Report, Trimmer, handle};
