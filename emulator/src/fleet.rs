//! Fleet files: a TOML (or JSON) description of applications, stream groups, locations,
//! capacities, tags and sessions, with ages relative to the moment the fleet is loaded.
//! The format is documented in the README; `fleets/sample.toml` is the demo fleet.

use crate::operations::new_location;
use crate::state::{
    ActivationOutcome, Application, DEFAULT_CONNECTION_TIMEOUT_SECONDS, DEFAULT_SESSION_LENGTH_SECONDS, LocationConfig,
    StreamGroup, StreamSession, World,
};
use chrono::Duration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use watchdog_core::{
    LocationStatus, StreamClass, StreamGroupStatus, StreamGroupStatusReason, StreamSessionStatus,
    StreamSessionStatusReason,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    #[serde(default)]
    pub applications: Vec<FleetApplication>,
    #[serde(default)]
    pub stream_groups: Vec<FleetGroup>,
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
    #[serde(default = "default_app_age")]
    pub created_days_ago: f64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
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
fn default_app_age() -> f64 {
    30.0
}
fn default_started() -> f64 {
    10.0
}
fn one() -> u32 {
    1
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

fn known<T: Clone + PartialEq>(known: &[T], value: T, field: &str, wire: &str) -> Result<T, String> {
    if known.contains(&value) { Ok(value) } else { Err(format!("{field}: unknown value {wire:?}")) }
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
        in_range(format!("applications[{i}].created_days_ago"), app.created_days_ago, 0.0, MAX_DAYS)?;
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
pub fn load(world: &mut World, fleet: &Fleet) -> Result<LoadSummary, String> {
    check_bounds(fleet)?;
    let before = world.regions.clone();
    let loaded = load_checked(world, fleet);
    if loaded.is_err() {
        world.regions = before;
    }
    loaded
}

fn load_checked(world: &mut World, fleet: &Fleet) -> Result<LoadSummary, String> {
    let now = world.now();
    let mut app_arns: HashMap<String, String> = HashMap::new();
    let mut apps = Vec::new();
    for (i, spec) in fleet.applications.iter().enumerate() {
        let field = format!("applications[{i}]");
        if app_arns.contains_key(&spec.key) {
            return Err(format!("{field}.key: {:?} is used twice", spec.key));
        }
        let region = spec.region.clone().unwrap_or_else(|| world.default_region.clone());
        let id = spec.id.clone().unwrap_or_else(|| world.new_id("a-", 9));
        let arn = world.arn(&region, &format!("application/{id}"));
        let created = now - days(spec.created_days_ago);
        app_arns.insert(spec.key.clone(), arn.clone());
        apps.push((
            region,
            Application {
                id,
                arn,
                description: spec.description.clone(),
                runtime_type: spec.runtime_type.clone(),
                runtime_version: spec.runtime_version.clone(),
                executable_path: spec.executable_path.clone(),
                source_uri: spec.source_uri.clone().unwrap_or_else(|| format!("s3://studio-builds/{}/", spec.key)),
                log_paths: vec![],
                log_output_uri: None,
                status: "READY".into(),
                created_at: created,
                last_updated_at: created,
                ready_at: None,
                tags: spec.tags.clone(),
            },
        ));
    }
    let app = |key: &str, field: &str| {
        app_arns.get(key).cloned().ok_or_else(|| format!("{field}: no application with key {key:?} in this fleet"))
    };

    let mut groups = Vec::new();
    let mut sessions = Vec::new();
    for (g, spec) in fleet.stream_groups.iter().enumerate() {
        let field = format!("stream_groups[{g}]");
        let region = spec.region.clone().unwrap_or_else(|| world.default_region.clone());
        let class = StreamClass::parse(&spec.stream_class);
        let id = spec.id.clone().unwrap_or_else(|| world.new_id("sg-", 9));
        let created = now - days(spec.created_days_ago);
        let mut locations = Vec::new();
        let mut specs: Vec<&FleetLocation> = spec.locations.iter().collect();
        if !specs.iter().any(|l| l.name == region) {
            return Err(format!(
                "{field}.locations: the primary location {region} (the group's region) must be listed"
            ));
        }
        specs.sort_by_key(|l| l.name != region);
        for (l, location) in specs.iter().enumerate() {
            let lfield = format!(
                "{field}.locations[{}]",
                spec.locations.iter().position(|x| x.name == location.name).unwrap_or(l)
            );
            for (name, value) in [
                ("always_on", Some(location.always_on)),
                ("target_idle", location.target_idle),
                ("maximum", location.maximum),
                ("on_demand", location.on_demand),
            ] {
                if let Some(v) = value.filter(|v| !class.is_valid_capacity(*v)) {
                    return Err(format!(
                        "{lfield}.{name}: {v} is not a multiple of the tenancy ({}) of {class}",
                        class.tenancy().unwrap_or(1)
                    ));
                }
            }
            if location.on_demand.is_some() && (location.maximum.is_some() || location.target_idle.is_some()) {
                return Err(format!("{lfield}: on_demand cannot be combined with maximum or target_idle"));
            }
            let status = match &location.status {
                Some(s) => {
                    known(LocationStatus::KNOWN, LocationStatus::from(s.as_str()), &format!("{lfield}.status"), s)?
                }
                None => LocationStatus::Active,
            };
            let config = LocationConfig {
                always_on: location.always_on,
                on_demand: location.on_demand,
                target_idle: location.target_idle,
                maximum: location.maximum,
                vpc_transit: None,
            };
            let mut state = new_location(&location.name, config, l, None);
            state.status = status;
            locations.push(state);
        }
        let reason = match &spec.status_reason {
            Some(r) => {
                Some(known(StreamGroupStatusReason::KNOWN, r.as_str().into(), &format!("{field}.status_reason"), r)?)
            }
            None => None,
        };
        let status = match &spec.status {
            Some(s) => known(StreamGroupStatus::KNOWN, s.as_str().into(), &format!("{field}.status"), s)?,
            None => StreamGroupStatus::Active,
        };
        if status == StreamGroupStatus::Error && reason.is_none() {
            return Err(format!(
                "{field}.status_reason: a group in ERROR needs a reason (internalError or noAvailableInstances)"
            ));
        }
        let mut associated = Vec::new();
        for key in &spec.applications {
            associated.push(app(key, &format!("{field}.applications"))?);
        }
        let default_application = match &spec.default_application {
            Some(key) => Some(app(key, &format!("{field}.default_application"))?),
            None => associated.first().cloned(),
        };
        if let Some(default) = default_application.as_ref().filter(|d| !associated.contains(d)) {
            associated.insert(0, default.clone());
        }
        let expires_at = match spec.expires_in_days {
            Some(d) => now + days(d),
            None => created + World::default_lifetime(),
        };
        let mut group = StreamGroup {
            arn: world.arn(&region, &format!("streamgroup/{id}")),
            id: id.clone(),
            region: region.clone(),
            description: spec.description.clone(),
            stream_class: spec.stream_class.clone(),
            status,
            status_reason: reason.map(|r| r.as_str().to_owned()),
            created_at: created,
            last_updated_at: created,
            expires_at,
            default_application,
            associated,
            tags: spec.tags.clone(),
            locations,
            activates_at: None,
            activation_outcome: ActivationOutcome::Active,
            gone_at: None,
        };
        if group.status == StreamGroupStatus::Error {
            // A group that failed to deploy has no working location unless the file says so.
            for (location, spec) in group.locations.iter_mut().zip(&specs) {
                if spec.status.is_none() {
                    location.status = LocationStatus::Error;
                }
            }
        }
        if group.status == StreamGroupStatus::Activating {
            group.activates_at = Some(now + world.timings.group_activation);
        }
        group.refresh_status(created);
        for (s, session) in spec.sessions.iter().enumerate() {
            let sfield = format!("{field}.sessions[{s}]");
            let status = known(
                StreamSessionStatus::KNOWN,
                session.status.as_str().into(),
                &format!("{sfield}.status"),
                &session.status,
            )?;
            let location = session.location.clone().unwrap_or_else(|| region.clone());
            if group.location(&location).is_none() {
                return Err(format!("{sfield}.location: {location} is not a location of this stream group"));
            }
            let application_arn = match &session.application {
                Some(key) => app(key, &format!("{sfield}.application"))?,
                None => group
                    .default_application
                    .clone()
                    .ok_or_else(|| format!("{sfield}.application: the group has no default application to use"))?,
            };
            let status_reason = match &session.status_reason {
                Some(r) => Some(known(
                    StreamSessionStatusReason::KNOWN,
                    r.as_str().into(),
                    &format!("{sfield}.status_reason"),
                    r,
                )?),
                None => None,
            };
            let created_at = now - minutes(session.started_minutes_ago);
            let since = now - minutes(session.status_minutes_ago.unwrap_or(0.5).min(session.started_minutes_ago));
            let streaming = matches!(
                status,
                StreamSessionStatus::Connected
                    | StreamSessionStatus::PendingClientReconnection
                    | StreamSessionStatus::Reconnecting
            );
            for _ in 0..session.count {
                let session_id = world.new_id("", 13);
                sessions.push((
                    region.clone(),
                    StreamSession {
                        arn: world.arn(&region, &format!("streamsession/{id}/{session_id}")),
                        id: session_id,
                        group_id: id.clone(),
                        status: status.clone(),
                        status_reason: status_reason.clone(),
                        location: location.clone(),
                        application_arn: application_arn.clone(),
                        description: None,
                        user_id: session.user_id.clone(),
                        role_arn: None,
                        signal_request: "fleet-signal-request".into(),
                        connection_timeout_seconds: session
                            .connection_timeout_seconds
                            .unwrap_or(DEFAULT_CONNECTION_TIMEOUT_SECONDS),
                        session_length_seconds: session
                            .session_length_seconds
                            .unwrap_or(DEFAULT_SESSION_LENGTH_SECONDS),
                        echo: Default::default(),
                        created_at,
                        last_updated_at: since,
                        placed: true,
                        application_started_at: (status != StreamSessionStatus::Activating).then_some(created_at),
                        streaming_started_at: streaming.then_some(created_at),
                        streaming_ended_at: None,
                        stuck: session.stuck,
                        client_token: None,
                    },
                ));
            }
        }
        groups.push(group);
    }

    let summary = LoadSummary { applications: apps.len(), stream_groups: groups.len(), sessions: sessions.len() };
    for (region, app) in apps {
        world.region(&region).applications.insert(app.id.clone(), app);
    }
    for group in groups {
        let region = group.region.clone();
        world.region(&region).groups.insert(group.id.clone(), group);
    }
    for (region, session) in sessions {
        world.region(&region).sessions.insert(session.id.clone(), session);
    }
    world.advance();
    Ok(summary)
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LoadSummary {
    pub applications: usize,
    pub stream_groups: usize,
    pub sessions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Timings;

    fn world() -> World {
        World::new("111122223333".into(), "us-west-2".into(), Timings::default(), 7)
    }

    #[test]
    fn the_sample_fleet_loads() {
        let fleet = Fleet::parse(include_str!("../../fleets/sample.toml")).unwrap();
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
