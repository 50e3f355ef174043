//! The trimmer's decisions, free of I/O: for every opted-in location, the capacity it should
//! pay for given its demand, its off-hours window and what the trimmer changed before; for
//! every session, whether the studio's policy ends it.
//!
//! The level a user set is recorded in a tag (`watchdog:trim:<location>`) before the
//! trimmer's first change, and the tag also names the level the trimmer set. Capacity that
//! differs from the level the trimmer set was changed by someone else: that becomes the new
//! original, so a crash between writing the tag and changing capacity loses nothing.

use crate::schedule::{OffHours, ScheduleSetting};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use watchdog_core::opt_in::{self, Eligibility};
use watchdog_core::ports::{Demand, LocationSpec, Tags, Write};
use watchdog_core::reconcile::{Blocked, Call, Effect, Note, Plan, Step, StepKind, TagWrite};
use watchdog_core::rules::time_in_status;
use watchdog_core::tags::trim::{FLOOR, OFF_HOURS, TRIM_TARGET_IDLE, record_key};
use watchdog_core::{LocationStatus, StreamClass};
use watchdog_core::{StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus, StreamSessionStatusReason};

pub use watchdog_core::tags::trim::{ChangeReason, Levels, Record};

/// Which sessions the studio wants ended: a status and how long a session may stay in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionPolicy(pub Vec<(StreamSessionStatus, Duration)>);

impl SessionPolicy {
    pub const FORMAT: &'static str = "comma-separated STATUS>LIMIT, LIMIT in minutes (30m) or hours (12h), STATUS one of \
         ACTIVE, CONNECTED, PENDING_CLIENT_RECONNECTION, RECONNECTING";

    /// `PENDING_CLIENT_RECONNECTION>30m,CONNECTED>12h`; empty ends nothing.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for rule in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (status, limit) = rule.split_once('>').ok_or_else(|| format!("{rule:?}: expected STATUS>LIMIT"))?;
            let status = StreamSessionStatus::from(status.trim());
            if status == StreamSessionStatus::Activating {
                return Err("ACTIVATING sessions cannot be terminated (the API refuses them)".into());
            }
            if !status.holds_capacity() {
                return Err(format!("{status}: only sessions that hold capacity can be named"));
            }
            let limit = limit.trim();
            let bad = || format!("{rule:?}: {limit:?} is not a positive time like 30m or 12h (at most 30 days)");
            // Whole minutes or hours, more than zero, at most 30 days: a session policy longer
            // than any session's own length would never end anything.
            let limit = match (limit.strip_suffix('m'), limit.strip_suffix('h')) {
                (Some(minutes), _) => minutes.parse::<i64>().ok().and_then(Duration::try_minutes),
                (_, Some(hours)) => hours.parse::<i64>().ok().and_then(Duration::try_hours),
                _ => None,
            }
            .filter(|d| *d > Duration::zero() && *d <= Duration::days(30))
            .ok_or_else(bad)?;
            if rules.iter().any(|(s, _)| *s == status) {
                return Err(format!("{status} is named twice"));
            }
            rules.push((status, limit));
        }
        Ok(Self(rules))
    }

    pub fn limit_for(&self, status: &StreamSessionStatus) -> Option<Duration> {
        self.0.iter().find(|(s, _)| s == status).map(|(_, limit)| *limit)
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub opt_in_tag: String,
    pub manage_all_groups: bool,
    /// Capacity never set below this (rounded up to the class tenancy), per setting.
    pub floor: u32,
    /// Headroom over the peak: this share of it, at least `headroom_min` sessions.
    pub headroom_percent: u32,
    pub headroom_min: u32,
    /// No second lowering of a location within this time.
    pub cooldown: Duration,
    /// The demand window read from CloudWatch.
    pub window: Duration,
    /// History must reach back this share of the window before anything is lowered.
    pub min_history_share: f64,
    /// In-use at this share of always-on capacity raises it back to the recorded level.
    pub raise_share: f64,
    pub off_hours: Option<OffHours>,
    /// Whether target-idle (the buffer the studio pays to start sessions at once) may be
    /// lowered; groups choose with `watchdog:trim-target-idle`. Off: only always-on is trimmed.
    pub trim_target_idle: bool,
    pub sessions: SessionPolicy,
}

