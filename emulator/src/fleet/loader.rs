//! Loading a checked fleet, in steps: the applications, then each stream group (its
//! locations, its status, its sessions, the capacity they occupy, its stream URLs), then
//! replication, then everything into the world at once. Each step refuses the whole file with
//! a message naming the bad entry; nothing reaches the world before every step has passed.

use super::{
    Fleet, FleetApplication, FleetGroup, FleetLocation, FleetSession, FleetStreamUrl, LoadSummary, MAX_MINUTES, days,
    in_range, known, minutes,
};
use crate::facts;
use crate::operations::new_location;
use crate::state::{
    ActivationOutcome, Application, EmulatedWorld, GroupLocation, LocationConfig, ShaderCache, StreamGroup,
    StreamSession, StreamUrl, VpcTransit,
};
use crate::vocabulary::{
    ApplicationStatus, ApplicationStatusReason, LocationStatus, RuntimeType, SessionStatus, SessionStatusReason,
    ShaderCacheStatus, StreamGroupStatus, StreamGroupStatusReason, StreamUrlStatusReason,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

pub(super) fn load_checked(world: &mut EmulatedWorld, fleet: &Fleet) -> Result<LoadSummary, String> {
    let mut loader = Loader { now: world.now(), world, app_arns: HashMap::new(), loaded: Loaded::default() };
    for (i, spec) in fleet.applications.iter().enumerate() {
        loader.application(&format!("applications[{i}]"), spec, fleet)?;
    }
    for (g, spec) in fleet.stream_groups.iter().enumerate() {
        let field = format!("stream_groups[{g}]");
        let mut group = loader.group(&field, spec)?;
        let sessions = loader.sessions(&field, spec, &group)?;
        settle_capacity(&field, spec, &mut group, &sessions)?;
        for (u, url) in spec.stream_urls.iter().enumerate() {
            let url = loader.stream_url(&format!("{field}.stream_urls[{u}]"), url, &group)?;
            loader.loaded.stream_urls.push((group.region.clone(), url));
        }
        loader.loaded.sessions.extend(sessions.into_iter().map(|s| (group.region.clone(), s)));
        loader.loaded.groups.push(group);
    }
    loader.loaded.mark_replication();
    Ok(loader.loaded.commit(loader.world))
}

/// Everything a fleet makes, held until every entry has been checked.
#[derive(Default)]
struct Loaded {
    /// Region, application, and the locations it is still replicating to.
    applications: Vec<(String, Application, Vec<String>)>,
    groups: Vec<StreamGroup>,
    sessions: Vec<(String, StreamSession)>,
    stream_urls: Vec<(String, StreamUrl)>,
}

struct Loader<'w> {
    world: &'w mut EmulatedWorld,
    now: DateTime<Utc>,
    /// Application ARNs by the fleet's keys.
    app_arns: HashMap<String, String>,
    loaded: Loaded,
}

/// `<group field>.locations[<n>]` for the location named `name`, as the file lists it.
fn location_field(field: &str, spec: &FleetGroup, name: &str) -> String {
    format!("{field}.locations[{}]", spec.locations.iter().position(|x| x.name == name).unwrap_or_default())
}

