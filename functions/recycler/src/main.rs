use gls_watchdog_recycler::{Config, event};
use watchdog_core::env_config::FromEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    watchdog_aws::lambda::serve_reconciler(Config::from_env(), event::parse).await
}
