use gls_watchdog_scanner::{Config, Scanner, handle};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=json.
    lambda_runtime::tracing::init_default_subscriber();
    match Config::from_env() {
        Ok(config) => {
            let scanner = Scanner::from_env(config).await;
            let scanner = &scanner;
            run(service_fn(move |event| handle(scanner, event))).await
        }
        Err(error) => {
            // Found at start-up: every invocation fails with it at once, before any scan
            // (the runtime API has no public way to fail the init phase itself).
            tracing::error!(error = %error, "invalid configuration; no scan will run");
            let message = error.to_string();
            let message = &message;
            run(service_fn(move |_: LambdaEvent<Value>| async move {
                Err::<(), _>(Diagnostic { error_type: "InvalidConfiguration".into(), error_message: message.clone() })
            }))
            .await
        }
    }
}
