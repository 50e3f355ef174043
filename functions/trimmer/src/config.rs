//! The trimmer's configuration, read once at start-up. Dry run is the default and the
//! session policy ends nothing until the studio names what to end.

use crate::plan::{SessionPolicy, Settings};
use crate::schedule::{self, ScheduleSetting};
use chrono::Duration;
use watchdog_core::env_config::{self, ConfigError, Connection, FromEnv, Lookup, duration, flag, get, parse, whole};
use watchdog_core::ports::DemandMetric;
use watchdog_core::reconcile::{Limit, RunSettings};

#[derive(Debug, Clone)]
pub struct Config {
    pub connection: Connection,
    /// Dry run, the per-run limit (capacity changes per location and session ends,
    /// together), the actions topic.
    pub run: RunSettings,
    pub demand_source: DemandMetric,
    pub settings: Settings,
}

fn percent(lookup: Lookup<'_>, variable: &'static str, default: u32) -> Result<u32, ConfigError> {
    parse(lookup, variable, "a whole percentage from 0 to 100", default, |p: &u32| *p <= 100)
}

impl FromEnv for Config {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let off_hours = match get(lookup, "OFF_HOURS").map(|text| (ScheduleSetting::parse(&text), text)) {
            None | Some((Ok(ScheduleSetting::Disabled), _)) => None,
            Some((Ok(ScheduleSetting::Window(window)), _)) => Some(window),
            Some((Err(_), value)) => {
                return Err(ConfigError::Invalid { variable: "OFF_HOURS", value, expected: schedule::FORMAT.into() });
            }
        };
        let sessions = get(lookup, "END_SESSIONS").unwrap_or_default();
        let sessions = SessionPolicy::parse(&sessions).map_err(|_| ConfigError::Invalid {
            variable: "END_SESSIONS",
            value: sessions,
            expected: SessionPolicy::FORMAT.into(),
        })?;
        let demand_source = match get(lookup, "DEMAND_SOURCE").as_deref() {
            None | Some("watchdog") => {
                let namespace = get(lookup, "METRIC_NAMESPACE").unwrap_or_else(|| "GameLiftStreams/Watchdog".into());
                if namespace.starts_with("AWS/") {
                    // The scanner never publishes there: the trimmer would read no history and
                    // trim nothing, or read the service's own metrics under the wrong name.
                    return Err(ConfigError::Conflict {
                        first: "DEMAND_SOURCE",
                        second: "METRIC_NAMESPACE",
                        problem: "the watchdog's demand lives in its own namespace, not an AWS/ one; for the service's metrics set DEMAND_SOURCE=service",
                    });
                }
                DemandMetric::Watchdog { namespace }
            }
            Some("service") => DemandMetric::Service,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "DEMAND_SOURCE",
                    value: other.into(),
                    expected: "watchdog (the scanner's InUseCapacity) or service (AWS/GameLiftStreams ActiveCapacity)"
                        .into(),
                });
            }
        };
        let max_changes = whole(lookup, "MAX_CHANGES_PER_RUN", "number", 1..=500, 10)?;
        // Two 15-minute runs and a margin.
        let common = env_config::remediation(lookup, "trimmer", "watchdog:trim", true, Limit::Steps(max_changes), 45)?;
        Ok(Self {
            connection: common.connection,
            run: common.run,
            demand_source,
            settings: Settings {
                opt_in_tag: common.opt_in_tag,
                manage_all_groups: common.manage_all_groups,
                floor: whole(lookup, "FLOOR_CAPACITY", "streams", 0..=10_000, 1)?,
                headroom_percent: percent(lookup, "HEADROOM_PERCENT", 25)?,
                headroom_min: whole(lookup, "HEADROOM_MIN", "streams", 0..=1000, 1)?,
                cooldown: duration(lookup, "COOLDOWN_MINUTES", 0..=10_080, 60)?,
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
                trim_target_idle: flag(lookup, "TRIM_TARGET_IDLE", false)?,
                sessions,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("AWS_REGION", "us-west-2")];
        all.extend_from_slice(vars);
        Config::from_pairs(&all)
    }

    #[test]
    fn safe_defaults() {
        let c = config(&[]).unwrap();
        assert!(c.run.dry_run && c.run.publish_plan);
        assert!(!c.settings.manage_all_groups);
        assert_eq!(c.settings.opt_in_tag, "watchdog:trim");
        assert_eq!(c.settings.sessions, SessionPolicy::default(), "ends no session unless told");
        assert!(c.settings.off_hours.is_none());
        assert_eq!(c.run.limit, Limit::Steps(10));
        assert_eq!(c.run.repeated_failure_window, Some(chrono::Duration::minutes(45)));
    }

    #[test]
    fn failing_run_after_run_is_judged_over_two_runs_of_its_own_schedule() {
        let window = |vars: &[(&str, &str)]| config(vars).unwrap().run.repeated_failure_window;
        assert_eq!(window(&[("SCHEDULE_EXPRESSION", "rate(30 minutes)")]), Some(chrono::Duration::minutes(75)));
        assert_eq!(window(&[("SCHEDULE_EXPRESSION", "cron(0 8 * * ? *)")]), Some(chrono::Duration::minutes(45)));
        let told = [("SCHEDULE_EXPRESSION", "rate(30 minutes)"), ("REPEATED_FAILURE_WINDOW_MINUTES", "0")];
        assert_eq!(window(&told), None, "an explicit window wins; 0 never fails");
        let err = config(&[("SCHEDULE_EXPRESSION", "hourly")]).unwrap_err();
        assert!(err.to_string().starts_with("SCHEDULE_EXPRESSION=\"hourly\" is invalid"), "{err}");
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
        let err = config(&[("METRIC_NAMESPACE", "AWS/GameLiftStreams")]).unwrap_err();
        assert!(err.to_string().starts_with("DEMAND_SOURCE and METRIC_NAMESPACE cannot work together"), "{err}");
    }
}
