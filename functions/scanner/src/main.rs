use gls_watchdog_scanner::{Config, Scanner, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    watchdog_aws::lambda::serve(Config::from_env(), Scanner::connect, handle).await
}
