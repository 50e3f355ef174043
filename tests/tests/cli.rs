//! `gls-watchdog` end to end: the built binary, its AWS SDK clients talking HTTP to the
//! emulator as they would to AWS (endpoint and credentials from the standard variables), on
//! the sample fleet. `scan`, `plan` and `report` make no mutating call (the emulator's
//! counters); `restore` puts back recorded capacity; bad profiles, regions and endpoints fail
//! in one line with exit code 3; the HTML report renders in Debian's chromium (headless)
//! without script errors, with every group and the timeline, and a screenshot is saved.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use watchdog_tests::lambda::workspace_root;
use watchdog_tests::{TestEmulator, findings_of, quick_config};

/// The CLI, built once for this test binary.
fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--locked", "-p", "gls-watchdog-cli", "--bin", "gls-watchdog"])
                .current_dir(workspace_root())
                .status()
                .expect("cargo build");
            assert!(status.success(), "building gls-watchdog");
            let target =
                std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(workspace_root().join("target"));
            target.join("debug/gls-watchdog")
        })
        .clone()
}

/// The CLI with the emulator as GameLift Streams, nothing else of the caller's environment.
/// Awaited, not blocked on: the emulator answers from this test's own runtime.
async fn cli(emulator: &str, args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("gls-cli-home-{}", std::process::id()));
    cli_at_home(emulator, &home, args).await
}

