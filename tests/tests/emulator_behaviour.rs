//! The emulator's documented behaviours, one test per behaviour, through the unmodified SDK
//! client on the emulator's frozen clock. Each names the sentence of the model or the seeds
//! it plays; `gls_emulator::facts` holds the same sentences beside the values.

use aws_sdk_gameliftstreams::types::{LocationConfiguration, Protocol, VpcTransitConfiguration};
use gls_emulator::{Behaviour, Config, ExpiredGroups, OmittedCapacity};
use serde_json::json;
use watchdog_tests::{TestEmulator, always_on_location, frozen_config, new_group, quick_config, refused};

const FLEET: &str = include_str!("../fleets/emulator-behaviour.toml");

async fn start(config: Config) -> (TestEmulator, aws_sdk_gameliftstreams::Client) {
    let emu = TestEmulator::start(config, Some(FLEET)).await;
    let client = emu.client_without_retries("us-west-2").await;
    (emu, client)
}

fn capacity(always_on: i32, target_idle: Option<i32>, maximum: Option<i32>) -> LocationConfiguration {
    LocationConfiguration::builder()
        .location_name("us-west-2")
        .always_on_capacity(always_on)
        .set_target_idle_capacity(target_idle)
        .set_maximum_capacity(maximum)
        .build()
        .unwrap()
}

async fn primary(client: &aws_sdk_gameliftstreams::Client, group: &str) -> (i32, i32, i32, i32, i32) {
    let group = client.get_stream_group().identifier(group).send().await.unwrap();
    let l = &group.location_states()[0];
    (
        l.always_on_capacity().unwrap(),
        l.target_idle_capacity().unwrap(),
        l.maximum_capacity().unwrap(),
        l.allocated_capacity().unwrap(),
        l.idle_capacity().unwrap(),
    )
}

async fn session(client: &aws_sdk_gameliftstreams::Client, group: &str, arn: &str) -> (String, Option<String>) {
    let got = client.get_stream_session().identifier(group).stream_session_identifier(arn).send().await.unwrap();
    (got.status().unwrap().as_str().to_owned(), got.status_reason().map(|r| r.as_str().to_owned()))
}

use watchdog_tests::player_request as start_session;

/// The model, LocationConfiguration: "If you omit one or more of these values, the service
/// applies internal defaults for the missing values."
#[tokio::test]
async fn update_stream_group_applies_internal_defaults_to_omitted_capacity_fields() {
    // The default reading: target-idle and maximum fall to the internal defaults. The lenient
    // one keeps what the request leaves out.
    for (reading, expected) in [(None, (2, 0, 2)), (Some(OmittedCapacity::Keep), (2, 1, 6))] {
        let mut config = frozen_config();
        if let Some(reading) = reading {
            config.behaviour = Behaviour { omitted_capacity: reading, ..Behaviour::default() };
        }
        let (_emu, client) = start(config).await;
        let (always_on, target_idle, maximum, ..) = primary(&client, "sg-SCALE0001").await;
        assert_eq!((always_on, target_idle, maximum), (1, 1, 6));
        let update = client.update_stream_group().identifier("sg-SCALE0001");
        update.location_configurations(capacity(2, None, None)).send().await.unwrap();
        let (always_on, target_idle, maximum, ..) = primary(&client, "sg-SCALE0001").await;
        assert_eq!((always_on, target_idle, maximum), expected, "{reading:?}");
    }
}

/// Seed 000: "By default, all locations have 1 or 2 capacity, depending on the stream class
/// option: 2 for 'High' and 1 for 'Ultra' and 'Win2022'" (always-on, not on-demand).
#[tokio::test]
async fn a_location_configured_without_capacity_gets_one_compute_unit_always_on() {
    let (emu, client) = start(frozen_config()).await;
    for (class, expected) in [("gen5n_high", 2), ("gen5n_ultra", 1), ("gen5n_win2022", 1), ("gen6n_small", 12)] {
        let created = new_group(&client, format!("default {class}"), class.into()).send().await.unwrap();
        let location = &created.location_states()[0];
        assert_eq!(location.always_on_capacity(), Some(expected), "{class}");
        assert_eq!(location.on_demand_capacity(), Some(0), "{class}: nothing on the deprecated field");
        emu.advance_seconds(2.0).await;
        let (_, _, _, allocated, idle) = primary(&client, created.id().unwrap()).await;
        assert_eq!((allocated, idle), (expected, expected), "{class}: paid for and idle once ACTIVE");
    }
}

