//! The recycler's reconciler, free of I/O: one observed group in, one decision out
//! ([`decide`]), then [`plan`] admits new recreations up to the in-flight limit. Every step's
//! precondition is observable and every step carries its whole effect (its call, the tags
//! that record it, the record of its failure), and all state lives in tags on the groups
//! (`watchdog_core::tags::recycle`), so a run that dies anywhere is finished by the next one.
//! State is kept on the old group, or on the replacement when the old group is EXPIRED and
//! takes no writes. The plan is what dry runs return and tests assert on.

use crate::carry::{self, create_request, user_tag_room};
use crate::cutover::{self, CutoverNotice, Retirement};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use watchdog_core::findings::FindingKind;
use watchdog_core::opt_in::{self, Eligibility};
use watchdog_core::ports::{CreateGroupRequest, LocationSpec, Message, Tags, Write};
use watchdog_core::reconcile::{
    Blocked, CREATED_GROUP_ID, Call, Effect, FAILURE_KIND, Note, Plan, Step, StepKind, TagWrite,
};
use watchdog_core::rules::{self, Policy};
use watchdog_core::tags::recycle as state;
use watchdog_core::{Application, ApplicationStatus, StreamGroup, StreamGroupStatus, StreamSession, StreamUrl};

mod repair;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub opt_in_tag: String,
    pub manage_all_groups: bool,
    /// How long the old group keeps serving after the cut-over announcement.
    pub grace: Duration,
    /// Retire the old group regardless of sessions and stream URLs this close to its expiry.
    pub expiry_guard: Duration,
    /// Wait after a failed creation, replacement or repair; doubles with every further failure.
    pub retry_backoff: Duration,
    pub max_groups_in_flight: usize,
    pub repair_locations: bool,
    /// Repairs of one location (removals) before it is escalated and left alone.
    pub max_repair_attempts: u32,
    /// How long a repaired location must stay healthy before its repair is forgotten.
    pub repair_stable: Duration,
    /// The old group is deleted only after the backend tags the replacement `watchdog:cutover-ack`.
    pub require_cutover_ack: bool,
    /// How long after the cut-over active stream URLs hold the old group back.
    pub stream_url_max_wait: Duration,
    /// The scanner's alert-memory prefix: those tags are never copied to a replacement.
    pub alert_tag_prefix: String,
    pub policy: Policy,
}

/// The recycler's steps, as reports, logs and the `action` attribute name them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecyclerStep {
    /// CreateStreamGroup, then tag the old group with the new id (when it takes writes).
    CreateReplacement {
        spec: CreateGroupRequest,
    },
    AssociateApplications {
        replacement: String,
        applications: Vec<String>,
    },
    /// The old group's default application, READY again, back as the replacement's default
    /// (it started with a READY stand-in).
    RestoreDefaultApplication {
        replacement: String,
        application: String,
    },
    /// Publish the cut-over, then record its time.
    AnnounceCutover {
        replacement: String,
        replacement_arn: String,
        stream_urls: Vec<String>,
        vpc_locations: Vec<String>,
        missing_applications: Vec<String>,
    },
    DeleteOldGroup {
        replacement: String,
        live_sessions: usize,
    },
    /// Publish the retirement, then tag the replacement.
    AnnounceRetired {
        old_group: String,
    },
    /// Count the failure and set the back-off.
    RecordFailedReplacement {
        replacement: String,
        status: String,
        attempt: u32,
        retry_after: String,
    },
    DeleteFailedReplacement {
        replacement: String,
    },
    /// Another group that says it replaces this one (an earlier attempt): deleted.
    DeleteExtraReplacement {
        replacement: String,
    },
    /// Untag the old group's link to a replacement that is gone.
    Unlink,
    /// Record (and announce) why the recreation or a repair cannot go on.
    RecordBlocked {
        reasons: String,
    },
    ClearBlocked,
    /// Record the failed location's settings, then remove it.
    RemoveLocation {
        location: String,
        attempt: u32,
    },
    AddLocation {
        location: LocationSpec,
    },
    ForgetLocation {
        location: String,
    },
}

