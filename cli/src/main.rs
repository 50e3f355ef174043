//! `gls-watchdog`: what the watchdog sees and would do in an account, from a laptop. `scan`,
//! `plan` and `report` are read-only by construction; `restore` writes, after a dry run.
//!
//! Exit codes, for CI jobs: 0 done; 1 findings at or above `--fail-on`; 2 bad usage or
//! settings; 3 cannot reach GameLift Streams (profile, region, endpoint, credentials);
//! 4 the scan could not read everything (results shown are partial); 5 a restore failed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use gls_watchdog_cli::connect::{ConnectError, Target, connect, connect_member, organisation_directory};
use gls_watchdog_cli::look::{LookError, Settings, look};
use gls_watchdog_cli::read_only::Progress;
use gls_watchdog_cli::report::{html, text};
use gls_watchdog_cli::restore::{RestoreSettings, restore};
use gls_watchdog_cli::view::{View, view, view_of_many};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use watchdog_core::findings::Severity;
use watchdog_core::organisation::{AccountRegion, TargetSources, list_targets};

#[derive(Parser)]
#[command(name = "gls-watchdog", version, about = "What the GameLift Streams watchdog sees and would do, read-only")]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct TargetArgs {
    /// AWS profile (default: AWS_PROFILE, then the standard chain). Repeat for one report of
    /// several accounts (scan, plan, report); restore takes one.
    #[arg(long = "profile", global = true)]
    profiles: Vec<String>,
    /// Region to look at; repeat for more (default: the profile's or AWS_REGION). With
    /// --org-unit, the regions each unit's accounts are read in.
    #[arg(long = "region", global = true)]
    regions: Vec<String>,
    /// An organisation's accounts, read through their spokes' read role: the hub's Targets
    /// list, as JSON or a file holding it, e.g. '[{"account": "222233334444", "region":
    /// "us-west-2"}]'. The role is assumed from the profile's (or the default) credentials.
    #[arg(long, global = true)]
    org: Option<String>,
    /// An organisational unit or root (ou-…, r-…) of AWS Organizations: every ACTIVE account
    /// in it and in the OUs below it, read through its spoke's role. Repeat for more; the
    /// profile must be the management account's or a delegated administrator's.
    #[arg(long = "org-unit", global = true, value_parser = unit_id)]
    org_units: Vec<String>,
    /// With --org-unit: only the accounts directly in each unit, not in the OUs below it.
    #[arg(long, global = true, requires = "org_units")]
    no_child_units: bool,
    /// The spokes' read role (org/spoke.yaml ReadRoleName), with --org or --org-unit
    /// [default: gls-watchdog-read].
    #[arg(long, global = true)]
    role_name: Option<String>,
    /// Print JSON for machines instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bar.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Args, Clone)]
struct LookArgs {
    /// Only these stream groups (ids or ARNs); repeat for more.
    #[arg(long = "stream-group")]
    stream_groups: Vec<String>,
    /// Price per capacity-hour by stream class: a JSON object or a file holding one, e.g.
    /// '{"gen5n_high": 1.25}' (default: PRICE_TABLE).
    #[arg(long)]
    prices: Option<String>,
    /// Exit 1 when a finding has this severity or a higher one.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
}

#[derive(Args, Clone)]
struct PlanArgs {
    /// The recycler's opt-in tag.
    #[arg(long, default_value = "watchdog:recycle")]
    recycle_tag: String,
    /// The trimmer's opt-in tag.
    #[arg(long, default_value = "watchdog:trim")]
    trim_tag: String,
    /// Plan as if every group were opted in (MANAGE_ALL_GROUPS): what the watchdog would do
    /// if it managed the whole account.
    #[arg(long)]
    manage_all: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Info,
    Warning,
    High,
    Critical,
}

