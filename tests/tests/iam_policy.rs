//! Least privilege, checked against the code: for every function in template.yaml (and in
//! org/spoke-remediation.json, the organisation's spoke remediation derived from it), the
//! gameliftstreams actions its IAM policy allows must be exactly the actions its declared
//! operations need (`Operation::iam_actions`, in `watchdog_core::operations`, where every
//! write is described once). A function cannot call an operation it does not declare: the in-memory world its
//! in-process tests run on refuses it. So a call without permission, or a permission the
//! code no longer needs, fails here rather than in production.

use serde_yaml::Value;
use std::collections::BTreeSet;
use watchdog_core::ports::Operation;
use watchdog_core::reconcile::operations;
use watchdog_tests::lambda::workspace_root;

/// Account-wide list operations: IAM accepts only "*" as their resource.
const ACCOUNT_LIST_OPERATIONS: &[&str] =
    &["ListStreamGroups", "ListStreamSessionsByAccount", "ListApplications", "ListStreamUrls"];

/// The operations each function declares.
fn declared(binary: &str) -> Vec<Operation> {
    match binary {
        "gls-watchdog-scanner" => gls_watchdog_scanner::OPERATIONS.to_vec(),
        "gls-watchdog-recycler" => operations::<gls_watchdog_recycler::Recycler>(),
        "gls-watchdog-trimmer" => operations::<gls_watchdog_trimmer::Trimmer>(),
        other => panic!("template.yaml has a function {other} this test does not know"),
    }
}

struct Function {
    /// The binary, and for the spoke's functions " in the spoke".
    name: String,
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
        out.push(Function { name: binary.clone(), binary, statements });
    }
    out
}

/// The spoke's functions (CloudFormation, expanded by the SAM translator): each function's
/// statements are its role's inline policies.
fn spoke_functions() -> Vec<Function> {
    let text = std::fs::read_to_string(workspace_root().join("org/spoke-remediation.json")).unwrap();
    let spoke: Value = serde_yaml::from_str(&text).unwrap();
    let resources = &spoke["Resources"];
    let mut out = Vec::new();
    for (_, resource) in resources.as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Lambda::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_owned();
        let role = resource["Properties"]["Role"]["Fn::GetAtt"][0].as_str().expect("the function's role");
        let statements = resources[role]["Properties"]["Policies"]
            .as_sequence()
            .expect("inline policies")
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().cloned().unwrap_or_default())
            .collect();
        out.push(Function { name: format!("{binary} in the spoke"), binary, statements });
    }
    assert_eq!(out.len(), 2, "the spoke runs the recycler and the trimmer");
    out
}

/// The functions of both templates.
fn every_function() -> Vec<Function> {
    let mut all = functions(&template());
    all.extend(spoke_functions());
    all
}

/// The strings of a policy element; an intrinsic as its argument (`!Ref X` and `{"Ref": "X"}`
/// as "X", `!GetAtt X.Arn` and `{"Fn::GetAtt": ["X", "Arn"]}` as "X.Arn", a Sub as its text).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(tagged) => strings(&tagged.value),
        Value::Mapping(map) if map.len() == 1 => match map.iter().next() {
            Some((Value::String(key), argument)) if key == "Fn::GetAtt" => vec![strings(argument).join(".")],
            Some((Value::String(key), argument)) if key == "Ref" || key == "Fn::Sub" => strings(argument),
            _ => Vec::new(),
        },
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
    let binaries: BTreeSet<String> = functions(&template()).into_iter().map(|f| f.binary).collect();
    assert_eq!(
        binaries,
        BTreeSet::from(["gls-watchdog-recycler", "gls-watchdog-scanner", "gls-watchdog-trimmer"].map(String::from))
    );
    for function in &every_function() {
        let called: BTreeSet<String> = Operation::iam_actions_of(&declared(&function.binary))
            .into_iter()
            .filter_map(|a| a.strip_prefix("gameliftstreams:").map(str::to_owned))
            .collect();
        let allowed = allowed_gamelift_actions(function);
        assert!(!called.is_empty(), "{}: declares no operations", function.name);
        let missing: Vec<_> = called.difference(&allowed).collect();
        let unused: Vec<_> = allowed.difference(&called).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "{}: the code needs {missing:?} without permission; the policy allows {unused:?} the code never calls",
            function.name
        );
    }
}

