//! CloudWatch through aws-sdk-cloudwatch: the metric sink (PutMetricData) and the demand
//! source (GetMetricData, up to 500 queries a call).

use crate::call_stats::CallStats;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;
use watchdog_core::ports::{
    ApiError, Datum, Demand, DemandMetric, DemandQuery, DemandSource, HealthHistory, LocationKey, MAX_QUERIES_PER_CALL,
    MetricSink, SumsQuery, Unit,
};

pub struct CloudWatch {
    sdk: aws_types::SdkConfig,
    stats: CallStats,
    /// The deployment's own region's client, and one per region for the service's metrics.
    home: aws_sdk_cloudwatch::Client,
    regional: Mutex<BTreeMap<String, aws_sdk_cloudwatch::Client>>,
}

impl CloudWatch {
    pub fn new(sdk: &aws_types::SdkConfig, stats: &CallStats) -> Self {
        let home = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(sdk).interceptor(stats.clone()).build(),
        );
        Self { sdk: sdk.clone(), stats: stats.clone(), home, regional: Mutex::default() }
    }

    fn in_region(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let mut regional = self.regional.lock().unwrap_or_else(|e| e.into_inner());
        regional
            .entry(region.to_owned())
            .or_insert_with(|| {
                aws_sdk_cloudwatch::Client::from_conf(
                    aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
                        .region(aws_types::region::Region::new(region.to_owned()))
                        .interceptor(self.stats.clone())
                        .build(),
                )
            })
            .clone()
    }
}

fn to_sdk(d: &Datum, at: DateTime<Utc>) -> MetricDatum {
    let unit = match d.unit {
        Unit::Count => StandardUnit::Count,
        Unit::Percent => StandardUnit::Percent,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::None => StandardUnit::None,
    };
    MetricDatum::builder()
        .metric_name(d.name)
        .set_dimensions(Some(
            d.dimensions.iter().map(|(name, value)| Dimension::builder().name(*name).value(value).build()).collect(),
        ))
        .value(d.value)
        .unit(unit)
        .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
        .build()
}

#[async_trait]
impl MetricSink for CloudWatch {
    async fn put(&self, namespace: &str, datums: &[Datum], at: DateTime<Utc>) -> Result<(), ApiError> {
        let request = self
            .home
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(datums.iter().map(|d| to_sdk(d, at)).collect()));
        request.send().await.map(|_| ()).map_err(|e| classify("PutMetricData", &e))
    }
}

#[async_trait]
impl DemandSource for CloudWatch {
    async fn demand(&self, query: DemandQuery<'_>) -> Result<BTreeMap<LocationKey, Demand>, ApiError> {
        let DemandQuery { region, metric, locations, start, end } = query;
        // The watchdog's metrics live where the deployment publishes them; the service's in
        // each group's own region.
        let client = match metric {
            DemandMetric::Watchdog { .. } => self.home.clone(),
            DemandMetric::Service => self.in_region(region),
        };
        let (namespace, metric_name) = metric.metric();
        let mut demand: BTreeMap<LocationKey, Demand> = BTreeMap::new();
        for chunk in locations.chunks(MAX_QUERIES_PER_CALL) {
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
            let mut pages = client
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("GetMetricData", &e))?;
                for result in page.metric_data_results() {
                    let index = result.id().and_then(|id| id.strip_prefix('q')).and_then(|i| i.parse::<usize>().ok());
                    let Some(key) = index.and_then(|i| chunk.get(i)) else { continue };
                    let entry = demand.entry(key.clone()).or_default();
                    for (value, at) in result.values().iter().zip(result.timestamps()) {
                        let peak = value.max(0.0).min(f64::from(u32::MAX)).ceil() as u32;
                        entry.peak = Some(entry.peak.map_or(peak, |p| p.max(peak)));
                        let at = DateTime::from_timestamp(at.secs(), 0).unwrap_or(end);
                        entry.oldest = Some(entry.oldest.map_or(at, |o| o.min(at)));
                    }
                }
            }
        }
        demand.retain(|_, d| d.peak.is_some());
        Ok(demand)
    }
}

#[async_trait]
impl HealthHistory for CloudWatch {
    /// One GetMetricData call per 500 dimension sets: a query each, answered by its id.
    async fn sums(&self, query: SumsQuery<'_>) -> Result<Vec<f64>, ApiError> {
        let SumsQuery { namespace, metric, dimension_sets, since, until } = query;
        let mut sums = vec![0.0; dimension_sets.len()];
        for (chunk, sets) in dimension_sets.chunks(MAX_QUERIES_PER_CALL).enumerate() {
            let queries = sets.iter().enumerate().map(|(i, dimensions)| {
                let metric = Metric::builder()
                    .namespace(namespace)
                    .metric_name(metric)
                    .set_dimensions(Some(
                        dimensions
                            .iter()
                            .map(|(name, value)| Dimension::builder().name(*name).value(value).build())
                            .collect(),
                    ))
                    .build();
                MetricDataQuery::builder()
                    .id(format!("q{}", chunk * MAX_QUERIES_PER_CALL + i))
                    .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
                    .return_data(true)
                    .build()
            });
            let mut pages = self
                .home
                .get_metric_data()
                .set_metric_data_queries(Some(queries.collect()))
                .start_time(aws_smithy_types::DateTime::from_secs(since.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(until.timestamp()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("GetMetricData", &e))?;
                for result in page.metric_data_results() {
                    let index = result.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok());
                    if let Some(sum) = index.and_then(|i| sums.get_mut(i)) {
                        *sum += result.values().iter().sum::<f64>();
                    }
                }
            }
        }
        Ok(sums)
    }
}
