//! A small fake world that implements every port in memory, for in-process tests of
//! handlers and executors: stream groups, sessions and tags per region, a topic inbox,
//! a metric store, demand history and a fixed clock. It refuses calls a function did not
//! declare (so a function's operation list, which its IAM policy is checked against, cannot
//! fall behind its code), injects faults per operation and group, and logs every call.
//!
//! It is deliberately simple: writes take effect at once. The GameLift Streams emulator is
//! the faithful service; this is the quick one.

mod ports;

use ports::RegionPort;

use crate::env_config::FromEnv;
use crate::event_fields::RunRequest;
use crate::model::{
    Application, ApplicationStatus, Capacity, Location, LocationStatus, StreamGroup, StreamGroupStatus, StreamSession,
    StreamSessionStatus, StreamUrl, VpcTransit,
};
use crate::ports::*;
use crate::reconcile::{Deployable, Deployed, Reconciler, Report, StepKind, operations};
use crate::rules::SessionTimeouts;
use crate::stream_class::StreamClass;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

pub const ACCOUNT: &str = "111122223333";

/// The one instant the in-process tests start from: 2026-11-21 12:00 UTC, a Saturday noon.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::from_timestamp(FIXED_NOW_EPOCH_SECONDS, 0).expect("a valid instant")
}

/// [`fixed_now`] in epoch seconds.
pub const FIXED_NOW_EPOCH_SECONDS: i64 = 1_795_262_400;

pub fn group_arn(region: &str, id: &str) -> String {
    format!("arn:aws:gameliftstreams:{region}:{ACCOUNT}:streamgroup/{id}")
}

/// An ACTIVE group of `class` with one location per (name, always-on) pair, the first the primary.
pub fn group(region: &str, id: &str, class: &str, created_at: DateTime<Utc>, locations: &[(&str, u32)]) -> StreamGroup {
    let mut group = StreamGroup::new(id, &group_arn(region, id));
    group.description = Some(format!("{id} description"));
    group.stream_class = Some(StreamClass::parse(class));
    group.created_at = Some(created_at);
    group.locations = locations
        .iter()
        .map(|(name, always_on)| Location {
            name: name.to_string(),
            status: LocationStatus::Active,
            capacity: Capacity {
                always_on: Some(*always_on),
                target_idle: Some(0),
                maximum: Some(*always_on),
                requested: *always_on,
                allocated: *always_on,
                idle: *always_on,
                ..Capacity::default()
            },
            vpc_transit: None,
        })
        .collect();
    group
}

/// A location with always-on capacity and the readings given.
pub fn location(name: &str, status: LocationStatus, always_on: u32, allocated: u32, idle: u32) -> Location {
    let capacity =
        Capacity { always_on: Some(always_on), allocated, idle, requested: always_on, ..Capacity::default() };
    Location { name: name.into(), status, capacity, vpc_transit: None }
}

