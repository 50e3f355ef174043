//! The trimmer's handler and executor in-process, on the in-memory world: lowering to demand,
//! the record written before the change, a failed change resumed, limits and deferral, stale
//! sessions, dry run. The same paths through cargo lambda, the emulator and LocalStack are in
//! tests/tests/trimmer_lambda.rs.

use chrono::Duration;
use gls_watchdog_trimmer::{Config, Trimmer};
use watchdog_core::ports::{Demand, ErrorKind};
use watchdog_core::reconcile::{Deployed, StepKind};
use watchdog_core::tags::trim::{Record, record_key};
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::testkit::{self, World, executed, run_ok};
use watchdog_core::{StreamGroup, StreamSessionStatus};

const REGION: &str = "us-west-2";
const TOPIC: &str = "arn:aws:sns:us-west-2:111122223333:actions";

/// An opted-in gen4n_high group (tenancy 2) with always-on 10 in each location, two players
/// in use, and a day of demand history peaking at 2.
fn idle_group(world: &World, id: &str, locations: &[&str]) {
    let with_capacity: Vec<(&str, u32)> = locations.iter().map(|l| (*l, 10)).collect();
    let mut group: StreamGroup = testkit::group(REGION, id, "gen4n_high", now() - Duration::days(3), &with_capacity);
    group.tags.insert("watchdog:trim".into(), "true".into());
    for location in &mut group.locations {
        location.capacity.idle = 8;
        world.set_demand(id, &location.name, Demand { peak: Some(2), oldest: Some(now() - Duration::hours(23)) });
    }
    world.add_group(group);
}

/// The trimmer with dry run off, a floor of 2, and `extra`.
fn trimmer(world: &World, extra: &[(&str, &str)]) -> Deployed<Trimmer> {
    let base = [("DRY_RUN", "false"), ("ACTIONS_TOPIC_ARN", TOPIC), ("FLOOR_CAPACITY", "2")];
    world.deploy::<Config>(REGION, &[&base, extra].concat())
}

fn always_on(world: &World, id: &str, location: &str) -> u32 {
    world.group(id).unwrap().location(location).unwrap().capacity.always_on.unwrap()
}

#[tokio::test]
async fn idle_capacity_goes_to_peak_plus_headroom_with_the_record_written_first() {
    let world = World::new(now());
    idle_group(&world, "sg-T", &[REGION, "us-east-1"]);
    let report = run_ok(&trimmer(&world, &[])).await;
    let done: Vec<String> = executed(&report);
    assert_eq!(done, ["set_capacity", "set_capacity"], "{report:#?}");
    assert_eq!((always_on(&world, "sg-T", REGION), always_on(&world, "sg-T", "us-east-1")), (4, 4));
    // One group, one record write and one update, the record before the update.
    let calls: Vec<String> = world
        .calls()
        .into_iter()
        .map(|c| c.operation)
        .filter(|o| o.ends_with("StreamGroup") || o == "TagResource")
        .collect();
    assert_eq!(calls, ["GetStreamGroup", "TagResource", "UpdateStreamGroup"]);
    let record = Record::decode(&world.group("sg-T").unwrap().tags[&record_key(REGION)]).unwrap();
    assert_eq!((record.original.always_on, record.set.always_on), (10, 4));
    assert_eq!(report.totals["capacity_hours_per_day"], serde_json::json!(288.0));
    let announced = world.published();
    assert_eq!(announced.len(), 2);
    assert_eq!(announced[0].1.attributes["action"], "set_capacity");
    assert!(run_ok(&trimmer(&world, &[])).await.executed.is_empty(), "nothing more to trim");
}

#[tokio::test]
async fn a_lost_update_keeps_the_original_and_the_next_run_finishes() {
    let world = World::new(now());
    idle_group(&world, "sg-T", &[REGION]);
    world.fail("UpdateStreamGroup", None, ErrorKind::Other, Some(1));
    let report = run_ok(&trimmer(&world, &[])).await;
    assert!(report.executed.is_empty());
    assert!(report.errors[0].contains("UpdateStreamGroup"), "{:?}", report.errors);
    assert_eq!(always_on(&world, "sg-T", REGION), 10);
    let record = Record::decode(&world.group("sg-T").unwrap().tags[&record_key(REGION)]).unwrap();
    assert_eq!(record.original.always_on, 10, "recorded before the change");
    let again = run_ok(&trimmer(&world, &[])).await;
    assert_eq!(again.executed.len(), 1);
    assert_eq!(always_on(&world, "sg-T", REGION), 4);
    let record = Record::decode(&world.group("sg-T").unwrap().tags[&record_key(REGION)]).unwrap();
    assert_eq!(record.original.always_on, 10, "the original survives the retry");
}

