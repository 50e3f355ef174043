//! The emulator's admin API and fleet loader stay healthy under any input: sizes and ranges
//! are checked before anything changes, a refused fleet changes nothing (replace or merge),
//! and the clock cannot be thrown beyond what dates can hold.

use serde_json::{Value, json};
use watchdog_tests::lambda::workspace_root;
use watchdog_tests::{TestEmulator, quick_config};

async fn post_fleet(emu: &TestEmulator, mode: &str, fleet: &str) -> (u16, Value) {
    let url = format!("{}/_emulator/fleet?mode={mode}", emu.url);
    let response = emu.http().post(url).body(fleet.to_owned()).send().await.expect("POST fleet");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

async fn group_ids(emu: &TestEmulator) -> Vec<String> {
    let state = emu.admin_get("/_emulator/state").await;
    let mut ids: Vec<String> = state["regions"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r["stream_groups"].as_array().cloned().unwrap_or_default())
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn group(id: &str, extra: &str, sessions: &str) -> String {
    format!(
        "\n[[stream_groups]]\nid = \"{id}\"\ndescription = \"{id}\"\nstream_class = \"gen5n_high\"\ncreated_days_ago = 3\n{extra}applications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 2\n{sessions}"
    )
}

const APPS: &str = "[[applications]]\nkey = \"racer\"\ndescription = \"Racer\"\n";

#[tokio::test]
async fn impossible_fleets_and_clock_changes_are_refused_and_change_nothing() {
    let sample = std::fs::read_to_string(workspace_root().join("fleets/sample.toml")).unwrap();
    let emu = TestEmulator::start(quick_config(), Some(&sample)).await;
    let before = group_ids(&emu).await;
    assert!(before.len() > 5, "{before:?}");

    let huge_count = format!(
        "{APPS}{}",
        group("sg-HUGE00001", "", "  [[stream_groups.sessions]]\n  status = \"CONNECTED\"\n  count = 4000000000\n")
    );
    let old =
        format!("{APPS}{}", group("sg-OLD000001", "", "").replace("created_days_ago = 3", "created_days_ago = 1e15"));
    let half_bad = format!(
        "{APPS}{}{}",
        group("sg-GOOD00001", "", ""),
        group("sg-BAD000001", "", "").replace("always_on = 2", "always_on = 3")
    );
    for (mode, fleet, named) in [
        ("replace", huge_count.as_str(), "sessions[0].count"),
        ("replace", old.as_str(), "created_days_ago"),
        ("replace", half_bad.as_str(), "stream_groups[1].locations[0].always_on"),
        ("merge", half_bad.as_str(), "stream_groups[1].locations[0].always_on"),
    ] {
        let (status, body) = post_fleet(&emu, mode, fleet).await;
        assert_eq!(status, 400, "{mode}: {body}");
        assert!(body["error"].as_str().unwrap().contains(named), "{mode}: {body}");
        assert_eq!(group_ids(&emu).await, before, "{mode}: a refused fleet changes nothing");
    }

    for change in [json!({ "advance_seconds": 1e300 }), json!({ "advance_seconds": f64::MAX }), json!({ "now": 1e20 })]
    {
        let (status, body) = emu.admin_post("/_emulator/clock", change.clone()).await;
        assert_eq!(status, 400, "{change}: {body}");
    }
    let (status, body) =
        emu.admin_post("/_emulator/activation-outcomes", json!({ "status": "ERROR", "count": 1_000_000_000u64 })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(emu.admin_get("/_emulator/health").await["status"], "ok");
    assert!(emu.admin_get("/_emulator/clock").await["now"].is_number());
    assert_eq!(group_ids(&emu).await, before);
}

/// Every admin body that does not parse is refused before its handler runs, with the parser's
/// reason and the form that endpoint expects.
#[tokio::test]
async fn an_admin_body_that_does_not_parse_is_refused_naming_the_form_expected() {
    let emu = TestEmulator::start(quick_config(), None).await;
    for (path, expected) in [
        ("/_emulator/clock", r#"{"advance_seconds": N}"#),
        ("/_emulator/sessions/input", r#"{"session": ARN_OR_ID}"#),
        ("/_emulator/stream-urls/use", r#"{"stream_url": ID_OR_ARN}"#),
        ("/_emulator/faults", r#"{"operation": NAME|"*""#),
        ("/_emulator/supply", r#"{"kind": "gpu_quota"|"capacity_pool""#),
        ("/_emulator/access", r#"{"account": "222233334444""#),
    ] {
        let (status, body) = emu.admin_post(path, json!({ "unheard_of": 1 })).await;
        assert_eq!(status, 400, "{path}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("; expected {expected}")), "{path}: {error}");
        assert!(error.contains("unheard_of"), "{path}: the unknown field is named: {error}");
    }
}
