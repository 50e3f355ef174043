//! What a trimmer run reads of one region: every group it may act on (or report), with its
//! details, tags and sessions, and the demand history of its active locations. A group whose
//! tags cannot be read is left out ([`reconcile::tagged_groups`]).

use crate::plan::{Observed, Settings};
use std::collections::BTreeMap;
use watchdog_core::opt_in::{self, Eligibility};
use watchdog_core::ports::{DemandMetric, DemandQuery, LocationKey, StreamGroupReader};
use watchdog_core::reconcile::{self, RegionRun};
use watchdog_core::{LocationStatus, StreamGroup, StreamGroupStatus, identifies};

/// Demand is read from `demand_source`.
pub async fn observe(run: &mut RegionRun<'_>, settings: &Settings, demand_source: &DemandMetric) -> Vec<Observed> {
    let only = run.request.stream_groups.as_deref();
    let wanted = |g: &StreamGroup| {
        only.is_none_or(|names| names.iter().any(|name| identifies(name, g)))
            && !matches!(g.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired)
    };
    let Some(groups) = reconcile::tagged_groups(run, wanted).await else { return Vec::new() };
    let (region, errors, now) = (run.region, &mut *run.errors, run.now);
    let read = |group| async move { read_group(region, group, settings).await };
    let mut observed = reconcile::read_concurrently(groups, read, errors).await;

    // Demand for every active location of the groups read in detail, in one pass.
    let keys: Vec<LocationKey> = observed
        .iter()
        .filter(|o| o.group.status == StreamGroupStatus::Active)
        .flat_map(|o| {
            o.group
                .locations
                .iter()
                .filter(|l| l.status == LocationStatus::Active)
                .map(|l| (o.group.id.clone(), l.name.clone()))
        })
        .collect();
    if !keys.is_empty() {
        let query = DemandQuery {
            region: region.region(),
            metric: demand_source,
            locations: &keys,
            start: now - settings.window,
            end: now,
        };
        match run.ports.demand.demand(query).await {
            Ok(mut found) => {
                for o in &mut observed {
                    for location in &o.group.locations {
                        if let Some(d) = found.remove(&(o.group.id.clone(), location.name.clone())) {
                            o.demand.insert(location.name.clone(), d);
                        }
                    }
                }
            }
            // Without history nothing is lowered; raises still work from live readings.
            Err(e) => errors.push(format!("{}: demand history unavailable: {e}", region.region())),
        }
    }
    observed
}

/// One group with its details and sessions, or, when the trimmer may not act on it, as
/// listed (the planner only notes opt-outs); an error leaves it out of this run's plan.
async fn read_group(
    region: &dyn StreamGroupReader,
    mut group: StreamGroup,
    settings: &Settings,
) -> Result<Observed, String> {
    let eligibility = opt_in::eligibility(&group, &settings.opt_in_tag, settings.manage_all_groups);
    if matches!(eligibility, Eligibility::NotOptedIn | Eligibility::OptedOut | Eligibility::Protected) {
        return Ok(Observed { group, demand: BTreeMap::new(), sessions: Vec::new() });
    }
    let mut details =
        region.get_stream_group(&group.id).await.map_err(|e| format!("{}: {e}; group skipped", group.id))?;
    details.tags = std::mem::take(&mut group.tags);
    let sessions =
        region.list_group_sessions(&details.id).await.map_err(|e| format!("{}: {e}; group skipped", details.id))?;
    Ok(Observed { group: details, demand: BTreeMap::new(), sessions })
}