#[derive(Debug, Clone)]
pub struct Observed {
    /// With its details and tags.
    pub group: StreamGroup,
    /// By location name.
    pub demand: BTreeMap<String, Demand>,
    pub sessions: Vec<StreamSession>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TrimmerStep {
    SetCapacity {
        location: String,
        from: Levels,
        to: Levels,
        /// Sent unchanged: the service's own scaling ceiling is not the trimmer's to move.
        maximum: Option<u32>,
        original: Levels,
        why: ChangeReason,
        /// Capacity-hours per day this change saves (negative: what a raise spends).
        capacity_hours_per_day: f64,
    },
    EndSession {
        session_arn: String,
        location: Option<String>,
        status: String,
        minutes_in_status: i64,
        limit_minutes: i64,
    },
}

impl StepKind for TrimmerStep {
    /// Capacity-hours per day the action saves; ending a session frees a slot but changes no
    /// paid setting.
    fn figures(&self) -> Map<String, Value> {
        let saved = match self {
            Self::SetCapacity { capacity_hours_per_day, .. } => *capacity_hours_per_day,
            Self::EndSession { .. } => 0.0,
        };
        Map::from_iter([("capacity_hours_per_day".to_owned(), json!(saved))])
    }
}

/// Everything the trimmer would do for the observed groups at `now`.
pub fn plan(observed: &[Observed], now: DateTime<Utc>, settings: &Settings) -> Plan<TrimmerStep> {
    let mut plan = Plan::default();
    for o in observed {
        let g = &o.group;
        let items = match opt_in::eligibility(g, &settings.opt_in_tag, settings.manage_all_groups) {
            Eligibility::NotOptedIn => continue,
            Eligibility::Protected => {
                plan.note(&g.id, format!("protected ({}=true): no change, no tag", opt_in::PROTECT_TAG));
                continue;
            }
            Eligibility::OptedOut => {
                plan.note(&g.id, format!("opted out ({}=false)", settings.opt_in_tag));
                continue;
            }
            // What the trimmer would do in a stack's group is reported when the group asks
            // for the trimmer (its demand history is published only then).
            Eligibility::CloudFormation(_)
                if !opt_in::asks_for_it(&g.tags, &settings.opt_in_tag, settings.manage_all_groups) =>
            {
                continue;
            }
            Eligibility::CloudFormation(stack) => {
                // Never changed, so nothing it holds back waits for a person.
                let items = group_items(o, now, settings, &mut plan.notes, &mut Vec::new());
                if !items.is_empty() {
                    plan.note(&g.id, format!("managed by CloudFormation stack {stack}; reported only"));
                }
                plan.reported_only.extend(items);
                continue;
            }
            Eligibility::OptedIn => group_items(o, now, settings, &mut plan.notes, &mut plan.blocked),
        };
        plan.items.extend(items);
    }
    plan
}

/// One step of one group, with its effect.
fn item(
    g: &StreamGroup,
    kind: TrimmerStep,
    reason: String,
    effect: Effect,
    batch: Option<String>,
    done: &str,
) -> Step<TrimmerStep> {
    Step {
        stream_group: g.id.clone(),
        stream_group_arn: g.arn.clone(),
        region: g.region().unwrap_or_default().to_owned(),
        kind,
        reason,
        sequence: g.id.clone(),
        batch,
        effect,
        done: done.to_owned(),
    }
}

fn group_items(
    o: &Observed,
    now: DateTime<Utc>,
    s: &Settings,
    notes: &mut Vec<Note>,
    blocked: &mut Vec<Blocked>,
) -> Vec<Step<TrimmerStep>> {
    let g = &o.group;
    let note = |text: String| Note { stream_group: g.id.clone(), note: text };
    let mut items = Vec::new();
    if g.status == StreamGroupStatus::Active {
        let schedule = match g.tags.get(OFF_HOURS).map(|t| ScheduleSetting::parse(t)) {
            None => s.off_hours.clone(),
            Some(Ok(ScheduleSetting::Window(w))) => Some(w),
            Some(Ok(ScheduleSetting::Disabled)) => None,
            Some(Err(e)) => {
                notes.push(note(format!("tag {OFF_HOURS} ignored: {e}")));
                None
            }
        };
        let floor = match g.tags.get(FLOOR).map(|t| t.trim().parse::<u32>()) {
            None => s.floor,
            Some(Ok(floor)) => floor,
            Some(Err(_)) => {
                notes.push(note(format!("tag {FLOOR} is not a whole number; using the floor {}", s.floor)));
                s.floor
            }
        };
        let trim_target_idle = match g.tags.get(TRIM_TARGET_IDLE).map(|t| t.trim().to_ascii_lowercase()) {
            None => s.trim_target_idle,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                notes.push(note(format!(
                    "tag {TRIM_TARGET_IDLE}={v:?} is not true or false; using {}",
                    s.trim_target_idle
                )));
                s.trim_target_idle
            }
        };
        let class = g.stream_class.clone().unwrap_or(StreamClass::Unknown(String::new()));
        for location in g.locations.iter().filter(|l| l.status == LocationStatus::Active) {
            if let Some((reason, why)) = untouchable(location, &class) {
                notes.push(note(format!("{}: left alone: {why}", location.name)));
                // Idle capacity the trimmer may not lower waits for a person (StepsBlocked).
                if location.capacity.idle > 0 {
                    blocked.push(Blocked {
                        stream_group: g.id.clone(),
                        reason: reason.to_owned(),
                        detail: format!("{}: {} idle, left alone: {why}", location.name, location.capacity.idle),
                    });
                }
                continue;
            }
            let context = LocationContext {
                class: &class,
                current: Levels {
                    always_on: location.capacity.always_on.unwrap_or(0),
                    target_idle: location.capacity.target_idle.unwrap_or(0),
                },
                in_use: location.capacity.in_use(),
                record: g.tags.get(&record_key(&location.name)).and_then(|t| Record::decode(t)),
                demand: o.demand.get(&location.name).copied().unwrap_or_default(),
                placement_failures: placement_failures(&o.sessions, &location.name, now - s.window),
                schedule: schedule.as_ref(),
                floor,
                trim_target_idle,
            };
            match decide(&context, now, s) {
                Verdict::Keep(None) => {}
                Verdict::Keep(Some(text)) => notes.push(note(format!("{}: {text}", location.name))),
                Verdict::Change { to, original, why, reason } => {
                    let hours = match (why, &context.schedule) {
                        (ChangeReason::OffHours | ChangeReason::OnHours, Some(w)) => w.hours_per_day(),
                        _ => 24.0,
                    };
                    let saved = (f64::from(context.current.total()) - f64::from(to.total())) * hours;
                    // The record goes first: if the change is lost, the next run still knows the
                    // original. One group's changes share one tag write and one UpdateStreamGroup.
                    // The maximum is recorded with the original, so all of it can be put back.
                    let original_maximum = context
                        .record
                        .filter(|r| r.set == context.current)
                        .and_then(|r| r.original_maximum)
                        .or(location.capacity.maximum);
                    let record = Record { original, set: to, changed_at: now, why, original_maximum };
                    let spec = LocationSpec {
                        name: location.name.clone(),
                        always_on: to.always_on,
                        target_idle: Some(to.target_idle),
                        maximum: location.capacity.maximum,
                        on_demand: None,
                        // UpdateStreamGroup cannot change a location's VPC: never sent.
                        vpc_transit: None,
                    };
                    let effect = Effect {
                        before: Some(TagWrite::set(
                            &g.arn,
                            Tags::from([(record_key(&location.name), record.encode())]),
                        )),
                        call: Call::Write(Write::UpdateCapacity { group_id: g.id.clone(), locations: vec![spec] }),
                        after: None,
                        on_failure: None,
                    };
                    let action = TrimmerStep::SetCapacity {
                        location: location.name.clone(),
                        from: context.current,
                        to,
                        maximum: location.capacity.maximum,
                        original,
                        why,
                        capacity_hours_per_day: (saved * 100.0).round() / 100.0,
                    };
                    items.push(item(g, action, reason, effect, Some(format!("capacity:{}", g.id)), "applied"));
                }
            }
        }
    } else if !matches!(g.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired) {
        notes.push(note(format!("{}; capacity is changed only in ACTIVE groups", g.status)));
    }
    for session in &o.sessions {
        let Some(limit) = s.sessions.limit_for(&session.status) else { continue };
        let Some(elapsed) = time_in_status(session, now) else { continue };
        if elapsed > limit {
            let action = TrimmerStep::EndSession {
                session_arn: session.arn.clone(),
                location: session.location.clone(),
                status: session.status.to_string(),
                minutes_in_status: elapsed.num_minutes(),
                limit_minutes: limit.num_minutes(),
            };
            let reason = format!(
                "{} for {} min, over the policy's {} min; frees its capacity",
                session.status,
                elapsed.num_minutes(),
                limit.num_minutes()
            );
            let effect =
                Effect::call(Write::TerminateSession { group_id: g.id.clone(), session_arn: session.arn.clone() });
            items.push(item(g, action, reason, effect, None, "terminated"));
        }
    }
    items
}

