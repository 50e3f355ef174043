//! Evaluation of one group, in its phases: the group as read, its findings (the rules), its
//! tags (read once, when its alerts or its demand metric need them), its figures (log line and
//! datums, to the metric phase) and its alert plan (to delivery).

use crate::alerts::{self, AlertReason, AlertTarget, GroupAlerts};
use crate::config::{AlertMemory, Config, DemandMetrics, MetricDetail};
use crate::metrics;
use crate::observe::{self, Described, Unread};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;
use watchdog_core::findings::Finding;
use watchdog_core::opt_in;
use watchdog_core::ports::{ApiError, Datum, ErrorKind, GameLiftStreams, HealthHistory, SumsQuery, Tags, Unit};
use watchdog_core::rules;
use watchdog_core::{StreamGroup, StreamGroupStatus, StreamSession};

/// The sessions phase's result, shared by every group's evaluation.
#[derive(Default)]
pub struct SessionsSeen {
    pub sessions: Vec<StreamSession>,
    /// Confirmed stale (past their own timeouts plus the margin), by group id.
    pub stale: HashMap<String, Vec<StreamSession>>,
    pub unread: Vec<Unread>,
}

/// Where a region's results go while it is still being read.
pub struct Outlets {
    /// Each group's alert plan, to delivery.
    pub alerts: UnboundedSender<GroupAlerts>,
    pub metrics: UnboundedSender<Vec<Datum>>,
}

/// One group after evaluation.
#[derive(Default)]
pub struct Evaluated {
    /// `None` when the group vanished before its details were read.
    pub group: Option<StreamGroup>,
    pub described: bool,
    pub findings: Vec<Finding>,
    pub suppressed: usize,
    pub unread: Vec<Unread>,
    pub memory_full: bool,
    /// The group's owner (its OWNER_TAG_KEY tag), when it has findings and the tag.
    pub owner: Option<String>,
}

/// Why the group's tags are read this run.
struct TagNeeds {
    alerts: bool,
    demand: bool,
    owner: bool,
}

/// A group as read before its evaluation: its details, and its tags when they are needed
/// whatever its findings turn out to be.
pub struct Read {
    pub described: Described,
    /// `None`: not read yet (evaluation reads them if its findings need them).
    pub tags: Option<Result<Tags, Unread>>,
}

impl Read {
    /// A group evaluated from what it is, its tags read only if its findings need them.
    pub fn without_tags(described: Described) -> Self {
        Self { described, tags: None }
    }

    /// The group's details and, when its tags are needed whatever its findings (its demand
    /// metric; with digests, its alert memory), its tags: read as soon as its details are in,
    /// while the sessions are still being listed, so a scan's tag reads keep pace with its
    /// GetStreamGroup calls instead of trailing them.
    pub async fn with_tags(config: &Config, region: &dyn GameLiftStreams, described: Described) -> Self {
        let group = match &described {
            Described::Full(group) => Some((group, true)),
            Described::Summary(group, _) => Some((group, false)),
            Described::Gone(_) => None,
        };
        let tags = match group {
            Some((group, full)) => tags_if_needed(region, group, &tag_needs(config, group, false, full)).await,
            None => None,
        };
        Self { described, tags }
    }
}

/// Evaluates one group: its findings (rules), its datums (to the metric phase), and, when it
/// has findings, its alert plan from its memory (to delivery).
pub async fn evaluate(
    config: &Config,
    region: &dyn GameLiftStreams,
    memory: &ExpiredMemory,
    read: Read,
    sessions: &SessionsSeen,
    now: DateTime<Utc>,
    outlets: &Outlets,
) -> Evaluated {
    let mut out = Evaluated::default();
    let Some(group) = group_as_read(read.described, &mut out) else { return out };
    out.findings = findings(config, &group, sessions, now);
    let needs = tag_needs(config, &group, !out.findings.is_empty(), out.described);
    // Read before when needed whatever the findings (so needed now), else read now if needed.
    let read_tags = match read.tags {
        Some(read) => Some(read),
        None => tags_if_needed(region, &group, &needs).await,
    };
    let tags = read_tags.and_then(|read| read.map_err(|unread| out.unread.push(unread)).ok());
    if needs.owner {
        let key = config.owner_tag_key.as_deref().expect("needed only with a key");
        out.owner = tags.as_ref().and_then(|tags| tags.get(key).cloned());
    }
    let demand = wants_demand(config, &needs, tags.as_ref());
    publish_figures(config, region, &group, out.described, sessions, demand, now, outlets);
    let expired_due = expired_alert_due(config, region, memory, &group, now, outlets, &mut out);
    if let Some(plan) = plan_alerts(config, region, &group, tags.as_ref(), &needs, sessions, expired_due, now, &mut out)
    {
        out.suppressed = plan.suppressed.len();
        let _ = outlets.alerts.send(plan);
    }
    out.group = Some(group);
    out
}

