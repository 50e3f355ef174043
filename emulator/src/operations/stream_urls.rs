//! Stream URLs: shareable links that start sessions in a hosted web player, with their
//! statuses (ACTIVE, EXPIRED, REVOKED, LIMIT_REACHED). Deleting the stream group or the
//! application behind a URL revokes it (the world applies that as it advances).

use super::responses::{stream_url_json, stream_url_summary_json};
use super::sessions::{ECHOED, NewSession, start_session};
use super::{Call, Page, Reply, paginate, resource_id};
use crate::error::ServiceError;
use crate::facts;
use crate::state::{EmulatedWorld, StreamUrl};
use crate::vocabulary::{
    RevocationMode, SessionStatusReason, StreamGroupStatus, StreamUrlStatus, StreamUrlStatusReason,
};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateStreamUrlInput {
    identifier: String,
    application_identifier: String,
    url_expires_after_minutes: i64,
    usage_limit: Option<i64>,
    description: Option<String>,
    locations: Vec<String>,
    session_length_seconds: Option<i64>,
    client_token: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamUrlById {
    identifier: String,
    stream_url_identifier: String,
    revocation_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListStreamUrlsInput {
    status: Option<String>,
    stream_group_identifier: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

/// Fields a stream URL keeps for the sessions it starts and echoes back.
const URL_ECHOED: &[&str] =
    &["Protocol", "AdditionalLaunchArgs", "AdditionalEnvironmentVariables", "RoleArn", "DisplayConfiguration"];

impl Call<'_> {
    pub(super) fn create_stream_url(&mut self, input: CreateStreamUrlInput) -> Reply {
        if let Some(id) = input.client_token.as_ref().and_then(|t| self.region_ref()?.stream_url_tokens.get(t)) {
            let url = &self.region_ref().expect("token is in the region").stream_urls[id];
            let mut created = stream_url_json(self.region_ref().expect("region"), url, self.now());
            created.as_object_mut().expect("an object").remove("StreamSessions");
            return Ok(Some(created));
        }
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors])?;
        let app_arn = self.associated_application(group, &input.application_identifier)?;
        if input.url_expires_after_minutes > facts::MAX_URL_EXPIRES_AFTER_MINUTES {
            return Err(ServiceError::validation(format!(
                "UrlExpiresAfterMinutes {} is above the maximum of {} minutes.",
                input.url_expires_after_minutes,
                facts::MAX_URL_EXPIRES_AFTER_MINUTES
            )));
        }
        let usage_limit = input.usage_limit.unwrap_or(facts::DEFAULT_URL_USAGE_LIMIT);
        if usage_limit > facts::MAX_URL_USAGE_LIMIT {
            return Err(ServiceError::validation(format!(
                "UsageLimit {usage_limit} is above the maximum of {}.",
                facts::MAX_URL_USAGE_LIMIT
            )));
        }
        if let Some(missing) = input.locations.iter().find(|l| group.location(l).is_none()) {
            return Err(ServiceError::validation(format!(
                "Location {missing} is not part of stream group {}.",
                group.id
            )));
        }
        let (group_id, group_arn) = (group.id.clone(), group.arn.clone());
        let now = self.now();
        let id = self.world.new_id("su-", 9);
        let token = self.world.new_id("", 43);
        let mut echo = input.rest;
        echo.retain(|k, _| URL_ECHOED.contains(&k.as_str()));
        let url = StreamUrl {
            arn: self.world.arn(&self.region, &format!("streamurl/{group_id}/{id}")),
            url: format!("https://play.gameliftstreams.{}.emulator.invalid/{id}#{token}", self.region),
            id: id.clone(),
            group_id,
            group_arn,
            application_arn: app_arn,
            revoked: None,
            expires_at: now + Duration::minutes(input.url_expires_after_minutes),
            created_at: now,
            usage_limit,
            remaining_uses: usage_limit,
            locations: input.locations,
            session_length_seconds: input.session_length_seconds.unwrap_or(facts::DEFAULT_SESSION_LENGTH_SECONDS),
            description: input.description,
            echo,
            session_ids: Vec::new(),
        };
        let region = self.region();
        if let Some(token) = input.client_token {
            region.stream_url_tokens.insert(token, id.clone());
        }
        region.stream_urls.insert(id.clone(), url);
        let region = self.region_ref().expect("region exists");
        let mut created = stream_url_json(region, &region.stream_urls[&id], now);
        // CreateStreamUrlOutput has no StreamSessions member (GetStreamUrlOutput does).
        created.as_object_mut().expect("an object").remove("StreamSessions");
        Ok(Some(created))
    }

    /// The URL `identifier` names within stream group `group`; the group itself may be gone
    /// (the model: deleting it makes the URL REVOKED, which GetStreamUrl still reports).
    fn stream_url(&self, group: &str, identifier: &str) -> Result<&StreamUrl, ServiceError> {
        let group_id = resource_id(group);
        self.region_ref()
            .and_then(|r| r.stream_urls.get(resource_id(identifier)))
            .filter(|u| u.group_id == group_id)
            .ok_or_else(|| self.not_found(format!("Stream URL {identifier} was not found in stream group {group_id}.")))
    }

    pub(super) fn get_stream_url(&mut self, input: StreamUrlById) -> Reply {
        let url = self.stream_url(&input.identifier, &input.stream_url_identifier)?;
        Ok(Some(stream_url_json(self.region_ref().expect("region"), url, self.now())))
    }

    pub(super) fn list_stream_urls(&mut self, input: ListStreamUrlsInput) -> Reply {
        let region = self.listed_region();
        let now = self.now();
        let status = input.status.as_deref().and_then(StreamUrlStatus::parse);
        let group = input.stream_group_identifier.as_deref().map(resource_id);
        let urls: Vec<&StreamUrl> = region
            .stream_urls
            .values()
            .filter(|u| group.is_none_or(|g| u.group_id == g))
            .filter(|u| status.is_none_or(|s| u.status(now) == s))
            .collect();
        let page = Page { next_token: input.next_token, max_results: input.max_results };
        paginate("ListStreamUrls", urls, |u| stream_url_summary_json(u, now), page)
    }

    /// The model: "Revoking a stream URL is permanent." REVOKE_URL (the default) lets running
    /// sessions end on their own; REVOKE_AND_TERMINATE_SESSIONS ends them.
    pub(super) fn revoke_stream_url(&mut self, input: StreamUrlById) -> Reply {
        let url = self.stream_url(&input.identifier, &input.stream_url_identifier)?;
        let mode =
            input.revocation_mode.as_deref().and_then(RevocationMode::parse).unwrap_or(RevocationMode::RevokeUrl);
        if url.revoked.is_some() {
            return Ok(None);
        }
        let (id, sessions) = (url.id.clone(), url.session_ids.clone());
        let now = self.now();
        let region = self.region();
        let reason = match mode {
            RevocationMode::RevokeUrl => StreamUrlStatusReason::UserRevoked,
            RevocationMode::RevokeAndTerminateSessions => {
                for id in &sessions {
                    if let Some(session) = region.sessions.get_mut(id) {
                        session.end(SessionStatusReason::ApiTerminated, now);
                    }
                }
                StreamUrlStatusReason::RevokedAndTerminatingSessions
            }
        };
        region.stream_urls.get_mut(&id).expect("found above").revoked = Some(reason);
        Ok(None)
    }
}

