//! GameLift Streams calls every function makes, each behind the client-side rate limiter:
//! the pages of ListStreamGroups, GetStreamGroup, a group's sessions and tags, and tag
//! writes. Errors come back as one line: `Code: message`.

use crate::adapter;
use crate::api_limits::ClientRateLimiter;
use crate::call_stats::CallStats;
use crate::model::{StreamGroup, StreamSession};
use aws_sdk_gameliftstreams::Client;
use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_gameliftstreams::operation::get_stream_group::GetStreamGroupError;
use std::collections::BTreeMap;

/// The largest page every list operation allows.
pub const PAGE_SIZE: i32 = 100;

/// A resource's tags.
pub type Tags = BTreeMap<String, String>;

/// `Code: message` for a service error, the whole error chain otherwise.
pub fn describe_error<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!("{}: {}", e.code().unwrap_or("UnknownError"), e.message().unwrap_or("no message"))
        }
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    }
}

/// The id at the end of a GameLift Streams ARN (or the identifier itself).
pub fn id_of(identifier: &str) -> &str {
    identifier.rsplit('/').next().unwrap_or(identifier)
}

/// One region's GameLift Streams API, within the function's share of its rate limits.
#[derive(Clone)]
pub struct Api {
    pub region: String,
    pub client: Client,
    pub limiter: ClientRateLimiter,
}

impl Api {
    /// A client for `region` that counts its calls in `stats` and makes `max_attempts` tries.
    pub fn new(
        sdk: &aws_types::SdkConfig,
        region: &str,
        limiter: ClientRateLimiter,
        stats: &CallStats,
        max_attempts: u32,
    ) -> Self {
        let client = Client::from_conf(
            aws_sdk_gameliftstreams::config::Builder::from(sdk)
                .region(aws_types::region::Region::new(region.to_owned()))
                .retry_config(aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(max_attempts))
                .interceptor(stats.clone())
                .build(),
        );
        Self { region: region.to_owned(), client, limiter }
    }

    /// Every stream group in the region, every status, all pages.
    pub async fn list_groups(&self) -> Result<Vec<StreamGroup>, String> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            self.limiter.acquire(&self.region, "ListStreamGroups").await;
            let page = self
                .client
                .list_stream_groups()
                .max_results(PAGE_SIZE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| describe_error(&e))?;
            groups.extend(page.items().iter().map(adapter::stream_group_summary));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(groups);
            }
        }
    }

    pub async fn get_group(&self, id: &str) -> Result<StreamGroup, SdkError<GetStreamGroupError>> {
        self.limiter.acquire(&self.region, "GetStreamGroup").await;
        self.client.get_stream_group().identifier(id).send().await.map(|out| adapter::stream_group(&out))
    }

    pub async fn tags(&self, arn: &str) -> Result<Tags, String> {
        self.limiter.acquire(&self.region, "ListTagsForResource").await;
        let out =
            self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(|e| describe_error(&e))?;
        Ok(out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
    }

    /// Every session of one group, every status, all pages.
    pub async fn group_sessions(&self, group_id: &str) -> Result<Vec<StreamSession>, String> {
        let mut sessions = Vec::new();
        let mut token = None;
        loop {
            self.limiter.acquire(&self.region, "ListStreamSessions").await;
            let page = self
                .client
                .list_stream_sessions()
                .identifier(group_id)
                .max_results(PAGE_SIZE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| describe_error(&e))?;
            sessions.extend(page.items().iter().map(adapter::stream_session_summary));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(sessions);
            }
        }
    }

    pub async fn tag(&self, arn: &str, tags: Tags) -> Result<(), String> {
        if tags.is_empty() {
            return Ok(());
        }
        self.limiter.acquire(&self.region, "TagResource").await;
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| describe_error(&e))?;
        Ok(())
    }

    pub async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        self.limiter.acquire(&self.region, "UntagResource").await;
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| describe_error(&e))?;
        Ok(())
    }
}
