//! CloudWatch metrics: built as plain data from the inventory (so the count per run is exact
//! and testable), then published in PutMetricData calls of up to 1,000 datums each.
//!
//! Every name + dimension set is a billed custom metric. Per run, with R regions, G groups,
//! L locations (summed over groups), D locations that need demand history and O API
//! operations called:
//! essential detail: 10 + D (what the alarms read, summed over the regions, and the run's
//! health; the rest is in the log, see `figures`); account detail adds (16 + K) R, K the finding
//! kinds (`FindingKind::ALL`), one more R with a price table, + O; group detail adds
//! 17 G; location detail adds 14 L and every location has its demand. (Utilization is left out
//! while nothing is allocated.)

use crate::config::MetricDetail;
use crate::inventory::RegionInventory;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use tokio::sync::mpsc::UnboundedReceiver;
use watchdog_core::findings::{Finding, FindingKind};
use watchdog_core::lifecycle::{Lifecycle, fractional_days};
use watchdog_core::model::StreamGroupStatus as Status;
use watchdog_core::ports::{CallCounts, Datum, MAX_DATUMS_PER_CALL, MetricSink, Unit};
use watchdog_core::{Capacity, StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus};

fn datum(name: &'static str, dimensions: Vec<(&'static str, String)>, value: f64, unit: Unit) -> Datum {
    Datum { name, dimensions, value, unit }
}

