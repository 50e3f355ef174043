//! The recycler's reconciler, free of I/O: one observed group in, one decision out
//! ([`decide`]), then [`plan`] admits new recreations up to the in-flight limit. Every step's
//! precondition is observable and every step carries its whole effect (its call and the tags
//! that record it), and all state lives in tags on the groups (`watchdog_core::tags::recycle`),
//! so a run that dies anywhere is finished by the next one. The plan is what dry runs return
//! and tests assert on.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use watchdog_core::findings::FindingKind;
use watchdog_core::opt_in::{self, Eligibility};
use watchdog_core::ports::{CreateGroupRequest, LocationSpec, Message, Tags};
use watchdog_core::reconcile::{CREATED_GROUP_ID, Call, Effect, Note, Plan, PlanItem, StepKind, TagWrite};
use watchdog_core::rules::{self, Policy};
use watchdog_core::tags::recycle::{self as state, decode_location, encode_location, repair_key};
use watchdog_core::{Capacity, LocationStatus, StreamGroup, StreamGroupStatus, StreamSession};

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub opt_in_tag: String,
    pub manage_all_groups: bool,
    /// How long the old group keeps serving after the cut-over announcement.
    pub grace: Duration,
    /// Retire the old group regardless of sessions this close to its expiry.
    pub expiry_guard: Duration,
    /// Wait after a failed replacement; doubles with every further failure.
    pub retry_backoff: Duration,
    pub max_groups_in_flight: usize,
    pub repair_locations: bool,
    /// The scanner's alert-memory prefix: those tags are never copied to a replacement.
    pub alert_tag_prefix: String,
    pub policy: Policy,
}

/// The settings to restore from what GetStreamGroup reports: the deprecated on-demand
/// form when only on-demand capacity is set, the maximum/target-idle form otherwise (the
/// service refuses the two together).
pub fn location_spec(name: &str, c: &Capacity) -> LocationSpec {
    let on_demand_only = c.on_demand.unwrap_or(0) > 0 && c.target_idle.unwrap_or(0) == 0 && c.maximum.is_none();
    LocationSpec {
        name: name.to_owned(),
        always_on: c.always_on.unwrap_or(0),
        target_idle: if on_demand_only { None } else { c.target_idle.filter(|t| *t > 0) },
        maximum: if on_demand_only { None } else { c.maximum },
        on_demand: if on_demand_only { c.on_demand } else { None },
    }
}

/// The recycler's steps, as reports, logs and the `action` attribute name them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// CreateStreamGroup, then tag the old group with the new id.
    CreateReplacement {
        spec: CreateGroupRequest,
    },
    AssociateApplications {
        replacement: String,
        applications: Vec<String>,
    },
    /// Publish the cut-over, then tag the old group with the time.
    AnnounceCutover {
        replacement: String,
        replacement_arn: String,
    },
    DeleteOldGroup {
        replacement: String,
        live_sessions: usize,
    },
    /// Publish the retirement, then tag the replacement.
    AnnounceRetired {
        old_group: String,
    },
    /// Count the failure and set the back-off on the old group.
    RecordFailedReplacement {
        replacement: String,
        status: String,
        attempt: u32,
        retry_after: String,
    },
    DeleteFailedReplacement {
        replacement: String,
    },
    /// Untag the old group's link to a replacement that is gone.
    Unlink,
    RecordLocation {
        location: LocationSpec,
    },
    RemoveLocation {
        location: String,
    },
    AddLocation {
        location: LocationSpec,
    },
    ForgetLocation {
        location: String,
    },
}

impl StepKind for Step {}

/// What one run saw of one group.
#[derive(Debug, Clone)]
pub struct Observed {
    /// With details (locations) and its tags.
    pub group: StreamGroup,
    /// The group its `watchdog:replacement` tag names, if that tag is set.
    pub replacement: Option<Replacement>,
    /// Its sessions, read once the cut-over is announced.
    pub sessions: Vec<StreamSession>,
    /// Whether the group its `watchdog:replaces` tag names still exists (and is not deleting).
    pub predecessor_alive: bool,
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
    // A failed primary location cannot be removed: only a new group mends it.
    if group.status == StreamGroupStatus::ActiveWithErrors && group.primary_location_failed() {
        reasons.push(FindingKind::ActiveWithErrors);
    }
    reasons
}

