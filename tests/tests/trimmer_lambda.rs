//! The trimmer through the real Lambda path (cargo lambda watch + invoke), the emulator and
//! LocalStack. Demand history is what the scanner itself publishes to CloudWatch: each test
//! runs the scanner on the emulator's clock, then the trimmer reads it back with GetMetricData.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use watchdog_tests::gls_emulator::{Config, Timings};
use watchdog_tests::lambda::{LambdaWatch, LocalAws};
use watchdog_tests::stage::Stage;
use watchdog_tests::{TestEmulator, findings_of, fleet_file, player_request, quick_config};

const SCANNER: &str = "gls-watchdog-scanner";
const TRIMMER: &str = "gls-watchdog-trimmer";
const GROUP: &str = "sg-TRIM00001";
const GROUP_ARN: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-TRIM00001";
const RECORD: &str = "watchdog:trim:us-west-2";

/// An opted-in group with always-on 10 (gen4n_high: tenancy 2) and two players, a group that
/// is not opted in and a CloudFormation-managed one with the same idle capacity.
fn fleet(extra_tags: &str, sessions: &str) -> String {
    fleet_file("trimmer-lambda.toml", &[("extra_tags", extra_tags), ("sessions", sessions)])
}

struct Setup {
    emu: TestEmulator,
    aws: LocalAws,
    queue: String,
    env: Vec<(&'static str, String)>,
    watch: LambdaWatch,
}

/// One `cargo lambda watch` serving both the scanner and the trimmer, with their own metric
/// namespace so tests sharing LocalStack never read each other's history.
async fn setup(name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    setup_on(quick_config(), name, fleet, extra).await
}

/// As [`setup`], on an emulator started with `config` (its clock frozen).
async fn setup_on(config: Config, name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    let stage = Stage::frozen(config, Some(fleet)).await;
    let (topic, queue) = stage.topic(&format!("trimmer-{name}")).await;
    let base = [
        ("ACTIONS_TOPIC_ARN", topic.as_str()),
        ("MAX_ATTEMPTS", "1"),
        ("API_SHARE", "1"),
        ("DEMAND_WINDOW_MINUTES", "60"),
        ("COOLDOWN_MINUTES", "30"),
        ("FLOOR_CAPACITY", "2"),
        ("DRY_RUN", "false"),
    ];
    let env = stage.env("Trimmer", &[&base, extra].concat());
    let watch = LambdaWatch::start(&format!("trimmer-{name}"), &env);
    Setup { emu: stage.emu, aws: stage.aws, queue, env, watch }
}

/// Two scans 40 minutes apart: an hour's window then holds enough history (MIN_HISTORY 50%).
async fn scanner_history(s: &Setup) {
    for advance in [0.0, 40.0 * 60.0] {
        s.emu.advance_seconds(advance).await;
        let report = s.watch.invoke_file(SCANNER, "scanner-scheduler-input.json").await.expect("scanner run");
        assert_eq!(report["metrics"]["published"], true, "scanner published metrics: {report}");
    }
}

async fn trim(s: &Setup) -> Value {
    s.watch.invoke_file(TRIMMER, "trimmer-scheduler-input.json").await.expect("trimmer run")
}

fn executed(report: &Value) -> Vec<&Value> {
    report["executed"].as_array().unwrap().iter().collect()
}

/// Always-on capacity of a group's us-west-2 location, read through the SDK.
async fn always_on(s: &Setup, group: &str) -> i32 {
    let client = s.emu.client("us-west-2").await;
    let out = client.get_stream_group().identifier(group).send().await.unwrap();
    out.location_states().iter().find(|l| l.location_name() == Some("us-west-2")).unwrap().always_on_capacity().unwrap()
}

async fn tags(s: &Setup) -> HashMap<String, String> {
    let client = s.emu.client("us-west-2").await;
    client.list_tags_for_resource().resource_arn(GROUP_ARN).send().await.unwrap().tags().cloned().unwrap_or_default()
}

fn original_in(record: &str) -> &str {
    record.split(';').find(|f| f.starts_with("original=")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_capacity_goes_to_peak_plus_headroom_and_comes_back_when_demand_returns() {
    // GIVEN always-on 10 with 2 players for the whole window (scanner history in CloudWatch)
    let s = setup("demand", &fleet("", ""), &[]).await;
    scanner_history(&s).await;

    // WHEN the trimmer runs
    let report = trim(&s).await;

    // THEN always-on goes to peak 2 + headroom max(25%, 1) = 3, rounded to tenancy 2 -> 4
    let done = executed(&report);
    assert_eq!(done.len(), 1, "{report:#}");
    assert_eq!(done[0]["action"], "set_capacity");
    assert_eq!(done[0]["why"], "demand");
    assert_eq!(done[0]["to"], json!({ "always_on": 4, "target_idle": 0 }));
    assert_eq!(done[0]["capacity_hours_per_day"], 144.0);
    assert_eq!(always_on(&s, GROUP).await, 4);
    assert_eq!(original_in(&tags(&s).await[RECORD]), "original=10/0");
    // The group that is not opted in is untouched; the stack-managed one is only reported.
    assert_eq!(always_on(&s, "sg-NOTOPTED1").await, 10);
    assert_eq!(always_on(&s, "sg-CFNSTACK1").await, 10);
    assert_eq!(report["plan"]["reported_only"][0]["stream_group"], "sg-CFNSTACK1", "{report:#}");
    // Announced with the capacity-hours per day it saves.
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    let change = messages.iter().find(|m| m.attribute("action") == Some("set_capacity")).expect("announced");
    assert_eq!(change.attribute("stream_group"), Some(GROUP));
    assert_eq!(change.payload["capacity_hours_per_day"], 144.0);

    // AND a second run changes nothing and keeps the original
    let again = trim(&s).await;
    assert!(executed(&again).is_empty(), "{again:#}");
    assert_eq!(original_in(&tags(&s).await[RECORD]), "original=10/0");

    // WHEN demand returns: two more players, four in use of four
    let client = s.emu.client("us-west-2").await;
    for player in ["p3", "p4"] {
        player_request(&client, GROUP, "a-RACER0001").user_id(player).send().await.expect("StartStreamSession");
    }
    s.emu.advance_seconds(5.0).await; // placement and start take 1 s in the quick timings
    let report = trim(&s).await;

    // THEN capacity is raised back to the recorded 10, inside the cool-down
    let done = executed(&report);
    assert_eq!(done.len(), 1, "{report:#}");
    assert_eq!(done[0]["why"], "demand_returned");
    assert_eq!(done[0]["to"], json!({ "always_on": 10, "target_idle": 0 }));
    assert_eq!(done[0]["capacity_hours_per_day"], -144.0);
    assert_eq!(always_on(&s, GROUP).await, 10);
    assert_eq!(original_in(&tags(&s).await[RECORD]), "original=10/0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_recording_and_changing_loses_nothing() {
    let s = setup("crash", &fleet("", ""), &[]).await;
    scanner_history(&s).await;

    // GIVEN the first mutating call (the record) applies and its response is lost
    s.emu.admin_ok("/_emulator/crash", json!({ "after_mutations": 1 })).await;
    let report = trim(&s).await;
    assert!(executed(&report).is_empty(), "{report:#}");
    assert!(report["errors"][0].as_str().unwrap().contains("TagResource"), "{report:#}");
    assert_eq!(s.emu.admin_get("/_emulator/crash").await["crashed"], true);
    s.emu.http().delete(format!("{}/_emulator/crash", s.emu.url)).send().await.unwrap();

    // THEN the record landed, the capacity did not
    let record = tags(&s).await[RECORD].clone();
    assert!(record.starts_with("original=10/0;set=4/0"), "{record}");
    assert_eq!(always_on(&s, GROUP).await, 10);

    // WHEN the next runs come
    let report = trim(&s).await;
    assert_eq!(executed(&report).len(), 1, "{report:#}");
    assert_eq!(always_on(&s, GROUP).await, 4);
    for _ in 0..2 {
        assert!(executed(&trim(&s).await).is_empty());
    }
    // THEN the original is still the user's 10
    assert_eq!(original_in(&tags(&s).await[RECORD]), "original=10/0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_hours_follow_berlin_local_time_across_the_daylight_saving_change() {
    // Evenings and nights off in Berlin: 20:00-07:59 local.
    let s = setup("off-hours", &fleet(r#", "watchdog:off-hours" = "Europe/Berlin * 0-7,20-23 * * *""#, ""), &[]).await;
    let at = |iso: &str| chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp() as f64;
    let mut seen = Vec::new();
    // Saturday 27 March 2027 is CET (UTC+1); clocks go forward on Sunday 28 March (UTC+2).
    for (utc, local, expected) in [
        ("2027-03-27T18:30:00Z", "19:30 CET", 10),
        ("2027-03-27T19:30:00Z", "20:30 CET", 2),
        ("2027-03-28T05:30:00Z", "07:30 CEST", 2),
        // 06:30Z: 08:30 in CEST; a fixed UTC+1 offset would still say 07:30 (off).
        ("2027-03-28T06:30:00Z", "08:30 CEST", 10),
        ("2027-03-28T18:30:00Z", "20:30 CEST", 2),
    ] {
        s.emu.admin_ok("/_emulator/clock", json!({ "now": at(utc) })).await;
        let report = trim(&s).await;
        assert!(report["errors"].as_array().unwrap().is_empty(), "{report:#}");
        seen.push((local, always_on(&s, GROUP).await));
        assert_eq!(always_on(&s, GROUP).await, expected, "at {utc} ({local}): {report:#}");
    }
    assert_eq!(original_in(&tags(&s).await[RECORD]), "original=10/0", "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_sessions_of_the_named_kinds_end_and_no_others() {
    let sessions = fleet_file("trimmer-lambda-stale-sessions.toml", &[]);
    let s = setup(
        "sessions",
        &fleet("", &sessions),
        &[("END_SESSIONS", "PENDING_CLIENT_RECONNECTION>30m,CONNECTED>6h"), ("MIN_HISTORY_PERCENT", "100")],
    )
    .await;
    let report = trim(&s).await;
    let ended: Vec<&str> = executed(&report)
        .iter()
        .filter(|e| e["action"] == "end_session")
        .map(|e| e["session_arn"].as_str().unwrap())
        .collect();
    assert_eq!(ended.len(), 2, "{report:#}");

    let client = s.emu.client("us-west-2").await;
    let listed = client.list_stream_sessions().identifier(GROUP).send().await.unwrap();
    let by_user: HashMap<&str, &str> =
        listed.items().iter().map(|x| (x.user_id().unwrap_or(""), x.status().unwrap().as_str())).collect();
    for user in ["gone-60", "marathon"] {
        assert!(matches!(by_user[user], "TERMINATING" | "TERMINATED"), "{user}: {by_user:?}");
    }
    assert_eq!(by_user["gone-10"], "PENDING_CLIENT_RECONNECTION", "under the limit");
    assert_eq!(by_user["idle-active"], "ACTIVE", "ACTIVE is not named by the policy");
    assert_eq!(by_user["starting"], "ACTIVATING", "never ACTIVATING");
    // Demand history was too short to lower anything (MIN_HISTORY 100%): only sessions ended.
    assert_eq!(always_on(&s, GROUP).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_returns_and_publishes_the_plan_and_changes_nothing() {
    let mut s = setup("dry-run", &fleet("", ""), &[("END_SESSIONS", "CONNECTED>1m")]).await;
    scanner_history(&s).await;
    s.emu.http().delete(format!("{}/_emulator/counters", s.emu.url)).send().await.unwrap();
    // The scanner published for real; the trimmer runs with the deployment default, dry run.
    let mut env = s.env.clone();
    env.retain(|(k, _)| *k != "DRY_RUN");
    s.watch = LambdaWatch::start("trimmer-dry-run-default", &env);

    let report = trim(&s).await;

    assert_eq!(report["dry_run"], true);
    let planned: Vec<&str> =
        report["plan"]["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert_eq!(planned, ["set_capacity", "end_session", "end_session"], "{report:#}");
    assert!(executed(&report).is_empty());
    assert_eq!(report["capacity_hours_per_day"], 144.0);
    assert_eq!(s.emu.admin_get("/_emulator/counters").await["mutating_calls"], 0);
    assert_eq!(always_on(&s, GROUP).await, 10);
    assert!(!tags(&s).await.contains_key(RECORD));
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    let plan = messages.iter().find(|m| m.attribute("type") == Some("plan")).expect("plan published");
    assert_eq!(plan.payload["plan"]["items"].as_array().unwrap().len(), 3);

    // A request can ask for a dry run, never for a real one.
    let report = s.watch.invoke(TRIMMER, &json!({ "dry_run": false })).await.expect("trimmer run");
    assert_eq!(report["dry_run"], true);
    assert_eq!(s.emu.admin_get("/_emulator/counters").await["mutating_calls"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_idle_buffer_raises_nothing_is_trimmed_only_when_opted_in_and_maximum_never_moves() {
    // GIVEN a location at the smallest always-on (one tenancy step) with a target-idle buffer
    // of 4 and no players: everything idle is capacity the studio pays for on purpose.
    let fleet = &fleet_file("trimmer-lambda-buffer.toml", &[]);
    let s = setup("buffer", fleet, &[]).await;
    scanner_history(&s).await;
    let scan = s.watch.invoke_file(SCANNER, "scanner-scheduler-input.json").await.expect("scanner run");
    let idle: Vec<&Value> = findings_of(&scan["findings"], "idle_capacity")
        .into_iter()
        .filter(|f| f["stream_group_id"] == "sg-BUFFER001")
        .collect();
    assert!(idle.is_empty(), "the buffer is not waste: {idle:?}");

    // WHEN the trimmer runs without the target-idle opt-in THEN nothing changes
    let report = trim(&s).await;
    assert!(executed(&report).is_empty(), "{report:#}");

    // WHEN the group opts in to target-idle trimming THEN the buffer goes to the headroom
    let client = s.emu.client("us-west-2").await;
    let arn = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-BUFFER001";
    client.tag_resource().resource_arn(arn).tags("watchdog:trim-target-idle", "true").send().await.unwrap();
    let report = trim(&s).await;
    let done = executed(&report);
    assert_eq!(done.len(), 1, "{report:#}");
    assert_eq!(done[0]["to"], json!({ "always_on": 2, "target_idle": 2 }));

    // AND MaximumCapacity is as it was (the emulator resets omitted fields, so it was sent),
    // and the record keeps it with the original.
    let group = client.get_stream_group().identifier("sg-BUFFER001").send().await.unwrap();
    let location = &group.location_states()[0];
    assert_eq!(
        (location.always_on_capacity(), location.target_idle_capacity(), location.maximum_capacity()),
        (Some(2), Some(2), Some(12))
    );
    let tags =
        client.list_tags_for_resource().resource_arn(arn).send().await.unwrap().tags().cloned().unwrap_or_default();
    let record = &tags[RECORD];
    assert!(record.starts_with("original=2/4;set=2/2;") && record.ends_with(";max=12"), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_capacity_below_what_players_use_ends_no_session_and_new_ones_still_start() {
    // GIVEN four players on always-on 10 (maximum 10) and an off-hours window that is now
    let four = "  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  count = 2\n";
    let s = setup("players", &fleet(r#", "watchdog:off-hours" = "UTC * * * * *""#, four), &[]).await;
    let client = s.emu.client("us-west-2").await;

    // WHEN the trimmer lowers always-on to the floor (2), below the 4 in use
    let report = trim(&s).await;
    let done = executed(&report);
    assert_eq!(done.len(), 1, "{report:#}");
    assert_eq!((done[0]["why"].as_str(), done[0]["to"]["always_on"].as_i64()), (Some("off_hours"), Some(2)));

    // THEN, after the service's release delay, every player is still streaming: only idle
    // capacity is released, the players' capacity stays allocated
    s.emu.advance_seconds(10.0 * 60.0).await;
    let sessions = client.list_stream_sessions().identifier(GROUP).send().await.unwrap();
    let connected = sessions.items().iter().filter(|x| x.status().map(|s| s.as_str()) == Some("CONNECTED")).count();
    assert_eq!(connected, 4, "{sessions:?}");
    let location = client.get_stream_group().identifier(GROUP).send().await.unwrap().location_states()[0].clone();
    assert_eq!(location.always_on_capacity(), Some(2));
    assert!(location.allocated_capacity().unwrap() >= 4, "{location:?}");

    // AND a new player still gets a stream: capacity above always-on is allocated on demand,
    // up to MaximumCapacity (which the trimmer never lowers), after the allocation delay
    let started = player_request(&client, GROUP, "a-RACER0001").user_id("p5").send().await.expect("StartStreamSession");
    s.emu.advance_seconds(75.0).await;
    let placed = client
        .get_stream_session()
        .identifier(GROUP)
        .stream_session_identifier(started.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status().map(|s| s.as_str()), Some("ACTIVE"), "{placed:?}");
}

/// Allocated capacity of a group's us-west-2 location.
async fn allocated(s: &Setup, group: &str) -> i32 {
    let client = s.emu.client("us-west-2").await;
    let out = client.get_stream_group().identifier(group).send().await.unwrap();
    out.location_states().iter().find(|l| l.location_name() == Some("us-west-2")).unwrap().allocated_capacity().unwrap()
}

/// At the realistic profile capacity takes minutes to leave: the run after a trim sees the old
/// capacity still allocated. Over a day of runs every 15 minutes (the template's TrimSchedule),
/// with the players staying, the trim is made once and never undone or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_realistic_profile_a_trim_is_made_once_and_not_undone_over_a_day_of_runs() {
    let config = Config { timings: Timings::realistic(), ..quick_config() };
    let s = setup_on(config, "realistic-day", &fleet("", ""), &[]).await;
    scanner_history(&s).await;
    let first = trim(&s).await;
    assert_eq!(executed(&first).len(), 1, "{first:#}");
    assert_eq!(always_on(&s, GROUP).await, 4);

    // A minute later (a person invoking it, or a retry): capacity is still leaving.
    s.emu.advance_seconds(60.0).await;
    assert_eq!(allocated(&s, GROUP).await, 10, "released over minutes at the realistic profile");
    let moving = trim(&s).await;
    assert!(executed(&moving).is_empty(), "no second change while capacity moves: {moving:#}");

    let client = s.emu.client("us-west-2").await;
    let players: Vec<String> = client
        .list_stream_sessions()
        .identifier(GROUP)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|session| session.arn().map(str::to_owned))
        .collect();
    let mut changes = Vec::new();
    for _ in 0..(24 * 4) {
        s.emu.advance_seconds(15.0 * 60.0).await;
        // The players play on (their input keeps the 60-minute idle timeout away).
        for player in &players {
            let _ = s.emu.admin_post("/_emulator/sessions/input", json!({ "session": player })).await;
        }
        s.watch.invoke_file(SCANNER, "scanner-scheduler-input.json").await.expect("scanner run");
        let report = trim(&s).await;
        changes.extend(executed(&report).into_iter().map(|e| e["to"].clone()));
    }
    // The players' sessions end at their 12-hour length: one more lowering to the floor may
    // follow; nothing is ever raised back or changed to and fro.
    let levels: Vec<i64> = changes.iter().map(|to| to["always_on"].as_i64().unwrap()).collect();
    assert!(levels.len() <= 1, "{changes:?}");
    assert!(levels.iter().all(|l| *l < 4), "{changes:?}");
    assert_eq!(allocated(&s, GROUP).await, always_on(&s, GROUP).await, "settled");
}
