//! The emulated world: stream groups, locations, sessions and applications per region, and
//! the lifecycle that moves them on as the emulator's clock passes. Transitions are applied
//! lazily (before every request) at the instant they were due, so a jump of 200 days leaves
//! the same timestamps a real wait would have.

use crate::clock::EmulatorClock;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use watchdog_core::lifecycle::{ASSOCIATION_CUTOFF, DEFAULT_LIFETIME};
use watchdog_core::{LocationStatus, StreamClass, StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason};

/// How long the emulated service takes for its asynchronous work.
#[derive(Debug, Clone)]
pub struct Timings {
    /// A new stream group: ACTIVATING -> ACTIVE.
    pub group_activation: Duration,
    /// An added location: ACTIVATING -> ACTIVE; a removed one: REMOVING -> gone.
    pub location_change: Duration,
    /// DELETING -> gone.
    pub deletion: Duration,
    /// A placed session: ACTIVATING -> ACTIVE; RECONNECTING -> CONNECTED.
    pub session_start: Duration,
    /// TERMINATING -> TERMINATED.
    pub session_stop: Duration,
    /// A new application: INITIALIZED -> READY.
    pub application_ready: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            group_activation: Duration::seconds(30),
            location_change: Duration::seconds(20),
            deletion: Duration::seconds(10),
            session_start: Duration::seconds(5),
            session_stop: Duration::seconds(3),
            application_ready: Duration::seconds(5),
        }
    }
}

/// The service's own session timeouts (seed 001).
pub const PLACEMENT_TIMEOUT_LINUX: Duration = Duration::seconds(75);
pub const PLACEMENT_TIMEOUT_WINDOWS: Duration = Duration::minutes(10);
pub const DEFAULT_CONNECTION_TIMEOUT_SECONDS: i64 = 120;
pub const DEFAULT_SESSION_LENGTH_SECONDS: i64 = 43_200;

