//! Demand history from CloudWatch: the peak in-use capacity of each location over the
//! window, read with GetMetricData (up to 500 queries a call).

use crate::plan::Demand;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Where demand comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DemandSource {
    /// The scanner's `InUseCapacity` at location detail, in the watchdog's namespace.
    Watchdog { namespace: String },
    /// The service's own `ActiveCapacity` in `AWS/GameLiftStreams`, in each group's region.
    Service,
}

impl DemandSource {
    pub fn metric(&self) -> (&str, &'static str) {
        match self {
            Self::Watchdog { namespace } => (namespace, "InUseCapacity"),
            Self::Service => ("AWS/GameLiftStreams", "ActiveCapacity"),
        }
    }
}

/// A (stream group id, location) pair.
pub type LocationKey = (String, String);

const QUERIES_PER_CALL: usize = 500;

/// The peak and the oldest datapoint of each location's demand between `start` and `end`.
/// A location without datapoints is absent: no history is not zero demand.
pub async fn read(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    source: &DemandSource,
    locations: &[LocationKey],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<BTreeMap<LocationKey, Demand>, String> {
    let (namespace, metric_name) = source.metric();
    let mut demand = BTreeMap::new();
    for chunk in locations.chunks(QUERIES_PER_CALL) {
        let queries: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(i, (group, location))| {
                let metric = Metric::builder()
                    .namespace(namespace)
                    .metric_name(metric_name)
                    .dimensions(Dimension::builder().name("StreamGroupId").value(group).build())
                    .dimensions(Dimension::builder().name("Location").value(location).build())
                    .build();
                MetricDataQuery::builder()
                    .id(format!("q{i}"))
                    .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
                    .return_data(true)
                    .build()
            })
            .collect();
        let mut token = None;
        loop {
            let page = cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| format!("GetMetricData: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
            for result in page.metric_data_results() {
                let Some(index) = result.id().and_then(|id| id.strip_prefix('q')).and_then(|i| i.parse::<usize>().ok())
                else {
                    continue;
                };
                let Some(key) = chunk.get(index) else { continue };
                let entry: &mut Demand = demand.entry(key.clone()).or_default();
                for (value, at) in result.values().iter().zip(result.timestamps()) {
                    let peak = value.max(0.0).ceil() as u32;
                    entry.peak = Some(entry.peak.map_or(peak, |p| p.max(peak)));
                    let at = DateTime::from_timestamp(at.secs(), 0).unwrap_or(end);
                    entry.oldest = Some(entry.oldest.map_or(at, |o| o.min(at)));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    demand.retain(|_, d| d.peak.is_some());
    Ok(demand)
}