/// The same, with `home` as HOME (where `~/.aws/credentials` is looked for).
async fn cli_at_home(emulator: &str, home: &std::path::Path, args: &[&str]) -> Output {
    std::fs::create_dir_all(home).unwrap();
    tokio::process::Command::new(binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL_GAMELIFTSTREAMS", emulator)
        // --org assumes the spokes' role through STS: LocalStack's.
        .env("AWS_ENDPOINT_URL_STS", watchdog_tests::lambda::localstack_url())
        // --org-unit lists accounts from AWS Organizations: moto_server's.
        .env("AWS_ENDPOINT_URL_ORGANIZATIONS", watchdog_tests::lambda::organizations_url())
        // No CloudWatch here: the trimmer's demand read fails and it lowers nothing.
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
        .env("WATCHDOG_CLOCK_URL", format!("{emulator}/_emulator/clock"))
        .output()
        .await
        .expect("run gls-watchdog")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn sample() -> TestEmulator {
    let fleet = std::fs::read_to_string(workspace_root().join("fleets/sample.toml")).unwrap();
    TestEmulator::start(quick_config(), Some(&fleet)).await
}

async fn mutating_calls(emu: &TestEmulator) -> u64 {
    emu.admin_get("/_emulator/counters").await["mutating_calls"].as_u64().unwrap()
}

/// Every group id in the emulator's regions, through the SDK.
async fn group_ids(emu: &TestEmulator) -> Vec<String> {
    let mut ids = Vec::new();
    for region in ["us-west-2", "eu-central-1"] {
        let client = emu.client(region).await;
        let out = client.list_stream_groups().send().await.unwrap();
        ids.extend(out.items().iter().filter_map(|g| g.id().map(str::to_owned)));
    }
    ids.sort();
    ids
}

#[tokio::test]
async fn scan_plan_and_report_show_the_sample_fleet_and_change_nothing() {
    let emu = sample().await;
    let regions = ["--region", "us-west-2", "--region", "eu-central-1"];
    let ids = group_ids(&emu).await;
    assert!(ids.len() >= 10, "{ids:?}");

    let scan = cli(&emu.url, &[&["scan", "--json"][..], &regions].concat()).await;
    assert!(matches!(scan.status.code(), Some(0 | 4)), "{}", stderr(&scan));
    let json: Value = serde_json::from_str(&stdout(&scan)).expect("scan --json is JSON");
    let mut seen: Vec<String> =
        json["view"]["groups"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect();
    seen.sort();
    let deleting_or_gone: Vec<&String> = ids.iter().filter(|id| !seen.contains(id)).collect();
    assert!(deleting_or_gone.len() <= 1, "every group but a DELETING one is shown: missing {deleting_or_gone:?}");
    let kinds: Vec<&str> =
        json["scan"]["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in ["expired", "rotation_due", "idle_capacity"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }

    let table = cli(&emu.url, &[&["scan"][..], &regions].concat()).await;
    let text = stdout(&table);
    assert!(text.contains("Stream groups") && text.contains("Findings"), "{text}");
    assert!(seen.iter().all(|id| text.contains(id.as_str())), "every group in the table:\n{text}");

    let plan =
        cli(&emu.url, &[&["plan", "--manage-all", "--prices", r#"{"gen5n_high": 2.0}"#][..], &regions].concat()).await;
    assert!(matches!(plan.status.code(), Some(0 | 4)), "{}", stderr(&plan));
    let text = stdout(&plan);
    assert!(text.contains("recycler"), "the recycler would recreate the old groups:\n{text}");

    let dir = tempdir("report");
    let (html, markdown) = (dir.join("report.html"), dir.join("report.md"));
    let report = cli(
        &emu.url,
        &[
            &["report", "--manage-all", "--out", html.to_str().unwrap(), "--markdown", markdown.to_str().unwrap()][..],
            &regions,
        ]
        .concat(),
    )
    .await;
    assert!(matches!(report.status.code(), Some(0 | 4)), "{}", stderr(&report));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(seen.iter().all(|id| page.contains(id.as_str())));
    assert!(!page.contains("http://") && !page.contains("https://"), "self-contained: no external resource");
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.starts_with("# GameLift Streams watchdog report") && md.contains("| severity |"), "{md}");

    assert_eq!(mutating_calls(&emu).await, 0, "scan, plan and report wrote nothing");

    // --fail-on makes findings an exit code a CI job can use.
    let failing = cli(&emu.url, &[&["scan", "--quiet", "--fail-on", "critical"][..], &regions].concat()).await;
    assert_eq!(failing.status.code(), Some(1), "the expired group is critical: {}", stderr(&failing));
}

/// The report's groups as (account, group id).
fn account_rows(json: &Value) -> Vec<(&str, &str)> {
    let groups = json["view"]["groups"].as_array().expect("groups");
    groups.iter().map(|g| (g["account"].as_str().unwrap(), g["id"].as_str().unwrap())).collect()
}

/// Two accounts, named as profiles would be.
const ACCOUNTS: [(&str, &str); 2] = [("prod", "111122223333"), ("staging", "222233334444")];

/// One 200-day-old group in each of [`ACCOUNTS`], `sg-PROD` and `sg-STAGING`.
async fn one_group_in_each(emu: &TestEmulator) {
    one_group_in_each_of(emu, &ACCOUNTS).await;
}

/// One 200-day-old group in each account, named `sg-` and the account's name in capitals.
async fn one_group_in_each_of(emu: &TestEmulator, accounts: &[(&str, &str)]) {
    for &(name, account) in accounts {
        let fleet = format!(
            "[[applications]]\nkey = \"racer\"\ndescription = \"Racer\"\n\n[[stream_groups]]\nid = \"sg-{}\"\ndescription = \"{name}\"\nstream_class = \"gen5n_ultra\"\ncreated_days_ago = 200\napplications = [\"racer\"]\n  [[stream_groups.locations]]\n  name = \"us-west-2\"\n  always_on = 1\n",
            name.to_uppercase()
        );
        emu.load_fleet_of(account, fleet).await;
    }
}

/// `--org`: an organisation's accounts from the hub's Targets list, each read with its spoke's
/// read role assumed through STS (LocalStack's, whose temporary keys carry the account the
/// emulator answers as); an account whose role may not read is named and the others are shown.
#[tokio::test]
async fn an_organisation_is_read_through_its_spoke_roles_and_a_refused_account_is_named() {
    let emu = TestEmulator::start(quick_config(), None).await;
    one_group_in_each(&emu).await;
    emu.admin_ok("/_emulator/access", serde_json::json!({ "account": "333344445555", "denied": true })).await;
    let targets: Vec<Value> = ["111122223333", "222233334444", "333344445555"]
        .iter()
        .map(|account| serde_json::json!({ "account": account, "region": "us-west-2" }))
        .collect();
    let targets = Value::Array(targets).to_string();
    let scan = cli(&emu.url, &["scan", "--json", "--org", &targets]).await;
    assert_eq!(scan.status.code(), Some(4), "one account could not be read: {}", stderr(&scan));
    let json: Value = serde_json::from_str(&stdout(&scan)).expect("JSON");
    let rows = account_rows(&json);
    assert_eq!(rows, [("111122223333", "sg-PROD"), ("222233334444", "sg-STAGING")], "each through its own role");
    let unread = json["view"]["unread"].to_string();
    assert!(unread.contains("account 333344445555: not looked at:") && unread.contains("AccessDenied"), "{unread}");
    assert_eq!(mutating_calls(&emu).await, 0);

    let bad = cli(&emu.url, &["scan", "--org", r#"[{"account": "1234", "region": "us-west-2"}]"#]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("targets[0].account \"1234\" is not a 12-digit account id"), "{}", stderr(&bad));
}

/// `--org-unit`: the accounts of an organisational unit and of the OUs below it, listed from
/// AWS Organizations (moto_server) with the base credentials, each read through its spoke's
/// role in the `--region`s; a closed account is named, not read (exit 4); a malformed unit id
/// is refused before anything is called.
#[tokio::test]
async fn an_organisational_unit_is_read_account_by_account_and_a_closed_account_is_named() {
    let unique = format!("cli{}{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let studio = watchdog_tests::organizations::Studio::create(&unique).await;
    let emu = TestEmulator::start(quick_config(), None).await;
    one_group_in_each_of(&emu, &[("studio", &studio.studio), ("live", &studio.live_account)]).await;
    let scan = cli(&emu.url, &["scan", "--json", "--org-unit", &studio.games, "--region", "us-west-2"]).await;
    assert_eq!(scan.status.code(), Some(4), "the closed account is not read: {}", stderr(&scan));
    let json: Value = serde_json::from_str(&stdout(&scan)).expect("JSON");
    let mut expected = vec![(studio.studio.as_str(), "sg-STUDIO"), (studio.live_account.as_str(), "sg-LIVE")];
    expected.sort();
    assert_eq!(account_rows(&json), expected, "the unit's account and the account of the OU below it");
    let unread = json["view"]["unread"].to_string();
    assert!(unread.contains(&format!("account {}: not looked at: its state is SUSPENDED", studio.closed)), "{unread}");
    assert_eq!(mutating_calls(&emu).await, 0);

    let only_direct =
        cli(&emu.url, &["scan", "--json", "--org-unit", &studio.games, "--no-child-units", "--region", "us-west-2"])
            .await;
    let json: Value = serde_json::from_str(&stdout(&only_direct)).expect("JSON");
    assert_eq!(account_rows(&json), [(studio.studio.as_str(), "sg-STUDIO")], "{}", stderr(&only_direct));

    let bad = cli(&emu.url, &["scan", "--org-unit", "games"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("\"games\" is not an organisational unit or root id"), "{}", stderr(&bad));
}

/// Several `--profile`s: one report of several accounts from a laptop. Each profile's
/// credentials are an account's (the emulator takes a 12-digit access key as the account, as
/// LocalStack does), and win over the environment's; every row names its account; a profile
/// that cannot be used is named and the other accounts are still shown (exit 4).
#[tokio::test]
async fn several_profiles_give_one_report_of_their_accounts_and_name_the_one_that_failed() {
    let emu = TestEmulator::start(quick_config(), None).await;
    one_group_in_each(&emu).await;
    let home = tempdir("profiles");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    let credentials: String = ACCOUNTS
        .iter()
        .map(|(name, account)| format!("[{name}]\naws_access_key_id = {account}\naws_secret_access_key = test\n"))
        .collect();
    std::fs::write(home.join(".aws/credentials"), credentials).unwrap();

    let scan = cli_at_home(&emu.url, &home, &["scan", "--json", "--profile", "prod", "--profile", "staging"]).await;
    assert_eq!(scan.status.code(), Some(0), "{}{}", stderr(&scan), stdout(&scan));
    let json: Value = serde_json::from_str(&stdout(&scan)).expect("JSON");
    let rows = account_rows(&json);
    assert_eq!(rows, [("111122223333", "sg-PROD"), ("222233334444", "sg-STAGING")], "each account's own group");
    assert_eq!(json["view"]["accounts"], serde_json::json!(["111122223333", "222233334444"]));
    let past_cutoff: Vec<&Value> = findings_of(&json["view"]["findings"], "association_cutoff_passed");
    assert_eq!(past_cutoff.len(), 2, "both 200-day groups are past the 180-day cutoff: {past_cutoff:?}");

    let table = cli_at_home(&emu.url, &home, &["scan", "--profile", "prod", "--profile", "staging"]).await;
    let text = stdout(&table);
    assert!(text.lines().any(|l| l.starts_with("account") && l.contains("region")), "an account column:\n{text}");
    assert!(text.lines().any(|l| l.starts_with("222233334444") && l.contains("sg-STAGING")), "{text}");

    let html = home.join("org.html");
    let args = ["report", "--profile", "prod", "--profile", "nosuch", "--profile", "staging", "--out"];
    let report = cli_at_home(&emu.url, &home, &[&args[..], &[html.to_str().unwrap()]].concat()).await;
    assert_eq!(report.status.code(), Some(4), "one profile could not be used: {}", stderr(&report));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("sg-PROD") && page.contains("sg-STAGING"), "the other accounts are shown");
    assert!(page.contains("<th>account</th>") && page.contains("<td>111122223333</td>"));
    assert!(page.contains("profile nosuch: not looked at: profile &quot;nosuch&quot; is not in"), "named");

    let restore =
        cli_at_home(&emu.url, &home, &["restore", "--all", "--profile", "prod", "--profile", "staging"]).await;
    assert_eq!(restore.status.code(), Some(2), "restore changes one account at a time");
    assert_eq!(mutating_calls(&emu).await, 0);
}

#[tokio::test]
async fn bad_profiles_regions_and_endpoints_fail_in_one_clear_line() {
    let emu = sample().await;
    let cases: [(&[&str], &str, &str); 4] = [
        (&["scan", "--profile", "nosuch"], "", "profile \"nosuch\" is not in"),
        (&["scan", "--region", "Frankfurt"], "", "\"Frankfurt\" is not a region name"),
        (&["scan"], "http://127.0.0.1:9", "cannot reach GameLift Streams in us-west-2 at http://127.0.0.1:9"),
        (&["scan"], "localhost:1234", "AWS_ENDPOINT_URL_GAMELIFTSTREAMS=\"localhost:1234\" is not an endpoint URL"),
    ];
    for (args, endpoint, expected) in cases {
        let url = if endpoint.is_empty() { emu.url.as_str() } else { endpoint };
        let out = cli(url, args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let usage = cli(&emu.url, &["scan", "--prices", "{\"gen5n_high\": -1}"]).await;
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
}

#[tokio::test]
async fn restore_puts_back_the_recorded_capacity_after_a_dry_run() {
    use watchdog_core::tags::trim::{ChangeReason, Levels, Record, record_key};
    let emu = sample().await;
    let client = emu.client("us-west-2").await;
    // The first group of the sample ("racer-prod-fresh": us-west-2 always-on 4, target-idle 2,
    // maximum 10), as the trimmer leaves it after lowering: the record, then the update.
    let groups = client.list_stream_groups().send().await.unwrap();
    let group = groups.items().iter().find(|g| g.description() == Some("racer-prod-fresh")).unwrap();
    let (id, arn) = (group.id().unwrap().to_owned(), group.arn().to_owned());
    let record = Record {
        original: Levels { always_on: 4, target_idle: 2 },
        set: Levels { always_on: 2, target_idle: 0 },
        changed_at: chrono::Utc::now(),
        why: ChangeReason::Demand,
        original_maximum: Some(10),
    };
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(record_key("us-west-2"), record.encode())
        .tags("watchdog:trim", "true")
        .send()
        .await
        .unwrap();
    let lowered = aws_sdk_gameliftstreams::types::LocationConfiguration::builder()
        .location_name("us-west-2")
        .always_on_capacity(2)
        .target_idle_capacity(0)
        .maximum_capacity(10)
        .build()
        .unwrap();
    client.update_stream_group().identifier(&id).location_configurations(lowered).send().await.unwrap();
    let before = mutating_calls(&emu).await;

    let dry = cli(&emu.url, &["restore", "--stream-group", &id]).await;
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("would restore"), "{}", stdout(&dry));
    assert!(stdout(&dry).contains("us-west-2: always-on/target-idle 2/0 -> 4/2, maximum 10"), "{}", stdout(&dry));
    assert_eq!(mutating_calls(&emu).await, before, "a dry run changes nothing");

    let applied = cli(&emu.url, &["restore", "--stream-group", &id, "--apply"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}{}", stdout(&applied), stderr(&applied));
    let out = client.get_stream_group().identifier(&id).send().await.unwrap();
    let location = out.location_states().iter().find(|l| l.location_name() == Some("us-west-2")).unwrap();
    assert_eq!(
        (location.always_on_capacity(), location.target_idle_capacity(), location.maximum_capacity()),
        (Some(4), Some(2), Some(10))
    );
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap().tags().cloned().unwrap();
    assert!(!tags.contains_key(&record_key("us-west-2")), "the record is gone: {tags:?}");
    assert_eq!(tags.get("watchdog:trim").map(String::as_str), Some("false"), "opted out so it is not lowered again");

    let again = cli(&emu.url, &["restore", "--stream-group", &id, "--apply"]).await;
    assert!(stdout(&again).contains("no trim record"), "{}", stdout(&again));
    let unknown = cli(&emu.url, &["restore", "--stream-group", "sg-NOSUCH123"]).await;
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gls-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The report in a real browser: Debian's chromium, headless (scripts/lib/browser.sh installs
/// it and sets CHROMIUM). The DOM after scripts ran must hold every group's row and timeline
/// bar and the ready mark the page's script sets last; the browser's log must hold no script
/// error; the screenshot is saved to target/report-screenshot.png (docs/ keeps a copy for the
/// README).
#[tokio::test]
async fn the_report_renders_in_a_real_browser_without_script_errors() {
    let chromium = std::env::var("CHROMIUM").expect("CHROMIUM is not set: run ./scripts/test, which installs chromium");
    let emu = sample().await;
    let dir = tempdir("browser");
    let html = dir.join("report.html");
    let out = cli(
        &emu.url,
        &[
            "report",
            "--manage-all",
            "--region",
            "us-west-2",
            "--region",
            "eu-central-1",
            "--out",
            html.to_str().unwrap(),
        ],
    )
    .await;
    assert!(matches!(out.status.code(), Some(0 | 4)), "{}", stderr(&out));
    let url = format!("file://{}", html.display());
    let browser = |extra: &[&str]| {
        let profile = dir.join(format!("profile-{}", extra.len()));
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium")
    };
    let dom = browser(&["--dump-dom"]);
    let page = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(page.contains("data-ready=\"yes\""), "the page's script ran to the end:\n{log}");
    for line in log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")) {
        assert!(!line.contains("Uncaught") && !line.contains("Error"), "script error: {line}");
    }
    let ids = group_ids(&emu).await;
    let rows = page.matches("<tr data-group=").count();
    let bars = page.matches("class=\"group-life\"").count();
    assert!(
        rows + 1 >= ids.len() && bars + 1 >= ids.len(),
        "{rows} rows, {bars} timeline bars for {} groups",
        ids.len()
    );
    assert!(page.contains("id=\"timeline\"") && page.contains("class=\"today\""));

    let shot = workspace_root().join("target/report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    // `target/` may not exist here (CARGO_TARGET_DIR elsewhere): chromium does not create it.
    std::fs::create_dir_all(shot.parent().expect("a parent")).expect("create target/");
    let taken = browser(&[&format!("--screenshot={}", shot.display()), "--window-size=1400,2200", "--hide-scrollbars"]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "a screenshot with content ({size} bytes): {}", String::from_utf8_lossy(&taken.stderr));
}
