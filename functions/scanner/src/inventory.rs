//! Reading GameLift Streams: every stream group (all pages, every status), capacity per
//! location, the sessions that hold or wait for capacity, and tags where a decision needs
//! them. Calls go through the client-side rate limiter; a failure on one group is recorded as
//! unread and the scan goes on.

use aws_sdk_gameliftstreams::types::StreamSessionStatus as SdkSessionStatus;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use watchdog_shared::findings::Finding;
use watchdog_shared::gamelift::{Api, PAGE_SIZE, Tags, describe_error, id_of};
use watchdog_shared::rules::{self, Policy, SessionTimeouts};
use watchdog_shared::{StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus, adapter};

/// Session statuses that hold or wait for capacity: the ones a scan lists.
pub const HOLDING_STATUSES: [StreamSessionStatus; 6] = [
    StreamSessionStatus::Activating,
    StreamSessionStatus::Active,
    StreamSessionStatus::Connected,
    StreamSessionStatus::PendingClientReconnection,
    StreamSessionStatus::Reconnecting,
    StreamSessionStatus::Terminating,
];

/// Something the scan could not read, said exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unread {
    pub region: String,
    pub operation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_group: Option<String>,
    pub error: String,
    /// What the scan did without it.
    pub consequence: &'static str,
}

/// How the scan listed sessions (see `choose_session_listing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionListing {
    /// ListStreamSessions once per serving group (all statuses, all pages).
    PerGroup,
    /// ListStreamSessionsByAccount once per holding status (all pages).
    ByAccount,
}

/// Per-group listing costs at least one call per serving group; by-account listing costs at
/// least one call per holding status (six), however many groups there are. Pick the cheaper;
/// a scan limited to named groups always lists per group.
pub fn choose_session_listing(serving_groups: usize, limited_to_named_groups: bool) -> SessionListing {
    if limited_to_named_groups || serving_groups <= HOLDING_STATUSES.len() {
        SessionListing::PerGroup
    } else {
        SessionListing::ByAccount
    }
}

/// The scanner's reads of one region, on the shared rate-limited API.
#[derive(Clone)]
pub struct GameLift(pub Api);

impl std::ops::Deref for GameLift {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.0
    }
}

#[derive(Debug, Default, Serialize)]
pub struct RegionInventory {
    pub region: String,
    /// Every group read; a group whose GetStreamGroup failed keeps its summary (no locations).
    pub groups: Vec<StreamGroup>,
    /// Ids of groups read in full (with locations and capacity).
    #[serde(skip)]
    pub described: Vec<String>,
    /// Sessions that hold or wait for capacity, in the scanned groups.
    pub sessions: Vec<StreamSession>,
    pub session_listing: Option<SessionListing>,
    /// What the rules found, for every group read.
    pub findings: Vec<Finding>,
    /// Tags (the alert memory) of the groups with findings, by ARN.
    #[serde(skip)]
    pub tags: BTreeMap<String, Tags>,
    pub unread: Vec<Unread>,
}

/// One group as its pipeline read it; `group` is `None` when it vanished during the scan.
#[derive(Default)]
struct GroupRead {
    group: Option<StreamGroup>,
    described: bool,
    findings: Vec<Finding>,
    tags: Option<Tags>,
    unread: Vec<Unread>,
}

impl GameLift {
    fn unread(&self, operation: &'static str, group: Option<&str>, error: String, consequence: &'static str) -> Unread {
        Unread { region: self.region.clone(), operation, stream_group: group.map(str::to_owned), error, consequence }
    }

