//! The emulator's own admin API under `/_emulator/`: the clock, fleets, statuses, activation
//! outcomes, sessions' input, faults, counters, rate limits and the emulated crash. Tests and
//! the demo drive the bad days through it; the service API never sees these paths.

mod supply;
mod view;

use crate::error::ServiceError;
use crate::fleet::{self, Fleet};
use crate::instance::{Crash, Emulator, lock};
use crate::limits::{Counters, FaultRule};
use crate::operations::{self, resource_id};
use crate::state::{ActivationOutcome, EmulatedWorld};
use crate::vocabulary::{ApplicationStatus, ApplicationStatusReason, LocationStatus, SessionStatus, StreamGroupStatus};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

/// The admin API's routes, under `/_emulator/`.
pub fn routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/_emulator/health", get(|| async { axum::Json(json!({ "status": "ok" })) }))
        .route("/_emulator/clock", get(get_clock).post(set_clock))
        .route("/_emulator/fleet", post(load_fleet))
        .route("/_emulator/state", get(view::state))
        .route("/_emulator/locations/status", post(set_location_status))
        .route("/_emulator/stream-groups/status", post(set_group_status))
        .route("/_emulator/activation-outcomes", post(queue_activation_outcome))
        .route("/_emulator/sessions/status", post(set_session_status))
        .route("/_emulator/sessions/input", post(session_input))
        .route("/_emulator/applications/status", post(set_application_status))
        .route("/_emulator/applications/replication", post(finish_replication))
        .route("/_emulator/stream-urls/use", post(use_stream_url))
        .route("/_emulator/behaviour", get(get_behaviour))
        .route("/_emulator/supply", get(supply::get_supply).post(supply::set_supply))
        .route("/_emulator/access", post(supply::set_access))
        .route("/_emulator/faults", get(get_faults).post(set_fault).delete(clear_faults))
        .route("/_emulator/counters", get(get_counters).delete(reset_counters))
        .route("/_emulator/rate-limits", get(get_rate_limits).post(set_rate_limits))
        .route("/_emulator/crash", get(get_crash).post(set_crash).delete(clear_crash))
}

/// Admin errors name the bad field and the expected form.
/// (Admin handlers return early with a ready `Response`; its size does not matter here.)
fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// An admin request's body: strict JSON of a form the refusal of a bad one names.
trait AdminRequest: DeserializeOwned {
    /// The form, as a bad request's error shows it.
    const EXPECTED: &str;
}

/// A handler's admin request, parsed; a body that does not parse is refused (400) with the
/// parser's reason and the form expected, before the handler runs.
struct Admin<T>(T);

impl<S: Send + Sync, T: AdminRequest> FromRequest<S> for Admin<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body).map(Admin).map_err(|e| bad_request(format!("{e}; expected {}", T::EXPECTED)))
    }
}

fn clock_json(world: &EmulatedWorld) -> Value {
    let now = world.now();
    json!({ "now": now.timestamp_millis() as f64 / 1000.0, "iso": now.to_rfc3339(), "frozen": world.clock.is_frozen() })
}

async fn get_clock(State(emu): State<Arc<Emulator>>) -> Response {
    axum::Json(clock_json(&lock(&emu.world))).into_response()
}

/// The clock moves at most ten years at a time, and never past 2200: beyond that the
/// service's timestamps mean nothing and date arithmetic overflows.
const MAX_CLOCK_STEP_SECONDS: f64 = 3650.0 * 86_400.0;
const MAX_EPOCH_SECONDS: f64 = 7_258_118_400.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance_seconds: Option<f64>,
    now: Option<f64>,
    frozen: Option<bool>,
}

impl AdminRequest for ClockChange {
    const EXPECTED: &str = r#"{"advance_seconds": N} or {"now": EPOCH_SECONDS}, optionally with "frozen": true|false"#;
}

