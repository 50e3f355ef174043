//! The alarms and the dashboard read what the functions really publish and log. The three
//! functions run the way Lambda runs them (cargo lambda watch, JSON logs) on the sample fleet,
//! against the emulator and LocalStack; then every metric, dimension set and dimension value
//! in the watchdog's namespace that template.yaml's alarms and dashboard name must exist in
//! CloudWatch, and every log field each of the dashboard's Logs Insights queries reads must
//! appear in one log line of each function the query reads. The other way round, at the default
//! detail nothing is published that no alarm, widget or trimmer reads: that is the bill.

use serde_json::Value as Json;
use serde_yaml::Value;
use std::collections::BTreeSet;
use watchdog_tests::lambda::{LambdaWatch, LocalAws, local_env, workspace_root};
use watchdog_tests::{TestEmulator, quick_config};

/// A metric as the template names it: name, dimensions (name, and value where fixed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    name: String,
    dimensions: Vec<(String, Option<String>)>,
    from: String,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(tagged) => text(&tagged.value).map(|v| format!("{}:{v}", tagged.tag)),
        _ => None,
    }
}

/// Whether a template value is `!Ref MetricNamespace`.
fn is_watchdog_namespace(value: &Value) -> bool {
    text(value).is_some_and(|t| t.ends_with("MetricNamespace"))
}

/// Metrics in the watchdog's namespace that the template's alarms name.
fn alarm_metrics(template: &Value) -> Vec<Named> {
    let mut named = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let from = format!("alarm {}", id.as_str().unwrap_or_default());
        let properties = &resource["Properties"];
        let mut metrics: Vec<&Value> = vec![properties];
        if let Some(queries) = properties["Metrics"].as_sequence() {
            metrics.extend(queries.iter().map(|q| &q["MetricStat"]["Metric"]));
        }
        for metric in metrics {
            if !is_watchdog_namespace(&metric["Namespace"]) {
                continue;
            }
            let dimensions = metric["Dimensions"]
                .as_sequence()
                .map(|dims| {
                    dims.iter()
                        .map(|d| {
                            let value = text(&d["Value"])
                                .map(|v| if v.contains("AWS::Region") { "us-west-2".into() } else { v });
                            (d["Name"].as_str().unwrap().to_owned(), value)
                        })
                        .collect()
                })
                .unwrap_or_default();
            named.push(Named {
                name: metric["MetricName"].as_str().unwrap().to_owned(),
                dimensions,
                from: from.clone(),
            });
        }
    }
    named
}

/// One Logs Insights query of the dashboard: the functions whose logs it reads, the fields it
/// reads, and the kind of line it keeps (`fields.figures = '...'`), if it says.
#[derive(Debug)]
struct LogQuery {
    functions: Vec<String>,
    fields: BTreeSet<String>,
    figures: Option<String>,
}