#[tokio::test]
async fn the_change_limit_defers_the_rest_and_a_failure_defers_its_group_sessions() {
    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION, "us-east-1"]);
    idle_group(&world, "sg-B", &[REGION]);
    let report = run_ok(&trimmer(&world, &[("MAX_CHANGES_PER_RUN", "1")])).await;
    assert_eq!(report.executed.len(), 1);
    assert_eq!(report.deferred.len(), 2);

    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION]);
    world.add_session(testkit::session(
        REGION,
        "sg-A",
        1,
        StreamSessionStatus::PendingClientReconnection,
        REGION,
        now() - Duration::hours(2),
        now() - Duration::hours(1),
    ));
    world.fail("TagResource", Some("sg-A"), ErrorKind::Other, Some(1));
    let report = run_ok(&trimmer(&world, &[("END_SESSIONS", "PENDING_CLIENT_RECONNECTION>30m")])).await;
    assert!(report.executed.is_empty());
    assert_eq!(report.deferred.iter().map(|d| d.kind.name()).collect::<Vec<_>>(), ["end_session"]);
    assert_eq!(world.calls_of("TerminateStreamSession"), 0);
}

#[tokio::test]
async fn only_named_stale_sessions_end() {
    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION]);
    let session = |n, status, minutes: i64| {
        testkit::session(
            REGION,
            "sg-A",
            n,
            status,
            REGION,
            now() - Duration::minutes(minutes),
            now() - Duration::minutes(minutes),
        )
    };
    world.add_session(session(1, StreamSessionStatus::PendingClientReconnection, 45));
    world.add_session(session(2, StreamSessionStatus::PendingClientReconnection, 10));
    world.add_session(session(3, StreamSessionStatus::Active, 600));
    let report = run_ok(&trimmer(&world, &[("END_SESSIONS", "PENDING_CLIENT_RECONNECTION>30m")])).await;
    let ended: Vec<_> = report.executed.iter().filter(|e| e.step.kind.name() == "end_session").collect();
    assert_eq!(ended.len(), 1);
    let statuses: Vec<StreamSessionStatus> = world.sessions().into_iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [StreamSessionStatus::Terminated, StreamSessionStatus::PendingClientReconnection, StreamSessionStatus::Active]
    );
}

#[tokio::test]
async fn dry_run_changes_nothing_and_publishes_the_plan() {
    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION]);
    let report = run_ok(&trimmer(&world, &[("DRY_RUN", "true")])).await;
    assert!(report.dry_run);
    assert_eq!(report.plan.items.len(), 1);
    assert_eq!(world.mutating_calls(), 0);
    assert_eq!(report.totals["capacity_hours_per_day"], serde_json::json!(144.0));
    let published = world.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1.attributes["type"], "plan");
}

#[tokio::test]
async fn an_unreadable_opt_out_leaves_the_group_alone() {
    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION]);
    world.fail("ListTagsForResource", None, ErrorKind::Other, None);
    let report = run_ok(&trimmer(&world, &[("MANAGE_ALL_GROUPS", "true")])).await;
    assert!(report.plan.items.is_empty());
    assert!(report.errors[0].contains("left alone"));
    assert_eq!(world.mutating_calls(), 0);
}

#[tokio::test]
async fn a_group_whose_sessions_cannot_be_read_is_left_alone() {
    // Placement failures in its sessions could call for a raise: without them, no decision.
    let world = World::new(now());
    idle_group(&world, "sg-A", &[REGION]);
    world.fail("ListStreamSessions", Some("sg-A"), ErrorKind::Other, None);
    let report = run_ok(&trimmer(&world, &[])).await;
    assert!(report.plan.items.is_empty());
    assert_eq!(world.mutating_calls(), 0);
    assert!(report.errors[0].starts_with("sg-A"), "{:?}", report.errors);
}

#[tokio::test]
async fn a_protected_group_is_never_written_to() {
    let world = World::new(now());
    idle_group(&world, "sg-PROT", &[REGION]);
    let mut group = world.group("sg-PROT").unwrap();
    group.tags.insert(watchdog_core::opt_in::PROTECT_TAG.into(), "true".into());
    let world = World::new(now());
    world.add_group(group);
    world.set_demand("sg-PROT", REGION, Demand { peak: Some(2), oldest: Some(now() - Duration::hours(23)) });
    let report = run_ok(&trimmer(&world, &[("MANAGE_ALL_GROUPS", "true")])).await;
    assert!(report.plan.items.is_empty() && report.plan.reported_only.is_empty(), "{:#?}", report.plan);
    assert!(report.plan.notes.iter().any(|n| n.note.starts_with("protected")));
    assert_eq!(world.mutating_calls(), 0);
    assert_eq!(always_on(&world, "sg-PROT", REGION), 10);
}
