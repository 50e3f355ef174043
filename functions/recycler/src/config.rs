//! The recycler's configuration, read once at start-up. Dry run is the default: nothing
//! changes until the deployment says so.

use chrono::Duration;
use watchdog_core::env_config::{self, ConfigError, Connection, FromEnv, Lookup, duration, flag, whole};
use watchdog_core::reconcile::{Limit, RunSettings};
use watchdog_core::rules::Policy;

#[derive(Debug, Clone)]
pub struct Config {
    pub connection: Connection,
    /// Dry run, the per-run limit of mutating calls, the actions topic.
    pub run: RunSettings,
    pub settings: Settings,
}

impl FromEnv for Config {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let max_mutations = whole(lookup, "MAX_MUTATIONS_PER_RUN", "number", 1..=100, 10)?;
        let common = env_config::remediation(
            lookup,
            "recycler",
            "watchdog:recycle",
            false,
            Limit::MutatingCalls(max_mutations),
            // Two hourly runs and a margin.
            150,
        )?;
        if !common.run.dry_run && common.run.actions_topic_arn.is_none() {
            // Without a topic the cut-over cannot be announced, so no recreation would ever end.
            return Err(ConfigError::Conflict {
                first: "DRY_RUN",
                second: "ACTIONS_TOPIC_ARN",
                problem: "with dry run off the recycler announces every cut-over on the actions topic; set ACTIONS_TOPIC_ARN or DRY_RUN=true",
            });
        }
        Ok(Self {
            connection: common.connection,
            run: common.run,
            settings: Settings {
                opt_in_tag: common.opt_in_tag,
                manage_all_groups: common.manage_all_groups,
                grace: duration(lookup, "GRACE_MINUTES", 0..=43_200, 1440)?,
                expiry_guard: duration(lookup, "EXPIRY_GUARD_HOURS", 0..=720, 24)?,
                retry_backoff: duration(lookup, "RETRY_BACKOFF_MINUTES", 1..=10_080, 60)?,
                max_groups_in_flight: whole(lookup, "MAX_GROUPS_IN_FLIGHT", "number", 1..=50, 1)?,
                repair_locations: flag(lookup, "REPAIR_LOCATIONS", true)?,
                max_repair_attempts: whole(lookup, "MAX_REPAIR_ATTEMPTS", "number", 1..=20, 3)?,
                repair_stable: duration(lookup, "REPAIR_STABLE_HOURS", 1..=720, 24)?,
                require_cutover_ack: flag(lookup, "REQUIRE_CUTOVER_ACK", false)?,
                // The service's own StreamGroupActive waiter gives up after 120 polls 30 s apart
                // (waiters-2.json): an hour.
                activation_timeout: duration(lookup, "ACTIVATION_TIMEOUT_MINUTES", 10..=1440, 60)?,
                stream_url_max_wait: duration(lookup, "STREAM_URL_MAX_WAIT_HOURS", 0..=720, 168)?,
                alert_tag_prefix: env_config::alert_tag_prefix(lookup)?,
                policy: env_config::policy(lookup)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_defaults() {
        let c = Config::from_pairs(&[("AWS_REGION", "us-west-2")]).unwrap();
        assert!(c.run.dry_run, "dry run unless told otherwise");
        assert!(!c.settings.manage_all_groups, "opt-in per group");
        assert_eq!(c.settings.opt_in_tag, "watchdog:recycle");
        assert_eq!(c.settings.max_groups_in_flight, 1);
        assert_eq!(c.run.limit, Limit::MutatingCalls(10));
        assert_eq!(c.settings.alert_tag_prefix, "watchdog:alert:");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("DRY_RUN", "no")]).unwrap_err();
        assert_eq!(err.to_string(), "DRY_RUN=\"no\" is invalid: expected true or false");
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("OPT_IN_TAG", "aws:mine")]).unwrap_err();
        assert!(err.to_string().starts_with("OPT_IN_TAG="));
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("ALERT_TAG_PREFIX", "aws:alert:")]).unwrap_err();
        assert!(err.to_string().starts_with("ALERT_TAG_PREFIX="));
    }

    #[test]
    fn dry_run_off_needs_the_actions_topic() {
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("DRY_RUN", "false")]).unwrap_err();
        assert!(err.to_string().starts_with("DRY_RUN and ACTIONS_TOPIC_ARN cannot work together"), "{err}");
        let topic = "arn:aws:sns:us-west-2:111122223333:actions";
        assert!(
            !Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("DRY_RUN", "false"), ("ACTIONS_TOPIC_ARN", topic)])
                .unwrap()
                .run
                .dry_run
        );
    }
}

/// What the recycler plans with: everything but the connection and the runner's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub opt_in_tag: String,
    pub manage_all_groups: bool,
    /// How long the old group keeps serving after the cut-over announcement.
    pub grace: Duration,
    /// Retire the old group regardless of sessions and stream URLs this close to its expiry.
    pub expiry_guard: Duration,
    /// Wait after a failed creation, replacement or repair; doubles with every further failure.
    pub retry_backoff: Duration,
    pub max_groups_in_flight: usize,
    pub repair_locations: bool,
    /// Repairs of one location (removals) before it is escalated and left alone.
    pub max_repair_attempts: u32,
    /// How long a repaired location must stay healthy before its repair is forgotten.
    pub repair_stable: Duration,
    /// The old group is deleted only after the backend tags the replacement `watchdog:cutover-ack`.
    pub require_cutover_ack: bool,
    /// How long a replacement may stay ACTIVATING before it counts as failed.
    pub activation_timeout: Duration,
    /// How long after the cut-over active stream URLs hold the old group back.
    pub stream_url_max_wait: Duration,
    /// The scanner's alert-memory prefix: those tags are never copied to a replacement.
    pub alert_tag_prefix: String,
    pub policy: Policy,
}
