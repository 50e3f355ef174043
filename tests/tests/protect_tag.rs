//! `watchdog:protect=true`, the one tag every function honours: a group that the recycler
//! would recreate, the trimmer would trim and the scanner would alert on and tag receives no
//! write from any of them, through cargo lambda, the emulator and LocalStack.

use std::time::Duration;
use watchdog_tests::lambda::LambdaWatch;
use watchdog_tests::quick_config;
use watchdog_tests::stage::Stage;

const GROUP: &str = "sg-PROTECT01";
const ARN: &str = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-PROTECT01";

const FLEET: &str = include_str!("../fleets/protect-tag.toml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_group_receives_no_write_from_any_function() {
    let stage = Stage::frozen(quick_config(), Some(FLEET)).await;
    let (emu, aws) = (&stage.emu, &stage.aws);
    let (topic, queue) = stage.topic("protect").await;
    let env = stage.env(
        "Protect",
        &[
            ("FINDINGS_TOPIC_ARN", &topic),
            ("ACTIONS_TOPIC_ARN", &topic),
            ("METRIC_DETAIL", "location"),
            ("DRY_RUN", "false"),
            ("MANAGE_ALL_GROUPS", "true"),
            ("MAX_ATTEMPTS", "1"),
            ("DEMAND_WINDOW_MINUTES", "60"),
        ],
    );
    let watch = LambdaWatch::start("protect", &env);
    let client = emu.client("us-west-2").await;
    let tags_before = client.list_tags_for_resource().resource_arn(ARN).send().await.unwrap().tags().cloned();

    // Two scans 40 minutes apart give the trimmer its history; then every function, twice.
    for advance in [0.0, 40.0 * 60.0] {
        emu.advance_seconds(advance).await;
        let scan = watch.invoke_file("gls-watchdog-scanner", "scanner-scheduler-input.json").await.unwrap();
        let kinds: Vec<&str> = scan["findings"].as_array().unwrap().iter().filter_map(|f| f["kind"].as_str()).collect();
        assert!(kinds.contains(&"rotation_due") && kinds.contains(&"idle_capacity"), "still reported: {kinds:?}");
    }
    for _ in 0..2 {
        let recycle = watch.invoke_file("gls-watchdog-recycler", "recycler-scheduler-input.json").await.unwrap();
        assert!(recycle["executed"].as_array().unwrap().is_empty(), "{recycle:#}");
        let trim = watch.invoke_file("gls-watchdog-trimmer", "trimmer-scheduler-input.json").await.unwrap();
        assert!(trim["executed"].as_array().unwrap().is_empty(), "{trim:#}");
        emu.advance_seconds(61.0).await;
    }

    let counters = emu.admin_get("/_emulator/counters").await;
    assert_eq!(counters["mutating_calls"], 0, "no write at all, tags included: {counters:#}");
    let tags_after = client.list_tags_for_resource().resource_arn(ARN).send().await.unwrap().tags().cloned();
    assert_eq!(tags_after, tags_before);
    let groups = client.list_stream_groups().send().await.unwrap();
    assert_eq!(groups.items().len(), 1, "no replacement");
    let group = client.get_stream_group().identifier(GROUP).send().await.unwrap();
    assert_eq!(group.location_states()[0].always_on_capacity(), Some(10), "not trimmed");
    let messages = aws.drain(&queue, Duration::from_secs(2)).await;
    let about_it: Vec<_> = messages.iter().filter(|m| m.attribute("stream_group") == Some(GROUP)).collect();
    assert!(about_it.is_empty(), "no alert and no action about it: {about_it:?}");
}
