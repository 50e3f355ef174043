//! Plain data the watchdog reasons about. Status enums keep values this code does not know
//! as `Unknown(String)`: the service adds states, and a scan must report them, not crash.

use crate::stream_class::StreamClass;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Declares a string enum with the service's wire names and an `Unknown` catch-all.
macro_rules! service_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            Unknown(String),
        }

        impl $name {
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(wire: &str) -> Self {
                match wire {
                    $($wire => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(wire: String) -> Self {
                Self::from(wire.as_str())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

service_enum!(
    /// `StreamGroupStatus` in the service model.
    StreamGroupStatus {
        Activating = "ACTIVATING",
        UpdatingLocations = "UPDATING_LOCATIONS",
        Active = "ACTIVE",
        ActiveWithErrors = "ACTIVE_WITH_ERRORS",
        Error = "ERROR",
        Deleting = "DELETING",
        Expired = "EXPIRED",
    }
);

service_enum!(
    /// `StreamGroupStatusReason` in the service model.
    StreamGroupStatusReason {
        InternalError = "internalError",
        NoAvailableInstances = "noAvailableInstances",
    }
);

service_enum!(
    /// `StreamGroupLocationStatus` in the service model.
    LocationStatus {
        Activating = "ACTIVATING",
        Active = "ACTIVE",
        Error = "ERROR",
        Removing = "REMOVING",
    }
);

service_enum!(
    /// `StreamSessionStatus` in the service model.
    StreamSessionStatus {
        Activating = "ACTIVATING",
        Active = "ACTIVE",
        Connected = "CONNECTED",
        PendingClientReconnection = "PENDING_CLIENT_RECONNECTION",
        Reconnecting = "RECONNECTING",
        Terminating = "TERMINATING",
        Terminated = "TERMINATED",
        Error = "ERROR",
    }
);

service_enum!(
    /// `StreamSessionStatusReason` in the service model.
    StreamSessionStatusReason {
        InternalError = "internalError",
        InvalidSignalRequest = "invalidSignalRequest",
        PlacementTimeout = "placementTimeout",
        ApplicationLogS3DestinationError = "applicationLogS3DestinationError",
        AssumeRoleFailed = "assumeRoleFailed",
        ApplicationExit = "applicationExit",
        ConnectionTimeout = "connectionTimeout",
        ReconnectionTimeout = "reconnectionTimeout",
        MaxSessionLengthTimeout = "maxSessionLengthTimeout",
        IdleTimeout = "idleTimeout",
        ApiTerminated = "apiTerminated",
    }
);

service_enum!(
    /// `ApplicationStatus` in the service model.
    ApplicationStatus {
        Initialized = "INITIALIZED",
        Processing = "PROCESSING",
        Ready = "READY",
        Deleting = "DELETING",
        Error = "ERROR",
    }
);

service_enum!(
    /// `StreamUrlStatus` in the service model.
    StreamUrlStatus {
        Active = "ACTIVE",
        Expired = "EXPIRED",
        Revoked = "REVOKED",
        LimitReached = "LIMIT_REACHED",
    }
);

impl StreamGroupStatus {
    /// Whether a group in this status streams (and so holds capacity and takes sessions).
    pub fn is_serving(&self) -> bool {
        matches!(self, Self::Active | Self::ActiveWithErrors | Self::UpdatingLocations)
    }
}

impl StreamSessionStatus {
    /// Statuses that hold or wait for capacity: every status but the final ones. A scan lists
    /// these; by-account listing costs one call per status.
    pub const OPEN: [StreamSessionStatus; 6] = [
        Self::Activating,
        Self::Active,
        Self::Connected,
        Self::PendingClientReconnection,
        Self::Reconnecting,
        Self::Terminating,
    ];

    /// Whether a session in this status occupies a slot of allocated capacity: a player is
    /// streaming, connecting or on the way back. The recycler does not delete a group that
    /// has one, and only these can be ended by the trimmer.
    pub fn holds_capacity(&self) -> bool {
        matches!(self, Self::Active | Self::Connected | Self::PendingClientReconnection | Self::Reconnecting)
    }

    /// TERMINATED and ERROR: the session is over.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Terminated | Self::Error)
    }
}

/// Capacity settings and readings of one location, as `LocationState` reports them.
/// Settings the service leaves out are `None`; readings default to zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub always_on: Option<u32>,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    /// Deprecated by the service in favour of `maximum`, still reported.
    pub on_demand: Option<u32>,
    pub requested: u32,
    pub allocated: u32,
    pub idle: u32,
}

impl Capacity {
    /// Allocated capacity that is streaming right now.
    pub fn in_use(&self) -> u32 {
        self.allocated.saturating_sub(self.idle)
    }

    /// Share of allocated capacity in use, or `None` when nothing is allocated.
    pub fn utilization(&self) -> Option<f64> {
        (self.allocated > 0).then(|| f64::from(self.in_use()) / f64::from(self.allocated))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub name: String,
    pub status: LocationStatus,
    pub capacity: Capacity,
    /// The location's private network link, if it was created with one (it can only be set
    /// when the group is created: a replacement must be given it again).
    pub vpc_transit: Option<VpcTransit>,
}

/// A location's `VpcTransitConfiguration`, as the service reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcTransit {
    pub vpc_id: String,
    pub ipv4_cidr_blocks: Vec<String>,
    /// What the studio attaches its VPC to (new with every group: the manual steps after a
    /// recreation are done again with these).
    pub transit_gateway_id: Option<String>,
    pub transit_gateway_resource_share_arn: Option<String>,
    /// The service VPC's CIDR block, to route to from the studio's VPC.
    pub internal_cidr: Option<String>,
}

/// An application as GetApplication describes it (what the recycler needs of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub arn: String,
    pub id: String,
    pub status: ApplicationStatus,
    /// `ApplicationStatusReason`: internalError, accessDenied, sourceModified.
    pub status_reason: Option<String>,
}

/// A stream URL as ListStreamUrls summarises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamUrl {
    pub arn: String,
    pub id: String,
    pub status: StreamUrlStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub remaining_uses: Option<u32>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRef {
    pub id: Option<String>,
    pub arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamGroup {
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub stream_class: Option<StreamClass>,
    pub status: StreamGroupStatus,
    pub status_reason: Option<StreamGroupStatusReason>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_updated_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub default_application: Option<ApplicationRef>,
    pub associated_applications: Vec<String>,
    /// Empty until read with ListTagsForResource: GetStreamGroup does not return tags.
    pub tags: BTreeMap<String, String>,
    pub locations: Vec<Location>,
}

impl StreamGroup {
    /// An ACTIVE group with nothing else known yet: the start of a summary or a test fixture.
    pub fn new(id: &str, arn: &str) -> Self {
        Self {
            id: id.to_owned(),
            arn: arn.to_owned(),
            description: None,
            stream_class: None,
            status: StreamGroupStatus::Active,
            status_reason: None,
            created_at: None,
            last_updated_at: None,
            expires_at: None,
            default_application: None,
            associated_applications: Vec::new(),
            tags: BTreeMap::new(),
            locations: Vec::new(),
        }
    }

    /// The region the group lives in, read from its ARN (`arn:aws:gameliftstreams:REGION:...`).
    pub fn region(&self) -> Option<&str> {
        arn_region(&self.arn)
    }

    /// The primary location is the group's own region; the service never lets it be removed.
    pub fn is_primary_location(&self, location: &str) -> bool {
        self.region() == Some(location)
    }

    pub fn location(&self, name: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.name == name)
    }

    pub fn failed_locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.status == LocationStatus::Error)
    }

    /// A failed primary location cannot be removed: only a new group mends it.
    pub fn primary_location_failed(&self) -> bool {
        self.failed_locations().any(|l| self.is_primary_location(&l.name))
    }

    pub fn group_ref(&self) -> crate::operations::GroupRef {
        crate::operations::GroupRef { id: self.id.clone(), arn: self.arn.clone() }
    }
}

