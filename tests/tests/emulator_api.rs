//! Every emulated operation, driven through the unmodified aws-sdk-gameliftstreams client
//! over HTTP: responses parse, paginators page, waiters wait, and each error kind arrives as
//! the SDK's typed error.

use aws_sdk_gameliftstreams::client::Waiters;
use aws_sdk_gameliftstreams::types::{
    LocationConfiguration, RuntimeEnvironment, RuntimeEnvironmentType, StreamClass, StreamGroupLocationStatus,
    StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason,
};
use serde_json::json;
use std::time::Duration;
use watchdog_tests::{TestEmulator, all_items, always_on_location, new_group, player_request, quick_config, refused};

const WAIT: Duration = Duration::from_secs(120);

/// Two ready applications and one 10-day-old group with fixed ids.
const FLEET: &str = include_str!("../fleets/emulator-api.toml");

#[tokio::test]
async fn stream_group_lifecycle_create_update_locations_associations_tags_delete() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client("us-west-2").await;

    // GIVEN an application created through the API and waited for with the SDK's waiter
    let app = client
        .create_application()
        .description("New game")
        .runtime_environment(
            RuntimeEnvironment::builder().r#type(RuntimeEnvironmentType::Proton).version("20241007").build().unwrap(),
        )
        .executable_path("bin/game")
        .application_source_uri("s3://builds/new-game/")
        .send()
        .await
        .expect("CreateApplication");
    assert!(app.id().unwrap().starts_with("a-"));
    client.wait_until_application_ready().identifier(app.arn()).wait(WAIT).await.expect("application becomes READY");

    // WHEN a stream group is created with two locations and tags
    let created = new_group(&client, "racer-prod-blue", StreamClass::Gen5nHigh)
        .default_application_identifier(app.arn())
        .location_configurations(always_on_location("us-west-2", 2))
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("eu-central-1")
                .target_idle_capacity(2)
                .maximum_capacity(6)
                .build()
                .unwrap(),
        )
        .tags("team", "racing")
        .send()
        .await
        .expect("CreateStreamGroup");

    // THEN it answers 201 with the documented shape, ACTIVATING, expiring in 365 days
    let id = created.id().unwrap().to_owned();
    assert!(id.starts_with("sg-") && id.len() == 12, "{id}");
    assert_eq!(created.arn(), format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{id}"));
    assert_eq!(created.status(), Some(&StreamGroupStatus::Activating));
    let lifetime = created.expires_at().unwrap().secs() - created.created_at().unwrap().secs();
    assert_eq!(lifetime, 365 * 86_400);
    assert_eq!(created.associated_applications(), [app.arn().to_owned()]);

    let active =
        client.wait_until_stream_group_active().identifier(&id).wait(WAIT).await.expect("group becomes ACTIVE");
    let group = active.as_result().expect("success");
    assert_eq!(group.location_states().len(), 2);
    let primary = &group.location_states()[0];
    assert_eq!(primary.location_name(), Some("us-west-2"));
    assert_eq!(primary.status(), Some(&StreamGroupLocationStatus::Active));
    assert_eq!(
        (primary.always_on_capacity(), primary.allocated_capacity(), primary.idle_capacity()),
        (Some(2), Some(2), Some(2))
    );
    let remote = &group.location_states()[1];
    assert_eq!(
        (remote.target_idle_capacity(), remote.maximum_capacity(), remote.allocated_capacity()),
        (Some(2), Some(6), Some(2))
    );

    // Update capacity; the description too.
    let updated = client
        .update_stream_group()
        .identifier(&id)
        .description("racer-prod-blue v2")
        .location_configurations(always_on_location("us-west-2", 4))
        .send()
        .await
        .expect("UpdateStreamGroup");
    assert_eq!(updated.description(), Some("racer-prod-blue v2"));
    assert_eq!(updated.location_states()[0].always_on_capacity(), Some(4));
    // More capacity arrives over a minute (the model: "it can take a few minutes for the
    // allocated capacity count to reflect the change"), not at once.
    assert_eq!(updated.location_states()[0].allocated_capacity(), Some(2));
    emu.advance_seconds(61.0).await;
    let grown = client.get_stream_group().identifier(&id).send().await.unwrap();
    assert_eq!(grown.location_states()[0].allocated_capacity(), Some(4));

    // Add a location: the group is UPDATING_LOCATIONS until it is ready.
    let added = client
        .add_stream_group_locations()
        .identifier(&id)
        .location_configurations(always_on_location("ap-northeast-1", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(added.locations()[0].status(), Some(&StreamGroupLocationStatus::Activating));
    let status = client.get_stream_group().identifier(&id).send().await.unwrap();
    assert_eq!(status.status(), Some(&StreamGroupStatus::UpdatingLocations));
    client.wait_until_stream_group_active().identifier(&id).wait(WAIT).await.expect("location activates");

    // Remove it again.
    client
        .remove_stream_group_locations()
        .identifier(&id)
        .locations("ap-northeast-1")
        .send()
        .await
        .expect("RemoveStreamGroupLocations");
    client.wait_until_stream_group_active().identifier(&id).wait(WAIT).await.unwrap();
    assert_eq!(client.get_stream_group().identifier(&id).send().await.unwrap().location_states().len(), 2);

    // Associate and disassociate.
    let associated =
        client.associate_applications().identifier(&id).application_identifiers("a-TACTICS01").send().await.unwrap();
    assert_eq!(associated.arn(), Some(created.arn()));
    assert_eq!(associated.application_arns().len(), 1);
    let group = client.get_stream_group().identifier(&id).send().await.unwrap();
    assert_eq!(group.associated_applications().len(), 2);
    let tactics = client.get_application().identifier("a-TACTICS01").send().await.unwrap();
    assert_eq!(tactics.associated_stream_groups(), [created.arn().to_owned()]);
    client.disassociate_applications().identifier(&id).application_identifiers("a-TACTICS01").send().await.unwrap();
    assert_eq!(client.get_stream_group().identifier(&id).send().await.unwrap().associated_applications().len(), 1);

    // Tags, addressed by ARN (percent-encoded in the path).
    client.tag_resource().resource_arn(created.arn()).tags("watchdog:state", "v1").send().await.unwrap();
    let tags = client.list_tags_for_resource().resource_arn(created.arn()).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().len(), 2);
    client.untag_resource().resource_arn(created.arn()).tag_keys("team").send().await.unwrap();
    let tags = client.list_tags_for_resource().resource_arn(created.arn()).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().keys().collect::<Vec<_>>(), ["watchdog:state"]);

    // Delete: DELETING, then gone.
    client.delete_stream_group().identifier(&id).send().await.expect("DeleteStreamGroup");
    let deleting = client.get_stream_group().identifier(&id).send().await.unwrap();
    assert_eq!(deleting.status(), Some(&StreamGroupStatus::Deleting));
    client.wait_until_stream_group_deleted().identifier(&id).wait(WAIT).await.expect("group is deleted");
    let gone = refused(client.get_stream_group().identifier(&id).send().await);
    assert!(gone.is_resource_not_found_exception());
}

