//! The runner on its own, with a toy function: every effect kind, dry run, limits, deferral,
//! failures and announcements, on the in-memory world.

use super::*;
use crate::event_fields::RunRequest;
use crate::operations::Operation;
use crate::ports::{CreateGroupRequest, ErrorKind, LocationSpec, Message, Tags, Write};
use crate::testkit::fixed_now as now;
use crate::testkit::{self, World};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A toy function: one step per plan entry, to exercise the runner alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Toy {
    Tag { saves: f64 },
}

impl StepKind for Toy {
    fn figures(&self) -> Map<String, Value> {
        let Toy::Tag { saves } = self;
        Map::from_iter([("saves".to_owned(), json!(saves))])
    }
}

struct Planner(Vec<Step<Toy>>);

#[async_trait]
impl Reconciler for Planner {
    type Kind = Toy;
    const OWN_OPERATIONS: &'static [Operation] = &[Operation::TagResource];
    async fn plan_region(&self, mut run: RegionRun<'_>) -> Plan<Toy> {
        tagged_groups(&mut run, |_| true).await;
        Plan { items: self.0.clone(), ..Plan::default() }
    }
}

async fn run_with(
    items: Vec<Step<Toy>>,
    settings: RunSettings,
    world: &World,
    request: RunRequest,
) -> Result<Report<Toy>, RunError> {
    run(&Planner(items), &settings, &world.ports(&["us-west-2"]), &request).await
}

fn request(dry_run: Option<bool>) -> RunRequest {
    RunRequest { trigger: Some("t".into()), dry_run, stream_groups: None }
}

fn world() -> World {
    let world = World::new(now());
    for id in ["sg-A", "sg-B", "sg-C"] {
        world.add_group(testkit::group("us-west-2", id, "gen5n_high", now(), &[("us-west-2", 2)]));
    }
    world
}

fn step(group: &str, sequence: &str, batch: Option<&str>, effect: Effect) -> Step<Toy> {
    Step {
        stream_group: group.into(),
        stream_group_arn: testkit::group_arn("us-west-2", group),
        region: "us-west-2".into(),
        kind: Toy::Tag { saves: 1.5 },
        reason: "test".into(),
        sequence: sequence.into(),
        batch: batch.map(str::to_owned),
        effect,
        done: format!("done {CREATED_GROUP_ID}"),
    }
}

fn tag(group: &str, key: &str) -> Effect {
    Effect::tags(TagWrite::set(&testkit::group_arn("us-west-2", group), Tags::from([(key.into(), "v".into())])))
}

fn settings(limit: Limit) -> RunSettings {
    RunSettings {
        function: "toy",
        dry_run: false,
        limit,
        actions_topic_arn: Some("arn:aws:sns:us-west-2:111122223333:actions".into()),
        event_bus: Some("watchdog-events".into()),
        publish_plan: true,
        metric_namespace: "Watchdog/Test".into(),
        repeated_failure_window: Some(chrono::Duration::minutes(45)),
    }
}

#[tokio::test]
async fn steps_run_in_order_are_announced_and_summed() {
    let world = world();
    let items = vec![step("sg-A", "a", None, tag("sg-A", "k1")), step("sg-B", "b", None, tag("sg-B", "k2"))];
    let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
    assert_eq!(report.executed.len(), 2);
    assert_eq!(report.mutating_calls, 2);
    assert_eq!(report.totals["saves"], json!(3.0));
    assert_eq!(world.group("sg-A").unwrap().tags["k1"], "v");
    let announced: Vec<_> = world.published().into_iter().map(|(_, m)| m.attributes["action"].clone()).collect();
    assert_eq!(announced, ["tag", "tag"]);
    // And each executed step is an event on the bus, with its group, outcome and function.
    let events = world.events();
    let put: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|(bus, e)| {
            (bus.as_str(), e.detail["stream_group"].as_str().unwrap(), e.detail["function"].as_str().unwrap())
        })
        .collect();
    assert_eq!(put, [("watchdog-events", "sg-A", "toy"), ("watchdog-events", "sg-B", "toy")]);
    assert_eq!(events[0].1.detail_type, super::run::ACTION_EVENT);
    assert_eq!(events[0].1.detail["outcome"], report.executed[0].outcome.as_str());
}

