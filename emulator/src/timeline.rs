//! What the service does by itself as its clock passes: groups activate, capacity moves
//! toward what the settings want, sessions are placed, time out and end, applications
//! replicate, stream URLs expire. Transitions are applied lazily (before every request) at the
//! instant they fell due, in time order within each stream group, so a jump of 200 days
//! leaves the same timestamps a real wait would have.

use crate::facts;
use crate::state::*;
use crate::supply::Ledger;
use crate::vocabulary::{
    ApplicationStatus, LocationStatus, SessionStatus as S, SessionStatusReason as R, StreamGroupStatus,
    StreamGroupStatusReason, StreamUrlStatusReason,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};

impl EmulatedWorld {
    /// Applies every transition that fell due up to the clock's now.
    pub fn advance(&mut self) {
        let now = self.now();
        let timings = self.timings.clone();
        // GPUs left under the quotas and in the pools, shared by every region's groups.
        let mut ledger = Ledger::of(self);
        for region in self.regions.values_mut() {
            advance_region(region, now, &timings, &mut self.next_activation_outcomes, &mut ledger);
        }
    }
}

/// The placement timeout of a session that found no idle slot (seed 001): on-demand when the
/// location may still allocate more, else always-on; on-demand depends on the runtime.
pub fn placement_timeout(location: &GroupLocation, windows_runtime: bool) -> Duration {
    if location.config.ceiling() > location.allocated {
        if windows_runtime {
            facts::PLACEMENT_TIMEOUT_ON_DEMAND_WINDOWS
        } else {
            facts::PLACEMENT_TIMEOUT_ON_DEMAND_LINUX
        }
    } else {
        facts::PLACEMENT_TIMEOUT_ALWAYS_ON
    }
}

fn advance_region(
    region: &mut Region,
    now: DateTime<Utc>,
    timings: &Timings,
    outcomes: &mut VecDeque<ActivationOutcome>,
    ledger: &mut Ledger,
) {
    let mut sessions_by_group: HashMap<String, Vec<&mut StreamSession>> = HashMap::new();
    for session in region.sessions.values_mut() {
        sessions_by_group.entry(session.group_id.clone()).or_default().push(session);
    }
    let mut gone = Vec::new();
    for group in region.groups.values_mut() {
        let mut sessions = sessions_by_group.remove(&group.id).unwrap_or_default();
        advance_group(group, &mut sessions, now, timings, outcomes, ledger);
        if group.status == StreamGroupStatus::Deleting && group.gone_at.is_some_and(|at| at <= now) {
            gone.push(group.id.clone());
        }
    }
    drop(sessions_by_group);
    for id in &gone {
        region.groups.remove(id);
    }
    region.sessions.retain(|_, s| region.groups.contains_key(&s.group_id));
    region.group_tokens.retain(|_, id| region.groups.contains_key(id));

    let mut deleted_apps = Vec::new();
    for app in region.applications.values_mut() {
        advance_application(app, now);
        if app.status == ApplicationStatus::Deleting && app.gone_at.is_some_and(|at| at <= now) {
            deleted_apps.push(app.arn.clone());
        }
    }
    region.applications.retain(|_, a| !deleted_apps.contains(&a.arn));
    region.application_tokens.retain(|_, id| region.applications.contains_key(id));

    for url in region.stream_urls.values_mut() {
        // The model: deleting the stream group or application behind a URL revokes it.
        if url.revoked.is_none() {
            if !region.groups.contains_key(&url.group_id) || gone.contains(&url.group_id) {
                url.revoked = Some(StreamUrlStatusReason::StreamGroupDeleted);
            } else if deleted_apps.contains(&url.application_arn) {
                url.revoked = Some(StreamUrlStatusReason::ApplicationDeleted);
            }
        }
        if url.revoked == Some(StreamUrlStatusReason::RevokedAndTerminatingSessions)
            && url.session_ids.iter().all(|id| region.sessions.get(id).is_none_or(|s| s.status.is_final()))
        {
            url.revoked = Some(StreamUrlStatusReason::RevokedAndSessionsTerminated);
        }
    }
}

fn advance_application(app: &mut Application, now: DateTime<Utc>) {
    if let Some(at) = app.processing_at.filter(|at| *at <= now) {
        app.processing_at = None;
        if app.status == ApplicationStatus::Initialized {
            app.status = ApplicationStatus::Processing;
            app.last_updated_at = at;
        }
    }
    if let Some(at) = app.ready_at.filter(|at| *at <= now) {
        app.ready_at = None;
        if app.status == ApplicationStatus::Processing {
            app.status = ApplicationStatus::Ready;
            app.last_updated_at = at;
        }
    }
}

