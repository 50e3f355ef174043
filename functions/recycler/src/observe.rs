//! What a recycler run reads of one region, through the reader port: every group with its
//! tags, details where a step may follow, each old group's replacement, the applications a
//! recreation needs, the stream URLs and sessions that hold an old group back. A group whose
//! tags cannot be read is left out ([`reconcile::tagged_groups`]), except an EXPIRED one: the
//! service gives no tags for it, and a person may still name it for recreation.

use crate::config::Settings;
use crate::cutover;
use crate::plan::{self, Observed, Replacement};
use std::collections::{BTreeMap, BTreeSet};
use watchdog_core::opt_in::Eligibility;
use watchdog_core::ports::StreamGroupReader;
use watchdog_core::reconcile::{self, RegionRun};
use watchdog_core::tags::recycle as state;
use watchdog_core::{Application, StreamGroup, StreamGroupStatus, id_of, identifies};

pub async fn observe(run: &mut RegionRun<'_>, settings: &Settings) -> Vec<Observed> {
    // Every group's tags: a replacement names its predecessor there.
    let Some(mut all) = reconcile::tagged_groups(run, |g| g.status != StreamGroupStatus::Expired).await else {
        return Vec::new();
    };
    // Listed, not expired, and left out for unreadable tags: unknown, not absent.
    let unread_groups: Vec<String> = run
        .listed
        .iter()
        .filter(|g| g.status != StreamGroupStatus::Expired && !all.iter().any(|t| t.id == g.id))
        .map(|g| g.id.clone())
        .collect();
    let (region, errors) = (run.region, &mut *run.errors);
    // Expired groups, listed in this region: their tags if the service gives them.
    let expired: Vec<StreamGroup> = run
        .listed
        .iter()
        .filter(|g| g.status == StreamGroupStatus::Expired && g.region() == Some(region.region()))
        .cloned()
        .collect();
    let read_expired = |mut group: StreamGroup| async move {
        let readable = match region.list_tags(&group.arn).await {
            Ok(tags) => {
                group.tags = tags;
                true
            }
            // Expected where the service keeps to "only Get and Delete": a blocked finding.
            Err(_) => false,
        };
        Ok((group, readable))
    };
    let mut untagged = BTreeSet::new();
    for (group, readable) in reconcile::read_concurrently(expired, read_expired, errors).await {
        if !readable {
            untagged.insert(group.id.clone());
        }
        all.push(group);
    }
    let only = run.request.stream_groups.as_deref();
    let named = |g: &StreamGroup| only.is_some_and(|ids| ids.iter().any(|i| identifies(i, g)));
    let wanted = |g: &StreamGroup| match only {
        None => true,
        Some(ids) => {
            // A replacement of a named group, even once that group is gone (its retirement
            // is still to be announced).
            named(g) || g.tags.get(state::REPLACES).is_some_and(|old| ids.iter().any(|i| id_of(i) == old))
        }
    };
    // Groups the recycler may act on, replacements still announcing their predecessor, and
    // expired groups whose opt-in cannot be read (a blocked finding, or named by a person).
    let relevant = |g: &StreamGroup| {
        untagged.contains(&g.id)
            || plan::eligibility(g, settings) != Eligibility::NotOptedIn
            || g.tags.contains_key(state::REPLACES)
    };
    let candidates: Vec<(StreamGroup, bool, bool)> = all
        .iter()
        .filter(|g| wanted(g) && relevant(g))
        .map(|g| (g.clone(), !untagged.contains(&g.id), named(g)))
        .collect();
    let all = all.as_slice();
    let mut observed = reconcile::read_concurrently(
        candidates,
        |(summary, tags_known, named)| async move { read_group(region, summary, tags_known, named, all).await },
        errors,
    )
    .await;
    read_applications(region, &mut observed, run.now, settings, errors).await;
    for o in &mut observed {
        o.unread_groups = unread_groups.clone();
    }
    observed
}

/// The replacement of `old`: the group its link tag names, or else the newest group of the
/// recycler's whose `watchdog:replaces` tag names it (the only link an EXPIRED group has,
/// and a link that survives a crash between the create and the tag).
fn replacement_of<'a>(
    old: &StreamGroup,
    all: &'a [StreamGroup],
) -> (Option<Result<&'a StreamGroup, String>>, Vec<&'a StreamGroup>) {
    let mut claimants: Vec<&StreamGroup> = all
        .iter()
        .filter(|g| {
            g.tags.get(state::REPLACES) == Some(&old.id)
                && g.tags.contains_key(state::MANAGED_BY)
                && g.status != StreamGroupStatus::Deleting
        })
        .collect();
    claimants
        .sort_by_key(|g| (g.tags.get(state::REPLACEMENT_ATTEMPT).and_then(|a| a.parse::<u32>().ok()), g.created_at));
    let current = match old.tags.get(state::REPLACEMENT) {
        Some(id) => Some(all.iter().find(|g| &g.id == id).ok_or_else(|| id.clone())),
        None => claimants.last().map(|g| Ok(*g)),
    };
    let current_id = current.as_ref().and_then(|c| c.as_ref().ok()).map(|g| g.id.clone());
    // Every other live claimant is an earlier attempt (never the one in flight, never a
    // retired group that replaced this one's predecessor).
    let extra = claimants
        .into_iter()
        .filter(|g| Some(&g.id) != current_id.as_ref() && !g.tags.contains_key(state::RETIRED))
        .collect();
    (current, extra)
}