#[tokio::test]
async fn paginators_walk_every_page_with_opaque_tokens() {
    let mut fleet = String::from(FLEET);
    for i in 0..7 {
        fleet.push_str(&format!(
            "\n[[stream_groups]]\ndescription = \"bulk-{i}\"\nstream_class = \"gen4n_ultra\"\ncreated_days_ago = {}\napplications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 3\n  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  count = 3\n",
            i + 1
        ));
    }
    let emu = TestEmulator::start(quick_config(), Some(&fleet)).await;
    let client = emu.client("us-west-2").await;

    let pages: Vec<_> = client.list_stream_groups().max_results(3).into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 3, "8 groups in pages of 3");
    let ids: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().items().iter().map(|g| g.id().unwrap().to_owned()).collect::<Vec<_>>())
        .collect();
    assert_eq!(ids.len(), 8);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 8, "no repeats");
    assert_eq!(emu.calls("ListStreamGroups").await, 3);

    let sessions =
        all_items(client.list_stream_sessions_by_account().max_results(5).into_paginator().items().send()).await;
    assert_eq!(sessions.len(), 21);
    let first_group = &ids[1];
    let per_group =
        all_items(client.list_stream_sessions().identifier(first_group).max_results(1).into_paginator().items().send())
            .await;
    assert_eq!(per_group.len(), 3);
    assert!(per_group.iter().all(|s| s.arn().unwrap().contains(&format!("streamsession/{first_group}/"))));
    let connected =
        client.list_stream_sessions_by_account().status(StreamSessionStatus::Connected).send().await.unwrap();
    assert_eq!(connected.items().len(), 21);

    let apps = all_items(client.list_applications().max_results(1).into_paginator().items().send()).await;
    assert_eq!(apps.len(), 2);

    let bad = refused(client.list_stream_groups().next_token("not-a-token").send().await);
    assert!(bad.is_validation_exception());
    // A forged token of the right scope and form, naming a made-up position, is refused too:
    // base64url of "ListStreamGroups|00000000000000000000/sg-MADEUP|0".
    let forged = "TGlzdFN0cmVhbUdyb3Vwc3wwMDAwMDAwMDAwMDAwMDAwMDAwMC9zZy1NQURFVVB8MA";
    let bad = refused(client.list_stream_groups().next_token(forged).send().await);
    assert!(bad.is_validation_exception());
    let too_many = refused(client.list_stream_groups().max_results(101).send().await);
    assert!(too_many.is_validation_exception());
}

