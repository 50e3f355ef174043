//! Fleet files: a TOML (or JSON) description of applications, stream groups, locations,
//! capacities, tags and sessions, with ages relative to the moment the fleet is loaded.
//! The format is documented in emulator/README.md ("Fleet files"); `fleets/sample.toml` is the demo fleet.

mod loader;

use crate::state::EmulatedWorld;
use chrono::Duration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Every list may be left out (empty).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fleet {
    pub applications: Vec<FleetApplication>,
    pub stream_groups: Vec<FleetGroup>,
    /// The account's GPU quotas (`supply`): requests beyond them are refused.
    pub gpu_quotas: Vec<FleetGpus>,
    /// The GPUs the service can give in a location (`supply`): beyond them, ERROR.
    pub capacity_pools: Vec<FleetGpus>,
}

/// GPUs of one stream-class family in one location (`family = "gen5n"`, `location`, `gpus`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGpus {
    pub family: String,
    pub location: String,
    pub gpus: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetApplication {
    /// How stream groups and sessions in this file refer to the application.
    pub key: String,
    pub id: Option<String>,
    pub region: Option<String>,
    pub description: String,
    #[serde(default = "default_runtime_type")]
    pub runtime_type: String,
    #[serde(default = "default_runtime_version")]
    pub runtime_version: String,
    #[serde(default = "default_executable")]
    pub executable_path: String,
    pub source_uri: Option<String>,
    /// Default: a day before the oldest stream group of the fleet that uses it (or 30 days).
    pub created_days_ago: Option<f64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// READY unless given; ERROR needs a status_reason (e.g. sourceModified).
    pub status: Option<String>,
    pub status_reason: Option<String>,
    /// Locations this application has not finished replicating to (until the admin API says so).
    #[serde(default)]
    pub replicating: Vec<String>,
    #[serde(default)]
    pub shader_caches: Vec<FleetShaderCache>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetShaderCache {
    #[serde(default = "default_cache_status")]
    pub status: String,
    #[serde(default)]
    pub storage_bytes: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetVpcTransit {
    pub vpc_id: String,
    pub ipv4_cidr_blocks: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetStreamUrl {
    /// The group's default application unless given.
    pub application: Option<String>,
    #[serde(default = "default_url_minutes")]
    pub expires_in_minutes: f64,
    #[serde(default = "one_use")]
    pub usage_limit: i64,
    pub remaining_uses: Option<i64>,
    /// A StreamUrlStatusReason: the URL was revoked.
    pub revoked: Option<String>,
    #[serde(default)]
    pub locations: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetGroup {
    pub id: Option<String>,
    pub region: Option<String>,
    pub description: String,
    pub stream_class: String,
    pub created_days_ago: f64,
    /// Overrides ExpiresAt (default: created + 365 days), counted from now.
    pub expires_in_days: Option<f64>,
    /// ACTIVE unless given; ERROR needs a status_reason. EXPIRED follows from the age.
    pub status: Option<String>,
    pub status_reason: Option<String>,
    pub default_application: Option<String>,
    #[serde(default)]
    pub applications: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub locations: Vec<FleetLocation>,
    #[serde(default)]
    pub sessions: Vec<FleetSession>,
    #[serde(default)]
    pub stream_urls: Vec<FleetStreamUrl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetLocation {
    pub name: String,
    #[serde(default)]
    pub always_on: u32,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    pub on_demand: Option<u32>,
    /// ACTIVE unless given.
    pub status: Option<String>,
    pub vpc_transit: Option<FleetVpcTransit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSession {
    /// The group's primary location unless given.
    pub location: Option<String>,
    /// The group's default application unless given.
    pub application: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    #[serde(default = "default_started")]
    pub started_minutes_ago: f64,
    /// How long the session has been in `status` (default: half a minute).
    pub status_minutes_ago: Option<f64>,
    pub user_id: Option<String>,
    pub connection_timeout_seconds: Option<i64>,
    pub session_length_seconds: Option<i64>,
    /// The player's last input on a CONNECTED session (default: when it entered its status).
    pub input_minutes_ago: Option<f64>,
    /// The service failed to time this session out: it stays in its status (a stale session).
    #[serde(default)]
    pub stuck: bool,
    /// How many identical sessions to create.
    #[serde(default = "one")]
    pub count: u32,
}

fn default_runtime_type() -> String {
    "PROTON".into()
}
fn default_runtime_version() -> String {
    "20241007".into()
}
fn default_executable() -> String {
    "game/launch.sh".into()
}
fn default_started() -> f64 {
    10.0
}
fn one() -> u32 {
    1
}
fn one_use() -> i64 {
    1
}
fn default_url_minutes() -> f64 {
    60.0
}
fn default_cache_status() -> String {
    "READY".into()
}

impl Fleet {
    /// Reads a fleet from TOML, or JSON when the text starts with `{`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("fleet JSON is invalid: {e}"))
        } else {
            toml::from_str(text).map_err(|e| format!("fleet TOML is invalid: {e}"))
        }
    }
}

fn minutes(m: f64) -> Duration {
    Duration::milliseconds((m * 60_000.0) as i64)
}

fn days(d: f64) -> Duration {
    Duration::milliseconds((d * 86_400_000.0) as i64)
}

/// A value of one of the model's enums, or an error naming the field.
fn known<T>(parse: fn(&str) -> Option<T>, wire: &str, field: &str) -> Result<T, String> {
    parse(wire).ok_or_else(|| format!("{field}: unknown value {wire:?}"))
}

/// The most a fleet file may hold: far more than any test or demo needs, small enough that
/// the emulator stays responsive.
pub const MAX_STREAM_GROUPS: usize = 10_000;
pub const MAX_SESSIONS: u64 = 100_000;
/// Ages and offsets are bounded to ten years either way.
const MAX_DAYS: f64 = 3650.0;
const MAX_MINUTES: f64 = MAX_DAYS * 1440.0;

fn in_range(field: String, value: f64, low: f64, high: f64) -> Result<(), String> {
    if value.is_finite() && (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(format!("{field}: {value} is outside {low} to {high}"))
    }
}

/// Sizes and ranges, checked before anything is loaded.
fn check_bounds(fleet: &Fleet) -> Result<(), String> {
    for (i, app) in fleet.applications.iter().enumerate() {
        if let Some(age) = app.created_days_ago {
            in_range(format!("applications[{i}].created_days_ago"), age, 0.0, MAX_DAYS)?;
        }
    }
    if fleet.stream_groups.len() > MAX_STREAM_GROUPS {
        return Err(format!("stream_groups: {} entries; at most {MAX_STREAM_GROUPS}", fleet.stream_groups.len()));
    }
    let mut sessions: u64 = 0;
    for (i, group) in fleet.stream_groups.iter().enumerate() {
        let field = format!("stream_groups[{i}]");
        in_range(format!("{field}.created_days_ago"), group.created_days_ago, 0.0, MAX_DAYS)?;
        if let Some(expires) = group.expires_in_days {
            in_range(format!("{field}.expires_in_days"), expires, -MAX_DAYS, MAX_DAYS)?;
        }
        for (j, session) in group.sessions.iter().enumerate() {
            let field = format!("{field}.sessions[{j}]");
            in_range(format!("{field}.started_minutes_ago"), session.started_minutes_ago, 0.0, MAX_MINUTES)?;
            if let Some(minutes) = session.status_minutes_ago {
                in_range(format!("{field}.status_minutes_ago"), minutes, 0.0, MAX_MINUTES)?;
            }
            // The model's ranges: ConnectionTimeoutSeconds 1-3600, SessionLengthSeconds 1-86400.
            if let Some(seconds) = session.connection_timeout_seconds {
                in_range(format!("{field}.connection_timeout_seconds"), seconds as f64, 1.0, 3600.0)?;
            }
            if let Some(seconds) = session.session_length_seconds {
                in_range(format!("{field}.session_length_seconds"), seconds as f64, 1.0, 86_400.0)?;
            }
            sessions += u64::from(session.count);
            if sessions > MAX_SESSIONS {
                return Err(format!("{field}.count: the fleet would hold more than {MAX_SESSIONS} sessions"));
            }
        }
    }
    Ok(())
}

/// Adds the fleet's resources to `world`, refusing the whole file on the first bad entry
/// with a message that names it (e.g. `stream_groups[2].locations[0].always_on`). A refused
/// fleet changes nothing: the world is put back as it was.
pub fn load(world: &mut EmulatedWorld, fleet: &Fleet) -> Result<LoadSummary, String> {
    check_bounds(fleet)?;
    for (field, entries) in [("gpu_quotas", &fleet.gpu_quotas), ("capacity_pools", &fleet.capacity_pools)] {
        for (i, entry) in entries.iter().enumerate() {
            check_family(&format!("{field}[{i}]"), entry)?;
        }
    }
    let before = world.regions.clone();
    let loaded = loader::load_checked(world, fleet);
    if loaded.is_err() {
        world.regions = before;
        return loaded;
    }
    for q in &fleet.gpu_quotas {
        world.supply.quotas.insert((q.family.clone(), q.location.clone()), q.gpus);
    }
    for p in &fleet.capacity_pools {
        world.supply.pools.insert((p.family.clone(), p.location.clone()), p.gpus);
    }
    loaded
}

/// A family the model's stream classes have (`gen4n`, `gen5n`, `gen6n`, `gen6e`).
pub fn check_family(field: &str, entry: &FleetGpus) -> Result<(), String> {
    let known: std::collections::BTreeSet<&str> =
        crate::facts::TENANCY.iter().map(|(class, _)| crate::supply::family(class)).collect();
    if !known.contains(entry.family.as_str()) {
        let known: Vec<&str> = known.into_iter().collect();
        return Err(format!("{field}.family: {:?} is not a stream-class family ({})", entry.family, known.join(", ")));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LoadSummary {
    pub applications: usize,
    pub stream_groups: usize,
    pub sessions: usize,
    pub stream_urls: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Timings;
    use crate::vocabulary::StreamGroupStatus;

    fn world() -> EmulatedWorld {
        EmulatedWorld::new("111122223333".into(), "us-west-2".into(), Timings::default(), 7)
    }

    #[test]
    fn the_sample_fleet_loads() {
        let fleet = Fleet::parse(include_str!("../../../fleets/sample.toml")).unwrap();
        let summary = load(&mut world(), &fleet).unwrap();
        assert!(summary.stream_groups >= 10, "{summary:?}");
    }

    #[test]
    fn bad_capacity_names_the_field() {
        let fleet = Fleet::parse(
            r#"
            [[stream_groups]]
            description = "x"
            stream_class = "gen6n_small"
            created_days_ago = 1
            [[stream_groups.locations]]
            name = "us-west-2"
            always_on = 5
            "#,
        )
        .unwrap();
        let err = load(&mut world(), &fleet).unwrap_err();
        assert_eq!(
            err,
            "stream_groups[0].locations[0].always_on: 5 is not a multiple of the tenancy (12) of gen6n_small"
        );
    }

    #[test]
    fn unknown_fields_and_statuses_are_refused() {
        assert!(Fleet::parse("[[stream_groups]]\ncolour = 1").unwrap_err().contains("colour"));
        let fleet = Fleet::parse(
            r#"
            [[stream_groups]]
            description = "x"
            stream_class = "gen5n_ultra"
            created_days_ago = 1
            status = "SLEEPING"
            [[stream_groups.locations]]
            name = "us-west-2"
            "#,
        )
        .unwrap();
        assert_eq!(load(&mut world(), &fleet).unwrap_err(), "stream_groups[0].status: unknown value \"SLEEPING\"");
    }

    #[test]
    fn old_groups_expire_when_loaded() {
        let fleet = Fleet::parse(
            r#"
            [[stream_groups]]
            id = "sg-OLD000001"
            description = "old"
            stream_class = "gen5n_ultra"
            created_days_ago = 370
            [[stream_groups.locations]]
            name = "us-west-2"
            always_on = 1
            "#,
        )
        .unwrap();
        let mut world = world();
        load(&mut world, &fleet).unwrap();
        let group = &world.regions["us-west-2"].groups["sg-OLD000001"];
        assert_eq!(group.status, StreamGroupStatus::Expired);
        assert_eq!(group.last_updated_at, group.expires_at);
    }
}