#[derive(Subcommand)]
enum Command {
    /// Inventory, findings and figures, as the scanner sees them (no metric, alert or tag).
    Scan(LookArgs),
    /// What the recycler and the trimmer would do, per group, with the reason and what it saves.
    Plan {
        #[command(flatten)]
        look: LookArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// One self-contained HTML file (and with --markdown a markdown one) of everything.
    Report {
        #[command(flatten)]
        look: LookArgs,
        #[command(flatten)]
        plan: PlanArgs,
        /// Where the HTML goes.
        #[arg(long, default_value = "gls-watchdog-report.html")]
        out: PathBuf,
        /// Also write markdown here, for tickets.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Put back the capacity the trimmer recorded (dry run unless --apply).
    Restore {
        /// Stream groups to restore (ids or ARNs); repeat for more.
        #[arg(long = "stream-group", required_unless_present = "all")]
        stream_groups: Vec<String>,
        /// Every group with a trim record.
        #[arg(long, conflicts_with = "stream_groups")]
        all: bool,
        /// Make the changes (without it, only says what it would do).
        #[arg(long)]
        apply: bool,
        /// Leave the group opted in to trimming (the trimmer may lower it again).
        #[arg(long)]
        keep_opt_in: bool,
        /// The trimmer's opt-in tag, set to false on restored groups.
        #[arg(long, default_value = "watchdog:trim")]
        trim_tag: String,
    },
}

const USAGE: u8 = 2;
const UNREACHABLE: u8 = 3;
const PARTIAL: u8 = 4;
const RESTORE_FAILED: u8 = 5;

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("gls-watchdog: {message}");
    ExitCode::from(code)
}

fn prices(arg: Option<&str>) -> Result<BTreeMap<String, f64>, String> {
    let Some(arg) = arg else { return Ok(BTreeMap::new()) };
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).map_err(|e| format!("--prices {arg}: cannot read it: {e}"))?
    };
    let table: BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|e| {
        format!("--prices: expected a JSON object of stream class to price, e.g. {{\"gen5n_high\": 1.25}}: {e}")
    })?;
    match table.iter().find(|(_, p)| !p.is_finite() || **p < 0.0) {
        Some((class, price)) => Err(format!("--prices: {class} has price {price}; prices are 0 or more")),
        None => Ok(table),
    }
}

fn settings(look: &LookArgs, plan: Option<&PlanArgs>) -> Result<Settings, String> {
    Ok(Settings {
        recycle_tag: plan.map(|p| p.recycle_tag.clone()),
        trim_tag: plan.map(|p| p.trim_tag.clone()),
        manage_all: plan.is_some_and(|p| p.manage_all),
        prices: prices(look.prices.as_deref())?,
        stream_groups: look.stream_groups.clone(),
    })
}

/// 0, 1 for findings at `--fail-on` or above, or 4 when the scan left something unread (or,
/// with several profiles, an account could not be looked at).
fn outcome(view: &View, fail_on: Option<FailOn>) -> ExitCode {
    let threshold = fail_on.map(|f| match f {
        FailOn::Info => Severity::Info,
        FailOn::Warning => Severity::Warning,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    });
    if let Some(threshold) = threshold
        && view.findings.iter().any(|f| f.severity >= threshold)
    {
        return ExitCode::from(1);
    }
    if !view.complete {
        return ExitCode::from(PARTIAL);
    }
    ExitCode::SUCCESS
}

/// Where one account of a several-account look comes from.
enum Source {
    /// A profile of the laptop's AWS configuration.
    Profile(String),
    /// An organisation's account, through its spoke's read role.
    Member { account: String, role_arn: String, regions: Vec<String> },
}

impl Source {
    fn name(&self) -> &str {
        match self {
            Self::Profile(name) => name,
            Self::Member { account, .. } => account,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Profile(name) => write!(f, "profile {name}"),
            Self::Member { account, .. } => write!(f, "account {account}"),
        }
    }
}

/// The spokes' read role unless `--role-name` names another (org/spoke.yaml ReadRoleName).
const DEFAULT_READ_ROLE: &str = "gls-watchdog-read";

/// `--org-unit`: a root or OU id, as Organizations writes them.
fn unit_id(arg: &str) -> Result<String, String> {
    if watchdog_core::organisation::is_unit_id(arg) {
        Ok(arg.to_owned())
    } else {
        Err(format!("{arg:?} is not an organisational unit or root id such as ou-ab12-games001 or r-ab12"))
    }
}

/// `--org`: the hub's Targets list (JSON, or a file holding it).
fn listed_targets(arg: &str) -> Result<Vec<AccountRegion>, String> {
    let text = if arg.trim_start().starts_with('[') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).map_err(|e| format!("--org {arg}: cannot read it: {e}"))?
    };
    serde_json::from_str(&text).map_err(|e| {
        format!("--org: expected the hub's Targets, a JSON list such as [{{\"account\": \"222233334444\", \"region\": \"us-west-2\"}}]: {e}")
    })
}

