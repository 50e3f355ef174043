//! The recycler's handler and executor in-process, on the in-memory world: every plan step
//! executed, dry run, limits, deferral and failure paths. Runs in milliseconds; the same
//! paths through cargo lambda, the emulator and LocalStack are in tests/tests/recycler_lambda.rs.

use chrono::Duration;
use gls_watchdog_recycler::{Config, Recycler};
use watchdog_core::event_fields::RunRequest;
use watchdog_core::ports::ErrorKind;
use watchdog_core::reconcile::{Deployed, StepKind};
use watchdog_core::tags::recycle as state;
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::testkit::{self, World, executed, run_ok};
use watchdog_core::{ApplicationRef, LocationStatus, StreamGroupStatus, StreamSessionStatus};

const REGION: &str = "us-west-2";
const TOPIC: &str = "arn:aws:sns:us-west-2:111122223333:actions";

/// A 29-day-old opted-in group with two locations and two applications.
fn old_group(world: &World, id: &str, tags: &[(&str, &str)]) {
    let mut group =
        testkit::group(REGION, id, "gen5n_high", now() - Duration::days(29), &[(REGION, 2), ("eu-central-1", 4)]);
    group.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    group.associated_applications = vec!["arn:app/a-1".into(), "arn:app/a-2".into()];
    group.default_application = Some(ApplicationRef { id: Some("a-1".into()), arn: Some("arn:app/a-1".into()) });
    world.add_group(group);
}

/// The recycler with dry run off, a one-hour grace, and `extra`.
fn recycler(world: &World, extra: &[(&str, &str)]) -> Deployed<Recycler> {
    let base = [("DRY_RUN", "false"), ("ACTIONS_TOPIC_ARN", TOPIC), ("GRACE_MINUTES", "60")];
    world.deploy::<Config>(REGION, &[&base, extra].concat())
}

fn replacement_id(world: &World, old: &str) -> String {
    world.group(old).unwrap().tags[state::REPLACEMENT].clone()
}

/// An opted-in 29-day-old `sg-OLD` whose replacement the first run created: the recycler and
/// the replacement's id.
async fn recreation_started(world: &World, extra: &[(&str, &str)]) -> (Deployed<Recycler>, String) {
    old_group(world, "sg-OLD", &[("watchdog:recycle", "true")]);
    let recycler = recycler(world, extra);
    run_ok(&recycler).await;
    let new = replacement_id(world, "sg-OLD");
    (recycler, new)
}

#[tokio::test]
async fn a_group_is_recreated_blue_green_one_step_per_observation() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true"), ("team", "racing")]);
    let recycler = recycler(&world, &[]);

    let report = run_ok(&recycler).await;
    assert_eq!(executed(&report), ["create_replacement"], "{report:#?}");
    let new = replacement_id(&world, "sg-OLD");
    let created = world.group(&new).unwrap();
    assert_eq!(created.tags[state::REPLACES], "sg-OLD");
    assert_eq!(created.tags["team"], "racing", "user tags are carried");
    assert!(!created.tags.contains_key("watchdog:replacement"), "watchdog state is not");
    assert_eq!(created.locations.len(), 2);
    assert_eq!(report.executed[0].outcome, format!("created {new} to replace sg-OLD"));

    assert!(executed(&run_ok(&recycler).await).is_empty(), "the replacement is still activating");
    world.set_group_status(&new, StreamGroupStatus::Active);
    assert_eq!(executed(&run_ok(&recycler).await), ["associate_applications"]);
    assert_eq!(world.group(&new).unwrap().associated_applications.len(), 2);

    assert_eq!(executed(&run_ok(&recycler).await), ["announce_cutover"]);
    assert!(world.group(&new).unwrap().tags.contains_key(state::CUTOVER_AT), "kept on the replacement");
    let cutover =
        world.published().into_iter().find(|(_, m)| m.attributes.get("type").map(String::as_str) == Some("cutover"));
    let body: serde_json::Value = serde_json::from_str(&cutover.expect("cut-over announced").1.body).unwrap();
    assert_eq!(body["new"]["id"], new.as_str());

    assert!(executed(&run_ok(&recycler).await).is_empty(), "grace period");
    world.set_now(now() + Duration::minutes(61));
    world.add_session(testkit::session(REGION, "sg-OLD", 1, StreamSessionStatus::Connected, REGION, now(), now()));
    let waiting = run_ok(&recycler).await;
    assert!(executed(&waiting).is_empty());
    assert!(
        waiting.plan.notes.iter().any(|n| n.note.contains("1 session(s) still connected")),
        "{:?}",
        waiting.plan.notes
    );

    // The player leaves.
    let player = world.sessions()[0].arn.clone();
    world.set_session_status(&player, StreamSessionStatus::Terminated);
    assert_eq!(executed(&run_ok(&recycler).await), ["delete_old_group", "announce_retired"]);
    assert_eq!(world.group("sg-OLD").unwrap().status, StreamGroupStatus::Deleting);
    assert!(world.group(&new).unwrap().tags.contains_key(state::RETIRED));
    assert!(executed(&run_ok(&recycler).await).is_empty(), "nothing left to do");
}

