//! Test harness: an emulator serving real HTTP on a free loopback port, and unmodified AWS
//! SDK clients pointed at it. Nothing here replaces the wire: every call goes over TCP.

pub mod asl;
pub mod bench;
pub mod config_reference;
pub mod lambda;
pub mod organizations;
pub mod stage;
pub mod template_signals;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_gameliftstreams::config::Credentials;
use aws_sdk_gameliftstreams::error::SdkError;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use gls_emulator::{Config, Fleet, Timings};
use serde_json::Value;
use std::fmt::Debug;
use std::time::Duration;

pub use gls_emulator;

pub const ACCOUNT: &str = "111122223333";

/// A CreateStreamGroup request for a group of `class` described as `description`, to send as it
/// is or with more set (locations, an application, a token).
pub fn new_group(
    client: &aws_sdk_gameliftstreams::Client,
    description: impl Into<String>,
    class: aws_sdk_gameliftstreams::types::StreamClass,
) -> aws_sdk_gameliftstreams::operation::create_stream_group::builders::CreateStreamGroupFluentBuilder {
    client.create_stream_group().description(description).stream_class(class)
}

/// The service's error for a call it must refuse; any other answer (a success, a transport
/// failure) fails the test.
pub fn refused<T: Debug, E: Debug, R: Debug>(result: Result<T, SdkError<E, R>>) -> E {
    match result {
        Err(SdkError::ServiceError(refusal)) => refusal.into_err(),
        other => panic!("the service should refuse the call; it answered {other:?}"),
    }
}

/// A location with `always_on` capacity, as CreateStreamGroup, AddStreamGroupLocations and
/// UpdateStreamGroup take it.
pub fn always_on_location(name: &str, always_on: i32) -> aws_sdk_gameliftstreams::types::LocationConfiguration {
    let location = aws_sdk_gameliftstreams::types::LocationConfiguration::builder().location_name(name);
    location.always_on_capacity(always_on).build().expect("a location name is set")
}

/// The findings of `kind` in a report's or a view's `findings` array.
pub fn findings_of<'a>(findings: &'a Value, kind: &str) -> Vec<&'a Value> {
    findings.as_array().expect("a findings array").iter().filter(|f| f["kind"] == kind).collect()
}

/// Every item of a paginator's pages (`.into_paginator().items().send()`); a page the service
/// refuses fails the test.
pub async fn all_items<T, E: Debug>(
    items: aws_smithy_async::future::pagination_stream::PaginationStream<Result<T, E>>,
) -> Vec<T> {
    items.collect::<Result<Vec<T>, E>>().await.expect("every page is read")
}

/// A player's StartStreamSession for `application` on `group` (WebRTC, a placeholder offer),
/// to send as it is or with more set (a user id, a timeout).
pub fn player_request(
    client: &aws_sdk_gameliftstreams::Client,
    group: &str,
    application: &str,
) -> aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionFluentBuilder {
    client
        .start_stream_session()
        .identifier(group)
        .application_identifier(application)
        .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
        .signal_request("offer")
}

/// An emulator on its own port, stopped when dropped.
pub struct TestEmulator {
    pub url: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The fleet file `tests/fleets/{name}`, with every `${key}` in it replaced by its value. A
/// placeholder left unfilled, or a value no placeholder takes, fails the test naming both.
pub fn fleet_file(name: &str, values: &[(&str, &str)]) -> String {
    let path = lambda::workspace_root().join("tests/fleets").join(name);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (key, value) in values {
        let placeholder = format!("${{{key}}}");
        assert!(text.contains(&placeholder), "{name} has no {placeholder} to fill");
        text = text.replace(&placeholder, value);
    }
    if let Some(at) = text.find("${") {
        let unfilled: String = text[at..].chars().take_while(|c| *c != '}').collect();
        panic!("{name}: {unfilled}}} is not filled");
    }
    text
}

/// [`quick_config`] on a clock that moves only when a test moves it.
pub fn frozen_config() -> Config {
    Config { frozen_clock: true, ..quick_config() }
}

/// Quick service timings for tests: groups activate in 1 s, locations change in 1 s.
pub fn quick_config() -> Config {
    Config {
        timings: Timings {
            group_activation: chrono::Duration::seconds(1),
            location_change: chrono::Duration::seconds(1),
            deletion: chrono::Duration::seconds(1),
            session_start: chrono::Duration::seconds(1),
            session_stop: chrono::Duration::seconds(1),
            application_ready: chrono::Duration::seconds(1),
            ..Timings::default()
        },
        rate_limit_scale: 0.0,
        ..Config::default()
    }
}

impl TestEmulator {
    pub async fn start(config: Config, fleet_toml: Option<&str>) -> Self {
        let fleet = fleet_toml.map(|text| Fleet::parse(text).expect("test fleet parses"));
        let emulator = gls_emulator::build(&config, fleet.as_ref()).expect("test fleet loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let server = tokio::spawn(async move {
            gls_emulator::serve(listener, emulator).await.expect("emulator serves");
        });
        Self { url, http: reqwest::Client::new(), server }
    }

