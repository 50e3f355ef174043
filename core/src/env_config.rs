//! Reading a function's configuration from its environment, once, at start-up. Every error
//! names the variable, the value and the form expected.

pub use crate::connection::Connection;
use crate::rules::Policy;
use chrono::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Invalid { variable: &'static str, value: String, expected: String },
    #[error("{variable} is not set: expected {expected}")]
    Missing { variable: &'static str, expected: String },
    /// Two settings that cannot work together.
    #[error("{first} and {second} cannot work together: {problem}")]
    Conflict { first: &'static str, second: &'static str, problem: &'static str },
}

/// REGIONS, API_SHARE, MAX_ATTEMPTS and WATCHDOG_CLOCK_URL.
pub fn connection(lookup: Lookup<'_>, default_max_attempts: u32) -> Result<Connection, ConfigError> {
    Ok(Connection {
        regions: regions(lookup)?,
        api_share: api_share(lookup)?,
        max_attempts: whole(lookup, "MAX_ATTEMPTS", "number", 1..=10, default_max_attempts)?,
        clock_url: get(lookup, "WATCHDOG_CLOCK_URL"),
    })
}

/// What the remediation functions (recycler, trimmer) read alike.
#[derive(Debug, Clone)]
pub struct Remediation {
    pub connection: Connection,
    pub run: crate::reconcile::RunSettings,
    pub opt_in_tag: String,
    pub manage_all_groups: bool,
}

/// ACTIONS_TOPIC_ARN, DRY_RUN (default true), PUBLISH_PLAN, OPT_IN_TAG, MANAGE_ALL_GROUPS and
/// the connection; `limit` is the function's own per-run limit. REPEATED_FAILURE_WINDOW_MINUTES
/// defaults to two runs and a margin of the function's SCHEDULE_EXPRESSION when that is a
/// `rate(...)`, else to `repeated_failure_default_minutes`.
pub fn remediation(
    lookup: Lookup<'_>,
    function: &'static str,
    opt_in_default: &str,
    publish_plan_default: bool,
    limit: crate::reconcile::Limit,
    repeated_failure_default_minutes: i64,
) -> Result<Remediation, ConfigError> {
    let default = match schedule_period(lookup)? {
        Some(period) => repeated_failure_window(period).num_minutes().min(10_080),
        None => repeated_failure_default_minutes,
    };
    let window = duration(lookup, "REPEATED_FAILURE_WINDOW_MINUTES", 0..=10_080, default)?;
    Ok(Remediation {
        connection: connection(lookup, 3)?,
        run: crate::reconcile::RunSettings {
            function,
            dry_run: flag(lookup, "DRY_RUN", true)?,
            limit,
            actions_topic_arn: topic_arn(lookup, "ACTIONS_TOPIC_ARN")?,
            event_bus: event_bus(lookup)?,
            publish_plan: flag(lookup, "PUBLISH_PLAN", publish_plan_default)?,
            metric_namespace: metric_namespace(lookup)?,
            repeated_failure_window: (window > Duration::zero()).then_some(window),
        },
        opt_in_tag: tag_key(lookup, "OPT_IN_TAG", opt_in_default)?,
        manage_all_groups: flag(lookup, "MANAGE_ALL_GROUPS", false)?,
    })
}

/// EVENT_BUS_NAME: the EventBridge bus every finding and executed step is put on, by name or
/// ARN (the organisation's central bus is another account's: its ARN); unset puts none.
pub fn event_bus(lookup: Lookup<'_>) -> Result<Option<String>, ConfigError> {
    let Some(bus) = get(lookup, "EVENT_BUS_NAME") else { return Ok(None) };
    let valid = |c: char| c.is_ascii_alphanumeric() || "._-/:".contains(c);
    if bus.is_empty() || bus.len() > 1600 || !bus.chars().all(valid) {
        return Err(ConfigError::Invalid {
            variable: "EVENT_BUS_NAME",
            value: bus,
            expected: "an event bus name (letters, digits, . _ - /) or its ARN".into(),
        });
    }
    Ok(Some(bus))
}

/// METRIC_NAMESPACE: the watchdog's own CloudWatch namespace, never a reserved `AWS/` one.
pub fn metric_namespace(lookup: Lookup<'_>) -> Result<String, ConfigError> {
    record_default("METRIC_NAMESPACE", &"GameLiftStreams/Watchdog");
    let namespace = get(lookup, "METRIC_NAMESPACE").unwrap_or_else(|| "GameLiftStreams/Watchdog".into());
    if namespace.starts_with("AWS/") || namespace.len() > 255 {
        return Err(ConfigError::Invalid {
            variable: "METRIC_NAMESPACE",
            value: namespace,
            expected: "a custom namespace of at most 255 characters, not starting with AWS/".into(),
        });
    }
    Ok(namespace)
}

/// ALERT_TAG_PREFIX: where the scanner keeps its alert memory (the recycler never copies it).
pub fn alert_tag_prefix(lookup: Lookup<'_>) -> Result<String, ConfigError> {
    tag_key(lookup, "ALERT_TAG_PREFIX", crate::tags::alert::DEFAULT_PREFIX)
}

/// Where settings come from: the process environment, or a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

thread_local! {
    /// The defaults the parsers fall back to, while [`defaults_of`] listens.
    static DEFAULTS: std::cell::RefCell<Option<std::collections::BTreeMap<&'static str, String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Remembers a variable's default while [`defaults_of`] listens (the configuration reference
/// is generated from what the parsers themselves fall back to).
fn record_default(variable: &'static str, default: &dyn std::fmt::Display) {
    DEFAULTS.with(|d| {
        if let Some(defaults) = d.borrow_mut().as_mut() {
            defaults.insert(variable, default.to_string());
        }
    });
}

/// Runs `parse` and returns the defaults the parsers fell back to, by variable.
pub fn defaults_of<T>(parse: impl FnOnce() -> T) -> (T, std::collections::BTreeMap<&'static str, String>) {
    DEFAULTS.with(|d| *d.borrow_mut() = Some(Default::default()));
    let parsed = parse();
    let defaults = DEFAULTS.with(|d| d.borrow_mut().take()).unwrap_or_default();
    (parsed, defaults)
}

/// A function's configuration, read once at start-up from its environment.
pub trait FromEnv: Sized {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError>;

    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// From fixed pairs, for tests and tools.
    fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_lookup(&lookup_from(pairs))
    }
}

/// A lookup over fixed pairs, for tests and tools.
pub fn lookup_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

/// A set, non-blank value.
pub fn get(lookup: Lookup<'_>, variable: &str) -> Option<String> {
    lookup(variable).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `variable` parsed and checked, or `default` when unset.
pub fn parse<T: std::str::FromStr + std::fmt::Display>(
    lookup: Lookup<'_>,
    variable: &'static str,
    expected: &str,
    default: T,
    valid: impl Fn(&T) -> bool,
) -> Result<T, ConfigError> {
    record_default(variable, &default);
    match get(lookup, variable) {
        None => Ok(default),
        Some(value) => match value.parse::<T>() {
            Ok(parsed) if valid(&parsed) => Ok(parsed),
            _ => Err(ConfigError::Invalid { variable, value, expected: expected.to_owned() }),
        },
    }
}

/// A whole number of `unit`s (`number`, `minutes`, `streams`...) in `range`, or `default`.
pub fn whole<T>(
    lookup: Lookup<'_>,
    variable: &'static str,
    unit: &str,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let expected = match unit {
        "number" => format!("a whole number from {} to {}", range.start(), range.end()),
        unit => format!("whole {unit} from {} to {}", range.start(), range.end()),
    };
    parse(lookup, variable, &expected, default, |v| range.contains(v))
}

/// [`whole`] minutes or hours, as a duration, in the unit the variable's name ends with
/// (`_MINUTES` or `_HOURS`), so that a name and how it is read cannot disagree.
pub fn duration(
    lookup: Lookup<'_>,
    variable: &'static str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<Duration, ConfigError> {
    let (unit, in_unit): (&str, fn(i64) -> Duration) = if variable.ends_with("_MINUTES") {
        ("minutes", Duration::minutes)
    } else if variable.ends_with("_HOURS") {
        ("hours", Duration::hours)
    } else {
        panic!("{variable}: the name of a duration variable ends with its unit, _MINUTES or _HOURS")
    };
    whole(lookup, variable, unit, range, default).map(in_unit)
}

/// `true`/`false`, or `default` when unset.
pub fn flag(lookup: Lookup<'_>, variable: &'static str, default: bool) -> Result<bool, ConfigError> {
    record_default(variable, &default);
    match get(lookup, variable).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            Err(ConfigError::Invalid { variable, value: other.to_owned(), expected: "true or false".into() })
        }
    }
}

/// A tag key the function reads or writes: at most 128 characters, not in the reserved `aws:` space.
pub fn tag_key(lookup: Lookup<'_>, variable: &'static str, default: &str) -> Result<String, ConfigError> {
    record_default(variable, &default);
    let key = get(lookup, variable).unwrap_or_else(|| default.to_owned());
    if key.starts_with("aws:") || key.len() > 128 {
        return Err(ConfigError::Invalid {
            variable,
            value: key,
            expected: "a tag key of at most 128 characters, not starting with aws:".into(),
        });
    }
    Ok(key)
}

/// An optional SNS topic ARN.
pub fn topic_arn(lookup: Lookup<'_>, variable: &'static str) -> Result<Option<String>, ConfigError> {
    let is_topic = |arn: &str| {
        let parts: Vec<&str> = arn.split(':').collect();
        parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && is_region_name(parts[3])
            && parts[4].len() == 12
            && parts[4].chars().all(|c| c.is_ascii_digit())
            && !parts[5].is_empty()
            && parts[5].len() <= 256
            && parts[5].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    match get(lookup, variable) {
        Some(arn) if !is_topic(&arn) => Err(ConfigError::Invalid {
            variable,
            value: arn,
            expected: "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)".into(),
        }),
        other => Ok(other),
    }
}

/// The share of each documented rate limit this function may use: API_SHARE, the share the
/// studio leaves the whole watchdog, times API_SHARE_PART, this function's part of it (the
/// template gives the three functions parts that add up to 1, so together they never use more
/// than API_SHARE, tag writes included). Without a part the function takes the whole share.
pub fn api_share(lookup: Lookup<'_>) -> Result<f64, ConfigError> {
    let share = parse(lookup, "API_SHARE", "a number in (0, 1], e.g. 0.5", 0.5, |s: &f64| *s > 0.0 && *s <= 1.0)?;
    let part = parse(lookup, "API_SHARE_PART", "a number in (0, 1], e.g. 0.25", 1.0, |s: &f64| *s > 0.0 && *s <= 1.0)?;
    Ok(share * part)
}

/// AWS region names: `us-west-2`, `ap-northeast-1`, `eu-central-1`...
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// REGIONS, or the function's own AWS_REGION.
pub fn regions(lookup: Lookup<'_>) -> Result<Vec<String>, ConfigError> {
    const REGIONS: &str = "comma-separated region names such as us-west-2,eu-central-1";
    match get(lookup, "REGIONS") {
        Some(list) => {
            let regions: Vec<String> = list.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect();
            if regions.is_empty() || !regions.iter().all(|r| is_region_name(r)) {
                return Err(ConfigError::Invalid { variable: "REGIONS", value: list, expected: REGIONS.into() });
            }
            Ok(regions)
        }
        None => match get(lookup, "AWS_REGION") {
            Some(region) if is_region_name(&region) => Ok(vec![region]),
            Some(region) => {
                Err(ConfigError::Invalid { variable: "AWS_REGION", value: region, expected: REGIONS.into() })
            }
            None => Err(ConfigError::Missing { variable: "REGIONS", expected: REGIONS.into() }),
        },
    }
}

/// The finding rules' thresholds (ROTATION_DAYS, CUTOFF_WARNING_DAYS, EXPIRY_THRESHOLDS_DAYS,
/// IDLE_SHARE, STALE_MARGIN_MINUTES); every function reads the same ones.
pub fn policy(lookup: Lookup<'_>) -> Result<Policy, ConfigError> {
    let expiry_thresholds_days = match get(lookup, "EXPIRY_THRESHOLDS_DAYS") {
        None => Policy::default().expiry_thresholds_days,
        Some(list) => {
            let parsed: Result<Vec<i64>, _> = list.split(',').map(|d| d.trim().parse::<i64>()).collect();
            match parsed {
                Ok(days) if !days.is_empty() && days.iter().all(|d| (1..=365).contains(d)) => days,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "EXPIRY_THRESHOLDS_DAYS",
                        value: list,
                        expected: "comma-separated whole days between 1 and 365, e.g. 30,14,7,1".into(),
                    });
                }
            }
        }
    };
    let defaults = Policy::default();
    Ok(Policy {
        rotation_days: whole(lookup, "ROTATION_DAYS", "days", 1..=364, defaults.rotation_days)?,
        cutoff_warning_days: whole(lookup, "CUTOFF_WARNING_DAYS", "days", 0..=179, defaults.cutoff_warning_days)?,
        expiry_thresholds_days,
        idle_share: parse(lookup, "IDLE_SHARE", "a number in [0, 1), e.g. 0.5", defaults.idle_share, |s: &f64| {
            (0.0..1.0).contains(s)
        })?,
        stale_margin: duration(lookup, "STALE_MARGIN_MINUTES", 0..=1440, 15)?,
    })
}

