//! `restore`: the runbook's rollback of trimming. For each chosen group, the capacity the
//! trimmer recorded before its first change (`watchdog:trim:<location>` tags) is put back:
//! always-on, target-idle and the maximum it had (raised only if the restored levels need it).
//! Order, so a crash at any point loses nothing: the group is opted out of trimming first (so
//! the trimmer does not lower it again; `--keep-opt-in` skips this), then one UpdateStreamGroup
//! per group, then the records are removed. Run again, it does the rest. Dry run unless
//! `--apply`.

use serde::Serialize;
use watchdog_core::opt_in::is_protected;
use watchdog_core::ports::{GameLiftStreams, LocationSpec, Ports, Tags, Write};
use watchdog_core::tags::trim::{RECORD_PREFIX, Record};
use watchdog_core::{StreamGroup, StreamGroupStatus};

#[derive(Debug, Clone)]
pub struct RestoreSettings {
    /// Group ids or ARNs; empty with `all`.
    pub stream_groups: Vec<String>,
    pub all: bool,
    pub apply: bool,
    pub keep_opt_in: bool,
    pub trim_tag: String,
}

/// One location put back.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LocationRestore {
    pub location: String,
    pub from: (u32, u32),
    pub to: (u32, u32),
    pub maximum: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRestore {
    pub region: String,
    pub stream_group: String,
    pub locations: Vec<LocationRestore>,
    /// `would restore`, `restored`, or why nothing was done.
    pub outcome: String,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub dry_run: bool,
    pub groups: Vec<GroupRestore>,
    /// Named groups found in no region.
    pub not_found: Vec<String>,
}

