//! The organisation's spoke remediation functions (org/spoke-remediation.json, derived from
//! template.yaml by scripts/spoke-remediation). LocalStack cannot create a Lambda function
//! without a container engine, so the recycler runs under cargo lambda with the environment
//! its definition gives at the stack's parameter defaults, signed as one member account of an
//! emulator that plays two: it plans in dry run, and once a studio sets RecyclerDryRun=false
//! it recreates only its own account's opted-in group.

use serde_json::Value;
use std::time::Duration;
use watchdog_tests::lambda::{LambdaWatch, workspace_root};
use watchdog_tests::stage::Stage;
use watchdog_tests::{ACCOUNT, fleet_file, frozen_config};

const RECYCLER: &str = "gls-watchdog-recycler";
const OTHER_ACCOUNT: &str = "222233334444";
const APPS: &str = include_str!("../fleets/recycler-lambda-apps.toml");

/// A 29-day-old group opted in to recreation with the template's default tag.
fn aging_group(id: &str) -> String {
    format!("{APPS}{}", fleet_file("spoke-remediation-group.toml", &[("id", id)]))
}

fn spoke_template() -> Value {
    let path = workspace_root().join("org/spoke-remediation.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("org/spoke-remediation.json")).expect("JSON")
}

/// The environment the stack gives `function`: each parameter at its default unless
/// `parameters` sets it, each resource it names as the test stood it up in `resources`.
fn environment_of(
    template: &Value,
    function: &str,
    parameters: &[(&str, &str)],
    resources: &[(&str, &str)],
) -> Vec<(String, String)> {
    let variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{function} has no environment"));
    variables
        .iter()
        .map(|(name, value)| {
            let resolved = match value {
                Value::String(literal) => literal.clone(),
                Value::Object(intrinsic) if intrinsic.contains_key("Ref") => {
                    let target = intrinsic["Ref"].as_str().expect("a Ref names a string");
                    if let Some((_, set)) = parameters.iter().chain(resources).find(|(key, _)| *key == target) {
                        set.to_string()
                    } else {
                        match &template["Parameters"][target]["Default"] {
                            Value::String(default) => default.clone(),
                            Value::Number(default) => default.to_string(),
                            _ => panic!("{name} refers to {target}, which has no default and the test did not set"),
                        }
                    }
                }
                other => panic!("{name}: {other} is an intrinsic this test does not resolve"),
            };
            (name.clone(), resolved)
        })
        .collect()
}

#[test]
fn the_spoke_runs_the_remediation_functions_and_not_the_scanner() {
    let template = spoke_template();
    assert!(template.get("Transform").is_none(), "service-managed StackSets cannot run a transform");
    let resources = template["Resources"].as_object().unwrap();
    assert!(resources.values().all(|r| !r["Type"].as_str().unwrap().starts_with("AWS::Serverless::")));
    let mut binaries: Vec<&str> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .map(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str().expect("the binary"))
        .collect();
    binaries.sort();
    assert_eq!(binaries, ["gls-watchdog-recycler", "gls-watchdog-trimmer"]);
    for (name, resource) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::Lambda::Function") {
        assert_eq!(
            resource["Properties"]["Code"]["S3Bucket"],
            serde_json::json!({ "Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}" }),
            "{name}: Lambda reads code from a bucket in the function's Region"
        );
    }
    // Opt-in and dry run are the defaults, as in template.yaml.
    for parameter in ["RecyclerDryRun", "TrimmerDryRun"] {
        assert_eq!(template["Parameters"][parameter]["Default"], "true", "{parameter}");
    }
    for parameter in ["RecyclerManageAllGroups", "TrimmerManageAllGroups"] {
        assert_eq!(template["Parameters"][parameter]["Default"], "false", "{parameter}");
    }
    // The scanner's InUseCapacity is the hub's: the spoke's trimmer reads the service's metric.
    assert_eq!(template["Parameters"]["DemandSource"]["AllowedValues"], serde_json::json!(["service"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoke_recycler_plans_by_default_and_then_recreates_only_its_own_accounts_group() {
    // The stack's topic and bus, in the member account (LocalStack keeps accounts apart).
    let stage = Stage::signed_as(ACCOUNT, frozen_config(), Some(&aging_group("sg-OWN000001"))).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    emu.load_fleet_of(OTHER_ACCOUNT, aging_group("sg-OTHER0001")).await;
    let (topic, queue) = stage.topic("spoke-actions").await;
    let (bus, _) = stage.bus("spoke-events").await;
    let namespace = stage.namespace("Spoke");
    let template = spoke_template();
    let start = |parameters: &[(&str, &str)]| {
        let mut parameters = parameters.to_vec();
        parameters.push(("MetricNamespace", &namespace));
        let defined =
            environment_of(&template, "RecyclerFunction", &parameters, &[("ActionsTopic", &topic), ("EventBus", &bus)]);
        // The endpoints and the account from the stage, everything else as the template defines it.
        let mut env: Vec<(String, String)> =
            stage.env("Spoke", &[]).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        env.retain(|(known, _)| !defined.iter().any(|(variable, _)| variable == known));
        env.extend(defined);
        let borrowed: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        LambdaWatch::start("spoke-recycler", &borrowed)
    };

    // At the stack's defaults: a plan, and no call that changes anything.
    let watch = start(&[]);
    let report = watch.invoke(RECYCLER, &serde_json::json!({ "trigger": "schedule" })).await.expect("a run");
    assert_eq!(report["dry_run"], true, "{report:#}");
    let planned: Vec<&str> =
        report["plan"]["items"].as_array().unwrap().iter().map(|i| i["stream_group"].as_str().unwrap()).collect();
    assert_eq!(planned, ["sg-OWN000001"], "{report:#}");
    assert_eq!(emu.admin_get("/_emulator/counters").await["mutating_calls"], 0);
    let published = aws.drain(&queue, Duration::from_secs(2)).await;
    assert!(published.iter().any(|m| m.attribute("action") == Some("plan")), "the plan reaches the stack's topic");
    drop(watch);

    // With RecyclerDryRun=false: the replacement, in this account only.
    let watch = start(&[("RecyclerDryRun", "false")]);
    let report = watch.invoke(RECYCLER, &serde_json::json!({ "trigger": "schedule" })).await.expect("a run");
    let executed: Vec<&str> =
        report["executed"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(executed, ["create_replacement"], "{report:#}");
    let own = emu.client_of_account(ACCOUNT, "us-west-2").await;
    assert_eq!(own.list_stream_groups().send().await.unwrap().items().len(), 2, "the replacement is here");
    let other = emu.client_of_account(OTHER_ACCOUNT, "us-west-2").await;
    let others = other.list_stream_groups().send().await.unwrap();
    assert_eq!(others.items().len(), 1, "the other account gains no group");
    let tags = other.list_tags_for_resource().resource_arn(others.items()[0].arn()).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().len(), 1, "and its group keeps only its opt-in tag: {tags:?}");
}
