//! The recycler through the real Lambda path (cargo lambda watch + invoke), the emulator and
//! LocalStack: blue/green recreation, crash safety at every mutating call, a failed
//! replacement, dry run, CloudFormation and opt-out, location repair.

use aws_sdk_gameliftstreams::types::StreamGroupStatus;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use watchdog_tests::gls_emulator::{Behaviour, Config, ExpiredGroups};
use watchdog_tests::lambda::{LambdaWatch, LocalAws};
use watchdog_tests::stage::Stage;
use watchdog_tests::{TestEmulator, fleet_file, quick_config};

const RECYCLER: &str = "gls-watchdog-recycler";
const OLD: &str = "sg-RACER0001";
const OLD_ARN: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-RACER0001";

const APPS: &str = include_str!("../fleets/recycler-lambda-apps.toml");

/// A 29-day-old group with two locations, three applications, user tags, opted in.
fn old_group(sessions: &str) -> String {
    fleet_file("recycler-lambda-old-group.toml", &[("sessions", sessions)])
}

const BYSTANDERS: &str = include_str!("../fleets/recycler-lambda-bystanders.toml");

/// A 5-day-old opted-in group whose remote location eu-central-1 (with `capacity`) is in ERROR.
fn global_group(capacity: &str) -> String {
    fleet_file("recycler-lambda-global-group.toml", &[("capacity", capacity)])
}

/// OLD, opted in, a year and a day old: EXPIRED.
fn expired_fleet() -> String {
    format!("{APPS}{}", fleet_file("recycler-lambda-expired.toml", &[]))
}