/// Whether `name` (a stream group id, or a whole ARN) names `group`. An ARN must match
/// exactly: one of another account or region never names a group here that has the same id.
pub fn identifies(name: &str, group: &StreamGroup) -> bool {
    if name.starts_with("arn:") { name == group.arn } else { name == group.id }
}

/// The id at the end of a GameLift Streams ARN (or the identifier itself).
pub fn id_of(identifier: &str) -> &str {
    identifier.rsplit('/').next().unwrap_or(identifier)
}

/// The region field of a GameLift Streams ARN.
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_partition), Some("gameliftstreams"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// The account of a GameLift Streams ARN (`arn:aws:gameliftstreams:region:account:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    match (parts.next(), parts.nth(1), parts.nth(1)) {
        (Some("arn"), Some("gameliftstreams"), Some(account)) if !account.is_empty() => Some(account),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSession {
    pub arn: String,
    /// The stream group the session runs in, from the session ARN
    /// (`.../streamsession/sg-ID/SESSION`) when the summary does not name it.
    pub stream_group_id: Option<String>,
    pub status: StreamSessionStatus,
    pub status_reason: Option<StreamSessionStatusReason>,
    pub location: Option<String>,
    pub application_arn: Option<String>,
    pub user_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_updated_at: Option<DateTime<Utc>>,
}

/// The stream group id inside a session ARN (`...:streamsession/sg-ID/SESSION-ID`).
pub fn session_arn_group_id(arn: &str) -> Option<&str> {
    let resource = arn.rsplit_once(':')?.1;
    let mut parts = resource.split('/');
    match (parts.next(), parts.next()) {
        (Some("streamsession"), Some(group)) if !group.is_empty() => Some(group),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_survives_as_its_wire_name() {
        let status = StreamGroupStatus::from("HIBERNATING");
        assert_eq!(status, StreamGroupStatus::Unknown("HIBERNATING".into()));
        assert_eq!(status.to_string(), "HIBERNATING");
        assert_eq!(StreamGroupStatus::from("ACTIVE_WITH_ERRORS"), StreamGroupStatus::ActiveWithErrors);
    }

    #[test]
    fn arns_are_taken_apart() {
        let group = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1AB2C3De4";
        assert_eq!(arn_region(group), Some("us-west-2"));
        assert_eq!(arn_region("not-an-arn"), None);
        let session = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1AB2C3De4/ABC123def4567";
        assert_eq!(session_arn_group_id(session), Some("sg-1AB2C3De4"));
        assert_eq!(session_arn_group_id(group), None);
    }

    #[test]
    fn in_use_and_utilization_come_from_allocated_and_idle() {
        let capacity = Capacity { allocated: 8, idle: 6, ..Capacity::default() };
        assert_eq!(capacity.in_use(), 2);
        assert_eq!(capacity.utilization(), Some(0.25));
        assert_eq!(Capacity::default().utilization(), None);
    }
}
