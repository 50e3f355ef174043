//! CloudWatch through aws-sdk-cloudwatch: the metric sink (PutMetricData) and the demand
//! source (GetMetricData, up to 500 queries a call).

use crate::call_stats::CallStats;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricDatum, MetricStat, StandardUnit,
};
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
        let dimension_sets: Vec<Vec<(&str, String)>> = locations
            .iter()
            .map(|(group, location)| vec![("StreamGroupId", group.clone()), ("Location", location.clone())])
            .collect();
        let mut demand: BTreeMap<LocationKey, Demand> = BTreeMap::new();
        let read = MetricRead { namespace, metric: metric_name, stat: "Maximum", dimension_sets: &dimension_sets };
        read_metric_data(&client, read, (start, end), |index, result| {
            let entry = demand.entry(locations[index].clone()).or_default();
            for (value, at) in result.values().iter().zip(result.timestamps()) {
                let peak = value.max(0.0).min(f64::from(u32::MAX)).ceil() as u32;
                entry.peak = Some(entry.peak.map_or(peak, |p| p.max(peak)));
                let at = DateTime::from_timestamp(at.secs(), 0).unwrap_or(end);
                entry.oldest = Some(entry.oldest.map_or(at, |o| o.min(at)));
            }
        })
        .await?;
        demand.retain(|_, d| d.peak.is_some());
        Ok(demand)
    }
}

#[async_trait]
impl HealthHistory for CloudWatch {
    async fn sums(&self, query: SumsQuery<'_>) -> Result<Vec<f64>, ApiError> {
        let SumsQuery { namespace, metric, dimension_sets, since, until } = query;
        let mut sums = vec![0.0; dimension_sets.len()];
        let read = MetricRead { namespace, metric, stat: "Sum", dimension_sets };
        read_metric_data(&self.home, read, (since, until), |index, result| {
            sums[index] += result.values().iter().sum::<f64>();
        })
        .await?;
        Ok(sums)
    }
}

/// One statistic of one metric, for each of several dimension sets, at a one-minute period.
struct MetricRead<'a> {
    namespace: &'a str,
    metric: &'a str,
    stat: &'a str,
    dimension_sets: &'a [Vec<(&'a str, String)>],
}

/// `read` between the two instants, with GetMetricData: a query per dimension set, at most
/// [`MAX_QUERIES_PER_CALL`] a call, every page. Each result is handed to `take` with the index
/// of its dimension set (the query's id carries it).
async fn read_metric_data(
    client: &aws_sdk_cloudwatch::Client,
    read: MetricRead<'_>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    mut take: impl FnMut(usize, &MetricDataResult) + Send,
) -> Result<(), ApiError> {
    let MetricRead { namespace, metric, stat, dimension_sets } = read;
    for (chunk, sets) in dimension_sets.chunks(MAX_QUERIES_PER_CALL).enumerate() {
        let queries = sets.iter().enumerate().map(|(i, dimensions)| {
            let dimensions =
                dimensions.iter().map(|(name, value)| Dimension::builder().name(*name).value(value).build());
            let metric = Metric::builder()
                .namespace(namespace)
                .metric_name(metric)
                .set_dimensions(Some(dimensions.collect()))
                .build();
            MetricDataQuery::builder()
                .id(format!("q{}", chunk * MAX_QUERIES_PER_CALL + i))
                .metric_stat(MetricStat::builder().metric(metric).period(60).stat(stat).build())
                .return_data(true)
                .build()
        });
        let mut pages = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.collect()))
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("GetMetricData", &e))?;
            for result in page.metric_data_results() {
                let index = result.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok());
                if let Some(index) = index.filter(|i| *i < dimension_sets.len()) {
                    take(index, result);
                }
            }
        }
    }
    Ok(())
}
