//! The hub's state machine (org/scan-organisation.asl.json) driven from its own definition
//! where no local server can run it (LocalStack runs Lambda only in a container engine): its
//! payload templates applied as Step Functions applies them, for the forms the definition uses.

use crate::lambda::workspace_root;
use serde_json::{Map, Value};

/// The bucket the tests give the map's ResultWriter (org/hub.yaml's MapResultsBucket).
pub const MAP_RESULTS_BUCKET: &str = "gls-watchdog-map-results";

/// The hub's state machine definition, with the template's DefinitionSubstitutions applied.
pub fn definition(read_role: &str, scanner: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("org/scan-organisation.asl.json")).unwrap();
    let text = text
        .replace("${ReadRoleName}", read_role)
        .replace("${ScannerFunctionArn}", scanner)
        .replace("${MapResultsBucket}", MAP_RESULTS_BUCKET);
    serde_json::from_str(&text).expect("the definition is JSON")
}

/// A JSONPath of the forms the definition uses: `$.a.b` on the state's input, `$$.a.b` on
/// the context object.
pub fn path<'a>(expression: &str, input: &'a Value, context: &'a Value) -> &'a Value {
    let (root, rest) = match expression.strip_prefix("$$") {
        Some(rest) => (context, rest),
        None => (input, expression.strip_prefix('$').expect("a JSONPath")),
    };
    rest.split('.').filter(|p| !p.is_empty()).fold(root, |value, key| &value[key])
}

/// Applies a payload template (ItemSelector, Parameters, ResultSelector): `key.$` fields
/// take the path's value, the others stay as they are.
pub fn select(template: &Value, input: &Value, context: &Value) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expression)) => {
                        out.insert(name.to_owned(), path(expression, input, context).clone());
                    }
                    _ => {
                        out.insert(key.clone(), select(value, input, context));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// What a Task state sends its Lambda function: its Parameters' Payload on the state's input.
pub fn task_payload(state: &Value, input: &Value) -> Value {
    select(&state["Parameters"], input, &Value::Null)["Payload"].clone()
}

/// The state's output after its Lambda function answered `answer`: the ResultSelector
/// applied to the invoke result (`{"Payload": answer}`), placed at the ResultPath (`$.name`)
/// of the input, or replacing it where the state has no ResultPath.
pub fn task_output(state: &Value, input: &Value, answer: &Value) -> Value {
    let result = match state.get("ResultSelector") {
        Some(selector) => select(selector, &serde_json::json!({ "Payload": answer }), &Value::Null),
        None => serde_json::json!({ "Payload": answer }),
    };
    with_result(state, input, result)
}

/// `result` placed at the state's ResultPath (`$.name`) in `input`, or replacing it.
pub fn with_result(state: &Value, input: &Value, result: Value) -> Value {
    match state.get("ResultPath").and_then(Value::as_str) {
        None | Some("$") => result,
        Some(path) => {
            let name = path.strip_prefix("$.").filter(|n| !n.contains('.')).expect("a ResultPath of the form $.name");
            let mut output = input.clone();
            output[name] = result;
            output
        }
    }
}

/// One child execution of the `ScanTargets` map.
pub struct Child {
    /// The item of the execution's target list.
    pub item: Value,
    /// The child's input: the map's ItemSelector applied to the item.
    pub input: Value,
    /// What the child's task sends the scanner: its Parameters' Payload on that input.
    pub payload: Value,
}

/// The children the map starts for the map state's input, in item order.
pub fn map_children(definition: &Value, map_input: &Value) -> Vec<Child> {
    let map = &definition["States"]["ScanTargets"];
    let task = &map["ItemProcessor"]["States"]["ScanOneTarget"];
    let items = path(map["ItemsPath"].as_str().expect("ItemsPath"), map_input, &Value::Null);
    let items = items.as_array().expect("a list of targets").clone();
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let context = serde_json::json!({ "Map": { "Item": { "Index": index, "Value": item } } });
            let input = select(&map["ItemSelector"], map_input, &context);
            let payload = task_payload(task, &input);
            Child { item, input, payload }
        })
        .collect()
}

/// The map state's output for its children's `results`, placed at its ResultPath. With a
/// ResultWriter, the results go to S3 first, as the definition's WriterConfig asks (the Step
/// Functions developer guide, ResultWriter (Map): COMPACT "returns the output of the child
/// workflow executions", JSON "formats the results as a JSON array"), under
/// `<Prefix>/<map run id>/` beside a manifest naming the file, and the map's output names the
/// manifest. The manifest's and the output's shapes are LocalStack's (resource_eval_s3.py).
/// Every child here succeeds (its Catch turns a failure into a result), so one SUCCEEDED file.
pub async fn map_output(map: &Value, map_input: &Value, results: Vec<Value>, s3: &aws_sdk_s3::Client) -> Value {
    let Some(writer) = map.get("ResultWriter") else {
        return with_result(map, map_input, Value::Array(results));
    };
    assert_eq!(writer["Resource"], "arn:aws:states:::s3:putObject");
    assert_eq!(
        writer["WriterConfig"],
        serde_json::json!({ "OutputType": "JSON", "Transformation": "COMPACT" }),
        "this driver writes COMPACT JSON only"
    );
    let bucket = writer["Parameters"]["Bucket"].as_str().expect("the ResultWriter's Bucket");
    let prefix = writer["Parameters"]["Prefix"].as_str().unwrap_or_default().trim_end_matches('/');
    let run = crate::stage::unique("run");
    let map_run_arn =
        format!("arn:aws:states:us-west-2:000000000000:mapRun:gls-watchdog-organisation/ScanTargets:{run}");
    let file = format!("{prefix}/{run}/SUCCEEDED_0.json");
    let body = Value::Array(results).to_string();
    let size = body.len();
    put(s3, bucket, &file, body).await;
    let manifest_key = format!("{prefix}/{run}/manifest.json");
    let manifest = serde_json::json!({
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": { "FAILED": [], "PENDING": [], "SUCCEEDED": [{ "Key": file, "Size": size }] },
    });
    put(s3, bucket, &manifest_key, manifest.to_string()).await;
    let output = serde_json::json!({
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": { "Bucket": bucket, "Key": manifest_key },
    });
    with_result(map, map_input, output)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: String) {
    // The bucket is the stack's; here the first writer makes it, in the client's Region.
    let region = s3.config().region().map(|r| r.to_string()).unwrap_or_else(|| "us-west-2".into());
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
        .build();
    if let Err(e) = s3.create_bucket().bucket(bucket).create_bucket_configuration(location).send().await {
        let e = e.into_service_error();
        assert!(e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists(), "s3://{bucket}: {e:?}");
    }
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {:?}", e.into_service_error()));
}
