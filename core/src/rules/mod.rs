//! The finding rules: pure functions of a stream group, its sessions, the time and the
//! policy, one module per concern. The scanner raises what they return; the recycler reuses
//! them to decide what is due, so every function agrees on what "due" means.
//!
//! - [`lifecycle`]: rotation due, association cutoff, expiry;
//! - [`status`]: failed locations, groups in ERROR;
//! - [`capacity`]: idle capacity;
//! - [`sessions`]: stale sessions and the service's own session timeouts.

pub mod capacity;
pub mod lifecycle;
pub mod sessions;
pub mod status;

pub use capacity::idle_capacity_findings;
pub use sessions::*;

use crate::findings::{Finding, FindingKind, Severity};
use crate::lifecycle::fractional_days;
use crate::model::{StreamGroup, StreamGroupStatus};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// Thresholds the studio can tune; `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// A group this many days old is due for recreation (AWS: every 3-4 weeks).
    pub rotation_days: i64,
    /// Warn this many days before the 180-day association cutoff.
    pub cutoff_warning_days: i64,
    /// Days before ExpiresAt at which to warn, any order; the nearest crossed sets severity.
    pub expiry_thresholds_days: Vec<i64>,
    /// Idle share of allocated capacity above which paid idle capacity is reported.
    pub idle_share: f64,
    /// How far past the service's own timeout a session must be to count as stale.
    pub stale_margin: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            rotation_days: 28,
            cutoff_warning_days: 14,
            expiry_thresholds_days: vec![30, 14, 7, 1],
            idle_share: 0.5,
            stale_margin: Duration::minutes(15),
        }
    }
}

pub(crate) fn finding(
    group: &StreamGroup,
    kind: FindingKind,
    severity: Severity,
    message: String,
    action: &str,
) -> Finding {
    Finding {
        kind,
        severity,
        stream_group_id: group.id.clone(),
        stream_group_arn: group.arn.clone(),
        region: group.region().unwrap_or_default().to_owned(),
        location: None,
        message,
        recommended_action: action.to_owned(),
        details: json!({}),
    }
}

pub(crate) fn days_text(duration: Duration) -> String {
    let days = fractional_days(duration);
    if days.abs() < 1.0 { format!("{:.1} hours", days * 24.0) } else { format!("{days:.1} days") }
}

pub(crate) fn name(group: &StreamGroup) -> String {
    match &group.description {
        Some(description) => format!("Stream group {} ({description})", group.id),
        None => format!("Stream group {}", group.id),
    }
}

/// Severity for the `crossed`-th of `count` expiry thresholds (1 = the farthest): the last
/// four steps are info, warning, high, critical.
pub(crate) fn expiry_severity(crossed: usize, count: usize) -> Severity {
    const LEVELS: [Severity; 4] = [Severity::Info, Severity::Warning, Severity::High, Severity::Critical];
    let index = 4usize.saturating_sub(count) + crossed - 1;
    LEVELS[index.min(3)]
}

