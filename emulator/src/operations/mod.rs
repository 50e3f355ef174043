//! The thirty operations of the service model. Each takes the model-validated input
//! (PascalCase JSON) and answers what the service answers, including the documented rules the
//! model cannot express: tenancy multiples, status preconditions, the 180-day association
//! cutoff, expiry, replication, stream URL statuses. One module per resource.

mod applications;
mod groups;
mod responses;
mod sessions;
mod stream_urls;
mod tags;

pub use groups::new_location;
pub use responses::{epoch, group_json, location_json, session_json};
pub use stream_urls::use_stream_url;

use crate::error::ApiError;
use crate::facts::{self, ExpiredGroups};
use crate::service_model::Operation;
use crate::state::{Application, Region, StreamGroup, World};
use crate::vocabulary::{ApplicationStatus, StreamGroupStatus};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// The page size when a list call names no MaxResults.
const DEFAULT_PAGE_SIZE: usize = 25;

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
    "CreateStreamSessionConnection",
    "ExportStreamSessionFiles",
    "CreateStreamSessionAdminShell",
    "TagResource",
    "UntagResource",
    "CreateApplication",
    "UpdateApplication",
    "DeleteApplication",
    "CreateStreamUrl",
    "RevokeStreamUrl",
];

/// What an operation answers: a JSON body, or nothing (204 operations).
pub type Reply = Result<Option<Value>, ApiError>;

pub fn dispatch(world: &mut World, region: &str, op: &Operation, input: Value) -> Reply {
    world.advance();
    let mut call = Call { world, region: region.to_owned(), op };
    call.refuse_on_expired_group(&input)?;
    let reply = match op.name.as_str() {
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
        "CreateStreamSessionConnection" => call.create_connection(parse(input)?),
        "ExportStreamSessionFiles" => call.export_files(parse(input)?),
        "CreateStreamSessionAdminShell" => call.admin_shell(parse(input)?),
        "ListTagsForResource" => call.list_tags(parse(input)?),
        "TagResource" => call.tag_resource(parse(input)?),
        "UntagResource" => call.untag_resource(parse(input)?),
        "CreateApplication" => call.create_application(parse(input)?),
        "ListApplications" => call.list_applications(parse(input)?),
        "GetApplication" => call.get_application(parse(input)?),
        "UpdateApplication" => call.update_application(parse(input)?),
        "DeleteApplication" => call.delete_application(parse(input)?),
        "ListApplicationShaderCaches" => call.list_shader_caches(parse(input)?),
        "CreateStreamUrl" => call.create_stream_url(parse(input)?),
        "GetStreamUrl" => call.get_stream_url(parse(input)?),
        "ListStreamUrls" => call.list_stream_urls(parse(input)?),
        "RevokeStreamUrl" => call.revoke_stream_url(parse(input)?),
        _ => Err(ApiError::unknown_operation(&op.method, &op.name)),
    };
    if reply.is_ok() && MUTATING.contains(&op.name.as_str()) {
        // Settle what the change set in motion (placement, capacity plans) at this instant.
        world.advance();
    }
    reply
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

    /// Seed 000: "Only Get and Delete operations will work on an expired stream group."
    /// Applied to every operation that names a stream group, before anything else.
    fn refuse_on_expired_group(&self, input: &Value) -> Result<(), ApiError> {
        let name = self.op.name.as_str();
        if facts::EXPIRED_GROUP_OPERATIONS.contains(&name)
            || (self.world.behaviour.expired_groups == ExpiredGroups::Lenient
                && facts::EXPIRED_GROUP_LENIENT_READS.contains(&name))
        {
            return Ok(());
        }
        // The member that names a stream group, where the operation has one. Application
        // operations name an application in `Identifier`; no group has an application's id.
        let identifier = match name {
            "ListTagsForResource" | "TagResource" | "UntagResource" => input.get("ResourceArn"),
            "ListStreamUrls" => input.get("StreamGroupIdentifier"),
            _ => input.get("Identifier"),
        };
        let Some(group) = identifier.and_then(Value::as_str).and_then(|i| {
            self.region_ref()
                .and_then(|r| r.groups.get(resource_id(i)))
                .filter(|g| !i.starts_with("arn:") || g.arn == i)
        }) else {
            return Ok(());
        };
        if group.status == StreamGroupStatus::Expired {
            return Err(self.state_error(format!(
                "Stream group {} expired at {}; only GetStreamGroup and DeleteStreamGroup work on an expired stream group.",
                group.id,
                group.expires_at.to_rfc3339()
            )));
        }
        Ok(())
    }

    /// Refuses a group outside `allowed`.
    fn require_status(&self, group: &StreamGroup, allowed: &[StreamGroupStatus]) -> Result<(), ApiError> {
        if !allowed.contains(&group.status) {
            let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
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

    /// The ARN of the application `identifier` names; the model: "This application must be
    /// associated with the stream group."
    fn associated_application(&self, group: &StreamGroup, identifier: &str) -> Result<String, ApiError> {
        let arn = self.application(identifier)?.arn.clone();
        if !group.associated.contains(&arn) {
            return Err(ApiError::validation(format!(
                "Application {identifier} is not associated with stream group {}.",
                group.id
            )));
        }
        Ok(arn)
    }

    /// Seed 000: "The application that you specify must be in READY status."
    fn ready_application(&self, identifier: &str) -> Result<&Application, ApiError> {
        let app = self.application(identifier)?;
        if app.status != ApplicationStatus::Ready {
            let reason = app.status_reason.map(|r| format!(" ({r})")).unwrap_or_default();
            return Err(ApiError::validation(format!(
                "Application {} is in status {}{reason}; it must be READY.",
                app.id, app.status
            )));
        }
        Ok(app)
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
