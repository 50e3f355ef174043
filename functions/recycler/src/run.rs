//! One recycler run: observe, plan (pure), then execute the plan within the per-run limits,
//! logging every action as structured JSON and announcing it on SNS.

use crate::config::Config;
use crate::event::{EventError, RecycleRequest};
use crate::plan::{
    self, LocationSpec, Observed, Plan, PlanItem, Replacement, Step, TAG_ATTEMPT, TAG_CUTOVER_AT, TAG_FAILED,
    TAG_REPAIR_PREFIX, TAG_REPLACEMENT, TAG_RETIRED, TAG_RETRY_AFTER,
};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_gameliftstreams::types::{LocationConfiguration, StreamClass};
use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use watchdog_shared::api_limits::ClientRateLimiter;
use watchdog_shared::call_stats::{CallStats, OperationStats};
use watchdog_shared::gamelift::{Api, Tags, describe_error, id_of};
use watchdog_shared::sns::string_attribute;
use watchdog_shared::{StreamGroup, StreamGroupStatus};

#[derive(Debug, thiserror::Error)]
pub enum RecycleError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    #[error("{0}")]
    Clock(String),
}

impl From<RecycleError> for Diagnostic {
    fn from(error: RecycleError) -> Self {
        let error_type = match &error {
            RecycleError::InvalidEvent(_) => "InvalidEvent",
            RecycleError::Clock(_) => "ClockUnavailable",
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
    /// Everything the run decided, in order.
    pub plan: Plan,
    pub executed: Vec<Executed>,
    /// Planned but not done: a step before it failed, or the mutation limit was reached.
    pub deferred: Vec<PlanItem>,
    pub errors: Vec<String>,
    pub mutating_calls: usize,
    pub api_calls: BTreeMap<String, OperationStats>,
}

pub struct Recycler {
    pub config: Config,
    regions: BTreeMap<String, Api>,
    sns: aws_sdk_sns::Client,
    stats: CallStats,
}

impl Recycler {
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let stats = CallStats::default();
        let limiter = ClientRateLimiter::new(config.api_share);
        let regions = config
            .regions
            .iter()
            .map(|r| (r.clone(), Api::new(sdk, r, limiter.clone(), &stats, config.max_attempts)))
            .collect();
        let sns =
            aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).interceptor(stats.clone()).build());
        Self { config, regions, sns, stats }
    }

    pub async fn from_env(config: Config) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(config, &sdk)
    }

    /// Observes one region: every group with its tags, details where a step may follow,
    /// the replacement each old group names, and sessions of groups past their cut-over.
    async fn observe(
        &self,
        api: &Api,
        only: Option<&[String]>,
        errors: &mut Vec<String>,
    ) -> (Vec<Observed>, Vec<StreamGroup>) {
        let mut all = match api.list_groups().await {
            Ok(groups) => groups,
            Err(e) => {
                errors.push(format!("{}: ListStreamGroups: {e}; region skipped", api.region));
                return (Vec::new(), Vec::new());
            }
        };
        for group in &mut all {
            match api.tags(&group.arn).await {
                Ok(tags) => group.tags = tags,
                Err(e) => errors.push(format!("{}: ListTagsForResource: {e}; group skipped", group.id)),
            }
        }
        let wanted = |g: &StreamGroup| {
            only.is_none_or(|ids| ids.iter().any(|i| id_of(i) == g.id))
                || only.is_some_and(|ids| {
                    g.tags.get(plan::TAG_REPLACES).is_some_and(|old| ids.iter().any(|i| id_of(i) == old))
                })
        };
        let mut observed = Vec::new();
        // Groups the recycler may act on, and replacements still announcing their predecessor.
        let relevant = |g: &StreamGroup| {
            plan::eligibility(g, &self.config.settings) != plan::Eligibility::NotOptedIn
                || g.tags.contains_key(plan::TAG_REPLACES)
        };
        for summary in all.iter().filter(|g| wanted(g) && relevant(g)) {
            let details = match api.get_group(&summary.id).await {
                Ok(mut group) => {
                    group.tags = summary.tags.clone();
                    group
                }
                Err(e) => {
                    errors.push(format!("{}: GetStreamGroup: {}; group skipped", summary.id, describe_error(&e)));
                    continue;
                }
            };
            let replacement = match details.tags.get(TAG_REPLACEMENT) {
                None => None,
                Some(id) => match all.iter().find(|g| &g.id == id) {
                    None => Some(Replacement::Missing(id.clone())),
                    Some(r) => match api.get_group(id).await {
                        Ok(mut group) => {
                            group.tags = r.tags.clone();
                            Some(Replacement::Found(Box::new(group)))
                        }
                        Err(e) => {
                            errors.push(format!("{id}: GetStreamGroup: {}; its old group waits", describe_error(&e)));
                            continue;
                        }
                    },
                },
            };
            let sessions = if details.tags.contains_key(TAG_CUTOVER_AT) {
                match api.group_sessions(&details.id).await {
                    Ok(sessions) => sessions,
                    Err(e) => {
                        errors.push(format!("{}: ListStreamSessions: {e}; not retired this run", details.id));
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            observed.push(Observed { group: details, replacement, sessions });
        }
        (observed, all)
    }

    pub async fn run(&self, request: RecycleRequest) -> Result<Report, RecycleError> {
        let stats_before = self.stats.snapshot();
        let now =
            watchdog_shared::clock::now_from(self.config.clock_url.as_deref()).await.map_err(RecycleError::Clock)?;
        // A request may ask for a dry run; only the deployment can turn dry run off.
        let dry_run = self.config.dry_run || request.dry_run == Some(true);
        let mut report = Report {
            trigger: request.trigger.clone().unwrap_or_else(|| "manual".into()),
            dry_run,
            now: now.to_rfc3339(),
            ..Report::default()
        };
        for api in self.regions.values() {
            let (observed, all) = self.observe(api, request.stream_groups.as_deref(), &mut report.errors).await;
            let plan = plan::plan(&observed, &all, now, &self.config.settings);
            if dry_run {
                report.plan.items.extend(plan.items);
                report.plan.notes.extend(plan.notes);
                continue;
            }
            let mut failed_groups: Vec<String> = Vec::new();
            for item in &plan.items {
                if failed_groups.contains(&item.stream_group)
                    || report.mutating_calls >= self.config.max_mutations_per_run
                {
                    report.deferred.push(item.clone());
                    continue;
                }
                match self.execute(api, item, &observed, now, &mut report.mutating_calls).await {
                    Ok(outcome) => {
                        tracing::info!(action = item.step.name(), stream_group = %item.stream_group, region = %item.region, reason = %item.reason, outcome = %outcome, "recycler action");
                        self.announce("action", item, &outcome).await;
                        report.executed.push(Executed { item: item.clone(), outcome });
                    }
                    Err(error) => {
                        tracing::error!(action = item.step.name(), stream_group = %item.stream_group, error = %error, "recycler action failed; the next run resumes");
                        report.errors.push(format!("{} {}: {error}", item.stream_group, item.step.name()));
                        failed_groups.push(item.stream_group.clone());
                    }
                }
            }
            report.plan.items.extend(plan.items);
            report.plan.notes.extend(plan.notes);
        }
        if dry_run
            && self.config.publish_plan
            && let Some(topic) = &self.config.actions_topic_arn
        {
            let message = json!({ "type": "plan", "dry_run": true, "plan": report.plan }).to_string();
            if let Err(e) = self
                .sns
                .publish()
                .topic_arn(topic)
                .subject("[GameLift Streams watchdog] recycler plan (dry run)")
                .message(message)
                .message_attributes("action", string_attribute("plan"))
                .send()
                .await
            {
                report.errors.push(format!(
                    "publishing the plan: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ));
            }
        }
        report.api_calls = self.stats.since(&stats_before);
        tracing::info!(
            dry_run,
            planned = report.plan.items.len(),
            executed = report.executed.len(),
            deferred = report.deferred.len(),
            errors = report.errors.len(),
            "recycler run finished"
        );
        Ok(report)
    }

    /// Publishes an action (or cut-over, or retirement) to the actions topic, best effort:
    /// the run's report and logs hold every action whatever SNS says.
    async fn announce(&self, kind: &str, item: &PlanItem, outcome: &str) -> Option<String> {
        let topic = self.config.actions_topic_arn.as_ref()?;
        let message = json!({ "type": kind, "action": item.step.name(), "item": item, "outcome": outcome }).to_string();
        self.publish(
            topic,
            kind,
            item,
            &format!("[GameLift Streams watchdog] {} {}", item.step.name(), item.stream_group),
            message,
        )
        .await
    }

    async fn publish(
        &self,
        topic: &str,
        kind: &str,
        item: &PlanItem,
        subject: &str,
        message: String,
    ) -> Option<String> {
        self.sns
            .publish()
            .topic_arn(topic)
            .subject(subject.chars().take(100).collect::<String>())
            .message(message)
            .message_attributes("type", string_attribute(kind))
            .message_attributes("action", string_attribute(item.step.name()))
            .message_attributes("stream_group", string_attribute(&item.stream_group))
            .send()
            .await
            .err()
            .map(|e| aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
    }

    async fn execute(
        &self,
        api: &Api,
        item: &PlanItem,
        observed: &[Observed],
        now: DateTime<Utc>,
        mutations: &mut usize,
    ) -> Result<String, String> {
        let arn = &item.stream_group_arn;
        let id = &item.stream_group;
        let epoch = now.timestamp().to_string();
        match &item.step {
            Step::CreateReplacement { spec } => {
                api.limiter.acquire(&api.region, "CreateStreamGroup").await;
                *mutations += 1;
                let locations: Vec<LocationConfiguration> =
                    spec.locations.iter().map(location_config).collect::<Result<_, _>>()?;
                #[allow(deprecated)]
                let created = api
                    .client
                    .create_stream_group()
                    .description(&spec.description)
                    .stream_class(StreamClass::from(spec.stream_class.as_str()))
                    .set_default_application_identifier(spec.default_application.clone())
                    .set_location_configurations(Some(locations))
                    .set_tags(Some(spec.tags.clone().into_iter().collect()))
                    .client_token(&spec.client_token)
                    .send()
                    .await
                    .map_err(|e| format!("CreateStreamGroup: {}", describe_error(&e)))?;
                let new_id = created.id().unwrap_or_default().to_owned();
                *mutations += 1;
                api.tag(arn, Tags::from([(TAG_REPLACEMENT.into(), new_id.clone())]))
                    .await
                    .map_err(|e| format!("TagResource: {e}"))?;
                Ok(format!("created {new_id} ({}) to replace {id}", created.arn()))
            }
            Step::AssociateApplications { replacement, applications } => {
                for chunk in applications.chunks(50) {
                    api.limiter.acquire(&api.region, "AssociateApplications").await;
                    *mutations += 1;
                    api.client
                        .associate_applications()
                        .identifier(replacement)
                        .set_application_identifiers(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| format!("AssociateApplications: {}", describe_error(&e)))?;
                }
                Ok(format!("associated {} application(s) with {replacement}", applications.len()))
            }
            Step::AnnounceCutover { replacement, replacement_arn } => {
                let topic = self
                    .config
                    .actions_topic_arn
                    .as_ref()
                    .ok_or("no ACTIONS_TOPIC_ARN: the cut-over cannot be announced")?;
                let message = json!({
                    "type": "cutover",
                    "old": { "id": id, "arn": arn },
                    "new": { "id": replacement, "arn": replacement_arn },
                    "message": format!("Start new sessions on {replacement} ({replacement_arn}); {id} is retired after the grace period."),
                })
                .to_string();
                let subject = format!("[GameLift Streams watchdog] cut over {id} -> {replacement}");
                if let Some(error) = self.publish(topic, "cutover", item, &subject, message).await {
                    return Err(format!("Publish: {error}"));
                }
                *mutations += 1;
                api.tag(arn, Tags::from([(TAG_CUTOVER_AT.into(), epoch)]))
                    .await
                    .map_err(|e| format!("TagResource: {e}"))?;
                Ok(format!("announced the cut-over {id} -> {replacement}"))
            }
            Step::DeleteOldGroup { replacement, live_sessions } => {
                api.limiter.acquire(&api.region, "DeleteStreamGroup").await;
                *mutations += 1;
                api.client
                    .delete_stream_group()
                    .identifier(id)
                    .send()
                    .await
                    .map_err(|e| format!("DeleteStreamGroup: {}", describe_error(&e)))?;
                Ok(format!("deleted {id}, replaced by {replacement} ({live_sessions} live session(s) ended)"))
            }
            Step::AnnounceRetired { old_group } => {
                if let Some(topic) = &self.config.actions_topic_arn {
                    let message =
                        json!({ "type": "retired", "old": { "id": old_group }, "new": { "id": id, "arn": arn } })
                            .to_string();
                    let subject = format!("[GameLift Streams watchdog] retired {old_group}, replaced by {id}");
                    if let Some(error) = self.publish(topic, "retired", item, &subject, message).await {
                        return Err(format!("Publish: {error}"));
                    }
                }
                *mutations += 1;
                api.tag(arn, Tags::from([(TAG_RETIRED.into(), epoch)]))
                    .await
                    .map_err(|e| format!("TagResource: {e}"))?;
                Ok(format!("announced that {old_group} is retired"))
            }
            Step::RecordFailedReplacement { replacement, status, attempt, retry_after } => {
                let retry_epoch = DateTime::parse_from_rfc3339(retry_after).map(|t| t.timestamp()).unwrap_or_default();
                *mutations += 1;
                api.tag(
                    arn,
                    Tags::from([
                        (TAG_ATTEMPT.into(), attempt.to_string()),
                        (TAG_RETRY_AFTER.into(), retry_epoch.to_string()),
                        (TAG_FAILED.into(), replacement.clone()),
                    ]),
                )
                .await
                .map_err(|e| format!("TagResource: {e}"))?;
                Ok(format!(
                    "replacement {replacement} failed ({status}); attempt {attempt}, next try after {retry_after}"
                ))
            }
            Step::DeleteFailedReplacement { replacement } => {
                let already = observed.iter().any(|o| {
                    matches!(&o.replacement, Some(Replacement::Found(r)) if &r.id == replacement && r.status == StreamGroupStatus::Deleting)
                });
                if already {
                    return Ok(format!("{replacement} is already being deleted"));
                }
                api.limiter.acquire(&api.region, "DeleteStreamGroup").await;
                *mutations += 1;
                api.client
                    .delete_stream_group()
                    .identifier(replacement)
                    .send()
                    .await
                    .map_err(|e| format!("DeleteStreamGroup: {}", describe_error(&e)))?;
                Ok(format!("deleted the failed replacement {replacement}"))
            }
            Step::Unlink => {
                *mutations += 1;
                api.untag(arn, vec![TAG_REPLACEMENT.into(), TAG_CUTOVER_AT.into()])
                    .await
                    .map_err(|e| format!("UntagResource: {e}"))?;
                Ok(format!("{id} has no replacement in flight"))
            }
            Step::RecordLocation { location } => {
                *mutations += 1;
                api.tag(arn, Tags::from([(format!("{TAG_REPAIR_PREFIX}{}", location.name), location.tag_value())]))
                    .await
                    .map_err(|e| format!("TagResource: {e}"))?;
                Ok(format!("recorded the capacity of {} ({})", location.name, location.tag_value()))
            }
            Step::RemoveLocation { location } => {
                api.limiter.acquire(&api.region, "RemoveStreamGroupLocations").await;
                *mutations += 1;
                api.client
                    .remove_stream_group_locations()
                    .identifier(id)
                    .locations(location)
                    .send()
                    .await
                    .map_err(|e| format!("RemoveStreamGroupLocations: {}", describe_error(&e)))?;
                Ok(format!("removed the failed location {location}"))
            }
            Step::AddLocation { location } => {
                api.limiter.acquire(&api.region, "AddStreamGroupLocations").await;
                *mutations += 1;
                api.client
                    .add_stream_group_locations()
                    .identifier(id)
                    .location_configurations(location_config(location)?)
                    .send()
                    .await
                    .map_err(|e| format!("AddStreamGroupLocations: {}", describe_error(&e)))?;
                Ok(format!("added {} back ({})", location.name, location.tag_value()))
            }
            Step::ForgetLocation { location } => {
                *mutations += 1;
                api.untag(arn, vec![format!("{TAG_REPAIR_PREFIX}{location}")])
                    .await
                    .map_err(|e| format!("UntagResource: {e}"))?;
                Ok(format!("location {location} is repaired"))
            }
        }
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[allow(deprecated)]
fn location_config(spec: &LocationSpec) -> Result<LocationConfiguration, String> {
    LocationConfiguration::builder()
        .location_name(&spec.name)
        .always_on_capacity(to_i32(spec.always_on))
        .set_target_idle_capacity(spec.target_idle.map(to_i32))
        .set_maximum_capacity(spec.maximum.map(to_i32))
        .set_on_demand_capacity(spec.on_demand.map(to_i32))
        .build()
        .map_err(|e| format!("location {}: {e}", spec.name))
}
