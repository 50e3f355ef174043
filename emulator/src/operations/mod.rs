//! The operations of the service model, one row each in [`OPERATIONS`]. Each takes the model-validated input
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

use crate::error::{ErrorShape, ServiceError};
use crate::facts::{self, ExpiredGroups, LimitSource};
use crate::service_model::ModelOperation;
use crate::state::{Application, EmulatedWorld, Region, StreamGroup, StreamSession, StreamUrl};
use crate::vocabulary::{ApplicationStatus, StreamGroupStatus};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// The page size when a list call names no MaxResults.
const DEFAULT_PAGE_SIZE: usize = 25;

/// One row per operation of the model, in the model's order of resources.
///
/// - `mutating`: the call changes the world; the counters report such calls apart (dry runs
///   must make none) and the world settles what the change set in motion.
/// - `group`: the input member that names a stream group, for seed 000's "Only Get and
///   Delete operations will work on an expired stream group" (application operations name an
///   application in `Identifier`, so they have none).
/// - the rate limit, requests per second per account and Region: the developer guide's "API
///   rate limits" page for every operation it lists (`Guide`); the rest `Assumed` like their
///   nearest kin (creating and revoking like the other writes, reads like reads, the admin
///   shell like the other per-session calls).
pub const OPERATIONS: &[OperationSpec] = {
    use LimitSource::{Assumed, DeveloperGuide as Guide};
    macro_rules! row {
        ($name:literal, $handler:ident, mutating: $mutating:literal, group: $group:expr, $rate:literal, $source:ident) => {
            OperationSpec {
                name: $name,
                handle: |call, input| call.$handler(parse(input)?),
                mutating: $mutating,
                group_member: $group,
                rate_limit: $rate,
                rate_source: $source,
            }
        };
    }
    &[
        row!("ListStreamGroups", list_stream_groups, mutating: false, group: None, 10.0, Guide),
        row!("GetStreamGroup", get_stream_group, mutating: false, group: Some("Identifier"), 10.0, Guide),
        row!("CreateStreamGroup", create_stream_group, mutating: true, group: None, 1.0, Guide),
        row!("UpdateStreamGroup", update_stream_group, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("DeleteStreamGroup", delete_stream_group, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("AddStreamGroupLocations", add_locations, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("RemoveStreamGroupLocations", remove_locations, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("AssociateApplications", associate, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("DisassociateApplications", disassociate, mutating: true, group: Some("Identifier"), 5.0, Guide),
        row!("ListStreamSessions", list_stream_sessions, mutating: false, group: Some("Identifier"), 20.0, Guide),
        row!("ListStreamSessionsByAccount", list_sessions_by_account, mutating: false, group: None, 20.0, Guide),
        row!("GetStreamSession", get_stream_session, mutating: false, group: Some("Identifier"), 20.0, Guide),
        row!("StartStreamSession", start_stream_session, mutating: true, group: Some("Identifier"), 20.0, Guide),
        row!("TerminateStreamSession", terminate_stream_session, mutating: true, group: Some("Identifier"), 20.0, Guide),
        row!("CreateStreamSessionConnection", create_connection, mutating: true, group: Some("Identifier"), 20.0, Guide),
        row!("ExportStreamSessionFiles", export_files, mutating: true, group: Some("Identifier"), 20.0, Guide),
        row!("CreateStreamSessionAdminShell", admin_shell, mutating: true, group: Some("Identifier"), 20.0, Assumed),
        row!("ListTagsForResource", list_tags, mutating: false, group: Some("ResourceArn"), 10.0, Guide),
        row!("TagResource", tag_resource, mutating: true, group: Some("ResourceArn"), 10.0, Guide),
        row!("UntagResource", untag_resource, mutating: true, group: Some("ResourceArn"), 10.0, Guide),
        row!("CreateApplication", create_application, mutating: true, group: None, 5.0, Guide),
        row!("ListApplications", list_applications, mutating: false, group: None, 10.0, Guide),
        row!("GetApplication", get_application, mutating: false, group: None, 10.0, Guide),
        row!("UpdateApplication", update_application, mutating: true, group: None, 5.0, Guide),
        row!("DeleteApplication", delete_application, mutating: true, group: None, 5.0, Guide),
        row!("ListApplicationShaderCaches", list_shader_caches, mutating: false, group: None, 10.0, Assumed),
        row!("CreateStreamUrl", create_stream_url, mutating: true, group: Some("Identifier"), 5.0, Assumed),
        row!("GetStreamUrl", get_stream_url, mutating: false, group: Some("Identifier"), 10.0, Assumed),
        row!("ListStreamUrls", list_stream_urls, mutating: false, group: Some("StreamGroupIdentifier"), 10.0, Assumed),
        row!("RevokeStreamUrl", revoke_stream_url, mutating: true, group: Some("Identifier"), 5.0, Assumed),
    ]
};

/// What the emulator knows of one operation besides its shape in the model.
pub struct OperationSpec {
    pub name: &'static str,
    handle: fn(&mut Call<'_>, Value) -> Reply,
    pub mutating: bool,
    pub group_member: Option<&'static str>,
    pub rate_limit: f64,
    pub rate_source: LimitSource,
}

/// The row of `name`, if the emulator implements it.
pub fn spec(name: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().find(|spec| spec.name == name)
}

/// Requests per second per account and Region of `operation`, and where the figure comes from.
pub fn rate_limit(operation: &str) -> Option<(f64, LimitSource)> {
    spec(operation).map(|spec| (spec.rate_limit, spec.rate_source))
}

/// Whether `name` changes the world (see [`OPERATIONS`]).
pub fn is_mutating(name: &str) -> bool {
    spec(name).is_some_and(|spec| spec.mutating)
}

/// What an operation answers: a JSON body, or nothing (204 operations).
pub type Reply = Result<Option<Value>, ServiceError>;

pub fn dispatch(world: &mut EmulatedWorld, region: &str, op: &ModelOperation, input: Value) -> Reply {
    let Some(spec) = spec(&op.name) else { return Err(ServiceError::unknown_operation(&op.method, &op.name)) };
    world.advance();
    let mut call = Call { world, region: region.to_owned(), op };
    call.refuse_on_expired_group(spec, &input)?;
    let reply = (spec.handle)(&mut call, input);
    if reply.is_ok() && spec.mutating {
        // Settle what the change set in motion (placement, capacity plans) at this instant.
        world.advance();
    }
    reply
}

fn parse<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, ServiceError> {
    serde_json::from_value(input).map_err(|e| ServiceError::validation(format!("invalid request: {e}")))
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
    world: &'w mut EmulatedWorld,
    region: String,
    op: &'w ModelOperation,
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

    /// The region as a list operation sees it: one nothing was ever created in lists nothing.
    fn listed_region(&self) -> &Region {
        static NOTHING_CREATED: std::sync::LazyLock<Region> = std::sync::LazyLock::new(Region::default);
        self.region_ref().unwrap_or(&NOTHING_CREATED)
    }

    /// A precondition the resource's state does not meet: Conflict where the model allows it.
    fn state_error(&self, message: String) -> ServiceError {
        self.error_or_validation(ErrorShape::ConflictException, message)
    }

    fn not_found(&self, message: String) -> ServiceError {
        self.error_or_validation(ErrorShape::ResourceNotFoundException, message)
    }

    /// `shape` where the model lists it among the operation's errors, else ValidationException
    /// (which every operation may return).
    fn error_or_validation(&self, shape: ErrorShape, message: String) -> ServiceError {
        if self.op.may_return(shape.name()) {
            ServiceError::new(shape, message)
        } else {
            ServiceError::validation(message)
        }
    }

    fn group(&self, identifier: &str) -> Result<&StreamGroup, ServiceError> {
        let id = resource_id(identifier);
        self.region_ref()
            .and_then(|r| r.groups.get(id))
            .ok_or_else(|| self.not_found(format!("Stream group {identifier} was not found.")))
    }

    fn group_mut(&mut self, identifier: &str) -> Result<&mut StreamGroup, ServiceError> {
        self.group(identifier)?;
        let id = resource_id(identifier).to_owned();
        Ok(self.region().groups.get_mut(&id).expect("checked above"))
    }

    /// Seed 000: "Only Get and Delete operations will work on an expired stream group."
    /// Applied to every operation that names a stream group, before anything else.
    fn refuse_on_expired_group(&self, spec: &OperationSpec, input: &Value) -> Result<(), ServiceError> {
        let name = self.op.name.as_str();
        if facts::EXPIRED_GROUP_OPERATIONS.contains(&name)
            || (self.world.behaviour.expired_groups == ExpiredGroups::Lenient
                && facts::EXPIRED_GROUP_LENIENT_READS.contains(&name))
        {
            return Ok(());
        }
        let identifier = spec.group_member.and_then(|member| input.get(member));
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
    fn require_status(&self, group: &StreamGroup, allowed: &[StreamGroupStatus]) -> Result<(), ServiceError> {
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

    fn application(&self, identifier: &str) -> Result<&Application, ServiceError> {
        let id = resource_id(identifier);
        self.region_ref()
            .and_then(|r| r.applications.get(id))
            .ok_or_else(|| self.not_found(format!("Application {identifier} was not found.")))
    }

    /// The ARN of the application `identifier` names; the model: "This application must be
    /// associated with the stream group."
    fn associated_application(&self, group: &StreamGroup, identifier: &str) -> Result<String, ServiceError> {
        let arn = self.application(identifier)?.arn.clone();
        if !group.associated.contains(&arn) {
            return Err(ServiceError::validation(format!(
                "Application {identifier} is not associated with stream group {}.",
                group.id
            )));
        }
        Ok(arn)
    }

    /// Seed 000: "The application that you specify must be in READY status."
    fn ready_application(&self, identifier: &str) -> Result<&Application, ServiceError> {
        let app = self.application(identifier)?;
        if app.status != ApplicationStatus::Ready {
            let reason = app.status_reason.map(|r| format!(" ({r})")).unwrap_or_default();
            return Err(ServiceError::validation(format!(
                "Application {} is in status {}{reason}; it must be READY.",
                app.id, app.status
            )));
        }
        Ok(app)
    }
}

// ---- pagination ----

/// What a list operation lists, in creation order, then by id: the position a token names.
trait Listed {
    fn created_at(&self) -> DateTime<Utc>;
    fn id(&self) -> &str;

    fn sort_key(&self) -> String {
        format!("{:020}/{}", self.created_at().timestamp_millis(), self.id())
    }
}

macro_rules! listed {
    ($($kind:ty),*) => {$(
        impl Listed for $kind {
            fn created_at(&self) -> DateTime<Utc> {
                self.created_at
            }
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}
listed!(StreamGroup, Application, StreamSession, StreamUrl);

/// `items` in creation order, in pages of at most `max_results` (default 25), each item as
/// `summary` describes it, with an opaque token naming the last item returned, so items
/// created or deleted between pages neither repeat nor shift the rest.
fn paginate<T: Listed>(scope: &str, items: Vec<&T>, summary: impl Fn(&T) -> Value, input: Page) -> Reply {
    let mut items: Vec<(String, &T)> = items.into_iter().map(|item| (item.sort_key(), item)).collect();
    items.sort_by(|(a, _), (b, _)| a.cmp(b));
    let Page { next_token, max_results } = input;
    let after = match next_token {
        Some(token) => Some(decode_token(scope, &token)?),
        None => None,
    };
    let size = max_results.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut page = Vec::with_capacity(size.min(100));
    let mut last_key = None;
    let mut more = false;
    for (key, item) in items.into_iter().filter(|(key, _)| after.as_ref().is_none_or(|a| key > a)) {
        if page.len() == size {
            more = true;
            break;
        }
        last_key = Some(key);
        page.push(summary(item));
    }
    let mut reply = json!({ "Items": page });
    if more && let Some(key) = last_key {
        reply["NextToken"] = Value::String(URL_SAFE_NO_PAD.encode(format!("{scope}|{key}|{}", token_mac(scope, &key))));
    }
    Ok(Some(reply))
}

/// A keyed hash of a token's scope and position: a token the emulator did not issue (made up,
/// or edited) is refused like any invalid one, as the service refuses tokens it did not issue.
/// The key is random per process, so tokens do not outlive the emulator.
fn token_mac(scope: &str, key: &str) -> String {
    use std::hash::BuildHasher;
    static SECRET: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    format!("{:016x}", SECRET.get_or_init(Default::default).hash_one((scope, key)))
}

fn decode_token(scope: &str, token: &str) -> Result<String, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(&format!("{scope}|")).map(str::to_owned))
        .and_then(|rest| rest.rsplit_once('|').map(|(key, mac)| (key.to_owned(), mac.to_owned())))
        .filter(|(key, mac)| *mac == token_mac(scope, key))
        .map(|(key, _)| key)
        .ok_or_else(|| ServiceError::validation(format!("The NextToken {token} is not valid for {scope}.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_model::ServiceModel;

    #[test]
    fn every_model_operation_has_one_row() {
        let model = ServiceModel::load();
        let names: Vec<&str> = model.operation_names().collect();
        for name in &names {
            assert!(spec(name).is_some(), "{name} has no row");
        }
        assert_eq!(OPERATIONS.len(), names.len(), "one row per operation, none beyond the model");
    }
}