#[tokio::test]
async fn an_unreadable_opt_out_leaves_the_group_alone_even_when_managing_all_groups() {
    let world = World::new(now());
    old_group(&world, "sg-OUT", &[("watchdog:recycle", "false")]);
    old_group(&world, "sg-CFN", &[("aws:cloudformation:stack-name", "games")]);
    world.fail("ListTagsForResource", None, ErrorKind::Other, None);
    let report = run_ok(&recycler(&world, &[("MANAGE_ALL_GROUPS", "true")])).await;
    assert!(report.plan.items.is_empty(), "{:#?}", report.plan);
    assert_eq!(world.mutating_calls(), 0);
    assert_eq!(report.errors.len(), 2);
    assert!(report.errors[0].contains("left alone"), "{:?}", report.errors);
    let (_, told) = world.published().into_iter().find(|(_, m)| m.attributes["type"] == "problems").expect("announced");
    let body: serde_json::Value = serde_json::from_str(&told.body).unwrap();
    assert!(body["problems"][0].as_str().unwrap().starts_with("sg-"), "{body}");
}

#[tokio::test]
async fn a_failed_delete_keeps_the_retirement_waiting() {
    let world = World::new(now());
    let (recycler, new) = recreation_started(&world, &[("GRACE_MINUTES", "0")]).await;
    world.set_group_status(&new, StreamGroupStatus::Active);
    run_ok(&recycler).await; // associate
    run_ok(&recycler).await; // cut over
    world.fail("DeleteStreamGroup", Some("sg-OLD"), ErrorKind::Conflict, Some(1));
    let report = run_ok(&recycler).await;
    assert!(executed(&report).is_empty());
    assert!(report.errors[0].contains("ConflictException"), "{:?}", report.errors);
    assert_eq!(report.deferred.iter().map(|d| d.kind.name()).collect::<Vec<_>>(), ["announce_retired"]);
    assert!(!world.group(&new).unwrap().tags.contains_key(state::RETIRED), "not announced while the old group serves");
    assert_eq!(executed(&run_ok(&recycler).await), ["delete_old_group", "announce_retired"], "the next run finishes");
}

#[tokio::test]
async fn a_failed_replacement_is_counted_deleted_and_backed_off() {
    let world = World::new(now());
    let (recycler, new) = recreation_started(&world, &[("RETRY_BACKOFF_MINUTES", "30")]).await;
    world.set_group_status(&new, StreamGroupStatus::Error);
    let report = run_ok(&recycler).await;
    assert_eq!(executed(&report), ["record_failed_replacement", "delete_failed_replacement", "unlink"]);
    let tags = world.group("sg-OLD").unwrap().tags;
    assert_eq!(tags[state::ATTEMPT], "1");
    assert_eq!(tags[state::RETRY_AFTER], (now() + Duration::minutes(30)).timestamp().to_string());
    let backing_off = run_ok(&recycler).await;
    assert!(executed(&backing_off).is_empty(), "{:?}", executed(&backing_off));
    assert!(
        backing_off
            .plan
            .blocked
            .iter()
            .any(|b| b.reason == "failed_replacement" && b.detail.contains("next try after"))
    );
    world.set_now(now() + Duration::minutes(31));
    let retried = run_ok(&recycler).await;
    assert_eq!(executed(&retried), ["create_replacement"]);
    let gls_watchdog_recycler::plan::RecyclerStep::CreateReplacement { spec } = &retried.executed[0].step.kind else {
        panic!()
    };
    assert!(spec.client_token.ends_with("attempt-0002"), "a new attempt, a new token");
}