/// What can happen next to a group, its locations or its sessions.
enum Due {
    Activation,
    Expiry,
    Location(usize),
    Arrival(usize),
    Release(usize),
    Session(usize),
}

/// Runs one group's events in time order up to `now`, settling capacity and placement after each.
fn advance_group(
    group: &mut StreamGroup,
    sessions: &mut [&mut StreamSession],
    now: DateTime<Utc>,
    timings: &Timings,
    outcomes: &mut VecDeque<ActivationOutcome>,
    ledger: &mut Ledger,
) {
    loop {
        let mut next: Option<(DateTime<Utc>, Due)> = None;
        let mut consider = |at: Option<DateTime<Utc>>, due: Due| {
            if let Some(at) = at.filter(|at| *at <= now)
                && next.as_ref().is_none_or(|(first, _)| at < *first)
            {
                next = Some((at, due));
            }
        };
        if group.status == StreamGroupStatus::Activating {
            consider(group.activates_at, Due::Activation);
        }
        if !matches!(group.status, StreamGroupStatus::Deleting | StreamGroupStatus::Expired) {
            consider(Some(group.expires_at), Due::Expiry);
        }
        for (i, location) in group.locations.iter().enumerate() {
            consider(location.transition_at, Due::Location(i));
            consider(location.arriving_at, Due::Arrival(i));
            consider(location.surplus_since.map(|at| at + timings.capacity.release), Due::Release(i));
        }
        for (i, session) in sessions.iter().enumerate() {
            consider(session_due(session, timings).map(|(at, ..)| at), Due::Session(i));
        }
        let Some((at, due)) = next else { break };
        match due {
            Due::Activation => activate(group, at, outcomes, ledger),
            Due::Expiry => {
                group.status = StreamGroupStatus::Expired;
                group.status_reason = None;
                group.last_updated_at = at;
                // ASSUMED reason: the model has none for expiry; internalError says "the service ended it".
                for session in sessions.iter_mut() {
                    session.end(R::InternalError, at);
                }
            }
            Due::Location(i) => {
                let location = &mut group.locations[i];
                location.transition_at = None;
                if location.status == LocationStatus::Removing {
                    group.locations.remove(i);
                } else {
                    // "ACTIVE: The location is provisioned with initial capacity."
                    let initial = location.config.wanted(&group.stream_class, 0);
                    if ledger.take_all(&group.stream_class, &location.name, initial) {
                        location.status = LocationStatus::Active;
                        location.allocated = initial;
                    } else {
                        location.status = LocationStatus::Error;
                    }
                }
                group.refresh_status(at);
            }
            Due::Arrival(i) => {
                let demand = demand(sessions, &group.locations[i].name);
                let location = &mut group.locations[i];
                location.arriving_at = None;
                let wanted = location.config.wanted(&group.stream_class, demand);
                location.allocated = ledger.grow(&group.stream_class, &location.name, location.allocated, wanted);
            }
            Due::Release(i) => {
                let running = running(sessions, &group.locations[i].name);
                let demand = demand(sessions, &group.locations[i].name);
                let location = &mut group.locations[i];
                location.surplus_since = None;
                let keep = location.config.wanted(&group.stream_class, demand).max(running);
                let kept = location.allocated.min(keep);
                ledger.give_back(&group.stream_class, &location.name, location.allocated, kept);
                location.allocated = kept;
            }
            Due::Session(i) => {
                if let Some((at, status, reason)) = session_due(sessions[i], timings) {
                    sessions[i].set_status(status, reason, at);
                }
            }
        }
        settle(group, sessions, at, timings);
    }
    settle(group, sessions, now, timings);
}

