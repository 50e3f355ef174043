//! Findings and remediation steps as Amazon EventBridge events, through the real path: the
//! functions under cargo lambda put them on a LocalStack bus whose rule sends them to SQS,
//! and what lands is checked against the schemas in `schemas/`.

use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use watchdog_core::findings::FindingKind;
use watchdog_tests::lambda::{LambdaWatch, LocalAws, workspace_root};
use watchdog_tests::stage::{Stage, unique};
use watchdog_tests::{ACCOUNT, quick_config};

const FLEET: &str = include_str!("../fleets/scanner-lambda.toml");

fn validator(schema: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(workspace_root().join("schemas").join(schema)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("the schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, event: &Value) {
    let errors: Vec<String> = validator.iter_errors(event).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{event:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finding_of_a_scan_is_an_event_with_its_account_and_region_and_a_dry_run_puts_none() {
    let stage = Stage::start(quick_config(), Some(FLEET)).await;
    let aws = &stage.aws;
    let (bus, queue) = stage.bus("watchdog-findings").await;
    let env = stage.env("Events", &[("EVENT_BUS_NAME", &bus)]);
    let watch = LambdaWatch::start("events-scanner", &env);

    let dry = watch.invoke("gls-watchdog-scanner", &serde_json::json!({ "dry_run": true })).await.unwrap();
    assert!(!dry["findings"].as_array().unwrap().is_empty());
    assert!(aws.drain_events(&queue, Duration::from_secs(2)).await.is_empty(), "a dry run puts nothing");

    let report = watch.invoke_file("gls-watchdog-scanner", "scanner-scheduler-input.json").await.unwrap();
    let events = aws.drain_events(&queue, Duration::from_secs(2)).await;
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(events.len(), findings.len(), "one event per finding");
    let validator = validator("watchdog-finding.schema.json");
    for event in &events {
        assert_valid(&validator, event);
        assert_eq!(event["detail"]["account"], ACCOUNT);
    }
    let kinds = |items: &mut dyn Iterator<Item = &Value>| -> BTreeSet<(String, String)> {
        items
            .map(|f| (f["stream_group_id"].as_str().unwrap().to_owned(), f["kind"].as_str().unwrap().to_owned()))
            .collect()
    };
    assert_eq!(kinds(&mut events.iter().map(|e| &e["detail"])), kinds(&mut findings.iter()));
}

/// The schema's kinds are the code's: a new finding kind without its schema entry fails here.
#[test]
fn the_finding_schema_names_every_kind_the_code_has() {
    let text = std::fs::read_to_string(workspace_root().join("schemas/watchdog-finding.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let listed: BTreeSet<&str> = schema["properties"]["detail"]["properties"]["kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let code: BTreeSet<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_executed_step_is_an_event() {
    let fleet = include_str!("../fleets/events-trimmer.toml");
    let stage = Stage::frozen(quick_config(), Some(fleet)).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    let (bus, queue) = stage.bus("watchdog-actions").await;
    let (topic, _) = stage.topic("watchdog-actions-topic").await;
    let vars = [
        ("EVENT_BUS_NAME", bus.as_str()),
        ("ACTIONS_TOPIC_ARN", &topic),
        ("DRY_RUN", "false"),
        ("DEMAND_WINDOW_MINUTES", "60"),
        ("MAX_ATTEMPTS", "1"),
    ];
    let env = stage.env("Events", &vars);
    let watch = LambdaWatch::start("events-trimmer", &env);
    // Demand history: two scans 40 minutes apart, nobody playing.
    for advance in [0.0, 40.0 * 60.0] {
        emu.advance_seconds(advance).await;
        watch.invoke_file("gls-watchdog-scanner", "scanner-scheduler-input.json").await.unwrap();
    }
    let report = watch.invoke_file("gls-watchdog-trimmer", "trimmer-scheduler-input.json").await.unwrap();
    let executed = report["executed"].as_array().unwrap();
    assert!(!executed.is_empty(), "{report:#}");
    let events: Vec<Value> = aws
        .drain_events(&queue, Duration::from_secs(2))
        .await
        .into_iter()
        .filter(|e| e["detail-type"] == "GameLift Streams Watchdog Action")
        .collect();
    assert_eq!(events.len(), executed.len(), "{events:#?}");
    let validator = validator("watchdog-action.schema.json");
    for (event, step) in events.iter().zip(executed) {
        assert_valid(&validator, event);
        assert_eq!(event["detail"]["function"], "trimmer");
        assert_eq!(event["detail"]["action"], step["action"]);
        assert_eq!(event["detail"]["outcome"], step["outcome"]);
    }
}

/// In an organisation, a member account's stack forwards every event of its bus to the hub's
/// central bus with the rule and role `template.yaml` declares (`CentralEventBusArn`). No local
/// server runs the stack's CloudFormation with its functions, so the rule is made from its
/// definition, in the member account, and an event put on the member's bus must arrive on the
/// hub account's bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_events_reach_the_central_bus_through_the_templates_forwarding_rule() {
    const HUB: &str = "999988887777";
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()).unwrap();
    let rule = &template["Resources"]["ForwardToCentralBus"];
    assert_eq!(rule["Condition"].as_str(), Some("ForwardsEvents"), "only where a central bus is named");
    let rule = &rule["Properties"];
    let target = &rule["Targets"][0];
    let tagged = |value: &serde_yaml::Value| match value {
        serde_yaml::Value::Tagged(t) => (t.tag.to_string(), t.value.as_str().unwrap_or_default().to_owned()),
        other => panic!("an intrinsic, not {other:?}"),
    };
    assert_eq!(tagged(&target["Arn"]), ("!Ref".to_owned(), "CentralEventBusArn".to_owned()));
    assert_eq!(tagged(&target["RoleArn"]), ("!GetAtt".to_owned(), "CentralBusForwardRole.Arn".to_owned()));
    let role = &template["Resources"]["CentralBusForwardRole"]["Properties"];
    let grant = &role["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(grant["Action"].as_str(), Some("events:PutEvents"));
    assert_eq!(tagged(&grant["Resource"]), ("!Ref".to_owned(), "CentralEventBusArn".to_owned()), "that bus only");
    let pattern = serde_json::to_string(&rule["EventPattern"]).unwrap();

    // The hub's central bus, whose own rule sends every gls-watchdog event to a queue.
    let hub = LocalAws::connect_as(HUB).await;
    let (central, central_queue) = hub.bus_with_queue(&unique("central")).await;
    let central_arn = format!("arn:aws:events:us-west-2:{HUB}:event-bus/{central}");
    // The member's stack: its bus, and the template's rule on it.
    let member = LocalAws::connect_as(ACCOUNT).await;
    let bus = unique("member");
    member.events.create_event_bus().name(&bus).send().await.expect("CreateEventBus");
    member.events.put_rule().name(&bus).event_bus_name(&bus).event_pattern(pattern).send().await.expect("PutRule");
    let forward = aws_sdk_eventbridge::types::Target::builder()
        .id(target["Id"].as_str().unwrap())
        .arn(&central_arn)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{bus}-forward"))
        .build()
        .unwrap();
    member.events.put_targets().rule(&bus).event_bus_name(&bus).targets(forward).send().await.expect("PutTargets");

    let entry = |source: &str| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&bus)
            .source(source)
            .detail_type("GameLift Streams Watchdog Action")
            .detail(r#"{"function": "trimmer", "action": "lower_capacity"}"#)
            .build()
    };
    let put = member
        .events
        .put_events()
        .entries(entry(watchdog_core::ports::EVENT_SOURCE))
        .entries(entry("someone.else"))
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(put.failed_entry_count(), 0);
    let arrived = hub.drain_events(&central_queue, Duration::from_secs(3)).await;
    assert_eq!(arrived.len(), 1, "the watchdog's event, and only it: {arrived:#?}");
    assert_eq!(arrived[0]["source"], watchdog_core::ports::EVENT_SOURCE);
    assert_eq!(arrived[0]["account"], ACCOUNT, "it came from the member account");
    assert_eq!(arrived[0]["detail"]["action"], "lower_capacity");
}