#[derive(Debug, Clone)]
pub struct LocationConfig {
    pub always_on: u32,
    pub on_demand: Option<u32>,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    pub vpc_transit: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct GroupLocation {
    pub name: String,
    pub status: LocationStatus,
    pub config: LocationConfig,
    /// When ACTIVATING ends (ACTIVE) or REMOVING ends (gone).
    pub transition_at: Option<DateTime<Utc>>,
    /// Capacity settings before the latest update: the service takes a while to scale down.
    pub internal_cidr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationOutcome {
    Active,
    Error(String),
}

#[derive(Debug, Clone)]
pub struct StreamGroup {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub description: String,
    pub stream_class: String,
    pub status: StreamGroupStatus,
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub default_application: Option<String>,
    /// Application ARNs in association order.
    pub associated: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub locations: Vec<GroupLocation>,
    pub activates_at: Option<DateTime<Utc>>,
    pub activation_outcome: ActivationOutcome,
    pub gone_at: Option<DateTime<Utc>>,
}

impl StreamGroup {
    pub fn class(&self) -> StreamClass {
        StreamClass::parse(&self.stream_class)
    }

    pub fn location(&self, name: &str) -> Option<&GroupLocation> {
        self.locations.iter().find(|l| l.name == name)
    }

    pub fn association_cutoff_at(&self) -> DateTime<Utc> {
        self.created_at + ASSOCIATION_CUTOFF
    }

    /// Whether the group is in a status that runs its locations' capacity.
    pub fn is_serving(&self) -> bool {
        matches!(
            self.status,
            StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::UpdatingLocations
        )
    }

    /// The status the locations imply for a serving group.
    fn status_from_locations(&self) -> StreamGroupStatus {
        let any = |s: LocationStatus| self.locations.iter().any(|l| l.status == s);
        if any(LocationStatus::Activating) || any(LocationStatus::Removing) {
            StreamGroupStatus::UpdatingLocations
        } else if any(LocationStatus::Error) {
            StreamGroupStatus::ActiveWithErrors
        } else {
            StreamGroupStatus::Active
        }
    }

    /// Applies a location change to a serving group's status.
    pub fn refresh_status(&mut self, at: DateTime<Utc>) {
        if self.is_serving() {
            let status = self.status_from_locations();
            if status != self.status {
                self.status = status;
                self.last_updated_at = at;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct StreamSession {
    pub id: String,
    pub arn: String,
    pub group_id: String,
    pub status: StreamSessionStatus,
    pub status_reason: Option<StreamSessionStatusReason>,
    pub location: String,
    pub application_arn: String,
    pub description: Option<String>,
    pub user_id: Option<String>,
    pub role_arn: Option<String>,
    pub signal_request: String,
    pub connection_timeout_seconds: i64,
    pub session_length_seconds: i64,
    /// Echoed request fields the emulator does not interpret.
    pub echo: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    /// Whether placement found capacity; an unplaced session times out to ERROR.
    pub placed: bool,
    pub application_started_at: Option<DateTime<Utc>>,
    pub streaming_started_at: Option<DateTime<Utc>>,
    pub streaming_ended_at: Option<DateTime<Utc>>,
    /// A session the service failed to time out (fleet files use this to model stale sessions).
    pub stuck: bool,
    pub client_token: Option<String>,
}

impl StreamSession {
    /// Whether this session occupies a slot of allocated capacity.
    pub fn holds_capacity(&self) -> bool {
        self.status.holds_capacity()
            || self.status == StreamSessionStatus::Terminating
            || (self.status == StreamSessionStatus::Activating && self.placed)
    }

    fn set_status(
        &mut self,
        status: StreamSessionStatus,
        reason: Option<StreamSessionStatusReason>,
        at: DateTime<Utc>,
    ) {
        if status == StreamSessionStatus::Connected && self.streaming_started_at.is_none() {
            self.streaming_started_at = Some(at);
        }
        if status == StreamSessionStatus::Active && self.application_started_at.is_none() {
            self.application_started_at = Some(at);
        }
        if status.is_final() && self.streaming_started_at.is_some() && self.streaming_ended_at.is_none() {
            self.streaming_ended_at = Some(at);
        }
        self.status = status;
        if reason.is_some() {
            self.status_reason = reason;
        }
        self.last_updated_at = at;
    }
}

#[derive(Debug, Clone)]
pub struct Application {
    pub id: String,
    pub arn: String,
    pub description: String,
    pub runtime_type: String,
    pub runtime_version: String,
    pub executable_path: String,
    pub source_uri: String,
    pub log_paths: Vec<String>,
    pub log_output_uri: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
}

/// One account's resources in one region. Rate limits and resources are per region.
#[derive(Debug, Default, Clone)]
pub struct Region {
    pub groups: BTreeMap<String, StreamGroup>,
    pub sessions: BTreeMap<String, StreamSession>,
    pub applications: BTreeMap<String, Application>,
    /// CreateStreamGroup ClientToken -> group id.
    pub group_tokens: HashMap<String, String>,
    pub application_tokens: HashMap<String, String>,
    pub session_tokens: HashMap<String, String>,
}

/// Capacity readings of one location at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CapacityReading {
    pub requested: u32,
    pub allocated: u32,
    pub idle: u32,
    pub in_use: u32,
}

pub struct World {
    pub account_id: String,
    pub default_region: String,
    pub timings: Timings,
    pub clock: EmulatorClock,
    pub regions: BTreeMap<String, Region>,
    /// Outcomes for the next stream groups to finish activating (admin: make one fail).
    pub next_activation_outcomes: VecDeque<ActivationOutcome>,
    rng: StdRng,
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl World {
    pub fn new(account_id: String, default_region: String, timings: Timings, seed: u64) -> Self {
        Self {
            account_id,
            default_region,
            timings,
            clock: EmulatorClock::default(),
            regions: BTreeMap::new(),
            next_activation_outcomes: VecDeque::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn region(&mut self, name: &str) -> &mut Region {
        self.regions.entry(name.to_owned()).or_default()
    }

    /// An id like the service's: `sg-1AB2C3De4`, `a-9ZY8X7Wv6`, or 13 characters for sessions.
    pub fn new_id(&mut self, prefix: &str, len: usize) -> String {
        let body: String = (0..len).map(|_| ID_ALPHABET[self.rng.random_range(0..ID_ALPHABET.len())] as char).collect();
        format!("{prefix}{body}")
    }

    pub fn random_unit(&mut self) -> f64 {
        self.rng.random()
    }

    pub fn arn(&self, region: &str, resource: &str) -> String {
        format!("arn:aws:gameliftstreams:{region}:{}:{resource}", self.account_id)
    }

    pub fn default_lifetime() -> Duration {
        DEFAULT_LIFETIME
    }

    /// Applies every transition that fell due up to the clock's now, in time order per resource.
    pub fn advance(&mut self) {
        let now = self.now();
        let timings = self.timings.clone();
        for region in self.regions.values_mut() {
            advance_region(region, now, &timings, &mut self.next_activation_outcomes);
        }
    }

    /// Capacity readings of `location` in `group` right now.
    pub fn capacity(region: &Region, group: &StreamGroup, location: &GroupLocation) -> CapacityReading {
        let in_use = region
            .sessions
            .values()
            .filter(|s| s.group_id == group.id && s.location == location.name && s.holds_capacity())
            .count() as u32;
        capacity_reading(group, location, in_use)
    }
}

/// Allocated capacity covers always-on capacity and the sessions in use plus the target-idle
/// buffer, within the location's ceiling, in whole compute units of the class's tenancy.
pub fn capacity_reading(group: &StreamGroup, location: &GroupLocation, in_use: u32) -> CapacityReading {
    let config = &location.config;
    let requested = config.always_on;
    if !group.is_serving() || location.status != LocationStatus::Active {
        return CapacityReading { requested, allocated: 0, idle: 0, in_use: 0 };
    }
    let ceiling = match config.maximum {
        Some(maximum) => maximum.max(config.always_on),
        None => config.always_on + config.on_demand.unwrap_or(0),
    };
    let wanted = config.always_on.max(in_use + config.target_idle.unwrap_or(0));
    let allocated = group.class().round_up_capacity(wanted).min(ceiling).max(in_use);
    CapacityReading { requested, allocated, idle: allocated - in_use, in_use }
}

fn advance_region(
    region: &mut Region,
    now: DateTime<Utc>,
    timings: &Timings,
    outcomes: &mut VecDeque<ActivationOutcome>,
) {
    let mut gone = Vec::new();
    for group in region.groups.values_mut() {
        if group.status == StreamGroupStatus::Activating
            && let Some(at) = group.activates_at.filter(|at| *at <= now)
        {
            group.activates_at = None;
            if group.activation_outcome == ActivationOutcome::Active
                && let Some(outcome) = outcomes.pop_front()
            {
                group.activation_outcome = outcome;
            }
            match &group.activation_outcome {
                ActivationOutcome::Active => {
                    for location in &mut group.locations {
                        if location.status == LocationStatus::Activating {
                            location.status = LocationStatus::Active;
                            location.transition_at = None;
                        }
                    }
                    group.status = StreamGroupStatus::Active;
                }
                ActivationOutcome::Error(reason) => {
                    for location in &mut group.locations {
                        location.status = LocationStatus::Error;
                        location.transition_at = None;
                    }
                    group.status = StreamGroupStatus::Error;
                    group.status_reason = Some(reason.clone());
                }
            }
            group.last_updated_at = at;
            group.refresh_status(at);
        }
        let mut location_changed = None;
        group.locations.retain_mut(|location| match location.transition_at.filter(|at| *at <= now) {
            Some(at) if location.status == LocationStatus::Removing => {
                location_changed = Some(at);
                false
            }
            Some(at) => {
                location.status = LocationStatus::Active;
                location.transition_at = None;
                location_changed = Some(at);
                true
            }
            None => true,
        });
        if let Some(at) = location_changed {
            group.refresh_status(at);
        }
        if !matches!(group.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired) && group.expires_at <= now
        {
            group.status = StreamGroupStatus::Expired;
            group.status_reason = None;
            group.last_updated_at = group.expires_at;
        }
        if group.status == StreamGroupStatus::Deleting && group.gone_at.is_some_and(|at| at <= now) {
            gone.push(group.id.clone());
        }
    }
    for id in &gone {
        region.groups.remove(id);
    }
    region.sessions.retain(|_, s| region.groups.contains_key(&s.group_id));
    region.group_tokens.retain(|_, id| region.groups.contains_key(id));

    for session in region.sessions.values_mut() {
        let group = &region.groups[&session.group_id];
        if !session.status.is_final() && !group.is_serving() {
            // An expired, failed or deleting group streams nothing.
            let at = match group.status {
                StreamGroupStatus::Expired => group.expires_at,
                _ => group.last_updated_at,
            }
            .max(session.last_updated_at);
            session.set_status(StreamSessionStatus::Terminated, None, at);
            continue;
        }
        advance_session(session, group, now, timings);
    }
    for app in region.applications.values_mut() {
        if let Some(at) = app.ready_at.filter(|at| *at <= now) {
            app.status = "READY".into();
            app.last_updated_at = at;
            app.ready_at = None;
        }
    }
}

/// Moves one session through the documented lifecycle until nothing more is due.
fn advance_session(session: &mut StreamSession, group: &StreamGroup, now: DateTime<Utc>, timings: &Timings) {
    use StreamSessionStatus as S;
    use StreamSessionStatusReason as R;
    if session.stuck {
        return;
    }
    loop {
        let since = session.last_updated_at;
        let connection_timeout = Duration::seconds(session.connection_timeout_seconds);
        let (due, status, reason) = match session.status {
            S::Activating if session.placed => (since + timings.session_start, S::Active, None),
            S::Activating => {
                let timeout = match group.class().platform() {
                    Some(watchdog_core::Platform::Windows) => PLACEMENT_TIMEOUT_WINDOWS,
                    _ => PLACEMENT_TIMEOUT_LINUX,
                };
                (since + timeout, S::Error, Some(R::PlacementTimeout))
            }
            S::Active => (since + connection_timeout, S::Terminating, Some(R::ConnectionTimeout)),
            S::PendingClientReconnection => (since + connection_timeout, S::Terminating, Some(R::ReconnectionTimeout)),
            S::Reconnecting => (since + timings.session_start, S::Connected, None),
            S::Connected => {
                let started = session.streaming_started_at.unwrap_or(session.created_at);
                (
                    started + Duration::seconds(session.session_length_seconds),
                    S::Terminating,
                    Some(R::MaxSessionLengthTimeout),
                )
            }
            S::Terminating => (since + timings.session_stop, S::Terminated, None),
            _ => return,
        };
        if due > now {
            return;
        }
        session.set_status(status, reason, due.max(since));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(class: &str, status: StreamGroupStatus) -> StreamGroup {
        let now = Utc::now();
        StreamGroup {
            id: "sg-TEST00001".into(),
            arn: "arn".into(),
            region: "us-west-2".into(),
            description: "test".into(),
            stream_class: class.into(),
            status,
            status_reason: None,
            created_at: now,
            last_updated_at: now,
            expires_at: now + DEFAULT_LIFETIME,
            default_application: None,
            associated: vec![],
            tags: BTreeMap::new(),
            locations: vec![],
            activates_at: None,
            activation_outcome: ActivationOutcome::Active,
            gone_at: None,
        }
    }

    fn location(
        always_on: u32,
        target_idle: Option<u32>,
        maximum: Option<u32>,
        on_demand: Option<u32>,
    ) -> GroupLocation {
        GroupLocation {
            name: "us-west-2".into(),
            status: LocationStatus::Active,
            config: LocationConfig { always_on, on_demand, target_idle, maximum, vpc_transit: None },
            transition_at: None,
            internal_cidr: "10.0.0.0/16".into(),
        }
    }

    #[test]
    fn always_on_capacity_is_allocated_and_idle_until_used() {
        let g = group("gen5n_ultra", StreamGroupStatus::Active);
        let reading = capacity_reading(&g, &location(4, None, None, None), 1);
        assert_eq!(reading, CapacityReading { requested: 4, allocated: 4, idle: 3, in_use: 1 });
    }

    #[test]
    fn target_idle_keeps_a_buffer_above_use_within_the_maximum() {
        let g = group("gen5n_ultra", StreamGroupStatus::Active);
        let loc = location(0, Some(2), Some(5), None);
        assert_eq!(capacity_reading(&g, &loc, 0).allocated, 2);
        assert_eq!(capacity_reading(&g, &loc, 2).allocated, 4);
        assert_eq!(capacity_reading(&g, &loc, 4).allocated, 5, "capped at the maximum");
    }

    #[test]
    fn allocation_rounds_up_to_whole_compute_units() {
        let g = group("gen6n_medium", StreamGroupStatus::Active);
        let loc = location(4, Some(1), Some(12), None);
        let reading = capacity_reading(&g, &loc, 4);
        assert_eq!(reading.allocated, 8, "5 wanted, tenancy 4");
        assert_eq!(reading.idle, 4);
    }

    #[test]
    fn nothing_is_allocated_outside_a_serving_group_or_active_location() {
        let loc = location(4, None, None, None);
        assert_eq!(capacity_reading(&group("gen5n_ultra", StreamGroupStatus::Expired), &loc, 0).allocated, 0);
        let mut failed = location(4, None, None, None);
        failed.status = LocationStatus::Error;
        assert_eq!(
            capacity_reading(&group("gen5n_ultra", StreamGroupStatus::ActiveWithErrors), &failed, 0).allocated,
            0
        );
    }
}