/// The group as observe read it: in full, from its summary alone (details unread), or gone.
fn group_as_read(described: Described, out: &mut Evaluated) -> Option<StreamGroup> {
    match described {
        Described::Full(group) => {
            out.described = true;
            Some(group)
        }
        Described::Summary(group, unread) => {
            out.unread.extend(unread);
            Some(group)
        }
        Described::Gone(unread) => {
            out.unread.push(unread);
            None
        }
    }
}

/// The rules' findings: the group's own, and its confirmed stale sessions.
fn findings(config: &Config, group: &StreamGroup, sessions: &SessionsSeen, now: DateTime<Utc>) -> Vec<Finding> {
    let stale: Vec<&StreamSession> = sessions.stale.get(&group.id).map(|s| s.iter().collect()).unwrap_or_default();
    let mut findings = rules::group_findings(group, now, &config.policy);
    findings.extend(rules::stale_session_findings(group, &stale, now));
    findings
}

/// What the group's tags are read for, given whether it has findings and was read in full.
fn tag_needs(config: &Config, group: &StreamGroup, has_findings: bool, described: bool) -> TagNeeds {
    let expired = group.status == StreamGroupStatus::Expired;
    TagNeeds {
        // With digests, a group without findings is read too: its last finding may just have
        // cleared, and the digest announces that (and its memory is forgotten on time).
        alerts: (has_findings || config.alert_delivery.digest())
            && config.alert_memory == AlertMemory::Tags
            && !expired,
        demand: matches!(config.demand_metrics, DemandMetrics::OptedIn { .. })
            && config.metric_detail != MetricDetail::Location
            && described
            && group.status.is_serving(),
        // An expired group's tags cannot be read (it answers as gone): its findings go to the
        // organisation's digest only.
        owner: config.owner_tag_key.is_some() && has_findings && !expired,
    }
}

/// The group's tags, read when its alerts or its demand metric need them.
async fn tags_if_needed(
    region: &dyn GameLiftStreams,
    group: &StreamGroup,
    needs: &TagNeeds,
) -> Option<Result<Tags, Unread>> {
    match needs.alerts || needs.demand || needs.owner {
        true => Some(observe::group_tags(region, group).await),
        false => None,
    }
}

/// Whether the group's in-use capacity is published for the trimmer's demand history.
fn wants_demand(config: &Config, needs: &TagNeeds, tags: Option<&Tags>) -> bool {
    match (&config.demand_metrics, tags) {
        (DemandMetrics::All, _) => true,
        // The groups the trimmer changes, and the stack-managed ones it reports on.
        (DemandMetrics::OptedIn { tag }, Some(tags)) if needs.demand => {
            !opt_in::is_protected(tags) && opt_in::asks_for_it(tags, tag, false)
        }
        _ => false,
    }
}

/// The group's figures: its log line (what the dashboard queries) and its datums.
#[allow(clippy::too_many_arguments)]
fn publish_figures(
    config: &Config,
    region: &dyn GameLiftStreams,
    group: &StreamGroup,
    described: bool,
    sessions: &SessionsSeen,
    demand: bool,
    now: DateTime<Utc>,
    outlets: &Outlets,
) {
    let own: Vec<&StreamSession> =
        sessions.sessions.iter().filter(|s| s.stream_group_id.as_deref() == Some(&group.id)).collect();
    crate::figures::log_group(region.region(), group, described, &own, now);
    let datums = metrics::group_datums(group, described, &own, config.metric_detail, demand, now);
    if !datums.is_empty() {
        let _ = outlets.metrics.send(datums);
    }
}

/// The group's alert plan, by the configured alert memory; `None` when nothing is alerted.
#[allow(clippy::too_many_arguments)]
fn plan_alerts(
    config: &Config,
    region: &dyn GameLiftStreams,
    group: &StreamGroup,
    tags: Option<&Tags>,
    needs: &TagNeeds,
    sessions: &SessionsSeen,
    expired_due: Option<AlertReason>,
    now: DateTime<Utc>,
    out: &mut Evaluated,
) -> Option<GroupAlerts> {
    let target = AlertTarget::new(&group.id, &group.arn, region.region());
    let findings: Vec<&Finding> = out.findings.iter().collect();
    let first_of_interval = || {
        alerts::first_scan_of_interval(now, config.alert_resend, config.schedule_interval)
            .then_some(AlertReason::ResendDue)
    };
    if group.status == StreamGroupStatus::Expired {
        // Its memory is in CloudWatch, read by `expired_alert_due`.
        return (!findings.is_empty()).then(|| alerts::plan_without_memory(target, &findings, expired_due));
    }
    if !findings.is_empty() && config.alert_memory == AlertMemory::None {
        // No tag is read or written: alerted in the first scan of each re-send interval.
        return Some(alerts::plan_without_memory(target, &findings, first_of_interval()));
    }
    let tags = tags.filter(|_| needs.alerts)?;
    if opt_in::is_protected(tags) {
        // No write to a protected group, so no alert memory: its findings are reported,
        // counted and alarmed on, not alerted one by one (without memory they would repeat
        // every scan).
        tracing::info!(stream_group = %group.id, "protected: findings reported, not alerted (no tag writes)");
        return None;
    }
    let mut plan = alerts::plan(target, &findings, tags, &config.alert_policy(), now);
    // Forget only what this scan could see: a group read from its summary, or whose sessions
    // went unread, keeps the memory of findings that need what was missing, so the next full
    // scan does not send them again.
    if !out.described || !sessions.unread.is_empty() {
        plan.keep_unseen();
    }
    plan.fit_memory(tags);
    if !plan.held_back.is_empty() {
        tracing::warn!(stream_group = %group.id, held_back = plan.held_back.len(), "alert memory full (50 tags): alerts held back");
        out.memory_full = true;
    }
    Some(plan)
}