/// Why the trimmer must not update a location's capacity at all. UpdateStreamGroup applies
/// "internal defaults" to any of AlwaysOnCapacity, TargetIdleCapacity and MaximumCapacity a
/// request omits, so an update is only safe when all three are known; the deprecated
/// OnDemandCapacity cannot be sent with the other two; and a class of unknown tenancy gives no
/// valid capacity to set (the service wants whole multiples of it).
/// Returns the blocked reason and the sentence.
fn untouchable(location: &watchdog_core::Location, class: &StreamClass) -> Option<(&'static str, String)> {
    let c = &location.capacity;
    if c.on_demand.unwrap_or(0) > 0 {
        return Some((
            "on_demand_capacity",
            "it uses the deprecated OnDemandCapacity, which an update cannot carry with the other settings".into(),
        ));
    }
    if c.maximum.is_none() {
        return Some((
            "maximum_unknown",
            "MaximumCapacity is not reported, and an update without it gets the service's internal defaults".into(),
        ));
    }
    if class.tenancy().is_none() {
        return Some((
            "unknown_tenancy",
            format!("stream class {:?} has no known tenancy, so no valid capacity can be chosen", class.name()),
        ));
    }
    None
}

/// Sessions at `location` that ended in a placement timeout since `since`: demand the
/// capacity could not serve.
fn placement_failures(sessions: &[StreamSession], location: &str, since: DateTime<Utc>) -> usize {
    sessions
        .iter()
        .filter(|s| {
            s.status == StreamSessionStatus::Error
                && s.status_reason == Some(StreamSessionStatusReason::PlacementTimeout)
                && s.location.as_deref() == Some(location)
                && s.last_updated_at.is_some_and(|at| at >= since)
        })
        .count()
}