#[tokio::test]
async fn model_validation_and_documented_rules_answer_validation_exception() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let create = || new_group(&client, "valid-name", StreamClass::Gen6nSmall);

    // Capacity must be a multiple of the class tenancy (12 for gen6n_small).
    let err = refused(create().location_configurations(always_on_location("us-west-2", 5)).send().await);
    assert!(err.is_validation_exception());
    assert!(err.meta().message().unwrap().contains("tenancy (12)"), "{err:?}");

    // The description follows the model's pattern and length.
    let err = refused(new_group(&client, "bad#name", StreamClass::Gen5nHigh).send().await);
    assert!(err.is_validation_exception());
    assert!(err.meta().message().unwrap().contains("'description'"), "{err:?}");
    let err = refused(new_group(&client, "x".repeat(81), StreamClass::Gen5nHigh).send().await);
    assert!(err.is_validation_exception());

    // OnDemandCapacity (deprecated, still accepted) cannot be combined with MaximumCapacity.
    #[allow(deprecated)]
    let mixed = LocationConfiguration::builder()
        .location_name("us-west-2")
        .on_demand_capacity(2)
        .maximum_capacity(4)
        .build()
        .unwrap();
    let err = refused(new_group(&client, "mixed", StreamClass::Gen5nHigh).location_configurations(mixed).send().await);
    assert!(err.is_validation_exception());
    assert!(err.meta().message().unwrap().contains("OnDemandCapacity cannot be combined"));

    // An unknown stream class is refused by the model's enum.
    let err = refused(new_group(&client, "future", StreamClass::from("gen9_mega")).send().await);
    assert!(err.is_validation_exception());
    assert!(err.meta().message().unwrap().contains("enum value set"));

    // The primary location cannot be removed.
    let err =
        refused(client.remove_stream_group_locations().identifier("sg-EXIST0001").locations("us-west-2").send().await);
    assert!(err.is_validation_exception());
    assert!(err.meta().message().unwrap().contains("primary location"));

    // Not found, by id and by ARN.
    let err = refused(client.get_stream_group().identifier("sg-MISSING01").send().await);
    assert!(err.is_resource_not_found_exception());
    assert_eq!(err.meta().code(), Some("ResourceNotFoundException"));
    let arn = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-MISSING01";
    assert!(refused(client.delete_stream_group().identifier(arn).send().await).is_resource_not_found_exception());

    // Updates need ACTIVE: a new group is ACTIVATING, and UpdateStreamGroup answers Conflict.
    let fresh = new_group(&client, "fresh", StreamClass::Gen5nHigh).send().await.unwrap();
    let err = refused(client.update_stream_group().identifier(fresh.id().unwrap()).description("nope").send().await);
    assert!(err.is_conflict_exception(), "{err:?}");
    // AddStreamGroupLocations cannot answer Conflict in the model, so the same rule is a ValidationException.
    let add = client.add_stream_group_locations().identifier(fresh.id().unwrap());
    let err = refused(add.location_configurations(always_on_location("eu-west-1", 2)).send().await);
    assert!(err.is_validation_exception());
}

