//! The recycler: the watchdog's hands for the lifecycle limits. Recreates aging stream groups
//! blue/green and repairs failed locations, as a reconciler: each run observes, plans (a pure
//! function) and executes what is due; all state lives in tags on the groups.

pub mod config;
pub mod event;
pub mod plan;
pub mod run;

pub use config::Config;
pub use run::{RecycleError, Recycler, Report};

use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(recycler: &Recycler, event: LambdaEvent<Value>) -> Result<Report, RecycleError> {
    let request = event::parse(event.payload)?;
    recycler.run(request).await
}
