//! What a recycler run reads of one region, through the reader port: every group with its
//! tags, details where a step may follow, the replacement each old group names, and the
//! sessions of groups past their cut-over. A group whose tags cannot be read is left out
//! ([`reconcile::tagged_groups`]).

use crate::plan::{self, Observed, Replacement, Settings};
use watchdog_core::opt_in::Eligibility;
use watchdog_core::ports::StreamGroupReader;
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
    // Owned, so the reads' futures borrow nothing but `all` (and stay Send).
    let candidates: Vec<StreamGroup> = all.iter().filter(|g| wanted(g) && relevant(g)).cloned().collect();
    let all = all.as_slice();
    reconcile::read_concurrently(candidates, |summary| async move { read_group(region, &summary, all).await }, errors)
        .await
}

/// One group in detail, with its replacement and, past its cut-over, its sessions; an error
/// leaves the group out of this run's plan.
async fn read_group(
    region: &dyn StreamGroupReader,
    summary: &StreamGroup,
    all: &[StreamGroup],
) -> Result<Observed, String> {
    let mut group =
        region.get_stream_group(&summary.id).await.map_err(|e| format!("{}: {e}; group skipped", summary.id))?;
    group.tags = summary.tags.clone();
    let replacement = match group.tags.get(state::REPLACEMENT) {
        None => None,
        Some(id) => match all.iter().find(|g| &g.id == id) {
            None => Some(Replacement::Missing(id.clone())),
            Some(listed) => {
                let mut details =
                    region.get_stream_group(id).await.map_err(|e| format!("{id}: {e}; its old group waits"))?;
                details.tags = listed.tags.clone();
                Some(Replacement::Found(Box::new(details)))
            }
        },
    };
    let sessions = if group.tags.contains_key(state::CUTOVER_AT) {
        region.list_group_sessions(&group.id).await.map_err(|e| format!("{}: {e}; not retired this run", group.id))?
    } else {
        Vec::new()
    };
    let predecessor_alive = group
        .tags
        .get(state::REPLACES)
        .is_some_and(|old| all.iter().any(|g| &g.id == old && g.status != StreamGroupStatus::Deleting));
    Ok(Observed { group, replacement, sessions, predecessor_alive })
}
