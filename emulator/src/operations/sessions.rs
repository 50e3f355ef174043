//! Stream sessions: start (placement on idle capacity), list, get, terminate, reconnect,
//! export files, admin shell.

use super::responses::{session_json, session_summary_json};
use super::{Call, Page, Reply, paginate, resource_id};
use crate::error::{ErrorShape, ServiceError};
use crate::facts;
use crate::state::{EmulatedWorld, ExportFiles, Region, StreamSession};
use crate::timeline::placement_timeout;
use crate::vocabulary::{
    ExportFilesStatus, LocationStatus, ReplicationStatus, SessionStatus, SessionStatusReason, StreamGroupStatus,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListSessionsInput {
    identifier: Option<String>,
    status: Option<String>,
    export_files_status: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SessionById {
    identifier: String,
    stream_session_identifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StartSessionInput {
    identifier: String,
    application_identifier: String,
    signal_request: String,
    client_token: Option<String>,
    description: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    locations: Vec<String>,
    connection_timeout_seconds: Option<i64>,
    session_length_seconds: Option<i64>,
    role_arn: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConnectionInput {
    identifier: String,
    stream_session_identifier: String,
    signal_request: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExportInput {
    identifier: String,
    stream_session_identifier: String,
    output_uri: String,
}

/// Request fields a session echoes back without interpreting them.
pub const ECHOED: &[&str] = &[
    "Protocol",
    "AdditionalLaunchArgs",
    "AdditionalEnvironmentVariables",
    "PerformanceStatsConfiguration",
    "DisplayConfiguration",
];

/// Everything a new session needs; StartStreamSession and a player opening a stream URL both make one.
pub struct NewSession {
    pub group_id: String,
    pub application_arn: String,
    pub locations: Vec<String>,
    pub signal_request: String,
    pub description: Option<String>,
    pub user_id: Option<String>,
    pub role_arn: Option<String>,
    pub connection_timeout_seconds: Option<i64>,
    pub session_length_seconds: Option<i64>,
    pub echo: Map<String, Value>,
    pub client_token: Option<String>,
    pub stream_url_id: Option<String>,
}

/// Creates a session in ACTIVATING and places it on the first requested location (in the
/// caller's order) that can host it and has an idle slot; with none idle, it waits on the first
/// location that can host it until capacity arrives or its placement timeout ends.
pub fn start_session(
    world: &mut EmulatedWorld,
    region_name: &str,
    request: NewSession,
) -> Result<String, ServiceError> {
    let now = world.now();
    let region = world.regions.get(region_name).expect("the group's region exists");
    let group = &region.groups[&request.group_id];
    let app = region.applications.values().find(|a| a.arn == request.application_arn).expect("checked by the caller");
    let wanted = if request.locations.is_empty() { vec![group.region.clone()] } else { request.locations.clone() };
    let active: Vec<_> =
        wanted.iter().filter_map(|name| group.location(name)).filter(|l| l.status == LocationStatus::Active).collect();
    let Some(first) = active.first() else {
        return Err(ServiceError::validation(format!(
            "None of the locations [{}] is active in stream group {}.",
            wanted.join(", "),
            group.id
        )));
    };
    // Seed 001: "An application must be finished replicating to a remote location before the
    // remote location can host a stream."
    let hosts: Vec<_> =
        active.iter().filter(|l| app.replication_status(&l.name, now) == Some(ReplicationStatus::Completed)).collect();
    let idle = hosts.iter().find(|l| EmulatedWorld::capacity(region, group, l).idle > 0);
    let location = idle.or(hosts.first()).map_or(*first, |l| **l);
    let timeout = placement_timeout(location, facts::is_windows_runtime(&app.runtime_type));
    let (location_name, placeable) = (location.name.clone(), !hosts.is_empty());
    let group_arn_id = group.id.clone();
    let id = world.new_id("", 13);
    let arn = world.arn(region_name, &format!("streamsession/{group_arn_id}/{id}"));
    let session = StreamSession {
        id: id.clone(),
        arn,
        group_id: request.group_id,
        status: SessionStatus::Activating,
        status_reason: None,
        location: location_name,
        application_arn: request.application_arn,
        description: request.description,
        user_id: request.user_id,
        role_arn: request.role_arn,
        signal_request: request.signal_request,
        connection_timeout_seconds: request
            .connection_timeout_seconds
            .unwrap_or(facts::DEFAULT_CONNECTION_TIMEOUT_SECONDS),
        session_length_seconds: request.session_length_seconds.unwrap_or(facts::DEFAULT_SESSION_LENGTH_SECONDS),
        echo: request.echo,
        created_at: now,
        last_updated_at: now,
        placed_at: None,
        placement_deadline: now + timeout,
        placeable,
        application_started_at: None,
        streaming_started_at: None,
        streaming_ended_at: None,
        last_input_at: None,
        stuck: false,
        client_token: request.client_token.clone(),
        export: None,
        stream_url_id: request.stream_url_id,
    };
    let region: &mut Region = world.region(region_name);
    if let Some(token) = request.client_token {
        region.session_tokens.insert(token, id.clone());
    }
    region.sessions.insert(id.clone(), session);
    // Placement on an idle slot happens when the world next advances, at this same instant.
    Ok(id)
}

impl Call<'_> {
    pub(super) fn list_stream_sessions(&mut self, input: ListSessionsInput) -> Reply {
        let identifier = input.identifier.clone().unwrap_or_default();
        let group_id = self.group(&identifier)?.id.clone();
        self.list_sessions(input, Some(&group_id), "ListStreamSessions")
    }

    pub(super) fn list_sessions_by_account(&mut self, input: ListSessionsInput) -> Reply {
        self.list_sessions(input, None, "ListStreamSessionsByAccount")
    }

    fn list_sessions(&mut self, input: ListSessionsInput, group_id: Option<&str>, scope: &str) -> Reply {
        let region = self.listed_region();
        let status = input.status.as_deref().and_then(SessionStatus::parse);
        let export = input.export_files_status.as_deref().and_then(ExportFilesStatus::parse);
        let sessions: Vec<&StreamSession> = region
            .sessions
            .values()
            .filter(|s| group_id.is_none_or(|g| s.group_id == g))
            .filter(|s| status.is_none_or(|st| s.status == st))
            .filter(|s| export.is_none_or(|e| s.export.as_ref().is_some_and(|x| x.status == e)))
            .collect();
        let page = Page { next_token: input.next_token, max_results: input.max_results };
        paginate(scope, sessions, session_summary_json, page)
    }

    fn session(&self, identifier: &str, session: &str) -> Result<&StreamSession, ServiceError> {
        let group = self.group(identifier)?;
        let id = resource_id(session);
        self.region_ref().and_then(|r| r.sessions.get(id)).filter(|s| s.group_id == group.id).ok_or_else(|| {
            self.not_found(format!("Stream session {session} was not found in stream group {}.", group.id))
        })
    }

    fn session_mut(&mut self, identifier: &str, session: &str) -> Result<&mut StreamSession, ServiceError> {
        let id = self.session(identifier, session)?.id.clone();
        Ok(self.region().sessions.get_mut(&id).expect("found above"))
    }

    pub(super) fn get_stream_session(&mut self, input: SessionById) -> Reply {
        Ok(Some(session_json(self.session(&input.identifier, &input.stream_session_identifier)?)))
    }

    pub(super) fn start_stream_session(&mut self, input: StartSessionInput) -> Reply {
        let group = self.group(&input.identifier)?;
        if let Some(id) = input.client_token.as_ref().and_then(|t| self.region_ref()?.session_tokens.get(t)) {
            let session = &self.region_ref().expect("token is in the region").sessions[id];
            return Ok(Some(session_json(session)));
        }
        self.require_status(group, &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors])?;
        let app_arn = self.associated_application(group, &input.application_identifier)?;
        let mut echo = input.rest;
        echo.retain(|k, _| ECHOED.contains(&k.as_str()));
        let request = NewSession {
            group_id: group.id.clone(),
            application_arn: app_arn,
            locations: input.locations,
            signal_request: input.signal_request,
            description: input.description,
            user_id: input.user_id,
            role_arn: input.role_arn,
            connection_timeout_seconds: input.connection_timeout_seconds,
            session_length_seconds: input.session_length_seconds,
            echo,
            client_token: input.client_token,
            stream_url_id: None,
        };
        let region = self.region.clone();
        let id = start_session(self.world, &region, request)?;
        Ok(Some(session_json(&self.region_ref().expect("region exists").sessions[&id])))
    }

    pub(super) fn terminate_stream_session(&mut self, input: SessionById) -> Reply {
        let session = self.session(&input.identifier, &input.stream_session_identifier)?;
        if session.status == SessionStatus::Activating {
            return Err(self.state_error(format!(
                "Stream session {} is ACTIVATING; it can be terminated once it is ACTIVE.",
                session.id
            )));
        }
        let now = self.now();
        self.session_mut(&input.identifier, &input.stream_session_identifier)?
            .end(SessionStatusReason::ApiTerminated, now);
        Ok(None)
    }

    /// The model: reconnection "can be initiated when a stream session is in either
    /// PENDING_CLIENT_RECONNECTION or ACTIVE status"; the session goes to RECONNECTING and, on
    /// success, to ACTIVE, where the client has ConnectionTimeoutSeconds to connect.
    pub(super) fn create_connection(&mut self, input: ConnectionInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let session = self.session(&input.identifier, &input.stream_session_identifier)?;
        if !matches!(session.status, SessionStatus::Active | SessionStatus::PendingClientReconnection) {
            return Err(self.state_error(format!(
                "Stream session {} is {}; a connection can be created only in ACTIVE or PENDING_CLIENT_RECONNECTION.",
                session.id, session.status
            )));
        }
        // "The offer must be newly generated, not the same offer provided to StartStreamSession."
        if session.signal_request == input.signal_request {
            return Err(ServiceError::validation(format!(
                "SignalRequest for stream session {} must be a new offer, not the one it was started with.",
                session.id
            )));
        }
        let now = self.now();
        let session = self.session_mut(&input.identifier, &input.stream_session_identifier)?;
        session.signal_request = input.signal_request;
        session.set_status(SessionStatus::Reconnecting, None, now);
        Ok(Some(
            json!({ "SignalResponse": format!("emulated-signal-response-{}-{}", session.id, now.timestamp_millis()) }),
        ))
    }

    /// The model: only "on a stream session that is in progress, specifically ... ACTIVE,
    /// CONNECTED, PENDING_CLIENT_RECONNECTION, and RECONNECTING"; the files are produced when
    /// the session ends (ExportFilesMetadata PENDING, then SUCCEEDED).
    pub(super) fn export_files(&mut self, input: ExportInput) -> Reply {
        let session = self.session(&input.identifier, &input.stream_session_identifier)?;
        if !session.status.is_in_progress() {
            return Err(ServiceError::validation(format!(
                "Stream session {} is {}; files can be exported only from a session in progress.",
                session.id, session.status
            )));
        }
        let session = self.session_mut(&input.identifier, &input.stream_session_identifier)?;
        session.export = Some(ExportFiles { status: ExportFilesStatus::Pending, output_uri: input.output_uri });
        Ok(Some(json!({})))
    }

    /// The model: "The stream session must be in one of the following statuses: ACTIVE,
    /// CONNECTED, PENDING_CLIENT_RECONNECTION, or RECONNECTING. The StreamUrl is valid for 60
    /// seconds." ASSUMED: an ACTIVATING session answers StreamSessionAccessNotReadyException.
    pub(super) fn admin_shell(&mut self, input: SessionById) -> Reply {
        let session = self.session(&input.identifier, &input.stream_session_identifier)?;
        if session.status == SessionStatus::Activating {
            return Err(ServiceError::new(
                ErrorShape::StreamSessionAccessNotReadyException,
                format!("Stream session {} is still ACTIVATING; try again once it is ACTIVE.", session.id),
            ));
        }
        if !session.status.is_in_progress() {
            return Err(ServiceError::validation(format!(
                "Stream session {} is {}; an admin shell needs a session in progress.",
                session.id, session.status
            )));
        }
        let stream_session = session.id.clone();
        let session_id = format!("gameliftstreams-{stream_session}-{}", self.world.new_hex_id(17));
        let valid_until = self.now() + facts::ADMIN_SHELL_URL_VALIDITY;
        let token = self.world.new_id("", 64);
        Ok(Some(json!({
            "SessionId": session_id,
            "StreamUrl": format!("wss://ssmmessages.{}.emulator.invalid/v1/data-channel/{session_id}?expires={}", self.region, valid_until.timestamp()),
            "TokenValue": token,
        })))
    }
}
