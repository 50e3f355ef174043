use gls_watchdog_trimmer::{Config, Trimmer, handle};

use watchdog_core::env_config::FromEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    watchdog_aws::lambda::serve(Config::from_env(), Trimmer::deploy, handle).await
}
