//! What a recycler run reads of one region, through the reader port: every group with its
//! tags, details where a step may follow, the replacement each old group names, and the
//! sessions of groups past their cut-over. A group whose tags cannot be read is left out
//! ([`reconcile::tagged_groups`]).

use crate::plan::{self, Observed, Replacement, Settings};
use watchdog_core::opt_in::Eligibility;
use watchdog_core::reconcile::{self, RegionRun};
use watchdog_core::tags::recycle as state;
use watchdog_core::{StreamGroup, StreamGroupStatus, identifies};

pub async fn observe(run: &mut RegionRun<'_>, settings: &Settings) -> Vec<Observed> {
    // Every group's tags: a replacement names its predecessor there.
    let Some(all) = reconcile::tagged_groups(run, |_| true).await else { return Vec::new() };
    let (region, errors) = (run.region, &mut *run.errors);
    let only = run.request.stream_groups.as_deref();
    let wanted = |g: &StreamGroup| match only {
        None => true,
        Some(ids) => {
            ids.iter().any(|i| identifies(i, g))
                || g.tags
                    .get(state::REPLACES)
                    .is_some_and(|old| all.iter().any(|o| &o.id == old && ids.iter().any(|i| identifies(i, o))))
        }
    };
    // Groups the recycler may act on, and replacements still announcing their predecessor.
    let relevant = |g: &StreamGroup| {
        plan::eligibility(g, settings) != Eligibility::NotOptedIn || g.tags.contains_key(state::REPLACES)
    };
    let mut observed = Vec::new();
    for summary in all.iter().filter(|g| wanted(g) && relevant(g)) {
        let mut group = match region.get_stream_group(&summary.id).await {
            Ok(group) => group,
            Err(e) => {
                errors.push(format!("{}: {e}; group skipped", summary.id));
                continue;
            }
        };
        group.tags = summary.tags.clone();
        let replacement = match group.tags.get(state::REPLACEMENT) {
            None => None,
            Some(id) => match all.iter().find(|g| &g.id == id) {
                None => Some(Replacement::Missing(id.clone())),
                Some(listed) => match region.get_stream_group(id).await {
                    Ok(mut details) => {
                        details.tags = listed.tags.clone();
                        Some(Replacement::Found(Box::new(details)))
                    }
                    Err(e) => {
                        errors.push(format!("{id}: {e}; its old group waits"));
                        continue;
                    }
                },
            },
        };
        let sessions = if group.tags.contains_key(state::CUTOVER_AT) {
            match region.list_group_sessions(&group.id).await {
                Ok(sessions) => sessions,
                Err(e) => {
                    errors.push(format!("{}: {e}; not retired this run", group.id));
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        let predecessor_alive = group
            .tags
            .get(state::REPLACES)
            .is_some_and(|old| all.iter().any(|g| &g.id == old && g.status != StreamGroupStatus::Deleting));
        observed.push(Observed { group, replacement, sessions, predecessor_alive });
    }
    observed
}
