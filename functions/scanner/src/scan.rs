//! One scan, in phases: observe (reads only, [`observe`]) -> evaluate the finding rules
//! (`watchdog_core::rules`) -> plan alerts ([`alerts::plan`]) -> deliver ([`alerts::deliver`])
//! -> publish metrics ([`metrics::publish`]). The phases are streamed: a group's findings are
//! evaluated, its alerts delivered and its metrics batched as soon as its details arrive, so
//! publishing overlaps the reads instead of following them.

use crate::alerts::{self, MemoryWrite, PerFinding};
use crate::config::Config;
use crate::digest::{self, DigestSummary};
use crate::evaluate::{Evaluated, ExpiredMemory, Outlets, Read, SessionsSeen, evaluate};
use crate::event::{EventError, ScanRequest};
use crate::inventory::RegionInventory;
use crate::metrics::{self, IdleCost, MetricSummary};
use crate::observe::{self, Described, SessionListing, Unread};
use chrono::{DateTime, Duration, Utc};
use futures::future::{FutureExt, join_all};
use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use watchdog_core::findings::Finding;
use watchdog_core::ports::{BusEvent, CallCounts, Datum, GameLiftStreams, Ports, calls_since, put_all_events};
use watchdog_core::reconcile::{RunError, effective_dry_run};
use watchdog_core::rules::{self, SessionTimeouts};
use watchdog_core::{StreamGroup, StreamGroupStatus, StreamSession};

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub stream_groups: usize,
    /// Groups read in full with GetStreamGroup (the rest: expired, deleting, or unread).
    pub described_groups: usize,
    pub groups_by_status: BTreeMap<String, usize>,
    pub sessions_by_status: BTreeMap<String, usize>,
    pub findings_by_kind: BTreeMap<String, usize>,
    pub findings_by_severity: BTreeMap<String, usize>,
    /// With OWNER_TAG_KEY: findings by severity under each group owner (groups without the
    /// tag, and expired groups, are under none). Always present, so the hub's ResultSelector
    /// finds it.
    pub findings_by_owner: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Debug, Default, Serialize)]
pub struct AlertSummary {
    pub sent: usize,
    /// Already sent within the re-send interval at the same or a higher severity.
    pub suppressed: usize,
    /// Would have been sent, had this not been a dry run or had a topic been configured.
    pub not_sent: usize,
    pub failed: usize,
    /// Groups whose new alerts were held back: their alert memory would not fit in the 50 tags a
    /// group holds. Counted in `AlertMemoryFull`, whose alarm notifies once instead of a storm.
    pub memory_full: Vec<String>,
}

/// What the function returns.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The organisation's target this scan read (the hub's runs), else null.
    pub target: Option<crate::event::ScanTarget>,
    /// The organisation's digest, when this run was the hub's last state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<crate::organisation::Summary>,
    pub trigger: String,
    pub dry_run: bool,
    pub now: String,
    pub duration_ms: u64,
    pub regions: Vec<String>,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    pub alerts: AlertSummary,
    /// The scan's digest, with ALERT_DELIVERY=digest or both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSummary>,
    pub metrics: MetricSummary,
    pub idle: IdleCost,
    /// HTTP attempts by operation during this run, retries included.
    pub api_calls: CallCounts,
    pub session_listing: BTreeMap<String, SessionListing>,
    /// Everything the scan could not read, and what it did without it.
    pub unread: Vec<Unread>,
    pub publish_errors: Vec<String>,
    /// True when every group and session was read.
    pub complete: bool,
    /// Every group read (details where they could be read), for tools that show the fleet;
    /// left out of the Lambda's answer, which stays small.
    #[serde(skip)]
    pub groups: Vec<StreamGroup>,
    /// The sessions that hold or wait for capacity, likewise.
    #[serde(skip)]
    pub sessions: Vec<StreamSession>,
}

