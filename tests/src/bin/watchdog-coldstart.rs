//! Binary sizes and cold-start init time of the Lambda functions (scripts/bench-lambda).
//!
//! Init time is what Lambda bills as Init Duration: from process start until the runtime asks
//! the Runtime API for its first event (configuration read, SDK clients built). Each run
//! starts the binary against a local stand-in of the Runtime API and stops it at that request.
//!
//! Usage: watchdog-coldstart --runs N --deploy-dir DIR --out FILE BINARY...
//! (DIR/<name>/bootstrap is the deployable build whose size is reported; the BINARY paths are
//! host builds that can run here.)

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};
use watchdog_tests::bench::lambda_process;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_owned())
}

/// Milliseconds from spawning `binary` to its first `GET .../runtime/invocation/next`.
fn init_time(binary: &Path) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let api = listener.local_addr().expect("address").to_string();
    let name = binary.file_name().unwrap().to_string_lossy().to_string();
    let start = Instant::now();
    let mut child = lambda_process(binary, &name, &api)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("FINDINGS_TOPIC_ARN", "arn:aws:sns:us-west-2:111122223333:findings")
        .env("ACTIONS_TOPIC_ARN", "arn:aws:sns:us-west-2:111122223333:actions")
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let (stream, _) = listener.accept().expect("the runtime connects");
    let mut request_line = String::new();
    BufReader::new(&stream).read_line(&mut request_line).expect("request line");
    let elapsed = start.elapsed();
    assert!(request_line.contains("/runtime/invocation/next"), "unexpected first request: {request_line}");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn main() {
    let runs: usize = arg("--runs", "20").parse().expect("--runs N");
    let deploy_dir = arg("--deploy-dir", "target/lambda-arm64");
    let deploy_arch = arg("--deploy-arch", "arm64");
    let out = arg("--out", "benchmarks/lambda.md");
    // Positional arguments: everything that is neither a --flag nor a flag's value.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut binaries = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i].starts_with("--") {
            i += 2;
        } else {
            binaries.push(args[i].clone());
            i += 1;
        }
    }
    assert!(!binaries.is_empty(), "usage: watchdog-coldstart --runs N --deploy-dir DIR --out FILE BINARY...");

    let mut table = format!(
        "| function | {deploy_arch} bootstrap (deployed) | host binary | init p50 | init p90 | init max |\n|---|---|---|---|---|---|\n"
    );
    for binary in binaries {
        let path = Path::new(&binary);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut times: Vec<Duration> = (0..runs).map(|_| init_time(path)).collect();
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let mib = |p: &Path| {
            std::fs::metadata(p).map_or("not built".into(), |m| format!("{:.2} MiB", m.len() as f64 / 1048576.0))
        };
        let deployed = Path::new(&deploy_dir).join(&name).join("bootstrap");
        writeln!(
            table,
            "| {name} | {} | {} | {} | {} | {} |",
            mib(&deployed),
            mib(path),
            ms(times[times.len() / 2]),
            ms(times[(times.len() * 9 / 10).min(times.len() - 1)]),
            ms(*times.last().unwrap())
        )
        .unwrap();
        println!("{name}: p50 {}", ms(times[times.len() / 2]));
    }
    let host = std::process::Command::new("uname")
        .arg("-srm")
        .output()
        .map_or(String::new(), |o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let report = format!(
        "# Lambda binaries: size and cold-start init\n\n\
         Produced by `./scripts/bench-lambda` ({runs} starts per function, release profile: opt-level s, LTO, \
         1 codegen unit, stripped). Host: {host}, {cpus} CPUs.\n\n\
         - *{deploy_arch} bootstrap*: what `cargo lambda build --release --{deploy_arch}` (and `sam build`) deploys.\n\
         - *init*: from process start to the first `GET /runtime/invocation/next` on a local stand-in of the \
         Runtime API (what Lambda reports as Init Duration, minus the sandbox's own start), measured on the host \
         build because the {deploy_arch} binary cannot run on this machine. Lambda's CPUs at 256 MB are slower \
         than this host's: expect a few times these figures, still well under the 10 s init limit.\n\n{table}"
    );
    std::fs::write(&out, report).expect("write the report");
    println!("wrote {out}");
}
