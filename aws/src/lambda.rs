//! What every function's `main` shares: serving the handler on the Lambda runtime, failing
//! every invocation with `InvalidConfiguration` when the configuration is bad, and the error
//! types Lambda reports.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use watchdog_core::env_config::ConfigError;
use watchdog_core::event_fields::{EventError, RunRequest};
use watchdog_core::reconcile::{Deployable, Deployed, Reconciler, Report, RunError};

/// A function's whole `main`: logging (honouring AWS_LAMBDA_LOG_LEVEL and
/// AWS_LAMBDA_LOG_FORMAT=json), then `handler` served with the function `connect` builds from
/// its configuration, or, when the configuration is invalid, every invocation refused at once
/// with `InvalidConfiguration` naming the problem, before any API call (the runtime API has no
/// public way to fail the init phase itself).
pub async fn serve<C, S, Connect, Connected, R, F, Fut>(
    config: Result<C, ConfigError>,
    connect: Connect,
    handler: F,
) -> Result<(), Error>
where
    Connect: FnOnce(C) -> Connected,
    Connected: Future<Output = S>,
    S: Send + Sync + 'static,
    R: serde::Serialize,
    F: Fn(Arc<S>, Value) -> Fut,
    Fut: Future<Output = Result<R, Diagnostic>>,
{
    lambda_runtime::tracing::init_default_subscriber();
    match config {
        Ok(config) => {
            let function = Arc::new(connect(config).await);
            let handler = &handler;
            run(service_fn(move |event: LambdaEvent<Value>| handler(function.clone(), event.payload))).await
        }
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration; nothing will run");
            let message = error.to_string();
            let message = &message;
            run(service_fn(move |_: LambdaEvent<Value>| async move {
                Err::<(), _>(Diagnostic { error_type: "InvalidConfiguration".into(), error_message: message.clone() })
            }))
            .await
        }
    }
}

/// The Lambda error for a failed run.
pub fn diagnostic(error: RunError) -> Diagnostic {
    Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
}

/// The remediation function `config` describes, on AWS (or whatever the standard endpoint
/// variables point at).
pub async fn deploy<C: Deployable>(config: C) -> Deployed<C::Reconciler> {
    let (reconciler, settings, connection) = config.split();
    Deployed { reconciler, settings, ports: crate::connect(&connection).await }
}

/// A remediation function's whole `main`: the function its configuration describes, served on
/// the runtime; each event is parsed by `parse` (errors name the field) and run. A bad
/// configuration refuses every invocation, as `serve`.
pub async fn serve_reconciler<C: Deployable>(
    config: Result<C, ConfigError>,
    parse: fn(Value) -> Result<RunRequest, EventError>,
) -> Result<(), Error>
where
    C::Reconciler: 'static,
{
    serve(config, deploy, move |deployed, event| reconcile(deployed, parse(event))).await
}

/// A remediation function's handler: the parsed request (or the error naming its field), run.
pub async fn reconcile<R: Reconciler>(
    deployed: Arc<Deployed<R>>,
    request: Result<RunRequest, EventError>,
) -> Result<Report<R::Kind>, Diagnostic> {
    let request = request.map_err(|e| diagnostic(e.into()))?;
    deployed.run(&request).await.map_err(diagnostic)
}
