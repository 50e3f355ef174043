//! One trimmer run: observe (groups, tags, sessions, demand), plan (pure), then execute
//! within the per-run change limit, logging every change and announcing it on SNS with the
//! capacity-hours per day it saves.

use crate::config::Config;
use crate::demand::{self, DemandSource, LocationKey};
use crate::event::{self, EventError, TrimRequest};
use crate::plan::{self, Action, Observed, Plan, PlanItem, Record, TAG_RECORD_PREFIX};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_gameliftstreams::types::LocationConfiguration;
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use watchdog_shared::api_limits::ClientRateLimiter;
use watchdog_shared::call_stats::{CallStats, OperationStats};
use watchdog_shared::gamelift::{Api, Tags, describe_error, id_of};
use watchdog_shared::opt_in::{self, Eligibility};
use watchdog_shared::sns::string_attribute;
use watchdog_shared::{LocationStatus, StreamGroupStatus};

#[derive(Debug, thiserror::Error)]
pub enum TrimError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    #[error("{0}")]
    Clock(String),
}

impl From<TrimError> for Diagnostic {
    fn from(error: TrimError) -> Self {
        let error_type = match &error {
            TrimError::InvalidEvent(_) => "InvalidEvent",
            TrimError::Clock(_) => "ClockUnavailable",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

#[derive(Debug, Serialize)]
pub struct Executed {
    #[serde(flatten)]
    pub item: PlanItem,
    pub outcome: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub trigger: String,
    pub dry_run: bool,
    pub now: String,
    pub plan: Plan,
    pub executed: Vec<Executed>,
    /// Planned but not done: over the change limit, or a step before it failed.
    pub deferred: Vec<PlanItem>,
    pub errors: Vec<String>,
    /// Capacity-hours per day saved by the changes made (planned, in a dry run).
    pub capacity_hours_per_day: f64,
    pub mutating_calls: usize,
    pub api_calls: BTreeMap<String, OperationStats>,
}

pub struct Trimmer {
    pub config: Config,
    regions: BTreeMap<String, Api>,
    /// The deployment's CloudWatch (the watchdog's metrics), and one per region for the
    /// service's own metrics.
    cloudwatch: aws_sdk_cloudwatch::Client,
    regional_cloudwatch: BTreeMap<String, aws_sdk_cloudwatch::Client>,
    sns: aws_sdk_sns::Client,
    stats: CallStats,
}

fn saved(items: &[&PlanItem]) -> f64 {
    let total: f64 = items.iter().map(|i| i.action.capacity_hours_per_day()).sum();
    (total * 100.0).round() / 100.0
}

impl Trimmer {
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let stats = CallStats::default();
        let limiter = ClientRateLimiter::new(config.api_share);
        let regions = config
            .regions
            .iter()
            .map(|r| (r.clone(), Api::new(sdk, r, limiter.clone(), &stats, config.max_attempts)))
            .collect();
        let cloudwatch_in = |region: Option<&str>| {
            let mut builder = aws_sdk_cloudwatch::config::Builder::from(sdk).interceptor(stats.clone());
            if let Some(region) = region {
                builder = builder.region(aws_types::region::Region::new(region.to_owned()));
            }
            aws_sdk_cloudwatch::Client::from_conf(builder.build())
        };
        let regional_cloudwatch = match config.demand_source {
            DemandSource::Service => config.regions.iter().map(|r| (r.clone(), cloudwatch_in(Some(r)))).collect(),
            DemandSource::Watchdog { .. } => BTreeMap::new(),
        };
        let sns =
            aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).interceptor(stats.clone()).build());
        Self { cloudwatch: cloudwatch_in(None), regional_cloudwatch, config, regions, sns, stats }
    }

