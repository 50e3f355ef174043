//! Time is injected everywhere a decision depends on it, so tests control it.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move, for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// "Now" for a run: the wall clock, or, for local runs against the GameLift Streams
/// emulator, the emulator's own clock (`GET .../_emulator/clock` answers `{"now": EPOCH}`),
/// so that moving the emulator's clock moves the watchdog's too.
pub async fn now_from(clock_url: Option<&str>) -> Result<DateTime<Utc>, String> {
    let Some(url) = clock_url else {
        return Ok(Utc::now());
    };
    let body: serde_json::Value = reqwest::get(url)
        .await
        .map_err(|e| format!("cannot read the clock at {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("cannot read the clock at {url}: {e}"))?;
    let seconds = body["now"].as_f64().ok_or_else(|| format!("the clock at {url} sent no \"now\": {body}"))?;
    DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
        .ok_or_else(|| format!("the clock at {url} sent {seconds}"))
}
