//! The hub's map results where its ResultWriter put them (org/scan-organisation.asl.json): a
//! manifest, and files of the children's results it names.
//!
//! What the Step Functions developer guide says (ResultWriter (Map),
//! <https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html>):
//! `Transformation` COMPACT "returns the output of the child workflow executions" and
//! `OutputType` JSON "formats the results as a JSON array"; but "if a child workflow execution
//! fails, Step Functions returns its execution result unchanged", as with NONE, which
//! "returns the output of the child workflow executions unchanged, in addition to the workflow
//! metadata". The manifest's shape (`DestinationBucket`, `MapRunArn`, `ResultFiles` with
//! `SUCCEEDED`, `FAILED` and `PENDING` lists) and the map's output (`ResultWriterDetails`
//! with `Bucket` and `Key`) are LocalStack's (localstack-core 4.13, resource_eval_s3.py).
//!
//! The guide shows no file's entries field by field, so an entry is read either way: a
//! child's own output, or an execution record (`ExecutionArn`, with `Output` as JSON text when
//! it succeeded, `Input`, `Error` and `Cause` when not). A child that did not succeed is a
//! target not scanned, named with its error; an entry that names no target fails the digest
//! rather than vanish from it.

use super::TargetResult;
use crate::event::ScanTarget;
use serde::Deserialize;
use serde_json::Value;
use watchdog_core::organisation::ResultStore;

/// The map's output when its ResultWriter wrote the results (its ResultPath in the state).
#[derive(Debug, Clone, Deserialize)]
pub struct WrittenResults {
    #[serde(rename = "ResultWriterDetails")]
    pub details: ObjectLocation,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectLocation {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "DestinationBucket")]
    destination_bucket: Option<String>,
    #[serde(rename = "ResultFiles", default)]
    result_files: ResultFiles,
}

