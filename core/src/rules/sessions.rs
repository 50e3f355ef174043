//! Session findings: sessions that outlived the service's own timeouts, which it should
//! have ended (they may hold capacity nobody uses).

use super::{Policy, finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::model::{StreamGroup, StreamSession, StreamSessionStatus};
use crate::stream_class::Platform;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// The service's own session timeouts (StartStreamSession documentation). Placement takes
/// 75 s on always-on capacity and 90 s on on-demand capacity for Linux/Proton; a scan cannot
/// tell which capacity a waiting session will get, so it allows the longer one.
pub const PLACEMENT_TIMEOUT_LINUX: Duration = Duration::seconds(90);
pub const PLACEMENT_TIMEOUT_WINDOWS: Duration = Duration::minutes(10);
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::seconds(120);
pub const DEFAULT_SESSION_LENGTH: Duration = Duration::seconds(43_200);

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
