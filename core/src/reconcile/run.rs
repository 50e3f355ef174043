//! One run of a reconciler, in its phases: plan and execute every region, name the requested
//! groups that exist nowhere, sum the figures, publish a dry run's plan, check whether steps
//! keep failing, announce the problems, publish the run's health, and finish (fail the
//! invocation when publishing failed or steps keep failing, after logging the whole report).

use super::execute::Executor;
use super::plan::Plan;
use super::reconciler::{Deployable, Reconciler, RegionRun};
use super::report::{Report, RunError, health, totals};
use super::settings::{RunSettings, effective_dry_run};
use crate::event_fields::RunRequest;
use crate::model::StreamGroup;
use crate::ports::{BusEvent, CallCounts, Message, Ports, SumsQuery, calls_since, put_all_events};

/// The detail type of an executed step's event.
pub const ACTION_EVENT: &str = "GameLift Streams Watchdog Action";
use chrono::{DateTime, Utc};
use serde_json::{Map, json};

/// A reconciler with its run settings and the ports it runs on: what a function's handler
/// serves.
pub struct Deployed<R> {
    pub reconciler: R,
    pub settings: RunSettings,
    pub ports: Ports,
}

impl<R: Reconciler> Deployed<R> {
    /// The function `config` describes, on `ports` (its own connection is the caller's to use).
    pub fn on<C: Deployable<Reconciler = R>>(config: C, ports: Ports) -> Self {
        let (reconciler, settings, _) = config.split();
        Self { reconciler, settings, ports }
    }

    pub async fn run(&self, request: &RunRequest) -> Result<Report<R::Kind>, RunError> {
        run(&self.reconciler, &self.settings, &self.ports, request).await
    }
}

/// One run of `reconciler` under `settings` over every region.
pub async fn run<R: Reconciler>(
    reconciler: &R,
    settings: &RunSettings,
    ports: &Ports,
    request: &RunRequest,
) -> Result<Report<R::Kind>, RunError> {
    let calls_before = (ports.calls)();
    let now = ports.clock.now().await.map_err(RunError::Clock)?;
    let mut run = Run {
        settings,
        ports,
        now,
        report: new_report(settings, request, now),
        publish_errors: Vec::new(),
        listed: Vec::new(),
    };
    run.plan_and_execute_regions(reconciler, request).await;
    run.report_unknown_groups(request);
    run.sum_figures();
    run.put_step_events().await;
    run.publish_dry_run_plan().await;
    let repeated = run.steps_failing_repeatedly().await;
    run.announce_problems().await;
    run.publish_health().await;
    run.report.api_calls = calls_since(&(ports.calls)(), &calls_before);
    run.finish(repeated)
}

fn new_report<K>(settings: &RunSettings, request: &RunRequest, now: DateTime<Utc>) -> Report<K> {
    Report {
        function: settings.function,
        trigger: request.trigger.clone().unwrap_or_else(|| "manual".into()),
        dry_run: effective_dry_run(settings.dry_run, request.dry_run),
        now: now.to_rfc3339(),
        plan: Plan::default(),
        executed: Vec::new(),
        deferred: Vec::new(),
        errors: Vec::new(),
        failed_steps: 0,
        mutating_calls: 0,
        api_calls: CallCounts::new(),
        totals: Map::new(),
    }
}

/// A run under way.
struct Run<'a, K> {
    settings: &'a RunSettings,
    ports: &'a Ports,
    now: DateTime<Utc>,
    report: Report<K>,
    /// What could not be published; the run fails with these once everything else is done.
    publish_errors: Vec<String>,
    /// Every group listed in every region.
    listed: Vec<StreamGroup>,
}