/// Seed 000: "Only Get and Delete operations will work on an expired stream group."
#[tokio::test]
async fn an_expired_group_answers_only_get_and_delete() {
    let (_emu, client) = start(frozen_config()).await;
    let expired = client.get_stream_group().identifier("sg-EXPIRED01").send().await.unwrap();
    assert_eq!(expired.status().unwrap().as_str(), "EXPIRED");
    let arn = expired.arn().to_owned();
    let tag_write = refused(client.tag_resource().resource_arn(&arn).tags("k", "v").send().await);
    assert!(tag_write.is_validation_exception());
    let tag_read = refused(client.list_tags_for_resource().resource_arn(&arn).send().await);
    assert!(tag_read.is_validation_exception(), "strict: tag reads too");
    let sessions = refused(client.list_stream_sessions().identifier("sg-EXPIRED01").send().await);
    assert!(sessions.is_validation_exception());
    client.delete_stream_group().identifier("sg-EXPIRED01").send().await.expect("Delete works");

    let lenient = Config {
        behaviour: Behaviour { expired_groups: ExpiredGroups::Lenient, ..Behaviour::default() },
        ..frozen_config()
    };
    let (_emu, client) = start(lenient).await;
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.expect("lenient: reads work");
    assert_eq!(tags.tags().unwrap()["team"], "racing");
    assert!(client.tag_resource().resource_arn(&arn).tags("k", "v").send().await.is_err(), "writes never do");
}

/// Developer guide, regions-quotas-rande: the service has an endpoint in four Regions. A
/// request signed for another one gets no answer, as `gameliftstreams.us-west-3.api.aws` gives
/// none: the SDK reports a dispatch failure, not a service error.
#[tokio::test]
async fn a_region_without_the_service_answers_as_an_unreachable_endpoint() {
    let (emu, _) = start(frozen_config()).await;
    for region in ["us-west-3", "mars-central-1", "us-east-1"] {
        let client = emu.client_without_retries(region).await;
        let error = client.list_stream_groups().send().await.unwrap_err();
        assert!(matches!(error, aws_sdk_gameliftstreams::error::SdkError::DispatchFailure(_)), "{region}: {error:?}");
    }
    for region in ["us-east-2", "us-west-2", "ap-northeast-1", "eu-central-1"] {
        let client = emu.client_without_retries(region).await;
        client.list_stream_groups().send().await.unwrap_or_else(|e| panic!("{region}: {e:?}"));
    }
    // A Region added later is served when named.
    let added = Config { served_regions: vec!["us-west-2".into(), "us-west-3".into()], ..frozen_config() };
    let (emu, _) = start(added).await;
    emu.client_without_retries("us-west-3").await.list_stream_groups().send().await.expect("served when named");
}

/// The model leaves open whether locations change in ACTIVE_WITH_ERRORS ("the stream group must
/// be in ACTIVE status" on Add/RemoveStreamGroupLocations; "remove any locations which are in
/// error" on the status): each reading is an option, and ACTIVE takes both under every one.
#[tokio::test]
async fn location_changes_in_active_with_errors_follow_the_reading_chosen() {
    use gls_emulator::LocationChangesWithErrors as Reading;
    for (reading, removes, adds) in
        [(Reading::Allow, true, true), (Reading::RemoveOnly, true, false), (Reading::Refuse, false, false)]
    {
        // Each change on its own emulator: a change accepted makes the group UPDATING_LOCATIONS.
        let with_a_failed_location = || async {
            let config = Config {
                behaviour: Behaviour { location_changes_with_errors: reading, ..Behaviour::default() },
                ..frozen_config()
            };
            let (emu, client) = start(config).await;
            emu.admin_ok(
                "/_emulator/locations/status",
                json!({ "stream_group": "sg-SCALE0001", "location": "eu-central-1", "status": "ERROR" }),
            )
            .await;
            let group = client.get_stream_group().identifier("sg-SCALE0001").send().await.unwrap();
            assert_eq!(group.status().unwrap().as_str(), "ACTIVE_WITH_ERRORS");
            (emu, client)
        };
        let (_emu, client) = with_a_failed_location().await;
        let add = client
            .add_stream_group_locations()
            .identifier("sg-SCALE0001")
            .location_configurations(always_on_location("ap-northeast-1", 1))
            .send()
            .await;
        assert_eq!(add.is_ok(), adds, "{reading:?}: {add:?}");
        let (_emu, client) = with_a_failed_location().await;
        let remove =
            client.remove_stream_group_locations().identifier("sg-SCALE0001").locations("eu-central-1").send().await;
        assert_eq!(remove.is_ok(), removes, "{reading:?}: {remove:?}");
        if let Err(refused) = remove {
            let message = refused.into_service_error().meta().message().unwrap_or_default().to_owned();
            assert!(message.contains("requires ACTIVE"), "the refusal names the status needed: {message}");
        }
    }
}

