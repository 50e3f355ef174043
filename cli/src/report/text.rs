//! The view's tables (each described once, column by column, in [`super::table`]) and the
//! text around them: terminal sections, and the markdown a ticket takes.

use super::table::{Column, Item, Table};
use crate::view::{GroupRow, LocationRow, StepRow, View, Waiting};
use std::fmt::Write;
use watchdog_core::findings::Finding;

/// A figure with `decimals` decimals (days and capacity-hours 1, money 2), or "-" for none.
fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

fn count(value: Option<u32>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn group_columns<'a>() -> [Column<&'a GroupRow>; 9] {
    [
        Column::words("region", |g| g.region.clone()),
        Column::words("stream group", |g| g.id.clone()),
        Column::words("description", |g| g.description.clone()),
        Column::words("status", |g| g.status.clone()),
        Column::words("class", |g| g.class.clone()),
        Column::figures("age (d)", |g| figure(g.age_days, 1)),
        Column::figures("to cutoff (d)", |g| figure(g.days_to_cutoff, 1)),
        Column::figures("to expiry (d)", |g| figure(g.days_to_expiry, 1)),
        Column::figures("sessions", |g| g.sessions.to_string()),
    ]
}

/// The fleet: a row a stream group.
pub fn groups(view: &View) -> Table {
    let items = view.groups.iter().map(|g| Item { account: &g.account, group: &g.id, value: g });
    Table::of(view.spans_accounts(), &group_columns(), items)
}

fn location_columns<'a>() -> [Column<(&'a GroupRow, &'a LocationRow)>; 9] {
    [
        Column::words("stream group", |(g, _)| g.id.clone()),
        Column::words("location", |(_, l)| l.name.clone()),
        Column::words("status", |(_, l)| l.status.clone()),
        Column::figures("always-on", |(_, l)| count(l.always_on)),
        Column::figures("target-idle", |(_, l)| count(l.target_idle)),
        Column::figures("maximum", |(_, l)| count(l.maximum)),
        Column::figures("allocated", |(_, l)| l.allocated.to_string()),
        Column::figures("in use", |(_, l)| l.in_use.to_string()),
        Column::figures("idle", |(_, l)| l.idle.to_string()),
    ]
}

/// Capacity: a row a location of a stream group.
pub fn capacity(view: &View) -> Table {
    let items = view
        .groups
        .iter()
        .flat_map(|g| g.locations.iter().map(move |l| Item { account: &g.account, group: &g.id, value: (g, l) }));
    Table::of(view.spans_accounts(), &location_columns(), items)
}

fn finding_columns<'a>() -> [Column<&'a Finding>; 5] {
    [
        Column::words("severity", |f| f.severity.as_str().to_owned()),
        Column::words("kind", |f| f.kind.as_str().to_owned()),
        Column::words("stream group", |f| f.stream_group_id.clone()),
        Column::words("location", |f| f.location.clone().unwrap_or_default()),
        Column::words("finding", |f| f.message.clone()),
    ]
}

/// Findings, the most severe first.
pub fn findings(view: &View) -> Table {
    let mut sorted: Vec<_> = view.findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.stream_group_id.cmp(&b.stream_group_id)));
    let items = sorted.into_iter().map(|f| Item {
        account: watchdog_core::model::arn_account(&f.stream_group_arn).unwrap_or_default(),
        group: &f.stream_group_id,
        value: f,
    });
    Table::of(view.spans_accounts(), &finding_columns(), items)
}

fn step_columns<'a>() -> [Column<&'a StepRow>; 6] {
    [
        Column::words("function", |s| s.function.to_owned()),
        Column::words("stream group", |s| s.stream_group.clone()),
        Column::words(
            "step",
            |s| {
                if s.reported_only { format!("{} (reported only)", s.action) } else { s.action.clone() }
            },
        ),
        Column::words("reason", |s| s.reason.clone()),
        Column::figures("capacity-h/day saved", |s| figure(s.capacity_hours_per_day, 1)),
        Column::figures("$/month saved", |s| figure(s.per_month, 2)),
    ]
}

/// What the remediation functions would do: a row a step.
pub fn steps(view: &View) -> Table {
    let items = view.steps.iter().map(|s| Item { account: &s.account, group: &s.stream_group, value: s });
    Table::of(view.spans_accounts(), &step_columns(), items)
}