#[tokio::test]
async fn a_failed_step_defers_the_rest_of_its_sequence_only() {
    let world = world();
    world.fail("TagResource", Some("sg-A"), ErrorKind::Other, None);
    let items = vec![
        step("sg-A", "a", None, tag("sg-A", "k1")),
        step("sg-B", "a", None, tag("sg-B", "k2")),
        step("sg-C", "c", None, tag("sg-C", "k3")),
    ];
    let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].starts_with("sg-A tag: TagResource: InternalServerException"), "{:?}", report.errors);
    assert_eq!(report.deferred.iter().map(|d| d.stream_group.as_str()).collect::<Vec<_>>(), ["sg-B"]);
    let health: Vec<(&str, f64)> =
        world.metrics().iter().map(|(_, d)| (d.name, d.value)).collect::<Vec<_>>().into_iter().collect();
    assert_eq!(
        health,
        [("StepsDone", 1.0), ("StepsFailed", 1.0), ("StepsDeferred", 1.0), ("StepsBlocked", 0.0), ("Problems", 1.0)]
    );
    assert_eq!(report.executed.iter().map(|d| d.step.stream_group.as_str()).collect::<Vec<_>>(), ["sg-C"]);
}

#[tokio::test]
async fn steps_failing_run_after_run_fail_the_invocation_a_single_failure_does_not() {
    let world = world();
    world.fail("TagResource", Some("sg-A"), ErrorKind::Quota, None);
    let items = vec![step("sg-A", "a", None, tag("sg-A", "k1"))];
    let first = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await;
    assert_eq!(first.unwrap().failed_steps, 1, "the first failure is reported, the invocation succeeds");
    world.set_now(now() + chrono::Duration::minutes(15));
    let second = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap_err();
    assert_eq!(second.error_type(), "StepsFailing");
    assert!(second.to_string().contains("1 in the last 45 minutes"), "{second}");
    // An hour later the earlier failure is out of the window: one failure again, no error.
    world.set_now(now() + chrono::Duration::minutes(75));
    world.clear_faults();
    assert!(run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.is_ok());
    world.fail("TagResource", Some("sg-A"), ErrorKind::Quota, None);
    world.set_now(now() + chrono::Duration::minutes(140));
    assert!(run_with(items, settings(Limit::Steps(10)), &world, request(None)).await.is_ok());
}

#[tokio::test]
async fn the_limit_defers_what_does_not_fit_counting_calls_or_steps() {
    let world = world();
    let items = vec![
        step("sg-A", "a", None, tag("sg-A", "k1")),
        step("sg-B", "b", None, tag("sg-B", "k2")),
        step("sg-C", "c", None, tag("sg-C", "k3")),
    ];
    let report = run_with(items.clone(), settings(Limit::Steps(2)), &world, request(None)).await.unwrap();
    assert_eq!((report.executed.len(), report.deferred.len()), (2, 1));
    let mut two_calls = tag("sg-A", "k4");
    two_calls.after.as_mut().unwrap().remove = vec!["k1".into()];
    let report = run_with(
        vec![step("sg-A", "a", None, two_calls), items[1].clone()],
        settings(Limit::MutatingCalls(2)),
        &world,
        request(None),
    )
    .await
    .unwrap();
    assert_eq!((report.executed.len(), report.deferred.len(), report.mutating_calls), (1, 1, 2));
}

#[tokio::test]
async fn a_batch_is_one_tag_write_and_one_update() {
    let world = world();
    let arn = testkit::group_arn("us-west-2", "sg-A");
    let change = |location: &str, record: &str| Effect {
        before: Some(TagWrite::set(&arn, Tags::from([(record.into(), "r".into())]))),
        call: Call::Write(Write::UpdateCapacity {
            group_id: "sg-A".into(),
            locations: vec![LocationSpec {
                name: location.into(),
                always_on: 4,
                target_idle: Some(0),
                maximum: Some(8),
                on_demand: None,
                vpc_transit: None,
            }],
        }),
        after: None,
        on_failure: None,
    };
    let items = vec![
        step("sg-A", "a", Some("cap:sg-A"), change("us-west-2", "r1")),
        step("sg-A", "a", Some("cap:sg-A"), change("us-east-1", "r2")),
    ];
    let report = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap();
    assert_eq!(report.executed.len(), 2);
    assert_eq!((world.calls_of("TagResource"), world.calls_of("UpdateStreamGroup")), (1, 1));
    let tags = world.group("sg-A").unwrap().tags;
    assert!(tags.contains_key("r1") && tags.contains_key("r2"));
}

