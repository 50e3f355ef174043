//! The recycler's state, all of it in tags on the old and new groups, so a run that dies
//! anywhere is finished by the next one.

use crate::ports::{LocationSpec, VpcTransitSettings};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// On the old group: the id of its replacement.
pub const REPLACEMENT: &str = "watchdog:replacement";
/// On the new group (on the old one in earlier versions): when the cut-over was announced
/// (epoch seconds). The old group may expire meanwhile and take its tags with it.
pub const CUTOVER_AT: &str = "watchdog:cutover-at";
/// On the old group: replacement attempts that failed, and when to try again.
pub const ATTEMPT: &str = "watchdog:recycle-attempt";
pub const RETRY_AFTER: &str = "watchdog:retry-after";
/// On the old group: the failed replacement already counted (so a rerun counts it once).
pub const FAILED: &str = "watchdog:failed-replacement";
/// On the old group: why its recreation is blocked (`quota`, `validation`, `tag_limit`,
/// `application_not_ready`, ...), so each reason is announced once.
pub const BLOCKED: &str = "watchdog:blocked";
/// On the old group: a failed location being repaired (`...:<location>`): its settings, the
/// attempts so far, when to try again, when it last came back ([`RepairRecord`]).
pub const REPAIR_PREFIX: &str = "watchdog:repair:";
/// On the new group, written by the studio's backend: it has moved to this group, so the
/// old one may be deleted (with REQUIRE_CUTOVER_ACK). Any value.
pub const CUTOVER_ACK: &str = "watchdog:cutover-ack";
/// On the new group: the id of the group it replaces, and when its retirement was announced.
pub const REPLACES: &str = "watchdog:replaces";
pub const RETIRED: &str = "watchdog:retired";
pub const MANAGED_BY: &str = "watchdog:managed-by";
/// On the new group: which attempt created it (so a failed one of an EXPIRED group, which
/// keeps no state, is counted from the replacement itself).
pub const REPLACEMENT_ATTEMPT: &str = "watchdog:replacement-attempt";

/// Whether the recycler (or the scanner's alert memory) owns this key: such tags are never
/// copied to a replacement.
pub fn is_watchdog_state(key: &str, alert_prefix: &str) -> bool {
    [
        REPLACEMENT,
        CUTOVER_AT,
        ATTEMPT,
        RETRY_AFTER,
        FAILED,
        REPLACES,
        RETIRED,
        MANAGED_BY,
        REPLACEMENT_ATTEMPT,
        BLOCKED,
        CUTOVER_ACK,
    ]
    .contains(&key)
        || key.starts_with(REPAIR_PREFIX)
        || key.starts_with(alert_prefix)
}

/// A group's recycle state, decoded once from its tags, as the trimmer's record is: what a
/// value older versions wrote (or a person mangled) means is decided here, not at each use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecycleState {
    /// On the old group: its replacement's id.
    pub replacement: Option<String>,
    /// When the cut-over was announced.
    pub cutover_at: Option<DateTime<Utc>>,
    /// Failed replacement attempts so far (0 when unset or unreadable).
    pub attempts: u32,
    /// No new attempt before this instant.
    pub retry_after: Option<DateTime<Utc>>,
    /// The failed replacement already counted.
    pub failed_replacement: Option<String>,
    /// Why the recreation is blocked (`quota`, `validation`, ...).
    pub blocked: Option<String>,
    /// On a replacement: the group it replaces.
    pub replaces: Option<String>,
    /// On a replacement: its retirement was announced.
    pub retired: bool,
    /// On a replacement: which attempt created it.
    pub replacement_attempt: Option<u32>,
}

impl RecycleState {
    pub fn decode(tags: &BTreeMap<String, String>) -> Self {
        let text = |key: &str| tags.get(key).cloned();
        let at =
            |key: &str| tags.get(key).and_then(|v| v.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0));
        Self {
            replacement: text(REPLACEMENT),
            cutover_at: at(CUTOVER_AT),
            attempts: tags.get(ATTEMPT).and_then(|v| v.parse().ok()).unwrap_or(0),
            retry_after: at(RETRY_AFTER),
            failed_replacement: text(FAILED),
            blocked: text(BLOCKED),
            replaces: text(REPLACES),
            retired: tags.contains_key(RETIRED),
            replacement_attempt: tags.get(REPLACEMENT_ATTEMPT).and_then(|v| v.parse().ok()),
        }
    }
}

/// The tag key recording a location under repair.
pub fn repair_key(location: &str) -> String {
    format!("{REPAIR_PREFIX}{location}")
}

/// A location under repair: what to add back, and how the repair has gone.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairRecord {
    pub spec: LocationSpec,
    /// Repairs started (removals) so far; escalated past the limit.
    pub attempts: u32,
    /// No new removal before this instant (exponential back-off).
    pub retry_after: Option<DateTime<Utc>>,
    /// When the location was last added back; the record is forgotten once it has stayed
    /// healthy that long, so a location that fails again soon counts as the same repair.
    pub added_back_at: Option<DateTime<Utc>>,
    /// The last removal was refused, with the kind of error (`fail=validation`; `1` in
    /// records written before kinds were kept): the next waits for `retry_after`.
    pub removal_failure: Option<String>,
}

