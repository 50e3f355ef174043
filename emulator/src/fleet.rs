//! Fleet files: a TOML (or JSON) description of applications, stream groups, locations,
//! capacities, tags and sessions, with ages relative to the moment the fleet is loaded.
//! The format is documented in the README; `fleets/sample.toml` is the demo fleet.

use crate::facts;
use crate::operations::new_location;
use crate::state::{
    ActivationOutcome, Application, EmulatedWorld, LocationConfig, ShaderCache, StreamGroup, StreamSession, StreamUrl,
    VpcTransit,
};
use crate::vocabulary::{
    ApplicationStatus, ApplicationStatusReason, LocationStatus, RuntimeType, SessionStatus, SessionStatusReason,
    ShaderCacheStatus, StreamGroupStatus, StreamGroupStatusReason, StreamUrlStatusReason,
};
use chrono::Duration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

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
    let before = world.regions.clone();
    let loaded = load_checked(world, fleet);
    if loaded.is_err() {
        world.regions = before;
    }
    loaded
}

fn load_checked(world: &mut EmulatedWorld, fleet: &Fleet) -> Result<LoadSummary, String> {
    let now = world.now();
    let mut app_arns: HashMap<String, String> = HashMap::new();
    let mut apps: Vec<(String, Application, Vec<String>)> = Vec::new();
    for (i, spec) in fleet.applications.iter().enumerate() {
        let field = format!("applications[{i}]");
        if app_arns.contains_key(&spec.key) {
            return Err(format!("{field}.key: {:?} is used twice", spec.key));
        }
        known(RuntimeType::parse, &spec.runtime_type, &format!("{field}.runtime_type"))?;
        let status = match &spec.status {
            Some(s) => known(ApplicationStatus::parse, s, &format!("{field}.status"))?,
            None => ApplicationStatus::Ready,
        };
        let status_reason = match &spec.status_reason {
            Some(r) => Some(known(ApplicationStatusReason::parse, r, &format!("{field}.status_reason"))?),
            None => None,
        };
        if (status == ApplicationStatus::Error) != status_reason.is_some() {
            return Err(format!(
                "{field}.status_reason: an application in ERROR needs a reason (internalError, accessDenied or sourceModified), and only one in ERROR has one"
            ));
        }
        let region = spec.region.clone().unwrap_or_else(|| world.default_region.clone());
        let id = spec.id.clone().unwrap_or_else(|| world.new_id("a-", 9));
        let arn = world.arn(&region, &format!("application/{id}"));
        let age = spec.created_days_ago.unwrap_or_else(|| {
            let users = fleet
                .stream_groups
                .iter()
                .filter(|g| g.default_application.as_ref() == Some(&spec.key) || g.applications.contains(&spec.key));
            users.map(|g| g.created_days_ago + 1.0).fold(30.0, f64::max)
        });
        let created = now - days(age);
        let mut shader_caches = Vec::new();
        for (c, cache) in spec.shader_caches.iter().enumerate() {
            let cfield = format!("{field}.shader_caches[{c}]");
            let status = known(ShaderCacheStatus::parse, &cache.status, &format!("{cfield}.status"))?;
            if cache.storage_bytes < 0 {
                return Err(format!("{cfield}.storage_bytes: {} is negative", cache.storage_bytes));
            }
            shader_caches.push(ShaderCache {
                id: world.new_hex_id(32),
                status,
                storage_bytes: cache.storage_bytes,
                last_updated_at: created,
            });
        }
        app_arns.insert(spec.key.clone(), arn.clone());
        apps.push((
            region.clone(),
            Application {
                id,
                arn,
                region,
                description: spec.description.clone(),
                runtime_type: spec.runtime_type.clone(),
                runtime_version: spec.runtime_version.clone(),
                executable_path: spec.executable_path.clone(),
                source_uri: spec.source_uri.clone().unwrap_or_else(|| format!("s3://studio-builds/{}/", spec.key)),
                log_paths: vec![],
                log_output_uri: None,
                status,
                status_reason,
                created_at: created,
                last_updated_at: created,
                processing_at: None,
                ready_at: None,
                gone_at: None,
                replication: BTreeMap::new(),
                shader_caches,
                tags: spec.tags.clone(),
            },
            spec.replicating.clone(),
        ));
    }
    let app = |key: &str, field: &str| {
        app_arns.get(key).cloned().ok_or_else(|| format!("{field}: no application with key {key:?} in this fleet"))
    };
    let app_created = |arn: &str| apps.iter().find(|(_, a, _)| a.arn == arn).map(|(_, a, _)| a.created_at);

    let mut groups = Vec::new();
    let mut sessions = Vec::new();
    let mut stream_urls = Vec::new();
    for (g, spec) in fleet.stream_groups.iter().enumerate() {
        let field = format!("stream_groups[{g}]");
        let region = spec.region.clone().unwrap_or_else(|| world.default_region.clone());
        let class = spec.stream_class.as_str();
        if facts::tenancy(class).is_none() {
            return Err(format!("{field}.stream_class: {class:?} is not a stream class of the service model"));
        }
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
        let location_field = |name: &str| {
            format!("{field}.locations[{}]", spec.locations.iter().position(|x| x.name == name).unwrap_or_default())
        };
        for (l, location) in specs.iter().enumerate() {
            let lfield = location_field(&location.name);
            if specs[..l].iter().any(|earlier| earlier.name == location.name) {
                return Err(format!("{lfield}.name: {} is listed twice", location.name));
            }
            for (name, value) in [
                ("always_on", Some(location.always_on)),
                ("target_idle", location.target_idle),
                ("maximum", location.maximum),
                ("on_demand", location.on_demand),
            ] {
                if let Some(v) = value.filter(|v| !facts::is_valid_capacity(class, *v)) {
                    return Err(format!(
                        "{lfield}.{name}: {v} is not a multiple of the tenancy ({}) of {class}",
                        facts::tenancy(class).unwrap_or(1)
                    ));
                }
            }
            if location.on_demand.is_some() && (location.maximum.is_some() || location.target_idle.is_some()) {
                return Err(format!("{lfield}: on_demand cannot be combined with maximum or target_idle"));
            }
            let status = match &location.status {
                Some(s) => known(LocationStatus::parse, s, &format!("{lfield}.status"))?,
                None => LocationStatus::Active,
            };
            let config = LocationConfig {
                always_on: location.always_on,
                on_demand: location.on_demand,
                target_idle: location.target_idle,
                maximum: location.maximum,
                vpc_transit: location.vpc_transit.as_ref().map(|vpc| {
                    let (gateway, share) = (world.new_hex_id(17), world.new_hex_id(32));
                    VpcTransit {
                        vpc_id: vpc.vpc_id.clone(),
                        cidr_blocks: vpc.ipv4_cidr_blocks.clone(),
                        transit_gateway_id: format!("tgw-{gateway}"),
                        resource_share_arn: format!("arn:aws:ram:{region}:{}:resource-share/{share}", world.account_id),
                    }
                }),
            };
            if let Some(target_idle) = config.target_idle.filter(|t| *t > config.ceiling()) {
                return Err(format!("{lfield}.target_idle: {target_idle} exceeds the maximum {}", config.ceiling()));
            }
            let mut state = new_location(&location.name, config, l, None);
            state.status = status;
            locations.push(state);
        }
        let reason = match &spec.status_reason {
            Some(r) => Some(known(StreamGroupStatusReason::parse, r, &format!("{field}.status_reason"))?),
            None => None,
        };
        let status = match &spec.status {
            Some(s) => known(StreamGroupStatus::parse, s, &format!("{field}.status"))?,
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
        if let Some(arn) = associated.iter().find(|arn| app_created(arn).is_some_and(|at| at > created)) {
            return Err(format!(
                "{field}.applications: {arn} is created after the group ({} days ago); a group can only use an application that exists",
                spec.created_days_ago
            ));
        }
        let expires_at = match spec.expires_in_days {
            Some(d) => now + days(d),
            None => created + facts::lifetime(),
        };
        if expires_at <= created {
            return Err(format!(
                "{field}.expires_in_days: the group would expire before it was created ({} days ago)",
                spec.created_days_ago
            ));
        }
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
        let mut group_sessions = Vec::new();
        for (s, session) in spec.sessions.iter().enumerate() {
            let sfield = format!("{field}.sessions[{s}]");
            let status = known(SessionStatus::parse, &session.status, &format!("{sfield}.status"))?;
            let location = session.location.clone().unwrap_or_else(|| region.clone());
            if group.location(&location).is_none() {
                return Err(format!("{sfield}.location: {location} is not a location of this stream group"));
            }
            if session.started_minutes_ago > spec.created_days_ago * 1440.0 {
                return Err(format!(
                    "{sfield}.started_minutes_ago: {} is before the group was created ({} days ago)",
                    session.started_minutes_ago, spec.created_days_ago
                ));
            }
            let application_arn = match &session.application {
                Some(key) => app(key, &format!("{sfield}.application"))?,
                None => group
                    .default_application
                    .clone()
                    .ok_or_else(|| format!("{sfield}.application: the group has no default application to use"))?,
            };
            let status_reason = match &session.status_reason {
                Some(r) => Some(known(SessionStatusReason::parse, r, &format!("{sfield}.status_reason"))?),
                None => None,
            };
            let created_at = now - minutes(session.started_minutes_ago);
            let since = now - minutes(session.status_minutes_ago.unwrap_or(0.5).min(session.started_minutes_ago));
            let input = session.input_minutes_ago.map_or(since, |m| now - minutes(m.min(session.started_minutes_ago)));
            let streaming = matches!(
                status,
                SessionStatus::Connected | SessionStatus::PendingClientReconnection | SessionStatus::Reconnecting
            );
            for _ in 0..session.count {
                let session_id = world.new_id("", 13);
                group_sessions.push(StreamSession {
                    arn: world.arn(&region, &format!("streamsession/{id}/{session_id}")),
                    id: session_id,
                    group_id: id.clone(),
                    status,
                    status_reason,
                    location: location.clone(),
                    application_arn: application_arn.clone(),
                    description: None,
                    user_id: session.user_id.clone(),
                    role_arn: None,
                    signal_request: "fleet-signal-request".into(),
                    connection_timeout_seconds: session
                        .connection_timeout_seconds
                        .unwrap_or(facts::DEFAULT_CONNECTION_TIMEOUT_SECONDS),
                    session_length_seconds: session
                        .session_length_seconds
                        .unwrap_or(facts::DEFAULT_SESSION_LENGTH_SECONDS),
                    echo: Default::default(),
                    created_at,
                    last_updated_at: since,
                    placed_at: Some(created_at),
                    placement_deadline: created_at,
                    placeable: true,
                    application_started_at: (status != SessionStatus::Activating).then_some(created_at),
                    streaming_started_at: streaming.then_some(created_at),
                    streaming_ended_at: None,
                    last_input_at: (status == SessionStatus::Connected).then_some(input),
                    stuck: session.stuck,
                    client_token: None,
                    export: None,
                    stream_url_id: None,
                });
            }
        }
        // Capacity the sessions occupy must exist: no more than the location's ceiling.
        for location in &mut group.locations {
            let holding =
                group_sessions.iter().filter(|s| s.location == location.name && s.holds_capacity()).count() as u32;
            if holding > location.config.ceiling() {
                return Err(format!(
                    "{}: {holding} sessions hold capacity but the location can allocate at most {}",
                    location_field(&location.name),
                    location.config.ceiling()
                ));
            }
            if group.status.is_serving() && location.status == LocationStatus::Active {
                // A fleet starts in a steady state: what the settings want is allocated.
                location.allocated = location.config.wanted(&group.stream_class, holding);
            }
        }
        for (u, url) in spec.stream_urls.iter().enumerate() {
            let ufield = format!("{field}.stream_urls[{u}]");
            let application_arn = match &url.application {
                Some(key) => app(key, &format!("{ufield}.application"))?,
                None => group
                    .default_application
                    .clone()
                    .ok_or_else(|| format!("{ufield}.application: the group has no default application to use"))?,
            };
            if !group.associated.contains(&application_arn) {
                return Err(format!("{ufield}.application: it is not associated with this stream group"));
            }
            in_range(format!("{ufield}.expires_in_minutes"), url.expires_in_minutes, -MAX_MINUTES, MAX_MINUTES)?;
            if !(1..=facts::MAX_URL_USAGE_LIMIT).contains(&url.usage_limit) {
                return Err(format!(
                    "{ufield}.usage_limit: {} is outside 1 to {}",
                    url.usage_limit,
                    facts::MAX_URL_USAGE_LIMIT
                ));
            }
            let remaining = url.remaining_uses.unwrap_or(url.usage_limit);
            if !(0..=url.usage_limit).contains(&remaining) {
                return Err(format!(
                    "{ufield}.remaining_uses: {remaining} is outside 0 to the usage limit {}",
                    url.usage_limit
                ));
            }
            let revoked = match &url.revoked {
                Some(r) => Some(known(StreamUrlStatusReason::parse, r, &format!("{ufield}.revoked"))?),
                None => None,
            };
            if let Some(missing) = url.locations.iter().find(|l| group.location(l).is_none()) {
                return Err(format!("{ufield}.locations: {missing} is not a location of this stream group"));
            }
            let url_id = world.new_id("su-", 9);
            let created_at = (now - minutes(1.0)).max(created);
            stream_urls.push((
                region.clone(),
                StreamUrl {
                    arn: world.arn(&region, &format!("streamurl/{id}/{url_id}")),
                    url: format!(
                        "https://play.gameliftstreams.{region}.emulator.invalid/{url_id}#{}",
                        world.new_id("", 43)
                    ),
                    id: url_id,
                    group_id: id.clone(),
                    group_arn: group.arn.clone(),
                    application_arn,
                    revoked,
                    expires_at: now + minutes(url.expires_in_minutes),
                    created_at,
                    usage_limit: url.usage_limit,
                    remaining_uses: remaining,
                    locations: url.locations.clone(),
                    session_length_seconds: facts::DEFAULT_SESSION_LENGTH_SECONDS,
                    description: url.description.clone(),
                    echo: Default::default(),
                    session_ids: Vec::new(),
                },
            ));
        }
        sessions.extend(group_sessions.into_iter().map(|s| (region.clone(), s)));
        groups.push(group);
    }

    // Applications have reached every location of the groups they serve, except where the
    // fleet says replication is still under way.
    for (_, app, replicating) in &mut apps {
        for group in groups.iter().filter(|g| g.associated.contains(&app.arn)) {
            for location in &group.locations {
                let done = (!replicating.contains(&location.name)).then_some(app.created_at);
                app.replication.entry(location.name.clone()).or_insert(done);
            }
        }
        let home = app.region.clone();
        app.replication.entry(home).or_insert(Some(app.created_at));
    }
    let summary = LoadSummary {
        applications: apps.len(),
        stream_groups: groups.len(),
        sessions: sessions.len(),
        stream_urls: stream_urls.len(),
    };
    for (region, app, _) in apps {
        world.region(&region).applications.insert(app.id.clone(), app);
    }
    for group in groups {
        let region = group.region.clone();
        world.region(&region).groups.insert(group.id.clone(), group);
    }
    for (region, session) in sessions {
        world.region(&region).sessions.insert(session.id.clone(), session);
    }
    for (region, url) in stream_urls {
        world.region(&region).stream_urls.insert(url.id.clone(), url);
    }
    world.advance();
    Ok(summary)
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

    fn world() -> EmulatedWorld {
        EmulatedWorld::new("111122223333".into(), "us-west-2".into(), Timings::default(), 7)
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
