//! The world behind every port: one GameLift Streams per region (reads, and every `Write`
//! checked against the function's declared operations), CloudWatch, SNS and the clock.

use super::*;

/// One region of the world.
pub(super) struct RegionPort {
    pub(super) world: World,
    pub(super) region: String,
}

#[async_trait]
impl StreamGroupReader for RegionPort {
    fn region(&self) -> &str {
        &self.region
    }

    async fn list_stream_groups(&self) -> Result<Vec<StreamGroup>, ApiError> {
        self.world.call(&self.region, Operation::ListStreamGroups, "")?;
        let state = self.world.state();
        Ok(state
            .groups
            .get(&self.region)
            .map(|groups| {
                groups
                    .iter()
                    .map(|g| StreamGroup {
                        locations: Vec::new(),
                        tags: Tags::new(),
                        status_reason: None,
                        associated_applications: Vec::new(),
                        ..g.clone()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn get_stream_group(&self, id: &str) -> Result<StreamGroup, ApiError> {
        self.world.call(&self.region, Operation::GetStreamGroup, id)?;
        self.world.with_group(&self.region, "GetStreamGroup", id, |g| StreamGroup { tags: Tags::new(), ..g.clone() })
    }

    async fn list_tags(&self, arn: &str) -> Result<Tags, ApiError> {
        self.world.call(&self.region, Operation::ListTagsForResource, arn)?;
        self.world.refuse_expired(&self.region, "ListTagsForResource", arn)?;
        self.world.with_group(&self.region, "ListTagsForResource", arn, |g| g.tags.clone())
    }

    async fn list_group_sessions(&self, group_id: &str) -> Result<Vec<StreamSession>, ApiError> {
        self.world.call(&self.region, Operation::ListStreamSessions, group_id)?;
        let state = self.world.state();
        Ok(state
            .sessions
            .get(&self.region)
            .map(|s| s.iter().filter(|s| s.stream_group_id.as_deref() == Some(group_id)).cloned().collect())
            .unwrap_or_default())
    }

    async fn list_account_sessions(&self, status: &StreamSessionStatus) -> Result<Vec<StreamSession>, ApiError> {
        self.world.pass_gate(Operation::ListStreamSessionsByAccount).await;
        self.world.call(&self.region, Operation::ListStreamSessionsByAccount, status.as_str())?;
        let state = self.world.state();
        Ok(state
            .sessions
            .get(&self.region)
            .map(|s| s.iter().filter(|s| &s.status == status).cloned().collect())
            .unwrap_or_default())
    }

    async fn get_session_timeouts(&self, _group_id: &str, session_arn: &str) -> Result<SessionTimeouts, ApiError> {
        self.world.call(&self.region, Operation::GetStreamSession, session_arn)?;
        Ok(self.world.state().timeouts.get(session_arn).copied().unwrap_or_default())
    }

    async fn get_application(&self, identifier: &str) -> Result<Application, ApiError> {
        self.world.call(&self.region, Operation::GetApplication, identifier)?;
        let state = self.world.state();
        Ok(state.applications.get(identifier).cloned().unwrap_or_else(|| Application {
            arn: identifier.to_owned(),
            id: crate::model::id_of(identifier).to_owned(),
            status: ApplicationStatus::Ready,
            status_reason: None,
        }))
    }

    async fn list_stream_urls(&self, group_id: &str) -> Result<Vec<StreamUrl>, ApiError> {
        self.world.call(&self.region, Operation::ListStreamUrls, group_id)?;
        self.world.refuse_expired(&self.region, "ListStreamUrls", group_id)?;
        Ok(self.world.state().stream_urls.get(group_id).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl StreamGroupWriter for RegionPort {
    async fn write(&self, write: &Write) -> Result<Option<GroupRef>, ApiError> {
        let operation = write.operation().name();
        self.world.call(&self.region, write.operation(), write.target())?;
        let region = &self.region;
        let world = &self.world;
        match write {
            Write::Tag { arn, tags } => {
                world.refuse_expired(region, operation, arn)?;
                world.with_group(region, operation, arn, |g| g.tags.extend(tags.clone()))?;
            }
            Write::Untag { arn, keys } => {
                world.refuse_expired(region, operation, arn)?;
                world.with_group(region, operation, arn, |g| g.tags.retain(|k, _| !keys.contains(k)))?;
            }
            Write::CreateStreamGroup(request) => return Ok(Some(self.create_stream_group(request))),
            Write::AssociateApplications { group_id, applications } => {
                world.with_group(region, operation, group_id, |g| {
                    for app in applications {
                        if !g.associated_applications.contains(app) {
                            g.associated_applications.push(app.clone());
                        }
                    }
                })?;
            }
            Write::DeleteStreamGroup { group_id } => {
                world.with_group(region, operation, group_id, |g| g.status = StreamGroupStatus::Deleting)?;
                // The model: deleting the group behind a stream URL revokes the URL.
                for url in world.state().stream_urls.entry(crate::model::id_of(group_id).to_owned()).or_default() {
                    url.status = crate::model::StreamUrlStatus::Revoked;
                }
            }
            Write::RemoveLocation { group_id, location } => {
                world.with_group(region, operation, group_id, |g| {
                    g.locations.retain(|l| &l.name != location);
                    // Its last failed location gone, the group is ACTIVE again (at once here;
                    // the service passes through UPDATING_LOCATIONS).
                    if g.status == StreamGroupStatus::ActiveWithErrors
                        && !g.locations.iter().any(|l| l.status == crate::model::LocationStatus::Error)
                    {
                        g.status = StreamGroupStatus::Active;
                    }
                })?;
            }
            Write::AddLocation { group_id, location } => {
                world.with_group(region, operation, group_id, |g| g.locations.push(location_from_spec(location)))?;
            }
            Write::UpdateCapacity { group_id, locations } => {
                world.with_group(region, operation, group_id, |g| {
                    for spec in locations {
                        if let Some(l) = g.locations.iter_mut().find(|l| l.name == spec.name) {
                            l.capacity.always_on = Some(spec.always_on);
                            l.capacity.target_idle = spec.target_idle;
                            l.capacity.maximum = spec.maximum;
                            l.capacity.requested = spec.always_on;
                        }
                    }
                })?;
            }
            Write::SetDefaultApplication { group_id, application } => {
                world.with_group(region, operation, group_id, |g| {
                    g.default_application = Some(crate::model::ApplicationRef {
                        id: Some(crate::model::id_of(application).to_owned()),
                        arn: Some(application.to_owned()),
                    });
                })?;
            }
            Write::TerminateSession { session_arn, .. } => {
                let mut state = world.state();
                let session = state.sessions.get_mut(region).and_then(|s| s.iter_mut().find(|s| &s.arn == session_arn));
                let Some(session) = session else {
                    return Err(ApiError::new(
                        operation,
                        ErrorKind::NotFound,
                        "ResourceNotFoundException",
                        "no such session",
                    ));
                };
                session.status = StreamSessionStatus::Terminated;
            }
        }
        Ok(None)
    }
}

impl RegionPort {
    fn create_stream_group(&self, request: &CreateGroupRequest) -> GroupRef {
        let mut state = self.world.state();
        // Idempotent on the client token, as the service is.
        if let Some(existing) = state
            .groups
            .get(&self.region)
            .and_then(|groups| groups.iter().find(|g| g.tags.get("test:client-token") == Some(&request.client_token)))
        {
            return existing.group_ref();
        }
        state.created += 1;
        let id = format!("sg-NEW{:05}", state.created);
        let now = state.now.unwrap_or_default();
        let mut group = StreamGroup::new(&id, &group_arn(&self.region, &id));
        group.description = Some(request.description.clone());
        group.stream_class = Some(StreamClass::parse(&request.stream_class));
        group.created_at = Some(now);
        group.status = StreamGroupStatus::Activating;
        group.tags = request.tags.clone();
        group.tags.insert("test:client-token".into(), request.client_token.clone());
        group.locations = request.locations.iter().map(location_from_spec).collect();
        // As the service does: the default application is the first one associated.
        if let Some(arn) = &request.default_application {
            group.default_application = Some(crate::model::ApplicationRef {
                id: Some(crate::model::id_of(arn).to_owned()),
                arn: Some(arn.clone()),
            });
            group.associated_applications.push(arn.clone());
        }
        let reference = group.group_ref();
        state.groups.entry(self.region.clone()).or_default().push(group);
        reference
    }
}

fn location_from_spec(spec: &LocationSpec) -> Location {
    Location {
        name: spec.name.clone(),
        status: LocationStatus::Active,
        capacity: Capacity {
            always_on: Some(spec.always_on),
            target_idle: spec.target_idle,
            maximum: spec.maximum,
            on_demand: spec.on_demand,
            requested: spec.always_on,
            allocated: spec.always_on,
            idle: spec.always_on,
        },
        vpc_transit: spec.vpc_transit.as_ref().map(|v| VpcTransit {
            vpc_id: v.vpc_id.clone(),
            ipv4_cidr_blocks: v.ipv4_cidr_blocks.clone(),
            ..VpcTransit::default()
        }),
    }
}

#[async_trait]
impl MetricSink for World {
    async fn put(&self, namespace: &str, datums: &[Datum], at: DateTime<Utc>) -> Result<(), ApiError> {
        assert!(datums.len() <= MAX_DATUMS_PER_CALL, "{} datums in one PutMetricData", datums.len());
        self.record("", "PutMetricData", namespace)?;
        let mut state = self.state();
        state.put_calls += 1;
        state.metrics.extend(datums.iter().map(|d| (namespace.to_owned(), d.clone())));
        state.metric_times.extend(datums.iter().map(|_| at));
        Ok(())
    }
}

#[async_trait]
impl DemandSource for World {
    async fn demand(&self, query: DemandQuery<'_>) -> Result<BTreeMap<LocationKey, Demand>, ApiError> {
        self.record(query.region, "GetMetricData", "")?;
        let state = self.state();
        Ok(query.locations.iter().filter_map(|k| state.demand.get(k).map(|d| (k.clone(), *d))).collect())
    }
}

#[async_trait]
impl HealthHistory for World {
    /// One GetMetricData call per 500 dimension sets, as CloudWatch answers them.
    async fn sums(&self, query: SumsQuery<'_>) -> Result<Vec<f64>, ApiError> {
        let SumsQuery { namespace, metric, dimension_sets, since, until } = query;
        for _ in dimension_sets.chunks(crate::ports::MAX_QUERIES_PER_CALL) {
            self.record("", "GetMetricData", namespace)?;
        }
        let state = self.state();
        let published = state.metrics.iter().zip(&state.metric_times);
        let sum = |dimensions: &Vec<(&'static str, String)>| {
            published
                .clone()
                .filter(|((ns, d), at)| {
                    ns == namespace && d.name == metric && &d.dimensions == dimensions && **at >= since && **at <= until
                })
                .map(|((_, d), _)| d.value)
                .sum()
        };
        Ok(dimension_sets.iter().map(sum).collect())
    }
}

#[async_trait]
impl Notifier for World {
    async fn publish(&self, topic_arn: &str, message: &Message) -> Result<(), ApiError> {
        self.record("", "Publish", topic_arn)?;
        self.state().published.push((topic_arn.to_owned(), message.clone()));
        Ok(())
    }

    async fn publish_batch(&self, topic_arn: &str, messages: &[Message]) -> Result<Vec<Result<(), String>>, ApiError> {
        assert!(messages.len() <= MAX_MESSAGES_PER_BATCH, "{} messages in one PublishBatch", messages.len());
        self.record("", "PublishBatch", topic_arn)?;
        let mut state = self.state();
        state.published.extend(messages.iter().map(|m| (topic_arn.to_owned(), m.clone())));
        Ok(messages.iter().map(|_| Ok(())).collect())
    }
}

#[async_trait]
impl EventBus for World {
    async fn put_events(&self, bus: &str, events: &[BusEvent]) -> Result<Vec<Result<(), String>>, ApiError> {
        assert!(events.len() <= MAX_EVENTS_PER_CALL, "{} events in one PutEvents", events.len());
        self.record("", "PutEvents", bus)?;
        self.state().events.extend(events.iter().map(|e| (bus.to_owned(), e.clone())));
        Ok(events.iter().map(|_| Ok(())).collect())
    }
}

#[async_trait]
impl Clock for World {
    async fn now(&self) -> Result<DateTime<Utc>, String> {
        self.state().now.ok_or_else(|| "the test world has no clock".to_owned())
    }
}