#[derive(Debug, Default, Deserialize)]
struct ResultFiles {
    #[serde(rename = "SUCCEEDED", default)]
    succeeded: Vec<ResultFile>,
    #[serde(rename = "FAILED", default)]
    failed: Vec<ResultFile>,
    #[serde(rename = "PENDING", default)]
    pending: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
struct ResultFile {
    #[serde(rename = "Key")]
    key: String,
}

/// Every child's result the manifest names, in file order.
pub async fn read(store: &dyn ResultStore, written: &WrittenResults) -> Result<Vec<TargetResult>, String> {
    let ObjectLocation { bucket, key } = &written.details;
    let manifest: Manifest = serde_json::from_str(&store.read(bucket, key).await?)
        .map_err(|e| format!("s3://{bucket}/{key} is not the map's manifest: {e}"))?;
    let bucket = manifest.destination_bucket.as_deref().unwrap_or(bucket);
    let files = &manifest.result_files;
    let mut results = Vec::new();
    for (status, files) in [("SUCCEEDED", &files.succeeded), ("FAILED", &files.failed), ("PENDING", &files.pending)] {
        for file in files {
            let text = store.read(bucket, &file.key).await?;
            let entries: Vec<Value> = serde_json::from_str(&text)
                .map_err(|e| format!("s3://{bucket}/{}: not a JSON array of results: {e}", file.key))?;
            for (index, entry) in entries.into_iter().enumerate() {
                let result = entry_result(entry, status)
                    .map_err(|e| format!("s3://{bucket}/{} entry {index}: {e}", file.key))?;
                results.push(result);
            }
        }
    }
    Ok(results)
}

/// One entry of a result file: a child's output, or its execution record.
fn entry_result(entry: Value, file_status: &str) -> Result<TargetResult, String> {
    if entry.get("ExecutionArn").is_none() {
        return serde_json::from_value(entry).map_err(|e| format!("not a target's result: {e}"));
    }
    let status = entry["Status"].as_str().unwrap_or(file_status);
    if let Some(output) = entry["Output"].as_str().filter(|_| status == "SUCCEEDED") {
        return serde_json::from_str(output).map_err(|e| format!("its Output is not a target's result: {e}"));
    }
    // The child's input carries its target (the map's ItemSelector: {"trigger", "target"}).
    let input: Value = entry["Input"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| format!("a {status} child whose Input names no target"))?;
    let target: ScanTarget = serde_json::from_value(input["target"].clone())
        .map_err(|e| format!("a {status} child whose Input names no target: {e}"))?;
    Ok(TargetResult {
        target,
        counts: None,
        failed: true,
        error: Some(entry["Error"].as_str().unwrap_or(status).to_owned()),
        cause: Some(
            entry["Cause"].as_str().map(str::to_owned).unwrap_or_else(|| format!("the child execution is {status}")),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// Objects by (bucket, key), as the map left them.
    struct Objects(BTreeMap<(String, String), String>);

    #[async_trait::async_trait]
    impl ResultStore for Objects {
        async fn read(&self, bucket: &str, key: &str) -> Result<String, String> {
            self.0
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
                .ok_or_else(|| format!("s3://{bucket}/{key}: NoSuchKey"))
        }
    }

    fn objects(entries: &[(&str, Value)]) -> Objects {
        Objects(
            entries.iter().map(|(key, body)| (("results".to_owned(), (*key).to_owned()), body.to_string())).collect(),
        )
    }

    fn written() -> WrittenResults {
        serde_json::from_value(json!({
            "MapRunArn": "arn:aws:states:us-west-2:999988887777:mapRun:scan/ScanTargets:run1",
            "ResultWriterDetails": { "Bucket": "results", "Key": "scans/run1/manifest.json" }
        }))
        .unwrap()
    }

    fn target(account: &str) -> Value {
        json!({ "account": account, "region": "us-west-2", "role_name": "gls-watchdog-read" })
    }

    #[tokio::test]
    async fn compact_outputs_and_failed_execution_records_are_both_read() {
        let store = objects(&[
            (
                "scans/run1/manifest.json",
                json!({
                    "DestinationBucket": "results",
                    "MapRunArn": "arn",
                    "ResultFiles": {
                        "SUCCEEDED": [{ "Key": "scans/run1/SUCCEEDED_0.json", "Size": 1 }],
                        "FAILED": [{ "Key": "scans/run1/FAILED_0.json", "Size": 1 }],
                        "PENDING": []
                    }
                }),
            ),
            (
                "scans/run1/SUCCEEDED_0.json",
                json!([
                    { "target": target("111122223333"), "counts": { "stream_groups": 2, "findings_by_severity": {} } },
                    { "target": target("222233334444"), "failed": true, "error": "TargetRoleNotAssumed", "cause": "AccessDenied" }
                ]),
            ),
            (
                "scans/run1/FAILED_0.json",
                json!([{
                    "ExecutionArn": "arn:child", "Status": "FAILED",
                    "Input": json!({ "trigger": "organisation", "target": target("333344445555") }).to_string(),
                    "Error": "States.Timeout", "Cause": "the child timed out"
                }]),
            ),
        ]);
        let results = read(&store, &written()).await.unwrap();
        let seen: Vec<(&str, bool)> = results.iter().map(|r| (r.target.account.as_str(), r.failed)).collect();
        assert_eq!(seen, [("111122223333", false), ("222233334444", true), ("333344445555", true)]);
        assert_eq!(results[2].error.as_deref(), Some("States.Timeout"));
        assert_eq!(results[2].cause.as_deref(), Some("the child timed out"));
    }

    #[tokio::test]
    async fn a_succeeded_execution_record_is_read_from_its_output() {
        let output = json!({ "target": target("111122223333"), "counts": { "stream_groups": 1 } }).to_string();
        let store = objects(&[
            ("scans/run1/manifest.json", json!({ "ResultFiles": { "SUCCEEDED": [{ "Key": "a.json" }] } })),
            ("a.json", json!([{ "ExecutionArn": "arn:child", "Status": "SUCCEEDED", "Output": output }])),
        ]);
        let results = read(&store, &written()).await.unwrap();
        assert_eq!(results.len(), 1);
        assert!(!results[0].failed);
        assert_eq!(results[0].counts.as_ref().unwrap()["stream_groups"], 1);
    }

    #[tokio::test]
    async fn what_cannot_be_read_is_an_error_naming_the_object_never_a_shorter_digest() {
        let missing = objects(&[(
            "scans/run1/manifest.json",
            json!({ "ResultFiles": { "SUCCEEDED": [{ "Key": "gone.json" }] } }),
        )]);
        assert!(read(&missing, &written()).await.unwrap_err().contains("s3://results/gone.json"));
        let nameless = objects(&[
            ("scans/run1/manifest.json", json!({ "ResultFiles": { "PENDING": [{ "Key": "p.json" }] } })),
            ("p.json", json!([{ "ExecutionArn": "arn:child", "Input": "{}" }])),
        ]);
        let error = read(&nameless, &written()).await.unwrap_err();
        assert!(error.contains("p.json entry 0") && error.contains("PENDING"), "{error}");
    }
}
