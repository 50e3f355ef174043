//! The recycler's configuration, read once at start-up. Dry run is the default: nothing
//! changes until the deployment says so.

use crate::plan::Settings;
use chrono::Duration;
use watchdog_shared::env_config::{self, ConfigError, Lookup, flag, get, parse};

#[derive(Debug, Clone)]
pub struct Config {
    pub regions: Vec<String>,
    /// Where actions, cut-overs and retirements are announced.
    pub actions_topic_arn: Option<String>,
    pub dry_run: bool,
    /// Publish the plan of a dry run to the actions topic.
    pub publish_plan: bool,
    pub max_mutations_per_run: usize,
    pub api_share: f64,
    pub max_attempts: u32,
    pub settings: Settings,
    pub clock_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let actions_topic_arn = env_config::topic_arn(lookup, "ACTIONS_TOPIC_ARN")?;
        let opt_in_tag = env_config::tag_key(lookup, "OPT_IN_TAG", "watchdog:recycle")?;
        Ok(Self {
            regions: env_config::regions(lookup)?,
            actions_topic_arn,
            dry_run: flag(lookup, "DRY_RUN", true)?,
            publish_plan: flag(lookup, "PUBLISH_PLAN", false)?,
            max_mutations_per_run: parse(
                lookup,
                "MAX_MUTATIONS_PER_RUN",
                "a whole number from 1 to 100",
                10,
                |n: &usize| (1..=100).contains(n),
            )?,
            api_share: env_config::api_share(lookup)?,
            max_attempts: parse(lookup, "MAX_ATTEMPTS", "a whole number from 1 to 10", 3, |n: &u32| {
                (1..=10).contains(n)
            })?,
            settings: Settings {
                opt_in_tag,
                manage_all_groups: flag(lookup, "MANAGE_ALL_GROUPS", false)?,
                grace: Duration::minutes(parse(
                    lookup,
                    "GRACE_MINUTES",
                    "whole minutes from 0 to 43200",
                    1440,
                    |m: &i64| (0..=43_200).contains(m),
                )?),
                expiry_guard: Duration::hours(parse(
                    lookup,
                    "EXPIRY_GUARD_HOURS",
                    "whole hours from 0 to 720",
                    24,
                    |h: &i64| (0..=720).contains(h),
                )?),
                retry_backoff: Duration::minutes(parse(
                    lookup,
                    "RETRY_BACKOFF_MINUTES",
                    "whole minutes from 1 to 10080",
                    60,
                    |m: &i64| (1..=10_080).contains(m),
                )?),
                max_groups_in_flight: parse(
                    lookup,
                    "MAX_GROUPS_IN_FLIGHT",
                    "a whole number from 1 to 50",
                    1,
                    |n: &usize| (1..=50).contains(n),
                )?,
                repair_locations: flag(lookup, "REPAIR_LOCATIONS", true)?,
                policy: env_config::policy(lookup)?,
            },
            clock_url: get(lookup, "WATCHDOG_CLOCK_URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(&env_config::lookup_from(vars))
    }

    #[test]
    fn safe_defaults() {
        let c = config(&[("AWS_REGION", "us-west-2")]).unwrap();
        assert!(c.dry_run, "dry run unless told otherwise");
        assert!(!c.settings.manage_all_groups, "opt-in per group");
        assert_eq!(c.settings.opt_in_tag, "watchdog:recycle");
        assert_eq!(c.settings.max_groups_in_flight, 1);
        assert_eq!(c.max_mutations_per_run, 10);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = config(&[("AWS_REGION", "us-west-2"), ("DRY_RUN", "no")]).unwrap_err();
        assert_eq!(err.to_string(), "DRY_RUN=\"no\" is invalid: expected true or false");
        let err = config(&[("AWS_REGION", "us-west-2"), ("OPT_IN_TAG", "aws:mine")]).unwrap_err();
        assert!(err.to_string().starts_with("OPT_IN_TAG="));
    }
}
