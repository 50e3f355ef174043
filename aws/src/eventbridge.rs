//! EventBridge through aws-sdk-eventbridge: the event bus port.

use crate::call_stats::CallStats;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use watchdog_core::ports::{ApiError, BusEvent, EVENT_SOURCE, EventBus};

pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
}

impl EventBridge {
    pub fn new(sdk: &aws_types::SdkConfig, stats: &CallStats) -> Self {
        let config = aws_sdk_eventbridge::config::Builder::from(sdk).interceptor(stats.clone()).build();
        Self { client: aws_sdk_eventbridge::Client::from_conf(config) }
    }
}

#[async_trait]
impl EventBus for EventBridge {
    async fn put_events(&self, bus: &str, events: &[BusEvent]) -> Result<Vec<Result<(), String>>, ApiError> {
        let entries: Vec<PutEventsRequestEntry> = events
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(EVENT_SOURCE)
                    .detail_type(&event.detail_type)
                    .detail(event.detail.to_string())
                    .set_resources(Some(event.resources.clone()))
                    .build()
            })
            .collect();
        let output =
            self.client.put_events().set_entries(Some(entries)).send().await.map_err(|e| classify("PutEvents", &e))?;
        // One result per entry, in order; a failed one carries an error code instead of an id.
        Ok(output
            .entries()
            .iter()
            .map(|entry| match entry.error_code() {
                None => Ok(()),
                Some(code) => Err(format!("{code}: {}", entry.error_message().unwrap_or_default())),
            })
            .collect())
    }
}