async fn set_clock(State(emu): State<Arc<Emulator>>, Admin(change): Admin<ClockChange>) -> Response {
    let mut world = lock(&emu.world);
    if let Some(frozen) = change.frozen {
        world.clock.freeze(frozen);
    }
    match (change.advance_seconds, change.now) {
        (Some(_), Some(_)) => {
            return bad_request(format!("give advance_seconds or now, not both; expected {}", ClockChange::EXPECTED));
        }
        (Some(seconds), None) if !(0.0..=MAX_CLOCK_STEP_SECONDS).contains(&seconds) => {
            return bad_request(format!(
                "advance_seconds must be from 0 to {MAX_CLOCK_STEP_SECONDS} (ten years), got {seconds}"
            ));
        }
        (None, Some(epoch)) if !(0.0..=MAX_EPOCH_SECONDS).contains(&epoch) => {
            return bad_request(format!("now: {epoch} is not an epoch time in seconds before the year 2200"));
        }
        (Some(seconds), None) => world.clock.advance(Duration::milliseconds((seconds * 1000.0) as i64)),
        (None, Some(epoch)) => {
            let Some(at) = DateTime::<Utc>::from_timestamp_millis((epoch * 1000.0) as i64) else {
                return bad_request(format!("now: {epoch} is not a valid epoch time in seconds"));
            };
            if let Err(message) = world.clock.set(at) {
                return bad_request(format!("now: {message}"));
            }
        }
        (None, None) if change.frozen.is_none() => {
            return bad_request(format!("nothing to change; expected {}", ClockChange::EXPECTED));
        }
        (None, None) => {}
    }
    world.advance();
    let reply = clock_json(&world);
    // One clock for the whole organisation: every account's world follows.
    let clock = world.clock.clone();
    drop(world);
    for (_, other) in emu.worlds() {
        let mut other = lock(&other);
        other.clock = clock.clone();
        other.advance();
    }
    axum::Json(reply).into_response()
}

#[derive(Deserialize)]
struct FleetQuery {
    mode: Option<String>,
    /// Load into this account's world (default: the emulator's `--account-id`).
    account: Option<String>,
}

async fn load_fleet(State(emu): State<Arc<Emulator>>, Query(query): Query<FleetQuery>, body: Bytes) -> Response {
    let text = match std::str::from_utf8(&body) {
        Ok(text) => text,
        Err(_) => return bad_request("the fleet must be UTF-8 TOML or JSON"),
    };
    let fleet = match Fleet::parse(text) {
        Ok(fleet) => fleet,
        Err(message) => return bad_request(message),
    };
    let world = match query.account.as_deref() {
        None => emu.world.clone(),
        Some(account) if crate::accounts::account_of_access_key(account).as_deref() == Some(account) => {
            emu.world_of(account)
        }
        Some(other) => return bad_request(format!("account: {other:?} is not a 12-digit account id")),
    };
    let mut world = lock(&world);
    let replace = match query.mode.as_deref() {
        None | Some("replace") => true,
        Some("merge") => false,
        Some(other) => return bad_request(format!("mode: {other:?} is not replace or merge")),
    };
    // A refused fleet changes nothing, in either mode.
    let before = replace.then(|| std::mem::take(&mut world.regions));
    match fleet::load(&mut world, &fleet) {
        Ok(summary) => axum::Json(json!(summary)).into_response(),
        Err(message) => {
            if let Some(before) = before {
                world.regions = before;
            }
            bad_request(message)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationStatusChange {
    stream_group: String,
    location: String,
    status: String,
}

impl AdminRequest for LocationStatusChange {
    const EXPECTED: &str = r#"{"stream_group": ID_OR_ARN, "location": NAME, "status": "ERROR"|"ACTIVE"}"#;
}

async fn set_location_status(State(emu): State<Arc<Emulator>>, Admin(change): Admin<LocationStatusChange>) -> Response {
    let status = LocationStatus::parse(&change.status);
    let Some(status @ (LocationStatus::Active | LocationStatus::Error)) = status else {
        return bad_request(format!("status: {:?} must be ACTIVE or ERROR", change.status));
    };
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(group) = find_group(&mut world, &change.stream_group) else {
        return bad_request(format!("stream_group: {} does not exist", change.stream_group));
    };
    let Some(location) = group.locations.iter_mut().find(|l| l.name == change.location) else {
        return bad_request(format!("location: {} is not a location of {}", change.location, group.id));
    };
    location.status = status;
    location.transition_at = None;
    group.refresh_status(now);
    let reply = json!({ "stream_group": group.id, "status": group.status.as_str() });
    world.advance();
    axum::Json(reply).into_response()
}

fn find_group<'w>(world: &'w mut EmulatedWorld, identifier: &str) -> Option<&'w mut crate::state::StreamGroup> {
    let id = resource_id(identifier);
    world.regions.values_mut().find_map(|r| r.groups.get_mut(id))
}

fn find_session<'w>(world: &'w mut EmulatedWorld, identifier: &str) -> Option<&'w mut crate::state::StreamSession> {
    let id = resource_id(identifier);
    world.regions.values_mut().find_map(|r| r.sessions.get_mut(id))
}

