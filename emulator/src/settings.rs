//! How the emulator is set to behave: the service's timings (a profile, each figure with its
//! source) and the readings taken where the documentation leaves the behaviour open.

use crate::facts::{CapacityTimings, ExpiredGroups, LocationChangesWithErrors, OmittedCapacity};
use chrono::Duration;
use serde::Serialize;

/// How long the emulated service takes for its asynchronous work.
#[derive(Debug, Clone)]
pub struct Timings {
    /// A new stream group: ACTIVATING -> ACTIVE.
    pub group_activation: Duration,
    /// An added location: ACTIVATING -> ACTIVE; a removed one: REMOVING -> gone.
    pub location_change: Duration,
    /// DELETING -> gone (stream groups and applications).
    pub deletion: Duration,
    /// A placed session: ACTIVATING -> ACTIVE; RECONNECTING -> ACTIVE.
    pub session_start: Duration,
    /// TERMINATING -> TERMINATED.
    pub session_stop: Duration,
    /// A new application: INITIALIZED -> PROCESSING (half-way) -> READY.
    pub application_ready: Duration,
    /// An application reaching a remote location of a group it is associated with.
    pub application_replication: Duration,
    pub capacity: CapacityTimings,
}

/// A set of service timings, chosen with `--timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum TimingProfile {
    /// Seconds, so tests and demos finish quickly (the default).
    Fast,
    /// Minutes, as the documentation describes them ([`Timings::realistic`]).
    Realistic,
}

impl TimingProfile {
    pub fn timings(self) -> Timings {
        match self {
            Self::Fast => Timings::default(),
            Self::Realistic => Timings::realistic(),
        }
    }
}

impl Timings {
    /// Every timing in seconds, by name (the admin API's `GET /_emulator/behaviour`).
    pub fn in_seconds(&self) -> serde_json::Value {
        let s = |d: Duration| d.num_milliseconds() as f64 / 1000.0;
        serde_json::json!({
            "group_activation": s(self.group_activation),
            "location_change": s(self.location_change),
            "deletion": s(self.deletion),
            "session_start": s(self.session_start),
            "session_stop": s(self.session_stop),
            "application_ready": s(self.application_ready),
            "application_replication": s(self.application_replication),
            "capacity_allocate": s(self.capacity.allocate),
            "capacity_release": s(self.capacity.release),
        })
    }

    /// The service on an ordinary day, as the sources describe it:
    /// - a new group: model, CreateStreamGroup: "It can take a few minutes for Amazon GameLift
    ///   Streams to finish creating the stream group while it searches for unallocated compute
    ///   resources and provisions them"; ASSUMED 10 minutes (the StreamGroupActive waiter of
    ///   waiters-2.json gives it up to 60);
    /// - a location added or removed: ASSUMED 10 minutes, as a group (LocationState ACTIVATING:
    ///   "Amazon GameLift Streams is preparing the location");
    /// - capacity: "typically under 5 minutes" to allocate (model, OnDemandCapacity) and "a few
    ///   minutes" to release (AllocatedCapacity): ASSUMED 4 and 5 minutes. With 4, an on-demand
    ///   Linux session finding no idle slot meets its 90-second placement timeout (seed 001):
    ///   the two sentences together say so, and target-idle capacity is the documented remedy;
    /// - deletion 5 minutes, an application READY in 10, replicated in 10, a session started in
    ///   30 seconds: ASSUMED (no source gives a figure).
    pub fn realistic() -> Self {
        Self {
            group_activation: Duration::minutes(10),
            location_change: Duration::minutes(10),
            deletion: Duration::minutes(5),
            session_start: Duration::seconds(30),
            session_stop: Duration::seconds(10),
            application_ready: Duration::minutes(10),
            application_replication: Duration::minutes(10),
            capacity: CapacityTimings { allocate: Duration::minutes(4), release: Duration::minutes(5) },
        }
    }
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            group_activation: Duration::seconds(30),
            location_change: Duration::seconds(20),
            deletion: Duration::seconds(10),
            session_start: Duration::seconds(5),
            session_stop: Duration::seconds(3),
            application_ready: Duration::seconds(5),
            application_replication: Duration::seconds(60),
            capacity: CapacityTimings::default(),
        }
    }
}

/// Readings of the documentation the sources leave open (see `facts`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Behaviour {
    pub omitted_capacity: OmittedCapacity,
    pub expired_groups: ExpiredGroups,
    pub location_changes_with_errors: LocationChangesWithErrors,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            omitted_capacity: OmittedCapacity::Reset,
            expired_groups: ExpiredGroups::Strict,
            location_changes_with_errors: LocationChangesWithErrors::Allow,
        }
    }
}