impl Loader<'_> {
    /// The ARN of the application with `key`, or an error naming `field`.
    fn app(&self, key: &str, field: &str) -> Result<String, String> {
        self.app_arns.get(key).cloned().ok_or_else(|| format!("{field}: no application with key {key:?} in this fleet"))
    }

    /// The application an entry names by `key`, or else its group's default; `field` names the
    /// entry's `application` in an error.
    fn app_or_default(&self, key: Option<&String>, group: &StreamGroup, field: &str) -> Result<String, String> {
        match key {
            Some(key) => self.app(key, field),
            None => group
                .default_application
                .clone()
                .ok_or_else(|| format!("{field}: the group has no default application to use")),
        }
    }

    fn app_created(&self, arn: &str) -> Option<DateTime<Utc>> {
        self.loaded.applications.iter().find(|(_, a, _)| a.arn == arn).map(|(_, a, _)| a.created_at)
    }

    fn application(&mut self, field: &str, spec: &FleetApplication, fleet: &Fleet) -> Result<(), String> {
        if self.app_arns.contains_key(&spec.key) {
            return Err(format!("{field}.key: {:?} is used twice", spec.key));
        }
        known(RuntimeType::parse, &spec.runtime_type, &format!("{field}.runtime_type"))?;
        let status = match &spec.status {
            Some(s) => known(ApplicationStatus::parse, s, &format!("{field}.status"))?,
            None => ApplicationStatus::Ready,
        };
        let status_reason = match &spec.status_reason {
            Some(r) => Some(known(ApplicationStatusReason::parse, r, &format!("{field}.status_reason"))?),
            None => None,
        };
        if (status == ApplicationStatus::Error) != status_reason.is_some() {
            return Err(format!(
                "{field}.status_reason: an application in ERROR needs a reason (internalError, accessDenied or sourceModified), and only one in ERROR has one"
            ));
        }
        let world = &mut *self.world;
        let region = spec.region.clone().unwrap_or_else(|| world.default_region.clone());
        let id = spec.id.clone().unwrap_or_else(|| world.new_id("a-", 9));
        let arn = world.arn(&region, &format!("application/{id}"));
        // By default, a day older than the oldest group that uses it (or 30 days).
        let age = spec.created_days_ago.unwrap_or_else(|| {
            let users = fleet
                .stream_groups
                .iter()
                .filter(|g| g.default_application.as_ref() == Some(&spec.key) || g.applications.contains(&spec.key));
            users.map(|g| g.created_days_ago + 1.0).fold(30.0, f64::max)
        });
        let created = self.now - days(age);
        let mut shader_caches = Vec::new();
        for (c, cache) in spec.shader_caches.iter().enumerate() {
            let cfield = format!("{field}.shader_caches[{c}]");
            let status = known(ShaderCacheStatus::parse, &cache.status, &format!("{cfield}.status"))?;
            if cache.storage_bytes < 0 {
                return Err(format!("{cfield}.storage_bytes: {} is negative", cache.storage_bytes));
            }
            shader_caches.push(ShaderCache {
                id: world.new_hex_id(32),
                status,
                storage_bytes: cache.storage_bytes,
                last_updated_at: created,
            });
        }
        self.app_arns.insert(spec.key.clone(), arn.clone());
        let application = Application {
            id,
            arn,
            region: region.clone(),
            description: spec.description.clone(),
            runtime_type: spec.runtime_type.clone(),
            runtime_version: spec.runtime_version.clone(),
            executable_path: spec.executable_path.clone(),
            source_uri: spec.source_uri.clone().unwrap_or_else(|| format!("s3://studio-builds/{}/", spec.key)),
            log_paths: vec![],
            log_output_uri: None,
            status,
            status_reason,
            created_at: created,
            last_updated_at: created,
            processing_at: None,
            ready_at: None,
            gone_at: None,
            replication: BTreeMap::new(),
            shader_caches,
            tags: spec.tags.clone(),
        };
        self.loaded.applications.push((region, application, spec.replicating.clone()));
        Ok(())
    }

    /// A stream group with its locations, status and applications (no sessions yet).
    fn group(&mut self, field: &str, spec: &FleetGroup) -> Result<StreamGroup, String> {
        let region = spec.region.clone().unwrap_or_else(|| self.world.default_region.clone());
        if !self.world.serves(&region) {
            return Err(format!(
                "{field}.region: {region:?} does not host the service here (served: {})",
                self.world.served_regions.join(", ")
            ));
        }
        let class = spec.stream_class.as_str();
        if facts::tenancy(class).is_none() {
            return Err(format!("{field}.stream_class: {class:?} is not a stream class of the service model"));
        }
        let id = spec.id.clone().unwrap_or_else(|| self.world.new_id("sg-", 9));
        let created = self.now - days(spec.created_days_ago);
        let (locations, specs) = self.locations(field, spec, &region)?;
        let reason = match &spec.status_reason {
            Some(r) => Some(known(StreamGroupStatusReason::parse, r, &format!("{field}.status_reason"))?),
            None => None,
        };
        let status = match &spec.status {
            Some(s) => known(StreamGroupStatus::parse, s, &format!("{field}.status"))?,
            None => StreamGroupStatus::Active,
        };
        if status == StreamGroupStatus::Error && reason.is_none() {
            return Err(format!(
                "{field}.status_reason: a group in ERROR needs a reason (internalError or noAvailableInstances)"
            ));
        }
        let (default_application, associated) = self.group_applications(field, spec, created)?;
        let expires_at = match spec.expires_in_days {
            Some(d) => self.now + days(d),
            None => created + facts::lifetime(),
        };
        if expires_at <= created {
            return Err(format!(
                "{field}.expires_in_days: the group would expire before it was created ({} days ago)",
                spec.created_days_ago
            ));
        }
        let mut group = StreamGroup {
            arn: self.world.arn(&region, &format!("streamgroup/{id}")),
            id,
            region,
            description: spec.description.clone(),
            stream_class: spec.stream_class.clone(),
            status,
            status_reason: reason.map(|r| r.as_str().to_owned()),
            created_at: created,
            last_updated_at: created,
            expires_at,
            default_application,
            associated,
            tags: spec.tags.clone(),
            locations,
            activates_at: None,
            activation_outcome: ActivationOutcome::Active,
            gone_at: None,
        };
        if group.status == StreamGroupStatus::Error {
            // A group that failed to deploy has no working location unless the file says so.
            for (location, spec) in group.locations.iter_mut().zip(&specs) {
                if spec.status.is_none() {
                    location.status = LocationStatus::Error;
                }
            }
        }
        if group.status == StreamGroupStatus::Activating {
            group.activates_at = Some(self.now + self.world.timings.group_activation);
        }
        group.refresh_status(created);
        Ok(group)
    }

    /// The group's locations, the primary (its region) first, each checked against the
    /// stream class's tenancy; with the file's entries in the same order.
    fn locations<'f>(
        &mut self,
        field: &str,
        spec: &'f FleetGroup,
        region: &str,
    ) -> Result<(Vec<GroupLocation>, Vec<&'f FleetLocation>), String> {
        let class = spec.stream_class.as_str();
        let mut specs: Vec<&FleetLocation> = spec.locations.iter().collect();
        if !specs.iter().any(|l| l.name == region) {
            return Err(format!(
                "{field}.locations: the primary location {region} (the group's region) must be listed"
            ));
        }
        specs.sort_by_key(|l| l.name != region);
        let mut locations = Vec::new();
        for (l, location) in specs.iter().enumerate() {
            let lfield = location_field(field, spec, &location.name);
            if specs[..l].iter().any(|earlier| earlier.name == location.name) {
                return Err(format!("{lfield}.name: {} is listed twice", location.name));
            }
            for (name, value) in [
                ("always_on", Some(location.always_on)),
                ("target_idle", location.target_idle),
                ("maximum", location.maximum),
                ("on_demand", location.on_demand),
            ] {
                if let Some(v) = value.filter(|v| !facts::is_valid_capacity(class, *v)) {
                    return Err(format!(
                        "{lfield}.{name}: {v} is not a multiple of the tenancy ({}) of {class}",
                        facts::tenancy(class).unwrap_or(1)
                    ));
                }
            }
            if location.on_demand.is_some() && (location.maximum.is_some() || location.target_idle.is_some()) {
                return Err(format!("{lfield}: on_demand cannot be combined with maximum or target_idle"));
            }
            let status = match &location.status {
                Some(s) => known(LocationStatus::parse, s, &format!("{lfield}.status"))?,
                None => LocationStatus::Active,
            };
            let world = &mut *self.world;
            let config = LocationConfig {
                always_on: location.always_on,
                on_demand: location.on_demand,
                target_idle: location.target_idle,
                maximum: location.maximum,
                vpc_transit: location.vpc_transit.as_ref().map(|vpc| {
                    let (gateway, share) = (world.new_hex_id(17), world.new_hex_id(32));
                    VpcTransit {
                        vpc_id: vpc.vpc_id.clone(),
                        cidr_blocks: vpc.ipv4_cidr_blocks.clone(),
                        transit_gateway_id: format!("tgw-{gateway}"),
                        resource_share_arn: format!("arn:aws:ram:{region}:{}:resource-share/{share}", world.account_id),
                    }
                }),
            };
            if let Some(target_idle) = config.target_idle.filter(|t| *t > config.ceiling()) {
                return Err(format!("{lfield}.target_idle: {target_idle} exceeds the maximum {}", config.ceiling()));
            }
            let mut state = new_location(&location.name, config, l, None);
            state.status = status;
            locations.push(state);
        }
        Ok((locations, specs))
    }

    /// The group's default application and its associated ones (the default among them),
    /// each created before the group.
    fn group_applications(
        &self,
        field: &str,
        spec: &FleetGroup,
        created: DateTime<Utc>,
    ) -> Result<(Option<String>, Vec<String>), String> {
        let mut associated = Vec::new();
        for key in &spec.applications {
            associated.push(self.app(key, &format!("{field}.applications"))?);
        }
        let default_application = match &spec.default_application {
            Some(key) => Some(self.app(key, &format!("{field}.default_application"))?),
            None => associated.first().cloned(),
        };
        if let Some(default) = default_application.as_ref().filter(|d| !associated.contains(d)) {
            associated.insert(0, default.clone());
        }
        if let Some(arn) = associated.iter().find(|arn| self.app_created(arn).is_some_and(|at| at > created)) {
            return Err(format!(
                "{field}.applications: {arn} is created after the group ({} days ago); a group can only use an application that exists",
                spec.created_days_ago
            ));
        }
        Ok((default_application, associated))
    }

    fn sessions(&mut self, field: &str, spec: &FleetGroup, group: &StreamGroup) -> Result<Vec<StreamSession>, String> {
        let mut sessions = Vec::new();
        for (s, session) in spec.sessions.iter().enumerate() {
            let sfield = format!("{field}.sessions[{s}]");
            sessions.extend(self.session(&sfield, session, spec, group)?);
        }
        Ok(sessions)
    }

    /// One entry of a group's sessions: `count` sessions alike.
    fn session(
        &mut self,
        sfield: &str,
        session: &FleetSession,
        spec: &FleetGroup,
        group: &StreamGroup,
    ) -> Result<Vec<StreamSession>, String> {
        let now = self.now;
        let status = known(SessionStatus::parse, &session.status, &format!("{sfield}.status"))?;
        let location = session.location.clone().unwrap_or_else(|| group.region.clone());
        if group.location(&location).is_none() {
            return Err(format!("{sfield}.location: {location} is not a location of this stream group"));
        }
        if session.started_minutes_ago > spec.created_days_ago * 1440.0 {
            return Err(format!(
                "{sfield}.started_minutes_ago: {} is before the group was created ({} days ago)",
                session.started_minutes_ago, spec.created_days_ago
            ));
        }
        let application_arn =
            self.app_or_default(session.application.as_ref(), group, &format!("{sfield}.application"))?;
        let status_reason = match &session.status_reason {
            Some(r) => Some(known(SessionStatusReason::parse, r, &format!("{sfield}.status_reason"))?),
            None => None,
        };
        let created_at = now - minutes(session.started_minutes_ago);
        let since = now - minutes(session.status_minutes_ago.unwrap_or(0.5).min(session.started_minutes_ago));
        let input = session.input_minutes_ago.map_or(since, |m| now - minutes(m.min(session.started_minutes_ago)));
        let streaming = matches!(
            status,
            SessionStatus::Connected | SessionStatus::PendingClientReconnection | SessionStatus::Reconnecting
        );
        let mut sessions = Vec::new();
        for _ in 0..session.count {
            let session_id = self.world.new_id("", 13);
            sessions.push(StreamSession {
                arn: self.world.arn(&group.region, &format!("streamsession/{}/{session_id}", group.id)),
                id: session_id,
                group_id: group.id.clone(),
                status,
                status_reason,
                location: location.clone(),
                application_arn: application_arn.clone(),
                description: None,
                user_id: session.user_id.clone(),
                role_arn: None,
                signal_request: "fleet-signal-request".into(),
                connection_timeout_seconds: session
                    .connection_timeout_seconds
                    .unwrap_or(facts::DEFAULT_CONNECTION_TIMEOUT_SECONDS),
                session_length_seconds: session.session_length_seconds.unwrap_or(facts::DEFAULT_SESSION_LENGTH_SECONDS),
                echo: Default::default(),
                created_at,
                last_updated_at: since,
                placed_at: Some(created_at),
                placement_deadline: created_at,
                placeable: true,
                application_started_at: (status != SessionStatus::Activating).then_some(created_at),
                streaming_started_at: streaming.then_some(created_at),
                streaming_ended_at: None,
                last_input_at: (status == SessionStatus::Connected).then_some(input),
                stuck: session.stuck,
                client_token: None,
                export: None,
                stream_url_id: None,
            });
        }
        Ok(sessions)
    }

    fn stream_url(&mut self, ufield: &str, url: &FleetStreamUrl, group: &StreamGroup) -> Result<StreamUrl, String> {
        let now = self.now;
        let application_arn = self.app_or_default(url.application.as_ref(), group, &format!("{ufield}.application"))?;
        if !group.associated.contains(&application_arn) {
            return Err(format!("{ufield}.application: it is not associated with this stream group"));
        }
        in_range(format!("{ufield}.expires_in_minutes"), url.expires_in_minutes, -MAX_MINUTES, MAX_MINUTES)?;
        if !(1..=facts::MAX_URL_USAGE_LIMIT).contains(&url.usage_limit) {
            return Err(format!(
                "{ufield}.usage_limit: {} is outside 1 to {}",
                url.usage_limit,
                facts::MAX_URL_USAGE_LIMIT
            ));
        }
        let remaining = url.remaining_uses.unwrap_or(url.usage_limit);
        if !(0..=url.usage_limit).contains(&remaining) {
            return Err(format!(
                "{ufield}.remaining_uses: {remaining} is outside 0 to the usage limit {}",
                url.usage_limit
            ));
        }
        let revoked = match &url.revoked {
            Some(r) => Some(known(StreamUrlStatusReason::parse, r, &format!("{ufield}.revoked"))?),
            None => None,
        };
        if let Some(missing) = url.locations.iter().find(|l| group.location(l).is_none()) {
            return Err(format!("{ufield}.locations: {missing} is not a location of this stream group"));
        }
        let region = &group.region;
        let url_id = self.world.new_id("su-", 9);
        let secret = self.world.new_id("", 43);
        Ok(StreamUrl {
            arn: self.world.arn(region, &format!("streamurl/{}/{url_id}", group.id)),
            url: format!("https://play.gameliftstreams.{region}.emulator.invalid/{url_id}#{secret}"),
            id: url_id,
            group_id: group.id.clone(),
            group_arn: group.arn.clone(),
            application_arn,
            revoked,
            expires_at: now + minutes(url.expires_in_minutes),
            created_at: (now - minutes(1.0)).max(group.created_at),
            usage_limit: url.usage_limit,
            remaining_uses: remaining,
            locations: url.locations.clone(),
            session_length_seconds: facts::DEFAULT_SESSION_LENGTH_SECONDS,
            description: url.description.clone(),
            echo: Default::default(),
            session_ids: Vec::new(),
        })
    }
}

