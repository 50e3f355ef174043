//! Every GameLift Streams call the watchdog can make, described once.
//!
//! [`Operation`] names a call and says what follows from it: whether it changes the service
//! and which IAM actions it needs. [`Write`] is every write with its arguments. Everything
//! else derives from these two: the adapter dispatches a `Write` in one match
//! (`watchdog_aws::gamelift`), the runner executes it, the read-only CLI refuses it by its
//! operation, the in-memory world checks it against the function's declared operations, the
//! client-side rate limiter looks up its operation's documented limit, and the IAM drift test
//! compares `iam_actions` with template.yaml and the Service Authorization Reference.
//!
//! Adding a write: one `Write` variant (and its `Operation`, if new), one arm in the adapter
//! and one in the in-memory world, and its statement in template.yaml.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// A resource's tags.
pub type Tags = BTreeMap<String, String>;

/// A stream group named by both its id and its ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub arn: String,
}

/// A location's capacity settings, as CreateStreamGroup, AddStreamGroupLocations and
/// UpdateStreamGroup take them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationSpec {
    pub name: String,
    pub always_on: u32,
    pub target_idle: Option<u32>,
    pub maximum: Option<u32>,
    /// The deprecated on-demand form; the service refuses it together with the two above.
    pub on_demand: Option<u32>,
    /// `VpcTransitConfiguration`: taken only by CreateStreamGroup and AddStreamGroupLocations
    /// (the VPC cannot be changed afterwards); never sent with UpdateStreamGroup.
    pub vpc_transit: Option<VpcTransitSettings>,
}

/// The settings of a location's VPC transit: what CreateStreamGroup takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcTransitSettings {
    pub vpc_id: String,
    pub ipv4_cidr_blocks: Vec<String>,
}

/// Everything CreateStreamGroup needs to build a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateGroupRequest {
    pub description: String,
    pub stream_class: String,
    pub default_application: Option<String>,
    pub locations: Vec<LocationSpec>,
    pub tags: Tags,
    /// A retried create with the same token returns the same group.
    pub client_token: String,
}

/// Every GameLift Streams operation the watchdog can call. Each function declares the ones it
/// uses (the scanner's `OPERATIONS`; a remediation function's `Reconciler::OWN_OPERATIONS`,
/// whole with the runner's in `reconcile::operations`); its IAM policy is checked against their
/// [`iam_actions`](Operation::iam_actions), and the in-memory world refuses any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Operation {
    ListStreamGroups,
    GetStreamGroup,
    ListTagsForResource,
    ListStreamSessions,
    ListStreamSessionsByAccount,
    GetStreamSession,
    GetApplication,
    ListStreamUrls,
    TagResource,
    UntagResource,
    CreateStreamGroup,
    AssociateApplications,
    DeleteStreamGroup,
    RemoveStreamGroupLocations,
    AddStreamGroupLocations,
    UpdateStreamGroup,
    TerminateStreamSession,
}

impl Operation {
    pub const ALL: &[Operation] = &[
        Self::ListStreamGroups,
        Self::GetStreamGroup,
        Self::ListTagsForResource,
        Self::ListStreamSessions,
        Self::ListStreamSessionsByAccount,
        Self::GetStreamSession,
        Self::GetApplication,
        Self::ListStreamUrls,
        Self::TagResource,
        Self::UntagResource,
        Self::CreateStreamGroup,
        Self::AssociateApplications,
        Self::DeleteStreamGroup,
        Self::RemoveStreamGroupLocations,
        Self::AddStreamGroupLocations,
        Self::UpdateStreamGroup,
        Self::TerminateStreamSession,
    ];