    pub async fn from_env(config: Config) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(config, &sdk)
    }

    /// Every group the trimmer may act on (or report), with details, tags, sessions and demand.
    async fn observe(
        &self,
        api: &Api,
        only: Option<&[String]>,
        now: DateTime<Utc>,
        errors: &mut Vec<String>,
    ) -> Vec<Observed> {
        let groups = match api.list_groups().await {
            Ok(groups) => groups,
            Err(e) => {
                errors.push(format!("{}: ListStreamGroups: {e}; region skipped", api.region));
                return Vec::new();
            }
        };
        let settings = &self.config.settings;
        let mut observed = Vec::new();
        for summary in groups {
            if only.is_some_and(|ids| !ids.iter().any(|i| id_of(i) == summary.id))
                || matches!(summary.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired)
            {
                continue;
            }
            let tags = match api.tags(&summary.arn).await {
                Ok(tags) => tags,
                Err(e) => {
                    errors.push(format!("{}: ListTagsForResource: {e}; group skipped", summary.id));
                    continue;
                }
            };
            let mut group = summary;
            group.tags = tags;
            let eligibility = opt_in::eligibility(&group, &settings.opt_in_tag, settings.manage_all_groups);
            if matches!(eligibility, Eligibility::NotOptedIn | Eligibility::OptedOut) {
                // Nothing to read in detail: the planner only notes opt-outs.
                observed.push(Observed { group, demand: BTreeMap::new(), sessions: Vec::new() });
                continue;
            }
            let details = match api.get_group(&group.id).await {
                Ok(mut details) => {
                    details.tags = std::mem::take(&mut group.tags);
                    details
                }
                Err(e) => {
                    errors.push(format!("{}: GetStreamGroup: {}; group skipped", group.id, describe_error(&e)));
                    continue;
                }
            };
            let sessions = match api.group_sessions(&details.id).await {
                Ok(sessions) => sessions,
                Err(e) => {
                    errors.push(format!("{}: ListStreamSessions: {e}; group skipped", details.id));
                    continue;
                }
            };
            observed.push(Observed { group: details, demand: BTreeMap::new(), sessions });
        }

        // Demand for every active location of the groups read in detail, in one pass.
        let keys: Vec<LocationKey> = observed
            .iter()
            .filter(|o| o.group.status == StreamGroupStatus::Active)
            .flat_map(|o| {
                o.group
                    .locations
                    .iter()
                    .filter(|l| l.status == LocationStatus::Active)
                    .map(|l| (o.group.id.clone(), l.name.clone()))
            })
            .collect();
        if !keys.is_empty() {
            let cloudwatch = self.regional_cloudwatch.get(&api.region).unwrap_or(&self.cloudwatch);
            let start = now - settings.window;
            match demand::read(cloudwatch, &self.config.demand_source, &keys, start, now).await {
                Ok(mut demand) => {
                    for o in &mut observed {
                        for location in &o.group.locations {
                            let key = (o.group.id.clone(), location.name.clone());
                            if let Some(d) = demand.remove(&key) {
                                o.demand.insert(location.name.clone(), d);
                            }
                        }
                    }
                }
                // Without history nothing is lowered; raises still work from live readings.
                Err(e) => errors.push(format!("{}: demand history unavailable: {e}", api.region)),
            }
        }
        observed
    }

    pub async fn run(&self, request: TrimRequest) -> Result<Report, TrimError> {
        let stats_before = self.stats.snapshot();
        let now = watchdog_shared::clock::now_from(self.config.clock_url.as_deref()).await.map_err(TrimError::Clock)?;
        // A request may ask for a dry run; only the deployment can turn dry run off.
        let dry_run = self.config.dry_run || request.dry_run == Some(true);
        let mut report = Report {
            trigger: request.trigger.clone().unwrap_or_else(|| "manual".into()),
            dry_run,
            now: now.to_rfc3339(),
            ..Report::default()
        };
        let mut changes_left = self.config.max_changes_per_run;
        for api in self.regions.values() {
            let observed = self.observe(api, request.stream_groups.as_deref(), now, &mut report.errors).await;
            let plan = plan::plan(&observed, now, &self.config.settings);
            if !dry_run {
                self.execute(api, &plan, now, &mut changes_left, &mut report).await;
            }
            report.plan.changes.extend(plan.changes);
            report.plan.reported_only.extend(plan.reported_only);
            report.plan.notes.extend(plan.notes);
        }
        report.capacity_hours_per_day = if dry_run {
            saved(&report.plan.changes.iter().collect::<Vec<_>>())
        } else {
            saved(&report.executed.iter().map(|e| &e.item).collect::<Vec<_>>())
        };
        if dry_run
            && self.config.publish_plan
            && !(report.plan.changes.is_empty() && report.plan.reported_only.is_empty())
            && let Some(topic) = &self.config.actions_topic_arn
        {
            let message = json!({
                "type": "plan",
                "function": "trimmer",
                "dry_run": true,
                "capacity_hours_per_day": report.capacity_hours_per_day,
                "plan": report.plan,
            });
            if let Some(e) = self
                .publish(topic, "[GameLift Streams watchdog] trimmer plan (dry run)", message, "plan", "plan", "")
                .await
            {
                report.errors.push(format!("publishing the plan: {e}"));
            }
        }
        report.api_calls = self.stats.since(&stats_before);
        tracing::info!(
            dry_run,
            planned = report.plan.changes.len(),
            executed = report.executed.len(),
            deferred = report.deferred.len(),
            errors = report.errors.len(),
            capacity_hours_per_day = report.capacity_hours_per_day,
            "trimmer run finished"
        );
        Ok(report)
    }

    /// Applies one region's plan: per group, the records first (one TagResource), then all
    /// its capacity changes (one UpdateStreamGroup), then the session ends.
    async fn execute(&self, api: &Api, plan: &Plan, now: DateTime<Utc>, changes_left: &mut usize, report: &mut Report) {
        let mut by_group: BTreeMap<&str, Vec<&PlanItem>> = BTreeMap::new();
        for item in &plan.changes {
            by_group.entry(&item.stream_group).or_default().push(item);
        }
        for (group, items) in by_group {
            let (capacity, sessions): (Vec<&PlanItem>, Vec<&PlanItem>) =
                items.into_iter().partition(|i| matches!(i.action, Action::SetCapacity { .. }));
            let take = capacity.len().min(*changes_left);
            report.deferred.extend(capacity[take..].iter().map(|i| (*i).clone()));
            let capacity = &capacity[..take];
            let mut group_failed = false;
            if !capacity.is_empty() {
                *changes_left -= capacity.len();
                match self.set_capacity(api, capacity, now, &mut report.mutating_calls).await {
                    Ok(()) => {
                        for item in capacity {
                            self.record(item, "applied".into(), report).await;
                        }
                    }
                    Err(error) => {
                        tracing::error!(stream_group = group, error = %error, "capacity change failed; the next run resumes");
                        report.errors.push(format!("{group}: {error}"));
                        group_failed = true;
                    }
                }
            }
            for item in sessions {
                if *changes_left == 0 || group_failed {
                    report.deferred.push(item.clone());
                    continue;
                }
                let Action::EndSession { session_arn, .. } = &item.action else { continue };
                *changes_left -= 1;
                report.mutating_calls += 1;
                api.limiter.acquire(&api.region, "TerminateStreamSession").await;
                let ended = api
                    .client
                    .terminate_stream_session()
                    .identifier(group)
                    .stream_session_identifier(session_arn)
                    .send()
                    .await;
                match ended {
                    Ok(_) => self.record(item, "terminated".into(), report).await,
                    Err(e) => {
                        let error = format!("{group}: TerminateStreamSession {session_arn}: {}", describe_error(&e));
                        tracing::error!(error = %error, "session end failed");
                        report.errors.push(error);
                    }
                }
            }
        }
    }

    async fn set_capacity(
        &self,
        api: &Api,
        items: &[&PlanItem],
        now: DateTime<Utc>,
        mutations: &mut usize,
    ) -> Result<(), String> {
        let arn = &items[0].stream_group_arn;
        let mut records = Tags::new();
        let mut configs = Vec::new();
        for item in items {
            let Action::SetCapacity { location, to, maximum, original, why, .. } = &item.action else { continue };
            let record = Record { original: *original, set: *to, changed_at: now, why: *why };
            records.insert(format!("{TAG_RECORD_PREFIX}{location}"), record.encode());
            // All three settings together, as the API asks; MaximumCapacity unchanged.
            configs.push(
                LocationConfiguration::builder()
                    .location_name(location)
                    .always_on_capacity(to.always_on as i32)
                    .target_idle_capacity(to.target_idle as i32)
                    .set_maximum_capacity(maximum.map(|m| m as i32))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        // The record goes first: if the change is lost, the next run still knows the original.
        *mutations += 1;
        api.tag(arn, records).await.map_err(|e| format!("TagResource (recording the original): {e}"))?;
        *mutations += 1;
        api.limiter.acquire(&api.region, "UpdateStreamGroup").await;
        api.client
            .update_stream_group()
            .identifier(arn)
            .set_location_configurations(Some(configs))
            .send()
            .await
            .map_err(|e| format!("UpdateStreamGroup: {}", describe_error(&e)))?;
        Ok(())
    }

    /// Logs a change, announces it (best effort: the report and the log hold it anyway) and
    /// adds it to the report.
    async fn record(&self, item: &PlanItem, outcome: String, report: &mut Report) {
        let saved = item.action.capacity_hours_per_day();
        tracing::info!(action = item.action.name(), stream_group = %item.stream_group, region = %item.region, reason = %item.reason, capacity_hours_per_day = saved, outcome = %outcome, "trimmer change");
        if let Some(topic) = &self.config.actions_topic_arn {
            let message = json!({
                "type": "action",
                "function": "trimmer",
                "action": item.action.name(),
                "item": item,
                "outcome": outcome,
                "capacity_hours_per_day": saved,
            });
            let subject = format!("[GameLift Streams watchdog] {} {}", item.action.name(), item.stream_group);
            if let Some(e) =
                self.publish(topic, &subject, message, "action", item.action.name(), &item.stream_group).await
            {
                report.errors.push(format!("announcing {} on {}: {e}", item.action.name(), item.stream_group));
            }
        }
        report.executed.push(Executed { item: item.clone(), outcome });
    }

    async fn publish(
        &self,
        topic: &str,
        subject: &str,
        message: Value,
        kind: &str,
        action: &str,
        stream_group: &str,
    ) -> Option<String> {
        let mut publish = self
            .sns
            .publish()
            .topic_arn(topic)
            .subject(subject.chars().take(100).collect::<String>())
            .message(message.to_string())
            .message_attributes("type", string_attribute(kind))
            .message_attributes("action", string_attribute(action));
        if !stream_group.is_empty() {
            publish = publish.message_attributes("stream_group", string_attribute(stream_group));
        }
        publish.send().await.err().map(|e| aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
    }
}

pub async fn handle(trimmer: &Trimmer, event: LambdaEvent<Value>) -> Result<Report, TrimError> {
    let request = event::parse(event.payload)?;
    trimmer.run(request).await
}
