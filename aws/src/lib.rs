//! The AWS adapter: every port of `watchdog-core` implemented with the AWS SDK for Rust.
//! This crate is the only place that knows SDK types; the functions build their [`Ports`]
//! with [`connect`] and see nothing else of AWS.

pub mod call_stats;
pub mod clock;
pub mod cloudwatch;
pub mod convert;
pub mod errors;
pub mod eventbridge;
pub mod gamelift;
pub mod lambda;
pub mod organizations;
pub mod reach;
pub mod s3;
pub mod sns;

use call_stats::CallStats;
use std::sync::Arc;
use watchdog_core::api_limits::ClientRateLimiter;
use watchdog_core::ports::{GameLiftStreams, Ports};

pub use watchdog_core::env_config::Connection;

/// Builds every client once, from the standard configuration chain (credentials, profiles,
/// `AWS_ENDPOINT_URL_*`), counting every call they make.
pub async fn connect(connection: &Connection) -> Ports {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    ports(&sdk, connection)
}

/// As [`connect`], and what the hub's scanner reads besides (AWS Organizations for the
/// targets, S3 for the map's results), from the same configuration (one load of the chain).
pub async fn connect_hub(connection: &Connection) -> (Ports, watchdog_core::organisation::HubPorts) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let hub = watchdog_core::organisation::HubPorts {
        directory: Arc::new(organizations::Organizations::new(&sdk)),
        results: Arc::new(s3::S3Results::new(&sdk)),
    };
    (ports(&sdk, connection), hub)
}

/// As [`connect`], from a given SDK configuration.
pub fn ports(sdk: &aws_types::SdkConfig, connection: &Connection) -> Ports {
    let stats = CallStats::default();
    let limiter = ClientRateLimiter::new(connection.api_share);
    let regions = connection
        .regions
        .iter()
        .map(|region| {
            let port: Arc<dyn GameLiftStreams> = Arc::new(gamelift::GameLiftStreamsApi::new(
                sdk,
                region,
                limiter.clone(),
                &stats,
                connection.max_attempts,
            ));
            (region.clone(), port)
        })
        .collect();
    let counter = stats.clone();
    Ports {
        regions,
        metrics: Arc::new(cloudwatch::CloudWatch::new(sdk, &stats)),
        demand: Arc::new(cloudwatch::CloudWatch::new(sdk, &stats)),
        history: Arc::new(cloudwatch::CloudWatch::new(sdk, &stats)),
        notifier: Arc::new(sns::Sns::new(sdk, &stats)),
        events: Arc::new(eventbridge::EventBridge::new(sdk, &stats)),
        clock: match &connection.clock_url {
            None => Arc::new(clock::SystemClock),
            Some(url) => Arc::new(clock::EmulatorClockClient::new(url)),
        },
        calls: Arc::new(move || counter.snapshot()),
    }
}

/// The GameLift Streams ports of another account's `region`, read with `role_arn` assumed
/// from this function's own credentials. The role is assumed here, once, so one that cannot
/// be assumed (AccessDenied, a typo, an account outside the organisation) is reported before
/// any read, naming the role. The ports' `calls` count the calls made with the role (the
/// caller adds them to its own).
pub async fn assumed_region(connection: &Connection, role_arn: &str, region: &str) -> Result<Ports, String> {
    let own = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let assumed = reach::assume(&own, role_arn, "gls-watchdog-hub-scanner").await?;
    let connection = Connection { regions: vec![region.to_owned()], ..connection.clone() };
    Ok(ports(&assumed, &connection))
}
