//! One self-contained HTML file (no network, no external script or font): the fleet, a
//! lifecycle timeline (each group's life as a bar with the rotation, 180-day and expiry marks
//! and today), capacity against in-use per location, findings, plans and idle cost. A small
//! script sorts tables by a click on their headers and marks the page ready
//! (`<body data-ready="yes">`), which the browser test checks.

use super::table::escape_html as esc;
use super::text::{self, idle_line};
use crate::view::{GroupRow, View};
use std::fmt::Write;

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d232a; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
th { cursor: pointer; background: #f4f6f8; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.sev-critical { color: #fff; background: #b3261e; } .sev-high { background: #f6c5c0; }
.sev-warning { background: #fbe7b5; } .sev-info { background: #e6eef8; }
.muted { color: #69727d; } .bar-use { fill: #2f6fb3; } .bar-idle { fill: #c9d7e8; }
.life { fill: #d9e4d3; } .life-late { fill: #f3d8a8; } .life-closed { fill: #eab1aa; }
.mark { stroke: #59616b; stroke-width: 1; } .today { stroke: #b3261e; stroke-width: 2; }
svg text { font: 11px system-ui, sans-serif; fill: #1d232a; }
"#;

const SCRIPT: &str = r#"
document.querySelectorAll("table.sortable th").forEach(function (th, index) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.up !== "yes";
    th.dataset.up = up ? "yes" : "no";
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.v || a.cells[index].textContent;
      var y = b.cells[index].dataset.v || b.cells[index].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.dataset.ready = "yes";
"#;

/// Each group's life from creation to expiry on one scale: green until the rotation mark,
/// amber to the 180-day cutoff, red to expiry; marks at the rotation age, 180 and 365 days,
/// and today.
fn timeline(view: &View, rotation_days: f64) -> String {
    let groups: Vec<&GroupRow> = view.groups.iter().filter(|g| g.created_at.is_some()).collect();
    if groups.is_empty() {
        return "<p class=\"muted\">No group has a creation time.</p>".into();
    }
    let (label_w, width, row_h) = (190.0, 760.0, 26.0);
    let start = groups.iter().filter_map(|g| g.created_at).min().unwrap();
    let end = groups.iter().filter_map(|g| g.expires_at).max().unwrap_or(view.now).max(view.now);
    let span = (end - start).num_seconds().max(1) as f64;
    let x = |t: chrono::DateTime<chrono::Utc>| label_w + (t - start).num_seconds() as f64 / span * width;
    let height = row_h * groups.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg id=\"timeline\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"lifecycle timeline\">",
        label_w + width + 20.0
    );
    for (i, g) in groups.iter().enumerate() {
        let created = g.created_at.unwrap();
        let y = 10.0 + row_h * i as f64;
        let day = |d: f64| created + chrono::Duration::seconds((d * 86_400.0) as i64);
        let expires = g.expires_at.unwrap_or(day(365.0));
        let _ = write!(svg, "<g class=\"group-life\" data-group=\"{}\">", esc(&g.id));
        let _ = write!(svg, "<text x=\"0\" y=\"{}\">{} ({})</text>", y + 13.0, esc(&g.id), esc(&g.status));
        let segments = [
            ("life", created, day(rotation_days).min(expires)),
            ("life-late", day(rotation_days).min(expires), day(180.0).min(expires)),
            ("life-closed", day(180.0).min(expires), expires),
        ];
        for (class, from, to) in segments {
            if to > from {
                let _ = write!(
                    svg,
                    "<rect class=\"{class}\" x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"16\"/>",
                    x(from),
                    x(to) - x(from)
                );
            }
        }
        for (d, label) in [(rotation_days, "rotation"), (180.0, "180 d"), (365.0, "365 d")] {
            let at = x(day(d).min(expires));
            let _ = write!(
                svg,
                "<line class=\"mark\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{}\" y2=\"{}\"><title>{label}</title></line>",
                y - 2.0,
                y + 18.0
            );
        }
        svg.push_str("</g>");
    }
    let today = x(view.now);
    let _ = write!(
        svg,
        "<line class=\"today\" x1=\"{today:.1}\" x2=\"{today:.1}\" y1=\"4\" y2=\"{}\"/><text x=\"{:.1}\" y=\"{}\">today</text></svg>",
        height - 18.0,
        today - 14.0,
        height - 4.0
    );
    svg
}

/// Capacity against use, per location: allocated as a bar, in use filled.
fn capacity_bars(view: &View) -> String {
    let max =
        view.groups.iter().flat_map(|g| g.locations.iter()).map(|l| l.allocated.max(l.maximum.unwrap_or(0))).max();
    let Some(max) = max.filter(|m| *m > 0) else {
        return "<p class=\"muted\">No capacity allocated.</p>".into();
    };
    let mut out = String::from(
        "<table class=\"sortable\" id=\"capacity\"><thead><tr><th>stream group</th><th>location</th><th>always-on</th><th>target-idle</th><th>maximum</th><th>allocated</th><th>in use</th><th>idle</th><th>use</th></tr></thead><tbody>",
    );
    for g in &view.groups {
        for l in &g.locations {
            let scale = 200.0 / f64::from(max);
            let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><svg width=\"204\" height=\"14\"><rect class=\"bar-idle\" x=\"0\" y=\"2\" width=\"{:.1}\" height=\"10\"/><rect class=\"bar-use\" x=\"0\" y=\"2\" width=\"{:.1}\" height=\"10\"/></svg></td></tr>",
                esc(&g.id),
                esc(&l.name),
                opt(l.always_on),
                opt(l.target_idle),
                opt(l.maximum),
                l.allocated,
                l.in_use,
                l.idle,
                f64::from(l.allocated) * scale,
                f64::from(l.in_use) * scale
            );
        }
    }
    out.push_str("</tbody></table>");
    out
}

pub fn render(view: &View, rotation_days: f64) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>GameLift Streams watchdog report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        page,
        "<h1>GameLift Streams watchdog report</h1><p class=\"muted\">{} stream groups in {}{} at {}; read-only (nothing was changed). {}</p>",
        view.groups.len(),
        esc(&view.regions.join(", ")),
        if view.spans_accounts() { format!(" of accounts {}", esc(&view.accounts.join(", "))) } else { String::new() },
        view.now.format("%Y-%m-%d %H:%M UTC"),
        if view.complete {
            String::new()
        } else {
            format!("{} items could not be read (listed at the end).", view.unread.len())
        }
    );

    // With more than one account, every table starts with the row's account.
    let account_head = if view.spans_accounts() { "<th>account</th>" } else { "" };
    let account_cell = |account: &str| {
        if view.spans_accounts() { format!("<td>{}</td>", esc(account)) } else { String::new() }
    };
    let _ = write!(page, "<h2>Fleet</h2>{}", text::groups(view).html("fleet"));

    let _ = write!(
        page,
        "<h2>Lifecycle</h2><p class=\"muted\">Green until the rotation age ({rotation_days:.0} days, AWS asks for a new group every 3-4 weeks), amber until day 180 (no new applications after it), red until expiry (day 365 or ExpiresAt); the red line is today.</p>{}",
        timeline(view, rotation_days)
    );
    let _ = write!(page, "<h2>Capacity against use</h2>{}", capacity_bars(view));
    let _ = write!(page, "<p>{}</p>", esc(&idle_line(view)));

    page.push_str("<h2>Findings</h2>");
    if view.findings.is_empty() {
        page.push_str("<p class=\"muted\">No findings.</p>");
    } else {
        let _ = write!(
            page,
            "<table class=\"sortable\" id=\"findings\"><thead><tr>{account_head}<th>severity</th><th>kind</th><th>stream group</th><th>location</th><th>finding</th><th>what to do</th></tr></thead><tbody>"
        );
        let mut findings: Vec<_> = view.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in findings {
            let _ = write!(
                page,
                "<tr>{7}<td class=\"sev-{0}\" data-v=\"{1}\">{0}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>",
                f.severity.as_str(),
                f.severity as u8,
                f.kind.as_str(),
                esc(&f.stream_group_id),
                esc(f.location.as_deref().unwrap_or("")),
                esc(&f.message),
                esc(&f.recommended_action),
                account_cell(watchdog_core::model::arn_account(&f.stream_group_arn).unwrap_or_default())
            );
        }
        page.push_str("</tbody></table>");
    }

    page.push_str("<h2>What the recycler and the trimmer would do</h2>");
    if view.steps.is_empty() {
        page.push_str("<p class=\"muted\">Nothing to do (groups must be opted in; see the README).</p>");
    } else {
        page.push_str(&text::steps(view).html("plans"));
    }
    if !view.waiting.is_empty() {
        page.push_str("<h2>Waiting for a person</h2><ul>");
        for w in &view.waiting {
            let account = if view.spans_accounts() { format!("{} ", esc(&w.account)) } else { String::new() };
            let _ = write!(page, "<li>{account}{} {}: {}</li>", w.function, esc(&w.stream_group), esc(&w.why));
        }
        page.push_str("</ul>");
    }
    if !view.unread.is_empty() {
        page.push_str("<h2>Not read</h2><ul>");
        for u in &view.unread {
            let _ = write!(page, "<li>{}</li>", esc(u));
        }
        page.push_str("</ul>");
    }
    let _ = write!(page, "<script>{SCRIPT}</script></body></html>");
    page
}