impl StepKind for RecyclerStep {}

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
    // A failed primary location cannot be removed: only a new group mends it.
    if group.status == StreamGroupStatus::ActiveWithErrors && group.primary_location_failed() {
        reasons.push(FindingKind::ActiveWithErrors);
    }
    reasons
}

/// The back-off after the `failures`-th failure: the base, doubled for every earlier one.
pub fn backoff(settings: &Settings, failures: u32) -> Duration {
    settings.retry_backoff * 2i32.saturating_pow(failures.saturating_sub(1).min(10))
}

fn epoch(tags: &Tags, key: &str) -> Option<DateTime<Utc>> {
    tags.get(key).and_then(|v| v.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0))
}

fn count(tags: &Tags, key: &str) -> u32 {
    tags.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
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

/// Builds the plan items of one group, with the effect of each step.
pub(crate) struct Steps<'a> {
    pub group: &'a StreamGroup,
    pub now: DateTime<Utc>,
    /// Where this recreation keeps its state: the old group, or the replacement when the old
    /// group is EXPIRED (`None`: an expired group with no replacement yet, no state kept).
    pub home: Option<&'a StreamGroup>,
}

impl Steps<'_> {
    pub fn item(&self, step: RecyclerStep, reason: String, effect: Effect, done: String) -> Step<RecyclerStep> {
        Step {
            stream_group: self.group.id.clone(),
            stream_group_arn: self.group.arn.clone(),
            region: self.group.region().unwrap_or_default().to_owned(),
            kind: step,
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

    /// Tags on the state's home, if there is one.
    fn record(&self, tags: Tags) -> Option<TagWrite> {
        self.home.map(|home| TagWrite::set(&home.arn, tags))
    }

    fn create(
        &self,
        request: CreateGroupRequest,
        attempt: u32,
        backoff: Duration,
        reason: String,
    ) -> Step<RecyclerStep> {
        let g = self.group;
        let writable = g.status != StreamGroupStatus::Expired;
        // An EXPIRED group is linked only by the replacement's own `watchdog:replaces` tag.
        let after =
            writable.then(|| TagWrite::set(&g.arn, Tags::from([(state::REPLACEMENT.into(), CREATED_GROUP_ID.into())])));
        // A refused create is counted and backed off on the old group (nowhere when expired:
        // the next run tries again).
        let on_failure = writable.then(|| {
            TagWrite::set(
                &g.arn,
                Tags::from([
                    (state::ATTEMPT.into(), attempt.to_string()),
                    (state::RETRY_AFTER.into(), (self.now + backoff).timestamp().to_string()),
                    (state::BLOCKED.into(), FAILURE_KIND.into()),
                ]),
            )
        });
        let effect =
            Effect { before: None, call: Call::Write(Write::CreateStreamGroup(request.clone())), after, on_failure };
        let done = format!("created {CREATED_GROUP_ID} to replace {}", g.id);
        self.item(RecyclerStep::CreateReplacement { spec: request }, reason, effect, done)
    }

    fn associate(&self, replacement: &StreamGroup, applications: Vec<String>) -> Step<RecyclerStep> {
        let effect = Effect::call(Write::AssociateApplications {
            group_id: replacement.id.clone(),
            applications: applications.clone(),
        });
        let done = format!("associated {} application(s) with {}", applications.len(), replacement.id);
        let step = RecyclerStep::AssociateApplications { replacement: replacement.id.clone(), applications };
        self.item(step, format!("replacement {} is ACTIVE", replacement.id), effect, done)
    }

    fn announce_cutover(&self, notice: &CutoverNotice<'_>, reason: String) -> Step<RecyclerStep> {
        let (g, replacement) = (self.group, notice.replacement);
        let body = notice.body();
        let subject = format!("cut over {} -> {}", g.id, replacement.id);
        let attributes = [("type", "cutover"), ("action", "announce_cutover"), ("stream_group", g.id.as_str())];
        let message = Message::announcement(&subject, &body, &attributes);
        let effect = Effect {
            before: None,
            call: Call::Announce(message),
            after: self.record(Tags::from([(state::CUTOVER_AT.into(), self.epoch())])),
            on_failure: None,
        };
        let step = RecyclerStep::AnnounceCutover {
            replacement: replacement.id.clone(),
            replacement_arn: replacement.arn.clone(),
            stream_urls: notice.stream_urls.iter().map(|u| u.id.clone()).collect(),
            vpc_locations: replacement
                .locations
                .iter()
                .filter(|l| l.vpc_transit.is_some())
                .map(|l| l.name.clone())
                .collect(),
            missing_applications: notice.missing_applications.clone(),
        };
        self.item(step, reason, effect, format!("announced the cut-over {} -> {}", g.id, replacement.id))
    }

    fn delete_old(&self, replacement: &StreamGroup, live: usize, reason: String) -> Step<RecyclerStep> {
        let g = self.group;
        let effect = Effect::call(Write::DeleteStreamGroup { group_id: g.id.clone() });
        let done = format!("deleted {}, replaced by {} ({live} live session(s) ended)", g.id, replacement.id);
        self.item(
            RecyclerStep::DeleteOldGroup { replacement: replacement.id.clone(), live_sessions: live },
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
    ) -> Step<RecyclerStep> {
        let mut tags = Tags::from([
            (state::ATTEMPT.into(), attempt.to_string()),
            (state::RETRY_AFTER.into(), retry_after.timestamp().to_string()),
            (state::BLOCKED.into(), "failed_replacement".into()),
        ]);
        if self.group.status != StreamGroupStatus::Expired {
            tags.insert(state::FAILED.into(), replacement.id.clone());
        }
        let step = RecyclerStep::RecordFailedReplacement {
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
        // On the old group, or, when it is EXPIRED, on the failed replacement (the home then).
        let home = self.home.map_or(&replacement.arn, |h| &h.arn);
        self.item(step, why, Effect::tags(TagWrite::set(home, tags)), done)
    }

    fn delete_group(&self, step: RecyclerStep, victim: &StreamGroup, why: String, done: String) -> Step<RecyclerStep> {
        let effect = Effect::call(Write::DeleteStreamGroup { group_id: victim.id.clone() });
        self.item(step, why, effect, done)
    }

    fn unlink(&self, why: String) -> Step<RecyclerStep> {
        let g = self.group;
        let write = TagWrite::remove(&g.arn, vec![state::REPLACEMENT.into(), state::CUTOVER_AT.into()]);
        self.item(RecyclerStep::Unlink, why, Effect::tags(write), format!("{} has no replacement in flight", g.id))
    }

    /// Records the blocked reasons where the state lives, announced once per change.
    fn blocked_record(&self, blocked: &[Blocked], planned_create: bool) -> Option<Step<RecyclerStep>> {
        let home = self.home?;
        let reasons: BTreeSet<&str> = blocked.iter().map(|b| b.reason.as_str()).collect();
        let reasons = reasons.into_iter().collect::<Vec<_>>().join(",");
        let recorded = home.tags.get(state::BLOCKED);
        if reasons.is_empty() {
            // A refused create keeps its reason until a create succeeds.
            if recorded.is_none() || planned_create {
                return None;
            }
            let write = TagWrite::remove(&home.arn, vec![state::BLOCKED.into()]);
            let done = format!("{} is no longer blocked", self.group.id);
            return Some(self.item(RecyclerStep::ClearBlocked, "nothing blocks it".into(), Effect::tags(write), done));
        }
        if recorded == Some(&reasons) {
            return None;
        }
        let details: Vec<String> = blocked.iter().map(|b| format!("{}: {}", b.reason, b.detail)).collect();
        let write = TagWrite::set(&home.arn, Tags::from([(state::BLOCKED.into(), reasons.clone())]));
        let done = format!("{} is blocked: {}", self.group.id, details.join("; "));
        Some(self.item(RecyclerStep::RecordBlocked { reasons }, details.join("; "), Effect::tags(write), done))
    }
}

/// The retirement announcement, made on the replacement but part of the old group's sequence:
/// if the old group's delete fails, the retirement waits with it.
fn announce_retired(
    replacement: &StreamGroup,
    old_group: &str,
    now: DateTime<Utc>,
    reason: String,
) -> Step<RecyclerStep> {
    let body = json!({ "type": "retired", "old": { "id": old_group }, "new": { "id": replacement.id, "arn": replacement.arn } });
    let subject = format!("retired {old_group}, replaced by {}", replacement.id);
    let attributes = [("type", "retired"), ("action", "announce_retired"), ("stream_group", replacement.id.as_str())];
    let message = Message::announcement(&subject, &body, &attributes);
    Step {
        stream_group: replacement.id.clone(),
        stream_group_arn: replacement.arn.clone(),
        region: replacement.region().unwrap_or_default().to_owned(),
        kind: RecyclerStep::AnnounceRetired { old_group: old_group.to_owned() },
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
            on_failure: None,
        },
        done: format!("announced that {old_group} is retired"),
    }
}

/// Applications as the recycler judges them for a recreation.
struct Readiness<'a> {
    observed: &'a Observed,
}

impl Readiness<'_> {
    fn status(&self, arn: &str) -> Option<&Application> {
        self.observed.applications.get(arn)
    }

    fn ready(&self, arn: &str) -> bool {
        self.status(arn).is_some_and(|a| a.status == ApplicationStatus::Ready)
    }

    fn why_not(&self, arn: &str) -> String {
        match self.status(arn) {
            Some(a) => format!(
                "{} is {}{}",
                a.id,
                a.status,
                a.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            None => format!("{arn} was not read"),
        }
    }

    /// The default for the replacement: the old default when READY, else the first READY
    /// associated application; `Err` names why none can be.
    fn default_application(&self) -> Result<Option<String>, String> {
        let g = &self.observed.group;
        let Some(default) = g.default_application.as_ref().and_then(|d| d.arn.clone()) else {
            return Ok(None);
        };
        if self.ready(&default) {
            return Ok(Some(default));
        }
        let mut associated: Vec<&String> = g.associated_applications.iter().filter(|a| self.ready(a)).collect();
        associated.sort();
        match associated.first() {
            Some(fallback) => Ok(Some((*fallback).clone())),
            None => Err(format!("no READY application to be the default: {}", self.why_not(&default))),
        }
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
        // stack's, and the service will not give them. A person naming it decides.
        if !o.named {
            decision.block(
                g,
                "expired_tags_unreadable",
                "EXPIRED, and the service returns no tags for an expired group, so its opt-in, opt-out and \
                 owner are unknown; recreate it by naming it in a run ({\"stream_groups\": [\"ID\"]}) or by hand"
                    .to_owned(),
            );
            return decision;
        }
        decision.note(
            g,
            "EXPIRED with unreadable tags; recreated because the run names it (its tags cannot be copied)".into(),
        );
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
    let steps = Steps { group: g, now, home: if expired { found } else { Some(g) } };

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
        None => start_recreation(o, &steps, now, settings, &mut decision),
        Some(Replacement::Missing(id)) => {
            decision.items.push(steps.unlink(format!("replacement {id} no longer exists")));
            false
        }
        Some(Replacement::Found(replacement)) => {
            drive_replacement(o, replacement, &steps, now, settings, &mut decision)
        }
    };
    if let Some(item) = steps.blocked_record(&decision.blocked, planned_create) {
        decision.items.push(item);
    }
    decision
}

/// No replacement yet: repair failed locations, or start a recreation when one is due and
/// nothing blocks it. Returns whether a create is planned.
fn start_recreation(
    o: &Observed,
    steps: &Steps<'_>,
    now: DateTime<Utc>,
    settings: &Settings,
    d: &mut Decision,
) -> bool {
    let g = &o.group;
    let reasons = recreation_reasons(g, now, &settings.policy);
    if reasons.is_empty() {
        let repairing = g.tags.keys().any(|k| k.starts_with(state::REPAIR_PREFIX));
        if settings.repair_locations && (g.status == StreamGroupStatus::ActiveWithErrors || repairing) {
            repair::repair(g, steps, settings, d);
        }
        return false;
    }
    let reasons = reasons.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    let failures = count(&g.tags, state::ATTEMPT);
    if let Some(retry_after) = epoch(&g.tags, state::RETRY_AFTER).filter(|t| *t > now) {
        let kind = g.tags.get(state::BLOCKED).cloned().unwrap_or_else(|| "failed_replacement".into());
        d.block(
            g,
            &kind,
            format!(
                "due ({reasons}) but {failures} attempt(s) failed ({kind}); next try after {}",
                retry_after.to_rfc3339()
            ),
        );
        return false;
    }
    let user_tags = carry::user_tags(g, settings).len();
    if user_tags > user_tag_room() {
        d.block(
            g,
            "tag_limit",
            format!(
                "due ({reasons}) but it has {user_tags} user tags; a replacement holds {} of them next to the recycler's own (50 in all): remove {} tag(s)",
                user_tag_room(),
                user_tags - user_tag_room()
            ),
        );
        return false;
    }
    let readiness = Readiness { observed: o };
    let default = match readiness.default_application() {
        Ok(default) => default,
        Err(why) => {
            d.block(g, "application_not_ready", format!("due ({reasons}) but {why}"));
            return false;
        }
    };
    let old_default = g.default_application.as_ref().and_then(|a| a.arn.clone());
    if default != old_default {
        d.note(
            g,
            format!(
                "the default application {} is not READY ({}); the replacement starts with {} as its default",
                old_default.as_deref().unwrap_or("-"),
                readiness.why_not(old_default.as_deref().unwrap_or("-")),
                default.as_deref().unwrap_or("none")
            ),
        );
    }
    let attempt = failures + 1;
    let request = create_request(g, default, attempt, settings);
    d.start = Some(steps.create(request, attempt, backoff(settings, attempt), reasons));
    true
}

/// A replacement exists: associate, announce the cut-over, retire, or clean up a failure.
/// Returns whether a create is planned (a new attempt for an EXPIRED group).
fn drive_replacement(
    o: &Observed,
    replacement: &StreamGroup,
    steps: &Steps<'_>,
    now: DateTime<Utc>,
    settings: &Settings,
    d: &mut Decision,
) -> bool {
    let g = &o.group;
    let expired = g.status == StreamGroupStatus::Expired;
    match replacement.status {
        StreamGroupStatus::Error | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::Expired => {
            let why = format!(
                "replacement {} is {}{}; {}",
                replacement.id,
                replacement.status,
                replacement.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
                if expired { "the old group is EXPIRED" } else { "the old group keeps serving" }
            );
            if expired {
                return expired_replacement_failed(o, replacement, steps, now, settings, why, d);
            }
            let attempt = count(&g.tags, state::ATTEMPT);
            if g.tags.get(state::FAILED) != Some(&replacement.id) {
                let retry_after = now + backoff(settings, attempt + 1);
                d.items.push(steps.record_failed(replacement, attempt + 1, retry_after, why.clone()));
            }
            let done = format!("deleted the failed replacement {}", replacement.id);
            d.items.push(steps.delete_group(
                RecyclerStep::DeleteFailedReplacement { replacement: replacement.id.clone() },
                replacement,
                why.clone(),
                done,
            ));
            d.items.push(steps.unlink(why));
        }
        StreamGroupStatus::Deleting if !expired => {
            d.items.push(steps.unlink(format!("replacement {} is being deleted", replacement.id)));
        }
        StreamGroupStatus::Active => active_replacement(o, replacement, steps, now, settings, d),
        _ => d.note(g, format!("replacement {} is {}; waiting", replacement.id, replacement.status)),
    }
    false
}

/// The replacement of an EXPIRED group failed: its record lives on the failed replacement
/// itself, which stays until the back-off ends; then the next attempt is created and the
/// failed one deleted (the next run deletes it if a crash comes between).
fn expired_replacement_failed(
    o: &Observed,
    failed: &StreamGroup,
    steps: &Steps<'_>,
    now: DateTime<Utc>,
    settings: &Settings,
    why: String,
    d: &mut Decision,
) -> bool {
    let g = &o.group;
    let attempt = count(&failed.tags, state::REPLACEMENT_ATTEMPT).max(1);
    let Some(retry_after) = epoch(&failed.tags, state::RETRY_AFTER) else {
        d.items.push(steps.record_failed(failed, attempt, now + backoff(settings, attempt), why));
        return false;
    };
    if retry_after > now {
        d.block(
            g,
            "failed_replacement",
            format!("{why}; attempt {attempt} failed, next try after {}", retry_after.to_rfc3339()),
        );
        return false;
    }
    let readiness = Readiness { observed: o };
    let default = match readiness.default_application() {
        Ok(default) => default,
        Err(why) => {
            d.block(g, "application_not_ready", why);
            return false;
        }
    };
    let request = create_request(g, default, attempt + 1, settings);
    d.items.push(steps.create(request, attempt + 1, backoff(settings, attempt + 1), format!("{why}; trying again")));
    let done = format!("deleted the failed replacement {}", failed.id);
    d.items.push(steps.delete_group(
        RecyclerStep::DeleteFailedReplacement { replacement: failed.id.clone() },
        failed,
        why,
        done,
    ));
    true
}

fn active_replacement(
    o: &Observed,
    replacement: &StreamGroup,
    steps: &Steps<'_>,
    now: DateTime<Utc>,
    settings: &Settings,
    d: &mut Decision,
) {
    let g = &o.group;
    let readiness = Readiness { observed: o };
    let (ready, not_ready): (Vec<String>, Vec<String>) = g
        .associated_applications
        .iter()
        .filter(|a| !replacement.associated_applications.contains(a))
        .cloned()
        .partition(|a| readiness.ready(a));
    if !ready.is_empty() {
        d.items.push(steps.associate(replacement, ready));
        return;
    }
    let ending =
        g.status == StreamGroupStatus::Expired || g.expires_at.is_some_and(|e| now >= e - settings.expiry_guard);
    let cutover_at = epoch(&steps.home.map_or_else(Tags::new, |h| h.tags.clone()), state::CUTOVER_AT);
    // The studio's default is pre-cached on always-on capacity: once READY and associated, it
    // becomes the replacement's default again, before the cut-over.
    let intended = g.default_application.as_ref().and_then(|d| d.arn.clone());
    let current = replacement.default_application.as_ref().and_then(|d| d.arn.clone());
    if let Some(intended) = intended.filter(|i| {
        cutover_at.is_none()
            && current.as_ref() != Some(i)
            && readiness.ready(i)
            && replacement.associated_applications.contains(i)
    }) {
        let effect = Effect::call(Write::SetDefaultApplication {
            group_id: replacement.id.clone(),
            application: intended.clone(),
        });
        let step = RecyclerStep::RestoreDefaultApplication {
            replacement: replacement.id.clone(),
            application: intended.clone(),
        };
        let done = format!("{intended} is the default application of {} again", replacement.id);
        d.items.push(steps.item(step, format!("{intended} is READY again"), effect, done));
        return;
    }
    if !not_ready.is_empty() && cutover_at.is_none() {
        let why: Vec<String> = not_ready.iter().map(|a| readiness.why_not(a)).collect();
        if !ending {
            d.block(
                g,
                "application_not_ready",
                format!("the cut-over to {} waits until it has every application: {}", replacement.id, why.join("; ")),
            );
            return;
        }
        d.note(g, format!("cutting over without {} as the old group expires (soon)", why.join("; ")));
    }
    let Some(cutover_at) = cutover_at else {
        let notice = CutoverNotice {
            old: g,
            replacement,
            stream_urls: cutover::active_urls(&o.stream_urls),
            missing_applications: not_ready,
            require_ack: settings.require_cutover_ack,
        };
        let reason = format!("replacement {} is ACTIVE with every READY application", replacement.id);
        d.items.push(steps.announce_cutover(&notice, reason));
        return;
    };
    match cutover::retirement(g, replacement, cutover_at, &o.sessions, &o.stream_urls, now, settings) {
        Retirement::Grace(until) => {
            d.note(g, format!("cut over; retiring after the grace period, at {}", until.to_rfc3339()))
        }
        Retirement::AwaitingAck => d.block(
            g,
            "awaiting_ack",
            format!(
                "cut over {}; the old group is deleted once the backend acknowledges: {}",
                cutover_at.to_rfc3339(),
                cutover::ack_command(replacement)
            ),
        ),
        Retirement::Players(live) => {
            d.note(g, format!("{live} session(s) still connected, active or reconnecting; retiring when they end"))
        }
        Retirement::StreamUrls(urls, until) => d.note(
            g,
            format!("{urls} stream URL(s) still active; retiring when none is, at the latest {}", until.to_rfc3339()),
        ),
        Retirement::Now { live, reason } => {
            d.items.push(steps.delete_old(replacement, live, reason));
            d.items.push(announce_retired(replacement, &g.id, now, format!("{} is deleted", g.id)));
        }
    }
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
