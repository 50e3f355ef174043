//! One look at an account: the scanner's scan and the recycler's and trimmer's plans, each
//! function's own code on read-only ports, configured from the command line first and the
//! same environment variables as the Lambdas second (so ROTATION_DAYS, OFF_HOURS and the rest
//! mean what they mean there). Dry run is forced whatever the environment says.

use crate::connect::{Connected, ports};
use crate::read_only::Progress;
use chrono::{DateTime, Utc};
use gls_watchdog_scanner::event::ScanRequest;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use watchdog_core::env_config::{ConfigError, FromEnv};
use watchdog_core::event_fields::RunRequest;
use watchdog_core::reconcile::{Deployed, RunError};

/// What the command line sets; the rest comes from the environment.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub recycle_tag: Option<String>,
    pub trim_tag: Option<String>,
    /// Plan as if the functions managed every group (MANAGE_ALL_GROUPS).
    pub manage_all: bool,
    /// Price per capacity-hour by stream class (PRICE_TABLE).
    pub prices: BTreeMap<String, f64>,
    pub stream_groups: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Look {
    pub now: DateTime<Utc>,
    pub scan: gls_watchdog_scanner::Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycler: Option<gls_watchdog_recycler::Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimmer: Option<gls_watchdog_trimmer::Report>,
    pub prices: BTreeMap<String, f64>,
    /// The scanner's rotation age (ROTATION_DAYS), for the timeline's mark.
    pub rotation_days: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LookError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Run(#[from] RunError),
}

/// A lookup: the command line's values, then the process environment. Topics are blanked so
/// nothing could be addressed even if a port allowed it.
fn lookup(overrides: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    let overrides: HashMap<&'static str, String> = overrides.into_iter().collect();
    move |name: &str| overrides.get(name).cloned().or_else(|| std::env::var(name).ok())
}

fn common(connected: &Connected) -> Vec<(&'static str, String)> {
    vec![
        ("REGIONS", connected.regions.join(",")),
        ("DRY_RUN", "true".into()),
        ("PUBLISH_PLAN", "false".into()),
        ("FINDINGS_TOPIC_ARN", String::new()),
        ("ACTIONS_TOPIC_ARN", String::new()),
        ("AWS_REGION", connected.regions[0].clone()),
    ]
}

/// Scans, and with `plans` asks the recycler and the trimmer what they would do.
pub async fn look(
    connected: &Connected,
    settings: &Settings,
    plans: bool,
    progress: &Progress,
) -> Result<Look, LookError> {
    let mut scan_vars = common(connected);
    if !settings.prices.is_empty() {
        scan_vars.push(("PRICE_TABLE", serde_json::to_string(&settings.prices).unwrap_or_default()));
    }
    let scanner_config = gls_watchdog_scanner::Config::from_lookup(&lookup(scan_vars))?;
    let prices = scanner_config.price_table.clone();
    let rotation_days = scanner_config.policy.rotation_days;
    let scanner = gls_watchdog_scanner::Scanner::new(scanner_config, ports(connected, true, progress));
    let named = (!settings.stream_groups.is_empty()).then(|| settings.stream_groups.clone());
    let request = ScanRequest {
        dry_run: Some(true),
        stream_groups: named.clone(),
        trigger: Some("cli".into()),
        ..ScanRequest::default()
    };
    let scan = scanner.scan(request).await?;
    let now = DateTime::parse_from_rfc3339(&scan.now).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|_| Utc::now());
    let (mut recycler, mut trimmer) = (None, None);
    if plans {
        let run = RunRequest { trigger: Some("cli".into()), dry_run: Some(true), stream_groups: named };
        let manage_all = settings.manage_all.to_string();
        let mut vars = common(connected);
        vars.push(("MANAGE_ALL_GROUPS", manage_all.clone()));
        vars.push(("OPT_IN_TAG", settings.recycle_tag.clone().unwrap_or_else(|| "watchdog:recycle".into())));
        let config = gls_watchdog_recycler::Config::from_lookup(&lookup(vars))?;
        let deployed = Deployed::on(config, ports(connected, true, &Progress::default()));
        recycler = Some(deployed.run(&run).await?);

        let mut vars = common(connected);
        vars.push(("MANAGE_ALL_GROUPS", manage_all));
        vars.push(("OPT_IN_TAG", settings.trim_tag.clone().unwrap_or_else(|| "watchdog:trim".into())));
        let config = gls_watchdog_trimmer::Config::from_lookup(&lookup(vars))?;
        let deployed = Deployed::on(config, ports(connected, true, &Progress::default()));
        trimmer = Some(deployed.run(&run).await?);
    }
    Ok(Look { now, scan, recycler, trimmer, prices, rotation_days })
}