/// The organisation's accounts to read: `--org`'s targets and, with `--org-unit`, every
/// ACTIVE account of the units (from AWS Organizations, with the base credentials) in the
/// `--region`s, as the hub's first state lists them. Also what could not be used: the units
/// not listed and the accounts not ACTIVE, each with why.
async fn organisation_sources(
    args: &TargetArgs,
    base: &Target,
) -> Result<(Vec<Source>, Vec<(String, String)>), String> {
    let mut targets = match &args.org {
        Some(arg) => listed_targets(arg)?,
        None => Vec::new(),
    };
    if args.org_units.is_empty() && !args.regions.is_empty() {
        return Err("--region applies to the accounts of --org-unit; --org's targets name their own regions".into());
    }
    let mut unread = Vec::new();
    if !args.org_units.is_empty() {
        let (directory, regions) = organisation_directory(base).await.map_err(|ConnectError(m)| m)?;
        let sources = TargetSources {
            targets: Vec::new(),
            organizational_units: args.org_units.clone(),
            child_units: !args.no_child_units,
        };
        let list = list_targets(Some(&directory), &sources, &regions).await;
        targets.extend(list.targets);
        unread.extend(list.units_not_listed.into_iter().map(|u| (format!("unit {}", u.unit), u.why)));
        unread.extend(
            list.accounts_skipped
                .into_iter()
                .map(|a| (format!("account {}", a.account), format!("its state is {} (in {})", a.state, a.unit))),
        );
    }
    let members = organisation_members(targets, args.role_name.as_deref().unwrap_or(DEFAULT_READ_ROLE))?;
    Ok((
        members
            .into_iter()
            .map(|(account, (role_arn, regions))| Source::Member { account, role_arn, regions })
            .collect(),
        unread,
    ))
}

