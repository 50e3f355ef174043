//! The alarms and the dashboard read what the functions really publish and log. The three
//! functions run the way Lambda runs them (cargo lambda watch, JSON logs) on the sample fleet,
//! against the emulator and LocalStack; then every metric, dimension set and dimension value
//! in the watchdog's namespace that template.yaml's alarms and dashboard name must exist in
//! CloudWatch, and every log field each of the dashboard's Logs Insights queries reads must
//! appear in one log line of each function the query reads. The other way round, at the default
//! detail nothing is published that no alarm, widget or trimmer reads: that is the bill.

use serde_json::Value as Json;
use watchdog_tests::lambda::{LambdaWatch, workspace_root};
use watchdog_tests::quick_config;
use watchdog_tests::stage::Stage;
use watchdog_tests::template_signals::{alarm_metrics, dashboard, published_metrics, template, unpublished};

#[tokio::test]
async fn every_metric_dimension_and_log_field_the_template_names_is_published() {
    let template = template("template.yaml");
    let mut expected = alarm_metrics(&template);
    let (dashboard_metrics, log_queries) = dashboard(&template, "Dashboard");
    expected.extend(dashboard_metrics);
    assert!(expected.len() >= 10, "found the template's metrics: {expected:#?}");
    assert_eq!(log_queries.len(), 7, "found the dashboard's queries: {log_queries:#?}");
    assert!(log_queries.iter().all(|q| !q.functions.is_empty() && !q.fields.is_empty()), "{log_queries:#?}");

    let fleet = std::fs::read_to_string(workspace_root().join("fleets/sample.toml")).unwrap();
    let stage = Stage::start(quick_config(), Some(&fleet)).await;
    let aws = &stage.aws;
    let namespace = stage.namespace("Signals");
    let (topic, _queue) = stage.topic("signals").await;
    let env = stage.env(
        "Signals",
        &[
            ("REGIONS", "us-west-2,eu-central-1"),
            // The template's default detail; its scanner publishes demand for every location
            // when the trimmer manages all groups, as here.
            ("DEMAND_METRICS", "all"),
            ("FINDINGS_TOPIC_ARN", &topic),
            ("ACTIONS_TOPIC_ARN", &topic),
            ("DRY_RUN", "false"),
            ("MANAGE_ALL_GROUPS", "true"),
            // CONNECTED counts from the session's start: the sample's players started minutes ago.
            ("END_SESSIONS", "CONNECTED>1m"),
            ("API_SHARE", "1"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "info"),
        ],
    );
    let watch = LambdaWatch::start("signals", &env);
    for function in ["gls-watchdog-scanner", "gls-watchdog-recycler", "gls-watchdog-trimmer"] {
        let report = watch.invoke(function, &serde_json::json!({ "trigger": "schedule" })).await;
        let report = report.unwrap_or_else(|e| panic!("{function}: {e}"));
        if function != "gls-watchdog-scanner" {
            assert!(
                !report["executed"].as_array().unwrap().is_empty(),
                "{function} acted on the sample fleet: {report:#}"
            );
        }
    }

    // Every metric the template names, with its dimension names and fixed values.
    let published = published_metrics(&aws.cloudwatch, &namespace).await;
    assert!(!published.is_empty(), "the scanner published to {namespace}");
    let missing = unpublished(&expected, &published);
    assert!(missing.is_empty(), "named by template.yaml, published by nothing: {missing:#?}");

    // Nothing is published that no alarm or widget reads, but the trimmer's demand and the
    // scanner's memory of the alerts it sent about expired groups (which it reads back).
    for (name, dims) in &published {
        let read = expected.iter().any(|want| want.matches(name, dims));
        let mut dimension_names: Vec<&str> = dims.iter().map(|(d, _)| d.as_str()).collect();
        dimension_names.sort();
        let demand = name == "InUseCapacity" && dimension_names == ["Location", "StreamGroupId"];
        let memory = name == "ExpiredGroupAlerted" && dimension_names == ["Region", "StreamGroupId"];
        assert!(read || demand || memory, "{name} {dims:?} is published (and billed) but nothing reads it");
    }

    // Every log field each query reads, in one JSON log line of each function it reads.
    let lines: Vec<Json> = watch
        .output()
        .lines()
        .filter_map(|line| line.find('{').and_then(|start| serde_json::from_str::<Json>(&line[start..]).ok()))
        .collect();
    // Each function has its own log group on Lambda; here one watch prints all three, and the
    // lines the dashboard reads name their function.
    let from = |line: &Json, function: &str| line["fields"]["function"] == function.trim_start_matches("gls-watchdog-");
    for query in &log_queries {
        for function in &query.functions {
            let found = lines.iter().find(|line| {
                from(line, function)
                    && query.figures.as_ref().is_none_or(|kind| line["fields"]["figures"] == kind.as_str())
                    && query.fields.iter().all(|field| !line["fields"][field.as_str()].is_null())
            });
            let sample = lines.iter().find(|line| from(line, function));
            assert!(
                found.is_some(),
                "no log line of {function} has every field of {query:?}; one of its lines: {sample:?}"
            );
        }
    }
}
