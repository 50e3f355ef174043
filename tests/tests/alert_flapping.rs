//! A flapping idle share through the real path: players come and go every five minutes, so the
//! `idle_capacity` finding of a group holds at one scan and not at the next. The scanner under
//! cargo lambda, the emulator (sessions started and ended with the SDK, capacity released as
//! the service releases it) and LocalStack's SNS to SQS: one alert per re-send interval.

use aws_sdk_gameliftstreams::types::StreamSessionStatus;
use serde_json::json;
use std::time::Duration;
use watchdog_tests::lambda::LambdaWatch;
use watchdog_tests::stage::Stage;
use watchdog_tests::{player_request, quick_config};

const GROUP: &str = "sg-FLAPPING1";

// gen5n_ultra: one capacity per compute unit. Four always-on, one player: 3 idle (75%), an
// idle_capacity finding; with two more players 1 idle (25%), none. At 30 days it also has a
// rotation_due finding at every scan, so its alert memory is read, and could be forgotten, at
// the scans without the idle finding too.
const FLEET: &str = include_str!("../fleets/alert-flapping.toml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_idle_share_sends_one_alert_per_resend_interval() {
    let stage = Stage::frozen(quick_config(), Some(FLEET)).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    let client = emu.client("us-west-2").await;
    let (topic, queue) = stage.topic("flapping").await;
    let env = stage.env("Flapping", &[("FINDINGS_TOPIC_ARN", &topic), ("ALERT_RESEND_HOURS", "1")]);
    let watch = LambdaWatch::start("flapping", &env);

    let mut players: Vec<String> = Vec::new();
    let mut idle_at = Vec::new();
    let mut alerts = Vec::new();
    // Fourteen scans five minutes apart: the first twelve fill one re-send interval (an hour).
    for scan in 0..14 {
        if scan % 2 == 1 {
            // Two players arrive: started with the SDK, placed, and connected.
            for _ in 0..2 {
                let started = player_request(&client, GROUP, "a-RACER0001").send().await.expect("StartStreamSession");
                players.push(started.arn().unwrap().to_owned());
            }
            emu.advance_seconds(30.0).await;
            for arn in &players {
                let session =
                    client.get_stream_session().identifier(GROUP).stream_session_identifier(arn).send().await.unwrap();
                assert_eq!(session.status(), Some(&StreamSessionStatus::Active), "placed within 30 s");
                emu.admin_ok("/_emulator/sessions/status", json!({ "session": arn, "status": "CONNECTED" })).await;
            }
            emu.advance_seconds(270.0).await;
        } else if scan > 0 {
            // They leave: their capacity is released as the service releases it.
            for arn in players.drain(..) {
                client
                    .terminate_stream_session()
                    .identifier(GROUP)
                    .stream_session_identifier(&arn)
                    .send()
                    .await
                    .unwrap();
            }
            emu.advance_seconds(300.0).await;
        }
        let report = watch.invoke_file("gls-watchdog-scanner", "scanner-scheduled-event.json").await.expect("scan");
        assert_eq!(report["complete"], true, "{:#}", report["unread"]);
        let idle = report["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "idle_capacity");
        idle_at.push(idle);
        let delivered = aws.drain(&queue, Duration::from_millis(1500)).await;
        alerts.push(delivered.iter().filter(|d| d.attribute("kind") == Some("idle_capacity")).count());
    }
    let expected_flaps: Vec<bool> = (0..14).map(|scan| scan % 2 == 0).collect();
    assert_eq!(idle_at, expected_flaps, "the idle share flapped at every scan");
    assert_eq!(alerts[..12].iter().sum::<usize>(), 1, "one alert in the first hour, not one per flap: {alerts:?}");
    assert_eq!(alerts[0], 1, "the first sighting alerts");
    assert_eq!(alerts.iter().sum::<usize>(), 2, "and one more once the hour is over: {alerts:?}");
}
