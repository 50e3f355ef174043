//! The recycler's reconciler, free of I/O: one observed group in, one decision out
//! ([`decide`]), then [`plan`] admits new recreations up to the in-flight limit. Every step's
//! precondition is observable and every step carries its whole effect (its call, the tags
//! that record it, the record of its failure), and all state lives in tags on the groups
//! (`watchdog_core::tags::recycle`), so a run that dies anywhere is finished by the next one.
//! State is kept on the old group, or on the replacement when the old group is EXPIRED and
//! takes no writes. The plan is what dry runs return and tests assert on.

pub use crate::config::Settings;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use watchdog_core::findings::FindingKind;
use watchdog_core::opt_in::{self, Eligibility};
use watchdog_core::reconcile::{Blocked, Note, Plan, Step};
use watchdog_core::rules::{self, Policy};
use watchdog_core::tags::recycle as state;
use watchdog_core::{Application, StreamGroup, StreamGroupStatus, StreamSession, StreamUrl};

mod recreation;
mod repair;
mod steps;

use recreation::{drive_replacement, start_recreation};
pub use steps::RecyclerStep;
use steps::{Steps, announce_retired};

/// What one run saw of one group.
#[derive(Debug, Clone)]
pub struct Observed {
    /// With details (locations) and its tags.
    pub group: StreamGroup,
    /// False for an EXPIRED group whose tags the service would not return.
    pub tags_known: bool,
    /// The run's request names this group (a person asked for it).
    pub named: bool,
    /// Its replacement: the group its `watchdog:replacement` tag names, or else the newest
    /// group whose `watchdog:replaces` tag names it.
    pub replacement: Option<Replacement>,
    /// Other groups of the recycler's that say they replace this one (earlier attempts).
    pub extra_replacements: Vec<StreamGroup>,
    /// Its sessions, read once the cut-over is announced.
    pub sessions: Vec<StreamSession>,
    /// Its stream URLs, read once a replacement is ACTIVE.
    pub stream_urls: Vec<StreamUrl>,
    /// The applications a recreation needs (its default and associated ones), by ARN.
    pub applications: BTreeMap<String, Application>,
    /// Whether the group its `watchdog:replaces` tag names still exists (and is not deleting).
    pub predecessor_alive: bool,
    /// Groups of the region listed this run whose tags could not be read: any of them may be
    /// this group's replacement, so no replacement is created or unlinked while they are unread.
    pub unread_groups: Vec<String>,
}

