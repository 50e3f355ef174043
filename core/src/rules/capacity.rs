//! Capacity findings: paid capacity that sits idle.

use super::{Policy, finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::model::{LocationStatus, StreamGroup};
use serde_json::json;

/// Paid (always-on or target-idle) capacity that sits idle beyond the policy's share.
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
