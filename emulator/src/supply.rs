//! Where GPUs come from: the account's GPU quotas and the capacity the service has in each
//! location. Both count GPUs (compute units) per stream-class family and location.
//!
//! - **GPU quotas.** AWS General Reference, "Amazon GameLift Streams endpoints and quotas": "In
//!   the following table, the GPU quotas are all 0 by default"; e.g. "Gen4n GPUs,
//!   ap-northeast-1 ... The maximum number of Gen4n GPUs that you can allocate for streaming in
//!   this account in the ap-northeast-1 Region. Some stream classes support running multiple
//!   applications per GPU, such as Gen4n_High." The model's ServiceQuotaExceededException: "The
//!   request would cause the resource to exceed an allowed service quota"; it is listed on
//!   CreateStreamGroup, UpdateStreamGroup and AddStreamGroupLocations, so those are refused when
//!   the always-on capacity they commit would exceed the quota (ASSUMED: always-on is what a
//!   request commits, since it "is allocated to you and is never released"; on-demand capacity
//!   beyond it simply does not arrive past the quota). A family and location without a quota
//!   here is not limited: a test world; the sample fleet sets quotas a studio would have.
//! - **Capacity pools.** Model, StatusReason `noAvailableInstances`: "Amazon GameLift Streams
//!   does not currently have enough available capacity to fulfill your request. Wait a few
//!   minutes and retry the request as capacity can shift frequently." A location whose pool
//!   cannot supply its always-on capacity when it activates goes to ERROR: a new group's primary
//!   location makes the group ERROR (`noAvailableInstances`), a remote one ACTIVE_WITH_ERRORS.
//!   On-demand capacity arrives only as far as the pool and the quota allow.

use crate::facts;
use crate::state::{EmulatedWorld, StreamGroup, SupplyKey as Key};
use crate::vocabulary::{LocationStatus, StreamGroupStatus};
use std::collections::BTreeMap;

/// The stream-class family a GPU quota is kept for: `gen5n_high` -> `gen5n`.
pub fn family(class: &str) -> &str {
    class.split('_').next().unwrap_or(class)
}

/// GPUs (compute units) that hold `capacity` sessions of `class`.
pub fn gpus(class: &str, capacity: u32) -> u32 {
    capacity.div_ceil(facts::tenancy(class).unwrap_or(1))
}

pub fn key(class: &str, location: &str) -> Key {
    (family(class).to_owned(), location.to_owned())
}

/// Locations of live groups: what counts against a quota or a pool.
fn live_locations(world: &EmulatedWorld) -> impl Iterator<Item = (&StreamGroup, &crate::state::GroupLocation)> {
    world
        .regions
        .values()
        .flat_map(|r| r.groups.values())
        .filter(|g| !matches!(g.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired))
        .flat_map(|g| g.locations.iter().map(move |l| (g, l)))
        .filter(|(_, l)| !matches!(l.status, LocationStatus::Error | LocationStatus::Removing))
}

/// A request's always-on capacity in one location, with what it replaces there (an update).
pub struct Commitment<'a> {
    pub class: &'a str,
    pub location: &'a str,
    pub always_on: u32,
    /// The group whose current setting for this location the request replaces.
    pub replaces: Option<&'a str>,
}

