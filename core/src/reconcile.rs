//! The one reconciler runner the remediation functions share. A run observes each region and
//! plans (the function's part: I/O in, a pure plan out), then executes the plan within the
//! per-run limit, in dry run only reports it, defers what cannot run, announces every action,
//! and returns one report.
//!
//! A plan step carries its whole effect: the tags to write before its call (a record that
//! must survive a crash between the two), the call, and the tags to write after. So the
//! executor below knows no tag schema and no function: it applies effects.

use crate::event_fields::{EventError, RunRequest};
use crate::model::StreamGroup;
use crate::ports::{
    ApiError, CallCounts, CreateGroupRequest, ErrorKind, GameLiftStreams, LocationSpec, Message, Ports,
    StreamGroupReader, Tags, calls_since,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// In the tag values of [`Effect::after`], stands for the id CreateStreamGroup returned.
pub const CREATED_GROUP_ID: &str = "{created-group-id}";
/// In the tag values of [`Effect::on_failure`], stands for the kind of error the call met
/// (`quota`, `validation`, `throttled`, ...: [`ErrorKind`] in snake case).
pub const FAILURE_KIND: &str = "{failure-kind}";

/// Tags to set and keys to remove on one resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagWrite {
    pub arn: String,
    pub set: Tags,
    pub remove: Vec<String>,
}

impl TagWrite {
    pub fn set(arn: &str, tags: Tags) -> Self {
        Self { arn: arn.to_owned(), set: tags, remove: Vec::new() }
    }

    pub fn remove(arn: &str, keys: Vec<String>) -> Self {
        Self { arn: arn.to_owned(), set: Tags::new(), remove: keys }
    }

    fn calls(&self) -> usize {
        usize::from(!self.set.is_empty()) + usize::from(!self.remove.is_empty())
    }
}

/// The one service call of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// A step that only writes tags.
    None,
    CreateStreamGroup(CreateGroupRequest),
    AssociateApplications {
        group_id: String,
        applications: Vec<String>,
    },
    DeleteStreamGroup {
        group_id: String,
    },
    RemoveLocation {
        group_id: String,
        location: String,
    },
    AddLocation {
        group_id: String,
        location: LocationSpec,
    },
    UpdateCapacity {
        group_id: String,
        locations: Vec<LocationSpec>,
    },
    TerminateSession {
        group_id: String,
        session_arn: String,
    },
    SetDefaultApplication {
        group_id: String,
        application: String,
    },
    /// Publish to the actions topic; the step fails when there is no topic or SNS refuses.
    Announce(Message),
    /// Publish to the actions topic if one is configured.
    AnnounceIfConfigured(Message),
}

impl Call {
    /// Mutating API calls this call makes (AssociateApplications takes 50 applications a call).
    fn mutating_calls(&self) -> usize {
        match self {
            Call::None | Call::Announce(_) | Call::AnnounceIfConfigured(_) => 0,
            Call::AssociateApplications { applications, .. } => applications.len().div_ceil(50).max(1),
            _ => 1,
        }
    }
}

/// Everything a step does, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub before: Option<TagWrite>,
    pub call: Call,
    pub after: Option<TagWrite>,
    /// Written when the call fails: the record of the failure (its count, its back-off) that
    /// the next run plans with, so a refused call is not simply retried every run.
    pub on_failure: Option<TagWrite>,
}

impl Effect {
    pub fn call(call: Call) -> Self {
        Self { before: None, call, after: None, on_failure: None }
    }

    pub fn tags(write: TagWrite) -> Self {
        Self { before: None, call: Call::None, after: Some(write), on_failure: None }
    }

    /// Mutating API calls this effect makes (publishing is not one).
    pub fn mutating_calls(&self) -> usize {
        self.before.as_ref().map_or(0, TagWrite::calls)
            + self.call.mutating_calls()
            + self.after.as_ref().map_or(0, TagWrite::calls)
    }

    /// One effect for a batch of capacity changes to one group: their records in one tag
    /// write, their locations in one UpdateStreamGroup.
    fn merge(effects: &[&Effect]) -> Effect {
        let mut merged = effects[0].clone();
        for effect in &effects[1..] {
            if let (Some(into), Some(from)) = (merged.before.as_mut(), effect.before.as_ref()) {
                into.set.extend(from.set.clone());
            }
            if let (Call::UpdateCapacity { locations, .. }, Call::UpdateCapacity { locations: more, .. }) =
                (&mut merged.call, &effect.call)
            {
                locations.extend(more.iter().cloned());
            }
        }
        merged
    }
}