/// What the capacity metrics of one location (or a sum of them) report.
fn capacity_datums(dimensions: &[(&'static str, String)], c: &Capacity, out: &mut Vec<Datum>) {
    let dims = || dimensions.to_vec();
    let figures = [
        ("AlwaysOnCapacity", c.always_on.unwrap_or(0)),
        ("TargetIdleCapacity", c.target_idle.unwrap_or(0)),
        ("MaximumCapacity", c.maximum.unwrap_or(0)),
        ("RequestedCapacity", c.requested),
        ("AllocatedCapacity", c.allocated),
        ("IdleCapacity", c.idle),
        ("InUseCapacity", c.in_use()),
    ];
    for (name, value) in figures {
        out.push(datum(name, dims(), f64::from(value), Unit::Count));
    }
    if let Some(utilization) = c.utilization() {
        out.push(datum("Utilization", dims(), utilization * 100.0, Unit::Percent));
    }
}

pub(crate) fn sum(capacities: impl Iterator<Item = Capacity>) -> Capacity {
    capacities.fold(Capacity::default(), |a, c| Capacity {
        always_on: Some(a.always_on.unwrap_or(0) + c.always_on.unwrap_or(0)),
        target_idle: Some(a.target_idle.unwrap_or(0) + c.target_idle.unwrap_or(0)),
        maximum: Some(a.maximum.unwrap_or(0) + c.maximum.unwrap_or(0)),
        on_demand: Some(a.on_demand.unwrap_or(0) + c.on_demand.unwrap_or(0)),
        requested: a.requested + c.requested,
        allocated: a.allocated + c.allocated,
        idle: a.idle + c.idle,
    })
}

fn session_counts<'a>(
    sessions: impl Iterator<Item = &'a StreamSession>,
    dimensions: &[(&'static str, String)],
    out: &mut Vec<Datum>,
) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in sessions {
        *counts.entry(s.status.as_str()).or_default() += 1;
    }
    for status in StreamSessionStatus::OPEN {
        let mut dims = dimensions.to_vec();
        dims.push(("Status", status.as_str().to_owned()));
        out.push(datum("Sessions", dims, counts.get(status.as_str()).copied().unwrap_or(0) as f64, Unit::Count));
    }
}

/// Idle capacity-hours over one schedule period, and their cost where the studio priced the class.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct IdleCost {
    pub idle_capacity_hours: f64,
    /// `None` without a price table; classes missing from the table are listed, not guessed.
    pub cost: Option<f64>,
    pub unpriced_classes: Vec<String>,
}

pub fn idle_cost(groups: &[StreamGroup], interval: Duration, prices: &BTreeMap<String, f64>) -> IdleCost {
    let hours = interval.num_seconds() as f64 / 3600.0;
    let mut result = IdleCost { cost: (!prices.is_empty()).then_some(0.0), ..IdleCost::default() };
    for group in groups.iter().filter(|g| g.status.is_serving()) {
        let idle: u32 = group.locations.iter().map(|l| l.capacity.idle).sum();
        let capacity_hours = f64::from(idle) * hours;
        result.idle_capacity_hours += capacity_hours;
        let class = group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default();
        match (prices.get(&class), result.cost.as_mut()) {
            (Some(price), Some(cost)) => *cost += capacity_hours * price,
            (None, Some(_)) if idle > 0 && !result.unpriced_classes.contains(&class) => {
                result.unpriced_classes.push(class)
            }
            _ => {}
        }
    }
    result
}

/// Inventory metrics at the configured detail: the region's totals and every group's figures.
pub fn inventory_datums(
    inventory: &RegionInventory,
    findings: &[Finding],
    detail: MetricDetail,
    now: DateTime<Utc>,
    interval: Duration,
    prices: &BTreeMap<String, f64>,
) -> Vec<Datum> {
    let mut out = account_datums(inventory, findings, detail, interval, prices);
    for group in &inventory.groups {
        let sessions: Vec<&StreamSession> =
            inventory.sessions.iter().filter(|s| s.stream_group_id.as_deref() == Some(&group.id)).collect();
        let described = inventory.described.contains(&group.id);
        out.extend(group_datums(group, described, &sessions, detail, false, now));
    }
    out
}

/// The group statuses template.yaml's `gls-watchdog-group-errors` alarm counts.
pub const ALARMED_STATUSES: [Status; 2] = [Status::ActiveWithErrors, Status::Error];
/// The finding kinds template.yaml's `gls-watchdog-expiry-soon` alarm counts.
pub const ALARMED_FINDINGS: [FindingKind; 2] = [FindingKind::ExpirySoon, FindingKind::Expired];

/// What the template's alarms read, summed over every region scanned (so one alarm covers them
/// all): groups in the alarmed statuses, findings of the alarmed kinds, idle capacity. Published
/// at every detail. An organisation's target scan (`account`) publishes each with an `Account`
/// dimension, which the hub's dashboard draws per account (org/hub.yaml), and the ones the
/// hub's alarms read again without it (they read the largest over all targets): the hub
/// alarms on no idle capacity, so `IdleCapacity` goes out per account only. A region the scan
/// could not list counts for nothing: without any, nothing is published (missing, not zero).
pub fn alarm_datums(inventories: &[&RegionInventory], account: Option<&str>) -> Vec<Datum> {
    // Regions that could not be listed are left out; with none listed, nothing is published.
    let listed: Vec<&RegionInventory> = inventories.iter().copied().filter(|i| i.listed()).collect();
    if listed.is_empty() {
        return Vec::new();
    }
    let totals = organisation_totals(&listed);
    let Some(account) = account else { return totals };
    let per_account = totals.iter().cloned().map(|mut datum| {
        datum.dimensions.insert(0, ("Account", account.to_owned()));
        datum
    });
    let alarmed = totals.iter().filter(|datum| datum.name != "IdleCapacity").cloned();
    per_account.chain(alarmed).collect()
}

fn organisation_totals(inventories: &[&RegionInventory]) -> Vec<Datum> {
    let groups = || inventories.iter().flat_map(|i| i.groups.iter());
    let mut out = Vec::new();
    for status in &ALARMED_STATUSES {
        let count = groups().filter(|g| &g.status == status).count();
        out.push(datum("StreamGroups", vec![("Status", status.as_str().to_owned())], count as f64, Unit::Count));
    }
    for kind in ALARMED_FINDINGS {
        let count = inventories.iter().flat_map(|i| i.findings.iter()).filter(|f| f.kind == kind).count();
        out.push(datum("Findings", vec![("Kind", kind.as_str().to_owned())], count as f64, Unit::Count));
    }
    let serving = groups().filter(|g| g.status.is_serving());
    let idle: u32 = serving.flat_map(|g| g.locations.iter().map(|l| l.capacity.idle)).sum();
    out.push(datum("IdleCapacity", vec![], f64::from(idle), Unit::Count));
    out
}

/// One region's totals (above essential detail): groups by status, idle and allocated
/// capacity, sessions by status, findings by kind.
pub fn account_datums(
    inventory: &RegionInventory,
    findings: &[Finding],
    detail: MetricDetail,
    interval: Duration,
    prices: &BTreeMap<String, f64>,
) -> Vec<Datum> {
    let mut out = Vec::new();
    if detail == MetricDetail::Essential {
        return out;
    }
    let region = || vec![("Region", inventory.region.clone())];
    let serving = inventory.groups.iter().filter(|g| g.status.is_serving());
    let total = sum(serving.flat_map(|g| g.locations.iter().map(|l| l.capacity.clone())));
    let groups_in = |status: &Status| inventory.groups.iter().filter(|g| &g.status == status).count();
    let findings_of = |kind: FindingKind| findings.iter().filter(|f| f.kind == kind).count();
    for status in StreamGroupStatus::KNOWN {
        let mut dims = region();
        dims.push(("Status", status.as_str().to_owned()));
        out.push(datum("StreamGroups", dims, groups_in(status) as f64, Unit::Count));
    }
    out.push(datum("IdleCapacity", region(), f64::from(total.idle), Unit::Count));
    out.push(datum("AllocatedCapacity", region(), f64::from(total.allocated), Unit::Count));
    let cost = idle_cost(&inventory.groups, interval, prices);
    out.push(datum("IdleCapacityHours", region(), cost.idle_capacity_hours, Unit::None));
    if let Some(value) = cost.cost {
        out.push(datum("IdleCapacityCost", region(), value, Unit::None));
    }
    session_counts(inventory.sessions.iter(), &region(), &mut out);
    for &kind in FindingKind::ALL {
        let mut dims = region();
        dims.push(("Kind", kind.as_str().to_owned()));
        out.push(datum("Findings", dims, findings_of(kind) as f64, Unit::Count));
    }
    out
}

/// One group's figures at group or location detail: its lifecycle, and, when its details were
/// read, its capacity and sessions. Below location detail, `demand` adds each location's
/// `InUseCapacity`, the trimmer's demand history.
pub fn group_datums(
    group: &StreamGroup,
    described: bool,
    sessions: &[&StreamSession],
    detail: MetricDetail,
    demand: bool,
    now: DateTime<Utc>,
) -> Vec<Datum> {
    let mut out = Vec::new();
    if group.status == StreamGroupStatus::Deleting {
        return out;
    }
    if demand && described && detail != MetricDetail::Location {
        for location in &group.locations {
            let dims = vec![("StreamGroupId", group.id.clone()), ("Location", location.name.clone())];
            out.push(datum("InUseCapacity", dims, f64::from(location.capacity.in_use()), Unit::Count));
        }
    }
    if matches!(detail, MetricDetail::Essential | MetricDetail::Account) {
        return out;
    }
    let dims = vec![("StreamGroupId", group.id.clone())];
    if let Some(created) = group.created_at {
        let life = Lifecycle::new(created, group.expires_at, now);
        out.push(datum("AgeDays", dims.clone(), fractional_days(life.age()), Unit::None));
        out.push(datum(
            "DaysToAssociationCutoff",
            dims.clone(),
            fractional_days(life.until_association_cutoff()),
            Unit::None,
        ));
        out.push(datum("DaysToExpiry", dims.clone(), fractional_days(life.until_expiry()), Unit::None));
    }
    if !described {
        return out;
    }
    capacity_datums(&dims, &sum(group.locations.iter().map(|l| l.capacity.clone())), &mut out);
    session_counts(sessions.iter().copied(), &dims, &mut out);
    if detail == MetricDetail::Location {
        for location in &group.locations {
            let dims = vec![("StreamGroupId", group.id.clone()), ("Location", location.name.clone())];
            capacity_datums(&dims, &location.capacity, &mut out);
            session_counts(
                sessions.iter().copied().filter(|s| s.location.as_deref() == Some(&location.name)),
                &dims,
                &mut out,
            );
        }
    }
    out
}

/// The watchdog's own health for this run; calls per operation above essential detail (they
/// are in the report).
pub fn health_datums(
    run: Duration,
    calls: &CallCounts,
    unread: usize,
    memory_full: usize,
    detail: MetricDetail,
) -> Vec<Datum> {
    let mut out = vec![datum("RunDuration", vec![], run.num_milliseconds() as f64 / 1000.0, Unit::Seconds)];
    if detail != MetricDetail::Essential {
        for (operation, stats) in calls {
            out.push(datum("ApiCalls", vec![("Operation", operation.clone())], stats.attempts as f64, Unit::Count));
        }
    }
    out.push(datum("Throttles", vec![], calls.values().map(|s| s.throttled).sum::<u64>() as f64, Unit::Count));
    out.push(datum("ApiErrors", vec![], calls.values().map(|s| s.server_errors).sum::<u64>() as f64, Unit::Count));
    out.push(datum("UnreadItems", vec![], unread as f64, Unit::Count));
    out.push(datum("AlertMemoryFull", vec![], memory_full as f64, Unit::Count));
    out
}

/// What the metric phase did.
#[derive(Debug, Default, Serialize)]
pub struct MetricSummary {
    pub namespace: String,
    pub datums: usize,
    pub put_metric_data_calls: usize,
    pub published: bool,
    #[serde(skip)]
    pub errors: Vec<String>,
}

/// The metric phase: datums arrive while the scan still reads, and go out in PutMetricData
/// calls of 1,000 as soon as that many are ready, so publishing overlaps the reads. Without a
/// sink (dry run) they are only counted.
pub async fn publish(
    mut datums: UnboundedReceiver<Vec<Datum>>,
    sink: Option<&dyn MetricSink>,
    namespace: &str,
    at: DateTime<Utc>,
) -> MetricSummary {
    let mut summary = MetricSummary { namespace: namespace.to_owned(), ..MetricSummary::default() };
    let mut ready: Vec<Datum> = Vec::new();
    loop {
        let next = datums.recv().await;
        let closed = next.is_none();
        if let Some(more) = next {
            summary.datums += more.len();
            ready.extend(more);
        }
        while let Some(sink) = sink
            && (ready.len() >= MAX_DATUMS_PER_CALL || (closed && !ready.is_empty()))
        {
            let batch: Vec<Datum> = ready.drain(..ready.len().min(MAX_DATUMS_PER_CALL)).collect();
            summary.put_metric_data_calls += 1;
            if let Err(e) = sink.put(namespace, &batch, at).await {
                summary.errors.push(e.to_string());
            }
        }
        if sink.is_none() {
            ready.clear();
        }
        if closed {
            summary.published = sink.is_some() && summary.errors.is_empty();
            return summary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchdog_core::{LocationStatus, StreamClass, StreamSessionStatus};

    fn group(id: &str, status: StreamGroupStatus, locations: Vec<(u32, u32, u32)>) -> StreamGroup {
        StreamGroup {
            id: id.into(),
            arn: format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{id}"),
            description: None,
            stream_class: Some(StreamClass::parse("gen5n_high")),
            status,
            status_reason: None,
            created_at: Some(Utc::now() - Duration::days(10)),
            last_updated_at: None,
            expires_at: None,
            default_application: None,
            associated_applications: vec![],
            tags: Default::default(),
            locations: locations
                .into_iter()
                .enumerate()
                .map(|(i, (always_on, allocated, idle))| {
                    watchdog_core::testkit::location(
                        &format!("loc-{i}"),
                        LocationStatus::Active,
                        always_on,
                        allocated,
                        idle,
                    )
                })
                .collect(),
        }
    }

    fn inventory(groups: Vec<StreamGroup>) -> RegionInventory {
        RegionInventory {
            region: "us-west-2".into(),
            described: groups.iter().map(|g| g.id.clone()).collect(),
            groups,
            ..RegionInventory::default()
        }
    }

    #[test]
    fn counts_match_the_documented_formula() {
        let inv = inventory(vec![
            group("sg-A", StreamGroupStatus::Active, vec![(2, 2, 1), (2, 2, 2)]),
            group("sg-B", StreamGroupStatus::Active, vec![(0, 0, 0)]),
        ]);
        let now = Utc::now();
        let none = BTreeMap::new();
        let account = inventory_datums(&inv, &[], MetricDetail::Account, now, Duration::minutes(5), &none);
        // Per region: a count per group status, three capacity figures, a count per open
        // session status and one per finding kind, counted from the lists themselves.
        let per_region = StreamGroupStatus::KNOWN.len() + 3 + StreamSessionStatus::OPEN.len() + FindingKind::ALL.len();
        assert_eq!(account.len(), per_region);
        let group_level = inventory_datums(&inv, &[], MetricDetail::Group, now, Duration::minutes(5), &none);
        // sg-B allocates nothing, so it has no Utilization datum.
        assert_eq!(group_level.len(), per_region + 17 + 16);
        let location_level = inventory_datums(&inv, &[], MetricDetail::Location, now, Duration::minutes(5), &none);
        assert_eq!(location_level.len(), per_region + 17 + 16 + 14 + 14 + 13);
        let essential = inventory_datums(&inv, &[], MetricDetail::Essential, now, Duration::minutes(5), &none);
        assert!(essential.is_empty(), "only the alarms' totals over all regions: {essential:?}");
        let mut other = inventory(vec![group("sg-C", StreamGroupStatus::Error, vec![(1, 1, 1)])]);
        other.region = "eu-central-1".into();
        let alarmed = alarm_datums(&[&inv, &other], None);
        assert_eq!(alarmed.len(), 5);
        // A target's scan: the five per account, and again the four the hub's alarms read.
        let targeted = alarm_datums(&[&inv, &other], Some("222233334444"));
        let (per_account, plain): (Vec<&Datum>, Vec<&Datum>) =
            targeted.iter().partition(|d| d.dimensions.first().is_some_and(|(k, _)| *k == "Account"));
        let hub_alarms: Vec<Datum> = alarmed.iter().filter(|d| d.name != "IdleCapacity").cloned().collect();
        assert_eq!(plain.into_iter().cloned().collect::<Vec<_>>(), hub_alarms);
        assert_eq!(per_account.len(), 5);
        assert!(per_account.iter().zip(&alarmed).all(|(a, b)| a.name == b.name && a.value == b.value));
        let value = |name: &str, dim: Option<&str>| {
            alarmed
                .iter()
                .find(|d| d.name == name && d.dimensions.iter().map(|(_, v)| v.as_str()).eq(dim))
                .unwrap()
                .value
        };
        assert_eq!(value("IdleCapacity", None), 3.0, "sg-A's idle; sg-C is not serving");
        assert_eq!(value("StreamGroups", Some("ERROR")), 1.0);
        assert_eq!(value("StreamGroups", Some("ACTIVE_WITH_ERRORS")), 0.0);
        let priced = BTreeMap::from([("gen5n_high".to_owned(), 2.0)]);
        assert_eq!(inventory_datums(&inv, &[], MetricDetail::Account, now, Duration::minutes(5), &priced).len(), 26);
    }

    #[test]
    fn a_region_that_could_not_be_listed_is_unknown_not_empty() {
        let mut blind = inventory(vec![]);
        blind.unread.push(crate::observe::Unread {
            region: "us-west-2".into(),
            operation: "ListStreamGroups",
            stream_group: None,
            error: "AccessDenied".into(),
            consequence: "the region was not scanned",
        });
        assert!(alarm_datums(&[&blind], Some("333344445555")).is_empty(), "no zeros for an account not read");
        let mut other = inventory(vec![group("sg-C", StreamGroupStatus::Error, vec![(1, 1, 1)])]);
        other.region = "eu-central-1".into();
        let both = alarm_datums(&[&blind, &other], None);
        let failed = both.iter().find(|d| d.name == "StreamGroups" && d.dimensions[0].1 == "ERROR").unwrap();
        assert_eq!(failed.value, 1.0, "the listed region counts");
    }

    #[test]
    fn demand_is_one_in_use_figure_per_location_at_any_detail() {
        let g = group("sg-A", StreamGroupStatus::Active, vec![(4, 4, 1), (2, 2, 2)]);
        let now = Utc::now();
        for detail in [MetricDetail::Essential, MetricDetail::Account, MetricDetail::Group, MetricDetail::Location] {
            let with = group_datums(&g, true, &[], detail, true, now);
            let without = group_datums(&g, true, &[], detail, false, now);
            let in_use: Vec<f64> =
                with.iter().filter(|d| d.name == "InUseCapacity" && d.dimensions.len() == 2).map(|d| d.value).collect();
            assert_eq!(in_use, [3.0, 0.0], "{detail:?}");
            let extra = if detail == MetricDetail::Location { 0 } else { 2 };
            assert_eq!(with.len(), without.len() + extra, "{detail:?}: location detail has demand already");
            assert!(group_datums(&g, false, &[], detail, true, now).iter().all(|d| d.name != "InUseCapacity"));
        }
    }

    #[test]
    fn essential_health_leaves_calls_per_operation_to_the_report() {
        let calls = CallCounts::from([("GetStreamGroup".to_owned(), Default::default())]);
        let essential = health_datums(Duration::seconds(3), &calls, 0, 0, MetricDetail::Essential);
        assert_eq!(essential.len(), 5);
        assert!(essential.iter().all(|d| d.name != "ApiCalls"));
        assert_eq!(health_datums(Duration::seconds(3), &calls, 0, 0, MetricDetail::Account).len(), 6);
    }

    #[test]
    fn idle_capacity_hours_are_exact_and_priced_only_when_told() {
        let groups = vec![
            group("sg-A", StreamGroupStatus::Active, vec![(4, 4, 3)]),
            group("sg-X", StreamGroupStatus::Expired, vec![(4, 0, 0)]),
        ];
        let unpriced = idle_cost(&groups, Duration::minutes(5), &BTreeMap::new());
        assert_eq!(unpriced.idle_capacity_hours, 0.25, "3 idle for 5 minutes");
        assert_eq!(unpriced.cost, None);
        let priced = idle_cost(&groups, Duration::hours(1), &BTreeMap::from([("gen5n_high".to_owned(), 1.5)]));
        assert_eq!(priced.cost, Some(4.5));
        let other = idle_cost(&groups, Duration::hours(1), &BTreeMap::from([("gen6n_pro".to_owned(), 1.5)]));
        assert_eq!(other.cost, Some(0.0));
        assert_eq!(other.unpriced_classes, ["gen5n_high"]);
    }

    #[test]
    fn sessions_are_counted_by_status_with_zeros() {
        let mut inv = inventory(vec![group("sg-A", StreamGroupStatus::Active, vec![(2, 2, 0)])]);
        let at = Utc::now();
        let session = |status| watchdog_core::testkit::session("us-west-2", "sg-A", 1, status, "loc-0", at, at);
        inv.sessions = vec![session(StreamSessionStatus::Connected), session(StreamSessionStatus::Connected)];
        let datums =
            inventory_datums(&inv, &[], MetricDetail::Group, Utc::now(), Duration::minutes(5), &BTreeMap::new());
        let connected = datums
            .iter()
            .find(|d| {
                d.name == "Sessions"
                    && d.dimensions.contains(&("StreamGroupId", "sg-A".into()))
                    && d.dimensions.contains(&("Status", "CONNECTED".into()))
            })
            .unwrap();
        assert_eq!(connected.value, 2.0);
        let sessions_for_a =
            datums.iter().filter(|d| d.name == "Sessions" && d.dimensions.len() == 2 && d.dimensions[0].1 == "sg-A");
        assert_eq!(sessions_for_a.count(), 6);
    }
}
