//! The ports: one small trait per capability the functions need from the outside world, in
//! the core's own types. `watchdog-aws` implements them with the AWS SDK; `testkit` (feature)
//! implements them in memory. Nothing here knows an SDK type, so everything above the ports
//! is tested in-process.

use crate::model::{Application, StreamGroup, StreamSession, StreamSessionStatus, StreamUrl};
use crate::rules::SessionTimeouts;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

// The vocabulary of the writer port, described once in `operations`.
pub use crate::operations::{CreateGroupRequest, GroupRef, LocationSpec, Operation, Tags, VpcTransitSettings, Write};

/// What went wrong with a call, classified once in the adapter so that no decision ever
/// matches error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct ApiError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code (`ResourceNotFoundException`...), or the transport's failure.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Throttled,
    Conflict,
    Validation,
    Quota,
    AccessDenied,
    /// Server errors, timeouts, unreachable endpoints, anything else.
    Other,
}

impl ErrorKind {
    /// The kind's name, as it is serialized and recorded in failure tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Throttled => "throttled",
            Self::Conflict => "conflict",
            Self::Validation => "validation",
            Self::Quota => "quota",
            Self::AccessDenied => "access_denied",
            Self::Other => "other",
        }
    }
}

impl ApiError {
    pub fn new(operation: &'static str, kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { operation, kind, code: code.into(), message: message.into() }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

/// One message for a topic: a subject, a body and attributes subscriptions filter on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub subject: String,
    /// With `per_protocol`, a JSON object of one text per protocol (`MessageStructure: json`).
    pub body: String,
    pub per_protocol: bool,
    pub attributes: BTreeMap<String, String>,
}

impl Message {
    /// An announcement for the actions topic: the subject behind the watchdog's prefix, a JSON
    /// body, and `String` attributes (empty values left out).
    pub fn announcement(subject: &str, body: &serde_json::Value, attributes: &[(&str, &str)]) -> Self {
        Self {
            subject: format!("[GameLift Streams watchdog] {subject}"),
            body: body.to_string(),
            per_protocol: false,
            attributes: self::attributes(attributes),
        }
    }
}

/// `String` message attributes, the kind subscription filter policies match on (empty values
/// left out).
pub fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One CloudWatch datum, as plain data so counts are exact and testable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Datum {
    pub name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub value: f64,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Percent,
    Seconds,
    None,
}

/// PutMetricData accepts at most 1,000 datums per request.
pub const MAX_DATUMS_PER_CALL: usize = 1000;

/// Where demand history is read.
#[derive(Debug, Clone, PartialEq)]
pub enum DemandMetric {
    /// The scanner's `InUseCapacity` at location detail, in the watchdog's namespace.
    Watchdog { namespace: String },
    /// The service's own `ActiveCapacity` in `AWS/GameLiftStreams`, in each group's region.
    Service,
}

impl DemandMetric {
    pub fn metric(&self) -> (&str, &'static str) {
        match self {
            Self::Watchdog { namespace } => (namespace, "InUseCapacity"),
            Self::Service => ("AWS/GameLiftStreams", "ActiveCapacity"),
        }
    }
}

/// A (stream group id, location) pair.
pub type LocationKey = (String, String);

/// The history of one location's in-use capacity over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub peak: Option<u32>,
    pub oldest: Option<DateTime<Utc>>,
}

