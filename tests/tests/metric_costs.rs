//! docs/scanner.md's cost table, measured: each row's count of custom metrics is what the three
//! functions publish for the fleet the table describes (10 groups of 3 locations in one
//! region), counted as CloudWatch bills them (one per metric name and dimension set), and its
//! dollars are that count at the first-tier $0.30. A metric added to the code changes the
//! count and fails here until the table says what it costs.

use chrono::Duration;
use std::collections::BTreeSet;
use watchdog_core::StreamSessionStatus;
use watchdog_core::env_config::FromEnv;
use watchdog_core::event_fields::RunRequest;
use watchdog_core::testkit::fixed_now as now;
use watchdog_core::testkit::{self, World};
use watchdog_tests::lambda::workspace_root;

const REGION: &str = "us-west-2";
const LOCATIONS: [&str; 3] = [REGION, "eu-west-1", "eu-central-1"];
/// CloudWatch's first tier, per custom metric a month.
const PER_METRIC: f64 = 0.30;

/// The table's fleet: 10 groups of 3 locations, each with a player; `trimmed`: every group asks
/// for the trimmer.
fn fleet(world: &World, trimmed: bool) {
    for i in 0..10 {
        let id = format!("sg-C{i:04}");
        let with_capacity: Vec<(&str, u32)> = LOCATIONS.iter().map(|l| (*l, 2)).collect();
        let mut group = testkit::group(REGION, &id, "gen5n_high", now() - Duration::days(20), &with_capacity);
        if trimmed {
            group.tags.insert("watchdog:trim".into(), "true".into());
        }
        world.add_group(group);
        world.add_session(testkit::session(REGION, &id, i, StreamSessionStatus::Connected, REGION, now(), now()));
    }
}

/// The series one scan (at `detail`), one recycler run and one trimmer run publish, apart from
/// the scanner's `ApiCalls` (one per operation called, which a single scan of this fleet does
/// not all call: counted from the operation list instead).
async fn series_published(detail: &str, trimmed: bool) -> BTreeSet<String> {
    let world = World::new(now());
    fleet(&world, trimmed);
    let scanner = gls_watchdog_scanner::Scanner::new(
        gls_watchdog_scanner::Config::from_pairs(&[("AWS_REGION", REGION), ("METRIC_DETAIL", detail)]).unwrap(),
        world.allowing(gls_watchdog_scanner::OPERATIONS).ports(&[REGION]),
    );
    scanner.scan(Default::default()).await.expect("the scan succeeds");
    let recycler = world.deploy::<gls_watchdog_recycler::Config>(REGION, &[]);
    recycler.run(&RunRequest::default()).await.expect("the recycler runs");
    let trimmer = world.deploy::<gls_watchdog_trimmer::Config>(REGION, &[]);
    trimmer.run(&RunRequest::default()).await.expect("the trimmer runs");
    world
        .metrics()
        .into_iter()
        .filter(|(_, d)| d.name != "ApiCalls")
        .map(|(_, d)| format!("{} {:?}", d.name, d.dimensions))
        .collect()
}

/// `ApiCalls` series over a month of scans: every GameLift Streams operation the scanner may
/// call, one of its two ways of listing sessions (a configuration uses one), and SNS
/// PublishBatch and CloudWatch PutMetricData.
fn api_call_series() -> usize {
    gls_watchdog_scanner::OPERATIONS.len() - 1 + 2
}

/// What CloudWatch bills for one row's setting.
async fn billed(detail: &str, trimmed: bool) -> usize {
    let calls = if detail == "essential" { 0 } else { api_call_series() };
    series_published(detail, trimmed).await.len() + calls
}

/// The first number in `text` after `after`.
fn number_after(text: &str, after: &str) -> Option<f64> {
    let rest = &text[text.find(after)? + after.len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    digits.parse().ok()
}

#[tokio::test]
async fn every_cost_row_is_what_the_functions_publish_at_its_setting() {
    let page = std::fs::read_to_string(workspace_root().join("docs/scanner.md")).unwrap();
    let table = page.split("What each setting costs a month").nth(1).expect("the cost table");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| l.starts_with("| `") && !l.starts_with("| `METRIC_DETAIL`"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 5, "a row per setting: {rows:?}");
    for row in rows {
        let (label, metrics, dollars) = (row[1], row[2], row[3]);
        let detail = label.split('`').nth(1).unwrap();
        let trimmed = label.contains("every group asks for the trimmer");
        // "a + b = total (+ demand)" or "a + b = total".
        let total = number_after(metrics, "=").expect(metrics) as usize;
        assert_eq!(total, billed(detail, trimmed).await, "{label}: metrics");
        assert_eq!(number_after(dollars, "").unwrap(), (total as f64 * PER_METRIC * 100.0).round() / 100.0, "{label}");
        if let Some(demand) = number_after(metrics, "(+") {
            let with_demand = total + demand as usize;
            assert_eq!(with_demand, billed(detail, true).await, "{label}: with every group trimmed");
            assert_eq!(number_after(dollars, "(").unwrap(), (with_demand as f64 * PER_METRIC * 100.0).round() / 100.0);
        }
    }
}