/// What a function's step kinds tell the runner. A step kind serializes as an object tagged
/// with its name (`#[serde(tag = "action", rename_all = "snake_case")]`).
pub trait StepKind: Serialize + Clone + Send + Sync {
    /// The step's name in reports, logs and the `action` message attribute: its serde tag.
    fn name(&self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields.get("action").and_then(Value::as_str).unwrap_or("unnamed").to_owned(),
            _ => "unnamed".to_owned(),
        }
    }
    /// Figures announced with the step and summed in the report (e.g. capacity-hours saved).
    fn figures(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem<A> {
    pub stream_group: String,
    pub stream_group_arn: String,
    pub region: String,
    #[serde(flatten)]
    pub action: A,
    pub reason: String,
    /// Steps of one sequence (one group's recreation, say) stop at the first that fails.
    #[serde(skip)]
    pub sequence: String,
    /// Consecutive steps with the same batch run as one call.
    #[serde(skip)]
    pub batch: Option<String>,
    #[serde(skip)]
    pub effect: Effect,
    /// What the report says when the step is done ([`CREATED_GROUP_ID`] is replaced).
    #[serde(skip)]
    pub done: String,
}

/// A group the plan leaves alone this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub stream_group: String,
    pub note: String,
}

/// Work the function wants to do but cannot until someone acts (a quota, an application in
/// ERROR, an acknowledgement): counted in the `StepsBlocked` health metric every run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub stream_group: String,
    /// `quota`, `validation`, `tag_limit`, `application_not_ready`, `awaiting_ack`, ...
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan<A> {
    pub items: Vec<PlanItem<A>>,
    /// What would be done in groups the function may not change (CloudFormation's): never done.
    pub reported_only: Vec<PlanItem<A>>,
    pub notes: Vec<Note>,
    pub blocked: Vec<Blocked>,
}

impl<A> Default for Plan<A> {
    fn default() -> Self {
        Self { items: Vec::new(), reported_only: Vec::new(), notes: Vec::new(), blocked: Vec::new() }
    }
}

impl<A> Plan<A> {
    pub fn note(&mut self, stream_group: &str, note: impl Into<String>) {
        self.notes.push(Note { stream_group: stream_group.to_owned(), note: note.into() });
    }

    fn extend(&mut self, other: Plan<A>) {
        self.items.extend(other.items);
        self.reported_only.extend(other.reported_only);
        self.notes.extend(other.notes);
        self.blocked.extend(other.blocked);
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Executed<A> {
    #[serde(flatten)]
    pub item: PlanItem<A>,
    pub outcome: String,
}

/// What a run returns.
#[derive(Debug, Serialize)]
pub struct Report<A> {
    pub function: &'static str,
    pub trigger: String,
    pub dry_run: bool,
    pub now: String,
    /// Everything the run decided, in order.
    pub plan: Plan<A>,
    pub executed: Vec<Executed<A>>,
    /// Planned but not done: a step before it failed, or the per-run limit was reached.
    pub deferred: Vec<PlanItem<A>>,
    pub errors: Vec<String>,
    /// Steps whose execution failed this run (their sequences are deferred).
    pub failed_steps: usize,
    pub mutating_calls: usize,
    pub api_calls: CallCounts,
    /// The steps' figures summed: over what was done, or over the plan in a dry run.
    #[serde(flatten)]
    pub totals: Map<String, Value>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    #[error("cannot read the clock: {0}")]
    Clock(String),
    /// The run finished but its report or announcements could not be published.
    #[error("the run finished but publishing failed: {0}")]
    Publish(String),
    /// The run saw too little to be trusted (a region it could not list, most groups unread).
    #[error("the scan is incomplete: {0}")]
    Incomplete(String),
    /// Steps failed in this run and in an earlier one within the repeated-failure window.
    #[error("steps keep failing: {0}")]
    StepsFailing(String),
}

impl RunError {
    /// The Lambda error type alarms and callers see.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::Clock(_) => "ClockUnavailable",
            Self::Publish(_) => "PublishFailed",
            Self::Incomplete(_) => "ScanIncomplete",
            Self::StepsFailing(_) => "StepsFailing",
        }
    }
}

/// A request may ask for a dry run; only the deployment can turn dry run off.
pub fn effective_dry_run(configured: bool, requested: Option<bool>) -> bool {
    configured || requested == Some(true)
}

/// What counts against the per-run limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Mutating API calls (the recycler's MAX_MUTATIONS_PER_RUN).
    MutatingCalls(usize),
    /// Steps (the trimmer's MAX_CHANGES_PER_RUN: location changes and session ends).
    Steps(usize),
}

impl Limit {
    fn max(self) -> usize {
        match self {
            Self::MutatingCalls(n) | Self::Steps(n) => n,
        }
    }

    fn cost<A>(self, item: &PlanItem<A>) -> usize {
        match self {
            Self::MutatingCalls(_) => item.effect.mutating_calls(),
            Self::Steps(_) => 1,
        }
    }
}