fn find_application<'w>(world: &'w mut EmulatedWorld, identifier: &str) -> Option<&'w mut crate::state::Application> {
    let id = resource_id(identifier);
    world.regions.values_mut().find_map(|r| r.applications.get_mut(id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupStatusChange {
    stream_group: String,
    status: String,
    reason: Option<String>,
}

impl AdminRequest for GroupStatusChange {
    const EXPECTED: &str =
        r#"{"stream_group": ID_OR_ARN, "status": "ERROR"|"ACTIVE", "reason": "internalError"|"noAvailableInstances"}"#;
}

async fn set_group_status(State(emu): State<Arc<Emulator>>, Admin(change): Admin<GroupStatusChange>) -> Response {
    let Some(status @ (StreamGroupStatus::Active | StreamGroupStatus::Error)) =
        StreamGroupStatus::parse(&change.status)
    else {
        return bad_request(format!(
            "status: {:?} must be ACTIVE or ERROR (other statuses follow from the lifecycle)",
            change.status
        ));
    };
    if status == StreamGroupStatus::Error && change.reason.is_none() {
        return bad_request("reason: a group in ERROR needs internalError or noAvailableInstances");
    }
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(group) = find_group(&mut world, &change.stream_group) else {
        return bad_request(format!("stream_group: {} does not exist", change.stream_group));
    };
    group.status = status;
    group.status_reason = change.reason;
    group.last_updated_at = now;
    group.refresh_status(now);
    let reply = json!({ "stream_group": group.id, "status": group.status.as_str() });
    world.advance();
    axum::Json(reply).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeRequest {
    status: String,
    reason: Option<String>,
    #[serde(default = "one")]
    count: usize,
}

impl AdminRequest for OutcomeRequest {
    const EXPECTED: &str = r#"{"status": "ERROR"|"ACTIVE", "reason": "internalError", "count": 1}"#;
}

fn one() -> usize {
    1
}

async fn queue_activation_outcome(State(emu): State<Arc<Emulator>>, Admin(request): Admin<OutcomeRequest>) -> Response {
    let outcome = match request.status.as_str() {
        "ACTIVE" => ActivationOutcome::Active,
        "ERROR" => ActivationOutcome::Error(request.reason.unwrap_or_else(|| "internalError".into())),
        other => return bad_request(format!("status: {other:?} must be ACTIVE or ERROR")),
    };
    if request.count > 1000 {
        return bad_request(format!("count: {} is more than 1000 outcomes", request.count));
    }
    let mut world = lock(&emu.world);
    for _ in 0..request.count {
        world.next_activation_outcomes.push_back(outcome.clone());
    }
    axum::Json(json!({ "queued": world.next_activation_outcomes.len() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionStatusChange {
    session: String,
    status: String,
}

impl AdminRequest for SessionStatusChange {
    const EXPECTED: &str = r#"{"session": ARN_OR_ID, "status": "CONNECTED"}"#;
}

/// Plays the client's part: connect, disconnect, reconnect.
async fn set_session_status(State(emu): State<Arc<Emulator>>, Admin(change): Admin<SessionStatusChange>) -> Response {
    let Some(status @ (SessionStatus::Connected | SessionStatus::PendingClientReconnection)) =
        SessionStatus::parse(&change.status)
    else {
        return bad_request(format!(
            "status: {:?} must be CONNECTED or PENDING_CLIENT_RECONNECTION (a client connects or drops; \
             RECONNECTING follows CreateStreamSessionConnection, the rest follow from the lifecycle)",
            change.status
        ));
    };
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(session) = find_session(&mut world, &change.session) else {
        return bad_request(format!("session: {} does not exist", change.session));
    };
    // A client connects to a session waiting for it (ACTIVE) and drops from one it streams.
    let allowed = match status {
        SessionStatus::Connected => session.status == SessionStatus::Active,
        _ => session.status == SessionStatus::Connected,
    };
    if !allowed {
        return bad_request(format!(
            "session: {} is {}; a client connects to an ACTIVE session and disconnects from a CONNECTED one",
            session.id, session.status
        ));
    }
    session.set_status(status, None, now);
    axum::Json(json!({ "session": session.arn, "status": session.status.as_str() })).into_response()
}

async fn get_faults(State(emu): State<Arc<Emulator>>) -> Response {
    axum::Json(json!(*lock(&emu.faults))).into_response()
}

/// The operation a fault is for, beside the rule's own fields. Read by hand, not with
/// `#[serde(flatten)]`, which cannot refuse unknown fields: a misspelt field is refused by its
/// name.
#[derive(Deserialize)]
#[serde(try_from = "serde_json::Map<String, Value>")]
struct FaultRequest {
    operation: String,
    rule: FaultRule,
}

impl TryFrom<serde_json::Map<String, Value>> for FaultRequest {
    type Error = String;

    fn try_from(mut body: serde_json::Map<String, Value>) -> Result<Self, String> {
        let operation = body.remove("operation");
        // The rule first: a misspelt field is the likelier mistake, and is named.
        let rule = serde_json::from_value(Value::Object(body)).map_err(|e| e.to_string())?;
        match operation {
            Some(Value::String(operation)) => Ok(Self { operation, rule }),
            Some(other) => Err(format!("operation: {other} is not a string")),
            None => Err("missing field `operation`".into()),
        }
    }
}

impl AdminRequest for FaultRequest {
    const EXPECTED: &str =
        r#"{"operation": NAME|"*", "error_rate": 0.0-1.0, "error": "InternalServerException", "latency_ms": N}"#;
}

async fn set_fault(State(emu): State<Arc<Emulator>>, Admin(request): Admin<FaultRequest>) -> Response {
    if request.operation != "*" && emu.model.operation(&request.operation).is_none() {
        return bad_request(format!("operation: {:?} is not an operation of the model (or \"*\")", request.operation));
    }
    if !(0.0..=1.0).contains(&request.rule.error_rate) {
        return bad_request(format!("error_rate: {} must be between 0 and 1", request.rule.error_rate));
    }
    if ServiceError::by_name(&request.rule.error, "").is_none() {
        return bad_request(format!("error: {:?} is not an error type of the service", request.rule.error));
    }
    lock(&emu.faults).insert(request.operation, request.rule);
    get_faults(State(emu)).await
}

async fn clear_faults(State(emu): State<Arc<Emulator>>) -> Response {
    lock(&emu.faults).clear();
    get_faults(State(emu)).await
}

async fn get_counters(State(emu): State<Arc<Emulator>>) -> Response {
    let counters = lock(&emu.counters);
    axum::Json(json!({ "operations": counters.operations, "mutating_calls": counters.mutating_calls() }))
        .into_response()
}

async fn reset_counters(State(emu): State<Arc<Emulator>>) -> Response {
    *lock(&emu.counters) = Counters::default();
    get_counters(State(emu)).await
}

async fn get_rate_limits(State(emu): State<Arc<Emulator>>) -> Response {
    axum::Json(json!({ "scale": lock(&emu.limits).scale() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitChange {
    scale: f64,
}

impl AdminRequest for RateLimitChange {
    const EXPECTED: &str = r#"{"scale": F} (1 = documented limits, 0 = off)"#;
}

async fn set_rate_limits(State(emu): State<Arc<Emulator>>, Admin(change): Admin<RateLimitChange>) -> Response {
    if change.scale < 0.0 || !change.scale.is_finite() {
        return bad_request(format!("scale: {} must be a finite number >= 0", change.scale));
    }
    lock(&emu.limits).set_scale(change.scale);
    get_rate_limits(State(emu)).await
}

async fn get_crash(State(emu): State<Arc<Emulator>>) -> Response {
    axum::Json(json!(*lock(&emu.crash))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrashRequest {
    after_mutations: u64,
}

impl AdminRequest for CrashRequest {
    const EXPECTED: &str = r#"{"after_mutations": K} (K >= 1)"#;
}

async fn set_crash(State(emu): State<Arc<Emulator>>, Admin(request): Admin<CrashRequest>) -> Response {
    if request.after_mutations == 0 {
        return bad_request("after_mutations: must be 1 or more");
    }
    *lock(&emu.crash) = Crash { after_mutations: Some(request.after_mutations), mutations_seen: 0, crashed: false };
    get_crash(State(emu)).await
}

async fn clear_crash(State(emu): State<Arc<Emulator>>) -> Response {
    *lock(&emu.crash) = Crash::default();
    get_crash(State(emu)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionInput {
    session: String,
}

impl AdminRequest for SessionInput {
    const EXPECTED: &str = r#"{"session": ARN_OR_ID}"#;
}

/// A player's input on a CONNECTED session: it resets the 60-minute idle timeout (seed 001).
async fn session_input(State(emu): State<Arc<Emulator>>, Admin(input): Admin<SessionInput>) -> Response {
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(session) = find_session(&mut world, &input.session) else {
        return bad_request(format!("session: {} does not exist", input.session));
    };
    if session.status != SessionStatus::Connected {
        return bad_request(format!(
            "session: {} is {}; only a CONNECTED session receives input",
            session.id, session.status
        ));
    }
    session.last_input_at = Some(now);
    axum::Json(json!({ "session": session.arn, "last_input_at": now.to_rfc3339() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationStatusChange {
    application: String,
    status: String,
    reason: Option<String>,
}

impl AdminRequest for ApplicationStatusChange {
    const EXPECTED: &str = r#"{"application": ID_OR_ARN, "status": "ERROR"|"READY", "reason": "internalError"|"accessDenied"|"sourceModified"}"#;
}

/// An application going to ERROR (e.g. `sourceModified`: its S3 source changed) or back to READY.
async fn set_application_status(
    State(emu): State<Arc<Emulator>>,
    Admin(change): Admin<ApplicationStatusChange>,
) -> Response {
    let Some(status @ (ApplicationStatus::Ready | ApplicationStatus::Error)) = ApplicationStatus::parse(&change.status)
    else {
        return bad_request(format!("status: {:?} must be READY or ERROR", change.status));
    };
    let reason = match (status, change.reason.as_deref()) {
        (ApplicationStatus::Error, Some(reason)) => match ApplicationStatusReason::parse(reason) {
            Some(reason) => Some(reason),
            None => {
                return bad_request(format!("reason: {reason:?} is not internalError, accessDenied or sourceModified"));
            }
        },
        (ApplicationStatus::Error, None) => return bad_request("reason: an application in ERROR needs a reason"),
        (_, Some(_)) => return bad_request("reason: only an application in ERROR has a reason"),
        (_, None) => None,
    };
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(app) = find_application(&mut world, &change.application) else {
        return bad_request(format!("application: {} does not exist", change.application));
    };
    app.status = status;
    app.status_reason = reason;
    app.processing_at = None;
    app.ready_at = None;
    app.last_updated_at = now;
    axum::Json(json!({ "application": app.arn, "status": app.status.as_str() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicationChange {
    application: String,
    location: String,
}

impl AdminRequest for ReplicationChange {
    const EXPECTED: &str = r#"{"application": ID_OR_ARN, "location": NAME}"#;
}

/// Replication of an application to a location finishing now.
async fn finish_replication(State(emu): State<Arc<Emulator>>, Admin(change): Admin<ReplicationChange>) -> Response {
    let mut world = lock(&emu.world);
    world.advance();
    let now = world.now();
    let Some(app) = find_application(&mut world, &change.application) else {
        return bad_request(format!("application: {} does not exist", change.application));
    };
    let id = app.id.clone();
    let Some(done) = app.replication.get_mut(&change.location) else {
        return bad_request(format!(
            "location: {} is not a location {} replicates to (it replicates to the locations of the groups it is associated with)",
            change.location, app.id
        ));
    };
    *done = Some(done.map_or(now, |at| at.min(now)));
    world.advance();
    axum::Json(json!({ "application": id, "location": change.location, "status": "COMPLETED" })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamUrlUse {
    stream_url: String,
}

impl AdminRequest for StreamUrlUse {
    const EXPECTED: &str = r#"{"stream_url": ID_OR_ARN}"#;
}

/// A player opening a stream URL: a session starts with the URL's settings.
async fn use_stream_url(State(emu): State<Arc<Emulator>>, Admin(request): Admin<StreamUrlUse>) -> Response {
    let mut world = lock(&emu.world);
    match operations::use_stream_url(&mut world, resource_id(&request.stream_url)) {
        Ok(session) => axum::Json(json!({ "stream_session": session })).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn get_behaviour(State(emu): State<Arc<Emulator>>) -> Response {
    let world = lock(&emu.world);
    axum::Json(json!({ "behaviour": world.behaviour, "timings": world.timings.in_seconds() })).into_response()
}
