//! Lifecycle findings: rotation due (AWS asks for a new group every 3-4 weeks), the 180-day
//! association cutoff, and expiry at `ExpiresAt` (created + 365 days when not reported).

use super::{Policy, days_text, expiry_severity, finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::lifecycle::{Lifecycle, fractional_days};
use crate::model::{StreamGroup, StreamGroupStatus};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// `expired`, `expiry_soon`, `association_cutoff_passed` / `_soon` and `rotation_due`.
pub fn lifecycle_findings(group: &StreamGroup, now: DateTime<Utc>, policy: &Policy) -> Vec<Finding> {
    let mut findings = Vec::new();
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

            if group.status.is_serving() && life.age_days() >= policy.rotation_days {
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

    findings
}
