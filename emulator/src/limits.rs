//! The service's per-account, per-Region API rate limits (developer guide), fault injection
//! for resilience tests, and per-operation call counters.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

/// A bucket of `per_second` requests that holds at most one second's worth.
fn token_bucket(per_second: f64) -> DefaultDirectRateLimiter {
    let burst = NonZeroU32::new(per_second.floor().max(1.0) as u32).expect("at least one");
    let period = std::time::Duration::from_secs_f64(1.0 / per_second);
    RateLimiter::direct(Quota::with_period(period).expect("positive period").allow_burst(burst))
}

/// Token buckets per (region, operation): a bucket holds one second's worth of requests.
pub struct RateLimits {
    scale: f64,
    buckets: HashMap<(String, String), DefaultDirectRateLimiter>,
}

impl RateLimits {
    /// `scale` multiplies every documented limit; 0 turns limiting off.
    pub fn new(scale: f64) -> Self {
        Self { scale, buckets: HashMap::new() }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
        self.buckets.clear();
    }

    /// Takes one request from the bucket; `false` means throttle it.
    pub fn try_acquire(&mut self, region: &str, operation: &str) -> bool {
        if self.scale <= 0.0 {
            return true;
        }
        let Some((limit, _source)) = crate::operations::rate_limit(operation) else {
            return true;
        };
        let per_second = limit * self.scale;
        self.buckets
            .entry((region.to_owned(), operation.to_owned()))
            .or_insert_with(|| token_bucket(per_second))
            .check()
            .is_ok()
    }
}

/// An injected fault: fail a share of calls with an error and/or delay every call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Share of calls (0..=1) that fail with `error`.
    #[serde(default)]
    pub error_rate: f64,
    /// The error to answer with (default InternalServerException).
    #[serde(default = "default_fault_error")]
    pub error: String,
    /// Added latency for every call, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
}

fn default_fault_error() -> String {
    "InternalServerException".into()
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct OperationCounter {
    /// Every request that reached the operation, answered or not.
    pub calls: u64,
    pub succeeded: u64,
    pub throttled: u64,
    pub injected_faults: u64,
    /// Errors by type, injected ones included.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    pub operations: BTreeMap<String, OperationCounter>,
}

impl Counters {
    pub fn operation(&mut self, name: &str) -> &mut OperationCounter {
        self.operations.entry(name.to_owned()).or_default()
    }

    /// Calls to operations that change state, successful or not: a dry run must make none.
    pub fn mutating_calls(&self) -> u64 {
        self.operations.iter().filter(|(name, _)| crate::operations::is_mutating(name)).map(|(_, c)| c.calls).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_one_second_of_requests() {
        let mut limits = RateLimits::new(1.0);
        let granted = (0..15).filter(|_| limits.try_acquire("us-west-2", "GetStreamGroup")).count();
        assert_eq!(granted, 10);
        assert!(limits.try_acquire("us-east-1", "GetStreamGroup"), "regions have their own buckets");
        assert!(limits.try_acquire("us-west-2", "CreateStreamGroup"));
        assert!(!limits.try_acquire("us-west-2", "CreateStreamGroup"), "1 request per second");
        assert_eq!((0..15).filter(|_| limits.try_acquire("us-west-2", "TagResource")).count(), 10, "tag writes too");
    }

    #[test]
    fn scale_zero_disables_and_scale_halves() {
        let mut off = RateLimits::new(0.0);
        assert!((0..100).all(|_| off.try_acquire("r", "CreateStreamGroup")));
        let mut half = RateLimits::new(0.5);
        assert_eq!((0..20).filter(|_| half.try_acquire("r", "GetStreamGroup")).count(), 5);
    }
}