/// The model (AllocatedCapacity): capacity takes "a few minutes" to arrive and to be released;
/// target-idle keeps a buffer above what is in use (seed 000).
#[tokio::test]
async fn capacity_arrives_and_leaves_over_minutes_and_target_idle_prewarms() {
    let (emu, client) = start(frozen_config()).await;
    // Nothing in use: the always-on 1 covers the target-idle buffer of 1.
    assert_eq!(primary(&client, "sg-SCALE0001").await.3, 1);
    let first = start_session(&client, "sg-SCALE0001", "a-RACER0001").send().await.unwrap();
    emu.advance_seconds(1.0).await;
    let (status, _) = session(&client, "sg-SCALE0001", first.arn().unwrap()).await;
    assert_eq!(status, "ACTIVE", "placed at once on the idle always-on slot");
    // One in use wants 1 + target-idle 1 = 2: the second slot arrives a minute later.
    assert_eq!(primary(&client, "sg-SCALE0001").await.3, 1);
    emu.advance_seconds(60.0).await;
    let (.., allocated, idle) = primary(&client, "sg-SCALE0001").await;
    assert_eq!((allocated, idle), (2, 1), "one in use, one prewarmed");
    // The session ends: the buffer beyond the always-on floor is released three minutes later.
    client
        .terminate_stream_session()
        .identifier("sg-SCALE0001")
        .stream_session_identifier(first.arn().unwrap())
        .send()
        .await
        .unwrap();
    emu.advance_seconds(5.0).await;
    assert_eq!(primary(&client, "sg-SCALE0001").await.3, 2, "still allocated");
    emu.advance_seconds(180.0).await;
    assert_eq!(primary(&client, "sg-SCALE0001").await.3, 1, "released");
}

/// Seed 001: placement timeouts are 75 s on always-on capacity, 90 s on on-demand capacity
/// for Linux/Proton, 10 minutes for Windows; a session waits for capacity that arrives.
#[tokio::test]
async fn placement_waits_for_capacity_within_the_timeout_of_its_capacity_type() {
    let (emu, client) = start(Config {
        timings: gls_emulator::Timings {
            capacity: gls_emulator::CapacityTimings {
                allocate: chrono::Duration::minutes(4),
                release: chrono::Duration::minutes(3),
            },
            ..quick_config().timings
        },
        ..frozen_config()
    })
    .await;
    // Windows on demand: nothing allocated, capacity takes 4 minutes, the timeout is 10 minutes.
    let windows = start_session(&client, "sg-WINDOWS01", "a-TACTICS01").send().await.unwrap();
    emu.advance_seconds(200.0).await;
    assert_eq!(session(&client, "sg-WINDOWS01", windows.arn().unwrap()).await.0, "ACTIVATING");
    emu.advance_seconds(60.0).await;
    assert_eq!(session(&client, "sg-WINDOWS01", windows.arn().unwrap()).await.0, "ACTIVE");

    // Always-on only (eu-central-1 has no headroom): 75 seconds.
    let taken = start_session(&client, "sg-SCALE0001", "a-RACER0001").locations("eu-central-1").send().await.unwrap();
    let waiting = start_session(&client, "sg-SCALE0001", "a-RACER0001").locations("eu-central-1").send().await.unwrap();
    emu.advance_seconds(74.0).await;
    assert_eq!(session(&client, "sg-SCALE0001", waiting.arn().unwrap()).await.0, "ACTIVATING");
    emu.advance_seconds(1.0).await;
    assert_eq!(
        session(&client, "sg-SCALE0001", waiting.arn().unwrap()).await,
        ("ERROR".to_owned(), Some("placementTimeout".to_owned()))
    );
    assert_eq!(session(&client, "sg-SCALE0001", taken.arn().unwrap()).await.0, "ACTIVE");
}

