//! The trimmer's configuration, read once at start-up. Dry run is the default and the
//! session policy ends nothing until the studio names what to end.

use crate::demand::DemandSource;
use crate::plan::{SessionPolicy, Settings};
use crate::schedule::{self, ScheduleSetting};
use chrono::Duration;
use watchdog_shared::env_config::{self, ConfigError, Lookup, flag, get, parse};

#[derive(Debug, Clone)]
pub struct Config {
    pub regions: Vec<String>,
    /// Where changes (and dry-run plans) are announced.
    pub actions_topic_arn: Option<String>,
    pub dry_run: bool,
    /// Publish the plan of a dry run to the actions topic.
    pub publish_plan: bool,
    /// Capacity changes (per location) and session ends, together.
    pub max_changes_per_run: usize,
    pub api_share: f64,
    pub max_attempts: u32,
    pub demand_source: DemandSource,
    pub settings: Settings,
    pub clock_url: Option<String>,
}

fn percent(lookup: Lookup<'_>, variable: &'static str, default: u32) -> Result<u32, ConfigError> {
    parse(lookup, variable, "a whole percentage from 0 to 100", default, |p: &u32| *p <= 100)
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let off_hours = match get(lookup, "OFF_HOURS").map(|text| (ScheduleSetting::parse(&text), text)) {
            None | Some((Ok(ScheduleSetting::Disabled), _)) => None,
            Some((Ok(ScheduleSetting::Window(window)), _)) => Some(window),
            Some((Err(_), value)) => {
                return Err(ConfigError::Invalid { variable: "OFF_HOURS", value, expected: schedule::FORMAT });
            }
        };
        let sessions = get(lookup, "END_SESSIONS").unwrap_or_default();
        let sessions = SessionPolicy::parse(&sessions).map_err(|_| ConfigError::Invalid {
            variable: "END_SESSIONS",
            value: sessions,
            expected: SessionPolicy::FORMAT,
        })?;
        let demand_source = match get(lookup, "DEMAND_SOURCE").as_deref() {
            None | Some("watchdog") => DemandSource::Watchdog {
                namespace: get(lookup, "METRIC_NAMESPACE").unwrap_or_else(|| "GameLiftStreams/Watchdog".into()),
            },
            Some("service") => DemandSource::Service,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "DEMAND_SOURCE",
                    value: other.into(),
                    expected: "watchdog (the scanner's InUseCapacity) or service (AWS/GameLiftStreams ActiveCapacity)",
                });
            }
        };
        Ok(Self {
            regions: env_config::regions(lookup)?,
            actions_topic_arn: env_config::topic_arn(lookup, "ACTIONS_TOPIC_ARN")?,
            dry_run: flag(lookup, "DRY_RUN", true)?,
            publish_plan: flag(lookup, "PUBLISH_PLAN", true)?,
            max_changes_per_run: parse(
                lookup,
                "MAX_CHANGES_PER_RUN",
                "a whole number from 1 to 500",
                10,
                |n: &usize| (1..=500).contains(n),
            )?,
            api_share: env_config::api_share(lookup)?,
            max_attempts: parse(lookup, "MAX_ATTEMPTS", "a whole number from 1 to 10", 3, |n: &u32| {
                (1..=10).contains(n)
            })?,
            demand_source,
            settings: Settings {
                opt_in_tag: env_config::tag_key(lookup, "OPT_IN_TAG", "watchdog:trim")?,
                manage_all_groups: flag(lookup, "MANAGE_ALL_GROUPS", false)?,
                floor: parse(lookup, "FLOOR_CAPACITY", "a whole number of streams from 0 to 10000", 1, |n: &u32| {
                    *n <= 10_000
                })?,
                headroom_percent: percent(lookup, "HEADROOM_PERCENT", 25)?,
                headroom_min: parse(
                    lookup,
                    "HEADROOM_MIN",
                    "a whole number of streams from 0 to 1000",
                    1,
                    |n: &u32| *n <= 1000,
                )?,
                cooldown: Duration::minutes(parse(
                    lookup,
                    "COOLDOWN_MINUTES",
                    "whole minutes from 0 to 10080",
                    60,
                    |m: &i64| (0..=10_080).contains(m),
                )?),
                window: Duration::minutes(parse(
                    lookup,
                    "DEMAND_WINDOW_MINUTES",
                    "whole minutes from 5 to 20160 (14 days: older one-minute capacity data is unreliable)",
                    1440,
                    |m: &i64| (5..=20_160).contains(m),
                )?),
                min_history_share: f64::from(percent(lookup, "MIN_HISTORY_PERCENT", 50)?) / 100.0,
                raise_share: f64::from(percent(lookup, "RAISE_AT_PERCENT", 80)?) / 100.0,
                off_hours,
                sessions,
            },
            clock_url: get(lookup, "WATCHDOG_CLOCK_URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("AWS_REGION", "us-west-2")];
        all.extend_from_slice(vars);
        Config::from_lookup(&env_config::lookup_from(&all))
    }

    #[test]
    fn safe_defaults() {
        let c = config(&[]).unwrap();
        assert!(c.dry_run && c.publish_plan);
        assert!(!c.settings.manage_all_groups);
        assert_eq!(c.settings.opt_in_tag, "watchdog:trim");
        assert_eq!(c.settings.sessions, SessionPolicy::default(), "ends no session unless told");
        assert!(c.settings.off_hours.is_none());
        assert_eq!(c.max_changes_per_run, 10);
    }

    #[test]
    fn errors_name_the_variable_and_the_form() {
        let err = config(&[("END_SESSIONS", "ACTIVATING>1m")]).unwrap_err();
        assert!(err.to_string().starts_with("END_SESSIONS=\"ACTIVATING>1m\" is invalid"), "{err}");
        let err = config(&[("OFF_HOURS", "Berlin * * * * *")]).unwrap_err();
        assert!(err.to_string().contains("IANA time zone"), "{err}");
        let err = config(&[("DEMAND_SOURCE", "guess")]).unwrap_err();
        assert!(err.to_string().starts_with("DEMAND_SOURCE="), "{err}");
        let err = config(&[("HEADROOM_PERCENT", "150")]).unwrap_err();
        assert!(err.to_string().starts_with("HEADROOM_PERCENT="), "{err}");
    }
}