    /// Reads one region. `only` limits the scan to named groups (ids or ARNs).
    pub async fn read(
        &self,
        only: Option<&[String]>,
        concurrency: usize,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> RegionInventory {
        let mut inventory = RegionInventory { region: self.region.clone(), ..Default::default() };
        let summaries = match self.list_groups().await {
            Ok(summaries) => summaries,
            Err(error) => {
                inventory.unread.push(self.unread("ListStreamGroups", None, error, "this region was not scanned"));
                return inventory;
            }
        };
        let summaries: Vec<StreamGroup> = match only {
            None => summaries,
            Some(wanted) => {
                let wanted_ids: Vec<&str> = wanted.iter().map(|w| w.rsplit('/').next().unwrap_or(w)).collect();
                for id in wanted_ids.iter().filter(|id| !summaries.iter().any(|g| g.id == **id)) {
                    inventory.unread.push(self.unread(
                        "ListStreamGroups",
                        Some(id),
                        "ResourceNotFoundException: no such stream group in this region".into(),
                        "nothing to scan for it",
                    ));
                }
                summaries.into_iter().filter(|g| wanted_ids.contains(&g.id.as_str())).collect()
            }
        };

        // Three pipelines share the rate limiter and run at once, each bounded by its own
        // operation's limit: group details (then that group's tags if it has findings),
        // session listing (then stale-session confirmation), so a scan takes about as long
        // as its busiest operation needs.
        let serving_ids: Vec<String> = summaries.iter().filter(|g| is_serving(g)).map(|g| g.id.clone()).collect();
        let listing = choose_session_listing(serving_ids.len(), only.is_some());
        inventory.session_listing = Some(listing);
        let groups_pipeline = stream::iter(summaries.clone())
            .map(|summary| async move { self.read_group(summary, policy, now).await })
            .buffered(concurrency)
            .collect::<Vec<GroupRead>>();
        let sessions_pipeline = async {
            let (sessions, mut unread) = match listing {
                SessionListing::PerGroup => self.sessions_per_group(&serving_ids, concurrency).await,
                SessionListing::ByAccount => self.sessions_by_account(&serving_ids).await,
            };
            let (stale, stale_unread) = self.confirm_stale(&summaries, &sessions, concurrency, policy, now).await;
            unread.extend(stale_unread);
            (sessions, stale, unread)
        };
        let (reads, (sessions, stale, session_unread)) = tokio::join!(groups_pipeline, sessions_pipeline);

        for read in reads {
            inventory.unread.extend(read.unread);
            let Some(group) = read.group else { continue };
            if read.described {
                inventory.described.push(group.id.clone());
            }
            if let Some(tags) = read.tags {
                inventory.tags.insert(group.arn.clone(), tags);
            }
            inventory.findings.extend(read.findings);
            inventory.groups.push(group);
        }
        inventory.sessions = sessions;
        inventory.unread.extend(session_unread);

        // Stale sessions: findings per group and location; tags for groups not read yet.
        let mut need_tags = Vec::new();
        for group in &inventory.groups {
            let group_stale: Vec<&StreamSession> =
                stale.iter().filter(|s| s.stream_group_id.as_deref() == Some(&group.id)).collect();
            let found = rules::stale_session_findings(group, &group_stale, now);
            if !found.is_empty() && !inventory.tags.contains_key(&group.arn) {
                need_tags.push(group.arn.clone());
            }
            inventory.findings.extend(found);
        }
        let (tags, unread) = self.read_tags(need_tags, concurrency).await;
        inventory.tags.extend(tags);
        inventory.unread.extend(unread);
        inventory
    }

    /// One group: its details (unless expired or deleting), its findings, and its tags when
    /// a finding needs the alert memory.
    async fn read_group(&self, summary: StreamGroup, policy: &Policy, now: DateTime<Utc>) -> GroupRead {
        let mut read = GroupRead::default();
        let group = if matches!(summary.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired) {
            summary
        } else {
            match self.get_group_or_unread(&summary.id).await {
                Ok(group) => {
                    read.described = true;
                    group
                }
                Err(unread) if unread.error.starts_with("ResourceNotFoundException") => {
                    read.unread.push(unread);
                    return read;
                }
                Err(unread) => {
                    read.unread.push(unread);
                    summary
                }
            }
        };
        read.findings = rules::group_findings(&group, now, policy);
        if !read.findings.is_empty() {
            match self.read_tag(&group.arn).await {
                Ok(tags) => read.tags = Some(tags),
                Err(unread) => read.unread.push(unread),
            }
        }
        read.group = Some(group);
        read
    }

    async fn get_group_or_unread(&self, id: &str) -> Result<StreamGroup, Unread> {
        match self.get_group(id).await {
            Ok(group) => Ok(group),
            Err(e) => {
                let not_found = e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception());
                let consequence = if not_found {
                    "the group was deleted during the scan; it is left out"
                } else {
                    "scanned from its summary: lifecycle findings only, no capacity or location findings"
                };
                Err(self.unread("GetStreamGroup", Some(id), describe_error(&e), consequence))
            }
        }
    }

