//! The scan's first phase: reading GameLift Streams through the reader port, and nothing
//! else. Every stream group (all pages, every status), each group's details, the sessions
//! that hold or wait for capacity, the own timeouts of stale-session candidates, and alert
//! memory where the alert phase asks for it. A failure on one item is an [`Unread`] with what
//! the scan did without it; the scan goes on.

use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::HashSet;
use watchdog_core::ports::{ApiError, Operation, StreamGroupReader, Tags};
use watchdog_core::rules::SessionTimeouts;
use watchdog_core::{StreamGroup, StreamGroupStatus, StreamSession, StreamSessionStatus, identifies};

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

impl Unread {
    /// Whether this is the region's listing itself: the region's groups are then unknown.
    pub fn is_region_unlisted(&self) -> bool {
        self.operation == Operation::ListStreamGroups.name() && self.stream_group.is_none()
    }

    pub fn new(region: &str, group: Option<&str>, error: &ApiError, consequence: &'static str) -> Self {
        Self {
            region: region.to_owned(),
            operation: error.operation,
            stream_group: group.map(str::to_owned),
            error: format!("{}: {}", error.code, error.message),
            consequence,
        }
    }
}

/// How the scan listed sessions (see [`choose_session_listing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionListing {
    /// ListStreamSessions once per serving group (all statuses, all pages).
    PerGroup,
    /// ListStreamSessionsByAccount once per open status (all pages).
    ByAccount,
}

/// Per-group listing costs at least one call per serving group; by-account listing costs at
/// least one call per open status (six), however many groups there are. Pick the cheaper;
/// a scan limited to named groups always lists per group.
pub fn choose_session_listing(serving_groups: usize, limited_to_named_groups: bool) -> SessionListing {
    if limited_to_named_groups || serving_groups <= StreamSessionStatus::OPEN.len() {
        SessionListing::PerGroup
    } else {
        SessionListing::ByAccount
    }
}

/// Every group of the region, or the `only` ones (ids or ARNs); names not found are unread.
pub async fn list_groups(
    reader: &dyn StreamGroupReader,
    only: Option<&[String]>,
) -> Result<(Vec<StreamGroup>, Vec<Unread>), Unread> {
    let region = reader.region();
    let summaries =
        reader.list_stream_groups().await.map_err(|e| Unread::new(region, None, &e, "this region was not scanned"))?;
    let Some(wanted) = only else { return Ok((summaries, Vec::new())) };
    let missing = wanted
        .iter()
        .filter(|name| !summaries.iter().any(|g| identifies(name, g)))
        .map(|name| Unread {
            region: region.to_owned(),
            operation: Operation::ListStreamGroups.name(),
            stream_group: Some(name.clone()),
            error: "ResourceNotFoundException: no such stream group in this region".into(),
            consequence: "nothing to scan for it",
        })
        .collect();
    Ok((summaries.into_iter().filter(|g| wanted.iter().any(|name| identifies(name, g))).collect(), missing))
}

/// A group as its details were read.
pub enum Described {
    /// With locations and capacity.
    Full(StreamGroup),
    /// Expired or deleting (nothing to read), or its details could not be read: the summary.
    Summary(StreamGroup, Option<Unread>),
    /// Deleted during the scan: left out.
    Gone(Unread),
}

/// A group's details, unless it is expired or deleting.
pub async fn describe(reader: &dyn StreamGroupReader, summary: StreamGroup) -> Described {
    if matches!(summary.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired) {
        return Described::Summary(summary, None);
    }
    match reader.get_stream_group(&summary.id).await {
        Ok(group) => Described::Full(group),
        Err(e) if e.is_not_found() => Described::Gone(Unread::new(
            reader.region(),
            Some(&summary.id),
            &e,
            "the group was deleted during the scan; it is left out",
        )),
        Err(e) => {
            let unread = Unread::new(
                reader.region(),
                Some(&summary.id),
                &e,
                "scanned from its summary: lifecycle findings only, no capacity or location findings",
            );
            Described::Summary(summary, Some(unread))
        }
    }
}

/// The open sessions of the serving groups `group_ids`.
pub async fn sessions(
    reader: &dyn StreamGroupReader,
    listing: SessionListing,
    group_ids: &[String],
    concurrency: usize,
) -> (Vec<StreamSession>, Vec<Unread>) {
    let region = reader.region();
    let mut sessions = Vec::new();
    let mut unread = Vec::new();
    match listing {
        SessionListing::PerGroup => {
            let results: Vec<(&String, Result<Vec<StreamSession>, ApiError>)> = stream::iter(group_ids)
                .map(|id| async move { (id, reader.list_group_sessions(id).await) })
                .buffered(concurrency)
                .collect()
                .await;
            for (id, result) in results {
                match result {
                    Ok(found) => {
                        sessions.extend(found.into_iter().filter(|s| StreamSessionStatus::OPEN.contains(&s.status)))
                    }
                    Err(e) => unread.push(Unread::new(
                        region,
                        Some(id),
                        &e,
                        "its sessions are missing: no session metrics or stale-session findings for it",
                    )),
                }
            }
        }
        SessionListing::ByAccount => {
            let wanted: HashSet<&str> = group_ids.iter().map(String::as_str).collect();
            let results: Vec<Result<Vec<StreamSession>, ApiError>> = stream::iter(StreamSessionStatus::OPEN)
                .map(|status| async move { reader.list_account_sessions(&status).await })
                .buffered(StreamSessionStatus::OPEN.len())
                .collect()
                .await;
            for result in results {
                match result {
                    Ok(found) => sessions.extend(
                        found.into_iter().filter(|s| s.stream_group_id.as_deref().is_some_and(|g| wanted.contains(g))),
                    ),
                    Err(e) => unread.push(Unread::new(
                        region,
                        None,
                        &e,
                        "sessions in this status are missing from every group",
                    )),
                }
            }
        }
    }
    (sessions, unread)
}

/// The own timeouts of each candidate; a failure falls back to the defaults (unread).
pub async fn session_timeouts<'a>(
    reader: &dyn StreamGroupReader,
    candidates: Vec<&'a StreamSession>,
    concurrency: usize,
) -> (Vec<(&'a StreamSession, SessionTimeouts)>, Vec<Unread>) {
    let results: Vec<(&StreamSession, Result<SessionTimeouts, ApiError>)> = stream::iter(candidates)
        .map(|session| async move {
            let group = session.stream_group_id.clone().unwrap_or_default();
            (session, reader.get_session_timeouts(&group, &session.arn).await)
        })
        .buffered(concurrency)
        .collect()
        .await;
    let mut timeouts = Vec::new();
    let mut unread = Vec::new();
    for (session, result) in results {
        let found = result.unwrap_or_else(|e| {
            unread.push(Unread::new(
                reader.region(),
                session.stream_group_id.as_deref(),
                &e,
                "judged by the default timeouts",
            ));
            SessionTimeouts::default()
        });
        timeouts.push((session, found));
    }
    (timeouts, unread)
}

/// A group's tags: its alert memory, and whether the trimmer may change it (its demand).
pub async fn group_tags(reader: &dyn StreamGroupReader, group: &StreamGroup) -> Result<Tags, Unread> {
    reader.list_tags(&group.arn).await.map_err(|e| {
        Unread::new(
            reader.region(),
            Some(&group.id),
            &e,
            "its findings are reported but not alerted, and its demand not published, this run",
        )
    })
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