#[test]
fn the_scanner_cannot_change_streaming_and_tags_only_its_alert_memory() {
    let template = template();
    let functions = functions(&template);
    let scanner = functions.iter().find(|f| f.binary == "gls-watchdog-scanner").unwrap();
    let mutating: Vec<_> =
        allowed_gamelift_actions(scanner).into_iter().filter(|a| gls_emulator::operations::is_mutating(a)).collect();
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
    for function in every_function() {
        for statement in &function.statements {
            let actions = strings(&statement["Action"]);
            let resources = strings(&statement["Resource"]);
            if actions.iter().all(|a| a.starts_with("gameliftstreams:")) {
                for resource in &resources {
                    if resource == "*" {
                        for action in &actions {
                            let op = action.trim_start_matches("gameliftstreams:");
                            // CreateStreamGroup has no resource-level permissions: "*" only with
                            // a condition on the tags of the request.
                            let narrowed = op == "CreateStreamGroup"
                                && strings(
                                    &statement["Condition"]["StringEquals"]["aws:RequestTag/watchdog:managed-by"],
                                ) == ["gls-watchdog-recycler"];
                            assert!(
                                ACCOUNT_LIST_OPERATIONS.contains(&op) || narrowed,
                                "{}: {op} on * without a narrowing condition",
                                function.name
                            );
                        }
                    } else {
                        assert!(
                            resource.contains(":gameliftstreams:*:${AWS::AccountId}:"),
                            "{}: {resource} is not this account's",
                            function.name
                        );
                    }
                }
            }
            if actions.contains(&"cloudwatch:PutMetricData".to_owned()) {
                assert_eq!(
                    strings(&statement["Condition"]["StringEquals"]["cloudwatch:namespace"]),
                    ["MetricNamespace"],
                    "{}: PutMetricData limited to the watchdog's namespace",
                    function.name
                );
            }
            if actions.contains(&"sns:Publish".to_owned()) {
                assert!(
                    resources.iter().all(|r| ["FindingsTopic", "DigestTopic", "ActionsTopic"].contains(&r.as_str())),
                    "{}: publishes only to its own topics: {resources:?}",
                    function.name
                );
            }
            assert!(!actions.iter().any(|a| a.ends_with(":*")), "{}: wildcard action", function.name);
            // A function acts only in its own account: it assumes no role.
            assert!(!actions.iter().any(|a| a.starts_with("sts:")), "{}: assumes a role", function.name);
        }
    }
}

#[test]
fn every_operation_the_ports_offer_has_iam_actions() {
    let table: BTreeSet<Operation> = Operation::ALL.iter().copied().collect();
    for binary in ["gls-watchdog-scanner", "gls-watchdog-recycler", "gls-watchdog-trimmer"] {
        for op in declared(binary) {
            assert!(table.contains(&op), "{binary}: {op} is not in Operation::ALL");
            assert!(!op.iam_actions().is_empty(), "{binary}: {op} has no IAM actions");
        }
    }
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("emulator/model/service-2.json")).unwrap())
            .unwrap();
    for op in &table {
        assert!(model["operations"].get(op.name()).is_some(), "{op} is not an operation of the service model");
    }
}

/// The Service Authorization Reference for GameLift Streams, vendored in `reference/iam/`
/// (`reference/README.md` says where it came from and when).
fn reference() -> serde_json::Value {
    let path = workspace_root().join("reference/iam/gameliftstreams-authorization.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the reference is JSON")
}

/// Whether `resource` (as the template writes it, `${AWS::...}` unresolved) is an ARN of
/// `resource_type` by the reference's pattern (`arn:${Partition}:gameliftstreams:...`).
fn is_arn_of(resource: &str, pattern: &str) -> bool {
    let resource = resource.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", "111122223333");
    let wanted: Vec<&str> = pattern.split(':').collect();
    let actual: Vec<&str> = resource.split(':').collect();
    wanted.len() == actual.len()
        && wanted.iter().zip(&actual).all(|(w, a)| {
            if w.starts_with("${") {
                return true;
            }
            match (w.split_once('/'), a.split_once('/')) {
                (Some((w_type, _)), Some((a_type, _))) => w_type == a_type,
                (None, None) => w == a,
                _ => false,
            }
        })
}