/// What one region's scan returns.
#[derive(Default)]
struct RegionResult {
    inventory: RegionInventory,
    delivered: alerts::Delivered,
    /// Findings not alerted this run (their memory says they were sent recently).
    suppressed: usize,
}

/// What the digest step did.
struct DigestOutcome {
    summary: DigestSummary,
    /// Alert memory that could not be written after the digest went out.
    unread: Vec<Unread>,
    error: Option<String>,
}

pub struct Scanner {
    pub config: Config,
    ports: Ports,
    /// The hub's other reads: the organisation's tree (`organisation_targets`) and the map's
    /// results (`organisation_digest`).
    pub(crate) hub: Option<watchdog_core::organisation::HubPorts>,
}

impl Scanner {
    pub fn new(config: Config, ports: Ports) -> Self {
        Self { config, ports, hub: None }
    }

    pub fn with_hub(self, hub: watchdog_core::organisation::HubPorts) -> Self {
        Self { hub: Some(hub), ..self }
    }

    pub(crate) async fn now(&self) -> Result<DateTime<Utc>, String> {
        self.ports.clock.now().await
    }

    pub(crate) async fn notify(&self, topic: &str, message: &watchdog_core::ports::Message) -> Result<(), String> {
        self.ports.notifier.publish(topic, message).await.map_err(|e| e.to_string())
    }

    /// One PutMetricData call in the configured namespace.
    pub(crate) async fn put_metrics(
        &self,
        datums: &[watchdog_core::ports::Datum],
        at: DateTime<Utc>,
    ) -> Result<(), String> {
        self.ports.metrics.put(&self.config.namespace, datums, at).await.map_err(|e| e.to_string())
    }

    /// These ports reading a target's GameLift Streams with the role assumed there: its
    /// regions, and its calls counted with this function's own (CloudWatch, SNS, EventBridge).
    pub(crate) fn ports_with_target(&self, assumed: Ports) -> Ports {
        let (own, target) = (self.ports.calls.clone(), assumed.calls);
        let calls = std::sync::Arc::new(move || watchdog_core::ports::total_calls(&own(), &target()));
        Ports { regions: assumed.regions, calls, ..self.ports.clone() }
    }

