//! SNS through aws-sdk-sns: the notifier port.

use crate::call_stats::CallStats;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use watchdog_core::ports::{ApiError, ErrorKind, Message, Notifier};

pub struct Sns {
    client: aws_sdk_sns::Client,
}

impl Sns {
    pub fn new(sdk: &aws_types::SdkConfig, stats: &CallStats) -> Self {
        let client =
            aws_sdk_sns::Client::from_conf(aws_sdk_sns::config::Builder::from(sdk).interceptor(stats.clone()).build());
        Self { client }
    }
}

/// A `String` message attribute, the kind subscription filter policies match on.
fn string_attribute(value: &str, operation: &'static str) -> Result<MessageAttributeValue, ApiError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| ApiError::new(operation, ErrorKind::Validation, "InvalidAttribute", e.to_string()))
}

/// SNS subjects: at most 100 printable ASCII characters.
fn subject(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).take(100).collect()
}

#[async_trait]
impl Notifier for Sns {
    async fn publish(&self, topic_arn: &str, message: &Message) -> Result<(), ApiError> {
        let mut request =
            self.client.publish().topic_arn(topic_arn).subject(subject(&message.subject)).message(&message.body);
        if message.per_protocol {
            request = request.message_structure("json");
        }
        for (name, value) in &message.attributes {
            request = request.message_attributes(name, string_attribute(value, "Publish")?);
        }
        request.send().await.map(|_| ()).map_err(|e| classify("Publish", &e))
    }

    async fn publish_batch(&self, topic_arn: &str, messages: &[Message]) -> Result<Vec<Result<(), String>>, ApiError> {
        let mut entries = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let mut entry = PublishBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .subject(subject(&message.subject))
                .message(&message.body);
            if message.per_protocol {
                entry = entry.message_structure("json");
            }
            for (name, value) in &message.attributes {
                entry = entry.message_attributes(name, string_attribute(value, "PublishBatch")?);
            }
            entries.push(
                entry
                    .build()
                    .map_err(|e| ApiError::new("PublishBatch", ErrorKind::Validation, "InvalidEntry", e.to_string()))?,
            );
        }
        let out = self
            .client
            .publish_batch()
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PublishBatch", &e))?;
        // Results come back by entry id, not by position.
        let mut results: Vec<Result<(), String>> =
            messages.iter().map(|_| Err("SNS did not report this entry".to_owned())).collect();
        let index = |id: &str| id.strip_prefix('m').and_then(|i| i.parse::<usize>().ok());
        for ok in out.successful() {
            if let Some(slot) = ok.id().and_then(index).and_then(|i| results.get_mut(i)) {
                *slot = Ok(());
            }
        }
        for failed in out.failed() {
            if let Some(slot) = index(failed.id()).and_then(|i| results.get_mut(i)) {
                *slot = Err(format!("{}: {}", failed.code(), failed.message().unwrap_or("no message")));
            }
        }
        Ok(results)
    }
}
