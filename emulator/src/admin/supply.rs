//! The admin API for what an account may use: its GPU quotas and the capacity pools
//! (`crate::supply`), per stream-class family and location, and whether it is let in at all.

use super::{Admin, AdminRequest, bad_request};
use crate::fleet::{FleetGpus, check_family};
use crate::instance::{Emulator, lock};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SupplyChange {
    /// Sets (or, with `gpus: null`, lifts) one quota or pool.
    kind: String,
    family: String,
    location: String,
    gpus: Option<u32>,
}

impl AdminRequest for SupplyChange {
    const EXPECTED: &str =
        r#"{"kind": "gpu_quota"|"capacity_pool", "family": "gen5n", "location": NAME, "gpus": N|null}"#;
}

/// `POST /_emulator/supply`: one GPU quota or capacity pool set, or lifted with `null`.
pub(super) async fn set_supply(State(emu): State<Arc<Emulator>>, Admin(change): Admin<SupplyChange>) -> Response {
    let entry = FleetGpus { family: change.family.clone(), location: change.location.clone(), gpus: 0 };
    if let Err(e) = check_family("", &entry) {
        return bad_request(e.trim_start_matches('.').to_owned());
    }
    let mut world = lock(&emu.world);
    world.advance();
    let table = match change.kind.as_str() {
        "gpu_quota" => &mut world.supply.quotas,
        "capacity_pool" => &mut world.supply.pools,
        other => return bad_request(format!("kind: {other:?}; expected gpu_quota or capacity_pool")),
    };
    let key = (change.family, change.location);
    match change.gpus {
        Some(gpus) => table.insert(key, gpus),
        None => table.remove(&key),
    };
    get_supply_of(&world)
}

/// `GET /_emulator/supply`: every quota and pool.
pub(super) async fn get_supply(State(emu): State<Arc<Emulator>>) -> Response {
    get_supply_of(&lock(&emu.world))
}

fn get_supply_of(world: &crate::state::EmulatedWorld) -> Response {
    let rows = |table: &std::collections::BTreeMap<(String, String), u32>| {
        table
            .iter()
            .map(|((family, location), gpus)| json!({ "family": family, "location": location, "gpus": gpus }))
            .collect::<Vec<_>>()
    };
    axum::Json(json!({ "gpu_quotas": rows(&world.supply.quotas), "capacity_pools": rows(&world.supply.pools) }))
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccessChange {
    account: String,
    denied: bool,
}

impl AdminRequest for AccessChange {
    const EXPECTED: &str = r#"{"account": "222233334444", "denied": true|false}"#;
}

/// `POST /_emulator/access`: every request of one account refused with AccessDeniedException
/// (`denied: true`), as when its role lacks the permission or the spoke was never deployed.
pub(super) async fn set_access(State(emu): State<Arc<Emulator>>, Admin(change): Admin<AccessChange>) -> Response {
    if crate::accounts::account_of_access_key(&change.account).as_deref() != Some(change.account.as_str()) {
        return bad_request(format!("account: {:?} is not a 12-digit account id", change.account));
    }
    let world = emu.world_of(&change.account);
    lock(&world).access_denied = change.denied;
    axum::Json(json!({ "account": change.account, "denied": change.denied })).into_response()
}