impl RepairRecord {
    /// The service refused the removal for the group's state (a validation or conflict
    /// error): it does not take location changes while a location is in error.
    pub fn removal_refused_by_state(&self) -> bool {
        matches!(self.removal_failure.as_deref(), Some("validation" | "conflict"))
    }
}

fn epoch_field(value: Option<DateTime<Utc>>) -> String {
    value.map(|t| t.timestamp().to_string()).unwrap_or_default()
}

/// A repair as a tag value: `ao=2;ti=1;max=4;od=;vpc=vpc-1;cidr=10.0.0.0/16+10.1.0.0/16;n=1;next=;back=`
/// (at most about 200 characters with five CIDR blocks; a tag value holds 256).
pub fn encode_repair(record: &RepairRecord) -> String {
    let spec = &record.spec;
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let (vpc, cidrs) = match &spec.vpc_transit {
        Some(v) => (v.vpc_id.clone(), v.ipv4_cidr_blocks.join("+")),
        None => (String::new(), String::new()),
    };
    format!(
        "ao={};ti={};max={};od={};vpc={vpc};cidr={cidrs};n={};next={};back={}{}",
        spec.always_on,
        opt(spec.target_idle),
        opt(spec.maximum),
        opt(spec.on_demand),
        record.attempts,
        epoch_field(record.retry_after),
        epoch_field(record.added_back_at),
        record.removal_failure.as_ref().map(|kind| format!(";fail={kind}")).unwrap_or_default(),
    )
}

/// Reads a repair record; records written before attempts were counted read as one attempt.
pub fn decode_repair(name: &str, value: &str) -> Option<RepairRecord> {
    let fields: BTreeMap<&str, &str> = value.split(';').filter_map(|f| f.split_once('=')).collect();
    let present = |k: &str| fields.get(k).copied().filter(|v| !v.is_empty());
    let opt = |k: &str| present(k).and_then(|v| v.parse().ok());
    let at = |k: &str| present(k).and_then(|v| v.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0));
    let vpc_transit = present("vpc").map(|vpc_id| VpcTransitSettings {
        vpc_id: vpc_id.to_owned(),
        ipv4_cidr_blocks: present("cidr").map(|c| c.split('+').map(str::to_owned).collect()).unwrap_or_default(),
    });
    Some(RepairRecord {
        spec: LocationSpec {
            name: name.to_owned(),
            always_on: fields.get("ao")?.parse().ok()?,
            target_idle: opt("ti"),
            maximum: opt("max"),
            on_demand: opt("od"),
            vpc_transit,
        },
        attempts: opt("n").unwrap_or(1),
        retry_after: at("next"),
        added_back_at: at("back"),
        removal_failure: present("fail").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_records_round_trip_through_a_tag() {
        let cidrs: Vec<String> = (0..5).map(|i| format!("172.{i}.255.0/24")).collect();
        let record = RepairRecord {
            spec: LocationSpec {
                name: "eu-west-1".into(),
                always_on: 2,
                target_idle: Some(1),
                maximum: Some(4),
                on_demand: None,
                vpc_transit: Some(VpcTransitSettings {
                    vpc_id: "vpc-0123456789abcdef0".into(),
                    ipv4_cidr_blocks: cidrs,
                }),
            },
            attempts: 3,
            retry_after: DateTime::from_timestamp(1_800_000_000, 0),
            added_back_at: None,
            removal_failure: Some("conflict".into()),
        };
        let value = encode_repair(&record);
        assert!(value.len() <= 256, "{} characters", value.len());
        assert_eq!(decode_repair("eu-west-1", &value), Some(record));
        assert_eq!(decode_repair("x", "garbage"), None);
        // A record from before attempts were counted: one attempt, no VPC.
        let old = decode_repair("eu-west-1", "ao=2;ti=1;max=4;od=").unwrap();
        assert_eq!((old.attempts, old.spec.vpc_transit, old.spec.maximum), (1, None, Some(4)));
    }

    #[test]
    fn state_keys_are_recognised() {
        assert!(is_watchdog_state(REPLACEMENT, "watchdog:alert:"));
        assert!(is_watchdog_state("watchdog:repair:eu-west-1", "watchdog:alert:"));
        assert!(is_watchdog_state("mine:alert:x", "mine:alert:"));
        assert!(!is_watchdog_state("team", "watchdog:alert:"));
    }

    #[test]
    fn the_recycle_state_decodes_once_and_unreadable_values_read_as_unset() {
        let tags: BTreeMap<String, String> = [
            (REPLACEMENT, "sg-NEW"),
            (CUTOVER_AT, "1795262400"),
            (ATTEMPT, "2"),
            (RETRY_AFTER, "not a time"),
            (BLOCKED, "quota"),
            (RETIRED, "1795262400"),
            (REPLACEMENT_ATTEMPT, "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let state = RecycleState::decode(&tags);
        assert_eq!(state.replacement.as_deref(), Some("sg-NEW"));
        assert_eq!(state.cutover_at, DateTime::from_timestamp(1_795_262_400, 0));
        assert_eq!((state.attempts, state.retry_after, state.blocked.as_deref()), (2, None, Some("quota")));
        assert!(state.retired && state.replacement_attempt.is_none() && state.replaces.is_none());
        assert_eq!(RecycleState::decode(&BTreeMap::new()), RecycleState::default());
    }
}