fn activate(
    group: &mut StreamGroup,
    at: DateTime<Utc>,
    outcomes: &mut VecDeque<ActivationOutcome>,
    ledger: &mut Ledger,
) {
    group.activates_at = None;
    if group.activation_outcome == ActivationOutcome::Active
        && let Some(outcome) = outcomes.pop_front()
    {
        group.activation_outcome = outcome;
    }
    // The primary location needs its always-on capacity from the pool, or the group fails.
    if group.activation_outcome == ActivationOutcome::Active
        && let Some(primary) = group.locations.iter().find(|l| l.name == group.region)
        && !ledger.take_all(&group.stream_class, &primary.name, primary.config.wanted(&group.stream_class, 0))
    {
        group.activation_outcome =
            ActivationOutcome::Error(StreamGroupStatusReason::NoAvailableInstances.as_str().into());
    }
    match &group.activation_outcome {
        ActivationOutcome::Active => {
            let class = group.stream_class.clone();
            let primary = group.region.clone();
            for location in &mut group.locations {
                if location.status == LocationStatus::Activating {
                    location.transition_at = None;
                    let initial = location.config.wanted(&class, 0);
                    // A remote location the pool cannot supply fails on its own.
                    if location.name == primary || ledger.take_all(&class, &location.name, initial) {
                        location.status = LocationStatus::Active;
                        location.allocated = initial;
                    } else {
                        location.status = LocationStatus::Error;
                    }
                }
            }
            group.status = StreamGroupStatus::Active;
        }
        ActivationOutcome::Error(reason) => {
            for location in &mut group.locations {
                location.status = LocationStatus::Error;
                location.transition_at = None;
            }
            group.status = StreamGroupStatus::Error;
            group.status_reason = Some(reason.clone());
        }
    }
    group.last_updated_at = at;
    group.refresh_status(at);
}

fn running(sessions: &[&mut StreamSession], location: &str) -> u32 {
    sessions.iter().filter(|s| s.location == location && s.holds_capacity()).count() as u32
}

/// Sessions that run on capacity or wait for it in `location`.
fn demand(sessions: &[&mut StreamSession], location: &str) -> u32 {
    sessions.iter().filter(|s| s.location == location && (s.holds_capacity() || s.is_waiting())).count() as u32
}

/// After anything changed at `at`: locations that cannot host release everything, waiting
/// sessions take idle slots, and each location plans capacity to arrive or leave.
pub fn settle(group: &mut StreamGroup, sessions: &mut [&mut StreamSession], at: DateTime<Utc>, timings: &Timings) {
    let serving = group.is_serving();
    for location in &mut group.locations {
        if !serving || location.status != LocationStatus::Active {
            // Nothing streams from a group or location that cannot host: the service ends it.
            for session in sessions.iter_mut().filter(|s| s.location == location.name || !serving) {
                session.end(R::InternalError, at);
            }
            location.allocated = 0;
            location.arriving_at = None;
            location.surplus_since = None;
            continue;
        }
        let mut free = location.allocated.saturating_sub(running(sessions, &location.name));
        let mut waiting: Vec<&mut &mut StreamSession> =
            sessions.iter_mut().filter(|s| s.location == location.name && s.is_waiting()).collect();
        waiting.sort_by_key(|s| s.created_at);
        for session in waiting {
            if free == 0 {
                break;
            }
            session.placed_at = Some(at);
            free -= 1;
        }
        let wanted = location.config.wanted(&group.stream_class, demand(sessions, &location.name));
        if wanted > location.allocated {
            location.surplus_since = None;
            location.arriving_at.get_or_insert(at + timings.capacity.allocate);
        } else if wanted < location.allocated {
            location.arriving_at = None;
            location.surplus_since.get_or_insert(at);
        } else {
            location.arriving_at = None;
            location.surplus_since = None;
        }
    }
}

/// The next thing the service does to `session` by itself: when, to which status, and why.
fn session_due(session: &StreamSession, timings: &Timings) -> Option<(DateTime<Utc>, S, Option<R>)> {
    if session.stuck || session.status.is_final() {
        return None;
    }
    let since = session.last_updated_at;
    let connection_timeout = Duration::seconds(session.connection_timeout_seconds);
    // Seed 001: ended "after this amount of time has elapsed since it started, regardless of
    // any existing client connections".
    let length_ends = (session.created_at + Duration::seconds(session.session_length_seconds)).max(since);
    let by_length = (length_ends, S::Terminating, Some(R::MaxSessionLengthTimeout));
    let due = match session.status {
        S::Activating => match session.placed_at {
            Some(placed) => (placed + timings.session_start, S::Active, None),
            None => (session.placement_deadline, S::Error, Some(R::PlacementTimeout)),
        },
        S::Active => (since + connection_timeout, S::Terminating, Some(R::ConnectionTimeout)),
        S::PendingClientReconnection => (since + connection_timeout, S::Terminating, Some(R::ReconnectionTimeout)),
        S::Reconnecting => (since + timings.session_start, S::Active, None),
        S::Connected => {
            let input = session.last_input_at.unwrap_or(since);
            (input + facts::IDLE_TIMEOUT, S::Terminating, Some(R::IdleTimeout))
        }
        S::Terminating => return Some((since + timings.session_stop, S::Terminated, None)),
        S::Terminated | S::Error => return None,
    };
    let due = if session.status.is_in_progress() && by_length.0 < due.0 { by_length } else { due };
    Some((due.0.max(since), due.1, due.2))
}
