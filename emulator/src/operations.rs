//! The twenty emulated operations. Each takes the model-validated input (PascalCase JSON)
//! and answers what the service answers, including the documented rules the model cannot
//! express: tenancy multiples, status preconditions, the 180-day association cutoff, expiry.

use crate::error::ApiError;
use crate::service_model::Operation;
use crate::state::{
    ActivationOutcome, Application, DEFAULT_CONNECTION_TIMEOUT_SECONDS, DEFAULT_SESSION_LENGTH_SECONDS, GroupLocation,
    LocationConfig, Region, StreamGroup, StreamSession, World,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use watchdog_core::{LocationStatus, StreamClass, StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason};

/// The page size when a list call names no MaxResults.
const DEFAULT_PAGE_SIZE: usize = 25;
/// Tags per resource (model: `Tags` max 50).
const MAX_TAGS: usize = 50;

/// Operations this emulator implements; other model operations answer as unknown.
pub const EMULATED: &[&str] = &[
    "ListStreamGroups",
    "GetStreamGroup",
    "CreateStreamGroup",
    "UpdateStreamGroup",
    "DeleteStreamGroup",
    "AddStreamGroupLocations",
    "RemoveStreamGroupLocations",
    "AssociateApplications",
    "DisassociateApplications",
    "ListStreamSessions",
    "ListStreamSessionsByAccount",
    "GetStreamSession",
    "StartStreamSession",
    "TerminateStreamSession",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "CreateApplication",
    "ListApplications",
    "GetApplication",
];

/// Operations that change the world: the counters report them apart (dry runs must make none).
pub const MUTATING: &[&str] = &[
    "CreateStreamGroup",
    "UpdateStreamGroup",
    "DeleteStreamGroup",
    "AddStreamGroupLocations",
    "RemoveStreamGroupLocations",
    "AssociateApplications",
    "DisassociateApplications",
    "StartStreamSession",
    "TerminateStreamSession",
    "TagResource",
    "UntagResource",
    "CreateApplication",
];

/// What an operation answers: a JSON body, or nothing (204 operations).
pub type Reply = Result<Option<Value>, ApiError>;

pub fn dispatch(world: &mut World, region: &str, op: &Operation, input: Value) -> Reply {
    world.advance();
    let mut call = Call { world, region: region.to_owned(), op };
    match op.name.as_str() {
        "ListStreamGroups" => call.list_stream_groups(parse(input)?),
        "GetStreamGroup" => call.get_stream_group(parse(input)?),
        "CreateStreamGroup" => call.create_stream_group(parse(input)?),
        "UpdateStreamGroup" => call.update_stream_group(parse(input)?),
        "DeleteStreamGroup" => call.delete_stream_group(parse(input)?),
        "AddStreamGroupLocations" => call.add_locations(parse(input)?),
        "RemoveStreamGroupLocations" => call.remove_locations(parse(input)?),
        "AssociateApplications" => call.associate(parse(input)?),
        "DisassociateApplications" => call.disassociate(parse(input)?),
        "ListStreamSessions" => call.list_stream_sessions(parse(input)?),
        "ListStreamSessionsByAccount" => call.list_sessions_by_account(parse(input)?),
        "GetStreamSession" => call.get_stream_session(parse(input)?),
        "StartStreamSession" => call.start_stream_session(parse(input)?),
        "TerminateStreamSession" => call.terminate_stream_session(parse(input)?),
        "ListTagsForResource" => call.list_tags(parse(input)?),
        "TagResource" => call.tag_resource(parse(input)?),
        "UntagResource" => call.untag_resource(parse(input)?),
        "CreateApplication" => call.create_application(parse(input)?),
        "ListApplications" => call.list_applications(parse(input)?),
        "GetApplication" => call.get_application(parse(input)?),
        _ => Err(ApiError::unknown_operation(&op.method, &op.name)),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::validation(format!("invalid request: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    next_token: Option<String>,
    max_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ById {
    identifier: String,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct LocationConfiguration {
    location_name: String,
    always_on_capacity: Option<u32>,
    on_demand_capacity: Option<u32>,
    target_idle_capacity: Option<u32>,
    maximum_capacity: Option<u32>,
    vpc_transit_configuration: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateStreamGroupInput {
    description: String,
    stream_class: String,
    default_application_identifier: Option<String>,
    #[serde(default)]
    location_configurations: Vec<LocationConfiguration>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateStreamGroupInput {
    identifier: String,
    #[serde(default)]
    location_configurations: Vec<LocationConfiguration>,
    description: Option<String>,
    default_application_identifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddLocationsInput {
    identifier: String,
    location_configurations: Vec<LocationConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemoveLocationsInput {
    identifier: String,
    locations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationInput {
    identifier: String,
    application_identifiers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListSessionsInput {
    identifier: Option<String>,
    status: Option<String>,
    export_files_status: Option<String>,
    next_token: Option<String>,
    max_results: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SessionById {
    identifier: String,
    stream_session_identifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartSessionInput {
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
struct ResourceArnInput {
    resource_arn: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuntimeEnvironment {
    #[serde(rename = "Type")]
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateApplicationInput {
    description: String,
    runtime_environment: RuntimeEnvironment,
    executable_path: String,
    application_source_uri: String,
    #[serde(default)]
    application_log_paths: Vec<String>,
    application_log_output_uri: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    client_token: Option<String>,
}

struct Call<'w> {
    world: &'w mut World,
    region: String,
    op: &'w Operation,
}

/// The id inside an id-or-ARN identifier (`arn:...:streamgroup/sg-X` -> `sg-X`).
pub fn resource_id(identifier: &str) -> &str {
    if identifier.starts_with("arn:") { identifier.rsplit('/').next().unwrap_or(identifier) } else { identifier }
}

impl Call<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.world.now()
    }

    fn region(&mut self) -> &mut Region {
        self.world.region(&self.region.clone())
    }

    fn region_ref(&self) -> Option<&Region> {
        self.world.regions.get(&self.region)
    }

    /// A precondition the resource's state does not meet: Conflict where the model allows it.
    fn state_error(&self, message: String) -> ApiError {
        if self.op.may_return("ConflictException") {
            ApiError::conflict(message)
        } else {
            ApiError::validation(message)
        }
    }

    fn not_found(&self, message: String) -> ApiError {
        if self.op.may_return("ResourceNotFoundException") {
            ApiError::not_found(message)
        } else {
            ApiError::validation(message)
        }
    }

    fn group(&self, identifier: &str) -> Result<&StreamGroup, ApiError> {
        let id = resource_id(identifier);
        self.region_ref()
            .and_then(|r| r.groups.get(id))
            .ok_or_else(|| self.not_found(format!("Stream group {identifier} was not found.")))
    }

    fn group_mut(&mut self, identifier: &str) -> Result<&mut StreamGroup, ApiError> {
        self.group(identifier)?;
        let id = resource_id(identifier).to_owned();
        Ok(self.region().groups.get_mut(&id).expect("checked above"))
    }

    /// Refuses anything but Get and Delete on an expired group, and anything outside `allowed`.
    fn require_status(&self, group: &StreamGroup, allowed: &[StreamGroupStatus]) -> Result<(), ApiError> {
        if group.status == StreamGroupStatus::Expired {
            return Err(self.state_error(format!(
                "Stream group {} expired at {}; only GetStreamGroup and DeleteStreamGroup work on an expired stream group.",
                group.id,
                group.expires_at.to_rfc3339()
            )));
        }
        if !allowed.contains(&group.status) {
            let allowed: Vec<&str> = allowed.iter().map(StreamGroupStatus::as_str).collect();
            return Err(self.state_error(format!(
                "Stream group {} is in status {}; {} requires {}.",
                group.id,
                group.status,
                self.op.name,
                allowed.join(" or ")
            )));
        }
        Ok(())
    }

    fn application(&self, identifier: &str) -> Result<&Application, ApiError> {
        let id = resource_id(identifier);
        self.region_ref()
            .and_then(|r| r.applications.get(id))
            .ok_or_else(|| self.not_found(format!("Application {identifier} was not found.")))
    }

    fn ready_application(&self, identifier: &str) -> Result<&Application, ApiError> {
        let app = self.application(identifier)?;
        if app.status != "READY" {
            return Err(ApiError::validation(format!(
                "Application {} is in status {}; it must be READY.",
                app.id, app.status
            )));
        }
        Ok(app)
    }

    // ---- stream groups ----

    fn list_stream_groups(&mut self, input: Page) -> Reply {
        let Some(region) = self.region_ref() else {
            return Ok(Some(json!({ "Items": [] })));
        };
        let mut groups: Vec<&StreamGroup> = region.groups.values().collect();
        groups.sort_by_key(|g| (g.created_at, g.id.clone()));
        let keyed = groups.into_iter().map(|g| (sort_key(g.created_at, &g.id), group_summary_json(g)));
        paginate("ListStreamGroups", keyed, input.next_token, input.max_results)
    }

    fn get_stream_group(&mut self, input: ById) -> Reply {
        let group = self.group(&input.identifier)?;
        Ok(Some(group_json(self.region_ref().expect("group exists"), group)))
    }

    fn create_stream_group(&mut self, input: CreateStreamGroupInput) -> Reply {
        if let Some(existing) = input.client_token.as_ref().and_then(|t| self.region_ref()?.group_tokens.get(t)) {
            // Same token, same group: a retried create must not make a second one.
            let id = existing.clone();
            return self.get_stream_group(ById { identifier: id });
        }
        let class = StreamClass::parse(&input.stream_class);
        let primary = self.region.clone();
        let mut configs = input.location_configurations.clone();
        if !configs.iter().any(|c| c.location_name == primary) {
            configs.insert(
                0,
                LocationConfiguration {
                    location_name: primary.clone(),
                    always_on_capacity: None,
                    on_demand_capacity: None,
                    target_idle_capacity: None,
                    maximum_capacity: None,
                    vpc_transit_configuration: None,
                },
            );
        }
        check_distinct(configs.iter().map(|c| c.location_name.as_str()))?;
        let now = self.now();
        let mut locations = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            let config = location_config(&class, config, None)?;
            locations.push(new_location(&configs[index].location_name, config, index, None));
        }
        check_tags(&input.tags)?;
        let default_application = match &input.default_application_identifier {
            Some(identifier) => Some(self.ready_application(identifier)?.arn.clone()),
            None => None,
        };
        let id = self.world.new_id("sg-", 9);
        let arn = self.world.arn(&primary, &format!("streamgroup/{id}"));
        let group = StreamGroup {
            id: id.clone(),
            arn,
            region: primary,
            description: input.description,
            stream_class: input.stream_class,
            status: StreamGroupStatus::Activating,
            status_reason: None,
            created_at: now,
            last_updated_at: now,
            expires_at: now + World::default_lifetime(),
            associated: default_application.iter().cloned().collect(),
            default_application,
            tags: input.tags,
            locations,
            activates_at: Some(now + self.world.timings.group_activation),
            activation_outcome: ActivationOutcome::Active,
            gone_at: None,
        };
        let region = self.region();
        if let Some(token) = input.client_token {
            region.group_tokens.insert(token, id.clone());
        }
        region.groups.insert(id.clone(), group);
        self.get_stream_group(ById { identifier: id })
    }

    fn update_stream_group(&mut self, input: UpdateStreamGroupInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let class = group.class();
        check_distinct(input.location_configurations.iter().map(|c| c.location_name.as_str()))?;
        let mut updates = Vec::new();
        for config in &input.location_configurations {
            let Some(location) = group.location(&config.location_name) else {
                return Err(ApiError::validation(format!(
                    "Location {} is not part of stream group {}; add it with AddStreamGroupLocations.",
                    config.location_name, group.id
                )));
            };
            updates.push((config.location_name.clone(), location_config(&class, config, Some(&location.config))?));
        }
        let default_application = match &input.default_application_identifier {
            Some(identifier) => {
                let arn = self.ready_application(identifier)?.arn.clone();
                if !group.associated.contains(&arn) && self.now() >= group.association_cutoff_at() {
                    return Err(cutoff_error(group));
                }
                Some(arn)
            }
            None => None,
        };
        let now = self.now();
        let group = self.group_mut(&input.identifier)?;
        for (name, config) in updates {
            if let Some(location) = group.locations.iter_mut().find(|l| l.name == name) {
                location.config = config;
            }
        }
        if let Some(description) = input.description {
            group.description = description;
        }
        if let Some(arn) = default_application {
            if !group.associated.contains(&arn) {
                group.associated.push(arn.clone());
            }
            group.default_application = Some(arn);
        }
        group.last_updated_at = now;
        self.get_stream_group(ById { identifier: input.identifier })
    }

    fn delete_stream_group(&mut self, input: ById) -> Reply {
        let now = self.now();
        let deletion = self.world.timings.deletion;
        let group = self.group_mut(&input.identifier)?;
        if group.status != StreamGroupStatus::Deleting {
            group.status = StreamGroupStatus::Deleting;
            group.last_updated_at = now;
            group.gone_at = Some(now + deletion);
        }
        let id = group.id.clone();
        // Deleting stops streams in progress.
        for session in self.region().sessions.values_mut().filter(|s| s.group_id == id && !s.status.is_final()) {
            session.status = StreamSessionStatus::Terminated;
            session.last_updated_at = now;
        }
        Ok(None)
    }

    fn add_locations(&mut self, input: AddLocationsInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors])?;
        check_distinct(input.location_configurations.iter().map(|c| c.location_name.as_str()))?;
        let class = group.class();
        let mut added = Vec::new();
        for config in &input.location_configurations {
            if group.location(&config.location_name).is_some() {
                return Err(ApiError::validation(format!(
                    "Location {} is already part of stream group {}.",
                    config.location_name, group.id
                )));
            }
            added.push((config.location_name.clone(), location_config(&class, config, None)?));
        }
        let now = self.now();
        let ready_at = now + self.world.timings.location_change;
        let group = self.group_mut(&input.identifier)?;
        let first_index = group.locations.len();
        let names: Vec<String> = added.iter().map(|(n, _)| n.clone()).collect();
        for (offset, (name, config)) in added.into_iter().enumerate() {
            group.locations.push(new_location(&name, config, first_index + offset, Some(ready_at)));
        }
        group.last_updated_at = now;
        group.refresh_status(now);
        let arn = group.arn.clone();
        let group = self.group(&input.identifier)?;
        let region = self.region_ref().expect("group exists");
        let states: Vec<Value> =
            names.iter().filter_map(|n| group.location(n)).map(|l| location_json(region, group, l)).collect();
        Ok(Some(json!({ "Identifier": arn, "Locations": states })))
    }

    fn remove_locations(&mut self, input: RemoveLocationsInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors])?;
        for name in &input.locations {
            if name == &group.region {
                return Err(ApiError::validation(format!(
                    "Location {name} is the primary location of stream group {}; the primary location cannot be removed.",
                    group.id
                )));
            }
            if group.location(name).is_none() {
                return Err(ApiError::validation(format!("Location {name} is not part of stream group {}.", group.id)));
            }
        }
        let now = self.now();
        let gone_at = now + self.world.timings.location_change;
        let group = self.group_mut(&input.identifier)?;
        for location in group.locations.iter_mut().filter(|l| input.locations.contains(&l.name)) {
            location.status = LocationStatus::Removing;
            location.transition_at = Some(gone_at);
        }
        group.last_updated_at = now;
        group.refresh_status(now);
        let id = group.id.clone();
        for session in self
            .region()
            .sessions
            .values_mut()
            .filter(|s| s.group_id == id && input.locations.contains(&s.location) && !s.status.is_final())
        {
            session.status = StreamSessionStatus::Terminated;
            session.last_updated_at = now;
        }
        Ok(None)
    }

    fn associate(&mut self, input: AssociationInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let mut arns = Vec::new();
        for identifier in &input.application_identifiers {
            arns.push(self.ready_application(identifier)?.arn.clone());
        }
        if arns.iter().any(|arn| !group.associated.contains(arn)) && self.now() >= group.association_cutoff_at() {
            return Err(cutoff_error(group));
        }
        let now = self.now();
        let group = self.group_mut(&input.identifier)?;
        for arn in &arns {
            if !group.associated.contains(arn) {
                group.associated.push(arn.clone());
            }
        }
        if group.default_application.is_none() {
            group.default_application = arns.first().cloned();
        }
        group.last_updated_at = now;
        Ok(Some(json!({ "Arn": group.arn, "ApplicationArns": arns })))
    }

    fn disassociate(&mut self, input: AssociationInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let mut arns = Vec::new();
        for identifier in &input.application_identifiers {
            arns.push(self.application(identifier)?.arn.clone());
        }
        let now = self.now();
        let group = self.group_mut(&input.identifier)?;
        group.associated.retain(|a| !arns.contains(a));
        if group.default_application.as_ref().is_some_and(|d| arns.contains(d)) {
            // The service picks a new default from what is left.
            group.default_application = group.associated.first().cloned();
        }
        group.last_updated_at = now;
        Ok(Some(json!({ "Arn": group.arn, "ApplicationArns": arns })))
    }

    // ---- sessions ----

    fn list_stream_sessions(&mut self, input: ListSessionsInput) -> Reply {
        let identifier = input.identifier.clone().unwrap_or_default();
        let group_id = self.group(&identifier)?.id.clone();
        self.list_sessions(input, Some(&group_id), "ListStreamSessions")
    }

    fn list_sessions_by_account(&mut self, input: ListSessionsInput) -> Reply {
        self.list_sessions(input, None, "ListStreamSessionsByAccount")
    }

    fn list_sessions(&mut self, input: ListSessionsInput, group_id: Option<&str>, scope: &str) -> Reply {
        let Some(region) = self.region_ref() else {
            return Ok(Some(json!({ "Items": [] })));
        };
        let status = input.status.as_deref().map(StreamSessionStatus::from);
        let mut sessions: Vec<&StreamSession> = region
            .sessions
            .values()
            .filter(|s| group_id.is_none_or(|g| s.group_id == g))
            .filter(|s| status.as_ref().is_none_or(|st| &s.status == st))
            // The emulator exports no files, so an export filter matches nothing.
            .filter(|_| input.export_files_status.is_none())
            .collect();
        sessions.sort_by_key(|s| (s.created_at, s.id.clone()));
        let keyed = sessions.into_iter().map(|s| (sort_key(s.created_at, &s.id), session_summary_json(s)));
        paginate(scope, keyed, input.next_token, input.max_results)
    }

    fn session(&self, input: &SessionById) -> Result<&StreamSession, ApiError> {
        let group = self.group(&input.identifier)?;
        let id = resource_id(&input.stream_session_identifier);
        self.region_ref().and_then(|r| r.sessions.get(id)).filter(|s| s.group_id == group.id).ok_or_else(|| {
            self.not_found(format!(
                "Stream session {} was not found in stream group {}.",
                input.stream_session_identifier, group.id
            ))
        })
    }

    fn get_stream_session(&mut self, input: SessionById) -> Reply {
        Ok(Some(session_json(self.session(&input)?)))
    }

    fn start_stream_session(&mut self, input: StartSessionInput) -> Reply {
        let group = self.group(&input.identifier)?;
        if let Some(id) = input.client_token.as_ref().and_then(|t| self.region_ref()?.session_tokens.get(t)) {
            let session = &self.region_ref().expect("token is in the region").sessions[id];
            return Ok(Some(session_json(session)));
        }
        self.require_status(group, &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors])?;
        let app_arn = self.application(&input.application_identifier)?.arn.clone();
        if !group.associated.contains(&app_arn) {
            return Err(ApiError::validation(format!(
                "Application {} is not associated with stream group {}.",
                input.application_identifier, group.id
            )));
        }
        let wanted = if input.locations.is_empty() { vec![group.region.clone()] } else { input.locations.clone() };
        let region = self.region_ref().expect("group exists");
        let candidates: Vec<&GroupLocation> = wanted
            .iter()
            .filter_map(|name| group.location(name))
            .filter(|l| l.status == LocationStatus::Active)
            .collect();
        let Some(first) = candidates.first() else {
            return Err(ApiError::validation(format!(
                "None of the locations [{}] is active in stream group {}.",
                wanted.join(", "),
                group.id
            )));
        };
        // Placement takes the first location, in the caller's order, with room for one more stream.
        let placed = candidates.iter().find(|l| {
            let reading = World::capacity(region, group, l);
            let ceiling = match l.config.maximum {
                Some(maximum) => maximum.max(l.config.always_on),
                None => l.config.always_on + l.config.on_demand.unwrap_or(0),
            };
            reading.in_use < ceiling
        });
        let location = placed.unwrap_or(first).name.clone();
        let placed = placed.is_some();
        let group_id = group.id.clone();
        let now = self.now();
        let id = self.world.new_id("", 13);
        let arn = self.world.arn(&self.region, &format!("streamsession/{group_id}/{id}"));
        let mut echo = input.rest;
        echo.retain(|k, _| {
            matches!(
                k.as_str(),
                "Protocol"
                    | "AdditionalLaunchArgs"
                    | "AdditionalEnvironmentVariables"
                    | "PerformanceStatsConfiguration"
                    | "DisplayConfiguration"
            )
        });
        let session = StreamSession {
            id: id.clone(),
            arn,
            group_id,
            status: StreamSessionStatus::Activating,
            status_reason: None,
            location,
            application_arn: app_arn,
            description: input.description,
            user_id: input.user_id,
            role_arn: input.role_arn,
            signal_request: input.signal_request,
            connection_timeout_seconds: input.connection_timeout_seconds.unwrap_or(DEFAULT_CONNECTION_TIMEOUT_SECONDS),
            session_length_seconds: input.session_length_seconds.unwrap_or(DEFAULT_SESSION_LENGTH_SECONDS),
            echo,
            created_at: now,
            last_updated_at: now,
            placed,
            application_started_at: None,
            streaming_started_at: None,
            streaming_ended_at: None,
            stuck: false,
            client_token: input.client_token.clone(),
        };
        let json = session_json(&session);
        let region = self.region();
        if let Some(token) = input.client_token {
            region.session_tokens.insert(token, id.clone());
        }
        region.sessions.insert(id, session);
        Ok(Some(json))
    }

    fn terminate_stream_session(&mut self, input: SessionById) -> Reply {
        let session = self.session(&input)?;
        if session.status == StreamSessionStatus::Activating {
            return Err(self.state_error(format!(
                "Stream session {} is ACTIVATING; it can be terminated once it is ACTIVE.",
                session.id
            )));
        }
        let id = session.id.clone();
        let now = self.now();
        let session = self.region().sessions.get_mut(&id).expect("found above");
        if !session.status.is_final() && session.status != StreamSessionStatus::Terminating {
            session.status = StreamSessionStatus::Terminating;
            session.status_reason = Some(StreamSessionStatusReason::ApiTerminated);
            session.last_updated_at = now;
            session.stuck = false;
        }
        Ok(None)
    }

    // ---- tags ----

    fn tags_mut(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, ApiError> {
        let id = resource_id(arn).to_owned();
        let found = self.region_ref().is_some_and(|r| {
            r.groups.get(&id).is_some_and(|g| g.arn == arn) || r.applications.get(&id).is_some_and(|a| a.arn == arn)
        });
        if !found {
            return Err(self.not_found(format!("Resource {arn} was not found.")));
        }
        let region = self.region();
        Ok(match region.groups.get_mut(&id) {
            Some(group) => &mut group.tags,
            None => &mut region.applications.get_mut(&id).expect("found above").tags,
        })
    }

    fn list_tags(&mut self, input: ResourceArnInput) -> Reply {
        let tags = self.tags_mut(&input.resource_arn)?.clone();
        Ok(Some(json!({ "Tags": tags })))
    }

    fn tag_resource(&mut self, input: ResourceArnInput) -> Reply {
        check_tags(&input.tags)?;
        let tags = self.tags_mut(&input.resource_arn)?;
        let total = tags.keys().chain(input.tags.keys().filter(|k| !tags.contains_key(*k))).count();
        if total > MAX_TAGS {
            return Err(ApiError::validation(format!(
                "Resource {} would have {total} tags; the limit is {MAX_TAGS}.",
                input.resource_arn
            )));
        }
        tags.extend(input.tags);
        Ok(Some(json!({})))
    }

    fn untag_resource(&mut self, input: ResourceArnInput) -> Reply {
        let tags = self.tags_mut(&input.resource_arn)?;
        for key in &input.tag_keys {
            tags.remove(key);
        }
        Ok(Some(json!({})))
    }

    // ---- applications ----

    fn create_application(&mut self, input: CreateApplicationInput) -> Reply {
        if let Some(id) = input.client_token.as_ref().and_then(|t| self.region_ref()?.application_tokens.get(t)) {
            let id = id.clone();
            return self.get_application(ById { identifier: id });
        }
        if !input.application_source_uri.starts_with("s3://") {
            return Err(ApiError::validation(format!(
                "ApplicationSourceUri {} must be an Amazon S3 URI (s3://bucket/prefix).",
                input.application_source_uri
            )));
        }
        check_tags(&input.tags)?;
        let now = self.now();
        let id = self.world.new_id("a-", 9);
        let arn = self.world.arn(&self.region, &format!("application/{id}"));
        let app = Application {
            id: id.clone(),
            arn,
            description: input.description,
            runtime_type: input.runtime_environment.kind,
            runtime_version: input.runtime_environment.version,
            executable_path: input.executable_path,
            source_uri: input.application_source_uri,
            log_paths: input.application_log_paths,
            log_output_uri: input.application_log_output_uri,
            status: "INITIALIZED".into(),
            created_at: now,
            last_updated_at: now,
            ready_at: Some(now + self.world.timings.application_ready),
            tags: input.tags,
        };
        let region = self.region();
        if let Some(token) = input.client_token {
            region.application_tokens.insert(token, id.clone());
        }
        region.applications.insert(id.clone(), app);
        self.get_application(ById { identifier: id })
    }

    fn list_applications(&mut self, input: Page) -> Reply {
        let Some(region) = self.region_ref() else {
            return Ok(Some(json!({ "Items": [] })));
        };
        let mut apps: Vec<&Application> = region.applications.values().collect();
        apps.sort_by_key(|a| (a.created_at, a.id.clone()));
        let keyed = apps.into_iter().map(|a| {
            let summary = json!({
                "Arn": a.arn, "Id": a.id, "Description": a.description, "Status": a.status,
                "CreatedAt": epoch(a.created_at), "LastUpdatedAt": epoch(a.last_updated_at),
                "RuntimeEnvironment": { "Type": a.runtime_type, "Version": a.runtime_version },
            });
            (sort_key(a.created_at, &a.id), summary)
        });
        paginate("ListApplications", keyed, input.next_token, input.max_results)
    }

    fn get_application(&mut self, input: ById) -> Reply {
        let app = self.application(&input.identifier)?;
        let region = self.region_ref().expect("application exists");
        Ok(Some(application_json(region, app)))
    }
}

fn cutoff_error(group: &StreamGroup) -> ApiError {
    ApiError::validation(format!(
        "Stream group {} is older than 180 days (created {}); it accepts no new application associations. Create a new stream group.",
        group.id,
        group.created_at.to_rfc3339()
    ))
}

fn check_distinct<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ApiError::validation(format!("Location {name} is listed more than once.")));
        }
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::validation(format!("{} tags given; the limit is {MAX_TAGS}.", tags.len())));
    }
    if let Some(key) = tags.keys().find(|k| k.to_ascii_lowercase().starts_with("aws:")) {
        return Err(ApiError::validation(format!("Tag key {key} is reserved: keys starting with aws: belong to AWS.")));
    }
    Ok(())
}

/// Validates one location's capacity settings against the documented rules and merges them
/// over `current` (UpdateStreamGroup changes only the fields it names).
fn location_config(
    class: &StreamClass,
    input: &LocationConfiguration,
    current: Option<&LocationConfig>,
) -> Result<LocationConfig, ApiError> {
    let name = &input.location_name;
    let named = [
        ("AlwaysOnCapacity", input.always_on_capacity),
        ("OnDemandCapacity", input.on_demand_capacity),
        ("TargetIdleCapacity", input.target_idle_capacity),
        ("MaximumCapacity", input.maximum_capacity),
    ];
    for (field, value) in named {
        if let Some(value) = value.filter(|v| !class.is_valid_capacity(*v)) {
            return Err(ApiError::validation(format!(
                "{field} {value} for location {name} is not a multiple of the tenancy ({}) of stream class {class}.",
                class.tenancy().unwrap_or(1)
            )));
        }
    }
    let default_on_demand = class.tenancy().unwrap_or(1);
    let mut config = current.cloned().unwrap_or(LocationConfig {
        always_on: 0,
        on_demand: None,
        target_idle: None,
        maximum: None,
        vpc_transit: None,
    });
    let uses_scaling = input.maximum_capacity.is_some() || input.target_idle_capacity.is_some();
    if input.on_demand_capacity.is_some() && uses_scaling {
        return Err(ApiError::validation(format!(
            "Location {name}: OnDemandCapacity cannot be combined with MaximumCapacity or TargetIdleCapacity."
        )));
    }
    if let Some(v) = input.always_on_capacity {
        config.always_on = v;
    }
    if let Some(v) = input.on_demand_capacity {
        config.on_demand = Some(v);
        config.maximum = None;
        config.target_idle = None;
    }
    if uses_scaling {
        config.on_demand = None;
        config.target_idle = input.target_idle_capacity.or(config.target_idle);
        config.maximum = input.maximum_capacity.or(config.maximum);
    }
    if current.is_none()
        && config.on_demand.is_none()
        && config.maximum.is_none()
        && config.target_idle.is_none()
        && config.always_on == 0
    {
        // A location configured with nothing gets the service's default on-demand capacity.
        config.on_demand = Some(default_on_demand);
    }
    if let (Some(maximum), Some(target_idle)) = (config.maximum, config.target_idle)
        && target_idle > maximum
    {
        return Err(ApiError::validation(format!(
            "Location {name}: TargetIdleCapacity {target_idle} exceeds MaximumCapacity {maximum}."
        )));
    }
    if input.vpc_transit_configuration.is_some() {
        config.vpc_transit = input.vpc_transit_configuration.clone();
    }
    Ok(config)
}

pub fn new_location(
    name: &str,
    config: LocationConfig,
    index: usize,
    ready_at: Option<DateTime<Utc>>,
) -> GroupLocation {
    GroupLocation {
        name: name.to_owned(),
        status: LocationStatus::Activating,
        config,
        transition_at: ready_at,
        internal_cidr: format!("10.{}.0.0/16", index % 256),
    }
}

// ---- pagination ----

fn sort_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{:020}/{id}", at.timestamp_millis())
}

/// Pages of at most `max_results` (default 25) with an opaque token naming the last item
/// returned, so items created or deleted between pages neither repeat nor shift the rest.
fn paginate(
    scope: &str,
    items: impl Iterator<Item = (String, Value)>,
    next_token: Option<String>,
    max_results: Option<usize>,
) -> Reply {
    let after = match next_token {
        Some(token) => Some(decode_token(scope, &token)?),
        None => None,
    };
    let size = max_results.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut page = Vec::with_capacity(size.min(100));
    let mut last_key = None;
    let mut more = false;
    for (key, item) in items.filter(|(key, _)| after.as_ref().is_none_or(|a| key > a)) {
        if page.len() == size {
            more = true;
            break;
        }
        last_key = Some(key);
        page.push(item);
    }
    let mut reply = json!({ "Items": page });
    if more && let Some(key) = last_key {
        reply["NextToken"] = Value::String(URL_SAFE_NO_PAD.encode(format!("{scope}|{key}")));
    }
    Ok(Some(reply))
}

fn decode_token(scope: &str, token: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(&format!("{scope}|")).map(str::to_owned))
        .ok_or_else(|| ApiError::validation(format!("The NextToken {token} is not valid for {scope}.")))
}

// ---- responses ----

/// Timestamps go out as epoch seconds (fractional): an ISO string breaks the SDK's parser.
pub fn epoch(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn default_application_json(group: &StreamGroup) -> Option<Value> {
    let arn = group.default_application.as_ref()?;
    Some(json!({ "Id": resource_id(arn), "Arn": arn }))
}

pub fn location_json(region: &Region, group: &StreamGroup, location: &GroupLocation) -> Value {
    let reading = World::capacity(region, group, location);
    let config = &location.config;
    let mut state = json!({
        "LocationName": location.name,
        "Status": location.status.as_str(),
        "AlwaysOnCapacity": config.always_on,
        "OnDemandCapacity": config.on_demand.unwrap_or(0),
        "TargetIdleCapacity": config.target_idle.unwrap_or(0),
        "MaximumCapacity": config.maximum.unwrap_or(config.always_on + config.on_demand.unwrap_or(0)),
        "RequestedCapacity": reading.requested,
        "AllocatedCapacity": reading.allocated,
        "IdleCapacity": reading.idle,
        "InternalVpcIpv4CidrBlock": location.internal_cidr,
    });
    if let Some(vpc) = &config.vpc_transit {
        state["VpcTransitConfiguration"] = json!({
            "VpcId": vpc.get("VpcId"),
            "Ipv4CidrBlocks": vpc.get("Ipv4CidrBlocks"),
        });
    }
    state
}

pub fn group_json(region: &Region, group: &StreamGroup) -> Value {
    let mut out = json!({
        "Arn": group.arn,
        "Id": group.id,
        "Description": group.description,
        "StreamClass": group.stream_class,
        "Status": group.status.as_str(),
        "CreatedAt": epoch(group.created_at),
        "LastUpdatedAt": epoch(group.last_updated_at),
        "ExpiresAt": epoch(group.expires_at),
        "AssociatedApplications": group.associated,
        "LocationStates": group.locations.iter().map(|l| location_json(region, group, l)).collect::<Vec<_>>(),
    });
    if let Some(reason) = &group.status_reason {
        out["StatusReason"] = Value::String(reason.clone());
    }
    if let Some(default) = default_application_json(group) {
        out["DefaultApplication"] = default;
    }
    out
}

fn group_summary_json(group: &StreamGroup) -> Value {
    let mut out = json!({
        "Arn": group.arn,
        "Id": group.id,
        "Description": group.description,
        "StreamClass": group.stream_class,
        "Status": group.status.as_str(),
        "CreatedAt": epoch(group.created_at),
        "LastUpdatedAt": epoch(group.last_updated_at),
        "ExpiresAt": epoch(group.expires_at),
    });
    if let Some(default) = default_application_json(group) {
        out["DefaultApplication"] = default;
    }
    out
}

fn insert_opt(out: &mut Value, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        out[key] = value.into();
    }
}

fn session_summary_json(session: &StreamSession) -> Value {
    let mut out = json!({
        "Arn": session.arn,
        "Status": session.status.as_str(),
        "Protocol": "WebRTC",
        "Location": session.location,
        "ApplicationArn": session.application_arn,
        "CreatedAt": epoch(session.created_at),
        "LastUpdatedAt": epoch(session.last_updated_at),
    });
    insert_opt(&mut out, "UserId", session.user_id.clone());
    insert_opt(&mut out, "RoleArn", session.role_arn.clone());
    insert_opt(&mut out, "StatusReason", session.status_reason.as_ref().map(|r| r.as_str().to_owned()));
    out
}

pub fn session_json(session: &StreamSession) -> Value {
    let mut out = session_summary_json(session);
    out["StreamGroupId"] = Value::String(session.group_id.clone());
    out["SignalRequest"] = Value::String(session.signal_request.clone());
    out["ConnectionTimeoutSeconds"] = session.connection_timeout_seconds.into();
    out["SessionLengthSeconds"] = session.session_length_seconds.into();
    out["WebSdkProtocolUrl"] = Value::String("https://emulator.invalid/gameliftstreams/websdk".into());
    for (key, value) in &session.echo {
        out[key.as_str()] = value.clone();
    }
    if !matches!(session.status, StreamSessionStatus::Activating | StreamSessionStatus::Error) {
        out["SignalResponse"] = Value::String(format!("emulated-signal-response-{}", session.id));
    }
    insert_opt(&mut out, "Description", session.description.clone());
    insert_opt(&mut out, "ApplicationStartedAt", session.application_started_at.map(epoch));
    insert_opt(&mut out, "StreamingStartedAt", session.streaming_started_at.map(epoch));
    insert_opt(&mut out, "StreamingEndedAt", session.streaming_ended_at.map(epoch));
    out
}

fn application_json(region: &Region, app: &Application) -> Value {
    let groups: Vec<&StreamGroup> = region.groups.values().filter(|g| g.associated.contains(&app.arn)).collect();
    let mut replication: Vec<Value> = groups
        .iter()
        .flat_map(|g| g.locations.iter().map(|l| l.name.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|location| json!({ "Location": location, "Status": "COMPLETED" }))
        .collect();
    if replication.is_empty() {
        replication.push(json!({ "Location": app.arn.split(':').nth(3).unwrap_or_default(), "Status": "COMPLETED" }));
    }
    let mut out = json!({
        "Arn": app.arn,
        "Id": app.id,
        "Description": app.description,
        "RuntimeEnvironment": { "Type": app.runtime_type, "Version": app.runtime_version },
        "ExecutablePath": app.executable_path,
        "ApplicationSourceUri": app.source_uri,
        "ApplicationLogPaths": app.log_paths,
        "Status": app.status,
        "ReplicationStatuses": replication,
        "CreatedAt": epoch(app.created_at),
        "LastUpdatedAt": epoch(app.last_updated_at),
        "AssociatedStreamGroups": groups.iter().map(|g| g.arn.clone()).collect::<Vec<_>>(),
    });
    insert_opt(&mut out, "ApplicationLogOutputUri", app.log_output_uri.clone());
    out
}