/// Capacity the sessions occupy must exist (no more than each location's ceiling), and a
/// fleet starts in a steady state: what the settings want is allocated.
fn settle_capacity(
    field: &str,
    spec: &FleetGroup,
    group: &mut StreamGroup,
    sessions: &[StreamSession],
) -> Result<(), String> {
    let serving = group.status.is_serving();
    for location in &mut group.locations {
        let holding = sessions.iter().filter(|s| s.location == location.name && s.holds_capacity()).count() as u32;
        if holding > location.config.ceiling() {
            return Err(format!(
                "{}: {holding} sessions hold capacity but the location can allocate at most {}",
                location_field(field, spec, &location.name),
                location.config.ceiling()
            ));
        }
        if serving && location.status == LocationStatus::Active {
            location.allocated = location.config.wanted(&group.stream_class, holding);
        }
    }
    Ok(())
}

impl Loaded {
    /// Applications have reached every location of the groups they serve, except where the
    /// fleet says replication is still under way.
    fn mark_replication(&mut self) {
        for (_, app, replicating) in &mut self.applications {
            for group in self.groups.iter().filter(|g| g.associated.contains(&app.arn)) {
                for location in &group.locations {
                    let done = (!replicating.contains(&location.name)).then_some(app.created_at);
                    app.replication.entry(location.name.clone()).or_insert(done);
                }
            }
            let home = app.region.clone();
            app.replication.entry(home).or_insert(Some(app.created_at));
        }
    }

    /// Everything into the world at once, then the world settles at its clock.
    fn commit(self, world: &mut EmulatedWorld) -> LoadSummary {
        let summary = LoadSummary {
            applications: self.applications.len(),
            stream_groups: self.groups.len(),
            sessions: self.sessions.len(),
            stream_urls: self.stream_urls.len(),
        };
        for (region, app, _) in self.applications {
            world.region(&region).applications.insert(app.id.clone(), app);
        }
        for group in self.groups {
            let region = group.region.clone();
            world.region(&region).groups.insert(group.id.clone(), group);
        }
        for (region, session) in self.sessions {
            world.region(&region).sessions.insert(session.id.clone(), session);
        }
        for (region, url) in self.stream_urls {
            world.region(&region).stream_urls.insert(url.id.clone(), url);
        }
        world.advance();
        summary
    }
}