/// Refuses a request whose always-on capacity would exceed a GPU quota; lowering never does.
pub fn check_quota(world: &EmulatedWorld, commitments: &[Commitment<'_>]) -> Result<(), String> {
    let mut wanted: BTreeMap<Key, (u32, u32)> = BTreeMap::new();
    for c in commitments {
        let key = key(c.class, c.location);
        let entry = wanted.entry(key).or_default();
        entry.1 += gpus(c.class, c.always_on);
        if let Some(group) = c.replaces {
            let current = live_locations(world)
                .find(|(g, l)| g.id == group && l.name == c.location)
                .map_or(0, |(g, l)| gpus(&g.stream_class, l.config.always_on));
            entry.0 += current;
        }
    }
    for (key, (replaced, requested)) in wanted {
        let Some(quota) = world.supply.quotas.get(&key) else { continue };
        let committed: u32 = live_locations(world)
            .filter(|(g, l)| family(&g.stream_class) == key.0 && l.name == key.1)
            .map(|(g, l)| gpus(&g.stream_class, l.config.always_on))
            .sum();
        let after = committed - replaced.min(committed) + requested;
        if requested > replaced && after > *quota {
            return Err(format!(
                "The request would exceed the GPU quota for {} in {}: {after} GPUs of always-on capacity ({} in use by stream groups, {requested} requested), quota {quota}. Request a quota increase for \"{} GPUs, {}\".",
                key.0,
                key.1,
                committed - replaced.min(committed),
                capitalised(&key.0),
                key.1
            ));
        }
    }
    Ok(())
}

fn capitalised(family: &str) -> String {
    let mut chars = family.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// What is left to allocate while the clock advances, per family and location: the limit less
/// what every live location holds now. Taken as capacity arrives, given back as it leaves.
#[derive(Debug, Default)]
pub struct Ledger {
    free: BTreeMap<Key, u32>,
}

impl Ledger {
    pub fn of(world: &EmulatedWorld) -> Self {
        // Nothing declared (tests, the benchmark): nothing to count on every request.
        if world.supply.quotas.is_empty() && world.supply.pools.is_empty() {
            return Self::default();
        }
        let mut used: BTreeMap<Key, u32> = BTreeMap::new();
        for (g, l) in live_locations(world) {
            *used.entry(key(&g.stream_class, &l.name)).or_default() += gpus(&g.stream_class, l.allocated);
        }
        let keys = world.supply.quotas.keys().chain(world.supply.pools.keys());
        let free = keys
            .filter_map(|k| {
                world.supply.limit(k).map(|limit| (k.clone(), limit.saturating_sub(*used.get(k).unwrap_or(&0))))
            })
            .collect();
        Self { free }
    }

    /// Grows an allocation from `from` toward `to` sessions as far as GPUs are left; returns
    /// the new allocation (never below `from`).
    pub fn grow(&mut self, class: &str, location: &str, from: u32, to: u32) -> u32 {
        if to <= from {
            return from;
        }
        let Some(free) = self.free.get_mut(&key(class, location)) else { return to };
        let wanted = gpus(class, to).saturating_sub(gpus(class, from));
        let granted = wanted.min(*free);
        *free -= granted;
        if granted == wanted { to } else { (gpus(class, from) + granted) * facts::tenancy(class).unwrap_or(1) }
    }

    /// Takes all of `capacity` for a location that activates, or nothing: `false` when the
    /// location cannot be supplied (`noAvailableInstances`).
    pub fn take_all(&mut self, class: &str, location: &str, capacity: u32) -> bool {
        let Some(free) = self.free.get_mut(&key(class, location)) else { return true };
        let wanted = gpus(class, capacity);
        if wanted > *free {
            return false;
        }
        *free -= wanted;
        true
    }

    /// An allocation shrinks from `from` to `to` sessions: its GPUs are free again.
    pub fn give_back(&mut self, class: &str, location: &str, from: u32, to: u32) {
        if let Some(free) = self.free.get_mut(&key(class, location)) {
            *free += gpus(class, from).saturating_sub(gpus(class, to));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_gpus_follow_the_stream_class() {
        assert_eq!(family("gen5n_high"), "gen5n");
        assert_eq!(family("gen6n_ultra_win2022"), "gen6n");
        assert_eq!(gpus("gen5n_high", 4), 2, "tenancy 2");
        assert_eq!(gpus("gen6n_small", 12), 1, "tenancy 12");
        assert_eq!(gpus("gen4n_ultra", 3), 3);
    }

    #[test]
    fn the_ledger_grants_what_is_left_in_whole_gpus() {
        let mut ledger = Ledger { free: BTreeMap::from([(key("gen5n_high", "us-west-2"), 3)]) };
        assert_eq!(ledger.grow("gen5n_high", "us-west-2", 2, 10), 8, "3 more GPUs of tenancy 2");
        assert!(!ledger.take_all("gen5n_high", "us-west-2", 2), "none left");
        ledger.give_back("gen5n_high", "us-west-2", 8, 4);
        assert!(ledger.take_all("gen5n_high", "us-west-2", 4));
        assert_eq!(ledger.grow("gen5n_ultra", "eu-central-1", 1, 5), 5, "no limit declared");
    }
}