#[tokio::test]
async fn a_failed_remote_location_is_recorded_removed_added_back_and_forgotten() {
    let world = World::new(now());
    let mut group = testkit::group(REGION, "sg-LOC", "gen5n_high", now(), &[(REGION, 2), ("eu-central-1", 4)]);
    group.status = StreamGroupStatus::ActiveWithErrors;
    group.locations[1].status = LocationStatus::Error;
    group.tags.insert("watchdog:recycle".into(), "true".into());
    world.add_group(group);
    let recycler = recycler(&world, &[]);
    assert_eq!(executed(&run_ok(&recycler).await), ["remove_location"]);
    let next = (now() + Duration::minutes(60)).timestamp();
    let recorded = world.group("sg-LOC").unwrap().tags[&state::repair_key("eu-central-1")].clone();
    assert_eq!(recorded, format!("ao=4;ti=;max=4;od=;vpc=;cidr=;n=1;next={next};back="));
    assert_eq!(executed(&run_ok(&recycler).await), ["add_location"]);
    world.set_group_status("sg-LOC", StreamGroupStatus::Active);
    assert!(executed(&run_ok(&recycler).await).is_empty(), "remembered until it has stayed healthy");
    world.set_now(now() + Duration::hours(25));
    assert_eq!(executed(&run_ok(&recycler).await), ["forget_location"]);
    assert!(world.group("sg-LOC").unwrap().tags.keys().all(|k| !k.starts_with(state::REPAIR_PREFIX)));
}

#[tokio::test]
async fn limits_and_dry_run() {
    let world = World::new(now());
    old_group(&world, "sg-A", &[("watchdog:recycle", "true")]);
    old_group(&world, "sg-B", &[("watchdog:recycle", "true")]);
    let dry = run_ok(&recycler(&world, &[("DRY_RUN", "true")])).await;
    assert!(dry.dry_run && dry.executed.is_empty());
    assert_eq!(world.mutating_calls(), 0);
    assert_eq!(dry.plan.items.len(), 1, "one recreation in flight at a time");
    assert!(dry.plan.notes.iter().any(|n| n.stream_group == "sg-B" && n.note.contains("in flight")));

    let limited = run_ok(&recycler(&world, &[("MAX_GROUPS_IN_FLIGHT", "2"), ("MAX_MUTATIONS_PER_RUN", "2")])).await;
    assert_eq!(executed(&limited), ["create_replacement"], "a create costs two calls; the second group waits");
    assert_eq!(limited.deferred.len(), 1);
    assert_eq!(limited.mutating_calls, 2);
}

#[tokio::test]
async fn events_name_only_groups_and_a_request_cannot_turn_dry_run_off() {
    let err = gls_watchdog_recycler::event::parse(serde_json::json!({ "stream_groups": ["../../x"] })).unwrap_err();
    assert_eq!(err.field, "stream_groups[0]");
    let world = World::new(now());
    old_group(&world, "sg-A", &[("watchdog:recycle", "true")]);
    let recycler = recycler(&world, &[("DRY_RUN", "true")]);
    let report = recycler.run(&RunRequest { dry_run: Some(false), ..RunRequest::default() }).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(world.mutating_calls(), 0);
}

#[tokio::test]
async fn a_named_group_that_does_not_exist_is_reported_and_another_regions_arn_touches_nothing() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true")]);
    let recycler = recycler(&world, &[]);
    let elsewhere = "arn:aws:gameliftstreams:eu-west-1:111122223333:streamgroup/sg-OLD".to_owned();
    let request =
        RunRequest { stream_groups: Some(vec![elsewhere.clone(), "sg-NOPE".into()]), ..RunRequest::default() };
    let report = recycler.run(&request).await.unwrap();
    assert!(report.plan.items.is_empty(), "{:#?}", report.plan);
    assert_eq!(world.mutating_calls(), 0);
    assert!(report.errors.iter().any(|e| e.starts_with(&elsewhere) && e.contains("no such stream group")));
    assert!(report.errors.iter().any(|e| e.starts_with("sg-NOPE")));
}

