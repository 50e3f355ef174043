//! What a replacement carries over from the group it replaces. One list, [`CARRIED`], names
//! every member of the model's CreateStreamGroupInput and LocationConfiguration with what the
//! recycler sends for it; a test (tests/carried_settings.rs) fails when the model grows a
//! member this list does not name, so a new setting cannot be silently dropped again.

use crate::config::Settings;
use watchdog_core::ports::{CreateGroupRequest, LocationSpec, Tags, VpcTransitSettings};
use watchdog_core::tags::recycle as state;
use watchdog_core::{Capacity, Location, StreamGroup};

/// Every member of the model's inputs that build a replacement, and where its value comes from.
pub const CARRIED: &[(&str, &str, &str)] = &[
    ("CreateStreamGroupInput", "Description", "the old group's description"),
    ("CreateStreamGroupInput", "StreamClass", "the old group's stream class"),
    (
        "CreateStreamGroupInput",
        "DefaultApplicationIdentifier",
        "the old group's default application when READY, else a READY associated one",
    ),
    ("CreateStreamGroupInput", "LocationConfigurations", "every location of the old group, primary first"),
    ("CreateStreamGroupInput", "Tags", "the old group's user tags, and the watchdog's link to it"),
    (
        "CreateStreamGroupInput",
        "ClientToken",
        "derived from the old group and the attempt (a retry returns the same group)",
    ),
    ("LocationConfiguration", "LocationName", "the location's name"),
    ("LocationConfiguration", "AlwaysOnCapacity", "as reported"),
    ("LocationConfiguration", "TargetIdleCapacity", "as reported (not with the deprecated on-demand form)"),
    ("LocationConfiguration", "MaximumCapacity", "as reported (not with the deprecated on-demand form)"),
    ("LocationConfiguration", "OnDemandCapacity", "as reported, only for a location on the deprecated form"),
    (
        "LocationConfiguration",
        "VpcTransitConfiguration",
        "the VPC id and CIDR blocks as reported; the Transit Gateway is new (manual steps in the cut-over message)",
    ),
];

pub use watchdog_core::tags::MAX_TAGS_PER_RESOURCE as MAX_TAGS;
/// Tags the recycler writes on a replacement when creating it: the link to the old group,
/// its own marker (the IAM condition on CreateStreamGroup) and the attempt.
const CREATE_TAGS: usize = 3;
/// Tags written on a replacement later: the retirement, the backend's acknowledgement, the
/// cut-over time and, when the old group is EXPIRED, a failure's back-off.
const LATER_TAGS: usize = 4;

/// How many of a group's user tags a replacement can carry.
pub const fn user_tag_room() -> usize {
    MAX_TAGS - CREATE_TAGS - LATER_TAGS
}

/// The settings to restore from what GetStreamGroup reports: the deprecated on-demand
/// form when only on-demand capacity is set, the maximum/target-idle form otherwise (the
/// service refuses the two together), and the location's VPC transit.
pub fn location_spec(location: &Location) -> LocationSpec {
    let c: &Capacity = &location.capacity;
    let on_demand_only = c.on_demand.unwrap_or(0) > 0 && c.target_idle.unwrap_or(0) == 0 && c.maximum.is_none();
    LocationSpec {
        name: location.name.clone(),
        always_on: c.always_on.unwrap_or(0),
        target_idle: if on_demand_only { None } else { c.target_idle.filter(|t| *t > 0) },
        maximum: if on_demand_only { None } else { c.maximum },
        on_demand: if on_demand_only { c.on_demand } else { None },
        vpc_transit: location
            .vpc_transit
            .as_ref()
            .map(|v| VpcTransitSettings { vpc_id: v.vpc_id.clone(), ipv4_cidr_blocks: v.ipv4_cidr_blocks.clone() }),
    }
}

/// The old group's user tags: everything but AWS's and the watchdog's own state.
pub fn user_tags(group: &StreamGroup, settings: &Settings) -> Tags {
    group
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:") && !state::is_watchdog_state(k, &settings.alert_tag_prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The request that rebuilds `group` ([`CARRIED`]), with `default_application` as its default.
pub fn create_request(
    group: &StreamGroup,
    default_application: Option<String>,
    attempt: u32,
    settings: &Settings,
) -> CreateGroupRequest {
    let mut tags = user_tags(group, settings);
    tags.insert(state::REPLACES.into(), group.id.clone());
    tags.insert(state::MANAGED_BY.into(), "gls-watchdog-recycler".into());
    tags.insert(state::REPLACEMENT_ATTEMPT.into(), attempt.to_string());
    let mut locations: Vec<LocationSpec> = group.locations.iter().map(location_spec).collect();
    // The primary location first, as the service lists it.
    locations.sort_by_key(|l| !group.is_primary_location(&l.name));
    CreateGroupRequest {
        description: group.description.clone().unwrap_or_else(|| format!("replacement for {}", group.id)),
        stream_class: group.stream_class.as_ref().map(|c| c.name().to_owned()).unwrap_or_default(),
        default_application,
        locations,
        tags,
        client_token: format!("gls-watchdog-recycle-{}-attempt-{attempt:04}", group.id),
    }
}