#[tokio::test]
async fn throttling_internal_errors_and_unknown_operations() {
    let mut config = quick_config();
    config.rate_limit_scale = 1.0;
    let emu = TestEmulator::start(config, Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;

    // CreateStreamGroup is limited to 1 request per second per account and region.
    new_group(&client, "one", StreamClass::Gen5nHigh).send().await.expect("first create");
    let err = refused(new_group(&client, "two", StreamClass::Gen5nHigh).send().await);
    assert!(err.is_throttling_exception(), "{err:?}");
    // Another region has its own limits.
    let west1 = emu.client_without_retries("eu-central-1").await;
    new_group(&west1, "other-region", StreamClass::Gen5nHigh).send().await.expect("own bucket");
    // The SDK retries a throttle (its backoff decides whether the retry lands in the next second).
    let retrying = emu.client_with_real_backoff("us-west-2").await;
    let before = emu.calls("CreateStreamGroup").await;
    let _ = new_group(&retrying, "three", StreamClass::Gen5nHigh).send().await;
    assert!(emu.calls("CreateStreamGroup").await - before >= 2, "a throttled call is retried");
    let counters = emu.admin_get("/_emulator/counters").await;
    assert!(counters["operations"]["CreateStreamGroup"]["throttled"].as_u64().unwrap() >= 1);

    // Injected server errors are InternalServerException; the SDK retries them.
    emu.admin_ok("/_emulator/faults", json!({ "operation": "GetStreamGroup", "error_rate": 1.0 })).await;
    let err = refused(client.get_stream_group().identifier("sg-EXIST0001").send().await);
    assert!(err.is_internal_server_exception());
    let before = emu.calls("GetStreamGroup").await;
    assert!(retrying.get_stream_group().identifier("sg-EXIST0001").send().await.is_err());
    assert_eq!(emu.calls("GetStreamGroup").await - before, 3, "the SDK makes 3 attempts");
    emu.http().delete(format!("{}/_emulator/faults", emu.url)).send().await.unwrap();
    client.get_stream_group().identifier("sg-EXIST0001").send().await.expect("faults cleared");

    // A bad fault rule is refused with a message that names the field.
    let (status, body) =
        emu.admin_post("/_emulator/faults", json!({ "operation": "GetStreamGroup", "error_rate": 2.0 })).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("error_rate"));

    // The checks below are about error shapes: the CreateStreamGroup bucket drained above must
    // not decide them (it refills on the wall clock, slower on a busy machine).
    let (status, _) = emu.admin_post("/_emulator/rate-limits", json!({ "scale": 0.0 })).await;
    assert_eq!(status, 200);

    // A path that is no operation answers like the service's front door.
    let response = emu.http().get(format!("{}/streamgroups/sg-EXIST0001/nothing", emu.url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["x-amzn-errortype"], "UnknownOperationException");
    // Malformed JSON.
    let response = emu.http().post(format!("{}/streamgroups", emu.url)).body("{not json").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.headers()["x-amzn-errortype"], "SerializationException");
}

#[tokio::test]
async fn sessions_follow_the_documented_lifecycle_and_move_capacity() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let start = || player_request(&client, "sg-EXIST0001", "a-RACER0001");
    let read_session =
        |arn: &str| client.get_stream_session().identifier("sg-EXIST0001").stream_session_identifier(arn).send();

    let session = start().user_id("player-1").connection_timeout_seconds(60).send().await.expect("StartStreamSession");
    assert_eq!(session.status(), Some(&StreamSessionStatus::Activating));
    let arn = session.arn().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-EXIST0001/"));

    // TerminateStreamSession is refused while ACTIVATING.
    let err = refused(
        client.terminate_stream_session().identifier("sg-EXIST0001").stream_session_identifier(&arn).send().await,
    );
    assert!(err.is_validation_exception(), "{err:?}");

    let active = client
        .wait_until_stream_session_active()
        .identifier("sg-EXIST0001")
        .stream_session_identifier(&arn)
        .wait(WAIT)
        .await
        .expect("session becomes ACTIVE");
    assert!(active.as_result().unwrap().signal_response().is_some());

    // A client connects (the emulator plays the client's part): capacity moves from idle to in use.
    emu.admin_ok("/_emulator/sessions/status", json!({ "session": arn, "status": "CONNECTED" })).await;
    let group = client.get_stream_group().identifier("sg-EXIST0001").send().await.unwrap();
    let state = &group.location_states()[0];
    assert_eq!((state.allocated_capacity(), state.idle_capacity()), (Some(2), Some(1)));

    // The application is not associated with the group: refused.
    let err = refused(start().application_identifier("a-TACTICS01").send().await);
    assert!(err.is_validation_exception());

    // An unattended ACTIVE session times out after ConnectionTimeoutSeconds.
    let idle = start().connection_timeout_seconds(30).send().await.unwrap();
    let idle_arn = idle.arn().unwrap().to_owned();
    emu.advance_seconds(5.0).await;
    let got = read_session(&idle_arn).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Active));
    emu.advance_seconds(40.0).await;
    let got = read_session(&idle_arn).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Terminated));
    assert_eq!(got.status_reason(), Some(&StreamSessionStatusReason::ConnectionTimeout));

    // The connected session ends on request: TERMINATING, then TERMINATED.
    client
        .terminate_stream_session()
        .identifier("sg-EXIST0001")
        .stream_session_identifier(&arn)
        .send()
        .await
        .expect("TerminateStreamSession");
    let got = read_session(&arn).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Terminating));
    assert_eq!(got.status_reason(), Some(&StreamSessionStatusReason::ApiTerminated));
    emu.advance_seconds(5.0).await;
    let got = read_session(&arn).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Terminated));

    // Four sessions want more than the 2 always-on: two are placed at once, two wait for
    // on-demand capacity, which arrives within their 90-second placement timeout (seed 001,
    // Linux/Proton). A fifth finds the maximum of 4 taken and times out at 90 seconds.
    let mut four = Vec::new();
    for _ in 0..4 {
        four.push(start().send().await.unwrap().arn().unwrap().to_owned());
    }
    let unplaced = start().send().await.unwrap();
    emu.advance_seconds(80.0).await;
    for arn in &four {
        let got = read_session(arn).await.unwrap();
        assert_eq!(got.status(), Some(&StreamSessionStatus::Active), "{arn} placed on capacity that arrived");
    }
    let got = read_session(unplaced.arn().unwrap()).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Activating), "the on-demand timeout is 90 s, not 75 s");
    emu.advance_seconds(15.0).await;
    let got = read_session(unplaced.arn().unwrap()).await.unwrap();
    assert_eq!(got.status(), Some(&StreamSessionStatus::Error));
    assert_eq!(got.status_reason(), Some(&StreamSessionStatusReason::PlacementTimeout));
}