#[tokio::test]
async fn a_group_whose_details_cannot_be_read_is_not_recreated() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true")]);
    world.fail("GetStreamGroup", Some("sg-OLD"), ErrorKind::Throttled, None);
    let report = run_ok(&recycler(&world, &[])).await;
    assert!(report.plan.items.is_empty(), "{:#?}", report.plan);
    assert_eq!(world.mutating_calls(), 0);
    assert!(
        report.errors.iter().any(|e| e.starts_with("sg-OLD") && e.contains("ThrottlingException")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn a_quota_refusal_is_recorded_backed_off_counted_and_blocked() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true")]);
    world.fail("CreateStreamGroup", None, ErrorKind::Quota, None);
    let recycler = recycler(&world, &[("RETRY_BACKOFF_MINUTES", "30")]);
    let refused = run_ok(&recycler).await;
    assert_eq!(refused.failed_steps, 1);
    assert!(refused.errors[0].contains("ServiceQuotaExceededException"), "{:?}", refused.errors);
    let tags = world.group("sg-OLD").unwrap().tags;
    assert_eq!((tags[state::BLOCKED].as_str(), tags[state::ATTEMPT].as_str()), ("quota", "1"));
    assert_eq!(tags[state::RETRY_AFTER], (now() + Duration::minutes(30)).timestamp().to_string());

    let waiting = run_ok(&recycler).await;
    assert_eq!(world.calls_of("CreateStreamGroup"), 1, "no call within the back-off");
    assert_eq!(waiting.plan.blocked[0].reason, "quota");
    let blocked: Vec<f64> =
        world.metrics().iter().filter(|(_, d)| d.name == "StepsBlocked").map(|(_, d)| d.value).collect();
    assert_eq!(blocked, [0.0, 1.0], "the health metric counts the block");

    // Refused again, run after run: the invocation itself fails now (the function-errors alarm),
    // with the failure recorded all the same.
    world.set_now(now() + Duration::minutes(31));
    let again = recycler.run(&RunRequest::default()).await.unwrap_err();
    assert_eq!(again.error_type(), "StepsFailing", "{again}");
    let tags = world.group("sg-OLD").unwrap().tags;
    assert_eq!(tags[state::ATTEMPT], "2");
    assert_eq!(tags[state::RETRY_AFTER], (now() + Duration::minutes(31 + 60)).timestamp().to_string(), "doubled");

    world.clear_faults();
    world.set_now(now() + Duration::minutes(31 + 61));
    assert_eq!(executed(&run_ok(&recycler).await), ["create_replacement"]);
    assert_eq!(executed(&run_ok(&recycler).await), ["clear_blocked"]);
    assert!(!world.group("sg-OLD").unwrap().tags.contains_key(state::BLOCKED));
}

#[tokio::test]
async fn an_expired_group_is_replaced_and_retired_with_no_write_to_it() {
    let world = World::new(now());
    let mut group = testkit::group(
        REGION,
        "sg-EXP",
        "gen5n_high",
        now() - Duration::days(366),
        &[(REGION, 2), ("eu-central-1", 4)],
    );
    group.status = StreamGroupStatus::Expired;
    group.expires_at = Some(now() - Duration::days(1));
    group.tags.insert("team".into(), "racing".into());
    group.associated_applications = vec!["arn:app/a-1".into()];
    world.add_group(group);
    let recycler = recycler(&world, &[]);

    // The service gives no tags for an expired group: blocked until a person names it.
    let report = run_ok(&recycler).await;
    assert!(report.executed.is_empty());
    assert_eq!(report.plan.blocked[0].reason, "expired_tags_unreadable");
    let named = RunRequest { stream_groups: Some(vec!["sg-EXP".into()]), ..RunRequest::default() };
    let mut steps = Vec::new();
    for hours in 1..=6 {
        let report = recycler.run(&named).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        steps.extend(executed(&report));
        for g in world.groups() {
            if g.id != "sg-EXP" && g.status == StreamGroupStatus::Activating {
                world.set_group_status(&g.id, StreamGroupStatus::Active);
            }
        }
        world.set_now(now() + Duration::hours(2 * hours));
    }
    assert_eq!(
        steps,
        ["create_replacement", "associate_applications", "announce_cutover", "delete_old_group", "announce_retired"]
    );
    let writes_to_expired = world
        .calls()
        .into_iter()
        .filter(|c| ["TagResource", "UntagResource"].contains(&c.operation.as_str()) && c.target.ends_with("sg-EXP"))
        .count();
    assert_eq!(writes_to_expired, 0);
    assert_eq!(world.group("sg-EXP").unwrap().status, StreamGroupStatus::Deleting);
    let new = world.groups().into_iter().find(|g| g.id != "sg-EXP").unwrap();
    assert_eq!(new.tags[state::REPLACES], "sg-EXP");
    assert!(new.tags.contains_key(state::CUTOVER_AT) && new.tags.contains_key(state::RETIRED));
}

#[tokio::test]
async fn a_protected_group_is_never_written_to_even_when_due() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true"), (watchdog_core::opt_in::PROTECT_TAG, "true")]);
    let report = run_ok(&recycler(&world, &[("MANAGE_ALL_GROUPS", "true")])).await;
    assert!(report.plan.items.is_empty(), "{:#?}", report.plan);
    assert!(report.plan.notes.iter().any(|n| n.note.starts_with("protected")), "{:?}", report.plan.notes);
    assert_eq!(world.mutating_calls(), 0);
}