/// The datum that remembers an EXPIRED group's alert (one per alert, by group): its memory
/// cannot live in its tags, which the service no longer reads or writes.
pub const EXPIRED_GROUP_ALERTED: &str = "ExpiredGroupAlerted";

/// What CloudWatch remembers of a region's EXPIRED groups' alerts. Seed 000 and the model's
/// ExpiresAt: "Only Get and Delete operations will work on an expired stream group", so an
/// expired group's alert memory is kept in CloudWatch instead: an `ExpiredGroupAlerted` datum
/// published with the alert. Read for all of the region's expired groups at once before they
/// are evaluated (one GetMetricData call per 500 groups, not one per group).
#[derive(Debug, Default)]
pub struct ExpiredMemory(HashMap<String, Result<f64, ApiError>>);

impl ExpiredMemory {
    /// The alerts remembered within ALERT_RESEND_HOURS, to the end of this minute (CloudWatch's
    /// end time is exclusive and a datum of this very moment, a run right after the one that
    /// alerted, must count).
    pub async fn read(
        config: &Config,
        region: &str,
        history: &dyn HealthHistory,
        expired: &[StreamGroup],
        now: DateTime<Utc>,
    ) -> Self {
        if expired.is_empty() {
            return Self::default();
        }
        let dimension_sets: Vec<_> = expired.iter().map(|g| memory_dimensions(region, g)).collect();
        let sums = history
            .sums(SumsQuery {
                namespace: &config.namespace,
                metric: EXPIRED_GROUP_ALERTED,
                dimension_sets: &dimension_sets,
                since: now - config.alert_resend,
                until: now + chrono::Duration::minutes(1),
            })
            .await;
        let ids = expired.iter().map(|g| g.id.clone());
        match sums {
            Ok(sums) => Self(ids.zip(sums.into_iter().map(Ok)).collect()),
            Err(e) => Self(ids.map(|id| (id, Err(e.clone()))).collect()),
        }
    }
}

fn memory_dimensions(region: &str, group: &StreamGroup) -> Vec<(&'static str, String)> {
    vec![("Region", region.to_owned()), ("StreamGroupId", group.id.clone())]
}

/// Whether this scan alerts an EXPIRED group's findings, and why: named when first seen, then
/// again once no alert is remembered within ALERT_RESEND_HOURS. If the memory could not be
/// read, the time since ExpiresAt decides (`alerts::expiry_window_due`), so an unreadable
/// memory never silences an expiry.
fn expired_alert_due(
    config: &Config,
    region: &dyn GameLiftStreams,
    memory: &ExpiredMemory,
    group: &StreamGroup,
    now: DateTime<Utc>,
    outlets: &Outlets,
    out: &mut Evaluated,
) -> Option<AlertReason> {
    if group.status != StreamGroupStatus::Expired || out.findings.is_empty() {
        return None;
    }
    let dimensions = memory_dimensions(region.region(), group);
    let unread = || ApiError::new("GetMetricData", ErrorKind::Other, "NotRead", "the alert memory was not read");
    let remembered = memory.0.get(&group.id).cloned().unwrap_or_else(|| Err(unread()));
    let expires_at = group.expires_at.unwrap_or(now);
    let due = match remembered {
        Ok(alerted) if alerted > 0.0 => None,
        Ok(_) if now - expires_at < config.alert_resend => Some(AlertReason::New),
        Ok(_) => Some(AlertReason::ResendDue),
        Err(e) => {
            out.unread.push(Unread::new(
                region.region(),
                Some(&group.id),
                &e,
                "the expired group's alert memory (CloudWatch) went unread: alerted by the time since ExpiresAt",
            ));
            alerts::expiry_window_due(now, expires_at, config.alert_resend, config.schedule_interval)
        }
    };
    if due.is_some() {
        let datum = Datum { name: EXPIRED_GROUP_ALERTED, dimensions, value: 1.0, unit: Unit::Count };
        let _ = outlets.metrics.send(vec![datum]);
    }
    due
}
