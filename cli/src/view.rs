//! What a person reads, computed once from a look and rendered as terminal tables, HTML or
//! markdown: the fleet, each group's life, capacity against use, findings, plans and money.

use crate::look::Look;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use watchdog_core::lifecycle::{Lifecycle, fractional_days};
use watchdog_core::{StreamGroup, StreamGroupStatus};

#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// The account it lives in (from its ARN).
    pub account: String,
    pub region: String,
    pub id: String,
    pub description: String,
    pub status: String,
    pub class: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub age_days: Option<f64>,
    pub days_to_cutoff: Option<f64>,
    pub days_to_expiry: Option<f64>,
    pub sessions: usize,
    pub locations: Vec<LocationRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocationRow {
    pub name: String,
    pub status: String,
    pub always_on: Option<u32>,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    pub allocated: u32,
    pub in_use: u32,
    pub idle: u32,
}

/// One planned step, with what it saves (positive) or costs (negative).
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub account: String,
    pub function: &'static str,
    pub region: String,
    pub stream_group: String,
    pub action: String,
    pub reason: String,
    /// Only reported: the group belongs to a CloudFormation stack.
    pub reported_only: bool,
    /// Capacity-hours a day the step saves (the trimmer's figure).
    pub capacity_hours_per_day: Option<f64>,
    /// With a price for the group's class: money a 30-day month.
    pub per_month: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub account: String,
    pub function: &'static str,
    pub stream_group: String,
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct View {
    pub now: DateTime<Utc>,
    /// The accounts looked at: more than one gives every table an account column.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub groups: Vec<GroupRow>,
    pub findings: Vec<watchdog_core::findings::Finding>,
    pub steps: Vec<StepRow>,
    pub waiting: Vec<Waiting>,
    pub idle_capacity_hours_per_day: f64,
    pub idle_cost_per_day: Option<f64>,
    pub unpriced_classes: Vec<String>,
    pub unread: Vec<String>,
    pub complete: bool,
}

fn group_row(group: &StreamGroup, sessions: usize, now: DateTime<Utc>) -> GroupRow {
    let life = group.created_at.map(|c| Lifecycle::new(c, group.expires_at, now));
    let days = |f: fn(&Lifecycle) -> chrono::Duration| life.as_ref().map(|l| fractional_days(f(l)));
    GroupRow {
        account: watchdog_core::model::arn_account(&group.arn).unwrap_or_default().to_owned(),
        region: group.region().unwrap_or_default().to_owned(),
        id: group.id.clone(),
        description: group.description.clone().unwrap_or_default(),
        status: group.status.as_str().to_owned(),
        class: group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default(),
        created_at: group.created_at,
        expires_at: life.as_ref().map(|l| l.expires_at),
        age_days: days(Lifecycle::age),
        days_to_cutoff: days(Lifecycle::until_association_cutoff),
        days_to_expiry: days(Lifecycle::until_expiry),
        sessions,
        locations: group
            .locations
            .iter()
            .map(|l| LocationRow {
                name: l.name.clone(),
                status: l.status.as_str().to_owned(),
                always_on: l.capacity.always_on,
                target_idle: l.capacity.target_idle,
                maximum: l.capacity.maximum,
                allocated: l.capacity.allocated,
                in_use: l.capacity.in_use(),
                idle: l.capacity.idle,
            })
            .collect(),
    }
}

/// The step's action name and figures, as the function's report serializes them.
fn step<A: Serialize>(
    account: &str,
    function: &'static str,
    item: &watchdog_core::reconcile::Step<A>,
    reported_only: bool,
    price: Option<f64>,
) -> StepRow {
    let json = serde_json::to_value(item).unwrap_or(Value::Null);
    let hours = json["capacity_hours_per_day"].as_f64();
    StepRow {
        account: account.to_owned(),
        function,
        region: item.region.clone(),
        stream_group: item.stream_group.clone(),
        action: json["action"].as_str().unwrap_or("step").to_owned(),
        reason: item.reason.clone(),
        reported_only,
        capacity_hours_per_day: hours,
        per_month: hours.zip(price).map(|(h, p)| h * p * 30.0),
    }
}

/// The account a look is of: its groups' (a look reads one account), or else `fallback` (the
/// profile's name, for an account without groups).
fn account_of(look: &Look, fallback: &str) -> String {
    let from_arns = look.scan.groups.iter().find_map(|g| watchdog_core::model::arn_account(&g.arn));
    from_arns.unwrap_or(fallback).to_owned()
}

pub fn view(look: &Look) -> View {
    view_of_account(look, &account_of(look, ""))
}