    async fn sessions_per_group(&self, group_ids: &[String], concurrency: usize) -> (Vec<StreamSession>, Vec<Unread>) {
        let results: Vec<(&String, Result<Vec<StreamSession>, String>)> = stream::iter(group_ids)
            .map(|id| async move { (id, self.group_sessions(id).await) })
            .buffered(concurrency)
            .collect()
            .await;
        let mut sessions = Vec::new();
        let mut unread = Vec::new();
        for (id, result) in results {
            match result {
                Ok(found) => sessions.extend(found.into_iter().filter(|s| HOLDING_STATUSES.contains(&s.status))),
                Err(error) => unread.push(self.unread(
                    "ListStreamSessions",
                    Some(id),
                    error,
                    "its sessions are missing: no session metrics or stale-session findings for it",
                )),
            }
        }
        (sessions, unread)
    }

    async fn sessions_by_account(&self, group_ids: &[String]) -> (Vec<StreamSession>, Vec<Unread>) {
        let wanted: std::collections::HashSet<&str> = group_ids.iter().map(String::as_str).collect();
        let results: Vec<Result<Vec<StreamSession>, Unread>> = stream::iter(HOLDING_STATUSES)
            .map(|status| {
                let wanted = &wanted;
                async move {
                    let mut sessions = Vec::new();
                    let mut token = None;
                    loop {
                        self.limiter.acquire(&self.region, "ListStreamSessionsByAccount").await;
                        let page = self
                            .client
                            .list_stream_sessions_by_account()
                            .status(SdkSessionStatus::from(status.as_str()))
                            .max_results(PAGE_SIZE)
                            .set_next_token(token)
                            .send()
                            .await
                            .map_err(|e| {
                                self.unread(
                                    "ListStreamSessionsByAccount",
                                    None,
                                    format!("status {status}: {}", describe_error(&e)),
                                    "sessions in this status are missing from every group",
                                )
                            })?;
                        sessions.extend(
                            page.items()
                                .iter()
                                .map(adapter::stream_session_summary)
                                .filter(|s| s.stream_group_id.as_deref().is_some_and(|g| wanted.contains(g))),
                        );
                        token = page.next_token().map(str::to_owned);
                        if token.is_none() {
                            return Ok(sessions);
                        }
                    }
                }
            })
            .buffered(HOLDING_STATUSES.len())
            .collect()
            .await;
        let mut sessions = Vec::new();
        let mut unread = Vec::new();
        for result in results {
            match result {
                Ok(found) => sessions.extend(found),
                Err(u) => unread.push(u),
            }
        }
        (sessions, unread)
    }

