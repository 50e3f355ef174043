use gls_watchdog_recycler::{Config, Recycler, handle};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=json.
    lambda_runtime::tracing::init_default_subscriber();
    match Config::from_env() {
        Ok(config) => {
            let recycler = Recycler::from_env(config).await;
            let recycler = &recycler;
            run(service_fn(move |event| handle(recycler, event))).await
        }
        Err(error) => watchdog_shared::lambda::refuse_invocations(error).await,
    }
}
