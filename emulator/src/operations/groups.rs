//! Stream groups, their locations and capacity, and their application associations.

use super::responses::{group_json, group_summary_json, location_json};
use super::{ById, Call, Page, Reply, paginate};
use crate::error::ServiceError;
use crate::facts::{self, OmittedCapacity};
use crate::state::{ActivationOutcome, GroupLocation, LocationConfig, StreamGroup, VpcTransit};
use crate::supply::{self, Commitment};
use crate::vocabulary::{LocationStatus, SessionStatusReason, StreamGroupStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LocationConfiguration {
    location_name: String,
    always_on_capacity: Option<u32>,
    on_demand_capacity: Option<u32>,
    target_idle_capacity: Option<u32>,
    maximum_capacity: Option<u32>,
    vpc_transit_configuration: Option<VpcTransitInput>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VpcTransitInput {
    vpc_id: String,
    ipv4_cidr_blocks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateStreamGroupInput {
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
pub(super) struct UpdateStreamGroupInput {
    identifier: String,
    #[serde(default)]
    location_configurations: Vec<LocationConfiguration>,
    description: Option<String>,
    default_application_identifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AddLocationsInput {
    identifier: String,
    location_configurations: Vec<LocationConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemoveLocationsInput {
    identifier: String,
    locations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AssociationInput {
    identifier: String,
    application_identifiers: Vec<String>,
}

impl Call<'_> {
    pub(super) fn list_stream_groups(&mut self, input: Page) -> Reply {
        paginate("ListStreamGroups", self.listed_region().groups.values().collect(), group_summary_json, input)
    }

    pub(super) fn get_stream_group(&mut self, input: ById) -> Reply {
        let group = self.group(&input.identifier)?;
        Ok(Some(group_json(self.region_ref().expect("group exists"), group)))
    }

    pub(super) fn create_stream_group(&mut self, input: CreateStreamGroupInput) -> Reply {
        if let Some(existing) = input.client_token.as_ref().and_then(|t| self.region_ref()?.group_tokens.get(t)) {
            // Same token, same group: a retried create must not make a second one.
            let id = existing.clone();
            return self.get_stream_group(ById { identifier: id });
        }
        let class = input.stream_class.clone();
        let primary = self.region.clone();
        let mut configs = input.location_configurations.clone();
        if !configs.iter().any(|c| c.location_name == primary) {
            configs.insert(0, LocationConfiguration { location_name: primary.clone(), ..Default::default() });
        }
        check_distinct(configs.iter().map(|c| c.location_name.as_str()))?;
        let now = self.now();
        let mut locations = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            let settings = self.location_config(&class, config, None)?;
            locations.push(new_location(&config.location_name, settings, index, None));
        }
        check_tags(&input.tags)?;
        let default_application = match &input.default_application_identifier {
            Some(identifier) => Some(self.ready_application(identifier)?.arn.clone()),
            None => None,
        };
        let settings = locations.iter().map(|l| (l.name.as_str(), &l.config));
        supply::check_quota(self.world, &commitments(&class, settings, None)).map_err(ServiceError::quota)?;
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
            expires_at: now + facts::lifetime(),
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
        self.replicate_associations(&id);
        self.get_stream_group(ById { identifier: id })
    }

    pub(super) fn update_stream_group(&mut self, input: UpdateStreamGroupInput) -> Reply {
        let group = &self.group(&input.identifier)?.clone();
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let class = group.stream_class.clone();
        check_distinct(input.location_configurations.iter().map(|c| c.location_name.as_str()))?;
        let mut updates = Vec::new();
        for config in &input.location_configurations {
            let Some(location) = group.location(&config.location_name) else {
                return Err(ServiceError::validation(format!(
                    "Location {} is not part of stream group {}; add it with AddStreamGroupLocations.",
                    config.location_name, group.id
                )));
            };
            updates.push((config.location_name.clone(), self.location_config(&class, config, Some(&location.config))?));
        }
        let settings = updates.iter().map(|(name, config)| (name.as_str(), config));
        supply::check_quota(self.world, &commitments(&class, settings, Some(&group.id)))
            .map_err(ServiceError::quota)?;
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
        let id = group.id.clone();
        self.replicate_associations(&id);
        self.get_stream_group(ById { identifier: input.identifier })
    }

    pub(super) fn delete_stream_group(&mut self, input: ById) -> Reply {
        let now = self.now();
        let deletion = self.world.timings.deletion;
        let group = self.group_mut(&input.identifier)?;
        if group.status != StreamGroupStatus::Deleting {
            group.status = StreamGroupStatus::Deleting;
            group.last_updated_at = now;
            group.gone_at = Some(now + deletion);
        }
        let id = group.id.clone();
        // The model: "This operation stops streams in progress and prevents new streams from starting."
        for session in self.region().sessions.values_mut().filter(|s| s.group_id == id) {
            session.end(SessionStatusReason::ApiTerminated, now);
        }
        Ok(None)
    }

    pub(super) fn add_locations(&mut self, input: AddLocationsInput) -> Reply {
        let group = &self.group(&input.identifier)?.clone();
        let with_errors = self.world.behaviour.location_changes_with_errors.allows_add();
        self.require_status(group, location_change_statuses(with_errors))?;
        check_distinct(input.location_configurations.iter().map(|c| c.location_name.as_str()))?;
        let class = group.stream_class.clone();
        let mut added = Vec::new();
        for config in &input.location_configurations {
            if group.location(&config.location_name).is_some() {
                return Err(ServiceError::validation(format!(
                    "Location {} is already part of stream group {}.",
                    config.location_name, group.id
                )));
            }
            added.push((config.location_name.clone(), self.location_config(&class, config, None)?));
        }
        let settings = added.iter().map(|(name, config)| (name.as_str(), config));
        supply::check_quota(self.world, &commitments(&class, settings, None)).map_err(ServiceError::quota)?;
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
        let (id, arn) = (group.id.clone(), group.arn.clone());
        self.replicate_associations(&id);
        let group = self.group(&input.identifier)?;
        let region = self.region_ref().expect("group exists");
        let states: Vec<Value> =
            names.iter().filter_map(|n| group.location(n)).map(|l| location_json(region, group, l)).collect();
        Ok(Some(json!({ "Identifier": arn, "Locations": states })))
    }

    pub(super) fn remove_locations(&mut self, input: RemoveLocationsInput) -> Reply {
        let with_errors = self.world.behaviour.location_changes_with_errors.allows_remove();
        let group = self.group(&input.identifier)?;
        self.require_status(group, location_change_statuses(with_errors))?;
        for name in &input.locations {
            if name == &group.region {
                return Err(ServiceError::validation(format!(
                    "Location {name} is the primary location of stream group {}; the primary location cannot be removed.",
                    group.id
                )));
            }
            if group.location(name).is_none() {
                return Err(ServiceError::validation(format!(
                    "Location {name} is not part of stream group {}.",
                    group.id
                )));
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
        for session in
            self.region().sessions.values_mut().filter(|s| s.group_id == id && input.locations.contains(&s.location))
        {
            session.end(SessionStatusReason::ApiTerminated, now);
        }
        Ok(None)
    }

    pub(super) fn associate(&mut self, input: AssociationInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let ready = input.application_identifiers.iter().map(|id| self.ready_application(id).map(|a| a.arn.clone()));
        let arns = ready.collect::<Result<Vec<String>, ServiceError>>()?;
        if arns.iter().any(|arn| !group.associated.contains(arn)) && self.now() >= group.association_cutoff_at() {
            return Err(cutoff_error(group));
        }
        self.check_association_limits(group, &arns)?;
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
        let (id, arn) = (group.id.clone(), group.arn.clone());
        self.replicate_associations(&id);
        Ok(Some(json!({ "Arn": arn, "ApplicationArns": arns })))
    }

    /// The fixed limits: a group streams at most 100 applications and an application is in at
    /// most 100 groups (`facts::MAX_APPLICATIONS_PER_GROUP`); the model lists
    /// ServiceQuotaExceededException on AssociateApplications.
    fn check_association_limits(&self, group: &StreamGroup, arns: &[String]) -> Result<(), ServiceError> {
        let new: Vec<&String> = arns.iter().filter(|a| !group.associated.contains(a)).collect();
        let after = group.associated.len() + new.len();
        if after > facts::MAX_APPLICATIONS_PER_GROUP {
            return Err(ServiceError::quota(format!(
                "Stream group {} would have {after} applications; a stream group can have at most {} (not adjustable).",
                group.id,
                facts::MAX_APPLICATIONS_PER_GROUP
            )));
        }
        let region = self.region_ref().expect("group exists");
        for arn in new {
            let groups = region.groups_associated_with(arn).len();
            if groups + 1 > facts::MAX_GROUPS_PER_APPLICATION {
                return Err(ServiceError::quota(format!(
                    "Application {arn} is already in {groups} stream groups; an application can be in at most {} (not adjustable).",
                    facts::MAX_GROUPS_PER_APPLICATION
                )));
            }
        }
        Ok(())
    }

    pub(super) fn disassociate(&mut self, input: AssociationInput) -> Reply {
        let group = self.group(&input.identifier)?;
        self.require_status(group, &[StreamGroupStatus::Active])?;
        let named = input.application_identifiers.iter().map(|id| self.application(id).map(|a| a.arn.clone()));
        let arns = named.collect::<Result<Vec<String>, ServiceError>>()?;
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

    /// Seed 001: "An application must be finished replicating to a remote location before the
    /// remote location can host a stream." Every associated application starts replicating to
    /// every location of the group it has not reached yet.
    fn replicate_associations(&mut self, group_id: &str) {
        let completes_at = self.now() + self.world.timings.application_replication;
        let region = self.region();
        let Some(group) = region.groups.get(group_id) else { return };
        let locations: Vec<String> = group.locations.iter().map(|l| l.name.clone()).collect();
        for arn in group.associated.clone() {
            if let Some(app) = region.applications.values_mut().find(|a| a.arn == arn) {
                for location in &locations {
                    app.replicate_to(location, completes_at);
                }
            }
        }
    }

    /// Validates one location's capacity settings against the documented rules and resolves
    /// them: defaults for a new location, internal defaults (or the current values, when
    /// configured) for capacity fields an update leaves out.
    fn location_config(
        &mut self,
        class: &str,
        input: &LocationConfiguration,
        current: Option<&LocationConfig>,
    ) -> Result<LocationConfig, ServiceError> {
        let name = &input.location_name;
        let named = [
            ("AlwaysOnCapacity", input.always_on_capacity),
            ("OnDemandCapacity", input.on_demand_capacity),
            ("TargetIdleCapacity", input.target_idle_capacity),
            ("MaximumCapacity", input.maximum_capacity),
        ];
        for (field, value) in named {
            if let Some(value) = value.filter(|v| !facts::is_valid_capacity(class, *v)) {
                return Err(ServiceError::validation(format!(
                    "{field} {value} for location {name} is not a multiple of the tenancy ({}) of stream class {class}.",
                    facts::tenancy(class).unwrap_or(1)
                )));
            }
        }
        let uses_scaling = input.maximum_capacity.is_some() || input.target_idle_capacity.is_some();
        if input.on_demand_capacity.is_some() && uses_scaling {
            return Err(ServiceError::validation(format!(
                "Location {name}: OnDemandCapacity cannot be combined with MaximumCapacity or TargetIdleCapacity."
            )));
        }
        let names_capacity = named.iter().any(|(_, v)| v.is_some());
        let mut config = match current {
            // Seed 000: "By default, all locations have 1 or 2 capacity" (always-on).
            None if !names_capacity => LocationConfig {
                always_on: facts::default_always_on(class),
                on_demand: None,
                target_idle: None,
                maximum: None,
                vpc_transit: None,
            },
            None => LocationConfig {
                always_on: input.always_on_capacity.unwrap_or(0),
                on_demand: input.on_demand_capacity,
                target_idle: input.target_idle_capacity,
                maximum: input.maximum_capacity,
                vpc_transit: None,
            },
            Some(current) if !names_capacity => current.clone(),
            Some(current) => match self.world.behaviour.omitted_capacity {
                // The model: "If you omit one or more of these values, the service applies
                // internal defaults for the missing values."
                OmittedCapacity::Reset => {
                    let always_on = input.always_on_capacity.unwrap_or(0);
                    LocationConfig {
                        always_on,
                        on_demand: input.on_demand_capacity,
                        target_idle: input
                            .on_demand_capacity
                            .is_none()
                            .then(|| input.target_idle_capacity.unwrap_or(0)),
                        maximum: input
                            .on_demand_capacity
                            .is_none()
                            .then(|| input.maximum_capacity.unwrap_or(always_on)),
                        vpc_transit: current.vpc_transit.clone(),
                    }
                }
                OmittedCapacity::Keep => {
                    let mut kept = current.clone();
                    if let Some(v) = input.always_on_capacity {
                        kept.always_on = v;
                    }
                    if let Some(v) = input.on_demand_capacity {
                        kept.on_demand = Some(v);
                        kept.maximum = None;
                        kept.target_idle = None;
                    }
                    if uses_scaling {
                        kept.on_demand = None;
                        kept.target_idle = input.target_idle_capacity.or(kept.target_idle);
                        kept.maximum = input.maximum_capacity.or(kept.maximum);
                    }
                    kept
                }
            },
        };
        if let (Some(target_idle), maximum) = (config.target_idle, config.ceiling())
            && target_idle > maximum
        {
            return Err(ServiceError::validation(format!(
                "Location {name}: TargetIdleCapacity {target_idle} exceeds MaximumCapacity {maximum}."
            )));
        }
        if let Some(vpc) = &input.vpc_transit_configuration {
            config.vpc_transit = Some(match current.map(|c| &c.vpc_transit) {
                None => self.new_vpc_transit(vpc),
                // The model: "The VPC ID cannot be changed after the stream group is created, but
                // you can update the CIDR blocks by calling UpdateStreamGroup."
                Some(Some(existing)) if existing.vpc_id == vpc.vpc_id => {
                    VpcTransit { cidr_blocks: vpc.ipv4_cidr_blocks.clone(), ..existing.clone() }
                }
                Some(Some(existing)) => {
                    return Err(ServiceError::validation(format!(
                        "Location {name}: the VPC ID cannot be changed after the stream group is created (it is {}, not {}).",
                        existing.vpc_id, vpc.vpc_id
                    )));
                }
                Some(None) => {
                    return Err(ServiceError::validation(format!(
                        "Location {name} was created without VPC transit; it can only be set when the stream group is created."
                    )));
                }
            });
        }
        Ok(config)
    }

    fn new_vpc_transit(&mut self, vpc: &VpcTransitInput) -> VpcTransit {
        let gateway = format!("tgw-{}", self.world.new_hex_id(17));
        let share = self.world.new_hex_id(32);
        VpcTransit {
            vpc_id: vpc.vpc_id.clone(),
            cidr_blocks: vpc.ipv4_cidr_blocks.clone(),
            transit_gateway_id: gateway,
            resource_share_arn: format!("arn:aws:ram:{}:{}:resource-share/{share}", self.region, self.world.account_id),
        }
    }
}

fn cutoff_error(group: &StreamGroup) -> ServiceError {
    ServiceError::validation(format!(
        "Stream group {} is older than {} days (created {}); it accepts no new application associations. Create a new stream group.",
        group.id,
        facts::ASSOCIATION_CUTOFF_DAYS,
        group.created_at.to_rfc3339()
    ))
}

fn check_distinct<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), ServiceError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ServiceError::validation(format!("Location {name} is listed more than once.")));
        }
    }
    Ok(())
}

pub(super) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ServiceError> {
    if tags.len() > facts::MAX_TAGS {
        return Err(ServiceError::validation(format!("{} tags given; the limit is {}.", tags.len(), facts::MAX_TAGS)));
    }
    if let Some(key) = tags.keys().find(|k| k.to_ascii_lowercase().starts_with(facts::RESERVED_TAG_PREFIX)) {
        return Err(ServiceError::validation(format!(
            "Tag key {key} is reserved: keys starting with aws: belong to AWS."
        )));
    }
    Ok(())
}

pub fn new_location(
    name: &str,
    config: LocationConfig,
    index: usize,
    ready_at: Option<chrono::DateTime<chrono::Utc>>,
) -> GroupLocation {
    GroupLocation {
        name: name.to_owned(),
        status: LocationStatus::Activating,
        config,
        transition_at: ready_at,
        internal_cidr: format!("10.{}.0.0/16", index % 256),
        allocated: 0,
        arriving_at: None,
        surplus_since: None,
    }
}

/// The statuses AddStreamGroupLocations or RemoveStreamGroupLocations is accepted in, by the
/// reading taken of ACTIVE_WITH_ERRORS (`facts::LocationChangesWithErrors`).
fn location_change_statuses(with_errors: bool) -> &'static [StreamGroupStatus] {
    if with_errors {
        &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors]
    } else {
        &[StreamGroupStatus::Active]
    }
}

/// The always-on capacity a request commits in each location, for the GPU quota check;
/// `replaces` names the group whose current settings an update replaces.
fn commitments<'a>(
    class: &'a str,
    settings: impl Iterator<Item = (&'a str, &'a LocationConfig)>,
    replaces: Option<&'a str>,
) -> Vec<Commitment<'a>> {
    settings.map(|(location, config)| Commitment { class, location, always_on: config.always_on, replaces }).collect()
}
