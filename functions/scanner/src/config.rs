//! The scanner's configuration, read once from the environment at start-up. A bad value
//! stops the function before any scan with a message naming the variable and the expected form.

use chrono::Duration;
use std::collections::BTreeMap;
use watchdog_core::env_config::{self, Connection, FromEnv, Lookup, duration, flag, get, whole};
pub use watchdog_core::env_config::{ConfigError, is_region_name};
use watchdog_core::rules::Policy;

/// How much detail the metrics carry; every name + dimension set is a billed custom metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricDetail {
    /// Only what the template's alarms read (default): a handful per region and the
    /// watchdog's health. Every other figure is in the structured log the dashboard queries.
    Essential,
    /// Account (per region) totals and the watchdog's health only.
    Account,
    /// Plus per stream group figures.
    Group,
    /// Plus per stream group and location figures.
    Location,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Regions to scan (REGIONS, default: the function's own AWS_REGION), the API share and
    /// retries.
    pub connection: Connection,
    pub namespace: String,
    pub metric_detail: MetricDetail,
    /// Which locations get the `InUseCapacity` the trimmer reads as demand, below location
    /// detail (where every location has it).
    pub demand_metrics: DemandMetrics,
    /// Where per-finding messages go; without it findings are only returned and logged.
    pub findings_topic_arn: Option<String>,
    /// Where digests go (DIGEST_TOPIC_ARN): for people, by e-mail and chat.
    pub digest_topic_arn: Option<String>,
    /// Per-finding messages, digests, or both.
    pub alert_delivery: AlertDelivery,
    /// The EventBridge bus every finding of a scan is put on (EVENT_BUS_NAME), for programs.
    pub event_bus: Option<String>,
    pub max_concurrency: usize,
    pub policy: Policy,
    /// A finding already sent is sent again after this long (or sooner if its severity rises).
    pub alert_resend: Duration,
    /// The schedule's period: idle capacity-hours are accrued over it.
    pub schedule_interval: Duration,
    /// Price per capacity-hour by stream class, supplied by the studio; no prices are bundled.
    pub price_table: BTreeMap<String, f64>,
    /// Prefix of the tags that hold the watchdog's alert memory on each stream group.
    pub alert_tag_prefix: String,
    /// Where alert memory lives: tags on the groups, or nowhere (the scanner writes no tag).
    pub alert_memory: AlertMemory,
    /// Compute but publish nothing, unless an invocation says otherwise.
    pub dry_run: bool,
    /// The tag naming a group's owner (OWNER_TAG_KEY): each finding is counted under its
    /// group's owner, and the organisation's digest is also sent once per owner, for SNS
    /// subscription filter policies. Unset: no owner is read.
    pub owner_tag_key: Option<String>,
}

/// DEMAND_METRICS: which locations' in-use capacity is published for the trimmer's demand
/// history when METRIC_DETAIL is below `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemandMetrics {
    /// `opted-in` (default): the locations of groups the trimmer may change (its opt-in tag
    /// TRIM_OPT_IN_TAG set to true, not protected, not CloudFormation's). Costs one tag read
    /// per group without findings.
    OptedIn { tag: String },
    /// `all`: every location (a trimmer with MANAGE_ALL_GROUPS); no tag read.
    All,
    /// `none`: the trimmer reads the service's own ActiveCapacity, or does not run.
    None,
}

impl Config {
    /// How each group's alerts are decided from its memory.
    pub fn alert_policy(&self) -> crate::alerts::AlertPolicy {
        crate::alerts::AlertPolicy {
            prefix: self.alert_tag_prefix.clone(),
            resend: self.alert_resend,
            // Only a digest announces resolutions; without one, marking them would cost tag
            // writes nobody reads.
            track_resolved: self.alert_delivery.digest(),
        }
    }
}

/// ALERT_DELIVERY: how findings reach subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertDelivery {
    /// `per-finding` (default without a digest topic): one message per finding on
    /// FINDINGS_TOPIC_ARN, with attributes machine subscribers filter on.
    PerFinding,
    /// `digest`: one message per scan with something new, on DIGEST_TOPIC_ARN.
    Digest,
    /// `both`: per-finding messages for machines and the digest for people. A finding is
    /// remembered as sent only once both were accepted.
    Both,
}

impl AlertDelivery {
    pub fn per_finding(self) -> bool {
        self != Self::Digest
    }

    pub fn digest(self) -> bool {
        self != Self::PerFinding
    }
}

/// ALERT_MEMORY: `tags` (default) or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMemory {
    /// Each group's tags remember what was sent: a finding alerts when new, when its severity
    /// rises, and once per re-send interval.
    Tags,
    /// No tag is read or written. Without memory a finding is alerted only in the first scan
    /// of each re-send interval (counted from midnight UTC): at most once per interval, and a
    /// new finding may wait up to the interval for its first alert.
    None,
}