/// The dashboard's body, and in it the watchdog's metrics (SEARCH expressions name the
/// dimension set, metric arrays name dimensions and values) and its Logs Insights queries.
fn dashboard(template: &Value) -> (Vec<Named>, Vec<LogQuery>) {
    let body = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let Value::Tagged(sub) = body else { panic!("the dashboard body is a !Sub") };
    let body = sub.value.as_sequence().and_then(|s| s[0].as_str()).expect("!Sub [body, variables]").to_owned();
    let from = "dashboard".to_owned();
    let mut named = Vec::new();
    for search in body.split("SEARCH('{${MetricNamespace},").skip(1) {
        let (dims, rest) = search.split_once('}').unwrap();
        let name = rest.split("MetricName=\\\"").nth(1).unwrap().split("\\\"").next().unwrap();
        let dimensions = dims.split(',').map(|d| (d.trim().to_owned(), None)).collect();
        named.push(Named { name: name.to_owned(), dimensions, from: from.clone() });
    }
    for array in body.split("[\"${MetricNamespace}\", ").skip(1) {
        let inside = array.split(']').next().unwrap();
        let parts: Vec<String> =
            inside.split(',').map(|p| p.trim().trim_matches('"').to_owned()).filter(|p| !p.is_empty()).collect();
        let dimensions = parts[1..].chunks(2).map(|c| (c[0].clone(), c.get(1).cloned())).collect();
        named.push(Named { name: parts[0].clone(), dimensions, from: from.clone() });
    }
    let queries = body
        .split("\"query\": \"")
        .skip(1)
        .map(|q| {
            let query = q.split("\"}").next().unwrap();
            let functions =
                query.split("SOURCE '/aws/lambda/").skip(1).map(|f| f.split('\'').next().unwrap().to_owned()).collect();
            let fields = query
                .split("fields.")
                .skip(1)
                .map(|f| f.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
                .collect();
            let figures = query.split("fields.figures = '").nth(1).map(|f| f.split('\'').next().unwrap().to_owned());
            LogQuery { functions, fields, figures }
        })
        .collect();
    (named, queries)
}

#[tokio::test]
async fn every_metric_dimension_and_log_field_the_template_names_is_published() {
    let template: Value =
        serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()).unwrap();
    let mut expected = alarm_metrics(&template);
    let (dashboard_metrics, log_queries) = dashboard(&template);
    expected.extend(dashboard_metrics);
    assert!(expected.len() >= 10, "found the template's metrics: {expected:#?}");
    assert_eq!(log_queries.len(), 7, "found the dashboard's queries: {log_queries:#?}");
    assert!(log_queries.iter().all(|q| !q.functions.is_empty() && !q.fields.is_empty()), "{log_queries:#?}");

    let fleet = std::fs::read_to_string(workspace_root().join("fleets/sample.toml")).unwrap();
    let emu = TestEmulator::start(quick_config(), Some(&fleet)).await;
    let aws = LocalAws::connect().await;
    let unique = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let namespace = format!("Watchdog/Signals-{unique}");
    let (topic, _queue) = aws.topic_with_queue(&format!("signals-{unique}")).await;
    let mut env = local_env(&emu.url, &aws.url);
    env.extend([
        ("REGIONS", "us-west-2,eu-central-1".into()),
        ("METRIC_NAMESPACE", namespace.clone()),
        // The template's default detail; its scanner publishes demand for every location when
        // the trimmer manages all groups, as here.
        ("DEMAND_METRICS", "all".into()),
        ("FINDINGS_TOPIC_ARN", topic.clone()),
        ("ACTIONS_TOPIC_ARN", topic),
        ("DRY_RUN", "false".into()),
        ("MANAGE_ALL_GROUPS", "true".into()),
        // CONNECTED counts from the session's start: the sample's players started minutes ago.
        ("END_SESSIONS", "CONNECTED>1m".into()),
        ("API_SHARE", "1".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "info".into()),
    ]);
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
    let mut published: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut pages = aws.cloudwatch.list_metrics().namespace(&namespace).into_paginator().send();
    while let Some(page) = pages.next().await {
        for metric in page.expect("ListMetrics").metrics() {
            let dims = metric
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap_or_default().to_owned(), d.value().unwrap_or_default().to_owned()))
                .collect();
            published.push((metric.metric_name().unwrap_or_default().to_owned(), dims));
        }
    }
    assert!(!published.is_empty(), "the scanner published to {namespace}");
    for want in &expected {
        let found = published.iter().any(|(name, dims)| {
            name == &want.name
                && dims.len() == want.dimensions.len()
                && want.dimensions.iter().all(|(dim, value)| {
                    dims.iter().any(|(d, v)| d == dim && value.as_ref().is_none_or(|value| value == v))
                })
        });
        assert!(found, "{} names {} {:?}, which nothing publishes", want.from, want.name, want.dimensions);
    }

    // Nothing is published that no alarm or widget reads, but the trimmer's demand and the
    // scanner's memory of the alerts it sent about expired groups (which it reads back).
    for (name, dims) in &published {
        let read = expected.iter().any(|want| {
            &want.name == name
                && want.dimensions.len() == dims.len()
                && want.dimensions.iter().all(|(dim, value)| {
                    dims.iter().any(|(d, v)| d == dim && value.as_ref().is_none_or(|value| value == v))
                })
        });
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
