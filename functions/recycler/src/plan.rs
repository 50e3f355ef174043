//! The recycler's reconciler: a pure function from what a run observed (groups, their tags,
//! sessions, the clock and the policy) to the next steps. Every step's precondition is
//! observable, and all state lives in tags on the groups, so a run that dies anywhere is
//! finished by the next one. The plan is what dry runs return and tests assert on.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use watchdog_shared::findings::FindingKind;
use watchdog_shared::gamelift::Tags;
use watchdog_shared::rules::{self, Policy};
use watchdog_shared::{Capacity, LocationStatus, StreamGroup, StreamGroupStatus, StreamSession};

/// On the old group: the id of its replacement.
pub const TAG_REPLACEMENT: &str = "watchdog:replacement";
/// On the old group: when the cut-over was announced (epoch seconds).
pub const TAG_CUTOVER_AT: &str = "watchdog:cutover-at";
/// On the old group: replacement attempts that failed, and when to try again.
pub const TAG_ATTEMPT: &str = "watchdog:recycle-attempt";
pub const TAG_RETRY_AFTER: &str = "watchdog:retry-after";
/// On the old group: the failed replacement already counted (so a rerun counts it once).
pub const TAG_FAILED: &str = "watchdog:failed-replacement";
/// On the old group: the capacity of a failed location being repaired (`...:<location>`).
pub const TAG_REPAIR_PREFIX: &str = "watchdog:repair:";
/// On the new group: the id of the group it replaces, and when its retirement was announced.
pub const TAG_REPLACES: &str = "watchdog:replaces";
pub const TAG_RETIRED: &str = "watchdog:retired";
pub const TAG_MANAGED_BY: &str = "watchdog:managed-by";
/// CloudFormation's own tag: such groups change only through their stack.
pub use watchdog_shared::opt_in::{CFN_STACK_TAG, Eligibility};

/// Tags the recycler owns; they are not copied to a replacement.
fn is_watchdog_state(key: &str) -> bool {
    [
        TAG_REPLACEMENT,
        TAG_CUTOVER_AT,
        TAG_ATTEMPT,
        TAG_RETRY_AFTER,
        TAG_FAILED,
        TAG_REPLACES,
        TAG_RETIRED,
        TAG_MANAGED_BY,
    ]
    .contains(&key)
        || key.starts_with(TAG_REPAIR_PREFIX)
        || key.starts_with("watchdog:alert:")
}

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
    pub policy: Policy,
}

/// A location's capacity settings, as CreateStreamGroup / AddStreamGroupLocations take them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationSpec {
    pub name: String,
    pub always_on: u32,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    pub on_demand: Option<u32>,
}

impl LocationSpec {
    /// The settings to restore from what GetStreamGroup reports: the deprecated on-demand
    /// form when only on-demand capacity is set, the maximum/target-idle form otherwise
    /// (the service refuses the two together).
    pub fn from_capacity(name: &str, c: &Capacity) -> Self {
        let on_demand_only = c.on_demand.unwrap_or(0) > 0 && c.target_idle.unwrap_or(0) == 0 && c.maximum.is_none();
        Self {
            name: name.to_owned(),
            always_on: c.always_on.unwrap_or(0),
            target_idle: if on_demand_only { None } else { c.target_idle.filter(|t| *t > 0) },
            maximum: if on_demand_only { None } else { c.maximum },
            on_demand: if on_demand_only { c.on_demand } else { None },
        }
    }

    /// `ao=2;ti=1;max=4;od=` — small enough for a tag value.
    pub fn tag_value(&self) -> String {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "ao={};ti={};max={};od={}",
            self.always_on,
            opt(self.target_idle),
            opt(self.maximum),
            opt(self.on_demand)
        )
    }

    pub fn from_tag(name: &str, value: &str) -> Option<Self> {
        let fields: BTreeMap<&str, &str> = value.split(';').filter_map(|f| f.split_once('=')).collect();
        let opt = |k: &str| fields.get(k).filter(|v| !v.is_empty()).and_then(|v| v.parse().ok());
        Some(Self {
            name: name.to_owned(),
            always_on: fields.get("ao")?.parse().ok()?,
            target_idle: opt("ti"),
            maximum: opt("max"),
            on_demand: opt("od"),
        })
    }
}

