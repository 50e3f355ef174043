//! What a template's alarms and dashboard name, read from the template itself, and what
//! CloudWatch holds: the tests that check the one against the other (template.yaml and the
//! functions, org/hub.yaml and the organisation's scan) share these.

use serde_yaml::Value;
use std::collections::BTreeSet;

/// A template, parsed (intrinsic functions stay as tagged values).
pub fn template(path: &str) -> Value {
    let text = std::fs::read_to_string(crate::lambda::workspace_root().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A metric as the template names it: name, dimensions (name, and value where fixed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    pub name: String,
    pub dimensions: Vec<(String, Option<String>)>,
    pub from: String,
}

impl Named {
    /// Whether a published metric (name, dimensions with values) is this one.
    pub fn matches(&self, name: &str, dims: &[(String, String)]) -> bool {
        self.name == name
            && self.dimensions.len() == dims.len()
            && self
                .dimensions
                .iter()
                .all(|(dim, value)| dims.iter().any(|(d, v)| d == dim && value.as_ref().is_none_or(|value| value == v)))
    }
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
pub fn alarm_metrics(template: &Value) -> Vec<Named> {
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
pub struct LogQuery {
    pub functions: Vec<String>,
    pub fields: BTreeSet<String>,
    pub figures: Option<String>,
}

/// The dashboard's body, and in it the watchdog's metrics (SEARCH expressions name the
/// dimension set, metric arrays name dimensions and values) and its Logs Insights queries.
pub fn dashboard(template: &Value, resource: &str) -> (Vec<Named>, Vec<LogQuery>) {
    let body = &template["Resources"][resource]["Properties"]["DashboardBody"];
    let Value::Tagged(sub) = body else { panic!("the dashboard body is a !Sub") };
    // `!Sub body` or `!Sub [body, variables]`.
    let body = match &sub.value {
        Value::String(body) => body.clone(),
        other => other.as_sequence().and_then(|s| s[0].as_str()).expect("!Sub [body, variables]").to_owned(),
    };
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

/// Every metric in `namespace` (name, dimensions with values), as ListMetrics returns them.
pub async fn published_metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
) -> Vec<(String, Vec<(String, String)>)> {
    let mut published = Vec::new();
    let mut pages = cloudwatch.list_metrics().namespace(namespace).into_paginator().send();
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
    published
}

/// What `expected` names that nothing in `published` is.
pub fn unpublished<'a>(expected: &'a [Named], published: &[(String, Vec<(String, String)>)]) -> Vec<&'a Named> {
    expected.iter().filter(|want| !published.iter().any(|(name, dims)| want.matches(name, dims))).collect()
}