#[tokio::test]
async fn reads_a_safety_decision_needs_that_fail_hold_the_step_back() {
    // Applications unreadable: nothing is created.
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true")]);
    world.fail("GetApplication", None, ErrorKind::Throttled, None);
    let report = run_ok(&recycler(&world, &[])).await;
    assert!(report.plan.items.is_empty(), "{:#?}", report.plan);
    assert!(report.errors.iter().any(|e| e.starts_with("sg-OLD") && e.contains("its recreation waits")));
    assert_eq!(world.mutating_calls(), 0);

    // Stream URLs unreadable after the cut-over: the old group is not deleted.
    let world = World::new(now());
    let (recycler, _new) = recreation_started(&world, &[("GRACE_MINUTES", "1")]).await;
    let new = replacement_id(&world, "sg-OLD");
    world.set_group_status(&new, StreamGroupStatus::Active);
    run_ok(&recycler).await; // associate
    run_ok(&recycler).await; // cut over
    world.set_now(now() + Duration::minutes(2));
    world.fail("ListStreamUrls", Some("sg-OLD"), ErrorKind::Other, None);
    let report = run_ok(&recycler).await;
    assert!(executed(&report).is_empty(), "{:?}", executed(&report));
    assert_eq!(world.calls_of("DeleteStreamGroup"), 0);
    world.clear_faults();
    assert_eq!(executed(&run_ok(&recycler).await), ["delete_old_group", "announce_retired"]);
}

#[tokio::test]
async fn an_application_in_error_holds_the_cutover_and_an_active_stream_url_the_delete() {
    use watchdog_core::{ApplicationStatus, StreamUrlStatus};
    let world = World::new(now());
    world.set_application("arn:app/a-2", ApplicationStatus::Error, Some("sourceModified"));
    let (recycler, new) = recreation_started(&world, &[("GRACE_MINUTES", "1")]).await;
    world.add_stream_url("sg-OLD", "su-LOBBY", StreamUrlStatus::Active);
    world.set_group_status(&new, StreamGroupStatus::Active);
    let held = run_ok(&recycler).await;
    assert_eq!(executed(&held), ["record_blocked"], "a-1 came with the create; a-2 is not READY");
    assert_eq!(held.plan.blocked[0].reason, "application_not_ready");

    world.set_application("arn:app/a-2", ApplicationStatus::Ready, None);
    assert_eq!(executed(&run_ok(&recycler).await), ["associate_applications", "clear_blocked"]);
    let cutover = run_ok(&recycler).await;
    assert_eq!(executed(&cutover), ["announce_cutover"]);
    let (_, message) = world.published().into_iter().find(|(_, m)| m.attributes["type"] == "cutover").unwrap();
    assert!(message.body.contains("su-LOBBY"), "the URL is named: {}", message.body);

    world.set_now(now() + Duration::minutes(2));
    let waiting = run_ok(&recycler).await;
    assert!(executed(&waiting).is_empty());
    assert!(waiting.plan.notes.iter().any(|n| n.note.contains("1 stream URL(s) still active")));
    world.set_stream_url_status("su-LOBBY", StreamUrlStatus::Revoked);
    assert_eq!(executed(&run_ok(&recycler).await), ["delete_old_group", "announce_retired"]);
}

/// The old group reaches `ExpiresAt` now: EXPIRED, its tags no longer readable.
fn expire(world: &World, id: &str) {
    let mut group = world.group(id).unwrap();
    group.status = StreamGroupStatus::Expired;
    group.expires_at = Some(world.now());
    world.add_group(group);
}