impl FromEnv for Config {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let connection = env_config::connection(lookup, 5)?;
        let metric_detail = match get(lookup, "METRIC_DETAIL").as_deref() {
            None | Some("essential") => MetricDetail::Essential,
            Some("group") => MetricDetail::Group,
            Some("account") => MetricDetail::Account,
            Some("location") => MetricDetail::Location,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "METRIC_DETAIL",
                    value: other.to_owned(),
                    expected: "essential, account, group or location".into(),
                });
            }
        };
        let demand_metrics = match get(lookup, "DEMAND_METRICS").as_deref() {
            None | Some("opted-in") => {
                DemandMetrics::OptedIn { tag: env_config::tag_key(lookup, "TRIM_OPT_IN_TAG", "watchdog:trim")? }
            }
            Some("all") => DemandMetrics::All,
            Some("none") => DemandMetrics::None,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "DEMAND_METRICS",
                    value: other.to_owned(),
                    expected: "opted-in, all or none".into(),
                });
            }
        };
        let namespace = env_config::metric_namespace(lookup)?;
        let findings_topic_arn = env_config::topic_arn(lookup, "FINDINGS_TOPIC_ARN")?;
        let digest_topic_arn = env_config::topic_arn(lookup, "DIGEST_TOPIC_ARN")?;
        let alert_delivery = alert_delivery(lookup, findings_topic_arn.is_some(), digest_topic_arn.is_some())?;
        let price_table = match get(lookup, "PRICE_TABLE") {
            None => BTreeMap::new(),
            Some(json) => match serde_json::from_str::<BTreeMap<String, f64>>(&json) {
                Ok(table) if table.values().all(|p| p.is_finite() && *p >= 0.0) => table,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "PRICE_TABLE",
                        value: json,
                        expected:
                            r#"a JSON object of stream class to price per capacity-hour, e.g. {"gen5n_high": 1.25}"#
                                .into(),
                    });
                }
            },
        };
        let dry_run = flag(lookup, "DRY_RUN", false)?;
        Ok(Self {
            event_bus: env_config::event_bus(lookup)?,
            connection,
            namespace,
            metric_detail,
            demand_metrics,
            findings_topic_arn,
            digest_topic_arn,
            alert_delivery,
            max_concurrency: whole(lookup, "MAX_CONCURRENCY", "number", 1..=64, 8)?,
            policy: env_config::policy(lookup)?,
            alert_resend: duration(lookup, "ALERT_RESEND_HOURS", 1..=720, 24)?,
            schedule_interval: duration(lookup, "SCHEDULE_MINUTES", 1..=1440, 5)?,
            price_table,
            alert_tag_prefix: env_config::alert_tag_prefix(lookup)?,
            alert_memory: match get(lookup, "ALERT_MEMORY").as_deref() {
                None | Some("tags") => AlertMemory::Tags,
                Some("none") => AlertMemory::None,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        variable: "ALERT_MEMORY",
                        value: other.to_owned(),
                        expected: "tags or none".into(),
                    });
                }
            },
            dry_run,
            // The model's TagKey: 1 to 128 characters (emulator/model/service-2.json).
            owner_tag_key: match get(lookup, "OWNER_TAG_KEY") {
                Some(key) if key.chars().count() > 128 => {
                    return Err(ConfigError::Invalid {
                        variable: "OWNER_TAG_KEY",
                        value: key,
                        expected: "a tag key of at most 128 characters".into(),
                    });
                }
                key => key,
            },
        })
    }
}