    pub async fn scan(&self, request: ScanRequest) -> Result<Report, RunError> {
        let started = Instant::now();
        let calls_before = &(self.ports.calls)();
        let now = self.ports.clock.now().await.map_err(RunError::Clock)?;
        let dry_run = effective_dry_run(self.config.dry_run, request.dry_run);
        let config = &self.config;
        let regions: Vec<&dyn GameLiftStreams> = match &request.regions {
            None => self.ports.regions.values().map(|r| r.as_ref()).collect(),
            Some(wanted) => {
                let mut chosen = Vec::new();
                for (i, region) in wanted.iter().enumerate() {
                    let port = self.ports.regions.get(region).ok_or_else(|| EventError {
                        event: "scan",
                        field: format!("regions[{i}]"),
                        problem: format!(
                            "{region} is not a configured region (REGIONS={})",
                            config.connection.regions.join(",")
                        ),
                    })?;
                    chosen.push(port.as_ref());
                }
                chosen
            }
        };

        let trigger = request.trigger.clone().unwrap_or_else(|| "manual".into());
        let request = &request;
        let (metric_tx, metric_rx) = unbounded_channel();
        let sink = (!dry_run).then_some(self.ports.metrics.as_ref());
        let metric_phase = metrics::publish(metric_rx, sink, &config.namespace, now);
        let scan_phase = async move {
            let scans =
                regions.iter().map(|region| self.scan_region(*region, request, dry_run, now, metric_tx.clone()));
            let mut results: Vec<RegionResult> = join_all(scans).await;
            let digest = match config.alert_delivery.digest() {
                true => Some(self.digest(&mut results, dry_run, now).await),
                false => None,
            };
            let inventories: Vec<&RegionInventory> = results.iter().map(|r| &r.inventory).collect();
            let account = request.target.as_ref().map(|t| t.account.as_str());
            let _ = metric_tx.send(metrics::alarm_datums(&inventories, account));
            // The regions' totals and the watchdog's own health, now that everything is read.
            for RegionResult { inventory, .. } in &results {
                let datums = metrics::account_datums(
                    inventory,
                    &inventory.findings,
                    config.metric_detail,
                    config.schedule_interval,
                    &config.price_table,
                );
                let _ = metric_tx.send(datums);
                crate::figures::log_region(inventory, &inventory.findings);
            }
            let unread: usize =
                results.iter().map(|r| r.inventory.unread.len() + r.delivered.unread.len()).sum::<usize>()
                    + digest.as_ref().map_or(0, |d| d.unread.len());
            let memory_full: usize = results.iter().map(|r| r.inventory.memory_full.len()).sum();
            let calls = calls_since(&(self.ports.calls)(), calls_before);
            let run = Duration::from_std(started.elapsed()).unwrap_or_default();
            let _ = metric_tx.send(metrics::health_datums(run, &calls, unread, memory_full, config.metric_detail));
            drop(metric_tx);
            (results, digest)
        };
        let ((results, digest), metric_summary) = tokio::join!(scan_phase, metric_phase);

        let mut report =
            Report { trigger, dry_run, now: now.to_rfc3339(), metrics: metric_summary, ..Report::default() };
        report.publish_errors.append(&mut report.metrics.errors);
        if let Some(outcome) = digest {
            report.digest = Some(outcome.summary);
            report.unread.extend(outcome.unread);
            report.publish_errors.extend(outcome.error);
        }
        for RegionResult { inventory, delivered, suppressed } in results {
            report.regions.push(inventory.region.clone());
            report.alerts.sent += delivered.sent;
            report.alerts.failed += delivered.failed;
            report.alerts.not_sent += delivered.not_sent;
            report.alerts.suppressed += suppressed;
            report.alerts.memory_full.extend(inventory.memory_full.iter().cloned());
            report.publish_errors.extend(delivered.errors);
            report.unread.extend(delivered.unread);
            self.count(&mut report, inventory);
        }
        for f in &report.findings {
            *report.counts.findings_by_kind.entry(f.kind.to_string()).or_default() += 1;
            *report.counts.findings_by_severity.entry(f.severity.to_string()).or_default() += 1;
        }
        if let Some(bus) = self.config.event_bus.as_deref().filter(|_| !dry_run) {
            let events: Vec<BusEvent> = report.findings.iter().map(|f| finding_event(f, now)).collect();
            for error in put_all_events(self.ports.events.as_ref(), bus, &events).await {
                report.publish_errors.push(format!("putting the findings on {bus}: {error}"));
            }
        }
        report.complete = report.unread.is_empty();
        report.api_calls = calls_since(&(self.ports.calls)(), calls_before);
        report.duration_ms = started.elapsed().as_millis() as u64;
        log(&report);
        if let Some(why) = blindness(&report) {
            // A watchdog that sees nothing must not look healthy: fail, so the function-errors
            // alarm fires, with what the scan did see in the error and the whole report logged.
            tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "scan incomplete");
            let seen = serde_json::json!({
                "regions": report.regions,
                "counts": report.counts,
                "unread": report.unread.iter().take(20).collect::<Vec<_>>(),
                "unread_total": report.unread.len(),
            });
            return Err(RunError::Incomplete(format!("{why}; {seen}")));
        }
        if !report.publish_errors.is_empty() {
            // The report is the record of the scan: log it whole before failing.
            tracing::error!(report = %serde_json::to_string(&report).unwrap_or_default(), "publishing failed");
            return Err(RunError::Publish(report.publish_errors.join("; ")));
        }
        Ok(report)
    }

    /// The scan's digest, once every region is read: built from every group's alert plan,
    /// published when it has news (not in a dry run), and only then is the alert memory the
    /// regions held back written, so a digest SNS refused is sent again next run.
    async fn digest(&self, results: &mut [RegionResult], dry_run: bool, now: DateTime<Utc>) -> DigestOutcome {
        let mut plans = Vec::new();
        let mut held = Vec::new();
        for result in results.iter_mut() {
            plans.append(&mut result.delivered.plans);
            held.append(&mut result.delivered.held);
        }
        let findings: Vec<Finding> = results.iter().flat_map(|r| r.inventory.findings.iter().cloned()).collect();
        let regions: Vec<String> = results.iter().map(|r| r.inventory.region.clone()).collect();
        let digest = digest::build(&plans, &findings, &regions, now);
        let mut outcome = DigestOutcome { summary: digest.summary(false), unread: Vec::new(), error: None };
        if dry_run {
            return outcome;
        }
        if digest.has_news() {
            let topic = self.config.digest_topic_arn.as_deref().expect("checked at start-up: a digest has its topic");
            match self.ports.notifier.publish(topic, &digest.message()).await {
                Ok(()) => outcome.summary.sent = true,
                Err(e) => {
                    outcome.error = Some(format!("SNS refused the digest ({}): {e}", digest.headline()));
                    return outcome;
                }
            }
            tracing::info!(digest = %digest.headline(), "digest sent");
        }
        let writes = held.iter().filter_map(|memory| {
            let writer = self.ports.regions.get(&memory.group.region)?;
            Some(async move { memory.write(writer.as_ref()).await })
        });
        let unread: Vec<Vec<Unread>> =
            stream::iter(writes).buffer_unordered(self.config.max_concurrency).collect().await;
        outcome.unread = unread.into_iter().flatten().collect();
        outcome
    }

    fn count(&self, report: &mut Report, inventory: RegionInventory) {
        report.counts.stream_groups += inventory.groups.len();
        report.counts.described_groups += inventory.described.len();
        for g in &inventory.groups {
            *report.counts.groups_by_status.entry(g.status.to_string()).or_default() += 1;
        }
        for s in &inventory.sessions {
            *report.counts.sessions_by_status.entry(s.status.to_string()).or_default() += 1;
        }
        let idle = metrics::idle_cost(&inventory.groups, self.config.schedule_interval, &self.config.price_table);
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
        for finding in &inventory.findings {
            if let Some(owner) = inventory.owners.get(&finding.stream_group_id) {
                let by_severity = report.counts.findings_by_owner.entry(owner.clone()).or_default();
                *by_severity.entry(finding.severity.to_string()).or_default() += 1;
            }
        }
        report.findings.extend(inventory.findings);
        report.groups.extend(inventory.groups);
        report.sessions.extend(inventory.sessions);
    }

    /// One region, every phase at once: group details stream into evaluation, evaluation
    /// streams alerts into delivery and datums into the metric phase.
    async fn scan_region(
        &self,
        region: &dyn GameLiftStreams,
        request: &ScanRequest,
        dry_run: bool,
        now: DateTime<Utc>,
        metrics: UnboundedSender<Vec<Datum>>,
    ) -> RegionResult {
        let config = &self.config;
        let mut inventory = RegionInventory { region: region.region().to_owned(), ..RegionInventory::default() };
        let (summaries, missing) = match observe::list_groups(region, request.stream_groups.as_deref()).await {
            Ok(listed) => listed,
            Err(unread) => {
                inventory.unread.push(unread);
                return RegionResult { inventory, ..RegionResult::default() };
            }
        };
        inventory.unread.extend(missing);
        let serving: Vec<String> = summaries.iter().filter(|g| g.status.is_serving()).map(|g| g.id.clone()).collect();
        let listing = observe::choose_session_listing(serving.len(), request.stream_groups.is_some());
        inventory.session_listing = Some(listing);

        // Sessions: list, pick the candidates past the default timeouts, confirm each with
        // its own timeouts. Evaluation of every group waits on this (it finishes early).
        let platforms: HashMap<String, _> =
            summaries.iter().map(|g| (g.id.clone(), g.stream_class.as_ref().and_then(|c| c.platform()))).collect();
        let sessions_phase = async {
            let (sessions, mut unread) = observe::sessions(region, listing, &serving, config.max_concurrency).await;
            let platform =
                |s: &StreamSession| s.stream_group_id.as_ref().and_then(|g| platforms.get(g).copied().flatten());
            let candidates: Vec<&StreamSession> = sessions
                .iter()
                .filter(|s| rules::is_stale(s, platform(s), SessionTimeouts::default(), now, &config.policy))
                .collect();
            let (timeouts, timeout_unread) =
                observe::session_timeouts(region, candidates, config.max_concurrency).await;
            unread.extend(timeout_unread);
            let mut stale: HashMap<String, Vec<StreamSession>> = HashMap::new();
            for (session, own) in timeouts {
                if rules::is_stale(session, platform(session), own, now, &config.policy) {
                    stale.entry(session.stream_group_id.clone().unwrap_or_default()).or_default().push(session.clone());
                }
            }
            Arc::new(SessionsSeen { sessions, stale, unread })
        }
        .shared();

        let (alert_tx, alert_rx) = unbounded_channel();
        // EXPIRED groups have no details to read and keep their alert memory in CloudWatch:
        // they are evaluated on their own, so those reads never hold an evaluation slot that a
        // serving group's tag read is waiting for.
        let (expired, summaries): (Vec<StreamGroup>, Vec<StreamGroup>) =
            summaries.into_iter().partition(|g| g.status == StreamGroupStatus::Expired);
        let expired_outlets = Outlets { alerts: alert_tx.clone(), metrics: metrics.clone() };
        let outlets = Outlets { alerts: alert_tx, metrics };
        let history = self.ports.history.as_ref();
        let expired_phase = {
            let sessions = sessions_phase.clone();
            async move {
                let outlets = &expired_outlets;
                let memory = &ExpiredMemory::read(config, region.region(), history, &expired, now).await;
                stream::iter(expired)
                    .map(|group| {
                        let sessions = sessions.clone();
                        async move {
                            let seen = sessions.await;
                            let read = Read::without_tags(Described::Summary(group, None));
                            evaluate(config, region, memory, read, &seen, now, outlets).await
                        }
                    })
                    .buffer_unordered(config.max_concurrency)
                    .collect::<Vec<Evaluated>>()
                    .await
            }
        };
        let (described_tx, described_rx) = unbounded_channel::<Described>();
        // Details are read by themselves, so that evaluation waiting on sessions never holds
        // back GetStreamGroup, the scan's busiest operation.
        let describe_phase = async move {
            let mut reads =
                stream::iter(summaries).map(|s| observe::describe(region, s)).buffered(config.max_concurrency);
            while let Some(described) = reads.next().await {
                let _ = described_tx.send(described);
            }
        };
        // Tags are read as soon as a group's details are in, when they are needed whatever its
        // findings: they then keep pace with GetStreamGroup rather than wait for the sessions.
        let (read_tx, read_rx) = unbounded_channel::<Read>();
        let tags_phase = async move {
            let mut reads = tokio_stream_of(described_rx)
                .map(|described| Read::with_tags(config, region, described))
                .buffer_unordered(config.max_concurrency);
            while let Some(read) = reads.next().await {
                let _ = read_tx.send(read);
            }
        };
        let evaluate_phase = {
            let sessions = sessions_phase.clone();
            async move {
                let outlets = &outlets;
                let evaluated = tokio_stream_of(read_rx)
                    .map(|read| {
                        let sessions = sessions.clone();
                        async move {
                            let seen = sessions.await;
                            evaluate(config, region, &ExpiredMemory::default(), read, &seen, now, outlets).await
                        }
                    })
                    .buffer_unordered(config.max_concurrency)
                    .collect::<Vec<Evaluated>>()
                    .await;
                // The outlets close as this block ends: delivery then knows no more alerts come.
                evaluated
            }
        };
        // In a dry run nothing is sent or written; delivery only counts what would have been.
        let per_finding = match config.findings_topic_arn.as_deref() {
            _ if !config.alert_delivery.per_finding() => PerFinding::Off,
            Some(topic) if !dry_run => PerFinding::Publish(self.ports.notifier.as_ref(), topic),
            _ => PerFinding::Count,
        };
        let memory_write =
            if config.alert_delivery.digest() { MemoryWrite::AfterDigest } else { MemoryWrite::PerGroup };
        let deliver_phase = alerts::deliver(alert_rx, per_finding, memory_write, region);
        let (_, _, mut evaluated, expired_evaluated, sessions, delivered) = tokio::join!(
            describe_phase,
            tags_phase,
            evaluate_phase,
            expired_phase,
            sessions_phase.clone(),
            deliver_phase
        );
        evaluated.extend(expired_evaluated);

        let mut suppressed = 0;
        for e in evaluated {
            inventory.unread.extend(e.unread);
            suppressed += e.suppressed;
            let Some(group) = e.group else { continue };
            if e.memory_full {
                inventory.memory_full.push(group.id.clone());
            }
            if e.described {
                inventory.described.push(group.id.clone());
            }
            if let Some(owner) = e.owner {
                inventory.owners.insert(group.id.clone(), owner);
            }
            inventory.findings.extend(e.findings);
            inventory.groups.push(group);
        }
        inventory.sessions = sessions.sessions.clone();
        inventory.unread.extend(sessions.unread.iter().cloned());
        RegionResult { inventory, delivered, suppressed }
    }
}