fn cutovers_announced(world: &World) -> usize {
    world.published().iter().filter(|(_, m)| m.attributes.get("type").map(String::as_str) == Some("cutover")).count()
}

/// Scheduled runs an hour apart, activating any replacement on the way, until `last` is done
/// or `runs` are made: every step executed, and every reason a run was blocked.
async fn scheduled_runs(world: &World, recycler: &Deployed<Recycler>, runs: u32) -> (Vec<String>, Vec<String>) {
    let (mut steps, mut blocked) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let report = run_ok(recycler).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        steps.extend(executed(&report));
        blocked.extend(report.plan.blocked.iter().map(|b| b.reason.clone()));
        for g in world.groups().into_iter().filter(|g| g.status == StreamGroupStatus::Activating) {
            world.set_group_status(&g.id, StreamGroupStatus::Active);
        }
        world.set_now(world.now() + Duration::hours(1));
    }
    (steps, blocked)
}

#[tokio::test]
async fn a_group_that_expires_during_its_recreation_is_finished_by_the_scheduled_runs() {
    let world = World::new(now());
    let (recycler, new) = recreation_started(&world, &[]).await;
    // It expires while its replacement is still activating: its tags are gone with it.
    expire(&world, "sg-OLD");
    let (steps, blocked) = scheduled_runs(&world, &recycler, 6).await;
    assert_eq!(steps, ["associate_applications", "announce_cutover", "delete_old_group", "announce_retired"]);
    assert!(!blocked.contains(&"expired_tags_unreadable".to_owned()), "{blocked:?}");
    assert_eq!(world.group("sg-OLD").unwrap().status, StreamGroupStatus::Deleting);
    assert!(world.group(&new).unwrap().tags.contains_key(state::RETIRED));
}

#[tokio::test]
async fn an_expired_group_named_once_is_finished_by_the_scheduled_runs() {
    let world = World::new(now());
    let mut group = testkit::group(REGION, "sg-EXP", "gen5n_high", now() - Duration::days(366), &[(REGION, 2)]);
    group.status = StreamGroupStatus::Expired;
    group.expires_at = Some(now() - Duration::days(1));
    world.add_group(group);
    let recycler = recycler(&world, &[]);
    let named = RunRequest { stream_groups: Some(vec!["sg-EXP".into()]), ..RunRequest::default() };
    assert_eq!(executed(&recycler.run(&named).await.unwrap()), ["create_replacement"]);
    let (steps, blocked) = scheduled_runs(&world, &recycler, 6).await;
    assert_eq!(steps, ["announce_cutover", "delete_old_group", "announce_retired"]);
    assert!(blocked.is_empty(), "{blocked:?}");
}

#[tokio::test]
async fn a_cutover_is_announced_and_timed_once_when_the_old_group_expires_awaiting_the_ack() {
    let world = World::new(now());
    let (recycler, new) = recreation_started(&world, &[("REQUIRE_CUTOVER_ACK", "true")]).await;
    world.set_group_status(&new, StreamGroupStatus::Active);
    assert_eq!(executed(&run_ok(&recycler).await), ["associate_applications"]);
    assert_eq!(executed(&run_ok(&recycler).await), ["announce_cutover"]);
    // Grace over, no acknowledgement yet; then the old group expires.
    world.set_now(now() + Duration::minutes(90));
    let (steps, blocked) = scheduled_runs(&world, &recycler, 2).await;
    assert!(
        steps.iter().all(|s| s == "record_blocked") && blocked.contains(&"awaiting_ack".to_owned()),
        "{steps:?} {blocked:?}"
    );
    expire(&world, "sg-OLD");
    let (steps, blocked) = scheduled_runs(&world, &recycler, 2).await;
    assert!(
        steps.iter().all(|s| s == "record_blocked") && blocked.contains(&"awaiting_ack".to_owned()),
        "{steps:?} {blocked:?}"
    );
    // The backend acknowledges: the old group goes at once, its grace period not started again.
    let mut acknowledged = world.group(&new).unwrap();
    acknowledged.tags.insert(state::CUTOVER_ACK.into(), "true".into());
    world.add_group(acknowledged);
    // (And the blocked record on the replacement is cleared.)
    assert_eq!(executed(&run_ok(&recycler).await), ["delete_old_group", "announce_retired", "clear_blocked"]);
    assert_eq!(cutovers_announced(&world), 1);
}

