//! Capacity findings: paid capacity that sits idle.

use super::{Policy, finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::model::{LocationStatus, StreamGroup};
use serde_json::json;

/// Idle capacity that is waste: idle beyond the target-idle buffer the studio pays for on
/// purpose (seed 000: capacity "held in this intentional idle state" to start sessions fast),
/// up to all of the always-on capacity. The model's AlwaysOnCapacity has `min: 0` ("This
/// setting, if non-zero, indicates minimum streaming capacity ... You pay for this base level
/// of capacity at all times, whether used or idle"), and RemoveStreamGroupLocations says "you
/// can set the stream capacity to zero to avoid incurring costs", so every idle always-on unit
/// can be given back: there is no smallest always-on capacity to spare. Reported per location
/// when that waste exceeds the policy's share of allocated capacity.
pub fn idle_capacity_findings(group: &StreamGroup, policy: &Policy) -> Vec<Finding> {
    if !group.status.is_serving() {
        return Vec::new();
    }
    group
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .filter_map(|location| {
            let c = &location.capacity;
            let target_idle = c.target_idle.unwrap_or(0);
            let beyond_buffer = c.idle.saturating_sub(target_idle);
            let waste = beyond_buffer.min(c.always_on.unwrap_or(0));
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
                    "{} in {}: {} of {} allocated capacity is always-on and idle beyond the target-idle buffer of {} ({:.0}%).",
                    name(group),
                    location.name,
                    waste,
                    c.allocated,
                    target_idle,
                    waste_share * 100.0,
                ),
                "Lower always-on capacity to what demand needs; 0 is allowed (players then get on-demand capacity up to the maximum). The trimmer does this for opted-in groups, down to FLOOR_CAPACITY.",
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