/// Whether the condition key `key` is one of `supported` (`aws:RequestTag/${TagKey}` covers
/// `aws:RequestTag/watchdog:managed-by`).
fn supports_condition(supported: &[String], key: &str) -> bool {
    supported.iter().any(|s| match s.split_once("${") {
        Some((prefix, _)) => key.starts_with(prefix) && key.len() > prefix.len(),
        None => s == key,
    })
}

#[test]
fn every_statement_fits_the_service_authorization_reference() {
    let reference = reference();
    for function in every_function() {
        for statement in &function.statements {
            let actions: Vec<String> = strings(&statement["Action"])
                .into_iter()
                .filter_map(|a| a.strip_prefix("gameliftstreams:").map(str::to_owned))
                .collect();
            if actions.is_empty() {
                continue;
            }
            let resources = strings(&statement["Resource"]);
            let condition_keys: Vec<String> = statement["Condition"]
                .as_mapping()
                .map(|operators| {
                    operators
                        .values()
                        .filter_map(|keys| keys.as_mapping())
                        .flat_map(|keys| keys.keys().filter_map(|k| k.as_str().map(str::to_owned)))
                        .collect()
                })
                .unwrap_or_default();
            for action in &actions {
                let entry = &reference["actions"][action.as_str()];
                assert!(entry.is_object(), "{}: {action} is not in the reference", function.name);
                let types: Vec<String> = serde_json::from_value(entry["resource_types"].clone()).unwrap();
                let keys: Vec<String> = serde_json::from_value(entry["condition_keys"].clone()).unwrap();
                for resource in &resources {
                    if types.is_empty() {
                        assert_eq!(resource, "*", "{}: {action} has no resource-level permissions", function.name);
                    } else {
                        let fits = types.iter().any(|t| {
                            is_arn_of(resource, reference["resource_types"][t.as_str()].as_str().unwrap_or_default())
                        });
                        assert!(fits, "{}: {action} on {resource}, not a {types:?} ARN", function.name);
                    }
                }
                for key in &condition_keys {
                    assert!(
                        supports_condition(&keys, key),
                        "{}: {action} does not support the condition key {key} (it supports {keys:?})",
                        function.name
                    );
                }
            }
        }
    }
}

#[test]
fn the_reference_checks_can_fail() {
    let group = "arn:${Partition}:gameliftstreams:${Region}:${Account}:streamgroup/${StreamGroupId}";
    assert!(is_arn_of("arn:${AWS::Partition}:gameliftstreams:*:${AWS::AccountId}:streamgroup/*", group));
    assert!(!is_arn_of("arn:${AWS::Partition}:gameliftstreams:*:${AWS::AccountId}:streamsession/*", group));
    let keys = vec!["aws:RequestTag/${TagKey}".to_owned(), "aws:TagKeys".to_owned()];
    assert!(supports_condition(&keys, "aws:RequestTag/watchdog:managed-by"));
    assert!(!supports_condition(&keys, "aws:ResourceTag/team"));
}

/// The organisation's spoke role (org/spoke.yaml) grants the scanner's read actions and
/// nothing else: no tag write, no remediation; its trust is the hub's role inside the
/// organisation only.
#[test]
fn the_spoke_read_role_grants_exactly_the_scanners_reads_to_the_hub_inside_the_organisation() {
    let spoke: Value =
        serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("org/spoke.yaml")).unwrap()).unwrap();
    let role = &spoke["Resources"]["ReadRole"]["Properties"];
    let granted: BTreeSet<String> = role["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().cloned().unwrap_or_default())
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    let reads: BTreeSet<String> = gls_watchdog_scanner::OPERATIONS
        .iter()
        .filter(|op| !op.is_mutating())
        .flat_map(|op| op.iam_actions())
        .collect();
    assert_eq!(granted, reads, "the spoke role grants exactly the scanner's reads");
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Action"].as_str(), Some("sts:AssumeRole"));
    assert!(!strings(&trust["Principal"]["AWS"]).is_empty(), "a named principal, never *");
    assert!(
        trust["Condition"]["StringEquals"]["aws:PrincipalOrgID"].as_mapping().is_some()
            || !strings(&trust["Condition"]["StringEquals"]["aws:PrincipalOrgID"]).is_empty(),
        "only from inside the organisation"
    );
}
