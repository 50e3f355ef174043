//! The service's enumerations, as the emulator's own types. Each is an `enum` shape of the
//! bundled model (`model/service-2.json`); a test below checks every variant list against it,
//! so a value the model does not have cannot be sent, and a value the model adds is noticed.

use std::fmt;

/// Declares an enum whose variants carry the model's wire names.
macro_rules! model_enum {
    ($(#[$meta:meta])* $name:ident = $shape:literal { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// The model shape this enum mirrors.
            pub const SHAPE: &'static str = $shape;
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The variant with this wire name, or `None` for a value the model does not have.
            pub fn parse(wire: &str) -> Option<Self> {
                match wire {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

model_enum!(StreamGroupStatus = "StreamGroupStatus" {
    Activating = "ACTIVATING",
    UpdatingLocations = "UPDATING_LOCATIONS",
    Active = "ACTIVE",
    ActiveWithErrors = "ACTIVE_WITH_ERRORS",
    Error = "ERROR",
    Deleting = "DELETING",
    Expired = "EXPIRED",
});

model_enum!(StreamGroupStatusReason = "StreamGroupStatusReason" {
    InternalError = "internalError",
    NoAvailableInstances = "noAvailableInstances",
});

model_enum!(LocationStatus = "StreamGroupLocationStatus" {
    Activating = "ACTIVATING",
    Active = "ACTIVE",
    Error = "ERROR",
    Removing = "REMOVING",
});

model_enum!(SessionStatus = "StreamSessionStatus" {
    Activating = "ACTIVATING",
    Active = "ACTIVE",
    Connected = "CONNECTED",
    PendingClientReconnection = "PENDING_CLIENT_RECONNECTION",
    Reconnecting = "RECONNECTING",
    Terminating = "TERMINATING",
    Terminated = "TERMINATED",
    Error = "ERROR",
});

model_enum!(SessionStatusReason = "StreamSessionStatusReason" {
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
});

model_enum!(ApplicationStatus = "ApplicationStatus" {
    Initialized = "INITIALIZED",
    Processing = "PROCESSING",
    Ready = "READY",
    Deleting = "DELETING",
    Error = "ERROR",
});

model_enum!(ApplicationStatusReason = "ApplicationStatusReason" {
    InternalError = "internalError",
    AccessDenied = "accessDenied",
    SourceModified = "sourceModified",
});

model_enum!(ReplicationStatus = "ReplicationStatusType" {
    Replicating = "REPLICATING",
    Completed = "COMPLETED",
});

model_enum!(StreamUrlStatus = "StreamUrlStatus" {
    Active = "ACTIVE",
    Expired = "EXPIRED",
    Revoked = "REVOKED",
    LimitReached = "LIMIT_REACHED",
});

model_enum!(StreamUrlStatusReason = "StreamUrlStatusReason" {
    UserRevoked = "userRevoked",
    RevokedAndTerminatingSessions = "revokedAndTerminatingSessions",
    RevokedAndSessionsTerminated = "revokedAndSessionsTerminated",
    StreamGroupDeleted = "streamGroupDeleted",
    ApplicationDeleted = "applicationDeleted",
});

model_enum!(RevocationMode = "RevocationMode" {
    RevokeUrl = "REVOKE_URL",
    RevokeAndTerminateSessions = "REVOKE_AND_TERMINATE_SESSIONS",
});

model_enum!(ExportFilesStatus = "ExportFilesStatus" {
    Succeeded = "SUCCEEDED",
    Failed = "FAILED",
    Pending = "PENDING",
});

model_enum!(ShaderCacheStatus = "ShaderCacheStatus" {
    Initialized = "INITIALIZED",
    Processing = "PROCESSING",
    Ready = "READY",
    Deleting = "DELETING",
    Error = "ERROR",
});

model_enum!(RuntimeType = "RuntimeEnvironmentType" {
    Proton = "PROTON",
    Windows = "WINDOWS",
    Ubuntu = "UBUNTU",
});

impl StreamGroupStatus {
    /// Statuses in which a group runs its locations' capacity and can host streams.
    pub fn is_serving(self) -> bool {
        matches!(self, Self::Active | Self::ActiveWithErrors | Self::UpdatingLocations)
    }
}

impl SessionStatus {
    /// TERMINATED and ERROR: nothing more happens to the session.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Terminated | Self::Error)
    }

    /// Statuses in which the session runs on a compute resource (a slot of capacity).
    pub fn runs_on_capacity(self) -> bool {
        matches!(
            self,
            Self::Active | Self::Connected | Self::PendingClientReconnection | Self::Reconnecting | Self::Terminating
        )
    }

    /// Statuses in which a client is (or is about to be) attached.
    pub fn is_in_progress(self) -> bool {
        matches!(self, Self::Active | Self::Connected | Self::PendingClientReconnection | Self::Reconnecting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_model::ServiceModel;

    fn check<T: Copy + PartialEq + fmt::Debug>(model: &ServiceModel, shape: &str, all: &[T], wire: fn(&T) -> &str) {
        let ours: Vec<&str> = all.iter().map(wire).collect();
        let theirs = model.enum_values(shape).unwrap_or_else(|| panic!("{shape} is not an enum shape of the model"));
        assert_eq!(ours, theirs, "{shape}: the emulator's values differ from the model's");
    }

    #[test]
    fn every_enum_is_the_models() {
        let model = ServiceModel::load();
        check(&model, StreamGroupStatus::SHAPE, StreamGroupStatus::ALL, |v| v.as_str());
        check(&model, StreamGroupStatusReason::SHAPE, StreamGroupStatusReason::ALL, |v| v.as_str());
        check(&model, LocationStatus::SHAPE, LocationStatus::ALL, |v| v.as_str());
        check(&model, SessionStatus::SHAPE, SessionStatus::ALL, |v| v.as_str());
        check(&model, SessionStatusReason::SHAPE, SessionStatusReason::ALL, |v| v.as_str());
        check(&model, ApplicationStatus::SHAPE, ApplicationStatus::ALL, |v| v.as_str());
        check(&model, ApplicationStatusReason::SHAPE, ApplicationStatusReason::ALL, |v| v.as_str());
        check(&model, ReplicationStatus::SHAPE, ReplicationStatus::ALL, |v| v.as_str());
        check(&model, StreamUrlStatus::SHAPE, StreamUrlStatus::ALL, |v| v.as_str());
        check(&model, StreamUrlStatusReason::SHAPE, StreamUrlStatusReason::ALL, |v| v.as_str());
        check(&model, RevocationMode::SHAPE, RevocationMode::ALL, |v| v.as_str());
        check(&model, ExportFilesStatus::SHAPE, ExportFilesStatus::ALL, |v| v.as_str());
        check(&model, ShaderCacheStatus::SHAPE, ShaderCacheStatus::ALL, |v| v.as_str());
        check(&model, RuntimeType::SHAPE, RuntimeType::ALL, |v| v.as_str());
    }
}
