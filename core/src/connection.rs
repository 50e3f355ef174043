//! How a function reaches AWS, apart from how it is read (`env_config::connection`), so that
//! the runner can name it without depending on the environment's reader.

/// How a function reaches AWS: its regions, its share of the service's rate limits, its
/// retries, and (local runs only) the emulator's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub regions: Vec<String>,
    /// Share of each documented GameLift Streams rate limit this function may use.
    pub api_share: f64,
    /// SDK attempts per call (first try included): throttles and 5xx are retried with backoff.
    pub max_attempts: u32,
    /// Local runs only: read "now" from the GameLift Streams emulator's clock.
    pub clock_url: Option<String>,
}
