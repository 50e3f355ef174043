//! Status findings: a group with failed locations (ACTIVE_WITH_ERRORS) or in ERROR.

use super::{finding, name};
use crate::findings::{Finding, FindingKind, Severity};
use crate::model::{StreamGroup, StreamGroupStatus};
use serde_json::json;

/// `active_with_errors` (critical when the primary location failed) and `group_error`.
pub fn status_findings(group: &StreamGroup) -> Vec<Finding> {
    let mut findings = Vec::new();
    match group.status {
        StreamGroupStatus::ActiveWithErrors => {
            let failed: Vec<&str> = group.failed_locations().map(|l| l.name.as_str()).collect();
            let primary_failed = group.primary_location_failed();
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

    findings
}