/// Seed 001: the idle timeout (60 minutes without input) and the maximum session length
/// counted "since it started, regardless of any existing client connections".
#[tokio::test]
async fn sessions_end_on_idle_and_on_length_counted_from_their_start() {
    let (emu, client) = start(frozen_config()).await;
    let idle = start_session(&client, "sg-SCALE0001", "a-RACER0001").send().await.unwrap();
    let arn = idle.arn().unwrap().to_owned();
    emu.advance_seconds(2.0).await;
    emu.admin_ok("/_emulator/sessions/status", json!({ "session": arn, "status": "CONNECTED" })).await;
    emu.advance_seconds(59.0 * 60.0).await;
    emu.admin_ok("/_emulator/sessions/input", json!({ "session": arn })).await;
    emu.advance_seconds(59.0 * 60.0).await;
    assert_eq!(session(&client, "sg-SCALE0001", &arn).await.0, "CONNECTED", "input reset the idle timer");
    emu.advance_seconds(60.0).await;
    assert_eq!(
        session(&client, "sg-SCALE0001", &arn).await,
        ("TERMINATING".to_owned(), Some("idleTimeout".to_owned()))
    );

    let short = start_session(&client, "sg-SCALE0001", "a-RACER0001")
        .session_length_seconds(600)
        .connection_timeout_seconds(3600)
        .send()
        .await
        .unwrap();
    let arn = short.arn().unwrap().to_owned();
    emu.advance_seconds(300.0).await;
    emu.admin_post("/_emulator/sessions/status", json!({ "session": arn, "status": "CONNECTED" })).await;
    emu.advance_seconds(299.0).await;
    assert_eq!(session(&client, "sg-SCALE0001", &arn).await.0, "CONNECTED");
    emu.advance_seconds(1.5).await;
    assert_eq!(
        session(&client, "sg-SCALE0001", &arn).await,
        ("TERMINATING".to_owned(), Some("maxSessionLengthTimeout".to_owned())),
        "600 s after StartStreamSession, not after CONNECTED"
    );
}

/// The model, CreateStreamSessionConnection: from PENDING_CLIENT_RECONNECTION (or ACTIVE) to
/// RECONNECTING, then ACTIVE; the offer must be new.
#[tokio::test]
async fn a_dropped_client_reconnects_through_create_stream_session_connection() {
    let (emu, client) = start(frozen_config()).await;
    let first_offer = "offer-1";
    let started =
        start_session(&client, "sg-SCALE0001", "a-RACER0001").signal_request(first_offer).send().await.unwrap();
    let arn = started.arn().unwrap().to_owned();
    emu.advance_seconds(2.0).await;
    emu.admin_post("/_emulator/sessions/status", json!({ "session": arn, "status": "CONNECTED" })).await;
    let connect =
        || client.create_stream_session_connection().identifier("sg-SCALE0001").stream_session_identifier(&arn);
    let err = refused(connect().signal_request("offer-2").send().await);
    assert!(err.is_conflict_exception(), "CONNECTED: {err:?}");
    emu.admin_ok("/_emulator/sessions/status", json!({ "session": arn, "status": "PENDING_CLIENT_RECONNECTION" }))
        .await;
    let err = refused(connect().signal_request(first_offer).send().await);
    assert!(err.is_validation_exception(), "the same offer again: {err:?}");
    let answer = connect().signal_request("offer-2").send().await.expect("CreateStreamSessionConnection");
    assert!(answer.signal_response().is_some());
    assert_eq!(session(&client, "sg-SCALE0001", &arn).await.0, "RECONNECTING");
    emu.advance_seconds(2.0).await;
    assert_eq!(session(&client, "sg-SCALE0001", &arn).await.0, "ACTIVE");
}