struct LocationContext<'a> {
    class: &'a StreamClass,
    current: Levels,
    in_use: u32,
    record: Option<Record>,
    demand: Demand,
    placement_failures: usize,
    schedule: Option<&'a OffHours>,
    floor: u32,
    trim_target_idle: bool,
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Keep(Option<String>),
    Change { to: Levels, original: Levels, why: ChangeReason, reason: String },
}

fn decide(c: &LocationContext<'_>, now: DateTime<Utc>, s: &Settings) -> Verdict {
    // The trimmer's record holds only while capacity is still what the trimmer set.
    let record = c.record.filter(|r| r.set == c.current);
    let original = record.map_or(c.current, |r| r.original);
    let change = |to: Levels, why: ChangeReason, reason: String| {
        if to == c.current { Verdict::Keep(None) } else { Verdict::Change { to, original, why, reason } }
    };
    let floor = c.class.round_up_capacity(c.floor);
    // Without the opt-in, target-idle never goes below the studio's level (seed 000: it is
    // capacity "held in this intentional idle state"), neither for demand nor off-hours.
    let target_idle_floor = if c.trim_target_idle { floor.min(original.target_idle) } else { original.target_idle };
    let floor = Levels { always_on: floor.min(original.always_on), target_idle: target_idle_floor };

    if let Some(window) = c.schedule.filter(|w| w.is_off_hours(now)) {
        let to = Levels {
            always_on: floor.always_on.min(c.current.always_on),
            target_idle: floor.target_idle.min(c.current.target_idle),
        };
        return change(
            to,
            ChangeReason::OffHours,
            format!("off-hours ({}): paid capacity down to the floor", window.text),
        );
    }
    if record.is_some_and(|r| r.why == ChangeReason::OffHours) {
        return change(original, ChangeReason::OnHours, format!("off-hours over: back to the recorded {original}"));
    }
    if c.placement_failures > 0 {
        return change(
            original,
            ChangeReason::DemandReturned,
            format!(
                "{} sessions failed placement in the window: back to the recorded {original}",
                c.placement_failures
            ),
        );
    }
    if c.current.always_on > 0 && f64::from(c.in_use) >= s.raise_share * f64::from(c.current.always_on) {
        return change(
            original,
            ChangeReason::DemandReturned,
            format!("{} in use of {} always-on: back to the recorded {original}", c.in_use, c.current.always_on),
        );
    }

    let covered = c.demand.oldest.is_some_and(|oldest| {
        now - oldest >= Duration::seconds((s.window.num_seconds() as f64 * s.min_history_share) as i64)
    });
    let peak = c.demand.peak.unwrap_or(0).max(c.in_use);
    let headroom = (peak * s.headroom_percent).div_ceil(100).max(s.headroom_min);
    let desired = Levels {
        always_on: c.class.round_up_capacity(peak + headroom).clamp(floor.always_on, original.always_on),
        target_idle: c.class.round_up_capacity(headroom).clamp(floor.target_idle, original.target_idle),
    };
    let step = c.class.tenancy().unwrap_or(1);
    let cooled = record.is_none_or(|r| now - r.changed_at >= s.cooldown);
    // Raises go straight through; a lowering needs history, a cooled-down location and a
    // whole tenancy step to save.
    let next = |current: u32, wanted: u32| {
        let lower_allowed = wanted < current && current - wanted >= step && covered && cooled;
        if wanted > current || lower_allowed { wanted } else { current }
    };
    let to = Levels {
        always_on: next(c.current.always_on, desired.always_on),
        target_idle: next(c.current.target_idle, desired.target_idle),
    };
    let needs = format!("peak {peak} in use + headroom {headroom} needs {desired}");
    if to.always_on > c.current.always_on || to.target_idle > c.current.target_idle {
        return change(to, ChangeReason::DemandReturned, format!("{needs}: raised toward the recorded {original}"));
    }
    if to != c.current {
        return change(to, ChangeReason::Demand, format!("{needs} (window {} h)", s.window.num_hours()));
    }
    let lower = desired.always_on < c.current.always_on || desired.target_idle < c.current.target_idle;
    Verdict::Keep(match () {
        _ if !lower => None,
        _ if !covered => Some(format!(
            "{needs}, but CloudWatch holds too little demand history (oldest {}); nothing lowered",
            c.demand.oldest.map_or("none".into(), |t| t.to_rfc3339())
        )),
        _ if !cooled => Some(format!("{needs}; in cool-down since the last change")),
        _ => Some(format!("{needs}; less than one tenancy step ({step}) to save")),
    })
}

#[cfg(test)]
mod tests;