/// Everything CreateStreamGroup needs to rebuild a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateSpec {
    pub description: String,
    pub stream_class: String,
    pub default_application: Option<String>,
    pub locations: Vec<LocationSpec>,
    pub tags: Tags,
    /// Derived from the old group and the attempt: a retried create returns the same group.
    pub client_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// CreateStreamGroup, then tag the old group with the new id.
    CreateReplacement {
        spec: CreateSpec,
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

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::CreateReplacement { .. } => "create_replacement",
            Step::AssociateApplications { .. } => "associate_applications",
            Step::AnnounceCutover { .. } => "announce_cutover",
            Step::DeleteOldGroup { .. } => "delete_old_group",
            Step::AnnounceRetired { .. } => "announce_retired",
            Step::RecordFailedReplacement { .. } => "record_failed_replacement",
            Step::DeleteFailedReplacement { .. } => "delete_failed_replacement",
            Step::Unlink => "unlink",
            Step::RecordLocation { .. } => "record_location",
            Step::RemoveLocation { .. } => "remove_location",
            Step::AddLocation { .. } => "add_location",
            Step::ForgetLocation { .. } => "forget_location",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    pub stream_group: String,
    pub stream_group_arn: String,
    pub region: String,
    #[serde(flatten)]
    pub step: Step,
    pub reason: String,
}

/// A group the plan leaves alone this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub stream_group: String,
    pub note: String,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    pub notes: Vec<Note>,
}

/// What one run saw of one group.
#[derive(Debug, Clone)]
pub struct Observed {
    /// With details (locations) where read, and its tags.
    pub group: StreamGroup,
    /// The group its `watchdog:replacement` tag names, if that tag is set.
    pub replacement: Option<Replacement>,
    /// Its sessions, read once the cut-over is announced.
    pub sessions: Vec<StreamSession>,
}

#[derive(Debug, Clone)]
pub enum Replacement {
    Missing(String),
    Found(Box<StreamGroup>),
}

pub fn eligibility(group: &StreamGroup, settings: &Settings) -> Eligibility {
    watchdog_shared::opt_in::eligibility(group, &settings.opt_in_tag, settings.manage_all_groups)
}

/// Why a group should be recreated now (empty: it should not).
pub fn recreation_reasons(group: &StreamGroup, now: DateTime<Utc>, policy: &Policy) -> Vec<FindingKind> {
    rules::group_findings(group, now, policy)
        .into_iter()
        .filter(|f| match f.kind {
            FindingKind::RotationDue
            | FindingKind::AssociationCutoffSoon
            | FindingKind::AssociationCutoffPassed
            | FindingKind::ExpirySoon
            | FindingKind::Expired => true,
            // A failed primary location cannot be removed: only a new group mends it.
            FindingKind::ActiveWithErrors => f.details["primary_failed"] == true,
            _ => false,
        })
        .map(|f| f.kind)
        .collect()
}

fn epoch(tags: &Tags, key: &str) -> Option<DateTime<Utc>> {
    tags.get(key).and_then(|v| v.parse::<i64>().ok()).and_then(|s| DateTime::from_timestamp(s, 0))
}

pub fn create_spec(group: &StreamGroup, attempt: u32) -> CreateSpec {
    let mut tags: Tags = group
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:") && !is_watchdog_state(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert(TAG_REPLACES.into(), group.id.clone());
    tags.insert(TAG_MANAGED_BY.into(), "gls-watchdog-recycler".into());
    let mut locations: Vec<LocationSpec> =
        group.locations.iter().map(|l| LocationSpec::from_capacity(&l.name, &l.capacity)).collect();
    // The primary location first, as the service lists it.
    locations.sort_by_key(|l| !group.is_primary_location(&l.name));
    CreateSpec {
        description: group.description.clone().unwrap_or_else(|| format!("replacement for {}", group.id)),
        stream_class: group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default(),
        default_application: group.default_application.as_ref().and_then(|a| a.arn.clone()),
        locations,
        tags,
        client_token: format!("gls-watchdog-recycle-{}-attempt-{attempt:04}", group.id),
    }
}