/// The model: deleting a group "stops streams in progress"; expiry stops them too. Both go
/// through TERMINATING with a reason.
#[tokio::test]
async fn deletion_and_expiry_end_sessions_through_terminating() {
    let (emu, client) = start(frozen_config()).await;
    let a = start_session(&client, "sg-SCALE0001", "a-RACER0001").send().await.unwrap();
    emu.advance_seconds(2.0).await;
    client.delete_stream_group().identifier("sg-SCALE0001").send().await.unwrap();
    assert_eq!(
        session(&client, "sg-SCALE0001", a.arn().unwrap()).await,
        ("TERMINATING".to_owned(), Some("apiTerminated".to_owned()))
    );

    let fleet = format!(
        "{FLEET}\n[[stream_groups]]\nid = \"sg-OLDGROUP1\"\ndescription = \"old\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 364.99\napplications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  started_minutes_ago = 5\n"
    );
    let emu = TestEmulator::start(frozen_config(), Some(&fleet)).await;
    let client = emu.client_without_retries("us-west-2").await;
    emu.advance_days(0.02).await;
    let group = client.get_stream_group().identifier("sg-OLDGROUP1").send().await.unwrap();
    assert_eq!(group.status().unwrap().as_str(), "EXPIRED");
    let state = emu.admin_get("/_emulator/state").await;
    let sessions = &state["regions"]["us-west-2"]["stream_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "sg-OLDGROUP1")
        .unwrap()["sessions"];
    assert_eq!(sessions, &json!({ "TERMINATED": 1 }), "ended at expiry");
}

/// Seed 001: "An application must be finished replicating to a remote location before the
/// remote location can host a stream."
#[tokio::test]
async fn a_remote_location_hosts_only_after_replication_completes() {
    let (emu, client) = start(frozen_config()).await;
    let created = new_group(&client, "global", "gen5n_ultra".into())
        .default_application_identifier("a-RACER0001")
        .location_configurations(capacity(1, None, None))
        .location_configurations(always_on_location("ap-northeast-1", 1))
        .send()
        .await
        .unwrap();
    let id = created.id().unwrap().to_owned();
    emu.advance_seconds(2.0).await;
    let app = client.get_application().identifier("a-RACER0001").send().await.unwrap();
    let replication: Vec<(String, String)> = app
        .replication_statuses()
        .iter()
        .map(|r| (r.location().unwrap().to_owned(), r.status().unwrap().as_str().to_owned()))
        .collect();
    assert!(replication.contains(&("ap-northeast-1".to_owned(), "REPLICATING".to_owned())), "{replication:?}");
    assert!(replication.contains(&("us-west-2".to_owned(), "COMPLETED".to_owned())), "{replication:?}");
    let remote = start_session(&client, &id, "a-RACER0001").locations("ap-northeast-1").send().await.unwrap();
    emu.advance_seconds(80.0).await;
    assert_eq!(session(&client, &id, remote.arn().unwrap()).await.1.as_deref(), Some("placementTimeout"));
    // Replication finished (60 s after association): the location hosts now.
    let later = start_session(&client, &id, "a-RACER0001").locations("ap-northeast-1").send().await.unwrap();
    emu.advance_seconds(2.0).await;
    assert_eq!(session(&client, &id, later.arn().unwrap()).await.0, "ACTIVE");
}

/// Seed 000: "The application that you specify must be in READY status"; an application in
/// ERROR (sourceModified) cannot be associated or made a default.
#[tokio::test]
async fn an_application_in_error_cannot_be_used() {
    let (emu, client) = start(frozen_config()).await;
    emu.admin_ok(
        "/_emulator/applications/status",
        json!({ "application": "a-TACTICS01", "status": "ERROR", "reason": "sourceModified" }),
    )
    .await;
    let app = client.get_application().identifier("a-TACTICS01").send().await.unwrap();
    assert_eq!(
        (app.status().unwrap().as_str(), app.status_reason().map(|r| r.as_str())),
        ("ERROR", Some("sourceModified"))
    );
    let err = refused(
        client.associate_applications().identifier("sg-SCALE0001").application_identifiers("a-TACTICS01").send().await,
    );
    assert!(err.is_validation_exception() && format!("{err:?}").contains("sourceModified"), "{err:?}");
    let err = refused(
        new_group(&client, "x", "gen5n_ultra".into()).default_application_identifier("a-TACTICS01").send().await,
    );
    assert!(err.is_validation_exception());
}

/// The developer guide's rate limits cover every operation: tag writes are 10 per second.
#[tokio::test]
async fn tag_writes_are_rate_limited() {
    let (emu, client) = start(Config { rate_limit_scale: 1.0, ..frozen_config() }).await;
    let arn = client.get_stream_group().identifier("sg-SCALE0001").send().await.unwrap().arn().to_owned();
    let mut throttled = 0;
    for i in 0..15 {
        if client.tag_resource().resource_arn(&arn).tags("n", i.to_string()).send().await.is_err() {
            throttled += 1;
        }
    }
    assert!(throttled >= 4, "15 calls in well under a second against 10/s: {throttled} throttled");
    assert_eq!(emu.admin_get("/_emulator/counters").await["operations"]["TagResource"]["throttled"], throttled);
}

/// Fleet files: a refused fleet changes nothing, in replace mode too; impossible fleets are
/// refused with the entry named.
#[tokio::test]
async fn impossible_fleets_are_refused_by_entry_and_change_nothing() {
    let (emu, _client) = start(frozen_config()).await;
    let before = emu.admin_get("/_emulator/state").await["regions"].clone();
    let group = |extra: &str| {
        format!(
            "[[applications]]\nkey = \"a\"\ndescription = \"a\"\n[[stream_groups]]\ndescription = \"g\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 2\napplications = [\"a\"]\n{extra}"
        )
    };
    let cases = [
        (
            group("  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  target_idle = 3\n  maximum = 2\n"),
            "stream_groups[0].locations[0].target_idle",
        ),
        (
            group(
                "  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  started_minutes_ago = 4000\n",
            ),
            "stream_groups[0].sessions[0].started_minutes_ago",
        ),
        (
            group(
                "  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  count = 2\n",
            ),
            "stream_groups[0].locations[0]: 2 sessions hold capacity",
        ),
        (
            group("expires_in_days = -3\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n"),
            "stream_groups[0].expires_in_days",
        ),
    ];
    for (fleet, named) in cases {
        let response =
            emu.http().post(format!("{}/_emulator/fleet?mode=replace", emu.url)).body(fleet).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().starts_with(named), "{body}");
        assert_eq!(emu.admin_get("/_emulator/state").await["regions"], before, "the refused fleet changed nothing");
    }
}