/// One group in detail, with its replacement and, past its cut-over, its sessions and stream
/// URLs; an error leaves the group out of this run's plan.
async fn read_group(
    region: &dyn StreamGroupReader,
    summary: StreamGroup,
    tags_known: bool,
    named: bool,
    all: &[StreamGroup],
) -> Result<Observed, String> {
    let mut group =
        region.get_stream_group(&summary.id).await.map_err(|e| format!("{}: {e}; group skipped", summary.id))?;
    group.tags = summary.tags.clone();
    let (current, extra) =
        if group.tags.contains_key(state::REPLACES) { (None, Vec::new()) } else { replacement_of(&group, all) };
    let replacement = match current {
        None => None,
        Some(Err(id)) => Some(Replacement::Missing(id)),
        Some(Ok(listed)) => {
            let id = &listed.id;
            let mut details =
                region.get_stream_group(id).await.map_err(|e| format!("{id}: {e}; its old group waits"))?;
            details.tags = listed.tags.clone();
            Some(Replacement::Found(Box::new(details)))
        }
    };
    let expired = group.status == StreamGroupStatus::Expired;
    let active_replacement = match &replacement {
        Some(Replacement::Found(r)) if r.status == StreamGroupStatus::Active => Some(r.as_ref()),
        _ => None,
    };
    // Sessions and stream URLs hold a serving group back; an expired one has neither to give.
    let (sessions, stream_urls) = if let Some(new) = active_replacement.filter(|_| !expired) {
        let sessions = if cutover::announced_at(&group, new).is_some() {
            region
                .list_group_sessions(&group.id)
                .await
                .map_err(|e| format!("{}: {e}; not retired this run", group.id))?
        } else {
            Vec::new()
        };
        let urls = region
            .list_stream_urls(&group.id)
            .await
            .map_err(|e| format!("{}: {e}; not cut over this run", group.id))?;
        (sessions, urls)
    } else {
        (Vec::new(), Vec::new())
    };
    let predecessor_alive = group
        .tags
        .get(state::REPLACES)
        .is_some_and(|old| all.iter().any(|g| &g.id == old && g.status != StreamGroupStatus::Deleting));
    Ok(Observed {
        group,
        tags_known,
        named,
        replacement,
        extra_replacements: extra.into_iter().cloned().collect(),
        sessions,
        stream_urls,
        applications: BTreeMap::new(),
        predecessor_alive,
        unread_groups: Vec::new(),
    })
}

/// The status of every application a recreation or an association is about to use, each
/// read once per run; a group whose applications cannot be read waits.
async fn read_applications(
    region: &dyn StreamGroupReader,
    observed: &mut Vec<Observed>,
    now: chrono::DateTime<chrono::Utc>,
    settings: &Settings,
    errors: &mut Vec<String>,
) {
    let needs = |o: &Observed| -> Vec<String> {
        let g = &o.group;
        let due = o.replacement.is_none() && !plan::recreation_reasons(g, now, &settings.policy).is_empty();
        let associating =
            matches!(&o.replacement, Some(Replacement::Found(r)) if cutover::announced_at(g, r).is_none());
        if g.tags.contains_key(state::REPLACES) || !(due || associating || g.status == StreamGroupStatus::Expired) {
            return Vec::new();
        }
        let mut arns: Vec<String> = g.associated_applications.clone();
        arns.extend(g.default_application.as_ref().and_then(|d| d.arn.clone()));
        arns
    };
    let wanted: Vec<String> = observed.iter().flat_map(needs).collect::<BTreeSet<_>>().into_iter().collect();
    // Each application once per run, a few at a time; a failed read is kept per application.
    let read_one = |arn: String| async move {
        let result = region.get_application(&arn).await.map_err(|e| e.to_string());
        Ok((arn, result))
    };
    let read: BTreeMap<String, Result<Application, String>> =
        reconcile::read_concurrently(wanted, read_one, errors).await.into_iter().collect();
    observed.retain_mut(|o| {
        let mut unreadable = Vec::new();
        for arn in needs(o) {
            match read.get(&arn) {
                Some(Ok(app)) => {
                    o.applications.insert(arn, app.clone());
                }
                Some(Err(e)) => unreadable.push(e.clone()),
                None => {}
            }
        }
        if unreadable.is_empty() {
            return true;
        }
        errors.push(format!("{}: {}; its recreation waits", o.group.id, unreadable.join("; ")));
        false
    });
}
