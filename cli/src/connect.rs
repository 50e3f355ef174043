//! From the command line to the watchdog's ports: the standard AWS credential chain and
//! profiles, the region, the endpoint from the standard variables (so the emulator is reached
//! exactly as AWS is), one cheap call to prove all three work, and every failure as one line
//! naming what to fix.

use crate::read_only::{Discard, Progress, ReadOnly, Refuse};
use std::path::PathBuf;
use std::sync::Arc;
use watchdog_aws::reach;
use watchdog_core::env_config::{Connection, is_region_name};
use watchdog_core::ports::{GameLiftStreams, Ports};

/// Why the CLI could not reach GameLift Streams: a sentence for the terminal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

/// Where to connect, as the command line says.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub profile: Option<String>,
    pub regions: Vec<String>,
}

/// What a command runs on: the SDK configuration and the regions it resolved.
pub struct Connected {
    pub sdk: aws_types::SdkConfig,
    pub regions: Vec<String>,
}

/// Resolves profile, regions and endpoint, and makes one ListStreamGroups call (one result)
/// in the first region so that a bad profile, region, endpoint or credential fails here, in
/// one line, rather than as a scan full of errors.
pub async fn connect(target: &Target) -> Result<Connected, ConnectError> {
    let connected = resolve(target).await?;
    reach::check(&connected.sdk, &connected.regions[0]).await.map_err(ConnectError)?;
    Ok(connected)
}

/// One account of an organisation, reached with its spoke's read role (`role_arn`) assumed
/// from `base`'s credentials, in the account's `regions`: the role assumed and checked with
/// one ListStreamGroups call, each failure in one line.
pub async fn connect_member(base: &Target, role_arn: &str, regions: &[String]) -> Result<Connected, ConnectError> {
    let resolved = resolve(&Target { profile: base.profile.clone(), regions: regions.to_vec() }).await?;
    let sdk = reach::assume(&resolved.sdk, role_arn, "gls-watchdog-cli").await.map_err(ConnectError)?;
    reach::check(&sdk, &resolved.regions[0]).await.map_err(ConnectError)?;
    Ok(Connected { sdk, regions: resolved.regions })
}

/// AWS Organizations with `base`'s credentials (the management account's or a delegated
/// administrator's), and the regions the units' accounts are read in.
pub async fn organisation_directory(
    base: &Target,
) -> Result<(watchdog_aws::organizations::Organizations, Vec<String>), ConnectError> {
    let resolved = resolve(base).await?;
    Ok((watchdog_aws::organizations::Organizations::new(&resolved.sdk), resolved.regions))
}

/// Profile, regions and endpoint, as the command line and the environment give them.
async fn resolve(target: &Target) -> Result<Connected, ConnectError> {
    let profile = target.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    if let Some(profile) = &profile
        && !profile_exists(profile)
    {
        return Err(ConnectError(format!(
            "profile {profile:?} is not in {} or {}: check the name (aws configure list-profiles)",
            config_file().display(),
            credentials_file().display()
        )));
    }
    for name in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GAMELIFTSTREAMS"] {
        if let Ok(url) = std::env::var(name)
            && !url.is_empty()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConnectError(format!(
                "{name}={url:?} is not an endpoint URL: expected http://host:port or https://host"
            )));
        }
    }
    let sdk = reach::load(profile.as_deref()).await;
    let regions = match (target.regions.is_empty(), reach::default_region(&sdk)) {
        (false, _) => target.regions.clone(),
        (true, Some(region)) => vec![region],
        (true, None) => {
            return Err(ConnectError("no region: pass --region, set AWS_REGION, or give the profile a region".into()));
        }
    };
    if let Some(bad) = regions.iter().find(|r| !is_region_name(r)) {
        return Err(ConnectError(format!("{bad:?} is not a region name: expected one like us-west-2")));
    }
    Ok(Connected { sdk, regions })
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

fn config_file() -> PathBuf {
    std::env::var_os("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home().join(".aws/config"))
}

fn credentials_file() -> PathBuf {
    std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".aws/credentials"))
}

/// Whether the shared config (`[profile name]`, or `[default]`) or credentials file
/// (`[name]`) defines the profile.
fn profile_exists(profile: &str) -> bool {
    let sections = |path: PathBuf| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')))
            .map(|s| s.trim().to_owned())
            .collect()
    };
    let in_config = sections(config_file())
        .iter()
        .any(|s| s.strip_prefix("profile").map(str::trim) == Some(profile) || (s == "default" && profile == "default"));
    in_config || sections(credentials_file()).iter().any(|s| s == profile)
}

/// The watchdog's ports on `connected`: with `read_only`, every GameLift Streams write is
/// refused, metrics are dropped and nothing can be published, whatever a function decides.
pub fn ports(connected: &Connected, read_only: bool, progress: &Progress) -> Ports {
    let connection =
        Connection { regions: connected.regions.clone(), api_share: 0.5, max_attempts: 5, clock_url: clock_url() };
    let mut ports = watchdog_aws::ports(&connected.sdk, &connection);
    let regions = std::mem::take(&mut ports.regions);
    ports.regions = regions
        .into_iter()
        .map(|(name, port)| {
            let port: Arc<dyn GameLiftStreams> = Arc::new(ReadOnly::new(port, progress.clone(), read_only));
            (name, port)
        })
        .collect();
    if read_only {
        ports.metrics = Arc::new(Discard);
        ports.notifier = Arc::new(Refuse);
    }
    ports
}

/// Local runs only: the emulator's clock (WATCHDOG_CLOCK_URL), as the functions read it.
fn clock_url() -> Option<String> {
    std::env::var("WATCHDOG_CLOCK_URL").ok().filter(|u| !u.is_empty())
}
