//! What every function's `main` shares.

use crate::env_config::ConfigError;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;

/// Serves a function whose configuration is invalid: every invocation fails at once with
/// `InvalidConfiguration` naming the problem, before any API call (the runtime API has no
/// public way to fail the init phase itself).
pub async fn refuse_invocations(error: ConfigError) -> Result<(), Error> {
    tracing::error!(error = %error, "invalid configuration; nothing will run");
    let message = error.to_string();
    let message = &message;
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        Err::<(), _>(Diagnostic { error_type: "InvalidConfiguration".into(), error_message: message.clone() })
    }))
    .await
}
