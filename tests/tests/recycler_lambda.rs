//! The recycler through the real Lambda path (cargo lambda watch + invoke), the emulator and
//! LocalStack: blue/green recreation, crash safety at every mutating call, a failed
//! replacement, dry run, CloudFormation and opt-out, location repair.

use aws_sdk_gameliftstreams::types::StreamGroupStatus;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use watchdog_tests::lambda::{LambdaWatch, LocalAws, local_env};
use watchdog_tests::{TestEmulator, quick_config};

const RECYCLER: &str = "gls-watchdog-recycler";
const OLD: &str = "sg-RACER0001";
const OLD_ARN: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-RACER0001";

const APPS: &str = r#"
[[applications]]
key = "racer"
id = "a-RACER0001"
description = "Racer"

[[applications]]
key = "beta"
id = "a-BETA00001"
description = "Racer beta"

[[applications]]
key = "dlc"
id = "a-DLC000001"
description = "Racer DLC"
"#;

/// A 29-day-old group with two locations, three applications, user tags, opted in.
fn old_group(sessions: &str) -> String {
    format!(
        r#"
[[stream_groups]]
id = "{OLD}"
description = "racer-prod"
stream_class = "gen5n_high"
created_days_ago = 29
default_application = "racer"
applications = ["racer", "beta", "dlc"]
tags = {{ team = "racing", env = "prod", "watchdog:recycle" = "true" }}
  [[stream_groups.locations]]
  name = "us-west-2"
  always_on = 2
  maximum = 6
  [[stream_groups.locations]]
  name = "eu-central-1"
  always_on = 2
  target_idle = 2
  maximum = 8
{sessions}"#
    )
}

const BYSTANDERS: &str = r#"
[[stream_groups]]
id = "sg-CFN000001"
description = "stack-managed"
stream_class = "gen5n_high"
created_days_ago = 40
applications = ["racer"]
tags = { "aws:cloudformation:stack-name" = "racer-stack", "watchdog:recycle" = "true" }
  [[stream_groups.locations]]
  name = "us-west-2"
  always_on = 2

[[stream_groups]]
id = "sg-OPTOUT001"
description = "opted-out"
stream_class = "gen5n_high"
created_days_ago = 40
applications = ["racer"]
tags = { "watchdog:recycle" = "false" }
  [[stream_groups.locations]]
  name = "us-west-2"
  always_on = 2
"#;

struct Setup {
    emu: TestEmulator,
    aws: LocalAws,
    queue: String,
    watch: LambdaWatch,
}

async fn setup(name: &str, fleet: &str, extra: &[(&'static str, &str)]) -> Setup {
    let mut config = quick_config();
    config.frozen_clock = true;
    let emu = TestEmulator::start(config, Some(fleet)).await;
    let aws = LocalAws::connect().await;
    let (topic, queue) = aws
        .topic_with_queue(&format!("recycler-{name}-{}-{}", std::process::id(), chrono::Utc::now().timestamp_micros()))
        .await;
    let mut env = local_env(&emu.url, &aws.url);
    env.extend([
        ("ACTIONS_TOPIC_ARN", topic),
        ("GRACE_MINUTES", "10".into()),
        ("MAX_ATTEMPTS", "1".into()),
        ("API_SHARE", "1".into()),
    ]);
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k, v.to_string()));
    }
    let watch = LambdaWatch::start(&format!("recycler-{name}"), &env);
    Setup { emu, aws, queue, watch }
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
        let (status, body) = s.emu.admin_post("/_emulator/crash", json!({ "after_mutations": k })).await;
        assert_eq!(status, 200, "{body}");
        let mut crashed = false;
        let mut done = false;
        for _ in 0..12 {
            let _ = s.watch.invoke_file(RECYCLER, "recycler-scheduler-input.json").await;
            if s.emu.admin_get("/_emulator/crash").await["crashed"] == true {
                crashed = true;
                s.emu.http().delete(format!("{}/_emulator/crash", s.emu.url)).send().await.unwrap();
            }
            s.emu.advance_seconds(61.0).await;
            let all = groups(&s).await;
            let replacements: Vec<&(String, String, Vec<String>)> = all.iter().filter(|g| g.0 != OLD).collect();
            if all.iter().all(|g| g.0 != OLD) && replacements.len() == 1 {
                let new_arn =
                    format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{}", replacements[0].0);
                if tags(&s, &new_arn).await.contains_key("watchdog:retired") {
                    done = true;
                    break;
                }
            }
        }
        assert!(crashed, "k={k}: the crash was injected");
        assert!(done, "k={k}: the recreation finished; groups now: {:?}", groups(&s).await);
        let all = groups(&s).await;
        assert_eq!(all.len(), 1, "k={k}: exactly one replacement, no orphan: {all:?}");
        assert_eq!(all[0].2.len(), 3, "k={k}: all applications associated");
        assert_eq!(s.emu.calls("DeleteStreamGroup").await, 1, "k={k}: the old group deleted once");
        let messages = s.aws.drain(&s.queue, Duration::from_secs(1)).await;
        assert!(messages.iter().any(|m| m.attribute("type") == Some("cutover")), "k={k}: the cut-over was announced");
    }
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
    let fleet = format!(
        r#"{APPS}
[[stream_groups]]
id = "sg-GLOBAL001"
description = "global"
stream_class = "gen5n_ultra"
created_days_ago = 5
applications = ["racer"]
tags = {{ "watchdog:recycle" = "true" }}
  [[stream_groups.locations]]
  name = "us-west-2"
  always_on = 1
  [[stream_groups.locations]]
  name = "eu-central-1"
  always_on = 3
  target_idle = 1
  maximum = 6
  status = "ERROR"

[[stream_groups]]
id = "sg-PRIMARY01"
description = "primary-down"
stream_class = "gen5n_ultra"
created_days_ago = 5
applications = ["racer"]
tags = {{ "watchdog:recycle" = "true" }}
  [[stream_groups.locations]]
  name = "us-west-2"
  always_on = 1
  status = "ERROR"
"#
    );
    let s = setup("repair", &fleet, &[("DRY_RUN", "false"), ("MAX_GROUPS_IN_FLIGHT", "5")]).await;
    let first = run(&s).await;
    let actions: BTreeSet<(String, String)> = first["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["stream_group"].as_str().unwrap().to_owned(), e["action"].as_str().unwrap().to_owned()))
        .collect();
    assert!(actions.contains(&("sg-GLOBAL001".into(), "record_location".into())), "{first:#}");
    assert!(actions.contains(&("sg-GLOBAL001".into(), "remove_location".into())));
    assert!(actions.contains(&("sg-PRIMARY01".into(), "create_replacement".into())), "a failed primary escalates");

    s.emu.advance_seconds(5.0).await;
    let second = run(&s).await;
    assert!(executed(&second).contains(&"add_location".to_owned()), "{second:#}");
    s.emu.advance_seconds(5.0).await;
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
