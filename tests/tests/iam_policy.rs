//! Least privilege, checked against the code: for every function in template.yaml, the
//! gameliftstreams actions its IAM policy allows must be exactly the actions its declared
//! operations need, by the adapter's table (`watchdog_aws::gamelift::IAM_ACTIONS`, next to the
//! calls). A function cannot call an operation it does not declare: the in-memory world its
//! in-process tests run on refuses it. So a call without permission, or a permission the
//! code no longer needs, fails here rather than in production.

use serde_yaml::Value;
use std::collections::BTreeSet;
use watchdog_core::ports::Operation;
use watchdog_tests::lambda::workspace_root;

/// Account-wide list operations: IAM accepts only "*" as their resource.
const ACCOUNT_LIST_OPERATIONS: &[&str] = &["ListStreamGroups", "ListStreamSessionsByAccount", "ListApplications"];

/// The operations each function declares.
fn declared(binary: &str) -> &'static [Operation] {
    match binary {
        "gls-watchdog-scanner" => gls_watchdog_scanner::OPERATIONS,
        "gls-watchdog-recycler" => gls_watchdog_recycler::OPERATIONS,
        "gls-watchdog-trimmer" => gls_watchdog_trimmer::OPERATIONS,
        other => panic!("template.yaml has a function {other} this test does not know"),
    }
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

#[test]
fn each_policy_allows_exactly_the_gameliftstreams_actions_its_operations_need() {
    let template = template();
    let functions = functions(&template);
    let binaries: BTreeSet<&str> = functions.iter().map(|f| f.binary.as_str()).collect();
    assert_eq!(binaries, BTreeSet::from(["gls-watchdog-recycler", "gls-watchdog-scanner", "gls-watchdog-trimmer"]));
    for function in &functions {
        let called: BTreeSet<String> = watchdog_aws::gamelift::iam_actions(declared(&function.binary))
            .into_iter()
            .filter_map(|a| a.strip_prefix("gameliftstreams:").map(str::to_owned))
            .collect();
        let allowed = allowed_gamelift_actions(function);
        assert!(!called.is_empty(), "{}: declares no operations", function.binary);
        let missing: Vec<_> = called.difference(&allowed).collect();
        let unused: Vec<_> = allowed.difference(&called).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "{}: the code needs {missing:?} without permission; the policy allows {unused:?} the code never calls",
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

#[test]
fn every_operation_the_ports_offer_has_iam_actions() {
    let table: BTreeSet<Operation> = watchdog_aws::gamelift::IAM_ACTIONS.iter().map(|(op, _)| *op).collect();
    for binary in ["gls-watchdog-scanner", "gls-watchdog-recycler", "gls-watchdog-trimmer"] {
        for op in declared(binary) {
            assert!(table.contains(op), "{binary}: {op} has no IAM actions in the adapter's table");
        }
    }
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("emulator/model/service-2.json")).unwrap())
            .unwrap();
    for op in &table {
        assert!(model["operations"].get(op.name()).is_some(), "{op} is not an operation of the service model");
    }
}
