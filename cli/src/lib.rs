//! The `gls-watchdog` command line: the watchdog's own functions on read-only ports, and what
//! they see rendered for people (tables, HTML, markdown) and machines (JSON). See main.rs for
//! the commands and exit codes.

pub mod connect;
pub mod look;
pub mod read_only;
pub mod report;
pub mod restore;
pub mod view;

/// A restore's outcome, one line per group.
pub fn restore_text(report: &restore::RestoreReport) -> String {
    let mut out = String::new();
    if report.groups.is_empty() {
        out.push_str("No stream group chosen.\n");
    }
    for g in &report.groups {
        out.push_str(&format!("{} {}: {}\n", g.region, g.stream_group, g.outcome));
        for l in &g.locations {
            let max = l.maximum.map(|m| format!(", maximum {m}")).unwrap_or_default();
            out.push_str(&format!(
                "  {}: always-on/target-idle {}/{} -> {}/{}{max}\n",
                l.location, l.from.0, l.from.1, l.to.0, l.to.1
            ));
        }
    }
    out
}