/// A player opening a stream URL in the hosted web player (admin API): starts a session like
/// StartStreamSession with the URL's settings and uses up one of its uses.
pub fn use_stream_url(world: &mut EmulatedWorld, url_id: &str) -> Result<String, String> {
    world.advance();
    let now = world.now();
    let (region_name, url) = world
        .regions
        .iter()
        .find_map(|(name, r)| r.stream_urls.get(url_id).map(|u| (name.clone(), u.clone())))
        .ok_or_else(|| format!("stream_url: {url_id} does not exist"))?;
    let status = url.status(now);
    if status != StreamUrlStatus::Active {
        return Err(format!("stream_url: {url_id} is {status}; it can no longer start stream sessions"));
    }
    let group = &world.regions[&region_name].groups[&url.group_id];
    if !matches!(group.status, StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors) {
        return Err(format!("stream_url: its stream group {} is {}", group.id, group.status));
    }
    let mut echo = url.echo.clone();
    let role_arn = echo.remove("RoleArn").and_then(|v| v.as_str().map(str::to_owned));
    echo.retain(|k, _| ECHOED.contains(&k.as_str()));
    let request = NewSession {
        group_id: url.group_id.clone(),
        application_arn: url.application_arn.clone(),
        locations: url.locations.clone(),
        signal_request: format!("web-player-offer-{}", now.timestamp_millis()),
        description: url.description.clone(),
        user_id: None,
        role_arn,
        connection_timeout_seconds: None,
        session_length_seconds: Some(url.session_length_seconds),
        echo,
        client_token: None,
        stream_url_id: Some(url.id.clone()),
    };
    let session = start_session(world, &region_name, request).map_err(|e| e.message().to_owned())?;
    let stored = world.region(&region_name).stream_urls.get_mut(url_id).expect("found above");
    stored.remaining_uses -= 1;
    stored.session_ids.push(session.clone());
    world.advance();
    Ok(session)
}