/// When the old group may be deleted: once the grace period after the cut-over is over and
/// no session holds capacity on it, or, with players still on, once its expiry is so close
/// (`expiry_guard`) that waiting longer would cost the streams anyway.
pub fn retirement(
    old: &StreamGroup,
    cutover_at: DateTime<Utc>,
    sessions: &[StreamSession],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Retirement {
    let retire_at = cutover_at + settings.grace;
    if now < retire_at {
        return Retirement::Grace(retire_at);
    }
    let live = sessions.iter().filter(|s| s.status.holds_capacity()).count();
    let expiry_near = old.expires_at.is_some_and(|e| now >= e - settings.expiry_guard);
    match (live, expiry_near) {
        (0, _) => Retirement::Now { live: 0, reason: "grace period over and no session is streaming".into() },
        (live, true) => Retirement::Now {
            live,
            reason: format!("grace period over and expiry is near ({live} session(s) will end)"),
        },
        (live, false) => Retirement::Players(live),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Retirement {
    /// Still in the grace period, until this instant.
    Grace(DateTime<Utc>),
    /// Players are still on.
    Players(usize),
    Now {
        live: usize,
        reason: String,
    },
}

/// The request that rebuilds `group`: its class, description, default application, every
/// location with its capacity, its user tags (not the watchdog's state), and a client token
/// derived from the group and the attempt, so a retried create returns the same group.
pub fn create_request(group: &StreamGroup, attempt: u32, settings: &Settings) -> CreateGroupRequest {
    let mut tags: Tags = group
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:") && !state::is_watchdog_state(k, &settings.alert_tag_prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert(state::REPLACES.into(), group.id.clone());
    tags.insert(state::MANAGED_BY.into(), "gls-watchdog-recycler".into());
    let mut locations: Vec<LocationSpec> =
        group.locations.iter().map(|l| location_spec(&l.name, &l.capacity)).collect();
    // The primary location first, as the service lists it.
    locations.sort_by_key(|l| !group.is_primary_location(&l.name));
    CreateGroupRequest {
        description: group.description.clone().unwrap_or_else(|| format!("replacement for {}", group.id)),
        stream_class: group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default(),
        default_application: group.default_application.as_ref().and_then(|a| a.arn.clone()),
        locations,
        tags,
        client_token: format!("gls-watchdog-recycle-{}-attempt-{attempt:04}", group.id),
    }
}

fn epoch(tags: &Tags, key: &str) -> Option<DateTime<Utc>> {
    tags.get(key).and_then(|v| v.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0))
}

/// What the recycler decides for one group.
#[derive(Debug, Default)]
pub struct Decision {
    pub items: Vec<PlanItem<Step>>,
    pub notes: Vec<Note>,
    /// A new recreation, admitted only while fewer than the limit are in flight.
    pub start: Option<PlanItem<Step>>,
    /// Whether a recreation of this group is already under way.
    pub in_flight: bool,
}

/// Builds the plan items of one group, with the effect of each step.
struct Steps<'a> {
    group: &'a StreamGroup,
    now: DateTime<Utc>,
}

impl Steps<'_> {
    fn item(&self, step: Step, reason: String, effect: Effect, done: String) -> PlanItem<Step> {
        PlanItem {
            stream_group: self.group.id.clone(),
            stream_group_arn: self.group.arn.clone(),
            region: self.group.region().unwrap_or_default().to_owned(),
            action: step,
            reason,
            sequence: self.group.id.clone(),
            batch: None,
            effect,
            done,
        }
    }

    fn epoch(&self) -> String {
        self.now.timestamp().to_string()
    }

    fn create(&self, request: CreateGroupRequest, reason: String) -> PlanItem<Step> {
        let g = self.group;
        let effect = Effect {
            before: None,
            call: Call::CreateStreamGroup(request.clone()),
            after: Some(TagWrite::set(&g.arn, Tags::from([(state::REPLACEMENT.into(), CREATED_GROUP_ID.into())]))),
        };
        let done = format!("created {CREATED_GROUP_ID} to replace {}", g.id);
        self.item(Step::CreateReplacement { spec: request }, reason, effect, done)
    }

    fn associate(&self, replacement: &StreamGroup, applications: Vec<String>) -> PlanItem<Step> {
        let effect = Effect::call(Call::AssociateApplications {
            group_id: replacement.id.clone(),
            applications: applications.clone(),
        });
        let done = format!("associated {} application(s) with {}", applications.len(), replacement.id);
        let step = Step::AssociateApplications { replacement: replacement.id.clone(), applications };
        self.item(step, format!("replacement {} is ACTIVE", replacement.id), effect, done)
    }

    fn announce_cutover(&self, replacement: &StreamGroup) -> PlanItem<Step> {
        let g = self.group;
        let body = json!({
            "type": "cutover",
            "old": { "id": g.id, "arn": g.arn },
            "new": { "id": replacement.id, "arn": replacement.arn },
            "message": format!(
                "Start new sessions on {} ({}); {} is retired after the grace period.",
                replacement.id, replacement.arn, g.id
            ),
        });
        let subject = format!("cut over {} -> {}", g.id, replacement.id);
        let attributes = [("type", "cutover"), ("action", "announce_cutover"), ("stream_group", g.id.as_str())];
        let message = Message::announcement(&subject, &body, &attributes);
        let effect = Effect {
            before: None,
            call: Call::Announce(message),
            after: Some(TagWrite::set(&g.arn, Tags::from([(state::CUTOVER_AT.into(), self.epoch())]))),
        };
        let step =
            Step::AnnounceCutover { replacement: replacement.id.clone(), replacement_arn: replacement.arn.clone() };
        let reason = format!("replacement {} is ACTIVE with every application", replacement.id);
        self.item(step, reason, effect, format!("announced the cut-over {} -> {}", g.id, replacement.id))
    }

    fn delete_old(&self, replacement: &StreamGroup, live: usize, reason: String) -> PlanItem<Step> {
        let g = self.group;
        let effect = Effect::call(Call::DeleteStreamGroup { group_id: g.id.clone() });
        let done = format!("deleted {}, replaced by {} ({live} live session(s) ended)", g.id, replacement.id);
        self.item(
            Step::DeleteOldGroup { replacement: replacement.id.clone(), live_sessions: live },
            reason,
            effect,
            done,
        )
    }

    fn record_failed(
        &self,
        replacement: &StreamGroup,
        attempt: u32,
        retry_after: DateTime<Utc>,
        why: String,
    ) -> PlanItem<Step> {
        let tags = Tags::from([
            (state::ATTEMPT.into(), attempt.to_string()),
            (state::RETRY_AFTER.into(), retry_after.timestamp().to_string()),
            (state::FAILED.into(), replacement.id.clone()),
        ]);
        let step = Step::RecordFailedReplacement {
            replacement: replacement.id.clone(),
            status: replacement.status.to_string(),
            attempt,
            retry_after: retry_after.to_rfc3339(),
        };
        let done = format!(
            "replacement {} failed ({}); attempt {attempt}, next try after {}",
            replacement.id,
            replacement.status,
            retry_after.to_rfc3339()
        );
        self.item(step, why, Effect::tags(TagWrite::set(&self.group.arn, tags)), done)
    }

    fn delete_failed(&self, replacement: &StreamGroup, why: String) -> PlanItem<Step> {
        let effect = Effect::call(Call::DeleteStreamGroup { group_id: replacement.id.clone() });
        let done = format!("deleted the failed replacement {}", replacement.id);
        self.item(Step::DeleteFailedReplacement { replacement: replacement.id.clone() }, why, effect, done)
    }

    fn unlink(&self, why: String) -> PlanItem<Step> {
        let g = self.group;
        let write = TagWrite::remove(&g.arn, vec![state::REPLACEMENT.into(), state::CUTOVER_AT.into()]);
        self.item(Step::Unlink, why, Effect::tags(write), format!("{} has no replacement in flight", g.id))
    }
}