    /// The operation's name in the service model (and in the API's rate-limit table).
    pub fn name(self) -> &'static str {
        match self {
            Self::ListStreamGroups => "ListStreamGroups",
            Self::GetStreamGroup => "GetStreamGroup",
            Self::ListTagsForResource => "ListTagsForResource",
            Self::ListStreamSessions => "ListStreamSessions",
            Self::ListStreamSessionsByAccount => "ListStreamSessionsByAccount",
            Self::GetStreamSession => "GetStreamSession",
            Self::GetApplication => "GetApplication",
            Self::ListStreamUrls => "ListStreamUrls",
            Self::TagResource => "TagResource",
            Self::UntagResource => "UntagResource",
            Self::CreateStreamGroup => "CreateStreamGroup",
            Self::AssociateApplications => "AssociateApplications",
            Self::DeleteStreamGroup => "DeleteStreamGroup",
            Self::RemoveStreamGroupLocations => "RemoveStreamGroupLocations",
            Self::AddStreamGroupLocations => "AddStreamGroupLocations",
            Self::UpdateStreamGroup => "UpdateStreamGroup",
            Self::TerminateStreamSession => "TerminateStreamSession",
        }
    }

    /// Whether the call changes the service (tag writes included): what a dry run never
    /// makes, the read-only CLI refuses and the recycler's per-run limit counts.
    pub fn is_mutating(self) -> bool {
        !matches!(
            self,
            Self::ListStreamGroups
                | Self::GetStreamGroup
                | Self::ListTagsForResource
                | Self::ListStreamSessions
                | Self::ListStreamSessionsByAccount
                | Self::GetStreamSession
                | Self::GetApplication
                | Self::ListStreamUrls
        )
    }

    /// The IAM actions the call needs. Service Authorization Reference (vendored in
    /// `reference/iam/`): the action named as the operation, except that CreateStreamGroup is
    /// also authorized as AssociateApplications and, as it tags the new group, TagResource.
    pub fn iam_actions(self) -> Vec<String> {
        let also: &[Operation] = match self {
            Self::CreateStreamGroup => &[Self::AssociateApplications, Self::TagResource],
            _ => &[],
        };
        std::iter::once(self).chain(also.iter().copied()).map(|op| format!("gameliftstreams:{}", op.name())).collect()
    }

    /// The IAM actions a function that calls `operations` needs.
    pub fn iam_actions_of(operations: &[Operation]) -> std::collections::BTreeSet<String> {
        operations.iter().flat_map(|op| op.iam_actions()).collect()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// AssociateApplications takes at most this many applications per call (the model's
/// `ApplicationIdentifiers`: max 50).
pub const APPLICATIONS_PER_CALL: usize = 50;

/// Every write the watchdog can make to GameLift Streams, with its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Write {
    Tag {
        arn: String,
        tags: Tags,
    },
    Untag {
        arn: String,
        keys: Vec<String>,
    },
    CreateStreamGroup(CreateGroupRequest),
    AssociateApplications {
        group_id: String,
        applications: Vec<String>,
    },
    DeleteStreamGroup {
        group_id: String,
    },
    RemoveLocation {
        group_id: String,
        location: String,
    },
    AddLocation {
        group_id: String,
        location: LocationSpec,
    },
    /// UpdateStreamGroup with these locations' capacity (every setting sent for each).
    UpdateCapacity {
        group_id: String,
        locations: Vec<LocationSpec>,
    },
    /// UpdateStreamGroup with only DefaultApplicationIdentifier (no location is sent, so no
    /// capacity setting is touched).
    SetDefaultApplication {
        group_id: String,
        application: String,
    },
    TerminateSession {
        group_id: String,
        session_arn: String,
    },
}

impl Write {
    pub fn operation(&self) -> Operation {
        match self {
            Self::Tag { .. } => Operation::TagResource,
            Self::Untag { .. } => Operation::UntagResource,
            Self::CreateStreamGroup(_) => Operation::CreateStreamGroup,
            Self::AssociateApplications { .. } => Operation::AssociateApplications,
            Self::DeleteStreamGroup { .. } => Operation::DeleteStreamGroup,
            Self::RemoveLocation { .. } => Operation::RemoveStreamGroupLocations,
            Self::AddLocation { .. } => Operation::AddStreamGroupLocations,
            Self::UpdateCapacity { .. } | Self::SetDefaultApplication { .. } => Operation::UpdateStreamGroup,
            Self::TerminateSession { .. } => Operation::TerminateStreamSession,
        }
    }

    /// What the write is made on, as a log line or a test's fault names it: the resource ARN
    /// of a tag write, the session ARN of a termination, the client token of a create, else
    /// the group id.
    pub fn target(&self) -> &str {
        match self {
            Self::Tag { arn, .. } | Self::Untag { arn, .. } => arn,
            Self::CreateStreamGroup(request) => &request.client_token,
            Self::TerminateSession { session_arn, .. } => session_arn,
            Self::AssociateApplications { group_id, .. }
            | Self::DeleteStreamGroup { group_id }
            | Self::RemoveLocation { group_id, .. }
            | Self::AddLocation { group_id, .. }
            | Self::UpdateCapacity { group_id, .. }
            | Self::SetDefaultApplication { group_id, .. } => group_id,
        }
    }

    /// API calls the write takes: one, except AssociateApplications beyond
    /// [`APPLICATIONS_PER_CALL`] applications.
    pub fn api_calls(&self) -> usize {
        match self {
            Self::AssociateApplications { applications, .. } => {
                applications.len().div_ceil(APPLICATIONS_PER_CALL).max(1)
            }
            _ => 1,
        }
    }

    /// Whether the write changes nothing and need not be sent (an empty tag write).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Tag { tags, .. } => tags.is_empty(),
            Self::Untag { keys, .. } => keys.is_empty(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_operation_once_and_every_write_is_a_mutating_operation() {
        let unique: std::collections::BTreeSet<_> = Operation::ALL.iter().collect();
        assert_eq!(unique.len(), Operation::ALL.len());
        let group = || "sg-1".to_owned();
        let spec = LocationSpec {
            name: "us-west-2".into(),
            always_on: 0,
            target_idle: None,
            maximum: None,
            on_demand: None,
            vpc_transit: None,
        };
        let writes = [
            Write::Tag { arn: group(), tags: Tags::new() },
            Write::Untag { arn: group(), keys: vec![] },
            Write::AssociateApplications { group_id: group(), applications: vec!["a".into(); 51] },
            Write::DeleteStreamGroup { group_id: group() },
            Write::RemoveLocation { group_id: group(), location: "l".into() },
            Write::AddLocation { group_id: group(), location: spec.clone() },
            Write::UpdateCapacity { group_id: group(), locations: vec![spec] },
            Write::SetDefaultApplication { group_id: group(), application: "a".into() },
            Write::TerminateSession { group_id: group(), session_arn: "s".into() },
        ];
        for write in &writes {
            assert!(write.operation().is_mutating(), "{write:?}");
        }
        assert_eq!(writes[2].api_calls(), 2, "51 applications take two AssociateApplications calls");
        assert!(!Operation::GetStreamGroup.is_mutating() && !Operation::ListStreamUrls.is_mutating());
    }
}