#[tokio::test]
async fn a_replacement_still_activating_is_waited_for_up_to_the_ceiling_inclusive_then_counted_as_failed() {
    let world = World::new(now());
    let (recycler, new) = recreation_started(&world, &[("RETRY_BACKOFF_MINUTES", "30")]).await;
    // Activation "a few minutes" on a good day; this one takes longer than 45 minutes of
    // runs every 15 minutes: no second create, no cut-over, one waiting line per run.
    for quarter in 1..=3 {
        world.set_now(now() + Duration::minutes(15 * quarter));
        let report = run_ok(&recycler).await;
        assert!(executed(&report).is_empty(), "{report:#?}");
        let waiting: Vec<&String> =
            report.plan.notes.iter().map(|n| &n.note).filter(|n| n.contains("ACTIVATING")).collect();
        assert_eq!(waiting.len(), 1, "{:?}", report.plan.notes);
        assert!(waiting[0].contains(&format!("{} of at most 60 minutes", 15 * quarter)), "{waiting:?}");
    }
    assert_eq!(world.calls_of("CreateStreamGroup"), 1);
    // At the ceiling itself it still waits: only longer than ACTIVATION_TIMEOUT_MINUTES fails.
    world.set_now(now() + Duration::minutes(60));
    let at_ceiling = run_ok(&recycler).await;
    assert!(executed(&at_ceiling).is_empty(), "{at_ceiling:#?}");
    assert!(
        at_ceiling.plan.notes.iter().any(|n| n.note.contains("60 of at most 60 minutes")),
        "{:?}",
        at_ceiling.plan.notes
    );
    // Past ACTIVATION_TIMEOUT_MINUTES (60, the StreamGroupActive waiter's hour): failed.
    world.set_now(now() + Duration::minutes(61));
    let report = run_ok(&recycler).await;
    assert_eq!(executed(&report), ["record_failed_replacement", "delete_failed_replacement", "unlink"], "{report:#?}");
    assert!(report.plan.items[0].reason.contains("ACTIVATING for 61 minutes"), "{:?}", report.plan.items[0].reason);
    assert_eq!(world.group(&new).unwrap().status, StreamGroupStatus::Deleting);
    assert_eq!(world.group("sg-OLD").unwrap().tags[state::ATTEMPT], "1");
    // The back-off holds the next attempt; then a new one is created.
    assert!(executed(&run_ok(&recycler).await).is_empty());
    world.set_now(now() + Duration::minutes(92));
    assert_eq!(executed(&run_ok(&recycler).await), ["create_replacement"]);
}

/// Crash-safety when a replacement's own tags cannot be read: the old group's link tag was
/// never written (the run stopped between the create and the tag), so the replacement is
/// found only by its `watchdog:replaces` tag. While that tag cannot be read, no second
/// replacement is created; once it can, the recreation goes on with the first one.
#[tokio::test]
async fn a_replacement_whose_tags_cannot_be_read_is_never_created_twice() {
    let world = World::new(now());
    old_group(&world, "sg-OLD", &[("watchdog:recycle", "true")]);
    let recycler = recycler(&world, &[]);
    // The create succeeds; the link on the old group does not.
    world.fail("TagResource", Some("sg-OLD"), ErrorKind::Other, None);
    run_ok(&recycler).await;
    world.clear_faults();
    let replacements = || world.groups().into_iter().filter(|g| g.id != "sg-OLD").map(|g| g.id).collect::<Vec<_>>();
    let first = replacements();
    assert_eq!(first.len(), 1, "one replacement created");
    assert!(!world.group("sg-OLD").unwrap().tags.contains_key(state::REPLACEMENT), "the link was never written");

    world.fail("ListTagsForResource", Some(&first[0]), ErrorKind::Throttled, None);
    let report = run_ok(&recycler).await;
    assert_eq!(replacements(), first, "no second replacement: {:#?}", report.plan);
    assert_eq!(world.calls_of("CreateStreamGroup"), 1);
    assert!(
        report.plan.notes.iter().any(|n| n.stream_group == "sg-OLD" && n.note.contains("no recreation starts")),
        "{:#?}",
        report.plan.notes
    );

    world.clear_faults();
    run_ok(&recycler).await;
    assert_eq!(replacements(), first, "the first replacement goes on");
    assert_eq!(world.calls_of("CreateStreamGroup"), 1);
}
