use gls_watchdog_trimmer::{Config, Trimmer, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    watchdog_aws::lambda::serve(Config::from_env(), Trimmer::connect, handle).await
}