/// Targets as the role to assume in each account and the account's regions; each target
/// checked as the hub's scanner checks it.
fn organisation_members(
    targets: Vec<AccountRegion>,
    role_name: &str,
) -> Result<BTreeMap<String, (String, Vec<String>)>, String> {
    let mut accounts: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for (i, AccountRegion { account, region }) in targets.into_iter().enumerate() {
        let target = gls_watchdog_scanner::event::ScanTarget { account, region, role_name: role_name.to_owned() };
        match target.problem() {
            Some(("role_name", problem)) => return Err(format!("--role-name {problem}")),
            Some((field, problem)) => return Err(format!("--org: targets[{i}].{field} {problem}")),
            None => {}
        }
        let (_, regions) = accounts.entry(target.account.clone()).or_insert_with(|| (target.role_arn(), Vec::new()));
        if !regions.contains(&target.region) {
            regions.push(target.region);
        }
    }
    Ok(accounts)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Only warnings and errors from the libraries, on stderr: stdout is for the answer.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GLS_WATCHDOG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.target.role_name.is_some() && cli.target.org.is_none() && cli.target.org_units.is_empty() {
        return fail(USAGE, "--role-name goes with --org or --org-unit");
    }
    let profiles: Vec<Option<String>> = match cli.target.profiles.as_slice() {
        [] => vec![None],
        many => many.iter().cloned().map(Some).collect(),
    };
    let target = Target { profile: profiles[0].clone(), regions: cli.target.regions.clone() };
    let json = cli.target.json;
    let show_progress = !cli.target.quiet && !json;

    let (look_args, plan_args, report_to) = match &cli.command {
        Command::Scan(look) => (look.clone(), None, None),
        Command::Plan { look, plan } => (look.clone(), Some(plan.clone()), None),
        Command::Report { look, plan, out, markdown } => {
            (look.clone(), Some(plan.clone()), Some((out.clone(), markdown.clone())))
        }
        Command::Restore { stream_groups, all, apply, keep_opt_in, trim_tag } => {
            if profiles.len() > 1 {
                return fail(USAGE, "restore changes one account at a time: pass one --profile");
            }
            if cli.target.org.is_some() || !cli.target.org_units.is_empty() {
                return fail(
                    USAGE,
                    "restore writes, and --org and --org-unit read through the spokes' read-only role: pass one --profile",
                );
            }
            let connected = match connect(&target).await {
                Ok(c) => c,
                Err(ConnectError(message)) => return fail(UNREACHABLE, message),
            };
            let settings = RestoreSettings {
                stream_groups: stream_groups.clone(),
                all: *all,
                apply: *apply,
                keep_opt_in: *keep_opt_in,
                trim_tag: trim_tag.clone(),
            };
            let ports = gls_watchdog_cli::connect::ports(&connected, false, &Progress::default());
            let report = restore(&ports, &settings).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", gls_watchdog_cli::restore_text(&report));
            }
            if !report.not_found.is_empty() {
                return fail(USAGE, format!("no such stream group: {}", report.not_found.join(", ")));
            }
            return if report.groups.iter().all(|g| g.ok) { ExitCode::SUCCESS } else { ExitCode::from(RESTORE_FAILED) };
        }
    };
    let settings = match settings(&look_args, plan_args.as_ref()) {
        Ok(s) => s,
        Err(message) => return fail(USAGE, message),
    };
    let organisation = cli.target.org.is_some() || !cli.target.org_units.is_empty();
    let (sources, not_usable) = match (organisation, profiles.as_slice()) {
        (true, [_, _, ..]) => {
            return fail(
                USAGE,
                "--org and --org-unit read every account from one profile's credentials: pass at most one --profile",
            );
        }
        (true, _) => match organisation_sources(&cli.target, &target).await {
            Ok((sources, _)) if sources.is_empty() && cli.target.org_units.is_empty() => {
                return fail(USAGE, "--org: the list of targets is empty");
            }
            Ok((sources, not_usable)) if sources.is_empty() => {
                let why: Vec<String> = not_usable.iter().map(|(what, why)| format!("{what}: {why}")).collect();
                return fail(UNREACHABLE, format!("no account of the organisation to read: {}", why.join("; ")));
            }
            Ok(found) => found,
            Err(message) => return fail(USAGE, message),
        },
        (false, [_]) => (Vec::new(), Vec::new()),
        (false, many) => (many.iter().flatten().map(|p| Source::Profile(p.clone())).collect(), Vec::new()),
    };
    let (view, rotation_days, plans) = if sources.is_empty() {
        let connected = match connect(&target).await {
            Ok(c) => c,
            Err(ConnectError(message)) => return fail(UNREACHABLE, message),
        };
        let progress = Progress::default();
        let result = progress
            .show_while("scanning", show_progress, look(&connected, &settings, plan_args.is_some(), &progress))
            .await;
        let look = match result {
            Ok(look) => look,
            Err(LookError::Config(e)) => return fail(USAGE, e),
            Err(LookError::Run(e)) => return fail(PARTIAL, e),
        };
        let plans = json!({ "recycler": look.recycler, "trimmer": look.trimmer, "scan": look.scan });
        (view(&look), look.rotation_days, plans)
    } else {
        // Several accounts, each looked at in turn; one that cannot be reached or read is named
        // in the report and the others are shown.
        let (mut looks, mut failed) = (Vec::new(), not_usable);
        for source in &sources {
            let progress = Progress::default();
            let looked = async {
                let connected = match source {
                    Source::Profile(profile) => {
                        connect(&Target { profile: Some(profile.clone()), regions: cli.target.regions.clone() }).await
                    }
                    Source::Member { role_arn, regions, .. } => connect_member(&target, role_arn, regions).await,
                };
                let connected = connected.map_err(|ConnectError(m)| m)?;
                look(&connected, &settings, plan_args.is_some(), &progress).await.map_err(|e| e.to_string())
            };
            match progress.show_while(&format!("scanning {}", source.name()), show_progress, looked).await {
                Ok(look) => looks.push((source.name().to_owned(), look)),
                Err(why) => failed.push((source.to_string(), why)),
            }
        }
        let rotation_days = looks.first().map(|(_, l)| l.rotation_days).unwrap_or(28);
        let plans = json!(looks
            .iter()
            .map(|(source, l)| json!({ "source": source, "recycler": l.recycler, "trimmer": l.trimmer, "scan": l.scan }))
            .collect::<Vec<_>>());
        (view_of_many(&looks, &failed), rotation_days, plans)
    };
    if let Some((out, markdown)) = report_to {
        if let Err(e) = std::fs::write(&out, html::render(&view, rotation_days as f64)) {
            return fail(USAGE, format!("cannot write {}: {e}", out.display()));
        }
        if let Some(path) = &markdown
            && let Err(e) = std::fs::write(path, text::markdown(&view))
        {
            return fail(USAGE, format!("cannot write {}: {e}", path.display()));
        }
        if json {
            println!("{}", serde_json::json!({ "html": out, "markdown": markdown, "view": view }));
        } else {
            println!(
                "Wrote {}{}",
                out.display(),
                markdown.map(|m| format!(" and {}", m.display())).unwrap_or_default()
            );
        }
    } else if json {
        let value = match (plan_args.is_some(), plans) {
            (true, Value::Object(one)) => {
                json!({ "now": view.now, "steps": view.steps, "waiting": view.waiting, "recycler": one["recycler"], "trimmer": one["trimmer"] })
            }
            (true, many) => json!({ "now": view.now, "steps": view.steps, "waiting": view.waiting, "accounts": many }),
            (false, Value::Object(one)) => json!({ "view": view, "scan": one["scan"] }),
            (false, many) => json!({ "view": view, "accounts": many }),
        };
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else if plan_args.is_some() {
        print!("{}", text::plan(&view, false));
    } else {
        print!("{}", text::scan(&view, false));
    }
    outcome(&view, look_args.fail_on)
}