/// The retirement announcement, made on the replacement but part of the old group's sequence:
/// if the old group's delete fails, the retirement waits with it.
fn announce_retired(replacement: &StreamGroup, old_group: &str, now: DateTime<Utc>, reason: String) -> PlanItem<Step> {
    let body = json!({ "type": "retired", "old": { "id": old_group }, "new": { "id": replacement.id, "arn": replacement.arn } });
    let subject = format!("retired {old_group}, replaced by {}", replacement.id);
    let attributes = [("type", "retired"), ("action", "announce_retired"), ("stream_group", replacement.id.as_str())];
    let message = Message::announcement(&subject, &body, &attributes);
    PlanItem {
        stream_group: replacement.id.clone(),
        stream_group_arn: replacement.arn.clone(),
        region: replacement.region().unwrap_or_default().to_owned(),
        action: Step::AnnounceRetired { old_group: old_group.to_owned() },
        reason,
        sequence: old_group.to_owned(),
        batch: None,
        effect: Effect {
            before: None,
            call: Call::AnnounceIfConfigured(message),
            after: Some(TagWrite::set(
                &replacement.arn,
                Tags::from([(state::RETIRED.into(), now.timestamp().to_string())]),
            )),
        },
        done: format!("announced that {old_group} is retired"),
    }
}