impl Observed {
    /// A group with readable tags and nothing else seen yet (a test's starting point).
    pub fn new(group: StreamGroup) -> Self {
        Self {
            group,
            tags_known: true,
            named: false,
            replacement: None,
            extra_replacements: Vec::new(),
            sessions: Vec::new(),
            stream_urls: Vec::new(),
            applications: BTreeMap::new(),
            predecessor_alive: true,
            unread_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Replacement {
    Missing(String),
    Found(Box<StreamGroup>),
}

pub fn eligibility(group: &StreamGroup, settings: &Settings) -> Eligibility {
    opt_in::eligibility(group, &settings.opt_in_tag, settings.manage_all_groups)
}

/// Why a group should be recreated now (empty: it should not).
pub fn recreation_reasons(group: &StreamGroup, now: DateTime<Utc>, policy: &Policy) -> Vec<FindingKind> {
    let mut reasons: Vec<FindingKind> = rules::lifecycle::lifecycle_findings(group, now, policy)
        .into_iter()
        .map(|f| f.kind)
        .filter(|kind| {
            matches!(
                kind,
                FindingKind::RotationDue
                    | FindingKind::AssociationCutoffSoon
                    | FindingKind::AssociationCutoffPassed
                    | FindingKind::ExpirySoon
                    | FindingKind::Expired
            )
        })
        .collect();
    if group.status == StreamGroupStatus::Expired && !reasons.contains(&FindingKind::Expired) {
        reasons.push(FindingKind::Expired);
    }
    // A failed primary location cannot be removed, and a failed location the service would
    // not remove while the group is ACTIVE_WITH_ERRORS cannot be repaired: only a new group
    // mends either.
    if group.status == StreamGroupStatus::ActiveWithErrors
        && (group.primary_location_failed() || repair::removal_refused(group).is_some())
    {
        reasons.push(FindingKind::ActiveWithErrors);
    }
    reasons
}

/// The back-off after the `failures`-th failure: the base, doubled for every earlier one.
pub fn backoff(settings: &Settings, failures: u32) -> Duration {
    settings.retry_backoff * 2i32.saturating_pow(failures.saturating_sub(1).min(10))
}

/// What the recycler decides for one group.
#[derive(Debug, Default)]
pub struct Decision {
    pub items: Vec<Step<RecyclerStep>>,
    pub notes: Vec<Note>,
    pub blocked: Vec<Blocked>,
    /// A new recreation, admitted only while fewer than the limit are in flight.
    pub start: Option<Step<RecyclerStep>>,
    /// Whether a recreation of this group is already under way.
    pub in_flight: bool,
}

impl Decision {
    fn note(&mut self, group: &StreamGroup, text: String) {
        self.notes.push(Note { stream_group: group.id.clone(), note: text });
    }

    fn block(&mut self, group: &StreamGroup, reason: &str, detail: String) {
        self.blocked.push(Blocked { stream_group: group.id.clone(), reason: reason.to_owned(), detail });
    }
}

/// The next steps for one observed group.
pub fn decide(o: &Observed, now: DateTime<Utc>, settings: &Settings) -> Decision {
    let g = &o.group;
    let mut decision = Decision {
        in_flight: g.tags.contains_key(state::REPLACEMENT) || o.replacement.is_some(),
        ..Decision::default()
    };

    // A replacement whose predecessor is gone or going: announce the retirement once. A
    // replacement in flight is driven through its old group, never on its own.
    if let Some(old) = g.tags.get(state::REPLACES) {
        if !g.tags.contains_key(state::RETIRED) && !o.predecessor_alive && !opt_in::is_protected(&g.tags) {
            decision.items.push(announce_retired(g, old, now, format!("{old}, which this group replaced, is deleted")));
        }
        return decision;
    }

    if !o.tags_known {
        // Only an EXPIRED group: its tags would say whether it is opted in, opted out or a
        // stack's, and the service will not give them. A person naming it decides; once a
        // replacement of the recycler's says it stands for this group (`watchdog:replaces`),
        // that decision was made and the scheduled runs drive the replacement to the end.
        let replacement_in_flight = matches!(&o.replacement, Some(Replacement::Found(_)));
        if !o.named && !replacement_in_flight {
            decision.block(
                g,
                "expired_tags_unreadable",
                "EXPIRED, and the service returns no tags for an expired group, so its opt-in, opt-out and \
                 owner are unknown; recreate it by naming it in a run ({\"stream_groups\": [\"ID\"]}) or by hand"
                    .to_owned(),
            );
            return decision;
        }
        let why = if o.named { "the run names it" } else { "its replacement says it replaces it" };
        decision.note(g, format!("EXPIRED with unreadable tags; recreated because {why} (its tags cannot be copied)"));
    } else {
        match eligibility(g, settings) {
            Eligibility::CloudFormation(stack) => {
                if !recreation_reasons(g, now, &settings.policy).is_empty()
                    || g.status == StreamGroupStatus::ActiveWithErrors
                {
                    decision.note(g, format!(
                        "managed by CloudFormation stack {stack}: left alone; replace the stream group through the stack (change a property that forces replacement, or add a new resource and remove the old one)"
                    ));
                }
                return decision;
            }
            Eligibility::OptedOut => {
                decision.note(g, format!("opted out ({}=false)", settings.opt_in_tag));
                return decision;
            }
            Eligibility::Protected => {
                if !recreation_reasons(g, now, &settings.policy).is_empty() {
                    decision.note(g, format!("protected ({}=true): due, but never changed", opt_in::PROTECT_TAG));
                }
                return decision;
            }
            Eligibility::NotOptedIn => return decision,
            Eligibility::OptedIn => {}
        }
    }
    if g.status == StreamGroupStatus::Deleting {
        return decision;
    }
    let expired = g.status == StreamGroupStatus::Expired;
    let found = match &o.replacement {
        Some(Replacement::Found(r)) => Some(r.as_ref()),
        _ => None,
    };
    if let Some(r) = found.filter(|r| opt_in::is_protected(&r.tags)) {
        decision.note(
            g,
            format!("its replacement {} is protected ({}=true): the recreation waits", r.id, opt_in::PROTECT_TAG),
        );
        return decision;
    }
    let steps = Steps { group: g, now, settings, home: if expired { found } else { Some(g) } };

    for extra in o.extra_replacements.iter().filter(|e| !opt_in::is_protected(&e.tags)) {
        let why = format!("{} also says it replaces {}; the replacement in flight is another group", extra.id, g.id);
        let done = format!("deleted the extra replacement {}", extra.id);
        decision.items.push(steps.delete_group(
            RecyclerStep::DeleteExtraReplacement { replacement: extra.id.clone() },
            extra,
            why,
            done,
        ));
    }

    let planned_create = match &o.replacement {
        // Its replacement may be a group whose tags (`watchdog:replaces`) could not be read:
        // a create now could make a second one.
        None if !o.unread_groups.is_empty() && !recreation_reasons(g, now, &settings.policy).is_empty() => {
            let unread = o.unread_groups.join(", ");
            decision.note(g, format!("due, but the tags of {unread} could not be read and one may already replace it: no recreation starts this run"));
            false
        }
        None => start_recreation(o, &steps, &mut decision),
        // Listed, only its tags unread: it exists, so the link stays.
        Some(Replacement::Missing(id)) if o.unread_groups.contains(id) => {
            decision.note(g, format!("the tags of its replacement {id} could not be read: it waits for the next run"));
            false
        }
        Some(Replacement::Missing(id)) => {
            decision.items.push(steps.unlink(format!("replacement {id} no longer exists")));
            false
        }
        Some(Replacement::Found(replacement)) => drive_replacement(o, replacement, &steps, &mut decision),
    };
    if let Some(item) = steps.blocked_record(&decision.blocked, planned_create) {
        decision.items.push(item);
    }
    decision
}

/// The next steps for every observed group: each group's decision, with new recreations
/// admitted in order while fewer than `max_groups_in_flight` are under way.
pub fn plan(observed: &[Observed], now: DateTime<Utc>, settings: &Settings) -> Plan<RecyclerStep> {
    let decisions: Vec<Decision> = observed.iter().map(|o| decide(o, now, settings)).collect();
    let mut in_flight = decisions.iter().filter(|d| d.in_flight).count();
    let mut plan = Plan::default();
    for decision in decisions {
        plan.items.extend(decision.items);
        plan.notes.extend(decision.notes);
        plan.blocked.extend(decision.blocked);
        if let Some(start) = decision.start {
            if in_flight < settings.max_groups_in_flight {
                in_flight += 1;
                // The create goes before the group's other steps (its blocked record).
                let position = plan.items.iter().position(|i| i.sequence == start.sequence).unwrap_or(plan.items.len());
                plan.items.insert(position, start);
            } else {
                plan.note(
                    &start.stream_group,
                    format!(
                        "due ({}) but {in_flight} recreation(s) already in flight (limit {})",
                        start.reason, settings.max_groups_in_flight
                    ),
                );
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests;
