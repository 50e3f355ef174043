//! The finding rules: pure functions of a stream group, its sessions, the time and the
//! policy. The scanner raises what they return; the recycler and trimmer reuse them to decide
//! what is due, so every function agrees on what "due" means.

use crate::findings::{Finding, FindingKind, Severity};
use crate::lifecycle::{Lifecycle, fractional_days};
use crate::model::{LocationStatus, StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus};
use crate::stream_class::Platform;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// The service's own session timeouts (StartStreamSession documentation).
pub const PLACEMENT_TIMEOUT_LINUX: Duration = Duration::seconds(75);
pub const PLACEMENT_TIMEOUT_WINDOWS: Duration = Duration::minutes(10);
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::seconds(120);
pub const DEFAULT_SESSION_LENGTH: Duration = Duration::seconds(43_200);

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

fn finding(group: &StreamGroup, kind: FindingKind, severity: Severity, message: String, action: &str) -> Finding {
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

fn days_text(duration: Duration) -> String {
    let days = fractional_days(duration);
    if days.abs() < 1.0 { format!("{:.1} hours", days * 24.0) } else { format!("{days:.1} days") }
}

fn name(group: &StreamGroup) -> String {
    match &group.description {
        Some(description) => format!("Stream group {} ({description})", group.id),
        None => format!("Stream group {}", group.id),
    }
}

/// Severity for the `crossed`-th of `count` expiry thresholds (1 = the farthest): the last
/// four steps are info, warning, high, critical.
fn expiry_severity(crossed: usize, count: usize) -> Severity {
    const LEVELS: [Severity; 4] = [Severity::Info, Severity::Warning, Severity::High, Severity::Critical];
    let index = 4usize.saturating_sub(count) + crossed - 1;
    LEVELS[index.min(3)]
}

/// Lifecycle, status and capacity findings for one group at `now`.
pub fn group_findings(group: &StreamGroup, now: DateTime<Utc>, policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
    let gone = matches!(group.status, StreamGroupStatus::Deleting);
    if gone {
        return findings;
    }
    let lifecycle = group.created_at.map(|created| Lifecycle::new(created, group.expires_at, now));

    if let Some(life) = &lifecycle {
        let expired = life.is_expired() || group.status == StreamGroupStatus::Expired;
        if expired {
            let mut f = finding(
                group,
                FindingKind::Expired,
                Severity::Critical,
                format!(
                    "{} expired at {} and can no longer stream.",
                    name(group),
                    life.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                "Create a new stream group (the recycler can do it), move traffic to it and delete this one.",
            );
            f.details = json!({ "expires_at": life.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "age_days": life.age_days() });
            findings.push(f);
        } else {
            let until_expiry = life.until_expiry();
            let mut thresholds = policy.expiry_thresholds_days.clone();
            thresholds.sort_unstable_by(|a, b| b.cmp(a));
            thresholds.dedup();
            let crossed = thresholds.iter().filter(|&&t| until_expiry <= Duration::days(t)).count();
            if crossed > 0 {
                let threshold = thresholds[crossed - 1];
                let mut f = finding(
                    group,
                    FindingKind::ExpirySoon,
                    expiry_severity(crossed, thresholds.len()),
                    format!(
                        "{} expires in {} (at {}); it then stops streaming.",
                        name(group),
                        days_text(until_expiry),
                        life.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    "Recreate the stream group before it expires and move sessions to the new one.",
                );
                f.details = json!({
                    "days_to_expiry": fractional_days(until_expiry),
                    "threshold_days": threshold,
                    "expires_at": life.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "expires_at_reported": life.expires_at_reported,
                });
                findings.push(f);
            }

            let until_cutoff = life.until_association_cutoff();
            if !life.associations_allowed() {
                let mut f = finding(
                    group,
                    FindingKind::AssociationCutoffPassed,
                    Severity::High,
                    format!("{} is older than 180 days and accepts no new applications.", name(group)),
                    "Associate new builds with a newer stream group; recreate this one.",
                );
                f.details = json!({ "age_days": life.age_days(), "cutoff_at": life.association_cutoff_at().to_rfc3339_opts(chrono::SecondsFormat::Secs, true) });
                findings.push(f);
            } else if until_cutoff <= Duration::days(policy.cutoff_warning_days) {
                let mut f = finding(
                    group,
                    FindingKind::AssociationCutoffSoon,
                    Severity::Warning,
                    format!(
                        "{} stops accepting new applications in {} (180 days after creation).",
                        name(group),
                        days_text(until_cutoff)
                    ),
                    "Associate any upcoming build now, or plan to recreate the stream group.",
                );
                f.details = json!({
                    "days_to_cutoff": fractional_days(until_cutoff),
                    "cutoff_at": life.association_cutoff_at().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
                findings.push(f);
            }

            let serving = matches!(
                group.status,
                StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::UpdatingLocations
            );
            if serving && life.age_days() >= policy.rotation_days {
                let mut f = finding(
                    group,
                    FindingKind::RotationDue,
                    Severity::Warning,
                    format!(
                        "{} is {} days old; AWS recommends recreating stream groups every 3-4 weeks.",
                        name(group),
                        life.age_days()
                    ),
                    "Recreate the stream group blue/green (opt it in to the recycler) to pick up service updates.",
                );
                f.details = json!({ "age_days": life.age_days(), "rotation_days": policy.rotation_days });
                findings.push(f);
            }
        }
    }

    match group.status {
        StreamGroupStatus::ActiveWithErrors => {
            let failed: Vec<&str> = group.failed_locations().map(|l| l.name.as_str()).collect();
            let primary_failed = failed.iter().any(|l| group.is_primary_location(l));
            let (severity, action) = if primary_failed {
                (Severity::Critical, "The primary location cannot be removed: recreate the stream group.")
            } else {
                (Severity::High, "Remove the failed locations and add them back (the recycler can repair them).")
            };
            let mut f = finding(
                group,
                FindingKind::ActiveWithErrors,
                severity,
                format!(
                    "{} has failed locations: {}{}.",
                    name(group),
                    failed.join(", "),
                    if primary_failed { " (including the primary location)" } else { "" }
                ),
                action,
            );
            f.details = json!({ "failed_locations": failed, "primary_failed": primary_failed });
            findings.push(f);
        }
        StreamGroupStatus::Error => {
            let reason = group.status_reason.as_ref().map_or("not reported".to_owned(), ToString::to_string);
            let mut f = finding(
                group,
                FindingKind::GroupError,
                Severity::Critical,
                format!("{} is in ERROR (reason: {reason}).", name(group)),
                "Delete the stream group and create it again; for noAvailableInstances try another stream class or location.",
            );
            f.details = json!({ "status_reason": reason });
            findings.push(f);
        }
        _ => {}
    }

    findings.extend(idle_capacity_findings(group, policy));
    findings
}

/// Paid (always-on or target-idle) capacity that sits idle beyond the policy's share.
pub fn idle_capacity_findings(group: &StreamGroup, policy: &Policy) -> Vec<Finding> {
    if !matches!(
        group.status,
        StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::UpdatingLocations
    ) {
        return Vec::new();
    }
    group
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .filter_map(|location| {
            let c = &location.capacity;
            let paid = c.always_on.unwrap_or(0) + c.target_idle.unwrap_or(0);
            if paid == 0 || c.allocated == 0 || c.idle == 0 {
                return None;
            }
            let idle_share = f64::from(c.idle) / f64::from(c.allocated);
            if idle_share <= policy.idle_share {
                return None;
            }
            let mut f = finding(
                group,
                FindingKind::IdleCapacity,
                Severity::Warning,
                format!(
                    "{} in {}: {} of {} allocated capacity is idle ({:.0}%), {} of it paid as always-on or target-idle.",
                    name(group),
                    location.name,
                    c.idle,
                    c.allocated,
                    idle_share * 100.0,
                    paid
                ),
                "Lower always-on or target-idle capacity to what demand needs (opt the group in to the trimmer).",
            );
            f.location = Some(location.name.clone());
            f.details = json!({
                "idle": c.idle,
                "allocated": c.allocated,
                "always_on": c.always_on,
                "target_idle": c.target_idle,
                "idle_share": idle_share,
                "idle_capacity_hours_per_day": f64::from(c.idle) * 24.0,
            });
            Some(f)
        })
        .collect()
}

/// A session's own timeouts, when read with GetStreamSession; defaults otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub connection_timeout: Duration,
    pub session_length: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self { connection_timeout: DEFAULT_CONNECTION_TIMEOUT, session_length: DEFAULT_SESSION_LENGTH }
    }
}

/// How long the service lets a session stay in its status, or `None` for a final status.
pub fn service_limit(
    session: &StreamSession,
    platform: Option<Platform>,
    timeouts: SessionTimeouts,
) -> Option<Duration> {
    match session.status {
        StreamSessionStatus::Activating => Some(match platform {
            Some(Platform::Windows) => PLACEMENT_TIMEOUT_WINDOWS,
            _ => PLACEMENT_TIMEOUT_LINUX,
        }),
        StreamSessionStatus::Active
        | StreamSessionStatus::PendingClientReconnection
        | StreamSessionStatus::Reconnecting => Some(timeouts.connection_timeout),
        StreamSessionStatus::Connected => Some(timeouts.session_length),
        StreamSessionStatus::Terminating => Some(Duration::zero()),
        _ => None,
    }
}

/// How long `session` has been in its status (CONNECTED counts from creation: its limit is
/// the whole session length).
pub fn time_in_status(session: &StreamSession, now: DateTime<Utc>) -> Option<Duration> {
    let since = match session.status {
        StreamSessionStatus::Connected => session.created_at,
        _ => session.last_updated_at.or(session.created_at),
    }?;
    Some(now - since)
}

/// Whether `session` has outlived the service's own limit for its status plus the margin.
pub fn is_stale(
    session: &StreamSession,
    platform: Option<Platform>,
    timeouts: SessionTimeouts,
    now: DateTime<Utc>,
    policy: &Policy,
) -> bool {
    match (service_limit(session, platform, timeouts), time_in_status(session, now)) {
        (Some(limit), Some(elapsed)) => elapsed > limit + policy.stale_margin,
        _ => false,
    }
}

/// One `stale_session` finding per location, naming its stale sessions.
pub fn stale_session_findings(group: &StreamGroup, stale: &[&StreamSession], now: DateTime<Utc>) -> Vec<Finding> {
    let mut by_location: std::collections::BTreeMap<String, Vec<&StreamSession>> = Default::default();
    for session in stale {
        by_location.entry(session.location.clone().unwrap_or_default()).or_default().push(session);
    }
    by_location
        .into_iter()
        .map(|(location, sessions)| {
            let listed: Vec<serde_json::Value> = sessions
                .iter()
                .map(|s| {
                    json!({
                        "arn": s.arn,
                        "status": s.status.as_str(),
                        "minutes_in_status": time_in_status(s, now).map(|d| d.num_minutes()),
                    })
                })
                .collect();
            let statuses: std::collections::BTreeSet<&str> = sessions.iter().map(|s| s.status.as_str()).collect();
            let mut f = finding(
                group,
                FindingKind::StaleSession,
                Severity::Warning,
                format!(
                    "{} in {location}: {} session(s) ({}) have outlived the service's own timeouts and may hold capacity.",
                    name(group),
                    sessions.len(),
                    statuses.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "Terminate the sessions with TerminateStreamSession (the trimmer can, by policy).",
            );
            f.location = Some(location);
            f.details = json!({ "sessions": listed });
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capacity, Location, StreamGroupStatusReason};
    use crate::stream_class::StreamClass;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn location(name: &str, status: LocationStatus, always_on: u32, allocated: u32, idle: u32) -> Location {
        Location {
            name: name.into(),
            status,
            capacity: Capacity {
                always_on: Some(always_on),
                allocated,
                idle,
                requested: always_on,
                ..Capacity::default()
            },
        }
    }

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
            location("us-west-2", LocationStatus::Active, 4, 4, 2), // 50%: not beyond
            location("us-east-1", LocationStatus::Active, 4, 4, 3), // 75%
            location("eu-west-1", LocationStatus::Error, 4, 0, 0),  // failed: nothing allocated
        ];
        let findings = group_findings(&group, now(), &policy);
        let idle: Vec<&Finding> = findings.iter().filter(|f| f.kind == FindingKind::IdleCapacity).collect();
        assert_eq!(idle.len(), 1);
        assert_eq!(idle[0].location.as_deref(), Some("us-east-1"));
        assert_eq!(idle[0].details["idle_capacity_hours_per_day"], 72.0);
        assert_eq!(idle[0].dedup_key(), "idle_capacity:us-east-1");
    }

    #[test]
    fn on_demand_only_capacity_is_not_paid_idle() {
        let mut group = group_aged(Duration::days(3));
        group.locations = vec![Location {
            name: "us-west-2".into(),
            status: LocationStatus::Active,
            capacity: Capacity { always_on: Some(0), maximum: Some(4), allocated: 2, idle: 2, ..Capacity::default() },
        }];
        assert!(idle_capacity_findings(&group, &Policy::default()).is_empty());
    }

    fn session(status: StreamSessionStatus, created_ago: Duration, updated_ago: Duration) -> StreamSession {
        StreamSession {
            arn: "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-TEST00001/S1".into(),
            stream_group_id: Some("sg-TEST00001".into()),
            status,
            status_reason: None,
            location: Some("us-west-2".into()),
            application_arn: None,
            user_id: None,
            created_at: Some(now() - created_ago),
            last_updated_at: Some(now() - updated_ago),
        }
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
        assert!(stale(&activating(Duration::seconds(76) + margin), Some(Platform::Linux)));
        assert!(
            !stale(&activating(Duration::seconds(76) + margin), Some(Platform::Windows)),
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
