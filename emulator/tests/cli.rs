//! The `gls-emulator` binary as users start it: flags, the ready line, the sample fleet.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sample_fleet() -> String {
    format!("{}/../fleets/sample.toml", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn starts_on_the_sample_fleet_and_prints_its_address() {
    let (_running, url) = start(&["--fleet", &sample_fleet()]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let state: serde_json::Value = reqwest::get(format!("{url}/_emulator/state")).await.unwrap().json().await.unwrap();
    let west = state["regions"]["us-west-2"]["stream_groups"].as_array().unwrap();
    let statuses: Vec<&str> = west.iter().map(|g| g["status"].as_str().unwrap()).collect();
    for expected in ["ACTIVE", "EXPIRED", "ACTIVE_WITH_ERRORS", "ERROR"] {
        assert!(statuses.contains(&expected), "sample fleet has a group in {expected}: {statuses:?}");
    }
    assert!(state["regions"]["eu-central-1"]["stream_groups"].as_array().unwrap().len() == 1);

    // The service API answers on the same port (unsigned requests use the default region).
    let response = reqwest::get(format!("{url}/streamgroups?MaxResults=100")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["Items"].as_array().unwrap().len(), west.len());
}

/// Starts the binary with `args` and returns its address.
fn start(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gls-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start gls-emulator");
    let stdout = child.stdout.take().expect("stdout is piped");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the ready line");
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected {line:?}")).to_owned();
    (running, url)
}

#[tokio::test]
async fn the_realistic_profile_takes_minutes_and_a_named_timing_overrides_it() {
    let (_running, url) = start(&["--timing", "realistic", "--activation-seconds", "2700"]);
    let behaviour: serde_json::Value =
        reqwest::get(format!("{url}/_emulator/behaviour")).await.unwrap().json().await.unwrap();
    let timings = &behaviour["timings"];
    assert_eq!(timings["group_activation"], 2700.0, "45 minutes, as named: {timings}");
    assert_eq!(timings["location_change"], 600.0, "{timings}");
    assert_eq!(
        (timings["capacity_allocate"].as_f64(), timings["capacity_release"].as_f64()),
        (Some(240.0), Some(300.0))
    );
    let (_running, url) = start(&[]);
    let fast: serde_json::Value =
        reqwest::get(format!("{url}/_emulator/behaviour")).await.unwrap().json().await.unwrap();
    assert_eq!(fast["timings"]["group_activation"], 30.0, "fast is the default");
}

#[test]
fn a_bad_fleet_is_refused_with_the_field_named() {
    let dir = std::env::temp_dir().join(format!("gls-emulator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fleet = dir.join("bad.toml");
    std::fs::write(
        &fleet,
        "[[stream_groups]]\ndescription = \"x\"\nstream_class = \"gen6n_medium\"\ncreated_days_ago = 1\n[[stream_groups.locations]]\nname = \"us-west-2\"\nalways_on = 3\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gls-emulator"))
        .args(["--listen", "127.0.0.1:0", "--fleet", fleet.to_str().unwrap()])
        .output()
        .expect("run gls-emulator");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stream_groups[0].locations[0].always_on: 3 is not a multiple of the tenancy (4)"),
        "{stderr}"
    );
}