/// The deployment's settings for a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub function: &'static str,
    pub dry_run: bool,
    pub limit: Limit,
    pub actions_topic_arn: Option<String>,
    /// Publish the plan of a dry run to the actions topic.
    pub publish_plan: bool,
    /// Where the run's health metrics go (StepsDone, StepsFailed, StepsDeferred, StepsBlocked,
    /// Problems).
    pub metric_namespace: String,
    /// A run whose steps fail, when steps also failed in an earlier run this recent, fails
    /// its invocation (the function-errors alarm); `None` never fails on that account.
    pub repeated_failure_window: Option<chrono::Duration>,
}

/// What a reconciler sees of one region's run.
pub struct RegionRun<'a> {
    pub region: &'a dyn GameLiftStreams,
    pub ports: &'a Ports,
    pub request: &'a RunRequest,
    pub now: DateTime<Utc>,
    /// Observation errors; the groups concerned stay out of the plan.
    pub errors: &'a mut Vec<String>,
    /// Every group listed in the region, so that a request naming a group that exists
    /// nowhere is reported.
    pub listed: &'a mut Vec<StreamGroup>,
}

/// A remediation function: how it observes and plans one region.
#[async_trait]
pub trait Reconciler: Send + Sync {
    type Action: StepKind;

    /// The deployment's settings (dry run, the limit, the actions topic) and connection.
    fn deployment(&self) -> (&RunSettings, &crate::env_config::Connection);

    /// Observe one region through its port and plan it. Observation errors go to
    /// `run.errors` and leave the groups concerned out of the plan (unknown means "do not
    /// touch").
    async fn plan_region(&self, run: RegionRun<'_>) -> Plan<Self::Action>;
}

/// Reads in flight at once while observing.
const READS_IN_FLIGHT: usize = 8;

/// The region's groups that `keep` selects, each with its tags. A group whose tags cannot be
/// read is left out with an error: its opt-in, opt-out and ownership are unknown, and unknown
/// means "do not touch". `None` when the region cannot be listed.
pub async fn tagged_groups(run: &mut RegionRun<'_>, keep: impl Fn(&StreamGroup) -> bool) -> Option<Vec<StreamGroup>> {
    let region: &dyn StreamGroupReader = run.region;
    let errors = &mut *run.errors;
    let listed = match region.list_stream_groups().await {
        Ok(groups) => groups,
        Err(e) => {
            errors.push(format!("{}: {e}; region skipped", region.region()));
            return None;
        }
    };
    run.listed.extend(listed.iter().cloned());
    let wanted: Vec<StreamGroup> = listed.into_iter().filter(|g| keep(g)).collect();
    let read = |mut group: StreamGroup| async move {
        let why = "left alone: its opt-in, opt-out and ownership tags cannot be read";
        group.tags = region.list_tags(&group.arn).await.map_err(|e| format!("{}: {e}; {why}", group.id))?;
        Ok(group)
    };
    let groups = read_concurrently(wanted, read, errors).await;
    Some(groups)
}

/// A reconciler with the ports it runs on: what a function's handler serves.
pub struct Deployed<R> {
    pub reconciler: R,
    pub ports: Ports,
}

impl<R: Reconciler> Deployed<R> {
    pub async fn run(&self, request: &RunRequest) -> Result<Report<R::Action>, RunError> {
        run(&self.reconciler, &self.ports, request).await
    }
}

/// Reads each item with `read`, a few at a time, in order; a read that fails adds its error
/// and leaves its item out.
pub async fn read_concurrently<I, T, F, Fut>(items: Vec<I>, read: F, errors: &mut Vec<String>) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let reads: Vec<Result<T, String>> = stream::iter(items).map(read).buffered(READS_IN_FLIGHT).collect().await;
    let mut read_ok = Vec::new();
    for result in reads {
        match result {
            Ok(item) => read_ok.push(item),
            Err(error) => errors.push(error),
        }
    }
    read_ok
}

