//! Lifecycle arithmetic: how old a stream group is and how long it has before the service's
//! limits. Days here are 24-hour days counted from `CreatedAt`, as the service counts them,
//! not calendar years: a group created on 28 Feb 2024 expires on 27 Feb 2025.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// After this age a stream group accepts no new application associations.
pub const ASSOCIATION_CUTOFF: Duration = Duration::days(180);
/// A stream group expires this long after creation unless `ExpiresAt` says otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::days(365);

/// One stream group's position in its lifecycle at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    pub created_at: DateTime<Utc>,
    /// `ExpiresAt` as the service reported it, or created + 365 days when it did not.
    pub expires_at: DateTime<Utc>,
    /// Whether `expires_at` came from the service rather than the fallback.
    pub expires_at_reported: bool,
    pub now: DateTime<Utc>,
}

impl Lifecycle {
    pub fn new(created_at: DateTime<Utc>, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        Self {
            created_at,
            expires_at: expires_at.unwrap_or(created_at + DEFAULT_LIFETIME),
            expires_at_reported: expires_at.is_some(),
            now,
        }
    }

    pub fn age(&self) -> Duration {
        self.now - self.created_at
    }

    /// Whole days since creation (day 0 is the first 24 hours).
    pub fn age_days(&self) -> i64 {
        self.age().num_days()
    }

    pub fn association_cutoff_at(&self) -> DateTime<Utc> {
        self.created_at + ASSOCIATION_CUTOFF
    }

    /// Time left before the association cutoff; negative once it has passed.
    pub fn until_association_cutoff(&self) -> Duration {
        self.association_cutoff_at() - self.now
    }

    pub fn associations_allowed(&self) -> bool {
        self.now < self.association_cutoff_at()
    }

    /// Time left before expiry; negative once it has passed.
    pub fn until_expiry(&self) -> Duration {
        self.expires_at - self.now
    }

    pub fn is_expired(&self) -> bool {
        self.now >= self.expires_at
    }
}

/// A duration in fractional days, for metrics and messages.
pub fn fractional_days(duration: Duration) -> f64 {
    duration.num_milliseconds() as f64 / 86_400_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn at_age(days: i64, extra_seconds: i64) -> Lifecycle {
        let created = utc(2026, 1, 10);
        Lifecycle::new(created, None, created + Duration::days(days) + Duration::seconds(extra_seconds))
    }

    #[test]
    fn association_cutoff_boundaries_day_179_180_181() {
        let day_179 = at_age(179, 0);
        assert_eq!(day_179.age_days(), 179);
        assert!(day_179.associations_allowed());
        assert_eq!(day_179.until_association_cutoff(), Duration::days(1));

        let last_second = at_age(180, -1);
        assert!(last_second.associations_allowed());
        assert_eq!(last_second.age_days(), 179);

        let day_180 = at_age(180, 0);
        assert_eq!(day_180.age_days(), 180);
        assert!(!day_180.associations_allowed(), "the cutoff instant itself refuses");
        assert_eq!(day_180.until_association_cutoff(), Duration::zero());

        let day_181 = at_age(181, 0);
        assert!(!day_181.associations_allowed());
        assert_eq!(day_181.until_association_cutoff(), Duration::days(-1));
    }

    #[test]
    fn expiry_boundaries_day_364_365() {
        let day_364 = at_age(364, 0);
        assert!(!day_364.is_expired());
        assert_eq!(day_364.until_expiry(), Duration::days(1));
        assert!(!at_age(365, -1).is_expired());
        let day_365 = at_age(365, 0);
        assert!(day_365.is_expired());
        assert_eq!(day_365.until_expiry(), Duration::zero());
        assert!(at_age(366, 0).is_expired());
    }

    #[test]
    fn missing_expires_at_falls_back_to_created_plus_365_days() {
        let created = utc(2026, 3, 1);
        let lifecycle = Lifecycle::new(created, None, created);
        assert!(!lifecycle.expires_at_reported);
        assert_eq!(lifecycle.expires_at, utc(2027, 3, 1));
    }

    #[test]
    fn reported_expires_at_wins_over_the_fallback() {
        let created = utc(2026, 3, 1);
        let reported = utc(2026, 12, 24);
        let lifecycle = Lifecycle::new(created, Some(reported), utc(2026, 12, 23));
        assert!(lifecycle.expires_at_reported);
        assert_eq!(lifecycle.expires_at, reported);
        assert_eq!(lifecycle.until_expiry(), Duration::days(1));
    }

    #[test]
    fn leap_years_count_days_not_calendar_years() {
        // 2024 is a leap year: 365 days after 28 Feb 2024 is 27 Feb 2025.
        let created = utc(2024, 2, 28);
        let lifecycle = Lifecycle::new(created, None, created);
        assert_eq!(lifecycle.expires_at, utc(2025, 2, 27));
        // 180 days from 1 Jan in a leap year lands on 29 Jun, one day earlier than otherwise.
        assert_eq!(Lifecycle::new(utc(2024, 1, 1), None, created).association_cutoff_at(), utc(2024, 6, 29));
        assert_eq!(Lifecycle::new(utc(2025, 1, 1), None, created).association_cutoff_at(), utc(2025, 6, 30));
        // Across 29 Feb the age still counts every day.
        let across = Lifecycle::new(utc(2028, 2, 28), None, utc(2028, 3, 1));
        assert_eq!(across.age_days(), 2);
    }

    #[test]
    fn fractional_days_for_metrics() {
        assert_eq!(fractional_days(Duration::hours(36)), 1.5);
    }
}
