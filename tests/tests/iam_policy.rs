//! Least privilege, checked against the code: for every function in template.yaml, the
//! gameliftstreams actions its IAM policy allows must be exactly the operations its code can
//! call (plus the actions IAM requires alongside them). Adding a call without the permission,
//! or leaving a permission the code no longer needs, fails here rather than in production.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use watchdog_tests::lambda::workspace_root;

/// Operations IAM authorizes with more than one action (Service Authorization Reference:
/// CreateStreamGroup also needs AssociateApplications and, with tags, TagResource).
const DEPENDENT_ACTIONS: &[(&str, &[&str])] = &[("CreateStreamGroup", &["AssociateApplications", "TagResource"])];

/// Account-wide list operations: IAM accepts only "*" as their resource.
const ACCOUNT_LIST_OPERATIONS: &[&str] = &["ListStreamGroups", "ListStreamSessionsByAccount", "ListApplications"];

fn snake(operation: &str) -> String {
    let mut out = String::new();
    for (i, c) in operation.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn operations() -> Vec<String> {
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("emulator/model/service-2.json")).unwrap())
            .unwrap();
    model["operations"].as_object().unwrap().keys().cloned().collect()
}

fn rust_sources(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

/// SDK operations called directly in `source` (`.list_stream_groups()` and the like).
fn direct_calls(source: &str, operations: &[String]) -> BTreeSet<String> {
    operations.iter().filter(|op| source.contains(&format!(".{}()", snake(op)))).cloned().collect()
}

/// The shared crate's `Api` helpers (shared/src/gamelift.rs) and the operations each calls.
fn shared_helpers(operations: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let source = std::fs::read_to_string(workspace_root().join("shared/src/gamelift.rs")).unwrap();
    let mut helpers = BTreeMap::new();
    for chunk in source.split("pub async fn ").skip(1) {
        let name: String = chunk.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let body = chunk.split("\n    }\n").next().unwrap_or(chunk);
        helpers.insert(name, direct_calls(body, operations));
    }
    assert!(helpers.len() >= 5, "found the Api helpers: {helpers:?}");
    helpers
}

/// Every gameliftstreams operation a function's code can call.
fn called_by(package_dir: &Path, operations: &[String]) -> BTreeSet<String> {
    let source = rust_sources(package_dir);
    let mut called = direct_calls(&source, operations);
    for (helper, ops) in shared_helpers(operations) {
        if source.contains(&format!(".{helper}(")) {
            called.extend(ops);
        }
    }
    for (operation, dependents) in DEPENDENT_ACTIONS {
        if called.contains(*operation) {
            called.extend(dependents.iter().map(|d| d.to_string()));
        }
    }
    called
}

struct Function {
    binary: String,
    statements: Vec<Value>,
}

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()).unwrap()
}

fn functions(template: &Value) -> Vec<Function> {
    let mut out = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned();
        let statements = resource["Properties"]["Policies"]
            .as_sequence()
            .expect("inline policies")
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .collect();
        out.push(Function { binary, statements });
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(tagged) => strings(&tagged.value),
        _ => Vec::new(),
    }
}

fn allowed_gamelift_actions(function: &Function) -> BTreeSet<String> {
    function
        .statements
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .filter_map(|a| a.strip_prefix("gameliftstreams:").map(str::to_owned))
        .collect()
}

fn package_dir(binary: &str) -> PathBuf {
    workspace_root().join("functions").join(binary.trim_start_matches("gls-watchdog-"))
}

#[test]
fn each_policy_allows_exactly_the_gameliftstreams_operations_its_code_calls() {
    let operations = operations();
    let template = template();
    let functions = functions(&template);
    let binaries: BTreeSet<&str> = functions.iter().map(|f| f.binary.as_str()).collect();
    assert_eq!(binaries, BTreeSet::from(["gls-watchdog-recycler", "gls-watchdog-scanner", "gls-watchdog-trimmer"]));
    for function in &functions {
        let called = called_by(&package_dir(&function.binary), &operations);
        let allowed = allowed_gamelift_actions(function);
        assert!(!called.is_empty(), "{}: found no calls; is the scan broken?", function.binary);
        let missing: Vec<_> = called.difference(&allowed).collect();
        let unused: Vec<_> = allowed.difference(&called).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "{}: the code calls {missing:?} without permission; the policy allows {unused:?} the code never calls",
            function.binary
        );
    }
}

#[test]
fn the_scanner_cannot_change_streaming_and_tags_only_its_alert_memory() {
    let template = template();
    let functions = functions(&template);
    let scanner = functions.iter().find(|f| f.binary == "gls-watchdog-scanner").unwrap();
    let mutating: Vec<_> = allowed_gamelift_actions(scanner)
        .into_iter()
        .filter(|a| gls_emulator::operations::MUTATING.contains(&a.as_str()))
        .collect();
    assert_eq!(mutating, ["TagResource", "UntagResource"], "only tag writes");
    for statement in &scanner.statements {
        let actions = strings(&statement["Action"]);
        if actions.iter().any(|a| a.ends_with("TagResource")) {
            assert_eq!(
                strings(&statement["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"]),
                ["watchdog:alert:*"],
                "tag writes limited to the alert memory"
            );
        }
    }
}

#[test]
fn resources_are_this_accounts_and_publishing_is_scoped() {
    let template = template();
    for function in functions(&template) {
        for statement in &function.statements {
            let actions = strings(&statement["Action"]);
            let resources = strings(&statement["Resource"]);
            if actions.iter().all(|a| a.starts_with("gameliftstreams:")) {
                for resource in &resources {
                    if resource == "*" {
                        for action in &actions {
                            let op = action.trim_start_matches("gameliftstreams:");
                            assert!(ACCOUNT_LIST_OPERATIONS.contains(&op), "{}: {op} on *", function.binary);
                        }
                    } else {
                        assert!(
                            resource.contains(":gameliftstreams:*:${AWS::AccountId}:"),
                            "{}: {resource} is not this account's",
                            function.binary
                        );
                    }
                }
            }
            if actions.contains(&"cloudwatch:PutMetricData".to_owned()) {
                assert_eq!(
                    strings(&statement["Condition"]["StringEquals"]["cloudwatch:namespace"]),
                    ["MetricNamespace"],
                    "{}: PutMetricData limited to the watchdog's namespace",
                    function.binary
                );
            }
            if actions.contains(&"sns:Publish".to_owned()) {
                assert!(
                    resources.iter().all(|r| r == "FindingsTopic" || r == "ActionsTopic"),
                    "{}: publishes only to its own topics: {resources:?}",
                    function.binary
                );
            }
            assert!(!actions.iter().any(|a| a.ends_with(":*")), "{}: wildcard action", function.binary);
        }
    }
}