/// ALERT_DELIVERY, checked against the topics it needs: a digest asked for without its topic
/// would be lost silently, so that is refused at start-up.
fn alert_delivery(lookup: Lookup<'_>, findings_topic: bool, digest_topic: bool) -> Result<AlertDelivery, ConfigError> {
    let value = get(lookup, "ALERT_DELIVERY");
    let delivery = match value.as_deref() {
        None | Some("per-finding") => AlertDelivery::PerFinding,
        Some("digest") => AlertDelivery::Digest,
        Some("both") => AlertDelivery::Both,
        Some(other) => {
            return Err(ConfigError::Invalid {
                variable: "ALERT_DELIVERY",
                value: other.to_owned(),
                expected: "per-finding, digest or both".into(),
            });
        }
    };
    let name = value.as_deref().unwrap_or("per-finding");
    let missing = match delivery {
        AlertDelivery::Digest | AlertDelivery::Both if !digest_topic => Some(("DIGEST_TOPIC_ARN", "digests")),
        AlertDelivery::Both if !findings_topic => Some(("FINDINGS_TOPIC_ARN", "per-finding messages")),
        _ => None,
    };
    match missing {
        Some((variable, what)) => Err(ConfigError::Missing {
            variable,
            expected: format!("the SNS topic ARN for the {what} ALERT_DELIVERY={name} sends"),
        }),
        None => Ok(delivery),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_tag_key_is_a_tag_key_of_at_most_128_characters() {
        let with = |key: &str| Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("OWNER_TAG_KEY", key)]);
        assert_eq!(with(&"k".repeat(128)).unwrap().owner_tag_key.map(|k| k.len()), Some(128));
        assert!(matches!(with(&"k".repeat(129)), Err(ConfigError::Invalid { variable: "OWNER_TAG_KEY", .. })));
        assert_eq!(with("").unwrap().owner_tag_key, None, "empty: no owner is read");
    }

    #[test]
    fn defaults_come_from_the_function_region() {
        let c = Config::from_pairs(&[("AWS_REGION", "us-west-2")]).unwrap();
        assert_eq!(c.connection.regions, ["us-west-2"]);
        assert_eq!(c.metric_detail, MetricDetail::Essential);
        assert_eq!(c.demand_metrics, DemandMetrics::OptedIn { tag: "watchdog:trim".into() });
        assert_eq!(c.alert_delivery, AlertDelivery::PerFinding);
        assert_eq!(c.connection.api_share, 0.5);
        assert_eq!(c.policy, Policy::default());
        assert!(!c.dry_run);
        assert_eq!(c.namespace, "GameLiftStreams/Watchdog");
    }

    #[test]
    fn errors_name_the_variable_and_the_expected_form() {
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("API_SHARE", "1.5")]).unwrap_err();
        assert_eq!(err.to_string(), "API_SHARE=\"1.5\" is invalid: expected a number in (0, 1], e.g. 0.5");
        let err = Config::from_pairs(&[("REGIONS", "us-west-2,Frankfurt")]).unwrap_err();
        assert!(err.to_string().starts_with("REGIONS=\"us-west-2,Frankfurt\" is invalid"), "{err}");
        let err = Config::from_pairs(&[]).unwrap_err();
        assert!(matches!(err, ConfigError::Missing { variable: "REGIONS", .. }));
        let err =
            Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("PRICE_TABLE", "{\"gen5n_high\": -1}")]).unwrap_err();
        assert!(err.to_string().starts_with("PRICE_TABLE="));
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("EXPIRY_THRESHOLDS_DAYS", "30,x")]).unwrap_err();
        assert!(err.to_string().starts_with("EXPIRY_THRESHOLDS_DAYS="));
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("METRIC_NAMESPACE", "AWS/GameLiftStreams")])
            .unwrap_err();
        assert!(err.to_string().contains("not starting with AWS/"));
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("DEMAND_METRICS", "some")]).unwrap_err();
        assert_eq!(err.to_string(), "DEMAND_METRICS=\"some\" is invalid: expected opted-in, all or none");
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("ALERT_DELIVERY", "daily")]).unwrap_err();
        assert_eq!(err.to_string(), "ALERT_DELIVERY=\"daily\" is invalid: expected per-finding, digest or both");
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("ALERT_DELIVERY", "digest")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DIGEST_TOPIC_ARN is not set: expected the SNS topic ARN for the digests ALERT_DELIVERY=digest sends"
        );
        let err = Config::from_pairs(&[
            ("AWS_REGION", "us-west-2"),
            ("ALERT_DELIVERY", "both"),
            ("DIGEST_TOPIC_ARN", "arn:aws:sns:us-west-2:111122223333:digest"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("FINDINGS_TOPIC_ARN is not set"), "{err}");
        let err = Config::from_pairs(&[("AWS_REGION", "us-west-2"), ("TRIM_OPT_IN_TAG", "aws:trim")]).unwrap_err();
        assert!(err.to_string().starts_with("TRIM_OPT_IN_TAG="), "{err}");
    }

    #[test]
    fn every_setting_parses() {
        let c = Config::from_pairs(&[
            ("REGIONS", "us-west-2, eu-central-1"),
            ("METRIC_DETAIL", "location"),
            ("FINDINGS_TOPIC_ARN", "arn:aws:sns:us-west-2:111122223333:findings"),
            ("ROTATION_DAYS", "21"),
            ("EXPIRY_THRESHOLDS_DAYS", "7,1"),
            ("PRICE_TABLE", "{\"gen5n_high\": 1.25}"),
            ("DRY_RUN", "true"),
            ("DEMAND_METRICS", "all"),
            ("DIGEST_TOPIC_ARN", "arn:aws:sns:us-west-2:111122223333:digest"),
            ("ALERT_DELIVERY", "both"),
        ])
        .unwrap();
        assert_eq!(c.alert_delivery, AlertDelivery::Both);
        assert_eq!(c.digest_topic_arn.as_deref(), Some("arn:aws:sns:us-west-2:111122223333:digest"));
        assert_eq!(c.demand_metrics, DemandMetrics::All);
        assert_eq!(c.connection.regions, ["us-west-2", "eu-central-1"]);
        assert_eq!(c.metric_detail, MetricDetail::Location);
        assert_eq!(c.policy.rotation_days, 21);
        assert_eq!(c.policy.expiry_thresholds_days, [7, 1]);
        assert_eq!(c.price_table["gen5n_high"], 1.25);
        assert!(c.dry_run);
    }
}