/// The next steps for one observed group.
pub fn decide(o: &Observed, now: DateTime<Utc>, settings: &Settings) -> Decision {
    let g = &o.group;
    let mut decision = Decision { in_flight: g.tags.contains_key(state::REPLACEMENT), ..Decision::default() };
    let note = |text: String| Note { stream_group: g.id.clone(), note: text };
    let steps = Steps { group: g, now };

    // A replacement whose predecessor is gone or going: announce the retirement once. A
    // replacement in flight is driven through its old group, never on its own.
    if let Some(old) = g.tags.get(state::REPLACES) {
        if !g.tags.contains_key(state::RETIRED) && !o.predecessor_alive {
            decision.items.push(announce_retired(g, old, now, format!("{old}, which this group replaced, is deleted")));
        }
        return decision;
    }

    match eligibility(g, settings) {
        Eligibility::CloudFormation(stack) => {
            if !recreation_reasons(g, now, &settings.policy).is_empty()
                || g.status == StreamGroupStatus::ActiveWithErrors
            {
                decision.notes.push(note(format!(
                    "managed by CloudFormation stack {stack}: left alone; replace the stream group through the stack (change a property that forces replacement, or add a new resource and remove the old one)"
                )));
            }
            return decision;
        }
        Eligibility::OptedOut => {
            decision.notes.push(note(format!("opted out ({}=false)", settings.opt_in_tag)));
            return decision;
        }
        Eligibility::NotOptedIn => return decision,
        Eligibility::OptedIn => {}
    }
    if g.status == StreamGroupStatus::Deleting {
        return decision;
    }

    let attempt: u32 = g.tags.get(state::ATTEMPT).and_then(|v| v.parse().ok()).unwrap_or(0);
    let Some(replacement) = &o.replacement else {
        let reasons = recreation_reasons(g, now, &settings.policy);
        if reasons.is_empty() {
            let repairing = g.tags.keys().any(|k| k.starts_with(state::REPAIR_PREFIX));
            if settings.repair_locations && (g.status == StreamGroupStatus::ActiveWithErrors || repairing) {
                repair(g, &steps, &mut decision);
            }
            return decision;
        }
        let reasons: Vec<&str> = reasons.iter().map(|k| k.as_str()).collect();
        if let Some(retry_after) = epoch(&g.tags, state::RETRY_AFTER).filter(|t| *t > now) {
            decision.notes.push(note(format!(
                "due ({}) but {attempt} replacement(s) failed; next try after {}",
                reasons.join(", "),
                retry_after.to_rfc3339()
            )));
            return decision;
        }
        decision.start = Some(steps.create(create_request(g, attempt + 1, settings), reasons.join(", ")));
        return decision;
    };

    let replacement = match replacement {
        Replacement::Missing(id) => {
            decision.items.push(steps.unlink(format!("replacement {id} no longer exists")));
            return decision;
        }
        Replacement::Found(r) => r,
    };
    match replacement.status {
        StreamGroupStatus::Error | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::Expired => {
            let why = format!(
                "replacement {} is {}{}; the old group keeps serving",
                replacement.id,
                replacement.status,
                replacement.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            );
            if g.tags.get(state::FAILED) != Some(&replacement.id) {
                let backoff = settings.retry_backoff * 2i32.saturating_pow(attempt.min(10));
                decision.items.push(steps.record_failed(replacement, attempt + 1, now + backoff, why.clone()));
            }
            decision.items.push(steps.delete_failed(replacement, why.clone()));
            decision.items.push(steps.unlink(why));
        }
        StreamGroupStatus::Deleting => {
            decision.items.push(steps.unlink(format!("replacement {} is being deleted", replacement.id)));
        }
        StreamGroupStatus::Active => {
            let missing: Vec<String> = g
                .associated_applications
                .iter()
                .filter(|a| !replacement.associated_applications.contains(a))
                .cloned()
                .collect();
            if !missing.is_empty() {
                decision.items.push(steps.associate(replacement, missing));
                return decision;
            }
            let Some(cutover_at) = epoch(&g.tags, state::CUTOVER_AT) else {
                decision.items.push(steps.announce_cutover(replacement));
                return decision;
            };
            match retirement(g, cutover_at, &o.sessions, now, settings) {
                Retirement::Grace(until) => decision
                    .notes
                    .push(note(format!("cut over; retiring after the grace period, at {}", until.to_rfc3339()))),
                Retirement::Players(live) => decision.notes.push(note(format!(
                    "{live} session(s) still connected, active or reconnecting; retiring when they end"
                ))),
                Retirement::Now { live, reason } => {
                    decision.items.push(steps.delete_old(replacement, live, reason));
                    decision.items.push(announce_retired(replacement, &g.id, now, format!("{} is deleted", g.id)));
                }
            }
        }
        _ => decision.notes.push(note(format!("replacement {} is {}; waiting", replacement.id, replacement.status))),
    }
    decision
}

