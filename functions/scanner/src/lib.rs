//! The scanner: the watchdog's eyes. Observes every GameLift Streams stream group and
//! session, publishes metrics to CloudWatch and findings to SNS, and returns a report.

pub mod alerts;
pub mod config;
pub mod event;
pub mod inventory;
pub mod metrics;
pub mod scan;

pub use config::Config;
pub use scan::{Report, ScanError, Scanner};

use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// The Lambda handler: parse the event (errors name the field), scan, return the report.
pub async fn handle(scanner: &Scanner, event: LambdaEvent<Value>) -> Result<Report, ScanError> {
    let request = event::parse(event.payload)?;
    scanner.scan(request).await
}