/// A session of `group_id` in `status`, created and last updated at the given instants.
pub fn session(
    region: &str,
    group_id: &str,
    n: usize,
    status: StreamSessionStatus,
    location: &str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> StreamSession {
    StreamSession {
        arn: format!("arn:aws:gameliftstreams:{region}:{ACCOUNT}:streamsession/{group_id}/S{n:012}"),
        stream_group_id: Some(group_id.to_owned()),
        status,
        status_reason: None,
        location: Some(location.to_owned()),
        application_arn: None,
        user_id: Some(format!("player-{n}")),
        created_at: Some(created_at),
        last_updated_at: Some(updated_at),
    }
}

/// A run of `deployed` that must succeed, as a plain invocation starts it.
pub async fn run_ok<R: Reconciler>(deployed: &Deployed<R>) -> Report<R::Kind> {
    deployed.run(&RunRequest::default()).await.expect("the run succeeds")
}

/// The names of the step kinds a run executed, in order.
pub fn executed<K: StepKind>(report: &Report<K>) -> Vec<String> {
    report.executed.iter().map(|e| e.step.kind.name()).collect()
}

/// An event from the workspace's `events/` folder, as `cargo lambda invoke` sends it.
pub fn event_fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One recorded call: the operation and what it named (a group id, ARN or topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub region: String,
    pub operation: String,
    pub target: String,
}

#[derive(Debug, Clone)]
struct Fault {
    operation: String,
    /// Only calls naming this group (id or ARN); every call when `None`.
    target: Option<String>,
    kind: ErrorKind,
    /// How many calls fail; `None`: all.
    remaining: Option<usize>,
}

#[derive(Default)]
struct State {
    groups: BTreeMap<String, Vec<StreamGroup>>,
    sessions: BTreeMap<String, Vec<StreamSession>>,
    timeouts: BTreeMap<String, SessionTimeouts>,
    calls: Vec<CallRecord>,
    faults: Vec<Fault>,
    published: Vec<(String, Message)>,
    /// Events put on a bus, with the bus's name.
    events: Vec<(String, crate::ports::BusEvent)>,
    metrics: Vec<(String, Datum)>,
    /// When each of `metrics` was published.
    metric_times: Vec<DateTime<Utc>>,
    put_calls: usize,
    /// Operations held by [`World::hold`]: their calls wait until the gate is released (its
    /// sender dropped).
    gates: BTreeMap<&'static str, Gate>,
    demand: BTreeMap<LocationKey, Demand>,
    now: Option<DateTime<Utc>>,
    created: usize,
    /// Applications by ARN; one not added here reads as READY.
    applications: BTreeMap<String, Application>,
    /// Stream URLs by group id.
    stream_urls: BTreeMap<String, Vec<StreamUrl>>,
}

/// A held operation's gate: open once its sender is dropped.
#[derive(Debug)]
struct Gate {
    _sender: futures::channel::oneshot::Sender<()>,
    opened: futures::future::Shared<futures::channel::oneshot::Receiver<()>>,
}

/// The world. Clones share it.
#[derive(Clone)]
pub struct World {
    state: Arc<Mutex<State>>,
    /// Operations the function under test declared; others panic.
    allowed: Option<Arc<BTreeSet<Operation>>>,
}

impl World {
    pub fn new(now: DateTime<Utc>) -> Self {
        let world = Self { state: Arc::default(), allowed: None };
        world.state().now = Some(now);
        world
    }

    /// The same world, refusing every GameLift Streams operation not in `operations`.
    pub fn allowing(&self, operations: &[Operation]) -> Self {
        Self { state: self.state.clone(), allowed: Some(Arc::new(operations.iter().copied().collect())) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a group, or replaces the one with its id.
    pub fn add_group(&self, group: StreamGroup) {
        let region = group.region().unwrap_or("us-west-2").to_owned();
        let mut state = self.state();
        let groups = state.groups.entry(region).or_default();
        match groups.iter_mut().find(|g| g.id == group.id) {
            Some(existing) => *existing = group,
            None => groups.push(group),
        }
    }

    /// Holds every call of `operation` until [`release`](Self::release): for tests of what a
    /// function does while one of its reads is still outstanding.
    pub fn hold(&self, operation: Operation) {
        let (sender, opened) = futures::channel::oneshot::channel();
        self.state().gates.insert(operation.name(), Gate { _sender: sender, opened: opened.shared() });
    }

    /// Lets the held calls of `operation`, and every later one, through.
    pub fn release(&self, operation: Operation) {
        self.state().gates.remove(operation.name());
    }

    /// Waits while `operation` is held.
    pub(crate) async fn pass_gate(&self, operation: Operation) {
        let opened = self.state().gates.get(operation.name()).map(|gate| gate.opened.clone());
        if let Some(opened) = opened {
            // Its sender dropped (released): every waiter goes on.
            let _ = opened.await;
        }
    }

    pub fn add_session(&self, session: StreamSession) {
        let region = crate::model::arn_region(&session.arn).unwrap_or("us-west-2").to_owned();
        self.state().sessions.entry(region).or_default().push(session);
    }

    pub fn set_demand(&self, group_id: &str, location: &str, demand: Demand) {
        self.state().demand.insert((group_id.to_owned(), location.to_owned()), demand);
    }

    /// An application's status as GetApplication will report it (unknown ones are READY).
    pub fn set_application(&self, arn: &str, status: ApplicationStatus, reason: Option<&str>) {
        let application = Application {
            arn: arn.to_owned(),
            id: crate::model::id_of(arn).to_owned(),
            status,
            status_reason: reason.map(str::to_owned),
        };
        self.state().applications.insert(arn.to_owned(), application);
    }

    /// A stream URL of `group_id` in `status`.
    pub fn add_stream_url(&self, group_id: &str, id: &str, status: crate::model::StreamUrlStatus) {
        let group = self.group(group_id);
        let region = group.as_ref().and_then(|g| g.region()).unwrap_or("us-west-2");
        let url = StreamUrl {
            arn: format!("arn:aws:gameliftstreams:{region}:{ACCOUNT}:streamurl/{group_id}/{id}"),
            id: id.to_owned(),
            status,
            expires_at: None,
            remaining_uses: None,
            description: None,
        };
        self.state().stream_urls.entry(group_id.to_owned()).or_default().push(url);
    }

    pub fn set_stream_url_status(&self, id: &str, status: crate::model::StreamUrlStatus) {
        for url in self.state().stream_urls.values_mut().flatten().filter(|u| u.id == id) {
            url.status = status.clone();
        }
    }

    /// The world's clock (the Unix epoch if a test never set one).
    pub fn now(&self) -> DateTime<Utc> {
        self.state().now.unwrap_or_default()
    }

    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state().now = Some(now);
    }

    /// Calls of `operation` (on `target`, when given: a group id, ARN or session ARN) fail
    /// with `kind`, `times` times or for ever.
    pub fn fail(&self, operation: &str, target: Option<&str>, kind: ErrorKind, times: Option<usize>) {
        self.state().faults.push(Fault {
            operation: operation.to_owned(),
            target: target.map(str::to_owned),
            kind,
            remaining: times,
        });
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// A group as the world holds it now (tags included), by id.
    pub fn group(&self, id: &str) -> Option<StreamGroup> {
        self.state().groups.values().flatten().find(|g| g.id == id).cloned()
    }

    pub fn groups(&self) -> Vec<StreamGroup> {
        self.state().groups.values().flatten().cloned().collect()
    }

    pub fn sessions(&self) -> Vec<StreamSession> {
        self.state().sessions.values().flatten().cloned().collect()
    }

    pub fn set_session_status(&self, arn: &str, status: StreamSessionStatus) {
        if let Some(s) = self.state().sessions.values_mut().flatten().find(|s| s.arn == arn) {
            s.status = status;
        }
    }

    pub fn set_group_status(&self, id: &str, status: StreamGroupStatus) {
        if let Some(g) = self.state().groups.values_mut().flatten().find(|g| g.id == id) {
            g.status = status;
        }
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.state().calls.clone()
    }

    pub fn calls_of(&self, operation: &str) -> usize {
        self.state().calls.iter().filter(|c| c.operation == operation).count()
    }

    /// Calls that would change the service (tag writes included).
    pub fn mutating_calls(&self) -> usize {
        let mutating: BTreeSet<&str> =
            Operation::ALL.iter().filter(|op| op.is_mutating()).map(|op| op.name()).collect();
        self.state().calls.iter().filter(|c| mutating.contains(c.operation.as_str())).count()
    }

    pub fn published(&self) -> Vec<(String, Message)> {
        self.state().published.clone()
    }

    /// Every event put on a bus so far, with the bus's name.
    pub fn events(&self) -> Vec<(String, crate::ports::BusEvent)> {
        self.state().events.clone()
    }

    pub fn metrics(&self) -> Vec<(String, Datum)> {
        self.state().metrics.clone()
    }

    pub fn put_metric_calls(&self) -> usize {
        self.state().put_calls
    }

    /// Ports for `regions`, every one backed by this world.
    pub fn ports(&self, regions: &[&str]) -> Ports {
        let counter = self.clone();
        Ports {
            regions: regions
                .iter()
                .map(|r| {
                    let port: Arc<dyn GameLiftStreams> =
                        Arc::new(RegionPort { world: self.clone(), region: r.to_string() });
                    (r.to_string(), port)
                })
                .collect(),
            metrics: Arc::new(self.clone()),
            demand: Arc::new(self.clone()),
            history: Arc::new(self.clone()),
            notifier: Arc::new(self.clone()),
            events: Arc::new(self.clone()),
            clock: Arc::new(self.clone()),
            calls: Arc::new(move || {
                let mut counts = CallCounts::new();
                for call in counter.calls() {
                    counts.entry(call.operation).or_default().attempts += 1;
                }
                counts
            }),
        }
    }

    /// The remediation function configured by `vars` (with `AWS_REGION` = `region`), on this
    /// world's `region`, allowed only the calls it declares (`reconcile::operations`).
    pub fn deploy<C: Deployable + FromEnv>(&self, region: &str, vars: &[(&str, &str)]) -> Deployed<C::Reconciler> {
        let vars = [&[("AWS_REGION", region)], vars].concat();
        let config = C::from_pairs(&vars).expect("a valid configuration");
        Deployed::on(config, self.allowing(&operations::<C::Reconciler>()).ports(&[region]))
    }

    /// Records a call and answers with an injected fault, if one matches.
    fn call(&self, region: &str, operation: Operation, target: &str) -> Result<(), ApiError> {
        if let Some(allowed) = &self.allowed {
            assert!(
                allowed.contains(&operation),
                "{operation} called on {target}, but the function does not declare it (its declared operations, which its IAM policy is checked against)"
            );
        }
        self.record(region, operation.name(), target)
    }

    fn record(&self, region: &str, operation: &'static str, target: &str) -> Result<(), ApiError> {
        let mut state = self.state();
        state.calls.push(CallRecord {
            region: region.to_owned(),
            operation: operation.to_owned(),
            target: target.to_owned(),
        });
        let hit = state.faults.iter_mut().find(|f| {
            f.operation == operation
                && f.remaining != Some(0)
                && f.target.as_deref().is_none_or(|t| t == target || crate::model::id_of(target) == t)
        });
        if let Some(fault) = hit {
            if let Some(n) = fault.remaining.as_mut() {
                *n -= 1;
            }
            let code = match fault.kind {
                ErrorKind::NotFound => "ResourceNotFoundException",
                ErrorKind::Throttled => "ThrottlingException",
                ErrorKind::Conflict => "ConflictException",
                ErrorKind::Validation => "ValidationException",
                ErrorKind::Quota => "ServiceQuotaExceededException",
                ErrorKind::AccessDenied => "AccessDeniedException",
                ErrorKind::Other => "InternalServerException",
            };
            return Err(ApiError::new(operation, fault.kind, code, "injected by the test world"));
        }
        Ok(())
    }

    /// "Only Get and Delete operations will work on an expired stream group" (the model).
    fn refuse_expired(&self, region: &str, operation: &'static str, id_or_arn: &str) -> Result<(), ApiError> {
        let expired = self.with_group(region, operation, id_or_arn, |g| g.status == StreamGroupStatus::Expired)?;
        if expired {
            return Err(ApiError::new(
                operation,
                ErrorKind::Validation,
                "ValidationException",
                format!("{} is expired: only Get and Delete work", crate::model::id_of(id_or_arn)),
            ));
        }
        Ok(())
    }

    fn with_group<T>(
        &self,
        region: &str,
        operation: &'static str,
        id_or_arn: &str,
        f: impl FnOnce(&mut StreamGroup) -> T,
    ) -> Result<T, ApiError> {
        let id = crate::model::id_of(id_or_arn);
        let mut state = self.state();
        let group = state.groups.entry(region.to_owned()).or_default().iter_mut().find(|g| g.id == id);
        match group {
            Some(group) => Ok(f(group)),
            None => Err(ApiError::new(
                operation,
                ErrorKind::NotFound,
                "ResourceNotFoundException",
                format!("{id} not found"),
            )),
        }
    }
}
