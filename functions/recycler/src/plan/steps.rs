//! The recycler's steps: their kinds as reports, logs and the `action` attribute name them, and
//! the builder of each for one group, with its whole effect (the tags before, the call, the
//! tags after, the failure record). A new step is a variant and a builder here.

use crate::config::Settings;
use crate::cutover::CutoverNotice;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use watchdog_core::ports::{CreateGroupRequest, LocationSpec, Message, Tags, Write};
use watchdog_core::reconcile::{Blocked, CREATED_GROUP_ID, Call, Effect, FAILURE_KIND, Step, StepKind, TagWrite};
use watchdog_core::tags::recycle as state;
use watchdog_core::{StreamGroup, StreamGroupStatus};

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

/// Builds the plan items of one group, with the effect of each step.
pub(crate) struct Steps<'a> {
    pub group: &'a StreamGroup,
    pub now: DateTime<Utc>,
    /// The settings the plan is made under.
    pub settings: &'a Settings,
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

    pub(super) fn epoch(&self) -> String {
        self.now.timestamp().to_string()
    }

    pub(super) fn create(
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

    pub(super) fn associate(&self, replacement: &StreamGroup, applications: Vec<String>) -> Step<RecyclerStep> {
        let effect = Effect::call(Write::AssociateApplications {
            group_id: replacement.id.clone(),
            applications: applications.clone(),
        });
        let done = format!("associated {} application(s) with {}", applications.len(), replacement.id);
        let step = RecyclerStep::AssociateApplications { replacement: replacement.id.clone(), applications };
        self.item(step, format!("replacement {} is ACTIVE", replacement.id), effect, done)
    }

    pub(super) fn announce_cutover(&self, notice: &CutoverNotice<'_>, reason: String) -> Step<RecyclerStep> {
        let (g, replacement) = (self.group, notice.replacement);
        let body = notice.body();
        let subject = format!("cut over {} -> {}", g.id, replacement.id);
        let attributes = [("type", "cutover"), ("action", "announce_cutover"), ("stream_group", g.id.as_str())];
        let message = Message::announcement(&subject, &body, &attributes);
        let effect = Effect {
            before: None,
            call: Call::Announce(message),
            // On the replacement, whatever becomes of the old group: one that expires while
            // the cut-over waits for its grace period or acknowledgement keeps no tags, and a
            // cut-over time read from nowhere would be announced (and timed) again.
            after: Some(TagWrite::set(&replacement.arn, Tags::from([(state::CUTOVER_AT.into(), self.epoch())]))),
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

    pub(super) fn delete_old(&self, replacement: &StreamGroup, live: usize, reason: String) -> Step<RecyclerStep> {
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

    pub(super) fn record_failed(
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

    pub(super) fn delete_group(
        &self,
        step: RecyclerStep,
        victim: &StreamGroup,
        why: String,
        done: String,
    ) -> Step<RecyclerStep> {
        let effect = Effect::call(Write::DeleteStreamGroup { group_id: victim.id.clone() });
        self.item(step, why, effect, done)
    }

    pub(super) fn delete_failed(&self, replacement: &StreamGroup, why: String) -> Step<RecyclerStep> {
        let step = RecyclerStep::DeleteFailedReplacement { replacement: replacement.id.clone() };
        let done = format!("deleted the failed replacement {}", replacement.id);
        self.delete_group(step, replacement, why, done)
    }

    pub(super) fn unlink(&self, why: String) -> Step<RecyclerStep> {
        let g = self.group;
        let write = TagWrite::remove(&g.arn, vec![state::REPLACEMENT.into(), state::CUTOVER_AT.into()]);
        self.item(RecyclerStep::Unlink, why, Effect::tags(write), format!("{} has no replacement in flight", g.id))
    }

    /// Records the blocked reasons where the state lives, announced once per change.
    pub(super) fn blocked_record(&self, blocked: &[Blocked], planned_create: bool) -> Option<Step<RecyclerStep>> {
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
pub(super) fn announce_retired(
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
