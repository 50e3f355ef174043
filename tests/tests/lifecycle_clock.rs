//! The service's lifecycle limits on the emulator's own clock: the 180-day association
//! cutoff, expiry at ExpiresAt, and ClientToken idempotency.

use aws_sdk_gameliftstreams::types::{StreamClass, StreamGroupStatus};
use serde_json::json;
use watchdog_tests::{TestEmulator, new_group, quick_config, refused};

const FLEET: &str = include_str!("../fleets/lifecycle-clock.toml");

#[tokio::test]
async fn day_180_refuses_new_associations() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let associate = |application: &str| {
        client.associate_applications().identifier("sg-AGED00179").application_identifiers(application).send()
    };

    // Day 179: still allowed.
    associate("a-BETA00001").await.expect("day 179 associates");

    // Day 180: refused, and the message says why.
    emu.advance_days(0.5).await;
    let err = refused(associate("a-DLC000001").await);
    assert!(err.is_validation_exception(), "{err:?}");
    assert!(err.meta().message().unwrap().contains("older than 180 days"), "{err:?}");

    // Re-associating what is already associated is no new association; disassociating still works.
    associate("a-BETA00001").await.expect("already associated");
    client
        .disassociate_applications()
        .identifier("sg-AGED00179")
        .application_identifiers("a-BETA00001")
        .send()
        .await
        .expect("disassociate");
    let group = client.get_stream_group().identifier("sg-AGED00179").send().await.unwrap();
    assert_eq!(group.associated_applications().len(), 1);
    assert_eq!(group.status(), Some(&StreamGroupStatus::Active));
}

#[tokio::test]
async fn expires_at_expires_the_group_and_leaves_only_get_and_delete() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;
    let before = client.get_stream_group().identifier("sg-AGED00179").send().await.unwrap();
    let expires_at = before.expires_at().unwrap().as_secs_f64();
    assert_eq!(before.status(), Some(&StreamGroupStatus::Active));

    // One second short of ExpiresAt: still ACTIVE.
    let (_, clock) = emu.admin_post("/_emulator/clock", json!({ "now": expires_at - 1.0 })).await;
    assert!((clock["now"].as_f64().unwrap() - (expires_at - 1.0)).abs() < 0.01, "{clock}");
    let group = client.get_stream_group().identifier("sg-AGED00179").send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::Active));

    // At ExpiresAt: EXPIRED, nothing allocated, its sessions ended.
    emu.advance_seconds(1.5).await;
    let group = client.get_stream_group().identifier("sg-AGED00179").send().await.unwrap();
    assert_eq!(group.status(), Some(&StreamGroupStatus::Expired));
    assert_eq!(group.last_updated_at().unwrap().as_secs_f64(), expires_at, "expired at ExpiresAt, not when observed");
    assert_eq!(group.location_states()[0].allocated_capacity(), Some(0));
    // (ListStreamSessions names the expired group, which only Get and Delete may: list by account.)
    let sessions = client.list_stream_sessions_by_account().send().await.unwrap();
    let ended: Vec<&str> = sessions
        .items()
        .iter()
        .filter(|s| s.arn().unwrap().contains("/sg-AGED00179/"))
        .map(|s| s.status().unwrap().as_str())
        .collect();
    assert!(!ended.is_empty() && ended.iter().all(|s| ["TERMINATING", "TERMINATED"].contains(s)), "{ended:?}");

    // Only Get and Delete work on an expired group.
    let err = refused(client.update_stream_group().identifier("sg-AGED00179").description("x").send().await);
    assert!(err.is_conflict_exception(), "{err:?}");
    assert!(err.meta().message().unwrap().contains("expired"));
    let err = refused(watchdog_tests::player_request(&client, "sg-AGED00179", "a-RACER0001").send().await);
    assert!(err.is_conflict_exception(), "{err:?}");
    client.delete_stream_group().identifier("sg-AGED00179").send().await.expect("delete works on expired");

    // The clock never goes back.
    let (status, body) = emu.admin_post("/_emulator/clock", json!({ "now": 0 })).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("only moves forward"), "{body}");
}

#[tokio::test]
async fn a_client_token_creates_one_group_however_often_it_is_sent() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let client = emu.client("us-west-2").await;
    let token = "watchdog-replace-sg-AGED00179-000000000001";
    let create = || new_group(&client, "replacement", StreamClass::Gen5nHigh).client_token(token);
    let first = create().send().await.unwrap();
    let second = create().send().await.unwrap();
    assert_eq!(first.id(), second.id());
    let groups = client.list_stream_groups().send().await.unwrap();
    assert_eq!(groups.items().iter().filter(|g| g.description() == Some("replacement")).count(), 1);

    // A different token makes a different group.
    let third = new_group(&client, "replacement", StreamClass::Gen5nHigh).send().await.unwrap();
    assert_ne!(third.id(), first.id());
}

#[tokio::test]
async fn regions_are_separate_accounts_worth_of_resources() {
    let emu = TestEmulator::start(quick_config(), Some(FLEET)).await;
    let west = emu.client("us-west-2").await;
    let frankfurt = emu.client("eu-central-1").await;
    let created = new_group(&frankfurt, "frankfurt", StreamClass::Gen4nUltra).send().await.unwrap();
    assert!(created.arn().starts_with("arn:aws:gameliftstreams:eu-central-1:"));
    assert_eq!(created.location_states()[0].location_name(), Some("eu-central-1"), "primary location is the region");
    assert_eq!(frankfurt.list_stream_groups().send().await.unwrap().items().len(), 1);
    assert_eq!(west.list_stream_groups().send().await.unwrap().items().len(), 1);
    assert!(
        refused(west.get_stream_group().identifier(created.id().unwrap()).send().await)
            .is_resource_not_found_exception()
    );
}