/// The model: "The VPC ID cannot be changed after the stream group is created, but you can
/// update the CIDR blocks by calling UpdateStreamGroup."
#[tokio::test]
async fn vpc_transit_is_set_at_creation_and_only_its_cidr_blocks_change() {
    let (emu, client) = start(frozen_config()).await;
    let vpc =
        |id: &str, cidr: &str| VpcTransitConfiguration::builder().vpc_id(id).ipv4_cidr_blocks(cidr).build().unwrap();
    let with_vpc = |id: &str, cidr: &str| {
        LocationConfiguration::builder()
            .location_name("us-west-2")
            .always_on_capacity(1)
            .vpc_transit_configuration(vpc(id, cidr))
            .build()
            .unwrap()
    };
    let created = new_group(&client, "private", "gen5n_ultra".into())
        .location_configurations(with_vpc("vpc-0abc", "10.1.0.0/16"))
        .send()
        .await
        .unwrap();
    let id = created.id().unwrap().to_owned();
    let transit = created.location_states()[0].vpc_transit_configuration().unwrap();
    assert_eq!(transit.vpc_id(), Some("vpc-0abc"));
    assert!(transit.transit_gateway_id().unwrap().starts_with("tgw-"));
    emu.advance_seconds(2.0).await;
    let updated = client
        .update_stream_group()
        .identifier(&id)
        .location_configurations(with_vpc("vpc-0abc", "10.2.0.0/16"))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.location_states()[0].vpc_transit_configuration().unwrap().ipv4_cidr_blocks(), ["10.2.0.0/16"]);
    let err = refused(
        client
            .update_stream_group()
            .identifier(&id)
            .location_configurations(with_vpc("vpc-0other", "10.2.0.0/16"))
            .send()
            .await,
    );
    assert!(err.is_validation_exception());
}