/// The next steps for every observed group: each group's decision, with new recreations
/// admitted in order while fewer than `max_groups_in_flight` are under way.
pub fn plan(observed: &[Observed], now: DateTime<Utc>, settings: &Settings) -> Plan<Step> {
    let decisions: Vec<Decision> = observed.iter().map(|o| decide(o, now, settings)).collect();
    let mut in_flight = decisions.iter().filter(|d| d.in_flight).count();
    let mut plan = Plan::default();
    for decision in decisions {
        plan.items.extend(decision.items);
        plan.notes.extend(decision.notes);
        if let Some(start) = decision.start {
            if in_flight < settings.max_groups_in_flight {
                in_flight += 1;
                plan.items.push(start);
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

/// Failed remote locations: remember their capacity, remove them, add them back, forget.
fn repair(g: &StreamGroup, steps: &Steps<'_>, decision: &mut Decision) {
    let note = |text: String| Note { stream_group: g.id.clone(), note: text };
    let changeable = matches!(g.status, StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors);
    for location in &g.locations {
        let recorded = g.tags.get(&repair_key(&location.name));
        match location.status {
            LocationStatus::Error if g.is_primary_location(&location.name) => {}
            LocationStatus::Error => {
                if recorded.is_none() {
                    let spec = location_spec(&location.name, &location.capacity);
                    let write = TagWrite::set(&g.arn, Tags::from([(repair_key(&spec.name), encode_location(&spec))]));
                    let done = format!("recorded the capacity of {} ({})", spec.name, encode_location(&spec));
                    decision.items.push(steps.item(
                        Step::RecordLocation { location: spec },
                        format!("location {} is in ERROR", location.name),
                        Effect::tags(write),
                        done,
                    ));
                }
                if changeable {
                    let call = Call::RemoveLocation { group_id: g.id.clone(), location: location.name.clone() };
                    decision.items.push(steps.item(
                        Step::RemoveLocation { location: location.name.clone() },
                        format!("location {} is in ERROR; it is added back once removed", location.name),
                        Effect::call(call),
                        format!("removed the failed location {}", location.name),
                    ));
                }
            }
            LocationStatus::Activating | LocationStatus::Active if recorded.is_some() => {
                let write = TagWrite::remove(&g.arn, vec![repair_key(&location.name)]);
                decision.items.push(steps.item(
                    Step::ForgetLocation { location: location.name.clone() },
                    format!("location {} is back", location.name),
                    Effect::tags(write),
                    format!("location {} is repaired", location.name),
                ));
            }
            _ => {}
        }
    }
    for (key, value) in &g.tags {
        let Some(name) = key.strip_prefix(state::REPAIR_PREFIX) else { continue };
        if g.location(name).is_some() {
            continue;
        }
        match decode_location(name, value) {
            Some(spec) if changeable => {
                let done = format!("added {} back ({})", spec.name, encode_location(&spec));
                let call = Call::AddLocation { group_id: g.id.clone(), location: spec.clone() };
                decision.items.push(steps.item(
                    Step::AddLocation { location: spec },
                    format!("location {name} was removed to repair it; adding it back with its recorded capacity"),
                    Effect::call(call),
                    done,
                ));
            }
            Some(_) => {
                decision.notes.push(note(format!("location {name} removed; adding it back once the group is ACTIVE")))
            }
            None => decision.notes.push(note(format!("tag {key}={value:?} is not a capacity record; left alone"))),
        }
    }
}

#[cfg(test)]
mod tests;