fn waiting_columns<'a>() -> [Column<&'a Waiting>; 3] {
    [
        Column::words("function", |w| w.function.to_owned()),
        Column::words("stream group", |w| w.stream_group.clone()),
        Column::words("waiting for", |w| w.why.clone()),
    ]
}

/// What waits for a person.
pub fn waiting(view: &View) -> Table {
    let items = view.waiting.iter().map(|w| Item { account: &w.account, group: &w.stream_group, value: w });
    Table::of(view.spans_accounts(), &waiting_columns(), items)
}

/// The idle line: capacity-hours a day at the current idle level, and money with prices.
pub fn idle_line(view: &View) -> String {
    let mut line =
        format!("Idle capacity: {:.1} capacity-hours a day at the current level", view.idle_capacity_hours_per_day);
    if let Some(cost) = view.idle_cost_per_day {
        let _ = write!(line, ", {cost:.2} a day ({:.2} a 30-day month)", cost * 30.0);
    } else {
        line.push_str(" (pass --prices for money)");
    }
    if !view.unpriced_classes.is_empty() {
        let _ = write!(line, "; no price for {}", view.unpriced_classes.join(", "));
    }
    line
}

/// A section: title, then the table or a sentence saying it is empty.
fn section(out: &mut String, title: &str, table: &Table, empty: &str, markdown: bool) {
    if markdown {
        let _ = writeln!(out, "\n## {title}\n");
        out.push_str(&if table.rows.is_empty() { format!("{empty}\n") } else { table.markdown() });
    } else {
        let _ = writeln!(out, "\n{title}\n");
        out.push_str(&if table.rows.is_empty() { format!("  {empty}\n") } else { table.text() });
    }
}

pub fn scan(view: &View, markdown: bool) -> String {
    let mut out = String::new();
    section(&mut out, "Stream groups", &groups(view), "No stream groups.", markdown);
    section(&mut out, "Capacity by location", &capacity(view), "No locations read.", markdown);
    section(&mut out, "Findings", &findings(view), "No findings.", markdown);
    out.push('\n');
    out.push_str(&idle_line(view));
    out.push('\n');
    unread(&mut out, view);
    out
}

pub fn plan(view: &View, markdown: bool) -> String {
    let mut out = String::new();
    section(&mut out, "What the recycler and the trimmer would do", &steps(view), "Nothing to do.", markdown);
    section(&mut out, "Waiting for a person", &waiting(view), "Nothing is waiting.", markdown);
    let saved: f64 = view.steps.iter().filter(|s| !s.reported_only).filter_map(|s| s.capacity_hours_per_day).sum();
    let _ = writeln!(out, "\n{}", savings_line(saved));
    unread(&mut out, view);
    out
}

/// What the trimmer's steps do to the paid capacity-hours, never "save -0.0": raising capacity
/// back to the studio's level adds hours.
fn savings_line(saved: f64) -> String {
    if saved >= 0.05 {
        format!("The trimmer's steps save {saved:.1} capacity-hours a day.")
    } else if saved <= -0.05 {
        format!("The trimmer's steps add {:.1} capacity-hours a day (capacity raised back).", -saved)
    } else {
        "The trimmer's steps change no paid capacity-hours.".to_owned()
    }
}

fn unread(out: &mut String, view: &View) {
    if !view.unread.is_empty() {
        let _ = writeln!(out, "\nNot read ({}): the figures above leave these out", view.unread.len());
        for u in &view.unread {
            let _ = writeln!(out, "  - {u}");
        }
    }
}

/// The whole look as markdown, for a ticket.
pub fn markdown(view: &View) -> String {
    let mut out = format!(
        "# GameLift Streams watchdog report\n\n{} groups in {} at {}.\n",
        view.groups.len(),
        view.regions.join(", "),
        view.now.format("%Y-%m-%d %H:%M UTC")
    );
    out.push_str(&scan(view, true));
    out.push_str(&plan(view, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_savings_line_never_says_minus_zero() {
        assert_eq!(savings_line(-0.01), "The trimmer's steps change no paid capacity-hours.");
        assert_eq!(savings_line(0.0), "The trimmer's steps change no paid capacity-hours.");
        assert_eq!(savings_line(48.0), "The trimmer's steps save 48.0 capacity-hours a day.");
        assert_eq!(savings_line(-24.0), "The trimmer's steps add 24.0 capacity-hours a day (capacity raised back).");
    }
}