/// One run of `reconciler` over every region.
pub async fn run<R: Reconciler>(
    reconciler: &R,
    ports: &Ports,
    request: &RunRequest,
) -> Result<Report<R::Action>, RunError> {
    let (settings, _) = reconciler.deployment();
    let calls_before = (ports.calls)();
    let now = ports.clock.now().await.map_err(RunError::Clock)?;
    let dry_run = effective_dry_run(settings.dry_run, request.dry_run);
    let mut report = Report {
        function: settings.function,
        trigger: request.trigger.clone().unwrap_or_else(|| "manual".into()),
        dry_run,
        now: now.to_rfc3339(),
        plan: Plan::default(),
        executed: Vec::new(),
        deferred: Vec::new(),
        errors: Vec::new(),
        failed_steps: 0,
        mutating_calls: 0,
        api_calls: CallCounts::new(),
        totals: Map::new(),
    };
    let mut publish_errors = Vec::new();
    let mut steps_spent = 0;
    let mut listed = Vec::new();
    for region in ports.regions.values() {
        let run =
            RegionRun { region: region.as_ref(), ports, request, now, errors: &mut report.errors, listed: &mut listed };
        let plan = reconciler.plan_region(run).await;
        if !dry_run {
            let mut executor = Executor { region: region.as_ref(), ports, settings, report: &mut report };
            executor.execute(&plan.items, &mut steps_spent, &mut publish_errors).await;
        }
        report.plan.extend(plan);
    }
    // A named group that exists in no configured region is said so, not silently skipped.
    for name in request.stream_groups.iter().flatten() {
        if !listed.iter().any(|g| crate::model::identifies(name, g)) {
            report.errors.push(format!("{name}: no such stream group in the configured regions"));
        }
    }
    let counted: Vec<&A<R>> = if dry_run {
        report.plan.items.iter().map(|i| &i.action).collect()
    } else {
        report.executed.iter().map(|e| &e.item.action).collect()
    };
    report.totals = totals(counted);
    if dry_run
        && settings.publish_plan
        && !(report.plan.items.is_empty() && report.plan.reported_only.is_empty())
        && let Some(topic) = &settings.actions_topic_arn
    {
        let mut body = json!({ "type": "plan", "function": settings.function, "dry_run": true, "plan": report.plan });
        body.as_object_mut().expect("object").extend(report.totals.clone());
        let subject = format!("{} plan (dry run)", settings.function);
        let message = Message::announcement(&subject, &body, &[("type", "plan"), ("action", "plan")]);
        if let Err(e) = ports.notifier.publish(topic, &message).await {
            publish_errors.push(format!("publishing the plan: {e}"));
        }
    }
    // Steps that failed in an earlier run too: read before this run's health is published, so
    // only earlier runs count.
    let repeated = match settings.repeated_failure_window.filter(|_| report.failed_steps > 0) {
        None => None,
        Some(window) => {
            let function = vec![("Function", settings.function.to_owned())];
            let earlier = ports
                .history
                .sum(
                    &settings.metric_namespace,
                    "StepsFailed",
                    &function,
                    now - window,
                    now - chrono::Duration::seconds(1),
                )
                .await;
            match earlier {
                Ok(earlier) if earlier > 0.0 => Some(format!(
                    "{} step(s) failed in this run and {earlier} in the last {} minutes: {}",
                    report.failed_steps,
                    window.num_minutes(),
                    report.errors.join("; ")
                )),
                Ok(_) => None,
                Err(e) => {
                    report.errors.push(format!("reading the earlier runs' StepsFailed: {e}"));
                    None
                }
            }
        }
    };
    // What was left alone, and why, reaches people too, not only the report.
    if !report.errors.is_empty()
        && let Some(topic) = &settings.actions_topic_arn
    {
        let body =
            json!({ "type": "problems", "function": settings.function, "dry_run": dry_run, "problems": report.errors });
        let subject = format!("{}: {} problem(s) this run", settings.function, report.errors.len());
        let message = Message::announcement(&subject, &body, &[("type", "problems"), ("action", "problems")]);
        if let Err(e) = ports.notifier.publish(topic, &message).await {
            publish_errors.push(format!("publishing the run's problems: {e}"));
        }
    }
    // The run's health, so alarms see failures that repeat run after run.
    if let Err(e) = ports.metrics.put(&settings.metric_namespace, &health(&report), now).await {
        publish_errors.push(format!("publishing the run's health metrics: {e}"));
    }
    report.api_calls = calls_since(&(ports.calls)(), &calls_before);
    tracing::info!(
        function = settings.function,
        dry_run,
        planned = report.plan.items.len(),
        executed = report.executed.len(),
        deferred = report.deferred.len(),
        errors = report.errors.len(),
        "run finished"
    );
    if !publish_errors.is_empty() {
        // The report is the record of what was done: log it whole before failing.
        tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "publishing failed");
        return Err(RunError::Publish(publish_errors.join("; ")));
    }
    if let Some(why) = repeated {
        tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "steps keep failing");
        return Err(RunError::StepsFailing(why));
    }
    Ok(report)
}

type A<R> = <R as Reconciler>::Action;

/// A run's health metrics, by function: steps done, failed, deferred and blocked, and the
/// problems reported (observation errors included). Five custom metrics per function.
pub fn health<A>(report: &Report<A>) -> Vec<crate::ports::Datum> {
    use crate::ports::{Datum, Unit};
    let datum = |name, value: usize| Datum {
        name,
        dimensions: vec![("Function", report.function.to_owned())],
        value: value as f64,
        unit: Unit::Count,
    };
    vec![
        datum("StepsDone", report.executed.len()),
        datum("StepsFailed", report.failed_steps),
        datum("StepsDeferred", report.deferred.len()),
        datum("StepsBlocked", report.plan.blocked.len()),
        datum("Problems", report.errors.len()),
    ]
}