#[tokio::test]
async fn a_failed_location_turns_the_group_active_with_errors_until_removed() {
    let fleet = format!(
        "{FLEET}\n[[stream_groups]]\nid = \"sg-GLOBAL001\"\ndescription = \"global\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 5\napplications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n  [[stream_groups.locations]]\n  name = \"eu-central-1\"\n  always_on = 3\n"
    );
    let emu = TestEmulator::start(quick_config(), Some(&fleet)).await;
    let client = emu.client("us-west-2").await;

    emu.admin_ok(
        "/_emulator/locations/status",
        json!({ "stream_group": "sg-GLOBAL001", "location": "eu-central-1", "status": "ERROR" }),
    )
    .await;
    let group = client.get_stream_group().identifier("sg-GLOBAL001").send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::ActiveWithErrors));
    let failed = &group.location_states()[1];
    assert_eq!((failed.status(), failed.allocated_capacity()), (Some(&StreamGroupLocationStatus::Error), Some(0)));
    let waiter = client.wait_until_stream_group_active().identifier("sg-GLOBAL001").wait(WAIT).await;
    assert!(waiter.is_err(), "the waiter treats ACTIVE_WITH_ERRORS as failure");

    // The documented remedy: remove the failed location.
    client
        .remove_stream_group_locations()
        .identifier("sg-GLOBAL001")
        .locations("eu-central-1")
        .send()
        .await
        .expect("remove failed location");
    client.wait_until_stream_group_active().identifier("sg-GLOBAL001").wait(WAIT).await.expect("ACTIVE again");

    // Admin input errors name the field.
    let (status, body) = emu
        .admin_post(
            "/_emulator/locations/status",
            json!({ "stream_group": "sg-NOPE", "location": "x", "status": "ERROR" }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("stream_group"), "{body}");
}

#[tokio::test]
async fn a_replacement_told_to_fail_ends_in_error_and_the_waiter_fails() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client("us-west-2").await;
    let (status, _) = emu
        .admin_post("/_emulator/activation-outcomes", json!({ "status": "ERROR", "reason": "noAvailableInstances" }))
        .await;
    assert_eq!(status, 200);
    let created = new_group(&client, "doomed", StreamClass::Gen5nHigh).send().await.unwrap();
    assert!(client.wait_until_stream_group_active().identifier(created.id().unwrap()).wait(WAIT).await.is_err());
    let group = client.get_stream_group().identifier(created.id().unwrap()).send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::Error));
    assert_eq!(group.status_reason().map(|r| r.as_str()), Some("noAvailableInstances"));
}

/// The SDK reads every answer's `x-amzn-RequestId` into `request_id()`: successes and errors
/// both carry one, each different, so a log line can be matched to a request.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    use aws_sdk_gameliftstreams::operation::RequestId;
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client("us-west-2").await;
    let first = client.list_stream_groups().send().await.unwrap();
    let second = client.list_stream_groups().send().await.unwrap();
    let (a, b) = (first.request_id().unwrap_or_default(), second.request_id().unwrap_or_default());
    assert_eq!(a.len(), 36, "a UUID: {a:?}");
    assert_ne!(a, b);
    let error = client.get_stream_group().identifier("sg-NOSUCH000").send().await.unwrap_err();
    let id = error.as_service_error().and_then(|e| e.request_id()).unwrap_or_default();
    assert_eq!(id.len(), 36, "errors carry one too: {error:?}");
}
