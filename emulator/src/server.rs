//! HTTP front door: the service API on every path the model defines (the admin API under
//! `/_emulator/` is in `admin`).

use crate::accounts;
use crate::error::{ErrorShape, ServiceError};
use crate::instance::{Emulator, lock};
use crate::operations;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use std::sync::Arc;

/// The admin API under `/_emulator/`, and the service API on every other path.
pub fn router(emulator: Arc<Emulator>) -> Router {
    crate::admin::routes().fallback(api).with_state(emulator)
}

/// The region a request is for: the credential scope of its SigV4 signature
/// (`Credential=AKID/20261121/us-west-2/gameliftstreams/aws4_request`).
fn request_region(headers: &HeaderMap, default: &str) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(2))
        .filter(|region| !region.is_empty())
        .unwrap_or(default)
        .to_owned()
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Every answer carries `x-amzn-RequestId`, as the service's do: the SDKs read it into each
/// output's and error's `request_id()`, so a log line can be matched to a request.
async fn api(emu: State<Arc<Emulator>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut response = answer(emu, method, uri, headers, body).await;
    if let Ok(id) = axum::http::HeaderValue::from_str(&request_id()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// What a caller meets at a Region without an endpoint (`gameliftstreams.<region>.api.aws`
/// does not resolve there): no answer. The connection is closed before a byte of the response
/// is sent, so an SDK reports a dispatch (I/O) failure, as it does for an unreachable host.
fn unreachable_endpoint() -> Response {
    let failed = futures::stream::once(async { Err::<Bytes, _>(std::io::Error::other("no endpoint in this region")) });
    Response::new(axum::body::Body::from_stream(failed))
}

/// Rate limits are per account and Region (developer guide): the default account's buckets
/// are named by Region, another account's by `account/region`.
fn limit_scope(account: &str, default_account: &str, region: &str) -> String {
    if account == default_account { region.to_owned() } else { format!("{account}/{region}") }
}

/// A fresh request id in the service's form (a version-4 UUID).
fn request_id() -> String {
    let bits: u128 = rand::random();
    let hex = format!("{bits:032x}");
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

async fn answer(
    State(emu): State<Arc<Emulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let Some(routed) = emu.model.route(method.as_str(), path) else {
        return ServiceError::unknown_operation(method.as_str(), path).into_response();
    };
    let op = routed.operation;
    let (default_account, default_region) = {
        let world = lock(&emu.world);
        (world.account_id.clone(), world.default_region.clone())
    };
    let region = request_region(&headers, &default_region);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let account = accounts::request_account(authorization, &default_account);
    let world = emu.world_of(&account);
    let denied = {
        let world = lock(&world);
        if !world.serves(&region) {
            return unreachable_endpoint();
        }
        world.access_denied
    };
    if denied {
        // The model lists AccessDeniedException on every operation.
        let message = format!(
            "User: arn:aws:sts::{account}:assumed-role/gls-watchdog-read is not authorized to perform: gameliftstreams:{} (access denied for this account by the emulator's admin API)",
            op.name
        );
        return ServiceError::new(ErrorShape::AccessDeniedException, message).into_response();
    }
    lock(&emu.counters).operation(&op.name).calls += 1;

    let fault = {
        let faults = lock(&emu.faults);
        faults.get(&op.name).or_else(|| faults.get("*")).cloned()
    };
    if let Some(fault) = &fault
        && fault.latency_ms > 0
    {
        tokio::time::sleep(std::time::Duration::from_millis(fault.latency_ms)).await;
    }
    let injected = fault.filter(|f| lock(&emu.fault_rng).random::<f64>() < f.error_rate).map(|f| {
        let message = format!("Injected fault for {}", op.name);
        // The admin API accepts only the model's error names; a rule without one fails as a 500.
        ServiceError::by_name(&f.error, message.clone())
            .unwrap_or_else(|| ServiceError::new(ErrorShape::InternalServerException, message))
    });

    let crashed = || {
        ServiceError::new(
            ErrorShape::InternalServerException,
            "Emulated crash: the caller died after an earlier call (clear with DELETE /_emulator/crash)",
        )
    };
    let outcome = if lock(&emu.crash).crashed {
        Err(crashed())
    } else if let Some(error) = injected {
        lock(&emu.counters).operation(&op.name).injected_faults += 1;
        Err(error)
    } else if !lock(&emu.limits).try_acquire(&limit_scope(&account, &default_account, &region), &op.name) {
        lock(&emu.counters).operation(&op.name).throttled += 1;
        Err(ServiceError::new(ErrorShape::ThrottlingException, "Rate exceeded"))
    } else {
        let query = query_pairs(&uri);
        emu.model
            .input(&routed, &query, &body)
            .and_then(|input| operations::dispatch(&mut lock(&world), &region, op, input))
    };
    // The k-th mutation takes effect; the caller never hears of it.
    let outcome = match outcome {
        Ok(_) if operations::is_mutating(&op.name) => {
            let mut crash = lock(&emu.crash);
            crash.mutations_seen += 1;
            if crash.after_mutations == Some(crash.mutations_seen) {
                crash.crashed = true;
                Err(crashed())
            } else {
                outcome
            }
        }
        other => other,
    };

    let mut counters = lock(&emu.counters);
    let counter = counters.operation(&op.name);
    match outcome {
        Ok(reply) => {
            counter.succeeded += 1;
            let status = StatusCode::from_u16(op.success_code).unwrap_or(StatusCode::OK);
            match reply {
                Some(body) if status != StatusCode::NO_CONTENT => (status, axum::Json(body)).into_response(),
                _ => status.into_response(),
            }
        }
        Err(error) => {
            *counter.errors.entry(error.kind().to_owned()).or_default() += 1;
            error.into_response()
        }
    }
}