    /// Sessions past the default timeouts are candidates; their own timeouts
    /// (GetStreamSession) decide. Sessions set shorter than the defaults are judged by the
    /// defaults: found later, never wrongly.
    async fn confirm_stale(
        &self,
        groups: &[StreamGroup],
        sessions: &[StreamSession],
        concurrency: usize,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> (Vec<StreamSession>, Vec<Unread>) {
        let platforms: HashMap<&str, _> =
            groups.iter().map(|g| (g.id.as_str(), g.stream_class.as_ref().and_then(|c| c.platform()))).collect();
        let candidates: Vec<&StreamSession> = sessions
            .iter()
            .filter(|s| {
                let platform = s.stream_group_id.as_deref().and_then(|g| platforms.get(g).copied().flatten());
                rules::is_stale(s, platform, SessionTimeouts::default(), now, policy)
            })
            .collect();
        let results: Vec<(StreamSession, Result<SessionTimeouts, Unread>)> = stream::iter(candidates)
            .map(|session| async move {
                let group = session.stream_group_id.clone().unwrap_or_default();
                self.limiter.acquire(&self.region, "GetStreamSession").await;
                let result = self
                    .client
                    .get_stream_session()
                    .identifier(&group)
                    .stream_session_identifier(&session.arn)
                    .send()
                    .await
                    .map(|out| SessionTimeouts {
                        connection_timeout: out
                            .connection_timeout_seconds()
                            .map_or(rules::DEFAULT_CONNECTION_TIMEOUT, |s| Duration::seconds(s.into())),
                        session_length: out
                            .session_length_seconds()
                            .map_or(rules::DEFAULT_SESSION_LENGTH, |s| Duration::seconds(s.into())),
                    })
                    .map_err(|e| {
                        self.unread(
                            "GetStreamSession",
                            Some(&group),
                            format!("session {}: {}", session.arn, describe_error(&e)),
                            "judged by the default timeouts",
                        )
                    });
                (session.clone(), result)
            })
            .buffered(concurrency)
            .collect()
            .await;
        let mut stale = Vec::new();
        let mut unread = Vec::new();
        for (session, result) in results {
            let timeouts = result.unwrap_or_else(|u| {
                unread.push(u);
                SessionTimeouts::default()
            });
            let platform = session.stream_group_id.as_deref().and_then(|g| platforms.get(g).copied().flatten());
            if rules::is_stale(&session, platform, timeouts, now, policy) {
                stale.push(session);
            }
        }
        (stale, unread)
    }

    /// Tags of one group, for the alert memory.
    async fn read_tag(&self, arn: &str) -> Result<Tags, Unread> {
        match self.tags(arn).await {
            Ok(tags) => Ok(tags),
            Err(error) => Err(self.unread(
                "ListTagsForResource",
                Some(id_of(arn)),
                error,
                "its findings are reported but not alerted this run (no alert memory)",
            )),
        }
    }

    /// Tags of the groups in `arns`; a failure leaves the group out.
    async fn read_tags(&self, arns: Vec<String>, concurrency: usize) -> (BTreeMap<String, Tags>, Vec<Unread>) {
        let results: Vec<(String, Result<Tags, Unread>)> = stream::iter(arns)
            .map(|arn| async move {
                let result = self.read_tag(&arn).await;
                (arn, result)
            })
            .buffered(concurrency)
            .collect()
            .await;
        let mut tags = BTreeMap::new();
        let mut unread = Vec::new();
        for (arn, result) in results {
            match result {
                Ok(t) => {
                    tags.insert(arn, t);
                }
                Err(u) => unread.push(u),
            }
        }
        (tags, unread)
    }

    /// Writes and removes alert-memory tags on one group.
    pub async fn write_tags(&self, arn: &str, set: Tags, remove: Vec<String>) -> Result<(), Unread> {
        let group = Some(id_of(arn));
        self.tag(arn, set)
            .await
            .map_err(|e| self.unread("TagResource", group, e, "these alerts may be sent again next run"))?;
        self.untag(arn, remove)
            .await
            .map_err(|e| self.unread("UntagResource", group, e, "a cleared finding's memory stays until it expires"))
    }
}

pub fn is_serving(group: &StreamGroup) -> bool {
    matches!(
        group.status,
        StreamGroupStatus::Active | StreamGroupStatus::ActiveWithErrors | StreamGroupStatus::UpdatingLocations
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_listing_is_chosen_by_call_count() {
        assert_eq!(choose_session_listing(0, false), SessionListing::PerGroup);
        assert_eq!(choose_session_listing(6, false), SessionListing::PerGroup, "6 calls either way");
        assert_eq!(choose_session_listing(7, false), SessionListing::ByAccount);
        assert_eq!(choose_session_listing(1000, true), SessionListing::PerGroup, "named groups only");
    }
}