/// The model, StreamUrlStatus: ACTIVE until it "has passed its expiration time" (EXPIRED) or
/// "has been used the maximum number of times" (LIMIT_REACHED); deleting the stream group
/// makes it REVOKED (`streamGroupDeleted`), and it stays listed.
#[tokio::test]
async fn stream_urls_expire_to_the_instant_run_out_of_uses_and_die_with_their_group() {
    let (emu, client) = start(frozen_config()).await;
    let create = |minutes: i32, uses: i32| {
        client
            .create_stream_url()
            .identifier("sg-SCALE0001")
            .application_identifier("a-RACER0001")
            .protocol(Protocol::Webrtc)
            .url_expires_after_minutes(minutes)
            .usage_limit(uses)
            .locations("us-west-2")
            .send()
    };
    let status = |id: String| {
        let client = client.clone();
        async move {
            let got =
                client.get_stream_url().identifier("sg-SCALE0001").stream_url_identifier(id).send().await.unwrap();
            (got.status().unwrap().as_str().to_owned(), got.status_reason().map(|r| r.as_str().to_owned()))
        }
    };
    let timed = create(30, 5).await.unwrap().stream_url_id().unwrap().to_owned();
    let counted = create(60, 2).await.unwrap().stream_url_id().unwrap().to_owned();

    // Two uses of two: the second is the last, a third is refused.
    for _ in 0..2 {
        let (code, body) = emu.admin_post("/_emulator/stream-urls/use", json!({ "stream_url": counted })).await;
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(status(counted.clone()).await.0, "LIMIT_REACHED");
    let (code, body) = emu.admin_post("/_emulator/stream-urls/use", json!({ "stream_url": counted })).await;
    assert_eq!(code, 400, "{body}");
    let got = client.get_stream_url().identifier("sg-SCALE0001").stream_url_identifier(&counted).send().await.unwrap();
    assert_eq!((got.remaining_uses(), got.stream_sessions().len()), (Some(0), 2), "each use started a session");

    // 30 minutes to the millisecond.
    emu.advance_seconds(30.0 * 60.0 - 0.001).await;
    assert_eq!(status(timed.clone()).await.0, "ACTIVE");
    emu.advance_seconds(0.001).await;
    assert_eq!(status(timed.clone()).await.0, "EXPIRED");

    // The group is deleted: REVOKED, and still listed.
    let live = create(60, 1).await.unwrap().stream_url_id().unwrap().to_owned();
    client.delete_stream_group().identifier("sg-SCALE0001").send().await.unwrap();
    emu.advance_seconds(2.0).await;
    assert_eq!(status(live.clone()).await, ("REVOKED".to_owned(), Some("streamGroupDeleted".to_owned())));
    let revoked = client.list_stream_urls().status("REVOKED".into()).send().await.unwrap();
    let mut ids: Vec<&str> = revoked.items().iter().filter_map(|u| u.stream_url_id()).collect();
    ids.sort_unstable();
    let mut all = [timed.as_str(), counted.as_str(), live.as_str()];
    all.sort_unstable();
    assert_eq!(ids, all, "every URL of the deleted group, expired and used-up ones too");
}

/// The model, `Tags`: at most 50; a resource holds at most 50 user tags.
#[tokio::test]
async fn a_group_holds_its_fiftieth_tag_and_refuses_the_fifty_first() {
    let (_emu, client) = start(frozen_config()).await;
    let arn = client.get_stream_group().identifier("sg-SCALE0001").send().await.unwrap().arn().to_owned();
    let mut request = client.tag_resource().resource_arn(&arn);
    for i in 0..49 {
        request = request.tags(format!("k{i:02}"), "v");
    }
    request.send().await.expect("49 tags");
    client.tag_resource().resource_arn(&arn).tags("k49", "v").send().await.expect("the 50th");
    client.tag_resource().resource_arn(&arn).tags("k00", "changed").send().await.expect("rewriting one adds none");
    let err = refused(client.tag_resource().resource_arn(&arn).tags("k50", "v").send().await);
    assert!(err.is_validation_exception(), "the 51st");
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().len(), 50);
}