/// A stream of what arrives on `rx` until every sender is gone.
fn tokio_stream_of<T>(mut rx: tokio::sync::mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Why a scan saw too little to be trusted: a region it could not list, or the details of
/// fewer than half the groups that have details to read.
pub fn blindness(report: &Report) -> Option<String> {
    let unlisted: Vec<&str> =
        report.unread.iter().filter(|u| u.is_region_unlisted()).map(|u| u.region.as_str()).collect();
    if !unlisted.is_empty() {
        return Some(format!("could not list the stream groups of {}", unlisted.join(", ")));
    }
    // Expired and deleting groups are never described (`observe::describe`).
    let without_details = report
        .groups
        .iter()
        .filter(|g| matches!(g.status, StreamGroupStatus::Expired | StreamGroupStatus::Deleting))
        .count();
    let to_describe = report.counts.stream_groups.saturating_sub(without_details);
    let described = report.counts.described_groups;
    (to_describe > 0 && described * 2 < to_describe)
        .then(|| format!("read the details of only {described} of {to_describe} stream groups"))
}

fn log(report: &Report) {
    tracing::info!(
        trigger = %report.trigger,
        dry_run = report.dry_run,
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
}

/// The detail type of a finding's event.
pub const FINDING_EVENT: &str = "GameLift Streams Watchdog Finding";

/// A finding as an EventBridge event (schemas/watchdog-finding.schema.json): the finding, the
/// account and region it is in (from its group's ARN), and when the scan saw it. Every scan
/// puts every open finding: a rule matches on `kind` and `severity`, and a consumer keeps
/// its own memory by `stream_group_arn` and `kind`.
pub fn finding_event(finding: &Finding, now: DateTime<Utc>) -> BusEvent {
    let mut detail = serde_json::to_value(finding).unwrap_or_default();
    if let Some(fields) = detail.as_object_mut() {
        let account = finding.stream_group_arn.split(':').nth(4).unwrap_or_default();
        fields.insert("schema_version".into(), serde_json::json!(1));
        fields.insert("account".into(), serde_json::json!(account));
        fields.insert("at".into(), serde_json::json!(now.to_rfc3339()));
    }
    BusEvent { detail_type: FINDING_EVENT.into(), detail, resources: vec![finding.stream_group_arn.clone()] }
}
