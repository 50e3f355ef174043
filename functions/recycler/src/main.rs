use gls_watchdog_recycler::{Config, Recycler, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    watchdog_aws::lambda::serve(Config::from_env(), Recycler::connect, handle).await
}
