//! One scan: observe every region, apply the finding rules, alert without repeating
//! yourself, publish metrics, and return a report of all of it, including what could not be read.

use crate::alerts;
use crate::config::Config;
use crate::event::{EventError, ScanRequest};
use crate::inventory::{GameLift, RegionInventory, SessionListing, Unread};
use crate::metrics::{self, Datum, IdleCost};
use aws_config::{BehaviorVersion, SdkConfig};
use chrono::Duration;
use futures::StreamExt;
use futures::future::join_all;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use watchdog_shared::api_limits::ClientRateLimiter;
use watchdog_shared::call_stats::{CallStats, OperationStats};
use watchdog_shared::findings::Finding;
use watchdog_shared::gamelift::Api;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    #[error("{reason}")]
    Clock { url: String, reason: String },
    #[error("the scan finished but publishing failed: {0}")]
    Publish(String),
}

impl From<ScanError> for Diagnostic {
    fn from(error: ScanError) -> Self {
        let error_type = match &error {
            ScanError::InvalidEvent(_) => "InvalidEvent",
            ScanError::Clock { .. } => "ClockUnavailable",
            ScanError::Publish(_) => "PublishFailed",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub stream_groups: usize,
    /// Groups read in full with GetStreamGroup (the rest: expired, deleting, or unread).
    pub described_groups: usize,
    pub groups_by_status: BTreeMap<String, usize>,
    pub sessions_by_status: BTreeMap<String, usize>,
    pub findings_by_kind: BTreeMap<String, usize>,
    pub findings_by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Serialize)]
pub struct AlertSummary {
    pub sent: usize,
    /// Already sent within the re-send interval at the same or a higher severity.
    pub suppressed: usize,
    /// Would have been sent, had this not been a dry run or had a topic been configured.
    pub not_sent: usize,
    pub failed: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct MetricSummary {
    pub namespace: String,
    pub datums: usize,
    pub put_metric_data_calls: usize,
    pub published: bool,
}

/// What the function returns.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub trigger: String,
    pub dry_run: bool,
    pub now: String,
    pub duration_ms: u64,
    pub regions: Vec<String>,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    pub alerts: AlertSummary,
    pub metrics: MetricSummary,
    pub idle: IdleCost,
    /// HTTP attempts by operation during this run, retries included.
    pub api_calls: BTreeMap<String, OperationStats>,
    pub session_listing: BTreeMap<String, SessionListing>,
    /// Everything the scan could not read, and what it did without it.
    pub unread: Vec<Unread>,
    pub publish_errors: Vec<String>,
    /// True when every group and session was read.
    pub complete: bool,
}

pub struct Scanner {
    pub config: Config,
    regions: BTreeMap<String, GameLift>,
    cloudwatch: aws_sdk_cloudwatch::Client,
    sns: aws_sdk_sns::Client,
    stats: CallStats,
}

impl Scanner {
    /// Builds every client once; `sdk` carries credentials, endpoints and the function's region.
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let stats = CallStats::default();
        let limiter = ClientRateLimiter::new(config.api_share);
        let regions = config
            .regions
            .iter()
            .map(|region| {
                let api = Api::new(sdk, region, limiter.clone(), &stats, config.max_attempts);
                (region.clone(), GameLift(api))
            })
            .collect();
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(sdk).interceptor(stats.clone()).build(),
        );
        let sns =
            aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).interceptor(stats.clone()).build());
        Self { config, regions, cloudwatch, sns, stats }
    }

    pub async fn from_env(config: Config) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(config, &sdk)
    }

    pub async fn scan(&self, request: ScanRequest) -> Result<Report, ScanError> {
        let started = Instant::now();
        let stats_before = self.stats.snapshot();
        let now = watchdog_shared::clock::now_from(self.config.clock_url.as_deref())
            .await
            .map_err(|reason| ScanError::Clock { url: self.config.clock_url.clone().unwrap_or_default(), reason })?;
        let dry_run = request.dry_run.unwrap_or(self.config.dry_run);
        let regions: Vec<&GameLift> = match &request.regions {
            None => self.regions.values().collect(),
            Some(wanted) => {
                let mut chosen = Vec::new();
                for (i, region) in wanted.iter().enumerate() {
                    let api = self.regions.get(region).ok_or_else(|| EventError {
                        field: format!("regions[{i}]"),
                        problem: format!(
                            "{region} is not a configured region (REGIONS={})",
                            self.config.regions.join(",")
                        ),
                    })?;
                    chosen.push(api);
                }
                chosen
            }
        };
        let config = &self.config;

        let inventories: Vec<RegionInventory> = join_all(
            regions
                .iter()
                .map(|api| api.read(request.stream_groups.as_deref(), config.max_concurrency, &config.policy, now)),
        )
        .await;

        let mut report = Report {
            trigger: request.trigger.clone().unwrap_or_else(|| "manual".into()),
            dry_run,
            now: now.to_rfc3339(),
            regions: inventories.iter().map(|i| i.region.clone()).collect(),
            metrics: MetricSummary { namespace: config.namespace.clone(), ..MetricSummary::default() },
            ..Report::default()
        };
        // Alerts: plan per group from its memory, send everything due in as few batches as
        // SNS allows, then remember what SNS accepted (and forget what cleared).
        let topic = config.findings_topic_arn.as_deref().filter(|_| !dry_run);
        let mut plans: Vec<(&GameLift, String, alerts::GroupAlerts)> = Vec::new();
        for inventory in &inventories {
            let api = &self.regions[&inventory.region];
            let mut by_group: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
            for f in &inventory.findings {
                by_group.entry(f.stream_group_arn.as_str()).or_default().push(f);
            }
            for (arn, group_findings) in by_group {
                let Some(tags) = inventory.tags.get(arn) else { continue };
                let plan = alerts::plan(&group_findings, tags, &config.alert_tag_prefix, now, config.alert_resend);
                report.alerts.suppressed += plan.suppressed.len();
                plans.push((api, arn.to_owned(), plan));
            }
        }
        let to_send: Vec<(Finding, alerts::Why)> = plans.iter().flat_map(|(_, _, p)| p.send.iter().cloned()).collect();
        match topic {
            None => report.alerts.not_sent = to_send.len(),
            Some(topic) => {
                let (accepted, errors) = alerts::publish(&self.sns, topic, &to_send).await;
                report.publish_errors.extend(errors);
                let mut accepted = accepted.into_iter();
                let mut writes = Vec::new();
                for (api, arn, plan) in plans {
                    let mut remember = BTreeMap::new();
                    for (finding, _) in &plan.send {
                        if accepted.next().unwrap_or(false) {
                            report.alerts.sent += 1;
                            let key = format!("{}{}", config.alert_tag_prefix, finding.dedup_key());
                            if let Some(value) = plan.remember.get(&key) {
                                remember.insert(key, value.clone());
                            }
                        } else {
                            report.alerts.failed += 1;
                        }
                    }
                    if !remember.is_empty() || !plan.forget.is_empty() {
                        writes.push(async move { api.write_tags(&arn, remember, plan.forget).await });
                    }
                }
                for result in futures::stream::iter(writes).buffered(config.max_concurrency).collect::<Vec<_>>().await {
                    if let Err(unread) = result {
                        report.unread.push(unread);
                    }
                }
            }
        }

        // Metrics, then the watchdog's own health as of now.
        let mut datums: Vec<Datum> = Vec::new();
        for inventory in &inventories {
            datums.extend(metrics::inventory_datums(
                inventory,
                &inventory.findings,
                config.metric_detail,
                now,
                config.schedule_interval,
                &config.price_table,
            ));
        }
        let unread_count = report.unread.len() + inventories.iter().map(|i| i.unread.len()).sum::<usize>();
        let calls = self.stats.since(&stats_before);
        datums.extend(metrics::health_datums(
            Duration::from_std(started.elapsed()).unwrap_or_default(),
            &calls,
            unread_count,
        ));
        report.metrics.datums = datums.len();
        if !dry_run {
            match metrics::publish(&self.cloudwatch, &config.namespace, &datums, now).await {
                Ok(calls) => {
                    report.metrics.put_metric_data_calls = calls;
                    report.metrics.published = true;
                }
                Err(error) => report.publish_errors.push(error),
            }
        }

        for inventory in inventories {
            report.counts.stream_groups += inventory.groups.len();
            report.counts.described_groups += inventory.described.len();
            for g in &inventory.groups {
                *report.counts.groups_by_status.entry(g.status.to_string()).or_default() += 1;
            }
            for s in &inventory.sessions {
                *report.counts.sessions_by_status.entry(s.status.to_string()).or_default() += 1;
            }
            let idle = metrics::idle_cost(&inventory.groups, config.schedule_interval, &config.price_table);
            report.idle.idle_capacity_hours += idle.idle_capacity_hours;
            report.idle.cost = match (report.idle.cost, idle.cost) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            };
            report.idle.unpriced_classes.extend(idle.unpriced_classes);
            if let Some(listing) = inventory.session_listing {
                report.session_listing.insert(inventory.region.clone(), listing);
            }
            report.unread.extend(inventory.unread);
            report.findings.extend(inventory.findings);
        }
        for f in &report.findings {
            *report.counts.findings_by_kind.entry(f.kind.to_string()).or_default() += 1;
            *report.counts.findings_by_severity.entry(f.severity.to_string()).or_default() += 1;
        }
        report.complete = report.unread.is_empty();
        report.api_calls = self.stats.since(&stats_before);
        report.duration_ms = started.elapsed().as_millis() as u64;

        tracing::info!(
            trigger = %report.trigger,
            dry_run,
            stream_groups = report.counts.stream_groups,
            findings = report.findings.len(),
            alerts_sent = report.alerts.sent,
            alerts_suppressed = report.alerts.suppressed,
            datums = report.metrics.datums,
            unread = report.unread.len(),
            duration_ms = report.duration_ms,
            "scan finished"
        );
        for unread in &report.unread {
            tracing::warn!(region = %unread.region, operation = unread.operation, stream_group = ?unread.stream_group, error = %unread.error, consequence = unread.consequence, "could not read");
        }
        if !report.publish_errors.is_empty() {
            let errors = report.publish_errors.join("; ");
            tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "publishing failed");
            return Err(ScanError::Publish(errors));
        }
        Ok(report)
    }
}
