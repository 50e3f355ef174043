//! Tables in docs/ that cannot drift from the code: each is compared with what the code
//! declares, so a tag added without its row (or a row for a tag that is gone) fails here.

use std::collections::BTreeSet;
use watchdog_tests::lambda::workspace_root;

/// Every `watchdog:` string a `pub const` in core/src declares: the tags the code knows.
fn tags_in_code() -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let mut files = vec![workspace_root().join("core/src/opt_in.rs")];
    for entry in std::fs::read_dir(workspace_root().join("core/src/tags")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for file in files {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let line = line.trim();
            if line.starts_with("pub const")
                && let Some(start) = line.find("\"watchdog:")
            {
                let rest = &line[start + 1..];
                tags.insert(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
    }
    tags
}

/// The first column of the table in `docs/<page>`, without its backticks.
fn first_column(page: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("docs").join(page)).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_start_matches("| `").split('`').next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_tag_the_code_declares_has_its_row_and_every_row_a_tag() {
    let code = tags_in_code();
    assert!(code.len() >= 15, "the constants were found: {code:?}");
    let mut documented = first_column("tags.md");
    // The two opt-in tags are configuration defaults, not constants.
    for default in ["watchdog:recycle", "watchdog:trim"] {
        assert!(documented.remove(default), "{default} has its row");
    }
    let missing: Vec<&String> = code.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&code).collect();
    assert!(missing.is_empty(), "tags without a row in docs/tags.md: {missing:?}");
    assert!(stale.is_empty(), "rows in docs/tags.md for tags the code does not have: {stale:?}");
}

/// Every Lambda error type the code can fail with: RunError's `error_type()` arms and the
/// `error_type: "..."` literals of the adapter and the functions.
fn error_types_in_code() -> BTreeSet<String> {
    let mut types = BTreeSet::new();
    let report = std::fs::read_to_string(workspace_root().join("core/src/reconcile/report.rs")).unwrap();
    let body = report.split("fn error_type").nth(1).expect("RunError::error_type").split("\n    }").next().unwrap();
    for arm in body.lines().filter_map(|l| l.split("=> \"").nth(1)) {
        types.insert(arm.split('"').next().unwrap().to_owned());
    }
    let sources = ["aws/src/lambda.rs", "functions/scanner/src/lib.rs"];
    for source in sources {
        let text = std::fs::read_to_string(workspace_root().join(source)).unwrap();
        for literal in text.split("error_type: \"").skip(1) {
            types.insert(literal.split('"').next().unwrap().to_owned());
        }
    }
    types
}

#[test]
fn every_error_type_the_code_can_fail_with_has_its_row_and_every_row_an_error_type() {
    let code = error_types_in_code();
    assert!(code.len() >= 6, "the error types were found: {code:?}");
    let documented = first_column("errors.md");
    assert_eq!(documented, code, "docs/errors.md and the code disagree");
}

/// Every alarm of a template, with what it costs a month: $0.10 for each metric it reads
/// (a metric-math alarm pays for every metric of its expression).
fn alarms_in_template(path: &str) -> std::collections::BTreeMap<String, String> {
    let template = watchdog_tests::template_signals::template(path);
    let mut alarms = std::collections::BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let properties = &resource["Properties"];
        let metrics = match properties["Metrics"].as_sequence() {
            Some(queries) => queries.iter().filter(|q| !q["MetricStat"].is_null()).count(),
            None => 1,
        };
        let name = properties["AlarmName"].as_str().expect("a fixed alarm name").to_owned();
        alarms.insert(name, format!("{:.2}", 0.10 * metrics as f64));
    }
    alarms
}

/// The alarm table of `docs/<page>` (name, $ / month).
fn alarm_table(page: &str) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace_root().join("docs").join(page)).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `gls-watchdog-"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn every_alarm_has_its_row_with_what_it_costs() {
    let template = alarms_in_template("template.yaml");
    assert!(template.len() >= 8, "{template:?}");
    assert_eq!(alarm_table("deploying.md"), template, "docs/deploying.md's alarm table and template.yaml disagree");
    let hub = alarms_in_template("org/hub.yaml");
    assert!(hub.len() >= 4, "{hub:?}");
    assert_eq!(alarm_table("organisation.md"), hub, "docs/organisation.md's alarm table and org/hub.yaml disagree");
}
