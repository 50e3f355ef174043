//! GameLift Streams through aws-sdk-gameliftstreams: the reader and writer ports of one
//! region. Every call waits on the client-side rate limiter first; lists go through the
//! SDK's own paginators, one limiter token per page.

use crate::call_stats::CallStats;
use crate::convert;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_gameliftstreams::Client;
use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_gameliftstreams::types::{
    LocationConfiguration, StreamClass, StreamSessionStatus as SdkSessionStatus, VpcTransitConfiguration,
};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use watchdog_core::api_limits::ClientRateLimiter;
use watchdog_core::operations::APPLICATIONS_PER_CALL;
use watchdog_core::ports::{
    ApiError, CreateGroupRequest, ErrorKind, GroupRef, LocationSpec, Operation, StreamGroupReader, StreamGroupWriter,
    Tags, Write,
};
use watchdog_core::rules::SessionTimeouts;
use watchdog_core::{Application, StreamGroup, StreamSession, StreamSessionStatus, StreamUrl};

/// The largest page every list operation allows.
const PAGE_SIZE: i32 = 100;

/// One region's GameLift Streams, within the function's share of its rate limits.
pub struct GameLiftStreamsApi {
    region: String,
    client: Client,
    limiter: ClientRateLimiter,
}

impl GameLiftStreamsApi {
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

    async fn wait(&self, operation: Operation) {
        self.limiter.acquire(&self.region, operation.name()).await;
    }

    /// Every item of an SDK paginator, one limiter token per page; `read` gives a page's items
    /// and whether another page follows (so no token is spent on a page that does not exist).
    async fn all_pages<P, E, T>(
        &self,
        operation: Operation,
        mut pages: PaginationStream<Result<P, SdkError<E, HttpResponse>>>,
        read: impl Fn(&P) -> (Vec<T>, bool),
    ) -> Result<Vec<T>, ApiError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut all = Vec::new();
        loop {
            self.wait(operation).await;
            let Some(page) = pages.next().await else { return Ok(all) };
            let (items, more) = read(&page.map_err(|e| classify(operation.name(), &e))?);
            all.extend(items);
            if !more {
                return Ok(all);
            }
        }
    }
}

/// The API's capacities are `i32`; a value beyond that is refused, never wrapped or clamped.
fn capacity(value: u32, setting: &str, spec: &LocationSpec, operation: &'static str) -> Result<i32, ApiError> {
    i32::try_from(value).map_err(|_| {
        let message = format!("{}: {setting} {value} is beyond what the API takes", spec.name);
        ApiError::new(operation, ErrorKind::Validation, "CapacityOutOfRange", message)
    })
}

fn location_configuration(spec: &LocationSpec, operation: &'static str) -> Result<LocationConfiguration, ApiError> {
    let optional = |value: Option<u32>, setting| value.map(|v| capacity(v, setting, spec, operation)).transpose();
    let invalid = |e: aws_smithy_types::error::operation::BuildError| {
        ApiError::new(operation, ErrorKind::Validation, "InvalidLocation", format!("{}: {e}", spec.name))
    };
    let vpc_transit = match &spec.vpc_transit {
        Some(vpc) => Some(
            VpcTransitConfiguration::builder()
                .vpc_id(&vpc.vpc_id)
                .set_ipv4_cidr_blocks(Some(vpc.ipv4_cidr_blocks.clone()))
                .build()
                .map_err(invalid)?,
        ),
        None => None,
    };
    #[allow(deprecated)]
    LocationConfiguration::builder()
        .location_name(&spec.name)
        .always_on_capacity(capacity(spec.always_on, "AlwaysOnCapacity", spec, operation)?)
        .set_target_idle_capacity(optional(spec.target_idle, "TargetIdleCapacity")?)
        .set_maximum_capacity(optional(spec.maximum, "MaximumCapacity")?)
        .set_on_demand_capacity(optional(spec.on_demand, "OnDemandCapacity")?)
        .set_vpc_transit_configuration(vpc_transit)
        .build()
        .map_err(invalid)
}

