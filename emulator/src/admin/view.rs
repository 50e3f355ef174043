//! `GET /_emulator/state`: a readable picture of one account's world.

use super::{bad_request, clock_json};
use crate::instance::{Emulator, lock};
use crate::state::EmulatedWorld;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct AccountQuery {
    /// An account other than the emulator's `--account-id`.
    account: Option<String>,
}

/// A readable picture of one account's world (the default one unless `?account=` names
/// another), with every account addressed so far, for people and the README's demo.
pub(super) async fn state(State(emu): State<Arc<Emulator>>, Query(query): Query<AccountQuery>) -> Response {
    let accounts: Vec<String> = emu.worlds().into_iter().map(|(id, _)| id).collect();
    let world = match query.account {
        Some(account) if accounts.contains(&account) => emu.world_of(&account),
        Some(account) => return bad_request(format!("account: {account} has not been addressed")),
        None => emu.world.clone(),
    };
    let mut world = lock(&world);
    world.advance();
    let now = world.now();
    let mut regions = BTreeMap::new();
    for (name, region) in &world.regions {
        let groups: Vec<Value> = region
            .groups
            .values()
            .map(|g| {
                let mut sessions: BTreeMap<String, usize> = BTreeMap::new();
                for s in region.sessions.values().filter(|s| s.group_id == g.id) {
                    *sessions.entry(s.status.to_string()).or_default() += 1;
                }
                json!({
                    "id": g.id,
                    "description": g.description,
                    "stream_class": g.stream_class,
                    "status": g.status.as_str(),
                    "status_reason": g.status_reason,
                    "age_days": (now - g.created_at).num_days(),
                    "expires_in_days": (g.expires_at - now).num_days(),
                    "applications": g.associated.len(),
                    "tags": g.tags,
                    "locations": g.locations.iter().map(|l| {
                        let reading = EmulatedWorld::capacity(region, g, l);
                        json!({
                            "name": l.name, "status": l.status.as_str(),
                            "always_on": l.config.always_on, "target_idle": l.config.target_idle,
                            "maximum": l.config.maximum, "on_demand": l.config.on_demand,
                            "allocated": reading.allocated, "idle": reading.idle, "in_use": reading.in_use,
                        })
                    }).collect::<Vec<_>>(),
                    "sessions": sessions,
                })
            })
            .collect();
        regions.insert(name.clone(), json!({ "applications": region.applications.len(), "stream_groups": groups }));
    }
    let reply =
        json!({ "clock": clock_json(&world), "account": world.account_id, "accounts": accounts, "regions": regions });
    axum::Json(reply).into_response()
}
