//! The clock port: the wall clock in production; for local runs against the GameLift Streams
//! emulator, the emulator's own clock (`GET .../_emulator/clock` answers `{"now": EPOCH}`), so
//! that moving the emulator's clock moves the watchdog's too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use watchdog_core::ports::Clock;

pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    async fn now(&self) -> Result<DateTime<Utc>, String> {
        Ok(Utc::now())
    }
}

pub struct EmulatorClockClient {
    url: String,
    http: reqwest::Client,
}

impl EmulatorClockClient {
    pub fn new(url: &str) -> Self {
        Self { url: url.to_owned(), http: reqwest::Client::new() }
    }
}

#[async_trait]
impl Clock for EmulatorClockClient {
    async fn now(&self) -> Result<DateTime<Utc>, String> {
        let url = &self.url;
        let response = self.http.get(url).send().await.map_err(|e| format!("cannot read the clock at {url}: {e}"))?;
        let body: serde_json::Value =
            response.json().await.map_err(|e| format!("cannot read the clock at {url}: {e}"))?;
        let seconds = body["now"].as_f64().ok_or_else(|| format!("the clock at {url} sent no \"now\": {body}"))?;
        let millis = (seconds * 1000.0).round();
        if !millis.is_finite() || millis.abs() > 1e15 {
            return Err(format!("the clock at {url} sent {seconds}"));
        }
        DateTime::from_timestamp_millis(millis as i64).ok_or_else(|| format!("the clock at {url} sent {seconds}"))
    }
}
