//! Every fact about the service the emulator plays, in one place, each with the sentence it
//! rests on: the bundled service model (`model/service-2.json`), the seed documents
//! (`seed 000`: API changes of 2025-12-17; `seed 001`: StartStreamSession) or the developer
//! guide. Where the sources leave a value open the emulator picks one, says `ASSUMED` and
//! makes it an option (`Behaviour`). Nothing here comes from the watchdog's crates:
//! `tests/tests/emulator_facts.rs` compares the two so a disagreement is seen.

use chrono::Duration;

// ---- stream classes ----

/// Concurrent sessions per compute unit, by stream class.
///
/// Model, CreateStreamGroupInput.StreamClass: "gen6n_small ... Tenancy: Supports up to 12
/// concurrent stream sessions"; "gen6n_medium ... up to 4"; "*_high ... up to 2"; every other
/// class "Tenancy: Supports 1 concurrent stream session". A test reads these sentences back
/// out of the bundled model.
pub const TENANCY: &[(&str, u32)] = &[
    ("gen4n_high", 2),
    ("gen4n_ultra", 1),
    ("gen4n_win2022", 1),
    ("gen5n_high", 2),
    ("gen5n_ultra", 1),
    ("gen5n_win2022", 1),
    ("gen6n_small", 12),
    ("gen6n_medium", 4),
    ("gen6n_high", 2),
    ("gen6n_ultra", 1),
    ("gen6n_ultra_win2022", 1),
    ("gen6n_pro", 1),
    ("gen6n_pro_win2022", 1),
    ("gen6n_small_win2022", 1),
    ("gen6n_medium_win2022", 1),
    ("gen6e_pro", 1),
    ("gen6e_pro_win2022", 1),
];

/// The tenancy of `class`, or `None` for a name the model does not list (the model's
/// StreamClass enum already refuses those at the door).
pub fn tenancy(class: &str) -> Option<u32> {
    TENANCY.iter().find(|(name, _)| *name == class).map(|(_, t)| *t)
}

/// Model, CreateStreamGroup: "Values for capacity must be whole number multiples of the
/// tenancy value of the stream group's stream class."
pub fn is_valid_capacity(class: &str, capacity: u32) -> bool {
    tenancy(class).is_none_or(|t| capacity.is_multiple_of(t))
}

/// The smallest whole number of compute units holding `capacity` sessions.
pub fn round_up_to_compute_units(class: &str, capacity: u32) -> u32 {
    match tenancy(class) {
        Some(t) => capacity.div_ceil(t) * t,
        None => capacity,
    }
}

/// Always-on capacity of a location configured without any capacity value.
///
/// Seed 000, CreateStreamGroup: "By default, all locations have 1 or 2 capacity, depending on
/// the stream class option: 2 for 'High' and 1 for 'Ultra' and 'Win2022'." That is one compute
/// unit of those classes; ASSUMED: one compute unit for the classes the sentence predates
/// (12 for gen6n_small, 4 for gen6n_medium), since a smaller value is not settable.
pub fn default_always_on(class: &str) -> u32 {
    tenancy(class).unwrap_or(1)
}

// ---- regions ----

/// The Regions that host the service (its primary locations), each with its own endpoint.
///
/// Developer guide, "AWS Regions and remote locations supported by Amazon GameLift Streams"
/// (https://docs.aws.amazon.com/gameliftstreams/latest/developerguide/regions-quotas-rande.html,
/// read 2026-12-05): "The following table lists the AWS Regions where the Amazon GameLift
/// Streams service is available and the endpoints for each Region": us-east-2, us-west-2,
/// ap-northeast-1, eu-central-1 (`gameliftstreams.<region>.api.aws`). Any other Region has no
/// endpoint to reach; the emulator answers there as an unreachable endpoint fails
/// (`--regions` names others, as AWS adds them).
pub const SERVICE_REGIONS: &[&str] = &["us-east-2", "us-west-2", "ap-northeast-1", "eu-central-1"];

// ---- stream group lifecycle ----

/// Model, CreateStreamGroup: "Stream groups that are older than 180 days can no longer be
/// updated with new application associations."
pub const ASSOCIATION_CUTOFF_DAYS: i64 = 180;

/// Model, CreateStreamGroup: "Stream groups expire when they are 365 days old, at which point
/// they can no longer stream sessions. The exact expiration date is indicated by the date value
/// in the ExpiresAt field."
pub const LIFETIME_DAYS: i64 = 365;

