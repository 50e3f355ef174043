//! The recycler's state, all of it in tags on the old and new groups, so a run that dies
//! anywhere is finished by the next one.

use crate::ports::LocationSpec;
use std::collections::BTreeMap;

/// On the old group: the id of its replacement.
pub const REPLACEMENT: &str = "watchdog:replacement";
/// On the old group: when the cut-over was announced (epoch seconds).
pub const CUTOVER_AT: &str = "watchdog:cutover-at";
/// On the old group: replacement attempts that failed, and when to try again.
pub const ATTEMPT: &str = "watchdog:recycle-attempt";
pub const RETRY_AFTER: &str = "watchdog:retry-after";
/// On the old group: the failed replacement already counted (so a rerun counts it once).
pub const FAILED: &str = "watchdog:failed-replacement";
/// On the old group: the capacity of a failed location being repaired (`...:<location>`).
pub const REPAIR_PREFIX: &str = "watchdog:repair:";
/// On the new group: the id of the group it replaces, and when its retirement was announced.
pub const REPLACES: &str = "watchdog:replaces";
pub const RETIRED: &str = "watchdog:retired";
pub const MANAGED_BY: &str = "watchdog:managed-by";

/// Whether the recycler (or the scanner's alert memory) owns this key: such tags are never
/// copied to a replacement.
pub fn is_watchdog_state(key: &str, alert_prefix: &str) -> bool {
    [REPLACEMENT, CUTOVER_AT, ATTEMPT, RETRY_AFTER, FAILED, REPLACES, RETIRED, MANAGED_BY].contains(&key)
        || key.starts_with(REPAIR_PREFIX)
        || key.starts_with(alert_prefix)
}

/// The tag key recording a location under repair.
pub fn repair_key(location: &str) -> String {
    format!("{REPAIR_PREFIX}{location}")
}

/// A location's capacity as a tag value: `ao=2;ti=1;max=4;od=`.
pub fn encode_location(spec: &LocationSpec) -> String {
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    format!("ao={};ti={};max={};od={}", spec.always_on, opt(spec.target_idle), opt(spec.maximum), opt(spec.on_demand))
}

pub fn decode_location(name: &str, value: &str) -> Option<LocationSpec> {
    let fields: BTreeMap<&str, &str> = value.split(';').filter_map(|f| f.split_once('=')).collect();
    let opt = |k: &str| fields.get(k).filter(|v| !v.is_empty()).and_then(|v| v.parse().ok());
    Some(LocationSpec {
        name: name.to_owned(),
        always_on: fields.get("ao")?.parse().ok()?,
        target_idle: opt("ti"),
        maximum: opt("max"),
        on_demand: opt("od"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_records_round_trip_through_a_tag() {
        let spec = LocationSpec {
            name: "eu-west-1".into(),
            always_on: 2,
            target_idle: Some(1),
            maximum: Some(4),
            on_demand: None,
        };
        assert_eq!(encode_location(&spec), "ao=2;ti=1;max=4;od=");
        assert_eq!(decode_location("eu-west-1", &encode_location(&spec)), Some(spec));
        assert_eq!(decode_location("x", "garbage"), None);
    }

    #[test]
    fn state_keys_are_recognised() {
        assert!(is_watchdog_state(REPLACEMENT, "watchdog:alert:"));
        assert!(is_watchdog_state("watchdog:repair:eu-west-1", "watchdog:alert:"));
        assert!(is_watchdog_state("mine:alert:x", "mine:alert:"));
        assert!(!is_watchdog_state("team", "watchdog:alert:"));
    }
}
