//! GPU quotas, capacity pools and the fixed association limits as natural outcomes of the
//! emulator, through the unmodified SDK (`gls_emulator::supply` and `facts` hold the sentences).

use aws_sdk_gameliftstreams::Client;
use serde_json::json;
use watchdog_tests::{TestEmulator, always_on_location, frozen_config, new_group, refused};

const APP: &str = include_str!("../fleets/emulator-supply-app.toml");

type Created = Result<
    aws_sdk_gameliftstreams::operation::create_stream_group::CreateStreamGroupOutput,
    aws_sdk_gameliftstreams::error::SdkError<
        aws_sdk_gameliftstreams::operation::create_stream_group::CreateStreamGroupError,
    >,
>;

/// CreateStreamGroup of `class` with always-on capacity per location.
async fn create(client: &Client, class: &str, locations: &[(&str, i32)]) -> Created {
    let request = new_group(client, "created", class.into());
    locations
        .iter()
        .fold(request, |r, (name, always_on)| r.location_configurations(always_on_location(name, *always_on)))
        .send()
        .await
}

/// A group created `created` activates a minute later: its status then, and its status reason.
async fn status_after_activation(emu: &TestEmulator, client: &Client, created: Created) -> (String, Option<String>) {
    let id = created.expect("CreateStreamGroup accepted").id().unwrap().to_owned();
    emu.advance_seconds(60.0).await;
    let group = client.get_stream_group().identifier(id).send().await.unwrap();
    (group.status().unwrap().as_str().to_owned(), group.status_reason().map(|r| r.as_str().to_owned()))
}

/// AWS General Reference: "the GPU quotas are all 0 by default", per family and location; the model's
/// ServiceQuotaExceededException on CreateStreamGroup, UpdateStreamGroup and
/// AddStreamGroupLocations: "The request would cause the resource to exceed an allowed service quota".
#[tokio::test]
async fn a_request_beyond_the_gpu_quota_is_refused_naming_the_quota_and_lowering_is_not() {
    let fleet = format!("{APP}{}", include_str!("../fleets/emulator-supply-quotas.toml"));
    let emu = TestEmulator::start(frozen_config(), Some(&fleet)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let over_quota = refused(create(&client, "gen5n_ultra", &[("us-west-2", 2)]).await);
    assert!(over_quota.is_service_quota_exceeded_exception(), "{over_quota:?}");
    let message = over_quota.meta().message().unwrap();
    assert!(message.contains("gen5n in us-west-2: 5 GPUs") && message.contains("quota 4"), "{message}");
    // gen5n_high holds two sessions per GPU: 2 sessions are 1 GPU, which fits.
    let high = create(&client, "gen5n_high", &[("us-west-2", 2)]).await.expect("1 GPU more fits the quota of 4");
    // Raising the held group is refused; lowering it never is.
    let raise = refused(
        client
            .update_stream_group()
            .identifier("sg-HOLDS0001")
            .location_configurations(always_on_location("us-west-2", 4))
            .send()
            .await,
    );
    assert!(raise.is_service_quota_exceeded_exception());
    client
        .update_stream_group()
        .identifier("sg-HOLDS0001")
        .location_configurations(always_on_location("us-west-2", 1))
        .send()
        .await
        .expect("lowering is never refused");
    // A remote location in a location whose quota is 0.
    emu.advance_seconds(60.0).await;
    let add = client.add_stream_group_locations().identifier(high.id().unwrap());
    let add = refused(add.location_configurations(always_on_location("eu-central-1", 2)).send().await);
    assert!(add.is_service_quota_exceeded_exception());
}

/// The model's `noAvailableInstances`: "does not currently have enough available capacity to
/// fulfill your request": a new group whose primary location cannot be supplied goes to ERROR,
/// a remote location alone to ERROR in an ACTIVE_WITH_ERRORS group.
#[tokio::test]
async fn a_location_whose_pool_runs_dry_fails_with_no_available_instances() {
    let fleet = format!("{APP}{}", include_str!("../fleets/emulator-supply-pools.toml"));
    let emu = TestEmulator::start(frozen_config(), Some(&fleet)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let global = create(&client, "gen5n_ultra", &[("us-west-2", 1), ("eu-central-1", 3)]).await;
    let id = global.as_ref().unwrap().id().unwrap().to_owned();
    assert_eq!(status_after_activation(&emu, &client, global).await.0, "ACTIVE_WITH_ERRORS");
    let global = client.get_stream_group().identifier(id).send().await.unwrap();
    let eu = global.location_states().iter().find(|l| l.location_name() == Some("eu-central-1")).unwrap();
    assert_eq!(eu.status().unwrap().as_str(), "ERROR", "3 GPUs wanted, 2 in the pool");

    // us-west-2's single GPU is taken by `global`: the next group's primary cannot be supplied.
    let second = create(&client, "gen5n_ultra", &[("us-west-2", 1)]).await;
    let (status, reason) = status_after_activation(&emu, &client, second).await;
    assert_eq!((status.as_str(), reason.as_deref()), ("ERROR", Some("noAvailableInstances")));

    // Capacity shifts: the pool grows (admin API) and a new group activates.
    let pool = json!({ "kind": "capacity_pool", "family": "gen5n", "location": "us-west-2", "gpus": 4 });
    emu.admin_ok("/_emulator/supply", pool).await;
    let third = create(&client, "gen5n_ultra", &[("us-west-2", 1)]).await;
    assert_eq!(status_after_activation(&emu, &client, third).await.0, "ACTIVE");
    let (status, body) = emu
        .admin_post("/_emulator/supply", json!({ "kind": "pool", "family": "gen5n", "location": "x", "gpus": 1 }))
        .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("kind:"), "{body}");
}

/// Developer guide, multi-application stream groups: "Applications in a stream group | 100 |
/// No"; "Stream group associations per application | 100 | No".
#[tokio::test]
async fn a_group_streams_at_most_100_applications() {
    let mut fleet = String::new();
    for i in 0..101 {
        fleet.push_str(&format!(
            "[[applications]]\nkey = \"app{i}\"\nid = \"a-APP{i:05}\"\ndescription = \"app {i}\"\n\n"
        ));
    }
    let hundred: Vec<String> = (0..100).map(|i| format!("\"app{i}\"")).collect();
    fleet.push_str(&format!(
        "[[stream_groups]]\nid = \"sg-FULL00001\"\ndescription = \"full\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 3\napplications = [{}]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n",
        hundred.join(", ")
    ));
    let emu = TestEmulator::start(frozen_config(), Some(&fleet)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let refused = refused(
        client.associate_applications().identifier("sg-FULL00001").application_identifiers("a-APP00100").send().await,
    );
    assert!(refused.is_service_quota_exceeded_exception(), "{refused:?}");
    assert!(refused.meta().message().unwrap().contains("at most 100"));
}