fn is_live(session: &StreamSession) -> bool {
    use watchdog_shared::StreamSessionStatus as S;
    matches!(session.status, S::Connected | S::Active | S::PendingClientReconnection | S::Reconnecting)
}

/// The next steps for every observed group. `all` is every group listed this run (to see
/// whether an old group still exists); `in_flight` counts recreations already under way.
pub fn plan(observed: &[Observed], all: &[StreamGroup], now: DateTime<Utc>, settings: &Settings) -> Plan {
    let mut plan = Plan::default();
    let mut in_flight = observed.iter().filter(|o| o.group.tags.contains_key(TAG_REPLACEMENT)).count();
    for o in observed {
        let g = &o.group;
        let item = |step: Step, reason: String| PlanItem {
            stream_group: g.id.clone(),
            stream_group_arn: g.arn.clone(),
            region: g.region().unwrap_or_default().to_owned(),
            step,
            reason,
        };
        let note = |text: String| Note { stream_group: g.id.clone(), note: text };

        // A replacement whose predecessor is gone or going: announce the retirement once.
        if let Some(old) = g.tags.get(TAG_REPLACES)
            && !g.tags.contains_key(TAG_RETIRED)
        {
            let old_state = all.iter().find(|x| &x.id == old).map(|x| x.status.clone());
            if matches!(old_state, None | Some(StreamGroupStatus::Deleting)) {
                plan.items.push(item(
                    Step::AnnounceRetired { old_group: old.clone() },
                    format!("{old}, which this group replaced, is deleted"),
                ));
            }
            // A replacement in flight is driven through its old group, never on its own.
            continue;
        }

        match eligibility(g, settings) {
            Eligibility::CloudFormation(stack) => {
                if !recreation_reasons(g, now, &settings.policy).is_empty()
                    || g.status == StreamGroupStatus::ActiveWithErrors
                {
                    plan.notes.push(note(format!(
                        "managed by CloudFormation stack {stack}: left alone; replace the stream group through the stack (change a property that forces replacement, or add a new resource and remove the old one)"
                    )));
                }
                continue;
            }
            Eligibility::OptedOut => {
                plan.notes.push(note(format!("opted out ({}=false)", settings.opt_in_tag)));
                continue;
            }
            Eligibility::NotOptedIn => continue,
            Eligibility::OptedIn => {}
        }
        if g.status == StreamGroupStatus::Deleting {
            continue;
        }

        let attempt: u32 = g.tags.get(TAG_ATTEMPT).and_then(|v| v.parse().ok()).unwrap_or(0);
        let Some(replacement) = &o.replacement else {
            let reasons = recreation_reasons(g, now, &settings.policy);
            if reasons.is_empty() {
                let repairing = g.tags.keys().any(|k| k.starts_with(TAG_REPAIR_PREFIX));
                if settings.repair_locations && (g.status == StreamGroupStatus::ActiveWithErrors || repairing) {
                    plan_repair(o, &mut plan, &item, &note);
                }
                continue;
            }
            let reasons: Vec<&str> = reasons.iter().map(|k| k.as_str()).collect();
            if let Some(retry_after) = epoch(&g.tags, TAG_RETRY_AFTER).filter(|t| *t > now) {
                plan.notes.push(note(format!(
                    "due ({}) but {attempt} replacement(s) failed; next try after {}",
                    reasons.join(", "),
                    retry_after.to_rfc3339()
                )));
                continue;
            }
            if in_flight >= settings.max_groups_in_flight {
                plan.notes.push(note(format!(
                    "due ({}) but {in_flight} recreation(s) already in flight (limit {})",
                    reasons.join(", "),
                    settings.max_groups_in_flight
                )));
                continue;
            }
            in_flight += 1;
            plan.items.push(item(Step::CreateReplacement { spec: create_spec(g, attempt + 1) }, reasons.join(", ")));
            continue;
        };

        let replacement = match replacement {
            Replacement::Missing(id) => {
                plan.items.push(item(Step::Unlink, format!("replacement {id} no longer exists")));
                continue;
            }
            Replacement::Found(r) => r,
        };
        match replacement.status {
            StreamGroupStatus::Activating | StreamGroupStatus::UpdatingLocations => {
                plan.notes.push(note(format!("replacement {} is {}; waiting", replacement.id, replacement.status)));
            }
            StreamGroupStatus::Error | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::Expired => {
                let why = format!(
                    "replacement {} is {}{}; the old group keeps serving",
                    replacement.id,
                    replacement.status,
                    replacement.status_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                );
                if g.tags.get(TAG_FAILED) != Some(&replacement.id) {
                    let backoff = settings.retry_backoff * 2i32.saturating_pow(attempt.min(10));
                    plan.items.push(item(
                        Step::RecordFailedReplacement {
                            replacement: replacement.id.clone(),
                            status: replacement.status.to_string(),
                            attempt: attempt + 1,
                            retry_after: (now + backoff).to_rfc3339(),
                        },
                        why.clone(),
                    ));
                }
                plan.items
                    .push(item(Step::DeleteFailedReplacement { replacement: replacement.id.clone() }, why.clone()));
                plan.items.push(item(Step::Unlink, why));
            }
            StreamGroupStatus::Deleting => {
                plan.items.push(item(Step::Unlink, format!("replacement {} is being deleted", replacement.id)));
            }
            StreamGroupStatus::Active => {
                let missing: Vec<String> = g
                    .associated_applications
                    .iter()
                    .filter(|a| !replacement.associated_applications.contains(a))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    plan.items.push(item(
                        Step::AssociateApplications { replacement: replacement.id.clone(), applications: missing },
                        format!("replacement {} is ACTIVE", replacement.id),
                    ));
                    continue;
                }
                let Some(cutover_at) = epoch(&g.tags, TAG_CUTOVER_AT) else {
                    plan.items.push(item(
                        Step::AnnounceCutover {
                            replacement: replacement.id.clone(),
                            replacement_arn: replacement.arn.clone(),
                        },
                        format!("replacement {} is ACTIVE with every application", replacement.id),
                    ));
                    continue;
                };
                let retire_at = cutover_at + settings.grace;
                if now < retire_at {
                    plan.notes.push(note(format!(
                        "cut over; retiring after the grace period, at {}",
                        retire_at.to_rfc3339()
                    )));
                    continue;
                }
                let live = o.sessions.iter().filter(|s| is_live(s)).count();
                let expiry_near = g.expires_at.is_some_and(|e| now >= e - settings.expiry_guard);
                if live > 0 && !expiry_near {
                    plan.notes.push(note(format!(
                        "{live} session(s) still connected, active or reconnecting; retiring when they end"
                    )));
                    continue;
                }
                let reason = if live > 0 {
                    format!("grace period over and expiry is near ({live} session(s) will end)")
                } else {
                    "grace period over and no session is streaming".to_owned()
                };
                plan.items.push(item(
                    Step::DeleteOldGroup { replacement: replacement.id.clone(), live_sessions: live },
                    reason,
                ));
                plan.items.push(PlanItem {
                    stream_group: replacement.id.clone(),
                    stream_group_arn: replacement.arn.clone(),
                    region: replacement.region().unwrap_or_default().to_owned(),
                    step: Step::AnnounceRetired { old_group: g.id.clone() },
                    reason: format!("{} is deleted", g.id),
                });
            }
            _ => plan.notes.push(note(format!("replacement {} is {}; waiting", replacement.id, replacement.status))),
        }
    }
    plan
}

