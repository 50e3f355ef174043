use clap::Parser;
use gls_emulator::{
    Behaviour, Config, ExpiredGroups, Fleet, LocationChangesWithErrors, OmittedCapacity, TimingProfile, Timings,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// A local Amazon GameLift Streams emulator speaking the service's wire protocol.
///
/// Point any AWS SDK at it with AWS_ENDPOINT_URL_GAMELIFTSTREAMS=http://ADDR.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:4599 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:4599")]
    listen: String,
    /// Fleet file (TOML or JSON) to load at start-up.
    #[arg(long)]
    fleet: Option<PathBuf>,
    #[arg(long, default_value = "111122223333")]
    account_id: String,
    /// Region for requests without a SigV4 credential scope.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// The Regions that host the service, comma-separated (default: the four the developer
    /// guide lists). A request signed for any other fails as an unreachable endpoint does.
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// Multiplies the documented per-operation rate limits; 0 disables them.
    #[arg(long, default_value_t = 1.0)]
    rate_limit_scale: f64,
    /// The service's timings: fast (seconds, the default) or realistic (minutes, as the
    /// documentation describes them). Each `--*-seconds` option below overrides one of them.
    #[arg(long, value_enum, default_value_t = TimingProfile::Fast)]
    timing: TimingProfile,
    /// Seconds a new stream group stays ACTIVATING (fast: 30).
    #[arg(long)]
    activation_seconds: Option<f64>,
    /// Seconds a location takes to be added or removed (fast: 20).
    #[arg(long)]
    location_seconds: Option<f64>,
    /// Seconds a stream group stays DELETING (fast: 10).
    #[arg(long)]
    deletion_seconds: Option<f64>,
    /// Seconds a placed session stays ACTIVATING (fast: 5).
    #[arg(long)]
    session_start_seconds: Option<f64>,
    /// Seconds an application takes to replicate to a remote location of its stream group (fast: 60).
    #[arg(long)]
    replication_seconds: Option<f64>,
    /// Seconds more capacity takes to arrive ("typically under 5 minutes"; fast: 60, which keeps
    /// on-demand Linux sessions within their 90-second placement timeout).
    #[arg(long)]
    capacity_allocate_seconds: Option<f64>,
    /// Seconds capacity no longer wanted stays allocated ("a few minutes"; fast: 180).
    #[arg(long)]
    capacity_release_seconds: Option<f64>,
    /// What UpdateStreamGroup does with capacity fields it is not given: the service's
    /// "internal defaults" (reset: always-on 0, target-idle 0, maximum = always-on) or keep.
    #[arg(long, value_enum, default_value_t = OmittedCapacity::Reset)]
    omitted_capacity: OmittedCapacity,
    /// Which calls an EXPIRED stream group answers: strict (only Get and Delete) or lenient
    /// (also the read-only tag, session and stream URL calls).
    #[arg(long, value_enum, default_value_t = ExpiredGroups::Strict)]
    expired_groups: ExpiredGroups,
    /// Whether locations can be added or removed while the group is ACTIVE_WITH_ERRORS: allow,
    /// remove-only, or refuse (the sources disagree).
    #[arg(long, value_enum, default_value_t = LocationChangesWithErrors::Allow)]
    location_changes_with_errors: LocationChangesWithErrors,
    /// Seed for resource ids and fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Start with the clock stopped; it then moves only through POST /_emulator/clock.
    #[arg(long)]
    frozen_clock: bool,
}

fn seconds(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0) as i64)
}

/// The profile's timings, with each one the command line names replaced.
fn timings(args: &Args) -> Timings {
    let mut t = args.timing.timings();
    let set = |field: &mut chrono::Duration, value: Option<f64>| {
        if let Some(value) = value {
            *field = seconds(value);
        }
    };
    set(&mut t.group_activation, args.activation_seconds);
    set(&mut t.location_change, args.location_seconds);
    set(&mut t.deletion, args.deletion_seconds);
    set(&mut t.session_start, args.session_start_seconds);
    set(&mut t.application_replication, args.replication_seconds);
    set(&mut t.capacity.allocate, args.capacity_allocate_seconds);
    set(&mut t.capacity.release, args.capacity_release_seconds);
    t
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let fleet = match &args.fleet {
        Some(path) => match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| Fleet::parse(&t)) {
            Ok(fleet) => Some(fleet),
            Err(e) => {
                eprintln!("gls-emulator: cannot read fleet {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let timings = timings(&args);
    let config = Config {
        account_id: args.account_id,
        default_region: args.region,
        served_regions: if args.regions.is_empty() {
            gls_emulator::facts::SERVICE_REGIONS.iter().map(|r| r.to_string()).collect()
        } else {
            args.regions
        },
        rate_limit_scale: args.rate_limit_scale,
        timings,
        behaviour: Behaviour {
            omitted_capacity: args.omitted_capacity,
            expired_groups: args.expired_groups,
            location_changes_with_errors: args.location_changes_with_errors,
        },
        seed: args.seed,
        frozen_clock: args.frozen_clock,
    };
    let emulator = match gls_emulator::build(&config, fleet.as_ref()) {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!(
                "gls-emulator: fleet {}: {e}",
                args.fleet.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("gls-emulator: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().expect("bound listener has an address");
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tokio::select! {
        result = gls_emulator::serve(listener, emulator) => {
            if let Err(e) = result {
                eprintln!("gls-emulator: {e}");
                return ExitCode::FAILURE;
            }
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}