    /// The real GameLift Streams client, signed for `region`, with the SDK's default retries.
    pub async fn client(&self, region: &str) -> aws_sdk_gameliftstreams::Client {
        self.client_with(region, None, true).await
    }

    /// A client that sleeps in real time between retries, so its backoff outlasts a throttle.
    pub async fn client_with_real_backoff(&self, region: &str) -> aws_sdk_gameliftstreams::Client {
        self.client_with(region, None, false).await
    }

    /// A client that does not retry, so a test sees the first error the emulator sends.
    pub async fn client_without_retries(&self, region: &str) -> aws_sdk_gameliftstreams::Client {
        self.client_with(region, Some(1), true).await
    }

    /// A client signed with `account` as its access key id: the emulator serves that account
    /// (LocalStack's convention), so one emulator plays several accounts.
    pub async fn client_of_account(&self, account: &str, region: &str) -> aws_sdk_gameliftstreams::Client {
        self.client_signed_as(account, region, Some(1), true).await
    }

    async fn client_with(
        &self,
        region: &str,
        attempts: Option<u32>,
        fast_sleep: bool,
    ) -> aws_sdk_gameliftstreams::Client {
        self.client_signed_as("AKIDTEST", region, attempts, fast_sleep).await
    }

    async fn client_signed_as(
        &self,
        access_key_id: &str,
        region: &str,
        attempts: Option<u32>,
        fast_sleep: bool,
    ) -> aws_sdk_gameliftstreams::Client {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(access_key_id, "secret", None, None, "tests"))
            .endpoint_url(&self.url)
            .load()
            .await;
        let mut config = aws_sdk_gameliftstreams::config::Builder::from(&shared);
        if fast_sleep {
            // Waiters poll every 30 s or more; tests sleep a thousandth of that.
            config = config.sleep_impl(SharedAsyncSleep::new(ScaledSleep(1000)));
        }
        if let Some(attempts) = attempts {
            config = config.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(attempts));
        }
        aws_sdk_gameliftstreams::Client::from_conf(config.build())
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.expect("admin GET");
        response.json().await.expect("admin JSON")
    }

    /// POSTs to the admin API and returns (status, body).
    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.expect("admin POST");
        let status = response.status().as_u16();
        (status, response.json().await.expect("admin JSON"))
    }

    /// POSTs to the admin API, which must accept it (the test sets the world up).
    pub async fn admin_ok(&self, path: &str, body: Value) -> Value {
        let (status, reply) = self.admin_post(path, body).await;
        assert_eq!(status, 200, "POST {path}: {reply}");
        reply
    }

    pub async fn advance_days(&self, days: f64) {
        self.admin_ok("/_emulator/clock", serde_json::json!({ "advance_seconds": days * 86_400.0 })).await;
    }

    pub async fn advance_seconds(&self, seconds: f64) {
        self.admin_ok("/_emulator/clock", serde_json::json!({ "advance_seconds": seconds })).await;
    }

    /// Calls of `operation` the emulator received so far.
    pub async fn calls(&self, operation: &str) -> u64 {
        self.admin_get("/_emulator/counters").await["operations"][operation]["calls"].as_u64().unwrap_or(0)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Loads `fleet_toml` into `account`'s world: one emulator plays several accounts.
    pub async fn load_fleet_of(&self, account: &str, fleet_toml: String) {
        let url = format!("{}/_emulator/fleet?account={account}", self.url);
        let loaded = self.http.post(url).body(fleet_toml).send().await.expect("the admin API");
        let status = loaded.status().as_u16();
        assert_eq!(status, 200, "{account}'s fleet: {}", loaded.text().await.unwrap_or_default());
    }
}

/// Sleeps `1 / factor` of what the SDK asks for.
#[derive(Debug, Clone, Copy)]
pub struct ScaledSleep(pub u32);

impl AsyncSleep for ScaledSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration / self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::fleet_file;

    #[test]
    fn a_fleet_file_is_filled_in_where_it_says() {
        let fleet = fleet_file("emulator-accounts.toml", &[("description", "STAGING")]);
        assert!(fleet.contains("id = \"sg-STAGING\"") && !fleet.contains("${"), "{fleet}");
    }

    #[test]
    #[should_panic(expected = "trimmer-lambda.toml: ${sessions} is not filled")]
    fn a_placeholder_left_unfilled_fails_naming_it() {
        fleet_file("trimmer-lambda.toml", &[("extra_tags", "")]);
    }

    #[test]
    #[should_panic(expected = "protect-tag.toml has no ${sessions} to fill")]
    fn a_value_no_placeholder_takes_fails_naming_it() {
        fleet_file("protect-tag.toml", &[("sessions", "")]);
    }
}