/// Failed remote locations: remember their capacity, remove them, add them back, forget.
fn plan_repair(o: &Observed, plan: &mut Plan, item: &dyn Fn(Step, String) -> PlanItem, note: &dyn Fn(String) -> Note) {
    let g = &o.group;
    for location in &g.locations {
        let recorded = g.tags.get(&format!("{TAG_REPAIR_PREFIX}{}", location.name));
        match location.status {
            LocationStatus::Error if g.is_primary_location(&location.name) => {}
            LocationStatus::Error => {
                if recorded.is_none() {
                    plan.items.push(item(
                        Step::RecordLocation {
                            location: LocationSpec::from_capacity(&location.name, &location.capacity),
                        },
                        format!("location {} is in ERROR", location.name),
                    ));
                }
                if matches!(g.status, StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors) {
                    plan.items.push(item(
                        Step::RemoveLocation { location: location.name.clone() },
                        format!("location {} is in ERROR; it is added back once removed", location.name),
                    ));
                }
            }
            LocationStatus::Activating | LocationStatus::Active if recorded.is_some() => {
                plan.items.push(item(
                    Step::ForgetLocation { location: location.name.clone() },
                    format!("location {} is back", location.name),
                ));
            }
            _ => {}
        }
    }
    for (key, value) in &g.tags {
        let Some(name) = key.strip_prefix(TAG_REPAIR_PREFIX) else { continue };
        if g.location(name).is_some() {
            continue;
        }
        match LocationSpec::from_tag(name, value) {
            Some(spec) if matches!(g.status, StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors) => {
                plan.items.push(item(
                    Step::AddLocation { location: spec },
                    format!("location {name} was removed to repair it; adding it back with its recorded capacity"),
                ));
            }
            Some(_) => {
                plan.notes.push(note(format!("location {name} removed; adding it back once the group is ACTIVE")))
            }
            None => plan.notes.push(note(format!("tag {key}={value:?} is not a capacity record; left alone"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_records_round_trip_through_a_tag() {
        let spec = LocationSpec {
            name: "eu-west-1".into(),
            always_on: 2,
            target_idle: Some(1),
            maximum: Some(4),
            on_demand: None,
        };
        assert_eq!(spec.tag_value(), "ao=2;ti=1;max=4;od=");
        assert_eq!(LocationSpec::from_tag("eu-west-1", &spec.tag_value()), Some(spec));
        assert_eq!(LocationSpec::from_tag("x", "garbage"), None);
    }

    #[test]
    fn on_demand_only_capacity_keeps_its_deprecated_form() {
        let old = Capacity {
            always_on: Some(2),
            on_demand: Some(2),
            target_idle: Some(0),
            maximum: None,
            ..Capacity::default()
        };
        let spec = LocationSpec::from_capacity("us-west-2", &old);
        assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (Some(2), None, None));
        let new = Capacity {
            always_on: Some(2),
            on_demand: Some(0),
            target_idle: Some(1),
            maximum: Some(6),
            ..Capacity::default()
        };
        let spec = LocationSpec::from_capacity("us-west-2", &new);
        assert_eq!((spec.on_demand, spec.maximum, spec.target_idle), (None, Some(6), Some(1)));
    }
}

#[cfg(test)]
mod reconciler_tests {
    use super::*;
    use watchdog_shared::{Location, StreamClass, StreamSessionStatus};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            opt_in_tag: "watchdog:recycle".into(),
            manage_all_groups: false,
            grace: Duration::minutes(60),
            expiry_guard: Duration::hours(24),
            retry_backoff: Duration::minutes(30),
            max_groups_in_flight: 1,
            repair_locations: true,
            policy: Policy::default(),
        }
    }

    fn group(id: &str, age_days: i64, tags: &[(&str, &str)]) -> StreamGroup {
        StreamGroup {
            id: id.into(),
            arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{id}"),
            description: Some("racer".into()),
            stream_class: Some(StreamClass::parse("gen5n_high")),
            status: StreamGroupStatus::Active,
            status_reason: None,
            created_at: Some(now() - Duration::days(age_days)),
            last_updated_at: None,
            expires_at: None,
            default_application: None,
            associated_applications: vec!["arn:app/a-1".into(), "arn:app/a-2".into()],
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            locations: vec![Location {
                name: "us-west-2".into(),
                status: LocationStatus::Active,
                capacity: Capacity { always_on: Some(2), ..Capacity::default() },
            }],
        }
    }

    fn actions(plan: &Plan) -> Vec<&'static str> {
        plan.items.iter().map(|i| i.step.name()).collect()
    }

    #[test]
    fn only_opted_in_due_groups_are_recreated_and_stacks_are_never_touched() {
        let opted = group("sg-A", 29, &[("watchdog:recycle", "true")]);
        let silent = group("sg-B", 29, &[]);
        let out = group("sg-C", 29, &[("watchdog:recycle", "false")]);
        let stack = group("sg-D", 29, &[("watchdog:recycle", "true"), (CFN_STACK_TAG, "s")]);
        let young = group("sg-E", 3, &[("watchdog:recycle", "true")]);
        let observed: Vec<Observed> = [opted, silent, out, stack, young]
            .into_iter()
            .map(|group| Observed { group, replacement: None, sessions: vec![] })
            .collect();
        let plan = plan(&observed, &[], now(), &settings());
        assert_eq!(actions(&plan), ["create_replacement"]);
        assert_eq!(plan.items[0].stream_group, "sg-A");
        assert!(plan.notes.iter().any(|n| n.stream_group == "sg-D" && n.note.contains("CloudFormation")));
        assert!(plan.notes.iter().any(|n| n.stream_group == "sg-C" && n.note.contains("opted out")));
    }

    #[test]
    fn the_replacement_copies_user_tags_but_not_watchdog_state() {
        let old = group(
            "sg-A",
            29,
            &[("team", "racing"), ("watchdog:recycle", "true"), ("watchdog:alert:rotation_due", "x"), ("aws:x", "y")],
        );
        let spec = create_spec(&old, 2);
        assert_eq!(spec.client_token, "gls-watchdog-recycle-sg-A-attempt-0002");
        assert!(spec.client_token.len() >= 32);
        let keys: Vec<&str> = spec.tags.keys().map(String::as_str).collect();
        assert_eq!(keys, ["team", "watchdog:managed-by", "watchdog:recycle", "watchdog:replaces"]);
    }

    #[test]
    fn each_step_follows_what_is_observed() {
        let s = settings();
        let mut old = group("sg-A", 29, &[("watchdog:recycle", "true"), (TAG_REPLACEMENT, "sg-N")]);
        let mut new = group("sg-N", 0, &[(TAG_REPLACES, "sg-A")]);
        new.associated_applications = vec!["arn:app/a-1".into()];
        let observe = |old: &StreamGroup, new: &StreamGroup, sessions: Vec<StreamSession>| {
            vec![Observed {
                group: old.clone(),
                replacement: Some(Replacement::Found(Box::new(new.clone()))),
                sessions,
            }]
        };
        new.status = StreamGroupStatus::Activating;
        assert!(actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)).is_empty());
        new.status = StreamGroupStatus::Active;
        assert_eq!(actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)), ["associate_applications"]);
        new.associated_applications = old.associated_applications.clone();
        assert_eq!(actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)), ["announce_cutover"]);
        old.tags.insert(TAG_CUTOVER_AT.into(), (now() - Duration::minutes(59)).timestamp().to_string());
        assert!(actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)).is_empty(), "grace period");
        old.tags.insert(TAG_CUTOVER_AT.into(), (now() - Duration::minutes(61)).timestamp().to_string());
        let playing = StreamSession {
            arn: "arn".into(),
            stream_group_id: Some("sg-A".into()),
            status: StreamSessionStatus::Connected,
            status_reason: None,
            location: None,
            application_arn: None,
            user_id: None,
            created_at: None,
            last_updated_at: None,
        };
        assert!(
            actions(&plan(&observe(&old, &new, vec![playing.clone()]), &[], now(), &s)).is_empty(),
            "a player is on"
        );
        old.expires_at = Some(now() + Duration::hours(2));
        assert_eq!(
            actions(&plan(&observe(&old, &new, vec![playing]), &[], now(), &s)),
            ["delete_old_group", "announce_retired"],
            "expiry near: waiting longer costs the streams anyway"
        );
        new.status = StreamGroupStatus::Error;
        assert_eq!(
            actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)),
            ["record_failed_replacement", "delete_failed_replacement", "unlink"]
        );
        old.tags.insert(TAG_FAILED.into(), "sg-N".into());
        assert_eq!(
            actions(&plan(&observe(&old, &new, vec![]), &[], now(), &s)),
            ["delete_failed_replacement", "unlink"],
            "counted once"
        );
    }
}
