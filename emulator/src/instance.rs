//! One running emulator: the world and the controls around it (rate limits, injected faults,
//! counters, the emulated crash). The service API (`server`) and the admin API (`admin`) both
//! serve it.

use crate::fleet::{self, Fleet};
use crate::limits::{Counters, FaultRule, RateLimits};
use crate::service_model::ServiceModel;
use crate::state::EmulatedWorld;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Emulator {
    pub(crate) model: ServiceModel,
    /// The default account's world (`--account-id`): unsigned requests, and the admin API
    /// unless it names another account.
    pub(crate) world: Arc<Mutex<EmulatedWorld>>,
    /// Every account addressed so far, the default one included: one emulator plays a whole
    /// organisation, each account from the request's credentials (`accounts`).
    accounts: Mutex<BTreeMap<String, Arc<Mutex<EmulatedWorld>>>>,
    pub(crate) limits: Mutex<RateLimits>,
    pub(crate) faults: Mutex<HashMap<String, FaultRule>>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) fault_rng: Mutex<StdRng>,
    pub(crate) crash: Mutex<Crash>,
}

/// Emulates a caller that dies right after its k-th mutating call: that call takes effect,
/// its response is lost, and every request after it fails until the crash is cleared.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Crash {
    pub(crate) after_mutations: Option<u64>,
    pub(crate) mutations_seen: u64,
    pub(crate) crashed: bool,
}

/// A poisoned lock only means another request panicked; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    pub fn new(world: EmulatedWorld, rate_limit_scale: f64, seed: u64) -> Self {
        let account = world.account_id.clone();
        let world = Arc::new(Mutex::new(world));
        Self {
            model: ServiceModel::load(),
            accounts: Mutex::new(BTreeMap::from([(account, world.clone())])),
            world,
            limits: Mutex::new(RateLimits::new(rate_limit_scale)),
            faults: Mutex::new(HashMap::new()),
            counters: Mutex::new(Counters::default()),
            fault_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5EED)),
            crash: Mutex::new(Crash::default()),
        }
    }

    pub fn load_fleet(&self, fleet: &Fleet) -> Result<fleet::LoadSummary, String> {
        fleet::load(&mut lock(&self.world), fleet)
    }

    /// The world of `account`, made on first use beside the default one. Never called while
    /// a world's lock is held (it takes the default world's lock to copy it).
    pub(crate) fn world_of(&self, account: &str) -> Arc<Mutex<EmulatedWorld>> {
        let mut accounts = lock(&self.accounts);
        if let Some(world) = accounts.get(account) {
            return world.clone();
        }
        let world = Arc::new(Mutex::new(lock(&self.world).for_account(account)));
        accounts.insert(account.to_owned(), world.clone());
        world
    }

    /// The accounts addressed so far, and their worlds.
    pub(crate) fn worlds(&self) -> Vec<(String, Arc<Mutex<EmulatedWorld>>)> {
        lock(&self.accounts).iter().map(|(id, world)| (id.clone(), world.clone())).collect()
    }
}
