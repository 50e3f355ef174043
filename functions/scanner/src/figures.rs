//! Every figure of every group and location, as structured log lines (`fields.figures` names
//! the kind of line) that the dashboard's Logs Insights widgets read. In the log a figure costs
//! ingestion (a few hundred bytes a line), not $0.30 a month as a custom metric, so the
//! dashboard shows every group whatever `METRIC_DETAIL` says; only what alarms read stays a
//! metric.

use crate::inventory::RegionInventory;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use watchdog_core::findings::{Finding, FindingKind};
use watchdog_core::lifecycle::{Lifecycle, fractional_days};
use watchdog_core::{Capacity, StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus};

/// One `figures=group` line, and when its details were read one `figures=location` line per
/// location.
pub fn log_group(region: &str, group: &StreamGroup, described: bool, sessions: &[&StreamSession], now: DateTime<Utc>) {
    if group.status == StreamGroupStatus::Deleting {
        return;
    }
    let life = group.created_at.map(|created| Lifecycle::new(created, group.expires_at, now));
    let days = |f: fn(&Lifecycle) -> chrono::Duration| life.as_ref().map(|l| fractional_days(f(l)));
    let class = group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default();
    let total = described.then(|| crate::metrics::sum(group.locations.iter().map(|l| l.capacity.clone())));
    tracing::info!(
        function = "scanner",
        figures = "group",
        region,
        stream_group = %group.id,
        status = group.status.as_str(),
        stream_class = %class,
        age_days = days(Lifecycle::age),
        days_to_association_cutoff = days(Lifecycle::until_association_cutoff),
        days_to_expiry = days(Lifecycle::until_expiry),
        allocated = total.as_ref().map(|c| c.allocated),
        idle = total.as_ref().map(|c| c.idle),
        in_use = total.as_ref().map(Capacity::in_use),
        sessions = described.then_some(sessions.len()),
        "group figures"
    );
    if !described {
        return;
    }
    for location in &group.locations {
        let c = &location.capacity;
        let here = sessions.iter().filter(|s| s.location.as_deref() == Some(&location.name)).count();
        tracing::info!(
            function = "scanner",
            figures = "location",
            region,
            stream_group = %group.id,
            location = %location.name,
            status = location.status.as_str(),
            always_on = c.always_on,
            target_idle = c.target_idle,
            maximum = c.maximum,
            allocated = c.allocated,
            idle = c.idle,
            in_use = c.in_use(),
            sessions = here,
            "location figures"
        );
    }
}

/// A region's counts: one `figures=findings` line per finding kind and one `figures=sessions`
/// line per open session status, zeros included (so a chart drops to zero instead of a gap).
pub fn log_region(inventory: &RegionInventory, findings: &[Finding]) {
    let region = inventory.region.as_str();
    for &kind in FindingKind::ALL {
        let count = findings.iter().filter(|f| f.kind == kind).count();
        tracing::info!(
            function = "scanner",
            figures = "findings",
            region,
            kind = kind.as_str(),
            count,
            "findings by kind"
        );
    }
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for session in &inventory.sessions {
        *by_status.entry(session.status.as_str()).or_default() += 1;
    }
    for status in StreamSessionStatus::OPEN {
        let count = by_status.get(status.as_str()).copied().unwrap_or(0);
        tracing::info!(
            function = "scanner",
            figures = "sessions",
            region,
            status = status.as_str(),
            count,
            "sessions by status"
        );
    }
}