/// Reads of one region's GameLift Streams, every list through all its pages.
#[async_trait]
pub trait StreamGroupReader: Send + Sync {
    fn region(&self) -> &str;
    /// Every stream group, every status (summaries: no locations, reason or associations).
    async fn list_stream_groups(&self) -> Result<Vec<StreamGroup>, ApiError>;
    /// One group with its locations and capacity (without tags).
    async fn get_stream_group(&self, id: &str) -> Result<StreamGroup, ApiError>;
    async fn list_tags(&self, arn: &str) -> Result<Tags, ApiError>;
    /// Every session of one group, every status.
    async fn list_group_sessions(&self, group_id: &str) -> Result<Vec<StreamSession>, ApiError>;
    /// Every session of the account in the region in one status.
    async fn list_account_sessions(&self, status: &StreamSessionStatus) -> Result<Vec<StreamSession>, ApiError>;
    /// A session's own timeouts (GetStreamSession).
    async fn get_session_timeouts(&self, group_id: &str, session_arn: &str) -> Result<SessionTimeouts, ApiError>;
    /// One application's status (GetApplication), by ARN or id.
    async fn get_application(&self, identifier: &str) -> Result<Application, ApiError>;
    /// Every stream URL of one group, every status (ListStreamUrls).
    async fn list_stream_urls(&self, group_id: &str) -> Result<Vec<StreamUrl>, ApiError>;
}

/// Writes to one region's GameLift Streams: every write is a [`Write`].
#[async_trait]
pub trait StreamGroupWriter: Send + Sync {
    /// Makes the write; for CreateStreamGroup, returns the group it made.
    async fn write(&self, write: &Write) -> Result<Option<GroupRef>, ApiError>;
}

/// One region's GameLift Streams, reads and writes.
pub trait GameLiftStreams: StreamGroupReader + StreamGroupWriter {}
impl<T: StreamGroupReader + StreamGroupWriter> GameLiftStreams for T {}

/// CloudWatch as a place to put metrics.
#[async_trait]
pub trait MetricSink: Send + Sync {
    /// One PutMetricData call: at most [`MAX_DATUMS_PER_CALL`] datums.
    async fn put(&self, namespace: &str, datums: &[Datum], at: DateTime<Utc>) -> Result<(), ApiError>;
}

/// A read of demand history: the in-use capacity of `locations` in `region`, as `metric`
/// records it, between `start` and `end`. Named fields, so the two instants cannot trade places.
#[derive(Debug, Clone, Copy)]
pub struct DemandQuery<'a> {
    pub region: &'a str,
    pub metric: &'a DemandMetric,
    pub locations: &'a [LocationKey],
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// CloudWatch as the source of demand history.
#[async_trait]
pub trait DemandSource: Send + Sync {
    /// The peak and the oldest datapoint of each location's in-use capacity that `query`
    /// names; a location without datapoints is absent.
    async fn demand(&self, query: DemandQuery<'_>) -> Result<BTreeMap<LocationKey, Demand>, ApiError>;
}

/// A read of the watchdog's own health: for each of `dimension_sets`, the sum of `metric`
/// (with exactly those dimensions) in `namespace` published from `since` until `until`.
#[derive(Debug, Clone, Copy)]
pub struct SumsQuery<'a> {
    pub namespace: &'a str,
    pub metric: &'a str,
    pub dimension_sets: &'a [Vec<(&'static str, String)>],
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// CloudWatch as the memory of the watchdog's own health: what earlier runs published.
#[async_trait]
pub trait HealthHistory: Send + Sync {
    /// The sums `query` asks for, one per dimension set in the order given (zero where
    /// nothing was published), in as few calls as the API allows ([`MAX_QUERIES_PER_CALL`] a
    /// call).
    async fn sums(&self, query: SumsQuery<'_>) -> Result<Vec<f64>, ApiError>;
}

/// GetMetricData takes at most 500 queries a call (CloudWatch API reference, MetricDataQueries).
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// SNS.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, topic_arn: &str, message: &Message) -> Result<(), ApiError>;
    /// Up to ten messages in one call; per message, whether SNS accepted it (or why not).
    async fn publish_batch(&self, topic_arn: &str, messages: &[Message]) -> Result<Vec<Result<(), String>>, ApiError>;
}

/// SNS PublishBatch takes at most ten messages.
pub const MAX_MESSAGES_PER_BATCH: usize = 10;

