//! The service's documented API rate limits (developer guide, per account per Region) and a
//! client-side limiter that keeps the watchdog within a share of them: the same limits serve
//! the studio's own backend, which starts sessions with the same account.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Documented requests per second by operation; `None` for operations without a published limit.
pub fn documented_limit(operation: &str) -> Option<f64> {
    Some(match operation {
        "CreateStreamGroup" => 1.0,
        "UpdateStreamGroup"
        | "DeleteStreamGroup"
        | "AddStreamGroupLocations"
        | "RemoveStreamGroupLocations"
        | "AssociateApplications"
        | "DisassociateApplications"
        | "CreateApplication"
        | "UpdateApplication"
        | "DeleteApplication" => 5.0,
        "GetStreamGroup"
        | "ListStreamGroups"
        | "GetApplication"
        | "ListApplications"
        | "ListTagsForResource"
        | "TagResource"
        | "UntagResource" => 10.0,
        "ListStreamSessions"
        | "ListStreamSessionsByAccount"
        | "GetStreamSession"
        | "StartStreamSession"
        | "TerminateStreamSession"
        | "CreateStreamSessionConnection"
        | "ExportStreamSessionFiles" => 20.0,
        // Stream URLs, admin shells and shader caches: the page gives no figure.
        _ => return None,
    })
}

/// A token bucket of `per_second` requests that holds at most one second's worth.
pub fn token_bucket(per_second: f64) -> DefaultDirectRateLimiter {
    let burst = NonZeroU32::new(per_second.floor().max(1.0) as u32).expect("at least one");
    let period = Duration::from_secs_f64(1.0 / per_second);
    RateLimiter::direct(Quota::with_period(period).expect("positive period").allow_burst(burst))
}

/// One bucket per (region, operation).
type Buckets = HashMap<(String, &'static str), Arc<DefaultDirectRateLimiter>>;

/// Waits before each call so the watchdog uses at most `share` of each documented limit,
/// per region and operation. Cloning shares the buckets.
#[derive(Clone)]
pub struct ClientRateLimiter {
    share: f64,
    buckets: Arc<Mutex<Buckets>>,
}

impl ClientRateLimiter {
    /// `share` in (0, 1]: 0.5 leaves half of every limit to the studio's backend.
    pub fn new(share: f64) -> Self {
        Self { share, buckets: Arc::default() }
    }

    pub fn share(&self) -> f64 {
        self.share
    }

    /// The rate the watchdog allows itself for `operation`, if the operation is limited.
    pub fn rate(&self, operation: &str) -> Option<f64> {
        documented_limit(operation).map(|limit| limit * self.share)
    }

    pub async fn acquire(&self, region: &str, operation: &'static str) {
        let Some(rate) = self.rate(operation) else {
            return;
        };
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            buckets.entry((region.to_owned(), operation)).or_insert_with(|| Arc::new(token_bucket(rate))).clone()
        };
        bucket.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_table() {
        assert_eq!(documented_limit("CreateStreamGroup"), Some(1.0));
        assert_eq!(documented_limit("AssociateApplications"), Some(5.0));
        assert_eq!(documented_limit("ListTagsForResource"), Some(10.0));
        assert_eq!(documented_limit("TerminateStreamSession"), Some(20.0));
        assert_eq!(documented_limit("TagResource"), Some(10.0), "tag writes are limited too");
        assert_eq!(documented_limit("ListStreamUrls"), None, "not on the page");
    }

    #[test]
    fn half_share_halves_the_rate() {
        let limiter = ClientRateLimiter::new(0.5);
        assert_eq!(limiter.rate("GetStreamGroup"), Some(5.0));
        assert_eq!(limiter.rate("CreateStreamGroup"), Some(0.5));
    }

    #[test]
    fn a_bucket_grants_one_second_of_burst() {
        let bucket = token_bucket(5.0);
        assert_eq!((0..10).filter(|_| bucket.check().is_ok()).count(), 5);
        let slow = token_bucket(0.5);
        assert_eq!((0..3).filter(|_| slow.check().is_ok()).count(), 1, "below one per second still grants one");
    }
}