#[tokio::test]
async fn a_created_group_id_reaches_the_tags_after_the_call() {
    let world = world();
    let create = CreateGroupRequest {
        description: "new".into(),
        stream_class: "gen5n_high".into(),
        default_application: None,
        locations: vec![],
        tags: Tags::new(),
        client_token: "token-000000000000000000000000000001".into(),
    };
    let effect = Effect {
        before: None,
        call: Call::Write(Write::CreateStreamGroup(create)),
        after: Some(TagWrite::set(
            &testkit::group_arn("us-west-2", "sg-A"),
            Tags::from([("link".into(), CREATED_GROUP_ID.into())]),
        )),
        on_failure: None,
    };
    let report =
        run_with(vec![step("sg-A", "a", None, effect)], settings(Limit::MutatingCalls(10)), &world, request(None))
            .await
            .unwrap();
    let created = world.group("sg-A").unwrap().tags["link"].clone();
    assert!(created.starts_with("sg-NEW"), "{created}");
    assert_eq!(report.executed[0].outcome, format!("done {created}"));
}

#[tokio::test]
async fn dry_run_changes_nothing_publishes_the_plan_and_a_request_cannot_turn_it_off() {
    let world = world();
    let items = vec![step("sg-A", "a", None, tag("sg-A", "k1"))];
    let mut dry = settings(Limit::Steps(10));
    dry.dry_run = true;
    let report = run_with(items.clone(), dry.clone(), &world, request(Some(false))).await.unwrap();
    assert!(report.dry_run, "a request can only ask for more safety");
    assert!(report.executed.is_empty());
    assert_eq!(world.mutating_calls(), 0);
    assert_eq!(report.totals["saves"], json!(1.5), "the plan's figures in a dry run");
    let published = world.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1.attributes["type"], "plan");
    let asked = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(Some(true))).await.unwrap();
    assert!(asked.dry_run && asked.executed.is_empty());
}

#[tokio::test]
async fn a_step_that_must_be_announced_fails_without_a_topic_and_a_publish_failure_fails_the_run() {
    let world = world();
    let message =
        Message { subject: "s".into(), body: "{}".into(), per_protocol: false, attributes: Default::default() };
    let items = vec![step("sg-A", "a", None, Effect::call(Call::Announce(message)))];
    let mut no_topic = settings(Limit::Steps(10));
    no_topic.actions_topic_arn = None;
    let report = run_with(items.clone(), no_topic.clone(), &world, request(None)).await.unwrap();
    assert!(report.errors[0].contains("no ACTIONS_TOPIC_ARN"), "{:?}", report.errors);

    world.fail("Publish", None, ErrorKind::Other, None);
    let items = vec![step("sg-B", "b", None, tag("sg-B", "k"))];
    let error = run_with(items.clone(), settings(Limit::Steps(10)), &world, request(None)).await.unwrap_err();
    assert_eq!(error.error_type(), "PublishFailed");
    assert_eq!(world.group("sg-B").unwrap().tags["k"], "v", "the step itself was done");
}

#[tokio::test]
async fn observation_errors_are_reported() {
    let world = world();
    world.fail("ListStreamGroups", None, ErrorKind::Throttled, None);
    let report = run_with(vec![], settings(Limit::Steps(1)), &world, request(None)).await.unwrap();
    assert!(report.errors[0].contains("ThrottlingException") && report.errors[0].contains("region skipped"));
}

/// `OBSERVING` is what the runner's observation calls: a world that allows only those (and
/// the toy's tag write) runs it, and one missing either refuses the call (the world panics).
#[tokio::test]
async fn observing_names_every_call_the_runners_observation_makes() {
    use futures::FutureExt;
    let items = || vec![step("sg-A", "a", None, tag("sg-A", "k"))];
    let allowed = operations::<Planner>();
    let allowing = world().allowing(&allowed);
    let report = run_with(items(), settings(Limit::Steps(10)), &allowing, request(None)).await.unwrap();
    assert_eq!((report.errors.len(), allowing.calls_of("TagResource")), (0, 1));
    for left_out in OBSERVING {
        let fewer: Vec<Operation> = allowed.iter().copied().filter(|op| *op != left_out).collect();
        let world = world().allowing(&fewer);
        let refused =
            std::panic::AssertUnwindSafe(run_with(items(), settings(Limit::Steps(10)), &world, request(None)))
                .catch_unwind()
                .await;
        assert!(refused.is_err(), "{left_out:?} is called, so a world without it refuses the run");
    }
}
