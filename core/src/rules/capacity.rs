//! Capacity findings: paid capacity that sits idle.

use super::{Policy, finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::model::{LocationStatus, StreamGroup};
use serde_json::json;

/// Idle capacity that is waste: idle beyond the target-idle buffer the studio pays for on
/// purpose (seed 000: capacity "held in this intentional idle state" to start sessions fast),
/// and above the smallest always-on capacity that can be set (one compute unit of the class's
/// tenancy, e.g. 12 for gen6n_small), so a location that cannot be trimmed is never reported.
/// Reported per location when that waste exceeds the policy's share of allocated capacity.
pub fn idle_capacity_findings(group: &StreamGroup, policy: &Policy) -> Vec<Finding> {
    if !group.status.is_serving() {
        return Vec::new();
    }
    let step = group.stream_class.as_ref().and_then(|c| c.tenancy()).unwrap_or(1);
    group
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .filter_map(|location| {
            let c = &location.capacity;
            let target_idle = c.target_idle.unwrap_or(0);
            let beyond_buffer = c.idle.saturating_sub(target_idle);
            let reducible = c.always_on.unwrap_or(0).saturating_sub(step);
            let waste = beyond_buffer.min(reducible);
            if waste == 0 || c.allocated == 0 {
                return None;
            }
            let waste_share = f64::from(waste) / f64::from(c.allocated);
            if waste_share <= policy.idle_share {
                return None;
            }
            let mut f = finding(
                group,
                FindingKind::IdleCapacity,
                Severity::Warning,
                format!(
                    "{} in {}: {} of {} allocated capacity is idle beyond the target-idle buffer of {} and above the smallest always-on capacity ({:.0}%).",
                    name(group),
                    location.name,
                    waste,
                    c.allocated,
                    target_idle,
                    waste_share * 100.0,
                ),
                "Lower always-on capacity to what demand needs (opt the group in to the trimmer).",
            );
            f.location = Some(location.name.clone());
            f.details = json!({
                "idle": c.idle,
                "wasted": waste,
                "allocated": c.allocated,
                "always_on": c.always_on,
                "target_idle": c.target_idle,
                "idle_share": waste_share,
                "idle_capacity_hours_per_day": f64::from(waste) * 24.0,
            });
            Some(f)
        })
        .collect()
}
