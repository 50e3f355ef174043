//! One API budget for the three functions: the template gives each a part of the studio's
//! share (`ApiShare`) and the parts add up to one, so run together they never use more than
//! that share of any documented rate limit, tag writes included. Checked on the template, and
//! end to end: the three functions at once against an emulator that allows only the studio's
//! share answer no call with a throttle.

use serde_json::Value as Json;
use serde_yaml::Value;
use watchdog_tests::gls_emulator::Config;
use watchdog_tests::lambda::{LambdaWatch, workspace_root};
use watchdog_tests::stage::Stage;
use watchdog_tests::{fleet_file, quick_config};

const SHARE: f64 = 0.5;

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap()).unwrap()
}

/// Each function's binary and its API_SHARE_PART in the template.
fn parts(template: &Value) -> Vec<(String, f64)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
            let part = r["Properties"]["Environment"]["Variables"]["API_SHARE_PART"]
                .as_str()
                .unwrap_or_else(|| panic!("{binary} has no API_SHARE_PART"))
                .parse::<f64>()
                .unwrap();
            (binary, part)
        })
        .collect()
}

#[test]
fn the_functions_parts_of_the_studios_share_add_up_to_one() {
    let template = template();
    let parts = parts(&template);
    assert_eq!(parts.len(), 3, "{parts:?}");
    let total: f64 = parts.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-9, "the parts add up to {total}: {parts:?}");
    let share = &template["Globals"]["Function"]["Environment"]["Variables"]["API_SHARE"];
    assert!(format!("{share:?}").contains("ApiShare"), "API_SHARE comes from the ApiShare parameter: {share:?}");
}

/// Enough groups that each function's reads run up against its bucket.
fn fleet() -> String {
    let mut fleet = String::from("[[applications]]\nkey = \"racer\"\nid = \"a-RACER0001\"\ndescription = \"Racer\"\n");
    for i in 0..20 {
        let (id, number, age) = (format!("{i:03}"), i.to_string(), if i % 2 == 0 { "29" } else { "3" });
        fleet.push_str(&fleet_file("api-budget-group.toml", &[("id", &id), ("number", &number), ("age", age)]));
    }
    fleet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_functions_at_once_stay_within_the_studios_share() {
    // GIVEN an emulator that throttles anything beyond the studio's share of every limit
    let stage = Stage::frozen(Config { rate_limit_scale: SHARE, ..quick_config() }, Some(&fleet())).await;
    let emu = &stage.emu;
    let template = template();
    let share = SHARE.to_string();
    let watch = |binary: &str, part: f64| {
        let part = part.to_string();
        let vars = [
            ("API_SHARE", share.as_str()),
            ("API_SHARE_PART", &part),
            ("MAX_ATTEMPTS", "1"),
            ("METRIC_DETAIL", "location"),
            ("MANAGE_ALL_GROUPS", "true"),
            ("DRY_RUN", "true"),
        ];
        LambdaWatch::start(&format!("budget-{binary}"), &stage.env("Budget", &vars))
    };
    let parts = parts(&template);
    let part = |binary: &str| parts.iter().find(|(b, _)| b == binary).unwrap().1;
    let scanner = watch("scanner", part("gls-watchdog-scanner"));
    let recycler = watch("recycler", part("gls-watchdog-recycler"));
    let trimmer = watch("trimmer", part("gls-watchdog-trimmer"));

    // WHEN the three run at the same time
    let (scan, recycle, trim) = tokio::join!(
        scanner.invoke_file("gls-watchdog-scanner", "scanner-scheduler-input.json"),
        recycler.invoke_file("gls-watchdog-recycler", "recycler-scheduler-input.json"),
        trimmer.invoke_file("gls-watchdog-trimmer", "trimmer-scheduler-input.json"),
    );
    for (name, report) in [("scanner", scan), ("recycler", recycle), ("trimmer", trim)] {
        let report: Json = report.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report["api_calls"].is_object(), "{name}: {report:#}");
    }

    // THEN the emulator throttled nothing, and the functions did call it hard enough to matter
    let counters = emu.admin_get("/_emulator/counters").await;
    let operations = counters["operations"].as_object().unwrap();
    let throttled: u64 = operations.values().map(|o| o["throttled"].as_u64().unwrap_or(0)).sum();
    assert_eq!(throttled, 0, "{counters:#}");
    assert!(operations["GetStreamGroup"]["calls"].as_u64().unwrap() >= 60, "{counters:#}");
}
