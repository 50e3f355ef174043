//! The emulated world: stream groups, locations, sessions, applications and stream URLs per
//! region. What the service does by itself as its clock passes is in `timeline`.
//!
//! Capacity is a quantity that moves: each location has an allocated count that rises
//! `CapacityTimings::allocate` after more is wanted and falls `CapacityTimings::release` after
//! less is wanted, within the always-on floor and the maximum. A session is placed only on an
//! idle slot; one that finds none waits until capacity arrives or its placement timeout ends.

use crate::clock::EmulatorClock;
use crate::facts;
pub use crate::settings::{Behaviour, TimingProfile, Timings};
use crate::vocabulary::{
    ApplicationStatus, ApplicationStatusReason, ExportFilesStatus, LocationStatus, ReplicationStatus,
    SessionStatus as S, SessionStatusReason as R, ShaderCacheStatus, StreamGroupStatus, StreamUrlStatus,
    StreamUrlStatusReason,
};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A stream-class family in a location (`("gen5n", "us-west-2")`).
pub type SupplyKey = (String, String);

/// GPU quotas and capacity pools, as a fleet file or the admin API declares them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Supply {
    /// GPUs the account may allocate; absent: not limited.
    pub quotas: BTreeMap<SupplyKey, u32>,
    /// GPUs the service can give this account in all; absent: plenty.
    pub pools: BTreeMap<SupplyKey, u32>,
}