#[async_trait]
impl StreamGroupReader for GameLiftStreamsApi {
    fn region(&self) -> &str {
        &self.region
    }

    async fn list_stream_groups(&self) -> Result<Vec<StreamGroup>, ApiError> {
        let pages = self.client.list_stream_groups().into_paginator().page_size(PAGE_SIZE).send();
        self.all_pages(Operation::ListStreamGroups, pages, |page| {
            let items = page.items().iter().map(convert::stream_group_summary).collect();
            (items, page.next_token().is_some())
        })
        .await
    }

    async fn get_stream_group(&self, id: &str) -> Result<StreamGroup, ApiError> {
        self.wait(Operation::GetStreamGroup).await;
        let out = self.client.get_stream_group().identifier(id).send().await;
        out.map(|out| convert::stream_group(&out)).map_err(|e| classify("GetStreamGroup", &e))
    }

    async fn list_tags(&self, arn: &str) -> Result<Tags, ApiError> {
        self.wait(Operation::ListTagsForResource).await;
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await;
        let out = out.map_err(|e| classify("ListTagsForResource", &e))?;
        Ok(out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
    }

    async fn list_group_sessions(&self, group_id: &str) -> Result<Vec<StreamSession>, ApiError> {
        let pages =
            self.client.list_stream_sessions().identifier(group_id).into_paginator().page_size(PAGE_SIZE).send();
        self.all_pages(Operation::ListStreamSessions, pages, |page| {
            let items = page.items().iter().map(convert::stream_session_summary).collect();
            (items, page.next_token().is_some())
        })
        .await
    }

    async fn list_account_sessions(&self, status: &StreamSessionStatus) -> Result<Vec<StreamSession>, ApiError> {
        let request = self.client.list_stream_sessions_by_account().status(SdkSessionStatus::from(status.as_str()));
        let pages = request.into_paginator().page_size(PAGE_SIZE).send();
        self.all_pages(Operation::ListStreamSessionsByAccount, pages, |page| {
            let items = page.items().iter().map(convert::stream_session_summary).collect();
            (items, page.next_token().is_some())
        })
        .await
    }

    async fn get_session_timeouts(&self, group_id: &str, session_arn: &str) -> Result<SessionTimeouts, ApiError> {
        self.wait(Operation::GetStreamSession).await;
        let out =
            self.client.get_stream_session().identifier(group_id).stream_session_identifier(session_arn).send().await;
        out.map(|out| convert::session_timeouts(&out)).map_err(|e| classify("GetStreamSession", &e))
    }

    async fn get_application(&self, identifier: &str) -> Result<Application, ApiError> {
        self.wait(Operation::GetApplication).await;
        let out = self.client.get_application().identifier(identifier).send().await;
        out.map(|out| convert::application(&out)).map_err(|e| classify("GetApplication", &e))
    }

    async fn list_stream_urls(&self, group_id: &str) -> Result<Vec<StreamUrl>, ApiError> {
        let pages = self
            .client
            .list_stream_urls()
            .stream_group_identifier(group_id)
            .into_paginator()
            .page_size(PAGE_SIZE)
            .send();
        self.all_pages(Operation::ListStreamUrls, pages, |page| {
            let items = page.items().iter().map(convert::stream_url).collect();
            (items, page.next_token().is_some())
        })
        .await
    }
}

/// The adapter's one dispatch of every write: an arm per [`Write`], each waiting on the rate
/// limiter for its operation first.
#[async_trait]
impl StreamGroupWriter for GameLiftStreamsApi {
    async fn write(&self, write: &Write) -> Result<Option<GroupRef>, ApiError> {
        if write.is_empty() {
            return Ok(None);
        }
        let operation = write.operation();
        let name = operation.name();
        match write {
            Write::Tag { arn, tags } => {
                self.wait(operation).await;
                let tags = Some(tags.clone().into_iter().collect());
                self.client
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(tags)
                    .send()
                    .await
                    .map_err(|e| classify(name, &e))?;
            }
            Write::Untag { arn, keys } => {
                self.wait(operation).await;
                let request = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.clone()));
                request.send().await.map_err(|e| classify(name, &e))?;
            }
            Write::CreateStreamGroup(request) => return self.create_stream_group(request).await.map(Some),
            Write::AssociateApplications { group_id, applications } => {
                for chunk in applications.chunks(APPLICATIONS_PER_CALL) {
                    self.wait(operation).await;
                    let request = self.client.associate_applications().identifier(group_id);
                    request
                        .set_application_identifiers(Some(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(|e| classify(name, &e))?;
                }
            }
            Write::DeleteStreamGroup { group_id } => {
                self.wait(operation).await;
                self.client.delete_stream_group().identifier(group_id).send().await.map_err(|e| classify(name, &e))?;
            }
            Write::RemoveLocation { group_id, location } => {
                self.wait(operation).await;
                let request = self.client.remove_stream_group_locations().identifier(group_id).locations(location);
                request.send().await.map_err(|e| classify(name, &e))?;
            }
            Write::AddLocation { group_id, location } => {
                let configuration = location_configuration(location, name)?;
                self.wait(operation).await;
                let request = self
                    .client
                    .add_stream_group_locations()
                    .identifier(group_id)
                    .location_configurations(configuration);
                request.send().await.map_err(|e| classify(name, &e))?;
            }
            Write::UpdateCapacity { group_id, locations } => {
                let configurations =
                    locations.iter().map(|l| location_configuration(l, name)).collect::<Result<Vec<_>, _>>()?;
                self.wait(operation).await;
                let request = self.client.update_stream_group().identifier(group_id);
                request
                    .set_location_configurations(Some(configurations))
                    .send()
                    .await
                    .map_err(|e| classify(name, &e))?;
            }
            Write::SetDefaultApplication { group_id, application } => {
                self.wait(operation).await;
                let request = self.client.update_stream_group().identifier(group_id);
                request.default_application_identifier(application).send().await.map_err(|e| classify(name, &e))?;
            }
            Write::TerminateSession { group_id, session_arn } => {
                self.wait(operation).await;
                let request = self.client.terminate_stream_session().identifier(group_id);
                request.stream_session_identifier(session_arn).send().await.map_err(|e| classify(name, &e))?;
            }
        }
        Ok(None)
    }
}

impl GameLiftStreamsApi {
    async fn create_stream_group(&self, request: &CreateGroupRequest) -> Result<GroupRef, ApiError> {
        let operation = Operation::CreateStreamGroup.name();
        let locations =
            request.locations.iter().map(|l| location_configuration(l, operation)).collect::<Result<Vec<_>, _>>()?;
        self.wait(Operation::CreateStreamGroup).await;
        let created = self
            .client
            .create_stream_group()
            .description(&request.description)
            .stream_class(StreamClass::from(request.stream_class.as_str()))
            .set_default_application_identifier(request.default_application.clone())
            .set_location_configurations(Some(locations))
            .set_tags(Some(request.tags.clone().into_iter().collect()))
            .client_token(&request.client_token)
            .send()
            .await
            .map_err(|e| classify(operation, &e))?;
        let arn = created.arn().to_owned();
        let id = created.id().map_or_else(|| watchdog_core::id_of(&arn).to_owned(), str::to_owned);
        Ok(GroupRef { id, arn })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_beyond_the_api_are_refused_not_clamped() {
        let spec = LocationSpec {
            name: "us-west-2".into(),
            always_on: 2,
            target_idle: Some(u32::MAX),
            maximum: Some(4),
            on_demand: None,
            vpc_transit: None,
        };
        let err = location_configuration(&spec, "UpdateStreamGroup").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert!(err.message.contains("TargetIdleCapacity 4294967295"), "{err}");
        let ok = location_configuration(&LocationSpec { target_idle: Some(2), ..spec }, "UpdateStreamGroup").unwrap();
        assert_eq!((ok.always_on_capacity(), ok.target_idle_capacity()), (Some(2), Some(2)));
    }
}