/// The period of SCHEDULE_EXPRESSION (the function's EventBridge Scheduler expression): `None`
/// when unset or a `cron(...)`/`at(...)` expression, whose period is not one number.
pub fn schedule_period(lookup: Lookup<'_>) -> Result<Option<Duration>, ConfigError> {
    let Some(expression) = get(lookup, "SCHEDULE_EXPRESSION") else { return Ok(None) };
    let invalid = || ConfigError::Invalid {
        variable: "SCHEDULE_EXPRESSION",
        value: expression.clone(),
        expected: "an EventBridge Scheduler expression: rate(N minutes|hours|days), cron(...) or at(...)".into(),
    };
    let trimmed = expression.trim();
    if (trimmed.starts_with("cron(") || trimmed.starts_with("at(")) && trimmed.ends_with(')') {
        return Ok(None);
    }
    let inner = trimmed.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')).ok_or_else(invalid)?;
    let (value, unit) = inner.trim().split_once(' ').ok_or_else(invalid)?;
    let value: i64 = value.parse().ok().filter(|v| *v > 0).ok_or_else(invalid)?;
    // Scheduler's own rule: the singular unit for 1, the plural otherwise.
    let period = match (unit.trim(), value) {
        ("minute", 1) | ("minutes", 2..) => Duration::minutes(value),
        ("hour", 1) | ("hours", 2..) => Duration::hours(value),
        ("day", 1) | ("days", 2..) => Duration::days(value),
        _ => return Err(invalid()),
    };
    Ok(Some(period))
}

