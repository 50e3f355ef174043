//! Response bodies, member for member as the model's output shapes name them. Optional
//! members are left out rather than sent as null.

use super::resource_id;
use crate::state::{Application, EmulatedWorld, GroupLocation, Region, StreamGroup, StreamSession, StreamUrl};
use crate::vocabulary::{ReplicationStatus, SessionStatus};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Timestamps go out as epoch seconds (fractional): an ISO string breaks the SDK's parser.
pub fn epoch(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn insert_opt(out: &mut Value, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        out[key] = value.into();
    }
}

fn default_application_json(group: &StreamGroup) -> Option<Value> {
    let arn = group.default_application.as_ref()?;
    Some(json!({ "Id": resource_id(arn), "Arn": arn }))
}

pub fn location_json(region: &Region, group: &StreamGroup, location: &GroupLocation) -> Value {
    let reading = EmulatedWorld::capacity(region, group, location);
    let config = &location.config;
    let mut state = json!({
        "LocationName": location.name,
        "Status": location.status.as_str(),
        "AlwaysOnCapacity": config.always_on,
        "OnDemandCapacity": config.on_demand.unwrap_or(0),
        "TargetIdleCapacity": config.target_idle.unwrap_or(0),
        "MaximumCapacity": config.ceiling(),
        "RequestedCapacity": reading.requested,
        "AllocatedCapacity": reading.allocated,
        "IdleCapacity": reading.idle,
        "InternalVpcIpv4CidrBlock": location.internal_cidr,
    });
    if let Some(vpc) = &config.vpc_transit {
        state["VpcTransitConfiguration"] = json!({
            "VpcId": vpc.vpc_id,
            "Ipv4CidrBlocks": vpc.cidr_blocks,
            "TransitGatewayId": vpc.transit_gateway_id,
            "TransitGatewayResourceShareArn": vpc.resource_share_arn,
        });
    }
    state
}

pub fn group_json(region: &Region, group: &StreamGroup) -> Value {
    let mut out = group_summary_json(group);
    out["AssociatedApplications"] = json!(group.associated);
    out["LocationStates"] = group.locations.iter().map(|l| location_json(region, group, l)).collect();
    insert_opt(&mut out, "StatusReason", group.status_reason.clone());
    out
}

pub fn group_summary_json(group: &StreamGroup) -> Value {
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
    insert_opt(&mut out, "DefaultApplication", default_application_json(group));
    out
}

fn export_json(session: &StreamSession) -> Option<Value> {
    session.export.as_ref().map(|e| json!({ "Status": e.status.as_str(), "OutputUri": e.output_uri }))
}

pub fn session_summary_json(session: &StreamSession) -> Value {
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
    insert_opt(&mut out, "StatusReason", session.status_reason.map(|r| r.as_str()));
    insert_opt(&mut out, "ExportFilesMetadata", export_json(session));
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
    if !matches!(session.status, SessionStatus::Activating | SessionStatus::Error) {
        out["SignalResponse"] = Value::String(format!("emulated-signal-response-{}", session.id));
    }
    insert_opt(&mut out, "Description", session.description.clone());
    insert_opt(&mut out, "ApplicationStartedAt", session.application_started_at.map(epoch));
    insert_opt(&mut out, "StreamingStartedAt", session.streaming_started_at.map(epoch));
    insert_opt(&mut out, "StreamingEndedAt", session.streaming_ended_at.map(epoch));
    out
}

pub fn application_summary_json(app: &Application) -> Value {
    json!({
        "Arn": app.arn, "Id": app.id, "Description": app.description, "Status": app.status.as_str(),
        "CreatedAt": epoch(app.created_at), "LastUpdatedAt": epoch(app.last_updated_at),
        "RuntimeEnvironment": { "Type": app.runtime_type, "Version": app.runtime_version },
    })
}

pub fn application_json(region: &Region, app: &Application, now: DateTime<Utc>) -> Value {
    let groups = region.groups_associated_with(&app.arn);
    let replication: Vec<Value> = app
        .replication
        .keys()
        .map(|location| {
            let status = app.replication_status(location, now).unwrap_or(ReplicationStatus::Replicating);
            json!({ "Location": location, "Status": status.as_str() })
        })
        .collect();
    let mut out = application_summary_json(app);
    out["ExecutablePath"] = json!(app.executable_path);
    out["ApplicationSourceUri"] = json!(app.source_uri);
    out["ApplicationLogPaths"] = json!(app.log_paths);
    out["ReplicationStatuses"] = json!(replication);
    out["AssociatedStreamGroups"] = json!(groups);
    insert_opt(&mut out, "ApplicationLogOutputUri", app.log_output_uri.clone());
    insert_opt(&mut out, "StatusReason", app.status_reason.map(|r| r.as_str()));
    out
}

pub fn stream_url_summary_json(url: &StreamUrl, now: DateTime<Utc>) -> Value {
    let mut out = json!({
        "Arn": url.arn,
        "StreamUrlId": url.id,
        "StreamUrl": url.url,
        "Status": url.status(now).as_str(),
        "ExpiresAt": epoch(url.expires_at),
        "CreatedAt": epoch(url.created_at),
        "UsageLimit": url.usage_limit,
        "RemainingUses": url.remaining_uses,
        "StreamGroupArn": url.group_arn,
        "ApplicationArn": url.application_arn,
        "SessionLengthSeconds": url.session_length_seconds,
    });
    insert_opt(&mut out, "StatusReason", url.revoked.map(|r| r.as_str()));
    insert_opt(&mut out, "Description", url.description.clone());
    out
}

pub fn stream_url_json(region: &Region, url: &StreamUrl, now: DateTime<Utc>) -> Value {
    let mut out = stream_url_summary_json(url, now);
    out["Protocol"] = json!("WebRTC");
    out["Locations"] = json!(url.locations);
    for (key, value) in &url.echo {
        out[key.as_str()] = value.clone();
    }
    let sessions: Vec<Value> =
        url.session_ids.iter().filter_map(|id| region.sessions.get(id)).map(session_summary_json).collect();
    out["StreamSessions"] = json!(sessions);
    out
}