impl Supply {
    /// The most that may be allocated for `key` (`None`: no limit).
    pub fn limit(&self, key: &SupplyKey) -> Option<u32> {
        match (self.quotas.get(key), self.pools.get(key)) {
            (Some(q), Some(p)) => Some(*q.min(p)),
            (Some(q), None) => Some(*q),
            (None, Some(p)) => Some(*p),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcTransit {
    pub vpc_id: String,
    pub cidr_blocks: Vec<String>,
    pub transit_gateway_id: String,
    pub resource_share_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConfig {
    pub always_on: u32,
    /// Deprecated OnDemandCapacity; never set together with target-idle or maximum.
    pub on_demand: Option<u32>,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    pub vpc_transit: Option<VpcTransit>,
}

impl LocationConfig {
    /// The most the service may allocate: the maximum (or always-on + on-demand), never below always-on.
    pub fn ceiling(&self) -> u32 {
        self.maximum.unwrap_or(self.always_on + self.on_demand.unwrap_or(0)).max(self.always_on)
    }

    /// What the service wants allocated for `demand` sessions (running or waiting): the
    /// always-on floor, or the demand plus the target-idle buffer in whole compute units,
    /// within the ceiling.
    pub fn wanted(&self, class: &str, demand: u32) -> u32 {
        let buffered = facts::round_up_to_compute_units(class, demand + self.target_idle.unwrap_or(0));
        buffered.min(self.ceiling()).max(self.always_on)
    }
}

#[derive(Debug, Clone)]
pub struct GroupLocation {
    pub name: String,
    pub status: LocationStatus,
    pub config: LocationConfig,
    /// When ACTIVATING ends (ACTIVE) or REMOVING ends (gone).
    pub transition_at: Option<DateTime<Utc>>,
    pub internal_cidr: String,
    /// Compute capacity allocated right now (sessions' worth, whole compute units).
    pub allocated: u32,
    /// More capacity is on its way and arrives then.
    pub arriving_at: Option<DateTime<Utc>>,
    /// Since when more is allocated than wanted; the surplus is released `release` later.
    pub surplus_since: Option<DateTime<Utc>>,
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
    pub fn location(&self, name: &str) -> Option<&GroupLocation> {
        self.locations.iter().find(|l| l.name == name)
    }

    pub fn association_cutoff_at(&self) -> DateTime<Utc> {
        self.created_at + facts::association_cutoff()
    }

    pub fn is_serving(&self) -> bool {
        self.status.is_serving()
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
    pub status: S,
    pub status_reason: Option<R>,
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
    /// When placement found an idle slot; `None` while the session waits for capacity.
    pub placed_at: Option<DateTime<Utc>>,
    /// When an unplaced session gives up (seed 001's placement timeouts).
    pub placement_deadline: DateTime<Utc>,
    /// False when no requested location can host it (the application has not finished
    /// replicating there): it waits out its placement timeout.
    pub placeable: bool,
    pub application_started_at: Option<DateTime<Utc>>,
    pub streaming_started_at: Option<DateTime<Utc>>,
    pub streaming_ended_at: Option<DateTime<Utc>>,
    /// The player's last input, for the 60-minute idle timeout.
    pub last_input_at: Option<DateTime<Utc>>,
    /// A session the service failed to time out (fleet files use this to model stale sessions).
    pub stuck: bool,
    pub client_token: Option<String>,
    pub export: Option<ExportFiles>,
    /// The stream URL that started this session, if any.
    pub stream_url_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExportFiles {
    pub status: ExportFilesStatus,
    pub output_uri: String,
}

impl StreamSession {
    /// Whether this session runs on a slot of allocated capacity.
    pub fn holds_capacity(&self) -> bool {
        self.status.runs_on_capacity() || (self.status == S::Activating && self.placed_at.is_some())
    }

    /// Whether this session waits for capacity to be placed.
    pub fn is_waiting(&self) -> bool {
        self.status == S::Activating && self.placed_at.is_none() && self.placeable
    }

    pub fn set_status(&mut self, status: S, reason: Option<R>, at: DateTime<Utc>) {
        if status == S::Connected && self.streaming_started_at.is_none() {
            self.streaming_started_at = Some(at);
        }
        if status == S::Connected {
            self.last_input_at = Some(self.last_input_at.map_or(at, |input| input.max(at)));
        }
        if status == S::Active && self.application_started_at.is_none() {
            self.application_started_at = Some(at);
        }
        if status.is_final() && self.streaming_started_at.is_some() && self.streaming_ended_at.is_none() {
            self.streaming_ended_at = Some(at);
        }
        if status.is_final()
            && let Some(export) = self.export.as_mut().filter(|e| e.status == ExportFilesStatus::Pending)
        {
            // "When the session ends, Amazon GameLift Streams produces a compressed folder".
            export.status = ExportFilesStatus::Succeeded;
        }
        self.status = status;
        if reason.is_some() {
            self.status_reason = reason;
        }
        self.last_updated_at = at;
    }

    /// Ends a session that is not over yet: TERMINATING now, TERMINATED after `session_stop`.
    pub fn end(&mut self, reason: R, at: DateTime<Utc>) {
        if self.status.is_final() || self.status == S::Terminating {
            return;
        }
        self.stuck = false;
        self.set_status(S::Terminating, Some(reason), at);
    }
}

#[derive(Debug, Clone)]
pub struct Application {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub description: String,
    pub runtime_type: String,
    pub runtime_version: String,
    pub executable_path: String,
    pub source_uri: String,
    pub log_paths: Vec<String>,
    pub log_output_uri: Option<String>,
    pub status: ApplicationStatus,
    pub status_reason: Option<ApplicationStatusReason>,
    pub created_at: DateTime<Utc>,
    pub last_updated_at: DateTime<Utc>,
    /// INITIALIZED -> PROCESSING at the first, PROCESSING -> READY at the second.
    pub processing_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    /// DELETING -> gone.
    pub gone_at: Option<DateTime<Utc>>,
    /// Per location: when replication completes (`None`: not until the admin API says so).
    pub replication: BTreeMap<String, Option<DateTime<Utc>>>,
    pub shader_caches: Vec<ShaderCache>,
    pub tags: BTreeMap<String, String>,
}

impl Application {
    pub fn replication_status(&self, location: &str, now: DateTime<Utc>) -> Option<ReplicationStatus> {
        self.replication.get(location).map(|done| match done {
            Some(at) if *at <= now => ReplicationStatus::Completed,
            _ => ReplicationStatus::Replicating,
        })
    }

    /// Starts replication to `location` unless it is under way or done.
    pub fn replicate_to(&mut self, location: &str, completes_at: DateTime<Utc>) {
        let home = location == self.region;
        self.replication.entry(location.to_owned()).or_insert(Some(if home { self.created_at } else { completes_at }));
    }
}

#[derive(Debug, Clone)]
pub struct ShaderCache {
    pub id: String,
    pub status: ShaderCacheStatus,
    pub storage_bytes: i64,
    pub last_updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StreamUrl {
    pub id: String,
    pub arn: String,
    pub url: String,
    pub group_id: String,
    pub group_arn: String,
    pub application_arn: String,
    pub revoked: Option<StreamUrlStatusReason>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub usage_limit: i64,
    pub remaining_uses: i64,
    pub locations: Vec<String>,
    pub session_length_seconds: i64,
    pub description: Option<String>,
    /// Request fields echoed back (launch arguments, environment, role, display).
    pub echo: serde_json::Map<String, serde_json::Value>,
    pub session_ids: Vec<String>,
}

impl StreamUrl {
    pub fn status(&self, now: DateTime<Utc>) -> StreamUrlStatus {
        if self.revoked.is_some() {
            StreamUrlStatus::Revoked
        } else if self.remaining_uses == 0 {
            StreamUrlStatus::LimitReached
        } else if self.expires_at <= now {
            StreamUrlStatus::Expired
        } else {
            StreamUrlStatus::Active
        }
    }
}

/// One account's resources in one region. Rate limits and resources are per region.
#[derive(Debug, Default, Clone)]
pub struct Region {
    pub groups: BTreeMap<String, StreamGroup>,
    pub sessions: BTreeMap<String, StreamSession>,
    pub applications: BTreeMap<String, Application>,
    pub stream_urls: BTreeMap<String, StreamUrl>,
    /// ClientToken -> resource id, per operation.
    pub group_tokens: HashMap<String, String>,
    pub application_tokens: HashMap<String, String>,
    pub session_tokens: HashMap<String, String>,
    pub stream_url_tokens: HashMap<String, String>,
}

impl Region {
    /// The ARNs of the groups `application_arn` is associated with (what GetApplication and
    /// ListShaderCaches report as `AssociatedStreamGroups`).
    pub fn groups_associated_with(&self, application_arn: &str) -> Vec<&str> {
        let associated = self.groups.values().filter(|g| g.associated.iter().any(|a| a == application_arn));
        associated.map(|g| g.arn.as_str()).collect()
    }
}

/// Capacity readings of one location at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CapacityReading {
    pub requested: u32,
    pub allocated: u32,
    pub idle: u32,
    pub in_use: u32,
}

pub struct EmulatedWorld {
    pub account_id: String,
    pub default_region: String,
    /// The Regions with an endpoint (`facts::SERVICE_REGIONS` unless told otherwise).
    pub served_regions: Vec<String>,
    /// GPU quotas and capacity pools (`supply`).
    pub supply: Supply,
    /// Every request of this account is refused with AccessDeniedException: its role lacks
    /// the permission, or the organisation's spoke was never deployed there (admin API).
    pub access_denied: bool,
    pub timings: Timings,
    pub behaviour: Behaviour,
    pub clock: EmulatorClock,
    pub regions: BTreeMap<String, Region>,
    /// Outcomes for the next stream groups to finish activating (admin: make one fail).
    pub next_activation_outcomes: VecDeque<ActivationOutcome>,
    rng: StdRng,
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A seed of its own for each account's ids (FNV-1a of the account id): accounts sharing the
/// parent's generator would mint the same ids, and a group id names one group in one account
/// only; the same account gets the same ids on every run (reproducible fleets).
fn account_seed(account_id: &str) -> u64 {
    account_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

impl EmulatedWorld {
    pub fn new(account_id: String, default_region: String, timings: Timings, seed: u64) -> Self {
        Self {
            account_id,
            default_region,
            served_regions: facts::SERVICE_REGIONS.iter().map(|r| r.to_string()).collect(),
            supply: Supply::default(),
            access_denied: false,
            timings,
            behaviour: Behaviour::default(),
            clock: EmulatorClock::default(),
            regions: BTreeMap::new(),
            next_activation_outcomes: VecDeque::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A world for another account of the same organisation: the same clock, timings,
    /// readings and Regions, and nothing in it yet (no resources, no quotas declared).
    pub fn for_account(&self, account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            default_region: self.default_region.clone(),
            served_regions: self.served_regions.clone(),
            supply: Supply::default(),
            access_denied: false,
            timings: self.timings.clone(),
            behaviour: self.behaviour,
            clock: self.clock.clone(),
            regions: BTreeMap::new(),
            next_activation_outcomes: VecDeque::new(),
            rng: StdRng::seed_from_u64(self.rng.clone().random::<u64>() ^ account_seed(account_id)),
        }
    }

    /// Whether `region` has an endpoint of the service here.
    pub fn serves(&self, region: &str) -> bool {
        self.served_regions.iter().any(|r| r == region)
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

    /// A lowercase hexadecimal id (shader caches: "a 32-character hexadecimal string").
    pub fn new_hex_id(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from_digit(self.rng.random_range(0..16), 16).expect("hex digit")).collect()
    }

    pub fn random_unit(&mut self) -> f64 {
        self.rng.random()
    }

    pub fn arn(&self, region: &str, resource: &str) -> String {
        format!("arn:aws:gameliftstreams:{region}:{}:{resource}", self.account_id)
    }

    /// Capacity readings of `location` in `group` right now.
    pub fn capacity(region: &Region, group: &StreamGroup, location: &GroupLocation) -> CapacityReading {
        let requested = location.config.always_on;
        if !group.is_serving() || location.status != LocationStatus::Active {
            return CapacityReading { requested, ..Default::default() };
        }
        let in_use = region
            .sessions
            .values()
            .filter(|s| s.group_id == group.id && s.location == location.name && s.holds_capacity())
            .count() as u32;
        let allocated = location.allocated.max(in_use);
        CapacityReading { requested, allocated, idle: allocated - in_use, in_use }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(always_on: u32, target_idle: Option<u32>, maximum: Option<u32>) -> LocationConfig {
        LocationConfig { always_on, on_demand: None, target_idle, maximum, vpc_transit: None }
    }

    #[test]
    fn always_on_is_the_floor_and_target_idle_a_buffer_within_the_maximum() {
        assert_eq!(config(4, None, None).wanted("gen5n_ultra", 1), 4);
        let scaling = config(0, Some(2), Some(5));
        assert_eq!(scaling.wanted("gen5n_ultra", 0), 2);
        assert_eq!(scaling.wanted("gen5n_ultra", 2), 4);
        assert_eq!(scaling.wanted("gen5n_ultra", 4), 5, "capped at the maximum");
    }

    #[test]
    fn wanted_capacity_is_whole_compute_units() {
        assert_eq!(config(4, Some(1), Some(12)).wanted("gen6n_medium", 4), 8, "5 wanted, tenancy 4");
    }

    #[test]
    fn each_account_mints_ids_of_its_own_and_the_same_ones_every_run() {
        let world = EmulatedWorld::new("111122223333".into(), "us-west-2".into(), Timings::default(), 7);
        let (mut a, mut b) = (world.for_account("222233334444"), world.for_account("333344445555"));
        let ids = |w: &mut EmulatedWorld| (0..5).map(|_| w.new_id("sg-", 9)).collect::<Vec<_>>();
        let (from_a, from_b) = (ids(&mut a), ids(&mut b));
        assert!(from_a.iter().all(|id| !from_b.contains(id)), "{from_a:?} {from_b:?}");
        assert_eq!(ids(&mut world.for_account("222233334444")), from_a, "reproducible per account");
    }

    #[test]
    fn the_legacy_on_demand_ceiling_adds_to_always_on() {
        let legacy =
            LocationConfig { always_on: 2, on_demand: Some(4), target_idle: None, maximum: None, vpc_transit: None };
        assert_eq!(legacy.ceiling(), 6);
        assert_eq!(legacy.wanted("gen5n_ultra", 5), 5);
    }
}