/// How far back a failed run makes this run's failures "run after run": two periods, so the
/// run before counts even when it started late, and a margin of half a period (15 minutes at
/// least) for runs that take long.
pub fn repeated_failure_window(period: Duration) -> Duration {
    period * 2 + (period / 2).max(Duration::minutes(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repeated_failure_window_follows_the_schedule() {
        let period = |value: &str| schedule_period(&lookup_from(&[("SCHEDULE_EXPRESSION", value)]));
        assert_eq!(period("rate(1 hour)"), Ok(Some(Duration::hours(1))));
        assert_eq!(period("rate(15 minutes)"), Ok(Some(Duration::minutes(15))));
        assert_eq!(period("rate(2 days)"), Ok(Some(Duration::days(2))));
        assert_eq!(period("cron(0 * * * ? *)"), Ok(None));
        assert_eq!(schedule_period(&lookup_from(&[])), Ok(None));
        for bad in ["rate(1 hours)", "rate(15 minute)", "rate(0 minutes)", "rate(ten minutes)", "every hour"] {
            let err = period(bad).unwrap_err();
            assert!(err.to_string().starts_with(&format!("SCHEDULE_EXPRESSION={bad:?} is invalid")), "{err}");
        }
        // The defaults the functions had: 150 minutes hourly, 45 every 15 minutes.
        assert_eq!(repeated_failure_window(Duration::hours(1)), Duration::minutes(150));
        assert_eq!(repeated_failure_window(Duration::minutes(15)), Duration::minutes(45));
        assert_eq!(repeated_failure_window(Duration::minutes(5)), Duration::minutes(25));
        assert_eq!(repeated_failure_window(Duration::days(1)), Duration::hours(60));
    }

    #[test]
    fn whole_numbers_take_both_ends_of_their_range_and_nothing_beyond() {
        let read = |value: &str| whole(&lookup_from(&[("N", value)]), "N", "number", 1..=100usize, 10);
        assert_eq!(read("1"), Ok(1));
        assert_eq!(read("100"), Ok(100));
        for bad in ["0", "101", "-1", "1.5", "18446744073709551616"] {
            let err = read(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("N={bad:?} is invalid: expected a whole number from 1 to 100"));
        }
        let minutes = |value: &str| duration(&lookup_from(&[("M_MINUTES", value)]), "M_MINUTES", 0..=1440, 15);
        assert_eq!(minutes("1440"), Ok(Duration::minutes(1440)));
        assert!(minutes("1441").is_err());
        assert_eq!(minutes(""), Ok(Duration::minutes(15)), "blank is unset");
        let hours = duration(&lookup_from(&[("H_HOURS", "2")]), "H_HOURS", 0..=24, 1);
        assert_eq!(hours, Ok(Duration::hours(2)), "the unit is the name's");
    }

    #[test]
    fn a_functions_api_share_is_its_part_of_the_studios_share() {
        let share = |pairs: &[(&str, &str)]| api_share(&lookup_from(pairs));
        assert_eq!(share(&[]), Ok(0.5));
        assert_eq!(share(&[("API_SHARE", "0.5"), ("API_SHARE_PART", "0.25")]), Ok(0.125));
        let err = share(&[("API_SHARE_PART", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("API_SHARE_PART=\"0\" is invalid"), "{err}");
    }
}
