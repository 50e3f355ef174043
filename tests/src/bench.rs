//! What the benchmarks (scripts/bench, scripts/bench-lambda) share: the generated fleet, the
//! release-built emulator with the documented rate limits, the lower bound those limits put on
//! a scan, peak memory, and a function binary started as the Lambda service starts it.

use crate::lambda::workspace_root;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use watchdog_core::api_limits::documented_limit;

/// A fleet of `groups` stream groups, 3 locations and 10 sessions each, ages spread over
/// 0-90 days, with a few expired, failed, idle and stale ones as a real fleet has.
pub fn fleet(groups: usize) -> String {
    fleet_with(groups, true)
}

/// The same fleet; without `expired`, the groups that would be expired are 89.5 days old.
pub fn fleet_with(groups: usize, expired: bool) -> String {
    let mut toml = String::from("[[applications]]\nkey = \"game\"\ndescription = \"Game\"\n");
    for i in 0..groups {
        let age = match i % 50 == 49 {
            true if expired => 370.5,
            true => 89.5,
            false => ((i * 7919) % 90) as f64 + 0.5,
        };
        let always_on_a = if i % 10 == 3 { 20 } else { 4 };
        let error = if i % 100 == 42 { "status = \"ERROR\"\nstatus_reason = \"noAvailableInstances\"\n" } else { "" };
        write!(
            toml,
            "\n[[stream_groups]]\ndescription = \"bench-{i}\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = {age}\n{error}applications = [\"game\"]\n\
             [[stream_groups.locations]]\nname = \"us-west-2\"\nalways_on = {always_on_a}\nmaximum = 24\n\
             [[stream_groups.locations]]\nname = \"us-east-1\"\nalways_on = 4\nmaximum = 8\n\
             [[stream_groups.locations]]\nname = \"eu-west-1\"\nalways_on = 2\ntarget_idle = 2\nmaximum = 8\n\
             [[stream_groups.sessions]]\nstatus = \"CONNECTED\"\ncount = 3\n\
             [[stream_groups.sessions]]\nlocation = \"us-east-1\"\nstatus = \"CONNECTED\"\ncount = 4\n\
             [[stream_groups.sessions]]\nlocation = \"us-east-1\"\nstatus = \"ACTIVE\"\n\
             [[stream_groups.sessions]]\nlocation = \"eu-west-1\"\nstatus = \"PENDING_CLIENT_RECONNECTION\"\n{}",
            if i % 50 == 7 {
                "[[stream_groups.sessions]]\nlocation = \"eu-west-1\"\nstatus = \"PENDING_CLIENT_RECONNECTION\"\nstarted_minutes_ago = 300\nstatus_minutes_ago = 240\nstuck = true\n"
            } else {
                "[[stream_groups.sessions]]\nlocation = \"eu-west-1\"\nstatus = \"CONNECTED\"\n"
            }
        )
        .expect("write to string");
    }
    toml
}

pub struct EmulatorProcess {
    child: Child,
    pub url: String,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release-built emulator with the documented rate limits and a frozen clock, `latency_ms`
/// added to every call, serving `fleet_file` (or nothing) in its default account.
pub async fn start_emulator(fleet_file: Option<&str>, latency_ms: u64) -> EmulatorProcess {
    let binary = workspace_root().join("target/release/gls-emulator");
    let mut args = vec!["--listen", "127.0.0.1:0", "--frozen-clock", "--rate-limit-scale", "1"];
    args.extend(fleet_file.map(|file| ["--fleet", file]).into_iter().flatten());
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("target/release/gls-emulator (scripts/bench builds it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let url = line.trim().strip_prefix("listening on ").expect("listening on ...").to_owned();
    let emulator = EmulatorProcess { child, url };
    let latency = serde_json::json!({ "operation": "*", "latency_ms": latency_ms });
    reqwest::Client::new().post(emulator.admin("faults")).json(&latency).send().await.expect("faults");
    emulator
}

impl EmulatorProcess {
    /// The URL of one of the emulator's admin endpoints (`/_emulator/<path>`).
    pub fn admin(&self, path: &str) -> String {
        format!("{}/_emulator/{path}", self.url)
    }
}

/// Peak resident memory (VmHWM) of the running release scanner, in MiB.
pub fn scanner_peak_memory_mib() -> Option<f64> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.split('\0').next().is_some_and(|p| p.ends_with("target/release/gls-watchdog-scanner")) {
            return peak_memory_mib(entry.file_name().to_str()?.parse().ok()?);
        }
    }
    None
}

/// Peak resident memory (VmHWM) of a running process, in MiB.
pub fn peak_memory_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The least time `calls` of `operation` take at `share` of its documented rate: its token
/// bucket holds one second's worth, so `(calls - burst) / rate`.
pub fn rate_bound(operation: &str, calls: u64, share: f64) -> Option<f64> {
    let rate = documented_limit(operation)? * share;
    let burst = rate.floor().max(1.0);
    Some(((calls as f64) - burst).max(0.0) / rate)
}

/// `binary` as the Lambda service starts the function `name`: a clean environment holding the
/// variables the runtime reads, its Runtime API at `runtime_api`, its output discarded. Add
/// the function's own variables, then spawn.
pub fn lambda_process(binary: &std::path::Path, name: &str, runtime_api: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}