/// Every finding about one group at `now` (stale sessions come separately, from its sessions).
pub fn group_findings(group: &StreamGroup, now: DateTime<Utc>, policy: &Policy) -> Vec<Finding> {
    if group.status == StreamGroupStatus::Deleting {
        return Vec::new();
    }
    let mut findings = lifecycle::lifecycle_findings(group, now, policy);
    findings.extend(status::status_findings(group));
    findings.extend(capacity::idle_capacity_findings(group, policy));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Capacity, Location, LocationStatus, StreamGroupStatusReason, StreamSession, StreamSessionStatus,
    };
    use crate::stream_class::Platform;
    use crate::stream_class::StreamClass;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        crate::testkit::fixed_now()
    }

    use crate::testkit::location;

    fn group_aged(age: Duration) -> StreamGroup {
        StreamGroup {
            id: "sg-TEST00001".into(),
            arn: "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-TEST00001".into(),
            description: Some("racer".into()),
            stream_class: Some(StreamClass::parse("gen5n_high")),
            status: StreamGroupStatus::Active,
            status_reason: None,
            created_at: Some(now() - age),
            last_updated_at: None,
            expires_at: None,
            default_application: None,
            associated_applications: vec![],
            tags: Default::default(),
            locations: vec![location("us-west-2", LocationStatus::Active, 2, 2, 0)],
        }
    }

    fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
        findings.iter().map(|f| f.kind).collect()
    }

    fn find(findings: &[Finding], kind: FindingKind) -> Option<&Finding> {
        findings.iter().find(|f| f.kind == kind)
    }

    #[test]
    fn boundaries_hold_to_the_millisecond_at_an_ordinary_time_of_day() {
        let policy = Policy::default();
        // Created at 12:34:56.789, as the service reports it to the millisecond.
        let created = Utc.with_ymd_and_hms(2026, 3, 2, 12, 34, 56).unwrap() + Duration::milliseconds(789);
        let mut group = group_aged(Duration::zero());
        group.created_at = Some(created);
        let at = |offset: Duration| group_findings(&group, created + offset, &policy);
        let ms = Duration::milliseconds(1);

        assert!(find(&at(Duration::days(28) - ms), FindingKind::RotationDue).is_none());
        assert!(find(&at(Duration::days(28)), FindingKind::RotationDue).is_some(), "day 28 exactly");

        let before = at(Duration::days(180) - ms);
        assert!(find(&before, FindingKind::AssociationCutoffSoon).is_some());
        assert!(find(&before, FindingKind::AssociationCutoffPassed).is_none());
        let exactly = at(Duration::days(180));
        assert!(find(&exactly, FindingKind::AssociationCutoffPassed).is_some(), "refused from that instant on");
        assert!(find(&exactly, FindingKind::AssociationCutoffSoon).is_none());

        // Thresholds 30, 14, 7, 1 days before ExpiresAt (created + 365 days): info, warning,
        // high, critical from the instant each is reached.
        let expiry = |offset: Duration| find(&at(offset), FindingKind::ExpirySoon).map(|f| f.severity);
        assert_eq!(expiry(Duration::days(365 - 30) - ms), None);
        assert_eq!(expiry(Duration::days(365 - 30)), Some(Severity::Info));
        assert_eq!(expiry(Duration::days(365 - 7) - ms), Some(Severity::Warning));
        assert_eq!(expiry(Duration::days(365 - 7)), Some(Severity::High));
        assert_eq!(expiry(Duration::days(365 - 1)), Some(Severity::Critical));
        assert!(find(&at(Duration::days(365) - ms), FindingKind::Expired).is_none());
        assert!(find(&at(Duration::days(365)), FindingKind::Expired).is_some(), "expired at ExpiresAt");
    }

    #[test]
    fn rotation_is_due_at_the_configured_age_not_before() {
        let policy = Policy::default();
        let just_before = group_findings(&group_aged(Duration::days(28) - Duration::seconds(1)), now(), &policy);
        assert!(find(&just_before, FindingKind::RotationDue).is_none());
        let at = group_findings(&group_aged(Duration::days(28)), now(), &policy);
        assert_eq!(find(&at, FindingKind::RotationDue).unwrap().severity, Severity::Warning);
        let custom = Policy { rotation_days: 21, ..Policy::default() };
        assert!(
            find(&group_findings(&group_aged(Duration::days(21)), now(), &custom), FindingKind::RotationDue).is_some()
        );
    }

    #[test]
    fn association_cutoff_soon_then_passed_at_day_180() {
        let policy = Policy::default();
        let day_165 = group_findings(&group_aged(Duration::days(165)), now(), &policy);
        assert!(find(&day_165, FindingKind::AssociationCutoffSoon).is_none(), "15 days left: not yet");
        let day_166 = group_findings(&group_aged(Duration::days(166)), now(), &policy);
        assert!(find(&day_166, FindingKind::AssociationCutoffSoon).is_some(), "14 days left");
        let day_179 = group_findings(&group_aged(Duration::days(180) - Duration::seconds(1)), now(), &policy);
        assert!(find(&day_179, FindingKind::AssociationCutoffSoon).is_some());
        assert!(find(&day_179, FindingKind::AssociationCutoffPassed).is_none());
        let day_180 = group_findings(&group_aged(Duration::days(180)), now(), &policy);
        assert!(find(&day_180, FindingKind::AssociationCutoffSoon).is_none());
        assert_eq!(find(&day_180, FindingKind::AssociationCutoffPassed).unwrap().severity, Severity::High);
    }

    #[test]
    fn expiry_severity_rises_at_each_threshold() {
        let policy = Policy::default();
        let severity_at = |days_left: Duration| {
            let findings = group_findings(&group_aged(Duration::days(365) - days_left), now(), &policy);
            find(&findings, FindingKind::ExpirySoon).map(|f| f.severity)
        };
        assert_eq!(severity_at(Duration::days(31)), None);
        assert_eq!(severity_at(Duration::days(30)), Some(Severity::Info));
        assert_eq!(severity_at(Duration::days(14)), Some(Severity::Warning));
        assert_eq!(severity_at(Duration::days(8)), Some(Severity::Warning));
        assert_eq!(severity_at(Duration::days(7)), Some(Severity::High));
        assert_eq!(severity_at(Duration::days(1)), Some(Severity::Critical));
        assert_eq!(severity_at(Duration::seconds(1)), Some(Severity::Critical));
    }

    #[test]
    fn fewer_thresholds_keep_the_top_severities() {
        let policy = Policy { expiry_thresholds_days: vec![1, 7], ..Policy::default() };
        let findings = group_findings(&group_aged(Duration::days(360)), now(), &policy);
        assert_eq!(find(&findings, FindingKind::ExpirySoon).unwrap().severity, Severity::High);
        let findings = group_findings(&group_aged(Duration::days(364) + Duration::hours(1)), now(), &policy);
        assert_eq!(find(&findings, FindingKind::ExpirySoon).unwrap().severity, Severity::Critical);
    }

    #[test]
    fn expired_at_365_days_or_by_status_and_nothing_else_about_lifecycle() {
        let policy = Policy::default();
        let findings = group_findings(&group_aged(Duration::days(365)), now(), &policy);
        assert_eq!(kinds(&findings), [FindingKind::Expired]);
        let mut early = group_aged(Duration::days(10));
        early.status = StreamGroupStatus::Expired;
        early.locations.clear();
        assert_eq!(kinds(&group_findings(&early, now(), &policy)), [FindingKind::Expired]);
    }

    #[test]
    fn reported_expires_at_is_used_over_the_365_day_fallback() {
        let mut group = group_aged(Duration::days(10));
        group.expires_at = Some(now() + Duration::days(3));
        let findings = group_findings(&group, now(), &Policy::default());
        let f = find(&findings, FindingKind::ExpirySoon).unwrap();
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.details["expires_at_reported"], true);
    }

    #[test]
    fn active_with_errors_names_locations_and_the_primary() {
        let mut group = group_aged(Duration::days(5));
        group.status = StreamGroupStatus::ActiveWithErrors;
        group.locations.push(location("ap-northeast-1", LocationStatus::Error, 2, 0, 0));
        let findings = group_findings(&group, now(), &Policy::default());
        let f = find(&findings, FindingKind::ActiveWithErrors).unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("ap-northeast-1"));
        assert_eq!(f.details["primary_failed"], false);

        group.locations[0].status = LocationStatus::Error;
        let findings = group_findings(&group, now(), &Policy::default());
        let f = find(&findings, FindingKind::ActiveWithErrors).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("including the primary location"));
    }

    #[test]
    fn group_error_carries_the_reason() {
        let mut group = group_aged(Duration::days(1));
        group.status = StreamGroupStatus::Error;
        group.status_reason = Some(StreamGroupStatusReason::NoAvailableInstances);
        let findings = group_findings(&group, now(), &Policy::default());
        let f = find(&findings, FindingKind::GroupError).unwrap();
        assert!(f.message.contains("noAvailableInstances"));
        assert!(find(&findings, FindingKind::IdleCapacity).is_none(), "an ERROR group serves nothing");
    }

    #[test]
    fn idle_capacity_beyond_the_share_is_reported_per_location() {
        let policy = Policy::default();
        let mut group = group_aged(Duration::days(3));
        group.locations = vec![
            location("us-west-2", LocationStatus::Active, 8, 8, 4), // 50%: not beyond
            location("us-east-1", LocationStatus::Active, 8, 8, 6), // 75%
            location("eu-west-1", LocationStatus::Error, 8, 0, 0),  // failed: nothing allocated
        ];
        let findings = group_findings(&group, now(), &policy);
        let idle: Vec<&Finding> = findings.iter().filter(|f| f.kind == FindingKind::IdleCapacity).collect();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].location.as_deref(), Some("us-east-1"));
        assert_eq!(idle[0].details["idle_capacity_hours_per_day"], 144.0);
        assert_eq!(idle[0].dedup_key(), "idle_capacity:us-east-1");
    }

    #[test]
    fn the_target_idle_buffer_and_the_smallest_capacity_are_not_waste() {
        let policy = Policy::default();
        let idle_at = |always_on, target_idle, allocated, idle| {
            let mut group = group_aged(Duration::days(3));
            group.locations = vec![location("us-west-2", LocationStatus::Active, always_on, allocated, idle)];
            group.locations[0].capacity.target_idle = Some(target_idle);
            idle_capacity_findings(&group, &policy)
        };
        // gen5n_high: tenancy 2. A buffer of 6 idle on top of 2 always-on is what the studio pays for.
        assert!(idle_at(2, 6, 8, 8).is_empty(), "target-idle is intentional");
        let f = idle_at(10, 2, 12, 12);
        assert_eq!(f.len(), 1, "10 always-on, idle beyond the buffer of 2");
        assert_eq!(f[0].details["wasted"], 10);
    }

    /// The model's AlwaysOnCapacity has `min: 0` and RemoveStreamGroupLocations says the
    /// capacity can be set to zero: one idle compute unit of always-on is waste too.
    #[test]
    fn idle_always_on_of_one_compute_unit_is_waste() {
        let policy = Policy::default();
        let at = |class: &str, always_on, idle| {
            let mut group = group_aged(Duration::days(3));
            group.stream_class = Some(StreamClass::parse(class));
            group.locations = vec![location("us-west-2", LocationStatus::Active, always_on, always_on, idle)];
            idle_capacity_findings(&group, &policy)
        };
        let small = at("gen6n_small", 12, 12);
        assert_eq!(small.len(), 1, "12 always-on of gen6n_small and nobody playing");
        assert_eq!(small[0].details["wasted"], 12);
        let medium = at("gen6n_medium", 8, 7);
        assert_eq!(medium.len(), 1, "8 always-on, 7 idle: 87.5%, not 4 idle at 50%");
        assert_eq!(medium[0].details["wasted"], 7);
        assert_eq!(at("gen5n_high", 2, 2).len(), 1, "one compute unit of gen5n_high, idle");
        assert!(at("gen6n_medium", 8, 4).is_empty(), "half idle is not beyond the default share");
    }

    #[test]
    fn on_demand_only_capacity_is_not_paid_idle() {
        let mut group = group_aged(Duration::days(3));
        group.locations = vec![Location {
            name: "us-west-2".into(),
            status: LocationStatus::Active,
            capacity: Capacity { always_on: Some(0), maximum: Some(4), allocated: 2, idle: 2, ..Capacity::default() },
            vpc_transit: None,
        }];
        assert!(idle_capacity_findings(&group, &Policy::default()).is_empty());
    }

    fn session(status: StreamSessionStatus, created_ago: Duration, updated_ago: Duration) -> StreamSession {
        let (created, updated) = (now() - created_ago, now() - updated_ago);
        crate::testkit::session("us-west-2", "sg-TEST00001", 1, status, "us-west-2", created, updated)
    }

    #[test]
    fn stale_means_past_the_service_timeout_plus_the_margin() {
        let policy = Policy::default();
        let t = SessionTimeouts::default();
        let margin = policy.stale_margin;
        let stale = |s: &StreamSession, platform| is_stale(s, platform, t, now(), &policy);
        let pending = |ago| session(StreamSessionStatus::PendingClientReconnection, ago, ago);
        assert!(!stale(&pending(Duration::seconds(120) + margin), None), "exactly at the limit");
        assert!(stale(&pending(Duration::seconds(121) + margin), None));
        let activating = |ago| session(StreamSessionStatus::Activating, ago, ago);
        assert!(
            !stale(&activating(Duration::seconds(90) + margin), Some(Platform::Linux)),
            "on-demand placement takes up to 90 s on Linux"
        );
        assert!(stale(&activating(Duration::seconds(91) + margin), Some(Platform::Linux)));
        assert!(
            !stale(&activating(Duration::seconds(91) + margin), Some(Platform::Windows)),
            "Windows gets 10 minutes"
        );
        let connected = |ago| session(StreamSessionStatus::Connected, ago, Duration::minutes(1));
        assert!(!stale(&connected(Duration::hours(12) + margin), None));
        assert!(stale(&connected(Duration::hours(12) + margin + Duration::seconds(1)), None), "counted from creation");
        let long = SessionTimeouts { session_length: Duration::hours(24), ..t };
        assert!(!is_stale(&connected(Duration::hours(13)), None, long, now(), &policy), "the session's own length");
        assert!(!stale(&session(StreamSessionStatus::Terminated, Duration::days(3), Duration::days(3)), None));
    }

    #[test]
    fn stale_sessions_are_grouped_by_location() {
        let group = group_aged(Duration::days(3));
        let a = session(StreamSessionStatus::PendingClientReconnection, Duration::hours(3), Duration::hours(3));
        let mut b = session(StreamSessionStatus::Active, Duration::hours(2), Duration::hours(2));
        b.location = Some("us-east-1".into());
        let findings = stale_session_findings(&group, &[&a, &b], now());
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].location.as_deref(), Some("us-east-1"));
        assert_eq!(findings[1].details["sessions"][0]["minutes_in_status"], 180);
    }
}
