//! A group's recreation: starting one when it is due (or repairing its locations instead),
//! and driving a replacement in flight to its cut-over and retirement.

use super::steps::{Steps, announce_retired};
use super::{Decision, Observed, RecyclerStep, backoff, recreation_reasons, repair};
use crate::carry::{self, create_request, user_tag_room};
use crate::cutover::{self, CutoverNotice, Retirement};
use chrono::Duration;
use watchdog_core::ports::Write;
use watchdog_core::reconcile::Effect;
use watchdog_core::tags::recycle::{self as state, RecycleState};
use watchdog_core::{Application, ApplicationStatus, StreamGroup, StreamGroupStatus};

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

/// No replacement yet: repair failed locations, or start a recreation when one is due and
/// nothing blocks it. Returns whether a create is planned.
pub(super) fn start_recreation(o: &Observed, steps: &Steps<'_>, d: &mut Decision) -> bool {
    let (now, settings) = (steps.now, steps.settings);
    let g = &o.group;
    let reasons = recreation_reasons(g, now, &settings.policy);
    if reasons.is_empty() {
        let repairing = g.tags.keys().any(|k| k.starts_with(state::REPAIR_PREFIX));
        if settings.repair_locations && (g.status == StreamGroupStatus::ActiveWithErrors || repairing) {
            repair::repair(g, steps, d);
        }
        return false;
    }
    let reasons = reasons.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    let recorded = RecycleState::decode(&g.tags);
    let failures = recorded.attempts;
    if let Some(retry_after) = recorded.retry_after.filter(|t| *t > now) {
        let kind = recorded.blocked.unwrap_or_else(|| "failed_replacement".into());
        // A quota refusal says what to raise: the overlap's GPUs, per family and location.
        let remedy = if kind == "quota" {
            format!(" ({}: raise the GPU quota in Service Quotas, or lower capacity elsewhere)", overlap_need(g))
        } else {
            String::new()
        };
        d.block(
            g,
            &kind,
            format!(
                "due ({reasons}) but {failures} attempt(s) failed ({kind}){remedy}; next try after {}",
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
    let reason = format!("{reasons}; {}", overlap_need(g));
    d.start = Some(steps.create(request, attempt, backoff(settings, attempt), reason));
    true
}

/// The GPUs a blue/green recreation holds on top of today's until the old group is deleted:
/// the old group's always-on capacity again, per stream-class family and location, which is
/// how the account's GPU quotas are kept (AWS General Reference: "Gen4n GPUs, ap-northeast-1
/// ... The maximum number of Gen4n GPUs that you can allocate for streaming").
pub(super) fn overlap_need(g: &StreamGroup) -> String {
    let Some(class) = g.stream_class.as_ref() else {
        return "the overlap needs the group's always-on capacity again (stream class unknown)".into();
    };
    let family = class.family();
    let needs: Vec<String> = g
        .locations
        .iter()
        .map(|l| (l, class.gpus(l.capacity.always_on.unwrap_or(0))))
        .filter(|(_, gpus)| *gpus > 0)
        .map(|(l, gpus)| {
            format!("{gpus} {family} GPU(s) in {} (quota \"{} GPUs, {}\")", l.name, capitalised(family), l.name)
        })
        .collect();
    if needs.is_empty() {
        return "the overlap needs no always-on GPUs".into();
    }
    format!("the overlap needs {} more until the old group is deleted", needs.join(", "))
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A replacement exists: associate, announce the cut-over, retire, or clean up a failure.
/// Returns whether a create is planned (a new attempt for an EXPIRED group).
pub(super) fn drive_replacement(o: &Observed, replacement: &StreamGroup, steps: &Steps<'_>, d: &mut Decision) -> bool {
    let (now, settings) = (steps.now, steps.settings);
    let g = &o.group;
    let expired = g.status == StreamGroupStatus::Expired;
    // From its CreatedAt (always reported by GetStreamGroup; without it, no ceiling).
    let activating_for =
        replacement.created_at.map_or(Duration::zero(), |created| (now - created).max(Duration::zero()));
    let failed = |why: String| FailedReplacement { observed: o, replacement, why };
    match replacement.status {
        StreamGroupStatus::Error | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::Expired => {
            let why = format!(
                "replacement {} is {}{}",
                replacement.id,
                replacement.status,
                replacement.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            );
            return failed(why).clean_up(steps, d);
        }
        StreamGroupStatus::Activating if activating_for > settings.activation_timeout => {
            let why = format!(
                "replacement {} has been ACTIVATING for {} minutes, longer than ACTIVATION_TIMEOUT_MINUTES ({})",
                replacement.id,
                activating_for.num_minutes(),
                settings.activation_timeout.num_minutes()
            );
            return failed(why).clean_up(steps, d);
        }
        StreamGroupStatus::Activating => d.note(
            g,
            format!(
                "replacement {} is ACTIVATING ({} of at most {} minutes); waiting",
                replacement.id,
                activating_for.num_minutes(),
                settings.activation_timeout.num_minutes()
            ),
        ),
        StreamGroupStatus::Deleting if !expired => {
            d.items.push(steps.unlink(format!("replacement {} is being deleted", replacement.id)));
        }
        StreamGroupStatus::Active => active_replacement(o, replacement, steps, d),
        _ => d.note(g, format!("replacement {} is {}; waiting", replacement.id, replacement.status)),
    }
    false
}

/// A replacement that failed (or never activated), and why.
struct FailedReplacement<'a> {
    observed: &'a Observed,
    replacement: &'a StreamGroup,
    why: String,
}

impl FailedReplacement<'_> {
    /// Counted and backed off, deleted, unlinked. Returns whether a create is planned (an
    /// EXPIRED group's next attempt).
    fn clean_up(self, steps: &Steps<'_>, d: &mut Decision) -> bool {
        if self.observed.group.status == StreamGroupStatus::Expired {
            self.after_expiry(steps, d)
        } else {
            self.while_serving(steps, d);
            false
        }
    }

    /// The old group keeps serving: its tags count the attempt and set the back-off; the
    /// failed replacement is deleted and unlinked.
    fn while_serving(self, steps: &Steps<'_>, d: &mut Decision) {
        let (g, replacement) = (&self.observed.group, self.replacement);
        let why = format!("{}; the old group keeps serving", self.why);
        let recorded = RecycleState::decode(&g.tags);
        let attempt = recorded.attempts;
        if recorded.failed_replacement.as_ref() != Some(&replacement.id) {
            let retry_after = steps.now + backoff(steps.settings, attempt + 1);
            d.items.push(steps.record_failed(replacement, attempt + 1, retry_after, why.clone()));
        }
        d.items.push(steps.delete_failed(replacement, why.clone()));
        d.items.push(steps.unlink(why));
    }

    /// The old group is EXPIRED: the record lives on the failed replacement itself, which
    /// stays until the back-off ends; then the next attempt is created and the failed one
    /// deleted (the next run deletes it if a crash comes between). Returns whether a create
    /// is planned.
    fn after_expiry(self, steps: &Steps<'_>, d: &mut Decision) -> bool {
        let (now, settings) = (steps.now, steps.settings);
        let (o, g, failed) = (self.observed, &self.observed.group, self.replacement);
        let why = format!("{}; the old group is EXPIRED", self.why);
        let recorded = RecycleState::decode(&failed.tags);
        let attempt = recorded.replacement_attempt.unwrap_or(0).max(1);
        let Some(retry_after) = recorded.retry_after else {
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
        d.items.push(steps.create(
            request,
            attempt + 1,
            backoff(settings, attempt + 1),
            format!("{why}; trying again"),
        ));
        d.items.push(steps.delete_failed(failed, why));
        true
    }
}

fn active_replacement(o: &Observed, replacement: &StreamGroup, steps: &Steps<'_>, d: &mut Decision) {
    let (now, settings) = (steps.now, steps.settings);
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
    let cutover_at = cutover::announced_at(g, replacement);
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