/// One view of several accounts (one look each, labelled by its profile or account): every row
/// keeps its account, the figures add up, and a source that could not be looked at (`failed`:
/// "profile staging", "account 222233334444", and why) is named among the unread items (the
/// others are shown: one account's failure hides nothing of the rest).
pub fn view_of_many(looks: &[(String, Look)], failed: &[(String, String)]) -> View {
    let mut views = looks.iter().map(|(profile, look)| view_of_account(look, &account_of(look, profile)));
    let mut merged = views.next().unwrap_or_else(|| View::empty(Utc::now()));
    for view in views {
        merged.now = merged.now.max(view.now);
        merged.accounts.extend(view.accounts);
        merged.regions.extend(view.regions);
        merged.groups.extend(view.groups);
        merged.findings.extend(view.findings);
        merged.steps.extend(view.steps);
        merged.waiting.extend(view.waiting);
        merged.idle_capacity_hours_per_day += view.idle_capacity_hours_per_day;
        merged.idle_cost_per_day = merged.idle_cost_per_day.zip(view.idle_cost_per_day).map(|(a, b)| a + b);
        merged.unpriced_classes.extend(view.unpriced_classes);
        merged.unread.extend(view.unread);
        merged.complete &= view.complete;
    }
    for (source, why) in failed {
        merged.accounts.push(source.clone());
        merged.unread.push(format!("{source}: not looked at: {why}"));
        merged.complete = false;
    }
    for list in [&mut merged.accounts, &mut merged.regions, &mut merged.unpriced_classes] {
        list.sort();
        list.dedup();
    }
    merged
}

impl View {
    fn empty(now: DateTime<Utc>) -> Self {
        View {
            now,
            accounts: vec![],
            regions: vec![],
            groups: vec![],
            findings: vec![],
            steps: vec![],
            waiting: vec![],
            idle_capacity_hours_per_day: 0.0,
            idle_cost_per_day: Some(0.0),
            unpriced_classes: vec![],
            unread: vec![],
            complete: true,
        }
    }

    /// Whether the rows need an account column.
    pub fn spans_accounts(&self) -> bool {
        self.accounts.len() > 1
    }
}

fn view_of_account(look: &Look, account: &str) -> View {
    let now = look.now;
    let groups: Vec<GroupRow> = look
        .scan
        .groups
        .iter()
        .filter(|g| g.status != StreamGroupStatus::Deleting)
        .map(|g| {
            let sessions =
                look.scan.sessions.iter().filter(|s| s.stream_group_id.as_deref() == Some(g.id.as_str())).count();
            group_row(g, sessions, now)
        })
        .collect();
    let price_of = |group_id: &str| {
        let class = groups.iter().find(|g| g.id == group_id).map(|g| g.class.clone())?;
        look.prices.get(&class).copied()
    };
    let mut steps = Vec::new();
    let mut waiting = Vec::new();
    if let Some(report) = &look.recycler {
        for (items, reported_only) in [(&report.plan.items, false), (&report.plan.reported_only, true)] {
            steps.extend(items.iter().map(|i| step(account, "recycler", i, reported_only, price_of(&i.stream_group))));
        }
        waiting.extend(report.plan.blocked.iter().map(|b| Waiting {
            account: account.to_owned(),
            function: "recycler",
            stream_group: b.stream_group.clone(),
            why: format!("{}: {}", b.reason, b.detail),
        }));
    }
    if let Some(report) = &look.trimmer {
        for (items, reported_only) in [(&report.plan.items, false), (&report.plan.reported_only, true)] {
            steps.extend(items.iter().map(|i| step(account, "trimmer", i, reported_only, price_of(&i.stream_group))));
        }
    }
    // The scanner's own idle cost, over a day instead of its schedule period.
    let idle = gls_watchdog_scanner::metrics::idle_cost(&look.scan.groups, chrono::Duration::days(1), &look.prices);
    View {
        now,
        accounts: if account.is_empty() { vec![] } else { vec![account.to_owned()] },
        regions: look.scan.regions.clone(),
        groups,
        findings: look.scan.findings.clone(),
        steps,
        waiting,
        idle_capacity_hours_per_day: idle.idle_capacity_hours,
        idle_cost_per_day: idle.cost,
        unpriced_classes: idle.unpriced_classes,
        unread: look
            .scan
            .unread
            .iter()
            .map(|u| {
                let group = u.stream_group.as_deref().map(|g| format!(" {g}")).unwrap_or_default();
                format!("{} {}{group}: {} ({})", u.region, u.operation, u.error, u.consequence)
            })
            .collect(),
        complete: look.scan.complete,
    }
}