pub fn association_cutoff() -> Duration {
    Duration::days(ASSOCIATION_CUTOFF_DAYS)
}

pub fn lifetime() -> Duration {
    Duration::days(LIFETIME_DAYS)
}

/// Seed 000, ExpiresAt: "Only Get and Delete operations will work on an expired stream group."
/// Which operations are "Get" is open: ASSUMED strictly GetStreamGroup (and, with
/// `ExpiredGroups::Lenient`, the read-only calls on the group: tag and session reads).
pub const EXPIRED_GROUP_OPERATIONS: &[&str] = &["GetStreamGroup", "DeleteStreamGroup"];
pub const EXPIRED_GROUP_LENIENT_READS: &[&str] =
    &["ListTagsForResource", "ListStreamSessions", "GetStreamSession", "ListStreamUrls", "GetStreamUrl"];

/// Developer guide, "Overview of multi-application stream groups"
/// (https://docs.aws.amazon.com/gameliftstreams/latest/developerguide/multi-apps.html): "These
/// limits are fixed within the service for all customers": "Applications in a stream group |
/// 100 | No | The maximum number of Amazon GameLift Streams applications that can be associated
/// to a stream group"; "Stream group associations per application | 100 | No". ASSUMED error:
/// ServiceQuotaExceededException, the one the model lists on AssociateApplications.
pub const MAX_APPLICATIONS_PER_GROUP: usize = 100;
pub const MAX_GROUPS_PER_APPLICATION: usize = 100;

// ---- sessions ----

/// Seed 001: "Placement timeout ... Always-on capacity: 75 seconds".
pub const PLACEMENT_TIMEOUT_ALWAYS_ON: Duration = Duration::seconds(75);
/// Seed 001: "On-demand capacity: Linux/Proton runtimes: 90 seconds".
pub const PLACEMENT_TIMEOUT_ON_DEMAND_LINUX: Duration = Duration::seconds(90);
/// Seed 001: "On-demand capacity: ... Windows runtime: 10 minutes".
pub const PLACEMENT_TIMEOUT_ON_DEMAND_WINDOWS: Duration = Duration::minutes(10);
/// Model, StartStreamSessionInput.ConnectionTimeoutSeconds: "Default value is 120."
pub const DEFAULT_CONNECTION_TIMEOUT_SECONDS: i64 = 120;
/// Model, StartStreamSessionInput.SessionLengthSeconds: "Default value is 43200 (12 hours)."
pub const DEFAULT_SESSION_LENGTH_SECONDS: i64 = 43_200;
/// Seed 001: "Idle timeout: A stream session will be terminated if no user input has been
/// received for 60 minutes."
pub const IDLE_TIMEOUT: Duration = Duration::minutes(60);

// ---- applications ----

/// Model, ApplicationSummary.RuntimeEnvironment: "For Windows applications Microsoft Windows
/// Server 2022 Base (Type=WINDOWS, Version=2022)"; UBUNTU and PROTON are the Linux runtimes.
pub fn is_windows_runtime(runtime_type: &str) -> bool {
    runtime_type == "WINDOWS"
}

// ---- stream URLs and admin shells ----

/// Model, CreateStreamUrlInput.UsageLimit: "The minimum is 1, and the default is 1."
pub const DEFAULT_URL_USAGE_LIMIT: i64 = 1;
/// Model, CreateStreamUrlInput.UrlExpiresAfterMinutes: "The minimum is 1 minute. For the
/// maximum, see Regions, quotas, and limitations". ASSUMED: 10,080 minutes (7 days).
pub const MAX_URL_EXPIRES_AFTER_MINUTES: i64 = 10_080;
/// ASSUMED maximum UsageLimit ("For the maximum, see Regions, quotas, and limitations").
pub const MAX_URL_USAGE_LIMIT: i64 = 1_000;
/// Model, CreateStreamSessionAdminShell: "The StreamUrl is valid for 60 seconds."
pub const ADMIN_SHELL_URL_VALIDITY: Duration = Duration::seconds(60);

// ---- tags ----

/// Model, `Tags`: a map of at most 50 entries; AWS tagging reference: at most 50 user tags per
/// resource.
pub const MAX_TAGS: usize = 50;
/// AWS tagging reference: "Do not use the aws: prefix ... it's reserved for AWS use."
pub const RESERVED_TAG_PREFIX: &str = "aws:";

// ---- API rate limits ----

/// Where a rate limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LimitSource {
    /// The developer guide's API rate limits page.
    DeveloperGuide,
    /// Not on that page; the emulator's assumption, like the nearest documented operation.
    Assumed,
}