impl<K: super::plan::StepKind> Run<'_, K> {
    /// Observes and plans each region, then (unless dry) executes its plan.
    async fn plan_and_execute_regions<R: Reconciler<Kind = K>>(&mut self, reconciler: &R, request: &RunRequest) {
        let mut steps_spent = 0;
        for region in self.ports.regions.values() {
            let region_run = RegionRun {
                region: region.as_ref(),
                ports: self.ports,
                request,
                now: self.now,
                errors: &mut self.report.errors,
                listed: &mut self.listed,
            };
            let plan = reconciler.plan_region(region_run).await;
            if !self.report.dry_run {
                let mut executor = Executor {
                    region: region.as_ref(),
                    ports: self.ports,
                    settings: self.settings,
                    report: &mut self.report,
                };
                executor.execute(&plan.items, &mut steps_spent, &mut self.publish_errors).await;
            }
            self.report.plan.extend(plan);
        }
    }

    /// A named group that exists in no configured region is said so, not silently skipped.
    fn report_unknown_groups(&mut self, request: &RunRequest) {
        for name in request.stream_groups.iter().flatten() {
            if !self.listed.iter().any(|g| crate::model::identifies(name, g)) {
                self.report.errors.push(format!("{name}: no such stream group in the configured regions"));
            }
        }
    }

    /// The steps' figures summed: over what was done, or over the plan in a dry run.
    fn sum_figures(&mut self) {
        let counted: Vec<&K> = if self.report.dry_run {
            self.report.plan.items.iter().map(|step| &step.kind).collect()
        } else {
            self.report.executed.iter().map(|e| &e.step.kind).collect()
        };
        self.report.totals = totals(counted);
    }

    /// Every executed step as an EventBridge event (`GameLift Streams Watchdog Action`,
    /// schemas/watchdog-action.schema.json), when a bus is configured.
    async fn put_step_events(&mut self) {
        let Some(bus) = &self.settings.event_bus else { return };
        let events: Vec<BusEvent> = self
            .report
            .executed
            .iter()
            .map(|executed| {
                let mut detail = serde_json::to_value(executed).unwrap_or_default();
                if let Some(fields) = detail.as_object_mut() {
                    fields.insert("schema_version".into(), json!(1));
                    fields.insert("function".into(), json!(self.settings.function));
                    fields.insert("at".into(), json!(self.now.to_rfc3339()));
                }
                BusEvent {
                    detail_type: ACTION_EVENT.into(),
                    detail,
                    resources: vec![executed.step.stream_group_arn.clone()],
                }
            })
            .collect();
        for error in put_all_events(self.ports.events.as_ref(), bus, &events).await {
            self.publish_errors.push(format!("putting the steps on {bus}: {error}"));
        }
    }

    /// A dry run's plan on the actions topic, when it has something in it and PUBLISH_PLAN
    /// is on.
    async fn publish_dry_run_plan(&mut self) {
        let report = &self.report;
        let empty = report.plan.items.is_empty() && report.plan.reported_only.is_empty();
        if !report.dry_run || !self.settings.publish_plan || empty {
            return;
        }
        let Some(topic) = &self.settings.actions_topic_arn else { return };
        let mut body =
            json!({ "type": "plan", "function": self.settings.function, "dry_run": true, "plan": report.plan });
        body.as_object_mut().expect("object").extend(report.totals.clone());
        let subject = format!("{} plan (dry run)", self.settings.function);
        let message = Message::announcement(&subject, &body, &[("type", "plan"), ("action", "plan")]);
        if let Err(e) = self.ports.notifier.publish(topic, &message).await {
            self.publish_errors.push(format!("publishing the plan: {e}"));
        }
    }

    /// Why the invocation must fail, when steps failed in this run and in an earlier one
    /// within the window. Read before this run's health is published, so only earlier runs
    /// count.
    async fn steps_failing_repeatedly(&mut self) -> Option<String> {
        let window = self.settings.repeated_failure_window.filter(|_| self.report.failed_steps > 0)?;
        let function = [vec![("Function", self.settings.function.to_owned())]];
        let query = SumsQuery {
            namespace: &self.settings.metric_namespace,
            metric: "StepsFailed",
            dimension_sets: &function,
            since: self.now - window,
            until: self.now - chrono::Duration::seconds(1),
        };
        let earlier = self.ports.history.sums(query).await.map(|sums| sums.iter().sum::<f64>());
        match earlier {
            Ok(earlier) if earlier > 0.0 => Some(format!(
                "{} step(s) failed in this run and {earlier} in the last {} minutes: {}",
                self.report.failed_steps,
                window.num_minutes(),
                self.report.errors.join("; ")
            )),
            Ok(_) => None,
            Err(e) => {
                self.report.errors.push(format!("reading the earlier runs' StepsFailed: {e}"));
                None
            }
        }
    }

    /// What was left alone, and why, reaches people too, not only the report.
    async fn announce_problems(&mut self) {
        let report = &self.report;
        if report.errors.is_empty() {
            return;
        }
        let Some(topic) = &self.settings.actions_topic_arn else { return };
        let function = self.settings.function;
        let body =
            json!({ "type": "problems", "function": function, "dry_run": report.dry_run, "problems": report.errors });
        let subject = format!("{function}: {} problem(s) this run", report.errors.len());
        let message = Message::announcement(&subject, &body, &[("type", "problems"), ("action", "problems")]);
        if let Err(e) = self.ports.notifier.publish(topic, &message).await {
            self.publish_errors.push(format!("publishing the run's problems: {e}"));
        }
    }

    /// The run's health, so alarms see failures that repeat run after run.
    async fn publish_health(&mut self) {
        if let Err(e) = self.ports.metrics.put(&self.settings.metric_namespace, &health(&self.report), self.now).await {
            self.publish_errors.push(format!("publishing the run's health metrics: {e}"));
        }
    }

    /// The report, or the error the invocation fails with (the report logged whole first:
    /// it is the record of what was done).
    fn finish(self, repeated: Option<String>) -> Result<Report<K>, RunError> {
        let report = self.report;
        tracing::info!(
            function = self.settings.function,
            dry_run = report.dry_run,
            planned = report.plan.items.len(),
            executed = report.executed.len(),
            deferred = report.deferred.len(),
            errors = report.errors.len(),
            "run finished"
        );
        if !self.publish_errors.is_empty() {
            tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "publishing failed");
            return Err(RunError::Publish(self.publish_errors.join("; ")));
        }
        if let Some(why) = repeated {
            tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "steps keep failing");
            return Err(RunError::StepsFailing(why));
        }
        Ok(report)
    }
}
