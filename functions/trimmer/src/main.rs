use gls_watchdog_trimmer::{Config, Trimmer, handle};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=json.
    lambda_runtime::tracing::init_default_subscriber();
    match Config::from_env() {
        Ok(config) => {
            let trimmer = Trimmer::from_env(config).await;
            let trimmer = &trimmer;
            run(service_fn(move |event| handle(trimmer, event))).await
        }
        Err(error) => {
            // Found at start-up: every invocation fails with it at once, before any call.
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