struct Setup {
    emu: TestEmulator,
    aws: LocalAws,
    queue: String,
    watch: LambdaWatch,
    /// The functions' environment, to start a new watch (a new sandbox) with.
    env: Vec<(&'static str, String)>,
}

async fn setup(name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    setup_on(quick_config(), name, fleet, extra).await
}

/// As [`setup`], with the emulator taking `behaviour`'s readings of what the documentation leaves open.
async fn setup_under(behaviour: Behaviour, name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    setup_on(Config { behaviour, ..quick_config() }, name, fleet, extra).await
}

/// As [`setup`], on an emulator started with `config` (its clock frozen).
async fn setup_on(config: Config, name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    let stage = Stage::frozen(config, Some(fleet)).await;
    let (topic, queue) = stage.topic(&format!("recycler-{name}")).await;
    let base =
        [("ACTIONS_TOPIC_ARN", topic.as_str()), ("GRACE_MINUTES", "10"), ("MAX_ATTEMPTS", "1"), ("API_SHARE", "1")];
    let env = stage.env("Recycler", &[&base, extra].concat());
    let watch = LambdaWatch::start(&format!("recycler-{name}"), &env);
    Setup { emu: stage.emu, aws: stage.aws, queue, watch, env }
}

fn executed(report: &Value) -> Vec<String> {
    report["executed"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

async fn run(s: &Setup) -> Value {
    s.watch.invoke_file(RECYCLER, "recycler-scheduler-input.json").await.expect("recycler run")
}

async fn groups(s: &Setup) -> Vec<(String, String, Vec<String>)> {
    let client = s.emu.client("us-west-2").await;
    let mut out = Vec::new();
    for g in client.list_stream_groups().send().await.unwrap().items() {
        let full = client.get_stream_group().identifier(g.id().unwrap()).send().await.unwrap();
        out.push((
            g.id().unwrap().to_owned(),
            full.status().unwrap().as_str().to_owned(),
            full.associated_applications().to_vec(),
        ));
    }
    out
}

async fn tags(s: &Setup, arn: &str) -> std::collections::HashMap<String, String> {
    let client = s.emu.client("us-west-2").await;
    client.list_tags_for_resource().resource_arn(arn).send().await.unwrap().tags().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_29_day_old_group_is_replaced_blue_green_and_retired_after_its_sessions_end() {
    let fleet = format!("{APPS}{}{BYSTANDERS}", old_group("  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n"));
    let s = setup("happy", &fleet, &[("DRY_RUN", "false"), ("MANAGE_ALL_GROUPS", "true")]).await;
    let client = s.emu.client("us-west-2").await;

    // Run 1: the replacement is created with a ClientToken derived from the old group.
    let first = run(&s).await;
    assert_eq!(executed(&first), ["create_replacement"], "{first:#}");
    let notes = first["plan"]["notes"].to_string();
    assert!(notes.contains("CloudFormation stack racer-stack"), "{notes}");
    assert!(notes.contains("opted out"), "{notes}");
    let new_id = tags(&s, OLD_ARN).await["watchdog:replacement"].clone();
    let new = client.get_stream_group().identifier(&new_id).send().await.unwrap();
    assert_eq!(new.status(), Some(&StreamGroupStatus::Activating));

    // Run 2: ACTIVE now; every application is associated.
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["associate_applications"]);
    // Run 3: the cut-over is announced.
    assert_eq!(executed(&run(&s).await), ["announce_cutover"]);
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    let cutover = messages.iter().find(|m| m.attribute("type") == Some("cutover")).expect("cut-over message");
    assert_eq!(cutover.payload["old"]["id"], OLD);
    assert_eq!(cutover.payload["old"]["arn"], OLD_ARN);
    assert_eq!(cutover.payload["new"]["id"], new_id.as_str());
    assert_eq!(cutover.payload["new"]["arn"], new.arn());

    // The replacement matches the old group.
    let new = client.get_stream_group().identifier(&new_id).send().await.unwrap();
    let old = client.get_stream_group().identifier(OLD).send().await.unwrap();
    assert_eq!(new.stream_class(), old.stream_class());
    assert_eq!(new.description(), old.description());
    let capacity =
        |g: &aws_sdk_gameliftstreams::operation::get_stream_group::GetStreamGroupOutput| -> BTreeSet<String> {
            g.location_states()
                .iter()
                .map(|l| {
                    format!(
                        "{:?} {:?} {:?} {:?}",
                        l.location_name(),
                        l.always_on_capacity(),
                        l.target_idle_capacity(),
                        l.maximum_capacity()
                    )
                })
                .collect()
        };
    assert_eq!(capacity(&new), capacity(&old));
    let apps = |g: &aws_sdk_gameliftstreams::operation::get_stream_group::GetStreamGroupOutput| -> BTreeSet<String> {
        g.associated_applications().iter().cloned().collect()
    };
    assert_eq!(apps(&new), apps(&old));
    assert_eq!(new.default_application().and_then(|d| d.id()), Some("a-RACER0001"));
    let new_tags = tags(&s, new.arn()).await;
    assert_eq!(new_tags["team"], "racing");
    assert_eq!(new_tags["env"], "prod");
    assert_eq!(new_tags["watchdog:recycle"], "true", "the replacement stays opted in");
    assert_eq!(new_tags["watchdog:replaces"], OLD);

    // After the grace period the old group waits for its session to end.
    s.emu.advance_seconds(11.0 * 60.0).await;
    let waiting = run(&s).await;
    assert!(executed(&waiting).is_empty(), "{waiting:#}");
    assert!(waiting["plan"]["notes"].to_string().contains("1 session(s) still connected"));
    assert_eq!(
        client.get_stream_group().identifier(OLD).send().await.unwrap().status(),
        Some(&StreamGroupStatus::Active)
    );

    // The player leaves; the old group is deleted and its retirement announced.
    let session =
        client.list_stream_sessions().identifier(OLD).send().await.unwrap().items()[0].arn().unwrap().to_owned();
    client.terminate_stream_session().identifier(OLD).stream_session_identifier(&session).send().await.unwrap();
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["delete_old_group", "announce_retired"]);
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    assert!(messages.iter().any(|m| m.attribute("type") == Some("retired")));
    s.emu.advance_seconds(5.0).await;
    let remaining: Vec<String> = groups(&s).await.into_iter().map(|g| g.0).collect();
    assert_eq!(remaining.iter().filter(|id| *id == &new_id).count(), 1);
    assert!(!remaining.contains(&OLD.to_owned()), "{remaining:?}");
    // The bystanders were left alone.
    let bystander = tags(&s, "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-CFN000001").await;
    assert!(!bystander.contains_key("watchdog:replacement"), "sg-CFN000001 untouched: {bystander:?}");
    let bystander = tags(&s, "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-OPTOUT001").await;
    assert!(!bystander.contains_key("watchdog:replacement"), "sg-OPTOUT001 untouched: {bystander:?}");
    assert_eq!(remaining.len(), 3);
    // Quiet afterwards.
    assert!(executed(&run(&s).await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_mutating_call_is_finished_by_the_next_run() {
    // The happy path makes 6 mutating GameLift Streams calls: create, tag (link), associate,
    // tag (cut-over), delete, tag (retired). Crash after each in turn.
    for k in 1..=6u64 {
        let fleet = format!("{APPS}{}", old_group(""));
        let s = setup(&format!("crash{k}"), &fleet, &[("DRY_RUN", "false"), ("GRACE_MINUTES", "1")]).await;
        let scheduled: Value = serde_json::from_str(
            &std::fs::read_to_string(watchdog_tests::lambda::event_file("recycler-scheduler-input.json")).unwrap(),
        )
        .unwrap();
        finished_despite_a_crash(&s, k, &scheduled, 3).await;
        let messages = s.aws.drain(&s.queue, Duration::from_secs(1)).await;
        assert!(messages.iter().any(|m| m.attribute("type") == Some("cutover")), "k={k}: the cut-over was announced");
    }
}

/// Whether the recreation of OLD is over: OLD is gone and its one replacement announced it.
async fn retired(s: &Setup) -> bool {
    let all = groups(s).await;
    if all.len() != 1 || all[0].0 == OLD {
        return false;
    }
    let arn = format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{}", all[0].0);
    tags(s, &arn).await.contains_key("watchdog:retired")
}

/// The emulator "crashes" the caller after its `k`-th mutating call (the call takes effect, the
/// caller never hears of it); runs with `request` until the recreation is over, and checks it
/// ended with one replacement holding `applications`, no orphan, and one delete.
async fn finished_despite_a_crash(s: &Setup, k: u64, request: &Value, applications: usize) {
    s.emu.admin_ok("/_emulator/crash", json!({ "after_mutations": k })).await;
    let (mut crashed, mut done) = (false, false);
    for _ in 0..12 {
        let _ = s.watch.invoke(RECYCLER, request).await;
        if s.emu.admin_get("/_emulator/crash").await["crashed"] == true {
            crashed = true;
            s.emu.http().delete(format!("{}/_emulator/crash", s.emu.url)).send().await.unwrap();
        }
        s.emu.advance_seconds(61.0).await;
        if retired(s).await {
            done = true;
            break;
        }
    }
    assert!(crashed, "k={k}: the crash was injected");
    assert!(done, "k={k}: the recreation finished; groups now: {:?}", groups(s).await);
    let all = groups(s).await;
    assert_eq!(all.len(), 1, "k={k}: exactly one replacement, no orphan: {all:?}");
    assert_eq!(all[0].2.len(), applications, "k={k}: every application associated");
    assert_eq!(s.emu.calls("DeleteStreamGroup").await, 1, "k={k}: the old group deleted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_that_fails_is_cleaned_up_and_retried_later_while_the_old_group_serves() {
    let fleet = format!("{APPS}{}", old_group(""));
    let s = setup("failure", &fleet, &[("DRY_RUN", "false"), ("RETRY_BACKOFF_MINUTES", "5")]).await;
    s.emu
        .admin_post("/_emulator/activation-outcomes", json!({ "status": "ERROR", "reason": "noAvailableInstances" }))
        .await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    let failed_id = tags(&s, OLD_ARN).await["watchdog:replacement"].clone();
    s.emu.advance_seconds(5.0).await;
    let cleanup = run(&s).await;
    assert_eq!(executed(&cleanup), ["record_failed_replacement", "delete_failed_replacement", "unlink"], "{cleanup:#}");
    let old_tags = tags(&s, OLD_ARN).await;
    assert_eq!(old_tags["watchdog:recycle-attempt"], "1");
    assert!(!old_tags.contains_key("watchdog:replacement"));
    let client = s.emu.client("us-west-2").await;
    let old = client.get_stream_group().identifier(OLD).send().await.unwrap();
    assert_eq!(old.status(), Some(&StreamGroupStatus::Active), "the old group keeps serving");
    assert_eq!(old.associated_applications().len(), 3);
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    assert!(messages.iter().any(|m| m.attribute("action") == Some("record_failed_replacement")));

    // Within the back-off nothing happens; after it, a new attempt (a new token, a new group).
    s.emu.advance_seconds(60.0).await;
    assert!(executed(&run(&s).await).is_empty());
    s.emu.advance_seconds(5.0 * 60.0).await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    let second_id = tags(&s, OLD_ARN).await["watchdog:replacement"].clone();
    assert_ne!(second_id, failed_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_is_the_default_and_changes_nothing() {
    let fleet = format!("{APPS}{}{BYSTANDERS}", old_group(""));
    let s = setup("dry", &fleet, &[("PUBLISH_PLAN", "true"), ("MANAGE_ALL_GROUPS", "true")]).await;
    let report = run(&s).await;
    assert_eq!(report["dry_run"], true);
    let planned: Vec<(&str, &str)> = report["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["stream_group"].as_str().unwrap(), i["action"].as_str().unwrap()))
        .collect();
    assert_eq!(planned, [(OLD, "create_replacement")]);
    assert_eq!(report["plan"]["items"][0]["spec"]["client_token"], "gls-watchdog-recycle-sg-RACER0001-attempt-0001");
    assert!(report["executed"].as_array().unwrap().is_empty());
    let counters = s.emu.admin_get("/_emulator/counters").await;
    assert_eq!(counters["mutating_calls"], 0, "{counters:#}");
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    assert!(messages.iter().any(|m| m.attribute("action") == Some("plan")), "the plan is published");
    // A request cannot turn dry run off where the deployment keeps it on.
    let forced = s.watch.invoke(RECYCLER, &json!({ "dry_run": false })).await.unwrap();
    assert_eq!(forced["dry_run"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_remote_location_is_repaired_and_a_failed_primary_leads_to_recreation() {
    let global = global_group("always_on = 3\n  target_idle = 1\n  maximum = 6");
    let fleet = format!("{APPS}{global}{}", fleet_file("recycler-lambda-primary-down.toml", &[]));
    let s = setup("repair", &fleet, &[("DRY_RUN", "false"), ("MAX_GROUPS_IN_FLIGHT", "5")]).await;
    let first = run(&s).await;
    let actions: BTreeSet<(String, String)> = first["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["stream_group"].as_str().unwrap().to_owned(), e["action"].as_str().unwrap().to_owned()))
        .collect();
    assert!(actions.contains(&("sg-GLOBAL001".into(), "remove_location".into())), "{first:#}");
    assert!(actions.contains(&("sg-PRIMARY01".into(), "create_replacement".into())), "a failed primary escalates");

    s.emu.advance_seconds(5.0).await;
    let second = run(&s).await;
    assert!(executed(&second).contains(&"add_location".to_owned()), "{second:#}");
    // Remembered until it has stayed healthy for REPAIR_STABLE_HOURS (24).
    s.emu.advance_seconds(25.0 * 3600.0).await;
    let third = run(&s).await;
    assert!(executed(&third).contains(&"forget_location".to_owned()), "{third:#}");

    let client = s.emu.client("us-west-2").await;
    let group = client.get_stream_group().identifier("sg-GLOBAL001").send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::Active));
    let eu = group
        .location_states()
        .iter()
        .find(|l| l.location_name() == Some("eu-central-1"))
        .expect("eu-central-1 is back");
    assert_eq!(
        (eu.always_on_capacity(), eu.target_idle_capacity(), eu.maximum_capacity()),
        (Some(3), Some(1), Some(6))
    );
    assert!(
        !tags(&s, "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-GLOBAL001")
            .await
            .keys()
            .any(|k| k.starts_with("watchdog:repair:"))
    );
}

/// Under each reading of whether locations change while ACTIVE_WITH_ERRORS (the emulator's
/// `--location-changes-with-errors`): removed and added back where the service allows it, and
/// recreated where it refuses the removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_remote_location_is_mended_under_every_reading_of_active_with_errors() {
    use watchdog_tests::gls_emulator::LocationChangesWithErrors as Reading;
    for reading in [Reading::Allow, Reading::RemoveOnly, Reading::Refuse] {
        let behaviour = Behaviour { location_changes_with_errors: reading, ..Behaviour::default() };
        let fleet = format!("{APPS}{}", global_group("always_on = 1"));
        let s = setup_under(behaviour, &format!("repair-{reading:?}"), &fleet, &[("DRY_RUN", "false")]).await;
        let first = run(&s).await;
        assert_eq!(s.emu.calls("RemoveStreamGroupLocations").await, 1, "{reading:?}");
        s.emu.advance_seconds(5.0).await;
        let second = run(&s).await;
        if reading == Reading::Refuse {
            // The removal was refused for the group's state: only a new group mends it.
            assert_eq!(first["failed_steps"], 1, "{first:#}");
            assert!(first["errors"].to_string().contains("ACTIVE"), "{first:#}");
            assert_eq!(executed(&second), ["create_replacement"], "{second:#}");
            assert!(second["executed"][0]["reason"].as_str().unwrap().contains("active_with_errors"), "{second:#}");
            assert_eq!(s.emu.calls("AddStreamGroupLocations").await, 0);
        } else {
            assert_eq!(executed(&first), ["remove_location"], "{reading:?}: {first:#}");
            assert_eq!(executed(&second), ["add_location"], "{reading:?}: {second:#}");
            s.emu.advance_seconds(5.0).await;
            let client = s.emu.client("us-west-2").await;
            let group = client.get_stream_group().identifier("sg-GLOBAL001").send().await.unwrap();
            assert_eq!(group.status(), Some(&StreamGroupStatus::Active), "{reading:?}");
            assert_eq!(s.emu.calls("CreateStreamGroup").await, 0, "{reading:?}");
        }
    }
}

/// Messages on the actions topic with this `action` (or `type`) attribute.
fn announced<'a>(messages: &'a [watchdog_tests::lambda::QueuedMessage], kind: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m.attribute("action") == Some(kind) || m.attribute("type") == Some(kind))
        .map(|m| &m.payload)
        .collect()
}

fn blocked(report: &Value) -> Vec<String> {
    report["plan"]["blocked"].as_array().unwrap().iter().map(|b| b["reason"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_transit_is_kept_stream_urls_are_named_and_nothing_is_deleted_before_the_ack_and_the_urls() {
    let fleet = format!("{APPS}{}", fleet_file("recycler-lambda-vpc.toml", &[]));
    let s = setup("vpc", &fleet, &[("DRY_RUN", "false"), ("REQUIRE_CUTOVER_ACK", "true")]).await;
    let client = s.emu.client("us-west-2").await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["associate_applications"]);
    let cut = run(&s).await;
    assert_eq!(executed(&cut), ["announce_cutover"], "{cut:#}");
    let new_id = tags(&s, OLD_ARN).await["watchdog:replacement"].clone();

    // Both locations keep their VPC and CIDR blocks; the Transit Gateway is the new group's own.
    let vpc = |g: &aws_sdk_gameliftstreams::operation::get_stream_group::GetStreamGroupOutput| -> BTreeSet<String> {
        g.location_states()
            .iter()
            .map(|l| {
                let v = l.vpc_transit_configuration().expect("VPC transit on every location");
                format!("{:?} {:?} {:?}", l.location_name(), v.vpc_id(), v.ipv4_cidr_blocks())
            })
            .collect()
    };
    let old = client.get_stream_group().identifier(OLD).send().await.unwrap();
    let new = client.get_stream_group().identifier(&new_id).send().await.unwrap();
    assert_eq!(vpc(&new), vpc(&old));
    assert_eq!(vpc(&new).len(), 2);

    // The cut-over names the stream URL, the VPC steps and the acknowledgement.
    let url = client.list_stream_urls().stream_group_identifier(OLD).send().await.unwrap().items()[0].clone();
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    let cutover = announced(&messages, "cutover")[0];
    assert_eq!(cutover["stream_urls"][0]["id"], url.stream_url_id().unwrap());
    assert_eq!(cutover["vpc_transit"].as_array().unwrap().len(), 2);
    let tgw = new.location_states()[0].vpc_transit_configuration().unwrap().transit_gateway_id().unwrap();
    assert!(cutover["vpc_transit"].to_string().contains(tgw), "{cutover:#}");
    assert!(cutover["acknowledge"]["command"].as_str().unwrap().contains(new.arn()));

    // After the grace period: no acknowledgement, no delete; the wait is recorded once.
    s.emu.advance_seconds(11.0 * 60.0).await;
    let waiting = run(&s).await;
    assert_eq!(executed(&waiting), ["record_blocked"], "{waiting:#}");
    assert_eq!(blocked(&waiting), ["awaiting_ack"]);
    assert!(executed(&run(&s).await).is_empty());

    // The backend acknowledges, as the README shows; the active stream URL still holds it.
    client.tag_resource().resource_arn(new.arn()).tags("watchdog:cutover-ack", "true").send().await.unwrap();
    let held = run(&s).await;
    assert_eq!(executed(&held), ["clear_blocked"], "{held:#}");
    assert!(held["plan"]["notes"].to_string().contains("1 stream URL(s) still active"), "{held:#}");
    assert_eq!(s.emu.calls("DeleteStreamGroup").await, 0);

    // The studio revokes the URL: the old group goes.
    client
        .revoke_stream_url()
        .identifier(OLD)
        .stream_url_identifier(url.stream_url_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(executed(&run(&s).await), ["delete_old_group", "announce_retired"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_in_error_blocks_the_cutover_is_reported_and_the_recreation_completes_once_ready() {
    let fleet = format!("{APPS}{}", old_group(""));
    let s = setup("app-error", &fleet, &[("DRY_RUN", "false")]).await;
    s.emu
        .admin_ok(
            "/_emulator/applications/status",
            json!({ "application": "a-BETA00001", "status": "ERROR", "reason": "sourceModified" }),
        )
        .await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["associate_applications"], "the READY ones");
    let blocked_run = run(&s).await;
    assert_eq!(executed(&blocked_run), ["record_blocked"], "{blocked_run:#}");
    assert_eq!(blocked(&blocked_run), ["application_not_ready"]);
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    let record = announced(&messages, "record_blocked");
    assert!(record[0].to_string().contains("a-BETA00001 is ERROR (sourceModified)"), "{record:?}");
    assert!(executed(&run(&s).await).is_empty(), "reported once; the old group keeps serving");

    s.emu
        .admin_post("/_emulator/applications/status", json!({ "application": "a-BETA00001", "status": "READY" }))
        .await;
    assert_eq!(executed(&run(&s).await), ["associate_applications", "clear_blocked"]);
    assert_eq!(executed(&run(&s).await), ["announce_cutover"]);
}

/// A slow day: the replacement stays ACTIVATING for 45 minutes across runs every 15 minutes
/// (no second create, no cut-over, one waiting line each), then goes on; one that would take
/// longer than ACTIVATION_TIMEOUT_MINUTES counts as failed and the old group keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_activating_for_45_minutes_is_waited_for_and_one_past_the_ceiling_is_failed() {
    for (activation_minutes, finishes) in [(45.0, true), (75.0, false)] {
        let mut config = quick_config();
        config.timings.group_activation = chrono::Duration::minutes(activation_minutes as i64);
        let fleet = format!("{APPS}{}", old_group(""));
        let name = format!("slow-activation-{activation_minutes}");
        let s = setup_on(config, &name, &fleet, &[("DRY_RUN", "false")]).await;
        assert_eq!(executed(&run(&s).await), ["create_replacement"]);
        for quarter in 1..=3 {
            s.emu.advance_seconds(15.0 * 60.0 - 1.0).await;
            let waiting = run(&s).await;
            assert!(executed(&waiting).is_empty(), "{waiting:#}");
            let notes = waiting["plan"]["notes"].as_array().unwrap();
            let lines: Vec<&Value> =
                notes.iter().filter(|n| n["note"].as_str().unwrap().contains("ACTIVATING")).collect();
            assert_eq!(lines.len(), 1, "quarter {quarter}: {notes:?}");
        }
        s.emu.advance_seconds(if finishes { 60.0 } else { 17.0 * 60.0 }).await;
        let next = run(&s).await;
        if finishes {
            assert_eq!(executed(&next), ["associate_applications"], "{next:#}");
        } else {
            assert_eq!(
                executed(&next),
                ["record_failed_replacement", "delete_failed_replacement", "unlink"],
                "{next:#}"
            );
            assert_eq!(tags(&s, OLD_ARN).await["watchdog:recycle-attempt"], "1");
        }
        assert_eq!(s.emu.calls("CreateStreamGroup").await, 1, "no second create");
    }
}

/// Under both readings of "Only Get and Delete operations will work on an expired stream
/// group" (seed 000): whether its tags can still be read decides whether a person must name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_group_is_replaced_with_no_write_to_it_and_finished_by_scheduled_runs() {
    for reading in [ExpiredGroups::Strict, ExpiredGroups::Lenient] {
        let behaviour = Behaviour { expired_groups: reading, ..Behaviour::default() };
        let name = format!("expired-{reading:?}");
        let s = setup_under(behaviour, &name, &expired_fleet(), &[("DRY_RUN", "false"), ("GRACE_MINUTES", "1")]).await;
        let first = run(&s).await;
        if reading == ExpiredGroups::Strict {
            // No tags, so no opt-in to read: nothing happens until a person names it, once.
            assert!(executed(&first).is_empty(), "{first:#}");
            assert_eq!(blocked(&first), ["expired_tags_unreadable"]);
            let named = s.watch.invoke(RECYCLER, &json!({ "stream_groups": [OLD] })).await.unwrap();
            assert_eq!(executed(&named), ["create_replacement"], "{named:#}");
        } else {
            assert_eq!(executed(&first), ["create_replacement"], "its opt-in tag is readable: {first:#}");
        }
        // From here on only the schedule runs.
        let mut steps = Vec::new();
        for _ in 0..8 {
            if steps.contains(&"announce_retired".to_owned()) {
                break;
            }
            s.emu.advance_seconds(61.0).await;
            let report = run(&s).await;
            assert!(report["errors"].as_array().unwrap().is_empty(), "{reading:?}: {report:#}");
            assert!(blocked(&report).is_empty(), "{reading:?}: {report:#}");
            steps.extend(executed(&report));
        }
        assert_eq!(
            steps,
            ["associate_applications", "announce_cutover", "delete_old_group", "announce_retired"],
            "{reading:?}"
        );
        s.emu.advance_seconds(5.0).await;
        let all = groups(&s).await;
        assert_eq!(all.len(), 1, "{all:?}");
        let new_arn = format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{}", all[0].0);
        let new_tags = tags(&s, &new_arn).await;
        assert_eq!(new_tags["watchdog:replaces"], OLD);
        assert!(new_tags.contains_key("watchdog:cutover-at"), "the state lived on the replacement: {new_tags:?}");
        // Every tag write went to the replacement: one at creation is not a TagResource call,
        // then the cut-over time and the retirement.
        assert_eq!(s.emu.calls("TagResource").await, 2, "{reading:?}");
    }
}

/// OLD (one gen5n GPU of always-on in us-west-2) with one GPU of gen5n there in `table`
/// (`gpu_quotas` or `capacity_pools`): enough for it, not for a replacement beside it.
async fn old_group_with_one_gpu(name: &str, table: &str) -> Setup {
    let supply = format!("\n[[{table}]]\nfamily = \"gen5n\"\nlocation = \"us-west-2\"\ngpus = 1\n");
    let fleet = format!("{APPS}{}{supply}", old_group(""));
    setup(name, &fleet, &[("DRY_RUN", "false"), ("RETRY_BACKOFF_MINUTES", "30")]).await
}

/// A GPU quota that holds the old group but not a second one beside it (AWS General
/// Reference: quotas per family and location, 0 by default): the plan states the overlap's
/// GPUs before creating; the refusal is blocked with that figure and what to raise, backed
/// off (one CreateStreamGroup, not one per run), and the old group is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_beyond_the_gpu_quota_is_blocked_with_what_to_raise_and_the_old_group_untouched() {
    let s = old_group_with_one_gpu("gpu-quota", "gpu_quotas").await;
    let first = run(&s).await;
    assert!(executed(&first).is_empty(), "{first:#}");
    assert_eq!(first["failed_steps"], 1, "{first:#}");
    let create = &first["plan"]["items"][0];
    assert_eq!(create["action"], "create_replacement");
    let reason = create["reason"].as_str().unwrap();
    assert!(
        reason.contains("the overlap needs 1 gen5n GPU(s) in us-west-2")
            && reason.contains("1 gen5n GPU(s) in eu-central-1"),
        "{reason}"
    );
    let recorded = tags(&s, OLD_ARN).await;
    assert_eq!(recorded["watchdog:blocked"], "quota", "{recorded:?}");

    // Hourly runs within the back-off: blocked with the figure and what to raise, no new create.
    for _ in 0..3 {
        s.emu.advance_seconds(5.0 * 60.0).await;
        let report = run(&s).await;
        assert!(executed(&report).is_empty(), "{report:#}");
        let detail = report["plan"]["blocked"][0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("1 gen5n GPU(s) in us-west-2 (quota \"Gen5n GPUs, us-west-2\")")
                && detail.contains("raise the GPU quota"),
            "{detail}"
        );
    }
    assert_eq!(s.emu.calls("CreateStreamGroup").await, 1, "no retry storm");
    let client = s.emu.client("us-west-2").await;
    let old = client.get_stream_group().identifier(OLD).send().await.unwrap();
    assert_eq!(old.status(), Some(&StreamGroupStatus::Active));
    assert_eq!(old.location_states()[0].always_on_capacity(), Some(2), "untouched");

    // The studio raises the quota: after the back-off the recreation goes ahead.
    s.emu
        .admin_ok(
            "/_emulator/supply",
            json!({ "kind": "gpu_quota", "family": "gen5n", "location": "us-west-2", "gpus": 2 }),
        )
        .await;
    s.emu.advance_seconds(20.0 * 60.0).await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
}

/// No capacity in the location (the model's `noAvailableInstances`: "Wait a few minutes and
/// retry the request as capacity can shift frequently"): the replacement goes to ERROR; it is
/// counted, deleted and retried after the back-off while the old group keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_that_finds_no_capacity_is_counted_deleted_and_retried_later() {
    let s = old_group_with_one_gpu("no-capacity", "capacity_pools").await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    s.emu.advance_seconds(5.0).await;
    let failed = run(&s).await;
    assert_eq!(executed(&failed), ["record_failed_replacement", "delete_failed_replacement", "unlink"], "{failed:#}");
    assert!(
        failed["plan"]["items"][0]["reason"].as_str().unwrap().contains("ERROR (noAvailableInstances)"),
        "{failed:#}"
    );
    assert_eq!(tags(&s, OLD_ARN).await["watchdog:recycle-attempt"], "1");
    let client = s.emu.client("us-west-2").await;
    let old = client.get_stream_group().identifier(OLD).send().await.unwrap();
    assert_eq!(old.status(), Some(&StreamGroupStatus::Active), "the old group keeps serving");
    // Within the back-off nothing more is tried; capacity shifts, and after it the next attempt goes.
    s.emu.advance_seconds(10.0 * 60.0).await;
    assert!(executed(&run(&s).await).is_empty());
    s.emu
        .admin_ok(
            "/_emulator/supply",
            json!({ "kind": "capacity_pool", "family": "gen5n", "location": "us-west-2", "gpus": null }),
        )
        .await;
    s.emu.advance_seconds(25.0 * 60.0).await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
    assert_eq!(s.emu.calls("CreateStreamGroup").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_refusal_backs_off_and_raises_a_finding_and_a_metric() {
    let fleet = format!("{APPS}{}", old_group(""));
    let namespace = format!("WatchdogTest-quota-{}", std::process::id());
    let s = setup(
        "quota",
        &fleet,
        &[("DRY_RUN", "false"), ("RETRY_BACKOFF_MINUTES", "5"), ("METRIC_NAMESPACE", &namespace)],
    )
    .await;
    s.emu
        .admin_ok(
            "/_emulator/faults",
            json!({ "operation": "CreateStreamGroup", "error_rate": 1.0, "error": "ServiceQuotaExceededException" }),
        )
        .await;
    let refused = run(&s).await;
    assert_eq!(refused["failed_steps"], 1);
    assert!(refused["errors"].to_string().contains("ServiceQuotaExceededException"), "{refused:#}");
    let old_tags = tags(&s, OLD_ARN).await;
    assert_eq!(old_tags["watchdog:blocked"], "quota");
    assert_eq!(old_tags["watchdog:recycle-attempt"], "1");
    let messages = s.aws.drain(&s.queue, Duration::from_secs(2)).await;
    assert!(announced(&messages, "problems")[0].to_string().contains("ServiceQuotaExceededException"));

    s.emu.advance_seconds(60.0).await;
    let waiting = run(&s).await;
    assert_eq!(blocked(&waiting), ["quota"]);
    assert_eq!(s.emu.calls("CreateStreamGroup").await, 1, "no retry within the back-off");
    let metrics =
        s.aws.cloudwatch.list_metrics().namespace(&namespace).metric_name("StepsBlocked").send().await.unwrap();
    assert!(
        metrics.metrics().iter().any(|m| m.dimensions().iter().any(|d| d.value() == Some("recycler"))),
        "{metrics:?}"
    );

    // Refused again after the back-off: failing run after run, the invocation itself fails
    // (the function-errors alarm), the attempt recorded all the same.
    s.emu.advance_seconds(5.0 * 60.0).await;
    let failing = s.watch.invoke_file(RECYCLER, "recycler-scheduler-input.json").await.unwrap_err();
    assert!(failing.contains("StepsFailing"), "{failing}");
    assert_eq!(tags(&s, OLD_ARN).await["watchdog:recycle-attempt"], "2");

    s.emu.http().delete(format!("{}/_emulator/faults", s.emu.url)).send().await.unwrap();
    s.emu.advance_seconds(10.0 * 60.0).await;
    assert_eq!(executed(&run(&s).await), ["create_replacement"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_that_fails_again_after_repair_backs_off_and_is_escalated_after_the_limit() {
    let fleet = format!("{APPS}{}", global_group("always_on = 1"));
    let s = setup(
        "repair-limit",
        &fleet,
        &[("DRY_RUN", "false"), ("RETRY_BACKOFF_MINUTES", "5"), ("MAX_REPAIR_ATTEMPTS", "2")],
    )
    .await;
    let fail_again = || async {
        s.emu
            .admin_ok(
                "/_emulator/locations/status",
                json!({ "stream_group": "sg-GLOBAL001", "location": "eu-central-1", "status": "ERROR" }),
            )
            .await;
    };
    assert_eq!(executed(&run(&s).await), ["remove_location"]);
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["add_location"]);
    s.emu.advance_seconds(5.0).await;
    fail_again().await;
    let backing_off = run(&s).await;
    assert!(executed(&backing_off).is_empty(), "{backing_off:#}");
    assert!(backing_off["plan"]["notes"].to_string().contains("repair 2 after"));
    s.emu.advance_seconds(5.0 * 60.0).await;
    assert_eq!(executed(&run(&s).await), ["remove_location"], "repair 2 after the back-off");
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["add_location"]);
    s.emu.advance_seconds(5.0).await;
    fail_again().await;
    s.emu.advance_seconds(11.0 * 60.0).await;
    let escalated = run(&s).await;
    assert_eq!(executed(&escalated), ["record_blocked"], "{escalated:#}");
    assert_eq!(blocked(&escalated), ["repair_limit"]);
    assert_eq!(s.emu.calls("RemoveStreamGroupLocations").await, 2, "no third removal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_mutating_call_of_an_expired_groups_recreation_is_finished_by_the_next_run() {
    // Create, associate, tag the replacement (cut-over), delete, tag the replacement (retired).
    for k in 1..=5u64 {
        let fleet = expired_fleet();
        let s = setup(&format!("crash-expired{k}"), &fleet, &[("DRY_RUN", "false"), ("GRACE_MINUTES", "1")]).await;
        finished_despite_a_crash(&s, k, &json!({ "stream_groups": [OLD] }), 2).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_killed_at_arbitrary_moments_still_ends_with_one_replacement_and_one_delete() {
    let fleet = format!("{APPS}{}", old_group(""));
    let mut s = setup("sigkill", &fleet, &[("DRY_RUN", "false"), ("GRACE_MINUTES", "1")]).await;
    // Every call takes a while, so a kill lands in the middle of a run.
    s.emu
        .admin_ok(
            "/_emulator/faults",
            json!({ "operation": "*", "error_rate": 0.0, "error": "InternalServerException", "latency_ms": 120 }),
        )
        .await;
    // A fixed schedule of kill moments, spread over a run: counted in the run's own calls to the
    // emulator, not in milliseconds, so that a busy machine moves them no more than the run.
    let kill_after_calls = [3u64, 1, 5, 2, 4, 1, 6, 2];
    let (mut kills, mut done) = (0, false);
    for round in 0..24 {
        match kill_after_calls.get(round) {
            Some(calls) => {
                let before = calls_so_far(&s.emu).await;
                let killed = {
                    let invocation = run_quietly(&s);
                    tokio::pin!(invocation);
                    tokio::select! {
                        () = &mut invocation => false,
                        () = calls_reach(&s.emu, before + calls) => {
                            // Killed mid-run, the invocation is never answered: given up on.
                            s.watch.kill_function(RECYCLER)
                        }
                    }
                };
                if killed {
                    // The sandbox is gone; the next invocation gets a new one.
                    kills += 1;
                    s.watch = LambdaWatch::start(&format!("recycler-sigkill-{round}"), &s.env);
                }
            }
            None => run_quietly(&s).await,
        }
        s.emu.advance_seconds(61.0).await;
        if retired(&s).await {
            done = true;
            break;
        }
    }
    assert!(kills >= 3, "the function was killed mid-run {kills} time(s)");
    assert!(done, "the recreation finished; groups now: {:?}", groups(&s).await);
    let all = groups(&s).await;
    assert_eq!(all.len(), 1, "exactly one replacement, no orphan: {all:?}");
    assert_eq!(all[0].2.len(), 3, "all applications associated");
    // A request cut off while the emulator was still delaying it never took effect, so calls
    // may be more than one; deletes that took effect are one.
    let counters = s.emu.admin_get("/_emulator/counters").await;
    assert_eq!(counters["operations"]["DeleteStreamGroup"]["succeeded"], 1, "{counters:#}");
}

/// Every call the emulator has answered or is answering, of every operation.
async fn calls_so_far(emu: &TestEmulator) -> u64 {
    let counters = emu.admin_get("/_emulator/counters").await;
    counters["operations"].as_object().map_or(0, |ops| ops.values().filter_map(|c| c["calls"].as_u64()).sum())
}

/// Resolves once the emulator has seen `total` calls.
async fn calls_reach(emu: &TestEmulator, total: u64) {
    while calls_so_far(emu).await < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One scheduled run whose outcome does not matter (it may be killed).
async fn run_quietly(s: &Setup) {
    let _ = s.watch.invoke_file(RECYCLER, "recycler-scheduler-input.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_application_in_error_is_stood_in_for_then_restored_before_the_cutover() {
    let fleet = format!("{APPS}{}", old_group(""));
    let s = setup("default-error", &fleet, &[("DRY_RUN", "false")]).await;
    let racer = json!({ "application": "a-RACER0001", "status": "ERROR", "reason": "sourceModified" });
    s.emu.admin_ok("/_emulator/applications/status", racer).await;
    let client = s.emu.client("us-west-2").await;

    // Created with a READY stand-in as its default; the cut-over waits for the studio's default.
    let first = run(&s).await;
    assert_eq!(executed(&first), ["create_replacement"], "{first:#}");
    assert!(first["plan"]["notes"].to_string().contains("a-RACER0001 is ERROR (sourceModified)"));
    let new_id = tags(&s, OLD_ARN).await["watchdog:replacement"].clone();
    s.emu.advance_seconds(5.0).await;
    assert_eq!(executed(&run(&s).await), ["associate_applications"]);
    let blocked_run = run(&s).await;
    assert_eq!(blocked(&blocked_run), ["application_not_ready"], "{blocked_run:#}");

    // READY again: associated, made the default again, then the cut-over.
    s.emu.admin_ok("/_emulator/applications/status", json!({ "application": "a-RACER0001", "status": "READY" })).await;
    assert_eq!(executed(&run(&s).await), ["associate_applications", "clear_blocked"]);
    assert_eq!(executed(&run(&s).await), ["restore_default_application"]);
    let new = client.get_stream_group().identifier(&new_id).send().await.unwrap();
    assert_eq!(new.default_application().and_then(|d| d.id()), Some("a-RACER0001"));
    assert_eq!(executed(&run(&s).await), ["announce_cutover"]);
}