fn totals<S: StepKind>(actions: Vec<&S>) -> Map<String, Value> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for action in actions {
        for (name, value) in action.figures() {
            *sums.entry(name).or_default() += value.as_f64().unwrap_or(0.0);
        }
    }
    sums.into_iter().map(|(name, sum)| (name, json!((sum * 100.0).round() / 100.0))).collect()
}

struct Executor<'a, A> {
    region: &'a dyn GameLiftStreams,
    ports: &'a Ports,
    settings: &'a RunSettings,
    report: &'a mut Report<A>,
}

impl<A: StepKind> Executor<'_, A> {
    /// Runs `items` in order within the limit; `steps_spent` counts steps across regions.
    async fn execute(&mut self, items: &[PlanItem<A>], steps_spent: &mut usize, publish_errors: &mut Vec<String>) {
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut i = 0;
        while i < items.len() {
            // A batch: consecutive items with the same batch key.
            let mut end = i + 1;
            while end < items.len() && items[i].batch.is_some() && items[end].batch == items[i].batch {
                end += 1;
            }
            let unit = &items[i..end];
            i = end;
            if failed.contains(&unit[0].sequence) {
                self.report.deferred.extend(unit.iter().cloned());
                continue;
            }
            let spent = match self.settings.limit {
                Limit::MutatingCalls(_) => self.report.mutating_calls,
                Limit::Steps(_) => *steps_spent,
            };
            let mut take = 0;
            let mut cost = 0;
            for item in unit {
                let next = self.settings.limit.cost(item);
                // The first step of a run always goes, so a step dearer than the whole limit
                // cannot stall a recreation for ever.
                if spent + cost + next > self.settings.limit.max() && spent + cost > 0 {
                    break;
                }
                cost += next;
                take += 1;
            }
            self.report.deferred.extend(unit[take..].iter().cloned());
            if take == 0 {
                continue;
            }
            let unit = &unit[..take];
            let effect = Effect::merge(&unit.iter().map(|item| &item.effect).collect::<Vec<_>>());
            *steps_spent += take;
            match self.apply(&effect).await {
                Ok(created) => {
                    for item in unit {
                        let outcome = item.done.replace(CREATED_GROUP_ID, created.as_deref().unwrap_or("?"));
                        self.done(item, outcome, publish_errors).await;
                    }
                }
                Err((kind, mut error)) => {
                    if let (Some(record), Some(kind)) = (&effect.on_failure, kind) {
                        let record = TagWrite {
                            set: record
                                .set
                                .iter()
                                .map(|(k, v)| (k.clone(), v.replace(FAILURE_KIND, kind.as_str())))
                                .collect(),
                            ..record.clone()
                        };
                        if let Err(e) = self.write_tags(&record, None).await {
                            error = format!("{error}; recording the failure failed too: {e}");
                        }
                    }
                    self.report.failed_steps += unit.len();
                    for item in unit {
                        let name = item.action.name();
                        tracing::error!(function = self.settings.function, action = %name, stream_group = %item.stream_group, error = %error, "action failed; the next run resumes");
                        self.report.errors.push(format!("{} {name}: {error}", item.stream_group));
                    }
                    failed.insert(unit[0].sequence.clone());
                }
            }
        }
    }

    async fn write_tags(&mut self, write: &TagWrite, created: Option<&str>) -> Result<(), ApiError> {
        let set: Tags = write
            .set
            .iter()
            .map(|(k, v)| (k.clone(), v.replace(CREATED_GROUP_ID, created.unwrap_or(CREATED_GROUP_ID))))
            .collect();
        if !set.is_empty() {
            self.report.mutating_calls += 1;
            self.region.tag(&write.arn, &set).await?;
        }
        if !write.remove.is_empty() {
            self.report.mutating_calls += 1;
            self.region.untag(&write.arn, &write.remove).await?;
        }
        Ok(())
    }

    /// Applies one effect; returns the id of a group it created, or why it failed (with the
    /// kind of the call's error, when the call itself failed).
    async fn apply(&mut self, effect: &Effect) -> Result<Option<String>, (Option<ErrorKind>, String)> {
        if let Some(before) = &effect.before {
            self.write_tags(before, None).await.map_err(|e| (None, e.to_string()))?;
        }
        let region = self.region;
        let mut created = None;
        self.report.mutating_calls += effect.call.mutating_calls();
        let result = match &effect.call {
            Call::None => Ok(()),
            Call::CreateStreamGroup(request) => region.create_stream_group(request).await.map(|group| {
                created = Some(group.id);
            }),
            Call::AssociateApplications { group_id, applications } => {
                region.associate_applications(group_id, applications).await
            }
            Call::DeleteStreamGroup { group_id } => region.delete_stream_group(group_id).await,
            Call::RemoveLocation { group_id, location } => region.remove_location(group_id, location).await,
            Call::AddLocation { group_id, location } => region.add_location(group_id, location).await,
            Call::UpdateCapacity { group_id, locations } => region.update_capacity(group_id, locations).await,
            Call::TerminateSession { group_id, session_arn } => region.terminate_session(group_id, session_arn).await,
            Call::SetDefaultApplication { group_id, application } => {
                region.set_default_application(group_id, application).await
            }
            Call::Announce(message) => {
                let topic = self.settings.actions_topic_arn.as_ref().ok_or_else(|| {
                    (None, "no ACTIONS_TOPIC_ARN: this step must be announced and cannot be".to_owned())
                })?;
                self.ports.notifier.publish(topic, message).await
            }
            Call::AnnounceIfConfigured(message) => match &self.settings.actions_topic_arn {
                Some(topic) => self.ports.notifier.publish(topic, message).await,
                None => Ok(()),
            },
        };
        result.map_err(|e| (Some(e.kind), e.to_string()))?;
        if let Some(after) = &effect.after {
            self.write_tags(after, created.as_deref()).await.map_err(|e| (None, e.to_string()))?;
        }
        Ok(created)
    }

    /// Logs a done step, announces it, and adds it to the report.
    async fn done(&mut self, item: &PlanItem<A>, outcome: String, publish_errors: &mut Vec<String>) {
        let figures = item.action.figures();
        let name = item.action.name();
        tracing::info!(
            function = self.settings.function,
            action = %name,
            stream_group = %item.stream_group,
            region = %item.region,
            reason = %item.reason,
            outcome = %outcome,
            figures = %serde_json::Value::Object(figures.clone()),
            "action"
        );
        if let Some(topic) = &self.settings.actions_topic_arn {
            let mut body = json!({
                "type": "action",
                "function": self.settings.function,
                "action": name,
                "item": item,
                "outcome": outcome,
            });
            body.as_object_mut().expect("object").extend(figures);
            let subject = format!("{name} {}", item.stream_group);
            let attributes =
                [("type", "action"), ("action", name.as_str()), ("stream_group", item.stream_group.as_str())];
            let message = Message::announcement(&subject, &body, &attributes);
            if let Err(e) = self.ports.notifier.publish(topic, &message).await {
                publish_errors.push(format!("announcing {name} on {}: {e}", item.stream_group));
            }
        }
        self.report.executed.push(Executed { item: item.clone(), outcome });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ErrorKind;
    use crate::testkit::{self, World};
    use chrono::TimeZone;

    /// A toy function: one step per plan entry, to exercise the runner alone.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(tag = "action", rename_all = "snake_case")]
    enum Toy {
        Tag { saves: f64 },
    }

    impl StepKind for Toy {
        fn figures(&self) -> Map<String, Value> {
            let Toy::Tag { saves } = self;
            Map::from_iter([("saves".to_owned(), json!(saves))])
        }
    }

    struct Planner(Vec<PlanItem<Toy>>, RunSettings, crate::env_config::Connection);

    #[async_trait]
    impl Reconciler for Planner {
        type Action = Toy;
        fn deployment(&self) -> (&RunSettings, &crate::env_config::Connection) {
            (&self.1, &self.2)
        }
        async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Toy> {
            tagged_groups(&mut run, |_| true).await;
            Plan { items: self.0.clone(), ..Plan::default() }
        }
    }

    async fn run_with(
        items: Vec<PlanItem<Toy>>,
        settings: RunSettings,
        world: &World,
        request: RunRequest,
    ) -> Result<Report<Toy>, RunError> {
        let connection = crate::env_config::Connection {
            regions: vec!["us-west-2".into()],
            api_share: 0.5,
            max_attempts: 1,
            clock_url: None,
        };
        run(&Planner(items, settings, connection), &world.ports(&["us-west-2"]), &request).await
    }

    fn request(dry_run: Option<bool>) -> RunRequest {
        RunRequest { trigger: Some("t".into()), dry_run, stream_groups: None }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn world() -> World {
        let world = World::new(now());
        for id in ["sg-A", "sg-B", "sg-C"] {
            world.add_group(testkit::group("us-west-2", id, "gen5n_high", now(), &[("us-west-2", 2)]));
        }
        world
    }

    fn step(group: &str, sequence: &str, batch: Option<&str>, effect: Effect) -> PlanItem<Toy> {
        PlanItem {
            stream_group: group.into(),
            stream_group_arn: testkit::group_arn("us-west-2", group),
            region: "us-west-2".into(),
            action: Toy::Tag { saves: 1.5 },
            reason: "test".into(),
            sequence: sequence.into(),
            batch: batch.map(str::to_owned),
            effect,
            done: format!("done {CREATED_GROUP_ID}"),
        }
    }

    fn tag(group: &str, key: &str) -> Effect {
        Effect::tags(TagWrite::set(&testkit::group_arn("us-west-2", group), Tags::from([(key.into(), "v".into())])))
    }

    fn settings(limit: Limit) -> RunSettings {
        RunSettings {
            function: "toy",
            dry_run: false,
            limit,
            actions_topic_arn: Some("arn:aws:sns:us-west-2:111122223333:actions".into()),
            publish_plan: true,
            metric_namespace: "Watchdog/Test".into(),
            repeated_failure_window: Some(chrono::Duration::minutes(45)),
        }
    }

    #[tokio::test]
    async fn steps_run_in_order_are_announced_and_summed() {
        let world = world();
        let items = vec![step("sg-A", "a", None, tag("sg-A", "k1")), step("sg-B", "b", None, tag("sg-B", "k2"))];
        let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
        assert_eq!(report.executed.len(), 2);
        assert_eq!(report.mutating_calls, 2);
        assert_eq!(report.totals["saves"], json!(3.0));
        assert_eq!(world.group("sg-A").unwrap().tags["k1"], "v");
        let announced: Vec<_> = world.published().into_iter().map(|(_, m)| m.attributes["action"].clone()).collect();
        assert_eq!(announced, ["tag", "tag"]);
    }

    #[tokio::test]
    async fn a_failed_step_defers_the_rest_of_its_sequence_only() {
        let world = world();
        world.fail("TagResource", Some("sg-A"), ErrorKind::Other, None);
        let items = vec![
            step("sg-A", "a", None, tag("sg-A", "k1")),
            step("sg-B", "a", None, tag("sg-B", "k2")),
            step("sg-C", "c", None, tag("sg-C", "k3")),
        ];
        let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].starts_with("sg-A tag: TagResource: InternalServerException"), "{:?}", report.errors);
        assert_eq!(report.deferred.iter().map(|d| d.stream_group.as_str()).collect::<Vec<_>>(), ["sg-B"]);
        let health: Vec<(&str, f64)> =
            world.metrics().iter().map(|(_, d)| (d.name, d.value)).collect::<Vec<_>>().into_iter().collect();
        assert_eq!(
            health,
            [
                ("StepsDone", 1.0),
                ("StepsFailed", 1.0),
                ("StepsDeferred", 1.0),
                ("StepsBlocked", 0.0),
                ("Problems", 1.0)
            ]
        );
        assert_eq!(report.executed.iter().map(|d| d.item.stream_group.as_str()).collect::<Vec<_>>(), ["sg-C"]);
    }

    #[tokio::test]
    async fn steps_failing_run_after_run_fail_the_invocation_a_single_failure_does_not() {
        let world = world();
        world.fail("TagResource", Some("sg-A"), ErrorKind::Quota, None);
        let items = vec![step("sg-A", "a", None, tag("sg-A", "k1"))];
        let first = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await;
        assert_eq!(first.unwrap().failed_steps, 1, "the first failure is reported, the invocation succeeds");
        world.set_now(now() + chrono::Duration::minutes(15));
        let second = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap_err();
        assert_eq!(second.error_type(), "StepsFailing");
        assert!(second.to_string().contains("1 in the last 45 minutes"), "{second}");
        // An hour later the earlier failure is out of the window: one failure again, no error.
        world.set_now(now() + chrono::Duration::minutes(75));
        world.clear_faults();
        assert!(run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.is_ok());
        world.fail("TagResource", Some("sg-A"), ErrorKind::Quota, None);
        world.set_now(now() + chrono::Duration::minutes(140));
        assert!(run_with(items, settings(Limit::Steps(10)), &world, request(None)).await.is_ok());
    }

    #[tokio::test]
    async fn the_limit_defers_what_does_not_fit_counting_calls_or_steps() {
        let world = world();
        let items = vec![
            step("sg-A", "a", None, tag("sg-A", "k1")),
            step("sg-B", "b", None, tag("sg-B", "k2")),
            step("sg-C", "c", None, tag("sg-C", "k3")),
        ];
        let report = run_with(items.clone(), settings(Limit::Steps(2)), &world, request(None)).await.unwrap();
        assert_eq!((report.executed.len(), report.deferred.len()), (2, 1));
        let mut two_calls = tag("sg-A", "k4");
        two_calls.after.as_mut().unwrap().remove = vec!["k1".into()];
        let report = run_with(
            vec![step("sg-A", "a", None, two_calls), items[1].clone()],
            settings(Limit::MutatingCalls(2)),
            &world,
            request(None),
        )
        .await
        .unwrap();
        assert_eq!((report.executed.len(), report.deferred.len(), report.mutating_calls), (1, 1, 2));
    }

    #[tokio::test]
    async fn a_batch_is_one_tag_write_and_one_update() {
        let world = world();
        let arn = testkit::group_arn("us-west-2", "sg-A");
        let change = |location: &str, record: &str| Effect {
            before: Some(TagWrite::set(&arn, Tags::from([(record.into(), "r".into())]))),
            call: Call::UpdateCapacity {
                group_id: "sg-A".into(),
                locations: vec![LocationSpec {
                    name: location.into(),
                    always_on: 4,
                    target_idle: Some(0),
                    maximum: Some(8),
                    on_demand: None,
                    vpc_transit: None,
                }],
            },
            after: None,
            on_failure: None,
        };
        let items = vec![
            step("sg-A", "a", Some("cap:sg-A"), change("us-west-2", "r1")),
            step("sg-A", "a", Some("cap:sg-A"), change("us-east-1", "r2")),
        ];
        let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
        assert_eq!(report.executed.len(), 2);
        assert_eq!((world.calls_of("TagResource"), world.calls_of("UpdateStreamGroup")), (1, 1));
        let tags = world.group("sg-A").unwrap().tags;
        assert!(tags.contains_key("r1") && tags.contains_key("r2"));
    }

    #[tokio::test]
    async fn a_created_group_id_reaches_the_tags_after_the_call() {
        let world = world();
        let create = CreateGroupRequest {
            description: "new".into(),
            stream_class: "gen5n_high".into(),
            default_application: None,
            locations: vec![],
            tags: Tags::new(),
            client_token: "token-000000000000000000000000000001".into(),
        };
        let effect = Effect {
            before: None,
            call: Call::CreateStreamGroup(create),
            after: Some(TagWrite::set(
                &testkit::group_arn("us-west-2", "sg-A"),
                Tags::from([("link".into(), CREATED_GROUP_ID.into())]),
            )),
            on_failure: None,
        };
        let report =
            run_with(vec![step("sg-A", "a", None, effect)], settings(Limit::MutatingCalls(10)), &world, request(None))
                .await
                .unwrap();
        let created = world.group("sg-A").unwrap().tags["link"].clone();
        assert!(created.starts_with("sg-NEW"), "{created}");
        assert_eq!(report.executed[0].outcome, format!("done {created}"));
    }

    #[tokio::test]
    async fn dry_run_changes_nothing_publishes_the_plan_and_a_request_cannot_turn_it_off() {
        let world = world();
        let items = vec![step("sg-A", "a", None, tag("sg-A", "k1"))];
        let mut dry = settings(Limit::Steps(10));
        dry.dry_run = true;
        let report = run_with(items.clone(), dry.clone(), &world, request(Some(false))).await.unwrap();
        assert!(report.dry_run, "a request can only ask for more safety");
        assert!(report.executed.is_empty());
        assert_eq!(world.mutating_calls(), 0);
        assert_eq!(report.totals["saves"], json!(1.5), "the plan's figures in a dry run");
        let published = world.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].1.attributes["type"], "plan");
        let asked = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(Some(true))).await.unwrap();
        assert!(asked.dry_run && asked.executed.is_empty());
    }

    #[tokio::test]
    async fn a_step_that_must_be_announced_fails_without_a_topic_and_a_publish_failure_fails_the_run() {
        let world = world();
        let message =
            Message { subject: "s".into(), body: "{}".into(), per_protocol: false, attributes: Default::default() };
        let items = vec![step("sg-A", "a", None, Effect::call(Call::Announce(message)))];
        let mut no_topic = settings(Limit::Steps(10));
        no_topic.actions_topic_arn = None;
        let report = run_with(items.clone(), no_topic.clone(), &world, request(None)).await.unwrap();
        assert!(report.errors[0].contains("no ACTIONS_TOPIC_ARN"), "{:?}", report.errors);

        world.fail("Publish", None, ErrorKind::Other, None);
        let items = vec![step("sg-B", "b", None, tag("sg-B", "k"))];
        let error = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap_err();
        assert_eq!(error.error_type(), "PublishFailed");
        assert_eq!(world.group("sg-B").unwrap().tags["k"], "v", "the step itself was done");
    }

    #[tokio::test]
    async fn observation_errors_are_reported() {
        let world = world();
        world.fail("ListStreamGroups", None, ErrorKind::Throttled, None);
        let report = run_with(vec![], settings(Limit::Steps(1)), &world, request(None)).await.unwrap();
        assert!(report.errors[0].contains("ThrottlingException") && report.errors[0].contains("region skipped"));
    }
}