// ---- behaviour the sources leave open: chosen here, changeable on the command line ----

/// What UpdateStreamGroup does with capacity fields a location configuration leaves out.
///
/// Model, LocationConfiguration: "When you modify capacity for an existing location, always
/// specify AlwaysOnCapacity, MaximumCapacity, and TargetIdleCapacity in the same request. If
/// you omit one or more of these values, the service applies internal defaults for the missing
/// values." The defaults are not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum OmittedCapacity {
    /// ASSUMED internal defaults (the default): always-on 0, target-idle 0, maximum equal to
    /// the always-on capacity, so a caller that omits a value loses what it had.
    Reset,
    /// Keep the location's current value (the lenient reading).
    Keep,
}

/// Which calls an EXPIRED stream group still answers (see `EXPIRED_GROUP_OPERATIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum ExpiredGroups {
    /// Only GetStreamGroup and DeleteStreamGroup (the default).
    Strict,
    /// Also the read-only tag, session and stream URL calls on the group.
    Lenient,
}

/// Whether AddStreamGroupLocations and RemoveStreamGroupLocations work while the group is
/// ACTIVE_WITH_ERRORS. The sources disagree. Model, AddStreamGroupLocations and
/// RemoveStreamGroupLocations: "the stream group must be in ACTIVE status"; model,
/// StreamGroupStatus ACTIVE_WITH_ERRORS: "One or more locations in the stream group are in an
/// error state. Verify the details of individual locations and remove any locations which are
/// in error."
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum LocationChangesWithErrors {
    /// Both work (the default: the status's own advice to remove failed locations, and adding
    /// them back, both taken at their word).
    Allow,
    /// Removing works (the status's advice), adding waits for ACTIVE (the operation's sentence).
    RemoveOnly,
    /// Neither works: "must be in ACTIVE status" read strictly.
    Refuse,
}

impl LocationChangesWithErrors {
    pub fn allows_add(self) -> bool {
        self == Self::Allow
    }

    pub fn allows_remove(self) -> bool {
        self != Self::Refuse
    }
}

/// How long capacity takes to arrive and leave.
///
/// Model, OnDemandCapacity: "at the expense of a greater startup time (typically under 5
/// minutes)"; AllocatedCapacity: "it can take a few minutes for the allocated capacity count to
/// reflect the change ... when allocated on-demand capacity is no longer needed, it can take a
/// few minutes for Amazon GameLift Streams to spin down the allocated capacity."
/// ASSUMED: 1 minute to allocate (so an on-demand Linux session, whose placement timeout is 90
/// seconds, can be placed on capacity that was not there yet), 3 minutes to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityTimings {
    pub allocate: Duration,
    pub release: Duration,
}

impl Default for CapacityTimings {
    fn default() -> Self {
        Self { allocate: Duration::minutes(1), release: Duration::minutes(3) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service_model::ServiceModel;
    use regex::Regex;

    /// Reads "gen6n_small (NVIDIA, small) ... Tenancy: Supports up to 12 concurrent stream
    /// sessions" for every class out of the model's documentation.
    #[test]
    fn tenancy_is_what_the_model_documents() {
        let model = ServiceModel::load();
        let doc = model.member_documentation("CreateStreamGroupInput", "StreamClass").expect("documented");
        let text = Regex::new(r"<[^>]+>").unwrap().replace_all(doc, " ");
        let entry =
            Regex::new(r"(gen\w+)\s+\(NVIDIA[^)]*\).*?Tenancy:\s+Supports\s+(?:up to\s+)?(\d+)\s+concurrent").unwrap();
        let documented: Vec<(String, u32)> =
            entry.captures_iter(&text).map(|c| (c[1].to_owned(), c[2].parse().unwrap())).collect();
        let classes = model.enum_values("StreamClass").unwrap();
        assert_eq!(documented.len(), classes.len(), "one tenancy sentence per class: {documented:?}");
        for (class, tenancy_documented) in &documented {
            assert_eq!(tenancy(class), Some(*tenancy_documented), "{class}");
        }
        assert_eq!(TENANCY.len(), classes.len());
    }

    #[test]
    fn default_capacity_is_the_seeds_for_the_classes_it_names() {
        assert_eq!(default_always_on("gen5n_high"), 2);
        assert_eq!(default_always_on("gen5n_ultra"), 1);
        assert_eq!(default_always_on("gen5n_win2022"), 1);
        assert_eq!(default_always_on("gen6n_small"), 12, "one compute unit");
    }
}