/// What to send for one group: every recorded location back to its original levels.
pub fn restoration(group: &StreamGroup, tags: &Tags) -> (Vec<LocationRestore>, Vec<LocationSpec>, Vec<String>) {
    let (mut rows, mut specs, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in tags.range(RECORD_PREFIX.to_owned()..) {
        let Some(location_name) = key.strip_prefix(RECORD_PREFIX) else { break };
        let Some(record) = Record::decode(value) else { continue };
        keys.push(key.clone());
        let Some(location) = group.locations.iter().find(|l| l.name == location_name) else { continue };
        let original = record.original;
        // The maximum the location had when the original was recorded, and never below what
        // the restored levels need (the service refuses that).
        let maximum = record.original_maximum.or(location.capacity.maximum).map(|m| m.max(original.total()));
        let current = (location.capacity.always_on.unwrap_or(0), location.capacity.target_idle.unwrap_or(0));
        rows.push(LocationRestore {
            location: location_name.to_owned(),
            from: current,
            to: (original.always_on, original.target_idle),
            maximum,
        });
        specs.push(LocationSpec {
            name: location_name.to_owned(),
            always_on: original.always_on,
            target_idle: Some(original.target_idle),
            maximum,
            on_demand: None,
            vpc_transit: None,
        });
    }
    (rows, specs, keys)
}

fn chosen(settings: &RestoreSettings, group: &StreamGroup) -> bool {
    settings.all || settings.stream_groups.iter().any(|name| watchdog_core::model::identifies(name, group))
}

pub async fn restore(ports: &Ports, settings: &RestoreSettings) -> RestoreReport {
    let mut report = RestoreReport { dry_run: !settings.apply, groups: Vec::new(), not_found: Vec::new() };
    let mut seen: Vec<StreamGroup> = Vec::new();
    for region in ports.regions.values() {
        let listed = match region.list_stream_groups().await {
            Ok(groups) => groups,
            Err(e) => {
                report.groups.push(GroupRestore {
                    region: region.region().to_owned(),
                    stream_group: "*".into(),
                    locations: vec![],
                    outcome: format!("could not list the stream groups: {e}"),
                    ok: false,
                });
                continue;
            }
        };
        for summary in listed.into_iter().filter(|g| chosen(settings, g)) {
            seen.push(summary.clone());
            report.groups.push(restore_group(region.as_ref(), &summary, settings).await);
        }
    }
    for name in &settings.stream_groups {
        if !seen.iter().any(|g| watchdog_core::model::identifies(name, g)) {
            report.not_found.push(name.clone());
        }
    }
    report
}

/// The tag write that opts a group out of trimming (`<trim tag>=false`).
fn opt_out(arn: &str, trim_tag: &str) -> Write {
    Write::Tag { arn: arn.to_owned(), tags: Tags::from([(trim_tag.to_owned(), "false".to_owned())]) }
}

async fn restore_group(
    region: &dyn GameLiftStreams,
    summary: &StreamGroup,
    settings: &RestoreSettings,
) -> GroupRestore {
    let mut result = GroupRestore {
        region: region.region().to_owned(),
        stream_group: summary.id.clone(),
        locations: Vec::new(),
        outcome: String::new(),
        ok: false,
    };
    if matches!(summary.status, StreamGroupStatus::Expired | StreamGroupStatus::Deleting) {
        result.outcome = format!("{}: nothing to restore", summary.status);
        result.ok = true;
        return result;
    }
    let (group, tags) = match (region.get_stream_group(&summary.id).await, region.list_tags(&summary.arn).await) {
        (Ok(group), Ok(tags)) => (group, tags),
        (Err(e), _) | (_, Err(e)) => {
            result.outcome = format!("could not read it: {e}");
            return result;
        }
    };
    if is_protected(&tags) {
        result.outcome = "protected (watchdog:protect=true): left as it is".into();
        result.ok = true;
        return result;
    }
    let (rows, specs, keys) = restoration(&group, &tags);
    result.locations = rows;
    if keys.is_empty() {
        result.outcome = "no trim record: nothing to restore".into();
        result.ok = true;
        return result;
    }
    if !settings.apply {
        result.outcome = format!(
            "would restore{} (run with --apply)",
            if settings.keep_opt_in { "" } else { " and opt it out of trimming" }
        );
        result.ok = true;
        return result;
    }
    if !settings.keep_opt_in
        && let Err(e) = region.write(&opt_out(&group.arn, &settings.trim_tag)).await
    {
        result.outcome =
            format!("could not opt it out of trimming ({}=false), nothing changed: {e}", settings.trim_tag);
        return result;
    }
    if !specs.is_empty()
        && let Err(e) = region.write(&Write::UpdateCapacity { group_id: group.id.clone(), locations: specs }).await
    {
        result.outcome = format!("UpdateStreamGroup failed, the records are kept (run again): {e}");
        return result;
    }
    if let Err(e) = region.write(&Write::Untag { arn: group.arn.clone(), keys }).await {
        result.outcome = format!("restored; removing the trim records failed (run again to remove them): {e}");
        return result;
    }
    result.outcome = "restored".into();
    result.ok = true;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use watchdog_core::tags::trim::{ChangeReason, Levels, record_key};

    #[test]
    fn the_recorded_levels_and_maximum_come_back_and_the_maximum_stays_valid() {
        let created = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut group = watchdog_core::testkit::group(
            "us-west-2",
            "sg-1",
            "gen5n_high",
            created,
            &[("us-west-2", 4), ("eu-west-1", 2)],
        );
        group.locations[0].capacity.maximum = Some(6);
        let record = |original: (u32, u32), max: Option<u32>| Record {
            original: Levels { always_on: original.0, target_idle: original.1 },
            set: Levels { always_on: 4, target_idle: 0 },
            changed_at: created,
            why: ChangeReason::Demand,
            original_maximum: max,
        };
        let tags = Tags::from([
            (record_key("us-west-2"), record((10, 2), Some(12)).encode()),
            (record_key("eu-west-1"), record((5, 0), None).encode()),
            (record_key("ap-south-1"), record((1, 0), None).encode()),
            ("watchdog:trim".into(), "true".into()),
            ("watchdog:trim:broken".into(), "nonsense".into()),
        ]);
        let (rows, specs, keys) = restoration(&group, &tags);
        assert_eq!(keys.len(), 3, "every readable record is removed, a location gone included: {keys:?}");
        assert_eq!(rows.len(), 2);
        let us = specs.iter().find(|s| s.name == "us-west-2").unwrap();
        assert_eq!((us.always_on, us.target_idle, us.maximum), (10, Some(2), Some(12)));
        let eu = specs.iter().find(|s| s.name == "eu-west-1").unwrap();
        assert_eq!((eu.always_on, eu.maximum), (5, Some(5)), "the current maximum 2 is raised to what 5 needs");
    }
}