/// The `source` of every event the watchdog puts on EventBridge.
pub const EVENT_SOURCE: &str = "gls-watchdog";
/// PutEvents takes at most ten entries.
pub const MAX_EVENTS_PER_CALL: usize = 10;

/// An Amazon EventBridge event: its detail type, its JSON detail (schemas/ documents both
/// kinds), and the ARNs it concerns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusEvent {
    pub detail_type: String,
    pub detail: serde_json::Value,
    pub resources: Vec<String>,
}

/// EventBridge.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Up to ten events in one PutEvents call; per event, whether EventBridge accepted it.
    async fn put_events(&self, bus: &str, events: &[BusEvent]) -> Result<Vec<Result<(), String>>, ApiError>;
}

/// Puts `events` on `bus` ten at a time; returns the errors, each naming its event.
pub async fn put_all_events(bus_port: &dyn EventBus, bus: &str, events: &[BusEvent]) -> Vec<String> {
    let mut errors = Vec::new();
    for chunk in events.chunks(MAX_EVENTS_PER_CALL) {
        match bus_port.put_events(bus, chunk).await {
            Ok(results) => errors.extend(
                results
                    .into_iter()
                    .zip(chunk)
                    .filter_map(|(result, event)| result.err().map(|e| format!("{}: {e}", event.detail_type))),
            ),
            Err(e) => errors.push(format!("PutEvents to {bus} ({} events): {e}", chunk.len())),
        }
    }
    errors
}

/// Where "now" comes from: the wall clock in production, the emulator's clock in local runs,
/// a fixed instant in tests.
#[async_trait]
pub trait Clock: Send + Sync {
    async fn now(&self) -> Result<DateTime<Utc>, String>;
}

/// Counts of the calls a run made, by operation (HTTP attempts, retries included).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct OperationStats {
    pub attempts: u64,
    pub throttled: u64,
    pub server_errors: u64,
}

pub type CallCounts = BTreeMap<String, OperationStats>;

/// Two tallies of calls as one (calls made with two sets of clients, such as a hub's own and
/// those of a role it assumed).
pub fn total_calls(a: &CallCounts, b: &CallCounts) -> CallCounts {
    let mut total = a.clone();
    for (op, stats) in b {
        let sum = total.entry(op.clone()).or_default();
        sum.attempts += stats.attempts;
        sum.throttled += stats.throttled;
        sum.server_errors += stats.server_errors;
    }
    total
}

/// Calls made since `before`: one run's share of a warm function's totals.
pub fn calls_since(after: &CallCounts, before: &CallCounts) -> CallCounts {
    after
        .iter()
        .map(|(op, a)| {
            let b = before.get(op).cloned().unwrap_or_default();
            let stats = OperationStats {
                attempts: a.attempts.saturating_sub(b.attempts),
                throttled: a.throttled.saturating_sub(b.throttled),
                server_errors: a.server_errors.saturating_sub(b.server_errors),
            };
            (op.clone(), stats)
        })
        .filter(|(_, s)| s.attempts > 0)
        .collect()
}

/// Everything a function reaches outside itself, built once per process.
#[derive(Clone)]
pub struct Ports {
    /// One GameLift Streams per configured region, by region name.
    pub regions: BTreeMap<String, std::sync::Arc<dyn GameLiftStreams>>,
    pub metrics: std::sync::Arc<dyn MetricSink>,
    pub demand: std::sync::Arc<dyn DemandSource>,
    pub history: std::sync::Arc<dyn HealthHistory>,
    pub notifier: std::sync::Arc<dyn Notifier>,
    pub events: std::sync::Arc<dyn EventBus>,
    pub clock: std::sync::Arc<dyn Clock>,
    /// Calls made so far, for reports and health metrics.
    pub calls: std::sync::Arc<dyn Fn() -> CallCounts + Send + Sync>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_kind_is_recorded_under_its_serialized_name() {
        use ErrorKind::*;
        for kind in [NotFound, Throttled, Conflict, Validation, Quota, AccessDenied, Other] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
