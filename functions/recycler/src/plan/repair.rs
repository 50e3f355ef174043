//! Failed remote locations: record their settings (VPC transit included), remove them, add
//! them back. A location that fails again after being added back, before it has stayed
//! healthy for REPAIR_STABLE_HOURS, counts as the same repair:
//! each further removal waits an exponentially longer back-off, and past the attempt limit
//! the location is left in ERROR and escalated (a blocked finding) for a person to look at.

use super::{Decision, RecyclerStep, Steps, backoff};
use crate::carry::location_spec;
use watchdog_core::ports::{Tags, Write};
use watchdog_core::reconcile::{Call, Effect, FAILURE_KIND, TagWrite};
use watchdog_core::tags::recycle::{self as state, RepairRecord, decode_repair, encode_repair, repair_key};
use watchdog_core::{LocationStatus, StreamGroup, StreamGroupStatus};

pub(super) fn repair(g: &StreamGroup, steps: &Steps<'_>, d: &mut Decision) {
    let (now, settings) = (steps.now, steps.settings);
    let changeable = matches!(g.status, StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors);
    let record_of = |name: &str| g.tags.get(&repair_key(name)).and_then(|v| decode_repair(name, v));
    let write = |record: &RepairRecord| {
        TagWrite::set(&g.arn, Tags::from([(repair_key(&record.spec.name), encode_repair(record))]))
    };
    for location in &g.locations {
        let name = &location.name;
        let recorded = record_of(name);
        match location.status {
            LocationStatus::Error if g.is_primary_location(name) => {}
            LocationStatus::Error => {
                // A first failure, or one after the location came back: a new removal.
                let attempt = match &recorded {
                    None => 1,
                    Some(r) if r.added_back_at.is_some() => r.attempts + 1,
                    // Recorded and not back: the removal is under way or was interrupted.
                    Some(r) => r.attempts,
                };
                if attempt > settings.max_repair_attempts {
                    d.block(
                        g,
                        "repair_limit",
                        format!(
                            "location {name} failed again after {} repair(s); left in ERROR for a person (remove it, or recreate the group)",
                            settings.max_repair_attempts
                        ),
                    );
                    continue;
                }
                // After the last removal (or its failure), the back-off holds the next one.
                if let Some(wait) = recorded.as_ref().and_then(|r| r.retry_after).filter(|t| *t > now)
                    && recorded.as_ref().is_some_and(|r| r.added_back_at.is_some() || r.removal_failure.is_some())
                {
                    d.note(g, format!("location {name} is in ERROR; repair {attempt} after {}", wait.to_rfc3339()));
                    continue;
                }
                if !changeable {
                    d.note(g, format!("location {name} is in ERROR; repaired once the group is ACTIVE"));
                    continue;
                }
                // The record (settings, attempt, next back-off) is written before the removal:
                // a crash between the two loses nothing.
                let spec = recorded.as_ref().map_or_else(|| location_spec(location), |r| r.spec.clone());
                let record = RepairRecord {
                    spec: spec.clone(),
                    attempts: attempt,
                    retry_after: Some(now + backoff(settings, attempt)),
                    added_back_at: None,
                    removal_failure: None,
                };
                // A refused removal counts as an attempt and waits out its back-off; the kind
                // of refusal is kept (one for the group's state escalates to recreation).
                let refused = RepairRecord {
                    attempts: attempt + 1,
                    retry_after: Some(now + backoff(settings, attempt)),
                    removal_failure: Some(FAILURE_KIND.into()),
                    ..record.clone()
                };
                let effect = Effect {
                    before: Some(write(&record)),
                    call: Call::Write(Write::RemoveLocation { group_id: g.id.clone(), location: name.clone() }),
                    after: None,
                    on_failure: Some(write(&refused)),
                };
                d.items.push(steps.item(
                    RecyclerStep::RemoveLocation { location: name.clone(), attempt },
                    format!(
                        "location {name} is in ERROR (repair {attempt} of {}); it is added back once removed",
                        settings.max_repair_attempts
                    ),
                    effect,
                    format!("removed the failed location {name} ({})", encode_repair(&record)),
                ));
            }
            LocationStatus::Active => {
                if let Some(added) = recorded.as_ref().and_then(|r| r.added_back_at)
                    && now >= added + settings.repair_stable
                {
                    d.items.push(steps.item(
                        RecyclerStep::ForgetLocation { location: name.clone() },
                        format!("location {name} has stayed healthy since it was added back at {}", added.to_rfc3339()),
                        Effect::tags(TagWrite::remove(&g.arn, vec![repair_key(name)])),
                        format!("location {name} is repaired"),
                    ));
                }
            }
            _ => {}
        }
    }
    for (key, value) in &g.tags {
        let Some(name) = key.strip_prefix(state::REPAIR_PREFIX) else { continue };
        if g.location(name).is_some() {
            continue;
        }
        match decode_repair(name, value) {
            // Added back only once the group is ACTIVE: AddStreamGroupLocations says "the
            // stream group must be in ACTIVE status", and whether ACTIVE_WITH_ERRORS (another
            // location still failing) is accepted too is open, so the reading that holds
            // under every answer is taken.
            Some(record) if g.status == StreamGroupStatus::Active => {
                let spec = record.spec.clone();
                let added = RepairRecord { added_back_at: Some(now), removal_failure: None, ..record };
                let effect = Effect {
                    before: None,
                    call: Call::Write(Write::AddLocation { group_id: g.id.clone(), location: spec.clone() }),
                    after: Some(write(&added)),
                    on_failure: None,
                };
                d.items.push(steps.item(
                    RecyclerStep::AddLocation { location: spec },
                    format!("location {name} was removed to repair it; adding it back with its recorded settings"),
                    effect,
                    format!("added {name} back ({})", encode_repair(&added)),
                ));
            }
            Some(_) => d.note(
                g,
                format!("location {name} removed; adding it back once the group is ACTIVE (it is {})", g.status),
            ),
            None => d.note(g, format!("tag {key}={value:?} is not a repair record; left alone")),
        }
    }
}

/// A failed location whose removal the service refused for the group's state: the reading
/// of the documentation under which a group does not take location changes while
/// ACTIVE_WITH_ERRORS. Nothing but a new group mends it then.
pub(super) fn removal_refused(g: &StreamGroup) -> Option<String> {
    if g.status != StreamGroupStatus::ActiveWithErrors {
        return None;
    }
    g.locations.iter().filter(|l| l.status == LocationStatus::Error).find_map(|l| {
        let record = g.tags.get(&repair_key(&l.name)).and_then(|v| decode_repair(&l.name, v))?;
        record.removal_refused_by_state().then(|| l.name.clone())
    })
}
