//! Terminal tables, and the markdown a ticket takes: the same rows, two renderings.

use crate::view::View;
use std::fmt::Write;

/// Columns padded to their widest cell; markdown uses pipes instead.
pub struct Table {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: Vec<&'static str>) -> Self {
        Self { head, rows: Vec::new() }
    }

    pub fn text(&self) -> String {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> =
                cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = widths[i])).collect();
            padded.join("  ").trim_end().to_owned() + "\n"
        };
        let mut out = line(self.head.clone());
        out += &line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect());
        for row in &self.rows {
            out += &line(row.iter().map(String::as_str).collect());
        }
        out
    }

    pub fn markdown(&self) -> String {
        let escape = |c: &str| c.replace('|', "\\|");
        let mut out = format!("| {} |\n", self.head.join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.head.len()));
        for row in &self.rows {
            out += &format!("| {} |\n", row.iter().map(|c| escape(c)).collect::<Vec<_>>().join(" | "));
        }
        out
    }
}

pub fn days(value: Option<f64>) -> String {
    value.map(|d| format!("{d:.1}")).unwrap_or_else(|| "-".into())
}

fn count(value: Option<u32>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn money(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

/// The table's columns, with the account first when the view spans accounts.
fn head(view: &View, columns: Vec<&'static str>) -> Table {
    let account = view.spans_accounts().then_some("account");
    Table::new(account.into_iter().chain(columns).collect())
}

/// A row of `head`'s table: `account` first when the view spans accounts.
fn row(view: &View, account: &str, cells: Vec<String>) -> Vec<String> {
    let account = view.spans_accounts().then(|| account.to_owned());
    account.into_iter().chain(cells).collect()
}

pub fn groups(view: &View) -> Table {
    let mut table = head(
        view,
        vec![
            "region",
            "stream group",
            "description",
            "status",
            "class",
            "age (d)",
            "to cutoff (d)",
            "to expiry (d)",
            "sessions",
        ],
    );
    for g in &view.groups {
        table.rows.push(row(
            view,
            &g.account,
            vec![
                g.region.clone(),
                g.id.clone(),
                g.description.clone(),
                g.status.clone(),
                g.class.clone(),
                days(g.age_days),
                days(g.days_to_cutoff),
                days(g.days_to_expiry),
                g.sessions.to_string(),
            ],
        ));
    }
    table
}

pub fn capacity(view: &View) -> Table {
    let mut table = head(
        view,
        vec![
            "stream group",
            "location",
            "status",
            "always-on",
            "target-idle",
            "maximum",
            "allocated",
            "in use",
            "idle",
        ],
    );
    for g in &view.groups {
        for l in &g.locations {
            table.rows.push(row(
                view,
                &g.account,
                vec![
                    g.id.clone(),
                    l.name.clone(),
                    l.status.clone(),
                    count(l.always_on),
                    count(l.target_idle),
                    count(l.maximum),
                    l.allocated.to_string(),
                    l.in_use.to_string(),
                    l.idle.to_string(),
                ],
            ));
        }
    }
    table
}

pub fn findings(view: &View) -> Table {
    let mut table = head(view, vec!["severity", "kind", "stream group", "location", "finding"]);
    let mut sorted: Vec<_> = view.findings.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.stream_group_id.cmp(&b.stream_group_id)));
    for f in sorted {
        let account = watchdog_core::model::arn_account(&f.stream_group_arn).unwrap_or_default();
        table.rows.push(row(
            view,
            account,
            vec![
                f.severity.as_str().to_owned(),
                f.kind.as_str().to_owned(),
                f.stream_group_id.clone(),
                f.location.clone().unwrap_or_default(),
                f.message.clone(),
            ],
        ));
    }
    table
}

pub fn steps(view: &View) -> Table {
    let mut table =
        head(view, vec!["function", "stream group", "step", "reason", "capacity-h/day saved", "$/month saved"]);
    for s in &view.steps {
        let step = if s.reported_only { format!("{} (reported only)", s.action) } else { s.action.clone() };
        table.rows.push(row(
            view,
            &s.account,
            vec![
                s.function.to_owned(),
                s.stream_group.clone(),
                step,
                s.reason.clone(),
                s.capacity_hours_per_day.map(|h| format!("{h:.1}")).unwrap_or_else(|| "-".into()),
                money(s.per_month),
            ],
        ));
    }
    table
}

pub fn waiting(view: &View) -> Table {
    let mut table = head(view, vec!["function", "stream group", "waiting for"]);
    for w in &view.waiting {
        table.rows.push(row(view, &w.account, vec![w.function.to_owned(), w.stream_group.clone(), w.why.clone()]));
    }
    table
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
    fn columns_line_up_and_markdown_escapes_pipes() {
        let mut table = Table::new(vec!["a", "long head"]);
        table.rows.push(vec!["wide cell".into(), "x|y".into()]);
        assert_eq!(table.text(), "a          long head\n---------  ---------\nwide cell  x|y\n");
        assert_eq!(table.markdown(), "| a | long head |\n|---|---|\n| wide cell | x\\|y |\n");
    }

    #[test]
    fn the_savings_line_never_says_minus_zero() {
        assert_eq!(savings_line(-0.01), "The trimmer's steps change no paid capacity-hours.");
        assert_eq!(savings_line(0.0), "The trimmer's steps change no paid capacity-hours.");
        assert_eq!(savings_line(48.0), "The trimmer's steps save 48.0 capacity-hours a day.");
        assert_eq!(savings_line(-24.0), "The trimmer's steps add 24.0 capacity-hours a day (capacity raised back).");
    }
}
